/* ism_platform: the small layer between the portable core and the operating
 * system. Two back ends implement it: platform/posix.c and platform/win32.c.
 * Nothing above this header includes <windows.h> or <sys/socket.h>. */
#ifndef ISM_PLATFORM_H
#define ISM_PLATFORM_H

#include "ism_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
typedef WSAPOLLFD ism_pollfd;
typedef SOCKET ism_sock;
#define ISM_BAD_SOCK INVALID_SOCKET
#define ISM_PATH_SEP "\\"
#else
#include <poll.h>
typedef struct pollfd ism_pollfd;
typedef int ism_sock;
#define ISM_BAD_SOCK (-1)
#define ISM_PATH_SEP "/"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sockets (all non-blocking) ---- */
int ism_net_init(ism_err *err);
/* Binds and listens on addr:port. Fails, naming the address, when the port is taken. */
int ism_sock_listen(const char *addr, int port, ism_sock *out, ism_err *err);
/* Returns a new non-blocking socket or ISM_BAD_SOCK when none is pending. */
ism_sock ism_sock_accept(ism_sock listener);
void ism_sock_close(ism_sock s);
#define ISM_IO_AGAIN (-2)
/* Return >0 bytes, 0 on orderly close, ISM_IO_AGAIN when it would block, -1 on error. */
long ism_sock_recv(ism_sock s, void *buf, size_t len);
long ism_sock_send(ism_sock s, const void *buf, size_t len);
/* Wake-up datagrams on the loopback interface (the store's change signal).
 * ism_udp_loopback_bind: a non-blocking UDP socket on 127.0.0.1 with a port
 * chosen by the system, returned in *port. ism_udp_loopback_send: sends one
 * byte to 127.0.0.1:port, best effort. ism_udp_drain: reads every pending
 * datagram, returns how many. */
int ism_udp_loopback_bind(ism_sock *out, int *port, ism_err *err);
void ism_udp_loopback_send(int port);
int ism_udp_drain(ism_sock s);
/* poll(2) / WSAPoll; returns the number of ready entries, 0 on timeout, -1 on error. */
int ism_poll(ism_pollfd *fds, size_t n, int timeout_ms);

/* ---- files and folders (paths are UTF-8) ---- */
/* Creates dir and its missing parents. With private_dir the last component is
 * made readable by its owner (POSIX 0700) / administrators only (Windows). */
int ism_fs_mkdirs(const char *dir, int private_dir, ism_err *err);
int ism_fs_exists(const char *path);
/* Reads a whole file (at most max bytes) into a malloc'd, NUL-terminated buffer. */
int ism_fs_read(const char *path, size_t max, char **data, size_t *len, ism_err *err);
/* Writes data to path atomically: a temporary file in the same folder, flushed,
 * then renamed over path. private_file restricts it like a key file. */
int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err);

/* ---- machine ---- */
/* This computer's host name (fully qualified where the system knows it), lower case. */
void ism_plat_hostname(char *out, size_t outsz);
/* Where the store lives without --data: %ProgramData%\InstantServers\ISMail or /var/lib/ismail. */
void ism_plat_default_data_dir(char *out, size_t outsz);
/* Where the certificate folders live without --data: the install folder's
 * Apache\conf on Windows (the manual's folders), the data folder on Linux. */
void ism_plat_default_conf_dir(char *out, size_t outsz);
int64_t ism_time_mono_ms(void);
int64_t ism_time_wall_ms(void);
void ism_sleep_ms(int ms);

#ifdef __cplusplus
}
#endif
#endif
