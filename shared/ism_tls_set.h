/* ism_tls_set: one generation of everything the service serves over TLS.
 *
 * A set holds a TLS context for the host's own certificate (the default),
 * one for every other DOMAIN.crt/DOMAIN.key pair in the certificate folders,
 * and one for every web SSL domain. Connections pick the context by SNI
 * (RFC 6066), STARTTLS ones included, and fall back to their listener's
 * default. A set is built whole off the accept path and validated: if any
 * certificate or key cannot be used the build fails, names the file, and the
 * service keeps the set it has. Sets are reference counted; a connection
 * keeps the set its handshake began with until it ends. */
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

int ism_tls_set_build(ism_tls_set **out, const ism_tls_set_spec *spec, ism_err *err);
ism_tls_set *ism_tls_set_ref(ism_tls_set *s);
void ism_tls_set_unref(ism_tls_set *s);

/* A server-side SSL whose certificate is the one named `name` (NULL: the
 * default), switched by the client's SNI when the set has that name. */
SSL *ism_tls_set_new_ssl(ism_tls_set *s, const char *name);
/* Fingerprint of the certificate served for `name` (NULL: the default);
 * "" when the set has no such name. */
const char *ism_tls_set_fingerprint(const ism_tls_set *s, const char *name);
/* Names the set serves, for status and logs. */
size_t ism_tls_set_count(const ism_tls_set *s);
const char *ism_tls_set_name(const ism_tls_set *s, size_t i);

/* A fingerprint of the files a set was (or would be) built from: their
 * names, sizes and modification times. When it changes, something on disk
 * changed (a renewal tool dropped new files) and the set should be rebuilt. */
uint64_t ism_tls_files_signature(const ism_tls_set_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
