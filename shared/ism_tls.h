/* ism_tls: TLS server contexts as immutable, reference-counted generations.
 *
 * The service builds a generation off the accept path from a certificate, a
 * key and a policy, validates it, then publishes it; each connection takes a
 * reference when its handshake starts and drops it when it ends, so a change
 * never disturbs a session in flight and a live context is never patched. */
#ifndef ISM_TLS_H
#define ISM_TLS_H

#include "ism_error.h"

#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ism_tls_gen ism_tls_gen;

/* The key exchange groups of both profiles, offered to clients and, by the
 * outgoing delivery, to other servers. Named here rather than left to OpenSSL,
 * whose default list changes between versions (3.5's adds the hybrid
 * X25519MLKEM768, a 1.2 KB key share in every outgoing ClientHello). */
#define ISM_TLS_GROUPS "X25519:P-256:P-384"

/* The manual's command for a key and CSR ("CSRs and SSL Certificates:
 * Manual Control"), with the 2048 bits OpenSSL accepts instead of its 1024. */
#define ISM_TLS_RSA_CSR_COMMAND "openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes"

/* Why OpenSSL's TLS layer, at ctx's security level, refused certificate x
 * with error e (left by SSL_CTX_use_certificate or a chain call): 1 with the
 * reason in out ("has a key of 1024 bits (RSA), which OpenSSL refuses for
 * TLS: 1024-bit RSA is too weak ...") and what to do in *fix (for a leaf's
 * RSA key the manual's command with rsa:2048, ISM_TLS_RSA_CSR_COMMAND); 0
 * when e is not a security-level refusal. */
int ism_tls_explain_refusal(const SSL_CTX *ctx, X509 *x, unsigned long e, char *out, size_t outsz, const char **fix);

/* A new generation (one reference, in *out) for profile, from the certificate
 * in crt_path and the key in key_path.
 * profile: "intermediate" (TLS 1.2 and 1.3) or "modern" (TLS 1.3 only).
 * crt_path holds the leaf certificate followed by its chain (PEM).
 * 0, or -1 with err filled. */
int ism_tls_gen_build(ism_tls_gen **out, const char *profile, const char *crt_path, const char *key_path,
                      ism_err *err);
ism_tls_gen *ism_tls_gen_ref(ism_tls_gen *g);
void ism_tls_gen_unref(ism_tls_gen *g);
SSL_CTX *ism_tls_gen_ctx(const ism_tls_gen *g);
/* SHA-256 of the leaf certificate, upper-case hex pairs joined by ':' (as openssl x509 -fingerprint). */
const char *ism_tls_gen_fingerprint(const ism_tls_gen *g);

/* Creates a self-signed certificate (RSA-2048, SHA-256, one year, the domain
 * in the subject and subjectAltName) and its key, written atomically; the key
 * file restricted to administrators. */
int ism_tls_selfsign(const char *domain, const char *crt_path, const char *key_path, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
