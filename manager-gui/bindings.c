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
    /* Server page, 'Server' box */
    {IDC_SRV_HOSTNAME, ISM_S_SERVER_HOSTNAME, MGR_BIND_EDIT},
    {IDC_SRV_LISTEN, ISM_S_LISTEN_ADDRESS, MGR_BIND_EDIT},
    /* Server page, 'Ports' box: every PORT setting of ism_settings.def */
    {IDC_SRV_SMTP, ISM_S_SMTP_PORT, MGR_BIND_EDIT},
    {IDC_SRV_SUBMISSION, ISM_S_SUBMISSION_PORT, MGR_BIND_EDIT},
    {IDC_SRV_SMTPS, ISM_S_SMTPS_PORT, MGR_BIND_EDIT},
    {IDC_SRV_POP, ISM_S_POP_PORT, MGR_BIND_EDIT},
    {IDC_SRV_POPS, ISM_S_POPS_PORT, MGR_BIND_EDIT},
    {IDC_SRV_IMAP, ISM_S_IMAP_PORT, MGR_BIND_EDIT},
    {IDC_SRV_IMAPS, ISM_S_IMAPS_PORT, MGR_BIND_EDIT},
    {IDC_SRV_HTTP, ISM_S_HTTP_PORT, MGR_BIND_EDIT},
    {IDC_SRV_HTTPS, ISM_S_HTTPS_PORT, MGR_BIND_EDIT},
};

const size_t mgr_binding_count = sizeof mgr_bindings / sizeof mgr_bindings[0];

const mgr_binding *mgr_binding_by_key(const char *key)
{
    for (size_t i = 0; i < mgr_binding_count; i++)
        if (strcmp(ism_setting_defs[mgr_bindings[i].setting].key, key) == 0)
            return &mgr_bindings[i];
    return NULL;
}
