/* fuzz_proto: drives one protocol session (service/proto.h) from a fuzz
 * input, the way the connection layer (service/server.c) does, against a
 * real mail store and outgoing queue that are put back to the same contents
 * before every input, so an input behaves the same every time it runs.
 *
 * Input format: the first byte sets the session's surroundings (FUZZ_ENV_*
 * bits; the seeds use printable letters, see docs/fuzzing.md), the rest is
 * what the client sends, split into lines on '\n'. */
#ifndef ISM_FUZZ_PROTO_H
#define ISM_FUZZ_PROTO_H

#include "proto.h"

#include <stddef.h>
#include <stdint.h>

#define FUZZ_ENV_STARTTLS_OFFERED 0x01 /* STARTTLS/STLS may be offered */
#define FUZZ_ENV_TLS_REQUIRED 0x02     /* credentials refused in plaintext */
#define FUZZ_ENV_SUBMISSION 0x04       /* SMTP: the submission port */
#define FUZZ_ENV_IMPLICIT_TLS 0x08     /* the session runs inside TLS from the start */
#define FUZZ_ENV_LOCAL_AUTH 0x10       /* SMTP: local-domain senders need a login */
#define FUZZ_ENV_SMALL_LIMITS 0x20     /* SMTP: tiny message size and data budget */

/* The store's accounts and their one password. */
#define FUZZ_USER "alice@example.test"
#define FUZZ_USER2 "bob@example.test"
#define FUZZ_PASS "correct horse"

/* Runs one session of ops over data (always returns 0, for libFuzzer). */
int fuzz_proto_run(const ism_proto_ops *ops, const uint8_t *data, size_t size);

/* Hands one complete line (CR LF already stripped) to the session and does
 * what it asks: the only place a line reaches a protocol. Returns 1 when the
 * session is over (CLOSE), else 0. */
int fuzz_proto_line(const ism_proto_ops *ops, void *st, ism_proto_env *env, const char *line, size_t len,
                    ism_buf *out);

#endif
