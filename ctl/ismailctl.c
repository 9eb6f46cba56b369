/* ismailctl: the ISMail command line, the same on Windows and Linux.
 *
 *   ismailctl [--data DIR] [--json] show | get KEY | set KEY VALUE [KEY VALUE ...] |
 *             reset KEY [KEY ...] | status | domain add|edit|remove|list ...
 *
 * Exit codes: 0 ok, 2 usage, 3 invalid value, 4 store error.
 *
 * What it creates is private to its user, as the service's files are: a new
 * data folder 0700 (Windows: SYSTEM and Administrators), files 0600. */
#include "ctl.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_str.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_OK = ISM_EXIT_OK, EXIT_USAGE = ISM_EXIT_USAGE, EXIT_INVALID = ISM_EXIT_INVALID, EXIT_STORE = ISM_EXIT_STORE };

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
            "  reload                       make the service re-read settings and certificate files now\n"
            "  csr new|show|list ...        certificate signing requests and keys ('ismailctl csr' for details)\n"
            "  cert list|show|install|remove|selfsign ...  certificates ('ismailctl cert' for details)\n"
            "  cert protect NAME|FILE       restrict a private key others can read to the administrators\n"
            "  user add|passwd|remove|list ...             mail accounts ('ismailctl user' for details)\n"
            "  localdomain add|remove|list ...             local mail domains\n"
            "  domain list                  the web server's SSL domains\n"
            "  domain add DOMAIN --ip IP [--port N] --cert FILE --key FILE [--ca FILE]   (port: https.port)\n"
            "  domain edit DOMAIN [--ip IP] [--port N] [--cert FILE] [--key FILE] [--ca FILE]\n"
            "  domain remove DOMAIN\n"
            "                               FILEs are absolute or relative to ssl.crt (cert, ca) / ssl.key (key)\n"
            "Options:\n"
            "  --data DIR                   the data folder (store ismail.db); default: the installed one\n"
            "  --json                       machine-readable output for show, get, status, domain list\n"
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

int ism_ctl_fail(const ism_err *err)
{
    fprintf(stderr, "ismailctl: %s\n", err->msg);
    return exit_for(err);
}

static int fail(const ism_err *err)
{
    return ism_ctl_fail(err);
}

/* Command groups implemented in their own modules (ctl.h). */
static const struct {
    const char *word;
    int (*run)(ism_ctl *ctx, int argc, char **argv);
} groups[] = {
    {"csr", ism_ctl_csr},
    {"cert", ism_ctl_cert},
    {"user", ism_ctl_user},
    {"localdomain", ism_ctl_localdomain},
    {"queue", ism_ctl_queue},
    {"route", ism_ctl_route},
    {"policy", ism_ctl_policy},
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

static int json;

void ism_ctl_jstr(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int cmd_show(ism_store *st)
{
    ism_config cfg;
    ism_err err = {0};
    if (ism_store_load(st, &cfg, &err))
        return fail(&err);
    if (json)
        printf("{\"revision\": %lld, \"settings\": [", (long long)cfg.revision);
    for (int i = 0; i < ISM_SETTING_COUNT; i++) {
        const ism_setting_def *d = &ism_setting_defs[i];
        const char *v = ism_config_str(&cfg, (ism_setting_id)i);
        int is_def = strcmp(v, d->def) == 0;
        if (json) {
            printf("%s\n  {\"key\": ", i ? "," : "");
            ism_ctl_jstr(d->key);
            printf(", \"value\": ");
            ism_ctl_jstr(v);
            printf(", \"default\": ");
            ism_ctl_jstr(d->def);
            printf(", \"is_default\": %s, \"description\": ", is_def ? "true" : "false");
            ism_ctl_jstr(d->desc);
            printf("}");
        } else {
            printf("%-26s %-14s%s  %s\n", d->key, *v ? v : "\"\"", is_def ? " (default)" : "", d->desc);
        }
    }
    if (json)
        printf("\n]}\n");
    else if (cfg.invalid[0])
        fprintf(stderr, "ismailctl: warning: %s (shown as its default; set it again)\n", cfg.invalid);
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
    if (json) {
        printf("{\"key\": ");
        ism_ctl_jstr(key);
        printf(", \"value\": ");
        ism_ctl_jstr(ism_config_str(&cfg, (ism_setting_id)id));
        printf("}\n");
    } else {
        printf("%s\n", ism_config_str(&cfg, (ism_setting_id)id));
    }
    ism_config_free(&cfg);
    return EXIT_OK;
}

static const char *cert_validity(const ism_cert_state *c, int64_t now)
{
    return now < c->not_before ? "not valid yet" : now > c->not_after ? "expired" : "valid";
}

/* Prints the TLS listeners that serve c to clients without SNI (their
 * fingerprint is c's), as a JSON array or a comma-separated list. */
static void no_sni_listeners(const ism_status *s, const ism_cert_state *c, int as_json)
{
    int n = 0;
    for (int i = 0; i < s->n_listeners; i++) {
        const ism_listener_state *l = &s->listeners[i];
        if (!l->tls || strcmp(l->fingerprint, c->fingerprint) != 0)
            continue;
        printf("%s", n++ ? ", " : "");
        if (as_json)
            ism_ctl_jstr(l->name);
        else
            printf("%s", l->name);
    }
    if (!as_json && !n)
        printf("none");
}

/* The file of the certificate with fingerprint fp, "" when none. */
static const char *cert_file_of(const ism_status *s, const char *fp)
{
    for (int i = 0; fp[0] && i < s->n_certs; i++)
        if (strcmp(s->certs[i].fingerprint, fp) == 0)
            return s->certs[i].file;
    return "";
}

static void utc(char *out, size_t outsz, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", tm))
        snprintf(out, outsz, "%lld", (long long)t);
}

static int cmd_status(ism_store *st)
{
    static ism_status s;
    ism_err err = {0};
    int64_t rev = 0;
    if (ism_store_read_status(st, &s, &err) || ism_store_revision(st, &rev, &err))
        return fail(&err);
    if (json) {
        printf("{\"store_revision\": %lld, \"applied_revision\": %lld, \"applied_at_ms\": %lld, "
               "\"up_to_date\": %s, \"error\": ",
               (long long)rev, (long long)s.applied_revision, (long long)s.applied_at_ms,
               s.applied_revision >= rev ? "true" : "false");
        ism_ctl_jstr(s.error);
        printf(", \"listeners\": [");
        for (int i = 0; i < s.n_listeners; i++) {
            const ism_listener_state *l = &s.listeners[i];
            printf("%s\n  {\"name\": ", i ? "," : "");
            ism_ctl_jstr(l->name);
            printf(", \"port\": %d, \"open\": %s, \"tls\": %s, \"fingerprint\": ", l->port,
                   l->open ? "true" : "false", l->tls ? "true" : "false");
            ism_ctl_jstr(l->fingerprint);
            printf(", \"no_sni_certificate\": ");
            ism_ctl_jstr(l->tls ? cert_file_of(&s, l->fingerprint) : "");
            printf(", \"error\": ");
            ism_ctl_jstr(l->error);
            printf("}");
        }
        printf("\n], \"certificates\": [");
        int64_t now = (int64_t)time(NULL);
        for (int i = 0; i < s.n_certs; i++) {
            const ism_cert_state *c = &s.certs[i];
            printf("%s\n  {\"file\": ", i ? "," : "");
            ism_ctl_jstr(c->file);
            printf(", \"names\": [");
            char names[sizeof c->names];
            snprintf(names, sizeof names, "%s", c->names);
            int k = 0;
            for (char *p = names, *q; *p; p = q) {
                q = strstr(p, ", ");
                if (q) {
                    *q = '\0';
                    q += 2;
                } else {
                    q = p + strlen(p);
                }
                printf("%s", k++ ? ", " : "");
                ism_ctl_jstr(p);
            }
            printf("], \"not_before\": %lld, \"not_after\": %lld, \"validity\": \"%s\", \"fingerprint\": ",
                   (long long)c->not_before, (long long)c->not_after, cert_validity(c, now));
            ism_ctl_jstr(c->fingerprint);
            printf(", \"host_fallback\": %s, \"web_ssl_domain\": %s, \"no_sni_listeners\": [",
                   c->fallback ? "true" : "false", c->web ? "true" : "false");
            no_sni_listeners(&s, c, 1);
            printf("]}");
        }
        printf("\n]}\n");
        return EXIT_OK;
    }
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
    if (s.n_certs)
        printf("certificates: every TLS listener serves the one matching the client's SNI name; "
               "clients without SNI (or with a name none matches) get the one listed \"without SNI\"\n");
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < s.n_certs; i++) {
        const ism_cert_state *c = &s.certs[i];
        char from[64], to[64];
        utc(from, sizeof from, c->not_before);
        utc(to, sizeof to, c->not_after);
        printf("certificate %s\n", c->file);
        printf("  names        %s%s\n", c->names[0] ? c->names : "none",
               c->fallback ? "  (the host's self-signed one: served only when no name matches)"
               : c->web ? "  (a web SSL domain's)" : "");
        printf("  valid        %s to %s (%s)\n", from, to, cert_validity(c, now));
        printf("  fingerprint  %s\n", c->fingerprint);
        printf("  without SNI  ");
        no_sni_listeners(&s, c, 0);
        printf("\n");
    }
    return EXIT_OK;
}

static int cmd_domain_list(ism_store *st)
{
    ism_web_domain *v;
    size_t n;
    ism_err err = {0};
    if (ism_store_domain_list(st, &v, &n, &err))
        return fail(&err);
    if (json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        if (json) {
            printf("%s\n  {\"domain\": ", i ? "," : "");
            ism_ctl_jstr(v[i].domain);
            printf(", \"ip\": ");
            ism_ctl_jstr(v[i].ip);
            printf(", \"port\": %d, \"cert\": ", v[i].port);
            ism_ctl_jstr(v[i].cert_file);
            printf(", \"key\": ");
            ism_ctl_jstr(v[i].key_file);
            printf(", \"ca\": ");
            ism_ctl_jstr(v[i].ca_file);
            printf("}");
        } else {
            printf("%-30s %-15s %-5d cert %s  key %s%s%s\n", v[i].domain, v[i].ip, v[i].port, v[i].cert_file,
                   v[i].key_file, v[i].ca_file[0] ? "  ca " : "", v[i].ca_file);
        }
    }
    if (json)
        printf("%s]\n", n ? "\n" : "");
    else if (n == 0)
        printf("no web SSL domains configured\n");
    free(v);
    return EXIT_OK;
}

/* domain add|edit DOMAIN [--ip IP] [--port N] [--cert F] [--key F] [--ca F]
 * A new domain's port is the https.port setting unless --port says
 * otherwise, as in the manager's New dialog (https_port). */
static int cmd_domain_put(ism_store *st, const ism_paths *paths, int add, int https_port, int nargs, char **args)
{
    ism_web_domain d;
    ism_err err = {0};
    memset(&d, 0, sizeof d);
    snprintf(d.domain, sizeof d.domain, "%s", args[0]);
    d.port = https_port;
    snprintf(d.ip, sizeof d.ip, "0.0.0.0");
    if (!add) {
        ism_web_domain *v;
        size_t n, i;
        if (ism_store_domain_list(st, &v, &n, &err))
            return fail(&err);
        for (i = 0; i < n && ism_str_icmp(v[i].domain, d.domain) != 0; i++) {
        }
        if (i == n) {
            free(v);
            fprintf(stderr, "ismailctl: domain %s is not configured for SSL; use 'domain add' first\n", d.domain);
            return EXIT_INVALID;
        }
        d = v[i];
        free(v);
    }
    int have_ip = 0, have_cert = 0, have_key = 0;
    for (int i = 1; i < nargs; i += 2) {
        const char *opt = args[i], *val = i + 1 < nargs ? args[i + 1] : NULL;
        if (!val) {
            fprintf(stderr, "ismailctl: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
        if (strcmp(opt, "--ip") == 0) {
            snprintf(d.ip, sizeof d.ip, "%s", val);
            have_ip = 1;
        } else if (strcmp(opt, "--port") == 0) {
            char *end;
            long p = strtol(val, &end, 10);
            d.port = (*val && !*end && p > 0 && p < 65536) ? (int)p : -1;
            if (d.port < 0) {
                fprintf(stderr,
                        "ismailctl: port: '%s' is not a TCP port from 1 to 65535 (without --port: https.port, %d)\n",
                        val, https_port);
                return EXIT_INVALID;
            }
        } else if (strcmp(opt, "--cert") == 0) {
            snprintf(d.cert_file, sizeof d.cert_file, "%s", val);
            have_cert = 1;
        } else if (strcmp(opt, "--key") == 0) {
            snprintf(d.key_file, sizeof d.key_file, "%s", val);
            have_key = 1;
        } else if (strcmp(opt, "--ca") == 0) {
            snprintf(d.ca_file, sizeof d.ca_file, "%s", val);
        } else {
            fprintf(stderr, "ismailctl: unknown option '%s' for domain %s\n", opt, add ? "add" : "edit");
            return EXIT_USAGE;
        }
    }
    if (add && (!have_ip || !have_cert || !have_key)) {
        fprintf(stderr, "ismailctl: domain add needs --ip, --cert and --key\n");
        return EXIT_USAGE;
    }
    if (ism_web_domain_check(&d, &err) || ism_web_domain_check_files(&d, paths, &err) ||
        ism_store_domain_put(st, &d, add ? ISM_DOMAIN_ADD : ISM_DOMAIN_EDIT, &err))
        return fail(&err);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    ism_plat_private_umask();
    const char *data = NULL;
    int force = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
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
    int group = -1;
    for (size_t g = 0; g < N_GROUPS; g++)
        if (strcmp(cmd, groups[g].word) == 0)
            group = (int)g;
    if (group < 0 && !((strcmp(cmd, "show") == 0 && nargs == 0) || (strcmp(cmd, "reload") == 0 && nargs == 0) || (strcmp(cmd, "status") == 0 && nargs == 0) ||
          (strcmp(cmd, "get") == 0 && nargs == 1) || (strcmp(cmd, "reset") == 0 && nargs >= 1) ||
          (strcmp(cmd, "set") == 0 && nargs >= 2 && nargs % 2 == 0) ||
          (strcmp(cmd, "domain") == 0 && nargs == 1 && strcmp(args[0], "list") == 0) ||
          (strcmp(cmd, "domain") == 0 && nargs == 2 && strcmp(args[0], "remove") == 0) ||
          (strcmp(cmd, "domain") == 0 && nargs >= 2 && (strcmp(args[0], "add") == 0 || strcmp(args[0], "edit") == 0)))) {
        fprintf(stderr, "ismailctl: wrong command or arguments: '%s'; 'ismailctl --help' lists the commands\n", cmd);
        return EXIT_USAGE;
    }

    ism_paths paths;
    ism_err err = {0};
    ism_store *st = NULL;
    ism_paths_init(&paths, data);
    /* A folder that exists is the service's to tighten (ism_paths_secure_data). */
    if ((!ism_fs_exists(paths.data) && ism_fs_mkdirs(paths.data, 1, &err)) || ism_store_open(&st, paths.store, &err))
        return fail(&err);
    int rc;
    if (group >= 0) {
        ism_config cfg;
        if (ism_store_load(st, &cfg, &err)) {
            rc = fail(&err);
        } else {
            ism_ctl ctx;
            ism_paths_apply_config(&paths, &cfg);
            ism_config_free(&cfg);
            ctx.paths = paths;
            ctx.store = st;
            ctx.json = json;
            ctx.force = force;
            rc = groups[group].run(&ctx, argc - i + 1, argv + i - 1);
        }
    } else if (strcmp(cmd, "domain") == 0) {
        ism_config cfg;
        if (ism_store_load(st, &cfg, &err)) {
            rc = fail(&err);
        } else {
            ism_paths_apply_config(&paths, &cfg);
            int https_port = ism_config_int(&cfg, ISM_S_HTTPS_PORT);
            ism_config_free(&cfg);
            if (strcmp(args[0], "list") == 0)
                rc = cmd_domain_list(st);
            else if (strcmp(args[0], "remove") == 0)
                rc = ism_store_domain_remove(st, ism_str_lower_all(args[1]), &err) ? fail(&err) : EXIT_OK;
            else
                rc = cmd_domain_put(st, &paths, strcmp(args[0], "add") == 0, https_port, nargs - 1, args + 1);
        }
    } else if (strcmp(cmd, "reload") == 0) {
        rc = ism_store_touch(st, &err) ? fail(&err) : EXIT_OK;
    } else if (strcmp(cmd, "show") == 0) {
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
