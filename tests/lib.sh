# tests/lib.sh: helpers shared by the shell test suites.
#
# A suite sources this file, calls `pass NAME` / `fail NAME REASON` for each
# check, and ends with `finish`, which prints "SUITE: N passed, M failed" and
# exits non-zero on any failure. tests/run-all.sh adds the suites up.

T_PASSED=0
T_FAILED=0
T_SUITE=${T_SUITE:-$(basename "$0" .sh)}

pass() { T_PASSED=$((T_PASSED + 1)); echo "PASS: $1"; }
fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL: $1: ${2:-}"; }
# check NAME CMD...: passes when CMD succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }

# not CMD...: succeeds when CMD fails (for check and wait_until).
not() { ! "$@"; }

finish() {
  echo "$T_SUITE: $T_PASSED passed, $T_FAILED failed"
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

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# smtp_ehlo PORT: the server's EHLO reply lines (plaintext).
smtp_ehlo() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO test.invalid\r\n")
while True:
    l = f.readline().decode()
    print(l.rstrip())
    if not l or l[3:4] != "-":
        break
s.sendall(b"QUIT\r\n")
PY
}

# starttls_ok PORT: openssl s_client completes a TLS 1.3 handshake after STARTTLS.
starttls_ok() {
  local out
  out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" -starttls smtp -tls1_3 -brief 2>&1)
  grep -q 'Protocol version: TLSv1.3' <<<"$out"
}
