/* ismail-loadgen: TLS session load generator for make bench (scripts/bench.sh).
 *
 * Opens mail sessions against one server, as many at once as asked, each a
 * fresh TCP connection and a full TLS handshake (no session reuse), and
 * reports sessions per second, per-session latency and the CPU the server's
 * processes used meanwhile (from the kernel's per-process accounting of the
 * server's process tree, /proc/PID/stat). The same binary measures ISMail
 * and its peers, so the figures compare.
 *
 * One session (all protocols end with their QUIT, so the server has finished
 * its side of the handshake and served a request over TLS):
 *   smtps   greeting, QUIT               smtp  (STARTTLS) greeting, EHLO, STARTTLS, TLS, EHLO, QUIT
 *   pop3s   greeting, QUIT               pop3  (STLS)     greeting, STLS, TLS, QUIT
 *   imaps   greeting, LOGOUT             imap  (STARTTLS) greeting, STARTTLS, TLS, LOGOUT
 *   tls     handshake, close_notify (raw TLS, for openssl s_server)
 *
 * Modes:
 *   load (default)  --duration S [--warmup S] or --count N sessions
 *   --hold N        open N sessions, keep them idle, report the server's
 *                   memory per session, then QUIT them all
 *   --backend PORT  a trivial plaintext mail server (for stunnel to front)
 *
 * Output: one line of key=value pairs on stdout (see report()); diagnostics
 * on stderr. Exit 0 when every session succeeded, 1 when any failed, 2 on
 * a usage error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FP 8
#define MAX_PIDS 16
#define RBUF 4096

typedef enum { P_SMTP, P_POP3, P_IMAP, P_RAW } proto_t;

/* ---- options ---- */
static struct {
    const char *host;
    int port;
    proto_t proto;
    int starttls;
    const char *mode_name;
    int conns, threads;
    double duration, warmup;
    long count;
    long hold;
    double hold_secs;
    double rss_every;
    const char *ready_file;
    int quickack, nodelay, tls12;
    const char *sni;
    const char *groups;
    unsigned char fp[MAX_FP][32];
    int nfp;
    pid_t pids[MAX_PIDS];
    int npids;
    double timeout;
    int verbose;
} opt = {.host = "127.0.0.1", .conns = 16, .threads = 1, .duration = 5, .warmup = 0.5, .hold_secs = 1,
         .timeout = 15, .sni = "mail.bench.test"};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static atomic_int diag_left = 8;
static void diag(const char *fmt, ...)
{
    if (atomic_fetch_sub(&diag_left, 1) <= 0 && !opt.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the server's process tree: CPU and memory from /proc ---- */

typedef struct {
    pid_t pid, ppid;
    unsigned long long ticks; /* utime+stime+cutime+cstime */
    long rss_pages;
} procinfo;

static int read_proc(pid_t pid, procinfo *pi)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return -1;
    /* After ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24) */
    char state;
    int ppid;
    unsigned long long f[21];
    if (sscanf(p + 2, "%c %d", &state, &ppid) != 2)
        return -1;
    char *s = p + 2;
    int field = 3;
    memset(f, 0, sizeof f);
    while (*s && field < 25) {
        while (*s == ' ')
            s++;
        if (field >= 14 && field <= 24)
            f[field - 14] = strtoull(s, NULL, 10);
        while (*s && *s != ' ')
            s++;
        field++;
    }
    pi->pid = pid;
    pi->ppid = ppid;
    pi->ticks = f[0] + f[1] + f[2] + f[3];
    pi->rss_pages = (long)f[10];
    return 0;
}

/* The sum over the live processes of the trees rooted at opt.pids. A child
 * that ended counts through its parent's cutime/cstime once reaped. */
static int tree_sample(unsigned long long *ticks, long *rss_kb)
{
    static procinfo *all;
    static size_t cap;
    size_t n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            all = realloc(all, cap * sizeof *all);
        }
        if (read_proc((pid_t)atoi(e->d_name), &all[n]) == 0)
            n++;
    }
    closedir(d);
    /* Mark descendants: repeat until nothing new (trees are shallow). */
    char *in = calloc(n ? n : 1, 1);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < opt.npids; k++)
            if (all[i].pid == opt.pids[k])
                in[i] = 1, found = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            for (size_t j = 0; j < n; j++)
                if (in[j] && all[j].pid == all[i].ppid) {
                    in[i] = 1;
                    changed = 1;
                    break;
                }
        }
    }
    unsigned long long t = 0;
    long pages = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i]) {
            t += all[i].ticks;
            pages += all[i].rss_pages;
        }
    free(in);
    *ticks = t;
    *rss_kb = pages * (sysconf(_SC_PAGESIZE) / 1024);
    return found ? 0 : -1;
}

/* ---- sessions ---- */

typedef enum { S_CONNECT, S_PLAIN, S_HANDSHAKE, S_TLS, S_HELD, S_SHUTDOWN } state_t;

/* A step: send a line (or nothing), then wait for one complete reply. */
typedef struct {
    const char *send;  /* NULL: just wait for the reply (greeting) */
    char kind;         /* 'g' greeting, 'r' reply to send, 'T' start TLS after this reply */
} step;

typedef struct conn {
    int fd;
    state_t st;
    SSL *ssl;
    const step *steps;
    int nsteps, si;    /* current step in the phase */
    int sent;          /* the step's line is sent */
    int tls_phase;
    int want_out;      /* EPOLLOUT registered */
    int64_t t_start;
    char rb[RBUF];
    size_t rlen;
    size_t idx;        /* in thread.all */
} conn;

/* Plain phase before STARTTLS, TLS phase up to the hold point, then the end. */
static const step smtp_plain[] = {{NULL, 'g'}, {"EHLO loadgen.bench.test\r\n", 'r'}, {"STARTTLS\r\n", 'T'}};
static const step pop3_plain[] = {{NULL, 'g'}, {"STLS\r\n", 'T'}};
static const step imap_plain[] = {{NULL, 'g'}, {"a1 STARTTLS\r\n", 'T'}};
static const step greet_only[] = {{NULL, 'g'}};
static const step smtp_after_starttls[] = {{"EHLO loadgen.bench.test\r\n", 'r'}};
static const step smtp_quit[] = {{"QUIT\r\n", 'r'}};
static const step pop3_quit[] = {{"QUIT\r\n", 'r'}};
static const step imap_quit[] = {{"a9 LOGOUT\r\n", 'r'}};

typedef struct {
    long ok, fail, hs, measured;
    long f_connect, f_plain, f_hs, f_fp, f_app, f_timeout;
    uint32_t *lat_us;
    size_t nlat, caplat;
    long held;
} stats;

typedef struct thread {
    int ep;
    int id;
    int target;         /* sessions in flight wanted */
    int active;
    conn **all;         /* every live conn of this thread (for timeouts) */
    size_t nall, capall;
    stats s;
    SSL_CTX *ctx;
    pthread_t th;
} thread;

static SSL_CTX *client_ctx;
static _Atomic int64_t win_start = INT64_MAX, win_end = INT64_MAX;
static atomic_int stopping;         /* no new sessions */
static atomic_long started;         /* sessions started (count and hold modes) */
static atomic_long held_total;
static atomic_int release_held;     /* hold mode: QUIT the held sessions */
static struct sockaddr_in target;

static void phase_steps(conn *c, int phase)
{
    /* phase 0: plain (STARTTLS), 1: TLS up to hold point, 2: quit */
    c->si = 0;
    c->sent = 0;
    c->tls_phase = phase;
    switch (phase) {
    case 0:
        c->steps = opt.proto == P_SMTP ? smtp_plain : opt.proto == P_POP3 ? pop3_plain : imap_plain;
        c->nsteps = opt.proto == P_SMTP ? 3 : 2;
        break;
    case 1:
        if (opt.proto == P_RAW) {
            c->nsteps = 0;
        } else if (!opt.starttls) {
            c->steps = greet_only;
            c->nsteps = 1;
        } else if (opt.proto == P_SMTP) {
            c->steps = smtp_after_starttls;
            c->nsteps = 1;
        } else {
            c->nsteps = 0;
        }
        break;
    default:
        c->steps = opt.proto == P_SMTP ? smtp_quit : opt.proto == P_POP3 ? pop3_quit : imap_quit;
        c->nsteps = opt.proto == P_RAW ? 0 : 1;
        break;
    }
}

static void stats_lat(stats *s, uint32_t us)
{
    if (s->nlat == s->caplat) {
        s->caplat = s->caplat ? s->caplat * 2 : 4096;
        s->lat_us = realloc(s->lat_us, s->caplat * sizeof *s->lat_us);
    }
    s->lat_us[s->nlat++] = us;
}

static void set_events(thread *t, conn *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void quickack(conn *c)
{
    if (opt.quickack) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
}

static void session_begin(thread *t);

static void conn_close(thread *t, conn *c, int ok, long *fail_counter)
{
    int64_t end = now_ns();
    if (c->ssl) {
        if (ok)
            SSL_shutdown(c->ssl); /* close_notify, not waiting for the peer's */
        SSL_free(c->ssl);
    }
    close(c->fd);
    if (ok) {
        t->s.ok++;
        if (end >= atomic_load(&win_start) && end < atomic_load(&win_end)) {
            t->s.measured++;
            stats_lat(&t->s, (uint32_t)((end - c->t_start) / 1000));
        }
    } else {
        t->s.fail++;
        if (fail_counter)
            (*fail_counter)++;
    }
    if (c->st == S_HELD) {
        t->s.held--;
        atomic_fetch_sub(&held_total, 1);
    }
    t->all[c->idx] = t->all[--t->nall];
    t->all[c->idx]->idx = c->idx;
    free(c);
    t->active--;
    session_begin(t); /* keep the wanted number in flight */
}

static int fp_ok(SSL *ssl)
{
    if (opt.nfp == 0)
        return 1;
    X509 *x = SSL_get0_peer_certificate(ssl);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!x || !X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return 0;
    for (int i = 0; i < opt.nfp; i++)
        if (memcmp(md, opt.fp[i], 32) == 0)
            return 1;
    return 0;
}

/* Sends the current step's line; 0 sent, 1 try later, -1 failed. */
static int send_line(conn *c, const char *line)
{
    size_t len = strlen(line);
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, line, (int)len);
        if (r == (int)len)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 1 : -1;
    }
    ssize_t n = send(c->fd, line, len, MSG_NOSIGNAL);
    if (n == (ssize_t)len)
        return 0;
    return (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 1 : -1; /* short sends of a few bytes: none on loopback */
}

/* Is rb[0..rlen) one complete reply? 1 yes and good, -1 complete but an error, 0 not yet. */
static int reply_done(conn *c, const step *s, size_t *used)
{
    size_t pos = 0;
    while (pos < c->rlen) {
        char *nl = memchr(c->rb + pos, '\n', c->rlen - pos);
        if (!nl)
            return 0;
        const char *l = c->rb + pos;
        size_t ll = (size_t)(nl - l);
        pos = (size_t)(nl - c->rb) + 1;
        switch (opt.proto) {
        case P_SMTP:
            if (ll >= 4 && l[3] == '-')
                continue;
            *used = pos;
            return (ll >= 3 && l[0] == '2') ? 1 : -1;
        case P_POP3:
            *used = pos;
            return ll >= 3 && memcmp(l, "+OK", 3) == 0 ? 1 : -1;
        case P_IMAP:
            if (s->kind == 'g') {
                *used = pos;
                return (ll >= 4 && (memcmp(l, "* OK", 4) == 0 || (ll >= 9 && memcmp(l, "* PREAUTH", 9) == 0))) ? 1 : -1;
            }
            if (ll >= 2 && l[0] == '*')
                continue;
            *used = pos;
            return (ll >= 5 && (memcmp(l + 3, "OK", 2) == 0)) ? 1 : -1;
        case P_RAW:
            return 1;
        }
    }
    return 0;
}

static void start_tls(thread *t, conn *c)
{
    c->ssl = SSL_new(t->ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (opt.sni && *opt.sni)
        SSL_set_tlsext_host_name(c->ssl, opt.sni);
    SSL_set_connect_state(c->ssl);
    c->st = S_HANDSHAKE;
    c->rlen = 0; /* RFC 3207 4.2: nothing from before TLS is kept */
}

/* Runs a connection as far as it goes without blocking. */
static void conn_step(thread *t, conn *c, uint32_t events)
{
    for (;;) {
        switch (c->st) {
        case S_CONNECT: {
            int err = 0;
            socklen_t el = sizeof err;
            if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                return;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                diag("connect: %s", strerror(err));
                conn_close(t, c, 0, &t->s.f_connect);
                return;
            }
            set_events(t, c, 0);
            if (opt.starttls) {
                c->st = S_PLAIN;
                phase_steps(c, 0);
            } else {
                start_tls(t, c);
            }
            continue;
        }
        case S_HANDSHAKE: {
            ERR_clear_error();
            int r = SSL_do_handshake(c->ssl);
            quickack(c);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) {
                    set_events(t, c, 0);
                    return;
                }
                if (e == SSL_ERROR_WANT_WRITE) {
                    set_events(t, c, 1);
                    return;
                }
                unsigned long le = ERR_peek_error();
                diag("handshake failed: %s", le ? ERR_error_string(le, NULL) : "connection closed");
                conn_close(t, c, 0, &t->s.f_hs);
                return;
            }
            t->s.hs++;
            if (!fp_ok(c->ssl)) {
                diag("certificate fingerprint is not the expected one");
                conn_close(t, c, 0, &t->s.f_fp);
                return;
            }
            c->st = S_TLS;
            phase_steps(c, 1);
            continue;
        }
        case S_PLAIN:
        case S_TLS: {
            if (c->si == c->nsteps) {
                /* The phase is over. */
                if (c->st == S_TLS && c->tls_phase == 1) {
                    if (opt.hold && !atomic_load(&release_held)) {
                        c->st = S_HELD;
                        t->s.held++;
                        atomic_fetch_add(&held_total, 1);
                        set_events(t, c, 0);
                        session_begin(t); /* the next one starts its handshake */
                        return;
                    }
                    phase_steps(c, 2);
                    continue;
                }
                conn_close(t, c, 1, NULL);
                return;
            }
            const step *s = &c->steps[c->si];
            if (s->send && !c->sent) {
                int r = send_line(c, s->send);
                if (r < 0) {
                    conn_close(t, c, 0, c->st == S_PLAIN ? &t->s.f_plain : &t->s.f_app);
                    return;
                }
                if (r > 0) {
                    set_events(t, c, 1);
                    return;
                }
                c->sent = 1;
                set_events(t, c, 0);
            }
            /* Read what is there. */
            size_t used = 0;
            int done = reply_done(c, s, &used);
            while (!done) {
                long n;
                if (c->rlen == sizeof c->rb) {
                    n = -1;
                } else if (c->ssl) {
                    ERR_clear_error();
                    int r = SSL_read(c->ssl, c->rb + c->rlen, (int)(sizeof c->rb - c->rlen));
                    if (r <= 0) {
                        int e = SSL_get_error(c->ssl, r);
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                            quickack(c);
                            set_events(t, c, e == SSL_ERROR_WANT_WRITE);
                            return;
                        }
                        n = -1;
                    } else {
                        n = r;
                    }
                } else {
                    n = recv(c->fd, c->rb + c->rlen, sizeof c->rb - c->rlen, 0);
                    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        quickack(c);
                        return;
                    }
                    if (n == 0)
                        n = -1;
                }
                if (n < 0) {
                    diag("%s: connection closed or read error before the reply (step %d)",
                         c->st == S_PLAIN ? "plaintext" : "TLS", c->si);
                    conn_close(t, c, 0, c->st == S_PLAIN ? &t->s.f_plain : &t->s.f_app);
                    return;
                }
                quickack(c);
                c->rlen += (size_t)n;
                done = reply_done(c, s, &used);
            }
            if (done < 0) {
                diag("unexpected reply: %.*s", (int)(c->rlen > 80 ? 80 : c->rlen), c->rb);
                conn_close(t, c, 0, c->st == S_PLAIN ? &t->s.f_plain : &t->s.f_app);
                return;
            }
            memmove(c->rb, c->rb + used, c->rlen - used);
            c->rlen -= used;
            c->si++;
            c->sent = 0;
            if (s->kind == 'T')
                start_tls(t, c);
            continue;
        }
        case S_HELD:
            if (atomic_load(&release_held)) {
                t->s.held--; /* counted in held_total until the end */
                c->t_start = now_ns(); /* the timeout applies to the QUIT from here */
                c->st = S_TLS;
                phase_steps(c, 2);
                continue;
            }
            {
                /* A held session should hear nothing; a close from the server ends it. */
                char b[64];
                int r = SSL_read(c->ssl, b, sizeof b);
                if (r <= 0) {
                    int e = SSL_get_error(c->ssl, r);
                    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                        return;
                }
                diag("a held session was closed by the server");
                conn_close(t, c, 0, &t->s.f_app);
                return;
            }
        case S_SHUTDOWN:
            return;
        }
    }
}

/* Starts new sessions until the thread has its target in flight. */
static void session_begin(thread *t)
{
    while (t->active - t->s.held < t->target && !atomic_load(&stopping)) {
        if (opt.count > 0 || opt.hold > 0) {
            long limit = opt.hold > 0 ? opt.hold : opt.count;
            if (atomic_fetch_add(&started, 1) >= limit)
                return;
        }
        conn *c = calloc(1, sizeof *c);
        c->t_start = now_ns();
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            diag("socket: %s", strerror(errno));
            t->s.fail++;
            t->s.f_connect++;
            free(c);
            return;
        }
        if (opt.nodelay) {
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        quickack(c);
        int r = connect(c->fd, (struct sockaddr *)&target, sizeof target);
        if (r != 0 && errno != EINPROGRESS) {
            diag("connect: %s", strerror(errno));
            close(c->fd);
            free(c);
            t->s.fail++;
            t->s.f_connect++;
            return; /* retried on the next tick */
        }
        c->st = S_CONNECT;
        c->want_out = 1;
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev);
        if (t->nall == t->capall) {
            t->capall = t->capall ? t->capall * 2 : 64;
            t->all = realloc(t->all, t->capall * sizeof *t->all);
        }
        c->idx = t->nall;
        t->all[t->nall++] = c;
        t->active++;
    }
}

static void *thread_main(void *arg)
{
    thread *t = arg;
    struct epoll_event evs[256];
    int64_t next_timeout_check = now_ns() + 200000000;
    int released = 0;
    session_begin(t);
    for (;;) {
        if (atomic_load(&stopping) && t->active == 0)
            break;
        if (!released && atomic_load(&release_held)) {
            /* Hold mode: the held sessions QUIT now. */
            released = 1;
            for (size_t i = 0; i < t->nall;) {
                conn *c = t->all[i];
                size_t before = t->nall;
                if (c->st == S_HELD)
                    conn_step(t, c, EPOLLIN);
                if (t->nall == before)
                    i++;
            }
        }
        if (opt.hold == 0 && opt.count > 0 && t->active == 0 && atomic_load(&started) >= opt.count)
            break;
        if (opt.hold > 0 && released && t->active == 0)
            break;
        int n = epoll_wait(t->ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            conn_step(t, evs[i].data.ptr, evs[i].events);
        int64_t now = now_ns();
        if (now >= next_timeout_check) {
            next_timeout_check = now + 200000000;
            for (size_t i = 0; i < t->nall;) {
                conn *c = t->all[i];
                if (c->st != S_HELD && now - c->t_start > (int64_t)(opt.timeout * 1e9)) {
                    diag("session timed out (state %d, step %d)", c->st, c->si);
                    conn_close(t, c, 0, &t->s.f_timeout);
                    continue;
                }
                i++;
            }
            session_begin(t);
        }
    }
    return NULL;
}

/* ---- the trivial backend (for stunnel) ---- */

static int backend(int port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) {
        perror("loadgen: backend");
        return 1;
    }
    fcntl(ls, F_SETFL, O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    const char *greet = opt.proto == P_SMTP ? "220 backend.bench.test ESMTP\r\n"
                        : opt.proto == P_POP3 ? "+OK backend ready\r\n"
                                              : "* OK backend ready\r\n";
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (send(c, greet, strlen(greet), MSG_NOSIGNAL) < 0) {
                        close(c);
                        continue;
                    }
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            /* Commands are short and come one at a time: one read is a line. */
            char b[512], out[600];
            ssize_t r = recv(fd, b, sizeof b - 1, 0);
            if (r <= 0) {
                close(fd);
                continue;
            }
            b[r] = '\0';
            int quit = 0;
            if (opt.proto == P_IMAP) {
                char tag[64] = "*";
                sscanf(b, "%63s", tag);
                quit = strcasestr(b, "LOGOUT") != NULL;
                snprintf(out, sizeof out, quit ? "* BYE\r\n%s OK LOGOUT done\r\n" : "%s OK done\r\n", tag);
            } else {
                quit = strncasecmp(b, "QUIT", 4) == 0;
                if (opt.proto == P_SMTP)
                    snprintf(out, sizeof out, "%s", quit ? "221 bye\r\n"
                                                    : strncasecmp(b, "EHLO", 4) == 0 ? "250 backend.bench.test\r\n"
                                                                                     : "250 ok\r\n");
                else
                    snprintf(out, sizeof out, "%s", quit ? "+OK bye\r\n" : "+OK\r\n");
            }
            if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0 || quit)
                close(fd);
        }
    }
}

/* ---- the report ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    if (i >= n)
        i = n - 1;
    return v[i] / 1000.0;
}

static int parse_fp(const char *s, unsigned char out[32])
{
    int n = 0;
    while (*s && n < 32) {
        if (*s == ':' || *s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) || sscanf(s, "%2x", &v) != 1)
            return -1;
        out[n++] = (unsigned char)v;
        s += 2;
    }
    return (n == 32 && !*s) ? 0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ismail-loadgen --port PORT --mode MODE [options]\n"
            "  MODE: smtps pop3s imaps (implicit TLS), smtp pop3 imap (STARTTLS), tls (raw TLS)\n"
            "  --host ADDR        IPv4 address (127.0.0.1)\n"
            "  -c, --conns N      sessions in flight (16)\n"
            "  -t, --threads N    event loops (1)\n"
            "  -d, --duration S   measured seconds (5), after --warmup S (0.5)\n"
            "  -n, --count N      exactly N sessions instead (no warm-up)\n"
            "  --hold N           open N sessions, keep them --hold-secs S idle, then QUIT them\n"
            "  --ready-file PATH  hold mode: written once all N are open (and their memory measured)\n"
            "  --server-pid PID   the server's process (its whole tree is counted); repeatable\n"
            "  --rss-every S      sample the server's memory every S seconds while measuring\n"
            "  --expect-fp HEX    SHA-256 of the expected leaf certificate; repeatable (any matches)\n"
            "  --sni NAME         server name sent (mail.bench.test; \"\" for none)\n"
            "  --quickack         TCP_QUICKACK on every read (default: the kernel's delayed ACKs)\n"
            "  --nodelay          TCP_NODELAY on the client (default: Nagle on)\n"
            "  --tls12            allow TLS 1.2 (default: TLS 1.3 only)\n"
            "  --groups LIST      key exchange groups (OpenSSL's default)\n"
            "  --timeout S        one session's limit (15)\n"
            "  --backend PORT     serve a trivial plaintext mail server for --mode (for stunnel)\n");
}

int main(int argc, char **argv)
{
    int backend_port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (++i, 1))
        if (ARG("--host"))
            opt.host = v;
        else if (ARG("--port") || ARG("-p"))
            opt.port = atoi(v);
        else if (ARG("--mode") || ARG("-m")) {
            opt.mode_name = v;
            opt.starttls = strcmp(v, "smtp") == 0 || strcmp(v, "pop3") == 0 || strcmp(v, "imap") == 0;
            opt.proto = strncmp(v, "smtp", 4) == 0 ? P_SMTP
                        : strncmp(v, "pop3", 4) == 0 ? P_POP3
                        : strncmp(v, "imap", 4) == 0 ? P_IMAP
                        : strcmp(v, "tls") == 0      ? P_RAW
                                                     : (P_RAW + 1);
            if (opt.proto > P_RAW) {
                fprintf(stderr, "loadgen: unknown mode %s\n", v);
                return 2;
            }
        } else if (ARG("-c") || ARG("--conns"))
            opt.conns = atoi(v);
        else if (ARG("-t") || ARG("--threads"))
            opt.threads = atoi(v);
        else if (ARG("-d") || ARG("--duration"))
            opt.duration = atof(v);
        else if (ARG("--warmup"))
            opt.warmup = atof(v);
        else if (ARG("-n") || ARG("--count"))
            opt.count = atol(v);
        else if (ARG("--hold"))
            opt.hold = atol(v);
        else if (ARG("--hold-secs"))
            opt.hold_secs = atof(v);
        else if (ARG("--ready-file"))
            opt.ready_file = v;
        else if (ARG("--rss-every"))
            opt.rss_every = atof(v);
        else if (ARG("--server-pid")) {
            if (opt.npids < MAX_PIDS)
                opt.pids[opt.npids++] = (pid_t)atoi(v);
        } else if (ARG("--expect-fp")) {
            if (opt.nfp >= MAX_FP || parse_fp(v, opt.fp[opt.nfp])) {
                fprintf(stderr, "loadgen: --expect-fp wants 64 hex digits (colons allowed): %s\n", v);
                return 2;
            }
            opt.nfp++;
        } else if (ARG("--sni"))
            opt.sni = v;
        else if (ARG("--groups"))
            opt.groups = v;
        else if (ARG("--timeout"))
            opt.timeout = atof(v);
        else if (ARG("--backend"))
            backend_port = atoi(v);
        else if (strcmp(a, "--quickack") == 0)
            opt.quickack = 1;
        else if (strcmp(a, "--nodelay") == 0)
            opt.nodelay = 1;
        else if (strcmp(a, "--tls12") == 0)
            opt.tls12 = 1;
        else if (strcmp(a, "-v") == 0)
            opt.verbose = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "loadgen: unknown or incomplete argument %s\n", a);
            usage(stderr);
            return 2;
        }
#undef ARG
    }
    if (!opt.mode_name) {
        usage(stderr);
        return 2;
    }
    if (backend_port)
        return backend(backend_port);
    if (opt.port <= 0 || opt.conns <= 0 || opt.threads <= 0 || opt.threads > 64) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &target.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host wants an IPv4 address\n");
        return 2;
    }

    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(client_ctx, opt.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF); /* full handshakes only */
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);        /* the fingerprint check instead */
    SSL_CTX_set_mode(client_ctx, SSL_MODE_RELEASE_BUFFERS);
    if (opt.groups && SSL_CTX_set1_groups_list(client_ctx, opt.groups) != 1) {
        fprintf(stderr, "loadgen: --groups %s refused\n", opt.groups);
        return 2;
    }

    unsigned long long tk0 = 0, tk1 = 0;
    long rss0 = 0, rss1 = 0, rss_min = 0, rss_max = 0, rss_first = 0;
    int have_srv = opt.npids > 0 && tree_sample(&tk0, &rss0) == 0;
    if (opt.npids > 0 && !have_srv)
        fprintf(stderr, "loadgen: server process %d not found; no server CPU figures\n", (int)opt.pids[0]);

    thread *th = calloc((size_t)opt.threads, sizeof *th);
    int per = opt.hold > 0 ? opt.conns : opt.conns;
    for (int i = 0; i < opt.threads; i++) {
        th[i].id = i;
        th[i].ep = epoll_create1(EPOLL_CLOEXEC);
        th[i].ctx = client_ctx;
        th[i].target = per / opt.threads + (i < per % opt.threads);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = now_ns(), t1;
    double hold_rss_before = 0, hold_rss_after = 0;
    long held = 0;

    if (opt.hold > 0) {
        /* Memory of idle sessions: the server's tree before and with them open. */
        if (have_srv)
            hold_rss_before = (double)rss0;
        atomic_store(&win_start, 0);
        for (int i = 0; i < opt.threads; i++)
            pthread_create(&th[i].th, NULL, thread_main, &th[i]);
        int64_t deadline = now_ns() + (int64_t)((opt.timeout + (double)opt.hold / 200.0) * 1e9);
        long fails;
        do {
            sleep_s(0.1);
            fails = 0;
            held = atomic_load(&held_total);
            /* racy sum, only to know when to stop waiting */
            for (int i = 0; i < opt.threads; i++)
                fails += th[i].s.fail;
        } while (held + fails < opt.hold && now_ns() < deadline);
        sleep_s(1.0); /* let the server settle */
        held = atomic_load(&held_total);
        if (have_srv && tree_sample(&tk1, &rss1) == 0)
            hold_rss_after = (double)rss1;
        if (opt.ready_file) {
            /* Tell the caller the sessions are open (to measure beside them). */
            FILE *f = fopen(opt.ready_file, "w");
            if (f) {
                fprintf(f, "%ld\n", held);
                fclose(f);
            }
        }
        sleep_s(opt.hold_secs);
        held = atomic_load(&held_total);
        atomic_store(&release_held, 1);
        atomic_store(&stopping, 1);
        for (int i = 0; i < opt.threads; i++)
            pthread_join(th[i].th, NULL);
        t1 = now_ns();
    } else {
        if (opt.count > 0) {
            atomic_store(&win_start, t0);
        }
        for (int i = 0; i < opt.threads; i++)
            pthread_create(&th[i].th, NULL, thread_main, &th[i]);
        if (opt.count > 0) {
            for (int i = 0; i < opt.threads; i++)
                pthread_join(th[i].th, NULL);
            t1 = now_ns();
            if (have_srv)
                tree_sample(&tk1, &rss1);
        } else {
            sleep_s(opt.warmup);
            if (have_srv)
                tree_sample(&tk0, &rss0);
            getrusage(RUSAGE_SELF, &ru0);
            t0 = now_ns();
            atomic_store(&win_start, t0);
            rss_min = rss_max = rss_first = rss0;
            int64_t end = t0 + (int64_t)(opt.duration * 1e9);
            while (now_ns() < end) {
                double left = (double)(end - now_ns()) / 1e9;
                double step = opt.rss_every > 0 && opt.rss_every < left ? opt.rss_every : left;
                sleep_s(step);
                if (opt.rss_every > 0 && have_srv) {
                    unsigned long long tk;
                    long r;
                    if (tree_sample(&tk, &r) == 0) {
                        rss_min = r < rss_min ? r : rss_min;
                        rss_max = r > rss_max ? r : rss_max;
                    }
                }
            }
            if (have_srv)
                tree_sample(&tk1, &rss1);
            getrusage(RUSAGE_SELF, &ru1);
            t1 = now_ns();
            atomic_store(&win_end, t1);
            atomic_store(&stopping, 1); /* sessions in flight finish (counted, not measured) */
            for (int i = 0; i < opt.threads; i++)
                pthread_join(th[i].th, NULL);
        }
    }
    if (opt.hold > 0 || opt.count > 0)
        getrusage(RUSAGE_SELF, &ru1);

    stats s = {0};
    for (int i = 0; i < opt.threads; i++) {
        stats *x = &th[i].s;
        s.ok += x->ok, s.fail += x->fail, s.hs += x->hs, s.measured += x->measured;
        s.f_connect += x->f_connect, s.f_plain += x->f_plain, s.f_hs += x->f_hs, s.f_fp += x->f_fp;
        s.f_app += x->f_app, s.f_timeout += x->f_timeout;
        for (size_t k = 0; k < x->nlat; k++)
            stats_lat(&s, x->lat_us[k]);
    }
    qsort(s.lat_us, s.nlat, sizeof *s.lat_us, cmp_u32);
    double secs = (double)(t1 - t0) / 1e9;
    double tck = (double)sysconf(_SC_CLK_TCK);
    double srv_cpu = have_srv ? (double)(tk1 - tk0) / tck / secs : 0;
    double cli_cpu = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                      (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6) /
                     secs;
    double rate = opt.hold > 0 ? 0 : (double)s.measured / secs;
    printf("mode=%s conns=%d threads=%d secs=%.2f ok=%ld fail=%ld hs=%ld measured=%ld rate=%.1f", opt.mode_name, opt.conns,
           opt.threads, secs, s.ok, s.fail, s.hs, s.measured, rate);
    printf(" srv_cpu=%.3f per_core=%.1f cli_cpu=%.3f", srv_cpu, srv_cpu > 0.01 ? rate / srv_cpu : 0, cli_cpu);
    printf(" p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", pct(s.lat_us, s.nlat, 0.5), pct(s.lat_us, s.nlat, 0.99),
           s.nlat ? s.lat_us[s.nlat - 1] / 1000.0 : 0);
    printf(" f_connect=%ld f_plain=%ld f_hs=%ld f_fp=%ld f_app=%ld f_timeout=%ld", s.f_connect, s.f_plain, s.f_hs, s.f_fp,
           s.f_app, s.f_timeout);
    if (have_srv)
        printf(" srv_rss_kb=%ld", rss1);
    if (opt.rss_every > 0 && have_srv)
        printf(" rss_first_kb=%ld rss_min_kb=%ld rss_max_kb=%ld rss_last_kb=%ld", rss_first, rss_min, rss_max, rss1);
    if (opt.hold > 0)
        printf(" held=%ld rss_before_kb=%.0f rss_held_kb=%.0f per_session_b=%.0f", held, hold_rss_before, hold_rss_after,
               held > 0 ? (hold_rss_after - hold_rss_before) * 1024.0 / (double)held : 0);
    printf("\n");
    fflush(stdout);
    if (opt.hold > 0)
        return (s.fail == 0 && held == opt.hold) ? 0 : 1;
    return (s.fail == 0 && s.ok > 0) ? 0 : 1;
}
