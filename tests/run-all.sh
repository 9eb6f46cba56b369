#!/usr/bin/env bash
# Runs every test suite and prints one closing line summing them all:
# "N passed, M failed, K skipped". Exits non-zero if anything failed or if
# nothing passed.
#   tests/run-all.sh <linux build> <windows build> <msi> [<asan build> [<fuzz build>]]
#   tests/run-all.sh --linux-only <linux build> [<asan build> [<fuzz build>]]
# The ASan+UBSan build and the fuzz build default to build/asan and build/fuzz
# (make asan, make fuzz-build). --linux-only leaves out what needs the Windows
# build or the MSI (the unit tests under Wine, the Visual Studio projects, the
# Wine suites and store-stress's Wine phase), so it runs after `make linux
# asan fuzz-build` alone.
set -u
LINUX_ONLY=
if [ "${1:-}" = --linux-only ]; then LINUX_ONLY=1; shift; fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [ -n "$LINUX_ONLY" ]; then
  LB=${1:?linux build}; WB=; MSI=
  AB=${2:-$ROOT/build/asan}; FB=${3:-$ROOT/build/fuzz}
else
  LB=${1:?linux build}; WB=${2:?windows build}; MSI=${3:?msi}
  AB=${4:-$ROOT/build/asan}; FB=${5:-$ROOT/build/fuzz}
fi
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR" "$ROOT/build/screenshots"
TOTAL_P=0; TOTAL_F=0; TOTAL_S=0
SUMMARY=()

# count FILE: sets P, F and S from a suite's output (CppUTest's closing line
# or our "N passed, M failed[, K skipped]" line); a suite that printed
# neither, or that ran no check, counts as one failure.
count() {
  local line
  P=0; F=0; S=0
  if line=$(grep -E '^(OK|Errors) \([0-9]+ (failures|tests)' "$1" | tail -1) && [ -n "$line" ]; then
    local ran fails
    ran=$(sed -nE 's/.* ([0-9]+) ran.*/\1/p' <<<"$line")
    fails=$(sed -nE 's/^Errors \(([0-9]+) failures.*/\1/p' <<<"$line")
    F=${fails:-0}; P=$(( ran - F ))
  elif line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1) && [ -n "$line" ]; then
    P=$(sed -nE 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
    F=$(sed -nE 's/(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed.*/\3/p' <<<"$line")
    S=$(sed -nE 's/.* failed, ([0-9]+) skipped.*/\1/p' <<<"$line"); S=${S:-0}
  else
    F=1
  fi
}

# suite NAME CMD...: runs a suite, shows its output, adds its counts.
suite() {
  local name=$1; shift
  local log=$LOGDIR/$name.log start=$SECONDS rc
  echo "=== $name"
  "$@" >"$log" 2>&1; rc=$?
  grep -E '^(FAIL|PASS|SKIP)|passed, [0-9]+ failed|^(OK|Errors) \(|Failure in|error:|^SUMMARY: [A-Za-z]+Sanitizer' "$log" | grep -v '^PASS' | head -40
  count "$log"
  [ "$rc" -ne 0 ] && [ "$F" -eq 0 ] && F=1   # a crash or non-zero exit is a failure
  [ $((P + F)) -eq 0 ] && F=1                 # a suite that ran no check failed
  echo "--- $name: $P passed, $F failed, $S skipped ($((SECONDS - start)) s; log $log)"
  TOTAL_P=$((TOTAL_P + P)); TOTAL_F=$((TOTAL_F + F)); TOTAL_S=$((TOTAL_S + S))
  SUMMARY+=("$(printf '%-22s %4d passed, %d failed, %d skipped' "$name" "$P" "$F" "$S")")
}

# windows_suite NAME CMD...: a suite that needs the Windows build or the MSI;
# left out (not counted) with --linux-only.
windows_suite() {
  if [ -n "$LINUX_ONLY" ]; then echo "=== $1: left out (--linux-only)"; return; fi
  suite "$@"
}

WINE=/usr/lib/wine/wine64
UNIT_PREFIX=$(mktemp -d /tmp/ismail-unit-prefix.XXXXXX)
trap 'WINEPREFIX=$UNIT_PREFIX /usr/lib/wine/wineserver -k 2>/dev/null; rm -rf "$UNIT_PREFIX"' EXIT
wine_unit() {
  export WINEPREFIX=$UNIT_PREFIX WINEDEBUG=-all
  $WINE wineboot --init >/dev/null 2>&1 || return 1
  $WINE "$WB/tests/ismail-tests.exe" -v
}

# The sanitized build: every report is fatal (-fno-sanitize-recover=all,
# halt_on_error). The unit tests look for leaks too; tests/asan.supp lists
# the few that are not ISMail's.
ASAN_BASE=detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1
UBSAN_BASE=print_stacktrace=1:halt_on_error=1
asan_unit() {
  ASAN_OPTIONS=$ASAN_BASE:detect_leaks=1 LSAN_OPTIONS=suppressions=$HERE/asan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=$UBSAN_BASE "$@"
}
# The Linux end-to-end suites again with the service and ismailctl of
# build/asan (about 5 minutes more). The suites keep the service's stderr in
# temporary folders they delete, so reports go to files in ASAN_LOGS
# (log_path), which the asan-reports suite then checks; a report also makes
# the program exit non-zero, which the suites see.
ASAN_LOGS=$LOGDIR/asan-reports
rm -rf "$ASAN_LOGS"; mkdir -p "$ASAN_LOGS"
asan_e2e() {
  ISMAIL_E2E_VARIANT=asan ASAN_OPTIONS=$ASAN_BASE:detect_leaks=1:log_path=$ASAN_LOGS/asan \
    LSAN_OPTIONS=suppressions=$HERE/asan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=$UBSAN_BASE:log_path=$ASAN_LOGS/ubsan "$@"
}

suite unit-native        "$LB/tests/ismail-tests" -v
suite unit-asan          asan_unit "$AB/tests/ismail-tests" -v
windows_suite unit-wine          wine_unit
suite docs               bash "$HERE/check-docs.sh" "$LB"
suite bootstrap-sources  bash "$HERE/check-bootstrap-sources.sh"
windows_suite vcxproj            bash "$HERE/check-vcxproj.sh" "$WB"
suite linux-e2e          bash "$HERE/e2e/linux-starttls.sh" "$LB"
suite ctl-bad-input      bash "$HERE/e2e/ctl-bad-input.sh" "$LB"
suite smtp-mail          bash "$HERE/e2e/smtp-mail.sh" "$LB"
suite smtp-security      bash "$HERE/e2e/smtp-security.sh" "$LB"
suite security           bash "$HERE/e2e/security.sh" "$LB"
suite live-apply         bash "$HERE/e2e/live-apply.sh" "$LB"
suite protocols          bash "$HERE/e2e/protocols.sh" "$LB"
suite certs              bash "$HERE/e2e/certs.sh" "$LB"
suite cert-install       bash "$HERE/e2e/cert-install.sh" "$LB"
suite cert-names         bash "$HERE/e2e/cert-names.sh" "$LB"
suite manual-keys        bash "$HERE/e2e/manual-keys.sh" "$LB"
suite file-modes         bash "$HERE/e2e/file-modes.sh" "$LB"
suite log-escape         bash "$HERE/e2e/log-escape.sh" "$LB"
suite status-page        bash "$HERE/e2e/status-page.sh" "$LB"
suite outgoing           bash "$HERE/e2e/outgoing.sh" "$LB"
suite store-stress       bash "$HERE/store-stress.sh" "$LB" ${WB:+"$WB"}
for e in linux-starttls:linux-e2e ctl-bad-input smtp-mail smtp-security live-apply protocols certs cert-install cert-names \
         manual-keys file-modes log-escape status-page outgoing; do
  suite "${e#*:}-asan" asan_e2e bash "$HERE/e2e/${e%%:*}.sh" "$AB"
done
suite asan-reports       bash "$HERE/asan-reports.sh" "$ASAN_LOGS"
suite fuzz-smoke         bash "$HERE/fuzz/smoke.sh" "$FB"
windows_suite wine-gui           env SHOT="$ROOT/build/screenshots/manager-smoke.png" bash "$HERE/wine/gui-smoke.sh" "$WB"
windows_suite wine-dacl          bash "$HERE/wine/dacl.sh" "$WB"
windows_suite wine-msi-e2e       bash "$HERE/wine/e2e-msi.sh" "$LB" "$WB" "$MSI"
windows_suite wine-service-e2e   bash "$HERE/wine/e2e-service.sh" "$LB" "$WB" "$MSI"
windows_suite wine-manager-e2e   bash "$HERE/wine/e2e-manager.sh" "$LB" "$WB" "$MSI"
windows_suite wine-manual-cmdline bash "$HERE/wine/manual-cmdline.sh" "$LB" "$WB" "$MSI"

echo
echo "=== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$TOTAL_P passed, $TOTAL_F failed, $TOTAL_S skipped"
[ "$TOTAL_F" -eq 0 ] && [ "$TOTAL_P" -gt 0 ]
