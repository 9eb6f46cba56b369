/* tests/wine/driver.c: drives ISMail Manager from a test, without screen
 * coordinates. It finds the manager's window by its title, then any control by
 * its id anywhere in the window tree (the tab pages are child dialogs), and
 * names controls by the key of the setting they are bound to, through the
 * manager's own binding table (manager-gui/bindings.c).
 *
 *   ismail-driver.exe COMMAND... (run in order; the first failure ends the run)
 *     wait-window SECONDS     wait for the manager's window
 *     get NAME                print 0/1 for a check box, the text otherwise
 *     enabled NAME            print 1 when the control is enabled, 0 if not
 *     click NAME              click a button or check box (BM_CLICK)
 *     select NAME VALUE       choose VALUE in a drop-down list
 *     apply-and-wait SECONDS  click Apply, then wait for the status bar to say
 *                             "Applied by the service..." (print it, go on) or
 *                             anything final else, or a message box (print it, exit 1)
 *     wait-applied SECONDS    the same wait, without clicking (after Enter, say)
 *     message-box SECONDS     wait for a message box titled "ISMail Manager"
 *                             (from any process, e.g. a manager that failed to
 *                             start), print its text and press its OK button
 *     status                  print the status bar's text
 *     close                   close the manager and wait for its window to go
 *   NAME: a setting key (smtp.tls.incoming), apply, close-button, tab, status,
 *   or a numeric control id.
 *
 * Exit status: 0 ok, 1 a check failed, 2 usage, 3 window or control not found. */
#include "bindings.h"
#include "resource.h"

#include <windows.h>

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
    if (GetWindowTextW(h, t, 64) > 0 && wcscmp(t, TITLE) == 0 && find_control(h, IDC_TAB)) {
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
    if (strcmp(name, "apply") == 0)
        return IDC_APPLY;
    if (strcmp(name, "close-button") == 0)
        return IDCANCEL;
    if (strcmp(name, "tab") == 0)
        return IDC_TAB;
    if (strcmp(name, "status") == 0)
        return IDC_STATUS;
    char *end;
    long id = strtol(name, &end, 0);
    return *name && !*end ? (int)id : -1;
}

/* Looks name up; prints why and returns NULL when it is not there. */
static HWND control(const char *name, int *rc)
{
    if ((*rc = need_main()) != 0)
        return NULL;
    int id = control_id(name);
    HWND h = id == -1 ? NULL : find_control(g_main, id);
    if (!h) {
        fprintf(stderr, "driver: no control named %s\n", name);
        *rc = EXIT_NOT_FOUND;
    }
    return h;
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

/* A click whose handler opens a message box does not return until the box
 * closes, so wait a little and go on. */
static void click(HWND h)
{
    DWORD_PTR r;
    SendMessageTimeoutW(h, BM_CLICK, 0, 0, SMTO_NORMAL, 1000, &r);
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

static int message_box(double seconds)
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
    PostMessageW(box, WM_COMMAND, IDOK, 0);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: ismail-driver.exe COMMAND...\n"
                    "  wait-window SECONDS | get NAME | enabled NAME | click NAME | select NAME VALUE |\n"
                    "  apply-and-wait SECONDS | wait-applied SECONDS | message-box SECONDS | status | close\n"
                    "  NAME: a setting key, apply, close-button, tab, status or a control id\n");
    return EXIT_USAGE;
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
            if (is_checkbox(h)) {
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
            if (!IsWindowEnabled(h)) {
                fprintf(stderr, "driver: %s is disabled\n", argv[i]);
                return EXIT_CHECK;
            }
            click(h);
        } else if (strcmp(cmd, "select") == 0 && i + 2 < argc) {
            if (!(h = control(argv[++i], &rc)))
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
            if ((rc = message_box(atof(argv[++i]))) != 0)
                return rc;
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
