// HTTP state machine (being written).
