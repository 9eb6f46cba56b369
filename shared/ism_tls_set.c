/* ism_tls_set: the TLS generation the service publishes (see ism_tls_set.h). */
#include "ism_tls_set.h"

#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[256];
    ism_tls_gen *gen;
} entry;

struct ism_tls_set {
    atomic_int refs;
    entry *e;          /* e[0] is the default */
    size_t n, cap;
};

static int lower_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static const entry *find(const ism_tls_set *s, const char *name)
{
    if (!name)
        return s->n ? &s->e[0] : NULL;
    for (size_t i = 0; i < s->n; i++)
        if (lower_eq(s->e[i].name, name))
            return &s->e[i];
    return NULL;
}

/* RFC 6066 SNI: switch to the named domain's context, if the set has it;
 * an unknown name keeps the listener's default (no fatal alert: clients
 * often send names we do not serve). */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const ism_tls_set *s = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const entry *e = name ? find(s, name) : NULL;
    if (e && ism_tls_gen_ctx(e->gen) != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, ism_tls_gen_ctx(e->gen));
    return SSL_TLSEXT_ERR_OK;
}

static const char *set_ciphers; /* set during one build (builds run on one thread) */

/* Applies the set-wide options to a context before it joins the set; on
 * failure g is released. */
static int prepare(ism_tls_set *s, ism_tls_gen *g, const char *what, ism_err *err)
{
    /* A certificate outside its validity period would make every client
     * fail; refuse it here so the one in service stays. */
    X509 *leaf = SSL_CTX_get0_certificate(ism_tls_gen_ctx(g));
    if (leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        ism_tls_gen_unref(g);
        return ism_err_set(err, ISM_E_TLS, "%s: the certificate expired; install a renewed one", what);
    }
    if (leaf && X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        ism_tls_gen_unref(g);
        return ism_err_set(err, ISM_E_TLS, "%s: the certificate is not valid yet; check the computer's clock", what);
    }
    if (set_ciphers && *set_ciphers && SSL_CTX_set_cipher_list(ism_tls_gen_ctx(g), set_ciphers) != 1) {
        ism_tls_gen_unref(g);
        ERR_clear_error();
        return ism_err_set(err, ISM_E_TLS, "tls.ciphers: OpenSSL accepts no cipher in '%s'; fix or empty it",
                           set_ciphers);
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

static int add(ism_tls_set *s, const char *name, const char *what, ism_tls_gen *g, ism_err *err)
{
    if (prepare(s, g, what, err))
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
    snprintf(s->e[s->n].name, sizeof s->e[s->n].name, "%s", name);
    s->e[s->n++].gen = g;
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
    if (lower_eq(name, c->spec->default_name) || find(c->set, name))
        return;
    ism_paths_file(crt, sizeof crt, c->spec->crt_dir, file, NULL);
    ism_paths_file(key, sizeof key, c->spec->key_dir, name, ".key");
    if (!ism_fs_exists(key))
        return; /* a certificate waiting for its key is not served yet */
    ism_tls_gen *g;
    if (ism_tls_gen_build(&g, c->spec->profile, crt, key, c->err) || add(c->set, name, crt, g, c->err))
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
    set_ciphers = spec->ciphers;
    ism_paths_file(crt, sizeof crt, spec->crt_dir, spec->default_name, ".crt");
    ism_paths_file(key, sizeof key, spec->key_dir, spec->default_name, ".key");
    if (ism_tls_gen_build(&g, spec->profile, crt, key, err) || add(s, spec->default_name, crt, g, err))
        goto fail;
    for (size_t i = 0; i < spec->n_web; i++) {
        const ism_web_domain *w = &spec->web[i];
        if (find(s, w->domain) && !lower_eq(w->domain, spec->default_name))
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
        if (lower_eq(w->domain, spec->default_name)) {
            /* The web domain's own files win over the host's certificate. */
            if (prepare(s, g, crt, err))
                goto fail;
            ism_tls_gen_unref(s->e[0].gen);
            s->e[0].gen = g;
        } else if (add(s, w->domain, crt, g, err)) {
            goto fail;
        }
    }
    scan_ctx sc = {spec, s, err, 0};
    if (ism_fs_list(spec->crt_dir, ".crt", scan_one, &sc, err) || sc.failed)
        goto fail;
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
        ism_tls_gen_unref(s->e[i].gen);
    free(s->e);
    free(s);
}

SSL *ism_tls_set_new_ssl(ism_tls_set *s, const char *name)
{
    const entry *e = find(s, name);
    if (!e)
        e = find(s, NULL);
    return e ? SSL_new(ism_tls_gen_ctx(e->gen)) : NULL;
}

const char *ism_tls_set_fingerprint(const ism_tls_set *s, const char *name)
{
    const entry *e = find(s, name);
    return e ? ism_tls_gen_fingerprint(e->gen) : "";
}

size_t ism_tls_set_count(const ism_tls_set *s)
{
    return s->n;
}

const char *ism_tls_set_name(const ism_tls_set *s, size_t i)
{
    return i < s->n ? s->e[i].name : "";
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
