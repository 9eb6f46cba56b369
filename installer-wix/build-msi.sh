#!/usr/bin/env bash
# build-msi.sh: builds ISMail's MSI from installer-wix/ISMail.wxs with wixl.
#
#   bash installer-wix/build-msi.sh <win build dir> <out.msi> [version]
#
# Takes the version from resources/version.h (ISM_VERSION_STRING, the one
# place it is written) unless a version is given as the third argument or in
# ISMAIL_MSI_VERSION (the argument wins): MAJOR.MINOR.PATCH, each part at most
# 255.255.65535 as Windows Installer requires. An override changes only the
# MSI's ProductVersion and the registry value Version, not the programs'
# own --version and VERSIONINFO; tests/wine/e2e-service.sh uses it to build
# "the next version" for its upgrade test. The three programs come from the
# Windows build folder:
#   <win build>/service/ismail-service.exe
#   <win build>/ctl/ismailctl.exe
#   <win build>/manager-gui/ismail-manager.exe
# and so does openssl.exe for Apache\install (make win puts it there, from
# cmake/bootstrap.sh --mingw-openssl-cli; ISMAIL_OPENSSL_EXE names another):
#   <win build>/apache-install/openssl.exe
# openssl.cnf and spp2k.bat come from installer-wix/apache-install; the batch
# file is packaged with CRLF line ends, as cmd.exe expects.
# Exits non-zero, saying what is missing, if a program or wixl is absent.
set -euo pipefail

die() { echo "build-msi: $*" >&2; exit 1; }

[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: bash installer-wix/build-msi.sh <win build dir> <out.msi> [version]"
WIN_BUILD=$1
OUT=$2
OVERRIDE=${3:-${ISMAIL_MSI_VERSION:-}}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WXS=$HERE/ISMail.wxs

command -v wixl >/dev/null || die "wixl not found (Debian package: msitools)"
[ -d "$WIN_BUILD" ] || die "Windows build folder '$WIN_BUILD' does not exist (run: make win)"
WIN_BUILD=$(cd "$WIN_BUILD" && pwd)

if [ -n "$OVERRIDE" ]; then
    VERSION=$OVERRIDE
    if [ $# -eq 3 ]; then FROM="the command line"; else FROM="ISMAIL_MSI_VERSION"; fi
else
    VERSION=$(sed -n 's/^#define ISM_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/resources/version.h")
    FROM="resources/version.h"
fi
if ! [[ "$VERSION" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,5})$ ]] ||
   [ "${BASH_REMATCH[1]}" -gt 255 ] || [ "${BASH_REMATCH[2]}" -gt 255 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
    die "version '$VERSION' ($FROM) is not MAJOR.MINOR.PATCH within 255.255.65535"
fi

SERVICE_EXE=$WIN_BUILD/service/ismail-service.exe
CTL_EXE=$WIN_BUILD/ctl/ismailctl.exe
MANAGER_EXE=$WIN_BUILD/manager-gui/ismail-manager.exe
OPENSSL_EXE=${ISMAIL_OPENSSL_EXE:-$WIN_BUILD/apache-install/openssl.exe}
OPENSSL_CNF=$HERE/apache-install/openssl.cnf
missing=0
for f in "$SERVICE_EXE" "$CTL_EXE" "$MANAGER_EXE" "$OPENSSL_EXE" "$OPENSSL_CNF" "$HERE/apache-install/spp2k.bat"; do
    if [ ! -s "$f" ]; then
        echo "build-msi: missing $f" >&2
        missing=1
    fi
done
[ $missing -eq 0 ] || die "build the Windows programs first (make win; it also puts openssl.exe in $WIN_BUILD/apache-install)"
[ "$(head -c2 "$OPENSSL_EXE")" = MZ ] || die "$OPENSSL_EXE is not a Windows program"

# wixl resolves File/@Source relative to the .wxs file's folder and rejects
# absolute paths, so hand it paths relative to installer-wix/.
rel() { realpath --relative-to="$HERE" "$1"; }

mkdir -p "$(dirname "$OUT")"
tmp=$OUT.tmp.$$
# spp2k.bat with CRLF line ends, beside the build's programs (wixl wants
# paths relative to this folder, so not in a temporary folder elsewhere).
mkdir -p "$WIN_BUILD/apache-install"
SPP2K_BAT=$WIN_BUILD/apache-install/spp2k.bat
sed 's/\r*$/\r/' "$HERE/apache-install/spp2k.bat" >"$SPP2K_BAT"
trap 'rm -f "$tmp"' EXIT
# wixl prints GLib warnings for attributes it does not model; keep them out of
# the way but show everything if the build fails.
log=$(wixl -a x64 -o "$tmp" \
        -D Version="$VERSION" \
        -D ServiceExe="$(rel "$SERVICE_EXE")" \
        -D CtlExe="$(rel "$CTL_EXE")" \
        -D ManagerExe="$(rel "$MANAGER_EXE")" \
        -D OpensslExe="$(rel "$OPENSSL_EXE")" \
        -D OpensslCnf="$(rel "$OPENSSL_CNF")" \
        -D Spp2kBat="$(rel "$SPP2K_BAT")" \
        "$WXS" 2>&1) || { echo "$log" >&2; die "wixl failed on $WXS"; }
mv -f "$tmp" "$OUT"
echo "build-msi: $OUT (ISMail $VERSION from $FROM, x64)"
