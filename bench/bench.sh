#!/usr/bin/env bash
# Benchmark tun2socks against two baselines measured in the same run, on the
# integration-test topology (tests/integration/lib.sh; needs root):
#
#   no tunnel   C reaches the target over the veth by a plain route
#   SOCKS-only  proxychains4 (strict_chain) in C through the same danted,
#               no TUN at all (it handshakes synchronously, so it
#               understates connection rate)
#   tun2socks   the daemon in C, default route into its TUN, at each MTU
#
# Figures: iperf3 throughput (1 and 4 streams, upload and download -R),
# wrk request rate with a new connection per request (with the tunnel's
# CPU per connection and the TIME_WAIT sockets left in the client), the daemon's RSS
# with IDLE_N idle flows open (per flow) and after they close (vs start),
# UDP (iperf3 -u at UDP_RATE, 1200-byte datagrams: received rate and loss;
# the SOCKS-only column has no UDP client, proxychains is TCP only) and DNS
# round trips (fake-ip answers from the daemon vs dnsmasq asked directly
# over the veth, stop-and-wait, p50/p99), single-stream iperf3 through an
# HTTP CONNECT proxy (tinyproxy) and through TLS to it (stunnel4), routed
# by rules to each, beside SOCKS5 in the same daemon ("http"), and the
# rule engine (bench_rules: 100 000-entry rule set load and match time
# against a linear matcher).
# Prints a markdown table. Not a test: it always exits 0 unless set-up fails.
#
# Usage: bash bench/bench.sh [-d SECONDS] [-m "1500 8500"] [-t iperf,wrk,idle,udp,dns,http,rules]
#                            [-n IDLE_N] [-c WRK_CONNS] [-B] [-b BINARY] [-p HEV_BINARY] [-r]
#                            [-S dante|microsocks] [-P] [-o FILE]
#   -d  seconds per iperf3/wrk run (default 5)
#   -m  TUN MTUs to measure (default "1500 8500")
#   -t  which measurements (default iperf,wrk,idle,udp,dns,http,rules)
#   -n  idle flows (default 2000)
#   -c  wrk connections (default 64)
#   -B  skip the baselines (tun2socks only)
#   -b  also measure this daemon binary (e.g. a build of an earlier commit)
#       at each MTU, right before the current one: a "before" column and
#       its own ratio to the same SOCKS-only baseline
#   -p  also measure hev-socks5-tunnel (this binary; not in Debian: build it
#       from its source yourself) at each MTU on the same TUN name, routes
#       and danted: iperf, wrk and idle figures in a "hev" column, and the
#       ratio of tun2socks to it
#   -P  tun2socks (not -b's build) with "pipelining: true" on its SOCKS5
#       proxy: greeting and request in one write (dante only). Without it
#       the default "auto" pipelines too once its probe got dante's reply
#       (at start, well before the first measurement); -P skips the probe
#   -r  at each MTU run the tunnels in reverse order (tun2socks, before,
#       hev instead of hev, before, tun2socks): a run's slot moves its
#       figures (README, Benchmarks), so compare builds or peers over a
#       run in each order
#   -S  the SOCKS server every SOCKS figure goes through, baselines included
#       (default dante: dante-server; microsocks: a thread per connection)
#   -o  also write the table to FILE
# Default run: about 4 minutes. Quick look: -d 2 -m 1500 -t iperf,wrk
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by lib.sh
T2S_GROUP=bench
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

DUR=5
MTUS="1500 8500"
WHAT="iperf,wrk,idle,udp,dns,http,rules"
UDP_RATE=500M
IDLE_N=2000
WRK_C=64
BASELINES=1
BEFORE_BIN=
PEER_BIN=
SOCKS_SERVER=dante
OUTFILE=
REVERSE=0
PIPELINING=0
while getopts d:m:t:n:c:Bb:p:rS:Po:h opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	m) MTUS=$OPTARG ;;
	t) WHAT=$OPTARG ;;
	n) IDLE_N=$OPTARG ;;
	c) WRK_C=$OPTARG ;;
	B) BASELINES=0 ;;
	o) OUTFILE=$OPTARG ;;
	b) BEFORE_BIN=$OPTARG ;;
	p) PEER_BIN=$OPTARG ;;
	r) REVERSE=1 ;;
	P) PIPELINING=1 ;;
	S) SOCKS_SERVER=$OPTARG ;;
	*) sed -n '2,/^set -uo/{/^set -uo/!p}' "$0"; exit 2 ;;
	esac
done
want() { [[ ,$WHAT, == *,$1,* ]]; }
((DUR >= 1 && DUR <= 60)) || die "-d must be 1..60"
((IDLE_N >= 1 && IDLE_N <= 20000)) || die "-n must be 1..20000"
[[ -z $BEFORE_BIN || -x $BEFORE_BIN ]] || die "-b $BEFORE_BIN: not an executable"
[[ -z $PEER_BIN || -x $PEER_BIN ]] || die "-p $PEER_BIN: not an executable"
[[ $SOCKS_SERVER == dante || $SOCKS_SERVER == microsocks ]] || die "-S: dante or microsocks"
[[ $PIPELINING == 0 || $SOCKS_SERVER == dante ]] || die "-P: microsocks drops pipelined bytes"

t2s_init
require_tools iperf3 wrk proxychains4 danted nginx dnsmasq tinyproxy stunnel4 openssl
IPERF_PORT=5201
declare -A R=()   # R["metric|config"]=value

topo_up
sx sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null
cx sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null
make_data 1
start_nginx || die "nginx"
start_sink || die "sink"
start_dante none || die "danted"
if [[ $SOCKS_SERVER == microsocks ]]; then
	require_tools microsocks
	# from S_IP: microsocks then connects over IPv4 only, which is all
	# the figures use
	start_microsocks 1090 || die "microsocks"
	SOCKS_PORT=1090
fi
start_dnsmasq || die "dnsmasq"
if want http; then
	make_test_ca || die "test CA"
	start_tinyproxy tinyproxy 8888 || die "tinyproxy"
	start_stunnel 8443 8888 || die "stunnel4"
	for p in 5202 5203; do
		sx iperf3 -s -B "$T4" -p "$p" >"$RUN_DIR/iperf3-server.$p.log" 2>&1 &
		SRV_PID["iperf3_$p"]=$!
	done
fi
sx iperf3 -s -B "$T4" -p "$IPERF_PORT" >"$RUN_DIR/iperf3-server.log" 2>&1 &
SRV_PID["iperf3"]=$!
wait_listen "$NS_S" tcp "$T4" "$IPERF_PORT" 5 "${SRV_PID[iperf3]}" || die "iperf3 server"
PC=$RUN_DIR/proxychains.conf
pc_conf "$PC"

say() { printf '%s\n' "$*" >&2; }

# iperf_run CONFIG PREFIX...: the four iperf3 figures, Gbit/s.
iperf_run() {
	local cfg=$1 p r args key out
	shift
	for p in 1 4; do
		for r in up down; do
			args=(-c "$T4" -p "$IPERF_PORT" -t "$DUR" -P "$p" -J)
			[[ $r == down ]] && args+=(-R)
			key="iperf3 $r, $p stream$([[ $p == 1 ]] || echo s) (Gbit/s)"
			out=$RUN_DIR/iperf.$cfg.$r.$p.json
			timeout $((DUR + 30)) ip netns exec "$NS_C" "$@" iperf3 "${args[@]}" >"$out" 2>&1
			R["$key|$cfg"]=$("$PY" - "$out" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception:
    print("err")
EOF
)
			say "  $cfg: $key = ${R["$key|$cfg"]}"
			sleep 0.5
		done
	done
}

# tw_count NS: TCP sockets in TIME_WAIT in namespace NS.
tw_count() {
	ip netns exec "$1" ss -tanH state time-wait | wc -l
}

# wrk_run CONFIG PREFIX...: requests/s with a new connection per request,
# and the TIME_WAIT sockets the run left in the client's namespace. The
# client keeps one when it closes first, which it does whenever the
# tunnel's FIN comes after the client has read the response; ~28,000 of
# them fill the client's ephemeral ports for a minute and collapse every
# later run in the namespace, so each run starts after the previous
# ones' have drained.
wrk_run() {
	local cfg=$1 out key="wrk 1 KiB, Connection: close, $WRK_C conns (req/s)" v
	local twkey="client TIME_WAIT after the wrk run (sockets)" i
	local cpukey="tunnel CPU per connection in the wrk run (us)"
	shift
	out=$RUN_DIR/wrk.$cfg.txt
	for ((i = 0; i < 70; i++)); do
		(($(tw_count "$NS_C") < 5000)) && break
		sleep 1
	done
	((i > 0)) && say "  $cfg: waited ${i} s for the client's TIME_WAIT to drain"
	# The tunnel's own CPU per connection: the one figure of the row
	# that the rest of the machine (client, SOCKS server, target, all
	# on the same cores) does not share.
	local t0=
	[[ -n ${DAEMON_PID:-} ]] && t0=$(cpu_ticks "$DAEMON_PID")
	timeout $((DUR + 30)) ip netns exec "$NS_C" "$@" wrk -t2 -c"$WRK_C" -d"${DUR}s" \
		-H 'Connection: close' "http://$T4/1k" >"$out" 2>&1
	v=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$out")
	local errs
	errs=$(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')
	R["$key|$cfg"]=${v:-err}
	R["$twkey|$cfg"]=$(tw_count "$NS_C")
	if [[ -n $t0 ]]; then
		local t1 n
		t1=$(cpu_ticks "$DAEMON_PID")
		n=$(awk '/requests in/{print $1}' "$out")
		R["$cpukey|$cfg"]=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
			'BEGIN{ if (n > 0 && b >= a) printf "%.0f", (b - a) * 1e6 / hz / n; else print "err" }')
		say "  $cfg: daemon CPU per connection ${R["$cpukey|$cfg"]} us"
	fi
	say "  $cfg: $key = ${v:-err} ${errs}(client TIME_WAIT ${R["$twkey|$cfg"]})"
	sleep 1
}

# udp_run CONFIG: iperf3 -u at UDP_RATE; received Mbit/s and loss %.
udp_run() {
	local cfg=$1 out k1="UDP iperf3 -u $UDP_RATE offered, received (Mbit/s)" k2="UDP loss at $UDP_RATE (%)" v
	out=$RUN_DIR/udp.$cfg.json
	timeout $((DUR + 30)) ip netns exec "$NS_C" iperf3 -c "$T4" -p "$IPERF_PORT" -u -b "$UDP_RATE" \
		-l 1200 -w 4M -t "$DUR" -J >"$out" 2>&1
	v=$("$PY" - "$out" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum"]
    print("%.0f %.2f" % (s["bits_per_second"] * (1 - s["lost_percent"] / 100) / 1e6, s["lost_percent"]))
except Exception:
    print("err err")
EOF
)
	R["$k1|$cfg"]=${v% *}
	R["$k2|$cfg"]=${v#* }
	say "  $cfg: $k1 = ${R["$k1|$cfg"]}, loss ${R["$k2|$cfg"]} %"
	sleep 0.5
}

# http_run: one daemon routing iperf3 port 5201 to dante (SOCKS5), 5202 to
# tinyproxy (HTTP CONNECT) and 5203 to stunnel4 -> tinyproxy (TLS), one
# stream each way per upstream, MTU 8500.
http_run() {
	local conf=$RUN_DIR/bench-http.yaml p r key out up
	cat >"$conf" <<EOF
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
  - { name: tp, type: http, server: $S_IP, port: 8888 }
  - { name: tls, type: http, server: $S_IP, port: 8443, tls: true, sni: proxy.test, ca: $PKI/ca.pem }
rules:
  - DST-PORT,5202,tp
  - DST-PORT,5203,tls
  - MATCH,dante
EOF
	say "== tun2socks with SOCKS5, HTTP CONNECT and TLS upstreams (MTU 8500)"
	if ! T2S_LOG_LEVEL=warn daemon_start "socks5://$S_IP:$SOCKS_PORT" -c "$conf" --dns off; then
		say "  daemon did not start"
		return
	fi
	for p in 5201 5202 5203; do
		up=$([[ $p == 5201 ]] && echo socks || { [[ $p == 5202 ]] && echo http || echo tls; })
		for r in up down; do
			key="1 stream $r by upstream (Gbit/s)"
			out=$RUN_DIR/iperf.http.$p.$r.json
			timeout $((DUR + 30)) ip netns exec "$NS_C" iperf3 -c "$T4" -p "$p" -t "$DUR" -J \
				$([[ $r == down ]] && echo -R) >"$out" 2>&1
			R["$key|$up"]=$("$PY" -c 'import json,sys
try: print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("err")' "$out")
			say "  $up: $key = ${R["$key|$up"]}"
			sleep 0.5
		done
	done
	daemon_stop || say "  daemon exit status $DAEMON_RC"
	# Baseline: the same proxies asked directly by curl (CONNECT tunnel,
	# no TUN) for 64 MiB: what the proxy itself can carry down.
	head -c $((64 << 20)) /dev/urandom >"$RUN_DIR/www/big"
	chmod a+r "$RUN_DIR/www/big"
	local v
	v=$(cx curl -q -s -o /dev/null -w '%{speed_download}' -p -x "http://$S_IP:8888" "http://$T4/big")
	R["curl down|http"]=$(awk -v b="$v" 'BEGIN{printf "%.2f", b*8/1e9}')
	v=$(cx curl -q -s -o /dev/null -w '%{speed_download}' -p -x "https://$S_IP:8443" \
		--proxy-cacert "$PKI/ca.pem" "http://$T4/big")
	R["curl down|tls"]=$(awk -v b="$v" 'BEGIN{printf "%.2f", b*8/1e9}')
	say "  curl -p directly: http ${R["curl down|http"]}, tls ${R["curl down|tls"]} Gbit/s down"
	rm -f "$RUN_DIR/www/big"
}

# rules_run: bench_rules (build/bench/bench_rules), its own figures.
rules_run() {
	local b=$ROOT/build/bench/bench_rules
	[[ -x $b ]] || { say "  no $b (bash scripts/build.sh)"; return; }
	say "== rule engine (bench_rules)"
	RULES_OUT=$("$b" 2>&1)
	say "$RULES_OUT"
}

# dns_run CONFIG SERVER: stop-and-wait A queries, round-trip p50/p99 (us).
dns_run() {
	local cfg=$1 out k1="DNS A round trip p50 (us)" k2="DNS A round trip p99 (us)"
	out=$(timeout 120 ip netns exec "$NS_C" "$PY" "$T2S_ITEST/dns_tool.py" latency --server "$2" \
		--count 20000 2>&1)
	R["$k1|$cfg"]=$(grep -o 'p50_us=[0-9]*' <<<"$out" | cut -d= -f2)
	R["$k2|$cfg"]=$(grep -o 'p99_us=[0-9]*' <<<"$out" | cut -d= -f2)
	[[ -n ${R["$k1|$cfg"]} ]] || R["$k1|$cfg"]=err
	[[ -n ${R["$k2|$cfg"]} ]] || R["$k2|$cfg"]=err
	say "  $cfg: DNS $out"
}

rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null; }

# rss_settle PID: RSS once two readings 0.5 s apart agree within 1% (<= 10 s)
rss_settle() {
	local a b i
	a=$(rss_kb "$1")
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		b=$(rss_kb "$1")
		[[ -z $a || -z $b ]] && break
		awk -v a="$a" -v b="$b" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(d*100<=b)}' && break
		a=$b
	done
	echo "${b:-$a}"
}

# idle_run CONFIG: IDLE_N idle flows through the daemon; RSS per flow and
# RSS after they close.
idle_run() {
	local cfg=$1 r0 r1 r2 line up k1 k2
	k1="RSS per idle flow, $IDLE_N flows (KiB)"
	k2="RSS 5 s after they close, minus start (KiB)"
	r0=$(rss_settle "$DAEMON_PID")
	coproc IDLE { ip netns exec "$NS_C" "$PY" "$T2S_ITEST/tclient.py" idle --host "$T4" \
		--port "$HOLD_PORT" --n "$IDLE_N" --timeout 120 --hold 180 2>&1; }
	local ipid=$IDLE_PID
	line=
	read -r -t 150 line <&"${IDLE[0]}"
	if [[ $line != "open $IDLE_N" ]]; then
		say "  $cfg: idle client: ${line:-no answer}"
		R["$k1|$cfg"]="err"
		R["$k2|$cfg"]="err"
		kill "$ipid" 2>/dev/null
		wait "$ipid" 2>/dev/null
		return
	fi
	sleep 2
	r1=$(rss_settle "$DAEMON_PID")
	up=$(sx ss -Htn state established "( sport = :$HOLD_PORT )" | wc -l)
	echo close >&"${IDLE[1]}"
	read -r -t 60 line <&"${IDLE[0]}"
	wait "$ipid" 2>/dev/null
	# flows close through the daemon and danted; give them time (bounded)
	local i
	for ((i = 0; i < 40; i++)); do
		(($(sx ss -Htn state established "( sport = :$HOLD_PORT )" | wc -l) == 0)) && break
		sleep 0.25
	done
	# The daemon returns freed memory on a 2 s tick, and closed pcbs
	# linger 2 s in TIME_WAIT: measure 5 s after the last flow closed.
	sleep 5
	r2=$(rss_settle "$DAEMON_PID")
	R["$k1|$cfg"]=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_N" 'BEGIN{printf "%.1f", (b-a)/n}')
	R["$k2|$cfg"]=$((r2 - r0))
	say "  $cfg: RSS start ${r0} kB, with $IDLE_N flows ${r1} kB ($up reached the target), after close ${r2} kB"
}

if ((BASELINES)); then
	say "== baseline: no tunnel (route over the veth)"
	ip -n "$NS_C" route add "$T4/32" via "$S_IP"
	want iperf && iperf_run direct
	want wrk && wrk_run direct
	want udp && udp_run direct
	ip -n "$NS_C" route del "$T4/32" via "$S_IP"
	# dnsmasq asked directly over the veth: the baseline for fake-ip answers
	want dns && dns_run direct "$S_IP"
	say "== baseline: SOCKS-only (proxychains4 -> danted)"
	want iperf && iperf_run socks proxychains4 -q -f "$PC"
	want wrk && wrk_run socks proxychains4 -q -f "$PC"
fi
assert_isolated

have_daemon=0
require_daemon && have_daemon=1
# t2s_run CONFIG MTU: one daemon (T2S_BIN, if set) through every figure.
t2s_run() {
	local cfg=$1 mtu=$2 conf=()
	if ((PIPELINING)) && [[ $cfg == t2s* ]]; then
		printf 'proxies:\n  - { name: up, type: socks5, server: %s, port: %s, udp: true, pipelining: true }\nrules:\n  - MATCH,up\n' \
			"$S_IP" "$SOCKS_PORT" >"$RUN_DIR/pipelining.yaml"
		conf=(-c "$RUN_DIR/pipelining.yaml")
	fi
	if ! T2S_LOG_LEVEL=${T2S_LOG_LEVEL:-warn} daemon_start "socks5://$S_IP:$SOCKS_PORT" --mtu "$mtu" \
		--dns-server "$S_IP" "${conf[@]}"; then
		say "  daemon did not start; log:"
		tail -n 20 "$DAEMON_LOG" >&2
		return
	fi
	# idle first, on a fresh daemon: after iperf/wrk, malloc would reuse
	# memory those left behind and hide the per-flow cost
	want idle && idle_run "$cfg"
	want iperf && iperf_run "$cfg"
	want wrk && wrk_run "$cfg"
	want udp && udp_run "$cfg"
	# any address: the daemon answers port 53 itself (fake-ip)
	want dns && dns_run "$cfg" 192.0.2.53
	if ! daemon_alive; then
		say "  daemon died during the run; log tail:"
		tail -n 5 "$DAEMON_LOG" >&2
	fi
	daemon_stop || say "  daemon exit status $DAEMON_RC"
}

# peer_run CONFIG MTU: hev-socks5-tunnel in C on the same TUN name, with
# the same default routes into it and the same danted; the figures it
# shares with us (UDP and DNS work differently there: not measured).
peer_run() {
	local cfg=$1 mtu=$2 conf=$RUN_DIR/hev.$2.yml log=$RUN_DIR/hev.$2.log i
	cat >"$conf" <<EOF
tunnel:
  name: $TUN
  mtu: $mtu
  multi-queue: false
  ipv4: ${TUN_ADDR%/*}
  ipv6: '${TUN_ADDR6%/*}'
socks5:
  port: $SOCKS_PORT
  address: $S_IP
  udp: 'udp'
misc:
  log-level: warn
  limit-nofile: 65535
EOF
	ip netns exec "$NS_C" "$PEER_BIN" "$conf" >"$log" 2>&1 &
	DAEMON_PID=$!
	for ((i = 0; i < 100; i++)); do
		ip -n "$NS_C" link show "$TUN" >/dev/null 2>&1 && break
		sleep 0.05
	done
	ip -n "$NS_C" link set "$TUN" up 2>/dev/null
	if ! ip -n "$NS_C" route replace default dev "$TUN" ||
		! ip -n "$NS_C" -6 route replace default dev "$TUN"; then
		say "  hev-socks5-tunnel did not come up; log:"
		tail -n 20 "$log" >&2
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
		DAEMON_PID=
		return
	fi
	sleep 0.5
	want idle && idle_run "$cfg"
	want iperf && iperf_run "$cfg"
	want wrk && wrk_run "$cfg"
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait_gone 5 "$DAEMON_PID" || kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	ip -n "$NS_C" link del "$TUN" 2>/dev/null
}

# tunnel_run WHICH MTU: hev, before or tun2socks (each only if asked for).
tunnel_run() {
	local mtu=$2
	case $1 in
	hev)
		[[ -n $PEER_BIN ]] || return 0
		say "== hev-socks5-tunnel: $PEER_BIN, MTU $mtu"
		peer_run "hev$mtu" "$mtu"
		;;
	pre)
		[[ -n $BEFORE_BIN ]] && ((have_daemon)) || return 0
		say "== before: $BEFORE_BIN, MTU $mtu"
		T2S_BIN=$BEFORE_BIN t2s_run "pre$mtu" "$mtu"
		;;
	t2s)
		((have_daemon)) || return 0
		say "== tun2socks, MTU $mtu"
		t2s_run "t2s$mtu" "$mtu"
		;;
	esac
}

ORDER="hev pre t2s"
((REVERSE)) && ORDER="t2s pre hev"
for mtu in $MTUS; do
	for which in $ORDER; do
		tunnel_run "$which" "$mtu"
	done
done
((have_daemon)) && want http && http_run
want rules && rules_run

# ---- the table --------------------------------------------------------------------
table() {
	local metrics=() m mtu t s d ratio
	want iperf && for p in "1 stream" "4 streams"; do for r in up down; do
		metrics+=("iperf3 $r, $p (Gbit/s)")
	done; done
	want wrk && metrics+=("wrk 1 KiB, Connection: close, $WRK_C conns (req/s)"
		"tunnel CPU per connection in the wrk run (us)" "client TIME_WAIT after the wrk run (sockets)")
	want idle && metrics+=("RSS per idle flow, $IDLE_N flows (KiB)" "RSS 5 s after they close, minus start (KiB)")
	want udp && metrics+=("UDP iperf3 -u $UDP_RATE offered, received (Mbit/s)" "UDP loss at $UDP_RATE (%)")
	want dns && metrics+=("DNS A round trip p50 (us)" "DNS A round trip p99 (us)")
	echo
	echo "tun2socks benchmark, $(date -u +%F\ %H:%MZ), $(nproc) cores, ${DUR}s per run; $(uname -r); SOCKS server: $SOCKS_SERVER"
	echo
	rat() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0==a && b+0==b && b>0) printf "%.2f", a/b; else print "n/a" }'; }
	[[ -n $BEFORE_BIN ]] && echo "before: $BEFORE_BIN" && echo
	[[ -n $PEER_BIN ]] && echo "hev: $PEER_BIN" && echo
	local head="| metric | tun2socks" rule="|---|---:" row
	[[ -n $BEFORE_BIN ]] && head+=" | before" && rule+="|---:"
	[[ -n $PEER_BIN ]] && head+=" | hev" && rule+="|---:"
	head+=" | SOCKS-only | no tunnel | ratio tun2socks/SOCKS-only"
	rule+="|---:|---:|---:"
	[[ -n $BEFORE_BIN ]] && head+=" | ratio before/SOCKS-only" && rule+="|---:"
	[[ -n $PEER_BIN ]] && head+=" | ratio hev/SOCKS-only | ratio tun2socks/hev" && rule+="|---:|---:"
	echo "$head |"
	echo "$rule|"
	for mtu in $MTUS; do
		for m in "${metrics[@]}"; do
			t=${R["$m|t2s$mtu"]:-n/a}
			s=${R["$m|socks"]:-n/a}
			d=${R["$m|direct"]:-n/a}
			local b=${R["$m|pre$mtu"]:-n/a} h=${R["$m|hev$mtu"]:-n/a}
			row="| $m, MTU $mtu | $t"
			[[ -n $BEFORE_BIN ]] && row+=" | $b"
			[[ -n $PEER_BIN ]] && row+=" | $h"
			row+=" | $s | $d | $(rat "$t" "$s")"
			[[ -n $BEFORE_BIN ]] && row+=" | $(rat "$b" "$s")"
			[[ -n $PEER_BIN ]] && row+=" | $(rat "$h" "$s") | $(rat "$t" "$h")"
			echo "$row |"
		done
	done
	((have_daemon)) || echo "(no daemon binary at $(daemon_bin): tun2socks not measured)"
	if want http; then
		echo
		echo "| upstream (one daemon, MTU 8500, rules by port) | 1 stream up (Gbit/s) | 1 stream down (Gbit/s) | ratio to SOCKS5 up / down | the proxy alone: curl -p, no TUN, down (Gbit/s) |"
		echo "|---|---:|---:|---:|---:|"
		for u in socks http tls; do
			local a b
			a=${R["1 stream up by upstream (Gbit/s)|$u"]:-n/a}
			b=${R["1 stream down by upstream (Gbit/s)|$u"]:-n/a}
			ratio=$(awk -v a="$a" -v b="$b" -v c="${R["1 stream up by upstream (Gbit/s)|socks"]:-x}" \
				-v d="${R["1 stream down by upstream (Gbit/s)|socks"]:-x}" \
				'BEGIN{ if (a+0==a && c+0==c && c>0 && b+0==b && d+0==d && d>0) printf "%.2f / %.2f", a/c, b/d; else print "n/a" }')
			echo "| $([[ $u == socks ]] && echo "SOCKS5 ($SOCKS_SERVER)" || { [[ $u == http ]] && echo "HTTP CONNECT (tinyproxy)" || echo "TLS (stunnel4 -> tinyproxy)"; }) | $a | $b | $ratio | ${R["curl down|$u"]:-n/a} |"
		done
	fi
	if want rules && [[ -n ${RULES_OUT:-} ]]; then
		echo
		echo '```'
		echo "$RULES_OUT"
		echo '```'
	fi
	echo
	echo "SOCKS-only uses proxychains4, whose synchronous handshake understates connection rate; RSS rows have no baseline."
	echo "UDP: the no-tunnel column is the same iperf3 over the veth; SOCKS-only has no UDP client."
	echo "DNS: tun2socks = fake-ip answers from the daemon (through the TUN); no tunnel = dnsmasq asked directly."
}
table | tee ${OUTFILE:+"$OUTFILE"}
t2s_finish
