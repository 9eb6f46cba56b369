/* fuzz_proto: one protocol session per fuzz input, driven like the
 * connection layer drives it (see fuzz_proto.h), with checks of what the
 * connection layer relies on:
 *   - STARTTLS is only ever accepted when offered and never inside TLS;
 *   - every reply of SMTP, POP3 and IMAP ends with CRLF;
 *   - the output buffer never reports a failed append;
 *   - SMTP gives back all of the data budget it reserved, and leaves no file
 *     in the spool folder, once the session has ended.
 * With FUZZ_VERBOSE=1 in the environment the session is printed to stderr
 * (C: what the client sent, S: the replies), to see what a seed does.
 *
 * The store is a real ism_mail (and ism_queue) file in the scratch folder,
 * made once per process with two domains, two accounts and four messages.
 * It stays open from one input to the next while nothing writes to it; when
 * an input has written (the file or its write-ahead log changed), it is
 * closed and its first contents copied back before the next input.
 *
 * Passwords are stored as PBKDF2 with 100,000 rounds (tens of milliseconds
 * per check), which would slow every login the fuzzer tries to a crawl: the
 * targets are linked with -Wl,--wrap=ism_mail_auth and the check below takes
 * its place. It still looks the account up in the store (so the address
 * parsing and the SQL run) and accepts exactly FUZZ_PASS. ism_mail_auth
 * itself is covered by the unit tests. */
#define _DEFAULT_SOURCE
#include "fuzz_proto.h"

#include "fuzz_common.h"
#include "ism_log.h"
#include "ism_mail.h"
#include "ism_platform.h"
#include "ism_queue.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __wrap_ism_mail_auth(ism_mail *m, const char *address, const char *password);
int __wrap_ism_mail_auth(ism_mail *m, const char *address, const char *password)
{
    if (!m || !address || !password)
        return 0;
    return ism_mail_user_exists(m, address) == 1 && strcmp(password, FUZZ_PASS) == 0;
}

static const char MSG1[] = "Received: from client.example.org by mail.example.test\r\n"
                           "From: Bob <bob@example.org>\r\n"
                           "To: Alice <alice@example.test>\r\n"
                           "Subject: Hello\r\n"
                           "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
                           "Message-ID: <1@example.org>\r\n"
                           "\r\n"
                           "Hi Alice,\r\n"
                           "\r\n"
                           "..a line that starts with a dot\r\n"
                           "Bob\r\n";
static const char MSG2[] = "From: \"Carol, C.\" <carol@example.net>\r\n"
                           "To: alice@example.test, bob@example.test\r\n"
                           "Cc: undisclosed-recipients:;\r\n"
                           "Subject: =?UTF-8?B?w6l0w6k=?= report\r\n"
                           "  folded onto a second line\r\n"
                           "MIME-Version: 1.0\r\n"
                           "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
                           "\r\n"
                           "--b1\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "\r\n"
                           "The report.\r\n"
                           "--b1\r\n"
                           "Content-Type: application/octet-stream; name=\"r.bin\"\r\n"
                           "Content-Transfer-Encoding: base64\r\n"
                           "\r\n"
                           "AAECAwQFBgcICQ==\r\n"
                           "--b1--\r\n";
static const char MSG3[] = "Subject: no body and no blank line\r\n";

static const char STATUS_TEXT[] = "ISMail on mail.example.test\n"
                                  "smtp: listening 127.0.0.1:25 tls on <&\"'>\n"
                                  "pop3: off\n";

typedef struct {
    int ready;
    char mail_path[1024], queue_path[1024], spool[1024], webroot[1024];
    void *mail_img, *queue_img;
    size_t mail_len, queue_len;
    ism_web_domain web[2];
} fixture;

static fixture fx;

/* An open store file and what it looked like when opened. */
typedef struct {
    struct timespec mtime[2]; /* the file, its -wal */
    off_t size[2];
} fstamp;
static ism_mail *cur_mail;
static ism_queue *cur_queue;
static fstamp mail_stamp, queue_stamp;
static int verbose = -1;

/* Data budget and queue wake-ups of the current session. */
static int64_t in_transit, budget;
static int queued_calls;

static int data_reserve(void *arg, int64_t bytes)
{
    (void)arg;
    if (bytes < 0)
        fuzz_die("data_reserve of %lld bytes", (long long)bytes);
    if (in_transit + bytes > budget)
        return -1;
    in_transit += bytes;
    return 0;
}

static void data_release(void *arg, int64_t bytes)
{
    (void)arg;
    if (bytes < 0 || bytes > in_transit)
        fuzz_die("data_release of %lld bytes with %lld reserved", (long long)bytes, (long long)in_transit);
    in_transit -= bytes;
}

static void queued(void *arg)
{
    (void)arg;
    queued_calls++;
}

static void must(int rc, const char *what, const ism_err *err)
{
    if (rc)
        fuzz_die("%s: %s", what, err->msg);
}

static void drop_sidecars(const char *db)
{
    char p[1100];
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static void fixture_init(void)
{
    ism_err err;
    memset(&err, 0, sizeof err);
    ism_log_open(NULL, 0); /* failed logins and refusals are logged: keep the fuzzer's output clean */
    fuzz_path(fx.mail_path, sizeof fx.mail_path, "mail.db");
    fuzz_path(fx.queue_path, sizeof fx.queue_path, "queue.db");
    fuzz_path(fx.spool, sizeof fx.spool, "spool");
    fuzz_path(fx.webroot, sizeof fx.webroot, "webroot");

    ism_mail *m;
    must(ism_mail_open(&m, fx.mail_path, &err), "opening the mail store", &err);
    must(ism_mail_domain_add(m, "example.test", &err), "adding a domain", &err);
    must(ism_mail_domain_add(m, "example.net", &err), "adding a domain", &err);
    must(ism_mail_user_add(m, FUZZ_USER, FUZZ_PASS, &err), "adding an account", &err);
    must(ism_mail_user_add(m, FUZZ_USER2, FUZZ_PASS, &err), "adding an account", &err);
    must(ism_mail_deliver(m, FUZZ_USER, MSG1, sizeof MSG1 - 1, &err), "delivering", &err);
    must(ism_mail_deliver(m, FUZZ_USER, MSG2, sizeof MSG2 - 1, &err), "delivering", &err);
    must(ism_mail_deliver(m, FUZZ_USER, MSG3, sizeof MSG3 - 1, &err), "delivering", &err);
    must(ism_mail_set_flags(m, FUZZ_USER, 2, ISM_FLAG_SEEN | ISM_FLAG_FLAGGED, &err), "setting flags", &err);
    must(ism_mail_deliver(m, FUZZ_USER2, MSG1, sizeof MSG1 - 1, &err), "delivering", &err);
    ism_mail_close(m);
    drop_sidecars(fx.mail_path);
    fx.mail_img = fuzz_read_file(fx.mail_path, &fx.mail_len);

    ism_queue *q;
    must(ism_queue_open(&q, fx.queue_path, &err), "opening the queue", &err);
    ism_queue_close(q);
    drop_sidecars(fx.queue_path);
    fx.queue_img = fuzz_read_file(fx.queue_path, &fx.queue_len);

    char p[1100];
    must(ism_fs_mkdirs(fx.spool, 0, &err), "making the spool folder", &err);
    snprintf(p, sizeof p, "%s/acme-challenge", fx.webroot);
    must(ism_fs_mkdirs(p, 0, &err), "making the web root", &err);
    snprintf(p, sizeof p, "%s/acme-challenge/tok123", fx.webroot);
    fuzz_write_file(p, "tok123.thumbprint", 17);
    snprintf(p, sizeof p, "%s/mta-sts.txt", fx.webroot);
    fuzz_write_file(p, "version: STSv1\nmode: enforce\nmx: mail.example.test\nmax_age: 86400\n", 66);
    snprintf(p, sizeof p, "%s/sub", fx.webroot);
    must(ism_fs_mkdirs(p, 0, &err), "making the web root", &err);
    fuzz_path(p, sizeof p, "secret.txt");
    fuzz_write_file(p, "TOP SECRET", 10);

    snprintf(fx.web[0].domain, sizeof fx.web[0].domain, "www.example.test");
    fx.web[0].port = 8443;
    snprintf(fx.web[1].domain, sizeof fx.web[1].domain, "secure.example.test");
    fx.web[1].port = 443;
    fx.ready = 1;
}

static void show(const char *who, const char *p, size_t len)
{
    if (verbose > 0 && len > 0)
        fprintf(stderr, "%s %.*s%s", who, (int)len, p, p[len - 1] == '\n' ? "" : "\n");
}

static void take_stamp(const char *db, fstamp *st)
{
    char wal[1100];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", db);
    memset(st, 0, sizeof *st);
    if (stat(db, &sb) == 0) {
        st->mtime[0] = sb.st_mtim;
        st->size[0] = sb.st_size;
    }
    if (stat(wal, &sb) == 0) {
        st->mtime[1] = sb.st_mtim;
        st->size[1] = sb.st_size;
    }
}

static int stamp_changed(const char *db, const fstamp *was)
{
    fstamp now;
    take_stamp(db, &now);
    for (int i = 0; i < 2; i++)
        if (now.size[i] != was->size[i] || now.mtime[i].tv_sec != was->mtime[i].tv_sec ||
            now.mtime[i].tv_nsec != was->mtime[i].tv_nsec)
            return 1;
    return 0;
}

/* The store and queue as made by fixture_init, open. */
static void stores_open(void)
{
    ism_err err;
    memset(&err, 0, sizeof err);
    if (!cur_mail) {
        drop_sidecars(fx.mail_path);
        fuzz_write_file(fx.mail_path, fx.mail_img, fx.mail_len);
        must(ism_mail_open(&cur_mail, fx.mail_path, &err), "opening the mail store", &err);
        take_stamp(fx.mail_path, &mail_stamp);
    }
    if (!cur_queue) {
        drop_sidecars(fx.queue_path);
        fuzz_write_file(fx.queue_path, fx.queue_img, fx.queue_len);
        must(ism_queue_open(&cur_queue, fx.queue_path, &err), "opening the queue", &err);
        take_stamp(fx.queue_path, &queue_stamp);
    }
}

/* After a session: whichever was written to is closed, to be made afresh. */
static void stores_check(void)
{
    if (stamp_changed(fx.mail_path, &mail_stamp)) {
        ism_mail_close(cur_mail);
        cur_mail = NULL;
    }
    if (stamp_changed(fx.queue_path, &queue_stamp)) {
        ism_queue_close(cur_queue);
        cur_queue = NULL;
    }
}

static int ends_crlf(const ism_buf *b)
{
    return b->len >= 2 && b->p[b->len - 2] == '\r' && b->p[b->len - 1] == '\n';
}

static int crlf_replies(const ism_proto_ops *ops)
{
    return ops != &ism_proto_http;
}

int fuzz_proto_line(const ism_proto_ops *ops, void *st, ism_proto_env *env, const char *line, size_t len,
                    ism_buf *out)
{
    int offered = env->starttls_offered, in_tls = env->tls_active;
    show("C:", line, len);
    ism_proto_action a = ism_proto_feed(ops, st, env, line, len, out);
    show("S:", out->p, out->len);
    if (out->oom)
        fuzz_die("%s: an append to the output failed", ops->name);
    if (out->len > 0 && crlf_replies(ops) && !ends_crlf(out))
        fuzz_die("%s: a reply does not end with CRLF: '%.*s'", ops->name, (int)(out->len > 200 ? 200 : out->len),
                 out->p);
    out->len = 0; /* sent */
    switch (a) {
    case ISM_PROTO_CONTINUE:
        return 0;
    case ISM_PROTO_CLOSE:
        return 1;
    case ISM_PROTO_STARTTLS:
        if (in_tls)
            fuzz_die("%s: STARTTLS accepted inside TLS", ops->name);
        if (!offered)
            fuzz_die("%s: STARTTLS accepted though not offered", ops->name);
        /* The handshake succeeds; what follows in the input arrives inside
         * TLS (the connection layer drops what came with the command). */
        env->tls_active = 1;
        env->starttls_offered = 0;
        env->tls_version = "TLSv1.3";
        env->tls_cipher = "TLS_AES_256_GCM_SHA384";
        ops->tls_started(st, env);
        if (out->len > 0)
            fuzz_die("%s: tls_started wrote %lu bytes", ops->name, (unsigned long)out->len);
        return 0;
    default:
        fuzz_die("%s: ism_proto_feed returned action %d", ops->name, (int)a);
    }
}

static void too_long(const ism_proto_ops *ops, void *st, ism_proto_env *env, ism_buf *out)
{
    show("C:", "(a line that is too long)", 25);
    ops->too_long(st, env, out);
    show("S:", out->p, out->len);
    if (out->oom || (out->len > 0 && crlf_replies(ops) && !ends_crlf(out)))
        fuzz_die("%s: bad reply to a line that is too long", ops->name);
    out->len = 0;
}

static void spool_empty(const ism_proto_ops *ops)
{
    DIR *d = opendir(fx.spool);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fuzz_die("%s: %s left in the spool folder after the session", ops->name, e->d_name);
    if (d)
        closedir(d);
}

int fuzz_proto_run(const ism_proto_ops *ops, const uint8_t *data, size_t size)
{
    if (!fx.ready)
        fixture_init();
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE")) > 0;
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    data++;
    size--;

    stores_open();

    ism_proto_req req;
    memset(&req, 0, sizeof req);
    ism_proto_env env;
    memset(&env, 0, sizeof env);
    env.hostname = "mail.example.test";
    env.peer_addr = "192.0.2.1";
    env.starttls_offered = (flags & FUZZ_ENV_STARTTLS_OFFERED) && !(flags & FUZZ_ENV_IMPLICIT_TLS);
    env.tls_required_for_auth = !!(flags & FUZZ_ENV_TLS_REQUIRED);
    env.submission = !!(flags & FUZZ_ENV_SUBMISSION);
    env.local_senders_need_auth = !!(flags & FUZZ_ENV_LOCAL_AUTH);
    if (flags & FUZZ_ENV_IMPLICIT_TLS) {
        env.tls_active = 1;
        env.tls_version = "TLSv1.3";
        env.tls_cipher = "TLS_AES_256_GCM_SHA384";
    }
    env.req = &req;
    env.max_message = (flags & FUZZ_ENV_SMALL_LIMITS) ? 300 : 25 * 1024 * 1024;
    budget = (flags & FUZZ_ENV_SMALL_LIMITS) ? 500 : 64 * 1024 * 1024;
    in_transit = 0;
    queued_calls = 0;
    env.data_reserve = data_reserve;
    env.data_release = data_release;
    env.spool_dir = fx.spool;
    env.mail = cur_mail;
    env.queue = cur_queue;
    env.queued = queued;
    env.web_domains = fx.web;
    env.n_web_domains = 2;
    env.web_root = fx.webroot;
    env.status_text = STATUS_TEXT;

    ism_buf out;
    memset(&out, 0, sizeof out);
    void *st = calloc(1, ops->state_size);
    if (!st)
        fuzz_die("out of memory");
    ops->begin(st, &env, &out);
    show("S:", out.p, out.len);
    if (out.oom || (out.len > 0 && crlf_replies(ops) && !ends_crlf(&out)))
        fuzz_die("%s: bad greeting", ops->name);
    out.len = 0;

    /* server.c conn_lines: a line ends at LF; a CR before it is dropped; a
     * line that does not fit in max_line with its CRLF is answered by
     * too_long. Bytes after the last LF are never handed over (the client
     * went away), unless they already overflow the line buffer. */
    const char *p = (const char *)data, *end = p + size;
    int over = 0;
    while (!over && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if ((size_t)(end - p) >= ops->max_line + 2)
                too_long(ops, st, &env, &out);
            break;
        }
        size_t len = (size_t)(nl - p);
        env.line_flags = 0;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        else
            env.line_flags |= ISM_LINE_BARE_LF;
        if (memchr(p, '\r', len))
            env.line_flags |= ISM_LINE_BARE_CR;
        if (len + 2 > ops->max_line)
            too_long(ops, st, &env, &out);
        else
            over = fuzz_proto_line(ops, st, &env, p, len, &out);
        p = nl + 1;
    }

    ops->end(st);
    free(st);
    ism_buf_free(&out);
    if (in_transit != 0)
        fuzz_die("%s: %lld bytes of the data budget still reserved after the session ended", ops->name,
                 (long long)in_transit);
    spool_empty(ops);
    stores_check();
    return 0;
}
