/* proto: the contract between the connection layer (server.c) and the
 * protocol state machines (smtp.c, pop3.c, imap.c, http.c).
 *
 * A protocol never touches sockets or TLS. The connection layer feeds it one
 * line at a time (CRLF stripped, at most max_line bytes with the CRLF) and
 * sends whatever it appends to `out`. When a line returns ISM_PROTO_STARTTLS
 * the connection flushes the go-ahead reply, discards every byte already
 * received (RFC 3207 4.2: nothing smuggled after STARTTLS is acted on),
 * starts TLS and calls tls_started(), which must forget everything learnt in
 * plaintext. ISM_PROTO_CLOSE closes once the reply is flushed.
 *
 * Per-connection state is an opaque block of state_size bytes, zeroed before
 * begin(); end() releases what the protocol allocated. */
#ifndef ISM_PROTO_H
#define ISM_PROTO_H

#include "ism_buf.h"
#include "ism_settings.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ism_mail;

typedef enum { ISM_PROTO_CONTINUE, ISM_PROTO_STARTTLS, ISM_PROTO_CLOSE } ism_proto_action;

/* What a session may know of its surroundings; owned and updated by the
 * connection layer (tls_active flips after STARTTLS). */
typedef struct {
    const char *hostname;        /* our name for greetings */
    const char *peer_addr;       /* client address as text */
    int tls_active;              /* the session runs inside TLS */
    int starttls_offered;        /* STARTTLS/STLS may be offered (setting on, certificate loaded, not in TLS) */
    int tls_required_for_auth;   /* TLS is on for this protocol: refuse credentials in plaintext */
    int submission;              /* SMTP: the submission or SMTPS port (clients, AUTH) */
    const char *tls_version;     /* "TLSv1.3" when tls_active */
    const char *tls_cipher;      /* "TLS_AES_256_GCM_SHA384" when tls_active */
    struct ism_mail *mail;       /* the mail store and accounts; NULL when unavailable */
    struct ism_queue *queue;     /* the outgoing queue (authenticated submission to other domains); NULL: refused */
    void (*queued)(void *arg);   /* call after queueing: wakes the delivery thread */
    void *queued_arg;
    /* HTTP: */
    const ism_web_domain *web_domains; /* the web SSL domains, for redirects to HTTPS */
    size_t n_web_domains;
    const char *web_root;        /* folder served under /.well-known/ */
    const char *status_text;     /* body of the status page */
} ism_proto_env;

typedef struct {
    const char *name;
    size_t max_line;
    size_t state_size;
    void (*begin)(void *st, const ism_proto_env *env, ism_buf *out);
    ism_proto_action (*line)(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out);
    void (*tls_started)(void *st, const ism_proto_env *env);
    void (*too_long)(void *st, const ism_proto_env *env, ism_buf *out);
    void (*end)(void *st);
} ism_proto_ops;

extern const ism_proto_ops ism_proto_smtp;
extern const ism_proto_ops ism_proto_pop3; /* pop3.c */
extern const ism_proto_ops ism_proto_imap; /* imap.c */
extern const ism_proto_ops ism_proto_http; /* http.c */

#ifdef __cplusplus
}
#endif
#endif
