#!/usr/bin/env bash
# Scenario 4: an IPv6 destination through the tunnel (SOCKS5 ATYP 4 over an
# IPv4 connection to danted, whose IPv6 external reaches the target).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="ipv6_1k ipv6_64m"
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

if fetch_check "http://[$T6]/1k" "$SHA_1K" -g; then
	if grep -q "$T6\.$HTTP_PORT" "$RUN_DIR/danted.log"; then pass ipv6_1k
	else fail ipv6_1k "body ok but danted's log has no connect to $T6.$HTTP_PORT"; fi
else
	fail ipv6_1k "$FETCH_ERR$(alive_note)"
fi
if fetch_check "http://[$T6]/64m" "$SHA_64M" -g; then pass ipv6_64m
else fail ipv6_64m "$FETCH_ERR$(alive_note)"; fi

daemon_finish
t2s_finish
