/* The platform layer's view of the machine, its atomic writes and private
 * files, the data folder made private, and the log's escaping of control
 * characters. */
#include "ism_log.h"
#include "ism_paths.h"
#include "ism_platform.h"
#include "testdir.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include <CppUTest/TestHarness.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

TEST_GROUP(Platform){};

/* One worker per processor the service may run on: a process limited to one
 * processor (Windows affinity mask, Linux taskset or cpuset) counts one, and
 * gets its full count back with its old mask. */
TEST(Platform, CpuCountFollowsTheProcessAffinity)
{
    int all = ism_plat_cpu_count();
    CHECK(all >= 1);
#ifdef _WIN32
    DWORD_PTR proc = 0, sys = 0;
    CHECK(GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys));
    DWORD_PTR lowest = proc & (~proc + 1);
    CHECK(SetProcessAffinityMask(GetCurrentProcess(), lowest));
    LONGS_EQUAL(1, ism_plat_cpu_count());
    CHECK(SetProcessAffinityMask(GetCurrentProcess(), proc));
#else
    cpu_set_t old, one;
    CHECK_EQUAL(0, sched_getaffinity(0, sizeof old, &old));
    CPU_ZERO(&one);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &old)) {
            CPU_SET(i, &one);
            break;
        }
    CHECK_EQUAL(0, sched_setaffinity(0, sizeof one, &one));
    LONGS_EQUAL(1, ism_plat_cpu_count());
    CHECK_EQUAL(0, sched_setaffinity(0, sizeof old, &old));
#endif
    LONGS_EQUAL(all, ism_plat_cpu_count());
}

/* The whole of a (small) file. */
static std::string slurp(const std::string &path)
{
    char *data = nullptr;
    size_t len = 0;
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_fs_read(path.c_str(), 1 << 20, &data, &len, &err), err.msg);
    std::string s(data, len);
    free(data);
    return s;
}

/* ---- the log: control characters are escaped ---- */

static std::string sunk;
static void sink(ism_log_level level, const char *text)
{
    (void)level;
    sunk = text;
}

TEST_GROUP(Log)
{
    std::string dir;
    void setup() override
    {
        dir = ism_test_mkdtemp();
        sunk.clear();
        ism_log_open(nullptr, 0);
        ism_log_set_sink(sink);
    }
    void teardown() override
    {
        ism_log_set_sink(nullptr);
        ism_log_open(nullptr, 1);
        std::string().swap(sunk); /* its memory is the test's */
        ism_test_rmtree(dir);
    }
};

/* A client's user name with a colour sequence, a line break, a tab, DEL and
 * another control byte: each is written as an escape, UTF-8 and backslashes
 * as they are. */
TEST(Log, ControlCharactersAreEscaped)
{
    ism_log(ISM_LOG_INFO, "pop3: failed login for %s from %s", "a\x1b[31mb\r\nc\td\x7f\x01\xc3\xa9\\e", "192.0.2.1");
    STRCMP_EQUAL("pop3: failed login for a\\x1b[31mb\\r\\nc\\td\\x7f\\x01\xc3\xa9\\e from 192.0.2.1", sunk.c_str());
}

/* In the file too, the line is one line: the only bytes below 0x20 are its
 * end (LF, CR LF on Windows). */
TEST(Log, TheFileGetsOneLinePerMessage)
{
    std::string path = dir + "/" ISM_LOG_FILE;
    ism_log_open(path.c_str(), 0);
    ism_log(ISM_LOG_WARN, "smtp: authentication failed for '%s'", "x\r\n2026-01-01T00:00:00.000Z info: forged\x1b[2J");
    ism_log_close();
    std::string text = slurp(path);
#ifdef _WIN32
    const std::string end = "\r\n"; /* the file is opened in text mode */
#else
    const std::string end = "\n";
#endif
    CHECK_TEXT(text.size() > end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0, text.c_str());
    text.resize(text.size() - end.size());
    for (size_t i = 0; i < text.size(); i++)
        CHECK_TEXT((unsigned char)text[i] >= 0x20 && text[i] != 0x7f, text.c_str());
    STRCMP_CONTAINS(" warning: smtp: authentication failed for 'x\\r\\n2026-01-01T00:00:00.000Z info: forged\\x1b[2J'",
                    text.c_str());
}

/* A message of nothing but control bytes fills the line with whole escapes:
 * no escape is cut in two, nothing overflows. */
TEST(Log, ALongMessageIsCutBetweenEscapes)
{
    std::string esc(1100, '\x1b');
    ism_log(ISM_LOG_INFO, "%s", esc.c_str());
    CHECK(sunk.size() > 1000 && sunk.size() < 1200);
    LONGS_EQUAL(0, sunk.size() % 4);
    STRCMP_EQUAL("\\x1b", sunk.substr(sunk.size() - 4).c_str());
}

/* ---- files: atomic writes, private files, the data folder ---- */

static void add_name(const char *name, void *ctx)
{
    static_cast<std::set<std::string> *>(ctx)->insert(name);
}

/* The names of the regular files in dir (dot files aside). */
static std::set<std::string> listing(const std::string &dir)
{
    std::set<std::string> names;
    ism_err err = {};
    LONGS_EQUAL_TEXT(0, ism_fs_list(dir.c_str(), "", add_name, &names, &err), err.msg);
    return names;
}

TEST_GROUP(Files)
{
    std::string dir;
    ism_err err = {};
    void setup() override
    {
        dir = ism_test_mkdtemp();
    }
    void teardown() override
    {
        ism_test_rmtree(dir);
    }
    void put(const std::string &path, const std::string &data, int private_file = 0)
    {
        LONGS_EQUAL_TEXT(0, ism_fs_write_atomic(path.c_str(), data.data(), data.size(), private_file, &err), err.msg);
    }
};

/* The temporary file goes away in the rename: after two writes the folder
 * holds the file and nothing else. */
TEST(Files, TwoAtomicWritesLeaveNoTemporaryFile)
{
    std::string path = dir + "/settings.txt";
    put(path, "first");
    put(path, "second, longer", 1);
    STRCMP_EQUAL("second, longer", slurp(path).c_str());
    std::set<std::string> names = listing(dir);
    LONGS_EQUAL(1, names.size());
    STRCMP_EQUAL("settings.txt", names.begin()->c_str());
}

#ifndef _WIN32
/* Another local user who can write to the folder plants a link at the
 * temporary name an older version used (PATH.tmp<pid>), pointing at a file
 * of the service's: the write must neither follow it (the victim keeps its
 * bytes) nor use that name at all (the link is still there afterwards). */
TEST(Files, AtomicWriteDoesNotFollowALinkAtThePredictableTemporaryName)
{
    std::string victim = dir + "/victim.db", path = dir + "/example.test.key";
    std::string predictable = path + ".tmp" + std::to_string((long)getpid());
    put(victim, "precious");
    CHECK_EQUAL(0, symlink(victim.c_str(), predictable.c_str()));
    put(path, "-----BEGIN PRIVATE KEY-----\n", 1);
    STRCMP_EQUAL("precious", slurp(victim).c_str());
    STRCMP_EQUAL("-----BEGIN PRIVATE KEY-----\n", slurp(path).c_str());
    struct stat st;
    CHECK_EQUAL(0, lstat(predictable.c_str(), &st));
    CHECK_TEXT(S_ISLNK(st.st_mode), "the planted link was replaced or renamed: the predictable name was used");
    CHECK_EQUAL(0, lstat(path.c_str(), &st));
    CHECK_TEXT(S_ISREG(st.st_mode), "the key is not a regular file");
    LONGS_EQUAL(0600, st.st_mode & 0777);
    std::set<std::string> names = listing(dir), want = {"victim.db", "example.test.key"};
    want.insert(predictable.substr(dir.size() + 1)); /* the link, listed as its target is a file */
    CHECK_TEXT(names == want, "a temporary file was left behind");
}

static unsigned mode_of(const std::string &path)
{
    struct stat st;
    CHECK_EQUAL_TEXT(0, lstat(path.c_str(), &st), path.c_str());
    return (unsigned)(st.st_mode & 0777);
}

/* 0644 and 0755 lose the group and other bits once; a missing file and a
 * private one are left alone; a link is refused, naming it, untouched. */
TEST(Files, MakePrivateClearsGroupAndOtherBitsOnce)
{
    char was[64];
    std::string f = dir + "/mail.db", d = dir + "/folder", l = dir + "/link.db";
    put(f, "x");
    CHECK_EQUAL(0, chmod(f.c_str(), 0644));
    CHECK_EQUAL(0, mkdir(d.c_str(), 0755));
    CHECK_EQUAL(0, chmod(d.c_str(), 0755));
    LONGS_EQUAL_TEXT(1, ism_fs_make_private(f.c_str(), was, sizeof was, &err), err.msg);
    STRCMP_EQUAL("mode 644", was);
    LONGS_EQUAL(0600, mode_of(f));
    LONGS_EQUAL_TEXT(1, ism_fs_make_private(d.c_str(), was, sizeof was, &err), err.msg);
    STRCMP_EQUAL("mode 755", was);
    LONGS_EQUAL(0700, mode_of(d));
    LONGS_EQUAL(0, ism_fs_make_private(f.c_str(), was, sizeof was, &err));
    STRCMP_EQUAL("", was);
    LONGS_EQUAL(0, ism_fs_make_private((dir + "/missing.db").c_str(), was, sizeof was, &err));
    std::string outside = dir + "/outside";
    put(outside, "y");
    CHECK_EQUAL(0, chmod(outside.c_str(), 0644));
    CHECK_EQUAL(0, symlink(outside.c_str(), l.c_str()));
    LONGS_EQUAL(-1, ism_fs_make_private(l.c_str(), was, sizeof was, &err));
    STRCMP_CONTAINS(l.c_str(), err.msg);
    STRCMP_CONTAINS("symbolic link", err.msg);
    LONGS_EQUAL(0644, mode_of(outside));
}

/* An installation an older version left open: the known files and then the
 * folder are restricted and listed with their old modes; a second run finds
 * nothing to do; a missing folder is created 0700. */
TEST(Files, SecureDataRestrictsTheKnownFilesAndTheFolder)
{
    ism_paths p;
    char done[2048];
    std::string data = dir + "/data";
    CHECK_EQUAL(0, mkdir(data.c_str(), 0755));
    CHECK_EQUAL(0, chmod(data.c_str(), 0755));
    for (const char *n : {"ismail.db", "mail.db-wal", "queue.db", "ismail-service.log", "notes.txt"}) {
        put(data + "/" + n, "x");
        CHECK_EQUAL(0, chmod((data + "/" + n).c_str(), 0644));
    }
    CHECK_EQUAL(0, chmod((data + "/queue.db").c_str(), 0600));
    ism_paths_init(&p, data.c_str());
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    std::string want = "ismail.db (mode 644), mail.db-wal (mode 644), ismail-service.log (mode 644), data folder " +
                       data + " (mode 755)";
    STRCMP_EQUAL(want.c_str(), done);
    LONGS_EQUAL(0700, mode_of(data));
    LONGS_EQUAL(0600, mode_of(data + "/ismail.db"));
    LONGS_EQUAL(0600, mode_of(data + "/mail.db-wal"));
    LONGS_EQUAL(0600, mode_of(data + "/ismail-service.log"));
    LONGS_EQUAL(0644, mode_of(data + "/notes.txt")); /* not one of ours */
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    STRCMP_EQUAL("", done);

    ism_paths_init(&p, (dir + "/new/data").c_str());
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    STRCMP_EQUAL("", done);
    LONGS_EQUAL(0700, mode_of(dir + "/new/data"));
}
#endif

/* Once restricted, the data folder needs nothing more (both platforms; on
 * Windows the first run may or may not find a stranger in %TEMP%'s list). */
TEST(Files, SecureDataTwiceHasNothingLeftToDo)
{
    ism_paths p;
    char done[2048];
    std::string data = dir + "/data";
    ism_paths_init(&p, data.c_str());
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    put(data + "/ismail.db", "x");
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    LONGS_EQUAL_TEXT(0, ism_paths_secure_data(&p, done, sizeof done, &err), err.msg);
    STRCMP_EQUAL("", done);
}
