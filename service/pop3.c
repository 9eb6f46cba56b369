/* pop3: the POP3 server session (RFC 1939) with CAPA (RFC 2449), STLS
 * (RFC 2595), AUTH PLAIN (RFC 5034) and the response codes of RFC 3206, as
 * an explicit state machine behind the ism_proto_ops contract (proto.h).
 *
 * States: AUTHORIZATION (greeting, STLS, USER/PASS, AUTH), TRANSACTION (the
 * maildrop is a snapshot taken at login, so message numbers stay stable for
 * the session) and UPDATE, entered only by QUIT, which removes the messages
 * marked with DELE. A session that ends without QUIT removes nothing.
 *
 * Credentials are refused in plaintext when TLS is on for POP3
 * (env->tls_required_for_auth): CAPA then lists neither USER nor SASL, the
 * POP3 counterpart of IMAP's LOGINDISABLED (RFC 2595 section 4). */
#include "ism_str.h"
#include "proto.h"
#include "sasl.h"

#include "ism_log.h"
#include "ism_mail.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 2449 section 4: a command is at most 255 octets with its CRLF. The
 * connection layer's limit is higher so that a base64 SASL response, which
 * that limit does not cover (RFC 5034 section 4), fits. */
#define POP3_MAX_COMMAND 255
#define POP3_MAX_LINE 2560
/* Wrong passwords tolerated before the connection is closed. */
#define POP3_MAX_AUTH_FAILURES 3

typedef enum { POP3_S_AUTHORIZATION, POP3_S_TRANSACTION } pop3_state;

typedef struct {
    pop3_state state;
    int auth_pending;        /* AUTH PLAIN sent "+ "; the next line is the SASL response */
    int auth_failures;
    int have_user;           /* USER accepted; PASS may follow */
    char user[256];          /* the address given in USER, then the logged-in account */
    ism_msg_info *msgs;      /* the maildrop snapshot (TRANSACTION) */
    unsigned char *deleted;  /* per message: marked by DELE */
    size_t n_msgs;
    uint32_t uidvalidity;    /* part of the UIDL unique-id */
    /* RETR/TOP in progress (ISM_PROTO_MORE): the message, sent a piece at
     * a time so a client that does not read holds one piece of output. */
    char *stream;
    size_t stream_len, stream_pos;
    long stream_top;         /* body lines still to send for TOP; -1 for RETR */
    int stream_in_body;
} pop3;

/* ---- helpers ---- */

static int auth_allowed(const ism_proto_env *env)
{
    return !(env->tls_required_for_auth && !env->tls_active);
}

static void forget_stream(pop3 *s)
{
    free(s->stream);
    s->stream = NULL;
    s->stream_len = s->stream_pos = 0;
}

static void forget_maildrop(pop3 *s)
{
    forget_stream(s);
    free(s->msgs);
    free(s->deleted);
    s->msgs = NULL;
    s->deleted = NULL;
    s->n_msgs = 0;
}

static void forget_credentials(pop3 *s)
{
    /* The user name is not secret, but nothing of a failed login should linger. */
    memset(s->user, 0, sizeof s->user);
    s->have_user = 0;
    s->auth_pending = 0;
}

/* Splits the arguments after a keyword of verb_len characters into at most
 * max words (separated by one or more spaces). Returns the number of words,
 * or max + 1 when there are more. Words point into line (not NUL-terminated). */
typedef struct {
    const char *p;
    size_t len;
} word;

static size_t split_args(const char *line, size_t len, size_t verb_len, word *w, size_t max)
{
    size_t n = 0, i = verb_len;
    for (;;) {
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            return n;
        if (n == max)
            return max + 1;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        w[n].p = line + start;
        w[n].len = i - start;
        n++;
    }
}

/* A decimal number without sign or leading junk; 0 when malformed. */
static int parse_number(const word *w, unsigned long *out)
{
    unsigned long v = 0;
    if (w->len == 0 || w->len > 9)
        return 0;
    for (size_t i = 0; i < w->len; i++) {
        if (w->p[i] < '0' || w->p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(w->p[i] - '0');
    }
    *out = v;
    return 1;
}

static size_t live_count(const pop3 *s, size_t *octets)
{
    size_t n = 0, total = 0;
    for (size_t i = 0; i < s->n_msgs; i++)
        if (!s->deleted[i]) {
            n++;
            total += s->msgs[i].size;
        }
    if (octets)
        *octets = total;
    return n;
}

/* Asks the connection layer to check the user name and password
 * (ISM_PROTO_AUTH); pop3_auth_done goes on. */
static ism_proto_action login(pop3 *s, const ism_proto_env *env, const char *user, const char *pass, ism_buf *out)
{
    if (!env->mail) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] The mailbox store is not available; try again later\r\n");
        forget_credentials(s);
        return ISM_PROTO_CONTINUE;
    }
    if (user != s->user)
        snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(env->req->user, sizeof env->req->user, "%s", s->user);
    snprintf(env->req->pass, sizeof env->req->pass, "%s", pass);
    return ISM_PROTO_AUTH;
}

/* After the check: takes the maildrop snapshot and enters TRANSACTION, or
 * answers the failure. Returns CLOSE after too many failures. */
static ism_proto_action pop3_auth_done(void *st, const ism_proto_env *env, ism_auth_result r, ism_buf *out)
{
    pop3 *s = st;
    ism_err err;
    char user[sizeof s->user];
    snprintf(user, sizeof user, "%s", s->user);
    if (r == ISM_AUTH_UNAVAILABLE || !env->mail) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] The mailbox store is not available; try again later\r\n");
        forget_credentials(s);
        return ISM_PROTO_CONTINUE;
    }
    if (r == ISM_AUTH_THROTTLED) {
        forget_credentials(s);
        ism_buf_printf(out, "-ERR [SYS/TEMP] Too many failed logins; try again in %d minutes\r\n",
                       env->req->retry_minutes);
        return ISM_PROTO_CONTINUE;
    }
    if (r != ISM_AUTH_OK) {
        ism_log(ISM_LOG_INFO, "pop3: failed login for %s from %s", user, env->peer_addr ? env->peer_addr : "?");
        forget_credentials(s);
        if (++s->auth_failures >= POP3_MAX_AUTH_FAILURES) {
            ism_buf_printf(out, "-ERR [AUTH] Wrong user name or password; too many failures, closing\r\n");
            return ISM_PROTO_CLOSE;
        }
        ism_buf_printf(out, "-ERR [AUTH] Wrong user name or password\r\n");
        return ISM_PROTO_CONTINUE;
    }
    uint32_t uidnext;
    if (ism_mail_uidvalidity(env->mail, user, &s->uidvalidity, &uidnext, &err) ||
        ism_mail_list(env->mail, user, &s->msgs, &s->n_msgs, &err)) {
        ism_log(ISM_LOG_WARN, "pop3: cannot open the maildrop of %s: %s", user, err.msg);
        ism_buf_printf(out, "-ERR [SYS/TEMP] Cannot open your maildrop; try again later\r\n");
        forget_maildrop(s);
        forget_credentials(s);
        return ISM_PROTO_CONTINUE;
    }
    s->deleted = calloc(s->n_msgs ? s->n_msgs : 1, 1);
    if (!s->deleted) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] Out of memory; try again later\r\n");
        forget_maildrop(s);
        forget_credentials(s);
        return ISM_PROTO_CLOSE;
    }
    char canonical[ISM_MAIL_MAX_ADDRESS + 1];
    if (ism_mail_address_normalize(user, canonical, sizeof canonical, NULL))
        snprintf(canonical, sizeof canonical, "%s", user);
    snprintf(s->user, sizeof s->user, "%s", canonical);
    s->have_user = 0;
    s->state = POP3_S_TRANSACTION;
    size_t octets, n = live_count(s, &octets);
    ism_buf_printf(out, "+OK Logged in as %s: %lu messages (%lu octets)\r\n", s->user, (unsigned long)n,
                   (unsigned long)octets);
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action auth_response(pop3 *s, const ism_proto_env *env, const char *b64, size_t len, ism_buf *out)
{
    char user[ISM_MAIL_MAX_ADDRESS + 1], pass[ISM_MAIL_MAX_PASSWORD + 1];
    s->auth_pending = 0;
    if (len == 1 && b64[0] == '*') {
        ism_buf_printf(out, "-ERR Authentication canceled\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (len == 1 && b64[0] == '=')
        len = 0; /* an empty initial response */
    if (ism_sasl_plain(b64, len, user, sizeof user, pass, sizeof pass)) {
        ism_buf_printf(out, "-ERR Malformed AUTH PLAIN response: expected base64 of \"\\0user\\0password\"\r\n");
        return ISM_PROTO_CONTINUE;
    }
    ism_proto_action a = login(s, env, user, pass, out);
    memset(pass, 0, sizeof pass);
    return a;
}

/* Looks a message number up; writes the error reply and returns -1 when it
 * names no message or a deleted one. */
static long message_index(const pop3 *s, const word *w, ism_buf *out)
{
    unsigned long n;
    if (!parse_number(w, &n)) {
        ism_buf_printf(out, "-ERR A message number is expected here\r\n");
        return -1;
    }
    if (n < 1 || n > s->n_msgs) {
        ism_buf_printf(out, "-ERR No such message: %lu (the maildrop has %lu)\r\n", n, (unsigned long)s->n_msgs);
        return -1;
    }
    if (s->deleted[n - 1]) {
        ism_buf_printf(out, "-ERR Message %lu is deleted\r\n", n);
        return -1;
    }
    return (long)(n - 1);
}

/* Sends the next piece of the message being retrieved as a multi-line
 * response body: lines starting with "." get one more (RFC 1939 section 3),
 * every line ends with CRLF, then the final "." once all is sent. With
 * stream_top >= 0 only the header and that many body lines go (TOP).
 * Returns MORE until the message is done. */
static ism_proto_action pop3_more(void *st, const ism_proto_env *env, ism_buf *out)
{
    pop3 *s = st;
    const char *data = s->stream;
    size_t len = s->stream_len, i = s->stream_pos, start = out->len;
    (void)env;
    while (i < len && out->len - start < ISM_PROTO_OUT_PIECE) {
        if (s->stream_in_body && s->stream_top == 0)
            break;
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len, next = nl ? end + 1 : len;
        if (end > i && data[end - 1] == '\r')
            end--;
        if (data[i] == '.')
            ism_buf_add(out, ".", 1);
        ism_buf_add(out, data + i, end - i);
        ism_buf_add(out, "\r\n", 2);
        if (s->stream_in_body && s->stream_top > 0)
            s->stream_top--;
        else if (end == i)
            s->stream_in_body = 1; /* the empty line ends the header */
        i = next;
    }
    s->stream_pos = i;
    if (i < len && !(s->stream_in_body && s->stream_top == 0))
        return out->oom ? ISM_PROTO_CLOSE : ISM_PROTO_MORE;
    ism_buf_add(out, ".\r\n", 3);
    forget_stream(s);
    return out->oom ? ISM_PROTO_CLOSE : ISM_PROTO_CONTINUE;
}

static ism_proto_action retr_or_top(pop3 *s, const ism_proto_env *env, long idx, long top_lines, ism_buf *out)
{
    char *data;
    size_t len;
    ism_err err;
    ism_msg_info *m = &s->msgs[idx];
    if (!env->mail) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] The mailbox store is not available; try again later\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_mail_fetch(env->mail, s->user, m->uid, &data, &len, &err)) {
        ism_log(ISM_LOG_WARN, "pop3: cannot read message %lu of %s: %s", (unsigned long)m->uid, s->user, err.msg);
        ism_buf_printf(out, "-ERR [SYS/TEMP] Message %ld cannot be read right now\r\n", idx + 1);
        return ISM_PROTO_CONTINUE;
    }
    if (top_lines < 0)
        ism_buf_printf(out, "+OK %lu octets\r\n", (unsigned long)len);
    else
        ism_buf_printf(out, "+OK Top of message %ld follows\r\n", idx + 1);
    forget_stream(s);
    s->stream = data;
    s->stream_len = len;
    s->stream_top = top_lines;
    s->stream_in_body = 0;
    /* POP3 has no flags, but IMAP sees the message as read from now on. */
    if (top_lines < 0 && !(m->flags & ISM_FLAG_SEEN) && !ism_mail_set_flags(env->mail, s->user, m->uid, m->flags | ISM_FLAG_SEEN, &err))
        m->flags |= ISM_FLAG_SEEN;
    return pop3_more(s, env, out);
}

/* ---- the ops ---- */

static void pop3_begin(void *st, const ism_proto_env *env, ism_buf *out)
{
    (void)st;
    ism_buf_printf(out, "+OK %s ISMail POP3 server ready\r\n", env->hostname);
}

static void pop3_tls_started(void *st, const ism_proto_env *env)
{
    pop3 *s = st;
    (void)env;
    forget_maildrop(s);
    forget_credentials(s);
    s->state = POP3_S_AUTHORIZATION;
}

static void pop3_too_long(void *st, const ism_proto_env *env, ism_buf *out)
{
    pop3 *s = st;
    (void)env;
    if (s->auth_pending) {
        s->auth_pending = 0;
        ism_buf_printf(out, "-ERR AUTH response too long; authentication canceled\r\n");
        return;
    }
    ism_buf_printf(out, "-ERR Command line too long (at most %d characters)\r\n", POP3_MAX_COMMAND - 2);
}

static void pop3_end(void *st)
{
    pop3 *s = st;
    forget_maildrop(s);
    forget_credentials(s);
}

static ism_proto_action capa(pop3 *s, const ism_proto_env *env, ism_buf *out)
{
    ism_buf_printf(out, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
    if (s->state == POP3_S_AUTHORIZATION) {
        if (auth_allowed(env))
            ism_buf_printf(out, "USER\r\nSASL PLAIN\r\n");
        if (env->starttls_offered && !env->tls_active)
            ism_buf_printf(out, "STLS\r\n");
    }
    ism_buf_printf(out, "IMPLEMENTATION ISMail\r\n.\r\n");
    return ISM_PROTO_CONTINUE;
}

static void refuse_plaintext(const ism_proto_env *env, ism_buf *out)
{
    ism_buf_printf(out, "-ERR [AUTH] Plaintext authentication is disabled on this server: %s\r\n",
                   env->starttls_offered ? "use STLS first" : "connect to the POP3S port (TLS)");
}

static ism_proto_action authorization(pop3 *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    word w[2];
    if (ism_str_verb_is(line, len, "STLS")) {
        if (env->tls_active)
            ism_buf_printf(out, "-ERR TLS is already active\r\n");
        else if (!env->starttls_offered)
            ism_buf_printf(out, "-ERR STLS is not offered on this server\r\n");
        else if (split_args(line, len, 4, w, 0))
            ism_buf_printf(out, "-ERR STLS takes no arguments\r\n");
        else {
            ism_buf_printf(out, "+OK Begin TLS negotiation\r\n");
            return ISM_PROTO_STARTTLS;
        }
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "USER")) {
        s->have_user = 0;
        if (!auth_allowed(env)) {
            refuse_plaintext(env, out);
        } else if (split_args(line, len, 4, w, 1) != 1) {
            ism_buf_printf(out, "-ERR USER needs exactly one argument: your e-mail address\r\n");
        } else if (w[0].len >= sizeof s->user) {
            ism_buf_printf(out, "-ERR [AUTH] User name too long\r\n");
        } else {
            memcpy(s->user, w[0].p, w[0].len);
            s->user[w[0].len] = '\0';
            s->have_user = 1;
            ism_buf_printf(out, "+OK Send your password with PASS\r\n");
        }
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "PASS")) {
        if (!auth_allowed(env)) {
            forget_credentials(s);
            refuse_plaintext(env, out);
            return ISM_PROTO_CONTINUE;
        }
        if (!s->have_user) {
            ism_buf_printf(out, "-ERR Send USER first\r\n");
            return ISM_PROTO_CONTINUE;
        }
        /* RFC 1939 section 7: the password is the rest of the line, spaces included. */
        char pass[256];
        size_t n = len > 5 ? len - 5 : 0;
        if (len < 5 || line[4] != ' ' || n >= sizeof pass) {
            forget_credentials(s);
            ism_buf_printf(out, "-ERR PASS needs your password\r\n");
            return ISM_PROTO_CONTINUE;
        }
        memcpy(pass, line + 5, n);
        pass[n] = '\0';
        ism_proto_action a = login(s, env, s->user, pass, out);
        memset(pass, 0, sizeof pass);
        return a;
    }
    if (ism_str_verb_is(line, len, "AUTH")) {
        size_t nargs = split_args(line, len, 4, w, 2);
        s->have_user = 0;
        if (nargs == 0) {
            /* The pre-RFC 5034 mechanism listing that some clients still send. */
            if (auth_allowed(env))
                ism_buf_printf(out, "+OK Mechanisms follow\r\nPLAIN\r\n.\r\n");
            else
                refuse_plaintext(env, out);
            return ISM_PROTO_CONTINUE;
        }
        if (!auth_allowed(env)) {
            refuse_plaintext(env, out);
            return ISM_PROTO_CONTINUE;
        }
        if (nargs > 2) {
            ism_buf_printf(out, "-ERR AUTH takes a mechanism and at most one initial response\r\n");
            return ISM_PROTO_CONTINUE;
        }
        if (w[0].len != 5 || !ism_str_verb_is(w[0].p, 5, "PLAIN")) {
            ism_buf_printf(out, "-ERR Unsupported authentication mechanism; this server offers PLAIN\r\n");
            return ISM_PROTO_CONTINUE;
        }
        if (nargs == 2)
            return auth_response(s, env, w[1].p, w[1].len, out);
        s->auth_pending = 1;
        ism_buf_printf(out, "+ \r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "APOP")) {
        ism_buf_printf(out, "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN\r\n");
        return ISM_PROTO_CONTINUE;
    }
    static const char *const transaction_only[] = {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"};
    for (size_t i = 0; i < sizeof transaction_only / sizeof transaction_only[0]; i++)
        if (ism_str_verb_is(line, len, transaction_only[i])) {
            ism_buf_printf(out, "-ERR Log in first (USER/PASS or AUTH)\r\n");
            return ISM_PROTO_CONTINUE;
        }
    ism_buf_printf(out, "-ERR Unknown command\r\n");
    return ISM_PROTO_CONTINUE;
}

/* LIST and UIDL share their shape: one message or all live ones. */
static void list_or_uidl(pop3 *s, const char *line, size_t len, int uidl, ism_buf *out)
{
    word w[1];
    size_t nargs = split_args(line, len, 4, w, 1);
    if (nargs > 1) {
        ism_buf_printf(out, "-ERR %s takes at most one message number\r\n", uidl ? "UIDL" : "LIST");
        return;
    }
    if (nargs == 1) {
        long i = message_index(s, &w[0], out);
        if (i < 0)
            return;
        if (uidl)
            ism_buf_printf(out, "+OK %ld %08lx%08lx\r\n", i + 1, (unsigned long)s->uidvalidity,
                           (unsigned long)s->msgs[i].uid);
        else
            ism_buf_printf(out, "+OK %ld %lu\r\n", i + 1, (unsigned long)s->msgs[i].size);
        return;
    }
    size_t octets, n = live_count(s, &octets);
    if (uidl)
        ism_buf_printf(out, "+OK Unique-id listing follows\r\n");
    else
        ism_buf_printf(out, "+OK %lu messages (%lu octets)\r\n", (unsigned long)n, (unsigned long)octets);
    for (size_t i = 0; i < s->n_msgs; i++) {
        if (s->deleted[i])
            continue;
        if (uidl)
            ism_buf_printf(out, "%lu %08lx%08lx\r\n", (unsigned long)i + 1, (unsigned long)s->uidvalidity,
                           (unsigned long)s->msgs[i].uid);
        else
            ism_buf_printf(out, "%lu %lu\r\n", (unsigned long)i + 1, (unsigned long)s->msgs[i].size);
    }
    ism_buf_printf(out, ".\r\n");
}

/* UPDATE state (RFC 1939 section 6): remove what DELE marked. */
static ism_proto_action update(pop3 *s, const ism_proto_env *env, ism_buf *out)
{
    size_t n = 0;
    uint32_t *uids = malloc((s->n_msgs ? s->n_msgs : 1) * sizeof *uids);
    if (!uids) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] Out of memory; deleted messages were not removed\r\n");
        forget_maildrop(s);
        return ISM_PROTO_CLOSE;
    }
    for (size_t i = 0; i < s->n_msgs; i++)
        if (s->deleted[i])
            uids[n++] = s->msgs[i].uid;
    ism_err err;
    if (n && !env->mail) {
        ism_buf_printf(out, "-ERR [SYS/TEMP] The mailbox store is not available; deleted messages were not removed\r\n");
    } else if (n && ism_mail_remove(env->mail, s->user, uids, n, &err)) {
        ism_log(ISM_LOG_WARN, "pop3: cannot remove deleted messages of %s: %s", s->user, err.msg);
        ism_buf_printf(out, "-ERR [SYS/TEMP] Some deleted messages were not removed; they are still there\r\n");
    } else {
        size_t left = s->n_msgs - n;
        ism_buf_printf(out, "+OK %s ISMail POP3 server signing off (%lu messages left)\r\n", env->hostname,
                       (unsigned long)left);
    }
    free(uids);
    forget_maildrop(s);
    return ISM_PROTO_CLOSE;
}

static ism_proto_action transaction(pop3 *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    word w[2];
    if (ism_str_verb_is(line, len, "STAT")) {
        size_t octets, n = live_count(s, &octets);
        if (split_args(line, len, 4, w, 0))
            ism_buf_printf(out, "-ERR STAT takes no arguments\r\n");
        else
            ism_buf_printf(out, "+OK %lu %lu\r\n", (unsigned long)n, (unsigned long)octets);
    } else if (ism_str_verb_is(line, len, "LIST")) {
        list_or_uidl(s, line, len, 0, out);
    } else if (ism_str_verb_is(line, len, "UIDL")) {
        list_or_uidl(s, line, len, 1, out);
    } else if (ism_str_verb_is(line, len, "RETR")) {
        long i;
        if (split_args(line, len, 4, w, 1) != 1)
            ism_buf_printf(out, "-ERR RETR needs one message number\r\n");
        else if ((i = message_index(s, &w[0], out)) >= 0)
            return retr_or_top(s, env, i, -1, out);
    } else if (ism_str_verb_is(line, len, "TOP")) {
        long i;
        unsigned long lines;
        if (split_args(line, len, 3, w, 2) != 2)
            ism_buf_printf(out, "-ERR TOP needs a message number and a number of lines\r\n");
        else if ((i = message_index(s, &w[0], out)) < 0)
            ;
        else if (!parse_number(&w[1], &lines))
            ism_buf_printf(out, "-ERR TOP: the number of lines must be a non-negative number\r\n");
        else
            return retr_or_top(s, env, i, (long)lines, out);
    } else if (ism_str_verb_is(line, len, "DELE")) {
        long i;
        if (split_args(line, len, 4, w, 1) != 1)
            ism_buf_printf(out, "-ERR DELE needs one message number\r\n");
        else if ((i = message_index(s, &w[0], out)) >= 0) {
            s->deleted[i] = 1;
            ism_buf_printf(out, "+OK Message %ld deleted\r\n", i + 1);
        }
    } else if (ism_str_verb_is(line, len, "RSET")) {
        memset(s->deleted, 0, s->n_msgs);
        size_t octets, n = live_count(s, &octets);
        ism_buf_printf(out, "+OK Maildrop has %lu messages (%lu octets)\r\n", (unsigned long)n, (unsigned long)octets);
    } else if (ism_str_verb_is(line, len, "NOOP")) {
        ism_buf_printf(out, "+OK\r\n");
    } else if (ism_str_verb_is(line, len, "QUIT")) {
        return update(s, env, out);
    } else if (ism_str_verb_is(line, len, "STLS")) {
        ism_buf_printf(out, "-ERR STLS is only allowed before logging in\r\n");
    } else if (ism_str_verb_is(line, len, "USER") || ism_str_verb_is(line, len, "PASS") || ism_str_verb_is(line, len, "AUTH") ||
               ism_str_verb_is(line, len, "APOP")) {
        ism_buf_printf(out, "-ERR Already logged in\r\n");
    } else {
        ism_buf_printf(out, "-ERR Unknown command\r\n");
    }
    return ISM_PROTO_CONTINUE;
}

static ism_proto_action pop3_line(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    pop3 *s = st;
    if (s->auth_pending)
        return auth_response(s, env, line, len, out);
    if (len + 2 > POP3_MAX_COMMAND) {
        pop3_too_long(st, env, out);
        return ISM_PROTO_CONTINUE;
    }
    if (ism_str_verb_is(line, len, "CAPA"))
        return capa(s, env, out);
    if (s->state == POP3_S_AUTHORIZATION && ism_str_verb_is(line, len, "QUIT")) {
        ism_buf_printf(out, "+OK %s ISMail POP3 server signing off\r\n", env->hostname);
        return ISM_PROTO_CLOSE;
    }
    if (s->state == POP3_S_AUTHORIZATION)
        return authorization(s, env, line, len, out);
    return transaction(s, env, line, len, out);
}

/* The ports this protocol listens on (see ism_proto_listener). */
static const ism_proto_listener pop3_listeners[] = {
    {"pop3", &ism_proto_pop3, ISM_S_POP_PORT, ISM_S_POP_TLS_INCOMING, 0, 0, 0},
    {"pop3s", &ism_proto_pop3, ISM_S_POPS_PORT, ISM_S_POP_TLS_INCOMING, 1, 0, 0},
};

const ism_proto_ops ism_proto_pop3 = {
    "pop3", POP3_MAX_LINE, sizeof(pop3), pop3_begin, pop3_line, pop3_tls_started, pop3_too_long, pop3_end,
    pop3_auth_done, pop3_more,
    .label = "POP",
    .busy = "-ERR [SYS/TEMP] Too many connections from your address; try again later\r\n",
    .listeners = pop3_listeners,
    .n_listeners = sizeof pop3_listeners / sizeof pop3_listeners[0],
};
