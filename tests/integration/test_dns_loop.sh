#!/usr/bin/env bash
# One DNS query must never hang the daemon (issue 14, item 1).
#
# C's default route goes into the TUN, so a --dns-server that is not on
# the connected /30 is routed into the TUN too: every query the daemon
# forwards comes back to it. It used to forward each one again until
# c-ares held 65 536 queries and spun looking for a free ID (RSS 130 MB,
# SIGTERM ignored).
#
#   daemon #1: --dns-server $LOOP_DNS (routed into the TUN)
#     dns_loop_servfail   dig MX, HTTPS (what browsers send) and A of a
#                         filtered name (printer.lan): SERVFAIL, each within
#                         1.5 s
#     dns_loop_warning    exactly one warning naming the server and the fix
#     dns_loop_flood      5 s of MX queries as fast as 8 sockets send them:
#                         answered SERVFAIL, a fake A answer still comes
#                         during it, peak RSS < 40 MiB
#     dns_loop_sigterm    SIGTERM during such a flood: the daemon exits 0
#                         within 1 s (watchdog)
#   daemon #2: --dns-server $S_IP:$SILENT_PORT (a socket that never answers)
#     dns_silent_cap      5 s of TXT queries (5000/s) from one client: the excess
#                         over the per-client cap is answered SERVFAIL at
#                         once (95 % of all sent), peak RSS < 40 MiB
#     dns_silent_drain    once the upstream's timeouts ran out, nothing is
#                         pending and RSS is back under 16 MiB; SIGTERM
#                         exits 0 within 1 s
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="dns_loop_servfail dns_loop_warning dns_loop_flood dns_loop_sigterm dns_silent_cap
dns_silent_drain"
require_tools dig timeout
LOOP_DNS=192.0.2.53    # nobody serves it; C routes it into the TUN
ANY=192.0.2.99         # where clients send queries (the daemon answers port 53 anywhere)
SILENT_PORT=5354

ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
# Under ASan or valgrind (T2S_LEAK_CHECK) memory and speed are the
# sanitizer's: RSS is only logged, and a smaller share of the flood need
# be answered.
RSS_MAX=40960 DRAIN_MAX=16384 SHARE=2 ALIVE_TRIES=5
# Under the leak checker the daemon is several times slower and ASan keeps
# freed memory on purpose: only leaks and liveness count there (the fake
# answer may come after the flood rather than in it).
if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
	RSS_MAX=99999999 DRAIN_MAX=99999999 SHARE=10 ALIVE_TRIES=15
fi

# rss_kib: the daemon's resident set now (0 when it is gone)
rss_kib() { awk '/^VmRSS/ {print $2; f=1} END {if (!f) print 0}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }

# flood_sampled OUTVAR PEAKVAR ARGS...: runs dns_tool.py flood ARGS in C
# while sampling the daemon's RSS every 100 ms; sets OUTVAR to the tool's
# summary and PEAKVAR to the peak RSS in KiB.
flood_sampled() {
	local -n _out=$1 _peak=$2
	local f=$RUN_DIR/flood.$RANDOM pid r
	shift 2
	cx "$PY" "$T2S_ITEST/dns_tool.py" flood --server "$ANY" "$@" >"$f" 2>&1 &
	pid=$!
	_peak=0
	while kill -0 "$pid" 2>/dev/null; do
		r=$(rss_kib)
		((r > _peak)) && _peak=$r
		sleep 0.1
	done
	wait "$pid"
	_out=$(tail -n 1 "$f")
}

field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

# sigterm_within NAME SECONDS: SIGTERM the daemon, pass NAME if it exits 0
# within SECONDS (polled every 10 ms; SIGKILL after 10 s).
sigterm_within() {
	local name=$1 limit=$2 t0 dt i
	t0=$(now)
	kill -TERM "$DAEMON_PID"
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.01
	done
	dt=$(elapsed "$t0")
	kill -0 "$DAEMON_PID" 2>/dev/null && kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_RC=$?
	DAEMON_PID=
	log "SIGTERM: exit $DAEMON_RC after ${dt}s"
	if lt "$dt" "$limit" && ((DAEMON_RC == 0)); then pass "$name"
	else fail "$name" "exit $DAEMON_RC after ${dt}s (want 0 within ${limit}s)"; fi
}

# ---- daemon #1: the upstream is routed into the TUN --------------------------------
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" --dns-server "$LOOP_DNS"
ok=1 why=
for q in "example.test MX" "www.example.com HTTPS" "printer.lan A"; do
	t0=$(now)
	# shellcheck disable=SC2086
	st=$(cx dig +time=5 +tries=1 "@$ANY" $q 2>&1 | grep -o 'status: [A-Z]*')
	dt=$(elapsed "$t0")
	log "dig $q: '$st' in ${dt}s"
	if [[ $st != "status: SERVFAIL" ]] || ! lt "$dt" 1.5; then
		ok=0 why="${why}dig $q: '${st:-no answer}' in ${dt}s; "
	fi
done
if ((ok)) && daemon_alive; then pass dns_loop_servfail
else fail dns_loop_servfail "${why}$(alive_note)"; fi

n=$(grep -c "DNS server $LOOP_DNS is routed into the TUN" "$DAEMON_LOG")
if ((n == 1)) && grep -q "set --dns-server to a server outside the TUN's routes" "$DAEMON_LOG"; then
	pass dns_loop_warning
else
	fail dns_loop_warning "$n warning lines (want 1 naming $LOOP_DNS and the fix)"
fi

# A fake answer must come in the middle of the flood: the loop thread is
# not stuck (a few tries: the flood fills the TUN's queue, which drops).
(sleep 2; cx dig +time=1 +tries="$ALIVE_TRIES" +short "@$ANY" alive.example.test A \
	>"$RUN_DIR/alive.out" 2>&1) &
alive_pid=$!
flood_sampled out peak --qtype MX --seconds 5 --sockets 8 --drain 3
wait "$alive_pid"
# (dig prints a line per try that timed out before the answer: the
# first address is the answer, else the first line says what went wrong)
alive=$(grep -m 1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' "$RUN_DIR/alive.out" || head -n 1 "$RUN_DIR/alive.out")
log "flood: $out; peak RSS ${peak} KiB; fake answer during it: '$alive'"
sent=$(field sent "$out") sf=$(field servfail "$out") ne=$(field noerror "$out")
if [[ -n $sent ]] && ((sent > 1000 && sf * SHARE > sent && ne == 0 && peak < RSS_MAX)) &&
	[[ $alive == 198.1[89].* ]] && daemon_alive; then
	pass dns_loop_flood
else
	fail dns_loop_flood "$out; peak RSS ${peak} KiB (want < 40960); fake answer '$alive'$(alive_note)"
fi

cx "$PY" "$T2S_ITEST/dns_tool.py" flood --server "$ANY" --qtype HTTPS --seconds 10 --drain 0 \
	>/dev/null 2>&1 &
flood_pid=$!
sleep 1.5
sigterm_within dns_loop_sigterm 1.0
kill "$flood_pid" 2>/dev/null
wait "$flood_pid" 2>/dev/null

# ---- daemon #2: a silent upstream ----------------------------------------------------
sx "$PY" -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("'"$S_IP"'",'"$SILENT_PORT"')); time.sleep(600)' &
SRV_PID[silent]=$!
start_or_fail "dns_silent_cap dns_silent_drain" "socks5://$S_IP:$SOCKS_PORT" \
	--dns-server "$S_IP:$SILENT_PORT"
base=$(rss_kib)
flood_sampled out peak --qtype TXT --seconds 5 --sockets 8 --rate 5000 --drain 1
log "silent flood: $out; RSS ${base} KiB before, peak ${peak} KiB"
sent=$(field sent "$out") sf=$(field servfail "$out")
# 256 may wait at once (the per-client cap), each for c-ares' timeouts:
# the rest must have been answered SERVFAIL at once (but for the few the
# kernel's queues dropped at this rate).
if [[ -n $sent ]] && ((sent > 1000 && sf * 100 >= sent * 95 && peak < RSS_MAX)) && daemon_alive; then
	pass dns_silent_cap
else
	fail dns_silent_cap "$out; peak RSS ${peak} KiB (want < 40960; SERVFAIL for all but the cap)$(alive_note)"
fi
sleep 12 # c-ares' tries run out; the trim timer gives memory back
after=$(rss_kib)
log "RSS ${after} KiB after the queries timed out"
if ((after < DRAIN_MAX)); then
	sigterm_within dns_silent_drain 1.0
	grep -E "dns: [0-9]+ queries" "$DAEMON_LOG" | tail -n 1 >&2
else
	fail dns_silent_drain "RSS ${after} KiB once the queries ended (want < 16384)"
fi
daemon_finish
t2s_finish
