/* ism_tls_set: one generation of everything the service serves over TLS.
 *
 * A set holds a TLS context for the host's own certificate
 * (<server.hostname>.crt), one for every other DOMAIN.crt/DOMAIN.key pair in
 * the certificate folders, and one for every web SSL domain. Each
 * certificate answers to its own names (its DNS subjectAltNames, else its
 * subject CN; a web SSL domain answers to its domain), whatever its file is
 * called. Every connection, STARTTLS ones included, gets the certificate
 * ism_tls_choose picks: by the client's SNI name (RFC 6066), else by the
 * host name, else the host's self-signed one. A set is built whole off the
 * accept path and validated: if any certificate or key cannot be used the
 * build fails, names the file, and the service keeps the set it has. Sets
 * are reference counted; a connection keeps the set its handshake began
 * with until it ends. */
#ifndef ISM_TLS_SET_H
#define ISM_TLS_SET_H

#include "ism_error.h"
#include "ism_settings.h"

#include <openssl/ssl.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *profile;          /* tls.profile */
    const char *ciphers;          /* tls.ciphers: TLS 1.2 list overriding the profile's; NULL or "" for none */
    const char *crt_dir, *key_dir;
    const char *default_name;     /* the host name: crt_dir/NAME.crt with key_dir/NAME.key */
    const ism_web_domain *web;    /* web SSL domains, with their own files */
    size_t n_web;
} ism_tls_set_spec;

typedef struct ism_tls_set ism_tls_set;

/* ---- the choice, over a plain table (no OpenSSL) ---- */

/* One certificate the service could serve. */
typedef struct {
    const char *const *names;  /* DNS names it answers to, A-labels, "*.x.y" wildcards allowed */
    size_t n_names;
    int64_t not_before, not_after; /* validity, Unix seconds */
    int fallback;              /* the host's self-signed certificate: never chosen by name, only
                                * when no certificate matches the SNI name or the host name */
} ism_tls_candidate;

/* How certificate name `pattern` matches host name `host` (RFC 6125 6.4):
 * 2 exactly (ASCII case-insensitive; IDNs compare as A-labels, as both sides
 * carry them), 1 by a wildcard, 0 not. A wildcard is "*" as the whole
 * left-most label of a pattern with at least two labels after it, and stands
 * for exactly one non-empty label: "*.example.com" matches
 * "mail.example.com", not "example.com" nor "a.b.example.com"; "*.com",
 * "m*.example.com" and "mail.*.com" match nothing but themselves. One
 * trailing dot on either side is ignored. */
int ism_tls_name_match(const char *pattern, const char *host);
/* The best of the n candidates matching `name` (fallback ones never match),
 * or -1 when none does. Best: valid at `now` (not_before <= now <=
 * not_after) over expired or not yet valid, then an exact name over a
 * wildcard, then the latest not_after, then the earlier in the table. */
int ism_tls_best_match(const ism_tls_candidate *c, size_t n, const char *name, int64_t now);
/* The certificate to serve a client that sent SNI name `sni` (NULL or "":
 * none) to a server called `hostname`: the best match for sni; else the
 * best match for hostname; else the first fallback candidate; else -1. */
int ism_tls_choose(const ism_tls_candidate *c, size_t n, const char *sni, const char *hostname, int64_t now);

/* ---- sets ---- */

int ism_tls_set_build(ism_tls_set **out, const ism_tls_set_spec *spec, ism_err *err);
ism_tls_set *ism_tls_set_ref(ism_tls_set *s);
void ism_tls_set_unref(ism_tls_set *s);

/* A server-side SSL starting with the certificate chosen for `name` as if
 * it were the client's SNI name (NULL: a client without SNI; a web SSL
 * listener passes its domain). The client's SNI name, when it matches a
 * certificate, switches to the best match during the handshake; a name
 * nothing matches keeps the starting certificate. */
SSL *ism_tls_set_new_ssl(ism_tls_set *s, const char *name);
/* The index (0 .. ism_tls_set_count()-1) of the certificate a client
 * sending SNI `sni` gets on a listener started with `name` (both NULL: a
 * mail listener and a client without SNI), at the current time. */
size_t ism_tls_set_served(const ism_tls_set *s, const char *name, const char *sni);
/* Fingerprint of the certificate served for `name` as in
 * ism_tls_set_new_ssl (NULL: to clients without SNI); "" for an empty set. */
const char *ism_tls_set_fingerprint(const ism_tls_set *s, const char *name);
/* The certificates in the set, for status and logs: entry 0 is the host's
 * (<server.hostname>.crt, or the web SSL domain of that name). */
size_t ism_tls_set_count(const ism_tls_set *s);
/* The file name (or web SSL domain) an entry was loaded as. */
const char *ism_tls_set_name(const ism_tls_set *s, size_t i);
typedef struct {
    const char *file;          /* the certificate file's full path */
    const char *fingerprint;   /* SHA-256, as ism_tls_gen_fingerprint */
    int web;                   /* a web SSL domain's own files */
    ism_tls_candidate cand;    /* its names, validity, fallback flag */
} ism_tls_set_entry;
/* Entry i, valid while the set is; 0, or -1 when i is out of range. */
int ism_tls_set_entry_at(const ism_tls_set *s, size_t i, ism_tls_set_entry *out);

/* A fingerprint of the files a set was (or would be) built from: their
 * names, sizes and modification times. When it changes, something on disk
 * changed (a renewal tool dropped new files) and the set should be rebuilt. */
uint64_t ism_tls_files_signature(const ism_tls_set_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
