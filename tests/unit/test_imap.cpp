// The IMAP session state machine against a real mail store: CAPABILITY,
// STARTTLS and LOGINDISABLED, LOGIN (atoms, quoted strings, literals),
// AUTHENTICATE PLAIN, LIST, SELECT/EXAMINE, FETCH and UID FETCH with sequence
// sets, \Seen set by BODY[] and not by BODY.PEEK[], STORE, EXPUNGE, SEARCH,
// NOOP reporting changes made elsewhere.
#include "mail_session.h"

#include <CppUTest/TestHarness.h>
#include <cstdlib>
#include <cstring>
#include <string>

static const std::string MSG1 = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: one\r\n"
                                " folded\r\n\r\nHello Alice\r\n";
static const std::string MSG2 = "Subject: two\r\n\r\nsecond message\r\n.with a dot\r\n";
static const std::string MSG3 = "Subject: three\r\nX-Big: yes\r\n\r\n" + std::string(1000, 'x') + "\r\n";

TEST_GROUP_BASE(Imap, MailSessionTest)
{
    void setup() override
    {
        open(ism_proto_imap, {&MSG1, &MSG2, &MSG3});
    }
    void login()
    {
        take();
        std::string r = reply(std::string("a1 LOGIN ") + USER + " \"" + PASS + "\"");
        CHECK_TEXT(r.rfind("a1 OK", 0) == 0, r.c_str());
    }
    void select()
    {
        login();
        std::string r = reply("s1 SELECT INBOX");
        STRCMP_CONTAINS("s1 OK [READ-WRITE]", r.c_str());
    }
    ism_msg_info info(size_t i)
    {
        ism_msg_info *v, r = {};
        size_t n;
        LONGS_EQUAL_TEXT(0, ism_mail_list(m, USER, &v, &n, &err), err.msg);
        if (i < n)
            r = v[i];
        free(v);
        return r;
    }
    size_t stored()
    {
        ism_msg_info *v;
        size_t n;
        LONGS_EQUAL_TEXT(0, ism_mail_list(m, USER, &v, &n, &err), err.msg);
        free(v);
        return n;
    }
    // The bytes of the first literal after marker in r.
    static std::string literal_after(const std::string &r, const std::string &marker)
    {
        size_t at = r.find(marker);
        if (at == std::string::npos)
            return "<no " + marker + ">";
        size_t brace = r.find('{', at), close = r.find("}\r\n", brace);
        if (brace == std::string::npos || close == std::string::npos)
            return "<no literal>";
        size_t n = strtoul(r.c_str() + brace + 1, nullptr, 10);
        return r.substr(close + 3, n);
    }
};

TEST(Imap, GreetingListsCapabilities)
{
    std::string r = take();
    STRCMP_CONTAINS("* OK [CAPABILITY IMAP4rev1", r.c_str());
    STRCMP_CONTAINS("AUTH=PLAIN", r.c_str());
    STRCMP_CONTAINS("mail.example.test ISMail IMAP4rev1 server ready\r\n", r.c_str());
    CHECK(r.find("STARTTLS") == std::string::npos);
    CHECK(r.find("LOGINDISABLED") == std::string::npos);
}

TEST(Imap, CapabilityOffersStartTlsOnlyWhenAllowed)
{
    take();
    std::string r = reply("c1 CAPABILITY");
    STRCMP_CONTAINS("* CAPABILITY IMAP4rev1", r.c_str());
    STRCMP_CONTAINS("c1 OK CAPABILITY completed\r\n", r.c_str());
    CHECK(r.find("STARTTLS") == std::string::npos);
    STRCMP_CONTAINS("c2 NO STARTTLS is not offered", reply("c2 STARTTLS").c_str());
    env.starttls_offered = 1;
    STRCMP_CONTAINS(" STARTTLS", reply("c3 capability").c_str());
}

TEST(Imap, LoginDisabledBeforeTlsWhenRequired)
{
    stop();
    take();
    env.starttls_offered = 1;
    env.tls_required_for_auth = 1;
    start();
    std::string r = take();
    STRCMP_CONTAINS("LOGINDISABLED", r.c_str());
    CHECK(r.find("AUTH=PLAIN") == std::string::npos);
    r = reply("c1 CAPABILITY");
    STRCMP_CONTAINS("STARTTLS", r.c_str());
    STRCMP_CONTAINS("LOGINDISABLED", r.c_str());
    STRCMP_CONTAINS("a1 NO [PRIVACYREQUIRED]", reply(std::string("a1 LOGIN ") + USER + " \"" + PASS + "\"").c_str());
    STRCMP_CONTAINS("a2 NO [PRIVACYREQUIRED]",
                    reply("a2 AUTHENTICATE PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + PASS)).c_str());
    STRCMP_CONTAINS("a3 BAD Log in first", reply("a3 SELECT INBOX").c_str());

    LONGS_EQUAL(ISM_PROTO_STARTTLS, cmd("t1 STARTTLS"));
    STRCMP_EQUAL("t1 OK Begin TLS negotiation now\r\n", take().c_str());
    env.tls_active = 1;
    env.starttls_offered = 0;
    ism_proto_imap.tls_started(st, &env);
    LONGS_EQUAL(0, out.len); // no new greeting after STARTTLS
    r = reply("c2 CAPABILITY");
    STRCMP_CONTAINS("AUTH=PLAIN", r.c_str());
    CHECK(r.find("STARTTLS") == std::string::npos);
    CHECK(r.find("LOGINDISABLED") == std::string::npos);
    STRCMP_CONTAINS("t2 NO TLS is already active", reply("t2 STARTTLS").c_str());
    login();
}

TEST(Imap, StartTlsDiscardsAHalfSentCommand)
{
    take();
    env.starttls_offered = 1;
    // A LOGIN waiting for its literal, then STARTTLS is impossible in one
    // stream, but a reset must leave nothing of plaintext behind anyway.
    STRCMP_EQUAL("+ Ready for literal data\r\n", reply("a1 LOGIN {18}").c_str());
    ism_proto_imap.tls_started(st, &env);
    env.tls_active = 1;
    STRCMP_CONTAINS("a2 OK", reply(std::string("a2 LOGIN ") + USER + " \"" + PASS + "\"").c_str());
}

TEST(Imap, StartTlsAfterLoginIsRefused)
{
    env.starttls_offered = 1;
    login();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, cmd("t1 STARTTLS"));
    STRCMP_CONTAINS("t1 BAD Already logged in", take().c_str());
}

TEST(Imap, LoginWrongThenRight)
{
    take();
    STRCMP_EQUAL("a1 NO [AUTHENTICATIONFAILED] Wrong user name or password\r\n",
                 reply(std::string("a1 LOGIN ") + USER + " wrongpassword").c_str());
    STRCMP_CONTAINS("a2 BAD LOGIN needs", reply("a2 LOGIN onlyuser").c_str());
    STRCMP_CONTAINS("a3 BAD Log in first", reply("a3 FETCH 1 FLAGS").c_str());
    std::string r = reply("a4 LOGIN \"Alice@Example.test\" \"correct horse\"");
    STRCMP_CONTAINS("a4 OK [CAPABILITY IMAP4rev1", r.c_str());
    STRCMP_CONTAINS("Logged in as alice@example.test", r.c_str());
    STRCMP_CONTAINS("a5 BAD Already logged in", reply("a5 LOGIN x y").c_str());
}

TEST(Imap, LoginWithQuotedEscapes)
{
    LONGS_EQUAL_TEXT(0, ism_mail_user_passwd(m, USER, "pa\"ss\\word", &err), err.msg);
    take();
    STRCMP_CONTAINS("a1 OK", reply(std::string("a1 LOGIN ") + USER + " \"pa\\\"ss\\\\word\"").c_str());
}

TEST(Imap, LoginWithLiterals)
{
    take();
    STRCMP_EQUAL("+ Ready for literal data\r\n", reply("a1 LOGIN {18}").c_str());
    STRCMP_EQUAL("+ Ready for literal data\r\n", reply(std::string(USER) + " {13}").c_str());
    STRCMP_CONTAINS("a1 OK", reply(PASS).c_str());
}

TEST(Imap, LiteralsRefusedWhereNotUseful)
{
    take();
    STRCMP_CONTAINS("a1 BAD Literal too large", reply("a1 LOGIN {100000}").c_str());
    STRCMP_CONTAINS("a2 BAD Non-synchronizing", reply("a2 LOGIN {18+}").c_str());
    STRCMP_CONTAINS("a3 BAD Literals are not accepted", reply("a3 NOOP {5}").c_str());
    login();
    STRCMP_CONTAINS("a4 NO [CANNOT] APPEND", reply("a4 APPEND INBOX {300}").c_str());
}

TEST(Imap, AuthenticatePlainWithContinuation)
{
    take();
    STRCMP_EQUAL("+ \r\n", reply("a1 AUTHENTICATE PLAIN").c_str());
    std::string r = reply(ism_test_b64(std::string("\0", 1) + USER + '\0' + PASS));
    STRCMP_CONTAINS("a1 OK [CAPABILITY", r.c_str());
}

TEST(Imap, AuthenticatePlainWithInitialResponse)
{
    take();
    STRCMP_CONTAINS("a1 NO [AUTHENTICATIONFAILED]",
                    reply("a1 AUTHENTICATE PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + "nope")).c_str());
    STRCMP_CONTAINS("a2 OK", reply("a2 AUTHENTICATE PLAIN " + ism_test_b64(std::string("\0", 1) + USER + '\0' + PASS)).c_str());
}

TEST(Imap, AuthenticateCanceledAndMalformed)
{
    take();
    reply("a1 AUTHENTICATE PLAIN");
    STRCMP_EQUAL("a1 BAD Authentication canceled\r\n", reply("*").c_str());
    reply("a2 AUTHENTICATE PLAIN");
    STRCMP_CONTAINS("a2 BAD Malformed", reply("%%%").c_str());
    STRCMP_CONTAINS("a3 NO Unsupported authentication mechanism", reply("a3 AUTHENTICATE GSSAPI").c_str());
}

TEST(Imap, ThreeFailedLoginsClose)
{
    take();
    cmd("a1 LOGIN alice@example.test x1234567");
    cmd("a2 LOGIN alice@example.test x1234567");
    take();
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("a3 LOGIN alice@example.test x1234567"));
    STRCMP_CONTAINS("* BYE", take().c_str());
}

TEST(Imap, ListShowsInbox)
{
    login();
    STRCMP_EQUAL("* LIST (\\HasNoChildren) \"/\" INBOX\r\nl1 OK LIST completed\r\n", reply("l1 LIST \"\" \"*\"").c_str());
    STRCMP_EQUAL("* LIST (\\Noselect) \"/\" \"\"\r\nl2 OK LIST completed\r\n", reply("l2 LIST \"\" \"\"").c_str());
    STRCMP_EQUAL("* LIST (\\HasNoChildren) \"/\" INBOX\r\nl3 OK LIST completed\r\n", reply("l3 LIST \"\" %").c_str());
    STRCMP_EQUAL("* LIST (\\HasNoChildren) \"/\" INBOX\r\nl4 OK LIST completed\r\n", reply("l4 LIST \"\" inbox").c_str());
    STRCMP_EQUAL("l5 OK LIST completed\r\n", reply("l5 LIST \"\" Sent").c_str());
    STRCMP_CONTAINS("* LSUB () \"/\" INBOX\r\n", reply("l6 LSUB \"\" \"*\"").c_str());
    STRCMP_CONTAINS("l7 BAD LIST needs", reply("l7 LIST").c_str());
}

// LIST patterns mixing "*" and "%" (RFC 3501 6.3.8), including the
// 255-character pattern of stars that took hours with a backtracking matcher.
TEST(Imap, ListPatternsMixingWildcards)
{
    login();
    const char *match[] = {"I*X", "%N%B%", "*x", "**I**N**B**O**X**", "%", "I%%%%%%%X", "INB*"};
    const char *nomatch[] = {"I*Y", "INBOX%q", "*/", "%/%", "INBOX*/*", "X*"};
    for (const char *p : match)
        STRCMP_CONTAINS_TEXT("* LIST (\\HasNoChildren) \"/\" INBOX\r\n", reply(std::string("l LIST \"\" \"") + p + "\"").c_str(), p);
    for (const char *p : nomatch)
        STRCMP_EQUAL_TEXT("l OK LIST completed\r\n", reply(std::string("l LIST \"\" \"") + p + "\"").c_str(), p);
    std::string stars(254, '*');
    STRCMP_EQUAL("l OK LIST completed\r\n", reply("l LIST \"\" \"" + stars + "q\"").c_str());
    STRCMP_CONTAINS("INBOX", reply("l LIST \"\" \"" + stars + "X\"").c_str());
}

TEST(Imap, SelectReportsTheMailbox)
{
    login();
    uint32_t uidvalidity, uidnext;
    LONGS_EQUAL(0, ism_mail_uidvalidity(m, USER, &uidvalidity, &uidnext, &err));
    std::string r = reply("s1 SELECT INBOX");
    STRCMP_CONTAINS("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n", r.c_str());
    STRCMP_CONTAINS("* 3 EXISTS\r\n", r.c_str());
    STRCMP_CONTAINS("* 0 RECENT\r\n", r.c_str());
    STRCMP_CONTAINS("* OK [UNSEEN 1]", r.c_str());
    STRCMP_CONTAINS(("* OK [UIDVALIDITY " + std::to_string(uidvalidity) + "]").c_str(), r.c_str());
    STRCMP_CONTAINS(("* OK [UIDNEXT " + std::to_string(uidnext) + "]").c_str(), r.c_str());
    STRCMP_CONTAINS("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)]", r.c_str());
    STRCMP_CONTAINS("s1 OK [READ-WRITE] SELECT completed\r\n", r.c_str());
    r = reply("s2 EXAMINE inbox");
    STRCMP_CONTAINS("* OK [PERMANENTFLAGS ()]", r.c_str());
    STRCMP_CONTAINS("s2 OK [READ-ONLY] EXAMINE completed\r\n", r.c_str());
    STRCMP_CONTAINS("s3 NO [NONEXISTENT]", reply("s3 SELECT Trash").c_str());
    // A failed SELECT leaves no mailbox selected.
    STRCMP_CONTAINS("s4 BAD FETCH needs a selected mailbox", reply("s4 FETCH 1 FLAGS").c_str());
}

TEST(Imap, StatusOfInbox)
{
    login();
    STRCMP_EQUAL("* STATUS INBOX (MESSAGES 3 UNSEEN 3)\r\nt1 OK STATUS completed\r\n",
                 reply("t1 STATUS INBOX (messages UNSEEN)").c_str());
    STRCMP_CONTAINS("t2 NO [NONEXISTENT]", reply("t2 STATUS Sent (MESSAGES)").c_str());
    STRCMP_CONTAINS("t3 BAD", reply("t3 STATUS INBOX (BOGUS)").c_str());
}

TEST(Imap, FetchBodyMatchesTheMessageAndSetsSeen)
{
    select();
    std::string r = reply("f1 FETCH 1 BODY[]");
    STRCMP_EQUAL(MSG1.c_str(), literal_after(r, "BODY[] ").c_str());
    STRCMP_CONTAINS(("* 1 FETCH (BODY[] {" + std::to_string(MSG1.size()) + "}\r\n").c_str(), r.c_str());
    STRCMP_CONTAINS(" FLAGS (\\Seen))\r\nf1 OK FETCH completed\r\n", r.c_str());
    CHECK(info(0).flags & ISM_FLAG_SEEN);
    // Already seen: no FLAGS added any more.
    r = reply("f2 FETCH 1 BODY[]");
    CHECK(r.find("FLAGS") == std::string::npos);
}

TEST(Imap, FetchPeekDoesNotSetSeen)
{
    select();
    std::string r = reply("f1 FETCH 2 (BODY.PEEK[] FLAGS)");
    STRCMP_EQUAL(MSG2.c_str(), literal_after(r, "BODY[] ").c_str());
    STRCMP_CONTAINS(" FLAGS ())\r\n", r.c_str());
    CHECK(!(info(1).flags & ISM_FLAG_SEEN));
    r = reply("f2 FETCH 2 RFC822.HEADER");
    STRCMP_EQUAL("Subject: two\r\n\r\n", literal_after(r, "RFC822.HEADER ").c_str());
    CHECK(!(info(1).flags & ISM_FLAG_SEEN));
    r = reply("f3 FETCH 2 RFC822");
    STRCMP_EQUAL(MSG2.c_str(), literal_after(r, "RFC822 ").c_str());
    CHECK(info(1).flags & ISM_FLAG_SEEN);
}

TEST(Imap, ExamineNeverSetsSeen)
{
    login();
    reply("s1 EXAMINE INBOX");
    std::string r = reply("f1 FETCH 1 BODY[]");
    STRCMP_EQUAL(MSG1.c_str(), literal_after(r, "BODY[] ").c_str());
    CHECK(!(info(0).flags & ISM_FLAG_SEEN));
    STRCMP_CONTAINS("f2 NO [READ-ONLY]", reply("f2 STORE 1 +FLAGS (\\Seen)").c_str());
    STRCMP_CONTAINS("f3 NO [READ-ONLY]", reply("f3 EXPUNGE").c_str());
}

TEST(Imap, FetchSectionsAndPartial)
{
    select();
    std::string r = reply("f1 FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT])");
    STRCMP_EQUAL(MSG1.substr(0, MSG1.find("\r\n\r\n") + 4).c_str(), literal_after(r, "BODY[HEADER] ").c_str());
    STRCMP_EQUAL("Hello Alice\r\n", literal_after(r, "BODY[TEXT] ").c_str());
    r = reply("f2 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT from)]");
    STRCMP_CONTAINS("BODY[HEADER.FIELDS (SUBJECT from)] ", r.c_str());
    STRCMP_EQUAL("From: Bob <bob@example.test>\r\nSubject: one\r\n folded\r\n\r\n",
                 literal_after(r, "BODY[HEADER.FIELDS (SUBJECT from)] ").c_str());
    r = reply("f3 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Subject From)]");
    STRCMP_EQUAL("To: alice@example.test\r\n\r\n", literal_after(r, "] ").c_str());
    r = reply("f4 FETCH 1 BODY.PEEK[]<6.3>");
    STRCMP_CONTAINS("BODY[]<6> {3}\r\nBob)", r.c_str());
    r = reply("f5 FETCH 1 BODY.PEEK[]<100000.3>");
    STRCMP_CONTAINS("BODY[]<100000> {0}\r\n)", r.c_str());
    CHECK(!(info(0).flags & ISM_FLAG_SEEN));
}

TEST(Imap, FetchMetadata)
{
    select();
    ism_msg_info i3 = info(2);
    std::string r = reply("f1 FETCH 3 (UID RFC822.SIZE FLAGS INTERNALDATE)");
    std::string want = "* 3 FETCH (UID " + std::to_string(i3.uid) + " RFC822.SIZE " + std::to_string(MSG3.size()) +
                       " FLAGS () INTERNALDATE \"";
    STRCMP_CONTAINS(want.c_str(), r.c_str());
    STRCMP_CONTAINS(" +0000\")\r\nf1 OK FETCH completed\r\n", r.c_str());
    r = reply("f2 FETCH 1 FAST");
    STRCMP_CONTAINS("* 1 FETCH (FLAGS () INTERNALDATE \"", r.c_str());
    STRCMP_CONTAINS("f3 BAD Unsupported FETCH item", reply("f3 FETCH 1 BODYSTRUCTURE").c_str());
    STRCMP_CONTAINS("f4 BAD Unsupported FETCH item", reply("f4 FETCH 1 BODY[1]").c_str());
    STRCMP_CONTAINS("f5 BAD Malformed FETCH items", reply("f5 FETCH 1 (FLAGS").c_str());
}

TEST(Imap, SequenceSets)
{
    select();
    auto fetched = [&](const std::string &set) {
        std::string r = reply("f FETCH " + set + " FLAGS"), nums;
        for (size_t at = r.find("* "); at != std::string::npos; at = r.find("* ", at + 1))
            nums += r.substr(at + 2, r.find(' ', at + 2) - at - 2) + ",";
        return nums;
    };
    STRCMP_EQUAL("1,2,3,", fetched("1:*").c_str());
    STRCMP_EQUAL("2,", fetched("2").c_str());
    STRCMP_EQUAL("1,3,", fetched("1,3").c_str());
    STRCMP_EQUAL("2,3,", fetched("2:*").c_str());
    STRCMP_EQUAL("1,2,", fetched("2:1").c_str());
    STRCMP_EQUAL("3,", fetched("*").c_str());
    STRCMP_EQUAL("1,2,3,", fetched("3,1:2,2").c_str());
    STRCMP_CONTAINS("f BAD No such message", reply("f FETCH 4 FLAGS").c_str());
    STRCMP_CONTAINS("f BAD Malformed message set", reply("f FETCH 0 FLAGS").c_str());
    STRCMP_CONTAINS("f BAD Malformed message set", reply("f FETCH 1: FLAGS").c_str());
    STRCMP_CONTAINS("f BAD Malformed message set", reply("f FETCH 1,,2 FLAGS").c_str());
    STRCMP_CONTAINS("f BAD Malformed message set", reply("f FETCH x FLAGS").c_str());
}

TEST(Imap, UidFetch)
{
    select();
    ism_msg_info i1 = info(0), i2 = info(1), i3 = info(2);
    std::string r = reply("u1 UID FETCH 1:* (FLAGS)");
    STRCMP_CONTAINS(("* 1 FETCH (UID " + std::to_string(i1.uid) + " FLAGS ())\r\n").c_str(), r.c_str());
    STRCMP_CONTAINS(("* 2 FETCH (UID " + std::to_string(i2.uid) + " FLAGS ())\r\n").c_str(), r.c_str());
    STRCMP_CONTAINS(("* 3 FETCH (UID " + std::to_string(i3.uid) + " FLAGS ())\r\n").c_str(), r.c_str());
    STRCMP_CONTAINS("u1 OK UID FETCH completed\r\n", r.c_str());
    r = reply("u2 UID FETCH " + std::to_string(i2.uid) + " BODY.PEEK[]");
    STRCMP_EQUAL(MSG2.c_str(), literal_after(r, "BODY[] ").c_str());
    CHECK(r.find("* 1 FETCH") == std::string::npos);
    // UIDs that do not exist are no error, and n:* always includes the last.
    STRCMP_EQUAL("u3 OK UID FETCH completed\r\n", reply("u3 UID FETCH 9999 FLAGS").c_str());
    r = reply("u4 UID FETCH 9999:* FLAGS");
    STRCMP_CONTAINS("* 3 FETCH (UID", r.c_str());
    CHECK(r.find("* 2 FETCH") == std::string::npos);
}

TEST(Imap, StoreFlags)
{
    select();
    STRCMP_EQUAL("* 1 FETCH (FLAGS (\\Flagged \\Seen))\r\ns1 OK STORE completed\r\n",
                 reply("s1 STORE 1 +FLAGS (\\Seen \\Flagged)").c_str());
    LONGS_EQUAL(ISM_FLAG_SEEN | ISM_FLAG_FLAGGED, info(0).flags);
    STRCMP_EQUAL("* 1 FETCH (FLAGS (\\Flagged))\r\ns2 OK STORE completed\r\n",
                 reply("s2 STORE 1 -FLAGS \\Seen").c_str());
    STRCMP_EQUAL("s3 OK STORE completed\r\n", reply("s3 STORE 1:2 FLAGS.SILENT (\\Answered $Forwarded)").c_str());
    LONGS_EQUAL(ISM_FLAG_ANSWERED, info(0).flags);
    LONGS_EQUAL(ISM_FLAG_ANSWERED, info(1).flags);
    std::string r = reply("s4 UID STORE " + std::to_string(info(2).uid) + " +FLAGS.SILENT (\\Draft)");
    STRCMP_EQUAL(("* 3 FETCH (UID " + std::to_string(info(2).uid) + ")\r\ns4 OK UID STORE completed\r\n").c_str(),
                 r.c_str());
    STRCMP_CONTAINS("s5 BAD Malformed flag list", reply("s5 STORE 1 +FLAGS (\\Bogus)").c_str());
    STRCMP_CONTAINS("s6 BAD STORE items", reply("s6 STORE 1 LABELS (x)").c_str());
}

TEST(Imap, ExpungeRemovesDeleted)
{
    select();
    reply("s1 STORE 1 +FLAGS.SILENT (\\Deleted)");
    reply("s2 STORE 3 +FLAGS.SILENT (\\Deleted)");
    LONGS_EQUAL(3, stored());
    // Numbers are as they are after the previous EXPUNGE responses.
    STRCMP_EQUAL("* 1 EXPUNGE\r\n* 2 EXPUNGE\r\ne1 OK EXPUNGE completed\r\n", reply("e1 EXPUNGE").c_str());
    LONGS_EQUAL(1, stored());
    std::string r = reply("f1 FETCH 1:* BODY.PEEK[]");
    STRCMP_EQUAL(MSG2.c_str(), literal_after(r, "BODY[] ").c_str());
    STRCMP_CONTAINS("f2 BAD No such message", reply("f2 FETCH 2 FLAGS").c_str());
}

TEST(Imap, CloseExpungesSilentlyUnselectDoesNot)
{
    select();
    reply("s1 STORE 1 +FLAGS.SILENT (\\Deleted)");
    STRCMP_EQUAL("u1 OK UNSELECT completed\r\n", reply("u1 UNSELECT").c_str());
    LONGS_EQUAL(3, stored());
    reply("s2 SELECT INBOX");
    STRCMP_EQUAL("c1 OK CLOSE completed\r\n", reply("c1 CLOSE").c_str());
    LONGS_EQUAL(2, stored());
    STRCMP_CONTAINS("c2 BAD CLOSE needs a selected mailbox", reply("c2 CLOSE").c_str());
}

TEST(Imap, NoopReportsChangesMadeElsewhere)
{
    select();
    uint32_t first = info(0).uid;
    LONGS_EQUAL_TEXT(0, ism_mail_set_flags(m, USER, info(2).uid, ISM_FLAG_FLAGGED, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_mail_remove(m, USER, &first, 1, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, MSG1.data(), MSG1.size(), &err), err.msg);
    std::string r = reply("n1 NOOP");
    STRCMP_EQUAL("* 1 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Flagged))\r\n* 3 EXISTS\r\nn1 OK NOOP completed\r\n", r.c_str());
    r = reply("f1 FETCH 3 BODY.PEEK[]");
    STRCMP_EQUAL(MSG1.c_str(), literal_after(r, "BODY[] ").c_str());
    STRCMP_EQUAL("n2 OK CHECK completed\r\n", reply("n2 CHECK").c_str());
}

TEST(Imap, Search)
{
    select();
    reply("s1 STORE 2 +FLAGS.SILENT (\\Seen)");
    STRCMP_EQUAL("* SEARCH 1 3\r\nq1 OK SEARCH completed\r\n", reply("q1 SEARCH UNSEEN").c_str());
    STRCMP_EQUAL("* SEARCH 2\r\nq2 OK SEARCH completed\r\n", reply("q2 SEARCH SEEN").c_str());
    STRCMP_EQUAL("* SEARCH 1 2 3\r\nq3 OK SEARCH completed\r\n", reply("q3 SEARCH ALL").c_str());
    STRCMP_EQUAL("* SEARCH 3\r\nq4 OK SEARCH completed\r\n", reply("q4 SEARCH LARGER 500").c_str());
    STRCMP_EQUAL("* SEARCH 1 2\r\nq5 OK SEARCH completed\r\n", reply("q5 SEARCH OR SEEN 1").c_str());
    STRCMP_EQUAL("* SEARCH 2 3\r\nq6 OK SEARCH completed\r\n", reply("q6 SEARCH NOT 1").c_str());
    STRCMP_EQUAL("* SEARCH 3\r\nq7 OK SEARCH completed\r\n", reply("q7 SEARCH CHARSET UTF-8 (UNSEEN 2:3)").c_str());
    std::string r = reply("q8 UID SEARCH UNSEEN");
    STRCMP_EQUAL(("* SEARCH " + std::to_string(info(0).uid) + " " + std::to_string(info(2).uid) +
                  "\r\nq8 OK UID SEARCH completed\r\n").c_str(),
                 r.c_str());
    STRCMP_CONTAINS("q9 BAD Unsupported or malformed search key", reply("q9 SEARCH FROM bob").c_str());
    STRCMP_CONTAINS("q10 NO [BADCHARSET", reply("q10 SEARCH CHARSET KOI8-R ALL").c_str());
}

TEST(Imap, LogoutSaysBye)
{
    login();
    LONGS_EQUAL(ISM_PROTO_CLOSE, cmd("z LOGOUT"));
    STRCMP_EQUAL("* BYE mail.example.test ISMail IMAP4rev1 server logging out\r\nz OK LOGOUT completed\r\n",
                 take().c_str());
}

TEST(Imap, SyntaxErrorsAreBad)
{
    take();
    STRCMP_EQUAL("* BAD Empty command line\r\n", reply("").c_str());
    STRCMP_CONTAINS("* BAD Malformed command", reply("NOOP").c_str());
    STRCMP_CONTAINS("* BAD Malformed command", reply("+ NOOP").c_str());
    STRCMP_CONTAINS("x1 BAD Unknown command FROB", reply("x1 FROB").c_str());
    STRCMP_CONTAINS("x2 BAD Unknown command", reply("x2 NOOP2").c_str());
    STRCMP_EQUAL("x3 OK NOOP completed\r\n", reply("x3 noop").c_str());
    STRCMP_CONTAINS("x4 BAD UID must be followed", reply("x4 UID EXPUNGE 1").c_str());
    ism_proto_imap.too_long(st, &env, &out);
    STRCMP_CONTAINS("* BAD Command line too long", take().c_str());
    login();
    STRCMP_CONTAINS("x5 NO [CANNOT] CREATE", reply("x5 CREATE Sent").c_str());
    STRCMP_CONTAINS("x6 BAD EXPUNGE needs a selected mailbox", reply("x6 EXPUNGE").c_str());
}

TEST(Imap, Envelope)
{
    const std::string msg = "From: \"Smith, J\" <j@x.test>\r\nTo: undisclosed-recipients:;\r\n"
                            "Cc: a@x.test (Comment), <b@x.test>,\r\n\tC <@route.test:c@x.test>\r\n"
                            "Subject: caf\xc3\xa9\r\nMessage-ID: <1@x>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n"
                            "Reply-To: \r\n\r\nbody\r\n";
    LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, msg.data(), msg.size(), &err), err.msg);
    select();
    std::string r = reply("e1 FETCH 1 ENVELOPE");
    STRCMP_EQUAL("* 1 FETCH (ENVELOPE (NIL \"one folded\" ((\"Bob\" NIL \"bob\" \"example.test\")) "
                 "((\"Bob\" NIL \"bob\" \"example.test\")) ((\"Bob\" NIL \"bob\" \"example.test\")) "
                 "((NIL NIL \"alice\" \"example.test\")) NIL NIL NIL NIL))\r\ne1 OK FETCH completed\r\n",
                 r.c_str());
    r = reply("e2 FETCH 4 ENVELOPE");
    STRCMP_EQUAL("* 4 FETCH (ENVELOPE (\"Mon, 2 Jan 2023 10:00:00 +0000\" {5}\r\ncaf\xc3\xa9 "
                 "((\"Smith, J\" NIL \"j\" \"x.test\")) ((\"Smith, J\" NIL \"j\" \"x.test\")) "
                 "((\"Smith, J\" NIL \"j\" \"x.test\")) "
                 "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
                 "((NIL NIL \"a\" \"x.test\")(NIL NIL \"b\" \"x.test\")(\"C\" \"@route.test\" \"c\" \"x.test\")) "
                 "NIL NIL \"<1@x>\"))\r\ne2 OK FETCH completed\r\n",
                 r.c_str());
    r = reply("e3 FETCH 4 ALL");
    STRCMP_CONTAINS("* 4 FETCH (FLAGS () INTERNALDATE \"", r.c_str());
    STRCMP_CONTAINS(" ENVELOPE (\"Mon, 2 Jan", r.c_str());
    CHECK(!(info(3).flags & ISM_FLAG_SEEN));
}

// A FETCH of many messages is answered a piece at a time (ISM_PROTO_MORE):
// a client that pipelines FETCH 1:* and never reads holds one piece of
// output, not the whole mailbox.
TEST(Imap, LargeFetchIsAnsweredInPieces)
{
    std::string big = "Subject: big\r\n\r\n" + std::string(20000, 'b') + "\r\n";
    for (int i = 0; i < 40; i++)
        LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, big.data(), big.size(), &err), err.msg);
    select();
    take();
    std::string whole;
    std::string line = "f1 FETCH 1:* BODY.PEEK[]";
    ism_proto_action a = proto->line(st, &env, line.data(), line.size(), &out);
    int pieces = 0;
    while (a == ISM_PROTO_MORE) {
        CHECK_TEXT(out.len < ISM_PROTO_OUT_PIECE + 2 * big.size(), "a piece is about ISM_PROTO_OUT_PIECE");
        whole += take();
        pieces++;
        a = proto->more(st, &env, &out);
    }
    LONGS_EQUAL(ISM_PROTO_CONTINUE, a);
    whole += take();
    CHECK(pieces >= 5); // 860 KB in pieces of about 64 KB
    STRCMP_CONTAINS("* 43 FETCH (BODY[] {", whole.c_str());
    STRCMP_CONTAINS("f1 OK FETCH completed\r\n", whole.c_str());
    // The same answer as in one go.
    STRCMP_EQUAL(whole.c_str(), reply(line).c_str());
}
