/* Key protection (ism_keyprotect): which file a name means, telling a key
 * others can read from a private one, the service's refusal naming both
 * remedies, and restricting it. A key is opened to others the way it happens
 * to administrators: POSIX mode 0644 (a file made under umask 022), Windows
 * an access list that lets Everyone read (a file moved in from another
 * folder keeps the entries it had there; under Wine this becomes mode 0644). */
#include "ism_keyprotect.h"
#include "ism_platform.h"
#include "testdir.h"

#include <cstring>
#include <string>

#include <CppUTest/TestHarness.h>

#ifdef _WIN32
#include <windows.h>
#include <sddl.h>
#else
#include <sys/stat.h>
#endif

static const char PEM[] = "-----BEGIN PRIVATE KEY-----\n(test data, not a key)\n-----END PRIVATE KEY-----\n";

/* Lets everyone read path, as a key made elsewhere and moved in. */
static void open_to_everyone(const std::string &path)
{
#ifdef _WIN32
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t w[MAX_PATH];
    MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, w, MAX_PATH);
    CHECK(ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)",
                                                               SDDL_REVISION_1, &sd, NULL));
    CHECK(SetFileSecurityW(w, DACL_SECURITY_INFORMATION, sd));
    LocalFree(sd);
#else
    CHECK_EQUAL(0, chmod(path.c_str(), 0644));
#endif
}

TEST_GROUP(KeyProtect)
{
    std::string dir;
    ism_paths p;
    ism_err err;
    void setup() override
    {
        dir = ism_test_mkdtemp();
        ism_paths_init(&p, dir.c_str());
        memset(&err, 0, sizeof err);
        LONGS_EQUAL_TEXT(0, ism_paths_ensure(&p, &err), err.msg);
    }
    void teardown() override
    {
        ism_test_rmtree(dir);
    }
    std::string key(const char *name)
    {
        char out[ISM_PATH_MAX + 300];
        ism_paths_file(out, sizeof out, p.key, name, ".key");
        return out;
    }
    /* A key as ISMail writes it: private. */
    std::string put_key(const char *name)
    {
        std::string k = key(name);
        LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(k.c_str(), PEM, sizeof PEM - 1, 1, &err), err.msg);
        return k;
    }
};

/* NAME is a certificate's name (the manual's mydomain.com.key), a key file
 * name, or a path given as is. */
TEST(KeyProtect, NameMeansTheKeyInSslKey)
{
    char out[ISM_PATH_MAX + 300];
    LONGS_EQUAL(0, ism_key_path(&p, "example.com", out, sizeof out, &err));
    STRCMP_EQUAL(key("example.com").c_str(), out);
    LONGS_EQUAL(0, ism_key_path(&p, "example.com.key", out, sizeof out, &err));
    STRCMP_EQUAL(key("example.com").c_str(), out);
    LONGS_EQUAL(0, ism_key_path(&p, "Example.COM.KEY", out, sizeof out, &err));
    STRCMP_EQUAL((std::string(p.key) + ISM_PATH_SEP + "Example.COM.KEY").c_str(), out);
    std::string elsewhere = dir + ISM_PATH_SEP + "req.key";
    LONGS_EQUAL(0, ism_key_path(&p, elsewhere.c_str(), out, sizeof out, &err));
    STRCMP_EQUAL(elsewhere.c_str(), out);
    LONGS_EQUAL(-1, ism_key_path(&p, "", out, sizeof out, &err));
    LONGS_EQUAL(ISM_E_USAGE, err.kind);
}

/* A key ISMail wrote passes; opened to others, it is refused with the file,
 * who can read it and both remedies; restricted by name, it passes again,
 * and a second restriction has nothing to do. */
TEST(KeyProtect, OpenKeyIsRefusedNamingBothRemediesUntilProtected)
{
    std::string k = put_key("example.com");
    char who[600], was[700], path[ISM_PATH_MAX + 300];
    LONGS_EQUAL_TEXT(0, ism_key_exposed(k.c_str(), who, sizeof who, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_key_check(k.c_str(), &err), err.msg);

    open_to_everyone(k);
    LONGS_EQUAL(1, ism_key_exposed(k.c_str(), who, sizeof who, &err));
    CHECK_TEXT(who[0] != '\0', "who can read it is named");
    LONGS_EQUAL(-1, ism_key_check(k.c_str(), &err));
    LONGS_EQUAL(ISM_E_TLS, err.kind);
    STRCMP_CONTAINS(k.c_str(), err.msg);
    STRCMP_CONTAINS(who, err.msg);
    STRCMP_CONTAINS("\"Restrict access\"", err.msg);
    STRCMP_CONTAINS("ismailctl cert protect example.com", err.msg);

    LONGS_EQUAL_TEXT(1, ism_key_protect_name(&p, "example.com", path, sizeof path, was, sizeof was, &err), err.msg);
    STRCMP_EQUAL(k.c_str(), path);
    CHECK_TEXT(was[0] != '\0', "what others had is said");
    LONGS_EQUAL_TEXT(0, ism_key_exposed(k.c_str(), who, sizeof who, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_key_check(k.c_str(), &err), err.msg);
#ifndef _WIN32
    struct stat st;
    CHECK_EQUAL(0, stat(k.c_str(), &st));
    LONGS_EQUAL(0600, st.st_mode & 0777);
#endif
    LONGS_EQUAL(0, ism_key_protect(k.c_str(), was, sizeof was, &err));
    STRCMP_EQUAL("", was);
}

/* A key not named *.key is named by its quoted path in the remedy, so that
 * the command given restricts that very file. */
TEST(KeyProtect, KeyNotNamedDotKeyIsNamedByItsPath)
{
    std::string k = dir + ISM_PATH_SEP + "web key.pem";
    LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(k.c_str(), PEM, sizeof PEM - 1, 0, &err), err.msg);
    open_to_everyone(k);
    LONGS_EQUAL(-1, ism_key_check(k.c_str(), &err));
    STRCMP_CONTAINS(("ismailctl cert protect \"" + k + "\"").c_str(), err.msg);
    char was[700];
    LONGS_EQUAL_TEXT(1, ism_key_protect_name(&p, k.c_str(), NULL, 0, was, sizeof was, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_key_check(k.c_str(), &err), err.msg);
}

/* What is not a private key keeps its permissions: a folder, a certificate. */
TEST(KeyProtect, OnlyKeyFilesAreRestricted)
{
    char was[700];
    std::string crt = dir + ISM_PATH_SEP + "example.com.crt";
    static const char cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(crt.c_str(), cert, sizeof cert - 1, 0, &err), err.msg);
    open_to_everyone(crt);
    LONGS_EQUAL(-1, ism_key_protect(crt.c_str(), was, sizeof was, &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("is not a private key", err.msg);
    char who[600];
    LONGS_EQUAL(1, ism_key_exposed(crt.c_str(), who, sizeof who, &err));
    LONGS_EQUAL(-1, ism_key_protect_name(&p, dir.c_str(), NULL, 0, was, sizeof was, &err));
}

/* Nothing to restrict: a name without a key fails naming the file it
 * looked for; so does a missing path. */
TEST(KeyProtect, MissingKeyIsNamed)
{
    char was[700], path[ISM_PATH_MAX + 300];
    LONGS_EQUAL(-1, ism_key_protect_name(&p, "absent.example", path, sizeof path, was, sizeof was, &err));
    LONGS_EQUAL(ISM_E_IO, err.kind);
    STRCMP_CONTAINS(key("absent.example").c_str(), err.msg);
    STRCMP_CONTAINS("does not exist", err.msg);
    LONGS_EQUAL(-1, ism_key_protect(key("absent.example").c_str(), was, sizeof was, &err));
    char who[600];
    LONGS_EQUAL(-1, ism_key_exposed(key("absent.example").c_str(), who, sizeof who, &err));
}
