#!/usr/bin/env bash
# Geodata downloads (docs/design.md §16): a GEOIP rule whose database is
# not in the config's directory gets it from geox-url, served by nginx in
# S from files the test writes (tests/data/geo_gen.py; never a third-party
# database). Requests go to nginx's /whoami at $T4 by address: through
# dante it answers $T4, DIRECT it answers $C_IP. The configs set
# routing-mark 1 (C's table 100 reaches S) so the downloads of `check`
# and of the daemon go straight to nginx.
#
#   geox_check          check without the file: fails naming the file and
#                       the URL it would come from; check --fetch writes
#                       it (geoip.metadb) and passes
#   geox_fetch_start    the daemon starts without the file: downloads it,
#                       GEOIP,ZZ routes $T4 through dante
#   geox_fetch_404      the URL answers 404: the daemon does not start,
#                       the log names the file and the URL
#   geox_fetch_broken   the URL serves something that is not a database:
#                       refused (not written), the daemon does not start
#   geox_old_copy       an old copy and a broken URL with geo-auto-update:
#                       the daemon starts with the copy, which is kept
#   geox_reload         a SIGHUP to a config that now has a GEOIP rule:
#                       the file is fetched on the reload's worker and
#                       routing follows
#   geox_auto_update    geo-auto-update with a copy older than
#                       geo-update-interval: replaced by the served file
#                       at start, the rules reloaded, routing follows
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="geox_check geox_fetch_start geox_fetch_404 geox_fetch_broken geox_old_copy geox_reload
geox_auto_update"
setup_servers "$NAMES"
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

GEN=$T2S_ROOT/tests/data/geo_gen.py
W=$RUN_DIR/www/geo
mkdir -p "$W"
# zz.mmdb: $T4 in ZZ; yy.mmdb: $T4 in YY; junk.mmdb: not a database
"$PY" "$GEN" country "$W/zz.mmdb" meta "$T4/32=zz" || fail_all "$NAMES" "cannot write zz.mmdb"
"$PY" "$GEN" country "$W/yy.mmdb" meta "$T4/32=yy" || fail_all "$NAMES" "cannot write yy.mmdb"
head -c 4096 /dev/urandom >"$W/junk.mmdb"
chmod -R a+rX "$W"
URL=http://$T4:$HTTP_PORT/geo

# conf DIR MMDB_FILE [extra top-level lines]: GEOIP,ZZ to dante, else DIRECT
conf() {
	mkdir -p "$1"
	cat >"$1/config.yaml" <<EOF
routing-mark: 1
geox-url:
  mmdb: '$URL/$2'
${3:-}
proxies:
  - {name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT}
rules:
  - GEOIP,ZZ,dante
  - MATCH,DIRECT
EOF
}
BIN=$(daemon_bin)
whoami() { cx curl -q --noproxy '*' -sS -m 10 "http://$T4:$HTTP_PORT/whoami" 2>&1; }

# --- check and check --fetch
D=$RUN_DIR/check
conf "$D" zz.mmdb
out=$(cx "$BIN" check -c "$D/config.yaml" 2>&1)
rc=$?
out2=$(cx "$BIN" check -c "$D/config.yaml" --fetch 2>&1)
rc2=$?
if ((rc != 0 && rc2 == 0)) && [[ $out == *"geodata missing: geoip.metadb from $URL/zz.mmdb"* &&
	$out2 == *"OK: 1 proxies"* ]] && cmp -s "$D/geoip.metadb" "$W/zz.mmdb"; then
	pass geox_check
else
	fail geox_check "check rc $rc: $out; --fetch rc $rc2: $out2"
fi

# --- the daemon fetches a missing file at start
D=$RUN_DIR/start
conf "$D" zz.mmdb
if start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/config.yaml" --fwmark 1; then
	w=$(whoami)
	if [[ $w == "$T4" ]] && cmp -s "$D/geoip.metadb" "$W/zz.mmdb" &&
		grep -q "geodata geoip.metadb: updated from $URL/zz.mmdb" "$DAEMON_LOG"; then
		pass geox_fetch_start
	else
		fail geox_fetch_start "whoami '$w' (want dante $T4)$(alive_note)"
	fi
	daemon_finish
fi

# --- a failed download: no start, the error names the file and the URL
for t in 404 broken; do
	D=$RUN_DIR/fail-$t
	f=missing.mmdb
	[[ $t == broken ]] && f=junk.mmdb
	conf "$D" $f
	before=$(wc -l <"$DAEMON_LOG")
	if daemon_start "socks5://$S_IP:$SOCKS_PORT" -c "$D/config.yaml" --fwmark 1; then
		fail geox_fetch_$t "the daemon started without its geodata"
		daemon_finish
		continue
	fi
	logs=$(tail -n +"$((before + 1))" "$DAEMON_LOG")
	if [[ $logs == *"geodata: cannot download geoip.metadb from $URL/$f"* ]] &&
		[[ ! -e $D/geoip.metadb ]] && ! ls "$D"/*.download >/dev/null 2>&1; then
		pass geox_fetch_$t
	else
		fail geox_fetch_$t "rc ${DAEMON_RC:-?}: $logs"
	fi
done

# --- an old copy and a broken URL: starts with the copy, keeps it
D=$RUN_DIR/old
conf "$D" junk.mmdb "geo-auto-update: true
geo-update-interval: 1"
cp "$W/zz.mmdb" "$D/Country.mmdb"
touch -d '-2 hours' "$D/Country.mmdb"
if start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/config.yaml" --fwmark 1; then
	for ((i = 0; i < 300; i++)); do
		grep -q "geodata Country.mmdb: download from $URL/junk.mmdb refused" "$DAEMON_LOG" && break
		sleep 0.1
	done
	w=$(whoami)
	if ((i < 300)) && [[ $w == "$T4" ]] && cmp -s "$D/Country.mmdb" "$W/zz.mmdb"; then
		pass geox_old_copy
	else
		fail geox_old_copy "refusal logged: $((i < 300)); whoami '$w' (want dante $T4)$(alive_note)"
	fi
	daemon_finish
fi

# --- a reload that needs a file: fetched, then the new rules run
D=$RUN_DIR/reload
conf "$D" zz.mmdb
cp "$D/config.yaml" "$D/geo.yaml"
printf 'routing-mark: 1\nrules:\n  - MATCH,DIRECT\n' >"$D/config.yaml"
if start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/config.yaml" --fwmark 1; then
	w0=$(whoami)
	cp "$D/geo.yaml" "$D/config.yaml"
	kill -HUP "$DAEMON_PID"
	w=
	for ((i = 0; i < 60; i++)); do
		w=$(whoami)
		[[ $w == "$T4" ]] && break
		sleep 0.5
	done
	if [[ $w0 == "$C_IP" && $w == "$T4" ]] && cmp -s "$D/geoip.metadb" "$W/zz.mmdb"; then
		pass geox_reload
	else
		fail geox_reload "whoami before '$w0' (want DIRECT $C_IP), after SIGHUP '$w' (want dante $T4)$(alive_note)"
	fi
	daemon_finish
fi

# --- auto-update: the copy (T4 in ZZ, to dante) is older than the
# interval; the served file (T4 in YY) replaces it and T4 goes DIRECT
D=$RUN_DIR/auto
conf "$D" yy.mmdb "geo-auto-update: true
geo-update-interval: 1"
cp "$W/zz.mmdb" "$D/Country.mmdb"
touch -d '-2 hours' "$D/Country.mmdb"
if start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$D/config.yaml" --fwmark 1; then
	w=
	for ((i = 0; i < 60; i++)); do
		w=$(whoami)
		[[ $w == "$C_IP" ]] && break
		sleep 0.5
	done
	if [[ $w == "$C_IP" ]] && cmp -s "$D/Country.mmdb" "$W/yy.mmdb" &&
		grep -q "geodata Country.mmdb: updated from $URL/yy.mmdb" "$DAEMON_LOG"; then
		pass geox_auto_update
	else
		fail geox_auto_update "whoami '$w' (want DIRECT $C_IP after the update)$(alive_note)"
	fi
	daemon_finish
fi
t2s_finish
