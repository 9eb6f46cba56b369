#!/usr/bin/env bash
# Control characters from clients do not reach the log raw, end to end on
# Linux: failed logins whose user names carry ESC (a terminal colour
# sequence), CR, LF, a tab and DEL, over POP3 (USER/PASS) and SMTP
# submission (AUTH PLAIN), are logged with those bytes escaped (\x1b, \r,
# \n, \t, \x7f); the log file holds no byte below 0x20 but the line ends,
# no DEL, and no line the client wrote.
#   tests/e2e/log-escape.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=log-escape
. "$HERE/lib-e2e.sh"
LOG=$D/ismail-service.log
e2e_ports
ctl set server.hostname mail.ismail.test smtp.tls.incoming off pop.tls.incoming off imap.tls.incoming off >/dev/null
e2e_start_service "service up" port_open "${P[submission]}"

# client PROTO PORT: a failed login whose user name holds control characters.
client() { python3 "$TOOLS/badlogin.py" "$1" "$2"; }
echo "pop3: $(client pop3 "${P[pop]}")"
echo "smtp: $(client smtp "${P[submission]}")"
logged() { grep -qF -- "$1" "$LOG"; }
check "POP3: the failed login is logged with ESC, tab and DEL escaped" \
  wait_until 10 logged 'pop\x1b[31mred\tx\x7fy'
check "SMTP: the failed AUTH is logged with ESC, CR and LF escaped" \
  wait_until 10 logged 'smtp\x1b[31mred\r\nfake: line'
grep -aF -e 'pop\x1b' -e 'smtp\x1b' "$LOG"
check "no raw ESC byte in the log" not grep -q $'\x1b' "$LOG"
check "no raw DEL byte in the log" not grep -q $'\x7f' "$LOG"
check "no CR or other control byte in the log (only line ends)" not grep -qP '[\x00-\x09\x0b-\x1f]' "$LOG"
check "no line of the log is the client's (LF in a user name makes none)" not grep -q '^fake: line' "$LOG"
finish
