/* ui.c: the helpers the manager's pages share (see app.h): texts from the
 * string table, message boxes, list views and the file dialogs. Nothing here
 * knows a setting, a certificate or the service. */
#include "app.h"
#include "resource.h"

#include <commctrl.h>
#include <commdlg.h>
#include <uxtheme.h>

#include <stdlib.h>
#include <string.h>

/* ---- texts ---- */

wchar_t *mgr_format(UINT ids, const char *a1, const char *a2, const char *a3, const char *a4)
{
    wchar_t fmt[MGR_TEXT_MAX];
    const char *a[4] = {a1, a2, a3, a4};
    wchar_t *w[4];
    DWORD_PTR args[4];
    for (int i = 0; i < 4; i++) {
        w[i] = mgr_widen(a[i] ? a[i] : "");
        args[i] = (DWORD_PTR)(w[i] ? w[i] : L"");
    }
    wchar_t *msg = NULL, *out = NULL;
    if (LoadStringW(g_app.inst, ids, fmt, MGR_TEXT_MAX) <= 0)
        fmt[0] = L'\0';
    DWORD n = fmt[0] ? FormatMessageW(FORMAT_MESSAGE_FROM_STRING | FORMAT_MESSAGE_ARGUMENT_ARRAY |
                                          FORMAT_MESSAGE_ALLOCATE_BUFFER,
                                      fmt, 0, 0, (LPWSTR)&msg, 0, (va_list *)args)
                     : 0;
    const wchar_t *src = n && msg ? msg : fmt;
    size_t len = wcslen(src);
    out = malloc((len + 1) * sizeof *out);
    if (!out)
        abort();
    memcpy(out, src, (len + 1) * sizeof *out);
    if (msg)
        LocalFree(msg);
    for (int i = 0; i < 4; i++)
        free(w[i]);
    return out;
}

void mgr_text(wchar_t *out, size_t outsz, UINT ids, const char *a1, const char *a2)
{
    wchar_t *t = mgr_format(ids, a1, a2, NULL, NULL);
    lstrcpynW(out, t, (int)outsz);
    free(t);
}

void mgr_text_utf8(char *out, size_t outsz, UINT ids, const char *a1, const char *a2)
{
    wchar_t *t = mgr_format(ids, a1, a2, NULL, NULL);
    mgr_narrow(t, out, outsz);
    free(t);
}

int mgr_box_text(HWND owner, UINT flags, const wchar_t *text)
{
    wchar_t title[128];
    mgr_text(title, 128, IDS_APP_TITLE, NULL, NULL);
    return MessageBoxW(owner, text, title, flags);
}

int mgr_box(HWND owner, UINT flags, UINT ids, const char *a1, const char *a2)
{
    wchar_t *t = mgr_format(ids, a1, a2, NULL, NULL);
    int r = mgr_box_text(owner, flags, t);
    free(t);
    return r;
}

void mgr_get_text(HWND dlg, int id, char *out, size_t outsz)
{
    HWND h = GetDlgItem(dlg, id);
    int n = h ? GetWindowTextLengthW(h) : 0;
    wchar_t *w = malloc(((size_t)n + 1) * sizeof *w);
    if (!w || !outsz) {
        if (outsz)
            out[0] = '\0';
        free(w);
        return;
    }
    w[0] = L'\0';
    if (h)
        GetWindowTextW(h, w, n + 1);
    mgr_narrow(w, out, outsz);
    free(w);
}

void mgr_set_text(HWND dlg, int id, const char *utf8)
{
    wchar_t *w = mgr_widen(utf8 ? utf8 : "");
    if (w)
        SetDlgItemTextW(dlg, id, w);
    free(w);
}

HWND mgr_top(HWND h)
{
    return GetAncestor(h, GA_ROOT);
}

void mgr_enable(HWND dlg, int id, int on, int to)
{
    HWND h = GetDlgItem(dlg, id);
    if (!on && GetFocus() == h)
        SendMessageW(mgr_top(dlg), WM_NEXTDLGCTL, (WPARAM)GetDlgItem(dlg, to), TRUE);
    EnableWindow(h, on);
}

/* ---- list views ---- */

/* Dialog units to pixels, horizontally, for a control's dialog. */
static int du_x(HWND ctl, int du)
{
    RECT r = {0, 0, du, 0};
    MapDialogRect(GetParent(ctl), &r);
    return r.right;
}

void mgr_lv_init(HWND lv, const UINT *titles, const int *widths_du, int n)
{
    SetWindowTheme(lv, L"Explorer", NULL);
    SendMessageW(lv, LVM_SETEXTENDEDLISTVIEWSTYLE, 0,
                 LVS_EX_FULLROWSELECT | LVS_EX_DOUBLEBUFFER | LVS_EX_LABELTIP | LVS_EX_INFOTIP);
    HWND header = (HWND)SendMessageW(lv, LVM_GETHEADER, 0, 0);
    for (int i = 0; i < n; i++) {
        wchar_t t[128];
        mgr_text(t, 128, titles[i], NULL, NULL);
        LVCOLUMNW c = {.mask = LVCF_TEXT | LVCF_WIDTH | LVCF_SUBITEM, .cx = du_x(lv, widths_du[i]), .pszText = t,
                       .iSubItem = i};
        SendMessageW(lv, LVM_INSERTCOLUMNW, (WPARAM)i, (LPARAM)&c);
        /* The template's width, kept as the column's minimum. */
        HDITEMW hi = {.mask = HDI_LPARAM, .lParam = widths_du[i]};
        SendMessageW(header, HDM_SETITEMW, (WPARAM)i, (LPARAM)&hi);
    }
    mgr_lv_fit(lv);
}

int mgr_lv_add(HWND lv, const char *const *texts, int n)
{
    int row = (int)SendMessageW(lv, LVM_GETITEMCOUNT, 0, 0);
    for (int i = 0; i < n; i++) {
        wchar_t *w = mgr_widen(texts[i] ? texts[i] : "");
        LVITEMW it = {.mask = LVIF_TEXT, .iItem = row, .iSubItem = i, .pszText = w ? w : L""};
        if (i == 0)
            row = (int)SendMessageW(lv, LVM_INSERTITEMW, 0, (LPARAM)&it);
        else
            SendMessageW(lv, LVM_SETITEMTEXTW, (WPARAM)row, (LPARAM)&it);
        free(w);
        if (row < 0)
            return -1;
    }
    return row;
}

int mgr_lv_selected(HWND lv)
{
    return (int)SendMessageW(lv, LVM_GETNEXTITEM, (WPARAM)-1, LVNI_SELECTED);
}

void mgr_lv_select(HWND lv, int row)
{
    LVITEMW it = {.stateMask = LVIS_SELECTED | LVIS_FOCUSED, .state = LVIS_SELECTED | LVIS_FOCUSED};
    if (row < 0)
        return;
    SendMessageW(lv, LVM_SETITEMSTATE, (WPARAM)row, (LPARAM)&it);
    SendMessageW(lv, LVM_ENSUREVISIBLE, (WPARAM)row, FALSE);
}

void mgr_lv_get(HWND lv, int row, int col, char *out, size_t outsz)
{
    wchar_t w[1024];
    LVITEMW it = {.iSubItem = col, .pszText = w, .cchTextMax = 1024};
    w[0] = L'\0';
    SendMessageW(lv, LVM_GETITEMTEXTW, (WPARAM)row, (LPARAM)&it);
    mgr_narrow(w, out, outsz);
}

int mgr_lv_find(HWND lv, const char *text)
{
    int n = (int)SendMessageW(lv, LVM_GETITEMCOUNT, 0, 0);
    for (int i = 0; i < n; i++) {
        char t[1024];
        mgr_lv_get(lv, i, 0, t, sizeof t);
        if (strcmp(t, text) == 0)
            return i;
    }
    return -1;
}

void mgr_lv_fit(HWND lv)
{
    HWND header = (HWND)SendMessageW(lv, LVM_GETHEADER, 0, 0);
    int cols = (int)SendMessageW(header, HDM_GETITEMCOUNT, 0, 0);
    int rows = (int)SendMessageW(lv, LVM_GETITEMCOUNT, 0, 0);
    int pad = du_x(lv, 7), used = 0; /* the cell's margins, as LVSCW_AUTOSIZE leaves them */
    RECT cr;
    GetClientRect(lv, &cr);
    for (int c = 0; c < cols; c++) {
        wchar_t t[1024];
        HDITEMW hi = {.mask = HDI_LPARAM | HDI_TEXT, .pszText = t, .cchTextMax = 1024};
        t[0] = L'\0';
        SendMessageW(header, HDM_GETITEMW, (WPARAM)c, (LPARAM)&hi);
        int w = max(du_x(lv, (int)hi.lParam), (int)SendMessageW(lv, LVM_GETSTRINGWIDTHW, 0, (LPARAM)t) + pad);
        for (int r = 0; r < rows; r++) {
            LVITEMW it = {.iSubItem = c, .pszText = t, .cchTextMax = 1024};
            t[0] = L'\0';
            SendMessageW(lv, LVM_GETITEMTEXTW, (WPARAM)r, (LPARAM)&it);
            w = max(w, (int)SendMessageW(lv, LVM_GETSTRINGWIDTHW, 0, (LPARAM)t) + pad);
        }
        if (c == cols - 1)
            w = max(w, (int)cr.right - used);
        SendMessageW(lv, LVM_SETCOLUMNWIDTH, (WPARAM)c, MAKELPARAM(w, 0));
        used += w;
    }
}

/* ---- file dialogs ---- */

/* "Name|*.a|" from the string table into the double-NUL form. */
static void filter_of(UINT ids, wchar_t *out, size_t outsz)
{
    mgr_text(out, outsz - 1, ids, NULL, NULL);
    size_t n = wcslen(out);
    for (size_t i = 0; i < n; i++)
        if (out[i] == L'|')
            out[i] = L'\0';
    out[n + 1] = L'\0';
}

static int file_dialog(HWND owner, int save, UINT title, UINT filter, const char *dir, const char *name,
                       const char *ext, char *out, size_t outsz)
{
    wchar_t file[MAX_PATH * 4] = L"", t[256], f[1024];
    wchar_t *wdir = dir && dir[0] ? mgr_widen(dir) : NULL, *wext = ext ? mgr_widen(ext) : NULL;
    if (name) {
        wchar_t *wn = mgr_widen(name);
        if (wn)
            lstrcpynW(file, wn, MAX_PATH * 4);
        free(wn);
    }
    mgr_text(t, 256, title, NULL, NULL);
    filter_of(filter, f, 1024);
    OPENFILENAMEW o = {.lStructSize = sizeof o};
    o.hwndOwner = owner;
    o.lpstrFilter = f;
    o.nFilterIndex = 1;
    o.lpstrFile = file;
    o.nMaxFile = MAX_PATH * 4;
    o.lpstrInitialDir = wdir;
    o.lpstrTitle = t;
    o.lpstrDefExt = wext;
    o.Flags = OFN_EXPLORER | OFN_HIDEREADONLY | OFN_PATHMUSTEXIST | OFN_NOCHANGEDIR | OFN_DONTADDTORECENT |
              (save ? OFN_OVERWRITEPROMPT : OFN_FILEMUSTEXIST);
    BOOL ok = save ? GetSaveFileNameW(&o) : GetOpenFileNameW(&o);
    free(wdir);
    free(wext);
    if (!ok)
        return 0;
    mgr_narrow(file, out, outsz);
    return 1;
}

int mgr_open_file(HWND owner, UINT title, UINT filter, const char *dir, char *out, size_t outsz)
{
    return file_dialog(owner, 0, title, filter, dir, NULL, NULL, out, outsz);
}

int mgr_save_file(HWND owner, UINT title, UINT filter, const char *dir, const char *name, const char *ext, char *out,
                  size_t outsz)
{
    return file_dialog(owner, 1, title, filter, dir, name, ext, out, outsz);
}

/* ---- colours ---- */

HBRUSH mgr_error_color(HDC dc, HWND ctl, int is_error)
{
    (void)ctl;
    SetTextColor(dc, is_error ? RGB(192, 0, 0) : GetSysColor(COLOR_WINDOWTEXT));
    SetBkColor(dc, GetSysColor(COLOR_3DFACE));
    return GetSysColorBrush(COLOR_3DFACE);
}

void mgr_page_init(HWND page)
{
    EnableThemeDialogTexture(page, ETDT_ENABLETAB);
}

void mgr_lv_refill_begin(HWND lv, char *keep, size_t keepsz)
{
    int row = mgr_lv_selected(lv);
    keep[0] = '\0';
    if (row >= 0)
        mgr_lv_get(lv, row, 0, keep, keepsz);
    SendMessageW(lv, WM_SETREDRAW, FALSE, 0);
    SendMessageW(lv, LVM_DELETEALLITEMS, 0, 0);
}

void mgr_lv_refill_end(HWND lv, const char *select)
{
    mgr_lv_fit(lv);
    if (select && select[0])
        mgr_lv_select(lv, mgr_lv_find(lv, select));
    SendMessageW(lv, WM_SETREDRAW, TRUE, 0);
    mgr_lv_fit(lv); /* again, now that the scroll bars are what the rows need */
    InvalidateRect(lv, NULL, TRUE);
}
