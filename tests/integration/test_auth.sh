#!/usr/bin/env bash
# Scenario 3: username/password auth (RFC 1929) against danted with
# `socksmethod: username`. Right password: the download works and danted logs
# the user. Wrong password, or none at all: curl fails, and fast.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="auth_right_password auth_wrong_password auth_missing_credentials"
setup_servers "$NAMES" username
FAST=2

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
t2s_finish
