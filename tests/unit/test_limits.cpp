// ism_limits: the per-address connection cap, the per-address budget of
// message data in transit, and the back-off and lockout after failed logins
// (per address and per account), with times passed in.
#include "ism_limits.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(Limits)
{
    ism_limits *l = nullptr;
    ism_err err = {};
    void setup() override
    {
        LONGS_EQUAL_TEXT(0, ism_limits_new(&l, &err), err.msg);
        ism_limits_cfg cfg = {3, 1000, 4, 60000};
        ism_limits_configure(l, &cfg);
    }
    void teardown() override
    {
        ism_limits_free(l);
    }
};

TEST(Limits, ConnectionsPerAddressAreCapped)
{
    for (int i = 0; i < 3; i++)
        LONGS_EQUAL(0, ism_limits_conn_open(l, "192.0.2.1"));
    LONGS_EQUAL(-1, ism_limits_conn_open(l, "192.0.2.1"));
    LONGS_EQUAL(3, ism_limits_conns(l, "192.0.2.1"));
    LONGS_EQUAL(0, ism_limits_conn_open(l, "192.0.2.2")); // another address is not affected
    ism_limits_conn_close(l, "192.0.2.1");
    LONGS_EQUAL(0, ism_limits_conn_open(l, "192.0.2.1"));
}

TEST(Limits, ZeroMeansNoConnectionLimit)
{
    ism_limits_cfg cfg = {0, 0, 4, 60000};
    ism_limits_configure(l, &cfg);
    for (int i = 0; i < 500; i++)
        LONGS_EQUAL(0, ism_limits_conn_open(l, "192.0.2.1"));
    LONGS_EQUAL(500, ism_limits_conns(l, "192.0.2.1"));
}

TEST(Limits, DataBudgetPerAddress)
{
    LONGS_EQUAL(0, ism_limits_data_reserve(l, "192.0.2.1", 600));
    LONGS_EQUAL(-1, ism_limits_data_reserve(l, "192.0.2.1", 600)); // 1200 > 1000
    LONGS_EQUAL(0, ism_limits_data_reserve(l, "192.0.2.1", 400));
    LONGS_EQUAL(0, ism_limits_data_reserve(l, "192.0.2.9", 1000));
    ism_limits_data_release(l, "192.0.2.1", 1000);
    LONGS_EQUAL(0, ism_limits_data_reserve(l, "192.0.2.1", 1000));
}

TEST(Limits, FailedLoginsBackOffThenLockTheAddressOut)
{
    int64_t t = 1000000, retry = 0;
    ism_limits_failure f = ism_limits_auth_failed(l, "192.0.2.1", "a@example.test", t);
    LONGS_EQUAL(250, f.delay_ms);
    f = ism_limits_auth_failed(l, "192.0.2.1", "b@example.test", t);
    LONGS_EQUAL(500, f.delay_ms); // the address's second failure, whatever the account
    f = ism_limits_auth_failed(l, "192.0.2.1", "c@example.test", t);
    LONGS_EQUAL(1000, f.delay_ms);
    LONGS_EQUAL(0, f.addr_locked);
    LONGS_EQUAL(0, ism_limits_auth_allowed(l, "192.0.2.1", "d@example.test", t, &retry));
    f = ism_limits_auth_failed(l, "192.0.2.1", "d@example.test", t);
    LONGS_EQUAL(1, f.addr_locked);
    LONGS_EQUAL(0, f.account_locked);
    LONGS_EQUAL(-1, ism_limits_auth_allowed(l, "192.0.2.1", "e@example.test", t + 1000, &retry));
    LONGS_EQUAL(59000, retry);
    LONGS_EQUAL(0, ism_limits_auth_allowed(l, "192.0.2.2", "e@example.test", t + 1000, &retry));
    // After the lockout time the address may try again, with a fresh count.
    LONGS_EQUAL(0, ism_limits_auth_allowed(l, "192.0.2.1", "e@example.test", t + 60000, &retry));
    f = ism_limits_auth_failed(l, "192.0.2.1", "e@example.test", t + 60000);
    LONGS_EQUAL(250, f.delay_ms);
}

TEST(Limits, FailedLoginsLockTheAccountOutFromEveryAddress)
{
    int64_t t = 5000, retry = 0;
    for (int i = 0; i < 4; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "192.0.2.%d", 10 + i);
        ism_limits_failure f = ism_limits_auth_failed(l, addr, "Victim@Example.Test", t);
        LONGS_EQUAL(i == 3, f.account_locked);
    }
    LONGS_EQUAL(-1, ism_limits_auth_allowed(l, "198.51.100.1", "victim@example.test", t, &retry));
    LONGS_EQUAL(0, ism_limits_auth_allowed(l, "198.51.100.1", "other@example.test", t, &retry));
}

TEST(Limits, DelayGrowsToItsCap)
{
    ism_limits_cfg cfg = {0, 0, 100, 60000};
    ism_limits_configure(l, &cfg);
    ism_limits_failure f = {};
    for (int i = 0; i < 20; i++)
        f = ism_limits_auth_failed(l, "192.0.2.1", "a@example.test", 0);
    LONGS_EQUAL(ISM_LIMITS_MAX_DELAY_MS, f.delay_ms);
}

TEST(Limits, SuccessForgetsTheAccountsFailuresNotTheAddresss)
{
    ism_limits_auth_failed(l, "192.0.2.1", "a@example.test", 0);
    ism_limits_auth_failed(l, "192.0.2.1", "a@example.test", 0);
    ism_limits_auth_ok(l, "192.0.2.1", "a@example.test", 0);
    ism_limits_failure f = ism_limits_auth_failed(l, "192.0.2.7", "a@example.test", 0);
    LONGS_EQUAL(250, f.delay_ms); // the account starts again
    f = ism_limits_auth_failed(l, "192.0.2.1", "z@example.test", 0);
    LONGS_EQUAL(1000, f.delay_ms); // the address's third failure
}

TEST(Limits, SweepDropsWhatIsNoLongerCounted)
{
    ism_limits_conn_open(l, "192.0.2.1");
    ism_limits_auth_failed(l, "192.0.2.2", "a@example.test", 0);
    LONGS_EQUAL(3, ism_limits_entries(l));
    ism_limits_sweep(l, 1000);
    LONGS_EQUAL(3, ism_limits_entries(l)); // failures are remembered for the lockout time
    ism_limits_sweep(l, 60000);
    LONGS_EQUAL(1, ism_limits_entries(l)); // the open connection
    ism_limits_conn_close(l, "192.0.2.1");
    ism_limits_sweep(l, 60000);
    LONGS_EQUAL(0, ism_limits_entries(l));
}
