/* store-hammer: concurrency and crash tests of the settings store.
 *
 *   store-hammer write DB SECONDS ID   multi-key writes for SECONDS; prints "writes N"
 *   store-hammer watch DB SECONDS      counts changes seen; fails on a torn snapshot
 *   store-hammer check DB              integrity_check + every multi-key set whole
 *   store-hammer crash DB ROUNDS       starts a writer ROUNDS times, kills it at a random
 *                                      moment (SIGKILL / TerminateProcess), then checks
 *
 * Every write sets smtp.port=X, pop.port=X+1, imap.port=X+2 in one call, so a
 * snapshot whose three ports are not consecutive would be a torn transaction. */
#include "ism_platform.h"
#include "ism_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int consistent(const ism_config *c)
{
    int a = ism_config_int(c, ISM_S_SMTP_PORT), b = ism_config_int(c, ISM_S_POP_PORT),
        d = ism_config_int(c, ISM_S_IMAP_PORT);
    if (a == 25 && b == 110 && d == 143)
        return 1; /* nothing written yet */
    return b == a + 1 && d == a + 2;
}

static int do_write(const char *db, int seconds, int id, int forever)
{
    ism_store *st;
    ism_err err = {0};
    if (ism_store_open(&st, db, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *keys[] = {"smtp.port", "pop.port", "imap.port"};
    long writes = 0, failures = 0;
    int64_t end = ism_time_mono_ms() + (int64_t)seconds * 1000;
    unsigned x = (unsigned)id * 7919u;
    while (forever || ism_time_mono_ms() < end) {
        char v[3][16];
        int base = 20000 + (int)(x++ % 20000) * 2;
        for (int i = 0; i < 3; i++)
            snprintf(v[i], sizeof v[i], "%d", base + i);
        const char *vals[] = {v[0], v[1], v[2]};
        if (ism_store_set(st, 3, keys, vals, &err)) {
            failures++;
            fprintf(stderr, "write failed: %s\n", err.msg);
        } else {
            writes++;
        }
    }
    ism_store_close(st);
    printf("writes %ld failures %ld\n", writes, failures);
    return failures ? 1 : 0;
}

static int do_watch(const char *db, int seconds)
{
    ism_store *st;
    ism_watch *w;
    ism_err err = {0};
    if (ism_net_init(&err) || ism_store_open(&st, db, &err) || ism_watch_open(&w, st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long changes = 0, torn = 0, errors = 0;
    int64_t end = ism_time_mono_ms() + (int64_t)seconds * 1000;
    while (ism_time_mono_ms() < end) {
        ism_pollfd p = {0};
        p.fd = ism_watch_sock(w);
        p.events = POLLIN;
        ism_poll(&p, 1, 20);
        int r = ism_watch_changed(w, &err);
        if (r < 0) {
            errors++;
            fprintf(stderr, "watch failed: %s\n", err.msg);
            continue;
        }
        if (!r)
            continue;
        changes++;
        ism_config c;
        if (ism_store_load(st, &c, &err)) {
            errors++;
            fprintf(stderr, "load failed: %s\n", err.msg);
            continue;
        }
        if (!consistent(&c))
            torn++;
        ism_config_free(&c);
    }
    ism_watch_close(w);
    ism_store_close(st);
    printf("changes %ld torn %ld errors %ld\n", changes, torn, errors);
    return (torn || errors) ? 1 : 0;
}

static int do_check(const char *db)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    int ok = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK) {
        ok = sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    if (!ok) {
        printf("integrity_check failed\n");
        return 1;
    }
    ism_store *st;
    ism_config c;
    ism_err err = {0};
    if (ism_store_open(&st, db, &err) || ism_store_load(st, &c, &err)) {
        printf("cannot open after the kill: %s\n", err.msg);
        return 1;
    }
    int cons = consistent(&c);
    if (!cons)
        printf("torn write: smtp.port=%s pop.port=%s imap.port=%s\n", ism_config_str(&c, ISM_S_SMTP_PORT),
               ism_config_str(&c, ISM_S_POP_PORT), ism_config_str(&c, ISM_S_IMAP_PORT));
    ism_config_free(&c);
    ism_store_close(st);
    return cons ? 0 : 1;
}

static int64_t revision(const char *db)
{
    ism_store *st;
    int64_t rev = -1;
    if (ism_store_open(&st, db, NULL) == 0) {
        ism_store_revision(st, &rev, NULL);
        ism_store_close(st);
    }
    return rev;
}

static int do_crash(const char *self, const char *db, int rounds)
{
    int bad = 0, advanced = 0;
    int64_t last = revision(db);
    srand((unsigned)ism_time_wall_ms());
    for (int r = 0; r < rounds; r++) {
#ifdef _WIN32
        /* A process takes longer to start under Wine, longer still on a
         * busy machine (40 ms was often before the first commit): kills
         * that come later still land among the writer's commits. */
        int delay = 100 + rand() % 200;
#else
        int delay = 5 + rand() % 40;
#endif
#ifdef _WIN32
        wchar_t cmd[2048];
        swprintf(cmd, 2048, L"\"%hs\" forever \"%hs\"", self, db);
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
            printf("cannot start the writer (error %lu)\n", (unsigned long)GetLastError());
            return 1;
        }
        Sleep((DWORD)delay);
        TerminateProcess(pi.hProcess, 9);
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hProcess);
        CloseHandle(pi.hThread);
#else
        pid_t pid = fork();
        if (pid == 0) {
            execl(self, self, "forever", db, (char *)NULL);
            _exit(127);
        }
        ism_sleep_ms(delay);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
#endif
        if (do_check(db)) {
            printf("round %d: store damaged after the kill\n", r);
            bad++;
        }
        int64_t now = revision(db);
        advanced += now > last;
        last = now;
    }
    /* "advanced": rounds in which the writer committed before it was killed,
     * so the kills did land among real writes. */
    printf("crash rounds %d damaged %d advanced %d\n", rounds, bad, advanced);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 5 && strcmp(argv[1], "write") == 0)
        return do_write(argv[2], atoi(argv[3]), atoi(argv[4]), 0);
    if (argc == 3 && strcmp(argv[1], "forever") == 0)
        return do_write(argv[2], 0, (int)(ism_time_wall_ms() % 1000), 1);
    if (argc == 4 && strcmp(argv[1], "watch") == 0)
        return do_watch(argv[2], atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return do_check(argv[2]);
    if (argc == 4 && strcmp(argv[1], "crash") == 0)
        return do_crash(argv[0], argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: store-hammer write DB SECONDS ID | watch DB SECONDS | check DB | crash DB ROUNDS\n");
    return 2;
}
