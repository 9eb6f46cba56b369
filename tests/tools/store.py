#!/usr/bin/env python3
"""store.py: the settings store (ismail.db) read and written behind
ismailctl's back, as another program or a damaged store would.

  store.py dump DB                  a logical dump (SQL), to compare before and after
  store.py lock DB FLAG SECONDS     holds an exclusive transaction for SECONDS;
                                    creates the file FLAG once the lock is held
  store.py set-raw DB KEY VALUE     writes a setting without any check and counts
                                    a new revision
"""
import sqlite3, sys, time


def cmd_dump(db):
    print("\n".join(sqlite3.connect(db).iterdump()))


def cmd_lock(db, flag, seconds):
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("BEGIN EXCLUSIVE")
    open(flag, "w").close()  # the lock is held from now on
    time.sleep(float(seconds))


def cmd_set_raw(db, key, value):
    c = sqlite3.connect(db)
    c.execute("INSERT OR REPLACE INTO settings VALUES(?, ?)", (key, value))
    c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'")
    c.commit()


COMMANDS = {"dump": cmd_dump, "lock": cmd_lock, "set-raw": cmd_set_raw}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
