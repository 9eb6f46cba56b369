# scripts/bench-peers.sh: the servers make bench measures side by side, each
# run in the foreground from a configuration in a temporary folder, on free
# loopback ports, with the benchmark's certificate. Nothing of the system's
# own (configuration, ports, services) is read or changed. Sourced by
# scripts/bench-tls.sh, which sets:
#   BT        the temporary folder       B   the ISMail build folder
#   LG        the load generator         SRV_CPUS  taskset list for servers
# Each server NAME has NAME_start KEY (KEY: ecdsa or rsa; certificate in
# $BT/cert/KEY.crt and .key), NAME_stop, and fills PORT[NAME:MODE] for the
# modes it serves and PID[NAME] (the root of its process tree).

declare -A PORT PID
PEER_PKGS="nginx libnginx-mod-mail dovecot-imapd dovecot-pop3d postfix stunnel4"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# peers_install: Debian's packages for the peers, if missing. The packages'
# own services are kept from starting (policy-rc.d) so that no system port
# is taken; postfix is installed unconfigured.
peers_install() {
  local missing=() p
  for p in $PEER_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing the peers: ${missing[*]}"
  local prc=/usr/sbin/policy-rc.d own_prc=
  if [ ! -e $prc ]; then
    printf '#!/bin/sh\n# make bench: no service starts during its package installs\nexit 101\n' > $prc
    chmod 755 $prc; own_prc=1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    > "$BT/apt.log" 2>&1
  local rc=$?
  [ -n "$own_prc" ] && rm -f $prc
  [ $rc -eq 0 ] || { tail -20 "$BT/apt.log" >&2; echo "bench: cannot install the peers" >&2; return 1; }
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# stop_pid PID: TERM, then KILL after 10 s.
stop_pid() {
  local p=$1 i
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}

MODES="imaps pop3s smtps imap pop3 smtp"

# ---- ISMail ----
# ismail_start KEY [NAME BUILD]: the service of BUILD (default $B) as server
# NAME (default ismail), on its own ports and data folder.
ismail_start() {
  local key=$1 name=${2:-ismail} bld=${3:-$B} d m
  d=$BT/$name-$key
  rm -rf "$d"; mkdir -p "$d/ssl.crt" "$d/ssl.key"; chmod 700 "$d/ssl.key"
  cp "$BT/cert/$key.crt" "$d/ssl.crt/mail.bench.test.crt"
  install -m 600 "$BT/cert/$key.key" "$d/ssl.key/mail.bench.test.key"
  # The load generator opens thousands of sessions from 127.0.0.1: no per-address cap.
  local -a set=(listen.address 127.0.0.1 server.hostname mail.bench.test smtp.tls.incoming on pop.tls.incoming on
    imap.tls.incoming on limits.connections_per_ip 0)
  for m in smtp:smtp.port submission:submission.port smtps:smtps.port pop3:pop.port pop3s:pops.port \
    imap:imap.port imaps:imaps.port http:http.port https:https.port; do
    local p; p=$(free_port); set+=("${m#*:}" "$p")
    case ${m%%:*} in smtp | smtps | pop3 | pop3s | imap | imaps) PORT[$name:${m%%:*}]=$p ;; esac
  done
  "$bld/ctl/ismailctl" --data "$d" set "${set[@]}" >/dev/null || return 1
  taskset -c "$SRV_CPUS" "$bld/service/ismail-service" --data "$d" >"$d/console.log" 2>&1 &
  PID[$name]=$!
  wait_port "${PORT[$name:smtp]}" || { echo "bench: ismail-service ($bld) did not start:" >&2; tail -n 5 "$d/console.log" >&2; return 1; }
  # Implicit-TLS ports open once TLS is up.
  wait_port "${PORT[$name:smtps]}" 10 || true
}
ismail_stop() { stop_pid "${PID[ismail]}"; PID[ismail]=; }
# ismail_served KEY [NAME]: the handshake count the service logged when it stopped.
ismail_served() {
  sed -n 's/.*[^0-9]\([0-9][0-9]*\) TLS handshakes served.*/\1/p' "$BT/${2:-ismail}-$1/console.log" | tail -1
}

# ---- ISMail linked with the OpenSSL the Windows MSI bundles (built natively
# by `make linux-bundled-openssl` into $BX); the same sources as $B. ----
ismailx_start() { [ -n "${BX:-}" ] && ismail_start "$1" ismailx "$BX"; }
ismailx_stop() { stop_pid "${PID[ismailx]}"; PID[ismailx]=; }

# ---- nginx (mail proxy module): the greeting, CAPABILITY/EHLO, STARTTLS and
# QUIT/LOGOUT are answered by nginx itself; auth_http is never reached. ----
nginx_start() {
  local key=$1 workers=${2:-1} d=$BT/nginx m nf
  nf=$(ulimit -Hn); [ "$nf" = unlimited ] && nf=65536
  rm -rf "$d"; mkdir -p "$d/logs"
  for m in $MODES; do PORT[nginx:$m]=$(free_port); done
  cat > "$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
worker_processes $workers;
worker_rlimit_nofile $nf;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections $((nf - 100)); }
mail {
    auth_http 127.0.0.1:9/auth;
    ssl_certificate $BT/cert/$key.crt;
    ssl_certificate_key $BT/cert/$key.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    server_name mail.bench.test;
    server { listen 127.0.0.1:${PORT[nginx:imaps]} ssl; protocol imap; }
    server { listen 127.0.0.1:${PORT[nginx:pop3s]} ssl; protocol pop3; }
    server { listen 127.0.0.1:${PORT[nginx:smtps]} ssl; protocol smtp; }
    server { listen 127.0.0.1:${PORT[nginx:imap]}; protocol imap; starttls on; }
    server { listen 127.0.0.1:${PORT[nginx:pop3]}; protocol pop3; starttls on; }
    server { listen 127.0.0.1:${PORT[nginx:smtp]}; protocol smtp; starttls on; }
}
EOF
  taskset -c "$SRV_CPUS" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf" -g 'daemon off;' >"$d/console.log" 2>&1 &
  PID[nginx]=$!
  wait_port "${PORT[nginx:smtp]}" || { echo "bench: nginx did not start:" >&2; tail -n 5 "$d/console.log" "$d/logs/error.log" >&2; return 1; }
}
nginx_stop() { stop_pid "${PID[nginx]}"; PID[nginx]=; }

# ---- Dovecot: login processes in high-performance mode (service_count = 0:
# one long-lived imap-login/pop3-login serves many clients), which answer
# the greeting, CAPABILITY, STARTTLS and LOGOUT/QUIT before any login. ----
dovecot_start() {
  local key=$1 d=$BT/dovecot m
  rm -rf "$d"; mkdir -p "$d/run" "$d/state" "$d/home"
  for m in imaps pop3s imap pop3; do PORT[dovecot:$m]=$(free_port); done
  cat > "$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$BT/cert/$key.crt
ssl_key = <$BT/cert/$key.key
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home
}
mail_location = maildir:~/Maildir
default_client_limit = 20000
service imap-login {
  inet_listener imap {
    port = ${PORT[dovecot:imap]}
  }
  inet_listener imaps {
    port = ${PORT[dovecot:imaps]}
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  client_limit = 20000
  vsz_limit = 1G
}
service pop3-login {
  inet_listener pop3 {
    port = ${PORT[dovecot:pop3]}
  }
  inet_listener pop3s {
    port = ${PORT[dovecot:pop3s]}
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  client_limit = 20000
  vsz_limit = 1G
}
EOF
  taskset -c "$SRV_CPUS" dovecot -F -c "$d/dovecot.conf" >"$d/console.log" 2>&1 &
  PID[dovecot]=$!
  wait_port "${PORT[dovecot:imap]}" || { echo "bench: dovecot did not start:" >&2; tail -n 5 "$d/console.log" "$d/dovecot.log" >&2; return 1; }
}
dovecot_stop() { stop_pid "${PID[dovecot]}"; PID[dovecot]=; }

# ---- Postfix: smtpd with STARTTLS (and an SMTPS wrapper-mode port), its own
# configuration and queue folders; master in the foreground. ----
postfix_start() {
  local key=$1 d=$BT/postfix
  rm -rf "$d"; mkdir -p "$d/etc" "$d/spool" "$d/lib"; chown postfix "$d/lib"
  PORT[postfix:smtp]=$(free_port); PORT[postfix:smtps]=$(free_port)
  cat > "$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/lib
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file_prefixes = $d
maillog_file = $d/postfix.log
alias_maps =
local_recipient_maps =
smtpd_banner = \$myhostname ESMTP
smtpd_tls_chain_files = $BT/cert/$key.key, $BT/cert/$key.crt
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
smtpd_tls_session_cache_database =
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
EOF
  cat > "$d/etc/master.cf" <<EOF
127.0.0.1:${PORT[postfix:smtp]} inet n - n - - smtpd
127.0.0.1:${PORT[postfix:smtps]} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
anvil     unix  -       -       n       -       1       anvil
proxymap  unix  -       -       n       -       -       proxymap
rewrite   unix  -       -       n       -       -       trivial-rewrite
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  postfix -c "$d/etc" check >"$d/check.log" 2>&1 || true
  taskset -c "$SRV_CPUS" postfix -c "$d/etc" start-fg >"$d/console.log" 2>&1 &
  PID[postfix]=$!
  wait_port "${PORT[postfix:smtp]}" || { echo "bench: postfix did not start:" >&2; tail -n 5 "$d/console.log" "$d/check.log" >&2; return 1; }
}
postfix_stop() {
  [ -n "${PID[postfix]}" ] && postfix -c "$BT/postfix/etc" stop >/dev/null 2>&1
  stop_pid "${PID[postfix]}"; PID[postfix]=
}

# ---- stunnel4 in front of a trivial plaintext backend (the load generator's
# --backend mode); implicit TLS, and STARTTLS with stunnel's protocol = . The
# backends run beside it but are not counted as its CPU. ----
stunnel_start() {
  local key=$1 d=$BT/stunnel m proto
  rm -rf "$d"; mkdir -p "$d"
  BACKEND_PIDS=()
  for proto in imap pop3 smtp; do
    local bp; bp=$(free_port)
    taskset -c "$SRV_CPUS" "$LG" --mode "$proto" --backend "$bp" >"$d/backend-$proto.log" 2>&1 &
    BACKEND_PIDS+=($!)
    eval "BP_$proto=$bp"
  done
  for m in $MODES; do PORT[stunnel:$m]=$(free_port); done
  {
    printf 'foreground = yes\npid =\noutput = %s/stunnel.log\ndebug = 3\n' "$d"
    printf 'cert = %s\nkey = %s\nsslVersionMin = TLSv1.2\n' "$BT/cert/$key.crt" "$BT/cert/$key.key"
    for m in $MODES; do
      proto=${m%s}
      printf '[%s]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\n' "$m" "${PORT[stunnel:$m]}" "$(eval echo \$BP_$proto)"
      [ "$m" = "$proto" ] && printf 'protocol = %s\n' "$proto"
    done
  } > "$d/stunnel.conf"
  for proto in imap pop3 smtp; do wait_port "$(eval echo \$BP_$proto)" 5; done
  taskset -c "$SRV_CPUS" stunnel4 "$d/stunnel.conf" >"$d/console.log" 2>&1 &
  PID[stunnel]=$!
  wait_port "${PORT[stunnel:smtps]}" || { echo "bench: stunnel did not start:" >&2; tail -n 5 "$d/console.log" "$d/stunnel.log" >&2; return 1; }
}
stunnel_stop() {
  stop_pid "${PID[stunnel]}"; PID[stunnel]=
  local p; for p in "${BACKEND_PIDS[@]}"; do stop_pid "$p"; done
  BACKEND_PIDS=()
}
