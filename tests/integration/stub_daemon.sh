#!/usr/bin/env bash
# A stand-in for tun2socks, for debugging the harness itself (not a test):
# takes the daemon's CLI, creates the TUN with its addresses, and sends
# every IPv4 TCP connection routed into it to the SOCKS5 server through
# redsocks + an iptables REDIRECT. IPv4 TCP only; no --connect-timeout.
# Needs: apt-get install redsocks iptables.
#
#   T2S_BIN=tests/integration/stub_daemon.sh bash tests/integration/run.sh
#
# Runs inside the client namespace (the harness starts it there).
set -uo pipefail
PATH=$PATH:/usr/sbin:/sbin
proxy='' tun=tun0 addr='' addr6=''
while (($#)); do
	case $1 in
	--proxy) proxy=$2; shift ;;
	--tun) tun=$2; shift ;;
	--tun-addr) addr=$2; shift ;;
	--tun-addr6) addr6=$2; shift ;;
	--*) [[ $# -gt 1 && $2 != --* ]] && shift ;;
	esac
	shift
done
[[ $proxy =~ ^socks5://(([^:@]*):([^@]*)@)?([^:/]+):([0-9]+)/?$ ]] || { echo "stub: bad --proxy $proxy" >&2; exit 2; }
user=${BASH_REMATCH[2]} pass=${BASH_REMATCH[3]} host=${BASH_REMATCH[4]} port=${BASH_REMATCH[5]}

dir=$(mktemp -d /tmp/t2s-stub.XXXXXX)
cat >"$dir/redsocks.conf" <<EOF
base { log_debug = off; log_info = on; log = stderr; daemon = off; redirector = iptables; }
redsocks {
  local_ip = 127.0.0.1; local_port = 12345;
  ip = $host; port = $port; type = socks5;
  ${user:+login = "$user"; password = "$pass";}
}
EOF
rs=
bye() {
	[[ -n $rs ]] && kill "$rs" 2>/dev/null && wait "$rs" 2>/dev/null
	iptables -t nat -D OUTPUT -p tcp -o "$tun" -j REDIRECT --to-ports 12345 2>/dev/null
	ip link del "$tun" 2>/dev/null
	rm -rf "$dir"
	echo "stub: bye" >&2
	exit 0
}
trap bye TERM INT
ip tuntap add dev "$tun" mode tun || exit 1
[[ -n $addr ]] && ip addr add "$addr" dev "$tun"
[[ -n $addr6 ]] && ip -6 addr add "$addr6" dev "$tun" nodad
ip link set "$tun" up
iptables -t nat -A OUTPUT -p tcp -o "$tun" -j REDIRECT --to-ports 12345 || bye
redsocks -c "$dir/redsocks.conf" &
rs=$!
echo "stub: $tun up, redsocks $rs -> $host:$port" >&2
while kill -0 "$rs" 2>/dev/null; do sleep 0.2; done
echo "stub: redsocks died" >&2
rs=
bye
