#!/usr/bin/env bash
# Proxy groups with health checks and providers downloaded over HTTP, end to
# end (docs/design.md §18, §19). Three microsocks members each connect out
# from their own address (10.99.0.1..3), so nginx's /whoami tells which
# member carried a request. Providers are served by a Python HTTP server in
# S ($S_IP:$PROV_PORT) and fetched through dante (`proxy: dante`).
#
#   groups_check_note       check: an http provider not cached yet is a note, rc 0
#   groups_check_fetch      check --fetch downloads both providers through dante
#   groups_lb_spread        load-balance round-robin spreads over the members
#   groups_lb_hash          consistent-hashing: one site keeps one member,
#                           several sites use more than one
#   groups_relay_socks      relay [m1, hidden]: a chain; hidden listens on S's
#                           loopback (the client cannot reach it), nginx
#                           sees hidden's address
#   groups_relay_http       relay [DIRECT, m1, tinyproxy]: DIRECT left out as
#                           mihomo does, tinyproxy's client is m1's address,
#                           nginx sees tinyproxy's
#   groups_relay_tls        relay [m1, tp over TLS]: TLS to the second hop
#                           (stunnel in front of tinyproxy) runs inside the
#                           first hop's tunnel
#   groups_dialer_proxy     a proxy on S's loopback with dialer-proxy: m1
#                           (mihomo's proxydialer): reached through m1
#   groups_urltest_switch   url-test: its member's microsocks is killed, the
#                           next round moves the group to the other member
#   groups_fallback         fallback: a dead first member is passed over
#   groups_max_failed       fallback checked once an hour, behind a select
#                           group: its member's microsocks is killed, the
#                           refused connection triggers a check of the
#                           fallback at once (max-failed-times) and it moves
#                           to its second member
#   providers_rule_fetch    an http rule-provider fetched at start through
#                           dante applies (REJECT) once the reload ran
#   providers_proxy_fetch   an http proxy-provider fills a group (use:
#                           filter:) whose member then carries the request
#   providers_refresh       the rule list changes on the server: applied
#                           after the next interval
#   providers_refresh_fail  the server goes down: a refresh fails, the copy
#                           stays and still applies
#   providers_cache_start   restarted with the server down: starts from the
#                           cached copies (logged) and they apply
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="groups_check_note groups_check_fetch groups_lb_spread groups_lb_hash
groups_urltest_switch groups_fallback groups_max_failed groups_relay_socks groups_relay_http groups_relay_tls groups_dialer_proxy providers_rule_fetch providers_proxy_fetch
providers_refresh providers_refresh_fail providers_cache_start"
require_tools dnsmasq microsocks tinyproxy stunnel4 openssl timeout
PROV_PORT=8088
M_PORT=(1091 1092 1093)
M_ADDR=(10.99.0.1 10.99.0.2 10.99.0.3)
DEAD_PORT=1099
MFT_PORT=1094 # a fourth microsocks, from m1's address, killed by groups_max_failed

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" 192.0.2.53
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
# names of other sites (consistent hashing keys on the registrable name)
kill_tree TERM "${SRV_PID[dnsmasq]}"
wait "${SRV_PID[dnsmasq]}" 2>/dev/null
for i in 1 2 3 4 5 6 7 8; do echo "address=/lbh$i.test/$T4"; done >>"$RUN_DIR/dnsmasq.conf"
sx dnsmasq -k -C "$RUN_DIR/dnsmasq.conf" --pid-file="$RUN_DIR/dnsmasq.pid" \
	>"$RUN_DIR/dnsmasq.stdout" 2>&1 &
SRV_PID[dnsmasq]=$!
wait_listen "$NS_S" udp "$S_IP" 53 10 "${SRV_PID[dnsmasq]}" || fail_all "$NAMES" "dnsmasq restart"
for i in 0 1 2; do
	ip -n "$NS_S" addr add "${M_ADDR[$i]}/32" dev lo
	sx microsocks -i "$S_IP" -p "${M_PORT[$i]}" -b "${M_ADDR[$i]}" >"$RUN_DIR/ms$i.log" 2>&1 &
	SRV_PID[ms$i]=$!
	wait_listen "$NS_S" tcp "$S_IP" "${M_PORT[$i]}" 5 "${SRV_PID[ms$i]}" ||
		fail_all "$NAMES" "microsocks $i did not start"
done
sx microsocks -i "$S_IP" -p "$MFT_PORT" -b "${M_ADDR[0]}" >"$RUN_DIR/ms_mft.log" 2>&1 &
SRV_PID[ms_mft]=$!
wait_listen "$NS_S" tcp "$S_IP" "$MFT_PORT" 5 "${SRV_PID[ms_mft]}" ||
	fail_all "$NAMES" "microsocks (max-failed-times) did not start"
# relay hops: a microsocks on S's loopback only, and tinyproxy, each
# connecting out from an address of its own
HIDDEN_PORT=1096
TP_PORT=8889
HIDDEN_ADDR=10.99.0.5
TP_ADDR=10.99.0.6
ip -n "$NS_S" addr add "$HIDDEN_ADDR/32" dev lo
ip -n "$NS_S" addr add "$TP_ADDR/32" dev lo
sx microsocks -i 127.0.0.1 -p "$HIDDEN_PORT" -b "$HIDDEN_ADDR" >"$RUN_DIR/ms_hidden.log" 2>&1 &
SRV_PID[ms_hidden]=$!
wait_listen "$NS_S" tcp 127.0.0.1 "$HIDDEN_PORT" 5 "${SRV_PID[ms_hidden]}" ||
	fail_all "$NAMES" "microsocks (hidden) did not start"
TP_BIND=$TP_ADDR start_tinyproxy tp "$TP_PORT" || fail_all "$NAMES" "tinyproxy did not start"
TLS_PORT=8890 # stunnel: TLS in front of tinyproxy, the TLS hop of a relay
make_test_ca || fail_all "$NAMES" "openssl could not make the test CA"
start_stunnel "$TLS_PORT" "$TP_PORT" || fail_all "$NAMES" "stunnel4 did not start"
PROV=$RUN_DIR/prov
mkdir -p "$PROV"
printf '+.blocked.example.test\n' >"$PROV/blocked.txt"
cat >"$PROV/subs.yaml" <<EOF
proxies:
  - {name: sub-m3, type: socks5, server: $S_IP, port: ${M_PORT[2]}}
  - {name: other-m1, type: socks5, server: $S_IP, port: ${M_PORT[0]}}
  - {name: sub-ss, type: ss, server: $S_IP, port: 8388, cipher: aes-128-gcm, password: x}
EOF
start_prov() {
	sx "$PY" -m http.server "$PROV_PORT" --bind "$S_IP" --directory "$PROV" \
		>"$RUN_DIR/prov.log" 2>&1 &
	SRV_PID[prov]=$!
	wait_listen "$NS_S" tcp "$S_IP" "$PROV_PORT" 5 "${SRV_PID[prov]}"
}
start_prov || fail_all "$NAMES" "provider server did not start"
# DIRECT (an empty group before its provider came): marked sockets leave by v0
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

export T2S_CACHE_DIR=$RUN_DIR/cache
CONF=$RUN_DIR/config.yaml
HC="url: 'http://$T4/health', interval: 1, timeout: 2000, lazy: false"
cat >"$CONF" <<EOF
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
proxies:
  - {name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT}
  - {name: m1, type: socks5, server: $S_IP, port: ${M_PORT[0]}}
  - {name: m2, type: socks5, server: $S_IP, port: ${M_PORT[1]}}
  - {name: m3, type: socks5, server: $S_IP, port: ${M_PORT[2]}}
  - {name: gone, type: socks5, server: $S_IP, port: $DEAD_PORT}
  - {name: m4, type: socks5, server: $S_IP, port: $MFT_PORT}
  - {name: hidden, type: socks5, server: 127.0.0.1, port: $HIDDEN_PORT}
  - {name: hidden-via, type: socks5, server: 127.0.0.1, port: $HIDDEN_PORT, dialer-proxy: m1}
  - {name: tp, type: http, server: $S_IP, port: $TP_PORT}
  - {name: tps, type: http, server: $S_IP, port: $TLS_PORT, tls: true, sni: proxy.test, ca: $PKI/ca.pem}
proxy-providers:
  subs: {type: http, url: 'http://$S_IP:$PROV_PORT/subs.yaml', interval: 2, proxy: dante}
rule-providers:
  blocked: {type: http, behavior: domain, format: text, proxy: dante, interval: 2,
            url: 'http://$S_IP:$PROV_PORT/blocked.txt'}
proxy-groups:
  - {name: LB, type: load-balance, strategy: round-robin, proxies: [m1, m2, m3], $HC}
  - {name: LBH, type: load-balance, proxies: [m1, m2, m3], $HC}
  - {name: Auto, type: url-test, proxies: [m1, m2], $HC}
  - {name: Fall, type: fallback, proxies: [gone, m3], $HC}
  - {name: Sub, type: select, use: [subs], filter: '^sub-'}
  - {name: RelayS, type: relay, proxies: [m1, hidden]}
  - {name: RelayH, type: relay, proxies: [DIRECT, m1, tp]}
  - {name: RelayT, type: relay, proxies: [m1, tps]}
  - {name: MftSel, type: select, proxies: [Mft, m3]}
  - {name: Mft, type: fallback, proxies: [m4, m2], url: 'http://$T4/health', interval: 3600,
     timeout: 2000, lazy: false, max-failed-times: 2}
rules:
  - RULE-SET,blocked,REJECT
  - DOMAIN-SUFFIX,lb.example.test,LB
  - DOMAIN-KEYWORD,lbh,LBH
  - DOMAIN-SUFFIX,auto.example.test,Auto
  - DOMAIN-SUFFIX,fall.example.test,Fall
  - DOMAIN-SUFFIX,sub.example.test,Sub
  - DOMAIN-SUFFIX,mft.example.test,MftSel
  - DOMAIN-SUFFIX,relays.example.test,RelayS
  - DOMAIN-SUFFIX,relayh.example.test,RelayH
  - DOMAIN-SUFFIX,relayt.example.test,RelayT
  - DOMAIN-SUFFIX,dialer.example.test,hidden-via
  - MATCH,dante
EOF
BIN=$(daemon_bin)
whoami() { cx curl -q --noproxy '*' -sS -m 10 "http://$1/whoami" 2>&1; }
member_of() { # ADDR -> m1|m2|m3|?
	local i
	for i in 0 1 2; do [[ $1 == "${M_ADDR[$i]}" ]] && { echo "m$((i + 1))"; return; }; done
	echo "?($1)"
}
# until_ok SECONDS CMD...: CMD until it succeeds or time runs out
until_ok() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 4; i++)); do "$@" && return 0; sleep 0.25; done
	return 1
}

# ---- check, offline and with --fetch (a cache of its own) ---------------------
out=$(cx env T2S_CACHE_DIR="$RUN_DIR/cache-check" "$BIN" check -c "$CONF" 2>&1)
rc=$?
if ((rc == 0)) && [[ $out == *'rule-providers: "blocked": not downloaded yet'* &&
	$out == *'proxy-providers: "subs": not downloaded yet'* ]]; then
	pass groups_check_note
else
	fail groups_check_note "rc $rc: $out"
fi
out=$(cx env T2S_CACHE_DIR="$RUN_DIR/cache-check" "$BIN" check -c "$CONF" --fetch 2>&1)
rc=$?
n=$(find "$RUN_DIR/cache-check" -type f -name '*.yaml' | wc -l)
if ((rc == 0 && n == 2)) && [[ $out != *"not downloaded yet"* &&
	$out == *"proxy-provider subs: updated"* ]]; then
	pass groups_check_fetch
else
	fail groups_check_fetch "rc $rc, $n files: $out"
fi

# ---- the daemon ------------------------------------------------------------------------
T2S_LOG_LEVEL=debug start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1

# providers: fetched at start through dante, applied by a reload
rejected() { ! cx curl -q --noproxy '*' -sS -m 5 -o /dev/null "http://$1/whoami" 2>/dev/null; }
if until_ok 15 rejected x.blocked.example.test &&
	grep -q "rule-provider blocked: downloading http://$S_IP:$PROV_PORT/blocked.txt via dante" "$DAEMON_LOG" &&
	grep -q "rule-provider blocked: updated" "$DAEMON_LOG"; then
	pass providers_rule_fetch
else
	fail providers_rule_fetch "x.blocked.example.test not rejected 15 s after start$(alive_note)"
fi
sub_is_m3() { [[ $(whoami x.sub.example.test) == "${M_ADDR[2]}" ]]; }
if until_ok 15 sub_is_m3 && grep -q 'proxy-provider subs: updated' "$DAEMON_LOG" &&
	grep -q '"subs": 1 proxy of types tun2socks does not speak left out (ss)' "$DAEMON_LOG"; then
	pass providers_proxy_fetch
else
	fail providers_proxy_fetch "x.sub.example.test via '$(whoami x.sub.example.test)' (want ${M_ADDR[2]})$(alive_note)"
fi

# load-balance: round-robin over three alive members
sleep 2 # a check round has run
declare -A seen=()
for i in 1 2 3 4 5 6; do
	w=$(whoami "r$i.lb.example.test")
	seen[$(member_of "$w")]=1
done
if ((${#seen[@]} == 3)) && [[ -n ${seen[m1]:-} && -n ${seen[m2]:-} && -n ${seen[m3]:-} ]]; then
	pass groups_lb_spread
else
	fail groups_lb_spread "members seen: ${!seen[*]}"
fi
declare -A sites=()
same=1
for i in 1 2 3 4 5 6 7 8; do
	a=$(member_of "$(whoami "www.lbh$i.test")")
	b=$(member_of "$(whoami "img.cdn.lbh$i.test")")
	[[ $a == "$b" ]] || same=0
	sites[$a]=1
done
if ((same == 1 && ${#sites[@]} >= 2)); then
	pass groups_lb_hash
else
	fail groups_lb_hash "same-site stable=$same, members used: ${!sites[*]}"
fi

# fallback: the dead first member is passed over
fall_m3() { [[ $(whoami x.fall.example.test) == "${M_ADDR[2]}" ]]; }
if until_ok 10 fall_m3; then
	pass groups_fallback
else
	fail groups_fallback "x.fall.example.test via '$(whoami x.fall.example.test)' (want m3)"
fi

# max-failed-times: checked only at start (interval 3600), Mft uses m4; with
# m4 gone the refused connection has the group checked at once, and it moves
# to m2 (without it, every request would fail for an hour)
if [[ $(whoami x.mft.example.test) == "${M_ADDR[0]}" ]]; then
	kill_tree KILL "${SRV_PID[ms_mft]}"
	wait "${SRV_PID[ms_mft]}" 2>/dev/null
	unset "SRV_PID[ms_mft]"
	mft_m2() { [[ $(whoami x.mft.example.test) == "${M_ADDR[1]}" ]]; }
	if until_ok 15 mft_m2 &&
		grep -q "group Mft: connections failed (refused), checking it now" "$DAEMON_LOG"; then
		pass groups_max_failed
	else
		fail groups_max_failed "x.mft.example.test via '$(whoami x.mft.example.test)' (want m2)$(alive_note)"
	fi
else
	fail groups_max_failed "x.mft.example.test via '$(whoami x.mft.example.test)' before (want m4)"
fi

# relay: the chain's last hop is what nginx sees (the first member alone,
# as before chains, would show m1's address)
w=$(whoami x.relays.example.test)
if [[ $w == "$HIDDEN_ADDR" ]] && grep -q "hop 2/2" "$DAEMON_LOG"; then
	pass groups_relay_socks
else
	fail groups_relay_socks "x.relays.example.test via '$w' (want hidden, $HIDDEN_ADDR)$(alive_note)"
fi
w=$(whoami x.relayh.example.test)
# tinyproxy's client is m1 (its address), asked for the name
if [[ $w == "$TP_ADDR" ]] && grep -q "Connect (file descriptor [0-9]*): ${M_ADDR[0]}" "$RUN_DIR/tp/log" &&
	grep -q "CONNECT x.relayh.example.test:80" "$RUN_DIR/tp/log"; then
	pass groups_relay_http
else
	fail groups_relay_http "x.relayh.example.test via '$w' (want tinyproxy, $TP_ADDR)$(alive_note)"
fi

# TLS to the second hop inside the first hop's tunnel: stunnel's client is
# m1's address
w=$(whoami x.relayt.example.test)
if [[ $w == "$TP_ADDR" ]] && grep -q "CONNECT x.relayt.example.test:80" "$RUN_DIR/tp/log" &&
	grep -q "TLS.*hop 2/2\|hop 2/2.*TLS" "$DAEMON_LOG"; then
	pass groups_relay_tls
else
	fail groups_relay_tls "x.relayt.example.test via '$w' (want tinyproxy behind stunnel, $TP_ADDR)$(alive_note)"
fi

# dialer-proxy: hidden (S's loopback) is reached through m1
w=$(whoami x.dialer.example.test)
if [[ $w == "$HIDDEN_ADDR" ]]; then
	pass groups_dialer_proxy
else
	fail groups_dialer_proxy "x.dialer.example.test via '$w' (want hidden, $HIDDEN_ADDR)$(alive_note)"
fi

# url-test: kill the member it uses; the next round moves it
w=$(whoami x.auto.example.test)
cur=$(member_of "$w")
if [[ $cur == m1 || $cur == m2 ]]; then
	k=$((${cur#m} - 1))
	other=m$((2 - k))
	log "url-test uses $cur; killing its microsocks"
	kill_tree KILL "${SRV_PID[ms$k]}"
	wait "${SRV_PID[ms$k]}" 2>/dev/null
	unset "SRV_PID[ms$k]"
	moved() { [[ $(member_of "$(whoami x.auto.example.test)") == "$other" ]]; }
	if until_ok 15 moved && grep -q "group Auto: now $other (was $cur)" "$DAEMON_LOG"; then
		pass groups_urltest_switch
	else
		fail groups_urltest_switch "still via '$(whoami x.auto.example.test)' (want $other)$(alive_note)"
	fi
else
	fail groups_urltest_switch "x.auto.example.test via '$w' (want m1 or m2)"
fi

# refresh: the list changes on the server
printf '+.blocked.example.test\n+.blocked2.example.test\n' >"$PROV/blocked.txt.new"
mv "$PROV/blocked.txt.new" "$PROV/blocked.txt"
if until_ok 15 rejected y.blocked2.example.test; then
	pass providers_refresh
else
	fail providers_refresh "y.blocked2.example.test not rejected after the list changed$(alive_note)"
fi

# the server goes down: refreshes fail, the copies stay
kill_tree KILL "${SRV_PID[prov]}"
wait "${SRV_PID[prov]}" 2>/dev/null
unset "SRV_PID[prov]"
refresh_failed() { grep -q "rule-provider blocked: refresh from .* failed" "$DAEMON_LOG"; }
if until_ok 15 refresh_failed && rejected z.blocked2.example.test && sub_is_m3; then
	pass providers_refresh_fail
else
	fail providers_refresh_fail "no failed refresh logged, or the copy stopped applying$(alive_note)"
fi

# restart with the server down: the cached copies
daemon_finish
: >"$DAEMON_LOG"
T2S_LOG_LEVEL=debug start_or_fail "providers_cache_start" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1
if rejected a.blocked2.example.test && sub_is_m3 &&
	until_ok 10 grep -q "rule-provider blocked: cannot download .*: using the cached copy from" "$DAEMON_LOG"; then
	pass providers_cache_start
else
	fail providers_cache_start "cached copies not used after a restart with the server down$(alive_note)"
fi
daemon_finish
t2s_finish
