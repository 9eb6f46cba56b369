#!/usr/bin/env python3
"""An independent SMTP receiver for tests/e2e/outgoing.sh (aiosmtpd, Debian's
python3-aiosmtpd), on 127.0.0.1 only.

  smtp_receiver.py --port P --log FILE [--cert CRT --key KEY]
  smtp_receiver.py --port P --log FILE --tarpit

With --cert/--key it offers STARTTLS with that certificate; without, it offers
no STARTTLS. Every event is one JSON line in FILE:
  {"event": "connect"}                       a client connected (tarpit)
  {"event": "ehlo", "name": ...}
  {"event": "starttls"}                      the client sent STARTTLS
  {"event": "sni", "name": ... or null}      the server name the TLS client sent
  {"event": "message", "from": ..., "to": [...], "tls": bool, "version": ...,
   "cipher": ..., "sni": ..., "data": ...}   a message accepted (250 to the dot)
Recipients whose local part starts with "reject" get 550, with "later" 451.
--tarpit accepts connections and never answers (a server that hangs)."""
import argparse
import json
import socket
import ssl
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
    ARGS = ap.parse_args()
    open(ARGS.log, "a").close()
    sys.exit(tarpit() if ARGS.tarpit else main())
