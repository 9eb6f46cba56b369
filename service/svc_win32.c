/* svc_win32: the service under the Windows service control manager.
 *
 * Registered as "ISMail". Reports START_PENDING while the store opens and the
 * listeners come up, RUNNING after, STOP_PENDING/STOPPED on stop or shutdown;
 * PARAMCHANGE makes it re-read the store. With --console it runs in the
 * foreground instead, stopped by Ctrl-C, and touches neither the service's
 * configuration nor the event log.
 *
 * Under the service manager it also does, on every start, what the MSI
 * cannot express (wixl has no ServiceConfig; see installer-wix/ISMail.wxs):
 * recovery actions and description when missing, and the event log source.
 * None of that is fatal: a failure is logged and the service runs on.
 * Events (messages.mc): started, stopped, settings applied, warnings and
 * errors from the log, and a start-up failure, which also goes to the service
 * manager as ERROR_SERVICE_SPECIFIC_ERROR with the error class as the
 * service-specific code (ism_err_kind: 3 store, 4 file or folder, 6 network).
 * The key folder's DACL needs nothing here: the server restricts ssl.key to
 * SYSTEM and Administrators each time it applies the settings
 * (ism_paths_ensure), and the data folder the same way. Before the server
 * starts, the data folder and the files an older version left in it
 * readable by others are restricted too (ism_svc_secure_data, in both
 * modes); what that changed is logged once the server runs.
 *
 * Stopping: the stop control is answered only when the server has closed
 * everything, and the process ends right after STOPPED, skipping the exit
 * handlers. So an installer can delete ismail-service.exe as soon as its stop
 * returns, even one that does not wait for STOPPED (Wine's msiexec), and the
 * MSI needs no custom action to end a lingering process. */
#include "eventlog.h"
#include "ism_log.h"
#include "ism_paths.h"
#include "messages.h"
#include "svc.h"
#include "version.h"

#include <windows.h>

#include <stdio.h>
#include <string.h>

#define SERVICE_NAME L"ISMail"
#define SERVICE_DESCRIPTION \
    L"Receives and delivers mail over SMTP, POP3 and IMAP with SSL/TLS as set in the ISMail Manager."

/* Recovery: restart after 5 s, then 10 s, then 30 s (the last repeats), the
 * failure count reset after a day without failures. */
#define RESET_PERIOD_S 86400
static const DWORD restart_delays_ms[] = {5000, 10000, 30000};
#define N_ACTIONS (sizeof restart_delays_ms / sizeof restart_delays_ms[0])

/* How long the stop control waits for the server to finish; the service
 * manager allows a handler 30 s. */
#define STOP_WAIT_MS 20000

static SERVICE_STATUS_HANDLE status_handle;
static HANDLE server_done; /* set once the server has stopped and cleaned up */
static SERVICE_STATUS status;
static ism_server_opts *svc_opts;
static ism_paths svc_paths;
static char eventlog_error[600]; /* from before the log was open */
static int eventlog_registered;
static UINT process_exit_code = 1; /* stays 1 if service_main never ran */
static ism_svc_secured secured;   /* what start-up restricted, logged on running */

static void report(DWORD state, DWORD exit_code, DWORD specific, DWORD wait_hint)
{
    static DWORD checkpoint = 1;
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwWin32ExitCode = exit_code;
    status.dwServiceSpecificExitCode = specific;
    status.dwWaitHint = wait_hint;
    status.dwControlsAccepted =
        state == SERVICE_START_PENDING ? 0 : SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE;
    status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : checkpoint++;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI handler(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, NO_ERROR, 0, STOP_WAIT_MS);
        ism_server_request_stop();
        /* Answer only once the server has closed its listeners, the store
         * and the log (normally well under a second). Whoever sent the stop
         * then knows the service is done, even a caller that does not wait
         * for STOPPED: Wine's msiexec and net stop send the control and go
         * straight on, to deleting ismail-service.exe in msiexec's case. */
        if (server_done)
            WaitForSingleObject(server_done, STOP_WAIT_MS);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        ism_server_request_reload();
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* A service manager that does not know a configuration level (Wine's knows
 * few) says so with one of these; that is worth a note, not a warning. */
static int unsupported(DWORD e)
{
    return e == ERROR_INVALID_LEVEL || e == ERROR_CALL_NOT_IMPLEMENTED || e == ERROR_NOT_SUPPORTED;
}

static void configure_description(SC_HANDLE svc)
{
    union {
        SERVICE_DESCRIPTIONW d;
        BYTE raw[8192];
    } q;
    DWORD need = 0;
    if (QueryServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, q.raw, sizeof q.raw, &need) && q.d.lpDescription &&
        q.d.lpDescription[0])
        return; /* the installer's, or the administrator's: keep it */
    SERVICE_DESCRIPTIONW d = {(LPWSTR)SERVICE_DESCRIPTION};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &d))
        ism_log(ISM_LOG_INFO, "service configuration: description set");
    else
        ism_log(ISM_LOG_WARN, "service configuration: cannot set the description (error %lu)",
                (unsigned long)GetLastError());
}

/* Sets the recovery actions unless some are set already (an administrator
 * may have chosen others in the Services console), then reads them back
 * into the log, which is how the tests see what the service manager kept. */
static void configure_recovery(SC_HANDLE svc)
{
    union {
        SERVICE_FAILURE_ACTIONSW fa;
        BYTE raw[8192];
    } q;
    DWORD need = 0;
    if (QueryServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, q.raw, sizeof q.raw, &need) && q.fa.cActions > 0) {
        ism_log(ISM_LOG_INFO, "service configuration: recovery actions already set (%lu actions, reset after %lu s)",
                (unsigned long)q.fa.cActions, (unsigned long)q.fa.dwResetPeriod);
        return;
    }
    SC_ACTION actions[N_ACTIONS];
    for (size_t i = 0; i < N_ACTIONS; i++) {
        actions[i].Type = SC_ACTION_RESTART;
        actions[i].Delay = restart_delays_ms[i];
    }
    SERVICE_FAILURE_ACTIONSW fa = {RESET_PERIOD_S, NULL, NULL, N_ACTIONS, actions};
    if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
        DWORD e = GetLastError();
        ism_log(unsupported(e) ? ISM_LOG_INFO : ISM_LOG_WARN,
                "service configuration: cannot set the recovery actions (error %lu)%s", (unsigned long)e,
                unsupported(e) ? ": this service manager does not support them" : "");
        return;
    }
    /* Recovery also when the service stops with an error, not only when the
     * process dies: a start-up failure may be passing (a disk not ready). */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    const char *flag_note = "also on a stop with an error";
    char flag_buf[96];
    if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
        DWORD e = GetLastError();
        snprintf(flag_buf, sizeof flag_buf, "only when the process ends (the flag for errors: error %lu)",
                 (unsigned long)e);
        flag_note = flag_buf;
        if (!unsupported(e))
            ism_log(ISM_LOG_WARN, "service configuration: cannot set the recovery flag (error %lu)",
                    (unsigned long)e);
    }
    char back[160];
    if (QueryServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, q.raw, sizeof q.raw, &need)) {
        snprintf(back, sizeof back, "the service manager reports %lu actions, reset after %lu s",
                 (unsigned long)q.fa.cActions, (unsigned long)q.fa.dwResetPeriod);
    } else {
        snprintf(back, sizeof back, "the service manager accepted them but cannot report them back (error %lu)",
                 (unsigned long)GetLastError());
    }
    ism_log(ISM_LOG_INFO,
            "service configuration: recovery actions set: restart after 5 s, 10 s, 30 s, reset after %d s, %s; "
            "%s",
            RESET_PERIOD_S, flag_note, back);
}

static void configure_service(void)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    /* SERVICE_START: the service manager asks for it to accept restart actions. */
    SC_HANDLE svc =
        scm ? OpenServiceW(scm, SERVICE_NAME, SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG | SERVICE_START) : NULL;
    if (!svc) {
        ism_log(ISM_LOG_WARN,
                "service configuration: cannot open the service ISMail (error %lu); description and recovery "
                "actions not checked",
                (unsigned long)GetLastError());
    } else {
        configure_description(svc);
        configure_recovery(svc);
        CloseServiceHandle(svc);
    }
    if (scm)
        CloseServiceHandle(scm);
}

/* Called by the server once the listeners are up; the log is open by then. */
static void on_running(void)
{
    report(SERVICE_RUNNING, NO_ERROR, 0, 0);
    ism_svc_secured_log(&secured);
    if (eventlog_error[0])
        ism_log(ISM_LOG_WARN, "%s", eventlog_error);
    else if (eventlog_registered)
        ism_log(ISM_LOG_INFO, "event log source ISMail registered (Application log; texts from this program)");
    configure_service();
    ism_eventlog_report(ISM_MSG_SERVICE_STARTED, ISM_VERSION_STRING, svc_paths.store);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    (void)argc;
    (void)argv;
    status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, handler, NULL);
    if (!status_handle)
        return;
    report(SERVICE_START_PENDING, NO_ERROR, 0, 10000);

    /* The event source comes first so that even a failed start is reported
     * with its text. */
    ism_err err = {0};
    if (ism_eventlog_install(&eventlog_registered, &err))
        snprintf(eventlog_error, sizeof eventlog_error, "%s", err.msg);
    ism_paths_init(&svc_paths, svc_opts->data_dir);
    ism_svc_secure_data(svc_opts, &secured);
    ism_eventlog_open(svc_paths.data);
    ism_log_set_sink(ism_eventlog_log_sink);

    svc_opts->on_running = on_running;
    memset(&err, 0, sizeof err);
    int failed = ism_server_run(svc_opts, &err) != 0;
    ism_log_set_sink(NULL);
    /* The stop control may answer now. Before SERVICE_STOPPED: Wine's
     * service manager does not take a status report while it waits for the
     * control's answer. */
    if (server_done)
        SetEvent(server_done);
    if (failed) {
        /* The log may not be open (no data folder): the event log and the
         * service manager carry the reason. */
        ism_eventlog_report(ISM_MSG_START_FAILED, err.msg, NULL);
        ism_eventlog_close();
        process_exit_code = 1;
        report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, err.kind ? (DWORD)err.kind : 1, 0);
    } else {
        ism_eventlog_report(ISM_MSG_SERVICE_STOPPED, ISM_VERSION_STRING, NULL);
        ism_eventlog_close();
        process_exit_code = 0;
        report(SERVICE_STOPPED, NO_ERROR, 0, 0);
    }
    /* After STOPPED the dispatcher returns in the main thread, which ends
     * the process (ism_svc_main). */
}

static BOOL WINAPI console_ctrl(DWORD type)
{
    (void)type;
    ism_server_request_stop();
    return TRUE;
}

/* --console: called by the server once the listeners are up. */
static void console_running(void)
{
    ism_svc_secured_log(&secured);
}

int ism_svc_main(ism_server_opts *opts)
{
    svc_opts = opts;
    if (opts->console) {
        SetConsoleCtrlHandler(console_ctrl, TRUE);
        ism_svc_secure_data(opts, &secured);
        opts->on_running = console_running;
        ism_err err = {0};
        if (ism_server_run(opts, &err)) {
            fprintf(stderr, "ismail-service: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    server_done = CreateEventW(NULL, TRUE, FALSE, NULL);
    SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherW(table)) {
        if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            fprintf(stderr, "ismail-service: this is the ISMail Windows service; start it with 'net start ISMail'\n"
                            "or from the Services console, or run it in the foreground with --console.\n");
            return 2;
        }
        fprintf(stderr, "ismail-service: StartServiceCtrlDispatcher failed (error %lu)\n",
                (unsigned long)GetLastError());
        return 1;
    }
    /* The service has stopped and everything is closed (store, listeners,
     * log): end the process now rather than through the C runtime's and
     * OpenSSL's exit handlers, so that an installer deleting or replacing
     * ismail-service.exe right after the stop finds the file free. */
    ExitProcess(process_exit_code);
}
