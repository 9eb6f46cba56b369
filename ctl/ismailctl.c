/* ismailctl: the ISMail command line, the same on Windows and Linux.
 *
 *   ismailctl [--data DIR] show | get KEY | set KEY VALUE [KEY VALUE ...] |
 *             reset KEY [KEY ...] | status
 *
 * Exit codes: 0 ok, 2 usage, 3 invalid value, 4 store error. */
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_INVALID = 3, EXIT_STORE = 4 };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ismailctl [--data DIR] COMMAND\n"
            "Commands:\n"
            "  show                         every setting: value, (default) when unchanged, description\n"
            "  get KEY                      one setting's value\n"
            "  set KEY VALUE [KEY VALUE...] change settings, all or none (one transaction)\n"
            "  reset KEY [KEY...]           back to the default\n"
            "  status                       what the service has applied\n"
            "Options:\n"
            "  --data DIR                   the data folder (store ismail.db); default: the installed one\n"
            "Booleans accept on/off, yes/no, true/false, 1/0.\n"
            "Exit codes: 0 ok, 2 usage, 3 invalid value, 4 store error.\n");
}

static int exit_for(const ism_err *err)
{
    switch (err->kind) {
    case ISM_E_USAGE: return EXIT_USAGE;
    case ISM_E_INVALID: return EXIT_INVALID;
    default: return EXIT_STORE;
    }
}

static int fail(const ism_err *err)
{
    fprintf(stderr, "ismailctl: %s\n", err->msg);
    return exit_for(err);
}

static int cmd_show(ism_store *st)
{
    ism_config cfg;
    ism_err err = {0};
    if (ism_store_load(st, &cfg, &err))
        return fail(&err);
    for (int i = 0; i < ISM_SETTING_COUNT; i++) {
        const ism_setting_def *d = &ism_setting_defs[i];
        const char *v = ism_config_str(&cfg, (ism_setting_id)i);
        int is_def = strcmp(v, d->def) == 0;
        printf("%-26s %-14s%s  %s\n", d->key, *v ? v : "\"\"", is_def ? " (default)" : "", d->desc);
    }
    ism_config_free(&cfg);
    return EXIT_OK;
}

static int cmd_get(ism_store *st, const char *key)
{
    int id = ism_setting_find(key);
    if (id < 0) {
        fprintf(stderr, "ismailctl: %s: no such setting; 'ismailctl show' lists them all\n", key);
        return EXIT_USAGE;
    }
    ism_config cfg;
    ism_err err = {0};
    if (ism_store_load(st, &cfg, &err))
        return fail(&err);
    printf("%s\n", ism_config_str(&cfg, (ism_setting_id)id));
    ism_config_free(&cfg);
    return EXIT_OK;
}

static int cmd_status(ism_store *st)
{
    ism_status s;
    ism_err err = {0};
    int64_t rev = 0;
    if (ism_store_read_status(st, &s, &err) || ism_store_revision(st, &rev, &err))
        return fail(&err);
    printf("store revision:   %lld\n", (long long)rev);
    if (s.applied_revision < 0) {
        printf("applied revision: none (the service has not run with this store)\n");
        return EXIT_OK;
    }
    time_t t = (time_t)(s.applied_at_ms / 1000);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    printf("applied revision: %lld at %s%s\n", (long long)s.applied_revision, when,
           s.applied_revision < rev ? "  (the service has not applied the latest revision yet)" : "");
    printf("last error:       %s\n", s.error[0] ? s.error : "none");
    for (int i = 0; i < s.n_listeners; i++) {
        const ism_listener_state *l = &s.listeners[i];
        printf("listener %-11s port %-5d %-6s tls %-3s %s%s%s\n", l->name, l->port, l->open ? "open" : "closed",
               l->tls ? "on" : "off", l->fingerprint, l->error[0] ? "  error: " : "", l->error);
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *data = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("ismailctl %s\n", ISM_VERSION_STRING);
            return EXIT_OK;
        } else {
            fprintf(stderr, "ismailctl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i++];
    int nargs = argc - i;
    char **args = argv + i;
    if (!((strcmp(cmd, "show") == 0 && nargs == 0) || (strcmp(cmd, "status") == 0 && nargs == 0) ||
          (strcmp(cmd, "get") == 0 && nargs == 1) || (strcmp(cmd, "reset") == 0 && nargs >= 1) ||
          (strcmp(cmd, "set") == 0 && nargs >= 2 && nargs % 2 == 0))) {
        fprintf(stderr, "ismailctl: wrong command or arguments: '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }

    ism_paths paths;
    ism_err err = {0};
    ism_store *st = NULL;
    ism_paths_init(&paths, data);
    if (ism_fs_mkdirs(paths.data, 0, &err) || ism_store_open(&st, paths.store, &err))
        return fail(&err);
    int rc;
    if (strcmp(cmd, "show") == 0) {
        rc = cmd_show(st);
    } else if (strcmp(cmd, "get") == 0) {
        rc = cmd_get(st, args[0]);
    } else if (strcmp(cmd, "status") == 0) {
        rc = cmd_status(st);
    } else {
        int set = strcmp(cmd, "set") == 0;
        size_t n = set ? (size_t)nargs / 2 : (size_t)nargs;
        const char **keys = calloc(n, sizeof *keys), **vals = calloc(n, sizeof *vals);
        if (!keys || !vals) {
            rc = EXIT_STORE;
        } else {
            for (size_t k = 0; k < n; k++) {
                keys[k] = set ? args[2 * k] : args[k];
                vals[k] = set ? args[2 * k + 1] : NULL;
            }
            rc = ism_store_set(st, n, keys, vals, &err) ? fail(&err) : EXIT_OK;
        }
        free(keys);
        free(vals);
    }
    ism_store_close(st);
    return rc;
}
