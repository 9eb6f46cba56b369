#!/usr/bin/env bash
# Attacks on the real service over loopback, each of which worked before the
# service limited it (tests/tools/attacks.py runs them and prints numbers):
#   - an IMAP LIST pattern of 254 '*' that kept a worker busy for hours;
#   - clients that pipeline FETCH 1:* / RETR and never read (output held in memory);
#   - 2,000 idle connections from one address under a limit of 1,024 open files;
#   - password guessing: back-off, lockout per address and per account, and
#     password hashing that no longer delays other sessions.
#   tests/e2e/security.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=security
. "$HERE/lib-e2e.sh"
ATTACK="python3 $TOOLS/attacks.py"
num() { sed -nE "s/.*(^| )$1=([0-9.]+).*/\2/p" <<<"$2"; }

e2e_ports
ctl set server.hostname mail.ismail.test >/dev/null
ctl localdomain add ismail.test >/dev/null
for u in alice bob carol; do printf 'correct-horse-battery\n' >"$D/pw"; ctl user add $u@ismail.test --password-file "$D/pw" >/dev/null; done
PW=correct-horse-battery

start() { # start [prlimit args]: the service on $D, waiting for its ports
  e2e_launch "$@"
  wait_until 20 port_open "${P[imap]}"
}
stop() { e2e_stop; }

check "service up" start env

# --- 1. IMAP LIST with 254 '*': answered at once, other clients served ---
r=$($ATTACK list-dos "${P[imap]}" alice@ismail.test $PW 254)
echo "LIST attack: $r"
check "LIST with 254 '*' then a marker NOOP: the NOOP is answered within 5 s" [ "$(num answered "$r")" = 1 ]

# --- 3. output amplification: pipelined FETCH / RETR that are never read ---
check "20 messages of 256 KB delivered" $ATTACK deliver "${P[smtp]}" alice@ismail.test 20 262144
r=$($ATTACK fetch-flood "$SVC_PID" "${P[imap]}" alice@ismail.test $PW 50 10)
echo "FETCH flood, 50 sessions x 10 pipelined FETCH 1:* BODY.PEEK[] (5 MB each), never read: $r"
# Without the limit each session queued 50 MB (2.5 GB in all); with it, about
# a piece of output and one message per session.
check "50 sessions holding unread FETCH output: memory grows by less than 80 MB" [ "$(num growth_kb "$r")" -lt 81920 ]
check "the service still serves during the FETCH flood" [ "$(num serving "$r")" = 1 ]
check "bob's mailbox gets a 4 MB message" $ATTACK deliver "${P[smtp]}" bob@ismail.test 1 4194304
r=$($ATTACK retr-flood "$SVC_PID" "${P[pop]}" bob@ismail.test $PW 10 40)
echo "RETR flood, 10 sessions x 40 pipelined RETR of 4 MB, never read: $r"
check "10 sessions holding unread RETR output: memory grows by less than 120 MB (1.6 GB before)" [ "$(num growth_kb "$r")" -lt 122880 ]

# --- 7. password guessing ---
# Back-off grows with each failure; after auth.max_failures the address is refused.
check "auth.max_failures 4 applied" set_applied auth.max_failures 4
g=()
for i in 1 2 3 4 5; do g[$i]=$($ATTACK guess "${P[pop]}" 127.0.0.3 carol@ismail.test wrong-$i); echo "guess $i: ${g[$i]}"; done
check "guess 1 is refused as a wrong password" grep -q 'Wrong user name or password' <<<"${g[1]}"
check "guess 3 waits for the back-off (at least 0.9 s)" python3 -c "import sys; sys.exit(not float('$(num seconds "${g[3]}")') >= 0.9)"
check "guess 5 from the same address is refused without checking" grep -q 'Too many failed logins' <<<"${g[5]}"
r=$($ATTACK guess "${P[pop]}" 127.0.0.3 alice@ismail.test $PW)
check "the right password from the locked-out address is refused too" grep -q 'Too many failed logins' <<<"$r"
r=$($ATTACK guess "${P[pop]}" 127.0.0.4 alice@ismail.test $PW)
check "another address logs in as usual" grep -q 'Logged in' <<<"$r"
check "the lockout is logged with the address" grep -q 'failed logins from 127.0.0.3; logins from this address are refused for 15 minutes' "$D/ismail-service.log"
# Per account: four addresses guess bob's password; bob is then refused everywhere.
for i in 5 6 7 8; do $ATTACK guess "${P[pop]}" 127.0.0.$i bob@ismail.test wrong-$i >/dev/null; done
r=$($ATTACK guess "${P[pop]}" 127.0.0.9 bob@ismail.test $PW)
check "an account guessed from several addresses is locked out" grep -q 'Too many failed logins' <<<"$r"
check "the account's lockout is logged" grep -q "failed logins for 'bob@ismail.test'; logins to this account are refused" "$D/ismail-service.log"
# Hashing happens off the event loop: one worker, eight guessers, NOOPs stay fast.
stop
ctl set auth.max_failures 1000 >/dev/null
check "service up with one worker" start env ISMAIL_WORKERS=1
r=$($ATTACK noop-latency "${P[imap]}" alice@ismail.test $PW 4 "${P[pop]}" 8)
echo "NOOP round trips while 8 clients guess passwords (one worker): $r"
# A password check costs ~40 ms of CPU; done on the event loop it delayed
# every NOOP behind it.
check "NOOP median under 15 ms while passwords are checked" python3 -c "import sys; sys.exit(not float('$(num median_ms "$r")') < 15)"

# --- 6. descriptor exhaustion: 2,000 idle connections under ulimit -n 1024 ---
stop
ctl set auth.max_failures 10 >/dev/null
check "service up under a limit of 1,024 open files" start prlimit --nofile=1024:1024
check "the service logs the open-files limit" grep -q 'open files allowed: 1024' "$D/ismail-service.log"
r=$($ATTACK idle-flood "$SVC_PID" 127.0.0.2 2000 smtp:${P[smtp]} pop3:${P[pop]} imap:${P[imap]} http:${P[http]})
echo "2,000 idle connections from 127.0.0.2: $r"
for k in smtp pop3 imap http; do
  check "$k greets a new client from 127.0.0.1 during the flood" [ "$(num $k "$r")" = 1 ]
done
check "connections over the per-address limit are told why" [ "$(num told_too_many "$r")" -gt 1000 ]
check "service CPU idle during the flood (under 10% of a core)" python3 -c "import sys; sys.exit(not float('$(num cpu_share "$r")') < 0.10)"
check "refusals are logged, at most once a second per worker" bash -c "n=\$(grep -c 'too many connections from this address' '$D/ismail-service.log'); [ \$n -ge 1 ] && [ \$n -lt 40 ]"
# Without the per-address cap the service fills its descriptors, and must not spin.
check "limits.connections_per_ip 0 applied" set_applied limits.connections_per_ip 0
r=$($ATTACK idle-flood "$SVC_PID" 127.0.0.2 2000 smtp:${P[smtp]})
echo "2,000 idle connections from 127.0.0.2 with no per-address cap: $r"
check "out of connections: service CPU idle all the same (under 10% of a core)" python3 -c "import sys; sys.exit(not float('$(num cpu_share "$r")') < 0.10)"
check "after the flood a new client is served" wait_until 10 bash -c "$ATTACK idle-flood $SVC_PID 127.0.0.1 1 smtp:${P[smtp]} | grep -q 'smtp=1'"

finish
