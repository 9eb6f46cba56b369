#!/usr/bin/env bash
# Certificates end to end on Linux, with OpenSSL's own tools as the judge:
# a CSR made by `ismailctl csr new` verifies and shows its fields and SANs; a
# test CA signs it; the certificate installs as PEM, DER and PKCS#12 (PFX);
# `cert list` / `cert show` report it; the service serves exactly it (SHA-256
# fingerprint through openssl s_client -starttls smtp); a key made readable by
# others is refused at load while the service keeps serving the previous
# certificate and `ismailctl status` names the file; bad input exits 3 naming
# the field; the key folder and files are 0700/0600.
#   tests/e2e/certs.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=certs
. "$(dirname "$0")/../lib.sh"

D=$(mktemp -d)    # the data folder (store, ssl.csr, ssl.crt, ssl.key)
W=$(mktemp -d)    # the "certificate authority" and files handed in
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D" "$W"; }
trap cleanup EXIT
ctl() { "$B/ctl/ismailctl" --data "$D" "$@"; }
quiet() { "$@" >/dev/null; }   # for checks: the command's report is not needed
DOM=ismail.test

# bad NAME WORD ARGS...: exit 3 and a message naming WORD.
bad() {
  local name=$1 word=$2 out rc; shift 2
  out=$(ctl "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = 3 ] && grep -qF -- "$word" <<<"$out"; then pass "$name: exit 3, '$out'"
  else fail "$name" "exit $rc, expected 3 naming '$word': $out"; fi
}

# Every field the manual asks for but the country and the e-mail (the checks
# below give those themselves).
SUBJ=(--state California --locality "Mountain View" --org "ISMail Tests, Inc.")

# ---- a CSR and its key ----
bad "country USA refused"         "country"  csr new --cn "$DOM" --country USA "${SUBJ[@]}" --email postmaster@$DOM
bad "rsa:1024 refused"            "key: RSA keys of 1024 bits are no longer safe" csr new --cn "$DOM" --country US \
  "${SUBJ[@]}" --email postmaster@$DOM --key rsa:1024
bad "a CN that is not a DNS name" "cn:"      csr new --cn "bad_name.test" --country US "${SUBJ[@]}" --email postmaster@$DOM
bad "an e-mail that is not one"   "email:"   csr new --cn "$DOM" --country US "${SUBJ[@]}" --email postmaster
# missing NAME OPTION LABEL ARGS...: exit 2, the manual's label for the field and the option that gives it.
missing() {
  local name=$1 opt=$2 label=$3 out rc; shift 3
  out=$(ctl csr new "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = 2 ] && grep -qF -- "the '$label' is required" <<<"$out" && grep -qF -- "give it with $opt" <<<"$out"
  then pass "$name: exit 2, '$(head -1 <<<"$out")'"
  else fail "$name" "exit $rc, expected 2 naming '$label' and $opt: $out"; fi
}
missing "no country"  --country  "Country Name"           --cn "$DOM" "${SUBJ[@]}" --email postmaster@$DOM
missing "no state"    --state    "State or Province Name" --cn "$DOM" --country US --locality L --org O --email a@$DOM
missing "no locality" --locality "Locality Name"          --cn "$DOM" --country US --state S --org O --email a@$DOM
missing "no org"      --org      "Organization Name"      --cn "$DOM" --country US --state S --locality L --email a@$DOM
missing "no e-mail"   --email    "Email Address"          --cn "$DOM" --country US "${SUBJ[@]}"
bad "an empty state is refused by the core" "state: the 'State or Province Name' is required" \
  csr new --cn "$DOM" --country US --state " " --locality L --org O --email a@$DOM
check "nothing was written by the refusals" test -z "$(ls -A "$D/ssl.key" "$D/ssl.csr" 2>/dev/null)"

ctl csr new --cn "$DOM" --country us --state California --locality "Mountain View" --org "ISMail Tests, Inc." \
  --unit Mail --email postmaster@$DOM --san www.$DOM imap.$DOM >"$W/csr.out" 2>&1
check "csr new writes ssl.csr/$DOM.csr and ssl.key/$DOM.key" test -s "$D/ssl.csr/$DOM.csr" -a -s "$D/ssl.key/$DOM.key"
check "openssl req -verify accepts the CSR" openssl req -in "$D/ssl.csr/$DOM.csr" -verify -noout
REQ=$(openssl req -in "$D/ssl.csr/$DOM.csr" -noout -text 2>/dev/null)
has() { grep -qF -- "$1" <<<"$REQ"; }
check "the CSR's subject has the fields given (country upper-cased)" \
  has "Subject: C = US, ST = California, L = Mountain View, O = \"ISMail Tests, Inc.\", OU = Mail, CN = $DOM, emailAddress = postmaster@$DOM"
check "the CSR's subjectAltName is the CN then the --san names" has "DNS:$DOM, DNS:www.$DOM, DNS:imap.$DOM"
check "default key: RSA 2048" has "Public-Key: (2048 bit)"
check "key folder 0700, key file 0600" \
  test "$(stat -c %a "$D/ssl.key")" = 700 -a "$(stat -c %a "$D/ssl.key/$DOM.key")" = 600
check "the key has no pass phrase" openssl pkey -in "$D/ssl.key/$DOM.key" -noout -passin pass:
check "csr show reports the request as pending, key matching" \
  bash -c "'$B/ctl/ismailctl' --data '$D' csr show $DOM | grep -q '^status *pending' && \
           '$B/ctl/ismailctl' --data '$D' csr show $DOM | grep -q 'private key .*: match'"
KEY_HASH=$(sha256sum <"$D/ssl.key/$DOM.key")
bad "an existing key is not replaced without --force" "--force" csr new --cn "$DOM" --country US "${SUBJ[@]}" \
  --email postmaster@$DOM
check "the key is unchanged" test "$(sha256sum <"$D/ssl.key/$DOM.key")" = "$KEY_HASH"
ctl --force csr new --cn mail.$DOM --country US "${SUBJ[@]}" --email postmaster@$DOM --key ec:P-256 \
  >/dev/null 2>"$W/warn"
check "a CN with 'mail.' is made but warned about (the manual's advice)" grep -q "WITHOUT a 'mail' or 'www' prefix" "$W/warn"
ctl --force csr new --cn mail.$DOM --country US "${SUBJ[@]}" --email postmaster@$DOM --key ec:P-256 >/dev/null 2>&1
check "--force keeps the previous key as DOMAIN.key.YYYYMMDD-HHMMSS.bak, still 0600" \
  bash -c "ls '$D/ssl.key' | grep -qE '^mail\.$DOM\.key\.[0-9]{8}-[0-9]{6}\.bak$' && \
           test \"\$(stat -c %a '$D'/ssl.key/mail.$DOM.key.*.bak)\" = 600"

# ---- a test CA signs it ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Test CA" \
  -keyout "$W/ca.key" -out "$W/ca.pem" -days 30 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:www.%s,DNS:imap.%s\nextendedKeyUsage=serverAuth\n' $DOM $DOM $DOM >"$W/ext.cnf"
openssl x509 -req -in "$D/ssl.csr/$DOM.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 90 \
  -extfile "$W/ext.cnf" -out "$W/leaf.pem" 2>/dev/null
check "the test CA signed the CSR" test -s "$W/leaf.pem"
FP=$(openssl x509 -in "$W/leaf.pem" -noout -fingerprint -sha256 | cut -d= -f2)

# ---- install: PEM, DER, PKCS#12 ----
ctl cert install "$W/leaf.pem" >"$W/out" 2>"$W/warn"; rc=$?
check "PEM without its CA installs (exit 0)" test "$rc" = 0
check "... with an incomplete-chain warning" grep -q "incomplete chain" "$W/warn"
check "cert list says 'incomplete chain'" bash -c "'$B/ctl/ismailctl' --data '$D' cert list | grep -q '^$DOM .*incomplete chain\$'"
check "PEM with --ca installs" quiet ctl cert install "$W/leaf.pem" --ca "$W/ca.pem"
LIST=$(ctl cert list)
echo "$LIST"
check "cert list: one line for $DOM, key match, ok" grep -qE "^$DOM +[0-9-]{10} +(89|90) +match +ok$" <<<"$LIST"
SHOW=$(ctl cert show $DOM)
check "cert show: the fingerprint is openssl's" grep -qF "sha256        $FP" <<<"$SHOW"
check "cert show: the SANs, issuer and chain" bash -c "grep -q 'names *$DOM, www.$DOM, imap.$DOM' <<<\"\$0\" && \
  grep -q 'issuer *O=ISMail Tests, CN=ISMail Test CA' <<<\"\$0\" && grep -q 'chain *1. O=ISMail Tests, CN=ISMail Test CA' <<<\"\$0\"" "$SHOW"
check "the installed file is the certificate then its CA" \
  test "$(grep -c 'BEGIN CERTIFICATE' "$D/ssl.crt/$DOM.crt")" = 2
jfp() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["fingerprint_sha256"], d["status"], d["key"])'; }
check "cert show --json parses, same fingerprint" test "$(ctl --json cert show $DOM | jfp)" = "$FP ok match"
check "cert list --json parses" bash -c "'$B/ctl/ismailctl' --data '$D' cert list --json | python3 -c 'import json,sys; l=json.load(sys.stdin); assert l[0][\"domain\"]==\"$DOM\" and l[0][\"status\"]==\"ok\"'"

openssl x509 -in "$W/leaf.pem" -outform DER -out "$W/leaf.der"
check "DER installs" quiet ctl cert install "$W/leaf.der" --ca "$W/ca.pem"

check "cert remove keeps backups and removes the pair" bash -c "'$B/ctl/ismailctl' --data '$D' cert remove $DOM >/dev/null && \
  test ! -e '$D/ssl.crt/$DOM.crt' -a ! -e '$D/ssl.key/$DOM.key' && ls '$D/ssl.key' | grep -q '^$DOM\.key\..*\.bak$'"
BAK_KEY=$(ls "$D"/ssl.key/$DOM.key.*.bak | head -1)
echo "pfx-pass-123" >"$W/pw"
openssl pkcs12 -export -in "$W/leaf.pem" -inkey "$BAK_KEY" -certfile "$W/ca.pem" -passout file:"$W/pw" -out "$W/site.pfx" 2>/dev/null
echo "wrong" >"$W/pw-wrong"
bad "a PFX with the wrong password is refused" "password" cert install "$W/site.pfx" --password-file "$W/pw-wrong"
check "PFX with --password-file installs certificate, chain and key" quiet ctl cert install "$W/site.pfx" --password-file "$W/pw"
check "the key from the PFX is 0600 and matches" bash -c "test \"\$(stat -c %a '$D/ssl.key/$DOM.key')\" = 600 && \
  '$B/ctl/ismailctl' --data '$D' cert list | grep -qE '^$DOM .* match +ok\$'"
check "cert show: fingerprint unchanged after the PFX" bash -c "'$B/ctl/ismailctl' --data '$D' cert show $DOM | grep -qF '$FP'"

# ---- the service serves it ----
# Every listener on a free port (the service has more than the SMTP ones).
P_SMTP=$(free_port); P_SUB=$(free_port); P_SMTPS=$(free_port)
others=()
for k in $(ctl show | awk '$1 ~ /\.port$/ && $1 !~ /^(smtp|submission|smtps)\.port$/ {print $1}'); do
  others+=("$k" "$(free_port)")
done
ctl set listen.address 127.0.0.1 smtp.port "$P_SMTP" submission.port "$P_SUB" smtps.port "$P_SMTPS" "${others[@]}" \
  server.hostname $DOM smtp.tls.incoming on >/dev/null || { fail setup "ismailctl set failed"; finish; }
"$B/service/ismail-service" --data "$D" >"$W/console.log" 2>&1 &
SVC_PID=$!
rev() { ctl status | sed -n 's/^store revision: *//p'; }
applied() { local a; a=$(ctl status | sed -n 's/^applied revision: \([0-9]*\).*/\1/p'); [ -n "$a" ] && [ "$a" -ge "$1" ]; }
served_fp() { echo | timeout 10 openssl s_client -connect 127.0.0.1:"$P_SMTP" -starttls smtp 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
serves() { [ "$(served_fp)" = "$1" ]; }
check "service starts and applies the store" wait_until 20 applied "$(rev)"
check "STARTTLS serves the installed certificate (same SHA-256 fingerprint)" wait_until 10 serves "$FP"

# A renewed certificate copied in by hand, with the key left readable by others.
openssl x509 -req -in "$D/ssl.csr/$DOM.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 60 \
  -extfile "$W/ext.cnf" -out "$W/renewed.pem" 2>/dev/null
FP2=$(openssl x509 -in "$W/renewed.pem" -noout -fingerprint -sha256 | cut -d= -f2)
cat "$W/renewed.pem" "$W/ca.pem" >"$D/ssl.crt/$DOM.crt"
chmod 644 "$D/ssl.key/$DOM.key"
out=$(ctl cert show $DOM 2>&1)
check "cert show reports the key as not private, with the fix" \
  bash -c "grep -q '^status *key not private' <<<\"\$0\" && grep -qF 'chmod 600 $D/ssl.key/$DOM.key' <<<\"\$0\"" "$out"
check "cert install refuses to use the open key" not quiet ctl cert install "$W/renewed.pem" --ca "$W/ca.pem" 2>/dev/null
ctl set tls.profile modern >/dev/null
status_names_key() { applied "$(rev)" && ctl status | grep -q "^last error: .*$D/ssl.key/$DOM.key.*Restrict access.*ismailctl cert protect $DOM\$"; }
check "after a settings change, status shows the error naming the key file" wait_until 10 status_names_key
check "... and the service keeps serving the previous certificate" serves "$FP"

chmod 600 "$D/ssl.key/$DOM.key"
ctl set tls.profile intermediate >/dev/null
check "key fixed: the next change serves the renewed certificate" wait_until 10 serves "$FP2"
no_error() { applied "$(rev)" && ctl status | grep -q '^last error: *none'; }
check "... and status shows no error" wait_until 10 no_error

kill -TERM "$SVC_PID"
stopped() { ! kill -0 "$SVC_PID" 2>/dev/null; }
check "the service stops" wait_until 10 stopped
wait "$SVC_PID" 2>/dev/null; SVC_PID=
finish
