#!/usr/bin/env bash
# cmake/bootstrap.sh finds Debian's archive and security archive in apt's own
# sources (deb822 .sources files and one-line entries), and reaches them through
# the proxy apt is configured with; no archive address is written in the script.
#
# Each case gives apt (through APT_CONFIG) a sources list, a parts folder and a
# lists folder of its own, and reads `bootstrap.sh --print-archives`. A last case
# runs the real download path against a local proxy that answers 404 and checks
# the URL it was asked for. Nothing here touches the machine's apt configuration
# or the network.
#   tests/check-bootstrap-sources.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T_SUITE=bootstrap-sources
. "$ROOT/tests/lib.sh"
BOOT=$ROOT/cmake/bootstrap.sh
D=$(mktemp -d); chmod 755 "$D"
PROXY_PID=""
trap '[ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null; rm -rf "$D"' EXIT
# The suite names the script looks for are this release's.
CODENAME=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
CODENAME=${CODENAME:-stable}

# setup NAME: an empty apt configuration in $D/NAME (sources.list, sources.list.d/,
# lists/); extra apt.conf lines from stdin. Sets A to its folder.
setup() {
  A=$D/$1
  mkdir -p "$A/sources.list.d" "$A/lists/partial" "$A/parts" "$A/cache"
  : >"$A/sources.list"
  { cat <<EOF
Dir::Etc::sourcelist "$A/sources.list";
Dir::Etc::sourceparts "$A/sources.list.d";
Dir::Etc::parts "$A/parts";
Dir::Etc::main "/dev/null";
Dir::State::lists "$A/lists";
Dir::Cache "$A/cache";
EOF
    cat
  } >"$A/apt.conf"
}
# archives: bootstrap.sh --print-archives with the configuration in $A.
archives() { env -u ISMAIL_DEBIAN_MIRROR -u ISMAIL_DEBIAN_SECURITY_MIRROR APT_CONFIG="$A/apt.conf" "$@" bash "$BOOT" --print-archives 2>&1; }
# expect NAME OUTPUT LINE...: OUTPUT has each LINE.
expect() {
  local name=$1 out=$2 l; shift 2
  for l in "$@"; do
    grep -qxF -- "$l" <<<"$out" || { fail "$name" "expected '$l' in: $(tr '\n' '|' <<<"$out")"; return; }
  done
  pass "$name"
}

# 1. deb822: a third-party entry first, a disabled Debian entry, then the mirror
#    (trailing slash, deb and deb-src, several suites) and its security archive.
setup deb822 </dev/null
cat >"$A/sources.list.d/nodesource.sources" <<EOF
Types: deb
URIs: https://third-party.example.test/node_20.x
Suites: nodistro
Components: main
EOF
cat >"$A/sources.list.d/debian.sources" <<EOF
# The mirror below replaces this one.
Types: deb
URIs: http://disabled.example.test/debian
Suites: $CODENAME
Components: main
Enabled: no

Types: deb deb-src
URIs: http://mirror.example.test/debian/
Suites: $CODENAME $CODENAME-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.test/debian-security
Suites: $CODENAME-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
out=$(archives)
expect "deb822: the mirror's URL, without the trailing slash" "$out" "main http://mirror.example.test/debian"
expect "deb822: the security archive" "$out" "security http://mirror.example.test/debian-security"
expect "no apt proxy: curl gets no proxy argument" "$out" "main-proxy -" "security-proxy -"

# 2. One-line entries in sources.list, with options and a commented-out line.
setup oneline </dev/null
cat >"$A/sources.list" <<EOF
# deb http://commented.example.test/debian $CODENAME main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://local.example.test:8443/debian $CODENAME main contrib non-free-firmware
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://local.example.test:8443/debian $CODENAME main
deb http://local.example.test/debian-security/ $CODENAME-security main
EOF
out=$(archives)
expect "one-line: main archive (https, port kept)" "$out" "main https://local.example.test:8443/debian"
expect "one-line: security archive" "$out" "security http://local.example.test/debian-security"
# Sources apt itself refuses (deb and deb-src of one suite with different Signed-By):
# bootstrap stops with apt's own complaint.
sed -i 's/^deb-src \[[^]]*\] /deb-src /' "$A/sources.list"
out=$(archives); rc=$?
if [ $rc -ne 0 ] && grep -q "apt could not read its sources: E: Conflicting values set for option Signed-By" <<<"$out"; then
  pass "sources apt cannot read: apt's error shown"
else
  fail "sources apt cannot read: apt's error shown" "exit $rc: $out"
fi

# 3. A .list file in sources.list.d, an apt proxy, a per-host DIRECT, an https
#    proxy for https URLs; entries curl cannot fetch (mirror+, cdrom) are skipped.
setup proxy <<'EOF'
Acquire::http::Proxy "http://proxy.example.test:3128/";
Acquire::http::Proxy::security.example.test "DIRECT";
EOF
cat >"$A/sources.list.d/debian.list" <<EOF
deb mirror+file:/etc/apt/mirrors/debian.list $CODENAME main
deb cdrom:[Debian GNU/Linux]/ $CODENAME main
deb https://mirror.example.test/debian $CODENAME main
deb http://security.example.test/debian-security $CODENAME-security main
EOF
out=$(archives)
expect "mirror+ and cdrom entries skipped" "$out" "main https://mirror.example.test/debian"
expect "Acquire::http::Proxy used (for https too, as apt does)" "$out" "main-proxy --proxy http://proxy.example.test:3128/"
expect "Acquire::http::Proxy::HOST \"DIRECT\": no proxy" "$out" "security-proxy --noproxy *"
echo 'Acquire::https::Proxy "http://tls-proxy.example.test:8080";' >>"$A/apt.conf"
expect "Acquire::https::Proxy before Acquire::http::Proxy for https" "$(archives)" "main-proxy --proxy http://tls-proxy.example.test:8080"

# 4. Proxy-Auto-Detect: the program's answer, before Acquire::http::Proxy.
setup autodetect </dev/null
printf '#!/bin/sh\ncase "$1" in */debian-security*) echo DIRECT ;; *) echo http://detected.example.test:3142 ;; esac\n' >"$A/detect"
chmod 755 "$A/detect"
cat >>"$A/apt.conf" <<EOF
Acquire::http::Proxy "http://proxy.example.test:3128";
Acquire::http::Proxy-Auto-Detect "$A/detect";
EOF
printf 'deb http://mirror.example.test/debian %s main\ndeb http://mirror.example.test/debian-security %s-security main\n' "$CODENAME" "$CODENAME" >"$A/sources.list"
expect "Proxy-Auto-Detect answers per URL" "$(archives)" \
  "main-proxy --proxy http://detected.example.test:3142" "security-proxy --noproxy *"

# 5. A Debian suite apt has fetched is known by its Release file's Origin and Label,
#    even after another archive's entry for the same suite and component.
setup origin </dev/null
cat >"$A/sources.list" <<EOF
deb http://packages.example.test/php $CODENAME main
deb http://mirror.example.test/debian $CODENAME main
deb http://packages.example.test/php $CODENAME-security main
deb http://mirror.example.test/debian-security $CODENAME-security main
EOF
for s in "debian $CODENAME Debian" "debian-security $CODENAME-security Debian-Security"; do
  set -- $s
  f="$A/lists/mirror.example.test_$(tr / _ <<<"$1")_dists_$2"
  printf 'Origin: Debian\nLabel: %s\nSuite: %s\nCodename: %s\nComponents: main\nArchitectures: amd64\n' "$3" "$2" "$2" >"${f}_InRelease"
  : >"${f}_main_binary-$(dpkg --print-architecture)_Packages"
done
out=$(archives)
expect "Origin/Label Debian: the Debian entry, not the first one" "$out" \
  "main http://mirror.example.test/debian" "security http://mirror.example.test/debian-security"

# 6. No Debian entry: bootstrap stops and says what to do; no security entry: "none".
setup nodebian </dev/null
echo "deb https://third-party.example.test/node_20.x nodistro main" >"$A/sources.list"
out=$(archives); rc=$?
if [ $rc -ne 0 ] && grep -q "ISMAIL_DEBIAN_MIRROR" <<<"$out"; then pass "no Debian entry: stops, names ISMAIL_DEBIAN_MIRROR"
else fail "no Debian entry: stops, names ISMAIL_DEBIAN_MIRROR" "exit $rc: $out"; fi
echo "deb http://mirror.example.test/debian $CODENAME main" >>"$A/sources.list"
expect "no security entry: none" "$(archives)" "main http://mirror.example.test/debian" "security none"

# 7. ISMAIL_DEBIAN_MIRROR / ISMAIL_DEBIAN_SECURITY_MIRROR still override.
expect "ISMAIL_DEBIAN_MIRROR overrides apt's sources" \
  "$(archives ISMAIL_DEBIAN_MIRROR=http://override.example.test/debian ISMAIL_DEBIAN_SECURITY_MIRROR=http://override.example.test/sec)" \
  "main http://override.example.test/debian" "security http://override.example.test/sec"

# 8. The real download path: the InRelease of trixie-security is asked of apt's
#    proxy, at the URL derived from the configured security archive. The proxy
#    answers 404, so bootstrap stops before building anything. Run as nobody when
#    root, so that nothing can be installed or written outside $D.
PORT=$(free_port)
python3 - "$PORT" "$D/proxy.log" <<'PY' &
import http.server, sys
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write(self.path + "\n")
        self.send_error(404)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PROXY_PID=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
setup download <<EOF
Acquire::http::Proxy "http://127.0.0.1:$PORT";
EOF
printf 'deb http://mirror.example.test/debian %s main\ndeb http://mirror.example.test/debian-security %s-security main\n' "$CODENAME" "$CODENAME" >"$A/sources.list"
mkdir -m 755 "$D/cache"
as=()
[ "$(id -u)" != 0 ] || as=(runuser -u nobody --)
out=$(cd "$D" && ${as[@]+"${as[@]}"} env -u ISMAIL_DEBIAN_MIRROR -u ISMAIL_DEBIAN_SECURITY_MIRROR -u http_proxy -u https_proxy \
      APT_CONFIG="$A/apt.conf" ISMAIL_DEPS_CACHE="$D/cache" QUIET=1 timeout 120 bash "$BOOT" --native-openssl 2>&1)
if grep -q "missing packages" <<<"$out"; then
  skip "download through apt's proxy" "bootstrap's packages are not all installed ($out)"
elif grep -qxF "http://mirror.example.test/debian-security/dists/trixie-security/InRelease" "$D/proxy.log" 2>/dev/null &&
     grep -q "cannot read Debian's list of source packages for trixie-security" <<<"$out"; then
  pass "InRelease asked of apt's proxy at the configured security archive's URL"
else
  fail "InRelease asked of apt's proxy at the configured security archive's URL" "proxy saw: $(tr '\n' ' ' <"$D/proxy.log" 2>/dev/null); bootstrap: $out"
fi

# 9. No archive address in the script itself.
if grep -nE '(https?|ftp)://[[:alnum:]]' "$BOOT" >"$D/urls"; then
  fail "no archive URL written in cmake/bootstrap.sh" "$(tr '\n' ' ' <"$D/urls")"
else
  pass "no archive URL written in cmake/bootstrap.sh"
fi
finish
