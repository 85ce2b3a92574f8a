#!/usr/bin/env bash
# DNS interception (fake-ip and real-ip) with dnsmasq as the upstream.
#
# dnsmasq in S on $S_IP:53 answers *.example.test with $T4/$T6 (nginx), an
# MX and a TXT record. Clients in C ask $ANY (an address nobody serves: the
# daemon answers queries to port 53 on any destination); C's resolv.conf
# points there too, S's at dnsmasq (danted resolves names there).
#
#   daemon #1: --dns fake-ip (default), --dns-server $S_IP,
#              --fake-ip-filter '+.real.example.test'
#     dns_fake_a, dns_fake_aaaa  A/AAAA in the fake ranges, TTL 1, and never
#                                asked upstream
#     dns_forward_mx_txt         MX and TXT forwarded to dnsmasq
#     dns_tcp                    the same over TCP (dig +tcp), A and MX
#     dns_ptr                    PTR of a fake address names the domain
#     dns_filter                 a filtered name gets dnsmasq's real answer
#     dns_curl_by_name           curl http://www.example.test/1k: right bytes;
#                                danted's log shows the name, not an address;
#                                the daemon's flow line shows the name
#     dns_udp_by_name            a UDP datagram to a fake address is relayed
#                                by name and its reply comes back from the
#                                fake address
#     dns_no_leak                capture on C's uplink (v0): every DNS packet
#                                is between C and dnsmasq ($S_IP:53)
#     dns_tcp_flood              a TCP client tries to write 2 000 000 queries
#                                without reading: the daemon stops reading it
#                                (bounded answer queue: the client's writes
#                                block well before the end), its RSS grows
#                                < 16 MiB, and every query it took is answered
#     dns_malformed              garbage, responses, truncated and bad-label
#                                messages over UDP and TCP: FORMERR or
#                                silence, the daemon lives, dig still works
#   daemon #2: --dns real-ip
#     dns_realip                 A answers are dnsmasq's; curl by name: danted
#                                gets the name (address -> name map) and asks
#                                dnsmasq for it
#   daemon #3: --fake-ip-range 198.18.0.0/24 (253 addresses), --fake-ip-min-age 0
#     dns_pool_cycle             10 000 names cycle the pool while a download
#                                to a pinned name runs: nobody else gets its
#                                address, it keeps its address, the download
#                                completes intact
#   daemon #4: --dns-via-proxy --dns-server $S_IP
#     dns_via_proxy              MX answered; dnsmasq saw the query come from
#                                danted's external address, not from C
#   daemon #5: --dns-server $S_IP:$SILENT_PORT (a socket that never answers)
#     dns_servfail               forwarded query: SERVFAIL within 10 s; fake
#                                A answers still instant
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="dns_fake_a dns_fake_aaaa dns_forward_mx_txt dns_tcp dns_ptr dns_filter
dns_curl_by_name dns_udp_by_name dns_no_leak dns_malformed dns_tcp_flood dns_realip dns_pool_cycle
dns_via_proxy dns_servfail"
require_tools dig dnsmasq tcpdump timeout
ANY=192.0.2.53             # where clients send queries: nobody serves it
SILENT_PORT=5354
UDP_PORT=7777

# before any server starts: `ip netns exec` binds the file at exec time
ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
cx_dig() { cx dig +time=3 +tries=1 "@$ANY" "$@"; }

# in_range ADDR CIDR: python's ipaddress decides
in_range() { "$PY" -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$2"; }

# ---- daemon #1: fake-ip -------------------------------------------------------------
cx tcpdump -i v0 -n -U -s 0 -w "$RUN_DIR/uplink.pcap" "port 53 or port $SOCKS_PORT" \
	>"$RUN_DIR/tcpdump.log" 2>&1 &
SRV_PID[tcpdump]=$!
sleep 0.5
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP" \
	--fake-ip-filter '+.real.example.test'

out=$(cx_dig +noall +answer www.example.test A 2>&1)
a=$(awk '$4 == "A" {print $5}' <<<"$out" | head -1)
ttl=$(awk '$4 == "A" {print $2}' <<<"$out" | head -1)
if [[ -n $a ]] && in_range "$a" 198.18.0.0/15 && [[ $ttl == 1 ]] &&
	! grep -q "query\[A\] www.example.test from $C_IP" "$RUN_DIR/dnsmasq.log"; then
	pass dns_fake_a
else
	fail dns_fake_a "answer '$out' (want one A in 198.18.0.0/15, TTL 1, not asked upstream)"
fi
FAKE_WWW=$a

out=$(cx_dig +noall +answer www.example.test AAAA 2>&1)
a6=$(awk '$4 == "AAAA" {print $5}' <<<"$out" | head -1)
if [[ -n $a6 ]] && in_range "$a6" fdfe:dcba:9876:1::/64; then
	pass dns_fake_aaaa
else
	fail dns_fake_aaaa "answer '$out' (want one AAAA in fdfe:dcba:9876:1::/64)"
fi

mx=$(cx_dig +short mail.example.test MX 2>&1)
txt=$(cx_dig +short txt.example.test TXT 2>&1)
if [[ $mx == "10 mx1.example.test." && $txt == '"some text"' ]] &&
	grep -q "query\[MX\] mail.example.test from $C_IP" "$RUN_DIR/dnsmasq.log"; then
	pass dns_forward_mx_txt
else
	fail dns_forward_mx_txt "MX '$mx' TXT '$txt'"
fi

ta=$(cx_dig +tcp +short www.example.test A 2>&1)
tmx=$(cx_dig +tcp +short mail.example.test MX 2>&1)
if [[ $ta == "$FAKE_WWW" && $tmx == "10 mx1.example.test." ]]; then
	pass dns_tcp
else
	fail dns_tcp "A over TCP '$ta' (want $FAKE_WWW), MX '$tmx'"
fi

ptr=$(cx_dig +short -x "$FAKE_WWW" 2>&1)
if [[ $ptr == "www.example.test." ]]; then
	pass dns_ptr
else
	fail dns_ptr "PTR of $FAKE_WWW: '$ptr'"
fi

fa=$(cx_dig +short api.real.example.test A 2>&1)
if [[ $fa == "$T4" ]]; then
	pass dns_filter
else
	fail dns_filter "api.real.example.test: '$fa' (want the real $T4)"
fi

got=$(cx curl -q --noproxy '*' -sS -m "$FETCH_TIMEOUT" "http://www.example.test/1k" 2>&1 | sha256sum | cut -d' ' -f1)
if [[ $got == "$SHA_1K" ]] && grep -Eq "query\[(A|AAAA)\] www.example.test from $S_IP" "$RUN_DIR/dnsmasq.log" &&
	wait_log -E "$DAEMON_LOG" "flow#[0-9]+ closed .* -> www.example.test:80 \(" 5; then
	curl_ok=1
else
	curl_ok=0
fi

# UDP by name: an echo server on $T4 in S; the client sends to the fake
# address of udp.example.test and must get the echo from that address.
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --bind "$T6" --port "$UDP_PORT" \
	--log "$RUN_DIR/udp_server.log" >/dev/null 2>&1 &
SRV_PID[udp_echo]=$!
wait_listen "$NS_S" udp "$T4" "$UDP_PORT" 5 "${SRV_PID[udp_echo]}"
ua=$(cx_dig +short udp.example.test A 2>&1)
out=$(cx "$PY" "$T2S_ITEST/udp_tool.py" echo --target "$ua" --port "$UDP_PORT" --count 20 \
	--max-size 1000 --timeout 3 2>&1)
if [[ $out == *"ok=20 "* ]] && in_range "$ua" 198.18.0.0/15; then
	pass dns_udp_by_name
else
	fail dns_udp_by_name "fake $ua: $out"
fi

rss0=$(awk '/^VmRSS/{print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null)
# Far more queries than every buffer on the way holds (the client's
# socket buffers grow to several MiB): backpressure must stop the client
# long before the count, however fast or loaded the machine.
fl=$(cx "$PY" "$T2S_ITEST/dns_tool.py" tcpflood --server "$ANY" --count 2000000 2>&1)
rss1=$(awk '/^VmRSS/{print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null)
fsent=$(grep -o 'sent=[0-9]*' <<<"$fl" | cut -d= -f2)
fans=$(grep -o 'answered=[0-9]*' <<<"$fl" | cut -d= -f2)
# (RSS only without ASan/valgrind: ASan's quarantine keeps 256 MiB of
# freed memory on purpose)
if [[ -n $fsent && $fsent == "$fans" ]] && ((fsent > 0 && fsent < 2000000)) && daemon_alive &&
	{ [[ $DAEMON_WRAP != none ]] || (( ${rss1:-0} - ${rss0:-0} < 16384 )); }; then
	pass dns_tcp_flood
else
	fail dns_tcp_flood "$fl; RSS ${rss0:-?} -> ${rss1:-?} kB$(alive_note)"
fi

garb=$(cx "$PY" "$T2S_ITEST/dns_tool.py" garbage --server "$ANY" --count 200 2>&1)
after=$(cx_dig +short www.example.test A 2>&1)
if daemon_alive && [[ $after == "$FAKE_WWW" ]] && [[ $garb == sent=200* ]]; then
	pass dns_malformed
else
	fail dns_malformed "garbage: $garb; afterwards '$after'$(alive_note)"
fi

sleep 0.5
stop_server tcpdump
# The SOCKS5 CONNECT for the curl above: ATYP 3, length 16, the name.
if ((curl_ok)) && tcpdump -r "$RUN_DIR/uplink.pcap" -n -A "dst port $SOCKS_PORT" 2>/dev/null |
	grep -q "www.example.test"; then
	pass dns_curl_by_name
else
	fail dns_curl_by_name "fetch+log ok=$curl_ok; name in the SOCKS request: no"
fi
leaks=$(tcpdump -r "$RUN_DIR/uplink.pcap" -n 'port 53' 2>/dev/null |
	grep -Ev "(${C_IP//./\\.}\.[0-9]+ > ${S_IP//./\\.}\.53:|${S_IP//./\\.}\.53 > ${C_IP//./\\.}\.[0-9]+:)" | head -5)
npk=$(tcpdump -r "$RUN_DIR/uplink.pcap" -n 'port 53' 2>/dev/null | wc -l)
if [[ -z $leaks && $npk -gt 0 ]]; then
	pass dns_no_leak
else
	fail dns_no_leak "$npk DNS packets on the uplink; not to/from $S_IP:53: $leaks"
fi
daemon_finish

# ---- daemon #2: real-ip -------------------------------------------------------------
start_or_fail "dns_realip" "socks5://$S_IP:$SOCKS_PORT" --dns real-ip --dns-server "$S_IP"
ra=$(cx_dig +short real1.example.test A 2>&1)
got=$(cx curl -q --noproxy '*' -sS -m "$FETCH_TIMEOUT" "http://real1.example.test/1k" 2>&1 | sha256sum | cut -d' ' -f1)
if [[ $ra == "$T4" && $got == "$SHA_1K" ]] && grep -Eq "query\[(A|AAAA)\] real1.example.test from $S_IP" "$RUN_DIR/dnsmasq.log" &&
	wait_log -E "$DAEMON_LOG" "flow#[0-9]+ closed .* -> real1.example.test:80 \(" 5; then
	pass dns_realip
else
	fail dns_realip "A '$ra' (want $T4), sha ok=$([[ $got == "$SHA_1K" ]] && echo 1 || echo 0), danted asked dnsmasq: $(grep -c "real1.example.test from $S_IP" "$RUN_DIR/dnsmasq.log")"
fi
daemon_finish

# ---- daemon #3: a small pool cycled by 10 000 names ----------------------------------
# (the minimum age off: the cycle reuses every address at once; see
# test_fake_pool.sh for the guard)
start_or_fail "dns_pool_cycle" "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP" \
	--fake-ip-range 198.18.0.0/24 --fake-ip-min-age 0
pa=$(cx_dig +short pinned.example.test A 2>&1)
# a download that lasts through the cycle: 64 MiB at 4 MiB/s
cx curl -4 -q --noproxy '*' -sS -m 120 --limit-rate 4M -o "$RUN_DIR/pinned.out" \
	"http://pinned.example.test/64m" >"$RUN_DIR/pinned.curl" 2>&1 &
CURL_PID=$!
sleep 1
cyc=$(cx "$PY" "$T2S_ITEST/dns_tool.py" cycle --server "$ANY" --count 10000 \
	--range 198.18.0.0/24 --pinned pinned.example.test --pinned-addr "$pa" 2>&1)
cyc_rc=$?
wait "$CURL_PID"
curl_rc=$?
got=$(sha256sum <"$RUN_DIR/pinned.out" | cut -d' ' -f1)
if ((cyc_rc == 0 && curl_rc == 0)) && [[ $got == "$SHA_64M" ]]; then
	pass dns_pool_cycle
else
	fail dns_pool_cycle "cycle rc $cyc_rc: $(tail -3 <<<"$cyc" | tr '\n' ' '); download rc $curl_rc sha ok=$([[ $got == "$SHA_64M" ]] && echo 1 || echo 0)"
fi
rm -f "$RUN_DIR/pinned.out"
daemon_finish

# ---- daemon #4: forwarding over TCP through the proxy ----------------------------------
: >"$RUN_DIR/dnsmasq.log"
start_or_fail "dns_via_proxy" "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP" --dns-via-proxy
mx=$(cx_dig +short mail.example.test MX 2>&1)
sleep 0.3
if [[ $mx == "10 mx1.example.test." ]] && grep -q "query\[MX\] mail.example.test from $T4" "$RUN_DIR/dnsmasq.log" &&
	! grep -q "from $C_IP" "$RUN_DIR/dnsmasq.log"; then
	pass dns_via_proxy
else
	fail dns_via_proxy "MX '$mx'; dnsmasq saw: $(grep query "$RUN_DIR/dnsmasq.log" | tail -3 | tr '\n' ' ')"
fi
daemon_finish

# ---- daemon #5: an upstream that never answers ------------------------------------------
sx "$PY" -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("'"$S_IP"'",'"$SILENT_PORT"')); time.sleep(600)' &
SRV_PID[silent]=$!
start_or_fail "dns_servfail" "socks5://$S_IP:$SOCKS_PORT" --dns-server "$S_IP:$SILENT_PORT"
t0=$(now)
st=$(cx dig +time=12 +tries=1 "@$ANY" mail.example.test MX 2>&1 | grep -o 'status: [A-Z]*')
dt=$(elapsed "$t0")
fa=$(cx_dig +short quick.example.test A 2>&1)
if [[ $st == "status: SERVFAIL" ]] && lt "$dt" 10 && in_range "$fa" 198.18.0.0/15; then
	pass dns_servfail
else
	fail dns_servfail "'$st' after ${dt}s; fake A '$fa'"
fi
daemon_finish
t2s_finish
