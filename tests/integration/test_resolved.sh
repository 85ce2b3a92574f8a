#!/usr/bin/env bash
# systemd-resolved pointed at the TUN while the daemon runs (issue 11,
# item 4; docs/design.md §13 "The system resolver").
#
#   C (host)                                         S
#   v0 198.19.9.1/30 ---------------------------- v1 198.19.9.2/30
#   systemd-resolved, stub 127.0.0.53              dnsmasq :53, the LAN
#     v0's DNS: 198.19.9.2 (as NetworkManager        resolver: *.example.test
#     would set it)                                  -> 203.0.113.80, TTL 600
#   tun0 (made persistent beforehand, so the        danted :1080
#     link outlives the daemon as one another
#     program made would; resolved forgets a link that goes)
#   tun2socks --auto-route
#
# systemd-resolved is not installed: scripts/install-test-deps.sh unpacks
# its package under build/test-deps/systemd-resolved. It runs in C with a
# system bus of its own (dbus-daemon), in a mount namespace of its own
# (the holder: a process that only sleeps) where /run/systemd and /run/dbus
# are private, /etc/passwd has its user, and /etc/resolv.conf is its stub
# file, as on a machine that uses it. The daemon, resolvectl and busctl
# run in that mount namespace too; nothing outside C changes.
#
#   rs_link_dns               tun0 has the TUN's DNS address, the routing
#                             domain ~., the default route, no LLMNR
#   rs_cache_flushed_on_start resolved's cache held an answer from before;
#                             right after the start it holds none, and
#                             resolved logged a flush
#   rs_stub_query_intercepted with --dns-hijack off (so no port-53 rule
#                             brings it in), a query to resolved's stub gets
#                             a fake address: resolved asked the TUN
#   rs_status_line            `tun2socks status` names resolved's setting
#   rs_sigterm_reverts        after SIGTERM, tun0 has no DNS or domain, the
#                             daemon exits 0
#   rs_cache_flushed_on_stop  ... and resolved flushed its cache again
#   rs_sigkill_restart_recovers after SIGKILL tun0 keeps the DNS settings;
#                             a new start removes them before it reads the
#                             system's servers (so it does not take its own
#                             TUN address for one), and sets them again
#   rs_sigkill_cleanup_reverts after SIGKILL, `tun2socks cleanup` reverts
#                             them and flushes
# Then without systemd-resolved (C's resolv.conf names the LAN resolver):
#   rs_plain_resolv_pointed   while running, resolv.conf names the TUN's
#                             addresses (its search and options lines kept),
#                             so with --dns-hijack off getent gets a fake
#                             address; `status` says so
#   rs_plain_resolv_restored  after SIGTERM it is byte-identical to before
#   rs_plain_resolv_sigkill_cleanup after SIGKILL it still names the TUN;
#                             `tun2socks cleanup` puts it back byte for byte
# And with nscd caching hosts beside that resolv.conf (unpacked under
# build/test-deps/nscd like resolved, run in a mount namespace whose /run
# is private):
#   rs_nscd_flushed_on_start  nscd held the LAN's answer; right after the
#                             start it holds none, and a lookup through it
#                             gets a fake address
#   rs_nscd_flushed_on_stop   after SIGTERM it holds none again: the name
#                             looked up while we ran resolves to its real
#                             address, not the fake one nscd had cached
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="rs_link_dns rs_cache_flushed_on_start rs_stub_query_intercepted rs_status_line
 rs_sigterm_reverts rs_cache_flushed_on_stop rs_sigkill_restart_recovers
 rs_sigkill_cleanup_reverts rs_plain_resolv_pointed rs_plain_resolv_restored
 rs_plain_resolv_sigkill_cleanup rs_nscd_flushed_on_start rs_nscd_flushed_on_stop"
require_tools dig dbus-daemon busctl nsenter unshare danted dnsmasq

RSD=$T2S_ROOT/build/test-deps/systemd-resolved/root
# the libsystemd-shared it was built with, unpacked beside it
RSD_LIB=$(find "$RSD/usr/lib" -name 'libsystemd-shared-*.so' -printf '%h\n' 2>/dev/null | head -1)
STATE=$RUN_DIR/state
HOLDER=
RSD_UID=64991 # systemd-resolve's uid inside the holder's /etc/passwd

[[ -x $RSD/lib/systemd/systemd-resolved ]] ||
	fail_all "$NAMES" "no systemd-resolved under $RSD: run scripts/install-test-deps.sh"
require_daemon || fail_all "$NAMES" "daemon binary $(daemon_bin) missing"

# hx CMD...: in C's network namespace and the holder's mount namespace
# (ip netns exec and nsenter exec: `HX CMD &`, not `hx CMD &` (a subshell),
# makes $! CMD itself).
hx() { ip netns exec "$NS_C" nsenter --mount="/proc/$HOLDER/ns/mnt" -- "$@"; }
HX=() IN_C=()
# resolved's own tools, from the unpacked package
rctl() { hx env LD_LIBRARY_PATH="$RSD_LIB" "$RSD/usr/bin/resolvectl" "$@" 2>&1; }

# cache_size: the entries in resolved's cache now (CacheStatistics' first).
cache_size() {
	hx busctl get-property org.freedesktop.resolve1 /org/freedesktop/resolve1 \
		org.freedesktop.resolve1.Manager CacheStatistics 2>/dev/null | awk '{print $2}'
}
# flushes: how many times resolved has flushed its caches so far
flushes() { grep -c 'Flushed all caches' "$RUN_DIR/resolved.log" 2>/dev/null; }
# stub_a NAME: the A answer resolved's stub gives (first line)
stub_a() { cx dig +time=3 +tries=1 +short @127.0.0.53 "$1" A 2>/dev/null | head -1; }
# rs_kill9: SIGKILL, as a crash would
rs_kill9() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}
is_fake() { [[ $1 == 198.18.* || $1 == 198.19.* ]]; }

# rs_on_bus: org.freedesktop.resolve1 has an owner on C's bus
rs_on_bus() {
	hx busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		NameHasOwner s org.freedesktop.resolve1 2>&1 | grep -q '^b true'
}

# ---- C's machine: the holder, the bus, resolved --------------------------------------
rs_machine() {
	mkdir -p "$RUN_DIR/etc-systemd"
	cp /etc/passwd "$RUN_DIR/passwd"
	cp /etc/group "$RUN_DIR/group"
	echo "systemd-resolve:x:$RSD_UID:$RSD_UID::/:/usr/sbin/nologin" >>"$RUN_DIR/passwd"
	echo "systemd-resolve:x:$RSD_UID:" >>"$RUN_DIR/group"
	# no compiled-in public fallback servers, no multicast chatter
	printf '[Resolve]\nFallbackDNS=\nLLMNR=no\nMulticastDNS=no\n' \
		>"$RUN_DIR/etc-systemd/resolved.conf"
	# until resolved writes its stub file: one that names only the stub
	printf 'nameserver 127.0.0.53\n' >"$RUN_DIR/resolv.conf"
	cat >"$RUN_DIR/bus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
EOF
	# ip netns exec and unshare exec: $! is the holder itself
	# shellcheck disable=SC2016 # $1 is the inner shell's
	ip netns exec "$NS_C" unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs /run/systemd && mount -t tmpfs tmpfs /run/dbus &&
		mkdir -p /run/systemd/resolve && chown '"$RSD_UID:$RSD_UID"' /run/systemd/resolve &&
		mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
		mount --bind "$1/etc-systemd" /etc/systemd &&
		mount --bind "$1/resolv.conf" /etc/resolv.conf && touch "$1/holder.ready" &&
		exec sleep 100000' holder "$RUN_DIR" >"$RUN_DIR/holder.log" 2>&1 &
	HOLDER=$!
	SRV_PID[holder]=$HOLDER
	HX=(ip netns exec "$NS_C" nsenter --mount="/proc/$HOLDER/ns/mnt" --)
	IN_C=("${HX[@]}")
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -e $RUN_DIR/holder.ready ]] && break
		kill -0 "$HOLDER" 2>/dev/null || break
		sleep 0.05
	done
	[[ -e $RUN_DIR/holder.ready ]] || { dump_file holder "$RUN_DIR/holder.log"; return 1; }
	"${HX[@]}" dbus-daemon --config-file="$RUN_DIR/bus.conf" --nofork --nopidfile \
		>"$RUN_DIR/dbus.log" 2>&1 &
	SRV_PID[dbus]=$!
	for ((i = 0; i < 100; i++)); do
		hx busctl list >/dev/null 2>&1 && break
		sleep 0.05
	done
	"${HX[@]}" env LD_LIBRARY_PATH="$RSD_LIB" SYSTEMD_LOG_LEVEL=debug \
		"$RSD/lib/systemd/systemd-resolved" \
		>"$RUN_DIR/resolved.log" 2>&1 &
	SRV_PID[resolved]=$!
	for ((i = 0; i < 300; i++)); do
		hx test -s /run/systemd/resolve/stub-resolv.conf && rs_on_bus && break
		kill -0 "${SRV_PID[resolved]}" 2>/dev/null || break
		sleep 0.1
	done
	if ! rs_on_bus; then
		log "org.freedesktop.resolve1 is not on C's bus"
		dump_file resolved "$RUN_DIR/resolved.log"
		return 1
	fi
	# /etc/resolv.conf is now resolved's stub file, as its package links it
	hx mount --bind /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf ||
		{ log "cannot bind resolved's stub file onto /etc/resolv.conf"; return 1; }
	# v0's DNS server, as a network manager gives it to resolved
	rctl dns v0 "$S_IP" >&2 || { log "resolvectl dns v0 failed"; return 1; }
	log "systemd-resolved pid ${SRV_PID[resolved]} on C's private bus (holder $HOLDER)"
}

# The LAN resolver on S: TTL 600 so that resolved caches its answers.
rs_dnsmasq() {
	cat >"$RUN_DIR/dnsmasq.conf" <<EOF
no-resolv
no-hosts
user=root
listen-address=$S_IP
bind-interfaces
local-ttl=600
address=/example.test/$T4
log-queries
log-facility=$RUN_DIR/dnsmasq.log
EOF
	ip netns exec "$NS_S" dnsmasq -k -C "$RUN_DIR/dnsmasq.conf" >"$RUN_DIR/dnsmasq.stdout" 2>&1 &
	SRV_PID[dnsmasq]=$!
	wait_listen "$NS_S" udp "$S_IP" 53 10 "${SRV_PID[dnsmasq]}"
}

# rs_start [args]: the daemon in C (by IN_C: in the holder's mounts, or
# C's own) with --auto-route; waits until it serves.
rs_start() {
	local i from cmd
	DAEMON_WRAP=none
	cmd=("$(daemon_bin)" --proxy "socks5://$S_IP:$SOCKS_PORT" --tun "$TUN"
		--tun-addr "$TUN_ADDR" --tun-addr6 "$TUN_ADDR6" --auto-route --state-dir "$STATE"
		--log-level "${T2S_LOG_LEVEL:-info}" "$@")
	if [[ ${T2S_LEAK_CHECK:-0} == 1 ]]; then
		if is_asan_bin "${cmd[0]}"; then
			DAEMON_WRAP=asan
			cmd=(env "ASAN_OPTIONS=detect_leaks=1:exitcode=97:abort_on_error=0"
				"LSAN_OPTIONS=exitcode=97" "${cmd[@]}")
		else
			DAEMON_WRAP=valgrind
			cmd=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
				--errors-for-leak-kinds=definite,indirect --error-exitcode=97
				--log-file="$RUN_DIR/valgrind.%p.log" "${cmd[@]}")
		fi
	fi
	env --default-signal=INT true 2>/dev/null && cmd=(env --default-signal=INT,QUIT "${cmd[@]}")
	DAEMON_RUNS=$((DAEMON_RUNS + 1))
	echo "=== daemon #$DAEMON_RUNS" >>"$DAEMON_LOG"
	from=$(wc -l <"$DAEMON_LOG")
	log "daemon #$DAEMON_RUNS: ${cmd[*]}"
	DAEMON_RC=
	"${IN_C[@]}" "${cmd[@]}" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	for ((i = 0; i < 200 * SLOW; i++)); do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID"
			DAEMON_RC=$?
			DAEMON_PID=
			log "daemon exited early with $DAEMON_RC"
			return 1
		fi
		tail -n +"$((from + 1))" "$DAEMON_LOG" | grep -q 'info  tun2socks .*: TUN' && return 0
		sleep 0.05
	done
	log "daemon not up after $((10 * SLOW)) s"
	return 1
}

topo_up
start_dante none || fail_all "$NAMES" "danted did not start"
rs_dnsmasq || fail_all "$NAMES" "dnsmasq did not start"
rs_machine || fail_all "$NAMES" "systemd-resolved did not start in C"
ip -n "$NS_C" tuntap add dev "$TUN" mode tun vnet_hdr || fail_all "$NAMES" "cannot make $TUN"

# ---- daemon #1: start, run, SIGTERM ---------------------------------------------------------
before=$(stub_a cached.example.test)
size0=$(cache_size)
log "before the start: cached.example.test -> $before; resolved caches $size0 entries"
[[ $before == "$T4" && ${size0:-0} -ge 1 ]] ||
	fail_all "$NAMES" "resolved did not answer and cache from the LAN resolver ($before, $size0)"

if ! rs_start --dns-hijack off --fake-ip-filter real.example.test; then
	fail_all "$NAMES" "daemon did not come up (exit ${DAEMON_RC:-?})"
fi
size1=$(cache_size)
flush1=$(flushes)

dns=$(rctl dns "$TUN")
dom=$(rctl domain "$TUN")
dr=$(rctl default-route "$TUN")
ll=$(rctl llmnr "$TUN")
log "tun0: dns '$dns'; domain '$dom'; default-route '$dr'; llmnr '$ll'"
[[ $dns == *" 198.18.0.2"* && $dns == *"fdfe:dcba:9876::2"* && $dom == *": ~." && $dr == *": yes" &&
	$ll == *": no" ]]
check rs_link_dns $? "resolvectl: dns '$dns', domain '$dom', default-route '$dr', llmnr '$ll'"

[[ ${size1:-1} -eq 0 && ${flush1:-0} -ge 1 ]] && grep -q 'its cache flushed' "$DAEMON_LOG"
check rs_cache_flushed_on_start $? "cache entries after the start: ${size1:-?} (before: $size0); flushes logged: $flush1"

a=$(stub_a new.example.test)
is_fake "$a"
check rs_stub_query_intercepted $? "resolved's stub answered new.example.test with '$a', not a fake address"

st=$(hx "$(daemon_bin)" status --state-dir "$STATE" 2>&1)
[[ $st == *"systemd-resolved: every name (~.) sent to the TUN"* ]]
check rs_status_line $? "status: $st"

# a real answer (filtered name) through the TUN, cached by resolved
real=$(stub_a real.example.test)
log "real.example.test -> $real through the TUN; cache $(cache_size)"
flush_before=$(flushes)
during=$(rctl dns "$TUN")
daemon_stop
rc=$DAEMON_RC
dns=$(rctl dns "$TUN")
dom=$(rctl domain "$TUN")
[[ $rc -eq 0 && $during == *198.18.0.2* && $dns != *198.18.0.2* && $dom != *"~."* ]]
check rs_sigterm_reverts $? "exit $rc; before SIGTERM dns '$during'; after: dns '$dns', domain '$dom'"
size2=$(cache_size)
[[ $(flushes) -gt $flush_before && ${size2:-1} -eq 0 ]]
check rs_cache_flushed_on_stop $? "flushes $flush_before -> $(flushes); cache entries ${size2:-?}"

# ---- daemons #2 and #3: SIGKILL, a new start; SIGKILL, cleanup -------------------------------
if rs_start; then
	rs_kill9
	left=$(rctl dns "$TUN")
	if rs_start; then
		dns=$(rctl dns "$TUN")
		grep -q 'DNS is forwarded to 198.19.9.2 (the system' <(tail -n 30 "$DAEMON_LOG")
		fwd=$?
		[[ $left == *198.18.0.2* && $dns == *198.18.0.2* && $fwd -eq 0 ]]
		check rs_sigkill_restart_recovers $? "left '$left'; after the new start: dns '$dns'; upstream: $(grep 'DNS is forwarded' "$DAEMON_LOG" | tail -1)"
	else
		fail rs_sigkill_restart_recovers "the start after SIGKILL failed (exit ${DAEMON_RC:-?}); left '$left'"
		rs_start
	fi
fi
if [[ -n $DAEMON_PID ]]; then
	rs_kill9
	left=$(rctl dns "$TUN")
	flush_before=$(flushes)
	out=$(hx "$(daemon_bin)" cleanup --state-dir "$STATE" 2>&1)
	log "cleanup: $out"
	dns=$(rctl dns "$TUN")
	dom=$(rctl domain "$TUN")
	[[ $left == *198.18.0.2* && $dns != *198.18.0.2* && $dom != *"~."* &&
		$(flushes) -gt $flush_before && ! -e $STATE/$TUN.state ]]
	check rs_sigkill_cleanup_reverts $? "left '$left'; after cleanup: dns '$dns', domain '$dom', flushes $flush_before -> $(flushes); cleanup: $out"
else
	fail rs_sigkill_cleanup_reverts "no daemon to kill (exit ${DAEMON_RC:-?})"
fi

# ---- without systemd-resolved: /etc/resolv.conf ----------------------------------------
# C's own mounts (no holder): ip netns exec binds /etc/netns/C/resolv.conf
# over /etc/resolv.conf, a LAN resolver's file as DHCP would write it.
IN_C=(ip netns exec "$NS_C")
mkdir -p "/etc/netns/$NS_C"
printf '# from DHCP\nnameserver %s\nsearch lan\noptions timeout:2 attempts:2\n' "$S_IP" \
	>"/etc/netns/$NS_C/resolv.conf"
cp "/etc/netns/$NS_C/resolv.conf" "$RUN_DIR/resolv.orig"
RC=/etc/netns/$NS_C/resolv.conf
if rs_start --dns-hijack off; then
	a=$(cx getent ahostsv4 plain.example.test 2>/dev/null | awk 'NR == 1 {print $1}')
	st=$(cx "$(daemon_bin)" status --state-dir "$STATE" 2>&1)
	log "resolv.conf while running: $(tr '\n' '|' <"$RC"); plain.example.test -> $a"
	[[ $(head -1 "$RC") == "# tun2socks auto-route:"* ]] && grep -qx 'nameserver 198.18.0.2' "$RC" &&
		grep -qx 'nameserver fdfe:dcba:9876::2' "$RC" && grep -qx 'search lan' "$RC" &&
		! grep -q "$S_IP" "$RC" && is_fake "$a" && [[ $st == *"/etc/resolv.conf names the TUN"* ]]
	check rs_plain_resolv_pointed $? "resolv.conf '$(tr '\n' '|' <"$RC")'; getent: '$a'; status: $st"
	during=$(head -1 "$RC")
	daemon_stop
	rc=$DAEMON_RC
	cmp -s "$RC" "$RUN_DIR/resolv.orig" &&
		[[ $rc -eq 0 && $during == "# tun2socks auto-route:"* && ! -e $STATE/$TUN.resolv.conf ]]
	check rs_plain_resolv_restored $? "exit $rc; before SIGTERM '$during'; after: '$(tr '\n' '|' <"$RC")'"
else
	fail rs_plain_resolv_pointed "daemon did not come up (exit ${DAEMON_RC:-?})"
	fail rs_plain_resolv_restored "daemon did not come up" nodump
fi
if rs_start; then
	rs_kill9
	left=$(head -1 "$RC")
	out=$(cx "$(daemon_bin)" cleanup --state-dir "$STATE" 2>&1)
	[[ $left == "# tun2socks auto-route:"* ]] && cmp -s "$RC" "$RUN_DIR/resolv.orig" &&
		[[ ! -e $STATE/$TUN.resolv.conf ]]
	check rs_plain_resolv_sigkill_cleanup $? "left '$left'; after cleanup: '$(tr '\n' '|' <"$RC")'; cleanup: $out"
else
	fail rs_plain_resolv_sigkill_cleanup "daemon did not come up (exit ${DAEMON_RC:-?})"
fi

# ---- nscd beside the plain resolv.conf ------------------------------------------------
NSCD=$T2S_ROOT/build/test-deps/nscd/root/usr/sbin/nscd
# nscd_cached: the hosts entries nscd holds now
nscd_cached() {
	"${IN_C[@]}" "$NSCD" -f "$RUN_DIR/nscd.conf" -g 2>/dev/null |
		awk '/^hosts cache:/ {h = 1} h && /current number of cached values/ {print $1; exit}'
}
nscd_a() { "${IN_C[@]}" getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 {print $1}'; }
# nscd_up: nscd running in a mount namespace whose /run is private (its
# socket is /var/run/nscd/socket); IN_C then runs there.
nscd_up() {
	local i
	[[ -x $NSCD ]] || { NSCD_WHY="no nscd under $NSCD: run scripts/install-test-deps.sh"; return 1; }
	printf '\tenable-cache %s no\n' passwd group services netgroup >"$RUN_DIR/nscd.conf"
	printf '\tenable-cache hosts yes\n\tpositive-time-to-live hosts 3600\n' >>"$RUN_DIR/nscd.conf"
	printf '\tnegative-time-to-live hosts 5\n\tcheck-files hosts no\n' >>"$RUN_DIR/nscd.conf"
	printf '\tpersistent hosts no\n\tshared hosts no\n' >>"$RUN_DIR/nscd.conf"
	# shellcheck disable=SC2016 # $1 is the inner shell's
	ip netns exec "$NS_C" unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs /run && mkdir -p /run/nscd && touch "$1/nholder.ready" &&
		exec sleep 100000' nholder "$RUN_DIR" >"$RUN_DIR/nholder.log" 2>&1 &
	SRV_PID[nholder]=$!
	for ((i = 0; i < 100; i++)); do
		[[ -e $RUN_DIR/nholder.ready ]] && break
		sleep 0.05
	done
	IN_C=(ip netns exec "$NS_C" nsenter --mount="/proc/${SRV_PID[nholder]}/ns/mnt" --)
	"${IN_C[@]}" "$NSCD" -F -f "$RUN_DIR/nscd.conf" >"$RUN_DIR/nscd.log" 2>&1 &
	SRV_PID[nscd]=$!
	for ((i = 0; i < 100; i++)); do
		[[ -n $(nscd_cached) ]] && return 0
		sleep 0.1
	done
	NSCD_WHY="nscd did not answer: $(tr '\n' ' ' <"$RUN_DIR/nscd.log")"
	return 1
}
NSCD_WHY=
if ! nscd_up; then
	fail rs_nscd_flushed_on_start "$NSCD_WHY"
	fail rs_nscd_flushed_on_stop "$NSCD_WHY" nodump
else
	before=$(nscd_a cached.example.test)
	n0=$(nscd_cached)
	log "nscd: cached.example.test -> $before; $n0 cached"
	if [[ $before != "$T4" || ${n0:-0} -lt 1 ]]; then
		fail rs_nscd_flushed_on_start "nscd did not answer and cache from the LAN resolver ($before, ${n0:-?})"
		fail rs_nscd_flushed_on_stop "no nscd cache to flush" nodump
	elif rs_start --dns-hijack off; then
		n1=$(nscd_cached)
		during=$(nscd_a during.example.test)
		grep -q "nscd's hosts cache flushed at the start" "$DAEMON_LOG" && [[ ${n1:-1} -eq 0 ]] &&
			is_fake "$during"
		check rs_nscd_flushed_on_start $? "cached after the start: ${n1:-?} (before: $n0); during.example.test -> '$during'"
		daemon_stop
		n2=$(nscd_cached)
		after=$(nscd_a during.example.test)
		grep -q "nscd's hosts cache flushed at the stop" "$DAEMON_LOG" &&
			[[ ${n2:-1} -eq 0 && $after == "$T4" ]]
		check rs_nscd_flushed_on_stop $? "cached after the stop: ${n2:-?}; during.example.test -> '$after' (want $T4, not the fake '$during')"
	else
		fail rs_nscd_flushed_on_start "daemon did not come up (exit ${DAEMON_RC:-?})"
		fail rs_nscd_flushed_on_stop "daemon did not come up" nodump
	fi
fi

ip -n "$NS_C" tuntap del dev "$TUN" mode tun 2>/dev/null
t2s_finish
