/* smtp: the SMTP server session as an explicit state machine, behind the
 * ism_proto_ops contract (proto.h).
 *
 * One struct holds everything a session knows; the connection layer feeds it
 * one line at a time, so a session can stop after any line and go on when
 * the next one arrives. The state says how the next line is read: as a
 * command, as a reply in an AUTH exchange, or as message text after DATA. */
#ifndef ISM_SMTP_H
#define ISM_SMTP_H

#include "proto.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define ISM_SMTP_MAX_COMMAND 512
/* RFC 5321 4.5.3.1.6 / RFC 5322 2.1.1: a text line is at most 998 characters
 * plus CRLF; this is the longest line the connection layer hands over. RFC
 * 4954 4 lets AUTH lines grow past 512 too, up to this. */
#define ISM_SMTP_MAX_LINE 1000
/* The SIZE advertised in EHLO and enforced on DATA (RFC 1870). */
#define ISM_SMTP_MAX_SIZE (25u * 1024 * 1024)
/* RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted. */
#define ISM_SMTP_MAX_RCPT 100
/* RFC 5321 6.3: a message that has been through this many hops is looping. */
#define ISM_SMTP_MAX_HOPS 50
/* Failed AUTH attempts, and refused commands, before the session is closed. */
#define ISM_SMTP_MAX_AUTH_FAILURES 3
#define ISM_SMTP_MAX_ERRORS 20

typedef enum {
    ISM_SMTP_S_FRESH,      /* no EHLO/HELO yet (also right after STARTTLS) */
    ISM_SMTP_S_GREETED,    /* commands */
    ISM_SMTP_S_AUTH_PLAIN, /* sent "334 ", waiting for the PLAIN response */
    ISM_SMTP_S_AUTH_USER,  /* AUTH LOGIN: waiting for the user name */
    ISM_SMTP_S_AUTH_PASS,  /* AUTH LOGIN: waiting for the password */
    ISM_SMTP_S_DATA        /* sent 354, reading message lines up to "." */
} ism_smtp_state;

typedef struct {
    ism_smtp_state state;
    char client[256];            /* the name the client gave in EHLO/HELO */
    int esmtp;                   /* greeted with EHLO (extensions allowed) */
    char auth_user[256];         /* the account authenticated as; empty when none */
    char login_user[256];        /* AUTH LOGIN: the user name between the two prompts */
    int auth_failures;
    int errors;
    /* the mail transaction */
    int have_from;               /* MAIL accepted */
    char from[258];              /* reverse-path without brackets; "" for <> */
    char **rcpt;                 /* accepted local recipients, lower case */
    size_t n_rcpt, cap_rcpt;
    ism_buf data;                /* the message so far, dot-unstuffed, CRLF line ends */
    uint64_t data_size;          /* bytes received in DATA, kept or not */
    int data_too_big;            /* more than ISM_SMTP_MAX_SIZE: the rest is dropped */
    int data_long_line;          /* a line over 998 characters was seen */
    int data_in_headers;         /* still before the first empty line */
    int data_hops;               /* Received: headers seen */
} ism_smtp;

#ifdef __cplusplus
}
#endif
#endif
