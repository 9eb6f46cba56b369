/* ism_mail: the mail store and the accounts, in an SQLite file of its own
 * (DATA/mail.db), separate from the settings store.
 *
 * Accounts are full addresses ("alice@example.test") in local domains;
 * passwords are kept only as PBKDF2-HMAC-SHA256 hashes (OpenSSL), with a
 * per-account random salt. Messages are stored whole (RFC 5322 bytes with
 * CRLF line ends) per account, with an IMAP UID that only grows, a
 * UIDVALIDITY per mailbox, and the IMAP system flags. One INBOX per account.
 *
 * A handle is used by one thread at a time; open one per thread. */
#ifndef ISM_MAIL_H
#define ISM_MAIL_H

#include "ism_error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_MAIL_FILE "mail.db"

typedef struct ism_mail ism_mail;

int ism_mail_open(ism_mail **out, const char *path, ism_err *err);
void ism_mail_close(ism_mail *m);

/* ---- local domains ---- */
int ism_mail_domain_add(ism_mail *m, const char *domain, ism_err *err);
int ism_mail_domain_remove(ism_mail *m, const char *domain, ism_err *err);
/* *out: malloc'd array of malloc'd strings; free with ism_mail_free_list. */
int ism_mail_domain_list(ism_mail *m, char ***out, size_t *n, ism_err *err);
int ism_mail_is_local_domain(ism_mail *m, const char *domain); /* 1 yes, 0 no */

/* ---- accounts ---- */
/* The address's domain must be a local domain; the password at least 8 characters. */
int ism_mail_user_add(ism_mail *m, const char *address, const char *password, ism_err *err);
int ism_mail_user_passwd(ism_mail *m, const char *address, const char *password, ism_err *err);
int ism_mail_user_remove(ism_mail *m, const char *address, ism_err *err);
int ism_mail_user_list(ism_mail *m, char ***out, size_t *n, ism_err *err);
int ism_mail_user_exists(ism_mail *m, const char *address); /* 1 yes, 0 no */
/* 1 when the password is right, 0 when not (or no such account); constant-time compare. */
int ism_mail_auth(ism_mail *m, const char *address, const char *password);
void ism_mail_free_list(char **list, size_t n);

/* ---- messages ---- */
#define ISM_FLAG_SEEN 1
#define ISM_FLAG_ANSWERED 2
#define ISM_FLAG_FLAGGED 4
#define ISM_FLAG_DELETED 8
#define ISM_FLAG_DRAFT 16

typedef struct {
    uint32_t uid;
    size_t size;
    int flags;
    int64_t received_ms; /* Unix time in milliseconds */
} ism_msg_info;

/* Appends a message to the account's INBOX. */
int ism_mail_deliver(ism_mail *m, const char *address, const char *data, size_t len, ism_err *err);
/* The account's messages in UID order; *out malloc'd (free()). */
int ism_mail_list(ism_mail *m, const char *address, ism_msg_info **out, size_t *n, ism_err *err);
int ism_mail_uidvalidity(ism_mail *m, const char *address, uint32_t *uidvalidity, uint32_t *uidnext, ism_err *err);
/* The whole message; *data malloc'd (free()). */
int ism_mail_fetch(ism_mail *m, const char *address, uint32_t uid, char **data, size_t *len, ism_err *err);
int ism_mail_set_flags(ism_mail *m, const char *address, uint32_t uid, int flags, ism_err *err);
/* Removes the messages with the given UIDs (POP3 QUIT after DELE, IMAP EXPUNGE). */
int ism_mail_remove(ism_mail *m, const char *address, const uint32_t *uids, size_t n, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
