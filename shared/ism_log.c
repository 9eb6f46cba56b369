/* ism_log: timestamped log lines (see ism_log.h). Safe to call from several
 * threads: each line is written with one fputs on an unbuffered-per-line stream. */
#include "ism_log.h"
#include "ism_platform.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

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

void ism_log(ism_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    char line[1200], when[32];
    int64_t ms = ism_time_wall_ms();
    time_t t = (time_t)(ms / 1000);
    struct tm tmv;
#ifdef _WIN32
    gmtime_s(&tmv, &t);
#else
    gmtime_r(&t, &tmv);
#endif
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tmv);
    int n = snprintf(line, sizeof line, "%s.%03dZ %s: ", when, (int)(ms % 1000), names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < (int)sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (log_file) {
        fputs(line, log_file);
        fputc('\n', log_file);
    }
    if (log_stderr) {
        fputs(line, stderr);
        fputc('\n', stderr);
        fflush(stderr);
    }
    if (log_sink && n > 0 && n < (int)sizeof line)
        log_sink(level, line + n);
}
