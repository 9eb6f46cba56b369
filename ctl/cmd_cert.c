/* cmd_cert: ismailctl csr and cert commands (being written). */
#include "ctl.h"

#include <stdio.h>

int ism_ctl_csr(ism_ctl *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    fprintf(stderr, "ismailctl: '%s' is not available in this build\n", argv[0]);
    return ISM_EXIT_USAGE;
}

int ism_ctl_cert(ism_ctl *ctx, int argc, char **argv)
{
    return ism_ctl_csr(ctx, argc, argv);
}
