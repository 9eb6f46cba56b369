// The settings store: defaults, atomic multi-key writes, validation that
// writes nothing, the revision, the watcher's data_version, service status,
// and schema handling.
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_store.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <sqlite3.h>
#include <cstdlib>
#include <string>

TEST_GROUP(Store)
{
    std::string dir, path;
    ism_store *st = nullptr;
    void setup() override
    {
        dir = ism_test_mkdtemp();
        path = dir + "/ismail.db";
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_store_open(&st, path.c_str(), &err), err.msg);
    }
    void teardown() override
    {
        ism_store_close(st);
        ism_test_rmtree(dir);
    }
    std::string get(ism_store *s, ism_setting_id id)
    {
        ism_config c;
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_store_load(s, &c, &err), err.msg);
        std::string v = ism_config_str(&c, id);
        ism_config_free(&c);
        return v;
    }
};

TEST(Store, NewStoreReadsDefaultsAtRevisionZero)
{
    int64_t rev = -1;
    LONGS_EQUAL(0, ism_store_revision(st, &rev, nullptr));
    LONGS_EQUAL(0, rev);
    STRCMP_EQUAL("off", get(st, ISM_S_SMTP_TLS_INCOMING).c_str());
    STRCMP_EQUAL("25", get(st, ISM_S_SMTP_PORT).c_str());
}

TEST(Store, SetStoresTheCanonicalValueAndBumpsTheRevisionOnce)
{
    const char *k[] = {"smtp.tls.incoming", "smtp.port"};
    const char *v[] = {"yes", "2525"};
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_store_set(st, 2, k, v, &err), err.msg);
    STRCMP_EQUAL("on", get(st, ISM_S_SMTP_TLS_INCOMING).c_str());
    STRCMP_EQUAL("2525", get(st, ISM_S_SMTP_PORT).c_str());
    int64_t rev = 0;
    ism_store_revision(st, &rev, nullptr);
    LONGS_EQUAL(1, rev);
}

TEST(Store, OneBadValueWritesNothing)
{
    const char *k[] = {"smtp.tls.incoming", "smtp.port"};
    const char *v[] = {"on", "70000"};
    ism_err err = {};
    LONGS_EQUAL(-1, ism_store_set(st, 2, k, v, &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("smtp.port", err.msg);
    STRCMP_EQUAL("off", get(st, ISM_S_SMTP_TLS_INCOMING).c_str());
    int64_t rev = 0;
    ism_store_revision(st, &rev, nullptr);
    LONGS_EQUAL(0, rev);
}

TEST(Store, UnknownKeyIsAUsageError)
{
    const char *k[] = {"smtp.tls.bogus"};
    const char *v[] = {"on"};
    ism_err err = {};
    LONGS_EQUAL(-1, ism_store_set(st, 1, k, v, &err));
    LONGS_EQUAL(ISM_E_USAGE, err.kind);
    STRCMP_CONTAINS("smtp.tls.bogus", err.msg);
}

TEST(Store, DuplicatePortAcrossWritesIsRefused)
{
    const char *k[] = {"imap.port"};
    const char *v[] = {"25"};
    ism_err err = {};
    LONGS_EQUAL(-1, ism_store_set(st, 1, k, v, &err));
    STRCMP_CONTAINS("imap.port", err.msg);
    STRCMP_EQUAL("143", get(st, ISM_S_IMAP_PORT).c_str());
    // Swapping two ports in one transaction is fine.
    const char *k2[] = {"smtp.port", "imap.port"};
    const char *v2[] = {"143", "25"};
    LONGS_EQUAL_TEXT(0, ism_store_set(st, 2, k2, v2, &err), err.msg);
}

TEST(Store, ResetReturnsToTheDefault)
{
    const char *k[] = {"smtp.port"};
    const char *v[] = {"2525"};
    const char *none[] = {nullptr};
    LONGS_EQUAL(0, ism_store_set(st, 1, k, v, nullptr));
    LONGS_EQUAL(0, ism_store_set(st, 1, k, none, nullptr));
    STRCMP_EQUAL("25", get(st, ISM_S_SMTP_PORT).c_str());
}

TEST(Store, WatcherSeesOtherConnectionsCommitsButNotItsOwn)
{
    ism_store *other = nullptr;
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_store_open(&other, path.c_str(), &err), err.msg);
    int64_t dv0, dv1, dv2;
    LONGS_EQUAL(0, ism_store_data_version(st, &dv0, nullptr));

    // The watcher's own write (the service's status) does not move it.
    ism_status s = {};
    s.applied_revision = 0;
    LONGS_EQUAL(0, ism_store_write_status(st, &s, nullptr));
    LONGS_EQUAL(0, ism_store_data_version(st, &dv1, nullptr));
    CHECK(dv0 == dv1);

    const char *k[] = {"pop.tls.incoming"};
    const char *v[] = {"on"};
    LONGS_EQUAL(0, ism_store_set(other, 1, k, v, nullptr));
    LONGS_EQUAL(0, ism_store_data_version(st, &dv2, nullptr));
    CHECK(dv2 != dv1);
    STRCMP_EQUAL("on", get(st, ISM_S_POP_TLS_INCOMING).c_str());
    ism_store_close(other);
}

TEST(Store, StatusRoundTrip)
{
    ism_status s = {}, r = {};
    s.applied_revision = 7;
    s.applied_at_ms = 1234567890123LL;
    snprintf(s.error, sizeof s.error, "ssl.crt/x.crt: expired");
    s.n_listeners = 2;
    snprintf(s.listeners[0].name, sizeof s.listeners[0].name, "smtp");
    s.listeners[0].port = 25;
    s.listeners[0].open = 1;
    s.listeners[0].tls = 1;
    snprintf(s.listeners[0].fingerprint, sizeof s.listeners[0].fingerprint, "AA:BB");
    snprintf(s.listeners[1].name, sizeof s.listeners[1].name, "smtps");
    s.listeners[1].port = 465;
    LONGS_EQUAL(0, ism_store_write_status(st, &s, nullptr));
    LONGS_EQUAL(0, ism_store_read_status(st, &r, nullptr));
    LONGS_EQUAL(7, r.applied_revision);
    CHECK(r.applied_at_ms == 1234567890123LL);
    STRCMP_EQUAL("ssl.crt/x.crt: expired", r.error);
    LONGS_EQUAL(2, r.n_listeners);
    STRCMP_EQUAL("smtp", r.listeners[0].name);
    LONGS_EQUAL(1, r.listeners[0].tls);
    STRCMP_EQUAL("AA:BB", r.listeners[0].fingerprint);
    LONGS_EQUAL(465, r.listeners[1].port);
    LONGS_EQUAL(0, r.listeners[1].open);
}

TEST(Store, StatusCertificatesRoundTripAndOlderRowsStillRead)
{
    static ism_status s, r; // about 40 KB each
    memset(&s, 0, sizeof s);
    s.applied_revision = 3;
    s.n_certs = 2;
    snprintf(s.certs[0].file, sizeof s.certs[0].file, "C:\\ISMail\\ssl.crt\\example.com.crt");
    snprintf(s.certs[0].names, sizeof s.certs[0].names, "example.com, mail.example.com");
    snprintf(s.certs[0].fingerprint, sizeof s.certs[0].fingerprint, "AA:BB");
    s.certs[0].not_before = 1700000000;
    s.certs[0].not_after = 1800000000;
    snprintf(s.certs[1].file, sizeof s.certs[1].file, "/d/ssl.crt/host.test.crt");
    snprintf(s.certs[1].names, sizeof s.certs[1].names, "host.test");
    s.certs[1].fallback = 1;
    s.certs[1].web = 1;
    LONGS_EQUAL(0, ism_store_write_status(st, &s, nullptr));
    LONGS_EQUAL(0, ism_store_read_status(st, &r, nullptr));
    LONGS_EQUAL(2, r.n_certs);
    STRCMP_EQUAL("C:\\ISMail\\ssl.crt\\example.com.crt", r.certs[0].file);
    STRCMP_EQUAL("example.com, mail.example.com", r.certs[0].names);
    STRCMP_EQUAL("AA:BB", r.certs[0].fingerprint);
    CHECK(r.certs[0].not_before == 1700000000 && r.certs[0].not_after == 1800000000);
    LONGS_EQUAL(0, r.certs[0].fallback);
    LONGS_EQUAL(1, r.certs[1].fallback);
    LONGS_EQUAL(1, r.certs[1].web);

    // Fewer certificates next time: the old rows go.
    s.n_certs = 1;
    LONGS_EQUAL(0, ism_store_write_status(st, &s, nullptr));
    LONGS_EQUAL(0, ism_store_read_status(st, &r, nullptr));
    LONGS_EQUAL(1, r.n_certs);

    // Status written by an older service (no certificate rows): read as none.
    s.n_certs = 0;
    LONGS_EQUAL(0, ism_store_write_status(st, &s, nullptr));
    LONGS_EQUAL(0, ism_store_read_status(st, &r, nullptr));
    LONGS_EQUAL(0, r.n_certs);
    LONGS_EQUAL(3, r.applied_revision);
}

TEST(Store, NoStatusBeforeTheServiceRan)
{
    ism_status r = {};
    LONGS_EQUAL(0, ism_store_read_status(st, &r, nullptr));
    LONGS_EQUAL(-1, r.applied_revision);
}

TEST(Store, ReopenKeepsValuesAndSchema)
{
    const char *k[] = {"imap.tls.incoming"};
    const char *v[] = {"on"};
    LONGS_EQUAL(0, ism_store_set(st, 1, k, v, nullptr));
    ism_store_close(st);
    st = nullptr;
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_store_open(&st, path.c_str(), &err), err.msg);
    STRCMP_EQUAL("on", get(st, ISM_S_IMAP_TLS_INCOMING).c_str());
}

TEST(Store, ANewerSchemaIsRefusedWithAClearMessage)
{
    ism_store_close(st);
    st = nullptr;
    sqlite3 *db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ism_err err = {};
    LONGS_EQUAL(-1, ism_store_open(&st, path.c_str(), &err));
    STRCMP_CONTAINS("schema version 99", err.msg);
    STRCMP_CONTAINS("newer", err.msg);
}

TEST(Store, AFileThatIsNotAStoreIsReportedNotOverwritten)
{
    std::string bad = dir + "/notadb.db";
    FILE *f = fopen(bad.c_str(), "wb");
    fputs("this is not an SQLite database, it is a letter to the administrator\n", f);
    fclose(f);
    ism_store *s2 = nullptr;
    ism_err err = {};
    LONGS_EQUAL(-1, ism_store_open(&s2, bad.c_str(), &err));
    LONGS_EQUAL(ISM_E_STORE, err.kind);
    STRCMP_CONTAINS("notadb.db", err.msg);
    STRCMP_CONTAINS("damaged", err.msg);
}

TEST(Store, UnsetValueThatNoLongerValidatesReadsAsDefault)
{
    sqlite3 *db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "INSERT INTO settings VALUES('smtp.port','99999'), ('future.key','x')", nullptr, nullptr,
                 nullptr);
    sqlite3_close(db);
    STRCMP_EQUAL("25", get(st, ISM_S_SMTP_PORT).c_str());
}

TEST(Store, WatcherIsWokenByAnotherWritersSignal)
{
    ism_err err = {};
    ism_watch *w = nullptr;
    LONGS_EQUAL_TEXT(0, ism_watch_open(&w, st, &err), err.msg);
    LONGS_EQUAL(1, ism_watch_changed(w, nullptr)); // the first call primes
    LONGS_EQUAL(0, ism_watch_changed(w, nullptr));

    ism_store *writer = nullptr;
    LONGS_EQUAL_TEXT(0, ism_store_open(&writer, path.c_str(), &err), err.msg);
    const char *k[] = {"smtp.tls.incoming"};
    const char *v[] = {"on"};
    LONGS_EQUAL(0, ism_store_set(writer, 1, k, v, nullptr));

    ism_pollfd p = {};
    p.fd = ism_watch_sock(w);
    p.events = POLLIN;
    LONGS_EQUAL_TEXT(1, ism_poll(&p, 1, 5000), "no wake-up datagram within 5 s");
    LONGS_EQUAL(1, ism_watch_changed(w, nullptr));
    LONGS_EQUAL(0, ism_watch_changed(w, nullptr));
    // Drained: nothing pending any more.
    p.revents = 0;
    LONGS_EQUAL(0, ism_poll(&p, 1, 0));

    ism_watch_close(w);
    // With no watcher recorded, a write sends nothing and still succeeds.
    LONGS_EQUAL(0, ism_store_set(writer, 1, k, v, nullptr));
    ism_store_close(writer);
}

TEST(Store, AVersion1StoreIsUpgradedInPlaceKeepingItsSettings)
{
    ism_store_close(st);
    st = nullptr;
    std::string old = dir + "/v1.db";
    sqlite3 *db;
    sqlite3_open(old.c_str(), &db);
    // The version 1 schema exactly as version 1 created it.
    LONGS_EQUAL(SQLITE_OK,
                sqlite3_exec(db,
                             "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                             "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                             "CREATE TABLE service_state(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                             "CREATE TABLE listener_state(name TEXT PRIMARY KEY, port INTEGER NOT NULL,"
                             " open INTEGER NOT NULL, tls INTEGER NOT NULL, fingerprint TEXT NOT NULL,"
                             " error TEXT NOT NULL);"
                             "INSERT INTO meta VALUES('revision','5'),('schema_version','1');"
                             "INSERT INTO settings VALUES('smtp.tls.incoming','on');",
                             nullptr, nullptr, nullptr));
    sqlite3_close(db);
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_store_open(&st, old.c_str(), &err), err.msg);
    STRCMP_EQUAL("on", get(st, ISM_S_SMTP_TLS_INCOMING).c_str());
    int64_t rev = 0;
    ism_store_revision(st, &rev, nullptr);
    LONGS_EQUAL(5, rev);
    // The version 2 table is there and works.
    ism_web_domain d = {};
    snprintf(d.domain, sizeof d.domain, "web.test");
    snprintf(d.ip, sizeof d.ip, "127.0.0.1");
    d.port = 443;
    snprintf(d.cert_file, sizeof d.cert_file, "web.test.crt");
    snprintf(d.key_file, sizeof d.key_file, "web.test.key");
    LONGS_EQUAL_TEXT(0, ism_store_domain_put(st, &d, ISM_DOMAIN_ADD, &err), err.msg);
    ism_web_domain *v = nullptr;
    size_t n = 0;
    LONGS_EQUAL(0, ism_store_domain_list(st, &v, &n, nullptr));
    LONGS_EQUAL(1, n);
    STRCMP_EQUAL("web.test", v[0].domain);
    free(v);
    ism_store_revision(st, &rev, nullptr);
    LONGS_EQUAL(6, rev);
}

TEST(Store, DomainAddEditRemove)
{
    ism_web_domain d = {};
    ism_err err = {};
    snprintf(d.domain, sizeof d.domain, "Web.Test");
    snprintf(d.ip, sizeof d.ip, "127.0.0.1");
    d.port = 443;
    snprintf(d.cert_file, sizeof d.cert_file, "a.crt");
    snprintf(d.key_file, sizeof d.key_file, "a.key");
    LONGS_EQUAL(0, ism_web_domain_check(&d, &err));
    STRCMP_EQUAL("web.test", d.domain);
    LONGS_EQUAL(0, ism_store_domain_put(st, &d, ISM_DOMAIN_ADD, &err));
    LONGS_EQUAL(-1, ism_store_domain_put(st, &d, ISM_DOMAIN_ADD, &err));
    STRCMP_CONTAINS("already configured", err.msg);
    d.port = 8443;
    LONGS_EQUAL(0, ism_store_domain_put(st, &d, ISM_DOMAIN_EDIT, &err));
    LONGS_EQUAL(0, ism_store_domain_remove(st, "web.test", &err));
    LONGS_EQUAL(-1, ism_store_domain_remove(st, "web.test", &err));
    STRCMP_CONTAINS("not configured", err.msg);
    ism_web_domain bad = d;
    snprintf(bad.ip, sizeof bad.ip, "1.2.3.999");
    LONGS_EQUAL(-1, ism_web_domain_check(&bad, &err));
    STRCMP_CONTAINS("ip:", err.msg);
    bad = d;
    bad.port = 0;
    LONGS_EQUAL(-1, ism_web_domain_check(&bad, &err));
    STRCMP_CONTAINS("port:", err.msg);
}
