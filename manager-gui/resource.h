/* resource.h: resource and control ids of the manager (manager.rc), shared
 * with its C code and with the test driver (tests/wine/driver.c). */
#ifndef MGR_RESOURCE_H
#define MGR_RESOURCE_H

#ifndef IDC_STATIC
#define IDC_STATIC (-1)
#endif

/* The lowest icon id, so Explorer shows it for the exe. */
#define IDI_ISMAIL 1

/* Dialog templates: the main window, then one per tab page. */
#define IDD_MAIN 100
#define IDD_PAGE_SSL_TLS 101

/* Main window controls. */
#define IDC_TAB 1000
#define IDC_APPLY 1001
#define IDC_STATUS 1002

/* SSL/TLS page: every bound control is listed in bindings.c. */
#define IDC_SMTP_TLS_INCOMING 1101
#define IDC_SMTP_TLS_OUTGOING 1102
#define IDC_POP_TLS_INCOMING 1103
#define IDC_IMAP_TLS_INCOMING 1104
#define IDC_SMTP_STARTTLS_DOMAINS 1105
#define IDC_SMTP_VERIFY_DOMAIN 1106
#define IDC_TLS_PROFILE 1107

/* Strings (STRINGTABLE in manager.rc). */
#define IDS_APP_TITLE 2000
#define IDS_TAB_SSL_TLS 2001
#define IDS_USAGE 2010
#define IDS_STORE_OPEN_FAILED 2011
#define IDS_SAVE_FAILED 2012
#define IDS_RELOAD_FAILED 2013
#define IDS_READY 2014
#define IDS_SAVED_WAITING 2020
#define IDS_APPLIED 2021
#define IDS_SERVICE_ERROR 2022
#define IDS_NOT_APPLIED 2023
#define IDS_STATUS_READ_FAILED 2024
#define IDS_MODIFIED 2025

#endif
