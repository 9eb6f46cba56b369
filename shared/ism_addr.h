/* ism_addr: what kind of IP address an administrator typed.
 *
 * The manual's note: "SSL/TLS encryption requires that an IP address be
 * assigned to a domain in order to properly use a certificate. The IP address
 * must be a legitimate, internet address and not a LAN IP address unless the
 * server is to be used only for internal LAN access." Every front end that
 * takes an IP address (the listen address, a web SSL domain's address) asks
 * this module whether to show that note as a warning, so the ranges are
 * decided in one place. Pure text in, facts out: no sockets, no platform. */
#ifndef ISM_ADDR_H
#define ISM_ADDR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ISM_ADDR_INVALID = 0,  /* not an IPv4 or IPv6 address */
    ISM_ADDR_PUBLIC,       /* an internet address */
    ISM_ADDR_ANY,          /* 0.0.0.0 or ::, every address of this computer */
    ISM_ADDR_PRIVATE,      /* LAN: 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier NAT), fc00::/7 */
    ISM_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
    ISM_ADDR_LOOPBACK      /* 127/8, ::1 */
} ism_addr_kind;

/* Classifies a dotted IPv4 address or an IPv6 address (an IPv4-mapped IPv6
 * address ::ffff:a.b.c.d is classified as its IPv4 address). Anything else,
 * including surrounding spaces, is ISM_ADDR_INVALID. */
ism_addr_kind ism_addr_classify(const char *ip);

/* A word for the kind: "public", "every address", "private (LAN)",
 * "link-local", "loopback", "not an IP address". */
const char *ism_addr_kind_word(ism_addr_kind k);

/* The manual's note as a warning, for an address a certificate is used on:
 * returns 1 and writes the warning to out when ip is private, link-local or
 * loopback; returns 0 and writes "" otherwise (public, every address, or not
 * an address at all, which validation reports on its own). */
int ism_addr_public_warning(const char *ip, char *out, size_t outsz);

#ifdef __cplusplus
}
#endif
#endif
