/* ism_queue: the outgoing mail queue and its decisions (see ism_queue.h).
 *
 * One SQLite file (DATA/queue.db) in WAL mode, apart from the settings and
 * the mail store, so that queue traffic never contends with either. Writers
 * take the lock up front (BEGIN IMMEDIATE).
 *
 * Schema (version 1):
 *   meta(key, value)     schema_version
 *   messages(id, sender, created_ms, size, data)
 *   items(id, msg, domain, rcpts, attempts, next_ms, last_ms, reason)
 *                        rcpts: the recipients still to deliver, one a line
 * Ids come from AUTOINCREMENT, so a number the administrator saw is never
 * given to another message later. */
#include "ism_queue.h"
#include "ism_mail.h"
#include "ism_platform.h"

#include <sqlite3.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
#define DSN_MAX_HEADERS 65536

struct ism_queue {
    sqlite3 *db;
    char path[1024];
};

static const char *const migrations[] = {
    /* to version 1 */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " msg INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE, domain TEXT NOT NULL,"
    " rcpts TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS items_next ON items(next_ms);"
    "CREATE INDEX IF NOT EXISTS items_msg ON items(msg);",
};

/* ---- errors and statements ---- */

static int db_fail(ism_queue *q, ism_err *err, const char *what)
{
    int code = sqlite3_extended_errcode(q->db) & 0xff;
    const char *hint = "";
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        hint = "; another program holds the queue locked, try again";
    else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        hint = "; the file is damaged: stop the service and restore it from a backup (moving it aside loses the "
               "queued mail)";
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
        hint = "; check that the folder exists and that this account may write to it";
    return ism_err_set(err, ISM_E_STORE, "mail queue %s: %s failed: %s%s", q->path, what, sqlite3_errmsg(q->db), hint);
}

static int exec(ism_queue *q, const char *sql, ism_err *err)
{
    if (sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(q, err, sql);
    return 0;
}

static void rollback(ism_queue *q)
{
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(ism_queue *q, sqlite3_stmt **s, const char *sql, ism_err *err, const char *what)
{
    if (sqlite3_prepare_v2(q->db, sql, -1, s, NULL) != SQLITE_OK) {
        *s = NULL;
        return db_fail(q, err, what);
    }
    return 0;
}

/* Steps a statement that returns no rows, then finalizes it. */
static int run(ism_queue *q, sqlite3_stmt *s, ism_err *err, const char *what)
{
    int rc = sqlite3_step(s);
    int bad = rc != SQLITE_DONE && rc != SQLITE_ROW;
    if (bad)
        db_fail(q, err, what);
    sqlite3_finalize(s);
    return bad ? -1 : 0;
}

static int migrate(ism_queue *q, ism_err *err)
{
    int64_t have = 0;
    sqlite3_stmt *s;
    if (exec(q, "BEGIN IMMEDIATE", err))
        return -1;
    if (sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            have = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    if (have > SCHEMA_VERSION) {
        ism_err_set(err, ISM_E_STORE,
                    "mail queue %s has schema version %lld, newer than this program understands (%d); "
                    "install the matching or a newer ISMail",
                    q->path, (long long)have, SCHEMA_VERSION);
        rollback(q);
        return -1;
    }
    _Static_assert(sizeof migrations / sizeof migrations[0] == SCHEMA_VERSION, "one migration per schema version");
    for (int64_t v = have; v < SCHEMA_VERSION; v++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES('schema_version', '%lld')", (long long)v + 1);
        if (exec(q, migrations[v], err) || exec(q, sql, err)) {
            rollback(q);
            return -1;
        }
    }
    return exec(q, "COMMIT", err);
}

int ism_queue_open(ism_queue **out, const char *path, ism_err *err)
{
    ism_queue *q = calloc(1, sizeof *q);
    if (!q)
        return ism_err_set(err, ISM_E_STORE, "out of memory opening the mail queue");
    snprintf(q->path, sizeof q->path, "%s", path);
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_fail(q, err, "opening");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    /* synchronous=FULL: a message the queue took (and a 250 we gave for it)
     * must survive a power cut, not only a crash. */
    if (exec(q, "PRAGMA journal_mode=WAL", err) || exec(q, "PRAGMA synchronous=FULL", err) ||
        exec(q, "PRAGMA foreign_keys=ON", err) || migrate(q, err))
        goto fail;
    *out = q;
    return 0;
fail:
    ism_queue_close(q);
    return -1;
}

void ism_queue_close(ism_queue *q)
{
    if (!q)
        return;
    sqlite3_close(q->db);
    free(q);
}

/* ---- adding ---- */

/* Checks an address and writes it with its domain lower-cased (the local
 * part of another server's address is its business, RFC 5321 2.4). */
static int address_canon(const char *in, char *out, size_t outsz, ism_err *err)
{
    char lower[ISM_MAIL_MAX_ADDRESS + 1];
    if (ism_mail_address_normalize(in, lower, sizeof lower, err))
        return -1;
    const char *at = strrchr(in, '@');
    size_t local = at ? (size_t)(at - in) : 0;
    snprintf(out, outsz, "%.*s%s", (int)local, in, lower + local);
    return 0;
}

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : addr;
}

static int cmp_by_domain(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int c = strcmp(domain_of(x), domain_of(y));
    return c ? c : strcmp(x, y);
}

/* The insert inside the caller's transaction. rcpts are canonical. */
static int add_locked(ism_queue *q, const char *sender, char **rcpts, size_t n, const char *data, size_t len,
                      int64_t now_ms, int64_t *msg_id, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, "INSERT INTO messages(sender, created_ms, size, data) VALUES(?,?,?,?)", err, "queueing"))
        return -1;
    sqlite3_bind_text(s, 1, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
    sqlite3_bind_blob64(s, 4, len ? data : "", (sqlite3_uint64)len, SQLITE_STATIC);
    if (run(q, s, err, "queueing"))
        return -1;
    int64_t msg = sqlite3_last_insert_rowid(q->db);
    qsort(rcpts, n, sizeof *rcpts, cmp_by_domain);
    ism_buf list = {0};
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(rcpts[i], rcpts[i - 1]) != 0) { /* the same recipient twice gets one copy */
            if (list.len)
                ism_buf_add(&list, "\n", 1);
            ism_buf_add(&list, rcpts[i], strlen(rcpts[i]));
        }
        if (i + 1 < n && strcmp(domain_of(rcpts[i]), domain_of(rcpts[i + 1])) == 0)
            continue;
        if (prepare(q, &s, "INSERT INTO items(msg, domain, rcpts, next_ms) VALUES(?,?,?,?)", err, "queueing")) {
            ism_buf_free(&list);
            return -1;
        }
        sqlite3_bind_int64(s, 1, msg);
        sqlite3_bind_text(s, 2, domain_of(rcpts[i]), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, list.p, (int)list.len, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 4, now_ms);
        list.len = 0;
        if (run(q, s, err, "queueing")) {
            ism_buf_free(&list);
            return -1;
        }
    }
    ism_buf_free(&list);
    if (msg_id)
        *msg_id = msg;
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Piece by piece, so that a large message is never held in memory whole:
 * message id's data becomes head followed by rest_len bytes read from the
 * start of rest, written with SQLite's incremental blob I/O into a
 * zero-filled blob of the final size. */
static int write_data(ism_queue *q, int64_t id, const char *head, size_t head_len, FILE *rest, int64_t rest_len,
                      ism_err *err)
{
    enum { PIECE = 64 * 1024 };
    if (head_len > 0x7fffffffu || rest_len < 0 || (uint64_t)rest_len > 0x7fffffffu - head_len)
        return ism_err_set(err, ISM_E_INVALID, "message of %llu bytes is too large to queue",
                           (unsigned long long)head_len + (unsigned long long)(rest_len > 0 ? rest_len : 0));
    int total = (int)(head_len + (size_t)rest_len);
    sqlite3_stmt *s;
    if (prepare(q, &s, "UPDATE messages SET size=?1, data=zeroblob(?1) WHERE id=?2", err, "queueing"))
        return -1;
    sqlite3_bind_int(s, 1, total);
    sqlite3_bind_int64(s, 2, id);
    if (run(q, s, err, "queueing"))
        return -1;
    sqlite3_blob *b;
    if (sqlite3_blob_open(q->db, "main", "messages", "data", id, 1, &b) != SQLITE_OK)
        return db_fail(q, err, "queueing (opening the message data)");
    char *piece = rest_len ? malloc(PIECE) : NULL;
    int rc = 0, off = (int)head_len;
    if (head_len && sqlite3_blob_write(b, head, (int)head_len, 0) != SQLITE_OK)
        rc = db_fail(q, err, "queueing (writing the message data)");
    else if (rest_len && (!piece || fseek(rest, 0, SEEK_SET) != 0))
        rc = ism_err_set(err, ISM_E_IO, "queueing: %s", piece ? "the spooled message cannot be read" : "out of memory");
    while (rc == 0 && off < total) {
        size_t want = (size_t)(total - off) < PIECE ? (size_t)(total - off) : PIECE;
        if (fread(piece, 1, want, rest) != want)
            rc = ism_err_set(err, ISM_E_IO, "queueing: reading the spooled message failed: %s",
                             ferror(rest) ? strerror(errno) : "the file is shorter than written");
        else if (sqlite3_blob_write(b, piece, (int)want, off) != SQLITE_OK)
            rc = db_fail(q, err, "queueing (writing the message data)");
        off += (int)want;
    }
    free(piece);
    if (sqlite3_blob_close(b) != SQLITE_OK && rc == 0)
        rc = db_fail(q, err, "queueing (writing the message data)");
    return rc;
}

/* ism_queue_add and ism_queue_add_file: the message is data[len], or with
 * rest, data[len] followed by the spooled part. */
static int add_message(ism_queue *q, const char *sender, const char *const *rcpts, size_t n, const char *data,
                       size_t len, FILE *rest, int64_t rest_len, int64_t *msg_id, ism_err *err)
{
    char from[ISM_QUEUE_MAX_ADDRESS + 1] = "";
    if (n == 0)
        return ism_err_set(err, ISM_E_INVALID, "a message needs at least one recipient");
    if (n > ISM_QUEUE_MAX_RCPTS)
        return ism_err_set(err, ISM_E_INVALID, "a message may have at most %d recipients", ISM_QUEUE_MAX_RCPTS);
    if (sender && *sender && address_canon(sender, from, sizeof from, err))
        return -1;
    char **canon = calloc(n, sizeof *canon);
    if (!canon)
        return ism_err_set(err, ISM_E_STORE, "out of memory");
    for (size_t i = 0; i < n; i++) {
        canon[i] = malloc(ISM_QUEUE_MAX_ADDRESS + 1);
        if (!canon[i] || address_canon(rcpts[i], canon[i], ISM_QUEUE_MAX_ADDRESS + 1, err)) {
            if (!canon[i])
                ism_err_set(err, ISM_E_STORE, "out of memory");
            free_strings(canon, n);
            return -1;
        }
    }
    int rc = -1;
    int64_t id = 0;
    if (exec(q, "BEGIN IMMEDIATE", err) == 0) {
        if (add_locked(q, from, canon, n, rest ? "" : data, rest ? 0 : len, ism_time_wall_ms(), &id, err) == 0 &&
            (!rest || write_data(q, id, data, len, rest, rest_len, err) == 0) && exec(q, "COMMIT", err) == 0)
            rc = 0;
        else
            rollback(q);
    }
    free_strings(canon, n);
    if (rc == 0 && msg_id)
        *msg_id = id;
    return rc;
}

int ism_queue_add(ism_queue *q, const char *sender, const char *const *rcpts, size_t n, const char *data, size_t len,
                  int64_t *msg_id, ism_err *err)
{
    return add_message(q, sender, rcpts, n, data, len, NULL, 0, msg_id, err);
}

int ism_queue_add_file(ism_queue *q, const char *sender, const char *const *rcpts, size_t n, const char *head,
                       size_t head_len, FILE *rest, int64_t rest_len, int64_t *msg_id, ism_err *err)
{
    if (rest_len < 0 || (rest_len > 0 && !rest))
        return ism_err_set(err, ISM_E_INVALID, "a spooled message needs its file");
    return add_message(q, sender, rcpts, n, head, head_len, rest_len ? rest : NULL, rest_len, msg_id, err);
}

/* ---- reading ---- */

static int split_lines(const char *text, char ***out, size_t *n)
{
    size_t cnt = 0, cap = 4;
    char **v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    while (text && *text) {
        size_t l = strcspn(text, "\n");
        if (l > 0) {
            if (cnt == cap) {
                char **nv = realloc(v, (cap *= 2) * sizeof *v);
                if (!nv) {
                    free_strings(v, cnt);
                    return -1;
                }
                v = nv;
            }
            v[cnt] = malloc(l + 1);
            if (!v[cnt]) {
                free_strings(v, cnt);
                return -1;
            }
            memcpy(v[cnt], text, l);
            v[cnt++][l] = '\0';
        }
        text += l;
        if (*text)
            text++;
    }
    *out = v;
    *n = cnt;
    return 0;
}

#define ITEM_COLUMNS                                                                                                 \
    "SELECT i.id, i.msg, m.sender, i.domain, i.rcpts, i.attempts, m.created_ms, i.next_ms, i.last_ms, m.size,"       \
    " i.reason FROM items i JOIN messages m ON m.id = i.msg"

static int read_items(ism_queue *q, sqlite3_stmt *s, ism_queue_item **out, size_t *n, ism_err *err)
{
    size_t cap = 0, cnt = 0;
    ism_queue_item *v = NULL;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            ism_queue_item *nv = realloc(v, cap * sizeof *v);
            if (!nv)
                goto oom;
            v = nv;
        }
        ism_queue_item *it = &v[cnt];
        memset(it, 0, sizeof *it);
        it->id = sqlite3_column_int64(s, 0);
        it->msg = sqlite3_column_int64(s, 1);
        snprintf(it->sender, sizeof it->sender, "%s", (const char *)sqlite3_column_text(s, 2));
        snprintf(it->domain, sizeof it->domain, "%s", (const char *)sqlite3_column_text(s, 3));
        if (split_lines((const char *)sqlite3_column_text(s, 4), &it->rcpts, &it->n_rcpts))
            goto oom;
        cnt++;
        it->attempts = sqlite3_column_int(s, 5);
        it->created_ms = sqlite3_column_int64(s, 6);
        it->next_ms = sqlite3_column_int64(s, 7);
        it->last_ms = sqlite3_column_int64(s, 8);
        it->size = (size_t)sqlite3_column_int64(s, 9);
        snprintf(it->reason, sizeof it->reason, "%s", (const char *)sqlite3_column_text(s, 10));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        ism_queue_items_free(v, cnt);
        return db_fail(q, err, "reading the queue");
    }
    *out = v;
    *n = cnt;
    return 0;
oom:
    sqlite3_finalize(s);
    ism_queue_items_free(v, cnt);
    return ism_err_set(err, ISM_E_STORE, "out of memory reading the mail queue");
}

void ism_queue_items_free(ism_queue_item *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free_strings(v[i].rcpts, v[i].n_rcpts);
    free(v);
}

int ism_queue_list(ism_queue *q, ism_queue_item **out, size_t *n, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, ITEM_COLUMNS " ORDER BY i.id", err, "reading the queue"))
        return -1;
    return read_items(q, s, out, n, err);
}

int ism_queue_due(ism_queue *q, int64_t now_ms, size_t max, ism_queue_item **out, size_t *n, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, ITEM_COLUMNS " WHERE i.next_ms <= ? ORDER BY i.next_ms, i.id LIMIT ?", err,
                "reading the queue"))
        return -1;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    return read_items(q, s, out, n, err);
}

int ism_queue_next_due(ism_queue *q, int64_t *next_ms, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, "SELECT MIN(next_ms) FROM items", err, "reading the queue"))
        return -1;
    int rc = sqlite3_step(s);
    *next_ms = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : db_fail(q, err, "reading the queue");
}

int ism_queue_data(ism_queue *q, int64_t msg, char **data, size_t *len, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, "SELECT data FROM messages WHERE id=?", err, "reading a queued message"))
        return -1;
    sqlite3_bind_int64(s, 1, msg);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        if (rc == SQLITE_DONE)
            return ism_err_set(err, ISM_E_USAGE, "message %lld is no longer in the queue", (long long)msg);
        return db_fail(q, err, "reading a queued message");
    }
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    char *p = malloc(n + 1);
    if (!p) {
        sqlite3_finalize(s);
        return ism_err_set(err, ISM_E_STORE, "out of memory reading a queued message");
    }
    if (n)
        memcpy(p, sqlite3_column_blob(s, 0), n);
    p[n] = '\0';
    sqlite3_finalize(s);
    *data = p;
    *len = n;
    return 0;
}

/* ---- the administrator's commands ---- */

int ism_queue_retry(ism_queue *q, int64_t id, int64_t now_ms, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, id ? "UPDATE items SET next_ms=? WHERE id=?" : "UPDATE items SET next_ms=?", err,
                "rescheduling"))
        return -1;
    sqlite3_bind_int64(s, 1, now_ms);
    if (id)
        sqlite3_bind_int64(s, 2, id);
    if (run(q, s, err, "rescheduling"))
        return -1;
    if (id && sqlite3_changes(q->db) == 0)
        return ism_err_set(err, ISM_E_INVALID, "queue item %lld does not exist; 'ismailctl queue list' shows the queue",
                           (long long)id);
    return 0;
}

/* Drops the message once no item refers to it (inside a transaction). */
static int drop_orphan(ism_queue *q, int64_t msg, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, "DELETE FROM messages WHERE id=? AND NOT EXISTS (SELECT 1 FROM items WHERE msg=?)", err,
                "removing a message"))
        return -1;
    sqlite3_bind_int64(s, 1, msg);
    sqlite3_bind_int64(s, 2, msg);
    return run(q, s, err, "removing a message");
}

static int item_msg(ism_queue *q, int64_t id, int64_t *msg, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(q, &s, "SELECT msg FROM items WHERE id=?", err, "reading the queue"))
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    *msg = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(q, err, "reading the queue");
    return 0;
}

int ism_queue_remove(ism_queue *q, int64_t id, ism_err *err)
{
    int64_t msg = 0;
    sqlite3_stmt *s;
    if (exec(q, "BEGIN IMMEDIATE", err))
        return -1;
    if (item_msg(q, id, &msg, err))
        goto fail;
    if (!msg) {
        ism_err_set(err, ISM_E_INVALID, "queue item %lld does not exist; 'ismailctl queue list' shows the queue",
                    (long long)id);
        goto fail;
    }
    if (prepare(q, &s, "DELETE FROM items WHERE id=?", err, "removing an item"))
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    if (run(q, s, err, "removing an item") || drop_orphan(q, msg, err) || exec(q, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(q);
    return -1;
}

/* ---- bounces (RFC 3464) ---- */

/* RFC 5322 date in UTC, from Unix milliseconds, without the C library's
 * non-portable gmtime variants (days-from-civil, inverted). */
static void rfc5322_date(char *out, size_t outsz, int64_t ms)
{
    static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[((days % 7) + 7) % 7], (int)d, mon[m - 1],
             (int)y, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* Copies text that came from another server into a header or report line:
 * printable ASCII only, at most max bytes. */
static void clean_text(char *out, size_t outsz, const char *in, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; in && in[i] && i < max && k + 1 < outsz; i++) {
        unsigned char c = (unsigned char)in[i];
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\t' ? ' ' : '?');
    }
    out[k] = '\0';
}

/* The status for a reason: "550 5.1.1 ..." -> 5.1.1, "550 no" -> 5.0.0,
 * "5.1.2 ..." -> 5.1.2; *smtp says whether the reason is an SMTP reply. */
static void reason_status(const char *reason, char *status, size_t statussz, int *smtp)
{
    const char *p = reason;
    *smtp = 0;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
        (p[3] == ' ' || p[3] == '-' || p[3] == '\0')) {
        *smtp = 1;
        snprintf(status, statussz, "%c.0.0", p[0] == '4' ? '4' : '5');
        p += p[3] ? 4 : 3;
    }
    /* an enhanced status code: class.subject.detail (RFC 3463) */
    if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
        size_t n = strspn(p, "0123456789.");
        if (n >= 5 && n < 12 && (p[n] == ' ' || p[n] == '\0'))
            snprintf(status, statussz, "%.*s", (int)n, p);
        else if (!*smtp)
            snprintf(status, statussz, "5.0.0");
    } else if (!*smtp) {
        snprintf(status, statussz, "5.0.0");
    }
}

void ism_queue_dsn(ism_buf *out, const char *hostname, const char *sender, const ism_dsn_rcpt *rcpts, size_t n,
                   const char *orig, size_t orig_len, int64_t arrival_ms, int64_t now_ms)
{
    char now[64], arrived[64], boundary[96], host[256];
    clean_text(host, sizeof host, hostname && *hostname ? hostname : "localhost", 253);
    rfc5322_date(now, sizeof now, now_ms);
    rfc5322_date(arrived, sizeof arrived, arrival_ms);
    snprintf(boundary, sizeof boundary, "=_ismail_dsn_%lld_%lu", (long long)now_ms, (unsigned long)orig_len);
    ism_buf_printf(out,
                   "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
                   "To: <%s>\r\n"
                   "Subject: Undelivered Mail Returned to Sender\r\n"
                   "Date: %s\r\n"
                   "Message-ID: <dsn.%lld.%lu@%s>\r\n"
                   "Auto-Submitted: auto-replied\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                   "\tboundary=\"%s\"\r\n"
                   "\r\n"
                   "This is a MIME-encapsulated message.\r\n"
                   "\r\n"
                   "--%s\r\n"
                   "Content-Type: text/plain; charset=us-ascii\r\n"
                   "Content-Description: Notification\r\n"
                   "\r\n"
                   "This is the mail system at host %s.\r\n"
                   "\r\n"
                   "Your message could not be delivered to %s. The reason%s below.\r\n"
                   "\r\n",
                   host, sender, now, (long long)now_ms, (unsigned long)orig_len, host, boundary, boundary, host,
                   n == 1 ? "one recipient" : "some recipients", n == 1 ? " is" : "s are");
    for (size_t i = 0; i < n; i++) {
        char r[600], why[600];
        clean_text(r, sizeof r, rcpts[i].rcpt, 256);
        clean_text(why, sizeof why, rcpts[i].reason, 500);
        ism_buf_printf(out, "<%s>: %s\r\n\r\n", r, why);
    }
    ism_buf_printf(out,
                   "--%s\r\n"
                   "Content-Type: message/delivery-status\r\n"
                   "Content-Description: Delivery report\r\n"
                   "\r\n"
                   "Reporting-MTA: dns; %s\r\n"
                   "Arrival-Date: %s\r\n",
                   boundary, host, arrived);
    for (size_t i = 0; i < n; i++) {
        char r[600], why[600], status[16];
        int smtp;
        clean_text(r, sizeof r, rcpts[i].rcpt, 256);
        clean_text(why, sizeof why, rcpts[i].reason, 500);
        reason_status(why, status, sizeof status, &smtp);
        ism_buf_printf(out, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n", r, status);
        if (smtp)
            ism_buf_printf(out, "Diagnostic-Code: smtp; %s\r\n", why);
        ism_buf_printf(out, "Last-Attempt-Date: %s\r\n", now);
    }
    ism_buf_printf(out,
                   "\r\n--%s\r\n"
                   "Content-Type: text/rfc822-headers\r\n"
                   "Content-Description: Undelivered Message Headers\r\n"
                   "\r\n",
                   boundary);
    /* The original header section, up to its empty line. */
    size_t hlen = orig_len;
    for (size_t i = 0; i + 1 < orig_len; i++)
        if (orig[i] == '\n' && (orig[i + 1] == '\n' || (orig[i + 1] == '\r' && i + 2 < orig_len && orig[i + 2] == '\n'))) {
            hlen = i + 1;
            break;
        }
    if (hlen > DSN_MAX_HEADERS)
        hlen = DSN_MAX_HEADERS;
    if (hlen)
        ism_buf_add(out, orig, hlen);
    if (hlen && orig[hlen - 1] != '\n')
        ism_buf_add(out, "\r\n", 2);
    ism_buf_printf(out, "\r\n--%s--\r\n", boundary);
}

/* ---- recording an attempt ---- */

int64_t ism_queue_backoff_ms(int attempts)
{
    static const int minutes[] = {1, 5, 15, 30, 60};
    int i = attempts < 1 ? 0 : attempts > 5 ? 4 : attempts - 1;
    return (int64_t)minutes[i] * 60000;
}

int64_t ism_queue_max_age_ms(const ism_config *cfg)
{
    int days = ism_config_int(cfg, ISM_S_SMTP_QUEUE_MAX_AGE);
    return (int64_t)(days > 0 ? days : 5) * 86400000;
}

typedef struct {
    int64_t msg, created_ms;
    int attempts;
    char sender[ISM_QUEUE_MAX_ADDRESS + 1];
    char **rcpts;
    size_t n;
} item_row;

static int load_row(ism_queue *q, int64_t id, item_row *r, int *found, ism_err *err)
{
    sqlite3_stmt *s;
    memset(r, 0, sizeof *r);
    *found = 0;
    if (prepare(q, &s,
                "SELECT i.msg, m.created_ms, i.attempts, m.sender, i.rcpts FROM items i JOIN messages m ON m.id=i.msg"
                " WHERE i.id=?",
                err, "reading the queue"))
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        r->msg = sqlite3_column_int64(s, 0);
        r->created_ms = sqlite3_column_int64(s, 1);
        r->attempts = sqlite3_column_int(s, 2);
        snprintf(r->sender, sizeof r->sender, "%s", (const char *)sqlite3_column_text(s, 3));
        if (split_lines((const char *)sqlite3_column_text(s, 4), &r->rcpts, &r->n)) {
            sqlite3_finalize(s);
            return ism_err_set(err, ISM_E_STORE, "out of memory reading the mail queue");
        }
        *found = 1;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(q, err, "reading the queue");
    return 0;
}

/* Queues the bounce for the failed recipients inside the transaction. */
static int queue_bounce(ism_queue *q, const item_row *r, const ism_dsn_rcpt *failed, size_t nf, int64_t now_ms,
                        const ism_queue_opts *opts, int64_t *bounce_msg, ism_err *err)
{
    char *orig = NULL;
    size_t olen = 0;
    if (ism_queue_data(q, r->msg, &orig, &olen, err))
        return -1;
    ism_buf dsn = {0};
    ism_queue_dsn(&dsn, opts->hostname, r->sender, failed, nf, orig, olen, r->created_ms, now_ms);
    free(orig);
    char *to = strdup(r->sender);
    int rc = to ? add_locked(q, "", &to, 1, dsn.p, dsn.len, now_ms, bounce_msg, err)
                : ism_err_set(err, ISM_E_STORE, "out of memory");
    free(to);
    ism_buf_free(&dsn);
    return rc;
}

int ism_queue_record(ism_queue *q, int64_t id, const ism_rcpt_outcome *res, size_t n, int64_t now_ms,
                     const ism_queue_opts *opts, ism_queue_recorded *out, ism_err *err)
{
    ism_queue_recorded rec;
    item_row r;
    int found = 0, rc = -1;
    size_t nf = 0, nd = 0;
    ism_dsn_rcpt *failed = NULL;
    char **expired_reasons = NULL;
    const char *defer_reason = NULL;
    ism_buf keep = {0};
    memset(&rec, 0, sizeof rec);
    if (exec(q, "BEGIN IMMEDIATE", err))
        return -1;
    if (load_row(q, id, &r, &found, err))
        goto out;
    if (!found) {
        rc = exec(q, "COMMIT", err);
        goto out;
    }
    failed = calloc(r.n ? r.n : 1, sizeof *failed);
    expired_reasons = calloc(r.n ? r.n : 1, sizeof *expired_reasons);
    if (!failed || !expired_reasons) {
        ism_err_set(err, ISM_E_STORE, "out of memory");
        goto out;
    }
    int too_old = opts && opts->max_age_ms > 0 && now_ms - r.created_ms >= opts->max_age_ms;
    for (size_t i = 0; i < r.n; i++) {
        const ism_rcpt_outcome *o = NULL;
        for (size_t k = 0; k < n && !o; k++)
            if (res[k].rcpt && strcmp(res[k].rcpt, r.rcpts[i]) == 0)
                o = &res[k];
        ism_rcpt_result result = o ? o->result : ISM_RCPT_DEFER;
        const char *why = o && o->reason && *o->reason ? o->reason : "4.0.0 not attempted";
        if (result == ISM_RCPT_SENT) {
            rec.sent++;
        } else if (result == ISM_RCPT_FAIL) {
            failed[nf].rcpt = r.rcpts[i];
            failed[nf++].reason = why;
            rec.failed++;
        } else if (too_old) {
            /* RFC 5321 4.5.4.1: give up after the queue's lifetime. */
            char *x = malloc(800);
            if (!x) {
                ism_err_set(err, ISM_E_STORE, "out of memory");
                goto out;
            }
            snprintf(x, 800, "4.4.7 gave up after %lld days in the queue; the last attempt said: %s",
                     (long long)((now_ms - r.created_ms) / 86400000), why);
            expired_reasons[i] = x;
            failed[nf].rcpt = r.rcpts[i];
            failed[nf++].reason = x;
            rec.failed++;
            rec.expired = 1;
        } else {
            if (!defer_reason)
                defer_reason = why;
            if (keep.len)
                ism_buf_add(&keep, "\n", 1);
            ism_buf_add(&keep, r.rcpts[i], strlen(r.rcpts[i]));
            nd++;
        }
    }
    rec.deferred = nd;
    /* Never bounce a bounce (its sender is <>). */
    if (nf > 0 && r.sender[0] && queue_bounce(q, &r, failed, nf, now_ms, opts, &rec.bounce_msg, err))
        goto out;
    sqlite3_stmt *s;
    if (nd == 0) {
        if (prepare(q, &s, "DELETE FROM items WHERE id=?", err, "recording a delivery"))
            goto out;
        sqlite3_bind_int64(s, 1, id);
        if (run(q, s, err, "recording a delivery") || drop_orphan(q, r.msg, err))
            goto out;
    } else {
        rec.next_ms = now_ms + ism_queue_backoff_ms(r.attempts + 1);
        if (prepare(q, &s, "UPDATE items SET rcpts=?, attempts=attempts+1, last_ms=?, next_ms=?, reason=? WHERE id=?",
                    err, "recording a delivery"))
            goto out;
        sqlite3_bind_text(s, 1, keep.p, (int)keep.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now_ms);
        sqlite3_bind_int64(s, 3, rec.next_ms);
        sqlite3_bind_text(s, 4, defer_reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, id);
        if (run(q, s, err, "recording a delivery"))
            goto out;
    }
    rc = exec(q, "COMMIT", err);
out:
    if (rc)
        rollback(q);
    else if (out)
        *out = rec;
    for (size_t i = 0; expired_reasons && i < r.n; i++)
        free(expired_reasons[i]);
    free(expired_reasons);
    free(failed);
    free_strings(r.rcpts, r.n);
    ism_buf_free(&keep);
    return rc;
}

/* ---- where mail goes and how ---- */

void ism_outgoing_next_hop(const ism_config *cfg, const ism_route *routes, size_t n, const char *domain,
                           ism_next_hop *out)
{
    const ism_route *star = NULL;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(routes[i].domain, domain) == 0) {
            out->kind = ISM_HOP_ROUTE;
            snprintf(out->host, sizeof out->host, "%s", routes[i].host);
            out->port = routes[i].port;
            snprintf(out->via, sizeof out->via, "route for %s", domain);
            return;
        }
        if (strcmp(routes[i].domain, "*") == 0)
            star = &routes[i];
    }
    if (star) {
        out->kind = ISM_HOP_ROUTE;
        snprintf(out->host, sizeof out->host, "%s", star->host);
        out->port = star->port;
        snprintf(out->via, sizeof out->via, "route for *");
        return;
    }
    const char *relay = ism_config_str(cfg, ISM_S_SMTP_RELAY_HOST);
    if (*relay) {
        out->kind = ISM_HOP_RELAY;
        snprintf(out->host, sizeof out->host, "%s", relay);
        out->port = 25;
        snprintf(out->via, sizeof out->via, "smart host (smtp.relay.host)");
        return;
    }
    out->kind = ISM_HOP_MX;
    snprintf(out->host, sizeof out->host, "%s", domain);
    out->port = 25;
    snprintf(out->via, sizeof out->via, "MX");
}

ism_tls_policy ism_outgoing_policy(const ism_config *cfg, const ism_tls_policy_entry *tbl, size_t n,
                                   const char *domain, const char **source)
{
    const char *dummy;
    if (!source)
        source = &dummy;
    for (size_t i = 0; i < n; i++)
        if (strcmp(tbl[i].domain, domain) == 0) {
            *source = "the policy table";
            return tbl[i].policy;
        }
    if (!ism_config_bool(cfg, ISM_S_SMTP_TLS_OUTGOING)) {
        *source = "SMTP Outgoing is off";
        return ISM_TLS_POLICY_NONE;
    }
    if (ism_config_bool(cfg, ISM_S_SMTP_TLS_VERIFY_DOMAIN)) {
        *source = "Verify Certificate Domain is on";
        return ISM_TLS_POLICY_VERIFY;
    }
    *source = "SMTP Outgoing is on";
    return ISM_TLS_POLICY_MAY;
}
