#!/usr/bin/env bash
# --tun-fd on a descriptor that is no TUN (issue 14, item 6): a clear
# error and exit 1, never a crash. The daemon runs in C (no network is
# needed: nothing gets that far).
#
#   tun_fd_devnull      --proxy ... --tun-fd 7 7</dev/null: epoll refuses
#                       /dev/null; it used to be SIGSEGV (uv_poll_start on
#                       a handle whose uv_poll_init had failed)
#   tun_fd_devnull_conf the same with -c FILE, the issue's command line
#   tun_fd_file         a regular file: refused the same way
#   tun_fd_closed       a descriptor that is not open: "Bad file descriptor"
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="tun_fd_devnull tun_fd_devnull_conf tun_fd_file tun_fd_closed"
require_daemon || fail_all "$NAMES" "daemon binary $(daemon_bin) missing"
topo_up
BIN=$(daemon_bin)
CONF=$RUN_DIR/conf.yaml
printf 'rules:\n  - MATCH,DIRECT\n' >"$CONF"

# run_fd NAME WANT FD-SETUP ARGS...: runs the daemon (5 s at most) with the
# descriptor set up by FD-SETUP (a redirection for fd 7, or "none"); passes
# NAME when it exits 1 with WANT in its log and no crash.
run_fd() {
	local name=$1 want=$2 setup=$3 out=$RUN_DIR/$1.log rc
	shift 3
	case $setup in
	devnull) cx timeout -s KILL 5 "$BIN" "$@" 7</dev/null >"$out" 2>&1 ;;
	file) cx timeout -s KILL 5 "$BIN" "$@" 7<"$CONF" >"$out" 2>&1 ;;
	none) cx timeout -s KILL 5 "$BIN" "$@" >"$out" 2>&1 ;;
	esac
	rc=$?
	cat "$out" >>"$DAEMON_LOG"
	if ((rc == 1)) && grep -qF -- "$want" "$out"; then
		pass "$name"
	else
		fail "$name" "exit $rc (want 1; 139 = SIGSEGV), log: $(tail -n 2 "$out" | tr '\n' ' ')"
	fi
}

P=(--proxy "socks5://$S_IP:$SOCKS_PORT" --no-proxy-check)
run_fd tun_fd_devnull "--tun-fd 7: cannot watch it for packets" devnull "${P[@]}" --tun-fd 7
run_fd tun_fd_devnull_conf "--tun-fd 7: cannot watch it for packets" devnull -c "$CONF" --tun-fd 7
run_fd tun_fd_file "--tun-fd 7: cannot watch it for packets" file "${P[@]}" --tun-fd 7
run_fd tun_fd_closed "--tun-fd 9: " none "${P[@]}" --tun-fd 9
t2s_finish
