/* authpool: the password-checking threads (see authpool.h). */
#include "authpool.h"

#include "ism_platform.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 8

struct ism_auth_job {
    ism_auth_job *next;
    char stored[ISM_MAIL_STORED_HASH_MAX];
    char password[ISM_MAIL_MAX_PASSWORD + 1];
    int result;     /* -1 running, 0 no, 1 yes */
    int abandoned;  /* the connection has gone: free it when done */
};

struct ism_authpool {
    ism_mutex *lock;
    ism_cond *cond;
    ism_auth_job *head, *tail;
    int stopping;
    ism_thread *threads[MAX_THREADS];
    int nthreads;
};

static void job_free(ism_auth_job *j)
{
    OPENSSL_cleanse(j, sizeof *j);
    free(j);
}

static void pool_thread(void *arg)
{
    ism_authpool *p = arg;
    ism_mutex_lock(p->lock);
    for (;;) {
        while (!p->head && !p->stopping)
            ism_cond_wait_ms(p->cond, p->lock, 1000);
        ism_auth_job *j = p->head;
        if (!j)
            break; /* stopping and nothing left */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        int abandoned = j->abandoned;
        ism_mutex_unlock(p->lock);
        int ok = abandoned ? 0 : ism_mail_password_check(j->stored, j->password);
        OPENSSL_cleanse(j->password, sizeof j->password);
        ism_mutex_lock(p->lock);
        if (j->abandoned)
            job_free(j);
        else
            j->result = ok;
    }
    ism_mutex_unlock(p->lock);
}

int ism_authpool_start(ism_authpool **out, int threads, ism_err *err)
{
    ism_authpool *p = calloc(1, sizeof *p);
    if (!p)
        return ism_err_set(err, ISM_E_IO, "out of memory");
    if (ism_mutex_new(&p->lock, err) || ism_cond_new(&p->cond, err)) {
        ism_mutex_free(p->lock);
        free(p);
        return -1;
    }
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    for (int i = 0; i < threads; i++) {
        if (ism_thread_start(&p->threads[i], pool_thread, p, err)) {
            ism_authpool_stop(p);
            return -1;
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void ism_authpool_stop(ism_authpool *p)
{
    if (!p)
        return;
    ism_mutex_lock(p->lock);
    p->stopping = 1;
    ism_cond_broadcast(p->cond);
    ism_mutex_unlock(p->lock);
    for (int i = 0; i < p->nthreads; i++)
        ism_thread_join(p->threads[i]);
    ism_cond_free(p->cond);
    ism_mutex_free(p->lock);
    free(p);
}

ism_auth_job *ism_authpool_submit(ism_authpool *p, const char *stored, const char *password)
{
    ism_auth_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->stored, sizeof j->stored, "%s", stored);
    snprintf(j->password, sizeof j->password, "%s", password);
    j->result = -1;
    ism_mutex_lock(p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    ism_cond_broadcast(p->cond);
    ism_mutex_unlock(p->lock);
    return j;
}

int ism_authpool_result(ism_authpool *p, ism_auth_job *job)
{
    ism_mutex_lock(p->lock);
    int r = job->result;
    ism_mutex_unlock(p->lock);
    return r;
}

void ism_authpool_release(ism_authpool *p, ism_auth_job *job)
{
    if (!job)
        return;
    ism_mutex_lock(p->lock);
    if (job->result < 0)
        job->abandoned = 1; /* still queued or running: the pool frees it */
    else
        job_free(job);
    ism_mutex_unlock(p->lock);
}
