#!/usr/bin/env python3
"""smtp.py: SMTP conversations with the service over 127.0.0.1, for the shell
suites. Each subcommand prints what the suite checks.

  smtp.py ehlo PORT                  the EHLO reply lines (plaintext), then QUIT
  smtp.py dialog PORT LINE...        sends each line (CRLF added) after reading the
                                     previous reply; prints every reply line;
                                     "STARTTLS" upgrades the connection
  smtp.py sized PORT BYTES TAG RCPT  a message of about BYTES for RCPT; prints the
                                     reply to the dot
  smtp.py smuggle PORT TAG END       a message for alice@example.test whose text holds
                                     END (a "." between line ends, backslash escapes)
                                     then a whole second transaction for
                                     bob@example.test, the real end and a NOOP; prints
                                     the replies after the 354 up to the NOOP's
  smtp.py bare PORT BYTES            EHLO, then BYTES (backslash escapes); prints the
                                     reply and "closed" or "open"
  smtp.py hold PORT PID N BYTES      N sessions each send BYTES of DATA without the
                                     final dot; once the service (PID) has spooled
                                     them, prints "RSS_KB SPOOLED_BYTES FILES ERRORS"
  smtp.py budget PORT PID            two 1.5 MB messages from one address, the first
                                     held until spooled; prints the replies to the
                                     second's dot, then the first's
  smtp.py probe PORT N               N RCPTs to unknown users of example.test in one
                                     session; prints each reply's seconds, then the total
  smtp.py pipelined PORT RCPT        EHLO/MAIL/RCPT RCPT/RCPT ghost/DATA in one write;
                                     prints the six reply codes
"""
import os, socket, ssl, sys, threading, time


def connect(port, timeout=20):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
    return s, s.makefile("rb")


def reply(f, show=False):
    """One whole reply (continuation lines read); returns its last line."""
    while True:
        l = f.readline().decode(errors="replace")
        if show:
            print(l.rstrip())
        if not l or l[3:4] != "-":
            return l


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def unescape(text):
    return text.encode().decode("unicode_escape").encode()


def cmd_ehlo(port):
    s, f = connect(port, 5)
    f.readline()
    s.sendall(b"EHLO test.invalid\r\n")
    while True:
        l = f.readline().decode()
        print(l.rstrip())
        if not l or l[3:4] != "-":
            break
    s.sendall(b"QUIT\r\n")


def cmd_dialog(port, *lines):
    s, f = connect(port)
    reply(f, True)
    for l in lines:
        s.sendall(l.encode() + b"\r\n")
        r = reply(f, True)
        if l == "STARTTLS" and r.startswith("220"):
            s = tls_ctx().wrap_socket(s)
            f = s.makefile("rb")


def cmd_sized(port, size, tag, rcpt):
    size, tag = int(size), tag.encode()
    s, f = connect(port, 30)
    reply(f)
    for c in (b"EHLO s.test", b"MAIL FROM:<s@remote.test>", b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"):
        s.sendall(c + b"\r\n")
        reply(f)
    s.sendall(b"Subject: " + tag + b"\r\n\r\n" + (b"z" * 998 + b"\r\n") * (size // 1000) + b".\r\n")
    print(reply(f).rstrip())


def cmd_smuggle(port, tag, end):
    end = unescape(end)
    s, f = connect(port)
    reply(f)
    for c in (b"EHLO smuggler.test", b"MAIL FROM:<sender@remote.test>", b"RCPT TO:<alice@example.test>", b"DATA"):
        s.sendall(c + b"\r\n")
        reply(f)
    s.sendall(b"Subject: outer-" + tag.encode() + b"\r\n\r\nfirst message" + end +
              b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
              b"Subject: smuggled-" + tag.encode() + b"\r\n\r\nsecond message\r\n.\r\nNOOP\r\n")
    # Every reply up to the NOOP's: the first one tells whether the message
    # ended at END (250, then replies to the smuggled commands) or at the real
    # end (554).
    while True:
        l = reply(f).rstrip()
        print(l)
        if not l or l == "250 2.0.0 OK":
            break


def cmd_bare(port, data):
    data = unescape(data)
    s, f = connect(port)
    reply(f)
    s.sendall(b"EHLO bare.test\r\n")
    reply(f)
    s.sendall(data)
    print(reply(f).rstrip())
    print("closed" if f.readline() == b"" else "open")


def spool_of(pid):
    """Bytes and number of the spool files the process has open."""
    total = files = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if "/spool/" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                total += os.stat("/proc/%d/fd/%s" % (pid, fd)).st_size
                files += 1
        except OSError:
            pass
    return total, files


def cmd_hold(port, pid, n, size):
    port, pid, n, size = int(port), int(pid), int(n), int(size)
    socks, errors = [], []

    def session(i):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=120)
            f = s.makefile("rb")
            reply(f)
            for c in (b"EHLO hold%d.test" % i, b"MAIL FROM:<h%d@remote.test>" % i, b"RCPT TO:<alice@example.test>", b"DATA"):
                s.sendall(c + b"\r\n")
                r = reply(f)
            if not r.startswith("354"):
                raise RuntimeError("DATA answered " + r)
            chunk = (b"x" * 998 + b"\r\n") * 64
            sent = 0
            while sent < size:
                s.sendall(chunk[: size - sent])
                sent += min(len(chunk), size - sent)
            socks.append((s, f))
        except Exception as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    deadline = time.time() + 60
    while True:  # until the service has read what was sent (spooled data lags the socket)
        total, files = spool_of(pid)
        if total >= n * (size - 70000) or time.time() > deadline:
            break
        time.sleep(0.2)
    rss = [int(l.split()[1]) for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS:")][0]
    print(rss, total, files, len(errors), *errors[:1])
    for s, f in socks:
        s.close()


def cmd_budget(port, pid):
    port, pid = int(port), int(pid)

    def start(tag):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rb")
        reply(f)
        for c in (b"EHLO b.test", b"MAIL FROM:<b@remote.test>", b"RCPT TO:<alice@example.test>", b"DATA"):
            s.sendall(c + b"\r\n")
            reply(f)
        s.sendall(b"Subject: " + tag + b"\r\n\r\n" + (b"y" * 998 + b"\r\n") * 1500)  # 1.5 MB
        return s, f

    a = start(b"e2e-budget-first")
    deadline = time.time() + 30
    while spool_of(pid)[0] < 1400000 and time.time() < deadline:  # the first one is held by the service
        time.sleep(0.1)
    b = start(b"e2e-budget-second")
    b[0].sendall(b".\r\n")
    print(reply(b[1]).rstrip())
    a[0].sendall(b".\r\n")
    print(reply(a[1]).rstrip())


def cmd_probe(port, n):
    n = int(n)
    s, f = connect(port, 60)
    reply(f)
    for c in (b"EHLO prober.test", b"MAIL FROM:<p@remote.test>"):
        s.sendall(c + b"\r\n")
        reply(f)
    t0, times = time.monotonic(), []
    for i in range(n):
        t = time.monotonic()
        s.sendall(b"RCPT TO:<ghost%d@example.test>\r\n" % i)
        if not reply(f).startswith("550 5.1.1"):
            print("unexpected reply")
            sys.exit(1)
        times.append(time.monotonic() - t)
    print(" ".join("%.2f" % x for x in times), "%.2f" % (time.monotonic() - t0))


def cmd_pipelined(port, rcpt):
    s, f = connect(port, 10)
    f.readline()
    s.sendall(("EHLO p\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<%s>\r\nRCPT TO:<ghost@example.test>\r\nDATA\r\n" % rcpt).encode())
    codes = []
    while len(codes) < 5:
        l = f.readline().decode()
        if l[3:4] != "-":
            codes.append(l[:3])
    s.sendall(b"Subject: e2e-pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    codes.append(f.readline().decode()[:3])
    print(" ".join(codes))


COMMANDS = {"ehlo": cmd_ehlo, "dialog": cmd_dialog, "sized": cmd_sized, "smuggle": cmd_smuggle,
            "bare": cmd_bare, "hold": cmd_hold, "budget": cmd_budget, "probe": cmd_probe,
            "pipelined": cmd_pipelined}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
