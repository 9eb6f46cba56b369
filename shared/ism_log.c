/* ism_log: timestamped log lines (see ism_log.h). Safe to call from several
 * threads: each line is written with one fputs on an unbuffered-per-line stream.
 * Control characters in a message (a client's EHLO name or user name can
 * carry any byte) are written as escapes, so that a line stays one line and
 * cannot move the cursor or recolour the terminal of whoever reads the log. */
#include "ism_log.h"
#include "ism_platform.h"
#include "ism_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static FILE *log_file;
static int log_stderr = 1;
static ism_log_sink_fn log_sink;

void ism_log_set_sink(ism_log_sink_fn sink)
{
    log_sink = sink;
}

void ism_log_open(const char *path, int to_stderr)
{
    log_stderr = to_stderr;
    ism_log_close();
    if (path) {
        log_file = fopen(path, "a");
        if (log_file)
            setvbuf(log_file, NULL, _IOLBF, 4096);
    }
}

void ism_log_close(void)
{
    if (log_file)
        fclose(log_file);
    log_file = NULL;
}

/* Appends text to out (capacity outsz, *n bytes used, kept NUL-terminated)
 * with each byte below 0x20 and DEL written as an escape: \r, \n, \t, else
 * \xNN. Stops before an escape that would not fit whole. Other bytes (UTF-8
 * included) and the backslash itself are copied as they are. */
static void add_escaped(char *out, size_t outsz, size_t *n, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char e[5];
        size_t el = 0;
        if (*p >= 0x20 && *p != 0x7f) {
            e[el++] = (char)*p;
        } else {
            e[el++] = '\\';
            if (*p == '\r' || *p == '\n' || *p == '\t') {
                e[el++] = *p == '\r' ? 'r' : *p == '\n' ? 'n' : 't';
            } else {
                e[el++] = 'x';
                e[el++] = hex[*p >> 4];
                e[el++] = hex[*p & 15];
            }
        }
        if (*n + el >= outsz)
            break;
        memcpy(out + *n, e, el);
        *n += el;
    }
    out[*n] = '\0';
}

void ism_log(ism_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    char msg[1200], line[1200], when[32];
    int64_t ms = ism_time_wall_ms();
    ism_utc u;
    ism_utc_from_ms(ms, &u);
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d", u.year, u.month, u.day, u.hour, u.min, u.sec);
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    int prefix = snprintf(line, sizeof line, "%s.%03dZ %s: ", when, (int)(ms % 1000), names[level]);
    if (prefix < 0 || prefix >= (int)sizeof line)
        return;
    size_t n = (size_t)prefix;
    add_escaped(line, sizeof line, &n, msg);
    if (log_file) {
        fputs(line, log_file);
        fputc('\n', log_file);
    }
    if (log_stderr) {
        fputs(line, stderr);
        fputc('\n', stderr);
        fflush(stderr);
    }
    if (log_sink)
        log_sink(level, line + prefix);
}
