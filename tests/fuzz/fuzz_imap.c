/* fuzz_imap: libFuzzer target for the IMAP session (service/imap.c): LOGIN, AUTHENTICATE, STARTTLS, literals,
 * LIST, SELECT, FETCH, STORE, SEARCH and EXPUNGE against the mail store.
 * Input: fuzz_proto.h's format (a surroundings byte, then client lines). */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_proto_run(&ism_proto_imap, data, size);
}
