/* main.c: ISMail Manager, the administrator's window onto the settings store.
 *
 * A modeless dialog with a tab control; each tab is a child dialog (a page)
 * listed in page_defs[]: SSL/TLS (settings), SSL Certificates (page_certs.c),
 * Web SSL (page_web.c), Server (page_server.c: host name, listen address,
 * ports) and Service (page_service.c). The controls bound to
 * settings are listed in bindings.c and moved to and from the store by form.c,
 * so this file knows no particular setting. Apply first checks every bound
 * value with the core (a refused one is named by its label, focused, and
 * nothing is written) and that no other program holds a port it moves a
 * listener to, then writes every changed setting
 * in one ism_store_set call (all or nothing), then polls the service's status
 * in the store until the service reports it applied that revision, or an
 * error, or 5 s pass, and says which in the status bar; the other pages'
 * writes (a web SSL domain, a certificate) end in the same wait.
 *
 *   ismail-manager.exe [--data FOLDER]
 *
 * Exit status: 0 after the window closes, 1 when the store cannot be opened,
 * 2 on a bad command line. */
#include "ism_paths.h"
#include "ism_platform.h"
#include "ism_store.h"

#include "app.h"
#include "bindings.h"
#include "form.h"
#include "resource.h"

#include <windows.h>
#include <commctrl.h>
#include <shellapi.h>
#include <uxtheme.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMER_POLL 1
#define POLL_MS 100            /* while waiting for the service */
#define SLOW_POLL_MS 1000      /* after APPLY_TIMEOUT_MS: still report a late apply */
#define APPLY_TIMEOUT_MS 5000
#define TEXT_MAX MGR_TEXT_MAX

static INT_PTR CALLBACK settings_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp);

/* The tabs, in order: the title, the page's template and its procedure. */
static const struct {
    UINT title;    /* IDS_TAB_* */
    UINT dialog;   /* IDD_PAGE_* */
    DLGPROC proc;
} page_defs[] = {
    {IDS_TAB_SSL_TLS, IDD_PAGE_SSL_TLS, settings_page_proc},
    {IDS_TAB_CERTS, IDD_PAGE_CERTS, mgr_certs_page_proc},
    {IDS_TAB_WEB, IDD_PAGE_WEB, mgr_web_page_proc},
    {IDS_TAB_SERVER, IDD_PAGE_SERVER, mgr_server_page_proc},
    {IDS_TAB_SERVICE, IDD_PAGE_SERVICE, mgr_service_page_proc},
};
#define PAGE_COUNT ((int)(sizeof page_defs / sizeof page_defs[0]))

typedef mgr_app app;
mgr_app g_app;

/* ---- text ---- */

static void load_text(wchar_t *out, size_t outsz, UINT ids, const char *a1, const char *a2)
{
    mgr_text(out, outsz, ids, a1, a2);
}

static int message_box(HWND owner, UINT ids, const char *arg, UINT flags)
{
    return mgr_box(owner, flags, ids, arg, NULL);
}

static void set_status(app *a, UINT ids, const char *a1, const char *a2)
{
    wchar_t text[TEXT_MAX];
    load_text(text, TEXT_MAX, ids, a1, a2);
    SetWindowTextW(a->status, text);
    SendMessageW(a->status, SB_SETTIPTEXTW, 0, (LPARAM)text); /* the whole text when it does not fit */
    a->showing_modified = ids == IDS_MODIFIED;
}

void mgr_status(UINT ids, const char *a1, const char *a2)
{
    set_status(&g_app, ids, a1, a2);
}

static void show_ready(app *a)
{
    char rev[32];
    wsprintfA(rev, "%d", (int)a->cfg.revision);
    set_status(a, IDS_READY, a->paths.store, rev);
}

/* ---- layout ---- */

/* Width the status bar needs to show the longest of the fixed status texts
 * without clipping them. */
static int status_text_width(app *a)
{
    static const UINT ids[] = {IDS_NOT_APPLIED, IDS_SAVED_WAITING, IDS_MODIFIED};
    int w = 0;
    HDC dc = GetDC(a->status);
    HGDIOBJ old = SelectObject(dc, (HGDIOBJ)SendMessageW(a->status, WM_GETFONT, 0, 0));
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        wchar_t text[TEXT_MAX];
        SIZE sz;
        load_text(text, TEXT_MAX, ids[i], NULL, NULL);
        if (GetTextExtentPoint32W(dc, text, lstrlenW(text), &sz))
            w = max(w, (int)sz.cx);
    }
    SelectObject(dc, old);
    ReleaseDC(a->status, dc);
    int borders[3] = {0, 0, 0}; /* horizontal, vertical, between parts */
    SendMessageW(a->status, SB_GETBORDERS, 0, (LPARAM)borders);
    return w + 4 * borders[0] + 4 * borders[2] + GetSystemMetrics(SM_CXEDGE) * 4;
}

/* Sizes the tab control around the largest page, puts the buttons under it
 * and the status bar under them, then fits the window (and centres it on its
 * monitor when center is set). All sizes come from the templates and the
 * current font, so this holds at any DPI. */
static void layout(app *a, int center)
{
    RECT m = {7, 7, 4, 0}, r, wr, cr;
    MapDialogRect(a->dlg, &m); /* m.left, m.top: 7-unit margins; m.right: 4-unit button gap */

    int pw = 0, ph = 0;
    for (int i = 0; i < a->form.n_pages; i++) {
        GetWindowRect(a->form.pages[i], &r);
        pw = max(pw, (int)(r.right - r.left));
        ph = max(ph, (int)(r.bottom - r.top));
    }
    r = (RECT){0, 0, pw, ph};
    TabCtrl_AdjustRect(a->tab, TRUE, &r);
    int tw = r.right - r.left, th = r.bottom - r.top;
    RECT disp = {0, 0, tw, th};
    TabCtrl_AdjustRect(a->tab, FALSE, &disp);

    HWND apply = GetDlgItem(a->dlg, IDC_APPLY), close = GetDlgItem(a->dlg, IDCANCEL);
    GetWindowRect(apply, &r);
    int bw = r.right - r.left, bh = r.bottom - r.top;
    SendMessageW(a->status, WM_SIZE, 0, 0); /* its height follows its font */
    GetWindowRect(a->status, &r);
    int sbh = r.bottom - r.top;

    int cw = m.left + tw + m.left;
    int need = status_text_width(a);
    if (cw < need) { /* widen the tab (and so the pages) rather than clip the status */
        tw += need - cw;
        disp.right += need - cw;
        cw = need;
    }
    int by = m.top + th + m.top;
    int ch = by + bh + m.top + sbh;

    /* The frame's size from the window itself: right for this window's DPI. */
    GetWindowRect(a->dlg, &wr);
    GetClientRect(a->dlg, &cr);
    int ww = cw + (wr.right - wr.left) - cr.right, wh = ch + (wr.bottom - wr.top) - cr.bottom;
    MONITORINFO mi = {.cbSize = sizeof mi};
    GetMonitorInfoW(MonitorFromWindow(a->dlg, MONITOR_DEFAULTTOPRIMARY), &mi);
    int x = mi.rcWork.left + ((mi.rcWork.right - mi.rcWork.left) - ww) / 2;
    int y = mi.rcWork.top + ((mi.rcWork.bottom - mi.rcWork.top) - wh) / 2;
    SetWindowPos(a->dlg, NULL, max(x, (int)mi.rcWork.left), max(y, (int)mi.rcWork.top), ww, wh,
                 SWP_NOZORDER | SWP_NOACTIVATE | (center ? 0 : SWP_NOMOVE));

    SetWindowPos(a->tab, NULL, m.left, m.top, tw, th, SWP_NOZORDER | SWP_NOACTIVATE);
    /* Pages come right after the tab control in Z order, which is also the
     * Tab key order: tab strip, page controls, Close, Apply. */
    for (int i = 0; i < a->form.n_pages; i++)
        SetWindowPos(a->form.pages[i], a->tab, m.left + disp.left, m.top + disp.top, disp.right - disp.left,
                     disp.bottom - disp.top, SWP_NOACTIVATE);
    SetWindowPos(apply, NULL, cw - m.left - bw, by, bw, bh, SWP_NOZORDER | SWP_NOACTIVATE);
    GetWindowRect(close, &r);
    SetWindowPos(close, NULL, cw - m.left - bw - m.right - (r.right - r.left), by, 0, 0,
                 SWP_NOZORDER | SWP_NOSIZE | SWP_NOACTIVATE);
    SendMessageW(a->status, WM_SIZE, 0, 0);
}

/* Shows one page and tells it, so that it shows what is current. */
static void show_page(app *a, int index)
{
    for (int i = 0; i < a->form.n_pages; i++)
        if (i != index)
            ShowWindow(a->form.pages[i], SW_HIDE);
    if (index >= 0 && index < a->form.n_pages) {
        SendMessageW(a->form.pages[index], WM_APP_PAGE_SHOWN, 0, 0);
        ShowWindow(a->form.pages[index], SW_SHOW);
    }
}

static void tell_pages(app *a, UINT msg)
{
    for (int i = 0; i < a->form.n_pages; i++)
        SendMessageW(a->form.pages[i], msg, 0, 0);
}

/* Ctrl+Tab / Ctrl+PageDown and their reverses, as in any tabbed dialog. */
static int switch_tab_key(app *a, const MSG *msg)
{
    if (msg->message != WM_KEYDOWN || GetKeyState(VK_CONTROL) >= 0 ||
        (msg->hwnd != a->dlg && !IsChild(a->dlg, msg->hwnd)))
        return 0;
    int step;
    if (msg->wParam == VK_TAB)
        step = GetKeyState(VK_SHIFT) < 0 ? -1 : 1;
    else if (msg->wParam == VK_NEXT)
        step = 1;
    else if (msg->wParam == VK_PRIOR)
        step = -1;
    else
        return 0;
    int n = TabCtrl_GetItemCount(a->tab);
    if (n > 1) {
        int i = (TabCtrl_GetCurSel(a->tab) + step + n) % n;
        TabCtrl_SetCurSel(a->tab, i);
        show_page(a, i);
    }
    return 1;
}

/* Enter on a list view opens its row (View, Edit), as a double click does:
 * the dialog manager would otherwise take Enter for the default button. The
 * page is told with the list view's own NM_RETURN. */
static int enter_on_list(app *a, const MSG *msg)
{
    wchar_t cls[32];
    HWND h = msg->hwnd;
    if (msg->message != WM_KEYDOWN || msg->wParam != VK_RETURN || !IsChild(a->dlg, h) ||
        !GetClassNameW(h, cls, 32) || lstrcmpiW(cls, WC_LISTVIEWW) != 0)
        return 0;
    NMHDR n = {.hwndFrom = h, .idFrom = (UINT_PTR)GetDlgCtrlID(h), .code = NM_RETURN};
    SendMessageW(GetParent(h), WM_NOTIFY, n.idFrom, (LPARAM)&n);
    return 1;
}

/* ---- binding, applying, waiting for the service ---- */

static void add_tooltips(app *a)
{
    RECT w = {200, 0, 0, 0};
    MapDialogRect(a->dlg, &w);
    a->tip = CreateWindowExW(WS_EX_TOPMOST, TOOLTIPS_CLASSW, NULL, WS_POPUP | TTS_ALWAYSTIP | TTS_NOPREFIX,
                             CW_USEDEFAULT, CW_USEDEFAULT, CW_USEDEFAULT, CW_USEDEFAULT, a->dlg, NULL, a->inst, NULL);
    if (!a->tip)
        return;
    SendMessageW(a->tip, TTM_SETMAXTIPWIDTH, 0, w.left);
    SendMessageW(a->tip, TTM_SETDELAYTIME, TTDT_AUTOPOP, 20000);
    for (size_t i = 0; i < mgr_binding_count; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        HWND h = mgr_form_control(&a->form, b->ctrl_id);
        if (!h)
            continue;
        if (!a->tips[b->setting])
            a->tips[b->setting] = mgr_widen(ism_setting_defs[b->setting].desc);
        TOOLINFOW ti = {.cbSize = sizeof ti};
        ti.uFlags = TTF_IDISHWND | TTF_SUBCLASS;
        ti.hwnd = GetParent(h);
        ti.uId = (UINT_PTR)h;
        ti.lpszText = a->tips[b->setting];
        SendMessageW(a->tip, TTM_ADDTOOLW, 0, (LPARAM)&ti);
    }
}

/* Enables Apply exactly when some control differs from what was loaded. */
static void update_apply(app *a)
{
    const char *keys[ISM_SETTING_COUNT];
    char vals[ISM_SETTING_COUNT][MGR_VALUE_MAX];
    size_t n = mgr_form_changes(&a->form, &a->cfg, keys, vals);
    mgr_enable(a->dlg, IDC_APPLY, n > 0, IDCANCEL);
    if (!a->waiting) {
        if (n)
            set_status(a, IDS_MODIFIED, NULL, NULL);
        else if (a->showing_modified)
            show_ready(a);
    }
}

static void stop_waiting(app *a)
{
    KillTimer(a->dlg, TIMER_POLL);
    a->waiting = 0;
}

/* Reloads the settings and the folders they name. Returns 0, or -1 with err. */
static int reload(app *a, ism_err *err)
{
    ism_config fresh;
    if (ism_store_load(a->store, &fresh, err)) {
        ism_config_free(&fresh);
        return -1;
    }
    ism_config_free(&a->cfg);
    a->cfg = fresh;
    a->paths = a->base_paths;
    ism_paths_apply_config(&a->paths, &a->cfg);
    return 0;
}

void mgr_status_before(ism_status *s, int64_t *t0_mono, int64_t *t0_wall)
{
    ism_err err = {0};
    if (ism_store_read_status(g_app.store, s, &err)) {
        memset(s, 0, sizeof *s);
        s->applied_revision = -1;
    }
    *t0_mono = ism_time_mono_ms();
    *t0_wall = ism_time_wall_ms();
}

/* After a write: reload, then poll the service's status until it applied
 * the new revision. */
static void start_waiting(app *a, const ism_status *before, int64_t t0, int64_t t0_wall)
{
    ism_err err = {0};
    int64_t rev;
    if (ism_store_revision(a->store, &rev, &err))
        rev = a->cfg.revision + 1;
    int reloaded = reload(a, &err) == 0;
    a->waiting = 1;
    a->warned = 0;
    a->wait_rev = rev;
    a->wait_start_mono = t0;
    a->wait_start_wall = t0_wall;
    a->before = *before;
    update_apply(a);
    if (reloaded)
        set_status(a, IDS_SAVED_WAITING, NULL, NULL);
    else
        set_status(a, IDS_RELOAD_FAILED, err.msg, NULL);
    tell_pages(a, WM_APP_STORE_CHANGED);
    SetTimer(a->dlg, TIMER_POLL, POLL_MS, NULL);
}

void mgr_after_write(const ism_status *before, int64_t t0_mono, int64_t t0_wall)
{
    start_waiting(&g_app, before, t0_mono, t0_wall);
}

/* A port the changes move a listener to that another program holds on this
 * computer: the listener could not open it, so it is refused before anything
 * is written, named by its field. A port the service itself has open (two
 * listeners trading ports) is left to the service. Returns the binding of
 * the first such port, with "Label (key): reason" in why; NULL when none. */
static const mgr_binding *port_taken(app *a, const char *const keys[], const char *const vals[], size_t n,
                                     char *why, size_t whysz)
{
    const char *addr = ism_config_str(&a->cfg, ISM_S_LISTEN_ADDRESS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], ism_setting_defs[ISM_S_LISTEN_ADDRESS].key) == 0)
            addr = vals[i];
    ism_status st;
    ism_err e = {0};
    if (ism_store_read_status(a->store, &st, &e))
        st.n_listeners = 0;
    for (size_t i = 0; i < n; i++) {
        int id = ism_setting_find(keys[i]);
        if (id < 0 || ism_setting_defs[id].type != ISM_T_PORT)
            continue;
        int port = atoi(vals[i]), own = 0;
        for (int l = 0; l < st.n_listeners; l++)
            own = own || (st.listeners[l].open && st.listeners[l].port == port);
        ism_sock s;
        ism_err err = {0};
        if (own)
            continue;
        if (ism_sock_listen(addr, port, &s, &err) == 0) {
            ism_sock_close(s);
            continue;
        }
        const mgr_binding *b = mgr_binding_by_key(keys[i]);
        char label[MGR_VALUE_MAX];
        if (!b)
            continue;
        mgr_form_label(&a->form, b, label, sizeof label);
        snprintf(why, whysz, "%s (%s): %s", label, keys[i], err.msg);
        return b;
    }
    return NULL;
}

static void apply(app *a)
{
    const char *keys[ISM_SETTING_COUNT];
    char vals[ISM_SETTING_COUNT][MGR_VALUE_MAX];
    const char *values[ISM_SETTING_COUNT];
    size_t n = mgr_form_changes(&a->form, &a->cfg, keys, vals);
    if (!n) {
        update_apply(a);
        return;
    }
    for (size_t i = 0; i < n; i++)
        values[i] = vals[i];

    /* The check the store would make, but naming the field as the window
     * shows it, and on the field: its tab comes forward with it focused. */
    char why[1024];
    const mgr_binding *bad = mgr_form_invalid(&a->form, NULL, why, sizeof why);
    if (!bad)
        bad = port_taken(a, keys, values, n, why, sizeof why);
    if (bad) {
        HWND h = mgr_form_control(&a->form, bad->ctrl_id);
        for (int i = 0; h && i < a->form.n_pages; i++)
            if (a->form.pages[i] == GetParent(h) && TabCtrl_GetCurSel(a->tab) != i) {
                TabCtrl_SetCurSel(a->tab, i);
                show_page(a, i);
            }
        message_box(a->dlg, IDS_FIELD_INVALID, why, MB_OK | MB_ICONWARNING);
        if (h) {
            SendMessageW(a->dlg, WM_NEXTDLGCTL, (WPARAM)h, TRUE);
            SendMessageW(h, EM_SETSEL, 0, -1);
        }
        return;
    }

    ism_err err = {0};
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    if (ism_store_set(a->store, n, keys, values, &err)) {
        /* Nothing was written; the controls keep the administrator's edits. */
        message_box(a->dlg, IDS_SAVE_FAILED, err.msg, MB_OK | MB_ICONWARNING);
        return;
    }
    start_waiting(a, &before, t0, t0_wall);
    mgr_form_show(&a->form, &a->cfg);
    update_apply(a);
}

/* One look at what the service wrote back. The service reports either the
 * revision it applied, or an error while keeping the old configuration (the
 * error or its time then differs from before the Apply). */
static void poll_service(app *a)
{
    ism_status s;
    ism_err err = {0};
    int64_t elapsed = ism_time_mono_ms() - a->wait_start_mono;
    if (ism_store_read_status(a->store, &s, &err)) {
        stop_waiting(a);
        set_status(a, IDS_STATUS_READ_FAILED, err.msg, NULL);
        return;
    }
    int new_error = s.error[0] && (strcmp(s.error, a->before.error) != 0 || s.applied_at_ms != a->before.applied_at_ms);
    if (s.applied_revision >= a->wait_rev || new_error) {
        stop_waiting(a);
        if (s.error[0]) {
            set_status(a, IDS_SERVICE_ERROR, s.error, NULL);
        } else {
            /* The service's own timestamp when it has one: the real latency,
             * not rounded up to the polling interval. */
            int64_t ms = s.applied_at_ms >= a->wait_start_wall ? s.applied_at_ms - a->wait_start_wall : elapsed;
            char num[32];
            wsprintfA(num, "%d", (int)ms);
            set_status(a, IDS_APPLIED, num, NULL);
        }
        return;
    }
    if (!a->warned && elapsed >= APPLY_TIMEOUT_MS) {
        a->warned = 1;
        set_status(a, IDS_NOT_APPLIED, NULL, NULL);
        SetTimer(a->dlg, TIMER_POLL, SLOW_POLL_MS, NULL);
    }
}

/* ---- dialog procedures ---- */

/* The settings page: a changed control only asks the main window to recheck
 * Apply; no control has a handler of its own. */
static INT_PTR CALLBACK settings_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    (void)lp;
    switch (msg) {
    case WM_INITDIALOG:
        mgr_page_init(h);
        return FALSE;
    case WM_COMMAND:
        if (HIWORD(wp) == BN_CLICKED || HIWORD(wp) == CBN_SELCHANGE) {
            SendMessageW(GetParent(h), WM_APP_CHANGED, 0, 0);
            return TRUE;
        }
        break;
    }
    return FALSE;
}

static BOOL init_main(app *a, HWND dlg)
{
    a->dlg = dlg;
    a->tab = GetDlgItem(dlg, IDC_TAB);
    a->icon_big = LoadImageW(a->inst, MAKEINTRESOURCEW(IDI_ISMAIL), IMAGE_ICON, GetSystemMetrics(SM_CXICON),
                             GetSystemMetrics(SM_CYICON), 0);
    a->icon_small = LoadImageW(a->inst, MAKEINTRESOURCEW(IDI_ISMAIL), IMAGE_ICON, GetSystemMetrics(SM_CXSMICON),
                               GetSystemMetrics(SM_CYSMICON), 0);
    SendMessageW(dlg, WM_SETICON, ICON_BIG, (LPARAM)a->icon_big);
    SendMessageW(dlg, WM_SETICON, ICON_SMALL, (LPARAM)a->icon_small);

    a->status = CreateWindowExW(0, STATUSCLASSNAMEW, L"", WS_CHILD | WS_VISIBLE | SBT_TOOLTIPS, 0, 0, 0, 0, dlg,
                                (HMENU)(INT_PTR)IDC_STATUS, a->inst, NULL);
    SendMessageW(a->status, WM_SETFONT, SendMessageW(dlg, WM_GETFONT, 0, 0), FALSE);

    for (int i = 0; i < PAGE_COUNT && i < MGR_MAX_PAGES; i++) {
        wchar_t title[128];
        load_text(title, 128, page_defs[i].title, NULL, NULL);
        TCITEMW item = {.mask = TCIF_TEXT, .pszText = title};
        SendMessageW(a->tab, TCM_INSERTITEMW, (WPARAM)i, (LPARAM)&item);
        HWND page = CreateDialogParamW(a->inst, MAKEINTRESOURCEW(page_defs[i].dialog), dlg, page_defs[i].proc, 0);
        if (page)
            a->form.pages[a->form.n_pages++] = page;
    }
    layout(a, 1);
    TabCtrl_SetCurSel(a->tab, 0);
    show_page(a, 0);

    mgr_form_init(&a->form);
    mgr_form_show(&a->form, &a->cfg);
    add_tooltips(a);
    update_apply(a);
    show_ready(a);

    /* Start on the first control of the page, ready for the keyboard. */
    HWND first = a->form.n_pages ? GetNextDlgTabItem(a->form.pages[0], NULL, FALSE) : NULL;
    if (first) {
        SendMessageW(dlg, WM_NEXTDLGCTL, (WPARAM)first, TRUE);
        return FALSE;
    }
    return TRUE;
}

static INT_PTR CALLBACK main_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    app *a = &g_app;
    switch (msg) {
    case WM_INITDIALOG:
        return init_main(a, h);
    case WM_APP_CHANGED:
        update_apply(a);
        return TRUE;
    case WM_COMMAND:
        switch (LOWORD(wp)) {
        case IDC_APPLY:
        case IDOK: /* Enter: Apply, when there is something to apply */
            if (IsWindowEnabled(GetDlgItem(h, IDC_APPLY)))
                apply(a);
            return TRUE;
        case IDCANCEL: /* Esc, Close, the title bar's close box */
            DestroyWindow(h);
            return TRUE;
        }
        break;
    case WM_NOTIFY: {
        const NMHDR *n = (const NMHDR *)lp;
        if (n->idFrom == IDC_TAB && n->code == TCN_SELCHANGE) {
            show_page(a, TabCtrl_GetCurSel(a->tab));
            return TRUE;
        }
        break;
    }
    case WM_TIMER:
        if (wp == TIMER_POLL && a->waiting)
            poll_service(a);
        return TRUE;
    case WM_DPICHANGED:
        /* The dialog manager rescales the dialogs and their template
         * controls (per-monitor v2); then the status bar, created in code,
         * takes the new font and everything is laid out again. */
        PostMessageW(h, WM_APP_RELAYOUT, 0, 0);
        return FALSE;
    case WM_APP_RELAYOUT:
        SendMessageW(a->status, WM_SETFONT, SendMessageW(h, WM_GETFONT, 0, 0), TRUE);
        layout(a, 0);
        tell_pages(a, WM_APP_RELAYOUT);
        return TRUE;
    case WM_SIZE:
        if (a->status)
            SendMessageW(a->status, WM_SIZE, 0, 0);
        break;
    case WM_CLOSE:
        DestroyWindow(h);
        return TRUE;
    case WM_DESTROY:
        KillTimer(h, TIMER_POLL);
        PostQuitMessage(0);
        return TRUE;
    }
    return FALSE;
}

/* ---- start-up ---- */

/* --data FOLDER (or --data=FOLDER) into data (UTF-8). Returns 0, 1 for help,
 * -1 for anything else. */
static int parse_args(char *data, size_t datasz)
{
    int argc = 0, rc = 0;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (!argv)
        return -1;
    data[0] = '\0';
    for (int i = 1; i < argc && rc == 0; i++) {
        if (wcscmp(argv[i], L"--data") == 0 && i + 1 < argc)
            mgr_narrow(argv[++i], data, datasz);
        else if (wcsncmp(argv[i], L"--data=", 7) == 0)
            mgr_narrow(argv[i] + 7, data, datasz);
        else if (wcscmp(argv[i], L"--help") == 0 || wcscmp(argv[i], L"/?") == 0)
            rc = 1;
        else
            rc = -1;
    }
    LocalFree(argv);
    return rc;
}

int WINAPI wWinMain(HINSTANCE inst, HINSTANCE prev, PWSTR cmdline, int show)
{
    app *a = &g_app;
    char data[ISM_PATH_MAX];
    ism_err err = {0};
    a->inst = inst;

    INITCOMMONCONTROLSEX icc = {sizeof icc,
                                ICC_TAB_CLASSES | ICC_BAR_CLASSES | ICC_STANDARD_CLASSES | ICC_LISTVIEW_CLASSES};
    InitCommonControlsEx(&icc);

    int args = parse_args(data, sizeof data);
    if (args != 0) {
        message_box(NULL, IDS_USAGE, NULL, MB_OK | (args > 0 ? MB_ICONINFORMATION : MB_ICONERROR));
        return args > 0 ? 0 : 2;
    }

    /* The store's folder may not exist yet on a new installation; made
     * here, it is as private as the service makes it (ism_paths_ensure). */
    ism_paths_init(&a->base_paths, data[0] ? data : NULL);
    a->paths = a->base_paths;
    int ok = (ism_fs_exists(a->paths.data) || ism_fs_mkdirs(a->paths.data, 1, &err) == 0) &&
             ism_store_open(&a->store, a->paths.store, &err) == 0 && ism_store_load(a->store, &a->cfg, &err) == 0;
    if (ok)
        ism_paths_apply_config(&a->paths, &a->cfg);
    if (!ok) {
        message_box(NULL, IDS_STORE_OPEN_FAILED, err.msg, MB_OK | MB_ICONERROR);
        ism_store_close(a->store);
        ism_config_free(&a->cfg);
        return 1;
    }

    /* Winsock, for Apply's check that a new port is free (port_taken). */
    if (ism_net_init(&err))
        ism_err_clear(&err);

    if (!CreateDialogParamW(inst, MAKEINTRESOURCEW(IDD_MAIN), NULL, main_proc, 0)) {
        ism_store_close(a->store);
        ism_config_free(&a->cfg);
        return 1;
    }
    ShowWindow(a->dlg, show);

    MSG msg;
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        if (switch_tab_key(a, &msg) || enter_on_list(a, &msg))
            continue;
        if (!IsDialogMessageW(a->dlg, &msg)) {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }

    ism_store_close(a->store);
    ism_config_free(&a->cfg);
    for (int i = 0; i < ISM_SETTING_COUNT; i++)
        free(a->tips[i]);
    if (a->icon_big)
        DestroyIcon(a->icon_big);
    if (a->icon_small)
        DestroyIcon(a->icon_small);
    return (int)msg.wParam;
}
