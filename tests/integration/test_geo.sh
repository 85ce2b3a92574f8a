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
#                      Country.mmdb, check fails naming the file
#   geo_site           GEOSITE,testsite (a domain entry) -> microsocks
#   geo_site_attr      GEOSITE,testsite@ads (a full entry with that
#                      attribute) -> REJECT
#   geo_ip             GEOIP,ZZ on a fake-ip flow: the name is resolved,
#                      $T4 is in ZZ -> DIRECT
#   geo_asn            IP-ASN,64500 (after a GEOIP for another country)
#                      -> microsocks
#   geo_fakeip_filter  dns.fake-ip-filter geosite:other: a name on that
#                      list gets the real address, another a fake one
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="geo_check geo_site geo_site_attr geo_ip geo_asn geo_fakeip_filter"
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
	grep -q "config.yaml:[0-9]*:[0-9]*: GEOIP: cannot open the GEOIP database .*Country.mmdb" <<<"$bad"; then
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
if ((rc == 7 || rc == 56 || rc == 52)); then
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
t2s_finish
