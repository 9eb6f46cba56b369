#!/usr/bin/env bash
# Windows key protection read back: tests/dacl-check.exe (tests/wine/dacl-check.c)
# makes the key folder and a key with the core's private flags, and restricts
# a data folder an older version left open (with ismail.db in it) as the
# service does at start, reads their DACLs back with GetNamedSecurityInfoW
# and checks them; this suite runs it
# under wine64 in a fresh prefix and turns each of its PASS/FAIL lines into a
# check. Wine keeps no DACLs (it maps them to Unix permission bits), so the
# program notes the Windows-only checks as "WINE:" lines, and this suite adds
# the Unix side: nothing for "others" on the folders, the key or the store.
#   tests/wine/dacl.sh <windows build dir>
set -u
B=$(cd "${1:?windows build dir}" && pwd)
T_SUITE=wine-dacl
. "$(dirname "$0")/../lib.sh"

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
EXE=$B/tests/dacl-check.exe
export WINEDEBUG=-all
WINEPREFIX=$(mktemp -d /tmp/ismail-dacl-prefix.XXXXXX)
export WINEPREFIX
cleanup() { "$WINESERVER" -k 2>/dev/null; rm -rf "$WINEPREFIX"; }
trap cleanup EXIT

[ -x "$EXE" ] || { fail "dacl-check.exe built" "$EXE not found: cmake --build $B --target dacl-check"; finish; }
"$WINE" wineboot --init >/dev/null 2>&1 || { fail "wine prefix" "wineboot --init failed in $WINEPREFIX"; finish; }

out=$(timeout 120 "$WINE" "$EXE" 'C:\dacl-test' 2>&1); rc=$?
out=$(tr -d '\r' <<<"$out")
echo "$out" | grep -v -E '^(PASS|FAIL):'
while IFS= read -r line; do
  case $line in
    PASS:*) pass "${line#PASS: }" ;;
    FAIL:*) fail "${line#FAIL: }" "see the SDDL above" ;;
  esac
done <<<"$out"
check "dacl-check exits 0" test "$rc" = 0

KD=$WINEPREFIX/drive_c/dacl-test/ssl.key
no_other_bits() { local m; m=$(stat -c %a "$1") && [ $((8#$m & 8#007)) -eq 0 ]; }
check "Unix side: the key folder gives others nothing ($(stat -c %a "$KD" 2>/dev/null))" no_other_bits "$KD"
check "Unix side: the key file gives others nothing ($(stat -c %a "$KD/example.test.key" 2>/dev/null))" \
  no_other_bits "$KD/example.test.key"
DD=$WINEPREFIX/drive_c/dacl-test/data
check "Unix side: the data folder gives others nothing ($(stat -c %a "$DD" 2>/dev/null))" no_other_bits "$DD"
check "Unix side: the store in it gives others nothing ($(stat -c %a "$DD/ismail.db" 2>/dev/null))" \
  no_other_bits "$DD/ismail.db"
finish
