#!/usr/bin/env bash
# SMTP attacks end to end, over loopback against the real service:
#  - smuggling (CVE-2023-51764 class): the three "." payloads between bare
#    and proper line ends, each followed by a second transaction, and bare
#    line ends in commands;
#  - memory: 20 unauthenticated sessions each sending 10 MB of DATA without
#    the final dot; the data budget per address; smtp.max_message_mb
#    applied live (SIZE and 552);
#  - sender spoofing: submission as another account, port 25 with a local
#    sender and no login (swaks);
#  - address probing: unknown recipients answered ever later;
#  - login lockout answered 454 with the minutes to wait.
# Each check fails against a service without these defences.
#   tests/e2e/smtp-security.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=smtp-security
. "$(dirname "$0")/lib-e2e.sh"
quiet() { "$@" >/dev/null 2>&1; }
has() { [[ "$1" == *"$2"* ]]; }

ALICE=alice@example.test ALICE_PW='Alice pass 1'
BOB=bob@example.test BOB_PW='Bob-password-2'
quiet ctl localdomain add example.test || { fail setup "ismailctl localdomain add failed"; finish; }
printf '%s\n' "$ALICE_PW" | quiet ctl user add "$ALICE"
printf '%s\n' "$BOB_PW" | quiet ctl user add "$BOB"
e2e_ports
ctl set smtp.tls.incoming on server.hostname mail.ismail.test >/dev/null || { fail setup "ismailctl set failed"; finish; }
P_SMTP=${P[smtp]}; P_SUB=${P[submission]}

ehlo_ok() { smtp_ehlo "$1" 2>/dev/null | grep -q '^250 '; }
e2e_start_service "service answers on the SMTP port" ehlo_ok "$P_SMTP"

# ---- helpers ----
# count ADDRESS [TOKEN]: messages stored for ADDRESS (containing TOKEN).
count() { python3 "$TOOLS/maildb.py" count "$D/mail.db" "$1" "${2:-}"; }
# dialog PORT LINE...: sends each line (CRLF added) after reading the previous
# reply; prints every reply line; "STARTTLS" upgrades the connection.
dialog() { python3 "$TOOLS/smtp.py" dialog "$@"; }
# sized BYTES TAG: sends a message of about BYTES, prints the reply to the dot
sized() { python3 "$TOOLS/smtp.py" sized "$P_SMTP" "$1" "$2" alice@example.test; }

# ---- A. smuggling ----
# smuggle PORT TAG END: one transaction for alice whose text holds END (a
# "." between line ends) and then a complete second transaction for bob,
# then the real end and a NOOP as a marker. Prints the replies that came
# after the 354, one a line, up to and including the NOOP's (or the close).
smuggle() { python3 "$TOOLS/smtp.py" smuggle "$@"; }
for v in 'lf-dot-lf:\n.\n' 'lf-dot-crlf:\n.\r\n' 'crlf-dot-lf:\r\n.\n'; do
  tag=${v%%:*} end=${v#*:}
  out=$(smuggle "$P_SMTP" "$tag" "$end")
  first=$(head -1 <<<"$out")
  check "smuggling $tag: the first reply after DATA is the refusal at the real end (got: $first)" \
    has "$first" "554 5.5.2 Message refused: it contains a bare <LF> (a line end without <CR>); lines must end with <CR><LF> (RFC 5321 2.3.8)"
  check "smuggling $tag: the next reply is the NOOP's (no replies to smuggled commands)" \
    test "$(sed -n 2p <<<"$out")" = "250 2.0.0 OK"
  check "smuggling $tag: no smuggled message in bob's mailbox" test "$(count "$BOB" "smuggled-$tag")" = 0
  check "smuggling $tag: the outer message is not stored either" test "$(count "$ALICE" "outer-$tag")" = 0
done
# bare_cmd PORT BYTES: sends EHLO, then BYTES; prints the reply and "closed"
# when the server then closes the connection.
bare_cmd() { python3 "$TOOLS/smtp.py" bare "$@"; }
out=$(bare_cmd "$P_SMTP" 'NOOP\nNOOP\r\n')
check "a command ended by a bare LF is refused with 521 5.5.2 naming it" \
  has "$out" "521 5.5.2 Error: bare <LF> received; lines must end with <CR><LF>"
check "a command ended by a bare LF closes the session" has "$out" "closed"
out=$(bare_cmd "$P_SMTP" 'MAIL FROM:<a@remote.test>\rRCPT TO:<alice@example.test>\r\n')
check "a bare CR in a command is refused with 521 5.5.2 naming it, and closes" \
  has "$out" $'521 5.5.2 Error: bare <CR> received; lines must end with <CR><LF> (RFC 5321 2.3.8)\nclosed'
check "a message with proper line ends still goes through" has "$(sized 3000 e2e-proper)" "250 2.0.0 OK: message delivered"

# ---- B. message data: memory, budget, size ----
# hold PORT PID N BYTES [BUDGET_TEST]: N concurrent sessions each send BYTES
# of DATA without the final dot; once the service has taken them all in
# (spool files of that size open in it), prints "RSS_KB SPOOLED_BYTES FILES".
hold() { python3 "$TOOLS/smtp.py" hold "$@"; }
rss0=$(awk '/^VmRSS:/ {print $2}' "/proc/$SVC_PID/status")
quiet ctl set smtp.data_budget_per_ip_mb 1000   # this case is about memory, not the budget
check "data budget raised for the memory case (applied)" wait_applied
read -r rss spooled files errs _ <<<"$(hold "$P_SMTP" "$SVC_PID" 20 $((10 * 1024 * 1024)))"
echo "memory: service RSS ${rss0} KiB before, ${rss} KiB with 20 sessions holding 10 MB each; ${spooled} bytes in ${files} spool files"
check "20 sessions sent 10 MB of DATA each without errors" test "${errs:-1}" = 0
check "the 200 MB are on disk in 20 spool files, not in memory ($files files, $spooled bytes)" \
  test "${files:-0}" -ge 20 -a "${spooled:-0}" -ge $((20 * (10 * 1024 * 1024 - 70000)))
check "the service's memory stays under 60 MB while they hold (RSS ${rss} KiB)" test "${rss:-999999}" -lt $((60 * 1024))
spool_files() { ls -A "$D/spool" 2>/dev/null | wc -l; }
no_spool_fds() { [ "$(find /proc/$SVC_PID/fd -lname '*/spool/*' 2>/dev/null | wc -l)" = 0 ]; }
check "closing those sessions closes their spool files" wait_until 20 no_spool_fds
check "and leaves no file in the spool folder" test "$(spool_files)" = 0

# The budget: one address may have smtp.data_budget_per_ip_mb in transit.
quiet ctl set smtp.data_budget_per_ip_mb 2
check "data budget of 2 MB applied" wait_applied
budget() { python3 "$TOOLS/smtp.py" budget "$P_SMTP" "$SVC_PID"; }
out=$(budget)
check "over the address's budget: 452 4.3.1 after the dot" \
  has "$(head -1 <<<"$out")" "452 4.3.1 Too much mail in transit from your address; try again later"
check "the message within the budget is delivered" has "$(sed -n 2p <<<"$out")" "250 2.0.0"
check "only that one is stored" test "$(count "$ALICE" e2e-budget-second)/$(count "$ALICE" e2e-budget-first)" = 0/1
quiet ctl set smtp.data_budget_per_ip_mb 200

# smtp.max_message_mb applied live.
quiet ctl set smtp.max_message_mb 1
check "smtp.max_message_mb 1 applied" wait_applied
size_advertised() { smtp_ehlo "$P_SMTP" | grep -qx "250-SIZE $1"; }
check "EHLO advertises the new SIZE" size_advertised 1048576
out=$(dialog "$P_SMTP" "EHLO x" "MAIL FROM:<a@remote.test> SIZE=2000000" QUIT)
check "MAIL FROM SIZE= above it: 552" has "$out" "552 5.3.4 Message size exceeds fixed maximum message size (1048576 bytes)"
out=$(sized 1500000 e2e-too-big)
check "a 1.5 MB message is refused with 552 after the dot" has "$out" "552 5.3.4"
check "and not stored" test "$(count "$ALICE" e2e-too-big)" = 0
out=$(sized 500000 e2e-fits)
check "a 0.5 MB message is accepted" has "$out" "250 2.0.0"
check "and stored whole (CRLF line ends, CRLF . CRLF at the end)" test "$(count "$ALICE" e2e-fits)" = 1
quiet ctl set smtp.max_message_mb 50

# ---- C. who may send as whom (swaks) ----
check "swaks can speak TLS (libnet-ssleay-perl installed)" perl -MNet::SSLeay -e 1
sub() { timeout 30 swaks --server "127.0.0.1:$P_SUB" --tls --auth PLAIN --auth-user "$ALICE" --auth-password "$ALICE_PW" \
  --to "$BOB" --helo client.test "$@" 2>&1; }
out=$(sub --from "$BOB" --header "Subject: e2e-spoof-sub"); rc=$?
check "submission as alice with MAIL FROM bob fails" test "$rc" != 0
check "submission as alice with MAIL FROM bob: 553 5.7.1 names address and account" \
  has "$out" "553 5.7.1 Sender address <bob@example.test> is not owned by user <alice@example.test>"
check "nothing delivered under bob's name" test "$(count "$BOB" e2e-spoof-sub)" = 0
out=$(sub --from "ALICE@example.test" --header "Subject: e2e-own-sub"); rc=$?
check "submission as alice with her own address (any case) delivers" test "$rc" = 0 -a "$(count "$BOB" e2e-own-sub)" = 1
out=$(timeout 30 swaks --server "127.0.0.1:$P_SMTP" --from "$ALICE" --to "$BOB" --helo forger.test \
  --header "Subject: e2e-spoof-mx" 2>&1); rc=$?
check "port 25 without login, MAIL FROM a local domain: refused" test "$rc" != 0
check "port 25 without login, MAIL FROM a local domain: 553 5.7.1 points to the submission port" \
  has "$out" "553 5.7.1 <alice@example.test>: sender in a local domain needs authentication; mail clients use the submission port"
check "nothing delivered from the forged local sender" test "$(count "$BOB" e2e-spoof-mx)" = 0
out=$(timeout 30 swaks --server "127.0.0.1:$P_SMTP" --from someone@remote.test --to "$BOB" --header "Subject: e2e-mx-ok" 2>&1)
check "port 25 from another domain's sender still delivers" test "$(count "$BOB" e2e-mx-ok)" = 1

# ---- D. address probing ----
# probe PORT N: N RCPTs to unknown users in one session; prints the seconds
# each reply took, then the total.
probe() { python3 "$TOOLS/smtp.py" probe "$@"; }
read -r -a times <<<"$(probe "$P_SMTP" 8)"
echo "probing: reply times ${times[*]:0:8} s, total ${times[8]:-?} s"
fast3() { python3 -c 'import sys; sys.exit(0 if all(float(x) < 0.5 for x in sys.argv[1:4]) else 1)' "${times[@]}"; }
check "the first three unknown recipients are answered at once" fast3
# Misses 4 to 8 wait 1, 2, 3, 4 and 5 s: at least 15 s in all.
check "8 unknown recipients take at least 15 s (took ${times[8]:-?} s)" \
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 14.9 else 1)' "${times[8]:-0}"
check "the 4th waits about a second, the 8th about five" \
  python3 -c 'import sys; t=[float(x) for x in sys.argv[1:]]; sys.exit(0 if 0.9 <= t[3] < 3 and 4.9 <= t[7] < 8 else 1)' "${times[@]:0:8}"

# ---- E. logins: the lockout is answered with the wait (last: it locks 127.0.0.1 out) ----
quiet ctl set auth.max_failures 2
check "auth.max_failures 2 applied" wait_applied
BAD=$(printf '\0%s\0%s' "$ALICE" wrong-password | base64 -w0)
out=$(dialog "$P_SUB" "EHLO x" STARTTLS "EHLO x" "AUTH PLAIN $BAD" "AUTH PLAIN $BAD" "AUTH PLAIN $BAD" QUIT)
check "wrong passwords get 535 5.7.8" has "$out" "535 5.7.8 Authentication credentials invalid"
check "past auth.max_failures: 454 4.7.0 with the minutes to wait" \
  has "$out" "454 4.7.0 Too many failed logins; try again in 15 minutes"
GOOD=$(printf '\0%s\0%s' "$ALICE" "$ALICE_PW" | base64 -w0)
out=$(dialog "$P_SUB" "EHLO x" STARTTLS "EHLO x" "AUTH PLAIN $GOOD" QUIT)
check "during the lockout even the right password is refused with 454" has "$out" "454 4.7.0 Too many failed logins"

kill -TERM "$SVC_PID"
check "service stops cleanly" wait_until 10 e2e_stopped
e2e_stop
finish
