/* smtp: the SMTP receiver (see smtp.h): RFC 5321 with STARTTLS (RFC 3207),
 * AUTH PLAIN and LOGIN (RFC 4954), submission rules (RFC 6409), SIZE
 * (RFC 1870), PIPELINING (RFC 2920), 8BITMIME and ENHANCEDSTATUSCODES.
 *
 * What each port accepts:
 *   smtp (MX)    mail for local accounts from anyone; no AUTH; STARTTLS is
 *                offered when on but never required (RFC 3207 4).
 *   submission,  mail from authenticated clients only (RFC 6409 4.3); when
 *   smtps        TLS is on for SMTP, AUTH is neither listed nor accepted
 *                before TLS (538 5.7.11).
 * Recipients must be existing accounts in local domains; relaying is
 * refused, and authenticated clients are told plainly that delivery to other
 * servers is not enabled yet.
 *
 * Each accepted message is stored once per recipient in one transaction,
 * with a Return-Path and a Received header (RFC 5321 4.4) naming the client,
 * the protocol (RFC 3848: ESMTP, ESMTPS, ESMTPA, ESMTPSA) and the TLS
 * version and cipher.
 *
 * What a client cannot do:
 *   - end a message anywhere but at CRLF "." CRLF, or send a line ending in
 *     LF alone or holding a lone CR: the message is refused (smuggling a
 *     second message past the first one's checks, CVE-2023-51764 class),
 *     and such a command line closes the session;
 *   - hold more than ISM_SMTP_DATA_MEM bytes of memory with message data
 *     (the rest is spooled to a private file), send more than
 *     env->max_message, or have more in transit from its address than its
 *     budget (env->data_reserve);
 *   - send as someone else: on submission the sender must be the account
 *     logged in (or <>); on port 25 a sender in a local domain needs a
 *     login (env->local_senders_need_auth);
 *   - probe for addresses quickly: after ISM_SMTP_FREE_MISSES unknown
 *     recipients each further "no such mailbox" is held a growing while.
 * Passwords are checked by the connection layer (ISM_PROTO_AUTH), with its
 * back-off and lockout; this file only takes the credentials apart. */
#include "smtp.h"
#include "ism_time.h"
#include "sasl.h"

#include "ism_log.h"
#include "ism_mail.h"
#include "ism_platform.h"
#include "ism_queue.h"
#include "ism_str.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

/* ---- small helpers ---- */

/* The first word after the verb, with anything that could break a reply or
 * a Received header replaced by '?'. */
static void copy_name(char *dst, size_t dstsz, const char *line, size_t len, size_t verb_len)
{
    size_t i = verb_len, k = 0;
    while (i < len && line[i] == ' ')
        i++;
    for (; i < len && line[i] != ' ' && k + 1 < dstsz; i++, k++) {
        char c = line[i];
        dst[k] = (isalnum((unsigned char)c) || strchr(".-_[]:", c)) ? c : '?';
    }
    dst[k] = '\0';
}

/* The largest message accepted (SIZE). */
static int64_t max_message(const ism_proto_env *env)
{
    return env->max_message > 0 ? env->max_message : ISM_SMTP_DEFAULT_MAX_MESSAGE;
}

/* ---- message data: memory, then a spool file ---- */

/* Creates the spool file for one message in dir: a name made of 16 random
 * bytes, created exclusively (never a file or link someone put there),
 * open to the service's account only. Its name is gone as soon as it is
 * open (POSIX: unlinked at once; Windows: deleted when closed, by the
 * system even if the service is killed), so no message data outlives its
 * session and nothing is left behind after a crash. */
static FILE *spool_open(const char *dir, ism_err *err)
{
    unsigned char rnd[16];
    char path[1200];
    static const char digits[] = "0123456789abcdef";
    char name[2 * sizeof rnd + 1];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        ism_err_set(err, ISM_E_IO, "no random bytes for a spool file name");
        return NULL;
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        name[2 * i] = digits[rnd[i] >> 4];
        name[2 * i + 1] = digits[rnd[i] & 15];
    }
    name[2 * sizeof rnd] = '\0';
    int n = snprintf(path, sizeof path, "%s%ssmtp-%s.msg", dir, ISM_PATH_SEP, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        ism_err_set(err, ISM_E_IO, "spool folder path %.100s... is too long", dir);
        return NULL;
    }
    FILE *f = NULL;
    int e = 0;
#ifdef _WIN32
    wchar_t wpath[sizeof path];
    int fd = -1;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wpath, (int)(sizeof wpath / sizeof *wpath)))
        fd = _wopen(wpath, _O_RDWR | _O_CREAT | _O_EXCL | _O_BINARY | _O_NOINHERIT | _O_TEMPORARY,
                    _S_IREAD | _S_IWRITE);
    else
        errno = EINVAL;
    e = errno;
    if (fd >= 0 && !(f = _fdopen(fd, "w+b"))) {
        e = errno;
        _close(fd);
    }
#else
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
    e = errno;
    if (fd >= 0) {
        unlink(path);
        if (!(f = fdopen(fd, "w+b"))) {
            e = errno;
            close(fd);
        }
    }
#endif
    if (!f)
        ism_err_set(err, ISM_E_IO,
                    "cannot create a spool file in %s: %s; check that the folder exists and that the service may "
                    "write to it",
                    dir, strerror(e));
    return f;
}

/* Gives back what the message held: memory, the spool file, and the bytes
 * counted against the address's budget. */
static void data_drop(ism_smtp *s)
{
    ism_buf_free(&s->data);
    if (s->spool)
        fclose(s->spool);
    s->spool = NULL;
    s->spooled = 0;
    if (s->reserved && s->release)
        s->release(s->release_arg, s->reserved);
    s->reserved = 0;
}

/* 1 once the message is sure to be refused: nothing more is kept. */
static int data_refused(const ism_smtp *s)
{
    return s->data_too_big || s->data_long_line || s->data_bare_lf || s->data_bare_cr || s->data_over_budget ||
           s->data_no_memory || s->data_spool_failed;
}

/* Keeps one message line and its CRLF: counted against the address's
 * budget first, then in memory up to ISM_SMTP_DATA_MEM, then in the spool
 * file. When something fails the reason is noted for the reply after the
 * dot and everything kept is dropped. */
static void data_keep_line(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len)
{
    int64_t need = (int64_t)s->data.len + s->spooled + (int64_t)len + 2;
    if (need > s->reserved && env->data_reserve && env->data_release) {
        int64_t step = need - s->reserved > ISM_SMTP_RESERVE_STEP ? need - s->reserved : ISM_SMTP_RESERVE_STEP;
        if (env->data_reserve(env->data_arg, step)) {
            s->data_over_budget = 1;
            data_drop(s);
            return;
        }
        s->reserved += step;
        s->release = env->data_release;
        s->release_arg = env->data_arg;
    }
    if (!s->spool && (!env->spool_dir || s->data.len + len + 2 <= ISM_SMTP_DATA_MEM)) {
        ism_buf_add(&s->data, line, len);
        ism_buf_add(&s->data, "\r\n", 2);
        if (s->data.oom) {
            ism_log(ISM_LOG_ERROR, "smtp: out of memory for a message from %s; it is refused with a temporary error",
                    env->peer_addr ? env->peer_addr : "unknown");
            s->data_no_memory = 1;
            data_drop(s);
        }
        return;
    }
    if (!s->spool) {
        ism_err e = {0};
        if (!(s->spool = spool_open(env->spool_dir, &e))) {
            ism_log(ISM_LOG_ERROR, "smtp: %s; the message from %s is refused with a temporary error", e.msg,
                    env->peer_addr ? env->peer_addr : "unknown");
            s->data_spool_failed = 1;
            data_drop(s);
            return;
        }
    }
    if (fwrite(line, 1, len, s->spool) != len || fwrite("\r\n", 1, 2, s->spool) != 2) {
        ism_log(ISM_LOG_ERROR, "smtp: writing a message from %s to the spool folder %s failed: %s (is the disk "
                "full?); the message is refused with a temporary error",
                env->peer_addr ? env->peer_addr : "unknown", env->spool_dir, strerror(errno));
        s->data_spool_failed = 1;
        data_drop(s);
        return;
    }
    s->spooled += (int64_t)len + 2;
}

/* ---- resets ---- */

static void reset_transaction(ism_smtp *s)
{
    for (size_t i = 0; i < s->n_rcpt; i++)
        free(s->rcpt[i]);
    free(s->rcpt);
    s->rcpt = NULL;
    s->n_rcpt = s->cap_rcpt = 0;
    data_drop(s);
    memset(&s->data, 0, sizeof s->data);
    s->have_from = 0;
    s->from[0] = '\0';
    s->data_size = 0;
    s->data_too_big = s->data_long_line = s->data_in_headers = s->data_hops = 0;
    s->data_bare_lf = s->data_bare_cr = s->data_over_budget = s->data_no_memory = s->data_spool_failed = 0;
    s->data_prev_bare_lf = 0;
}

/* Forgets everything: what the client said in plaintext is not trusted once
 * TLS is up (RFC 3207 4.2). */
static void reset_all(ism_smtp *s)
{
    reset_transaction(s);
    OPENSSL_cleanse(s->login_user, sizeof s->login_user);
    memset(s, 0, sizeof *s);
    s->state = ISM_SMTP_S_FRESH;
}

static ism_proto_action too_many_errors(ism_buf *out)
{
    ism_buf_printf(out, "421 4.7.0 Too many errors; closing connection\r\n");
    return ISM_PROTO_CLOSE;
}

/* A refused command; too many of them and the client is not talking SMTP. */
static ism_proto_action refuse(ism_smtp *s, ism_buf *out, const char *reply)
{
    ism_buf_printf(out, "%s\r\n", reply);
    if (++s->errors >= ISM_SMTP_MAX_ERRORS)
        return too_many_errors(out);
    return ISM_PROTO_CONTINUE;
}

/* ---- the proto.h callbacks ---- */

static void smtp_begin(void *st, const ism_proto_env *env, ism_buf *out)
{
    ism_smtp *s = st;
    s->state = ISM_SMTP_S_FRESH;
    ism_buf_printf(out, "220 %s ESMTP ISMail ready\r\n", env->hostname);
}

static void smtp_tls_started(void *st, const ism_proto_env *env)
{
    (void)env;
    reset_all(st);
}

static void smtp_too_long(void *st, const ism_proto_env *env, ism_buf *out)
{
    ism_smtp *s = st;
    switch (s->state) {
    case ISM_SMTP_S_DATA:
        /* No reply in the middle of the message: it is refused after the dot. */
        s->data_long_line = 1;
        s->data_prev_bare_lf = (env->line_flags & ISM_LINE_BARE_LF) != 0;
        data_drop(s);
        break;
    case ISM_SMTP_S_AUTH_PLAIN:
    case ISM_SMTP_S_AUTH_USER:
    case ISM_SMTP_S_AUTH_PASS:
        OPENSSL_cleanse(s->login_user, sizeof s->login_user);
        s->state = ISM_SMTP_S_GREETED;
        ism_buf_printf(out, "500 5.5.6 Authentication exchange line is too long\r\n");
        break;
    default:
        ism_buf_printf(out, "500 5.5.2 Line too long (at most %d characters)\r\n", ISM_SMTP_MAX_COMMAND - 2);
        break;
    }
}

static void smtp_end(void *st)
{
    reset_all(st);
}

/* ---- AUTH (RFC 4954) ---- */

static int auth_offered(const ism_smtp *s, const ism_proto_env *env)
{
    return env->submission && !s->auth_user[0] && (env->tls_active || !env->tls_required_for_auth);
}

/* Hands the credentials to the connection layer, which checks them away
 * from the event loop under its login limits and answers through
 * smtp_auth_done. The account goes as stored (lower case) when the name is
 * an address, otherwise as typed, so a failure is counted either way. */
static ism_proto_action auth_request(ism_smtp *s, const ism_proto_env *env, const char *user, const char *pass,
                                     ism_buf *out)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    s->state = ISM_SMTP_S_GREETED;
    if (!env->req) {
        ism_buf_printf(out, "454 4.7.0 Temporary authentication failure: logins cannot be checked now\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_mail_address_normalize(user, addr, sizeof addr, NULL) == 0)
        user = addr;
    snprintf(env->req->user, sizeof env->req->user, "%s", user);
    snprintf(env->req->pass, sizeof env->req->pass, "%s", pass);
    s->state = ISM_SMTP_S_AUTH_WAIT;
    return ISM_PROTO_AUTH;
}

/* The answer to a login (proto.h: after ISM_PROTO_AUTH). */
static ism_proto_action smtp_auth_done(void *st, const ism_proto_env *env, ism_auth_result r, ism_buf *out)
{
    ism_smtp *s = st;
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    const char *user = env->req ? env->req->user : "";
    s->state = ISM_SMTP_S_GREETED;
    switch (r) {
    case ISM_AUTH_OK:
        if (ism_mail_address_normalize(user, addr, sizeof addr, NULL) == 0) {
            snprintf(s->auth_user, sizeof s->auth_user, "%s", addr);
            ism_buf_printf(out, "235 2.7.0 Authentication successful\r\n");
            return ISM_PROTO_CONTINUE;
        }
        break; /* only an address can be an account: a failure */
    case ISM_AUTH_THROTTLED: {
        /* Not the client's failure in this session: the address or the
         * account is locked out for a while. */
        int m = env->req && env->req->retry_minutes > 0 ? env->req->retry_minutes : 1;
        ism_buf_printf(out, "454 4.7.0 Too many failed logins; try again in %d minute%s\r\n", m, m == 1 ? "" : "s");
        return ISM_PROTO_CONTINUE;
    }
    case ISM_AUTH_UNAVAILABLE:
        ism_buf_printf(out, "454 4.7.0 Temporary authentication failure: the account store is unavailable\r\n");
        return ISM_PROTO_CONTINUE;
    case ISM_AUTH_FAILED:
        break;
    }
    ism_log(ISM_LOG_INFO, "smtp: authentication failed for '%.100s' from %s", user,
            env->peer_addr ? env->peer_addr : "unknown");
    if (++s->auth_failures >= ISM_SMTP_MAX_AUTH_FAILURES) {
        ism_buf_printf(out, "421 4.7.0 Too many failed authentication attempts; closing connection\r\n");
        return ISM_PROTO_CLOSE;
    }
    ism_buf_printf(out, "535 5.7.8 Authentication credentials invalid\r\n");
    return ISM_PROTO_CONTINUE;
}

/* Decodes one client response of the exchange into out (NUL-terminated).
 * Returns 0, or -1 after answering (cancelled or undecodable). */
static int auth_decode(ism_smtp *s, const char *b64, size_t len, unsigned char *dec, size_t decsz, long *n,
                       ism_buf *out)
{
    if (len == 1 && b64[0] == '*') {
        s->state = ISM_SMTP_S_GREETED;
        ism_buf_printf(out, "501 5.0.0 Authentication cancelled\r\n");
        return -1;
    }
    *n = (len == 1 && b64[0] == '=') ? 0 : ism_b64_decode(b64, len, dec, decsz - 1);
    if (*n < 0) {
        s->state = ISM_SMTP_S_GREETED;
        ism_buf_printf(out, "501 5.5.2 Cannot decode the response (it must be base64)\r\n");
        return -1;
    }
    dec[*n] = '\0';
    return 0;
}

/* PLAIN: authzid NUL authcid NUL password (RFC 4616). */
static ism_proto_action auth_plain(ism_smtp *s, const ism_proto_env *env, const char *b64, size_t len, ism_buf *out)
{
    unsigned char dec[ISM_SMTP_MAX_LINE];
    long n;
    ism_proto_action a = ISM_PROTO_CONTINUE;
    if (auth_decode(s, b64, len, dec, sizeof dec, &n, out))
        return a;
    const char *authz = (const char *)dec;
    const char *p1 = memchr(dec, '\0', (size_t)n);
    const char *p2 = p1 ? memchr(p1 + 1, '\0', (size_t)(n - (p1 + 1 - authz))) : NULL;
    if (!p1 || !p2 || memchr(p2 + 1, '\0', (size_t)(n - (p2 + 1 - authz)))) {
        s->state = ISM_SMTP_S_GREETED;
        ism_buf_printf(out, "501 5.5.2 Malformed PLAIN response (authzid NUL user NUL password)\r\n");
    } else if (*authz && strcmp(authz, p1 + 1) != 0) {
        /* Acting for another account is not supported: an empty password
         * fails, and is counted like any other failure. */
        a = auth_request(s, env, p1 + 1, "", out);
    } else {
        a = auth_request(s, env, p1 + 1, p2 + 1, out);
    }
    OPENSSL_cleanse(dec, sizeof dec);
    return a;
}

/* LOGIN: the user name, then the password, each base64 after a 334 prompt. */
static ism_proto_action auth_login_user(ism_smtp *s, const char *b64, size_t len, ism_buf *out)
{
    unsigned char dec[ISM_SMTP_MAX_LINE];
    long n;
    if (auth_decode(s, b64, len, dec, sizeof dec, &n, out))
        return ISM_PROTO_CONTINUE;
    snprintf(s->login_user, sizeof s->login_user, "%s", (const char *)dec);
    s->state = ISM_SMTP_S_AUTH_PASS;
    ism_buf_printf(out, "334 UGFzc3dvcmQ6\r\n"); /* "Password:" */
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action auth_login_pass(ism_smtp *s, const ism_proto_env *env, const char *b64, size_t len,
                                        ism_buf *out)
{
    unsigned char dec[ISM_SMTP_MAX_LINE];
    long n;
    ism_proto_action a = ISM_PROTO_CONTINUE;
    if (auth_decode(s, b64, len, dec, sizeof dec, &n, out) == 0)
        a = auth_request(s, env, s->login_user, (const char *)dec, out);
    OPENSSL_cleanse(dec, sizeof dec);
    OPENSSL_cleanse(s->login_user, sizeof s->login_user);
    return a;
}

static ism_proto_action cmd_auth(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    if (!env->submission)
        return refuse(s, out, "502 5.5.1 AUTH is not offered on this port; mail clients use the submission port");
    if (s->state == ISM_SMTP_S_FRESH || !s->esmtp)
        return refuse(s, out, "503 5.5.1 Send EHLO first");
    if (s->auth_user[0])
        return refuse(s, out, "503 5.5.1 Already authenticated");
    if (s->have_from)
        return refuse(s, out, "503 5.5.1 AUTH is not allowed during a mail transaction");
    if (env->tls_required_for_auth && !env->tls_active)
        return refuse(s, out, "538 5.7.11 Encryption required for requested authentication mechanism");
    size_t i = 4;
    while (i < len && line[i] == ' ')
        i++;
    size_t m0 = i;
    while (i < len && line[i] != ' ')
        i++;
    const char *mech = line + m0;
    size_t mlen = i - m0;
    while (i < len && line[i] == ' ')
        i++;
    const char *initial = line + i;
    size_t ilen = len - i;
    if (ism_str_ieqn(mech, mlen, "PLAIN")) {
        if (ilen)
            return auth_plain(s, env, initial, ilen, out);
        s->state = ISM_SMTP_S_AUTH_PLAIN;
        ism_buf_printf(out, "334 \r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_ieqn(mech, mlen, "LOGIN")) {
        if (ilen)
            return auth_login_user(s, initial, ilen, out);
        s->state = ISM_SMTP_S_AUTH_USER;
        ism_buf_printf(out, "334 VXNlcm5hbWU6\r\n"); /* "Username:" */
        return ISM_PROTO_CONTINUE;
    }
    if (mlen == 0)
        return refuse(s, out, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
    return refuse(s, out, "504 5.5.4 Unrecognized authentication type (PLAIN and LOGIN are offered)");
}

/* ---- MAIL, RCPT ---- */

/* Parses "<path> [params]" (after "FROM:" or "TO:"): writes the address
 * without brackets (source route dropped, RFC 5321 4.1.1.3) to addr and
 * points *params at what follows. Returns -1 on bad syntax. */
static int parse_path(const char *p, size_t len, char *addr, size_t addrsz, const char **params, size_t *plen)
{
    size_t i = 0;
    while (i < len && p[i] == ' ') /* "MAIL FROM: <a>" is common enough to accept */
        i++;
    if (i >= len || p[i] != '<')
        return -1;
    size_t start = ++i;
    while (i < len && p[i] != '>')
        i++;
    if (i >= len)
        return -1;
    size_t end = i++;
    if (i < len && p[i] != ' ')
        return -1;
    if (start < end && p[start] == '@') {
        const char *colon = memchr(p + start, ':', end - start);
        if (!colon)
            return -1;
        start = (size_t)(colon - p) + 1;
    }
    if (end - start >= addrsz)
        return -1;
    for (size_t k = start; k < end; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c <= ' ' || c == 0x7f || c == '<')
            return -1;
        addr[k - start] = (char)c;
    }
    addr[end - start] = '\0';
    while (i < len && p[i] == ' ')
        i++;
    *params = p + i;
    *plen = len - i;
    return 0;
}

/* Walks "KEY[=VALUE] ..." calling back for each; stops at the first non-zero. */
typedef int (*param_fn)(ism_smtp *s, const ism_proto_env *env, const char *key, size_t klen, const char *val,
                        size_t vlen, ism_buf *out);

static int each_param(ism_smtp *s, const ism_proto_env *env, const char *p, size_t len, param_fn fn, ism_buf *out)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == ' ')
            i++;
        size_t k0 = i;
        while (i < len && p[i] != ' ' && p[i] != '=')
            i++;
        size_t klen = i - k0, v0 = i, vlen = 0;
        if (i < len && p[i] == '=') {
            v0 = ++i;
            while (i < len && p[i] != ' ')
                i++;
            vlen = i - v0;
        }
        if (klen && fn(s, env, p + k0, klen, p + v0, vlen, out))
            return -1;
    }
    return 0;
}

static int mail_param(ism_smtp *s, const ism_proto_env *env, const char *key, size_t klen, const char *val,
                      size_t vlen, ism_buf *out)
{
    (void)s;
    if (ism_str_ieqn(key, klen, "SIZE")) {
        unsigned long long n = 0;
        if (vlen == 0 || vlen > 19) {
            ism_buf_printf(out, "501 5.5.4 SIZE needs a number of bytes\r\n");
            return -1;
        }
        for (size_t i = 0; i < vlen; i++) {
            if (!isdigit((unsigned char)val[i])) {
                ism_buf_printf(out, "501 5.5.4 SIZE needs a number of bytes\r\n");
                return -1;
            }
            n = n * 10 + (unsigned)(val[i] - '0');
        }
        if (n > (unsigned long long)max_message(env)) {
            ism_buf_printf(out, "552 5.3.4 Message size exceeds fixed maximum message size (%lld bytes)\r\n",
                           (long long)max_message(env));
            return -1;
        }
        return 0;
    }
    if (ism_str_ieqn(key, klen, "BODY")) {
        if (ism_str_ieqn(val, vlen, "7BIT") || ism_str_ieqn(val, vlen, "8BITMIME"))
            return 0;
        ism_buf_printf(out, "501 5.5.4 BODY must be 7BIT or 8BITMIME\r\n");
        return -1;
    }
    if (ism_str_ieqn(key, klen, "AUTH"))
        return 0; /* RFC 4954 5: only meaningful between trusted servers; ignored */
    ism_buf_printf(out, "555 5.5.4 MAIL FROM parameter %.*s is not supported\r\n", (int)(klen > 40 ? 40 : klen), key);
    return -1;
}

/* Who may send as addr (a syntactically checked reverse-path, "" for <>).
 * Answers and returns 1 when this session may not. */
static int sender_refused(const ism_smtp *s, const ism_proto_env *env, const char *addr, ism_buf *out)
{
    if (!addr[0])
        return 0; /* <>: bounces and notifications name no sender */
    if (s->auth_user[0]) {
        /* RFC 6409 8.1: the submission server may check that the sender
         * is the account logged in; Postfix's reject_sender_login_mismatch
         * wording. */
        if (ism_str_ieq(addr, s->auth_user))
            return 0;
        ism_buf_printf(out, "553 5.7.1 Sender address <%s> is not owned by user <%s>\r\n", addr, s->auth_user);
        return 1;
    }
    /* Port 25 without a login: mail "from" this server's own domains comes
     * from its own users, who log in on the submission port; anyone else
     * using such an address is forging it. */
    if (!env->submission && env->local_senders_need_auth &&
        ism_mail_is_local_domain(env->mail, strrchr(addr, '@') + 1)) {
        ism_buf_printf(out,
                       "553 5.7.1 <%s>: sender in a local domain needs authentication; mail clients use the "
                       "submission port\r\n",
                       addr);
        return 1;
    }
    return 0;
}

static ism_proto_action cmd_mail(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 4];
    const char *params;
    size_t plen;
    if (s->state == ISM_SMTP_S_FRESH)
        return refuse(s, out, "503 5.5.1 Send EHLO or HELO first");
    if (s->have_from)
        return refuse(s, out, "503 5.5.1 Sender already given; RSET starts over");
    if (env->submission && !s->auth_user[0]) {
        /* RFC 6409 4.3: submission is for authenticated clients. */
        if (env->tls_required_for_auth && !env->tls_active)
            return refuse(s, out, "530 5.7.0 Must issue a STARTTLS command first, then AUTH");
        return refuse(s, out, "530 5.7.0 Authentication required");
    }
    if (!env->mail) {
        ism_buf_printf(out, "451 4.3.0 Mail store unavailable; try again later\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (!ism_str_iprefix(line, len, "MAIL FROM:"))
        return refuse(s, out, "501 5.5.4 Syntax: MAIL FROM:<address>");
    if (parse_path(line + 10, len - 10, addr, sizeof addr, &params, &plen))
        return refuse(s, out, "501 5.1.7 Bad sender address syntax; write MAIL FROM:<name@domain>");
    if (addr[0] && !strchr(addr, '@'))
        return refuse(s, out, "501 5.1.7 Bad sender address syntax; write MAIL FROM:<name@domain>");
    if (plen && !s->esmtp)
        return refuse(s, out, "555 5.5.4 MAIL FROM parameters need EHLO");
    if (sender_refused(s, env, addr, out))
        return ++s->errors >= ISM_SMTP_MAX_ERRORS ? too_many_errors(out) : ISM_PROTO_CONTINUE;
    if (each_param(s, env, params, plen, mail_param, out))
        return ISM_PROTO_CONTINUE;
    s->have_from = 1;
    snprintf(s->from, sizeof s->from, "%s", addr);
    ism_buf_printf(out, "250 2.1.0 Sender <%s> OK\r\n", addr);
    return ISM_PROTO_CONTINUE;
}

/* RFC 5321 4.5.1: <postmaster> without a domain must be accepted; it goes
 * to postmaster at the host's own domain or, failing that, at the first
 * local domain that has such an account. */
static int find_postmaster(const ism_proto_env *env, char *addr, size_t addrsz)
{
    char **v = NULL;
    size_t n = 0;
    int found = 0;
    snprintf(addr, addrsz, "postmaster@%s", env->hostname ? env->hostname : "");
    if (ism_mail_user_exists(env->mail, addr))
        return 1;
    if (ism_mail_domain_list(env->mail, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n && !found; i++) {
            snprintf(addr, addrsz, "postmaster@%s", v[i]);
            found = ism_mail_user_exists(env->mail, addr);
        }
        ism_mail_free_list(v, n);
    }
    return found;
}

static int add_rcpt(ism_smtp *s, const char *addr)
{
    for (size_t i = 0; i < s->n_rcpt; i++)
        if (strcmp(s->rcpt[i], addr) == 0)
            return 0; /* the same mailbox twice gets one copy */
    if (s->n_rcpt == s->cap_rcpt) {
        size_t cap = s->cap_rcpt ? s->cap_rcpt * 2 : 4;
        char **v = realloc(s->rcpt, cap * sizeof *v);
        if (!v)
            return -1;
        s->rcpt = v;
        s->cap_rcpt = cap;
    }
    char *copy = malloc(strlen(addr) + 1);
    if (!copy)
        return -1;
    strcpy(copy, addr);
    s->rcpt[s->n_rcpt++] = copy;
    return 0;
}

/* After a "no such mailbox" reply: a client trying address after address
 * is harvesting them. Each miss counts as an error (the session closes at
 * ISM_SMTP_MAX_ERRORS), and past ISM_SMTP_FREE_MISSES a client without a
 * login gets each answer later than the one before. */
static ism_proto_action rcpt_miss(ism_smtp *s, const ism_proto_env *env, ism_buf *out)
{
    s->rcpt_misses++;
    if (++s->errors >= ISM_SMTP_MAX_ERRORS)
        return too_many_errors(out);
    if (s->auth_user[0] || s->rcpt_misses <= ISM_SMTP_FREE_MISSES || !env->req)
        return ISM_PROTO_CONTINUE;
    int k = s->rcpt_misses - ISM_SMTP_FREE_MISSES;
    env->req->pause_ms = k >= ISM_SMTP_MAX_MISS_PAUSE_MS / ISM_SMTP_MISS_PAUSE_MS ? ISM_SMTP_MAX_MISS_PAUSE_MS
                                                                                   : k * ISM_SMTP_MISS_PAUSE_MS;
    return ISM_PROTO_PAUSE;
}

static ism_proto_action cmd_rcpt(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    char raw[ISM_MAIL_MAX_ADDRESS + 4], addr[ISM_MAIL_MAX_ADDRESS + 16];
    const char *params;
    size_t plen;
    if (!s->have_from)
        return refuse(s, out, "503 5.5.1 Need MAIL before RCPT");
    if (!ism_str_iprefix(line, len, "RCPT TO:"))
        return refuse(s, out, "501 5.5.4 Syntax: RCPT TO:<address>");
    if (parse_path(line + 8, len - 8, raw, sizeof raw, &params, &plen) || !raw[0])
        return refuse(s, out, "501 5.1.3 Bad recipient address syntax; write RCPT TO:<name@domain>");
    if (plen)
        return refuse(s, out, "555 5.5.4 RCPT TO parameters are not supported");
    if (!env->mail) {
        ism_buf_printf(out, "451 4.3.0 Mail store unavailable; try again later\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (s->n_rcpt >= ISM_SMTP_MAX_RCPT) {
        ism_buf_printf(out, "452 4.5.3 Too many recipients; send the rest in another message\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_ieq(raw, "postmaster")) {
        if (!find_postmaster(env, addr, sizeof addr)) {
            ism_buf_printf(out, "550 5.1.1 <postmaster>: no postmaster mailbox here\r\n");
            return ISM_PROTO_CONTINUE;
        }
    } else if (ism_mail_address_normalize(raw, addr, sizeof addr, NULL)) {
        return refuse(s, out, "501 5.1.3 Bad recipient address syntax; write RCPT TO:<name@domain>");
    }
    const char *domain = strrchr(addr, '@') + 1;
    if (!ism_mail_is_local_domain(env->mail, domain) && s->auth_user[0] && env->queue) {
        if (add_rcpt(s, addr)) {
            ism_buf_printf(out, "452 4.3.1 Out of memory; try again later\r\n");
            return ISM_PROTO_CONTINUE;
        }
        ism_buf_printf(out, "250 2.1.5 Recipient <%s> OK (for delivery to another server)\r\n", addr);
        return ISM_PROTO_CONTINUE;
    }
    if (!ism_mail_is_local_domain(env->mail, domain)) {
        if (s->auth_user[0])
            ism_buf_printf(out,
                           "550 5.7.0 <%s>: delivery to other mail servers is not enabled yet; "
                           "only local mailboxes can receive mail\r\n",
                           addr);
        else
            ism_buf_printf(out, "550 5.7.1 <%s>: relaying denied\r\n", addr);
        return ISM_PROTO_CONTINUE;
    }
    if (!ism_mail_user_exists(env->mail, addr)) {
        ism_buf_printf(out, "550 5.1.1 <%s>: no such mailbox here\r\n", addr);
        return rcpt_miss(s, env, out);
    }
    if (add_rcpt(s, addr)) {
        ism_buf_printf(out, "452 4.3.1 Out of memory; try again later\r\n");
        return ISM_PROTO_CONTINUE;
    }
    ism_buf_printf(out, "250 2.1.5 Recipient <%s> OK\r\n", addr);
    return ISM_PROTO_CONTINUE;
}

/* ---- DATA ---- */

/* RFC 5322 3.3 date-time in UTC, e.g. "Thu, 01 Jan 1970 00:00:00 +0000". */
static void rfc5322_date(char *out, size_t outsz, int64_t ms)
{
    ism_utc t;
    ism_utc_from_ms(ms, &t);
    snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d +0000", ism_wday_abbr[t.wday], t.day,
             ism_month_abbr[t.month - 1], t.year, t.hour, t.min, t.sec);
}

/* The peer as an address literal: [192.0.2.1] or [IPv6:2001:db8::1];
 * "unknown" when the connection layer could not tell. */
static void peer_literal(char *out, size_t outsz, const char *peer)
{
    size_t n = peer ? strlen(peer) : 0;
    int colon = 0;
    for (size_t i = 0; i < n; i++) {
        char c = peer[i];
        if (!isxdigit((unsigned char)c) && c != '.' && c != ':')
            n = 0;
        else
            colon |= c == ':';
    }
    if (n == 0 || n > 64)
        snprintf(out, outsz, "unknown");
    else
        snprintf(out, outsz, "[%s%s]", colon ? "IPv6:" : "", peer);
}

/* Return-Path and Received lines put before the message (RFC 5321 4.4). */
static void trace_headers(const ism_smtp *s, const ism_proto_env *env, ism_buf *b)
{
    char date[64], peer[100];
    rfc5322_date(date, sizeof date, ism_time_wall_ms());
    peer_literal(peer, sizeof peer, env->peer_addr);
    const char *proto = !s->esmtp                            ? "SMTP"
                        : env->tls_active && s->auth_user[0] ? "ESMTPSA"
                        : env->tls_active                    ? "ESMTPS"
                        : s->auth_user[0]                    ? "ESMTPA"
                                                             : "ESMTP";
    ism_buf_printf(b, "Return-Path: <%s>\r\n", s->from);
    ism_buf_printf(b, "Received: from %s (%s)\r\n\tby %s (ISMail) with %s\r\n", s->client, peer,
                   env->hostname ? env->hostname : "localhost", proto);
    if (env->tls_active)
        ism_buf_printf(b, "\t(version=%s cipher=%s)\r\n", env->tls_version ? env->tls_version : "unknown",
                       env->tls_cipher ? env->tls_cipher : "unknown");
    if (s->n_rcpt == 1)
        ism_buf_printf(b, "\tfor <%s>; %s\r\n", s->rcpt[0], date);
    else
        ism_buf_printf(b, "\t; %s\r\n", date);
}

/* Stores the message: the trace headers and the part in memory, then the
 * spooled rest, read back from the file in pieces (ism_queue_add_file) or
 * at most max_message at once (ism_mail_deliver_many_file). Other
 * domains' recipients go to the queue, local ones to their mailboxes. */
static void data_store(ism_smtp *s, const ism_proto_env *env, ism_buf *out)
{
    ism_buf head = {0};
    ism_err err = {0};
    trace_headers(s, env, &head);
    ism_buf_add(&head, s->data.p, s->data.len);
    const char **loc = calloc(s->n_rcpt, sizeof *loc), **rem = calloc(s->n_rcpt, sizeof *rem);
    size_t nl = 0, nr = 0;
    int bad = 0;
    if (head.oom || !loc || !rem) {
        ism_err_set(&err, ISM_E_STORE, "out of memory");
        bad = 1;
    } else if (s->spool && fflush(s->spool) != 0) {
        ism_err_set(&err, ISM_E_IO, "writing the spool file failed: %s", strerror(errno));
        bad = 1;
    }
    for (size_t i = 0; !bad && i < s->n_rcpt; i++) {
        if (ism_mail_is_local_domain(env->mail, strrchr(s->rcpt[i], '@') + 1))
            loc[nl++] = s->rcpt[i];
        else
            rem[nr++] = s->rcpt[i];
    }
    if (!bad && nr &&
        ism_queue_add_file(env->queue, s->from, rem, nr, head.p, head.len, s->spool, s->spooled, NULL, &err))
        bad = 1;
    else if (!bad && nr && env->queued)
        env->queued(env->queued_arg);
    if (!bad && nl && ism_mail_deliver_many_file(env->mail, loc, nl, head.p, head.len, s->spool, s->spooled, &err))
        bad = 1;
    free(loc);
    free(rem);
    if (bad) {
        ism_log(ISM_LOG_ERROR, "smtp: message from <%s> not stored: %s", s->from, err.msg);
        ism_buf_printf(out, "451 4.3.0 The message could not be stored; try again later\r\n");
    } else {
        ism_log(ISM_LOG_INFO, "smtp: message from <%s> (%llu bytes) delivered to %lu mailbox%s, from %s", s->from,
                (unsigned long long)head.len + (unsigned long long)s->spooled, (unsigned long)s->n_rcpt,
                s->n_rcpt == 1 ? "" : "es", env->peer_addr ? env->peer_addr : "unknown");
        ism_buf_printf(out, "250 2.0.0 OK: message delivered to %lu mailbox%s\r\n", (unsigned long)s->n_rcpt,
                       s->n_rcpt == 1 ? "" : "es");
    }
    ism_buf_free(&head);
}

/* After CRLF "." CRLF: the reply for the whole message. */
static ism_proto_action data_end(ism_smtp *s, const ism_proto_env *env, ism_buf *out)
{
    const char *peer = env->peer_addr ? env->peer_addr : "unknown";
    s->state = ISM_SMTP_S_GREETED;
    if (s->data_bare_lf || s->data_bare_cr) {
        ism_log(ISM_LOG_INFO, "smtp: message from <%s> (client %s) refused: it contains a bare <%s>", s->from, peer,
                s->data_bare_lf ? "LF" : "CR");
        if (s->data_bare_lf)
            ism_buf_printf(out, "554 5.5.2 Message refused: it contains a bare <LF> (a line end without <CR>); "
                                "lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n");
        else
            ism_buf_printf(out, "554 5.5.2 Message refused: it contains a bare <CR> (a <CR> not followed by <LF>); "
                                "lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n");
    } else if (s->data_too_big)
        ism_buf_printf(out, "552 5.3.4 Message size exceeds fixed maximum message size (%lld bytes)\r\n",
                       (long long)max_message(env));
    else if (s->data_long_line)
        ism_buf_printf(out, "500 5.5.2 Message refused: a line is longer than 998 characters (RFC 5322 2.1.1)\r\n");
    else if (s->data_hops > ISM_SMTP_MAX_HOPS)
        ism_buf_printf(out, "554 5.4.6 Too many hops (more than %d Received headers): mail loop?\r\n",
                       ISM_SMTP_MAX_HOPS);
    else if (s->data_over_budget) {
        ism_log(ISM_LOG_WARN, "smtp: message from <%s> (client %s) refused for now: that address has too much mail "
                              "in transit (smtp.data_budget_per_ip_mb)",
                s->from, peer);
        ism_buf_printf(out, "452 4.3.1 Too much mail in transit from your address; try again later\r\n");
    } else if (s->data_no_memory)
        ism_buf_printf(out, "452 4.3.1 Out of memory for the message; try again later\r\n");
    else if (s->data_spool_failed)
        ism_buf_printf(out, "451 4.3.0 The message could not be written to disk; try again later\r\n");
    else if (!env->mail)
        ism_buf_printf(out, "451 4.3.0 Mail store unavailable; try again later\r\n");
    else
        data_store(s, env, out);
    reset_transaction(s);
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action data_line(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    unsigned flags = env->line_flags;
    /* RFC 5321 4.1.1.4, 2.3.8: the message ends at CRLF "." CRLF and
     * nowhere else. Where a "." sits between a bare line end and a proper
     * one (LF "." LF, LF "." CRLF, CRLF "." LF) other servers disagree on
     * whether the message ended; what follows would run here as commands,
     * a second message smuggled past the checks the first one passed
     * (CVE-2023-51764 class). So such a "." is text, and the bare line
     * end refuses the message once it really ends. */
    int after_crlf = !s->data_prev_bare_lf;
    s->data_prev_bare_lf = (flags & ISM_LINE_BARE_LF) != 0;
    if (len == 1 && line[0] == '.' && after_crlf && !(flags & (ISM_LINE_BARE_LF | ISM_LINE_BARE_CR)))
        return data_end(s, env, out);
    if ((flags & ISM_LINE_BARE_LF) && !s->data_bare_lf) {
        s->data_bare_lf = 1;
        data_drop(s);
    }
    if ((flags & ISM_LINE_BARE_CR) && !s->data_bare_cr) {
        s->data_bare_cr = 1;
        data_drop(s);
    }
    if (len > 0 && line[0] == '.') { /* RFC 5321 4.5.2: undo dot-stuffing */
        line++;
        len--;
    }
    if (s->data_in_headers) {
        if (len == 0)
            s->data_in_headers = 0;
        else if (ism_str_iprefix(line, len, "RECEIVED:"))
            s->data_hops++;
    }
    s->data_size += len + 2;
    if (s->data_size > (uint64_t)max_message(env) && !s->data_too_big) {
        /* Keep reading to the dot, but keep nothing. */
        s->data_too_big = 1;
        data_drop(s);
    }
    if (!data_refused(s))
        data_keep_line(s, env, line, len);
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action cmd_data(ism_smtp *s, const ism_proto_env *env, size_t len, ism_buf *out)
{
    if (!s->have_from)
        return refuse(s, out, "503 5.5.1 Need MAIL and RCPT before DATA");
    if (s->n_rcpt == 0) {
        /* RFC 2920 3.1: after pipelined RCPTs that all failed. */
        ism_buf_printf(out, "554 5.5.1 No valid recipients\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (len != 4)
        return refuse(s, out, "501 5.5.4 DATA takes no parameters");
    if (!env->mail) {
        ism_buf_printf(out, "451 4.3.0 Mail store unavailable; try again later\r\n");
        return ISM_PROTO_CONTINUE;
    }
    s->state = ISM_SMTP_S_DATA;
    s->data_in_headers = 1;
    ism_buf_printf(out, "354 End data with <CR><LF>.<CR><LF>\r\n");
    return ISM_PROTO_CONTINUE;
}

/* ---- commands ---- */

static ism_proto_action cmd_ehlo(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    int ehlo = toupper((unsigned char)line[0]) == 'E';
    char name[sizeof s->client];
    copy_name(name, sizeof name, line, len, 4);
    if (!name[0])
        return refuse(s, out, ehlo ? "501 5.5.4 EHLO needs your host name" : "501 5.5.4 HELO needs your host name");
    /* RFC 5321 4.1.4: a new EHLO/HELO ends any transaction; AUTH stays. */
    reset_transaction(s);
    snprintf(s->client, sizeof s->client, "%s", name);
    s->state = ISM_SMTP_S_GREETED;
    s->esmtp = ehlo;
    if (!ehlo) {
        ism_buf_printf(out, "250 %s\r\n", env->hostname);
        return ISM_PROTO_CONTINUE;
    }
    ism_buf_printf(out, "250-%s greets %s\r\n", env->hostname, s->client);
    ism_buf_printf(out, "250-PIPELINING\r\n250-SIZE %lld\r\n", (long long)max_message(env));
    if (env->starttls_offered && !env->tls_active)
        ism_buf_printf(out, "250-STARTTLS\r\n");
    if (auth_offered(s, env))
        ism_buf_printf(out, "250-AUTH PLAIN LOGIN\r\n");
    ism_buf_printf(out, "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action command(ism_smtp *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    int is_auth = ism_str_verb_is(line, len, "AUTH");
    /* RFC 5321 4.5.3.1.4; RFC 4954 4 lets AUTH lines be longer. */
    if (len + 2 > ISM_SMTP_MAX_COMMAND && !is_auth) {
        char msg[80];
        snprintf(msg, sizeof msg, "500 5.5.2 Line too long (at most %d characters)", ISM_SMTP_MAX_COMMAND - 2);
        return refuse(s, out, msg);
    }
    if (ism_str_verb_is(line, len, "EHLO") || ism_str_verb_is(line, len, "HELO"))
        return cmd_ehlo(s, env, line, len, out);
    if (ism_str_verb_is(line, len, "STARTTLS")) {
        int may_starttls = env->starttls_offered && !env->tls_active;
        if (env->tls_active)
            return refuse(s, out, "503 5.5.1 TLS is already active");
        if (!may_starttls)
            return refuse(s, out, "502 5.5.1 STARTTLS is not offered on this server");
        if (len != 8)
            return refuse(s, out, "501 5.5.4 STARTTLS takes no parameters");
        reset_transaction(s);
        ism_buf_printf(out, "220 2.0.0 Ready to start TLS\r\n");
        return ISM_PROTO_STARTTLS;
    }
    if (is_auth)
        return cmd_auth(s, env, line, len, out);
    if (ism_str_verb_is(line, len, "MAIL"))
        return cmd_mail(s, env, line, len, out);
    if (ism_str_verb_is(line, len, "RCPT"))
        return cmd_rcpt(s, env, line, len, out);
    if (ism_str_verb_is(line, len, "DATA"))
        return cmd_data(s, env, len, out);
    if (ism_str_verb_is(line, len, "RSET")) {
        reset_transaction(s);
        ism_buf_printf(out, "250 2.0.0 OK\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "NOOP")) {
        ism_buf_printf(out, "250 2.0.0 OK\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "VRFY")) {
        /* Telling who has a mailbox helps address harvesters. */
        ism_buf_printf(out, "252 2.5.2 Cannot VRFY user; send the message and RCPT will tell\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "EXPN"))
        return refuse(s, out, "502 5.5.1 EXPN is not supported");
    if (ism_str_verb_is(line, len, "HELP")) {
        ism_buf_printf(out, "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "QUIT")) {
        ism_buf_printf(out, "221 2.0.0 %s closing connection\r\n", env->hostname);
        return ISM_PROTO_CLOSE;
    }
    return refuse(s, out, "500 5.5.2 Command not recognized");
}

static ism_proto_action smtp_line(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    ism_smtp *s = st;
    if (s->state != ISM_SMTP_S_DATA && (env->line_flags & (ISM_LINE_BARE_LF | ISM_LINE_BARE_CR))) {
        /* A client (or a proxy before it) that ends lines differently from
         * us cannot be followed safely: where its commands or its message
         * end is ambiguous. Postfix's smtpd_forbid_bare_newline answers the
         * same way. */
        ism_buf_printf(out, "521 5.5.2 Error: bare <%s> received; lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n",
                       env->line_flags & ISM_LINE_BARE_LF ? "LF" : "CR");
        OPENSSL_cleanse(s->login_user, sizeof s->login_user);
        return ISM_PROTO_CLOSE;
    }
    switch (s->state) {
    case ISM_SMTP_S_DATA:
        return data_line(s, env, line, len, out);
    case ISM_SMTP_S_AUTH_PLAIN:
        return auth_plain(s, env, line, len, out);
    case ISM_SMTP_S_AUTH_USER:
        return auth_login_user(s, line, len, out);
    case ISM_SMTP_S_AUTH_PASS:
        return auth_login_pass(s, env, line, len, out);
    case ISM_SMTP_S_AUTH_WAIT:
        /* The connection layer hands no line over while a login is checked. */
        ism_buf_printf(out, "503 5.5.1 Authentication in progress\r\n");
        return ISM_PROTO_CONTINUE;
    default:
        return command(s, env, line, len, out);
    }
}

/* The ports this protocol listens on (see ism_proto_listener). */
static const ism_proto_listener smtp_listeners[] = {
    {"smtp", &ism_proto_smtp, ISM_S_SMTP_PORT, ISM_S_SMTP_TLS_INCOMING, 0, 0, 0},
    {"submission", &ism_proto_smtp, ISM_S_SUBMISSION_PORT, ISM_S_SMTP_TLS_INCOMING, 0, 1, 0},
    {"smtps", &ism_proto_smtp, ISM_S_SMTPS_PORT, ISM_S_SMTP_TLS_INCOMING, 1, 1, 0},
};

const ism_proto_ops ism_proto_smtp = {
    "smtp", ISM_SMTP_MAX_LINE, sizeof(ism_smtp), smtp_begin, smtp_line, smtp_tls_started, smtp_too_long, smtp_end,
    smtp_auth_done, NULL,
    .label = "SMTP",
    .busy = "421 4.7.0 Too many connections from your address; try again later\r\n",
    .listeners = smtp_listeners,
    .n_listeners = sizeof smtp_listeners / sizeof smtp_listeners[0],
};
