#!/usr/bin/env bash
# File permissions end to end on Linux: mail, password hashes and the log are
# readable by the service's account only.
#  - fresh: with umask 022, ismailctl and then the service make a new data
#    folder 0700 and ismail.db, mail.db (and its -wal), queue.db and the log
#    0600, and the user nobody can read none of them;
#  - upgrade: a data folder an older version left 0755 with files 0644 is
#    restricted when the service starts, with one log line naming each file
#    and its old mode; the next start has nothing to restrict and says nothing;
#  - a file that cannot be restricted (a symbolic link) is named in a warning
#    and the service runs on.
#   tests/e2e/file-modes.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=file-modes
. "$HERE/lib-e2e.sh"
# BASE is open to everyone, so only the data folder's own modes keep others out.
# D is reused below for each data folder, so the base is removed by name.
BASE=$D; chmod 755 "$BASE"
E2E_AT_EXIT+=('rm -rf "$BASE"')
LINE='file permissions tightened'
mode() { stat -c %a "$1"; }
is_mode() { [ "$(mode "$1")" = "$2" ]; }
running() { grep -q 'worker threads serving' "$1/ismail-service.log" 2>/dev/null; }

# configure DIR: listeners on free loopback ports (creates the store).
configure() {
  e2e_ports "$E2E_CTL" --data "$1"
  "$E2E_CTL" --data "$1" set server.hostname mail.ismail.test >/dev/null
}
# start DIR: the service on DIR, umask 022, until its listeners are up.
start() {
  (umask 022; exec "$E2E_SVC" --data "$1" >"$1.console" 2>&1) & SVC_PID=$!
  wait_until 20 running "$1" && wait_until 10 port_open "$("$E2E_CTL" --data "$1" get smtp.port)"
}
stop() { e2e_stop; }
# nobody_cannot_read FILE: the user nobody fails to read FILE.
nobody_cannot_read() { ! runuser -u nobody -- cat "$1" >/dev/null 2>&1; }
can_test_users=1
id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || can_test_users=0
[ "$can_test_users" = 1 ] || echo "NOTE: not root or no user nobody: the other-user reads are not tried"
# private DIR FILES...: DIR is 700, every FILE 600 and unreadable by nobody.
private() {
  local d=$1 f; shift
  check "data folder $(basename "$d") is 700 ($(mode "$d"))" is_mode "$d" 700
  for f in "$@"; do
    if [ ! -e "$d/$f" ]; then fail "$f is there" "missing in $d"; continue; fi
    check "$f is 600 ($(mode "$d/$f"))" is_mode "$d/$f" 600
    [ "$can_test_users" = 1 ] && check "nobody cannot read $f" nobody_cannot_read "$d/$f"
  done
}

# ---- fresh: ismailctl, then the service ----
D=$BASE/fresh
(umask 022; configure "$D")
check "ismailctl alone: data folder 700 ($(mode "$D")), ismail.db 600 ($(mode "$D/ismail.db"))" \
  test "$(mode "$D")" = 700 -a "$(mode "$D/ismail.db")" = 600
[ "$can_test_users" = 1 ] && check "ismailctl alone: nobody cannot read ismail.db" nobody_cannot_read "$D/ismail.db"
check "the service starts on the fresh folder with umask 022" start "$D"
files=(ismail.db mail.db queue.db ismail-service.log)
for f in mail.db-wal mail.db-shm queue.db-wal ismail.db-wal; do [ -e "$D/$f" ] && files+=("$f"); done
echo "files in the fresh data folder: $(cd "$D" && ls -A | tr '\n' ' ')"
private "$D" "${files[@]}"
check "a fresh folder needed no tightening: no '$LINE' line" not grep -q "$LINE" "$D/ismail-service.log"
stop
private "$D" ismail.db mail.db queue.db ismail-service.log

# ---- upgrade: a folder an older version left open ----
U=$BASE/upgrade
mkdir -m 755 "$U"
configure "$U"
: >"$U/mail.db"; : >"$U/queue.db"; : >"$U/ismail-service.log"; : >"$U/mail.db-wal"
chmod 755 "$U"; chmod 644 "$U/ismail.db" "$U/mail.db" "$U/queue.db" "$U/ismail-service.log" "$U/mail.db-wal"
[ "$can_test_users" = 1 ] && check "before the start nobody can read the old ismail.db (the setup is open)" \
  not nobody_cannot_read "$U/ismail.db"
check "the service starts on the old folder" start "$U"
private "$U" ismail.db mail.db queue.db ismail-service.log mail.db-wal
grep "$LINE" "$U/ismail-service.log"
check "one '$LINE' line" test "$(grep -c "$LINE" "$U/ismail-service.log")" = 1
for w in "ismail.db (mode 644)" "mail.db (mode 644)" "mail.db-wal (mode 644)" "queue.db (mode 644)" \
         "ismail-service.log (mode 644)" "data folder $U (mode 755)"; do
  check "the line names $w" grep -qF -- "$w" "$U/ismail-service.log"
done
stop
check "the second start on the same folder" start "$U"
check "... has nothing to tighten: still one '$LINE' line" test "$(grep -c "$LINE" "$U/ismail-service.log")" = 1
stop

# ---- a file that cannot be restricted: a link is not followed ----
L=$BASE/link
mkdir -m 755 "$L"
configure "$L"
: >"$BASE/outside.log"; chmod 644 "$BASE/outside.log"
ln -s "$BASE/outside.log" "$L/ismail-service.log"
chmod 644 "$L/ismail.db"
check "the service starts although the log is a symbolic link" start "$L"
check "the warning names the link and says what to do" \
  grep -qE "warning: file permissions: $L/ismail-service.log is a symbolic link.*chmod go= TARGET" "$L/ismail-service.log"
check "... the link's target is left as it was (644)" is_mode "$BASE/outside.log" 644
check "... the rest is still restricted (ismail.db 600, folder 700)" \
  test "$(mode "$L/ismail.db")" = 600 -a "$(mode "$L")" = 700
stop
finish
