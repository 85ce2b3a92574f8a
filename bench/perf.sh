#!/usr/bin/env bash
# Where the daemon's CPU goes during a download (upstream -> lwIP -> TUN):
# perf record of the daemon while iperf3 -R runs through it, on the
# integration-test topology (tests/integration/lib.sh; needs root and perf).
# Prints, per MTU: the throughput, the daemon's CPU time per GB, its
# system calls per MB moved (perf stat on the syscall tracepoints: reads,
# writes, epoll waits), its TUN writes (from its stop line: GSO
# super-packets and the segments they carried) and the top symbols of the
# profile.
# Not a test: it always exits 0 unless set-up fails.
#
# Usage: bash bench/perf.sh [-d SECONDS] [-m "1500 8500"] [-P STREAMS] [-b BINARY] [-n TOP] [-o FILE] [-k DIR]
#   -d  seconds of iperf3 per MTU (default 5)
#   -m  TUN MTUs (default "1500 8500")
#   -P  iperf3 streams (default 1)
#   -b  also profile this daemon binary (e.g. a build of an earlier
#       commit), right before the current one
#   -n  symbols shown per profile (default 25)
#   -o  also write the report to FILE
#   -k  keep the perf.data files in DIR (for perf annotate)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by lib.sh
T2S_GROUP=perf
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

DUR=5
MTUS="1500 8500"
STREAMS=1
BEFORE_BIN=
TOP=25
OUTFILE=
KEEP=
while getopts d:m:P:b:n:o:k:h opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	m) MTUS=$OPTARG ;;
	P) STREAMS=$OPTARG ;;
	b) BEFORE_BIN=$OPTARG ;;
	n) TOP=$OPTARG ;;
	o) OUTFILE=$OPTARG ;;
	k) KEEP=$OPTARG ;;
	*) sed -n '2,/^set -uo/{/^set -uo/!p}' "$0"; exit 2 ;;
	esac
done
((DUR >= 1 && DUR <= 60)) || die "-d must be 1..60"
[[ -z $BEFORE_BIN || -x $BEFORE_BIN ]] || die "-b $BEFORE_BIN: not an executable"

t2s_init
require_tools iperf3 danted perf
require_daemon || die "no daemon binary $(daemon_bin)"
IPERF_PORT=5201
topo_up
start_dante none || die "danted"
sx iperf3 -s -B "$T4" -p "$IPERF_PORT" >"$RUN_DIR/iperf3-server.log" 2>&1 &
SRV_PID["iperf3"]=$!
wait_listen "$NS_S" tcp "$T4" "$IPERF_PORT" 5 "${SRV_PID[iperf3]}" || die "iperf3 server"
assert_isolated

say() { printf '%s\n' "$*" >&2; }
SYSCALL_EVENTS=
for sc in read readv recvfrom recvmsg write writev sendto sendmsg epoll_wait epoll_pwait epoll_pwait2; do
	SYSCALL_EVENTS+=${SYSCALL_EVENTS:+,}syscalls:sys_enter_$sc
done
REPORT=$RUN_DIR/report.txt
: >"$REPORT"

# profile LABEL MTU: one daemon (T2S_BIN if set), one download under perf.
profile() {
	local label=$1 mtu=$2 data=$RUN_DIR/perf.$1.$2.data out=$RUN_DIR/iperf.$1.$2.json
	local t0 t1 gbits line from
	from=$(($(wc -l <"$DAEMON_LOG") + 1))
	if ! T2S_LOG_LEVEL=info daemon_start "socks5://$S_IP:$SOCKS_PORT" --mtu "$mtu" --dns off; then
		say "  daemon did not start"
		return
	fi
	t0=$(cpu_ticks "$DAEMON_PID")
	perf record -q -g -F 999 -o "$data" -p "$DAEMON_PID" -- sleep $((DUR + 1)) >/dev/null 2>&1 &
	local perf_pid=$!
	perf stat -x, -o "$data.stat" -e "$SYSCALL_EVENTS" -p "$DAEMON_PID" -- sleep $((DUR + 1)) \
		>/dev/null 2>&1 &
	local stat_pid=$!
	sleep 0.5
	timeout $((DUR + 30)) ip netns exec "$NS_C" iperf3 -c "$T4" -p "$IPERF_PORT" -t "$DUR" \
		-P "$STREAMS" -R -J >"$out" 2>&1
	t1=$(cpu_ticks "$DAEMON_PID")
	wait "$perf_pid" "$stat_pid"
	daemon_stop || say "  daemon exit status $DAEMON_RC"
	gbits=$("$PY" -c 'import json,sys
try: print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("err")' "$out")
	# this daemon's stop line only (an earlier binary may print none)
	line=$(tail -n +"$from" "$DAEMON_LOG" | grep -E 'info +tun: [0-9]+ packets out' | tail -n 1 |
		sed -E 's/.*info +//')
	{
		echo "== $label ($(daemon_bin)), MTU $mtu, $STREAMS stream(s) down: $gbits Gbit/s"
		awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v g="$gbits" -v d="$DUR" \
			'BEGIN{ if (g+0 > 0) printf "daemon CPU: %.2f s in %d s, %.2f CPU-s per GB\n", t/hz, d, (t/hz)/(g*d/8); }'
		echo "TUN writes: ${line:-(no stop line)}"
		# perf stat -x: count,,event,...
		awk -F, -v g="$gbits" -v d="$DUR" '
			$3 ~ /^syscalls:sys_enter_/ { n = $1 + 0; e = $3; sub(/.*sys_enter_/, "", e)
				if (e ~ /^(read|readv|recvfrom|recvmsg)$/) r += n
				else if (e ~ /^(write|writev|sendto|sendmsg)$/) w += n
				else p += n; if (n > 0) parts = parts sprintf(" %s %d", e, n) }
			END { mb = g * d / 8 * 1000; if (mb > 0)
				printf "system calls per MB: %.1f reads, %.1f writes, %.1f epoll waits (in all:%s)\n", r / mb, w / mb, p / mb, parts }' "$data.stat"
		echo
		perf report -i "$data" --stdio --no-children --sort symbol --percent-limit 0.5 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n "$TOP"
		echo
	} | tee -a "$REPORT" >&2
	if [[ -n $KEEP ]]; then
		mkdir -p "$KEEP" && cp "$data" "$KEEP/"
	fi
}

for mtu in $MTUS; do
	if [[ -n $BEFORE_BIN ]]; then
		say "== before: $BEFORE_BIN, MTU $mtu"
		T2S_BIN=$BEFORE_BIN profile before "$mtu"
	fi
	say "== tun2socks, MTU $mtu"
	profile tun2socks "$mtu"
done
{
	echo "perf profile of the daemon during iperf3 -R, $(date -u +%F\ %H:%MZ), $(nproc) cores, ${DUR}s; $(uname -r)"
	echo
	cat "$REPORT"
} >"$RUN_DIR/final.txt"
[[ -n $OUTFILE ]] && cp "$RUN_DIR/final.txt" "$OUTFILE"
echo "report: ${OUTFILE:-$RUN_DIR/final.txt}" >&2
t2s_finish
