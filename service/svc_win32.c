/* svc_win32: the service under the Windows service control manager.
 *
 * Registered as "ISMail". Reports START_PENDING while the store opens and the
 * listeners come up, RUNNING after, STOP_PENDING/STOPPED on stop or shutdown;
 * PARAMCHANGE makes it re-read the store. With --console it runs in the
 * foreground instead, stopped by Ctrl-C. */
#include "svc.h"
#include "ism_log.h"

#include <windows.h>

#include <stdio.h>

#define SERVICE_NAME L"ISMail"

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static ism_server_opts *svc_opts;

static void report(DWORD state, DWORD exit_code, DWORD wait_hint)
{
    static DWORD checkpoint = 1;
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwWin32ExitCode = exit_code;
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
        report(SERVICE_STOP_PENDING, NO_ERROR, 5000);
        ism_server_request_stop();
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

static void on_running(void)
{
    report(SERVICE_RUNNING, NO_ERROR, 0);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    (void)argc;
    (void)argv;
    status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, handler, NULL);
    if (!status_handle)
        return;
    report(SERVICE_START_PENDING, NO_ERROR, 10000);
    svc_opts->on_running = on_running;
    ism_err err = {0};
    if (ism_server_run(svc_opts, &err)) {
        /* The log may not be open (no data folder); the SCM gets the code. */
        report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, 0);
        return;
    }
    report(SERVICE_STOPPED, NO_ERROR, 0);
}

static BOOL WINAPI console_ctrl(DWORD type)
{
    (void)type;
    ism_server_request_stop();
    return TRUE;
}

int ism_svc_main(ism_server_opts *opts)
{
    svc_opts = opts;
    if (opts->console) {
        SetConsoleCtrlHandler(console_ctrl, TRUE);
        ism_err err = {0};
        if (ism_server_run(opts, &err)) {
            fprintf(stderr, "ismail-service: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
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
    return 0;
}
