#!/usr/bin/env bash
# A guided tour of tun2socks in a throw-away sandbox (needs root):
# builds the daemon if needed, installs the test servers, creates two network
# namespaces (a client and a server), starts dante-server and microsocks
# (SOCKS5), tinyproxy (HTTP CONNECT), dnsmasq and nginx in the server one,
# runs tun2socks with a Clash-style config in the client one, and shows the
# rules at work: names answered with fake addresses, each name sent to the
# upstream its rule names (two SOCKS proxies, an HTTP proxy, DIRECT, a
# developer redirect, REJECT), and what the daemon logged; then the same
# config system-wide with --auto-route (rules and a table of its own, DNS to
# any server answered, `tun2socks status`, the routing restored byte for
# byte at exit), and one command alone through the rules with `tun2socks
# run` while the rest of the sandbox is untouched. Everything is torn down at the end, also on Ctrl-C or
# failure.
#
#   bash scripts/demo.sh [--no-build] [--no-deps] [--keep]    (as root)
#   (--keep: keep the sandbox's logs and configs; the end says where)
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
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
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
# Each proxy connects out from an address of its own, so that nginx (and the
# reader) can tell which one carried a connection.
DANTE_OUT=(203.0.113.81 2001:db8:80::81)
TP_OUT=(203.0.113.82 2001:db8:80::82)
MS_OUT=203.0.113.83
ns_lo_addrs "$NS_S" "${DANTE_OUT[@]}" "${TP_OUT[@]}" "$MS_OUT" || abort "could not add the proxies' addresses"
info "namespace ${B}$NS_C${N} (client): curl and tun2socks; its default routes point into ${B}tun0${N}"
info "namespace ${B}$NS_S${N} (server): the proxies, dnsmasq and nginx"
info "link between them: veth $C_IP/30 <-> $S_IP/30 (the only way out of the client)"
# DIRECT connections (the daemon's own, marked 1) leave by the veth
ip -n "$NS_C" route add default via "$S_IP" dev v0 table 100
ip -n "$NS_C" rule add fwmark 1 table 100

step "Starting the servers (each proxy connects out from its own address)"
make_data 4
ln "$RUN_DIR/www/64m" "$RUN_DIR/www/4m"
start_nginx || abort "nginx did not start"
ok "nginx on http://$T4/ and http://[$T6]/: /1k, /4m, /peer (who connected)"
start_dante none "$SOCKS_PORT" danted "${DANTE_OUT[@]}" || abort "dante-server did not start"
ok "dante-server (SOCKS5) on $S_IP:$SOCKS_PORT, connects out from ${DANTE_OUT[0]} / ${DANTE_OUT[1]}"
start_microsocks 1090 "$MS_OUT" || abort "microsocks did not start"
ok "microsocks (SOCKS5, \"the debugging proxy\") on $S_IP:1090, connects out from $MS_OUT"
TP_BIND="${TP_OUT[*]}" start_tinyproxy tinyproxy 8888 || abort "tinyproxy did not start"
ok "tinyproxy (HTTP CONNECT) on $S_IP:8888, connects out from ${TP_OUT[0]} / ${TP_OUT[1]}"
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
ok "dig www.example.test A -> $fa (fake: the proxies will get the name, not an address)"
mx=$(cx dig +short @192.0.2.53 mail.example.test MX 2>&1)
ok "dig mail.example.test MX -> $mx (forwarded to dnsmasq)"

step "Each name goes where its rule says: nginx saw the upstream's address, its log agrees"
info "${D}\$ curl http://NAME/peer${N}  (nginx answers with the address and port that connected)"
fails=0
W=100 # every line below fits a terminal this wide
re() { printf '%s' "$1" | sed 's/[.[\*^$]/\\&/g'; } # an address as an ERE
one_of() { local a o=; for a in "$@"; do o+="${o:+|}$(re "$a")"; done; printf '^(%s)$' "$o"; }

# log_line FILE STRING...: the last line of FILE holding every STRING; waits
# up to 5 s for it (a proxy may write its line just after the reply).
log_line() {
	local f=$1 i
	shift
	for ((i = 0; i < 50; i++)); do
		awk -v s="$(printf '%s\037' "$@")" '
			BEGIN { n = split(s, p, "\037") - 1 }
			{ for (i = 1; i <= n; i++) if (!index($0, p[i])) next; last = $0 }
			END { if (last == "") exit 1; print last }' "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# quote LABEL TEXT [front]: an indented excerpt of a log line, "..." where it
# had to be cut to fit W columns (at its end, or with "front" at its start).
quote() {
	local label=$1 text=$2 room
	room=$((W - 7 - ${#label} - 4))
	if ((${#text} > room)); then # cut at a space
		if [[ ${3:-} == front ]]; then text=${text:${#text}-room+4}; text="... ${text#* }"
		else text=${text:0:room-4}; text="${text% *} ..."; fi
	fi
	printf '       %s: "%s"\n' "$label" "$text"
}
note() { printf '       %s\n' "$*"; }
miss() { bad "$*"; fails=$((fails + 1)); }

# via NAME[:PORT] UPSTREAM WANT_RE [port|sport]: curl http://NAME/peer through
# the tunnel and check the address nginx saw; sets SAW, SAW_PORT (nginx's
# peer port) and SAW_SPORT (nginx's own port). "port"/"sport" add that port
# to the line.
via() {
	local p more=
	p=$(cx curl -q --noproxy '*' -sS -g --max-time 10 "http://$1/peer" 2>&1)
	SAW='' SAW_PORT='' SAW_SPORT=''
	[[ $p =~ ^([0-9a-f.:]+)\ ([0-9]+)\ ([0-9]+)$ ]] &&
		SAW=${BASH_REMATCH[1]} SAW_PORT=${BASH_REMATCH[2]} SAW_SPORT=${BASH_REMATCH[3]}
	if [[ -z $SAW ]]; then
		miss "$(printf '%-26s' "$1") -> want $2, got: ${p:0:$((W - 48))}"
		return 1
	elif [[ ! $SAW =~ $3 ]]; then
		miss "$(printf '%-26s' "$1") -> want $2, but nginx saw $SAW"
		return 1
	fi
	[[ ${4:-} == port ]] && more=" port $SAW_PORT"
	[[ ${4:-} == sport ]] && more=" on its port $SAW_SPORT"
	ok "$(printf '%-26s' "$1") -> $2: nginx saw $SAW$more"
}

# MATCH -> group Proxy -> dante: dante's log has this very connection, from
# its own address and the port nginx saw.
if via www.example.test "dante (MATCH -> Proxy)" "$(one_of "${DANTE_OUT[@]}")" port; then
	if l=$(log_line "$RUN_DIR/danted.log" "tcp/connect [: " " $SAW.$SAW_PORT "); then
		quote danted.log "${l#*tcp/connect \[: }" front
	else miss "danted.log has no connection from $SAW.$SAW_PORT"; fi
fi
if via build.staging.example.test "microsocks (debug)" "$(one_of "$MS_OUT")"; then
	if l=$(log_line "$RUN_DIR/microsocks.log" "connected to build.staging.example.test:") ||
		l=$(log_line "$RUN_DIR/microsocks.log" "connected to "); then
		quote microsocks.log "$l"
	else miss "microsocks.log names no connection"; fi
fi
if via intranet.corp.example.test "tinyproxy (corp, HTTP CONNECT)" "$(one_of "${TP_OUT[@]}")"; then
	if l=$(log_line "$RUN_DIR/tinyproxy/log" "CONNECT intranet.corp.example.test:80 "); then
		quote tinyproxy/log "${l#*]: }" front
	else miss "tinyproxy/log has no CONNECT intranet.corp.example.test:80"; fi
fi
via printer.lan.example.test "DIRECT" "$(one_of "$C_IP")" &&
	note "$C_IP is the client's own veth: the daemon's socket (fwmark 1) left by v0, no proxy"
if via api.example.test:443 "redirect api-local" "$(one_of "$C_IP")" sport; then
	if [[ $SAW_SPORT == 80 ]]; then
		note "curl asked for port 443, nginx listens on 80 only: sent to $T4:80, DIRECT"
	else miss "nginx answered on port $SAW_SPORT, not 80"; fi
fi

# REJECT: lwIP answers the SYN, then the daemon resets the connection as
# soon as the rule says REJECT. curl has an IPv6 and an IPv4 fake address
# for the name and tries them in turn: when the reset lands before its
# connect step is over, that try failed and it tries the next address (two
# resets, two REJECT flow lines); when it lands after, curl was connected,
# its request fails and it gives up (one reset). Either is right; the
# daemon logs one REJECT line per try.
rej() { grep -c 'ads\.example\.test:80 .* via REJECT' "$DAEMON_LOG"; }
before=$(rej)
out=$(cx curl -q --noproxy '*' -sS -v --max-time 5 -o /dev/null "http://ads.example.test/" 2>&1)
rc=$?
tries=$(grep -c '^\* *Trying ' <<<"$out")
fams=$(grep -o '^\* *Trying [^ ]*' <<<"$out" | awk '{ f = $3 ~ /^\[/ ? "IPv6" : "IPv4"; s = s (s ? ", then " : "") f } END { print s }')
for ((i = 0; i < 50; i++)); do
	resets=$(($(rej) - before))
	((resets >= tries)) && break
	sleep 0.1
done
if ((rc == 0)); then
	miss "$(printf '%-26s' ads.example.test) -> was not rejected"
elif ((rc != 7 && rc != 55 && rc != 56)) || ((resets == 0)); then
	miss "$(printf '%-26s' ads.example.test) -> want a reset, got curl exit $rc, $resets REJECT lines"
elif ((resets > tries)); then
	miss "$(printf '%-26s' ads.example.test) -> curl tried $tries address(es), the daemon logged $resets REJECT lines"
else
	case $rc in
	7) why="couldn't connect" ;;
	*) why="connection reset" ;;
	esac
	ok "$(printf '%-26s' ads.example.test) -> REJECT: reset by the daemon (curl exit $rc: $why)"
	l=$(grep 'ads\.example\.test:80 .* via REJECT' "$DAEMON_LOG" | tail -n "$resets" | head -n 1)
	l=${l#* info  }   # flow#6 failed SRC -> NAME:PORT (ADDR) via REJECT [RULE] up ...
	l="${l%% *} ... -> $(awk '{ print $5 }' <<<"$l") ... via ${l#* via }"
	quote daemon.log "${l%% up 0 B*}"
	if ((tries == 1)); then
		note "curl had connected when the reset came (lwIP answers the SYN), so it gave up: 1 reset"
	else
		# (rarely curl gives up a try before its SYN is answered: fewer resets)
		note "the reset beat curl's connect, so it tried its next address ($fams): $resets resets"
	fi
fi

# a bigger transfer through dante: its log counts the bytes it carried
got=$(cx curl -q --noproxy '*' -sS --max-time 20 "http://www.example.test/4m" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [[ $got != "$SHA_64M" ]]; then
	miss "$(printf '%-26s' www.example.test/4m) -> 4 MiB download: sha256 differs"
elif ! l=$(log_line "$RUN_DIR/danted.log" "tcp/connect ]: 419"); then
	miss "$(printf '%-26s' www.example.test/4m) -> sha256 matches, but danted.log has no 4 MiB session"
else
	l=${l#*: tcp/connect }
	ok "$(printf '%-26s' www.example.test/4m) -> dante: sha256 matches; its log counts $(awk '{ print $2 }' <<<"$l") bytes"
	quote danted.log "$l"
fi
sleep 0.5

step "What tun2socks logged (one line per flow: source -> name (address) via upstream [rule], bytes)"
if grep -E 'flow#[0-9]+ (closed|failed)' "$DAEMON_LOG" >/dev/null; then
	# folded at spaces to fit W columns
	grep -E 'flow#[0-9]+ (closed|failed)' "$DAEMON_LOG" | sed -E 's/^[0-9:.]+ info  //' |
		awk -v w=$((W - 7)) -v p="   ${D}│${N} " '{
			line = ""; n = split($0, word, " ")
			for (i = 1; i <= n; i++) {
				if (line != "" && length(line) + 1 + length(word[i]) > w) { print p line; line = "   " word[i] }
				else line = line (line == "" ? "" : " ") word[i]
			}
			print p line }'
else
	info "(no per-flow lines found; the daemon's log:)"
	tail -n 20 "$DAEMON_LOG" | sed 's/^/   │ /'
fi

step "Stopping tun2socks (SIGTERM)"
if daemon_stop; then ok "exit status 0"; else bad "exit status ${DAEMON_RC}"; fails=$((fails + 1)); fi
if ip -n "$NS_C" link show "$TUN" >/dev/null 2>&1; then bad "tun0 still exists"; fails=$((fails + 1))
else ok "tun0 is gone"; fi

step "System-wide: tun2socks --auto-route (no route set up by hand)"
# The client gets an ordinary default route, as a laptop has; auto-route
# then sends its traffic into the TUN with a table and rules of its own,
# and takes them away at exit.
ip -n "$NS_C" route replace default via "$S_IP" dev v0
ar_snap() { cx sh -c 'ip rule; ip -6 rule; ip route show table all; ip -6 route show table all'; }
ar_snap >"$RUN_DIR/routing-before.txt"
SAW=$(cx curl -q --noproxy '*' -sS --max-time 5 "http://$T4/peer" 2>&1 | awk '{ print $1 }')
info "before: the client reaches $T4 directly (nginx saw $SAW); $(grep -c . "$RUN_DIR/routing-before.txt") lines of ip rule/route"
info "${D}\$ tun2socks -c config.yaml --auto-route --state-dir DIR${N}"
AR_STATE=$RUN_DIR/state
: >"$RUN_DIR/daemon-ar.log"
ip netns exec "$NS_C" "$BIN" -c "$CONF" --proxy "socks5://$S_IP:$SOCKS_PORT" --tun "$TUN" \
	--auto-route --state-dir "$AR_STATE" >>"$RUN_DIR/daemon-ar.log" 2>&1 &
AR_PID=$!
for ((i = 0; i < 100; i++)); do
	grep -q 'info  tun2socks .*: TUN' "$RUN_DIR/daemon-ar.log" && break
	kill -0 "$AR_PID" 2>/dev/null || break
	sleep 0.05
done
if l=$(grep -m1 'auto-route: [0-9]* routes' "$RUN_DIR/daemon-ar.log"); then
	ok "up: ${l#*auto-route: }" | fold -s -w "$W" | sed '2,$s/^/     /'
	cx ip rule | grep -E '^90(0[0-9]|10):' | sed "s/^/   ${D}│${N} /"
	via www.example.test "dante (MATCH, system-wide)" "$(one_of "${DANTE_OUT[@]}")"
	via printer.lan.example.test "DIRECT (around the TUN)" "$(one_of "$C_IP")"
	a=$(cx dig +short +time=2 +tries=1 @198.51.100.53 www.example.test A 2>&1)
	if [[ $a =~ ^198\.1[89]\. ]]; then ok "dig @198.51.100.53 (any server, port 53) -> $a: answered by the daemon"
	else miss "dig @198.51.100.53 gave '$a', not a fake address"; fi
	info "${D}\$ tun2socks status --state-dir DIR${N}  (exit 0: all in place)"
	st=$(cx "$BIN" status --state-dir "$AR_STATE" 2>&1)
	rc=$?
	head -1 <<<"$st" | fold -s -w $((W - 7)) | sed "s/^/   ${D}│${N} /"
	((rc == 0)) || miss "status exited $rc"
else
	miss "auto-route did not come up: $(tail -2 "$RUN_DIR/daemon-ar.log")"
fi
kill -TERM "$AR_PID" 2>/dev/null
wait "$AR_PID"
rc=$?
ar_snap >"$RUN_DIR/routing-after.txt"
if ((rc == 0)) && cmp -s "$RUN_DIR/routing-before.txt" "$RUN_DIR/routing-after.txt"; then
	ok "SIGTERM: exit 0; ip rule and every routing table byte-identical to before"
else
	miss "after SIGTERM (exit $rc) the routing differs: $(diff "$RUN_DIR/routing-before.txt" "$RUN_DIR/routing-after.txt" | head -3 | tr '\n' ' ')"
fi

step "One program through the rules: tun2socks run -- CMD (Linux)"
# CMD alone goes through the config's rules, in a network namespace of its
# own whose only route is run's TUN; the client namespace keeps its
# routes, rules and resolv.conf, and its own traffic goes on directly.
run_snap() { cx sh -c 'ip -br link; ip rule; ip -6 rule; ip route show table all; ip -6 route show table all; cat /etc/resolv.conf'; }
run_snap >"$RUN_DIR/client-before-run.txt"
info "${D}\$ tun2socks run -c config.yaml -- sh -c 'curl http://api.example.test:443/peer; ip -br route; grep nameserver /etc/resolv.conf'${N}"
# shellcheck disable=SC2016 # CMD's own script expands inside run
out=$(cx "$BIN" run -c "$CONF" -- sh -c 'echo "peer $(curl -q --noproxy "*" -sS --max-time 10 http://api.example.test:443/peer 2>&1)"
	ip -br route; grep nameserver /etc/resolv.conf' 2>"$RUN_DIR/run.log")
rc=$?
during=$(cx curl -q --noproxy '*' -sS --max-time 5 "http://$T4/peer" 2>&1 | awk '{ print $1 }')
run_snap >"$RUN_DIR/client-after-run.txt"
sed "s/^/   ${D}│${N} /" <<<"$out"
p=$(sed -n 's/^peer //p' <<<"$out")
if ((rc == 0)) && [[ $p =~ ^$(re "$C_IP")\ [0-9]+\ 80$ ]]; then
	ok "CMD's curl: api.example.test:443 -> redirect api-local -> nginx on $T4:80 (exit status $rc)"
	if l=$(grep -E 'flow#[0-9]+ (closed|reset) .*api\.example\.test:443' "$RUN_DIR/run.log" | head -1); then
		l=${l#* info  }
		v=${l#* via }
		quote run.log "${l%% *} ... -> api.example.test:443 ... via ${v%% up *}"
	else miss "run's log has no line for api.example.test:443"; fi
else
	miss "run exited $rc, CMD's curl: '${p:0:$((W - 40))}'"
fi
if grep -q 'default dev tun0' <<<"$out" && grep -q '^nameserver 198\.18\.0\.2' <<<"$out"; then
	ok "inside: one default route, into run's TUN; resolv.conf names the TUN (fake-ip DNS)"
else miss "inside, the route or resolv.conf is not run's"; fi
if cmp -s "$RUN_DIR/client-before-run.txt" "$RUN_DIR/client-after-run.txt" && [[ $during == "$C_IP" ]]; then
	ok "outside untouched: links, rules, routes and resolv.conf as before; the client's own curl went straight to $T4"
else
	miss "the client namespace changed or lost its way out: $(diff "$RUN_DIR/client-before-run.txt" "$RUN_DIR/client-after-run.txt" | head -3 | tr '\n' ' ') (direct curl: $during)"
fi

step "Tearing down the sandbox"
exec 2>&3
kept=$RUN_DIR
if ((fails)); then
	# shellcheck disable=SC2034 # read by t2s_cleanup: keep the logs
	T2S_FAILS=$fails
	bad "$fails step(s) failed; logs kept in $kept"
	t2s_cleanup 2>/dev/null
	exit 1
fi
t2s_cleanup 2>/dev/null
if [[ ${T2S_KEEP:-0} == 1 ]]; then
	ok "namespaces and servers removed; logs and configs kept (--keep) in $kept:"
	info "config.yaml, daemon.log; danted.log, microsocks.log, tinyproxy/log, dnsmasq.log; *.conf"
else
	ok "namespaces, servers and files removed"
fi
