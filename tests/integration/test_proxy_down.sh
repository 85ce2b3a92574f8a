#!/usr/bin/env bash
# Scenario 7: the SOCKS server is down when a flow starts: the connection
# to it is refused, so the client must fail well under the connect timeout
# (10 s here). Then the server comes back and flows work again. Also: a
# proxy that never answers (SYNs dropped) makes the client fail after
# --connect-timeout, not later.
# The daemon checks the proxy at start-up, so it starts with danted up; danted
# is stopped before the flow (the daemon's --no-proxy-check is used only for
# the black-hole case).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="proxy_down_fast_fail proxy_up_recovers connect_timeout_honored"
FAST=2
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" --connect-timeout 10
fetch_check "http://$T4/1k" "$SHA_1K" || log "sanity fetch with danted up failed: $FETCH_ERR"
stop_server danted

if sx ss -Hltn | grep -q "$S_IP:$SOCKS_PORT "; then
	fail proxy_down_fast_fail "something still listens on $S_IP:$SOCKS_PORT"
else
	t0=$(now)
	err=$(ccurl --max-time 10 -o /dev/null "http://$T4/1k" 2>&1)
	rc=$?
	el=$(elapsed "$t0")
	log "proxy down: curl exit $rc in ${el}s: $err"
	if ((rc == 0)); then fail proxy_down_fast_fail "download succeeded with no proxy"
	elif ! lt "$el" "$FAST"; then fail proxy_down_fast_fail "curl failed only after ${el}s (exit $rc), want < ${FAST}s"
	elif ! daemon_alive; then fail proxy_down_fast_fail "the daemon died"
	else pass proxy_down_fast_fail; fi
fi

if ! start_dante none; then
	fail proxy_up_recovers "danted did not start"
elif fetch_check "http://$T4/1k" "$SHA_1K"; then
	pass proxy_up_recovers
else
	fail proxy_up_recovers "$FETCH_ERR$(alive_note)"
fi
daemon_finish

# A black hole: C routes 198.19.9.6 to S, which does not forward and drops
# the SYNs silently (no ICMP with forwarding off).
HOLE=198.19.9.6
ip -n "$NS_C" route add "$HOLE/32" via "$S_IP"
CT=2
extra=()
"$(daemon_bin)" --help 2>&1 | grep -q -- --no-proxy-check && extra=(--no-proxy-check)
start_or_fail connect_timeout_honored "socks5://$HOLE:$SOCKS_PORT" --connect-timeout "$CT" "${extra[@]}"
t0=$(now)
err=$(ccurl --max-time 20 -o /dev/null "http://$T4/1k" 2>&1)
rc=$?
el=$(elapsed "$t0")
log "black-holed proxy: curl exit $rc in ${el}s: $err"
if ((rc == 0)); then fail connect_timeout_honored "download succeeded through a black hole?"
elif lt "$el" 1.5 || ! lt "$el" $((CT + 3)); then
	fail connect_timeout_honored "curl failed after ${el}s (exit $rc), want about ${CT}s (1.5..$((CT + 3)))"
elif ! daemon_alive; then fail connect_timeout_honored "the daemon died"
else pass connect_timeout_honored; fi

daemon_finish
t2s_finish
