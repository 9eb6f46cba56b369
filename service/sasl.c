/* sasl: base64 and SASL PLAIN for the protocol sessions (see sasl.h). */
#include "sasl.h"

#include <openssl/crypto.h>

#include <stdlib.h>
#include <string.h>

long ism_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0, i = 0;
    for (; i < len && in[i] != '='; i++) {
        char c = in[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A'
              : c >= 'a' && c <= 'z' ? c - 'a' + 26
              : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '+' ? 62
              : c == '/' ? 63 : -1;
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= outsz)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    size_t pad = len - i;
    for (; i < len; i++)
        if (in[i] != '=')
            return -1;
    if (bits >= 6 || pad > 2 || (pad && len % 4))
        return -1; /* a lone sixth-bit group, or padding where none belongs */
    return (long)n;
}

int ism_sasl_plain(const char *b64, size_t len, char *user, size_t usersz, char *pass, size_t passsz)
{
    size_t cap = len / 4 * 3 + 3;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    long n = ism_b64_decode(b64, len, buf, cap);
    int bad = n < 0;
    if (!bad) {
        unsigned char *authz = buf, *end = buf + n;
        unsigned char *nul1 = memchr(authz, 0, (size_t)(end - authz));
        unsigned char *authc = nul1 ? nul1 + 1 : NULL;
        unsigned char *nul2 = authc ? memchr(authc, 0, (size_t)(end - authc)) : NULL;
        if (!nul2) {
            bad = 1;
        } else {
            unsigned char *pw = nul2 + 1;
            size_t authz_len = (size_t)(nul1 - authz), authc_len = (size_t)(nul2 - authc),
                   pw_len = (size_t)(end - pw);
            bad = memchr(pw, 0, pw_len) || authc_len == 0 || authc_len >= usersz || pw_len >= passsz ||
                  (authz_len && (authz_len != authc_len || memcmp(authz, authc, authc_len)));
            if (!bad) {
                memcpy(user, authc, authc_len);
                user[authc_len] = '\0';
                memcpy(pass, pw, pw_len);
                pass[pw_len] = '\0';
            }
        }
    }
    OPENSSL_cleanse(buf, cap);
    free(buf);
    return bad ? -1 : 0;
}
