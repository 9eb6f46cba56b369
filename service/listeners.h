/* listeners: which ports the service listens on, and the move from one
 * generation's sockets to the next's.
 *
 * The ports come from the protocols' own declarations (proto.h,
 * ism_proto_listener) and the settings; nothing here names a protocol. A
 * generation's listeners are recomputed whole on every applied change and
 * reconciled with the previous generation's, so a socket whose address and
 * port did not change keeps listening (no connection is refused while
 * settings are applied) and a port that cannot be had leaves the old one
 * serving. */
#ifndef ISM_LISTENERS_H
#define ISM_LISTENERS_H

#include "ism_platform.h"
#include "ism_settings.h"
#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every protocol the service speaks, in the order of its status. Adding a
 * protocol is adding its ism_proto_ops (with its listeners) here. */
extern const ism_proto_ops *const ism_protocols[];
extern const size_t ism_n_protocols;

typedef struct {
    char key[96];                   /* "smtp", or "https@ADDR:PORT" */
    const ism_proto_listener *def;
    char addr[64];
    int port;
    char cert_name[256];            /* certificate served by default ("" = the host's) */
    ism_sock fd;                    /* ISM_BAD_SOCK when closed */
    char error[256];                /* why it is not listening where it should */
} ism_listener;

/* 1 when def speaks TLS under cfg: its checkbox when it has one, else its
 * implicit_tls (HTTPS always, HTTP never). */
int ism_listener_tls_on(const ism_config *cfg, const ism_proto_listener *def);

/* Fills want[] (room for max) with the listeners cfg asks for, fd closed:
 * every declared port on listen.address, except implicit-TLS ones unless
 * their TLS is on and tls_ready (a certificate set is loaded), and, while
 * tls_ready, one HTTPS listener per distinct address and port of the web SSL
 * domains (the first domain's certificate is its default). Returns the count. */
size_t ism_listeners_wanted(const ism_config *cfg, int tls_ready, ism_listener *want, size_t max);

/* Opens a listening socket (ism_sock_listen, or a test's fake). */
typedef int (*ism_listen_fn)(void *arg, const char *addr, int port, ism_sock *out, ism_err *err);

/* Makes want[] the next generation: a listener whose key, address and port
 * are in old[] takes over that socket; a new or moved one is opened with
 * listen; one whose new port cannot be opened keeps its old socket with the
 * error recorded ("... (still listening on port N)"), and one with no old
 * socket records the error. Old sockets the next generation does not keep are
 * appended to retired[] (room for nold): the caller closes them once no
 * worker uses the old generation. Logs each socket opened and closed. */
void ism_listeners_reconcile(const ism_listener *old, size_t nold, ism_listener *want, size_t nwant,
                             ism_sock *retired, size_t *nretired, ism_listen_fn listen, void *arg);

#ifdef __cplusplus
}
#endif
#endif
