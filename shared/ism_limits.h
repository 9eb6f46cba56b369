/* ism_limits: what one client address, and one account, may use of the
 * service at once: open connections, message data in transit, and failed
 * logins (back-off, then temporary refusal).
 *
 * One table shared by every worker thread of the service, guarded by a
 * mutex; entries exist only while an address or account has something
 * counted, and old failures are forgotten after the lockout time, so the
 * table stays small. Times are passed in (milliseconds on any monotonic
 * clock) so the rules are tested without waiting. */
#ifndef ISM_LIMITS_H
#define ISM_LIMITS_H

#include "ism_error.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ism_limits ism_limits;

typedef struct {
    int conns_per_addr;      /* open connections per client address; 0: no limit */
    int64_t data_per_addr;   /* message bytes in transit per client address; 0: no limit */
    int max_failures;        /* failed logins before refusal (per address and per account) */
    int64_t lockout_ms;      /* how long the refusal lasts; failures older than this are forgotten */
} ism_limits_cfg;

/* Longest back-off before a failed login is answered. */
#define ISM_LIMITS_MAX_DELAY_MS 5000

int ism_limits_new(ism_limits **out, ism_err *err);
void ism_limits_free(ism_limits *l);
/* Takes new limits; what is counted already stays counted. */
void ism_limits_configure(ism_limits *l, const ism_limits_cfg *cfg);

/* A connection from addr opens: 0, or -1 when the address already holds
 * its limit (nothing is counted then). Every 0 is matched by one close. */
int ism_limits_conn_open(ism_limits *l, const char *addr);
void ism_limits_conn_close(ism_limits *l, const char *addr);
int ism_limits_conns(ism_limits *l, const char *addr); /* open now, for tests and logs */

/* Message data held for addr: reserve before keeping bytes (0, or -1 when
 * the budget would be exceeded; nothing is counted then), release when
 * the message is stored or dropped. */
int ism_limits_data_reserve(ism_limits *l, const char *addr, int64_t bytes);
void ism_limits_data_release(ism_limits *l, const char *addr, int64_t bytes);

/* Before checking a password: 0 when a login from addr for account may be
 * tried, -1 when either is locked out (*retry_ms: how long until it may). */
int ism_limits_auth_allowed(ism_limits *l, const char *addr, const char *account, int64_t now, int64_t *retry_ms);

typedef struct {
    int64_t delay_ms;        /* wait this long before answering the failure */
    int addr_locked;         /* this failure locked the address out */
    int account_locked;      /* this failure locked the account out */
    int failures;            /* the larger of the two counts now */
} ism_limits_failure;

/* A wrong password: counts it for both and says how long to wait before
 * answering (growing with the failures: 250 ms, 500 ms, 1 s, ... at most
 * ISM_LIMITS_MAX_DELAY_MS) and whether a lockout began. */
ism_limits_failure ism_limits_auth_failed(ism_limits *l, const char *addr, const char *account, int64_t now);
/* A right password: the account's failures are forgotten (the address's
 * are not: one known password must not reset a guesser's count). */
void ism_limits_auth_ok(ism_limits *l, const char *addr, const char *account, int64_t now);

/* Drops entries with nothing counted any more. Call now and then. */
void ism_limits_sweep(ism_limits *l, int64_t now);
size_t ism_limits_entries(ism_limits *l);

#ifdef __cplusplus
}
#endif
#endif
