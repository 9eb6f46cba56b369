#!/usr/bin/env bash
# SMTP end to end with real clients: local domain and accounts set up with
# ismailctl, the service on loopback ports with SMTP TLS on, then swaks and
# curl submitting over STARTTLS + AUTH (submission) and implicit TLS (SMTPS),
# plain mail from another server on the MX port, and the refusals (relaying,
# unknown user, AUTH before TLS, MAIL without AUTH, SIZE). Delivery is
# checked in DATA/mail.db, including the Received header.
#   tests/e2e/smtp-mail.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=smtp-mail
. "$(dirname "$0")/lib-e2e.sh"
quiet() { "$@" >/dev/null 2>&1; }

ALICE=alice@example.test ALICE_PW='Alice pass 1'
BOB=bob@example.test BOB_PW='Bob-password-2'

# ---- set-up with ismailctl ----
check "localdomain add" quiet ctl localdomain add Example.Test
printf '%s\n' "$ALICE_PW" >"$D/alice.pw"
check "user add with --password-file" quiet ctl user add "$ALICE" --password-file "$D/alice.pw"
add_bob() { printf '%s\n' "$BOB_PW" | quiet ctl user add BOB@example.test; }
check "user add with the password on standard input (address lower-cased)" add_bob
users_json() { ctl --json user list | python3 -c 'import json,sys; print(" ".join(u["address"] for u in json.load(sys.stdin)))'; }
check "user list --json lists both accounts" test "$(users_json)" = "$ALICE $BOB"
# has TEXT PART: TEXT contains PART (PART may span lines).
has() { [[ "$1" == *"$2"* ]]; }
out=$(ctl user add carol@elsewhere.test </dev/null 2>&1); rc=$?
check "user add in a non-local domain: exit 3" test "$rc" = 3
check "user add in a non-local domain: the message names the domain and the fix" \
  has "$out" "elsewhere.test is not a local domain; add it first with 'ismailctl localdomain add elsewhere.test'"
out=$(printf 'short\n' | ctl user add carol@example.test 2>&1); rc=$?
check "user add with a short password: exit 3" test "$rc" = 3
check "user add with a short password: says at least 8 characters" has "$out" "at least 8 characters"
hash_ok() {
  local h; h=$(python3 "$TOOLS/maildb.py" password "$D/mail.db" alice@example.test) &&
    [[ "$h" == pbkdf2-sha256\$* ]] && [[ "$h" != *"$ALICE_PW"* ]]
}
check "the store keeps a PBKDF2 hash, not the password" hash_ok

# Every listener on a free loopback port.
e2e_ports
ctl set smtp.tls.incoming on server.hostname mail.ismail.test >/dev/null || { fail setup "ismailctl set failed"; finish; }
P_SMTP=${P[smtp]}; P_SUB=${P[submission]}; P_SMTPS=${P[smtps]}

has_starttls() { smtp_ehlo "$1" 2>/dev/null | grep -q '^250-STARTTLS'; }
e2e_start_service "service answers with STARTTLS on the submission port" has_starttls "$P_SUB"
check "SMTPS port open" wait_until 10 port_open "$P_SMTPS"

# ---- helpers reading DATA/mail.db ----
# message ADDRESS TOKEN: prints the stored message of ADDRESS containing TOKEN.
message() { python3 "$TOOLS/maildb.py" message "$D/mail.db" "$1" "$2"; }
stored() { message "$@" >/dev/null; }
count() { python3 "$TOOLS/maildb.py" count "$D/mail.db" "$1"; }

# ---- submission: swaks, STARTTLS + AUTH PLAIN ----
# swaks needs Perl's Net::SSLeay for --tls (Debian: libnet-ssleay-perl).
check "swaks can speak TLS (libnet-ssleay-perl installed)" perl -MNet::SSLeay -e 1
out=$(timeout 30 swaks --server "127.0.0.1:$P_SUB" --tls --auth PLAIN --auth-user "$ALICE" --auth-password "$ALICE_PW" \
  --from "$ALICE" --to "$BOB" --helo client.test --header "Subject: e2e-swaks-submission" \
  --body $'first line\n.dot-stuffed line\nlast line' 2>&1); rc=$?
check "swaks: STARTTLS + AUTH PLAIN on submission succeeds" test "$rc" = 0
check "swaks: the message is accepted with 250 2.0.0" has "$out" "250 2.0.0"
msg=$(message "$BOB" e2e-swaks-submission)
check "swaks: delivered to bob" test -n "$msg"
check "swaks: Received names the client, ESMTPSA and the TLS version" \
  has "$msg" $'Received: from client.test ([127.0.0.1])\r\n\tby mail.ismail.test (ISMail) with ESMTPSA\r\n\t(version=TLSv1.3 cipher='
check "swaks: Return-Path is the envelope sender" has "$msg" "Return-Path: <$ALICE>"
check "swaks: dot-stuffed line arrives unstuffed" has "$msg" $'\r\n.dot-stuffed line\r\n'

# ---- submission: AUTH LOGIN ----
out=$(timeout 30 swaks --server "127.0.0.1:$P_SUB" --tls --auth LOGIN --auth-user "$BOB" --auth-password "$BOB_PW" \
  --from "$BOB" --to "$ALICE" --header "Subject: e2e-swaks-login" 2>&1)
check "swaks: AUTH LOGIN delivers" stored "$ALICE" e2e-swaks-login
# A wrong password; swaks exits non-zero and nothing is delivered.
out=$(timeout 30 swaks --server "127.0.0.1:$P_SUB" --tls --auth PLAIN --auth-user "$ALICE" --auth-password wrong-password \
  --from "$ALICE" --to "$BOB" --header "Subject: e2e-wrong-password" 2>&1); rc=$?
check "swaks: a wrong password fails" test "$rc" != 0
check "swaks: a wrong password gets 535 5.7.8" has "$out" "535 5.7.8"
check "swaks: nothing delivered with a wrong password" not stored "$BOB" e2e-wrong-password

# ---- curl: submission with STARTTLS, and SMTPS ----
printf 'From: %s\r\nTo: %s\r\nSubject: e2e-curl-submission\r\n\r\nsent by curl\r\n' "$ALICE" "$BOB" >"$D/msg1.txt"
check "curl: smtp:// --ssl-reqd with AUTH on submission" timeout 30 curl -sS --url "smtp://127.0.0.1:$P_SUB" \
  --ssl-reqd -k --user "$ALICE:$ALICE_PW" --mail-from "$ALICE" --mail-rcpt "$BOB" --upload-file "$D/msg1.txt"
msg=$(message "$BOB" e2e-curl-submission)
check "curl submission: delivered with ESMTPSA" has "$msg" "with ESMTPSA"
printf 'Subject: e2e-curl-smtps\r\n\r\nsent by curl over SMTPS\r\n' >"$D/msg2.txt"
check "curl: smtps:// with AUTH" timeout 30 curl -sS --url "smtps://127.0.0.1:$P_SMTPS" -k \
  --user "$BOB:$BOB_PW" --mail-from "$BOB" --mail-rcpt "$ALICE" --mail-rcpt "$BOB" --upload-file "$D/msg2.txt"
msg=$(message "$ALICE" e2e-curl-smtps)
check "curl smtps: Received names ESMTPSA and TLS" has "$msg" $'with ESMTPSA\r\n\t(version=TLSv1.'
check "curl smtps: both recipients got a copy" stored "$BOB" e2e-curl-smtps

# ---- the MX port: mail from other servers, no AUTH ----
before=$(count "$ALICE")
out=$(timeout 30 swaks --server "127.0.0.1:$P_SMTP" --from someone@remote.test --to "$ALICE" --helo mx.remote.test \
  --header "Subject: e2e-mx-plain" 2>&1); rc=$?
check "MX: plain mail for a local account without AUTH or TLS" test "$rc" = 0
msg=$(message "$ALICE" e2e-mx-plain)
check "MX: Received says ESMTP without TLS" has "$msg" $'Received: from mx.remote.test ([127.0.0.1])\r\n\tby mail.ismail.test (ISMail) with ESMTP\r\n\tfor <alice@example.test>; '
check "MX: exactly one more message for alice" test "$(count "$ALICE")" = $((before + 1))
out=$(timeout 30 swaks --server "127.0.0.1:$P_SMTP" --tls --from someone@remote.test --to "$ALICE" \
  --header "Subject: e2e-mx-tls" 2>&1)
msg=$(message "$ALICE" e2e-mx-tls)
check "MX with STARTTLS: Received says ESMTPS and the TLS version" has "$msg" $'with ESMTPS\r\n\t(version=TLSv1.3 cipher='
check "MX: no AUTH letter without AUTH" not has "$msg" "ESMTPSA"

# ---- refusals, checked on the wire ----
# dialog PORT LINE...: sends each line after reading the previous reply;
# prints every reply line. "STARTTLS" upgrades the connection.
dialog() { python3 "$TOOLS/smtp.py" dialog "$@"; }
out=$(dialog "$P_SMTP" "EHLO x" "MAIL FROM:<a@remote.test>" "RCPT TO:<someone@elsewhere.test>" "RCPT TO:<nobody@example.test>" QUIT)
check "MX: relaying refused with 550 5.7.1" has "$out" "550 5.7.1 <someone@elsewhere.test>: relaying denied"
check "MX: unknown local user refused with 550 5.1.1" has "$out" "550 5.1.1 <nobody@example.test>"
check "MX: AUTH not offered" not has "$out" "AUTH"
out=$(dialog "$P_SMTP" "EHLO x" "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABBbGljZSBwYXNzIDE=" QUIT)
check "MX: AUTH refused with 502" has "$out" "502 5.5.1"

AUTH_ALICE=$(printf '\0%s\0%s' "$ALICE" "$ALICE_PW" | base64 -w0)
out=$(dialog "$P_SUB" "EHLO x" "AUTH PLAIN $AUTH_ALICE" "MAIL FROM:<$ALICE>" QUIT)
check "submission before TLS: EHLO does not list AUTH" not has "$out" "250-AUTH"
check "submission before TLS: AUTH refused with 538 5.7.11" \
  has "$out" "538 5.7.11 Encryption required for requested authentication mechanism"
check "submission before TLS: MAIL refused with 530" has "$out" "530 5.7.0"
out=$(dialog "$P_SUB" "EHLO x" STARTTLS "EHLO x" "MAIL FROM:<$ALICE>" "AUTH PLAIN $AUTH_ALICE" \
  "MAIL FROM:<$ALICE> SIZE=60000000" "MAIL FROM:<$ALICE>" "RCPT TO:<friend@elsewhere.test>" QUIT)
check "submission after STARTTLS: AUTH listed" has "$out" "250-AUTH PLAIN LOGIN"
check "submission after STARTTLS: MAIL without AUTH gets 530 5.7.0" has "$out" "530 5.7.0 Authentication required"
check "submission after STARTTLS: AUTH accepted" has "$out" "235 2.7.0"
check "SIZE over smtp.max_message_mb (50 MB) refused with 552 5.3.4" has "$out" "552 5.3.4"
check "authenticated mail to another server: accepted for delivery (queued)" has "$out" "250 2.1.5 Recipient <friend@elsewhere.test> OK (for delivery to another server)"

# Pipelining: everything up to DATA in one write, the replies in order.
pipelined() { python3 "$TOOLS/smtp.py" pipelined "$P_SMTP" "$ALICE"; }
check "pipelined EHLO/MAIL/RCPT/RCPT/DATA answered in order" test "$(pipelined)" = "250 250 250 550 354 250"
check "pipelined message delivered" stored "$ALICE" e2e-pipelined

check "the service logs deliveries" grep -q 'smtp: message from <' "$D/ismail-service.log"

# ---- accounts removed: mail refused, messages gone ----
check "user remove" quiet ctl user remove "$BOB"
out=$(dialog "$P_SMTP" "EHLO x" "MAIL FROM:<a@remote.test>" "RCPT TO:<$BOB>" QUIT)
check "mail for a removed account: 550 5.1.1" has "$out" "550 5.1.1"
check "localdomain remove refused while it has accounts" not quiet ctl localdomain remove example.test

kill -TERM "$SVC_PID"
check "service stops cleanly" wait_until 10 e2e_stopped
e2e_stop
finish
