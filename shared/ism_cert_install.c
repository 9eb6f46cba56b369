/* ism_cert_install: installing, removing and self-signing certificates, and
 * the results every writing operation reports (see ism_cert.h).
 *
 * Every operation checks everything first and writes last, so a refusal
 * leaves the folders as they were; a replaced file is always kept as a
 * timestamped .bak. */
#include "ism_cert_impl.h"
#include "ism_platform.h"
#include "ism_tls.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- results ---- */

void ism_ci_add_check(ism_cert_result *res, ism_check_level level, const char *what, const char *fmt, ...)
{
    if (!res)
        return;
    ism_cert_check *c = res->n_checks < ISM_CERT_MAX_CHECKS ? &res->check[res->n_checks++]
                                                            : &res->check[ISM_CERT_MAX_CHECKS - 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
    c->level = level;
    copy(c->what, sizeof c->what, what);
    if (level == ISM_CHECK_WARN)
        res->n_warnings++;
}

/* Records a failed check and returns -1 with the same message in err. */
int ism_ci_fail_check(ism_cert_result *res, ism_err *err, ism_err_kind kind, const char *what, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ism_ci_add_check(res, ISM_CHECK_FAIL, what, "%s", msg);
    ERR_clear_error();
    return ism_err_set(err, kind, "%s", msg);
}

void ism_ci_fail_from(ism_cert_result *res, const char *what, const ism_err *err)
{
    ism_ci_add_check(res, ISM_CHECK_FAIL, what, "%s", err->msg);
}

/* ---- files: backups, PEM out ---- */

/* NAME.YYYYMMDD-HHMMSS.bak beside path (UTC), not yet taken. */
static void backup_name(const char *path, char *out, size_t outsz)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm *tm = gmtime(&now);
    if (!tm || !strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", tm))
        copy(stamp, sizeof stamp, "00000000-000000");
    snprintf(out, outsz, "%s.%s.bak", path, stamp);
    for (int i = 2; ism_fs_exists(out) && i < 100; i++)
        snprintf(out, outsz, "%s.%s-%d.bak", path, stamp, i);
}

/* Reads path (if it exists) into *old; 0 with *old NULL when it does not. */
int ism_ci_read_old(const char *path, char **old, size_t *len, ism_err *err)
{
    *old = NULL;
    *len = 0;
    if (!ism_fs_exists(path))
        return 0;
    return ism_fs_read(path, CERT_MAX_INPUT, old, len, err);
}

/* Keeps a copy of path as a .bak (a key's copy as private as the key). */
int ism_ci_keep_backup(const char *path, const char *data, size_t len, int private_file, ism_cert_result *res,
                       ism_err *err)
{
    char bak[ISM_PATH_MAX + 40];
    backup_name(path, bak, sizeof bak);
    if (ism_fs_write_atomic(bak, data, len, private_file, err))
        return -1;
    if (res && res->n_backup < 3)
        copy(res->backup[res->n_backup++], sizeof res->backup[0], bak);
    ism_ci_add_check(res, ISM_CHECK_OK, "backup", "kept the previous %s as %s", path, bak);
    return 0;
}

void ism_ci_wrote(ism_cert_result *res, const char *path)
{
    if (res && res->n_written < 3)
        copy(res->written[res->n_written++], sizeof res->written[0], path);
}

/* PEM text of a key (PKCS#8, no pass phrase: the service starts unattended). */
int ism_ci_key_pem(EVP_PKEY *k, char **out, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    *out = NULL;
    if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) || (n = BIO_get_mem_data(b, &p)) <= 0 ||
        !(*out = malloc((size_t)n))) {
        BIO_free(b);
        return -1;
    }
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    OPENSSL_cleanse(p, (size_t)n);
    BIO_free(b);
    return 0;
}

/* Writes the key (private) then the companion file; if the second write
 * fails, the key goes back to what it was, so the pair stays consistent. */
int ism_ci_write_pair(const char *key_path, const char *kd, size_t kl, const char *old_key, size_t old_kl,
                      const char *other_path, const char *od, size_t ol, ism_cert_result *res, ism_err *err)
{
    if (kd) {
        if (ism_fs_write_atomic(key_path, kd, kl, 1, err))
            return -1;
        ism_ci_wrote(res, key_path);
    }
    if (ism_fs_write_atomic(other_path, od, ol, 0, err)) {
        ism_err ignore = {0};
        if (kd) {
            if (old_key)
                ism_fs_write_atomic(key_path, old_key, old_kl, 1, &ignore);
            else
                ism_fs_remove(key_path, &ignore);
        }
        return -1;
    }
    ism_ci_wrote(res, other_path);
    return 0;
}

/* ---- installing ---- */

/* The domain's certificate among those in a file: the one the key opens,
 * else the first that issued none of the others (a leaf), else the first. */
static X509 *pick_leaf(STACK_OF(X509) *certs, EVP_PKEY **keys, int n_keys)
{
    int n = sk_X509_num(certs);
    for (int k = 0; k < n_keys; k++)
        for (int i = 0; i < n; i++)
            if (X509_check_private_key(sk_X509_value(certs, i), keys[k]) == 1) {
                ERR_clear_error();
                return sk_X509_value(certs, i);
            }
    ERR_clear_error();
    X509 *first_leaf = NULL;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(certs, i);
        int issues = 0;
        for (int j = 0; j < n && !issues; j++)
            if (j != i && ism_ci_issued_by(x, sk_X509_value(certs, j)))
                issues = 1;
        if (!issues && X509_check_ca(x) == 0)
            return x;
        if (!issues && !first_leaf)
            first_leaf = x;
    }
    return first_leaf ? first_leaf : sk_X509_value(certs, 0);
}

/* leaf's issuers in order, from pool (certificates may be in any order). */
static STACK_OF(X509) *order_chain(X509 *leaf, STACK_OF(X509) *pool)
{
    STACK_OF(X509) *out = sk_X509_new_null();
    X509 *cur = leaf;
    while (out && sk_X509_num(out) < ISM_CERT_MAX_CHAIN && !ism_ci_self_signed(cur)) {
        X509 *next = NULL;
        for (int i = 0; i < sk_X509_num(pool) && !next; i++) {
            X509 *c = sk_X509_value(pool, i);
            if (c != leaf && X509_cmp(c, cur) != 0 && ism_ci_issued_by(c, cur))
                next = c;
        }
        int seen = 0;
        for (int i = 0; next && i < sk_X509_num(out); i++)
            if (X509_cmp(sk_X509_value(out, i), next) == 0)
                seen = 1;
        if (!next || seen)
            break;
        sk_X509_push(out, next);
        cur = next;
    }
    return out;
}

static const char *verify_hint(int e)
{
    switch (e) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "the CA file does not hold the certificate that issued it; ask the certificate authority for its "
               "intermediate (chain) certificate";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "a CA certificate has expired; get the current chain from the certificate authority";
    case X509_V_ERR_INVALID_PURPOSE:
        return "the certificate is not for TLS servers (extendedKeyUsage has no serverAuth)";
    default:
        return "check that the CA file is the one the certificate authority sent with this certificate";
    }
}

/* Whether OpenSSL's TLS layer takes x as a server certificate (leaf) or as one
 * of its chain, at its security level: 2 is OpenSSL's default since 3.2 (and
 * Debian's before), which refuses keys under 112 bits of strength (RSA under
 * 2048 bits, EC under 224) and, except on a self-signed certificate,
 * signatures with SHA-1 or MD5. The service could not use a certificate it
 * refuses, so such a certificate is not installed. Returns 0 when it is taken,
 * else 1 with why ("is signed with SHA1, which ...") in out and what to do in
 * *fix. */
static int tls_refuses(X509 *x, int leaf, char *out, size_t outsz, const char **fix)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c)
        return 0; /* no verdict on the certificate; the service reports what it finds */
    ERR_clear_error();
    int ok = leaf ? SSL_CTX_use_certificate(c, x) == 1 : SSL_CTX_add1_chain_cert(c, x) == 1;
    unsigned long e = ok ? 0 : ERR_peek_last_error();
    int explained = !ok && ism_tls_explain_refusal(c, x, e, out, outsz, fix);
    SSL_CTX_free(c);
    ERR_clear_error();
    if (ok)
        return 0;
    if (!explained) {
        snprintf(out, outsz, "is refused by OpenSSL for TLS (%s)",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "no reason given");
        *fix = "get a new certificate from the certificate authority";
    }
    return 1;
}

/* SHA-256 of data, for noticing a target that changed between plan and commit. */
static void sha256(const char *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
        memset(out, 0, 32);
}

/* Fills one target of a plan: what is there now and what will happen to it.
 * data (owned by the plan from here) is NULL when the file stays as it is. */
static int plan_target(ism_cert_plan_file *f, const char *path, int is_key, char *data, size_t len, ism_err *err)
{
    char *old = NULL;
    size_t old_len = 0;
    copy(f->path, sizeof f->path, path);
    f->is_key = is_key;
    f->data = data;
    f->size = len;
    if (ism_ci_read_old(path, &old, &old_len, err))
        return -1;
    f->had_old = old != NULL;
    if (old)
        sha256(old, old_len, f->old_sha256);
    if (!data) {
        f->action = ISM_PLAN_UNCHANGED;
        f->size = old_len;
    } else if (!old) {
        f->action = ISM_PLAN_CREATE;
    } else if (old_len == len && memcmp(old, data, len) == 0) {
        f->action = ISM_PLAN_UNCHANGED;
    } else {
        f->action = ISM_PLAN_REPLACE;
        backup_name(path, f->backup, sizeof f->backup);
    }
    ism_ci_free_secret(old, old_len);
    return 0;
}

/* A failure about one input file: the check, the file, what would fix it. */
static void fail_on(ism_cert_plan *plan, const char *what, const char *file, ism_cert_fix fix, const ism_err *err)
{
    ism_ci_fail_from(&plan->res, what, err);
    copy(plan->file, sizeof plan->file, file);
    plan->res.fix = err->kind == ISM_E_NEED_PASSWORD || err->kind == ISM_E_BAD_PASSWORD ? ISM_FIX_PASSWORD : fix;
}

/* A refusal found by the plan itself: the check `what` fails with the
 * message, the plan names `file` as the input it is about, and `fix` (unless
 * ISM_FIX_NONE) says what would mend it. Returns -1. */
static int refuse(ism_cert_plan *plan, ism_err *err, const char *file, ism_cert_fix fix, const char *what,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
static int refuse(ism_cert_plan *plan, ism_err *err, const char *file, ism_cert_fix fix, const char *what,
                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy(plan->file, sizeof plan->file, file);
    if (fix != ISM_FIX_NONE)
        plan->res.fix = fix;
    return ism_ci_fail_check(&plan->res, err, ISM_E_INVALID, what, "%s", msg);
}

void ism_cert_plan_free(ism_cert_plan *plan)
{
    if (!plan)
        return;
    for (int i = 0; i < 2; i++) {
        ism_ci_free_secret(plan->files[i].data, plan->files[i].size);
        plan->files[i].data = NULL;
    }
}

int ism_cert_install_plan(const ism_paths *p, const ism_cert_install_req *req, ism_cert_plan *plan, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], when[40], names[600];
    ism_ci_bundle b, cab, kb;
    EVP_PKEY *key_obj = NULL; /* borrowed from a bundle or owned (own_key) */
    int own_key = 0, key_is_installed = 0, rc = -1;
    STACK_OF(X509) *chain = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *vctx = NULL;
    BIO *out_b = NULL;
    char *kd = NULL, *cdata = NULL;
    size_t kl = 0;
    const char *key_src = NULL;
    ism_cert_result *res = &plan->res;
    ism_cert_info *info = &plan->cert;

    memset(plan, 0, sizeof *plan);
    memset(&b, 0, sizeof b);
    memset(&cab, 0, sizeof cab);
    memset(&kb, 0, sizeof kb);
    ERR_clear_error();

    /* 1. It parses. */
    if (!req || !req->file || !req->file[0])
        return ism_ci_fail_check(res, err, ISM_E_USAGE, "parse", "no certificate file given");
    if (ism_ci_load_bundle(req->file, req->password, &b, err)) {
        fail_on(plan, "parse", req->file, ISM_FIX_NONE, err);
        goto out;
    }
    if (sk_X509_num(b.certs) == 0) {
        refuse(plan, err, req->file, ISM_FIX_NONE, "parse", "%s holds no certificate%s", req->file,
               b.req ? " but a certificate request (CSR): send that to the certificate authority, and "
               "install the certificate it sends back"
               : b.n_keys ? " but a private key: give it as the key file, and the certificate as the "
               "certificate file"
               : "");
        goto out;
    }
    X509 *leaf = pick_leaf(b.certs, b.keys, b.n_keys);
    ism_ci_describe_x509(leaf, info);
    copy(info->path, sizeof info->path, req->file);
    ism_ci_add_check(res, ISM_CHECK_OK, "parse", "%s: %s certificate for %s, issued by %s", req->file, b.format,
                     info->subject, info->issuer);

    /* 2. The domain and its names. */
    char domain[256];
    if (req->domain && req->domain[0]) {
        if (ism_ci_domain_arg("domain", req->domain, domain, sizeof domain, err)) {
            fail_on(plan, "name", "", ISM_FIX_DOMAIN, err);
            goto out;
        }
    } else {
        ism_ci_cert_domain(info, domain, sizeof domain);
        if (!domain[0]) {
            res->fix = ISM_FIX_DOMAIN;
            ism_ci_fail_check(res, err, ISM_E_INVALID, "name",
                              "the certificate names no domain usable as a file name (CN '%s'); the domain it is "
                              "for must be given",
                              info->cn);
            goto out;
        }
    }
    copy(res->domain, sizeof res->domain, domain);
    copy(info->domain, sizeof info->domain, domain);
    size_t w = 0;
    names[0] = '\0';
    for (int i = 0; i < info->n_san && w < sizeof names; i++)
        w += (size_t)snprintf(names + w, sizeof names - w, "%s%s", i ? ", " : "", info->san[i]);
    if (!info->n_san)
        snprintf(names, sizeof names, "CN %s", info->cn);
    if (X509_check_host(leaf, domain, strlen(domain), 0, NULL) != 1) {
        res->fix = ISM_FIX_DOMAIN;
        ism_ci_fail_check(res, err, ISM_E_INVALID, "name",
                          "the certificate is for %s, not %s; clients connecting to %s would refuse it: install the "
                          "certificate made for that domain, or name the domain it is for",
                          names, domain, domain);
        goto out;
    }
    ism_ci_add_check(res, ISM_CHECK_OK, "name", "its names (%s) cover %s", names, domain);
    if (!info->n_san)
        ism_ci_add_check(res, ISM_CHECK_WARN, "name",
                         "the certificate has no subjectAltName: its name is only in the CN, which current clients "
                         "ignore; ask the certificate authority for one with subjectAltName DNS names");
    ism_paths_file(crt, sizeof crt, p->crt, domain, ".crt");
    ism_paths_file(key, sizeof key, p->key, domain, ".key");

    /* 3. Validity. */
    int64_t now = (int64_t)time(NULL);
    if (info->not_before > now) {
        ism_ci_fmt_time(info->not_before, when, sizeof when);
        refuse(plan, err, req->file, ISM_FIX_NONE, "validity",
               "the certificate in %s is not valid before %s; check this computer's clock, or install it "
               "from then on",
               req->file, when);
        goto out;
    }
    if (info->not_after < now) {
        ism_ci_fmt_time(info->not_after, when, sizeof when);
        refuse(plan, err, req->file, ISM_FIX_NEW_CSR, "validity",
               "the certificate in %s expired on %s; clients refuse it: renew it with the certificate "
               "authority",
               req->file, when);
        goto out;
    }
    ism_ci_fmt_time(info->not_after, when, sizeof when);
    if (info->days_left < ISM_CERT_EXPIRING_DAYS)
        ism_ci_add_check(res, ISM_CHECK_WARN, "validity", "the certificate expires on %s, in %ld days: renew it soon",
                         when, info->days_left);
    else
        ism_ci_add_check(res, ISM_CHECK_OK, "validity", "valid until %s (%ld days)", when, info->days_left);
    char refused[300];
    const char *fix = "";
    if (tls_refuses(leaf, 1, refused, sizeof refused, &fix)) {
        refuse(plan, err, req->file, ISM_FIX_NONE, "strength", "the certificate %s; the service could not use it: %s",
               refused, fix);
        goto out;
    }
    if ((strcmp(info->key_type, "RSA") == 0 && info->key_bits < 2048) ||
        (strncmp(info->key_type, "EC", 2) == 0 && info->key_bits < 256))
        ism_ci_add_check(res, ISM_CHECK_WARN, "strength",
                         "the key is %s %d bits, which is no longer safe; renew with rsa:2048 or more, or ec:P-256",
                         info->key_type, info->key_bits);

    /* 4. The key: the key file, else in the file, else the one made with the CSR. */
    if (req->key_file && req->key_file[0]) {
        if (ism_ci_load_bundle(req->key_file, req->password, &kb, err)) {
            fail_on(plan, "key", req->key_file, ISM_FIX_KEY, err);
            goto out;
        }
        if (kb.n_keys == 0) {
            refuse(plan, err, req->key_file, ISM_FIX_KEY, "key", "%s holds no private key", req->key_file);
            goto out;
        }
        key_obj = kb.keys[0];
        for (int i = 0; i < kb.n_keys; i++)
            if (X509_check_private_key(leaf, kb.keys[i]) == 1)
                key_obj = kb.keys[i];
        key_src = req->key_file;
    } else if (b.n_keys > 0) {
        key_obj = b.keys[0];
        for (int i = 0; i < b.n_keys; i++)
            if (X509_check_private_key(leaf, b.keys[i]) == 1)
                key_obj = b.keys[i];
        key_src = req->file;
    } else if (ism_fs_exists(key)) {
        if (ism_fs_private_check(key, err) || !(key_obj = ism_ci_load_key_file(key, NULL, err))) {
            fail_on(plan, "key", key, ISM_FIX_KEY, err);
            goto out;
        }
        own_key = 1;
        key_is_installed = 1;
        key_src = key;
    } else {
        refuse(plan, err, req->file, ISM_FIX_KEY, "key",
               "no private key: %s holds none and %s does not exist; the key made with the CSR is needed "
               "(or a PKCS#12/PFX file that holds it)",
               req->file, key);
        goto out;
    }
    ERR_clear_error();
    if (X509_check_private_key(leaf, key_obj) != 1) {
        refuse(plan, err, key_src, ISM_FIX_KEY, "key",
               "the private key in %s does not match the certificate in %s (%s): it was made for another "
               "CSR; the key made with this certificate's CSR is needed",
               key_src, req->file, info->subject);
        goto out;
    }
    ism_ci_add_check(res, ISM_CHECK_OK, "key", "the private key in %s matches the certificate", key_src);
    copy(plan->key_source, sizeof plan->key_source, key_src);

    /* 5. The chain. */
    STACK_OF(X509) *pool = b.certs;
    if (req->ca_file && req->ca_file[0]) {
        if (ism_ci_load_bundle(req->ca_file, NULL, &cab, err)) {
            fail_on(plan, "chain", req->ca_file, ISM_FIX_CA, err);
            goto out;
        }
        if (sk_X509_num(cab.certs) == 0) {
            refuse(plan, err, req->ca_file, ISM_FIX_CA, "chain", "%s holds no CA certificate", req->ca_file);
            goto out;
        }
        STACK_OF(X509) *untrusted = sk_X509_new_null();
        store = X509_STORE_new();
        vctx = X509_STORE_CTX_new();
        for (int i = 0; untrusted && i < sk_X509_num(b.certs); i++)
            if (sk_X509_value(b.certs, i) != leaf)
                sk_X509_push(untrusted, sk_X509_value(b.certs, i));
        for (int i = 0; store && i < sk_X509_num(cab.certs); i++)
            X509_STORE_add_cert(store, sk_X509_value(cab.certs, i));
        /* The reseller's CA file may hold only the intermediate: it is
         * trusted as given (partial chain). */
        int ok = untrusted && store && vctx && X509_STORE_CTX_init(vctx, store, leaf, untrusted) == 1;
        if (ok) {
            X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
            X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
            ok = X509_verify_cert(vctx) == 1;
        }
        if (!ok) {
            int e = vctx ? X509_STORE_CTX_get_error(vctx) : 0;
            char at[512] = "";
            X509 *cur = vctx ? X509_STORE_CTX_get_current_cert(vctx) : NULL;
            if (cur)
                ism_ci_name_line(X509_get_subject_name(cur), at, sizeof at);
            sk_X509_free(untrusted);
            refuse(plan, err, req->ca_file, ISM_FIX_CA, "chain", "the chain does not build to %s: %s (at %s); %s",
                   req->ca_file, X509_verify_cert_error_string(e), at[0] ? at : "the certificate",
                   verify_hint(e));
            goto out;
        }
        STACK_OF(X509) *vchain = X509_STORE_CTX_get0_chain(vctx);
        chain = sk_X509_new_null();
        for (int i = 1; chain && i < sk_X509_num(vchain) && sk_X509_num(chain) < ISM_CERT_MAX_CHAIN; i++)
            sk_X509_push(chain, sk_X509_value(vchain, i));
        sk_X509_free(untrusted);
        if (!chain) {
            ism_ci_fail_check(res, err, ISM_E_IO, "chain", "out of memory");
            goto out;
        }
        ism_ci_add_check(res, ISM_CHECK_OK, "chain", "the chain builds to %s (%d certificate%s after the domain's)",
                         req->ca_file, sk_X509_num(chain), sk_X509_num(chain) == 1 ? "" : "s");
    } else {
        chain = order_chain(leaf, pool);
        if (!chain) {
            ism_ci_fail_check(res, err, ISM_E_IO, "chain", "out of memory");
            goto out;
        }
        if (sk_X509_num(chain) == 0 && !info->self_signed)
            ism_ci_add_check(res, ISM_CHECK_WARN, "chain",
                             "incomplete chain: the certificate of its issuer (%s) is not in %s; clients that do not "
                             "have it will refuse the certificate: get the intermediate certificate from the "
                             "certificate authority and install again with it as the CA file",
                             info->issuer, req->file);
        else if (info->self_signed)
            ism_ci_add_check(res, ISM_CHECK_WARN, "chain",
                             "the certificate is self-signed: mail clients warn about it and other servers may not "
                             "trust it");
        else
            ism_ci_add_check(res, ISM_CHECK_OK, "chain", "%d issuer certificate%s found in %s", sk_X509_num(chain),
                             sk_X509_num(chain) == 1 ? "" : "s", req->file);
    }
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        if (tls_refuses(x, 0, refused, sizeof refused, &fix)) {
            char subj[512];
            ism_ci_name_line(X509_get_subject_name(x), subj, sizeof subj);
            refuse(plan, err, req->ca_file && req->ca_file[0] ? req->ca_file : req->file, ISM_FIX_CA, "strength",
                   "the chain certificate %.120s %s; the service could not use the chain: get the current "
                   "chain from the certificate authority",
                   subj, refused);
            goto out;
        }
    }
    int unused = sk_X509_num(b.certs) - 1 - sk_X509_num(chain);
    if (!(req->ca_file && req->ca_file[0]) && unused > 0)
        ism_ci_add_check(res, ISM_CHECK_WARN, "chain",
                         "%d certificate%s in %s %s not part of the domain's chain and %s left out", unused,
                         unused == 1 ? "" : "s", req->file, unused == 1 ? "is" : "are", unused == 1 ? "was" : "were");
    for (int i = 0; i < sk_X509_num(chain) && info->n_chain < ISM_CERT_MAX_CHAIN; i++)
        ism_ci_chain_link(sk_X509_value(chain, i), &info->chain[info->n_chain++]);
    info->chain_complete = info->self_signed || sk_X509_num(chain) > 0;

    /* 6. What would be written: the certificate then its chain; the key when
     * it is new. Nothing is written here. */
    char *cd;
    long cl;
    out_b = BIO_new(BIO_s_mem());
    int pem_ok = out_b && PEM_write_bio_X509(out_b, leaf);
    for (int i = 0; pem_ok && i < sk_X509_num(chain); i++)
        pem_ok = PEM_write_bio_X509(out_b, sk_X509_value(chain, i));
    if (!pem_ok || (cl = BIO_get_mem_data(out_b, &cd)) <= 0 || !(cdata = malloc((size_t)cl))) {
        ism_ci_fail_check(res, err, ISM_E_TLS, "write", "cannot encode the certificate for %s", domain);
        goto out;
    }
    memcpy(cdata, cd, (size_t)cl);
    if (!key_is_installed) {
        /* Unchanged when the new key is the one already installed. */
        EVP_PKEY *cur = ism_fs_exists(key) ? ism_ci_load_key_file(key, NULL, &(ism_err){0}) : NULL;
        int same = cur && EVP_PKEY_eq(cur, key_obj) == 1;
        EVP_PKEY_free(cur);
        ERR_clear_error();
        if (same) {
            key_is_installed = 1;
        } else if (ism_ci_key_pem(key_obj, &kd, &kl)) {
            ism_ci_fail_check(res, err, ISM_E_TLS, "write", "cannot encode the private key for %s", domain);
            goto out;
        }
    }
    plan->key_installed = key_is_installed;
    info->key_state = ISM_KEY_MATCH;
    copy(info->key_path, sizeof info->key_path, key);
    ism_ci_set_status(info);
    /* From here the plan owns the bytes (ism_cert_plan_free wipes the key). */
    plan->files[0].data = kd;
    plan->files[0].size = kl;
    plan->files[1].data = cdata;
    plan->files[1].size = (size_t)cl;
    kd = cdata = NULL;
    if (plan_target(&plan->files[0], key, 1, plan->files[0].data, plan->files[0].size, err) ||
        plan_target(&plan->files[1], crt, 0, plan->files[1].data, plan->files[1].size, err)) {
        ism_ci_fail_from(res, "write", err);
        goto out;
    }
    plan->n_files = 2;
    rc = 0;
out:
    if (own_key)
        EVP_PKEY_free(key_obj);
    sk_X509_free(chain);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    BIO_free(out_b);
    ism_ci_free_secret(kd, kl);
    free(cdata);
    ism_ci_bundle_free(&b);
    ism_ci_bundle_free(&cab);
    ism_ci_bundle_free(&kb);
    ERR_clear_error();
    return rc;
}

/* Whether path still holds what the plan found there. */
static int target_unchanged(const ism_cert_plan_file *f)
{
    char *cur = NULL;
    size_t len = 0;
    ism_err e = {0};
    if (ism_ci_read_old(f->path, &cur, &len, &e))
        return 0;
    int same = (cur != NULL) == (f->had_old != 0);
    if (same && cur) {
        unsigned char d[32];
        sha256(cur, len, d);
        same = memcmp(d, f->old_sha256, 32) == 0;
    }
    ism_ci_free_secret(cur, len);
    return same;
}

int ism_cert_install_commit(const ism_paths *p, ism_cert_plan *plan, ism_cert_result *res, ism_err *err)
{
    ism_cert_result dummy;
    char *old[2] = {NULL, NULL};
    size_t old_len[2] = {0, 0};
    char bak[2][ISM_PATH_MAX + 340];
    int n_bak = 0, n_wrote = 0, rc = -1;
    int bak_of[2] = {-1, -1};
    if (!res)
        res = &dummy;
    if (!plan || plan->n_files != 2 || plan->committed) {
        memset(res, 0, sizeof *res);
        return ism_ci_fail_check(res, err, ISM_E_USAGE, "write",
                                 plan && plan->committed ? "this install was already done" : "nothing planned to install");
    }
    *res = plan->res;
    res->n_written = res->n_backup = 0;

    /* Nothing is written if a target changed since the plan was shown. */
    for (int i = 0; i < 2; i++) {
        const ism_cert_plan_file *f = &plan->files[i];
        if (!target_unchanged(f)) {
            res->fix = ISM_FIX_NONE;
            return ism_ci_fail_check(res, err, ISM_E_INVALID, "write",
                                     "%s changed since the install was checked; nothing was written: check the "
                                     "install again",
                                     f->path);
        }
    }
    if ((plan->files[1].action != ISM_PLAN_UNCHANGED && ism_fs_mkdirs(p->crt, 0, err)) ||
        (plan->files[0].action != ISM_PLAN_UNCHANGED && ism_fs_mkdirs(p->key, 1, err))) {
        ism_ci_fail_from(res, "write", err);
        return -1;
    }
    /* The replaced files kept first, so a failure after this loses nothing. */
    for (int i = 0; i < 2; i++) {
        const ism_cert_plan_file *f = &plan->files[i];
        if (f->action != ISM_PLAN_REPLACE)
            continue;
        if (ism_ci_read_old(f->path, &old[i], &old_len[i], err))
            goto undo;
        if (!old[i]) {
            ism_err_set(err, ISM_E_IO, "%s disappeared while it was being replaced; check the install again", f->path);
            goto undo;
        }
        copy(bak[n_bak], sizeof bak[0], f->backup);
        if (ism_fs_exists(bak[n_bak]))
            backup_name(f->path, bak[n_bak], sizeof bak[0]);
        if (ism_fs_write_atomic(bak[n_bak], old[i], old_len[i], f->is_key, err))
            goto undo;
        bak_of[i] = n_bak++;
    }
    /* The key, then the certificate: each a temporary file renamed over the
     * target, so a reader sees the old file or the new, never half of one. */
    for (int i = 0; i < 2; i++) {
        const ism_cert_plan_file *f = &plan->files[i];
        if (f->action == ISM_PLAN_UNCHANGED)
            continue;
        if (ism_fs_write_atomic(f->path, f->data, f->size, f->is_key, err))
            goto undo;
        n_wrote = i + 1;
        ism_ci_wrote(res, f->path);
    }
    for (int i = 0; i < 2; i++)
        if (bak_of[i] >= 0) {
            if (res->n_backup < 3)
                copy(res->backup[res->n_backup++], sizeof res->backup[0], bak[bak_of[i]]);
            ism_ci_add_check(res, ISM_CHECK_OK, "backup", "kept the previous %s as %s", plan->files[i].path,
                             bak[bak_of[i]]);
        }
    if (res->n_written == 2)
        ism_ci_add_check(res, ISM_CHECK_OK, "write", "installed %s and %s", plan->files[1].path, plan->files[0].path);
    else if (res->n_written == 1)
        ism_ci_add_check(res, ISM_CHECK_OK, "write", "installed %s", res->written[0]);
    else
        ism_ci_add_check(res, ISM_CHECK_OK, "write", "%s and its key were already installed: nothing to change",
                         plan->files[1].path);
    plan->committed = 1;
    rc = 0;
    goto out;
undo:
    /* Back to what was there: the targets written so far, then the .bak files made. */
    {
        ism_err ignore = {0};
        for (int i = 0; i < n_wrote; i++) {
            const ism_cert_plan_file *f = &plan->files[i];
            if (f->action == ISM_PLAN_REPLACE && old[i])
                ism_fs_write_atomic(f->path, old[i], old_len[i], f->is_key, &ignore);
            else if (f->action == ISM_PLAN_CREATE)
                ism_fs_remove(f->path, &ignore);
        }
        for (int i = 0; i < n_bak; i++)
            ism_fs_remove(bak[i], &ignore);
        ism_ci_fail_from(res, "write", err);
        res->n_written = res->n_backup = 0;
    }
out:
    for (int i = 0; i < 2; i++)
        ism_ci_free_secret(old[i], old_len[i]);
    return rc;
}

int ism_cert_install(const ism_paths *p, const ism_cert_install_req *req, ism_cert_result *res, ism_err *err)
{
    ism_cert_plan *plan = calloc(1, sizeof *plan);
    if (!plan)
        return ism_err_set(err, ISM_E_IO, "out of memory");
    int rc = ism_cert_install_plan(p, req, plan, err);
    if (rc == 0)
        rc = ism_cert_install_commit(p, plan, res, err);
    else if (res)
        *res = plan->res;
    ism_cert_plan_free(plan);
    free(plan);
    return rc;
}

/* Keeps path as a .bak, then deletes it. */
static int retire(const char *path, int private_file, ism_cert_result *res, ism_err *err)
{
    char *old;
    size_t len;
    if (ism_ci_read_old(path, &old, &len, err))
        return -1;
    if (!old)
        return 0;
    int rc = ism_ci_keep_backup(path, old, len, private_file, res, err) || ism_fs_remove(path, err) ? -1 : 0;
    ism_ci_free_secret(old, len);
    return rc;
}

/* The start of remove and selfsign: res cleared and named after the domain
 * (checked as the "domain" argument), and the domain's two files. */
static int pair_paths(const ism_paths *p, const char *domain, ism_cert_result *res, char *crt, size_t crtsz,
                      char *key, size_t keysz, char *d, size_t dsz, ism_err *err)
{
    memset(res, 0, sizeof *res);
    if (ism_ci_domain_arg("domain", domain, d, dsz, err))
        return -1;
    copy(res->domain, sizeof res->domain, d);
    ism_paths_file(crt, crtsz, p->crt, d, ".crt");
    ism_paths_file(key, keysz, p->key, d, ".key");
    return 0;
}

int ism_cert_remove(const ism_paths *p, const char *domain, ism_cert_result *res, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], d[256];
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    if (pair_paths(p, domain, res, crt, sizeof crt, key, sizeof key, d, sizeof d, err))
        return -1;
    if (!ism_fs_exists(crt) && !ism_fs_exists(key)) {
        res->fix = ISM_FIX_LIST;
        return ism_ci_fail_check(res, err, ISM_E_INVALID, "remove",
                                 "no certificate installed for %s (%s does not exist)", d, crt);
    }
    /* The certificate first: a key without its certificate is harmless. */
    if (retire(crt, 0, res, err) || retire(key, 1, res, err)) {
        ism_ci_fail_from(res, "remove", err);
        return -1;
    }
    ism_ci_add_check(res, ISM_CHECK_OK, "remove", "removed %s and %s", crt, key);
    return 0;
}

int ism_cert_selfsign(const ism_paths *p, const char *domain, int force, ism_cert_result *res, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], d[256];
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    if (pair_paths(p, domain, res, crt, sizeof crt, key, sizeof key, d, sizeof d, err))
        return -1;
    if ((ism_fs_exists(crt) || ism_fs_exists(key)) && !force) {
        res->fix = ISM_FIX_FORCE;
        return ism_ci_fail_check(res, err, ISM_E_INVALID, "key",
                                 "%s already has a certificate or key (%s, %s); a pair is never replaced silently "
                                 "(replacing it keeps the old files as .bak)",
                                 d, crt, key);
    }
    char *oc = NULL, *ok = NULL;
    size_t ocl = 0, okl = 0;
    int rc = -1;
    if (ism_ci_read_old(crt, &oc, &ocl, err) || ism_ci_read_old(key, &ok, &okl, err) || ism_fs_mkdirs(p->crt, 0, err) ||
        ism_fs_mkdirs(p->key, 1, err) || (ok && ism_ci_keep_backup(key, ok, okl, 1, res, err)) ||
        (oc && ism_ci_keep_backup(crt, oc, ocl, 0, res, err)) || ism_tls_selfsign(d, crt, key, err)) {
        ism_ci_fail_from(res, "write", err);
    } else {
        ism_ci_wrote(res, key);
        ism_ci_wrote(res, crt);
        ism_ci_add_check(res, ISM_CHECK_WARN, "chain",
                  "self-signed: mail clients warn about it; use it until a certificate authority's is installed");
        rc = 0;
    }
    free(oc);
    ism_ci_free_secret(ok, okl);
    return rc;
}

int ism_cert_key_private(const char *path, ism_err *err)
{
    return ism_fs_private_check(path, err);
}
