/* ism_limits: per-address and per-account limits (see ism_limits.h). */
#include "ism_limits.h"

#include "ism_platform.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
/* Entries kept for failed logins alone; past this, a new address or account
 * is not counted (its failures still get the back-off of the first one). */
#define MAX_FAILURE_ENTRIES 100000

typedef struct entry {
    struct entry *next;
    int conns;
    int64_t data;
    int failures;
    int64_t last_fail;
    int64_t locked_until;
    char key[]; /* "a:ADDRESS" or "u:account", lower case */
} entry;

struct ism_limits {
    ism_mutex *lock;
    ism_limits_cfg cfg;
    entry *bucket[BUCKETS];
    size_t n;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static void make_key(char *key, size_t sz, char kind, const char *name)
{
    size_t i = 0;
    key[i++] = kind;
    key[i++] = ':';
    for (; name && *name && i + 1 < sz; name++)
        key[i++] = (char)tolower((unsigned char)*name);
    key[i] = '\0';
}

/* The entry for key; created when create is set (NULL if it cannot be). */
static entry *find(ism_limits *l, const char *key, int create)
{
    uint32_t h = hash(key);
    for (entry *e = l->bucket[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create || l->n >= MAX_FAILURE_ENTRIES + 100000)
        return NULL;
    size_t kl = strlen(key);
    entry *e = calloc(1, sizeof *e + kl + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, kl + 1);
    e->next = l->bucket[h];
    l->bucket[h] = e;
    l->n++;
    return e;
}

/* Takes the lock and returns addr's entry (created when create is set; NULL
 * when there is none). The caller unlocks. */
static entry *lock_addr(ism_limits *l, const char *addr, int create)
{
    char key[80];
    make_key(key, sizeof key, 'a', addr);
    ism_mutex_lock(l->lock);
    return find(l, key, create);
}

int ism_limits_new(ism_limits **out, ism_err *err)
{
    ism_limits *l = calloc(1, sizeof *l);
    if (!l)
        return ism_err_set(err, ISM_E_IO, "out of memory");
    if (ism_mutex_new(&l->lock, err)) {
        free(l);
        return -1;
    }
    l->cfg.max_failures = 10;
    l->cfg.lockout_ms = 15 * 60 * 1000;
    *out = l;
    return 0;
}

void ism_limits_free(ism_limits *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (entry *e = l->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    ism_mutex_free(l->lock);
    free(l);
}

void ism_limits_configure(ism_limits *l, const ism_limits_cfg *cfg)
{
    ism_mutex_lock(l->lock);
    l->cfg = *cfg;
    if (l->cfg.max_failures < 1)
        l->cfg.max_failures = 1;
    ism_mutex_unlock(l->lock);
}

int ism_limits_conn_open(ism_limits *l, const char *addr)
{
    entry *e = lock_addr(l, addr, 1);
    int r = 0;
    if (e && l->cfg.conns_per_addr > 0 && e->conns >= l->cfg.conns_per_addr)
        r = -1;
    else if (e)
        e->conns++;
    ism_mutex_unlock(l->lock);
    return r;
}

void ism_limits_conn_close(ism_limits *l, const char *addr)
{
    entry *e = lock_addr(l, addr, 0);
    if (e && e->conns > 0)
        e->conns--;
    ism_mutex_unlock(l->lock);
}

int ism_limits_conns(ism_limits *l, const char *addr)
{
    entry *e = lock_addr(l, addr, 0);
    int n = e ? e->conns : 0;
    ism_mutex_unlock(l->lock);
    return n;
}

int ism_limits_data_reserve(ism_limits *l, const char *addr, int64_t bytes)
{
    entry *e = lock_addr(l, addr, 1);
    int r = 0;
    if (!e || (l->cfg.data_per_addr > 0 && e->data + bytes > l->cfg.data_per_addr))
        r = -1;
    else
        e->data += bytes;
    ism_mutex_unlock(l->lock);
    return r;
}

void ism_limits_data_release(ism_limits *l, const char *addr, int64_t bytes)
{
    entry *e = lock_addr(l, addr, 0);
    if (e)
        e->data = e->data > bytes ? e->data - bytes : 0;
    ism_mutex_unlock(l->lock);
}

/* Forgets failures older than the lockout time. Lock held. */
static void age(const ism_limits *l, entry *e, int64_t now)
{
    if (e && e->failures && now - e->last_fail >= l->cfg.lockout_ms && now >= e->locked_until)
        e->failures = 0;
}

int ism_limits_auth_allowed(ism_limits *l, const char *addr, const char *account, int64_t now, int64_t *retry_ms)
{
    char ka[80], ku[340];
    make_key(ka, sizeof ka, 'a', addr);
    make_key(ku, sizeof ku, 'u', account);
    ism_mutex_lock(l->lock);
    entry *ea = find(l, ka, 0), *eu = find(l, ku, 0);
    int64_t until = 0;
    if (ea && ea->locked_until > now)
        until = ea->locked_until;
    if (eu && eu->locked_until > now && eu->locked_until > until)
        until = eu->locked_until;
    ism_mutex_unlock(l->lock);
    if (retry_ms)
        *retry_ms = until ? until - now : 0;
    return until ? -1 : 0;
}

/* Counts one failure on e; returns 1 when it starts a lockout. Lock held. */
static int count_failure(const ism_limits *l, entry *e, int64_t now)
{
    if (!e)
        return 0;
    age(l, e, now);
    e->failures++;
    e->last_fail = now;
    if (e->failures >= l->cfg.max_failures && e->locked_until <= now) {
        e->locked_until = now + l->cfg.lockout_ms;
        return 1;
    }
    return 0;
}

ism_limits_failure ism_limits_auth_failed(ism_limits *l, const char *addr, const char *account, int64_t now)
{
    char ka[80], ku[340];
    ism_limits_failure f = {0};
    make_key(ka, sizeof ka, 'a', addr);
    make_key(ku, sizeof ku, 'u', account);
    ism_mutex_lock(l->lock);
    int room = l->n < MAX_FAILURE_ENTRIES;
    entry *ea = find(l, ka, room), *eu = find(l, ku, room);
    f.addr_locked = count_failure(l, ea, now);
    f.account_locked = count_failure(l, eu, now);
    int n = ea ? ea->failures : 1;
    if (eu && eu->failures > n)
        n = eu->failures;
    ism_mutex_unlock(l->lock);
    f.failures = n;
    f.delay_ms = 250;
    for (int i = 1; i < n && f.delay_ms < ISM_LIMITS_MAX_DELAY_MS; i++)
        f.delay_ms *= 2;
    if (f.delay_ms > ISM_LIMITS_MAX_DELAY_MS)
        f.delay_ms = ISM_LIMITS_MAX_DELAY_MS;
    return f;
}

void ism_limits_auth_ok(ism_limits *l, const char *addr, const char *account, int64_t now)
{
    char ku[340];
    (void)addr;
    (void)now;
    make_key(ku, sizeof ku, 'u', account);
    ism_mutex_lock(l->lock);
    entry *eu = find(l, ku, 0);
    if (eu && eu->locked_until <= now)
        eu->failures = 0;
    ism_mutex_unlock(l->lock);
}

void ism_limits_sweep(ism_limits *l, int64_t now)
{
    ism_mutex_lock(l->lock);
    for (size_t i = 0; i < BUCKETS; i++) {
        entry **pp = &l->bucket[i];
        while (*pp) {
            entry *e = *pp;
            age(l, e, now);
            if (!e->conns && !e->data && !e->failures && e->locked_until <= now) {
                *pp = e->next;
                free(e);
                l->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    ism_mutex_unlock(l->lock);
}

size_t ism_limits_entries(ism_limits *l)
{
    ism_mutex_lock(l->lock);
    size_t n = l->n;
    ism_mutex_unlock(l->lock);
    return n;
}
