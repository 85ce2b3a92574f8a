#!/usr/bin/env bash
# Limits under floods (issue 14, items 4 and 5).
#
#   limits_syn_flood_capped  60 000 SYNs from addresses that never answer
#                            the SYN-ACK: the daemon holds at most its cap of
#                            half-open connections (the oldest reset first,
#                            counted at exit), its RSS grows by less than 6 MB
#                            (12 MB without the cap), and a fetch during the flood works
#   limits_memory_soak       --max-memory 32: 300 downloads whose clients
#                            read nothing, a SYN flood, UDP from 2 000
#                            ports and a flood of TXT queries to a silent
#                            upstream, all at once for about 10 s: RSS
#                            (sampled every 0.1 s, kept in rss.txt) never
#                            passes 36 MiB (the heap budget plus an eighth
#                            for code and stacks), the daemon sheds and says so,
#                            and serves a fetch afterwards (without the
#                            budget the same load takes it past 300 MiB)
#
# For looking closer: SOAK_PARTS=slow,syn,dns,udp picks the soak's loads,
# SOAK_NOMAX=1 runs it without the budget (then limits_memory_soak fails;
# bench/bench_limits.sh prints both).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="limits_syn_flood_capped limits_memory_soak"
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
# ---- the memory budget under everything at once ----------------------------------------
# a silent DNS upstream: it reads and never answers
sx "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$S_IP', 5353))
while True:
    s.recv(4096)" >/dev/null 2>&1 &
SRV_PID[silent_dns]=$!
MAX_MB=32
BUDGET=(--max-memory "$MAX_MB")
[[ -n ${SOAK_NOMAX:-} ]] && BUDGET=()
if daemon_start "socks5://$S_IP:$SOCKS_PORT" "${BUDGET[@]}" --dns-server "$S_IP:5353"; then
	cx "$PY" "$T2S_ITEST/soak_tool.py" rss "$DAEMON_PID" 16 "$RUN_DIR/rss.txt" &
	SAMPLER=$!
	P=${SOAK_PARTS:-slow,syn,dns,udp}
	SLOW= FLOOD= DNSF=
	[[ $P == *slow* ]] && { cx "$PY" "$T2S_ITEST/soak_tool.py" slowget "$T4" 300 10 >"$RUN_DIR/slowget.out" 2>&1 & SLOW=$!; }
	[[ $P == *syn* ]] && { cx "$PY" "$T2S_ITEST/syn_flood.py" "$T4" 30000 >/dev/null 2>&1 & FLOOD=$!; }
	[[ $P == *dns* ]] && { cx "$PY" "$T2S_ITEST/dns_tool.py" flood --server 198.18.0.2 --qtype TXT --seconds 8 \
		--drain 0 >"$RUN_DIR/dnsflood.out" 2>&1 & DNSF=$!; }
	[[ $P == *udp* ]] && cx "$PY" "$T2S_ITEST/soak_tool.py" udpports "$T4" 7777 2000 >/dev/null 2>&1
	wait $SLOW $FLOOD $DNSF
	sleep 1
	fetch_check "http://$T4/1k" "$SHA_1K"
	fetched=$?
	wait "$SAMPLER"
	daemon_stop
	peak=$(sort -n -k2 "$RUN_DIR/rss.txt" | tail -1 | awk '{print $2}')
	log "soak: $(cat "$RUN_DIR/slowget.out"); peak RSS ${peak:-?} kB of $((MAX_MB * 1024)); $(grep -c . "$RUN_DIR/rss.txt") samples"
	log "$(grep -E 'memory|half-open|dns: [0-9]* queries' "$DAEMON_LOG" | tail -6)"
	# The budget counts the heap, checked every 250 ms; the binary, its
	# libraries and stacks come on top: RSS may pass it by an eighth.
	if [[ -n $peak ]] && ((peak < MAX_MB * 1024 * 9 / 8 && fetched == 0 && DAEMON_RC == 0)) &&
		[[ $(sed -n 's/opened=//p' "$RUN_DIR/slowget.out") -ge 100 ]]; then
		pass limits_memory_soak
	else
		fail limits_memory_soak "peak RSS ${peak:-?} kB (budget $((MAX_MB * 1024))), fetch $fetched, exit $DAEMON_RC${FETCH_ERR:+; $FETCH_ERR}; $(head -c 100 "$RUN_DIR/slowget.out")"
	fi
else
	fail limits_memory_soak "daemon did not start"
fi
t2s_finish
