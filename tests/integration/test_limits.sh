#!/usr/bin/env bash
# Limits under floods (issue 14, items 4 and 5).
#
#   limits_syn_flood_capped  60 000 SYNs from addresses that never answer
#                            the SYN-ACK: the daemon holds at most its cap of
#                            half-open connections (the oldest reset first,
#                            counted at exit), its RSS grows by less than 6 MB
#                            (12 MB without the cap), and a fetch during the flood works
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="limits_syn_flood_capped"
setup_servers "$NAMES"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null; }
rss0=$(rss_kb)
cx "$PY" "$T2S_ITEST/syn_flood.py" "$T4" 60000 >"$RUN_DIR/flood.out" 2>&1 &
FLOOD=$!
sleep 0.5
fetch_check "http://$T4/1k" "$SHA_1K"
during=$?
wait "$FLOOD"
rss1=$(rss_kb)
fetch_check "http://$T4/1k" "$SHA_1K"
after=$?
daemon_stop
dropped=$(sed -n 's/.* \([0-9]*\) half-open connections reset: over the cap.*/\1/p' "$DAEMON_LOG")
log "flood: $(cat "$RUN_DIR/flood.out"); RSS ${rss0} -> ${rss1} kB; reset ${dropped:-0}"
if [[ -n $rss0 && -n $rss1 ]] && ((${dropped:-0} > 10000 && rss1 - rss0 < 6144 &&
	during == 0 && after == 0 && DAEMON_RC == 0)); then
	pass limits_syn_flood_capped
else
	fail limits_syn_flood_capped "RSS $rss0 -> $rss1 kB, ${dropped:-0} reset, fetch during $during after $after, exit $DAEMON_RC${FETCH_ERR:+; $FETCH_ERR}"
fi
t2s_finish
