/* ismailctl: the ISMail command line, the same on Windows and Linux.
 *
 *   ismailctl [--data DIR] [--json] [--force] COMMAND [SUBCOMMAND] ARGS...
 *
 * Every command is a row of one table (commands[] below): its words, the
 * synopsis of its arguments, one line of help, its handler and what the
 * handler needs. The dispatcher walks the table, and `ismailctl --help` is
 * printed from it, so a command cannot be left out of the help.
 *
 * Exit codes: 0 ok, 2 usage, 3 invalid value, 4 store error.
 *
 * What it creates is private to its user, as the service's files are: a new
 * data folder 0700 (Windows: SYSTEM and Administrators), files 0600. */
#include "ctl.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_OK = ISM_EXIT_OK, EXIT_USAGE = ISM_EXIT_USAGE, EXIT_INVALID = ISM_EXIT_INVALID, EXIT_STORE = ISM_EXIT_STORE };

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

static int cmd_show(ism_ctl *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ism_store *st = ctx->store;
    int json = ctx->json;
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

static int cmd_get(ism_ctl *ctx, int argc, char **argv)
{
    (void)argc;
    ism_store *st = ctx->store;
    int json = ctx->json;
    const char *key = argv[1];
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

static int cmd_status(ism_ctl *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ism_store *st = ctx->store;
    int json = ctx->json;
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

static int cmd_reload(ism_ctl *ctx, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ism_err err = {0};
    return ism_store_touch(ctx->store, &err) ? fail(&err) : EXIT_OK;
}

/* set KEY VALUE [KEY VALUE...] and reset KEY [KEY...]: one transaction. */
static int cmd_set(ism_ctl *ctx, int argc, char **argv)
{
    int set = strcmp(argv[0], "set") == 0, rc;
    int nargs = argc - 1;
    char **args = argv + 1;
    size_t n = set ? (size_t)nargs / 2 : (size_t)nargs;
    const char **keys = calloc(n, sizeof *keys), **vals = calloc(n, sizeof *vals);
    ism_err err = {0};
    if (!keys || !vals) {
        rc = EXIT_STORE;
    } else {
        for (size_t k = 0; k < n; k++) {
            keys[k] = set ? args[2 * k] : args[k];
            vals[k] = set ? args[2 * k + 1] : NULL;
        }
        rc = ism_store_set(ctx->store, n, keys, vals, &err) ? fail(&err) : EXIT_OK;
    }
    free(keys);
    free(vals);
    return rc;
}

/* What the dispatcher gets ready before a command's handler runs. */
typedef enum {
    NEEDS_STORE,  /* the store, open */
    NEEDS_CONFIG, /* the store and the settings, the ssl.* folders applied to ctx->paths */
} ctl_needs;

enum {
    ARGS_ANY = -1,   /* max_args: no upper bound */
    ARGS_PAIRS = 1,  /* flags: the arguments come in pairs */
    ARGS_GROUP = 2,  /* flags: the handler checks its subcommand and arguments itself */
};

typedef struct {
    const char *name;     /* the command's word */
    const char *sub;      /* its subcommand's word, NULL when none */
    const char *args;     /* the synopsis of what follows the words */
    const char *help;     /* one line for --help */
    int (*run)(ism_ctl *ctx, int argc, char **argv); /* argv[0] is name, argv[1] sub (if any) */
    ctl_needs needs;
    int min_args, max_args; /* after the words; checked here unless ARGS_GROUP */
    int flags;
} ctl_command;

/* Every command, in the order --help lists them. The rows of an ARGS_GROUP
 * command share one handler that reads its subcommand; the help comes from
 * every row. */
static const ctl_command commands[] = {
    {"show", NULL, "", "every setting: value, (default) when unchanged, description", cmd_show, NEEDS_STORE, 0, 0, 0},
    {"get", NULL, "KEY", "one setting's value", cmd_get, NEEDS_STORE, 1, 1, 0},
    {"set", NULL, "KEY VALUE [KEY VALUE...]", "change settings, all or none (one transaction)", cmd_set, NEEDS_STORE,
     2, ARGS_ANY, ARGS_PAIRS},
    {"reset", NULL, "KEY [KEY...]", "back to the default", cmd_set, NEEDS_STORE, 1, ARGS_ANY, 0},
    {"status", NULL, "", "what the service has applied", cmd_status, NEEDS_STORE, 0, 0, 0},
    {"reload", NULL, "", "make the service re-read settings and certificate files now", cmd_reload, NEEDS_STORE, 0,
     0, 0},
    {"csr", "new",
     "--cn DOMAIN --country CC --state S --locality L --org O [--unit OU] --email E [--san NAME ...] "
     "[--key TYPE]",
     "a key and a certificate signing request (TYPE: rsa:2048, rsa:3072, rsa:4096, ec:P-256 or ec:P-384)", ism_ctl_csr,
     NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"csr", "show", "DOMAIN|FILE", "a request's fields, names and key", ism_ctl_csr, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"cert", "list", "", "the installed certificates: expiry, key, status", ism_ctl_cert, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"cert", "show", "DOMAIN|FILE", "a certificate's names, issuer, chain, validity and key", ism_ctl_cert,
     NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"cert", "install", "FILE [--domain D] [--key KEYFILE] [--ca CAFILE] [--password-file F] [--dry-run]",
     "check a certificate with its key and chain, install it (--dry-run: the plan only)",
     ism_ctl_cert, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"cert", "remove", "DOMAIN", "remove a certificate and its key (kept as .bak)", ism_ctl_cert, NEEDS_CONFIG, 0,
     ARGS_ANY, ARGS_GROUP},
    {"cert", "selfsign", "DOMAIN", "a self-signed certificate for DOMAIN", ism_ctl_cert, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"cert", "protect", "NAME|FILE", "restrict a private key others can read to the administrators", ism_ctl_cert,
     NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"user", "add", "ADDRESS [--password-file FILE]", "a mail account (password from standard input without the file)",
     ism_ctl_user, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"user", "passwd", "ADDRESS [--password-file FILE]", "a mail account's new password", ism_ctl_user, NEEDS_CONFIG,
     0, ARGS_ANY, ARGS_GROUP},
    {"user", "remove", "ADDRESS", "remove a mail account", ism_ctl_user, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"user", "list", "", "the mail accounts", ism_ctl_user, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"localdomain", "add", "DOMAIN", "a local mail domain", ism_ctl_localdomain, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"localdomain", "remove", "DOMAIN", "remove a local mail domain", ism_ctl_localdomain, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"localdomain", "list", "", "the local mail domains", ism_ctl_localdomain, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"domain", "list", "", "the web server's SSL domains", ism_ctl_domain, NEEDS_CONFIG, 0, 0, 0},
    {"domain", "add", "DOMAIN --ip IP [--port N] --cert FILE --key FILE [--ca FILE]",
     "a web SSL domain (port: https.port without --port)", ism_ctl_domain, NEEDS_CONFIG, 1, ARGS_ANY, 0},
    {"domain", "edit", "DOMAIN [--ip IP] [--port N] [--cert FILE] [--key FILE] [--ca FILE]",
     "change a web SSL domain", ism_ctl_domain, NEEDS_CONFIG, 1, ARGS_ANY, 0},
    {"domain", "remove", "DOMAIN", "remove a web SSL domain", ism_ctl_domain, NEEDS_CONFIG, 1, 1, 0},
    {"queue", "list", "", "the outgoing mail queue", ism_ctl_queue, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"queue", "retry", "ID|all", "try a queued message (or all) again now", ism_ctl_queue, NEEDS_CONFIG, 0, ARGS_ANY,
     ARGS_GROUP},
    {"queue", "remove", "ID", "remove a queued message", ism_ctl_queue, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"queue", "inject", "--from ADDRESS --to ADDRESS [--to ADDRESS ...] FILE|-",
     "queue a message as it is for delivery by the service", ism_ctl_queue, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"route", "list", "", "the outgoing routes (smart hosts)", ism_ctl_route, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"route", "add", "DOMAIN HOST [PORT]", "send mail for DOMAIN (* for the others) to HOST (PORT 25 if left out)",
     ism_ctl_route, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"route", "remove", "DOMAIN", "remove a route", ism_ctl_route, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"policy", "list", "", "the outgoing TLS policies", ism_ctl_policy, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"policy", "set", "DOMAIN none|may|encrypt|verify", "the TLS policy for mail to DOMAIN", ism_ctl_policy,
     NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
    {"policy", "remove", "DOMAIN", "remove a TLS policy", ism_ctl_policy, NEEDS_CONFIG, 0, ARGS_ANY, ARGS_GROUP},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* The column where the help starts; a longer synopsis puts its help on the
 * next line. */
#define HELP_COLUMN 31

static void usage(FILE *f)
{
    fprintf(f, "Usage: ismailctl [--data DIR] [--json] [--force] COMMAND\n"
               "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const ctl_command *c = &commands[i];
        char words[1024];
        snprintf(words, sizeof words, "%s%s%s%s%s", c->name, c->sub ? " " : "", c->sub ? c->sub : "",
                 c->args[0] ? " " : "", c->args);
        int n = fprintf(f, "  %s", words);
        if (n >= HELP_COLUMN)
            fprintf(f, "\n%*s%s\n", HELP_COLUMN, "", c->help);
        else
            fprintf(f, "%*s%s\n", HELP_COLUMN - n, "", c->help);
    }
    fprintf(f, "  domain FILEs are absolute or relative to ssl.crt (cert, ca) / ssl.key (key).\n"
               "Options:\n"
               "  --data DIR                   the data folder (store ismail.db); default: the installed one\n"
               "  --json                       machine-readable output for show, get, status and the list and\n"
               "                               show commands\n"
               "  --force                      replace what exists (csr new, cert selfsign); the old files are\n"
               "                               kept as .bak\n"
               "'ismailctl csr', 'ismailctl cert' and the others without a subcommand say more.\n"
               "Booleans accept on/off, yes/no, true/false, 1/0.\n"
               "Exit codes: 0 ok, 2 usage, 3 invalid value, 4 store error.\n");
}

/* The row for cmd and its arguments, or NULL. A group's command matches its
 * first row whatever follows (its handler checks); the others match their
 * words and the number of arguments. */
static const ctl_command *find_command(const char *cmd, int nargs, char **args)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const ctl_command *c = &commands[i];
        if (strcmp(cmd, c->name) != 0)
            continue;
        if (c->flags & ARGS_GROUP)
            return c;
        int words = c->sub ? 1 : 0;
        if (c->sub && (nargs < 1 || strcmp(args[0], c->sub) != 0))
            continue;
        int n = nargs - words;
        if (n < c->min_args || (c->max_args != ARGS_ANY && n > c->max_args) || ((c->flags & ARGS_PAIRS) && n % 2))
            continue;
        return c;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    ism_plat_private_umask();
    const char *data = NULL;
    int force = 0, json = 0;
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
    const char *cmd = argv[i];
    const ctl_command *c = find_command(cmd, argc - i - 1, argv + i + 1);
    if (!c) {
        fprintf(stderr, "ismailctl: wrong command or arguments: '%s'; 'ismailctl --help' lists the commands\n", cmd);
        return EXIT_USAGE;
    }

    ism_ctl ctx;
    ism_config cfg;
    ism_err err = {0};
    memset(&ctx, 0, sizeof ctx);
    ctx.json = json;
    ctx.force = force;
    ism_paths_init(&ctx.paths, data);
    /* A folder that exists is the service's to tighten (ism_paths_secure_data). */
    if ((!ism_fs_exists(ctx.paths.data) && ism_fs_mkdirs(ctx.paths.data, 1, &err)) ||
        ism_store_open(&ctx.store, ctx.paths.store, &err))
        return fail(&err);
    int rc;
    if (c->needs == NEEDS_CONFIG && ism_store_load(ctx.store, &cfg, &err)) {
        rc = fail(&err);
    } else {
        if (c->needs == NEEDS_CONFIG) {
            ism_paths_apply_config(&ctx.paths, &cfg);
            ctx.config = &cfg;
        }
        rc = c->run(&ctx, argc - i, argv + i);
        if (c->needs == NEEDS_CONFIG)
            ism_config_free(&cfg);
    }
    ism_store_close(ctx.store);
    return rc;
}
