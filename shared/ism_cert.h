/* ism_cert: certificate signing requests, private keys and installed
 * certificates, in the manual's three folders (ssl.csr, ssl.crt, ssl.key).
 *
 * Everything here is what `ismailctl csr|cert` and the manager's certificate
 * dialogs both call: the structs hold what a dialog shows (one field per
 * control, fixed-size strings, no pointers to free except where said), and
 * validation reports which field is wrong so a dialog can mark it as the
 * administrator types.
 *
 * File names follow the manual exactly: ssl.csr/DOMAIN.csr,
 * ssl.crt/DOMAIN.crt (the domain's certificate followed by its chain, PEM) and
 * ssl.key/DOMAIN.key (PEM, no pass phrase, so the service starts unattended).
 * Nothing is overwritten silently: a replaced file is kept beside it as
 * NAME.YYYYMMDD-HHMMSS.bak (UTC). Keys are written readable by administrators
 * only, and a key that others can read is refused when loaded. */
#ifndef ISM_CERT_H
#define ISM_CERT_H

#include "ism_error.h"
#include "ism_paths.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_CERT_MAX_SANS 32
#define ISM_CERT_MAX_CHAIN 8
#define ISM_CERT_MAX_CHECKS 16
#define ISM_CERT_EXPIRING_DAYS 30 /* fewer days left than this: "expiring" */

/* ---- CSR fields and their validation ---- */

/* The fields of a CSR, in the order openssl req asks for them (the manual's
 * "CSR Details"), then the extras. ISM_CF_NONE means "no particular field". */
typedef enum {
    ISM_CF_NONE = 0,
    ISM_CF_COUNTRY,  /* C: ISO 3166 two-letter code */
    ISM_CF_STATE,    /* ST: up to 128 characters */
    ISM_CF_LOCALITY, /* L: up to 128 characters */
    ISM_CF_ORG,      /* O: up to 64 characters */
    ISM_CF_UNIT,     /* OU: up to 64 characters, may be empty */
    ISM_CF_CN,       /* CN: the domain, a DNS name up to 64 characters */
    ISM_CF_EMAIL,    /* emailAddress: the administrator's mail address */
    ISM_CF_SAN,      /* more DNS names for the subjectAltName */
    ISM_CF_KEY,      /* key type: rsa:2048|rsa:3072|rsa:4096|ec:P-256|ec:P-384 */
    ISM_CF_COUNT
} ism_cert_field;

/* "country", "state", ... as ismailctl's options are spelled (without "--"). */
const char *ism_cert_field_name(ism_cert_field f);

typedef struct {
    char country[8];
    char state[512];
    char locality[512];
    char org[256];
    char unit[256];
    char cn[256];
    char email[512];
    char san[ISM_CERT_MAX_SANS][256];
    int n_san;
    char key[32]; /* empty: rsa:2048 */
} ism_csr_req;

/* Checks one field as typed and writes its canonical spelling to out (country
 * upper-cased, names lower-cased, spaces trimmed). Returns 0, or -1 with a
 * message (ISM_E_INVALID) that names the field and says what is allowed.
 * Only cn is required; the others may be empty. */
int ism_cert_field_check(ism_cert_field f, const char *value, char *out, size_t outsz, ism_err *err);

/* Checks every field of req and canonicalises it in place. On failure *bad
 * (if not NULL) is the first wrong field. */
int ism_csr_req_check(ism_csr_req *req, ism_cert_field *bad, ism_err *err);

/* Advice that does not stop anything (a CN starting with "mail." or "www.",
 * the manual says to leave the prefix out): writes it to out and returns 1,
 * or returns 0 when there is none. */
int ism_csr_req_advice(const ism_csr_req *req, char *out, size_t outsz);

/* ---- results: what was checked, warnings, files written ---- */

typedef enum { ISM_CHECK_OK = 0, ISM_CHECK_WARN, ISM_CHECK_FAIL } ism_check_level;

typedef struct {
    ism_check_level level;
    char what[32];   /* "parse", "key", "validity", "name", "chain", "strength", "backup" */
    char text[400];  /* one sentence for the administrator */
} ism_cert_check;

typedef struct {
    ism_cert_check check[ISM_CERT_MAX_CHECKS];
    int n_checks;
    int n_warnings;
    char domain[256];
    char written[3][ISM_PATH_MAX]; /* files written, in order */
    int n_written;
    char backup[3][ISM_PATH_MAX];  /* files replaced, kept as .bak */
    int n_backup;
} ism_cert_result;

/* Creates a key of req->key and a CSR signed with it, with the subject of req
 * and a subjectAltName of the CN then the SANs; writes ssl.key/CN.key (first,
 * private) and ssl.csr/CN.csr. An existing key for the domain is refused
 * (ISM_E_INVALID, naming the file) unless force is set; with force the old key
 * and CSR are kept as .bak. req is checked (and canonicalised) first. */
int ism_csr_new(const ism_paths *p, ism_csr_req *req, int force, ism_cert_result *res, ism_err *err);

/* ---- describing a certificate or CSR ---- */

typedef enum {
    ISM_CS_OK = 0,
    ISM_CS_EXPIRING,        /* fewer than ISM_CERT_EXPIRING_DAYS left */
    ISM_CS_EXPIRED,
    ISM_CS_NOT_YET_VALID,
    ISM_CS_MISMATCH,        /* ssl.key/DOMAIN.key is not the certificate's key */
    ISM_CS_NO_KEY,          /* ssl.key/DOMAIN.key is missing */
    ISM_CS_KEY_NOT_PRIVATE, /* others can read ssl.key/DOMAIN.key: it is refused at load */
    ISM_CS_INCOMPLETE_CHAIN,/* not self-signed and its issuer's certificate is not in the file */
    ISM_CS_UNREADABLE,      /* the file is not a certificate */
    ISM_CS_PENDING          /* a CSR: waiting for its certificate */
} ism_cert_status;

/* "ok", "expiring", "expired", "not yet valid", "mismatch", "no key",
 * "key not private", "incomplete chain", "unreadable", "pending". */
const char *ism_cert_status_word(ism_cert_status s);

typedef enum { ISM_KEY_MATCH = 0, ISM_KEY_MISMATCH, ISM_KEY_MISSING, ISM_KEY_NOT_PRIVATE, ISM_KEY_UNREADABLE } ism_key_state;

typedef struct {
    char subject[512];
    char issuer[512];
    int64_t not_after;
    char fingerprint[100];
} ism_cert_link;

typedef struct {
    int is_csr;
    char path[ISM_PATH_MAX];
    char domain[256];        /* the file's name without .crt/.csr, else the CN */
    char subject[512];       /* one line: C=.., ST=.., L=.., O=.., OU=.., CN=.., emailAddress=.. */
    char cn[256];
    char san[ISM_CERT_MAX_SANS][256]; /* DNS names as they are; others as "IP:..", "email:.." */
    int n_san;
    char issuer[512];        /* empty for a CSR */
    int self_signed;
    int64_t not_before, not_after; /* seconds since 1970 (UTC); 0 for a CSR */
    long days_left;          /* whole days until not_after (negative once expired) */
    char key_type[16];       /* "RSA", "EC P-256", "EC P-384", "Ed25519", ... */
    int key_bits;
    char sig_alg[64];
    char serial[128];        /* hex, as openssl x509 -serial */
    char fingerprint[100];   /* SHA-256 of the DER, upper-case hex pairs joined by ':' */
    int signature_ok;        /* a CSR's self-signature verifies */
    ism_cert_link chain[ISM_CERT_MAX_CHAIN]; /* the certificates after the first in the file */
    int n_chain;
    int chain_complete;      /* self-signed, or the issuer's certificate is in the file */
    ism_key_state key_state;
    char key_path[ISM_PATH_MAX];
    ism_cert_status status;
    char problem[700];       /* why the status is not ok and what to do; empty when ok */
} ism_cert_info;

/* Describes a certificate file (PEM or DER; a PEM file's first certificate
 * is the one described, the rest is its chain) or, with is_csr, a CSR. When
 * key_path is not NULL, the key there is checked: its permissions, then that
 * it matches. Fails (ISM_E_INVALID / ISM_E_IO) only when the file cannot be
 * read or holds no certificate. */
int ism_cert_describe(const char *path, int is_csr, const char *key_path, ism_cert_info *info, ism_err *err);

/* `cert show` / `csr show`: what names either a domain (ssl.crt/DOMAIN.crt or
 * ssl.csr/DOMAIN.csr, with ssl.key/DOMAIN.key) or a file (checked against
 * ssl.key/NAME.key, NAME its file name without the extension, else its CN). */
int ism_cert_show(const ism_paths *p, const char *what, int is_csr, ism_cert_info *info, ism_err *err);

/* Every installed certificate (ssl.crt/ *.crt), sorted by domain; *v is
 * malloc'd (free it). A file that cannot be read is listed as "unreadable". */
int ism_cert_list(const ism_paths *p, ism_cert_info **v, size_t *n, ism_err *err);

/* ---- installing, removing ---- */

typedef struct {
    const char *file;     /* PEM (certificate, chain, key, in any order), DER, or PKCS#12 (.pfx/.p12) */
    const char *domain;   /* NULL: the certificate's CN, else its first DNS name */
    const char *ca_file;  /* NULL, or the CA's certificates (PEM or DER) the chain must build to */
    const char *key_file; /* NULL: the key in file, else ssl.key/DOMAIN.key made with the CSR */
    const char *password; /* NULL, or the PKCS#12 / encrypted key's password */
} ism_cert_install_req;

/* Checks, before writing anything, that the certificate parses, that its key
 * is there and matches, that it is valid now, that its names cover the domain,
 * and that its chain is complete (builds to ca_file when given: a failure
 * then is an error; otherwise a missing issuer is a warning). Then writes
 * ssl.key/DOMAIN.key (when the key is new) and ssl.crt/DOMAIN.crt (the
 * certificate, then its chain in order), each atomically, keeping replaced
 * files as .bak. res lists every check; on failure the failed one is last and
 * err says the same. Any failure leaves the folders as they were. */
int ism_cert_install(const ism_paths *p, const ism_cert_install_req *req, ism_cert_result *res, ism_err *err);

/* Keeps ssl.crt/DOMAIN.crt and ssl.key/DOMAIN.key as .bak, then deletes
 * them. Fails (ISM_E_INVALID) when neither exists. */
int ism_cert_remove(const ism_paths *p, const char *domain, ism_cert_result *res, ism_err *err);

/* A self-signed certificate for domain (ism_tls_selfsign). An existing pair
 * is refused unless force is set; with force it is kept as .bak. */
int ism_cert_selfsign(const ism_paths *p, const char *domain, int force, ism_cert_result *res, ism_err *err);

/* Fails, naming the file and the command that fixes it, when others than the
 * owner and the administrators can read the key at path. */
int ism_cert_key_private(const char *path, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
