/* bindings.c: the table of bound controls (see bindings.h). */
#include "bindings.h"
#include "resource.h"

#include <string.h>

const mgr_binding mgr_bindings[] = {
    /* SSL/TLS page, 'SSL/TLS' box */
    {IDC_SMTP_TLS_INCOMING, ISM_S_SMTP_TLS_INCOMING, MGR_BIND_CHECK},
    {IDC_SMTP_TLS_OUTGOING, ISM_S_SMTP_TLS_OUTGOING, MGR_BIND_CHECK},
    {IDC_POP_TLS_INCOMING, ISM_S_POP_TLS_INCOMING, MGR_BIND_CHECK},
    {IDC_IMAP_TLS_INCOMING, ISM_S_IMAP_TLS_INCOMING, MGR_BIND_CHECK},
    /* SSL/TLS page, 'SMTP Options' box */
    {IDC_SMTP_STARTTLS_DOMAINS, ISM_S_SMTP_TLS_STARTTLS_DOMAINS, MGR_BIND_CHECK},
    {IDC_SMTP_VERIFY_DOMAIN, ISM_S_SMTP_TLS_VERIFY_DOMAIN, MGR_BIND_CHECK},
    /* SSL/TLS page, below the boxes */
    {IDC_TLS_PROFILE, ISM_S_TLS_PROFILE, MGR_BIND_COMBO},
};

const size_t mgr_binding_count = sizeof mgr_bindings / sizeof mgr_bindings[0];

const mgr_binding *mgr_binding_by_key(const char *key)
{
    for (size_t i = 0; i < mgr_binding_count; i++)
        if (strcmp(ism_setting_defs[mgr_bindings[i].setting].key, key) == 0)
            return &mgr_bindings[i];
    return NULL;
}
