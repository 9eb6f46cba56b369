#!/usr/bin/env python3
"""maildb.py: what the service stored in a data folder's mail.db.

  maildb.py count DB ADDRESS [TOKEN]   messages stored for ADDRESS (containing TOKEN)
  maildb.py message DB ADDRESS TOKEN   prints the first stored message of ADDRESS
                                       containing TOKEN; exits 1 when there is none
  maildb.py password DB ADDRESS        prints the account's stored password field
"""
import sqlite3, sys

MESSAGES = ("SELECT m.data FROM messages m JOIN accounts a ON a.id = m.account"
            " WHERE a.address = ? ORDER BY m.uid")


def text(data):
    return bytes(data).decode("utf-8", "replace") if not isinstance(data, str) else data


def cmd_count(db, address, token=""):
    rows = sqlite3.connect(db).execute(MESSAGES, (address,)).fetchall()
    print(sum(1 for (d,) in rows if token in text(d)))


def cmd_message(db, address, token):
    for (d,) in sqlite3.connect(db).execute(MESSAGES, (address,)):
        if token in text(d):
            sys.stdout.write(text(d))
            sys.exit(0)
    sys.exit(1)


def cmd_password(db, address):
    row = sqlite3.connect(db).execute("SELECT password FROM accounts WHERE address = ?", (address,)).fetchone()
    if not row:
        sys.exit("no account " + address)
    print(row[0])


COMMANDS = {"count": cmd_count, "message": cmd_message, "password": cmd_password}

if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
