#!/usr/bin/env bash
# e2e-msi.sh: ISMail end to end on "Windows": the MSI under Wine.
#
#   bash tests/wine/e2e-msi.sh <linux build dir> <win build dir> <msi>
#
# In a fresh Wine prefix: pre-seeds the store with free loopback ports (native
# ismailctl), installs the MSI silently, checks files, registry and the service
# (started by the installer through Wine's service manager), talks SMTP to it
# from Linux, ticks "SMTP Incoming" in the manager under Xvfb through the test
# driver, checks STARTTLS (TLS 1.3, openssl s_client from Linux), takes a
# screenshot, uninstalls and checks that the data folder's store survived.
# One PASS/FAIL line per check; every wait polls against a deadline.
#
# Screenshots go to $ISMAIL_SCREENSHOT_DIR (default: <checkout>/build/screenshots).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/tests/lib.sh"

if [ $# -ne 3 ]; then
    echo "usage: bash tests/wine/e2e-msi.sh <linux build dir> <win build dir> <msi>" >&2
    exit 2
fi
LB=$(cd "$1" 2>/dev/null && pwd) || LB=$1
WB=$(cd "$2" 2>/dev/null && pwd) || WB=$2
MSI=$(realpath -m "$3")

WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver}
CTL_NATIVE=$LB/ctl/ismailctl
DRIVER=$WB/manager-gui/ismail-driver.exe
VERSION=$(sed -n 's/^#define ISM_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/resources/version.h")
SHOT_DIR=${ISMAIL_SCREENSHOT_DIR:-$ROOT/build/screenshots}
T0=$(date +%s)

# ---- what the test needs ---------------------------------------------------
missing=""
for f in "$WINE" "$WINESERVER" "$CTL_NATIVE" "$DRIVER" "$MSI"; do
    [ -e "$f" ] || missing="$missing $f"
done
for c in Xvfb xdotool import openssl python3; do
    command -v "$c" >/dev/null || missing="$missing $c(command)"
done
if [ -n "$missing" ]; then
    fail "prerequisites" "missing:$missing"
    finish
fi
setup_done "prerequisites (native ismailctl, driver, MSI, wine64, Xvfb, openssl)"

# ---- a fresh prefix, cleaned up whatever happens ---------------------------
WORK=$(mktemp -d /tmp/ismail-e2e-msi.XXXXXX)
export WINEPREFIX=$WORK/prefix
export WINEDEBUG=-all
# No Mono/Gecko install prompts in a fresh prefix.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
XVFB_PID=""
MGR_PID=""

cleanup() {
    local rc=$?
    [ -n "$MGR_PID" ] && kill "$MGR_PID" 2>/dev/null
    "$WINESERVER" -k 2>/dev/null
    # wineserver -k returns before the server is gone; wait for it (bounded).
    timeout 20 "$WINESERVER" -w 2>/dev/null
    # Xvfb last: Wine's desktop process draws on it until the server ends.
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null
    rm -rf "$WORK"
    # the server's directory of this one-off prefix (only its lock file is left)
    [ -n "${SERVER_DIR_NAME:-}" ] && rm -rf /tmp/.wine-"$(id -u)"/"$SERVER_DIR_NAME" /tmp/wine-*/"$SERVER_DIR_NAME"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

W() { "$WINE" "$@"; }
# the Windows path of the install folder and the Linux view of it
WIN_DIR='C:\Program Files\InstantServers\ISMail'
INST="$WINEPREFIX/drive_c/Program Files/InstantServers/ISMail"
DATA=$WINEPREFIX/drive_c/ProgramData/InstantServers/ISMail

# The display comes first: Wine's desktop process, started with the session's
# first program and kept by the persistent wineserver, chooses the display
# driver for every later program; a session begun without DISPLAY shows no
# windows.
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

if timeout 120 "$WINE" wineboot --init >"$WORK/wineboot.log" 2>&1; then
    setup_done "wineboot --init (fresh prefix $WINEPREFIX)"
else
    fail "wineboot --init" "$(tail -3 "$WORK/wineboot.log")"
    finish
fi
# Services run only as long as wineserver does: wait for wineboot's server to
# go idle, then start a persistent one (see the toolchain notes).
timeout 60 "$WINESERVER" -w
"$WINESERVER" -p
# wineserver's socket for this prefix: /tmp/.wine-UID/server-DEV-INODE/socket
# Its socket: server-DEV-INODE (of the prefix) under /tmp/.wine-UID (upstream
# Wine) or /tmp/wine-XXXXXX (Debian's).
read -r dev ino < <(stat -c '%d %i' "$WINEPREFIX")
SERVER_DIR_NAME=server-$(printf '%x-%x' "$dev" "$ino")
server_up() {
    local s
    for s in /tmp/.wine-"$(id -u)" /tmp/wine-*; do
        [ -S "$s/$SERVER_DIR_NAME/socket" ] && return 0
    done
    return 1
}
if wait_until 10 server_up; then
    setup_done "persistent wineserver for the prefix"
else
    fail "persistent wineserver for the prefix" "no socket $SERVER_DIR_NAME/socket"
fi

# ---- pre-seed the store: every port setting on a free loopback port ---------
mkdir -p "$DATA"
PORT_KEYS=$("$CTL_NATIVE" --data "$DATA" show 2>/dev/null | awk '$1 ~ /\.port$/ {print $1}')
if [ -z "$PORT_KEYS" ]; then
    fail "ismailctl show lists the port settings" "none found"
    finish
fi
declare -A PORT
used=" "
set_args=(listen.address 127.0.0.1)
for k in $PORT_KEYS; do
    while :; do p=$(free_port); case "$used" in *" $p "*) ;; *) break ;; esac; done
    used="$used$p "
    PORT[$k]=$p
    set_args+=("$k" "$p")
done
if "$CTL_NATIVE" --data "$DATA" set "${set_args[@]}" >"$WORK/seed.log" 2>&1; then
    pass "pre-seed store ($(echo $PORT_KEYS | wc -w) ports: ${set_args[*]})"
else
    fail "pre-seed store" "$(cat "$WORK/seed.log")"
    finish
fi
P_SMTP=${PORT[smtp.port]:-}
P_SMTPS=${PORT[smtps.port]:-}
if [ -z "$P_SMTP" ] || [ -z "$P_SMTPS" ]; then
    fail "smtp.port and smtps.port in the store" "not listed by ismailctl show"
    finish
fi

# ---- install ------------------------------------------------------------------
# msiexec's own log: the failing action and what led to it.
msi_log_tail() {
    local log=$WINEPREFIX/drive_c/$1
    [ -f "$log" ] || return 0
    echo "--- msiexec log $1 (failing action):"
    grep -n -B12 'Return value 3' "$log" | head -40
}
service_log_tail() {
    echo "--- service log (last lines):"
    tail -n 15 "$DATA/ismail-service.log" 2>/dev/null
}

cp "$MSI" "$WINEPREFIX/drive_c/ISMail.msi"
t=$(date +%s)
if timeout 180 "$WINE" msiexec /i 'C:\ISMail.msi' /qn /l*v 'C:\msi-install.log' >"$WORK/msi-i.log" 2>&1; then
    pass "msiexec /i ISMail.msi /qn ($(( $(date +%s) - t )) s)"
else
    # Wine passes on only the low 8 bits of the exit code (1603 -> 67).
    fail "msiexec /i ISMail.msi /qn" "exit $? (low 8 bits of the Windows code) $(tail -3 "$WORK/msi-i.log")"
    msi_log_tail msi-install.log
    service_log_tail
    finish
fi

for f in ismail-service.exe ismailctl.exe ismail-manager.exe; do
    check "installed $WIN_DIR\\$f" test -f "$INST/$f"
done
for d in ssl.csr ssl.crt ssl.key; do
    check "folder $WIN_DIR\\Apache\\conf\\$d" test -d "$INST/Apache/conf/$d"
done
check "data folder C:\\ProgramData\\InstantServers\\ISMail" test -d "$DATA"

reg=$(W reg query 'HKLM\Software\InstantServers\ISMail' 2>&1)
if grep -q "InstallDir.*REG_SZ.*C:\\\\Program Files\\\\InstantServers\\\\ISMail" <<<"$reg" &&
   grep -q "Version.*REG_SZ.*$VERSION" <<<"$reg"; then
    pass "HKLM\\Software\\InstantServers\\ISMail: InstallDir and Version $VERSION"
else
    fail "HKLM\\Software\\InstantServers\\ISMail" "$reg"
fi
svc=$(W reg query 'HKLM\System\CurrentControlSet\Services\ISMail' 2>&1)
if grep -q 'ImagePath.*ismail-service.exe' <<<"$svc" && grep -q 'Start.*0x2' <<<"$svc" &&
   grep -q 'DisplayName.*ISMail Mail Server' <<<"$svc" && grep -q 'ObjectName.*LocalSystem' <<<"$svc"; then
    pass "service key ISMail: ImagePath, auto start, LocalSystem, display name"
else
    fail "service key HKLM\\System\\CurrentControlSet\\Services\\ISMail" "$svc"
fi

svc_running() { W sc query ISMail 2>/dev/null | grep -q 'STATE.*RUNNING'; }
if wait_until 30 svc_running; then
    pass "sc query ISMail: RUNNING"
else
    fail "sc query ISMail: RUNNING" "$(W sc query ISMail 2>&1 | tr -s ' \n' ' ')"
    service_log_tail
    finish
fi

smtp_up() { smtp_ehlo "$P_SMTP" >"$WORK/ehlo" 2>/dev/null && grep -q '^250' "$WORK/ehlo"; }
if wait_until 30 smtp_up; then
    pass "SMTP on 127.0.0.1:$P_SMTP answers EHLO"
else
    fail "SMTP on 127.0.0.1:$P_SMTP answers EHLO" "$(cat "$WORK/ehlo" 2>/dev/null; tail -5 "$DATA/ismail-service.log" 2>/dev/null)"
fi
if grep -q '^250' "$WORK/ehlo" && ! grep -qi 'STARTTLS' "$WORK/ehlo"; then
    pass "EHLO without STARTTLS while smtp.tls.incoming is off"
else
    fail "EHLO without STARTTLS while smtp.tls.incoming is off" "$(tr '\n' '|' <"$WORK/ehlo")"
fi
check "service log C:\\ProgramData\\InstantServers\\ISMail\\ismail-service.log" test -s "$DATA/ismail-service.log"
has_cert() { compgen -G "$INST/Apache/conf/ssl.crt/*.crt" >/dev/null && compgen -G "$INST/Apache/conf/ssl.key/*.key" >/dev/null; }
if wait_until 20 has_cert; then
    pass "first start made a certificate and key ($(cd "$INST/Apache/conf" && echo ssl.crt/*.crt ssl.key/*.key))"
else
    fail "first start made a certificate and key in Apache\\conf\\ssl.crt, ssl.key" "$(ls -R "$INST/Apache/conf")"
fi

# ---- the manager under Xvfb, driven by the test driver ---------------------------
"$WINE" "$WIN_DIR\\ismail-manager.exe" >"$WORK/manager.log" 2>&1 &
MGR_PID=$!
if wait_until 30 xdotool search --name '^ISMail Manager' >/dev/null 2>&1; then
    pass "manager window 'ISMail Manager' (installed exe, default data folder)"
else
    fail "manager window 'ISMail Manager'" "$(cat "$WORK/manager.log")"
fi

if timeout 90 "$WINE" "$DRIVER" wait-window 30 click smtp.tls.incoming apply-and-wait 10 >"$WORK/driver.log" 2>&1; then
    pass "driver: tick SMTP Incoming, Apply, applied by the service ($(tail -1 "$WORK/driver.log" | tr -d '\r'))"
else
    fail "driver: tick SMTP Incoming, Apply, applied by the service" "exit $? $(tr -d '\r' <"$WORK/driver.log" | tail -5)"
fi
v=$(W "$WIN_DIR\\ismailctl.exe" get smtp.tls.incoming 2>&1 | tr -d '\r')
if [ "$v" = "on" ]; then pass "store: smtp.tls.incoming = on"; else fail "store: smtp.tls.incoming = on" "got '$v'"; fi

if wait_until 10 starttls_ok "$P_SMTP"; then
    pass "STARTTLS on 127.0.0.1:$P_SMTP: TLS 1.3 handshake (openssl s_client from Linux)"
else
    fail "STARTTLS on 127.0.0.1:$P_SMTP: TLS 1.3 handshake" \
        "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$P_SMTP" -starttls smtp -tls1_3 -brief 2>&1 | tail -3)"
fi
if smtp_ehlo "$P_SMTP" 2>/dev/null | grep -q '^250.STARTTLS'; then
    pass "EHLO lists STARTTLS"
else
    fail "EHLO lists STARTTLS" "$(smtp_ehlo "$P_SMTP" 2>&1 | tr '\n' '|')"
fi
smtps_ok() {
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$P_SMTPS" -tls1_3 -brief 2>&1 |
        grep -q 'Protocol version: TLSv1.3'
}
if wait_until 10 smtps_ok; then
    pass "SMTPS on 127.0.0.1:$P_SMTPS: implicit TLS 1.3"
else
    fail "SMTPS on 127.0.0.1:$P_SMTPS: implicit TLS 1.3" \
        "$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$P_SMTPS" -tls1_3 -brief 2>&1 | tail -3)"
fi

mkdir -p "$SHOT_DIR"
SHOT=$SHOT_DIR/e2e-msi-manager.png
rm -f "$SHOT"
if import -display "$DISPLAY" -window root "$SHOT" 2>"$WORK/import.log" &&
   [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
   [ "$(/usr/bin/convert "$SHOT" -format '%k' info: 2>/dev/null || echo 0)" -gt 2 ]; then
    setup_done "screenshot of the manager: $SHOT"
else
    fail "screenshot of the manager" "$(cat "$WORK/import.log")"
fi

W "$DRIVER" close >/dev/null 2>&1
mgr_gone() { ! kill -0 "$MGR_PID" 2>/dev/null; }
if wait_until 15 mgr_gone; then pass "manager closed"; else fail "manager closed" "still running"; kill "$MGR_PID" 2>/dev/null; fi
MGR_PID=""

# ---- uninstall: program gone, data kept ---------------------------------------
t=$(date +%s)
if timeout 180 "$WINE" msiexec /x 'C:\ISMail.msi' /qn /l*v 'C:\msi-uninstall.log' >"$WORK/msi-x.log" 2>&1; then
    pass "msiexec /x ISMail.msi /qn ($(( $(date +%s) - t )) s)"
else
    fail "msiexec /x ISMail.msi /qn" "exit $? $(tail -3 "$WORK/msi-x.log")"
    msi_log_tail msi-uninstall.log
fi
svc_gone() { ! W reg query 'HKLM\System\CurrentControlSet\Services\ISMail' >/dev/null 2>&1; }
if wait_until 30 svc_gone && ! W sc query ISMail 2>/dev/null | grep -q STATE; then
    pass "service ISMail removed (sc query finds nothing, service key gone)"
else
    fail "service ISMail removed" "$(W sc query ISMail 2>&1 | tr -s ' \n' ' ')"
fi
smtp_closed() { ! smtp_ehlo "$P_SMTP" >/dev/null 2>&1; }
if wait_until 15 smtp_closed; then pass "port $P_SMTP closed after uninstall"; else fail "port $P_SMTP closed after uninstall" "still answers"; fi
left=""
for f in ismail-service.exe ismailctl.exe ismail-manager.exe; do
    [ -e "$INST/$f" ] && left="$left $f"
done
if [ -z "$left" ]; then pass "program files removed"; else fail "program files removed" "left:$left"; fi
if W reg query 'HKLM\Software\InstantServers\ISMail' >/dev/null 2>&1; then
    fail "HKLM\\Software\\InstantServers\\ISMail removed" "still there"
else
    pass "HKLM\\Software\\InstantServers\\ISMail removed"
fi
check "data kept: C:\\ProgramData\\InstantServers\\ISMail\\ismail.db" test -s "$DATA/ismail.db"
# The kept store still holds what was set before and through the manager.
v=$("$CTL_NATIVE" --data "$DATA" get smtp.port 2>&1)
v2=$("$CTL_NATIVE" --data "$DATA" get smtp.tls.incoming 2>&1)
if [ "$v" = "$P_SMTP" ] && [ "$v2" = "on" ]; then
    pass "kept store readable: smtp.port=$v smtp.tls.incoming=$v2"
else
    fail "kept store readable" "smtp.port='$v' smtp.tls.incoming='$v2'"
fi

echo "e2e-msi: screenshot: ${SHOT:-none}"
echo "e2e-msi: $(( $(date +%s) - T0 )) s"
finish
