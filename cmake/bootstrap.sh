#!/usr/bin/env bash
# Installs what ISMail needs to build and test, and nothing when all is present.
#
# Debian packages come from the archive; OpenSSL, SQLite and CppUTest for the
# Windows target (x86_64-w64-mingw32) are built from Debian's *source* packages
# and cached outside the checkout, keyed by version, so a second run costs
# seconds. SQLite and CppUTest are Debian 12 (bookworm)'s sources, found through
# apt's deb-src entries. OpenSSL is the 3.5 LTS series from Debian 13 (trixie and
# trixie-security), fetched by URL from the signed source indexes (trixie is never
# added to apt's sources), with Debian's patches applied.
#
# No archive address is written here: the URLs of trixie and trixie-security are
# those of the Debian archive and security archive apt is configured with (its
# sources.list and sources.list.d), and the downloads go through the proxy apt uses
# (Acquire::http::Proxy), so a machine with a local mirror or a proxy works as is.
#
#   bootstrap.sh                   install packages, build the mingw dependencies
#   bootstrap.sh --print-prefix    the same, then print the mingw prefix on the last line
#   bootstrap.sh --native-openssl  install packages, build a native (x86_64 Linux) shared
#                                  OpenSSL of the version the Windows build bundles; print
#                                  its prefix on the last line
#   bootstrap.sh --print-archives  print the archive URLs and proxy it would use, nothing else
#   bootstrap.sh --mingw-openssl-cli  the same as --print-prefix, then also build openssl.exe,
#                                  the command-line program of that OpenSSL (the MSI installs it
#                                  in Apache\install for the manual's commands); print its path
#                                  on the last line
set -euo pipefail

MODE=${1:-}
case "$MODE" in
  ""|--print-prefix|--native-openssl|--print-archives|--mingw-openssl-cli) ;;
  *) echo "usage: bootstrap.sh [--print-prefix | --native-openssl | --print-archives | --mingw-openssl-cli]" >&2; exit 2 ;;
esac

CACHE=${ISMAIL_DEPS_CACHE:-/var/cache/ismail-deps}
TRIPLE=x86_64-w64-mingw32
OS_CODENAME=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PKGS=(build-essential cmake pkg-config ninja-build
      libssl-dev libsqlite3-dev libcpputest-dev cpputest
      gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64
      wine64 wixl msitools xvfb xdotool imagemagick x11-apps
      curl openssl testssl.sh bsdmainutils python3-aiosmtpd swaks libnet-ssleay-perl libio-socket-ssl-perl socat tcl dpkg-dev ca-certificates procps psmisc
      gpgv xz-utils debian-archive-keyring
      clang libclang-rt-dev)

log() { [ -n "${QUIET:-}" ] || echo "bootstrap: $*" >&2; }
warn() { echo "bootstrap: warning: $*" >&2; }
die() { echo "bootstrap: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || { echo "bootstrap: missing packages ($*); run as root or install them with apt-get" >&2; exit 1; }; }

# ---- Where Debian's archive is, and how to reach it: apt's own configuration.
#
# debian_archive main|security: the base URL (no trailing slash) of the Debian
# archive, or of Debian's security archive, among the entries apt reads (its own
# parse of sources.list, sources.list.d/*.list and *.sources; disabled entries are
# left out). An entry whose Release file apt has fetched is known by its Origin and
# Label (Debian / Debian, Debian / Debian-Security); otherwise the first entry with
# component main for this release's suite (its codename or a Debian suite name
# such as stable), or that suite's -security, is taken. Only URLs curl can fetch
# (http, https, ftp, file) count. Prints nothing when there is none.
debian_archive() {
  local label=Debian suites="" s known all uri
  for s in $OS_CODENAME oldoldstable oldstable stable testing unstable sid; do
    case $1 in
      main) suites+=" $s" ;;
      security) suites+=" $s-security $s/updates"; label=Debian-Security ;;
    esac
  done
  all=$(apt-get indextargets --no-release-info --format $'$(REPO_URI)\t$(COMPONENT)\t$(RELEASE)' 2>&1) ||
    die "apt could not read its sources: $(grep -m1 '^E:' <<<"$all" || echo "$all")"
  known=$(apt-get indextargets --format $'$(REPO_URI)\t$(COMPONENT)\t$(ORIGIN)\t$(LABEL)' 2>/dev/null) || known=""
  uri=$(awk -F'\t' -v l="$label" '$1 ~ /^(https?|ftp|file):/ && $2 == "main" && $3 == "Debian" && $4 == l {print $1; exit}' <<<"$known")
  [ -n "$uri" ] ||
    uri=$(awk -F'\t' -v s="$suites " '$1 ~ /^(https?|ftp|file):/ && $2 == "main" && index(s, " " $3 " ") {print $1; exit}' <<<"$all")
  while [ "${uri%/}" != "$uri" ]; do uri=${uri%/}; done
  [ -z "$uri" ] || echo "$uri"
}

# apt_conf KEY: the value apt's configuration gives KEY (empty when unset).
apt_conf() { local V=""; eval "$(apt-config shell V "$1" 2>/dev/null)"; printf '%s' "$V"; }

# curl_proxy URL: sets CURL_PROXY to curl's arguments for reaching URL through the
# proxy apt would use: Acquire::http::Proxy::HOST, else the output of
# Acquire::http::Proxy-Auto-Detect, else Acquire::http::Proxy ("DIRECT": none); for
# https, each Acquire::https:: setting first, falling back to the http one, as apt
# does. When apt sets none, curl gets no argument and, like apt, follows
# http_proxy / https_proxy / no_proxy from the environment.
curl_proxy() {
  local url=$1 host p="" cmd="" sc schemes
  CURL_PROXY=()
  case $url in http://*) schemes=http ;; https://*) schemes="https http" ;; *) return 0 ;; esac
  host=${url#*://}; host=${host%%/*}; host=${host##*@}; host=${host%:*}
  for sc in $schemes; do p=$(apt_conf "Acquire::$sc::Proxy::$host"); [ -z "$p" ] || break; done
  if [ -z "$p" ]; then
    for sc in $schemes; do cmd=$(apt_conf "Acquire::$sc::Proxy-Auto-Detect"); [ -z "$cmd" ] || break; done
    if [ -n "$cmd" ] && [ -x "$cmd" ]; then p=$("$cmd" "$url" 2>/dev/null) || p=""; p=${p%%$'\n'*}; fi
  fi
  if [ -z "$p" ]; then
    for sc in $schemes; do p=$(apt_conf "Acquire::$sc::Proxy"); [ -z "$p" ] || break; done
  fi
  case $p in
    "") ;;
    DIRECT) CURL_PROXY=(--noproxy '*') ;;
    *) CURL_PROXY=(--proxy "$p") ;;
  esac
}

# download URL FILE: URL saved as FILE, through apt's proxy; curl's error on stderr.
download() {
  curl_proxy "$1"
  curl -fsS --retry 2 --connect-timeout 20 ${CURL_PROXY[@]+"${CURL_PROXY[@]}"} -o "$2" "$1"
}

# Sets DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (empty: none configured) from apt's
# sources, unless ISMAIL_DEBIAN_MIRROR / ISMAIL_DEBIAN_SECURITY_MIRROR name them.
find_archives() {
  DEBIAN_MIRROR=${ISMAIL_DEBIAN_MIRROR:-$(debian_archive main)}
  DEBIAN_SECURITY_MIRROR=${ISMAIL_DEBIAN_SECURITY_MIRROR:-$(debian_archive security)}
  [ -n "$DEBIAN_MIRROR" ] ||
    die "apt's sources name no Debian archive (an entry with component main for this release, e.g. in /etc/apt/sources.list.d/debian.sources), so there is nowhere to fetch Debian 13's openssl source from; add one or set ISMAIL_DEBIAN_MIRROR to a Debian mirror's URL"
}

if [ "$MODE" = --print-archives ]; then
  find_archives
  print_archive() {   # NAME URL: "NAME URL" (or "NAME none"), then "NAME-proxy ARGS" (or "-")
    echo "$1 ${2:-none}"
    [ -z "$2" ] || { curl_proxy "$2"; echo "$1-proxy ${CURL_PROXY[*]:--}"; }
  }
  print_archive main "$DEBIAN_MIRROR"
  print_archive security "$DEBIAN_SECURITY_MIRROR"
  exit 0
fi

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

# Downloads go to the cache; a user who cannot write there still gets the
# version check (in a temporary folder, starting from the cache's verified
# indexes and sources) and is asked for root only to build.
WORK="$CACHE/src"
if mkdir -p "$WORK" 2>/dev/null && [ -w "$WORK" ]; then
  DL="$WORK"
else
  DL=$(mktemp -d); trap 'rm -rf "$DL"' EXIT
  [ -d "$WORK/debian-trixie" ] && cp -r "$WORK/debian-trixie" "$DL/"
fi
IDX="$DL/debian-trixie"

# ---- OpenSSL: the newest source of package openssl in Debian 13 trixie and trixie-security.
#
# refresh_index NAME ARCHIVE SUITE: $IDX/NAME/Sources, the suite's main source index,
# checked against the Release file whose signature gpgv checks with Debian's
# archive keyring. Without network, the last verified copy is used.
refresh_index() {
  local name=$1 archive=$2 suite=$3 d="$IDX/$1" why="" want until
  mkdir -p "$d"
  if ! download "$archive/dists/$suite/InRelease" "$d/InRelease.new" 2>"$d/err"; then
    why="could not download $archive/dists/$suite/InRelease: $(tail -1 "$d/err")"
  elif ! gpgv --keyring "$KEYRING" --output "$d/Release.new" "$d/InRelease.new" >/dev/null 2>"$d/err"; then
    why="the signature of $archive/dists/$suite/InRelease does not verify with $KEYRING"
  elif ! grep -qx "Codename: $suite" "$d/Release.new"; then
    why="$archive/dists/$suite/InRelease is not the Release file of $suite"
  elif until=$(sed -n 's/^Valid-Until: //p' "$d/Release.new") && [ -n "$until" ] && [ "$(date -d "$until" +%s)" -lt "$(date +%s)" ]; then
    why="$archive/dists/$suite/InRelease expired on $until (a stale mirror?)"
  else
    want=$(awk '/^SHA256:/{s=1;next} /^[^ ]/{s=0} s && $3=="main/source/Sources.xz"{print $1}' "$d/Release.new")
    if [ -z "$want" ]; then
      why="$archive/dists/$suite/InRelease lists no main/source/Sources.xz"
    elif ! { [ -f "$d/Sources.xz" ] && echo "$want  $d/Sources.xz" | sha256sum -c --quiet - >/dev/null 2>&1; }; then
      if ! download "$archive/dists/$suite/main/source/Sources.xz" "$d/Sources.xz.new" 2>"$d/err"; then
        why="could not download $archive/dists/$suite/main/source/Sources.xz: $(tail -1 "$d/err")"
      elif ! echo "$want  $d/Sources.xz.new" | sha256sum -c --quiet - >/dev/null 2>&1; then
        why="$archive/dists/$suite/main/source/Sources.xz does not match the SHA-256 in its signed Release file"
      else
        mv "$d/Sources.xz.new" "$d/Sources.xz"
        xz -dc "$d/Sources.xz" > "$d/Sources.new" && mv "$d/Sources.new" "$d/Sources"
      fi
    fi
  fi
  rm -f "$d/InRelease.new" "$d/Sources.xz.new" "$d/err"
  if [ -z "$why" ]; then
    mv "$d/Release.new" "$d/Release"
    [ -f "$d/Sources" ] || xz -dc "$d/Sources.xz" > "$d/Sources"
  elif [ -f "$d/Sources" ] && [ -f "$d/Release" ]; then
    rm -f "$d/Release.new"
    warn "$why; using the index verified on $(sed -n 's/^Date: //p' "$d/Release")"
  else
    rm -f "$d/Release.new"
    die "cannot read Debian's list of source packages for $suite: $why. Check network access to $archive (the archive apt's sources name; or set ISMAIL_DEBIAN_MIRROR / ISMAIL_DEBIAN_SECURITY_MIRROR), apt's proxy setting (apt-config dump | grep -i proxy) and that package debian-archive-keyring is installed."
  fi
}

# openssl_stanzas: one line per file of each openssl source in the indexes:
# "version url sha256 name" (url is the folder holding the file).
openssl_stanzas() {
  local name archive
  for name in "${INDEXES[@]}"; do
    [ "$name" = security ] && archive=$DEBIAN_SECURITY_MIRROR || archive=$DEBIAN_MIRROR
    awk -v base="$archive" 'BEGIN { RS = ""; FS = "\n" }
      $1 == "Package: openssl" {
        v = ""; dir = ""; n = 0; s = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Version: /) v = substr($i, 10)
          else if ($i ~ /^Directory: /) dir = substr($i, 12)
          else if ($i ~ /^Checksums-Sha256:/) { s = 1; continue }
          else if ($i ~ /^[^ ]/) s = 0
          if (s) { split($i, f, " "); sha[++n] = f[1]; file[n] = f[3] }
        }
        for (j = 1; j <= n; j++) print v, base "/" dir, sha[j], file[j]
      }' "$IDX/$name/Sources"
  done
}

# have FILE SHA256: FILE is in the cache (or $DL) with that SHA-256.
have() {
  local f
  for f in "$WORK/$1" "$DL/$1"; do
    [ -f "$f" ] && echo "$2  $f" | sha256sum -c --quiet - >/dev/null 2>&1 && return 0
  done
  return 1
}

# fetch_verified URL FILE SHA256: FILE in $DL, downloaded unless already there
# with that SHA-256. On failure sets WHY.
fetch_verified() {
  local url=$1 f="$DL/$2" sha=$3
  if have "$2" "$sha"; then return 0; fi
  if ! download "$url" "$f.part" 2>"$f.err"; then
    WHY="$url: $(tail -1 "$f.err")"; rm -f "$f.part" "$f.err"; return 1
  fi
  rm -f "$f.err"
  if ! echo "$sha  $f.part" | sha256sum -c --quiet - >/dev/null 2>&1; then
    WHY="$url does not match the SHA-256 in Debian's source index"; rm -f "$f.part"; return 1
  fi
  mv "$f.part" "$f"
}

# Sets OSSL_V to the newest openssl source whose files can all be fetched and
# verified; a newer one that cannot is named in a warning.
resolve_openssl() {
  find_archives
  INDEXES=(main)
  if [ -n "$DEBIAN_SECURITY_MIRROR" ]; then
    INDEXES=(security main)
    refresh_index security "$DEBIAN_SECURITY_MIRROR" trixie-security
  else
    warn "apt's sources name no Debian security archive (suite ${OS_CODENAME:-<release>}-security), so trixie-security is not consulted and the OpenSSL built may lack Debian's latest security fixes; add the entry or set ISMAIL_DEBIAN_SECURITY_MIRROR"
  fi
  refresh_index main "$DEBIAN_MIRROR" trixie
  local lines versions=() v i j t url sha name ok tried=""
  WHY="no version of the 3.5 series is listed"; WHY_FIRST=""
  lines=$(openssl_stanzas)
  [ -n "$lines" ] || die "Debian's trixie source indexes list no package openssl; check $IDX/*/Sources"
  mapfile -t versions < <(awk '{print $1}' <<<"$lines" | awk '!seen[$0]++')
  for ((i = 1; i < ${#versions[@]}; i++)); do   # newest first, in Debian's version order
    for ((j = i; j > 0; j--)); do
      dpkg --compare-versions "${versions[j-1]}" lt "${versions[j]}" || break
      t=${versions[j]}; versions[j]=${versions[j-1]}; versions[j-1]=$t
    done
  done
  for v in "${versions[@]}"; do
    case "$v" in 3.5.*) ;; *) warn "skipping openssl $v from trixie: not the 3.5 LTS series"; continue ;; esac
    ok=1
    # The same version may be listed in both suites: files are taken from the first that has them.
    while read -r _ url sha name; do
      have "$name" "$sha" && continue
      WHY=""
      if ! fetch_verified "$url/$name" "$name" "$sha"; then
        local alt
        alt=$(awk -v v="$v" -v n="$name" -v u="$url" '$1 == v && $4 == n && $2 != u {print $2, $3; exit}' <<<"$lines")
        if [ -z "$alt" ] || ! fetch_verified "${alt% *}/$name" "$name" "${alt#* }"; then ok=0; break; fi
      fi
    done < <(awk -v v="$v" '$1 == v' <<<"$lines" | awk '!seen[$4]++')
    if [ "$ok" = 1 ]; then
      OSSL_V=$v
      [ -z "$tried" ] || warn "Debian lists openssl $tried, but the files could not be fetched ($WHY_FIRST); using $v, the newest that could"
      return 0
    fi
    [ -n "$tried" ] || WHY_FIRST=$WHY
    tried="${tried:+$tried, }$v"
  done
  die "could not fetch the source package openssl (3.5, Debian 13 trixie / trixie-security) from Debian's archive: tried ${tried:-nothing}; last error: $WHY. Check network access to $DEBIAN_MIRROR${DEBIAN_SECURITY_MIRROR:+ and $DEBIAN_SECURITY_MIRROR} (the archives apt's sources name; or set ISMAIL_DEBIAN_MIRROR / ISMAIL_DEBIAN_SECURITY_MIRROR to a Debian mirror) and apt's proxy setting (apt-config dump | grep -i proxy)."
}

# unpack_openssl DIR: the Debian source package (upstream tarball plus Debian's
# patches, security fixes included) unpacked into DIR.
unpack_openssl() {
  rm -rf "$1"
  dpkg-source -x "$DL/openssl_${OSSL_V#*:}.dsc" "$1" >"$1.log" 2>&1 ||
    die "dpkg-source could not unpack openssl $OSSL_V (see $1.log)"
  rm -f "$1.log"
}

# build_step LOG CMD...: runs CMD, output to LOG; on failure names the log.
build_step() {
  local logf=$1; shift
  "$@" >>"$logf" 2>&1 || die "building openssl $OSSL_V failed at: $* (see $logf)"
}

resolve_openssl
OSSL_UP=${OSSL_V%%-*}
# How each OpenSSL is configured; a cached build made another way is rebuilt.
# no-module: the legacy provider (RC2 and the other algorithms of old PKCS#12
# files) is built into the static libcrypto, where OSSL_PROVIDER_load finds it,
# instead of a legacy.dll that nothing would install.
OSSL_MINGW_CONF="mingw64 no-shared no-module no-tests"
OSSL_NATIVE_CONF="linux-x86_64 shared no-tests"
# complete PREFIX RECIPE: PREFIX was built to RECIPE.
complete() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$2" ]; }

if [ "$MODE" = --native-openssl ]; then
  NPREFIX="$CACHE/x86_64-linux-gnu/openssl-$OSSL_V"
  if ! complete "$NPREFIX" "openssl: $OSSL_NATIVE_CONF"; then
    need_root "native OpenSSL build"
    [ "$DL" = "$WORK" ] || die "cannot write to $WORK"
    log "building OpenSSL $OSSL_V (shared, x86_64 Linux) into $NPREFIX"
    rm -rf "$NPREFIX"; mkdir -p "$NPREFIX"
    B="$WORK/openssl-$OSSL_UP-x86_64-linux-gnu"; L="$WORK/openssl-$OSSL_V-x86_64-linux-gnu.log"; : > "$L"
    unpack_openssl "$B"
    ( cd "$B" &&
      build_step "$L" ./Configure $OSSL_NATIVE_CONF --prefix="$NPREFIX" --libdir=lib "-Wl,-rpath,$NPREFIX/lib" &&
      build_step "$L" make -j"$(nproc)" build_libs &&   # one target at a time: with -j, make
      build_step "$L" make -j"$(nproc)" build_programs && # builds both at once and they race on apps/lib
      build_step "$L" make install_sw )
    rm -rf "$B" "$L"
    echo "openssl: $OSSL_NATIVE_CONF" > "$NPREFIX/.complete"
    log "native OpenSSL ready in $NPREFIX"
  fi
  echo "$NPREFIX"
  exit 0
fi

ensure_deb_src
# Versions are the newest source versions Debian offers (the native -dev packages
# may lag a security upload behind; the source of that exact version is often gone).
SQL_V=$(srcver sqlite3); CPPU_V=$(srcver cpputest)
[ -n "$SQL_V" ] && [ -n "$CPPU_V" ] || { echo "bootstrap: apt-cache showsrc found no sqlite3/cpputest source; check the deb-src entries" >&2; exit 1; }
KEY="openssl-${OSSL_V}_sqlite-${SQL_V}_cpputest-${CPPU_V}"
PREFIX="$CACHE/$TRIPLE/$KEY"

# openssl.exe: the command-line program of the very OpenSSL the programs link.
# The source is configured as for the libraries (same Debian source, same
# Configure line, same prefix), only the programs' own objects are compiled,
# and they are linked with $PREFIX/lib's libssl.a and libcrypto.a: the same
# library files the programs are linked with (make -o: take them as they are,
# rather than building the libraries a second time). Built in a folder of its
# own and moved into $PREFIX/bin at the end, so that two builds at once, or
# one stopped half-way, never leave a partial program there. Prints its path.
# ISMAIL_CLI_BUILD_DIR reuses a build folder left by an interrupted run.
cli_exe() {
  local exe="$PREFIX/bin/openssl.exe" recipe="openssl.exe: $OSSL_MINGW_CONF $OSSL_V"
  if [ ! -s "$exe" ] || [ "$(cat "$exe.complete" 2>/dev/null)" != "$recipe" ]; then
    need_root "the mingw openssl.exe build"
    [ "$DL" = "$WORK" ] || die "cannot write to $WORK"
    log "building openssl.exe (OpenSSL $OSSL_V, $TRIPLE) into $PREFIX/bin"
    local B L
    if [ -n "${ISMAIL_CLI_BUILD_DIR:-}" ] && [ -f "$ISMAIL_CLI_BUILD_DIR/src/configdata.pm" ]; then
      B=$ISMAIL_CLI_BUILD_DIR; L="$B.log"
    else
      B=$(mktemp -d "$WORK/openssl-cli-$OSSL_UP-$TRIPLE.XXXXXX"); L="$B.log"; : > "$L"
      unpack_openssl "$B/src"
      ( cd "$B/src" &&
        build_step "$L" ./Configure $OSSL_MINGW_CONF --cross-compile-prefix=$TRIPLE- --prefix="$PREFIX" --libdir=lib )
    fi
    ( cd "$B/src" &&
      cp "$PREFIX/lib/libcrypto.a" "$PREFIX/lib/libssl.a" . &&
      build_step "$L" make -j"$(nproc)" build_generated &&
      build_step "$L" make -j"$(nproc)" -o libcrypto.a -o libssl.a apps/openssl.exe &&
      build_step "$L" $TRIPLE-strip apps/openssl.exe )
    mkdir -p "$PREFIX/bin"
    cp "$B/src/apps/openssl.exe" "$exe.new.$$" && mv -f "$exe.new.$$" "$exe"
    echo "$recipe" > "$exe.complete"
    rm -rf "$B" "$L"
    log "openssl.exe ready: $exe"
  fi
  echo "$exe"
}

if complete "$PREFIX" "openssl: $OSSL_MINGW_CONF"; then
  [ "$MODE" = --print-prefix ] && echo "$PREFIX"
  [ "$MODE" = --mingw-openssl-cli ] && { echo "$PREFIX"; cli_exe; }
  exit 0
fi

need_root "mingw dependency build"
[ "$DL" = "$WORK" ] || die "cannot write to $WORK"
rm -rf "$PREFIX"; mkdir -p "$PREFIX"
cd "$WORK"
fetch() { # $1 source package, $2 glob of the orig tarball, $3 version
  ls $2 >/dev/null 2>&1 || apt-get source --download-only -qq "$1=$3" >/dev/null 2>&1 || true
  ls $2 >/dev/null 2>&1 || { echo "bootstrap: could not download the source of $1 $3 from Debian's archive" >&2; exit 1; }
}

SQL_UP=${SQL_V%%-*}; CPPU_UP=${CPPU_V%%-*}
log "building OpenSSL $OSSL_V, SQLite $SQL_UP, CppUTest $CPPU_UP for $TRIPLE into $PREFIX"

# OpenSSL
B="$WORK/openssl-$OSSL_UP-$TRIPLE"; L="$WORK/openssl-$OSSL_V-$TRIPLE.log"; : > "$L"
unpack_openssl "$B"
( cd "$B" &&
  build_step "$L" ./Configure $OSSL_MINGW_CONF --cross-compile-prefix=$TRIPLE- --prefix="$PREFIX" --libdir=lib &&
  build_step "$L" make -j"$(nproc)" build_libs &&
  build_step "$L" make install_dev )
rm -rf "$B" "$L"

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

echo "openssl: $OSSL_MINGW_CONF" > "$PREFIX/.complete"
log "mingw dependencies ready in $PREFIX"
[ "$MODE" = --print-prefix ] && echo "$PREFIX"
[ "$MODE" = --mingw-openssl-cli ] && { echo "$PREFIX"; cli_exe; }
exit 0
