#!/usr/bin/env bash
# A client reusing a local port soon after a connection that the server
# closed first (HTTP "Connection: close"). The tunnel's stack is then the
# active closer and holds the old connection in TIME_WAIT, while the
# client's kernel is free to reuse the port at once (as Linux does under
# connection churn). The new SYN must open a new flow (RFC 6191-style),
# not be answered by the old connection's ACK until TIME_WAIT runs out.
# IPv4 and IPv6.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="port_reuse_v4 port_reuse_v6"
setup_servers "$NAMES" none
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

reuse() { # NAME HOST PORT
	local out rc
	out=$(cx "$PY" "$T2S_ITEST/tclient.py" reuse --host "$2" --port "$HTTP_PORT" --path /1k \
		--local-port "$3" --count 3 --sha256 "$SHA_1K" --timeout $((5 * SLOW)) --max-connect 1 2>&1)
	rc=$?
	log "$1: $(tr '\n' ';' <<<"$out")"
	if ((rc == 0)); then pass "$1"
	else fail "$1" "$(tail -n 1 <<<"$out")$(alive_note)"; fi
}
reuse port_reuse_v4 "$T4" 40000
reuse port_reuse_v6 "$T6" 40001

daemon_finish
t2s_finish
