/* smtp_client: one SMTP session to another server, for the delivery thread.
 *
 * RFC 5321 client with EHLO (HELO when EHLO is refused), PIPELINING
 * (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152) and STARTTLS (RFC 3207)
 * under a TLS policy (ism_store.h): none never sends STARTTLS; may uses it
 * when offered; encrypt requires it; verify requires it and a certificate
 * that chains to a trusted root and names the next hop or the destination
 * domain. When TLS is required and cannot be had, nothing of the message is
 * sent in plaintext.
 *
 * The session blocks the calling thread, but waits in short slices so that
 * the cancel callback (the service stopping) ends it within about 100 ms;
 * each step has RFC 5321 4.5.3.2's timeout. */
#ifndef ISM_SMTP_CLIENT_H
#define ISM_SMTP_CLIENT_H

#include "ism_queue.h"
#include "ism_store.h"

#include <openssl/ssl.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *helo_name;     /* our host name for EHLO */
    const char *host;          /* the next hop's name: SNI, certificate name, messages */
    const char *addr;          /* the IP address to connect to */
    int port;
    const char *domain;        /* destination domain: the other name the certificate may carry */
    ism_tls_policy policy;
    const char *policy_source; /* who decided the policy, for reasons ("Verify Certificate Domain is on") */
    int sni;                   /* send host as SNI (Use STARTTLS Domains); never for an IP address */
    SSL_CTX *ctx;              /* client context with the trusted roots; NULL when TLS is unavailable */
    const char *ctx_error;     /* why ctx is NULL */
    int (*cancelled)(void *arg); /* polled while waiting; non-zero ends the session */
    void *cancel_arg;
    int timeout_ms;            /* every step's timeout; 0 for RFC 5321's (minutes) */
} ism_smtpc_opts;

/* What the session learnt, for the log and for reasons. */
typedef struct {
    int connected;             /* the TCP connection was made */
    int tls;                   /* TLS was established */
    char tls_version[32];      /* "TLSv1.3" */
    char cipher[80];
    char peer_subject[300];    /* the certificate's subject, one line */
    char peer_names[300];      /* its DNS names (subjectAltName), comma separated */
    int verified;              /* chains to a trusted root and names host or domain */
    char verify[300];          /* "ok (matched localhost)" or the failure */
    int starttls_offered;
    char reason[512];          /* why the session as a whole failed */
} ism_smtpc_info;

typedef enum {
    ISM_SMTPC_DONE,       /* the transaction ran: each recipient's result is final for this attempt */
    ISM_SMTPC_NEXT_HOST,  /* nothing was sent; another host may do better (info.reason says why) */
    ISM_SMTPC_TLS_FAILED, /* the TLS handshake failed; under "may" a plaintext session may follow */
    ISM_SMTPC_CANCELLED   /* cancelled: nothing to record, the attempt does not count */
} ism_smtpc_status;

#define ISM_SMTPC_REASON 512

/* Delivers data (RFC 5322 bytes) from sender ("" for <>) to the n
 * recipients over one session to o->addr. On ISM_SMTPC_DONE res[i] and
 * reasons[i] hold each recipient's result; a reason starts with the
 * server's reply ("550 5.1.1 ...") or an enhanced status code. */
ism_smtpc_status ism_smtpc_send(const ism_smtpc_opts *o, const char *sender, char *const *rcpts, size_t n,
                                const char *data, size_t len, ism_rcpt_result *res, char (*reasons)[ISM_SMTPC_REASON],
                                ism_smtpc_info *info);

/* 1 when s is an IPv4 or IPv6 address (no SNI, no host-name check). */
int ism_smtpc_is_ip(const char *s);

#ifdef __cplusplus
}
#endif
#endif
