#!/usr/bin/env python3
"""An independent SMTP receiver for tests/e2e/outgoing.sh (aiosmtpd, Debian's
python3-aiosmtpd), on 127.0.0.1 only.

  smtp_receiver.py --port P --log FILE [--cert CRT --key KEY]
  smtp_receiver.py --port P --log FILE --tarpit
  smtp_receiver.py --port P --log FILE --hello

With --cert/--key it offers STARTTLS with that certificate; without, it offers
no STARTTLS. Every event is one JSON line in FILE:
  {"event": "connect"}                       a client connected (tarpit)
  {"event": "ehlo", "name": ...}
  {"event": "starttls"}                      the client sent STARTTLS
  {"event": "sni", "name": ... or null}      the server name the TLS client sent
  {"event": "message", "from": ..., "to": [...], "tls": bool, "version": ...,
   "cipher": ..., "sni": ..., "data": ...}   a message accepted (250 to the dot)
Recipients whose local part starts with "reject" get 550, with "later" 451.
--tarpit accepts connections and never answers (a server that hangs).
--hello offers STARTTLS, reads the client's TLS ClientHello, logs what it
offers and closes the connection (the handshake fails):
  {"event": "hello", "groups": [...], "key_shares": [...], "bytes": N}
groups: the supported_groups extension in order; key_shares: the groups the
client sent a key share for (IANA names; others as hex)."""
import argparse
import json
import socket
import ssl
import struct
import sys
import threading
import time

LOCK = threading.Lock()
ARGS = None


def log(ev):
    with LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(ev) + "\n")


def tarpit():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", ARGS.port))
    s.listen(16)
    held = []
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        held.append(c)  # never answered, never closed
        log({"event": "connect"})


GROUP_NAMES = {0x0017: "P-256", 0x0018: "P-384", 0x0019: "P-521", 0x001d: "X25519", 0x001e: "X448",
               0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144",
               0x0104: "ffdhe8192", 0x11eb: "SecP256r1MLKEM768", 0x11ec: "X25519MLKEM768",
               0x11ed: "SecP384r1MLKEM1024"}


def group_name(g):
    return GROUP_NAMES.get(g, "0x%04x" % g)


def client_hello(data):
    """The supported groups and key share groups of a ClientHello handshake message."""
    p = 4 + 2 + 32                                   # header, client_version, random
    p += 1 + data[p]                                 # session id
    p += 2 + struct.unpack(">H", data[p:p + 2])[0]   # cipher suites
    p += 1 + data[p]                                 # compression methods
    end = p + 2 + struct.unpack(">H", data[p:p + 2])[0]
    p += 2
    groups, shares = [], []
    while p + 4 <= end:
        t, n = struct.unpack(">HH", data[p:p + 4])
        ext = data[p + 4:p + 4 + n]
        p += 4 + n
        if t == 10:     # supported_groups
            groups = [group_name(struct.unpack(">H", ext[i:i + 2])[0]) for i in range(2, len(ext), 2)]
        elif t == 51:   # key_share
            q = 2
            while q + 4 <= len(ext):
                g, kl = struct.unpack(">HH", ext[q:q + 4])
                shares.append(group_name(g))
                q += 4 + kl
    return groups, shares


def hello_conn(c):
    f = c.makefile("rb")

    def read(n):
        b = b""
        while len(b) < n:
            x = f.read(n - len(b))
            if not x:
                raise EOFError
            b += x
        return b
    try:
        c.sendall(b"220 127.0.0.1 ESMTP hello\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                c.sendall(b"250-127.0.0.1\r\n250 STARTTLS\r\n")
            elif cmd == b"STARTTLS":
                log({"event": "starttls"})
                c.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                break
            else:
                c.sendall(b"502 5.5.1 not here\r\n")
        msg = b""
        while len(msg) < 4 or len(msg) < 4 + int.from_bytes(msg[1:4], "big"):
            hdr = read(5)                            # TLS records until the whole handshake message is in
            msg += read(struct.unpack(">H", hdr[3:5])[0])
        groups, shares = client_hello(msg)
        log({"event": "hello", "groups": groups, "key_shares": shares, "bytes": len(msg)})
    except (EOFError, OSError, IndexError, struct.error):
        pass
    finally:
        c.close()


def hello():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", ARGS.port))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=hello_conn, args=(c,), daemon=True).start()


def main():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    sni_by_conn = {}

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            log({"event": "ehlo", "name": hostname})
            session.host_name = hostname
            return responses

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            local = address.split("@")[0].lower()
            if local.startswith("reject"):
                return "550 5.1.1 <%s>: no such user here" % address
            if local.startswith("later"):
                return "451 4.3.0 try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            tls = session.ssl is not None
            obj = session.ssl.get("ssl_object") if tls else None
            data = envelope.original_content or envelope.content
            if isinstance(data, bytes):
                data = data.decode("utf-8", "replace")
            log({"event": "message", "from": envelope.mail_from, "to": list(envelope.rcpt_tos), "tls": tls,
                 "version": obj.version() if obj else None, "cipher": obj.cipher()[0] if obj else None,
                 "sni": sni_by_conn.get(id(obj)) if obj else None, "data": data})
            return "250 2.0.0 OK queued"

    class LoggingSMTP(SMTP):
        async def smtp_STARTTLS(self, arg):
            log({"event": "starttls"})
            return await super().smtp_STARTTLS(arg)

    class LoggingController(Controller):
        def factory(self):
            return LoggingSMTP(self.handler, **self.SMTP_kwargs)

    kwargs = {}
    if ARGS.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)

        def sni(obj, name, _ctx):
            sni_by_conn[id(obj)] = name
            log({"event": "sni", "name": name})

        ctx.sni_callback = sni
        kwargs["tls_context"] = ctx
    ctl = LoggingController(Handler(), hostname="127.0.0.1", port=ARGS.port, **kwargs)
    ctl.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tarpit", action="store_true")
    ap.add_argument("--hello", action="store_true")
    ARGS = ap.parse_args()
    open(ARGS.log, "a").close()
    sys.exit(tarpit() if ARGS.tarpit else hello() if ARGS.hello else main())
