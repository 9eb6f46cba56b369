#!/usr/bin/env bash
# The status page (version, host name, every port) is for the machine's own
# administrator, end to end on Linux with curl:
#  - from 127.0.0.1, /status and / answer 200 with the status text;
#  - from another address they answer 404 without it,
#    while /.well-known/ files are still served to that client. The other
#    address is a network namespace this suite makes, joined to the host by
#    a veth pair with addresses in 10.231.N.0/30, removed at the end; where
#    namespaces cannot be made (not root, no ip), that part is skipped and
#    the unit test (Http, StatusPageOnlyForLoopbackClients) stands alone.
#   tests/e2e/status-page.sh <linux build dir>
set -u
B=$(cd "${1:?linux build dir}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T_SUITE=status-page
. "$HERE/lib-e2e.sh"
NS=
E2E_AT_EXIT+=('[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null')   # takes the veth pair with it
e2e_ports
ctl set server.hostname mail.ismail.test >/dev/null
mkdir -p "$D/www/.well-known"
echo "public file" >"$D/www/.well-known/probe.txt"
e2e_start_service "service up" port_open "${P[http]}"

# fetch [ip netns exec NS] URL: prints "CODE" then the body.
fetch() { "$@" -sk --max-time 10 -o "$D/body" -w '%{http_code}' 2>/dev/null; echo; cat "$D/body" 2>/dev/null; }
# answered CODE TEXT|"" OUTPUT: the first line is CODE and the body has TEXT
# (or, TEXT being "!X", lacks X).
answered() {
  local code=$1 want=$2 out=$3
  [ "$(head -1 <<<"$out")" = "$code" ] || return 1
  case $want in
    !*) ! grep -qF -- "${want#!}" <<<"$(tail -n +2 <<<"$out")" ;;
    *) grep -qF -- "$want" <<<"$(tail -n +2 <<<"$out")" ;;
  esac
}

# ---- loopback: allowed ----
out=$(fetch curl "http://127.0.0.1:${P[http]}/status")
echo "$out" | head -4
check "127.0.0.1: /status is 200 with the version and the ports" answered 200 "ISMail" "$out"
check "127.0.0.1: /status lists the HTTP port" answered 200 "http port ${P[http]} open" "$out"
check "127.0.0.1: / is 200 with the status text" answered 200 "smtp port ${P[smtp]} open" \
  "$(fetch curl "http://127.0.0.1:${P[http]}/")"

# ---- another address: a namespace of our own ----
N=$(( $$ % 250 ))
HOST_IP=10.231.$N.1; NS_IP=10.231.$N.2
make_ns() {
  [ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 1
  NS=ismail-status-$$
  ip netns add "$NS" || { NS=; return 1; }
  ip link add "ismst$$a" type veth peer name "ismst$$b" &&
    ip link set "ismst$$b" netns "$NS" &&
    ip addr add "$HOST_IP/30" dev "ismst$$a" && ip link set "ismst$$a" up &&
    ip netns exec "$NS" ip addr add "$NS_IP/30" dev "ismst$$b" &&
    ip netns exec "$NS" ip link set "ismst$$b" up &&
    ip netns exec "$NS" ip link set lo up
}
if make_ns; then
  in_ns() { ip netns exec "$NS" "$@"; }
  ctl set listen.address "$HOST_IP" >/dev/null
  check "the listeners move to $HOST_IP (reached from the namespace)" \
    wait_until 20 in_ns python3 -c 'import socket,sys; socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2).close()' "$HOST_IP" "${P[http]}"
  out=$(fetch in_ns curl "http://$HOST_IP:${P[http]}/status")
  echo "$out" | head -2
  check "$NS_IP: /status is 404 without the status text" answered 404 "!ISMail " "$out"
  check "$NS_IP: / is 404 without the status text" answered 404 "!port ${P[http]}" \
    "$(fetch in_ns curl "http://$HOST_IP:${P[http]}/")"
  check "$NS_IP: /.well-known/ files are still served (200)" answered 200 "public file" \
    "$(fetch in_ns curl "http://$HOST_IP:${P[http]}/.well-known/probe.txt")"
  check "$HOST_IP, this host's own non-loopback address: /status is 404" answered 404 "!ISMail " \
    "$(fetch curl "http://$HOST_IP:${P[http]}/status")"
else
  skip "requests from another address (a network namespace)" "cannot make a network namespace here (needs root and ip netns); Http.StatusPageOnlyForLoopbackClients covers the rule"
fi
finish
