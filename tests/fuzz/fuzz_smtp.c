/* fuzz_smtp: libFuzzer target for the SMTP session (service/smtp.c): greeting, EHLO/HELO, AUTH PLAIN and LOGIN,
 * STARTTLS, MAIL/RCPT/DATA into the mail store and the outgoing queue.
 * Input: fuzz_proto.h's format (a surroundings byte, then client lines). */
#include "fuzz_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_proto_run(&ism_proto_smtp, data, size);
}
