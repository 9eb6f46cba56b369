#!/usr/bin/env bash
# scripts/bench-tls.sh: TLS handshakes of ISMail beside nginx (mail module),
# Dovecot, Postfix and stunnel4, measured side by side in one run, and the
# other targets of issue 10 (delayed ACKs, memory per idle session and over a
# churn soak, two-core scaling, certificate swap under load). Appends dated
# tables to docs/performance.md. Run by scripts/bench.sh (make bench).
#   scripts/bench-tls.sh <linux build dir> [quick|full]
# quick (default) takes a few minutes; full (BENCH=full make bench) about
# an hour: 5 repetitions of 3 s per cell (sequential and paired) and a 10-minute soak.
# Needs root (the peers run as root from temporary configurations) and, for
# the figures to mean what they say, 2 cores: servers on CPU 0, the load
# generator on CPU 1.
set -uo pipefail
B=$(cd "${1:?linux build dir}" && pwd)
RUN=${2:-quick}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/docs/performance.md}
LG=$B/tests/bench/ismail-loadgen
CTL=$B/ctl/ismailctl
for f in "$LG" "$CTL" "$B/service/ismail-service"; do
  [ -x "$f" ] || { echo "bench: $f is missing; build first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: the TLS comparison needs root (the peers run from temporary configurations)" >&2; exit 1; }

case $RUN in
  quick) REPS=2 DACK_REPS=4 DUR=1 WARM=0.25 SOAK=30 SOAK_WARM=3 SWAP_DUR=6 SPEED_SECS=1 DACK_MODES="imaps smtp" PROF_SECS=3 ;;
  full) REPS=5 DACK_REPS=5 DUR=3 WARM=0.5 SOAK=600 SOAK_WARM=30 SWAP_DUR=10 SPEED_SECS=3 DACK_MODES="imaps pop3s smtps imap pop3 smtp" PROF_SECS=10 ;;
  *) echo "bench: run kind quick or full, not $RUN" >&2; exit 2 ;;
esac
CONNS=16 HOLD=10000 SWAPS=20
if [ "$(nproc)" -ge 2 ]; then SRV_CPUS=0 LG_CPUS=1 BOTH_CPUS=0,1; else SRV_CPUS=0 LG_CPUS=0 BOTH_CPUS=0; fi

# 10,000 sessions held open need as many descriptors in the server and the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 10200 ] || HOLD=$(( $(ulimit -n) - 200 ))
BT=$(mktemp -d /tmp/ismail-bench.XXXXXX)
chmod 755 "$BT" # the peers' unprivileged processes read their files here
RES=$BT/results.txt
: > "$RES"
SERVERS_ALL="ismail nginx dovecot postfix stunnel"
# ISMail built against the OpenSSL the MSI bundles, when that build exists.
BX=${BENCH_BUNDLED_BUILD:-$ROOT/build/linux-ossl}
if [ -x "$BX/service/ismail-service" ] && [ -x "$BX/ctl/ismailctl" ]; then
  BX=$(cd "$BX" && pwd); SERVERS_ALL="ismail ismailx nginx dovecot postfix stunnel"
else
  BX=
fi
. "$ROOT/scripts/bench-peers.sh"

cleanup() {
  local s
  for s in $SERVERS_ALL; do [ -n "${PID[$s]:-}" ] && "${s}_stop" 2>/dev/null; done
  if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $BT"; else rm -rf "$BT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
lg() { taskset -c "$LG_CPUS" "$LG" "$@"; }
# rec TAGS... -- LOADGEN ARGS: one measurement, appended to $RES as "TAGS loadgen-output".
rec() {
  local tags=() out
  while [ "$1" != -- ]; do tags+=("$1"); shift; done; shift
  out=$("$@" 2>>"$BT/loadgen.err" | tail -1)
  [ -n "$out" ] || out="ok=0 fail=-1"
  echo "${tags[*]} $out" >> "$RES"
  echo "$out"
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

log "bench ($RUN) in $BT; servers on CPU $SRV_CPUS, load generator on CPU $LG_CPUS"
peers_install || exit 1

# ---- certificates: one ECDSA P-256 and one RSA-2048 for every server; a
# second ECDSA one for the swaps ----
mkdir -p "$BT/cert"
mkcert() { # NAME ALGOPTS...
  local n=$1; shift
  openssl req -x509 -newkey "$@" -nodes -keyout "$BT/cert/$n.key" -out "$BT/cert/$n.crt" -days 30 \
    -subj /CN=mail.bench.test -addext subjectAltName=DNS:mail.bench.test 2>/dev/null
  chmod 644 "$BT/cert/$n.crt"; chmod 640 "$BT/cert/$n.key"
  FP[$n]=$(openssl x509 -in "$BT/cert/$n.crt" -noout -fingerprint -sha256 | cut -d= -f2)
}
declare -A FP
mkcert ecdsa ec -pkeyopt ec_paramgen_curve:P-256
mkcert ecdsa2 ec -pkeyopt ec_paramgen_curve:P-256
mkcert rsa rsa:2048
# The login processes of Dovecot and Postfix's smtpd read the key as root
# before dropping privileges; the others run as root.

# ---- the crypto ceiling: one core's signatures plus the server's two X25519
# operations (generating its key share and deriving the shared secret).
# Measured again at every repetition (the machine's speed drifts when it is
# shared), and the median taken. ----
speed() { # KEY REP: openssl speed on the servers' CPU, recorded
  local alg=rsa2048; [ "$1" = ecdsa ] && alg=ecdsap256
  taskset -c "$SRV_CPUS" openssl speed -seconds "$SPEED_SECS" $alg ecdhx25519 > "$BT/speed.txt" 2>/dev/null
  local sign x
  if [ "$1" = ecdsa ]; then sign=$(awk '/ecdsa \(nistp256\)/{print $(NF-1)}' "$BT/speed.txt")
  else sign=$(awk '/^rsa 2048 bits/{print $(NF-1)}' "$BT/speed.txt"); fi
  x=$(awk '/ecdh \(X25519\)/{print $NF}' "$BT/speed.txt")
  local ceil; ceil=$(awk -v s="$sign" -v x="$x" 'BEGIN{ if (s>0 && x>0) printf "%.0f", 1/(1/s + 2/x); else print 0 }')
  echo "speed key=$1 rep=$2 sign=$sign x25519=$x ceil=$ceil load=$(cut -d' ' -f1 /proc/loadavg)" >> "$RES"
  log "openssl speed: $1 sign/s $sign, X25519 op/s $x: ceiling (one signature + two X25519 operations per handshake) $ceil/s"
}

start_all() { # KEY: every server with KEY's certificate; the ones that fail are left out
  local s
  UP=()
  for s in $SERVERS_ALL; do
    if "${s}_start" "$1"; then UP+=("$s"); else log "$s did not start; left out"; echo "down key=$1 server=$s" >> "$RES"; fi
  done
}
stop_all() { local s; for s in $SERVERS_ALL; do [ -n "${PID[$s]:-}" ] && "${s}_stop"; done; }

# cell KEY SERVER MODE REP [extra loadgen args]: one measured run.
cell() {
  local key=$1 s=$2 m=$3 rep=$4; shift 4
  rec section=rate key="$key" server="$s" mode="$m" rep="$rep" -- \
    lg --port "${PORT[$s:$m]}" --mode "$m" -c $CONNS -d "$DUR" --warmup "$WARM" --server-pid "${PID[$s]}" \
    --expect-fp "${FP[$key]}" "$@" >/dev/null
}

for key in ecdsa rsa; do
  log "== $key: starting ISMail and the peers"
  start_all "$key"
  # Which server serves which mode: a short probe (a server without the mode, or failing it, is left out).
  declare -A OK=()
  for s in "${UP[@]}"; do
    for m in $MODES; do
      [ -n "${PORT[$s:$m]:-}" ] || continue
      if lg --port "${PORT[$s:$m]}" --mode "$m" -n 4 -c 2 --timeout 5 --expect-fp "${FP[$key]}" > "$BT/probe.txt" 2>&1; then
        OK[$s:$m]=1
        echo "probe key=$key server=$s mode=$m $(tail -1 "$BT/probe.txt")" >> "$RES"
      else
        log "$s $m: probe failed: $(tail -1 "$BT/probe.txt")"
        echo "probefail key=$key server=$s mode=$m" >> "$RES"
      fi
    done
  done
  log "handshake rate: $REPS x $DUR s per cell, $CONNS connections"
  for ((rep = 1; rep <= REPS; rep++)); do
    speed "$key" "$rep"
    # Interleaved: every mode and server once per repetition, the servers' order rotated.
    order=("${UP[@]}")
    for ((i = 0; i < rep - 1; i++)); do order=("${order[@]:1}" "${order[0]}"); done
    for m in $MODES; do
      for s in "${order[@]}"; do
        [ -n "${OK[$s:$m]:-}" ] || continue
        cell "$key" "$s" "$m" "$rep"
      done
    done
    log "repetition $rep done"
  done

  # Paired: ISMail and one peer at the same time, both servers on CPU 0 and
  # both load generators on CPU 1, so the two share every moment of the
  # machine (a shared machine's speed drifts by a third within minutes); each
  # one's per-core rate from its own CPU. The targets use these ratios.
  log "paired: ISMail and each peer at the same time, $REPS x $DUR s"
  for ((rep = 1; rep <= REPS; rep++)); do
    for m in $MODES; do
      for o in ismail ismailx; do
        [ -n "${OK[$o:$m]:-}" ] || continue
        for s in "${UP[@]}"; do
          case $s in ismail | ismailx) continue ;; esac
          [ -n "${OK[$s:$m]:-}" ] || continue
          both=()
          for x in "$o" "$s"; do
            rec section=pair key="$key" server="$x" mode="$m" rep="$rep" ours="$o" peer="$s" -- \
              lg --port "${PORT[$x:$m]}" --mode "$m" -c $CONNS -d "$DUR" --warmup "$WARM" --server-pid "${PID[$x]}" \
              --expect-fp "${FP[$key]}" >/dev/null &
            both+=($!)
          done
          wait "${both[@]}"
        done
      done
    done
  done

  if [ "$key" = ecdsa ]; then
    # The load generator's fingerprint check must be able to fail: a wrong
    # expected fingerprint makes every session fail.
    bad=$(printf '%064d' 0)
    s=nginx; [ -n "${OK[nginx:imaps]:-}" ] || s=ismail
    rec section=badfp key="$key" server="$s" mode=imaps -- \
      lg --port "${PORT[$s:imaps]}" --mode imaps -n 200 -c $CONNS --expect-fp "$bad" >/dev/null

    if [ -n "${OK[ismail:imaps]:-}" ]; then
      log "delayed ACKs: a default client against a TCP_QUICKACK client (ISMail; nginx to show the test sees a stall)"
      for ((rep = 1; rep <= DACK_REPS; rep++)); do
        for m in $DACK_MODES; do
          for s in ismail nginx; do
            [ -n "${OK[$s:$m]:-}" ] || continue
            [ $s = nginx ] && [ $m != imaps ] && continue
            # The rate: both clients at once, $CONNS connections each, on the
            # load generator's core: they share the same moments of the
            # machine, so the ratio is not blurred by its drift; a client that
            # stalls on delayed ACKs leaves the core to the other and falls behind.
            both=()
            for q in default quickack; do
              a=(); [ $q = quickack ] && a=(--quickack)
              rec section=dack key="$key" server=$s mode="$m" rep="$rep" client=$q c=$CONNS -- \
                lg --port "${PORT[$s:$m]}" --mode "$m" -c $CONNS -d "$DUR" --warmup "$WARM" \
                --expect-fp "${FP[$key]}" "${a[@]}" >/dev/null &
              both+=($!)
            done
            wait "${both[@]}"
            # The latency of one connection, where a stall shows as about 40 ms.
            order=(default quickack); [ $((rep % 2)) = 0 ] && order=(quickack default)
            for q in "${order[@]}"; do
              a=(); [ $q = quickack ] && a=(--quickack)
              rec section=dack key="$key" server=$s mode="$m" rep="$rep" client=$q c=1 -- \
                lg --port "${PORT[$s:$m]}" --mode "$m" -c 1 -d "$DUR" --warmup "$WARM" \
                --server-pid "${PID[$s]}" --expect-fp "${FP[$key]}" "${a[@]}" >/dev/null
            done
          done
        done
      done

      log "memory: $HOLD idle sessions held open; handshakes beside them"
      for s in ismail nginx; do
        [ -n "${OK[$s:imaps]:-}" ] || continue
        rm -f "$BT/held"
        rec section=hold key="$key" server=$s mode=imaps -- \
          lg --port "${PORT[$s:imaps]}" --mode imaps --hold $HOLD --hold-secs "$(awk -v d="$DUR" -v w="$WARM" 'BEGIN{print d+w+1}')" \
          -c 64 --timeout 120 --ready-file "$BT/held" --server-pid "${PID[$s]}" --expect-fp "${FP[$key]}" >/dev/null &
        hp=$!
        i=0; while [ ! -s "$BT/held" ] && [ $i -lt 1200 ] && kill -0 $hp 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
        if [ -s "$BT/held" ]; then
          for m in imaps; do
            rec section=busy key="$key" server=$s mode=$m -- \
              lg --port "${PORT[$s:$m]}" --mode $m -c $CONNS -d "$DUR" --warmup "$WARM" --server-pid "${PID[$s]}" \
              --expect-fp "${FP[$key]}" >/dev/null
          done
        fi
        wait $hp
        # What the server keeps once they are gone: its RSS, polled for up
        # to 5 s (ISMail hands freed memory back about a second after a crowd leaves).
        tree_rss() { local t=0 p; for p in "${PID[$s]}" $(pgrep -P "${PID[$s]}"); do
          t=$((t + $(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $t; }
        i=0; r0=$(tree_rss)
        while [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); r=$(tree_rss); [ "$r" -lt $((r0 * 3 / 4)) ] && break; done
        echo "afterhold key=$key server=$s rss_after_kb=$(tree_rss) waited_ms=$((i * 100))" >> "$RES"
      done

      log "soak: $SOAK s of connect/handshake/close churn (ISMail)"
      rec section=soak key="$key" server=ismail mode=imaps -- \
        lg --port "${PORT[ismail:imaps]}" --mode imaps -c $CONNS -d "$SOAK" --warmup "$SOAK_WARM" --rss-every 1 \
        --server-pid "${PID[ismail]}" --expect-fp "${FP[$key]}" >/dev/null

      log "certificate swaps under load (ISMail)"
      D=$BT/ismail-ecdsa
      swap_to() { # NAME: install that pair the way an administrator's tool would (rename), then reload
        cp "$BT/cert/$1.key" "$D/ssl.key/.swap" && chmod 600 "$D/ssl.key/.swap" && mv -f "$D/ssl.key/.swap" "$D/ssl.key/mail.bench.test.key"
        cp "$BT/cert/$1.crt" "$D/ssl.crt/.swap" && mv -f "$D/ssl.crt/.swap" "$D/ssl.crt/mail.bench.test.crt"
        taskset -c "$SRV_CPUS" "$CTL" --data "$D" reload >/dev/null
      }
      # The swap takes effect at all: serve ecdsa2, then back.
      swap_to ecdsa2; sleep 1
      rec section=swapcheck key="$key" server=ismail mode=imaps cert=ecdsa2 -- \
        lg --port "${PORT[ismail:imaps]}" --mode imaps -n 8 -c 2 --expect-fp "${FP[ecdsa2]}" >/dev/null
      swap_to ecdsa; sleep 1
      for ((rep = 1; rep <= REPS; rep++)); do
        rec section=swap key="$key" server=ismail mode=imaps rep="$rep" phase=steady -- \
          lg --port "${PORT[ismail:imaps]}" --mode imaps -c $CONNS -d "$SWAP_DUR" --warmup "$WARM" \
          --server-pid "${PID[ismail]}" --expect-fp "${FP[ecdsa]}" --expect-fp "${FP[ecdsa2]}" >/dev/null
        applied0=$(grep -c 'applied settings revision' "$D/console.log")
        rec section=swap key="$key" server=ismail mode=imaps rep="$rep" phase=burst -- \
          lg --port "${PORT[ismail:imaps]}" --mode imaps -c $CONNS -d "$SWAP_DUR" --warmup "$WARM" \
          --server-pid "${PID[ismail]}" --expect-fp "${FP[ecdsa]}" --expect-fp "${FP[ecdsa2]}" >/dev/null &
        lgpid=$!
        sleep "$WARM"
        gap=$(awk -v d="$SWAP_DUR" -v n=$SWAPS 'BEGIN{printf "%.3f", d/(n+1)}')
        # The renewal tool (cp, chmod, mv, ismailctl) runs on the server's
        # core, as it would on the server: its cost counts against the service,
        # and it does not take the load generator's core.
        (
          taskset -p -c "$SRV_CPUS" $BASHPID >/dev/null
          for ((i = 1; i <= SWAPS; i++)); do
            sleep "$gap"
            [ $((i % 2)) = 1 ] && swap_to ecdsa2 || swap_to ecdsa
          done
        )
        wait $lgpid
        sleep 0.5
        echo "swapapplied rep=$rep applied=$(($(grep -c 'applied settings revision' "$D/console.log") - applied0)) swaps=$SWAPS" >> "$RES"
      done
      rec section=swapcheck key="$key" server=ismail mode=imaps cert=ecdsa -- \
        lg --port "${PORT[ismail:imaps]}" --mode imaps -n 8 -c 2 --expect-fp "${FP[ecdsa]}" >/dev/null
    fi
  fi

  if [ -n "${OK[ismail:imaps]:-}" ] && [ "$SRV_CPUS" != "$BOTH_CPUS" ]; then
    log "scaling: one core against both cores (ISMail)"
    # The service starts one worker per processor it may use: the one-core
    # figures come from the pinned instance above (one worker), the two-core
    # ones from a second instance started on both cores (two workers).
    if SRV_CPUS=$BOTH_CPUS ismail_start "$key" ismail2; then
      for ((rep = 1; rep <= REPS; rep++)); do
        rec section=scale key="$key" server=ismail mode=imaps rep="$rep" cores=1 -- \
          lg --port "${PORT[ismail:imaps]}" --mode imaps -c $CONNS -d "$DUR" --warmup "$WARM" \
          --server-pid "${PID[ismail]}" --expect-fp "${FP[$key]}" >/dev/null
        rec section=scale key="$key" server=ismail2 mode=imaps rep="$rep" cores=2 -- \
          taskset -c "$BOTH_CPUS" "$LG" --port "${PORT[ismail2:imaps]}" --mode imaps -c $CONNS -t 2 -d "$DUR" --warmup "$WARM" \
          --server-pid "${PID[ismail2]}" --expect-fp "${FP[$key]}" >/dev/null
      done
      stop_pid "${PID[ismail2]}"; PID[ismail2]=
      echo "scaleworkers key=$key one=$(sed -n 's/.* \([0-9][0-9]*\) worker threads serving.*/\1/p' "$BT/ismail-$key/console.log" | tail -1) two=$(sed -n 's/.* \([0-9][0-9]*\) worker threads serving.*/\1/p' "$BT/ismail2-$key/console.log" | tail -1)" >> "$RES"
    fi
  fi

  # Where ISMail's time goes: a CPU profile of the service under the imaps load.
  if [ -n "${OK[ismail:imaps]:-}" ] && command -v perf >/dev/null; then
    log "profile of ismail-service ($key, imaps)"
    perf record -e cpu-clock -F 999 -p "${PID[ismail]}" -o "$BT/perf-$key.data" -- sleep "$PROF_SECS" >/dev/null 2>&1 &
    pp=$!
    sleep 0.2
    rec section=profiled key="$key" server=ismail mode=imaps -- \
      lg --port "${PORT[ismail:imaps]}" --mode imaps -c $CONNS -d "$(awk -v d="$PROF_SECS" 'BEGIN{print d-0.5}')" --warmup 0.1 \
      --server-pid "${PID[ismail]}" --expect-fp "${FP[$key]}" >/dev/null
    wait $pp
    # libcrypto's internal functions have no symbols without Debian's debug
    # packages: they show as addresses (its curve25519, P-256 and SHA-2 code).
    { perf report -i "$BT/perf-$key.data" --no-children --sort dso --stdio 2>/dev/null | grep '%' | grep -v '^#' | head -8
      echo "-- top named symbols:"
      perf report -i "$BT/perf-$key.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep '%' | grep -v '^#' |
        grep -v '\] 0x0' | head -20
    } > "$BT/profile-$key.txt"
  fi

  stop_all
  # The service's own count of handshakes against the load generator's.
  served=$(ismail_served "$key")
  workers=$(sed -n 's/.* \([0-9][0-9]*\) worker threads serving.*/\1/p' "$BT/ismail-$key/console.log" | tail -1)
  echo "served key=$key served=${served:-none} workers=${workers:-1}" >> "$RES"
  if [ -n "$BX" ]; then
    echo "served key=$key server=ismailx served=$(ismail_served "$key" ismailx || echo none)" >> "$RES"
  fi
  log "ISMail logged ${served:-no} TLS handshakes served ($key)"
  unset OK
done

log "writing the tables"
machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
versions="ISMail $(sed -n 's/^#define ISM_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/resources/version.h" 2>/dev/null) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+changes')), $(openssl version | cut -d' ' -f1-2)"
if [ -n "$BX" ]; then
  xlib=$(ldd "$BX/service/ismail-service" | awk '/libcrypto/{print $3}')
  versions+="; ISMail (MSI's OpenSSL) linked with $(LD_LIBRARY_PATH=$(dirname "$xlib") "$(dirname "$xlib")/../bin/openssl" version 2>/dev/null | cut -d' ' -f1-2) ($xlib)"
fi
for p in nginx dovecot-core postfix stunnel4; do versions+=", $p $(dpkg-query -W -f='${Version}' $p 2>/dev/null)"; done
load="$(cut -d' ' -f1-3 /proc/loadavg)"
bash "$ROOT/scripts/bench-report.sh" "$RES" "$BT" "$RUN" "$machine" "$versions" "$load" "$REPS" "$DUR" "$CONNS" "$HOLD" "$SOAK" "$SWAPS" "$SWAP_DUR" > "$BT/report.md"
rc=$?
cat "$BT/report.md" >> "$OUT"
cat "$BT/report.md"
mkdir -p "$B/bench-last" && cp "$RES" "$BT/report.md" "$BT"/profile-*.txt "$B/bench-last/" 2>/dev/null
echo "written to $OUT (raw results in $B/bench-last)"
exit $rc
