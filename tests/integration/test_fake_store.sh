#!/usr/bin/env bash
# store-fake-ip (profile.store-fake-ip, --store-fake-ip): the fake pool
# survives a restart of the daemon (docs/design.md §22).
#
# dnsmasq answers *.example.test with $T4; nginx's /whoami answers through
# danted. The client looks names up through the daemon (fake-ip), keeps
# the addresses, and uses them after the restart without asking again.
#
#   fake_store_same_answer   dig before and after a restart: the same fake
#                            address for each of 50 names, and a new name
#                            gets an address none of them has
#   fake_store_reconnect     a client holding a keep-alive connection to a
#                            fake address across the restart sees it reset,
#                            reconnects to the same address (no new lookup)
#                            and reaches the same host
#   fake_store_file          the file is in --state-dir, mode 0600
#   fake_store_other_range   a restart with another fake-ip-range ignores
#                            the file (logged) and answers from the new range
#   fake_store_off           without the key nothing is restored: an address
#                            kept from before leads nowhere (reset)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="fake_store_same_answer fake_store_reconnect fake_store_file fake_store_other_range
fake_store_off"
require_tools dnsmasq dig
ANY=192.0.2.53

ns_resolv "$NS_S" "$S_IP"
ns_resolv "$NS_C" "$ANY"
setup_servers "$NAMES"
start_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
STATE=$RUN_DIR/state
CONF=$RUN_DIR/config.yaml
cat >"$CONF" <<EOF
profile:
  store-selected: true
  store-fake-ip: true
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
EOF
P=(-c "$CONF" --state-dir "$STATE" --fake-ip-range 198.18.0.0/16)

lookup_all() { # lookup_all FILE: "name address" for n0..n49.example.test
	local i
	for ((i = 0; i < 50; i++)); do
		printf 'n%d.example.test %s\n' "$i" "$(cx dig +short +time=3 "@$ANY" "n$i.example.test" A)"
	done >"$1"
}

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" "${P[@]}"
lookup_all "$RUN_DIR/before.txt"
held=$(awk '$1 == "n7.example.test" {print $2}' "$RUN_DIR/before.txt")
# the held connection: one request, a wait for the restart, a second
# request on the same socket (fails: reset), then a new connection to the
# same address
cx "$PY" -c '
import socket, sys, time, os
addr, flag = sys.argv[1], sys.argv[2]
def get(s):
    s.sendall(b"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(4096)
        if not c:
            raise OSError("closed")
        data += c
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < n:
        body += s.recv(4096)
    return body.decode()
s = socket.create_connection((addr, 80), timeout=10)
print("first", get(s), flush=True)
while not os.path.exists(flag):
    time.sleep(0.1)
try:
    get(s)
    print("same-socket", "alive", flush=True)
except OSError as e:
    print("same-socket", "reset", flush=True)
s = socket.create_connection((addr, 80), timeout=10)
print("again", get(s), flush=True)
' "$held" "$RUN_DIR/restarted" >"$RUN_DIR/held.out" 2>&1 &
HELD=$!
for ((i = 0; i < 100; i++)); do
	grep -q '^first' "$RUN_DIR/held.out" && break
	sleep 0.1
done
daemon_finish
f=$(ls "$STATE"/*.fakeip 2>/dev/null | head -1)
if [[ -n $f && $(stat -c %a "$f") == 600 ]] && head -1 "$f" | grep -q '^t2s-fakeip 1$'; then
	pass fake_store_file
else
	fail fake_store_file "no state file in $STATE ($(ls -l "$STATE" 2>&1 | tail -2 | tr '\n' ' '))"
fi

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" "${P[@]}"
touch "$RUN_DIR/restarted"
wait "$HELD"
lookup_all "$RUN_DIR/after.txt"
new=$(cx dig +short +time=3 "@$ANY" brand-new.example.test A)
if cmp -s "$RUN_DIR/before.txt" "$RUN_DIR/after.txt" && [[ -n $new ]] &&
	! grep -qw "$new" "$RUN_DIR/before.txt" && (($(grep -c ' 198\.18\.' "$RUN_DIR/after.txt") == 50)) &&
	grep -q "restored the fake pool" "$DAEMON_LOG"; then
	pass fake_store_same_answer
else
	fail fake_store_same_answer "answers differ: $(diff "$RUN_DIR/before.txt" "$RUN_DIR/after.txt" | head -4 | tr '\n' ' '); new '$new'"
fi
first=$(sed -n 's/^first //p' "$RUN_DIR/held.out")
again=$(sed -n 's/^again //p' "$RUN_DIR/held.out")
if [[ $first == "$T4" || $first == "$T6" ]] && [[ $again == "$first" ]] &&
	grep -q '^same-socket reset' "$RUN_DIR/held.out"; then
	pass fake_store_reconnect
else
	fail fake_store_reconnect "held client: $(tr '\n' ' ' <"$RUN_DIR/held.out")"
fi
daemon_finish

# another range: the file does not apply
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --state-dir "$STATE" \
	--fake-ip-range 198.19.128.0/17
a=$(cx dig +short +time=3 "@$ANY" n1.example.test A)
if [[ $a == 198.19.1* || $a == 198.19.2* ]] && grep -q "saved for another fake-ip range" "$DAEMON_LOG"; then
	pass fake_store_other_range
else
	fail fake_store_other_range "n1 is '$a' (want an address of 198.19.128.0/17)"
fi
daemon_finish

# without the key: the address kept from before means nothing now
cat >"$RUN_DIR/nostore.yaml" <<EOF
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
EOF
mark=$(wc -l <"$DAEMON_LOG")
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$RUN_DIR/nostore.yaml" \
	--state-dir "$STATE" --fake-ip-range 198.18.0.0/16
w=$(ccurl -m 5 "http://$held/whoami" 2>&1)
if [[ $w != "$T4" && $w != "$T6" ]] && ! tail -n +"$((mark + 1))" "$DAEMON_LOG" | grep -q "store-fake-ip"; then
	pass fake_store_off
else
	fail fake_store_off "the kept address still reached '$w' without store-fake-ip"
fi
daemon_finish
t2s_finish
