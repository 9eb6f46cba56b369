/* page_service.c: the Service tab.
 *
 * Once a second: the ISMail service's state from the service control manager
 * (QueryServiceStatusEx), the revision it applied from the store against the
 * store's own (ism_store_read_status, ism_store_revision), its last error, and
 * per listener the port, open or closed, TLS, the certificate served and the
 * listener's last error; for the selected TLS listener, which certificate
 * (file, names, expiry) serves clients without SNI and which serves which
 * SNI names. Start, Stop and Restart ask the service control
 * manager; Restart stops, waits (on the same timer, never blocking the
 * window) until the service has stopped, then starts it. When the service is
 * not installed or not running the page says so plainly; the other tabs keep
 * editing the store, which the service reads when it starts. */
#include "app.h"
#include "resource.h"

#include <commctrl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define SERVICE_NAME L"ISMail"
#define TIMER_REFRESH 1
#define REFRESH_MS 1000
#define RESTART_TIMEOUT_S 30

typedef enum { SVC_UNKNOWN, SVC_NOT_INSTALLED, SVC_STATE } svc_kind;

static struct {
    int restart_pending;
    int64_t restart_deadline;
    int have_shown;                 /* listeners shown at least once */
    int not_running;                /* installed, and not running */
    ism_listener_state shown[ISM_MAX_LISTENERS];
    int n_shown;
    ism_cert_state certs[ISM_MAX_STATUS_CERTS]; /* the certificates every TLS listener chooses from */
    int n_certs;
} g_svc;

/* The system's words for a Windows error, as UTF-8. */
static void system_message(DWORD code, char *out, size_t outsz)
{
    wchar_t w[512];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, w, 512, NULL);
    while (n && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L' ' || w[n - 1] == L'.'))
        w[--n] = L'\0';
    if (!n) {
        char num[16];
        snprintf(num, sizeof num, "%lu", (unsigned long)code);
        mgr_text_utf8(out, outsz, IDS_WINDOWS_ERROR, num, NULL);
        return;
    }
    mgr_narrow(w, out, outsz);
}

/* Sets a control's text only when it changed: no flicker once a second. */
static void set_if_changed(HWND page, int id, const wchar_t *text)
{
    wchar_t cur[MGR_TEXT_MAX];
    GetDlgItemTextW(page, id, cur, MGR_TEXT_MAX);
    if (wcscmp(cur, text) != 0)
        SetDlgItemTextW(page, id, text);
}

static void set_ids(HWND page, int id, UINT ids, const char *a1, const char *a2, const char *a3)
{
    wchar_t *t = mgr_format(ids, a1, a2, a3, NULL);
    set_if_changed(page, id, t);
    free(t);
}

/* Opens the service with the given rights; kind tells why not. */
static SC_HANDLE open_service(DWORD rights, svc_kind *kind, DWORD *error)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    SC_HANDLE svc = NULL;
    *error = 0;
    if (!scm) {
        *error = GetLastError();
        *kind = SVC_UNKNOWN;
        return NULL;
    }
    svc = OpenServiceW(scm, SERVICE_NAME, rights);
    if (!svc) {
        *error = GetLastError();
        *kind = *error == ERROR_SERVICE_DOES_NOT_EXIST ? SVC_NOT_INSTALLED : SVC_UNKNOWN;
    } else {
        *kind = SVC_STATE;
    }
    CloseServiceHandle(scm);
    return svc;
}

/* The state from the service control manager: 0 and the status, or -1. */
static int query(SERVICE_STATUS_PROCESS *st, svc_kind *kind, DWORD *error)
{
    SC_HANDLE svc = open_service(SERVICE_QUERY_STATUS, kind, error);
    DWORD need;
    if (!svc)
        return -1;
    int ok = QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof *st, &need);
    if (!ok) {
        *error = GetLastError();
        *kind = SVC_UNKNOWN;
    }
    CloseServiceHandle(svc);
    return ok ? 0 : -1;
}

/* A time (ms since 1970) in the user's date and time formats. */
static void local_time(int64_t ms, char *out, size_t outsz)
{
    ULARGE_INTEGER u;
    u.QuadPart = (ULONGLONG)(ms * 10000LL + 116444736000000000LL);
    FILETIME ft = {u.LowPart, u.HighPart};
    SYSTEMTIME utc, st;
    wchar_t d[64] = L"", t[64] = L"", w[140];
    if (FileTimeToSystemTime(&ft, &utc) && SystemTimeToTzSpecificLocalTime(NULL, &utc, &st)) {
        GetDateFormatW(LOCALE_USER_DEFAULT, DATE_SHORTDATE, &st, NULL, d, 64);
        GetTimeFormatW(LOCALE_USER_DEFAULT, 0, &st, NULL, t, 64);
    }
    wsprintfW(w, L"%s %s", d, t);
    mgr_narrow(w, out, outsz);
}

/* "AB:CD:EF:01...89:AB": enough to tell certificates apart in a column; the
 * whole fingerprint is under the list. */
static void short_fp(const char *fp, char *out, size_t outsz)
{
    size_t n = strlen(fp);
    if (n > 24)
        snprintf(out, outsz, "%.11s...%s", fp, fp + n - 5);
    else
        snprintf(out, outsz, "%s", fp);
}

static void word(UINT ids, char *out, size_t outsz)
{
    mgr_text_utf8(out, outsz, ids, NULL, NULL);
}

/* "FILE (names a, b; expires DATE[, EXPIRED])" for certificate c, in the
 * string table's words. */
static void describe_cert(const ism_cert_state *c, char *out, size_t outsz)
{
    const char *base = c->file;
    for (const char *p = c->file; *p; p++)
        if (*p == '\\' || *p == '/')
            base = p + 1;
    char until[140], none[64], mark[64] = "";
    local_time(c->not_after * 1000, until, sizeof until);
    word(IDS_SVC_CERT_NO_NAMES, none, sizeof none);
    int64_t now = (int64_t)time(NULL);
    if (now > c->not_after)
        word(IDS_SVC_CERT_EXPIRED, mark, sizeof mark);
    else if (now < c->not_before)
        word(IDS_SVC_CERT_NOT_YET, mark, sizeof mark);
    wchar_t *w = mgr_format(IDS_SVC_CERT, base, c->names[0] ? c->names : none, until, mark);
    mgr_narrow(w, out, outsz);
    free(w);
}

/* For a TLS listener: which certificate serves clients without SNI (the
 * listener's fingerprint), and which serves which SNI names. malloc'd. */
static char *cert_lines(const ism_listener_state *l)
{
    size_t cap = 1200 * (size_t)(g_svc.n_certs + 2), n = 0;
    char *out = malloc(cap), one[1000], line[1200];
    if (!out || !g_svc.n_certs) {
        free(out);
        return NULL;
    }
    out[0] = '\0';
    for (int i = 0; i < g_svc.n_certs; i++)
        if (strcmp(g_svc.certs[i].fingerprint, l->fingerprint) == 0) {
            describe_cert(&g_svc.certs[i], one, sizeof one);
            mgr_text_utf8(line, sizeof line, IDS_SVC_CERT_NO_SNI, one, NULL);
            n += (size_t)snprintf(out + n, cap - n, "\r\n%s", line);
            break;
        }
    word(IDS_SVC_CERT_BY_SNI, line, sizeof line);
    n += (size_t)snprintf(out + n, cap - n, "\r\n%s", line);
    for (int i = 0; i < g_svc.n_certs && n < MGR_TEXT_MAX - 1200; i++) { /* the control holds MGR_TEXT_MAX */
        const ism_cert_state *c = &g_svc.certs[i];
        describe_cert(c, one, sizeof one);
        if (c->fallback)
            mgr_text_utf8(line, sizeof line, IDS_SVC_CERT_FALLBACK, one, NULL);
        else
            snprintf(line, sizeof line, "%s", one);
        n += (size_t)snprintf(out + n, cap - n, "\r\n  %s", line);
    }
    return out;
}

static void show_detail(HWND page)
{
    HWND lv = GetDlgItem(page, IDC_SVC_LIST);
    int row = mgr_lv_selected(lv);
    if (g_svc.n_shown == 0 && g_svc.not_running) {
        set_ids(page, IDC_SVC_DETAIL, IDS_SVC_NOT_RUNNING, NULL, NULL, NULL);
        return;
    }
    if (row < 0 || row >= g_svc.n_shown) {
        set_ids(page, IDC_SVC_DETAIL, IDS_SVC_DETAIL_NONE, NULL, NULL, NULL);
        return;
    }
    const ism_listener_state *l = &g_svc.shown[row];
    char port[16], none[64], fp[128], errw[300];
    snprintf(port, sizeof port, "%d", l->port);
    word(IDS_NO_CERT, none, sizeof none);
    snprintf(fp, sizeof fp, "%s", l->fingerprint[0] ? l->fingerprint : none);
    if (l->error[0])
        snprintf(errw, sizeof errw, "%s", l->error);
    else
        word(IDS_SVC_NO_ERROR, errw, sizeof errw);
    wchar_t *t = mgr_format(IDS_SVC_DETAIL, l->name, port, fp, errw);
    char *certs = l->tls ? cert_lines(l) : NULL;
    wchar_t *wc = certs ? mgr_widen(certs) : NULL;
    size_t n1 = t ? wcslen(t) : 0, n2 = wc ? wcslen(wc) : 0;
    wchar_t *all = malloc((n1 + n2 + 1) * sizeof *all);
    if (all) {
        wmemcpy(all, t ? t : L"", n1);
        wmemcpy(all + n1, wc ? wc : L"", n2);
        all[n1 + n2] = L'\0';
        set_if_changed(page, IDC_SVC_DETAIL, all);
    }
    free(all);
    free(wc);
    free(certs);
    free(t);
}

static int same_listeners(const ism_listener_state *a, const ism_listener_state *b, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(a[i].name, b[i].name) || a[i].port != b[i].port || a[i].open != b[i].open || a[i].tls != b[i].tls ||
            strcmp(a[i].fingerprint, b[i].fingerprint) || strcmp(a[i].error, b[i].error))
            return 0;
    return 1;
}

/* Fills the list only when what the service reports changed. */
static void show_listeners(HWND page, const ism_listener_state *ls, int n)
{
    if (g_svc.have_shown && n == g_svc.n_shown && (n == 0 || same_listeners(ls, g_svc.shown, n))) {
        show_detail(page);
        return;
    }
    HWND lv = GetDlgItem(page, IDC_SVC_LIST);
    char keep[64];
    mgr_lv_refill_begin(lv, keep, sizeof keep);
    g_svc.have_shown = 1;
    g_svc.n_shown = n;
    if (n)
        memcpy(g_svc.shown, ls, (size_t)n * sizeof *ls);
    for (int i = 0; i < n; i++) {
        char port[16], open[32], tls[32], fp[64], none[32];
        snprintf(port, sizeof port, "%d", ls[i].port);
        word(ls[i].open ? IDS_OPEN : IDS_CLOSED, open, sizeof open);
        word(ls[i].tls ? IDS_ON : IDS_OFF, tls, sizeof tls);
        word(IDS_NO_CERT, none, sizeof none);
        if (ls[i].fingerprint[0])
            short_fp(ls[i].fingerprint, fp, sizeof fp);
        else
            snprintf(fp, sizeof fp, "%s", none);
        const char *cols[] = {ls[i].name, port, open, tls, fp, ls[i].error};
        mgr_lv_add(lv, cols, 6);
    }
    mgr_lv_refill_end(lv, keep);
    show_detail(page);
}

static void enable(HWND page, int id, int on)
{
    mgr_enable(page, id, on, IDC_SVC_LIST);
}

static int start_service(HWND page, int quiet);

static void refresh(HWND page)
{
    SERVICE_STATUS_PROCESS st;
    svc_kind kind;
    DWORD error;
    char why[512];
    memset(&st, 0, sizeof st);
    int have = query(&st, &kind, &error) == 0;

    /* A restart waits here for the stop, then starts. */
    if (g_svc.restart_pending) {
        if (have && st.dwCurrentState == SERVICE_STOPPED) {
            g_svc.restart_pending = 0;
            start_service(page, 0);
            have = query(&st, &kind, &error) == 0;
        } else if (!have || ism_time_mono_ms() > g_svc.restart_deadline) {
            char secs[16];
            g_svc.restart_pending = 0;
            snprintf(secs, sizeof secs, "%d", RESTART_TIMEOUT_S);
            mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_SVC_RESTART_TIMEOUT, secs, NULL);
        }
    }

    UINT state_ids = 0;
    int running = 0, stopped = 0;
    if (!have && kind == SVC_NOT_INSTALLED) {
        state_ids = IDS_SVC_NOT_INSTALLED;
    } else if (!have) {
        system_message(error, why, sizeof why);
        set_ids(page, IDC_SVC_STATE, IDS_SVC_NO_SCM, why, NULL, NULL);
    } else if (g_svc.restart_pending) {
        state_ids = IDS_SVC_RESTARTING;
    } else {
        switch (st.dwCurrentState) {
        case SERVICE_STOPPED: state_ids = IDS_SVC_STOPPED_NOTE; stopped = 1; break;
        case SERVICE_START_PENDING: state_ids = IDS_SVC_START_PENDING; break;
        case SERVICE_STOP_PENDING: state_ids = IDS_SVC_STOP_PENDING; break;
        case SERVICE_RUNNING: state_ids = IDS_SVC_RUNNING; running = 1; break;
        case SERVICE_CONTINUE_PENDING: state_ids = IDS_SVC_CONTINUE_PENDING; break;
        case SERVICE_PAUSE_PENDING: state_ids = IDS_SVC_PAUSE_PENDING; break;
        case SERVICE_PAUSED: state_ids = IDS_SVC_PAUSED; break;
        default: state_ids = IDS_SVC_STOPPED_NOTE; stopped = 1; break;
        }
    }
    if (state_ids)
        set_ids(page, IDC_SVC_STATE, state_ids, NULL, NULL, NULL);
    enable(page, IDC_SVC_START, have && stopped && !g_svc.restart_pending);
    enable(page, IDC_SVC_STOP, have && running && (st.dwControlsAccepted & SERVICE_ACCEPT_STOP));
    enable(page, IDC_SVC_RESTART, have && running && (st.dwControlsAccepted & SERVICE_ACCEPT_STOP));

    /* What the service wrote back to the store. */
    static ism_status s; /* about 40 KB; the window's thread only */
    ism_err err = {0};
    int64_t rev = 0;
    if (ism_store_read_status(g_app.store, &s, &err) || ism_store_revision(g_app.store, &rev, &err)) {
        set_ids(page, IDC_SVC_APPLIED, IDS_SVC_STATUS_FAILED, err.msg, NULL, NULL);
        set_ids(page, IDC_SVC_ERROR, IDS_SVC_NO_ERROR, NULL, NULL, NULL);
        show_listeners(page, NULL, 0);
        return;
    }
    char a[32], r[32], when[140];
    snprintf(a, sizeof a, "%lld", (long long)s.applied_revision);
    snprintf(r, sizeof r, "%lld", (long long)rev);
    if (s.applied_revision < 0) {
        set_ids(page, IDC_SVC_APPLIED, IDS_SVC_NEVER_APPLIED, r, NULL, NULL);
    } else {
        local_time(s.applied_at_ms, when, sizeof when);
        set_ids(page, IDC_SVC_APPLIED, s.applied_revision >= rev ? IDS_SVC_APPLIED_CURRENT : IDS_SVC_APPLIED_BEHIND, a,
                when, r);
    }
    if (s.error[0]) {
        wchar_t *w = mgr_widen(s.error);
        if (w)
            set_if_changed(page, IDC_SVC_ERROR, w);
        free(w);
    } else {
        set_ids(page, IDC_SVC_ERROR, IDS_SVC_NO_ERROR, NULL, NULL, NULL);
    }
    /* A service that is installed but not running listens on nothing,
     * whatever it wrote before it stopped. A store without an installed
     * service may be served by one run from a console: show what it wrote. */
    int listening = !(have && !running);
    g_svc.not_running = !listening;
    g_svc.n_certs = listening ? s.n_certs : 0;
    if (g_svc.n_certs)
        memcpy(g_svc.certs, s.certs, (size_t)s.n_certs * sizeof *s.certs);
    show_listeners(page, listening ? s.listeners : NULL, listening ? s.n_listeners : 0);
}

static int start_service(HWND page, int quiet)
{
    svc_kind kind;
    DWORD error;
    char why[512];
    SC_HANDLE svc = open_service(SERVICE_START | SERVICE_QUERY_STATUS, &kind, &error);
    if (svc && !StartServiceW(svc, 0, NULL))
        error = GetLastError();
    else if (svc)
        error = 0;
    if (svc)
        CloseServiceHandle(svc);
    if (error && error != ERROR_SERVICE_ALREADY_RUNNING) {
        if (!quiet) {
            system_message(error, why, sizeof why);
            mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_SVC_START_FAILED, why, NULL);
        }
        return -1;
    }
    return 0;
}

static int stop_service(HWND page)
{
    svc_kind kind;
    DWORD error;
    char why[512];
    SERVICE_STATUS st;
    SC_HANDLE svc = open_service(SERVICE_STOP | SERVICE_QUERY_STATUS, &kind, &error);
    if (svc && !ControlService(svc, SERVICE_CONTROL_STOP, &st))
        error = GetLastError();
    else if (svc)
        error = 0;
    if (svc)
        CloseServiceHandle(svc);
    if (error && error != ERROR_SERVICE_NOT_ACTIVE) {
        system_message(error, why, sizeof why);
        mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_SVC_STOP_FAILED, why, NULL);
        return -1;
    }
    return 0;
}

INT_PTR CALLBACK mgr_service_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_INITDIALOG: {
        static const UINT cols[] = {IDS_COL_NAME, IDS_COL_PORT, IDS_COL_LISTENING, IDS_COL_TLS, IDS_COL_CERT_FP,
                                    IDS_COL_LAST_ERROR};
        static const int w[] = {50, 30, 34, 24, 90, 60};
        mgr_page_init(h);
        mgr_lv_init(GetDlgItem(h, IDC_SVC_LIST), cols, w, 6);
        refresh(h);
        SetTimer(h, TIMER_REFRESH, REFRESH_MS, NULL);
        return FALSE;
    }
    case WM_TIMER:
        if (wp == TIMER_REFRESH)
            refresh(h);
        return TRUE;
    case WM_APP_PAGE_SHOWN:
    case WM_APP_STORE_CHANGED:
        refresh(h);
        return TRUE;
    case WM_APP_RELAYOUT:
        mgr_lv_fit(GetDlgItem(h, IDC_SVC_LIST));
        return TRUE;
    case WM_COMMAND:
        if (HIWORD(wp) != BN_CLICKED)
            break;
        switch (LOWORD(wp)) {
        case IDC_SVC_START:
            start_service(h, 0);
            refresh(h);
            return TRUE;
        case IDC_SVC_STOP:
            stop_service(h);
            refresh(h);
            return TRUE;
        case IDC_SVC_RESTART:
            if (stop_service(h) == 0) {
                g_svc.restart_pending = 1;
                g_svc.restart_deadline = ism_time_mono_ms() + RESTART_TIMEOUT_S * 1000;
            }
            refresh(h);
            return TRUE;
        }
        break;
    case WM_NOTIFY: {
        const NMHDR *n = (const NMHDR *)lp;
        if (n->idFrom == IDC_SVC_LIST && n->code == LVN_ITEMCHANGED)
            show_detail(h);
        return n->idFrom == IDC_SVC_LIST;
    }
    case WM_DESTROY:
        KillTimer(h, TIMER_REFRESH);
        break;
    }
    return FALSE;
}
