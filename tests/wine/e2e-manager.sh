#!/usr/bin/env bash
# e2e-manager.sh: every tab of ISMail Manager, end to end, against the real
# service installed from the MSI under Wine.
#
#   bash tests/wine/e2e-manager.sh <linux build dir> <win build dir> <msi>
#
# In a fresh Wine prefix with Xvfb started first: pre-seeds the store with
# free loopback ports (native ismailctl), installs the MSI silently (the
# installer starts the service), opens the installed manager and drives it
# with tests/wine/driver.c (no screen coordinates: tabs by title, controls by
# name, dialogs by title, list views read in the manager's memory):
#   SSL/TLS           ticks the six check boxes, Apply, "Applied by the service";
#                     the store holds them; STARTTLS (SMTP, POP3, IMAP) and the
#                     implicit-TLS ports answer (openssl s_client from Linux)
#   SSL Certificates  a country "USA" is refused as typed, Save stays disabled
#                     and nothing changes; a CSR made through the dialog passes
#                     `openssl req -verify`; a certificate that does not match
#                     its key is refused with nothing changed; the certificate a
#                     test CA signed from the CSR is installed after the checks
#                     are confirmed, and the service serves its fingerprint at
#                     once (SNI, openssl s_client); so is a PFX file, after its
#                     password is asked; View shows it and copies its PEM; a
#                     key others can read (mode 644, as a key moved in from
#                     Apache\install keeps) is marked "key not private" and
#                     the service does not serve it; "Restrict access" leaves
#                     no Everyone entry (acl-read.exe) and the service serves
#                     that certificate at once
#   Web SSL           a port of 70000 is refused in the dialog with nothing
#                     changed; the domain saved is reached with curl over HTTPS
#   Service           Running with its listeners; the detail of a TLS listener
#                     names each certificate's file and names, and the one for
#                     clients without SNI (the CA-signed one once the host name
#                     is mail.<its name>); Stop closes the ports, Start opens
#                     them again, Restart starts a new service process
# "Nothing changed" is a hash of the store's tables and of the three
# certificate folders, taken before and after. A screenshot of each tab (and
# of the dialogs) goes to build/screenshots/manager-<tab>.png; the paths are
# printed. One PASS/FAIL line per check; every wait polls against a deadline.
#
# Screenshots go to $ISMAIL_SCREENSHOT_DIR (default: <checkout>/build/screenshots).
# KEEP=1 keeps the temporary folder (prefix, logs) for a post-mortem.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export T_SUITE=${T_SUITE:-e2e-manager}
# shellcheck source=../lib.sh
. "$ROOT/tests/lib.sh"

if [ $# -ne 3 ]; then
    echo "usage: bash tests/wine/e2e-manager.sh <linux build dir> <win build dir> <msi>" >&2
    exit 2
fi
LB=$(cd "$1" 2>/dev/null && pwd) || LB=$1
WB=$(cd "$2" 2>/dev/null && pwd) || WB=$2
MSI=$(realpath -m "$3")

WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver}
CTL_NATIVE=$LB/ctl/ismailctl
DRIVER=$WB/manager-gui/ismail-driver.exe
ACL_READ=$WB/tests/acl-read.exe
SHOT_DIR=${ISMAIL_SCREENSHOT_DIR:-$ROOT/build/screenshots}
T0=$(date +%s)

# ---- what the test needs ---------------------------------------------------
missing=""
for f in "$WINE" "$WINESERVER" "$CTL_NATIVE" "$DRIVER" "$ACL_READ" "$MSI"; do
    [ -e "$f" ] || missing="$missing $f"
done
for c in Xvfb import openssl curl python3 sha256sum setsid; do
    command -v "$c" >/dev/null || missing="$missing $c(command)"
done
if [ -n "$missing" ]; then
    fail "prerequisites" "missing:$missing"
    finish
fi
setup_done "prerequisites (native ismailctl, driver, MSI, wine64, Xvfb, openssl, curl)"

# ---- a fresh prefix, cleaned up whatever happens ---------------------------
WORK=$(mktemp -d /tmp/ismail-e2e-manager.XXXXXX)
export WINEPREFIX=$WORK/prefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
XVFB_PID=""
MGR_PID=""

cleanup() {
    local rc=$?
    [ -n "$MGR_PID" ] && kill "$MGR_PID" 2>/dev/null
    "$WINESERVER" -k 2>/dev/null
    timeout 20 "$WINESERVER" -w 2>/dev/null
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    [ -n "${SERVER_DIR_NAME:-}" ] && [ -z "${KEEP:-}" ] &&
        rm -rf /tmp/.wine-"$(id -u)"/"$SERVER_DIR_NAME" /tmp/wine-*/"$SERVER_DIR_NAME"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WIN_DIR='C:\Program Files\InstantServers\ISMail'
INST="$WINEPREFIX/drive_c/Program Files/InstantServers/ISMail"
CONF=$INST/Apache/conf
DATA=$WINEPREFIX/drive_c/ProgramData/InstantServers/ISMail
winpath() { local p; p=$(realpath -m "$1"); echo "Z:${p//\//\\}"; }

# The display first: Wine's desktop process, started with the session's first
# program, keeps the display it found for every later program.
Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp 5>"$WORK/display" >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
if wait_until 15 test -s "$WORK/display"; then
    DISPLAY=":$(head -1 "$WORK/display")"
    export DISPLAY
    setup_done "Xvfb on $DISPLAY"
else
    fail "Xvfb" "$(cat "$WORK/xvfb.log")"
    finish
fi

if timeout 120 "$WINE" wineboot --init </dev/null >"$WORK/wineboot.log" 2>&1; then
    setup_done "wineboot --init (fresh prefix $WINEPREFIX)"
else
    fail "wineboot --init" "$(tail -3 "$WORK/wineboot.log")"
    finish
fi
# Services live as long as wineserver: a persistent one (see the toolchain notes).
timeout 60 "$WINESERVER" -w
"$WINESERVER" -p </dev/null >/dev/null 2>&1
read -r dev ino < <(stat -c '%d %i' "$WINEPREFIX")
SERVER_DIR_NAME=server-$(printf '%x-%x' "$dev" "$ino")

# ---- pre-seed the store: every port on a free loopback port ------------------
mkdir -p "$DATA"
PORT_KEYS=$("$CTL_NATIVE" --data "$DATA" show 2>/dev/null | awk '$1 ~ /\.port$/ {print $1}')
declare -A PORT
used=" "
set_args=(listen.address 127.0.0.1)
for k in $PORT_KEYS; do
    while :; do p=$(free_port); case "$used" in *" $p "*) ;; *) break ;; esac; done
    used="$used$p "
    PORT[$k]=$p
    set_args+=("$k" "$p")
done
if [ -n "$PORT_KEYS" ] && "$CTL_NATIVE" --data "$DATA" set "${set_args[@]}" >"$WORK/seed.log" 2>&1; then
    pass "pre-seed store ($(echo $PORT_KEYS | wc -w) ports on 127.0.0.1)"
else
    fail "pre-seed store" "$(cat "$WORK/seed.log" 2>/dev/null)"
    finish
fi
P_SMTP=${PORT[smtp.port]}
P_SMTPS=${PORT[smtps.port]}
P_POP=${PORT[pop.port]}
P_POPS=${PORT[pops.port]}
P_IMAP=${PORT[imap.port]}
P_IMAPS=${PORT[imaps.port]}
P_HTTPS=${PORT[https.port]}

# ---- install; the installer starts the service ---------------------------------
service_log_tail() {
    echo "--- service log (last lines):"
    tail -n 15 "$DATA/ismail-service.log" 2>/dev/null
}
cp "$MSI" "$WINEPREFIX/drive_c/ISMail.msi"
if timeout 180 "$WINE" msiexec /i 'C:\ISMail.msi' /qn </dev/null >"$WORK/msi-i.log" 2>&1; then
    pass "msiexec /i ISMail.msi /qn"
else
    fail "msiexec /i ISMail.msi /qn" "exit $? $(tail -3 "$WORK/msi-i.log")"
    finish
fi
svc_state() { "$WINE" sc query ISMail </dev/null 2>/dev/null | tr -d '\r' | awk '/STATE/ {print $4}'; }
svc_running() { [ "$(svc_state)" = RUNNING ]; }
smtp_up() { smtp_ehlo "$P_SMTP" 2>/dev/null | grep -q '^250'; }
if wait_until 30 svc_running && wait_until 30 smtp_up; then
    pass "service ISMail running, SMTP answers on 127.0.0.1:$P_SMTP"
else
    fail "service ISMail running" "state '$(svc_state)'"
    service_log_tail
    finish
fi

# ---- the manager and its driver ---------------------------------------------------
DRV_ERR=$WORK/driver.err
# drv COMMAND...: the driver's output without CRs; its errors go to driver.err.
drv() {
    echo "--- $*" >>"$DRV_ERR"
    timeout 120 "$WINE" "$DRIVER" "$@" </dev/null 2>>"$DRV_ERR" | tr -d '\r'
    return "${PIPESTATUS[0]}"
}
drv_why() { tail -n 3 "$DRV_ERR" | tr '\n' ' '; }
mkdir -p "$SHOT_DIR"
SHOTS=()
# shot NAME [DIALOG]: the whole screen as SHOT_DIR/manager-NAME.png, once
# painted, with the dialog titled DIALOG open or, without one, no dialog at all
# (a picture of a tab must show the tab).
shot() {
    local f=$SHOT_DIR/manager-$1.png open
    rm -f "$f"
    open=$(drv dialogs | sort | paste -sd'|')
    if [ "$open" != "${2:-}" ]; then
        fail "screenshot $1" "expected the dialogs '${2:-}' open, found '$open'"
        return
    fi
    # The pointer off the window: no hover highlight in the picture. Wine
    # believes the pointer is in the middle of the screen, over the manager,
    # until X tells it otherwise, so it crosses the window on its way out.
    command -v xdotool >/dev/null && xdotool mousemove 512 384 sleep 0.3 mousemove 0 0 2>/dev/null
    # Painted and still: two pictures in a row the same (polled, not a fixed wait).
    local last=""
    settled() {
        import -display "$DISPLAY" -window root "$f" 2>"$WORK/import.log" || return 1
        local now
        now=$(/usr/bin/convert "$f" rgba:- 2>/dev/null | sha256sum)
        [ "$now" = "$last" ] && return 0
        last=$now
        return 1
    }
    wait_until 10 settled
    if [ -s "$f" ] &&
       [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
       [ "$(/usr/bin/convert "$f" -format '%k' info: 2>/dev/null || echo 0)" -gt 2 ]; then
        SHOTS+=("$f")
        setup_done "screenshot: $f"
    else
        fail "screenshot $1" "$(cat "$WORK/import.log")"
    fi
}
# store_hash / folders_hash: what "nothing changed" compares.
store_hash() {
    python3 - "$DATA/ismail.db" <<'PY' | sha256sum | cut -d' ' -f1
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
for q in ("SELECT key, value FROM settings ORDER BY key", "SELECT * FROM web_domains ORDER BY domain",
          "SELECT value FROM meta WHERE key = 'revision'"):
    for row in c.execute(q):
        print(repr(row))
PY
}
folders_hash() {
    (cd "$CONF" && find ssl.csr ssl.crt ssl.key -type f 2>/dev/null | sort | xargs -r sha256sum) | sha256sum | cut -d' ' -f1
}
snapshot() { echo "$(store_hash) $(folders_hash)"; }

setsid "$WINE" "$WIN_DIR\\ismail-manager.exe" </dev/null >"$WORK/manager.log" 2>&1 &
MGR_PID=$!
if drv wait-window 60 >/dev/null; then
    pass "manager window (installed exe, default store and folders)"
else
    fail "manager window" "$(drv_why) $(cat "$WORK/manager.log")"
    finish
fi
out=$(drv tabs | paste -sd'|')
[ "$out" = "SSL/TLS|SSL Certificates|Web SSL|Server|Service" ] && pass "tabs: $out" || fail "tabs" "got '$out'"

# ---- SSL/TLS: the six check boxes and Apply ------------------------------------------
BOXES="smtp.tls.incoming smtp.tls.outgoing pop.tls.incoming imap.tls.incoming smtp.tls.starttls_domains smtp.tls.verify_domain"
args=(tab "SSL/TLS")
for b in $BOXES; do args+=(click "$b"); done
for b in $BOXES; do args+=(get "$b"); done
args+=(enabled apply)
out=$(drv "${args[@]}" | paste -sd' ')
[ "$out" = "1 1 1 1 1 1 1" ] && pass "SSL/TLS: the six check boxes ticked, Apply enabled" || fail "tick six boxes" "got '$out' $(drv_why)"
out=$(drv apply-and-wait 30); rc=$?
[ "$rc" = 0 ] && pass "Apply: '$out'" || fail "Apply applied by the service" "rc=$rc '$out' $(drv_why)"
bad=""
for b in $BOXES; do
    v=$("$CTL_NATIVE" --data "$DATA" get "$b" 2>&1)
    [ "$v" = on ] || bad="$bad $b=$v"
done
[ -z "$bad" ] && pass "store: the six settings are on" || fail "store after Apply" "$bad"
up_to_date() { "$CTL_NATIVE" --data "$DATA" --json status 2>/dev/null | grep -q '"up_to_date": true'; }
wait_until 10 up_to_date && pass "ismailctl status: the service applied the latest revision" ||
    fail "service applied the latest revision" "$("$CTL_NATIVE" --data "$DATA" status 2>&1 | head -3)"
tls_ok() { # tls_ok PORT [starttls-protocol]
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" ${2:+-starttls "$2"} -brief 2>&1 |
        grep -q 'Protocol version: TLSv1\.[23]'
}
for probe in "SMTP STARTTLS:$P_SMTP:smtp" "SMTPS:$P_SMTPS:" "POP3 STLS:$P_POP:pop3" "POP3S:$P_POPS:" \
             "IMAP STARTTLS:$P_IMAP:imap" "IMAPS:$P_IMAPS:"; do
    IFS=: read -r what port proto <<<"$probe"
    if wait_until 10 tls_ok "$port" "$proto"; then
        pass "$what on 127.0.0.1:$port: TLS handshake (openssl s_client from Linux)"
    else
        fail "$what on 127.0.0.1:$port" "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" ${proto:+-starttls "$proto"} -brief 2>&1 | tail -2)"
    fi
done
shot ssl-tls

# ---- SSL Certificates: the CSR dialog --------------------------------------------------
CN=e2e.example.test
CERTS=$WORK/certs
mkdir -p "$CERTS"
before=$(snapshot)
out=$(drv tab "SSL Certificates" click csr-new dialog "New Certificate Signing Request" 20 \
      set "Country Name" USA set "Common Name" "$CN" get csr-country-msg enabled ok)
req=$(drv dialog "New Certificate Signing Request" 10 get csr-state-msg get csr-unit-msg get csr-email-msg)
if [ "$req" = $'Required. The state or province of the company or organization (e.g. California).\nMay be left blank.\nRequired. The mail account of the server administrator.' ]; then
    pass "CSR: the manual's labels find the fields; every field but the Organizational Unit Name is required, with the manual's hints"
else
    fail "CSR: required fields and hints" "got '$req' $(drv_why)"
fi
shot csr-invalid "New Certificate Signing Request"
drv dialog "New Certificate Signing Request" 10 click cancel wait-gone 10 >/dev/null
if [[ "$out" == *"'USA' is not a two-letter country code"*$'\n'0 ]] && [ "$(snapshot)" = "$before" ]; then
    pass "CSR: country 'USA' refused as typed ($(head -1 <<<"$out")), Save disabled, store and folders unchanged"
else
    fail "CSR: country 'USA' refused" "got '$out' $(drv_why); unchanged: $([ "$(snapshot)" = "$before" ] && echo yes || echo NO)"
fi

out=$(drv click csr-new dialog "New Certificate Signing Request" 20 \
      set csr-country us set csr-state California set csr-locality "Mountain View" set csr-org "Example, Inc." \
      set csr-unit "Mail" set csr-cn "$CN" set csr-email "postmaster@example.test" select csr-key ec:P-256 \
      set csr-sans "mail.$CN" get csr-country-msg enabled ok)
[ "$out" = $'Always a 2-letter code (e.g. US or CA).\n1' ] && pass "CSR dialog: every field valid, the country shows the manual's hint, Save enabled" || fail "CSR dialog valid" "got '$out' $(drv_why)"
shot csr-new "New Certificate Signing Request"
out=$(drv dialog "New Certificate Signing Request" 10 click ok box 60 ok wait-gone 20 main list csr-list)
CSR=$CONF/ssl.csr/$CN.csr
if [[ "$out" == *"request for $CN was saved"* ]] && grep -q "^$CN"$'\t'"EC P-256"$'\t'"match"$'\t'"pending" <<<"$out"; then
    pass "CSR saved through the dialog; the list shows it ($(grep "^$CN" <<<"$out" | tr '\t' ' '))"
else
    fail "CSR saved" "got '$out' $(drv_why)"
fi
verify=$(openssl req -in "$CSR" -verify -noout 2>&1)
subject=$(openssl req -in "$CSR" -noout -subject -nameopt compat 2>&1)
sans=$(openssl req -in "$CSR" -noout -text 2>/dev/null | grep -A1 'Subject Alternative Name' | tail -1)
if grep -qi 'verify OK' <<<"$verify" && [[ "$subject" == *"C=US"*"ST=California"*"CN=$CN"* ]] &&
   [[ "$sans" == *"DNS:$CN"*"DNS:mail.$CN"* ]] && [ -s "$CONF/ssl.key/$CN.key" ]; then
    pass "openssl req -verify: $(tr '\n' ' ' <<<"$verify")($subject;$sans)"
else
    fail "openssl req -verify $CSR" "$verify / $subject / $sans"
fi

out=$(drv pick csr-list "$CN" click csr-view dialog "Certificate Signing Request: $CN" 20 get view-text)
shot csr-view "Certificate Signing Request: $CN"
drv dialog "Certificate Signing Request: $CN" 10 click cancel wait-gone 10 >/dev/null
if [[ "$out" == *"CN=$CN"* ]] && [[ "$out" == *"(verifies)"* ]] && [[ "$out" == *"mail.$CN"* ]]; then
    pass "View CSR: subject, names and a signature that verifies"
else
    fail "View CSR" "got '$(head -5 <<<"$out" | tr '\n\t' '  ')' $(drv_why)"
fi

# ---- SSL Certificates: install ------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" \
    -days 30 -subj "/CN=ISMail E2E Test CA" >/dev/null 2>&1
ext() { printf 'subjectAltName=DNS:%s,DNS:mail.%s\nextendedKeyUsage=serverAuth\n' "$CN" "$CN"; }
openssl x509 -req -in "$CSR" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial -days 60 \
    -extfile <(ext) -out "$CERTS/$CN.pem" >/dev/null 2>&1
cat "$CERTS/$CN.pem" "$CERTS/ca.pem" >"$CERTS/bundle.pem"
# The same name, signed by the same CA, but made with another key.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CERTS/other.key" \
    -out "$CERTS/other.csr" -subj "/CN=$CN" >/dev/null 2>&1
openssl x509 -req -in "$CERTS/other.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial -days 60 \
    -extfile <(ext) -out "$CERTS/other.pem" >/dev/null 2>&1
WANT_FP=$(openssl x509 -in "$CERTS/$CN.pem" -noout -fingerprint -sha256 | cut -d= -f2)
if [ -s "$CERTS/bundle.pem" ] && [ -s "$CERTS/other.pem" ] && [ -n "$WANT_FP" ]; then
    pass "test CA signed the CSR ($WANT_FP)"
else
    fail "test CA signed the CSR" "no certificate"
fi

# install_dialog CERT [KEY] [CA]: opens Install, fills the three fields (by
# their labels), clicks Check; leaves the dialog open (the password prompt
# may be in front of it).
install_dialog() {
    drv tab "SSL Certificates" click cert-install dialog "Install a Certificate" 20 \
        set "Certificate file" "$(winpath "$1")" set "Private key file (optional)" "${2:+$(winpath "$2")}" \
        set "SSL CA Certificate (optional)" "${3:+$(winpath "$3")}" click Check >/dev/null
}
# plan: the plan shown and whether Install is enabled, once no password prompt is open.
plan() { drv dialog "Install a Certificate" 20 get install-plan enabled ok; }
no_password_prompt() { ! drv dialogs | grep -qx Password; }
served_for() { # served_for PORT NAME [starttls]: SHA-256 of the certificate served for SNI NAME
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername "$2" ${3:+-starttls "$3"} 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}

before=$(snapshot)
install_dialog "$CERTS/other.pem"
out=$(plan)
no_pw=$(no_password_prompt && echo none || echo ASKED)
drv dialog "Install a Certificate" 10 click cancel wait-gone 10 >/dev/null
if [[ "$out" == *"cannot be installed; nothing was changed"*"does not match the certificate"* ]] && [[ "$out" == *$'\n0' ]] &&
   [ "$no_pw" = none ] && [ "$(snapshot)" = "$before" ]; then
    pass "install: a certificate that does not match its key is refused in the plan, Install disabled, no password asked, store and folders unchanged"
else
    fail "install mismatched certificate" "got '$out' password:$no_pw $(drv_why); unchanged: $([ "$(snapshot)" = "$before" ] && echo yes || echo NO)"
fi

before=$(snapshot)
install_dialog "$CERTS/bundle.pem"
out=$(plan)
no_pw=$(no_password_prompt && echo none || echo ASKED)
if [[ "$out" == "ISMail checked it and will install it for $CN:"*"OK (key)"*"OK (chain)"*"ssl.crt\\$CN.crt"* ]] &&
   [[ "$out" == *$'\n1' ]] && [ "$no_pw" = none ] && [ "$(snapshot)" = "$before" ]; then
    pass "install: the plan is shown before anything is written ($(grep -c '^OK' <<<"$out") OK), no password asked"
else
    fail "install plan" "got '$out' password:$no_pw $(drv_why)"
fi
shot install-plan "Install a Certificate"
out=$(drv dialog "Install a Certificate" 10 click Install box 60 ok main list cert-list)
if [[ "$out" == *"certificate for $CN is installed"* ]] && grep -q "^$CN"$'\t'".*"$'\t'"match"$'\t'"ok$" <<<"$out"; then
    pass "installed; the list shows $(grep "^$CN" <<<"$out" | tr '\t' ' ')"
else
    fail "installed" "got '$out' $(drv_why)"
fi
served_fp() { served_for "$1" "$CN" "${2:-}"; }
serves_new() { [ "$(served_fp "$P_SMTPS")" = "$WANT_FP" ] && [ "$(served_fp "$P_SMTP" smtp)" = "$WANT_FP" ]; }
if wait_until 15 serves_new; then
    pass "the service serves the new certificate at once (SMTPS and STARTTLS, SNI $CN): $WANT_FP"
else
    fail "new certificate served" "SMTPS '$(served_fp "$P_SMTPS")', want '$WANT_FP'"
fi

# A certificate with its private key and its CA in separate files.
SEP_CN=sep.$CN
openssl req -new -newkey rsa:2048 -nodes -keyout "$CERTS/sep.key" -out "$CERTS/sep.csr" -subj "/CN=$SEP_CN" >/dev/null 2>&1
openssl x509 -req -in "$CERTS/sep.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial -days 60 \
    -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$SEP_CN") -out "$CERTS/sep.pem" >/dev/null 2>&1
SEP_FP=$(openssl x509 -in "$CERTS/sep.pem" -noout -fingerprint -sha256 | cut -d= -f2)
install_dialog "$CERTS/sep.pem" "$CERTS/sep.key" "$CERTS/ca.pem"
out=$(plan)
no_pw=$(no_password_prompt && echo none || echo ASKED)
out2=$(drv dialog "Install a Certificate" 10 click Install box 60 ok main list cert-list)
sep_served() { [ "$(served_for "$P_SMTPS" "$SEP_CN")" = "$SEP_FP" ]; }
if [[ "$out" == *"OK (key)"*"sep.key matches"*"OK (chain)"*"ca.pem"* ]] && [ "$no_pw" = none ] &&
   [[ "$out2" == *"certificate for $SEP_CN is installed"* ]] && wait_until 15 sep_served &&
   [ -s "$CONF/ssl.key/$SEP_CN.key" ]; then
    pass "install with a separate key file and CA file: no password asked, key copied to ssl.key, served for SNI $SEP_CN"
else
    fail "install with separate key and CA" "plan '$out' password:$no_pw then '$out2' $(drv_why)"
fi

# The same certificate with its key encrypted (a pass phrase): the core says
# it needs a password, and only then the manager asks.
openssl pkey -in "$CERTS/sep.key" -aes256 -passout pass:E2e-key-pass -out "$CERTS/sep-enc.key" 2>/dev/null
install_dialog "$CERTS/sep.pem" "$CERTS/sep-enc.key" "$CERTS/ca.pem"
prompt=$(drv dialog Password 20 get 1651)
shot install-password "Install a Certificate|Password"
drv dialog Password 10 set password wrong-pass click ok >/dev/null
prompt2=$(drv dialog Password 20 get 1651)
out=$(drv dialog Password 10 set password E2e-key-pass click ok wait-gone 10 >/dev/null; plan)
out2=$(drv dialog "Install a Certificate" 10 click Install box 60 ok main)
if [[ "$prompt" == *"sep-enc.key: the private key is protected by a password"*"Enter the password:" ]] &&
   [[ "$prompt2" == *"the password does not open the private key"*"Enter the password again:" ]] &&
   [[ "$out" == *"sep-enc.key matches"* ]] && [[ "$out2" == *"certificate for $SEP_CN is installed"* ]]; then
    pass "install with an encrypted PEM key: password asked ('$(tr '\n' ' ' <<<"$prompt")'), asked again after a wrong one, installed"
else
    fail "install with an encrypted key" "prompt '$prompt' / '$prompt2' plan '$out' then '$out2' $(drv_why)"
fi

# A PKCS#12 file, as Windows and IIS export them: the manager asks for its password.
PFX_CN=pfx.$CN
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTS/pfx.key" -out "$CERTS/pfx.pem" -days 60 \
    -subj "/CN=$PFX_CN" -addext "subjectAltName=DNS:$PFX_CN" >/dev/null 2>&1
openssl pkcs12 -export -in "$CERTS/pfx.pem" -inkey "$CERTS/pfx.key" -out "$CERTS/pfx.pfx" \
    -passout pass:E2e-pfx-password >/dev/null 2>&1
PFX_FP=$(openssl x509 -in "$CERTS/pfx.pem" -noout -fingerprint -sha256 | cut -d= -f2)
install_dialog "$CERTS/pfx.pfx"
prompt=$(drv dialog Password 20 get 1651)
out=$(drv dialog Password 10 set password E2e-pfx-password click ok wait-gone 10 >/dev/null; plan)
out=$out$'\n'$(drv dialog "Install a Certificate" 10 click Install box 60 ok main list cert-list)
pfx_served() { [ "$(served_for "$P_SMTPS" "$PFX_CN")" = "$PFX_FP" ]; }
if [[ "$prompt" == *"PKCS#12"* ]] && [[ "$out" == *"certificate for $PFX_CN is installed"* ]] &&
   grep -q "^$PFX_CN"$'\t'".*"$'\t'"match" <<<"$out" && wait_until 15 pfx_served; then
    pass "install a PFX: password asked ('$(tr '\n' ' ' <<<"$prompt")'), plan shown, served for SNI $PFX_CN"
else
    fail "install a PFX" "prompt '$prompt' got '$out' $(drv_why)"
fi

# Remove: the separate-key certificate goes, with its key; the others stay.
out=$(drv tab "SSL Certificates" pick cert-list "$SEP_CN" click cert-remove box 30 yes list cert-list)
if [[ "$out" == "Remove the certificate for $SEP_CN?"* ]] && ! grep -q "^$SEP_CN"$'\t' <<<"$out" &&
   grep -q "^$CN"$'\t' <<<"$out" && [ ! -e "$CONF/ssl.crt/$SEP_CN.crt" ] && [ ! -e "$CONF/ssl.key/$SEP_CN.key" ]; then
    pass "Remove: $SEP_CN and its key are gone from the list and the folders; $CN stays"
else
    fail "Remove" "got '$out' $(drv_why)"
fi
# A key others can read, as a key made in Apache\install and moved into
# ssl.key keeps (Wine keeps Unix permission bits: mode 644 is "Everyone may
# read"): the service refuses it, the list marks it, "Restrict access" fixes it.
EXP_CN=exposed.$CN
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CERTS/exposed.key" \
    -out "$CERTS/exposed.csr" -subj "/CN=$EXP_CN" >/dev/null 2>&1
openssl x509 -req -in "$CERTS/exposed.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial -days 60 \
    -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$EXP_CN") -out "$CERTS/exposed.pem" >/dev/null 2>&1
EXP_FP=$(openssl x509 -in "$CERTS/exposed.pem" -noout -fingerprint -sha256 | cut -d= -f2)
EXP_KEY=$CONF/ssl.key/$EXP_CN.key
EXP_KEY_WIN="$WIN_DIR\\Apache\\conf\\ssl.key\\$EXP_CN.key"
acl() { timeout 60 "$WINE" "$ACL_READ" "$1" </dev/null 2>&1 | tr -d '\r'; }
cat "$CERTS/exposed.pem" "$CERTS/ca.pem" >"$CONF/ssl.crt/$EXP_CN.crt"
cp "$CERTS/exposed.key" "$EXP_KEY"
chmod 644 "$EXP_KEY"
acl_before=$(acl "$EXP_KEY_WIN")
exp_served() { [ "$(served_for "$P_SMTPS" "$EXP_CN")" = "$EXP_FP" ] && [ "$(served_for "$P_SMTP" "$EXP_CN" smtp)" = "$EXP_FP" ]; }
exp_refused() { "$CTL_NATIVE" --data "$DATA" status 2>/dev/null | grep -q "ssl.key.$EXP_CN.key: the private key file can be read by"; }
if wait_until 30 exp_refused && ! exp_served; then
    pass "a key others can read (mode $(stat -c %a "$EXP_KEY"), DACL '$acl_before'): the service refuses it and does not serve $EXP_CN"
else
    fail "the service refuses a key others can read" "$("$CTL_NATIVE" --data "$DATA" status 2>&1 | grep -i error | head -2)"
fi
# The list is read again when the tab is shown.
out=$(drv tab "Web SSL" tab "SSL Certificates" list cert-list)
en=$(drv pick cert-list "$CN" enabled cert-protect pick cert-list "$EXP_CN" enabled cert-protect | paste -sd' ')
if grep -q "^$EXP_CN"$'\t'".*"$'\t'"not private"$'\t'"key not private$" <<<"$out" && [ "$en" = "0 1" ]; then
    pass "SSL Certificates: $EXP_CN marked ($(grep "^$EXP_CN" <<<"$out" | cut -f4- | tr '\t' '/')); Restrict access enabled for it only (enabled: $en)"
else
    fail "key not private marked" "got '$out' enabled '$en' $(drv_why)"
fi
shot ssl-certificates-key-not-private
out=$(drv click cert-protect box 30 ok list cert-list)
acl_after=$(acl "$EXP_KEY_WIN")
mode_after=$(stat -c %a "$EXP_KEY")
if [[ "$out" == *"ssl.key\\$EXP_CN.key can now be read by the administrators only (it was "* ]] &&
   grep -q "^$EXP_CN"$'\t'".*"$'\t'"match"$'\t'"ok$" <<<"$out" && [ $((8#$mode_after & 8#007)) -eq 0 ] &&
   [ -n "$acl_after" ] && ! grep -q ';;;WD)' <<<"$acl_after"; then
    pass "Restrict access: '$(head -1 <<<"$out")'; the list says match/ok; DACL '$acl_after' (no Everyone), mode $mode_after"
else
    fail "Restrict access" "got '$out' DACL '$acl_after' mode $mode_after $(drv_why)"
fi
if wait_until 30 exp_served; then
    pass "the service serves $EXP_CN at once after Restrict access (SMTPS and STARTTLS, SNI): ${EXP_FP:0:23}..."
else
    fail "served after Restrict access" "SMTPS '$(served_for "$P_SMTPS" "$EXP_CN")', want '$EXP_FP'"
fi
out=$(drv pick cert-list "$CN" enabled cert-protect)
[ "$out" = 0 ] && pass "Restrict access disabled again for a private key" || fail "Restrict access disabled" "got '$out'"

out=$(drv pick cert-list "$CN" click cert-view dialog "Certificate: $CN" 20 get view-text)
shot cert-view "Certificate: $CN"
clip=$(drv dialog "Certificate: $CN" 10 click view-copy clipboard | head -1)
drv dialog "Certificate: $CN" 10 click cancel wait-gone 10 >/dev/null
fp_lines=$(tr -d '\n\t' <<<"$out")
if [[ "$out" == *"CN=$CN"* ]] && [[ "$out" == *"DNS"* || "$out" == *"mail.$CN"* ]] && [[ "$fp_lines" == *"${WANT_FP:0:47}"* ]] &&
   [ "$clip" = "-----BEGIN CERTIFICATE-----" ]; then
    pass "View: subject, names, fingerprint; Copy PEM puts the PEM on the clipboard"
else
    fail "View" "text '$(head -5 <<<"$out" | tr '\n\t' '  ')' clipboard '$clip' $(drv_why)"
fi
shot ssl-certificates

# ---- Web SSL ----------------------------------------------------------------------------------
before=$(snapshot)
out=$(drv tab "Web SSL" click web-new dialog "New Web SSL Domain" 20 set web-domain "$CN" set web-ip 127.0.0.1 \
      set web-port 70000 set web-cert "$CN.crt" set web-key "$CN.key" set "SSL CA Certificate" "$(winpath "$CERTS/ca.pem")" \
      click ok get web-error get web-ip-warning)
shot web-domain-error "New Web SSL Domain"
if [[ "$out" == "port: 70000 is not a TCP port"*$'\n'"Warning: 127.0.0.1 is a loopback address. A certificate needs"*"unless the server is used only on the LAN." ]] &&
   [ "$(snapshot)" = "$before" ]; then
    pass "Web SSL: port 70000 refused in the dialog, the loopback IP address warned about, store and folders unchanged"
else
    fail "Web SSL port 70000" "got '$out' $(drv_why); unchanged: $([ "$(snapshot)" = "$before" ] && echo yes || echo NO)"
fi
out=$(drv dialog "New Web SSL Domain" 10 set web-port "$P_HTTPS" click ok wait-gone 20 main list web-list)
if grep -q "^$CN"$'\t'"127.0.0.1"$'\t'"$P_HTTPS"$'\t'"$CN.crt"$'\t'"$CN.key"$'\t'".*ca.pem" <<<"$out"; then
    pass "Web SSL: domain saved with its CA file; the list shows $(grep "^$CN" <<<"$out" | tr '\t' ' ')"
else
    fail "Web SSL domain saved" "got '$out' $(drv_why)"
fi
out=$(drv wait-applied 30); rc=$?
[ "$rc" = 0 ] && pass "Web SSL: '$out'" || fail "Web SSL applied" "rc=$rc '$out'"
https_ok() {
    curl -sS --max-time 10 --cacert "$CERTS/ca.pem" --resolve "$CN:$P_HTTPS:127.0.0.1" \
        -o "$WORK/https.out" -w '%{http_code}' "https://$CN:$P_HTTPS/status" >"$WORK/https.code" 2>"$WORK/https.err" &&
        [ "$(cat "$WORK/https.code")" = 200 ]
}
if wait_until 20 https_ok; then
    pass "curl https://$CN:$P_HTTPS/status: 200, certificate verified against the test CA"
else
    fail "curl https://$CN:$P_HTTPS/" "$(cat "$WORK/https.code" "$WORK/https.err" 2>/dev/null | tr '\n' ' ')"
fi
drv pick web-list "$CN" >/dev/null
shot web-ssl
# Edit: the domain moves to another port; the service serves it there.
while :; do P_HTTPS2=$(free_port); case "$used" in *" $P_HTTPS2 "*) ;; *) break ;; esac; done
used="$used$P_HTTPS2 "
out=$(drv pick web-list "$CN" click web-edit dialog "Edit Web SSL Domain" 20 get web-ca set "SSL port" "$P_HTTPS2")
shot web-domain-edit "Edit Web SSL Domain"
out=$out$'\n'$(drv dialog "Edit Web SSL Domain" 10 click ok wait-gone 20 main list web-list)
P_HTTPS=$P_HTTPS2
if [[ "$out" == *ca.pem* ]] && grep -q "^$CN"$'\t'"127.0.0.1"$'\t'"$P_HTTPS"$'\t' <<<"$out" && drv wait-applied 30 >/dev/null &&
   wait_until 20 https_ok; then
    pass "Web SSL: Edit moved $CN to port $P_HTTPS; curl over HTTPS verifies it there"
else
    fail "Web SSL edit" "got '$out' $(cat "$WORK/https.code" "$WORK/https.err" 2>/dev/null | tr '\n' ' ') $(drv_why)"
fi

# ---- Service ------------------------------------------------------------------------------------
out=$(drv tab Service wait-text service-state 20 Running get service-applied list listener-list)
if [[ "$out" == Running*"(the latest)"* ]] && grep -q "^smtps"$'\t'"$P_SMTPS"$'\t'"open"$'\t'"on" <<<"$out" &&
   grep -q "^https"$'\t'"$P_HTTPS"$'\t'"open"$'\t'"on" <<<"$out"; then
    pass "Service: Running, the latest revision applied, listeners listed ($(grep -c $'\t' <<<"$out") rows)"
else
    fail "Service tab" "got '$out' $(drv_why)"
fi
# The detail of a TLS listener: each certificate's file and names, and the
# one clients without SNI get.
detail_names() {
    local d
    d=$(drv tab Service pick listener-list smtps get listener-detail)
    echo "$d" >"$WORK/detail.txt"
    [[ "$d" == *"Clients without SNI, or with a name no certificate matches: "* ]] &&
        [[ "$d" == *"By the client's SNI name:"* ]] &&
        grep -qE "^  $CN\.crt \($CN(, mail\.$CN)?; expires " <<<"$d" &&
        grep -qE "^  $EXP_CN\.crt \($EXP_CN; expires " <<<"$d" &&
        grep -q "only when no certificate matches (the host's self-signed one)" <<<"$d"
}
if wait_until 20 detail_names; then
    pass "Service: the smtps detail names each certificate's file and names ($(grep -c '^  ' "$WORK/detail.txt") certificates) and the one without SNI"
else
    fail "Service: certificates in the detail" "got '$(cat "$WORK/detail.txt")' $(drv_why)"
fi
drv pick listener-list smtps >/dev/null
shot service
starts() { grep -c 'ISMail service .* starting' "$DATA/ismail-service.log" 2>/dev/null; }
smtp_closed() { ! smtp_ehlo "$P_SMTP" >/dev/null 2>&1; }
svc_stopped() { [ "$(svc_state)" = STOPPED ]; }
out=$(drv click service-stop wait-text service-state 60 Stopped)
if [ $? = 0 ] && wait_until 30 svc_stopped && wait_until 15 smtp_closed; then
    pass "Stop: '$out'; sc query STOPPED; SMTP port closed"
else
    fail "Stop" "got '$out', sc state '$(svc_state)' $(drv_why)"
fi
shot service-stopped
n0=$(starts)
out=$(drv click service-start wait-text service-state 60 Running)
if [ $? = 0 ] && wait_until 30 svc_running && wait_until 30 smtp_up; then
    pass "Start: '$out'; sc query RUNNING; SMTP answers again"
else
    fail "Start" "got '$out', sc state '$(svc_state)' $(drv_why)"
fi
n1=$(starts)
out=$(drv click service-restart)
more_starts() { [ "$(starts)" -gt "$n1" ]; }
if wait_until 60 more_starts && drv wait-text service-state 60 Running >/dev/null && wait_until 30 smtp_up; then
    pass "Restart: a new service process started (starts in the log: $n0 -> $n1 -> $(starts)); SMTP answers"
else
    fail "Restart" "starts $n1 -> $(starts), state '$(drv get service-state)' $(drv_why)"
fi

# ---- Server ------------------------------------------------------------------------------------
out=$(drv tab Server get "Host name" get "Listen address" get "SMTP" get "HTTPS" get server-addr-warning)
if [ "$(sed -n 2p <<<"$out")" = 127.0.0.1 ] && [ "$(sed -n 3p <<<"$out")" = "$P_SMTP" ] &&
   [[ "$(sed -n 5p <<<"$out")" == "Warning: 127.0.0.1 is a loopback address."* ]]; then
    pass "Server: host name, listen address and ports shown by their labels; the loopback address warned about"
else
    fail "Server tab" "got '$out' $(drv_why)"
fi
shot server
# A host name with a space: refused, naming the field; nothing written.
before=$(snapshot)
out=$(drv set "Host name" "mail example.com" get server-msg click apply)
shot server-invalid "ISMail Manager"
out=$out$'\n'$(drv box 20 ok)
if [[ "$out" == "Host name (server.hostname): 'mail example.com' is not valid"*$'\n'"Host name (server.hostname): 'mail example.com' is not valid"*"Nothing was saved"* ]] &&
   [ "$(snapshot)" = "$before" ]; then
    pass "Server: host name 'mail example.com' refused as typed and on Apply, naming the field; store unchanged"
else
    fail "Server: host name with a space" "got '$out' $(drv_why); unchanged: $([ "$(snapshot)" = "$before" ] && echo yes || echo NO)"
fi
# A good host name and a new POP3 port: applied live.
while :; do P_POP2=$(free_port); case "$used" in *" $P_POP2 "*) ;; *) break ;; esac; done
used="$used$P_POP2 "
out=$(drv set "Host name" "mail.$CN" set "POP3" "$P_POP2" apply-and-wait 30); rc=$?
pop_banner() { python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=5); print(s.makefile("rb").readline().decode().strip())' "$1" 2>/dev/null; }
pop_on_new() { pop_banner "$P_POP2" | grep -q '^+OK'; }
pop_off_old() { ! pop_banner "$P_POP" | grep -q '^+OK'; }
greets_new() { smtp_ehlo "$P_SMTP" 2>/dev/null | grep -q "mail\.$CN"; }
if [ "$rc" = 0 ] && [ "$("$CTL_NATIVE" --data "$DATA" get server.hostname)" = "mail.$CN" ] &&
   [ "$("$CTL_NATIVE" --data "$DATA" get pop.port)" = "$P_POP2" ] && wait_until 15 pop_on_new && wait_until 15 pop_off_old &&
   wait_until 15 greets_new; then
    pass "Server: host name mail.$CN and POP3 port $P_POP2 applied ('$out'): POP3 answers there, not on $P_POP; SMTP greets as mail.$CN"
else
    fail "Server: host name and port applied" "rc=$rc '$out' pop new: $(pop_banner "$P_POP2") $(drv_why)"
fi
# A port another program holds: refused on Apply, naming the field; nothing written.
while :; do P_HELD=$(free_port); case "$used" in *" $P_HELD "*) ;; *) break ;; esac; done
hold() { # hold PORT: a Linux program listening on 127.0.0.1:PORT (prints its pid)
    python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(300)' "$1" >/dev/null 2>&1 &
    echo $!
}
held() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=2)' "$1" 2>/dev/null; }
HOLDER=$(hold "$P_HELD")
wait_until 10 held "$P_HELD"
before=$(snapshot)
out=$(drv set "IMAP" "$P_HELD" click apply box 20 ok)
imap_old() { echo | timeout 5 openssl s_client -connect "127.0.0.1:$P_IMAP" -starttls imap -brief 2>&1 | grep -q 'Protocol version'; }
if [[ "$out" == "IMAP (imap.port): cannot listen on 127.0.0.1 port $P_HELD"*"Nothing was saved"* ]] && [ "$(snapshot)" = "$before" ] &&
   imap_old; then
    pass "Server: IMAP port $P_HELD, held by another program: refused on Apply ('$(head -1 <<<"$out")'); store unchanged; IMAP stays on $P_IMAP"
else
    fail "Server: port in use refused" "got '$out' $(drv_why); unchanged: $([ "$(snapshot)" = "$before" ] && echo yes || echo NO)"
fi
kill "$HOLDER" 2>/dev/null
out=$(drv set "IMAP" "$P_IMAP" get apply)
# A port taken while the service does not listen on it (IMAPS, closed while
# IMAP Incoming is off): the service finds it when it applies, and the status
# bar shows the service's error from its applied status.
drv tab "SSL/TLS" click imap.tls.incoming apply-and-wait 30 >/dev/null
imaps_closed() { ! held "$P_IMAPS"; }
wait_until 15 imaps_closed
HOLDER=$(hold "$P_IMAPS")
wait_until 10 held "$P_IMAPS"
out=$(drv click imap.tls.incoming apply-and-wait 30); rc=$?
drv tab Server >/dev/null
shot server-port-in-use
if [ "$rc" != 0 ] && [[ "$out" == "The service reported an error: imaps: cannot listen on 127.0.0.1 port $P_IMAPS"* ]]; then
    pass "IMAP Incoming on while port $P_IMAPS is held by another program: the status bar shows the service's error ('$out')"
else
    fail "service error for a port in use" "rc=$rc '$out' $(drv_why)"
fi
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null

# ---- Web SSL: delete --------------------------------------------------------------------------
out=$(drv tab "Web SSL" pick web-list "$CN" click web-delete box 30 yes list web-list)
https_gone() { ! https_ok; }
if [[ "$out" == "Stop serving $CN over HTTPS"* ]] && ! grep -q "^$CN"$'\t' <<<"$out" && drv wait-applied 30 >/dev/null &&
   wait_until 20 https_gone && [ -s "$CONF/ssl.crt/$CN.crt" ]; then
    pass "Web SSL: Delete removed $CN; HTTPS on $P_HTTPS stops; its certificate file stays"
else
    fail "Web SSL delete" "got '$out' $(drv_why)"
fi

# With the host name mail.$CN (set on the Server tab above) and the web SSL
# domain gone, clients without SNI get $CN's certificate, which names
# mail.$CN: the Service tab says so.
no_sni_ca() {
    drv tab Service pick listener-list smtps get listener-detail >"$WORK/detail.txt"
    grep -qE "^Clients without SNI, or with a name no certificate matches: $CN\.crt \($CN, mail\.$CN; expires " "$WORK/detail.txt"
}
no_sni_fp() {
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$P_SMTPS" -noservername 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
if wait_until 20 no_sni_ca && [ "$(no_sni_fp)" = "$WANT_FP" ]; then
    pass "Service: with host name mail.$CN the detail says clients without SNI get $CN.crt; SMTPS without SNI serves it (${WANT_FP:0:23}...)"
else
    fail "Service: certificate without SNI" "got '$(cat "$WORK/detail.txt")', served without SNI '$(no_sni_fp)' $(drv_why)"
fi
shot service-host-name

drv close >/dev/null
mgr_gone() { ! kill -0 "$MGR_PID" 2>/dev/null; }
if wait_until 15 mgr_gone; then pass "manager closed"; else fail "manager closed" "still running"; fi
MGR_PID=""

echo "e2e-manager: screenshots:"
for f in "${SHOTS[@]}"; do echo "  $f"; done
echo "e2e-manager: $(( $(date +%s) - T0 )) s"
finish
