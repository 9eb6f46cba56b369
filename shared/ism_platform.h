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
/* The same, writing the peer's address as text ("192.0.2.1", "::1") to peer. */
ism_sock ism_sock_accept_peer(ism_sock listener, char *peer, size_t peersz);
/* Right after an accept returned ISM_BAD_SOCK on this thread: 1 when it
 * failed because the process or system is out of descriptors (the pending
 * connection stays queued; retrying at once would spin), 0 otherwise. */
int ism_sock_accept_exhausted(void);
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
 * then renamed over path. private_file restricts it like a key file. The
 * temporary file has a random name and is created only if nothing has that
 * name yet (never through a link planted there), another name being tried
 * when one is taken. */
int ism_fs_write_atomic(const char *path, const void *data, size_t len, int private_file, ism_err *err);
/* Restricts an existing file or folder to its owner (POSIX: the group and
 * other bits cleared, so 0644 becomes 0600 and 0755 0700) or, on Windows,
 * to SYSTEM and Administrators (the key folder's protected DACL, see
 * ism_fs_mkdirs) when it grants access to anyone else. Returns 1 when it
 * changed something, with what others had in was ("mode 644", "readable by
 * BUILTIN\Users"), 0 when path is missing or already private, -1 on failure
 * (ISM_E_IO, naming path and the command that fixes it). A symbolic link
 * (reparse point) is not followed and fails. */
int ism_fs_make_private(const char *path, char *was, size_t wassz, ism_err *err);

/* Makes the files and folders this process creates from now on private to
 * its account wherever no mode is asked for explicitly: POSIX umask 077
 * (SQLite's databases and the log then get 0600, folders 0700); nothing on
 * Windows, where new files inherit the data folder's access list. Call it
 * first thing in main. */
void ism_plat_private_umask(void);

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

/* ---- folders and file changes ---- */
/* Calls fn(name, ctx) for each regular file in dir whose name ends with
 * suffix (case-insensitive), in no particular order. */
int ism_fs_list(const char *dir, const char *suffix, void (*fn)(const char *name, void *ctx), void *ctx,
                ism_err *err);
/* Modification time (ms since the epoch) and size; -1 when the file is missing. */
int ism_fs_stat(const char *path, int64_t *mtime_ms, int64_t *size);

/* ---- private keys (certificates) ---- */
/* Fails (ISM_E_TLS), naming path and the command that fixes it, when the file
 * grants more than its owner and the administrators, as OpenSSH refuses an
 * open key: POSIX any group or other permission bit; Windows an access list
 * that allows a SID other than SYSTEM, Administrators or the file's owner (or
 * no access list at all). A file that cannot be read fails too (ISM_E_IO). */
int ism_fs_private_check(const char *path, ism_err *err);
/* Who, besides its owner and the administrators, may read path, as the
 * check above judges it: 1 with who filled ("other users (mode 644)";
 * Windows: the account an entry admits, "BUILTIN\Users", "Everyone"), 0
 * when nobody else may, -1 when the permissions cannot be read (ISM_E_IO,
 * naming path). Sets no error for an open file, so that callers word the
 * remedy their own way (ism_keyprotect.h). */
int ism_fs_others_access(const char *path, char *who, size_t whosz, ism_err *err);
/* Deletes a file; one that does not exist is not an error. */
int ism_fs_remove(const char *path, ism_err *err);

/* ---- threads (the service's delivery thread) ----
 * Opaque, heap-allocated objects so that this header needs neither
 * <pthread.h> nor <windows.h>. ism_thread_join waits for the thread to
 * return and frees it. */
typedef struct ism_thread ism_thread;
typedef struct ism_mutex ism_mutex;
typedef struct ism_cond ism_cond;
int ism_thread_start(ism_thread **out, void (*fn)(void *arg), void *arg, ism_err *err);
void ism_thread_join(ism_thread *t);
int ism_mutex_new(ism_mutex **out, ism_err *err);
void ism_mutex_free(ism_mutex *m);
void ism_mutex_lock(ism_mutex *m);
void ism_mutex_unlock(ism_mutex *m);
int ism_cond_new(ism_cond **out, ism_err *err);
void ism_cond_free(ism_cond *c);
/* Waits with m held for a broadcast or at most timeout_ms; may wake early
 * for no reason, so callers re-check what they wait for. */
void ism_cond_wait_ms(ism_cond *c, ism_mutex *m, int timeout_ms);
void ism_cond_broadcast(ism_cond *c);

/* ---- outgoing connections (delivery to other servers) ---- */
#define ISM_NET_NXDOMAIN (-2)
/* Resolves host (a name or an IP literal) to at most max addresses as text
 * ("192.0.2.1", "2001:db8::1"), IPv4 and IPv6, in the resolver's order.
 * Returns how many (> 0); ISM_NET_NXDOMAIN when the name has no address
 * (a permanent answer); -1 for a temporary failure. err names the host. */
int ism_net_resolve(const char *host, char addrs[][64], int max, ism_err *err);
/* Starts a non-blocking TCP connection to ip:port. */
int ism_sock_connect_start(const char *ip, int port, ism_sock *out, ism_err *err);
/* Waits at most timeout_ms for a connection started above: 0 connected,
 * ISM_IO_AGAIN still in progress, -1 failed (err says why: refused, ...). */
int ism_sock_connect_wait(ism_sock s, int timeout_ms, ism_err *err);

/* The mail exchangers of domain (RFC 5321 5.1), lowest preference first:
 * at most max host names (without the final dot) and their preferences.
 * Returns how many: 0 when the domain exists without MX records (deliver to
 * its address records), ISM_NET_NXDOMAIN when the domain does not exist,
 * -1 for a temporary failure (err says which). A null MX (RFC 7505) is
 * returned as one host "" . */
int ism_dns_mx(const char *domain, char hosts[][256], int prefs[], int max, ism_err *err);

/* Processors available to this process (at least 1). */
int ism_plat_cpu_count(void);
/* Raises the limit of open files to the most the system allows (POSIX's
 * RLIMIT_NOFILE soft limit up to the hard one) and returns the limit now in
 * force, or 0 where sockets have no such limit (Windows). */
long ism_plat_raise_fd_limit(void);
/* Returns the C library's free memory to the system (after many
 * connections closed). */
void ism_plat_release_memory(void);

/* ---- trusted root certificates ---- */
struct x509_store_st;
/* Adds the system's trusted roots to an OpenSSL X509_STORE: OpenSSL's
 * default paths on Linux, the "ROOT" system certificate store on Windows. */
int ism_plat_system_roots(struct x509_store_st *store, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
