#!/usr/bin/env bash
# Outgoing SMTP over TLS (issue 7), end to end on loopback. The sender is
# ISMail; messages reach its queue with `ismailctl queue inject`; the route
# table points each test domain at one of these receivers:
#   R1  ISMail itself, a second instance (own --data, own ports), TLS with a
#       certificate for "localhost" from a test CA; local domain r1.test
#   A   aiosmtpd with STARTTLS, certificate for "localhost" (good.test)
#   W   aiosmtpd with STARTTLS, certificate for wrong.invalid (wrong.test)
#   DM  aiosmtpd with STARTTLS, certificate for dom.test only (dom.test)
#   N   aiosmtpd without STARTTLS (plain.test, may.test, enc.test)
#   T   a tarpit that accepts and never answers (slow.test)
#   H   offers STARTTLS and reads the ClientHello, then hangs up (hello.test)
# The test CA is given to the sender with smtp.tls.ca_file. Cases:
#   1 outgoing on: delivered over TLS (R1's Received header, A's log); 7 both
#     kinds of receiver used
#   2 verify on + certificate for another name: deferred, reason in `queue
#     list`, nothing delivered; a certificate naming the destination domain
#     passes; verify off: delivered over TLS
#   3 verify on + no STARTTLS: deferred; verify off: delivered in plaintext
#   4 Use STARTTLS Domains: the receiver saw SNI "localhost" when on, none when off
#   5 outgoing off: no STARTTLS attempted
#   6 policy table: encrypt defers without STARTTLS while may delivers
#   8 the queue survives SIGTERM and SIGKILL restarts without loss or
#     duplicates; stopping is prompt while a delivery hangs
#   9 a 550 from the receiver returns an RFC 3464 bounce to the local sender
#  10 submission with curl reaches the receiver (once service/smtp.c queues
#     mail for other domains; skipped with a note before that)
#  11 the ClientHello offers the profile's key exchange groups (X25519, P-256,
#     P-384) with one X25519 key share, whatever OpenSSL's default list is
#   tests/e2e/outgoing.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=outgoing
. "$HERE/lib-e2e.sh"
SVC=$E2E_SVC

# aiosmtpd comes from Debian (python3-aiosmtpd, in cmake/bootstrap.sh's
# package list), for the system's python. Without it the suite fails.
PYS=/usr/bin/python3
[ -x "$PYS" ] || PYS=python3
if ! "$PYS" -c 'import aiosmtpd' 2>/dev/null; then
  fail "aiosmtpd available" "install python3-aiosmtpd (make bootstrap, or apt-get install python3-aiosmtpd)"
  finish
fi

# Two instances: the sender S (ctl) and the receiver R1 (r1ctl), each with
# its own data folder under D.
S_PID=; R1_PID=
E2E_AT_EXIT+=('[ -n "$S_PID" ] && kill "$S_PID" 2>/dev/null' '[ -n "$R1_PID" ] && kill "$R1_PID" 2>/dev/null')
S=$D/s; R1=$D/r1
ctl() { "$E2E_CTL" --data "$S" "$@"; }
r1ctl() { "$E2E_CTL" --data "$R1" "$@"; }
SLOG=$S/ismail-service.log

# ---- a test CA and three server certificates ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ISMail outgoing test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -days 2 -keyout "$D/ca.key" -out "$D/ca.crt" 2>/dev/null
leaf() { # leaf NAME DNSNAME
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$D/$1.key" -out "$D/$1.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$D/$1.ext"
  openssl x509 -req -in "$D/$1.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial -days 2 \
    -extfile "$D/$1.ext" -out "$D/$1.crt" 2>/dev/null
  chmod 600 "$D/$1.key"
}
leaf good localhost; leaf wrong wrong.invalid; leaf dom dom.test
check "test setup: certificates from the test CA" openssl verify -CAfile "$D/ca.crt" "$D/good.crt" "$D/wrong.crt" "$D/dom.crt"

# ---- the receivers ----
receiver() { # receiver NAME PORT [--cert C --key K | --tarpit]
  local n=$1 p=$2; shift 2
  "$PYS" "$HERE/../tools/smtp_receiver.py" --port "$p" --log "$D/$n.log" "$@" >"$D/$n.out" 2>&1 &
  E2E_PIDS+=($!)
  wait_until 15 port_open "$p"
}
PA=$(free_port); PW=$(free_port); PDM=$(free_port); PN=$(free_port); PT=$(free_port); PH=$(free_port); PDEAD=$(free_port)
receiver A "$PA" --cert "$D/good.crt" --key "$D/good.key"
receiver W "$PW" --cert "$D/wrong.crt" --key "$D/wrong.key"
receiver DM "$PDM" --cert "$D/dom.crt" --key "$D/dom.key"
receiver N "$PN"
receiver T "$PT" --tarpit
receiver H "$PH" --hello
all_listen() { port_open "$PA" && port_open "$PW" && port_open "$PDM" && port_open "$PN" && port_open "$PT" && port_open "$PH"; }
check "the independent receivers listen" all_listen

# R1: ISMail as a receiver, TLS with the test CA's certificate for localhost.
e2e_ports r1ctl
PR1=${P[smtp]}
r1ctl set server.hostname localhost >/dev/null
r1ctl set smtp.tls.incoming on >/dev/null
mkdir -p "$R1/ssl.crt" "$R1/ssl.key"; chmod 700 "$R1/ssl.key"
cp "$D/good.crt" "$R1/ssl.crt/localhost.crt"; cp "$D/good.key" "$R1/ssl.key/localhost.key"; chmod 600 "$R1/ssl.key/localhost.key"
r1ctl localdomain add r1.test >/dev/null
echo 'receiver-password-1' >"$D/pw"
r1ctl user add bob@r1.test --password-file "$D/pw" >/dev/null
"$SVC" --data "$R1" >"$D/r1.console" 2>&1 & R1_PID=$!
check "R1 (ISMail, second instance) listens on its SMTP port" wait_until 20 port_open "$PR1"
starttls_ok() { out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" -starttls smtp -CAfile "$D/ca.crt" -verify_hostname localhost -brief 2>&1); grep -q 'Verification: OK' <<<"$out"; }
check "R1 offers STARTTLS with the test CA's certificate for localhost" wait_until 10 starttls_ok "$PR1"

# S: the sender.
e2e_ports ctl
PSUB=${P[submission]}
ctl set server.hostname sender.test >/dev/null
ctl set smtp.tls.ca_file "$D/ca.crt" >/dev/null
ctl localdomain add sender.test >/dev/null
echo 'sender-password-1' >"$D/spw"
ctl user add alice@sender.test --password-file "$D/spw" >/dev/null
ctl route add r1.test localhost "$PR1" >/dev/null
ctl route add good.test localhost "$PA" >/dev/null
ctl route add wrong.test localhost "$PW" >/dev/null
ctl route add dom.test 127.0.0.1 "$PDM" >/dev/null
for dom in plain.test may.test enc.test; do ctl route add $dom localhost "$PN" >/dev/null; done
ctl route add slow.test localhost "$PT" >/dev/null
ctl route add hello.test localhost "$PH" >/dev/null
ctl route add dead.test localhost "$PDEAD" >/dev/null
check "ismailctl route list shows the routes" grep -q "good.test .*-> localhost port $PA" <<<"$(ctl route list)"

start_sender() {
  "$SVC" --data "$S" >>"$D/s.console" 2>&1 & S_PID=$!
  local n0=$1
  more_threads() { [ "$(threads_started)" -gt "$n0" ]; }
  wait_until 20 more_threads
}
threads_started() { local n; n=$(grep -c 'outgoing: delivery thread started' "$SLOG" 2>/dev/null); echo "${n:-0}"; }

# ---- helpers ----
N_MSG=0
inject() { # inject FROM TO SUBJECT
  N_MSG=$((N_MSG + 1))
  printf 'From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s.%s@sender.test>\r\n\r\nTest message %s.\r\n.A line that starts with a dot.\r\n' \
    "$1" "$2" "$3" "$3" "$N_MSG" "$3" >"$D/msg.$N_MSG"
  ctl queue inject --from "$1" --to "$2" "$D/msg.$N_MSG" >/dev/null
}
# recv LOG SUBJECT FIELD: the field of the message with that subject (first), "" when none
recv() { python3 "$TOOLS/recvlog.py" field "$D/$1.log" "$2" "$3"; }
recv_count() { python3 "$TOOLS/recvlog.py" count "$D/$1.log" "$2"; }
got() { [ "$(recv_count "$1" "$2")" -ge 1 ]; }
events() { python3 "$TOOLS/recvlog.py" events "$D/$1.log" "$2"; }
# item FIELD DOMAIN: a field of the first queue item for DOMAIN ("" when none)
item() {
  ctl --json queue list 2>/dev/null | python3 -c '
import json, sys
for it in json.load(sys.stdin):
    if it["domain"] == sys.argv[2]:
        print(it[sys.argv[1]]); break' "$1" "$2"
}
items_for() { ctl --json queue list 2>/dev/null | python3 -c '
import json, sys; print(sum(1 for it in json.load(sys.stdin) if it["domain"] == sys.argv[1]))' "$1"; }
deferred() { local a; a=$(item attempts "$1"); [ -n "$a" ] && [ "$a" -ge 1 ]; }
# mailbox DB ADDRESS SUBJECT: the stored message with that subject
mailbox() { python3 "$TOOLS/maildb.py" message "$1" "$2" "$3"; }
in_mailbox() { [ -n "$(mailbox "$@")" ]; }

# ---- start the sender ----
ctl set smtp.tls.outgoing on smtp.tls.verify_domain on smtp.tls.starttls_domains on >/dev/null
"$SVC" --data "$S" >>"$D/s.console" 2>&1 & S_PID=$!
service_up "the sender's delivery thread started" "$S_PID" "$SLOG" 20 grep -q 'outgoing: delivery thread started' "$SLOG"

# 1 + 7: TLS to both kinds of receiver.
inject alice@sender.test bob@r1.test c1-r1
inject alice@sender.test x@good.test c1-good
check "1: delivered to ISMail (R1) for a local account" wait_until 20 in_mailbox "$R1/mail.db" bob@r1.test "Subject: c1-r1"
rcv=$(mailbox "$R1/mail.db" bob@r1.test "Subject: c1-r1" | tr -d '\r' | sed -n '/^Received:/,/^[^ \t]/p' | head -4)
echo "$rcv" | sed 's/^/    /'
check "1: R1's Received header shows ESMTPS and the TLS version" grep -qz 'with ESMTPS.*version=TLSv1' <<<"$rcv"
check "1: delivered to aiosmtpd (A)" wait_until 20 got A c1-good
check "1: A received it over TLS" test "$(recv A c1-good tls)" = true
check "1: A saw TLS 1.2 or 1.3 ($(recv A c1-good version))" grep -qE '^TLSv1\.[23]$' <<<"$(recv A c1-good version)"
intact() { [[ "$(recv A c1-good data)" == *$'\r\n\r\nTest message c1-good.\r\n.A line that starts with a dot.\r'* ]]; }
check "1: the message arrived intact (dot-stuffing undone)" intact
check "1: the log has the TLS version, cipher, certificate subject and verification result" \
  grep -qE 'outgoing: item [0-9]+ to good.test via localhost\[127.0.0.1\]:[0-9]+ \(route for good.test\), TLS policy verify \(Verify Certificate Domain is on\): TLSv1\.[23] [A-Z0-9_-]+, certificate /CN=localhost, verification ok' "$SLOG"
both() { in_mailbox "$R1/mail.db" bob@r1.test "Subject: c1-r1" && got A c1-good; }
check "7: both receivers were used (ISMail and aiosmtpd)" both
check "4: Use STARTTLS Domains on: A saw SNI localhost" test "$(recv A c1-good sni)" = localhost

# 2 + 3 with Verify Certificate Domain on.
inject alice@sender.test x@wrong.test c2
inject alice@sender.test x@plain.test c3
inject alice@sender.test x@dom.test c2b
check "2: certificate for another name: deferred" wait_until 20 deferred wrong.test
check "2: the reason in 'queue list' says why" grep -qF "deferred: 4.7.5 certificate of localhost[127.0.0.1]:$PW not accepted (Verify Certificate Domain is on): failed: the certificate names wrong.invalid, not localhost or wrong.test" <<<"$(ctl queue list)"
check "2: nothing was delivered to W" test "$(events W message)" = 0
check "2: the log line has the verification failure" grep -q 'to wrong.test .*verification failed: the certificate names wrong.invalid' "$SLOG"
check "3: no STARTTLS offered: deferred" wait_until 20 deferred plain.test
check "3: the reason says STARTTLS is not offered" grep -q 'does not offer STARTTLS; nothing was sent in plaintext' <<<"$(item reason plain.test)"
check "3: nothing was delivered to N" test "$(events N message)" = 0
check "2: a certificate that names the destination domain (dom.test, route by IP) passes verification" wait_until 20 got DM c2b
check "2: ...over TLS, without SNI (the next hop is an IP address)" test "$(recv DM c2b tls) $(recv DM c2b sni)" = "true null"

ctl set smtp.tls.verify_domain off >/dev/null
ctl queue retry all >/dev/null
check "2: verify off: delivered to W" wait_until 20 got W c2
check "2: ...over TLS (opportunistic, certificate not checked)" test "$(recv W c2 tls)" = true
check "3: verify off: delivered to N" wait_until 20 got N c3
check "3: ...in plaintext (opportunistic)" test "$(recv N c3 tls)" = false

# 4: SNI off.
ctl set smtp.tls.starttls_domains off >/dev/null
inject alice@sender.test x@good.test c4
check "4: Use STARTTLS Domains off: delivered" wait_until 20 got A c4
check "4: ...over TLS without SNI" test "$(recv A c4 tls) $(recv A c4 sni)" = "true null"
check "4: A's handshake log has an empty SNI" test "$(tail -n 20 "$D/A.log" | grep -c '"sni", "name": null')" -ge 1

# 5: SMTP Outgoing off.
st0=$(events A starttls)
ctl set smtp.tls.outgoing off >/dev/null
inject alice@sender.test x@good.test c5
check "5: outgoing off: delivered" wait_until 20 got A c5
check "5: ...in plaintext" test "$(recv A c5 tls)" = false
check "5: ...and no STARTTLS was attempted (A's log)" test "$(events A starttls)" = "$st0"

# 6: the policy table.
ctl set smtp.tls.outgoing on smtp.tls.verify_domain on >/dev/null
ctl policy set enc.test encrypt >/dev/null
ctl policy set may.test may >/dev/null
check "6: ismailctl policy list shows both" test "$(ctl policy list | grep -cE '^(enc.test +encrypt|may.test +may)$')" = 2
inject alice@sender.test x@enc.test c6-enc
inject alice@sender.test x@may.test c6-may
check "6: may (overriding Verify Certificate Domain): delivered to N in plaintext" wait_until 20 got N c6-may
check "6: encrypt: deferred" wait_until 20 deferred enc.test
check "6: ...reason: TLS required by the policy table" grep -q 'TLS is required (the policy table)' <<<"$(item reason enc.test)"
check "6: ...and not delivered" test "$(recv_count N c6-enc)" = 0
ctl queue remove "$(item id enc.test)" >/dev/null
ctl policy remove enc.test >/dev/null

# 9: a permanent failure comes back to the local sender as an RFC 3464 report.
inject alice@sender.test reject-me@good.test c9
check "9: 550 from the receiver: a bounce reaches alice@sender.test" wait_until 20 in_mailbox "$S/mail.db" alice@sender.test "reject-me@good.test"
b=$(mailbox "$S/mail.db" alice@sender.test "reject-me@good.test")
dsn_ok() { grep -q 'report-type=delivery-status' <<<"$b" && grep -q 'Final-Recipient: rfc822; reject-me@good.test' <<<"$b" &&
  grep -q 'Status: 5.1.1' <<<"$b" && grep -q 'Subject: c9' <<<"$b" && grep -q '^Return-Path: <>' <<<"$b"; }
check "9: ...multipart/report with Final-Recipient, Status 5.1.1 and the original headers" dsn_ok

# 11: what the sender's ClientHello offers (H hangs up after reading it; with
# Verify Certificate Domain on the item is deferred, then removed).
inject alice@sender.test x@hello.test c11
hello_seen() { [ "$(events H hello)" -ge 1 ]; }
check "11: H read the sender's ClientHello" wait_until 20 hello_seen
hello_field() { python3 "$TOOLS/recvlog.py" hello "$D/H.log" "$1"; }
check "11: the groups offered are the profile's ($(hello_field groups))" test "$(hello_field groups)" = "X25519 P-256 P-384"
check "11: one key share, X25519 ($(hello_field key_shares))" test "$(hello_field key_shares)" = "X25519"
wait_until 20 deferred hello.test
ctl queue remove "$(item id hello.test)" >/dev/null

# 8: persistence across SIGTERM and SIGKILL.
for i in 1 2 3; do inject alice@sender.test "x$i@dead.test" "c8-$i"; done
all_deferred() { [ "$(items_for dead.test)" = 3 ] && ctl --json queue list | python3 -c '
import json, sys; sys.exit(0 if all(it["attempts"] >= 1 for it in json.load(sys.stdin) if it["domain"] == "dead.test") else 1)'; }
check "8: three messages for an unreachable host are deferred" wait_until 20 all_deferred
check "8: ...with the connection failure as the reason" grep -q 'cannot connect to localhost' <<<"$(item reason dead.test)"
kill -TERM "$S_PID"; wait "$S_PID"; S_PID=
check "8: after SIGTERM all three are still queued" test "$(items_for dead.test)" = 3
n0=$(threads_started)
start_sender "$n0"
kill -KILL "$S_PID"; wait "$S_PID" 2>/dev/null; S_PID=
check "8: after SIGKILL all three are still queued" test "$(items_for dead.test)" = 3
ctl route add dead.test localhost "$PA" >/dev/null
n0=$(threads_started)
start_sender "$n0"
ctl queue retry all >/dev/null
three() { got A c8-1 && got A c8-2 && got A c8-3; }
check "8: after the restart all three are delivered" wait_until 30 three
check "8: ...each exactly once" test "$(recv_count A c8-1)$(recv_count A c8-2)$(recv_count A c8-3)" = 111
none_left() { [ "$(items_for dead.test)" = 0 ]; }
check "8: ...and the queue has none of them left" wait_until 10 none_left

# 8: stopping while a delivery hangs (the tarpit) is prompt and loses nothing.
# Counted from before the message: the tarpit's start-up check connected too.
t_connects=$(events T connect)
inject alice@sender.test x@slow.test c8-slow
hanging() { [ "$(events T connect)" -gt "$t_connects" ]; }
check "8: a delivery to a server that never answers is under way" wait_until 20 hanging
# Prompt: the stop cuts the delivery short (the log says it was abandoned)
# rather than waiting for the receiver or a timeout.
t0=$(date +%s%N)
kill -TERM "$S_PID"
sender_ended() { ! kill -0 "$S_PID" 2>/dev/null; }
wait_until 30 sender_ended; rc=$?
echo "    stopped after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "8: the service stops while the delivery hangs" test "$rc" = 0
wait "$S_PID"; S_PID=
if grep -q 'to slow.test .*abandoned: the service is stopping' "$SLOG"; then
  pass "8: ...abandoning that delivery (its log says so)"
else
  fail "8: ...abandoning that delivery (its log says so)" "$(grep -E 'slow\.test|stopping' "$SLOG" | tail -5)"
fi
check "8: the abandoned delivery is still queued, not counted as an attempt" test "$(item attempts slow.test)" = 0
ctl route add slow.test localhost "$PA" >/dev/null
n0=$(threads_started)
start_sender "$n0"
check "8: after the restart it is delivered" wait_until 30 got A c8-slow
check "8: ...exactly once" test "$(recv_count A c8-slow)" = 1
dups=$(python3 "$TOOLS/recvlog.py" dups "$D/A.log")
check "8: no message reached A twice${dups:+ ($dups)}" test -z "$dups"

# 10: authenticated submission queues mail for other domains.
printf 'From: <alice@sender.test>\r\nTo: <x@good.test>\r\nSubject: c10-submission\r\n\r\nSubmitted with curl.\r\n' >"$D/sub.eml"
curl -s --url "smtp://127.0.0.1:$PSUB" --mail-from alice@sender.test --mail-rcpt x@good.test \
  --user 'alice@sender.test:sender-password-1' --upload-file "$D/sub.eml" >"$D/curl.out" 2>&1
check "10: submission with curl (authenticated) reaches the remote receiver" wait_until 20 got A c10-submission

kill -TERM "$S_PID"; wait "$S_PID"; S_PID=
kill -TERM "$R1_PID"; wait "$R1_PID"; R1_PID=
finish
