/* ism_tls_set: the TLS generation the service publishes (see ism_tls_set.h). */
#include "ism_tls_set.h"

#include "ism_log.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_str.h"
#include "ism_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 64 /* names kept per certificate; more are ignored */

typedef struct {
    char name[256];         /* file name without .crt, or the web SSL domain */
    char file[ISM_PATH_MAX + 300];
    int web;
    ism_tls_gen *gen;
    char *names_buf;        /* the names, NUL-separated */
    const char *names[MAX_NAMES];
    ism_tls_candidate cand;
} entry;

struct ism_tls_set {
    atomic_int refs;
    entry *e;          /* e[0] is the host's */
    size_t n, cap;
    ism_tls_candidate *cand; /* one per entry, for ism_tls_choose */
    char hostname[256];
    const char *ciphers; /* tls.ciphers, while the set is being built (NULL after) */
};

/* ---- the choice ---- */

/* Length of s without one trailing dot. */
static size_t name_len(const char *s)
{
    size_t n = strlen(s);
    return n && s[n - 1] == '.' ? n - 1 : n;
}

int ism_tls_name_match(const char *pattern, const char *host)
{
    if (!pattern || !host)
        return 0;
    size_t pn = name_len(pattern), hn = name_len(host);
    if (pn == 0 || hn == 0)
        return 0;
    if (pn == hn && ism_str_ieq_bytes(pattern, host, pn))
        return 2;
    if (pn < 2 || pattern[0] != '*' || pattern[1] != '.')
        return 0;
    /* "*.rest": rest must itself have two labels (no "*.com"), and the host
     * must be one non-empty label, then ".rest". */
    const char *rest = pattern + 2;
    size_t rn = pn - 2;
    const char *dot = memchr(rest, '.', rn);
    if (!dot || dot == rest || dot == rest + rn - 1 || memchr(rest, '*', rn))
        return 0;
    if (hn < rn + 2)
        return 0;
    size_t label = hn - rn - 1;
    if (host[label] != '.' || memchr(host, '.', label) || memchr(host, '*', label))
        return 0;
    return ism_str_ieq_bytes(rest, host + label + 1, rn) ? 1 : 0;
}

static int valid_at(const ism_tls_candidate *c, int64_t now)
{
    return c->not_before <= now && now <= c->not_after;
}

int ism_tls_best_match(const ism_tls_candidate *c, size_t n, const char *name, int64_t now)
{
    int best = -1, best_valid = 0, best_kind = 0;
    if (!name || !*name)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (c[i].fallback)
            continue;
        int kind = 0;
        for (size_t j = 0; j < c[i].n_names && kind < 2; j++) {
            int k = ism_tls_name_match(c[i].names[j], name);
            if (k > kind)
                kind = k;
        }
        if (!kind)
            continue;
        int valid = valid_at(&c[i], now);
        if (best >= 0) {
            if (valid != best_valid) {
                if (!valid)
                    continue;
            } else if (kind != best_kind) {
                if (kind < best_kind)
                    continue;
            } else if (c[i].not_after <= c[best].not_after) {
                continue;
            }
        }
        best = (int)i;
        best_valid = valid;
        best_kind = kind;
    }
    return best;
}

int ism_tls_choose(const ism_tls_candidate *c, size_t n, const char *sni, const char *hostname, int64_t now)
{
    int i = ism_tls_best_match(c, n, sni, now);
    if (i < 0)
        i = ism_tls_best_match(c, n, hostname, now);
    for (size_t j = 0; i < 0 && j < n; j++)
        if (c[j].fallback)
            i = (int)j;
    return i;
}

/* ---- reading a certificate's names and dates ---- */

static int64_t asn1_unix(const ASN1_TIME *t)
{
    int days = 0, secs = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int ok = epoch && t && ASN1_TIME_diff(&days, &secs, epoch, t);
    ASN1_TIME_free(epoch);
    return ok ? (int64_t)days * 86400 + secs : 0;
}

/* Appends a DNS name to e's list: printable ASCII only (a name with a NUL
 * or a U-label is no name a client sends), lower-cased. */
static void add_name(entry *e, size_t *used, size_t cap, const unsigned char *p, int len)
{
    if (len <= 0 || len > 253 || e->cand.n_names >= MAX_NAMES || *used + (size_t)len + 1 > cap)
        return;
    for (int i = 0; i < len; i++)
        if (p[i] <= ' ' || p[i] >= 127)
            return;
    char *d = e->names_buf + *used;
    for (int i = 0; i < len; i++)
        d[i] = ism_str_lower((char)p[i]);
    d[len] = '\0';
    e->names[e->cand.n_names++] = d;
    *used += (size_t)len + 1;
}

/* Fills e's names (DNS subjectAltNames, else the subject's last CN, or
 * `fixed` when given) and validity from its leaf certificate. */
static int read_names(entry *e, const char *fixed, ism_err *err)
{
    X509 *x = SSL_CTX_get0_certificate(ism_tls_gen_ctx(e->gen));
    size_t cap = 4096, used = 0;
    e->names_buf = malloc(cap);
    if (!e->names_buf)
        return ism_err_set(err, ISM_E_TLS, "out of memory");
    e->cand.names = e->names;
    e->cand.n_names = 0;
    if (fixed) {
        add_name(e, &used, cap, (const unsigned char *)fixed, (int)strlen(fixed));
    } else if (x) {
        GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            if (g->type == GEN_DNS)
                add_name(e, &used, cap, ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
        }
        int had_dns = e->cand.n_names > 0;
        GENERAL_NAMES_free(sans);
        if (!had_dns) {
            /* RFC 6125 6.4.4: the CN only when there is no DNS name. */
            const X509_NAME *subj = X509_get_subject_name(x);
            int last = -1;
            for (int i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;)
                last = i;
            if (last >= 0) {
                const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last));
                add_name(e, &used, cap, ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn));
            }
        }
    }
    if (x) {
        e->cand.not_before = asn1_unix(X509_get0_notBefore(x));
        e->cand.not_after = asn1_unix(X509_get0_notAfter(x));
    }
    return 0;
}

static int64_t now_s(void)
{
    return ism_time_wall_ms() / 1000;
}

/* The entry named `name`: a web SSL domain's (web 1) or a certificate
 * file's (web 0). A web SSL domain and a mail certificate file may share a
 * name: each keeps its own files and names. */
static const entry *find(const ism_tls_set *s, const char *name, int web)
{
    for (size_t i = 0; name && i < s->n; i++)
        if (!s->e[i].web == !web && ism_str_ieq(s->e[i].name, name))
            return &s->e[i];
    return NULL;
}

/* RFC 6066 SNI: switch to the certificate whose names match best; a name
 * nothing matches keeps the listener's starting certificate (no fatal
 * alert: clients often send names we do not serve). */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const ism_tls_set *s = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    /* A web SSL domain's listener asked for its own domain keeps the
     * domain's own files, even when a mail certificate also names it. */
    const entry *web = find(s, name, 1);
    if (web && ism_tls_gen_ctx(web->gen) == SSL_get_SSL_CTX(ssl))
        return SSL_TLSEXT_ERR_OK;
    int i = ism_tls_best_match(s->cand, s->n, name, now_s());
    if (i >= 0 && ism_tls_gen_ctx(s->e[i].gen) != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, ism_tls_gen_ctx(s->e[i].gen));
    return SSL_TLSEXT_ERR_OK;
}

/* Applies the set-wide options to a context before it joins the set; on
 * failure g is released. strict: refuse a certificate outside its validity
 * period (the host's and the web SSL domains': clients would fail with no
 * other to fall back to); other certificates are kept, and the choice
 * prefers a valid one for the same name. */
static int prepare(ism_tls_set *s, ism_tls_gen *g, const char *what, int strict, ism_err *err)
{
    X509 *leaf = SSL_CTX_get0_certificate(ism_tls_gen_ctx(g));
    if (strict && leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        ism_tls_gen_unref(g);
        return ism_err_set(err, ISM_E_TLS, "%s: the certificate expired; install a renewed one", what);
    }
    if (strict && leaf && X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        ism_tls_gen_unref(g);
        return ism_err_set(err, ISM_E_TLS, "%s: the certificate is not valid yet; check the computer's clock", what);
    }
    if (!strict && leaf && (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0 ||
                            X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0))
        ism_log(ISM_LOG_WARN, "%s: the certificate is outside its validity period; it is served only to names "
                "no valid certificate has", what);
    if (s->ciphers && *s->ciphers && SSL_CTX_set_cipher_list(ism_tls_gen_ctx(g), s->ciphers) != 1) {
        ism_tls_gen_unref(g);
        ERR_clear_error();
        return ism_err_set(err, ISM_E_TLS, "tls.ciphers: OpenSSL accepts no cipher in '%s'; fix or empty it",
                           s->ciphers);
    }
    /* Our order (AEAD, forward secrecy first) rather than the client's:
     * scanners and auditors expect a server to choose. */
    SSL_CTX_set_options(ism_tls_gen_ctx(g), SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* One TLS 1.3 session ticket instead of OpenSSL's two: a mail client
     * resumes one session at a time, and each ticket costs an encryption
     * per handshake (about 12% of a full handshake's instructions). */
    SSL_CTX_set_num_tickets(ism_tls_gen_ctx(g), 1);
    /* Read whole records with one recv(): about half the read calls per
     * handshake. Safe here because a connection reads until OpenSSL wants
     * more from the socket before it goes back to poll(). */
    SSL_CTX_set_read_ahead(ism_tls_gen_ctx(g), 1);
    SSL_CTX_set_tlsext_servername_callback(ism_tls_gen_ctx(g), on_servername);
    SSL_CTX_set_tlsext_servername_arg(ism_tls_gen_ctx(g), s);
    return 0;
}

static void entry_free(entry *e)
{
    ism_tls_gen_unref(e->gen);
    free(e->names_buf);
    e->gen = NULL;
    e->names_buf = NULL;
}

/* Fills e from g (taking g's reference): its names (a web SSL domain's is
 * its domain), dates, and whether it is the host's self-signed one. */
static int fill(entry *e, const char *name, const char *file, int web, int host, ism_tls_gen *g, ism_err *err)
{
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->file, sizeof e->file, "%s", file);
    e->web = web;
    e->gen = g;
    if (read_names(e, web ? name : NULL, err))
        return -1;
    X509 *x = SSL_CTX_get0_certificate(ism_tls_gen_ctx(g));
    /* The host's certificate when it signed itself (the one the service
     * makes on first start): the last resort, never chosen by name over a
     * certificate an authority signed. */
    EVP_PKEY *pub = x ? X509_get0_pubkey(x) : NULL;
    e->cand.fallback = host && pub && X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
                       X509_verify(x, pub) == 1;
    ERR_clear_error();
    return 0;
}

static int add(ism_tls_set *s, const char *name, const char *what, int web, int strict, ism_tls_gen *g, ism_err *err)
{
    if (prepare(s, g, what, strict, err))
        return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        entry *ne = realloc(s->e, cap * sizeof *ne);
        if (!ne) {
            ism_tls_gen_unref(g);
            return ism_err_set(err, ISM_E_TLS, "out of memory");
        }
        s->e = ne;
        s->cap = cap;
    }
    entry *e = &s->e[s->n++];
    if (fill(e, name, what, web, s->n == 1, g, err)) {
        entry_free(e);
        s->n--;
        return -1;
    }
    return 0;
}

static int add_ca_chain(ism_tls_gen *g, const char *ca_path, ism_err *err)
{
    char *data;
    size_t len;
    if (ism_fs_read(ca_path, 256 * 1024, &data, &len, err))
        return -1;
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509 *x;
    int n = 0;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        SSL_CTX_add0_chain_cert(ism_tls_gen_ctx(g), x);
        n++;
    }
    BIO_free(b);
    free(data);
    if (n == 0)
        return ism_err_set(err, ISM_E_TLS, "%s: no PEM certificate found in the CA certificate file", ca_path);
    return 0;
}

typedef struct {
    const ism_tls_set_spec *spec;
    ism_tls_set *set;
    ism_err *err;
    int failed;
} scan_ctx;

static void scan_one(const char *file, void *arg)
{
    scan_ctx *c = arg;
    char name[256], crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300];
    if (c->failed)
        return;
    snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 4), file);
    if (ism_str_ieq(name, c->spec->default_name) || find(c->set, name, 0))
        return;
    ism_paths_file(crt, sizeof crt, c->spec->crt_dir, file, NULL);
    ism_paths_file(key, sizeof key, c->spec->key_dir, name, ".key");
    if (!ism_fs_exists(key))
        return; /* a certificate waiting for its key is not served yet */
    ism_tls_gen *g;
    if (ism_tls_gen_build(&g, c->spec->profile, crt, key, c->err) || add(c->set, name, crt, 0, 0, g, c->err))
        c->failed = 1;
}

int ism_tls_set_build(ism_tls_set **out, const ism_tls_set_spec *spec, ism_err *err)
{
    ism_tls_set *s = calloc(1, sizeof *s);
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300];
    ism_tls_gen *g;
    if (!s)
        return ism_err_set(err, ISM_E_TLS, "out of memory");
    atomic_init(&s->refs, 1);
    s->ciphers = spec->ciphers;
    ism_paths_file(crt, sizeof crt, spec->crt_dir, spec->default_name, ".crt");
    ism_paths_file(key, sizeof key, spec->key_dir, spec->default_name, ".key");
    snprintf(s->hostname, sizeof s->hostname, "%s", spec->default_name);
    if (ism_tls_gen_build(&g, spec->profile, crt, key, err) || add(s, spec->default_name, crt, 0, 1, g, err))
        goto fail;
    for (size_t i = 0; i < spec->n_web; i++) {
        const ism_web_domain *w = &spec->web[i];
        if (find(s, w->domain, 1) && !ism_str_ieq(w->domain, spec->default_name))
            continue; /* listed twice */
        ism_paths_resolve(crt, sizeof crt, spec->crt_dir, w->cert_file);
        ism_paths_resolve(key, sizeof key, spec->key_dir, w->key_file);
        if (ism_tls_gen_build(&g, spec->profile, crt, key, err)) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            ism_err_set(err, ISM_E_TLS, "web SSL domain %s: %s", w->domain, why);
            goto fail;
        }
        if (w->ca_file[0]) {
            char ca[ISM_PATH_MAX + 300];
            ism_paths_resolve(ca, sizeof ca, spec->crt_dir, w->ca_file);
            if (add_ca_chain(g, ca, err)) {
                ism_tls_gen_unref(g);
                goto fail;
            }
        }
        if (ism_str_ieq(w->domain, spec->default_name)) {
            /* The web domain's own files win over the host's certificate. */
            if (prepare(s, g, crt, 1, err))
                goto fail;
            entry_free(&s->e[0]);
            if (fill(&s->e[0], w->domain, crt, 1, 1, g, err))
                goto fail;
        } else if (add(s, w->domain, crt, 1, 1, g, err)) {
            goto fail;
        }
    }
    scan_ctx sc = {spec, s, err, 0};
    if (ism_fs_list(spec->crt_dir, ".crt", scan_one, &sc, err) || sc.failed)
        goto fail;
    s->cand = calloc(s->n, sizeof *s->cand);
    if (!s->cand) {
        ism_err_set(err, ISM_E_TLS, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->n; i++) {
        s->cand[i] = s->e[i].cand;
        s->cand[i].names = s->e[i].names; /* the entries moved as the table grew */
    }
    s->ciphers = NULL; /* the spec's strings are the caller's */
    *out = s;
    return 0;
fail:
    ism_tls_set_unref(s);
    return -1;
}

ism_tls_set *ism_tls_set_ref(ism_tls_set *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void ism_tls_set_unref(ism_tls_set *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->e[i]);
    free(s->e);
    free(s->cand);
    free(s);
}

/* The entry a listener started with `name` serves before SNI: a web SSL
 * listener's own domain, else the choice for `name` as an SNI name. */
static size_t start_entry(const ism_tls_set *s, const char *name, int64_t now)
{
    for (size_t i = 0; name && i < s->n; i++)
        if (s->e[i].web && ism_str_ieq(s->e[i].name, name))
            return i;
    int i = ism_tls_choose(s->cand, s->n, name, s->hostname, now);
    return i < 0 ? 0 : (size_t)i;
}

SSL *ism_tls_set_new_ssl(ism_tls_set *s, const char *name)
{
    if (!s || !s->n)
        return NULL;
    return SSL_new(ism_tls_gen_ctx(s->e[start_entry(s, name, now_s())].gen));
}

size_t ism_tls_set_served(const ism_tls_set *s, const char *name, const char *sni)
{
    int64_t now = now_s();
    int i = sni && *sni ? ism_tls_best_match(s->cand, s->n, sni, now) : -1;
    return i >= 0 ? (size_t)i : start_entry(s, name, now);
}

const char *ism_tls_set_fingerprint(const ism_tls_set *s, const char *name)
{
    return s && s->n ? ism_tls_gen_fingerprint(s->e[start_entry(s, name, now_s())].gen) : "";
}

size_t ism_tls_set_count(const ism_tls_set *s)
{
    return s ? s->n : 0;
}

const char *ism_tls_set_name(const ism_tls_set *s, size_t i)
{
    return s && i < s->n ? s->e[i].name : "";
}

int ism_tls_set_entry_at(const ism_tls_set *s, size_t i, ism_tls_set_entry *out)
{
    if (!s || i >= s->n)
        return -1;
    out->file = s->e[i].file;
    out->fingerprint = ism_tls_gen_fingerprint(s->e[i].gen);
    out->web = s->e[i].web;
    out->cand = s->cand[i];
    return 0;
}

/* FNV-1a over names, sizes and times. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

typedef struct {
    const char *dir;
    uint64_t h;
} sig_ctx;

static void sig_file(const char *dir, const char *file, uint64_t *h)
{
    char full[ISM_PATH_MAX * 2];
    int64_t t = -1, sz = -1;
    ism_paths_resolve(full, sizeof full, dir, file);
    ism_fs_stat(full, &t, &sz);
    *h = mix(*h, full, strlen(full));
    *h = mix(*h, &t, sizeof t);
    *h = mix(*h, &sz, sizeof sz);
}

static void sig_one(const char *file, void *arg)
{
    sig_ctx *c = arg;
    /* Order-independent: XOR the per-file hashes. */
    uint64_t h = 1469598103934665603ULL;
    sig_file(c->dir, file, &h);
    c->h ^= h;
}

uint64_t ism_tls_files_signature(const ism_tls_set_spec *spec)
{
    sig_ctx c = {spec->crt_dir, 0};
    ism_fs_list(spec->crt_dir, ".crt", sig_one, &c, NULL);
    c.dir = spec->key_dir;
    ism_fs_list(spec->key_dir, ".key", sig_one, &c, NULL);
    uint64_t h = c.h;
    for (size_t i = 0; i < spec->n_web; i++) {
        sig_file(spec->crt_dir, spec->web[i].cert_file, &h);
        sig_file(spec->key_dir, spec->web[i].key_file, &h);
        if (spec->web[i].ca_file[0])
            sig_file(spec->crt_dir, spec->web[i].ca_file, &h);
    }
    return h;
}
