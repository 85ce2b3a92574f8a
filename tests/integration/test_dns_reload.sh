#!/usr/bin/env bash
# DNS settings applied at a reload (SIGHUP; docs/design.md §24). In S:
# slow_dns.py on $S_IP:53 (*.example.test -> $T4 at once, *.slow.test ->
# $SLOW after 2 s) and dnsmasq on $S_IP:5353 (*.example.test -> $ALT).
# The daemon runs in real-ip mode (then fake-ip for the pool), so dig
# shows which server answered.
#
#   dns_reload_policy     a nameserver-policy entry added by a reload is
#                         used by the next query
#   dns_reload_hosts      a hosts: name added by a reload is answered
#   dns_reload_nameserver nameserver changed by a reload: the next query
#                         goes to the new server
#   dns_reload_inflight   a query in flight on a policy server the reload
#                         replaced still gets its answer (not SERVFAIL),
#                         and the old servers are freed afterwards
#   dns_reload_fake_pool  fake-ip: a name keeps its fake address across a
#                         reload that changes the nameservers
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="dns_reload_policy dns_reload_hosts dns_reload_nameserver dns_reload_inflight
dns_reload_fake_pool"
require_tools dnsmasq dig
ANY=192.0.2.53
ALT=203.0.113.99
SLOW=198.51.100.7

ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
sx "$PY" "$T2S_ITEST/slow_dns.py" --bind "$S_IP" --delay 2 --zone slow.test --addr "$SLOW" \
	--fast-zone example.test --fast-addr "$T4" --log "$RUN_DIR/slow.log" >/dev/null 2>&1 &
SRV_PID[slow_dns]=$!
wait_listen "$NS_S" udp "$S_IP" 53 10 "${SRV_PID[slow_dns]}" || fail_all "$NAMES" "slow_dns did not start"
cat >"$RUN_DIR/alt.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$S_IP
port=5353
bind-interfaces
address=/example.test/$ALT
log-queries
log-facility=$RUN_DIR/alt.log
EOF
sx dnsmasq -k -C "$RUN_DIR/alt.conf" --pid-file="$RUN_DIR/alt.pid" >"$RUN_DIR/alt.stdout" 2>&1 &
SRV_PID[alt]=$!
wait_listen "$NS_S" udp "$S_IP" 5353 10 "${SRV_PID[alt]}" || fail_all "$NAMES" "dnsmasq did not start"

CONF=$RUN_DIR/config.yaml
conf() { # conf MODE NAMESERVER [EXTRA-DNS-LINES [TOP-LINES]]
	cat >"$CONF" <<EOF
${4:-}
dns:
  enable: true
  enhanced-mode: $1
  use-system-hosts: false
  nameserver: ['$2']
${3:-}
EOF
}
q() { cx dig +short +time=4 +tries=1 "@$ANY" "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
reloads() { grep -c "reload: DNS servers rebuilt" "$DAEMON_LOG" 2>/dev/null; }
# reload N: SIGHUP and wait for the Nth rebuild
reload() {
	local i
	kill -HUP "$DAEMON_PID"
	for ((i = 0; i < 100; i++)); do
		(($(reloads) >= $1)) && return 0
		sleep 0.1
	done
	return 1
}

conf redir-host "$S_IP" "  nameserver-policy:
    '+.slow.test': '$S_IP'"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"
before=$(q www.pol.example.test A)
# a query on the policy's server, answered 2 s later, across the reload
cx dig +short +time=6 +tries=1 "@$ANY" x.slow.test A >"$RUN_DIR/inflight.out" 2>&1 &
DIG=$!
sleep 0.5
conf redir-host "$S_IP" "  nameserver-policy:
    '+.pol.example.test': '$S_IP:5353'
    '+.slow.test': '$S_IP:5353'" "hosts:
  added.hosts.test: 10.9.9.9"
reload 1 || log "no rebuild logged"
wait "$DIG"
inflight=$(tr '\n' ' ' <"$RUN_DIR/inflight.out" | sed 's/ $//')
p=$(q www.pol.example.test A)
h=$(q added.hosts.test A)
if [[ $before == "$T4" && $p == "$ALT" ]]; then
	pass dns_reload_policy
else
	fail dns_reload_policy "www.pol.example.test '$before' before (want $T4), '$p' after the reload (want $ALT)"
fi
if [[ $h == 10.9.9.9 ]]; then
	pass dns_reload_hosts
else
	fail dns_reload_hosts "added.hosts.test '$h' after the reload (want 10.9.9.9)"
fi
# the replaced set goes once its query answered
wait_log "$DAEMON_LOG" "replaced DNS servers freed" 10
if [[ $inflight == "$SLOW" ]] && grep -q "replaced DNS servers freed" "$DAEMON_LOG"; then
	pass dns_reload_inflight
else
	fail dns_reload_inflight "the query in flight got '$inflight' (want $SLOW); freed: $(grep -c 'replaced DNS servers freed' "$DAEMON_LOG")"
fi

m1=$(q www.example.test A)
conf redir-host "$S_IP:5353"
reload 2 || log "no second rebuild logged"
m2=$(q www.example.test A)
if [[ $m1 == "$T4" && $m2 == "$ALT" ]] && ! grep -q "take effect at the next start" "$DAEMON_LOG"; then
	pass dns_reload_nameserver
else
	fail dns_reload_nameserver "www.example.test '$m1' before (want $T4), '$m2' after (want $ALT)$(grep 'next start' "$DAEMON_LOG" | tail -1)"
fi
daemon_finish

conf fake-ip "$S_IP"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"
f1=$(q www.example.test A)
o1=$(q other.example.test A)
conf fake-ip "$S_IP:5353"
n0=$(reloads)
reload $((n0 + 1)) || log "no rebuild logged"
f2=$(q www.example.test A)
if [[ -n $f1 && $f1 == "$f2" && $f1 != "$o1" && $f1 != "$T4" ]] && (($(reloads) == n0 + 1)); then
	pass dns_reload_fake_pool
else
	fail dns_reload_fake_pool "www.example.test '$f1' before, '$f2' after the reload (want the same fake address)"
fi
daemon_finish
t2s_finish
