/* smtp_client: one SMTP session to another server (see smtp_client.h).
 *
 * The session is a straight sequence (greeting, EHLO, STARTTLS, EHLO,
 * transaction, QUIT) over a non-blocking socket: every read and write that
 * would block waits in ism_poll slices of at most 100 ms, checking the
 * cancel callback and the step's deadline in between. After STARTTLS
 * everything learnt in plaintext is forgotten (RFC 3207 4.2): the
 * extensions are read again from the second EHLO. */
#include "smtp_client.h"

#include "ism_buf.h"
#include "ism_platform.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 5321 4.5.3.2 timeouts, and ours for what it leaves open. */
#define T_CONNECT 30000
#define T_GREETING 300000
#define T_EHLO 300000
#define T_TLS 60000
#define T_MAIL 300000
#define T_RCPT 300000
#define T_DATA 120000
#define T_BLOCK 180000
#define T_DOT 600000
#define T_QUIT 5000
#define SLICE_MS 100

typedef struct {
    const ism_smtpc_opts *o;
    ism_smtpc_info *info;
    ism_sock fd;
    SSL *ssl;
    char in[8192];
    size_t in_len;
    char where[400];   /* "host[addr]:port" for messages */
    int cancelled;
    char ioerr[300];   /* what went wrong with the connection */
} sess;

typedef struct {
    int code;          /* 0 when no reply came */
    char first[512];   /* the first line, with its code */
    char lines[4096];  /* every line's text without the code, one a line */
} reply;

typedef struct {
    int starttls, pipelining, eightbit, size_offered;
    unsigned long size_limit;
} extensions;

int ism_smtpc_is_ip(const char *s)
{
    if (!*s)
        return 0;
    if (strchr(s, ':'))
        return strspn(s, "0123456789abcdefABCDEF:.") == strlen(s);
    return strspn(s, "0123456789.") == strlen(s);
}

static int tmo(const sess *c, int rfc_ms)
{
    return c->o->timeout_ms > 0 ? c->o->timeout_ms : rfc_ms;
}

/* ---- waiting and raw I/O ---- */

/* Waits until fd is readable (or writable); -1 on cancel, timeout or error. */
static int wait_fd(sess *c, int for_write, int64_t deadline)
{
    for (;;) {
        if (c->o->cancelled && c->o->cancelled(c->o->cancel_arg)) {
            c->cancelled = 1;
            snprintf(c->ioerr, sizeof c->ioerr, "the service is stopping");
            return -1;
        }
        int64_t now = ism_time_mono_ms();
        if (now >= deadline) {
            snprintf(c->ioerr, sizeof c->ioerr, "timed out");
            return -1;
        }
        int64_t left = deadline - now;
        ism_pollfd p;
        memset(&p, 0, sizeof p);
        p.fd = c->fd;
        p.events = for_write ? POLLOUT : POLLIN;
        int r = ism_poll(&p, 1, (int)(left < SLICE_MS ? left : SLICE_MS));
        if (r > 0)
            return 0;
        if (r < 0) {
            snprintf(c->ioerr, sizeof c->ioerr, "the connection failed");
            return -1;
        }
    }
}

/* Waits for what an OpenSSL call asked for; -1 when the connection is unusable. */
static int tls_wait(sess *c, int r, int64_t deadline)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(c, 0, deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(c, 1, deadline);
    unsigned long le = ERR_peek_error();
    snprintf(c->ioerr, sizeof c->ioerr, "%s",
             e == SSL_ERROR_ZERO_RETURN ? "the server closed the connection"
             : le                       ? ERR_reason_error_string(le)
                                        : "the connection was lost");
    ERR_clear_error();
    return -1;
}

static int send_all(sess *c, const char *p, size_t len, int step_ms)
{
    int64_t deadline = ism_time_mono_ms() + step_ms;
    while (len > 0) {
        long n;
        size_t chunk = len > 65536 ? 65536 : len;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, (int)chunk);
            if (r <= 0) {
                if (tls_wait(c, r, deadline))
                    return -1;
                continue;
            }
            n = r;
        } else {
            n = ism_sock_send(c->fd, p, chunk);
            if (n == ISM_IO_AGAIN) {
                if (wait_fd(c, 1, deadline))
                    return -1;
                continue;
            }
            if (n <= 0) {
                snprintf(c->ioerr, sizeof c->ioerr, "the connection was lost");
                return -1;
            }
        }
        p += n;
        len -= (size_t)n;
        deadline = ism_time_mono_ms() + step_ms; /* the timeout is per block, not for the whole message */
    }
    return 0;
}

/* Reads more into c->in; -1 on close, timeout or error. */
static int recv_more(sess *c, int64_t deadline)
{
    if (c->in_len == sizeof c->in) {
        snprintf(c->ioerr, sizeof c->ioerr, "the server sent a line longer than %lu bytes",
                 (unsigned long)sizeof c->in);
        return -1;
    }
    for (;;) {
        long n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
            if (r <= 0) {
                if (tls_wait(c, r, deadline))
                    return -1;
                continue;
            }
            n = r;
        } else {
            n = ism_sock_recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
            if (n == ISM_IO_AGAIN) {
                if (wait_fd(c, 0, deadline))
                    return -1;
                continue;
            }
            if (n <= 0) {
                snprintf(c->ioerr, sizeof c->ioerr, "the server closed the connection");
                return -1;
            }
        }
        c->in_len += (size_t)n;
        return 0;
    }
}

/* One reply, multi-line or not (RFC 5321 4.2.1). */
static int read_reply(sess *c, int step_ms, reply *r)
{
    int64_t deadline = ism_time_mono_ms() + step_ms;
    size_t tl = 0;
    memset(r, 0, sizeof *r);
    for (;;) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (recv_more(c, deadline))
                return -1;
            continue;
        }
        size_t len = (size_t)(nl - c->in), used = len + 1;
        if (len > 0 && c->in[len - 1] == '\r')
            len--;
        char line[1024];
        size_t k = 0;
        for (size_t i = 0; i < len && k + 1 < sizeof line; i++) {
            unsigned char ch = (unsigned char)c->in[i];
            line[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        line[k] = '\0';
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (k < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
            !isdigit((unsigned char)line[2]) || (line[3] != '\0' && line[3] != ' ' && line[3] != '-')) {
            snprintf(c->ioerr, sizeof c->ioerr, "the server's reply is not SMTP: \"%.80s\"", line);
            return -1;
        }
        int code = atoi(line);
        if (!r->code) {
            r->code = code;
            snprintf(r->first, sizeof r->first, "%s", line);
        }
        const char *text = line[3] ? line + 4 : "";
        tl += (size_t)snprintf(r->lines + tl, tl < sizeof r->lines ? sizeof r->lines - tl : 0, "%s\n", text);
        if (tl >= sizeof r->lines)
            tl = sizeof r->lines - 1;
        if (line[3] != '-')
            return 0;
    }
}

static int command(sess *c, int step_ms, reply *r, const char *fmt, const char *arg)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, fmt, arg);
    if (send_all(c, cmd, strlen(cmd), step_ms))
        return -1;
    return read_reply(c, step_ms, r);
}

static void parse_ehlo(const reply *r, extensions *x)
{
    memset(x, 0, sizeof *x);
    const char *p = strchr(r->lines, '\n'); /* the first line is the server's name */
    while (p && *++p) {
        char kw[64];
        size_t n = strcspn(p, " \n");
        snprintf(kw, sizeof kw, "%.*s", (int)(n < 63 ? n : 63), p);
        for (char *k = kw; *k; k++)
            *k = (char)toupper((unsigned char)*k);
        if (strcmp(kw, "STARTTLS") == 0)
            x->starttls = 1;
        else if (strcmp(kw, "PIPELINING") == 0)
            x->pipelining = 1;
        else if (strcmp(kw, "8BITMIME") == 0)
            x->eightbit = 1;
        else if (strcmp(kw, "SIZE") == 0) {
            x->size_offered = 1;
            x->size_limit = p[n] == ' ' ? strtoul(p + n + 1, NULL, 10) : 0;
        }
        p = strchr(p, '\n');
    }
}

/* EHLO, or HELO when EHLO is refused (RFC 5321 4.1.4). */
static int hello(sess *c, extensions *x, reply *r)
{
    if (command(c, tmo(c, T_EHLO), r, "EHLO %s\r\n", c->o->helo_name))
        return -1;
    if (r->code / 100 == 2) {
        parse_ehlo(r, x);
        return 0;
    }
    if (r->code / 100 != 5)
        return 0;
    memset(x, 0, sizeof *x);
    return command(c, tmo(c, T_EHLO), r, "HELO %s\r\n", c->o->helo_name);
}

/* ---- TLS ---- */

static void cert_names(X509 *cert, char *out, size_t outsz)
{
    size_t k = 0;
    out[0] = '\0';
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int dl = ASN1_STRING_length(g->d.dNSName);
        if (k < outsz)
            k += (size_t)snprintf(out + k, outsz - k, "%s%.*s", k ? ", " : "", dl, (const char *)d);
    }
    GENERAL_NAMES_free(names);
    if (!out[0]) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
            snprintf(out, outsz, "%s", cn);
    }
}

/* Runs the handshake and fills info; -1 when it failed. */
static int start_tls(sess *c)
{
    const ism_smtpc_opts *o = c->o;
    ism_smtpc_info *info = c->info;
    c->ssl = SSL_new(o->ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, (int)c->fd)) {
        snprintf(c->ioerr, sizeof c->ioerr, "cannot start TLS (out of memory)");
        return -1;
    }
    int host_is_ip = ism_smtpc_is_ip(o->host);
    if (o->sni && !host_is_ip)
        SSL_set_tlsext_host_name(c->ssl, o->host);
    /* The names a verified certificate may carry: the next hop's, or the
     * destination domain's. The check runs in every mode so that the log
     * can always say whether the certificate would have passed. */
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!host_is_ip)
        X509_VERIFY_PARAM_set1_host(param, o->host, 0);
    if (o->domain && *o->domain && (host_is_ip || strcmp(o->domain, o->host) != 0))
        (host_is_ip ? X509_VERIFY_PARAM_set1_host : X509_VERIFY_PARAM_add1_host)(param, o->domain, 0);
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL); /* decided below, after the handshake, with the whole story */
    SSL_set_connect_state(c->ssl);
    int64_t deadline = ism_time_mono_ms() + tmo(c, T_TLS);
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1)
            break;
        if (tls_wait(c, r, deadline))
            return -1;
    }
    info->tls = 1;
    snprintf(info->tls_version, sizeof info->tls_version, "%s", SSL_get_version(c->ssl));
    snprintf(info->cipher, sizeof info->cipher, "%s", SSL_get_cipher_name(c->ssl));
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    long vr = SSL_get_verify_result(c->ssl);
    if (cert) {
        X509_NAME_oneline(X509_get_subject_name(cert), info->peer_subject, sizeof info->peer_subject);
        cert_names(cert, info->peer_names, sizeof info->peer_names);
    } else {
        snprintf(info->peer_subject, sizeof info->peer_subject, "(no certificate)");
    }
    info->verified = cert && vr == X509_V_OK;
    if (info->verified) {
        const char *peer = SSL_get0_peername(c->ssl);
        snprintf(info->verify, sizeof info->verify, "ok (matched %s)", peer ? peer : o->host);
    } else if (!cert) {
        snprintf(info->verify, sizeof info->verify, "failed: the server sent no certificate");
    } else if (vr == X509_V_ERR_HOSTNAME_MISMATCH) {
        char want[600] = "";
        if (!host_is_ip)
            snprintf(want, sizeof want, "%s", o->host);
        if (o->domain && *o->domain && strcmp(o->domain, o->host) != 0)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", want[0] ? " or " : "", o->domain);
        snprintf(info->verify, sizeof info->verify, "failed: the certificate names %s, not %s",
                 info->peer_names[0] ? info->peer_names : "no host", want);
    } else {
        snprintf(info->verify, sizeof info->verify, "failed: %s", X509_verify_cert_error_string(vr));
    }
    X509_free(cert);
    return 0;
}

/* ---- the transaction ---- */

static void set_all(ism_rcpt_result *res, char (*reasons)[ISM_SMTPC_REASON], const int *open, size_t n,
                    ism_rcpt_result result, const char *why)
{
    for (size_t i = 0; i < n; i++)
        if (open[i]) {
            res[i] = result;
            snprintf(reasons[i], ISM_SMTPC_REASON, "%s", why);
        }
}

/* A reply's result: 2xx ok (-1 here), 5xx fail, anything else defer. */
static ism_rcpt_result reply_result(const reply *r)
{
    return r->code / 100 == 5 ? ISM_RCPT_FAIL : ISM_RCPT_DEFER;
}

/* The server's reply as a reason: "550 5.1.1 no such user (RCPT TO at host[addr]:port)". */
static void reply_reason(const sess *c, const reply *r, const char *step, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s (in reply to %s, %s)", r->first, step, c->where);
}

/* The message with dot-stuffing and CRLF line ends, and the final dot. */
static void dot_stuff(const char *data, size_t len, ism_buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) : len, l = end - i;
        if (l > 0 && data[end - 1] == '\r')
            l--;
        if (data[i] == '.')
            ism_buf_add(out, ".", 1);
        ism_buf_add(out, data + i, l);
        ism_buf_add(out, "\r\n", 2);
        i = nl ? end + 1 : len;
    }
    ism_buf_add(out, ".\r\n", 3);
}

static int has_8bit(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] & 0x80)
            return 1;
    return 0;
}

/* MAIL, RCPT, DATA and the message. Returns 0 when every recipient got a
 * result, -1 when the connection failed (open recipients are deferred by
 * the caller with c->ioerr). */
static int transaction(sess *c, const extensions *x, const char *sender, char *const *rcpts, size_t n,
                       const char *data, size_t len, ism_rcpt_result *res, char (*reasons)[ISM_SMTPC_REASON], int *open)
{
    char why[ISM_SMTPC_REASON], mail[600];
    reply r;
    if (x->size_offered && x->size_limit > 0 && len > x->size_limit) {
        snprintf(why, sizeof why, "5.3.4 the message (%lu bytes) is larger than %s accepts (%lu bytes)",
                 (unsigned long)len, c->where, x->size_limit);
        set_all(res, reasons, open, n, ISM_RCPT_FAIL, why);
        return 0;
    }
    int n8 = x->eightbit && has_8bit(data, len);
    char params[80] = "";
    if (x->size_offered)
        snprintf(params, sizeof params, " SIZE=%lu", (unsigned long)len);
    if (n8)
        snprintf(params + strlen(params), sizeof params - strlen(params), " BODY=8BITMIME");
    snprintf(mail, sizeof mail, "MAIL FROM:<%s>%s\r\n", sender, params);
    size_t accepted = 0;
    int mail_ok;
    if (x->pipelining) {
        /* RFC 2920: MAIL, every RCPT and DATA in one go, then the replies in order. */
        ism_buf b = {0};
        ism_buf_add(&b, mail, strlen(mail));
        for (size_t i = 0; i < n; i++)
            ism_buf_printf(&b, "RCPT TO:<%s>\r\n", rcpts[i]);
        ism_buf_add(&b, "DATA\r\n", 6);
        int bad = send_all(c, b.p, b.len, tmo(c, T_MAIL));
        ism_buf_free(&b);
        if (bad || read_reply(c, tmo(c, T_MAIL), &r))
            return -1;
        mail_ok = r.code / 100 == 2;
        if (!mail_ok) {
            reply_reason(c, &r, "MAIL FROM", why, sizeof why);
            set_all(res, reasons, open, n, reply_result(&r), why);
        }
        for (size_t i = 0; i < n; i++) {
            reply rr;
            if (read_reply(c, tmo(c, T_RCPT), &rr))
                return -1;
            if (!mail_ok)
                continue;
            if (rr.code / 100 == 2) {
                accepted++;
                continue;
            }
            res[i] = reply_result(&rr);
            reply_reason(c, &rr, "RCPT TO", reasons[i], ISM_SMTPC_REASON);
            open[i] = 0;
        }
        if (read_reply(c, tmo(c, T_DATA), &r))
            return -1;
        if (r.code == 354 && (!mail_ok || accepted == 0)) {
            /* The server took DATA although nobody is left: end it empty. */
            reply ignored;
            if (send_all(c, ".\r\n", 3, tmo(c, T_BLOCK)) || read_reply(c, tmo(c, T_DOT), &ignored))
                return -1;
        }
        if (!mail_ok)
            return 0;
    } else {
        if (send_all(c, mail, strlen(mail), tmo(c, T_MAIL)) || read_reply(c, tmo(c, T_MAIL), &r))
            return -1;
        if (r.code / 100 != 2) {
            reply_reason(c, &r, "MAIL FROM", why, sizeof why);
            set_all(res, reasons, open, n, reply_result(&r), why);
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (command(c, tmo(c, T_RCPT), &r, "RCPT TO:<%s>\r\n", rcpts[i]))
                return -1;
            if (r.code / 100 == 2) {
                accepted++;
                continue;
            }
            res[i] = reply_result(&r);
            reply_reason(c, &r, "RCPT TO", reasons[i], ISM_SMTPC_REASON);
            open[i] = 0;
        }
        if (accepted == 0)
            return 0;
        if (command(c, tmo(c, T_DATA), &r, "%sDATA\r\n", ""))
            return -1;
    }
    if (accepted == 0)
        return 0;
    if (r.code != 354) {
        reply_reason(c, &r, "DATA", why, sizeof why);
        set_all(res, reasons, open, n, reply_result(&r), why);
        return 0;
    }
    ism_buf body = {0};
    dot_stuff(data, len, &body);
    int bad = send_all(c, body.p, body.len, tmo(c, T_BLOCK));
    ism_buf_free(&body);
    if (bad || read_reply(c, tmo(c, T_DOT), &r))
        return -1;
    /* Only now, with the 250 to the final dot, is the message theirs. */
    if (r.code / 100 == 2) {
        snprintf(why, sizeof why, "%s (%s)", r.first, c->where);
        set_all(res, reasons, open, n, ISM_RCPT_SENT, why);
    } else {
        reply_reason(c, &r, "the end of the message", why, sizeof why);
        set_all(res, reasons, open, n, reply_result(&r), why);
    }
    memset(open, 0, n * sizeof *open);
    return 0;
}

static void session_close(sess *c, int polite)
{
    if (polite && !c->cancelled) {
        reply r;
        /* best effort: the message is already decided */
        if (send_all(c, "QUIT\r\n", 6, T_QUIT) == 0)
            read_reply(c, T_QUIT, &r);
    }
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    ism_sock_close(c->fd);
    c->fd = ISM_BAD_SOCK;
}

ism_smtpc_status ism_smtpc_send(const ism_smtpc_opts *o, const char *sender, char *const *rcpts, size_t n,
                                const char *data, size_t len, ism_rcpt_result *res, char (*reasons)[ISM_SMTPC_REASON],
                                ism_smtpc_info *info)
{
    sess c;
    ism_err err = {0};
    reply r;
    extensions x;
    memset(&c, 0, sizeof c);
    memset(info, 0, sizeof *info);
    c.o = o;
    c.info = info;
    c.fd = ISM_BAD_SOCK;
    snprintf(c.where, sizeof c.where, "%s[%s]:%d", o->host, o->addr, o->port);
    for (size_t i = 0; i < n; i++) {
        res[i] = ISM_RCPT_DEFER;
        reasons[i][0] = '\0';
    }
    int *open = calloc(n ? n : 1, sizeof *open);
    if (!open) {
        snprintf(info->reason, sizeof info->reason, "4.3.0 out of memory");
        return ISM_SMTPC_NEXT_HOST;
    }
    for (size_t i = 0; i < n; i++)
        open[i] = 1;
    ism_smtpc_status st = ISM_SMTPC_NEXT_HOST;
    const char *src = o->policy_source ? o->policy_source : "the TLS policy";

    /* Connect. */
    if (ism_sock_connect_start(o->addr, o->port, &c.fd, &err)) {
        snprintf(info->reason, sizeof info->reason, "4.4.1 cannot connect to %s: %s", c.where, err.msg);
        goto out;
    }
    int64_t deadline = ism_time_mono_ms() + tmo(&c, T_CONNECT);
    for (;;) {
        if (o->cancelled && o->cancelled(o->cancel_arg)) {
            c.cancelled = 1;
            goto out;
        }
        int w = ism_sock_connect_wait(c.fd, SLICE_MS, &err);
        if (w == 0)
            break;
        if (w == ISM_IO_AGAIN && ism_time_mono_ms() < deadline)
            continue;
        snprintf(info->reason, sizeof info->reason, "4.4.1 cannot connect to %s: %s", c.where,
                 w == ISM_IO_AGAIN ? "no answer (timed out)" : err.msg);
        goto out;
    }
    info->connected = 1;

    /* Greeting and EHLO. */
    if (read_reply(&c, tmo(&c, T_GREETING), &r))
        goto io_failed;
    if (r.code / 100 != 2) {
        snprintf(info->reason, sizeof info->reason, "%s (greeting of %s)", r.first, c.where);
        session_close(&c, 1);
        goto out;
    }
    if (hello(&c, &x, &r))
        goto io_failed;
    if (r.code / 100 != 2) {
        snprintf(info->reason, sizeof info->reason, "%s (in reply to EHLO/HELO, %s)", r.first, c.where);
        session_close(&c, 1);
        goto out;
    }
    info->starttls_offered = x.starttls;

    /* STARTTLS, as the policy says. */
    int tls_required = o->policy == ISM_TLS_POLICY_ENCRYPT || o->policy == ISM_TLS_POLICY_VERIFY;
    if (o->policy != ISM_TLS_POLICY_NONE && x.starttls && !o->ctx && tls_required) {
        snprintf(info->reason, sizeof info->reason, "4.7.5 TLS is required (%s) but cannot be set up: %s",
                 src, o->ctx_error ? o->ctx_error : "no TLS context");
        session_close(&c, 1);
        goto out;
    }
    if (o->policy != ISM_TLS_POLICY_NONE && x.starttls && o->ctx) {
        if (command(&c, tmo(&c, T_EHLO), &r, "%sSTARTTLS\r\n", ""))
            goto io_failed;
        if (r.code != 220) {
            if (tls_required) {
                snprintf(info->reason, sizeof info->reason,
                         "4.7.5 TLS is required (%s) but %s refused STARTTLS: %s", src, c.where, r.first);
                session_close(&c, 1);
                goto out;
            }
            /* may: go on in plaintext on this connection */
        } else {
            c.in_len = 0; /* RFC 3207 4.2: nothing read before the handshake counts */
            if (start_tls(&c)) {
                if (c.cancelled)
                    goto out;
                snprintf(info->reason, sizeof info->reason, "4.7.5 TLS handshake with %s failed: %s", c.where, c.ioerr);
                st = ISM_SMTPC_TLS_FAILED;
                session_close(&c, 0);
                goto out;
            }
            if (o->policy == ISM_TLS_POLICY_VERIFY && !info->verified) {
                snprintf(info->reason, sizeof info->reason,
                         "4.7.5 certificate of %s not accepted (%s): %s; nothing was sent", c.where, src,
                         info->verify);
                session_close(&c, 1);
                goto out;
            }
            if (hello(&c, &x, &r))
                goto io_failed;
            if (r.code / 100 != 2) {
                snprintf(info->reason, sizeof info->reason, "%s (in reply to EHLO after STARTTLS, %s)", r.first,
                         c.where);
                session_close(&c, 1);
                goto out;
            }
        }
    } else if (tls_required) {
        snprintf(info->reason, sizeof info->reason,
                 "4.7.5 TLS is required (%s) but %s does not offer STARTTLS; nothing was sent in plaintext",
                 src, c.where);
        session_close(&c, 1);
        goto out;
    }

    /* The transaction. From here on the recipients have results. */
    st = ISM_SMTPC_DONE;
    if (transaction(&c, &x, sender, rcpts, n, data, len, res, reasons, open) == 0) {
        session_close(&c, 1);
        goto out;
    }
io_failed:
    if (c.cancelled) {
        st = ISM_SMTPC_CANCELLED;
        goto out;
    }
    if (st == ISM_SMTPC_DONE) {
        char why[ISM_SMTPC_REASON];
        snprintf(why, sizeof why, "4.4.2 connection with %s broken during the transaction: %s", c.where, c.ioerr);
        set_all(res, reasons, open, n, ISM_RCPT_DEFER, why);
    } else {
        snprintf(info->reason, sizeof info->reason, "4.4.2 connection with %s broken: %s", c.where, c.ioerr);
    }
out:
    if (c.cancelled)
        st = ISM_SMTPC_CANCELLED;
    if (c.fd != ISM_BAD_SOCK)
        session_close(&c, 0);
    free(open);
    return st;
}
