/* ismail-service: the ISMail mail service.
 *
 *   ismail-service [--data DIR] [--console]
 *
 * On Windows it runs under the service control manager as the service
 * "ISMail" unless --console is given; on Linux it always runs in the
 * foreground (under systemd or by hand).
 *
 * Everything it creates is private to its account (ism_plat_private_umask),
 * and at each start the data folder and the files in it are restricted again
 * (ism_svc_secure_data): mail, password hashes and the log are nobody
 * else's business. */
#include "ism_log.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "server.h"
#include "svc.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ismail-service [--data DIR] [--console]\n"
            "  --data DIR   folder of the settings store (ismail.db), the log and the\n"
            "               certificate folders ssl.csr, ssl.crt, ssl.key\n"
            "  --console    run in the foreground and log to the console as well\n"
            "               (on Windows the program otherwise runs as the ISMail service)\n"
            "  --version    print the version\n");
}

void ism_svc_secure_data(const ism_server_opts *opts, ism_svc_secured *out)
{
    ism_paths p;
    ism_err err = {0};
    memset(out, 0, sizeof *out);
    ism_paths_init(&p, opts->data_dir);
    if (ism_paths_secure_data(&p, out->done, sizeof out->done, &err))
        snprintf(out->failed, sizeof out->failed, "%s", err.msg);
}

void ism_svc_secured_log(const ism_svc_secured *s)
{
    if (s->done[0])
        ism_log(ISM_LOG_INFO, "file permissions tightened, other users could open these until now: %s", s->done);
    if (s->failed[0])
        ism_log(ISM_LOG_WARN, "file permissions: %s", s->failed);
}

int main(int argc, char **argv)
{
    ism_plat_private_umask();
    ism_server_opts opts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            opts.data_dir = argv[++i];
        } else if (strcmp(argv[i], "--console") == 0) {
            opts.console = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("ismail-service %s\n", ISM_VERSION_STRING);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ismail-service: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    return ism_svc_main(&opts);
}
