#!/usr/bin/env bash
# The asan-reports suite of make test: the end-to-end suites run against the
# ASan+UBSan build (build/asan) with the sanitizers' log_path pointing at one
# folder, because the suites send the service's stderr to temporary folders
# they delete when they end. Any file there is a report from the service or
# ismailctl: this fails on each and shows its first lines.
#   tests/asan-reports.sh <report folder>
set -u
DIR=${1:?report folder}
T_SUITE=asan-reports
. "$(dirname "$0")/lib.sh"

mapfile -t reports < <(find "$DIR" -type f 2>/dev/null | sort)
asan=$(cat "${reports[@]}" /dev/null | grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)')
ubsan=$(cat "${reports[@]}" /dev/null | grep -c 'runtime error:')
if [ "$asan" -eq 0 ]; then pass "no AddressSanitizer or LeakSanitizer report"; else fail "no AddressSanitizer or LeakSanitizer report" "$asan reports"; fi
if [ "$ubsan" -eq 0 ]; then pass "no UBSan report (runtime error:)"; else fail "no UBSan report (runtime error:)" "$ubsan reports"; fi
if [ ${#reports[@]} -eq 0 ]; then
  pass "no report files in $DIR"
else
  fail "no report files in $DIR" "${#reports[@]} files"
  for f in "${reports[@]}"; do
    echo "--- $f"
    grep -E 'ERROR:|runtime error:|SUMMARY:|^ +#[0-9] ' "$f" | head -12
  done
fi
finish
