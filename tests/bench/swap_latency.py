#!/usr/bin/env python3
"""swap_latency: time from the store commit that announces a new certificate
to the first TLS handshake that presents it (issue: live apply, make bench).

  swap_latency.py BUILD_DIR SWAPS signal|poll

Starts the service on free loopback ports with its own data folder. Each
round writes a new key and certificate into ssl.key/ssl.crt the way a
renewal tool does (write aside, rename), then commits `ismailctl reload`
and handshakes on the SMTPS port in a tight loop until the new certificate
is served. "poll" removes the wake-up port the service records in the
store, so only its PRAGMA data_version polling notices the commit.
Prints p50, p99 and max in milliseconds.
"""
import hashlib, os, socket, sqlite3, ssl, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def fp_served(port):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with c.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()

def fp_file(path):
    der = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()

def main():
    build, swaps, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ctl_bin = os.path.join(build, "ctl", "ismailctl")
    svc_bin = os.path.join(build, "service", "ismail-service")
    d = tempfile.mkdtemp(prefix="ismail-swap-")
    host = "mail.ismail.test"
    ports = {k: free_port() for k in ("smtp", "submission", "smtps", "pop", "pops", "imap", "imaps", "http", "https")}
    args = [ctl_bin, "--data", d, "set", "listen.address", "127.0.0.1", "server.hostname", host, "smtp.tls.incoming", "on"]
    for k, p in ports.items():
        args += [k + ".port", str(p)]
    subprocess.run(args, check=True, capture_output=True)
    svc = subprocess.Popen([svc_bin, "--data", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                fp_served(ports["smtps"]); break
            except OSError:
                if time.monotonic() > deadline: raise
                time.sleep(0.05)
        if mode == "poll":
            db = sqlite3.connect(os.path.join(d, "ismail.db"))
            db.execute("DELETE FROM service_state WHERE key='notify_port'"); db.commit(); db.close()
        crt, key = os.path.join(d, "ssl.crt", host + ".crt"), os.path.join(d, "ssl.key", host + ".key")
        lat = []
        for i in range(swaps):
            nk, nc = os.path.join(d, "new.key"), os.path.join(d, "new.crt")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-subj", "/CN=" + host, "-keyout", nk, "-out", nc, "-days", "30"], check=True, capture_output=True)
            os.chmod(nk, 0o600)
            want = fp_file(nc)
            os.replace(nk, key); os.replace(nc, crt)
            # Counted from before ismailctl starts: its own start-up (a few ms)
            # is included, so the figure errs on the slow side.
            t0 = time.monotonic()
            subprocess.run([ctl_bin, "--data", d, "reload"], check=True, capture_output=True)
            while fp_served(ports["smtps"]) != want:
                if time.monotonic() - t0 > 10:
                    raise RuntimeError("new certificate not served within 10 s")
            lat.append((time.monotonic() - t0) * 1000)
        lat.sort()
        q = lambda f: lat[min(len(lat) - 1, int(len(lat) * f))]
        print("%s: swaps %d p50 %.1f ms p99 %.1f ms max %.1f ms" % (
            "wake-up signal" if mode == "signal" else "polling alone", swaps, q(0.5), q(0.99), lat[-1]))
    finally:
        svc.terminate(); svc.wait()
        subprocess.run(["rm", "-rf", d])

if __name__ == "__main__":
    main()
