#!/usr/bin/env bash
# `tun2socks run -- CMD` (issue 16): CMD in a network namespace of its own
# whose only route is a TUN the daemon serves from outside. run itself is
# started in C, which reaches danted at $S_IP over the veth and nothing
# else; CMD reaches the targets only through run's TUN.
#
#   run_curl_by_name     curl http://www.example.test/1k inside: right bytes;
#                        the SOCKS5 CONNECT carried the name (danted's log)
#   run_dig_fake         dig inside is answered by the interceptor: an
#                        address from the fake range, never asked upstream
#   run_host_resolver_hidden  a host resolver's socket (nscd's) is covered:
#                        CMD cannot resolve behind the TUN's back
#   run_exit_status      exit 7 -> 7; killed by SIGTERM -> 143; a missing
#                        CMD -> 127; an unreachable proxy -> 125, CMD never
#                        started
#   run_sigint           SIGINT to run reaches CMD (its handler's status)
#   run_static           a statically linked C client (gcc -static, built
#                        here) fetches through the TUN: no LD_PRELOAD
#   run_go               a static Go client (CGO_ENABLED=0: Go's own
#                        resolver and syscalls) fetches by name
#   run_udp              a UDP echo through danted's UDP ASSOCIATE
#   run_leftovers        a background child CMD leaves behind is stopped
#                        when CMD exits; CMD's namespace has no process left
#   run_cmd_killed       CMD SIGKILLed: run exits 137, nothing left
#   run_daemon_killed    the daemon SIGKILLed: CMD is stopped, run exits 125
#   run_supervisor_killed  run itself SIGKILLed: CMD and the daemon go too
#   run_host_untouched   during and after the runs: C's links, routes (v4,
#                        v6) and resolv.conf, the host's resolv.conf and
#                        mounts are as before; a curl from C straight to
#                        danted works meanwhile
#   run_concurrent       two runs at once with different configs: one
#                        fetches, the other's rule rejects the same name
#   run_process_name     PROCESS-NAME rules see CMD's processes (the daemon
#                        asks a sock_diag socket made in CMD's namespace):
#                        curl is rejected by its rule, python3 fetches
#   run_allow_host_port  --allow-host-port N: CMD's 127.0.0.1:N reaches an
#                        echo service on C's 127.0.0.1:N; without it, refused
#   run_control_api      the Clash API of a run (its config's
#                        external-controller): /connections and `ctl
#                        connections` list CMD's download with host, rule
#                        and chain, and nothing else (not C's own
#                        connection, not the other run's)
#   run_control_api_own  a second run at once, same external-controller in
#                        its config, given --controller 127.0.0.1:0 and
#                        --secret: its own port, its own secret (A's: 401),
#                        only its own CMD's connection
#   run_controller_busy  a third run on A's address, or on A's
#                        external-controller-unix: exit 125 naming it, CMD
#                        never started, A's API (TCP and unix) unaffected
#   run_abort            SIGINT while the daemon is still starting (its
#                        proxy probe waits on a black hole): run exits 130
#                        at once, CMD never started, nothing left
#   run_unprivileged     as an unprivileged user (user namespaces): the
#                        fetch by name works and CMD has the user's uid;
#                        skipped with the reason when the kernel refuses
# shellcheck disable=SC2016 # CMD's own scripts expand inside run
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="run_curl_by_name run_dig_fake run_host_resolver_hidden run_exit_status run_sigint run_static run_go run_udp
run_leftovers run_cmd_killed run_daemon_killed run_supervisor_killed run_host_untouched
run_concurrent run_process_name run_allow_host_port run_control_api run_control_api_own
run_controller_busy run_abort run_unprivileged"
require_tools dig dnsmasq timeout tcpdump gcc setpriv unshare
UDP_PORT=7777
ns_resolv "$NS_S" "$S_IP" # danted resolves names with dnsmasq
# C's resolver is a local one, as with systemd-resolved: CMD can only
# resolve through the resolv.conf run gives it (its lo is its own).
mkdir -p "/etc/netns/$NS_C"
printf 'nameserver 127.0.0.53\nsearch example.test\noptions timeout:2 attempts:1\n' \
	>"/etc/netns/$NS_C/resolv.conf"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
BIN=$(daemon_bin)
PROXY=socks5://$S_IP:$SOCKS_PORT
URL=http://www.example.test/1k
: >"$DAEMON_LOG"

# trun ARGS... -- CMD...: `tun2socks run` in C (30 s at most), its log in
# the daemon log. SIGINT/SIGQUIT as from a terminal (a background job of a
# script starts with them ignored).
TRUN_WRAP=() # a command to start run under, in C
trun() {
	cx "${TRUN_WRAP[@]}" timeout -s KILL $((30 * SLOW)) env --default-signal=INT,QUIT "$BIN" run \
		--log-level "${T2S_LOG_LEVEL:-info}" "$@" 2>>"${TRUN_ERR:-$DAEMON_LOG}"
}

# The state of C and of the host that run must leave alone.
snapshot() {
	{
		cx ip -o link show | sed 's/^[0-9]*: //; s/ link\/.*//'
		cx ip route show
		cx ip -6 route show
		cx cat /etc/resolv.conf
		stat -L -c '%i %s %Y' /etc/resolv.conf
		cat /etc/resolv.conf
		# (other than the namespaces `ip netns` pins: tests running
		# beside this one add and remove theirs)
		awk '$5 !~ "^/run/netns/" {print $4, $5, $9}' /proc/1/mountinfo
		awk '$5 !~ "^/run/netns/" {print $4, $5, $9}' /proc/self/mountinfo
	} 2>&1
}
BEFORE=$(snapshot)

# in_range ADDR CIDR
in_range() { "$PY" -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$2"; }

# netns_procs INODE: pids whose network namespace is INODE
netns_procs() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(stat -L -c %i "$p/ns/net" 2>/dev/null) == "$1" ]] && echo "${p#/proc/}"
	done
}

# ---- by name, DNS ----------------------------------------------------------------
cx tcpdump -i v0 -n -U --immediate-mode -s 0 -w "$RUN_DIR/uplink.pcap" "port $SOCKS_PORT" \
	>"$RUN_DIR/tcpdump.log" 2>&1 &
SRV_PID[tcpdump]=$!
# Capturing once it says so (a fixed half second was not always enough on
# a loaded machine: the CONNECT went by before the capture began).
wait_log "$RUN_DIR/tcpdump.log" "listening on" $((10 * SLOW)) ||
	log "tcpdump did not say it listens: $(head -c 200 "$RUN_DIR/tcpdump.log")"
out=$RUN_DIR/curl.out
trun --proxy "$PROXY" -- curl -q --noproxy '*' -sS --max-time 20 -o "$out" "$URL"
rc=$?
got=$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)
sleep 0.3
stop_server tcpdump
# The SOCKS5 CONNECT carried the name (ATYP 3), not an address: it is in
# the request on the wire, danted looked it up (dnsmasq's log: a query
# from danted's address), and the daemon's line for the flow names it:
# "closed", or "reset" when CMD's exit stopped the daemon before the proxy
# had answered curl's FIN (the flow ends with the daemon either way).
sent=$(tcpdump -r "$RUN_DIR/uplink.pcap" -n -A "dst port $SOCKS_PORT" 2>/dev/null | grep -c "www.example.test")
asked=$(grep -c "query\[A\] www.example.test from $S_IP" "$RUN_DIR/dnsmasq.log")
if ((rc == 0 && sent > 0 && asked > 0)) && [[ $got == "$SHA_1K" ]] &&
	grep -qE "flow#[0-9]+ (closed|reset) .* -> www\.example\.test:80 " "$DAEMON_LOG"; then
	pass run_curl_by_name
else
	fail run_curl_by_name "exit $rc, sha ${got:-none}, name in the SOCKS request: $sent, danted's queries: $asked"
fi

# By resolv.conf, with its search list: "fake-only" is fake-only.example.test.
out=$(trun --proxy "$PROXY" -- sh -c 'dig +short +search +time=3 +tries=1 fake-only A; cat /etc/resolv.conf')
rc=$?
a=$(head -1 <<<"$out")
if ((rc == 0)) && [[ -n $a ]] && in_range "$a" 198.18.0.0/15 &&
	grep -qx "nameserver 198.18.0.2" <<<"$out" && grep -qx "search example.test" <<<"$out" &&
	! grep -q "fake-only" "$RUN_DIR/dnsmasq.log"; then
	pass run_dig_fake
else
	fail run_dig_fake "exit $rc, answer '$a', dnsmasq asked: $(grep -c fake-only "$RUN_DIR/dnsmasq.log"), inside: $(tr '\n' ' ' <<<"$out")"
fi

# A resolver socket of the host (nscd's here; systemd-resolved's varlink
# socket is handled alike) would answer CMD's lookups outside the TUN: run
# covers it. Made in a mount namespace of the test's own, over /run. One
# python process holds the listener and makes both probes, so the listener
# lives exactly as long as the probes (a background listener once vanished
# before the first probe on a loaded CI machine).
out=$(cx unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/nscd || exit 9
	exec "$@"' sh "$PY" -c '
import socket, subprocess, sys
probe = """import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/run/nscd/socket"); print("reached")
except OSError as e:
    print("refused", e.strerror)"""
listener = socket.socket(socket.AF_UNIX)
listener.bind("/run/nscd/socket")
listener.listen(8)
exec(probe)
sys.stdout.flush()
r = subprocess.run(sys.argv[1:] + ["--", sys.executable, "-c", probe])
if r.returncode:
    print("run-exit", r.returncode)' timeout -s KILL $((30 * SLOW)) "$BIN" run --proxy "$PROXY" \
	2>>"$DAEMON_LOG")
if [[ $(sed -n 1p <<<"$out") == reached && $(sed -n 2p <<<"$out") == refused* ]]; then
	pass run_host_resolver_hidden
else
	fail run_host_resolver_hidden "outside, then inside: $(tr '\n' ' ' <<<"$out") (want reached refused)"
fi

# ---- exit status ---------------------------------------------------------------------
trun --proxy "$PROXY" -- sh -c 'exit 7'
r7=$?
trun --proxy "$PROXY" -- sh -c 'kill -TERM $$'
r143=$?
trun --proxy "$PROXY" -- /nonexistent/cmd
r127=$?
marker=$RUN_DIR/never-ran
trun --proxy "socks5://$S_IP:1" -- touch "$marker"
r125=$?
if ((r7 == 7 && r143 == 143 && r127 == 127 && r125 == 125)) && [[ ! -e $marker ]]; then
	pass run_exit_status
else
	fail run_exit_status "exit 7 -> $r7, SIGTERM -> $r143, missing -> $r127, bad proxy -> $r125$([[ -e $marker ]] && echo ', CMD ran')"
fi

# ---- SIGINT ------------------------------------------------------------------------------
ready=$RUN_DIR/sigint.ready
trun --proxy "$PROXY" -- "$PY" -c '
import os, signal, sys, time
signal.signal(signal.SIGINT, lambda *a: sys.exit(42))
open(sys.argv[1], "w").write("%d" % os.getppid())
time.sleep(30)
sys.exit(1)' "$ready" &
pid=$!
for ((i = 0; i < 200; i++)); do [[ -s $ready ]] && break; sleep 0.05; done
rpid=$(cat "$ready" 2>/dev/null) # CMD's parent: run
[[ -n $rpid ]] && kill -INT "$rpid"
wait "$pid"
rc=$?
if [[ -n $rpid ]] && ((rc == 42)); then
	pass run_sigint
else
	fail run_sigint "exit $rc (want 42: CMD's SIGINT handler), run pid ${rpid:-?}"
fi

# ---- a static binary ---------------------------------------------------------------------
cat >"$RUN_DIR/getc.c" <<'EOF'
/* GET http://ADDR:PORT/PATH with plain socket calls; prints the body's size. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static char buf[1 << 20];
int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[256], *end;
	size_t total = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 2;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", argv[3]);
	if (write(fd, req, strlen(req)) < 0)
		return 3;
	while (total < sizeof(buf) && (n = read(fd, buf + total, sizeof(buf) - total)) > 0)
		total += (size_t)n;
	end = memmem(buf, total, "\r\n\r\n", 4);
	printf("%ld\n", end ? (long)(total - (size_t)(end + 4 - buf)) : -1L);
	return 0;
}
EOF
if ! gcc -static -O1 -o "$RUN_DIR/getc" "$RUN_DIR/getc.c" 2>"$RUN_DIR/gcc.log"; then
	fail run_static "gcc -static failed: $(head -c 200 "$RUN_DIR/gcc.log")" nodump
elif file "$RUN_DIR/getc" 2>/dev/null | grep -q dynamic; then
	fail run_static "the client is not static" nodump
else
	size=$(trun --proxy "$PROXY" -- "$RUN_DIR/getc" "$T4" "$HTTP_PORT" /1k)
	rc=$?
	if ((rc == 0)) && [[ $size == 1024 ]]; then
		pass run_static
	else
		fail run_static "exit $rc, body '$size' (want 1024)"
	fi
fi

# ---- a Go program ---------------------------------------------------------------------------
# Go's own resolver (CGO_ENABLED=0: static, no libc) reads CMD's
# resolv.conf and asks the TUN; its sockets are plain syscalls.
mkdir -p "$RUN_DIR/goget"
cat >"$RUN_DIR/goget/main.go" <<'EOF'
// GET URL without any proxy from the environment; prints status and size.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	r, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(r.Body)
	fmt.Println(r.StatusCode, len(b))
}
EOF
if ! command -v go >/dev/null; then
	fail run_go "no Go toolchain (scripts/install-test-deps.sh installs golang-go)" nodump
elif ! (cd "$RUN_DIR/goget" && env HOME="$RUN_DIR" GOCACHE="${T2S_GOCACHE:-/tmp/t2s-gocache}" GOPROXY=off \
	CGO_ENABLED=0 timeout $((300 * SLOW)) go build -o "$RUN_DIR/goget/goget" main.go) >"$RUN_DIR/go.log" 2>&1; then
	fail run_go "go build failed: $(head -c 300 "$RUN_DIR/go.log")" nodump
elif file "$RUN_DIR/goget/goget" 2>/dev/null | grep -q dynamic; then
	fail run_go "the Go client is not static" nodump
else
	out=$(trun --proxy "$PROXY" -- "$RUN_DIR/goget/goget" "$URL")
	rc=$?
	if ((rc == 0)) && [[ $out == "200 1024" ]]; then
		pass run_go
	else
		fail run_go "exit $rc, out '$out' (want 200 1024)"
	fi
fi

# ---- UDP --------------------------------------------------------------------------------------
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --port "$UDP_PORT" \
	>"$RUN_DIR/udpecho.log" 2>&1 &
SRV_PID[udpecho]=$!
wait_listen "$NS_S" udp "$T4" "$UDP_PORT" 10 "${SRV_PID[udpecho]}"
out=$(trun --proxy "$PROXY" -- "$PY" "$T2S_ITEST/udp_tool.py" echo --target "$T4" --port "$UDP_PORT" \
	--count 20 --max-size 1200 --timeout 3 2>&1)
rc=$?
if ((rc == 0)) && grep -q "ok=20 " <<<"$out"; then
	pass run_udp
else
	fail run_udp "exit $rc: $(tail -c 200 <<<"$out")"
fi
stop_server udpecho

# ---- leftovers and kills -------------------------------------------------------------------
# leftover: CMD starts a background sleep and exits at once
info=$RUN_DIR/leftover
trun --proxy "$PROXY" -- sh -c 'sleep 300 & echo "$! $(stat -L -c %i /proc/self/ns/net)" >"$1"; exit 0' sh "$info"
rc=$?
read -r spid ns <"$info" 2>/dev/null
left=$(netns_procs "${ns:-0}")
if ((rc == 0)) && [[ -n ${spid:-} ]] && ! kill -0 "$spid" 2>/dev/null && [[ -z $left ]]; then
	pass run_leftovers
else
	fail run_leftovers "exit $rc, sleep ${spid:-?} alive: $(kill -0 "${spid:-0}" 2>/dev/null && echo yes || echo no), left in its namespace: ${left:-none}"
fi

# start_sleeper NAME: run -- sleep in the background; sets SL_PID (the
# subshell), SL_RUN (tun2socks run), SL_CMD (sleep), SL_DAEMON, SL_NS.
start_sleeper() {
	local f=$RUN_DIR/$1.pid i
	trun --proxy "$PROXY" -- sh -c 'stat -L -c %i /proc/self/ns/net >"$1.ns"; echo $$ >"$1"; exec sleep 300' sh "$f" &
	SL_PID=$!
	for ((i = 0; i < 200; i++)); do [[ -s $f ]] && break; sleep 0.05; done
	SL_CMD=$(cat "$f" 2>/dev/null)
	SL_NS=$(cat "$f.ns" 2>/dev/null)
	SL_RUN=$(ps -o ppid= -p "${SL_CMD:-0}" 2>/dev/null | tr -d ' ')
	SL_DAEMON=$(pgrep -P "${SL_RUN:-0}" -x tun2socks | head -1)
}

# gone_after PIDS...: 0 when none of them exists within 5 s
gone_after() { wait_gone 5 "$@"; }

start_sleeper killcmd
kill -KILL "$SL_CMD" 2>/dev/null
wait "$SL_PID"
rc=$?
if ((rc == 137)) && gone_after "$SL_RUN" "$SL_DAEMON" && [[ -z $(netns_procs "${SL_NS:-0}") ]]; then
	pass run_cmd_killed
else
	fail run_cmd_killed "exit $rc (want 137), run ${SL_RUN:-?} daemon ${SL_DAEMON:-?}"
fi

start_sleeper killdaemon
kill -KILL "$SL_DAEMON" 2>/dev/null
wait "$SL_PID"
rc=$?
if ((rc == 125)) && gone_after "$SL_CMD" "$SL_RUN" && [[ -z $(netns_procs "${SL_NS:-0}") ]]; then
	pass run_daemon_killed
else
	fail run_daemon_killed "exit $rc (want 125), CMD ${SL_CMD:-?} daemon ${SL_DAEMON:-?}"
fi

start_sleeper killrun
kill -KILL "$SL_RUN" 2>/dev/null
wait "$SL_PID"
if [[ -n $SL_DAEMON && -n $SL_CMD ]] && gone_after "$SL_CMD" "$SL_DAEMON" &&
	[[ -z $(netns_procs "${SL_NS:-0}") ]]; then
	pass run_supervisor_killed
else
	fail run_supervisor_killed "CMD ${SL_CMD:-?} or daemon ${SL_DAEMON:-?} still there"
fi

# ---- the host ----------------------------------------------------------------------------
# run starts from a mount namespace whose mounts are shared (as systemd
# makes the host's): a mount CMD's child made without cutting propagation
# first would show up in run's own namespace.
mounts() { awk '{print $5, $9, $10}' "$1" | sort; }
TRUN_WRAP=(unshare -m --propagation shared)
OUTER=$(cx "${TRUN_WRAP[@]}" cat /proc/self/mountinfo | awk '{print $5, $9, $10}' | sort)
start_sleeper host
TRUN_WRAP=()
RUN_MOUNTS=$(mounts "/proc/${SL_RUN:-0}/mountinfo")
DURING=$(snapshot)
direct=$(cx env -u no_proxy -u NO_PROXY curl -q -sS --max-time 10 -x "socks5h://$S_IP:$SOCKS_PORT" \
	-o /dev/null -w '%{http_code}' "$URL" 2>&1)
kill -TERM "$SL_RUN"
wait "$SL_PID"
rc=$?
sleep 0.2
AFTER=$(snapshot)
if [[ $BEFORE == "$DURING" && $BEFORE == "$AFTER" && $OUTER == "$RUN_MOUNTS" && $direct == 200 ]] &&
	((rc == 143)); then
	pass run_host_untouched
else
	fail run_host_untouched "direct curl $direct, run exit $rc (want 143: SIGTERM passed on to sleep), during: $(diff <(echo "$BEFORE") <(echo "$DURING") | head -5 | tr '\n' ' '), after: $(diff <(echo "$BEFORE") <(echo "$AFTER") | head -5 | tr '\n' ' '), run's mounts: $(diff <(echo "$OUTER") <(echo "$RUN_MOUNTS") | head -5 | tr '\n' ' ')"
fi

# ---- PROCESS-NAME inside ---------------------------------------------------------------------
printf 'rules:\n  - PROCESS-NAME,curl,REJECT\n  - MATCH,dante\nproxies:\n  - {name: dante, type: socks5, server: %s, port: %s}\n' \
	"$S_IP" "$SOCKS_PORT" >"$RUN_DIR/p.yaml"
pyget='import sys, urllib.request
print(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=10).status)'
out=$(trun -c "$RUN_DIR/p.yaml" -- sh -c 'curl -q --noproxy "*" -sS --max-time 10 -o /dev/null -w "curl %{http_code}\n" "$1" 2>/dev/null || echo "curl failed"; echo "python $(python3 -c "$2" "$1" 2>&1 | tail -1)"' sh "$URL" "$pyget")
rc=$?
if ((rc == 0)) && grep -q '^curl failed$' <<<"$out" && grep -q '^python 200$' <<<"$out" &&
	grep -q 'via REJECT \[PROCESS-NAME,curl,REJECT\]' "$DAEMON_LOG"; then
	pass run_process_name
else
	fail run_process_name "exit $rc: $(tr '\n' ' ' <<<"$out")"
fi

# ---- a host loopback port, forwarded -----------------------------------------------------------
cx "$PY" "$T2S_ITEST/echo_tool.py" serve --bind 127.0.0.1 --port 9876 >/dev/null 2>&1 &
SRV_PID[lo_echo]=$!
wait_listen "$NS_C" tcp 127.0.0.1 9876 5
hello='import socket
try:
    s = socket.create_connection(("127.0.0.1", 9876), timeout=5)
    s.sendall(b"hello\n")
    print(s.makefile().readline().strip())
except OSError as e:
    print("error", e.errno)'
with=$(trun --proxy "$PROXY" --allow-host-port 9876 -- python3 -c "$hello")
rc1=$?
without=$(trun --proxy "$PROXY" -- python3 -c "$hello")
rc2=$?
if ((rc1 == 0 && rc2 == 0)) && [[ $with == "hello" && $without == "error 111" ]] &&
	grep -q "CMD's 127.0.0.1:9876 reaches the host's 127.0.0.1:9876" "$DAEMON_LOG"; then
	pass run_allow_host_port
else
	fail run_allow_host_port "with: '$with' (exit $rc1), without: '$without' (exit $rc2)"
fi

# ---- two at once ----------------------------------------------------------------------------
printf 'rules:\n  - MATCH,dante\nproxies:\n  - {name: dante, type: socks5, server: %s, port: %s}\n' \
	"$S_IP" "$SOCKS_PORT" >"$RUN_DIR/a.yaml"
printf 'rules:\n  - DOMAIN,www.example.test,REJECT\n  - MATCH,DIRECT\n' >"$RUN_DIR/b.yaml"
loop='for i in 1 2 3; do curl -q --noproxy "*" -sS --max-time 10 -o /dev/null -w "%{http_code}\n" "$1" || echo fail; sleep 0.2; done'
trun -c "$RUN_DIR/a.yaml" -- sh -c "$loop" sh "$URL" >"$RUN_DIR/a.out" 2>&1 &
pa=$!
trun -c "$RUN_DIR/b.yaml" -- sh -c "$loop" sh "$URL" >"$RUN_DIR/b.out" 2>&1 &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
if ((ra == 0 && rb == 0)) && [[ $(grep -c '^200$' "$RUN_DIR/a.out") == 3 ]] &&
	! grep -q '^200$' "$RUN_DIR/b.out"; then
	pass run_concurrent
else
	fail run_concurrent "a: $(tr '\n' ' ' <"$RUN_DIR/a.out"), b: $(tr '\n' ' ' <"$RUN_DIR/b.out")"
fi

# ---- the control API of a run -------------------------------------------------------------
# Two runs at once, each with its own API: A on its config's
# external-controller (and unix socket), B with the same external-
# controller in its config but --controller 127.0.0.1:0 (any free port)
# and its own --secret. CMD holds a keep-alive connection after its
# download until told to finish; C holds one of its own to danted. Each
# API lists its own CMD's connection, with host, rule and chain, and
# nothing else; a third run whose API address (or unix socket) is taken
# fails before CMD starts, naming the address, and the first API stays.
api_conf() { # api_conf FILE SECRET RULE...
	local f=$1 sec=$2 r
	shift 2
	{
		echo "external-controller: 127.0.0.1:19091"
		echo "secret: $sec"
		echo "rules:"
		for r in "$@"; do echo "  - $r"; done
		printf 'proxies:\n  - {name: dante, type: socks5, server: %s, port: %s}\n' "$S_IP" "$SOCKS_PORT"
	} >"$f"
}
api_conf "$RUN_DIR/api-a.yaml" asecret DOMAIN,www.example.test,dante MATCH,DIRECT
echo "external-controller-unix: $RUN_DIR/api-a.sock" >>"$RUN_DIR/api-a.yaml"
api_conf "$RUN_DIR/api-b.yaml" asecret DOMAIN-SUFFIX,example.test,dante MATCH,DIRECT
hold='import http.client, os, sys, time
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=10)
c.request("GET", "/1k")
r = c.getresponse()
n = len(r.read())
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d %d\n" % (r.status, n))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
for _ in range(500):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)'
# apiq ADDR SECRET: one line per connection the API at ADDR lists:
# network host:port rule payload chains download
apiq() {
	cx curl -q --noproxy '*' -sS --max-time 5 -H "Authorization: Bearer $2" "http://$1/connections" |
		"$PY" -c 'import json, sys
for c in json.load(sys.stdin)["connections"]:
    m = c["metadata"]
    print(m["network"], "%s:%s" % (m["host"] or m["destinationIP"], m["destinationPort"]), c["rule"],
          c["rulePayload"], ",".join(c["chains"]), c["download"])'
}
rm -f "$RUN_DIR"/api-*.got "$RUN_DIR"/api-*.done
TRUN_ERR=$RUN_DIR/api-a.log trun -c "$RUN_DIR/api-a.yaml" -- "$PY" -c "$hold" www.example.test \
	"$RUN_DIR/api-a.got" "$RUN_DIR/api-a.done" &
pa=$!
TRUN_ERR=$RUN_DIR/api-b.log trun -c "$RUN_DIR/api-b.yaml" --controller 127.0.0.1:0 --secret bsecret -- \
	"$PY" -c "$hold" other.example.test "$RUN_DIR/api-b.got" "$RUN_DIR/api-b.done" &
pb=$!
# C's own connection to danted, held meanwhile: no run's API may list it.
cx "$PY" -c 'import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
time.sleep(30)' "$S_IP" "$SOCKS_PORT" &
SRV_PID[api_hostconn]=$!
for ((i = 0; i < 200 * SLOW; i++)); do
	[[ -s $RUN_DIR/api-a.got && -s $RUN_DIR/api-b.got ]] && break
	sleep 0.1
done
bport=$(grep -oE "api: listening on 127\.0\.0\.1:[0-9]+" "$RUN_DIR/api-b.log" | head -1 | sed 's/.*://')
la=$(apiq 127.0.0.1:19091 asecret 2>&1)
lb=$(apiq "127.0.0.1:${bport:-0}" bsecret 2>&1)
ta=$(cx "$BIN" ctl -c "$RUN_DIR/api-a.yaml" connections 2>&1)
wrong=$(cx curl -q --noproxy '*' -sS --max-time 5 -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer asecret" "http://127.0.0.1:${bport:-0}/connections" 2>&1)
# A third run on A's address, then on A's unix socket (its own port): both
# refused before CMD, A's API untouched.
TRUN_ERR=$RUN_DIR/api-x.log trun -c "$RUN_DIR/api-b.yaml" -- touch "$RUN_DIR/api-x1.ran"
rx1=$?
TRUN_ERR=$RUN_DIR/api-x.log trun -c "$RUN_DIR/api-a.yaml" --controller 127.0.0.1:0 -- touch "$RUN_DIR/api-x2.ran"
rx2=$?
la2=$(apiq 127.0.0.1:19091 asecret 2>&1)
ua=$(cx curl -q -sS --max-time 5 --unix-socket "$RUN_DIR/api-a.sock" -o /dev/null -w '%{http_code}' \
	http://localhost/version 2>&1)
touch "$RUN_DIR/api-a.done" "$RUN_DIR/api-b.done"
wait "$pa"
ra=$?
wait "$pb"
rb=$?
stop_server api_hostconn
log "run A's API: $(tr '\n' '|' <<<"$la"); B's (port ${bport:-?}): $(tr '\n' '|' <<<"$lb")"
if ((ra == 0)) && [[ $(cat "$RUN_DIR/api-a.got" 2>/dev/null) == "200 1024" &&
	$(grep -c . <<<"$la") == 1 ]] &&
	grep -qE "^tcp www\.example\.test:80 Domain www\.example\.test dante 1[0-9]{3}$" <<<"$la" &&
	grep -qE "^tcp-[0-9]+ +tcp .* www\.example\.test:80 +dante +Domain " <<<"$ta" &&
	grep -q "^1 connections" <<<"$ta"; then
	pass run_control_api
else
	fail run_control_api "exit $ra, got $(cat "$RUN_DIR/api-a.got" 2>/dev/null), API: $(tr '\n' '|' <<<"$la"), ctl: $(tr '\n' '|' <<<"$ta" | head -c 400)"
fi
if ((rb == 0)) && [[ -n $bport && $bport != 0 && $bport != 19091 && $wrong == 401 &&
	$(cat "$RUN_DIR/api-b.got" 2>/dev/null) == "200 1024" && $(grep -c . <<<"$lb") == 1 ]] &&
	grep -qE "^tcp other\.example\.test:80 DomainSuffix example\.test dante 1[0-9]{3}$" <<<"$lb"; then
	pass run_control_api_own
else
	fail run_control_api_own "exit $rb, port '${bport:-}', wrong secret: $wrong, got $(cat "$RUN_DIR/api-b.got" 2>/dev/null), API: $(tr '\n' '|' <<<"$lb")"
fi
if ((rx1 == 125 && rx2 == 125)) && [[ ! -e $RUN_DIR/api-x1.ran && ! -e $RUN_DIR/api-x2.ran ]] &&
	grep -q "external-controller 127.0.0.1:19091 is in use by another process" "$RUN_DIR/api-x.log" &&
	grep -q "external-controller-unix $RUN_DIR/api-a.sock is in use by another process" "$RUN_DIR/api-x.log" &&
	[[ $la2 == "$la" && $ua == 200 ]]; then
	pass run_controller_busy
else
	fail run_controller_busy "exits $rx1 $rx2 (want 125 125), CMD ran: $(ls "$RUN_DIR"/api-x*.ran 2>/dev/null | tr '\n' ' '), A's API after: $(tr '\n' '|' <<<"$la2"), unix: $ua, log: $(grep -i "controller" "$RUN_DIR/api-x.log" | tail -3 | tr '\n' '|')"
fi
cat "$RUN_DIR"/api-[abx].log >>"$DAEMON_LOG"

# ---- ^C before CMD starts ---------------------------------------------------------------------
# A proxy behind a black hole (S drops what is not for it): the daemon's
# startup probe waits, and SIGINT then ends run before CMD ever starts.
cx ip route add 192.0.2.0/24 via "$S_IP"
marker=$RUN_DIR/abort-ran
trun --proxy socks5://192.0.2.1:1080 --connect-timeout 20 -- touch "$marker" &
pid=$!
rpid=
for ((i = 0; i < 100; i++)); do
	rpid=$(pgrep -f "tun2socks run --log-level .* socks5://192.0.2.1:1080" | head -1)
	[[ -n $rpid ]] && pgrep -P "$rpid" -x tun2socks >/dev/null && break
	sleep 0.05
done
t0=$(now)
kill -INT "${rpid:-0}" 2>/dev/null
wait "$pid"
rc=$?
took=$(elapsed "$t0")
cx ip route del 192.0.2.0/24 via "$S_IP"
if ((rc == 130)) && [[ ! -e $marker ]] && lt "$took" 3 && [[ -z $(pgrep -f "socks5://192.0.2.1:1080") ]]; then
	pass run_abort
else
	fail run_abort "exit $rc (want 130) after ${took}s, CMD ran: $([[ -e $marker ]] && echo yes || echo no)"
fi

# ---- unprivileged ---------------------------------------------------------------------------
make_auth_user
uid=$(id -u "$AUTH_USER")
gid=$(id -g "$AUTH_USER")
cp "$BIN" "$RUN_DIR/t2s" && chmod 755 "$RUN_DIR/t2s"
if ! cx env HOME=/ setpriv --reuid="$uid" --regid="$gid" --init-groups unshare --user --net true 2>"$RUN_DIR/userns.err"; then
	echo "SKIP run_unprivileged (this kernel refuses unprivileged user namespaces: $(head -c 200 "$RUN_DIR/userns.err" | tr '\n' ' '))"
else
	# The usual mode of /dev/net/tun is 0666; where it is not, a 0666
	# node is bound over it in a mount namespace of this test's own.
	devfix=":"
	if [[ $(stat -c %a /dev/net/tun) != 666 ]]; then
		mkdir -p "$RUN_DIR/dev"
		devfix="mount -t tmpfs tmpfs $RUN_DIR/dev && mknod -m 666 $RUN_DIR/dev/tun c 10 200 && mount --bind $RUN_DIR/dev/tun /dev/net/tun"
	fi
	out=$(cx unshare -m sh -c "mount --make-rprivate / && $devfix && exec setpriv --reuid=$uid --regid=$gid --init-groups env HOME=/ PATH=$PATH timeout -s KILL $((30 * SLOW)) $RUN_DIR/t2s run --proxy $PROXY -- sh -c 'id -u; curl -q --noproxy \"*\" -sS --max-time 20 $URL | sha256sum'" 2>>"$DAEMON_LOG")
	rc=$?
	want=$(printf '%s\n%s  -\n' "$uid" "$SHA_1K")
	if ((rc == 0)) && [[ $out == "$want" ]]; then
		pass run_unprivileged
	else
		fail run_unprivileged "exit $rc, out: $(tr '\n' ' ' <<<"$out")"
	fi
fi

if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
	if leak_report_found; then fail leakcheck_run "sanitizer report in the log"; else pass leakcheck_run; fi
fi
t2s_finish
