#!/usr/bin/env bash
# TCP keepalive on upstream sockets (keep-alive-idle, keep-alive-interval,
# disable-keep-alive; docs/design.md §12). An upstream whose socket is gone
# without a word reaching us (its host rebooted, its RST lost, an orphan
# reset while our window was shut) looks alive from our side: we send it
# nothing while the flow is idle. The idle client's flow and its upstream
# socket would be held until the idle timeout (2 h).
#
#   keepalive_finds_gone_upstream  with keep-alive-idle: 2 and
#                                  keep-alive-interval: 1, the daemon's
#                                  socket to danted carries a keepalive
#                                  timer once the flow is a second old
#                                  (short flows skip the system calls);
#                                  danted's end of one idle flow is
#                                  killed (ss -K) behind a blackhole route,
#                                  so its RST never arrives. The next probe
#                                  meets danted's kernel, which answers RST:
#                                  the client's connection is reset within
#                                  seconds and the daemon's socket is gone
#   keepalive_udp_control          a UDP session's control connection to
#                                  danted (idle for the session's life) has
#                                  its keepalive timer from the start
#   keepalive_off_after_reload     disable-keep-alive: true by SIGHUP: a new
#                                  flow's upstream socket has no keepalive,
#                                  and the same silent kill leaves it (and
#                                  the client's connection) open
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="keepalive_finds_gone_upstream keepalive_udp_control keepalive_off_after_reload"
UDP_PORT=7777
setup_servers "$NAMES"
CONF=$RUN_DIR/config.yaml
write_conf() { # extra top-level line
	cat >"$CONF" <<EOC
keep-alive-idle: 2
keep-alive-interval: 1
$1
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT, udp: true }
rules:
  - MATCH,dante
EOC
}
write_conf ""
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"

# the daemon's established sockets to danted, with their timers (-o), but
# the one at local address SKIP (the UDP session's, once there is one)
SKIP=
upstreams() {
	cx ss -Htno state established dst "$S_IP:$SOCKS_PORT" |
		if [[ -n $SKIP ]]; then grep -vF " $SKIP "; else cat; fi
}

IDLE_PID=
IDLE_OUT=
# idle_flow N: a client connects to the sink's hold port through the tunnel
# and waits for the connection to end; returns once the daemon holds its
# upstream socket
idle_flow() {
	local i
	IDLE_OUT=$RUN_DIR/idle$1.out
	# not through cx (a function): $! must be the client itself
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/tclient.py" idlewait --host "$T4" --port "$HOLD_PORT" \
		--timeout $((60 * SLOW)) >"$IDLE_OUT" 2>&1 &
	IDLE_PID=$!
	for ((i = 0; i < 100 * SLOW; i++)); do
		(($(upstreams | wc -l) >= 1)) && return 0
		sleep 0.1
	done
	return 1
}

# keepalive_timer S: waits until the daemon's socket to danted shows a
# keepalive timer (at most S seconds); prints its line of ss
keepalive_timer() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		upstreams | grep -q 'timer:(keepalive' && break
		sleep 0.1
	done
	upstreams
}

# silent_kill: danted's kernel drops its end of the flow's connection
# (the one upstreams lists) with an RST that a blackhole route keeps from
# leaving; prints how many it dropped
silent_kill() {
	local n port
	port=$(upstreams | awk 'NR == 1 { sub(/.*:/, "", $3); print $3 }')
	sx ip route add blackhole "$C_IP/32"
	n=$(sx ss -HK -tn state established "( sport = :$SOCKS_PORT and dport = :${port:-0} )" | wc -l)
	sx ip route del blackhole "$C_IP/32"
	echo "$n"
}

# wait_idle_end SECONDS: until the client's connection ends; prints the
# seconds it took, or nothing
wait_idle_end() {
	local t0 i
	t0=$(now)
	for ((i = 0; i < $1 * 10; i++)); do
		if ! kill -0 "$IDLE_PID" 2>/dev/null; then
			elapsed "$t0"
			return 0
		fi
		sleep 0.1
	done
}

# ---- 1: found by the probes -------------------------------------------------------------
if ! idle_flow 1; then
	fail keepalive_finds_gone_upstream "the idle flow's upstream never appeared: $(cat "$IDLE_OUT")$(alive_note)"
else
	timers=$(keepalive_timer $((5 * SLOW)))
	log "upstream: $timers"
	killed=$(silent_kill)
	took=$(wait_idle_end $((20 * SLOW)))
	left=$(upstreams | wc -l)
	kill "$IDLE_PID" 2>/dev/null
	wait "$IDLE_PID" 2>/dev/null
	log "killed $killed of danted's sockets silently; the client's connection ended after ${took:-(not)}s: $(cat "$IDLE_OUT"); $left upstreams left"
	if [[ $timers != *"timer:(keepalive"* ]]; then
		fail keepalive_finds_gone_upstream "no keepalive timer on the daemon's upstream socket: $timers"
	elif ((killed != 1)); then
		fail keepalive_finds_gone_upstream "ss -K killed $killed of danted's sockets, want 1"
	elif [[ -z $took ]] || ! grep -q "ConnectionResetError" "$IDLE_OUT"; then
		fail keepalive_finds_gone_upstream "the client's connection was not reset within $((20 * SLOW)) s of its upstream going: $(cat "$IDLE_OUT")$(alive_note)"
	elif ((left != 0)); then
		fail keepalive_finds_gone_upstream "the daemon still holds $left upstream sockets"
	else
		pass keepalive_finds_gone_upstream
	fi
fi

# ---- 2: a UDP session's control connection ---------------------------------------------
# (no TCP flow is left: a socket to danted now is the session's)
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --port "$UDP_PORT" \
	>"$RUN_DIR/udp_server.out" 2>&1 &
SRV_PID[udp_echo]=$!
if ! wait_listen "$NS_S" udp "$T4" "$UDP_PORT" 10 "${SRV_PID[udp_echo]}"; then
	fail keepalive_udp_control "the UDP echo server did not start"
else
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/udp_tool.py" echo --target "$T4" --port "$UDP_PORT" \
		--count 30 --max-size 100 --gap 0.1 >"$RUN_DIR/udp.out" 2>&1 &
	UDP_PID=$!
	ctl=
	for ((i = 0; i < 20 * SLOW; i++)); do
		ctl=$(upstreams)
		[[ -n $ctl ]] && break
		sleep 0.1
	done
	wait "$UDP_PID"
	rc=$?
	log "UDP echo: exit $rc, $(tail -n 1 "$RUN_DIR/udp.out"); control connection: $ctl"
	if ((rc != 0)); then
		fail keepalive_udp_control "UDP echo through the session failed: $(tail -n 3 "$RUN_DIR/udp.out")$(alive_note)"
	elif [[ $ctl != *"timer:(keepalive"* ]]; then
		fail keepalive_udp_control "no keepalive timer on the session's control connection: ${ctl:-(none seen)}"
	else
		pass keepalive_udp_control
	fi
	SKIP=$(awk '{ print $3 }' <<<"$ctl")
fi

# ---- 3: off, by a reload ----------------------------------------------------------------
write_conf "disable-keep-alive: true"
kill -HUP "$DAEMON_PID"
if ! wait_daemon_log "keepalive off" $((10 * SLOW)); then
	fail keepalive_off_after_reload "the reload did not turn keepalive off$(alive_note)"
elif ! idle_flow 2; then
	fail keepalive_off_after_reload "the idle flow's upstream never appeared: $(cat "$IDLE_OUT")$(alive_note)"
else
	# twice the age at which a flow's socket gets its keepalive
	timers=$(keepalive_timer 2)
	killed=$(silent_kill)
	# three rounds of the probes the first part was ended by
	took=$(wait_idle_end $((6 * SLOW)))
	left=$(upstreams | wc -l)
	log "upstream: $timers; killed $killed silently; the client's connection: ${took:+ended after ${took}s}${took:-still open}; $left upstreams left"
	if [[ $timers == *"timer:(keepalive"* ]]; then
		fail keepalive_off_after_reload "a keepalive timer on the new upstream socket: $timers"
	elif ((killed != 1)); then
		fail keepalive_off_after_reload "ss -K killed $killed of danted's sockets, want 1"
	elif [[ -n $took ]] || ((left != 1)); then
		fail keepalive_off_after_reload "with keepalive off the flow ended anyway (after ${took:-?}s: $(cat "$IDLE_OUT")); $left upstreams left$(alive_note)"
	else
		pass keepalive_off_after_reload
	fi
fi
kill "$IDLE_PID" 2>/dev/null
wait "$IDLE_PID" 2>/dev/null
daemon_finish
t2s_finish
