/* cmd_keyprotect: `ismailctl cert protect NAME`, restricting a private key
 * that others can read to the administrators.
 *
 *   ismailctl [--json] cert protect NAME|FILE
 *
 * NAME is a certificate's name (its key is ssl.key/NAME.key, the manual's
 * mydomain.com.key), FILE a key file's path. The usual case is a key made
 * with the manual's `openssl req ... -keyout req.key` in Apache\install and
 * moved into ssl.key, where it kept the access list it had; the service
 * refuses such a key and its message names this command (and the manager's
 * "Restrict access" button, which calls the same core function,
 * ism_key_protect_name). Afterwards the service is woken, as by `ismailctl
 * reload`, because permissions are not part of what it watches. */
#include "ctl.h"
#include "ism_keyprotect.h"

#include <stdio.h>
#include <string.h>

static int protect_usage(const char *msg, const char *arg)
{
    fprintf(stderr,
            "ismailctl: %s%s%s\n"
            "Usage: ismailctl [--json] cert protect NAME|FILE\n"
            "  NAME: a certificate's name (its key is ssl.key/NAME.key); FILE: a key file's path.\n"
            "  Restricts the key to the administrators (Linux: mode 0600; Windows: SYSTEM and\n"
            "  Administrators only) and makes the service load it again.\n",
            msg, arg ? ": " : "", arg ? arg : "");
    return ISM_EXIT_USAGE;
}

int ism_ctl_cert_protect(ism_ctl *ctx, int argc, char **argv)
{
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx->json = 1;
        } else if (strcmp(argv[i], "--force") == 0) {
            ctx->force = 1; /* accepted as everywhere; nothing to force */
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return protect_usage("unknown option for cert protect", argv[i]);
        } else if (name) {
            return protect_usage("cert protect takes one NAME", argv[i]);
        } else {
            name = argv[i];
        }
    }
    if (!name)
        return protect_usage("cert protect needs the certificate's NAME (or the key file)", NULL);

    char path[ISM_PATH_MAX + 300], was[700];
    ism_err err = {0};
    int r = ism_key_protect_name(&ctx->paths, name, path, sizeof path, was, sizeof was, &err);
    if (r < 0)
        return ism_ctl_fail(&err);
    /* Wake the service even when nothing changed: the administrator may have
     * fixed the permissions by hand and now wants the key used. */
    ism_err werr = {0};
    int woke = ism_store_touch(ctx->store, &werr) == 0;
    if (ctx->json) {
        printf("{\"path\": ");
        ism_ctl_jstr(path);
        printf(", \"changed\": %s, \"was\": ", r ? "true" : "false");
        ism_ctl_jstr(was);
        printf(", \"service_notified\": %s}\n", woke ? "true" : "false");
    } else if (r) {
        printf("%s: restricted to the administrators (it was %s)\n", path, was);
    } else {
        printf("%s: already readable by the administrators only\n", path);
    }
    if (!woke) {
        fprintf(stderr, "ismailctl: warning: the service was not told to load the key again (%s); run: ismailctl "
                        "reload\n",
                werr.msg);
    }
    return ISM_EXIT_OK;
}
