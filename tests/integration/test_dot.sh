#!/usr/bin/env bash
# DNS over TLS upstreams (nameserver: [tls://...], docs/design.md §24):
# stunnel4 on $S_IP:853 with the test CA's certificate (its SAN holds
# $S_IP) in front of dnsmasq's TCP port ($S_IP:53, *.example.test -> $T4).
# The daemon runs in real-ip mode so dig shows the real answer.
#
#   dot_check          a config whose only nameserver is tls:// loads
#                      (tun2socks check OK)
#   dot_resolve        dig through the daemon gets dnsmasq's answer, which
#                      came over TLS (stunnel logged the connection,
#                      dnsmasq the query)
#   dot_wrong_ca       dns.ca names another CA: the server is refused, the
#                      query answered SERVFAIL, the log says why
#   dot_timeout        a server that accepts and never answers: SERVFAIL
#                      within the deadline (4 s), not a hang
#   dot_policy         plain main servers, a nameserver-policy entry on
#                      tls://: only the entry's names go over TLS (stunnel
#                      counts its connections)
#   dot_main_policy    tls:// main servers with a plain policy entry: the
#                      entry's names go to the plain server
#   dot_default_ns     tls://proxy.test:853, a name only default-nameserver
#                      (a second dnsmasq) knows: looked up there on the
#                      loop (the system's resolver is the daemon itself),
#                      then queries go over TLS to it
#   dot_failover       two tls:// servers, the first never answering: both
#                      are asked at once (mihomo's batchExchange), so the
#                      second's answer comes well before the first's 4 s
#                      deadline, for each query
#   dot_reuse          three queries to that server, one after the other:
#                      one TLS connection carries them all (stunnel counts
#                      one accept), pipelined by ID
#   dot_reconnect      stunnel restarted (the kept connection closed under
#                      the daemon): the next query opens a new one and is
#                      answered
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="dot_check dot_resolve dot_wrong_ca dot_timeout dot_policy dot_main_policy dot_default_ns dot_failover
dot_reuse dot_reconnect"
require_tools dnsmasq dig stunnel4 openssl
ANY=192.0.2.53
DOT_PORT=853

ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
make_test_ca
start_stunnel "$DOT_PORT" 53 || fail_all "$NAMES" "stunnel did not start"
# the daemon's marked sockets leave by v0 (the timeout case's server is $T4)
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

conf() { # conf FILE SERVER CA
	cat >"$1" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['$2']
  ca: $3
EOF
}
conf "$RUN_DIR/ok.yaml" "tls://$S_IP:$DOT_PORT" "$PKI/ca.pem"
conf "$RUN_DIR/wrongca.yaml" "tls://$S_IP:$DOT_PORT" "$PKI/other.pem"
conf "$RUN_DIR/hold.yaml" "tls://$T4:$HOLD_PORT" "$PKI/ca.pem"

BIN=$(daemon_bin)
out=$("$BIN" check -c "$RUN_DIR/ok.yaml" 2>&1)
if [[ $out == *OK* ]]; then pass dot_check; else fail dot_check "check: $(tr '\n' ' ' <<<"$out")"; fi

status() { cx dig +time=8 +tries=1 "@$ANY" "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/ok.yaml" --fwmark 1
a=$(cx dig +short +time=8 +tries=1 "@$ANY" www.example.test A 2>&1)
if [[ $a == "$T4" ]] && grep -q "www.example.test" "$RUN_DIR/dnsmasq.log" &&
	grep -q "DNS over TLS to" "$DAEMON_LOG"; then
	pass dot_resolve
else
	fail dot_resolve "answer '$a' (want $T4 through stunnel and dnsmasq)"
fi
daemon_finish

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/wrongca.yaml" --fwmark 1
s=$(status www.example.test A)
if [[ $s == SERVFAIL ]] && grep -qi "certificate" "$DAEMON_LOG"; then
	pass dot_wrong_ca
else
	fail dot_wrong_ca "status '$s' (want SERVFAIL and a certificate error in the log)"
fi
daemon_finish

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/hold.yaml" --fwmark 1
t0=$(now)
s=$(status www.example.test A)
dt=$(elapsed "$t0")
if [[ $s == SERVFAIL ]] && lt "$dt" 8; then
	pass dot_timeout
else
	fail dot_timeout "status '$s' after ${dt}s (want SERVFAIL within the 4 s deadline)"
fi
daemon_finish

conns() { grep -c "accepted connection" "$RUN_DIR/stunnel.log"; }
# two_ways NAME CONFIG PLAIN-NAME TLS-NAME: the first name must not use
# TLS, the second must
two_ways() {
	local c0 c1 c2 a b
	start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$2" --fwmark 1
	c0=$(conns)
	a=$(cx dig +short +time=8 +tries=1 "@$ANY" "$3" A 2>&1)
	c1=$(conns)
	b=$(cx dig +short +time=8 +tries=1 "@$ANY" "$4" A 2>&1)
	c2=$(conns)
	if [[ $a == "$T4" && $b == "$T4" ]] && ((c1 == c0 && c2 > c1)); then
		pass "$1"
	else
		fail "$1" "$3 '$a' (stunnel $c0 -> $c1), $4 '$b' (-> $c2): want $T4 both, TLS only for the second"
	fi
	daemon_finish
}
cat >"$RUN_DIR/policy.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: [$S_IP]
  ca: $PKI/ca.pem
  nameserver-policy:
    '+.dot.example.test': 'tls://$S_IP:$DOT_PORT'
EOF
two_ways dot_policy "$RUN_DIR/policy.yaml" plain.example.test x.dot.example.test
cat >"$RUN_DIR/mainpolicy.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['tls://$S_IP:$DOT_PORT']
  ca: $PKI/ca.pem
  nameserver-policy:
    '+.plain.example.test': $S_IP
EOF
two_ways dot_main_policy "$RUN_DIR/mainpolicy.yaml" x.plain.example.test other.example.test

# proxy.test is the name in the test certificate; only the dnsmasq on
# port 5353 knows it (C's hosts file is empty, its resolv.conf the daemon)
: >"/etc/netns/$NS_C/hosts"
if start_name_dns 5353 proxy.test "$S_IP"; then
	cat >"$RUN_DIR/defns.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['tls://proxy.test:$DOT_PORT']
  default-nameserver: ['$S_IP:5353']
  ca: $PKI/ca.pem
EOF
	start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/defns.yaml" --fwmark 1
	c0=$(conns)
	wait_log "$DAEMON_LOG" "its name through default-nameserver"
	a=$(cx dig +short +time=8 +tries=1 "@$ANY" www.example.test A 2>&1)
	if [[ $a == "$T4" ]] && (($(conns) > c0)) &&
		grep -q "query.*proxy.test" "$RUN_DIR/dnsmasq-5353.log" &&
		grep -q "DNS over TLS to proxy.test:$DOT_PORT.*its name through default-nameserver" "$DAEMON_LOG"; then
		pass dot_default_ns
	else
		fail dot_default_ns "answer '$a' (want $T4 over TLS to proxy.test, resolved by default-nameserver)"
	fi
	daemon_finish
else
	fail dot_default_ns "the default-nameserver dnsmasq did not start"
fi

conf "$RUN_DIR/failover.yaml" "tls://$T4:$HOLD_PORT', 'tls://$S_IP:$DOT_PORT" "$PKI/ca.pem"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/failover.yaml" --fwmark 1
c0=$(conns)
t0=$(now)
a=$(cx dig +short +time=12 +tries=1 "@$ANY" www.example.test A 2>&1)
da=$(elapsed "$t0")
t0=$(now)
b=$(cx dig +short +time=12 +tries=1 "@$ANY" two.example.test A 2>&1)
dt=$(elapsed "$t0")
c=$(cx dig +short +time=12 +tries=1 "@$ANY" three.example.test A 2>&1)
c1=$(conns)
if [[ $a == "$T4" && $b == "$T4" ]] && lt "$da" 3 && lt "$dt" 3; then
	pass dot_failover
else
	fail dot_failover "answers '$a' '$b' (want $T4 both) after ${da}s and ${dt}s (want < 3 each)"
fi
if [[ $c == "$T4" ]] && ((c1 == c0 + 1)); then
	pass dot_reuse
else
	fail dot_reuse "third answer '$c' (want $T4); stunnel accepted $((c1 - c0)) connections for 3 queries (want 1)"
fi
stop_server stunnel
start_stunnel "$DOT_PORT" 53 || log "stunnel did not come back"
sleep 0.5
d=$(cx dig +short +time=12 +tries=1 "@$ANY" four.example.test A 2>&1)
if [[ $d == "$T4" ]]; then
	pass dot_reconnect
else
	fail dot_reconnect "answer '$d' after stunnel restarted (want $T4 on a new connection)"
fi
daemon_finish
t2s_finish
