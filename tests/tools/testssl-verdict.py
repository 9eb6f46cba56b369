#!/usr/bin/env python3
"""testssl-verdict.py JSONFILE: the verdict on one testssl.sh --jsonfile of
an ISMail TLS port. Prints "clean: PROTOCOLS, groups GROUPS" and exits 0, or
prints the problems ("; " between) and exits 1: findings of MEDIUM or above
(but the expected ones of a self-signed test certificate and of the scanning
machine), protocols other than TLS 1.2 and 1.3, key exchange groups beyond
the profile's (prime256v1, secp384r1, X25519), or no result at all.
"""
import json, sys
try:
    findings = json.load(open(sys.argv[1]))
except Exception as e:
    print("no JSON from testssl: %r" % e); sys.exit(1)
# Trust findings of the self-signed test certificate, and notes about the
# scanning machine itself, are expected; anything else MEDIUM or above fails.
expected = {"cert_trust", "cert_chain_of_trust", "cert_revocation", "cert_ocspURL", "cert_crlDistributionPoints",
            "engine_problem", "service", "scanProblem"}
bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL") and f["id"] not in expected]
prot = {f["id"]: f["finding"] for f in findings if f["id"] in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")}
offered = sorted(k for k, v in prot.items() if v.startswith("offered"))
groups = [f["finding"] for f in findings if f["id"] in ("PFS_ECDHE_curves", "FS_ECDHE_curves")]
problems = ["%s %s: %s" % (f["id"], f["severity"], f["finding"][:80]) for f in bad]
if offered != ["TLS1_2", "TLS1_3"]:
    problems.append("protocols offered: %s" % offered)
if not groups:
    problems.append("testssl reported no key exchange groups")
elif set(groups[0].split()) - {"prime256v1", "secp384r1", "X25519"}:
    problems.append("groups beyond the policy's: %s" % groups[0])
if not prot:
    problems.append("testssl reported no protocols (did it run?)")
print("; ".join(problems) if problems else "clean: %s, groups %s" % (" ".join(offered), groups[0] if groups else "?"))
sys.exit(1 if problems else 0)
