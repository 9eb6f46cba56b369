#!/usr/bin/env bash
# Every setting in the one settings list is documented in the administrator's
# guide, and the README gives the two set-up commands.
#   tests/check-docs.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T_SUITE=docs
. "$ROOT/tests/lib.sh"
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT
keys=$("$B/ctl/ismailctl" --data "$D" show | awk '{print $1}')
[ -n "$keys" ] || fail "settings listed" "ismailctl show printed nothing"
for k in $keys; do
  if grep -q "\`$k\`" "$ROOT/docs/admin-guide.md"; then pass "documented: $k"; else fail "documented: $k" "docs/admin-guide.md does not mention \`$k\`"; fi
done
check "README gives make run" grep -q '^make run' "$ROOT/README.md"
check "README gives make test" grep -q '^make test' "$ROOT/README.md"
finish
