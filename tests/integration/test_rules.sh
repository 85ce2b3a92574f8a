#!/usr/bin/env bash
# The config file and the rule engine, end to end: rules route by domain,
# IP, process and network to two SOCKS servers, DIRECT, REJECT,
# REJECT-DROP and a redirect. Which way a request went is read off nginx's
# /whoami (the client address nginx saw): danted connects from its external
# $T4 or $T6 (it resolves the name itself and may pick either), microsocks
# is told to connect from $S_IP (-b), DIRECT comes from C's own uplink
# address $C_IP.
#
# The daemon runs with --fwmark 1 and C routes marked packets out of v0
# (DIRECT must never loop back into the TUN); dnsmasq answers
# *.example.test with $T4 (fake-ip mode: rules see the names).
#
#   rules_check             tun2socks check: OK on the config; a broken copy
#                           fails with file:line:column naming the bad target
#   rules_match             tun2socks match names the rule and upstream
#   rules_domain_dante      DOMAIN-SUFFIX -> dante (whoami = $T4)
#   rules_domain_micro      DOMAIN-SUFFIX -> microsocks (whoami = $S_IP)
#   rules_direct            DIRECT (whoami = $C_IP)
#   rules_direct_fallback   DIRECT to a name whose first address refuses:
#                           the next one is tried (whoami = $C_IP)
#   rules_reject            RULE-SET (text file) -> REJECT: reset at once
#   rules_reject_drop       REJECT-DROP: no answer at all (curl times out)
#   rules_redirect          api.example.test:443 -> redirect to $T4:80
#   rules_ip_resolve        IP-CIDR without no-resolve on a fake-ip flow: the
#                           name is resolved and the rule matches
#   rules_process           PROCESS-NAME,curl -> microsocks for one name,
#                           while python's request for it goes to dante
#   rules_udp_direct        NETWORK UDP rule -> DIRECT: UDP echo by name
#   rules_udp_reject        UDP REJECT: the client's connected socket gets
#                           ECONNREFUSED (ICMP port unreachable from the
#                           address it sent to), v4 and v6
#   rules_flow_log          the flow line names the rule and the upstream
#   rules_big_ruleset       a 100 000-entry domain rule set: check < 2 s, and
#                           an entry of it is matched by the daemon
#   rules_sighup            SIGHUP swaps the rules while a download through
#                           dante runs: it completes intact, new flows follow
#                           the new rules; a broken file is refused and the
#                           old rules stay
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="rules_check rules_match rules_domain_dante rules_domain_micro rules_direct
rules_direct_fallback rules_reject
rules_reject_drop rules_redirect rules_ip_resolve rules_process rules_udp_direct rules_udp_reject rules_flow_log
rules_big_ruleset rules_big_ruleset_load rules_sighup"
require_tools dnsmasq microsocks timeout
MS_PORT=1090
UDP_PORT=7777
ANY=192.0.2.53

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
sx microsocks -i "$S_IP" -p "$MS_PORT" -b "$S_IP" >"$RUN_DIR/microsocks.log" 2>&1 &
SRV_PID[microsocks]=$!
wait_listen "$NS_S" tcp "$S_IP" "$MS_PORT" 5 "${SRV_PID[microsocks]}" ||
	fail_all "$NAMES" "microsocks did not start"
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --bind "$T6" --port "$UDP_PORT" \
	--log "$RUN_DIR/udp_server.log" >/dev/null 2>&1 &
SRV_PID[udp_echo]=$!
# DIRECT: our marked sockets leave by v0
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

CONF=$RUN_DIR/config.yaml
BIG=$RUN_DIR/big.txt
"$PY" -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("# 100 000 domains\n")
    for i in range(100000):
        f.write(f"+.d{i}.big.example.test\n")
' "$BIG"
cat >"$RUN_DIR/ads.txt" <<EOF
# blocked
+.ads.example.test
EOF

write_conf() { # write_conf FILE [dante|micro]: where *.swap.example.test goes
	cat >"$1" <<EOF
# a Clash config: keys tun2socks does not use are ignored with a warning
mixed-port: 7890
mode: rule
log-level: info
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
proxies:
  - name: dante
    type: socks5
    server: $S_IP
    port: $SOCKS_PORT
    udp: true
  - name: micro
    type: socks5
    server: $S_IP
    port: $MS_PORT
    udp: false
  - name: api-local
    type: redirect
    to: $T4:$HTTP_PORT
proxy-groups:
  - name: Proxy
    type: select
    proxies: [dante, micro]
rule-providers:
  ads:
    type: file
    behavior: domain
    format: text
    path: ads.txt
  big:
    type: file
    behavior: domain
    format: text
    path: big.txt
rules:
  - DOMAIN,api.example.test,api-local
  - AND,((PROCESS-NAME,curl),(DOMAIN,proc.example.test)),micro
  - DOMAIN,proc.example.test,Proxy
  - DOMAIN-SUFFIX,swap.example.test,${2:-dante}
  - DOMAIN-SUFFIX,dante.example.test,Proxy
  - DOMAIN-SUFFIX,micro.example.test,micro
  - DOMAIN-SUFFIX,direct.example.test,DIRECT
  - DOMAIN,multi.example.test,DIRECT
  - DOMAIN-KEYWORD,dropme,REJECT-DROP
  - RULE-SET,ads,REJECT
  - RULE-SET,big,micro
  - AND,((NETWORK,UDP),(DOMAIN,udpd.example.test)),DIRECT
  - AND,((NETWORK,UDP),(DOMAIN,udpr.example.test)),REJECT
  - IP-CIDR,$T4/32,micro
  - MATCH,dante
EOF
}
write_conf "$CONF"

# ---- offline commands -----------------------------------------------------------------
BIN=$(daemon_bin)
t0=$(now)
out=$("$BIN" check -c "$CONF" 2>&1)
rc=$?
dt=$(elapsed "$t0")
sed 's/^  - DOMAIN,api.example.test,api-local$/  - DOMAIN,api.example.test,api-lokal/' "$CONF" \
	>"$RUN_DIR/broken.yaml"
bad=$("$BIN" check -c "$RUN_DIR/broken.yaml" 2>&1)
bad_rc=$?
if ((rc == 0 && bad_rc != 0)) && [[ $out == *"OK: 3 proxies, 1 proxy groups, 15 rules"* ]] &&
	grep -q 'broken.yaml:[0-9]*:[0-9]*: .*api-lokal' <<<"$bad"; then
	pass rules_check
else
	fail rules_check "check rc $rc: $(tail -1 <<<"$out"); broken rc $bad_rc: $(tail -1 <<<"$bad")"
fi
if lt "$dt" 2; then
	pass rules_big_ruleset_load
else
	fail rules_big_ruleset_load "check with a 100 000-entry rule set took ${dt}s"
fi
m1=$("$BIN" match -c "$CONF" x.micro.example.test:80 2>/dev/null)
m2=$("$BIN" match -c "$CONF" proc.example.test --process /usr/bin/curl 2>/dev/null)
m3=$("$BIN" match -c "$CONF" udpd.example.test:7777 --udp 2>/dev/null)
if [[ $m1 == *"rule:     DOMAIN-SUFFIX,micro.example.test,micro"*"upstream: micro (socks5 $S_IP:$MS_PORT)"* &&
	$m2 == *"AND,((PROCESS-NAME,curl),(DOMAIN,proc.example.test)),micro"* &&
	$m3 == *"upstream: DIRECT"* ]]; then
	pass rules_match
else
	fail rules_match "m1 '$m1' m2 '$m2' m3 '$m3'"
fi

# ---- the daemon --------------------------------------------------------------------------
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1 --connect-timeout 5
# Config-driven: -c alone would do; --proxy here is the default (unused: MATCH exists).

whoami() { cx curl -q --noproxy '*' -sS -m 10 "http://$1/whoami" 2>&1; }
is_dante() { [[ $1 == "$T4" || $1 == "$T6" ]]; }
w=$(whoami a.dante.example.test)
is_dante "$w" && pass rules_domain_dante || fail rules_domain_dante "whoami '$w' (want $T4 or $T6)"
w=$(whoami b.micro.example.test)
[[ $w == "$S_IP" ]] && pass rules_domain_micro || fail rules_domain_micro "whoami '$w' (want $S_IP)"
w=$(whoami x.direct.example.test)
[[ $w == "$C_IP" ]] && pass rules_direct || fail rules_direct "whoami '$w' (want $C_IP)"
ok=0
for i in 1 2 3; do
	w=$(whoami multi.example.test)
	[[ $w == "$C_IP" ]] && ok=$((ok + 1))
done
if ((ok == 3)) && daemon_alive; then
	pass rules_direct_fallback
else
	fail rules_direct_fallback "$ok of 3 fetches worked, last whoami '$w'$(alive_note)"
fi

t0=$(now)
out=$(cx curl -q --noproxy '*' -sS -m 10 "http://x.ads.example.test/whoami" 2>&1)
rc=$?
dt=$(elapsed "$t0")
if curl_was_reset "$rc" && lt "$dt" 2; then
	pass rules_reject
else
	fail rules_reject "curl rc $rc after ${dt}s: $out (want a reset at once)"
fi
out=$(cx curl -q --noproxy '*' -sS -m 3 "http://dropme.example.test/whoami" 2>&1)
rc=$?
if ((rc == 28)); then
	pass rules_reject_drop
else
	fail rules_reject_drop "curl rc $rc: $out (want a timeout: no answer at all)"
fi
w=$(cx curl -q --noproxy '*' -sS -m 10 "http://api.example.test:443/whoami" 2>&1)
[[ $w == "$C_IP" ]] && pass rules_redirect || fail rules_redirect "whoami '$w' (want $C_IP: DIRECT to $T4:$HTTP_PORT)"
w=$(whoami other.example.test)
[[ $w == "$S_IP" ]] && pass rules_ip_resolve || fail rules_ip_resolve "whoami '$w' (want $S_IP via IP-CIDR,$T4/32,micro)"

wc=$(whoami proc.example.test)
wp=$(cx "$PY" -c 'import urllib.request; print(urllib.request.urlopen("http://proc.example.test/whoami", timeout=10).read().decode())' 2>&1)
if [[ $wc == "$S_IP" ]] && is_dante "$wp"; then
	pass rules_process
else
	fail rules_process "curl went via '$wc' (want micro $S_IP), python via '$wp' (want dante)"
fi

ua=$(cx dig +short "@$ANY" udpd.example.test A 2>&1)
out=$(cx "$PY" "$T2S_ITEST/udp_tool.py" echo --target "$ua" --port "$UDP_PORT" --count 10 \
	--max-size 1000 --timeout 3 2>&1)
if [[ $out == *"ok=10 "* ]] && grep -q "rx $C_IP:" "$RUN_DIR/udp_server.log"; then
	pass rules_udp_direct
else
	fail rules_udp_direct "$out; server saw: $(tail -2 "$RUN_DIR/udp_server.log" | tr '\n' ' ')"
fi

refused() { # ADDR: "refused" when a connected UDP socket to ADDR:7777 gets ECONNREFUSED
	cx "$PY" -c 'import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((a, 7777)); s.settimeout(3)
try:
    s.send(b"hello"); s.recv(100); print("answered")
except ConnectionRefusedError: print("refused")
except socket.timeout: print("timeout")' "$1" 2>&1
}
r4=$(refused "$(cx dig +short "@$ANY" udpr.example.test A 2>&1)")
r6=$(refused "$(cx dig +short "@$ANY" udpr.example.test AAAA 2>&1)")
if [[ $r4 == refused && $r6 == refused ]]; then
	pass rules_udp_reject
else
	fail rules_udp_reject "v4: $r4, v6: $r6 (want refused: ICMP port unreachable)"
fi

w=$(whoami d77777.big.example.test)
if [[ $w == "$S_IP" ]] &&
	wait_log -E "$DAEMON_LOG" "flow#[0-9]+ closed .* -> b.micro.example.test:80 \(.*\) via micro socks5 $S_IP:$MS_PORT \[DOMAIN-SUFFIX,micro.example.test,micro\]" 5 &&
	grep -Eq "flow#[0-9]+ failed .* -> x.ads.example.test:80 .* via REJECT \[RULE-SET,ads,REJECT\]" "$DAEMON_LOG"; then
	pass rules_big_ruleset
	pass rules_flow_log
else
	fail rules_big_ruleset "d77777.big.example.test via '$w' (want micro $S_IP)"
	fail rules_flow_log "no flow line naming rule and upstream; see the daemon log" nodump
fi

# SIGHUP during a download through dante (x.swap.example.test -> dante)
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 16M -o "$RUN_DIR/swap.out" \
	"http://x.swap.example.test/64m" >"$RUN_DIR/swap.curl" 2>&1 &
CURL_PID=$!
sleep 1
write_conf "$CONF" micro
kill -HUP "$DAEMON_PID"
sleep 0.5
w1=$(whoami y.swap.example.test)
cp "$RUN_DIR/broken.yaml" "$CONF"
kill -HUP "$DAEMON_PID"
sleep 0.5
w2=$(whoami z.swap.example.test)
wait "$CURL_PID"
crc=$?
got=$(sha256sum <"$RUN_DIR/swap.out" | cut -d' ' -f1)
if ((crc == 0)) && [[ $got == "$SHA_64M" && $w1 == "$S_IP" && $w2 == "$S_IP" ]] &&
	grep -q "reload failed: keeping the running config" "$DAEMON_LOG" && daemon_alive; then
	pass rules_sighup
else
	fail rules_sighup "download rc $crc sha ok=$([[ $got == "$SHA_64M" ]] && echo 1 || echo 0); after reload via '$w1', after a broken reload via '$w2' (want $S_IP both)$(alive_note)"
fi
rm -f "$RUN_DIR/swap.out"
daemon_finish
t2s_finish
