/* cmd_domain: ismailctl's domain commands, the manual's "configure a domain
 * for SSL" table of the web server (ism_store_domain_*).
 *
 *   domain list
 *   domain add DOMAIN --ip IP [--port N] --cert FILE --key FILE [--ca FILE]
 *   domain edit DOMAIN [--ip IP] [--port N] [--cert FILE] [--key FILE] [--ca FILE]
 *   domain remove DOMAIN
 *
 * The dispatcher (ismailctl.c) has checked the number of arguments. */
#include "ctl.h"
#include "ism_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int domain_list(ism_store *st, int json)
{
    ism_web_domain *v;
    size_t n;
    ism_err err = {0};
    if (ism_store_domain_list(st, &v, &n, &err))
        return ism_ctl_fail(&err);
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
    return ISM_EXIT_OK;
}

/* domain add|edit DOMAIN [--ip IP] [--port N] [--cert F] [--key F] [--ca F]
 * A new domain's port is the https.port setting unless --port says
 * otherwise, as in the manager's New dialog (https_port). */
static int domain_put(ism_store *st, const ism_paths *paths, int add, int https_port, int nargs, char **args)
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
            return ism_ctl_fail(&err);
        for (i = 0; i < n && ism_str_icmp(v[i].domain, d.domain) != 0; i++) {
        }
        if (i == n) {
            free(v);
            fprintf(stderr, "ismailctl: domain %s is not configured for SSL; use 'domain add' first\n", d.domain);
            return ISM_EXIT_INVALID;
        }
        d = v[i];
        free(v);
    }
    int have_ip = 0, have_cert = 0, have_key = 0;
    for (int i = 1; i < nargs; i += 2) {
        const char *opt = args[i], *val = i + 1 < nargs ? args[i + 1] : NULL;
        if (!val) {
            fprintf(stderr, "ismailctl: %s needs a value\n", opt);
            return ISM_EXIT_USAGE;
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
                return ISM_EXIT_INVALID;
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
            return ISM_EXIT_USAGE;
        }
    }
    if (add && (!have_ip || !have_cert || !have_key)) {
        fprintf(stderr, "ismailctl: domain add needs --ip, --cert and --key\n");
        return ISM_EXIT_USAGE;
    }
    if (ism_web_domain_check(&d, &err) || ism_web_domain_check_files(&d, paths, &err) ||
        ism_store_domain_put(st, &d, add ? ISM_DOMAIN_ADD : ISM_DOMAIN_EDIT, &err))
        return ism_ctl_fail(&err);
    return ISM_EXIT_OK;
}

int ism_ctl_domain(ism_ctl *ctx, int argc, char **argv)
{
    ism_err err = {0};
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0)
        return domain_list(ctx->store, ctx->json);
    if (strcmp(sub, "remove") == 0)
        return ism_store_domain_remove(ctx->store, ism_str_lower_all(argv[2]), &err) ? ism_ctl_fail(&err)
                                                                                     : ISM_EXIT_OK;
    return domain_put(ctx->store, &ctx->paths, strcmp(sub, "add") == 0, ism_config_int(ctx->config, ISM_S_HTTPS_PORT),
                      argc - 2, argv + 2);
}
