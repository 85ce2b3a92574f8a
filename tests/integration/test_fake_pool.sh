#!/usr/bin/env bash
# Fake pool safety (issue 14, item 3): a fake address is not handed to a
# new name until it has been unused for the minimum age, so a connection
# made after a burst of other lookups still reaches the name it asked for.
#
# A /24 pool (253 addresses). The client looks up 20 target names, then
# 300 other names (more than the pool holds), then connects to each
# target's address. The 300 are *.churn.example.test, which a rule
# REJECTs: a target address reassigned to one of them would be reset
# instead of served by nginx through danted, so "wrong host" is seen.
#
#   daemon #1: default minimum age (60 s)
#     fake_pool_churn          20 of 20 targets served; the churn names the
#                              pool could not hold got SERVFAIL
#     fake_pool_warning        one warning (rate-limited) suggesting a
#                              larger fake-ip-range
#   daemon #2: --fake-ip-min-age 2
#     fake_pool_reuse_after_age the same holds; 3 s later new names get
#                              addresses again (old ones are reused)
#   daemon #3: --fake-ip-min-age 0 (mihomo's behaviour, the guard off)
#     fake_pool_unguarded      the test sees the hazard: targets now lead
#                              to churn names (reset), so it can fail
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="fake_pool_churn fake_pool_warning fake_pool_reuse_after_age fake_pool_unguarded"
require_tools dnsmasq
ANY=192.0.2.53

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
CONF=$RUN_DIR/config.yaml
cat >"$CONF" <<EOF
rules:
  - DOMAIN-SUFFIX,churn.example.test,REJECT
EOF

# churn [ARGS...]: the client; sets OUT to its summary line
churn() {
	OUT=$(cx "$PY" "$T2S_ITEST/dns_tool.py" churn --server "$ANY" --sha256 "$SHA_1K" "$@" \
		2>"$RUN_DIR/churn.err" | tail -n 1)
	log "churn $*: $OUT"
	head -n 5 "$RUN_DIR/churn.err" >&2
}
field() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$2"; }
P=(-c "$CONF" --dns-server "$S_IP" --fake-ip-range 198.18.0.0/24)

# ---- daemon #1: the default minimum age ---------------------------------------------
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" "${P[@]}"
churn --targets 20 --churn 300
if [[ $(field ok "$OUT") == 20 ]] && (($(field churn_servfail "$OUT") > 0)); then
	pass fake_pool_churn
else
	fail fake_pool_churn "$OUT (want ok=20, some churn SERVFAIL)$(alive_note)"
fi
n=$(grep -c "no fake address for .*use a larger fake-ip-range" "$DAEMON_LOG")
if ((n == 1)); then pass fake_pool_warning
else fail fake_pool_warning "$n warning lines (want 1: rate-limited)"; fi
daemon_finish

# ---- daemon #2: a short minimum age: reuse resumes after it -------------------------
start_or_fail "fake_pool_reuse_after_age" "socks5://$S_IP:$SOCKS_PORT" "${P[@]}" \
	--fake-ip-min-age 2
churn --targets 20 --churn 300
first=$OUT
sleep 3
churn --targets 0 --churn 100 --churn-suffix later.churn.example.test
if [[ $(field ok "$first") == 20 ]] && (($(field churn_servfail "$first") > 0)) &&
	[[ $(field churn_servfail "$OUT") == 0 ]]; then
	pass fake_pool_reuse_after_age
else
	fail fake_pool_reuse_after_age "first: $first; 3 s later: $OUT (want ok=20, then no SERVFAIL)"
fi
daemon_finish

# ---- daemon #3: the guard off --------------------------------------------------------
start_or_fail "fake_pool_unguarded" "socks5://$S_IP:$SOCKS_PORT" "${P[@]}" --fake-ip-min-age 0
churn --targets 20 --churn 300
if (($(field wrong "$OUT") > 0)); then pass fake_pool_unguarded
else fail fake_pool_unguarded "$OUT (want some wrong: the test must see the hazard)"; fi
daemon_finish
t2s_finish
