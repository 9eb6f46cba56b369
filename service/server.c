/* server: listeners, connections and live apply (see server.h).
 *
 * One event loop over non-blocking sockets and non-blocking OpenSSL. Each
 * connection is a small state machine (plaintext, TLS handshake, TLS) that
 * feeds command lines to its protocol (proto.h).
 *
 * Live apply: the store's wake-up socket (and, as a fallback, data_version
 * polling) and the certificate files' signature tell the loop when to
 * re-read. A new snapshot is validated and its TLS set built before
 * anything changes; only then is the set published and the listeners
 * reconciled: a listener whose address, port and enablement are unchanged
 * keeps its socket; sessions in flight keep the TLS set they began with. */
#include "server.h"
#include "authpool.h"
#include "delivery.h"
#include "listeners.h"

#include "ism_buf.h"
#include "ism_limits.h"
#include "ism_log.h"
#include "ism_mail.h"
#include "ism_queue.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "ism_tls.h"
#include "ism_tls_set.h"
#include "proto.h"
#include "tlsio.h"
#include "version.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 50             /* longest sleep in poll() */
#define STORE_POLL_MS 100      /* data_version fallback when no wake-up arrives */
#define FILES_POLL_MS 1000     /* certificate files checked for outside changes */
#define IDLE_TIMEOUT_MS 300000 /* RFC 5321 4.5.3.2.7: 5 minutes for a command */
#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_CONNS 20000
#define IN_START 256           /* initial input buffer of a connection */
#define MAX_LISTENERS 32
#define FD_RESERVE 64          /* descriptors kept for the store, logs and certificate files */
#define ACCEPT_PAUSE_MS 200    /* out of descriptors: stop accepting this long (not spin) */
#define AUTH_POLL_MS 2         /* poll step while a password check runs on the pool */

static atomic_int stop_requested;
static atomic_int reload_requested;

void ism_server_request_stop(void) { atomic_store(&stop_requested, 1); }
void ism_server_request_reload(void) { atomic_store(&reload_requested, 1); }

typedef enum { T_PLAIN, T_HANDSHAKE, T_ESTABLISHED } tls_state;

/* What a suspended session waits for (proto.h: AUTH and PAUSE). */
typedef enum {
    W_NONE,
    W_AUTH,       /* the password check on the pool */
    W_AUTH_DELAY, /* the back-off after a failed login, then auth_done(FAILED) */
    W_PAUSE       /* a held reply */
} wait_state;

typedef struct {
    ism_sock fd;
    const ism_proto_listener *def;
    char cert_name[256];       /* the listener's default certificate */
    char peer[64];
    SSL *ssl;
    ism_tlsio io;              /* the socket under ssl: output gathered per turn */
    ism_tls_set *tls_set;      /* the generation this session's TLS began with */
    tls_state tls;
    int want_write;            /* OpenSSL needs the socket writable to go on */
    void *pstate;              /* the protocol's per-connection state */
    ism_proto_env env;
    char *in;                  /* received bytes not yet a whole line */
    size_t in_len, in_cap;
    int discarding;            /* skipping the rest of an over-long line */
    int discard_cr;            /* the last byte skipped was a CR */
    ism_buf out;
    int starttls_pending;      /* start TLS once out is flushed */
    int close_pending;         /* close once out is flushed */
    int dead;                  /* finished; freed by the loop */
    int64_t deadline;
    int counted;               /* counted against its address's connection limit */
    ism_proto_req req;         /* the protocol's requests (AUTH, PAUSE) */
    wait_state wait;
    int64_t wake_at;           /* W_AUTH_DELAY, W_PAUSE: when to go on */
    ism_auth_job *job;         /* W_AUTH */
    int auth_found;            /* W_AUTH: the account exists */
    int more_pending;          /* the protocol has more of its reply (ISM_PROTO_MORE) */
    int64_t data_held;         /* message bytes counted against the address's budget */
    void *worker;              /* the worker that owns it (for the budget callbacks) */
} conn;

/* Everything the workers read, published by the main thread as one
 * reference-counted, immutable generation: the settings snapshot, the TLS
 * set and the listeners. Listening sockets dropped by a newer generation
 * are closed when the last worker lets go of the generation that had them,
 * so no worker ever polls a closed descriptor. */
typedef struct {
    atomic_int refs;
    ism_config cfg;
    ism_route *routes;         /* outgoing routes and TLS policies (delivery.c) */
    size_t n_routes;
    ism_tls_policy_entry *policies;
    size_t n_policies;
    ism_tls_set *tls;          /* NULL when TLS is unavailable */
    char hostname[256];
    char status_text[2048];
    ism_listener lst[MAX_LISTENERS];
    size_t nlst;
    ism_sock retired[MAX_LISTENERS];
    size_t nretired;
} runtime;

typedef struct server server;

/* One event loop over its own connections; every worker polls every
 * listener and the kernel hands each new connection to one of them. */
typedef struct {
    server *sv;
    int id;
    ism_thread *thread;
    conn **conns;
    size_t nconns, max_conns;
    ism_pollfd *pfd;
    ism_mail *mail;            /* this thread's handle; NULL when the mail store is unavailable */
    ism_queue *queue;          /* this thread's handle on the outgoing queue */
    runtime *rt;               /* the generation this loop iteration works with */
    atomic_size_t open;        /* nconns, for the main thread */
    int64_t accept_paused_until; /* out of descriptors: listeners are not polled until then */
    int64_t last_refusal_log;  /* connection-limit refusals are logged once a second */
    unsigned long refusals;
} worker;

#define MAX_WORKERS 8

struct server {
    ism_paths base_paths;      /* from --data or the defaults */
    ism_paths paths;           /* with the ssl.* settings applied */
    ism_store *store;
    ism_watch *watch;
    ism_delivery *delivery;
    ism_mutex *lock;           /* guards rt (the pointer, not the generation) */
    runtime *rt;               /* the published generation */
    uint64_t tls_files_sig;    /* signature of the files the TLS set was built from */
    uint64_t pending_sig;      /* a changed signature seen once, waiting to settle */
    char tls_error[512];
    char apply_error[512];     /* why the latest snapshot was not applied, "" when it was */
    char web_root[ISM_PATH_MAX + 16];
    char mail_path[ISM_PATH_MAX + 32];
    char queue_path[ISM_PATH_MAX + 32];
    atomic_ulong handshakes;   /* completed TLS handshakes, for the log */
    ism_limits *limits;        /* per address and per account: connections, data, failed logins */
    ism_authpool *authpool;    /* password checks off the event loops */
    char spool_dir[ISM_PATH_MAX + 16];
    long fd_limit;             /* open files allowed (0: no such limit) */
    worker workers[MAX_WORKERS];
    int nworkers;
};

static void runtime_unref(runtime *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1)
        return;
    for (size_t i = 0; i < rt->nretired; i++)
        ism_sock_close(rt->retired[i]);
    ism_config_free(&rt->cfg);
    free(rt->routes);
    free(rt->policies);
    ism_tls_set_unref(rt->tls);
    free(rt);
}

static runtime *runtime_get(server *sv)
{
    ism_mutex_lock(sv->lock);
    runtime *rt = sv->rt;
    atomic_fetch_add(&rt->refs, 1);
    ism_mutex_unlock(sv->lock);
    return rt;
}

/* ism_delivery_settings: outgoing delivery takes copies of the generation
 * the listeners serve with. Called on the delivery thread. */
static int delivery_snapshot(void *arg, ism_config *cfg, ism_route **routes, size_t *n_routes,
                             ism_tls_policy_entry **policies, size_t *n_policies, ism_err *err)
{
    runtime *rt = runtime_get(arg);
    *routes = rt->n_routes ? malloc(rt->n_routes * sizeof **routes) : NULL;
    *policies = rt->n_policies ? malloc(rt->n_policies * sizeof **policies) : NULL;
    if ((rt->n_routes && !*routes) || (rt->n_policies && !*policies) || ism_config_copy(cfg, &rt->cfg)) {
        free(*routes);
        free(*policies);
        runtime_unref(rt);
        return ism_err_set(err, ISM_E_IO, "out of memory copying the settings");
    }
    if (rt->n_routes)
        memcpy(*routes, rt->routes, rt->n_routes * sizeof **routes);
    if (rt->n_policies)
        memcpy(*policies, rt->policies, rt->n_policies * sizeof **policies);
    *n_routes = rt->n_routes;
    *n_policies = rt->n_policies;
    runtime_unref(rt);
    return 0;
}

static int tls_setting_on(const runtime *rt, const ism_proto_listener *d)
{
    return ism_listener_tls_on(&rt->cfg, d);
}

/* ---- connections ---- */

static void conn_free(server *sv, conn *c)
{
    if (c->job)
        ism_authpool_release(sv->authpool, c->job);
    OPENSSL_cleanse(c->req.pass, sizeof c->req.pass);
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort close_notify; the socket is non-blocking */
        SSL_free(c->ssl);
        ism_tlsio_flush(&c->io); /* the last reply and close_notify, in one segment */
    }
    ism_tlsio_free(&c->io);
    ism_tls_set_unref(c->tls_set);
    ism_sock_close(c->fd);
    ism_buf_free(&c->out);
    free(c->in);
    if (c->pstate) {
        c->def->proto->end(c->pstate);
        free(c->pstate);
    }
    if (c->data_held)
        ism_limits_data_release(sv->limits, c->peer, c->data_held);
    if (c->counted)
        ism_limits_conn_close(sv->limits, c->peer);
    free(c);
}

static int conn_start_tls(worker *w, conn *c)
{
    c->tls_set = ism_tls_set_ref(w->rt->tls);
    c->ssl = c->tls_set ? ism_tls_set_new_ssl(c->tls_set, c->cert_name[0] ? c->cert_name : NULL) : NULL;
    BIO *bio = c->ssl ? ism_tlsio_bio(&c->io) : NULL;
    if (!bio) {
        ism_log(ISM_LOG_WARN, "%s: cannot start TLS for a connection", c->def->name);
        return -1;
    }
    c->io.fd = c->fd;
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_accept_state(c->ssl);
    c->tls = T_HANDSHAKE;
    c->deadline = ism_time_mono_ms() + HANDSHAKE_TIMEOUT_MS;
    return 0;
}

static void kick_delivery(void *arg)
{
    ism_delivery_kick(arg);
}

/* The per-address budget of message data in transit (proto.h). */
static int conn_data_reserve(void *arg, int64_t bytes)
{
    conn *c = arg;
    worker *w = c->worker;
    if (ism_limits_data_reserve(w->sv->limits, c->peer, bytes))
        return -1;
    c->data_held += bytes;
    return 0;
}

static void conn_data_release(void *arg, int64_t bytes)
{
    conn *c = arg;
    worker *w = c->worker;
    if (bytes > c->data_held)
        bytes = c->data_held;
    ism_limits_data_release(w->sv->limits, c->peer, bytes);
    c->data_held -= bytes;
}

/* Brings the session's view of its surroundings up to date: the settings
 * may have changed since the last line. */
static void conn_env_refresh(worker *w, conn *c)
{
    const runtime *rt = w->rt;
    ism_proto_env *e = &c->env;
    int tls_setting = tls_setting_on(rt, c->def);
    e->hostname = rt->hostname;
    e->peer_addr = c->peer;
    e->tls_active = c->tls == T_ESTABLISHED;
    e->starttls_offered = tls_setting && rt->tls && !c->def->implicit_tls && c->tls == T_PLAIN;
    e->tls_required_for_auth = tls_setting;
    e->submission = c->def->submission;
    e->tls_version = c->ssl && e->tls_active ? SSL_get_version(c->ssl) : NULL;
    e->tls_cipher = c->ssl && e->tls_active ? SSL_get_cipher_name(c->ssl) : NULL;
    e->mail = w->mail;
    e->queue = w->queue;
    e->queued = w->sv->delivery ? kick_delivery : NULL;
    e->queued_arg = w->sv->delivery;
    e->web_domains = rt->cfg.web;
    e->n_web_domains = rt->cfg.n_web;
    e->web_root = w->sv->web_root;
    e->status_text = rt->status_text;
    e->req = &c->req;
    e->max_message = (int64_t)ism_config_int(&rt->cfg, ISM_S_SMTP_MAX_MESSAGE_MB) * 1024 * 1024;
    e->local_senders_need_auth = ism_config_bool(&rt->cfg, ISM_S_SMTP_LOCAL_SENDER_AUTH);
    e->data_reserve = conn_data_reserve;
    e->data_release = conn_data_release;
    e->data_arg = c;
    e->spool_dir = w->sv->spool_dir[0] ? w->sv->spool_dir : NULL;
}

/* Returns -1 when the connection is finished. */
static int conn_flush(conn *c)
{
    while (c->out.len > 0) {
        long n;
        if (c->tls == T_ESTABLISHED) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, c->out.p, (int)c->out.len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    c->want_write = e == SSL_ERROR_WANT_WRITE;
                    return 0;
                }
                return -1;
            }
            n = r;
        } else {
            n = ism_sock_send(c->fd, c->out.p, c->out.len);
            if (n == ISM_IO_AGAIN) {
                c->want_write = 1;
                return 0;
            }
            if (n <= 0)
                return -1;
        }
        ism_buf_consume(&c->out, (size_t)n);
    }
    c->want_write = 0;
    if (c->out.cap > 16384)
        ism_buf_free(&c->out); /* after a large reply: give the memory back while idle */
    return 0;
}

static void conn_action(worker *w, conn *c, ism_proto_action a);

/* Starts the password check a session asked for (ISM_PROTO_AUTH): refused
 * at once while the address or account is locked out, otherwise the hash
 * is looked up here (a quick read) and checked on the pool. */
static void conn_auth_start(worker *w, conn *c)
{
    server *sv = w->sv;
    int64_t retry_ms = 0;
    ism_auth_result r;
    if (!w->mail) {
        r = ISM_AUTH_UNAVAILABLE;
    } else if (ism_limits_auth_allowed(sv->limits, c->peer, c->req.user, ism_time_mono_ms(), &retry_ms)) {
        c->req.retry_minutes = (int)((retry_ms + 59999) / 60000);
        ism_log(ISM_LOG_WARN, "%s: login for '%.100s' from %s refused without checking: locked out after too many "
                              "failed logins (%d more minutes)",
                c->def->name, c->req.user, c->peer, c->req.retry_minutes);
        r = ISM_AUTH_THROTTLED;
    } else {
        char stored[ISM_MAIL_STORED_HASH_MAX];
        c->auth_found = ism_mail_auth_lookup(w->mail, c->req.user, stored, sizeof stored);
        c->job = ism_authpool_submit(sv->authpool, stored, c->req.pass);
        OPENSSL_cleanse(c->req.pass, sizeof c->req.pass);
        if (c->job) {
            c->wait = W_AUTH;
            return;
        }
        r = ISM_AUTH_UNAVAILABLE;
    }
    OPENSSL_cleanse(c->req.pass, sizeof c->req.pass);
    conn_env_refresh(w, c);
    conn_action(w, c, c->def->proto->auth_done(c->pstate, &c->env, r, &c->out));
}

/* Carries out what a protocol callback returned. */
static void conn_action(worker *w, conn *c, ism_proto_action a)
{
    switch (a) {
    case ISM_PROTO_CONTINUE:
        break;
    case ISM_PROTO_STARTTLS:
        c->starttls_pending = 1;
        break;
    case ISM_PROTO_CLOSE:
        c->close_pending = 1;
        break;
    case ISM_PROTO_AUTH:
        conn_auth_start(w, c);
        break;
    case ISM_PROTO_MORE:
        c->more_pending = 1;
        break;
    case ISM_PROTO_PAUSE:
        c->wait = W_PAUSE;
        c->wake_at = ism_time_mono_ms() + (c->req.pause_ms > 0 ? c->req.pause_ms : 0);
        break;
    }
}

/* 1 while the session must not be handed another line. */
static int conn_busy(const conn *c)
{
    return c->starttls_pending || c->close_pending || c->wait != W_NONE || c->more_pending ||
           c->out.len >= ISM_PROTO_OUT_HIGH || c->out.oom;
}

/* Hands the complete lines received to the protocol, as long as it takes
 * them: a session that waits (a password check, a held reply) or has much
 * output pending keeps the rest of its input for later. */
static void conn_lines(worker *w, conn *c)
{
    size_t start = 0;
    while (!conn_busy(c)) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - c->in), len = end - start;
        if (c->discarding) {
            /* The end of an over-long line: the protocol answers it now,
             * knowing how it ended (a bare LF matters to SMTP's DATA). */
            int cr = end > start ? c->in[end - 1] == '\r' : c->discard_cr;
            c->discarding = 0;
            conn_env_refresh(w, c);
            c->env.line_flags = cr ? 0 : ISM_LINE_BARE_LF;
            c->def->proto->too_long(c->pstate, &c->env, &c->out);
        } else {
            unsigned flags = 0;
            if (len > 0 && c->in[start + len - 1] == '\r')
                len--;
            else
                flags |= ISM_LINE_BARE_LF;
            if (memchr(c->in + start, '\r', len))
                flags |= ISM_LINE_BARE_CR;
            const ism_proto_ops *p = c->def->proto;
            conn_env_refresh(w, c);
            c->env.line_flags = flags;
            if (len + 2 > p->max_line)
                p->too_long(c->pstate, &c->env, &c->out);
            else
                conn_action(w, c, p->line(c->pstate, &c->env, c->in + start, len, &c->out));
        }
        start = end + 1;
    }
    if (c->starttls_pending || c->close_pending) {
        /* Whatever the client sent after STARTTLS or QUIT is never acted on. */
        c->in_len = 0;
        return;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len >= c->def->proto->max_line + 2 && !memchr(c->in, '\n', c->in_len)) {
        /* A full buffer with no line end: skip to the next LF, then answer once. */
        c->discard_cr = c->in[c->in_len - 1] == '\r';
        c->in_len = 0;
        c->discarding = 1;
    }
}

/* Ends a wait whose time or result has come; returns 1 when the session
 * may go on. */
static int conn_wait_over(worker *w, conn *c, int64_t now)
{
    server *sv = w->sv;
    switch (c->wait) {
    case W_NONE:
        return 1;
    case W_PAUSE:
        if (now < c->wake_at)
            return 0;
        c->wait = W_NONE;
        return 1;
    case W_AUTH: {
        int r = ism_authpool_result(sv->authpool, c->job);
        if (r < 0)
            return 0;
        ism_authpool_release(sv->authpool, c->job);
        c->job = NULL;
        c->wait = W_NONE;
        conn_env_refresh(w, c);
        if (r == 1 && c->auth_found) {
            ism_limits_auth_ok(sv->limits, c->peer, c->req.user, now);
            conn_action(w, c, c->def->proto->auth_done(c->pstate, &c->env, ISM_AUTH_OK, &c->out));
            return 1;
        }
        ism_limits_failure f = ism_limits_auth_failed(sv->limits, c->peer, c->req.user, now);
        int minutes = ism_config_int(&w->rt->cfg, ISM_S_AUTH_LOCKOUT_MINUTES);
        if (f.addr_locked)
            ism_log(ISM_LOG_WARN, "%s: %d failed logins from %s; logins from this address are refused for %d minutes",
                    c->def->name, f.failures, c->peer, minutes);
        if (f.account_locked)
            ism_log(ISM_LOG_WARN, "%s: %d failed logins for '%.100s'; logins to this account are refused for %d minutes",
                    c->def->name, f.failures, c->req.user, minutes);
        c->wait = W_AUTH_DELAY;
        c->wake_at = now + f.delay_ms;
        return 0;
    }
    case W_AUTH_DELAY:
        if (now < c->wake_at)
            return 0;
        c->wait = W_NONE;
        conn_env_refresh(w, c);
        conn_action(w, c, c->def->proto->auth_done(c->pstate, &c->env, ISM_AUTH_FAILED, &c->out));
        return 1;
    }
    return 1;
}

/* Drives one connection as far as it can go without blocking.
 * Returns -1 when it is finished and must be freed. */
static int conn_step(worker *w, conn *c)
{
    for (;;) {
        if (c->tls == T_HANDSHAKE) {
            ERR_clear_error();
            int r = SSL_do_handshake(c->ssl);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    c->want_write = e == SSL_ERROR_WANT_WRITE;
                    return 0;
                }
                unsigned long le = ERR_peek_error();
                ism_log(ISM_LOG_INFO, "%s: TLS handshake with %s failed: %s", c->def->name, c->peer,
                        le ? ERR_reason_error_string(le) : "connection closed");
                ERR_clear_error();
                return -1;
            }
            c->tls = T_ESTABLISHED;
            c->want_write = 0;
            atomic_fetch_add(&w->sv->handshakes, 1);
            c->deadline = ism_time_mono_ms() + IDLE_TIMEOUT_MS;
            conn_env_refresh(w, c);
            if (c->def->implicit_tls)
                c->def->proto->begin(c->pstate, &c->env, &c->out);
            else
                c->def->proto->tls_started(c->pstate, &c->env);
        }
        if (c->out.oom) {
            ism_log(ISM_LOG_ERROR, "%s: out of memory for a reply to %s; closing that connection", c->def->name,
                    c->peer);
            return -1;
        }
        if (c->wait == W_PAUSE && ism_time_mono_ms() < c->wake_at)
            return 0; /* proto.h: the reply is held for the pause */
        if (conn_flush(c))
            return -1;
        if (c->out.len > 0)
            return 0; /* wait for POLLOUT */
        if (c->close_pending)
            return -1;
        if (c->starttls_pending) {
            c->starttls_pending = 0;
            c->in_len = 0; /* RFC 3207 4.2: discard plaintext received after STARTTLS */
            if (conn_start_tls(w, c))
                return -1;
            continue;
        }
        if (!conn_wait_over(w, c, ism_time_mono_ms()))
            return 0; /* the worker looks again when the check is done or the time has come */
        if (c->more_pending) {
            /* The next piece of a long reply, now that the last one is sent. */
            c->more_pending = 0;
            conn_env_refresh(w, c);
            conn_action(w, c, c->def->proto->more(c->pstate, &c->env, &c->out));
            continue;
        }
        if (c->wait != W_NONE || c->close_pending || c->starttls_pending)
            continue;
        if (c->in_len && memchr(c->in, '\n', c->in_len)) {
            /* Lines left over from a pause or a long reply come before new input. */
            conn_lines(w, c);
            continue;
        }
        /* Read what is there, growing the buffer towards the longest line. */
        size_t max_in = c->def->proto->max_line + 2;
        if (c->in_cap - c->in_len < 128 && c->in_cap < max_in) {
            size_t cap = c->in_cap * 4 < max_in ? c->in_cap * 4 : max_in;
            char *p = realloc(c->in, cap);
            if (!p)
                return -1;
            c->in = p;
            c->in_cap = cap;
        }
        long n;
        if (c->tls == T_ESTABLISHED) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    return 0;
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->want_write = 1;
                    return 0;
                }
                return -1;
            }
            n = r;
        } else {
            n = ism_sock_recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
            if (n == ISM_IO_AGAIN)
                return 0;
            if (n <= 0)
                return -1;
        }
        c->in_len += (size_t)n;
        c->deadline = ism_time_mono_ms() + IDLE_TIMEOUT_MS;
        conn_lines(w, c);
    }
}

/* One turn of a connection: send what waits, run it as far as its input
 * goes, then send what OpenSSL and the protocol wrote meanwhile as one
 * segment. -1: close it (conn_free sends what is left). */
static int conn_run(worker *w, conn *c)
{
    ism_tlsio_turn(&c->io);
    if (c->io.out.len > 0 && ism_tlsio_flush(&c->io))
        return -1;
    if (c->io.out.len > 0)
        return 0; /* the socket is still full: wait for POLLOUT */
    int r = conn_step(w, c);
    if (r == 0 && c->io.out.len > 0 && ism_tlsio_flush(&c->io))
        return -1;
    return r;
}

/* Refusals for the connection limit are logged at most once a second per
 * worker, with the count since the last line, so a flood cannot fill the log. */
static void log_refusal(worker *w, const ism_listener *l, const char *peer, const char *why)
{
    int64_t now = ism_time_mono_ms();
    w->refusals++;
    if (now - w->last_refusal_log < 1000)
        return;
    ism_log(ISM_LOG_WARN, "%s: connection from %s refused: %s (%lu refused in the last second on worker %d)", l->key,
            peer, why, w->refusals, w->id);
    w->refusals = 0;
    w->last_refusal_log = now;
}

static void accept_all(worker *w, const ism_listener *l)
{
    server *sv = w->sv;
    for (;;) {
        char peer[64];
        ism_sock fd = ism_sock_accept_peer(l->fd, peer, sizeof peer);
        if (fd == ISM_BAD_SOCK) {
            if (ism_sock_accept_exhausted()) {
                /* The connection stays queued and the listener readable:
                 * polling it again at once would spin. Look again soon. */
                w->accept_paused_until = ism_time_mono_ms() + ACCEPT_PAUSE_MS;
                ism_log(ISM_LOG_WARN, "%s: out of file descriptors with %lu connections on worker %d; accepting "
                                      "again in %d ms",
                        l->key, (unsigned long)w->nconns, w->id, ACCEPT_PAUSE_MS);
            }
            return;
        }
        if (w->nconns >= w->max_conns) {
            ism_sock_close(fd);
            log_refusal(w, l, peer, "the worker has as many connections as the service allows");
            continue;
        }
        if (ism_limits_conn_open(sv->limits, peer)) {
            /* Say why where the protocol speaks first; a TLS port just closes. */
            const char *busy = l->def->implicit_tls ? NULL : l->def->proto->busy;
            if (busy)
                ism_sock_send(fd, busy, strlen(busy));
            ism_sock_close(fd);
            log_refusal(w, l, peer, "too many connections from this address (limits.connections_per_ip)");
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            ism_limits_conn_close(sv->limits, peer);
            ism_sock_close(fd);
            return;
        }
        c->counted = 1;
        c->worker = w;
        c->fd = fd;
        c->def = l->def;
        snprintf(c->cert_name, sizeof c->cert_name, "%s", l->cert_name);
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        c->deadline = ism_time_mono_ms() + (c->def->implicit_tls ? HANDSHAKE_TIMEOUT_MS : IDLE_TIMEOUT_MS);
        /* Small to start with (an idle session should cost little); grown
         * up to the protocol's longest line when a long line arrives. */
        c->in_cap = IN_START;
        c->in = malloc(c->in_cap);
        c->pstate = calloc(1, c->def->proto->state_size);
        if (!c->in || !c->pstate) {
            conn_free(sv, c);
            continue;
        }
        conn_env_refresh(w, c);
        if (c->def->implicit_tls) {
            if (conn_start_tls(w, c)) {
                conn_free(sv, c);
                continue;
            }
        } else {
            c->def->proto->begin(c->pstate, &c->env, &c->out);
        }
        w->conns[w->nconns++] = c;
        if (conn_run(w, c)) {
            conn_free(sv, c);
            w->nconns--;
        }
    }
}

/* After a crowd of sessions has gone (at least RELEASE_AFTER_CLOSED and half
 * of the most seen since the last time), hands the memory they used back to
 * the system: the C library keeps freed memory for reuse, so without this a
 * burst of 10,000 IMAP clients would leave the service's working set at its
 * peak for good. Runs on the main thread, about once a second. */
#define RELEASE_AFTER_CLOSED 1000
static void release_memory_after_close(server *sv, size_t *peak)
{
    size_t open = 0;
    for (int i = 0; i < sv->nworkers; i++)
        open += atomic_load(&sv->workers[i].open);
    if (open > *peak)
        *peak = open;
    if (*peak - open >= RELEASE_AFTER_CLOSED && open <= *peak / 2) {
        ism_plat_release_memory();
        ism_log(ISM_LOG_INFO, "%lu connections closed since the peak (%lu open): free memory returned to the system",
                (unsigned long)(*peak - open), (unsigned long)open);
        *peak = open;
    }
}

/* ---- applying the store (main thread) ---- */

static void tls_spec(const ism_config *cfg, const ism_paths *paths, const char *hostname, ism_tls_set_spec *spec)
{
    spec->profile = ism_config_str(cfg, ISM_S_TLS_PROFILE);
    spec->ciphers = ism_config_str(cfg, ISM_S_TLS_CIPHERS);
    spec->crt_dir = paths->crt;
    spec->key_dir = paths->key;
    spec->default_name = hostname;
    spec->web = cfg->web;
    spec->n_web = cfg->n_web;
}

/* Builds the next TLS set into *out; on failure *out is a new reference to
 * the current set (which stays in force) and the error is recorded. */
static void build_tls(server *sv, const ism_config *cfg, const ism_paths *paths, const char *hostname,
                      ism_tls_set *current, ism_tls_set **out)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300];
    ism_err err = {0};
    ism_paths_file(crt, sizeof crt, paths->crt, hostname, ".crt");
    ism_paths_file(key, sizeof key, paths->key, hostname, ".key");
    if (!ism_fs_exists(crt) && !ism_fs_exists(key)) {
        /* First start: a self-signed certificate so TLS works at once; the
         * administrator replaces it with one from a certificate authority. */
        if (ism_tls_selfsign(hostname, crt, key, &err) == 0)
            ism_log(ISM_LOG_INFO, "created a self-signed certificate for %s in %s", hostname, crt);
        else
            ism_log(ISM_LOG_ERROR, "%s", err.msg);
    }
    ism_tls_set_spec spec;
    tls_spec(cfg, paths, hostname, &spec);
    uint64_t sig = ism_tls_files_signature(&spec);
    ism_tls_set *set = NULL;
    if (ism_tls_set_build(&set, &spec, &err) == 0) {
        *out = set;
        sv->tls_error[0] = '\0';
    } else {
        *out = ism_tls_set_ref(current);
        snprintf(sv->tls_error, sizeof sv->tls_error, "%s", err.msg);
        ism_log(ISM_LOG_ERROR, "TLS not changed%s: %s", current ? " (the previous certificates stay in service)" : "",
                err.msg);
    }
    sv->tls_files_sig = sig;
    sv->pending_sig = sig;
}

static int listen_sock(void *arg, const char *addr, int port, ism_sock *out, ism_err *err)
{
    (void)arg;
    return ism_sock_listen(addr, port, out, err);
}

/* Fills next->lst so that exactly the wanted listeners listen (listeners.h). */
static void reconcile_listeners(runtime *old, runtime *next)
{
    next->nlst = ism_listeners_wanted(&next->cfg, next->tls != NULL, next->lst, MAX_LISTENERS);
    size_t none = 0;
    ism_listeners_reconcile(old ? old->lst : NULL, old ? old->nlst : 0, next->lst, next->nlst,
                            old ? old->retired : NULL, old ? &old->nretired : &none, listen_sock, NULL);
}

/* Listeners that are switched off still appear in the status (closed). */
static void write_status(server *sv, const runtime *rt, int closing)
{
    static ism_status st; /* about 40 KB; main thread only */
    ism_err err = {0};
    memset(&st, 0, sizeof st);
    st.applied_revision = rt->cfg.revision;
    st.applied_at_ms = ism_time_wall_ms();
    snprintf(st.error, sizeof st.error, "%s", sv->apply_error[0] ? sv->apply_error : sv->tls_error);
    for (size_t p = 0; p < ism_n_protocols; p++) {
        for (size_t i = 0; i < ism_protocols[p]->n_listeners && st.n_listeners < ISM_MAX_LISTENERS; i++) {
            const ism_proto_listener *d = &ism_protocols[p]->listeners[i];
            if (d->per_web_domain)
                continue; /* listed below, one per address and port */
            const ism_listener *l = NULL;
            for (size_t j = 0; j < rt->nlst; j++)
                if (rt->lst[j].def == d)
                    l = &rt->lst[j];
            ism_listener_state *ls = &st.listeners[st.n_listeners++];
            snprintf(ls->name, sizeof ls->name, "%s", d->name);
            ls->port = l ? l->port : ism_config_int(&rt->cfg, (ism_setting_id)d->port);
            ls->open = !closing && l && l->fd != ISM_BAD_SOCK;
            ls->tls = tls_setting_on(rt, d) && rt->tls != NULL;
            if (ls->tls)
                snprintf(ls->fingerprint, sizeof ls->fingerprint, "%s", ism_tls_set_fingerprint(rt->tls, NULL));
            if (l)
                snprintf(ls->error, sizeof ls->error, "%s", l->error);
        }
    }
    for (size_t j = 0; j < rt->nlst && st.n_listeners < ISM_MAX_LISTENERS; j++) {
        const ism_listener *l = &rt->lst[j];
        if (!l->def->per_web_domain)
            continue;
        ism_listener_state *ls = &st.listeners[st.n_listeners++];
        snprintf(ls->name, sizeof ls->name, "%s", l->def->name);
        ls->port = l->port;
        ls->open = !closing && l->fd != ISM_BAD_SOCK;
        ls->tls = 1;
        snprintf(ls->fingerprint, sizeof ls->fingerprint, "%s", ism_tls_set_fingerprint(rt->tls, l->cert_name));
        snprintf(ls->error, sizeof ls->error, "%s", l->error);
    }
    /* The certificates every TLS listener chooses from, with their names:
     * with the listeners' fingerprints, status shows which certificate
     * serves which names and which serves clients without SNI. */
    for (size_t i = 0; i < ism_tls_set_count(rt->tls) && st.n_certs < ISM_MAX_STATUS_CERTS; i++) {
        ism_tls_set_entry e;
        if (ism_tls_set_entry_at(rt->tls, i, &e))
            break;
        ism_cert_state *c = &st.certs[st.n_certs++];
        snprintf(c->file, sizeof c->file, "%s", e.file);
        snprintf(c->fingerprint, sizeof c->fingerprint, "%s", e.fingerprint);
        c->not_before = e.cand.not_before;
        c->not_after = e.cand.not_after;
        c->fallback = e.cand.fallback;
        c->web = e.web;
        size_t n = 0;
        for (size_t j = 0; j < e.cand.n_names && n < sizeof c->names; j++)
            n += (size_t)snprintf(c->names + n, sizeof c->names - n, "%s%s", j ? ", " : "", e.cand.names[j]);
    }
    for (int i = 0; i < st.n_listeners && !st.error[0]; i++)
        if (st.listeners[i].error[0])
            snprintf(st.error, sizeof st.error, "%s: %s", st.listeners[i].name, st.listeners[i].error);
    if (ism_store_write_status(sv->store, &st, &err))
        ism_log(ISM_LOG_ERROR, "cannot record the applied state: %s", err.msg);
}

static void make_status_text(runtime *rt)
{
    size_t n = 0;
    n += (size_t)snprintf(rt->status_text + n, sizeof rt->status_text - n,
                          "ISMail %s on %s\nsettings revision %lld applied\n", ISM_VERSION_STRING, rt->hostname,
                          (long long)rt->cfg.revision);
    for (size_t i = 0; i < rt->nlst && n < sizeof rt->status_text; i++)
        n += (size_t)snprintf(rt->status_text + n, sizeof rt->status_text - n, "%s port %d %s\n", rt->lst[i].key,
                              rt->lst[i].port, rt->lst[i].fd != ISM_BAD_SOCK ? "open" : "closed");
}

/* Reads a snapshot, builds the next generation and publishes it. A snapshot
 * that fails validation changes nothing; a TLS set that fails to build
 * leaves the old one serving. Main thread only. */
static void apply(server *sv)
{
    ism_err err = {0};
    int64_t t0 = ism_time_mono_ms();
    runtime *next = calloc(1, sizeof *next), *old = sv->rt;
    if (!next) {
        ism_log(ISM_LOG_ERROR, "out of memory applying the settings");
        return;
    }
    atomic_init(&next->refs, 1);
    if (ism_store_load(sv->store, &next->cfg, &err) || ism_config_check(&next->cfg, &err) ||
        ism_store_route_list(sv->store, &next->routes, &next->n_routes, &err) ||
        ism_store_policy_list(sv->store, &next->policies, &next->n_policies, &err) ||
        (next->cfg.invalid[0] && ism_err_set(&err, ISM_E_INVALID, "%s", next->cfg.invalid))) {
        /* Nothing changes; the service goes on with what it has. */
        snprintf(sv->apply_error, sizeof sv->apply_error, "settings revision %lld not applied: %s",
                 (long long)next->cfg.revision, err.msg);
        ism_log(ISM_LOG_ERROR, "%s", sv->apply_error);
        runtime_unref(next);
        if (old)
            write_status(sv, old, 0);
        return;
    }
    sv->apply_error[0] = '\0';
    ism_limits_cfg lc = {
        .conns_per_addr = ism_config_int(&next->cfg, ISM_S_LIMITS_CONNECTIONS_PER_IP),
        .data_per_addr = (int64_t)ism_config_int(&next->cfg, ISM_S_SMTP_DATA_BUDGET_MB) * 1024 * 1024,
        .max_failures = ism_config_int(&next->cfg, ISM_S_AUTH_MAX_FAILURES),
        .lockout_ms = (int64_t)ism_config_int(&next->cfg, ISM_S_AUTH_LOCKOUT_MINUTES) * 60 * 1000,
    };
    ism_limits_configure(sv->limits, &lc);
    ism_paths paths = sv->base_paths;
    ism_paths_apply_config(&paths, &next->cfg);
    ism_config_hostname(&next->cfg, next->hostname, sizeof next->hostname);
    if (ism_paths_ensure(&paths, &err))
        ism_log(ISM_LOG_ERROR, "%s", err.msg);
    build_tls(sv, &next->cfg, &paths, next->hostname, old ? old->tls : NULL, &next->tls);
    sv->paths = paths;
    reconcile_listeners(old, next);
    make_status_text(next);
    ism_mutex_lock(sv->lock);
    sv->rt = next;
    ism_mutex_unlock(sv->lock);
    runtime_unref(old); /* workers still using it keep it (and its retired sockets) alive */
    write_status(sv, next, 0);
    /* "SMTP on, POP off, IMAP off": each protocol with a TLS checkbox. */
    char tls_words[160] = "";
    size_t tw = 0;
    for (size_t p = 0; p < ism_n_protocols; p++) {
        const ism_proto_ops *ops = ism_protocols[p];
        if (ops->n_listeners && ops->listeners[0].tls != ISM_PROTO_NO_SETTING && tw < sizeof tls_words)
            tw += (size_t)snprintf(tls_words + tw, sizeof tls_words - tw, "%s%s %s", tw ? ", " : "", ops->label,
                                   tls_setting_on(next, &ops->listeners[0]) ? "on" : "off");
    }
    ism_log(ISM_LOG_INFO, "applied settings revision %lld in %lld ms (TLS: %s; %lu web SSL domains)",
            (long long)next->cfg.revision, (long long)(ism_time_mono_ms() - t0), tls_words,
            (unsigned long)next->cfg.n_web);
}

/* Certificates renewed on disk by an outside tool: apply again when the
 * files' signature has changed and stayed the same for one more check (so
 * a file still being written is not read half-way). */
static void check_tls_files(server *sv)
{
    ism_tls_set_spec spec;
    tls_spec(&sv->rt->cfg, &sv->paths, sv->rt->hostname, &spec);
    uint64_t sig = ism_tls_files_signature(&spec);
    if (sig == sv->tls_files_sig) {
        sv->pending_sig = sig;
        return;
    }
    if (sig != sv->pending_sig) {
        sv->pending_sig = sig; /* changed; wait for it to settle */
        return;
    }
    ism_log(ISM_LOG_INFO, "certificate files changed on disk; reloading them");
    apply(sv);
}

static int store_changed(server *sv)
{
    ism_err err = {0};
    int r = ism_watch_changed(sv->watch, &err);
    if (r < 0)
        ism_log(ISM_LOG_ERROR, "%s", err.msg);
    return r > 0;
}

/* ---- the worker loops ---- */

/* How long the loop may sleep: less while a session waits for a password
 * check or a held reply, so it goes on promptly. */
static int poll_timeout(const worker *w, int64_t now)
{
    int64_t t = POLL_MS;
    if (w->accept_paused_until > now && w->accept_paused_until - now < t)
        t = w->accept_paused_until - now;
    for (size_t i = 0; i < w->nconns && t > 0; i++) {
        const conn *c = w->conns[i];
        if (c->wait == W_AUTH)
            t = t < AUTH_POLL_MS ? t : AUTH_POLL_MS;
        else if (c->wait != W_NONE)
            t = c->wake_at <= now ? 0 : (c->wake_at - now < t ? c->wake_at - now : t);
    }
    return (int)t;
}

static void worker_loop(void *arg)
{
    worker *w = arg;
    server *sv = w->sv;
    while (!atomic_load(&stop_requested)) {
        /* pfd[0..nl) are the listeners of the generation taken here. */
        runtime *polled = runtime_get(sv);
        int64_t before = ism_time_mono_ms();
        size_t n = 0, nl = 0, lidx[MAX_LISTENERS];
        for (size_t i = 0; i < polled->nlst && before >= w->accept_paused_until; i++) {
            if (polled->lst[i].fd == ISM_BAD_SOCK)
                continue;
            w->pfd[n].fd = polled->lst[i].fd;
            w->pfd[n].events = POLLIN;
            w->pfd[n++].revents = 0;
            lidx[nl++] = i;
        }
        const size_t first_conn = n;
        for (size_t i = 0; i < w->nconns; i++) {
            conn *c = w->conns[i];
            w->pfd[n].fd = c->fd;
            /* A waiting session is not read from; its socket is watched for errors only. */
            w->pfd[n].events = c->wait != W_NONE                                                  ? 0
                               : (c->want_write || c->out.len || c->io.out.len || c->more_pending) ? POLLOUT
                                                                                                   : POLLIN;
            w->pfd[n++].revents = 0;
        }
        int r = ism_poll(w->pfd, n, poll_timeout(w, before));
        /* Work with the newest generation (a change published while this
         * thread slept applies to the very next handshake), but keep the
         * polled one until its sockets are no longer looked at. */
        runtime_unref(w->rt);
        w->rt = runtime_get(sv);
        int64_t now = ism_time_mono_ms();
        if (r > 0)
            for (size_t k = 0; k < nl; k++)
                if (w->pfd[k].revents & POLLIN)
                    accept_all(w, &polled->lst[lidx[k]]);
        /* Connections accepted just now were already run once; walk only
         * the ones that were polled. */
        for (size_t i = 0, k = first_conn; k < n && i < w->nconns; i++, k++) {
            conn *c = w->conns[i];
            if (w->pfd[k].fd != c->fd)
                continue;
            if (c->wait != W_NONE) {
                if (w->pfd[k].revents & (POLLHUP | POLLERR))
                    c->dead = 1; /* gone while waiting: nobody to answer */
                else if (conn_wait_over(w, c, now) && conn_run(w, c))
                    c->dead = 1;
                continue;
            }
            if (r > 0 && w->pfd[k].revents && conn_run(w, c))
                c->dead = 1; /* reaped below */
        }
        runtime_unref(polled);
        /* Reap finished and timed-out connections. */
        size_t keep = 0;
        for (size_t i = 0; i < w->nconns; i++) {
            conn *c = w->conns[i];
            if (c->dead || (now > c->deadline && c->wait == W_NONE))
                conn_free(sv, c);
            else
                w->conns[keep++] = c;
        }
        w->nconns = keep;
        atomic_store(&w->open, keep);
    }
    for (size_t i = 0; i < w->nconns; i++)
        conn_free(sv, w->conns[i]);
    w->nconns = 0;
}

static int worker_count(void)
{
    const char *env = getenv("ISMAIL_WORKERS"); /* for benchmarks: one loop vs one per core */
    int n = env && *env ? atoi(env) : ism_plat_cpu_count();
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : n;
}

static int workers_start(server *sv, ism_err *err)
{
    if (ism_tlsio_init()) /* the BIO under every TLS session */
        return ism_err_set(err, ISM_E_TLS, "out of memory creating the socket BIO");
    sv->nworkers = worker_count();
    for (int i = 0; i < sv->nworkers; i++) {
        worker *w = &sv->workers[i];
        ism_err e = {0};
        w->sv = sv;
        w->id = i;
        /* Never more connections than descriptors: a service out of them
         * can accept nobody, not even to say it is busy. */
        size_t max_total = MAX_CONNS;
        if (sv->fd_limit > 0 && (size_t)(sv->fd_limit - FD_RESERVE) < max_total)
            max_total = sv->fd_limit > 2 * FD_RESERVE ? (size_t)(sv->fd_limit - FD_RESERVE) : FD_RESERVE;
        w->max_conns = max_total / (size_t)sv->nworkers;
        w->conns = calloc(w->max_conns, sizeof *w->conns);
        w->pfd = calloc(w->max_conns + MAX_LISTENERS, sizeof *w->pfd);
        if (!w->conns || !w->pfd)
            return ism_err_set(err, ISM_E_IO, "out of memory");
        if (ism_mail_open(&w->mail, sv->mail_path, &e)) {
            if (i == 0)
                ism_log(ISM_LOG_ERROR, "mail store not available, mail is refused until it is: %s", e.msg);
            w->mail = NULL;
        }
        if (ism_queue_open(&w->queue, sv->queue_path, &e)) {
            if (i == 0)
                ism_log(ISM_LOG_ERROR, "outgoing queue not available, mail to other servers is refused: %s", e.msg);
            w->queue = NULL;
        }
        w->rt = runtime_get(sv);
        if (ism_thread_start(&w->thread, worker_loop, w, err))
            return -1;
    }
    return 0;
}

static void workers_stop(server *sv)
{
    for (int i = 0; i < sv->nworkers; i++) {
        worker *w = &sv->workers[i];
        if (w->thread)
            ism_thread_join(w->thread);
        runtime_unref(w->rt);
        if (w->mail)
            ism_mail_close(w->mail);
        if (w->queue)
            ism_queue_close(w->queue);
        free(w->conns);
        free(w->pfd);
    }
}

/* ---- the main thread: watch, apply, report ---- */

static void remove_spooled(const char *name, void *ctx)
{
    char path[ISM_PATH_MAX + 300];
    ism_paths_file(path, sizeof path, ctx, name, NULL);
    ism_fs_remove(path, NULL);
}

/* DATA/spool holds message data beyond what a session keeps in memory
 * (smtp.c). Files left there by a service that stopped in the middle of a
 * message belong to no session: they are removed at start. */
static void spool_prepare(server *sv)
{
    ism_err e = {0};
    ism_paths_file(sv->spool_dir, sizeof sv->spool_dir, sv->base_paths.data, "spool", NULL);
    if (ism_fs_mkdirs(sv->spool_dir, 1, &e)) {
        ism_log(ISM_LOG_ERROR, "%s; messages are kept in memory while they arrive", e.msg);
        sv->spool_dir[0] = '\0';
        return;
    }
    ism_fs_list(sv->spool_dir, "", remove_spooled, sv->spool_dir, &e);
}

int ism_server_run(const ism_server_opts *opts, ism_err *err)
{
    server *svp = calloc(1, sizeof *svp);
    if (!svp)
        return ism_err_set(err, ISM_E_IO, "out of memory");
    server *sv = svp;
    atomic_store(&stop_requested, 0);
    ism_paths_init(&sv->base_paths, opts->data_dir);
    sv->paths = sv->base_paths;
    if (ism_fs_mkdirs(sv->base_paths.data, 0, err)) {
        free(sv);
        return -1;
    }
    char logpath[ISM_PATH_MAX + 32];
    ism_paths_file(logpath, sizeof logpath, sv->base_paths.data, "ismail-service", ".log");
    ism_paths_file(sv->mail_path, sizeof sv->mail_path, sv->base_paths.data, "mail", ".db");
    ism_paths_file(sv->queue_path, sizeof sv->queue_path, sv->base_paths.data, "queue", ".db");
    /* /.well-known/X is served from DATA/www/.well-known/X (ACME HTTP-01, MTA-STS). */
    ism_paths_file(sv->web_root, sizeof sv->web_root, sv->base_paths.data, "www" ISM_PATH_SEP ".well-known", NULL);
    ism_log_open(logpath, opts->console);
    if (ism_net_init(err) || ism_mutex_new(&sv->lock, err) || ism_limits_new(&sv->limits, err) ||
        ism_store_open(&sv->store, sv->base_paths.store, err) || ism_watch_open(&sv->watch, sv->store, err)) {
        ism_log(ISM_LOG_ERROR, "cannot start: %s", err->msg);
        ism_store_close(sv->store);
        ism_limits_free(sv->limits);
        ism_log_close();
        free(sv);
        return -1;
    }
    ism_log(ISM_LOG_INFO, "ISMail service %s starting; store %s", ISM_VERSION_STRING, sv->base_paths.store);
    sv->fd_limit = ism_plat_raise_fd_limit();
    if (sv->fd_limit > 0)
        ism_log(ISM_LOG_INFO, "open files allowed: %ld (at most %ld connections)", sv->fd_limit,
                sv->fd_limit > 2 * FD_RESERVE ? sv->fd_limit - FD_RESERVE : (long)FD_RESERVE);
    spool_prepare(sv);
    store_changed(sv);
    apply(sv);
    if (!sv->rt) {
        ism_err_set(err, ISM_E_STORE, "%s", sv->apply_error);
        ism_log(ISM_LOG_ERROR, "cannot start: %s", err->msg);
        ism_watch_close(sv->watch);
        ism_store_close(sv->store);
        ism_log_close();
        free(sv);
        return -1;
    }
    ism_err derr = {0};
    ism_delivery_settings dsrc = {delivery_snapshot, sv};
    if (ism_delivery_start(&sv->delivery, opts->data_dir, &dsrc, &derr))
        ism_log(ISM_LOG_ERROR, "outgoing mail is not delivered: %s", derr.msg);
    int hashers = ism_plat_cpu_count() > 2 ? 2 : 1;
    if (ism_authpool_start(&sv->authpool, hashers, err) || workers_start(sv, err)) {
        ism_log(ISM_LOG_ERROR, "cannot start: %s", err->msg);
        atomic_store(&stop_requested, 1);
    } else {
        ism_log(ISM_LOG_INFO, "%d worker threads serving", sv->nworkers);
        if (opts->on_running)
            opts->on_running();
    }

    int64_t next_store_check = 0, next_files_check = ism_time_mono_ms() + FILES_POLL_MS;
    size_t peak_open = 0;
    while (!atomic_load(&stop_requested)) {
        ism_pollfd p;
        memset(&p, 0, sizeof p);
        p.fd = ism_watch_sock(sv->watch);
        p.events = POLLIN;
        int r = ism_poll(&p, 1, POLL_MS);
        int64_t now = ism_time_mono_ms();
        int woken = r > 0 && (p.revents & POLLIN);
        if (woken || now >= next_store_check || atomic_load(&reload_requested)) {
            next_store_check = now + STORE_POLL_MS;
            if (store_changed(sv) | atomic_exchange(&reload_requested, 0))
                apply(sv);
        }
        if (now >= next_files_check) {
            next_files_check = now + FILES_POLL_MS;
            check_tls_files(sv);
            release_memory_after_close(sv, &peak_open);
            ism_limits_sweep(sv->limits, now);
        }
    }

    unsigned long open_conns = 0;
    for (int i = 0; i < sv->nworkers; i++)
        open_conns += (unsigned long)sv->workers[i].nconns;
    ism_log(ISM_LOG_INFO, "ISMail service stopping; closing %lu connections", open_conns);
    workers_stop(sv);
    ism_authpool_stop(sv->authpool);
    ism_delivery_stop(sv->delivery);
    for (size_t i = 0; i < sv->rt->nlst; i++)
        ism_sock_close(sv->rt->lst[i].fd);
    write_status(sv, sv->rt, 1);
    ism_log(ISM_LOG_INFO, "%lu TLS handshakes served", (unsigned long)atomic_load(&sv->handshakes));
    runtime_unref(sv->rt);
    ism_mutex_free(sv->lock);
    ism_watch_close(sv->watch);
    ism_store_close(sv->store);
    ism_limits_free(sv->limits);
    ism_log(ISM_LOG_INFO, "ISMail service stopped");
    ism_log_close();
    free(sv);
    return 0;
}
