/* ism_tls: TLS context generations and the self-signed first-start
 * certificate (see ism_tls.h). */
#include "ism_tls.h"
#include "ism_keyprotect.h"
#include "ism_platform.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mozilla's "intermediate" configuration without the finite-field DHE
 * suites. TLS 1.3: the same three suites as OpenSSL's default, AES-128-GCM
 * first (Mozilla's order): its SHA-256 key schedule and transcript hash run
 * on the SHA extensions most server processors have, where OpenSSL's default
 * first choice (AES-256-GCM-SHA384) spends about a tenth of a full handshake's
 * CPU in SHA-512 blocks. All three are 128-bit secure or better, like the
 * P-256 and X25519 exchanges in front of them. */
#define INTERMEDIATE_CIPHERS                                                                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                    \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define MAX_PEM (256 * 1024)

struct ism_tls_gen {
    atomic_int refs;
    SSL_CTX *ctx;
    char fingerprint[100];
};

int ism_tls_explain_refusal(const SSL_CTX *ctx, X509 *x, unsigned long e, char *out, size_t outsz, const char **fix)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return 0;
    int level = SSL_CTX_get_security_level(ctx);
    EVP_PKEY *k = X509_get0_pubkey(x);
    const char *type = k ? EVP_PKEY_get0_type_name(k) : NULL;
    int md = NID_undef;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_EE_KEY_TOO_SMALL:
    case SSL_R_CA_KEY_TOO_SMALL:
        if (k && EVP_PKEY_is_a(k, "RSA") && ERR_GET_REASON(e) == SSL_R_EE_KEY_TOO_SMALL) {
            /* The manual's own command makes these (openssl req -newkey
             * rsa:1024): give it back with the size that works. */
            snprintf(out, outsz,
                     "has a key of %d bits (RSA), which OpenSSL refuses for TLS: %d-bit RSA is too weak (security "
                     "level %d: RSA keys of 2048 bits or more)",
                     EVP_PKEY_get_bits(k), EVP_PKEY_get_bits(k), level);
            *fix = "make a new key and CSR with: " ISM_TLS_RSA_CSR_COMMAND " (the manual's command, with rsa:2048 "
                   "in place of rsa:1024), and get a certificate for it";
            return 1;
        }
        snprintf(out, outsz,
                 "has a key of %d bits (%s), which OpenSSL refuses for TLS (security level %d: RSA keys of 2048 bits "
                 "or more, EC keys of 224 bits or more)",
                 k ? EVP_PKEY_get_bits(k) : 0, type ? type : "?", level);
        *fix = "make a new CSR with rsa:2048 or more, or ec:P-256, and get a certificate for it";
        return 1;
    case SSL_R_CA_MD_TOO_WEAK:
        X509_get_signature_info(x, &md, NULL, NULL, NULL);
        snprintf(out, outsz, "is signed with %s, which OpenSSL refuses for TLS (security level %d: no SHA-1 or MD5 "
                             "signatures)",
                 md != NID_undef ? OBJ_nid2sn(md) : "a weak digest", level);
        *fix = "ask the certificate authority for a certificate signed with SHA-256";
        return 1;
    default:
        return 0;
    }
}

/* ": the certificate has a key of ...; make a new CSR ..." for err, or "". */
static const char *refusal_text(const SSL_CTX *ctx, X509 *x, char *buf, size_t bufsz)
{
    char why[300];
    const char *fix = "";
    if (!ism_tls_explain_refusal(ctx, x, ERR_peek_last_error(), why, sizeof why, &fix))
        return "";
    snprintf(buf, bufsz, ": it %s; %s", why, fix);
    return buf;
}

static BIO *file_bio(const char *path, ism_err *err)
{
    char *data;
    size_t len;
    if (ism_fs_read(path, MAX_PEM, &data, &len, err))
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (b)
        BIO_write(b, data, (int)len);
    OPENSSL_cleanse(data, len);
    free(data);
    if (!b)
        ism_err_set(err, ISM_E_TLS, "out of memory reading %s", path);
    return b;
}

static void fingerprint(X509 *x, char *out, size_t outsz)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!X509_digest(x, EVP_sha256(), md, &n))
        return;
    for (unsigned int i = 0; i < n && (i * 3 + 3) < outsz; i++)
        snprintf(out + i * 3, outsz - i * 3, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

int ism_tls_gen_build(ism_tls_gen **out, const char *profile, const char *crt_path, const char *key_path,
                      ism_err *err)
{
    ism_tls_gen *g = calloc(1, sizeof *g);
    BIO *cb = NULL, *kb = NULL;
    X509 *leaf = NULL;
    EVP_PKEY *key = NULL;
    if (!g)
        return ism_err_set(err, ISM_E_TLS, "out of memory building a TLS context");
    atomic_init(&g->refs, 1);
    ERR_clear_error();
    g->ctx = SSL_CTX_new(TLS_server_method());
    if (!g->ctx) {
        ism_err_set(err, ISM_E_TLS, "cannot create a TLS context");
        goto fail;
    }
    int modern = strcmp(profile, "modern") == 0;
    SSL_CTX_set_min_proto_version(g->ctx, modern ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(g->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(g->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set_cipher_list(g->ctx, INTERMEDIATE_CIPHERS) || !SSL_CTX_set_ciphersuites(g->ctx, TLS13_SUITES) ||
        !SSL_CTX_set1_groups_list(g->ctx, ISM_TLS_GROUPS)) {
        ism_err_set(err, ISM_E_TLS, "tls.profile %s: the cipher or group list was refused by OpenSSL", profile);
        goto fail;
    }

    if (!(cb = file_bio(crt_path, err)))
        goto fail;
    leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    if (!leaf) {
        ism_err_set(err, ISM_E_TLS, "%s: no PEM certificate found; the file must start with the domain's certificate",
                    crt_path);
        goto fail;
    }
    if (SSL_CTX_use_certificate(g->ctx, leaf) != 1) {
        char why[512];
        ism_err_set(err, ISM_E_TLS, "%s: certificate refused%s", crt_path, refusal_text(g->ctx, leaf, why, sizeof why));
        goto fail;
    }
    X509 *ca;
    while ((ca = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL) {
        if (!SSL_CTX_add0_chain_cert(g->ctx, ca)) {
            char why[512];
            ism_err_set(err, ISM_E_TLS, "%s: a chain certificate was refused%s", crt_path,
                        refusal_text(g->ctx, ca, why, sizeof why));
            X509_free(ca);
            goto fail;
        }
    }
    ERR_clear_error(); /* the loop above ends on "no start line" */

    /* A key others can read may already be copied: refuse it, as OpenSSH
     * does, so the administrator notices and restricts it (the message names
     * the manager's button and the command that do). */
    if (ism_key_check(key_path, err) || !(kb = file_bio(key_path, err)))
        goto fail;
    key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    if (!key) {
        ism_err_set(err, ISM_E_TLS,
                    "%s: no usable private key (PEM without a pass phrase is required); is it the right file?",
                    key_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(g->ctx, key) != 1 || SSL_CTX_check_private_key(g->ctx) != 1) {
        ism_err_set(err, ISM_E_TLS, "%s does not match the certificate %s; install the key made with its CSR",
                    key_path, crt_path);
        goto fail;
    }
    fingerprint(leaf, g->fingerprint, sizeof g->fingerprint);
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    *out = g;
    return 0;
fail:
    ism_err_add_openssl(err);
    X509_free(leaf);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    ism_tls_gen_unref(g);
    return -1;
}

ism_tls_gen *ism_tls_gen_ref(ism_tls_gen *g)
{
    if (g)
        atomic_fetch_add(&g->refs, 1);
    return g;
}

void ism_tls_gen_unref(ism_tls_gen *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) {
        SSL_CTX_free(g->ctx);
        free(g);
    }
}

SSL_CTX *ism_tls_gen_ctx(const ism_tls_gen *g)
{
    return g->ctx;
}

const char *ism_tls_gen_fingerprint(const ism_tls_gen *g)
{
    return g->fingerprint;
}

static int pem_out(BIO *b, char **data, long *len)
{
    char *p;
    *len = BIO_get_mem_data(b, &p);
    *data = p;
    return *len > 0;
}

int ism_tls_selfsign(const char *domain, const char *crt_path, const char *key_path, ism_err *err)
{
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    BIO *kb = NULL, *cb = NULL;
    X509_EXTENSION *ext = NULL;
    int rc = -1;
    char san[300];
    ERR_clear_error();
    key = EVP_RSA_gen(2048);
    x = X509_new();
    if (!key || !x)
        goto ssl_fail;
    X509_set_version(x, 2);
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (RAND_bytes(serial, sizeof serial) != 1 || !(bn = BN_bin2bn(serial, sizeof serial, NULL)))
        goto ssl_fail;
    BN_set_bit(bn, 0);
    BN_clear_bit(bn, 127); /* positive, 16 bytes */
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)domain, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"ISMail self-signed", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    snprintf(san, sizeof san, "DNS:%s", domain);
    const char *exts[][2] = {{"subjectAltName", san},
                             {"basicConstraints", "critical,CA:FALSE"},
                             {"keyUsage", "critical,digitalSignature,keyEncipherment"},
                             {"extendedKeyUsage", "serverAuth"},
                             {"subjectKeyIdentifier", "hash"}};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!ext || !X509_add_ext(x, ext, -1))
            goto ssl_fail;
        X509_EXTENSION_free(ext);
        ext = NULL;
    }
    if (!X509_sign(x, key, EVP_sha256()))
        goto ssl_fail;
    kb = BIO_new(BIO_s_mem());
    cb = BIO_new(BIO_s_mem());
    char *kd, *cd;
    long kl, cl;
    if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x) ||
        !pem_out(kb, &kd, &kl) || !pem_out(cb, &cd, &cl))
        goto ssl_fail;
    /* Key first: a certificate without its key would be unusable. */
    if (ism_fs_write_atomic(key_path, kd, (size_t)kl, 1, err) || ism_fs_write_atomic(crt_path, cd, (size_t)cl, 0, err))
        goto out;
    rc = 0;
    goto out;
ssl_fail:
    ism_err_set(err, ISM_E_TLS, "cannot create a self-signed certificate for %s", domain);
    ism_err_add_openssl(err);
out:
    X509_EXTENSION_free(ext);
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}
