/* cmd_cert: ismailctl's csr and cert commands, a thin layer over ism_cert.
 *
 *   csr new --cn DOMAIN --country CC --state S --locality L --org O
 *           [--unit OU] --email E [--san NAME ...] [--key TYPE]
 *   csr show DOMAIN|FILE
 *   cert list | show DOMAIN|FILE | remove DOMAIN | selfsign DOMAIN
 *   cert install FILE [--domain D] [--key KEYFILE] [--ca CAFILE] [--password-file F] [--dry-run]
 *
 * Every rule lives in the core (the manager's dialogs call the same
 * functions); this file only parses options and prints, as text or --json.
 * The core says what is wrong and what kind of fix it needs (ism_cert_fix,
 * the password error kinds); the words for the fix, naming this program's
 * options, are here. Warnings go to stderr so that stdout stays the result. */
#include "ctl.h"
#include "ism_cert.h"
#include "ism_platform.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void jkey(const char *k, const char *v, int comma)
{
    printf("%s\"%s\": ", comma ? ", " : "", k);
    ism_ctl_jstr(v);
}

static void when(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M UTC", tm))
        snprintf(out, outsz, "?");
}

static const char *key_word(ism_key_state k)
{
    static const char *const w[] = {"match", "mismatch", "missing", "not private", "unreadable"};
    return (unsigned)k < 5 ? w[k] : "?";
}

static const char *level_word(ism_check_level l)
{
    return l == ISM_CHECK_OK ? "ok" : l == ISM_CHECK_WARN ? "warning" : "failed";
}

/* What fixes a refusal, in this program's terms. */
static const char *fix_words(ism_cert_fix f)
{
    switch (f) {
    case ISM_FIX_PASSWORD: return "give the password in a file with --password-file FILE (first line)";
    case ISM_FIX_KEY: return "give the private key made with the certificate's CSR with --key KEYFILE";
    case ISM_FIX_CA: return "give the certificate authority's intermediate (chain) certificates with --ca CAFILE";
    case ISM_FIX_DOMAIN: return "give the domain the certificate is for with --domain DOMAIN";
    case ISM_FIX_FORCE: return "to replace it anyway, add --force (the old files are kept as .bak)";
    case ISM_FIX_NEW_CSR: return "make a new key and CSR with 'ismailctl --force csr new --cn DOMAIN ...'";
    case ISM_FIX_LIST: return "'ismailctl cert list' shows the installed certificates";
    default: return NULL;
    }
}

/* The core's message, then the fix (stderr), then the exit code. */
static int cert_fail(const ism_err *err, ism_cert_fix fix)
{
    ism_err e = *err;
    if (err->kind == ISM_E_NEED_PASSWORD || err->kind == ISM_E_BAD_PASSWORD) {
        fix = ISM_FIX_PASSWORD;
        e.kind = ISM_E_INVALID;
    }
    const char *w = fix_words(fix);
    if (w) {
        size_t n = strlen(e.msg);
        snprintf(e.msg + n, sizeof e.msg - n, "; %s", err->kind == ISM_E_BAD_PASSWORD ? "check the password file" : w);
    }
    return ism_ctl_fail(&e);
}

/* ---- printing ---- */

static void json_info(const ism_cert_info *in)
{
    char t[40];
    printf("{");
    jkey("path", in->path, 0);
    jkey("domain", in->domain, 1);
    jkey("kind", in->is_csr ? "csr" : "certificate", 1);
    jkey("status", ism_cert_status_word(in->status), 1);
    jkey("problem", in->problem, 1);
    jkey("subject", in->subject, 1);
    jkey("cn", in->cn, 1);
    printf(", \"san\": [");
    for (int i = 0; i < in->n_san; i++) {
        printf("%s", i ? ", " : "");
        ism_ctl_jstr(in->san[i]);
    }
    printf("]");
    if (!in->is_csr) {
        jkey("issuer", in->issuer, 1);
        printf(", \"self_signed\": %s", in->self_signed ? "true" : "false");
        when(in->not_before, t, sizeof t);
        jkey("not_before", t, 1);
        when(in->not_after, t, sizeof t);
        jkey("not_after", t, 1);
        printf(", \"days_left\": %ld", in->days_left);
        jkey("serial", in->serial, 1);
    } else {
        printf(", \"signature_ok\": %s", in->signature_ok ? "true" : "false");
    }
    jkey("key_type", in->key_type, 1);
    printf(", \"key_bits\": %d", in->key_bits);
    jkey("signature_algorithm", in->sig_alg, 1);
    jkey("fingerprint_sha256", in->fingerprint, 1);
    if (!in->is_csr) {
        printf(", \"chain\": [");
        for (int i = 0; i < in->n_chain; i++) {
            printf("%s{", i ? ", " : "");
            jkey("subject", in->chain[i].subject, 0);
            jkey("issuer", in->chain[i].issuer, 1);
            when(in->chain[i].not_after, t, sizeof t);
            jkey("not_after", t, 1);
            jkey("fingerprint_sha256", in->chain[i].fingerprint, 1);
            printf("}");
        }
        printf("], \"chain_complete\": %s", in->chain_complete ? "true" : "false");
    }
    jkey("key_path", in->key_path, 1);
    jkey("key", key_word(in->key_state), 1);
    printf("}");
}

static void text_info(const ism_cert_info *in)
{
    char a[40], b[40];
    printf("%-13s %s\n", in->is_csr ? "request" : "certificate", in->path);
    printf("%-13s %s\n", "domain", in->domain);
    printf("%-13s %s\n", "status", ism_cert_status_word(in->status));
    printf("%-13s %s\n", "subject", in->subject);
    printf("%-13s ", "names");
    for (int i = 0; i < in->n_san; i++)
        printf("%s%s", i ? ", " : "", in->san[i]);
    printf("%s\n", in->n_san ? "" : "(no subjectAltName)");
    if (!in->is_csr) {
        printf("%-13s %s%s\n", "issuer", in->issuer, in->self_signed ? "  (self-signed)" : "");
        when(in->not_before, a, sizeof a);
        when(in->not_after, b, sizeof b);
        printf("%-13s %s to %s (%ld days %s)\n", "valid", a, b, in->days_left < 0 ? -in->days_left : in->days_left,
               in->days_left < 0 ? "ago" : "left");
    }
    printf("%-13s %s %d bits\n", "key type", in->key_type, in->key_bits);
    printf("%-13s %s%s\n", "signature", in->sig_alg, in->is_csr ? (in->signature_ok ? " (verifies)" : " (DOES NOT VERIFY)") : "");
    if (!in->is_csr)
        printf("%-13s %s\n", "serial", in->serial);
    printf("%-13s %s\n", "sha256", in->fingerprint);
    if (!in->is_csr) {
        if (in->n_chain == 0)
            printf("%-13s %s\n", "chain", in->self_signed ? "none (self-signed)" : "none: the issuer's certificate is not in the file");
        for (int i = 0; i < in->n_chain; i++) {
            when(in->chain[i].not_after, a, sizeof a);
            printf("%-13s %d. %s (issued by %s, until %s)\n", i ? "" : "chain", i + 1, in->chain[i].subject,
                   in->chain[i].issuer, a);
        }
    }
    printf("%-13s %s: %s\n", "private key", in->key_path[0] ? in->key_path : "(none)", key_word(in->key_state));
    if (in->problem[0])
        printf("%-13s %s\n", "problem", in->problem);
    if (in->problem[0] && fix_words(in->fix))
        printf("%-13s %s\n", "fix", fix_words(in->fix));
}

/* ', "checks": [...]': every check of r, for --json. */
static void json_checks(const ism_cert_result *r)
{
    printf(", \"checks\": [");
    for (int i = 0; i < r->n_checks; i++) {
        printf("%s{", i ? ", " : "");
        jkey("check", r->check[i].what, 0);
        jkey("result", level_word(r->check[i].level), 1);
        jkey("text", r->check[i].text, 1);
        printf("}");
    }
}

/* The checks of an operation: warnings on stderr; with --json the whole result. */
static void print_result(const ism_ctl *ctx, const ism_cert_result *r, int ok)
{
    if (ctx->json) {
        printf("{\"ok\": %s", ok ? "true" : "false");
        jkey("domain", r->domain, 1);
        json_checks(r);
        printf("], \"written\": [");
        for (int i = 0; i < r->n_written; i++) {
            printf("%s", i ? ", " : "");
            ism_ctl_jstr(r->written[i]);
        }
        printf("], \"backups\": [");
        for (int i = 0; i < r->n_backup; i++) {
            printf("%s", i ? ", " : "");
            ism_ctl_jstr(r->backup[i]);
        }
        printf("]}\n");
        return;
    }
    for (int i = 0; i < r->n_checks; i++)
        if (r->check[i].level == ISM_CHECK_WARN)
            fprintf(stderr, "ismailctl: warning: %s\n", r->check[i].text);
    if (!ok)
        return;
    for (int i = 0; i < r->n_checks; i++)
        if (r->check[i].level == ISM_CHECK_OK)
            printf("%-9s %s\n", r->check[i].what, r->check[i].text);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr,
            "ismailctl: %s%s%s\n"
            "Usage: ismailctl [--data DIR] [--json] [--force] csr new --cn DOMAIN --country CC --state S\n"
            "                   --locality L --org O [--unit OU] --email E [--san NAME ...]\n"
            "                   [--key rsa:2048|rsa:3072|rsa:4096|ec:P-256|ec:P-384]\n"
            "       ismailctl csr show DOMAIN|FILE\n"
            "       ismailctl cert list | show DOMAIN|FILE | remove DOMAIN | selfsign DOMAIN\n"
            "       ismailctl cert install FILE [--domain D] [--key KEYFILE] [--ca CAFILE] [--password-file F]\n"
            "                   [--dry-run]\n"
            "See docs/certificates.md.\n",
            msg, arg ? ": " : "", arg ? arg : "");
    return ISM_EXIT_USAGE;
}

/* --force and --json may also come after the subcommand. */
static int common_opt(ism_ctl *ctx, const char *a)
{
    if (strcmp(a, "--force") == 0)
        ctx->force = 1;
    else if (strcmp(a, "--json") == 0)
        ctx->json = 1;
    else
        return 0;
    return 1;
}

/* ---- csr ---- */

static int set_field(char *dst, size_t dstsz, const char *opt, const char *v)
{
    if (strlen(v) >= dstsz) {
        fprintf(stderr, "ismailctl: %s: the value is too long\n", opt + 2);
        return ISM_EXIT_INVALID;
    }
    snprintf(dst, dstsz, "%s", v);
    return 0;
}

static int csr_new(ism_ctl *ctx, int argc, char **argv)
{
    ism_csr_req req;
    memset(&req, 0, sizeof req);
    int have_cn = 0;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (common_opt(ctx, o))
            continue;
        if (strcmp(o, "--san") == 0) {
            int n = 0;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (req.n_san >= ISM_CERT_MAX_SANS - 1) {
                    fprintf(stderr, "ismailctl: san: at most %d extra names\n", ISM_CERT_MAX_SANS - 1);
                    return ISM_EXIT_INVALID;
                }
                if (set_field(req.san[req.n_san], sizeof req.san[0], o, argv[++i]))
                    return ISM_EXIT_INVALID;
                req.n_san++;
                n++;
            }
            if (!n)
                return usage_error("--san needs at least one name", NULL);
            continue;
        }
        static const struct {
            const char *opt;
            size_t off, sz;
        } opts[] = {
            {"--cn", offsetof(ism_csr_req, cn), sizeof req.cn},
            {"--country", offsetof(ism_csr_req, country), sizeof req.country},
            {"--state", offsetof(ism_csr_req, state), sizeof req.state},
            {"--locality", offsetof(ism_csr_req, locality), sizeof req.locality},
            {"--org", offsetof(ism_csr_req, org), sizeof req.org},
            {"--unit", offsetof(ism_csr_req, unit), sizeof req.unit},
            {"--email", offsetof(ism_csr_req, email), sizeof req.email},
            {"--key", offsetof(ism_csr_req, key), sizeof req.key},
        };
        size_t k;
        for (k = 0; k < sizeof opts / sizeof opts[0] && strcmp(o, opts[k].opt) != 0; k++) {
        }
        if (k == sizeof opts / sizeof opts[0])
            return usage_error("unknown option for csr new", o);
        if (i + 1 >= argc)
            return usage_error("this option needs a value", o);
        if (set_field((char *)&req + opts[k].off, opts[k].sz, o, argv[++i]))
            return ISM_EXIT_INVALID;
        if (k == 0)
            have_cn = 1;
    }
    if (!have_cn)
        return usage_error("csr new needs --cn DOMAIN (the domain the certificate is for)", NULL);
    /* The fields the manual asks for, in its order: the core's words, and the
     * option that gives the field. */
    static const struct {
        ism_cert_field f;
        size_t off;
        const char *opt;
    } required[] = {
        {ISM_CF_COUNTRY, offsetof(ism_csr_req, country), "--country CC"},
        {ISM_CF_STATE, offsetof(ism_csr_req, state), "--state S"},
        {ISM_CF_LOCALITY, offsetof(ism_csr_req, locality), "--locality L"},
        {ISM_CF_ORG, offsetof(ism_csr_req, org), "--org O"},
        {ISM_CF_EMAIL, offsetof(ism_csr_req, email), "--email E"},
    };
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++) {
        const char *v = (const char *)&req + required[k].off;
        ism_err miss = {0};
        if (!v[0] && ism_cert_field_missing(required[k].f, &miss)) {
            char msg[sizeof miss.msg + 64];
            snprintf(msg, sizeof msg, "%s; give it with %s", miss.msg, required[k].opt);
            return usage_error(msg, NULL);
        }
    }
    ism_cert_result res;
    ism_err err = {0};
    int rc = ism_csr_new(&ctx->paths, &req, ctx->force, &res, &err);
    print_result(ctx, &res, rc == 0);
    return rc ? cert_fail(&err, res.fix) : ISM_EXIT_OK;
}

static int show(ism_ctl *ctx, int is_csr, int argc, char **argv)
{
    const char *what = NULL;
    for (int i = 0; i < argc; i++) {
        if (common_opt(ctx, argv[i]))
            continue;
        if (what)
            return usage_error("show takes one DOMAIN or FILE", argv[i]);
        what = argv[i];
    }
    if (!what)
        return usage_error(is_csr ? "csr show needs a DOMAIN or FILE" : "cert show needs a DOMAIN or FILE", NULL);
    ism_cert_info *info = malloc(sizeof *info);
    ism_err err = {0};
    if (!info)
        return ISM_EXIT_STORE;
    int rc = ism_cert_show(&ctx->paths, what, is_csr, info, &err);
    if (rc == 0) {
        if (ctx->json) {
            json_info(info);
            printf("\n");
        } else {
            text_info(info);
        }
    }
    free(info);
    return rc ? cert_fail(&err, is_csr ? ISM_FIX_NONE : ISM_FIX_LIST) : ISM_EXIT_OK;
}

/* ---- cert ---- */

static int cert_list(ism_ctl *ctx)
{
    ism_cert_info *v;
    size_t n;
    ism_err err = {0};
    if (ism_cert_list(&ctx->paths, &v, &n, &err))
        return ism_ctl_fail(&err);
    if (ctx->json) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
            printf("%s\n  ", i ? "," : "");
            json_info(&v[i]);
        }
        printf("%s]\n", n ? "\n" : "");
    } else if (n == 0) {
        printf("no certificates installed in %s\n", ctx->paths.crt);
    } else {
        printf("%-32s %-10s %-6s %-11s %s\n", "DOMAIN", "EXPIRES", "DAYS", "KEY", "STATUS");
        for (size_t i = 0; i < n; i++) {
            char t[40] = "-", d[16] = "-";
            if (v[i].status != ISM_CS_UNREADABLE) {
                when(v[i].not_after, t, sizeof t);
                t[10] = '\0';
                snprintf(d, sizeof d, "%ld", v[i].days_left);
            }
            printf("%-32s %-10s %-6s %-11s %s\n", v[i].domain, t, d,
                   v[i].status == ISM_CS_UNREADABLE ? "-" : key_word(v[i].key_state), ism_cert_status_word(v[i].status));
        }
    }
    free(v);
    return ISM_EXIT_OK;
}

/* The first line of a password file, without its line ending. */
static int read_password(const char *path, char **out)
{
    char *data;
    size_t len;
    ism_err err = {0};
    if (ism_fs_read(path, 4096, &data, &len, &err)) {
        fprintf(stderr, "ismailctl: --password-file: %s\n", err.msg);
        return ISM_EXIT_INVALID;
    }
    data[strcspn(data, "\r\n")] = '\0';
    *out = data;
    return 0;
}

/* After files changed: the service looks again now rather than at its next
 * file check. A service that is not running reads them when it starts. */
static void wake_service(const ism_ctl *ctx, const ism_cert_result *res)
{
    ism_err e = {0};
    if (res->n_written + res->n_backup > 0 && ctx->store && ism_store_touch(ctx->store, &e))
        fprintf(stderr, "ismailctl: warning: the files are installed, but the service was not told: %s; "
                        "'ismailctl reload' tells it\n", e.msg);
}

static const char *action_word(ism_plan_action a)
{
    return a == ISM_PLAN_CREATE ? "create" : a == ISM_PLAN_REPLACE ? "replace" : "unchanged";
}

/* The plan: what was checked and what would be written (--dry-run), as text
 * or JSON. */
static void print_plan(const ism_ctl *ctx, const ism_cert_plan *pl)
{
    const ism_cert_result *r = &pl->res;
    if (ctx->json) {
        printf("{\"ok\": true, \"dry_run\": true");
        jkey("domain", r->domain, 1);
        jkey("subject", pl->cert.subject, 1);
        jkey("issuer", pl->cert.issuer, 1);
        jkey("fingerprint_sha256", pl->cert.fingerprint, 1);
        printf(", \"chain\": [");
        for (int i = 0; i < pl->cert.n_chain; i++) {
            printf("%s", i ? ", " : "");
            ism_ctl_jstr(pl->cert.chain[i].subject);
        }
        printf("]");
        jkey("key_source", pl->key_source, 1);
        json_checks(r);
        printf("], \"files\": [");
        for (int i = 0; i < pl->n_files; i++) {
            const ism_cert_plan_file *f = &pl->files[i];
            printf("%s{", i ? ", " : "");
            jkey("path", f->path, 0);
            jkey("action", action_word(f->action), 1);
            jkey("backup", f->action == ISM_PLAN_REPLACE ? f->backup : "", 1);
            printf(", \"private\": %s}", f->is_key ? "true" : "false");
        }
        printf("]}\n");
        return;
    }
    for (int i = 0; i < r->n_checks; i++)
        if (r->check[i].level == ISM_CHECK_WARN)
            fprintf(stderr, "ismailctl: warning: %s\n", r->check[i].text);
    for (int i = 0; i < r->n_checks; i++)
        if (r->check[i].level == ISM_CHECK_OK)
            printf("%-9s %s\n", r->check[i].what, r->check[i].text);
    for (int i = 0; i < pl->cert.n_chain; i++)
        printf("%-9s %d. %s\n", i ? "" : "chain", i + 1, pl->cert.chain[i].subject);
    for (int i = 0; i < pl->n_files; i++) {
        const ism_cert_plan_file *f = &pl->files[i];
        if (f->action == ISM_PLAN_REPLACE)
            printf("%-9s replace %s (the current one kept as %s)\n", "would", f->path, f->backup);
        else if (f->action == ISM_PLAN_CREATE)
            printf("%-9s create %s\n", "would", f->path);
        else
            printf("%-9s keep %s as it is\n", "would", f->path);
    }
    printf("dry run: nothing was changed\n");
}

static int cert_install(ism_ctl *ctx, int argc, char **argv)
{
    ism_cert_install_req req;
    const char *pwfile = NULL;
    int dry_run = 0;
    memset(&req, 0, sizeof req);
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        if (common_opt(ctx, o))
            continue;
        if (strcmp(o, "--dry-run") == 0) {
            dry_run = 1;
            continue;
        }
        const char **dst = strcmp(o, "--domain") == 0        ? &req.domain
                           : strcmp(o, "--ca") == 0            ? &req.ca_file
                           : strcmp(o, "--key") == 0           ? &req.key_file
                           : strcmp(o, "--password-file") == 0 ? &pwfile
                                                               : NULL;
        if (dst) {
            if (i + 1 >= argc)
                return usage_error("this option needs a value", o);
            *dst = argv[++i];
        } else if (strncmp(o, "--", 2) == 0) {
            return usage_error("unknown option for cert install", o);
        } else if (req.file) {
            return usage_error("cert install takes one FILE", o);
        } else {
            req.file = o;
        }
    }
    if (!req.file)
        return usage_error("cert install needs the certificate FILE", NULL);
    char *pw = NULL;
    if (pwfile) {
        int rc = read_password(pwfile, &pw);
        if (rc)
            return rc;
        req.password = pw;
    }
    ism_cert_plan *plan = calloc(1, sizeof *plan);
    ism_cert_result *res = malloc(sizeof *res);
    ism_err err = {0};
    int rc = -1;
    ism_cert_fix fix = ISM_FIX_NONE;
    if (!plan || !res) {
        ism_err_set(&err, ISM_E_IO, "out of memory");
    } else if (ism_cert_install_plan(&ctx->paths, &req, plan, &err)) {
        fix = plan->res.fix;
        print_result(ctx, &plan->res, 0);
        if (err.kind == ISM_E_IO && plan->file[0]) { /* an input file, not the folders */
            size_t n = strlen(err.msg);
            snprintf(err.msg + n, sizeof err.msg - n, "; check the file's name and that it can be read");
            err.kind = ISM_E_INVALID;
            fix = ISM_FIX_NONE;
        }
    } else if (dry_run) {
        print_plan(ctx, plan);
        rc = 0;
    } else {
        rc = ism_cert_install_commit(&ctx->paths, plan, res, &err);
        fix = res->fix;
        print_result(ctx, res, rc == 0);
        if (rc == 0)
            wake_service(ctx, res);
    }
    if (plan)
        ism_cert_plan_free(plan);
    free(plan);
    free(res);
    if (pw) {
        memset(pw, 0, strlen(pw));
        free(pw);
    }
    return rc ? cert_fail(&err, fix) : ISM_EXIT_OK;
}

static int cert_domain_op(ism_ctl *ctx, const char *verb, int argc, char **argv)
{
    const char *domain = NULL;
    for (int i = 0; i < argc; i++) {
        if (common_opt(ctx, argv[i]))
            continue;
        if (domain || strncmp(argv[i], "--", 2) == 0)
            return usage_error("cert remove|selfsign takes one DOMAIN", argv[i]);
        domain = argv[i];
    }
    if (!domain)
        return usage_error(strcmp(verb, "remove") == 0 ? "cert remove needs a DOMAIN" : "cert selfsign needs a DOMAIN",
                           NULL);
    ism_cert_result res;
    ism_err err = {0};
    int rc = strcmp(verb, "remove") == 0 ? ism_cert_remove(&ctx->paths, domain, &res, &err)
                                         : ism_cert_selfsign(&ctx->paths, domain, ctx->force, &res, &err);
    print_result(ctx, &res, rc == 0);
    if (rc == 0)
        wake_service(ctx, &res);
    return rc ? cert_fail(&err, res.fix) : ISM_EXIT_OK;
}

int ism_ctl_csr(ism_ctl *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("csr needs a subcommand: new or show", NULL);
    if (strcmp(argv[1], "new") == 0)
        return csr_new(ctx, argc - 2, argv + 2);
    if (strcmp(argv[1], "show") == 0)
        return show(ctx, 1, argc - 2, argv + 2);
    return usage_error("unknown csr subcommand (new, show)", argv[1]);
}

int ism_ctl_cert(ism_ctl *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("cert needs a subcommand: list, show, install, remove or selfsign", NULL);
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        for (int i = 2; i < argc; i++)
            if (!common_opt(ctx, argv[i]))
                return usage_error("cert list takes no arguments", argv[i]);
        return cert_list(ctx);
    }
    if (strcmp(sub, "show") == 0)
        return show(ctx, 0, argc - 2, argv + 2);
    if (strcmp(sub, "install") == 0)
        return cert_install(ctx, argc - 2, argv + 2);
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "selfsign") == 0)
        return cert_domain_op(ctx, sub, argc - 2, argv + 2);
    if (strcmp(sub, "protect") == 0)
        return ism_ctl_cert_protect(ctx, argc - 2, argv + 2);
    return usage_error("unknown cert subcommand (list, show, install, remove, selfsign)", sub);
}
