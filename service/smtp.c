/* smtp: SMTP server session state machine (see smtp.h).
 *
 * This first version speaks the session layer: greeting, EHLO/HELO, STARTTLS,
 * NOOP, RSET, HELP, QUIT. Mail transactions (MAIL, RCPT, DATA) are answered
 * with 502 until the mail store exists. */
#include "smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void smtp_begin(void *st, const ism_proto_env *env, ism_buf *out)
{
    (void)st;
    ism_buf_printf(out, "220 %s ESMTP ISMail ready\r\n", env->hostname);
}

static void smtp_tls_started(void *st, const ism_proto_env *env)
{
    ism_smtp *s = st;
    (void)env;
    s->state = ISM_SMTP_S_FRESH;
    s->client[0] = '\0';
}

static void smtp_too_long(void *st, const ism_proto_env *env, ism_buf *out)
{
    (void)st;
    (void)env;
    ism_buf_printf(out, "500 5.5.2 Line too long (at most %d characters)\r\n", ISM_SMTP_MAX_COMMAND - 2);
}

static void smtp_end(void *st)
{
    (void)st;
}

/* Case-insensitive match of the verb at the start of line: the verb must be
 * followed by the end of the line or a space. */
static int verb_is(const char *line, size_t len, const char *verb)
{
    size_t n = strlen(verb);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)line[i]) != verb[i])
            return 0;
    return len == n || line[n] == ' ';
}

static void copy_arg(char *dst, size_t dstsz, const char *line, size_t len, size_t verb_len)
{
    size_t i = verb_len;
    while (i < len && line[i] == ' ')
        i++;
    size_t n = len - i;
    if (n >= dstsz)
        n = dstsz - 1;
    for (size_t k = 0; k < n; k++)
        dst[k] = isprint((unsigned char)line[i + k]) ? line[i + k] : '?';
    dst[n] = '\0';
}

static ism_proto_action smtp_line(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out)
{
    ism_smtp *s = st;
    int may_starttls = env->starttls_offered && !env->tls_active;
    if (verb_is(line, len, "EHLO") || verb_is(line, len, "HELO")) {
        int ehlo = toupper((unsigned char)line[0]) == 'E';
        copy_arg(s->client, sizeof s->client, line, len, 4);
        if (!s->client[0]) {
            ism_buf_printf(out, "501 5.5.4 %s needs your host name\r\n", ehlo ? "EHLO" : "HELO");
            return ISM_PROTO_CONTINUE;
        }
        s->state = ISM_SMTP_S_GREETED;
        if (!ehlo) {
            ism_buf_printf(out, "250 %s\r\n", env->hostname);
            return ISM_PROTO_CONTINUE;
        }
        ism_buf_printf(out, "250-%s greets %s\r\n", env->hostname, s->client);
        if (may_starttls)
            ism_buf_printf(out, "250-STARTTLS\r\n");
        ism_buf_printf(out, "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (verb_is(line, len, "STARTTLS")) {
        if (env->tls_active)
            ism_buf_printf(out, "503 5.5.1 TLS is already active\r\n");
        else if (!may_starttls)
            ism_buf_printf(out, "502 5.5.1 STARTTLS is not offered on this server\r\n");
        else if (len != 8)
            ism_buf_printf(out, "501 5.5.4 STARTTLS takes no parameters\r\n");
        else {
            ism_buf_printf(out, "220 2.0.0 Ready to start TLS\r\n");
            return ISM_PROTO_STARTTLS;
        }
        return ISM_PROTO_CONTINUE;
    }
    if (verb_is(line, len, "NOOP")) {
        ism_buf_printf(out, "250 2.0.0 OK\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (verb_is(line, len, "RSET")) {
        ism_buf_printf(out, "250 2.0.0 OK\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (verb_is(line, len, "HELP")) {
        ism_buf_printf(out, "214 2.0.0 Commands: EHLO HELO STARTTLS NOOP RSET HELP QUIT\r\n");
        return ISM_PROTO_CONTINUE;
    }
    if (verb_is(line, len, "QUIT")) {
        ism_buf_printf(out, "221 2.0.0 %s closing connection\r\n", env->hostname);
        return ISM_PROTO_CLOSE;
    }
    if (verb_is(line, len, "MAIL") || verb_is(line, len, "RCPT") || verb_is(line, len, "DATA")) {
        ism_buf_printf(out, "502 5.5.1 This server does not accept mail yet\r\n");
        return ISM_PROTO_CONTINUE;
    }
    ism_buf_printf(out, "500 5.5.2 Command not recognized\r\n");
    return ISM_PROTO_CONTINUE;
}

const ism_proto_ops ism_proto_smtp = {
    "smtp", ISM_SMTP_MAX_COMMAND, sizeof(ism_smtp), smtp_begin, smtp_line, smtp_tls_started, smtp_too_long, smtp_end,
};
