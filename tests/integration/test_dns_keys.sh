#!/usr/bin/env bash
# DNS keys as mihomo users write them (docs/design.md §23): hosts:,
# nameserver-policy, fallback + fallback-filter. Two dnsmasq servers in S:
# the main one ($S_IP:53: *.example.test -> $T4, poison.example.test ->
# 192.0.2.66) and another ($S_IP:5353: *.example.test -> 203.0.113.99).
# The daemon runs in real-ip mode, so dig shows which server answered.
#
#   dns_hosts_answer     hosts: names (exact and +. pattern, A and AAAA) are
#                        answered by the daemon; no server is asked
#   dns_hosts_alias      hosts: a name as the value (mihomo's alias): the
#                        chain through the table answers its addresses;
#                        one leaving the table answers no address
#   dns_hosts_direct     a DIRECT rule for a hosts: name connects to the
#                        hosts address (curl reaches nginx, whoami = $C_IP)
#   dns_policy           nameserver-policy: +.policy.example.test asks the
#                        other server; other names the main one
#   dns_fallback_ipcidr  the main answer is in fallback-filter.ipcidr: the
#                        fallback's answer is used
#   dns_fallback_domain  fallback-filter.domain names go to the fallback
#   dns_keys_check       tun2socks check warns about a geoip: policy key
#                        (only patterns, geosite: and rule-set: keys) and
#                        a quic:// policy server, and still loads
#   dns_proxy_server_ns  a SOCKS5 proxy named socks.names.test, a name only
#                        proxy-server-nameserver (a third dnsmasq) knows:
#                        the daemon starts and curl goes through the proxy;
#                        that server's address ($PSN) is routed only by the
#                        routing mark's table, so its lookup needs the mark
#                        our other sockets get
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="dns_hosts_answer dns_hosts_alias dns_hosts_direct dns_policy dns_fallback_ipcidr dns_fallback_domain
dns_keys_check dns_proxy_server_ns"
require_tools dnsmasq dig
ANY=192.0.2.53
ALT=203.0.113.99

ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
dnsmasq_at() { # dnsmasq_at NAME PORT EXTRA-LINES
	cat >"$RUN_DIR/$1.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$S_IP
port=$2
bind-interfaces
$3
log-queries
log-facility=$RUN_DIR/$1.log
EOF
	: >"$RUN_DIR/$1.log"
	sx dnsmasq -k -C "$RUN_DIR/$1.conf" --pid-file="$RUN_DIR/$1.pid" >"$RUN_DIR/$1.stdout" 2>&1 &
	SRV_PID[$1]=$!
	wait_listen "$NS_S" udp "$S_IP" "$2" 10 "${SRV_PID[$1]}"
}
dnsmasq_at main 53 "address=/example.test/$T4
address=/poison.example.test/192.0.2.66" || fail_all "$NAMES" "main dnsmasq did not start"
dnsmasq_at alt 5353 "address=/example.test/$ALT" || fail_all "$NAMES" "second dnsmasq did not start"
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

CONF=$RUN_DIR/config.yaml
cat >"$CONF" <<EOF
hosts:
  hosted.example.test: 10.20.30.40
  '+.wild.hosts.test': [10.20.30.41, 'fd00::41']
  web.hosts.test: $T4
  alias.hosts.test: link.hosts.test
  link.hosts.test: hosted.example.test
  out.hosts.test: www.example.test
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: [$S_IP]
  nameserver-policy:
    '+.policy.example.test': '$S_IP:5353'
    'geoip:cn': [$S_IP]
    'other.example.test': 'quic://$S_IP'
  fallback: ['$S_IP:5353']
  fallback-filter:
    geoip: false
    ipcidr: [192.0.2.0/24]
    domain: ['+.fb.example.test']
rules:
  - DOMAIN-SUFFIX,hosts.test,DIRECT
  - MATCH,DIRECT
EOF
BIN=$(daemon_bin)
out=$("$BIN" check -c "$CONF" 2>&1)
if [[ $out == *"only domain patterns, geosite: and rule-set: keys are supported"* &&
	$out == *"DNS over QUIC is not supported"* && $out == *OK* ]]; then
	pass dns_keys_check
else
	fail dns_keys_check "check said: $(tr '\n' ' ' <<<"$out")"
fi

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1
q() { cx dig +short +time=3 "@$ANY" "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }

a=$(q hosted.example.test A)
b=$(q x.wild.hosts.test A)
c=$(q wild.hosts.test AAAA)
if [[ $a == 10.20.30.40 && $b == 10.20.30.41 && $c == fd00::41 ]] &&
	! grep -q "hosts.test\|hosted" "$RUN_DIR/main.log" "$RUN_DIR/alt.log"; then
	pass dns_hosts_answer
else
	fail dns_hosts_answer "hosted '$a', x.wild '$b', wild AAAA '$c' (want 10.20.30.40, 10.20.30.41, fd00::41, no upstream query)"
fi

al=$(q alias.hosts.test A)
ol=$(q out.hosts.test A)
ost=$(cx dig +time=3 "@$ANY" out.hosts.test A 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
if [[ $al == 10.20.30.40 && -z $ol && $ost == NOERROR ]] &&
	! grep -q "alias.hosts.test\|out.hosts.test" "$RUN_DIR/main.log"; then
	pass dns_hosts_alias
else
	fail dns_hosts_alias "alias.hosts.test '$al' (want 10.20.30.40), out.hosts.test '$ol' status '$ost' (want no address, NOERROR), no upstream query"
fi

w=$(ccurl -m 10 http://web.hosts.test/whoami 2>&1)
if [[ $w == "$C_IP" ]]; then
	pass dns_hosts_direct
else
	fail dns_hosts_direct "whoami '$w' (want $C_IP: DIRECT to the hosts address)"
fi

p=$(q www.policy.example.test A)
m=$(q www.example.test A)
if [[ $p == "$ALT" && $m == "$T4" ]]; then
	pass dns_policy
else
	fail dns_policy "policy name '$p' (want $ALT), other name '$m' (want $T4)"
fi

f=$(q poison.example.test A)
if [[ $f == "$ALT" ]] && grep -q "poison.example.test" "$RUN_DIR/main.log"; then
	pass dns_fallback_ipcidr
else
	fail dns_fallback_ipcidr "poison.example.test '$f' (want $ALT from the fallback)"
fi

d=$(q x.fb.example.test A)
if [[ $d == "$ALT" ]] && ! grep -q "x.fb.example.test" "$RUN_DIR/main.log"; then
	pass dns_fallback_domain
else
	fail dns_fallback_domain "x.fb.example.test '$d' (want $ALT, main not asked)"
fi
daemon_finish

# The proxy's name is known only to proxy-server-nameserver (C's hosts
# file is empty, its resolv.conf the daemon itself)
: >"/etc/netns/$NS_C/hosts"
PSN=198.51.100.54
ip -n "$NS_S" addr add "$PSN/32" dev lo
# answers from $PSN come back unmarked: no reverse-path check on them
cx sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.v0.rp_filter=0
sx dnsmasq -k --no-resolv --no-hosts --user=root --listen-address="$PSN" --bind-interfaces \
	--port=5454 --host-record="socks.names.test,$S_IP" --log-queries \
	--log-facility="$RUN_DIR/dnsmasq-5454.log" --pid-file="$RUN_DIR/dnsmasq-5454.pid" \
	>"$RUN_DIR/dnsmasq-5454.stdout" 2>&1 &
SRV_PID[dnsmasq_5454]=$!
if wait_listen "$NS_S" udp "$PSN" 5454 10 "${SRV_PID[dnsmasq_5454]}" &&
	! cx dig +time=1 +tries=1 "@$PSN" -p 5454 socks.names.test A >/dev/null 2>&1; then
	cat >"$RUN_DIR/psn.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: [$S_IP]
  proxy-server-nameserver: ['$PSN:5454']
proxies:
  - { name: named, type: socks5, server: socks.names.test, port: $SOCKS_PORT }
rules:
  - MATCH,named
EOF
	start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/psn.yaml" --fwmark 1
	w=$(ccurl -m 10 "http://$T4/whoami" 2>&1)
	if [[ -n $w && $w != "$C_IP" && $w != *curl* ]] &&
		grep -q "query.*socks.names.test" "$RUN_DIR/dnsmasq-5454.log"; then
		pass dns_proxy_server_ns
	else
		fail dns_proxy_server_ns "whoami '$w' (want the proxy's address, not $C_IP)"
	fi
	daemon_finish
else
	fail dns_proxy_server_ns "the proxy-server-nameserver dnsmasq did not start, or C reaches $PSN without the mark"
fi
t2s_finish
