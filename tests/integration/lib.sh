# shellcheck shell=bash
# shellcheck disable=SC2034,SC2120,SC2054 # a library: variables are used by the sourcing scripts
# Integration-test library: network-namespace topology, real servers and the
# daemon under test. Source it from a test script; see run.sh.
#
# Topology (every address exists only inside namespaces made here):
#
#   namespace C (client)                      namespace S (server)
#   tun0 198.18.0.1/15, fdfe:dcba:9876::1/126
#   default (v4+v6) dev tun0                  tgt0 (dummy) 203.0.113.80/24
#   tun2socks, curl, python clients                        2001:db8:80::80/64
#   v0 198.19.9.1/30  <------ veth ------>    v1 198.19.9.2/30
#                                             danted 198.19.9.2:1080 (:1081)
#                                             nginx  203.0.113.80:80, [2001:db8:80::80]:80
#                                             sink   203.0.113.80:8080 (uploads)
#
# C reaches the SOCKS server over the connected /30 (more specific than the
# default route, so the daemon's own sockets never enter the TUN) and the
# targets only through the tunnel. S has no route anywhere else.
#
# Environment:
#   T2S_BIN         daemon binary (default build/tun2socks)
#   T2S_LEAK_CHECK  1: run the daemon under ASan (build-asan/tun2socks when
#                   present) or else valgrind; any leak report fails
#   T2S_KEEP        1: keep the run directory (logs, configs) after the run
#   T2S_VERBOSE     1: more chatter in the test log
#   T2S_PCAP        1: tcpdump the veth in S into the run directory
#   T2S_DAEMON_NOFILE  SOFT:HARD: the daemon's RLIMIT_NOFILE (default
#                   65536 both)

T2S_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T2S_ITEST=$T2S_ROOT/tests/integration
PY=${PYTHON:-python3}
PATH=$PATH:/usr/sbin:/sbin

# ---- names and addresses -------------------------------------------------
T2S_ID=$$
NS_C=t2si-c-$T2S_ID
NS_S=t2si-s-$T2S_ID
C_IP=198.19.9.1
S_IP=198.19.9.2
T4=203.0.113.80
T6=2001:db8:80::80
SOCKS_PORT=1080
SOCKS_AUTH_PORT=1081
HTTP_PORT=80
SINK_PORT=8080
HOLD_PORT=9000
EOF_PORT=9001
TUN=tun0
TUN_ADDR=198.18.0.1/15
TUN_ADDR6=fdfe:dcba:9876::1/126
AUTH_USER=t2su$T2S_ID
AUTH_PASS=pw-$T2S_ID-ok

RUN_DIR=
DAEMON_PID=
DAEMON_LOG=
DAEMON_RC=
DAEMON_WRAP=none
DAEMON_RUNS=0              # daemons started by this script
declare -A SRV_PID=()       # name -> pid of servers started here
T2S_USER_MADE=0
T2S_FAILS=0
T2S_PASSES=0
T2S_CLEANED=0
T2S_GROUP=${T2S_GROUP:-$(basename "${0%.sh}")}

# ---- output -----------------------------------------------------------------
# Diagnostics go to stderr; result lines ("PASS name", "FAIL name (reason)")
# to stdout, which run.sh collects.
log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "FATAL: $*"; exit 2; }

pass() {
	T2S_PASSES=$((T2S_PASSES + 1))
	echo "PASS $1"
	log "PASS $1" # the script's log says when each test ended
}

# fail NAME REASON [nodump]: records the failure and dumps the logs that
# explain it (daemon, danted, nginx, sink).
fail() {
	T2S_FAILS=$((T2S_FAILS + 1))
	echo "FAIL $1 (${2:-no reason})"
	log "FAIL $1: ${2:-}"
	[[ ${3:-} == nodump ]] || dump_logs
}

# check NAME COND-STATUS REASON: pass or fail NAME from a status (0 = ok).
check() {
	if [[ $2 -eq 0 ]]; then pass "$1"; else fail "$1" "$3"; fi
}

dump_file() { # dump_file LABEL FILE [LINES]
	local f=$2 n=${3:-60}
	[[ -s $f ]] || return 0
	echo "----- $1 (last $n lines of $f) -----" >&2
	tail -n "$n" "$f" >&2
}

dump_logs() {
	dump_file "daemon log" "$DAEMON_LOG" 80
	dump_file "danted log" "$RUN_DIR/danted.log" 30
	dump_file "danted-auth log" "$RUN_DIR/danted-auth.log" 20
	dump_file "nginx error log" "$RUN_DIR/nginx/error.log" 20
	dump_file "sink log" "$RUN_DIR/sink.log" 10
}

# now: seconds since the epoch with ms resolution; elapsed START: now-START
now() { date +%s.%3N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a<b)}'; } # float a < b

cx() { ip netns exec "$NS_C" "$@"; }   # run in the client namespace
sx() { ip netns exec "$NS_S" "$@"; }   # run in the server namespace

# curl in C with no config file and no proxy from the environment
ccurl() { cx curl -q --noproxy '*' -sS "$@"; }

# curl_was_reset RC: curl's exit code says the peer refused or reset the
# connection: 7 (RST to the SYN), 52 (closed before any reply), 56 (reset
# while reading) or 55 (reset while sending; also when the RST lands between
# the handshake and curl's getpeername(), which then fails with ENOTCONN).
# The tunnel finishes the handshake before the rule is known, so a REJECT
# reaches curl at any of these points, depending on scheduling.
curl_was_reset() { (($1 == 7 || $1 == 52 || $1 == 55 || $1 == 56)); }

# ---- requirements -----------------------------------------------------------
require_root() { [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"; }

require_tools() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/install-test-deps.sh)"
}

# cpu_ticks PID: the process's user + system time in clock ticks (fields
# 14 and 15 of /proc/PID/stat, counted after the command name, which may
# hold spaces).
cpu_ticks() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	awk '{print $12 + $13}' <<<"$st"
}

# ---- cleanup ------------------------------------------------------------------
# pid_tree PID: PID and all its descendants (children first is not needed:
# we SIGKILL the lot).
pid_tree() {
	local p=$1 c
	echo "$p"
	for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do pid_tree "$c"; done
}

# kill_tree SIG PID: signal a process and its descendants, by PID.
kill_tree() {
	local sig=$1 pids
	pids=$(pid_tree "$2")
	# shellcheck disable=SC2086
	[[ -n $pids ]] && kill "-$sig" $pids 2>/dev/null
	return 0
}

# wait_gone TIMEOUT PID...: poll until none of the PIDs exists (bounded).
wait_gone() {
	local t=$1 i p alive
	shift
	for ((i = 0; i < t * 20; i++)); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || return 0
		sleep 0.05
	done
	return 1
}

# curl_reset_wait PID DST PORT SECS: the client's download (curl PID, in C)
# from DST:PORT is reset within SECS: curl ended with 56, or its socket is
# gone while curl still runs. A reset removes the socket at once, even
# while curl still reads what it had buffered (at a --limit-rate that
# takes many seconds); a FIN would leave it in CLOSE-WAIT until curl
# closes it. curl is gone when this returns.
curl_reset_wait() {
	local pid=$1 dst=$2 port=$3 t=$4 i rc socks
	for ((i = 0; i < t * 20; i++)); do
		# (an ss that fails lists nothing: that is no proof of a reset)
		socks=$(cx ss -Htn state established state close-wait dst "$dst" dport = ":$port") ||
			{ log "curl_reset_wait: ss failed"; break; }
		if [[ -z $socks ]]; then
			if kill -0 "$pid" 2>/dev/null; then
				kill "$pid" 2>/dev/null
				wait "$pid" 2>/dev/null
				return 0
			fi
			wait "$pid"
			rc=$?
			((rc == 56))
			return
		fi
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

# Remove leftovers of earlier runs that died without cleaning up: namespaces
# and users named with our prefix whose owning shell no longer exists.
cleanup_stale() {
	local ns pid p
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^t2si-[csg]-[0-9]+$'); do
		pid=${ns##*-}
		[[ -d /proc/$pid ]] && continue
		log "removing stale namespace $ns"
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	for ns in /etc/netns/t2si-[csg]-*; do
		[[ -d $ns ]] || continue
		pid=${ns##*-}
		[[ -d /proc/$pid ]] || rm -rf "$ns"
	done
	for u in $(getent passwd | cut -d: -f1 | grep -E '^t2su[0-9]+$'); do
		pid=${u#t2su}
		[[ -d /proc/$pid ]] && continue
		log "removing stale user $u"
		userdel "$u" 2>/dev/null
	done
	return 0
}

t2s_cleanup() {
	((T2S_CLEANED)) && return 0
	T2S_CLEANED=1
	local name pid ns p
	[[ -n $DAEMON_PID ]] && daemon_stop >/dev/null 2>&1
	{
		local all=()
		for name in "${!SRV_PID[@]}"; do
			pid=${SRV_PID[$name]}
			# shellcheck disable=SC2207
			all+=($(pid_tree "$pid"))
		done
		((${#all[@]})) && kill -TERM "${all[@]}" 2>/dev/null
		((${#all[@]})) && ! wait_gone 3 "${all[@]}" && kill -KILL "${all[@]}" 2>/dev/null
		for ns in "$NS_C" "$NS_S"; do
			ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
			# anything still running inside our namespaces was started by us
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		done
		for name in "${!SRV_PID[@]}"; do wait "${SRV_PID[$name]}"; done
	} 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "/etc/netns/$NS_C" "/etc/netns/$NS_S"
	if ((T2S_USER_MADE)); then userdel "$AUTH_USER" 2>/dev/null; fi
	if [[ -n $RUN_DIR && -d $RUN_DIR ]]; then
		if [[ ${T2S_KEEP:-0} == 1 ]]; then
			log "run directory kept: $RUN_DIR"
		elif ((T2S_FAILS > 0)); then
			# keep the logs and configs, not the bulk data
			rm -rf "$RUN_DIR/www" "$RUN_DIR"/*.out "$RUN_DIR"/fetch.*
			log "run directory kept: $RUN_DIR"
		else
			rm -rf "$RUN_DIR"
		fi
	fi
	return 0
}

# t2s_init: common start of every test script.
t2s_init() {
	require_root
	require_tools ip curl sha256sum "$PY" ps awk
	# A signal may land while t2s_cleanup already runs (at the end of a
	# script): run it again from the top (every step is idempotent) rather
	# than exit half-way and leave namespaces behind.
	trap t2s_cleanup EXIT
	trap 'T2S_CLEANED=0; t2s_cleanup; exit 130' INT
	trap 'T2S_CLEANED=0; t2s_cleanup; exit 143' TERM
	cleanup_stale
	RUN_DIR=$(mktemp -d "/tmp/t2s-run-$T2S_GROUP.XXXXXX")
	chmod 755 "$RUN_DIR"
	DAEMON_LOG=$RUN_DIR/daemon.log
	log "run dir $RUN_DIR, namespaces $NS_C $NS_S"
}

# t2s_finish: last line of every test script; exit status = any failure.
t2s_finish() {
	t2s_cleanup
	((T2S_FAILS == 0))
	exit $?
}

# ---- topology -----------------------------------------------------------------
# wait_link_local NS DEV: until DEV has a settled IPv6 link-local address
# and its local route (at most 5 s; a kernel without IPv6 has none).
wait_link_local() {
	local ns=$1 dev=$2 i
	[[ -e /proc/sys/net/ipv6 ]] || return 0
	for ((i = 0; i < 100; i++)); do
		if [[ -n $(ip -n "$ns" -6 addr show dev "$dev" scope link -tentative 2>/dev/null) ]] &&
			ip -n "$ns" -6 route show table local dev "$dev" 2>/dev/null | grep -q '^local fe80'; then
			return 0
		fi
		sleep 0.05
	done
	log "WARN: no settled link-local address on $dev in $ns after 5 s"
}

topo_up() {
	ip netns add "$NS_C" || die "netns add $NS_C"
	ip netns add "$NS_S" || die "netns add $NS_S"
	ip -n "$NS_C" link set lo up
	ip -n "$NS_S" link set lo up
	ip -n "$NS_C" link add v0 type veth peer name v1 netns "$NS_S" || die "veth"
	ip -n "$NS_C" addr add "$C_IP/30" dev v0
	ip -n "$NS_S" addr add "$S_IP/30" dev v1
	# No DAD on the veth pair, and wait for both link-local addresses: the
	# kernel adds them (and their routes) asynchronously after carrier, and
	# a snapshot of the routing taken before they exist differs from one
	# taken after (the demo's auto-route check compares two).
	cx sysctl -qw net.ipv6.conf.v0.accept_dad=0 2>/dev/null
	sx sysctl -qw net.ipv6.conf.v1.accept_dad=0 2>/dev/null
	ip -n "$NS_C" link set v0 up
	ip -n "$NS_S" link set v1 up
	wait_link_local "$NS_C" v0
	wait_link_local "$NS_S" v1
	# targets live on S's loopback (no dummy driver needed)
	ip -n "$NS_S" addr add "$T4/32" dev lo || die "target address"
	ip -n "$NS_S" addr add "$T6/128" dev lo nodad || die "target address v6"
	sx sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
	sx sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 2>/dev/null
	cx sysctl -qw net.core.somaxconn=4096 2>/dev/null
	cx sysctl -qw net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null
	if [[ ${T2S_PCAP:-0} == 1 ]] && command -v tcpdump >/dev/null; then
		sx tcpdump -i v1 -n -s 128 -w "$RUN_DIR/veth.pcap" >"$RUN_DIR/tcpdump.log" 2>&1 &
		SRV_PID[tcpdump]=$!
	fi
	log "topology up"
}

# wait_listen NS PROTO ADDR PORT TIMEOUT [PID]: until something listens
# there (gives up early if PID exits).
wait_listen() {
	local ns=$1 proto=$2 addr=$3 port=$4 t=${5:-5} pid=${6:-} i pat
	if [[ $addr == *:* ]]; then pat="\\[$addr\\]:$port"; else pat="$addr:$port"; fi
	for ((i = 0; i < t * 20; i++)); do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			log "process $pid exited before listening on $addr:$port"
			return 1
		fi
		ip netns exec "$ns" ss -Hln"${proto:0:1}" 2>/dev/null | grep -q " $pat " && return 0
		sleep 0.05
	done
	log "nothing listens on $addr:$port/$proto in $ns after ${t}s"
	return 1
}

# ---- target data ----------------------------------------------------------------
# make_data [MIB]: www/1k and www/64m (MIB MiB, default 64) of random
# bytes; SHA_1K, SHA_64M hold their sums.
make_data() {
	local d=$RUN_DIR/www
	mkdir -p "$d"
	head -c 1024 /dev/urandom >"$d/1k"
	head -c $((${1:-64} << 20)) /dev/urandom >"$d/64m"
	echo ok >"$d/health"
	SHA_1K=$(sha256sum <"$d/1k" | cut -d' ' -f1)
	SHA_64M=$(sha256sum <"$d/64m" | cut -d' ' -f1)
	chmod -R a+rX "$d"
}

# ---- servers in S -----------------------------------------------------------------
start_nginx() {
	local n=$RUN_DIR/nginx
	mkdir -p "$n/tmp"
	cat >"$n/nginx.conf" <<EOF
user root;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $n/nginx.pid;
error_log $n/error.log warn;
daemon off;
events { worker_connections 8000; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    server {
        listen $T4:$HTTP_PORT backlog=4096;
        listen [$T6]:$HTTP_PORT backlog=4096;
        root $RUN_DIR/www;
        location /slow/ { alias $RUN_DIR/www/; limit_rate 1m; }
        location = /empty { return 200 ""; }
        # who connected: tells which upstream a request came through
        location = /whoami { default_type text/plain; return 200 "\$remote_addr"; }
        # the same with the connection's ports: "ADDR PORT SERVER_PORT", to
        # find that very connection in a proxy's log
        location = /peer { default_type text/plain; return 200 "\$remote_addr \$remote_port \$server_port"; }
    }
}
EOF
	sx nginx -c "$n/nginx.conf" -p "$n" >"$n/stdout.log" 2>&1 &
	SRV_PID[nginx]=$!
	wait_listen "$NS_S" tcp "$T4" "$HTTP_PORT" 5 "${SRV_PID[nginx]}" || { dump_file nginx "$n/error.log"; return 1; }
	wait_listen "$NS_S" tcp "$T6" "$HTTP_PORT" 5 || return 1
	log "nginx pid ${SRV_PID[nginx]}"
}

start_sink() {
	sx "$PY" "$T2S_ITEST/sink_server.py" --bind "$T4" --bind "$T6" --port "$SINK_PORT" \
		--hold-port "$HOLD_PORT" --eof-port "$EOF_PORT" "$@" >"$RUN_DIR/sink.log" 2>&1 &
	SRV_PID[sink]=$!
	wait_listen "$NS_S" tcp "$T4" "$SINK_PORT" 10 "${SRV_PID[sink]}" || { dump_file sink "$RUN_DIR/sink.log"; return 1; }
	log "sink pid ${SRV_PID[sink]}"
}

# make_auth_user: a system user dante checks username/password against.
make_auth_user() {
	if ! getent passwd "$AUTH_USER" >/dev/null; then
		useradd -r -M -N -s /usr/sbin/nologin -d /nonexistent "$AUTH_USER" || die "useradd"
		T2S_USER_MADE=1
	fi
	echo "$AUTH_USER:$AUTH_PASS" | chpasswd || die "chpasswd"
}

# start_dante [none|username] [PORT] [NAME] [EXTERNAL...]: danted in S on
# S_IP:PORT, connecting out from the EXTERNAL addresses (default $T4 and $T6;
# others must exist in S first: ns_lo_addrs).
start_dante() {
	local method=${1:-none} port=${2:-$SOCKS_PORT} name=${3:-danted} ext=("${@:4}") a
	((${#ext[@]})) || ext=("$T4" "$T6")
	[[ $method == username ]] && make_auth_user
	cat >"$RUN_DIR/$name.conf" <<EOF
logoutput: $RUN_DIR/$name.log
internal: $S_IP port = $port
$(for a in "${ext[@]}"; do echo "external: $a"; done)
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
timeout.negotiate: 30
timeout.io: 0
client pass {
  from: 0/0 to: 0/0
}
socks pass {
  from: 0/0 to: 0/0
  command: bind connect udpassociate bindreply udpreply
  log: connect disconnect error
}
EOF
	: >"$RUN_DIR/$name.log"
	(ulimit -n 65536 2>/dev/null; exec ip netns exec "$NS_S" danted -f "$RUN_DIR/$name.conf" \
		-p "$RUN_DIR/$name.pid") >"$RUN_DIR/$name.stdout" 2>&1 &
	SRV_PID[$name]=$!
	if ! wait_listen "$NS_S" tcp "$S_IP" "$port" 10 "${SRV_PID[$name]}"; then
		dump_file "$name" "$RUN_DIR/$name.log"
		dump_file "$name stdout" "$RUN_DIR/$name.stdout"
		return 1
	fi
	log "$name ($method) pid ${SRV_PID[$name]} on $S_IP:$port"
}

# kill_dante [NAME]: SIGKILL danted and all its children, by PID; waits
# until they are gone (bounded).
kill_dante() {
	local name=${1:-danted} pid pids
	pid=${SRV_PID[$name]:-}
	[[ -n $pid ]] || return 0
	pids=$(pid_tree "$pid")
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	# shellcheck disable=SC2086
	wait_gone 5 $pids || log "danted processes linger: $pids"
	wait "$pid" 2>/dev/null
	unset "SRV_PID[$name]"
}

# stop_server NAME: SIGTERM (then SIGKILL) a server and its children.
stop_server() {
	local name=$1 pid pids
	pid=${SRV_PID[$name]:-}
	[[ -n $pid ]] || return 0
	pids=$(pid_tree "$pid")
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	# shellcheck disable=SC2086
	wait_gone 5 $pids || kill -KILL $pids 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "SRV_PID[$name]"
}

# servers_up [dante-method]: the usual set: nginx, sink and danted on 1080.
servers_up() {
	make_data
	start_nginx || return 1
	start_sink || return 1
	start_dante "${1:-none}" || return 1
}

# ns_resolv NS IP: processes in namespace NS use IP as their DNS server
# (ip netns exec bind-mounts /etc/netns/NS/resolv.conf; removed at cleanup).
ns_resolv() {
	mkdir -p "/etc/netns/$1"
	printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$2" >"/etc/netns/$1/resolv.conf"
}

# ns_lo_addrs NS ADDR...: more addresses on NS's loopback (IPv4 /32, IPv6
# /128), e.g. one egress address per proxy in S so that a target tells the
# proxies apart. Use documentation ranges: they exist only in NS.
ns_lo_addrs() {
	local ns=$1 a
	shift
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$ns" addr add "$a/128" dev lo nodad || return 1
		else
			ip -n "$ns" addr add "$a/32" dev lo || return 1
		fi
	done
}

# start_dnsmasq: the upstream DNS server on $S_IP:53 with the test zone
# (docs/design.md §10): *.example.test -> $T4 / $T6, an MX and
# a TXT record; multi.example.test -> $S_IP and $T4. Every query is logged to $RUN_DIR/dnsmasq.log.
start_dnsmasq() {
	cat >"$RUN_DIR/dnsmasq.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$S_IP
bind-interfaces
address=/example.test/$T4
address=/example.test/$T6
mx-host=mail.example.test,mx1.example.test,10
# two addresses, the first (by RFC 6724 order from C) refusing port 80
host-record=multi.example.test,$S_IP
host-record=multi.example.test,$T4
txt-record=txt.example.test,"some text"
log-queries
log-facility=$RUN_DIR/dnsmasq.log
EOF
	: >"$RUN_DIR/dnsmasq.log"
	ip netns exec "$NS_S" dnsmasq -k -C "$RUN_DIR/dnsmasq.conf" --pid-file="$RUN_DIR/dnsmasq.pid" \
		>"$RUN_DIR/dnsmasq.stdout" 2>&1 &
	SRV_PID[dnsmasq]=$!
	if ! wait_listen "$NS_S" udp "$S_IP" 53 10 "${SRV_PID[dnsmasq]}"; then
		dump_file dnsmasq "$RUN_DIR/dnsmasq.stdout"
		return 1
	fi
	log "dnsmasq pid ${SRV_PID[dnsmasq]} on $S_IP:53"
}

# make_test_ca: a CA made here ($PKI/ca.pem), another one ($PKI/other.pem),
# and a server certificate for "proxy.test" and $S_IP signed by the first
# ($PKI/server.pem, server.key).
make_test_ca() {
	PKI=$RUN_DIR/pki
	mkdir -p "$PKI"
	(
		cd "$PKI" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=t2s test CA" \
			-keyout ca.key -out ca.pem
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
			-keyout other.key -out other.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=proxy.test" -keyout server.key \
			-out server.csr
		printf 'subjectAltName=DNS:proxy.test,IP:%s\n' "$S_IP" >san.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile san.ext -out server.pem
	) >"$RUN_DIR/openssl.log" 2>&1
}

# start_tinyproxy NAME PORT [USER PASS]: an HTTP CONNECT proxy on $S_IP:PORT
# (Basic auth with USER PASS), logging connections to $RUN_DIR/NAME/log.
# TP_BIND="ADDR..." in the call's environment: connect out from these
# addresses (one per family; they must exist in S: ns_lo_addrs) instead of
# the one the route picks.
start_tinyproxy() {
	local name=$1 port=$2 a
	mkdir -p "$RUN_DIR/$name"
	chmod 777 "$RUN_DIR/$name"
	{
		echo "User nobody"
		echo "Group nogroup"
		echo "Port $port"
		echo "Listen $S_IP"
		echo "Timeout 600"
		echo "MaxClients 200"
		echo "LogFile \"$RUN_DIR/$name/log\""
		echo "LogLevel Connect"
		echo "PidFile \"$RUN_DIR/$name/pid\""
		[[ -n ${3:-} ]] && echo "BasicAuth $3 $4"
		for a in ${TP_BIND:-}; do echo "Bind $a"; done
	} >"$RUN_DIR/$name.conf"
	sx tinyproxy -d -c "$RUN_DIR/$name.conf" >"$RUN_DIR/$name.stdout" 2>&1 &
	SRV_PID[$name]=$!
	wait_listen "$NS_S" tcp "$S_IP" "$port" 10 "${SRV_PID[$name]}"
}

# start_microsocks PORT [BIND]: microsocks (SOCKS5, TCP only) on $S_IP:PORT,
# connecting out from BIND (default $S_IP; one address: microsocks then
# connects over its family only); it prints each target it connects to in
# $RUN_DIR/microsocks.log.
start_microsocks() {
	local port=$1 bind=${2:-$S_IP}
	sx microsocks -i "$S_IP" -p "$port" -b "$bind" >"$RUN_DIR/microsocks.log" 2>&1 &
	SRV_PID[microsocks]=$!
	wait_listen "$NS_S" tcp "$S_IP" "$port" 5 "${SRV_PID[microsocks]}" || return 1
	log "microsocks pid ${SRV_PID[microsocks]} on $S_IP:$port, out from $bind"
}

# start_stunnel PORT TO_PORT: TLS on $S_IP:PORT in front of $S_IP:TO_PORT,
# with make_test_ca's server certificate.
start_stunnel() {
	cat >"$RUN_DIR/stunnel.conf" <<EOF
foreground = yes
pid =
output = $RUN_DIR/stunnel.log
[proxy]
accept = $S_IP:$1
connect = $S_IP:$2
cert = $PKI/server.pem
key = $PKI/server.key
EOF
	sx stunnel4 "$RUN_DIR/stunnel.conf" >"$RUN_DIR/stunnel.stdout" 2>&1 &
	SRV_PID[stunnel]=$!
	wait_listen "$NS_S" tcp "$S_IP" "$1" 10 "${SRV_PID[stunnel]}"
}

# start_name_dns PORT NAME ADDR: a second dnsmasq on $S_IP:PORT that knows
# only NAME -> ADDR (a default-nameserver or proxy-server-nameserver that
# alone knows a server's name); its log in $RUN_DIR/dnsmasq-PORT.log.
start_name_dns() {
	sx dnsmasq -k --no-resolv --no-hosts --user=root --listen-address="$S_IP" --bind-interfaces \
		--port="$1" --host-record="$2,$3" --log-queries --log-facility="$RUN_DIR/dnsmasq-$1.log" \
		--pid-file="$RUN_DIR/dnsmasq-$1.pid" >"$RUN_DIR/dnsmasq-$1.stdout" 2>&1 &
	SRV_PID[dnsmasq_$1]=$!
	wait_listen "$NS_S" udp "$S_IP" "$1" 10 "${SRV_PID[dnsmasq_$1]}"
}

# wait_log [-E] FILE TEXT [SECONDS]: until FILE holds TEXT (default 10 s);
# -E: TEXT is an extended regular expression. A flow's line is written at
# its close, which can come after the client has exited: wait, never a
# fixed sleep.
wait_log() {
	local i how=-F
	[[ $1 == -E ]] && { how=-E; shift; }
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		grep -q "$how" -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# daemon_log: what the current (or last) daemon wrote, from its start (the
# script's daemons share DAEMON_LOG).
DAEMON_LOG_FROM=0
daemon_log() {
	tail -n +"$((DAEMON_LOG_FROM + 1))" "$DAEMON_LOG" 2>/dev/null
}

# wait_daemon_log TEXT [S]: until the current daemon's log holds TEXT (a
# fixed string; at most S seconds, default 10). 0 when it does.
wait_daemon_log() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		daemon_log | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

# ---- the daemon under test ------------------------------------------------------------
daemon_bin() {
	local b=${T2S_BIN:-$T2S_ROOT/build/tun2socks}
	if [[ ${T2S_LEAK_CHECK:-0} == 1 && -z ${T2S_BIN:-} && -x $T2S_ROOT/build-asan/tun2socks ]]; then
		b=$T2S_ROOT/build-asan/tun2socks
	fi
	echo "$b"
}

require_daemon() {
	local b
	b=$(daemon_bin)
	[[ -x $b ]] && return 0
	log "daemon binary $b not found (bash scripts/build.sh)"
	return 1
}

# daemon_nofile: the descriptor limits the daemon starts with (in the
# subshell that execs it).
daemon_nofile() {
	if [[ -n ${T2S_DAEMON_NOFILE:-} ]]; then
		# soft first: a hard limit below the current soft one is refused
		ulimit -Sn "${T2S_DAEMON_NOFILE%%:*}" && ulimit -Hn "${T2S_DAEMON_NOFILE#*:}"
	else
		ulimit -n 65536 2>/dev/null
	fi
	return 0
}

# daemon_start PROXY_URL [extra args...]: start tun2socks in C, wait for the
# TUN, route C's default (v4 and v6) into it. Returns non-zero if the daemon
# died or the TUN did not appear.
# is_asan_bin BIN: BIN is an AddressSanitizer build (build-asan, or one
# that imports __asan_init). grep -c, not -q: under pipefail grep -q ends
# nm with SIGPIPE and the pipeline fails even on a match.
is_asan_bin() {
	[[ $1 == */build-asan/* ]] || (($(nm -D "$1" 2>/dev/null | grep -c __asan_init) > 0))
}

daemon_start() {
	local proxy=$1 bin i t=5 cmd
	shift
	bin=$(daemon_bin)
	[[ -x $bin ]] || { log "no daemon binary $bin"; return 1; }
	cmd=("$bin" --proxy "$proxy" --tun "$TUN" --tun-addr "$TUN_ADDR" --tun-addr6 "$TUN_ADDR6"
		--log-level "${T2S_LOG_LEVEL:-info}" "$@")
	DAEMON_WRAP=none
	if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
		# (a wrapper that execs the daemon names it in T2S_REAL_BIN)
		local real=${T2S_REAL_BIN:-$bin}
		if is_asan_bin "$real"; then
			DAEMON_WRAP=asan
			cmd=(env "ASAN_OPTIONS=detect_leaks=1:exitcode=97:abort_on_error=0"
				"LSAN_OPTIONS=exitcode=97" "${cmd[@]}")
		else
			DAEMON_WRAP=valgrind
			t=30
			cmd=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
				--errors-for-leak-kinds=definite,indirect --error-exitcode=97
				--log-file="$RUN_DIR/valgrind.%p.log" "${cmd[@]}")
		fi
	fi
	# Background jobs of a non-interactive shell start with SIGINT ignored;
	# give the daemon the dispositions it would have from a terminal.
	if env --default-signal=INT true 2>/dev/null; then
		cmd=(env --default-signal=INT,QUIT "${cmd[@]}")
	fi
	DAEMON_RUNS=$((DAEMON_RUNS + 1))
	log "daemon ($DAEMON_WRAP) #$DAEMON_RUNS: ${cmd[*]}"
	DAEMON_RC=
	local from
	from=$(wc -l 2>/dev/null <"$DAEMON_LOG" || echo 0)
	DAEMON_LOG_FROM=$from
	(daemon_nofile; exec ip netns exec "$NS_C" "${cmd[@]}") >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	# The TUN must appear and come up, and the daemon must have finished
	# its start (its "TUN" line): a TUN handed over by --tun-fd is up
	# before the daemon runs, and the default route below must not come
	# before the daemon's check of where its DNS upstream is routed.
	for ((i = 0; i < t * 20; i++)); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID"
			DAEMON_RC=$?
			log "daemon exited early with $DAEMON_RC"
			DAEMON_PID=
			return 1
		fi
		ip -n "$NS_C" link show "$TUN" 2>/dev/null | grep -q '[<,]UP[,>]' &&
			tail -n +"$((from + 1))" "$DAEMON_LOG" | grep -q ' tun2socks .*: TUN ' && break
		sleep 0.05
	done
	# (a daemon below info level never logs that line: the wait is lost)
	((i < t * 20)) || log "WARN: no \"TUN\" line from the daemon within ${t}s"
	if ! ip -n "$NS_C" link show "$TUN" >/dev/null 2>&1; then
		log "$TUN did not appear in $NS_C within ${t}s"
		return 1
	fi
	# Routes: retry briefly (the link may still be coming up).
	for ((i = 0; i < 100; i++)); do
		ip -n "$NS_C" route replace default dev "$TUN" 2>/dev/null && break
		sleep 0.05
	done
	ip -n "$NS_C" route show default | grep -q "dev $TUN" || { log "no IPv4 default route via $TUN"; return 1; }
	for ((i = 0; i < 100; i++)); do
		ip -n "$NS_C" -6 route replace default dev "$TUN" 2>/dev/null && break
		sleep 0.05
	done
	ip -n "$NS_C" -6 route show default | grep -q "dev $TUN" || log "WARN: no IPv6 default route via $TUN"
	# the IPv6 source address must not be tentative
	for ((i = 0; i < 60; i++)); do
		[[ -z $(ip -n "$NS_C" -6 addr show dev "$TUN" tentative 2>/dev/null) ]] && break
		sleep 0.05
	done
	log "daemon pid $DAEMON_PID up; $(ip -n "$NS_C" -br addr show dev "$TUN" | tr -s ' ')"
	return 0
}

daemon_alive() { [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; }

# daemon_stop [TIMEOUT]: SIGTERM, wait (bounded), SIGKILL if needed. Sets
# DAEMON_RC (exit status; 137 if it had to be killed). Returns 0 only for a
# clean exit 0 with no sanitizer/valgrind leak report.
daemon_stop() {
	local t=${1:-10}
	[[ $DAEMON_WRAP == valgrind ]] && t=60
	[[ -n $DAEMON_PID ]] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	if ! wait_gone "$t" "$DAEMON_PID"; then
		log "daemon did not exit ${t}s after SIGTERM; SIGKILL"
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	wait "$DAEMON_PID"
	DAEMON_RC=$?
	DAEMON_PID=
	log "daemon exit status $DAEMON_RC"
	[[ $DAEMON_RC -eq 0 ]] && ! leak_report_found
}

# leak_report_found: a LeakSanitizer/ASan report or valgrind error in logs.
leak_report_found() {
	grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:' \
		"$DAEMON_LOG" 2>/dev/null && return 0
	local f
	for f in "$RUN_DIR"/valgrind.*.log; do
		[[ -s $f ]] || continue
		grep -qE 'definitely lost: [1-9]|indirectly lost: [1-9]|are (definitely|indirectly) lost|Invalid (read|write)|uninitialised|ERROR SUMMARY: [1-9]' "$f" && return 0
	done
	return 1
}

# daemon_finish: stop the daemon at the end of a test script. In leak-check
# mode this is a test of its own ("leakcheck_GROUP"); otherwise an unclean
# exit is reported as a failure too (a crash would hide behind passing tests).
daemon_finish() {
	[[ -n $DAEMON_PID ]] || return 0
	local lname=leakcheck_${T2S_GROUP#test_}
	((DAEMON_RUNS > 1)) && lname=${lname}_$DAEMON_RUNS
	if daemon_stop; then
		[[ ${T2S_LEAK_CHECK:-0} == 1 ]] && pass "$lname"
	else
		local why="exit $DAEMON_RC"
		leak_report_found && why="$why, sanitizer/valgrind report"
		for f in "$RUN_DIR"/valgrind.*.log; do [[ -s $f ]] && dump_file valgrind "$f" 60; done
		if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
			fail "$lname" "$why"
		else
			fail "daemon_exit_${lname#leakcheck_}" "$why"
		fi
	fi
}

# flow_lines: the daemon's per-flow close lines so far
flow_lines() { grep -E 'flow#[0-9]+.*closed' "$DAEMON_LOG" 2>/dev/null; }

# ---- checks ---------------------------------------------------------------------------
# assert_isolated: without the tunnel, C must not reach the targets at all.
assert_isolated() {
	if cx curl -q --noproxy '*' -s -o /dev/null --max-time 2 "http://$T4/1k" 2>/dev/null; then
		die "C reaches $T4 without the tunnel: topology leaks"
	fi
}

# fetch_check URL SHA [curl args...]: download in C (or with FETCH_RUN,
# e.g. another namespace's runner) and compare sha256. Sets FETCH_ERR on
# failure.
fetch_check() {
	local url=$1 want=$2 out rc got
	shift 2
	out=$RUN_DIR/fetch.$RANDOM
	${FETCH_RUN:-cx} curl -q --noproxy '*' -sS --connect-timeout 10 --max-time "${FETCH_TIMEOUT:-60}" \
		-o "$out" "$@" "$url" 2>"$out.err"
	rc=$?
	if ((rc != 0)); then
		FETCH_ERR="curl exit $rc: $(head -c 200 "$out.err")"
		rm -f "$out" "$out.err"
		return 1
	fi
	got=$(sha256sum <"$out" | cut -d' ' -f1)
	local size
	size=$(stat -c %s "$out")
	rm -f "$out" "$out.err"
	if [[ $got != "$want" ]]; then
		FETCH_ERR="sha256 mismatch ($size bytes)"
		return 1
	fi
	return 0
}

# pc_conf FILE [PORT [USER PASS]]: proxychains4 config sending every TCP
# connection through danted (the SOCKS-only path, no TUN involved).
pc_conf() {
	local f=$1 port=${2:-$SOCKS_PORT}
	{
		echo "strict_chain"
		echo "quiet_mode"
		echo "tcp_read_time_out 15000"
		echo "tcp_connect_time_out 8000"
		echo "[ProxyList]"
		echo "socks5 $S_IP $port ${3:-} ${4:-}"
	} >"$f"
}

# ---- common set-up for daemon scenarios ----------------------------------------------
# fail_all "NAMES" REASON: fail every named test (set-up went wrong) and end.
fail_all() {
	local n first=1
	for n in $1; do
		if ((first)); then fail "$n" "$2"; first=0; else fail "$n" "$2" nodump; fi
	done
	t2s_finish
}

# setup_servers "NAMES" [none|username|nodante]: topology, data, nginx, sink
# and danted on S_IP:1080; checks C is isolated. Fails NAMES on any problem.
setup_servers() {
	local names=$1 method=${2:-none}
	require_tools danted nginx
	require_daemon || fail_all "$names" "daemon binary $(daemon_bin) missing"
	topo_up
	make_data
	start_nginx || fail_all "$names" "nginx did not start"
	start_sink || fail_all "$names" "sink server did not start"
	if [[ $method != nodante ]]; then
		start_dante "$method" || fail_all "$names" "danted did not start"
	fi
	assert_isolated
}

# start_or_fail "NAMES" PROXY [args]: daemon_start or fail NAMES and end.
start_or_fail() {
	local names=$1
	shift
	daemon_start "$@" || fail_all "$names" "daemon did not come up (exit ${DAEMON_RC:-?})"
}

# alive_note: "; daemon no longer running" when it died, else "" (safe in
# $(...): only looks; daemon_finish collects the exit status later).
alive_note() {
	if [[ -z $DAEMON_PID ]] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "; daemon no longer running"
	fi
}

# Timeouts grow under valgrind.
if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then SLOW=4; else SLOW=1; fi
FETCH_TIMEOUT=$((60 * SLOW))
