/* cmd_queue: the ismailctl commands for outgoing mail.
 *
 *   ismailctl [--json] queue list
 *   ismailctl queue retry ID|all
 *   ismailctl queue remove ID
 *   ismailctl queue inject --from ADDRESS --to ADDRESS [--to ADDRESS ...] FILE|-
 *   ismailctl [--json] route list
 *   ismailctl route add DOMAIN HOST [PORT]
 *   ismailctl route remove DOMAIN
 *   ismailctl [--json] policy list
 *   ismailctl policy set DOMAIN none|may|encrypt|verify
 *   ismailctl policy remove DOMAIN
 *
 * The queue is DATA/queue.db (ism_queue.h); routes and TLS policies are
 * tables in the settings store (ism_store.h). The running service notices
 * queued messages and retries within a second; route and policy changes
 * apply to its next attempt. */
#include "ctl.h"
#include "ism_platform.h"
#include "ism_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INJECT_MAX (64 * 1024 * 1024)

static void queue_usage(void)
{
    fprintf(stderr, "Usage: ismailctl [--json] queue list\n"
                    "       ismailctl queue retry ID|all\n"
                    "       ismailctl queue remove ID\n"
                    "       ismailctl queue inject --from ADDRESS --to ADDRESS [--to ADDRESS ...] FILE|-\n"
                    "The message FILE (- for standard input) is queued as it is, from ADDRESS (--from '' for\n"
                    "the null sender <>), for delivery by the service.\n");
}

static void route_usage(void)
{
    fprintf(stderr, "Usage: ismailctl [--json] route list\n"
                    "       ismailctl route add DOMAIN HOST [PORT]     (PORT 25 when left out; DOMAIN * for every\n"
                    "                                                  domain without a route of its own)\n"
                    "       ismailctl route remove DOMAIN\n");
}

static void policy_usage(void)
{
    fprintf(stderr, "Usage: ismailctl [--json] policy list\n"
                    "       ismailctl policy set DOMAIN none|may|encrypt|verify\n"
                    "       ismailctl policy remove DOMAIN\n");
}

/* Takes a trailing --json (besides the global one before the command). */
static void take_json(ism_ctl *ctx, int *argc, char **argv)
{
    if (*argc > 0 && strcmp(argv[*argc - 1], "--json") == 0) {
        ctx->json = 1;
        (*argc)--;
    }
}

static void utc(char *out, size_t outsz, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm *tm = gmtime(&t);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", tm))
        snprintf(out, outsz, "?");
}

static int open_queue(ism_ctl *ctx, ism_queue **q)
{
    char path[ISM_PATH_MAX + 16];
    ism_err err = {0};
    ism_paths_file(path, sizeof path, ctx->paths.data, "queue", ".db");
    if (ism_queue_open(q, path, &err))
        return ism_ctl_fail(&err);
    return ISM_EXIT_OK;
}

/* A positive item number, or 0 for "all" when all_ok. */
static int parse_id(const char *s, int all_ok, int64_t *id)
{
    char *end;
    if (all_ok && strcmp(s, "all") == 0) {
        *id = 0;
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0) {
        fprintf(stderr, "ismailctl: '%s' is not a queue item number; 'ismailctl queue list' shows them\n", s);
        return -1;
    }
    *id = v;
    return 0;
}

static int queue_list(ism_ctl *ctx, ism_queue *q)
{
    ism_queue_item *v;
    size_t n;
    ism_err err = {0};
    if (ism_queue_list(q, &v, &n, &err))
        return ism_ctl_fail(&err);
    int64_t now = ism_time_wall_ms();
    if (ctx->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        const ism_queue_item *it = &v[i];
        if (ctx->json) {
            printf("%s\n  {\"id\": %lld, \"message\": %lld, \"sender\": ", i ? "," : "", (long long)it->id,
                   (long long)it->msg);
            ism_ctl_jstr(it->sender);
            printf(", \"domain\": ");
            ism_ctl_jstr(it->domain);
            printf(", \"recipients\": [");
            for (size_t r = 0; r < it->n_rcpts; r++) {
                printf("%s", r ? ", " : "");
                ism_ctl_jstr(it->rcpts[r]);
            }
            printf("], \"size\": %lu, \"attempts\": %d, \"created_ms\": %lld, \"last_ms\": %lld, \"next_ms\": %lld, "
                   "\"reason\": ",
                   (unsigned long)it->size, it->attempts, (long long)it->created_ms, (long long)it->last_ms,
                   (long long)it->next_ms);
            ism_ctl_jstr(it->reason);
            printf("}");
            continue;
        }
        char queued[64], last[64], next[64];
        utc(queued, sizeof queued, it->created_ms);
        utc(last, sizeof last, it->last_ms);
        utc(next, sizeof next, it->next_ms);
        printf("%lld  to %s  from <%s>  %lu bytes  queued %s\n", (long long)it->id, it->domain, it->sender,
               (unsigned long)it->size, queued);
        printf("    recipients:");
        for (size_t r = 0; r < it->n_rcpts; r++)
            printf(" <%s>", it->rcpts[r]);
        printf("\n");
        if (it->attempts == 0)
            printf("    not tried yet, due %s\n", it->next_ms <= now ? "now" : next);
        else
            printf("    %d attempt%s, last %s, next %s\n", it->attempts, it->attempts == 1 ? "" : "s", last,
                   it->next_ms <= now ? "now" : next);
        if (it->reason[0])
            printf("    deferred: %s\n", it->reason);
    }
    if (ctx->json)
        printf("%s]\n", n ? "\n" : "");
    else if (n == 0)
        fprintf(stderr, "the outgoing queue is empty\n");
    ism_queue_items_free(v, n);
    return ISM_EXIT_OK;
}

/* Reads the message and gives it CRLF line ends, as the queue keeps it. */
static int read_message(const char *file, ism_buf *out)
{
    char *data = NULL;
    size_t len = 0;
    ism_err err = {0};
    if (strcmp(file, "-") == 0) {
        char chunk[65536];
        size_t got;
        ism_buf raw = {0};
        while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
            ism_buf_add(&raw, chunk, got);
            if (raw.len > INJECT_MAX) {
                ism_buf_free(&raw);
                fprintf(stderr, "ismailctl: the message on standard input is larger than %d MB\n",
                        INJECT_MAX / (1024 * 1024));
                return ISM_EXIT_INVALID;
            }
        }
        data = raw.p;
        len = raw.len;
    } else if (ism_fs_read(file, INJECT_MAX, &data, &len, &err)) {
        return ism_ctl_fail(&err);
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
            ism_buf_add(out, "\r", 1);
        ism_buf_add(out, data + i, 1);
    }
    if (out->len && out->p[out->len - 1] != '\n')
        ism_buf_add(out, "\r\n", 2);
    free(data);
    if (out->len == 0) {
        fprintf(stderr, "ismailctl: the message is empty\n");
        return ISM_EXIT_INVALID;
    }
    return ISM_EXIT_OK;
}

static int queue_inject(ism_ctl *ctx, int argc, char **argv)
{
    const char *from = NULL, *file = NULL;
    const char **to = calloc((size_t)argc, sizeof *to);
    size_t nto = 0;
    int rc = ISM_EXIT_USAGE;
    if (!to)
        return ISM_EXIT_STORE;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "--from") == 0 || strcmp(argv[i], "--to") == 0) && i + 1 < argc) {
            if (argv[i][2] == 'f')
                from = argv[++i];
            else
                to[nto++] = argv[++i];
        } else if (strncmp(argv[i], "--", 2) == 0 || file) {
            fprintf(stderr, "ismailctl: unexpected argument '%s' for queue inject\n", argv[i]);
            goto out;
        } else {
            file = argv[i];
        }
    }
    if (!from || !nto || !file) {
        fprintf(stderr, "ismailctl: queue inject needs --from, at least one --to and the message file\n");
        queue_usage();
        goto out;
    }
    if (strcmp(from, "<>") == 0)
        from = "";
    ism_buf msg = {0};
    if ((rc = read_message(file, &msg)) != ISM_EXIT_OK) {
        ism_buf_free(&msg);
        goto out;
    }
    ism_queue *q = NULL;
    if ((rc = open_queue(ctx, &q)) == ISM_EXIT_OK) {
        ism_err err = {0};
        int64_t id = 0;
        if (ism_queue_add(q, from, to, nto, msg.p, msg.len, &id, &err)) {
            rc = ism_ctl_fail(&err);
        } else if (ctx->json) {
            printf("{\"message\": %lld}\n", (long long)id);
        } else {
            printf("message %lld queued (%lu bytes) for %lu recipient%s; 'ismailctl queue list' shows it until it "
                   "is delivered\n",
                   (long long)id, (unsigned long)msg.len, (unsigned long)nto, nto == 1 ? "" : "s");
        }
        ism_queue_close(q);
    }
    ism_buf_free(&msg);
out:
    free(to);
    return rc;
}

int ism_ctl_queue(ism_ctl *ctx, int argc, char **argv)
{
    take_json(ctx, &argc, argv);
    if (argc < 2) {
        queue_usage();
        return ISM_EXIT_USAGE;
    }
    const char *sub = argv[1];
    int64_t id = 0;
    if (strcmp(sub, "inject") == 0)
        return queue_inject(ctx, argc, argv);
    int is_list = strcmp(sub, "list") == 0, is_retry = strcmp(sub, "retry") == 0,
        is_remove = strcmp(sub, "remove") == 0;
    if (!(is_list && argc == 2) && !((is_retry || is_remove) && argc == 3)) {
        if (!is_list && !is_retry && !is_remove)
            fprintf(stderr, "ismailctl: unknown queue command '%s'\n", sub);
        else
            fprintf(stderr, "ismailctl: wrong arguments for queue %s\n", sub);
        queue_usage();
        return ISM_EXIT_USAGE;
    }
    if (!is_list && parse_id(argv[2], is_retry, &id))
        return ISM_EXIT_USAGE;
    ism_queue *q = NULL;
    int rc = open_queue(ctx, &q);
    if (rc != ISM_EXIT_OK)
        return rc;
    ism_err err = {0};
    if (is_list) {
        rc = queue_list(ctx, q);
    } else if (is_retry) {
        rc = ism_queue_retry(q, id, ism_time_wall_ms(), &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("%s%s due now; the service tries within a second\n", id ? "item " : "every item",
                   id ? argv[2] : "");
    } else {
        rc = ism_queue_remove(q, id, &err) ? ism_ctl_fail(&err) : ISM_EXIT_OK;
        if (rc == ISM_EXIT_OK && !ctx->json)
            printf("item %s removed from the queue (no bounce is sent)\n", argv[2]);
    }
    ism_queue_close(q);
    return rc;
}

/* Prints n elements of size bytes at v: a JSON array of objects whose
 * members row_json prints, or a line each from row_text, or `empty` on
 * stderr when there are none. */
static void print_rows(const ism_ctl *ctx, const void *v, size_t n, size_t size, void (*row_json)(const void *),
                       void (*row_text)(const void *), const char *empty)
{
    if (ctx->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        const void *e = (const char *)v + i * size;
        if (ctx->json) {
            printf("%s\n  {", i ? "," : "");
            row_json(e);
            printf("}");
        } else {
            row_text(e);
        }
    }
    if (ctx->json)
        printf("%s]\n", n ? "\n" : "");
    else if (n == 0)
        fprintf(stderr, "%s\n", empty);
}

static void route_json(const void *e)
{
    const ism_route *r = e;
    printf("\"domain\": ");
    ism_ctl_jstr(r->domain);
    printf(", \"host\": ");
    ism_ctl_jstr(r->host);
    printf(", \"port\": %d", r->port);
}

static void route_text(const void *e)
{
    const ism_route *r = e;
    printf("%-30s -> %s port %d\n", r->domain, r->host, r->port);
}

static void policy_json(const void *e)
{
    const ism_tls_policy_entry *p = e;
    printf("\"domain\": ");
    ism_ctl_jstr(p->domain);
    printf(", \"policy\": ");
    ism_ctl_jstr(ism_tls_policy_name(p->policy));
}

static void policy_text(const void *e)
{
    const ism_tls_policy_entry *p = e;
    printf("%-30s %s\n", p->domain, ism_tls_policy_name(p->policy));
}

int ism_ctl_route(ism_ctl *ctx, int argc, char **argv)
{
    take_json(ctx, &argc, argv);
    const char *sub = argc >= 2 ? argv[1] : "";
    ism_err err = {0};
    if (strcmp(sub, "list") == 0 && argc == 2) {
        ism_route *v;
        size_t n;
        if (ism_store_route_list(ctx->store, &v, &n, &err))
            return ism_ctl_fail(&err);
        print_rows(ctx, v, n, sizeof *v, route_json, route_text,
                   "no routes: mail goes to each domain's MX hosts (or smtp.relay.host)");
        free(v);
        return ISM_EXIT_OK;
    }
    if (strcmp(sub, "add") == 0 && (argc == 4 || argc == 5)) {
        ism_route r;
        memset(&r, 0, sizeof r);
        snprintf(r.domain, sizeof r.domain, "%s", argv[2]);
        snprintf(r.host, sizeof r.host, "%s", argv[3]);
        r.port = 25;
        if (argc == 5) {
            char *end;
            long p = strtol(argv[4], &end, 10);
            r.port = (*argv[4] && !*end && p > 0 && p < 65536) ? (int)p : -1;
            if (r.port < 0) {
                fprintf(stderr, "ismailctl: port: '%s' is not a TCP port from 1 to 65535 (SMTP uses 25)\n", argv[4]);
                return ISM_EXIT_INVALID;
            }
        }
        if (ism_store_route_put(ctx->store, &r, &err))
            return ism_ctl_fail(&err);
        if (!ctx->json)
            printf("mail for %s now goes to %s port %d\n", strcmp(argv[2], "*") == 0 ? "every other domain" : argv[2],
                   argv[3], r.port);
        return ISM_EXIT_OK;
    }
    if (strcmp(sub, "remove") == 0 && argc == 3) {
        if (ism_store_route_remove(ctx->store, argv[2], &err))
            return ism_ctl_fail(&err);
        if (!ctx->json)
            printf("route for %s removed\n", argv[2]);
        return ISM_EXIT_OK;
    }
    if (*sub && strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove"))
        fprintf(stderr, "ismailctl: unknown route command '%s'\n", sub);
    route_usage();
    return ISM_EXIT_USAGE;
}

int ism_ctl_policy(ism_ctl *ctx, int argc, char **argv)
{
    take_json(ctx, &argc, argv);
    const char *sub = argc >= 2 ? argv[1] : "";
    ism_err err = {0};
    if (strcmp(sub, "list") == 0 && argc == 2) {
        ism_tls_policy_entry *v;
        size_t n;
        if (ism_store_policy_list(ctx->store, &v, &n, &err))
            return ism_ctl_fail(&err);
        print_rows(ctx, v, n, sizeof *v, policy_json, policy_text,
                   "no TLS policies: the SMTP Outgoing and Verify Certificate Domain checkboxes decide");
        free(v);
        return ISM_EXIT_OK;
    }
    if (strcmp(sub, "set") == 0 && argc == 4) {
        ism_tls_policy_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.domain, sizeof e.domain, "%s", argv[2]);
        if (ism_tls_policy_parse(argv[3], &e.policy, &err) || ism_store_policy_put(ctx->store, &e, &err))
            return ism_ctl_fail(&err);
        if (!ctx->json)
            printf("TLS policy for %s: %s\n", argv[2], ism_tls_policy_name(e.policy));
        return ISM_EXIT_OK;
    }
    if (strcmp(sub, "remove") == 0 && argc == 3) {
        if (ism_store_policy_remove(ctx->store, argv[2], &err))
            return ism_ctl_fail(&err);
        if (!ctx->json)
            printf("TLS policy for %s removed; the checkboxes decide for it again\n", argv[2]);
        return ISM_EXIT_OK;
    }
    if (*sub && strcmp(sub, "list") && strcmp(sub, "set") && strcmp(sub, "remove"))
        fprintf(stderr, "ismailctl: unknown policy command '%s'\n", sub);
    policy_usage();
    return ISM_EXIT_USAGE;
}
