/* smtp: the SMTP server session as an explicit state machine.
 *
 * The connection code feeds it one command line at a time (CRLF stripped) and
 * sends whatever it appends to the output buffer. It never touches sockets or
 * TLS: when it returns ISM_SMTP_STARTTLS the caller flushes the "220" reply,
 * discards any input already buffered (RFC 3207 section 4.2, so commands
 * smuggled after STARTTLS are never answered), starts TLS and calls
 * ism_smtp_tls_started(), which resets the session. */
#ifndef ISM_SMTP_H
#define ISM_SMTP_H

#include "ism_buf.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define ISM_SMTP_MAX_COMMAND 512

typedef enum { ISM_SMTP_CONTINUE, ISM_SMTP_STARTTLS, ISM_SMTP_QUIT } ism_smtp_action;

typedef enum { ISM_SMTP_S_FRESH, ISM_SMTP_S_GREETED } ism_smtp_state;

typedef struct {
    ism_smtp_state state;
    int tls_active;           /* the session runs inside TLS */
    char hostname[256];       /* our name, for the greeting and EHLO */
    char client[256];         /* the name the client gave in EHLO/HELO */
} ism_smtp;

/* Starts a session and appends the 220 greeting. */
void ism_smtp_begin(ism_smtp *s, const char *hostname, int tls_active, ism_buf *out);

/* Handles one command line. starttls_offered says whether STARTTLS may be
 * offered now (the setting is on and a certificate is loaded). */
ism_smtp_action ism_smtp_command(ism_smtp *s, const char *line, size_t len, int starttls_offered, ism_buf *out);

/* Called once TLS is up after STARTTLS: forget everything learnt in plaintext. */
void ism_smtp_tls_started(ism_smtp *s);

/* The reply for a command line longer than ISM_SMTP_MAX_COMMAND. */
void ism_smtp_line_too_long(ism_smtp *s, ism_buf *out);

#ifdef __cplusplus
}
#endif
#endif
