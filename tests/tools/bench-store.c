/* bench-store: latency from a settings commit to the watcher noticing it,
 * the way the service watches (poll() on the wake-up socket with a 50 ms
 * sleep, data_version checked at least every 100 ms).
 *
 *   bench-store DB COUNT signal|poll
 *
 * A writer thread commits COUNT times at random moments; the watcher (this
 * thread) records when it noticed each. "poll" disables the wake-up datagram
 * (no port recorded), so only PRAGMA data_version polling is left.
 * Prints p50, p99 and max in milliseconds. */
#include "ism_platform.h"
#include "ism_store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *db_path;
static int count;
static atomic_llong commit_us; /* start of the latest commit, 0 when noticed */
static atomic_int done;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *writer(void *arg)
{
    (void)arg;
    ism_store *st;
    ism_err err = {0};
    if (ism_store_open(&st, db_path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    const char *k[] = {"smtp.port"};
    for (int i = 0; i < count; i++) {
        while (atomic_load(&commit_us) != 0) /* wait until the last one was seen */
            ism_sleep_ms(1);
        ism_sleep_ms(rand() % 37);
        char v[16];
        snprintf(v, sizeof v, "%d", 20000 + i);
        const char *vals[] = {v};
        atomic_store(&commit_us, now_us());
        if (ism_store_set(st, 1, k, vals, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
    }
    atomic_store(&done, 1);
    ism_store_close(st);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: bench-store DB COUNT signal|poll\n"), 2;
    db_path = argv[1];
    count = atoi(argv[2]);
    int signal_mode = strcmp(argv[3], "signal") == 0;
    ism_store *st;
    ism_watch *w;
    ism_err err = {0};
    if (ism_net_init(&err) || ism_store_open(&st, db_path, &err) || ism_watch_open(&w, st, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    if (!signal_mode) { /* writers find no port to signal */
        sqlite3 *h;
        sqlite3_open(db_path, &h);
        sqlite3_exec(h, "DELETE FROM service_state WHERE key='notify_port'", NULL, NULL, NULL);
        sqlite3_close(h);
    }
    ism_watch_changed(w, NULL); /* prime */
    long long *lat = calloc((size_t)count, sizeof *lat);
    int seen = 0;
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    long long next_check = now_us();
    while (seen < count) {
        ism_pollfd p = {0};
        p.fd = ism_watch_sock(w);
        p.events = POLLIN;
        int r = ism_poll(&p, 1, 50);
        long long now = now_us();
        if ((r > 0 && (p.revents & POLLIN)) || now >= next_check) {
            next_check = now + 100000;
            if (ism_watch_changed(w, NULL) == 1) {
                long long c = atomic_exchange(&commit_us, 0);
                if (c)
                    lat[seen++] = now_us() - c;
            }
        }
    }
    pthread_join(t, NULL);
    qsort(lat, (size_t)count, sizeof *lat, cmp);
    printf("%s: commits %d p50 %.1f ms p99 %.1f ms max %.1f ms\n", signal_mode ? "wake-up signal" : "polling alone",
           count, lat[count / 2] / 1000.0, lat[(count * 99) / 100] / 1000.0, lat[count - 1] / 1000.0);
    free(lat);
    ism_watch_close(w);
    ism_store_close(st);
    return 0;
}
