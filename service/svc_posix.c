/* svc_posix: the service in the foreground on Linux. SIGINT and SIGTERM stop
 * it cleanly; SIGHUP makes it re-read the store at once. Before the server
 * starts, the data folder is made private (ism_svc_secure_data); what that
 * changed is logged once the server runs. */
#include "svc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void on_stop(int sig)
{
    (void)sig;
    ism_server_request_stop();
}

static void on_hup(int sig)
{
    (void)sig;
    ism_server_request_reload();
}

static ism_svc_secured secured;

/* Called by the server once the listeners are up; the log is open by then. */
static void on_running(void)
{
    ism_svc_secured_log(&secured);
}

int ism_svc_main(ism_server_opts *opts)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    opts->console = 1;
    ism_svc_secure_data(opts, &secured);
    opts->on_running = on_running;
    ism_err err = {0};
    if (ism_server_run(opts, &err)) {
        fprintf(stderr, "ismail-service: %s\n", err.msg);
        return 1;
    }
    return 0;
}
