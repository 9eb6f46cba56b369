#!/usr/bin/env bash
# Installing a certificate from the command line as a plan, then a commit:
# `ismailctl cert install --dry-run` prints the plan (checks, files created or
# replaced) and changes nothing; an install with a separate --key and a --ca
# file of the intermediate is served with its chain (openssl s_client
# -showcerts shows the certificate and the intermediate and verifies them
# against the root); and each bad input (a key of another certificate, a
# certificate not yet valid, a PFX without or with a wrong password, an
# encrypted key without its password, a missing file) exits 3 with a message
# naming the file and what to give, leaving every file of ssl.crt and ssl.key
# and the store byte-identical (SHA-256 before and after).
#   tests/e2e/cert-install.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=cert-install
. "$(dirname "$0")/../lib.sh"

D=$(mktemp -d)    # the data folder (store, ssl.crt, ssl.key)
W=$(mktemp -d)    # the certificate authority and the files handed in
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D" "$W"; }
trap cleanup EXIT
ctl() { "$B/ctl/ismailctl" --data "$D" "$@"; }
DOM=example.test

# ---- a root, an intermediate, and a certificate for DOM and mail.DOM ----
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Test Root" \
  -keyout "$W/root.key" -out "$W/root.pem" -days 30
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$W/ca-ext.cnf"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Test Intermediate" \
  -keyout "$W/inter.key" -out "$W/inter.csr"
ossl x509 -req -in "$W/inter.csr" -CA "$W/root.pem" -CAkey "$W/root.key" -CAcreateserial -days 30 \
  -extfile "$W/ca-ext.cnf" -out "$W/inter.pem"
printf 'subjectAltName=DNS:%s,DNS:mail.%s\nextendedKeyUsage=serverAuth\n' $DOM $DOM >"$W/ext.cnf"
ossl req -new -newkey rsa:2048 -nodes -subj "/CN=$DOM" -keyout "$W/leaf.key" -out "$W/leaf.csr"
ossl x509 -req -in "$W/leaf.csr" -CA "$W/inter.pem" -CAkey "$W/inter.key" -CAcreateserial -days 90 \
  -extfile "$W/ext.cnf" -out "$W/leaf.crt"
check "test setup: the certificate verifies to the root through the intermediate" \
  ossl verify -CAfile "$W/root.pem" -untrusted "$W/inter.pem" "$W/leaf.crt"
FP=$(openssl x509 -in "$W/leaf.crt" -noout -fingerprint -sha256 | cut -d= -f2)

# The bad inputs: another certificate's key; the same key's certificate not
# valid before 2099 (openssl ca sets the dates); a PFX with a password; the
# key encrypted.
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/other.key"
mkdir -p "$W/ca"; : >"$W/ca/index.txt"; echo 01 >"$W/ca/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/ca/index.txt\nnew_certs_dir=%s/ca\nserial=%s/ca/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\nunique_subject=no\n[p]\ncommonName=supplied\n[x]\nsubjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' \
  "$W" "$W" "$W" $DOM >"$W/ca/ca.cnf"
ossl ca -batch -config "$W/ca/ca.cnf" -cert "$W/inter.pem" -keyfile "$W/inter.key" -in "$W/leaf.csr" \
  -extensions x -startdate 20990101000000Z -enddate 20991231000000Z -notext -out "$W/future.crt"
check "test setup: a certificate not valid before 2099" \
  bash -c "openssl x509 -in '$W/future.crt' -noout -startdate | grep -q 2099"
echo "pfx-pass-123" >"$W/pw"
echo "wrong" >"$W/pw-wrong"
ossl pkcs12 -export -in "$W/leaf.crt" -inkey "$W/leaf.key" -certfile "$W/inter.pem" -passout file:"$W/pw" \
  -out "$W/site.bin"       # no .pfx: the content says what it is
ossl pkey -in "$W/leaf.key" -aes256 -passout file:"$W/pw" -out "$W/leaf-enc.key"
check "test setup: a PFX and an encrypted key" test -s "$W/site.bin" -a -s "$W/leaf-enc.key"

# ---- the service, on free ports, serving the host's self-signed certificate ----
P_SMTP=$(free_port)
others=()
for k in $(ctl show | awk '$1 ~ /\.port$/ && $1 != "smtp.port" {print $1}'); do others+=("$k" "$(free_port)"); done
ctl set listen.address 127.0.0.1 smtp.port "$P_SMTP" "${others[@]}" server.hostname $DOM smtp.tls.incoming on \
  >/dev/null || { fail setup "ismailctl set failed"; finish; }
"$B/service/ismail-service" --data "$D" >"$W/console.log" 2>&1 &
SVC_PID=$!
rev() { ctl status | sed -n 's/^store revision: *//p'; }
applied() { local a; a=$(ctl status | sed -n 's/^applied revision: \([0-9]*\).*/\1/p'); [ -n "$a" ] && [ "$a" -ge "$1" ]; }
check "service starts and applies the store" wait_until 20 applied "$(rev)"
s_client() { echo | timeout 10 openssl s_client -connect 127.0.0.1:"$P_SMTP" -starttls smtp -servername "mail.$DOM" "$@" 2>&1; }
served_fp() { s_client | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
serves() { [ "$(served_fp)" = "$1" ]; }
check "before the install the service serves another certificate" not serves "$FP"

# snap: SHA-256 of every file in ssl.crt and ssl.key and of the store, and
# the folders' listings (names, sizes, modes).
snap() {
  (cd "$D" && find ssl.crt ssl.key -type f 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum
   ls -lnA --time-style=+ ssl.crt ssl.key 2>/dev/null | grep -v '^total'
   for f in ismail.db ismail.db-wal; do [ -e "$f" ] && sha256sum "$f"; done)
}
# The service writes its applied state into the store; it is idle once the
# last change is applied, and the snapshots are taken after that.
idle() { applied "$(rev)"; }

# ---- --dry-run: the plan, nothing changed ----
wait_until 10 idle
BEFORE=$(snap)
ctl cert install "$W/leaf.crt" --key "$W/leaf.key" --ca "$W/inter.pem" --dry-run >"$W/plan" 2>"$W/plan.err"; rc=$?
cat "$W/plan"
check "--dry-run exits 0" test "$rc" = 0
check "--dry-run: the plan names the key check and the chain" \
  bash -c "grep -q '^key .*leaf.key matches the certificate' '$W/plan' && grep -q '^chain .*builds to .*inter.pem' '$W/plan'"
# The service made the host's self-signed pair (server.hostname is DOM), so
# both files are replaced, each kept as a .bak.
check "--dry-run: the plan names both target files and their backups" \
  bash -c "grep -qF 'would     replace $D/ssl.key/$DOM.key (the current one kept as $D/ssl.key/$DOM.key.' '$W/plan' &&
           grep -qF 'would     replace $D/ssl.crt/$DOM.crt (the current one kept as $D/ssl.crt/$DOM.crt.' '$W/plan'"
check "--dry-run: says nothing was changed" grep -q '^dry run: nothing was changed$' "$W/plan"
check "--dry-run: ssl.crt, ssl.key and the store are byte-identical" test "$(snap)" = "$BEFORE"
jplan() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["dry_run"], [f["action"] for f in d["files"]], len(d["chain"]))'; }
check "--dry-run --json: the plan as JSON" \
  test "$(ctl --json cert install "$W/leaf.crt" --key "$W/leaf.key" --ca "$W/inter.pem" --dry-run 2>/dev/null | jplan)" \
  = "True ['replace', 'replace'] 1"
check "--json --dry-run changed nothing either" test "$(snap)" = "$BEFORE"

# ---- the install: key and CA file apart; the service serves the chain ----
ctl cert install "$W/leaf.crt" --key "$W/leaf.key" --ca "$W/inter.pem" >"$W/out" 2>&1; rc=$?
cat "$W/out"
check "install with --key and --ca exits 0" test "$rc" = 0
check "the replaced pair is kept as .bak files" bash -c "ls '$D/ssl.crt' | grep -qE '^$DOM\.crt\.[0-9]{8}-[0-9]{6}\.bak\$' &&
  ls '$D/ssl.key' | grep -qE '^$DOM\.key\.[0-9]{8}-[0-9]{6}\.bak\$'"
check "ssl.crt/$DOM.crt holds the certificate then the intermediate" \
  test "$(grep -c 'BEGIN CERTIFICATE' "$D/ssl.crt/$DOM.crt")" = 2
check "ssl.key/$DOM.key is 0600 and is the key given" bash -c "test \"\$(stat -c %a '$D/ssl.key/$DOM.key')\" = 600 && \
  test \"\$(openssl pkey -in '$D/ssl.key/$DOM.key' -pubout)\" = \"\$(openssl pkey -in '$W/leaf.key' -pubout)\""
check "the service serves the installed certificate (no reload needed)" wait_until 15 serves "$FP"
SHOW=$(s_client -showcerts -CAfile "$W/root.pem" -verify_hostname "mail.$DOM")
check "s_client -showcerts: 2 certificates (the certificate and the intermediate)" \
  test "$(grep -c 'BEGIN CERTIFICATE' <<<"$SHOW")" = 2
check "s_client verifies the chain with -CAfile root (and the name mail.$DOM)" \
  grep -q 'Verify return code: 0 (ok)' <<<"$SHOW"
check "the same again is planned as unchanged" bash -c "'$B/ctl/ismailctl' --data '$D' cert install '$W/leaf.crt' \
  --key '$W/leaf.key' --ca '$W/inter.pem' --dry-run 2>/dev/null | grep -c 'as it is' | grep -qx 2"

# ---- bad input: exit 3, the file named, what to give; nothing changed ----
# refused NAME WORDS FILE ARGS...: exit 3, a message naming FILE and WORDS,
# and the folders and store exactly as before.
refused() {
  local name=$1 words=$2 file=$3 out rc before; shift 3
  wait_until 10 idle
  before=$(snap)
  out=$(ctl cert install "$@" 2>&1 >/dev/null); rc=$?
  out=$(grep -v '^ismailctl: warning:' <<<"$out")
  if [ "$rc" = 3 ] && grep -qF -- "$file" <<<"$out" && grep -qF -- "$words" <<<"$out"; then
    pass "$name: exit 3, '$out'"
  else
    fail "$name" "exit $rc, expected 3 naming $file and '$words': $out"
  fi
  if [ "$(snap)" = "$before" ]; then pass "$name: ssl.crt, ssl.key and the store byte-identical"
  else fail "$name" "something changed: $(diff <(echo "$before") <(snap))"; fi
}
refused "a key of another certificate" "give the private key made with the certificate's CSR with --key KEYFILE" \
  "$W/other.key" "$W/leaf.crt" --key "$W/other.key" --ca "$W/inter.pem"
refused "a certificate not yet valid" "is not valid before 2099-01-01" "$W/future.crt" \
  "$W/future.crt" --key "$W/leaf.key" --ca "$W/inter.pem"
refused "a PFX without its password" "give the password in a file with --password-file FILE" "$W/site.bin" \
  "$W/site.bin"
refused "a PFX with a wrong password" "the password does not open" "$W/site.bin" \
  "$W/site.bin" --password-file "$W/pw-wrong"
refused "an encrypted key without its password" "--password-file FILE" "$W/leaf-enc.key" \
  "$W/leaf.crt" --key "$W/leaf-enc.key"
refused "a certificate file that does not exist" "check the file's name" "$W/no-such.crt" \
  "$W/no-such.crt" --key "$W/leaf.key"
refused "a key file that does not exist" "check the file's name" "$W/no-such.key" \
  "$W/leaf.crt" --key "$W/no-such.key"
refused "a CA file that does not exist" "check the file's name" "$W/no-such-ca.pem" \
  "$W/leaf.crt" --key "$W/leaf.key" --ca "$W/no-such-ca.pem"
check "after the refusals the service still serves the installed certificate" serves "$FP"

# ---- the right passwords ----
check "the PFX with its password (--password-file) plans as unchanged: same key, same chain" \
  bash -c "'$B/ctl/ismailctl' --data '$D' cert install '$W/site.bin' --password-file '$W/pw' --dry-run 2>/dev/null |
           grep -c 'as it is' | grep -qx 2"
ctl cert install "$W/leaf.crt" --key "$W/leaf-enc.key" --password-file "$W/pw" --ca "$W/inter.pem" >/dev/null 2>&1
check "the encrypted key with its password installs, stored without a pass phrase" \
  openssl pkey -in "$D/ssl.key/$DOM.key" -noout -passin pass:

kill -TERM "$SVC_PID"
stopped() { ! kill -0 "$SVC_PID" 2>/dev/null; }
check "the service stops" wait_until 10 stopped
wait "$SVC_PID" 2>/dev/null; SVC_PID=
finish
