/* ism_addr.c: the kind of an IP address (see ism_addr.h). The parsers are
 * strict (no leading zeros games, no spaces) because a warning shown for a
 * misread address would be worse than none; validation of the setting itself
 * stays in ism_settings.c. */
#include "ism_addr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Dotted quad, exactly four parts of 1-3 digits each, 0-255. */
static int parse_v4(const char *s, const char *end, unsigned char out[4])
{
    for (int part = 0; part < 4; part++) {
        int v = 0, digits = 0;
        while (s < end && isdigit((unsigned char)*s)) {
            v = v * 10 + (*s++ - '0');
            if (++digits > 3 || v > 255)
                return 0;
        }
        if (!digits)
            return 0;
        out[part] = (unsigned char)v;
        if (part < 3 && (s >= end || *s++ != '.'))
            return 0;
    }
    return s == end;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 4291 text form: up to eight groups of 1-4 hex digits, at most one
 * "::", optionally ending in a dotted IPv4 address. */
static int parse_v6(const char *s, unsigned char out[16])
{
    unsigned char head[16], tail[16];
    int nh = 0, nt = 0, gap = 0;
    const char *p = s;
    size_t len = strlen(s);
    if (len < 2 || len > 45)
        return 0;
    if (p[0] == ':') {
        if (p[1] != ':')
            return 0;
        gap = 1;
        p += 2;
    }
    while (*p) {
        unsigned char *dst = gap ? tail : head;
        int *n = gap ? &nt : &nh;
        const char *q = p;
        int v = 0, digits = 0;
        while (*q && hexval(*q) >= 0) {
            v = v * 16 + hexval(*q++);
            if (++digits > 4)
                break;
        }
        if (*q == '.') { /* the last 32 bits as IPv4 */
            if (*n + 4 > 16 || !parse_v4(p, p + strlen(p), dst + *n))
                return 0;
            *n += 4;
            break;
        }
        if (!digits || digits > 4 || *n + 2 > 16)
            return 0;
        dst[(*n)++] = (unsigned char)(v >> 8);
        dst[(*n)++] = (unsigned char)v;
        p = q;
        if (!*p)
            break;
        if (*p != ':')
            return 0;
        p++;
        if (*p == ':') {
            if (gap)
                return 0;
            gap = 1;
            p++;
        } else if (!*p) {
            return 0; /* a trailing single colon */
        }
    }
    if (gap ? nh + nt > 14 : nh != 16)
        return 0;
    memset(out, 0, 16);
    memcpy(out, head, (size_t)nh);
    memcpy(out + 16 - nt, tail, (size_t)nt);
    return 1;
}

static ism_addr_kind kind_v4(const unsigned char a[4])
{
    if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0)
        return ISM_ADDR_ANY;
    if (a[0] == 127)
        return ISM_ADDR_LOOPBACK;
    if (a[0] == 169 && a[1] == 254)
        return ISM_ADDR_LINK_LOCAL;
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
        (a[0] == 100 && (a[1] & 0xc0) == 64))
        return ISM_ADDR_PRIVATE;
    return ISM_ADDR_PUBLIC;
}

ism_addr_kind ism_addr_classify(const char *ip)
{
    unsigned char a[16];
    if (!ip)
        return ISM_ADDR_INVALID;
    if (!strchr(ip, ':'))
        return parse_v4(ip, ip + strlen(ip), a) ? kind_v4(a) : ISM_ADDR_INVALID;
    if (!parse_v6(ip, a))
        return ISM_ADDR_INVALID;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0)
        return kind_v4(a + 12);
    int zero15 = 1;
    for (int i = 0; i < 15; i++)
        zero15 = zero15 && a[i] == 0;
    if (zero15 && a[15] == 0)
        return ISM_ADDR_ANY;
    if (zero15 && a[15] == 1)
        return ISM_ADDR_LOOPBACK;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return ISM_ADDR_LINK_LOCAL;
    if ((a[0] & 0xfe) == 0xfc)
        return ISM_ADDR_PRIVATE;
    return ISM_ADDR_PUBLIC;
}

const char *ism_addr_kind_word(ism_addr_kind k)
{
    switch (k) {
    case ISM_ADDR_PUBLIC: return "public";
    case ISM_ADDR_ANY: return "every address";
    case ISM_ADDR_PRIVATE: return "private (LAN)";
    case ISM_ADDR_LINK_LOCAL: return "link-local";
    case ISM_ADDR_LOOPBACK: return "loopback";
    case ISM_ADDR_INVALID: break;
    }
    return "not an IP address";
}

int ism_addr_public_warning(const char *ip, char *out, size_t outsz)
{
    ism_addr_kind k = ism_addr_classify(ip);
    if (outsz)
        out[0] = '\0';
    if (k != ISM_ADDR_PRIVATE && k != ISM_ADDR_LINK_LOCAL && k != ISM_ADDR_LOOPBACK)
        return 0;
    snprintf(out, outsz,
             "%s is a %s address. A certificate needs a legitimate internet (public) IP address, not a LAN "
             "address, unless the server is used only on the LAN.",
             ip, ism_addr_kind_word(k));
    return 1;
}
