/* ism_log: the service's log, one timestamped line per event, to a file in
 * the data folder and (in console mode) to standard error.
 *
 * A message is always one line: bytes below 0x20 and DEL in it (from a
 * client's input, say) are written as \r, \n, \t or \xNN, in the file, on
 * standard error and to the sink alike. Other bytes, UTF-8 and the
 * backslash included, are written as they are. */
#ifndef ISM_LOG_H
#define ISM_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ISM_LOG_DEBUG, ISM_LOG_INFO, ISM_LOG_WARN, ISM_LOG_ERROR } ism_log_level;

/* The service's log file in the data folder. */
#define ISM_LOG_FILE "ismail-service.log"

/* Closes the file opened before, if any, and opens path for appending; path
 * may be NULL (no file). to_stderr mirrors every line to stderr. */
void ism_log_open(const char *path, int to_stderr);
void ism_log_close(void);
void ism_log(ism_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A second destination for log lines (the service under the Windows service
 * manager forwards some of them to the event log). sink receives each line's
 * level and its text without the timestamp and level prefix, at every level;
 * it filters for itself. It runs on whichever thread logs, so it must be
 * thread-safe and quick, and must not call ism_log. Set it before other
 * threads log; NULL removes it. */
typedef void (*ism_log_sink_fn)(ism_log_level level, const char *text);
void ism_log_set_sink(ism_log_sink_fn sink);

#ifdef __cplusplus
}
#endif
#endif
