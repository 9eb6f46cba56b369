// The fixture the POP3 and IMAP unit tests share (TEST_GROUP_BASE): a
// session of one protocol driven line by line against a real mail store with
// one account (USER, PASS) holding the messages the test group delivers.
#ifndef ISM_MAIL_SESSION_H
#define ISM_MAIL_SESSION_H

#include "ism_log.h"
#include "ism_mail.h"
#include "proto.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

static const char *const USER = "alice@example.test";
static const char *const PASS = "correct horse";

class MailSessionTest : public Utest
{
  public:
    const ism_proto_ops *proto = nullptr;
    std::string dir;
    ism_mail *m = nullptr;
    ism_err err = {};
    ism_proto_env env;
    ism_proto_req req;
    ism_buf out = {};
    void *st = nullptr;

    // A store for USER with msgs delivered in order, and p's session begun.
    void open(const ism_proto_ops &p, std::initializer_list<const std::string *> msgs)
    {
        proto = &p;
        ism_log_open(nullptr, 0); // failed logins are logged; keep the test output clean
        dir = ism_test_mkdtemp();
        LONGS_EQUAL_TEXT(0, ism_mail_open(&m, (dir + "/mail.db").c_str(), &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_mail_domain_add(m, "example.test", &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_mail_user_add(m, USER, PASS, &err), err.msg);
        for (const std::string *msg : msgs)
            LONGS_EQUAL_TEXT(0, ism_mail_deliver(m, USER, msg->data(), msg->size(), &err), err.msg);
        memset(&env, 0, sizeof env);
        env.hostname = "mail.example.test";
        env.peer_addr = "192.0.2.1";
        env.mail = m;
        memset(&req, 0, sizeof req);
        env.req = &req;
        start();
    }
    void teardown() override
    {
        stop();
        ism_buf_free(&out);
        ism_mail_close(m);
        ism_test_rmtree(dir);
        ism_log_open(nullptr, 1);
    }
    void start()
    {
        st = calloc(1, proto->state_size);
        proto->begin(st, &env, &out);
    }
    void stop()
    {
        if (st) {
            proto->end(st);
            free(st);
            st = nullptr;
        }
    }
    std::string take()
    {
        std::string r(out.p ? out.p : "", out.len);
        out.len = 0;
        return r;
    }
    ism_proto_action cmd(const std::string &line)
    {
        // As the connection layer would: logins checked, long replies completed.
        return ism_proto_feed(proto, st, &env, line.data(), line.size(), &out);
    }
    std::string reply(const std::string &line)
    {
        cmd(line);
        return take();
    }
};

#endif
