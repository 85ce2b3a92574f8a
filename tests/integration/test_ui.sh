#!/usr/bin/env bash
# The built-in dashboard (/ui, docs/design.md §20) in headless Chromium
# against a running daemon in the namespaces, and external-ui's files.
#
#   ui_close_connection   closing a connection in the page resets it in the daemon
#   ui_select_member      choosing a group member in the page switches the group
#   ui_rule_hits          the Rules view shows the first rule's hit count: 1, the
#                         one download it decided
#   ui_mode_global        the header's mode switch puts the daemon in global
#                         mode; GLOBAL then shows in Groups, and choosing its
#                         member there is what global mode uses
#   ui_files              /ui redirects to /ui/, the embedded files are served
#                         without the secret, unknown ones are 404
#   ui_external_no_escape external-ui serves its directory and nothing outside
#                         it (../, encoded ../, a symlink out)
#   ui_external_off_loop  external-ui's files are read on a worker: a FIFO there
#                         (its open waits for a writer) holds its request only;
#                         the API and the tunnel answer meanwhile, and the
#                         request gets 404 once a writer came
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="ui_close_connection ui_select_member ui_rule_hits ui_mode_global ui_files ui_external_no_escape ui_external_off_loop"
for t in /usr/bin/chromium /usr/bin/chromedriver; do
	[[ -x $t ]] || fail_all "$NAMES" "$t missing (chromium, chromium-driver)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || fail_all "$NAMES" "python3-selenium missing"
API=127.0.0.1:9090
SECRET=ui-$T2S_ID
H="Authorization: Bearer $SECRET"
setup_servers "$NAMES"
mkdir -p "$RUN_DIR/ext/sub"
echo "external page" >"$RUN_DIR/ext/index.html"
echo "nested" >"$RUN_DIR/ext/sub/a.txt"
echo "secret stuff" >"$RUN_DIR/outside.txt"
ln -s "$RUN_DIR/outside.txt" "$RUN_DIR/ext/link.txt"
mkfifo "$RUN_DIR/ext/pipe.txt"
CONF=$RUN_DIR/config.yaml
write_conf() { # extra top-level line
	cat >"$CONF" <<EOC
external-controller: $API
secret: $SECRET
$1
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
  - { name: dante2, type: socks5, server: $S_IP, port: $SOCKS_PORT }
proxy-groups:
  - { name: grp, type: select, proxies: [dante, dante2] }
rules:
  - IP-CIDR,$T4/32,grp
  - MATCH,DIRECT
EOC
}
api() { cx curl -q --noproxy '*' -sS -m 10 "$@"; }
code() { api -o /dev/null -w '%{http_code}' "$@"; }
wait_api() {
	for ((i = 0; i < 100; i++)); do
		[[ $(code "http://$API/version" 2>/dev/null) == 401 ]] && return 0
		sleep 0.05
	done
	return 1
}

write_conf ""
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"
wait_api || fail_all "$NAMES" "the API does not answer"

# ---- files -----------------------------------------------------------------------------------
redir=$(api -o /dev/null -w '%{http_code} %{redirect_url}' "http://$API/ui")
idx=$(api "http://$API/ui/")
js=$(api -i "http://$API/ui/app.js" | tr -d '\r' | grep -ci '^content-type: text/javascript')
none=$(code "http://$API/ui/nothing.js")
if [[ $redir == "302 http://$API/ui/" && $idx == *"<title>tun2socks</title>"* && $js == 1 && $none == 404 ]]; then
	pass ui_files
else
	fail ui_files "redirect=[$redir] index=[${idx:0:60}] js-type=$js unknown=$none"
fi

# ---- the page in Chromium ------------------------------------------------------------------------
cx curl -q --noproxy '*' -sS -m 90 --limit-rate 100k -o /dev/null "http://$T4/64m" 2>/dev/null &
dl=$!
out=$(cx timeout 120 /usr/bin/python3 "$T2S_ITEST/ui_tool.py" "http://$API/ui/?secret=$SECRET" \
	"$T4:80" grp dante2 "$RUN_DIR" 2>"$RUN_DIR/ui_tool.err")
rc=$?
log "ui_tool: rc=$rc $out"
cid=$(sed -n 's/^closed //p' <<<"$out")
# The close resets the download: its socket goes while curl still reads
# what it buffered (at 100 kB/s that can take until -m 90).
dlrc=reset
curl_reset_wait "$dl" "$T4" 80 10 || dlrc=none
listed=$(api -H "$H" "http://$API/connections" | "$PY" -c "import json,sys; print(sum(1 for c in json.load(sys.stdin)['connections'] if c['id']=='$cid'))")
if [[ -n $cid && $dlrc == reset && $listed == 0 ]] && grep -q "closed through the control API" "$DAEMON_LOG"; then
	pass ui_close_connection
else
	fail ui_close_connection "tool rc=$rc out=[$out] err=[$(tail -n 3 "$RUN_DIR/ui_tool.err")] curl=$dlrc listed=$listed"
fi
now=$(api -H "$H" "http://$API/proxies/grp" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["now"])')
if [[ $out == *selected* && $now == dante2 ]]; then
	pass ui_select_member
else
	fail ui_select_member "tool=[$out] now=$now"
fi
if [[ $(sed -n "s/^hits //p" <<<"$out") == 1 ]]; then
	pass ui_rule_hits
else
	fail ui_rule_hits "tool=[$out]"
fi
gmode=$(api -H "$H" "http://$API/configs" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["mode"])')
gnow=$(api -H "$H" "http://$API/proxies/GLOBAL" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["now"])')
if [[ $out == *"global dante2"* && $gmode == global && $gnow == dante2 ]]; then
	pass ui_mode_global
else
	fail ui_mode_global "tool=[$out] err=[$(tail -n 3 "$RUN_DIR/ui_tool.err")] mode=$gmode GLOBAL.now=$gnow"
fi
[[ -n ${T2S_UI_SHOTS:-} && -f $RUN_DIR/connections.png ]] && cp "$RUN_DIR"/connections.png "$RUN_DIR"/groups.png "$T2S_UI_SHOTS/"
daemon_finish

# ---- external-ui --------------------------------------------------------------------------------
write_conf "external-ui: $RUN_DIR/ext"
start_or_fail "ui_external_no_escape ui_external_off_loop" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"
wait_api || fail_all "ui_external_no_escape ui_external_off_loop" "the API does not answer"
e1=$(api "http://$API/ui/")
e2=$(api "http://$API/ui/sub/a.txt")
e3=$(api --path-as-is "http://$API/ui/../outside.txt")
e4=$(api --path-as-is "http://$API/ui/%2e%2e/outside.txt")
e5=$(api --path-as-is "http://$API/ui/sub/%2e%2e/%2e%2e/outside.txt")
e6=$(api "http://$API/ui/link.txt")
if [[ $e1 == "external page" && $e2 == nested && $e3 != *secret* && $e4 != *secret* && $e5 != *secret* &&
	$e6 != *secret* ]]; then
	pass ui_external_no_escape
else
	fail ui_external_no_escape "index=[$e1] nested=[$e2] dotdot=[${e3:0:40}] enc=[${e4:0:40}] deep=[${e5:0:40}] symlink=[${e6:0:40}]"
fi
# The FIFO's open blocks until a writer comes: on the loop it would stop
# everything, on a worker only this request waits.
code -m 20 "http://$API/ui/pipe.txt" >"$RUN_DIR/pipe.code" 2>/dev/null &
pc=$!
sleep 1
pv=$(code -H "$H" -m 5 "http://$API/version")
fetch_check "http://$T4/1k" "$SHA_1K"
pf=$?
pending=no
kill -0 "$pc" 2>/dev/null && pending=yes
timeout 5 sh -c ": >'$RUN_DIR/ext/pipe.txt'" # a writer: the open returns
wait "$pc"
pcode=$(cat "$RUN_DIR/pipe.code")
if [[ $pv == 200 && $pf == 0 && $pending == yes && $pcode == 404 ]]; then
	pass ui_external_off_loop
else
	fail ui_external_off_loop "version=$pv fetch=$pf fifo-request-pending=$pending then=$pcode"
fi
daemon_finish
t2s_finish
