// Certificates: CSR fields and keys, install checks, describe/list, remove,
// and key protection. Golden cases: each gives the expected result and the
// words the administrator reads, and a refused install leaves ssl.crt and
// ssl.key exactly as they were (a hash of their files before and after).
//
// Every certificate and key is made here at run time with OpenSSL (a test
// root, an intermediate, RSA and ECDSA leaves): no key is committed.
#include "ism_cert.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_tls.h"
#include "testdir.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#ifdef _WIN32
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#else
#include <sys/stat.h>
#endif

#include <CppUTest/TestHarness.h>
#include <cstdlib>
#include <cstring>
#include <string>

// ---- fixtures, made once per run (OpenSSL objects only, so CppUTest's
// leak detector, which tracks the test's own allocations, is not involved) ----

static EVP_PKEY *gen_ec()
{
    return EVP_EC_gen("P-256");
}

// A certificate for cn with DNS names sans (comma-separated, may be ""),
// signed by issuer/issuer_key (NULL: self-signed) with md (NULL: SHA-256),
// valid from..to days from now.
static X509 *make_cert(const char *cn, const char *sans, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       long from_days, long to_days, const EVP_MD *md = NULL)
{
    static long serial = 1000;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"ISMail Tests", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(x, pub);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    std::string san;
    if (sans && *sans) {
        std::string s = sans;
        size_t p = 0;
        while (p <= s.size()) {
            size_t c = s.find(',', p);
            if (c == std::string::npos)
                c = s.size();
            san += (san.empty() ? "DNS:" : ",DNS:") + s.substr(p, c - p);
            p = c + 1;
        }
    }
    struct {
        const char *name;
        std::string value;
    } exts[] = {{"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
                {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment"},
                {"subjectKeyIdentifier", "hash"},
                {"authorityKeyIdentifier", issuer ? "keyid:always" : ""},
                {"extendedKeyUsage", ca ? "" : "serverAuth"},
                {"subjectAltName", san}};
    for (auto &e : exts) {
        if (e.value.empty())
            continue;
        X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &v3, e.name, e.value.c_str());
        if (ext) {
            X509_add_ext(x, ext, -1);
            X509_EXTENSION_free(ext);
        }
    }
    X509_sign(x, issuer_key, md ? md : EVP_sha256());
    return x;
}

struct Fixtures {
    EVP_PKEY *root_key, *inter_key, *rsa_key, *ec_key, *other_key;
    X509 *root, *inter, *rsa_leaf, *ec_leaf, *expired, *future, *expiring;
};

static const Fixtures &fx()
{
    static Fixtures f;
    static bool made;
    if (!made) {
        f.root_key = gen_ec();
        f.inter_key = gen_ec();
        f.rsa_key = EVP_RSA_gen(2048);
        f.ec_key = gen_ec();
        f.other_key = gen_ec();
        f.root = make_cert("ISMail Test Root", "", f.root_key, NULL, f.root_key, true, -2, 3650);
        f.inter = make_cert("ISMail Test Intermediate", "", f.inter_key, f.root, f.root_key, true, -2, 1825);
        f.rsa_leaf = make_cert("ismail.test", "ismail.test,www.ismail.test", f.rsa_key, f.inter, f.inter_key, false, -1, 365);
        f.ec_leaf = make_cert("ec.ismail.test", "ec.ismail.test", f.ec_key, f.inter, f.inter_key, false, -1, 365);
        f.expired = make_cert("ismail.test", "ismail.test", f.rsa_key, f.inter, f.inter_key, false, -400, -35);
        f.future = make_cert("ismail.test", "ismail.test", f.rsa_key, f.inter, f.inter_key, false, 10, 400);
        f.expiring = make_cert("ismail.test", "ismail.test", f.rsa_key, f.inter, f.inter_key, false, -100, 10);
        made = true;
    }
    return f;
}

static std::string pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    std::string s(p, (size_t)n);
    BIO_free(b);
    return s;
}

static std::string pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    std::string s(p, (size_t)n);
    BIO_free(b);
    return s;
}

static std::string der(X509 *x)
{
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    std::string s((const char *)p, (size_t)n);
    OPENSSL_free(p);
    return s;
}

static std::string pfx(X509 *leaf, EVP_PKEY *key, X509 *chain, const char *password)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, chain);
    PKCS12 *p12 = PKCS12_create(password, "ismail.test", key, leaf, ca, 0, 0, 0, 0, 0);
    sk_X509_free(ca);
    unsigned char *p = NULL;
    int n = p12 ? i2d_PKCS12(p12, &p) : 0;
    std::string s((const char *)p, (size_t)(n > 0 ? n : 0));
    OPENSSL_free(p);
    PKCS12_free(p12);
    return s;
}

// A PKCS#12 file as older Windows and OpenSSL 1.x export them: the
// certificates encrypted with RC2-40, the key with 3DES. Made in a library
// context of its own that has the legacy provider, so the install finds RC2
// missing from the default context and has to load that provider itself.
static std::string legacy_pfx(X509 *leaf, EVP_PKEY *key, X509 *chain, const char *password)
{
    OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *legacy = lc ? OSSL_PROVIDER_load(lc, "legacy") : NULL;
    OSSL_PROVIDER *dflt = lc ? OSSL_PROVIDER_load(lc, "default") : NULL;
    std::string s;
    if (legacy && dflt) {
        STACK_OF(X509) *ca = sk_X509_new_null();
        sk_X509_push(ca, chain);
        PKCS12 *p12 = PKCS12_create_ex(password, "ismail.test", key, leaf, ca, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                       NID_pbe_WithSHA1And40BitRC2_CBC, 0, 0, 0, lc, NULL);
        sk_X509_free(ca);
        unsigned char *p = NULL;
        int n = p12 ? i2d_PKCS12(p12, &p) : 0;
        s.assign((const char *)p, (size_t)(n > 0 ? n : 0));
        OPENSSL_free(p);
        PKCS12_free(p12);
    }
    OSSL_PROVIDER_unload(dflt);
    OSSL_PROVIDER_unload(legacy);
    OSSL_LIB_CTX_free(lc);
    ERR_clear_error();
    return s;
}

static std::string fingerprint(X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char buf[4];
    std::string s;
    X509_digest(x, EVP_sha256(), md, &n);
    for (unsigned int i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, i + 1 < n ? "%02X:" : "%02X", md[i]);
        s += buf;
    }
    return s;
}

// ---- the folders' state, to prove a refusal wrote nothing ----

struct Names {
    std::string all[64];
    int n;
};

static void collect(const char *name, void *ctx)
{
    Names *l = (Names *)ctx;
    if (l->n < 64)
        l->all[l->n++] = name;
}

// SHA-256 over every file's name and content in ssl.crt and ssl.key, sorted.
static std::string folders_hash(const ism_paths &p)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *dirs[] = {p.crt, p.key};
    for (const char *d : dirs) {
        Names l;
        l.n = 0;
        ism_err err = {};
        if (ism_fs_exists(d))
            ism_fs_list(d, "", collect, &l, &err);
        // a small insertion sort: the listing order is the system's
        for (int i = 1; i < l.n; i++)
            for (int j = i; j > 0 && l.all[j] < l.all[j - 1]; j--)
                l.all[j].swap(l.all[j - 1]);
        for (int i = 0; i < l.n; i++) {
            std::string path = std::string(d) + "/" + l.all[i];
            char *data = NULL;
            size_t len = 0;
            EVP_DigestUpdate(md, l.all[i].c_str(), l.all[i].size() + 1);
            if (ism_fs_read(path.c_str(), 1 << 20, &data, &len, &err) == 0) {
                EVP_DigestUpdate(md, data, len);
                free(data);
            }
        }
    }
    unsigned char out[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    std::string hex;
    char b[3];
    for (unsigned int i = 0; i < n; i++) {
        snprintf(b, sizeof b, "%02x", out[i]);
        hex += b;
    }
    return hex;
}

static int count_suffix(const char *dir, const char *suffix)
{
    Names l;
    l.n = 0;
    ism_err err = {};
    ism_fs_list(dir, suffix, collect, &l, &err);
    return l.n;
}

TEST_GROUP(Cert)
{
    std::string dir;
    ism_paths p;
    ism_cert_result res;
    ism_err err;
    ism_cert_plan *plan;

    void setup() override
    {
        plan = (ism_cert_plan *)calloc(1, sizeof *plan);
        dir = ism_test_mkdtemp();
        ism_paths_init(&p, dir.c_str());
        ism_err e = {};
        LONGS_EQUAL_TEXT(0, ism_paths_ensure(&p, &e), e.msg);
        memset(&res, 0, sizeof res);
        memset(&err, 0, sizeof err);
        fx();
    }
    void teardown() override
    {
        ism_cert_plan_free(plan);
        free(plan);
        ism_test_rmtree(dir);
    }
    std::string put(const char *name, const std::string &data, bool priv = false)
    {
        std::string path = dir + "/" + name;
        ism_err e = {};
        LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(path.c_str(), data.data(), data.size(), priv ? 1 : 0, &e), e.msg);
        return path;
    }
    std::string crt(const char *domain)
    {
        return std::string(p.crt) + "/" + domain + ".crt";
    }
    std::string key(const char *domain)
    {
        return std::string(p.key) + "/" + domain + ".key";
    }
    int install(const std::string &file, const char *domain = NULL, const char *ca = NULL, const char *keyf = NULL,
                const char *password = NULL)
    {
        ism_cert_install_req r = {};
        r.file = file.c_str();
        r.domain = domain;
        r.ca_file = ca;
        r.key_file = keyf;
        r.password = password;
        memset(&err, 0, sizeof err);
        return ism_cert_install(&p, &r, &res, &err);
    }
    // The plan of an install into plan (nothing written).
    int plan_install(const std::string &file, const char *ca = NULL, const char *keyf = NULL, const char *password = NULL)
    {
        ism_cert_install_req r = {};
        r.file = file.c_str();
        r.ca_file = ca;
        r.key_file = keyf;
        r.password = password;
        memset(&err, 0, sizeof err);
        ism_cert_plan_free(plan);
        return ism_cert_install_plan(&p, &r, plan, &err);
    }
    // A refused plan: -1, the kind, the file it is about, the failed check
    // last, and the folders exactly as they were.
    void plan_refused(int rc, ism_err_kind kind, const std::string &file, const char *what, const std::string &before)
    {
        LONGS_EQUAL_TEXT(-1, rc, "expected a refusal");
        LONGS_EQUAL_TEXT(kind, err.kind, err.msg);
        STRCMP_EQUAL(file.c_str(), plan->file);
        STRCMP_CONTAINS(file.c_str(), err.msg);
        CHECK(plan->res.n_checks > 0);
        LONGS_EQUAL(ISM_CHECK_FAIL, plan->res.check[plan->res.n_checks - 1].level);
        STRCMP_EQUAL(what, plan->res.check[plan->res.n_checks - 1].what);
        CHECK_TEXT(strstr(err.msg, " --") == NULL, err.msg); // the front end words the remedy
        STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    }
    std::string read(const std::string &path)
    {
        char *data = NULL;
        size_t len = 0;
        ism_err e = {};
        if (ism_fs_read(path.c_str(), 1 << 20, &data, &len, &e))
            return "";
        std::string s(data, len);
        free(data);
        return s;
    }
    // The good RSA pair with its chain, installed: the "before" of a refusal.
    void install_good()
    {
        std::string bundle = put("good.pem", pem(fx().rsa_leaf) + pem(fx().inter));
        std::string k = put("good.key", pem(fx().rsa_key), true);
        std::string root = put("root.pem", pem(fx().root));
        LONGS_EQUAL_TEXT(0, install(bundle, NULL, root.c_str(), k.c_str()), err.msg);
    }
    // A refused install: -1, the message, the failed check last, nothing written.
    void refused(int rc, const char *what, const char *words, const std::string &before)
    {
        LONGS_EQUAL_TEXT(-1, rc, "expected a refusal");
        STRCMP_CONTAINS(words, err.msg);
        CHECK(res.n_checks > 0);
        LONGS_EQUAL(ISM_CHECK_FAIL, res.check[res.n_checks - 1].level);
        STRCMP_EQUAL(what, res.check[res.n_checks - 1].what);
        LONGS_EQUAL(0, res.n_written);
        STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    }
    bool has_warning(const char *what, const char *words)
    {
        for (int i = 0; i < res.n_checks; i++)
            if (res.check[i].level == ISM_CHECK_WARN && strcmp(res.check[i].what, what) == 0 &&
                strstr(res.check[i].text, words))
                return true;
        return false;
    }
};

// ---- installing: the golden cases ----

TEST(Cert, RsaLeafWithChainInstallsLeafThenChainAndServes)
{
    install_good();
    LONGS_EQUAL(0, res.n_warnings);
    STRCMP_EQUAL("ismail.test", res.domain);
    ism_cert_info info;
    LONGS_EQUAL_TEXT(0, ism_cert_describe(crt("ismail.test").c_str(), 0, key("ismail.test").c_str(), &info, &err), err.msg);
    STRCMP_EQUAL("ok", ism_cert_status_word(info.status));
    STRCMP_EQUAL(fingerprint(fx().rsa_leaf).c_str(), info.fingerprint);
    LONGS_EQUAL(2, info.n_chain); // intermediate, then the root the chain was built to
    STRCMP_CONTAINS("ISMail Test Intermediate", info.chain[0].subject);
    STRCMP_CONTAINS("ISMail Test Root", info.chain[1].subject);
    STRCMP_EQUAL("RSA", info.key_type);
    LONGS_EQUAL(2048, info.key_bits);
    LONGS_EQUAL(ISM_KEY_MATCH, info.key_state);
    LONGS_EQUAL(2, info.n_san);
    STRCMP_EQUAL("www.ismail.test", info.san[1]);
    CHECK(info.days_left >= 363 && info.days_left <= 365);
    LONGS_EQUAL(0, ism_cert_key_private(key("ismail.test").c_str(), &err));
    // The service's loader takes the pair as installed.
    ism_tls_gen *g = NULL;
    LONGS_EQUAL_TEXT(0, ism_tls_gen_build(&g, "intermediate", crt("ismail.test").c_str(), key("ismail.test").c_str(), &err),
                     err.msg);
    STRCMP_EQUAL(info.fingerprint, ism_tls_gen_fingerprint(g));
    ism_tls_gen_unref(g);
}

// The fields the manual asks for in every request, but the common name.
static void subject_fields(ism_csr_req &r)
{
    strcpy(r.country, "US");
    strcpy(r.state, "California");
    strcpy(r.locality, "Mountain View");
    strcpy(r.org, "ISMail Tests");
    strcpy(r.email, "postmaster@ismail.test");
}

TEST(Cert, EcdsaLeafSignedFromOurCsrInstallsWithTheCsrKey)
{
    ism_csr_req r = {};
    subject_fields(r);
    strcpy(r.cn, "ec.ismail.test");
    strcpy(r.country, "ca");
    strcpy(r.key, "ec:P-256");
    LONGS_EQUAL_TEXT(0, ism_csr_new(&p, &r, 0, &res, &err), err.msg);
    // The "certificate authority": the intermediate signs the request.
    std::string csr = std::string(p.csr) + "/ec.ismail.test.csr";
    char *data;
    size_t len;
    LONGS_EQUAL(0, ism_fs_read(csr.c_str(), 1 << 16, &data, &len, &err));
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    BIO_free(b);
    free(data);
    CHECK(req != NULL);
    X509 *leaf = make_cert("ec.ismail.test", "ec.ismail.test", X509_REQ_get0_pubkey(req), fx().inter, fx().inter_key, false,
                           -1, 90);
    X509_REQ_free(req);
    std::string f = put("signed.crt", pem(leaf));
    std::string chain = put("ca-bundle.crt", pem(fx().inter) + pem(fx().root));
    LONGS_EQUAL_TEXT(0, install(f, NULL, chain.c_str()), err.msg);
    LONGS_EQUAL(1, res.n_written); // the key made with the CSR stays as it is
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ec.ismail.test", 0, &info, &err));
    STRCMP_EQUAL("EC P-256", info.key_type);
    STRCMP_EQUAL("ok", ism_cert_status_word(info.status));
    STRCMP_EQUAL(fingerprint(leaf).c_str(), info.fingerprint);
    X509_free(leaf);
}

TEST(Cert, KeyBeforeTheCertificatesInOnePemFile)
{
    std::string f = put("all.pem", pem(fx().ec_key) + pem(fx().inter) + pem(fx().ec_leaf), true);
    LONGS_EQUAL_TEXT(0, install(f), err.msg);
    STRCMP_EQUAL("ec.ismail.test", res.domain);
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ec.ismail.test", 0, &info, &err));
    STRCMP_EQUAL(fingerprint(fx().ec_leaf).c_str(), info.fingerprint); // the leaf first, whatever the file's order
    LONGS_EQUAL(1, info.n_chain);
    STRCMP_CONTAINS("Intermediate", info.chain[0].subject);
    LONGS_EQUAL(ISM_KEY_MATCH, info.key_state);
}

TEST(Cert, DerCertificateInstallsWithItsKey)
{
    std::string f = put("leaf.der", der(fx().rsa_leaf));
    std::string k = put("leaf.key", pem(fx().rsa_key), true);
    LONGS_EQUAL_TEXT(0, install(f, NULL, NULL, k.c_str()), err.msg);
    CHECK(has_warning("chain", "incomplete chain"));
}

TEST(Cert, PfxWithTheRightPasswordInstallsKeyAndChain)
{
    std::string f = put("site.pfx", pfx(fx().rsa_leaf, fx().rsa_key, fx().inter, "s3cret"));
    LONGS_EQUAL_TEXT(0, install(f, NULL, NULL, NULL, "s3cret"), err.msg);
    LONGS_EQUAL(2, res.n_written);
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ismail.test", 0, &info, &err));
    STRCMP_EQUAL("ok", ism_cert_status_word(info.status));
    LONGS_EQUAL(1, info.n_chain);
}

TEST(Cert, LegacyRc2PfxInstallsThroughTheLegacyProvider)
{
    std::string data = legacy_pfx(fx().rsa_leaf, fx().rsa_key, fx().inter, "s3cret");
    CHECK_TEXT(!data.empty(), "the test could not make an RC2 PKCS#12 file (no legacy provider here?)");
    std::string f = put("old-windows.pfx", data);
    LONGS_EQUAL_TEXT(0, install(f, NULL, NULL, NULL, "s3cret"), err.msg);
    LONGS_EQUAL(2, res.n_written);
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ismail.test", 0, &info, &err));
    STRCMP_EQUAL(fingerprint(fx().rsa_leaf).c_str(), info.fingerprint);
    LONGS_EQUAL(ISM_KEY_MATCH, info.key_state);
    LONGS_EQUAL(1, info.n_chain);
}

TEST(Cert, PfxWithAWrongOrNoPasswordIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("site.pfx", pfx(fx().rsa_leaf, fx().rsa_key, fx().inter, "s3cret"));
    refused(install(f, NULL, NULL, NULL, "wrong"), "parse", "password does not open", before);
    LONGS_EQUAL(ISM_E_BAD_PASSWORD, err.kind);
    LONGS_EQUAL(ISM_FIX_PASSWORD, res.fix);
    refused(install(f), "parse", "protected by a password", before);
    LONGS_EQUAL(ISM_E_NEED_PASSWORD, err.kind);
    CHECK(strstr(err.msg, "--") == NULL); // the front end words the remedy
}

TEST(Cert, KeyOfAnotherCertificateIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().inter));
    std::string k = put("other.key", pem(fx().other_key), true);
    refused(install(f, NULL, NULL, k.c_str()), "key", "does not match the certificate", before);
    STRCMP_CONTAINS("other.key", err.msg);
    // and the key made with another CSR, in ssl.key, is refused the same way
    std::string ec = put("ec.pem", pem(fx().ec_leaf));
    std::string kk = key("ec.ismail.test");
    LONGS_EQUAL(0, ism_fs_write_atomic(kk.c_str(), pem(fx().other_key).data(), pem(fx().other_key).size(), 1, &err));
    before = folders_hash(p);
    refused(install(ec), "key", "does not match", before);
}

TEST(Cert, ExpiredCertificateIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("old.pem", pem(fx().expired) + pem(fx().rsa_key), true);
    refused(install(f), "validity", "expired on", before);
}

TEST(Cert, NotYetValidCertificateIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("future.pem", pem(fx().future) + pem(fx().rsa_key), true);
    refused(install(f), "validity", "not valid before", before);
}

TEST(Cert, CertificateForAnotherNameIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().rsa_key), true);
    refused(install(f, "other.test"), "name", "is for ismail.test, www.ismail.test, not other.test", before);
    refused(install(f, "../../etc"), "name", "not a domain name", before);
}

TEST(Cert, TruncatedDerIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string d = der(fx().rsa_leaf);
    std::string f = put("cut.der", d.substr(0, d.size() / 2));
    refused(install(f), "parse", "is cut short", before);
}

TEST(Cert, GarbageIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    refused(install(put("junk.crt", "this is not a certificate\n")), "parse", "is not a certificate", before);
    refused(install(put("empty.crt", "")), "parse", "is empty", before);
    std::string half = pem(fx().rsa_leaf);
    refused(install(put("half.pem", half.substr(0, half.size() / 2))), "parse", "damaged or cut short", before);
    refused(install(dir + "/missing.crt"), "parse", "missing.crt", before);
}

TEST(Cert, MissingIntermediateInstallsWithAWarningAndTheStatus)
{
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().rsa_key), true);
    LONGS_EQUAL_TEXT(0, install(f), err.msg);
    CHECK(has_warning("chain", "incomplete chain"));
    ism_cert_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_cert_list(&p, &v, &n, &err));
    LONGS_EQUAL(1, n);
    STRCMP_EQUAL("incomplete chain", ism_cert_status_word(v[0].status));
    STRCMP_CONTAINS("CA file", v[0].problem);
    LONGS_EQUAL(ISM_FIX_CA, v[0].fix);
    free(v);
}

TEST(Cert, CaFileThatTheChainDoesNotBuildToIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().rsa_key), true);
    std::string root = put("root-only.pem", pem(fx().root)); // the intermediate is missing
    refused(install(f, NULL, root.c_str()), "chain", "does not build to", before);
    STRCMP_CONTAINS("intermediate", err.msg);
}

// What the service's TLS layer would refuse (OpenSSL's security level) is
// refused at install, not found later when the service applies it.
TEST(Cert, KeyTooWeakForTlsIsRefused)
{
    install_good();
    std::string before = folders_hash(p);
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    X509 *x = make_cert("ismail.test", "ismail.test", weak, fx().inter, fx().inter_key, false, -1, 365);
    std::string f = put("weak.pem", pem(x) + pem(fx().inter) + pem(weak), true);
    X509_free(x);
    EVP_PKEY_free(weak);
    refused(install(f), "strength", "has a key of 1024 bits (RSA), which OpenSSL refuses for TLS", before);
    STRCMP_CONTAINS("rsa:2048", err.msg);
}

TEST(Cert, Sha1SignaturesAreRefusedOnTheLeafAndInTheChain)
{
    install_good();
    std::string before = folders_hash(p);
    X509 *leaf = make_cert("ismail.test", "ismail.test", fx().rsa_key, fx().inter, fx().inter_key, false, -1, 365,
                           EVP_sha1());
    std::string f = put("sha1.pem", pem(leaf) + pem(fx().inter) + pem(fx().rsa_key), true);
    refused(install(f), "strength", "the certificate is signed with SHA1, which OpenSSL refuses for TLS", before);
    X509_free(leaf);

    EVP_PKEY *ik = gen_ec();
    X509 *inter = make_cert("ISMail SHA-1 Intermediate", "", ik, fx().root, fx().root_key, true, -2, 1825, EVP_sha1());
    leaf = make_cert("ismail.test", "ismail.test", fx().rsa_key, inter, ik, false, -1, 365);
    f = put("sha1-chain.pem", pem(leaf) + pem(inter) + pem(fx().rsa_key), true);
    refused(install(f), "strength", "ISMail SHA-1 Intermediate is signed with SHA1", before);
    STRCMP_CONTAINS("chain certificate", err.msg);
    X509_free(leaf);
    X509_free(inter);
    EVP_PKEY_free(ik);
}

TEST(Cert, ExpiringCertificateInstallsWithAWarning)
{
    std::string f = put("soon.pem", pem(fx().expiring) + pem(fx().inter) + pem(fx().rsa_key), true);
    LONGS_EQUAL_TEXT(0, install(f), err.msg);
    CHECK(has_warning("validity", "renew it soon"));
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ismail.test", 0, &info, &err));
    STRCMP_EQUAL("expiring", ism_cert_status_word(info.status));
}

TEST(Cert, ReplacingAPairKeepsTheOldOneAsBackups)
{
    std::string k = put("ec.key", pem(fx().ec_key), true);
    std::string ec = put("ec.pem", pem(fx().ec_leaf) + pem(fx().inter));
    LONGS_EQUAL_TEXT(0, install(ec, "ec.ismail.test", NULL, k.c_str()), err.msg);
    LONGS_EQUAL(0, res.n_backup);
    std::string other = put("ec2.pem", pem(fx().rsa_leaf) + pem(fx().inter) + pem(fx().rsa_key), true);
    // the RSA leaf does not cover ec.ismail.test: refused; then a real replacement
    LONGS_EQUAL(-1, install(other, "ec.ismail.test"));
    X509 *again = make_cert("ec.ismail.test", "ec.ismail.test", fx().other_key, fx().inter, fx().inter_key, false, -1, 30 * 3);
    std::string nf = put("new.pem", pem(again) + pem(fx().inter) + pem(fx().other_key), true);
    LONGS_EQUAL_TEXT(0, install(nf), err.msg);
    X509_free(again);
    LONGS_EQUAL(2, res.n_backup);
    LONGS_EQUAL(1, count_suffix(p.crt, ".bak"));
    LONGS_EQUAL(1, count_suffix(p.key, ".bak"));
    STRCMP_CONTAINS("ec.ismail.test.key.", res.backup[0]);
    LONGS_EQUAL(0, ism_cert_key_private(res.backup[0], &err)); // a key's backup is as private as the key
}

// ---- CSR fields ----

TEST(Cert, CsrFieldsAreCheckedOneByOneNamingTheField)
{
    struct {
        ism_cert_field f;
        const char *value;
        int ok;
        const char *out_or_words;
    } cases[] = {
        {ISM_CF_COUNTRY, "us", 0, "US"},
        {ISM_CF_COUNTRY, " ca ", 0, "CA"},
        {ISM_CF_COUNTRY, "USA", -1, "country: 'USA' is not a two-letter"},
        {ISM_CF_COUNTRY, "UK", -1, "use GB"},
        {ISM_CF_COUNTRY, "QQ", -1, "not an ISO 3166"},
        {ISM_CF_COUNTRY, "1A", -1, "country:"},
        {ISM_CF_STATE, "California", 0, "California"},
        {ISM_CF_STATE, "", -1, "state: the state or province name has 129 characters; at most 128"},
        {ISM_CF_LOCALITY, "Mountain View", 0, "Mountain View"},
        {ISM_CF_LOCALITY, "Z\xc3\xbcrich", 0, "Z\xc3\xbcrich"},
        {ISM_CF_LOCALITY, "bad\xff", -1, "not valid UTF-8"},
        {ISM_CF_ORG, "InstantServers, Inc.", 0, "InstantServers, Inc."},
        {ISM_CF_ORG, "", -1, "org: the organization name has 65 characters; at most 64"},
        {ISM_CF_UNIT, "", 0, ""},
        {ISM_CF_UNIT, "a\tb", -1, "unit:"},
        {ISM_CF_CN, "InstantServers.COM.", 0, "instantservers.com"},
        {ISM_CF_CN, "", -1, "cn: required"},
        {ISM_CF_CN, "bad_name.test", -1, "'_' is not allowed"},
        {ISM_CF_CN, "*.example.com", -1, "wildcard"},
        {ISM_CF_CN, "192.168.1.10", -1, "IP address"},
        {ISM_CF_CN, "a..b", -1, "empty label"},
        {ISM_CF_CN, "-a.test", -1, "may not start or end with '-'"},
        {ISM_CF_CN, "", -1, "at most 64"},
        {ISM_CF_CN, "b\xc3\xbc" "cher.de", -1, "xn--"},
        {ISM_CF_SAN, "*.example.com", 0, "*.example.com"},
        {ISM_CF_SAN, "*", -1, "san:"},
        {ISM_CF_EMAIL, "Admin@Example.COM", 0, "Admin@example.com"},
        {ISM_CF_EMAIL, "admin", -1, "email: 'admin' is not a mail address"},
        {ISM_CF_EMAIL, "a b@example.com", -1, "email:"},
        {ISM_CF_EMAIL, "", -1, "at most 255"},
        {ISM_CF_KEY, "", 0, "rsa:2048"},
        {ISM_CF_KEY, "RSA:4096", 0, "rsa:4096"},
        {ISM_CF_KEY, "ec:prime256v1", 0, "ec:P-256"},
        {ISM_CF_KEY, "ec:p-384", 0, "ec:P-384"},
        {ISM_CF_KEY, "rsa:1024", -1, "key: RSA keys of 1024 bits are no longer safe"},
        {ISM_CF_KEY, "rsa:8192", -1, "not offered"},
        {ISM_CF_KEY, "dsa:2048", -1, "ec:P-256"},
    };
    // The long values (left empty above) must outlive the loop.
    std::string s129(129, 's'), o65(65, 'o'), cn65 = std::string(60, 'a') + ".test",
                                              e308 = std::string(60, 'a') + "@" + std::string(60, 'b') + "." +
                                                     std::string(60, 'c') + "." + std::string(60, 'd') + "." +
                                                     std::string(60, 'e') + ".com";
    cases[7].value = s129.c_str();
    cases[12].value = o65.c_str();
    cases[22].value = cn65.c_str();
    cases[29].value = e308.c_str();
    for (auto &c : cases) {
        char out[600] = "";
        ism_err e = {};
        int rc = ism_cert_field_check(c.f, c.value, out, sizeof out, &e);
        std::string label = std::string(ism_cert_field_name(c.f)) + " '" + c.value + "': " + e.msg;
        LONGS_EQUAL_TEXT(c.ok, rc, label.c_str());
        if (rc == 0) {
            STRCMP_EQUAL_TEXT(c.out_or_words, out, label.c_str());
        } else {
            STRCMP_CONTAINS_TEXT(c.out_or_words, e.msg, label.c_str());
            LONGS_EQUAL(ISM_E_INVALID, e.kind);
            STRCMP_CONTAINS(ism_cert_field_name(c.f), e.msg); // the message names the field
        }
    }
}

TEST(Cert, CsrRequestCheckReportsTheWrongField)
{
    ism_csr_req r = {};
    subject_fields(r);
    strcpy(r.cn, "example.com");
    strcpy(r.country, "USA");
    ism_cert_field bad = ISM_CF_NONE;
    LONGS_EQUAL(-1, ism_csr_req_check(&r, &bad, &err));
    LONGS_EQUAL(ISM_CF_COUNTRY, bad);
    strcpy(r.country, "us");
    strcpy(r.san[0], "www.example.com");
    strcpy(r.san[1], "bad name");
    r.n_san = 2;
    LONGS_EQUAL(-1, ism_csr_req_check(&r, &bad, &err));
    LONGS_EQUAL(ISM_CF_SAN, bad);
    r.n_san = 1;
    LONGS_EQUAL(0, ism_csr_req_check(&r, &bad, &err));
    STRCMP_EQUAL("US", r.country);
    STRCMP_EQUAL("rsa:2048", r.key);
    char advice[400];
    LONGS_EQUAL(0, ism_csr_req_advice(&r, advice, sizeof advice));
    strcpy(r.cn, "mail.example.com");
    LONGS_EQUAL(1, ism_csr_req_advice(&r, advice, sizeof advice));
    STRCMP_CONTAINS("WITHOUT a 'mail' or 'www' prefix", advice);
}

TEST(Cert, CsrRequestNeedsEveryFieldButTheOrganizationalUnit)
{
    static const struct {
        ism_cert_field f;
        const char *words;
    } required[] = {
        {ISM_CF_COUNTRY, "country: the 'Country Name' is required: always a 2-letter code (e.g. US or CA)"},
        {ISM_CF_STATE, "state: the 'State or Province Name' is required"},
        {ISM_CF_LOCALITY, "locality: the 'Locality Name' is required"},
        {ISM_CF_ORG, "org: the 'Organization Name' is required"},
        {ISM_CF_CN, "cn: the 'Common Name' is required: the name of the domain, generally WITHOUT any 'mail' or 'www'"},
        {ISM_CF_EMAIL, "email: the 'Email Address' is required: the mail account of the server administrator"},
    };
    for (auto &c : required) {
        ism_csr_req r = {};
        subject_fields(r);
        strcpy(r.cn, "example.com");
        char *v = c.f == ISM_CF_COUNTRY ? r.country : c.f == ISM_CF_STATE ? r.state : c.f == ISM_CF_LOCALITY ? r.locality
                  : c.f == ISM_CF_ORG ? r.org : c.f == ISM_CF_CN ? r.cn : r.email;
        strcpy(v, " ");  // spaces only: as good as left out
        ism_cert_field bad = ISM_CF_NONE;
        err = {};
        LONGS_EQUAL_TEXT(-1, ism_csr_req_check(&r, &bad, &err), ism_cert_field_name(c.f));
        LONGS_EQUAL_TEXT(c.f, bad, ism_cert_field_name(c.f));
        LONGS_EQUAL(ISM_E_INVALID, err.kind);
        STRCMP_CONTAINS(c.words, err.msg);
        CHECK(ism_cert_field_required(c.f));
        // Nothing is written for a request that misses a field.
        std::string before = folders_hash(p);
        LONGS_EQUAL(-1, ism_csr_new(&p, &r, 0, &res, &err));
        STRCMP_EQUAL(ism_cert_field_name(c.f), res.check[res.n_checks - 1].what);
        STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    }
    // The organizational unit, the key type and the extra names may be left out.
    CHECK(!ism_cert_field_required(ISM_CF_UNIT));
    CHECK(!ism_cert_field_required(ISM_CF_KEY));
    CHECK(!ism_cert_field_required(ISM_CF_SAN));
    LONGS_EQUAL(0, ism_cert_field_missing(ISM_CF_UNIT, &err));
    ism_csr_req r = {};
    subject_fields(r);
    strcpy(r.cn, "example.com");
    LONGS_EQUAL_TEXT(0, ism_csr_req_check(&r, NULL, &err), err.msg);
    // Too many extra names is said first, whatever the other fields (the
    // manager asks for that message with a request that has only a name).
    ism_csr_req probe = {};
    strcpy(probe.cn, "example.com");
    probe.n_san = ISM_CERT_MAX_SANS;
    ism_cert_field bad = ISM_CF_NONE;
    LONGS_EQUAL(-1, ism_csr_req_check(&probe, &bad, &err));
    LONGS_EQUAL(ISM_CF_SAN, bad);
    STRCMP_CONTAINS("extra names", err.msg);
}

TEST(Cert, CsrNewWritesAVerifiableRequestWithTheFieldsAndSans)
{
    ism_csr_req r = {};
    strcpy(r.country, "US");
    strcpy(r.state, "California");
    strcpy(r.locality, "Mountain View");
    strcpy(r.org, "InstantServers, Inc.");
    strcpy(r.unit, "Mail");
    strcpy(r.cn, "instantservers.test");
    strcpy(r.email, "postmaster@instantservers.test");
    strcpy(r.san[0], "www.instantservers.test");
    strcpy(r.san[1], "*.instantservers.test");
    r.n_san = 2;
    LONGS_EQUAL_TEXT(0, ism_csr_new(&p, &r, 0, &res, &err), err.msg); // default key: rsa:2048
    LONGS_EQUAL(2, res.n_written);
    ism_cert_info info;
    LONGS_EQUAL_TEXT(0, ism_cert_show(&p, "instantservers.test", 1, &info, &err), err.msg);
    STRCMP_EQUAL("pending", ism_cert_status_word(info.status));
    CHECK(info.signature_ok);
    STRCMP_EQUAL("C=US, ST=California, L=Mountain View, O=\"InstantServers, Inc.\", OU=Mail, CN=instantservers.test, "
                 "emailAddress=postmaster@instantservers.test",
                 info.subject);
    LONGS_EQUAL(3, info.n_san);
    STRCMP_EQUAL("instantservers.test", info.san[0]); // the CN is the first subjectAltName
    STRCMP_EQUAL("*.instantservers.test", info.san[2]);
    STRCMP_EQUAL("RSA", info.key_type);
    LONGS_EQUAL(2048, info.key_bits);
    LONGS_EQUAL(ISM_KEY_MATCH, info.key_state);
    LONGS_EQUAL(0, ism_cert_key_private(key("instantservers.test").c_str(), &err));
}

TEST(Cert, CsrNewNeverReplacesAKeySilently)
{
    ism_csr_req r = {};
    subject_fields(r);
    strcpy(r.cn, "mail.example.test");
    strcpy(r.key, "ec:P-256");
    LONGS_EQUAL_TEXT(0, ism_csr_new(&p, &r, 0, &res, &err), err.msg);
    CHECK(has_warning("cn", "WITHOUT a 'mail' or 'www' prefix"));
    std::string before = folders_hash(p);
    LONGS_EQUAL(-1, ism_csr_new(&p, &r, 0, &res, &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("mail.example.test.key already exists", err.msg);
    LONGS_EQUAL(ISM_FIX_FORCE, res.fix);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    LONGS_EQUAL_TEXT(0, ism_csr_new(&p, &r, 1, &res, &err), err.msg);
    LONGS_EQUAL(2, res.n_backup);
    LONGS_EQUAL(1, count_suffix(p.key, ".bak"));
    LONGS_EQUAL(1, count_suffix(p.csr, ".bak"));
    CHECK(strstr(res.backup[0], "mail.example.test.key.") != NULL);
    CHECK(strlen(strstr(res.backup[0], ".key.")) == strlen(".key.YYYYMMDD-HHMMSS.bak"));
    CHECK(before != folders_hash(p));
}

TEST(Cert, WeakKeyRequestIsRefusedBeforeAnythingIsWritten)
{
    ism_csr_req r = {};
    subject_fields(r);
    strcpy(r.cn, "example.test");
    strcpy(r.key, "rsa:1024");
    std::string before = folders_hash(p);
    LONGS_EQUAL(-1, ism_csr_new(&p, &r, 0, &res, &err));
    STRCMP_CONTAINS("no longer safe", err.msg);
    STRCMP_EQUAL("key", res.check[res.n_checks - 1].what);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    LONGS_EQUAL(0, count_suffix(p.csr, ".csr"));
}

// ---- list, remove, selfsign ----

TEST(Cert, ListGivesOneStatusWordPerInstalledCertificate)
{
    install_good();
    ism_err e = {};
    // expired.test: expired; nokey.test: no key; mismatch.test: another key; junk.test: unreadable
    X509 *old = make_cert("expired.test", "expired.test", fx().ec_key, fx().inter, fx().inter_key, false, -100, -1);
    std::string s = pem(old) + pem(fx().inter);
    X509_free(old);
    ism_fs_write_atomic(crt("expired.test").c_str(), s.data(), s.size(), 0, &e);
    ism_fs_write_atomic(key("expired.test").c_str(), pem(fx().ec_key).data(), pem(fx().ec_key).size(), 1, &e);
    s = pem(fx().ec_leaf) + pem(fx().inter);
    ism_fs_write_atomic(crt("nokey.test").c_str(), s.data(), s.size(), 0, &e);
    ism_fs_write_atomic(crt("mismatch.test").c_str(), s.data(), s.size(), 0, &e);
    ism_fs_write_atomic(key("mismatch.test").c_str(), pem(fx().other_key).data(), pem(fx().other_key).size(), 1, &e);
    ism_fs_write_atomic(crt("junk.test").c_str(), "junk", 4, 0, &e);
    ism_cert_info *v;
    size_t n;
    LONGS_EQUAL(0, ism_cert_list(&p, &v, &n, &err));
    LONGS_EQUAL(5, n);
    const char *want[][2] = {{"expired.test", "expired"},
                             {"ismail.test", "ok"},
                             {"junk.test", "unreadable"},
                             {"mismatch.test", "mismatch"},
                             {"nokey.test", "no key"}};
    for (size_t i = 0; i < n; i++) {
        STRCMP_EQUAL(want[i][0], v[i].domain);
        STRCMP_EQUAL_TEXT(want[i][1], ism_cert_status_word(v[i].status), v[i].problem);
        if (v[i].status != ISM_CS_OK)
            CHECK(v[i].problem[0]);
    }
    free(v);
}

TEST(Cert, RemoveKeepsBackupsThenDeletesThePair)
{
    install_good();
    LONGS_EQUAL_TEXT(0, ism_cert_remove(&p, "ISMail.test", &res, &err), err.msg);
    CHECK(!ism_fs_exists(crt("ismail.test").c_str()));
    CHECK(!ism_fs_exists(key("ismail.test").c_str()));
    LONGS_EQUAL(2, res.n_backup);
    LONGS_EQUAL(1, count_suffix(p.crt, ".bak"));
    LONGS_EQUAL(1, count_suffix(p.key, ".bak"));
    LONGS_EQUAL(-1, ism_cert_remove(&p, "ismail.test", &res, &err));
    STRCMP_CONTAINS("no certificate installed for ismail.test", err.msg);
    LONGS_EQUAL(-1, ism_cert_remove(&p, "../ismail.test", &res, &err));
    STRCMP_CONTAINS("not a domain name", err.msg);
}

TEST(Cert, SelfsignRefusesAnExistingPairWithoutForce)
{
    LONGS_EQUAL_TEXT(0, ism_cert_selfsign(&p, "self.test", 0, &res, &err), err.msg);
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "self.test", 0, &info, &err));
    CHECK(info.self_signed);
    STRCMP_EQUAL("ok", ism_cert_status_word(info.status));
    LONGS_EQUAL(-1, ism_cert_selfsign(&p, "self.test", 0, &res, &err));
    STRCMP_CONTAINS("never replaced silently", err.msg);
    LONGS_EQUAL(ISM_FIX_FORCE, res.fix);
    LONGS_EQUAL_TEXT(0, ism_cert_selfsign(&p, "self.test", 1, &res, &err), err.msg);
    LONGS_EQUAL(2, res.n_backup);
}

TEST(Cert, ShowAFileChecksItAgainstTheKeyOfItsName)
{
    install_good();
    ism_cert_info info;
    LONGS_EQUAL_TEXT(0, ism_cert_show(&p, crt("ismail.test").c_str(), 0, &info, &err), err.msg);
    LONGS_EQUAL(ISM_KEY_MATCH, info.key_state);
    LONGS_EQUAL(-1, ism_cert_show(&p, "nothing.test", 0, &info, &err));
    STRCMP_CONTAINS("no certificate installed for nothing.test", err.msg);
}

// ---- key protection ----

#ifdef _WIN32
// Adds an allow entry for Everyone, as a careless copy into a shared folder
// would. SetFileSecurityA rather than SetNamedSecurityInfo: Wine applies only
// the former to files (as Unix permission bits), Windows both.
static void open_to_everyone(const std::string &path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    CHECK(ConvertStringSecurityDescriptorToSecurityDescriptorA("D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)",
                                                               SDDL_REVISION_1, &sd, NULL));
    CHECK(SetFileSecurityA(path.c_str(), DACL_SECURITY_INFORMATION, sd));
    LocalFree(sd);
}
#define FIX_WORDS "icacls"
#else
static void open_to_everyone(const std::string &path)
{
    chmod(path.c_str(), 0644);
}
#define FIX_WORDS "chmod 600"
#endif

TEST(Cert, KeyOthersCanReadIsRefusedAtLoadNamingTheFileAndTheFix)
{
    install_good();
    std::string k = key("ismail.test");
    LONGS_EQUAL(0, ism_cert_key_private(k.c_str(), &err));
    open_to_everyone(k);
    LONGS_EQUAL(-1, ism_cert_key_private(k.c_str(), &err));
    STRCMP_CONTAINS(k.c_str(), err.msg);
    STRCMP_CONTAINS(FIX_WORDS, err.msg);
    // the service's loader refuses it too, naming the front ends' remedies
    ism_tls_gen *g = NULL;
    LONGS_EQUAL(-1, ism_tls_gen_build(&g, "intermediate", crt("ismail.test").c_str(), k.c_str(), &err));
    STRCMP_CONTAINS("ismailctl cert protect ismail.test", err.msg);
    STRCMP_CONTAINS("ismail.test.key", err.msg);
    // cert show and cert list report it
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ismail.test", 0, &info, &err));
    STRCMP_EQUAL("key not private", ism_cert_status_word(info.status));
    STRCMP_CONTAINS(FIX_WORDS, info.problem);
    // and an install that would use it refuses too, writing nothing
    std::string before = folders_hash(p);
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().inter));
    refused(install(f), "key", FIX_WORDS, before);
}

#ifndef _WIN32
TEST(Cert, KeyFolderAndKeysArePrivateOnDisk)
{
    install_good();
    struct stat st;
    LONGS_EQUAL(0, stat(p.key, &st));
    LONGS_EQUAL(0700, st.st_mode & 0777);
    LONGS_EQUAL(0, stat(key("ismail.test").c_str(), &st));
    LONGS_EQUAL(0600, st.st_mode & 0777);
}
#endif

// ---- install as a plan, then a commit ----

// An encrypted key as the three forms come: PKCS#8 PEM, the old PEM with a
// DEK-Info header, and PKCS#8 DER. None is told by its file name.
static std::string encrypted_key(EVP_PKEY *k, const char *password, int form)
{
    BIO *b = BIO_new(BIO_s_mem());
    void *u = (void *)password;
    if (form == 0)
        PEM_write_bio_PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, u);
    else if (form == 1)
        PEM_write_bio_PrivateKey_traditional(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, u);
    else
        i2d_PKCS8PrivateKey_bio(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, u);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    std::string s(p, (size_t)n);
    BIO_free(b);
    return s;
}

TEST(Cert, PlanWithSeparateKeyAndCaFileWritesNothingThenCommitWritesExactlyThePlan)
{
    std::string before = folders_hash(p);
    std::string f = put("leaf.crt", pem(fx().rsa_leaf));
    std::string k = put("leaf.key", pem(fx().rsa_key), true);
    std::string ca = put("ca.pem", pem(fx().inter) + pem(fx().root));
    LONGS_EQUAL_TEXT(0, plan_install(f, ca.c_str(), k.c_str()), err.msg);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str()); // the plan wrote nothing
    STRCMP_EQUAL("ismail.test", plan->res.domain);
    LONGS_EQUAL(0, plan->res.n_warnings);
    LONGS_EQUAL(0, plan->res.n_written);
    STRCMP_EQUAL(fingerprint(fx().rsa_leaf).c_str(), plan->cert.fingerprint);
    STRCMP_EQUAL(k.c_str(), plan->key_source);
    LONGS_EQUAL(0, plan->key_installed);
    // the CA file is the chain, up to the first of its certificates the
    // chain reaches (the intermediate; clients have the root)
    LONGS_EQUAL(1, plan->cert.n_chain);
    STRCMP_CONTAINS("Intermediate", plan->cert.chain[0].subject);
    LONGS_EQUAL(2, plan->n_files);
    char want[ISM_PATH_MAX + 300];
    ism_paths_file(want, sizeof want, p.key, "ismail.test", ".key"); // the system's separator
    STRCMP_EQUAL(want, plan->files[0].path);
    LONGS_EQUAL(1, plan->files[0].is_key);
    LONGS_EQUAL(ISM_PLAN_CREATE, plan->files[0].action);
    ism_paths_file(want, sizeof want, p.crt, "ismail.test", ".crt");
    STRCMP_EQUAL(want, plan->files[1].path);
    LONGS_EQUAL(ISM_PLAN_CREATE, plan->files[1].action);
    std::string want_crt(plan->files[1].data, plan->files[1].size), want_key(plan->files[0].data, plan->files[0].size);
    STRCMP_EQUAL((pem(fx().rsa_leaf) + pem(fx().inter)).c_str(), want_crt.c_str());

    LONGS_EQUAL_TEXT(0, ism_cert_install_commit(&p, plan, &res, &err), err.msg);
    LONGS_EQUAL(2, res.n_written);
    LONGS_EQUAL(0, res.n_backup);
    CHECK(want_crt == read(crt("ismail.test")));
    CHECK(want_key == read(key("ismail.test")));
    LONGS_EQUAL(0, ism_cert_key_private(key("ismail.test").c_str(), &err));
    ism_cert_info info;
    LONGS_EQUAL(0, ism_cert_show(&p, "ismail.test", 0, &info, &err));
    STRCMP_EQUAL("ok", ism_cert_status_word(info.status));
    // a plan is committed once
    std::string after = folders_hash(p);
    LONGS_EQUAL(-1, ism_cert_install_commit(&p, plan, &res, &err));
    STRCMP_EQUAL(after.c_str(), folders_hash(p).c_str());
}

TEST(Cert, PlanSaysWhatIsReplacedKeptOrUnchanged)
{
    install_good();
    std::string before = folders_hash(p);
    // the same again: both unchanged, and the commit writes nothing
    std::string bundle = put("good.pem", pem(fx().rsa_leaf) + pem(fx().inter));
    std::string k = put("good.key", pem(fx().rsa_key), true);
    std::string root = put("root.pem", pem(fx().root));
    LONGS_EQUAL_TEXT(0, plan_install(bundle, root.c_str(), k.c_str()), err.msg);
    LONGS_EQUAL(ISM_PLAN_UNCHANGED, plan->files[0].action);
    LONGS_EQUAL(ISM_PLAN_UNCHANGED, plan->files[1].action);
    LONGS_EQUAL_TEXT(0, ism_cert_install_commit(&p, plan, &res, &err), err.msg);
    LONGS_EQUAL(0, res.n_written);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    // without the root: the certificate file is replaced (kept as the .bak
    // the plan names), the key made with the CSR stays
    LONGS_EQUAL_TEXT(0, plan_install(bundle), err.msg);
    LONGS_EQUAL(1, plan->key_installed);
    LONGS_EQUAL(ISM_PLAN_UNCHANGED, plan->files[0].action);
    LONGS_EQUAL(ISM_PLAN_REPLACE, plan->files[1].action);
    STRCMP_CONTAINS(".crt.", plan->files[1].backup);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    std::string old_crt = read(crt("ismail.test"));
    LONGS_EQUAL_TEXT(0, ism_cert_install_commit(&p, plan, &res, &err), err.msg);
    LONGS_EQUAL(1, res.n_written);
    LONGS_EQUAL(1, res.n_backup);
    CHECK(old_crt == read(res.backup[0]));
    LONGS_EQUAL(1, count_suffix(p.crt, ".bak"));
    LONGS_EQUAL(0, count_suffix(p.key, ".bak"));
}

TEST(Cert, PfxNeedsAPasswordOrTakesTheRightOne)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("site.bin", pfx(fx().ec_leaf, fx().ec_key, fx().inter, "s3cret")); // no .pfx: told by content
    plan_refused(plan_install(f), ISM_E_NEED_PASSWORD, f, "parse", before);
    LONGS_EQUAL(ISM_FIX_PASSWORD, plan->res.fix);
    plan_refused(plan_install(f, NULL, NULL, "wrong"), ISM_E_BAD_PASSWORD, f, "parse", before);
    LONGS_EQUAL(ISM_FIX_PASSWORD, plan->res.fix);
    LONGS_EQUAL_TEXT(0, plan_install(f, NULL, NULL, "s3cret"), err.msg);
    STRCMP_EQUAL(f.c_str(), plan->key_source);
    LONGS_EQUAL(1, plan->cert.n_chain);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    LONGS_EQUAL_TEXT(0, ism_cert_install_commit(&p, plan, &res, &err), err.msg);
    LONGS_EQUAL(2, res.n_written);
    // a PFX without a password opens without one
    std::string open = put("open.p12", pfx(fx().rsa_leaf, fx().rsa_key, fx().inter, NULL));
    LONGS_EQUAL_TEXT(0, plan_install(open), err.msg);
}

TEST(Cert, EncryptedKeyNeedsAPasswordInEachFormAndIsInstalledWithoutOne)
{
    install_good();
    std::string before = folders_hash(p);
    std::string f = put("ec.crt", pem(fx().ec_leaf) + pem(fx().inter));
    for (int form = 0; form < 3; form++) {
        std::string k = put(form == 2 ? "ec-key.der" : "ec-key.txt", encrypted_key(fx().ec_key, "pw", form), true);
        plan_refused(plan_install(f, NULL, k.c_str()), ISM_E_NEED_PASSWORD, k, "key", before);
        LONGS_EQUAL(ISM_FIX_PASSWORD, plan->res.fix);
        plan_refused(plan_install(f, NULL, k.c_str(), "not-it"), ISM_E_BAD_PASSWORD, k, "key", before);
        LONGS_EQUAL_TEXT(0, plan_install(f, NULL, k.c_str(), "pw"), err.msg);
        STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    }
    LONGS_EQUAL_TEXT(0, ism_cert_install_commit(&p, plan, &res, &err), err.msg);
    std::string written = read(key("ec.ismail.test"));
    STRCMP_CONTAINS("-----BEGIN PRIVATE KEY-----", written.c_str());
    CHECK(written.find("ENCRYPTED") == std::string::npos); // the service starts unattended
}

TEST(Cert, PlanRefusalsLeaveTheFoldersByteIdentical)
{
    install_good();
    std::string before = folders_hash(p);
    // a key of another certificate
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().inter));
    std::string other = put("other.key", pem(fx().other_key), true);
    plan_refused(plan_install(f, NULL, other.c_str()), ISM_E_INVALID, other, "key", before);
    LONGS_EQUAL(ISM_FIX_KEY, plan->res.fix);
    // a certificate not yet valid
    std::string future = put("future.pem", pem(fx().future));
    std::string k = put("rsa.key", pem(fx().rsa_key), true);
    plan_refused(plan_install(future, NULL, k.c_str()), ISM_E_INVALID, future, "validity", before);
    STRCMP_CONTAINS("not valid before", err.msg);
    // a CA file the chain does not build to
    std::string stranger = put("stranger.pem", pem(fx().expired));
    plan_refused(plan_install(f, stranger.c_str(), k.c_str()), ISM_E_INVALID, stranger, "chain", before);
    LONGS_EQUAL(ISM_FIX_CA, plan->res.fix);
    // a missing file (certificate, key, CA file)
    std::string gone = dir + "/no-such.crt";
    LONGS_EQUAL(-1, plan_install(gone));
    STRCMP_CONTAINS("no-such.crt", err.msg);
    STRCMP_EQUAL(gone.c_str(), plan->file);
    LONGS_EQUAL(-1, plan_install(f, NULL, gone.c_str()));
    STRCMP_EQUAL(gone.c_str(), plan->file);
    LONGS_EQUAL(-1, plan_install(f, gone.c_str(), k.c_str()));
    STRCMP_EQUAL(gone.c_str(), plan->file);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
    // no key anywhere: the fix is the key file
    std::string ec = put("ec.pem", pem(fx().ec_leaf));
    LONGS_EQUAL(-1, plan_install(ec));
    LONGS_EQUAL(ISM_FIX_KEY, plan->res.fix);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
}

TEST(Cert, CommitRefusesWhenATargetChangedSinceThePlan)
{
    install_good();
    std::string f = put("leaf.pem", pem(fx().rsa_leaf) + pem(fx().inter));
    LONGS_EQUAL_TEXT(0, plan_install(f), err.msg);
    LONGS_EQUAL(ISM_PLAN_REPLACE, plan->files[1].action);
    // someone else installs in between
    std::string other = pem(fx().ec_leaf);
    LONGS_EQUAL(0, ism_fs_write_atomic(crt("ismail.test").c_str(), other.data(), other.size(), 0, &err));
    std::string before = folders_hash(p);
    LONGS_EQUAL(-1, ism_cert_install_commit(&p, plan, &res, &err));
    STRCMP_CONTAINS("changed since", err.msg);
    LONGS_EQUAL(0, res.n_written);
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
}

#ifndef _WIN32
// A write that fails half way is undone. With a long certificate folder and
// a long domain, the platform cannot make a temporary file beside the
// certificate (open_temp: path too long), while the key, in a short folder,
// is written: the commit must put the old key back and remove its .bak.
TEST(Cert, CommitThatFailsHalfWayPutsEverythingBack)
{
    std::string deep = dir;
    while (deep.size() < 1000)
        deep += "/" + std::string(200, 'd');
    deep.resize(1000);
    strcpy(p.crt, deep.c_str());
    std::string domain = std::string(63, 'a') + "." + std::string(20, 'b') + ".test"; // 89 characters
    X509 *leaf = make_cert(domain.c_str(), domain.c_str(), fx().rsa_key, fx().inter, fx().inter_key, false, -1, 90);
    std::string f = put("leaf.pem", pem(leaf) + pem(fx().inter));
    X509_free(leaf);
    std::string k = put("leaf.key", pem(fx().rsa_key), true);
    std::string old_key = pem(fx().other_key), kpath = key(domain.c_str());
    LONGS_EQUAL(0, ism_fs_write_atomic(kpath.c_str(), old_key.data(), old_key.size(), 1, &err));
    LONGS_EQUAL_TEXT(0, plan_install(f, NULL, k.c_str()), err.msg);
    LONGS_EQUAL(ISM_PLAN_REPLACE, plan->files[0].action);
    LONGS_EQUAL(ISM_PLAN_CREATE, plan->files[1].action);
    CHECK(strlen(plan->files[1].path) > 1080);
    std::string before = folders_hash(p);
    LONGS_EQUAL(-1, ism_cert_install_commit(&p, plan, &res, &err));
    LONGS_EQUAL(ISM_E_IO, err.kind);
    LONGS_EQUAL(0, res.n_written);
    LONGS_EQUAL(0, res.n_backup);
    CHECK(old_key == read(kpath));               // the old key is back
    LONGS_EQUAL(0, count_suffix(p.key, ".bak")); // and its .bak is gone
    STRCMP_EQUAL(before.c_str(), folders_hash(p).c_str());
}
#endif
