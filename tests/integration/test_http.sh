#!/usr/bin/env bash
# HTTP CONNECT and HTTPS (TLS) proxy upstreams, named in a config and
# picked by rules.
#
# In S: tinyproxy on $S_IP:$TP_PORT (no auth) and :$TPA_PORT (Basic auth);
# stunnel4 on $S_IP:$TLS_PORT terminating TLS in front of the first, with a
# certificate for "proxy.test" and $S_IP from a CA made here with openssl;
# misbehaving proxies (bad_proxy.py) answering 403, 407, garbage, a 20 KiB
# header, or nothing. Names map to upstreams by DOMAIN-SUFFIX rules.
#
#   http_plain            64 MiB down through tinyproxy, sha256 ok; tinyproxy
#                         logged CONNECT with the name
#   http_auth_ok          Basic auth with the right password works
#   http_auth_wrong       the wrong password: the client fails at once, the
#                         daemon logs "proxy authentication required"
#   https_download        64 MiB down through stunnel -> tinyproxy, sha ok
#   https_upload          64 MiB up the same way, the sink's sha256 matches
#   https_wrong_ca        a CA that did not sign the proxy's certificate: the
#                         client fails at once, "certificate verify failed"
#   https_skip_verify     skip-cert-verify: works, with a loud warning
#   http_bad_<mode>       403, 407, garbage, bigheader, silent: the client
#                         fails within 3 s (silent: the 2 s connect timeout),
#                         and a download through tinyproxy running meanwhile
#                         completes intact
#   http_udp_falls_through  a UDP flow whose first matching rule names an
#                         HTTP proxy takes the next rule (dante): echo works
#   socks5_tls            SOCKS5 with tls: true, through stunnel4 in front of
#                         danted: 64 MiB down, sha256 ok
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
MODES="403 407 garbage bigheader silent"
NAMES="http_plain http_auth_ok http_auth_wrong https_download https_upload https_wrong_ca
https_skip_verify http_udp_falls_through socks5_tls"
for m in $MODES; do NAMES="$NAMES http_bad_$m"; done
require_tools tinyproxy stunnel4 openssl dnsmasq timeout
TP_PORT=8888
TPA_PORT=8889
TLS_PORT=8443
BAD_BASE=9100
UDP_PORT=7777
ANY=192.0.2.53
TPA_USER=tpuser
TPA_PASS=tp-pass-$$

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"

make_test_ca || fail_all "$NAMES" "openssl could not make the test CA"
start_tinyproxy tinyproxy "$TP_PORT" || fail_all "$NAMES" "tinyproxy did not start"
start_tinyproxy tinyproxy_auth "$TPA_PORT" "$TPA_USER" "$TPA_PASS" ||
	fail_all "$NAMES" "tinyproxy (auth) did not start"
start_stunnel "$TLS_PORT" "$TP_PORT" || fail_all "$NAMES" "stunnel4 did not start"
# a second stunnel: TLS in front of danted
sed -e "s/^\[proxy\]/[socks]/" -e "s/^accept = .*/accept = $S_IP:$((TLS_PORT + 1))/" \
	-e "s/^connect = .*/connect = $S_IP:$SOCKS_PORT/" -e "s#^output = .*#output = $RUN_DIR/stunnel2.log#" \
	"$RUN_DIR/stunnel.conf" >"$RUN_DIR/stunnel2.conf"
sx stunnel4 "$RUN_DIR/stunnel2.conf" >"$RUN_DIR/stunnel2.stdout" 2>&1 &
SRV_PID[stunnel2]=$!
wait_listen "$NS_S" tcp "$S_IP" $((TLS_PORT + 1)) 10 "${SRV_PID[stunnel2]}" ||
	fail_all "$NAMES" "stunnel4 (socks) did not start"
i=0
for m in $MODES; do
	sx "$PY" "$T2S_ITEST/bad_proxy.py" --bind "$S_IP" --port $((BAD_BASE + i)) --mode "$m" \
		>"$RUN_DIR/bad_$m.log" 2>&1 &
	SRV_PID[bad_$m]=$!
	i=$((i + 1))
done
sx "$PY" "$T2S_ITEST/udp_tool.py" server --bind "$T4" --bind "$T6" --port "$UDP_PORT" \
	--log "$RUN_DIR/udp_server.log" >/dev/null 2>&1 &
SRV_PID[udp_echo]=$!

# ---- config -----------------------------------------------------------------------------
CONF=$RUN_DIR/config.yaml
{
	cat <<EOF
dns: { enable: true, enhanced-mode: fake-ip, nameserver: [$S_IP] }
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
  - { name: tp, type: http, server: $S_IP, port: $TP_PORT }
  - { name: tpa, type: http, server: $S_IP, port: $TPA_PORT, username: $TPA_USER, password: $TPA_PASS }
  - { name: tpb, type: http, server: $S_IP, port: $TPA_PORT, username: $TPA_USER, password: wrong }
  - { name: tls, type: http, server: $S_IP, port: $TLS_PORT, tls: true, sni: proxy.test, ca: $PKI/ca.pem }
  - { name: tlsx, type: http, server: $S_IP, port: $TLS_PORT, tls: true, sni: proxy.test, ca: $PKI/other.pem }
  - { name: tlsk, type: http, server: $S_IP, port: $TLS_PORT, tls: true, skip-cert-verify: true }
  - { name: stls, type: socks5, server: $S_IP, port: $((TLS_PORT + 1)), tls: true, sni: proxy.test, ca: $PKI/ca.pem }
EOF
	i=0
	for m in $MODES; do
		echo "  - { name: bad$m, type: http, server: $S_IP, port: $((BAD_BASE + i)) }"
		i=$((i + 1))
	done
	cat <<EOF
rules:
  - DOMAIN-SUFFIX,plain.example.test,tp
  - DOMAIN-SUFFIX,auth.example.test,tpa
  - DOMAIN-SUFFIX,badauth.example.test,tpb
  - DOMAIN-SUFFIX,tls.example.test,tls
  - DOMAIN-SUFFIX,wrongca.example.test,tlsx
  - DOMAIN-SUFFIX,skip.example.test,tlsk
  - DOMAIN-SUFFIX,udp.example.test,tp
  - DOMAIN-SUFFIX,stls.example.test,stls
EOF
	for m in $MODES; do echo "  - DOMAIN-SUFFIX,bad$m.example.test,bad$m"; done
	echo "  - MATCH,dante"
} >"$CONF"

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --connect-timeout 2

if fetch_check "http://plain.example.test/64m" "$SHA_64M" &&
	grep -q "CONNECT.*plain.example.test:80" "$RUN_DIR/tinyproxy/log"; then
	pass http_plain
else
	fail http_plain "${FETCH_ERR:-tinyproxy did not log the CONNECT by name}"
fi
if fetch_check "http://auth.example.test/1k" "$SHA_1K"; then
	pass http_auth_ok
else
	fail http_auth_ok "$FETCH_ERR"
fi
t0=$(now)
ccurl -m 10 -o /dev/null "http://badauth.example.test/1k" 2>/dev/null
rc=$?
dt=$(elapsed "$t0")
sleep 0.3
if ((rc != 0)) && lt "$dt" 2 && grep -q "badauth.example.test.*proxy authentication required" "$DAEMON_LOG"; then
	pass http_auth_wrong
else
	fail http_auth_wrong "curl rc $rc after ${dt}s; daemon log: $(grep badauth "$DAEMON_LOG" | tail -1)"
fi

if fetch_check "http://tls.example.test/64m" "$SHA_64M"; then
	pass https_download
else
	fail https_download "$FETCH_ERR"
fi
want="$SHA_64M $((64 << 20))"
reply=$(ccurl --max-time "$FETCH_TIMEOUT" -H 'Expect:' -T "$RUN_DIR/www/64m" \
	"http://up.tls.example.test:$SINK_PORT/upload" 2>&1)
if [[ $reply == "$want" ]]; then
	pass https_upload
else
	fail https_upload "sink replied '${reply:0:160}', want '$want'"
fi
t0=$(now)
ccurl -m 10 -o /dev/null "http://wrongca.example.test/1k" 2>/dev/null
rc=$?
dt=$(elapsed "$t0")
sleep 0.3
if ((rc != 0)) && lt "$dt" 2 && grep -q "wrongca.example.test.*certificate verify failed" "$DAEMON_LOG"; then
	pass https_wrong_ca
else
	fail https_wrong_ca "curl rc $rc after ${dt}s; daemon log: $(grep wrongca "$DAEMON_LOG" | tail -1)"
fi
if fetch_check "http://skip.example.test/1k" "$SHA_1K" &&
	grep -q "skip-cert-verify is on" "$DAEMON_LOG"; then
	pass https_skip_verify
else
	fail https_skip_verify "${FETCH_ERR:-no skip-cert-verify warning}"
fi

# misbehaving proxies, while a download through tinyproxy runs
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 8M -o "$RUN_DIR/bg.out" \
	"http://bg.plain.example.test/64m" >"$RUN_DIR/bg.curl" 2>&1 &
BG=$!
declare -A ok_bad=() why_bad=()
for m in $MODES; do
	t0=$(now)
	ccurl -m 10 -o /dev/null "http://bad$m.example.test/1k" 2>/dev/null
	rc=$?
	dt=$(elapsed "$t0")
	if ((rc != 0)) && lt "$dt" 3.5; then
		ok_bad[$m]=1
	else
		ok_bad[$m]=0
		why_bad[$m]="curl rc $rc after ${dt}s"
	fi
done
wait "$BG"
bgrc=$?
bgsha=$(sha256sum <"$RUN_DIR/bg.out" | cut -d' ' -f1)
rm -f "$RUN_DIR/bg.out"
for m in $MODES; do
	if ((ok_bad[$m])) && ((bgrc == 0)) && [[ $bgsha == "$SHA_64M" ]]; then
		pass "http_bad_$m"
	else
		fail "http_bad_$m" "${why_bad[$m]:-ok}; concurrent download rc $bgrc sha ok=$([[ $bgsha == "$SHA_64M" ]] && echo 1 || echo 0)" nodump
	fi
done

if fetch_check "http://stls.example.test/64m" "$SHA_64M" &&
	grep -q "stls.example.test.*via stls socks5" "$DAEMON_LOG"; then
	pass socks5_tls
else
	sleep 0.5
	if [[ -z ${FETCH_ERR:-} ]] && grep -q "stls.example.test.*via stls socks5" "$DAEMON_LOG"; then
		pass socks5_tls
	else
		fail socks5_tls "${FETCH_ERR:-no flow line via stls}"
	fi
fi

ua=$(cx dig +short "@$ANY" udp.example.test A 2>&1)
out=$(cx "$PY" "$T2S_ITEST/udp_tool.py" echo --target "$ua" --port "$UDP_PORT" --count 10 \
	--max-size 1000 --timeout 3 2>&1)
# (were it routed to tp, the session would end at once: HTTP has no UDP)
if [[ $out == *"ok=10 "* ]]; then
	pass http_udp_falls_through
else
	fail http_udp_falls_through "$out"
fi
daemon_finish
t2s_finish
