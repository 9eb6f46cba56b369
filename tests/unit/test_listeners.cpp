// listeners: the ports the protocols declare, turned into listeners by the
// settings, and one generation's sockets carried into the next (a fake
// listen function stands in for the sockets).
#include "listeners.h"

#include <CppUTest/TestHarness.h>

#include <stdlib.h>
#include <string.h>
#include <string>

namespace {
struct FakeNet {
    int next_fd = 100;
    int busy_port = -1;   // listening on this port fails
    int calls = 0;
};

int fake_listen(void *arg, const char *addr, int port, ism_sock *out, ism_err *err)
{
    FakeNet *n = static_cast<FakeNet *>(arg);
    n->calls++;
    if (port == n->busy_port)
        return ism_err_set(err, ISM_E_NET, "cannot listen on %s port %d: Address already in use", addr, port);
    *out = (ism_sock)n->next_fd++;
    return 0;
}

const ism_listener *find(const ism_listener *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return &v[i];
    return nullptr;
}

std::string keys(const ism_listener *v, size_t n)
{
    std::string s;
    for (size_t i = 0; i < n; i++)
        s += (i ? " " : "") + std::string(v[i].key);
    return s;
}

void add_web(ism_config *c, const char *domain, const char *ip, int port)
{
    c->web = static_cast<ism_web_domain *>(realloc(c->web, (c->n_web + 1) * sizeof *c->web));
    ism_web_domain *d = &c->web[c->n_web++];
    memset(d, 0, sizeof *d);
    strcpy(d->domain, domain);
    strcpy(d->ip, ip);
    d->port = port;
}
} // namespace

TEST_GROUP(Listeners)
{
    ism_config cfg;
    ism_listener a[32], b[32];
    ism_sock retired[32];
    size_t nretired = 0;
    FakeNet net;
    void setup() override
    {
        ism_config_init(&cfg);
        ism_config_put(&cfg, ISM_S_LISTEN_ADDRESS, "127.0.0.1");
    }
    void teardown() override { ism_config_free(&cfg); }
};

TEST(Listeners, EveryProtocolDeclaresItsPortsWithSettings)
{
    CHECK(ism_n_protocols >= 4);
    for (size_t p = 0; p < ism_n_protocols; p++) {
        const ism_proto_ops *ops = ism_protocols[p];
        CHECK_TEXT(ops->label && *ops->label, ops->name);
        CHECK_TEXT(ops->n_listeners > 0, ops->name);
        for (size_t i = 0; i < ops->n_listeners; i++) {
            const ism_proto_listener *d = &ops->listeners[i];
            POINTERS_EQUAL(ops, d->proto);
            CHECK_TEXT(d->per_web_domain || d->port != ISM_PROTO_NO_SETTING, d->name);
        }
    }
}

TEST(Listeners, DefaultsOpenThePlaintextPortsOnly)
{
    size_t n = ism_listeners_wanted(&cfg, 1, a, 32);
    STRCMP_EQUAL("smtp submission pop3 imap http", keys(a, n).c_str());
    LONGS_EQUAL(25, find(a, n, "smtp")->port);
    LONGS_EQUAL(587, find(a, n, "submission")->port);
    STRCMP_EQUAL("127.0.0.1", find(a, n, "imap")->addr);
    LONGS_EQUAL(ISM_BAD_SOCK, find(a, n, "imap")->fd);
}

TEST(Listeners, ImplicitTlsPortsNeedTheirCheckboxAndACertificateSet)
{
    ism_config_put(&cfg, ISM_S_SMTP_TLS_INCOMING, "on");
    ism_config_put(&cfg, ISM_S_IMAP_TLS_INCOMING, "on");
    STRCMP_EQUAL("smtp submission smtps pop3 imap imaps http", keys(a, ism_listeners_wanted(&cfg, 1, a, 32)).c_str());
    STRCMP_EQUAL("smtp submission pop3 imap http", keys(a, ism_listeners_wanted(&cfg, 0, a, 32)).c_str());
}

TEST(Listeners, OneHttpsListenerPerWebAddressAndPort)
{
    add_web(&cfg, "a.example.com", "127.0.0.1", 8443);
    add_web(&cfg, "b.example.com", "127.0.0.1", 8443);
    add_web(&cfg, "c.example.com", "127.0.0.2", 8443);
    size_t n = ism_listeners_wanted(&cfg, 1, a, 32);
    STRCMP_EQUAL("smtp submission pop3 imap http https@127.0.0.1:8443 https@127.0.0.2:8443", keys(a, n).c_str());
    STRCMP_EQUAL("a.example.com", find(a, n, "https@127.0.0.1:8443")->cert_name);
    CHECK_TRUE(find(a, n, "https@127.0.0.1:8443")->def->implicit_tls);
    STRCMP_EQUAL("smtp submission pop3 imap http", keys(a, ism_listeners_wanted(&cfg, 0, a, 32)).c_str());
}

TEST(Listeners, NeverMoreThanRoomFor)
{
    LONGS_EQUAL(3, ism_listeners_wanted(&cfg, 1, a, 3));
}

TEST(Listeners, AnUnchangedGenerationKeepsEverySocket)
{
    size_t na = ism_listeners_wanted(&cfg, 1, a, 32);
    ism_listeners_reconcile(nullptr, 0, a, na, retired, &nretired, fake_listen, &net);
    LONGS_EQUAL((long)na, net.calls);
    size_t nb = ism_listeners_wanted(&cfg, 1, b, 32);
    ism_listeners_reconcile(a, na, b, nb, retired, &nretired, fake_listen, &net);
    LONGS_EQUAL((long)na, net.calls); // no socket opened again
    LONGS_EQUAL(0, nretired);
    for (size_t i = 0; i < nb; i++)
        LONGS_EQUAL(find(a, na, b[i].key)->fd, b[i].fd);
}

TEST(Listeners, AMovedPortOpensANewSocketAndRetiresTheOld)
{
    size_t na = ism_listeners_wanted(&cfg, 1, a, 32);
    ism_listeners_reconcile(nullptr, 0, a, na, retired, &nretired, fake_listen, &net);
    ism_config_put(&cfg, ISM_S_POP_PORT, "1110");
    size_t nb = ism_listeners_wanted(&cfg, 1, b, 32);
    ism_listeners_reconcile(a, na, b, nb, retired, &nretired, fake_listen, &net);
    LONGS_EQUAL(1, nretired);
    LONGS_EQUAL(find(a, na, "pop3")->fd, retired[0]);
    CHECK(find(b, nb, "pop3")->fd != find(a, na, "pop3")->fd);
    LONGS_EQUAL(1110, find(b, nb, "pop3")->port);
    STRCMP_EQUAL("", find(b, nb, "pop3")->error);
}

TEST(Listeners, APortInUseKeepsTheOldSocketServing)
{
    size_t na = ism_listeners_wanted(&cfg, 1, a, 32);
    ism_listeners_reconcile(nullptr, 0, a, na, retired, &nretired, fake_listen, &net);
    ism_config_put(&cfg, ISM_S_IMAP_PORT, "1143");
    net.busy_port = 1143;
    size_t nb = ism_listeners_wanted(&cfg, 1, b, 32);
    ism_listeners_reconcile(a, na, b, nb, retired, &nretired, fake_listen, &net);
    const ism_listener *imap = find(b, nb, "imap");
    LONGS_EQUAL(find(a, na, "imap")->fd, imap->fd);
    LONGS_EQUAL(143, imap->port);
    CHECK(strstr(imap->error, "Address already in use") != nullptr);
    CHECK(strstr(imap->error, "still listening on port 143") != nullptr);
    LONGS_EQUAL(0, nretired);
}

TEST(Listeners, APortInUseAtStartIsRecordedClosed)
{
    net.busy_port = 110;
    size_t na = ism_listeners_wanted(&cfg, 1, a, 32);
    ism_listeners_reconcile(nullptr, 0, a, na, retired, &nretired, fake_listen, &net);
    const ism_listener *pop = find(a, na, "pop3");
    LONGS_EQUAL(ISM_BAD_SOCK, pop->fd);
    LONGS_EQUAL(110, pop->port);
    CHECK(strstr(pop->error, "Address already in use") != nullptr);
    CHECK(find(a, na, "imap")->fd != ISM_BAD_SOCK);
}

TEST(Listeners, AListenerSwitchedOffIsRetired)
{
    ism_config_put(&cfg, ISM_S_SMTP_TLS_INCOMING, "on");
    size_t na = ism_listeners_wanted(&cfg, 1, a, 32);
    ism_listeners_reconcile(nullptr, 0, a, na, retired, &nretired, fake_listen, &net);
    ism_config_put(&cfg, ISM_S_SMTP_TLS_INCOMING, "off");
    size_t nb = ism_listeners_wanted(&cfg, 1, b, 32);
    ism_listeners_reconcile(a, na, b, nb, retired, &nretired, fake_listen, &net);
    POINTERS_EQUAL(nullptr, find(b, nb, "smtps"));
    LONGS_EQUAL(1, nretired);
    LONGS_EQUAL(find(a, na, "smtps")->fd, retired[0]);
}
