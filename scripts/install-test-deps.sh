#!/usr/bin/env bash
# Install the Debian packages the integration tests, the demo and the
# benchmark use. Installs only what is missing; runs `apt-get update` once
# first, and only when something has to be installed.
#
#   bash scripts/install-test-deps.sh            # everything
#   T2S_DEPS_EXTRA="valgrind" bash scripts/install-test-deps.sh
set -euo pipefail

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
	[coreutils]=sha256sum
	[tcpdump]=tcpdump
	[passwd]=useradd
	[valgrind]=valgrind
	[dnsmasq-base]=dnsmasq
	[bind9-dnsutils]=dig
	[tinyproxy]=tinyproxy
	[stunnel4]=stunnel4
)
# valgrind: T2S_LEAK_CHECK=1 without an ASan build (build-asan/tun2socks)
# microsocks: a SOCKS5 server without UDP ASSOCIATE (test_udp's refusal case)
# dnsmasq-base: the upstream DNS server (the binary only, no system service)
# tinyproxy, stunnel4: HTTP CONNECT proxy and TLS in front of it
PKGS=(dante-server microsocks nginx-light curl iperf3 wrk proxychains4 iproute2
      procps psmisc openssl python3 coreutils tcpdump passwd valgrind
      dnsmasq-base bind9-dnsutils tinyproxy stunnel4)
# shellcheck disable=SC2206
PKGS+=(${T2S_DEPS_EXTRA:-})

if [[ $(id -u) -ne 0 ]]; then
	echo "install-test-deps: must run as root" >&2
	exit 1
fi

is_installed() {
	local p=$1 st
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] && return 0
	local cmd=${PROVIDES[$p]:-}
	[[ -n $cmd ]] && PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 && return 0
	return 1
}

missing=()
for p in "${PKGS[@]}"; do
	is_installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-test-deps: all present"
	exit 0
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps it small; policy-rc.d stops the packages'
# own services (nginx, danted) from being started on the host.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	made_policy=1
fi
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
((made_policy)) && rm -f "$policy"
exit $rc
