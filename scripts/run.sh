#!/usr/bin/env bash
# run.sh: ISMail running for real under Wine (`make run`, `make stop`).
#
#   bash scripts/run.sh <win build dir> <msi>    install and run, until Ctrl-C
#   bash scripts/run.sh --stop                   end a run left in the background
#
# Keeps one Wine prefix at $ISMAIL_RUN_DIR/wineprefix (default
# /var/lib/ismail-run/wineprefix), created on first use. Installs the MSI
# there with msiexec (an upgrade when the MSI is newer; a rebuild of the same
# version is reinstalled: old one removed first, its data kept), waits for the
# service "ISMail" to run under Wine's service manager, opens the ISMail
# Manager on $DISPLAY (or on its own Xvfb display, with a screenshot taken once
# the window shows painted), prints where to look, and stays in the
# foreground. Ctrl-C (or `make stop`) stops the service, closes the manager,
# ends the Xvfb it started and the wineserver.
# The store is the product's default one (default ports), kept between runs.
set -u

STATE=${ISMAIL_RUN_DIR:-/var/lib/ismail-run}
PREFIX=$STATE/wineprefix
WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver}
WIN_DIR='C:\Program Files\InstantServers\ISMail'
INST="$PREFIX/drive_c/Program Files/InstantServers/ISMail"
DATA=$PREFIX/drive_c/ProgramData/InstantServers/ISMail
SHOT=$STATE/manager.png
IMPORT=/usr/bin/import     # ImageMagick's own, whatever else is called so on PATH
CONVERT=/usr/bin/convert

export WINEPREFIX=$PREFIX
export WINEDEBUG=${WINEDEBUG:--all}
export WINEDLLOVERRIDES="mscoree,mshtml="   # no Mono/Gecko prompts

say() { echo "run: $*"; }
die() { echo "run: error: $*" >&2; exit 1; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds or time is up.
wait_for() {
    local end=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.2
    done
}

# shot_painted FILE: takes a screenshot of the whole screen and, when it shows
# the manager painted, keeps it as FILE. Painted means: the window's area (the
# whole screen when its place is unknown) is not one flat colour, and it is
# the same as in the previous call's screenshot, so nothing is still being
# drawn. The window exists, and xdotool finds it, before Wine has painted it:
# a screenshot taken then is all black. SHOT_SD is the last standard deviation.
SHOT_SIG=""
SHOT_SD=""
shot_painted() {
    local new=$1.new.png wid WINDOW X Y WIDTH=0 HEIGHT=0 SCREEN crop=() sd="" sig="" prev=$SHOT_SIG
    "$IMPORT" -display "$DISPLAY" -window root "$new" 2>"$STATE/import.log" || return 1
    wid=$(xdotool search --onlyvisible --name "^ISMail Manager" 2>/dev/null | head -1)
    if [ -n "$wid" ] && eval "$(xdotool getwindowgeometry --shell "$wid" 2>/dev/null)" &&
       [ "${X:--1}" -ge 0 ] && [ "${Y:--1}" -ge 0 ] && [ "$WIDTH" -gt 0 ] && [ "$HEIGHT" -gt 0 ]; then
        crop=(-crop "${WIDTH}x${HEIGHT}+$X+$Y" +repage)
    fi
    read -r sd sig < <("$CONVERT" "$new" ${crop[@]+"${crop[@]}"} -format '%[fx:standard_deviation] %#\n' info: 2>/dev/null)
    [ -n "$sig" ] || return 1
    SHOT_SIG=$sig
    SHOT_SD=$sd
    [ "$sig" = "$prev" ] && awk -v sd="$sd" 'BEGIN { exit !(sd > 0.02) }' && mv -f "$new" "$1"
}

# pid_is FILE WORD: the pid in FILE is alive and its command line has WORD
# (a pid file from an old run may name a pid reused by something else).
pid_is() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# A running wineserver for the prefix has a socket in server-DEV-INODE (of the
# prefix) under /tmp/.wine-UID (upstream) or /tmp/wine-XXXXXX (Debian's Wine).
server_running() {
    local dev ino s
    [ -d "$PREFIX" ] || return 1
    read -r dev ino < <(stat -c '%d %i' "$PREFIX")
    for s in /tmp/.wine-"$(id -u)" /tmp/wine-*; do
        [ -S "$s/server-$(printf '%x-%x' "$dev" "$ino")/socket" ] && return 0
    done
    return 1
}

svc_state() { "$WINE" sc query ISMail 2>/dev/null | tr -d '\r' | awk '/STATE/ {print $4}'; }
svc_running() { [ "$(svc_state)" = RUNNING ]; }

# stop_everything: what Ctrl-C and --stop do. Safe to call twice.
stop_everything() {
    if server_running; then
        if [ -n "$(svc_state)" ]; then
            say "stopping the service: wine64 net stop ISMail"
            timeout 60 "$WINE" net stop ISMail 2>&1 | tr -d '\r' | sed '/^$/d; s/^/run:   /'
        fi
    fi
    if pid_is "$STATE/manager.pid" ismail-manager; then
        say "closing the manager (pid $(cat "$STATE/manager.pid"))"
        kill "$(cat "$STATE/manager.pid")" 2>/dev/null
        wait_for 10 eval '! pid_is "$STATE/manager.pid" ismail-manager'
    fi
    if server_running; then
        say "ending the wineserver of $PREFIX"
        "$WINESERVER" -k 2>/dev/null
        timeout 30 "$WINESERVER" -w 2>/dev/null
    fi
    # last: Wine's desktop process draws on it until the wineserver ends
    if pid_is "$STATE/xvfb.pid" Xvfb; then
        say "ending Xvfb $(cat "$STATE/display" 2>/dev/null) (pid $(cat "$STATE/xvfb.pid"))"
        kill "$(cat "$STATE/xvfb.pid")" 2>/dev/null
    fi
    rm -f "$STATE/manager.pid" "$STATE/xvfb.pid" "$STATE/display"
}

do_stop() {
    if pid_is "$STATE/run.pid" run.sh; then
        local pid
        pid=$(cat "$STATE/run.pid")
        say "asking the running 'make run' (pid $pid) to stop"
        kill -TERM "$pid"
        if wait_for 120 eval '! kill -0 '"$pid"' 2>/dev/null'; then
            say "stopped"
        else
            say "pid $pid did not end in time; cleaning up here"
            stop_everything
        fi
    else
        say "no 'make run' in progress; cleaning up whatever is left"
        stop_everything
    fi
    rm -f "$STATE/run.pid"
    say "done"
}

if [ "${1:-}" = "--stop" ]; then
    [ $# -eq 1 ] || die "usage: bash scripts/run.sh --stop"
    do_stop
    exit 0
fi

# ---- start -------------------------------------------------------------------
[ $# -eq 2 ] || die "usage: bash scripts/run.sh <win build dir> <msi>   |   bash scripts/run.sh --stop"
WB=$1
MSI=$2
[ -x "$WINE" ] || die "$WINE not found (Debian package wine64)"
[ -f "$MSI" ] || die "no MSI at $MSI (make msi builds it)"
for c in msiinfo xdotool Xvfb "$IMPORT" "$CONVERT"; do
    command -v "$c" >/dev/null || die "$c not found (packages: msitools, xdotool, xvfb, imagemagick)"
done
[ -d "$WB" ] || say "note: Windows build folder $WB not found; using what the MSI installs"

mkdir -p "$STATE"
if pid_is "$STATE/run.pid" run.sh; then
    say "a previous 'make run' (pid $(cat "$STATE/run.pid")) is still running: stopping it first"
    do_stop
elif [ -e "$STATE/manager.pid" ] || [ -e "$STATE/xvfb.pid" ] || server_running; then
    say "cleaning up what an earlier run left behind"
    stop_everything
fi
echo $$ >"$STATE/run.pid"

IN_LOOP=0
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "${SLEEP_PID:-}" ] && kill "$SLEEP_PID" 2>/dev/null
    echo
    if [ $IN_LOOP -eq 1 ]; then say "stopping ISMail"; else say "start-up did not finish; cleaning up"; fi
    stop_everything
    rm -f "$STATE/run.pid"
    if [ $IN_LOOP -eq 1 ]; then say "stopped (the prefix, its store and log stay in $PREFIX)"; exit 0; fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 0' INT TERM

# A display for the manager: the caller's, or an Xvfb of our own. It must be
# chosen before the first Wine program starts: Wine's desktop process (started
# with the wineserver, which is persistent) picks the display driver for every
# program of the session, so a session begun without DISPLAY shows no windows.
OWN_XVFB=0
if [ -n "${DISPLAY:-}" ] && xdotool getdisplaygeometry >/dev/null 2>&1; then
    say "manager on your display $DISPLAY"
else
    [ -n "${DISPLAY:-}" ] && say "DISPLAY=$DISPLAY does not answer; using Xvfb instead"
    rm -f "$STATE/display"
    Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp 5>"$STATE/display" >"$STATE/xvfb.log" 2>&1 &
    echo $! >"$STATE/xvfb.pid"
    wait_for 15 test -s "$STATE/display" || die "Xvfb did not start; see $STATE/xvfb.log"
    DISPLAY=":$(head -1 "$STATE/display")"
    echo "$DISPLAY" >"$STATE/display"
    export DISPLAY
    OWN_XVFB=1
    say "manager on a virtual display: Xvfb $DISPLAY"
fi

# The prefix, with a persistent wineserver so that Wine does not shut the
# service down whenever the last ordinary Wine program exits.
if [ ! -f "$PREFIX/system.reg" ]; then
    say "creating the Wine prefix $PREFIX (once; about 15 s)"
    mkdir -p "$PREFIX"
    timeout 180 "$WINE" wineboot --init >"$STATE/wineboot.log" 2>&1 ||
        die "wineboot --init failed; see $STATE/wineboot.log"
else
    say "using the Wine prefix $PREFIX"
fi
timeout 60 "$WINESERVER" -w 2>/dev/null
"$WINESERVER" -p || die "could not start a persistent wineserver"
wait_for 10 server_running || die "the wineserver for $PREFIX did not come up"

# Install, upgrade or reinstall.
new_ver=$(msiinfo export "$MSI" Property 2>/dev/null | awk -F'\t' '$1 == "ProductVersion" {print $2}' | tr -d '\r')
[ -n "$new_ver" ] || die "$MSI has no ProductVersion: is it an MSI?"
old_ver=$("$WINE" reg query 'HKLM\Software\InstantServers\ISMail' /v Version 2>/dev/null | tr -d '\r' |
          awk '$1 == "Version" {print $3}')
mkdir -p "$PREFIX/drive_c/ismail-run"
: >"$STATE/msiexec.out"   # what msiexec and its custom actions print
cp -f "$MSI" "$PREFIX/drive_c/ismail-run/ISMail.msi"

# The product codes of every installed ISMail (from the Uninstall keys).
installed_codes() {
    "$WINE" reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' |
        awk '/^HKEY_/ {key=$0; sub(/.*\\/, "", key)} $1 == "DisplayName" && $3 == "ISMail" && NF == 3 {print key}' |
        grep -E '^\{[0-9A-Fa-f-]{36}\}$'
}

if [ -z "$old_ver" ]; then
    say "installing ISMail $new_ver: msiexec /i ISMail.msi /qn"
elif [ "$old_ver" != "$new_ver" ] && [ "$(printf '%s\n%s\n' "$old_ver" "$new_ver" | sort -V | tail -1)" = "$new_ver" ]; then
    say "upgrading ISMail $old_ver to $new_ver: msiexec /i ISMail.msi /qn (major upgrade)"
else
    # Same version (a rebuild) or a downgrade: the MSI would not replace it
    # (see installer-wix/ISMail.wxs), so remove the installed one first.
    for code in $(installed_codes); do
        say "reinstalling: removing ISMail $old_ver ($code) first; the store and certificates stay"
        timeout 180 "$WINE" msiexec /x "$code" /qn /l*v 'C:\ismail-run\uninstall.log' >>"$STATE/msiexec.out" 2>&1 ||
            die "msiexec /x $code failed; log: $PREFIX/drive_c/ismail-run/uninstall.log"
    done
    say "installing ISMail $new_ver: msiexec /i ISMail.msi /qn"
fi
timeout 300 "$WINE" msiexec /i 'C:\ismail-run\ISMail.msi' /qn /l*v 'C:\ismail-run\install.log' >>"$STATE/msiexec.out" 2>&1 ||
    die "msiexec /i failed (exit $?); log: $PREFIX/drive_c/ismail-run/install.log"

say "waiting for the service ISMail to be RUNNING (sc query)"
if ! wait_for 60 svc_running; then
    tail -n 20 "$DATA/ismail-service.log" 2>/dev/null | sed 's/^/run:   log: /'
    die "the service is not running (state: $(svc_state)); log: $DATA/ismail-service.log"
fi
say "service ISMail: RUNNING"

"$WINE" "$WIN_DIR\\ismail-manager.exe" >"$STATE/manager.log" 2>&1 &
echo $! >"$STATE/manager.pid"
if wait_for 30 eval 'xdotool search --name "^ISMail Manager" >/dev/null 2>&1'; then
    say "the ISMail Manager window is open"
else
    say "warning: no 'ISMail Manager' window after 30 s; see $STATE/manager.log"
fi
if [ $OWN_XVFB -eq 1 ]; then
    # Polled: the window exists before it is painted (see shot_painted).
    rm -f "$SHOT"
    if wait_for 30 shot_painted "$SHOT"; then
        say "screenshot: $SHOT"
    elif [ -f "$SHOT.new.png" ]; then
        mv -f "$SHOT.new.png" "$SHOT"
        say "warning: after 30 s the screen still did not show the manager painted and still (standard deviation ${SHOT_SD:-?}); screenshot anyway: $SHOT"
    else
        say "warning: the screenshot failed: $(cat "$STATE/import.log" 2>/dev/null)"
        SHOT="(none)"
    fi
fi

# Where to look.
ctl() { "$WINE" "$WIN_DIR\\ismailctl.exe" "$@" 2>&1 | tr -d '\r'; }
echo
echo "ISMail $new_ver is running under Wine."
echo "  Wine prefix    $PREFIX"
echo "  service        ISMail (LocalSystem, automatic)   WINEPREFIX=$PREFIX $WINE sc query ISMail"
echo "  service log    $DATA/ismail-service.log"
echo "  store          $DATA/ismail.db"
echo "  certificates   $INST/Apache/conf/{ssl.csr,ssl.crt,ssl.key}"
echo "  listeners (ismailctl show):"
ctl show | awk '$1 ~ /\.port$/ || $1 == "listen.address" || $1 ~ /\.tls\.incoming$/ {printf "    %-24s %s\n", $1, $2}'
echo "  applied by the service (ismailctl status):"
ctl status | sed 's/^/    /'
if [ $OWN_XVFB -eq 1 ]; then
    echo "  manager        on Xvfb $DISPLAY; screenshot $SHOT"
else
    echo "  manager        on $DISPLAY"
fi
echo "  change a setting: WINEPREFIX=$PREFIX $WINE '$WIN_DIR\\ismailctl.exe' set smtp.tls.incoming on"
echo "Ctrl-C here (or 'make stop' in another terminal) stops the service, the manager and Wine."

IN_LOOP=1
while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
done
