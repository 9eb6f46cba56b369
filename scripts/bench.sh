#!/usr/bin/env bash
# make bench: measurements that do not belong in make test (timing-sensitive,
# long). Results are appended to docs/performance.md with the date and machine.
#   scripts/bench.sh <linux build dir> [--quick|--full]
# quick (the default, about 10 minutes) or full (BENCH=full make bench, about
# an hour): the store's commit-to-watcher latency, then the TLS comparison
# with the peers (scripts/bench-tls.sh; root, 2 cores). BENCH_TLS=0 skips it.
set -euo pipefail
B=$(cd "${1:?linux build dir}" && pwd)
RUN=quick; [ "${BENCH:-}" = full ] && RUN=full
case "${2:-}" in --quick) RUN=quick ;; --full) RUN=full ;; "") ;; *) echo "usage: $0 BUILD [--quick|--full]" >&2; exit 2 ;; esac
N=1000; [ "$RUN" = quick ] && N=200
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/docs/performance.md
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
"$B/ctl/ismailctl" --data "$D" show >/dev/null

echo "store: commit-to-watcher latency over $N commits (with and without the wake-up signal)"
sig=$("$B/tests/bench-store" "$D/ismail.db" "$N" signal)
pol=$("$B/tests/bench-store" "$D/ismail.db" "$N" poll)
echo "$sig"; echo "$pol"

machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
[ -f "$OUT" ] || printf '# Performance\n\nMeasured with `make bench` (scripts/bench.sh); each run appends a dated section.\n' > "$OUT"
{
  printf '\n## %s: store commit-to-watcher latency\n\n' "$(date -u +%Y-%m-%d)"
  printf 'Machine: %s. Commits: %s, each at a random moment; the watcher sleeps in poll() on the\n' "$machine" "$N"
  printf 'wake-up socket (50 ms) and checks PRAGMA data_version at least every 100 ms, as the service does.\n\n'
  printf '| mode | p50 | p99 | max |\n|---|---|---|---|\n'
  for line in "$sig" "$pol"; do
    sed -E 's/^([^:]*): commits [0-9]+ p50 ([0-9.]+) ms p99 ([0-9.]+) ms max ([0-9.]+) ms/| \1 | \2 ms | \3 ms | \4 ms |/' <<<"$line"
  done
  printf '\nReproduce: `make bench` (or `bash scripts/bench.sh build/linux`).\n'
} >> "$OUT"
echo "written to $OUT"

SWAPS=50; [ "$RUN" = quick ] && SWAPS=20
echo "live apply: commit to the first handshake presenting a new certificate, $SWAPS swaps each way"
ssig=$(python3 "$ROOT/tests/bench/swap_latency.py" "$B" "$SWAPS" signal)
spol=$(python3 "$ROOT/tests/bench/swap_latency.py" "$B" "$SWAPS" poll)
echo "$ssig"; echo "$spol"
{
  printf '\n## %s: certificate swap, commit to first handshake with the new key\n\n' "$(date -u +%Y-%m-%d)"
  printf 'Machine: %s. %s swaps: a renewal tool'"'"'s write-aside-and-rename, `ismailctl reload` (timed from before it\n' "$machine" "$SWAPS"
  printf 'starts), then SMTPS handshakes in a loop until the new certificate is served. Targets: p99 50 ms with the\n'
  printf 'wake-up signal, 300 ms by polling alone (tests/bench/swap_latency.py).\n\n'
  printf '| mode | p50 | p99 | max |\n|---|---|---|---|\n'
  for line in "$ssig" "$spol"; do
    sed -E 's/^([^:]*): swaps [0-9]+ p50 ([0-9.]+) ms p99 ([0-9.]+) ms max ([0-9.]+) ms/| \1 | \2 ms | \3 ms | \4 ms |/' <<<"$line"
  done
} >> "$OUT"

[ "${BENCH_TLS:-1}" = 0 ] || bash "$ROOT/scripts/bench-tls.sh" "$B" "$RUN"
