/* page_web.c: the Web SSL tab, the manual's "configure a domain for SSL".
 *
 * A list of the web server's SSL domains (ism_store_domain_list) with New,
 * Edit and Delete. The New/Edit dialog has the manual's six fields and file
 * pickers for the three files; Save runs the same checks as `ismailctl domain
 * add|edit` (ism_web_domain_check, then ism_web_domain_check_files) and stores
 * the domain only when both pass (ism_store_domain_put); otherwise the
 * dialog stays open with the core's message under the fields. Under the
 * fields too: the manual's note that a certificate needs a public IP
 * address, as a warning while the IP address is a LAN, link-local or
 * loopback one (ism_addr_public_warning); it does not stop Save. */
#include "app.h"
#include "resource.h"

#include "ism_addr.h"

#include <commctrl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int selected_domain(HWND page, char *out, size_t outsz)
{
    HWND lv = GetDlgItem(page, IDC_WEB_LIST);
    int row = mgr_lv_selected(lv);
    out[0] = '\0';
    if (row >= 0)
        mgr_lv_get(lv, row, 0, out, outsz);
    return out[0] != '\0';
}

static void update_buttons(HWND page)
{
    int sel = mgr_lv_selected(GetDlgItem(page, IDC_WEB_LIST)) >= 0;
    mgr_enable(page, IDC_WEB_EDIT, sel, IDC_WEB_LIST);
    mgr_enable(page, IDC_WEB_DELETE, sel, IDC_WEB_LIST);
}

static void fill(HWND page, const char *select)
{
    HWND lv = GetDlgItem(page, IDC_WEB_LIST);
    char keep[256];
    mgr_lv_refill_begin(lv, keep, sizeof keep);
    if (!select)
        select = keep;
    ism_web_domain *v = NULL;
    size_t n = 0;
    ism_err err = {0};
    if (ism_store_domain_list(g_app.store, &v, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            char port[16];
            snprintf(port, sizeof port, "%d", v[i].port);
            const char *row[] = {v[i].domain, v[i].ip, port, v[i].cert_file, v[i].key_file, v[i].ca_file};
            mgr_lv_add(lv, row, 6);
        }
        free(v);
    } else {
        mgr_status(IDS_LIST_FAILED, err.msg, NULL);
    }
    mgr_lv_refill_end(lv, select);
    update_buttons(page);
}

/* ---- the New / Edit dialog ---- */

typedef struct {
    ism_domain_mode mode;
    ism_web_domain d;      /* in: the domain being edited (or defaults); out: what was stored */
    int has_error;
} domain_dlg;

/* The field a core message is about ("ip: ..." -> the IP address box). */
static int field_of(const char *msg)
{
    static const struct {
        const char *prefix;
        int id;
    } f[] = {{"domain:", IDC_WD_DOMAIN}, {"ip:", IDC_WD_IP}, {"port:", IDC_WD_PORT}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strncmp(msg, f[i].prefix, strlen(f[i].prefix)) == 0)
            return f[i].id;
    if (strstr(msg, "CA certificate file"))
        return IDC_WD_CA;
    if (strstr(msg, "private key file"))
        return IDC_WD_KEY;
    if (strstr(msg, "certificate file"))
        return IDC_WD_CERT;
    return 0;
}

static void show_error(HWND dlg, domain_dlg *c, const char *msg)
{
    c->has_error = msg && msg[0];
    mgr_set_text(dlg, IDC_WD_ERROR, msg ? msg : "");
    if (c->has_error) {
        MessageBeep(MB_ICONWARNING);
        int id = field_of(msg);
        if (id) {
            SendMessageW(dlg, WM_NEXTDLGCTL, (WPARAM)GetDlgItem(dlg, id), TRUE);
            SendDlgItemMessageW(dlg, id, EM_SETSEL, 0, -1);
        }
    }
}

/* The public-IP warning for what the IP address box holds now. */
static void show_ip_warning(HWND dlg)
{
    char ip[64], note[512], warn[600] = "";
    mgr_get_text(dlg, IDC_WD_IP, ip, sizeof ip);
    if (ism_addr_public_warning(ip, note, sizeof note))
        mgr_text_utf8(warn, sizeof warn, IDS_ADDR_WARNING, note, NULL);
    mgr_set_text(dlg, IDC_WD_IP_WARN, warn);
}

/* A picked file: its name alone when it is in the folder the core looks in
 * for it, else its full path. */
static void browse(HWND dlg, int edit, UINT title, UINT filter, const char *dir)
{
    char file[ISM_PATH_MAX + 300];
    if (!mgr_open_file(dlg, title, filter, dir, file, sizeof file))
        return;
    const char *name = file;
    size_t dl = strlen(dir);
    if (dl && strlen(file) > dl + 1 && CompareStringA(LOCALE_INVARIANT, NORM_IGNORECASE, file, (int)dl, dir, (int)dl) ==
                                          CSTR_EQUAL &&
        (file[dl] == '\\' || file[dl] == '/') && !strpbrk(file + dl + 1, "\\/"))
        name = file + dl + 1;
    mgr_set_text(dlg, edit, name);
}

static void save(HWND dlg, domain_dlg *c)
{
    ism_web_domain d;
    char port[64];
    memset(&d, 0, sizeof d);
    mgr_get_text(dlg, IDC_WD_DOMAIN, d.domain, sizeof d.domain);
    mgr_get_text(dlg, IDC_WD_IP, d.ip, sizeof d.ip);
    mgr_get_text(dlg, IDC_WD_PORT, port, sizeof port);
    mgr_get_text(dlg, IDC_WD_CERT, d.cert_file, sizeof d.cert_file);
    mgr_get_text(dlg, IDC_WD_KEY, d.key_file, sizeof d.key_file);
    mgr_get_text(dlg, IDC_WD_CA, d.ca_file, sizeof d.ca_file);
    /* The number itself: digits only, at most 9 of them (the core says
     * whether it is a port). */
    size_t digits = strspn(port, "0123456789");
    if (!port[0] || port[digits] || digits > 9) {
        char msg[300];
        mgr_text_utf8(msg, sizeof msg, IDS_WD_PORT_NUMBER, port, NULL);
        show_error(dlg, c, msg);
        return;
    }
    d.port = atoi(port);
    ism_err err = {0};
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    if (ism_web_domain_check(&d, &err) || ism_web_domain_check_files(&d, &g_app.paths, &err) ||
        ism_store_domain_put(g_app.store, &d, c->mode, &err)) {
        show_error(dlg, c, err.msg);
        return;
    }
    c->d = d;
    mgr_after_write(&before, t0, t0_wall);
    EndDialog(dlg, IDOK);
}

static INT_PTR CALLBACK domain_proc(HWND dlg, UINT msg, WPARAM wp, LPARAM lp)
{
    domain_dlg *c = (domain_dlg *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        c = (domain_dlg *)lp;
        SetWindowLongPtrW(dlg, DWLP_USER, (LONG_PTR)c);
        wchar_t *title = mgr_format(c->mode == ISM_DOMAIN_ADD ? IDS_WD_NEW_TITLE : IDS_WD_EDIT_TITLE, NULL, NULL, NULL,
                                    NULL);
        SetWindowTextW(dlg, title);
        free(title);
        char port[16];
        snprintf(port, sizeof port, "%d", c->d.port);
        mgr_set_text(dlg, IDC_WD_DOMAIN, c->d.domain);
        mgr_set_text(dlg, IDC_WD_IP, c->d.ip);
        mgr_set_text(dlg, IDC_WD_PORT, port);
        mgr_set_text(dlg, IDC_WD_CERT, c->d.cert_file);
        mgr_set_text(dlg, IDC_WD_KEY, c->d.key_file);
        mgr_set_text(dlg, IDC_WD_CA, c->d.ca_file);
        static const int limits[][2] = {{IDC_WD_DOMAIN, 253}, {IDC_WD_IP, 63},   {IDC_WD_PORT, 9},
                                        {IDC_WD_CERT, 1000},  {IDC_WD_KEY, 1000}, {IDC_WD_CA, 1000}};
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
            SendDlgItemMessageW(dlg, limits[i][0], EM_LIMITTEXT, (WPARAM)limits[i][1], 0);
        show_ip_warning(dlg);
        if (c->mode == ISM_DOMAIN_EDIT) {
            /* The domain is the row's key: editing changes the rest. */
            SendDlgItemMessageW(dlg, IDC_WD_DOMAIN, EM_SETREADONLY, TRUE, 0);
            SendMessageW(dlg, WM_NEXTDLGCTL, (WPARAM)GetDlgItem(dlg, IDC_WD_IP), TRUE);
            return FALSE;
        }
        return TRUE;
    }
    case WM_COMMAND:
        switch (LOWORD(wp)) {
        case IDOK:
            save(dlg, c);
            return TRUE;
        case IDCANCEL:
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        case IDC_WD_CERT_BROWSE:
            browse(dlg, IDC_WD_CERT, IDS_WD_BROWSE_CERT, IDS_WD_CERT_FILTER, g_app.paths.crt);
            return TRUE;
        case IDC_WD_KEY_BROWSE:
            browse(dlg, IDC_WD_KEY, IDS_WD_BROWSE_KEY, IDS_WD_KEY_FILTER, g_app.paths.key);
            return TRUE;
        case IDC_WD_CA_BROWSE:
            browse(dlg, IDC_WD_CA, IDS_WD_BROWSE_CA, IDS_WD_CERT_FILTER, g_app.paths.crt);
            return TRUE;
        case IDC_WD_IP:
            if (HIWORD(wp) == EN_CHANGE)
                show_ip_warning(dlg);
            return TRUE;
        }
        break;
    case WM_CTLCOLORSTATIC:
        if (GetDlgCtrlID((HWND)lp) == IDC_WD_ERROR)
            return (INT_PTR)mgr_error_color((HDC)wp, (HWND)lp, 1);
        break;
    }
    return FALSE;
}

static void edit(HWND page, int add)
{
    domain_dlg c;
    memset(&c, 0, sizeof c);
    c.mode = add ? ISM_DOMAIN_ADD : ISM_DOMAIN_EDIT;
    if (add) {
        /* The manual's defaults: the listeners' address and the SSL port. */
        snprintf(c.d.ip, sizeof c.d.ip, "%s", ism_config_str(&g_app.cfg, ISM_S_LISTEN_ADDRESS));
        c.d.port = ism_config_int(&g_app.cfg, ISM_S_HTTPS_PORT);
    } else {
        char name[256];
        ism_web_domain *v = NULL;
        size_t n = 0;
        ism_err err = {0};
        if (!selected_domain(page, name, sizeof name))
            return;
        if (ism_store_domain_list(g_app.store, &v, &n, &err)) {
            mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_LIST_FAILED, err.msg, NULL);
            return;
        }
        size_t i;
        for (i = 0; i < n && strcmp(v[i].domain, name) != 0; i++) {
        }
        if (i < n)
            c.d = v[i];
        free(v);
        if (i == n) {
            fill(page, NULL);
            return;
        }
    }
    if (DialogBoxParamW(g_app.inst, MAKEINTRESOURCEW(IDD_WEB_DOMAIN), mgr_top(page), domain_proc, (LPARAM)&c) == IDOK)
        fill(page, c.d.domain);
}

static void delete_domain(HWND page)
{
    char name[256];
    if (!selected_domain(page, name, sizeof name))
        return;
    if (mgr_box(mgr_top(page), MB_YESNO | MB_ICONWARNING | MB_DEFBUTTON2, IDS_WD_DELETE_CONFIRM, name, NULL) != IDYES)
        return;
    ism_err err = {0};
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    if (ism_store_domain_remove(g_app.store, name, &err))
        mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_WD_DELETE_FAILED, name, err.msg);
    else
        mgr_after_write(&before, t0, t0_wall);
    fill(page, NULL);
}

/* Runs one of the page's actions, one at a time (see page_certs.c). */
static void run(HWND page, int action)
{
    static int busy;
    if (busy)
        return;
    busy = 1;
    switch (action) {
    case IDC_WEB_NEW: edit(page, 1); break;
    case IDC_WEB_EDIT: edit(page, 0); break;
    case IDC_WEB_DELETE: delete_domain(page); break;
    }
    busy = 0;
}

INT_PTR CALLBACK mgr_web_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_INITDIALOG: {
        static const UINT cols[] = {IDS_COL_DOMAIN,    IDS_COL_IP,       IDS_COL_PORT,
                                    IDS_COL_CERT_FILE, IDS_COL_KEY_FILE, IDS_COL_CA_FILE};
        static const int w[] = {80, 52, 26, 64, 64, 50};
        mgr_page_init(h);
        mgr_lv_init(GetDlgItem(h, IDC_WEB_LIST), cols, w, 6);
        fill(h, NULL);
        return FALSE;
    }
    case WM_APP_PAGE_SHOWN:
    case WM_APP_STORE_CHANGED:
        fill(h, NULL);
        return TRUE;
    case WM_APP_RELAYOUT:
        mgr_lv_fit(GetDlgItem(h, IDC_WEB_LIST));
        return TRUE;
    case WM_COMMAND:
        if (HIWORD(wp) != BN_CLICKED)
            break;
        run(h, LOWORD(wp));
        return TRUE;
    case WM_NOTIFY: {
        const NMHDR *n = (const NMHDR *)lp;
        if (n->idFrom != IDC_WEB_LIST)
            break;
        if (n->code == LVN_ITEMCHANGED)
            update_buttons(h);
        else if ((n->code == NM_DBLCLK && ((const NMITEMACTIVATE *)lp)->iItem >= 0) || n->code == NM_RETURN)
            run(h, IDC_WEB_EDIT);
        else if (n->code == LVN_KEYDOWN && ((const NMLVKEYDOWN *)lp)->wVKey == VK_DELETE)
            run(h, IDC_WEB_DELETE);
        return TRUE;
    }
    }
    return FALSE;
}
