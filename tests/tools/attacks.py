#!/usr/bin/env python3
"""attacks.py: the attacks of tests/e2e/security.sh, each a subcommand that
runs one attack against the real service over loopback and prints what a
person checking it would look at (one result line, "key=value ..."). The
shell suite decides pass or fail from those numbers.

  deliver PORT RCPT COUNT SIZE        put COUNT messages of SIZE bytes in RCPT's mailbox (SMTP, port 25)
  list-dos PORT USER PASS STARS       LIST with a pattern of STARS '*' and a 'q', then a marker NOOP
  fetch-flood PID PORT USER PASS SESSIONS PIPELINED
                                      SESSIONS IMAP clients pipeline FETCH 1:* BODY.PEEK[] and never read
  retr-flood PID PORT USER PASS SESSIONS PIPELINED
                                      the same with POP3 RETR 1
  idle-flood PID SRC N PORTS...       N idle connections from SRC spread over PORTS, then greetings from 127.0.0.1
  guess PORT SRC USER PASS            one POP3 USER/PASS attempt from SRC: the reply and its delay
  noop-latency PORT USER PASS SECS GUESSPORT GUESSERS
                                      NOOP round trips on one IMAP session while GUESSERS clients guess passwords
Only loopback addresses are used; every loop is bounded in count and time.
"""
import os
import resource
import smtplib
import socket
import statistics
import sys
import threading
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_until(s, marker, deadline):
    """Reads until marker is seen or the deadline passes; returns the bytes."""
    data = b""
    while marker not in data and time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def imap_login(port, user, password, src="127.0.0.1"):
    s = connect(port, src)
    read_until(s, b"\r\n", time.time() + 10)
    s.sendall(b'l LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
    r = read_until(s, b"l ", time.time() + 15)
    r += read_until(s, b"\r\n", time.time() + 5) if b"\r\n" not in r.split(b"l ", 1)[-1] else b""
    if b"l OK" not in r:
        raise SystemExit(f"login failed: {r!r}")
    return s


def cmd_deliver(port, rcpt, count, size):
    body = ("x" * 76 + "\r\n") * (int(size) // 78 + 1)
    with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as c:
        for i in range(int(count)):
            msg = f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: load {i}\r\n\r\n{body}"
            c.sendmail("sender@example.org", [rcpt], msg)
    print(f"delivered={count}")


def cmd_list_dos(port, user, password, stars):
    s = imap_login(int(port), user, password)
    t0 = time.time()
    s.sendall(b'a LIST "" "' + b"*" * int(stars) + b'q"\r\nb NOOP\r\n')
    r = read_until(s, b"b OK", time.time() + 5)
    print(f"answered={int(b'b OK' in r)} seconds={time.time() - t0:.3f}")


def flood(pid, port, user, password, sessions, pipelined, login, command):
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    base = rss_kb(pid)
    socks = []
    for _ in range(int(sessions)):
        s = login(int(port), user, password)
        # A tiny receive window: the client "never reads".
        s.sendall(command * int(pipelined))
        socks.append(s)
    # Let the service do all it will do: RSS is sampled until it stops growing.
    peak, last, stable_since = base, -1, time.time()
    deadline = time.time() + 20
    while time.time() < deadline:
        now = rss_kb(pid)
        peak = max(peak, now)
        if now != last:
            last, stable_since = now, time.time()
        elif time.time() - stable_since > 2:
            break
        time.sleep(0.1)
    try:
        probe = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        alive = int(bool(probe.recv(100)))
        probe.close()
    except OSError:
        alive = 0
    for s in socks:
        s.close()
    print(f"rss_before_kb={base} rss_peak_kb={peak} growth_kb={peak - base} per_session_kb={(peak - base) // max(1, int(sessions))} serving={alive}")


def imap_select(port, user, password):
    s = imap_login(port, user, password)
    s.sendall(b"s SELECT INBOX\r\n")
    read_until(s, b"s OK", time.time() + 10)
    return s


def pop_login(port, user, password, src="127.0.0.1"):
    s = connect(port, src)
    read_until(s, b"\r\n", time.time() + 10)
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(), password.encode()))
    r = read_until(s, b"Logged in", time.time() + 15)
    if b"Logged in" not in r:
        raise SystemExit(f"login failed: {r!r}")
    read_until(s, b"\r\n", time.time() + 1)
    return s


def cmd_fetch_flood(pid, port, user, password, sessions, pipelined):
    flood(int(pid), port, user, password, sessions, pipelined, imap_select, b"f FETCH 1:* BODY.PEEK[]\r\n")


def cmd_retr_flood(pid, port, user, password, sessions, pipelined):
    flood(int(pid), port, user, password, sessions, pipelined, pop_login, b"RETR 1\r\n")


def greeting(port, timeout=5):
    try:
        s = connect(int(port), timeout=timeout)
        if port_is_http(port):
            s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
        r = s.recv(200)
        s.close()
        return r
    except OSError as e:
        return str(e).encode()


HTTP_PORTS = set()


def port_is_http(port):
    return int(port) in HTTP_PORTS


def cmd_idle_flood(pid, src, n, *ports):
    """Opens n idle connections from src (as many as the service takes),
    then checks every port greets a client from 127.0.0.1 and that the
    service's CPU stays idle while the idle connections are held."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(n) + 512, int(n) + 512))
    pid = int(pid)
    held, refused = [], 0
    plist = [p.split(":") for p in ports]  # NAME:PORT
    for name, port in plist:
        if name == "http":
            HTTP_PORTS.add(int(port))
    for i in range(int(n)):
        name, port = plist[i % len(plist)]
        try:
            s = connect(int(port), src, timeout=5)
            s.setblocking(False)
            held.append(s)
        except OSError:
            refused += 1
    # Count those the service closed (the per-address cap), polling until
    # all but the ones it keeps are seen closed.
    deadline = time.time() + 10
    closed = 0
    while time.time() < deadline:
        closed = 0
        for s in held:
            try:
                d = s.recv(4096, socket.MSG_PEEK)
                if d == b"" or b"Too many connections" in d or b"503" in d:
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        if closed >= len(held) - 60:
            break
        time.sleep(0.2)
    busy_reply = 0
    for s in held:
        try:
            if b"Too many connections" in s.recv(4096, socket.MSG_PEEK):
                busy_reply += 1
        except OSError:
            pass
    t0, c0 = time.time(), cpu_ticks(pid)
    time.sleep(2)
    cpu = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)
    served = []
    for name, port in plist:
        g = greeting(port)
        ok = g.startswith(b"220") or g.startswith(b"+OK") or g.startswith(b"* OK") or g.startswith(b"HTTP/1")
        served.append(f"{name}={int(ok)}")
    for s in held:
        s.close()
    print(f"opened={len(held)} refused_connect={refused} closed_by_service={closed} told_too_many={busy_reply} "
          f"cpu_share={cpu:.3f} " + " ".join(served))


def cmd_guess(port, src, user, password):
    s = connect(int(port), src)
    read_until(s, b"\r\n", time.time() + 10)
    t0 = time.time()
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(), password.encode()))
    r = read_until(s, b"\r\n", time.time() + 10)
    r += read_until(s, b"\r\n", time.time() + 15) if r.count(b"\r\n") < 2 else b""
    s.close()
    last = r.strip().split(b"\r\n")[-1].decode(errors="replace")
    print(f"seconds={time.time() - t0:.3f} reply={last}")


def cmd_noop_latency(port, user, password, secs, guess_port, guessers):
    stop = time.time() + float(secs)
    guessing = threading.Semaphore(0)  # released once per guesser, at its first guess
    def guesser(i):
        n = 0
        while time.time() < stop and n < 200:
            try:
                s = connect(int(guess_port), f"127.0.1.{i + 1}")
                read_until(s, b"\r\n", time.time() + 5)
                s.sendall(b"USER nobody@example.test\r\nPASS wrong-%d\r\n" % n)
                if n == 0:
                    guessing.release()
                read_until(s, b"-ERR [AUTH]", time.time() + 10)
                s.close()
            except OSError:
                pass
            n += 1
    threads = [threading.Thread(target=guesser, args=(i,)) for i in range(int(guessers))]
    s = imap_login(int(port), user, password)
    for t in threads:
        t.start()
    lat = []
    k = 0
    for _ in threads:  # every guesser is connected and has its first password being checked
        guessing.acquire(timeout=10)
    while time.time() < stop and k < 2000:
        t0 = time.time()
        s.sendall(b"n%d NOOP\r\n" % k)
        read_until(s, b"n%d OK" % k, time.time() + 5)
        lat.append((time.time() - t0) * 1000)
        k += 1
        time.sleep(0.005)
    for t in threads:
        t.join()
    print(f"noops={len(lat)} median_ms={statistics.median(lat):.2f} p90_ms={sorted(lat)[int(len(lat) * 0.9)]:.2f}")


if __name__ == "__main__":
    cmds = {"deliver": cmd_deliver, "list-dos": cmd_list_dos, "fetch-flood": cmd_fetch_flood,
            "retr-flood": cmd_retr_flood, "idle-flood": cmd_idle_flood, "guess": cmd_guess,
            "noop-latency": cmd_noop_latency}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
