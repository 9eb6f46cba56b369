/* fuzz_sasl: libFuzzer target for the base64 and SASL PLAIN decoding the
 * sessions share (service/sasl.h). Checks, besides the sanitizers:
 *   - the decoder never writes more than it is allowed and says so (-1) when
 *     the room is short by one byte;
 *   - whatever OpenSSL encodes decodes back to the same bytes, with its
 *     padding and without (padding may be left out);
 *   - a PLAIN response that is accepted yields NUL-terminated user and
 *     password strings that fit, and re-encoding them is accepted again.
 * Input: any bytes (taken both as base64 text and as data to encode). */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "fuzz_common.h"
#include "sasl.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

static void decode_checks(const uint8_t *data, size_t size)
{
    size_t cap = size / 4 * 3 + 3;
    unsigned char *out = malloc(cap), *exact;
    if (!out)
        fuzz_die("out of memory");
    long n = ism_b64_decode((const char *)data, size, out, cap);
    if (n < -1 || n > (long)cap)
        fuzz_die("ism_b64_decode returned %ld for %lu bytes of room", n, (unsigned long)cap);
    if (n > 0) {
        /* exactly enough room: the same bytes; one byte short: refused */
        exact = malloc((size_t)n);
        if (!exact)
            fuzz_die("out of memory");
        if (ism_b64_decode((const char *)data, size, exact, (size_t)n) != n || memcmp(exact, out, (size_t)n) != 0)
            fuzz_die("decoding into exactly %ld bytes gives another result", n);
        if (ism_b64_decode((const char *)data, size, exact, (size_t)n - 1) != -1)
            fuzz_die("decoding %ld bytes into %ld bytes of room did not fail", n, n - 1);
        free(exact);
    }
    free(out);
}

static void round_trip(const uint8_t *data, size_t size)
{
    if (size > 3000)
        return;
    char enc[4 * 1000 + 8];
    unsigned char dec[3000 + 3];
    int el = EVP_EncodeBlock((unsigned char *)enc, data, (int)size);
    long n = ism_b64_decode(enc, (size_t)el, dec, sizeof dec);
    if (n != (long)size || memcmp(dec, data, size) != 0)
        fuzz_die("base64 of %lu bytes (OpenSSL's) decodes to %ld bytes, not the same", (unsigned long)size, n);
    while (el > 0 && enc[el - 1] == '=')
        el--;
    n = ism_b64_decode(enc, (size_t)el, dec, sizeof dec);
    if (n != (long)size || memcmp(dec, data, size) != 0)
        fuzz_die("base64 of %lu bytes without padding decodes to %ld bytes, not the same", (unsigned long)size, n);
}

static void plain_checks(const uint8_t *data, size_t size)
{
    char user[320], pass[1024];
    memset(user, 'U', sizeof user);
    memset(pass, 'P', sizeof pass);
    if (ism_sasl_plain((const char *)data, size, user, sizeof user, pass, sizeof pass) == 0) {
        size_t ul = strnlen(user, sizeof user), pl = strnlen(pass, sizeof pass);
        if (ul == 0 || ul >= sizeof user || pl >= sizeof pass)
            fuzz_die("ism_sasl_plain accepted a user of %lu and a password of %lu bytes", (unsigned long)ul,
                     (unsigned long)pl);
        /* "\0user\0pass" re-encoded is accepted and gives the same */
        unsigned char raw[1 + sizeof user + sizeof pass];
        char enc[sizeof raw * 4 / 3 + 8], u2[sizeof user], p2[sizeof pass];
        raw[0] = 0;
        memcpy(raw + 1, user, ul + 1);
        memcpy(raw + 2 + ul, pass, pl);
        int el = EVP_EncodeBlock((unsigned char *)enc, raw, (int)(2 + ul + pl));
        if (ism_sasl_plain(enc, (size_t)el, u2, sizeof u2, p2, sizeof p2) != 0 || strcmp(u2, user) != 0 ||
            strcmp(p2, pass) != 0)
            fuzz_die("a PLAIN response rebuilt from what was accepted is refused or differs");
    }
    /* little room: must refuse or fit, never overrun (ASan watches) */
    char *su = malloc(8), *sp = malloc(8);
    if (!su || !sp)
        fuzz_die("out of memory");
    if (ism_sasl_plain((const char *)data, size, su, 8, sp, 8) == 0 && (strnlen(su, 8) >= 8 || strnlen(sp, 8) >= 8))
        fuzz_die("ism_sasl_plain overfilled an 8-byte buffer");
    free(su);
    free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_checks(data, size);
    round_trip(data, size);
    plain_checks(data, size);
    return 0;
}
