/* ism_cert_describe: what a certificate or request is and in what state
 * (ism_cert_describe, ism_cert_show, ism_cert_list, the status words), as the
 * manager's lists and `ismailctl cert show|list` print it. */
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

/* ---- describing ---- */

void ism_ci_name_line(const X509_NAME *n, char *out, size_t outsz)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long l;
    out[0] = '\0';
    if (!b)
        return;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
        (l = BIO_get_mem_data(b, &p)) > 0)
        snprintf(out, outsz, "%.*s", (int)l, p);
    BIO_free(b);
}

static void name_cn(const X509_NAME *n, char *out, size_t outsz)
{
    out[0] = '\0';
    int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    unsigned char *u = NULL;
    if (i >= 0 && ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i))) >= 0 && u)
        copy(out, outsz, (const char *)u);
    OPENSSL_free(u);
}

static void san_list(const GENERAL_NAMES *gens, ism_cert_info *info)
{
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && info->n_san < ISM_CERT_MAX_SANS; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char *o = info->san[info->n_san];
        size_t osz = sizeof info->san[0];
        if (g->type == GEN_DNS) {
            snprintf(o, osz, "%.*s", ASN1_STRING_length(g->d.dNSName), (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_EMAIL) {
            snprintf(o, osz, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
                     (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
        } else if (g->type == GEN_IPADD) {
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
            int l = ASN1_STRING_length(g->d.iPAddress);
            if (l == 4) {
                snprintf(o, osz, "IP:%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
            } else {
                size_t w = (size_t)snprintf(o, osz, "IP:");
                for (int j = 0; j + 1 < l && w < osz; j += 2)
                    w += (size_t)snprintf(o + w, osz - w, "%s%x", j ? ":" : "", (a[j] << 8) | a[j + 1]);
            }
        } else {
            continue;
        }
        info->n_san++;
    }
}

static int64_t asn1_epoch(const ASN1_TIME *t)
{
    int days = 0, secs = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int ok = epoch && ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return ok ? (int64_t)days * 86400 + secs : 0;
}

static void key_desc(EVP_PKEY *k, ism_cert_info *info)
{
    if (!k)
        return;
    info->key_bits = EVP_PKEY_get_bits(k);
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
        copy(info->key_type, sizeof info->key_type, "RSA");
        break;
    case EVP_PKEY_EC: {
        char g[64] = "";
        size_t gl = 0;
        EVP_PKEY_get_group_name(k, g, sizeof g, &gl);
        const char *nist = strcmp(g, "prime256v1") == 0 ? "P-256"
                           : strcmp(g, "secp384r1") == 0 ? "P-384"
                           : strcmp(g, "secp521r1") == 0 ? "P-521"
                                                         : g;
        snprintf(info->key_type, sizeof info->key_type, "EC %s", nist);
        break;
    }
    case EVP_PKEY_ED25519:
        copy(info->key_type, sizeof info->key_type, "Ed25519");
        break;
    default:
        copy(info->key_type, sizeof info->key_type, OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
    }
}

static void hex_fp(const unsigned char *md, unsigned int n, char *out, size_t outsz)
{
    out[0] = '\0';
    for (unsigned int i = 0; i < n && (i * 3 + 3) < outsz; i++)
        snprintf(out + i * 3, outsz - i * 3, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

static void cert_fp(const X509 *x, char *out, size_t outsz)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &n))
        hex_fp(md, n, out, outsz);
}

int ism_ci_self_signed(X509 *x)
{
    int r = X509_self_signed(x, 1) == 1;
    ERR_clear_error();
    return r;
}

/* 1 when issuer issued x (names, key identifiers and the signature agree). */
int ism_ci_issued_by(X509 *issuer, X509 *x)
{
    int r = X509_check_issued(issuer, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return r;
}

void ism_ci_fmt_time(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M UTC", tm))
        copy(out, outsz, "?");
}

void ism_ci_describe_x509(X509 *x, ism_cert_info *info)
{
    ism_ci_name_line(X509_get_subject_name(x), info->subject, sizeof info->subject);
    ism_ci_name_line(X509_get_issuer_name(x), info->issuer, sizeof info->issuer);
    name_cn(X509_get_subject_name(x), info->cn, sizeof info->cn);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    san_list(gens, info);
    GENERAL_NAMES_free(gens);
    info->self_signed = ism_ci_self_signed(x);
    info->not_before = asn1_epoch(X509_get0_notBefore(x));
    info->not_after = asn1_epoch(X509_get0_notAfter(x));
    int64_t left = info->not_after - (int64_t)time(NULL);
    info->days_left = (long)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
    key_desc(X509_get0_pubkey(x), info);
    copy(info->sig_alg, sizeof info->sig_alg, OBJ_nid2ln(X509_get_signature_nid(x)));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    copy(info->serial, sizeof info->serial, hex);
    OPENSSL_free(hex);
    BN_free(bn);
    cert_fp(x, info->fingerprint, sizeof info->fingerprint);
    ERR_clear_error();
}

/* The domain a certificate is for: its CN when that is a plain DNS name,
 * else its first DNS name that is not a wildcard. */
void ism_ci_cert_domain(const ism_cert_info *info, char *out, size_t outsz)
{
    char why[200], h[256];
    out[0] = '\0';
    ism_ci_canon_host(info->cn, h, sizeof h);
    if (h[0] && ism_ci_dns_name_ok(h, 0, why, sizeof why)) {
        copy(out, outsz, h);
        return;
    }
    for (int i = 0; i < info->n_san; i++) {
        ism_ci_canon_host(info->san[i], h, sizeof h);
        if (ism_ci_dns_name_ok(h, 0, why, sizeof why)) {
            copy(out, outsz, h);
            return;
        }
    }
}

/* Checks the key at key_path against the certificate (x) or request (r). */
static void check_key(const char *key_path, X509 *x, X509_REQ *r, ism_cert_info *info)
{
    ism_err e = {0};
    copy(info->key_path, sizeof info->key_path, key_path);
    if (!ism_fs_exists(key_path)) {
        info->key_state = ISM_KEY_MISSING;
        snprintf(info->problem, sizeof info->problem,
                 "%s does not exist: the service cannot use this certificate without its key; install the certificate "
                 "again with the key made with its CSR",
                 key_path);
        info->fix = ISM_FIX_KEY;
        return;
    }
    if (ism_fs_private_check(key_path, &e)) {
        info->key_state = e.kind == ISM_E_TLS ? ISM_KEY_NOT_PRIVATE : ISM_KEY_UNREADABLE;
        copy(info->problem, sizeof info->problem, e.msg);
        return;
    }
    EVP_PKEY *k = ism_ci_load_key_file(key_path, NULL, &e);
    if (!k) {
        info->key_state = ISM_KEY_UNREADABLE;
        copy(info->problem, sizeof info->problem, e.msg);
        return;
    }
    int match = x ? X509_check_private_key(x, k) == 1 : X509_REQ_check_private_key(r, k) == 1;
    ERR_clear_error();
    EVP_PKEY_free(k);
    info->key_state = match ? ISM_KEY_MATCH : ISM_KEY_MISMATCH;
    if (!match)
        info->fix = ISM_FIX_KEY;
    if (!match)
        snprintf(info->problem, sizeof info->problem,
                 "%s is not the key of this %s (it was made for another CSR); the service refuses the pair: install "
                 "the matching key, or the certificate made from this key's CSR",
                 key_path, x ? "certificate" : "request");
}

void ism_ci_set_status(ism_cert_info *info)
{
    char when[40];
    if (info->is_csr) {
        info->status = info->key_state == ISM_KEY_MATCH ? ISM_CS_PENDING
                       : info->key_state == ISM_KEY_MISMATCH ? ISM_CS_MISMATCH
                       : info->key_state == ISM_KEY_MISSING ? ISM_CS_NO_KEY
                                                            : ISM_CS_KEY_NOT_PRIVATE;
        if (info->key_state == ISM_KEY_MATCH)
            copy(info->problem, sizeof info->problem, "");
        return;
    }
    int64_t now = (int64_t)time(NULL);
    if (info->not_after < now) {
        info->status = ISM_CS_EXPIRED;
        ism_ci_fmt_time(info->not_after, when, sizeof when);
        snprintf(info->problem, sizeof info->problem,
                 "the certificate expired on %s; clients refuse it: renew it with the certificate authority (a new key "
                 "and CSR) and install the new one",
                 when);
        info->fix = ISM_FIX_NEW_CSR;
    } else if (info->not_before > now) {
        info->status = ISM_CS_NOT_YET_VALID;
        ism_ci_fmt_time(info->not_before, when, sizeof when);
        snprintf(info->problem, sizeof info->problem,
                 "the certificate is not valid before %s; check this computer's clock and time zone", when);
    } else if (info->key_state == ISM_KEY_MISMATCH) {
        info->status = ISM_CS_MISMATCH;
    } else if (info->key_state == ISM_KEY_MISSING) {
        info->status = ISM_CS_NO_KEY;
    } else if (info->key_state == ISM_KEY_NOT_PRIVATE || info->key_state == ISM_KEY_UNREADABLE) {
        info->status = ISM_CS_KEY_NOT_PRIVATE;
    } else if (!info->chain_complete) {
        info->status = ISM_CS_INCOMPLETE_CHAIN;
        snprintf(info->problem, sizeof info->problem,
                 "the certificate of its issuer (%s) is not in the file; clients that do not have it refuse the "
                 "certificate: get the intermediate certificate from the certificate authority and install again "
                 "with it as the CA file",
                 info->issuer);
        info->fix = ISM_FIX_CA;
    } else if (info->days_left < ISM_CERT_EXPIRING_DAYS) {
        info->status = ISM_CS_EXPIRING;
        ism_ci_fmt_time(info->not_after, when, sizeof when);
        snprintf(info->problem, sizeof info->problem,
                 "the certificate expires on %s (%ld days left); renew it with the certificate authority", when,
                 info->days_left);
    } else {
        info->status = ISM_CS_OK;
        info->problem[0] = '\0';
    }
    if (info->status == ISM_CS_OK || info->status == ISM_CS_EXPIRING || info->status == ISM_CS_NOT_YET_VALID)
        info->fix = ISM_FIX_NONE;
}

const char *ism_cert_status_word(ism_cert_status s)
{
    static const char *const words[] = {"ok",      "expiring",        "expired",          "not yet valid",
                                        "mismatch", "no key",         "key not private",  "incomplete chain",
                                        "unreadable", "pending"};
    return (unsigned)s < sizeof words / sizeof words[0] ? words[s] : "?";
}

void ism_ci_chain_link(X509 *x, ism_cert_link *l)
{
    ism_ci_name_line(X509_get_subject_name(x), l->subject, sizeof l->subject);
    ism_ci_name_line(X509_get_issuer_name(x), l->issuer, sizeof l->issuer);
    l->not_after = asn1_epoch(X509_get0_notAfter(x));
    cert_fp(x, l->fingerprint, sizeof l->fingerprint);
}

int ism_cert_describe(const char *path, int is_csr, const char *key_path, ism_cert_info *info, ism_err *err)
{
    ism_ci_bundle b;
    memset(info, 0, sizeof *info);
    copy(info->path, sizeof info->path, path);
    info->is_csr = is_csr;
    if (ism_ci_load_bundle(path, NULL, &b, err))
        return -1;
    X509 *x = NULL;
    if (is_csr) {
        if (!b.req) {
            ism_ci_bundle_free(&b);
            return ism_err_set(err, ISM_E_INVALID, "%s holds no certificate request (-----BEGIN CERTIFICATE REQUEST-----)",
                               path);
        }
        X509_REQ *r = b.req;
        ism_ci_name_line(X509_REQ_get_subject_name(r), info->subject, sizeof info->subject);
        name_cn(X509_REQ_get_subject_name(r), info->cn, sizeof info->cn);
        STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(r);
        for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
            X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
            if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name) {
                GENERAL_NAMES *g = X509V3_EXT_d2i(e);
                san_list(g, info);
                GENERAL_NAMES_free(g);
            }
        }
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        EVP_PKEY *pk = X509_REQ_get0_pubkey(r);
        key_desc(pk, info);
        info->signature_ok = pk && X509_REQ_verify(r, pk) == 1;
        copy(info->sig_alg, sizeof info->sig_alg, OBJ_nid2ln(X509_REQ_get_signature_nid(r)));
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (X509_REQ_digest(r, EVP_sha256(), md, &n))
            hex_fp(md, n, info->fingerprint, sizeof info->fingerprint);
        info->chain_complete = 1;
        ERR_clear_error();
    } else {
        if (sk_X509_num(b.certs) == 0) {
            ism_ci_bundle_free(&b);
            return ism_err_set(err, ISM_E_INVALID, "%s holds no certificate%s", path,
                               b.req ? " but a certificate request: send it to the certificate authority" : "");
        }
        x = sk_X509_value(b.certs, 0);
        ism_ci_describe_x509(x, info);
        info->chain_complete = info->self_signed;
        for (int i = 1; i < sk_X509_num(b.certs); i++) {
            X509 *c = sk_X509_value(b.certs, i);
            if (info->n_chain < ISM_CERT_MAX_CHAIN) {
                ism_ci_chain_link(c, &info->chain[info->n_chain++]);
            }
            if (ism_ci_issued_by(c, x))
                info->chain_complete = 1;
        }
    }
    ism_ci_cert_domain(info, info->domain, sizeof info->domain);
    if (key_path)
        check_key(key_path, x, b.req, info);
    else
        info->key_state = ISM_KEY_MISSING;
    ism_ci_set_status(info);
    ism_ci_bundle_free(&b);
    return 0;
}

/* A domain given on the command line or in a dialog, checked because it
 * becomes a file name. */
int ism_ci_domain_arg(const char *what, const char *domain, char *out, size_t outsz, ism_err *err)
{
    char h[300], why[200];
    ism_ci_canon_host(domain, h, sizeof h);
    if (!ism_ci_dns_name_ok(h, 0, why, sizeof why))
        return ism_err_set(err, ISM_E_INVALID, "%s: '%s' is not a domain name: %s", what, domain ? domain : "", why);
    copy(out, outsz, h);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    return b;
}

int ism_cert_show(const ism_paths *p, const char *what, int is_csr, ism_cert_info *info, ism_err *err)
{
    char path[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], dom[256], why[200], h[300];
    const char *ext = is_csr ? ".csr" : ".crt";
    ism_ci_canon_host(what, h, sizeof h);
    int is_domain = !strchr(what, '/') && !strchr(what, '\\') && ism_ci_dns_name_ok(h, 0, why, sizeof why);
    if (is_domain) {
        ism_paths_file(path, sizeof path, is_csr ? p->csr : p->crt, h, ext);
        if (!ism_fs_exists(path) && ism_fs_exists(what))
            is_domain = 0; /* a file named like a domain, in the current folder */
    }
    if (is_domain) {
        if (!ism_fs_exists(path))
            return ism_err_set(err, ISM_E_INVALID, "%s: no %s for %s (%s does not exist)", h,
                               is_csr ? "certificate request" : "certificate installed", h, path);
        ism_paths_file(key, sizeof key, p->key, h, ".key");
        if (ism_cert_describe(path, is_csr, key, info, err))
            return -1;
        copy(info->domain, sizeof info->domain, h);
        return 0;
    }
    if (!ism_fs_exists(what))
        return ism_err_set(err, ISM_E_INVALID, "%s: no such file, and not a domain name", what);
    /* A file: its key is ssl.key/NAME.key, NAME its name without the extension. */
    copy(dom, sizeof dom, base_name(what));
    char *dot = strrchr(dom, '.');
    if (dot && (strcmp(dot, ".crt") == 0 || strcmp(dot, ".csr") == 0 || strcmp(dot, ".pem") == 0 ||
                strcmp(dot, ".cer") == 0 || strcmp(dot, ".der") == 0))
        *dot = '\0';
    ism_ci_canon_host(dom, h, sizeof h);
    if (ism_cert_describe(what, is_csr, NULL, info, err))
        return -1;
    if (!ism_ci_dns_name_ok(h, 0, why, sizeof why))
        copy(h, sizeof h, info->domain);
    if (h[0]) {
        ism_paths_file(key, sizeof key, p->key, h, ".key");
        if (!ism_fs_exists(key) && info->domain[0])
            ism_paths_file(key, sizeof key, p->key, info->domain, ".key");
        if (ism_cert_describe(what, is_csr, key, info, err))
            return -1;
    }
    return 0;
}

typedef struct {
    char (*names)[260];
    size_t n, cap;
} name_list;

static void collect(const char *name, void *ctx)
{
    name_list *l = ctx;
    if (strlen(name) >= sizeof l->names[0])
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *nv = realloc(l->names, cap * sizeof l->names[0]);
        if (!nv)
            return;
        l->names = nv;
        l->cap = cap;
    }
    copy(l->names[l->n++], sizeof l->names[0], name);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int ism_cert_list(const ism_paths *p, ism_cert_info **v, size_t *n, ism_err *err)
{
    name_list l = {NULL, 0, 0};
    *v = NULL;
    *n = 0;
    if (!ism_fs_exists(p->crt))
        return 0;
    if (ism_fs_list(p->crt, ".crt", collect, &l, err)) {
        free(l.names);
        return -1;
    }
    if (l.n)
        qsort(l.names, l.n, sizeof l.names[0], cmp_names);
    ism_cert_info *out = calloc(l.n ? l.n : 1, sizeof *out);
    if (!out) {
        free(l.names);
        return ism_err_set(err, ISM_E_IO, "out of memory listing %s", p->crt);
    }
    for (size_t i = 0; i < l.n; i++) {
        char path[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], dom[260];
        ism_err e = {0};
        copy(dom, sizeof dom, l.names[i]);
        dom[strlen(dom) - 4] = '\0';
        ism_paths_file(path, sizeof path, p->crt, dom, ".crt");
        ism_paths_file(key, sizeof key, p->key, dom, ".key");
        if (ism_cert_describe(path, 0, key, &out[i], &e)) {
            memset(&out[i], 0, sizeof out[i]);
            copy(out[i].path, sizeof out[i].path, path);
            out[i].status = ISM_CS_UNREADABLE;
            copy(out[i].problem, sizeof out[i].problem, e.msg);
        }
        copy(out[i].domain, sizeof out[i].domain, dom);
    }
    free(l.names);
    *v = out;
    *n = l.n;
    return 0;
}

