/* fuzz_settings: libFuzzer target for the settings value parser,
 * ism_setting_normalize (shared/ism_settings.h), which every value typed in
 * the manager, given to `ismailctl set` or read back from the store goes
 * through. Checks, besides the sanitizers, that a value it accepts is
 * accepted again unchanged (the canonical spelling is stable) and that a
 * refusal has a message.
 * Input: the first byte picks the setting (byte % the number of settings),
 * the rest is the value (up to its first NUL). */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include "fuzz_common.h"
#include "ism_settings.h"

#include <stdlib.h>
#include <string.h>

#define OUT_SIZE 1024 /* as the store's callers */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ism_setting_id id = (ism_setting_id)(data[0] % ISM_SETTING_COUNT);
    char *value = malloc(size), *out = malloc(OUT_SIZE), *again = malloc(OUT_SIZE);
    if (!value || !out || !again)
        fuzz_die("out of memory");
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    ism_err err;
    memset(&err, 0, sizeof err);
    const char *key = ism_setting_defs[id].key;
    if (ism_setting_normalize(id, value, out, OUT_SIZE, &err) == 0) {
        if (strnlen(out, OUT_SIZE) >= OUT_SIZE)
            fuzz_die("%s: the canonical value is not terminated", key);
        if (ism_setting_normalize(id, out, again, OUT_SIZE, &err) != 0)
            fuzz_die("%s: '%s' (from '%s') is refused when normalised again: %s", key, out, value, err.msg);
        if (strcmp(out, again) != 0)
            fuzz_die("%s: '%s' normalises to '%s'", key, out, again);
        if (ism_setting_find(key) != (int)id)
            fuzz_die("%s: ism_setting_find does not find it", key);
    } else if (!err.msg[0]) {
        fuzz_die("%s: '%s' refused without a message", key, value);
    }
    /* a small output buffer is never overrun (ASan watches the heap block) */
    char *small = malloc(4);
    if (!small)
        fuzz_die("out of memory");
    ism_setting_normalize(id, value, small, 4, NULL);
    free(small);
    free(value);
    free(out);
    free(again);
    return 0;
}
