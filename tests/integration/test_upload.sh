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
	fail upload_64m "curl exit $rc after ${el}s, sink replied '${reply:0:160}', want '$want'$(alive_note)"
fi

daemon_finish
t2s_finish
