/* http: the small web server session (HTTP/1.1, RFC 9110 and RFC 9112) behind
 * the ism_proto_ops contract (proto.h), as an explicit state machine: request
 * line, then header lines until the empty line, then the response.
 *
 * It serves what a mail server's web port needs and nothing more: GET and
 * HEAD of a status page (/ in HTML, /status in plain text) and of the files under the web root
 * at /.well-known/ (ACME http-01 challenges, MTA-STS policies, autoconfig).
 * The status page (version, host name, every port) is for the machine's own
 * administrator: it is served to loopback clients only, and to everyone
 * else it does not exist (404).
 * On plain HTTP a request for one of the web SSL domains is redirected to
 * HTTPS, except the ACME challenges, which must stay reachable over HTTP.
 *
 * Requests have no bodies here: a request announcing one is answered and
 * the connection closed, since its bytes cannot be told from the next
 * request in a line-based session. */
#include "ism_time.h"
#include "ism_str.h"
#include "proto.h"

#include "ism_platform.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_LINE 8192
#define HTTP_MAX_HEADER_LINES 100
#define HTTP_MAX_HEADER_BYTES 32768
/* Requests answered on one connection before it is closed. */
#define HTTP_MAX_REQUESTS 100
/* Files served from the web root are small (tokens, policies). */
#define HTTP_MAX_FILE (1024 * 1024)
#define HTTP_HSTS "max-age=31536000"
#define HTTP_ACME_PREFIX "/.well-known/acme-challenge/"
#define HTTP_WELL_KNOWN "/.well-known/"

typedef enum {
    HTTP_S_REQUEST_LINE, /* waiting for a request line (empty lines before it are skipped) */
    HTTP_S_HEADERS,      /* reading header lines until the empty line */
    HTTP_S_DRAIN         /* an error was answered with "Connection: close": close on the next line */
} http_state;

typedef enum { HTTP_M_GET, HTTP_M_HEAD, HTTP_M_OTHER } http_method;

typedef struct {
    http_state state;
    unsigned requests;       /* answered on this connection */
    /* the request being read: */
    http_method method;
    int minor;               /* HTTP/1.<minor> */
    int bad;                 /* a malformed header was seen: answer 400 */
    int too_big;             /* too many header lines or bytes: answer 431 */
    int has_host;
    int conn_close;          /* Connection: close */
    int conn_keep_alive;     /* Connection: keep-alive (HTTP/1.0) */
    int has_body;            /* Content-Length > 0 or Transfer-Encoding */
    size_t header_lines, header_bytes;
    char host[256];          /* Host without the port, lower case */
    char target[HTTP_MAX_LINE];
} http;

typedef struct {
    int code;
    const char *content_type;
    const char *body;        /* NULL: none */
    size_t body_len;
    const char *location;    /* 301 */
    int allow;               /* 405: send Allow */
} http_response;

/* ---- small helpers ---- */

static void reset_request(http *s)
{
    s->state = HTTP_S_REQUEST_LINE;
    s->method = HTTP_M_OTHER;
    s->minor = 1;
    s->bad = s->too_big = s->has_host = s->conn_close = s->conn_keep_alive = s->has_body = 0;
    s->header_lines = s->header_bytes = 0;
    s->host[0] = '\0';
    s->target[0] = '\0';
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* RFC 9110 5.6.7 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static void http_date(int64_t ms, char *out, size_t outsz)
{
    ism_utc t;
    ism_utc_from_ms(ms, &t);
    snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT", ism_wday_abbr[t.wday], t.day,
             ism_month_abbr[t.month - 1], t.year, t.hour, t.min, t.sec);
}

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the response ---- */

/* Writes the whole response; returns the action (close or keep going). */
static ism_proto_action respond(http *s, const ism_proto_env *env, const http_response *r, int force_close,
                                ism_buf *out)
{
    char date[64];
    http_date(ism_time_wall_ms(), date, sizeof date);
    s->requests++;
    int keep = !force_close && !s->conn_close && !s->has_body && s->requests < HTTP_MAX_REQUESTS &&
               (s->minor >= 1 || s->conn_keep_alive);
    ism_buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: ISMail\r\n", r->code, reason(r->code), date);
    if (r->location)
        ism_buf_printf(out, "Location: %s\r\n", r->location);
    if (r->allow)
        ism_buf_printf(out, "Allow: GET, HEAD\r\n");
    if (env->tls_active)
        ism_buf_printf(out, "Strict-Transport-Security: %s\r\n", HTTP_HSTS);
    ism_buf_printf(out, "Content-Type: %s\r\nContent-Length: %lu\r\nX-Content-Type-Options: nosniff\r\n",
                   r->content_type, (unsigned long)r->body_len);
    if (!keep)
        ism_buf_printf(out, "Connection: close\r\n");
    else if (s->minor == 0)
        ism_buf_printf(out, "Connection: keep-alive\r\n");
    ism_buf_add(out, "\r\n", 2);
    if (s->method != HTTP_M_HEAD && r->body)
        ism_buf_add(out, r->body, r->body_len);
    reset_request(s);
    if (!keep)
        return ISM_PROTO_CLOSE;
    return ISM_PROTO_CONTINUE;
}

/* An error with a one-line plain-text body saying what is wrong. */
static ism_proto_action respond_error(http *s, const ism_proto_env *env, int code, const char *why, int force_close,
                                      ism_buf *out)
{
    char body[512];
    int n = snprintf(body, sizeof body, "%d %s: %s\n", code, reason(code), why);
    http_response r = {code, "text/plain; charset=utf-8", body, (size_t)n, NULL, code == 405};
    return respond(s, env, &r, force_close, out);
}

/* Appends text with the HTML special characters escaped. */
static void add_html_escaped(ism_buf *b, const char *t)
{
    for (; *t; t++) {
        switch (*t) {
        case '<': ism_buf_add(b, "&lt;", 4); break;
        case '>': ism_buf_add(b, "&gt;", 4); break;
        case '&': ism_buf_add(b, "&amp;", 5); break;
        case '"': ism_buf_add(b, "&quot;", 6); break;
        default: ism_buf_add(b, t, 1);
        }
    }
}

/* 1 when addr, a client address as ism_sock_accept_peer writes it, is this
 * machine's loopback: 127.0.0.0/8, ::1, or such an IPv4 address mapped into
 * IPv6 (::ffff:127.0.0.1). Anything else, a missing address included, is 0. */
static int loopback_peer(const char *addr)
{
    static const char mapped[] = "::ffff:";
    if (!addr)
        return 0;
    if (strcmp(addr, "::1") == 0)
        return 1;
    size_t k = 0;
    while (k < sizeof mapped - 1 && tolower((unsigned char)addr[k]) == mapped[k])
        k++;
    if (k == sizeof mapped - 1)
        addr += k;
    /* dotted quad: four decimal numbers 0-255, the first 127 */
    for (int part = 0; part < 4; part++) {
        int v = 0, digits = 0;
        while (isdigit((unsigned char)*addr) && digits < 4) {
            v = v * 10 + (*addr++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255 || (part == 0 && v != 127))
            return 0;
        if (part < 3 && *addr++ != '.')
            return 0;
    }
    return *addr == '\0';
}

static ism_proto_action status_page(http *s, const ism_proto_env *env, int html, ism_buf *out)
{
    ism_buf body = {0};
    const char *text = env->status_text ? env->status_text : "";
    if (html) {
        ism_buf_printf(&body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ISMail on ");
        add_html_escaped(&body, env->hostname ? env->hostname : "");
        ism_buf_printf(&body, "</title></head>\n<body><h1>ISMail on ");
        add_html_escaped(&body, env->hostname ? env->hostname : "");
        ism_buf_printf(&body, "</h1>\n<pre>");
        add_html_escaped(&body, text);
        ism_buf_printf(&body, "</pre></body></html>\n");
    } else {
        ism_buf_printf(&body, "%s%s", text, text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "");
    }
    http_response r = {200, html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8", body.p, body.len, NULL, 0};
    ism_proto_action a = respond(s, env, &r, 0, out);
    ism_buf_free(&body);
    return a;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes the path part of the target (up to '?') into out.
 * Returns -1 on a malformed escape or a decoded NUL. */
static int decode_path(const char *target, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
        char c = *p;
        if (c == '%') {
            int h = hexval(p[1]), l = h >= 0 ? hexval(p[2]) : -1;
            if (l < 0)
                return -1;
            c = (char)(h * 16 + l);
            p += 2;
            if (c == '\0')
                return -1;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Names that open a device instead of a file on Windows, whatever the
 * extension ("nul.txt"); refused everywhere so both platforms agree. */
static int is_device_name(const char *seg, size_t len)
{
    static const char *const dev[] = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"};
    size_t base = 0;
    while (base < len && seg[base] != '.')
        base++;
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (ism_str_ieqn(seg, base, dev[i]))
            return 1;
    if (base == 4 && (ism_str_ieqn(seg, 3, "COM") || ism_str_ieqn(seg, 3, "LPT")) && isdigit((unsigned char)seg[3]))
        return 1;
    return 0;
}

/* Checks the part of a decoded path below /.well-known/: relative, segments
 * that are not empty, "." or "..", no backslash, colon or control character
 * (Windows would read them as separators, drives or streams). */
static const char *check_relative(const char *rel)
{
    if (!*rel)
        return "no file named";
    const char *seg = rel;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 && !end && seg != rel)
            return NULL; /* a trailing slash: a folder, answered 404 */
        if (len == 0)
            return "empty path segments (\"//\") and absolute paths are not allowed";
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return "\".\" and \"..\" are not allowed in paths";
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c == '\\')
                return "backslashes are not allowed in paths";
            if (c == ':')
                return "colons are not allowed in paths";
            if (c < 0x20 || c == 0x7f)
                return "control characters are not allowed in paths";
        }
        if (is_device_name(seg, len))
            return "device names are not allowed in paths";
        if (!end)
            return NULL;
        seg = end + 1;
    }
}

static ism_proto_action well_known(http *s, const ism_proto_env *env, const char *path, ism_buf *out)
{
    const char *rel = path + strlen(HTTP_WELL_KNOWN);
    const char *why = check_relative(rel);
    if (why)
        return respond_error(s, env, rel[0] ? 400 : 404, rel[0] ? why : "nothing is served here", 0, out);
    if (!env->web_root || !env->web_root[0] || rel[strlen(rel) - 1] == '/')
        return respond_error(s, env, 404, "no such file", 0, out);
    size_t n = strlen(env->web_root) + 1 + strlen(rel) + 1;
    char *file = malloc(n);
    if (!file)
        abort();
    snprintf(file, n, "%s/%s", env->web_root, rel);
    char *data = NULL;
    size_t len = 0;
    ism_err err;
    ism_proto_action a;
    if (!ism_fs_exists(file)) {
        a = respond_error(s, env, 404, "no such file", 0, out);
    } else if (ism_fs_read(file, HTTP_MAX_FILE, &data, &len, &err)) {
        a = respond_error(s, env, 403, "this file cannot be served", 0, out);
    } else {
        size_t rl = strlen(rel);
        int json = rl >= 5 && ism_str_ieqn(rel + rl - 5, 5, ".json");
        http_response r = {200, json ? "application/json" : "text/plain", data, len, NULL, 0};
        a = respond(s, env, &r, 0, out);
    }
    free(data);
    free(file);
    return a;
}

/* The web SSL domain the Host names, or NULL. */
static const ism_web_domain *web_domain(const ism_proto_env *env, const char *host)
{
    for (size_t i = 0; i < env->n_web_domains; i++)
        if (ism_str_ieq(host, env->web_domains[i].domain))
            return &env->web_domains[i];
    return NULL;
}

static ism_proto_action dispatch(http *s, const ism_proto_env *env, ism_buf *out)
{
    if (s->too_big)
        return respond_error(s, env, 431, "too many or too long header fields", 1, out);
    if (s->bad)
        return respond_error(s, env, 400, "malformed header field", 1, out);
    if (s->minor >= 1 && !s->has_host)
        return respond_error(s, env, 400, "HTTP/1.1 requests need a Host header", 1, out);
    if (s->method == HTTP_M_OTHER)
        return respond_error(s, env, 405, "this server answers GET and HEAD only", 0, out);
    char path[HTTP_MAX_LINE];
    if (decode_path(s->target, path, sizeof path))
        return respond_error(s, env, 400, "malformed percent-encoding in the path", 0, out);
    if (!env->tls_active && s->host[0] && !has_prefix(path, HTTP_ACME_PREFIX)) {
        const ism_web_domain *d = web_domain(env, s->host);
        if (d) {
            char port[16] = "";
            if (d->port && d->port != 443)
                snprintf(port, sizeof port, ":%d", d->port);
            size_t n = strlen(s->host) + strlen(port) + strlen(s->target) + 16;
            char *loc = malloc(n);
            if (!loc)
                abort();
            snprintf(loc, n, "https://%s%s%s", s->host, port, s->target);
            char body[] = "301 Moved Permanently: this site is served over HTTPS\n";
            http_response r = {301, "text/plain; charset=utf-8", body, sizeof body - 1, loc, 0};
            ism_proto_action a = respond(s, env, &r, 0, out);
            free(loc);
            return a;
        }
    }
    int status = strcmp(path, "/") == 0 || strcmp(path, "/status") == 0;
    if (status && loopback_peer(env->peer_addr))
        return status_page(s, env, path[1] == '\0', out);
    if (status)
        return respond_error(s, env, 404, "no such page", 0, out);
    if (has_prefix(path, HTTP_WELL_KNOWN))
        return well_known(s, env, path, out);
    return respond_error(s, env, 404, "no such page", 0, out);
}

/* ---- request line and headers ---- */

static ism_proto_action request_line(http *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    if (len == 0)
        return ISM_PROTO_CONTINUE; /* RFC 9112 2.2: ignore empty lines before a request */
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
        return respond_error(s, env, 400, "the request line must be \"METHOD target HTTP/1.1\"", 1, out);
    for (const char *p = line; p < sp1; p++)
        if (!is_tchar((unsigned char)*p))
            return respond_error(s, env, 400, "malformed method", 1, out);
    const char *ver = sp2 + 1;
    size_t vlen = len - (size_t)(ver - line);
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) || ver[6] != '.' ||
        !isdigit((unsigned char)ver[7]))
        return respond_error(s, env, 400, "the request line must end with the protocol version, e.g. HTTP/1.1", 1, out);
    if (ver[5] != '1')
        return respond_error(s, env, 505, "this server speaks HTTP/1.0 and HTTP/1.1", 1, out);
    s->minor = ver[7] - '0';
    size_t mlen = (size_t)(sp1 - line);
    s->method = mlen == 3 && !memcmp(line, "GET", 3) ? HTTP_M_GET
                : mlen == 4 && !memcmp(line, "HEAD", 4) ? HTTP_M_HEAD
                                                         : HTTP_M_OTHER;
    const char *t = sp1 + 1;
    size_t tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return respond_error(s, env, 400, "the request target contains spaces or control characters", 1, out);
    /* absolute-form (RFC 9112 3.2.2): keep the path; the authority is the host. */
    if (tlen > 7 && (ism_str_ieqn(t, 7, "http://") || (tlen > 8 && ism_str_ieqn(t, 8, "https://")))) {
        const char *auth = t + (t[4] == ':' ? 7 : 8), *end = t + tlen;
        const char *slash = memchr(auth, '/', (size_t)(end - auth));
        const char *a_end = slash ? slash : end;
        const char *colon = memchr(auth, ':', (size_t)(a_end - auth));
        size_t hlen = (size_t)((colon ? colon : a_end) - auth);
        if (hlen == 0 || hlen >= sizeof s->host)
            return respond_error(s, env, 400, "malformed host in the request target", 1, out);
        for (size_t i = 0; i < hlen; i++)
            s->host[i] = (char)tolower((unsigned char)auth[i]);
        s->host[hlen] = '\0';
        s->has_host = 2; /* the target's authority wins over the Host header */
        if (!slash) {
            strcpy(s->target, "/");
        } else {
            memcpy(s->target, slash, (size_t)(end - slash));
            s->target[end - slash] = '\0';
        }
    } else if (tlen && t[0] == '/') {
        memcpy(s->target, t, tlen);
        s->target[tlen] = '\0';
    } else if (s->method == HTTP_M_OTHER) {
        strcpy(s->target, "/"); /* "OPTIONS *", CONNECT host:port: answered 405 anyway */
    } else {
        return respond_error(s, env, 400, "the request target must be a path starting with \"/\"", 1, out);
    }
    s->state = HTTP_S_HEADERS;
    return ISM_PROTO_CONTINUE;
}

static void trim(const char **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
        (*len)--;
}

static void header_host(http *s, const char *v, size_t vlen)
{
    if (s->has_host == 2)
        return;
    if (s->has_host) {
        s->bad = 1; /* RFC 9112 3.2: more than one Host is a 400 */
        return;
    }
    s->has_host = 1;
    size_t hlen = vlen;
    if (vlen && v[0] == '[') { /* an IPv6 literal: the port follows "]" */
        const char *rb = memchr(v, ']', vlen);
        if (!rb) {
            s->bad = 1;
            return;
        }
        hlen = (size_t)(rb - v) + 1;
    } else {
        const char *colon = memchr(v, ':', vlen);
        if (colon)
            hlen = (size_t)(colon - v);
    }
    if (hlen >= sizeof s->host) {
        s->bad = 1;
        return;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '@' || c == '\\') {
            s->bad = 1;
            return;
        }
        s->host[i] = (char)tolower(c);
    }
    s->host[hlen] = '\0';
}

static void header_connection(http *s, const char *v, size_t vlen)
{
    size_t i = 0;
    while (i < vlen) {
        size_t start = i;
        while (i < vlen && v[i] != ',')
            i++;
        const char *tok = v + start;
        size_t tlen = i - start;
        trim(&tok, &tlen);
        if (ism_str_ieqn(tok, tlen, "close"))
            s->conn_close = 1;
        else if (ism_str_ieqn(tok, tlen, "keep-alive"))
            s->conn_keep_alive = 1;
        i++;
    }
}

static ism_proto_action header_line(http *s, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    if (len == 0)
        return dispatch(s, env, out);
    if (++s->header_lines > HTTP_MAX_HEADER_LINES || (s->header_bytes += len + 2) > HTTP_MAX_HEADER_BYTES) {
        s->too_big = 1;
        return ISM_PROTO_CONTINUE;
    }
    if (line[0] == ' ' || line[0] == '\t') {
        s->bad = 1; /* obsolete line folding: RFC 9112 5.2 allows a 400 */
        return ISM_PROTO_CONTINUE;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) {
        s->bad = 1;
        return ISM_PROTO_CONTINUE;
    }
    for (const char *p = line; p < colon; p++)
        if (!is_tchar((unsigned char)*p)) {
            s->bad = 1; /* includes whitespace before the colon (RFC 9112 5.1) */
            return ISM_PROTO_CONTINUE;
        }
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    trim(&v, &vlen);
    for (size_t i = 0; i < vlen; i++)
        if (v[i] == '\0' || v[i] == '\r') {
            s->bad = 1;
            return ISM_PROTO_CONTINUE;
        }
    if (ism_str_ieqn(line, nlen, "Host"))
        header_host(s, v, vlen);
    else if (ism_str_ieqn(line, nlen, "Connection"))
        header_connection(s, v, vlen);
    else if (ism_str_ieqn(line, nlen, "Transfer-Encoding"))
        s->has_body = 1;
    else if (ism_str_ieqn(line, nlen, "Content-Length")) {
        int zero = vlen > 0;
        for (size_t i = 0; i < vlen; i++) {
            if (!isdigit((unsigned char)v[i]))
                s->bad = 1;
            else if (v[i] != '0')
                zero = 0;
        }
        if (!zero)
            s->has_body = 1;
    }
    return ISM_PROTO_CONTINUE;
}

/* ---- the ops ---- */

static void http_begin(void *st, const ism_proto_env *env, ism_buf *out)
{
    (void)env;
    (void)out; /* the client speaks first */
    reset_request(st);
}

static void http_tls_started(void *st, const ism_proto_env *env)
{
    (void)env;
    reset_request(st); /* HTTP has no STARTTLS; kept for the contract */
}

static void http_too_long(void *st, const ism_proto_env *env, ism_buf *out)
{
    http *s = st;
    if (s->state == HTTP_S_DRAIN)
        return;
    if (s->state == HTTP_S_REQUEST_LINE)
        respond_error(s, env, 414, "the request line is too long", 1, out);
    else
        respond_error(s, env, 431, "a header field is too long", 1, out);
    /* too_long cannot close the connection: the next line does. */
    s->state = HTTP_S_DRAIN;
}

static void http_end(void *st)
{
    (void)st;
}

static ism_proto_action http_line(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    http *s = st;
    switch (s->state) {
    case HTTP_S_REQUEST_LINE:
        return request_line(s, env, line, len, out);
    case HTTP_S_HEADERS:
        return header_line(s, env, line, len, out);
    case HTTP_S_DRAIN:
        break;
    }
    return ISM_PROTO_CLOSE;
}

/* The ports this protocol listens on (see ism_proto_listener). */
static const ism_proto_listener http_listeners[] = {
    {"http", &ism_proto_http, ISM_S_HTTP_PORT, ISM_PROTO_NO_SETTING, 0, 0, 0},
    {"https", &ism_proto_http, ISM_PROTO_NO_SETTING, ISM_PROTO_NO_SETTING, 1, 0, 1},
};

const ism_proto_ops ism_proto_http = {
    "http", HTTP_MAX_LINE, sizeof(http), http_begin, http_line, http_tls_started, http_too_long, http_end, NULL, NULL,
    .label = "HTTP",
    .busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 60\r\n\r\n",
    .listeners = http_listeners,
    .n_listeners = sizeof http_listeners / sizeof http_listeners[0],
};
