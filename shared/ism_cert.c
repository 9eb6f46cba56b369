/* ism_cert: CSRs, keys and installed certificates (see ism_cert.h).
 *
 * The rules come from the manual's "CSR Details" and from RFC 5280's upper
 * bounds (ub-*); file names and folders are the manual's. Every operation
 * checks everything first and writes last, so a refusal leaves the folders as
 * they were; a replaced file is always kept as a timestamped .bak. */
#include "ism_cert.h"
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

#define CERT_MAX_INPUT (1024 * 1024) /* a certificate bundle or PFX is a few KB */

/* ---- small helpers ---- */

static void copy(char *out, size_t outsz, const char *s)
{
    snprintf(out, outsz, "%s", s ? s : "");
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static char lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Characters (not bytes) in a UTF-8 string; -1 when it is not valid UTF-8. */
static long utf8_chars(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
        if (extra < 0)
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return -1;
        n++;
    }
    return n;
}

/* Copies value without leading and trailing spaces. */
static void trim(const char *value, char *out, size_t outsz)
{
    const char *b = value ? value : "";
    while (*b == ' ' || *b == '\t')
        b++;
    size_t n = strlen(b);
    while (n && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r' || b[n - 1] == '\n'))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* ISO 3166-1 alpha-2, plus XK (Kosovo), which certificate authorities accept. */
static const char COUNTRIES[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY "
    "BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM "
    "FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT "
    "JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN "
    "MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT "
    "PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL "
    "TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

static int country_known(const char *cc)
{
    /* Codes are two letters and a space; the last one has no space after it. */
    for (const char *p = COUNTRIES; p[0] && p[1]; p += p[2] ? 3 : 2)
        if (p[0] == cc[0] && p[1] == cc[1])
            return 1;
    return 0;
}

/* Checks a host name (already lower case, no trailing dot). wildcard allows a
 * leftmost "*" label. Writes why it is not one to why. */
static int dns_name_ok(const char *s, int wildcard, char *why, size_t whysz)
{
    size_t len = strlen(s);
    if (len == 0) {
        copy(why, whysz, "it is empty");
        return 0;
    }
    if (len > 253) {
        copy(why, whysz, "a DNS name has at most 253 characters");
        return 0;
    }
    const char *p = s;
    if (p[0] == '*') {
        if (!wildcard) {
            copy(why, whysz, "a wildcard is not a domain name here; use the domain itself (wildcards go in --san)");
            return 0;
        }
        if (p[1] != '.' || !strchr(p + 2, '.')) {
            copy(why, whysz, "a wildcard must be the whole leftmost label of a name with two more labels (*.example.com)");
            return 0;
        }
        p += 2;
    }
    const char *label = p, *last = p;
    int all_digits = 1;
    for (;; p++) {
        char c = *p;
        if (c == '.' || c == '\0') {
            size_t ll = (size_t)(p - label);
            if (ll == 0) {
                copy(why, whysz, "it has an empty label (two dots in a row, or a dot at the start)");
                return 0;
            }
            if (ll > 63) {
                copy(why, whysz, "a label (the part between dots) has at most 63 characters");
                return 0;
            }
            if (label[0] == '-' || p[-1] == '-') {
                copy(why, whysz, "a label may not start or end with '-'");
                return 0;
            }
            last = label;
            if (c == '\0')
                break;
            label = p + 1;
            continue;
        }
        if ((unsigned char)c >= 0x80) {
            copy(why, whysz, "it has non-ASCII letters; use the name's xn-- (punycode) form");
            return 0;
        }
        if (!is_alpha(c) && !is_digit(c) && c != '-') {
            snprintf(why, whysz, "'%c' is not allowed in a host name (letters, digits, '-' and '.')", c);
            return 0;
        }
    }
    for (const char *q = last; *q; q++)
        if (!is_digit(*q))
            all_digits = 0;
    if (all_digits) {
        copy(why, whysz, "it looks like an IP address; a certificate request names the domain");
        return 0;
    }
    return 1;
}

/* Lower-cases and drops a trailing dot (DNS names are case-insensitive). */
static void canon_host(const char *in, char *out, size_t outsz)
{
    trim(in, out, outsz);
    for (char *q = out; *q; q++)
        *q = lower_c(*q);
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '.')
        out[n - 1] = '\0';
}

static const char *const field_names[ISM_CF_COUNT] = {"", "country", "state", "locality", "org", "unit", "cn",
                                                      "email", "san", "key"};

const char *ism_cert_field_name(ism_cert_field f)
{
    return (f > ISM_CF_NONE && f < ISM_CF_COUNT) ? field_names[f] : "";
}

/* Text fields of the subject: characters allowed by RFC 5280's ub-* bounds. */
static int text_field(ism_cert_field f, const char *label, long max, const char *v, ism_err *err)
{
    long n = utf8_chars(v);
    if (n < 0)
        return ism_err_set(err, ISM_E_INVALID, "%s: the %s is not valid UTF-8 text", field_names[f], label);
    if (n > max)
        return ism_err_set(err, ISM_E_INVALID, "%s: the %s has %ld characters; at most %ld are allowed (RFC 5280)",
                           field_names[f], label, n, max);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return ism_err_set(err, ISM_E_INVALID, "%s: the %s contains a control character", field_names[f], label);
    return 0;
}

int ism_cert_field_check(ism_cert_field f, const char *value, char *out, size_t outsz, ism_err *err)
{
    char v[1024], why[200];
    trim(value, v, sizeof v);
    switch (f) {
    case ISM_CF_COUNTRY: {
        if (!v[0])
            break; /* optional: certificate authorities that check it ask for it */
        if (strlen(v) != 2 || !is_alpha(v[0]) || !is_alpha(v[1]))
            return ism_err_set(err, ISM_E_INVALID,
                               "country: '%s' is not a two-letter country code; use the ISO 3166 code (e.g. US, CA, GB)",
                               v);
        v[0] = (char)(v[0] & ~0x20);
        v[1] = (char)(v[1] & ~0x20);
        if (strcmp(v, "UK") == 0)
            return ism_err_set(err, ISM_E_INVALID, "country: UK is not the ISO 3166 code of the United Kingdom; use GB");
        if (!country_known(v))
            return ism_err_set(err, ISM_E_INVALID, "country: '%s' is not an ISO 3166 country code (e.g. US, CA, GB)", v);
        break;
    }
    case ISM_CF_STATE:
        if (text_field(f, "state or province name", 128, v, err))
            return -1;
        break;
    case ISM_CF_LOCALITY:
        if (text_field(f, "locality (city) name", 128, v, err))
            return -1;
        break;
    case ISM_CF_ORG:
        if (text_field(f, "organization name", 64, v, err))
            return -1;
        break;
    case ISM_CF_UNIT:
        if (text_field(f, "organizational unit name", 64, v, err))
            return -1;
        break;
    case ISM_CF_CN: {
        char h[1024];
        canon_host(v, h, sizeof h);
        if (!h[0])
            return ism_err_set(err, ISM_E_INVALID,
                               "cn: required; the common name is the domain the certificate is for (e.g. example.com)");
        if (!dns_name_ok(h, 0, why, sizeof why))
            return ism_err_set(err, ISM_E_INVALID, "cn: '%s' is not a domain name: %s", v, why);
        if (strlen(h) > 64)
            return ism_err_set(err, ISM_E_INVALID,
                               "cn: the common name has %lu characters; at most 64 are allowed (RFC 5280); put a longer "
                               "name in --san and a shorter one here",
                               (unsigned long)strlen(h));
        copy(v, sizeof v, h);
        break;
    }
    case ISM_CF_SAN: {
        char h[1024];
        canon_host(v, h, sizeof h);
        if (!dns_name_ok(h, 1, why, sizeof why))
            return ism_err_set(err, ISM_E_INVALID, "san: '%s' is not a DNS name: %s", v, why);
        copy(v, sizeof v, h);
        break;
    }
    case ISM_CF_EMAIL: {
        if (!v[0])
            break;
        char *at = strrchr(v, '@');
        if (strlen(v) > 255)
            return ism_err_set(err, ISM_E_INVALID, "email: the address has %lu characters; at most 255 are allowed",
                               (unsigned long)strlen(v));
        if (!at || at == v || at - v > 64)
            return ism_err_set(err, ISM_E_INVALID,
                               "email: '%s' is not a mail address; give the administrator's address (name@example.com)", v);
        for (const char *p = v; p < at; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("\"(),:;<>[\\]@", *p))
                return ism_err_set(err, ISM_E_INVALID, "email: '%s': the part before '@' has a character not allowed "
                                   "in a mail address", v);
        char h[300];
        canon_host(at + 1, h, sizeof h);
        if (!dns_name_ok(h, 0, why, sizeof why))
            return ism_err_set(err, ISM_E_INVALID, "email: '%s': the part after '@' is not a domain: %s", v, why);
        snprintf(at + 1, sizeof v - (size_t)(at + 1 - v), "%s", h);
        break;
    }
    case ISM_CF_KEY: {
        char k[64];
        canon_host(v, k, sizeof k); /* lower case */
        if (!k[0])
            copy(k, sizeof k, "rsa:2048");
        if (strncmp(k, "rsa:", 4) == 0) {
            char *end;
            long bits = strtol(k + 4, &end, 10);
            if (!k[4] || *end)
                return ism_err_set(err, ISM_E_INVALID, "key: '%s': give the RSA key size in bits (rsa:2048, rsa:3072 "
                                   "or rsa:4096)", v);
            if (bits < 2048)
                return ism_err_set(err, ISM_E_INVALID,
                                   "key: RSA keys of %ld bits are no longer safe and certificate authorities refuse "
                                   "them (the manual's rsa:1024 example is out of date); use rsa:2048 or more, or ec:P-256",
                                   bits);
            if (bits != 2048 && bits != 3072 && bits != 4096)
                return ism_err_set(err, ISM_E_INVALID, "key: rsa:%ld is not offered; use rsa:2048, rsa:3072 or rsa:4096",
                                   bits);
            snprintf(v, sizeof v, "rsa:%ld", bits);
        } else if (strcmp(k, "ec:p-256") == 0 || strcmp(k, "ec:prime256v1") == 0 || strcmp(k, "ec:secp256r1") == 0) {
            copy(v, sizeof v, "ec:P-256");
        } else if (strcmp(k, "ec:p-384") == 0 || strcmp(k, "ec:secp384r1") == 0) {
            copy(v, sizeof v, "ec:P-384");
        } else {
            return ism_err_set(err, ISM_E_INVALID,
                               "key: '%s' is not a key type offered; use rsa:2048 (the default), rsa:3072, rsa:4096, "
                               "ec:P-256 or ec:P-384",
                               v);
        }
        break;
    }
    default:
        return ism_err_set(err, ISM_E_USAGE, "unknown certificate request field");
    }
    if (out) {
        if (strlen(v) >= outsz)
            return ism_err_set(err, ISM_E_INVALID, "%s: the value is too long", field_names[f]);
        copy(out, outsz, v);
    }
    return 0;
}

int ism_csr_req_check(ism_csr_req *req, ism_cert_field *bad, ism_err *err)
{
    struct {
        ism_cert_field f;
        char *v;
        size_t sz;
    } fields[] = {{ISM_CF_COUNTRY, req->country, sizeof req->country},
                  {ISM_CF_STATE, req->state, sizeof req->state},
                  {ISM_CF_LOCALITY, req->locality, sizeof req->locality},
                  {ISM_CF_ORG, req->org, sizeof req->org},
                  {ISM_CF_UNIT, req->unit, sizeof req->unit},
                  {ISM_CF_CN, req->cn, sizeof req->cn},
                  {ISM_CF_EMAIL, req->email, sizeof req->email},
                  {ISM_CF_KEY, req->key, sizeof req->key}};
    if (bad)
        *bad = ISM_CF_NONE;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (ism_cert_field_check(fields[i].f, fields[i].v, fields[i].v, fields[i].sz, err)) {
            if (bad)
                *bad = fields[i].f;
            return -1;
        }
    }
    if (req->n_san < 0 || req->n_san > ISM_CERT_MAX_SANS - 1) {
        if (bad)
            *bad = ISM_CF_SAN;
        return ism_err_set(err, ISM_E_INVALID, "san: at most %d extra names", ISM_CERT_MAX_SANS - 1);
    }
    for (int i = 0; i < req->n_san; i++) {
        if (ism_cert_field_check(ISM_CF_SAN, req->san[i], req->san[i], sizeof req->san[i], err)) {
            if (bad)
                *bad = ISM_CF_SAN;
            return -1;
        }
    }
    return 0;
}

int ism_csr_req_advice(const ism_csr_req *req, char *out, size_t outsz)
{
    char cn[256];
    canon_host(req->cn, cn, sizeof cn);
    if (strncmp(cn, "mail.", 5) == 0 || strncmp(cn, "www.", 4) == 0) {
        snprintf(out, outsz,
                 "cn: the manual advises the domain WITHOUT a 'mail' or 'www' prefix (e.g. %s); keep %s only if "
                 "clients connect to that exact name",
                 strchr(cn, '.') + 1, cn);
        return 1;
    }
    return 0;
}

/* ---- results ---- */

static void add_check(ism_cert_result *res, ism_check_level level, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void add_check(ism_cert_result *res, ism_check_level level, const char *what, const char *fmt, ...)
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
static int fail_check(ism_cert_result *res, ism_err *err, ism_err_kind kind, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int fail_check(ism_cert_result *res, ism_err *err, ism_err_kind kind, const char *what, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_check(res, ISM_CHECK_FAIL, what, "%s", msg);
    ERR_clear_error();
    return ism_err_set(err, kind, "%s", msg);
}

static void fail_from(ism_cert_result *res, const char *what, const ism_err *err)
{
    add_check(res, ISM_CHECK_FAIL, what, "%s", err->msg);
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
static int read_old(const char *path, char **old, size_t *len, ism_err *err)
{
    *old = NULL;
    *len = 0;
    if (!ism_fs_exists(path))
        return 0;
    return ism_fs_read(path, CERT_MAX_INPUT, old, len, err);
}

/* Keeps a copy of path as a .bak (a key's copy as private as the key). */
static int keep_backup(const char *path, const char *data, size_t len, int private_file, ism_cert_result *res,
                       ism_err *err)
{
    char bak[ISM_PATH_MAX + 40];
    backup_name(path, bak, sizeof bak);
    if (ism_fs_write_atomic(bak, data, len, private_file, err))
        return -1;
    if (res && res->n_backup < 3)
        copy(res->backup[res->n_backup++], sizeof res->backup[0], bak);
    add_check(res, ISM_CHECK_OK, "backup", "kept the previous %s as %s", path, bak);
    return 0;
}

static void wrote(ism_cert_result *res, const char *path)
{
    if (res && res->n_written < 3)
        copy(res->written[res->n_written++], sizeof res->written[0], path);
}

static void free_secret(char *p, size_t len)
{
    if (p) {
        OPENSSL_cleanse(p, len);
        free(p);
    }
}

/* PEM text of a key (PKCS#8, no pass phrase: the service starts unattended). */
static int key_pem(EVP_PKEY *k, char **out, size_t *len)
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

typedef struct {
    STACK_OF(X509) *certs; /* in file order */
    EVP_PKEY *keys[4];
    int n_keys;
    X509_REQ *req;
    const char *format;    /* "PEM", "DER", "PKCS#12" */
} bundle;

static void bundle_free(bundle *b)
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

static int add_p7_certs(bundle *b, PKCS7 *p7)
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

static int load_pem(const char *path, const char *data, size_t len, const char *password, bundle *b, ism_err *err)
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
            int encrypted = strstr(name, "ENCRYPTED") || (header && strstr(header, "ENCRYPTED"));
            if (!k)
                rc = ism_err_set(err, ISM_E_INVALID, "%s: %s", path,
                                 encrypted && !password ? "the private key is protected by a pass phrase: give it with "
                                                          "--password-file FILE (it is stored without one)"
                                 : encrypted ? "the pass phrase does not open the private key (wrong password?)"
                                             : "the private key is damaged");
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

static int load_pkcs12(const char *path, PKCS12 *p12, const char *password, bundle *b, ism_err *err)
{
    const char *pw = password;
    if (PKCS12_mac_present(p12)) {
        if (!password) {
            if (PKCS12_verify_mac(p12, NULL, 0))
                pw = NULL;
            else if (PKCS12_verify_mac(p12, "", 0))
                pw = "";
            else
                return ism_err_set(err, ISM_E_INVALID,
                                   "%s is a PKCS#12 (PFX) file protected by a password: give the password in a file "
                                   "with --password-file FILE",
                                   path);
        } else if (!PKCS12_verify_mac(p12, password, -1)) {
            return ism_err_set(err, ISM_E_INVALID,
                               "%s: the password does not open this PKCS#12 (PFX) file (wrong password?); check the "
                               "password file",
                               path);
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

/* Reads every certificate, key and request in a PEM, DER or PKCS#12 file. */
static int load_bundle(const char *path, const char *password, bundle *b, ism_err *err)
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
    free_secret(data, len);
    if (rc)
        bundle_free(b);
    return rc;
}

/* The one private key in a key file (PEM or DER), for matching. */
static EVP_PKEY *load_key_file(const char *path, const char *password, ism_err *err)
{
    char *data;
    size_t len;
    EVP_PKEY *k = NULL;
    if (ism_fs_read(path, CERT_MAX_INPUT, &data, &len, err))
        return NULL;
    ERR_clear_error();
    if (strstr(data, "-----BEGIN ")) {
        bundle b;
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
        bundle_free(&b);
    } else {
        const unsigned char *q = (const unsigned char *)data;
        k = d2i_AutoPrivateKey(NULL, &q, (long)len);
        if (!k)
            ism_err_set(err, ISM_E_INVALID, "%s holds no private key (neither PEM nor DER)", path);
    }
    ERR_clear_error();
    free_secret(data, len);
    return k;
}

/* ---- describing ---- */

static void name_line(const X509_NAME *n, char *out, size_t outsz)
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

static int self_signed(X509 *x)
{
    int r = X509_self_signed(x, 1) == 1;
    ERR_clear_error();
    return r;
}

/* 1 when issuer issued x (names, key identifiers and the signature agree). */
static int issued_by(X509 *issuer, X509 *x)
{
    int r = X509_check_issued(issuer, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return r;
}

static void fmt_time(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M UTC", tm))
        copy(out, outsz, "?");
}

static void describe_x509(X509 *x, ism_cert_info *info)
{
    name_line(X509_get_subject_name(x), info->subject, sizeof info->subject);
    name_line(X509_get_issuer_name(x), info->issuer, sizeof info->issuer);
    name_cn(X509_get_subject_name(x), info->cn, sizeof info->cn);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    san_list(gens, info);
    GENERAL_NAMES_free(gens);
    info->self_signed = self_signed(x);
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
static void cert_domain(const ism_cert_info *info, char *out, size_t outsz)
{
    char why[200], h[256];
    out[0] = '\0';
    canon_host(info->cn, h, sizeof h);
    if (h[0] && dns_name_ok(h, 0, why, sizeof why)) {
        copy(out, outsz, h);
        return;
    }
    for (int i = 0; i < info->n_san; i++) {
        canon_host(info->san[i], h, sizeof h);
        if (dns_name_ok(h, 0, why, sizeof why)) {
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
                 "%s does not exist: the service cannot use this certificate without its key; install the key made "
                 "with the CSR (ismailctl cert install FILE --key KEYFILE)",
                 key_path);
        return;
    }
    if (ism_fs_private_check(key_path, &e)) {
        info->key_state = e.kind == ISM_E_TLS ? ISM_KEY_NOT_PRIVATE : ISM_KEY_UNREADABLE;
        copy(info->problem, sizeof info->problem, e.msg);
        return;
    }
    EVP_PKEY *k = load_key_file(key_path, NULL, &e);
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
        snprintf(info->problem, sizeof info->problem,
                 "%s is not the key of this %s (it was made for another CSR); the service refuses the pair: install "
                 "the matching key, or the certificate made from this key's CSR",
                 key_path, x ? "certificate" : "request");
}

static void set_status(ism_cert_info *info)
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
        fmt_time(info->not_after, when, sizeof when);
        snprintf(info->problem, sizeof info->problem,
                 "the certificate expired on %s; clients refuse it: renew it with the certificate authority (a new CSR: "
                 "ismailctl --force csr new ...) and install the new one",
                 when);
    } else if (info->not_before > now) {
        info->status = ISM_CS_NOT_YET_VALID;
        fmt_time(info->not_before, when, sizeof when);
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
                 "with --ca CAFILE",
                 info->issuer);
    } else if (info->days_left < ISM_CERT_EXPIRING_DAYS) {
        info->status = ISM_CS_EXPIRING;
        fmt_time(info->not_after, when, sizeof when);
        snprintf(info->problem, sizeof info->problem,
                 "the certificate expires on %s (%ld days left); renew it with the certificate authority", when,
                 info->days_left);
    } else {
        info->status = ISM_CS_OK;
        info->problem[0] = '\0';
    }
}

const char *ism_cert_status_word(ism_cert_status s)
{
    static const char *const words[] = {"ok",      "expiring",        "expired",          "not yet valid",
                                        "mismatch", "no key",         "key not private",  "incomplete chain",
                                        "unreadable", "pending"};
    return (unsigned)s < sizeof words / sizeof words[0] ? words[s] : "?";
}

int ism_cert_describe(const char *path, int is_csr, const char *key_path, ism_cert_info *info, ism_err *err)
{
    bundle b;
    memset(info, 0, sizeof *info);
    copy(info->path, sizeof info->path, path);
    info->is_csr = is_csr;
    if (load_bundle(path, NULL, &b, err))
        return -1;
    X509 *x = NULL;
    if (is_csr) {
        if (!b.req) {
            bundle_free(&b);
            return ism_err_set(err, ISM_E_INVALID, "%s holds no certificate request (-----BEGIN CERTIFICATE REQUEST-----)",
                               path);
        }
        X509_REQ *r = b.req;
        name_line(X509_REQ_get_subject_name(r), info->subject, sizeof info->subject);
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
            bundle_free(&b);
            return ism_err_set(err, ISM_E_INVALID, "%s holds no certificate%s", path,
                               b.req ? " but a certificate request: send it to the certificate authority" : "");
        }
        x = sk_X509_value(b.certs, 0);
        describe_x509(x, info);
        info->chain_complete = info->self_signed;
        for (int i = 1; i < sk_X509_num(b.certs); i++) {
            X509 *c = sk_X509_value(b.certs, i);
            if (info->n_chain < ISM_CERT_MAX_CHAIN) {
                ism_cert_link *l = &info->chain[info->n_chain++];
                name_line(X509_get_subject_name(c), l->subject, sizeof l->subject);
                name_line(X509_get_issuer_name(c), l->issuer, sizeof l->issuer);
                l->not_after = asn1_epoch(X509_get0_notAfter(c));
                cert_fp(c, l->fingerprint, sizeof l->fingerprint);
            }
            if (issued_by(c, x))
                info->chain_complete = 1;
        }
    }
    cert_domain(info, info->domain, sizeof info->domain);
    if (key_path)
        check_key(key_path, x, b.req, info);
    else
        info->key_state = ISM_KEY_MISSING;
    set_status(info);
    bundle_free(&b);
    return 0;
}

/* A domain given on the command line or in a dialog, checked because it
 * becomes a file name. */
static int domain_arg(const char *what, const char *domain, char *out, size_t outsz, ism_err *err)
{
    char h[300], why[200];
    canon_host(domain, h, sizeof h);
    if (!dns_name_ok(h, 0, why, sizeof why))
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
    canon_host(what, h, sizeof h);
    int is_domain = !strchr(what, '/') && !strchr(what, '\\') && dns_name_ok(h, 0, why, sizeof why);
    if (is_domain) {
        ism_paths_file(path, sizeof path, is_csr ? p->csr : p->crt, h, ext);
        if (!ism_fs_exists(path) && ism_fs_exists(what))
            is_domain = 0; /* a file named like a domain, in the current folder */
    }
    if (is_domain) {
        if (!ism_fs_exists(path))
            return ism_err_set(err, ISM_E_INVALID, "%s: no %s for %s (%s does not exist)%s", h,
                               is_csr ? "certificate request" : "certificate installed", h, path,
                               is_csr ? "; make one with: ismailctl csr new --cn DOMAIN"
                                      : "; 'ismailctl cert list' shows the installed ones");
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
    canon_host(dom, h, sizeof h);
    if (ism_cert_describe(what, is_csr, NULL, info, err))
        return -1;
    if (!dns_name_ok(h, 0, why, sizeof why))
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

/* ---- making keys and CSRs ---- */

static EVP_PKEY *new_key(const char *spec)
{
    if (strncmp(spec, "rsa:", 4) == 0)
        return EVP_RSA_gen((unsigned int)atoi(spec + 4));
    if (strcmp(spec, "ec:P-256") == 0)
        return EVP_EC_gen("P-256");
    if (strcmp(spec, "ec:P-384") == 0)
        return EVP_EC_gen("P-384");
    return NULL;
}

static int add_name(X509_NAME *n, int nid, int type, const char *v)
{
    if (!v[0])
        return 1;
    return X509_NAME_add_entry_by_NID(n, nid, type, (const unsigned char *)v, -1, -1, 0);
}

static X509_REQ *make_csr(const ism_csr_req *r, EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = NULL;
    char san[ISM_CERT_MAX_SANS * 260 + 8];
    size_t w = (size_t)snprintf(san, sizeof san, "DNS:%s", r->cn);
    for (int i = 0; i < r->n_san; i++)
        if (strcmp(r->san[i], r->cn) != 0 && w < sizeof san)
            w += (size_t)snprintf(san + w, sizeof san - w, ",DNS:%s", r->san[i]);
    if (!req || !exts)
        goto fail;
    X509_NAME *n = X509_REQ_get_subject_name(req);
    /* The order openssl req asks in; the e-mail address as the manual's
     * "Email Address" (IA5String, RFC 5280's bound rather than OpenSSL's table). */
    if (!X509_REQ_set_version(req, 0) || !add_name(n, NID_countryName, MBSTRING_ASC, r->country) ||
        !add_name(n, NID_stateOrProvinceName, MBSTRING_UTF8, r->state) ||
        !add_name(n, NID_localityName, MBSTRING_UTF8, r->locality) ||
        !add_name(n, NID_organizationName, MBSTRING_UTF8, r->org) ||
        !add_name(n, NID_organizationalUnitName, MBSTRING_UTF8, r->unit) ||
        !add_name(n, NID_commonName, MBSTRING_UTF8, r->cn) ||
        !add_name(n, NID_pkcs9_emailAddress, V_ASN1_IA5STRING, r->email) || !X509_REQ_set_pubkey(req, key))
        goto fail;
    if (!(ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san)) || !sk_X509_EXTENSION_push(exts, ext))
        goto fail;
    ext = NULL;
    if (!X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, key, EVP_sha256()))
        goto fail;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return req;
fail:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return NULL;
}

/* Writes the key (private) then the companion file; if the second write
 * fails, the key goes back to what it was, so the pair stays consistent. */
static int write_pair(const char *key_path, const char *kd, size_t kl, const char *old_key, size_t old_kl,
                      const char *other_path, const char *od, size_t ol, ism_cert_result *res, ism_err *err)
{
    if (kd) {
        if (ism_fs_write_atomic(key_path, kd, kl, 1, err))
            return -1;
        wrote(res, key_path);
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
    wrote(res, other_path);
    return 0;
}

int ism_csr_new(const ism_paths *p, ism_csr_req *req, int force, ism_cert_result *res, ism_err *err)
{
    char csr[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], crt[ISM_PATH_MAX + 300], advice[400];
    ism_cert_field bad;
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (ism_csr_req_check(req, &bad, err)) {
        fail_from(res, ism_cert_field_name(bad), err);
        return -1;
    }
    add_check(res, ISM_CHECK_OK, "fields", "the request's fields are valid (key %s)", req->key);
    if (ism_csr_req_advice(req, advice, sizeof advice))
        add_check(res, ISM_CHECK_WARN, "cn", "%s", advice);
    copy(res->domain, sizeof res->domain, req->cn);
    ism_paths_file(csr, sizeof csr, p->csr, req->cn, ".csr");
    ism_paths_file(key, sizeof key, p->key, req->cn, ".key");
    ism_paths_file(crt, sizeof crt, p->crt, req->cn, ".crt");
    if (ism_fs_exists(key) && !force)
        return fail_check(res, err, ISM_E_INVALID, "key",
                          "%s already exists: a key is never replaced silently (it may belong to the installed "
                          "certificate or to a CSR sent to the certificate authority); to make a new key and CSR "
                          "anyway, give --force: the old key and CSR are kept as .bak files",
                          key);

    char *old_key = NULL, *old_csr = NULL, *kd = NULL;
    size_t old_kl = 0, old_cl = 0, kl = 0;
    EVP_PKEY *k = NULL;
    X509_REQ *r = NULL;
    BIO *cb = NULL;
    int rc = -1;
    ERR_clear_error();
    if (read_old(key, &old_key, &old_kl, err) || read_old(csr, &old_csr, &old_cl, err)) {
        fail_from(res, "backup", err);
        goto out;
    }
    if (!(k = new_key(req->key)) || !(r = make_csr(req, k)) || key_pem(k, &kd, &kl)) {
        ism_err_set(err, ISM_E_TLS, "cannot create the %s key and request for %s", req->key, req->cn);
        ism_err_add_openssl(err);
        fail_from(res, "create", err);
        goto out;
    }
    char *cd;
    long cl;
    if (!(cb = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509_REQ(cb, r) || (cl = BIO_get_mem_data(cb, &cd)) <= 0) {
        ism_err_set(err, ISM_E_TLS, "cannot write the request for %s", req->cn);
        fail_from(res, "create", err);
        goto out;
    }
    if (old_key && ism_fs_exists(crt)) {
        ism_cert_info info;
        ism_err e = {0};
        if (ism_cert_describe(crt, 0, key, &info, &e) == 0 && info.key_state == ISM_KEY_MATCH)
            add_check(res, ISM_CHECK_WARN, "key",
                      "%s was made with the old key: it no longer matches %s, so the service cannot load it again; "
                      "install the new certificate as soon as the certificate authority sends it (the old key is "
                      "kept as a .bak)",
                      crt, key);
    }
    if (ism_fs_mkdirs(p->key, 1, err) || ism_fs_mkdirs(p->csr, 0, err) ||
        (old_key && keep_backup(key, old_key, old_kl, 1, res, err)) ||
        (old_csr && keep_backup(csr, old_csr, old_cl, 0, res, err)) ||
        write_pair(key, kd, kl, old_key, old_kl, csr, cd, (size_t)cl, res, err)) {
        fail_from(res, "write", err);
        goto out;
    }
    add_check(res, ISM_CHECK_OK, "write", "wrote %s (send it to the certificate authority) and %s (keep it secret)",
              csr, key);
    rc = 0;
out:
    free_secret(old_key, old_kl);
    free(old_csr);
    free_secret(kd, kl);
    BIO_free(cb);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
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
            if (j != i && issued_by(x, sk_X509_value(certs, j)))
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
    while (out && sk_X509_num(out) < ISM_CERT_MAX_CHAIN && !self_signed(cur)) {
        X509 *next = NULL;
        for (int i = 0; i < sk_X509_num(pool) && !next; i++) {
            X509 *c = sk_X509_value(pool, i);
            if (c != leaf && X509_cmp(c, cur) != 0 && issued_by(c, cur))
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

int ism_cert_install(const ism_paths *p, const ism_cert_install_req *req, ism_cert_result *res, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], when[40], names[600];
    ism_cert_result dummy;
    bundle b, cab, kb;
    EVP_PKEY *key_obj = NULL; /* borrowed from a bundle or owned (own_key) */
    int own_key = 0, key_is_installed = 0, rc = -1;
    STACK_OF(X509) *chain = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *vctx = NULL;
    BIO *out_b = NULL;
    char *old_crt = NULL, *old_key = NULL, *kd = NULL;
    size_t old_cl = 0, old_kl = 0, kl = 0;
    const char *key_src = NULL;
    ism_cert_info info;

    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    memset(&b, 0, sizeof b);
    memset(&cab, 0, sizeof cab);
    memset(&kb, 0, sizeof kb);
    ERR_clear_error();

    /* 1. It parses. */
    if (!req->file || !req->file[0])
        return fail_check(res, err, ISM_E_USAGE, "parse", "no certificate file given");
    if (load_bundle(req->file, req->password, &b, err)) {
        fail_from(res, "parse", err);
        goto out;
    }
    if (sk_X509_num(b.certs) == 0) {
        fail_check(res, err, ISM_E_INVALID, "parse", "%s holds no certificate%s", req->file,
                   b.req ? " but a certificate request (CSR): send that to the certificate authority, and install the "
                           "certificate it sends back"
                         : "");
        goto out;
    }
    X509 *leaf = pick_leaf(b.certs, b.keys, b.n_keys);
    memset(&info, 0, sizeof info);
    describe_x509(leaf, &info);
    add_check(res, ISM_CHECK_OK, "parse", "%s: %s certificate for %s, issued by %s", req->file, b.format, info.subject,
              info.issuer);

    /* 2. The domain and its names. */
    char domain[256];
    if (req->domain && req->domain[0]) {
        if (domain_arg("domain", req->domain, domain, sizeof domain, err)) {
            fail_from(res, "name", err);
            goto out;
        }
    } else {
        cert_domain(&info, domain, sizeof domain);
        if (!domain[0]) {
            fail_check(res, err, ISM_E_INVALID, "name",
                       "the certificate names no domain usable as a file name (CN '%s'); give the domain with "
                       "--domain DOMAIN",
                       info.cn);
            goto out;
        }
    }
    copy(res->domain, sizeof res->domain, domain);
    size_t w = 0;
    names[0] = '\0';
    for (int i = 0; i < info.n_san && w < sizeof names; i++)
        w += (size_t)snprintf(names + w, sizeof names - w, "%s%s", i ? ", " : "", info.san[i]);
    if (!info.n_san)
        snprintf(names, sizeof names, "CN %s", info.cn);
    if (X509_check_host(leaf, domain, strlen(domain), 0, NULL) != 1) {
        fail_check(res, err, ISM_E_INVALID, "name",
                   "the certificate is for %s, not %s; clients connecting to %s would refuse it: install the "
                   "certificate made for that domain, or give the right --domain",
                   names, domain, domain);
        goto out;
    }
    add_check(res, ISM_CHECK_OK, "name", "its names (%s) cover %s", names, domain);
    ism_paths_file(crt, sizeof crt, p->crt, domain, ".crt");
    ism_paths_file(key, sizeof key, p->key, domain, ".key");

    /* 3. Validity. */
    int64_t now = (int64_t)time(NULL);
    if (info.not_before > now) {
        fmt_time(info.not_before, when, sizeof when);
        fail_check(res, err, ISM_E_INVALID, "validity",
                   "the certificate is not valid before %s; check this computer's clock, or install it from then on",
                   when);
        goto out;
    }
    if (info.not_after < now) {
        fmt_time(info.not_after, when, sizeof when);
        fail_check(res, err, ISM_E_INVALID, "validity",
                   "the certificate expired on %s; clients refuse it: renew it with the certificate authority", when);
        goto out;
    }
    fmt_time(info.not_after, when, sizeof when);
    if (info.days_left < ISM_CERT_EXPIRING_DAYS)
        add_check(res, ISM_CHECK_WARN, "validity", "the certificate expires on %s, in %ld days: renew it soon", when,
                  info.days_left);
    else
        add_check(res, ISM_CHECK_OK, "validity", "valid until %s (%ld days)", when, info.days_left);
    char refused[300];
    const char *fix = "";
    if (tls_refuses(leaf, 1, refused, sizeof refused, &fix)) {
        fail_check(res, err, ISM_E_INVALID, "strength", "the certificate %s; the service could not use it: %s",
                   refused, fix);
        goto out;
    }
    if ((strcmp(info.key_type, "RSA") == 0 && info.key_bits < 2048) ||
        (strncmp(info.key_type, "EC", 2) == 0 && info.key_bits < 256))
        add_check(res, ISM_CHECK_WARN, "strength", "the key is %s %d bits, which is no longer safe; renew with rsa:2048 "
                  "or more, or ec:P-256", info.key_type, info.key_bits);

    /* 4. The key: --key, else in the file, else the one made with the CSR. */
    if (req->key_file && req->key_file[0]) {
        if (load_bundle(req->key_file, req->password, &kb, err)) {
            fail_from(res, "key", err);
            goto out;
        }
        if (kb.n_keys == 0) {
            fail_check(res, err, ISM_E_INVALID, "key", "%s holds no private key", req->key_file);
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
        if (ism_fs_private_check(key, err) || !(key_obj = load_key_file(key, NULL, err))) {
            fail_from(res, "key", err);
            goto out;
        }
        own_key = 1;
        key_is_installed = 1;
        key_src = key;
    } else {
        fail_check(res, err, ISM_E_INVALID, "key",
                   "no private key: %s holds none and %s does not exist; give the key made with the CSR with --key "
                   "KEYFILE (or install a PKCS#12/PFX file that holds it)",
                   req->file, key);
        goto out;
    }
    ERR_clear_error();
    if (X509_check_private_key(leaf, key_obj) != 1) {
        fail_check(res, err, ISM_E_INVALID, "key",
                   "the private key in %s does not match the certificate in %s (%s): it was made for another CSR; "
                   "install the key made with this certificate's CSR",
                   key_src, req->file, info.subject);
        goto out;
    }
    add_check(res, ISM_CHECK_OK, "key", "the private key in %s matches the certificate", key_src);

    /* 5. The chain. */
    STACK_OF(X509) *pool = b.certs;
    if (req->ca_file && req->ca_file[0]) {
        if (load_bundle(req->ca_file, NULL, &cab, err)) {
            fail_from(res, "chain", err);
            goto out;
        }
        if (sk_X509_num(cab.certs) == 0) {
            fail_check(res, err, ISM_E_INVALID, "chain", "%s holds no CA certificate", req->ca_file);
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
                name_line(X509_get_subject_name(cur), at, sizeof at);
            sk_X509_free(untrusted);
            fail_check(res, err, ISM_E_INVALID, "chain", "the chain does not build to %s: %s (at %s); %s", req->ca_file,
                       X509_verify_cert_error_string(e), at[0] ? at : "the certificate", verify_hint(e));
            goto out;
        }
        STACK_OF(X509) *vchain = X509_STORE_CTX_get0_chain(vctx);
        chain = sk_X509_new_null();
        for (int i = 1; chain && i < sk_X509_num(vchain) && sk_X509_num(chain) < ISM_CERT_MAX_CHAIN; i++)
            sk_X509_push(chain, sk_X509_value(vchain, i));
        sk_X509_free(untrusted);
        add_check(res, ISM_CHECK_OK, "chain", "the chain builds to %s (%d certificate%s after the domain's)",
                  req->ca_file, sk_X509_num(chain), sk_X509_num(chain) == 1 ? "" : "s");
    } else {
        chain = order_chain(leaf, pool);
        if (!chain) {
            fail_check(res, err, ISM_E_IO, "chain", "out of memory");
            goto out;
        }
        if (sk_X509_num(chain) == 0 && !info.self_signed)
            add_check(res, ISM_CHECK_WARN, "chain",
                      "incomplete chain: the certificate of its issuer (%s) is not in %s; clients that do not have it "
                      "will refuse the certificate: get the intermediate certificate from the certificate authority "
                      "and install again with --ca CAFILE",
                      info.issuer, req->file);
        else if (info.self_signed)
            add_check(res, ISM_CHECK_WARN, "chain",
                      "the certificate is self-signed: mail clients warn about it and other servers may not trust it");
        else
            add_check(res, ISM_CHECK_OK, "chain", "%d issuer certificate%s found in %s", sk_X509_num(chain),
                      sk_X509_num(chain) == 1 ? "" : "s", req->file);
    }
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        if (tls_refuses(x, 0, refused, sizeof refused, &fix)) {
            char subj[512];
            name_line(X509_get_subject_name(x), subj, sizeof subj);
            fail_check(res, err, ISM_E_INVALID, "strength",
                       "the chain certificate %.120s %s; the service could not use the chain: get the current chain "
                       "from the certificate authority",
                       subj, refused);
            goto out;
        }
    }
    int unused = sk_X509_num(b.certs) - 1 - sk_X509_num(chain);
    if (!(req->ca_file && req->ca_file[0]) && unused > 0)
        add_check(res, ISM_CHECK_WARN, "chain", "%d certificate%s in %s %s not part of the domain's chain and %s left out",
                  unused, unused == 1 ? "" : "s", req->file, unused == 1 ? "is" : "are", unused == 1 ? "was" : "were");

    /* 6. Write: the certificate then its chain; the key when it is new. */
    char *cd;
    long cl;
    out_b = BIO_new(BIO_s_mem());
    int pem_ok = out_b && PEM_write_bio_X509(out_b, leaf);
    for (int i = 0; pem_ok && i < sk_X509_num(chain); i++)
        pem_ok = PEM_write_bio_X509(out_b, sk_X509_value(chain, i));
    if (!pem_ok || (cl = BIO_get_mem_data(out_b, &cd)) <= 0) {
        fail_check(res, err, ISM_E_TLS, "write", "cannot encode the certificate for %s", domain);
        goto out;
    }
    if (read_old(crt, &old_crt, &old_cl, err) || (!key_is_installed && read_old(key, &old_key, &old_kl, err))) {
        fail_from(res, "backup", err);
        goto out;
    }
    if (!key_is_installed) {
        /* Unchanged when the new key is the one already installed. */
        EVP_PKEY *cur = old_key ? load_key_file(key, NULL, &(ism_err){0}) : NULL;
        int same = cur && EVP_PKEY_eq(cur, key_obj) == 1;
        EVP_PKEY_free(cur);
        ERR_clear_error();
        if (same) {
            free_secret(old_key, old_kl);
            old_key = NULL;
            key_is_installed = 1;
        } else if (key_pem(key_obj, &kd, &kl)) {
            fail_check(res, err, ISM_E_TLS, "write", "cannot encode the private key for %s", domain);
            goto out;
        }
    }
    int crt_same = old_crt && old_cl == (size_t)cl && memcmp(old_crt, cd, old_cl) == 0;
    if (ism_fs_mkdirs(p->crt, 0, err) || ism_fs_mkdirs(p->key, 1, err) ||
        (old_key && keep_backup(key, old_key, old_kl, 1, res, err)) ||
        (old_crt && !crt_same && keep_backup(crt, old_crt, old_cl, 0, res, err)) ||
        write_pair(key, kd, kl, old_key, old_kl, crt, cd, (size_t)cl, res, err)) {
        fail_from(res, "write", err);
        goto out;
    }
    add_check(res, ISM_CHECK_OK, "write", "installed %s%s%s", crt, kd ? " and " : "", kd ? key : "");
    rc = 0;
out:
    if (own_key)
        EVP_PKEY_free(key_obj);
    sk_X509_free(chain);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    BIO_free(out_b);
    free(old_crt);
    free_secret(old_key, old_kl);
    free_secret(kd, kl);
    bundle_free(&b);
    bundle_free(&cab);
    bundle_free(&kb);
    ERR_clear_error();
    return rc;
}

/* Keeps path as a .bak, then deletes it. */
static int retire(const char *path, int private_file, ism_cert_result *res, ism_err *err)
{
    char *old;
    size_t len;
    if (read_old(path, &old, &len, err))
        return -1;
    if (!old)
        return 0;
    int rc = keep_backup(path, old, len, private_file, res, err) || ism_fs_remove(path, err) ? -1 : 0;
    free_secret(old, len);
    return rc;
}

int ism_cert_remove(const ism_paths *p, const char *domain, ism_cert_result *res, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], d[256];
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (domain_arg("domain", domain, d, sizeof d, err))
        return -1;
    copy(res->domain, sizeof res->domain, d);
    ism_paths_file(crt, sizeof crt, p->crt, d, ".crt");
    ism_paths_file(key, sizeof key, p->key, d, ".key");
    if (!ism_fs_exists(crt) && !ism_fs_exists(key))
        return fail_check(res, err, ISM_E_INVALID, "remove",
                          "no certificate installed for %s (%s does not exist); 'ismailctl cert list' shows them", d,
                          crt);
    /* The certificate first: a key without its certificate is harmless. */
    if (retire(crt, 0, res, err) || retire(key, 1, res, err)) {
        fail_from(res, "remove", err);
        return -1;
    }
    add_check(res, ISM_CHECK_OK, "remove", "removed %s and %s", crt, key);
    return 0;
}

int ism_cert_selfsign(const ism_paths *p, const char *domain, int force, ism_cert_result *res, ism_err *err)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], d[256];
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (domain_arg("domain", domain, d, sizeof d, err))
        return -1;
    copy(res->domain, sizeof res->domain, d);
    ism_paths_file(crt, sizeof crt, p->crt, d, ".crt");
    ism_paths_file(key, sizeof key, p->key, d, ".key");
    if ((ism_fs_exists(crt) || ism_fs_exists(key)) && !force)
        return fail_check(res, err, ISM_E_INVALID, "key",
                          "%s already has a certificate or key (%s, %s); a pair is never replaced silently: give "
                          "--force to replace it (the old files are kept as .bak)",
                          d, crt, key);
    char *oc = NULL, *ok = NULL;
    size_t ocl = 0, okl = 0;
    int rc = -1;
    if (read_old(crt, &oc, &ocl, err) || read_old(key, &ok, &okl, err) || ism_fs_mkdirs(p->crt, 0, err) ||
        ism_fs_mkdirs(p->key, 1, err) || (ok && keep_backup(key, ok, okl, 1, res, err)) ||
        (oc && keep_backup(crt, oc, ocl, 0, res, err)) || ism_tls_selfsign(d, crt, key, err)) {
        fail_from(res, "write", err);
    } else {
        wrote(res, key);
        wrote(res, crt);
        add_check(res, ISM_CHECK_WARN, "chain",
                  "self-signed: mail clients warn about it; use it until a certificate authority's is installed");
        rc = 0;
    }
    free(oc);
    free_secret(ok, okl);
    return rc;
}

int ism_cert_key_private(const char *path, ism_err *err)
{
    return ism_fs_private_check(path, err);
}
