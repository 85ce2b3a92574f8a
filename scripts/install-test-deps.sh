#!/usr/bin/env bash
# scripts/install-test-deps.sh [--demo]
#
# Installs the Debian packages the tests (default) or only the demo
# (--demo) use: only what is missing, without recommends, and without
# starting the packages' own services on the host. One terminal line per
# step; apt's output goes to the run's log (T2S_LOG, else
# build/logs/install.log).
#
# Environment: T2S_DEPS_EXTRA="pkg ..." adds packages.
set -euo pipefail

T2S_LOG_TAG=deps
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

profile="test"
for arg in "$@"; do
	case $arg in
	--demo) profile=demo ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) t2s_die "unknown argument: $arg" ;;
	esac
done

# package -> a command it provides (checked when dpkg does not know the
# package, e.g. a tool built from source or installed another way).
declare -A PROVIDES=(
	[dante-server]=danted
	[microsocks]=microsocks
	[nginx-light]=nginx
	[curl]=curl
	[iperf3]=iperf3
	[wrk]=wrk
	[proxychains4]=proxychains4
	[iproute2]=ip
	[procps]=ps
	[psmisc]=killall
	[openssl]=openssl
	[python3]=python3
	[golang-go]=go
	[coreutils]=sha256sum
	[tcpdump]=tcpdump
	[ethtool]=ethtool
	[passwd]=useradd
	[valgrind]=valgrind
	[clang-format]=clang-format
	[dnsmasq-base]=dnsmasq
	[bind9-dnsutils]=dig
	[tinyproxy-bin]=tinyproxy
	[stunnel4]=stunnel4
	[chromium]=chromium
	[chromium-driver]=chromedriver
	[dbus-daemon]=dbus-daemon
	[systemd]=busctl
)
# The demo: the servers it starts and the tools it drives them with.
# tinyproxy-bin is tinyproxy without its init script and logrotate (which
# would pull in cron); dnsmasq-base is the binary without the service.
DEMO_PKGS=(dante-server microsocks nginx-light tinyproxy-bin dnsmasq-base
	curl bind9-dnsutils iproute2 procps psmisc coreutils python3)
# The tests add: stunnel4 (TLS in front of tinyproxy), openssl (test
# certificates), iperf3/wrk/proxychains4 (throughput, connection rate and
# the SOCKS-only baseline), tcpdump (T2S_PCAP, captures in test_gso.sh),
# ethtool (a router's link without segmentation offload, test_gso.sh), passwd (users for dante's
# username auth), valgrind (leak checks without an ASan build),
# clang-format (the source stage checks the tree's formatting), stress-ng
# (the stress stage: the timing-sensitive tests on a loaded machine);
# python3-websockets (the control API's streams, test_api.sh), chromium,
# chromium-driver and python3-selenium (the dashboard, test_ui.sh);
# python3-cryptography (QUIC Initial packets for the sniffing tests);
# dbus-daemon and systemd (busctl, and the libraries systemd-resolved
# links) for test_resolved.sh, which runs systemd-resolved extracted
# under build/ (fetch_resolved below), never installed; golang-go (a
# static Go client proxied by `tun2socks run`, test_run.sh).
TEST_PKGS=("${DEMO_PKGS[@]}" stunnel4 openssl iperf3 wrk proxychains4 tcpdump
	ethtool passwd valgrind clang-format stress-ng python3-websockets chromium
	chromium-driver python3-selenium python3-cryptography dbus-daemon systemd golang-go)

[ "$(id -u)" -eq 0 ] || t2s_die "must run as root (installs packages)"
t2s_have_apt || t2s_die "needs apt (Debian or Ubuntu); install by hand: ${TEST_PKGS[*]}"
t2s_log_open "$T2S_ROOT/build/logs/install.log"

if [ "$profile" = demo ]; then pkgs=("${DEMO_PKGS[@]}"); else pkgs=("${TEST_PKGS[@]}"); fi
# shellcheck disable=SC2206
pkgs+=(${T2S_DEPS_EXTRA:-})

# systemd-resolved for test_resolved.sh: its package and the
# libsystemd-shared it was built with, unpacked (dpkg-deb -x) under
# build/test-deps/systemd-resolved and never installed: installing it would
# make it this machine's resolver. The test runs it in a mount namespace of
# its own with a private system bus.
resolved_dir=$T2S_ROOT/build/test-deps/systemd-resolved
fetch_resolved() {
	local debs=$resolved_dir/debs d
	[ -x "$resolved_dir/root/lib/systemd/systemd-resolved" ] && return 0
	t2s_log "systemd-resolved: unpacking it under $resolved_dir (not installed)"
	rm -rf "$debs" "$resolved_dir/root"
	mkdir -p "$debs" "$resolved_dir/root"
	if ! (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download \
		systemd-resolved libsystemd-shared) >>"$T2S_LOG" 2>&1; then
		t2s_logged "apt-get update" apt-get -q update
		(cd "$debs" && apt-get -q -o APT::Sandbox::User=root download \
			systemd-resolved libsystemd-shared) >>"$T2S_LOG" 2>&1 ||
			t2s_die "cannot download systemd-resolved (see $T2S_LOG)"
	fi
	for d in "$debs"/*.deb; do
		dpkg-deb -x "$d" "$resolved_dir/root" || t2s_die "cannot unpack $d"
	done
}

# nscd for test_resolved.sh's cache-flush cases, the same way: unpacked
# under build/test-deps/nscd, never installed (it would cache this
# machine's lookups), run in a mount namespace of the test's own.
nscd_dir=$T2S_ROOT/build/test-deps/nscd
fetch_nscd() {
	local debs=$nscd_dir/debs d
	[ -x "$nscd_dir/root/usr/sbin/nscd" ] && return 0
	t2s_log "nscd: unpacking it under $nscd_dir (not installed)"
	rm -rf "$debs" "$nscd_dir/root"
	mkdir -p "$debs" "$nscd_dir/root"
	if ! (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download nscd) >>"$T2S_LOG" 2>&1; then
		t2s_logged "apt-get update" apt-get -q update
		(cd "$debs" && apt-get -q -o APT::Sandbox::User=root download nscd) >>"$T2S_LOG" 2>&1 ||
			t2s_die "cannot download nscd (see $T2S_LOG)"
	fi
	for d in "$debs"/*.deb; do
		dpkg-deb -x "$d" "$nscd_dir/root" || t2s_die "cannot unpack $d"
	done
}

missing=()
for p in "${pkgs[@]}"; do
	t2s_deb_installed "$p" && continue
	cmd=${PROVIDES[$p]:-}
	[ -n "$cmd" ] && PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 && continue
	missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	t2s_log "$profile servers and tools: all present"
else
	T2S_APT_NO_SERVICES=1 t2s_apt_install "${missing[@]}"
fi
if [ "$profile" = test ]; then fetch_resolved; fetch_nscd; fi
