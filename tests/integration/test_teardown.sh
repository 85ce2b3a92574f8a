#!/usr/bin/env bash
# Teardown stress (issue 14): many flows with data in flight, all reset at
# once. Run it plain and with T2S_LEAK_CHECK=1 (ASan daemon from
# build-asan/): freeing thousands of flows in one loop turn is where a
# use-after-free or a leaked flow would show.
#
#   teardown_proxy_killed  TEARDOWN_FLOWS (default 10 000) downloads of
#                          /64m whose clients read nothing (so the data sits
#                          in the daemon's and the sockets' buffers); danted
#                          is SIGKILLed with all its children. Its kernel
#                          ends each connection with a FIN where all it had
#                          sent fit in our window (the bytes wait in our
#                          socket for the client: the daemon keeps those),
#                          and holds the others as orphans in FIN-WAIT-1
#                          behind our zero window; those are then reset (ss
#                          -K in the server's namespace, as its kernel does
#                          when orphans run over tcp_max_orphans). Then the
#                          daemon holds no more descriptors than its own
#                          plus the upstreams that ended with a FIN or are
#                          still established: none for a reset one (noticed
#                          although its flow is not reading: docs/design.md
#                          §12), and once the clients are gone, its own
#                          only. It lives on, and once danted is back
#                          serves a new fetch
#   teardown_sigterm       the same load again on the same daemon, then
#                          SIGTERM with every flow still open: it exits 0,
#                          and under T2S_LEAK_CHECK=1 with no ASan error or
#                          leak report (daemon_stop checks its log)
#
# 10 000 held on 2 busy cores (other builds and tests beside it), plain and
# under ASan: 9 100 of them open at the first reset, about 2 minutes in all.
# The clients start all their connects at once and drop those not connected
# within 30 s (soak_tool.py getall), so the count is bounded by time: at
# least half of the flows must be open when the reset comes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="teardown_proxy_killed teardown_sigterm"
N=${TEARDOWN_FLOWS:-10000}
OPEN_S=$((60 * SLOW))
setup_servers "$NAMES"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

HOLD=
# hold OUT: N clients ask for /64m and read nothing; waits until they are
# all open (or OPEN_S passed) and the data had a second to pile up. Sets
# HOLD (the client's pid) and opened (the number of open ones): not in a
# command substitution, whose subshell would keep HOLD to itself.
hold() {
	local out=$1 i
	: >"$out"
	# not through cx (a function): $! must be the client itself
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/soak_tool.py" getall "$T4" "$N" 600 >"$out" 2>&1 &
	HOLD=$!
	for ((i = 0; i < OPEN_S * 10; i++)); do
		grep -q '^opened=' "$out" && break
		kill -0 "$HOLD" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	opened=$(sed -n 's/^opened=//p' "$out")
}
# flows_in_daemon: descriptors the daemon holds (one upstream socket a flow)
flows_in_daemon() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# upstreams STATE: the daemon's sockets to danted in that TCP state
upstreams() { cx ss -Htn state "$1" dst "$S_IP:$SOCKS_PORT" | wc -l; }
# fds_settle MAX SECONDS: waits until the daemon holds at most MAX
# descriptors; prints the last count
fds_settle() {
	local max=$1 i n
	for ((i = 0; i < $2 * 10; i++)); do
		n=$(flows_in_daemon)
		((n <= max)) && break
		sleep 0.1
	done
	echo "$n"
}
unhold() {
	[[ -n $HOLD ]] || return 0
	kill "$HOLD" 2>/dev/null
	wait "$HOLD" 2>/dev/null
	HOLD=
}

# ---- 1: the proxy dies under all of them ------------------------------------------------
base=$(flows_in_daemon) # the daemon's own: TUN, loop, DNS, listeners
hold "$RUN_DIR/hold1.out"
fds=$(flows_in_daemon)
log "hold 1: opened=${opened:-?} of $N, daemon holds $fds descriptors ($base its own); SIGKILL danted"
kill_dante
# children danted forked while being killed escape kill_dante's list of
# its tree: kill those left in the server's namespace by their pid
for p in $(ip netns pids "$NS_S"); do
	[[ $(cat "/proc/$p/comm" 2>/dev/null) == danted ]] && kill -KILL "$p" 2>/dev/null
done
sleep $((3 * SLOW))
fds2=$(flows_in_daemon)
fin=$(upstreams close-wait)
log "after the kill: daemon holds $fds2 descriptors; upstreams: $fin ended with a FIN," \
	"$(upstreams established) established (orphans in danted's kernel behind our zero window)"
log "danted's side: $(sx ss -Htan "( sport = :$SOCKS_PORT )" | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' ')"
orphans=$(sx ss -HK -tn state fin-wait-1 "( sport = :$SOCKS_PORT )" | wc -l)
# The orphans ss reset (established in danted's kernel behind our zero
# window) are upstreams the daemon polled while paused: they must be let go
# (without the fix a reset upstream of a paused flow is never noticed; nine
# in ten within the minute, beside stress-ng a few were still queued). A
# reset that does not reach us (outside our shut window) is found by the
# upstream socket's keepalive, 15 s on (docs/design.md §12): once, before
# it, 94 of 188 were still held at the minute.
# What else it holds is not bounded here: an upstream danted's kernel reset
# at the kill keeps the bytes it received before, owed to a client that is
# not reading, and is in no TCP table (state CLOSE) for ss to count. Up to a
# minute: with 10 000 stalled flows the daemon can be busy for seconds
# refilling lwIP a few kilobytes at a time (README, "What the limits
# cost"), more beside stress-ng.
est=$(upstreams established)
fin=$(upstreams close-wait)
fds3=$(fds_settle $((fds2 - orphans * 9 / 10 + 10)) $((60 * SLOW)))
log "$orphans orphans reset: daemon holds $fds3 descriptors (was $fds2), $est upstreams established, $fin ended with a FIN;" \
	"all its upstreams: $(cx ss -Htan dst "$S_IP:$SOCKS_PORT" | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' ')"
alive=0
daemon_alive && alive=1
unhold
# 10 000 resets at once may overflow the TUN's queue (8192), and the
# daemon may be busy (above): the flows of resets dropped end when lwIP's
# next zero-window probe meets the clients' kernel, up to a minute apart,
# or, for a flow with nothing left to send (its FIN acknowledged), when
# the daemon's probe of a silent half-closed client does, after 15 s
# (docs/design.md §12; without it ~100 such flows stayed, one run in three)
fds4=$(fds_settle $((base + 10)) $((90 * SLOW)))
log "clients gone: daemon holds $fds4 descriptors"
start_dante none || fail_all "$NAMES" "danted did not restart"
fetch_check "http://$T4/1k" "$SHA_1K"
fetched=$?
if ((alive && fetched == 0 && ${opened:-0} >= N / 2 &&
	fds3 <= fds2 - orphans * 9 / 10 + 10 && fds4 <= base + 10)); then
	pass teardown_proxy_killed
else
	fail teardown_proxy_killed "opened ${opened:-?} of $N, alive $alive, fetch $fetched, descriptors $fds3 after $orphans orphans' reset (want <= $fds2 - 9/10 of $orphans + 10), $fds4 once the clients left (want <= $base + 10)${FETCH_ERR:+; $FETCH_ERR}$(alive_note)"
fi

# ---- 2: SIGTERM with all of them open ---------------------------------------------------
hold "$RUN_DIR/hold2.out"
log "hold 2: opened=${opened:-?} of $N, daemon holds $(flows_in_daemon) descriptors; SIGTERM"
stopped=0
daemon_stop $((30 * SLOW)) && stopped=1
unhold
if ((stopped && ${opened:-0} >= N / 2)); then
	pass teardown_sigterm
else
	why="exit ${DAEMON_RC:-?}"
	leak_report_found && why="$why, sanitizer report"
	fail teardown_sigterm "opened ${opened:-?} of $N, $why"
fi
t2s_finish
