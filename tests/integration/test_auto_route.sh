#!/usr/bin/env bash
# System-wide mode: --auto-route on a simulated host, nothing set up by hand.
#
#   H (host: NS_C)                G (gateway: NS_G)              I (internet: NS_S)
#   up0 10.77.0.2/24 fd77::2/64 - lan0 10.77.0.1 fd77::1         danted  192.0.2.10:1080
#   default via 10.77.0.1         LAN resolver (dnsmasq: it      dnsmasq 192.0.2.10:53 (the
#           via fd77::1           answers example.test with        proxy's resolver)
#   resolv.conf: 10.77.0.1        10.99.99.99, a wrong address)  nginx   203.0.113.80,
#   echo service :2222 :2223      wan0 100.64.0.1 ------ eth0            2001:db8:80::80
#   tun2socks --auto-route        routes to I; "outside" peers
#                                 198.51.100.1, 2001:db8:51::1
#
# Checks (each fails without what it covers): names resolve through the
# interceptor and flows go through the proxy (v4, v6); DNS to the LAN
# resolver, to other servers, over TCP and IPv6 is answered by the
# interceptor; the daemon's own forwarded queries reach the LAN resolver
# without looping; a capture on the uplink sees only the proxy's traffic;
# a connection into the host opened before the start keeps working and a
# new one works; strict-route blocks IPv6 when the TUN has none; SIGTERM,
# SIGKILL + cleanup and SIGKILL + restart leave ip rule/route byte-identical;
# a second daemon is refused; a user left out by --exclude-uid goes direct;
# a reload keeps our sockets' mark; a resolver pointing at the TUN is
# refused; a proxy given by name is resolved again at SIGHUP and its
# rule follows its address; `status` tells running, damaged, left over and nothing apart
# (its exit status); a DNS server routed into the TUN while running is
# named; with --auto-detect-interface the daemon's sockets follow the
# default route to a second uplink when the first goes down.
set -uo pipefail
shopt -s extglob
. "$(dirname "$0")/lib.sh"
t2s_init
NS_G=t2si-g-$T2S_ID
NAMES="ar_curl_by_name_v4 ar_curl_by_name_v6 ar_curl_by_address ar_dns_lan_resolver
 ar_dns_other_servers ar_dns_tcp ar_dns_ipv6 ar_dns_forwarded_no_loop ar_incoming_before_start
 ar_incoming_new ar_no_leak_on_uplink ar_strict_blocks_ipv6 ar_sigterm_restores
 ar_sigkill_cleanup_restores ar_sigkill_restart_restores ar_second_daemon_refused
 ar_exclude_uid ar_reload_keeps_mark ar_resolver_on_tun_refused ar_status ar_dns_loop_recheck
 ar_uplink_follow ar_reload_reresolves"

PROXY_IP=192.0.2.10
LAN_DNS4=10.77.0.1
LAN_DNS6=fd77::1
H4=10.77.0.2
H6=fd77::2
OUT4=198.51.100.1
OUT6=2001:db8:51::1
STATE=$RUN_DIR/state
PCAP=

ar_cleanup() {
	local p
	[[ -n $PCAP_PID ]] && kill "$PCAP_PID" 2>/dev/null
	t2s_cleanup
	if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS_G"; then
		for p in $(ip netns pids "$NS_G" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS_G" 2>/dev/null
	fi
	rm -rf "/etc/netns/$NS_G"
}
PCAP_PID=
trap ar_cleanup EXIT
trap 'T2S_CLEANED=0; ar_cleanup; exit 130' INT
trap 'T2S_CLEANED=0; ar_cleanup; exit 143' TERM

gx() { ip netns exec "$NS_G" "$@"; }

ar_topology() {
	ip netns add "$NS_C" && ip netns add "$NS_G" && ip netns add "$NS_S" || return 1
	local n
	for n in "$NS_C" "$NS_G" "$NS_S"; do ip -n "$n" link set lo up; done
	ip -n "$NS_C" link add up0 type veth peer name lan0 netns "$NS_G" || return 1
	ip -n "$NS_G" link add wan0 type veth peer name eth0 netns "$NS_S" || return 1
	ip -n "$NS_C" addr add "$H4/24" dev up0
	ip -n "$NS_C" addr add "$H6/64" dev up0 nodad
	ip -n "$NS_G" addr add "$LAN_DNS4/24" dev lan0
	ip -n "$NS_G" addr add "$LAN_DNS6/64" dev lan0 nodad
	ip -n "$NS_G" addr add 100.64.0.1/30 dev wan0
	ip -n "$NS_G" addr add fd64::1/64 dev wan0 nodad
	ip -n "$NS_S" addr add 100.64.0.2/30 dev eth0
	ip -n "$NS_S" addr add fd64::2/64 dev eth0 nodad
	ip -n "$NS_C" link set up0 up
	ip -n "$NS_G" link set lan0 up
	ip -n "$NS_G" link set wan0 up
	ip -n "$NS_S" link set eth0 up
	# the host knows only its default routes; the gateway routes and forwards
	ip -n "$NS_C" route add default via "$LAN_DNS4" || return 1
	ip -n "$NS_C" -6 route add default via "$LAN_DNS6" || return 1
	gx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$NS_G" route add 192.0.2.0/24 via 100.64.0.2
	ip -n "$NS_G" route add 203.0.113.0/24 via 100.64.0.2
	ip -n "$NS_G" -6 route add 2001:db8:80::/48 via fd64::2
	ip -n "$NS_G" addr add "$OUT4/32" dev lo
	ip -n "$NS_G" addr add "$OUT6/128" dev lo nodad
	ip -n "$NS_S" route add default via 100.64.0.1
	ip -n "$NS_S" -6 route add default via fd64::1
	ip -n "$NS_S" addr add "$PROXY_IP/32" dev lo
	ip -n "$NS_S" addr add "$T4/32" dev lo
	ip -n "$NS_S" addr add "$T6/128" dev lo nodad
	ns_resolv "$NS_C" "$LAN_DNS4"
	ns_resolv "$NS_S" "$PROXY_IP"
	# The link-local addresses (and their local routes) come a little
	# after the links: the routing state compared later must include them.
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -n $(ip -n "$NS_C" -6 addr show dev up0 scope link -tentative) &&
			-n $(ip -n "$NS_G" -6 addr show dev lan0 scope link -tentative) ]] && break
		sleep 0.05
	done
	log "topology up: $NS_C -> $NS_G -> $NS_S"
}

# The LAN resolver: a wrong answer for example.test, so a reply that
# reaches an application without the interceptor shows.
ar_lan_dns() {
	cat >"$RUN_DIR/dnsmasq-lan.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$LAN_DNS4
listen-address=$LAN_DNS6
bind-interfaces
address=/example.test/10.99.99.99
mx-host=example.test,mx.example.test,5
log-queries
log-facility=$RUN_DIR/dnsmasq-lan.log
EOF
	: >"$RUN_DIR/dnsmasq-lan.log"
	ip netns exec "$NS_G" dnsmasq -k -C "$RUN_DIR/dnsmasq-lan.conf" >"$RUN_DIR/dnsmasq-lan.stdout" 2>&1 &
	SRV_PID[dnsmasq-lan]=$!
	wait_listen "$NS_G" udp "$LAN_DNS4" 53 10 "${SRV_PID[dnsmasq-lan]}"
}

ar_servers() {
	require_tools danted nginx dnsmasq dig tcpdump
	require_daemon || fail_all "$NAMES" "daemon binary $(daemon_bin) missing"
	ar_topology || fail_all "$NAMES" "topology"
	make_data 1
	local S_IP=$PROXY_IP
	start_nginx || fail_all "$NAMES" "nginx did not start"
	start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
	start_dante none || fail_all "$NAMES" "danted did not start"
	ar_lan_dns || fail_all "$NAMES" "LAN dnsmasq did not start"
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/echo_tool.py" serve --bind 0.0.0.0 --port 2222 >/dev/null 2>&1 &
	SRV_PID[echo4]=$!
	ip netns exec "$NS_C" "$PY" "$T2S_ITEST/echo_tool.py" serve --bind :: --port 2223 >/dev/null 2>&1 &
	SRV_PID[echo6]=$!
	wait_listen "$NS_C" tcp 0.0.0.0 2222 5 || fail_all "$NAMES" "echo service"
	# Without the daemon the host reaches everything directly.
	ccurl --max-time 5 -o /dev/null "http://$T4/1k" || fail_all "$NAMES" "no direct path"
	[[ $(cx dig +short +time=2 +tries=1 example.test) == 10.99.99.99 ]] ||
		fail_all "$NAMES" "the LAN resolver does not answer"
}

# The routing state compared before and after.
ar_snapshot() {
	cx sh -c 'ip rule; echo --; ip -6 rule; echo --; ip route show table all; echo --;
		ip -6 route show table all'
}

# ar_same NAME: the routing state is byte-identical to BEFORE (the TUN may
# take a moment to go).
ar_same() {
	local i
	for ((i = 0; i < 40; i++)); do
		ar_snapshot >"$RUN_DIR/now.txt"
		cmp -s "$RUN_DIR/before.txt" "$RUN_DIR/now.txt" && return 0
		sleep 0.05
	done
	diff "$RUN_DIR/before.txt" "$RUN_DIR/now.txt" | head -20 >&2
	return 1
}

# ar_start [args]: the daemon in H with --auto-route; waits until its
# routes are in place. Sets DAEMON_PID; returns non-zero if it exited.
ar_start() {
	local bin i cmd
	bin=$(daemon_bin)
	cmd=("$bin" --proxy "socks5://$PROXY_IP:$SOCKS_PORT" --auto-route --state-dir "$STATE"
		--log-level "${T2S_LOG_LEVEL:-info}" "$@")
	DAEMON_WRAP=none
	if [[ ${T2S_LEAK_CHECK:-0} == 1 ]] && is_asan_bin "$bin"; then
		DAEMON_WRAP=asan
		cmd=(env "ASAN_OPTIONS=detect_leaks=1:exitcode=97:abort_on_error=0"
			"LSAN_OPTIONS=exitcode=97" "${cmd[@]}")
	fi
	env --default-signal=INT true 2>/dev/null && cmd=(env --default-signal=INT,QUIT "${cmd[@]}")
	DAEMON_RUNS=$((DAEMON_RUNS + 1))
	log "daemon #$DAEMON_RUNS: ${cmd[*]}"
	DAEMON_RC=
	echo "=== daemon #$DAEMON_RUNS" >>"$DAEMON_LOG"
	local from
	from=$(wc -l <"$DAEMON_LOG")
	# ip netns exec execs the command: $! is the daemon itself
	ip netns exec "$NS_C" "${cmd[@]}" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID"
			DAEMON_RC=$?
			DAEMON_PID=
			log "daemon exited early with $DAEMON_RC"
			return 1
		fi
		tail -n +"$((from + 1))" "$DAEMON_LOG" | grep -q 'info  tun2socks .*: TUN' && return 0
		sleep 0.05
	done
	log "daemon not up after 10 s"
	return 1
}

# ar_kill9: SIGKILL, as a crash would.
ar_kill9() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

ar_capture_start() {
	PCAP=$RUN_DIR/uplink-$1.pcap
	# --immediate-mode: every packet is written as it comes (block-wise
	# delivery loses the last block when tcpdump is stopped)
	ip netns exec "$NS_G" tcpdump -i lan0 -n -U --immediate-mode -s 200 -w "$PCAP" \
		>"$RUN_DIR/tcpdump-$1.log" 2>&1 &
	PCAP_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$RUN_DIR/tcpdump-$1.log" && return 0
		sleep 0.05
	done
	return 1
}

ar_capture_stop() {
	sleep 0.3
	kill "$PCAP_PID" 2>/dev/null
	wait "$PCAP_PID" 2>/dev/null
	PCAP_PID=
}

# Packets on the uplink that are neither the proxy's nor the incoming test
# connections', nor neighbour discovery and multicast.
ar_leaks() {
	tcpdump -nn -r "$PCAP" "not host $PROXY_IP and not (tcp port 2222 or tcp port 2223)
		and not arp and not dst net ff00::/8 and not dst net 224.0.0.0/4
		and not (icmp6 and (ip6[40] == 135 or ip6[40] == 136))" 2>/dev/null
}

is_fake4() { [[ $1 =~ ^198\.1[89]\. ]]; }
is_fake6() { [[ $1 == fdfe:dcba:9876:1:* ]]; }

# ---- set-up, then the main run --------------------------------------------------
ar_servers
ar_snapshot >"$RUN_DIR/before.txt"
log "routing before: $(wc -l <"$RUN_DIR/before.txt") lines"

# A connection into the host from outside the LAN, opened before the start.
coproc OLD { gx "$PY" "$T2S_ITEST/echo_tool.py" session --src "$OUT4" --dst "$H4" --port 2222; }
read -r -t 5 line <&"${OLD[0]}"
[[ $line == connected ]] || fail_all "$NAMES" "incoming connection before the start: $line"

ar_capture_start main || fail_all "$NAMES" "tcpdump did not start"
ar_start || fail_all "$NAMES" "daemon did not come up (exit ${DAEMON_RC:-?})"
log "$(grep 'auto-route:' "$DAEMON_LOG" | tail -3)"

# By name: the interceptor answers a fake address, the daemon hands the
# name to the proxy, the proxy resolves it and connects (from T4 or T6).
# The flow's line is logged at its close, which may come after curl exits
# (the ASan daemon is slower): wait for it.
for fam in 4 6; do
	got=$(ccurl "-$fam" --max-time 5 -w ' %{remote_ip}' "http://example.test/whoami")
	used=${got#* }
	[[ $used == *:* ]] && used="[$used]"
	if [[ $got == @($T4|$T6)\ * ]] && { is_fake4 "${got#* }" || is_fake6 "${got#* }"; } &&
		wait_log "$DAEMON_LOG" "example.test:80 ($used:80) via proxy socks5" 5; then
		pass "ar_curl_by_name_v$fam"
	else fail "ar_curl_by_name_v$fam" "nginx saw / curl used: '$got'$(alive_note)"; fi
done
got=$(ccurl --max-time 5 "http://$T4/whoami")
if [[ $got == "$T4" ]]; then pass ar_curl_by_address
else fail ar_curl_by_address "nginx saw '$got' (the proxy connects from $T4)$(alive_note)"; fi

a=$(cx dig +short +time=2 +tries=1 "@$LAN_DNS4" example.test)
if is_fake4 "$a"; then pass ar_dns_lan_resolver
else fail ar_dns_lan_resolver "dig @$LAN_DNS4 gave '$a', not a fake address"; fi
a=$(cx dig +short +time=2 +tries=1 "@$PROXY_IP" example.test)
b=$(cx dig +short +time=2 +tries=1 @192.0.2.99 other.example.test)
if is_fake4 "$a" && is_fake4 "$b"; then pass ar_dns_other_servers
else fail ar_dns_other_servers "dig @$PROXY_IP: '$a', @192.0.2.99: '$b'"; fi
a=$(cx dig +short +tcp +time=2 +tries=1 "@$LAN_DNS4" example.test)
if is_fake4 "$a"; then pass ar_dns_tcp
else fail ar_dns_tcp "dig +tcp @$LAN_DNS4 gave '$a'"; fi
a=$(cx dig +short +time=2 +tries=1 "@$LAN_DNS6" example.test AAAA)
if is_fake6 "$a"; then pass ar_dns_ipv6
else fail ar_dns_ipv6 "dig @$LAN_DNS6 AAAA gave '$a'"; fi

echo ping1 >&"${OLD[1]}"
read -r -t 5 line <&"${OLD[0]}"
if [[ $line == "echo ping1" ]]; then pass ar_incoming_before_start
else fail ar_incoming_before_start "the open connection answered '${line:-nothing}'"; fi
n4=$(echo hello | gx "$PY" "$T2S_ITEST/echo_tool.py" session --src "$OUT4" --dst "$H4" --port 2222 | tail -1)
n6=$(echo hello | gx "$PY" "$T2S_ITEST/echo_tool.py" session --src "$OUT6" --dst "$H6" --port 2223 | tail -1)
if [[ $n4 == "echo hello" && $n6 == "echo hello" ]]; then pass ar_incoming_new
else fail ar_incoming_new "IPv4: '$n4', IPv6: '$n6'"; fi

ar_capture_stop
leaks=$(ar_leaks)
proxied=$(tcpdump -nn -r "$PCAP" "host $PROXY_IP" 2>/dev/null | wc -l)
if [[ -z $leaks && $proxied -gt 0 ]]; then pass ar_no_leak_on_uplink
else fail ar_no_leak_on_uplink "$proxied packets to the proxy; others: $(head -5 <<<"$leaks")"; fi

# The daemon's own upstream queries (types fake-ip does not answer) go to
# the LAN resolver around the TUN, once, instead of coming back to it.
before_q=$(grep -c 'query\[MX\] example.test' "$RUN_DIR/dnsmasq-lan.log")
a=$(cx dig +short +time=3 +tries=1 example.test MX)
after_q=$(grep -c 'query\[MX\] example.test' "$RUN_DIR/dnsmasq-lan.log")
if [[ $a == "5 mx.example.test." && $((after_q - before_q)) -eq 1 ]]; then
	pass ar_dns_forwarded_no_loop
else fail ar_dns_forwarded_no_loop "MX answer '$a', $((after_q - before_q)) queries at the LAN resolver"; fi

# ---- a second daemon -----------------------------------------------------------
first=$DAEMON_PID
bin=$(daemon_bin)
out2=$(cx "$bin" --proxy "socks5://$PROXY_IP:$SOCKS_PORT" --auto-route --state-dir "$STATE" \
	--tun tun0 --no-proxy-check 2>&1)
rc2=$?
out3=$(cx "$bin" --proxy "socks5://$PROXY_IP:$SOCKS_PORT" --auto-route --state-dir "$STATE" \
	--tun t2s-second --no-proxy-check 2>&1)
rc3=$?
log "second daemon: $rc2: $out2 / $rc3: $out3"
if ((rc2 == 1 && rc3 == 1)) && grep -q 'table 2022 or rule priorities 9000-9010 are in use' <<<"$out3" &&
	fetch_check "http://$T4/1k" "$SHA_1K"; then
	pass ar_second_daemon_refused
else fail ar_second_daemon_refused "exit $rc2, $rc3: $(tail -1 <<<"$out3")"; fi

# ---- SIGTERM -------------------------------------------------------------------
if daemon_stop && ar_same && [[ -z $(ls -A "$STATE") ]]; then pass ar_sigterm_restores
else fail ar_sigterm_restores "exit ${DAEMON_RC:-?}; state dir: $(ls "$STATE")"; fi
echo close >&"${OLD[1]}" 2>/dev/null

# ---- SIGKILL, then cleanup -------------------------------------------------------
if ar_start; then
	ar_kill9
	if ar_same 2>/dev/null; then
		fail ar_sigkill_cleanup_restores "nothing was left to clean up?"
	else
		out=$(cx "$(daemon_bin)" cleanup --state-dir "$STATE" 2>&1)
		rc=$?
		log "cleanup: $rc: $out"
		if ((rc == 0)) && ar_same && [[ -z $(ls -A "$STATE") ]]; then
			pass ar_sigkill_cleanup_restores
		else fail ar_sigkill_cleanup_restores "cleanup exit $rc: $out"; fi
	fi
else fail ar_sigkill_cleanup_restores "daemon did not come up"; fi

# ---- SIGKILL, then a fresh start -------------------------------------------------
if ar_start; then
	ar_kill9
	if ar_start && fetch_check "http://$T4/1k" "$SHA_1K" &&
		grep -q 'removed what tun2socks (pid [0-9]*, tun0) left' "$DAEMON_LOG" &&
		daemon_stop && ar_same; then
		pass ar_sigkill_restart_restores
	else fail ar_sigkill_restart_restores "exit ${DAEMON_RC:-?}${FETCH_ERR:+; $FETCH_ERR}"; fi
else fail ar_sigkill_restart_restores "daemon did not come up"; fi
[[ -n $DAEMON_PID ]] && daemon_stop

# ---- strict-route: no IPv6 on the TUN, so none at all -----------------------------------
ar_capture_start strict
if ar_start --tun-addr6 none --strict-route; then
	v6=$(ccurl -6 --max-time 3 -o /dev/null -w '%{http_code}' "http://[$T6]/1k" 2>&1)
	udp=$(cx "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('$T6', 9999)); print('sent')
except OSError as e:
    print('refused', e.errno)")
	fetch_check "http://$T4/1k" "$SHA_1K"
	v4=$?
	old=$(echo hi | gx "$PY" "$T2S_ITEST/echo_tool.py" session --src "$OUT4" --dst "$H4" --port 2222 | tail -1)
	ar_capture_stop
	leaks=$(ar_leaks)
	proxied=$(tcpdump -nn -r "$PCAP" "host $PROXY_IP" 2>/dev/null | wc -l)
	if [[ -z $leaks && $proxied -gt 0 && $udp == refused* && $v4 -eq 0 && $old == "echo hi" ]]; then
		pass ar_strict_blocks_ipv6
	else fail ar_strict_blocks_ipv6 "curl -6: $v6; udp: $udp; v4 fetch $v4; incoming '$old'; $proxied packets to the proxy; leaks: $(head -3 <<<"$leaks")"; fi
	daemon_stop || fail ar_strict_blocks_ipv6 "exit $DAEMON_RC"
else
	ar_capture_stop
	fail ar_strict_blocks_ipv6 "daemon did not come up"
fi

# ---- a user left out goes direct, the others through the proxy -------------------------
if ar_start --exclude-uid 65534; then
	mine=$(ccurl --max-time 5 "http://$T4/whoami")
	theirs=$(ip netns exec "$NS_C" setpriv --reuid=65534 --regid=65534 --clear-groups \
		curl -q --noproxy '*' -sS --max-time 5 "http://$T4/whoami" 2>&1)
	if [[ $mine == "$T4" && $theirs == "$H4" ]]; then pass ar_exclude_uid
	else fail ar_exclude_uid "root's request came from '$mine', nobody's from '$theirs'"; fi
	daemon_stop || fail ar_exclude_uid "exit $DAEMON_RC"
	ar_same || fail ar_exclude_uid "routing not restored"
else fail ar_exclude_uid "daemon did not come up"; fi

# ---- SIGHUP: a new routing-mark waits for a restart (the rules name the old) -------
printf 'tun:\n  auto-route: true\n' >"$RUN_DIR/ar.yaml"
if ar_start -c "$RUN_DIR/ar.yaml"; then
	printf 'routing-mark: 7\ntun:\n  auto-route: true\n' >"$RUN_DIR/ar.yaml"
	kill -HUP "$DAEMON_PID"
	for ((i = 0; i < 600; i++)); do
		grep -q 'reloaded:' "$DAEMON_LOG" && break
		sleep 0.05
	done
	a=$(cx dig +short +time=3 +tries=1 example.test MX)
	if grep -q "routing-mark (auto-route's rules use it) changed" "$DAEMON_LOG" &&
		[[ $a == "5 mx.example.test." ]] && fetch_check "http://$T4/1k" "$SHA_1K"; then
		pass ar_reload_keeps_mark
	else fail ar_reload_keeps_mark "MX after the reload: '$a'${FETCH_ERR:+; $FETCH_ERR}"; fi
	daemon_stop || fail ar_reload_keeps_mark "exit $DAEMON_RC"
else fail ar_reload_keeps_mark "daemon did not come up"; fi

# ---- SIGHUP: a proxy given by name is resolved again, its rule follows -------------------
printf '192.0.2.11 proxy.test\n' >"/etc/netns/$NS_C/hosts"
cat >"$RUN_DIR/ar-named.yaml" <<EOC
tun:
  auto-route: true
proxies:
  - { name: named, type: socks5, server: proxy.test, port: $SOCKS_PORT }
rules:
  - DOMAIN-SUFFIX,named.test,named
  - MATCH,DIRECT
EOC
if ar_start -c "$RUN_DIR/ar-named.yaml"; then
	r11=$(cx ip rule | grep -c 'to 192.0.2.11 iif lo goto 9010')
	# the name moves (in place: the daemon sees the file through its bind mount)
	printf '192.0.2.12 proxy.test\n' >"/etc/netns/$NS_C/hosts"
	n=$(grep -c 'proxy servers kept out now' "$DAEMON_LOG")
	kill -HUP "$DAEMON_PID"
	# (the rules move after "reloaded:", once the names are resolved)
	for ((i = 0; i < 600; i++)); do
		(($(grep -c 'proxy servers kept out now' "$DAEMON_LOG") > n)) && break
		sleep 0.05
	done
	rules=$(cx ip rule)
	cx "$(daemon_bin)" status --state-dir "$STATE" >/dev/null 2>&1
	rs=$?
	if ((r11 == 1 && rs == 0)) && grep -q 'to 192.0.2.12 iif lo goto 9010' <<<"$rules" &&
		! grep -q '192.0.2.11' <<<"$rules" &&
		grep -q 'auto-route: 2 proxy servers kept out now: 1 rule added, 1 removed' "$DAEMON_LOG" &&
		fetch_check "http://$T4/1k" "$SHA_1K"; then
		pass ar_reload_reresolves
	else fail ar_reload_reresolves "rule for .11 before: $r11; status $rs; rules now: $(grep -c 'goto 9010' <<<"$rules")${FETCH_ERR:+; $FETCH_ERR}"; fi
	daemon_stop || fail ar_reload_reresolves "exit $DAEMON_RC"
	ar_same || fail ar_reload_reresolves "routing not restored"
else fail ar_reload_reresolves "daemon did not come up"; fi
rm -f "/etc/netns/$NS_C/hosts"

# ---- tun2socks status: what is set up, and whether it is all there ---------------------
st() { cx "$(daemon_bin)" status --state-dir "$STATE" 2>&1; }
if ar_start; then
	s0=$(st)
	r0=$?
	cx ip rule del pref 9004 # the LAN exception, removed behind the daemon's back
	s3=$(st)
	r3=$?
	daemon_stop
	s1=$(st)
	r1=$?
	if ar_start; then
		ar_kill9
		s2=$(st)
		r2=$?
		cx "$(daemon_bin)" cleanup --state-dir "$STATE" >/dev/null 2>&1
	fi
	s4=$(st)
	r4=$?
	log "status: $r0 / $r3 / $r1 / ${r2:-?} / $r4"
	if ((r0 == 0 && r3 == 3 && r1 == 1 && ${r2:-9} == 2 && r4 == 1)) &&
		grep -q '^tun0: tun2socks (pid [0-9]*) runs; TUN tun0 up; \([0-9]*\) of \1 rules' <<<"$s0" &&
		grep -q 'present  rule -4 pref 9004 ' <<<"$s0" &&
		grep -q 'MISSING  rule -4 pref 9004 ' <<<"$s3" && grep -q 'DAMAGED' <<<"$s3" &&
		grep -q 'is gone; it left [1-9][0-9]* of its' <<<"$s2" &&
		grep -q '^no auto-route set up' <<<"$s4" && ar_same; then
		pass ar_status
	else fail ar_status "exits $r0 $r3 $r1 ${r2:-?} $r4: $(head -1 <<<"$s0") / $(head -1 <<<"$s3") / $(head -1 <<<"${s2:-}")"; fi
else fail ar_status "daemon did not come up"; fi

# ---- a DNS server routed into the TUN while running: named -----------------------------
# (the monitor re-checks at every routing change; the interceptor answers
# what comes back SERVFAIL, docs/design.md §7)
if ar_start; then
	cx ip route add "$LAN_DNS4/32" dev tun0
	for ((i = 0; i < 100; i++)); do
		grep -q "uplink: DNS server $LAN_DNS4 is now routed into the TUN" "$DAEMON_LOG" && break
		sleep 0.05
	done
	cx ip route del "$LAN_DNS4/32" dev tun0
	if grep -q "uplink: DNS server $LAN_DNS4 is now routed into the TUN" "$DAEMON_LOG" &&
		fetch_check "http://$T4/1k" "$SHA_1K"; then
		pass ar_dns_loop_recheck
	else fail ar_dns_loop_recheck "no warning in the log${FETCH_ERR:+; $FETCH_ERR}"; fi
	daemon_stop || fail ar_dns_loop_recheck "exit $DAEMON_RC"
else fail ar_dns_loop_recheck "daemon did not come up"; fi

# ---- a resolver inside the TUN: refused, not a loop -----------------------------------
# The system resolver set to the TUN's address before the start; and,
# without auto-route, --dns-server naming it (issue 11's loop).
ns_resolv "$NS_C" 198.18.0.2
out=$(cx "$(daemon_bin)" --proxy "socks5://$PROXY_IP:$SOCKS_PORT" --auto-route \
	--state-dir "$STATE" 2>&1)
rc=$?
ns_resolv "$NS_C" "$LAN_DNS4"
out2=$(cx "$(daemon_bin)" --proxy "socks5://$PROXY_IP:$SOCKS_PORT" --dns-server 198.18.0.2 2>&1)
rc2=$?
if ((rc == 1 && rc2 == 1)) && grep -q 'DNS server 198.18.0.2 is routed into the TUN' <<<"$out" &&
	grep -q 'would forward DNS to itself' <<<"$out2" && ar_same; then
	pass ar_resolver_on_tun_refused
else fail ar_resolver_on_tun_refused "exit $rc, $rc2: $(tail -1 <<<"$out") / $(tail -1 <<<"$out2")"; fi

# ---- auto-detect-interface: the uplink moves, new flows follow (last: it
# changes the host's links) ------------------------------------------------------------
if ar_start --auto-detect-interface; then
	ok=1 why=
	grep -q 'auto-detect-interface: upstream sockets are bound to up0' "$DAEMON_LOG" ||
		{ ok=0 why="not bound to up0 at the start"; }
	fetch_check "http://$T4/1k" "$SHA_1K" || { ok=0 why="no fetch before the switch"; }
	# a second uplink (Ethernet plugged in), then the first one gone (Wi-Fi off)
	ip -n "$NS_C" link add up1 type veth peer name lan1 netns "$NS_G"
	ip -n "$NS_C" addr add 10.78.0.2/24 dev up1
	ip -n "$NS_G" addr add 10.78.0.1/24 dev lan1
	ip -n "$NS_G" link set lan1 up
	ip -n "$NS_C" link set up1 up
	ip -n "$NS_C" route add default via 10.78.0.1 dev up1 metric 50
	ip -n "$NS_C" link set up0 down
	for ((i = 0; i < 100; i++)); do
		grep -q 'uplink: the default route moved from up0 to up1' "$DAEMON_LOG" && break
		sleep 0.05
	done
	grep -q 'uplink: the default route moved from up0 to up1' "$DAEMON_LOG" ||
		{ ok=0 why="the move to up1 not seen"; }
	if ((ok)) && fetch_check "http://$T4/1k" "$SHA_1K" &&
		[[ $(ccurl --max-time 5 "http://$T4/whoami") == "$T4" ]]; then
		pass ar_uplink_follow
	else fail ar_uplink_follow "${why:-no fetch after the switch}${FETCH_ERR:+; $FETCH_ERR}"; fi
	daemon_stop || fail ar_uplink_follow "exit $DAEMON_RC"
else fail ar_uplink_follow "daemon did not come up"; fi

t2s_finish
