#!/usr/bin/env bash
# Every setting in the one settings list is documented in the administrator's
# guide, every ismailctl command is in its --help and the guide's reference,
# and the README gives the two set-up commands.
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
# ismailctl's commands: every row of its one table (ctl/ismailctl.c) is in
# --help and in the guide's ismailctl reference ("ismailctl [--data DIR] NAME SUB").
help=$("$B/ctl/ismailctl" --help)
rows=$(sed -n '/^static const ctl_command commands\[\] = {/,/^};/p' "$ROOT/ctl/ismailctl.c" |
       sed -nE 's/^ *\{"([a-z]+)", (NULL|"([a-z]+)"),.*/\1 \3/p' | sed 's/ $//')
n=$(grep -c . <<<"$rows")
if [ "$n" -ge 30 ]; then pass "ismailctl's command table read: $n commands"
else fail "ismailctl's command table read" "found $n rows in ctl/ismailctl.c"; fi
ref=$(sed -n '/^## ismailctl$/,/^## /p' "$ROOT/docs/admin-guide.md")
while read -r words; do
  [ -n "$words" ] || continue
  if grep -qE "^  $words( |\$)" <<<"$help"; then pass "--help lists: $words"
  else fail "--help lists: $words" "'ismailctl --help' has no line for '$words'"; fi
  if grep -qE "^ismailctl \[--data DIR\] $words( |\$)" <<<"$ref"; then pass "documented: ismailctl $words"
  else fail "documented: ismailctl $words" "docs/admin-guide.md's ismailctl reference has no 'ismailctl [--data DIR] $words'"; fi
done <<<"$rows"
check "README gives make run" grep -q '^make run' "$ROOT/README.md"
check "README gives make test" grep -q '^make test' "$ROOT/README.md"
finish
