/* page_server.c: the Server tab, the settings every listener shares.
 *
 * The host name (server.hostname), the listen address (listen.address) and
 * every port (the PORT settings of ism_settings.def). The edits are bound
 * through bindings.c like the SSL/TLS tab's check boxes, so loading, Apply
 * (one transaction, then the wait for the service's applied revision) and
 * the tooltips are main.c's and form.c's. This page only says, as the
 * administrator types, what the core thinks of the values: the first value
 * the core refuses (in the error colour; Apply refuses it too, naming the
 * field, and writes nothing), and the manual's note that a certificate needs
 * a public IP address when the listen address is a LAN, link-local or
 * loopback one (ism_addr). A port another program holds is found by the
 * service when it applies the change; main.c shows its error in the status
 * bar. */
#include "app.h"
#include "resource.h"

#include "ism_addr.h"
#include "ism_platform.h"

#include <stdio.h>
#include <string.h>

static int g_srv_has_error;

/* The hint beside the host name: what an empty one means on this computer. */
static void show_host_hint(HWND page)
{
    char name[256], t[512];
    ism_plat_hostname(name, sizeof name);
    mgr_text_utf8(t, sizeof t, IDS_SRV_HOST_HINT, name, NULL);
    mgr_set_text(page, IDC_SRV_HOST_HINT, t);
}

/* Sets a message label, repainting the page behind it (see WM_CTLCOLORSTATIC). */
static void set_label(HWND page, int id, const char *text)
{
    char cur[1024];
    mgr_get_text(page, id, cur, sizeof cur);
    if (strcmp(cur, text) == 0)
        return;
    HWND h = GetDlgItem(page, id);
    RECT r;
    GetWindowRect(h, &r);
    MapWindowPoints(NULL, page, (POINT *)&r, 2);
    mgr_set_text(page, id, text);
    InvalidateRect(page, &r, TRUE);
    UpdateWindow(page);
}

/* The core's verdict on what is typed now, and the public-IP warning for
 * every bound address on the page. */
static void check_page(HWND page)
{
    char msg[1024], warn[600] = "";
    mgr_form_invalid(&g_app.form, page, msg, sizeof msg);
    g_srv_has_error = msg[0] != '\0';
    set_label(page, IDC_SRV_MSG, msg);
    for (size_t i = 0; i < mgr_binding_count && !warn[0]; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        char value[MGR_VALUE_MAX], note[512];
        if (ism_setting_defs[b->setting].type != ISM_T_ADDR || !GetDlgItem(page, b->ctrl_id) ||
            mgr_form_value(&g_app.form, b, value, sizeof value) != 0)
            continue;
        if (ism_addr_public_warning(value, note, sizeof note))
            mgr_text_utf8(warn, sizeof warn, IDS_ADDR_WARNING, note, NULL);
    }
    set_label(page, IDC_SRV_ADDR_WARN, warn);
}

INT_PTR CALLBACK mgr_server_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_INITDIALOG:
        mgr_page_init(h);
        for (size_t i = 0; i < mgr_binding_count; i++)
            if (GetDlgItem(h, mgr_bindings[i].ctrl_id))
                SendDlgItemMessageW(h, mgr_bindings[i].ctrl_id, EM_LIMITTEXT, MGR_VALUE_MAX - 1, 0);
        show_host_hint(h);
        return FALSE;
    case WM_APP_PAGE_SHOWN:
    case WM_APP_STORE_CHANGED:
        check_page(h);
        return TRUE;
    case WM_COMMAND:
        if (HIWORD(wp) == EN_CHANGE) {
            check_page(h);
            SendMessageW(GetParent(h), WM_APP_CHANGED, 0, 0);
            return TRUE;
        }
        break;
    case WM_CTLCOLORSTATIC: {
        int id = GetDlgCtrlID((HWND)lp);
        if (id == IDC_SRV_MSG && g_srv_has_error) {
            /* Red on the page's own (themed) background: the label draws
             * no background of its own; set_label has the page repaint
             * behind it when its text changes. */
            SetTextColor((HDC)wp, RGB(192, 0, 0));
            SetBkMode((HDC)wp, TRANSPARENT);
            return (INT_PTR)GetStockObject(NULL_BRUSH);
        }
        break;
    }
    }
    return FALSE;
}
