/* sasl: the base64 and SASL PLAIN decoding the SMTP, POP3 and IMAP sessions
 * share (RFC 4648, RFC 4616). */
#ifndef ISM_SASL_H
#define ISM_SASL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Decodes base64 into out (at most outsz bytes); padding may be left out but
 * if present must be where it belongs. Returns the length or -1. */
long ism_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz);

/* Decodes a SASL PLAIN response (authzid NUL authcid NUL passwd) into user
 * and pass. An authorization identity other than the login's own is refused.
 * Returns 0, or -1 for anything malformed or too long; the decoded bytes are
 * wiped either way. */
int ism_sasl_plain(const char *b64, size_t len, char *user, size_t usersz, char *pass, size_t passsz);

#ifdef __cplusplus
}
#endif
#endif
