// IMAP state machine (being written).
