#!/usr/bin/env bash
# DNS over HTTPS upstreams (nameserver: [https://...], docs/design.md §24):
# nginx with the test CA's certificate on $S_IP:443 (HTTP/2 and HTTP/1.1
# by ALPN) and $S_IP:8443 (HTTP/1.1 only), proxying /dns-query to
# doh_server.py, which asks dnsmasq (*.example.test -> $T4). The daemon
# runs in real-ip mode so dig shows the real answer; nginx's access log
# records each request's protocol.
#
#   doh_check        a config whose only nameserver is https:// loads
#   doh_h2           dig through the daemon gets dnsmasq's answer, carried
#                    by HTTP/2 (nginx logged HTTP/2.0 POSTs)
#   doh_http1        the same against a server without HTTP/2: HTTP/1.1
#   doh_wrong_ca     dns.ca names another CA: SERVFAIL, a certificate
#                    error in the log
#   doh_timeout      a back end that never answers: SERVFAIL within the
#                    deadline (4 s)
#   doh_name_pinned  a server named by host name is resolved at start and
#                    pinned: later connections look nothing up (the system's
#                    resolver is the daemon itself in the namespace)
#   doh_default_ns   https://proxy.test/dns-query, a name only
#                    default-nameserver (a second dnsmasq) knows: looked
#                    up there on the loop, pinned, then queries go to it
#   doh_list         two https:// nameservers, the first never answering:
#                    both asked at once, the second's answer comes well
#                    before the first's 4 s deadline
#   doh_reload_name  a reload (SIGHUP) to https://proxy.test with no
#                    default-nameserver: the name is looked up by c-ares on
#                    the loop, pinned, and queries go to it
#   doh_policy_list  a nameserver-policy entry with a list of https://
#                    servers (the first never answering): answered by the
#                    second at once; other names go to the main server
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="doh_check doh_h2 doh_http1 doh_wrong_ca doh_timeout doh_name_pinned doh_default_ns
doh_list doh_policy_list doh_reload_name"
require_tools dnsmasq dig nginx openssl
ANY=192.0.2.53

ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
make_test_ca
sx "$PY" "$T2S_ITEST/doh_server.py" --bind 127.0.0.1 --port 8053 --upstream "$S_IP:53" \
	>"$RUN_DIR/doh.log" 2>&1 &
SRV_PID[doh]=$!
wait_listen "$NS_S" tcp 127.0.0.1 8053 10 "${SRV_PID[doh]}" || fail_all "$NAMES" "doh_server did not start"
# a back end that accepts and never answers, for the timeout
sx "$PY" -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8054)); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >/dev/null 2>&1 &
SRV_PID[doh_hold]=$!
wait_listen "$NS_S" tcp 127.0.0.1 8054 10 "${SRV_PID[doh_hold]}" || fail_all "$NAMES" "hold back end did not start"

n=$RUN_DIR/nginx-doh
mkdir -p "$n/tmp"
cat >"$n/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
daemon off;
events { worker_connections 256; }
http {
    log_format proto '\$server_port \$request_method \$server_protocol \$status';
    access_log $n/access.log proto;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    ssl_certificate $PKI/server.pem;
    ssl_certificate_key $PKI/server.key;
    server {
        listen $S_IP:443 ssl http2;
        location /dns-query { proxy_pass http://127.0.0.1:8053; proxy_http_version 1.1; }
        location /hang { proxy_pass http://127.0.0.1:8054; proxy_read_timeout 60s; }
    }
    server {
        listen $S_IP:8443 ssl;
        location /dns-query { proxy_pass http://127.0.0.1:8053; proxy_http_version 1.1; }
    }
}
EOF
sx nginx -c "$n/nginx.conf" -p "$n" >"$n/stdout.log" 2>&1 &
SRV_PID[nginx_doh]=$!
wait_listen "$NS_S" tcp "$S_IP" 443 5 "${SRV_PID[nginx_doh]}" ||
	fail_all "$NAMES" "nginx for DoH did not start: $(tail -2 "$n/error.log")"

conf() { # conf FILE URL CA
	cat >"$1" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['$2']
  ca: $3
EOF
}
conf "$RUN_DIR/h2.yaml" "https://$S_IP/dns-query" "$PKI/ca.pem"
conf "$RUN_DIR/h1.yaml" "https://$S_IP:8443/dns-query" "$PKI/ca.pem"
conf "$RUN_DIR/wrongca.yaml" "https://$S_IP/dns-query" "$PKI/other.pem"
conf "$RUN_DIR/hang.yaml" "https://$S_IP/hang" "$PKI/ca.pem"

BIN=$(daemon_bin)
out=$("$BIN" check -c "$RUN_DIR/h2.yaml" 2>&1)
if [[ $out == *OK* ]]; then pass doh_check; else fail doh_check "check: $(tr '\n' ' ' <<<"$out")"; fi

ask() { cx dig +short +time=8 +tries=1 "@$ANY" "$@" 2>&1; }
status() { cx dig +time=8 +tries=1 "@$ANY" "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/h2.yaml"
a=$(ask www.example.test A)
b=$(ask two.example.test A)
if [[ $a == "$T4" && $b == "$T4" ]] && grep -q "^443 POST HTTP/2.0 200" "$n/access.log"; then
	pass doh_h2
else
	fail doh_h2 "answers '$a' '$b' (want $T4); nginx saw: $(tr '\n' ' ' <"$n/access.log")"
fi
daemon_finish

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/h1.yaml"
a=$(ask www.example.test A)
if [[ $a == "$T4" ]] && grep -q "^8443 POST HTTP/1.1 200" "$n/access.log"; then
	pass doh_http1
else
	fail doh_http1 "answer '$a' (want $T4); nginx saw: $(tr '\n' ' ' <"$n/access.log")"
fi
daemon_finish

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/wrongca.yaml"
s=$(status www.example.test A)
if [[ $s == SERVFAIL ]] && grep -qi "certificate\|SSL" "$DAEMON_LOG"; then
	pass doh_wrong_ca
else
	fail doh_wrong_ca "status '$s' (want SERVFAIL and a certificate error in the log)"
fi
daemon_finish

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/hang.yaml"
t0=$(now)
s=$(status www.example.test A)
dt=$(elapsed "$t0")
if [[ $s == SERVFAIL ]] && lt "$dt" 8; then
	pass doh_timeout
else
	fail doh_timeout "status '$s' after ${dt}s (want SERVFAIL within the 4 s deadline)"
fi
daemon_finish

# A server named by host name: resolved once at start (proxy.test from the
# namespace's hosts file, the name in the test certificate), then pinned:
# once the hosts file no longer knows it, a lookup would go to the
# resolver in resolv.conf, which is the daemon itself (a loop).
printf '%s proxy.test\n' "$S_IP" >"/etc/netns/$NS_C/hosts"
conf "$RUN_DIR/name.yaml" "https://proxy.test/dns-query" "$PKI/ca.pem"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/name.yaml"
: >"/etc/netns/$NS_C/hosts"
a=$(ask www.example.test A)
if [[ $a == "$T4" ]] && grep -q "proxy.test pinned to $S_IP" "$DAEMON_LOG"; then
	pass doh_name_pinned
else
	fail doh_name_pinned "answer '$a' (want $T4 through https://proxy.test, pinned at start)"
fi
daemon_finish

# The same name known only to default-nameserver (C's hosts file is empty)
: >"/etc/netns/$NS_C/hosts"
if start_name_dns 5353 proxy.test "$S_IP"; then
	cat >"$RUN_DIR/defns.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['https://proxy.test/dns-query']
  default-nameserver: ['$S_IP:5353']
  ca: $PKI/ca.pem
EOF
	start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/defns.yaml"
	wait_log "$DAEMON_LOG" "proxy.test pinned to $S_IP"
	a=$(ask www.example.test A)
	if [[ $a == "$T4" ]] && grep -q "query.*proxy.test" "$RUN_DIR/dnsmasq-5353.log"; then
		pass doh_default_ns
	else
		fail doh_default_ns "answer '$a' (want $T4 through https://proxy.test resolved by default-nameserver)"
	fi
	daemon_finish
else
	fail doh_default_ns "the default-nameserver dnsmasq did not start"
fi

# A list of https:// servers asked at once (mihomo's batchExchange)
cat >"$RUN_DIR/list.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['https://$S_IP/hang', 'https://$S_IP:8443/dns-query']
  ca: $PKI/ca.pem
EOF
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/list.yaml"
t0=$(now)
a=$(ask www.example.test A)
dt=$(elapsed "$t0")
if [[ $a == "$T4" ]] && lt "$dt" 3; then
	pass doh_list
else
	fail doh_list "answer '$a' after ${dt}s (want $T4 from the second server, within 3 s)"
fi
daemon_finish

cat >"$RUN_DIR/plist.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['https://$S_IP/hang']
  nameserver-policy:
    '+.pol.example.test': ['https://$S_IP/hang', 'https://$S_IP:8443/dns-query']
  ca: $PKI/ca.pem
EOF
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/plist.yaml"
t0=$(now)
a=$(ask www.pol.example.test A)
dt=$(elapsed "$t0")
s=$(status other.example.test A)
if [[ $a == "$T4" && $s == SERVFAIL ]] && lt "$dt" 3; then
	pass doh_policy_list
else
	fail doh_policy_list "policy name '$a' after ${dt}s (want $T4 within 3 s), other name '$s' (want SERVFAIL from the hanging main server)"
fi
daemon_finish

# A reload to a server named by host name, without default-nameserver: the
# plain nameservers' c-ares looks it up on the loop (proxy.test from C's
# hosts file), never the system's blocking resolver on the loop thread.
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/h2.yaml"
printf '%s proxy.test\n' "$S_IP" >"/etc/netns/$NS_C/hosts"
cat >"$RUN_DIR/reload.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: ['https://proxy.test/dns-query', '$S_IP']
  ca: $PKI/ca.pem
EOF
cp "$RUN_DIR/reload.yaml" "$RUN_DIR/h2.yaml"
kill -HUP "$DAEMON_PID"
wait_log "$DAEMON_LOG" "reload: DNS servers rebuilt" 10
wait_log "$DAEMON_LOG" "proxy.test pinned to $S_IP" 10
a=$(ask www.example.test A)
if [[ $a == "$T4" ]] && grep -q "reload: DNS servers rebuilt" "$DAEMON_LOG" &&
	grep -q "https://proxy.test/dns-query: proxy.test pinned to $S_IP" "$DAEMON_LOG"; then
	pass doh_reload_name
else
	fail doh_reload_name "answer '$a' after a reload to https://proxy.test (want $T4, the name looked up on the loop)"
fi
: >"/etc/netns/$NS_C/hosts"
daemon_finish
t2s_finish
