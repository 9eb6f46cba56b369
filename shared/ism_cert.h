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
 * only, and a key that others can read is refused when loaded.
 *
 * Messages are facts for the administrator (which file, what is wrong); they
 * name no command-line option or button. What would fix it is given as a value
 * (ism_cert_fix, and the error kinds ISM_E_NEED_PASSWORD / ISM_E_BAD_PASSWORD)
 * that each front end words in its own terms.
 *
 * The code is in four files by job: ism_cert_load.c (reading PEM, DER and
 * PKCS#12, keys), ism_cert_describe.c (describe, show, list, status words),
 * ism_cert_csr.c (CSR fields, checks, advice, ism_csr_new) and
 * ism_cert_install.c (install plan and commit, remove, selfsign). */
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
 * Only cn must not be empty here (a field is checked as it is typed);
 * ism_csr_req_check requires the others the manual asks for. */
int ism_cert_field_check(ism_cert_field f, const char *value, char *out, size_t outsz, ism_err *err);

/* 1 when the manual asks for field f in every request (each one but the
 * organizational unit, the key type and the extra names), else 0. */
int ism_cert_field_required(ism_cert_field f);

/* For a required field left empty: sets err (ISM_E_INVALID) to "FIELD: the
 * 'LABEL' is required: HINT" with the manual's label and hint and returns -1;
 * returns 0 for a field that is not required. */
int ism_cert_field_missing(ism_cert_field f, ism_err *err);

/* Checks every field of req and canonicalises it in place: each field the
 * manual asks for must be given (ism_cert_field_required), every field must
 * pass ism_cert_field_check. On failure *bad (if not NULL) is the first wrong
 * field, in the manual's order. */
int ism_csr_req_check(ism_csr_req *req, ism_cert_field *bad, ism_err *err);

/* Advice that does not stop anything (a CN starting with "mail." or "www.",
 * the manual says to leave the prefix out): writes it to out and returns 1,
 * or returns 0 when there is none. */
int ism_csr_req_advice(const ism_csr_req *req, char *out, size_t outsz);

/* ---- results: what was checked, warnings, files written ---- */

/* What would fix a refusal or a problem, for the front end to word ("give it
 * with --key KEYFILE" on the command line, the "Private key file" box in the
 * manager). The core's message already says what is wrong. */
typedef enum {
    ISM_FIX_NONE = 0,
    ISM_FIX_PASSWORD, /* give the password of the file named (PKCS#12 or encrypted key) */
    ISM_FIX_KEY,      /* give the private key file made with the certificate's CSR */
    ISM_FIX_CA,       /* give the CA / intermediate (chain) certificate file */
    ISM_FIX_DOMAIN,   /* give the domain the certificate is for */
    ISM_FIX_FORCE,    /* confirm replacing what exists (the old files are kept as .bak) */
    ISM_FIX_NEW_CSR,  /* make a new key and CSR (replacing the old ones) and get a new certificate */
    ISM_FIX_LIST      /* pick one of the installed certificates / requests */
} ism_cert_fix;

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
    ism_cert_fix fix;              /* on failure: what would fix it (ISM_FIX_NONE: nothing a front end offers) */
} ism_cert_result;

/* Creates a key of req->key and a CSR signed with it, with the subject of req
 * and a subjectAltName of the CN then the SANs; writes ssl.key/CN.key (first,
 * private) and ssl.csr/CN.csr. An existing key for the domain is refused
 * (ISM_E_INVALID naming the file, res->fix ISM_FIX_FORCE) unless force is set; with force the old key
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
    char problem[700];       /* why the status is not ok; empty when ok */
    ism_cert_fix fix;        /* what would fix the problem (ISM_FIX_NONE when ok) */
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

/* What to install. Every file is recognised by its content, whatever its
 * name: PEM (certificate, chain, key, in any order; PKCS#7), DER, or PKCS#12. */
typedef struct {
    const char *file;     /* the certificate: PEM, DER, or PKCS#12 (PFX) holding key and chain too */
    const char *domain;   /* NULL: the certificate's CN, else its first DNS name */
    const char *ca_file;  /* NULL, or the CA / intermediate certificates (PEM or DER): the chain is built
                           * from them and installed after the certificate */
    const char *key_file; /* NULL: the key in file, else ssl.key/DOMAIN.key made with the CSR; or the
                           * private key file (PEM, DER, PKCS#12; may be encrypted) */
    const char *password; /* NULL, or the password of file's PKCS#12 / encrypted key and of key_file's */
} ism_cert_install_req;

/* ---- installing: plan, then commit ----
 *
 * A front end installs in three steps, so that the administrator sees
 * everything before anything changes, and nothing is written in a scratch
 * folder or elsewhere to find out:
 *
 *   ism_cert_plan *plan = calloc(1, sizeof *plan);     (it is large: not on the stack)
 *   ism_cert_install_req req = {.file = f, .key_file = k, .ca_file = ca, .password = NULL};
 *   rc = ism_cert_install_plan(paths, &req, plan, &err);
 *   if (rc && (err.kind == ISM_E_NEED_PASSWORD || err.kind == ISM_E_BAD_PASSWORD))
 *       ask for the password of plan->file, set req.password, plan again;
 *   else if (rc)
 *       show err.msg (the failed check, also the last of plan->res.check[])
 *       with the remedy for plan->res.fix in the front end's words; stop;
 *   show plan->cert (what the certificate is), plan->res.check[] (ok and
 *       warnings; plan->res.n_warnings counts them) and plan->files[] (each
 *       target, created / replaced and kept as .bak / unchanged);
 *   if the administrator confirms:
 *       rc = ism_cert_install_commit(paths, plan, &res, &err);  (writes exactly plan->files)
 *       then wake the service (ism_store_touch);
 *   ism_cert_plan_free(plan); free(plan);              (wipes the key it held)
 *
 * The plan holds the bytes to write, so what is committed is what was checked
 * and shown, even if the input files change in between. A plan can be
 * committed once. Paths in messages are the real ones (ssl.crt, ssl.key). */

typedef enum {
    ISM_PLAN_CREATE = 0, /* the file does not exist: it is created */
    ISM_PLAN_REPLACE,    /* it exists with other content: the current one is kept as .bak, then replaced */
    ISM_PLAN_UNCHANGED   /* it already holds exactly this: nothing is written */
} ism_plan_action;

typedef struct {
    char path[ISM_PATH_MAX + 300]; /* ssl.key/DOMAIN.key or ssl.crt/DOMAIN.crt */
    int is_key;                    /* written readable by its owner and the administrators only */
    ism_plan_action action;
    char backup[ISM_PATH_MAX + 340]; /* REPLACE: where the current file will be kept (NAME.YYYYMMDD-HHMMSS.bak;
                                      * the commit takes a later stamp if the time has moved on) */
    size_t size;                   /* bytes to write (UNCHANGED: the file's size) */
    /* the core's own, for the commit: */
    char *data;                    /* what to write (a key: wiped by ism_cert_plan_free) */
    int had_old;                   /* the file existed when planned ... */
    unsigned char old_sha256[32];  /* ... with this content: the commit refuses if it changed since */
} ism_cert_plan_file;

typedef struct {
    ism_cert_result res;      /* domain, every check (warnings counted in n_warnings), fix; on failure the
                               * failed check is last. written[] and backup[] stay empty: nothing is written */
    ism_cert_info cert;       /* the certificate to install as ism_cert_describe tells it (subject, names,
                               * issuer, validity, key type, fingerprint); cert.chain[] is the chain as it
                               * will follow it in ssl.crt/DOMAIN.crt; cert.path is the input file */
    char file[ISM_PATH_MAX];  /* on failure: the input file the failure is about (the one that needs a
                               * password, the key that does not match, ...); empty when none */
    char key_source[ISM_PATH_MAX + 300]; /* the file the key comes from: key_file, file, or the installed key */
    int key_installed;        /* the key is the one already in ssl.key/DOMAIN.key */
    ism_cert_plan_file files[2]; /* [0] the key, [1] the certificate (each listed, UNCHANGED too) */
    int n_files;
    int committed;            /* set by a successful commit */
} ism_cert_plan;

/* Checks an install completely and writes nothing: that the certificate
 * parses, that its key (in key_file, in file, else ssl.key/DOMAIN.key) is
 * there and matches it, that it is valid now (not yet valid or expired: an
 * error; expiring soon: a warning), that OpenSSL's TLS takes its key and
 * signature (too weak: an error), that its names cover the domain (no
 * subjectAltName: a warning), and that its chain builds to ca_file when given
 * (an error if not; without ca_file a missing issuer is a warning). Fills
 * plan with the checks, the certificate and the target files. Returns 0, or
 * -1 with err: ISM_E_NEED_PASSWORD / ISM_E_BAD_PASSWORD (plan->file names the
 * file), ISM_E_INVALID (a check failed: plan->res.fix says what would fix it),
 * ISM_E_IO (a file cannot be read: plan->file names it when it is one of
 * req's files or the installed key), ISM_E_USAGE (no file given). plan is
 * overwritten (call ism_cert_plan_free on it first if it held a plan), and
 * must be freed with ism_cert_plan_free either way. */
int ism_cert_install_plan(const ism_paths *p, const ism_cert_install_req *req, ism_cert_plan *plan, ism_err *err);

/* Writes exactly what plan says: for each file to replace, the current one
 * kept as .bak first; then the key, then the certificate, each to a temporary
 * file renamed over the target (a key private, through the platform's
 * ism_fs_write_atomic). If a target changed since the plan was made, nothing
 * is written (ISM_E_INVALID: plan again). If any write fails, what was
 * written is undone (targets back to their old content, new .bak files
 * removed), so nothing is left changed. res (may be NULL) gets the plan's
 * checks, then the backups and the files written. */
int ism_cert_install_commit(const ism_paths *p, ism_cert_plan *plan, ism_cert_result *res, ism_err *err);

/* Wipes the key bytes a plan holds and frees them; plan can be planned again. */
void ism_cert_plan_free(ism_cert_plan *plan);

/* Plan, then commit at once (for callers that show nothing in between).
 * res lists every check; on failure the failed one is last, err says the
 * same, and the folders are as they were. */
int ism_cert_install(const ism_paths *p, const ism_cert_install_req *req, ism_cert_result *res, ism_err *err);

/* Keeps ssl.crt/DOMAIN.crt and ssl.key/DOMAIN.key as .bak, then deletes
 * them. Fails (ISM_E_INVALID, res->fix ISM_FIX_LIST) when neither exists. */
int ism_cert_remove(const ism_paths *p, const char *domain, ism_cert_result *res, ism_err *err);

/* A self-signed certificate for domain (ism_tls_selfsign). An existing pair
 * is refused (ISM_E_INVALID, res->fix ISM_FIX_FORCE) unless force is set;
 * with force it is kept as .bak. */
int ism_cert_selfsign(const ism_paths *p, const char *domain, int force, ism_cert_result *res, ism_err *err);

/* Fails, naming the file, when others than the owner and the administrators
 * can read the key at path. */
int ism_cert_key_private(const char *path, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
