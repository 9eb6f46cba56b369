/* ism_cert_load: reading certificates, requests and keys (see ism_cert.h).
 *
 * A file is recognised by its content, never by its name: PEM (any mix of
 * certificates, PKCS#7 chains, keys and a request), DER (certificate,
 * request, PKCS#7) or PKCS#12 (PFX). Keys are matched against certificates
 * here too; what is read is only ever held in memory and wiped after use. */
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

void ism_ci_free_secret(char *p, size_t len)
{
    if (p) {
        OPENSSL_cleanse(p, len);
        free(p);
    }
}

/* ---- reading certificates, CSRs and keys ---- */

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    if (!pw) /* never prompt on a console the service does not have */
        return 0;
    int n = (int)strlen(pw);
    if (n > size)
        n = size;
    memcpy(buf, pw, (size_t)n);
    return n;
}

void ism_ci_bundle_free(ism_ci_bundle *b)
{
    sk_X509_pop_free(b->certs, X509_free);
    for (int i = 0; i < b->n_keys; i++)
        EVP_PKEY_free(b->keys[i]);
    X509_REQ_free(b->req);
    memset(b, 0, sizeof *b);
}

static int is_cert_label(const char *name)
{
    return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
           strcmp(name, "TRUSTED CERTIFICATE") == 0;
}

static int add_p7_certs(ism_ci_bundle *b, PKCS7 *p7)
{
    STACK_OF(X509) *c = NULL;
    if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign)
        c = p7->d.sign->cert;
    for (int i = 0; c && i < sk_X509_num(c); i++) {
        X509 *x = sk_X509_value(c, i);
        if (!X509_up_ref(x) || !sk_X509_push(b->certs, x))
            return -1;
    }
    return c && sk_X509_num(c) > 0 ? 0 : -1;
}

static int load_pem(const char *path, const char *data, size_t len, const char *password, ism_ci_bundle *b, ism_err *err)
{
    BIO *in = BIO_new_mem_buf(data, (int)len);
    int n = 0, rc = 0;
    if (!in)
        return ism_err_set(err, ISM_E_IO, "out of memory reading %s", path);
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long dl = 0;
        if (!PEM_read_bio(in, &name, &header, &der, &dl)) {
            unsigned long e = ERR_peek_last_error();
            if (n > 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                rc = ism_err_set(err, ISM_E_INVALID,
                                 "%s: PEM block %d is damaged or cut short (bad base64 or no END line); copy the file "
                                 "again",
                                 path, n + 1);
            else if (n == 0)
                rc = ism_err_set(err, ISM_E_INVALID,
                                 "%s: the PEM text is damaged or cut short (bad base64 or no END line); copy the file "
                                 "again",
                                 path);
            ERR_clear_error();
            break;
        }
        n++;
        const unsigned char *q = der;
        if (is_cert_label(name)) {
            X509 *x = strcmp(name, "TRUSTED CERTIFICATE") == 0 ? d2i_X509_AUX(NULL, &q, dl) : d2i_X509(NULL, &q, dl);
            if (!x || !sk_X509_push(b->certs, x)) {
                X509_free(x);
                rc = ism_err_set(err, ISM_E_INVALID, "%s: certificate %d (PEM block %d) is damaged; copy the file again",
                                 path, sk_X509_num(b->certs) + 1, n);
            }
        } else if (strcmp(name, "CERTIFICATE REQUEST") == 0 || strcmp(name, "NEW CERTIFICATE REQUEST") == 0) {
            X509_REQ_free(b->req);
            b->req = d2i_X509_REQ(NULL, &q, dl);
            if (!b->req)
                rc = ism_err_set(err, ISM_E_INVALID, "%s: the certificate request is damaged", path);
        } else if (strcmp(name, "PKCS7") == 0 || strcmp(name, "CERTIFICATE CHAIN") == 0) {
            PKCS7 *p7 = d2i_PKCS7(NULL, &q, dl);
            if (add_p7_certs(b, p7))
                rc = ism_err_set(err, ISM_E_INVALID, "%s: the PKCS#7 block holds no certificate", path);
            PKCS7_free(p7);
        } else if (strstr(name, "PRIVATE KEY")) {
            /* Back to PEM so OpenSSL handles every key format and the old
             * "Proc-Type: 4,ENCRYPTED" headers alike. */
            BIO *kb = BIO_new(BIO_s_mem());
            EVP_PKEY *k = NULL;
            if (kb && PEM_write_bio(kb, name, header, der, dl) > 0)
                k = PEM_read_bio_PrivateKey(kb, NULL, pw_cb, (void *)password);
            BIO_free(kb);
            /* Encrypted is told by the content (the PKCS#8 label or the old
             * DEK-Info header), never by the file's name. */
            int encrypted = strstr(name, "ENCRYPTED") || (header && strstr(header, "ENCRYPTED"));
            if (!k && encrypted && !password)
                rc = ism_err_set(err, ISM_E_NEED_PASSWORD,
                                 "%s: the private key is protected by a password (it is installed without one)", path);
            else if (!k && encrypted)
                rc = ism_err_set(err, ISM_E_BAD_PASSWORD, "%s: the password does not open the private key", path);
            else if (!k)
                rc = ism_err_set(err, ISM_E_INVALID, "%s: the private key is damaged", path);
            else if (b->n_keys < 4)
                b->keys[b->n_keys++] = k;
            else
                EVP_PKEY_free(k);
        } /* anything else (EC PARAMETERS, ...) is not ours: skipped */
        OPENSSL_free(name);
        OPENSSL_free(header);
        if (der)
            OPENSSL_cleanse(der, (size_t)dl);
        OPENSSL_free(der);
        if (rc)
            break;
    }
    BIO_free(in);
    ERR_clear_error();
    return rc;
}

/* A DER object's declared total length, or 0 when data does not start with a
 * definite-length SEQUENCE. */
static size_t der_declared_len(const unsigned char *d, size_t len)
{
    if (len < 2 || d[0] != 0x30)
        return 0;
    if (d[1] < 0x80)
        return 2 + (size_t)d[1];
    size_t nb = d[1] & 0x7f, v = 0;
    if (nb == 0 || nb > 4 || len < 2 + nb)
        return 0;
    for (size_t i = 0; i < nb; i++)
        v = (v << 8) | d[2 + i];
    return 2 + nb + v;
}

static int load_pkcs12(const char *path, PKCS12 *p12, const char *password, ism_ci_bundle *b, ism_err *err)
{
    const char *pw = password;
    if (PKCS12_mac_present(p12)) {
        if (!password) {
            if (PKCS12_verify_mac(p12, NULL, 0))
                pw = NULL;
            else if (PKCS12_verify_mac(p12, "", 0))
                pw = "";
            else
                return ism_err_set(err, ISM_E_NEED_PASSWORD, "%s is a PKCS#12 (PFX) file protected by a password",
                                   path);
        } else if (!PKCS12_verify_mac(p12, password, -1)) {
            /* A file that opens without a password takes any it is given. */
            if (PKCS12_verify_mac(p12, NULL, 0))
                pw = NULL;
            else if (PKCS12_verify_mac(p12, "", 0))
                pw = "";
            else
                return ism_err_set(err, ISM_E_BAD_PASSWORD,
                                   "%s: the password does not open this PKCS#12 (PFX) file", path);
        }
    }
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    if (!PKCS12_parse(p12, pw, &key, &cert, &ca)) {
        /* Files exported by older Windows use RC2 or 3DES, which OpenSSL 3
         * keeps in its legacy provider: try again with it. */
        ERR_clear_error();
        /* Loaded once and kept: OpenSSL frees it at exit only through the handle. */
        static OSSL_PROVIDER *legacy;
        if (!legacy)
            legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
        if (legacy == NULL || !PKCS12_parse(p12, pw, &key, &cert, &ca)) {
            ERR_clear_error();
            return ism_err_set(err, ISM_E_INVALID,
                               "%s: the PKCS#12 (PFX) file cannot be read (it may use old RC2/3DES encryption); export "
                               "it again with AES (Windows: 'Export' with AES256-SHA256)",
                               path);
        }
    }
    if (cert && !sk_X509_push(b->certs, cert))
        X509_free(cert);
    for (int i = 0; ca && i < sk_X509_num(ca); i++) {
        X509 *x = sk_X509_value(ca, i);
        if (X509_up_ref(x) && !sk_X509_push(b->certs, x))
            X509_free(x);
    }
    sk_X509_pop_free(ca, X509_free);
    if (key)
        b->keys[b->n_keys++] = key;
    b->format = "PKCS#12";
    return 0;
}

/* A DER private key (PKCS#8, plain or encrypted, or the traditional RSA/EC
 * forms): 1 when data is one (*rc then 0, or -1 with err when it cannot be
 * opened), 0 when it is not a key. */
static int der_private_key(const char *path, const unsigned char *data, size_t len, const char *password,
                           ism_ci_bundle *b, int *rc, ism_err *err)
{
    const unsigned char *q = data;
    EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &q, (long)len);
    if (!k) {
        q = data;
        X509_SIG *enc = d2i_X509_SIG(NULL, &q, (long)len);
        if (!enc)
            return 0;
        PKCS8_PRIV_KEY_INFO *p8 = password ? PKCS8_decrypt(enc, password, (int)strlen(password)) : NULL;
        X509_SIG_free(enc);
        if (!p8) {
            *rc = password ? ism_err_set(err, ISM_E_BAD_PASSWORD, "%s: the password does not open the private key", path)
                           : ism_err_set(err, ISM_E_NEED_PASSWORD,
                                         "%s: the private key is protected by a password (it is installed without one)",
                                         path);
            return 1;
        }
        k = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
        if (!k) {
            *rc = ism_err_set(err, ISM_E_INVALID, "%s: the private key is damaged", path);
            return 1;
        }
    }
    b->keys[b->n_keys++] = k;
    *rc = 0;
    return 1;
}

/* Reads every certificate, key and request in a PEM, DER or PKCS#12 file. */
int ism_ci_load_bundle(const char *path, const char *password, ism_ci_bundle *b, ism_err *err)
{
    char *data;
    size_t len;
    memset(b, 0, sizeof *b);
    if (ism_fs_read(path, CERT_MAX_INPUT, &data, &len, err))
        return -1;
    b->certs = sk_X509_new_null();
    int rc = 0;
    ERR_clear_error();
    if (!b->certs) {
        rc = ism_err_set(err, ISM_E_IO, "out of memory reading %s", path);
    } else if (len == 0) {
        rc = ism_err_set(err, ISM_E_INVALID, "%s is empty; copy the certificate again", path);
    } else if (strstr(data, "-----BEGIN ")) {
        b->format = "PEM";
        rc = load_pem(path, data, len, password, b, err);
        if (!rc && sk_X509_num(b->certs) == 0 && b->n_keys == 0 && !b->req)
            rc = ism_err_set(err, ISM_E_INVALID, "%s holds no certificate (no -----BEGIN CERTIFICATE----- block)", path);
    } else {
        const unsigned char *q = (const unsigned char *)data;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        X509_REQ *r = NULL;
        PKCS12 *p12 = NULL;
        PKCS7 *p7 = NULL;
        if (x) {
            b->format = "DER";
            sk_X509_push(b->certs, x);
        } else if ((q = (const unsigned char *)data, r = d2i_X509_REQ(NULL, &q, (long)len)) != NULL) {
            b->format = "DER";
            b->req = r;
        } else if ((q = (const unsigned char *)data, p12 = d2i_PKCS12(NULL, &q, (long)len)) != NULL) {
            rc = load_pkcs12(path, p12, password, b, err);
            PKCS12_free(p12);
        } else if ((q = (const unsigned char *)data, p7 = d2i_PKCS7(NULL, &q, (long)len)) != NULL) {
            b->format = "DER";
            if (add_p7_certs(b, p7))
                rc = ism_err_set(err, ISM_E_INVALID, "%s: the PKCS#7 file holds no certificate", path);
            PKCS7_free(p7);
        } else if (der_private_key(path, (const unsigned char *)data, len, password, b, &rc, err)) {
            b->format = "DER";
        } else {
            size_t want = der_declared_len((const unsigned char *)data, len);
            if (want > len)
                rc = ism_err_set(err, ISM_E_INVALID,
                                 "%s is cut short: it starts like a DER certificate or PKCS#12 (PFX) file of %lu bytes "
                                 "but has only %lu; copy it again (in binary mode)",
                                 path, (unsigned long)want, (unsigned long)len);
            else
                rc = ism_err_set(err, ISM_E_INVALID,
                                 "%s is not a certificate: it is neither PEM (-----BEGIN CERTIFICATE-----), DER nor "
                                 "PKCS#12 (.pfx); is it the right file?",
                                 path);
        }
    }
    ERR_clear_error();
    ism_ci_free_secret(data, len);
    if (rc)
        ism_ci_bundle_free(b);
    return rc;
}

/* The one private key in a key file (PEM or DER), for matching. */
EVP_PKEY *ism_ci_load_key_file(const char *path, const char *password, ism_err *err)
{
    char *data;
    size_t len;
    EVP_PKEY *k = NULL;
    if (ism_fs_read(path, CERT_MAX_INPUT, &data, &len, err))
        return NULL;
    ERR_clear_error();
    if (strstr(data, "-----BEGIN ")) {
        ism_ci_bundle b;
        memset(&b, 0, sizeof b);
        b.certs = sk_X509_new_null();
        int prc = b.certs ? load_pem(path, data, len, password, &b, err) : -1;
        if (prc == 0 && b.n_keys > 0) {
            k = b.keys[0];
            b.keys[0] = NULL;
        } else if (prc == 0) {
            ism_err_set(err, ISM_E_INVALID, "%s holds no private key (no -----BEGIN PRIVATE KEY----- block)", path);
        }
        for (int i = 1; i < b.n_keys; i++)
            EVP_PKEY_free(b.keys[i]);
        b.n_keys = 0;
        ism_ci_bundle_free(&b);
    } else {
        const unsigned char *q = (const unsigned char *)data;
        k = d2i_AutoPrivateKey(NULL, &q, (long)len);
        if (!k)
            ism_err_set(err, ISM_E_INVALID, "%s holds no private key (neither PEM nor DER)", path);
    }
    ERR_clear_error();
    ism_ci_free_secret(data, len);
    return k;
}

