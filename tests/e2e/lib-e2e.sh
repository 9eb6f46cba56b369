# tests/e2e/lib-e2e.sh: what every Linux end-to-end suite needs, in one place:
# a data folder, every listener on a free loopback port, the service started
# and stopped, ismailctl, waiting until the service has applied a change, and
# the cleanup at exit. It sources tests/lib.sh (pass/fail/check/wait_until/
# free_port/port_open/finish). A suite sets B and T_SUITE, then sources it:
#
#   B=$(cd "${1:?linux build dir}" && pwd)
#   T_SUITE=my-suite
#   . "$(dirname "$0")/lib-e2e.sh"
#   e2e_ports                                   # P[smtp], P[imap], ... on 127.0.0.1
#   ctl set smtp.tls.incoming on >/dev/null
#   e2e_start_service "service up" port_open "${P[smtp]}"
#   check "EHLO answers" ...
#   finish
#
# What it gives:
#   D        the data folder: a new temporary folder, removed at exit (KEEP=1 keeps it)
#   P        listener name -> port (smtp submission smtps pop pops imap imaps http https)
#   SVC_PID  the running service (empty when none)
#   TOOLS    tests/tools, the programs the suites run
#   E2E_CTL, E2E_SVC  ismailctl and the service (ISMAIL_CTL, ISMAIL_SERVICE override)
#   E2E_PIDS         background processes of the suite's own, killed at exit
#   E2E_AT_EXIT      shell commands run first at exit (before the service is ended)

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$E2E_HERE/../lib.sh"
TOOLS=$T_TOOLS
: "${B:?set B to the Linux build folder before sourcing lib-e2e.sh}"
E2E_CTL=${ISMAIL_CTL:-$B/ctl/ismailctl}
E2E_SVC=${ISMAIL_SERVICE:-$B/service/ismail-service}
D=$(mktemp -d)
SVC_PID=
E2E_PIDS=()
E2E_AT_EXIT=()
declare -A P

e2e_cleanup() {
  local c p
  for c in "${E2E_AT_EXIT[@]}"; do eval "$c"; done
  [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $D"; else rm -rf "$D"; fi
}
trap e2e_cleanup EXIT

# ctl ARGS...: ismailctl on the suite's data folder.
ctl() { "$E2E_CTL" --data "$D" "$@"; }

# e2e_port_keys [CTL...]: every port setting ismailctl knows (smtp.port, ...),
# one a line, read from `ismailctl --json show` so a new listener is covered
# without editing the suites. CTL defaults to ctl.
e2e_port_keys() {
  [ $# -gt 0 ] || set -- ctl
  "$@" --json show | python3 -c '
import json, sys
print("\n".join(s["key"] for s in json.load(sys.stdin)["settings"] if s["key"].endswith(".port")))'
}

# e2e_ports [CTL...]: gives every port setting a free port (free_port) and sets
# listen.address 127.0.0.1, through CTL (default ctl; e.g. `e2e_ports other_ctl`
# for a second instance). The ports go to P, by listener name (the key without
# ".port"). A store that refuses them ends the suite with a failure.
e2e_ports() {
  [ $# -gt 0 ] || set -- ctl
  local keys k args=()
  keys=$(e2e_port_keys "$@") && [ -n "$keys" ] ||
    { fail "setup: the port settings" "ismailctl --json show listed none"; finish; }
  P=()
  for k in $keys; do P[${k%.port}]=$(free_port); args+=("$k" "${P[${k%.port}]}"); done
  "$@" set listen.address 127.0.0.1 "${args[@]}" >/dev/null ||
    { fail "setup: listeners on free loopback ports" "ismailctl set ${args[*]} failed"; finish; }
}

# e2e_launch [PREFIX...]: starts the service on D in the background (PREFIX,
# e.g. `env ISMAIL_WORKERS=1` or `prlimit --nofile=1024`, runs it), its output
# appended to D/console.log; sets SVC_PID. No check: see e2e_start_service.
e2e_launch() {
  "$@" "$E2E_SVC" --data "$D" >>"$D/console.log" 2>&1 &
  SVC_PID=$!
}

# e2e_start_service NAME CMD...: starts the service and makes one check NAME
# that it is up (CMD succeeds within E2E_START_SECS, 20 s). When it is not, the
# check fails with the end of the console log and the suite stops (service_up).
e2e_start_service() {
  local name=$1; shift
  e2e_launch
  service_up "$name" "$SVC_PID" "$D/console.log" "${E2E_START_SECS:-20}" "$@"
}

# e2e_stopped: the service started last has ended.
e2e_stopped() { ! kill -0 "$SVC_PID" 2>/dev/null; }

# e2e_stop: SIGTERM to the service, waits for it; returns its exit status.
e2e_stop() {
  local rc=0
  [ -n "$SVC_PID" ] || return 0
  kill -TERM "$SVC_PID" 2>/dev/null
  wait "$SVC_PID" 2>/dev/null; rc=$?
  SVC_PID=
  return $rc
}

# rev: the store's revision (each change adds one).
rev() { ctl status | sed -n 's/^store revision: *//p'; }
# applied REV: the service reports it applied revision REV or later.
applied() {
  local a; a=$(ctl status | sed -n 's/^applied revision: \([0-9]*\).*/\1/p'); [ -n "$a" ] && [ "$a" -ge "$1" ]
}
# applied_latest: the service has applied the store's latest revision.
applied_latest() {
  local s
  s=$(ctl --json status) && python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["up_to_date"] else 1)' <<<"$s"
}
# wait_applied [SECONDS]: waits (20 s) until the service has applied the latest revision.
wait_applied() { wait_until "${1:-20}" applied_latest; }
# set_applied KEY VALUE...: ismailctl set, then waits until the running service applied it.
set_applied() { ctl set "$@" >/dev/null && wait_applied 10; }

# listener_open NAME: `ismailctl status` shows listener NAME open.
listener_open() { ctl status | grep -qE "^listener $1 +port [0-9]+ +open"; }
