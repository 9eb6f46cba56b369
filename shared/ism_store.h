/* ism_store: the SQLite settings store, the one channel between the manager,
 * ismailctl and the service.
 *
 * Writers validate, then change settings in one BEGIN IMMEDIATE transaction
 * that also bumps the store revision; readers take consistent snapshots. The
 * service watches PRAGMA data_version (which moves only for commits made by
 * *other* connections) and writes back what it applied. */
#ifndef ISM_STORE_H
#define ISM_STORE_H

#include "ism_error.h"
#include "ism_platform.h"
#include "ism_settings.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_STORE_SCHEMA_VERSION 3
#define ISM_STORE_FILE "ismail.db"

typedef struct ism_store ism_store;

/* Opens (creating and migrating as needed) the store at path. WAL mode,
 * a busy timeout, foreign keys on. */
int ism_store_open(ism_store **out, const char *path, ism_err *err);
void ism_store_close(ism_store *st);

/* Reads every setting (defaults for the unset ones) and the revision in one
 * read transaction. cfg must be ism_config_free()d. */
int ism_store_load(ism_store *st, ism_config *cfg, ism_err *err);

/* Validates n key/value pairs, then writes them all or none, bumping the
 * revision once. A NULL value resets that key to its default. On a
 * validation error nothing is written and the message names the key, the
 * bad value and what is allowed. */
int ism_store_set(ism_store *st, size_t n, const char *const keys[], const char *const values[], ism_err *err);

/* Bumps the revision without changing a setting, and wakes the service:
 * "look again now" after certificate files were installed or removed, so
 * the service rebuilds its TLS set at once instead of at its next file check. */
int ism_store_touch(ism_store *st, ism_err *err);

/* The store revision (bumped by every settings write). */
int ism_store_revision(ism_store *st, int64_t *rev, ism_err *err);

/* PRAGMA data_version of this connection: changes when another connection
 * has committed since the last call. */
int ism_store_data_version(ism_store *st, int64_t *dv, ism_err *err);

/* ---- the web server's SSL domains (a table, not single settings) ----
 * Validate with ism_web_domain_check (ism_settings.h) first; these functions
 * only store. Each change bumps the revision like a settings write. */
typedef enum { ISM_DOMAIN_ADD, ISM_DOMAIN_EDIT } ism_domain_mode;
int ism_store_domain_put(ism_store *st, const ism_web_domain *d, ism_domain_mode mode, ism_err *err);
int ism_store_domain_remove(ism_store *st, const char *domain, ism_err *err);
/* *out is malloc'd (free() it), sorted by domain. */
int ism_store_domain_list(ism_store *st, ism_web_domain **out, size_t *n, ism_err *err);

/* ---- outgoing mail: routes and TLS policies (tables, schema 3) ----
 * A route sends mail for one domain to a fixed next hop instead of the
 * domain's MX hosts; the domain "*" stands for every domain without a
 * route of its own (a smart host on any port). A TLS policy overrides the
 * SMTP Outgoing / Verify Certificate Domain checkboxes for one domain.
 * The put functions check and canonicalise (lower case) before storing;
 * messages name the field. Each change bumps the revision. */
typedef struct {
    char domain[256];   /* destination domain, or "*" */
    char host[256];     /* next hop: host name or IP address */
    int port;
} ism_route;

typedef enum {
    ISM_TLS_POLICY_NONE,    /* plaintext, STARTTLS never attempted */
    ISM_TLS_POLICY_MAY,     /* STARTTLS when offered, certificate not checked */
    ISM_TLS_POLICY_ENCRYPT, /* TLS required, certificate not checked */
    ISM_TLS_POLICY_VERIFY   /* TLS required, trusted certificate naming the host or domain */
} ism_tls_policy;

typedef struct {
    char domain[256];
    ism_tls_policy policy;
} ism_tls_policy_entry;

/* "none", "may", "encrypt", "verify". */
const char *ism_tls_policy_name(ism_tls_policy p);
/* Parses one of those words (any case); -1 with a message listing them. */
int ism_tls_policy_parse(const char *word, ism_tls_policy *out, ism_err *err);

/* Adds or replaces the route for r->domain. */
int ism_store_route_put(ism_store *st, const ism_route *r, ism_err *err);
int ism_store_route_remove(ism_store *st, const char *domain, ism_err *err);
/* *out is malloc'd (free() it), sorted by domain. */
int ism_store_route_list(ism_store *st, ism_route **out, size_t *n, ism_err *err);
/* Adds or replaces the policy for e->domain. */
int ism_store_policy_put(ism_store *st, const ism_tls_policy_entry *e, ism_err *err);
int ism_store_policy_remove(ism_store *st, const char *domain, ism_err *err);
int ism_store_policy_list(ism_store *st, ism_tls_policy_entry **out, size_t *n, ism_err *err);

/* ---- watching for changes (the service) ----
 * A watcher notices commits made by other connections: writers send a
 * wake-up datagram to the loopback port the watcher records in the store
 * (so the service can sleep in poll() on ism_watch_sock), and PRAGMA
 * data_version is the fallback when a datagram is lost or the writer is an
 * older program. The watcher's own commits (status write-back) never count. */
typedef struct ism_watch ism_watch;
int ism_watch_open(ism_watch **out, ism_store *st, ism_err *err);
void ism_watch_close(ism_watch *w);
/* The socket to poll for readability. */
ism_sock ism_watch_sock(const ism_watch *w);
/* Drains pending wake-ups; returns 1 when the store changed since the last
 * call (or the first call), 0 when not, -1 on a store error. */
int ism_watch_changed(ism_watch *w, ism_err *err);
/* Sends the wake-up to the watcher recorded in the store, if any; called by
 * ism_store_set after every commit. */
void ism_store_notify(ism_store *st);

/* What the service applied, written by the service only. */
#define ISM_MAX_LISTENERS 16
typedef struct {
    char name[16];          /* "smtp", "smtps", ... */
    int port;
    int open;               /* listening socket open */
    int tls;                /* TLS offered (STARTTLS or implicit) */
    char fingerprint[100];  /* SHA-256 of the certificate served, hex with colons, or "" */
    char error[256];
} ism_listener_state;

/* A certificate in the TLS set the service serves from (every TLS listener
 * chooses from the same set). A listener's fingerprint says which of them
 * it serves to clients without SNI. */
#define ISM_MAX_STATUS_CERTS 32
typedef struct {
    char file[300];             /* the certificate file (a web SSL domain's own file too) */
    char names[512];            /* the names it answers to, ", "-separated */
    int64_t not_before, not_after; /* validity, Unix seconds */
    char fingerprint[100];      /* SHA-256, as ism_listener_state.fingerprint */
    int fallback;               /* the host's self-signed one: served only when no name matches */
    int web;                    /* a web SSL domain's: answers to its domain */
} ism_cert_state;

typedef struct {
    int64_t applied_revision;   /* -1 when the service never applied anything */
    int64_t applied_at_ms;      /* Unix time in milliseconds */
    char error[512];            /* last apply error, "" when the last apply succeeded */
    int n_listeners;
    ism_listener_state listeners[ISM_MAX_LISTENERS];
    int n_certs;                /* 0 from a service that did not record them */
    ism_cert_state certs[ISM_MAX_STATUS_CERTS];
} ism_status;

int ism_store_write_status(ism_store *st, const ism_status *status, ism_err *err);
int ism_store_read_status(ism_store *st, ism_status *status, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
