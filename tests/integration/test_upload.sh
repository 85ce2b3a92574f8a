#!/usr/bin/env bash
# Scenario 2: 64 MiB upload through the tunnel; the sink in S answers with the
# sha256 and length of what it received.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="upload_64m"
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

want="$SHA_64M $((64 << 20))"
t0=$(now)
reply=$(ccurl --max-time "$FETCH_TIMEOUT" -H 'Expect:' -T "$RUN_DIR/www/64m" "http://$T4:$SINK_PORT/upload" 2>&1)
rc=$?
el=$(elapsed "$t0")
if ((rc == 0)) && [[ $reply == "$want" ]]; then
	log "64 MiB up in ${el}s"
	pass upload_64m
else
	# where it stopped: the daemon's line for the flow (bytes it moved
	# up; written when curl gave up and reset it) and the kernel's view
	sleep 1
	flow=$(grep -E "flow#[0-9]+ .*:$SINK_PORT" "$DAEMON_LOG" | tail -1)
	log "sockets in C: $(cx ss -tni 2>/dev/null | head -20)"
	fail upload_64m "curl exit $rc after ${el}s, sink replied '${reply:0:160}', want '$want'; daemon: ${flow:-no line for the flow}$(alive_note)"
fi

daemon_finish
t2s_finish
