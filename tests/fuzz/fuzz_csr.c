/* fuzz_csr: libFuzzer target for the CSR field checks (shared/ism_cert.h):
 * ism_cert_field_check, ism_csr_req_check and ism_csr_req_advice, what the
 * manager runs on every keystroke in the CSR dialog and ismailctl on its
 * options. Checks, besides the sanitizers, that the canonical spelling a
 * check writes is accepted again unchanged.
 * Input: first byte below 0x80: it picks the field (byte % the number of
 * fields) and the rest is the value; 0x80 and above: the rest is a whole
 * request, one field per line in the order country, state, locality, org,
 * unit, cn, email, key, then any number of SANs. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "fuzz_common.h"
#include "ism_cert.h"

#include <stdlib.h>
#include <string.h>

/* out's size for each field, as in ism_csr_req. */
static size_t field_size(ism_cert_field f)
{
    ism_csr_req r;
    switch (f) {
    case ISM_CF_COUNTRY: return sizeof r.country;
    case ISM_CF_STATE: return sizeof r.state;
    case ISM_CF_LOCALITY: return sizeof r.locality;
    case ISM_CF_ORG: return sizeof r.org;
    case ISM_CF_UNIT: return sizeof r.unit;
    case ISM_CF_CN: return sizeof r.cn;
    case ISM_CF_EMAIL: return sizeof r.email;
    case ISM_CF_SAN: return sizeof r.san[0];
    case ISM_CF_KEY: return sizeof r.key;
    default: return 256;
    }
}

static void one_field(ism_cert_field f, const char *value)
{
    size_t sz = field_size(f);
    char *out = malloc(sz), *again = malloc(sz); /* heap: ASan sees any overrun */
    ism_err err;
    memset(&err, 0, sizeof err);
    if (!out || !again)
        fuzz_die("out of memory");
    if (ism_cert_field_check(f, value, out, sz, &err) == 0) {
        if (strnlen(out, sz) >= sz)
            fuzz_die("%s: the canonical value is not terminated", ism_cert_field_name(f));
        if (ism_cert_field_check(f, out, again, sz, &err) != 0)
            fuzz_die("%s: '%s' (from '%s') is refused when checked again: %s", ism_cert_field_name(f), out, value,
                     err.msg);
        if (strcmp(out, again) != 0)
            fuzz_die("%s: '%s' canonicalises to '%s'", ism_cert_field_name(f), out, again);
    } else if (!err.msg[0]) {
        fuzz_die("%s: refused without a message", ism_cert_field_name(f));
    }
    free(out);
    free(again);
}

static void whole_request(const char *text)
{
    ism_csr_req req;
    memset(&req, 0, sizeof req);
    char *fields[] = {req.country, req.state, req.locality, req.org, req.unit, req.cn, req.email, req.key};
    size_t sizes[] = {sizeof req.country, sizeof req.state, sizeof req.locality, sizeof req.org,
                      sizeof req.unit, sizeof req.cn, sizeof req.email, sizeof req.key};
    size_t i = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *dst;
        size_t dsz;
        if (i < 8) {
            dst = fields[i];
            dsz = sizes[i];
        } else if (req.n_san < ISM_CERT_MAX_SANS) {
            dst = req.san[req.n_san++];
            dsz = sizeof req.san[0];
        } else {
            break;
        }
        if (len >= dsz)
            len = dsz - 1;
        memcpy(dst, p, len);
        dst[len] = '\0';
        i++;
        if (!nl)
            break;
        p = nl + 1;
    }
    ism_cert_field bad = ISM_CF_NONE;
    ism_err err;
    memset(&err, 0, sizeof err);
    char advice[600];
    if (ism_csr_req_check(&req, &bad, &err) == 0) {
        ism_csr_req copy = req;
        if (ism_csr_req_check(&copy, &bad, &err) != 0 || memcmp(&copy, &req, sizeof req) != 0)
            fuzz_die("a checked request changes or is refused when checked again (%s)", err.msg);
        if (ism_csr_req_advice(&req, advice, sizeof advice) && !advice[0])
            fuzz_die("advice without text");
    } else if (bad == ISM_CF_NONE || !err.msg[0]) {
        fuzz_die("a request refused without naming the field or saying why");
    }
    ism_csr_req_advice(&req, advice, sizeof advice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        fuzz_die("out of memory");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] < 0x80)
        one_field((ism_cert_field)(ISM_CF_COUNTRY + data[0] % (ISM_CF_COUNT - ISM_CF_COUNTRY)), text);
    else
        whole_request(text);
    free(text);
    return 0;
}
