#!/usr/bin/env python3
"""recvlog.py: reads the JSON-lines log of tests/tools/smtp_receiver.py.

  recvlog.py field LOG SUBJECT FIELD   a field of the first message with that
                                       subject (JSON unless a string); nothing
                                       when there is none
  recvlog.py count LOG SUBJECT         messages with that subject
  recvlog.py events LOG EVENT          events of that kind (connect, starttls, ...)
  recvlog.py hello LOG FIELD           a list field of the first ClientHello seen,
                                       space separated
  recvlog.py dups LOG                  the subjects received more than once
"""
import collections, json, sys


def entries(path):
    return [json.loads(l) for l in open(path)]


def messages(path, subject):
    return [e for e in entries(path) if e["event"] == "message" and ("Subject: %s\r\n" % subject) in e["data"]]


def cmd_field(path, subject, field):
    for e in messages(path, subject):
        v = e.get(field)
        print(json.dumps(v) if not isinstance(v, str) else v)
        break


def cmd_count(path, subject):
    print(len(messages(path, subject)))


def cmd_events(path, event):
    print(sum(1 for e in entries(path) if e["event"] == event))


def cmd_hello(path, field):
    for e in entries(path):
        if e["event"] == "hello":
            print(" ".join(e[field]))
            break


def cmd_dups(path):
    c = collections.Counter(e["data"].split("Subject: ")[1].split("\r\n")[0]
                            for e in entries(path) if e["event"] == "message")
    print(" ".join(k for k, v in c.items() if v > 1))


COMMANDS = {"field": cmd_field, "count": cmd_count, "events": cmd_events, "hello": cmd_hello, "dups": cmd_dups}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
