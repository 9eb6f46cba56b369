// TLS generations: the first-start self-signed certificate, building a
// context from it, fingerprints, and refusals that name the file.
#include "ism_platform.h"
#include "ism_tls.h"
#include "testdir.h"

#include <CppUTest/TestHarness.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <cstring>
#include <string>

TEST_GROUP(Tls)
{
    std::string dir, crt, key;
    void setup() override
    {
        dir = ism_test_mkdtemp();
        crt = dir + "/host.test.crt";
        key = dir + "/host.test.key";
    }
    void teardown() override
    {
        ism_test_rmtree(dir);
    }
};

TEST(Tls, SelfSignedCertificateBuildsAContext)
{
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_tls_selfsign("host.test", crt.c_str(), key.c_str(), &err), err.msg);
    ism_tls_gen *g = nullptr;
    LONGS_EQUAL_TEXT(0, ism_tls_gen_build(&g, "intermediate", crt.c_str(), key.c_str(), &err), err.msg);
    // 32 bytes as upper-case hex pairs joined by colons.
    LONGS_EQUAL(32 * 3 - 1, strlen(ism_tls_gen_fingerprint(g)));
    LONGS_EQUAL(TLS1_2_VERSION, SSL_CTX_get_min_proto_version(ism_tls_gen_ctx(g)));
    ism_tls_gen *ref = ism_tls_gen_ref(g);
    ism_tls_gen_unref(g);
    CHECK(ism_tls_gen_ctx(ref) != nullptr); // still alive through the second reference
    ism_tls_gen_unref(ref);

    LONGS_EQUAL(0, ism_tls_gen_build(&g, "modern", crt.c_str(), key.c_str(), &err));
    LONGS_EQUAL(TLS1_3_VERSION, SSL_CTX_get_min_proto_version(ism_tls_gen_ctx(g)));
    ism_tls_gen_unref(g);
}

TEST(Tls, KeyOfAnotherCertificateIsRefusedNamingBothFiles)
{
    std::string crt2 = dir + "/other.crt", key2 = dir + "/other.key";
    ism_err err = {};
    LONGS_EQUAL(0, ism_tls_selfsign("host.test", crt.c_str(), key.c_str(), &err));
    LONGS_EQUAL(0, ism_tls_selfsign("other.test", crt2.c_str(), key2.c_str(), &err));
    ism_tls_gen *g = nullptr;
    LONGS_EQUAL(-1, ism_tls_gen_build(&g, "intermediate", crt.c_str(), key2.c_str(), &err));
    STRCMP_CONTAINS("other.key", err.msg);
    STRCMP_CONTAINS("does not match", err.msg);
}

TEST(Tls, MissingOrGarbageCertificateIsNamed)
{
    ism_err err = {};
    ism_tls_gen *g = nullptr;
    LONGS_EQUAL(-1, ism_tls_gen_build(&g, "intermediate", crt.c_str(), key.c_str(), &err));
    STRCMP_CONTAINS("host.test.crt", err.msg);
    LONGS_EQUAL(0, ism_fs_write_atomic(crt.c_str(), "garbage\n", 8, 0, &err));
    LONGS_EQUAL(-1, ism_tls_gen_build(&g, "intermediate", crt.c_str(), key.c_str(), &err));
    STRCMP_CONTAINS("no PEM certificate", err.msg);
}

/* A certificate OpenSSL's security level refuses (one installed by an older
 * version, or dropped in by another tool) is named with the reason and what
 * to do, in the same words `ismailctl cert install` uses. */
TEST(Tls, CertificateTooWeakForTlsIsExplained)
{
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"host.test", -1,
                               -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, weak);
    CHECK(X509_sign(x, weak, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(crt.c_str(), data, (size_t)n, 0, &err), err.msg);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(weak);
    ism_tls_gen *g = nullptr;
    LONGS_EQUAL(-1, ism_tls_gen_build(&g, "intermediate", crt.c_str(), key.c_str(), &err));
    STRCMP_CONTAINS("host.test.crt: certificate refused: it has a key of 1024 bits (RSA), which OpenSSL refuses for TLS",
                    err.msg);
    STRCMP_CONTAINS("1024-bit RSA is too weak", err.msg);
    /* The manual's command, as it must be typed instead of its rsa:1024 one. */
    STRCMP_CONTAINS("make a new key and CSR with: openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem "
                    "-outform PEM -nodes",
                    err.msg);
}
