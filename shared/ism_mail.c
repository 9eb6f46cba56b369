/* ism_mail: the mail store and the accounts (see ism_mail.h).
 *
 * One SQLite file (DATA/mail.db) in WAL mode, separate from the settings
 * store so that mail traffic never contends with the manager's Apply.
 * Writers take the lock up front (BEGIN IMMEDIATE) so two writers queue on
 * the busy timeout instead of failing half-way.
 *
 * Schema (version 1):
 *   meta(key, value)          schema_version, last_uidvalidity
 *   domains(domain)           the local domains, lower case
 *   accounts(id, address, password, uidvalidity, uidnext, created_ms)
 *                             password is "pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX"
 *   messages(account, uid, flags, received_ms, size, data)
 *
 * UIDs: each account keeps uidnext; a delivery takes it and bumps it in the
 * same transaction, so UIDs only grow and a removed message's UID is never
 * given out again (RFC 3501 2.3.1.1). UIDVALIDITY is the account's creation
 * time in seconds, but always above every value this store handed out
 * before, so an account removed and added again never repeats a
 * (UIDVALIDITY, UID) pair. */
#include "ism_mail.h"
#include "ism_platform.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
#define SALT_LEN 16
#define HASH_LEN 32
#define HASH_PREFIX "pbkdf2-sha256"
#define STR_(x) #x
#define STR(x) STR_(x)
/* Hashes read from the store are only trusted within these bounds, so a
 * damaged row cannot make one login spin for minutes. */
#define MIN_STORED_ITER 1000
#define MAX_STORED_ITER 10000000

struct ism_mail {
    sqlite3 *db;
    char path[1024];
};

static const char *const migrations[] = {
    /* to version 1 */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS domains(domain TEXT PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE,"
    " password TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS messages(account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0, received_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(account, uid)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('last_uidvalidity', '0');",
};

/* ---- errors ---- */

static int db_fail(ism_mail *m, ism_err *err, const char *what)
{
    int code = sqlite3_extended_errcode(m->db) & 0xff;
    const char *hint = "";
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        hint = "; another program holds the mail store locked, try again";
    else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        hint = "; the file is damaged: restore it from a backup";
    else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
        hint = "; check that the folder exists and that this account may write to it";
    else if (code == SQLITE_FULL)
        hint = "; the disk is full";
    return ism_err_set(err, ISM_E_STORE, "mail store %s: %s failed: %s%s", m->path, what, sqlite3_errmsg(m->db),
                       hint);
}

static int exec(ism_mail *m, const char *sql, ism_err *err)
{
    if (sqlite3_exec(m->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(m, err, sql);
    return 0;
}

static void rollback(ism_mail *m)
{
    sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(ism_mail *m, sqlite3_stmt **s, const char *sql, ism_err *err, const char *what)
{
    if (sqlite3_prepare_v2(m->db, sql, -1, s, NULL) != SQLITE_OK)
        return db_fail(m, err, what);
    return 0;
}

/* Steps a statement that returns no rows, finalizes it. */
static int run(ism_mail *m, sqlite3_stmt *s, ism_err *err, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        db_fail(m, err, what);
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

/* ---- names ---- */

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext. */
static int is_atext(char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Host-name syntax (RFC 1123 2.1): labels of letters, digits and hyphens,
 * no hyphen at either end of a label, 63 octets a label, 253 in all. */
static const char *domain_problem(const char *d, size_t len)
{
    if (len == 0)
        return "the domain is empty";
    if (len > 253)
        return "the domain is longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? d[i] : '.';
        if (c == '.') {
            if (label == 0)
                return "the domain has an empty label (two dots in a row, or a dot at either end)";
            if (d[i - 1] == '-' || d[i - label] == '-')
                return "a label of the domain starts or ends with a hyphen";
            if (label > 63)
                return "a label of the domain is longer than 63 characters";
            label = 0;
        } else if (is_alnum(c) || c == '-') {
            label++;
        } else {
            return "the domain may contain only letters, digits, hyphens and dots";
        }
    }
    return NULL;
}

int ism_mail_domain_normalize(const char *domain, char *out, size_t outsz, ism_err *err)
{
    size_t len = strlen(domain);
    const char *why = domain_problem(domain, len);
    if (why)
        return ism_err_set(err, ISM_E_INVALID, "domain '%.260s': %s; write it like example.com", domain, why);
    if (len >= outsz)
        return ism_err_set(err, ISM_E_INVALID, "domain '%.260s' is too long", domain);
    for (size_t i = 0; i <= len; i++)
        out[i] = lower_ascii(domain[i]);
    return 0;
}

int ism_mail_address_normalize(const char *address, char *out, size_t outsz, ism_err *err)
{
    const char *at = strrchr(address, '@');
    size_t len = strlen(address);
    const char *why = NULL;
    if (!at || at == address || !at[1])
        why = "it is not an e-mail address";
    else if (len > ISM_MAIL_MAX_ADDRESS)
        why = "an address is at most 254 characters";
    else if ((size_t)(at - address) > 64)
        why = "the part before the @ is longer than 64 characters";
    else {
        /* dot-atom: atext runs separated by single dots. */
        for (const char *p = address; p < at && !why; p++) {
            if (*p == '.') {
                if (p == address || p + 1 == at || p[1] == '.')
                    why = "the part before the @ has a dot at either end or two dots in a row";
            } else if (!is_atext(*p)) {
                why = "the part before the @ may contain only letters, digits, dots and !#$%&'*+-/=?^_`{|}~";
            }
        }
        if (!why)
            why = domain_problem(at + 1, strlen(at + 1));
    }
    if (why)
        return ism_err_set(err, ISM_E_INVALID, "address '%.260s': %s; write it as name@domain, e.g. alice@example.com",
                           address, why);
    if (len >= outsz)
        return ism_err_set(err, ISM_E_INVALID, "address '%.260s' is too long", address);
    for (size_t i = 0; i <= len; i++)
        out[i] = lower_ascii(address[i]);
    return 0;
}

/* ---- open, schema ---- */

static int meta_get(ism_mail *m, const char *key, int64_t *out, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(m, &s, "SELECT value FROM meta WHERE key=?", err, "reading meta"))
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(m, err, "reading meta");
    return 0;
}

static int meta_put(ism_mail *m, const char *key, int64_t value, ism_err *err)
{
    sqlite3_stmt *s;
    if (prepare(m, &s, "INSERT OR REPLACE INTO meta VALUES(?, ?)", err, "writing meta"))
        return -1;
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)value);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, num, -1, SQLITE_TRANSIENT);
    return run(m, s, err, "writing meta");
}

static int migrate(ism_mail *m, ism_err *err)
{
    int64_t have = 0;
    int has_meta = 0;
    sqlite3_stmt *s;
    if (exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (sqlite3_prepare_v2(m->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'", -1, &s, NULL) ==
        SQLITE_OK) {
        has_meta = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
    }
    if (has_meta && meta_get(m, "schema_version", &have, err))
        goto fail;
    if (have > SCHEMA_VERSION) {
        ism_err_set(err, ISM_E_STORE,
                    "mail store %s has schema version %lld, newer than this program understands (%d); "
                    "install the matching or a newer ISMail",
                    m->path, (long long)have, SCHEMA_VERSION);
        goto fail;
    }
    _Static_assert(sizeof migrations / sizeof migrations[0] == SCHEMA_VERSION, "one migration per schema version");
    for (int64_t v = have; v < SCHEMA_VERSION; v++)
        if (exec(m, migrations[v], err) || meta_put(m, "schema_version", v + 1, err))
            goto fail;
    return exec(m, "COMMIT", err);
fail:
    rollback(m);
    return -1;
}

int ism_mail_open(ism_mail **out, const char *path, ism_err *err)
{
    ism_mail *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return ism_err_set(err, ISM_E_STORE, "out of memory opening the mail store");
    snprintf(m->path, sizeof m->path, "%s", path);
    if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_fail(m, err, "opening");
        goto fail;
    }
    sqlite3_busy_timeout(m->db, BUSY_TIMEOUT_MS);
    if (exec(m, "PRAGMA journal_mode=WAL", err) || exec(m, "PRAGMA synchronous=NORMAL", err) ||
        exec(m, "PRAGMA foreign_keys=ON", err) || migrate(m, err))
        goto fail;
    *out = m;
    return 0;
fail:
    ism_mail_close(m);
    return -1;
}

void ism_mail_close(ism_mail *m)
{
    if (!m)
        return;
    sqlite3_close(m->db);
    free(m);
}

void ism_mail_free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Runs a one-column text query into a malloc'd list. */
static int text_list(ism_mail *m, const char *sql, char ***out, size_t *n, ism_err *err, const char *what)
{
    sqlite3_stmt *s;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (prepare(m, &s, sql, err, what))
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                goto oom;
            v = nv;
        }
        if (!(v[cnt] = malloc(strlen(t ? t : "") + 1)))
            goto oom;
        strcpy(v[cnt++], t ? t : "");
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        ism_mail_free_list(v, cnt);
        return db_fail(m, err, what);
    }
    *out = v;
    *n = cnt;
    return 0;
oom:
    sqlite3_finalize(s);
    ism_mail_free_list(v, cnt);
    return ism_err_set(err, ISM_E_STORE, "out of memory %s", what);
}

/* ---- local domains ---- */

static int count_where(ism_mail *m, const char *sql, const char *arg, int64_t *out, ism_err *err, const char *what)
{
    sqlite3_stmt *s;
    if (prepare(m, &s, sql, err, what))
        return -1;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return db_fail(m, err, what);
    return 0;
}

int ism_mail_domain_add(ism_mail *m, const char *domain, ism_err *err)
{
    char d[256];
    int64_t have = 0;
    sqlite3_stmt *s;
    if (ism_mail_domain_normalize(domain, d, sizeof d, err) || exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (count_where(m, "SELECT COUNT(*) FROM domains WHERE domain=?", d, &have, err, "reading local domains"))
        goto fail;
    if (have) {
        ism_err_set(err, ISM_E_INVALID, "domain %s is already a local domain", d);
        goto fail;
    }
    if (prepare(m, &s, "INSERT INTO domains VALUES(?)", err, "adding a local domain"))
        goto fail;
    sqlite3_bind_text(s, 1, d, -1, SQLITE_STATIC);
    if (run(m, s, err, "adding a local domain") || exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_domain_remove(ism_mail *m, const char *domain, ism_err *err)
{
    char d[256], like[300];
    int64_t have = 0, users = 0;
    sqlite3_stmt *s;
    if (ism_mail_domain_normalize(domain, d, sizeof d, err) || exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (count_where(m, "SELECT COUNT(*) FROM domains WHERE domain=?", d, &have, err, "reading local domains"))
        goto fail;
    if (!have) {
        ism_err_set(err, ISM_E_INVALID, "domain %s is not a local domain; 'ismailctl localdomain list' shows them", d);
        goto fail;
    }
    /* '_' and '%' cannot occur in a checked domain, so LIKE matches literally. */
    snprintf(like, sizeof like, "%%@%s", d);
    if (count_where(m, "SELECT COUNT(*) FROM accounts WHERE address LIKE ?", like, &users, err, "reading accounts"))
        goto fail;
    if (users) {
        ism_err_set(err, ISM_E_INVALID,
                    "domain %s still has %lld account%s; remove %s first ('ismailctl user list' shows them)", d,
                    (long long)users, users == 1 ? "" : "s", users == 1 ? "it" : "them");
        goto fail;
    }
    if (prepare(m, &s, "DELETE FROM domains WHERE domain=?", err, "removing a local domain"))
        goto fail;
    sqlite3_bind_text(s, 1, d, -1, SQLITE_STATIC);
    if (run(m, s, err, "removing a local domain") || exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_domain_list(ism_mail *m, char ***out, size_t *n, ism_err *err)
{
    return text_list(m, "SELECT domain FROM domains ORDER BY domain", out, n, err, "reading local domains");
}

int ism_mail_is_local_domain(ism_mail *m, const char *domain)
{
    char d[256];
    int64_t have = 0;
    if (!m || ism_mail_domain_normalize(domain, d, sizeof d, NULL))
        return 0;
    if (count_where(m, "SELECT COUNT(*) FROM domains WHERE domain=?", d, &have, NULL, "reading local domains"))
        return 0;
    return have > 0;
}

/* ---- passwords ---- */

static void hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(unsigned char *out, size_t n, const char *s, size_t slen)
{
    if (slen != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static int pbkdf2(const char *password, const unsigned char *salt, int iter, unsigned char *hash)
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, SALT_LEN, iter, EVP_sha256(), HASH_LEN, hash) == 1
               ? 0
               : -1;
}

static int password_check(const char *address, const char *password, ism_err *err)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return ism_err_set(err, ISM_E_INVALID,
                               "password for %s contains a control character (such as a tab or a line break); "
                               "choose one without",
                               address);
        if ((*p & 0xc0) != 0x80) /* count UTF-8 characters, not bytes */
            chars++;
    }
    if (chars < ISM_MAIL_MIN_PASSWORD)
        return ism_err_set(err, ISM_E_INVALID, "password for %s is too short: at least %d characters are needed",
                           address, ISM_MAIL_MIN_PASSWORD);
    if (strlen(password) > ISM_MAIL_MAX_PASSWORD)
        return ism_err_set(err, ISM_E_INVALID, "password for %s is too long: at most %d characters", address,
                           ISM_MAIL_MAX_PASSWORD);
    return 0;
}

/* out: "pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX". */
static int password_hash(const char *password, char *out, size_t outsz, ism_err *err)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    char salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];
    if (RAND_bytes(salt, sizeof salt) != 1 || pbkdf2(password, salt, ISM_MAIL_PBKDF2_ITER, hash)) {
        ism_err_set(err, ISM_E_STORE, "cannot hash the password");
        ism_err_add_openssl(err);
        return -1;
    }
    hex(salt_hex, salt, sizeof salt);
    hex(hash_hex, hash, sizeof hash);
    OPENSSL_cleanse(hash, sizeof hash);
    snprintf(out, outsz, "%s$%d$%s$%s", HASH_PREFIX, ISM_MAIL_PBKDF2_ITER, salt_hex, hash_hex);
    return 0;
}

/* 1 when password matches the stored hash, 0 when not or when it is unreadable. */
static int password_verify(const char *stored, const char *password)
{
    unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
    const char *p = stored, *d1, *d2, *d3;
    size_t plen = strlen(HASH_PREFIX);
    if (strncmp(p, HASH_PREFIX "$", plen + 1) != 0)
        return 0;
    p += plen + 1;
    d1 = strchr(p, '$');
    if (!d1)
        return 0;
    char *end;
    long iter = strtol(p, &end, 10);
    if (end != d1 || iter < MIN_STORED_ITER || iter > MAX_STORED_ITER)
        return 0;
    d2 = d1 + 1;
    d3 = strchr(d2, '$');
    if (!d3 || unhex(salt, SALT_LEN, d2, (size_t)(d3 - d2)) || unhex(want, HASH_LEN, d3 + 1, strlen(d3 + 1)))
        return 0;
    if (pbkdf2(password, salt, (int)iter, got))
        return 0;
    int ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

/* ---- accounts ---- */

/* Looks an account up by its normalized address. *id = 0 when there is none. */
static int account_find(ism_mail *m, const char *addr, int64_t *id, ism_err *err)
{
    sqlite3_stmt *s;
    *id = 0;
    if (prepare(m, &s, "SELECT id FROM accounts WHERE address=?", err, "reading accounts"))
        return -1;
    sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(m, err, "reading accounts");
    return 0;
}

/* Normalizes address and finds its account, failing with a message naming
 * it when there is no such account. */
static int account_need(ism_mail *m, const char *address, char *addr, int64_t *id, ism_err *err)
{
    if (ism_mail_address_normalize(address, addr, ISM_MAIL_MAX_ADDRESS + 1, err) || account_find(m, addr, id, err))
        return -1;
    if (!*id)
        return ism_err_set(err, ISM_E_INVALID, "no account %s; 'ismailctl user list' shows the accounts", addr);
    return 0;
}

int ism_mail_user_add(ism_mail *m, const char *address, const char *password, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1], hash[200];
    int64_t id = 0, local = 0, last = 0;
    sqlite3_stmt *s;
    if (ism_mail_address_normalize(address, addr, sizeof addr, err) || password_check(addr, password, err))
        return -1;
    const char *domain = strrchr(addr, '@') + 1;
    /* Hash before taking the write lock: it is the slow part. */
    if (password_hash(password, hash, sizeof hash, err) || exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (count_where(m, "SELECT COUNT(*) FROM domains WHERE domain=?", domain, &local, err, "reading local domains") ||
        account_find(m, addr, &id, err))
        goto fail;
    if (!local) {
        ism_err_set(err, ISM_E_INVALID,
                    "address %s: %s is not a local domain; add it first with 'ismailctl localdomain add %s'", addr,
                    domain, domain);
        goto fail;
    }
    if (id) {
        ism_err_set(err, ISM_E_INVALID, "account %s already exists; 'ismailctl user passwd %s' changes its password",
                    addr, addr);
        goto fail;
    }
    int64_t now_ms = ism_time_wall_ms(), uidvalidity = now_ms / 1000;
    if (meta_get(m, "last_uidvalidity", &last, err))
        goto fail;
    if (uidvalidity <= last)
        uidvalidity = last + 1;
    if (uidvalidity > 0xffffffffLL) {
        ism_err_set(err, ISM_E_STORE, "mail store %s: no UIDVALIDITY values left for new accounts", m->path);
        goto fail;
    }
    if (meta_put(m, "last_uidvalidity", uidvalidity, err) ||
        prepare(m, &s, "INSERT INTO accounts(address, password, uidvalidity, uidnext, created_ms) VALUES(?,?,?,1,?)",
                err, "adding an account"))
        goto fail;
    sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, uidvalidity);
    sqlite3_bind_int64(s, 4, now_ms);
    if (run(m, s, err, "adding an account") || exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_user_passwd(ism_mail *m, const char *address, const char *password, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1], hash[200];
    int64_t id;
    sqlite3_stmt *s;
    if (ism_mail_address_normalize(address, addr, sizeof addr, err) || password_check(addr, password, err) ||
        password_hash(password, hash, sizeof hash, err) || exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (account_need(m, addr, addr, &id, err) ||
        prepare(m, &s, "UPDATE accounts SET password=? WHERE id=?", err, "changing a password"))
        goto fail;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, id);
    if (run(m, s, err, "changing a password") || exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_user_remove(ism_mail *m, const char *address, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s;
    if (ism_mail_address_normalize(address, addr, sizeof addr, err) || exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    /* The account's messages go with it (ON DELETE CASCADE). */
    if (account_need(m, addr, addr, &id, err) ||
        prepare(m, &s, "DELETE FROM accounts WHERE id=?", err, "removing an account"))
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    if (run(m, s, err, "removing an account") || exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_user_list(ism_mail *m, char ***out, size_t *n, ism_err *err)
{
    return text_list(m, "SELECT address FROM accounts ORDER BY address", out, n, err, "reading accounts");
}

int ism_mail_user_exists(ism_mail *m, const char *address)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id = 0;
    if (!m || ism_mail_address_normalize(address, addr, sizeof addr, NULL) || account_find(m, addr, &id, NULL))
        return 0;
    return id != 0;
}

int ism_mail_auth_lookup(ism_mail *m, const char *address, char *stored, size_t storedsz)
{
    /* A well-formed hash of a random password: checking against it when the
     * account does not exist costs the same time as a real check, so the
     * answer's timing does not tell which accounts exist. */
    static const char decoy[] = HASH_PREFIX "$" STR(ISM_MAIL_PBKDF2_ITER) "$00112233445566778899aabbccddeeff$"
                                            "0000000000000000000000000000000000000000000000000000000000000000";
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    sqlite3_stmt *s;
    int found = 0;
    if (m && ism_mail_address_normalize(address ? address : "", addr, sizeof addr, NULL) == 0 &&
        sqlite3_prepare_v2(m->db, "SELECT password FROM accounts WHERE address=?", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(s, 0);
            snprintf(stored, storedsz, "%s", t ? t : "");
            found = 1;
        }
        sqlite3_finalize(s);
    }
    if (!found)
        snprintf(stored, storedsz, "%s", decoy);
    return found;
}

int ism_mail_password_check(const char *stored, const char *password)
{
    return password ? password_verify(stored, password) : 0;
}

int ism_mail_auth(ism_mail *m, const char *address, const char *password)
{
    char stored[ISM_MAIL_STORED_HASH_MAX];
    if (!m || !password)
        return 0;
    int found = ism_mail_auth_lookup(m, address, stored, sizeof stored);
    int ok = ism_mail_password_check(stored, password);
    return found && ok;
}

/* ---- messages ---- */

int ism_mail_deliver_many(ism_mail *m, const char *const *addresses, size_t n, const char *data, size_t len,
                          ism_err *err)
{
    int64_t now = ism_time_wall_ms();
    if (len > 0x7fffffff)
        return ism_err_set(err, ISM_E_INVALID, "message of %lu bytes is too large to store", (unsigned long)len);
    if (exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char addr[ISM_MAIL_MAX_ADDRESS + 1];
        int64_t id = 0, uid = 0;
        sqlite3_stmt *s;
        if (account_need(m, addresses[i], addr, &id, err) ||
            prepare(m, &s, "SELECT uidnext FROM accounts WHERE id=?", err, "reading an account"))
            goto fail;
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW)
            uid = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        if (uid < 1 || uid > 0xffffffffLL) {
            ism_err_set(err, ISM_E_STORE, "mailbox %s has used up its message numbers (UIDs)", addr);
            goto fail;
        }
        if (prepare(m, &s, "INSERT INTO messages(account, uid, flags, received_ms, size, data) VALUES(?,?,0,?,?,?)",
                    err, "storing a message"))
            goto fail;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, uid);
        sqlite3_bind_int64(s, 3, now);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)len);
        sqlite3_bind_blob(s, 5, len ? data : "", (int)len, SQLITE_STATIC);
        if (run(m, s, err, "storing a message") ||
            prepare(m, &s, "UPDATE accounts SET uidnext=uidnext+1 WHERE id=?", err, "storing a message"))
            goto fail;
        sqlite3_bind_int64(s, 1, id);
        if (run(m, s, err, "storing a message"))
            goto fail;
    }
    if (exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_deliver(ism_mail *m, const char *address, const char *data, size_t len, ism_err *err)
{
    return ism_mail_deliver_many(m, &address, 1, data, len, err);
}

int ism_mail_deliver_many_file(ism_mail *m, const char *const *addresses, size_t n, const char *head,
                               size_t head_len, FILE *rest, int64_t rest_len, ism_err *err)
{
    if (rest_len < 0 || (rest_len > 0 && !rest))
        return ism_err_set(err, ISM_E_INVALID, "a spooled message needs its file");
    if (head_len > 0x7fffffffu || (uint64_t)rest_len > 0x7fffffffu - head_len)
        return ism_err_set(err, ISM_E_INVALID, "message of %llu bytes is too large to store",
                           (unsigned long long)head_len + (unsigned long long)(rest_len > 0 ? rest_len : 0));
    size_t len = head_len + (size_t)rest_len;
    char *data = malloc(len ? len : 1);
    if (!data)
        return ism_err_set(err, ISM_E_STORE, "out of memory reading a message of %lu bytes to store it",
                           (unsigned long)len);
    if (head_len)
        memcpy(data, head, head_len);
    if (rest_len && (fseek(rest, 0, SEEK_SET) != 0 || fread(data + head_len, 1, (size_t)rest_len, rest) !=
                                                           (size_t)rest_len)) {
        free(data);
        return ism_err_set(err, ISM_E_IO, "reading a spooled message (%lld bytes) failed: %s", (long long)rest_len,
                           ferror(rest) ? strerror(errno) : "the file is shorter than written");
    }
    int rc = ism_mail_deliver_many(m, addresses, n, data, len, err);
    free(data);
    return rc;
}

int ism_mail_list(ism_mail *m, const char *address, ism_msg_info **out, size_t *n, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s;
    ism_msg_info *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (account_need(m, address, addr, &id, err) ||
        prepare(m, &s, "SELECT uid, size, flags, received_ms FROM messages WHERE account=? ORDER BY uid", err,
                "listing messages"))
        return -1;
    sqlite3_bind_int64(s, 1, id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            ism_msg_info *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                sqlite3_finalize(s);
                return ism_err_set(err, ISM_E_STORE, "out of memory listing the messages of %s", addr);
            }
            v = nv;
        }
        v[cnt].uid = (uint32_t)sqlite3_column_int64(s, 0);
        v[cnt].size = (size_t)sqlite3_column_int64(s, 1);
        v[cnt].flags = sqlite3_column_int(s, 2);
        v[cnt].received_ms = sqlite3_column_int64(s, 3);
        cnt++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(v);
        return db_fail(m, err, "listing messages");
    }
    *out = v;
    *n = cnt;
    return 0;
}

int ism_mail_uidvalidity(ism_mail *m, const char *address, uint32_t *uidvalidity, uint32_t *uidnext, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s;
    if (account_need(m, address, addr, &id, err) ||
        prepare(m, &s, "SELECT uidvalidity, uidnext FROM accounts WHERE id=?", err, "reading an account"))
        return -1;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (uidvalidity)
            *uidvalidity = (uint32_t)sqlite3_column_int64(s, 0);
        if (uidnext)
            *uidnext = (uint32_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return db_fail(m, err, "reading an account");
    return 0;
}

int ism_mail_fetch(ism_mail *m, const char *address, uint32_t uid, char **data, size_t *len, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s;
    *data = NULL;
    *len = 0;
    if (account_need(m, address, addr, &id, err) ||
        prepare(m, &s, "SELECT data FROM messages WHERE account=? AND uid=?", err, "reading a message"))
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, uid);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        if (rc == SQLITE_DONE)
            return ism_err_set(err, ISM_E_INVALID, "mailbox %s has no message with UID %lu", addr,
                               (unsigned long)uid);
        return db_fail(m, err, "reading a message");
    }
    const void *blob = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    char *p = malloc(n + 1);
    if (!p) {
        sqlite3_finalize(s);
        return ism_err_set(err, ISM_E_STORE, "out of memory reading a message of %s", addr);
    }
    if (n)
        memcpy(p, blob, n);
    p[n] = '\0';
    sqlite3_finalize(s);
    *data = p;
    *len = n;
    return 0;
}

int ism_mail_set_flags(ism_mail *m, const char *address, uint32_t uid, int flags, ism_err *err)
{
    const int all = ISM_FLAG_SEEN | ISM_FLAG_ANSWERED | ISM_FLAG_FLAGGED | ISM_FLAG_DELETED | ISM_FLAG_DRAFT;
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s;
    if (flags & ~all)
        return ism_err_set(err, ISM_E_INVALID, "flags 0x%x: only the IMAP system flags (ISM_FLAG_*) can be stored",
                           (unsigned)flags);
    if (exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (account_need(m, address, addr, &id, err) ||
        prepare(m, &s, "UPDATE messages SET flags=? WHERE account=? AND uid=?", err, "setting flags"))
        goto fail;
    sqlite3_bind_int(s, 1, flags);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_int64(s, 3, uid);
    if (run(m, s, err, "setting flags"))
        goto fail;
    if (sqlite3_changes(m->db) == 0) {
        ism_err_set(err, ISM_E_INVALID, "mailbox %s has no message with UID %lu", addr, (unsigned long)uid);
        goto fail;
    }
    if (exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    rollback(m);
    return -1;
}

int ism_mail_remove(ism_mail *m, const char *address, const uint32_t *uids, size_t n, ism_err *err)
{
    char addr[ISM_MAIL_MAX_ADDRESS + 1];
    int64_t id;
    sqlite3_stmt *s = NULL;
    if (exec(m, "BEGIN IMMEDIATE", err))
        return -1;
    if (account_need(m, address, addr, &id, err) ||
        prepare(m, &s, "DELETE FROM messages WHERE account=? AND uid=?", err, "removing messages"))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, uids[i]);
        if (sqlite3_step(s) != SQLITE_DONE) {
            db_fail(m, err, "removing messages");
            goto fail;
        }
    }
    sqlite3_finalize(s);
    s = NULL;
    if (exec(m, "COMMIT", err))
        goto fail;
    return 0;
fail:
    sqlite3_finalize(s);
    rollback(m);
    return -1;
}
