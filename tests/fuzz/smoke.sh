#!/usr/bin/env bash
# The fuzz-smoke suite of make test: for every fuzz target, replays each
# input of its corpus (the committed seeds, and the generated certificate
# seeds) once, then fuzzes it for FUZZ_SMOKE_SECONDS (default 20) from that
# corpus, two targets at a time (FUZZ_SMOKE_JOBS). A crash, leak, timeout or
# sanitizer report fails the target, and the reproducer is kept in
# <fuzz build>/smoke/findings/<target>/. New corpus entries go to a scratch
# folder that is thrown away (make fuzz keeps them).
#   tests/fuzz/smoke.sh <fuzz build dir>
set -u
FB=$(cd "${1:?fuzz build dir}" && pwd)
T_SUITE=fuzz-smoke
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/targets.sh"
S=${FUZZ_SMOKE_SECONDS:-20}
OUT=$FB/smoke
rm -rf "$OUT"
mkdir -p "$OUT"

# explain T LOG: the lines of a report worth seeing in the suite's output
explain() { grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|fuzz: |Running: )' "$2" | tail -4 | sed "s/^/  $1: /"; }

# one T: replays and fuzzes target T; its results go to $OUT/T.result as
# lines "PASS<TAB>name" or "FAIL<TAB>name<TAB>reason", then any report lines
# (the counts are kept by this shell, so targets can run side by side).
one() {
  local t=$1 exe rc runs r=$OUT/$1.result
  : >"$r"
  exe=$(fuzz_exe "$FB" "$t")
  if [ ! -x "$exe" ]; then printf 'FAIL\t%s\t%s\n' "$t: built" "$exe is missing (make fuzz-build)" >>"$r"; return; fi
  local dirs inputs found
  mapfile -t dirs < <(fuzz_seed_dirs "$FB" "$t")
  mapfile -t inputs < <(find "${dirs[@]}" -type f ! -name '.*' 2>/dev/null | sort)
  mkdir -p "$OUT/findings/$t" "$OUT/corpus/$t"
  if [ ${#inputs[@]} -eq 0 ]; then
    printf 'FAIL\t%s\t%s\n' "$t: corpus replays" "no seeds in ${dirs[*]}" >>"$r"
  elif "$exe" -artifact_prefix="$OUT/findings/$t/" "${inputs[@]}" >"$OUT/$t-replay.log" 2>&1; then
    printf 'PASS\t%s\n' "$t: corpus replays (${#inputs[@]} inputs)" >>"$r"
  else
    printf 'FAIL\t%s\t%s\n' "$t: corpus replays" "a seed fails; log $OUT/$t-replay.log" >>"$r"
    explain "$t" "$OUT/$t-replay.log" >>"$r"
  fi
  "$exe" -max_total_time="$S" -max_len="$(fuzz_max_len "$t")" -dict="$FUZZ_DIR/dict/$t.dict" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/findings/$t/" \
    "$OUT/corpus/$t" "${dirs[@]}" >"$OUT/$t-fuzz.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t-fuzz.log" | tail -1)
  mapfile -t found < <(fuzz_findings "$OUT/findings/$t")
  if [ "$rc" -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
    printf 'PASS\t%s\n' "$t: ${S} s of fuzzing (${runs:-?} executions)" >>"$r"
  else
    printf 'FAIL\t%s\t%s\n' "$t: ${S} s of fuzzing" "exit $rc; reproduce with: $exe ${found[0]:-}; log $OUT/$t-fuzz.log" >>"$r"
    explain "$t" "$OUT/$t-fuzz.log" >>"$r"
  fi
}

# Two targets at a time (the machine's two cores), then the results in order.
for t in "${FUZZ_TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${FUZZ_SMOKE_JOBS:-2}" ]; do wait -n; done
  one "$t" &
done
wait
for t in "${FUZZ_TARGETS[@]}"; do
  if [ ! -s "$OUT/$t.result" ]; then fail "$t" "no result (the run ended early)"; continue; fi
  while IFS=$'\t' read -r kind name reason; do
    case $kind in
      PASS) pass "$name" ;;
      FAIL) fail "$name" "$reason" ;;
      *) echo "$kind${name:+	$name}" ;;
    esac
  done <"$OUT/$t.result"
done
rm -rf "$OUT/corpus"
finish
