/* app: what the manager's window and its pages share.
 *
 * main.c owns the window, the store and the status bar; each tab page is a
 * child dialog with its own dialog procedure (page_*.c) that calls the core
 * for everything it does and the helpers here (ui.c) for texts from the
 * string table, message boxes, list views and file dialogs. */
#ifndef MGR_APP_H
#define MGR_APP_H

#include "form.h"
#include "ism_paths.h"
#include "ism_store.h"

#include <windows.h>

/* Messages from the main window to the pages. */
#define WM_APP_CHANGED (WM_APP + 1)      /* page -> main: a bound control changed; recheck Apply */
#define WM_APP_RELAYOUT (WM_APP + 2)     /* the DPI changed and the dialogs were rescaled */
#define WM_APP_PAGE_SHOWN (WM_APP + 3)   /* main -> page: the page became the visible one */
#define WM_APP_STORE_CHANGED (WM_APP + 4)/* main -> pages: the store was written or reloaded */

#define MGR_TEXT_MAX 4096

typedef struct {
    HINSTANCE inst;
    HWND dlg, tab, status, tip;
    HICON icon_big, icon_small;
    mgr_form form;                   /* the pages */
    ism_paths base_paths;            /* from --data (or the defaults) */
    ism_paths paths;                 /* with the ssl.* folder settings applied */
    ism_store *store;
    ism_config cfg;                  /* what the store held at the last load */
    wchar_t *tips[ISM_SETTING_COUNT];/* tooltip texts, alive as long as the window */
    /* the write in flight (Apply, a domain, a certificate) */
    int waiting, warned;
    int64_t wait_rev;                /* revision written by that write */
    int64_t wait_start_mono, wait_start_wall;
    ism_status before;               /* service status just before it */
    int showing_modified;
} mgr_app;

extern mgr_app g_app;

/* ---- after a write (main.c) ---- */

/* Reloads the settings after another write than Apply (a web SSL domain, a
 * certificate installed or removed and the store touched), tells the pages,
 * and waits for the service in the status bar as Apply does. before is the
 * service's status read just before the write. */
void mgr_after_write(const ism_status *before, int64_t t0_mono, int64_t t0_wall);
/* The service status now, or an empty one (applied_revision -1). */
void mgr_status_before(ism_status *s, int64_t *t0_mono, int64_t *t0_wall);

/* ---- texts (ui.c) ---- */

/* String ids with %1..%4 filled in from UTF-8 arguments (NULL for ""). The
 * returned string is malloc'd; never NULL (an empty string when out of memory
 * would be worse than aborting, so it aborts). */
wchar_t *mgr_format(UINT ids, const char *a1, const char *a2, const char *a3, const char *a4);
/* The same into a buffer (cut to fit). */
void mgr_text(wchar_t *out, size_t outsz, UINT ids, const char *a1, const char *a2);
/* A string of the table as UTF-8. */
void mgr_text_utf8(char *out, size_t outsz, UINT ids, const char *a1, const char *a2);

/* A message box titled like the manager. Returns the button pressed. */
int mgr_box(HWND owner, UINT flags, UINT ids, const char *a1, const char *a2);
int mgr_box_text(HWND owner, UINT flags, const wchar_t *text);
/* Sets the status bar's text. */
void mgr_status(UINT ids, const char *a1, const char *a2);

/* UTF-8 text of a control, and setting one. */
void mgr_get_text(HWND dlg, int id, char *out, size_t outsz);
void mgr_set_text(HWND dlg, int id, const char *utf8);

/* The top-level window a control or tab page is in. */
HWND mgr_top(HWND h);
/* Enables or disables control id of dlg (a dialog or a tab page). A control
 * that is disabled while it has the focus first hands the focus to control
 * to of dlg: the focus never rests on a disabled control, where the keyboard
 * would lose it. */
void mgr_enable(HWND dlg, int id, int on, int to);

/* ---- list views (ui.c) ---- */

/* Report view, full-row select, grid lines off, columns from string ids with
 * widths in dialog units (the last one fills the rest). */
void mgr_lv_init(HWND lv, const UINT *titles, const int *widths_du, int n);
/* Appends a row of UTF-8 texts; returns its index. */
int mgr_lv_add(HWND lv, const char *const *texts, int n);
/* The selected row, or -1. */
int mgr_lv_selected(HWND lv);
/* Selects (and shows) a row. */
void mgr_lv_select(HWND lv, int row);
/* The row whose first column is text, or -1. */
int mgr_lv_find(HWND lv, const char *text);
void mgr_lv_get(HWND lv, int row, int col, char *out, size_t outsz);
/* Widens the columns whose contents or titles do not fit (never narrower
 * than the template's widths); the last column fills what is left. */
void mgr_lv_fit(HWND lv);
/* Refilling a list without flicker or losing the user's place:
 * mgr_lv_refill_begin copies the selected row's first column into keep
 * ("" when none), stops redrawing and empties the list; after the rows are
 * added, mgr_lv_refill_end fits the columns, selects the row whose first
 * column is select (if any) and redraws. */
void mgr_lv_refill_begin(HWND lv, char *keep, size_t keepsz);
void mgr_lv_refill_end(HWND lv, const char *select);

/* ---- file dialogs (ui.c) ---- */

/* Open / Save As with a filter from the string table ("Name|*.a;*.b|..."),
 * starting in dir (UTF-8, may be NULL). out: UTF-8 path. Returns 1 when a
 * file was chosen, 0 when cancelled. */
int mgr_open_file(HWND owner, UINT title, UINT filter, const char *dir, char *out, size_t outsz);
int mgr_save_file(HWND owner, UINT title, UINT filter, const char *dir, const char *name, const char *ext, char *out,
                  size_t outsz);

/* ---- error text colour (ui.c) ---- */

/* For WM_CTLCOLORSTATIC of a dialog whose message labels are drawn in the
 * error colour: returns the brush to return, or NULL for the default. */
HBRUSH mgr_error_color(HDC dc, HWND ctl, int is_error);

/* ---- the pages ---- */
INT_PTR CALLBACK mgr_certs_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp);
INT_PTR CALLBACK mgr_web_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp);
INT_PTR CALLBACK mgr_service_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp);
INT_PTR CALLBACK mgr_server_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp);
/* Common start of every page: themed background like the tab control's. */
void mgr_page_init(HWND page);

#endif
