/* bindings: which control shows which setting. One row per bound control;
 * form.c loads and saves every row the same way, the tooltips come from the
 * setting's description, and the test driver (tests/wine/driver.c) finds a
 * control by its setting's key through the same table. Binding a new setting
 * to a control means three edits: an IDC_* number for the control in
 * resource.h, the control in manager.rc (on its page's dialog), and one row
 * in the table in bindings.c. */
#ifndef MGR_BINDINGS_H
#define MGR_BINDINGS_H

#include "ism_settings.h"

#include <stddef.h>

typedef enum {
    MGR_BIND_CHECK, /* check box: checked = "on", cleared = "off" (BOOL settings) */
    MGR_BIND_COMBO, /* drop-down list of the setting's choices (ENUM settings) */
    MGR_BIND_EDIT   /* edit field holding the value as typed (PORT, ADDR, HOST...);
                       checked with ism_setting_normalize before anything is written */
} mgr_bind_kind;

typedef struct {
    int ctrl_id;          /* IDC_* in resource.h */
    ism_setting_id setting;
    mgr_bind_kind kind;
} mgr_binding;

extern const mgr_binding mgr_bindings[];
extern const size_t mgr_binding_count;

/* The row whose setting has this key ("smtp.tls.incoming"), or NULL. */
const mgr_binding *mgr_binding_by_key(const char *key);

#endif
