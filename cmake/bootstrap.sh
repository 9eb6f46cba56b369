#!/usr/bin/env bash
# Installs what ISMail needs to build and test, and nothing when all is present.
#
# Debian packages come from the archive; OpenSSL, SQLite and CppUTest for the
# Windows target (x86_64-w64-mingw32) are built from Debian's *source* packages
# and cached outside the checkout, keyed by version, so a second run costs
# seconds. Prints the mingw prefix on its last line when asked with --print-prefix.
set -euo pipefail

CACHE=${ISMAIL_DEPS_CACHE:-/var/cache/ismail-deps}
TRIPLE=x86_64-w64-mingw32
PKGS=(build-essential cmake pkg-config ninja-build
      libssl-dev libsqlite3-dev libcpputest-dev cpputest
      gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64
      wine64 wixl msitools xvfb xdotool imagemagick x11-apps
      curl openssl testssl.sh bsdmainutils python3-aiosmtpd swaks libnet-ssleay-perl libio-socket-ssl-perl socat tcl dpkg-dev ca-certificates procps psmisc)

log() { [ -n "${QUIET:-}" ] || echo "bootstrap: $*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { echo "bootstrap: missing packages ($*); run as root or install them with apt-get" >&2; exit 1; }; }

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# deb-src entries for the same archive and suites as the deb ones.
ensure_deb_src() {
  local src=/etc/apt/sources.list.d/debian.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    need_root "deb-src entry"
    log "enabling deb-src entries"
    if [ -f "$src" ]; then
      sed 's/^Types: deb$/Types: deb-src/' "$src" > /etc/apt/sources.list.d/ismail-deb-src.sources
    else
      grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/ismail-deb-src.list
    fi
    apt-get update -qq
  fi
}

srcver() { apt-cache showsrc "$1" 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -1; }

ensure_deb_src
# Versions are the newest source versions Debian offers (the native -dev packages
# may lag a security upload behind; the source of that exact version is often gone).
OSSL_V=$(srcver openssl); SQL_V=$(srcver sqlite3); CPPU_V=$(srcver cpputest)
[ -n "$OSSL_V" ] && [ -n "$SQL_V" ] && [ -n "$CPPU_V" ] || { echo "bootstrap: apt-cache showsrc found no openssl/sqlite3/cpputest source; check the deb-src entries" >&2; exit 1; }
KEY="openssl-${OSSL_V}_sqlite-${SQL_V}_cpputest-${CPPU_V}"
PREFIX="$CACHE/$TRIPLE/$KEY"
if [ -f "$PREFIX/.complete" ]; then
  [ "${1:-}" = --print-prefix ] && echo "$PREFIX"
  exit 0
fi

need_root "mingw dependency build"
WORK="$CACHE/src"; mkdir -p "$WORK" "$PREFIX"
cd "$WORK"
fetch() { # $1 source package, $2 glob of the orig tarball, $3 version
  ls $2 >/dev/null 2>&1 || apt-get source --download-only -qq "$1=$3" >/dev/null 2>&1 || true
  ls $2 >/dev/null 2>&1 || { echo "bootstrap: could not download the source of $1 $3 from Debian's archive" >&2; exit 1; }
}

OSSL_UP=${OSSL_V%%-*}; SQL_UP=${SQL_V%%-*}; CPPU_UP=${CPPU_V%%-*}
log "building OpenSSL $OSSL_UP, SQLite $SQL_UP, CppUTest $CPPU_UP for $TRIPLE into $PREFIX"

# OpenSSL
fetch openssl "openssl_${OSSL_UP}.orig.tar.gz" "$OSSL_V"
rm -rf "openssl-$OSSL_UP"; tar xf "openssl_${OSSL_UP}.orig.tar.gz"
( cd "openssl-$OSSL_UP" &&
  ./Configure mingw64 no-shared no-tests --cross-compile-prefix=$TRIPLE- --prefix="$PREFIX" --libdir=lib >/dev/null &&
  make -j"$(nproc)" build_libs >/dev/null 2>&1 && make install_dev >/dev/null 2>&1 )
rm -rf "openssl-$OSSL_UP"

# SQLite: generate the amalgamation natively, compile it with the cross compiler.
fetch sqlite3 "sqlite3_${SQL_UP}.orig.tar.*" "$SQL_V"
rm -rf sqlite-build; mkdir sqlite-build
tar xf sqlite3_${SQL_UP}.orig.tar.* -C sqlite-build --strip-components=1
( cd sqlite-build && ./configure --disable-tcl >/dev/null && make sqlite3.c >/dev/null 2>&1 &&
  $TRIPLE-gcc -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_DEFAULT_WAL_SYNCHRONOUS=1 -DSQLITE_DQS=0 -c sqlite3.c -o sqlite3.o &&
  $TRIPLE-ar rcs "$PREFIX/lib/libsqlite3.a" sqlite3.o && cp sqlite3.h sqlite3ext.h "$PREFIX/include/" )
rm -rf sqlite-build

# CppUTest
fetch cpputest "cpputest_${CPPU_UP}.orig.tar.*" "$CPPU_V"
rm -rf cpputest-build; mkdir -p cpputest-build/src
tar xf cpputest_${CPPU_UP}.orig.tar.* -C cpputest-build/src --strip-components=1
cat > cpputest-build/toolchain.cmake <<TC
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER $TRIPLE-gcc)
set(CMAKE_CXX_COMPILER $TRIPLE-g++)
set(CMAKE_RC_COMPILER $TRIPLE-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$TRIPLE)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
TC
( cd cpputest-build && cmake -S src -B b -DCMAKE_TOOLCHAIN_FILE="$PWD/toolchain.cmake" -DTESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null 2>&1 &&
  cmake --build b -j"$(nproc)" >/dev/null 2>&1 && cmake --install b >/dev/null )
rm -rf cpputest-build

touch "$PREFIX/.complete"
log "mingw dependencies ready in $PREFIX"
[ "${1:-}" = --print-prefix ] && echo "$PREFIX"
exit 0
