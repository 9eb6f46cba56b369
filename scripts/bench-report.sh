#!/usr/bin/env bash
# scripts/bench-report.sh: turns the raw results of scripts/bench-tls.sh into
# the Markdown section appended to docs/performance.md (printed on stdout).
#   scripts/bench-report.sh RESULTS BENCHDIR RUN MACHINE VERSIONS LOAD REPS DUR CONNS HOLD SOAK SWAPS SWAP_DUR
# Exit status 0; the targets' verdicts are in the text (a missed target is a
# finding to report, not a failure of the benchmark). Exit 1 only when the
# checks of the benchmark itself fail: the service's handshake count differs
# from the load generator's, or a wrong fingerprint did not fail every session.
exec python3 - "$@" <<'PY'
import os, statistics, sys, time

res, bt, run, machine, versions, load, reps, dur, conns, hold, soak, swaps, swap_dur = sys.argv[1:14]
rows = []
for line in open(res):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    d["_kind"] = line.split()[0]
    if "section" in d:
        d["_kind"] = d["section"]
    rows.append(d)

def num(d, k, default=0.0):
    try:
        return float(d.get(k, default))
    except ValueError:
        return default

def sel(kind, **kw):
    return [r for r in rows if r["_kind"] == kind and all(r.get(k) == v for k, v in kw.items())]

def med(xs):
    return statistics.median(xs) if xs else None

def fmt(x, nd=0):
    if x is None:
        return "n/a"
    return f"{x:,.{nd}f}"

def mmm(xs, nd=0):
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return fmt(xs[0], nd)
    return f"{fmt(med(xs), nd)} ({fmt(min(xs), nd)}–{fmt(max(xs), nd)})"

NAMES = {"ismail": "ISMail", "ismailx": "ISMail (MSI's OpenSSL)", "nginx": "nginx", "dovecot": "Dovecot",
         "postfix": "Postfix", "stunnel": "stunnel"}
PEERS = ["nginx", "dovecot", "postfix", "stunnel"]
# ISMail as the Linux build links it (Debian's OpenSSL, the peers' library) and,
# when it was built, with the OpenSSL the Windows MSI bundles.
OURS = ["ismail"] + (["ismailx"] if any(r.get("server") == "ismailx" for r in rows if r["_kind"] == "rate") else [])
SERVERS = OURS + PEERS
MODES = ["imaps", "pop3s", "smtps", "imap", "pop3", "smtp"]
MODE_NAME = {"imaps": "IMAPS", "pop3s": "POP3S", "smtps": "SMTPS", "imap": "IMAP STARTTLS", "pop3": "POP3 STLS",
             "smtp": "SMTP STARTTLS"}
checks_ok = True
out = []
p = out.append

def rep_ratios(mine, theirs, k="per_core", k2=None, zero_counts=False):
    """Per repetition, value k of `mine` over the largest value k2 (default k)
    of `theirs` in the same repetition; repetitions missing either side are
    left out, as are zeros of `mine` unless zero_counts (a zero per-core figure
    means no CPU was measured, a zero rate means no session completed)."""
    k2 = k2 or k
    out = []
    for rep in sorted({r.get("rep") for r in mine}):
        a = [num(r, k) for r in mine if r.get("rep") == rep and (zero_counts or num(r, k) > 0)]
        b = [num(r, k2) for r in theirs if r.get("rep") == rep and num(r, k2) > 0]
        if a and b:
            out.append(a[0] / max(b))
    return out

def rate_rows(key, s, m):
    return sel("rate", key=key, server=s, mode=m)

def per_core(key, s, m):
    return [num(r, "per_core") for r in rate_rows(key, s, m) if num(r, "per_core") > 0]

p(f"\n## {time.strftime('%Y-%m-%d', time.gmtime())}: TLS handshakes, ISMail beside nginx, Dovecot, Postfix and stunnel ({run} run)\n")
p(f"Machine: {machine}.")
loads = [num(r, "load") for r in rows if r["_kind"] == "speed" and "load" in r]
if loads:
    p(f"Load average (1 min) sampled at each repetition: {fmt(min(loads), 1)}–{fmt(max(loads), 1)}, at the end {load.split()[0]}; "
      "the benchmark itself keeps about 2 busy." + (" **The machine was busy with other work during this run: the figures are noisy; "
      "compare within a row, and prefer a full run on a quiet machine.**" if max(loads) > 3 else ""))
p(f"Versions: {versions}.\n")
p(f"Method: `ismail-loadgen` (tests/bench/loadgen.c) opens {conns} sessions at a time, each a new TCP connection and a full")
p("TLS 1.3 handshake (X25519, no resumption), then one exchange and QUIT/LOGOUT (STARTTLS modes: greeting, EHLO/STARTTLS,")
p("handshake, EHLO, QUIT); every server serves the same certificate on loopback ports, servers on CPU 0 and the load")
p("generator on CPU 1 (taskset). \"Per core\" is sessions/s divided by the CPU share the server's process tree used over")
p(f"the same window (utime+stime of its live processes and reaped children, /proc). Each cell ran {reps} times for {dur} s,")
p("interleaved (every server and mode once per repetition); medians with min–max. Every session checked the SHA-256 of")
p("the certificate served. Peers: nginx with its mail module (1 worker, greeting/STARTTLS/QUIT answered by nginx), Dovecot")
p("with long-lived login processes (service_count = 0, process_min_avail = 1), Postfix smtpd (STARTTLS and a wrapper-mode")
p("SMTPS port; its CPU includes the master, smtpd processes and their forks), stunnel4 in front of a trivial plaintext")
p("backend (not counted as stunnel's CPU; STARTTLS through stunnel's protocol = option).")
sp = {k: sel("speed", key=k) for k in ("ecdsa", "rsa")}
ceil = {k: med([num(r, "ceil") for r in sp[k]]) for k in sp}
if sp["ecdsa"] or sp["rsa"]:
    p("Crypto ceiling (openssl speed on CPU 0, measured at every repetition; medians): "
      f"RSA-2048 sign {fmt(med([num(r,'sign') for r in sp['rsa']]))}/s, ECDSA P-256 sign {fmt(med([num(r,'sign') for r in sp['ecdsa']]))}/s, "
      f"X25519 {fmt(med([num(r,'x25519') for r in sp['rsa'] + sp['ecdsa']]))}/s; a handshake needs one signature and two X25519 "
      f"operations (the server's key share and the shared secret): ceiling RSA {fmt(ceil['rsa'])}/s ({mmm([num(r,'ceil') for r in sp['rsa']])}), "
      f"ECDSA {fmt(ceil['ecdsa'])}/s per core.")
down = sel("down")
if down:
    p("Servers that did not start (left out): " + ", ".join(f"{NAMES[r['server']]} ({r['key']})" for r in down) + ".")
pf = sel("probefail")
if pf:
    p("Modes a server failed its probe on (left out): " + ", ".join(f"{NAMES[r['server']]} {r['mode']} ({r['key']})" for r in pf) + ".")

targets = []  # (target, measured, goal, verdict)
paired_targets = []  # the ECDSA targets from paired runs, listed first

for key, label in (("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")):
    p(f"\n### Handshakes per core, {label} (sessions/s per core of server CPU; median (min–max))\n")
    head = "| mode | " + " | ".join(NAMES[s] for s in SERVERS) + " | " + " | ".join(f"{NAMES[o]} ÷ best peer" for o in OURS) + " |"
    if key == "rsa":
        head += " | ".join(f" {NAMES[o]} ÷ ceiling" for o in OURS) + " |"
    p(head)
    p("|" + "---|" * (head.count("|") - 1))
    for m in MODES:
        cells = [mmm(per_core(key, s, m)) for s in SERVERS]
        peers = [(med(per_core(key, s, m)), s) for s in PEERS if per_core(key, s, m)]
        best = max(peers) if peers else None
        line = f"| {MODE_NAME[m]} | " + " | ".join(cells) + " |"
        crs = []
        for o in OURS:
            # Paired: within each repetition ours against the best peer of that
            # repetition (cells of one repetition ran seconds apart), then the
            # median of those ratios: the machine's drift between repetitions cancels.
            pr = rep_ratios(rate_rows(key, o, m), [r for s in PEERS for r in rate_rows(key, s, m)])
            ratio = med(pr)
            line += f" {mmm(pr, 2)}" + (f" ({NAMES[best[1]]})" if best else "") + " |"
            if key == "ecdsa":
                targets.append((f"ECDSA per core, {MODE_NAME[m]}, {NAMES[o]}: ≥ 1.5 × best peer", f"{fmt(ratio, 2)} ×" +
                                (f" {NAMES[best[1]]}" if best else ""), "≥ 1.50", "met" if ratio and ratio >= 1.5 else "missed"))
            else:
                # Against the ceiling measured in the same repetition, then the median.
                cr = med(rep_ratios(rate_rows(key, o, m), sp["rsa"], "per_core", "ceil"))
                crs.append(f" {fmt(cr * 100 if cr else None)} % |")
                targets.append((f"RSA per core, {MODE_NAME[m]}, {NAMES[o]}: ≥ 60 % of the ceiling", f"{fmt(cr * 100 if cr else None)} %",
                                "≥ 60 %", "met" if cr and cr >= 0.6 else "missed"))
        p(line + "".join(crs))
    # Paired runs: ours and one peer at the same time.
    pa = sel("pair", key=key)
    if pa:
        p(f"\nPaired, {label}: ISMail and one peer served at the same time (both servers on CPU 0, both load generators on")
        p("CPU 1), per-core ratio of the two in each repetition, median (min–max). The targets use these: a shared machine's")
        p("speed drifts by a third within minutes, and only runs that share the same moments compare cleanly.\n")
        hp = "| mode | " + " | ".join(f"{NAMES[o]} ÷ {NAMES[s]}" for o in OURS for s in PEERS) + " | " + \
             " | ".join(f"{NAMES[o]} ÷ best peer" for o in OURS) + " |"
        p(hp)
        p("|" + "---|" * (hp.count("|") - 1))
        for m in MODES:
            cells, bests = [], []
            for o in OURS:
                meds = []
                for s in PEERS:
                    both = [r for r in pa if r.get("ours") == o and r.get("peer") == s and r.get("mode") == m]
                    rs = rep_ratios([r for r in both if r.get("server") == o], [r for r in both if r.get("server") == s])
                    cells.append(mmm(rs, 2))
                    if rs:
                        meds.append((med(rs), s, rs))
                best = min(meds) if meds else None  # the strongest peer: the smallest ratio
                bests.append(f"{fmt(best[0], 2)} ({NAMES[best[1]]})" if best else "n/a")
                if key == "ecdsa":
                    paired_targets.append((f"ECDSA per core, {MODE_NAME[m]}, {NAMES[o]}: ≥ 1.5 × best peer (paired)",
                                           f"{fmt(best[0], 2)} × {NAMES[best[1]]}" if best else "n/a", "≥ 1.50",
                                           "met" if best and best[0] >= 1.5 else "missed"))
            p(f"| {MODE_NAME[m]} | " + " | ".join(cells) + " | " + " | ".join(bests) + " |")
    p(f"\nDetail, {label}:\n")
    p("| server | mode | sessions/s | server CPU (cores) | per core | p50 ms | p99 ms | failed |")
    p("|---|---|---|---|---|---|---|---|")
    for m in MODES:
        for s in SERVERS:
            rr = rate_rows(key, s, m)
            if not rr:
                continue
            p(f"| {NAMES[s]} | {m} | {mmm([num(r,'rate') for r in rr])} | {fmt(med([num(r,'srv_cpu') for r in rr]), 2)} | "
              f"{fmt(med([num(r,'per_core') for r in rr]))} | {fmt(med([num(r,'p50_ms') for r in rr]), 1)} | "
              f"{fmt(med([num(r,'p99_ms') for r in rr]), 1)} | {int(sum(num(r,'fail') for r in rr))} |")

# ---- delayed ACKs ----
dk = sel("dack")
if dk:
    p(f"\n### Delayed ACKs: a default client (Nagle on, delayed ACKs) against a TCP_QUICKACK client, ECDSA\n")
    p(f"Rates with {conns} connections per client, the two clients running at the same time on the load generator's core")
    p("(the ratio is the median of the per-repetition ratios); latency also with 1 connection, where a delayed-ACK stall shows as")
    p("about 40 ms (nginx's mail proxy, which does not set TCP_NODELAY, shows what a stall looks like).\n")
    p(f"| server | mode | default client sessions/s | quick-ack client sessions/s | ratio | 1 connection p50 / p99 ms, default | quick-ack |")
    p("|---|---|---|---|---|---|---|")
    for s in ("ismail", "nginx"):
        for m in MODES:
            def pick(cl, c):
                return [r for r in dk if r["server"] == s and r["mode"] == m and r["client"] == cl and r.get("c", conns) == c]
            d = [num(r, "rate") for r in pick("default", conns)]
            q = [num(r, "rate") for r in pick("quickack", conns)]
            if not d or not q:
                continue
            # Paired: the two clients of one repetition ran at the same time.
            pr = rep_ratios(pick("default", conns), pick("quickack", conns), "rate", zero_counts=True)
            ratio = med(pr)
            lat = {cl: f"{fmt(med([num(r,'p50_ms') for r in pick(cl, '1')]), 1)} / {fmt(med([num(r,'p99_ms') for r in pick(cl, '1')]), 1)}"
                   for cl in ("default", "quickack")}
            p(f"| {NAMES[s]} | {MODE_NAME[m]} | {mmm(d)} | {mmm(q)} | {mmm(pr, 2)} | {lat['default']} | {lat['quickack']} |")
            if s == "ismail":
                targets.append((f"Delayed ACK, {MODE_NAME[m]}: default ≥ 90 % of quick-ack", f"{fmt(ratio * 100 if ratio else None)} %",
                                "≥ 90 %", "met" if ratio and ratio >= 0.9 else "missed"))

# ---- memory ----
hd = sel("hold")
if hd:
    p(f"\n### Memory: {hold} idle TLS sessions held open (IMAPS, ECDSA; RSS of the server's process tree)\n")
    p("| server | sessions held | RSS before | RSS with them open | per session | handshakes/s beside them (no idle: median) | per core beside them (no idle) | RSS after they closed |")
    p("|---|---|---|---|---|---|---|---|")
    for r in hd:
        per = num(r, "per_session_b")
        b = sel("busy", key=r["key"], server=r["server"], mode="imaps")
        base = rate_rows(r["key"], r["server"], "imaps")
        busy = (f"{fmt(num(b[0],'rate'))} ({fmt(med([num(x,'rate') for x in base]))})" if b else "n/a")
        busyc = (f"{fmt(num(b[0],'per_core'))} ({fmt(med([num(x,'per_core') for x in base]))})" if b else "n/a")
        ah = sel("afterhold", key=r["key"], server=r["server"])
        after = f"{fmt(num(ah[0], 'rss_after_kb')/1024, 1)} MiB" if ah else "n/a"
        p(f"| {NAMES[r['server']]} | {int(num(r,'held'))} | {fmt(num(r,'rss_before_kb')/1024, 1)} MiB | "
          f"{fmt(num(r,'rss_held_kb')/1024, 1)} MiB | {fmt(per/1024, 1)} KiB | {busy} | {busyc} | {after} |")
        if r["server"] == "ismail":
            okh = int(num(r, "held")) == int(hold)
            targets.append((f"Memory per idle TLS session ({hold} open)", f"{fmt(per/1024, 1)} KiB" + ("" if okh else f" (only {int(num(r,'held'))} held)"),
                            "≤ 16 KiB", "met" if okh and per <= 16384 else "missed"))
sk = sel("soak")
if sk:
    r = sk[0]
    first, last, mx = num(r, "rss_first_kb"), num(r, "rss_last_kb"), num(r, "rss_max_kb")
    growth = (last - first) / first * 100 if first else None
    p(f"\n### Soak: {soak} s of connect/handshake/close churn, ISMail IMAPS, ECDSA\n")
    p(f"{int(num(r,'ok'))} sessions ({fmt(num(r,'rate'))}/s), {int(num(r,'fail'))} failed. Service RSS after the warm-up "
      f"{fmt(first/1024, 1)} MiB, at the end {fmt(last/1024, 1)} MiB (max {fmt(mx/1024, 1)}): {fmt(growth, 1)} %.")
    targets.append((f"Memory flat over a {soak} s churn soak", f"{fmt(growth, 1)} % (max {fmt((mx-first)/first*100 if first else None, 1)} %)",
                    "within 5 %", "met" if growth is not None and abs(growth) <= 5 and (mx - first) / first <= 0.05 and num(r, 'fail') == 0 else "missed"))

# ---- scaling ----
sc = sel("scale")
notes = []
if sc:
    p("\n### Scaling: both cores against one (IMAPS; one core: server on CPU 0, load generator on CPU 1; both: neither pinned, 2 load threads)\n")
    p("| key | server | one core sessions/s | both cores sessions/s | ratio | server CPU one / both | per core one / both | per-core efficiency |")
    p("|---|---|---|---|---|---|---|---|")
    for key in ("ecdsa", "rsa"):
        for s in ("ismail",):
            one = [num(r, "rate") for r in sc if r["key"] == key and r["cores"] == "1"]
            two = [num(r, "rate") for r in sc if r["key"] == key and r["cores"] == "2"]
            if not one or not two:
                continue
            ratio = med(two) / med(one) if med(one) else None
            c1 = med([num(r, "srv_cpu") for r in sc if r["key"] == key and r["cores"] == "1"])
            c2 = med([num(r, "srv_cpu") for r in sc if r["key"] == key and r["cores"] == "2"])
            pc1 = med([num(r, "per_core") for r in sc if r["key"] == key and r["cores"] == "1"])
            pc2 = med([num(r, "per_core") for r in sc if r["key"] == key and r["cores"] == "2"])
            eff = pc2 / pc1 if pc1 and pc2 else None
            p(f"| {key} | {NAMES[s]} | {mmm(one)} | {mmm(two)} | {fmt(ratio, 2)} | {fmt(c1, 2)} / {fmt(c2, 2)} | "
              f"{fmt(pc1)} / {fmt(pc2)} | {fmt(eff, 2)} |")
            if s == "ismail":
                cli = med([num(r, "cli_cpu") / num(r, "rate") * 1000 for r in sc if r["key"] == key and r["cores"] == "2" and num(r, "rate") > 0])
                srv = med([num(r, "srv_cpu") / num(r, "rate") * 1000 for r in sc if r["key"] == key and r["cores"] == "1" and num(r, "rate") > 0])
                if cli and srv:
                    notes.append(f"{key}: the server needs {fmt(srv, 2)} ms of CPU per session and the load generator {fmt(cli, 2)} ms; "
                                 f"with both sharing 2 otherwise idle cores the ratio is bounded at about {fmt(2 / (srv + cli) / (1 / max(srv, cli)), 2)} ×")
                targets.append((f"Scaling, {key}: both cores ≥ 1.8 × one", f"{fmt(ratio, 2)} ×", "≥ 1.80",
                                "met" if ratio and ratio >= 1.8 else "missed (bounded by the machine, see above)"))
                # An indicator, not a target: it does not show the 1.8 x the
                # scaling target asks for, so it is never reported as met.
                targets.append((f"Per-core efficiency, {key} (indicator for the scaling target above, not the target): two workers on two cores against one on one",
                                f"{fmt(eff * 100 if eff else None)} %", "(90 % would mean no contention)",
                                "indicator only: " + ("no contention seen" if eff and eff >= 0.9 else "contention seen")))

    sw_ = sel("scaleworkers")
    wk1 = "/".join(sorted({r.get("one", "?") for r in sw_})) or "?"
    wk2 = "/".join(sorted({r.get("two", "?") for r in sw_})) or "?"
    p(f"\nISMail started {wk1} worker thread(s) when limited to one core and {wk2} on both (its log: one per processor it may")
    p("use); the two-core figures come from a second instance started on both cores. The load")
    p("generator shares the two cores in the two-core run, which bounds the ratio for any server on a 2-core machine (a")
    p("faithful 1.8 × needs the load generator on other cores): " + "; ".join(notes) + ". What this machine can show is the")
    p("per-core efficiency: handshakes per second of server CPU with two workers spread over both cores against one worker on")
    p("one core. At 0.9 or more the workers do not slow each other (no lock or cache-line contention worth the name), so with")
    p("cores to spare for the clients the rate could scale toward 1.8 ×; this is an indicator, not a measurement of the target, and is never counted as meeting it.")

# ---- certificate swaps ----
sw = sel("swap")
if sw:
    st = [num(r, "rate") for r in sw if r["phase"] == "steady"]
    bu = [num(r, "rate") for r in sw if r["phase"] == "burst"]
    fails = int(sum(num(r, "fail") for r in sw if r["phase"] == "burst"))
    ratio = med(bu) / med(st) if st and bu and med(st) else None
    applied = [int(num(r, "applied")) for r in sel("swapapplied")]
    chk = sel("swapcheck")
    chk_ok = all(num(r, "fail") == 0 and num(r, "ok") > 0 for r in chk) and len(chk) == 2
    p(f"\n### Certificate swaps under load: ISMail IMAPS, {swaps} swaps (files renamed into place, `ismailctl reload`) during {swap_dur} s\n")
    p(f"Steady {mmm(st)} sessions/s, during the swaps {mmm(bu)} sessions/s (ratio {fmt(ratio, 2)}); failed handshakes "
      f"during the swaps: {fails}. Reloads the service applied per burst: {', '.join(map(str, applied)) or 'n/a'}. "
      f"Served certificate followed the swap (checked before and after): {'yes' if chk_ok else 'NO'}.")
    targets.append(("Certificate swaps: no failed handshake", str(fails), "0", "met" if fails == 0 else "missed"))
    targets.append(("Certificate swaps: rate ≥ 90 % of steady", f"{fmt(ratio * 100 if ratio else None)} %", "≥ 90 %",
                    "met" if ratio and ratio >= 0.9 and chk_ok else "missed"))

# ---- checks of the benchmark itself ----
p("\n### Checks of the benchmark\n")
for r in sel("served"):
    key = r["key"]
    who = r.get("server", "ismail")
    lg_hs = int(sum(num(x, "hs") for x in rows if x.get("server") == who and x.get("key") == key and "hs" in x))
    srv = r.get("served")
    same = srv not in (None, "none") and int(srv) == lg_hs
    checks_ok &= same
    p(f"- {key}: the load generator completed {lg_hs} handshakes with {NAMES[who]}; the service logged {srv} TLS handshakes served: "
      f"{'agree' if same else 'DISAGREE'}.")
for r in sel("badfp"):
    allfail = num(r, "ok") == 0 and num(r, "fail") > 0 and num(r, "f_fp") == num(r, "fail")
    checks_ok &= allfail
    p(f"- A wrong expected fingerprint against {NAMES[r['server']]}: {int(num(r,'fail'))} of {int(num(r,'fail') + num(r,'ok'))} "
      f"sessions failed the fingerprint check: {'as it must' if allfail else 'CHECK BROKEN'}.")

p("\n### Targets of issue 10\n")
p("| target | measured | goal | verdict |")
p("|---|---|---|---|")
if paired_targets:
    # The paired ratios decide; the sequential ones stay in the tables above.
    targets = paired_targets + [t for t in targets if not t[0].startswith("ECDSA per core")]
for t in targets:
    p("| " + " | ".join(t) + " |")

for key in ("ecdsa", "rsa"):
    f = os.path.join(bt, f"profile-{key}.txt")
    if os.path.exists(f) and os.path.getsize(f) > 0:
        lines = open(f).read().rstrip().splitlines()
        p(f"\nProfile of ismail-service under IMAPS load, {key} (perf record -e cpu-clock; by library, then top symbols; "
          "libcrypto has no symbols without debug packages):\n")
        p("```")
        p("\n".join(l.rstrip() for l in lines[:30]))
        p("```")

p("\nReproduce: `make bench` (quick, about 10 minutes) or `BENCH=full make bench` (about an hour); as root, on a 2-core")
p("machine; the peers are installed from Debian if missing (`bash scripts/bench.sh build/linux --quick|--full`).")
print("\n".join(out))
sys.exit(0 if checks_ok else 1)
PY
