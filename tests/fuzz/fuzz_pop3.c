/* fuzz_pop3: libFuzzer target for the POP3 session (service/pop3.c): USER/PASS, AUTH PLAIN, STLS, STAT, LIST,
 * RETR, TOP, UIDL, DELE and QUIT against the mail store.
 * Input: fuzz_proto.h's format (a surroundings byte, then client lines). */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_proto_run(&ism_proto_pop3, data, size);
}
