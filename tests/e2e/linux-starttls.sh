#!/usr/bin/env bash
# Linux end to end: the service in the foreground on loopback ports; turning
# smtp.tls.incoming on and off through the store (no restart) switches
# STARTTLS and the SMTPS listener, checked with openssl s_client.
#   tests/e2e/linux-starttls.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=linux-e2e
. "$(dirname "$0")/lib-e2e.sh"

e2e_ports
ctl set server.hostname mail.ismail.test >/dev/null || { fail setup "ismailctl set failed"; finish; }
P_SMTP=${P[smtp]}; P_SUB=${P[submission]}; P_SMTPS=${P[smtps]}

e2e_launch
no_starttls() { ! smtp_ehlo "$1" | grep -q STARTTLS; }
has_starttls() { smtp_ehlo "$1" | grep -q '^250-STARTTLS'; }

service_up "service starts and applies the store" "$SVC_PID" "$D/console.log" 20 applied_latest
check "self-signed certificate created for the host on first start" \
  test -s "$D/ssl.crt/mail.ismail.test.crt" -a -s "$D/ssl.key/mail.ismail.test.key"
check "key folder is private (0700) and key file 0600" \
  test "$(stat -c %a "$D/ssl.key")" = 700 -a "$(stat -c %a "$D/ssl.key/mail.ismail.test.key")" = 600
check "TLS off: EHLO on the SMTP port does not offer STARTTLS" no_starttls "$P_SMTP"
check "TLS off: openssl s_client -starttls smtp fails" not starttls_ok "$P_SMTP"
check "TLS off: the SMTPS port is closed" not port_open "$P_SMTPS"

# A plaintext session opened before the change must survive it.
exec 7<>/dev/tcp/127.0.0.1/"$P_SMTP"
read -r -t 5 GREETING <&7
check "early session greeted" test "${GREETING:0:3}" = 220

ctl set smtp.tls.incoming on >/dev/null
check "TLS on: STARTTLS completes a TLS 1.3 handshake (no restart)" wait_until 10 starttls_ok "$P_SMTP"
check "TLS on: EHLO offers STARTTLS" has_starttls "$P_SMTP"
check "TLS on: submission port offers STARTTLS" has_starttls "$P_SUB"
check "TLS on: SMTPS port speaks implicit TLS" wait_until 10 bash -c \
  "echo | timeout 10 openssl s_client -connect 127.0.0.1:$P_SMTPS -brief 2>&1 | grep -q 'Protocol version: TLSv1'"
status_tls_on() { applied "$(rev)" && ctl status | grep -q '^listener smtp .*tls on  [0-9A-F][0-9A-F]:'; }
check "status shows the applied revision and the fingerprint served" status_tls_on
FP_SERVED=$(echo | openssl s_client -connect 127.0.0.1:"$P_SMTP" -starttls smtp 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
FP_FILE=$(openssl x509 -in "$D/ssl.crt/mail.ismail.test.crt" -noout -fingerprint -sha256 | cut -d= -f2)
check "the certificate served is the one in ssl.crt" test -n "$FP_SERVED" -a "$FP_SERVED" = "$FP_FILE"
status_has() { ctl status | grep -qF "$1"; }
check "ismailctl status reports the same fingerprint" status_has "$FP_FILE"

# STARTTLS injection (RFC 3207 4.2): a command sent with STARTTLS in one
# segment must not be answered inside TLS.
inj=$(python3 "$TOOLS/starttls.py" inject "$P_SMTP" smtp NOOP)
check "STARTTLS injection: the smuggled NOOP gets no answer inside TLS" \
  bash -c "grep -q '^220 2.0.0' <<<'$inj' && grep -q 'nothing smuggled' <<<'$inj' && grep -q '^250' <<<'$(tail -1 <<<"$inj")'"

check "early session still answers NOOP after the change" \
  bash -c "printf 'NOOP\r\n' >&7 && read -r -t 5 l <&7 && test \"\${l:0:3}\" = 250"

ctl set smtp.tls.incoming off >/dev/null
check "TLS off again: STARTTLS no longer offered" wait_until 10 no_starttls "$P_SMTP"
check "TLS off again: SMTPS port closed" wait_until 10 not port_open "$P_SMTPS"
check "early session survives the second change too" \
  bash -c "printf 'NOOP\r\n' >&7 && read -r -t 5 l <&7 && test \"\${l:0:3}\" = 250"
exec 7>&-

out=$(ctl set smtp.port 70000 2>&1); rc=$?
check "a bad value is refused with exit 3 naming the key" test "$rc" = 3 -a -n "$(grep smtp.port <<<"$out")"
ehlo_ok() { smtp_ehlo "$1" | grep -q '^250 '; }
check "the service still answers after the refused change" ehlo_ok "$P_SMTP"

kill -TERM "$SVC_PID"
check "SIGTERM stops the service cleanly" wait_until 10 e2e_stopped
e2e_stop; rc=$?
check "exit code 0 after a clean stop" test "$rc" = 0
check "log records the stop" grep -q 'ISMail service stopped' "$D/ismail-service.log"
finish
