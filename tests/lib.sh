# tests/lib.sh: helpers shared by the shell test suites.
#
# A suite sources this file, calls `pass NAME` / `fail NAME REASON` for each
# check (`skip NAME REASON` for one that cannot run on this machine), and ends
# with `finish`, which prints "SUITE: N passed, M failed, K skipped" and exits
# non-zero on any failure or when no check ran at all. tests/run-all.sh adds
# the suites up.

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_SUITE=${T_SUITE:-$(basename "$0" .sh)}
# The programs the suites run (tests/tools).
T_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/tools" && pwd)
# Ports handed out by free_port in this suite, so two calls never give the same one.
T_PORTS_FILE=${T_PORTS_FILE:-/tmp/ismail-test-ports.$$}
: >"$T_PORTS_FILE"

pass() { T_PASSED=$((T_PASSED + 1)); echo "PASS: $1"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL: $1: ${2:-}"; }
skip() { T_SKIPPED=$((T_SKIPPED + 1)); echo "SKIP: $1: ${2:-}"; }
# setup_done MSG: a set-up step (a display, a Wine prefix, a screenshot) went
# well. Not a check: it is shown but not counted. A set-up step that fails
# is a failure (fail).
setup_done() { echo "SETUP: $1"; }
# check NAME CMD...: passes when CMD succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }

# not CMD...: succeeds when CMD fails (for check and wait_until).
not() { ! "$@"; }

finish() {
  rm -f "$T_PORTS_FILE"
  if [ $((T_PASSED + T_FAILED)) -eq 0 ]; then
    fail "$T_SUITE ran no check" "every check was skipped or none was reached"
  fi
  echo "$T_SUITE: $T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
  [ "$T_FAILED" -eq 0 ]
  exit
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or the
# deadline passes. Returns CMD's last status.
wait_until() {
  local deadline=$(( $(date +%s%N) / 1000000 + ${1} * 1000 )); shift
  while :; do
    "$@" && return 0
    [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
    sleep 0.1
  done
}

# free_port: a TCP port on 127.0.0.1 that nothing uses now and that no
# earlier call in this suite handed out. It is drawn below the kernel's
# ephemeral range, so an outgoing connection made before the service binds it
# cannot take it as its local port.
free_port() { python3 "$T_TOOLS/freeport.py" "$T_PORTS_FILE"; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=2).close()' "$1" 2>/dev/null
}

# service_up NAME PID LOG SECONDS CMD...: one check that the service started
# as PID is up (CMD succeeds within SECONDS). When it is not, the check fails
# with the end of the service's LOG and, if the process ended, its exit
# status, and the suite stops there: every later check would only repeat it.
service_up() {
  local name=$1 pid=$2 log=$3 secs=$4; shift 4
  if wait_until "$secs" "$@"; then pass "$name"; return 0; fi
  local why="not up within $secs s"
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; why="the service ended (exit status $?)"; fi
  fail "$name" "$why; the end of $log:"
  tail -n 30 "$log" 2>/dev/null | sed 's/^/    /'
  finish
}

# smtp_ehlo PORT: the server's EHLO reply lines (plaintext).
smtp_ehlo() { python3 "$T_TOOLS/smtp.py" ehlo "$1"; }

# starttls_ok PORT: openssl s_client completes a TLS 1.3 handshake after STARTTLS.
starttls_ok() {
  local out
  out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" -starttls smtp -tls1_3 -brief 2>&1)
  grep -q 'Protocol version: TLSv1.3' <<<"$out"
}
