/* delivery: the service's outgoing mail, on a thread of its own.
 *
 * The thread takes due items from the queue (DATA/queue.db), delivers each
 * to its domain's next hop with the SMTP client, or to the local mail store
 * when the domain is local (bounces to local senders), and records the
 * result. It takes the settings, routes and TLS policies the service has
 * applied (the same generation its listeners serve with) before each round,
 * so a changed checkbox applies to the next attempt. Between rounds
 * it sleeps until the next item is due, a kick, or one second (to notice
 * mail queued and retries requested by ismailctl). */
#ifndef ISM_DELIVERY_H
#define ISM_DELIVERY_H

#include "ism_error.h"
#include "ism_settings.h"
#include "ism_store.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ism_delivery ism_delivery;

/* Where the thread takes its settings from: the service's applied snapshot.
 * snapshot fills cfg (not initialised before) and the malloc'd routes and
 * policies with copies of it, the thread's own until the next round; it
 * returns 0, or -1 with err when none is applied. Called on the delivery
 * thread. */
typedef struct {
    int (*snapshot)(void *arg, ism_config *cfg, ism_route **routes, size_t *n_routes,
                    ism_tls_policy_entry **policies, size_t *n_policies, ism_err *err);
    void *arg;
} ism_delivery_settings;

/* Opens the queue and the mail store under data_dir (the --data folder, or
 * NULL for the platform's) and starts the thread, which takes its settings
 * from src. Fails, naming the file, when the queue cannot be opened. A mail
 * store that cannot be opened is logged and tried again at each round; until
 * it opens mail waits (local domains cannot be told from others). */
int ism_delivery_start(ism_delivery **out, const char *data_dir, const ism_delivery_settings *src, ism_err *err);

/* A message was queued: look now instead of at the next timer. Cheap;
 * callable from any thread. */
void ism_delivery_kick(ism_delivery *d);

/* Stops the thread within about a second and frees everything. A delivery
 * in progress is abandoned unrecorded (its item is tried again at the next
 * start); a message is marked sent only after the 250 to its final dot. */
void ism_delivery_stop(ism_delivery *d);

#ifdef __cplusplus
}
#endif
#endif
