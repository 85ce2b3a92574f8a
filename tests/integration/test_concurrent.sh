#!/usr/bin/env bash
# Scenario 5: 500 connections open at the same time (a barrier holds them
# until all are connected), each fetching /1k; all 500 bodies verified.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="concurrent_500"
N=${T2S_CONCURRENT:-500}
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

out=$(cx "$PY" "$T2S_ITEST/tclient.py" concurrent --host "$T4" --port "$HTTP_PORT" --path /1k \
	--n "$N" --sha256 "$SHA_1K" --timeout $((60 * SLOW)) --barrier-timeout $((30 * SLOW)) 2>&1)
rc=$?
log "client: $out"
if ((rc == 0)); then pass concurrent_500
else fail concurrent_500 "$(head -n 1 <<<"$out")$(alive_note)"; fi

# every flow should be closed soon after (the daemon logs closed flows)
sleep 1
log "closed-flow lines: $(flow_lines | wc -l)"
daemon_finish
t2s_finish
