#!/usr/bin/env python3
"""starttls.py: the plaintext side of STARTTLS (SMTP), STLS (POP3) and
STARTTLS (IMAP) against the service over 127.0.0.1.

  starttls.py inject PORT PROTO [SMUGGLED]  sends the upgrade command and SMUGGLED
                                     (a command, default per PROTO) in one segment,
                                     upgrades, then sends a marker command whose
                                     reply no smuggled command can give (SMTP HELP,
                                     POP3 NOOP before login, IMAP "m NOOP"): when the
                                     first reply inside TLS is the marker's, nothing
                                     was answered for SMUGGLED. Prints the upgrade
                                     reply, "nothing smuggled" or "SMUGGLED: ...",
                                     and the reply to a command sent after; exits 0
                                     when the upgrade was accepted, nothing was
                                     smuggled and the session answers inside TLS
  starttls.py plain-login PORT PROTO USER PASSWORD
                                     tries the credentials before TLS; exits 0 when
                                     they are refused (SMTP: 538 and no AUTH in EHLO;
                                     POP3: -ERR to PASS; IMAP: LOGINDISABLED and NO)
  starttls.py pop3-stls PORT         exits 0 when POP3 CAPA lists STLS
PROTO: smtp | pop3 | imap.
"""
import base64, socket, ssl, sys

# PROTO -> (upgrade command, default smuggled command, command sent after, its
# reply's start, upgrade reply's start, marker command, the marker reply's start)
PROTOS = {
    "smtp": (b"STARTTLS", b"EHLO smuggled", b"NOOP", b"250", b"220", b"HELP", b"214"),
    "pop3": (b"STLS", b"CAPA", b"CAPA", b"+OK", b"+OK", b"NOOP", b"-ERR Log in first"),
    "imap": (b"a STARTTLS", b"b CAPABILITY", b"c NOOP", b"c OK", b"a OK", b"m NOOP", b"m OK"),
}


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def cmd_inject(port, proto, smuggled=None):
    upgrade, default, after, good, accepted, marker, marked = PROTOS[proto]
    smuggled = smuggled.encode() if smuggled else default
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    f = s.makefile("rb")
    f.readline()
    if proto == "smtp":
        s.sendall(b"EHLO x\r\n")
        while f.readline()[3:4] == b"-":
            pass
    s.sendall(upgrade + b"\r\n" + smuggled + b"\r\n")
    r = f.readline()
    print(r.decode(errors="replace").strip())
    ok = r.startswith(accepted)
    t = ctx().wrap_socket(s)
    tf = t.makefile("rb")
    # The marker's reply comes first unless the smuggled command was answered.
    t.sendall(marker + b"\r\n")
    first = tf.readline()
    if first.startswith(marked):
        smuggled_reply = False
        print("nothing smuggled")
    else:
        smuggled_reply = True
        print("SMUGGLED:" + first.decode(errors="replace").strip())
    # The rest of the marker's reply (SMTP HELP may run over lines), then a last command.
    while proto == "smtp" and first[3:4] == b"-":
        first = tf.readline()
    t.sendall(after + b"\r\n")
    last = tf.readline()
    while proto != "smtp" and not smuggled_reply and last.startswith(b"* "):
        last = tf.readline()
    print(last.decode(errors="replace").strip())
    sys.exit(0 if ok and not smuggled_reply and last.startswith(good) else 1)


def cmd_plain_login(port, proto, user, password):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    f = s.makefile("rb")
    f.readline()
    if proto == "smtp":
        s.sendall(b"EHLO x\r\n")
        caps = []
        while True:
            l = f.readline()
            caps.append(l)
            if l[3:4] != b"-":
                break
        s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()) + b"\r\n")
        r = f.readline()
        sys.exit(0 if r.startswith(b"538") and not any(b"AUTH" in c for c in caps) else 1)
    elif proto == "pop3":
        s.sendall(b"USER " + user.encode() + b"\r\n")
        f.readline()
        s.sendall(b"PASS " + password.encode() + b"\r\n")
        r2 = f.readline()
        sys.exit(0 if r2.startswith(b"-ERR") else 1)
    else:
        s.sendall(b"a CAPABILITY\r\n")
        cap = f.readline()
        f.readline()
        s.sendall(b"b LOGIN " + user.encode() + b" " + password.encode() + b"\r\n")
        r = f.readline()
        sys.exit(0 if b"LOGINDISABLED" in cap and r.startswith(b"b NO") else 1)


def cmd_pop3_stls(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"CAPA\r\n")
    lines = []
    while True:
        l = f.readline()
        if not l or l.strip() == b".":
            break
        lines.append(l)
    sys.exit(0 if any(l.strip() == b"STLS" for l in lines) else 1)


COMMANDS = {"inject": cmd_inject, "plain-login": cmd_plain_login, "pop3-stls": cmd_pop3_stls}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
