#!/usr/bin/env bash
# A guided tour of tun2socks in a throw-away sandbox (needs root):
# builds the daemon if needed, installs the test servers, creates two network
# namespaces (a client and a server), starts dante-server and microsocks
# (SOCKS5), tinyproxy (HTTP CONNECT), dnsmasq and nginx in the server one,
# runs tun2socks with a Clash-style config in the client one, and shows the
# rules at work: names answered with fake addresses, each name sent to the
# upstream its rule names (two SOCKS proxies, an HTTP proxy, DIRECT, a
# developer redirect, REJECT), and what the daemon logged. Everything is
# torn down at the end, also on Ctrl-C or failure.
#
#   bash scripts/demo.sh [--no-build] [--no-deps] [--keep]    (as root)
#
# Nothing leaves the machine: every address used exists only inside the two
# namespaces the demo creates.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DO_BUILD=1 DO_DEPS=1
for a in "$@"; do
	case $a in
	--no-build) DO_BUILD=0 ;;
	--no-deps) DO_DEPS=0 ;;
	--keep) export T2S_KEEP=1 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "unknown option $a" >&2; exit 2 ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

if [[ -t 1 ]]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B='' G='' R='' D='' N=''; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
ok() { printf '   %s✔%s %s\n' "$G" "$N" "$*"; }
bad() { printf '   %s✘%s %s\n' "$R" "$N" "$*"; }
info() { printf '   %s\n' "$*"; }

BIN=${T2S_BIN:-$ROOT/build/tun2socks}
# Package installs and the build log to one file; each prints a line per
# step here, and on failure the end of the log and its path.
export T2S_LOG=${T2S_LOG:-$ROOT/build/logs/demo-setup.log}
mkdir -p "$(dirname "$T2S_LOG")" && : >"$T2S_LOG"
if ((DO_DEPS)); then
	step "Installing what the demo needs (scripts/install-test-deps.sh --demo)"
	bash "$ROOT/scripts/install-test-deps.sh" --demo || exit 1
fi
if ((DO_BUILD)); then
	step "Building tun2socks (scripts/build.sh)"
	bash "$ROOT/scripts/build.sh" || exit 1
fi
[[ -x $BIN ]] || { bad "no daemon at $BIN"; exit 1; }
export T2S_BIN=$BIN

# shellcheck disable=SC2034 # read by lib.sh
T2S_GROUP=demo
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
t2s_init 2>/dev/null
exec 3>&2 2>>"$RUN_DIR/demo-harness.log"   # harness chatter goes to a file
# Any failure below: say where the logs are and tear down (trap from t2s_init).
abort() { bad "$*"; T2S_FAILS=1; info "logs kept in $RUN_DIR"; exit 1; }

step "Creating the sandbox"
ns_resolv "$NS_S" "$S_IP"        # the servers resolve names with dnsmasq
ns_resolv "$NS_C" 192.0.2.53      # the client asks any address: the daemon answers
topo_up
info "namespace ${B}$NS_C${N} (client): curl and tun2socks; its default routes point into ${B}tun0${N}"
info "namespace ${B}$NS_S${N} (server): proxies, dnsmasq on $S_IP, nginx on $T4 and [$T6]"
info "link between them: veth $C_IP/30 <-> $S_IP/30 (the only way out of the client)"
# DIRECT connections (the daemon's own, marked 1) leave by the veth
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

step "Starting the servers"
make_data 4
ln "$RUN_DIR/www/64m" "$RUN_DIR/www/4m"
start_nginx || abort "nginx did not start"
ok "nginx on http://$T4/ and http://[$T6]/: /1k, /4m, and /whoami (the address that connected)"
start_dante none || abort "dante-server did not start"
ok "dante-server (SOCKS5) on $S_IP:$SOCKS_PORT, connects out from $T4 / $T6"
sx microsocks -i "$S_IP" -p 1090 -b "$S_IP" >"$RUN_DIR/microsocks.log" 2>&1 &
SRV_PID[microsocks]=$!
wait_listen "$NS_S" tcp "$S_IP" 1090 5 "${SRV_PID[microsocks]}" || abort "microsocks did not start"
ok "microsocks (SOCKS5, \"the debugging proxy\") on $S_IP:1090, connects out from $S_IP"
start_tinyproxy tinyproxy 8888 || abort "tinyproxy did not start"
ok "tinyproxy (HTTP CONNECT) on $S_IP:8888"
start_dnsmasq || abort "dnsmasq did not start"
ok "dnsmasq on $S_IP:53: *.example.test -> $T4 / $T6"
if cx curl -q --noproxy '*' -s -o /dev/null --max-time 2 "http://$T4/1k"; then
	abort "the client reaches the server without a tunnel; sandbox is wrong"
fi
ok "without a tunnel the client cannot reach $T4 (as it should be)"

CONF=$RUN_DIR/config.yaml
cat >"$CONF" <<EOF
# Clash (mihomo) keys: a Clash user's config mostly just works
dns:
  enable: true
  enhanced-mode: fake-ip
  nameserver: [$S_IP]
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
  - { name: debug, type: socks5, server: $S_IP, port: 1090 }
  - { name: corp, type: http, server: $S_IP, port: 8888 }
  - { name: api-local, type: redirect, to: $T4:80 }
proxy-groups:
  - { name: Proxy, type: select, proxies: [dante, corp] }
rules:
  - DOMAIN,api.example.test,api-local
  - DOMAIN-SUFFIX,staging.example.test,debug
  - DOMAIN-SUFFIX,corp.example.test,corp
  - DOMAIN-SUFFIX,lan.example.test,DIRECT
  - DOMAIN-KEYWORD,ads,REJECT
  - MATCH,Proxy
EOF
step "The config (Clash syntax): $CONF"
sed 's/^/   │ /' "$CONF"
step "tun2socks check, and match: which rule a connection would get"
info "${D}\$ tun2socks check -c config.yaml${N}"
"$BIN" check -c "$CONF" 2>&1 | sed 's/^/     /'
info "${D}\$ tun2socks match -c config.yaml build.staging.example.test:443${N}"
"$BIN" match -c "$CONF" build.staging.example.test:443 2>/dev/null | sed 's/^/     /'

step "Starting tun2socks in the client namespace"
info "${D}$BIN -c config.yaml --fwmark 1 --tun $TUN ...${N}"
daemon_start "socks5://$S_IP:$SOCKS_PORT" -c "$CONF" --fwmark 1 ||
	{ cat "$DAEMON_LOG"; abort "the daemon did not come up"; }
ok "tun0 is up: $(ip -n "$NS_C" -br addr show dev "$TUN" | awk '{$1=$1; print}')"

step "DNS: the daemon answers, with fake addresses"
fa=$(cx dig +short @192.0.2.53 www.example.test A 2>&1)
ok "dig www.example.test A -> $fa (from the fake pool: the name, not an address, goes to the proxy)"
mx=$(cx dig +short @192.0.2.53 mail.example.test MX 2>&1)
ok "dig mail.example.test MX -> $mx (forwarded to dnsmasq)"

step "Each name goes where its rule says (nginx's /whoami shows who connected)"
fails=0
demo_who() { # NAME[:PORT] EXPECT_RE WHAT
	local w
	w=$(cx curl -q --noproxy '*' -sS -g --max-time 10 "http://$1/whoami" 2>&1)
	if [[ $w =~ $2 ]]; then
		ok "$(printf '%-34s' "http://$1/")-> $3 (nginx saw $w)"
	else
		bad "$(printf '%-34s' "http://$1/")-> want $3, got: ${w:0:100}"
		fails=$((fails + 1))
	fi
}
demo_who www.example.test "^($T4|$T6)\$" "dante (MATCH -> group Proxy)"
demo_who build.staging.example.test "^$S_IP\$" "microsocks, the debugging proxy"
demo_who intranet.corp.example.test "^($T4|$T6)\$" "tinyproxy over HTTP CONNECT"
demo_who printer.lan.example.test "^$C_IP\$" "DIRECT, out of the client's own uplink"
demo_who api.example.test:443 "^$C_IP\$" "redirected to $T4:80 (DIRECT)"
if cx curl -q --noproxy '*' -sS --max-time 5 -o /dev/null "http://ads.example.test/" 2>/dev/null; then
	bad "http://ads.example.test/ was not rejected"
	fails=$((fails + 1))
else
	ok "$(printf '%-34s' "http://ads.example.test/")-> REJECT: the connection is reset at once"
fi
got=$(cx curl -q --noproxy '*' -sS --max-time 20 "http://www.example.test/4m" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [[ $got == "$SHA_64M" ]]; then ok "4 MiB from http://www.example.test/4m: sha256 matches"
else bad "4 MiB download: sha256 differs"; fails=$((fails + 1)); fi
sleep 0.5

step "What tun2socks logged (one line per flow: source -> name (address) via upstream [rule], bytes)"
if grep -E 'flow#[0-9]+ (closed|failed)' "$DAEMON_LOG" >/dev/null; then
	grep -E 'flow#[0-9]+ (closed|failed)' "$DAEMON_LOG" | sed -E 's/^[0-9:.]+ info  //' | sed "s/^/   ${D}│${N} /"
else
	info "(no per-flow lines found; the daemon's log:)"
	tail -n 20 "$DAEMON_LOG" | sed 's/^/   │ /'
fi

step "Stopping tun2socks (SIGTERM)"
if daemon_stop; then ok "exit status 0"; else bad "exit status ${DAEMON_RC}"; fails=$((fails + 1)); fi
if ip -n "$NS_C" link show "$TUN" >/dev/null 2>&1; then bad "tun0 still exists"; fails=$((fails + 1))
else ok "tun0 is gone"; fi

step "Tearing down the sandbox"
exec 2>&3
if ((fails)); then
	# shellcheck disable=SC2034 # read by t2s_cleanup: keep the logs
	T2S_FAILS=$fails
	bad "$fails step(s) failed; logs kept in $RUN_DIR"
	t2s_cleanup
	exit 1
fi
t2s_cleanup
ok "namespaces, servers and files removed"
