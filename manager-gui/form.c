/* form.c: generic load and save between settings and controls (see form.h). */
#include "form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wchar_t *mgr_widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    if (!w)
        return NULL;
    if (n <= 0 || !MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n))
        w[0] = L'\0';
    return w;
}

void mgr_narrow(const wchar_t *w, char *out, size_t outsz)
{
    if (outsz && WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)outsz, NULL, NULL) <= 0)
        out[0] = '\0';
}

HWND mgr_form_control(const mgr_form *f, int ctrl_id)
{
    for (int i = 0; i < f->n_pages; i++) {
        HWND h = GetDlgItem(f->pages[i], ctrl_id);
        if (h)
            return h;
    }
    return NULL;
}

/* The words a COMBO row offers: the ENUM's choices, or on/off for a BOOL. */
static const char *choices_of(ism_setting_id id)
{
    const ism_setting_def *d = &ism_setting_defs[id];
    if (d->choices)
        return d->choices;
    return d->type == ISM_T_BOOL ? "on|off" : "";
}

void mgr_form_init(const mgr_form *f)
{
    for (size_t i = 0; i < mgr_binding_count; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        HWND h = mgr_form_control(f, b->ctrl_id);
        if (!h || b->kind != MGR_BIND_COMBO)
            continue;
        SendMessageW(h, CB_RESETCONTENT, 0, 0);
        const char *p = choices_of(b->setting);
        while (*p) {
            char word[MGR_VALUE_MAX];
            size_t n = strcspn(p, "|");
            if (n >= sizeof word)
                n = sizeof word - 1;
            memcpy(word, p, n);
            word[n] = '\0';
            wchar_t *w = mgr_widen(word);
            if (w)
                SendMessageW(h, CB_ADDSTRING, 0, (LPARAM)w);
            free(w);
            p += n;
            if (*p == '|')
                p++;
        }
    }
}

void mgr_form_show(const mgr_form *f, const ism_config *cfg)
{
    for (size_t i = 0; i < mgr_binding_count; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        HWND h = mgr_form_control(f, b->ctrl_id);
        if (!h)
            continue;
        switch (b->kind) {
        case MGR_BIND_CHECK:
            SendMessageW(h, BM_SETCHECK, ism_config_bool(cfg, b->setting) ? BST_CHECKED : BST_UNCHECKED, 0);
            break;
        case MGR_BIND_EDIT: {
            wchar_t *w = mgr_widen(ism_config_str(cfg, b->setting));
            if (w)
                SetWindowTextW(h, w);
            free(w);
            break;
        }
        case MGR_BIND_COMBO: {
            wchar_t *w = mgr_widen(ism_config_str(cfg, b->setting));
            LRESULT sel = w ? SendMessageW(h, CB_FINDSTRINGEXACT, (WPARAM)-1, (LPARAM)w) : CB_ERR;
            SendMessageW(h, CB_SETCURSEL, sel == CB_ERR ? (WPARAM)-1 : (WPARAM)sel, 0);
            free(w);
            break;
        }
        }
    }
}

int mgr_form_value(const mgr_form *f, const mgr_binding *b, char *out, size_t outsz)
{
    HWND h = mgr_form_control(f, b->ctrl_id);
    if (!h || !outsz)
        return -1;
    switch (b->kind) {
    case MGR_BIND_CHECK:
        lstrcpynA(out, SendMessageW(h, BM_GETCHECK, 0, 0) == BST_CHECKED ? "on" : "off", (int)outsz);
        return 0;
    case MGR_BIND_EDIT: {
        wchar_t w[MGR_VALUE_MAX];
        if (GetWindowTextLengthW(h) >= MGR_VALUE_MAX)
            return -1;
        GetWindowTextW(h, w, MGR_VALUE_MAX);
        mgr_narrow(w, out, outsz);
        return 0;
    }
    case MGR_BIND_COMBO: {
        wchar_t w[MGR_VALUE_MAX];
        LRESULT sel = SendMessageW(h, CB_GETCURSEL, 0, 0);
        if (sel == CB_ERR || SendMessageW(h, CB_GETLBTEXTLEN, (WPARAM)sel, 0) >= MGR_VALUE_MAX)
            return -1;
        SendMessageW(h, CB_GETLBTEXT, (WPARAM)sel, (LPARAM)w);
        mgr_narrow(w, out, outsz);
        return 0;
    }
    }
    return -1;
}

size_t mgr_form_changes(const mgr_form *f, const ism_config *cfg, const char *keys[], char (*vals)[MGR_VALUE_MAX])
{
    size_t n = 0;
    for (size_t i = 0; i < mgr_binding_count && n < ISM_SETTING_COUNT; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        char canon[MGR_VALUE_MAX];
        if (mgr_form_value(f, b, vals[n], MGR_VALUE_MAX) != 0)
            continue;
        /* "MAIL.example.com" is what the store holds as "mail.example.com":
         * compare canonical spellings; a value the core refuses counts as
         * a change (Apply then says why). */
        if (ism_setting_normalize(b->setting, vals[n], canon, sizeof canon, NULL) == 0)
            memcpy(vals[n], canon, sizeof canon);
        if (strcmp(vals[n], ism_config_str(cfg, b->setting)) != 0)
            keys[n++] = ism_setting_defs[b->setting].key;
    }
    return n;
}

void mgr_form_label(const mgr_form *f, const mgr_binding *b, char *out, size_t outsz)
{
    HWND h = mgr_form_control(f, b->ctrl_id), prev = h ? GetWindow(h, GW_HWNDPREV) : NULL;
    wchar_t cls[16], w[MGR_VALUE_MAX], clean[MGR_VALUE_MAX];
    size_t n = 0;
    if (prev && GetClassNameW(prev, cls, 16) && lstrcmpiW(cls, L"Static") == 0 &&
        GetWindowTextW(prev, w, MGR_VALUE_MAX) > 0) {
        for (const wchar_t *p = w; *p && n + 1 < MGR_VALUE_MAX; p++) {
            if (*p == L'&' && p[1] != L'&')
                continue;
            clean[n++] = *p;
        }
    }
    while (n && (clean[n - 1] == L':' || clean[n - 1] == L' '))
        n--;
    clean[n] = L'\0';
    if (n)
        mgr_narrow(clean, out, outsz);
    else
        lstrcpynA(out, ism_setting_defs[b->setting].key, (int)outsz);
}

const mgr_binding *mgr_form_invalid(const mgr_form *f, HWND page, char *msg, size_t msgsz)
{
    for (size_t i = 0; i < mgr_binding_count; i++) {
        const mgr_binding *b = &mgr_bindings[i];
        HWND h = mgr_form_control(f, b->ctrl_id);
        char value[MGR_VALUE_MAX], canon[MGR_VALUE_MAX];
        ism_err err = {0};
        if (!h || (page && GetParent(h) != page) || mgr_form_value(f, b, value, sizeof value) != 0)
            continue;
        if (ism_setting_normalize(b->setting, value, canon, sizeof canon, &err) == 0)
            continue;
        /* The core's message begins with the key; the administrator knows
         * the field by its label, so the label leads and the key follows. */
        const char *key = ism_setting_defs[b->setting].key, *rest = err.msg;
        size_t kl = strlen(key);
        if (strncmp(rest, key, kl) == 0 && rest[kl] == ':')
            rest += kl + 1 + (rest[kl + 1] == ' ');
        char label[MGR_VALUE_MAX];
        mgr_form_label(f, b, label, sizeof label);
        snprintf(msg, msgsz, "%s (%s): %s", label, key, rest);
        if (msgsz)
            msg[msgsz - 1] = '\0';
        return b;
    }
    if (msgsz)
        msg[0] = '\0';
    return NULL;
}
