// ism_str: ASCII case folding for protocol keywords, host names and setting
// values, the same whatever the C library's locale.
#include "ism_str.h"

#include <CppUTest/TestHarness.h>

#include <string.h>

TEST_GROUP(Str){};

TEST(Str, EqualityIgnoresAsciiCaseOnly)
{
    struct { const char *a, *b; int eq; } rows[] = {
        {"Mail.Example.COM", "mail.example.com", 1},
        {"", "", 1},
        {"abc", "abcd", 0},
        {"abcd", "abc", 0},
        {"[", "{", 0},      /* '[' + 32 is '{': only A-Z fold */
        {"@", "`", 0},
        {"\xc4\xb0", "i", 0}, /* a UTF-8 capital I with dot is not an ASCII I */
        {"QUIT", "quit", 1},
    };
    for (auto &r : rows) {
        CHECK_EQUAL_TEXT(r.eq, ism_str_ieq(r.a, r.b), r.a);
        CHECK_EQUAL_TEXT(r.eq, ism_str_ieqn(r.a, strlen(r.a), r.b), r.a);
    }
}

TEST(Str, OrderingIsStrcmpOnLowerCase)
{
    CHECK(ism_str_icmp("Alpha", "beta") < 0);
    CHECK(ism_str_icmp("beta", "ALPHA") > 0);
    CHECK(ism_str_icmp("Example.ORG", "example.org") == 0);
    CHECK(ism_str_icmp("ab", "AB c") < 0);
}

TEST(Str, LengthBoundedCompareReadsOnlyItsBytes)
{
    const char line[] = {'S', 'i', 'Z', 'e', '='}; /* not NUL-terminated */
    CHECK_TRUE(ism_str_ieqn(line, 4, "SIZE"));
    CHECK_FALSE(ism_str_ieqn(line, 3, "SIZE"));
    CHECK_TRUE(ism_str_iprefix(line, sizeof line, "size"));
    CHECK_FALSE(ism_str_iprefix(line, 2, "size"));
}

TEST(Str, VerbIsFollowedByEndOrSpace)
{
    struct { const char *line, *verb; int is; } rows[] = {
        {"QUIT", "QUIT", 1},
        {"quit", "QUIT", 1},
        {"Mail FROM:<a@b>", "MAIL", 1},
        {"QUITX", "QUIT", 0},
        {"QUI", "QUIT", 0},
        {"QUIT\tx", "QUIT", 0},
        {"", "QUIT", 0},
    };
    for (auto &r : rows)
        CHECK_EQUAL_TEXT(r.is, ism_str_verb_is(r.line, strlen(r.line), r.verb), r.line);
}

TEST(Str, LowerAllFoldsInPlace)
{
    char s[] = "Mail.EXAMPLE.com[1]";
    STRCMP_EQUAL("mail.example.com[1]", ism_str_lower_all(s));
}

TEST(Str, ByteCompareStopsAtN)
{
    CHECK_TRUE(ism_str_ieq_bytes("Mail.Example.", "mail.example.com", 13));
    CHECK_FALSE(ism_str_ieq_bytes("Mail.Example.", "mail.examplE-com", 13));
    CHECK_TRUE(ism_str_ieq_bytes("x", "y", 0));
}
