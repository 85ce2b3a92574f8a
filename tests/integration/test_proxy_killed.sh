#!/usr/bin/env bash
# Scenario 6: the SOCKS server is SIGKILLed (with all its children) in the
# middle of a download: the client's connection must end (reset or closed
# short of Content-Length) within 3 s (the resets come at once; the bound
# leaves room for a loaded 2-core machine). Then danted is restarted and new flows
# work again through the same daemon.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="proxy_killed_midtransfer proxy_restart_recovers"
LIMIT=${T2S_RESET_LIMIT:-$((3 * SLOW))}
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

# nginx sends /slow/ at 1 MB/s, so the buffers between nginx and curl are
# nearly empty when danted dies: the daemon sees the upstream end at once.
out=$RUN_DIR/slow.out
ip netns exec "$NS_C" curl -q --noproxy '*' -sS --max-time 60 -o "$out" "http://$T4/slow/64m" 2>"$out.err" &
cpid=$!
got=0
for ((i = 0; i < 200; i++)); do
	got=$(stat -c %s "$out" 2>/dev/null || echo 0)
	((got > 300000)) && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.05
done
if ((got <= 300000)); then
	kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
	fail_all "$NAMES" "download never got going ($got bytes: $(head -c 200 "$out.err"))$(alive_note)"
fi
log "download in progress ($got bytes); SIGKILL danted tree: $(pid_tree "${SRV_PID[danted]}" | tr '\n' ' ')"
t0=$(now)
kill_tree KILL "${SRV_PID[danted]}"
ended=
for ((i = 0; i < 1000; i++)); do   # 10 s at most
	if ! kill -0 "$cpid" 2>/dev/null; then ended=$(elapsed "$t0"); break; fi
	sleep 0.01
done
if [[ -z $ended ]]; then
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	fail proxy_killed_midtransfer "client still connected 10 s after danted was killed ($(stat -c %s "$out") bytes)$(alive_note)"
else
	wait "$cpid"
	rc=$?
	size=$(stat -c %s "$out" 2>/dev/null || echo 0)
	log "curl ended ${ended}s after the kill: exit $rc, $size bytes, $(head -c 200 "$out.err")"
	if ((rc == 0)); then
		fail proxy_killed_midtransfer "curl reported success ($size bytes) after the proxy died"
	elif ! lt "$ended" "$LIMIT"; then
		fail proxy_killed_midtransfer "connection ended ${ended}s after the kill (curl exit $rc), want < ${LIMIT}s"
	elif ! daemon_alive; then
		fail proxy_killed_midtransfer "connection ended but the daemon died"
	else
		pass proxy_killed_midtransfer
	fi
fi
# reap what danted left and bring it back on the same port
wait "${SRV_PID[danted]}" 2>/dev/null
unset "SRV_PID[danted]"

if ! start_dante none; then
	fail proxy_restart_recovers "danted did not restart"
elif fetch_check "http://$T4/1k" "$SHA_1K" && fetch_check "http://$T4/64m" "$SHA_64M"; then
	pass proxy_restart_recovers
else
	fail proxy_restart_recovers "after restart: $FETCH_ERR$(alive_note)"
fi

daemon_finish
t2s_finish
