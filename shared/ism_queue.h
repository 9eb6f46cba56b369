/* ism_queue: the outgoing mail queue, in an SQLite file of its own
 * (DATA/queue.db), and the decisions about outgoing mail that need no
 * network (next hop, TLS policy, retry schedule, bounces).
 *
 * A message is stored once; it is delivered as items, one per recipient
 * domain, each with its own attempts, next attempt time and last reason, so
 * one slow domain never holds up the others. An item leaves the queue only
 * when each of its recipients was accepted (250 to the final dot) or failed
 * for good; a failed recipient produces a delivery status notification
 * (RFC 3464) to the sender, queued in the same transaction, from the null
 * return path <> so that a bounce never bounces.
 *
 * A handle is used by one thread at a time; open one per thread. */
#ifndef ISM_QUEUE_H
#define ISM_QUEUE_H

#include "ism_buf.h"
#include "ism_error.h"
#include "ism_settings.h"
#include "ism_store.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_QUEUE_FILE "queue.db"
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
#define ISM_QUEUE_MAX_ADDRESS 254
/* Recipients of one message (RFC 5321 4.5.3.1.8 asks for at least 100). */
#define ISM_QUEUE_MAX_RCPTS 1000

typedef struct ism_queue ism_queue;

/* Opens (creating it and its tables when missing) the queue at path. */
int ism_queue_open(ism_queue **out, const char *path, ism_err *err);
void ism_queue_close(ism_queue *q);

/* Queues a message (RFC 5322 bytes, CRLF line ends, trace headers already
 * added) from sender ("" for the null return path <>) to n recipients: one
 * item per recipient domain, all in one transaction, due at once.
 * Addresses are checked; domains are stored lower case, duplicates dropped.
 * *msg_id (may be NULL) receives the message's number. */
int ism_queue_add(ism_queue *q, const char *sender, const char *const *rcpts, size_t n, const char *data, size_t len,
                  int64_t *msg_id, ism_err *err);
/* The same for a message of head_len bytes in memory (the trace headers
 * and the start of the message) followed by rest_len bytes read from the
 * start of rest (a spool file; NULL when rest_len is 0). The data is
 * written to the queue in pieces, never held in memory whole. */
int ism_queue_add_file(ism_queue *q, const char *sender, const char *const *rcpts, size_t n, const char *head,
                       size_t head_len, FILE *rest, int64_t rest_len, int64_t *msg_id, ism_err *err);

typedef struct {
    int64_t id;          /* the item: what `ismailctl queue` shows and takes */
    int64_t msg;         /* the message it belongs to */
    char sender[ISM_QUEUE_MAX_ADDRESS + 1]; /* "" for a bounce */
    char domain[256];    /* recipient domain, lower case */
    char **rcpts;        /* the recipients still to deliver */
    size_t n_rcpts;
    int attempts;
    int64_t created_ms;  /* when the message was queued (Unix ms) */
    int64_t next_ms;     /* next attempt */
    int64_t last_ms;     /* last attempt, 0 before the first */
    size_t size;         /* message bytes */
    char reason[512];    /* why the last attempt did not deliver, "" before the first */
} ism_queue_item;

/* Every item, by id. */
int ism_queue_list(ism_queue *q, ism_queue_item **out, size_t *n, ism_err *err);
/* Items whose next attempt is at or before now_ms, earliest first, at most max. */
int ism_queue_due(ism_queue *q, int64_t now_ms, size_t max, ism_queue_item **out, size_t *n, ism_err *err);
void ism_queue_items_free(ism_queue_item *v, size_t n);
/* The earliest next attempt, or -1 in *next_ms when the queue is empty. */
int ism_queue_next_due(ism_queue *q, int64_t *next_ms, ism_err *err);
/* The message's bytes; *data malloc'd (free()), NUL after the len bytes. */
int ism_queue_data(ism_queue *q, int64_t msg, char **data, size_t *len, ism_err *err);
/* Makes item id (0: every item) due at now_ms. Fails naming the id when
 * there is no such item. */
int ism_queue_retry(ism_queue *q, int64_t id, int64_t now_ms, ism_err *err);
/* Drops item id without a bounce (the administrator's decision). */
int ism_queue_remove(ism_queue *q, int64_t id, ism_err *err);

/* ---- recording an attempt ---- */
typedef enum {
    ISM_RCPT_SENT,  /* accepted: 250 to the final dot */
    ISM_RCPT_DEFER, /* try again later */
    ISM_RCPT_FAIL   /* permanent failure: return to sender */
} ism_rcpt_result;

/* reason starts with an SMTP reply ("550 5.1.1 no such user") or an
 * enhanced status code ("5.1.2 domain x.test does not exist"), which the
 * bounce's Status field takes. */
typedef struct {
    const char *rcpt;
    ism_rcpt_result result;
    const char *reason;
} ism_rcpt_outcome;

typedef struct {
    const char *hostname;  /* this server, for bounces (Reporting-MTA, From) */
    int64_t max_age_ms;    /* a deferred recipient older than this fails */
} ism_queue_opts;

typedef struct {
    size_t sent, deferred, failed;
    int expired;          /* deferred recipients failed because of max_age_ms */
    int64_t bounce_msg;   /* the bounce's message number, 0 when none was queued */
    int64_t next_ms;      /* the item's next attempt, 0 when it left the queue */
} ism_queue_recorded;

/* Records one attempt at item id in one transaction: sent recipients leave
 * the item, failed ones (and deferred ones past max_age_ms) are reported to
 * the sender in one bounce, the rest wait for the next attempt on the
 * back-off schedule with the first deferral's reason. A recipient of the
 * item missing from res counts as deferred. An item removed meanwhile is
 * not an error (nothing is recorded). out may be NULL. */
int ism_queue_record(ism_queue *q, int64_t id, const ism_rcpt_outcome *res, size_t n, int64_t now_ms,
                     const ism_queue_opts *opts, ism_queue_recorded *out, ism_err *err);

/* The wait before the next attempt after `attempts` failed ones:
 * 1, 5, 15, 30 minutes, then hourly. */
int64_t ism_queue_backoff_ms(int attempts);
/* smtp.queue.max_age_days in milliseconds. */
int64_t ism_queue_max_age_ms(const ism_config *cfg);

/* A failed recipient for a bounce. */
typedef struct {
    const char *rcpt;
    const char *reason;
} ism_dsn_rcpt;
/* Appends an RFC 3464 multipart/report bounce to out: a human-readable part,
 * the message/delivery-status part (one block per recipient) and the
 * original message's headers (text/rfc822-headers). */
void ism_queue_dsn(ism_buf *out, const char *hostname, const char *sender, const ism_dsn_rcpt *rcpts, size_t n,
                   const char *orig, size_t orig_len, int64_t arrival_ms, int64_t now_ms);

/* ---- where mail goes and how ---- */
typedef enum {
    ISM_HOP_ROUTE, /* the route table: domain, or "*" */
    ISM_HOP_RELAY, /* the smart host (smtp.relay.host) */
    ISM_HOP_MX     /* the domain's MX records, else its address */
} ism_hop_kind;

typedef struct {
    ism_hop_kind kind;
    char host[256];  /* route or smart host; the domain itself for ISM_HOP_MX */
    int port;
    char via[300];   /* for the log: "route for example.com", "smart host", "MX" */
} ism_next_hop;

/* The next hop for mail to domain: its own route, else the "*" route, else
 * the smart host, else the MX records (port 25). */
void ism_outgoing_next_hop(const ism_config *cfg, const ism_route *routes, size_t n, const char *domain,
                           ism_next_hop *out);

/* The TLS policy for mail to domain: the policy table's entry, else the
 * checkboxes: SMTP Outgoing off -> none; on -> may; on with Verify
 * Certificate Domain -> verify. *source (may be NULL) says which decided,
 * for the log and for deferral reasons. */
ism_tls_policy ism_outgoing_policy(const ism_config *cfg, const ism_tls_policy_entry *tbl, size_t n,
                                   const char *domain, const char **source);

#ifdef __cplusplus
}
#endif
#endif
