#!/bin/bash
# tests/wine/gui-smoke.sh: ISMail Manager under Wine on a virtual display,
# driven by ismail-driver.exe (no screen coordinates).
#
# In a fresh Wine prefix and a fresh data folder: the window opens with the
# defaults, Apply follows the changes, ticking SMTP Incoming and applying writes
# smtp.tls.incoming=on to the store and, with no service running, says the
# service has not applied it; a stand-in for the service (a few lines of Python
# writing what the service writes back) then turns the next Apply into "Applied
# by the service in N ms", and an apply error into "The service reported an
# error". The five tabs are there, and the Service tab says plainly that no
# service is installed. The keyboard works (an access key ticks a box, Enter
# applies, Esc closes), a reopened manager shows what was saved, and a store
# that cannot be opened gives a message box and exit status 1. A screenshot of the window is
# kept; its path is printed.
#
#   bash tests/wine/gui-smoke.sh [WIN_BUILD_DIR]     (default: build/win, then build/gui)
#   SHOT=/path/shot.png to choose where the screenshot goes; KEEP=1 keeps the
#   temporary folder (prefix, data, logs) for a post-mortem.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export T_SUITE=gui-smoke
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
SHOT=${SHOT:-/tmp/ismail-gui-smoke.png}

find_exe() {
  local dir
  for dir in ${1:+"$1"} "$root/build/win" "$root/build/gui"; do
    [ -f "$dir/manager-gui/$2" ] && { echo "$dir/manager-gui/$2"; return 0; }
    [ -d "$dir" ] && find "$dir" -name "$2" -type f -print -quit | grep . && return 0
  done
  return 1
}
manager=$(find_exe "${1:-}" ismail-manager.exe) || { fail setup "ismail-manager.exe not built (cmake --build ... --target ismail-manager)"; finish; }
driver=$(find_exe "${1:-}" ismail-driver.exe) || { fail setup "ismail-driver.exe not built"; finish; }
for tool in "$WINE" "$WINESERVER" /usr/bin/Xvfb /usr/bin/import /usr/bin/xdotool; do
  [ -x "$tool" ] || { fail setup "$tool is missing (apt-get install wine64 xvfb imagemagick xdotool)"; finish; }
done
python3 -c 'import sqlite3' 2>/dev/null || { fail setup "python3 with the sqlite3 module is missing"; finish; }

d=$(mktemp -d /tmp/ismail-gui.XXXXXX)
export WINEPREFIX=$d/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
xvfb_pid='' manager_pid=''
cleanup() {
  [ -n "$manager_pid" ] && kill "$manager_pid" 2>/dev/null
  [ -d "$WINEPREFIX" ] && "$WINESERVER" -k 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $d"; else rm -rf "$d"; fi
}
trap cleanup EXIT

# A display of our own: Xvfb picks a free number and writes it to fd 3.
/usr/bin/Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$d/display" 2>"$d/xvfb.log" &
xvfb_pid=$!
if ! wait_until 15 test -s "$d/display"; then
  fail xvfb "Xvfb did not start: $(tail -3 "$d/xvfb.log")"; finish
fi
DISPLAY=:$(head -1 "$d/display")
export DISPLAY

if ! "$WINE" wineboot --init >"$d/wineboot.log" 2>&1; then
  fail wineboot "$(tail -3 "$d/wineboot.log")"; finish
fi

data=$d/data                      # does not exist yet: the manager creates it
wdata="Z:${data//\//\\}"
db=$data/ismail.db

drv() { "$WINE" "$driver" "$@" 2>>"$d/driver.err" | tr -d '\r'; return "${PIPESTATUS[0]}"; }
# sql QUERY: one value from the store, read by the native SQLite while the
# manager (Wine's SQLite) has it open.
sql() {
  python3 - "$db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
r = c.execute(sys.argv[2]).fetchone()
print("" if r is None else r[0])
PY
}
# fake_service [ERROR]: does what the service does after a write, once: waits
# for the revision to move past the one it started at, then records it as
# applied (or, with ERROR, records the error and keeps the old revision).
fake_service() {
  local start
  start=$(sql "SELECT value FROM meta WHERE key='revision'")
  python3 - "$db" "$start" "${1:-}" <<'PY' &
import sqlite3, sys, time
db, start, error = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db, timeout=10, isolation_level=None)
rev = lambda: int(c.execute("SELECT value FROM meta WHERE key='revision'").fetchone()[0])
deadline = time.time() + 20
while rev() == start and time.time() < deadline:
    time.sleep(0.05)
now = rev()
applied = c.execute("SELECT value FROM service_state WHERE key='applied_revision'").fetchone()
c.execute("BEGIN IMMEDIATE")
put = lambda k, v: c.execute("INSERT OR REPLACE INTO service_state VALUES(?, ?)", (k, str(v)))
put("applied_revision", applied[0] if error and applied else (-1 if error else now))
put("applied_at_ms", int(time.time() * 1000))
put("error", error)
c.execute("COMMIT")
print(f"fake service: revision {start} -> {now}, error {error!r}", file=sys.stderr)
PY
  fake_pid=$!
}

outgoing_ticked() { [ "$(drv get smtp.tls.outgoing)" = 1 ]; }
apply_disabled() { [ "$(drv enabled apply)" = 0 ]; }

"$WINE" "$manager" --data "$wdata" >"$d/manager.log" 2>&1 &
manager_pid=$!

out=$(drv wait-window 60 get smtp.tls.incoming get pop.tls.incoming get tls.profile enabled apply | paste -sd' ')
[ "$out" = "0 0 intermediate 0" ] && pass "window opens with the defaults, Apply disabled" ||
  fail "window opens" "got '$out' (driver: $(tail -2 "$d/driver.err"))"
[ -f "$db" ] && pass "the store and its folder were created" || fail "store created" "no $db"

out=$(drv tabs | paste -sd'|')
[ "$out" = "SSL/TLS|SSL Certificates|Web SSL|Server|Service" ] && pass "tabs: $out" || fail "tabs" "got '$out'"
# No service in this prefix: the Service tab says so plainly, the manager goes on.
out=$(drv tab Service wait-text service-state 10 "Not installed" get service-start tab "SSL/TLS" | head -1)
[[ "$out" == "Not installed: "* ]] && pass "Service tab without a service: '$out'" || fail "Service tab without a service" "got '$out' ($(tail -2 "$d/driver.err"))"

out=$(drv click smtp.tls.incoming get smtp.tls.incoming enabled apply click smtp.tls.incoming enabled apply | paste -sd' ')
[ "$out" = "1 1 0" ] && pass "Apply is enabled only while a control differs from the store" ||
  fail "Apply follows changes" "got '$out'"

out=$(drv click smtp.tls.incoming apply-and-wait 15); rc=$?
[ "$rc" = 1 ] && [ "$out" = "Saved. The service has not applied it yet; is the ISMail service running?" ] &&
  pass "Apply without a service: says the service has not applied it" || fail "Apply without service" "rc=$rc '$out'"
v=$(sql "SELECT value FROM settings WHERE key='smtp.tls.incoming'")
[ "$v" = on ] && pass "store: smtp.tls.incoming = on" || fail "store value" "smtp.tls.incoming='$v'"
out=$(drv enabled apply get smtp.tls.incoming | paste -sd' ')
[ "$out" = "0 1" ] && pass "after Apply the control keeps its value and Apply is disabled" || fail "after Apply" "got '$out'"

fake_service
out=$(drv click pop.tls.incoming select tls.profile modern apply-and-wait 15); rc=$?
wait "$fake_pid"
if [ "$rc" = 0 ] && [[ "$out" =~ ^Applied\ by\ the\ service\ in\ [0-9]+\ ms$ ]]; then
  pass "Apply with a service: '$out'"
else
  fail "Apply with a service" "rc=$rc '$out'"
fi
out=$(sql "SELECT group_concat(key || '=' || value, ' ') FROM (SELECT * FROM settings ORDER BY key)")
[ "$out" = "pop.tls.incoming=on smtp.tls.incoming=on tls.profile=modern" ] &&
  pass "store: one Apply wrote both changes" || fail "store after second Apply" "'$out'"

fake_service "ssl.crt: example.com.crt cannot be read"
out=$(drv click imap.tls.incoming apply-and-wait 15); rc=$?
wait "$fake_pid"
[ "$rc" = 1 ] && [ "$out" = "The service reported an error: ssl.crt: example.com.crt cannot be read" ] &&
  pass "an apply error from the service is shown" || fail "service error shown" "rc=$rc '$out'"

# The keyboard, through the X server as a person would type: Alt+O (the
# access key of SMTP 'Outgoing') ticks it, Enter applies.
win=$(xdotool search --onlyvisible --name '^ISMail Manager$' 2>/dev/null | head -1)
if [ -n "$win" ]; then
  fake_service
  xdotool windowfocus "$win" key alt+o 2>/dev/null
  if wait_until 10 outgoing_ticked; then
    xdotool key Return
    wait_until 10 apply_disabled
    out=$(drv wait-applied 15); rc=$?
    v=$(sql "SELECT value FROM settings WHERE key='smtp.tls.outgoing'")
    [ "$rc" = 0 ] && [ "$v" = on ] && pass "keyboard: Alt+O ticks Outgoing, Enter applies ('$out')" ||
      fail "keyboard Apply" "rc=$rc '$out', store smtp.tls.outgoing='$v'"
  else
    fail "keyboard access key" "Alt+O did not tick SMTP Outgoing"
  fi
  wait "$fake_pid"
else
  fail "keyboard" "xdotool is missing or finds no window"
fi

if /usr/bin/import -window root "$SHOT" 2>"$d/import.err"; then
  setup_done "screenshot: $SHOT"
else
  fail screenshot "$(cat "$d/import.err")"
fi

drv close; rc=$?
wait "$manager_pid"; mrc=$?
manager_pid=
[ "$rc" = 0 ] && [ "$mrc" = 0 ] && pass "closes and exits 0" || fail close "driver rc=$rc, manager exit $mrc"

# Opened again, it shows what was saved; Esc closes it.
"$WINE" "$manager" --data "$wdata" >"$d/manager.log" 2>&1 &
manager_pid=$!
out=$(drv wait-window 30 get smtp.tls.incoming get pop.tls.incoming get tls.profile enabled apply | paste -sd' ')
[ "$out" = "1 1 modern 0" ] && pass "reopened: shows the saved settings" || fail "reopened" "got '$out'"
win=$(xdotool search --onlyvisible --name '^ISMail Manager$' 2>/dev/null | head -1)
[ -n "$win" ] && xdotool windowfocus "$win" key Escape 2>/dev/null
if wait_until 10 sh -c "! kill -0 $manager_pid 2>/dev/null"; then
  wait "$manager_pid"; mrc=$?; manager_pid=
  [ "$mrc" = 0 ] && pass "Esc closes the manager" || fail "Esc" "manager exit $mrc"
else
  fail "Esc" "the manager is still open"; drv close >/dev/null
fi

# A store that cannot be opened: a message box that says why, exit status 1.
touch "$d/not-a-folder"
"$WINE" "$manager" --data "Z:${d//\//\\}\\not-a-folder" >"$d/manager.log" 2>&1 &
manager_pid=$!
out=$(drv message-box 30 | tr '\n' ' '); rc=$?
wait_until 10 sh -c "! kill -0 $manager_pid 2>/dev/null"
wait "$manager_pid"; mrc=$?; manager_pid=
[[ "$out" == *"cannot open the settings store"*"not-a-folder"* ]] && [ "$mrc" = 1 ] &&
  pass "unusable store: message box, exit 1" || fail "unusable store" "exit $mrc, box '$out'"

finish
