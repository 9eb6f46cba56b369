/* form: the generic half of the control bindings. Moves values between the
 * settings (an ism_config) and the controls listed in bindings.c, and works out
 * which controls differ from what was loaded. Nothing here knows a particular
 * setting or control. */
#ifndef MGR_FORM_H
#define MGR_FORM_H

#include "bindings.h"
#include "ism_settings.h"

#include <windows.h>

#define MGR_MAX_PAGES 8
#define MGR_VALUE_MAX 256

/* The tab pages (child dialogs) that hold the bound controls. */
typedef struct {
    HWND pages[MGR_MAX_PAGES];
    int n_pages;
} mgr_form;

/* The bound control with this id on any page, or NULL. */
HWND mgr_form_control(const mgr_form *f, int ctrl_id);

/* Fills every COMBO row with its setting's choices (from ism_settings.def). */
void mgr_form_init(const mgr_form *f);

/* Shows cfg's value in every bound control. */
void mgr_form_show(const mgr_form *f, const ism_config *cfg);

/* The canonical value a bound control shows now. Returns 0, or -1 when the
 * control is missing or shows no value (which counts as unchanged). */
int mgr_form_value(const mgr_form *f, const mgr_binding *b, char *out, size_t outsz);

/* The rows whose control differs from cfg: their keys and the new values.
 * Returns how many (at most ISM_SETTING_COUNT). */
size_t mgr_form_changes(const mgr_form *f, const ism_config *cfg, const char *keys[], char (*vals)[MGR_VALUE_MAX]);

/* The label a control is known by: the text of the static just before it
 * (its access key's label), without '&' and the closing colon; the
 * setting's key when there is none. */
void mgr_form_label(const mgr_form *f, const mgr_binding *b, char *out, size_t outsz);

/* The first bound control (on page, or on any page when page is NULL)
 * whose value the core refuses (ism_setting_normalize, the check the store
 * and the service make): returns its row and writes "Label (key): reason"
 * to msg. Returns NULL with msg "" when every value is valid. */
const mgr_binding *mgr_form_invalid(const mgr_form *f, HWND page, char *msg, size_t msgsz);

/* UTF-8 <-> UTF-16 for store strings and messages. mgr_widen returns a
 * malloc'd string, NULL when out of memory. */
wchar_t *mgr_widen(const char *s);
void mgr_narrow(const wchar_t *w, char *out, size_t outsz);

#endif
