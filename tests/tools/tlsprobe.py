#!/usr/bin/env python3
"""tlsprobe: what certificate does an ISMail listener present?

  tlsprobe.py fp PORT MODE [SNI]        SHA-256 fingerprint of the leaf (AA:BB:..)
  tlsprobe.py load SECONDS PORT:MODE... full handshakes in a loop, one thread per
                                        port; prints "ok N fail M" and one line per
                                        distinct fingerprint seen ("fp FP COUNT");
                                        "started" (flushed) once the first
                                        handshake has completed
  tlsprobe.py hold PORT MODE            opens a session, prints "ready", then on each
                                        line from stdin sends NOOP and prints the reply
MODE: implicit | smtp | pop3 | imap (STARTTLS / STLS first).
"""
import hashlib, socket, ssl, sys, threading, time

def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c

def readline(f):
    l = f.readline()
    if not l:
        raise EOFError("connection closed")
    return l

def starttls(sock, mode):
    f = sock.makefile("rb")
    if mode == "smtp":
        readline(f)
        sock.sendall(b"EHLO probe.test\r\n")
        while readline(f)[3:4] == b"-":
            pass
        sock.sendall(b"STARTTLS\r\n")
        if not readline(f).startswith(b"220"):
            raise RuntimeError("STARTTLS refused")
    elif mode == "pop3":
        readline(f)
        sock.sendall(b"STLS\r\n")
        if not readline(f).startswith(b"+OK"):
            raise RuntimeError("STLS refused")
    elif mode == "imap":
        readline(f)
        sock.sendall(b"a STARTTLS\r\n")
        if not readline(f).startswith(b"a OK"):
            raise RuntimeError("STARTTLS refused")

def connect(port, mode, sni=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if mode != "implicit":
        starttls(s, mode)
    t = ctx().wrap_socket(s, server_hostname=sni)
    return t

def fp_of(t):
    d = hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest().upper()
    return ":".join(d[i:i + 2] for i in range(0, len(d), 2))

def cmd_fp(port, mode, sni=None):
    t = connect(int(port), mode, sni)
    print(fp_of(t))
    t.close()

def cmd_load(seconds, targets):
    end = time.time() + float(seconds)
    lock = threading.Lock()
    counts = {"ok": 0, "fail": 0}
    fps = {}
    errors = []
    def run(port, mode):
        while time.time() < end:
            try:
                t = connect(port, mode)
                fp = fp_of(t)
                t.close()
                with lock:
                    counts["ok"] += 1
                    fps[fp] = fps.get(fp, 0) + 1
                    if counts["ok"] == 1:
                        print("started", flush=True)
            except Exception as e:
                with lock:
                    counts["fail"] += 1
                    if len(errors) < 5:
                        errors.append("%d/%s: %r" % (port, mode, e))
    th = []
    for t in targets:
        port, mode = t.split(":")
        th.append(threading.Thread(target=run, args=(int(port), mode)))
    for x in th:
        x.start()
    for x in th:
        x.join()
    print("ok %d fail %d" % (counts["ok"], counts["fail"]))
    for fp, n in fps.items():
        print("fp %s %d" % (fp, n))
    for e in errors:
        print("error " + e)

def cmd_hold(port, mode):
    t = connect(int(port), mode)
    f = t.makefile("rb")
    if mode == "implicit":
        readline(f)
    elif mode == "smtp":
        t.sendall(b"EHLO probe.test\r\n")
        while readline(f)[3:4] == b"-":
            pass
    print("ready", flush=True)
    noop = {"smtp": b"NOOP\r\n", "implicit": b"NOOP\r\n", "pop3": b"NOOP\r\n", "imap": b"n NOOP\r\n"}[mode]
    for _ in sys.stdin:
        try:
            t.sendall(noop)
            print(readline(f).decode().strip(), flush=True)
        except Exception as e:
            print("error %r" % e, flush=True)

if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "fp" and len(a) in (3, 4):
        cmd_fp(*a[1:])
    elif a and a[0] == "load" and len(a) >= 3:
        cmd_load(a[1], a[2:])
    elif a and a[0] == "hold" and len(a) == 3:
        cmd_hold(a[1], a[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
