// ism_buf: appending nothing touches nothing (an empty IMAP line once made
// it call memcpy with a null pointer, which UBSan reports), and a failed
// allocation marks the buffer instead of ending the process.
#include "ism_buf.h"

#include <CppUTest/TestHarness.h>
#include <cstdint>
#include <cstring>

TEST_GROUP(Buf){};

TEST(Buf, AddingNothingToAnEmptyBufferLeavesItEmpty)
{
    ism_buf b = {};
    ism_buf_add(&b, nullptr, 0);
    ism_buf_add(&b, "", 0);
    POINTERS_EQUAL(nullptr, b.p);
    LONGS_EQUAL(0, b.len);
    LONGS_EQUAL(0, b.oom);
}

TEST(Buf, AnAllocationThatFailsMarksTheBuffer)
{
    ism_buf b = {};
    ism_buf_add(&b, "abc", 3);
    // No machine has this much memory: the append fails and says so.
    ism_buf_add(&b, "x", SIZE_MAX / 2);
    LONGS_EQUAL(1, b.oom);
    LONGS_EQUAL(3, b.len);
    MEMCMP_EQUAL("abc", b.p, 3);
    ism_buf_printf(&b, "%s", "more"); // nothing more is appended once marked
    LONGS_EQUAL(3, b.len);
    ism_buf_free(&b);
    LONGS_EQUAL(0, b.oom);
}

TEST(Buf, PrintfAndConsume)
{
    ism_buf b = {};
    for (int i = 0; i < 1000; i++)
        ism_buf_printf(&b, "%04d\r\n", i);
    LONGS_EQUAL(6000, b.len);
    ism_buf_consume(&b, 5994);
    MEMCMP_EQUAL("0999\r\n", b.p, 6);
    ism_buf_consume(&b, 100);
    LONGS_EQUAL(0, b.len);
    ism_buf_free(&b);
}
