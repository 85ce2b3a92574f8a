#!/usr/bin/env bash
# GEOIP, GEOSITE and IP-ASN routing with geodata files the test writes
# itself (tests/data/geo_gen.py, from the formats' documentation; never a
# third-party database), in the config's directory under mihomo's names.
# dnsmasq answers *.example.test with $T4; the country database says $T4
# is in "ZZ", the ASN database that it is AS 64500. Which way a request
# went is read off nginx's /whoami: microsocks connects from $S_IP, dante
# from $T4/$T6, DIRECT from $C_IP.
#
#   geo_check          tun2socks check: OK, the bad rule-set entry and the
#                      '?' filter pattern warned about; without
#                      Country.mmdb, check fails naming the file it
#                      would download (geoip.metadb) and from where
#   geo_site           GEOSITE,testsite (a domain entry) -> microsocks
#   geo_site_attr      GEOSITE,testsite@ads (a full entry with that
#                      attribute) -> REJECT
#   geo_ip             GEOIP,ZZ on a fake-ip flow: the name is resolved,
#                      $T4 is in ZZ -> DIRECT
#   geo_asn            IP-ASN,64500 (after a GEOIP for another country)
#                      -> microsocks
#   geo_fakeip_filter  dns.fake-ip-filter geosite:other: a name on that
#                      list gets the real address, another a fake one
#   geo_dns_policy_site    nameserver-policy 'geosite:other': its names
#                          asked of the second server
#   geo_dns_policy_ruleset nameserver-policy 'rule-set:set' likewise
#   geo_dns_fallback_site  fallback-filter.geosite: its names go to the
#                          fallback
#   geo_dns_fallback_geoip fallback-filter.geoip: a main answer not of
#                          geoip-code is asked again of the fallback; one
#                          of that country is kept
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="geo_check geo_site geo_site_attr geo_ip geo_asn geo_fakeip_filter geo_dns_policy_site
geo_dns_policy_ruleset geo_dns_fallback_site geo_dns_fallback_geoip"
require_tools dnsmasq microsocks timeout
MS_PORT=1090
ANY=192.0.2.53

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
sx microsocks -i "$S_IP" -p "$MS_PORT" -b "$S_IP" >"$RUN_DIR/microsocks.log" 2>&1 &
SRV_PID[microsocks]=$!
wait_listen "$NS_S" tcp "$S_IP" "$MS_PORT" 5 "${SRV_PID[microsocks]}" ||
	fail_all "$NAMES" "microsocks did not start"
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

GEN=$T2S_ROOT/tests/data/geo_gen.py
D=$RUN_DIR/geo
mkdir -p "$D"
"$PY" "$GEN" country "$D/Country.mmdb" maxmind "$T4/32=zz" "$T6/128=zz" 198.51.100.0/24=yy ||
	fail_all "$NAMES" "cannot write Country.mmdb"
"$PY" "$GEN" asn "$D/ASN.mmdb" "$T4/32=64500:Test Net" ||
	fail_all "$NAMES" "cannot write ASN.mmdb"
"$PY" "$GEN" geosite "$D/GeoSite.dat" "TESTSITE=domain:site.example.test" \
	"TESTSITE=full:ads.site.example.test@ads" "OTHER=domain:other.example.test" ||
	fail_all "$NAMES" "cannot write GeoSite.dat"
printf '+.set.example.test\n*bad*\n' >"$D/set.txt"

CONF=$D/config.yaml
cat >"$CONF" <<EOF
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
  fake-ip-filter:
    - geosite:other
    - "+.?.example.test"
proxies:
  - {name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT}
  - {name: micro, type: socks5, server: $S_IP, port: $MS_PORT}
rule-providers:
  set: {type: file, behavior: domain, format: text, path: set.txt}
rules:
  - GEOSITE,testsite@ads,REJECT
  - GEOSITE,TestSite,micro
  - DOMAIN-SUFFIX,dante.example.test,dante
  - GEOIP,YY,dante
  - AND,((DOMAIN-SUFFIX,byasn.example.test),(IP-ASN,64500)),micro
  - GEOIP,ZZ,DIRECT
  - RULE-SET,set,micro
  - MATCH,dante
EOF

# *.byasn.example.test: GEOIP,YY is the first rule that needs the address
# (the name is resolved there, to $T4), fails, and the AND holds.

BIN=$(daemon_bin)
out=$("$BIN" check -c "$CONF" 2>&1)
rc=$?
mv "$D/Country.mmdb" "$D/Country.mmdb.off"
bad=$("$BIN" check -c "$CONF" 2>&1)
bad_rc=$?
mv "$D/Country.mmdb.off" "$D/Country.mmdb"
if ((rc == 0 && bad_rc != 0)) && [[ $out == *"OK: 2 proxies"* ]] &&
	grep -q "set.txt:2:1: warning: .*entry skipped" <<<"$out" &&
	grep -q "can match no name" <<<"$out" &&
	grep -q "config.yaml:[0-9]*:[0-9]*: GEOIP: cannot open the GEOIP database .*geoip.metadb" <<<"$bad" &&
	grep -q "geodata missing: geoip.metadb from https://" <<<"$bad"; then
	pass geo_check
else
	fail geo_check "check rc $rc: $out; without Country.mmdb rc $bad_rc: $bad"
fi

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1 --connect-timeout 5

whoami() { cx curl -q --noproxy '*' -sS -m 10 "http://$1/whoami" 2>&1; }
w=$(whoami www.site.example.test)
[[ $w == "$S_IP" ]] && pass geo_site || fail geo_site "whoami '$w' (want micro $S_IP)"
out=$(cx curl -q --noproxy '*' -sS -m 5 "http://ads.site.example.test/whoami" 2>&1)
rc=$?
if curl_was_reset "$rc"; then
	pass geo_site_attr
else
	fail geo_site_attr "curl rc $rc: $out (want a reset: REJECT)"
fi
w=$(whoami plain.example.test)
[[ $w == "$C_IP" ]] && pass geo_ip || fail geo_ip "whoami '$w' (want DIRECT $C_IP)"
w=$(whoami x.byasn.example.test)
[[ $w == "$S_IP" ]] && pass geo_asn || fail geo_asn "whoami '$w' (want micro $S_IP)"
real=$(cx dig +short "@$ANY" www.other.example.test A 2>&1)
fake=$(cx dig +short "@$ANY" plain.example.test A 2>&1)
if [[ $real == "$T4" && $fake == 198.18.* ]]; then
	pass geo_fakeip_filter
else
	fail geo_fakeip_filter "www.other.example.test -> '$real' (want $T4), plain.example.test -> '$fake' (want a fake 198.18.x)"
fi
daemon_finish

# DNS keys that name lists (docs/design.md §23): a second dnsmasq on
# $S_IP:5353 answers *.example.test with $ALT; the main one says $T4 (in
# ZZ). Real-ip mode, so dig shows which server answered.
ALT=203.0.113.99
cat >"$RUN_DIR/alt.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$S_IP
port=5353
bind-interfaces
address=/example.test/$ALT
EOF
sx dnsmasq -k -C "$RUN_DIR/alt.conf" --pid-file="$RUN_DIR/alt.pid" >"$RUN_DIR/alt.stdout" 2>&1 &
SRV_PID[alt]=$!
wait_listen "$NS_S" udp "$S_IP" 5353 10 "${SRV_PID[alt]}" || log "second dnsmasq did not start"
cat >"$D/dns.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: [$S_IP]
  nameserver-policy:
    'geosite:other': '$S_IP:5353'
    'rule-set:set': ['$S_IP:5353']
  fallback: ['$S_IP:5353']
  fallback-filter:
    geoip: true
    geoip-code: yy
    geosite: [testsite]
rule-providers:
  set: {type: file, behavior: domain, format: text, path: set.txt}
rules:
  - MATCH,DIRECT
EOF
cat >"$D/dns-zz.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: redir-host
  use-system-hosts: false
  nameserver: [$S_IP]
  fallback: ['$S_IP:5353']
  fallback-filter: {geoip: true, geoip-code: ZZ}
EOF
dq() { cx dig +short +time=4 +tries=1 "@$ANY" "$1" A 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/dns.yaml"
a=$(dq www.other.example.test)
[[ $a == "$ALT" ]] && pass geo_dns_policy_site ||
	fail geo_dns_policy_site "www.other.example.test '$a' (want $ALT: nameserver-policy geosite:other)"
a=$(dq www.set.example.test)
[[ $a == "$ALT" ]] && pass geo_dns_policy_ruleset ||
	fail geo_dns_policy_ruleset "www.set.example.test '$a' (want $ALT: nameserver-policy rule-set:set)"
a=$(dq www.site.example.test)
[[ $a == "$ALT" ]] && pass geo_dns_fallback_site ||
	fail geo_dns_fallback_site "www.site.example.test '$a' (want $ALT: fallback-filter.geosite testsite)"
a=$(dq plain.example.test)
daemon_finish
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/dns-zz.yaml"
b=$(dq plain.example.test)
daemon_finish
if [[ $a == "$ALT" && $b == "$T4" ]]; then
	pass geo_dns_fallback_geoip
else
	fail geo_dns_fallback_geoip "plain.example.test '$a' with geoip-code yy (want $ALT: $T4 is in ZZ), '$b' with ZZ (want $T4)"
fi
t2s_finish
