// The mail store and accounts: local domains, accounts and passwords,
// delivery, listing, fetching, flags, removal, UIDs and UIDVALIDITY, and the
// messages for bad input.
#include "ism_mail.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <sqlite3.h>
#include <cstdlib>
#include <cstring>
#include <string>

TEST_GROUP(Mail)
{
    std::string dir, path;
    ism_mail *m = nullptr;
    ism_err err = {};
    void setup() override
    {
        dir = ism_test_mkdtemp();
        path = dir + "/mail.db";
        LONGS_EQUAL_TEXT(0, ism_mail_open(&m, path.c_str(), &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_mail_domain_add(m, "example.test", &err), err.msg);
    }
    void teardown() override
    {
        ism_mail_close(m);
        ism_test_rmtree(dir);
    }
    void add(const char *addr, const char *pw = "correct horse")
    {
        LONGS_EQUAL_TEXT(0, ism_mail_user_add(m, addr, pw, &err), err.msg);
    }
    uint32_t deliver(const char *addr, const std::string &msg)
    {
        uint32_t uidnext = 0;
        LONGS_EQUAL_TEXT(0, ism_mail_uidvalidity(m, addr, nullptr, &uidnext, &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, addr, msg.data(), msg.size(), &err), err.msg);
        return uidnext;
    }
    std::string stored_hash(const char *addr)
    {
        sqlite3 *db;
        sqlite3_stmt *s;
        std::string h;
        sqlite3_open(path.c_str(), &db);
        sqlite3_prepare_v2(db, "SELECT password FROM accounts WHERE address=?", -1, &s, nullptr);
        sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            h = (const char *)sqlite3_column_text(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return h;
    }
};

TEST(Mail, DomainsAreListedLowerCaseAndKnownAsLocal)
{
    LONGS_EQUAL_TEXT(0, ism_mail_domain_add(m, "Other.EXAMPLE", &err), err.msg);
    char **v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_domain_list(m, &v, &n, &err));
    LONGS_EQUAL(2, n);
    STRCMP_EQUAL("example.test", v[0]);
    STRCMP_EQUAL("other.example", v[1]);
    ism_mail_free_list(v, n);
    LONGS_EQUAL(1, ism_mail_is_local_domain(m, "OTHER.example"));
    LONGS_EQUAL(0, ism_mail_is_local_domain(m, "elsewhere.test"));
    LONGS_EQUAL(0, ism_mail_is_local_domain(m, "not a domain"));
}

TEST(Mail, DomainTwiceAndUnknownDomainAreRefusedWithTheirName)
{
    LONGS_EQUAL(-1, ism_mail_domain_add(m, "EXAMPLE.test", &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("example.test is already a local domain", err.msg);
    LONGS_EQUAL(-1, ism_mail_domain_remove(m, "nowhere.test", &err));
    STRCMP_CONTAINS("nowhere.test is not a local domain", err.msg);
    STRCMP_CONTAINS("localdomain list", err.msg);
}

TEST(Mail, BadDomainSyntaxIsExplained)
{
    const char *bad[] = {"", "a..b", "-a.test", "a-.test", "a_b.test", "a b.test", ".test"};
    for (const char *d : bad) {
        LONGS_EQUAL_TEXT(-1, ism_mail_domain_add(m, d, &err), d);
        LONGS_EQUAL(ISM_E_INVALID, err.kind);
        STRCMP_CONTAINS("domain '", err.msg);
        STRCMP_CONTAINS("example.com", err.msg);
    }
    std::string longlabel(64, 'a');
    LONGS_EQUAL(-1, ism_mail_domain_add(m, (longlabel + ".test").c_str(), &err));
    STRCMP_CONTAINS("63", err.msg);
}

TEST(Mail, DomainWithAccountsCannotBeRemoved)
{
    add("alice@example.test");
    LONGS_EQUAL(-1, ism_mail_domain_remove(m, "example.test", &err));
    STRCMP_CONTAINS("still has 1 account", err.msg);
    LONGS_EQUAL(0, ism_mail_user_remove(m, "alice@example.test", &err));
    LONGS_EQUAL_TEXT(0, ism_mail_domain_remove(m, "example.test", &err), err.msg);
    LONGS_EQUAL(0, ism_mail_is_local_domain(m, "example.test"));
}

TEST(Mail, AccountsAreLowerCaseListedAndExist)
{
    add("Bob@Example.TEST");
    add("alice@example.test");
    char **v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_user_list(m, &v, &n, &err));
    LONGS_EQUAL(2, n);
    STRCMP_EQUAL("alice@example.test", v[0]);
    STRCMP_EQUAL("bob@example.test", v[1]);
    ism_mail_free_list(v, n);
    LONGS_EQUAL(1, ism_mail_user_exists(m, "BOB@example.test"));
    LONGS_EQUAL(0, ism_mail_user_exists(m, "carol@example.test"));
    LONGS_EQUAL(0, ism_mail_user_exists(m, "garbage"));
}

TEST(Mail, AuthRightWrongAndUnknown)
{
    add("alice@example.test", "s3cret-pass");
    LONGS_EQUAL(1, ism_mail_auth(m, "alice@example.test", "s3cret-pass"));
    LONGS_EQUAL(1, ism_mail_auth(m, "ALICE@Example.Test", "s3cret-pass"));
    LONGS_EQUAL(0, ism_mail_auth(m, "alice@example.test", "s3cret-Pass"));
    LONGS_EQUAL(0, ism_mail_auth(m, "alice@example.test", ""));
    LONGS_EQUAL(0, ism_mail_auth(m, "nobody@example.test", "s3cret-pass"));
    LONGS_EQUAL(0, ism_mail_auth(m, "not an address", "s3cret-pass"));
}

TEST(Mail, PasswdChangesThePassword)
{
    add("alice@example.test", "first-password");
    LONGS_EQUAL_TEXT(0, ism_mail_user_passwd(m, "alice@example.test", "second-password", &err), err.msg);
    LONGS_EQUAL(0, ism_mail_auth(m, "alice@example.test", "first-password"));
    LONGS_EQUAL(1, ism_mail_auth(m, "alice@example.test", "second-password"));
    LONGS_EQUAL(-1, ism_mail_user_passwd(m, "carol@example.test", "second-password", &err));
    STRCMP_CONTAINS("no account carol@example.test", err.msg);
}

TEST(Mail, PasswordIsStoredAsASaltedPbkdf2Hash)
{
    add("alice@example.test", "hunter2-hunter2");
    add("bob@example.test", "hunter2-hunter2");
    std::string a = stored_hash("alice@example.test"), b = stored_hash("bob@example.test");
    CHECK(a.find("hunter2") == std::string::npos);
    CHECK_EQUAL(0u, a.find("pbkdf2-sha256$"));
    // pbkdf2-sha256$ITER$SALT(32 hex)$HASH(64 hex)
    size_t d1 = a.find('$'), d2 = a.find('$', d1 + 1), d3 = a.find('$', d2 + 1);
    CHECK(atol(a.substr(d1 + 1, d2 - d1 - 1).c_str()) >= 100000);
    LONGS_EQUAL(32, d3 - d2 - 1);
    LONGS_EQUAL(64, a.size() - d3 - 1);
    // Same password, different salt, different hash.
    CHECK(a != b);
}

TEST(Mail, BadAccountInputIsExplained)
{
    LONGS_EQUAL(-1, ism_mail_user_add(m, "alice", "long-enough", &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("address 'alice'", err.msg);
    STRCMP_CONTAINS("name@domain", err.msg);
    LONGS_EQUAL(-1, ism_mail_user_add(m, "a..b@example.test", "long-enough", &err));
    STRCMP_CONTAINS("two dots", err.msg);
    LONGS_EQUAL(-1, ism_mail_user_add(m, "a b@example.test", "long-enough", &err));
    LONGS_EQUAL(-1, ism_mail_user_add(m, "alice@elsewhere.test", "long-enough", &err));
    STRCMP_CONTAINS("elsewhere.test is not a local domain", err.msg);
    STRCMP_CONTAINS("ismailctl localdomain add elsewhere.test", err.msg);
    LONGS_EQUAL(-1, ism_mail_user_add(m, "alice@example.test", "pw1234", &err));
    STRCMP_CONTAINS("at least 8 characters", err.msg);
    CHECK(strstr(err.msg, "pw1234") == nullptr); // the message never repeats the password
    LONGS_EQUAL(-1, ism_mail_user_add(m, "alice@example.test", "tab\there-long", &err));
    STRCMP_CONTAINS("control character", err.msg);
    // Eight characters in UTF-8 are enough even though they are more bytes...
    add("utf@example.test", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    // ...but four two-byte characters are not.
    LONGS_EQUAL(-1, ism_mail_user_add(m, "utf2@example.test", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &err));
    add("alice@example.test");
    LONGS_EQUAL(-1, ism_mail_user_add(m, "ALICE@example.test", "long-enough", &err));
    STRCMP_CONTAINS("already exists", err.msg);
    LONGS_EQUAL(-1, ism_mail_user_remove(m, "carol@example.test", &err));
    STRCMP_CONTAINS("no account carol@example.test", err.msg);
    STRCMP_CONTAINS("user list", err.msg);
}

TEST(Mail, DeliverListFetch)
{
    add("alice@example.test");
    std::string m1 = "Subject: one\r\n\r\nfirst\r\n", m2 = "Subject: two\r\n\r\nsecond\r\n";
    uint32_t u1 = deliver("alice@example.test", m1), u2 = deliver("Alice@example.test", m2);
    CHECK(u2 > u1);
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL_TEXT(0, ism_mail_list(m, "alice@example.test", &v, &n, &err), err.msg);
    LONGS_EQUAL(2, n);
    LONGS_EQUAL(u1, v[0].uid);
    LONGS_EQUAL(m1.size(), v[0].size);
    LONGS_EQUAL(0, v[0].flags);
    CHECK(v[0].received_ms > 1600000000000LL);
    LONGS_EQUAL(u2, v[1].uid);
    free(v);
    char *data;
    size_t len;
    LONGS_EQUAL_TEXT(0, ism_mail_fetch(m, "alice@example.test", u2, &data, &len, &err), err.msg);
    LONGS_EQUAL(m2.size(), len);
    STRCMP_EQUAL(m2.c_str(), data);
    free(data);
    LONGS_EQUAL(-1, ism_mail_fetch(m, "alice@example.test", 999, &data, &len, &err));
    STRCMP_CONTAINS("no message with UID 999", err.msg);
}

TEST(Mail, MessagesAreBinarySafe)
{
    add("alice@example.test");
    std::string msg("a\0b\xff\r\n", 6);
    uint32_t uid = deliver("alice@example.test", msg);
    char *data;
    size_t len;
    LONGS_EQUAL(0, ism_mail_fetch(m, "alice@example.test", uid, &data, &len, &err));
    LONGS_EQUAL(6, len);
    CHECK(memcmp(data, msg.data(), 6) == 0);
    free(data);
}

TEST(Mail, DeliverToUnknownAccountFails)
{
    LONGS_EQUAL(-1, ism_mail_deliver(m, "nobody@example.test", "x", 1, &err));
    STRCMP_CONTAINS("no account nobody@example.test", err.msg);
}

TEST(Mail, DeliverManyIsAllOrNothing)
{
    add("alice@example.test");
    add("bob@example.test");
    const char *both[] = {"alice@example.test", "bob@example.test"};
    LONGS_EQUAL_TEXT(0, ism_mail_deliver_many(m, both, 2, "hi\r\n", 4, &err), err.msg);
    const char *bad[] = {"alice@example.test", "nobody@example.test"};
    LONGS_EQUAL(-1, ism_mail_deliver_many(m, bad, 2, "hi\r\n", 4, &err));
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_list(m, "alice@example.test", &v, &n, &err));
    LONGS_EQUAL(1, n); // the failed delivery left nothing behind
    free(v);
    LONGS_EQUAL(0, ism_mail_list(m, "bob@example.test", &v, &n, &err));
    LONGS_EQUAL(1, n);
    free(v);
}

TEST(Mail, FlagsAreStoredAndChecked)
{
    add("alice@example.test");
    uint32_t uid = deliver("alice@example.test", "x\r\n");
    LONGS_EQUAL_TEXT(0, ism_mail_set_flags(m, "alice@example.test", uid, ISM_FLAG_SEEN | ISM_FLAG_FLAGGED, &err),
                     err.msg);
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_list(m, "alice@example.test", &v, &n, &err));
    LONGS_EQUAL(ISM_FLAG_SEEN | ISM_FLAG_FLAGGED, v[0].flags);
    free(v);
    LONGS_EQUAL(-1, ism_mail_set_flags(m, "alice@example.test", uid, 64, &err));
    STRCMP_CONTAINS("system flags", err.msg);
    LONGS_EQUAL(-1, ism_mail_set_flags(m, "alice@example.test", uid + 5, ISM_FLAG_SEEN, &err));
    STRCMP_CONTAINS("no message with UID", err.msg);
}

TEST(Mail, UidsGrowAndAreNeverReused)
{
    add("alice@example.test");
    uint32_t a = deliver("alice@example.test", "1\r\n");
    uint32_t b = deliver("alice@example.test", "2\r\n");
    uint32_t c = deliver("alice@example.test", "3\r\n");
    CHECK(a >= 1 && b > a && c > b);
    // Remove the newest (and an already gone UID, which is skipped).
    uint32_t gone[] = {c, 12345};
    LONGS_EQUAL_TEXT(0, ism_mail_remove(m, "alice@example.test", gone, 2, &err), err.msg);
    uint32_t d = deliver("alice@example.test", "4\r\n");
    CHECK(d > c);
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_list(m, "alice@example.test", &v, &n, &err));
    LONGS_EQUAL(3, n);
    LONGS_EQUAL(a, v[0].uid);
    LONGS_EQUAL(b, v[1].uid);
    LONGS_EQUAL(d, v[2].uid);
    free(v);
    // And across a reopen of the store.
    ism_mail_close(m);
    LONGS_EQUAL(0, ism_mail_open(&m, path.c_str(), &err));
    uint32_t all[] = {a, b, d};
    LONGS_EQUAL(0, ism_mail_remove(m, "alice@example.test", all, 3, &err));
    CHECK(deliver("alice@example.test", "5\r\n") > d);
}

TEST(Mail, UidValidityIsFixedAndNeverRepeatsForANewAccount)
{
    add("alice@example.test");
    uint32_t v1 = 0, next = 0, v2 = 0;
    LONGS_EQUAL(0, ism_mail_uidvalidity(m, "alice@example.test", &v1, &next, &err));
    CHECK(v1 > 1600000000u); // creation time in seconds
    LONGS_EQUAL(1, next);
    deliver("alice@example.test", "x\r\n");
    LONGS_EQUAL(0, ism_mail_uidvalidity(m, "alice@example.test", &v2, &next, &err));
    LONGS_EQUAL(v1, v2);
    LONGS_EQUAL(2, next);
    // Removed and added again (within the same second): a new UIDVALIDITY,
    // so clients drop what they cached of the old mailbox.
    LONGS_EQUAL(0, ism_mail_user_remove(m, "alice@example.test", &err));
    add("alice@example.test");
    LONGS_EQUAL(0, ism_mail_uidvalidity(m, "alice@example.test", &v2, &next, &err));
    CHECK(v2 > v1);
    LONGS_EQUAL(1, next);
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_mail_list(m, "alice@example.test", &v, &n, &err));
    LONGS_EQUAL(0, n); // the old messages went with the old account
    free(v);
}

TEST(Mail, AddressNormalization)
{
    char out[ISM_MAIL_MAX_ADDRESS + 1];
    LONGS_EQUAL(0, ism_mail_address_normalize("John.Doe+tag@Example.COM", out, sizeof out, &err));
    STRCMP_EQUAL("john.doe+tag@example.com", out);
    LONGS_EQUAL(-1, ism_mail_address_normalize("@example.com", out, sizeof out, &err));
    LONGS_EQUAL(-1, ism_mail_address_normalize("a@", out, sizeof out, &err));
    LONGS_EQUAL(-1, ism_mail_address_normalize(".a@example.com", out, sizeof out, &err));
    LONGS_EQUAL(-1, ism_mail_address_normalize("a<b@example.com", out, sizeof out, &err));
    std::string longlocal(65, 'a');
    LONGS_EQUAL(-1, ism_mail_address_normalize((longlocal + "@example.com").c_str(), out, sizeof out, &err));
    STRCMP_CONTAINS("64", err.msg);
}

TEST(Mail, StoreIsWalWithASchemaVersion)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    sqlite3_open(path.c_str(), &db);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
    LONGS_EQUAL(SQLITE_ROW, sqlite3_step(s));
    STRCMP_EQUAL("wal", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, nullptr);
    LONGS_EQUAL(SQLITE_ROW, sqlite3_step(s));
    STRCMP_EQUAL("1", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    // A store written by a newer version is refused, naming the file.
    sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ism_mail *m2 = nullptr;
    LONGS_EQUAL(-1, ism_mail_open(&m2, path.c_str(), &err));
    STRCMP_CONTAINS("mail.db", err.msg);
    STRCMP_CONTAINS("newer", err.msg);
}

TEST(Mail, UnopenableStoreNamesTheFile)
{
    ism_mail *m2 = nullptr;
    std::string bad = dir + "/no/such/folder/mail.db";
    LONGS_EQUAL(-1, ism_mail_open(&m2, bad.c_str(), &err));
    LONGS_EQUAL(ISM_E_STORE, err.kind);
    STRCMP_CONTAINS("no", err.msg);
    STRCMP_CONTAINS("mail.db", err.msg);
    POINTERS_EQUAL(nullptr, m2);
}
