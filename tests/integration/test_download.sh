#!/usr/bin/env bash
# Scenario 1: 1 KiB and 64 MiB downloads through the tunnel, sha256-verified,
# and the flows really went through danted (its log names the target).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="download_1k download_64m"
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

if fetch_check "http://$T4/1k" "$SHA_1K"; then
	if grep -q "$T4\.$HTTP_PORT" "$RUN_DIR/danted.log"; then pass download_1k
	else fail download_1k "body ok but danted's log has no connect to $T4.$HTTP_PORT"; fi
else
	fail download_1k "$FETCH_ERR$(alive_note)"
fi

t0=$(now)
if fetch_check "http://$T4/64m" "$SHA_64M"; then
	el=$(elapsed "$t0")
	log "64 MiB in ${el}s ($(awk -v t="$el" 'BEGIN{printf "%.0f", 64*8/t}') Mbit/s)"
	pass download_64m
else
	fail download_64m "$FETCH_ERR$(alive_note)"
fi

log "flow lines:"; flow_lines | tail -n 5 >&2
daemon_finish
t2s_finish
