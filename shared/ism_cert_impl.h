/* ism_cert_impl: what the files of the certificate module share (not for
 * front ends: they use ism_cert.h).
 *
 *   ism_cert_load.c      reading PEM / DER / PKCS#12, keys
 *   ism_cert_describe.c  describing certificates and requests
 *   ism_cert_csr.c       CSR fields, checks, advice, ism_csr_new
 *   ism_cert_install.c   install, remove, selfsign; results and backups */
#ifndef ISM_CERT_IMPL_H
#define ISM_CERT_IMPL_H

#include "ism_cert.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdio.h>

#define CERT_MAX_INPUT (1024 * 1024) /* a certificate bundle or PFX is a few KB */

static inline void copy(char *out, size_t outsz, const char *s)
{
    snprintf(out, outsz, "%s", s ? s : "");
}

/* ---- names (ism_cert_csr.c) ---- */

/* Checks a host name (already lower case, no trailing dot). wildcard allows a
 * leftmost "*" label. Writes why it is not one to why. */
int ism_ci_dns_name_ok(const char *s, int wildcard, char *why, size_t whysz);
/* Lower-cases and drops spaces around and a trailing dot. */
void ism_ci_canon_host(const char *in, char *out, size_t outsz);

/* ---- results and files (ism_cert_install.c) ---- */

void ism_ci_add_check(ism_cert_result *res, ism_check_level level, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Records a failed check and returns -1 with the same message in err. */
int ism_ci_fail_check(ism_cert_result *res, ism_err *err, ism_err_kind kind, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void ism_ci_fail_from(ism_cert_result *res, const char *what, const ism_err *err);
/* Reads path (if it exists) into *old; 0 with *old NULL when it does not. */
int ism_ci_read_old(const char *path, char **old, size_t *len, ism_err *err);
/* Keeps a copy of path as a .bak (a key's copy as private as the key). */
int ism_ci_keep_backup(const char *path, const char *data, size_t len, int private_file, ism_cert_result *res,
                       ism_err *err);
void ism_ci_wrote(ism_cert_result *res, const char *path);
/* PEM text of a key (PKCS#8, no pass phrase: the service starts unattended). */
int ism_ci_key_pem(EVP_PKEY *k, char **out, size_t *len);
/* Writes the key (private) then the companion file; if the second write
 * fails, the key goes back to what it was, so the pair stays consistent. */
int ism_ci_write_pair(const char *key_path, const char *kd, size_t kl, const char *old_key, size_t old_kl,
                      const char *other_path, const char *od, size_t ol, ism_cert_result *res, ism_err *err);

/* ---- reading (ism_cert_load.c) ---- */

typedef struct {
    STACK_OF(X509) *certs; /* in file order */
    EVP_PKEY *keys[4];
    int n_keys;
    X509_REQ *req;
    const char *format;    /* "PEM", "DER", "PKCS#12" */
} ism_ci_bundle;

/* Wipes and frees a buffer that held secret bytes. */
void ism_ci_free_secret(char *p, size_t len);
/* Reads every certificate, key and request in a PEM, DER or PKCS#12 file. */
int ism_ci_load_bundle(const char *path, const char *password, ism_ci_bundle *b, ism_err *err);
void ism_ci_bundle_free(ism_ci_bundle *b);
/* The one private key in a key file (PEM or DER), for matching. */
EVP_PKEY *ism_ci_load_key_file(const char *path, const char *password, ism_err *err);

/* ---- describing (ism_cert_describe.c) ---- */

void ism_ci_name_line(const X509_NAME *n, char *out, size_t outsz);
void ism_ci_describe_x509(X509 *x, ism_cert_info *info);
/* The domain a certificate is for: its CN when that is a plain DNS name,
 * else its first DNS name that is not a wildcard. */
void ism_ci_cert_domain(const ism_cert_info *info, char *out, size_t outsz);
/* A domain given by a front end, checked because it becomes a file name. */
int ism_ci_domain_arg(const char *what, const char *domain, char *out, size_t outsz, ism_err *err);
void ism_ci_fmt_time(int64_t t, char *out, size_t outsz);
/* 1 when issuer issued x (names, key identifiers and the signature agree). */
int ism_ci_issued_by(X509 *issuer, X509 *x);
int ism_ci_self_signed(X509 *x);
/* The status word and problem (and fix) from what describe found. */
void ism_ci_set_status(ism_cert_info *info);
/* One certificate of a chain as ism_cert_info lists it. */
void ism_ci_chain_link(X509 *x, ism_cert_link *l);

#endif
