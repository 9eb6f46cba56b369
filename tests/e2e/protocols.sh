#!/usr/bin/env bash
# The service's listeners with real clients (curl, openssl s_client,
# testssl.sh): mail sent over submission+STARTTLS and SMTPS is read back over
# POP3+STLS, POP3S, IMAP+STARTTLS and IMAPS; STARTTLS injection on all three
# protocols; credentials refused before TLS; SNI with two certificates on one
# port; the web server (status page, /.well-known/, redirect to HTTPS, a web
# SSL domain over HTTPS); testssl.sh on every TLS port.
#   tests/e2e/protocols.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=protocols
. "$HERE/lib-e2e.sh"
PROBE="python3 $TOOLS/tlsprobe.py"
H=mail.ismail.test
e2e_ports
P[web]=$(free_port)
ctl set server.hostname $H smtp.tls.incoming on pop.tls.incoming on imap.tls.incoming on >/dev/null
ctl localdomain add ismail.test >/dev/null
printf 'correct-horse-battery\n' >"$D/pw"
ctl user add alice@ismail.test --password-file "$D/pw" >/dev/null
U="alice@ismail.test:correct-horse-battery"

e2e_start_service "service up with all listeners" port_open "${P[imaps]}"

# --- mail in: submission with STARTTLS + AUTH, and SMTPS ---
mkmsg() { printf 'From: alice@ismail.test\r\nTo: alice@ismail.test\r\nSubject: %s\r\nMessage-ID: <%s@ismail.test>\r\n\r\nbody line for %s\r\n' "$1" "$1" "$1" >"$D/$1.eml"; }
mkmsg first; mkmsg second
check "curl sends over submission with STARTTLS and AUTH" \
  curl -sS --max-time 20 --url "smtp://127.0.0.1:${P[submission]}" --ssl-reqd -k --user "$U" \
  --mail-from alice@ismail.test --mail-rcpt alice@ismail.test --upload-file "$D/first.eml"
check "curl sends over SMTPS (465-style implicit TLS)" \
  curl -sS --max-time 20 --url "smtps://127.0.0.1:${P[smtps]}" -k --user "$U" \
  --mail-from alice@ismail.test --mail-rcpt alice@ismail.test --upload-file "$D/second.eml"

# --- mail out: POP3 STLS, POP3S, IMAP STARTTLS, IMAPS ---
has_body() { grep -q "body line for first" <<<"$1" && grep -q "body line for second" <<<"$1"; }
pop_stls=$(curl -sS --max-time 20 --ssl-reqd -k --user "$U" "pop3://127.0.0.1:${P[pop]}/1"; curl -sS --max-time 20 --ssl-reqd -k --user "$U" "pop3://127.0.0.1:${P[pop]}/2")
check "curl pop3:// --ssl-reqd (STLS) reads both messages" has_body "$pop_stls"
pops=$(curl -sS --max-time 20 -k --user "$U" "pop3s://127.0.0.1:${P[pops]}/1"; curl -sS --max-time 20 -k --user "$U" "pop3s://127.0.0.1:${P[pops]}/2")
check "curl pop3s:// reads both messages" has_body "$pops"
imap_stls=$(curl -sS --max-time 20 --ssl-reqd -k --user "$U" "imap://127.0.0.1:${P[imap]}/INBOX;UID=1"; curl -sS --max-time 20 --ssl-reqd -k --user "$U" "imap://127.0.0.1:${P[imap]}/INBOX;UID=2")
check "curl imap:// --ssl-reqd (STARTTLS) reads both messages" has_body "$imap_stls"
imaps=$(curl -sS --max-time 20 -k --user "$U" "imaps://127.0.0.1:${P[imaps]}/INBOX;UID=1"; curl -sS --max-time 20 -k --user "$U" "imaps://127.0.0.1:${P[imaps]}/INBOX;UID=2")
check "curl imaps:// reads both messages" has_body "$imaps"
recv_tls() { # the first Received header, unfolded, names ESMTPSA and the TLS version
  local r; r=$(tr -d '\r' <<<"$imaps" | awk '/^Received:/{p=1; printf "%s", $0; next} p && /^[ \t]/{printf " %s", $0; next} p{exit}')
  grep -q 'with ESMTPSA' <<<"$r" && grep -qE 'version=TLSv1\.[23]' <<<"$r"
}
check "the Received header records ESMTPSA and the TLS version" recv_tls

# --- openssl s_client STARTTLS on all three ---
sc() { echo | timeout 15 openssl s_client -connect 127.0.0.1:$1 -starttls $2 -brief 2>&1 | grep -q 'Protocol version: TLSv1.3'; }
check "openssl s_client -starttls smtp" sc "${P[smtp]}" smtp
check "openssl s_client -starttls pop3" sc "${P[pop]}" pop3
check "openssl s_client -starttls imap" sc "${P[imap]}" imap
check "swaks with STARTTLS on the MX port" bash -c "swaks --server 127.0.0.1:${P[smtp]} --tls --to alice@ismail.test --from bob@example.org --silent 2 >/dev/null"

# --- STARTTLS injection: nothing smuggled after STARTTLS/STLS is answered ---
inject() { python3 "$TOOLS/starttls.py" inject "$1" "$2" >/dev/null; }
check "STARTTLS injection (SMTP): the smuggled EHLO is not answered" inject "${P[smtp]}" smtp
check "STARTTLS injection (POP3): the smuggled CAPA is not answered" inject "${P[pop]}" pop3
check "STARTTLS injection (IMAP): the smuggled CAPABILITY is not answered" inject "${P[imap]}" imap

# --- credentials before TLS refused when TLS is on ---
plain_refused() { python3 "$TOOLS/starttls.py" plain-login "$1" "$2" alice@ismail.test correct-horse-battery; }
check "credentials before TLS refused on submission (538, no AUTH offered)" plain_refused "${P[submission]}" smtp
check "credentials before TLS refused on POP3" plain_refused "${P[pop]}" pop3
check "credentials before TLS refused on IMAP (LOGINDISABLED)" plain_refused "${P[imap]}" imap

# --- SNI: two certificates on one port ---
O=other.ismail.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$O" -addext "subjectAltName=DNS:$O" \
  -keyout "$D/ssl.key/$O.key" -out "$D/ssl.crt/$O.crt" -days 365 2>/dev/null
chmod 600 "$D/ssl.key/$O.key"
ctl reload >/dev/null
FPO=$(openssl x509 -in "$D/ssl.crt/$O.crt" -noout -fingerprint -sha256 | cut -d= -f2)
FPH=$(openssl x509 -in "$D/ssl.crt/$H.crt" -noout -fingerprint -sha256 | cut -d= -f2)
sni_is() { [ -n "$4" ] && [ "$($PROBE fp "$1" "$2" ${3:+"$3"} 2>/dev/null)" = "$4" ]; } # sni_is PORT MODE SNI|"" FINGERPRINT
check "SNI $O on IMAPS gets its own certificate" wait_until 10 sni_is "${P[imaps]}" implicit $O "$FPO"
check "SNI $O over SMTP STARTTLS gets its own certificate" sni_is "${P[smtp]}" smtp $O "$FPO"
check "SNI $H gets the host's certificate" sni_is "${P[imaps]}" implicit $H "$FPH"
check "no SNI gets the default (host's) certificate" sni_is "${P[imaps]}" implicit "" "$FPH"

# --- web server ---
check "HTTP status page" bash -c "curl -sS --max-time 10 http://127.0.0.1:${P[http]}/status | grep -q 'ISMail'"
mkdir -p "$D/www/.well-known/acme-challenge"; echo token-123 >"$D/www/.well-known/acme-challenge/tok"
check "HTTP serves /.well-known/ files" bash -c "curl -sS --max-time 10 http://127.0.0.1:${P[http]}/.well-known/acme-challenge/tok | grep -qx token-123"
W=web.ismail.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$W" -addext "subjectAltName=DNS:$W" \
  -keyout "$D/ssl.key/$W.key" -out "$D/ssl.crt/$W.crt" -days 365 2>/dev/null
chmod 600 "$D/ssl.key/$W.key"
ctl domain add $W --ip 127.0.0.1 --port ${P[web]} --cert $W.crt --key $W.key >/dev/null
https_ok() { curl -sS --max-time 10 --cacert "$D/ssl.crt/$W.crt" --resolve "$W:${P[web]}:127.0.0.1" "https://$W:${P[web]}/status" | grep -q ISMail; }
check "a web SSL domain is reached with curl over HTTPS, its certificate verified" wait_until 10 https_ok
redir() { curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $W" "http://127.0.0.1:${P[http]}/x?y" | grep -q "^301 https://$W:${P[web]}/x?y"; }
check "HTTP redirects the web SSL domain to HTTPS" redir
check "HTTP does not redirect other hosts" bash -c "curl -sS -o /dev/null -w '%{http_code}' -H 'Host: elsewhere.test' http://127.0.0.1:${P[http]}/status | grep -q 200"

# --- testssl.sh on every TLS port ---
# The scans judge the TLS settings, which are the same in the ASan+UBSan
# variant of this suite (run-all.sh); there only the sessions above are of
# interest, so the scans run in the native run alone.
if [ "${ISMAIL_E2E_VARIANT:-}" = asan ]; then
  echo "NOTE: testssl.sh scans are made by the native run of this suite, not repeated under ASan"
elif command -v testssl >/dev/null; then
  ts() { # ts NAME PORT [STARTTLS-PROTO]
    local name=$1 port=$2 proto=${3:-}
    testssl --quiet --color 0 --warnings off --ip 127.0.0.1 --jsonfile "$D/ts-$name.json" -p -s -f -S -P -U \
      ${proto:+-t $proto} "127.0.0.1:$port" >"$D/ts-$name.txt" 2>&1
  }
  pair() { # two scans at a time; wait for those two only (not the service)
    ts $1 & local a=$!; ts $2 & local b=$!; wait $a $b
  }
  pair "smtp ${P[smtp]} smtp" "smtps ${P[smtps]}"
  pair "submission ${P[submission]} smtp" "pop3 ${P[pop]} pop3"
  pair "pop3s ${P[pops]}" "imap ${P[imap]} imap"
  pair "imaps ${P[imaps]}" "https ${P[web]}"
  for name in smtp smtps submission pop3 pop3s imap imaps https; do
    verdict=$(python3 "$TOOLS/testssl-verdict.py" "$D/ts-$name.json")
    if [ $? = 0 ]; then pass "testssl.sh $name: $verdict"; else fail "testssl.sh $name" "$verdict"; fi
  done
else
  fail "testssl.sh" "testssl.sh is not installed (cmake/bootstrap.sh installs it)"
fi

e2e_stop
finish
