/* ism_error: errors as values.
 *
 * Core functions return 0 on success and -1 on failure, filling an ism_err
 * whose message is written for the administrator: it names the setting or file
 * and says what is wrong and what to do. Nothing in the core exits the process. */
#ifndef ISM_ERROR_H
#define ISM_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error classes; ismailctl maps them to its exit codes (see docs/admin-guide.md,
 * section "ismailctl"). */
typedef enum {
    ISM_E_NONE = 0,
    ISM_E_USAGE,    /* the caller asked for something that does not exist */
    ISM_E_INVALID,  /* a value was rejected by validation */
    ISM_E_STORE,    /* the settings store could not be read or written */
    ISM_E_IO,       /* a file or folder could not be read or written */
    ISM_E_TLS,      /* a certificate, key or TLS policy is unusable */
    ISM_E_NET,      /* a socket could not be opened */
    ISM_E_NEED_PASSWORD, /* a PKCS#12 (PFX) file or an encrypted PEM key cannot be opened
                          * without a password and none was given: ask for one, try again */
    ISM_E_BAD_PASSWORD   /* the password given does not open that file: ask again */
} ism_err_kind;

typedef struct {
    ism_err_kind kind;
    char msg[512];
} ism_err;

/* Fills err (if not NULL) and returns -1, so callers can write
 * `return ism_err_set(err, ISM_E_IO, "...", ...);`. */
int ism_err_set(ism_err *err, ism_err_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Appends OpenSSL's error queue (then clears it) to err's message. */
void ism_err_add_openssl(ism_err *err);

void ism_err_clear(ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
