#!/usr/bin/env bash
# What each limit costs, and what it saves: figures for the limits of
# docs/design.md §12, measured on the integration-test topology
# (tests/integration/lib.sh; needs root), each beside the same load
# without the limit where the limit can be switched off:
#
#   half-open cap     RSS growth over 60 000 spoofed SYNs (never answered),
#                     and the time of a 1 KiB fetch during the flood
#   memory budget     peak RSS of the soaks of tests/integration/test_limits.sh
#                     (300 stalled downloads, SYN, UDP-port and DNS floods,
#                     with --max-memory 32 and without; 5 000 stalled
#                     downloads started at once and the same floods, with
#                     --max-memory 50 and without)
#   teardown          TEARDOWN_FLOWS (10 000) downloads whose clients read
#                     nothing, all reset at once by their clients (killed):
#                     time until the daemon holds only its own descriptors
#                     again, and its RSS then beside its RSS before; and
#                     SIGTERM with as many open: time to exit, beside
#                     SIGTERM with none open
#   TUN queue         5 000 connects started at once: time until all are
#                     connected, with the TUN's queue of 8192 and with the
#                     kernel's default of 500 (set back with ip link)
#   in-flight share   one 64 MiB download, and 50 concurrent 4 MiB ones:
#                     wall time with --max-memory 32 and without (what the
#                     share of the budget costs a fast client)
#
# Prints a markdown table. Not a test: it exits 0 unless set-up fails.
#   bash bench/bench_limits.sh [-o FILE]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by lib.sh
T2S_GROUP=bench
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
OUTFILE=
while getopts o:h opt; do
	case $opt in
	o) OUTFILE=$OPTARG ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
t2s_init
require_tools danted nginx
topo_up
make_data 64
start_nginx || die "nginx"
start_dante none || die "danted"
sx "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$S_IP', 5353))
while True:
    s.recv(4096)" >/dev/null 2>&1 &
SRV_PID[silent_dns]=$!
say() { printf '%s\n' "$*" >&2; }
rows=()
row() { rows+=("| $1 | $2 | $3 |"); say "  $1: $2 / $3"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null; }
ms() { date +%s%3N; }

# ---- half-open cap -----------------------------------------------------------
daemon_start "socks5://$S_IP:$SOCKS_PORT" || die "daemon"
r0=$(rss_kb)
cx "$PY" "$T2S_ITEST/syn_flood.py" "$T4" 60000 >/dev/null 2>&1 &
flood=$!
sleep 0.5
t0=$(ms)
cx curl -q --noproxy '*' -sS -o /dev/null --max-time 20 "http://$T4/1k"
t1=$(ms)
wait "$flood"
r1=$(rss_kb)
daemon_stop
reset=$(sed -n 's/.* \([0-9]*\) half-open connections reset.*/\1/p' "$DAEMON_LOG" | tail -1)
row "60 000 SYNs, half-open cap 2048" "RSS +$(((r1 - r0) / 1024)) MiB, ${reset:-0} reset; 1 KiB fetch during it: $((t1 - t0)) ms" \
	"RSS +12 MiB without the cap (measured once with the cap compiled out)"

# ---- the TUN's queue: a burst of connects ---------------------------------------
daemon_start "socks5://$S_IP:$SOCKS_PORT" || die "daemon"
b_big=$(cx "$PY" "$T2S_ITEST/soak_tool.py" burst "$T4" 80 5000 2>&1)
sleep 2
ip -n "$NS_C" link set "$TUN" txqueuelen 500
b_small=$(cx "$PY" "$T2S_ITEST/soak_tool.py" burst "$T4" 80 5000 2>&1)
daemon_stop
row "5 000 connects at once" "queue 8192: $b_big" "queue 500: $b_small"

# ---- memory budget: the soaks ---------------------------------------------------
# soak SECONDS DNS_SECONDS TOOL_ARGS -- DAEMON_ARGS: peak RSS in kB of the
# soak (soak_tool.py TOOL_ARGS beside the SYN, DNS and UDP-port floods,
# RSS sampled for SECONDS), the daemon started with DAEMON_ARGS, and the
# downloads the tool opened: "KB OPENED"
soak() {
	local secs=$1 dns_secs=$2 sampler slow flood dnsf tool=()
	shift 2
	while (($#)) && [[ $1 != -- ]]; do tool+=("$1"); shift; done
	shift
	daemon_start "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP:5353" "$@" || die "daemon"
	cx "$PY" "$T2S_ITEST/soak_tool.py" rss "$DAEMON_PID" "$secs" "$RUN_DIR/rss.txt" &
	sampler=$!
	cx "$PY" "$T2S_ITEST/soak_tool.py" "${tool[@]}" >"$RUN_DIR/soak.out" 2>&1 &
	slow=$!
	cx "$PY" "$T2S_ITEST/syn_flood.py" "$T4" 30000 >/dev/null 2>&1 &
	flood=$!
	cx "$PY" "$T2S_ITEST/dns_tool.py" flood --server 198.18.0.2 --qtype TXT --seconds "$dns_secs" \
		--drain 0 >/dev/null 2>&1 &
	dnsf=$!
	cx "$PY" "$T2S_ITEST/soak_tool.py" udpports "$T4" 7777 2000 >/dev/null 2>&1
	wait "$slow" "$flood" "$dnsf" "$sampler"
	daemon_stop
	echo "$(sort -n -k2 "$RUN_DIR/rss.txt" | tail -1 | awk '{print $2}') $(sed -n 's/^opened=//p' "$RUN_DIR/soak.out")"
}
read -r with o_with <<<"$(soak 14 8 slowget "$T4" 300 10 -- --max-memory 32)"
read -r without o_without <<<"$(soak 14 8 slowget "$T4" 300 10 --)"
row "soak: 300 stalled downloads + SYN, UDP, DNS floods" \
	"peak RSS $((with / 1024)) MiB with --max-memory 32 (${o_with:-?} opened)" \
	"$((without / 1024)) MiB without (${o_without:-?} opened)"
read -r with o_with <<<"$(soak 40 10 getall "$T4" 5000 15 -- --max-memory 50)"
read -r without o_without <<<"$(soak 40 10 getall "$T4" 5000 15 --)"
row "soak: 5 000 stalled downloads + SYN, UDP, DNS floods" \
	"peak RSS $((with / 1024)) MiB with --max-memory 50 (${o_with:-?} opened)" \
	"$((without / 1024)) MiB without (${o_without:-?} opened)"

# ---- teardown: many flows reset at once --------------------------------------------
N=${TEARDOWN_FLOWS:-10000}
fds() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
HOLD=
hold() { # N clients ask for /64m and read nothing; sets HOLD (their pid) and opened
	local i
	: >"$RUN_DIR/hold.out"
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/soak_tool.py" getall "$T4" "$N" 600 >"$RUN_DIR/hold.out" 2>&1 &
	HOLD=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^opened=' "$RUN_DIR/hold.out" && break
		sleep 0.1
	done
	sleep 1
	opened=$(sed -n 's/^opened=//p' "$RUN_DIR/hold.out")
}
daemon_start "socks5://$S_IP:$SOCKS_PORT" || die "daemon"
base=$(fds)
r_idle=$(rss_kb)
hold
opened1=$opened
r0=$(rss_kb)
held=$(($(fds) - base))
t0=$(ms)
kill "$HOLD"
wait "$HOLD" 2>/dev/null
# 90%: the resets that reached lwIP; all: also those the TUN's queue
# (8192) dropped in the burst, whose flows end when lwIP's next
# zero-window probe meets the client's kernel (up to a minute apart)
t_90=
while (($(fds) > base + 10 && $(ms) - t0 < 180000)); do
	[[ -z $t_90 ]] && (($(fds) - base <= held / 10)) && t_90=$(($(ms) - t0))
	sleep 0.05
done
t_free=$(($(ms) - t0))
[[ -n $t_90 ]] || t_90=$t_free
sleep 3 # the 2 s trim returns the memory
r1=$(rss_kb)
hold
opened2=$opened
t0=$(ms)
daemon_stop 60
t_term=$(($(ms) - t0))
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
daemon_start "socks5://$S_IP:$SOCKS_PORT" || die "daemon"
t0=$(ms)
daemon_stop
t_idle=$(($(ms) - t0))
row "teardown: ${opened1:-?} stalled downloads reset at once by their clients" \
	"descriptors 90% released in $t_90 ms, all in $t_free ms; RSS $((r0 / 1024)) MiB while held, $((r1 / 1024)) MiB 3 s after" \
	"RSS $((r_idle / 1024)) MiB before the downloads"
row "SIGTERM with ${opened2:-?} stalled downloads open" "exit after $t_term ms" "$t_idle ms with none open"

# ---- what the in-flight share costs a fast client ------------------------------
fetch_ms() { # wall ms of N concurrent fetches of PATH
	local n=$1 path=$2 t0 i pids=()
	t0=$(ms)
	for ((i = 0; i < n; i++)); do
		cx curl -q --noproxy '*' -sS -o /dev/null --max-time 120 "http://$T4/$path" &
		pids+=($!)
	done
	wait "${pids[@]}"
	echo $(($(ms) - t0))
}
declare -A one=() many=()
head -c $((4 << 20)) "$RUN_DIR/www/64m" >"$RUN_DIR/www/4m"
for cfg in budget none; do
	args=()
	[[ $cfg == budget ]] && args=(--max-memory 32)
	daemon_start "socks5://$S_IP:$SOCKS_PORT" "${args[@]}" || die "daemon"
	one[$cfg]=$(fetch_ms 1 64m)
	many[$cfg]=$(fetch_ms 50 4m)
	daemon_stop
done
row "one 64 MiB download" "${one[budget]} ms with --max-memory 32" "${one[none]} ms without"
row "50 concurrent 4 MiB downloads" "${many[budget]} ms with --max-memory 32" "${many[none]} ms without"

{
	echo "| limit, load | with the limit | without |"
	echo "|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee ${OUTFILE:+"$OUTFILE"}
t2s_finish >/dev/null 2>&1
exit 0
