/* ctl: what the ismailctl command modules share. Each module implements one
 * group of commands (cmd_cert.c: csr, cert; cmd_keyprotect.c: cert protect;
 * cmd_mail.c: user, localdomain; cmd_domain.c: domain; cmd_queue.c: queue,
 * route, policy) and returns an ismailctl exit code. ismailctl.c holds the
 * table of every command, which dispatches to them and prints --help. */
#ifndef ISM_CTL_H
#define ISM_CTL_H

#include "ism_paths.h"
#include "ism_store.h"

enum { ISM_EXIT_OK = 0, ISM_EXIT_USAGE = 2, ISM_EXIT_INVALID = 3, ISM_EXIT_STORE = 4 };

typedef struct {
    ism_paths paths;   /* folders, with the ssl.* settings applied */
    ism_store *store;  /* the settings store, open */
    const ism_config *config; /* the settings, for commands that need them (else NULL) */
    int json;          /* --json was given */
    int force;         /* --force was given */
} ism_ctl;

/* Prints "ismailctl: MESSAGE" and returns the exit code for the error's kind. */
int ism_ctl_fail(const ism_err *err);
/* Prints s as a JSON string (quotes, backslashes and control characters escaped). */
void ism_ctl_jstr(const char *s);

/* argv[0] is the group's word ("cert"), argv[1] the subcommand. */
int ism_ctl_csr(ism_ctl *ctx, int argc, char **argv);
int ism_ctl_cert(ism_ctl *ctx, int argc, char **argv);
/* cmd_keyprotect.c: `cert protect NAME|FILE`; argv holds what follows "protect". */
int ism_ctl_cert_protect(ism_ctl *ctx, int argc, char **argv);
int ism_ctl_user(ism_ctl *ctx, int argc, char **argv);
int ism_ctl_localdomain(ism_ctl *ctx, int argc, char **argv);
/* cmd_domain.c: the web server's SSL domains; the dispatcher has checked
 * the subcommand (list, add, edit, remove) and the number of arguments. */
int ism_ctl_domain(ism_ctl *ctx, int argc, char **argv);
/* cmd_queue.c: outgoing mail (queue, route, policy) */
int ism_ctl_queue(ism_ctl *ctx, int argc, char **argv);
int ism_ctl_route(ism_ctl *ctx, int argc, char **argv);
int ism_ctl_policy(ism_ctl *ctx, int argc, char **argv);

#endif
