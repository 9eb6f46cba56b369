// The HTTP session state machine: the status page (loopback clients only),
// files under /.well-known/, traversal attempts, redirects to HTTPS for the
// web SSL domains (not for ACME challenges), HEAD, 405, 400, 414/431,
// keep-alive.
#include "ism_platform.h"
#include "proto.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

TEST_GROUP(Http)
{
    std::string dir, root;
    ism_web_domain domains[2];
    ism_proto_env env;
    ism_buf out = {};
    void *st = nullptr;
    ism_err err = {};

    void setup() override
    {
        dir = ism_test_mkdtemp();
        root = dir + "/webroot";
        LONGS_EQUAL_TEXT(0, ism_fs_mkdirs((root + "/acme-challenge").c_str(), 0, &err), err.msg);
        LONGS_EQUAL_TEXT(0, ism_fs_mkdirs((root + "/sub").c_str(), 0, &err), err.msg);
        write(root + "/acme-challenge/tok123", "tok123.thumbprint");
        write(root + "/mta-sts.txt", "version: STSv1\nmode: enforce\n");
        write(root + "/config.json", "{\"ok\":true}");
        write(dir + "/secret.txt", "TOP SECRET");
        memset(domains, 0, sizeof domains);
        strcpy(domains[0].domain, "www.example.test");
        domains[0].port = 8443;
        strcpy(domains[1].domain, "secure.example.test");
        domains[1].port = 443;
        memset(&env, 0, sizeof env);
        env.hostname = "mail.example.test";
        env.peer_addr = "127.0.0.1"; // the status page is for loopback clients
        env.web_domains = domains;
        env.n_web_domains = 2;
        env.web_root = root.c_str();
        env.status_text = "SMTP: listening <25>\nPOP3: off";
        start();
    }
    void teardown() override
    {
        stop();
        ism_buf_free(&out);
        ism_test_rmtree(dir);
    }
    void write(const std::string &path, const std::string &data)
    {
        LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(path.c_str(), data.data(), data.size(), 0, &err), err.msg);
    }
    void start()
    {
        st = calloc(1, ism_proto_http.state_size);
        ism_proto_http.begin(st, &env, &out);
    }
    void stop()
    {
        if (st) {
            ism_proto_http.end(st);
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
    ism_proto_action line(const std::string &l)
    {
        return ism_proto_http.line(st, &env, l.data(), l.size(), &out);
    }
    // Sends a request (lines separated by "\r\n", without the final empty
    // line); returns the action of the line that was answered.
    ism_proto_action request(const std::string &req)
    {
        size_t at = 0;
        for (;;) {
            size_t e = req.find("\r\n", at);
            ism_proto_action a = line(req.substr(at, e == std::string::npos ? std::string::npos : e - at));
            if (a != ISM_PROTO_CONTINUE)
                return a; // answered early (a malformed request line)
            if (e == std::string::npos)
                break;
            at = e + 2;
        }
        return line("");
    }
    ism_proto_action get(const std::string &target, const std::string &host = "mail.example.test",
                         const std::string &method = "GET")
    {
        return request(method + " " + target + " HTTP/1.1\r\nHost: " + host);
    }
    struct response {
        int code = 0;
        std::string head, body;
        std::string header(const std::string &name) const
        {
            std::string key = "\r\n" + name + ": ";
            size_t at = head.find(key);
            if (at == std::string::npos)
                return "<none>";
            at += key.size();
            return head.substr(at, head.find("\r\n", at) - at);
        }
    };
    response parse(const std::string &r)
    {
        response p;
        size_t end = r.find("\r\n\r\n");
        CHECK_TEXT(end != std::string::npos, r.c_str());
        p.head = r.substr(0, end + 2);
        p.body = r.substr(end + 4);
        CHECK_TEXT(r.rfind("HTTP/1.1 ", 0) == 0, r.c_str());
        p.code = atoi(r.c_str() + 9);
        return p;
    }
    response fetch(const std::string &target, const std::string &host = "mail.example.test")
    {
        get(target, host);
        return parse(take());
    }
};

TEST(Http, SaysNothingFirst)
{
    LONGS_EQUAL(0, out.len);
}

TEST(Http, StatusPage)
{
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/"));
    response r = parse(take());
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("text/html; charset=utf-8", r.header("Content-Type").c_str());
    STRCMP_EQUAL(std::to_string(r.body.size()).c_str(), r.header("Content-Length").c_str());
    STRCMP_EQUAL("ISMail", r.header("Server").c_str());
    STRCMP_CONTAINS(" GMT", r.header("Date").c_str());
    STRCMP_EQUAL("<none>", r.header("Strict-Transport-Security").c_str());
    STRCMP_CONTAINS("SMTP: listening &lt;25&gt;\nPOP3: off", r.body.c_str());
    r = fetch("/status");
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("text/plain; charset=utf-8", r.header("Content-Type").c_str());
    STRCMP_EQUAL("SMTP: listening <25>\nPOP3: off\n", r.body.c_str());
    r = fetch("/status?verbose=1");
    LONGS_EQUAL(200, r.code);
}

// The status page tells the version, the host name and every port: only a
// client on this machine's loopback gets it; to any other address it does
// not exist, over plain HTTP and TLS alike.
TEST(Http, StatusPageOnlyForLoopbackClients)
{
    const char *loopback[] = {"127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "::ffff:127.0.0.1",
                              "::FFFF:127.0.0.2"};
    for (const char *peer : loopback) {
        env.peer_addr = peer;
        response r = fetch("/status");
        LONGS_EQUAL_TEXT(200, r.code, peer);
        STRCMP_CONTAINS_TEXT("SMTP: listening", r.body.c_str(), peer);
        r = fetch("/");
        LONGS_EQUAL_TEXT(200, r.code, peer);
        STRCMP_CONTAINS_TEXT("ISMail on mail.example.test", r.body.c_str(), peer);
    }
    const char *others[] = {"192.0.2.1",     "10.0.0.1",         "::ffff:192.0.2.1", "2001:db8::1",
                            "::",            "0.0.0.0",          "128.0.0.1",        "1127.0.0.1",
                            "127.0.0.1.5",   "127.0.0",          "127.0.0.256",      "0127.0.0.1",
                            "127.0.0.1 ",    "::ffff:10.0.0.1",  "::2",              "unknown",
                            "",              "::ffff:127.0.0.1x"};
    for (int tls = 0; tls <= 1; tls++) {
        env.tls_active = tls;
        for (const char *peer : others) {
            env.peer_addr = peer;
            for (const char *target : {"/status", "/", "/status?verbose=1"}) {
                std::string what = std::string(peer) + " " + target + (tls ? " over TLS" : "");
                response r = fetch(target);
                LONGS_EQUAL_TEXT(404, r.code, what.c_str());
                CHECK_TEXT(r.body.find("SMTP: listening") == std::string::npos, what.c_str());
                CHECK_TEXT(r.body.find("mail.example.test") == std::string::npos, what.c_str());
            }
        }
    }
    env.tls_active = 0;
    env.peer_addr = nullptr; // no address known: not loopback
    LONGS_EQUAL(404, fetch("/status").code);
    env.peer_addr = "192.0.2.1"; // the rest of the site is still served
    response r = fetch("/.well-known/mta-sts.txt");
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("version: STSv1\nmode: enforce\n", r.body.c_str());
}

TEST(Http, DateHeaderIsAnImfFixdate)
{
    response r = fetch("/");
    std::string d = r.header("Date");
    LONGS_EQUAL(29, d.size()); // "Sun, 06 Nov 1994 08:49:37 GMT"
    CHECK_EQUAL(',', d[3]);
    CHECK_EQUAL(':', d[19]);
}

TEST(Http, StrictTransportSecurityOnTls)
{
    env.tls_active = 1;
    response r = fetch("/");
    STRCMP_CONTAINS("max-age=", r.header("Strict-Transport-Security").c_str());
}

TEST(Http, WellKnownFiles)
{
    response r = fetch("/.well-known/mta-sts.txt");
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("text/plain", r.header("Content-Type").c_str());
    STRCMP_EQUAL("version: STSv1\nmode: enforce\n", r.body.c_str());
    r = fetch("/.well-known/config.json");
    STRCMP_EQUAL("application/json", r.header("Content-Type").c_str());
    STRCMP_EQUAL("{\"ok\":true}", r.body.c_str());
    r = fetch("/.well-known/acme-challenge/tok123");
    STRCMP_EQUAL("tok123.thumbprint", r.body.c_str());
    r = fetch("/.well-known/%61cme-challenge/tok123");
    STRCMP_EQUAL("tok123.thumbprint", r.body.c_str());
    LONGS_EQUAL(404, fetch("/.well-known/missing.txt").code);
    LONGS_EQUAL(404, fetch("/.well-known/").code);
    LONGS_EQUAL(404, fetch("/.well-known/sub/").code);
    LONGS_EQUAL(403, fetch("/.well-known/sub").code);
    LONGS_EQUAL(404, fetch("/nothing-here").code);
}

TEST(Http, NoWebRootMeansNotFound)
{
    env.web_root = nullptr;
    LONGS_EQUAL(404, fetch("/.well-known/mta-sts.txt").code);
}

TEST(Http, TraversalIsRejected)
{
    const char *const attempts[] = {
        "/.well-known/../secret.txt",
        "/.well-known/%2e%2e/secret.txt",
        "/.well-known/%2E%2E%2Fsecret.txt",
        "/.well-known/sub/../../secret.txt",
        "/.well-known/..%5csecret.txt",
        "/.well-known/..\\secret.txt",
        "/.well-known//etc/passwd",
        "/.well-known/%2fetc/passwd",
        "/.well-known/C:/Windows/win.ini",
        "/.well-known/mta-sts.txt%00.json",
        "/.well-known/./mta-sts.txt",
        "/.well-known/nul",
        "/.well-known/COM1.txt",
        "/.well-known/%zz",
    };
    for (const char *t : attempts) {
        response r = fetch(t);
        CHECK_TEXT(r.code == 400, t);
        CHECK_TEXT(r.body.find("SECRET") == std::string::npos, t);
    }
    // Only the web root is served, not the folders above it.
    response r = fetch("/secret.txt");
    LONGS_EQUAL(404, r.code);
}

TEST(Http, RedirectsWebSslDomainsToHttps)
{
    response r = fetch("/some/page?x=1", "www.example.test");
    LONGS_EQUAL(301, r.code);
    STRCMP_EQUAL("https://www.example.test:8443/some/page?x=1", r.header("Location").c_str());
    r = fetch("/", "WWW.Example.TEST:80");
    STRCMP_EQUAL("https://www.example.test:8443/", r.header("Location").c_str());
    r = fetch("/status", "secure.example.test");
    STRCMP_EQUAL("https://secure.example.test/status", r.header("Location").c_str());
    // Not for other names, nor on TLS, nor for ACME challenges.
    LONGS_EQUAL(200, fetch("/", "other.example.test").code);
    LONGS_EQUAL(200, fetch("/", "192.0.2.1:80").code);
    r = fetch("/.well-known/acme-challenge/tok123", "www.example.test");
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("tok123.thumbprint", r.body.c_str());
    LONGS_EQUAL(301, fetch("/.well-known/mta-sts.txt", "www.example.test").code);
    env.tls_active = 1;
    LONGS_EQUAL(200, fetch("/", "www.example.test").code);
}

TEST(Http, AbsoluteFormTargetNamesTheHost)
{
    request("GET http://www.example.test/a?b HTTP/1.1\r\nHost: ignored.example.test");
    response r = parse(take());
    LONGS_EQUAL(301, r.code);
    STRCMP_EQUAL("https://www.example.test:8443/a?b", r.header("Location").c_str());
}

TEST(Http, HeadHasNoBody)
{
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/", "mail.example.test", "HEAD"));
    std::string raw = take();
    response r = parse(raw);
    LONGS_EQUAL(200, r.code);
    STRCMP_EQUAL("", r.body.c_str());
    CHECK(atoi(r.header("Content-Length").c_str()) > 0);
    get("/.well-known/mta-sts.txt", "mail.example.test", "HEAD");
    r = parse(take());
    STRCMP_EQUAL("", r.body.c_str());
    STRCMP_EQUAL("29", r.header("Content-Length").c_str());
}

TEST(Http, OtherMethodsAre405)
{
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/", "mail.example.test", "DELETE"));
    response r = parse(take());
    LONGS_EQUAL(405, r.code);
    STRCMP_EQUAL("GET, HEAD", r.header("Allow").c_str());
    // A request with a body cannot be framed here: answered, then closed.
    LONGS_EQUAL(ISM_PROTO_CLOSE, request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5"));
    r = parse(take());
    LONGS_EQUAL(405, r.code);
    STRCMP_EQUAL("close", r.header("Connection").c_str());
    stop();
    start();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, request("OPTIONS * HTTP/1.1\r\nHost: a"));
    LONGS_EQUAL(405, parse(take()).code);
}

TEST(Http, MalformedRequestsAre400AndClose)
{
    const char *const bad[] = {
        "GET /",
        "GET / HTTP/1.1 extra",
        "GET  / HTTP/1.1",
        "GET / FTP/1.0",
        "G(T / HTTP/1.1",
        "GET relative HTTP/1.1",
        "GET /\x01 HTTP/1.1",
    };
    for (const char *l : bad) {
        stop();
        start();
        LONGS_EQUAL_TEXT(ISM_PROTO_CLOSE, line(l), l);
        response r = parse(take());
        LONGS_EQUAL_TEXT(400, r.code, l);
        STRCMP_EQUAL_TEXT("close", r.header("Connection").c_str(), l);
    }
    stop();
    start();
    LONGS_EQUAL(ISM_PROTO_CLOSE, line("GET / HTTP/2.0"));
    LONGS_EQUAL(505, parse(take()).code);
}

TEST(Http, MalformedHeadersAre400)
{
    const char *const bad[] = {
        "GET / HTTP/1.1",                                        // no Host in HTTP/1.1
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b",                  // two Hosts
        "GET / HTTP/1.1\r\nHost : a",                            // space before the colon
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 1\r\n  folded",    // obsolete folding
        "GET / HTTP/1.1\r\nHost: a\r\nno colon",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1",
    };
    for (const char *req : bad) {
        stop();
        start();
        LONGS_EQUAL_TEXT(ISM_PROTO_CLOSE, request(req), req);
        LONGS_EQUAL_TEXT(400, parse(take()).code, req);
    }
    stop();
    start();
    // HTTP/1.0 needs no Host; empty lines before a request are skipped.
    line("");
    LONGS_EQUAL(ISM_PROTO_CLOSE, request("GET /status HTTP/1.0"));
    LONGS_EQUAL(200, parse(take()).code);
}

TEST(Http, KeepAliveAndClose)
{
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/"));
    response r = parse(take());
    STRCMP_EQUAL("<none>", r.header("Connection").c_str());
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/status"));
    LONGS_EQUAL(200, parse(take()).code);
    LONGS_EQUAL(ISM_PROTO_CLOSE, request("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close"));
    STRCMP_EQUAL("close", parse(take()).header("Connection").c_str());
    stop();
    start();
    LONGS_EQUAL(ISM_PROTO_CONTINUE, request("GET / HTTP/1.0\r\nConnection: keep-alive"));
    STRCMP_EQUAL("keep-alive", parse(take()).header("Connection").c_str());
    LONGS_EQUAL(ISM_PROTO_CLOSE, request("GET / HTTP/1.0"));
    take();
}

TEST(Http, ClosesAfterManyRequests)
{
    int served = 0;
    ism_proto_action a = ISM_PROTO_CONTINUE;
    while (a == ISM_PROTO_CONTINUE && served < 1000) {
        a = get("/status");
        take();
        served++;
    }
    LONGS_EQUAL(ISM_PROTO_CLOSE, a);
    CHECK(served > 1 && served < 1000);
}

TEST(Http, TooLongRequestLineIs414)
{
    ism_proto_http.too_long(st, &env, &out);
    response r = parse(take());
    LONGS_EQUAL(414, r.code);
    STRCMP_EQUAL("close", r.header("Connection").c_str());
    // too_long cannot close: the next line does, without another answer.
    LONGS_EQUAL(ISM_PROTO_CLOSE, line("Host: a"));
    LONGS_EQUAL(0, out.len);
}

TEST(Http, TooLongHeadersAre431)
{
    line("GET / HTTP/1.1");
    ism_proto_http.too_long(st, &env, &out);
    LONGS_EQUAL(431, parse(take()).code);
    stop();
    start();
    line("GET / HTTP/1.1");
    line("Host: a");
    for (int i = 0; i < 200; i++)
        line("X-Filler-" + std::to_string(i) + ": " + std::string(100, 'y'));
    LONGS_EQUAL(ISM_PROTO_CLOSE, line(""));
    LONGS_EQUAL(431, parse(take()).code);
}

TEST(Http, TlsStartedIsAFreshStart)
{
    line("GET / HTTP/1.1");
    ism_proto_http.tls_started(st, &env);
    LONGS_EQUAL(ISM_PROTO_CONTINUE, get("/"));
    LONGS_EQUAL(200, parse(take()).code);
}
