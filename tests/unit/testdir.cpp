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
