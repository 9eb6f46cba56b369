// Settings table: every type's validation, canonical forms and the
// cross-setting rule (no two listeners on one port).
#include "ism_settings.h"
#include "ism_platform.h"

#include <CppUTest/TestHarness.h>
#include <cstring>

TEST_GROUP(Settings){};

static int norm(const char *key, const char *value, char *out)
{
    int id = ism_setting_find(key);
    CHECK(id >= 0);
    ism_err err = {};
    return ism_setting_normalize((ism_setting_id)id, value, out, 128, &err);
}

TEST(Settings, EveryKeyIsFoundAndHasAValidDefault)
{
    for (int i = 0; i < ISM_SETTING_COUNT; i++) {
        char out[1024];
        ism_err err = {};
        LONGS_EQUAL(i, ism_setting_find(ism_setting_defs[i].key));
        LONGS_EQUAL(0, ism_setting_normalize((ism_setting_id)i, ism_setting_defs[i].def, out, sizeof out, &err));
        STRCMP_EQUAL(ism_setting_defs[i].def, out);
        CHECK(strlen(ism_setting_defs[i].desc) > 10);
    }
    LONGS_EQUAL(-1, ism_setting_find("smtp.tls.nonsense"));
}

TEST(Settings, ManualDefaults)
{
    ism_config c;
    ism_config_init(&c);
    LONGS_EQUAL(0, ism_config_bool(&c, ISM_S_SMTP_TLS_INCOMING));
    LONGS_EQUAL(25, ism_config_int(&c, ISM_S_SMTP_PORT));
    LONGS_EQUAL(995, ism_config_int(&c, ISM_S_POPS_PORT));
    LONGS_EQUAL(993, ism_config_int(&c, ISM_S_IMAPS_PORT));
    STRCMP_EQUAL("intermediate", ism_config_str(&c, ISM_S_TLS_PROFILE));
    LONGS_EQUAL(0, ism_config_check(&c, NULL));
    ism_config_free(&c);
}

TEST(Settings, BooleansAcceptTheUsualSpellings)
{
    char out[128];
    const char *on[] = {"on", "ON", "true", "Yes", "1"};
    const char *off[] = {"off", "False", "no", "0"};
    for (const char *v : on) {
        LONGS_EQUAL(0, norm("smtp.tls.incoming", v, out));
        STRCMP_EQUAL("on", out);
    }
    for (const char *v : off) {
        LONGS_EQUAL(0, norm("smtp.tls.incoming", v, out));
        STRCMP_EQUAL("off", out);
    }
    LONGS_EQUAL(-1, norm("smtp.tls.incoming", "maybe", out));
    LONGS_EQUAL(-1, norm("smtp.tls.incoming", "", out));
}

TEST(Settings, PortsAreRangeChecked)
{
    char out[128];
    LONGS_EQUAL(0, norm("smtp.port", "2525", out));
    STRCMP_EQUAL("2525", out);
    LONGS_EQUAL(0, norm("smtp.port", "65535", out));
    const char *bad[] = {"0", "65536", "70000", "-1", "25x", "", " 25", "+25"};
    for (const char *v : bad)
        LONGS_EQUAL(-1, norm("smtp.port", v, out));
}

TEST(Settings, ErrorNamesTheKeyTheValueAndWhatIsAllowed)
{
    char out[128];
    ism_err err = {};
    LONGS_EQUAL(-1, ism_setting_normalize(ISM_S_SMTP_PORT, "70000", out, sizeof out, &err));
    LONGS_EQUAL(ISM_E_INVALID, err.kind);
    STRCMP_CONTAINS("smtp.port", err.msg);
    STRCMP_CONTAINS("70000", err.msg);
    STRCMP_CONTAINS("1 to 65535", err.msg);
    LONGS_EQUAL(-1, ism_setting_normalize(ISM_S_TLS_PROFILE, "old", out, sizeof out, &err));
    STRCMP_CONTAINS("tls.profile", err.msg);
    STRCMP_CONTAINS("intermediate|modern", err.msg);
}

TEST(Settings, ProfileIsOneOfItsChoices)
{
    char out[128];
    LONGS_EQUAL(0, norm("tls.profile", "Modern", out));
    STRCMP_EQUAL("modern", out);
    LONGS_EQUAL(-1, norm("tls.profile", "mod", out));
    LONGS_EQUAL(-1, norm("tls.profile", "modernx", out));
}

TEST(Settings, Addresses)
{
    char out[128];
    const char *good[] = {"0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1"};
    const char *bad[] = {"", "256.0.0.1", "1.2.3", "1.2.3.4.5", "localhost", "1::2::3", "01234.1.1.1"};
    for (const char *v : good)
        LONGS_EQUAL(0, norm("listen.address", v, out));
    for (const char *v : bad)
        LONGS_EQUAL(-1, norm("listen.address", v, out));
}

TEST(Settings, HostNames)
{
    char out[128];
    LONGS_EQUAL(0, norm("server.hostname", "Mail.Example.COM", out));
    STRCMP_EQUAL("mail.example.com", out);
    LONGS_EQUAL(0, norm("server.hostname", "", out));
    const char *bad[] = {"-a.com", "a..com", "a b", "a-.com", "under_score.com", "a.com."};
    for (const char *v : bad)
        LONGS_EQUAL(-1, norm("server.hostname", v, out));
}

TEST(Settings, DuplicatePortsAreRefusedNamingBothKeys)
{
    ism_config c;
    ism_err err = {};
    ism_config_init(&c);
    ism_config_put(&c, ISM_S_POP_PORT, "25");
    LONGS_EQUAL(-1, ism_config_check(&c, &err));
    STRCMP_CONTAINS("smtp.port", err.msg);
    STRCMP_CONTAINS("pop.port", err.msg);
    ism_config_free(&c);
}

// ism_time: the hand-computed UTC calendar used in mail, IMAP and HTTP dates.
#include "ism_time.h"

TEST_GROUP(Time){};

TEST(Time, KnownDates)
{
    ism_utc t;
    ism_utc_from_ms(0, &t);
    LONGS_EQUAL(1970, t.year);
    LONGS_EQUAL(1, t.month);
    LONGS_EQUAL(1, t.day);
    STRCMP_EQUAL("Thu", ism_wday_abbr[t.wday]);
    ism_utc_from_ms(784111777000LL, &t); // RFC 9110's example: Sun, 06 Nov 1994 08:49:37 GMT
    LONGS_EQUAL(1994, t.year);
    STRCMP_EQUAL("Nov", ism_month_abbr[t.month - 1]);
    LONGS_EQUAL(6, t.day);
    LONGS_EQUAL(8, t.hour);
    LONGS_EQUAL(49, t.min);
    LONGS_EQUAL(37, t.sec);
    STRCMP_EQUAL("Sun", ism_wday_abbr[t.wday]);
    ism_utc_from_ms(951782400000LL, &t); // 2000-02-29, a leap day in a century year
    LONGS_EQUAL(2000, t.year);
    LONGS_EQUAL(2, t.month);
    LONGS_EQUAL(29, t.day);
    STRCMP_EQUAL("Tue", ism_wday_abbr[t.wday]);
    ism_utc_from_ms(-1000, &t); // one second before the epoch
    LONGS_EQUAL(1969, t.year);
    LONGS_EQUAL(12, t.month);
    LONGS_EQUAL(31, t.day);
    LONGS_EQUAL(23, t.hour);
    LONGS_EQUAL(59, t.sec);
    STRCMP_EQUAL("Wed", ism_wday_abbr[t.wday]);
}

TEST(Settings, HostnameIsTheSettingElseTheMachineName)
{
    ism_config c;
    ism_config_init(&c);
    char got[256], machine[256];
    ism_plat_hostname(machine, sizeof machine);
    ism_config_hostname(&c, got, sizeof got);
    STRCMP_EQUAL(machine, got);
    CHECK(got[0] != '\0');
    ism_config_put(&c, ISM_S_SERVER_HOSTNAME, "mail.example.com");
    ism_config_hostname(&c, got, sizeof got);
    STRCMP_EQUAL("mail.example.com", got);
    ism_config_free(&c);
}

TEST(Settings, CopyIsDeepAndWhole)
{
    ism_config a, b;
    ism_config_init(&a);
    ism_config_put(&a, ISM_S_SMTP_TLS_OUTGOING, "on");
    a.revision = 42;
    a.web = static_cast<ism_web_domain *>(calloc(1, sizeof *a.web));
    strcpy(a.web[0].domain, "web.example.com");
    a.n_web = 1;
    LONGS_EQUAL(0, ism_config_copy(&b, &a));
    ism_config_put(&a, ISM_S_SMTP_TLS_OUTGOING, "off");
    strcpy(a.web[0].domain, "changed.example.com");
    CHECK_TRUE(ism_config_bool(&b, ISM_S_SMTP_TLS_OUTGOING));
    LONGS_EQUAL(42, b.revision);
    LONGS_EQUAL(1, b.n_web);
    STRCMP_EQUAL("web.example.com", b.web[0].domain);
    for (int i = 0; i < ISM_SETTING_COUNT; i++)
        CHECK(b.value[i] != nullptr && b.value[i] != a.value[i]);
    ism_config_free(&a);
    ism_config_free(&b);
}
