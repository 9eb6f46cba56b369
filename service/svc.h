/* svc: how the service meets its platform: the Windows service control
 * manager (svc_win32.c) or POSIX signals (svc_posix.c). */
#ifndef ISM_SVC_H
#define ISM_SVC_H

#include "server.h"

/* Runs the server as the platform expects; returns the process exit code. */
int ism_svc_main(ism_server_opts *opts);

#endif
