#!/usr/bin/env bash
# Scenario 8: SIGTERM (and SIGINT) with flows open: the daemon closes every
# flow (an in-flight download ends at once rather than hanging), releases
# the TUN (tun0 is gone from C) and exits 0.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="sigterm_exit0_tun_gone sigterm_closes_flows sigint_exit0_tun_gone"
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

# flows open at shutdown: one busy download and 20 idle connections
out=$RUN_DIR/slow.out
ip netns exec "$NS_C" curl -q --noproxy '*' -sS --max-time 30 -o "$out" "http://$T4/slow/64m" 2>"$out.err" &
cpid=$!
coproc IDLE { ip netns exec "$NS_C" "$PY" "$T2S_ITEST/tclient.py" idle --host "$T4" --port "$HOLD_PORT" --n 20 --hold 30 2>&1; }
idle_pid=$IDLE_PID
read -r -t 10 line <&"${IDLE[0]}"
log "idle client: ${line:-nothing}"
for ((i = 0; i < 100; i++)); do
	(($(stat -c %s "$out" 2>/dev/null || echo 0) > 100000)) && break
	sleep 0.05
done
log "download at $(stat -c %s "$out" 2>/dev/null || echo 0) bytes; SIGTERM"

# stop_and_check SIGNAL NAME: signal the daemon, expect exit 0 within the
# bound and no TUN left behind.
stop_and_check() {
	local sig=$1 name=$2 t=10 why=
	[[ $DAEMON_WRAP == valgrind ]] && t=60
	T_SIG=$(now)
	kill "-$sig" "$DAEMON_PID"
	if ! wait_gone "$t" "$DAEMON_PID"; then
		why="still running ${t}s after SIG$sig"
		kill -KILL "$DAEMON_PID"
	fi
	wait "$DAEMON_PID"
	DAEMON_RC=$?
	DAEMON_PID=
	log "SIG$sig: exit $DAEMON_RC after $(elapsed "$T_SIG")s"
	[[ -z $why && $DAEMON_RC -ne 0 ]] && why="exit status $DAEMON_RC"
	if ip -n "$NS_C" link show "$TUN" >/dev/null 2>&1; then
		why="${why:+$why; }$TUN still present in $NS_C"
	fi
	if [[ -z $why ]]; then pass "$name"; else fail "$name" "$why"; fi
	if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
		if leak_report_found; then
			for f in "$RUN_DIR"/valgrind.*.log; do [[ -s $f ]] && dump_file valgrind "$f" 60; done
			fail "leakcheck_sig$sig" "sanitizer/valgrind report"
		else
			pass "leakcheck_sig$sig"
		fi
	fi
}

stop_and_check TERM sigterm_exit0_tun_gone
# The reset reaches curl as the daemon exits; 10 s (curl's own limit is
# 30) leaves room for a loaded machine to schedule curl, and still tells
# a reset from a download left hanging.
ended=
t_exit=$(now)
while lt "$(elapsed "$t_exit")" 10; do
	if ! kill -0 "$cpid" 2>/dev/null; then ended=$(elapsed "$T_SIG"); break; fi
	sleep 0.01
done
if [[ -n $ended ]]; then
	wait "$cpid"; rc=$?
	log "download ended ${ended}s after SIGTERM: exit $rc $(head -c 200 "$out.err")"
	if ((rc != 0)); then pass sigterm_closes_flows
	else fail sigterm_closes_flows "download completed?"; fi
else
	kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
	fail sigterm_closes_flows "in-flight download still hanging 10 s after the daemon exited (flows not reset)"
fi
[[ -n ${IDLE_PID:-} ]] && { echo close >&"${IDLE[1]}"; } 2>/dev/null
kill "$idle_pid" 2>/dev/null
wait "$idle_pid" 2>/dev/null

# SIGINT, after one flow
if daemon_start "socks5://$S_IP:$SOCKS_PORT"; then
	fetch_check "http://$T4/1k" "$SHA_1K" || log "fetch before SIGINT failed: $FETCH_ERR"
	stop_and_check INT sigint_exit0_tun_gone
else
	fail sigint_exit0_tun_gone "daemon did not come up again (exit ${DAEMON_RC:-?})"
fi
t2s_finish
