/* ism_str: the few ASCII string helpers every part of ISMail needs.
 *
 * Protocol keywords, host names, setting values and file names compared here
 * are ASCII, and the comparisons must not depend on the C library's locale
 * (tolower() in a Turkish locale maps 'I' to a dotless i), so these fold only
 * A-Z. One module, so the rule is written once. */
#ifndef ISM_STR_H
#define ISM_STR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ASCII lower-case of c; every other byte unchanged. */
static inline char ism_str_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Lower-cases s in place (ASCII only) and returns it. */
char *ism_str_lower_all(char *s);

/* Orders a and b as strcmp does, ignoring ASCII case. */
int ism_str_icmp(const char *a, const char *b);

/* 1 when a and b are equal ignoring ASCII case, else 0. */
int ism_str_ieq(const char *a, const char *b);

/* 1 when the len bytes at a equal the whole of b ignoring ASCII case. */
int ism_str_ieqn(const char *a, size_t len, const char *b);

/* 1 when the first n bytes of a and of b are equal ignoring ASCII case
 * (both must have at least n bytes). */
int ism_str_ieq_bytes(const char *a, const char *b, size_t n);

/* 1 when the len bytes at s begin with prefix, ignoring ASCII case. */
int ism_str_iprefix(const char *s, size_t len, const char *prefix);

/* 1 when a protocol line of len bytes begins with the command verb (any
 * case) followed by the end of the line or a space: "quit", "QUIT x". */
int ism_str_verb_is(const char *line, size_t len, const char *verb);

#ifdef __cplusplus
}
#endif
#endif
