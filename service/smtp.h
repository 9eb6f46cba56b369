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
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define ISM_SMTP_MAX_COMMAND 512
/* RFC 5321 4.5.3.1.6 / RFC 5322 2.1.1: a text line is at most 998 characters
 * plus CRLF; this is the longest line the connection layer hands over. RFC
 * 4954 4 lets AUTH lines grow past 512 too, up to this. */
#define ISM_SMTP_MAX_LINE 1000
/* Largest message when the connection layer sets no env->max_message
 * (smtp.max_message_mb's default). */
#define ISM_SMTP_DEFAULT_MAX_MESSAGE (50LL * 1024 * 1024)
/* Message bytes a session keeps in memory while DATA arrives; the rest goes
 * to a file in env->spool_dir, so a client that sends a large message (or
 * never ends one) costs disk, not memory. */
#define ISM_SMTP_DATA_MEM (64 * 1024)
/* Message bytes are counted against the client address's budget
 * (env->data_reserve) in steps of this size, not line by line. */
#define ISM_SMTP_RESERVE_STEP (64 * 1024)
/* RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted. */
#define ISM_SMTP_MAX_RCPT 100
/* RFC 5321 6.3: a message that has been through this many hops is looping. */
#define ISM_SMTP_MAX_HOPS 50
/* Failed AUTH attempts, and refused commands, before the session is closed. */
#define ISM_SMTP_MAX_AUTH_FAILURES 3
#define ISM_SMTP_MAX_ERRORS 20
/* Unknown local recipients answered at once in a session; each further one
 * is answered after a pause growing by ISM_SMTP_MISS_PAUSE_MS per miss, at
 * most ISM_SMTP_MAX_MISS_PAUSE_MS, so guessing addresses is slow (Postfix's
 * smtpd_soft_error_limit and smtpd_error_sleep_time). */
#define ISM_SMTP_FREE_MISSES 3
#define ISM_SMTP_MISS_PAUSE_MS 1000
#define ISM_SMTP_MAX_MISS_PAUSE_MS 5000

typedef enum {
    ISM_SMTP_S_FRESH,      /* no EHLO/HELO yet (also right after STARTTLS) */
    ISM_SMTP_S_GREETED,    /* commands */
    ISM_SMTP_S_AUTH_PLAIN, /* sent "334 ", waiting for the PLAIN response */
    ISM_SMTP_S_AUTH_USER,  /* AUTH LOGIN: waiting for the user name */
    ISM_SMTP_S_AUTH_PASS,  /* AUTH LOGIN: waiting for the password */
    ISM_SMTP_S_AUTH_WAIT,  /* the password is being checked (ISM_PROTO_AUTH) */
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
    int rcpt_misses;             /* "no such mailbox" replies so far */
    /* the mail transaction */
    int have_from;               /* MAIL accepted */
    char from[258];              /* reverse-path without brackets; "" for <> */
    char **rcpt;                 /* accepted local recipients, lower case */
    size_t n_rcpt, cap_rcpt;
    /* The message so far, dot-unstuffed, CRLF line ends: the first
     * ISM_SMTP_DATA_MEM bytes in data, the rest in the spool file. */
    ism_buf data;
    FILE *spool;                 /* NULL until data is full (or when there is no spool folder) */
    int64_t spooled;             /* bytes in the spool file */
    int64_t reserved;            /* bytes counted against the address's budget */
    void (*release)(void *arg, int64_t bytes); /* how to give them back (end() has no env) */
    void *release_arg;
    uint64_t data_size;          /* bytes received in DATA, kept or not */
    int data_too_big;            /* more than env->max_message: the rest is dropped */
    int data_long_line;          /* a line over 998 characters was seen */
    int data_bare_lf;            /* a line ended with LF alone */
    int data_bare_cr;            /* a CR not followed by LF */
    int data_over_budget;        /* the address's budget is spent: nothing is kept */
    int data_no_memory;          /* memory ran out: nothing is kept */
    int data_spool_failed;       /* the spool file could not be made or written */
    int data_prev_bare_lf;       /* the previous line ended with LF alone */
    int data_in_headers;         /* still before the first empty line */
    int data_hops;               /* Received: headers seen */
} ism_smtp;

#ifdef __cplusplus
}
#endif
#endif
