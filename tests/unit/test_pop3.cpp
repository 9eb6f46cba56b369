// POP3 state machine (being written).
