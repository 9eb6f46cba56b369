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
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_MAIL_FILE "mail.db"

/* Passwords: at least this many characters; hashed with PBKDF2-HMAC-SHA256
 * at this many iterations (stored with each hash, so raising it later keeps
 * old hashes working). */
#define ISM_MAIL_MIN_PASSWORD 8
#define ISM_MAIL_MAX_PASSWORD 1024
#define ISM_MAIL_PBKDF2_ITER 100000
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
#define ISM_MAIL_MAX_ADDRESS 254

typedef struct ism_mail ism_mail;

/* Opens (creating it and its tables when missing) the mail store at path. */
int ism_mail_open(ism_mail **out, const char *path, ism_err *err);
void ism_mail_close(ism_mail *m);

/* Checks the syntax of an address (local-part@domain, dot-atom local part,
 * host-name domain) and writes it lower-cased to out (at least
 * ISM_MAIL_MAX_ADDRESS + 1 bytes). Does not look at the store. */
int ism_mail_address_normalize(const char *address, char *out, size_t outsz, ism_err *err);
/* The same for a domain name. */
int ism_mail_domain_normalize(const char *domain, char *out, size_t outsz, ism_err *err);

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
/* The two halves of ism_mail_auth, so the slow one can run away from the
 * event loop: the lookup (fast; a database read) copies the account's
 * stored hash, or a decoy of the same cost when there is no such account,
 * and returns 1 when the account exists; the check (slow by design: PBKDF2)
 * returns 1 when the password matches. A login succeeds when both are 1. */
#define ISM_MAIL_STORED_HASH_MAX 200
int ism_mail_auth_lookup(ism_mail *m, const char *address, char *stored, size_t storedsz);
int ism_mail_password_check(const char *stored, const char *password);
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
/* Appends the same message to several accounts' INBOXes in one transaction:
 * every copy or none (an unknown address fails the whole delivery). */
int ism_mail_deliver_many(ism_mail *m, const char *const *addresses, size_t n, const char *data, size_t len,
                          ism_err *err);
/* The same for a message of head_len bytes in memory followed by rest_len
 * bytes read from the start of rest (a spool file; NULL when rest_len is
 * 0). The messages table has no rowids, which SQLite's incremental blob
 * writes need, so the message is read into one buffer of its exact size
 * for the insert: callers bound its size (smtp.max_message_mb). */
int ism_mail_deliver_many_file(ism_mail *m, const char *const *addresses, size_t n, const char *head,
                               size_t head_len, FILE *rest, int64_t rest_len, ism_err *err);
/* The account's messages in UID order; *out malloc'd (free()). */
int ism_mail_list(ism_mail *m, const char *address, ism_msg_info **out, size_t *n, ism_err *err);
int ism_mail_uidvalidity(ism_mail *m, const char *address, uint32_t *uidvalidity, uint32_t *uidnext, ism_err *err);
/* The whole message; *data malloc'd (free()), with a NUL after the len bytes. */
int ism_mail_fetch(ism_mail *m, const char *address, uint32_t uid, char **data, size_t *len, ism_err *err);
/* Replaces the message's flags (ISM_FLAG_*; other bits are refused). */
int ism_mail_set_flags(ism_mail *m, const char *address, uint32_t uid, int flags, ism_err *err);
/* Removes the messages with the given UIDs (POP3 QUIT after DELE, IMAP EXPUNGE).
 * UIDs that are already gone are skipped; the UIDs are never given out again. */
int ism_mail_remove(ism_mail *m, const char *address, const uint32_t *uids, size_t n, ism_err *err);

#ifdef __cplusplus
}
#endif
#endif
