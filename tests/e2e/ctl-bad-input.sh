#!/usr/bin/env bash
# ismailctl with bad input: each case gives its exit code and a message naming
# the key or field, and the store is unchanged (a logical dump compared before
# and after). Also: --json output parses, and a good multi-key set is atomic.
#   tests/e2e/ctl-bad-input.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
T_SUITE=ctl-bad-input
. "$(dirname "$0")/lib-e2e.sh"
dump() { python3 "$TOOLS/store.py" dump "$D/ismail.db"; }

mkdir -p "$D/ssl.crt" "$D/ssl.key"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=web.test -keyout "$D/ssl.key/web.test.key" \
  -out "$D/ssl.crt/web.test.crt" -days 2 2>/dev/null
ctl set smtp.tls.incoming on imap.port 1143 >/dev/null
ctl domain add web.test --ip 127.0.0.1 --cert web.test.crt --key web.test.key >/dev/null

# case NAME EXPECTED_EXIT WORD_IN_MESSAGE ARGS...
case_() {
  local name=$1 want=$2 word=$3; shift 3
  local before after out rc
  before=$(dump)
  out=$(ctl "$@" 2>&1 >/dev/null); rc=$?
  after=$(dump)
  if [ "$rc" != "$want" ]; then fail "$name" "exit $rc, expected $want ($out)"
  elif ! grep -qF -- "$word" <<<"$out"; then fail "$name" "message does not name '$word': $out"
  elif [ "$before" != "$after" ]; then fail "$name" "the store changed"
  else pass "$name: exit $rc, '$out'"; fi
}
case_ "unknown key"               2 smtp.tls.bogus  set smtp.tls.bogus on
case_ "wrong type for a boolean"  3 smtp.tls.incoming set smtp.tls.incoming maybe
case_ "port 0"                    3 smtp.port       set smtp.port 0
case_ "port 70000"                3 smtp.port       set smtp.port 70000
case_ "duplicate port"            3 pop.port        set pop.port 1143
case_ "one bad pair spoils the set" 3 imaps.port    set pop.tls.incoming on imaps.port abc
case_ "unknown profile"           3 tls.profile     set tls.profile legacy
case_ "bad listen address"        3 listen.address  set listen.address 10.0.0.300
case_ "domain with a bad IP"      3 "ip:"           domain add bad.test --ip 999.1.1.1 --cert web.test.crt --key web.test.key
case_ "domain with a missing certificate" 3 missing.crt domain add bad.test --ip 127.0.0.1 --cert missing.crt --key web.test.key
case_ "domain with a missing key" 3 missing.key     domain add bad.test --ip 127.0.0.1 --cert web.test.crt --key missing.key
case_ "domain added twice"        3 web.test        domain add web.test --ip 127.0.0.1 --cert web.test.crt --key web.test.key
case_ "edit of an unknown domain" 3 nosuch.test     domain edit nosuch.test --port 8443
case_ "unknown command"           2 frobnicate      frobnicate
case_ "get of an unknown key"     2 nosuch          get nosuch

json_ok() { ctl --json "$@" | python3 -c 'import json,sys; json.load(sys.stdin)'; }
check "--json show parses" json_ok show
check "--json status parses" json_ok status
check "--json domain list parses" json_ok domain list
check "--json get parses" json_ok get smtp.port

ctl set pop.port 1110 pops.port 1995 >/dev/null
check "a good multi-key set writes every key" test "$(ctl get pop.port)/$(ctl get pops.port)" = 1110/1995
ctl reset pop.port pops.port >/dev/null
check "reset returns to the defaults" test "$(ctl get pop.port)/$(ctl get pops.port)" = 110/995
locked_store() { # a writer holding the store past the busy timeout gives exit 4
  rm -f "$D/locked"
  python3 "$TOOLS/store.py" lock "$D/ismail.db" "$D/locked" 14 &
  local p=$!
  wait_until 10 test -e "$D/locked" || return 1
  local rc; ctl set smtp.port 2525 2>"$D/err"; rc=$?
  wait $p; test "$rc" = 4 && grep -q 'locked' "$D/err"
}
check "a store locked past the timeout gives exit 4 and says so" locked_store
finish
