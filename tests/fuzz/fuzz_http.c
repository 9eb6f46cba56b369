/* fuzz_http: libFuzzer target for the HTTP session (service/http.c): request lines and headers, the status page,
 * files under /.well-known/, redirects to HTTPS.
 * Input: fuzz_proto.h's format (a surroundings byte, then client lines). */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_proto_run(&ism_proto_http, data, size);
}
