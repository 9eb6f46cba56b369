/* pop3: POP3 server session (proto.h). Being written. */
