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
 * Three actions suspend a session without blocking the event loop:
 *   ISM_PROTO_AUTH   the protocol has put a user name and password in
 *                    env->req; the connection layer checks the login limits
 *                    (ism_limits.h), verifies the password on the hashing
 *                    pool, waits out any back-off delay after a failure, then
 *                    calls auth_done() with the result. No further line is
 *                    handed over until then.
 *   ISM_PROTO_MORE   the reply is not complete: more() is called each time
 *                    the pending output has drained, until it returns
 *                    something other than MORE. A command whose answer can
 *                    be large (FETCH of many messages, RETR) produces it a
 *                    piece at a time, so a client that does not read holds
 *                    at most one piece in memory.
 *   ISM_PROTO_PAUSE  hold the reply for env->req->pause_ms, then go on (a
 *                    client probing for addresses is slowed down).
 * Lines are handed over only while the pending output is below
 * ISM_PROTO_OUT_HIGH: a pipelining client that never reads stops being
 * served instead of filling memory.
 *
 * Per-connection state is an opaque block of state_size bytes, zeroed before
 * begin(); end() releases what the protocol allocated. */
#ifndef ISM_PROTO_H
#define ISM_PROTO_H

#include "ism_buf.h"
#include "ism_settings.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ism_mail;

typedef enum {
    ISM_PROTO_CONTINUE,
    ISM_PROTO_STARTTLS,
    ISM_PROTO_CLOSE,
    ISM_PROTO_AUTH,
    ISM_PROTO_MORE,
    ISM_PROTO_PAUSE
} ism_proto_action;

/* Pending output above which no further command line is executed. */
#define ISM_PROTO_OUT_HIGH (256 * 1024)
/* The size of one piece of a reply made with ISM_PROTO_MORE. */
#define ISM_PROTO_OUT_PIECE (64 * 1024)

typedef enum {
    ISM_AUTH_OK,          /* the password is right: the session may log in */
    ISM_AUTH_FAILED,      /* wrong user name or password */
    ISM_AUTH_THROTTLED,   /* refused without checking: too many failures (env->req->retry_minutes) */
    ISM_AUTH_UNAVAILABLE  /* the account store cannot be read now */
} ism_auth_result;

/* How the line just handed over ended (ism_proto_env.line_flags). */
#define ISM_LINE_BARE_LF 1 /* ended by LF without CR */
#define ISM_LINE_BARE_CR 2 /* holds a CR that is not followed by LF */

/* The session's requests to the connection layer (see the actions above). */
typedef struct {
    char user[320];       /* ISM_PROTO_AUTH: the account as the client typed it */
    char pass[1040];      /* ISM_PROTO_AUTH: cleansed by the connection layer once used */
    int retry_minutes;    /* ISM_AUTH_THROTTLED: when logins are accepted again */
    int pause_ms;         /* ISM_PROTO_PAUSE */
} ism_proto_req;

/* What a session may know of its surroundings; owned and updated by the
 * connection layer (tls_active flips after STARTTLS). */
typedef struct {
    const char *hostname;        /* our name for greetings */
    const char *peer_addr;       /* client address as text */
    int tls_active;              /* the session runs inside TLS */
    int starttls_offered;        /* STARTTLS/STLS may be offered (setting on, certificate loaded, not in TLS) */
    int tls_required_for_auth;   /* TLS is on for this protocol: refuse credentials in plaintext */
    int submission;              /* SMTP: the submission or SMTPS port (clients, AUTH) */
    unsigned line_flags;         /* ISM_LINE_* of the line being handed over */
    ism_proto_req *req;          /* where the session puts a request (AUTH, PAUSE) */
    int64_t max_message;         /* SMTP: largest message accepted, bytes (SIZE) */
    int local_senders_need_auth; /* SMTP port 25: local-domain senders need a login */
    /* SMTP: message data in transit from the client's address over all its
     * sessions. reserve returns -1 when the address's budget is spent;
     * NULL: no budget. */
    int (*data_reserve)(void *arg, int64_t bytes);
    void (*data_release)(void *arg, int64_t bytes);
    void *data_arg;
    const char *spool_dir;       /* SMTP: folder for message data beyond the in-memory part */
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

/* A listening port a protocol declares, as nginx's mail protocols carry
 * their ports: the server opens one socket per row (one per web SSL domain
 * address for a per_web_domain row) and reports it under its name. */
#define ISM_PROTO_NO_SETTING (-1)
struct ism_proto_ops;
typedef struct {
    const char *name;                  /* "smtp", "submission", "smtps": logs and status */
    const struct ism_proto_ops *proto; /* the protocol spoken on it */
    int port;                          /* ism_setting_id of its port; ISM_PROTO_NO_SETTING for per_web_domain */
    int tls;                           /* the checkbox that switches its TLS, or ISM_PROTO_NO_SETTING */
    int implicit_tls;                  /* TLS from the first byte: open only while TLS is on */
    int submission;                    /* clients submit mail here (SMTP AUTH) */
    int per_web_domain;                /* one per address and port of the web SSL domains */
} ism_proto_listener;

typedef struct ism_proto_ops {
    const char *name;
    size_t max_line;
    size_t state_size;
    void (*begin)(void *st, const ism_proto_env *env, ism_buf *out);
    ism_proto_action (*line)(void *st, const ism_proto_env *env, const char *line, size_t len, ism_buf *out);
    void (*tls_started)(void *st, const ism_proto_env *env);
    void (*too_long)(void *st, const ism_proto_env *env, ism_buf *out);
    void (*end)(void *st);
    /* After ISM_PROTO_AUTH; NULL for protocols that never ask. */
    ism_proto_action (*auth_done)(void *st, const ism_proto_env *env, ism_auth_result r, ism_buf *out);
    /* After ISM_PROTO_MORE; NULL for protocols that never return it. */
    ism_proto_action (*more)(void *st, const ism_proto_env *env, ism_buf *out);
    /* What the protocol is called in the service's log ("SMTP"). */
    const char *label;
    /* Said on a plaintext port to a client over its address's connection
     * limit, before closing (NULL: just close). */
    const char *busy;
    /* The ports it listens on. */
    const ism_proto_listener *listeners;
    size_t n_listeners;
} ism_proto_ops;

/* Hands one line to a session and carries out what it asks at once, for
 * callers without an event loop (unit tests, fuzzing, tools): AUTH is
 * checked with ism_mail_auth against env->mail without limits or delays,
 * MORE is repeated until the reply is complete, PAUSE is not waited for.
 * env->req must point at a request block. Returns CONTINUE, STARTTLS or
 * CLOSE. */
ism_proto_action ism_proto_feed(const ism_proto_ops *ops, void *st, const ism_proto_env *env, const char *line,
                                size_t len, ism_buf *out);

extern const ism_proto_ops ism_proto_smtp;
extern const ism_proto_ops ism_proto_pop3; /* pop3.c */
extern const ism_proto_ops ism_proto_imap; /* imap.c */
extern const ism_proto_ops ism_proto_http; /* http.c */

#ifdef __cplusplus
}
#endif
#endif
