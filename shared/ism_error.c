/* ism_error: errors as values (see ism_error.h). */
#include "ism_error.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ism_err_set(ism_err *err, ism_err_kind kind, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->kind = kind;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void ism_err_add_openssl(ism_err *err)
{
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        if (!err)
            continue;
        size_t len = strlen(err->msg);
        if (len + 4 < sizeof err->msg) {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            snprintf(err->msg + len, sizeof err->msg - len, " (%s)", buf);
        }
    }
}

void ism_err_clear(ism_err *err)
{
    if (err) {
        err->kind = ISM_E_NONE;
        err->msg[0] = '\0';
    }
}
