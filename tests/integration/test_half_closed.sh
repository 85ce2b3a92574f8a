#!/usr/bin/env bash
# A client gone from a half-closed flow (docs/design.md §12).
#
#   half_closed_client_gone  N clients ask for /1k with Connection: close
#                            and neither read nor close: nginx closes, the
#                            daemon's FIN reaches each client, whose kernel
#                            acks it (lwIP's side in FIN_WAIT_2, nothing
#                            left to send, no timer of lwIP's running).
#                            The daemon is stopped, the TUN's queue cut to
#                            one packet and the clients killed, so their
#                            kernels' RSTs (unread data) are dropped but
#                            one: the real case is a full TUN queue when
#                            thousands of clients die at once. The flows
#                            whose RST was lost must still end, by the
#                            daemon's probe of a silent half-closed client
#                            (its kernel answers with another RST), well
#                            before the idle timeout (2 h); the daemon's
#                            descriptors come back to where they were.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="half_closed_client_gone"
N=5
setup_servers "$NAMES"
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT"

fds() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
tun_tx_dropped() { cx cat "/sys/class/net/$TUN/statistics/tx_dropped"; }
closed_by_server() { cx ss -Htn state close-wait dst "$T4" | wc -l; }

base=$(fds)
# not through cx (a function): $! must be the client itself
ip netns exec "$NS_C" "$PY" -c '
import socket, sys, time
held = []
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((sys.argv[1], 80), timeout=10)
    s.sendall(b"GET /1k HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    held.append(s)
print("opened=%d" % len(held), flush=True)
time.sleep(600)' "$T4" "$N" >"$RUN_DIR/clients.out" 2>&1 &
clients=$!
for ((i = 0; i < 100 * SLOW; i++)); do
	(($(closed_by_server) == N)) && break
	sleep 0.1
done
held=$(closed_by_server)
log "clients: $(cat "$RUN_DIR/clients.out"); $held of $N got the FIN; daemon holds $(fds) descriptors ($base its own)"

drop0=$(tun_tx_dropped)
kill -STOP "$DAEMON_PID"
cx ip link set "$TUN" txqueuelen 1
kill "$clients"
wait "$clients" 2>/dev/null
sleep 1
dropped=$(($(tun_tx_dropped) - drop0))
cx ip link set "$TUN" txqueuelen 500
kill -CONT "$DAEMON_PID"
t0=$(date +%s.%N)
log "clients killed with the daemon stopped: the TUN dropped $dropped packets"

# the probe comes 15 s after the flow's last traffic
for ((i = 0; i < 400 * SLOW; i++)); do
	(($(fds) <= base)) && break
	sleep 0.1
done
left=$(($(fds) - base))
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "$left descriptors over the daemon's own ${secs}s later"
ended=$(grep -c "client reset the connection" "$DAEMON_LOG")
if ((held != N)); then
	fail half_closed_client_gone "only $held of $N clients had the server's FIN$(alive_note)"
elif ((dropped < 1)); then
	fail half_closed_client_gone "no RST was dropped at the TUN: the case was not made$(alive_note)"
elif ((left > 0 || ended != N)); then
	fail half_closed_client_gone "$left upstream descriptors still held ${secs}s after the clients died with $dropped RSTs lost; $ended of $N flows logged the client's reset$(alive_note)"
else
	pass half_closed_client_gone
fi
daemon_finish
t2s_finish
