/* server: the service's engine, the same on Windows and Linux.
 *
 * It opens the store, makes the certificate folders (and a self-signed
 * certificate for the host on first start), opens the listeners the settings
 * ask for, and runs the event loop until a stop is requested. A change in the
 * store is applied live: listeners open and close only when their port,
 * address or enablement changed, a new TLS generation is published for new
 * handshakes, and the result is written back to the store. */
#ifndef ISM_SERVER_H
#define ISM_SERVER_H

#include "ism_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data_dir;       /* --data, or NULL for the platform default */
    int console;                /* log to stderr too */
    void (*on_running)(void);   /* called once the listeners are up (SCM: SERVICE_RUNNING) */
} ism_server_opts;

/* Runs until ism_server_request_stop(). Returns 0 after a clean stop, -1 when
 * start-up failed (err says why: the store could not be opened, ...). */
int ism_server_run(const ism_server_opts *opts, ism_err *err);

/* Async-signal-safe; callable from a signal handler or the SCM's thread. */
void ism_server_request_stop(void);
/* Makes the loop re-read the store now (SIGHUP, SERVICE_CONTROL_PARAMCHANGE). */
void ism_server_request_reload(void);

#ifdef __cplusplus
}
#endif
#endif
