#!/usr/bin/env bash
# Sniffing (sniffer:): flows to a real address are routed by the name their
# first bytes carry. Clients connect to $T4 itself (curl --resolve, python
# with the address), never through the fake pool. The rules send
# *.micro.example.test to microsocks and $T4 by address to dante: nginx's
# /whoami tells which way a request went ($S_IP: microsocks, $T4/$T6:
# dante). With override-destination the proxy gets the name (dnsmasq in S
# answers *.example.test with $T4). UDP: QUIC names go DIRECT (fwmark 1
# out of v0, the name resolved by the daemon) to a UDP echo on $T4:443,
# $T4 by address is REJECTed.
#
#   sniff_http           curl to $T4:80 with Host www.micro.example.test:
#                        microsocks; the name is the target
#   sniff_tls            curl to $T4:443 with SNI www.micro.example.test:
#                        microsocks; TLS has override-destination: false, so
#                        the target stays $T4 (the log says "for the rules
#                        only")
#   sniff_tls_split      a ClientHello padded past 1500 bytes, sent in two
#                        segments 0.3 s apart: microsocks
#   sniff_skip_domain    Host skip.example.test (in skip-domain): by address,
#                        dante
#   sniff_silent         a client that says nothing for 1.5 s (then a request
#                        without Host): routed by address after the wait, works
#   sniff_quic           a QUIC Initial naming quic.example.test to $T4:443:
#                        DIRECT (the echo answers); the same to another name
#                        is REJECTed (no answer)
#   sniff_quic_split     a ClientHello over two Initials in two datagrams
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="sniff_http sniff_tls sniff_tls_split sniff_skip_domain sniff_silent sniff_quic
sniff_quic_split"
require_tools microsocks openssl timeout
MS_PORT=1090
TLS_PORT=443
export T2S_LOG_LEVEL=debug

ns_resolv "$NS_S" "$S_IP"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
make_test_ca
start_microsocks "$MS_PORT" || fail_all "$NAMES" "microsocks did not start"
# nginx with TLS on $T4:443 (its own instance beside the plain one)
n=$RUN_DIR/nginx-tls
mkdir -p "$n/tmp"
cat >"$n/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    server {
        listen $T4:$TLS_PORT ssl;
        ssl_certificate $PKI/server.pem;
        ssl_certificate_key $PKI/server.key;
        location = /whoami { default_type text/plain; return 200 "\$remote_addr"; }
    }
}
EOF
sx nginx -c "$n/nginx.conf" -p "$n" >"$n/stdout.log" 2>&1 &
SRV_PID[nginx_tls]=$!
wait_listen "$NS_S" tcp "$T4" "$TLS_PORT" 5 "${SRV_PID[nginx_tls]}" ||
	fail_all "$NAMES" "nginx with TLS did not start: $(tail -2 "$n/error.log")"
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --bind "$T6" --port "$TLS_PORT" \
	--log "$RUN_DIR/udp_server.log" >/dev/null 2>&1 &
SRV_PID[udp_echo]=$!
wait_listen "$NS_S" udp "$T4" "$TLS_PORT" 5 "${SRV_PID[udp_echo]}" ||
	fail_all "$NAMES" "UDP echo did not start"
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

CONF=$RUN_DIR/config.yaml
cat >"$CONF" <<EOF
dns: {enable: true, enhanced-mode: redir-host, nameserver: [$S_IP]}
sniffer:
  enable: true
  sniff:
    HTTP: {ports: [80]}
    TLS: {ports: [$TLS_PORT], override-destination: false}
    QUIC: {ports: [$TLS_PORT]}
  skip-domain: [+.skip.example.test, Mijia Cloud]
proxies:
  - {name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT}
  - {name: micro, type: socks5, server: $S_IP, port: $MS_PORT, udp: false}
rules:
  - DOMAIN-SUFFIX,micro.example.test,micro
  - DOMAIN-SUFFIX,skip.example.test,micro
  - AND,((NETWORK,UDP),(DOMAIN,quic.example.test)),DIRECT
  - AND,((NETWORK,UDP),(IP-CIDR,$T4/32)),REJECT
  - IP-CIDR,$T4/32,dante
  - MATCH,dante
EOF
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1

is_dante() { [[ $1 == "$T4" || $1 == "$T6" ]]; }

w=$(ccurl -m 10 --resolve "www.micro.example.test:80:$T4" http://www.micro.example.test/whoami 2>&1)
if [[ $w == "$S_IP" ]] && grep -q "sniffed www.micro.example.test (HTTP)$" "$DAEMON_LOG"; then
	pass sniff_http
else
	fail sniff_http "whoami '$w' (want $S_IP: microsocks by the sniffed Host)"
fi

w=$(ccurl -m 10 -k --resolve "www.micro.example.test:$TLS_PORT:$T4" \
	"https://www.micro.example.test:$TLS_PORT/whoami" 2>&1)
if [[ $w == "$S_IP" ]] &&
	grep -q "sniffed www.micro.example.test (TLS), for the rules only" "$DAEMON_LOG"; then
	pass sniff_tls
else
	fail sniff_tls "whoami '$w' (want $S_IP: microsocks by the SNI, target kept)"
fi

w=$(cx "$PY" "$T2S_ITEST/tls_client.py" "$T4" "$TLS_PORT" --sni split.micro.example.test \
	--split 100 --pad-alpn 1600 2>&1)
if [[ $w == "$S_IP" ]] && grep -q "sniffed split.micro.example.test (TLS)" "$DAEMON_LOG"; then
	pass sniff_tls_split
else
	fail sniff_tls_split "whoami '$w' (want $S_IP: the SNI of a ClientHello in two segments)"
fi

w=$(ccurl -m 10 --resolve "www.skip.example.test:80:$T4" http://www.skip.example.test/whoami 2>&1)
if is_dante "$w" && grep -q "sniffed www.skip.example.test: in skip-domain" "$DAEMON_LOG"; then
	pass sniff_skip_domain
else
	fail sniff_skip_domain "whoami '$w' (want dante, $T4: the name is in skip-domain)"
fi

t0=$(now)
w=$(cx "$PY" "$T2S_ITEST/tls_client.py" "$T4" 80 --silent 1.5 --path /whoami 2>&1)
dt=$(elapsed "$t0")
if is_dante "$w" && lt "$dt" 8; then
	pass sniff_silent
else
	fail sniff_silent "whoami '$w' after ${dt}s (want dante, $T4)"
fi

q1=$(cx "$PY" "$T2S_ITEST/quic_initial.py" --sni quic.example.test --send "$T4" "$TLS_PORT" \
	--wait 3 2>&1)
q2=$(cx "$PY" "$T2S_ITEST/quic_initial.py" --sni other.example.test --send "$T4" "$TLS_PORT" \
	--wait 2 2>&1)
if [[ $q1 == "reply "* && $q2 == "no reply" ]] &&
	grep -q "sniffed quic.example.test (QUIC)" "$DAEMON_LOG"; then
	pass sniff_quic
else
	fail sniff_quic "named: '$q1' (want a reply: DIRECT), other: '$q2' (want none: REJECT)"
fi

q1=$(cx "$PY" "$T2S_ITEST/quic_initial.py" --sni quic.example.test --split --send "$T4" \
	"$TLS_PORT" --wait 3 2>&1)
if [[ $q1 == "reply "* ]] && (($(grep -c "sniffed quic.example.test (QUIC)" "$DAEMON_LOG") >= 2)); then
	pass sniff_quic_split
else
	fail sniff_quic_split "'$q1' (want a reply: the name from two Initials routes DIRECT)"
fi

daemon_finish
t2s_finish
