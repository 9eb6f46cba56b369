#!/usr/bin/env bash
# Certificates chosen by their own names, end to end with openssl s_client as
# the judge (-CAfile, -verify_return_error, -verify_hostname):
#  - the manual's flow: a CSR for the bare domain example.com, a test CA signs
#    a certificate naming example.com and mail.example.com, installed as
#    ssl.crt/example.com.crt; it is served to SNI mail.example.com, to SNI
#    example.com and, once server.hostname is mail.example.com, to clients
#    without SNI, on IMAPS, POP3S, SMTPS and STARTTLS on SMTP, POP3 and IMAP;
#  - before that host name is set, clients without SNI get the host's
#    self-signed certificate;
#  - a wildcard certificate (*.example.org) serves mail.example.org; an
#    expired and a not-yet-valid certificate naming mail.example.org exactly
#    are never chosen over it;
#  - an SNI name nothing matches gets the host name's certificate;
#  - `ismailctl status` (text and --json) shows each certificate's names and
#    which one serves clients without SNI.
#   tests/e2e/cert-names.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
SVC=${ISMAIL_SERVICE:-$B/service/ismail-service}
T_SUITE=cert-names
. "$(dirname "$0")/../lib.sh"

D=$(mktemp -d)    # the data folder
W=$(mktemp -d)    # the test CA and the files handed in
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$D" "$W"; }
trap cleanup EXIT
ctl() { "$B/ctl/ismailctl" --data "$D" "$@"; }
H0=host.ismail.test   # the first host name: its self-signed certificate is made at start

declare -A P
for k in smtp submission smtps pop pops imap imaps http https; do P[$k]=$(free_port); done
ctl set listen.address 127.0.0.1 server.hostname $H0 smtp.port ${P[smtp]} submission.port ${P[submission]} \
  smtps.port ${P[smtps]} pop.port ${P[pop]} pops.port ${P[pops]} imap.port ${P[imap]} imaps.port ${P[imaps]} \
  http.port ${P[http]} https.port ${P[https]} smtp.tls.incoming on pop.tls.incoming on imap.tls.incoming on >/dev/null

# The listeners as "port:mode" (mode: implicit, or the s_client -starttls protocol).
LISTENERS="${P[imaps]}:implicit ${P[pops]}:implicit ${P[smtps]}:implicit ${P[smtp]}:smtp ${P[pop]}:pop3 ${P[imap]}:imap"
# served PORT MODE SNI: the SHA-256 fingerprint of the certificate served ("-": no SNI).
served() {
  local sni=(-servername "$3") st=()
  [ "$3" = - ] && sni=(-noservername)
  [ "$2" = implicit ] || st=(-starttls "$2")
  timeout 10 openssl s_client -connect "127.0.0.1:$1" "${st[@]}" "${sni[@]}" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
# verified PORT MODE SNI NAME: the chain verifies against the test CA and the certificate names NAME.
verified() {
  local sni=(-servername "$3") st=()
  [ "$3" = - ] && sni=(-noservername)
  [ "$2" = implicit ] || st=(-starttls "$2")
  timeout 10 openssl s_client -connect "127.0.0.1:$1" "${st[@]}" "${sni[@]}" -CAfile "$W/ca.pem" \
    -verify_return_error -verify_hostname "$4" </dev/null >"$W/sc.out" 2>&1 && grep -q 'Verify return code: 0 (ok)' "$W/sc.out"
}
# every_listener SNI FP [NAME]: every TLS listener serves FP to SNI (and it verifies for NAME).
every_listener() {
  local x bad=
  for x in $LISTENERS; do
    [ "$(served "${x%%:*}" "${x##*:}" "$1")" = "$2" ] || { bad="$bad ${x}"; continue; }
    [ -z "${3:-}" ] || verified "${x%%:*}" "${x##*:}" "$1" "$3" || bad="$bad ${x}(verify)"
  done
  [ -z "$bad" ] || { echo "  not served on:$bad" >&2; return 1; }
}
fpfile() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
up_to_date() { ctl --json status | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["up_to_date"] else 1)'; }
# reload_applied: the service re-reads the certificate files; waits for the applied revision.
reload_applied() { ctl reload >/dev/null && wait_until 20 up_to_date; }
port_open() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=2).close()' "$1" 2>/dev/null; }

# ---- a test CA; a CSR for the bare domain; the CA signs two names ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Names Test CA" \
  -keyout "$W/ca.key" -out "$W/ca.pem" -days 30 2>/dev/null
ctl csr new --cn example.com --country US --state California --locality Somewhere --org "ISMail Tests" \
  --email postmaster@example.com >/dev/null 2>&1
check "test setup: CSR and key for the bare domain example.com" test -s "$D/ssl.csr/example.com.csr" -a -s "$D/ssl.key/example.com.key"
printf 'subjectAltName=DNS:example.com,DNS:mail.example.com\nextendedKeyUsage=serverAuth\n' >"$W/ext.cnf"
openssl x509 -req -in "$D/ssl.csr/example.com.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 20 \
  -extfile "$W/ext.cnf" -out "$W/example.com.pem" 2>/dev/null
FP_EX=$(fpfile "$W/example.com.pem")

"$SVC" --data "$D" >"$D/console.log" 2>&1 & SVC_PID=$!
check "service up, IMAPS open" wait_until 20 port_open "${P[imaps]}"
check "service applied the settings" wait_until 20 up_to_date
check "test setup: the host's self-signed certificate was made" test -s "$D/ssl.crt/$H0.crt"
FP_SELF=$(fpfile "$D/ssl.crt/$H0.crt")

check "ismailctl cert install (the CA-signed example.com certificate, with --ca) exits 0" \
  bash -c "'$B/ctl/ismailctl' --data '$D' cert install '$W/example.com.pem' --ca '$W/ca.pem' >/dev/null 2>&1"
check "installed as ssl.crt/example.com.crt" test -s "$D/ssl.crt/example.com.crt"
reload_applied
check "SNI mail.example.com: the CA-signed certificate, verified for mail.example.com, on all six listeners" \
  every_listener mail.example.com "$FP_EX" mail.example.com
check "SNI example.com: the CA-signed certificate, verified for example.com, on all six listeners" \
  every_listener example.com "$FP_EX" example.com
check "SNI MAIL.Example.COM (case): the CA-signed certificate" every_listener MAIL.Example.COM "$FP_EX"
check "no SNI, host name $H0: the host's self-signed certificate" every_listener - "$FP_SELF"
check "SNI nothing matches (other.invalid), host name $H0: the host's self-signed certificate" \
  every_listener other.invalid "$FP_SELF"

ctl set server.hostname mail.example.com >/dev/null
check "server.hostname mail.example.com applied" wait_until 20 up_to_date
check "no SNI, host name mail.example.com: the CA-signed certificate, verified for mail.example.com" \
  every_listener - "$FP_EX" mail.example.com
check "SNI nothing matches (other.invalid): the host name's certificate" every_listener other.invalid "$FP_EX"
check "the service made no certificate of its own for mail.example.com that is served" \
  bash -c "[ ! -e '$D/ssl.crt/mail.example.com.crt' ] || [ \"\$(openssl x509 -in '$D/ssl.crt/mail.example.com.crt' -noout -fingerprint -sha256 | cut -d= -f2)\" != '$FP_SELF' ]"

# ---- status ----
ST=$(ctl status)
check "status lists ssl.crt/example.com.crt with its names" \
  bash -c "grep -A1 '^certificate .*/ssl.crt/example.com.crt\$' <<<\"\$1\" | grep -q '^  names *example.com, mail.example.com\$'" _ "$ST"
check "status: example.com.crt serves clients without SNI on every mail TLS listener" \
  bash -c "grep -A4 '^certificate .*/ssl.crt/example.com.crt\$' <<<\"\$1\" | grep -q '^  without SNI  smtp, submission, smtps, pop3, pop3s, imap, imaps'" _ "$ST"
check "status --json: imaps's no_sni_certificate is example.com.crt, and the certificate's names and validity" \
  bash -c "'$B/ctl/ismailctl' --data '$D' --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
l = [x for x in d[\"listeners\"] if x[\"name\"] == \"imaps\"][0]
assert l[\"no_sni_certificate\"].endswith(\"ssl.crt/example.com.crt\"), l
c = [x for x in d[\"certificates\"] if x[\"file\"].endswith(\"ssl.crt/example.com.crt\")][0]
assert c[\"names\"] == [\"example.com\", \"mail.example.com\"], c
assert c[\"validity\"] == \"valid\" and \"imaps\" in c[\"no_sni_listeners\"], c
'"

# ---- wildcard, expired, not yet valid (files copied in, as the manual does) ----
mkdir -p "$W/ca-db"; : >"$W/ca-db/index.txt"; echo 01 >"$W/ca-db/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/ca-db/index.txt\nnew_certs_dir=%s/ca-db\nserial=%s/ca-db/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\nunique_subject=no\n[p]\ncommonName=supplied\n' \
  "$W" "$W" "$W" >"$W/ca.cnf"
# sign NAME SAN START END: ssl.crt/NAME.crt + ssl.key/NAME.key signed by the test CA.
sign() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -addext "subjectAltName=$2" \
    -keyout "$W/$1.key" -out "$W/$1.csr" 2>/dev/null
  openssl ca -batch -config "$W/ca.cnf" -cert "$W/ca.pem" -keyfile "$W/ca.key" -in "$W/$1.csr" -startdate "$3" \
    -enddate "$4" -notext -out "$W/$1.crt" 2>/dev/null
  cp "$W/$1.key" "$D/ssl.key/$1.key" && chmod 600 "$D/ssl.key/$1.key" && cp "$W/$1.crt" "$D/ssl.crt/$1.crt"
}
NOW=$(date -u +%Y%m%d%H%M%SZ)
sign example.org "DNS:*.example.org" 20200101000000Z "$(date -u -d '+20 days' +%Y%m%d%H%M%SZ)"
sign old.example.org "DNS:mail.example.org,DNS:old.example.net" 20200101000000Z 20200201000000Z
sign future.example.org "DNS:mail.example.org,DNS:future.example.org" "$(date -u -d '+10 days' +%Y%m%d%H%M%SZ)" \
  "$(date -u -d '+900 days' +%Y%m%d%H%M%SZ)"
check "test setup: the expired certificate is expired" bash -c "! openssl x509 -in '$W/old.example.org.crt' -noout -checkend 0 >/dev/null"
check "test setup: the future certificate is not valid yet" \
  bash -c "[ \"\$(openssl x509 -in '$W/future.example.org.crt' -noout -startdate | cut -d= -f2 | xargs -I{} date -u -d {} +%s)\" -gt $(date +%s) ]"
FP_WILD=$(fpfile "$W/example.org.crt"); FP_OLD=$(fpfile "$W/old.example.org.crt")
reload_applied
check "the set with expired and not-yet-valid certificates applies without error" \
  bash -c "'$B/ctl/ismailctl' --data '$D' status | grep -q '^last error: *none'"
check "SNI mail.example.org: the valid wildcard *.example.org, verified, over the expired and the not-yet-valid exact ones" \
  every_listener mail.example.org "$FP_WILD" mail.example.org
check "SNI old.example.net: only the expired one names it, so it is served" every_listener old.example.net "$FP_OLD"
check "SNI old.example.org: the valid wildcard, not the expired old.example.org.crt" every_listener old.example.org "$FP_WILD"
check "SNI a.b.example.org (two labels under the wildcard): the host name's certificate" \
  every_listener a.b.example.org "$FP_EX"
check "SNI example.org (the wildcard's own domain): the host name's certificate" every_listener example.org "$FP_EX"
check "SNI mail.example.com still gets the CA-signed example.com certificate" every_listener mail.example.com "$FP_EX"
check "status shows the expired certificate as expired" \
  bash -c "grep -A2 '^certificate .*/ssl.crt/old.example.org.crt\$' <<<\"\$('$B/ctl/ismailctl' --data '$D' status)\" | grep -q '(expired)\$'"

# An expired certificate for the host name does not take the place of a valid one.
sign stale.example.com "DNS:mail.example.com,DNS:example.com" 20200101000000Z 20200301000000Z
reload_applied
check "an expired certificate naming mail.example.com: the valid one still serves no SNI and SNI mail.example.com" \
  bash -c "$(declare -f served every_listener verified); LISTENERS='$LISTENERS' W='$W'; every_listener - '$FP_EX' && every_listener mail.example.com '$FP_EX'"

check "the service is still running" kill -0 "$SVC_PID"
finish
