// IP address kinds (ism_addr): the ranges behind the manual's public-IP note,
// one table row per address.
#include "ism_addr.h"

#include <CppUTest/TestHarness.h>
#include <cstring>

TEST_GROUP(Addr){};

TEST(Addr, ClassifiesEveryRange)
{
    static const struct {
        const char *ip;
        ism_addr_kind kind;
    } rows[] = {
        {"203.0.113.7", ISM_ADDR_PUBLIC},      {"8.8.8.8", ISM_ADDR_PUBLIC},
        {"0.0.0.0", ISM_ADDR_ANY},             {"::", ISM_ADDR_ANY},
        {"10.0.0.1", ISM_ADDR_PRIVATE},        {"10.255.255.255", ISM_ADDR_PRIVATE},
        {"172.16.0.1", ISM_ADDR_PRIVATE},      {"172.31.255.254", ISM_ADDR_PRIVATE},
        {"172.15.0.1", ISM_ADDR_PUBLIC},       {"172.32.0.1", ISM_ADDR_PUBLIC},
        {"192.168.1.10", ISM_ADDR_PRIVATE},    {"192.169.1.10", ISM_ADDR_PUBLIC},
        {"100.64.0.1", ISM_ADDR_PRIVATE},      {"100.127.255.255", ISM_ADDR_PRIVATE},
        {"100.128.0.1", ISM_ADDR_PUBLIC},      {"169.254.3.4", ISM_ADDR_LINK_LOCAL},
        {"169.253.3.4", ISM_ADDR_PUBLIC},      {"127.0.0.1", ISM_ADDR_LOOPBACK},
        {"127.1.2.3", ISM_ADDR_LOOPBACK},      {"::1", ISM_ADDR_LOOPBACK},
        {"0:0:0:0:0:0:0:1", ISM_ADDR_LOOPBACK}, {"fe80::1", ISM_ADDR_LINK_LOCAL},
        {"FEBF::abcd", ISM_ADDR_LINK_LOCAL},   {"fec0::1", ISM_ADDR_PUBLIC},
        {"fd12:3456::1", ISM_ADDR_PRIVATE},    {"fc00::", ISM_ADDR_PRIVATE},
        {"2001:db8::10", ISM_ADDR_PUBLIC},     {"2001:db8:0:0:0:0:0:10", ISM_ADDR_PUBLIC},
        {"::ffff:192.168.0.1", ISM_ADDR_PRIVATE}, {"::ffff:198.51.100.1", ISM_ADDR_PUBLIC},
        {"::ffff:127.0.0.1", ISM_ADDR_LOOPBACK},
        {"", ISM_ADDR_INVALID},                {"256.1.1.1", ISM_ADDR_INVALID},
        {"1.2.3", ISM_ADDR_INVALID},           {"1.2.3.4.5", ISM_ADDR_INVALID},
        {" 10.0.0.1", ISM_ADDR_INVALID},       {"10.0.0.1 ", ISM_ADDR_INVALID},
        {"1234.1.1.1", ISM_ADDR_INVALID},      {"mail.example.com", ISM_ADDR_INVALID},
        {"fe80:::1", ISM_ADDR_INVALID},        {"1::2::3", ISM_ADDR_INVALID},
        {"1:2:3:4:5:6:7", ISM_ADDR_INVALID},   {"1:2:3:4:5:6:7:8:9", ISM_ADDR_INVALID},
        {"12345::1", ISM_ADDR_INVALID},        {"fe80::1:", ISM_ADDR_INVALID},
        {":1::", ISM_ADDR_INVALID},            {"::ffff:300.1.1.1", ISM_ADDR_INVALID},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ism_addr_kind k = ism_addr_classify(rows[i].ip);
        if (k != rows[i].kind)
            FAIL(rows[i].ip);
    }
    LONGS_EQUAL(ISM_ADDR_INVALID, ism_addr_classify(NULL));
}

TEST(Addr, WarningOnlyForPrivateLinkLocalAndLoopback)
{
    char w[400];
    LONGS_EQUAL(1, ism_addr_public_warning("192.168.1.10", w, sizeof w));
    STRCMP_CONTAINS("192.168.1.10 is a private (LAN) address", w);
    STRCMP_CONTAINS("unless the server is used only on the LAN", w);
    LONGS_EQUAL(1, ism_addr_public_warning("169.254.0.9", w, sizeof w));
    STRCMP_CONTAINS("link-local", w);
    LONGS_EQUAL(1, ism_addr_public_warning("127.0.0.1", w, sizeof w));
    STRCMP_CONTAINS("loopback", w);
    LONGS_EQUAL(1, ism_addr_public_warning("fd00::5", w, sizeof w));
    const char *none[] = {"203.0.113.7", "0.0.0.0", "::", "not an address", ""};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        LONGS_EQUAL(0, ism_addr_public_warning(none[i], w, sizeof w));
        STRCMP_EQUAL("", w);
    }
}
