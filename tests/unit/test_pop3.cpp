// The POP3 session state machine against a real mail store: CAPA and STLS,
// credentials refused in plaintext when TLS is required, USER/PASS and AUTH
// PLAIN, the maildrop snapshot, RETR/TOP dot-stuffing, DELE/RSET/QUIT, UIDL.
#include "mail_session.h"

#include <CppUTest/TestHarness.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static const std::string MSG1 = "From: bob@example.test\r\nSubject: one\r\n\r\nHello Alice\r\n";
static const std::string MSG2 = "From: bob@example.test\r\nSubject: dots\r\n\r\n.hidden line\r\n..two dots\r\n.\r\n"
                                "line 4\r\nline 5\r\n";
static const std::string MSG3 = "Subject: three\r\n\r\nthird\r\n";

TEST_GROUP_BASE(Pop3, MailSessionTest)
{
    void setup() override
    {
        open(ism_proto_pop3, {&MSG1, &MSG2, &MSG3});
    }
    void login()
    {
        take();
        STRCMP_CONTAINS("+OK", reply(std::string("USER ") + USER).c_str());
        std::string r = reply(std::string("PASS ") + PASS);
        CHECK_TEXT(r.rfind("+OK", 0) == 0, r.c_str());
    }
    size_t stored()
    {
        ism_msg_info *v;
        size_t n;
        LONGS_EQUAL_TEXT(0, ism_mail_list(m, USER, &v, &n, &err), err.msg);
        free(v);
        return n;
    }
};

TEST(Pop3, Greets)
{
    STRCMP_EQUAL("+OK mail.example.test ISMail POP3 server ready\r\n", take().c_str());
}

TEST(Pop3, CapaOffersStlsOnlyWhenAllowed)
{
    take();
    std::string r = reply("CAPA");
    STRCMP_CONTAINS("+OK", r.c_str());
    STRCMP_CONTAINS("\r\nUSER\r\n", r.c_str());
    STRCMP_CONTAINS("\r\nSASL PLAIN\r\n", r.c_str());
    STRCMP_CONTAINS("\r\nUIDL\r\n", r.c_str());
    CHECK(r.find("STLS") == std::string::npos);
    CHECK(r.size() >= 5 && r.compare(r.size() - 5, 5, "\r\n.\r\n") == 0);
    env.starttls_offered = 1;
    STRCMP_CONTAINS("\r\nSTLS\r\n", reply("capa").c_str());
    env.starttls_offered = 0;
    STRCMP_CONTAINS("-ERR STLS is not offered", reply("STLS").c_str());
}

TEST(Pop3, CredentialsRefusedInPlaintextWhenTlsIsRequired)
{
    take();
    env.starttls_offered = 1;
    env.tls_required_for_auth = 1;
    std::string r = reply("CAPA");
    CHECK(r.find("USER") == std::string::npos);
    CHECK(r.find("SASL") == std::string::npos);
    STRCMP_CONTAINS("STLS", r.c_str());
    STRCMP_CONTAINS("-ERR [AUTH] Plaintext authentication is disabled", reply(std::string("USER ") + USER).c_str());
    STRCMP_CONTAINS("-ERR [AUTH]", reply(std::string("PASS ") + PASS).c_str());
    STRCMP_CONTAINS("-ERR [AUTH]", reply("AUTH PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + PASS)).c_str());
    STRCMP_CONTAINS("-ERR", reply("STAT").c_str());

    LONGS_EQUAL(ISM_PROTO_STARTTLS, cmd("STLS"));
    STRCMP_EQUAL("+OK Begin TLS negotiation\r\n", take().c_str());
    env.tls_active = 1;
    env.starttls_offered = 0;
    ism_proto_pop3.tls_started(st, &env);
    LONGS_EQUAL(0, out.len); // no new greeting after STLS (RFC 2595 4)
    r = reply("CAPA");
    STRCMP_CONTAINS("\r\nUSER\r\n", r.c_str());
    CHECK(r.find("STLS") == std::string::npos);
    STRCMP_CONTAINS("-ERR TLS is already active", reply("STLS").c_str());
    login();
}

TEST(Pop3, StlsForgetsWhatWasSaidInPlaintext)
{
    take();
    env.starttls_offered = 1;
    STRCMP_CONTAINS("+OK", reply(std::string("USER ") + USER).c_str());
    LONGS_EQUAL(ISM_PROTO_STARTTLS, cmd("STLS"));
    take();
    env.tls_active = 1;
    env.starttls_offered = 0;
    ism_proto_pop3.tls_started(st, &env);
    STRCMP_CONTAINS("-ERR Send USER first", reply(std::string("PASS ") + PASS).c_str());
}

TEST(Pop3, StlsTakesNoArguments)
{
    take();
    env.starttls_offered = 1;
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("STLS now"));
    STRCMP_CONTAINS("-ERR", take().c_str());
}

TEST(Pop3, UserPassWrongThenRight)
{
    take();
    reply(std::string("USER ") + USER);
    STRCMP_EQUAL("-ERR [AUTH] Wrong user name or password\r\n", reply("PASS wrong password").c_str());
    STRCMP_CONTAINS("-ERR Send USER first", reply(std::string("PASS ") + PASS).c_str());
    reply("USER nobody@example.test");
    STRCMP_CONTAINS("-ERR [AUTH]", reply(std::string("PASS ") + PASS).c_str());
    login();
    STRCMP_EQUAL(("+OK 3 " + std::to_string(MSG1.size() + MSG2.size() + MSG3.size()) + "\r\n").c_str(),
                 reply("STAT").c_str());
    STRCMP_CONTAINS("-ERR Already logged in", reply("USER x").c_str());
}

TEST(Pop3, UserNameIsCaseInsensitive)
{
    take();
    reply("USER Alice@EXAMPLE.test");
    STRCMP_CONTAINS("+OK Logged in as alice@example.test", reply(std::string("PASS ") + PASS).c_str());
}

TEST(Pop3, ThreeWrongPasswordsClose)
{
    take();
    for (int i = 0; i < 2; i++) {
        reply(std::string("USER ") + USER);
        LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("PASS nope-nope"));
        take();
    }
    reply(std::string("USER ") + USER);
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("PASS nope-nope"));
    STRCMP_CONTAINS("-ERR [AUTH]", take().c_str());
}

TEST(Pop3, AuthPlainWithInitialResponse)
{
    take();
    std::string r = reply("AUTH PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + PASS));
    STRCMP_CONTAINS("+OK Logged in as alice@example.test", r.c_str());
}

TEST(Pop3, AuthPlainWithContinuation)
{
    take();
    STRCMP_EQUAL("+ \r\n", reply("AUTH PLAIN").c_str());
    // The response line is not a command: "STAT" here would be base64.
    STRCMP_CONTAINS("+OK Logged in", reply(ism_test_b64(std::string(USER) + '\0' + USER + '\0' + PASS)).c_str());
}

TEST(Pop3, AuthPlainCanceledMalformedAndWrong)
{
    take();
    reply("AUTH PLAIN");
    STRCMP_EQUAL("-ERR Authentication canceled\r\n", reply("*").c_str());
    reply("AUTH PLAIN");
    STRCMP_CONTAINS("-ERR Malformed AUTH PLAIN", reply("not base64!").c_str());
    STRCMP_CONTAINS("-ERR [AUTH] Wrong", reply("AUTH PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + "bad")).c_str());
    // Another authorization identity than the login's own is not supported.
    STRCMP_CONTAINS("-ERR Malformed",
                    reply("AUTH PLAIN " + ism_test_b64(std::string("bob@example.test\0", 17) + USER + '\0' + PASS)).c_str());
    STRCMP_CONTAINS("-ERR Unsupported authentication mechanism", reply("AUTH CRAM-MD5").c_str());
    STRCMP_CONTAINS("PLAIN", reply("AUTH").c_str());
}

TEST(Pop3, TransactionCommandsNeedLogin)
{
    take();
    STRCMP_CONTAINS("-ERR Log in first", reply("STAT").c_str());
    STRCMP_CONTAINS("-ERR Log in first", reply("RETR 1").c_str());
    STRCMP_CONTAINS("-ERR Unknown command", reply("HELO").c_str());
    STRCMP_CONTAINS("-ERR Unknown command", reply("STATX").c_str());
}

TEST(Pop3, ListAndUidl)
{
    login();
    std::string r = reply("LIST");
    std::string want = "+OK 3 messages (" + std::to_string(MSG1.size() + MSG2.size() + MSG3.size()) + " octets)\r\n" +
                       "1 " + std::to_string(MSG1.size()) + "\r\n2 " + std::to_string(MSG2.size()) + "\r\n3 " +
                       std::to_string(MSG3.size()) + "\r\n.\r\n";
    STRCMP_EQUAL(want.c_str(), r.c_str());
    STRCMP_EQUAL(("+OK 2 " + std::to_string(MSG2.size()) + "\r\n").c_str(), reply("LIST 2").c_str());
    STRCMP_CONTAINS("-ERR No such message", reply("LIST 4").c_str());
    STRCMP_CONTAINS("-ERR No such message", reply("LIST 0").c_str());
    STRCMP_CONTAINS("-ERR A message number", reply("LIST x").c_str());
    STRCMP_CONTAINS("-ERR A message number", reply("LIST -1").c_str());

    std::string uidl = reply("UIDL");
    STRCMP_CONTAINS("+OK", uidl.c_str());
    std::string one = reply("UIDL 2");
    CHECK(one.rfind("+OK 2 ", 0) == 0);
    STRCMP_CONTAINS(("\r\n2 " + one.substr(6)).c_str(), uidl.c_str());

    // Another session sees the same unique ids, even after a removal.
    reply("DELE 1");
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("QUIT"));
    stop();
    start();
    login();
    STRCMP_EQUAL(("+OK 1 " + one.substr(6)).c_str(), reply("UIDL 1").c_str());
}

TEST(Pop3, RetrDotStuffs)
{
    login();
    std::string r = reply("RETR 2");
    std::string want = "+OK " + std::to_string(MSG2.size()) + " octets\r\n" +
                       "From: bob@example.test\r\nSubject: dots\r\n\r\n..hidden line\r\n...two dots\r\n..\r\n"
                       "line 4\r\nline 5\r\n.\r\n";
    STRCMP_EQUAL(want.c_str(), r.c_str());
    r = reply("RETR 1");
    STRCMP_EQUAL(("+OK " + std::to_string(MSG1.size()) + " octets\r\n" + MSG1 + ".\r\n").c_str(), r.c_str());
    STRCMP_CONTAINS("-ERR RETR needs", reply("RETR").c_str());
}

TEST(Pop3, TopSendsTheHeaderAndSomeLines)
{
    login();
    STRCMP_EQUAL("+OK Top of message 2 follows\r\nFrom: bob@example.test\r\nSubject: dots\r\n\r\n.\r\n",
                 reply("TOP 2 0").c_str());
    STRCMP_EQUAL("+OK Top of message 2 follows\r\nFrom: bob@example.test\r\nSubject: dots\r\n\r\n"
                 "..hidden line\r\n...two dots\r\n.\r\n",
                 reply("TOP 2 2").c_str());
    STRCMP_CONTAINS("line 5\r\n.\r\n", reply("TOP 2 100").c_str());
    STRCMP_CONTAINS("-ERR TOP needs", reply("TOP 2").c_str());
    STRCMP_CONTAINS("-ERR TOP: the number of lines", reply("TOP 2 x").c_str());
}

TEST(Pop3, DeleAndQuitRemove)
{
    login();
    STRCMP_EQUAL("+OK Message 1 deleted\r\n", reply("DELE 1").c_str());
    STRCMP_CONTAINS("-ERR Message 1 is deleted", reply("DELE 1").c_str());
    STRCMP_CONTAINS("-ERR Message 1 is deleted", reply("RETR 1").c_str());
    STRCMP_EQUAL(("+OK 2 " + std::to_string(MSG2.size() + MSG3.size()) + "\r\n").c_str(), reply("STAT").c_str());
    CHECK(reply("LIST").find("\r\n1 ") == std::string::npos);
    LONGS_EQUAL(3, stored()); // nothing is removed before QUIT
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("QUIT"));
    STRCMP_CONTAINS("+OK", take().c_str());
    LONGS_EQUAL(2, stored());
}

TEST(Pop3, RsetUndoesDele)
{
    login();
    reply("DELE 1");
    reply("DELE 3");
    STRCMP_CONTAINS("+OK Maildrop has 3 messages", reply("RSET").c_str());
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("QUIT"));
    take();
    LONGS_EQUAL(3, stored());
}

TEST(Pop3, EndWithoutQuitRemovesNothing)
{
    login();
    reply("DELE 1");
    stop();
    LONGS_EQUAL(3, stored());
}

TEST(Pop3, QuitBeforeLoginCloses)
{
    take();
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("QUIT"));
    STRCMP_CONTAINS("+OK", take().c_str());
}

TEST(Pop3, MaildropIsASnapshot)
{
    login();
    LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, MSG1.data(), MSG1.size(), &err), err.msg);
    STRCMP_CONTAINS("+OK 3 ", reply("STAT").c_str());
    STRCMP_CONTAINS("-ERR No such message", reply("RETR 4").c_str());
}

TEST(Pop3, RetrMarksTheMessageSeen)
{
    login();
    reply("RETR 1");
    reply("TOP 2 0");
    ism_msg_info *v;
    size_t n;
    LONGS_EQUAL_TEXT(0, ism_mail_list(m, USER, &v, &n, &err), err.msg);
    CHECK(v[0].flags & ISM_FLAG_SEEN);
    CHECK(!(v[1].flags & ISM_FLAG_SEEN));
    free(v);
}

TEST(Pop3, LinesLongerThanTheCommandLimitAreRefused)
{
    take();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("USER " + std::string(300, 'a')));
    STRCMP_CONTAINS("-ERR Command line too long (at most 253 characters)", take().c_str());
    ism_proto_pop3.too_long(st, &env, &out);
    STRCMP_CONTAINS("-ERR Command line too long", take().c_str());
    LONGS_EQUAL(255, std::string("USER " + std::string(248, 'a')).size() + 2);
    STRCMP_CONTAINS("+OK", reply("USER " + std::string(248, 'a')).c_str());
}

TEST(Pop3, StoreUnavailable)
{
    env.mail = nullptr;
    take();
    reply(std::string("USER ") + USER);
    STRCMP_CONTAINS("-ERR [SYS/TEMP]", reply(std::string("PASS ") + PASS).c_str());
}

// RETR of a large message is sent a piece at a time (ISM_PROTO_MORE), dot
// stuffing kept across the pieces.
TEST(Pop3, LargeRetrIsSentInPieces)
{
    std::string body;
    for (int i = 0; i < 8000; i++)
        body += (i % 7 == 0 ? ".dotted line " : "line ") + std::to_string(i) + "\r\n";
    std::string big = "Subject: big\r\n\r\n" + body;
    LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, big.data(), big.size(), &err), err.msg);
    login();
    std::string line = "RETR 4", whole;
    ism_proto_action a = proto->line(st, &env, line.data(), line.size(), &out);
    int pieces = 0;
    while (a == ISM_PROTO_MORE) {
        CHECK(out.len < ISM_PROTO_OUT_PIECE + 200);
        whole += take();
        pieces++;
        a = proto->more(st, &env, &out);
    }
    LONGS_EQUAL(ISM_PROTO_CONTINUE, a);
    whole += take();
    CHECK(pieces >= 1);
    STRCMP_CONTAINS("\r\n..dotted line 7\r\n", whole.c_str());
    CHECK(whole.size() > big.size());
    CHECK(whole.compare(whole.size() - 5, 5, "\r\n.\r\n") == 0);
    STRCMP_EQUAL(whole.c_str(), reply(line).c_str());
}
