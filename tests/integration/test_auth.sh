#!/usr/bin/env bash
# Scenario 3: username/password auth (RFC 1929) against danted with
# `socksmethod: username`. Right password: the download works and danted logs
# the user. Wrong password, or none at all: curl fails, and fast.
#   auth_pipelined        "pipelining: true": greeting, auth and CONNECT
#                         leave in one segment (the uplink capture's first
#                         payload to the proxy is all three) and the
#                         download works, danted logging the user
#   auth_pipelined_wrong  the same with a wrong password: fails fast
#   pipelined_noauth      a second danted without auth: greeting and
#                         CONNECT in one segment, the download works
#   auto_auth             the key left out (auto): the probe, with auth, is
#                         answered; then flows pipeline as with true
#   auto_noauth           "pipelining: auto" without auth: the same
#   pipelining_false      "false": no probe, the plain greeting goes first
#   auto_proxy_url        --proxy alone is auto too: probed, flows pipelined
#   proxy_url_false       --pipelining false: no probe, plain handshakes
#   auto_microsocks       auto on microsocks: the probe gets no reply, plain
#                         handshakes, the download works
#   pipelined_microsocks  microsocks (1.0.3) drops what follows the greeting:
#                         the flow is reset at --connect-timeout, and the log
#                         says pipelining may be the cause (a microsocks that
#                         reads pipelined messages just downloads)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="auth_right_password auth_wrong_password auth_missing_credentials auth_pipelined
 auto_auth auth_pipelined_wrong pipelined_noauth auto_noauth pipelining_false auto_proxy_url
 proxy_url_false auto_microsocks pipelined_microsocks"
require_tools tcpdump microsocks
setup_servers "$NAMES" username
FAST=2
NOAUTH_PORT=1081

# right password
start_or_fail "$NAMES" "socks5://$AUTH_USER:$AUTH_PASS@$S_IP:$SOCKS_PORT"
if fetch_check "http://$T4/1k" "$SHA_1K"; then
	if grep -q "username%$AUTH_USER@" "$RUN_DIR/danted.log"; then pass auth_right_password
	else fail auth_right_password "body ok but danted did not log user $AUTH_USER"; fi
else
	fail auth_right_password "$FETCH_ERR$(alive_note)"
fi
daemon_finish

# expect_fast_failure NAME: a download must fail in under FAST seconds and
# the daemon must survive it.
expect_fast_failure() {
	local name=$1 t0 el rc err
	t0=$(now)
	err=$(ccurl --max-time 10 -o /dev/null "http://$T4/1k" 2>&1)
	rc=$?
	el=$(elapsed "$t0")
	log "$name: curl exit $rc in ${el}s: $err"
	if ((rc == 0)); then
		fail "$name" "download succeeded"
	elif ! lt "$el" "$FAST"; then
		fail "$name" "curl failed only after ${el}s (exit $rc), want < ${FAST}s"
	elif ! daemon_alive; then
		fail "$name" "curl failed in ${el}s but the daemon died"
	else
		pass "$name"
	fi
}

start_or_fail "auth_wrong_password auth_missing_credentials" "socks5://$AUTH_USER:wrong-$AUTH_PASS@$S_IP:$SOCKS_PORT"
expect_fast_failure auth_wrong_password
daemon_finish

start_or_fail "auth_missing_credentials" "socks5://$S_IP:$SOCKS_PORT"
expect_fast_failure auth_missing_credentials
daemon_finish

# ---- pipelining ----------------------------------------------------------------
# pipe_conf PORT MODE [USER PASS]: a config sending everything to one SOCKS5
# proxy with "pipelining: MODE" (none: the key left out).
pipe_conf() {
	local f=$RUN_DIR/pipe.$1.$2.yaml
	{
		echo "proxies:"
		echo "  - name: up"
		echo "    type: socks5"
		echo "    server: $S_IP"
		echo "    port: $1"
		[[ $2 != none ]] && echo "    pipelining: $2"
		[[ -n ${3:-} ]] && echo "    username: $3" && echo "    password: $4"
		echo "rules:"
		echo "  - MATCH,up"
	} >"$f"
	echo "$f"
}

# first_payload PCAP PORT: length of the first segment with data that went
# to the proxy's PORT (one connection per capture).
first_payload() {
	tcpdump -r "$1" -n "tcp dst port $2 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)" 2>/dev/null |
		sed -nE '1s/.* length ([0-9]+).*/\1/p'
}

# pipelined_case NAME PORT WANT_LEN MODE PROBED [USER PASS]: one download
# through a daemon with "pipelining: MODE", the uplink captured; PROBED: the
# log line of the probe's verdict to wait for first ("": none; "-": the
# log must show no probe at all).
pipelined_case() {
	local name=$1 port=$2 want=$3 mode=$4 probed=$5 pcap=$RUN_DIR/$1.pcap first cap
	shift 5
	# (--proxy is never used here: --pipelining false keeps it out)
	start_or_fail "$name" "socks5://$S_IP:$port" -c "$(pipe_conf "$port" "$mode" "$@")" \
		--connect-timeout 2 --pipelining false
	if [[ -n $probed && $probed != - ]] &&
		! wait_daemon_log "proxy up ($S_IP:$port): $probed" 8; then
		fail "$name" "no \"$probed\" in the daemon log: $(daemon_log | grep -m1 'pipelin')"
		daemon_finish
		return
	fi
	# not through sx: $! must be tcpdump itself, so that the TERM below
	# reaches it and it writes out what it holds before the file is read
	ip netns exec "$NS_S" tcpdump -i v1 -n -s 200 --immediate-mode -w "$pcap" "tcp port $port" \
		>"$RUN_DIR/$name.tcpdump.log" 2>&1 &
	cap=$!
	wait_log "$RUN_DIR/$name.tcpdump.log" "listening on" 5
	FETCH_ERR=
	fetch_check "http://$T4/1k" "$SHA_1K"
	local rc=$?
	kill "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	first=$(first_payload "$pcap" "$port")
	if [[ $probed == - ]] && daemon_log | grep -q "pipelin"; then
		fail "$name" "probed: $(daemon_log | grep -m1 pipelin)"
	elif ((rc == 0)) && [[ $first == "$want" ]] &&
		{ [[ -z ${1:-} ]] || grep -q "username%$1@" "$RUN_DIR/danted.log"; }; then
		pass "$name"
	else
		fail "$name" "fetch: ${FETCH_ERR:-ok}; first segment to the proxy: ${first:-none} bytes, want $want$(alive_note)"
	fi
	daemon_finish
}

# greeting with one method (3) + RFC 1929 (3 + user + password) + CONNECT to
# an IPv4 address (10), in one segment
AUTH_LEN=$((3 + 3 + ${#AUTH_USER} + ${#AUTH_PASS} + 10))
ON="answers pipelined requests: pipelining on (auto)"
OFF="no answer to a pipelined request"
pipelined_case auth_pipelined "$SOCKS_PORT" "$AUTH_LEN" true "" "$AUTH_USER" "$AUTH_PASS"
# auto (the key left out): the probe with auth is answered, then flows pipeline
pipelined_case auto_auth "$SOCKS_PORT" "$AUTH_LEN" none "$ON" "$AUTH_USER" "$AUTH_PASS"
start_or_fail auth_pipelined_wrong "socks5://$S_IP:$SOCKS_PORT" \
	-c "$(pipe_conf "$SOCKS_PORT" true "$AUTH_USER" "wrong-$AUTH_PASS")"
expect_fast_failure auth_pipelined_wrong
daemon_finish

if start_dante none "$NOAUTH_PORT" danted2; then
	pipelined_case pipelined_noauth "$NOAUTH_PORT" 13 true ""
	pipelined_case auto_noauth "$NOAUTH_PORT" 13 auto "$ON"
	# false: no probe, the plain greeting (3 bytes) first
	pipelined_case pipelining_false "$NOAUTH_PORT" 3 false -
	# --proxy alone is auto too; --pipelining false turns it off
	start_or_fail auto_proxy_url "socks5://$S_IP:$NOAUTH_PORT" --log-level debug
	if wait_daemon_log "proxy --proxy ($S_IP:$NOAUTH_PORT): $ON" 8 &&
		fetch_check "http://$T4/1k" "$SHA_1K" &&
		daemon_log | grep -q "socks5 CONNECT $T4:80 .*READ_METHOD -> READ_REPLY"; then
		pass auto_proxy_url
	else
		fail auto_proxy_url "${FETCH_ERR:-no pipelined flow}: $(daemon_log | grep -m1 pipelin)"
	fi
	daemon_finish
	start_or_fail proxy_url_false "socks5://$S_IP:$NOAUTH_PORT" --pipelining false \
		--log-level debug
	if fetch_check "http://$T4/1k" "$SHA_1K" && ! daemon_log | grep -q "pipelin" &&
		daemon_log | grep -q "socks5 CONNECT $T4:80 .*READ_METHOD -> SEND_REQUEST"; then
		pass proxy_url_false
	else
		fail proxy_url_false "${FETCH_ERR:-probed or pipelined}: $(daemon_log | grep -m1 pipelin)"
	fi
	daemon_finish
else
	for n in pipelined_noauth auto_noauth pipelining_false auto_proxy_url proxy_url_false; do
		fail "$n" "a second danted did not start"
	done
fi

MS_PORT=1090
if start_microsocks "$MS_PORT"; then
	# auto: microsocks does not answer the probe's CONNECT, so plain
	# handshakes (the 3-byte greeting first) and the download works
	pipelined_case auto_microsocks "$MS_PORT" 3 auto "$OFF"
	start_or_fail pipelined_microsocks "socks5://$S_IP:$MS_PORT" -c "$(pipe_conf "$MS_PORT" true)" \
		--connect-timeout 2
	t0=$(now)
	err=$(ccurl --max-time 20 -o /dev/null "http://$T4/1k" 2>&1)
	rc=$?
	el=$(elapsed "$t0")
	if ((rc == 0)) && daemon_alive; then
		# a later microsocks may read message by message: then the
		# download simply works (Debian 12's 1.0.3 drops the rest)
		log "pipelined_microsocks: this microsocks answers pipelined requests"
		pass pipelined_microsocks
	elif lt "$el" 10 && daemon_alive &&
		wait_log "$DAEMON_LOG" "timed out in the proxy handshake (pipelining: true" 5; then
		pass pipelined_microsocks
	else
		fail pipelined_microsocks "curl exit $rc after ${el}s ($err); daemon log: $(grep -m1 'flow#' "$DAEMON_LOG")$(alive_note)"
	fi
	daemon_finish
else
	fail pipelined_microsocks "microsocks did not start"
fi
t2s_finish
