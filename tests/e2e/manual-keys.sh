#!/usr/bin/env bash
# The manual's command line on Linux, against the running service:
#   1. `openssl req -newkey rsa:1024 ...` (the manual's command as printed),
#      signed by a test CA, copied into ssl.crt and the key moved into
#      ssl.key: the service refuses it, and `ismailctl status` names the
#      file, the reason (1024-bit RSA is too weak) and the command to type
#      instead; the previous certificate stays in service;
#   2. the same with rsa:2048 and the key left readable by others (mode 644):
#      refused, naming the key file, the manager's "Restrict access" button
#      and `ismailctl cert protect NAME`; `cert list` says "key not private";
#   3. `ismailctl cert protect NAME`: the key becomes 0600, the service loads
#      it without any other step and serves the certificate (SHA-256
#      fingerprint through openssl s_client), and status shows no error;
#   4. `ismailctl domain add` without --port takes https.port, as the
#      manager's New dialog does, and the service serves that web SSL domain
#      on it.
#   tests/e2e/manual-keys.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=manual-keys
. "$(dirname "$0")/../lib.sh"

D=$(mktemp -d)    # the data folder
W=$(mktemp -d)    # the administrator's working folder (the manual's Apache\install) and the test CA
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D" "$W"; }
trap cleanup EXIT
ctl() { "$B/ctl/ismailctl" --data "$D" "$@"; }
DOM=example.com
SUBJ="/C=US/ST=California/L=Mountain View/O=InstantServers, Inc./CN=$DOM/emailAddress=postmaster@$DOM"
WANT_CMD='openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes'

declare -A P
args=(listen.address 127.0.0.1 server.hostname $DOM smtp.tls.incoming on)
for k in $(ctl show | awk '$1 ~ /\.port$/ {print $1}'); do P[$k]=$(free_port); args+=("$k" "${P[$k]}"); done
ctl set "${args[@]}" >/dev/null || { fail setup "ismailctl set failed"; finish; }
"$B/service/ismail-service" --data "$D" >"$W/console.log" 2>&1 &
SVC_PID=$!
rev() { ctl status | sed -n 's/^store revision: *//p'; }
applied() { local a; a=$(ctl status | sed -n 's/^applied revision: \([0-9]*\).*/\1/p'); [ -n "$a" ] && [ "$a" -ge "$1" ]; }
last_error() { ctl status | sed -n 's/^last error: *//p'; }
served_fp() { echo | timeout 10 openssl s_client -connect 127.0.0.1:"${P[smtp.port]}" -starttls smtp 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
serves() { [ "$(served_fp)" = "$1" ]; }
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
check "service starts and applies the store" wait_until 20 applied "$(rev)"
SELF_FP=$(file_fp "$D/ssl.crt/$DOM.crt")
check "it serves the self-signed certificate it made for $DOM" wait_until 10 serves "$SELF_FP"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Test CA" \
  -keyout "$W/ca.key" -out "$W/ca.pem" -days 30 2>/dev/null
sign() { openssl x509 -req -in "$W/req.pem" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 90 \
  -extfile <(printf 'subjectAltName=DNS:%s,DNS:mail.%s\nextendedKeyUsage=serverAuth\n' $DOM $DOM) -out "$W/$DOM.crt" 2>/dev/null; }

# ---- 1. the manual's rsa:1024 ----
( cd "$W" && openssl req -newkey rsa:1024 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes -subj "$SUBJ" ) \
  >/dev/null 2>&1
sign
check "the manual's rsa:1024 command makes a 1024-bit key, and the test CA signs it" \
  bash -c "openssl x509 -in '$W/$DOM.crt' -noout -text | grep -q 'Public-Key: (1024 bit)'"
cp "$W/$DOM.crt" "$D/ssl.crt/$DOM.crt"
mv "$W/req.key" "$D/ssl.key/$DOM.key"
ctl reload
refused_1024() {
  applied "$(rev)" && local e && e=$(last_error) &&
    grep -qF "$D/ssl.crt/$DOM.crt: certificate refused" <<<"$e" &&
    grep -qF "1024-bit RSA is too weak" <<<"$e" && grep -qF "make a new key and CSR with: $WANT_CMD" <<<"$e"
}
if wait_until 10 refused_1024; then
  pass "1024-bit RSA refused: status names the file, the reason and the command ($(last_error | cut -c1-90)...)"
else
  fail "1024-bit RSA refused with the file, the reason and the command" "$(last_error)"
fi
check "... and the self-signed certificate stays in service" serves "$SELF_FP"

# ---- 2. rsa:2048, the key left readable by others ----
( cd "$W" && openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes -subj "$SUBJ" ) \
  >/dev/null 2>&1
sign
FP=$(file_fp "$W/$DOM.crt")
cp "$W/$DOM.crt" "$D/ssl.crt/$DOM.crt"
mv "$W/req.key" "$D/ssl.key/$DOM.key"
chmod 644 "$D/ssl.key/$DOM.key"
ctl reload
refused_open() {
  applied "$(rev)" && local e && e=$(last_error) &&
    grep -qF "$D/ssl.key/$DOM.key: the private key file can be read by other users (mode 644)" <<<"$e" &&
    grep -qF '"Restrict access"' <<<"$e" && grep -qF "ismailctl cert protect $DOM" <<<"$e"
}
if wait_until 10 refused_open; then
  pass "a key others can read is refused: status names it, the Restrict access button and the command ($(last_error | cut -c1-60)...)"
else
  fail "a key others can read is refused naming both remedies" "$(last_error)"
fi
check "... the self-signed certificate stays in service" serves "$SELF_FP"
check "... cert list says 'key not private'" bash -c "'$B/ctl/ismailctl' --data '$D' cert list | grep -qE '^$DOM .*key not private'"

# ---- 3. ismailctl cert protect ----
out=$(ctl cert protect $DOM 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -qF "$D/ssl.key/$DOM.key: restricted to the administrators (it was mode 644)" <<<"$out"; then
  pass "cert protect $DOM: exit 0, '$out'"
else
  fail "cert protect $DOM" "exit $rc: $out"
fi
check "the key is 0600 now" test "$(stat -c %a "$D/ssl.key/$DOM.key")" = 600
check "with nothing else done, the service serves the CA-signed certificate (SHA-256 ${FP:0:23}...)" wait_until 10 serves "$FP"
no_error() { applied "$(rev)" && [ "$(last_error)" = none ]; }
check "... and status shows no error" wait_until 10 no_error
out=$(ctl cert protect $DOM.key 2>&1)
check "a second cert protect (NAME.key) has nothing to do" grep -qF "already readable by the administrators only" <<<"$out"
out=$(ctl cert protect missing.example 2>&1); rc=$?
check "cert protect of a certificate without a key: exit 4 naming the file ($out)" \
  bash -c "[ $rc = 4 ] && grep -qF '$D/ssl.key/missing.example.key does not exist' <<<\"\$0\"" "$out"
json=$(ctl --json cert protect $DOM)
check "cert protect --json" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["changed"] is False and d["path"].endswith("example.com.key")' "$json"

# ---- 4. domain add: the port is https.port ----
WEB=web.$DOM
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$WEB" -addext "subjectAltName=DNS:$WEB" \
  -keyout "$D/ssl.key/$WEB.key" -out "$D/ssl.crt/$WEB.crt" -days 30 2>/dev/null
chmod 600 "$D/ssl.key/$WEB.key"
check "domain add without --port" ctl domain add $WEB --ip 127.0.0.1 --cert $WEB.crt --key $WEB.key
line=$(ctl domain list | awk -v d=$WEB '$1 == d')
check "domain list: port ${P[https.port]}, the https.port setting ($line)" test "$(awk '{print $3}' <<<"$line")" = "${P[https.port]}"
https_ok() { curl -sS --max-time 10 --cacert "$D/ssl.crt/$WEB.crt" --resolve "$WEB:${P[https.port]}:127.0.0.1" \
  "https://$WEB:${P[https.port]}/status" 2>/dev/null | grep -q ISMail; }
check "the service serves $WEB over HTTPS on https.port (curl verifies its certificate)" wait_until 10 https_ok
other=$(free_port)
ctl domain add web2.$DOM --ip 127.0.0.1 --port "$other" --cert $WEB.crt --key $WEB.key
check "domain add --port $other keeps the port given" \
  test "$(ctl domain list | awk -v d=web2.$DOM '$1 == d {print $3}')" = "$other"
ctl domain edit $WEB --ip 127.0.0.1 >/dev/null
check "domain edit without --port keeps the domain's port" \
  test "$(ctl domain list | awk -v d=$WEB '$1 == d {print $3}')" = "${P[https.port]}"
out=$(ctl domain add web3.$DOM --ip 127.0.0.1 --port 0 --cert $WEB.crt --key $WEB.key 2>&1)
check "a bad --port names https.port as the default ($out)" grep -qF "without --port: https.port, ${P[https.port]}" <<<"$out"

kill -TERM "$SVC_PID"
stopped() { ! kill -0 "$SVC_PID" 2>/dev/null; }
check "the service stops" wait_until 10 stopped
wait "$SVC_PID" 2>/dev/null; SVC_PID=
finish
