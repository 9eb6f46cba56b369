/* server: listeners, connections and live apply (see server.h).
 *
 * One event loop over non-blocking sockets and non-blocking OpenSSL. Each
 * connection is a small state machine: plaintext, TLS handshake, TLS; the
 * protocol layer (smtp.c) sees only command lines. */
#include "server.h"

#include "ism_buf.h"
#include "ism_log.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "ism_tls.h"
#include "proto.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 50             /* longest sleep in poll() */
#define STORE_POLL_MS 100      /* data_version fallback when no wake-up arrives */
#define IDLE_TIMEOUT_MS 300000 /* RFC 5321 4.5.3.2.7: 5 minutes for a command */
#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_CONNS 4000

static atomic_int stop_requested;
static atomic_int reload_requested;

void ism_server_request_stop(void) { atomic_store(&stop_requested, 1); }
void ism_server_request_reload(void) { atomic_store(&reload_requested, 1); }

/* ---- the listener table: one row per listening port ---- */
typedef struct {
    const char *name;
    const ism_proto_ops *proto;
    ism_setting_id port;
    ism_setting_id tls;  /* the checkbox that switches TLS for it */
    int implicit_tls;    /* TLS from the first byte; open only while tls is on */
    int submission;      /* clients submit mail here (SMTP AUTH) */
} listener_def;

static const listener_def listener_defs[] = {
    {"smtp", &ism_proto_smtp, ISM_S_SMTP_PORT, ISM_S_SMTP_TLS_INCOMING, 0, 0},
    {"submission", &ism_proto_smtp, ISM_S_SUBMISSION_PORT, ISM_S_SMTP_TLS_INCOMING, 0, 1},
    {"smtps", &ism_proto_smtp, ISM_S_SMTPS_PORT, ISM_S_SMTP_TLS_INCOMING, 1, 1},
};
#define N_LISTENERS (sizeof listener_defs / sizeof listener_defs[0])

typedef struct {
    ism_sock fd;
    char addr[64];
    int port;
    char error[256];
} listener;

typedef enum { T_PLAIN, T_HANDSHAKE, T_ESTABLISHED } tls_state;

typedef struct {
    ism_sock fd;
    const listener_def *def;
    SSL *ssl;
    ism_tls_gen *gen;      /* the generation this session's TLS began with */
    tls_state tls;
    int want_write;        /* OpenSSL needs the socket writable to go on */
    void *pstate;          /* the protocol's per-connection state */
    ism_proto_env env;
    char in[4096];
    size_t in_len;
    int discarding;        /* skipping the rest of an over-long line */
    ism_buf out;
    int starttls_pending;  /* start TLS once out is flushed */
    int close_pending;     /* close once out is flushed */
    int dead;              /* finished; freed by the loop */
    int64_t deadline;
} conn;

typedef struct {
    ism_paths paths;
    ism_store *store;
    ism_config cfg;          /* what is applied now */
    int have_cfg;
    ism_tls_gen *gen;        /* current generation, NULL when TLS is unavailable */
    char hostname[256];
    char tls_error[512];
    listener lst[N_LISTENERS];
    conn **conns;
    size_t nconns;
    ism_pollfd *pfd;
    ism_watch *watch;
} server;

static int tls_on(const server *sv, const listener_def *d)
{
    return sv->gen && ism_config_bool(&sv->cfg, d->tls);
}

/* ---- connections ---- */

static void conn_free(conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort close_notify; the socket is non-blocking */
        SSL_free(c->ssl);
    }
    ism_tls_gen_unref(c->gen);
    ism_sock_close(c->fd);
    ism_buf_free(&c->out);
    if (c->pstate) {
        c->def->proto->end(c->pstate);
        free(c->pstate);
    }
    free(c);
}

static int conn_start_tls(server *sv, conn *c)
{
    c->gen = ism_tls_gen_ref(sv->gen);
    c->ssl = c->gen ? SSL_new(ism_tls_gen_ctx(c->gen)) : NULL;
    if (!c->ssl || !SSL_set_fd(c->ssl, (int)c->fd)) {
        ism_log(ISM_LOG_WARN, "%s: cannot start TLS for a connection", c->def->name);
        return -1;
    }
    SSL_set_accept_state(c->ssl);
    c->tls = T_HANDSHAKE;
    c->deadline = ism_time_mono_ms() + HANDSHAKE_TIMEOUT_MS;
    return 0;
}

/* Brings the session's view of its surroundings up to date: the settings
 * may have changed since the last line. */
static void conn_env_refresh(server *sv, conn *c)
{
    ism_proto_env *e = &c->env;
    int tls_setting = ism_config_bool(&sv->cfg, c->def->tls);
    e->hostname = sv->hostname;
    e->tls_active = c->tls == T_ESTABLISHED;
    e->starttls_offered = tls_setting && sv->gen && !c->def->implicit_tls && c->tls == T_PLAIN;
    e->tls_required_for_auth = tls_setting;
    e->submission = c->def->submission;
    e->tls_version = c->ssl && e->tls_active ? SSL_get_version(c->ssl) : NULL;
    e->tls_cipher = c->ssl && e->tls_active ? SSL_get_cipher_name(c->ssl) : NULL;
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
    return 0;
}

static void conn_lines(server *sv, conn *c)
{
    size_t start = 0;
    while (!c->starttls_pending && !c->close_pending) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - c->in), len = end - start;
        if (c->discarding) {
            c->discarding = 0;
        } else {
            if (len > 0 && c->in[start + len - 1] == '\r')
                len--;
            const ism_proto_ops *p = c->def->proto;
            if (len + 2 > p->max_line) {
                p->too_long(c->pstate, &c->env, &c->out);
            } else {
                conn_env_refresh(sv, c);
                ism_proto_action a = p->line(c->pstate, &c->env, c->in + start, len, &c->out);
                if (a == ISM_PROTO_STARTTLS)
                    c->starttls_pending = 1;
                else if (a == ISM_PROTO_CLOSE)
                    c->close_pending = 1;
            }
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
    if (c->in_len == sizeof c->in) {
        /* A full buffer with no line end: answer once, skip to the next LF. */
        c->def->proto->too_long(c->pstate, &c->env, &c->out);
        c->in_len = 0;
        c->discarding = 1;
    }
}

/* Drives one connection as far as it can go without blocking.
 * Returns -1 when it is finished and must be freed. */
static int conn_run(server *sv, conn *c)
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
                ism_log(ISM_LOG_INFO, "%s: TLS handshake failed: %s", c->def->name,
                        le ? ERR_reason_error_string(le) : "connection closed");
                ERR_clear_error();
                return -1;
            }
            c->tls = T_ESTABLISHED;
            c->want_write = 0;
            c->deadline = ism_time_mono_ms() + IDLE_TIMEOUT_MS;
            conn_env_refresh(sv, c);
            if (c->def->implicit_tls)
                c->def->proto->begin(c->pstate, &c->env, &c->out);
            else
                c->def->proto->tls_started(c->pstate, &c->env);
        }
        if (conn_flush(c))
            return -1;
        if (c->out.len > 0)
            return 0; /* wait for POLLOUT */
        if (c->close_pending)
            return -1;
        if (c->starttls_pending) {
            c->starttls_pending = 0;
            c->in_len = 0; /* RFC 3207 4.2: discard plaintext received after STARTTLS */
            if (conn_start_tls(sv, c))
                return -1;
            continue;
        }
        /* Read what is there. */
        long n;
        if (c->tls == T_ESTABLISHED) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
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
            n = ism_sock_recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
            if (n == ISM_IO_AGAIN)
                return 0;
            if (n <= 0)
                return -1;
        }
        c->in_len += (size_t)n;
        c->deadline = ism_time_mono_ms() + IDLE_TIMEOUT_MS;
        conn_lines(sv, c);
    }
}

static void accept_all(server *sv, size_t li)
{
    for (;;) {
        ism_sock fd = ism_sock_accept(sv->lst[li].fd);
        if (fd == ISM_BAD_SOCK)
            return;
        if (sv->nconns >= MAX_CONNS) {
            ism_sock_close(fd);
            ism_log(ISM_LOG_WARN, "%s: connection refused, %d connections already open", listener_defs[li].name,
                    MAX_CONNS);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            ism_sock_close(fd);
            return;
        }
        c->fd = fd;
        c->def = &listener_defs[li];
        c->deadline = ism_time_mono_ms() + IDLE_TIMEOUT_MS;
        c->pstate = calloc(1, c->def->proto->state_size);
        if (!c->pstate) {
            conn_free(c);
            continue;
        }
        conn_env_refresh(sv, c);
        if (c->def->implicit_tls) {
            if (conn_start_tls(sv, c)) {
                conn_free(c);
                continue;
            }
        } else {
            c->def->proto->begin(c->pstate, &c->env, &c->out);
        }
        sv->conns[sv->nconns++] = c;
        if (conn_run(sv, c)) {
            conn_free(c);
            sv->nconns--;
        }
    }
}

/* ---- applying the store ---- */

static void load_tls(server *sv, const ism_config *cfg, const ism_paths *paths)
{
    char crt[ISM_PATH_MAX + 300], key[ISM_PATH_MAX + 300];
    ism_err err = {0};
    ism_paths_file(crt, sizeof crt, paths->crt, sv->hostname, ".crt");
    ism_paths_file(key, sizeof key, paths->key, sv->hostname, ".key");
    if (!ism_fs_exists(crt) && !ism_fs_exists(key)) {
        /* First start: a self-signed certificate so TLS works at once; the
         * administrator replaces it with one from a certificate authority. */
        if (ism_tls_selfsign(sv->hostname, crt, key, &err) == 0)
            ism_log(ISM_LOG_INFO, "created a self-signed certificate for %s in %s", sv->hostname, crt);
        else
            ism_log(ISM_LOG_ERROR, "%s", err.msg);
    }
    ism_tls_gen *g = NULL;
    if (ism_tls_gen_build(&g, ism_config_str(cfg, ISM_S_TLS_PROFILE), crt, key, &err) == 0) {
        ism_tls_gen_unref(sv->gen); /* sessions keep their own reference */
        sv->gen = g;
        sv->tls_error[0] = '\0';
    } else {
        /* Keep serving the previous generation, if any. */
        snprintf(sv->tls_error, sizeof sv->tls_error, "%s", err.msg);
        ism_log(ISM_LOG_ERROR, "TLS not changed: %s", err.msg);
    }
}

static void apply_listeners(server *sv)
{
    const char *addr = ism_config_str(&sv->cfg, ISM_S_LISTEN_ADDRESS);
    for (size_t i = 0; i < N_LISTENERS; i++) {
        const listener_def *d = &listener_defs[i];
        listener *l = &sv->lst[i];
        int port = ism_config_int(&sv->cfg, d->port);
        int want = !d->implicit_tls || tls_on(sv, d);
        int is_open = l->fd != ISM_BAD_SOCK;
        if (!want) {
            if (is_open) {
                ism_sock_close(l->fd);
                l->fd = ISM_BAD_SOCK;
                ism_log(ISM_LOG_INFO, "%s: closed port %d", d->name, l->port);
            }
            l->error[0] = '\0';
            l->port = port;
            continue;
        }
        if (is_open && l->port == port && strcmp(l->addr, addr) == 0)
            continue; /* unchanged: the same socket keeps listening */
        ism_sock fd;
        ism_err err = {0};
        if (ism_sock_listen(addr, port, &fd, &err)) {
            snprintf(l->error, sizeof l->error, "%s", err.msg);
            ism_log(ISM_LOG_ERROR, "%s: %s%s", d->name, err.msg, is_open ? " (still listening on the old port)" : "");
            continue;
        }
        if (is_open)
            ism_sock_close(l->fd);
        l->fd = fd;
        l->port = port;
        snprintf(l->addr, sizeof l->addr, "%s", addr);
        l->error[0] = '\0';
        ism_log(ISM_LOG_INFO, "%s: listening on %s port %d", d->name, addr, port);
    }
}

static void write_status(server *sv)
{
    ism_status st;
    ism_err err = {0};
    memset(&st, 0, sizeof st);
    st.applied_revision = sv->cfg.revision;
    st.applied_at_ms = ism_time_wall_ms();
    snprintf(st.error, sizeof st.error, "%s", sv->tls_error);
    for (size_t i = 0; i < N_LISTENERS && i < ISM_MAX_LISTENERS; i++) {
        ism_listener_state *ls = &st.listeners[st.n_listeners++];
        const listener_def *d = &listener_defs[i];
        snprintf(ls->name, sizeof ls->name, "%s", d->name);
        ls->port = sv->lst[i].port;
        ls->open = sv->lst[i].fd != ISM_BAD_SOCK;
        ls->tls = tls_on(sv, d);
        if (ls->tls)
            snprintf(ls->fingerprint, sizeof ls->fingerprint, "%s", ism_tls_gen_fingerprint(sv->gen));
        snprintf(ls->error, sizeof ls->error, "%s", sv->lst[i].error);
        if (!st.error[0] && ls->error[0])
            snprintf(st.error, sizeof st.error, "%s: %s", d->name, ls->error);
    }
    if (ism_store_write_status(sv->store, &st, &err))
        ism_log(ISM_LOG_ERROR, "cannot record the applied state: %s", err.msg);
}

/* Reads a snapshot and applies it; on a bad snapshot the running
 * configuration stays as it is. */
static void apply(server *sv)
{
    ism_config cfg;
    ism_err err = {0};
    if (ism_store_load(sv->store, &cfg, &err) || ism_config_check(&cfg, &err)) {
        ism_log(ISM_LOG_ERROR, "settings not applied: %s", err.msg);
        ism_config_free(&cfg);
        return;
    }
    ism_paths paths = sv->paths;
    ism_paths_apply_config(&paths, &cfg);
    const char *h = ism_config_str(&cfg, ISM_S_SERVER_HOSTNAME);
    if (*h)
        snprintf(sv->hostname, sizeof sv->hostname, "%s", h);
    else
        ism_plat_hostname(sv->hostname, sizeof sv->hostname);
    if (ism_paths_ensure(&paths, &err))
        ism_log(ISM_LOG_ERROR, "%s", err.msg);
    load_tls(sv, &cfg, &paths);
    if (sv->have_cfg)
        ism_config_free(&sv->cfg);
    sv->cfg = cfg;
    sv->have_cfg = 1;
    apply_listeners(sv);
    write_status(sv);
    ism_log(ISM_LOG_INFO, "applied settings revision %lld (SMTP TLS %s)", (long long)cfg.revision,
            ism_config_bool(&cfg, ISM_S_SMTP_TLS_INCOMING) ? "on" : "off");
}

static int store_changed(server *sv)
{
    ism_err err = {0};
    int r = ism_watch_changed(sv->watch, &err);
    if (r < 0)
        ism_log(ISM_LOG_ERROR, "%s", err.msg);
    return r > 0;
}

/* ---- the loop ---- */

int ism_server_run(const ism_server_opts *opts, ism_err *err)
{
    server sv;
    memset(&sv, 0, sizeof sv);
    for (size_t i = 0; i < N_LISTENERS; i++)
        sv.lst[i].fd = ISM_BAD_SOCK;
    atomic_store(&stop_requested, 0);
    ism_paths_init(&sv.paths, opts->data_dir);
    if (ism_fs_mkdirs(sv.paths.data, 0, err))
        return -1;
    char logpath[ISM_PATH_MAX + 32];
    ism_paths_file(logpath, sizeof logpath, sv.paths.data, "ismail-service", ".log");
    ism_log_open(logpath, opts->console);
    if (ism_net_init(err) || ism_store_open(&sv.store, sv.paths.store, err) ||
        ism_watch_open(&sv.watch, sv.store, err)) {
        ism_log(ISM_LOG_ERROR, "cannot start: %s", err->msg);
        ism_store_close(sv.store);
        ism_log_close();
        return -1;
    }
    sv.conns = calloc(MAX_CONNS, sizeof *sv.conns);
    sv.pfd = calloc(MAX_CONNS + N_LISTENERS + 1, sizeof *sv.pfd);
    if (!sv.conns || !sv.pfd) {
        ism_store_close(sv.store);
        return ism_err_set(err, ISM_E_IO, "out of memory");
    }
    ism_log(ISM_LOG_INFO, "ISMail service starting; store %s", sv.paths.store);
    store_changed(&sv);
    apply(&sv);
    if (opts->on_running)
        opts->on_running();

    int64_t next_check = 0;
    while (!atomic_load(&stop_requested)) {
        /* pfd[0] is the store's wake-up socket, then the open listeners,
         * then the connections. */
        size_t n = 0, nl = 0, lidx[N_LISTENERS];
        sv.pfd[n].fd = ism_watch_sock(sv.watch);
        sv.pfd[n].events = POLLIN;
        sv.pfd[n++].revents = 0;
        for (size_t i = 0; i < N_LISTENERS; i++) {
            if (sv.lst[i].fd == ISM_BAD_SOCK)
                continue;
            sv.pfd[n].fd = sv.lst[i].fd;
            sv.pfd[n].events = POLLIN;
            sv.pfd[n++].revents = 0;
            lidx[nl++] = i;
        }
        const size_t first_conn = n;
        for (size_t i = 0; i < sv.nconns; i++) {
            conn *c = sv.conns[i];
            sv.pfd[n].fd = c->fd;
            sv.pfd[n].events = (short)((c->want_write || c->out.len) ? POLLOUT : POLLIN);
            sv.pfd[n++].revents = 0;
        }
        int r = ism_poll(sv.pfd, n, POLL_MS);
        int64_t now = ism_time_mono_ms();
        if (r > 0) {
            for (size_t k = 0; k < nl; k++)
                if (sv.pfd[1 + k].revents & POLLIN)
                    accept_all(&sv, lidx[k]);
            /* Connections accepted just now were already run once; walk
             * only the ones that were polled. */
            for (size_t i = 0, k = first_conn; k < n && i < sv.nconns; i++, k++) {
                conn *c = sv.conns[i];
                if (sv.pfd[k].fd != c->fd || !sv.pfd[k].revents)
                    continue;
                if (conn_run(&sv, c))
                    c->dead = 1; /* reaped below */
            }
        }
        /* Reap finished and timed-out connections. */
        size_t w = 0;
        for (size_t i = 0; i < sv.nconns; i++) {
            conn *c = sv.conns[i];
            if (c->dead || now > c->deadline)
                conn_free(c);
            else
                sv.conns[w++] = c;
        }
        sv.nconns = w;
        int woken = r > 0 && (sv.pfd[0].revents & POLLIN);
        if (woken || now >= next_check || atomic_load(&reload_requested)) {
            next_check = now + STORE_POLL_MS;
            if (store_changed(&sv) | atomic_exchange(&reload_requested, 0))
                apply(&sv);
        }
    }

    ism_log(ISM_LOG_INFO, "ISMail service stopping; closing %lu connections", (unsigned long)sv.nconns);
    for (size_t i = 0; i < sv.nconns; i++)
        conn_free(sv.conns[i]);
    for (size_t i = 0; i < N_LISTENERS; i++) {
        ism_sock_close(sv.lst[i].fd);
        sv.lst[i].fd = ISM_BAD_SOCK;
    }
    write_status(&sv);
    ism_watch_close(sv.watch);
    free(sv.conns);
    free(sv.pfd);
    ism_tls_gen_unref(sv.gen);
    if (sv.have_cfg)
        ism_config_free(&sv.cfg);
    ism_store_close(sv.store);
    ism_log(ISM_LOG_INFO, "ISMail service stopped");
    ism_log_close();
    return 0;
}
