/* platform/posix.c: the POSIX back end of ism_platform.h (Linux). */
#define _GNU_SOURCE
#include "../ism_platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    int s = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return s < 0 ? ISM_BAD_SOCK : s;
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

int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_file ? 0600 : 0644);
    if (fd < 0)
        return ism_err_set(err, ISM_E_IO, "cannot create %s: %s", tmp, strerror(errno));
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
