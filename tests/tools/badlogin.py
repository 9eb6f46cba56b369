#!/usr/bin/env python3
"""badlogin.py: a failed login whose user name holds control characters
(ESC, a colour sequence, tab, DEL; CR LF for SMTP), over 127.0.0.1; prints
the service's reply to it.

  badlogin.py pop3 PORT    USER with ESC, tab and DEL, then a wrong PASS
  badlogin.py smtp PORT    AUTH PLAIN with ESC and CR LF in the user name
"""
import base64, socket, sys

if len(sys.argv) != 3 or sys.argv[1] not in ("pop3", "smtp"):
    sys.exit(__doc__)
proto, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")


def reply():
    l = f.readline()
    while proto == "smtp" and l[3:4] == b"-":
        l = f.readline()
    return l


reply()
if proto == "pop3":
    s.sendall(b"USER pop\x1b[31mred\tx\x7fy\r\n")
    reply()
    s.sendall(b"PASS wrong\r\n")
    print(reply().decode(errors="replace").strip())
else:
    s.sendall(b"EHLO client.test\r\n")
    reply()
    cred = base64.b64encode(b"\0smtp\x1b[31mred\r\nfake: line\0wrong")
    s.sendall(b"AUTH PLAIN " + cred + b"\r\n")
    print(reply().decode(errors="replace").strip())
s.sendall(b"QUIT\r\n")
