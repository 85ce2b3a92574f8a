#!/usr/bin/env bash
# GSO on the way out (docs/design.md §15): at MTU 1500 the daemon writes
# runs of one flow's TCP segments into the TUN as one virtio-net GSO
# super-packet, which the kernel delivers whole (or splits when forwarding).
# Observable from outside the daemon: a capture on the TUN (tcpdump,
# packets the kernel received from us) sees TCP packets longer than the
# MTU. lwIP sizes its segments to the MTU, so only a super-packet can be
# longer. The daemon's stop line counts the same writes.
#
#   gso_v4_64m           64 MiB over IPv4 at MTU 1500, sha256 intact, frames
#                        above the MTU on the TUN, GSO writes counted
#   gso_v6_64m           the same over IPv6
#   gso_fallback_tun_fd  --tun-fd of a TUN opened without IFF_VNET_HDR: the
#                        same IPv4 and IPv6 downloads intact, written one
#                        packet at a time (no frame above the MTU, no GSO
#                        write counted)
#   gso_forwarded_64m    C as a router: a host G behind it (veth, MTU 1500,
#                        no offload on C's side) downloads over IPv4 and
#                        IPv6 through the TUN; lwIP's segments of many MSS
#                        (TSO, §15) leave C cut to the wire: no packet
#                        above 1500 bytes reaches G, sha256 intact
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="gso_v4_64m gso_v6_64m gso_fallback_tun_fd gso_forwarded_64m"
NS_G=t2si-g-$T2S_ID
gso_cleanup() {
	local p
	t2s_cleanup
	if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS_G"; then
		for p in $(ip netns pids "$NS_G" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS_G" 2>/dev/null
	fi
}
trap gso_cleanup EXIT
trap 'T2S_CLEANED=0; gso_cleanup; exit 130' INT
trap 'T2S_CLEANED=0; gso_cleanup; exit 143' TERM
gx() { ip netns exec "$NS_G" "$@"; }
require_tools tcpdump ethtool
setup_servers "$NAMES" none
MTU=1500
REAL_BIN=$(daemon_bin)

# cap_start: tcpdump in C. By default on the TUN, packets the kernel
# received from us: those above the MTU, and the small ones (handshake,
# FIN) that show the capture saw the flow at all. CAP_DEV, CAP_DIR and
# CAP_FILTER in the call's environment capture elsewhere.
cap_start() {
	CAP_OUT=$RUN_DIR/cap.$RANDOM
	cx timeout 150 tcpdump -i "${CAP_DEV:-$TUN}" -Q "${CAP_DIR:-in}" -nn -q -l \
		"${CAP_FILTER:-greater $((MTU + 1)) or less 100}" >"$CAP_OUT" 2>"$CAP_OUT.err" &
	CAP_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$CAP_OUT.err" 2>/dev/null && return 0
		sleep 0.05
	done
	log "tcpdump did not start: $(head -c 300 "$CAP_OUT.err")"
	return 1
}

# cap_stop: stops tcpdump; CAP_BIG = TCP packets above the MTU it saw
# ("-q" prints the TCP payload: 40 or 60 header bytes on top, lwIP sends no
# options), CAP_SMALL = the others, CAP_FULL = those of exactly the MTU.
cap_stop() {
	sleep 0.3
	# TERM: a background job of a script starts with SIGINT ignored.
	pkill -TERM -P "$CAP_PID" tcpdump 2>/dev/null
	kill -TERM "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	read -r CAP_BIG CAP_SMALL CAP_FULL < <(awk -v mtu="$MTU" '
		/ tcp [0-9]+$/ { n = $NF + ($2 == "IP6" ? 60 : 40); if (n > mtu) big++; else small++; if (n == mtu) full++ }
		END { print big + 0, small + 0, full + 0 }' "$CAP_OUT")
	log "capture on ${CAP_DEV:-$TUN}: $CAP_BIG TCP packets above MTU $MTU, $CAP_SMALL within ($CAP_FULL of exactly $MTU); e.g. $(grep -m1 -E 'tcp [0-9]{4,}' "$CAP_OUT")"
}

# gso_counts: "writes gso_writes gso_segs" from the daemon's last stop line.
gso_counts() {
	grep -E 'info +tun: [0-9]+ packets out' "$DAEMON_LOG" | tail -n 1 |
		sed -E 's/.* in ([0-9]+) writes, ([0-9]+) of them GSO carrying ([0-9]+) segments.*/\1 \2 \3/'
}

# download URL CURL-ARGS...: 64 MiB, sha256 checked, under a capture
# (cap_start's variables apply; FETCH_RUN=gx fetches from G). Sets DL_OK
# (1/0) and DL_WHY.
download() {
	local url=$1
	shift
	DL_OK=0
	DL_WHY=
	cap_start || { DL_WHY="no capture"; return; }
	if fetch_check "$url" "$SHA_64M" "$@"; then
		DL_OK=1
	else
		DL_WHY="$FETCH_ERR$(alive_note)"
	fi
	cap_stop
}

start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" --mtu "$MTU"
download "http://$T4/64m"
v4_ok=$DL_OK v4_why=$DL_WHY v4_big=$CAP_BIG
download "http://[$T6]/64m" -g
v6_ok=$DL_OK v6_why=$DL_WHY v6_big=$CAP_BIG
daemon_finish
read -r writes gso segs <<<"$(gso_counts)"
log "daemon: ${writes:-?} writes, ${gso:-?} GSO carrying ${segs:-?} segments"
for v in v4 v6; do
	ok=${v}_ok why=${v}_why big=${v}_big
	if ((!${!ok})); then
		fail "gso_${v}_64m" "${!why}"
	elif ((${!big} < 1)); then
		fail "gso_${v}_64m" "data intact but no packet above MTU $MTU reached the TUN"
	elif ((${gso:-0} < 1 || ${segs:-0} < 2 * ${gso:-0})); then
		fail "gso_${v}_64m" "daemon counted ${gso:-?} GSO writes carrying ${segs:-?} segments"
	else
		pass "gso_${v}_64m"
	fi
done

# The fallback: the daemon gets a TUN opened without IFF_VNET_HDR (the
# wrapper opens and configures it as tun0, then execs the daemon on it).
T2S_REAL_BIN=$REAL_BIN T2S_BIN=$T2S_ITEST/tun_fd_exec.py \
	daemon_start "socks5://$S_IP:$SOCKS_PORT" --mtu "$MTU" ||
	fail_all gso_fallback_tun_fd "daemon on --tun-fd did not come up (exit ${DAEMON_RC:-?})"
download "http://$T4/64m"
f4_ok=$DL_OK f4_why=$DL_WHY f4_big=$CAP_BIG f4_small=$CAP_SMALL
download "http://[$T6]/64m" -g
f6_ok=$DL_OK f6_why=$DL_WHY f6_big=$CAP_BIG f6_small=$CAP_SMALL
daemon_finish
read -r writes gso segs <<<"$(gso_counts)"
log "daemon on --tun-fd: ${writes:-?} writes, ${gso:-?} GSO"
if ((!f4_ok || !f6_ok)); then
	fail gso_fallback_tun_fd "v4: ${f4_why:-ok}; v6: ${f6_why:-ok}"
elif ((f4_small < 1 || f6_small < 1)); then
	fail gso_fallback_tun_fd "the capture on the TUN saw no packet of the flows"
elif ((f4_big + f6_big > 0)); then
	fail gso_fallback_tun_fd "$((f4_big + f6_big)) packets above MTU $MTU without IFF_VNET_HDR"
elif [[ ${gso:-x} != 0 ]] || ((${writes:-0} < 1000)); then
	fail gso_fallback_tun_fd "stop line: ${writes:-?} writes, ${gso:-?} GSO (want 0 GSO)"
elif ! grep -q "tun_fd_exec: .* opened without IFF_VNET_HDR" "$DAEMON_LOG"; then
	fail gso_fallback_tun_fd "the daemon did not run on --tun-fd"
else
	pass gso_fallback_tun_fd
fi

# The router case: G's packets are forwarded by C into the TUN, and the
# daemon's answers out of it to G. G's MSS (1460) is the TUN's wire MSS, so
# lwIP sends segments of 44 x 1460; the GSO write gives the kernel
# gso_size 1460, and C, which must forward them over a link without
# segmentation offload (ethtool -K: no TSO, no GSO), cuts them in software.
# (gso_max_segs would not do: a GSO packet from a TUN counts no segments
# until it is cut, so the kernel's check of that limit never fires.)
fwd_up() {
	ip netns add "$NS_G" || return 1
	ip -n "$NS_G" link set lo up
	ip -n "$NS_C" link add l0 type veth peer name l1 netns "$NS_G" || return 1
	cx ethtool -K l0 tso off gso off >/dev/null 2>&1 || return 1
	ip -n "$NS_C" addr add 10.99.0.1/30 dev l0
	ip -n "$NS_C" addr add fd99::1/64 dev l0 nodad
	ip -n "$NS_G" addr add 10.99.0.2/30 dev l1
	ip -n "$NS_G" addr add fd99::2/64 dev l1 nodad
	ip -n "$NS_C" link set l0 up
	ip -n "$NS_G" link set l1 up
	ip -n "$NS_G" route add default via 10.99.0.1
	ip -n "$NS_G" -6 route add default via fd99::1
	cx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

if ! fwd_up; then
	fail gso_forwarded_64m "could not build the router topology"
else
	start_or_fail gso_forwarded_64m "socks5://$S_IP:$SOCKS_PORT" --mtu "$MTU"
	# What C sends on the link, after the cut (G's side could show GRO's
	# merges); the link's MTU is the TUN's.
	CAP_DEV=l0 CAP_DIR=out CAP_FILTER=tcp FETCH_RUN=gx download "http://$T4/64m"
	w4_ok=$DL_OK w4_why=$DL_WHY w4_big=$CAP_BIG w4_full=$CAP_FULL
	CAP_DEV=l0 CAP_DIR=out CAP_FILTER=tcp FETCH_RUN=gx download "http://[$T6]/64m" -g
	w6_ok=$DL_OK w6_why=$DL_WHY w6_big=$CAP_BIG w6_full=$CAP_FULL
	daemon_finish
	read -r writes gso segs <<<"$(gso_counts)"
	log "daemon (router case): ${writes:-?} writes, ${gso:-?} GSO carrying ${segs:-?} segments"
	if ((!w4_ok || !w6_ok)); then
		fail gso_forwarded_64m "v4: ${w4_why:-ok}; v6: ${w6_why:-ok}"
	elif ((w4_big + w6_big > 0)); then
		fail gso_forwarded_64m "C sent G $w4_big (v4) and $w6_big (v6) packets above MTU $MTU"
	elif ((w4_full < 1000 || w6_full < 1000)); then
		fail gso_forwarded_64m "C sent G only $w4_full (v4) and $w6_full (v6) full-sized segments"
	elif ((${gso:-0} < 1)); then
		fail gso_forwarded_64m "no GSO write counted (${writes:-?} writes)"
	else
		pass gso_forwarded_64m
	fi
fi
t2s_finish
