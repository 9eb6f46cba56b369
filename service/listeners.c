/* listeners: the ports the protocols declare, and reconciliation of one
 * generation's sockets with the next's (see listeners.h). */
#include "listeners.h"

#include "ism_log.h"

#include <stdio.h>
#include <string.h>

const ism_proto_ops *const ism_protocols[] = {&ism_proto_smtp, &ism_proto_pop3, &ism_proto_imap, &ism_proto_http};
const size_t ism_n_protocols = sizeof ism_protocols / sizeof ism_protocols[0];

int ism_listener_tls_on(const ism_config *cfg, const ism_proto_listener *def)
{
    if (def->tls == ISM_PROTO_NO_SETTING)
        return def->implicit_tls;
    return ism_config_bool(cfg, (ism_setting_id)def->tls);
}

static ism_listener *add(ism_listener *want, size_t *n, size_t max, const char *key, const ism_proto_listener *def,
                         const char *addr, int port)
{
    if (*n >= max)
        return NULL;
    ism_listener *l = &want[(*n)++];
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    l->def = def;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    l->port = port;
    l->fd = ISM_BAD_SOCK;
    return l;
}

size_t ism_listeners_wanted(const ism_config *cfg, int tls_ready, ism_listener *want, size_t max)
{
    size_t n = 0;
    const char *addr = ism_config_str(cfg, ISM_S_LISTEN_ADDRESS);
    for (size_t p = 0; p < ism_n_protocols; p++) {
        const ism_proto_ops *ops = ism_protocols[p];
        for (size_t i = 0; i < ops->n_listeners; i++) {
            const ism_proto_listener *d = &ops->listeners[i];
            if (d->per_web_domain) {
                for (size_t k = 0; k < cfg->n_web && tls_ready; k++) {
                    const ism_web_domain *wd = &cfg->web[k];
                    char key[96];
                    snprintf(key, sizeof key, "%s@%s:%d", d->name, wd->ip, wd->port);
                    size_t j;
                    for (j = 0; j < n && strcmp(want[j].key, key) != 0; j++) {
                    }
                    if (j < n)
                        continue; /* several domains on one address and port: SNI picks */
                    ism_listener *l = add(want, &n, max, key, d, wd->ip, wd->port);
                    if (l)
                        snprintf(l->cert_name, sizeof l->cert_name, "%s", wd->domain);
                }
                continue;
            }
            if (d->implicit_tls && !(ism_listener_tls_on(cfg, d) && tls_ready))
                continue; /* an implicit-TLS port is open only while its TLS is on */
            add(want, &n, max, d->name, d, addr, ism_config_int(cfg, (ism_setting_id)d->port));
        }
    }
    return n;
}

void ism_listeners_reconcile(const ism_listener *old, size_t nold, ism_listener *want, size_t nwant,
                             ism_sock *retired, size_t *nretired, ism_listen_fn listen, void *arg)
{
    unsigned char used[256] = {0};
    if (nold > sizeof used)
        nold = sizeof used;
    for (size_t i = 0; i < nwant; i++) {
        ism_listener *l = &want[i];
        const ism_listener *prev = NULL;
        for (size_t j = 0; j < nold; j++)
            if (!used[j] && strcmp(old[j].key, l->key) == 0) {
                prev = &old[j];
                used[j] = 1;
                break;
            }
        l->fd = ISM_BAD_SOCK;
        l->error[0] = '\0';
        if (prev && prev->fd != ISM_BAD_SOCK && prev->port == l->port && strcmp(prev->addr, l->addr) == 0) {
            l->fd = prev->fd; /* unchanged: the same socket keeps listening */
            continue;
        }
        ism_err err = {0};
        ism_sock fd;
        if (listen(arg, l->addr, l->port, &fd, &err) == 0) {
            if (prev && prev->fd != ISM_BAD_SOCK) {
                retired[(*nretired)++] = prev->fd;
                ism_log(ISM_LOG_INFO, "%s: closed %s port %d", prev->key, prev->addr, prev->port);
            }
            l->fd = fd;
            ism_log(ISM_LOG_INFO, "%s: listening on %s port %d", l->key, l->addr, l->port);
        } else if (prev && prev->fd != ISM_BAD_SOCK) {
            /* The new port cannot be had: keep serving on the old one. */
            l->fd = prev->fd;
            l->port = prev->port;
            snprintf(l->addr, sizeof l->addr, "%s", prev->addr);
            snprintf(l->error, sizeof l->error, "%s (still listening on port %d)", err.msg, prev->port);
            ism_log(ISM_LOG_ERROR, "%s: %s", l->key, l->error);
        } else {
            snprintf(l->error, sizeof l->error, "%s", err.msg);
            ism_log(ISM_LOG_ERROR, "%s: %s", l->key, err.msg);
        }
    }
    for (size_t j = 0; j < nold; j++)
        if (!used[j] && old[j].fd != ISM_BAD_SOCK) {
            retired[(*nretired)++] = old[j].fd;
            ism_log(ISM_LOG_INFO, "%s: closed %s port %d", old[j].key, old[j].addr, old[j].port);
        }
}
