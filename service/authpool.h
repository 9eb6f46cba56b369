/* authpool: password checks away from the event loops.
 *
 * A password hash is slow on purpose (PBKDF2, tens of milliseconds); done
 * on a worker's event loop it would delay every other session of that
 * worker. A connection hands a job to this small pool of threads and goes
 * on serving others; the worker looks at the job again on its next turn. */
#ifndef ISM_AUTHPOOL_H
#define ISM_AUTHPOOL_H

#include "ism_error.h"
#include "ism_mail.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ism_authpool ism_authpool;
typedef struct ism_auth_job ism_auth_job;

int ism_authpool_start(ism_authpool **out, int threads, ism_err *err);
/* Finishes the jobs already queued, then stops the threads. */
void ism_authpool_stop(ism_authpool *p);

/* Queues a check of password against stored (a hash from
 * ism_mail_auth_lookup); the password is copied and cleansed once used.
 * NULL when out of memory. */
ism_auth_job *ism_authpool_submit(ism_authpool *p, const char *stored, const char *password);
/* -1 while the check runs; then 1 when the password matched, 0 when not.
 * A finished job is freed by the caller with ism_authpool_release. */
int ism_authpool_result(ism_authpool *p, ism_auth_job *job);
/* Lets go of a job, finished or not (a connection closed meanwhile). */
void ism_authpool_release(ism_authpool *p, ism_auth_job *job);

#ifdef __cplusplus
}
#endif
#endif
