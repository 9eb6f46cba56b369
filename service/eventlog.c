/* eventlog: ISMail's entries in the Windows event log (see eventlog.h). */
#include "eventlog.h"
#include "messages.h" /* generated from messages.mc in the build folder */

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_NAME L"ISMail"
#define SOURCE_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\ISMail"
#define TYPES_SUPPORTED (EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE)

#define BURST_MAX 30           /* warnings and errors forwarded per window */
#define BURST_WINDOW_MS 60000

static HANDLE source;
static char data_folder[1100];
/* The rate limit; the delivery threads log too. */
static SRWLOCK burst_lock = SRWLOCK_INIT;
static ULONGLONG burst_start;
static unsigned burst_count;

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

int ism_eventlog_install(int *changed, ism_err *err)
{
    wchar_t exe[MAX_PATH], have[MAX_PATH + 1];
    DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
    *changed = 0;
    if (n == 0 || n >= MAX_PATH)
        return ism_err_set(err, ISM_E_IO, "event log source: cannot find this program's path (error %lu)",
                           (unsigned long)GetLastError());
    HKEY key;
    LONG rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, SOURCE_KEY, 0, NULL, 0, KEY_QUERY_VALUE | KEY_SET_VALUE, NULL,
                              &key, NULL);
    if (rc != ERROR_SUCCESS)
        return ism_err_set(err, ISM_E_IO,
                           "event log source: cannot create HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\"
                           "Application\\ISMail (error %ld); the entries will show without their text",
                           (long)rc);
    DWORD type = 0, size = sizeof have - sizeof have[0];
    memset(have, 0, sizeof have);
    rc = RegQueryValueExW(key, L"EventMessageFile", NULL, &type, (BYTE *)have, &size);
    if (rc != ERROR_SUCCESS || (type != REG_SZ && type != REG_EXPAND_SZ) || _wcsicmp(have, exe) != 0) {
        rc = RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                            (DWORD)((wcslen(exe) + 1) * sizeof exe[0]));
        if (rc == ERROR_SUCCESS)
            *changed = 1;
    }
    DWORD types = 0;
    size = sizeof types;
    LONG rc2 = RegQueryValueExW(key, L"TypesSupported", NULL, &type, (BYTE *)&types, &size);
    if (rc == ERROR_SUCCESS && (rc2 != ERROR_SUCCESS || type != REG_DWORD || types != TYPES_SUPPORTED)) {
        types = TYPES_SUPPORTED;
        rc = RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
        if (rc == ERROR_SUCCESS)
            *changed = 1;
    }
    RegCloseKey(key);
    if (rc != ERROR_SUCCESS)
        return ism_err_set(err, ISM_E_IO, "event log source: cannot write its values (error %ld)", (long)rc);
    return 0;
}

void ism_eventlog_open(const char *data_dir)
{
    snprintf(data_folder, sizeof data_folder, "%s", data_dir ? data_dir : "");
    if (!source)
        source = RegisterEventSourceW(NULL, SOURCE_NAME);
}

void ism_eventlog_close(void)
{
    if (source)
        DeregisterEventSource(source);
    source = NULL;
}

void ism_eventlog_report(unsigned long id, const char *s1, const char *s2)
{
    if (!source)
        return;
    WORD type;
    switch (id >> 30) { /* the severity bits of a message id */
    case STATUS_SEVERITY_ERROR:
        type = EVENTLOG_ERROR_TYPE;
        break;
    case STATUS_SEVERITY_WARNING:
        type = EVENTLOG_WARNING_TYPE;
        break;
    default:
        type = EVENTLOG_INFORMATION_TYPE;
        break;
    }
    const wchar_t *strings[2];
    wchar_t *w1 = s1 ? widen(s1) : NULL, *w2 = s2 ? widen(s2) : NULL;
    WORD n = 0;
    if (w1) {
        strings[n++] = w1;
        if (w2)
            strings[n++] = w2;
    }
    ReportEventW(source, type, 0, (DWORD)id, NULL, n, 0, n ? strings : NULL, NULL);
    free(w1);
    free(w2);
}

void ism_eventlog_log_sink(ism_log_level level, const char *text)
{
    if (level == ISM_LOG_INFO) {
        long long rev;
        if (sscanf(text, "applied settings revision %lld", &rev) == 1) {
            char num[32];
            snprintf(num, sizeof num, "%lld", rev);
            ism_eventlog_report(ISM_MSG_SETTINGS_APPLIED, num, text);
        }
        return;
    }
    if (level != ISM_LOG_WARN && level != ISM_LOG_ERROR)
        return;
    if (strncmp(text, "cannot start: ", 14) == 0)
        return; /* the caller reports ISM_MSG_START_FAILED */
    /* A flood (a client hammering a full server, a certificate failing on
     * every check) must not fill the event log: the service log has it all. */
    ULONGLONG now = GetTickCount64();
    AcquireSRWLockExclusive(&burst_lock);
    if (now - burst_start >= BURST_WINDOW_MS) {
        burst_start = now;
        burst_count = 0;
    }
    unsigned count = ++burst_count;
    ReleaseSRWLockExclusive(&burst_lock);
    if (count > BURST_MAX) {
        if (count == BURST_MAX + 1) {
            char num[16];
            snprintf(num, sizeof num, "%d", BURST_MAX);
            ism_eventlog_report(ISM_MSG_SUPPRESSED, num, data_folder);
        }
        return;
    }
    ism_eventlog_report(level == ISM_LOG_ERROR ? ISM_MSG_APPLY_ERROR : ISM_MSG_WARNING, text, NULL);
}
