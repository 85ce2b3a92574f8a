#!/usr/bin/env bash
# Reloading the config (SIGHUP) never stops the daemon's loop: the proxy
# names of the new config are resolved off the loop thread.
#
# The client namespace's resolver answers every query 3 s late (slow_dns.py
# on $S_IP:53), and the config names its proxy by a name only that resolver
# knows (socks.slow.test -> $S_IP). While a download runs, SIGHUP starts a
# reload that needs that name:
#
#   reload_slow_dns_dns     fake-ip DNS answers (served by the loop itself)
#                           keep coming within 1 s each during the reload
#   reload_slow_dns_flows   a new connection through the tunnel completes
#                           during the reload (routed by the old rules)
#   reload_slow_dns_done    the reload completes (the new config is used:
#                           the log says "reloaded"), and the download that
#                           ran across it is intact
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="reload_slow_dns_dns reload_slow_dns_flows reload_slow_dns_done"
ANY=192.0.2.53
DELAY=3

# dante (started by setup_servers) resolves the targets' names with
# slow_dns.py too: example.test is answered at once.
ns_resolv "$NS_S" "$S_IP"
setup_servers "$NAMES"
sx "$PY" "$T2S_ITEST/slow_dns.py" --bind "$S_IP" --delay "$DELAY" --zone slow.test \
	--addr "$S_IP" --fast-zone example.test --fast-addr "$T4" \
	--log "$RUN_DIR/slow_dns.log" >/dev/null 2>&1 &
SRV_PID[slow_dns]=$!
wait_listen "$NS_S" udp "$S_IP" 53 5 "${SRV_PID[slow_dns]}" ||
	fail_all "$NAMES" "slow_dns.py did not start"
# The daemon's own lookups (getaddrinfo) ask the slow server; one attempt
# that waits longer than it takes.
mkdir -p "/etc/netns/$NS_C"
printf 'nameserver %s\noptions timeout:%d attempts:1\n' "$S_IP" $((DELAY + 3)) \
	>"/etc/netns/$NS_C/resolv.conf"

CONF=$RUN_DIR/config.yaml
write_conf() { # rule target
	cat >"$CONF" <<EOC
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
proxies:
  - { name: dante, type: socks5, server: socks.slow.test, port: $SOCKS_PORT }
rules:
  - DOMAIN-SUFFIX,$1.example.test,dante
  - MATCH,dante
EOC
}
write_conf first
# Startup may wait for the slow name: it happens before the loop runs.
if ! daemon_start "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"; then
	dump_file daemon "$DAEMON_LOG"
	fail_all "$NAMES" "daemon did not start"
fi

# The namespace's resolver is the slow one: clients take their (fake)
# addresses from the daemon explicitly.
fake() { cx dig +short +time=2 +tries=1 @"$ANY" "$1" A 2>/dev/null | head -n 1; }
www=$(fake www.example.test)
flowip=$(fake flow.example.test)
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 8M -o "$RUN_DIR/dl.out" \
	--resolve "www.example.test:80:$www" "http://www.example.test/64m" >"$RUN_DIR/dl.curl" 2>&1 &
CURL_PID=$!
sleep 1
write_conf second
t0=$(now)
kill -HUP "$DAEMON_PID"
sleep 0.2
# During the DELAY seconds the reload waits for the resolver: fake-ip
# answers and a new flow must still be served.
dns_ok=0 dns_n=0
for i in 1 2 3 4; do
	dns_n=$((dns_n + 1))
	a=$(cx dig +short +time=1 +tries=1 @"$ANY" "n$i.example.test" A 2>/dev/null)
	[[ $a =~ ^198\.18\. ]] && dns_ok=$((dns_ok + 1))
	sleep 0.2
done
flow=$(cx curl -q --noproxy '*' -sS -m 2 -o /dev/null -w '%{http_code}' \
	--resolve "flow.example.test:80:$flowip" "http://flow.example.test/1k" 2>&1)
during=$(elapsed "$t0")
if ((dns_ok == dns_n)); then
	pass reload_slow_dns_dns
else
	fail reload_slow_dns_dns "$dns_ok of $dns_n fake-ip answers within 1 s during the reload (${during}s after SIGHUP)"
fi
if [[ $flow == 200 ]]; then
	pass reload_slow_dns_flows
else
	fail reload_slow_dns_flows "a new flow during the reload: $flow"
fi

reloaded=0
for ((i = 0; i < 100; i++)); do
	grep -q "reloaded" "$DAEMON_LOG" && { reloaded=1; break; }
	sleep 0.1
done
wait "$CURL_PID"
crc=$?
got=$(sha256sum <"$RUN_DIR/dl.out" | cut -d' ' -f1)
if ((reloaded && crc == 0)) && [[ $got == "$SHA_64M" ]] && daemon_alive; then
	pass reload_slow_dns_done
else
	fail reload_slow_dns_done "reloaded=$reloaded download rc=$crc sha ok=$([[ $got == "$SHA_64M" ]] && echo 1 || echo 0)$(alive_note)"
fi
rm -f "$RUN_DIR/dl.out"
daemon_finish
t2s_finish
