/* platform/posix.c: the POSIX back end of ism_platform.h (Linux). */
#define _GNU_SOURCE
#include "../ism_platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/rand.h>

int ism_net_init(ism_err *err)
{
    (void)err;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int ism_sock_listen(const char *addr, int port, ism_sock *out, ism_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sl = sizeof *v6;
    } else {
        return ism_err_set(err, ISM_E_INVALID, "listen.address: '%s' is not an IP address", addr);
    }
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return ism_err_set(err, ISM_E_NET, "cannot create a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, sl) != 0 || listen(s, 511) != 0) {
        int e = errno;
        close(s);
        return ism_err_set(err, ISM_E_NET, "cannot listen on %s port %d: %s%s", addr, port, strerror(e),
                           e == EADDRINUSE ? "; another program uses this port: stop it or choose another port" : "");
    }
    *out = s;
    return 0;
}

ism_sock ism_sock_accept(ism_sock listener)
{
    char peer[64];
    return ism_sock_accept_peer(listener, peer, sizeof peer);
}

ism_sock ism_sock_accept_peer(ism_sock listener, char *peer, size_t peersz)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int s = accept4(listener, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    snprintf(peer, peersz, "unknown");
    if (s >= 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, (socklen_t)peersz);
    else if (s >= 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, (socklen_t)peersz);
    if (s >= 0) {
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return s < 0 ? ISM_BAD_SOCK : s;
}

int ism_sock_accept_exhausted(void)
{
    return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
}

void ism_sock_close(ism_sock s)
{
    if (s != ISM_BAD_SOCK)
        close(s);
}

long ism_sock_recv(ism_sock s, void *buf, size_t len)
{
    ssize_t n = recv(s, buf, len, 0);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? ISM_IO_AGAIN : -1;
    return (long)n;
}

long ism_sock_send(ism_sock s, const void *buf, size_t len)
{
    ssize_t n = send(s, buf, len, MSG_NOSIGNAL);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? ISM_IO_AGAIN : -1;
    return (long)n;
}

int ism_udp_loopback_bind(ism_sock *out, int *port, ism_err *err)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &al) != 0) {
        int e = errno;
        if (s >= 0)
            close(s);
        return ism_err_set(err, ISM_E_NET, "cannot open the change-signal socket on 127.0.0.1: %s", strerror(e));
    }
    *out = s;
    *port = ntohs(a.sin_port);
    return 0;
}

void ism_udp_loopback_send(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    (void)sendto(s, "!", 1, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof a);
    close(s);
}

int ism_udp_drain(ism_sock s)
{
    char buf[64];
    int n = 0;
    while (recv(s, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

int ism_poll(ism_pollfd *fds, size_t n, int timeout_ms)
{
    int r = poll(fds, n, timeout_ms);
    return (r < 0 && errno == EINTR) ? 0 : r;
}

int ism_fs_mkdirs(const char *dir, int private_dir, ism_err *err)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return ism_err_set(err, ISM_E_IO, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ism_err_set(err, ISM_E_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, private_dir ? 0700 : 0755) != 0 && errno != EEXIST)
        return ism_err_set(err, ISM_E_IO, "cannot create folder %s: %s", buf, strerror(errno));
    if (private_dir && chmod(buf, 0700) != 0)
        return ism_err_set(err, ISM_E_IO, "cannot restrict folder %s to its owner: %s", buf, strerror(errno));
    return 0;
}

int ism_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int ism_fs_read(const char *path, size_t max, char **data, size_t *len, ism_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ism_err_set(err, ISM_E_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return ism_err_set(err, ISM_E_IO, "cannot read %s", path);
    }
    if (n > max) {
        free(buf);
        return ism_err_set(err, ISM_E_IO, "%s is larger than %lu bytes; is it the right file?", path, (unsigned long)max);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* How many random temporary names ism_fs_write_atomic tries before giving up. */
#define TMP_TRIES 8

/* Creates PATH.tmp<16 random hex digits> for writing, exclusively and
 * without following a link, with mode; writes its name to tmp. */
static int open_temp(const char *path, char *tmp, size_t tmpsz, mode_t mode, ism_err *err)
{
    unsigned char r[8];
    if (strlen(path) + sizeof ".tmp" + 2 * sizeof r > tmpsz)
        return ism_err_set(err, ISM_E_IO, "%s: path too long", path);
    int e = EEXIST;
    for (int i = 0; i < TMP_TRIES && e == EEXIST; i++) {
        if (RAND_bytes(r, (int)sizeof r) != 1)
            return ism_err_set(err, ISM_E_IO, "cannot create a temporary file next to %s: no random numbers", path);
        int n = snprintf(tmp, tmpsz, "%s.tmp", path);
        for (size_t k = 0; k < sizeof r; k++)
            n += snprintf(tmp + n, tmpsz - (size_t)n, "%02x", r[k]);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        e = errno;
    }
    return ism_err_set(err, ISM_E_IO, "cannot create %s: %s", tmp, strerror(e));
}

int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err)
{
    char tmp[1100];
    int fd = open_temp(path, tmp, sizeof tmp, private_file ? 0600 : 0644, err);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return ism_err_set(err, ISM_E_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ism_err_set(err, ISM_E_IO, "cannot replace %s: %s", path, strerror(e));
    }
    return 0;
}

int ism_fs_make_private(const char *path, char *was, size_t wassz, ism_err *err)
{
    struct stat st;
    if (wassz)
        was[0] = '\0';
    /* O_NONBLOCK: a FIFO planted under a known name must not hang the start. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 && errno == ELOOP)
        return ism_err_set(err, ISM_E_IO,
                           "%s is a symbolic link, which is not followed to restrict its target: make the target "
                           "readable by its owner only (chmod go= TARGET)",
                           path);
    if (fd < 0)
        return ism_err_set(err, ISM_E_IO, "cannot open %s to restrict it to its owner: %s", path, strerror(errno));
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = ism_err_set(err, ISM_E_IO, "cannot read the permissions of %s: %s", path, strerror(errno));
    } else if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && (st.st_mode & 077)) {
        if (fchmod(fd, st.st_mode & 0700) != 0) {
            rc = ism_err_set(err, ISM_E_IO, "cannot restrict %s to its owner: %s; run: chmod go= %s", path,
                             strerror(errno), path);
        } else {
            snprintf(was, wassz, "mode %03o", (unsigned)(st.st_mode & 0777));
            rc = 1;
        }
    }
    close(fd);
    return rc;
}

void ism_plat_private_umask(void)
{
    umask(077);
}

void ism_plat_hostname(char *out, size_t outsz)
{
    char h[256] = "localhost";
    gethostname(h, sizeof h - 1);
    h[sizeof h - 1] = '\0';
    snprintf(out, outsz, "%s", h);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

void ism_plat_default_data_dir(char *out, size_t outsz)
{
    snprintf(out, outsz, "/var/lib/ismail");
}

void ism_plat_default_conf_dir(char *out, size_t outsz)
{
    ism_plat_default_data_dir(out, outsz);
}

int64_t ism_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ism_time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ism_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int ism_fs_list(const char *dir, const char *suffix, void (*fn)(const char *name, void *ctx), void *ctx,
                ism_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ism_err_set(err, ISM_E_IO, "cannot read folder %s: %s", dir, strerror(errno));
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.' || nl <= sl || strcasecmp(e->d_name + nl - sl, suffix) != 0)
            continue;
        char full[2048];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            fn(e->d_name, ctx);
    }
    closedir(d);
    return 0;
}

int ism_fs_stat(const char *path, int64_t *mtime_ms, int64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    *size = (int64_t)st.st_size;
    return 0;
}

int ism_fs_private_check(const char *path, ism_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ism_err_set(err, ISM_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (st.st_mode & 077)
        return ism_err_set(err, ISM_E_TLS,
                           "%s: the private key file can be read by other users (permissions %03o); it is not used "
                           "until only its owner can read it: chmod 600 %s",
                           path, (unsigned)(st.st_mode & 0777), path);
    return 0;
}

int ism_fs_others_access(const char *path, char *who, size_t whosz, ism_err *err)
{
    struct stat st;
    if (whosz)
        who[0] = '\0';
    if (stat(path, &st) != 0)
        return ism_err_set(err, ISM_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (!(st.st_mode & 077))
        return 0;
    snprintf(who, whosz, "other users (mode %03o)", (unsigned)(st.st_mode & 0777));
    return 1;
}

int ism_fs_remove(const char *path, ism_err *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return ism_err_set(err, ISM_E_IO, "cannot delete %s: %s", path, strerror(errno));
    return 0;
}

/* ---- threads ---- */
#include <pthread.h>

struct ism_thread {
    pthread_t t;
    void (*fn)(void *);
    void *arg;
};
struct ism_mutex {
    pthread_mutex_t m;
};
struct ism_cond {
    pthread_cond_t c;
};

static void *thread_main(void *p)
{
    ism_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

int ism_thread_start(ism_thread **out, void (*fn)(void *arg), void *arg, ism_err *err)
{
    ism_thread *t = calloc(1, sizeof *t);
    if (!t)
        return ism_err_set(err, ISM_E_IO, "out of memory starting a thread");
    t->fn = fn;
    t->arg = arg;
    /* Signals (SIGTERM, SIGHUP) stay with the main thread, which handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&t->t, NULL, thread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        free(t);
        return ism_err_set(err, ISM_E_IO, "cannot start a thread: %s", strerror(e));
    }
    *out = t;
    return 0;
}

void ism_thread_join(ism_thread *t)
{
    if (!t)
        return;
    pthread_join(t->t, NULL);
    free(t);
}

int ism_mutex_new(ism_mutex **out, ism_err *err)
{
    ism_mutex *m = calloc(1, sizeof *m);
    if (!m || pthread_mutex_init(&m->m, NULL) != 0) {
        free(m);
        return ism_err_set(err, ISM_E_IO, "cannot create a mutex");
    }
    *out = m;
    return 0;
}

void ism_mutex_free(ism_mutex *m)
{
    if (m) {
        pthread_mutex_destroy(&m->m);
        free(m);
    }
}

void ism_mutex_lock(ism_mutex *m) { pthread_mutex_lock(&m->m); }
void ism_mutex_unlock(ism_mutex *m) { pthread_mutex_unlock(&m->m); }

int ism_cond_new(ism_cond **out, ism_err *err)
{
    ism_cond *c = calloc(1, sizeof *c);
    pthread_condattr_t a;
    int ok = c && pthread_condattr_init(&a) == 0;
    if (ok) {
        /* Timeouts on the monotonic clock: a wall-clock change must not
         * make the delivery thread sleep for hours. */
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        ok = pthread_cond_init(&c->c, &a) == 0;
        pthread_condattr_destroy(&a);
    }
    if (!ok) {
        free(c);
        return ism_err_set(err, ISM_E_IO, "cannot create a condition variable");
    }
    *out = c;
    return 0;
}

void ism_cond_free(ism_cond *c)
{
    if (c) {
        pthread_cond_destroy(&c->c);
        free(c);
    }
}

void ism_cond_wait_ms(ism_cond *c, ism_mutex *m, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0)
        timeout_ms = 0;
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->c, &m->m, &ts);
}

void ism_cond_broadcast(ism_cond *c) { pthread_cond_broadcast(&c->c); }

/* ---- outgoing connections, DNS, trusted roots ---- */
#include <arpa/nameser.h>
#include <poll.h>
#include <resolv.h>
#include <openssl/err.h>
#include <openssl/x509.h>

int ism_net_resolve(const char *host, char addrs[][64], int max, ism_err *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        int permanent = rc == EAI_NONAME
#ifdef EAI_NODATA
                        || rc == EAI_NODATA
#endif
            ;
        ism_err_set(err, ISM_E_NET, "cannot find the address of %s: %s", host, gai_strerror(rc));
        return permanent ? ISM_NET_NXDOMAIN : -1;
    }
    int n = 0;
    for (struct addrinfo *a = res; a && n < max; a = a->ai_next) {
        const void *src = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                          : a->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                                     : NULL;
        if (!src || !inet_ntop(a->ai_family, src, addrs[n], 64))
            continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(addrs[i], addrs[n]) == 0;
        if (!dup)
            n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        ism_err_set(err, ISM_E_NET, "%s has no IPv4 or IPv6 address", host);
        return ISM_NET_NXDOMAIN;
    }
    return n;
}

int ism_sock_connect_start(const char *ip, int port, ism_sock *out, ism_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sl = sizeof *v6;
    } else {
        return ism_err_set(err, ISM_E_INVALID, "'%s' is not an IP address", ip);
    }
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return ism_err_set(err, ISM_E_NET, "cannot create a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(s);
        return ism_err_set(err, ISM_E_NET, "cannot connect to %s port %d: %s", ip, port, strerror(e));
    }
    *out = s;
    return 0;
}

int ism_sock_connect_wait(ism_sock s, int timeout_ms, ism_err *err)
{
    struct pollfd p = {s, POLLOUT, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0 || (r < 0 && errno == EINTR))
        return ISM_IO_AGAIN;
    int e = 0;
    socklen_t el = sizeof e;
    if (r < 0)
        e = errno;
    else if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
        e = errno;
    if (e != 0)
        return ism_err_set(err, ISM_E_NET, "connection failed: %s", strerror(e));
    return 0;
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

int ism_dns_mx(const char *domain, char hosts[][256], int prefs[], int max, ism_err *err)
{
    struct __res_state rs;
    unsigned char ans[8192];
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) != 0)
        return ism_err_set(err, ISM_E_NET, "cannot read the resolver configuration (/etc/resolv.conf) to look up %s",
                           domain);
    int len = res_nquery(&rs, domain, ns_c_in, ns_t_mx, ans, sizeof ans);
    int h = rs.res_h_errno;
    res_nclose(&rs);
    if (len < 0) {
        if (h == HOST_NOT_FOUND)
            return ISM_NET_NXDOMAIN;
        if (h == NO_DATA)
            return 0;
        return ism_err_set(err, ISM_E_NET, "DNS lookup of the MX records of %s failed: %s", domain, hstrerror(h));
    }
    if (len > (int)sizeof ans)
        len = (int)sizeof ans;
    const unsigned char *eom = ans + len, *p = ans + 12;
    if (len < 12)
        return ism_err_set(err, ISM_E_NET, "DNS answer for the MX records of %s is truncated", domain);
    unsigned qd = get16(ans + 4), an = get16(ans + 6);
    for (unsigned i = 0; i < qd; i++) {
        int n = dn_skipname(p, eom);
        if (n < 0 || p + n + 4 > eom)
            return ism_err_set(err, ISM_E_NET, "DNS answer for the MX records of %s is malformed", domain);
        p += n + 4;
    }
    int count = 0;
    for (unsigned i = 0; i < an && count < max; i++) {
        int n = dn_skipname(p, eom);
        if (n < 0 || p + n + 10 > eom)
            break;
        p += n;
        unsigned type = get16(p), rdlen = get16(p + 8);
        p += 10;
        if (p + rdlen > eom)
            break;
        if (type == ns_t_mx && rdlen >= 3) {
            char name[256];
            if (dn_expand(ans, eom, p + 2, name, sizeof name) >= 0) {
                /* insertion by preference, stable for equal ones */
                int pref = (int)get16(p), k = count;
                while (k > 0 && prefs[k - 1] > pref) {
                    memcpy(hosts[k], hosts[k - 1], 256);
                    prefs[k] = prefs[k - 1];
                    k--;
                }
                snprintf(hosts[k], 256, "%s", strcmp(name, ".") == 0 ? "" : name);
                prefs[k] = pref;
                count++;
            }
        }
        p += rdlen;
    }
    return count;
}

int ism_plat_system_roots(struct x509_store_st *store, ism_err *err)
{
    if (X509_STORE_set_default_paths(store) != 1) {
        ism_err_set(err, ISM_E_TLS, "cannot load the system's trusted root certificates");
        ism_err_add_openssl(err);
        return -1;
    }
    return 0;
}

void ism_plat_release_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int ism_plat_cpu_count(void)
{
    /* The processors this process may run on (taskset, a cgroup's cpuset),
     * not all the machine has: a worker per processor it cannot use would
     * only take turns with the others. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

long ism_plat_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
}
