/* ism_store: the SQLite settings store (see ism_store.h).
 *
 * Schema (version 1):
 *   meta(key, value)            schema_version, revision
 *   settings(key, value)        every setting an administrator has set; unset
 *                               keys read as their default from ism_settings.def
 *   service_state(key, value)   applied_revision, applied_at_ms, error
 *   listener_state(...)         one row per listener, written by the service
 * Version 2 adds web_domains(domain, ip, port, cert_file, key_file, ca_file).
 * Version 3 adds routes(domain, host, port) and tls_policy(domain, policy)
 * for outgoing mail. */
#include "ism_store.h"
#include "ism_str.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ism_store {
    sqlite3 *db;
    char path[1024];
};

#define BUSY_TIMEOUT_MS 10000

static int db_fail(ism_store *st, ism_err *err, const char *what)
{
    int code = sqlite3_extended_errcode(st->db);
    const char *hint = "";
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        hint = "; another program holds the store locked, try again";
    else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        hint = "; the file is damaged: restore it from a backup or move it aside to start from defaults";
    else if ((code & 0xff) == SQLITE_READONLY || (code & 0xff) == SQLITE_CANTOPEN || (code & 0xff) == SQLITE_PERM)
        hint = "; check that the folder exists and that this account may write to it";
    return ism_err_set(err, ISM_E_STORE, "settings store %s: %s failed: %s%s", st->path, what,
                       sqlite3_errmsg(st->db), hint);
}

static int exec(ism_store *st, const char *sql, ism_err *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(st, err, sql);
    return 0;
}

static const char *const migrations[] = {
    /* to version 1 */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS service_state(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS listener_state(name TEXT PRIMARY KEY, port INTEGER NOT NULL,"
    " open INTEGER NOT NULL, tls INTEGER NOT NULL, fingerprint TEXT NOT NULL, error TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('revision', '0');",
    /* to version 2: the web server's SSL domains (the manual's "configure a
     * domain for SSL"). */
    "CREATE TABLE IF NOT EXISTS web_domains(domain TEXT PRIMARY KEY, ip TEXT NOT NULL,"
    " port INTEGER NOT NULL CHECK(port BETWEEN 1 AND 65535), cert_file TEXT NOT NULL,"
    " key_file TEXT NOT NULL, ca_file TEXT NOT NULL DEFAULT '');",
    /* to version 3: outgoing mail's next hops and per-domain TLS policies. */
    "CREATE TABLE IF NOT EXISTS routes(domain TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " port INTEGER NOT NULL CHECK(port BETWEEN 1 AND 65535));"
    "CREATE TABLE IF NOT EXISTS tls_policy(domain TEXT PRIMARY KEY,"
    " policy TEXT NOT NULL CHECK(policy IN ('none','may','encrypt','verify')));",
};

static int meta_int(ism_store *st, const char *key, int64_t *out, ism_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key=?", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "reading meta");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(st, err, "reading meta");
    return 0;
}

static int migrate(ism_store *st, ism_err *err)
{
    int64_t have = 0;
    int has_meta = 0;
    sqlite3_stmt *s;
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'", -1, &s,
                           NULL) == SQLITE_OK) {
        has_meta = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    if (has_meta && meta_int(st, "schema_version", &have, err))
        goto fail;
    if (have > ISM_STORE_SCHEMA_VERSION) {
        ism_err_set(err, ISM_E_STORE,
                    "settings store %s has schema version %lld, newer than this program understands (%d); "
                    "install the matching or a newer ISMail",
                    st->path, (long long)have, ISM_STORE_SCHEMA_VERSION);
        goto fail;
    }
    _Static_assert(sizeof migrations / sizeof migrations[0] == ISM_STORE_SCHEMA_VERSION,
                   "one migration per schema version");
    for (int64_t v = have; v < ISM_STORE_SCHEMA_VERSION; v++) {
        if (exec(st, migrations[v], err))
            goto fail;
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES('schema_version', '%lld')", (long long)v + 1);
        if (exec(st, sql, err))
            goto fail;
    }
    return exec(st, "COMMIT", err);
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ism_store_open(ism_store **out, const char *path, ism_err *err)
{
    ism_store *st = calloc(1, sizeof *st);
    if (!st)
        return ism_err_set(err, ISM_E_STORE, "out of memory opening the settings store");
    snprintf(st->path, sizeof st->path, "%s", path);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_fail(st, err, "opening");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (exec(st, "PRAGMA journal_mode=WAL", err) || exec(st, "PRAGMA synchronous=NORMAL", err) ||
        exec(st, "PRAGMA foreign_keys=ON", err) || migrate(st, err))
        goto fail;
    *out = st;
    return 0;
fail:
    ism_store_close(st);
    return -1;
}

void ism_store_close(ism_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st);
}

/* Fills an initialised cfg from the store inside the caller's transaction. */
static int load_locked(ism_store *st, ism_config *cfg, ism_err *err)
{
    sqlite3_stmt *s;
    if (meta_int(st, "revision", &cfg->revision, err))
        return -1;
    if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM settings", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "reading settings");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        const char *val = (const char *)sqlite3_column_text(s, 1);
        int id = key ? ism_setting_find(key) : -1;
        char canon[1024];
        /* A key this version does not know (written by a newer one) is kept
         * in the store but ignored; a value that no longer validates reads
         * as the default rather than taking the service down. */
        ism_err verr = {0};
        if (id >= 0 && val && ism_setting_normalize((ism_setting_id)id, val, canon, sizeof canon, &verr) == 0)
            ism_config_put(cfg, (ism_setting_id)id, canon);
        else if (id >= 0 && !cfg->invalid[0])
            snprintf(cfg->invalid, sizeof cfg->invalid, "stored value refused: %s", verr.msg);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_fail(st, err, "reading settings");
    return 0;
}

int ism_store_load(ism_store *st, ism_config *cfg, ism_err *err)
{
    ism_config_init(cfg);
    if (exec(st, "BEGIN", err))
        return -1;
    /* Settings and the web SSL domains from one read transaction: one snapshot. */
    int rc = load_locked(st, cfg, err);
    if (rc == 0)
        rc = ism_store_domain_list(st, &cfg->web, &cfg->n_web, err);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

int ism_store_set(ism_store *st, size_t n, const char *const keys[], const char *const values[], ism_err *err)
{
    char (*canon)[1024] = calloc(n ? n : 1, sizeof *canon);
    int *ids = calloc(n ? n : 1, sizeof *ids);
    ism_config cfg;
    int rc = -1, in_txn = 0;
    ism_config_init(&cfg);
    if (!canon || !ids) {
        ism_err_set(err, ISM_E_STORE, "out of memory");
        goto out;
    }
    /* Validate every pair before touching the store. */
    for (size_t i = 0; i < n; i++) {
        ids[i] = ism_setting_find(keys[i]);
        if (ids[i] < 0) {
            ism_err_set(err, ISM_E_USAGE, "%s: no such setting; 'ismailctl show' lists them all", keys[i]);
            goto out;
        }
        const char *v = values[i] ? values[i] : ism_setting_defs[ids[i]].def;
        if (ism_setting_normalize((ism_setting_id)ids[i], v, canon[i], sizeof canon[i], err))
            goto out;
    }
    if (exec(st, "BEGIN IMMEDIATE", err))
        goto out;
    in_txn = 1;
    if (load_locked(st, &cfg, err) || ism_store_domain_list(st, &cfg.web, &cfg.n_web, err))
        goto out;
    for (size_t i = 0; i < n; i++)
        ism_config_put(&cfg, (ism_setting_id)ids[i], canon[i]);
    if (ism_config_check(&cfg, err))
        goto out;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s;
        const char *sql = values[i] ? "INSERT OR REPLACE INTO settings VALUES(?, ?)" : "DELETE FROM settings WHERE key=?";
        if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
            db_fail(st, err, "writing settings");
            goto out;
        }
        sqlite3_bind_text(s, 1, keys[i], -1, SQLITE_STATIC);
        if (values[i])
            sqlite3_bind_text(s, 2, canon[i], -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        sqlite3_finalize(s);
        if (step != SQLITE_DONE) {
            db_fail(st, err, "writing settings");
            goto out;
        }
    }
    if (exec(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'", err) ||
        exec(st, "COMMIT", err))
        goto out;
    in_txn = 0;
    rc = 0;
    ism_store_notify(st);
out:
    if (in_txn)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    ism_config_free(&cfg);
    free(canon);
    free(ids);
    return rc;
}

static int bump_revision_and_commit(ism_store *st, ism_err *err);

int ism_store_touch(ism_store *st, ism_err *err)
{
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (bump_revision_and_commit(st, err)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int ism_store_revision(ism_store *st, int64_t *rev, ism_err *err)
{
    return meta_int(st, "revision", rev, err);
}

int ism_store_data_version(ism_store *st, int64_t *dv, ism_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA data_version", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "PRAGMA data_version");
    int rc = sqlite3_step(s);
    *dv = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_fail(st, err, "PRAGMA data_version");
}

static int put_state(ism_store *st, const char *key, const char *value, ism_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO service_state VALUES(?, ?)", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "writing service state");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : db_fail(st, err, "writing service state");
}

int ism_store_write_status(ism_store *st, const ism_status *status, ism_err *err)
{
    char num[32];
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    snprintf(num, sizeof num, "%lld", (long long)status->applied_revision);
    if (put_state(st, "applied_revision", num, err))
        goto fail;
    snprintf(num, sizeof num, "%lld", (long long)status->applied_at_ms);
    if (put_state(st, "applied_at_ms", num, err) || put_state(st, "error", status->error, err) ||
        exec(st, "DELETE FROM listener_state", err) ||
        exec(st, "DELETE FROM service_state WHERE key LIKE 'cert.%'", err))
        goto fail;
    /* The certificates as service_state rows "cert.NN" (a table of their
     * own would need a schema version older programs refuse; they ignore
     * keys they do not know): fingerprint, not_before, not_after, fallback,
     * web, file and names, tab-separated. */
    for (int i = 0; i < status->n_certs && i < ISM_MAX_STATUS_CERTS; i++) {
        const ism_cert_state *c = &status->certs[i];
        char key[16], val[1100];
        snprintf(key, sizeof key, "cert.%02d", i);
        snprintf(val, sizeof val, "%s\t%lld\t%lld\t%d\t%d\t%s\t%s", c->fingerprint, (long long)c->not_before,
                 (long long)c->not_after, c->fallback, c->web, c->file, c->names);
        if (put_state(st, key, val, err))
            goto fail;
    }
    for (int i = 0; i < status->n_listeners; i++) {
        const ism_listener_state *l = &status->listeners[i];
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(st->db, "INSERT INTO listener_state VALUES(?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK) {
            db_fail(st, err, "writing listener state");
            goto fail;
        }
        sqlite3_bind_text(s, 1, l->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, l->port);
        sqlite3_bind_int(s, 3, l->open);
        sqlite3_bind_int(s, 4, l->tls);
        sqlite3_bind_text(s, 5, l->fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, l->error, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) {
            db_fail(st, err, "writing listener state");
            goto fail;
        }
    }
    return exec(st, "COMMIT", err);
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Parses one "cert.NN" row (see ism_store_write_status). */
static void read_cert_state(ism_status *status, int i, const char *v)
{
    if (i < 0 || i >= ISM_MAX_STATUS_CERTS)
        return;
    ism_cert_state *c = &status->certs[i];
    const char *f[7];
    size_t len[7];
    int n = 0;
    for (const char *p = v; n < 7; n++) {
        const char *tab = n < 6 ? strchr(p, '\t') : NULL;
        f[n] = p;
        len[n] = tab ? (size_t)(tab - p) : strlen(p);
        if (!tab) {
            n++;
            break;
        }
        p = tab + 1;
    }
    if (n != 7)
        return;
    snprintf(c->fingerprint, sizeof c->fingerprint, "%.*s", (int)len[0], f[0]);
    c->not_before = strtoll(f[1], NULL, 10);
    c->not_after = strtoll(f[2], NULL, 10);
    c->fallback = atoi(f[3]);
    c->web = atoi(f[4]);
    snprintf(c->file, sizeof c->file, "%.*s", (int)len[5], f[5]);
    snprintf(c->names, sizeof c->names, "%.*s", (int)len[6], f[6]);
    if (status->n_certs < i + 1)
        status->n_certs = i + 1;
}

int ism_store_read_status(ism_store *st, ism_status *status, ism_err *err)
{
    sqlite3_stmt *s;
    memset(status, 0, sizeof *status);
    status->applied_revision = -1;
    if (exec(st, "BEGIN", err))
        return -1;
    if (sqlite3_prepare_v2(st->db, "SELECT key, value FROM service_state", -1, &s, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *v = (const char *)sqlite3_column_text(s, 1);
        if (!k || !v)
            continue;
        if (strcmp(k, "applied_revision") == 0)
            status->applied_revision = strtoll(v, NULL, 10);
        else if (strcmp(k, "applied_at_ms") == 0)
            status->applied_at_ms = strtoll(v, NULL, 10);
        else if (strcmp(k, "error") == 0)
            snprintf(status->error, sizeof status->error, "%s", v);
        else if (strncmp(k, "cert.", 5) == 0)
            read_cert_state(status, atoi(k + 5), v);
    }
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(st->db, "SELECT name, port, open, tls, fingerprint, error FROM listener_state ORDER BY rowid",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    while (sqlite3_step(s) == SQLITE_ROW && status->n_listeners < ISM_MAX_LISTENERS) {
        ism_listener_state *l = &status->listeners[status->n_listeners++];
        snprintf(l->name, sizeof l->name, "%s", (const char *)sqlite3_column_text(s, 0));
        l->port = sqlite3_column_int(s, 1);
        l->open = sqlite3_column_int(s, 2);
        l->tls = sqlite3_column_int(s, 3);
        snprintf(l->fingerprint, sizeof l->fingerprint, "%s", (const char *)sqlite3_column_text(s, 4));
        snprintf(l->error, sizeof l->error, "%s", (const char *)sqlite3_column_text(s, 5));
    }
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return 0;
fail:
    db_fail(st, err, "reading service state");
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ---- watcher ---- */

struct ism_watch {
    ism_store *st;
    ism_sock sock;
    int64_t data_version;
    int primed;
};

void ism_store_notify(ism_store *st)
{
    sqlite3_stmt *s;
    int port = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM service_state WHERE key='notify_port'", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            port = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    if (port > 0 && port < 65536)
        ism_udp_loopback_send(port);
}

int ism_watch_open(ism_watch **out, ism_store *st, ism_err *err)
{
    ism_watch *w = calloc(1, sizeof *w);
    int port = 0;
    char num[16];
    if (!w)
        return ism_err_set(err, ISM_E_STORE, "out of memory");
    w->st = st;
    if (ism_udp_loopback_bind(&w->sock, &port, err)) {
        free(w);
        return -1;
    }
    snprintf(num, sizeof num, "%d", port);
    if (exec(st, "BEGIN IMMEDIATE", err))
        goto fail;
    if (put_state(st, "notify_port", num, err)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    if (exec(st, "COMMIT", err))
        goto fail;
    *out = w;
    return 0;
fail:
    ism_sock_close(w->sock);
    free(w);
    return -1;
}

void ism_watch_close(ism_watch *w)
{
    if (!w)
        return;
    /* Writers stop signalling a port nobody listens on any more. */
    sqlite3_exec(w->st->db, "DELETE FROM service_state WHERE key='notify_port'", NULL, NULL, NULL);
    ism_sock_close(w->sock);
    free(w);
}

ism_sock ism_watch_sock(const ism_watch *w)
{
    return w->sock;
}

int ism_watch_changed(ism_watch *w, ism_err *err)
{
    int64_t dv = 0;
    ism_udp_drain(w->sock);
    if (ism_store_data_version(w->st, &dv, err))
        return -1;
    int changed = !w->primed || dv != w->data_version;
    w->primed = 1;
    w->data_version = dv;
    return changed;
}

/* ---- web SSL domains ---- */

static int bump_revision_and_commit(ism_store *st, ism_err *err)
{
    if (exec(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'", err) ||
        exec(st, "COMMIT", err))
        return -1;
    ism_store_notify(st);
    return 0;
}

static int domain_exists(ism_store *st, const char *domain, int *exists, ism_err *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM web_domains WHERE domain=?", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, "reading web domains");
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(st, err, "reading web domains");
    *exists = rc == SQLITE_ROW;
    return 0;
}

int ism_store_domain_put(ism_store *st, const ism_web_domain *d, ism_domain_mode mode, ism_err *err)
{
    int exists = 0;
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (domain_exists(st, d->domain, &exists, err))
        goto fail;
    if (mode == ISM_DOMAIN_ADD && exists) {
        ism_err_set(err, ISM_E_INVALID, "domain %s is already configured for SSL; use 'domain edit' to change it",
                    d->domain);
        goto fail;
    }
    if (mode == ISM_DOMAIN_EDIT && !exists) {
        ism_err_set(err, ISM_E_INVALID, "domain %s is not configured for SSL; use 'domain add' first", d->domain);
        goto fail;
    }
    {
        /* The domain's port must not collide with a mail listener. */
        ism_config cfg;
        ism_config_init(&cfg);
        int bad = load_locked(st, &cfg, err);
        ism_web_domain one = *d;
        cfg.web = &one;
        cfg.n_web = 1;
        if (!bad)
            bad = ism_config_check(&cfg, err);
        cfg.web = NULL;
        cfg.n_web = 0;
        ism_config_free(&cfg);
        if (bad)
            goto fail;
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO web_domains VALUES(?,?,?,?,?,?)", -1, &s, NULL) !=
        SQLITE_OK) {
        db_fail(st, err, "writing web domains");
        goto fail;
    }
    sqlite3_bind_text(s, 1, d->domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, d->ip, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, d->port);
    sqlite3_bind_text(s, 4, d->cert_file, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, d->key_file, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, d->ca_file, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        db_fail(st, err, "writing web domains");
        goto fail;
    }
    if (bump_revision_and_commit(st, err))
        goto fail;
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ism_store_domain_remove(ism_store *st, const char *domain, ism_err *err)
{
    int exists = 0;
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (domain_exists(st, domain, &exists, err))
        goto fail;
    if (!exists) {
        ism_err_set(err, ISM_E_INVALID, "domain %s is not configured for SSL; 'ismailctl domain list' shows them",
                    domain);
        goto fail;
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "DELETE FROM web_domains WHERE domain=?", -1, &s, NULL) != SQLITE_OK) {
        db_fail(st, err, "writing web domains");
        goto fail;
    }
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        db_fail(st, err, "writing web domains");
        goto fail;
    }
    if (bump_revision_and_commit(st, err))
        goto fail;
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Runs a SELECT and collects one element of elem_size bytes per row, filled
 * by row(); *out is malloc'd (free()), NULL when there are no rows. */
static int table_list(ism_store *st, const char *sql, const char *what, size_t elem_size,
                      void (*row)(sqlite3_stmt *s, void *elem), void **out, size_t *n, ism_err *err)
{
    sqlite3_stmt *s;
    size_t cap = 0, cnt = 0;
    char *v = NULL;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, err, what);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            char *nv = realloc(v, cap * elem_size);
            if (!nv) {
                free(v);
                sqlite3_finalize(s);
                return ism_err_set(err, ISM_E_STORE, "out of memory");
            }
            v = nv;
        }
        void *e = v + cnt++ * elem_size;
        memset(e, 0, elem_size);
        row(s, e);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(v);
        return db_fail(st, err, what);
    }
    *out = v;
    *n = cnt;
    return 0;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

static void domain_row(sqlite3_stmt *s, void *elem)
{
    ism_web_domain *d = elem;
    snprintf(d->domain, sizeof d->domain, "%s", col_text(s, 0));
    snprintf(d->ip, sizeof d->ip, "%s", col_text(s, 1));
    d->port = sqlite3_column_int(s, 2);
    snprintf(d->cert_file, sizeof d->cert_file, "%s", col_text(s, 3));
    snprintf(d->key_file, sizeof d->key_file, "%s", col_text(s, 4));
    snprintf(d->ca_file, sizeof d->ca_file, "%s", col_text(s, 5));
}

int ism_store_domain_list(ism_store *st, ism_web_domain **out, size_t *n, ism_err *err)
{
    return table_list(st, "SELECT domain, ip, port, cert_file, key_file, ca_file FROM web_domains ORDER BY domain",
                      "reading web domains", sizeof **out, domain_row, (void **)out, n, err);
}

/* ---- outgoing mail: routes and TLS policies ---- */

static const char *const policy_names[] = {"none", "may", "encrypt", "verify"};

const char *ism_tls_policy_name(ism_tls_policy p)
{
    return (unsigned)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

int ism_tls_policy_parse(const char *word, ism_tls_policy *out, ism_err *err)
{
    for (size_t i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (ism_str_ieq(word, policy_names[i])) {
            *out = (ism_tls_policy)i;
            return 0;
        }
    }
    return ism_err_set(err, ISM_E_INVALID,
                       "policy: '%s' is not a TLS policy; use none (plaintext), may (TLS when offered), "
                       "encrypt (TLS required) or verify (TLS with a verified certificate)",
                       word);
}

/* A destination domain: a host name, or "*" when star_ok; lower-cased. */
static int check_domain(const char *in, char *out, size_t outsz, int star_ok, ism_err *err)
{
    if (star_ok && strcmp(in, "*") == 0) {
        snprintf(out, outsz, "*");
        return 0;
    }
    if (!*in || ism_setting_normalize(ISM_S_SMTP_RELAY_HOST, in, out, outsz, NULL))
        return ism_err_set(err, ISM_E_INVALID, "domain: '%s' is not a domain name such as example.com%s", in,
                           star_ok ? " (or * for every other domain)" : "");
    return 0;
}

static int table_remove(ism_store *st, const char *sql, const char *domain, const char *what, const char *hint,
                        ism_err *err)
{
    sqlite3_stmt *s;
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_fail(st, err, what);
        goto fail;
    }
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        db_fail(st, err, what);
        goto fail;
    }
    if (sqlite3_changes(st->db) == 0) {
        ism_err_set(err, ISM_E_INVALID, "%s: nothing to remove; %s", domain, hint);
        goto fail;
    }
    if (bump_revision_and_commit(st, err))
        goto fail;
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Writes one row (domain, text, and an integer when num >= 0) with sql in
 * its own transaction, bumping the revision. */
static int table_upsert(ism_store *st, const char *sql, const char *what, const char *domain, const char *text,
                        int num, ism_err *err)
{
    sqlite3_stmt *s;
    if (exec(st, "BEGIN IMMEDIATE", err))
        return -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_fail(st, err, what);
        goto fail;
    }
    sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    if (num >= 0)
        sqlite3_bind_int(s, 3, num);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        db_fail(st, err, what);
        goto fail;
    }
    if (bump_revision_and_commit(st, err))
        goto fail;
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ism_store_route_put(ism_store *st, const ism_route *r, ism_err *err)
{
    ism_route c;
    memset(&c, 0, sizeof c);
    if (check_domain(r->domain, c.domain, sizeof c.domain, 1, err))
        return -1;
    if (!r->host[0] || (ism_setting_normalize(ISM_S_SMTP_RELAY_HOST, r->host, c.host, sizeof c.host, NULL) &&
                        ism_setting_normalize(ISM_S_LISTEN_ADDRESS, r->host, c.host, sizeof c.host, NULL)))
        return ism_err_set(err, ISM_E_INVALID, "host: '%s' is not a host name (mx.example.com) or an IP address",
                           r->host);
    if (r->port < 1 || r->port > 65535)
        return ism_err_set(err, ISM_E_INVALID, "port: %d is not a TCP port from 1 to 65535 (SMTP uses 25)", r->port);
    c.port = r->port;
    return table_upsert(st, "INSERT OR REPLACE INTO routes VALUES(?,?,?)", "writing routes", c.domain, c.host, c.port,
                        err);
}

int ism_store_route_remove(ism_store *st, const char *domain, ism_err *err)
{
    char d[256];
    if (check_domain(domain, d, sizeof d, 1, err))
        return -1;
    return table_remove(st, "DELETE FROM routes WHERE domain=?", d, "writing routes",
                        "'ismailctl route list' shows the routes", err);
}

static void route_row(sqlite3_stmt *s, void *elem)
{
    ism_route *r = elem;
    snprintf(r->domain, sizeof r->domain, "%s", col_text(s, 0));
    snprintf(r->host, sizeof r->host, "%s", col_text(s, 1));
    r->port = sqlite3_column_int(s, 2);
}

int ism_store_route_list(ism_store *st, ism_route **out, size_t *n, ism_err *err)
{
    return table_list(st, "SELECT domain, host, port FROM routes ORDER BY domain", "reading routes", sizeof **out,
                      route_row, (void **)out, n, err);
}

int ism_store_policy_put(ism_store *st, const ism_tls_policy_entry *e, ism_err *err)
{
    char d[256];
    if (check_domain(e->domain, d, sizeof d, 0, err))
        return -1;
    if ((unsigned)e->policy > ISM_TLS_POLICY_VERIFY)
        return ism_err_set(err, ISM_E_INVALID, "policy: not one of none, may, encrypt, verify");
    return table_upsert(st, "INSERT OR REPLACE INTO tls_policy VALUES(?,?)", "writing TLS policies", d,
                        ism_tls_policy_name(e->policy), -1, err);
}

int ism_store_policy_remove(ism_store *st, const char *domain, ism_err *err)
{
    char d[256];
    if (check_domain(domain, d, sizeof d, 0, err))
        return -1;
    return table_remove(st, "DELETE FROM tls_policy WHERE domain=?", d, "writing TLS policies",
                        "'ismailctl policy list' shows the policies", err);
}

static void policy_row(sqlite3_stmt *s, void *elem)
{
    ism_tls_policy_entry *e = elem;
    snprintf(e->domain, sizeof e->domain, "%s", col_text(s, 0));
    /* the CHECK constraint keeps other words out; "verify" is the safe reading otherwise */
    if (ism_tls_policy_parse(col_text(s, 1), &e->policy, NULL))
        e->policy = ISM_TLS_POLICY_VERIFY;
}

int ism_store_policy_list(ism_store *st, ism_tls_policy_entry **out, size_t *n, ism_err *err)
{
    return table_list(st, "SELECT domain, policy FROM tls_policy ORDER BY domain", "reading TLS policies",
                      sizeof **out, policy_row, (void **)out, n, err);
}
