/* svc: how the service meets its platform: the Windows service control
 * manager (svc_win32.c) or POSIX signals (svc_posix.c). */
#ifndef ISM_SVC_H
#define ISM_SVC_H

#include "server.h"

/* Runs the server as the platform expects; returns the process exit code. */
int ism_svc_main(ism_server_opts *opts);

/* What ism_svc_secure_data did, for the log once it is open. */
typedef struct {
    char done[2048];  /* what was restricted ("NAME (mode 644), ..."), "" when nothing */
    char failed[512]; /* why something could not be restricted, "" when all went well */
} ism_svc_secured;

/* Before the server starts (main.c): makes the data folder of opts and the
 * files an older version left in it readable by others private
 * (ism_paths_secure_data), and records in *out what it did. A folder that
 * cannot be created is left to the server, which fails naming it. */
void ism_svc_secure_data(const ism_server_opts *opts, ism_svc_secured *out);
/* Logs what ism_svc_secure_data did: one line listing what was restricted,
 * one warning naming what could not be; nothing when there was nothing to do.
 * Call once the log is open (the server's on_running). */
void ism_svc_secured_log(const ism_svc_secured *s);

#endif
