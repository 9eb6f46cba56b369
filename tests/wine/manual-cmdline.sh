#!/usr/bin/env bash
# manual-cmdline.sh: the manual's "CSRs and SSL Certificates: Manual Control"
# as printed, in the installed product, under Wine.
#
#   bash tests/wine/manual-cmdline.sh <linux build dir> <win build dir> <msi, or a folder with ISMail.msi>
#
# In a fresh Wine prefix (persistent wineserver), with the store pre-seeded on
# free loopback ports by the native ismailctl (server.hostname example.com,
# SMTP Incoming on), the MSI installed with msiexec and the service started by
# Wine's service manager:
#   1. Apache\install holds openssl.exe (the build's), openssl.cnf and
#      spp2k.bat; after spp2k.bat, openssl and ismailctl run from any folder of
#      that window, and OPENSSL_CONF names the folder's openssl.cnf
#   2. the manual's own command, rsa:1024: `wine cmd /c cd c:\program files\
#      ...\apache\install && spp2k.bat && openssl req -newkey rsa:1024 ...`
#      (the fields given with -subj); a test CA (openssl on Linux) signs it;
#      the certificate copied into ssl.crt and req.key moved into ssl.key with
#      cmd's copy and move: the service refuses it, and ismailctl status names
#      the file, the reason and the command to use instead
#   3. the same with rsa:2048 (and once more without -subj, openssl.cnf's
#      prompts answered on the window's input), then `openssl req -in req.pem -text -noout` and
#      `openssl x509 -in example.com.crt -text -noout` in their own windows,
#      their output checked (subject, key size, issuer, names)
#   4. the moved key kept the permissions it was made with: when others can
#      read it, the service refuses it naming the Restrict access button and
#      `ismailctl cert protect example.com`, and acl-read.exe shows who; then
#      `ismailctl.exe cert protect example.com` restricts it and the service
#      serves the CA-signed certificate (SHA-256 fingerprint seen by openssl
#      s_client from Linux over loopback) with no other step
# icacls is a stub under Wine (it prints nothing), so the key's access list is
# read with tests/acl-read.exe; Wine keeps Unix permission bits, not access
# lists, and the suite says what it sees. One PASS/FAIL line per check; every
# wait polls against a deadline.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/tests/lib.sh"

if [ $# -ne 3 ]; then
    echo "usage: bash tests/wine/manual-cmdline.sh <linux build dir> <win build dir> <msi, or a folder with ISMail.msi>" >&2
    exit 2
fi
LB=$(cd "$1" 2>/dev/null && pwd) || LB=$1
WB=$(cd "$2" 2>/dev/null && pwd) || WB=$2
MSI=$(realpath -m "$3")
[ -d "$MSI" ] && MSI=$MSI/ISMail.msi

WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver}
CTL_NATIVE=$LB/ctl/ismailctl
ACL_READ=$WB/tests/acl-read.exe
BUILT_OPENSSL=$WB/apache-install/openssl.exe
T0=$(date +%s)

missing=""
for f in "$WINE" "$WINESERVER" "$CTL_NATIVE" "$ACL_READ" "$MSI"; do
    [ -e "$f" ] || missing="$missing $f"
done
for c in msiextract openssl python3; do
    command -v "$c" >/dev/null || missing="$missing $c(command)"
done
if [ -n "$missing" ]; then
    fail "prerequisites" "missing:$missing"
    finish
fi
setup_done "prerequisites (MSI, native ismailctl, acl-read.exe, wine64, openssl)"

WORK=$(mktemp -d /tmp/ismail-manual-cmdline.XXXXXX)
export WINEPREFIX=$WORK/prefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
cleanup() {
    local rc=$?
    "$WINESERVER" -k 2>/dev/null
    timeout 20 "$WINESERVER" -w 2>/dev/null
    if [ "$rc" -ne 0 ] || [ "$T_FAILED" -ne 0 ]; then
        echo "--- service log (last lines):"
        tail -n 15 "$DATA/ismail-service.log" 2>/dev/null | cut -c1-400
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A Windows program's output without CRs; its exit status is the program's.
W() { "$WINE" "$@" 2>/dev/null | tr -d '\r'; return "${PIPESTATUS[0]}"; }
INST="$WINEPREFIX/drive_c/Program Files/InstantServers/ISMail"
AI="$INST/Apache/install"
DATA=$WINEPREFIX/drive_c/ProgramData/InstantServers/ISMail
CTL_WIN='C:\Program Files\InstantServers\ISMail\ismailctl.exe'
# The manual's first two lines, as printed (lower case, no quotes).
CD='cd c:\program files\instantservers\ismail\apache\install'
DOM=example.com
SUBJ="/C=US/ST=California/L=Mountain View/O=InstantServers, Inc./CN=$DOM/emailAddress=postmaster@$DOM"

# window LINE...: one command window, as the manual has it: cmd /c with the
# words of "cd ... && spp2k.bat && LINE" (each word one argument, so Wine
# quotes only those with spaces, as a user would type them). It starts in
# C:\, as a command window starts on drive C: (cd changes the folder, not
# the drive).
window() {
    local words=()
    read -r -a words <<<"$CD"
    ( cd "$WINEPREFIX/drive_c" &&
      timeout 120 "$WINE" cmd /c "${words[@]}" '&&' spp2k.bat '&&' "$@" 2>"$WORK/window.err" | tr -d '\r'
      exit "${PIPESTATUS[0]}" )
}

if timeout 120 "$WINE" wineboot --init >"$WORK/wineboot.log" 2>&1; then
    setup_done "wineboot --init (fresh prefix)"
else
    fail "wineboot --init" "$(tail -3 "$WORK/wineboot.log")"
    finish
fi
timeout 60 "$WINESERVER" -w
"$WINESERVER" -p

# ---- the store, pre-seeded: every port on a free loopback port -------------
mkdir -p "$DATA"
declare -A PORT
args=(listen.address 127.0.0.1 server.hostname $DOM smtp.tls.incoming on)
used=" "
for k in $("$CTL_NATIVE" --data "$DATA" show 2>/dev/null | awk '$1 ~ /\.port$/ {print $1}'); do
    while :; do p=$(free_port); case "$used" in *" $p "*) ;; *) break ;; esac; done
    used="$used$p "; PORT[$k]=$p; args+=("$k" "$p")
done
P_SMTP=${PORT[smtp.port]:-}
if [ -n "$P_SMTP" ] && "$CTL_NATIVE" --data "$DATA" set "${args[@]}" >"$WORK/seed.log" 2>&1; then
    pass "pre-seed store (server.hostname $DOM, SMTP Incoming on, smtp.port $P_SMTP)"
else
    fail "pre-seed store" "$(cat "$WORK/seed.log")"
    finish
fi

cp "$MSI" "$WINEPREFIX/drive_c/ISMail.msi"
t=$(date +%s)
if timeout 180 "$WINE" msiexec /i 'C:\ISMail.msi' /qn >"$WORK/msi.log" 2>&1; then
    pass "msiexec /i ISMail.msi /qn ($(( $(date +%s) - t )) s)"
else
    fail "msiexec /i ISMail.msi /qn" "exit $?"
    finish
fi
svc_running() { W sc query ISMail | grep -q 'STATE.*RUNNING'; }
check "service ISMail RUNNING" wait_until 30 svc_running

status() { W "$CTL_WIN" status; }
last_error() { status | sed -n 's/^last error: *//p'; }
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'; }
served_fp() {
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$P_SMTP" -starttls smtp 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}
serves() { [ "$(served_fp)" = "$1" ]; }
has_self() { [ -s "$INST/Apache/conf/ssl.crt/$DOM.crt" ]; }
wait_until 30 has_self
SELF_FP=$(file_fp "$INST/Apache/conf/ssl.crt/$DOM.crt")
check "STARTTLS on $P_SMTP serves the first start's self-signed certificate for $DOM" wait_until 30 serves "$SELF_FP"

# =============================================================================
# 1. Apache\install and spp2k.bat
# =============================================================================
left=""
for f in openssl.exe openssl.cnf spp2k.bat; do [ -s "$AI/$f" ] || left="$left $f"; done
if [ -z "$left" ]; then
    pass "Apache\\install: openssl.exe, openssl.cnf, spp2k.bat"
else
    fail "Apache\\install: openssl.exe, openssl.cnf, spp2k.bat" "missing:$left ($(ls "$AI" 2>&1))"
    finish
fi
if [ ! -f "$BUILT_OPENSSL" ] || cmp -s "$AI/openssl.exe" "$BUILT_OPENSSL"; then
    pass "openssl.exe is the build's ($(sha256sum <"$AI/openssl.exe" | cut -c1-16)...)"
else
    fail "openssl.exe is the build's" "differs from $BUILT_OPENSSL"
fi
check "spp2k.bat has CRLF line ends" grep -q $'\r$' "$AI/spp2k.bat"
lib_version=$(strings "$INST/ismail-service.exe" | grep -m1 -oE '^OpenSSL 3\.[0-9]+\.[0-9]+[^ ]*' )
out=$(window openssl version -d)
if grep -q "^OpenSSL ${lib_version#OpenSSL }" <<<"$out" && [ -n "$lib_version" ]; then
    pass "spp2k.bat, then openssl version: '$(grep -m1 '^OpenSSL' <<<"$out")', the service's ${lib_version}"
else
    fail "spp2k.bat, then openssl version: the service's OpenSSL ($lib_version)" "$out $(cat "$WORK/window.err")"
fi
# The same window, elsewhere: PATH reaches openssl and ismailctl, OPENSSL_CONF the cnf.
# (set OPENSSL_CONF last: Wine's cmd would take the space before "&&" into the name.)
out=$(window cd '\' '&&' openssl version '&&' ismailctl --version '&&' set OPENSSL_CONF)
if grep -q '^OpenSSL 3' <<<"$out" && grep -q '^ismailctl ' <<<"$out" &&
   grep -qi '^OPENSSL_CONF=C:\\Program Files\\InstantServers\\ISMail\\Apache\\install\\openssl.cnf$' <<<"$out"; then
    pass "after spp2k.bat, from C:\\ the window runs openssl and ismailctl; OPENSSL_CONF=...\\Apache\\install\\openssl.cnf"
else
    fail "spp2k.bat sets PATH and OPENSSL_CONF" "$out $(cat "$WORK/window.err")"
fi

# =============================================================================
# 2. the manual's command as printed: rsa:1024
# =============================================================================
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=ISMail Tests/CN=ISMail Test CA" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 30 2>/dev/null
# sign: the test CA signs Apache\install\req.pem into Apache\install\example.com.crt,
# as a reseller's certificate saved there.
sign() {
    openssl x509 -req -in "$AI/req.pem" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 90 \
        -extfile <(printf 'subjectAltName=DNS:%s,DNS:mail.%s\nextendedKeyUsage=serverAuth\n' $DOM $DOM) \
        -out "$AI/$DOM.crt" 2>"$WORK/sign.err"
}
window openssl req -newkey rsa:1024 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes -subj "$SUBJ" \
    >"$WORK/req1024.out"
if [ -s "$AI/req.key" ] && [ -s "$AI/req.pem" ] && openssl req -in "$AI/req.pem" -noout -text | grep -q '(1024 bit)'; then
    pass "window: spp2k.bat && openssl req -newkey rsa:1024 ... -nodes: req.key and a 1024-bit req.pem"
else
    fail "window: openssl req -newkey rsa:1024" "$(cat "$WORK/req1024.out" "$WORK/window.err")"
fi
sign
out=$(window copy $DOM.crt '..\conf\ssl.crt\'$DOM.crt '&&' move /y req.key '..\conf\ssl.key\'$DOM.key)
if [ ! -e "$AI/req.key" ] && [ -s "$INST/Apache/conf/ssl.key/$DOM.key" ] &&
   cmp -s "$AI/$DOM.crt" "$INST/Apache/conf/ssl.crt/$DOM.crt"; then
    pass "copy $DOM.crt ..\\conf\\ssl.crt, move req.key ..\\conf\\ssl.key\\$DOM.key"
else
    fail "copy and move into ssl.crt and ssl.key" "$out $(cat "$WORK/window.err")"
fi
WANT_CMD='openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes'
refused_1024() {
    local e
    e=$(last_error)
    grep -qF 'ssl.crt\example.com.crt: certificate refused' <<<"$e" && grep -qF '1024-bit RSA is too weak' <<<"$e" &&
        grep -qF "make a new key and CSR with: $WANT_CMD" <<<"$e"
}
if wait_until 30 refused_1024; then
    pass "the service refuses it: status names ssl.crt\\$DOM.crt, '1024-bit RSA is too weak' and '$WANT_CMD'"
else
    fail "the service refuses the 1024-bit certificate with the reason and the command" "$(last_error)"
fi
check "... and keeps serving the self-signed certificate" serves "$SELF_FP"

# =============================================================================
# 3. rsa:2048, and viewing the CSR and the certificate
# =============================================================================
window openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes -subj "$SUBJ" \
    >"$WORK/req2048.out"
if [ -s "$AI/req.key" ] && [ -s "$AI/req.pem" ]; then
    pass "window: spp2k.bat && $WANT_CMD -subj ...: req.key, req.pem"
else
    fail "window: $WANT_CMD" "$(cat "$WORK/req2048.out" "$WORK/window.err")"
fi
# The same command without -subj: openssl.cnf's prompts, in the manual's
# words, answered as typed in the window (the organizational unit left blank).
out=$(printf 'US\r\nCalifornia\r\nMountain View\r\nInstantServers, Inc.\r\n\r\n%s\r\npostmaster@%s\r\n' $DOM $DOM |
      window openssl req -newkey rsa:2048 -keyout typed.key -keyform PEM -out typed.pem -outform PEM -nodes)
typed=$(openssl req -in "$AI/typed.pem" -noout -subject 2>/dev/null | sed 's/ = /=/g; s/"//g')
prompts_ok=1
for p in 'Country Name (2 letter code, e.g. US or CA)' 'State or Province Name' 'Locality Name' 'Organization Name' \
         'Organizational Unit Name (may be left blank)' 'Common Name (the domain WITHOUT mail or www' 'Email Address'; do
    grep -qF "$p" "$WORK/window.err" || prompts_ok=0   # openssl asks on its standard error
done
if [ "$prompts_ok" = 1 ] &&
   [ "$typed" = "subject=C=US, ST=California, L=Mountain View, O=InstantServers, Inc., CN=$DOM, emailAddress=postmaster@$DOM" ]; then
    pass "window: without -subj, openssl req asks the manual's fields in its words; the answers make the subject"
else
    fail "window: openssl req asks the manual's fields" "subject '$typed'; output: $out $(cat "$WORK/window.err")"
fi
rm -f "$AI/typed.key" "$AI/typed.pem"

# Names as openssl prints them, with or without spaces around "=" and quotes
# (the default name format differs between builds).
names() { sed 's/ = /=/g; s/"//g'; }
out=$(window openssl req -in req.pem -text -noout | names)
want_subj="Subject: C=US, ST=California, L=Mountain View, O=InstantServers, Inc., CN=$DOM, emailAddress=postmaster@$DOM"
if grep -qF "$want_subj" <<<"$out" && grep -qF 'Public-Key: (2048 bit)' <<<"$out" &&
   grep -q 'Signature Algorithm: sha256WithRSAEncryption' <<<"$out" && grep -q 'Certificate Request:' <<<"$out"; then
    pass "window: openssl req -in req.pem -text -noout: the subject given, RSA 2048, sha256"
else
    fail "window: openssl req -in req.pem -text -noout" "$out $(cat "$WORK/window.err")"
fi
sign
FP=$(file_fp "$AI/$DOM.crt")
out=$(window openssl x509 -in $DOM.crt -text -noout | names)
if grep -q 'Issuer: O=ISMail Tests, CN=ISMail Test CA' <<<"$out" && grep -qF "$want_subj" <<<"$out" &&
   grep -q "DNS:$DOM, DNS:mail.$DOM" <<<"$out" && grep -qF 'Public-Key: (2048 bit)' <<<"$out"; then
    pass "window: openssl x509 -in $DOM.crt -text -noout: issuer, subject, names, RSA 2048"
else
    fail "window: openssl x509 -in $DOM.crt -text -noout" "$out $(cat "$WORK/window.err")"
fi
KEY="$INST/Apache/conf/ssl.key/$DOM.key"
acl_before=$(W "$ACL_READ" 'C:\Program Files\InstantServers\ISMail\Apache\install\req.key')
mode_before=$(stat -c %a "$AI/req.key")
out=$(window copy /y $DOM.crt '..\conf\ssl.crt\'$DOM.crt '&&' move /y req.key '..\conf\ssl.key\'$DOM.key)
if [ ! -e "$AI/req.key" ] && cmp -s "$AI/$DOM.crt" "$INST/Apache/conf/ssl.crt/$DOM.crt" &&
   openssl pkey -in "$KEY" -noout -text 2>/dev/null | grep -q 'Private-Key: (2048 bit'; then
    pass "copy /y $DOM.crt ..\\conf\\ssl.crt, move /y req.key ..\\conf\\ssl.key\\$DOM.key (the 2048-bit key)"
else
    fail "copy and move the 2048-bit pair" "$out $(cat "$WORK/window.err")"
fi

# =============================================================================
# 4. the moved key's permissions, ismailctl cert protect, and the certificate served
# =============================================================================
acl_moved=$(W "$ACL_READ" 'C:\Program Files\InstantServers\ISMail\Apache\conf\ssl.key\'$DOM.key)
mode_moved=$(stat -c %a "$KEY")
echo "NOTE: req.key as openssl.exe made it in Apache\\install: DACL '$acl_before', Unix mode $mode_before;"
echo "NOTE: moved into ssl.key: DACL '$acl_moved', mode $mode_moved (a move keeps what the file had)."
icacls_out=$(W icacls 'C:\Program Files\InstantServers\ISMail\Apache\conf\ssl.key\'$DOM.key)
[ -n "$icacls_out" ] || echo "NOTE: wine cmd /c icacls prints nothing (a stub in Wine); acl-read.exe reads the DACL instead."
if [ "$acl_moved" = "$acl_before" ] && [ "$mode_moved" = "$mode_before" ]; then
    pass "the moved key kept the access list it had in Apache\\install ($acl_moved)"
else
    fail "the moved key kept its access list" "before '$acl_before' mode $mode_before, after '$acl_moved' mode $mode_moved"
fi
others_read=0
[ $((8#$mode_moved & 8#004)) -ne 0 ] && others_read=1
if [ "$others_read" = 1 ]; then
    refused_open() {
        local e
        e=$(last_error)
        grep -qF "ssl.key\\$DOM.key: the private key file can be read by " <<<"$e" &&
            grep -qF '"Restrict access"' <<<"$e" && grep -qF "ismailctl cert protect $DOM" <<<"$e"
    }
    if wait_until 30 refused_open; then
        pass "the service refuses the key others can read: '$(last_error | cut -c1-200)...'"
    else
        fail "the service refuses the key others can read, naming both remedies" "$(last_error)"
    fi
    check "... and keeps serving the self-signed certificate" serves "$SELF_FP"
else
    echo "NOTE: openssl.exe made req.key with mode $mode_before under Wine: others cannot read it, so there is"
    echo "NOTE: nothing for the service to refuse here; the refusal is checked by wine-dacl and manual-keys."
    skip "the service refuses the key others can read, naming both remedies" "openssl.exe under Wine made req.key with mode $mode_before: others cannot read it"
fi
out=$(W "$CTL_WIN" cert protect $DOM); rc=$?
if [ "$rc" = 0 ] && grep -qE "ssl.key.$DOM.key: (restricted to the administrators \(it was readable by .*\)|already readable by the administrators only)" <<<"$out"; then
    pass "ismailctl.exe cert protect $DOM: '$out'"
else
    fail "ismailctl.exe cert protect $DOM" "exit $rc: $out"
fi
acl_after=$(W "$ACL_READ" 'C:\Program Files\InstantServers\ISMail\Apache\conf\ssl.key\'$DOM.key)
mode_after=$(stat -c %a "$KEY")
if [ $((8#$mode_after & 8#007)) -eq 0 ] && ! grep -q ';;;WD)' <<<"$acl_after"; then
    pass "after cert protect: DACL '$acl_after' (no Everyone), mode $mode_after"
else
    fail "after cert protect: the key is restricted" "DACL '$acl_after', mode $mode_after"
fi
if wait_until 30 serves "$FP"; then
    pass "STARTTLS on $P_SMTP serves the CA-signed certificate (SHA-256 ${FP:0:23}...), nothing else done"
else
    fail "STARTTLS serves the CA-signed certificate" "served '$(served_fp)', want '$FP'; last error: $(last_error)"
fi
no_error() { [ "$(last_error)" = none ]; }
check "ismailctl status: last error none" wait_until 10 no_error

echo "manual-cmdline: $(( $(date +%s) - T0 )) s"
finish
