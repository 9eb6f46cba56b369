/* ism_cert_csr: CSR fields, their checks and advice, and ism_csr_new.
 *
 * The rules come from the manual's "CSR Details" and from RFC 5280's upper
 * bounds (ub-*); the host-name rules here are also those of every domain used
 * as a file name in the three folders. */
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
int ism_ci_dns_name_ok(const char *s, int wildcard, char *why, size_t whysz)
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
            copy(why, whysz, "a wildcard is not a domain name here; use the domain itself (wildcards go among the extra names, the subjectAltName)");
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
void ism_ci_canon_host(const char *in, char *out, size_t outsz)
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
        ism_ci_canon_host(v, h, sizeof h);
        if (!h[0])
            return ism_err_set(err, ISM_E_INVALID,
                               "cn: required; the common name is the domain the certificate is for (e.g. example.com)");
        if (!ism_ci_dns_name_ok(h, 0, why, sizeof why))
            return ism_err_set(err, ISM_E_INVALID, "cn: '%s' is not a domain name: %s", v, why);
        if (strlen(h) > 64)
            return ism_err_set(err, ISM_E_INVALID,
                               "cn: the common name has %lu characters; at most 64 are allowed (RFC 5280); put a longer "
                               "name among the extra names (subjectAltName) and a shorter one here",
                               (unsigned long)strlen(h));
        copy(v, sizeof v, h);
        break;
    }
    case ISM_CF_SAN: {
        char h[1024];
        ism_ci_canon_host(v, h, sizeof h);
        if (!ism_ci_dns_name_ok(h, 1, why, sizeof why))
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
        ism_ci_canon_host(at + 1, h, sizeof h);
        if (!ism_ci_dns_name_ok(h, 0, why, sizeof why))
            return ism_err_set(err, ISM_E_INVALID, "email: '%s': the part after '@' is not a domain: %s", v, why);
        snprintf(at + 1, sizeof v - (size_t)(at + 1 - v), "%s", h);
        break;
    }
    case ISM_CF_KEY: {
        char k[64];
        ism_ci_canon_host(v, k, sizeof k); /* lower case */
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

/* What the manual says of each field of a request it asks for (every one
 * but the Organizational Unit Name): its label and what to give. */
static const struct {
    ism_cert_field f;
    const char *label, *hint;
} required_fields[] = {
    {ISM_CF_COUNTRY, "Country Name", "always a 2-letter code (e.g. US or CA)"},
    {ISM_CF_STATE, "State or Province Name",
     "the name of the state or province of the company or organization (e.g. California)"},
    {ISM_CF_LOCALITY, "Locality Name", "the name of the city of the company or organization (e.g. Mountain View)"},
    {ISM_CF_ORG, "Organization Name", "the name of the company (e.g. InstantServers, Inc.)"},
    {ISM_CF_CN, "Common Name",
     "the name of the domain, generally WITHOUT any 'mail' or 'www' prefix (e.g. instantservers.com)"},
    {ISM_CF_EMAIL, "Email Address", "the mail account of the server administrator (e.g. postmaster@example.com)"},
};

int ism_cert_field_required(ism_cert_field f)
{
    for (size_t i = 0; i < sizeof required_fields / sizeof required_fields[0]; i++)
        if (required_fields[i].f == f)
            return 1;
    return 0;
}

int ism_cert_field_missing(ism_cert_field f, ism_err *err)
{
    for (size_t i = 0; i < sizeof required_fields / sizeof required_fields[0]; i++)
        if (required_fields[i].f == f)
            return ism_err_set(err, ISM_E_INVALID, "%s: the '%s' is required: %s", field_names[f],
                               required_fields[i].label, required_fields[i].hint);
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
    /* The count first: it does not depend on the other fields (the manager
     * asks for this message with a request that has only a common name). */
    if (req->n_san < 0 || req->n_san > ISM_CERT_MAX_SANS - 1) {
        if (bad)
            *bad = ISM_CF_SAN;
        return ism_err_set(err, ISM_E_INVALID, "san: at most %d extra names", ISM_CERT_MAX_SANS - 1);
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char t[8];
        trim(fields[i].v, t, sizeof t);
        if ((!t[0] && ism_cert_field_required(fields[i].f) && ism_cert_field_missing(fields[i].f, err)) ||
            ism_cert_field_check(fields[i].f, fields[i].v, fields[i].v, fields[i].sz, err)) {
            if (bad)
                *bad = fields[i].f;
            return -1;
        }
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
    ism_ci_canon_host(req->cn, cn, sizeof cn);
    if (strncmp(cn, "mail.", 5) == 0 || strncmp(cn, "www.", 4) == 0) {
        snprintf(out, outsz,
                 "cn: the manual advises the domain WITHOUT a 'mail' or 'www' prefix (e.g. %s); keep %s only if "
                 "clients connect to that exact name",
                 strchr(cn, '.') + 1, cn);
        return 1;
    }
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

int ism_csr_new(const ism_paths *p, ism_csr_req *req, int force, ism_cert_result *res, ism_err *err)
{
    char csr[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300], crt[ISM_PATH_MAX + 300], advice[400];
    ism_cert_field bad;
    ism_cert_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (ism_csr_req_check(req, &bad, err)) {
        ism_ci_fail_from(res, ism_cert_field_name(bad), err);
        return -1;
    }
    ism_ci_add_check(res, ISM_CHECK_OK, "fields", "the request's fields are valid (key %s)", req->key);
    if (ism_csr_req_advice(req, advice, sizeof advice))
        ism_ci_add_check(res, ISM_CHECK_WARN, "cn", "%s", advice);
    copy(res->domain, sizeof res->domain, req->cn);
    ism_paths_file(csr, sizeof csr, p->csr, req->cn, ".csr");
    ism_paths_file(key, sizeof key, p->key, req->cn, ".key");
    ism_paths_file(crt, sizeof crt, p->crt, req->cn, ".crt");
    if (ism_fs_exists(key) && !force) {
        res->fix = ISM_FIX_FORCE;
        return ism_ci_fail_check(res, err, ISM_E_INVALID, "key",
                                 "%s already exists: a key is never replaced silently (it may belong to the installed "
                                 "certificate or to a CSR sent to the certificate authority); making a new key and CSR "
                                 "anyway keeps the old key and CSR as .bak files",
                                 key);
    }

    char *old_key = NULL, *old_csr = NULL, *kd = NULL;
    size_t old_kl = 0, old_cl = 0, kl = 0;
    EVP_PKEY *k = NULL;
    X509_REQ *r = NULL;
    BIO *cb = NULL;
    int rc = -1;
    ERR_clear_error();
    if (ism_ci_read_old(key, &old_key, &old_kl, err) || ism_ci_read_old(csr, &old_csr, &old_cl, err)) {
        ism_ci_fail_from(res, "backup", err);
        goto out;
    }
    if (!(k = new_key(req->key)) || !(r = make_csr(req, k)) || ism_ci_key_pem(k, &kd, &kl)) {
        ism_err_set(err, ISM_E_TLS, "cannot create the %s key and request for %s", req->key, req->cn);
        ism_err_add_openssl(err);
        ism_ci_fail_from(res, "create", err);
        goto out;
    }
    char *cd;
    long cl;
    if (!(cb = BIO_new(BIO_s_mem())) || !PEM_write_bio_X509_REQ(cb, r) || (cl = BIO_get_mem_data(cb, &cd)) <= 0) {
        ism_err_set(err, ISM_E_TLS, "cannot write the request for %s", req->cn);
        ism_ci_fail_from(res, "create", err);
        goto out;
    }
    if (old_key && ism_fs_exists(crt)) {
        ism_cert_info info;
        ism_err e = {0};
        if (ism_cert_describe(crt, 0, key, &info, &e) == 0 && info.key_state == ISM_KEY_MATCH)
            ism_ci_add_check(res, ISM_CHECK_WARN, "key",
                      "%s was made with the old key: it no longer matches %s, so the service cannot load it again; "
                      "install the new certificate as soon as the certificate authority sends it (the old key is "
                      "kept as a .bak)",
                      crt, key);
    }
    if (ism_fs_mkdirs(p->key, 1, err) || ism_fs_mkdirs(p->csr, 0, err) ||
        (old_key && ism_ci_keep_backup(key, old_key, old_kl, 1, res, err)) ||
        (old_csr && ism_ci_keep_backup(csr, old_csr, old_cl, 0, res, err)) ||
        ism_ci_write_pair(key, kd, kl, old_key, old_kl, csr, cd, (size_t)cl, res, err)) {
        ism_ci_fail_from(res, "write", err);
        goto out;
    }
    ism_ci_add_check(res, ISM_CHECK_OK, "write", "wrote %s (send it to the certificate authority) and %s (keep it secret)",
              csr, key);
    rc = 0;
out:
    ism_ci_free_secret(old_key, old_kl);
    free(old_csr);
    ism_ci_free_secret(kd, kl);
    BIO_free(cb);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

