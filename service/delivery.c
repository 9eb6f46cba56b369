/* delivery: the outgoing mail thread (see delivery.h).
 *
 * One item at a time: next hop (route, smart host or MX), TLS policy
 * (policy table or checkboxes), then the hosts in preference order and
 * each host's addresses until one session runs the transaction. A host
 * that cannot be reached, refuses us, or fails the TLS policy is skipped;
 * when none is left the item is deferred with the reasons. Under "may" a
 * failed TLS handshake is followed by a plaintext session to the same
 * address, as opportunistic TLS allows; under encrypt and verify never.
 *
 * Every attempt is logged with the address, the policy and who set it, the
 * TLS version, cipher, certificate subject and verification result. */
#include "delivery.h"

#include "ism_buf.h"
#include "ism_log.h"
#include "ism_mail.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_queue.h"
#include "ism_settings.h"
#include "ism_store.h"
#include "ism_tls.h"
#include "smtp_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 20           /* items per round before looking at the clock again */
#define IDLE_MS 1000       /* longest sleep: ismailctl's changes are noticed this fast */
#define MAX_MX 10
#define MAX_ADDRS 4        /* addresses tried per host */
#define MAX_SESSIONS 10    /* sessions per item and attempt */

struct ism_delivery {
    ism_thread *thread;
    ism_mutex *mu;
    ism_cond *cv;
    int kicked;            /* under mu */
    atomic_int stopping;

    /* the thread's own */
    ism_paths paths;
    ism_delivery_settings src; /* the service's applied settings */
    ism_queue *queue;
    ism_mail *mail;
    ism_config cfg;
    int have_cfg;
    ism_route *routes;
    size_t n_routes;
    ism_tls_policy_entry *policies;
    size_t n_policies;
    char hostname[256];
    char load_error[512];  /* the last settings error logged, to log each only once */
    char mail_error[512];  /* the same for the mail store */
    SSL_CTX *ctx;          /* client context: system roots + smtp.tls.ca_file */
    char ctx_key[1200];    /* what ctx was built from */
    char ca_error[512];    /* smtp.tls.ca_file unusable: verify defers with this */
};

static int is_cancelled(void *arg)
{
    ism_delivery *d = arg;
    return atomic_load(&d->stopping);
}

/* ---- settings and TLS context ---- */

/* Takes the service's applied settings, routes and policies; keeps the last
 * ones when none can be had. Returns 0 when there is a snapshot to use. */
static int refresh(ism_delivery *d)
{
    ism_config cfg;
    ism_err err = {0};
    ism_route *routes = NULL;
    ism_tls_policy_entry *pols = NULL;
    size_t nr = 0, np = 0;
    if (d->src.snapshot(d->src.arg, &cfg, &routes, &nr, &pols, &np, &err)) {
        if (strcmp(d->load_error, err.msg) != 0) {
            ism_log(ISM_LOG_ERROR, "outgoing: no settings to use (the last ones stay in use): %s", err.msg);
            snprintf(d->load_error, sizeof d->load_error, "%s", err.msg);
        }
        return d->have_cfg ? 0 : -1;
    }
    d->load_error[0] = '\0';
    if (ism_config_bool(&cfg, ISM_S_SMTP_TLS_VERIFY_DOMAIN) && !ism_config_bool(&cfg, ISM_S_SMTP_TLS_OUTGOING) &&
        (!d->have_cfg || cfg.revision != d->cfg.revision))
        ism_log(ISM_LOG_WARN, "outgoing: Verify Certificate Domain is on but SMTP Outgoing is off: mail goes out "
                              "in plaintext; tick SMTP Outgoing too to verify certificates");
    if (d->have_cfg)
        ism_config_free(&d->cfg);
    d->cfg = cfg;
    d->have_cfg = 1;
    free(d->routes);
    free(d->policies);
    d->routes = routes;
    d->n_routes = nr;
    d->policies = pols;
    d->n_policies = np;
    ism_config_hostname(&cfg, d->hostname, sizeof d->hostname);
    return 0;
}

/* (Re)builds the client context when its inputs changed: the TLS profile,
 * the cipher list, or the CA file (name or contents). */
static void ensure_ctx(ism_delivery *d)
{
    const char *profile = ism_config_str(&d->cfg, ISM_S_TLS_PROFILE);
    const char *ciphers = ism_config_str(&d->cfg, ISM_S_TLS_CIPHERS);
    const char *ca = ism_config_str(&d->cfg, ISM_S_SMTP_TLS_CA_FILE);
    int64_t mtime = -1, size = -1;
    char key[sizeof d->ctx_key];
    if (*ca)
        ism_fs_stat(ca, &mtime, &size);
    snprintf(key, sizeof key, "%s|%s|%s|%lld|%lld", profile, ciphers, ca, (long long)mtime, (long long)size);
    if (d->ctx && strcmp(key, d->ctx_key) == 0)
        return;
    ism_err err = {0};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ism_log(ISM_LOG_ERROR, "outgoing: cannot create a TLS client context; mail goes out without TLS where "
                               "allowed and waits where TLS is required");
        return;
    }
    SSL_CTX_set_min_proto_version(ctx, strcmp(profile, "modern") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (SSL_CTX_set1_groups_list(ctx, ISM_TLS_GROUPS) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        ism_log(ISM_LOG_ERROR, "outgoing: OpenSSL refused the key exchange groups %s; mail goes out without TLS "
                               "where allowed and waits where TLS is required",
                ISM_TLS_GROUPS);
        return;
    }
    if (*ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
        ERR_clear_error(); /* the store validated it; OpenSSL's default list is the fallback */
    if (ism_plat_system_roots(SSL_CTX_get_cert_store(ctx), &err))
        ism_log(ISM_LOG_WARN, "outgoing: %s; only smtp.tls.ca_file is trusted", err.msg);
    d->ca_error[0] = '\0';
    if (*ca) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            ism_err e = {0};
            ism_err_set(&e, ISM_E_TLS,
                        "smtp.tls.ca_file: %s cannot be read as PEM certificates; fix the file or clear the setting",
                        ca);
            ism_err_add_openssl(&e);
            snprintf(d->ca_error, sizeof d->ca_error, "%s", e.msg);
            ism_log(ISM_LOG_ERROR, "outgoing: %s (mail that needs a verified certificate waits)", e.msg);
        }
    }
    SSL_CTX_free(d->ctx);
    d->ctx = ctx;
    snprintf(d->ctx_key, sizeof d->ctx_key, "%s", key);
}

/* ---- local delivery (bounces to local senders, mail for local domains) ---- */

static void deliver_local(ism_delivery *d, const ism_queue_item *it, const char *data, size_t len,
                          ism_rcpt_outcome *oc, char (*why)[ISM_SMTPC_REASON])
{
    ism_buf msg = {0};
    ism_buf_printf(&msg, "Return-Path: <%s>\r\n", it->sender);
    ism_buf_add(&msg, data, len);
    for (size_t i = 0; i < it->n_rcpts; i++) {
        ism_err err = {0};
        oc[i].rcpt = it->rcpts[i];
        oc[i].reason = why[i];
        if (!d->mail) {
            oc[i].result = ISM_RCPT_DEFER;
            snprintf(why[i], ISM_SMTPC_REASON, "4.3.0 the mail store is not available");
        } else if (!ism_mail_user_exists(d->mail, it->rcpts[i])) {
            oc[i].result = ISM_RCPT_FAIL;
            snprintf(why[i], ISM_SMTPC_REASON, "5.1.1 <%s>: no such mailbox here", it->rcpts[i]);
        } else if (ism_mail_deliver(d->mail, it->rcpts[i], msg.p, msg.len, &err)) {
            oc[i].result = ISM_RCPT_DEFER;
            snprintf(why[i], ISM_SMTPC_REASON, "4.3.0 %s", err.msg);
        } else {
            oc[i].result = ISM_RCPT_SENT;
            snprintf(why[i], ISM_SMTPC_REASON, "2.0.0 delivered to the local mailbox");
        }
    }
    ism_buf_free(&msg);
}

/* ---- remote delivery ---- */

static void log_session(const ism_queue_item *it, const ism_smtpc_opts *o, const ism_next_hop *hop,
                        ism_smtpc_status st, const ism_smtpc_info *info, const ism_rcpt_result *res, size_t n)
{
    char tls[900];
    if (info->tls)
        snprintf(tls, sizeof tls, "%s %s, certificate %s, verification %s, SNI %s", info->tls_version, info->cipher,
                 info->peer_subject, info->verify, o->sni && !ism_smtpc_is_ip(o->host) ? o->host : "none");
    else if (!info->connected)
        snprintf(tls, sizeof tls, "not connected");
    else if (o->policy == ISM_TLS_POLICY_NONE)
        snprintf(tls, sizeof tls, "plaintext (STARTTLS %s, not attempted)", info->starttls_offered ? "offered" : "not offered");
    else
        snprintf(tls, sizeof tls, "plaintext (STARTTLS %s)", info->starttls_offered ? "offered" : "not offered");
    if (st == ISM_SMTPC_DONE) {
        size_t sent = 0, def = 0, fail = 0;
        for (size_t i = 0; i < n; i++) {
            if (res[i] == ISM_RCPT_SENT)
                sent++;
            else if (res[i] == ISM_RCPT_FAIL)
                fail++;
            else
                def++;
        }
        ism_log(ISM_LOG_INFO,
                "outgoing: item %lld to %s via %s[%s]:%d (%s), TLS policy %s (%s): %s; %lu sent, %lu deferred, "
                "%lu failed",
                (long long)it->id, it->domain, o->host, o->addr, o->port, hop->via, ism_tls_policy_name(o->policy),
                o->policy_source, tls, (unsigned long)sent, (unsigned long)def, (unsigned long)fail);
    } else {
        ism_log(ISM_LOG_INFO, "outgoing: item %lld to %s via %s[%s]:%d (%s), TLS policy %s (%s): %s; %s",
                (long long)it->id, it->domain, o->host, o->addr, o->port, hop->via, ism_tls_policy_name(o->policy),
                o->policy_source, tls, st == ISM_SMTPC_CANCELLED ? "abandoned: the service is stopping" : info->reason);
    }
}

/* Appends a failure reason to the item's list ("; " between). */
static void add_reason(char *all, size_t allsz, const char *why)
{
    size_t l = strlen(all);
    if (l + 3 < allsz)
        snprintf(all + l, allsz - l, "%s%s", l ? "; " : "", why);
}

/* Returns 1 when the attempt was abandoned (service stopping): record nothing. */
static int deliver_remote(ism_delivery *d, const ism_queue_item *it, const char *data, size_t len,
                          ism_rcpt_outcome *oc, char (*why)[ISM_SMTPC_REASON])
{
    ism_next_hop hop;
    const char *source = "";
    ism_outgoing_next_hop(&d->cfg, d->routes, d->n_routes, it->domain, &hop);
    ism_tls_policy policy = ism_outgoing_policy(&d->cfg, d->policies, d->n_policies, it->domain, &source);
    ism_rcpt_result *res = calloc(it->n_rcpts ? it->n_rcpts : 1, sizeof *res);
    char hosts[MAX_MX][256];
    int prefs[MAX_MX], nh = 1, implicit_mx = 0, permanent = 0, abandoned = 0, done = 0;
    char all[1600] = "";
    for (size_t i = 0; i < it->n_rcpts; i++) {
        oc[i].rcpt = it->rcpts[i];
        oc[i].reason = why[i];
        oc[i].result = ISM_RCPT_DEFER;
    }
    if (!res) {
        snprintf(all, sizeof all, "4.3.0 out of memory");
        goto finish;
    }
    snprintf(hosts[0], sizeof hosts[0], "%s", hop.host);
    if (hop.kind == ISM_HOP_MX) {
        ism_err err = {0};
        nh = ism_dns_mx(it->domain, hosts, prefs, MAX_MX, &err);
        if (nh == ISM_NET_NXDOMAIN) {
            snprintf(all, sizeof all, "5.1.2 the domain %s does not exist (DNS)", it->domain);
            permanent = 1;
            goto finish;
        }
        if (nh < 0) {
            snprintf(all, sizeof all, "4.4.3 %s", err.msg);
            goto finish;
        }
        if (nh == 1 && !hosts[0][0]) {
            snprintf(all, sizeof all, "5.1.10 the domain %s accepts no mail (null MX, RFC 7505)", it->domain);
            permanent = 1;
            goto finish;
        }
        if (nh == 0) {
            /* RFC 5321 5.1: no MX records, the domain's own address is the MX. */
            snprintf(hosts[0], sizeof hosts[0], "%s", it->domain);
            nh = 1;
            implicit_mx = 1;
        }
    }
    int sessions = 0;
    for (int h = 0; h < nh && !done && !abandoned && sessions < MAX_SESSIONS; h++) {
        if (!hosts[h][0])
            continue;
        char addrs[MAX_ADDRS][64];
        ism_err err = {0};
        int na = ism_net_resolve(hosts[h], addrs, MAX_ADDRS, &err);
        if (na <= 0) {
            char r[600];
            if (na == ISM_NET_NXDOMAIN && implicit_mx) {
                snprintf(all, sizeof all, "5.1.2 the domain %s has neither MX nor address records", it->domain);
                permanent = 1;
                break;
            }
            snprintf(r, sizeof r, "4.4.3 %s", err.msg);
            add_reason(all, sizeof all, r);
            ism_log(ISM_LOG_INFO, "outgoing: item %lld to %s: %s", (long long)it->id, it->domain, r);
            continue;
        }
        for (int a = 0; a < na && !done && !abandoned && sessions < MAX_SESSIONS; a++) {
            ism_smtpc_opts o;
            ism_smtpc_info info;
            memset(&o, 0, sizeof o);
            o.helo_name = d->hostname;
            o.host = hosts[h];
            o.addr = addrs[a];
            o.port = hop.port;
            o.domain = it->domain;
            o.policy = policy;
            o.policy_source = source;
            o.sni = ism_config_bool(&d->cfg, ISM_S_SMTP_TLS_STARTTLS_DOMAINS);
            o.ctx = policy == ISM_TLS_POLICY_NONE ? NULL : d->ctx;
            o.ctx_error = d->ctx ? NULL : "no TLS client context (see the log)";
            if (policy == ISM_TLS_POLICY_VERIFY && d->ca_error[0]) {
                o.ctx = NULL;
                o.ctx_error = d->ca_error;
            }
            o.cancelled = is_cancelled;
            o.cancel_arg = d;
            sessions++;
            ism_smtpc_status st = ism_smtpc_send(&o, it->sender, it->rcpts, it->n_rcpts, data, len, res, why, &info);
            log_session(it, &o, &hop, st, &info, res, it->n_rcpts);
            if (st == ISM_SMTPC_TLS_FAILED && policy == ISM_TLS_POLICY_MAY && !is_cancelled(d)) {
                /* Opportunistic: a server whose TLS does not work still gets the mail in plaintext. */
                add_reason(all, sizeof all, info.reason);
                o.policy = ISM_TLS_POLICY_NONE;
                o.policy_source = "TLS handshake failed under policy may: plaintext";
                o.ctx = NULL;
                sessions++;
                st = ism_smtpc_send(&o, it->sender, it->rcpts, it->n_rcpts, data, len, res, why, &info);
                log_session(it, &o, &hop, st, &info, res, it->n_rcpts);
            }
            if (st == ISM_SMTPC_CANCELLED)
                abandoned = 1;
            else if (st == ISM_SMTPC_DONE)
                done = 1;
            else
                add_reason(all, sizeof all, info.reason);
        }
    }
finish:
    if (done) {
        for (size_t i = 0; i < it->n_rcpts; i++)
            oc[i].result = res[i];
    } else {
        for (size_t i = 0; i < it->n_rcpts; i++) {
            oc[i].result = permanent ? ISM_RCPT_FAIL : ISM_RCPT_DEFER;
            snprintf(why[i], ISM_SMTPC_REASON, "%s", all[0] ? all : "4.4.1 no host could be reached");
        }
    }
    free(res);
    return abandoned;
}

/* ---- one item ---- */

static int record(ism_delivery *d, const ism_queue_item *it, const ism_rcpt_outcome *oc)
{
    ism_queue_opts qo = {d->hostname, ism_queue_max_age_ms(&d->cfg)};
    ism_queue_recorded rec;
    ism_err err = {0};
    int64_t now = ism_time_wall_ms();
    if (ism_queue_record(d->queue, it->id, oc, it->n_rcpts, now, &qo, &rec, &err)) {
        ism_log(ISM_LOG_ERROR, "outgoing: item %lld: cannot record the attempt (it is tried again): %s",
                (long long)it->id, err.msg);
        return -1;
    }
    for (size_t i = 0; i < it->n_rcpts; i++) {
        if (oc[i].result == ISM_RCPT_SENT)
            ism_log(ISM_LOG_INFO, "outgoing: item %lld: delivered to <%s>: %s", (long long)it->id, oc[i].rcpt,
                    oc[i].reason);
        else if (oc[i].result == ISM_RCPT_FAIL)
            ism_log(ISM_LOG_WARN, "outgoing: item %lld: failed for <%s>: %s", (long long)it->id, oc[i].rcpt,
                    oc[i].reason);
    }
    if (rec.expired)
        ism_log(ISM_LOG_WARN, "outgoing: item %lld: gave up after smtp.queue.max_age_days", (long long)it->id);
    if (rec.deferred) {
        const char *why = "";
        for (size_t i = 0; i < it->n_rcpts && !*why; i++)
            if (oc[i].result == ISM_RCPT_DEFER)
                why = oc[i].reason;
        ism_log(ISM_LOG_WARN, "outgoing: item %lld: deferred for %lu recipient%s, next attempt in %lld min: %s",
                (long long)it->id, (unsigned long)rec.deferred, rec.deferred == 1 ? "" : "s",
                (long long)((rec.next_ms - now + 59999) / 60000), why);
    }
    if (rec.bounce_msg)
        ism_log(ISM_LOG_INFO, "outgoing: item %lld: returned to <%s> as message %lld (delivery status notification)",
                (long long)it->id, it->sender, (long long)rec.bounce_msg);
    else if (rec.failed && !it->sender[0])
        ism_log(ISM_LOG_WARN, "outgoing: item %lld: a bounce could not be delivered; it is dropped (bounces never bounce)",
                (long long)it->id);
    return 0;
}

/* Returns 0 when the attempt was made (or abandoned for the stop), -1 when
 * it could not even start (store or queue unreadable): the caller then
 * waits before the next round instead of spinning. */
static int deliver_item(ism_delivery *d, const ism_queue_item *it)
{
    char *data = NULL;
    size_t len = 0;
    ism_err err = {0};
    int rc = -1;
    if (refresh(d))
        return -1;
    if (!d->mail) {
        /* Without the mail store local domains cannot be told from others:
         * wait rather than send a local domain's mail out to its MX. */
        char mpath[ISM_PATH_MAX + 32];
        ism_paths_file(mpath, sizeof mpath, d->paths.data, "mail", ".db");
        if (ism_mail_open(&d->mail, mpath, &err)) {
            d->mail = NULL;
            if (strcmp(d->mail_error, err.msg) != 0)
                ism_log(ISM_LOG_ERROR, "outgoing: mail waits: the mail store is not available: %s", err.msg);
            snprintf(d->mail_error, sizeof d->mail_error, "%s", err.msg);
            return -1;
        }
        d->mail_error[0] = '\0';
    }
    if (ism_queue_data(d->queue, it->msg, &data, &len, &err)) {
        ism_log(ISM_LOG_ERROR, "outgoing: item %lld: %s", (long long)it->id, err.msg);
        return -1;
    }
    ism_rcpt_outcome *oc = calloc(it->n_rcpts ? it->n_rcpts : 1, sizeof *oc);
    char (*why)[ISM_SMTPC_REASON] = calloc(it->n_rcpts ? it->n_rcpts : 1, sizeof *why);
    if (oc && why) {
        int abandoned = 0;
        if (ism_mail_is_local_domain(d->mail, it->domain)) {
            deliver_local(d, it, data, len, oc, why);
        } else {
            ensure_ctx(d);
            abandoned = deliver_remote(d, it, data, len, oc, why);
        }
        rc = abandoned ? 0 : record(d, it, oc);
    }
    free(oc);
    free(why);
    free(data);
    return rc;
}

/* ---- the thread ---- */

static void run(void *arg)
{
    ism_delivery *d = arg;
    ism_log(ISM_LOG_INFO, "outgoing: delivery thread started; queue %s" ISM_PATH_SEP "%s", d->paths.data, ISM_QUEUE_FILE);
    while (!atomic_load(&d->stopping)) {
        ism_queue_item *items = NULL;
        size_t n = 0;
        ism_err err = {0};
        int64_t wait = IDLE_MS;
        if (ism_queue_due(d->queue, ism_time_wall_ms(), BATCH, &items, &n, &err)) {
            ism_log(ISM_LOG_ERROR, "outgoing: %s", err.msg);
        } else {
            int stuck = 0;
            for (size_t i = 0; i < n && !atomic_load(&d->stopping); i++)
                stuck |= deliver_item(d, &items[i]) != 0;
            ism_queue_items_free(items, n);
            int64_t next = -1;
            if (stuck)
                wait = IDLE_MS; /* something is broken (logged): do not spin on it */
            else if (n == BATCH)
                wait = 0;
            else if (ism_queue_next_due(d->queue, &next, &err) == 0 && next >= 0) {
                int64_t until = next - ism_time_wall_ms();
                wait = until < 0 ? 0 : until < IDLE_MS ? until : IDLE_MS;
            }
        }
        ism_mutex_lock(d->mu);
        if (!d->kicked && !atomic_load(&d->stopping) && wait > 0)
            ism_cond_wait_ms(d->cv, d->mu, (int)wait);
        d->kicked = 0;
        ism_mutex_unlock(d->mu);
    }
    ism_log(ISM_LOG_INFO, "outgoing: delivery thread stopped");
}

static void free_all(ism_delivery *d)
{
    if (!d)
        return;
    ism_queue_close(d->queue);
    ism_mail_close(d->mail);
    if (d->have_cfg)
        ism_config_free(&d->cfg);
    free(d->routes);
    free(d->policies);
    SSL_CTX_free(d->ctx);
    ism_cond_free(d->cv);
    ism_mutex_free(d->mu);
    free(d);
}

int ism_delivery_start(ism_delivery **out, const char *data_dir, const ism_delivery_settings *src, ism_err *err)
{
    char qpath[ISM_PATH_MAX + 32], mpath[ISM_PATH_MAX + 32];
    ism_delivery *d = calloc(1, sizeof *d);
    if (!d)
        return ism_err_set(err, ISM_E_IO, "out of memory starting the delivery thread");
    atomic_init(&d->stopping, 0);
    d->src = *src;
    ism_paths_init(&d->paths, data_dir);
    ism_paths_file(qpath, sizeof qpath, d->paths.data, "queue", ".db");
    ism_paths_file(mpath, sizeof mpath, d->paths.data, "mail", ".db");
    if (ism_mutex_new(&d->mu, err) || ism_cond_new(&d->cv, err) || ism_queue_open(&d->queue, qpath, err))
        goto fail;
    ism_err merr = {0};
    if (ism_mail_open(&d->mail, mpath, &merr)) {
        ism_log(ISM_LOG_ERROR, "outgoing: mail waits: the mail store is not available: %s", merr.msg);
        snprintf(d->mail_error, sizeof d->mail_error, "%s", merr.msg);
        d->mail = NULL;
    }
    if (ism_thread_start(&d->thread, run, d, err))
        goto fail;
    *out = d;
    return 0;
fail:
    free_all(d);
    return -1;
}

void ism_delivery_kick(ism_delivery *d)
{
    if (!d)
        return;
    ism_mutex_lock(d->mu);
    d->kicked = 1;
    ism_cond_broadcast(d->cv);
    ism_mutex_unlock(d->mu);
}

void ism_delivery_stop(ism_delivery *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, 1);
    ism_delivery_kick(d);
    ism_thread_join(d->thread);
    free_all(d);
}
