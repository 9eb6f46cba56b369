// Which certificate a connection gets: RFC 6125 name matching, the choice
// over a table of candidates (SNI name, host name, the host's self-signed
// fallback; valid over expired, exact over wildcard, latest expiry), and
// sets built from real files in a temporary folder.
#include "ism_platform.h"
#include "ism_tls.h"
#include "ism_tls_set.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

TEST_GROUP(TlsNameMatch){};

TEST(TlsNameMatch, Rfc6125Table)
{
    struct {
        const char *pattern, *host;
        int want;
    } t[] = {
        {"example.com", "example.com", 2},
        {"Example.COM", "eXample.com", 2},            // case-insensitive
        {"example.com.", "example.com", 2},           // one trailing dot ignored
        {"example.com", "mail.example.com", 0},
        {"mail.example.com", "example.com", 0},
        {"*.example.com", "mail.example.com", 1},
        {"*.EXAMPLE.com", "Mail.Example.COM", 1},
        {"*.example.com", "example.com", 0},          // the wildcard is one label, not none
        {"*.example.com", "a.b.example.com", 0},      // ...nor two
        {"*.example.com", ".example.com", 0},         // ...nor an empty one
        {"*.com", "example.com", 0},                  // no wildcard over a top-level domain
        {"*.com", "*.com", 2},                        // only itself
        {"*", "example", 0},
        {"m*.example.com", "mail.example.com", 0},    // no partial-label wildcards
        {"*mail.example.com", "xmail.example.com", 0},
        {"mail.*.com", "mail.example.com", 0},        // only the left-most label
        {"*.*.example.com", "a.b.example.com", 0},
        {"*.example.com", "*.example.com", 2},
        {"*.example.com", "x*.example.com", 0},       // a host name with a '*' is nothing to match
        {"", "example.com", 0},
        {"example.com", "", 0},
        // IDNs: both sides carry A-labels; a U-label matches nothing.
        {"xn--bcher-kva.example", "XN--BCHER-KVA.example", 2},
        {"*.xn--bcher-kva.example", "mail.xn--bcher-kva.example", 1},
        {"xn--bcher-kva.example", "b\xc3\xbc" "cher.example", 0},
        {"*.example.org", "xn--mnchen-3ya.example.org", 1},
    };
    for (const auto &c : t) {
        std::string what = std::string(c.pattern) + " vs " + c.host;
        LONGS_EQUAL_TEXT(c.want, ism_tls_name_match(c.pattern, c.host), what.c_str());
    }
}

// ---- the choice over a table ----

namespace {
const int64_t NOW = 1800000000; // a fixed clock: 2027-01-15
const int64_t DAY = 86400;

struct Cand {
    std::vector<const char *> names;
    int64_t nb, na;
    int fallback;
};

int choose(const std::vector<Cand> &cs, const char *sni, const char *host, int64_t now = NOW)
{
    std::vector<ism_tls_candidate> t;
    for (const auto &c : cs)
        t.push_back({c.names.data(), c.names.size(), c.nb, c.na, c.fallback});
    return ism_tls_choose(t.data(), t.size(), sni, host, now);
}
} // namespace

TEST_GROUP(TlsChoice){};

TEST(TlsChoice, Table)
{
    const Cand self_host = {{"host.example.net"}, NOW - DAY, NOW + 365 * DAY, 1}; // the generated one
    const Cand bare = {{"example.com", "mail.example.com"}, NOW - DAY, NOW + 90 * DAY, 0};
    const Cand wild = {{"*.example.com"}, NOW - DAY, NOW + 400 * DAY, 0};
    const Cand cn_only = {{"cn-only.example.org"}, NOW - DAY, NOW + 90 * DAY, 0}; // no SAN: the CN as its name
    const Cand expired = {{"mail.example.com"}, NOW - 400 * DAY, NOW - DAY, 0};
    const Cand future = {{"mail.example.com"}, NOW + DAY, NOW + 900 * DAY, 0};
    const Cand later = {{"mail.example.com"}, NOW - DAY, NOW + 200 * DAY, 0};
    const Cand idn = {{"xn--bcher-kva.example"}, NOW - DAY, NOW + 90 * DAY, 0};
    struct {
        const char *what;
        std::vector<Cand> cands;
        const char *sni, *host;
        int want;
    } t[] = {
        {"exact SNI", {self_host, bare}, "mail.example.com", "host.example.net", 1},
        {"exact SNI, the bare domain", {self_host, bare}, "example.com", "host.example.net", 1},
        {"SNI in another case", {self_host, bare}, "MAIL.Example.Com", "host.example.net", 1},
        {"wildcard SNI", {self_host, wild}, "imap.example.com", "host.example.net", 1},
        {"wildcard depth: two labels fall to the host's", {self_host, wild}, "a.b.example.com", "host.example.net", 0},
        {"wildcard does not cover its own domain", {self_host, wild}, "example.com", "host.example.net", 0},
        {"exact over wildcard (wildcard expires later)", {self_host, wild, bare}, "mail.example.com", nullptr, 2},
        {"CN when there is no SAN", {self_host, cn_only}, "cn-only.example.org", nullptr, 1},
        {"valid over expired", {self_host, expired, wild}, "mail.example.com", nullptr, 2},
        {"valid over not yet valid (which expires later)", {self_host, future, bare}, "mail.example.com", nullptr, 2},
        {"expired when it is the only match", {self_host, expired}, "mail.example.com", nullptr, 1},
        {"latest expiry among equals", {self_host, bare, later}, "mail.example.com", nullptr, 2},
        {"latest expiry, in either order", {self_host, later, bare}, "mail.example.com", nullptr, 1},
        {"equal: the earlier in the table", {self_host, bare, bare}, "mail.example.com", nullptr, 1},
        {"no SNI: the host name's", {self_host, wild, bare}, nullptr, "mail.example.com", 2},
        {"empty SNI: the host name's", {self_host, wild, bare}, "", "mail.example.com", 2},
        {"no SNI, host name by wildcard", {self_host, wild}, nullptr, "smtp.example.com", 1},
        {"no match: the host name's", {self_host, bare}, "other.invalid", "mail.example.com", 1},
        {"no match, no host name match: self-signed", {self_host, bare}, "other.invalid", "host.example.net", 0},
        {"no SNI, no host name match: self-signed", {bare, self_host}, nullptr, "host.example.net", 1},
        {"self-signed is never chosen by name", {self_host, wild}, "host.example.net", "x.example.com", 1},
        {"no fallback and no match", {bare}, "other.invalid", "other.invalid", -1},
        {"empty table", {}, "example.com", "example.com", -1},
        {"IDN: A-labels compare", {self_host, idn}, "XN--BCHER-KVA.example", nullptr, 1},
        {"IDN: a U-label SNI matches nothing", {self_host, idn}, "b\xc3\xbc" "cher.example", nullptr, 0},
    };
    for (const auto &c : t)
        LONGS_EQUAL_TEXT(c.want, choose(c.cands, c.sni, c.host), c.what);
}

TEST(TlsChoice, TheClockDecidesValidity)
{
    const Cand a = {{"mail.example.com"}, NOW - 10 * DAY, NOW + 10 * DAY, 0};
    const Cand b = {{"mail.example.com"}, NOW + 5 * DAY, NOW + 400 * DAY, 0};
    std::vector<Cand> cs = {a, b};
    LONGS_EQUAL(0, choose(cs, "mail.example.com", nullptr, NOW));           // b not yet valid
    LONGS_EQUAL(1, choose(cs, "mail.example.com", nullptr, NOW + 6 * DAY)); // both valid: b expires later
    LONGS_EQUAL(1, choose(cs, "mail.example.com", nullptr, NOW + 11 * DAY)); // a expired
}

// ---- sets built from files ----

namespace {
EVP_PKEY *new_key()
{
    return EVP_EC_gen("P-256");
}

// A certificate for key k, signed by itself (issuer == subject) or by
// (ca, ca_key); SANs as "DNS:a,DNS:b" or "" for none; validity in days from now.
X509 *make_cert(const char *cn, const char *sans, EVP_PKEY *k, X509 *ca, EVP_PKEY *ca_key, long from_days,
                long to_days)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    static long serial = 100;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : n);
    if (*sans) {
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, ca ? ca : x, x, nullptr, nullptr, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, sans);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(x, ca ? ca_key : k, EVP_sha256());
    return x;
}

std::string fp(X509 *x)
{
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    std::string s;
    char b[4];
    for (unsigned i = 0; i < n; i++) {
        snprintf(b, sizeof b, i ? ":%02X" : "%02X", md[i]);
        s += b;
    }
    return s;
}
} // namespace

TEST_GROUP(TlsSetNames)
{
    std::string dir, crt, key;
    EVP_PKEY *ca_key = nullptr;
    X509 *ca = nullptr;
    ism_tls_set *set = nullptr;
    void setup() override
    {
        dir = ism_test_mkdtemp();
        crt = dir + "/ssl.crt";
        key = dir + "/ssl.key";
        ism_fs_mkdirs(crt.c_str(), 0, nullptr);
        ism_fs_mkdirs(key.c_str(), 1, nullptr);
        ca_key = new_key();
        ca = make_cert("Names Test CA", "", ca_key, nullptr, nullptr, -1, 30);
    }
    void teardown() override
    {
        ism_tls_set_unref(set);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        ism_test_rmtree(dir);
    }
    // Writes ssl.crt/NAME.crt and ssl.key/NAME.key; returns the fingerprint.
    std::string put(const char *name, const char *cn, const char *sans, long from, long to)
    {
        EVP_PKEY *k = new_key();
        X509 *x = make_cert(cn, sans, k, ca, ca_key, from, to);
        std::string f = fp(x);
        write_pem(crt + "/" + name + ".crt", x, nullptr);
        write_pem(key + "/" + name + ".key", nullptr, k);
        X509_free(x);
        EVP_PKEY_free(k);
        return f;
    }
    static void write_pem(const std::string &path, X509 *x, EVP_PKEY *k)
    {
        BIO *b = BIO_new(BIO_s_mem());
        if (x)
            PEM_write_bio_X509(b, x);
        if (k)
            PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
        char *p;
        long n = BIO_get_mem_data(b, &p);
        ism_err err = {};
        LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(path.c_str(), p, (size_t)n, k != nullptr, &err), err.msg);
        BIO_free(b);
    }
    std::string selfsign(const char *host)
    {
        ism_err err = {};
        std::string c = crt + "/" + host + ".crt", k = key + "/" + host + ".key";
        LONGS_EQUAL_TEXT(0, ism_tls_selfsign(host, c.c_str(), k.c_str(), &err), err.msg);
        FILE *f = fopen(c.c_str(), "rb");
        X509 *x = PEM_read_X509(f, nullptr, nullptr, nullptr);
        fclose(f);
        std::string r = fp(x);
        X509_free(x);
        return r;
    }
    int build(const char *host, ism_err *err, const ism_web_domain *web = nullptr, size_t n_web = 0)
    {
        ism_tls_set_unref(set);
        set = nullptr;
        ism_tls_set_spec spec = {};
        spec.profile = "intermediate";
        spec.crt_dir = crt.c_str();
        spec.key_dir = key.c_str();
        spec.default_name = host;
        spec.web = web;
        spec.n_web = n_web;
        return ism_tls_set_build(&set, &spec, err);
    }
    std::string served_file(const char *sni)
    {
        ism_tls_set_entry e;
        LONGS_EQUAL(0, ism_tls_set_entry_at(set, ism_tls_set_served(set, nullptr, sni), &e));
        std::string f = e.file;
        return f.substr(f.find_last_of("/\\") + 1);
    }
};

TEST(TlsSetNames, TheManualsFlowByNamesNotFileNames)
{
    std::string self = selfsign("host.test");
    std::string ex = put("example.com", "example.com", "DNS:example.com,DNS:mail.example.com", -1, 90);
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, build("host.test", &err), err.msg);
    LONGS_EQUAL(2, ism_tls_set_count(set));
    STRCMP_EQUAL(ex.c_str(), ism_tls_set_fingerprint(set, "mail.example.com"));
    STRCMP_EQUAL(ex.c_str(), ism_tls_set_fingerprint(set, "example.com"));
    STRCMP_EQUAL(self.c_str(), ism_tls_set_fingerprint(set, nullptr)); // no SNI: the host's own
    STRCMP_EQUAL("example.com.crt", served_file("MAIL.EXAMPLE.COM").c_str());
    STRCMP_EQUAL("host.test.crt", served_file("other.invalid").c_str());

    ism_tls_set_entry e;
    LONGS_EQUAL(0, ism_tls_set_entry_at(set, 0, &e));
    CHECK(e.cand.fallback); // the self-signed host certificate
    LONGS_EQUAL(-1, ism_tls_set_entry_at(set, 2, &e));

    // Host name mail.example.com: its own self-signed file exists (the
    // service makes one), yet the CA-signed one serves clients without SNI.
    selfsign("mail.example.com");
    LONGS_EQUAL_TEXT(0, build("mail.example.com", &err), err.msg);
    STRCMP_EQUAL(ex.c_str(), ism_tls_set_fingerprint(set, nullptr));
    STRCMP_EQUAL("example.com.crt", served_file(nullptr).c_str());
    STRCMP_EQUAL("example.com.crt", served_file("other.invalid").c_str());
    SSL *ssl = ism_tls_set_new_ssl(set, nullptr);
    CHECK(ssl != nullptr);
    STRCMP_EQUAL(ex.c_str(), fp(SSL_get_certificate(ssl)).c_str());
    SSL_free(ssl);
}

TEST(TlsSetNames, NamesAndDatesComeFromTheCertificate)
{
    selfsign("host.test");
    put("zz-cn-only", "cn.example.org", "", -1, 90);
    put("wild", "example.org", "DNS:*.example.org", -1, 90);
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, build("host.test", &err), err.msg);
    bool seen_cn = false, seen_wild = false;
    for (size_t i = 0; i < ism_tls_set_count(set); i++) {
        ism_tls_set_entry e;
        LONGS_EQUAL(0, ism_tls_set_entry_at(set, i, &e));
        std::string f = e.file;
        if (f.find("zz-cn-only.crt") != std::string::npos) {
            LONGS_EQUAL(1, e.cand.n_names);
            STRCMP_EQUAL("cn.example.org", e.cand.names[0]);
            CHECK(!e.cand.fallback);
            seen_cn = true;
        }
        if (f.find("wild.crt") != std::string::npos) {
            STRCMP_EQUAL("*.example.org", e.cand.names[0]); // the SAN, not the CN
            LONGS_EQUAL(1, e.cand.n_names);
            CHECK(e.cand.not_after - e.cand.not_before > 90 * DAY);
            seen_wild = true;
        }
    }
    CHECK(seen_cn && seen_wild);
    STRCMP_EQUAL("zz-cn-only.crt", served_file("cn.example.org").c_str());
    STRCMP_EQUAL("wild.crt", served_file("mail.example.org").c_str());
    STRCMP_EQUAL("host.test.crt", served_file("a.b.example.org").c_str());
}

TEST(TlsSetNames, ExpiredDomainCertificatesLoadButLoseToValidOnes)
{
    selfsign("host.test");
    std::string good = put("good", "mail.example.com", "DNS:mail.example.com", -1, 30);
    std::string old = put("old", "mail.example.com", "DNS:mail.example.com,DNS:old.example.com", -400, -1);
    std::string fut = put("future", "mail.example.com", "DNS:mail.example.com", 5, 900);
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, build("host.test", &err), err.msg);
    STRCMP_EQUAL(good.c_str(), ism_tls_set_fingerprint(set, "mail.example.com"));
    STRCMP_EQUAL(old.c_str(), ism_tls_set_fingerprint(set, "old.example.com")); // its only name
}

TEST(TlsSetNames, AnExpiredHostCertificateOrAnUnreadableOneFailsTheSetNamingTheFile)
{
    put("host.test", "host.test", "DNS:host.test", -400, -1);
    ism_err err = {};
    LONGS_EQUAL(-1, build("host.test", &err));
    STRCMP_CONTAINS("host.test.crt", err.msg);
    STRCMP_CONTAINS("expired", err.msg);

    selfsign("host.test");
    LONGS_EQUAL_TEXT(0, build("host.test", &err), err.msg);
    std::string junk = crt + "/junk.example.crt";
    LONGS_EQUAL(0, ism_fs_write_atomic(junk.c_str(), "not a certificate", 17, 0, &err));
    LONGS_EQUAL(0, ism_fs_write_atomic((key + "/junk.example.key").c_str(), "not a key", 9, 1, &err));
    LONGS_EQUAL(-1, build("host.test", &err));
    STRCMP_CONTAINS("junk.example.crt", err.msg);
}

// A web SSL domain named like a mail certificate file keeps its own files on
// its HTTPS listener, and the mail listeners still get every name the mail
// certificate carries.
TEST(TlsSetNames, AWebDomainNamedLikeAMailCertificateHidesNoneOfItsNames)
{
    selfsign("host.test");
    std::string mail = put("example.com", "example.com", "DNS:example.com,DNS:mail.example.com", -1, 90);
    std::string web = put("web-example", "example.com", "DNS:example.com", -1, 60);
    ism_web_domain w = {};
    strcpy(w.domain, "example.com");
    strcpy(w.ip, "127.0.0.1");
    w.port = 8443;
    strcpy(w.cert_file, "web-example.crt");
    strcpy(w.key_file, "web-example.key");
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, build("host.test", &err, &w, 1), err.msg);
    STRCMP_EQUAL("example.com.crt", served_file("mail.example.com").c_str());
    STRCMP_EQUAL(mail.c_str(), ism_tls_set_fingerprint(set, "mail.example.com"));
    SSL *ssl = ism_tls_set_new_ssl(set, "example.com"); // the HTTPS listener of the web domain
    CHECK(ssl != nullptr);
    STRCMP_EQUAL(web.c_str(), fp(SSL_get_certificate(ssl)).c_str());
    SSL_free(ssl);
}
