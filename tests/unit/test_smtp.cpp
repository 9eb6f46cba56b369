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
    ism_buf out = {};
    void setup() override
    {
        memset(&s, 0, sizeof s);
        memset(&env, 0, sizeof env);
        env.hostname = "mail.example.test";
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
        return ism_proto_smtp.line(&s, &env, line, strlen(line), &out);
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
