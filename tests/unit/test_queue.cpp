// Outgoing mail: the queue (persistence, one item per domain, back-off,
// partial delivery, retry and remove), bounces (permanent failures and the
// queue's max age, never a bounce of a bounce, RFC 3464 shape), the TLS
// policy (checkboxes and the policy table), the next hop (route, "*" route,
// smart host, MX) and the store's routes and policies tables (schema 3).
#include "ism_queue.h"
#include "ism_store.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <sqlite3.h>
#include <cstdlib>
#include <cstring>
#include <string>

static const char SAMPLE[] = "From: alice@local.test\r\nTo: bob@remote.test\r\nSubject: hello there\r\n"
                          "Message-ID: <m1@local.test>\r\n\r\nBody line\r\n.leading dot\r\n";

TEST_GROUP(Queue)
{
    std::string dir, path;
    ism_queue *q = nullptr;
    ism_err err = {};
    ism_queue_opts opts = {"mx.local.test", 5LL * 86400000};
    void setup() override
    {
        dir = ism_test_mkdtemp();
        path = dir + "/queue.db";
        LONGS_EQUAL_TEXT(0, ism_queue_open(&q, path.c_str(), &err), err.msg);
    }
    void teardown() override
    {
        ism_queue_close(q);
        ism_test_rmtree(dir);
    }
    int64_t add(const char *from, std::initializer_list<const char *> to, const char *data = SAMPLE)
    {
        const char *v[16];
        size_t n = 0;
        for (const char *t : to)
            v[n++] = t;
        int64_t id = 0;
        LONGS_EQUAL_TEXT(0, ism_queue_add(q, from, v, n, data, strlen(data), &id, &err), err.msg);
        return id;
    }
    // The items, as a copy the test frees with done().
    ism_queue_item *items(size_t *n)
    {
        ism_queue_item *v = nullptr;
        LONGS_EQUAL_TEXT(0, ism_queue_list(q, &v, n, &err), err.msg);
        return v;
    }
    ism_queue_recorded record(int64_t id, ism_rcpt_outcome *o, size_t n, int64_t now)
    {
        ism_queue_recorded r;
        memset(&r, 0, sizeof r);
        LONGS_EQUAL_TEXT(0, ism_queue_record(q, id, o, n, now, &opts, &r, &err), err.msg);
        return r;
    }
    std::string data_of(int64_t msg)
    {
        char *d = nullptr;
        size_t len = 0;
        LONGS_EQUAL_TEXT(0, ism_queue_data(q, msg, &d, &len, &err), err.msg);
        std::string s(d, len);
        free(d);
        return s;
    }
};

TEST(Queue, OneItemPerDomainAndEverythingSurvivesReopening)
{
    int64_t msg = add("alice@local.test", {"bob@remote.test", "Carol@Other.TEST", "dave@remote.test", "bob@remote.test"});
    CHECK(msg > 0);
    ism_queue_close(q);
    q = nullptr;
    LONGS_EQUAL_TEXT(0, ism_queue_open(&q, path.c_str(), &err), err.msg);
    size_t n = 0;
    ism_queue_item *v = items(&n);
    LONGS_EQUAL(2, n);
    STRCMP_EQUAL("other.test", v[0].domain); // sorted by domain when queued
    LONGS_EQUAL(1, v[0].n_rcpts);
    STRCMP_EQUAL("Carol@other.test", v[0].rcpts[0]); // the local part keeps its case
    STRCMP_EQUAL("remote.test", v[1].domain);
    LONGS_EQUAL(2, v[1].n_rcpts); // bob only once
    STRCMP_EQUAL("bob@remote.test", v[1].rcpts[0]);
    STRCMP_EQUAL("dave@remote.test", v[1].rcpts[1]);
    STRCMP_EQUAL("alice@local.test", v[1].sender);
    LONGS_EQUAL(0, v[1].attempts);
    LONGS_EQUAL(strlen(SAMPLE), v[1].size);
    LONGS_EQUAL(msg, v[0].msg);
    LONGS_EQUAL(msg, v[1].msg);
    STRCMP_EQUAL(SAMPLE, data_of(msg).c_str());
    ism_queue_items_free(v, n);
}

TEST(Queue, BadAddressesQueueNothing)
{
    const char *to[] = {"bob@remote.test", "not an address"};
    LONGS_EQUAL(-1, ism_queue_add(q, "alice@local.test", to, 2, SAMPLE, strlen(SAMPLE), nullptr, &err));
    STRCMP_CONTAINS("not an address", err.msg);
    LONGS_EQUAL(-1, ism_queue_add(q, "alice@", to, 1, SAMPLE, strlen(SAMPLE), nullptr, &err));
    LONGS_EQUAL(-1, ism_queue_add(q, "alice@local.test", to, 0, SAMPLE, strlen(SAMPLE), nullptr, &err));
    size_t n = 9;
    ism_queue_item *v = items(&n);
    LONGS_EQUAL(0, n);
    ism_queue_items_free(v, n);
}

TEST(Queue, BackOffIsOneFiveFifteenThirtyThenHourly)
{
    LONGS_EQUAL(60000, ism_queue_backoff_ms(1));
    LONGS_EQUAL(5 * 60000, ism_queue_backoff_ms(2));
    LONGS_EQUAL(15 * 60000, ism_queue_backoff_ms(3));
    LONGS_EQUAL(30 * 60000, ism_queue_backoff_ms(4));
    LONGS_EQUAL(60 * 60000, ism_queue_backoff_ms(5));
    LONGS_EQUAL(60 * 60000, ism_queue_backoff_ms(50));
}

TEST(Queue, DeferredItemsWaitForTheirNextAttempt)
{
    add("alice@local.test", {"bob@remote.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t id = v[0].id, t = v[0].created_ms;
    ism_queue_items_free(v, n);
    ism_queue_item *due = nullptr;
    LONGS_EQUAL(0, ism_queue_due(q, t, 10, &due, &n, &err));
    LONGS_EQUAL(1, n); // due at once
    ism_queue_items_free(due, n);
    const int64_t waits[] = {1, 5, 15, 30, 60, 60};
    for (int a = 0; a < 6; a++) {
        ism_rcpt_outcome o = {"bob@remote.test", ISM_RCPT_DEFER, "451 4.3.0 try again later"};
        ism_queue_recorded r = record(id, &o, 1, t);
        LONGS_EQUAL(1, r.deferred);
        LONGS_EQUAL(t + waits[a] * 60000, r.next_ms);
        LONGS_EQUAL(0, ism_queue_due(q, r.next_ms - 1, 10, &due, &n, &err));
        LONGS_EQUAL(0, n);
        ism_queue_items_free(due, n);
        int64_t next = 0;
        LONGS_EQUAL(0, ism_queue_next_due(q, &next, &err));
        LONGS_EQUAL(r.next_ms, next);
        LONGS_EQUAL(0, ism_queue_due(q, r.next_ms, 10, &due, &n, &err));
        LONGS_EQUAL(1, n);
        LONGS_EQUAL(a + 1, due[0].attempts);
        STRCMP_EQUAL("451 4.3.0 try again later", due[0].reason);
        LONGS_EQUAL(t, due[0].last_ms);
        ism_queue_items_free(due, n);
        t = r.next_ms;
    }
}

TEST(Queue, SentRecipientsLeaveAndTheMessageGoesWithTheLastItem)
{
    int64_t msg = add("alice@local.test", {"bob@remote.test", "carol@remote.test", "dan@other.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t other = v[0].id, remote = v[1].id, t = v[1].created_ms;
    ism_queue_items_free(v, n);
    ism_rcpt_outcome o[] = {{"bob@remote.test", ISM_RCPT_SENT, "250 2.0.0 OK"},
                            {"carol@remote.test", ISM_RCPT_DEFER, "452 4.2.2 mailbox full"}};
    ism_queue_recorded r = record(remote, o, 2, t);
    LONGS_EQUAL(1, r.sent);
    LONGS_EQUAL(1, r.deferred);
    v = items(&n);
    LONGS_EQUAL(2, n);
    LONGS_EQUAL(1, v[1].n_rcpts);
    STRCMP_EQUAL("carol@remote.test", v[1].rcpts[0]);
    STRCMP_EQUAL("452 4.2.2 mailbox full", v[1].reason);
    ism_queue_items_free(v, n);
    ism_rcpt_outcome c = {"carol@remote.test", ISM_RCPT_SENT, "250 ok"};
    r = record(remote, &c, 1, t + 60000);
    LONGS_EQUAL(0, r.next_ms);
    ism_rcpt_outcome d = {"dan@other.test", ISM_RCPT_SENT, "250 ok"};
    record(other, &d, 1, t);
    v = items(&n);
    LONGS_EQUAL(0, n);
    ism_queue_items_free(v, n);
    char *data = nullptr;
    size_t len = 0;
    LONGS_EQUAL(-1, ism_queue_data(q, msg, &data, &len, &err)); // no copy left behind
}

TEST(Queue, APermanentFailureQueuesAnRfc3464BounceToTheSender)
{
    add("alice@local.test", {"bob@remote.test", "carol@remote.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t id = v[0].id, t = v[0].created_ms;
    ism_queue_items_free(v, n);
    ism_rcpt_outcome o[] = {{"bob@remote.test", ISM_RCPT_FAIL, "550 5.1.1 <bob@remote.test>: no such user"},
                            {"carol@remote.test", ISM_RCPT_SENT, "250 ok"}};
    ism_queue_recorded r = record(id, o, 2, t + 1000);
    LONGS_EQUAL(1, r.failed);
    CHECK(r.bounce_msg > 0);
    v = items(&n);
    LONGS_EQUAL(1, n); // only the bounce
    STRCMP_EQUAL("", v[0].sender);
    STRCMP_EQUAL("local.test", v[0].domain);
    STRCMP_EQUAL("alice@local.test", v[0].rcpts[0]);
    std::string b = data_of(v[0].msg);
    ism_queue_items_free(v, n);
    STRCMP_CONTAINS("To: <alice@local.test>\r\n", b.c_str());
    STRCMP_CONTAINS("From: Mail Delivery System <MAILER-DAEMON@mx.local.test>", b.c_str());
    STRCMP_CONTAINS("Content-Type: multipart/report; report-type=delivery-status;", b.c_str());
    STRCMP_CONTAINS("Content-Type: message/delivery-status\r\n", b.c_str());
    STRCMP_CONTAINS("Reporting-MTA: dns; mx.local.test\r\n", b.c_str());
    STRCMP_CONTAINS("Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n", b.c_str());
    STRCMP_CONTAINS("Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: no such user\r\n", b.c_str());
    STRCMP_CONTAINS("Content-Type: text/rfc822-headers\r\n", b.c_str());
    STRCMP_CONTAINS("Subject: hello there\r\n", b.c_str());
    CHECK(b.find("Body line") == std::string::npos); // headers only
    CHECK(b.find("carol@remote.test") == std::string::npos);
    // Every part is closed.
    size_t start = b.find("boundary=\"") + 10;
    std::string boundary = b.substr(start, b.find('"', start) - start);
    STRCMP_CONTAINS(("\r\n--" + boundary + "--\r\n").c_str(), b.c_str());
}

TEST(Queue, PastTheMaxAgeADeferralBecomesABounce)
{
    add("alice@local.test", {"bob@remote.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t id = v[0].id, t = v[0].created_ms;
    ism_queue_items_free(v, n);
    ism_rcpt_outcome o = {"bob@remote.test", ISM_RCPT_DEFER, "4.4.1 cannot connect to mx.remote.test"};
    ism_queue_recorded r = record(id, &o, 1, t + opts.max_age_ms - 1);
    LONGS_EQUAL(1, r.deferred);
    LONGS_EQUAL(0, r.expired);
    r = record(id, &o, 1, t + opts.max_age_ms);
    LONGS_EQUAL(1, r.expired);
    LONGS_EQUAL(1, r.failed);
    CHECK(r.bounce_msg > 0);
    v = items(&n);
    LONGS_EQUAL(1, n);
    std::string b = data_of(v[0].msg);
    ism_queue_items_free(v, n);
    STRCMP_CONTAINS("Status: 4.4.7\r\n", b.c_str());
    STRCMP_CONTAINS("gave up after 5 days", b.c_str());
    STRCMP_CONTAINS("cannot connect to mx.remote.test", b.c_str());
}

TEST(Queue, ABounceNeverBounces)
{
    add("", {"alice@remote.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t id = v[0].id, t = v[0].created_ms;
    ism_queue_items_free(v, n);
    ism_rcpt_outcome o = {"alice@remote.test", ISM_RCPT_FAIL, "550 5.1.1 gone"};
    ism_queue_recorded r = record(id, &o, 1, t);
    LONGS_EQUAL(1, r.failed);
    LONGS_EQUAL(0, r.bounce_msg);
    v = items(&n);
    LONGS_EQUAL(0, n);
    ism_queue_items_free(v, n);
}

TEST(Queue, RetryRemoveAndRecordingAnItemThatWasRemoved)
{
    add("alice@local.test", {"bob@remote.test"});
    add("alice@local.test", {"carol@other.test"});
    size_t n = 0;
    ism_queue_item *v = items(&n);
    int64_t a = v[0].id, b = v[1].id, t = v[1].created_ms; // the later of the two
    ism_queue_items_free(v, n);
    ism_rcpt_outcome o = {"bob@remote.test", ISM_RCPT_DEFER, "421 4.3.2 shutting down"};
    record(a, &o, 1, t);
    ism_queue_item *due = nullptr;
    LONGS_EQUAL(0, ism_queue_due(q, t + 1, 10, &due, &n, &err));
    LONGS_EQUAL(1, n); // only b
    ism_queue_items_free(due, n);
    LONGS_EQUAL_TEXT(0, ism_queue_retry(q, a, t + 1, &err), err.msg);
    LONGS_EQUAL(0, ism_queue_due(q, t + 1, 10, &due, &n, &err));
    LONGS_EQUAL(2, n);
    ism_queue_items_free(due, n);
    LONGS_EQUAL(-1, ism_queue_retry(q, 999, t, &err));
    STRCMP_CONTAINS("999", err.msg);
    LONGS_EQUAL_TEXT(0, ism_queue_retry(q, 0, t, &err), err.msg); // all
    LONGS_EQUAL_TEXT(0, ism_queue_remove(q, b, &err), err.msg);
    LONGS_EQUAL(-1, ism_queue_remove(q, b, &err));
    STRCMP_CONTAINS("does not exist", err.msg);
    // The delivery thread finishing an attempt at an item the administrator removed.
    ism_rcpt_outcome c = {"carol@other.test", ISM_RCPT_SENT, "250 ok"};
    ism_queue_recorded r;
    LONGS_EQUAL_TEXT(0, ism_queue_record(q, b, &c, 1, t, &opts, &r, &err), err.msg);
    LONGS_EQUAL(0, r.sent);
    v = items(&n);
    LONGS_EQUAL(1, n);
    LONGS_EQUAL(a, v[0].id);
    ism_queue_items_free(v, n);
    int64_t next = 0;
    LONGS_EQUAL(0, ism_queue_remove(q, a, &err));
    LONGS_EQUAL(0, ism_queue_next_due(q, &next, &err));
    LONGS_EQUAL(-1, next);
}

TEST(Queue, BounceDateAndStatusFormats)
{
    ism_buf b = {};
    ism_dsn_rcpt r[] = {{"x@remote.test", "5.1.2 the domain remote.test does not exist (DNS)"},
                        {"y@remote.test", "554 transaction failed"}};
    ism_queue_dsn(&b, "mx.local.test", "alice@local.test", r, 2, "Subject: s\r\n\r\nbody\r\n", 21, 0,
                  1700000000000LL);
    std::string s(b.p, b.len);
    ism_buf_free(&b);
    STRCMP_CONTAINS("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", s.c_str());
    STRCMP_CONTAINS("Arrival-Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n", s.c_str());
    STRCMP_CONTAINS("Final-Recipient: rfc822; x@remote.test\r\nAction: failed\r\nStatus: 5.1.2\r\nLast-Attempt", s.c_str());
    STRCMP_CONTAINS("Status: 5.0.0\r\nDiagnostic-Code: smtp; 554 transaction failed\r\n", s.c_str());
}

TEST_GROUP(Outgoing)
{
    ism_config cfg;
    void setup() override { ism_config_init(&cfg); }
    void teardown() override { ism_config_free(&cfg); }
};

TEST(Outgoing, TheCheckboxesDecideThePolicy)
{
    const char *src = nullptr;
    LONGS_EQUAL(ISM_TLS_POLICY_NONE, ism_outgoing_policy(&cfg, nullptr, 0, "remote.test", &src));
    STRCMP_EQUAL("SMTP Outgoing is off", src);
    ism_config_put(&cfg, ISM_S_SMTP_TLS_VERIFY_DOMAIN, "on");
    LONGS_EQUAL(ISM_TLS_POLICY_NONE, ism_outgoing_policy(&cfg, nullptr, 0, "remote.test", &src));
    ism_config_put(&cfg, ISM_S_SMTP_TLS_OUTGOING, "on");
    LONGS_EQUAL(ISM_TLS_POLICY_VERIFY, ism_outgoing_policy(&cfg, nullptr, 0, "remote.test", &src));
    STRCMP_EQUAL("Verify Certificate Domain is on", src);
    ism_config_put(&cfg, ISM_S_SMTP_TLS_VERIFY_DOMAIN, "off");
    LONGS_EQUAL(ISM_TLS_POLICY_MAY, ism_outgoing_policy(&cfg, nullptr, 0, "remote.test", &src));
    STRCMP_EQUAL("SMTP Outgoing is on", src);
}

TEST(Outgoing, ThePolicyTableOverridesTheCheckboxes)
{
    ism_tls_policy_entry t[2] = {};
    snprintf(t[0].domain, sizeof t[0].domain, "enc.test");
    t[0].policy = ISM_TLS_POLICY_ENCRYPT;
    snprintf(t[1].domain, sizeof t[1].domain, "old.test");
    t[1].policy = ISM_TLS_POLICY_NONE;
    ism_config_put(&cfg, ISM_S_SMTP_TLS_OUTGOING, "on");
    ism_config_put(&cfg, ISM_S_SMTP_TLS_VERIFY_DOMAIN, "on");
    const char *src = nullptr;
    LONGS_EQUAL(ISM_TLS_POLICY_ENCRYPT, ism_outgoing_policy(&cfg, t, 2, "enc.test", &src));
    STRCMP_EQUAL("the policy table", src);
    LONGS_EQUAL(ISM_TLS_POLICY_NONE, ism_outgoing_policy(&cfg, t, 2, "old.test", &src));
    LONGS_EQUAL(ISM_TLS_POLICY_VERIFY, ism_outgoing_policy(&cfg, t, 2, "sub.enc.test", &src)); // exact match only
    ism_config_put(&cfg, ISM_S_SMTP_TLS_OUTGOING, "off");
    LONGS_EQUAL(ISM_TLS_POLICY_ENCRYPT, ism_outgoing_policy(&cfg, t, 2, "enc.test", &src));
}

TEST(Outgoing, ARouteOverridesTheSmartHostWhichOverridesMx)
{
    ism_next_hop h;
    ism_outgoing_next_hop(&cfg, nullptr, 0, "remote.test", &h);
    LONGS_EQUAL(ISM_HOP_MX, h.kind);
    STRCMP_EQUAL("remote.test", h.host);
    LONGS_EQUAL(25, h.port);
    ism_config_put(&cfg, ISM_S_SMTP_RELAY_HOST, "smart.local.test");
    ism_outgoing_next_hop(&cfg, nullptr, 0, "remote.test", &h);
    LONGS_EQUAL(ISM_HOP_RELAY, h.kind);
    STRCMP_EQUAL("smart.local.test", h.host);
    LONGS_EQUAL(25, h.port);
    ism_route r[2] = {};
    snprintf(r[0].domain, sizeof r[0].domain, "remote.test");
    snprintf(r[0].host, sizeof r[0].host, "127.0.0.1");
    r[0].port = 2525;
    ism_outgoing_next_hop(&cfg, r, 1, "remote.test", &h);
    LONGS_EQUAL(ISM_HOP_ROUTE, h.kind);
    STRCMP_EQUAL("127.0.0.1", h.host);
    LONGS_EQUAL(2525, h.port);
    STRCMP_CONTAINS("route for remote.test", h.via);
    ism_outgoing_next_hop(&cfg, r, 1, "other.test", &h);
    LONGS_EQUAL(ISM_HOP_RELAY, h.kind);
    // The "*" route: every domain without a route of its own, before the smart host.
    snprintf(r[1].domain, sizeof r[1].domain, "*");
    snprintf(r[1].host, sizeof r[1].host, "gw.local.test");
    r[1].port = 587;
    ism_outgoing_next_hop(&cfg, r, 2, "other.test", &h);
    LONGS_EQUAL(ISM_HOP_ROUTE, h.kind);
    STRCMP_EQUAL("gw.local.test", h.host);
    LONGS_EQUAL(587, h.port);
    ism_outgoing_next_hop(&cfg, r, 2, "remote.test", &h);
    STRCMP_EQUAL("127.0.0.1", h.host);
}

TEST_GROUP(StoreRoutes)
{
    std::string dir, path;
    ism_store *st = nullptr;
    ism_err err = {};
    void setup() override
    {
        dir = ism_test_mkdtemp();
        path = dir + "/ismail.db";
        LONGS_EQUAL_TEXT(0, ism_store_open(&st, path.c_str(), &err), err.msg);
    }
    void teardown() override
    {
        ism_store_close(st);
        ism_test_rmtree(dir);
    }
};

TEST(StoreRoutes, RoutesAreCheckedStoredAndRemoved)
{
    ism_route r = {};
    snprintf(r.domain, sizeof r.domain, "Remote.TEST");
    snprintf(r.host, sizeof r.host, "MX.Remote.Test");
    r.port = 2525;
    LONGS_EQUAL_TEXT(0, ism_store_route_put(st, &r, &err), err.msg);
    snprintf(r.domain, sizeof r.domain, "*");
    snprintf(r.host, sizeof r.host, "192.0.2.7");
    r.port = 25;
    LONGS_EQUAL_TEXT(0, ism_store_route_put(st, &r, &err), err.msg);
    snprintf(r.host, sizeof r.host, "bad host");
    LONGS_EQUAL(-1, ism_store_route_put(st, &r, &err));
    STRCMP_CONTAINS("host", err.msg);
    snprintf(r.host, sizeof r.host, "ok.test");
    r.port = 0;
    LONGS_EQUAL(-1, ism_store_route_put(st, &r, &err));
    STRCMP_CONTAINS("port", err.msg);
    ism_route *v = nullptr;
    size_t n = 0;
    LONGS_EQUAL(0, ism_store_route_list(st, &v, &n, &err));
    LONGS_EQUAL(2, n);
    STRCMP_EQUAL("*", v[0].domain);
    STRCMP_EQUAL("remote.test", v[1].domain);
    STRCMP_EQUAL("mx.remote.test", v[1].host);
    LONGS_EQUAL(2525, v[1].port);
    free(v);
    int64_t rev = 0;
    ism_store_revision(st, &rev, nullptr);
    LONGS_EQUAL(2, rev);
    LONGS_EQUAL_TEXT(0, ism_store_route_remove(st, "remote.test", &err), err.msg);
    LONGS_EQUAL(-1, ism_store_route_remove(st, "remote.test", &err));
    STRCMP_CONTAINS("route list", err.msg);
}

TEST(StoreRoutes, PoliciesAreParsedStoredAndRemoved)
{
    ism_tls_policy p;
    LONGS_EQUAL(0, ism_tls_policy_parse("Verify", &p, &err));
    LONGS_EQUAL(ISM_TLS_POLICY_VERIFY, p);
    LONGS_EQUAL(-1, ism_tls_policy_parse("dane", &p, &err));
    STRCMP_CONTAINS("none", err.msg);
    ism_tls_policy_entry e = {};
    snprintf(e.domain, sizeof e.domain, "Enc.Test");
    e.policy = ISM_TLS_POLICY_ENCRYPT;
    LONGS_EQUAL_TEXT(0, ism_store_policy_put(st, &e, &err), err.msg);
    e.policy = ISM_TLS_POLICY_MAY;
    snprintf(e.domain, sizeof e.domain, "*");
    LONGS_EQUAL(-1, ism_store_policy_put(st, &e, &err)); // no "*" policy: the checkboxes are the default
    ism_tls_policy_entry *v = nullptr;
    size_t n = 0;
    LONGS_EQUAL(0, ism_store_policy_list(st, &v, &n, &err));
    LONGS_EQUAL(1, n);
    STRCMP_EQUAL("enc.test", v[0].domain);
    LONGS_EQUAL(ISM_TLS_POLICY_ENCRYPT, v[0].policy);
    free(v);
    LONGS_EQUAL_TEXT(0, ism_store_policy_remove(st, "enc.test", &err), err.msg);
    LONGS_EQUAL(0, ism_store_policy_list(st, &v, &n, &err));
    LONGS_EQUAL(0, n);
    free(v);
}

TEST(StoreRoutes, AVersionTwoStoreGainsTheTables)
{
    ism_store_close(st);
    st = nullptr;
    sqlite3 *db;
    sqlite3_open(path.c_str(), &db);
    // What version 2 had: drop the new tables and say 2.
    LONGS_EQUAL(SQLITE_OK, sqlite3_exec(db,
                                        "DROP TABLE routes; DROP TABLE tls_policy;"
                                        "UPDATE meta SET value='2' WHERE key='schema_version';",
                                        nullptr, nullptr, nullptr));
    sqlite3_close(db);
    LONGS_EQUAL_TEXT(0, ism_store_open(&st, path.c_str(), &err), err.msg);
    ism_route r = {};
    snprintf(r.domain, sizeof r.domain, "remote.test");
    snprintf(r.host, sizeof r.host, "mx.remote.test");
    r.port = 25;
    LONGS_EQUAL_TEXT(0, ism_store_route_put(st, &r, &err), err.msg);
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, nullptr);
    LONGS_EQUAL(SQLITE_ROW, sqlite3_step(s));
    STRCMP_EQUAL("3", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

// The platform pieces the delivery thread stands on: threads, mutex and
// condition variable, outgoing connections, system roots.
#include "ism_platform.h"
#include <openssl/x509.h>

namespace {
struct waiter {
    ism_mutex *mu;
    ism_cond *cv;
    int go, seen;
};
void wait_for_go(void *arg)
{
    waiter *w = static_cast<waiter *>(arg);
    ism_mutex_lock(w->mu);
    while (!w->go)
        ism_cond_wait_ms(w->cv, w->mu, 5000);
    w->seen = 1;
    ism_mutex_unlock(w->mu);
}
} // namespace

TEST_GROUP(PlatformOutgoing){};

TEST(PlatformOutgoing, AThreadWakesOnBroadcastAndTimedWaitsReturn)
{
    ism_err err = {};
    waiter w = {};
    LONGS_EQUAL_TEXT(0, ism_mutex_new(&w.mu, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_cond_new(&w.cv, &err), err.msg);
    ism_thread *t = nullptr;
    LONGS_EQUAL_TEXT(0, ism_thread_start(&t, wait_for_go, &w, &err), err.msg);
    int64_t t0 = ism_time_mono_ms();
    ism_sleep_ms(50);
    ism_mutex_lock(w.mu);
    w.go = 1;
    ism_cond_broadcast(w.cv);
    ism_mutex_unlock(w.mu);
    ism_thread_join(t);
    LONGS_EQUAL(1, w.seen);
    CHECK(ism_time_mono_ms() - t0 < 4000); // woken, not timed out
    ism_mutex_lock(w.mu);
    t0 = ism_time_mono_ms();
    ism_cond_wait_ms(w.cv, w.mu, 100); // nobody signals: returns after about 100 ms
    int64_t waited = ism_time_mono_ms() - t0;
    ism_mutex_unlock(w.mu);
    CHECK(waited < 3000);
    ism_cond_free(w.cv);
    ism_mutex_free(w.mu);
}

TEST(PlatformOutgoing, ConnectionsAreMadeOrRefused)
{
    ism_err err = {};
    char addrs[4][64];
    int n = ism_net_resolve("127.0.0.1", addrs, 4, &err);
    LONGS_EQUAL_TEXT(1, n, err.msg);
    STRCMP_EQUAL("127.0.0.1", addrs[0]);
    ism_sock l = ISM_BAD_SOCK;
    int port = 0;
    for (int p = 39217; p < 39300 && l == ISM_BAD_SOCK; p++)
        if (ism_sock_listen("127.0.0.1", p, &l, nullptr) == 0)
            port = p;
    CHECK(l != ISM_BAD_SOCK);
    ism_sock s = ISM_BAD_SOCK;
    LONGS_EQUAL_TEXT(0, ism_sock_connect_start("127.0.0.1", port, &s, &err), err.msg);
    int r = ISM_IO_AGAIN;
    for (int i = 0; i < 50 && r == ISM_IO_AGAIN; i++)
        r = ism_sock_connect_wait(s, 100, &err);
    LONGS_EQUAL_TEXT(0, r, err.msg);
    ism_sock_close(s);
    ism_sock_close(l);
    // Nothing listens there any more: refused, reported as a failure (not a hang).
    s = ISM_BAD_SOCK;
    r = ism_sock_connect_start("127.0.0.1", port, &s, &err);
    if (r == 0) {
        r = ISM_IO_AGAIN;
        for (int i = 0; i < 50 && r == ISM_IO_AGAIN; i++)
            r = ism_sock_connect_wait(s, 100, &err);
    }
    LONGS_EQUAL(-1, r);
    STRCMP_CONTAINS("onnect", err.msg);
    ism_sock_close(s);
    LONGS_EQUAL(-1, ism_sock_connect_start("not-an-ip", 25, &s, &err));
}

TEST(PlatformOutgoing, TheSystemRootsLoad)
{
    ism_err err = {};
    X509_STORE *st = X509_STORE_new();
    LONGS_EQUAL_TEXT(0, ism_plat_system_roots(st, &err), err.msg);
    X509_STORE_free(st);
}
