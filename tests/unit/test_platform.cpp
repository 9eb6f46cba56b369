/* The platform layer's view of the machine. */
#include "ism_platform.h"

#include <CppUTest/TestHarness.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <sched.h>
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
