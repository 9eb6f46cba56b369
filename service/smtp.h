/* smtp: the SMTP server session as an explicit state machine, behind the
 * ism_proto_ops contract (proto.h). */
#ifndef ISM_SMTP_H
#define ISM_SMTP_H

#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define ISM_SMTP_MAX_COMMAND 512

typedef enum { ISM_SMTP_S_FRESH, ISM_SMTP_S_GREETED } ism_smtp_state;

typedef struct {
    ism_smtp_state state;
    char client[256];         /* the name the client gave in EHLO/HELO */
} ism_smtp;

#ifdef __cplusplus
}
#endif
#endif
