#!/usr/bin/env bash
# A guided tour of tun2socks in a throw-away sandbox (needs root):
# builds the daemon if needed, installs the test servers, creates two network
# namespaces (a client and a server), starts dante-server (SOCKS5) and nginx
# in the server one, runs tun2socks in the client one, fetches a few pages
# through it (IPv4 and IPv6) and shows what the daemon saw. Everything is torn
# down at the end, also on Ctrl-C or failure.
#
#   sudo bash scripts/demo.sh [--no-build] [--no-deps] [--keep]
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
if ((DO_BUILD)) && [[ ! -x $BIN ]]; then
	step "Building tun2socks (bash scripts/build.sh)"
	[[ -f $ROOT/scripts/build.sh ]] || { bad "scripts/build.sh not found"; exit 1; }
	(cd "$ROOT" && bash scripts/build.sh) >/tmp/t2s-demo-build.$$.log 2>&1 ||
		{ bad "build failed:"; tail -n 30 /tmp/t2s-demo-build.$$.log; rm -f /tmp/t2s-demo-build.$$.log; exit 1; }
	rm -f /tmp/t2s-demo-build.$$.log
fi
[[ -x $BIN ]] || { bad "no daemon at $BIN"; exit 1; }
export T2S_BIN=$BIN
if ((DO_DEPS)); then
	step "Checking test servers and tools (scripts/install-test-deps.sh)"
	bash "$ROOT/scripts/install-test-deps.sh" | sed 's/^/   /' || { bad "could not install dependencies"; exit 1; }
fi

# shellcheck disable=SC2034 # read by lib.sh
T2S_GROUP=demo
# shellcheck source=../tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
t2s_init 2>/dev/null
exec 3>&2 2>>"$RUN_DIR/demo-harness.log"   # harness chatter goes to a file
# Any failure below: say where the logs are and tear down (trap from t2s_init).
abort() { bad "$*"; T2S_FAILS=1; info "logs kept in $RUN_DIR"; exit 1; }

step "Creating the sandbox"
topo_up
info "namespace ${B}$NS_C${N} (client): curl and tun2socks; its default routes point into ${B}tun0${N}"
info "namespace ${B}$NS_S${N} (server): dante-server on $S_IP:$SOCKS_PORT, nginx on $T4 and [$T6]"
info "link between them: veth $C_IP/30 <-> $S_IP/30 (the only way the daemon reaches the proxy)"

step "Starting the servers"
make_data 4
ln "$RUN_DIR/www/64m" "$RUN_DIR/www/4m"
start_nginx || abort "nginx did not start"
ok "nginx serving /1k and /4m (random bytes) on http://$T4/ and http://[$T6]/"
start_sink || abort "the upload sink did not start"
start_dante none || abort "dante-server did not start"
ok "dante-server (SOCKS5, no auth) listening on $S_IP:$SOCKS_PORT"
if cx curl -q --noproxy '*' -s -o /dev/null --max-time 2 "http://$T4/1k"; then
	abort "the client reaches the server without a tunnel; sandbox is wrong"
fi
ok "without a tunnel the client cannot reach $T4 (as it should be)"

step "Starting tun2socks in the client namespace"
info "${D}$BIN --proxy socks5://$S_IP:$SOCKS_PORT --tun $TUN --tun-addr $TUN_ADDR --tun-addr6 $TUN_ADDR6 --log-level info${N}"
daemon_start "socks5://$S_IP:$SOCKS_PORT" || { cat "$DAEMON_LOG"; abort "the daemon did not come up"; }
ok "tun0 is up: $(ip -n "$NS_C" -br addr show dev "$TUN" | awk '{$1=$1; print}')"
info "routes in the client: $(ip -n "$NS_C" route show default | head -n1); $(ip -n "$NS_C" -6 route show default | head -n1)"

step "Fetching through the tunnel"
demo_get() { # LABEL URL SHA
	local label=$1 url=$2 want=$3 w rc got
	w=$(cx curl -q --noproxy '*' -sS -g --max-time 20 -o "$RUN_DIR/got" \
		-w '%{http_code} %{size_download} %{time_total} %{local_ip} %{local_port} %{remote_ip} %{remote_port}' "$url" 2>"$RUN_DIR/got.err")
	rc=$?
	if ((rc != 0)); then
		bad "$label  $url: curl failed ($(head -c 150 "$RUN_DIR/got.err"))"
		return 1
	fi
	got=$(sha256sum <"$RUN_DIR/got" | cut -d' ' -f1)
	local code size t lip lport rip rport
	read -r code size t lip lport rip rport <<<"$w"
	[[ $lip == *:* ]] && lip="[$lip]" && rip="[$rip]"
	if [[ $got == "$want" ]]; then
		ok "$label  GET $url -> HTTP $code, $size bytes in $(awk -v t="$t" 'BEGIN{printf "%.1f", t*1000}') ms, sha256 matches"
	else
		bad "$label  GET $url -> HTTP $code, $size bytes, sha256 DIFFERS"
		return 1
	fi
	info "${D}      curl's socket: $lip:$lport -> $rip:$rport${N}"
}
fails=0
demo_get "IPv4" "http://$T4/1k" "$SHA_1K" || fails=$((fails + 1))
demo_get "IPv4" "http://$T4/4m" "$SHA_64M" || fails=$((fails + 1))
demo_get "IPv6" "http://[$T6]/1k" "$SHA_1K" || fails=$((fails + 1))
reply=$(cx curl -q --noproxy '*' -sS --max-time 20 -H 'Expect:' -T "$RUN_DIR/www/64m" "http://$T4:$SINK_PORT/upload" 2>&1)
if [[ $reply == "$SHA_64M $((4 << 20))" ]]; then
	ok "IPv4  PUT http://$T4:$SINK_PORT/upload (4 MiB) -> the server received it intact"
else
	bad "IPv4  upload: ${reply:0:120}"
	fails=$((fails + 1))
fi
sleep 0.5

step "What tun2socks logged (one line per closed flow: source -> destination via upstream, bytes)"
if flow_lines >/dev/null; then
	flow_lines | sed "s/^/   ${D}│${N} /"
else
	info "(no per-flow lines found; the daemon's log:)"
	tail -n 20 "$DAEMON_LOG" | sed 's/^/   │ /'
fi

step "What dante-server saw (the targets it connected to on the client's behalf)"
# "[: CLIENT.PORT PROXY.PORT -> EXTERNAL.PORT TARGET.PORT" (dante writes
# address.port); show it as "target <- daemon's connection"
grep -E 'tcp/connect \[' "$RUN_DIR/danted.log" | sed -E 's/.*tcp\/connect \[: //' |
	awk 'function ap(x,  i) { i = match(x, /\.[0-9]+$/); if (!i) return x
	                          a = substr(x, 1, i - 1); if (a ~ /:/) a = "[" a "]"
	                          return a ":" substr(x, i + 1) }
	     { printf "   connected to %-24s for the daemon'"'"'s connection from %s\n", ap($5), ap($1) }' | head -n 10

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
