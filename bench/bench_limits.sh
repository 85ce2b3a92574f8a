#!/usr/bin/env bash
# What each limit costs, and what it saves: figures for the limits of
# docs/design.md §12, measured on the integration-test topology
# (tests/integration/lib.sh; needs root), each beside the same load
# without the limit where the limit can be switched off:
#
#   half-open cap     RSS growth over 60 000 spoofed SYNs (never answered),
#                     and the time of a 1 KiB fetch during the flood
#   memory budget     peak RSS of the soak of tests/integration/test_limits.sh
#                     (300 stalled downloads, SYN, UDP-port and DNS floods),
#                     with --max-memory 32 and without
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

# ---- memory budget: the soak --------------------------------------------------
soak() { # peak RSS in kB of the soak, the daemon started with "$@"
	local sampler slow flood dnsf
	daemon_start "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP:5353" "$@" || die "daemon"
	cx "$PY" "$T2S_ITEST/soak_tool.py" rss "$DAEMON_PID" 14 "$RUN_DIR/rss.txt" &
	sampler=$!
	cx "$PY" "$T2S_ITEST/soak_tool.py" slowget "$T4" 300 10 >/dev/null 2>&1 &
	slow=$!
	cx "$PY" "$T2S_ITEST/syn_flood.py" "$T4" 30000 >/dev/null 2>&1 &
	flood=$!
	cx "$PY" "$T2S_ITEST/dns_tool.py" flood --server 198.18.0.2 --qtype TXT --seconds 8 \
		--drain 0 >/dev/null 2>&1 &
	dnsf=$!
	cx "$PY" "$T2S_ITEST/soak_tool.py" udpports "$T4" 7777 2000 >/dev/null 2>&1
	wait "$slow" "$flood" "$dnsf" "$sampler"
	daemon_stop
	sort -n -k2 "$RUN_DIR/rss.txt" | tail -1 | awk '{print $2}'
}
with=$(soak --max-memory 32)
without=$(soak)
row "soak: 300 stalled downloads + SYN, UDP, DNS floods" "peak RSS $((with / 1024)) MiB with --max-memory 32" \
	"$((without / 1024)) MiB without"

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
