// Runs every CppUTest group linked into ismail-tests.
#include "ism_platform.h"

#include <CppUTest/CommandLineTestRunner.h>
#include <cstdio>

int main(int argc, char **argv)
{
    ism_err err = {};
    if (ism_net_init(&err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return CommandLineTestRunner::RunAllTests(argc, argv);
}
