/* tlsio: the socket under a TLS session, as an OpenSSL BIO that gathers
 * what OpenSSL writes during one turn of the event loop and sends it with
 * one send() at the end of the turn.
 *
 * Why: OpenSSL writes every flight and record as soon as it has it. A server
 * that finishes a TLS 1.3 handshake writes the session ticket, then the
 * application writes its greeting: two segments, two trips through the
 * TCP stack, and a client with Nagle's algorithm may wait for the first one's
 * acknowledgement before it sends its next line. Gathered, the ticket and
 * the greeting (or a last reply and close_notify) leave as one segment.
 *
 * Reads go to the socket directly; after a recv() that returned less than
 * asked, the socket is known to be empty until poll() says otherwise, so the
 * next read in the same turn reports "retry" without a system call. poll()
 * is level-triggered, so nothing that arrives meanwhile is missed. */
#ifndef ISM_TLSIO_H
#define ISM_TLSIO_H

#include "ism_buf.h"
#include "ism_platform.h"
#include <openssl/bio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    ism_sock fd;
    ism_buf out;  /* TLS records written by OpenSSL, not yet sent */
    int drained;  /* the socket had nothing more to read this turn */
} ism_tlsio;

/* Creates the BIO method; call once before any ism_tlsio_bio(). */
int ism_tlsio_init(void);
/* A BIO over io (not owned by the BIO); NULL when out of memory. */
BIO *ism_tlsio_bio(ism_tlsio *io);
/* A new turn of the event loop: the socket may have data again. */
static inline void ism_tlsio_turn(ism_tlsio *io) { io->drained = 0; }
/* Sends what is gathered, as much as the socket takes. 0 when all or part
 * was sent (io->out.len says what waits for POLLOUT), -1 when the
 * connection is broken. */
int ism_tlsio_flush(ism_tlsio *io);
/* Frees the gathered bytes. */
void ism_tlsio_free(ism_tlsio *io);

#ifdef __cplusplus
}
#endif
#endif
