/* page_certs.c: the SSL Certificates tab and its dialogs.
 *
 * The tab lists the certificate signing requests (ssl.csr) with New and View,
 * and the installed certificates (ssl.crt) with Install, View and Remove, as
 * the manual's "SSL Certificates" pages do. Everything that decides anything
 * is the core's (ism_cert.h): the New CSR dialog checks each field with
 * ism_cert_field_check as it is typed and shows the core's message beside it;
 * View shows what ism_cert_show found; the Install dialog takes the
 * certificate, an optional key file and an optional CA file, asks the core for
 * the plan (ism_cert_install_plan: every check and the files it would write,
 * nothing written), asks for a password only when the core answers that a
 * file needs one (ISM_E_NEED_PASSWORD / ISM_E_BAD_PASSWORD), shows the plan,
 * and on Install commits exactly that plan (ism_cert_install_commit) and wakes
 * the service (ism_store_touch). A certificate whose private key others can
 * read is marked "key not private" (the service refuses such a key); its
 * "Restrict access" button restricts the key to the administrators
 * (ism_key_protect_name) and wakes the service, which then loads it. */
#include "app.h"
#include "resource.h"

#include "ism_cert.h"
#include "ism_keyprotect.h"
#include "ism_platform.h"

#include <commctrl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FILE_MAX (ISM_PATH_MAX + 300)

/* ---- small helpers ---- */

/* The word for a key state, from the string table ("match|mismatch|..."). */
static void key_word(ism_key_state k, char *out, size_t outsz)
{
    char all[256];
    mgr_text_utf8(all, sizeof all, IDS_KEY_STATES, NULL, NULL);
    const char *p = all;
    for (int i = 0; i < (int)k && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p)
        p = "";
    size_t n = strcspn(p, "|");
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A date (seconds since 1970, UTC) in the user's short date format. */
static void short_date(int64_t t, char *out, size_t outsz)
{
    ULARGE_INTEGER u;
    u.QuadPart = (ULONGLONG)(t * 10000000LL + 116444736000000000LL);
    FILETIME ft = {u.LowPart, u.HighPart};
    SYSTEMTIME st;
    wchar_t w[64];
    if (!FileTimeToSystemTime(&ft, &st) || !GetDateFormatW(LOCALE_USER_DEFAULT, DATE_SHORTDATE, &st, NULL, w, 64))
        w[0] = L'\0';
    mgr_narrow(w, out, outsz);
}

/* "YYYY-MM-DD HH:MM UTC", as ismailctl prints it. */
static void utc_time(int64_t t, char *out, size_t outsz)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (!tm || !strftime(out, outsz, "%Y-%m-%d %H:%M UTC", tm))
        snprintf(out, outsz, "?");
}

/* The domain of the selected row of a list, or "" (returns 0). */
static int selected_domain(HWND lv, char *out, size_t outsz)
{
    int row = mgr_lv_selected(lv);
    out[0] = '\0';
    if (row >= 0)
        mgr_lv_get(lv, row, 0, out, outsz);
    return out[0] != '\0';
}

/* A check's text without a leading "what: ", which the line says already. */
static const char *check_text(const ism_cert_check *c)
{
    size_t n = strlen(c->what);
    return n && strncmp(c->text, c->what, n) == 0 && c->text[n] == ':' && c->text[n + 1] == ' ' ? c->text + n + 2
                                                                                                  : c->text;
}

/* ---- the lists ---- */

typedef struct {
    char (*names)[256];
    size_t n, cap;
} name_list;

static void collect_name(const char *name, void *ctx)
{
    name_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = realloc(l->names, cap * sizeof *l->names);
        if (!p)
            return;
        l->names = p;
        l->cap = cap;
    }
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    char *dot = strrchr(l->names[l->n], '.');
    if (dot)
        *dot = '\0';
    l->n++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Whether the selected certificate's key is marked "not private" (the
 * column the list was filled with from the core's key state). */
static int selected_key_exposed(HWND page)
{
    HWND lv = GetDlgItem(page, IDC_CERT_LIST);
    int row = mgr_lv_selected(lv);
    char shown[64], word_np[64];
    if (row < 0)
        return 0;
    mgr_lv_get(lv, row, 3, shown, sizeof shown);
    key_word(ISM_KEY_NOT_PRIVATE, word_np, sizeof word_np);
    return word_np[0] && strcmp(shown, word_np) == 0;
}

static void update_buttons(HWND page)
{
    int csr = mgr_lv_selected(GetDlgItem(page, IDC_CSR_LIST)) >= 0;
    int crt = mgr_lv_selected(GetDlgItem(page, IDC_CERT_LIST)) >= 0;
    mgr_enable(page, IDC_CSR_VIEW, csr, IDC_CSR_LIST);
    mgr_enable(page, IDC_CERT_VIEW, crt, IDC_CERT_LIST);
    mgr_enable(page, IDC_CERT_REMOVE, crt, IDC_CERT_LIST);
    mgr_enable(page, IDC_CERT_PROTECT, crt && selected_key_exposed(page), IDC_CERT_LIST);
}

static void fill_csrs(HWND page, const char *select)
{
    HWND lv = GetDlgItem(page, IDC_CSR_LIST);
    char keep[256];
    mgr_lv_refill_begin(lv, keep, sizeof keep);
    if (!select)
        select = keep;
    name_list l = {0};
    ism_err err = {0};
    /* A folder not made yet (a new installation) holds nothing. */
    if (!ism_fs_exists(g_app.paths.csr) || ism_fs_list(g_app.paths.csr, ".csr", collect_name, &l, &err) == 0) {
        ism_cert_info *info = malloc(sizeof *info);
        if (l.n)
            qsort(l.names, l.n, sizeof l.names[0], cmp_name);
        for (size_t i = 0; info && i < l.n; i++) {
            char key[64] = "", keyst[64] = "", status[64];
            ism_err e = {0};
            if (ism_cert_show(&g_app.paths, l.names[i], 1, info, &e) == 0) {
                /* "RSA 2048"; "EC P-256" says its size already. */
                if (strncmp(info->key_type, "RSA", 3) == 0)
                    snprintf(key, sizeof key, "%s %d", info->key_type, info->key_bits);
                else
                    snprintf(key, sizeof key, "%s", info->key_type);
                key_word(info->key_state, keyst, sizeof keyst);
                snprintf(status, sizeof status, "%s", ism_cert_status_word(info->status));
            } else {
                snprintf(status, sizeof status, "%s", ism_cert_status_word(ISM_CS_UNREADABLE));
            }
            const char *row[] = {l.names[i], key, keyst, status};
            mgr_lv_add(lv, row, 4);
        }
        free(info);
    } else {
        mgr_status(IDS_LIST_FAILED, err.msg, NULL);
    }
    free(l.names);
    mgr_lv_refill_end(lv, select);
}

static void fill_certs(HWND page, const char *select)
{
    HWND lv = GetDlgItem(page, IDC_CERT_LIST);
    char keep[256];
    mgr_lv_refill_begin(lv, keep, sizeof keep);
    if (!select)
        select = keep;
    ism_cert_info *v = NULL;
    size_t n = 0;
    ism_err err = {0};
    if (ism_cert_list(&g_app.paths, &v, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            char date[64] = "-", days[32] = "-", key[64] = "-";
            if (v[i].status != ISM_CS_UNREADABLE) {
                short_date(v[i].not_after, date, sizeof date);
                snprintf(days, sizeof days, "%ld", v[i].days_left);
                key_word(v[i].key_state, key, sizeof key);
            }
            const char *row[] = {v[i].domain, date, days, key, ism_cert_status_word(v[i].status)};
            mgr_lv_add(lv, row, 5);
        }
        free(v);
    } else {
        mgr_status(IDS_LIST_FAILED, err.msg, NULL);
    }
    mgr_lv_refill_end(lv, select);
}

static void refresh(HWND page)
{
    char t[ISM_PATH_MAX + 64];
    mgr_text_utf8(t, sizeof t, IDS_FOLDER, g_app.paths.csr, NULL);
    mgr_set_text(page, IDC_CSR_FOLDER, t);
    mgr_text_utf8(t, sizeof t, IDS_FOLDER, g_app.paths.crt, NULL);
    mgr_set_text(page, IDC_CERT_FOLDER, t);
    fill_csrs(page, NULL);
    fill_certs(page, NULL);
    update_buttons(page);
}

/* ---- New CSR ---- */

/* The dialog's fields, in tab order: each edit's id, the core's field, the
 * manual's hint for it (shown beside the field while it has nothing else to
 * say) and whether the manual asks for it ("Enter values in all of the CSR
 * fields"; "The 'Organizational Unit Name' may be left blank"). The core
 * checks what is typed; an empty field the manual asks for is refused here,
 * before the core is asked. The message label beside each field is the
 * edit's id + IDC_CSR_MSG_OFFSET. */
static const struct {
    int id;
    ism_cert_field field;
    UINT hint;
    int required;
} csr_fields[] = {
    {IDC_CSR_COUNTRY, ISM_CF_COUNTRY, IDS_CSR_HINT_COUNTRY, 1},
    {IDC_CSR_STATE, ISM_CF_STATE, IDS_CSR_HINT_STATE, 1},
    {IDC_CSR_LOCALITY, ISM_CF_LOCALITY, IDS_CSR_HINT_LOCALITY, 1},
    {IDC_CSR_ORG, ISM_CF_ORG, IDS_CSR_HINT_ORG, 1},
    {IDC_CSR_UNIT, ISM_CF_UNIT, IDS_CSR_HINT_UNIT, 0},
    {IDC_CSR_CN, ISM_CF_CN, IDS_CSR_HINT_CN, 1},
    {IDC_CSR_EMAIL, ISM_CF_EMAIL, IDS_CSR_HINT_EMAIL, 1},
    {IDC_CSR_KEY, ISM_CF_KEY, IDS_CSR_HINT_KEY, 0},
    {IDC_CSR_SANS, ISM_CF_SAN, IDS_CSR_HINT_SANS, 0},
};
#define N_CSR_FIELDS (sizeof csr_fields / sizeof csr_fields[0])

typedef struct {
    int touched[N_CSR_FIELDS];
    int is_error[N_CSR_FIELDS];  /* the label shows an error (red), else advice or nothing */
    char domain[256];            /* the CN of the request saved */
} csr_dlg;

/* The request as typed. SANs: one per line (commas and spaces separate too). */
static void csr_read(HWND dlg, ism_csr_req *req, int *too_many)
{
    memset(req, 0, sizeof *req);
    *too_many = 0;
    mgr_get_text(dlg, IDC_CSR_COUNTRY, req->country, sizeof req->country);
    mgr_get_text(dlg, IDC_CSR_STATE, req->state, sizeof req->state);
    mgr_get_text(dlg, IDC_CSR_LOCALITY, req->locality, sizeof req->locality);
    mgr_get_text(dlg, IDC_CSR_ORG, req->org, sizeof req->org);
    mgr_get_text(dlg, IDC_CSR_UNIT, req->unit, sizeof req->unit);
    mgr_get_text(dlg, IDC_CSR_CN, req->cn, sizeof req->cn);
    mgr_get_text(dlg, IDC_CSR_EMAIL, req->email, sizeof req->email);
    mgr_get_text(dlg, IDC_CSR_KEY, req->key, sizeof req->key);
    char sans[ISM_CERT_MAX_SANS * 300];
    mgr_get_text(dlg, IDC_CSR_SANS, sans, sizeof sans);
    for (char *p = sans; *p;) {
        p += strspn(p, " \t\r\n,;");
        size_t n = strcspn(p, " \t\r\n,;");
        if (!n)
            break;
        if (req->n_san >= ISM_CERT_MAX_SANS - 1) {
            *too_many = 1;
            break;
        }
        if (n >= sizeof req->san[0])
            n = sizeof req->san[0] - 1;
        memcpy(req->san[req->n_san], p, n);
        req->san[req->n_san][n] = '\0';
        req->n_san++;
        p += strcspn(p, " \t\r\n,;");
    }
}

/* The core's message without its leading "field: ", which the row says. */
static const char *without_field(const char *msg, ism_cert_field f)
{
    const char *name = ism_cert_field_name(f);
    size_t n = strlen(name);
    if (n && strncmp(msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* Checks every field with the core and shows each message beside its field:
 * in the error colour once the field was typed in (every field when all is
 * set); enables Save only when every field is valid. Returns 1 when all are
 * valid. */
static int csr_validate(HWND dlg, csr_dlg *c, int all)
{
    ism_csr_req req;
    int too_many, ok = 1;
    csr_read(dlg, &req, &too_many);
    const char *values[N_CSR_FIELDS];
    for (size_t i = 0; i < N_CSR_FIELDS; i++) {
        char msg[600] = "", canon[600];
        ism_err err = {0};
        int bad = 0;
        switch (csr_fields[i].field) {
        case ISM_CF_COUNTRY: values[i] = req.country; break;
        case ISM_CF_STATE: values[i] = req.state; break;
        case ISM_CF_LOCALITY: values[i] = req.locality; break;
        case ISM_CF_ORG: values[i] = req.org; break;
        case ISM_CF_UNIT: values[i] = req.unit; break;
        case ISM_CF_CN: values[i] = req.cn; break;
        case ISM_CF_EMAIL: values[i] = req.email; break;
        case ISM_CF_KEY: values[i] = req.key; break;
        default: values[i] = NULL; break;
        }
        if (csr_fields[i].field == ISM_CF_SAN) {
            for (int s = 0; s < req.n_san && !bad; s++)
                bad = ism_cert_field_check(ISM_CF_SAN, req.san[s], canon, sizeof canon, &err) != 0;
            if (!bad && too_many) {
                /* The core's own limit and words, asked with a request that is
                 * otherwise empty but for a valid name. */
                ism_csr_req probe;
                ism_cert_field which;
                memset(&probe, 0, sizeof probe);
                snprintf(probe.cn, sizeof probe.cn, "example.com");
                probe.n_san = ISM_CERT_MAX_SANS;
                bad = ism_csr_req_check(&probe, &which, &err) != 0;
            }
            if (bad)
                snprintf(msg, sizeof msg, "%s", without_field(err.msg, ISM_CF_SAN));
        } else if (ism_cert_field_check(csr_fields[i].field, values[i], canon, sizeof canon, &err)) {
            bad = 1;
            snprintf(msg, sizeof msg, "%s", without_field(err.msg, csr_fields[i].field));
        } else if (csr_fields[i].field == ISM_CF_CN) {
            char advice[600];
            if (ism_csr_req_advice(&req, advice, sizeof advice))
                snprintf(msg, sizeof msg, "%s", without_field(advice, ISM_CF_CN));
        }
        char hint[400];
        mgr_text_utf8(hint, sizeof hint, csr_fields[i].hint, NULL, NULL);
        if (!bad && csr_fields[i].required && values[i]) {
            char t[1024];
            size_t b = strspn(values[i], " \t"), e = strlen(values[i]);
            while (e > b && (values[i][e - 1] == ' ' || values[i][e - 1] == '\t'))
                e--;
            if (e == b) {
                bad = 1;
                mgr_text_utf8(t, sizeof t, IDS_CSR_REQUIRED, hint, NULL);
                snprintf(msg, sizeof msg, "%s", t);
            }
        }
        if (!bad && !msg[0])
            snprintf(msg, sizeof msg, "%s", hint);
        if (bad)
            ok = 0;
        /* A field not typed in yet shows what it needs as a hint (the
         * common name: required), not yet as an error. */
        c->is_error[i] = bad && (all || c->touched[i]);
        char cur[600];
        mgr_get_text(dlg, csr_fields[i].id + IDC_CSR_MSG_OFFSET, cur, sizeof cur);
        const char *want = msg;
        if (strcmp(cur, want) != 0)
            mgr_set_text(dlg, csr_fields[i].id + IDC_CSR_MSG_OFFSET, want);
        else
            InvalidateRect(GetDlgItem(dlg, csr_fields[i].id + IDC_CSR_MSG_OFFSET), NULL, TRUE);
    }
    mgr_enable(dlg, IDOK, ok, IDCANCEL);
    return ok;
}

static void csr_save(HWND dlg, csr_dlg *c)
{
    ism_csr_req req;
    int too_many;
    if (!csr_validate(dlg, c, 1))
        return;
    csr_read(dlg, &req, &too_many);
    char cn[256], key[FILE_MAX], csr[FILE_MAX];
    ism_err err = {0};
    if (ism_cert_field_check(ISM_CF_CN, req.cn, cn, sizeof cn, &err))
        return;
    ism_paths_file(key, sizeof key, g_app.paths.key, cn, ".key");
    ism_paths_file(csr, sizeof csr, g_app.paths.csr, cn, ".csr");
    int force = 0;
    if (ism_fs_exists(key)) {
        if (mgr_box(dlg, MB_YESNO | MB_ICONWARNING | MB_DEFBUTTON2, IDS_CSR_EXISTS, cn, key) != IDYES)
            return;
        force = 1;
    }
    ism_cert_result *res = calloc(1, sizeof *res);
    if (!res)
        return;
    HCURSOR old = SetCursor(LoadCursorW(NULL, (LPCWSTR)IDC_WAIT));
    int rc = ism_csr_new(&g_app.paths, &req, force, res, &err);
    SetCursor(old);
    if (rc) {
        mgr_box(dlg, MB_OK | MB_ICONWARNING, IDS_CSR_FAILED, err.msg, NULL);
    } else {
        char warn[2048] = "";
        size_t w = 0;
        for (int i = 0; i < res->n_checks; i++) {
            if (res->check[i].level != ISM_CHECK_WARN || w >= sizeof warn)
                continue;
            wchar_t *line = mgr_format(IDS_CHECK_WARN, res->check[i].what, check_text(&res->check[i]), NULL, NULL);
            char u[1024];
            mgr_narrow(line, u, sizeof u);
            free(line);
            w += (size_t)snprintf(warn + w, sizeof warn - w, "\n\n%s", u);
        }
        snprintf(c->domain, sizeof c->domain, "%s", req.cn);
        wchar_t *t = mgr_format(IDS_CSR_CREATED, req.cn, csr, key, warn);
        mgr_box_text(dlg, MB_OK | MB_ICONINFORMATION, t);
        free(t);
        EndDialog(dlg, IDOK);
    }
    free(res);
}

static INT_PTR CALLBACK csr_proc(HWND dlg, UINT msg, WPARAM wp, LPARAM lp)
{
    csr_dlg *c = (csr_dlg *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        c = (csr_dlg *)lp;
        SetWindowLongPtrW(dlg, DWLP_USER, (LONG_PTR)c);
        char all[256];
        mgr_text_utf8(all, sizeof all, IDS_KEY_TYPES, NULL, NULL);
        HWND combo = GetDlgItem(dlg, IDC_CSR_KEY);
        for (char *p = all; *p;) {
            size_t n = strcspn(p, "|");
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)n, p);
            wchar_t *w = mgr_widen(word);
            if (w)
                SendMessageW(combo, CB_ADDSTRING, 0, (LPARAM)w);
            free(w);
            p += n;
            if (*p == '|')
                p++;
        }
        SendMessageW(combo, CB_SETCURSEL, 0, 0); /* rsa:2048, the default */
        for (size_t i = 0; i < N_CSR_FIELDS; i++)
            if (csr_fields[i].id != IDC_CSR_KEY)
                SendDlgItemMessageW(dlg, csr_fields[i].id, EM_LIMITTEXT, csr_fields[i].id == IDC_CSR_SANS ? 8000 : 300, 0);
        csr_validate(dlg, c, 0);
        return TRUE;
    }
    case WM_COMMAND:
        switch (LOWORD(wp)) {
        case IDOK:
            if (IsWindowEnabled(GetDlgItem(dlg, IDOK)))
                csr_save(dlg, c);
            return TRUE;
        case IDCANCEL:
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        }
        if (HIWORD(wp) == EN_CHANGE || HIWORD(wp) == CBN_SELCHANGE) {
            for (size_t i = 0; i < N_CSR_FIELDS; i++)
                if (csr_fields[i].id == LOWORD(wp))
                    c->touched[i] = 1;
            csr_validate(dlg, c, 0);
            return TRUE;
        }
        break;
    case WM_CTLCOLORSTATIC: {
        int id = GetDlgCtrlID((HWND)lp);
        for (size_t i = 0; i < N_CSR_FIELDS; i++)
            if (csr_fields[i].id + IDC_CSR_MSG_OFFSET == id)
                return (INT_PTR)mgr_error_color((HDC)wp, (HWND)lp, c->is_error[i]);
        break;
    }
    }
    return FALSE;
}

static void csr_new(HWND page)
{
    csr_dlg c;
    memset(&c, 0, sizeof c);
    if (DialogBoxParamW(g_app.inst, MAKEINTRESOURCEW(IDD_CSR_NEW), mgr_top(page), csr_proc, (LPARAM)&c) == IDOK)
        fill_csrs(page, c.domain);
    update_buttons(page);
}

/* ---- View ---- */

typedef struct {
    char *text;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->text, cap);
        if (!p)
            return;
        b->text = p;
        b->cap = cap;
    }
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

/* "Label:<TAB>value", more lines of the value indented to the tab stop. */
static void sb_line(sbuf *b, UINT label, const char *value)
{
    char l[128];
    if (label)
        mgr_text_utf8(l, sizeof l, label, NULL, NULL);
    else
        l[0] = '\0';
    sb_add(b, l);
    for (const char *p = value;;) {
        size_t n = strcspn(p, "\n");
        char part[1200];
        snprintf(part, sizeof part, "\t%.*s\r\n", (int)n, p);
        sb_add(b, part);
        if (!p[n])
            break;
        p += n + 1;
    }
}

/* A distinguished name, one attribute a line: splits at ", " only where the
 * next attribute ("O=", "CN=", ...) begins, since values may hold commas. */
static void dn_lines(const char *dn, char *out, size_t outsz)
{
    size_t w = 0;
    for (const char *p = dn; *p && w + 2 < outsz; p++) {
        if (p[0] == ',' && p[1] == ' ') {
            const char *q = p + 2;
            while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
                q++;
            if (q > p + 2 && *q == '=') {
                out[w++] = '\n';
                p++;
                continue;
            }
        }
        out[w++] = *p;
    }
    out[w] = '\0';
}

/* The SHA-256 fingerprint in two lines of 16 pairs. */
static void fp_lines(const char *fp, char *out, size_t outsz)
{
    size_t n = strlen(fp);
    if (n > 48 && fp[47] == ':')
        snprintf(out, outsz, "%.47s\n%s", fp, fp + 48);
    else
        snprintf(out, outsz, "%s", fp);
}

static char *describe(const ism_cert_info *in)
{
    sbuf b = {0};
    char v[2048], a[128], c[128], kw[64];
    sb_line(&b, IDS_V_DOMAIN, in->domain);
    sb_line(&b, IDS_V_FILE, in->path);
    sb_line(&b, IDS_V_STATUS, ism_cert_status_word(in->status));
    if (in->problem[0])
        sb_line(&b, IDS_V_PROBLEM, in->problem);
    dn_lines(in->subject, v, sizeof v);
    sb_line(&b, IDS_V_SUBJECT, v);
    v[0] = '\0';
    for (int i = 0; i < in->n_san; i++) {
        strncat(v, in->san[i], sizeof v - strlen(v) - 2);
        if (i + 1 < in->n_san)
            strncat(v, "\n", sizeof v - strlen(v) - 1);
    }
    if (!in->n_san)
        mgr_text_utf8(v, sizeof v, IDS_V_NO_NAMES, NULL, NULL);
    sb_line(&b, IDS_V_NAMES, v);
    if (!in->is_csr) {
        dn_lines(in->issuer, v, sizeof v);
        if (in->self_signed) {
            mgr_text_utf8(a, sizeof a, IDS_V_SELF_SIGNED, NULL, NULL);
            strncat(v, "\n", sizeof v - strlen(v) - 1);
            strncat(v, a, sizeof v - strlen(v) - 1);
        }
        sb_line(&b, IDS_V_ISSUER, v);
        char from[40], until[40], range[200], days[100], num[32];
        utc_time(in->not_before, from, sizeof from);
        utc_time(in->not_after, until, sizeof until);
        mgr_text_utf8(range, sizeof range, IDS_V_VALID_RANGE, from, until);
        snprintf(num, sizeof num, "%ld", in->days_left < 0 ? -in->days_left : in->days_left);
        mgr_text_utf8(days, sizeof days, in->days_left < 0 ? IDS_V_DAYS_AGO : IDS_V_DAYS_LEFT, num, NULL);
        snprintf(v, sizeof v, "%s\n%s", range, days);
        sb_line(&b, IDS_V_VALID, v);
    }
    snprintf(c, sizeof c, "%d", in->key_bits);
    mgr_text_utf8(v, sizeof v, IDS_V_KEY_BITS, in->key_type, c);
    sb_line(&b, IDS_V_KEY, v);
    if (in->is_csr)
        mgr_text_utf8(v, sizeof v, in->signature_ok ? IDS_V_SIG_OK : IDS_V_SIG_BAD, in->sig_alg, NULL);
    else
        snprintf(v, sizeof v, "%s", in->sig_alg);
    sb_line(&b, IDS_V_SIGNATURE, v);
    if (!in->is_csr)
        sb_line(&b, IDS_V_SERIAL, in->serial);
    fp_lines(in->fingerprint, v, sizeof v);
    sb_line(&b, IDS_V_FINGERPRINT, v);
    if (!in->is_csr) {
        if (in->n_chain == 0) {
            mgr_text_utf8(v, sizeof v, in->self_signed ? IDS_V_CHAIN_NONE_SELF : IDS_V_CHAIN_NONE, NULL, NULL);
        } else {
            v[0] = '\0';
            for (int i = 0; i < in->n_chain; i++) {
                char until[40], n[16], line[1400];
                utc_time(in->chain[i].not_after, until, sizeof until);
                snprintf(n, sizeof n, "%d", i + 1);
                wchar_t *t = mgr_format(IDS_V_CHAIN_LINK, n, in->chain[i].subject, in->chain[i].issuer, until);
                mgr_narrow(t, line, sizeof line);
                free(t);
                if (i)
                    strncat(v, "\n", sizeof v - strlen(v) - 1);
                strncat(v, line, sizeof v - strlen(v) - 1);
            }
        }
        sb_line(&b, IDS_V_CHAIN, v);
    }
    key_word(in->key_state, kw, sizeof kw);
    snprintf(v, sizeof v, "%s (%s)", in->key_path[0] ? in->key_path : "-", kw);
    sb_line(&b, IDS_V_PRIVATE_KEY, v);
    return b.text;
}

typedef struct {
    const ism_cert_info *info;
    char *pem;
    size_t pem_len;
} view_dlg;

static void view_note(HWND dlg, UINT ids, const char *arg)
{
    char t[ISM_PATH_MAX + 100];
    mgr_text_utf8(t, sizeof t, ids, arg, NULL);
    mgr_set_text(dlg, IDC_VIEW_NOTE, t);
}

static void view_copy(HWND dlg, view_dlg *v)
{
    /* CF_UNICODETEXT with CR LF line ends, as every program pastes it. */
    size_t n = 0;
    for (size_t i = 0; i < v->pem_len; i++)
        n += v->pem[i] == '\n' && (i == 0 || v->pem[i - 1] != '\r') ? 2 : 1;
    char *crlf = malloc(n + 1);
    if (!crlf)
        return;
    for (size_t i = 0, j = 0; i < v->pem_len; i++) {
        if (v->pem[i] == '\n' && (i == 0 || v->pem[i - 1] != '\r'))
            crlf[j++] = '\r';
        crlf[j++] = v->pem[i];
    }
    crlf[n] = '\0';
    wchar_t *w = mgr_widen(crlf);
    free(crlf);
    size_t bytes = w ? (wcslen(w) + 1) * sizeof *w : 0;
    HGLOBAL g = w ? GlobalAlloc(GMEM_MOVEABLE, bytes) : NULL;
    void *p = g ? GlobalLock(g) : NULL;
    int ok = 0;
    if (p) {
        memcpy(p, w, bytes);
        GlobalUnlock(g);
        if (OpenClipboard(dlg)) {
            EmptyClipboard();
            ok = SetClipboardData(CF_UNICODETEXT, g) != NULL;
            CloseClipboard();
        }
    }
    if (!ok) {
        char why[256];
        wchar_t sys[256];
        if (!FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, GetLastError(), 0, sys,
                            256, NULL))
            sys[0] = L'\0';
        mgr_narrow(sys, why, sizeof why);
        if (g)
            GlobalFree(g);
        mgr_box(dlg, MB_OK | MB_ICONWARNING, IDS_COPY_FAILED, why, NULL);
    } else {
        view_note(dlg, IDS_COPIED, NULL);
    }
    free(w);
}

static void view_save(HWND dlg, view_dlg *v)
{
    char name[300], out[FILE_MAX];
    snprintf(name, sizeof name, "%s%s", v->info->domain, v->info->is_csr ? ".csr" : ".crt");
    if (!mgr_save_file(dlg, IDS_SAVE_PEM_TITLE, IDS_SAVE_PEM_FILTER, NULL, name, "pem", out, sizeof out))
        return;
    ism_err err = {0};
    if (ism_fs_write_atomic(out, v->pem, v->pem_len, 0, &err))
        mgr_box(dlg, MB_OK | MB_ICONWARNING, IDS_SAVE_PEM_FAILED, err.msg, NULL);
    else
        view_note(dlg, IDS_SAVED_PEM, out);
}

/* WM_CTLCOLORSTATIC for a read-only text that reads as a document: the
 * window's colours, not greyed like a disabled field. */
static INT_PTR document_colours(WPARAM wp)
{
    SetTextColor((HDC)wp, GetSysColor(COLOR_WINDOWTEXT));
    SetBkColor((HDC)wp, GetSysColor(COLOR_WINDOW));
    return (INT_PTR)GetSysColorBrush(COLOR_WINDOW);
}

static INT_PTR CALLBACK view_proc(HWND dlg, UINT msg, WPARAM wp, LPARAM lp)
{
    view_dlg *v = (view_dlg *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        v = (view_dlg *)lp;
        SetWindowLongPtrW(dlg, DWLP_USER, (LONG_PTR)v);
        wchar_t *title = mgr_format(v->info->is_csr ? IDS_VIEW_CSR_TITLE : IDS_VIEW_CERT_TITLE, v->info->domain, NULL,
                                    NULL, NULL);
        SetWindowTextW(dlg, title);
        free(title);
        UINT stop = 64; /* dialog units: past the longest label */
        SendDlgItemMessageW(dlg, IDC_VIEW_TEXT, EM_SETTABSTOPS, 1, (LPARAM)&stop);
        char *text = describe(v->info);
        mgr_set_text(dlg, IDC_VIEW_TEXT, text ? text : "");
        free(text);
        EnableWindow(GetDlgItem(dlg, IDC_VIEW_COPY), v->pem_len > 0);
        EnableWindow(GetDlgItem(dlg, IDC_VIEW_SAVE), v->pem_len > 0);
        SetFocus(GetDlgItem(dlg, IDC_VIEW_TEXT));
        SendDlgItemMessageW(dlg, IDC_VIEW_TEXT, EM_SETSEL, 0, 0);
        return FALSE;
    }
    case WM_CTLCOLORSTATIC:
        /* The text reads as a document: on the window colour, not greyed
         * like a disabled field. */
        if (GetDlgCtrlID((HWND)lp) == IDC_VIEW_TEXT) {
            return document_colours(wp);
        }
        break;
    case WM_COMMAND:
        switch (LOWORD(wp)) {
        case IDC_VIEW_COPY:
            view_copy(dlg, v);
            return TRUE;
        case IDC_VIEW_SAVE:
            view_save(dlg, v);
            return TRUE;
        case IDOK:
        case IDCANCEL:
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        }
        break;
    }
    return FALSE;
}

static void view(HWND page, int is_csr)
{
    char domain[256];
    if (!selected_domain(GetDlgItem(page, is_csr ? IDC_CSR_LIST : IDC_CERT_LIST), domain, sizeof domain))
        return;
    ism_cert_info *info = malloc(sizeof *info);
    ism_err err = {0};
    if (!info)
        return;
    if (ism_cert_show(&g_app.paths, domain, is_csr, info, &err)) {
        mgr_box(mgr_top(page), MB_OK | MB_ICONWARNING, IDS_VIEW_FAILED, err.msg, NULL);
    } else {
        view_dlg v = {info, NULL, 0};
        ism_err e = {0};
        if (ism_fs_read(info->path, 1 << 20, &v.pem, &v.pem_len, &e) || !strstr(v.pem, "-----BEGIN")) {
            free(v.pem); /* a DER file: nothing to copy as PEM */
            v.pem = NULL;
            v.pem_len = 0;
        }
        DialogBoxParamW(g_app.inst, MAKEINTRESOURCEW(IDD_CERT_VIEW), mgr_top(page), view_proc, (LPARAM)&v);
        free(v.pem);
    }
    free(info);
}

/* ---- Install ---- */

/* The password dialog: shows the core's words about the file (it needs a
 * password, or the last one did not open it) and asks for one. */
typedef struct {
    const char *why;    /* the core's message */
    int wrong;          /* the last password did not open the file */
    char password[512];
} pw_dlg;

static INT_PTR CALLBACK pw_proc(HWND dlg, UINT msg, WPARAM wp, LPARAM lp)
{
    pw_dlg *p = (pw_dlg *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        p = (pw_dlg *)lp;
        SetWindowLongPtrW(dlg, DWLP_USER, (LONG_PTR)p);
        char t[1200];
        mgr_text_utf8(t, sizeof t, p->wrong ? IDS_PW_WRONG : IDS_PW_PROMPT, p->why, NULL);
        mgr_set_text(dlg, IDC_PW_PROMPT, t);
        SendDlgItemMessageW(dlg, IDC_PW_EDIT, EM_LIMITTEXT, sizeof p->password / 4, 0);
        return TRUE;
    }
    case WM_COMMAND:
        if (LOWORD(wp) == IDOK) {
            mgr_get_text(dlg, IDC_PW_EDIT, p->password, sizeof p->password);
            EndDialog(dlg, IDOK);
            return TRUE;
        }
        if (LOWORD(wp) == IDCANCEL) {
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        }
        break;
    }
    return FALSE;
}

/* The checks of a result, one a line ("OK (key): ..."). */
static void checks_text(const ism_cert_result *res, char *out, size_t outsz)
{
    size_t w = 0;
    out[0] = '\0';
    for (int i = 0; i < res->n_checks && w < outsz; i++) {
        const ism_cert_check *c = &res->check[i];
        if (strcmp(c->what, "write") == 0 || strcmp(c->what, "backup") == 0)
            continue;
        UINT ids = c->level == ISM_CHECK_OK ? IDS_CHECK_OK : c->level == ISM_CHECK_WARN ? IDS_CHECK_WARN : IDS_CHECK_FAIL;
        wchar_t *line = mgr_format(ids, c->what, check_text(c), NULL, NULL);
        char u[1600];
        mgr_narrow(line, u, sizeof u);
        free(line);
        w += (size_t)snprintf(out + w, outsz - w, "%s\n", u);
    }
}

/* What would fix a refusal, in the dialog's words ("" when nothing here would). */
static void fix_text(ism_cert_fix fix, char *out, size_t outsz)
{
    UINT ids = 0;
    switch (fix) {
    case ISM_FIX_PASSWORD: ids = IDS_FIX_PASSWORD; break;
    case ISM_FIX_KEY: ids = IDS_FIX_KEY; break;
    case ISM_FIX_CA: ids = IDS_FIX_CA; break;
    case ISM_FIX_NEW_CSR: ids = IDS_FIX_NEW_CSR; break;
    default: break;
    }
    out[0] = '\0';
    if (ids)
        mgr_text_utf8(out, outsz, ids, NULL, NULL);
}

typedef struct {
    HWND page;
    char cert[FILE_MAX], key[FILE_MAX], ca[FILE_MAX];
    char password[512];
    ism_cert_plan *plan;    /* the plan shown; planned says it holds for the fields as they are */
    int planned;
    char domain[256];
} install_dlg;

static void set_plan_text(HWND dlg, const wchar_t *t)
{
    /* An edit control breaks lines at CR LF only. */
    size_t n = wcslen(t), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += t[i] == L'\n' && (i == 0 || t[i - 1] != L'\r');
    wchar_t *crlf = malloc((n + extra + 1) * sizeof *crlf);
    if (!crlf)
        return;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == L'\n' && (i == 0 || t[i - 1] != L'\r'))
            crlf[j++] = L'\r';
        crlf[j++] = t[i];
    }
    crlf[j] = L'\0';
    SetDlgItemTextW(dlg, IDC_IN_PLAN, crlf);
    free(crlf);
}

static void set_plan_ids(HWND dlg, UINT ids)
{
    wchar_t *t = mgr_format(ids, NULL, NULL, NULL, NULL);
    set_plan_text(dlg, t);
    free(t);
}

/* Asks the core for the plan of installing the fields' files (nothing is
 * written), asking for a password only when the core answers that a file
 * needs one, and shows the plan: the checks, the warnings and the files it
 * would write. Install is enabled exactly when the plan can be committed. */
static void install_check(HWND dlg, install_dlg *d)
{
    mgr_get_text(dlg, IDC_IN_CERT, d->cert, sizeof d->cert);
    mgr_get_text(dlg, IDC_IN_KEY, d->key, sizeof d->key);
    mgr_get_text(dlg, IDC_IN_CA, d->ca, sizeof d->ca);
    d->planned = 0;
    mgr_enable(dlg, IDOK, 0, IDC_IN_CHECK);
    if (!d->cert[0]) {
        set_plan_ids(dlg, IDS_IN_NO_FILE);
        return;
    }
    char *checks = malloc(16384), *files = malloc(8192);
    if (!checks || !files)
        goto out;
    ism_err err = {0};
    int rc;
    for (;;) {
        ism_cert_install_req req = {.file = d->cert,
                                    .key_file = d->key[0] ? d->key : NULL,
                                    .ca_file = d->ca[0] ? d->ca : NULL,
                                    .password = d->password[0] ? d->password : NULL};
        ism_cert_plan_free(d->plan);
        memset(&err, 0, sizeof err);
        HCURSOR old = SetCursor(LoadCursorW(NULL, (LPCWSTR)IDC_WAIT));
        rc = ism_cert_install_plan(&g_app.paths, &req, d->plan, &err);
        SetCursor(old);
        if (!rc || (err.kind != ISM_E_NEED_PASSWORD && err.kind != ISM_E_BAD_PASSWORD))
            break;
        /* The core says the file cannot be opened without (the right)
         * password: ask, then plan again. */
        pw_dlg pw;
        memset(&pw, 0, sizeof pw);
        pw.why = err.msg;
        pw.wrong = err.kind == ISM_E_BAD_PASSWORD;
        INT_PTR answer = DialogBoxParamW(g_app.inst, MAKEINTRESOURCEW(IDD_PASSWORD), dlg, pw_proc, (LPARAM)&pw);
        if (answer == IDOK)
            memcpy(d->password, pw.password, sizeof d->password);
        SecureZeroMemory(pw.password, sizeof pw.password);
        if (answer != IDOK)
            break; /* the core's refusal stands and is shown */
    }
    checks_text(&d->plan->res, checks, 16384);
    if (rc) {
        char fix[512], msg[1200];
        fix_text(d->plan->res.fix, fix, sizeof fix);
        snprintf(msg, sizeof msg, "%s%s%s", err.msg, fix[0] ? "\n" : "", fix);
        wchar_t *t = mgr_format(IDS_IN_PLAN_REFUSED, msg, checks, NULL, NULL);
        set_plan_text(dlg, t);
        free(t);
        goto out;
    }
    size_t w = 0;
    files[0] = '\0';
    for (int i = 0; i < d->plan->n_files && w < 8192; i++) {
        const ism_cert_plan_file *f = &d->plan->files[i];
        UINT ids = f->action == ISM_PLAN_CREATE ? IDS_PLAN_CREATE
                   : f->action == ISM_PLAN_REPLACE ? IDS_PLAN_REPLACE : IDS_PLAN_UNCHANGED;
        char line[2 * FILE_MAX];
        mgr_text_utf8(line, sizeof line, ids, f->path, f->backup);
        w += (size_t)snprintf(files + w, 8192 - w, "%s\n", line);
    }
    snprintf(d->domain, sizeof d->domain, "%s", d->plan->res.domain);
    wchar_t *t = mgr_format(IDS_IN_PLAN_OK, d->domain, checks, files, NULL);
    set_plan_text(dlg, t);
    free(t);
    d->planned = 1;
    mgr_enable(dlg, IDOK, 1, IDC_IN_CHECK);
out:
    free(checks);
    free(files);
}

/* Commits the plan shown (exactly the files it listed) and wakes the service. */
static void install_commit(HWND dlg, install_dlg *d)
{
    ism_cert_result *res = calloc(1, sizeof *res);
    ism_err err = {0};
    if (!res)
        return;
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    HCURSOR old = SetCursor(LoadCursorW(NULL, (LPCWSTR)IDC_WAIT));
    int rc = ism_cert_install_commit(&g_app.paths, d->plan, res, &err);
    SetCursor(old);
    if (rc) {
        /* Something changed since the plan (nothing was written): plan again. */
        mgr_box(dlg, MB_OK | MB_ICONWARNING, IDS_INSTALL_FAILED, err.msg, NULL);
        fill_certs(d->page, NULL);
        install_check(dlg, d);
        free(res);
        return;
    }
    char list[4096] = "";
    size_t w = 0;
    for (int i = 0; i < res->n_written && w < sizeof list; i++)
        w += (size_t)snprintf(list + w, sizeof list - w, "%s%s", i ? "\n" : "", res->written[i]);
    if (!list[0])
        mgr_text_utf8(list, sizeof list, IDS_INSTALL_NOTHING, NULL, NULL);
    if (ism_store_touch(g_app.store, &err))
        mgr_box(dlg, MB_OK | MB_ICONWARNING, IDS_TOUCH_FAILED, err.msg, NULL);
    else
        mgr_after_write(&before, t0, t0_wall);
    free(res);
    EndDialog(dlg, IDOK);
    mgr_box(mgr_top(d->page), MB_OK | MB_ICONINFORMATION, IDS_INSTALLED, d->domain, list);
}

static INT_PTR CALLBACK install_proc(HWND dlg, UINT msg, WPARAM wp, LPARAM lp)
{
    install_dlg *d = (install_dlg *)GetWindowLongPtrW(dlg, DWLP_USER);
    switch (msg) {
    case WM_INITDIALOG: {
        d = (install_dlg *)lp;
        SetWindowLongPtrW(dlg, DWLP_USER, (LONG_PTR)d);
        static const int ids[] = {IDC_IN_CERT, IDC_IN_KEY, IDC_IN_CA};
        for (size_t i = 0; i < 3; i++)
            SendDlgItemMessageW(dlg, ids[i], EM_LIMITTEXT, ISM_PATH_MAX - 1, 0);
        wchar_t *t = mgr_format(IDS_IN_CHANGED, NULL, NULL, NULL, NULL);
        set_plan_text(dlg, t);
        free(t);
        return TRUE;
    }
    case WM_CTLCOLORSTATIC:
        if (GetDlgCtrlID((HWND)lp) == IDC_IN_PLAN) {
            return document_colours(wp);
        }
        break;
    case WM_COMMAND:
        switch (LOWORD(wp)) {
        case IDC_IN_CERT:
        case IDC_IN_KEY:
        case IDC_IN_CA:
            if (HIWORD(wp) == EN_CHANGE && d) {
                /* Another file: the plan shown and its password no longer hold. */
                SecureZeroMemory(d->password, sizeof d->password);
                if (d->planned) {
                    d->planned = 0;
                    mgr_enable(dlg, IDOK, 0, IDC_IN_CHECK);
                    wchar_t *t = mgr_format(IDS_IN_CHANGED, NULL, NULL, NULL, NULL);
                    set_plan_text(dlg, t);
                    free(t);
                }
            }
            return TRUE;
        case IDC_IN_CERT_BROWSE:
        case IDC_IN_KEY_BROWSE:
        case IDC_IN_CA_BROWSE: {
            int id = LOWORD(wp), edit = id == IDC_IN_CERT_BROWSE ? IDC_IN_CERT : id == IDC_IN_KEY_BROWSE ? IDC_IN_KEY : IDC_IN_CA;
            UINT title = id == IDC_IN_CERT_BROWSE ? IDS_INSTALL_TITLE : id == IDC_IN_KEY_BROWSE ? IDS_IN_BROWSE_KEY : IDS_IN_BROWSE_CA;
            UINT filter = id == IDC_IN_CERT_BROWSE ? IDS_INSTALL_FILTER : id == IDC_IN_KEY_BROWSE ? IDS_IN_KEY_FILTER : IDS_IN_CA_FILTER;
            char file[FILE_MAX];
            if (mgr_open_file(dlg, title, filter, NULL, file, sizeof file)) {
                mgr_set_text(dlg, edit, file);
                if (id == IDC_IN_CERT_BROWSE)
                    install_check(dlg, d); /* the usual case: one file, checked at once */
            }
            return TRUE;
        }
        case IDC_IN_CHECK:
            install_check(dlg, d);
            return TRUE;
        case IDOK:
            if (!d->planned)
                install_check(dlg, d);
            else
                install_commit(dlg, d);
            return TRUE;
        case IDCANCEL:
            EndDialog(dlg, IDCANCEL);
            return TRUE;
        }
        break;
    }
    return FALSE;
}

static void install(HWND page)
{
    install_dlg *d = calloc(1, sizeof *d);
    if (!d || !(d->plan = calloc(1, sizeof *d->plan))) {
        free(d);
        return;
    }
    d->page = page;
    if (DialogBoxParamW(g_app.inst, MAKEINTRESOURCEW(IDD_CERT_INSTALL), mgr_top(page), install_proc, (LPARAM)d) == IDOK)
        fill_certs(page, d->domain);
    update_buttons(page);
    ism_cert_plan_free(d->plan); /* wipes the key it held */
    SecureZeroMemory(d->password, sizeof d->password);
    free(d->plan);
    free(d);
}

/* ---- Remove ---- */

static void remove_cert(HWND page)
{
    HWND top = mgr_top(page);
    char domain[256], crt[FILE_MAX], key[FILE_MAX];
    if (!selected_domain(GetDlgItem(page, IDC_CERT_LIST), domain, sizeof domain))
        return;
    ism_paths_file(crt, sizeof crt, g_app.paths.crt, domain, ".crt");
    ism_paths_file(key, sizeof key, g_app.paths.key, domain, ".key");
    wchar_t *q = mgr_format(IDS_REMOVE_CONFIRM, domain, crt, key, NULL);
    int answer = mgr_box_text(top, MB_YESNO | MB_ICONWARNING | MB_DEFBUTTON2, q);
    free(q);
    if (answer != IDYES)
        return;
    ism_cert_result *res = calloc(1, sizeof *res);
    ism_err err = {0};
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    if (ism_cert_remove(&g_app.paths, domain, res, &err)) {
        mgr_box(top, MB_OK | MB_ICONWARNING, IDS_REMOVE_FAILED, err.msg, NULL);
    } else if (ism_store_touch(g_app.store, &err)) {
        mgr_box(top, MB_OK | MB_ICONWARNING, IDS_TOUCH_FAILED, err.msg, NULL);
    } else {
        mgr_after_write(&before, t0, t0_wall);
    }
    free(res);
    fill_certs(page, NULL);
    update_buttons(page);
}

/* ---- Restrict access ---- */

/* Restricts the selected certificate's private key to the administrators,
 * as `ismailctl cert protect DOMAIN` does, then wakes the service: it checks
 * a key's permissions only when it loads it, and permissions are not part of
 * what it watches. Says what was done, or the core's error (naming the file
 * and why). */
static void protect_key(HWND page)
{
    HWND top = mgr_top(page);
    char domain[256], path[FILE_MAX], was[300] = "";
    if (!selected_domain(GetDlgItem(page, IDC_CERT_LIST), domain, sizeof domain))
        return;
    ism_err err = {0};
    ism_status before;
    int64_t t0, t0_wall;
    mgr_status_before(&before, &t0, &t0_wall);
    path[0] = '\0';
    int r = ism_key_protect_name(&g_app.paths, domain, path, sizeof path, was, sizeof was, &err);
    if (r < 0) {
        mgr_box(top, MB_OK | MB_ICONWARNING, IDS_PROTECT_FAILED, err.msg, NULL);
    } else if (ism_store_touch(g_app.store, &err)) {
        mgr_box(top, MB_OK | MB_ICONWARNING, IDS_TOUCH_FAILED, err.msg, NULL);
    } else {
        /* The list first: the message then stands over what it says. */
        fill_certs(page, domain);
        update_buttons(page);
        mgr_box(top, MB_OK | MB_ICONINFORMATION, r > 0 ? IDS_PROTECTED : IDS_ALREADY_PRIVATE, path, was);
        mgr_after_write(&before, t0, t0_wall);
    }
    fill_certs(page, domain);
    update_buttons(page);
}

/* ---- the page ---- */

/* Runs one of the page's actions (a control id), one at a time: a key
 * repeated while a dialog or message box opens must not start another
 * inside it. */
static void run(HWND page, int action)
{
    static int busy;
    if (busy)
        return;
    busy = 1;
    switch (action) {
    case IDC_CSR_NEW: csr_new(page); break;
    case IDC_CSR_VIEW: view(page, 1); break;
    case IDC_CERT_INSTALL: install(page); break;
    case IDC_CERT_VIEW: view(page, 0); break;
    case IDC_CERT_REMOVE: remove_cert(page); break;
    case IDC_CERT_PROTECT: protect_key(page); break;
    }
    busy = 0;
}

INT_PTR CALLBACK mgr_certs_page_proc(HWND h, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_INITDIALOG: {
        static const UINT csr_cols[] = {IDS_COL_DOMAIN, IDS_COL_KEY_TYPE, IDS_COL_PRIVATE_KEY, IDS_COL_STATUS};
        static const int csr_w[] = {130, 60, 60, 60};
        static const UINT crt_cols[] = {IDS_COL_DOMAIN, IDS_COL_EXPIRES, IDS_COL_DAYS_LEFT, IDS_COL_KEY_MATCH,
                                        IDS_COL_STATUS};
        static const int crt_w[] = {130, 50, 40, 46, 50};
        mgr_page_init(h);
        mgr_lv_init(GetDlgItem(h, IDC_CSR_LIST), csr_cols, csr_w, 4);
        mgr_lv_init(GetDlgItem(h, IDC_CERT_LIST), crt_cols, crt_w, 5);
        refresh(h);
        return FALSE;
    }
    case WM_APP_PAGE_SHOWN:
    case WM_APP_STORE_CHANGED:
        refresh(h);
        return TRUE;
    case WM_APP_RELAYOUT:
        mgr_lv_fit(GetDlgItem(h, IDC_CSR_LIST));
        mgr_lv_fit(GetDlgItem(h, IDC_CERT_LIST));
        return TRUE;
    case WM_COMMAND:
        if (HIWORD(wp) != BN_CLICKED)
            break;
        run(h, LOWORD(wp));
        return TRUE;
    case WM_NOTIFY: {
        const NMHDR *n = (const NMHDR *)lp;
        if (n->idFrom != IDC_CSR_LIST && n->idFrom != IDC_CERT_LIST)
            break;
        if (n->code == LVN_ITEMCHANGED)
            update_buttons(h);
        else if ((n->code == NM_DBLCLK && ((const NMITEMACTIVATE *)lp)->iItem >= 0) || n->code == NM_RETURN)
            run(h, n->idFrom == IDC_CSR_LIST ? IDC_CSR_VIEW : IDC_CERT_VIEW);
        else if (n->code == LVN_KEYDOWN && n->idFrom == IDC_CERT_LIST && ((const NMLVKEYDOWN *)lp)->wVKey == VK_DELETE)
            run(h, IDC_CERT_REMOVE);
        return TRUE;
    }
    }
    return FALSE;
}
