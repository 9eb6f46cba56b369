#!/usr/bin/env bash
# Live apply (issue: every change takes effect in the running service at
# once, atomically, with feedback), end to end with real clients:
#  - key pin: a new certificate is served by new connections on SMTP STARTTLS,
#    submission, SMTPS, POP3 STLS, POP3S, IMAP STARTTLS and IMAPS, while a
#    session opened before the change still answers NOOP;
#  - certificate files dropped by an outside tool are picked up without any
#    store change;
#  - bad changes (key of another certificate, expired certificate, a cipher
#    list OpenSSL refuses) leave the old certificate in service, the
#    listeners open, and the error in `ismailctl status`;
#  - toggles open and close only their own listeners (same socket elsewhere);
#  - certificate swaps under load: no failed handshake, every handshake
#    presents a certificate that was installed.
#   tests/e2e/live-apply.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=live-apply
. "$HERE/lib-e2e.sh"
PROBE="python3 $TOOLS/tlsprobe.py"
HOLD_PID=
E2E_AT_EXIT+=('[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null')
H=mail.ismail.test
CRT=$D/ssl.crt/$H.crt; KEY=$D/ssl.key/$H.key

e2e_ports
ctl set server.hostname $H smtp.tls.incoming on pop.tls.incoming on imap.tls.incoming on >/dev/null

# newcert NAME [openssl req options...]: a fresh self-signed pair in $D/new/NAME.{crt,key}
mkdir -p "$D/new"
newcert() {
  local n=$1; shift
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$H" \
    -addext "subjectAltName=DNS:$H" -keyout "$D/new/$n.key" -out "$D/new/$n.crt" "$@" 2>/dev/null
  chmod 600 "$D/new/$n.key"
}
fpfile() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# install NAME: replace the served pair the way a renewal tool does (write
# aside, rename into place), then tell the service to look now.
install_pair() {
  cp "$D/new/$1.key" "$KEY.tmp" && mv "$KEY.tmp" "$KEY"
  cp "$D/new/$1.crt" "$CRT.tmp" && mv "$CRT.tmp" "$CRT"
  [ "${2:-}" = --no-reload ] || ctl reload >/dev/null
}
served_all() { # served_all FP: every TLS listener presents FP
  local fp=$1 x
  for x in "${P[smtp]}:smtp" "${P[submission]}:smtp" "${P[smtps]}:implicit" "${P[pop]}:pop3" "${P[pops]}:implicit" \
           "${P[imap]}:imap" "${P[imaps]}:implicit"; do
    [ "$($PROBE fp ${x%%:*} ${x##*:} 2>/dev/null)" = "$fp" ] || return 1
  done
}
status_error_has() { ctl status | grep '^last error' | grep -qF -- "$1"; }

e2e_start_service "service up, every TLS listener open" port_open "${P[imaps]}"
FP0=$(fpfile "$CRT")
check "the first-start certificate is served on all seven TLS listeners" served_all "$FP0"

# A session opened before the change.
coproc HOLD { $PROBE hold "${P[smtp]}" smtp; }
HOLD_PID=${HOLD_PID:-}
HOLD_IN=${HOLD[1]:-}; HOLD_OUT=${HOLD[0]:-}
ready=; [ -n "$HOLD_OUT" ] && read -r -t 10 ready <&"$HOLD_OUT"
check "a STARTTLS session is open before the change" test "$ready" = ready

newcert A
FPA=$(fpfile "$D/new/A.crt")
install_pair A
check "key pin: new connections present the new certificate on all TLS listeners" wait_until 10 served_all "$FPA"
spki=$(openssl x509 -in "$D/new/A.crt" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -hex | sed 's/.*= //')
dane_ok() { echo | timeout 10 openssl s_client -connect 127.0.0.1:${P[smtps]} -dane_tlsa_domain $H -dane_tlsa_rrdata "3 1 1 $spki" 2>&1 | grep -q 'Verification: OK'; }
check "openssl s_client -dane_tlsa_rrdata '3 1 1 <sha256 of the new key>' verifies" dane_ok
reply=; if [ -n "$HOLD_IN" ] && [ -n "$HOLD_OUT" ]; then echo >&"$HOLD_IN"; read -r -t 10 reply <&"$HOLD_OUT"; fi
check "the session opened before the change still answers NOOP ($reply)" test "${reply:0:3}" = 250
status_shows() { applied_latest && ctl status | grep -q "$1"; }
check "ismailctl status shows the applied revision and the new fingerprint" status_shows "$FPA"

newcert B
FPB=$(fpfile "$D/new/B.crt")
install_pair B --no-reload
check "files dropped by an outside tool are picked up without a store change" wait_until 10 served_all "$FPB"

# Bad changes: the old certificate stays, listeners stay open, the error is shown.
newcert C; newcert X
cp "$D/new/X.key" "$D/new/C.key"         # C's key belongs to another certificate
install_pair C
check "mismatched key: error in status naming the key file" wait_until 10 status_error_has "$H.key"
check "mismatched key: the old certificate is still served" served_all "$FPB"
check "mismatched key: listeners still open" listener_open smtps

# An expired certificate (validity in 2020), signed by its own key with openssl ca.
mkdir -p "$D/ca"; : >"$D/ca/index.txt"; echo 01 >"$D/ca/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/ca/index.txt\nnew_certs_dir=%s/ca\nserial=%s/ca/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n' "$D" "$D" "$D" >"$D/ca/ca.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$H" -keyout "$D/new/E.key" -out "$D/new/E.csr" 2>/dev/null
openssl ca -batch -config "$D/ca/ca.cnf" -selfsign -keyfile "$D/new/E.key" -in "$D/new/E.csr" -startdate 20200101000000Z \
  -enddate 20200201000000Z -notext -out "$D/new/E.crt" 2>/dev/null
check "test setup: an expired certificate was made" bash -c "! openssl x509 -in '$D/new/E.crt' -noout -checkend 0 >/dev/null"
install_pair E
check "expired certificate: error in status says it expired" wait_until 10 status_error_has "expired"
check "expired certificate: the old certificate is still served" served_all "$FPB"
install_pair B

python3 "$TOOLS/store.py" set-raw "$D/ismail.db" tls.ciphers NOT-A-CIPHER:ALSO-NOT
ctl reload >/dev/null
check "cipher list OpenSSL refuses (written behind ismailctl's back): error names tls.ciphers" \
  wait_until 10 status_error_has "tls.ciphers"
check "...and the old certificate is still served" served_all "$FPB"
out=$(ctl set tls.ciphers NOT-A-CIPHER 2>&1); rc=$?
check "ismailctl refuses the same cipher list up front (exit 3)" test "$rc" = 3
ctl reset tls.ciphers >/dev/null
no_error() { ctl status | grep -q '^last error: *none'; }
check "after the fix the error clears" wait_until 10 no_error

# Toggles: POP Incoming off, on; other listeners keep their sockets.
exec 8<>/dev/tcp/127.0.0.1/"${P[smtp]}"; read -r -t 5 g <&8
ctl set pop.tls.incoming off >/dev/null
check "POP off: the POP3S port closes" wait_until 10 not port_open "${P[pops]}"
no_stls() { ! python3 "$TOOLS/starttls.py" pop3-stls "$1"; }
check "POP off: CAPA no longer lists STLS" no_stls "${P[pop]}"
ctl set pop.tls.incoming on >/dev/null
check "POP on: the POP3S port opens again" wait_until 10 port_open "${P[pops]}"
check "POP on: STLS works again with the current certificate" wait_until 10 bash -c "test \"\$($PROBE fp ${P[pop]} pop3)\" = $FPB"
ctl set pop.tls.incoming off >/dev/null; wait_until 10 not port_open "${P[pops]}"
ctl set pop.tls.incoming on >/dev/null
check "POP on again (on, off, on): POP3S open" wait_until 10 port_open "${P[pops]}"
printf 'NOOP\r\n' >&8; read -r -t 5 l <&8
check "a plain SMTP session on port ${P[smtp]} lived through all toggles ($l)" test "${l:0:3}" = 250
exec 8>&-
grep -c "smtp: listening" "$D/ismail-service.log" >"$D/n"
check "the SMTP listener was opened exactly once (same socket all along)" test "$(cat "$D/n")" = 1

# Swap under load.
FPS=("$FPB")
$PROBE load 12 "${P[smtp]}:smtp" "${P[smtps]}:implicit" "${P[submission]}:smtp" >"$D/load.out" 2>&1 & LOAD=$!
load_started() { grep -q '^started' "$D/load.out"; }
wait_until 10 load_started   # the swaps begin once handshakes are under way
for i in $(seq 1 20); do
  newcert "S$i"; FPS+=("$(fpfile "$D/new/S$i.crt")")
  install_pair "S$i"
  wait_until 5 bash -c "test \"\$($PROBE fp ${P[smtps]} implicit)\" = ${FPS[-1]}"
done
wait $LOAD
cat "$D/load.out" | head -3
okn=$(awk '/^ok/{print $2}' "$D/load.out"); failn=$(awk '/^ok/{print $4}' "$D/load.out")
check "swap under load: handshakes completed ($okn)" test "${okn:-0}" -gt 50
check "swap under load: zero failed handshakes" test "${failn:-1}" = 0
unknown=0
while read -r _ fp _; do
  printf '%s\n' "${FPS[@]}" | grep -qx "$fp" || unknown=$((unknown + 1))
done < <(grep '^fp ' "$D/load.out")
check "swap under load: every handshake presented an installed certificate" test "$unknown" = 0
check "swap under load: more than one certificate was seen during the run" test "$(grep -c '^fp ' "$D/load.out")" -gt 1

e2e_stop
finish
