// The SMTP session state machine: greeting, EHLO with and without STARTTLS,
// the STARTTLS transition and its reset, refusals.
#include "smtp.h"

#include <CppUTest/TestHarness.h>
#include <cstring>
#include <string>

TEST_GROUP(Smtp)
{
    ism_smtp s;
    ism_proto_env env;
    ism_proto_req req;
    ism_buf out = {};
    void setup() override
    {
        memset(&s, 0, sizeof s);
        memset(&env, 0, sizeof env);
        memset(&req, 0, sizeof req);
        env.hostname = "mail.example.test";
        env.req = &req;
        ism_proto_smtp.begin(&s, &env, &out);
    }
    void teardown() override
    {
        ism_buf_free(&out);
    }
    std::string take()
    {
        std::string r(out.p ? out.p : "", out.len);
        out.len = 0;
        return r;
    }
    ism_proto_action cmd(const char *line, int offer)
    {
        env.starttls_offered = offer;
        env.line_flags = 0;
        return ism_proto_feed(&ism_proto_smtp, &s, &env, line, strlen(line), &out);
    }
};

TEST(Smtp, GreetsWithItsName)
{
    STRCMP_EQUAL("220 mail.example.test ESMTP ISMail ready\r\n", take().c_str());
}

TEST(Smtp, EhloOffersStartTlsOnlyWhenAllowed)
{
    take();
    cmd("EHLO client.test", 0);
    std::string r = take();
    STRCMP_CONTAINS("250-mail.example.test greets client.test", r.c_str());
    CHECK(r.find("STARTTLS") == std::string::npos);
    cmd("ehlo client.test", 1);
    STRCMP_CONTAINS("250-STARTTLS\r\n", take().c_str());
}

TEST(Smtp, StartTlsWhenNotOfferedIsRefused)
{
    take();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("STARTTLS", 0));
    STRCMP_CONTAINS("502", take().c_str());
}

TEST(Smtp, StartTlsThenResetThenNoSecondStartTls)
{
    take();
    cmd("EHLO c", 1);
    take();
    LONGS_EQUAL(ISM_PROTO_STARTTLS, cmd("STARTTLS", 1));
    STRCMP_EQUAL("220 2.0.0 Ready to start TLS\r\n", take().c_str());
    env.tls_active = 1;
    ism_proto_smtp.tls_started(&s, &env);
    LONGS_EQUAL(ISM_SMTP_S_FRESH, s.state);
    STRCMP_EQUAL("", s.client);
    cmd("EHLO c", 1);
    CHECK(take().find("STARTTLS") == std::string::npos);
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("STARTTLS", 1));
    STRCMP_CONTAINS("503", take().c_str());
}

TEST(Smtp, StartTlsWithParametersIsRefused)
{
    take();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("STARTTLS now", 1));
    STRCMP_CONTAINS("501", take().c_str());
}

TEST(Smtp, EhloWithoutNameIsASyntaxError)
{
    take();
    cmd("EHLO", 0);
    STRCMP_CONTAINS("501", take().c_str());
}

TEST(Smtp, QuitEndsTheSession)
{
    take();
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("QUIT", 0));
    STRCMP_CONTAINS("221", take().c_str());
}

TEST(Smtp, UnknownAndPrefixVerbs)
{
    take();
    cmd("EHLOX foo", 0);
    STRCMP_CONTAINS("500", take().c_str());
    cmd("NOOP", 0);
    STRCMP_CONTAINS("250", take().c_str());
}

// ---- mail transactions against a real mail store ----
#include "ism_log.h"
#include "ism_mail.h"
#include "testdir.h"

#include "ism_platform.h"
#include "ism_queue.h"

#include <cstdlib>
#include <ctime>
#include <vector>

// A stand-in for the connection layer's per-address budget of message data.
struct FakeBudget {
    int64_t budget = 0, held = 0, most = 0;
    int reserves = 0;
};
static int fake_reserve(void *arg, int64_t bytes)
{
    FakeBudget *b = static_cast<FakeBudget *>(arg);
    b->reserves++;
    if (b->held + bytes > b->budget)
        return -1;
    b->held += bytes;
    if (b->held > b->most)
        b->most = b->held;
    return 0;
}
static void fake_release(void *arg, int64_t bytes)
{
    static_cast<FakeBudget *>(arg)->held -= bytes;
}
static void count_file(const char *, void *ctx)
{
    ++*static_cast<int *>(ctx);
}

TEST_GROUP(SmtpMail)
{
    std::string dir;
    ism_mail *mail = nullptr;
    ism_smtp s;
    ism_proto_env env;
    ism_proto_req req;
    ism_buf out = {};
    void setup() override
    {
        ism_err err = {};
        dir = ism_test_mkdtemp();
        LONGS_EQUAL_TEXT(0, ism_mail_open(&mail, (dir + "/mail.db").c_str(), &err), err.msg);
        LONGS_EQUAL(0, ism_mail_domain_add(mail, "example.test", &err));
        LONGS_EQUAL_TEXT(0, ism_mail_user_add(mail, "alice@example.test", "alice-password", &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_mail_user_add(mail, "bob@example.test", "bob-password", &err), err.msg);
        memset(&s, 0, sizeof s);
        memset(&env, 0, sizeof env);
        memset(&req, 0, sizeof req);
        env.hostname = "mail.example.test";
        env.peer_addr = "192.0.2.7";
        env.mail = mail;
        env.req = &req;
        ism_log_open(nullptr, 0); // sessions log deliveries and failed logins; keep the test output clean
    }
    void teardown() override
    {
        ism_proto_smtp.end(&s);
        ism_buf_free(&out);
        ism_mail_close(mail);
        ism_test_rmtree(dir);
        ism_log_open(nullptr, 1);
    }
    // Port kinds: the MX port, or submission with TLS on for SMTP.
    void mx() { env.submission = 0; }
    void submission(int tls_on) { env.submission = 1; env.tls_required_for_auth = tls_on; env.starttls_offered = tls_on; }
    void in_tls()
    {
        env.tls_active = 1;
        env.starttls_offered = 0;
        env.tls_version = "TLSv1.3";
        env.tls_cipher = "TLS_AES_256_GCM_SHA384";
        ism_proto_smtp.tls_started(&s, &env);
    }
    void begin()
    {
        ism_proto_smtp.begin(&s, &env, &out);
        take();
    }
    std::string take()
    {
        std::string r(out.p ? out.p : "", out.len);
        out.len = 0;
        return r;
    }
    // One line as the connection layer hands it over (CRLF stripped),
    // through the synchronous driver (logins are checked at once).
    ism_proto_action line(const std::string &l, unsigned flags = 0)
    {
        env.line_flags = flags;
        return ism_proto_feed(&ism_proto_smtp, &s, &env, l.data(), l.size(), &out);
    }
    // Bytes as they arrive on the wire, cut into lines the way the
    // connection layer (server.c) does: at each LF, one CR before it
    // stripped; a line without that CR is flagged ISM_LINE_BARE_LF, a CR
    // left inside ISM_LINE_BARE_CR. Stops at the first action other than
    // CONTINUE and returns it.
    ism_proto_action wire(const std::string &bytes)
    {
        size_t start = 0, nl;
        while ((nl = bytes.find('\n', start)) != std::string::npos) {
            size_t len = nl - start;
            unsigned flags = 0;
            if (len > 0 && bytes[start + len - 1] == '\r')
                len--;
            else
                flags |= ISM_LINE_BARE_LF;
            if (bytes.substr(start, len).find('\r') != std::string::npos)
                flags |= ISM_LINE_BARE_CR;
            ism_proto_action a = line(bytes.substr(start, len), flags);
            start = nl + 1;
            if (a != ISM_PROTO_CONTINUE)
                return a;
        }
        return ISM_PROTO_CONTINUE;
    }
    // The spool folder for message data beyond what a session keeps in memory.
    std::string spool()
    {
        ism_err err = {};
        std::string d = dir + "/spool";
        LONGS_EQUAL_TEXT(0, ism_fs_mkdirs(d.c_str(), 1, &err), err.msg);
        return d;
    }
    int files_in(const std::string &d)
    {
        int n = 0;
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_fs_list(d.c_str(), "", count_file, &n, &err), err.msg);
        return n;
    }
    // Sends one line and returns the reply.
    std::string cmd(const std::string &l)
    {
        line(l);
        return take();
    }
    std::string ehlo()
    {
        return cmd("EHLO client.test");
    }
    std::string auth_plain(const char *user, const char *pw)
    {
        return cmd("AUTH PLAIN " + ism_test_b64(std::string("\0", 1) + user + std::string("\0", 1) + pw));
    }
    // MAIL, RCPT, DATA, the text lines, "."; returns the reply to the dot.
    std::string send(const char *from, const char *to, const std::vector<std::string> &text)
    {
        STRCMP_CONTAINS("250 2.1.0", cmd(std::string("MAIL FROM:<") + from + ">").c_str());
        STRCMP_CONTAINS("250 2.1.5", cmd(std::string("RCPT TO:<") + to + ">").c_str());
        STRCMP_CONTAINS("354", cmd("DATA").c_str());
        for (const std::string &t : text)
            LONGS_EQUAL(ISM_PROTO_CONTINUE, line(t));
        CHECK(take().empty()); // nothing is answered inside DATA
        return cmd(".");
    }
    size_t count(const char *addr)
    {
        ism_msg_info *v;
        size_t n = 0;
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_mail_list(mail, addr, &v, &n, &err), err.msg);
        free(v);
        return n;
    }
    std::string last(const char *addr)
    {
        ism_msg_info *v;
        size_t n = 0;
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_mail_list(mail, addr, &v, &n, &err), err.msg);
        CHECK(n > 0);
        char *data;
        size_t len;
        LONGS_EQUAL_TEXT(0, ism_mail_fetch(mail, addr, v[n - 1].uid, &data, &len, &err), err.msg);
        std::string r(data, len);
        free(data);
        free(v);
        return r;
    }
};

TEST(SmtpMail, AllowsDataLinesOf998Characters)
{
    LONGS_EQUAL(1000, ism_proto_smtp.max_line);
}

TEST(SmtpMail, EhloAdvertisesTheExtensions)
{
    mx();
    begin();
    std::string r = ehlo();
    STRCMP_CONTAINS("250-PIPELINING\r\n", r.c_str());
    STRCMP_CONTAINS("250-SIZE 52428800\r\n", r.c_str()); // smtp.max_message_mb's default when none is set
    STRCMP_CONTAINS("250-ENHANCEDSTATUSCODES\r\n", r.c_str());
    STRCMP_CONTAINS("250 8BITMIME\r\n", r.c_str());
    CHECK(r.find("AUTH") == std::string::npos); // never on the MX port
}

TEST(SmtpMail, MxAcceptsMailForALocalAccountWithTraceHeaders)
{
    mx();
    begin();
    ehlo();
    std::string r = send("sender@remote.test", "Alice@Example.Test", {"Subject: hi", "", "Hello Alice."});
    STRCMP_CONTAINS("250 2.0.0", r.c_str());
    LONGS_EQUAL(1, count("alice@example.test"));
    std::string m = last("alice@example.test");
    CHECK_EQUAL(0u, m.find("Return-Path: <sender@remote.test>\r\nReceived: from client.test ([192.0.2.7])\r\n"
                           "\tby mail.example.test (ISMail) with ESMTP\r\n\tfor <alice@example.test>; "));
    CHECK(m.find("version=") == std::string::npos); // no TLS, no TLS comment
    CHECK(m.find(" +0000\r\nSubject: hi\r\n\r\nHello Alice.\r\n") != std::string::npos);
    // The date: "Day, DD Mon YYYY HH:MM:SS +0000".
    size_t semi = m.find("; ");
    std::string date = m.substr(semi + 2, m.find("\r\n", semi) - semi - 2);
    LONGS_EQUAL(31, date.size());
    CHECK(date[3] == ',' && date[7] == ' ' && date[11] == ' ' && date[16] == ' ' && date[19] == ':');
}

TEST(SmtpMail, DateIsTodayInUtc)
{
    mx();
    begin();
    ehlo();
    char before[32], after[32];
    time_t now = time(nullptr);
    strftime(before, sizeof before, "%d %b %Y", gmtime(&now));
    send("a@remote.test", "alice@example.test", {"x"});
    now = time(nullptr);
    strftime(after, sizeof after, "%d %b %Y", gmtime(&now)); // in case midnight passed meanwhile
    std::string m = last("alice@example.test");
    CHECK(m.find(before) != std::string::npos || m.find(after) != std::string::npos);
}

TEST(SmtpMail, ReceivedNamesEsmtpsaAndTheTlsVersionAndCipher)
{
    submission(1);
    begin();
    ehlo();
    in_tls();
    ehlo();
    STRCMP_CONTAINS("235 2.7.0", auth_plain("alice@example.test", "alice-password").c_str());
    send("alice@example.test", "bob@example.test", {"Subject: s", "", "b"});
    std::string m = last("bob@example.test");
    STRCMP_CONTAINS("with ESMTPSA\r\n\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n", m.c_str());
}

TEST(SmtpMail, ReceivedNamesEsmtpsWithoutAuthAndEsmtpaWithoutTls)
{
    mx();
    env.starttls_offered = 1;
    begin();
    ehlo();
    in_tls();
    ehlo();
    send("a@remote.test", "alice@example.test", {"x"});
    STRCMP_CONTAINS("with ESMTPS\r\n\t(version=TLSv1.3", last("alice@example.test").c_str());

    ism_proto_smtp.end(&s);
    memset(&s, 0, sizeof s);
    memset(&env, 0, sizeof env);
    env.hostname = "mail.example.test";
    env.mail = mail;
    env.req = &req;
    submission(0); // TLS off for SMTP: AUTH in plaintext is what the administrator chose
    begin();
    STRCMP_CONTAINS("250-AUTH PLAIN LOGIN\r\n", ehlo().c_str());
    STRCMP_CONTAINS("235", auth_plain("alice@example.test", "alice-password").c_str());
    send("alice@example.test", "bob@example.test", {"x"});
    std::string m = last("bob@example.test");
    STRCMP_CONTAINS("Received: from client.test (unknown)\r\n", m.c_str());
    STRCMP_CONTAINS("with ESMTPA\r\n", m.c_str());
}

TEST(SmtpMail, HeloIsPlainSmtp)
{
    mx();
    begin();
    STRCMP_EQUAL("250 mail.example.test\r\n", cmd("HELO old.client").c_str());
    send("a@remote.test", "alice@example.test", {"x"});
    STRCMP_CONTAINS("from old.client ([192.0.2.7])\r\n\tby mail.example.test (ISMail) with SMTP\r\n",
                    last("alice@example.test").c_str());
    // No extensions after HELO.
    STRCMP_CONTAINS("555", cmd("MAIL FROM:<a@remote.test> SIZE=10").c_str());
}

TEST(SmtpMail, DotUnstuffing)
{
    mx();
    begin();
    ehlo();
    STRCMP_CONTAINS("250", send("a@remote.test", "alice@example.test", {"", "..", "...two", ".x", "a.b", ". "}).c_str());
    std::string m = last("alice@example.test");
    CHECK(m.find("\r\n\r\n.\r\n..two\r\nx\r\na.b\r\n \r\n") != std::string::npos);
    CHECK(m.size() >= 2 && m.substr(m.size() - 2) == "\r\n");
}

TEST(SmtpMail, SizeParameterOverTheLimitIsRefused)
{
    mx();
    env.max_message = 26214400;
    begin();
    STRCMP_CONTAINS("250-SIZE 26214400\r\n", ehlo().c_str());
    STRCMP_EQUAL("552 5.3.4 Message size exceeds fixed maximum message size (26214400 bytes)\r\n",
                 cmd("MAIL FROM:<a@remote.test> SIZE=26214401").c_str());
    STRCMP_CONTAINS("250", cmd("MAIL FROM:<a@remote.test> SIZE=1000 BODY=8BITMIME").c_str());
    cmd("RSET");
    STRCMP_CONTAINS("501", cmd("MAIL FROM:<a@remote.test> SIZE=ten").c_str());
    STRCMP_CONTAINS("555", cmd("MAIL FROM:<a@remote.test> FOO=bar").c_str());
}

TEST(SmtpMail, MessageOverTheLimitIsRefusedAfterTheDot)
{
    mx();
    env.max_message = 1024 * 1024;
    begin();
    STRCMP_CONTAINS("250-SIZE 1048576\r\n", ehlo().c_str());
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    STRCMP_CONTAINS("354", cmd("DATA").c_str());
    std::string l(998, 'x');
    for (int64_t sent = 0; sent <= env.max_message; sent += (int64_t)l.size() + 2)
        line(l);
    CHECK(take().empty());
    LONGS_EQUAL(0, s.data.len); // past the limit nothing is kept
    CHECK(s.data.p == nullptr);
    STRCMP_EQUAL("552 5.3.4 Message size exceeds fixed maximum message size (1048576 bytes)\r\n", cmd(".").c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
    // The session goes on.
    STRCMP_CONTAINS("250", send("a@remote.test", "alice@example.test", {"small"}).c_str());
}

TEST(SmtpMail, LongDataLineRefusesTheMessage)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    cmd("DATA");
    line("ok");
    ism_proto_smtp.too_long(&s, &env, &out); // the connection layer saw a line over 1000
    CHECK(take().empty());
    STRCMP_CONTAINS("500 5.5.2", cmd(".").c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
}

TEST(SmtpMail, CommandLinesOver512AreRefused)
{
    mx();
    begin();
    ehlo();
    std::string l = "MAIL FROM:<" + std::string(520, 'a') + "@remote.test>";
    STRCMP_CONTAINS("500 5.5.2 Line too long", cmd(l).c_str());
    ism_proto_smtp.too_long(&s, &env, &out);
    STRCMP_CONTAINS("500 5.5.2", take().c_str());
    STRCMP_CONTAINS("250", cmd("NOOP").c_str());
}

TEST(SmtpMail, UnknownLocalUserAndRelaying)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    STRCMP_CONTAINS("550 5.1.1 <carol@example.test>", cmd("RCPT TO:<carol@example.test>").c_str());
    STRCMP_CONTAINS("550 5.7.1 <someone@elsewhere.test>: relaying denied", cmd("RCPT TO:<someone@elsewhere.test>").c_str());
    STRCMP_CONTAINS("501 5.1.3", cmd("RCPT TO:<not an address>").c_str());
    STRCMP_CONTAINS("501 5.1.3", cmd("RCPT TO:nobrackets@example.test").c_str());
    STRCMP_CONTAINS("554 5.5.1 No valid recipients", cmd("DATA").c_str());
}

TEST(SmtpMail, AuthenticatedClientsAreToldOutgoingDeliveryIsNotThereYet)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    auth_plain("alice@example.test", "alice-password");
    cmd("MAIL FROM:<alice@example.test>");
    std::string r = cmd("RCPT TO:<friend@elsewhere.test>");
    STRCMP_CONTAINS("550 5.7.0", r.c_str());
    STRCMP_CONTAINS("not enabled yet", r.c_str());
}

TEST(SmtpMail, MxNeverOffersAuth)
{
    mx();
    env.starttls_offered = 1;
    env.tls_required_for_auth = 1;
    begin();
    ehlo();
    STRCMP_CONTAINS("502 5.5.1", auth_plain("alice@example.test", "alice-password").c_str());
    in_tls();
    CHECK(ehlo().find("AUTH") == std::string::npos);
    STRCMP_CONTAINS("502 5.5.1", auth_plain("alice@example.test", "alice-password").c_str());
    // And mail for local accounts needs no AUTH and no TLS there.
}

TEST(SmtpMail, SubmissionRefusesAuthBeforeTls)
{
    submission(1);
    begin();
    std::string r = ehlo();
    STRCMP_CONTAINS("250-STARTTLS\r\n", r.c_str());
    CHECK(r.find("AUTH") == std::string::npos);
    STRCMP_EQUAL("538 5.7.11 Encryption required for requested authentication mechanism\r\n",
                 auth_plain("alice@example.test", "alice-password").c_str());
    STRCMP_CONTAINS("538 5.7.11", cmd("AUTH LOGIN").c_str());
    STRCMP_CONTAINS("530 5.7.0 Must issue a STARTTLS", cmd("MAIL FROM:<alice@example.test>").c_str());
    LONGS_EQUAL(ISM_PROTO_STARTTLS, line("STARTTLS"));
    take();
    in_tls();
    STRCMP_CONTAINS("503 5.5.1 Send EHLO", auth_plain("alice@example.test", "alice-password").c_str());
    STRCMP_CONTAINS("250-AUTH PLAIN LOGIN\r\n", ehlo().c_str());
}

TEST(SmtpMail, SubmissionRequiresAuthForMail)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_EQUAL("530 5.7.0 Authentication required\r\n", cmd("MAIL FROM:<alice@example.test>").c_str());
    STRCMP_CONTAINS("235", auth_plain("alice@example.test", "alice-password").c_str());
    CHECK(ehlo().find("AUTH") == std::string::npos); // not again once authenticated
    STRCMP_CONTAINS("503 5.5.1 Already", auth_plain("alice@example.test", "alice-password").c_str());
    STRCMP_CONTAINS("250", send("alice@example.test", "bob@example.test", {"hi"}).c_str());
    LONGS_EQUAL(1, count("bob@example.test"));
}

TEST(SmtpMail, AuthPlainRightAndWrong)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_EQUAL("535 5.7.8 Authentication credentials invalid\r\n",
                 auth_plain("alice@example.test", "wrong-password").c_str());
    STRCMP_CONTAINS("535", auth_plain("nobody@example.test", "alice-password").c_str());
    STRCMP_EQUAL("235 2.7.0 Authentication successful\r\n", auth_plain("ALICE@example.test", "alice-password").c_str());
    STRCMP_EQUAL("alice@example.test", s.auth_user);
}

TEST(SmtpMail, AuthPlainWithoutInitialResponse)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_EQUAL("334 \r\n", cmd("AUTH plain").c_str());
    STRCMP_CONTAINS("235", cmd(ism_test_b64(std::string("alice@example.test\0alice@example.test\0alice-password", 52))).c_str());
}

TEST(SmtpMail, AuthPlainForAnotherIdentityAndMalformedAreRefused)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    std::string other = std::string("bob@example.test\0alice@example.test\0alice-password", 50);
    STRCMP_CONTAINS("535", cmd("AUTH PLAIN " + ism_test_b64(other)).c_str());
    STRCMP_CONTAINS("501 5.5.2", cmd("AUTH PLAIN " + ism_test_b64("no-nuls-here")).c_str());
    STRCMP_CONTAINS("501 5.5.2", cmd("AUTH PLAIN !!!notbase64").c_str());
    STRCMP_CONTAINS("504 5.5.4", cmd("AUTH CRAM-MD5").c_str());
}

TEST(SmtpMail, AuthLoginRightAndWrong)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_EQUAL("334 VXNlcm5hbWU6\r\n", cmd("AUTH LOGIN").c_str());
    STRCMP_EQUAL("334 UGFzc3dvcmQ6\r\n", cmd(ism_test_b64("alice@example.test")).c_str());
    STRCMP_CONTAINS("535 5.7.8", cmd(ism_test_b64("bad-password")).c_str());
    // With the user name as the initial response.
    STRCMP_EQUAL("334 UGFzc3dvcmQ6\r\n", cmd("AUTH LOGIN " + ism_test_b64("alice@example.test")).c_str());
    STRCMP_CONTAINS("235 2.7.0", cmd(ism_test_b64("alice-password")).c_str());
    STRCMP_EQUAL("", s.login_user); // nothing of the exchange is kept
}

TEST(SmtpMail, AuthCancelled)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    cmd("AUTH LOGIN");
    STRCMP_CONTAINS("501 5.0.0", cmd("*").c_str());
    STRCMP_CONTAINS("250", cmd("NOOP").c_str());
}

TEST(SmtpMail, AuthLinesMayBeLongerThanCommands)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    std::string pw(600, 'p');
    std::string r = auth_plain("alice@example.test", pw.c_str());
    STRCMP_CONTAINS("535", r.c_str()); // checked, not refused as too long
    cmd("AUTH PLAIN");
    ism_proto_smtp.too_long(&s, &env, &out);
    STRCMP_CONTAINS("500 5.5.6", take().c_str());
    LONGS_EQUAL(ISM_SMTP_S_GREETED, s.state);
}

TEST(SmtpMail, ThirdFailedAuthClosesTheSession)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    auth_plain("alice@example.test", "wrong-1");
    auth_plain("alice@example.test", "wrong-2");
    std::string nul(1, '\0');
    LONGS_EQUAL(ISM_PROTO_CLOSE, line("AUTH PLAIN " + ism_test_b64(nul + "alice@example.test" + nul + "wrong-3")));
    STRCMP_CONTAINS("421 4.7.0", take().c_str());
}

TEST(SmtpMail, AuthWithoutTheStoreIsATemporaryFailure)
{
    submission(1);
    env.mail = nullptr;
    begin();
    in_tls();
    ehlo();
    STRCMP_CONTAINS("454 4.7.0", auth_plain("alice@example.test", "alice-password").c_str());
}

TEST(SmtpMail, MailWithoutTheStoreIsATemporaryFailure)
{
    mx();
    env.mail = nullptr;
    begin();
    ehlo();
    STRCMP_CONTAINS("451 4.3.0", cmd("MAIL FROM:<a@remote.test>").c_str());
}

TEST(SmtpMail, PipelinedCommandsAreAnsweredInOrder)
{
    mx();
    begin();
    const char *lines[] = {"EHLO client.test",          "MAIL FROM:<a@remote.test>", "RCPT TO:<alice@example.test>",
                           "RCPT TO:<nobody@example.test>", "RCPT TO:<bob@example.test>", "DATA"};
    for (const char *l : lines)
        LONGS_EQUAL(ISM_PROTO_CONTINUE, line(l));
    std::string r = take();
    size_t p1 = r.find("250 8BITMIME"), p2 = r.find("250 2.1.0"), p3 = r.find("250 2.1.5 Recipient <alice"),
           p4 = r.find("550 5.1.1"), p5 = r.find("250 2.1.5 Recipient <bob"), p6 = r.find("354");
    CHECK(p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5 && p5 < p6 && p6 != std::string::npos);
    line("Subject: both");
    line("");
    line("body");
    STRCMP_CONTAINS("250 2.0.0 OK: message delivered to 2 mailboxes", cmd(".").c_str());
    LONGS_EQUAL(1, count("alice@example.test"));
    LONGS_EQUAL(1, count("bob@example.test"));
    // With several recipients no "for" clause names them to each other.
    CHECK(last("bob@example.test").find("for <") == std::string::npos);
}

TEST(SmtpMail, SameRecipientTwiceGetsOneCopy)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    STRCMP_CONTAINS("250", cmd("RCPT TO:<ALICE@example.test>").c_str());
    cmd("DATA");
    line("x");
    STRCMP_CONTAINS("1 mailbox\r\n", cmd(".").c_str());
    LONGS_EQUAL(1, count("alice@example.test"));
}

TEST(SmtpMail, RsetEndsTheTransaction)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    STRCMP_EQUAL("250 2.0.0 OK\r\n", cmd("RSET").c_str());
    STRCMP_CONTAINS("503 5.5.1", cmd("RCPT TO:<alice@example.test>").c_str());
    STRCMP_CONTAINS("503 5.5.1", cmd("DATA").c_str());
    LONGS_EQUAL(0, s.n_rcpt);
    STRCMP_CONTAINS("250", send("", "alice@example.test", {"x"}).c_str());
}

TEST(SmtpMail, NullSenderIsAccepted)
{
    mx();
    begin();
    ehlo();
    STRCMP_CONTAINS("250", cmd("MAIL FROM:<>").c_str());
    cmd("RCPT TO:<alice@example.test>");
    cmd("DATA");
    line("bounce");
    STRCMP_CONTAINS("250", cmd(".").c_str());
    CHECK_EQUAL(0u, last("alice@example.test").find("Return-Path: <>\r\n"));
}

TEST(SmtpMail, SequenceErrors)
{
    mx();
    begin();
    STRCMP_CONTAINS("503 5.5.1 Send EHLO", cmd("MAIL FROM:<a@remote.test>").c_str());
    ehlo();
    STRCMP_CONTAINS("501 5.5.4", cmd("MAIL TO:<a@remote.test>").c_str());
    STRCMP_CONTAINS("503", cmd("RCPT TO:<alice@example.test>").c_str());
    STRCMP_CONTAINS("503", cmd("DATA").c_str());
    cmd("MAIL FROM:<a@remote.test>");
    STRCMP_CONTAINS("503 5.5.1 Sender already", cmd("MAIL FROM:<a@remote.test>").c_str());
    cmd("RCPT TO:<alice@example.test>");
    STRCMP_CONTAINS("501 5.5.4 DATA takes no parameters", cmd("DATA now").c_str());
    STRCMP_CONTAINS("252", cmd("VRFY alice").c_str());
}

TEST(SmtpMail, StartTlsAndTlsStartedForgetTheTransactionAndAuth)
{
    submission(0); // AUTH allowed in plaintext
    env.starttls_offered = 1;
    begin();
    ehlo();
    auth_plain("alice@example.test", "alice-password");
    cmd("MAIL FROM:<alice@example.test>");
    cmd("RCPT TO:<bob@example.test>");
    LONGS_EQUAL(ISM_PROTO_STARTTLS, line("STARTTLS"));
    take();
    LONGS_EQUAL(0, s.have_from);
    LONGS_EQUAL(0, s.n_rcpt);
    in_tls();
    STRCMP_EQUAL("", s.auth_user);
    LONGS_EQUAL(ISM_SMTP_S_FRESH, s.state);
    STRCMP_CONTAINS("503 5.5.1 Send EHLO", cmd("MAIL FROM:<alice@example.test>").c_str());
    ehlo();
    STRCMP_CONTAINS("530 5.7.0 Authentication required", cmd("MAIL FROM:<alice@example.test>").c_str());
}

TEST(SmtpMail, PostmasterWithoutDomain)
{
    ism_err err = {};
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    STRCMP_CONTAINS("550", cmd("RCPT TO:<Postmaster>").c_str());
    LONGS_EQUAL(0, ism_mail_user_add(mail, "postmaster@example.test", "postmaster-pw", &err));
    STRCMP_CONTAINS("250 2.1.5 Recipient <postmaster@example.test>", cmd("RCPT TO:<Postmaster>").c_str());
}

TEST(SmtpMail, MailLoopIsRefused)
{
    mx();
    begin();
    ehlo();
    std::vector<std::string> text;
    for (int i = 0; i <= ISM_SMTP_MAX_HOPS; i++)
        text.push_back("Received: from hop" + std::to_string(i));
    text.push_back("");
    text.push_back("Received: in the body does not count");
    STRCMP_CONTAINS("554 5.4.6", send("a@remote.test", "alice@example.test", text).c_str());
    text.erase(text.begin());
    text.erase(text.begin());
    STRCMP_CONTAINS("250", send("a@remote.test", "alice@example.test", text).c_str());
}

TEST(SmtpMail, TooManyErrorsCloseTheSession)
{
    mx();
    begin();
    for (int i = 1; i < ISM_SMTP_MAX_ERRORS; i++)
        LONGS_EQUAL(ISM_PROTO_CONTINUE, line("BOGUS"));
    LONGS_EQUAL(ISM_PROTO_CLOSE, line("BOGUS"));
    STRCMP_CONTAINS("421 4.7.0", take().c_str());
}

TEST(SmtpMail, PeerAddressesAreWrittenAsAddressLiterals)
{
    mx();
    env.peer_addr = "2001:db8::1";
    begin();
    ehlo();
    send("a@remote.test", "alice@example.test", {"x"});
    STRCMP_CONTAINS("from client.test ([IPv6:2001:db8::1])\r\n", last("alice@example.test").c_str());
    env.peer_addr = "unknown";
    send("a@remote.test", "alice@example.test", {"x"});
    STRCMP_CONTAINS("from client.test (unknown)\r\n", last("alice@example.test").c_str());
}

TEST(SmtpMail, HostileEhloNamesCannotBreakTheReceivedHeader)
{
    mx();
    begin();
    cmd("EHLO evil)\r\nX-Injected:(x");
    send("a@remote.test", "alice@example.test", {"x"});
    std::string m = last("alice@example.test");
    CHECK(m.find("\nX-Injected") == std::string::npos);
    STRCMP_CONTAINS("Received: from evil???X-Injected:?x ([192.0.2.7])\r\n", m.c_str());
}

// ---- SMTP smuggling: only CRLF "." CRLF ends a message ----

// The start of a transaction for alice, up to the 354.
#define OPEN_DATA()                                                                                                    \
    do {                                                                                                               \
        mx();                                                                                                          \
        begin();                                                                                                       \
        ehlo();                                                                                                        \
        cmd("MAIL FROM:<a@remote.test>");                                                                              \
        cmd("RCPT TO:<alice@example.test>");                                                                           \
        STRCMP_CONTAINS("354", cmd("DATA").c_str());                                                                   \
    } while (0)

// A first message, a "." between bare and proper line ends, then a second
// transaction: the second must never run as commands.
static std::string smuggle(const char *end)
{
    return std::string("Subject: first\r\n\r\nfirst body") + end +
           "MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
           "Subject: smuggled\r\n\r\nsmuggled body\r\n";
}

static const char BARE_LF_REFUSAL[] = "554 5.5.2 Message refused: it contains a bare <LF> (a line end without <CR>); "
                                      "lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n";

TEST(SmtpMail, SmugglingLfDotLfDoesNotEndTheMessage)
{
    OPEN_DATA();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, wire(smuggle("\n.\n")));
    CHECK(take().empty()); // still inside the first message: no 250, no replies to the smuggled commands
    LONGS_EQUAL(ISM_PROTO_CONTINUE, wire(".\r\n"));
    STRCMP_EQUAL(BARE_LF_REFUSAL, take().c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
    LONGS_EQUAL(0, count("bob@example.test"));
}

TEST(SmtpMail, SmugglingLfDotCrLfDoesNotEndTheMessage)
{
    OPEN_DATA();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, wire(smuggle("\n.\r\n")));
    CHECK(take().empty());
    wire(".\r\n");
    STRCMP_EQUAL(BARE_LF_REFUSAL, take().c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
    LONGS_EQUAL(0, count("bob@example.test"));
}

TEST(SmtpMail, SmugglingCrLfDotLfDoesNotEndTheMessage)
{
    OPEN_DATA();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, wire(smuggle("\r\n.\n")));
    CHECK(take().empty());
    wire(".\r\n");
    STRCMP_EQUAL(BARE_LF_REFUSAL, take().c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
    LONGS_EQUAL(0, count("bob@example.test"));
    // The session goes on normally afterwards.
    STRCMP_CONTAINS("250 2.0.0", send("a@remote.test", "alice@example.test", {"ok"}).c_str());
}

TEST(SmtpMail, BareCrInAMessageRefusesIt)
{
    OPEN_DATA();
    wire("Subject: cr\r\n\r\nfirst body\r.\rMAIL FROM:<evil@remote.test>\r\n");
    CHECK(take().empty());
    wire(".\r\n");
    STRCMP_EQUAL("554 5.5.2 Message refused: it contains a bare <CR> (a <CR> not followed by <LF>); "
                 "lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n",
                 take().c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
}

TEST(SmtpMail, BareLfInAMessageRefusesItAndNothingIsKept)
{
    FakeBudget b;
    b.budget = 1 << 20;
    env.data_reserve = fake_reserve;
    env.data_release = fake_release;
    env.data_arg = &b;
    OPEN_DATA();
    wire("Subject: lf\r\n\r\nline one\nline two\r\n");
    LONGS_EQUAL(0, s.data.len); // dropped at once: the message cannot be accepted any more
    LONGS_EQUAL(0, b.held);
    wire(".\r\n");
    STRCMP_EQUAL(BARE_LF_REFUSAL, take().c_str());
}

TEST(SmtpMail, ProperEndOfDataStillPipelines)
{
    OPEN_DATA();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, wire("Subject: ok\r\n\r\nbody\r\n.\r\nNOOP\r\n"));
    std::string r = take();
    STRCMP_CONTAINS("250 2.0.0 OK: message delivered to 1 mailbox\r\n250 2.0.0 OK\r\n", r.c_str());
    LONGS_EQUAL(1, count("alice@example.test"));
}

TEST(SmtpMail, BareLfInACommandClosesTheSession)
{
    mx();
    begin();
    ehlo();
    LONGS_EQUAL(ISM_PROTO_CLOSE, wire("NOOP\n"));
    STRCMP_EQUAL("521 5.5.2 Error: bare <LF> received; lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n",
                 take().c_str());
}

TEST(SmtpMail, BareCrInACommandClosesTheSession)
{
    mx();
    begin();
    ehlo();
    LONGS_EQUAL(ISM_PROTO_CLOSE, wire("MAIL FROM:<a@remote.test>\rRCPT TO:<alice@example.test>\r\n"));
    STRCMP_EQUAL("521 5.5.2 Error: bare <CR> received; lines must end with <CR><LF> (RFC 5321 2.3.8)\r\n",
                 take().c_str());
}

TEST(SmtpMail, BareLfInAnAuthExchangeClosesTheSession)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    cmd("AUTH LOGIN");
    LONGS_EQUAL(ISM_PROTO_CLOSE, wire(ism_test_b64("alice@example.test") + "\n"));
    STRCMP_CONTAINS("521 5.5.2 Error: bare <LF>", take().c_str());
    STRCMP_EQUAL("", s.login_user);
}

// ---- message data: spooled, bounded, budgeted ----

// n lines of 998 characters, each different, as sent and as stored.
static std::vector<std::string> big_text(size_t n)
{
    std::vector<std::string> v;
    for (size_t i = 0; i < n; i++) {
        std::string l = "line " + std::to_string(i) + " ";
        l += std::string(998 - l.size(), (char)('a' + i % 26));
        v.push_back(l);
    }
    return v;
}

static std::string joined(const std::vector<std::string> &v)
{
    std::string r;
    for (const std::string &l : v)
        r += l + "\r\n";
    return r;
}

TEST(SmtpMail, LargeMessageIsSpooledNotHeldInMemory)
{
    std::string sp = spool();
    env.spool_dir = sp.c_str();
    OPEN_DATA();
    std::vector<std::string> text = big_text(1100); // about 1.1 MB
    for (const std::string &l : text)
        line(l);
    CHECK(take().empty());
    CHECK(s.data.cap <= ISM_SMTP_DATA_MEM); // memory stays small whatever the size
    CHECK(s.spool != nullptr);
    CHECK(s.spooled > 1000000);
#ifndef _WIN32
    LONGS_EQUAL(0, files_in(sp)); // the name is gone at once: a crash leaves nothing behind
#endif
    STRCMP_CONTAINS("250 2.0.0", cmd(".").c_str());
    CHECK(s.spool == nullptr);
    LONGS_EQUAL(0, files_in(sp));
    std::string m = last("alice@example.test");
    std::string body = joined(text);
    CHECK(m.size() > body.size());
    CHECK(m.compare(m.size() - body.size(), body.size(), body) == 0); // every byte, in order, after the trace headers
    CHECK_EQUAL(0u, m.find("Return-Path: <a@remote.test>\r\nReceived: from client.test ([192.0.2.7])\r\n"));
}

TEST(SmtpMail, SpooledMessageForAnotherServerIsQueuedWhole)
{
    ism_err err = {};
    ism_queue *q = nullptr;
    LONGS_EQUAL_TEXT(0, ism_queue_open(&q, (dir + "/queue.db").c_str(), &err), err.msg);
    std::string sp = spool();
    env.spool_dir = sp.c_str();
    env.queue = q;
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_CONTAINS("235", auth_plain("alice@example.test", "alice-password").c_str());
    std::vector<std::string> text = big_text(300);
    cmd("MAIL FROM:<alice@example.test>");
    STRCMP_CONTAINS("250", cmd("RCPT TO:<friend@elsewhere.test>").c_str());
    STRCMP_CONTAINS("250", cmd("RCPT TO:<bob@example.test>").c_str());
    cmd("DATA");
    for (const std::string &l : text)
        line(l);
    CHECK(s.spool != nullptr);
    STRCMP_CONTAINS("250 2.0.0 OK: message delivered to 2 mailboxes", cmd(".").c_str());
    ism_queue_item *items = nullptr;
    size_t n = 0;
    LONGS_EQUAL_TEXT(0, ism_queue_list(q, &items, &n, &err), err.msg);
    LONGS_EQUAL(1, n);
    char *data = nullptr;
    size_t len = 0;
    LONGS_EQUAL_TEXT(0, ism_queue_data(q, items[0].msg, &data, &len, &err), err.msg);
    std::string queued(data, len), body = joined(text);
    LONGS_EQUAL(len, items[0].size);
    CHECK_EQUAL(0u, queued.find("Return-Path: <alice@example.test>\r\nReceived: from client.test"));
    CHECK(queued.compare(queued.size() - body.size(), body.size(), body) == 0);
    CHECK(queued == last("bob@example.test")); // the local copy is the same message
    free(data);
    ism_queue_items_free(items, n);
    ism_queue_close(q);
}

TEST(SmtpMail, RsetAndTheEndOfTheSessionRemoveTheSpoolFile)
{
    std::string sp = spool();
    env.spool_dir = sp.c_str();
    OPEN_DATA();
    for (const std::string &l : big_text(100))
        line(l);
    CHECK(s.spool != nullptr);
    cmd(".");
    CHECK(s.spool == nullptr);
    // Ended by the client going away in the middle of a message.
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    cmd("DATA");
    for (const std::string &l : big_text(100))
        line(l);
    CHECK(s.spool != nullptr);
    ism_proto_smtp.end(&s);
    CHECK(s.spool == nullptr);
    LONGS_EQUAL(0, files_in(sp));
}

TEST(SmtpMail, EveryByteHeldIsCountedAgainstTheAddressBudget)
{
    FakeBudget b;
    b.budget = 10 << 20;
    env.data_reserve = fake_reserve;
    env.data_release = fake_release;
    env.data_arg = &b;
    std::string sp = spool();
    env.spool_dir = sp.c_str();
    OPEN_DATA();
    for (const std::string &l : big_text(500)) {
        line(l);
        CHECK(b.held >= (int64_t)s.data.len + s.spooled);
    }
    CHECK(b.held <= (int64_t)s.data.len + s.spooled + ISM_SMTP_RESERVE_STEP);
    CHECK(b.reserves < 20); // in steps, not line by line
    STRCMP_CONTAINS("250 2.0.0", cmd(".").c_str());
    LONGS_EQUAL(0, b.held); // given back once stored
    // Reset in the middle of a message, and the session ending in one.
    cmd("MAIL FROM:<a@remote.test>");
    cmd("RCPT TO:<alice@example.test>");
    cmd("DATA");
    line("x");
    CHECK(b.held > 0);
    ism_proto_smtp.end(&s);
    LONGS_EQUAL(0, b.held);
}

TEST(SmtpMail, SpentBudgetRefusesTheMessageWith452AndKeepsNothing)
{
    FakeBudget b;
    b.budget = 200 * 1024;
    env.data_reserve = fake_reserve;
    env.data_release = fake_release;
    env.data_arg = &b;
    std::string sp = spool();
    env.spool_dir = sp.c_str();
    OPEN_DATA();
    for (const std::string &l : big_text(400)) // about 400 KB
        line(l);
    CHECK(take().empty());
    LONGS_EQUAL(0, b.held);
    LONGS_EQUAL(0, s.data.len);
    CHECK(s.spool == nullptr);
    STRCMP_EQUAL("452 4.3.1 Too much mail in transit from your address; try again later\r\n", cmd(".").c_str());
    LONGS_EQUAL(0, count("alice@example.test"));
    // A message within the budget goes through afterwards.
    STRCMP_CONTAINS("250 2.0.0", send("a@remote.test", "alice@example.test", {"small"}).c_str());
    LONGS_EQUAL(0, b.held);
}

TEST(SmtpMail, OutOfMemoryWhileReceivingRefusesTheMessage)
{
    OPEN_DATA();
    line("Subject: partial");
    line("");
    s.data.oom = 1; // the next append finds no memory (ism_buf.h)
    line("lost line");
    line("later line");
    CHECK(take().empty());
    STRCMP_EQUAL("452 4.3.1 Out of memory for the message; try again later\r\n", cmd(".").c_str());
    LONGS_EQUAL(0, count("alice@example.test")); // never a truncated message
}

// ---- who may send as whom ----

TEST(SmtpMail, SubmissionSenderMustBeTheLoggedInAccount)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    STRCMP_CONTAINS("235", auth_plain("alice@example.test", "alice-password").c_str());
    STRCMP_EQUAL("553 5.7.1 Sender address <bob@example.test> is not owned by user <alice@example.test>\r\n",
                 cmd("MAIL FROM:<bob@example.test>").c_str());
    STRCMP_CONTAINS("553 5.7.1 Sender address <ceo@remote.test>", cmd("MAIL FROM:<ceo@remote.test>").c_str());
    STRCMP_CONTAINS("250 2.1.0", cmd("MAIL FROM:<Alice@EXAMPLE.test>").c_str()); // case does not matter
    cmd("RSET");
    STRCMP_CONTAINS("250 2.1.0", cmd("MAIL FROM:<>").c_str()); // the null sender stays allowed
}

TEST(SmtpMail, MxRefusesLocalDomainSendersWithoutLogin)
{
    mx();
    env.local_senders_need_auth = 1;
    begin();
    ehlo();
    STRCMP_EQUAL("553 5.7.1 <alice@example.test>: sender in a local domain needs authentication; mail clients use "
                 "the submission port\r\n",
                 cmd("MAIL FROM:<alice@example.test>").c_str());
    STRCMP_CONTAINS("553 5.7.1 <nobody@EXAMPLE.TEST>", cmd("MAIL FROM:<nobody@EXAMPLE.TEST>").c_str());
    STRCMP_CONTAINS("250 2.1.0", cmd("MAIL FROM:<someone@remote.test>").c_str());
    cmd("RSET");
    STRCMP_CONTAINS("250 2.1.0", cmd("MAIL FROM:<>").c_str());
    cmd("RSET");
    env.local_senders_need_auth = 0; // the administrator turned the check off
    STRCMP_CONTAINS("250 2.1.0", cmd("MAIL FROM:<alice@example.test>").c_str());
}

// ---- address probing ----

TEST(SmtpMail, UnknownRecipientsAreAnsweredSlowerAfterThree)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    auto rcpt = [&](const std::string &to) {
        std::string l = "RCPT TO:<" + to + ">";
        env.line_flags = 0;
        req.pause_ms = 0;
        return ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out); // PAUSE is what the connection layer sees
    };
    for (int i = 1; i <= ISM_SMTP_FREE_MISSES; i++) {
        LONGS_EQUAL(ISM_PROTO_CONTINUE, rcpt("ghost" + std::to_string(i) + "@example.test"));
        STRCMP_CONTAINS("550 5.1.1", take().c_str());
    }
    LONGS_EQUAL(ISM_PROTO_CONTINUE, rcpt("alice@example.test")); // a hit is answered at once
    STRCMP_CONTAINS("250 2.1.5", take().c_str());
    LONGS_EQUAL(ISM_PROTO_PAUSE, rcpt("ghost4@example.test"));
    STRCMP_CONTAINS("550 5.1.1 <ghost4@example.test>", take().c_str());
    LONGS_EQUAL(1000, req.pause_ms);
    LONGS_EQUAL(ISM_PROTO_PAUSE, rcpt("ghost5@example.test"));
    LONGS_EQUAL(2000, req.pause_ms);
    int last_pause = 0;
    ism_proto_action a = ISM_PROTO_PAUSE;
    for (int i = 6; a == ISM_PROTO_PAUSE && i < 100; i++) {
        a = rcpt("ghost" + std::to_string(i) + "@example.test");
        if (a == ISM_PROTO_PAUSE) {
            CHECK(req.pause_ms >= last_pause);
            last_pause = req.pause_ms;
        }
    }
    LONGS_EQUAL(ISM_SMTP_MAX_MISS_PAUSE_MS, last_pause);
    // The hard limit still ends the session.
    LONGS_EQUAL(ISM_PROTO_CLOSE, a);
    STRCMP_CONTAINS("421 4.7.0 Too many errors", take().c_str());
    LONGS_EQUAL(ISM_SMTP_MAX_ERRORS, s.errors);
}

TEST(SmtpMail, TheSynchronousDriverDoesNotWaitOutPauses)
{
    mx();
    begin();
    ehlo();
    cmd("MAIL FROM:<a@remote.test>");
    for (int i = 0; i < ISM_SMTP_FREE_MISSES + 2; i++)
        LONGS_EQUAL(ISM_PROTO_CONTINUE, line("RCPT TO:<ghost" + std::to_string(i) + "@example.test>"));
}

// ---- AUTH through the connection layer (ISM_PROTO_AUTH) ----

TEST(SmtpMail, AuthPlainHandsTheCredentialsToTheConnectionLayer)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    std::string l = "AUTH PLAIN " + ism_test_b64(std::string("\0Alice@Example.test\0alice-password", 34));
    env.line_flags = 0;
    LONGS_EQUAL(ISM_PROTO_AUTH, ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out));
    CHECK(take().empty()); // no answer until the password is checked
    STRCMP_EQUAL("alice@example.test", req.user);
    STRCMP_EQUAL("alice-password", req.pass);
    LONGS_EQUAL(ISM_PROTO_CONTINUE, ism_proto_smtp.auth_done(&s, &env, ISM_AUTH_OK, &out));
    STRCMP_EQUAL("235 2.7.0 Authentication successful\r\n", take().c_str());
    STRCMP_EQUAL("alice@example.test", s.auth_user);
}

TEST(SmtpMail, AuthLoginHandsTheCredentialsToTheConnectionLayer)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    cmd("AUTH LOGIN");
    cmd(ism_test_b64("bob@example.test"));
    std::string l = ism_test_b64("bob-password");
    LONGS_EQUAL(ISM_PROTO_AUTH, ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out));
    STRCMP_EQUAL("bob@example.test", req.user);
    STRCMP_EQUAL("bob-password", req.pass);
    STRCMP_EQUAL("", s.login_user);
    LONGS_EQUAL(ISM_PROTO_CONTINUE, ism_proto_smtp.auth_done(&s, &env, ISM_AUTH_FAILED, &out));
    STRCMP_EQUAL("535 5.7.8 Authentication credentials invalid\r\n", take().c_str());
    STRCMP_EQUAL("", s.auth_user);
}

TEST(SmtpMail, ThrottledAndUnavailableLoginsAreTemporaryAndNotCounted)
{
    submission(1);
    begin();
    in_tls();
    ehlo();
    std::string l = "AUTH PLAIN " + ism_test_b64(std::string("\0alice@example.test\0guess", 25));
    for (int i = 0; i < ISM_SMTP_MAX_AUTH_FAILURES + 1; i++) {
        LONGS_EQUAL(ISM_PROTO_AUTH, ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out));
        req.retry_minutes = 7;
        LONGS_EQUAL(ISM_PROTO_CONTINUE, ism_proto_smtp.auth_done(&s, &env, ISM_AUTH_THROTTLED, &out));
        STRCMP_EQUAL("454 4.7.0 Too many failed logins; try again in 7 minutes\r\n", take().c_str());
    }
    LONGS_EQUAL(0, s.auth_failures);
    ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out);
    req.retry_minutes = 1;
    ism_proto_smtp.auth_done(&s, &env, ISM_AUTH_THROTTLED, &out);
    STRCMP_EQUAL("454 4.7.0 Too many failed logins; try again in 1 minute\r\n", take().c_str());
    ism_proto_smtp.line(&s, &env, l.data(), l.size(), &out);
    LONGS_EQUAL(ISM_PROTO_CONTINUE, ism_proto_smtp.auth_done(&s, &env, ISM_AUTH_UNAVAILABLE, &out));
    STRCMP_EQUAL("454 4.7.0 Temporary authentication failure: the account store is unavailable\r\n", take().c_str());
    LONGS_EQUAL(0, s.auth_failures);
    LONGS_EQUAL(ISM_SMTP_S_GREETED, s.state);
    STRCMP_CONTAINS("250", cmd("NOOP").c_str());
}
