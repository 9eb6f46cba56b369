/* tests/wine/driver.c: drives ISMail Manager from a test, without screen
 * coordinates. It finds the manager's window by its title, then any control by
 * its id anywhere in the window tree (the tab pages are child dialogs), and
 * names controls by the key of the setting they are bound to, through the
 * manager's own binding table (manager-gui/bindings.c), or by the names in
 * names[] below. The manager's modal dialogs are found by their titles; list
 * views and tab titles, which other processes cannot read with a plain
 * SendMessage, are read through a buffer in the manager's own memory
 * (VirtualAllocEx, WriteProcessMemory, ReadProcessMemory).
 *
 *   ismail-driver.exe COMMAND... (run in order; the first failure ends the run)
 *     wait-window SECONDS     wait for the manager's window
 *     get NAME                print 0/1 for a check box, the rows of a list
 *                             view (columns separated by tabs), the text otherwise
 *     enabled NAME            print 1 when the control is enabled, 0 if not
 *     click NAME              click a button or check box (BM_CLICK)
 *     set NAME TEXT           put TEXT in an edit field (WM_SETTEXT)
 *     select NAME VALUE       choose VALUE in a drop-down list
 *     tab TITLE               show the tab with this title ("SSL Certificates")
 *     tabs                    print the tabs' titles
 *     list NAME               print a list view's rows, columns separated by tabs
 *     pick NAME TEXT          select the row of a list view whose first column is TEXT
 *     dialog TITLE SECONDS    wait for the manager's dialog with this title (a
 *                             trailing * matches any end); NAMEs are then looked
 *                             up in it, until it closes or `main`
 *     main                    look NAMEs up in the main window again
 *     wait-gone SECONDS       wait for the current dialog to close
 *     dialogs                 print the titles of the manager's open dialogs
 *     box SECONDS BUTTON      wait for a message box titled "ISMail Manager"
 *                             (from any process), print its text and press
 *                             BUTTON: ok, yes, no or cancel
 *     message-box SECONDS     the same as box SECONDS ok
 *     file-dialog TITLE SECONDS PATH
 *                             fill the file name of the manager's Open or Save
 *                             As dialog with this title and press its OK button
 *     wait-text NAME SECONDS PREFIX
 *                             wait until the control's text starts with PREFIX
 *                             and print it
 *     apply-and-wait SECONDS  click Apply, then wait for the status bar to say
 *                             "Applied by the service..." (print it, go on) or
 *                             anything final else, or a message box (print it, exit 1)
 *     wait-applied SECONDS    the same wait, without clicking (after Enter, say)
 *     clipboard               print the text on the clipboard
 *     status                  print the status bar's text
 *     close                   close the manager and wait for its window to go
 *   NAME: a setting key (smtp.tls.incoming), a name of names[] (apply,
 *   csr-new, web-port, ...), a numeric control id, or the visible label of a
 *   control ("Host name", "Check", "Install..."): a button's own text, or
 *   the text of the label just before a field, compared without '&' and a
 *   closing ':' (visible controls only, so that the shown tab's wins).
 *
 * Exit status: 0 ok, 1 a check failed, 2 usage, 3 window or control not found. */
#include "bindings.h"
#include "resource.h"

#include <windows.h>
#include <commctrl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_CHECK 1
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 3
#define TITLE L"ISMail Manager"
#define DEFAULT_WAIT_MS 5000
#define TEXT_MAX 2048

static HWND g_main;
static HWND g_cur; /* the dialog NAMEs are looked up in, or NULL for g_main */

/* Names of the manager's controls, for the tests to read. */
static const struct {
    const char *name;
    int id;
} names[] = {
    {"apply", IDC_APPLY}, {"close-button", IDCANCEL}, {"tab", IDC_TAB}, {"status", IDC_STATUS},
    {"ok", IDOK}, {"cancel", IDCANCEL},
    /* SSL Certificates */
    {"csr-list", IDC_CSR_LIST}, {"csr-new", IDC_CSR_NEW}, {"csr-view", IDC_CSR_VIEW}, {"csr-folder", IDC_CSR_FOLDER},
    {"cert-list", IDC_CERT_LIST}, {"cert-install", IDC_CERT_INSTALL}, {"cert-view", IDC_CERT_VIEW},
    {"cert-remove", IDC_CERT_REMOVE}, {"cert-folder", IDC_CERT_FOLDER}, {"cert-protect", IDC_CERT_PROTECT},
    /* New CSR */
    {"csr-country", IDC_CSR_COUNTRY}, {"csr-state", IDC_CSR_STATE}, {"csr-locality", IDC_CSR_LOCALITY},
    {"csr-org", IDC_CSR_ORG}, {"csr-unit", IDC_CSR_UNIT}, {"csr-cn", IDC_CSR_CN}, {"csr-email", IDC_CSR_EMAIL},
    {"csr-key", IDC_CSR_KEY}, {"csr-sans", IDC_CSR_SANS},
    {"csr-country-msg", IDC_CSR_COUNTRY + IDC_CSR_MSG_OFFSET}, {"csr-state-msg", IDC_CSR_STATE + IDC_CSR_MSG_OFFSET},
    {"csr-locality-msg", IDC_CSR_LOCALITY + IDC_CSR_MSG_OFFSET}, {"csr-org-msg", IDC_CSR_ORG + IDC_CSR_MSG_OFFSET},
    {"csr-unit-msg", IDC_CSR_UNIT + IDC_CSR_MSG_OFFSET}, {"csr-cn-msg", IDC_CSR_CN + IDC_CSR_MSG_OFFSET},
    {"csr-email-msg", IDC_CSR_EMAIL + IDC_CSR_MSG_OFFSET}, {"csr-sans-msg", IDC_CSR_SANS + IDC_CSR_MSG_OFFSET},
    /* View, password */
    {"view-text", IDC_VIEW_TEXT}, {"view-copy", IDC_VIEW_COPY}, {"view-save", IDC_VIEW_SAVE},
    {"view-note", IDC_VIEW_NOTE}, {"password", IDC_PW_EDIT},
    /* Web SSL and its dialog */
    {"web-list", IDC_WEB_LIST}, {"web-new", IDC_WEB_NEW}, {"web-edit", IDC_WEB_EDIT}, {"web-delete", IDC_WEB_DELETE},
    {"web-domain", IDC_WD_DOMAIN}, {"web-ip", IDC_WD_IP}, {"web-port", IDC_WD_PORT}, {"web-cert", IDC_WD_CERT},
    {"web-key", IDC_WD_KEY}, {"web-ca", IDC_WD_CA}, {"web-cert-browse", IDC_WD_CERT_BROWSE},
    {"web-key-browse", IDC_WD_KEY_BROWSE}, {"web-ca-browse", IDC_WD_CA_BROWSE}, {"web-error", IDC_WD_ERROR},
    /* Server */
    {"server-host-hint", IDC_SRV_HOST_HINT}, {"server-addr-warning", IDC_SRV_ADDR_WARN}, {"server-msg", IDC_SRV_MSG},
    /* Install, and the web SSL domain's public-IP warning */
    {"install-cert", IDC_IN_CERT}, {"install-key", IDC_IN_KEY}, {"install-ca", IDC_IN_CA},
    {"install-cert-browse", IDC_IN_CERT_BROWSE}, {"install-key-browse", IDC_IN_KEY_BROWSE},
    {"install-ca-browse", IDC_IN_CA_BROWSE}, {"install-check", IDC_IN_CHECK}, {"install-plan", IDC_IN_PLAN},
    {"web-ip-warning", IDC_WD_IP_WARN},
    /* Service */
    {"service-state", IDC_SVC_STATE}, {"service-applied", IDC_SVC_APPLIED}, {"service-error", IDC_SVC_ERROR},
    {"service-start", IDC_SVC_START}, {"service-stop", IDC_SVC_STOP}, {"service-restart", IDC_SVC_RESTART},
    {"listener-list", IDC_SVC_LIST}, {"listener-detail", IDC_SVC_DETAIL},
};

static void print_w(const wchar_t *w)
{
    char out[TEXT_MAX * 3];
    if (WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)sizeof out, NULL, NULL) <= 0)
        out[0] = '\0';
    printf("%s\n", out);
    fflush(stdout);
}

struct find_ctx {
    int id;
    HWND found;
};

static BOOL CALLBACK find_child(HWND h, LPARAM lp)
{
    struct find_ctx *f = (struct find_ctx *)lp;
    if (GetDlgCtrlID(h) == f->id) {
        f->found = h;
        return FALSE;
    }
    return TRUE;
}

/* The control with this id anywhere under top (EnumChildWindows recurses). */
static HWND find_control(HWND top, int id)
{
    struct find_ctx f = {id, NULL};
    EnumChildWindows(top, find_child, (LPARAM)&f);
    return f.found;
}

/* The manager's main window: the right title and a tab control inside (its
 * message boxes have the same title). */
static BOOL CALLBACK find_top(HWND h, LPARAM lp)
{
    wchar_t t[64];
    /* Visible: the manager shows its window once WM_INITDIALOG has created
     * every tab page; before that the title and the tab control exist but the
     * pages' controls may not yet. */
    if (IsWindowVisible(h) && GetWindowTextW(h, t, 64) > 0 && wcscmp(t, TITLE) == 0 && find_control(h, IDC_TAB)) {
        *(HWND *)lp = h;
        return FALSE;
    }
    return TRUE;
}

static HWND wait_main(DWORD ms)
{
    DWORD start = GetTickCount();
    for (;;) {
        HWND h = NULL;
        EnumWindows(find_top, (LPARAM)&h);
        if (h)
            return h;
        if (GetTickCount() - start >= ms)
            return NULL;
        Sleep(100);
    }
}

static int need_main(void)
{
    if (g_main && IsWindow(g_main))
        return 0;
    g_main = wait_main(DEFAULT_WAIT_MS);
    if (g_main)
        return 0;
    fprintf(stderr, "driver: no window titled \"ISMail Manager\"\n");
    return EXIT_NOT_FOUND;
}

static int control_id(const char *name)
{
    const mgr_binding *b = mgr_binding_by_key(name);
    if (b)
        return b->ctrl_id;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].id;
    char *end;
    long id = strtol(name, &end, 0);
    return *name && !*end ? (int)id : -1;
}

/* A label as the eye reads it: without '&', "..." and a closing ':'. */
static void plain_label(const wchar_t *in, wchar_t *out, size_t n)
{
    size_t j = 0;
    for (const wchar_t *p = in; *p && j + 1 < n; p++)
        if (*p != L'&')
            out[j++] = *p;
    while (j && (out[j - 1] == L':' || out[j - 1] == L' ' || out[j - 1] == L'.'))
        j--;
    out[j] = L'\0';
}

struct label_ctx {
    wchar_t want[256];
    HWND found;
};

static BOOL CALLBACK find_label(HWND h, LPARAM lp)
{
    struct label_ctx *l = (struct label_ctx *)lp;
    wchar_t cls[32], t[512], plain[512];
    if (!IsWindowVisible(h) || !GetClassNameW(h, cls, 32) || GetWindowTextW(h, t, 512) <= 0)
        return TRUE;
    plain_label(t, plain, 512);
    if (lstrcmpiW(plain, l->want) != 0)
        return TRUE;
    if (lstrcmpiW(cls, L"Button") == 0) {
        LONG type = GetWindowLongW(h, GWL_STYLE) & BS_TYPEMASK;
        if (type != BS_GROUPBOX) {
            l->found = h;
            return FALSE;
        }
    } else if (lstrcmpiW(cls, L"Static") == 0) {
        HWND next = GetWindow(h, GW_HWNDNEXT);
        if (next && IsWindowVisible(next)) {
            l->found = next;
            return FALSE;
        }
    }
    return TRUE;
}

/* The control a visible label names, under top; NULL when none. */
static HWND control_by_label(HWND top, const char *name)
{
    struct label_ctx l = {{0}, NULL};
    wchar_t w[256];
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, w, 256) <= 0)
        return NULL;
    plain_label(w, l.want, 256);
    if (!l.want[0])
        return NULL;
    EnumChildWindows(top, find_label, (LPARAM)&l);
    return l.found;
}

/* Looks name up; prints why and returns NULL when it is not there. */
static HWND control(const char *name, int *rc)
{
    if ((*rc = need_main()) != 0)
        return NULL;
    int id = control_id(name);
    if (g_cur && !IsWindow(g_cur))
        g_cur = NULL;
    HWND h = id == -1 ? control_by_label(g_cur ? g_cur : g_main, name) : find_control(g_cur ? g_cur : g_main, id);
    if (!h) {
        fprintf(stderr, "driver: no control named %s\n", name);
        *rc = EXIT_NOT_FOUND;
    }
    return h;
}

/* An action goes only to a control a user could use: shown (with its page)
 * and enabled. 0, or EXIT_CHECK with the reason on stderr. */
static int usable(HWND h, const char *name)
{
    if (!IsWindowVisible(h)) {
        fprintf(stderr, "driver: %s is hidden (is its tab shown?)\n", name);
        return EXIT_CHECK;
    }
    if (!IsWindowEnabled(h)) {
        fprintf(stderr, "driver: %s is disabled\n", name);
        return EXIT_CHECK;
    }
    return 0;
}

static void get_text(HWND h, wchar_t *buf, size_t n)
{
    DWORD_PTR r = 0;
    buf[0] = L'\0';
    if (!SendMessageTimeoutW(h, WM_GETTEXT, (WPARAM)n, (LPARAM)buf, SMTO_ABORTIFHUNG, 2000, &r))
        buf[0] = L'\0';
    buf[n - 1] = L'\0';
}

static int is_checkbox(HWND h)
{
    wchar_t cls[32];
    if (!GetClassNameW(h, cls, 32) || lstrcmpiW(cls, L"Button") != 0)
        return 0;
    LONG t = GetWindowLongW(h, GWL_STYLE) & BS_TYPEMASK;
    return t == BS_CHECKBOX || t == BS_AUTOCHECKBOX || t == BS_3STATE || t == BS_AUTO3STATE || t == BS_RADIOBUTTON ||
           t == BS_AUTORADIOBUTTON;
}

/* A click whose handler opens a dialog or message box does not return until
 * it closes, so the click is sent without waiting for its result (a sent
 * message, unlike one that timed out, is never dropped); then a second sent
 * message, handled after the click (or inside the dialog the click opened),
 * says the manager has taken the click in. */
static void click(HWND h)
{
    DWORD_PTR r;
    SendNotifyMessageW(h, BM_CLICK, 0, 0);
    SendMessageTimeoutW(h, WM_NULL, 0, 0, SMTO_NORMAL, 5000, &r);
}

struct box_ctx {
    DWORD pid;
    HWND box;
};

static BOOL CALLBACK find_box(HWND h, LPARAM lp)
{
    struct box_ctx *b = (struct box_ctx *)lp;
    DWORD pid = 0;
    wchar_t cls[16];
    GetWindowThreadProcessId(h, &pid);
    if (pid == b->pid && h != g_main && IsWindowVisible(h) && GetClassNameW(h, cls, 16) &&
        wcscmp(cls, L"#32770") == 0) {
        b->box = h;
        return FALSE;
    }
    return TRUE;
}

static BOOL CALLBACK longest_static(HWND h, LPARAM lp)
{
    wchar_t cls[16], t[TEXT_MAX];
    wchar_t *best = (wchar_t *)lp;
    if (GetClassNameW(h, cls, 16) && lstrcmpiW(cls, L"Static") == 0) {
        get_text(h, t, TEXT_MAX);
        if (wcslen(t) > wcslen(best))
            wcscpy(best, t);
    }
    return TRUE;
}

/* A message box (or any other dialog) the manager has open; its text in text. */
static int message_box_open(wchar_t *text)
{
    struct box_ctx b = {0, NULL};
    GetWindowThreadProcessId(g_main, &b.pid);
    EnumWindows(find_box, (LPARAM)&b);
    if (!b.box)
        return 0;
    text[0] = L'\0';
    EnumChildWindows(b.box, longest_static, (LPARAM)text);
    return 1;
}

static int starts_with(const wchar_t *s, const wchar_t *prefix)
{
    return wcsncmp(s, prefix, wcslen(prefix)) == 0;
}

static int apply_and_wait(double seconds, int do_click)
{
    int rc;
    HWND apply = control("apply", &rc), status = control("status", &rc);
    if (!apply || !status)
        return rc;
    if (do_click) {
        if (!IsWindowEnabled(apply)) {
            fprintf(stderr, "driver: Apply is disabled (nothing changed)\n");
            return EXIT_CHECK;
        }
        click(apply);
    }
    DWORD start = GetTickCount(), limit = (DWORD)(seconds * 1000);
    wchar_t text[TEXT_MAX], box[TEXT_MAX];
    for (;;) {
        if (!IsWindow(g_main)) {
            fprintf(stderr, "driver: the manager's window went away\n");
            return EXIT_NOT_FOUND;
        }
        if (message_box_open(box)) {
            wchar_t line[TEXT_MAX + 16] = L"message box: ";
            wcsncat(line, box, TEXT_MAX - 1);
            print_w(line);
            return EXIT_CHECK;
        }
        get_text(status, text, TEXT_MAX);
        if (starts_with(text, L"Applied by the service")) {
            print_w(text);
            return 0;
        }
        if (starts_with(text, L"The service reported an error") || starts_with(text, L"Saved. ") ||
            starts_with(text, L"Saved, but")) {
            print_w(text);
            return EXIT_CHECK;
        }
        if (GetTickCount() - start >= limit) {
            print_w(text);
            return EXIT_CHECK;
        }
        Sleep(50);
    }
}

/* A message box of any process: title "ISMail Manager", no tab control. */
static BOOL CALLBACK find_any_box(HWND h, LPARAM lp)
{
    wchar_t t[64], cls[16];
    if (IsWindowVisible(h) && GetClassNameW(h, cls, 16) && wcscmp(cls, L"#32770") == 0 && GetWindowTextW(h, t, 64) > 0 &&
        wcscmp(t, TITLE) == 0 && !find_control(h, IDC_TAB)) {
        *(HWND *)lp = h;
        return FALSE;
    }
    return TRUE;
}

/* Waits for a message box, prints its text and presses button (IDOK, IDYES...). */
static int message_box(double seconds, int button)
{
    DWORD start = GetTickCount(), limit = (DWORD)(seconds * 1000);
    HWND box = NULL;
    while (EnumWindows(find_any_box, (LPARAM)&box), !box) {
        if (GetTickCount() - start >= limit) {
            fprintf(stderr, "driver: no message box after %.1f s\n", seconds);
            return EXIT_NOT_FOUND;
        }
        Sleep(100);
    }
    wchar_t text[TEXT_MAX] = L"";
    EnumChildWindows(box, longest_static, (LPARAM)text);
    print_w(text);
    if (button != IDOK && !GetDlgItem(box, button)) {
        fprintf(stderr, "driver: the message box has no such button\n");
        return EXIT_CHECK;
    }
    PostMessageW(box, WM_COMMAND, MAKEWPARAM(button, BN_CLICKED), (LPARAM)GetDlgItem(box, button));
    /* Gone before the next command looks for the next box. */
    start = GetTickCount();
    while (IsWindow(box) && IsWindowVisible(box) && GetTickCount() - start < 5000)
        Sleep(50);
    return 0;
}

static int button_id(const char *word)
{
    static const struct {
        const char *word;
        int id;
    } b[] = {{"ok", IDOK}, {"yes", IDYES}, {"no", IDNO}, {"cancel", IDCANCEL}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (_stricmp(word, b[i].word) == 0)
            return b[i].id;
    return -1;
}

/* ---- memory in the manager's process, for the messages that carry pointers ---- */

typedef struct {
    HANDLE proc;
    BYTE *mem;
} remote;

static int remote_open(HWND h, SIZE_T size, remote *r)
{
    DWORD pid = 0;
    GetWindowThreadProcessId(h, &pid);
    r->proc = OpenProcess(PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_VM_WRITE, FALSE, pid);
    r->mem = r->proc ? VirtualAllocEx(r->proc, NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) : NULL;
    if (!r->mem) {
        fprintf(stderr, "driver: cannot use the manager's memory (error %lu)\n", (unsigned long)GetLastError());
        if (r->proc)
            CloseHandle(r->proc);
        return -1;
    }
    return 0;
}

static void remote_close(remote *r)
{
    VirtualFreeEx(r->proc, r->mem, 0, MEM_RELEASE);
    CloseHandle(r->proc);
}

/* One cell of a list view in another process. */
static void lv_cell(HWND lv, remote *r, int row, int col, wchar_t *out, int n)
{
    LVITEMW it = {.iSubItem = col, .pszText = (LPWSTR)(r->mem + sizeof(LVITEMW)), .cchTextMax = n};
    out[0] = L'\0';
    WriteProcessMemory(r->proc, r->mem, &it, sizeof it, NULL);
    SendMessageW(lv, LVM_GETITEMTEXTW, (WPARAM)row, (LPARAM)r->mem);
    ReadProcessMemory(r->proc, r->mem + sizeof(LVITEMW), out, (SIZE_T)n * sizeof *out, NULL);
    out[n - 1] = L'\0';
}

static int is_class(HWND h, const wchar_t *cls)
{
    wchar_t c[64];
    return GetClassNameW(h, c, 64) && lstrcmpiW(c, cls) == 0;
}

/* Prints every row; columns separated by tabs. */
static int list_rows(HWND lv)
{
    remote r;
    if (remote_open(lv, sizeof(LVITEMW) + TEXT_MAX * sizeof(wchar_t), &r))
        return EXIT_CHECK;
    int rows = (int)SendMessageW(lv, LVM_GETITEMCOUNT, 0, 0);
    int cols = (int)SendMessageW((HWND)SendMessageW(lv, LVM_GETHEADER, 0, 0), HDM_GETITEMCOUNT, 0, 0);
    for (int i = 0; i < rows; i++) {
        wchar_t line[TEXT_MAX * 2] = L"", cell[TEXT_MAX];
        for (int c = 0; c < cols; c++) {
            lv_cell(lv, &r, i, c, cell, TEXT_MAX);
            if (c)
                wcsncat(line, L"\t", TEXT_MAX * 2 - wcslen(line) - 1);
            wcsncat(line, cell, TEXT_MAX * 2 - wcslen(line) - 1);
        }
        print_w(line);
    }
    remote_close(&r);
    return 0;
}

/* Selects the row whose first column is text (the manager is notified, as
 * for a click: LVN_ITEMCHANGED). */
static int pick_row(HWND lv, const wchar_t *text)
{
    remote r;
    if (remote_open(lv, sizeof(LVITEMW) + TEXT_MAX * sizeof(wchar_t), &r))
        return EXIT_CHECK;
    int rows = (int)SendMessageW(lv, LVM_GETITEMCOUNT, 0, 0), found = -1;
    for (int i = 0; i < rows && found < 0; i++) {
        wchar_t cell[TEXT_MAX];
        lv_cell(lv, &r, i, 0, cell, TEXT_MAX);
        if (wcscmp(cell, text) == 0)
            found = i;
    }
    if (found >= 0) {
        LVITEMW it = {.stateMask = LVIS_SELECTED | LVIS_FOCUSED, .state = LVIS_SELECTED | LVIS_FOCUSED};
        WriteProcessMemory(r.proc, r.mem, &it, sizeof it, NULL);
        SendMessageW(lv, LVM_SETITEMSTATE, (WPARAM)found, (LPARAM)r.mem);
        SendMessageW(lv, LVM_ENSUREVISIBLE, (WPARAM)found, FALSE);
    }
    remote_close(&r);
    if (found < 0) {
        fprintf(stderr, "driver: no row '%ls'\n", text);
        return EXIT_CHECK;
    }
    return 0;
}

/* The tabs' titles, or with want, shows that tab (TCM_SETCURFOCUS selects
 * and notifies the window, as a click does). */
static int tabs(const wchar_t *want)
{
    int rc;
    HWND tab = control("tab", &rc);
    if (!tab)
        return rc;
    remote r;
    if (remote_open(tab, sizeof(TCITEMW) + 256 * sizeof(wchar_t), &r))
        return EXIT_CHECK;
    int n = (int)SendMessageW(tab, TCM_GETITEMCOUNT, 0, 0), found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        wchar_t t[256] = L"";
        TCITEMW it = {.mask = TCIF_TEXT, .pszText = (LPWSTR)(r.mem + sizeof(TCITEMW)), .cchTextMax = 256};
        WriteProcessMemory(r.proc, r.mem, &it, sizeof it, NULL);
        if (SendMessageW(tab, TCM_GETITEMW, (WPARAM)i, (LPARAM)r.mem))
            ReadProcessMemory(r.proc, r.mem + sizeof(TCITEMW), t, sizeof t, NULL);
        t[255] = L'\0';
        if (!want)
            print_w(t);
        else if (lstrcmpiW(t, want) == 0)
            found = i;
    }
    remote_close(&r);
    if (!want)
        return 0;
    if (found < 0) {
        fprintf(stderr, "driver: no tab '%ls'\n", want);
        return EXIT_NOT_FOUND;
    }
    SendMessageW(tab, TCM_SETCURFOCUS, (WPARAM)found, 0);
    if ((int)SendMessageW(tab, TCM_GETCURSEL, 0, 0) != found) {
        fprintf(stderr, "driver: the tab '%ls' was not selected\n", want);
        return EXIT_CHECK;
    }
    return 0;
}

/* A visible dialog of the manager's process with this title (a trailing '*'
 * matches any end). */
struct dialog_ctx {
    DWORD pid;
    const wchar_t *title;
    HWND found;
};

static BOOL CALLBACK find_dialog(HWND h, LPARAM lp)
{
    struct dialog_ctx *d = (struct dialog_ctx *)lp;
    DWORD pid = 0;
    wchar_t t[256];
    GetWindowThreadProcessId(h, &pid);
    if (pid != d->pid || h == g_main || !IsWindowVisible(h) || !is_class(h, L"#32770") || GetWindowTextW(h, t, 256) <= 0)
        return TRUE;
    size_t n = wcslen(d->title);
    int match = n && d->title[n - 1] == L'*' ? wcsncmp(t, d->title, n - 1) == 0 : wcscmp(t, d->title) == 0;
    if (match) {
        d->found = h;
        return FALSE;
    }
    return TRUE;
}

static BOOL CALLBACK print_dialog(HWND h, LPARAM lp)
{
    DWORD pid = 0;
    wchar_t t[256];
    GetWindowThreadProcessId(h, &pid);
    if (pid == (DWORD)lp && h != g_main && IsWindowVisible(h) && is_class(h, L"#32770")) {
        t[0] = L'\0';
        GetWindowTextW(h, t, 256);
        print_w(t);
    }
    return TRUE;
}

static HWND wait_dialog(const wchar_t *title, double seconds)
{
    if (need_main())
        return NULL;
    struct dialog_ctx d = {0, title, NULL};
    GetWindowThreadProcessId(g_main, &d.pid);
    DWORD start = GetTickCount(), limit = (DWORD)(seconds * 1000);
    for (;;) {
        d.found = NULL;
        EnumWindows(find_dialog, (LPARAM)&d);
        if (d.found)
            return d.found;
        if (GetTickCount() - start >= limit) {
            fprintf(stderr, "driver: no dialog titled \"%ls\" after %.1f s\n", title, seconds);
            return NULL;
        }
        Sleep(100);
    }
}

/* Waits until the dialog is destroyed, then until the manager has finished
 * what it does after the dialog (a sent message is handled only once its
 * thread reads messages again). */
static int wait_gone(HWND h, double seconds)
{
    DWORD start = GetTickCount(), limit = (DWORD)(seconds * 1000);
    while (h && IsWindow(h)) {
        if (GetTickCount() - start >= limit) {
            wchar_t t[256] = L"";
            GetWindowTextW(h, t, 256);
            fprintf(stderr, "driver: the dialog \"%ls\" is still open after %.1f s\n", t, seconds);
            return EXIT_CHECK;
        }
        Sleep(50);
    }
    DWORD_PTR r;
    if (g_main && IsWindow(g_main))
        SendMessageTimeoutW(g_main, WM_NULL, 0, 0, SMTO_NORMAL, 5000, &r);
    return 0;
}

/* Fills an Open / Save As dialog's file name (an edit, edt1, or a combo box,
 * cmb13, depending on the dialog's style) and presses OK. */
static int file_dialog(const wchar_t *title, double seconds, const wchar_t *path)
{
    HWND dlg = wait_dialog(title, seconds);
    if (!dlg)
        return EXIT_NOT_FOUND;
    HWND name = find_control(dlg, 0x480);
    if (!name)
        name = find_control(dlg, 0x47c);
    if (!name) {
        fprintf(stderr, "driver: the file dialog has no file name box\n");
        return EXIT_NOT_FOUND;
    }
    DWORD_PTR r;
    SendMessageTimeoutW(name, WM_SETTEXT, 0, (LPARAM)path, SMTO_ABORTIFHUNG, 2000, &r);
    PostMessageW(dlg, WM_COMMAND, MAKEWPARAM(IDOK, BN_CLICKED), (LPARAM)GetDlgItem(dlg, IDOK));
    return wait_gone(dlg, 10);
}

static int wait_text(HWND h, double seconds, const wchar_t *prefix)
{
    DWORD start = GetTickCount(), limit = (DWORD)(seconds * 1000);
    wchar_t text[TEXT_MAX];
    for (;;) {
        get_text(h, text, TEXT_MAX);
        if (starts_with(text, prefix)) {
            print_w(text);
            return 0;
        }
        if (GetTickCount() - start >= limit) {
            fprintf(stderr, "driver: the text is still \"%ls\" after %.1f s\n", text, seconds);
            return EXIT_CHECK;
        }
        Sleep(100);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: ismail-driver.exe COMMAND...\n"
                    "  wait-window SECONDS | get NAME | enabled NAME | click NAME | set NAME TEXT |\n"
                    "  select NAME VALUE | tab TITLE | tabs | list NAME | pick NAME TEXT |\n"
                    "  dialog TITLE SECONDS | main | wait-gone SECONDS | dialogs | box SECONDS ok|yes|no|cancel |\n"
                    "  message-box SECONDS | file-dialog TITLE SECONDS PATH | wait-text NAME SECONDS PREFIX | clipboard |\n"
                    "  apply-and-wait SECONDS | wait-applied SECONDS | status | close\n"
                    "  NAME: a setting key, a control name (apply, csr-new, web-port, ...), a control id\n"
                    "        or a visible label (\"Host name\", \"Check\")\n");
    return EXIT_USAGE;
}

/* UTF-8 argument to UTF-16. */
static int wide(const char *s, wchar_t *out, int n)
{
    return MultiByteToWideChar(CP_UTF8, 0, s, -1, out, n) > 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    for (int i = 1; i < argc; i++) {
        const char *cmd = argv[i];
        int has1 = i + 1 < argc, rc = 0;
        HWND h;
        wchar_t text[TEXT_MAX];
        if (strcmp(cmd, "wait-window") == 0 && has1) {
            g_main = wait_main((DWORD)(atof(argv[++i]) * 1000));
            if (!g_main) {
                fprintf(stderr, "driver: no window titled \"ISMail Manager\" after %s s\n", argv[i]);
                return EXIT_NOT_FOUND;
            }
        } else if (strcmp(cmd, "get") == 0 && has1) {
            if (!(h = control(argv[++i], &rc)))
                return rc;
            if (is_class(h, WC_LISTVIEWW)) {
                if ((rc = list_rows(h)) != 0)
                    return rc;
            } else if (is_checkbox(h)) {
                printf("%d\n", SendMessageW(h, BM_GETCHECK, 0, 0) == BST_CHECKED);
                fflush(stdout);
            } else {
                get_text(h, text, TEXT_MAX);
                print_w(text);
            }
        } else if (strcmp(cmd, "enabled") == 0 && has1) {
            if (!(h = control(argv[++i], &rc)))
                return rc;
            printf("%d\n", IsWindowEnabled(h) ? 1 : 0);
            fflush(stdout);
        } else if (strcmp(cmd, "click") == 0 && has1) {
            if (!(h = control(argv[++i], &rc)))
                return rc;
            if ((rc = usable(h, argv[i])) != 0)
                return rc;
            click(h);
        } else if (strcmp(cmd, "select") == 0 && i + 2 < argc) {
            if (!(h = control(argv[++i], &rc)) || (rc = usable(h, argv[i])) != 0)
                return rc;
            const char *value = argv[++i];
            if (MultiByteToWideChar(CP_UTF8, 0, value, -1, text, TEXT_MAX) <= 0)
                return usage();
            LRESULT sel = SendMessageW(h, CB_FINDSTRINGEXACT, (WPARAM)-1, (LPARAM)text);
            if (sel == CB_ERR) {
                fprintf(stderr, "driver: %s offers no '%s'\n", argv[i - 1], value);
                return EXIT_CHECK;
            }
            SendMessageW(h, CB_SETCURSEL, (WPARAM)sel, 0);
            SendMessageW(GetParent(h), WM_COMMAND, MAKEWPARAM(GetDlgCtrlID(h), CBN_SELCHANGE), (LPARAM)h);
        } else if (strcmp(cmd, "apply-and-wait") == 0 && has1) {
            if ((rc = apply_and_wait(atof(argv[++i]), 1)) != 0)
                return rc;
        } else if (strcmp(cmd, "wait-applied") == 0 && has1) {
            if ((rc = apply_and_wait(atof(argv[++i]), 0)) != 0)
                return rc;
        } else if (strcmp(cmd, "message-box") == 0 && has1) {
            if ((rc = message_box(atof(argv[++i]), IDOK)) != 0)
                return rc;
        } else if (strcmp(cmd, "box") == 0 && i + 2 < argc) {
            int b = button_id(argv[i + 2]);
            if (b < 0)
                return usage();
            if ((rc = message_box(atof(argv[i + 1]), b)) != 0)
                return rc;
            i += 2;
        } else if (strcmp(cmd, "set") == 0 && i + 2 < argc) {
            if (!(h = control(argv[++i], &rc)) || (rc = usable(h, argv[i])) != 0)
                return rc;
            if (!wide(argv[++i], text, TEXT_MAX))
                return usage();
            DWORD_PTR r;
            if (!SendMessageTimeoutW(h, WM_SETTEXT, 0, (LPARAM)text, SMTO_ABORTIFHUNG, 2000, &r)) {
                fprintf(stderr, "driver: %s did not take the text\n", argv[i - 1]);
                return EXIT_CHECK;
            }
        } else if (strcmp(cmd, "tab") == 0 && has1) {
            if (!wide(argv[++i], text, TEXT_MAX))
                return usage();
            if ((rc = tabs(text)) != 0)
                return rc;
        } else if (strcmp(cmd, "tabs") == 0) {
            if ((rc = tabs(NULL)) != 0)
                return rc;
        } else if (strcmp(cmd, "list") == 0 && has1) {
            if (!(h = control(argv[++i], &rc)))
                return rc;
            if ((rc = list_rows(h)) != 0)
                return rc;
        } else if (strcmp(cmd, "pick") == 0 && i + 2 < argc) {
            if (!(h = control(argv[++i], &rc)))
                return rc;
            if (!wide(argv[++i], text, TEXT_MAX))
                return usage();
            if ((rc = pick_row(h, text)) != 0)
                return rc;
        } else if (strcmp(cmd, "dialog") == 0 && i + 2 < argc) {
            if (!wide(argv[i + 1], text, TEXT_MAX))
                return usage();
            if (!(g_cur = wait_dialog(text, atof(argv[i + 2]))))
                return EXIT_NOT_FOUND;
            i += 2;
        } else if (strcmp(cmd, "clipboard") == 0) {
            /* Wine hands a new clipboard to its X11 side first: give the
             * text a few seconds to arrive. */
            int ok = 0;
            for (DWORD start = GetTickCount(); !IsClipboardFormatAvailable(CF_UNICODETEXT) &&
                                               GetTickCount() - start < 5000;)
                Sleep(100);
            if (OpenClipboard(NULL)) {
                HANDLE g = GetClipboardData(CF_UNICODETEXT);
                const wchar_t *w = g ? GlobalLock(g) : NULL;
                if (w) {
                    size_t n = wcslen(w);
                    wchar_t *copy = malloc((n + 1) * sizeof *copy);
                    if (copy) {
                        memcpy(copy, w, (n + 1) * sizeof *copy);
                        /* print_w's buffer is for one control's text */
                        for (wchar_t *p = copy, *e; *p; p = e) {
                            e = wcschr(p, L'\n');
                            e = e ? e + 1 : p + wcslen(p);
                            wchar_t keep = *e;
                            *e = L'\0';
                            size_t l = wcslen(p);
                            while (l && (p[l - 1] == L'\n' || p[l - 1] == L'\r'))
                                p[--l] = L'\0';
                            print_w(p);
                            *e = keep;
                        }
                        free(copy);
                        ok = 1;
                    }
                    GlobalUnlock(g);
                }
                CloseClipboard();
            }
            if (!ok) {
                fprintf(stderr, "driver: no text on the clipboard\n");
                return EXIT_CHECK;
            }
        } else if (strcmp(cmd, "main") == 0) {
            g_cur = NULL;
        } else if (strcmp(cmd, "dialogs") == 0) {
            DWORD pid = 0;
            if ((rc = need_main()) != 0)
                return rc;
            GetWindowThreadProcessId(g_main, &pid);
            EnumWindows(print_dialog, (LPARAM)pid);
        } else if (strcmp(cmd, "wait-gone") == 0 && has1) {
            if ((rc = wait_gone(g_cur, atof(argv[++i]))) != 0)
                return rc;
            g_cur = NULL;
        } else if (strcmp(cmd, "file-dialog") == 0 && i + 3 < argc) {
            wchar_t path[MAX_PATH * 4];
            if (!wide(argv[i + 1], text, TEXT_MAX) || !wide(argv[i + 3], path, MAX_PATH * 4))
                return usage();
            if ((rc = file_dialog(text, atof(argv[i + 2]), path)) != 0)
                return rc;
            i += 3;
        } else if (strcmp(cmd, "wait-text") == 0 && i + 3 < argc) {
            if (!(h = control(argv[i + 1], &rc)))
                return rc;
            if (!wide(argv[i + 3], text, TEXT_MAX))
                return usage();
            if ((rc = wait_text(h, atof(argv[i + 2]), text)) != 0)
                return rc;
            i += 3;
        } else if (strcmp(cmd, "status") == 0) {
            if (!(h = control("status", &rc)))
                return rc;
            get_text(h, text, TEXT_MAX);
            print_w(text);
        } else if (strcmp(cmd, "close") == 0) {
            if ((rc = need_main()) != 0)
                return rc;
            PostMessageW(g_main, WM_CLOSE, 0, 0);
            DWORD start = GetTickCount();
            while (IsWindow(g_main)) {
                if (GetTickCount() - start >= DEFAULT_WAIT_MS) {
                    fprintf(stderr, "driver: the manager did not close\n");
                    return EXIT_CHECK;
                }
                Sleep(50);
            }
            g_main = NULL;
        } else {
            return usage();
        }
    }
    return 0;
}
