#!/usr/bin/env bash
# make fuzz: runs every fuzz target for FUZZ_SECONDS (default 600) each,
# FUZZ_JOBS (default 2) at a time, from the committed corpus and dictionary,
# then prints per target the executions, the corpus it grew and what it
# found. Exits non-zero when any target crashed, leaked, timed out, ran out
# of memory or hit a sanitizer report. See docs/fuzzing.md.
#   tests/fuzz/run.sh <fuzz build dir> [target...]
# Written under the build folder, never into the repository:
#   corpus/<target>/    inputs the fuzzer found that reach new code (kept
#                       between runs; merge the good ones into tests/fuzz/corpus)
#   findings/<target>/  crash-*, leak-*, timeout-*, oom-* reproducers
#   logs/<target>.log   libFuzzer's output, with the stack of any finding
set -u
FB=$(cd "${1:?fuzz build dir}" && pwd); shift
. "$(dirname "$0")/targets.sh"
SECONDS_EACH=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${FUZZ_TARGETS[@]}")
mkdir -p "$FB/logs" "$FB/corpus" "$FB/findings"
STAMP=$FB/logs/.run-start
touch "$STAMP"

declare -A BEFORE RC
run_one() { # run_one T: one fuzzing run; its exit code in logs/T.rc
  local t=$1 exe seeds=()
  exe=$(fuzz_exe "$FB" "$t")
  mapfile -t seeds < <(fuzz_seed_dirs "$FB" "$t")
  mkdir -p "$FB/corpus/$t" "$FB/findings/$t"
  "$exe" -max_total_time="$SECONDS_EACH" -max_len="$(fuzz_max_len "$t")" -dict="$FUZZ_DIR/dict/$t.dict" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FB/findings/$t/" \
    "$FB/corpus/$t" "${seeds[@]}" >"$FB/logs/$t.log" 2>&1
  echo $? >"$FB/logs/$t.rc"
}

echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH} s each, $JOBS at a time; logs in $FB/logs"
for t in "${TARGETS[@]}"; do
  if [ ! -x "$(fuzz_exe "$FB" "$t")" ]; then echo "fuzz: $(fuzz_exe "$FB" "$t") is missing (make fuzz-build)" >&2; exit 2; fi
  BEFORE[$t]=$(find "$FB/corpus/$t" -type f 2>/dev/null | wc -l)
done
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  echo "fuzz: $t started"
  run_one "$t" &
done
wait

bad=0
printf '\n%-9s %12s %8s %16s %9s\n' target executions exec/s "corpus (new)" findings
for t in "${TARGETS[@]}"; do
  log=$FB/logs/$t.log
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  now=$(find "$FB/corpus/$t" -type f | wc -l)
  mapfile -t found < <(fuzz_findings "$FB/findings/$t" -newer "$STAMP")
  RC[$t]=$(cat "$FB/logs/$t.rc" 2>/dev/null || echo 1)
  printf '%-9s %12s %8s %16s %9d\n' "$t" "${runs:-?}" "${speed:-?}" "$now (+$((now - ${BEFORE[$t]})))" "${#found[@]}"
  if [ "${#found[@]}" -gt 0 ] || [ "${RC[$t]}" != 0 ]; then bad=1; fi
done
for t in "${TARGETS[@]}"; do
  mapfile -t found < <(fuzz_findings "$FB/findings/$t" -newer "$STAMP")
  [ "${#found[@]}" -gt 0 ] || [ "${RC[$t]}" != 0 ] || continue
  echo
  echo "== $t: exit ${RC[$t]}; log $FB/logs/$t.log"
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|fuzz: )' "$FB/logs/$t.log" | head -5
  for f in "${found[@]}"; do
    echo "   finding:   $f"
    echo "   reproduce: $(fuzz_exe "$FB" "$t") $f"
  done
done
echo
if [ "$bad" -ne 0 ]; then echo "fuzz: findings above"; exit 1; fi
echo "fuzz: no findings"
