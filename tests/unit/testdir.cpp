// Temporary folders for the unit tests.
#include "testdir.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#ifdef _WIN32
#include <windows.h>
#include <shellapi.h>

std::string ism_test_mkdtemp()
{
    char base[MAX_PATH], name[MAX_PATH];
    GetTempPathA(MAX_PATH, base);
    static unsigned counter;
    for (;;) {
        snprintf(name, sizeof name, "%sismail-test-%lu-%u", base, (unsigned long)GetCurrentProcessId(), counter++);
        if (CreateDirectoryA(name, NULL))
            return name;
    }
}

void ism_test_rmtree(const std::string &dir)
{
    std::string from = dir + std::string(1, '\0');
    SHFILEOPSTRUCTA op = {};
    op.wFunc = FO_DELETE;
    op.pFrom = from.c_str();
    op.fFlags = FOF_NO_UI;
    SHFileOperationA(&op);
}
#else
#include <unistd.h>

std::string ism_test_mkdtemp()
{
    const char *t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ismail-test-XXXXXX";
    char *p = mkdtemp(&tmpl[0]);
    return p ? std::string(p) : std::string();
}

void ism_test_rmtree(const std::string &dir)
{
    std::string cmd = "rm -rf '" + dir + "'";
    if (system(cmd.c_str()) != 0)
        fprintf(stderr, "cannot remove %s\n", dir.c_str());
}
#endif

std::string ism_test_b64(const std::string &in)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out += a[v >> 18];
        out += a[v >> 12 & 63];
        out += a[v >> 6 & 63];
        out += a[v & 63];
    }
    if (in.size() - i == 1) {
        unsigned v = (unsigned char)in[i] << 16;
        out += a[v >> 18];
        out += a[v >> 12 & 63];
        out += "==";
    } else if (in.size() - i == 2) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += a[v >> 18];
        out += a[v >> 12 & 63];
        out += a[v >> 6 & 63];
        out += '=';
    }
    return out;
}
