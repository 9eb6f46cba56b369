// Mail store and accounts (being written).
