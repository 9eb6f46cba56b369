#!/usr/bin/env bash
# make bench: measurements that do not belong in make test (timing-sensitive,
# long). Results are appended to docs/performance.md with the date and machine.
#   scripts/bench.sh <linux build dir> [--quick]
set -euo pipefail
B=$(cd "${1:?linux build dir}" && pwd)
N=1000; [ "${2:-}" = --quick ] && N=200
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
