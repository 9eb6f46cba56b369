/* imap: IMAP4rev1 server session (proto.h). Being written. */
