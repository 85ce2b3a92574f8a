#!/usr/bin/env bash
# The Clash control API (docs/design.md §20) against a running daemon in
# the namespaces: every endpoint, its authentication, CORS, the streams
# over WebSocket (python3-websockets) and chunked HTTP, a client that never
# reads, and 1000 connections listed and closed.
#
#   api_refuses_public      --controller 0.0.0.0:PORT without a secret: no start
#   api_auth                401 without or with a wrong secret (HTTP and
#                           WebSocket), 200 with it; the unix socket asks none
#   api_cors                preflight answered for an allowed origin, not for others
#   api_version             /version, / and 404 for an unknown path
#   api_configs             GET; PATCH mode and log-level take effect; another
#                           key is refused (400 naming it) and nothing changes
#   api_mode                PATCH mode global bypasses the rules (a rejected
#                           target is reached through the proxy), rule restores them
#   api_reload              PUT /configs {path} loads a file beside the config;
#                           one elsewhere is refused (403)
#   api_rule_hits           after a reload (a new generation, counts from 0) two
#                           fetches decided by one rule: its "hits" in GET /rules
#                           and the HITS column of ctl rules are 2, the others 0
#   api_process_path        under a PROCESS-NAME,curl rule a live download's
#                           metadata has process curl and processPath curl's
#                           executable (/proc/PID/exe)
#   api_rules_proxies       /rules, /proxies, /proxies/{name}, /providers/* in
#                           mihomo's shapes
#   api_select              PUT /proxies/{group} switches a select group (new flows
#                           follow), refuses a non-select group and unknown names
#   api_delay               /proxies/{name}/delay and /group/{name}/delay time a real
#                           request through the proxy; the result shows in history
#   api_dns_query           /dns/query answers through the daemon's resolver
#   api_streams             /traffic, /memory, /logs, /connections over WebSocket;
#                           /traffic and /connections?interval= over chunked HTTP
#   api_logs_structured     /logs?format=structured gives mihomo's structured
#                           lines (time, level, message, fields) over WebSocket
#                           and chunked HTTP
#   api_global              the GLOBAL selector: PUT /proxies/GLOBAL picks what
#                           mode global uses (a proxy, REJECT, a group), refuses
#                           unknown names, and stays with rule mode untouched
#   api_connections_close   a live download is listed with its metadata and
#                           DELETE /connections/{id} resets it
#   api_dashboard_compat    the requests yacd makes (src/api/*.ts), in its forms,
#                           answered with the fields it reads
#   api_ctl                 tun2socks ctl end to end: connections (and --watch),
#                           close, select, delay, rules, reload, a wrong secret
#   api_many_connections    1000 held connections listed, DELETE /connections
#                           ends them all
#   api_store_off_loop      store-selected's write runs on a worker: with its
#                           temporary file a FIFO (the open waits for a reader)
#                           the switch is answered and the API and tunnel serve
#                           meanwhile; the text arrives once a reader comes
#   api_store_selected      profile.store-selected: a select group's member and
#                           GLOBAL's survive a restart (the cache directory's
#                           selected.json)
#   api_provider_refresh    PUT /providers/rules/{name} downloads that http
#                           provider alone (the other keeps its copy and count),
#                           GET /providers/rules/{name} shows it, a rule-provider
#                           is not one under /providers/proxies
#   api_provider_healthcheck /providers/proxies/{name} and its healthcheck: each
#                           of its proxies timed, the result in their history
#   api_slow_reader         a WebSocket client that never reads is dropped and
#                           the API and the tunnel stay responsive meanwhile
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="api_refuses_public api_auth api_cors api_version api_configs api_mode api_reload
api_rule_hits api_process_path api_rules_proxies api_select api_delay api_dns_query api_streams
api_logs_structured api_global api_dashboard_compat api_ctl api_connections_close api_many_connections
api_slow_reader api_store_off_loop api_store_selected api_provider_refresh api_provider_healthcheck"
# python3-websockets is Debian's: its interpreter, whatever python3 is first on PATH.
WSPY=/usr/bin/python3
/usr/bin/python3 -c 'import websockets' 2>/dev/null || fail_all "$NAMES" "python3-websockets missing"
API=127.0.0.1:9090
SECRET=s3cret-$T2S_ID
H="Authorization: Bearer $SECRET"
setup_servers "$NAMES"

CONF=$RUN_DIR/config.yaml
# profile.store-selected writes into the cache directory: ours.
export T2S_CACHE_DIR=$RUN_DIR/cache
write_conf() { # extra rule line
	cat >"$1" <<EOC
external-controller: $API
external-controller-unix: $RUN_DIR/api.sock
secret: $SECRET
profile: { store-selected: true }
external-controller-cors:
  allow-origins: [http://ui.test]
  allow-private-network: true
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
  - { name: dante2, type: socks5, server: $S_IP, port: $SOCKS_PORT }
proxy-groups:
  - { name: grp, type: select, proxies: [dante, dante2, DIRECT] }
  - { name: auto, type: url-test, proxies: [dante, dante2], url: "http://$T4/health", interval: 300 }
rule-providers:
  blk: { type: inline, behavior: domain, payload: ['+.blocked.test'] }
rules:
$2
  - RULE-SET,blk,REJECT
  - IP-CIDR6,$T6/128,REJECT
  - IP-CIDR,$T4/32,grp
  - MATCH,DIRECT
EOC
}
write_conf "$CONF" "  - DOMAIN-SUFFIX,example.test,grp"
write_conf "$RUN_DIR/second.yaml" "  - DOMAIN-SUFFIX,example.test,grp
  - DOMAIN,extra.example.test,DIRECT"

# ---- refused before anything starts -------------------------------------------------
out=$(timeout 20 ip netns exec "$NS_C" "$(daemon_bin)" --proxy "socks5://$S_IP:$SOCKS_PORT" \
	--tun tunx --controller 0.0.0.0:9091 2>&1)
rc=$?
if ((rc != 0)) && grep -q "reachable beyond this machine: set a secret" <<<"$out"; then
	pass api_refuses_public
else
	fail api_refuses_public "exit $rc: $(tail -n 2 <<<"$out")"
fi

NAMES=${NAMES#api_refuses_public }
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"

api() { cx curl -q --noproxy '*' -sS -m 10 "$@"; }
code() { api -o /dev/null -w '%{http_code}' "$@"; }
for ((i = 0; i < 100; i++)); do
	[[ $(code "http://$API/version" 2>/dev/null) == 401 ]] && break
	sleep 0.05
done
((i < 100)) || fail_all "$NAMES" "the API does not answer on $API"
jq_py() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
ws() { cx "$WSPY" "$T2S_ITEST/api_tool.py" ws "$@"; }

# ---- auth ----------------------------------------------------------------------------
c1=$(code "http://$API/version")
c2=$(code -H "Authorization: Bearer nope" "http://$API/version")
c3=$(code -H "$H" "http://$API/version")
# The unix socket asks no secret (its file mode guards it), as mihomo's.
u1=$(cx curl -q -sS -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$RUN_DIR/api.sock" http://localhost/version)
w1=$(ws "ws://$API/traffic?token=wrong" --n 1 --timeout 5)
w2=$(ws "ws://$API/traffic?token=$SECRET" --n 1 --timeout 5)
if [[ $c1 == 401 && $c2 == 401 && $c3 == 200 && $w1 == "refused 401" && $w2 == *'"up"'* && $u1 == 200 ]]; then
	pass api_auth
else
	fail api_auth "none=$c1 wrong=$c2 right=$c3 ws-wrong=[$w1] ws-right=[${w2:0:80}] unix=$u1"
fi

# ---- CORS ----------------------------------------------------------------------------
pf=$(api -i -X OPTIONS -H 'Origin: http://ui.test' -H 'Access-Control-Request-Method: PATCH' \
	-H 'Access-Control-Request-Private-Network: true' "http://$API/configs" | tr -d '\r')
other=$(api -i -X OPTIONS -H 'Origin: http://evil.test' "http://$API/configs" | tr -d '\r')
get=$(api -i -H "$H" -H 'Origin: http://ui.test' "http://$API/version" | tr -d '\r')
if grep -q '^HTTP/1.1 204' <<<"$pf" && grep -qi '^access-control-allow-origin: http://ui.test$' <<<"$pf" &&
	grep -qi '^access-control-allow-methods:.*PATCH' <<<"$pf" &&
	grep -qi '^access-control-allow-headers:.*Authorization' <<<"$pf" &&
	grep -qi '^access-control-allow-private-network: true' <<<"$pf" &&
	! grep -qi '^access-control-allow-origin' <<<"$other" &&
	grep -qi '^access-control-allow-origin: http://ui.test$' <<<"$get"; then
	pass api_cors
else
	fail api_cors "preflight: $(tr '\n' '|' <<<"$pf") other: $(tr '\n' '|' <<<"$other")"
fi

# ---- version -------------------------------------------------------------------------------
v=$(api -H "$H" "http://$API/version")
root=$(api -H "$H" "http://$API/")
c404=$(code -H "$H" "http://$API/nothing/here")
if [[ $v == *'"version":"tun2socks '* && $root == *hello* && $c404 == 404 ]]; then
	pass api_version
else
	fail api_version "version=$v root=$root unknown=$c404"
fi

# ---- configs ---------------------------------------------------------------------------------
g1=$(api -H "$H" "http://$API/configs" | jq_py 'print(d["mode"], d["log-level"])')
p1=$(code -H "$H" -X PATCH -d '{"log-level":"debug"}' "http://$API/configs")
g2=$(api -H "$H" "http://$API/configs" | jq_py 'print(d["log-level"])')
fetch_check "http://$T4/1k" "$SHA_1K" # its states are logged at debug
p2=$(code -H "$H" -X PATCH -d '{"mode":"sideways"}' "http://$API/configs")
p3=$(code -H "$H" -X PATCH -d '{not json' "http://$API/configs")
p4=$(code -H "$H" -X PATCH -d '{"log-level":"info"}' "http://$API/configs")
# mihomo's other keys mean nothing here: 400 naming the key, and the mode
# given beside it is not applied either.
p5=$(api -H "$H" -w ' %{http_code}' -X PATCH -d '{"allow-lan":true}' "http://$API/configs")
p6=$(api -H "$H" -w ' %{http_code}' -X PATCH -d '{"mode":"direct","mixed-port":7890}' "http://$API/configs")
m6=$(api -H "$H" "http://$API/configs" | jq_py 'print(d["mode"])')
dbg=$(grep -c ' debug ' "$DAEMON_LOG")
if [[ $g1 == "rule info" && $p1 == 204 && $g2 == debug && $p2 == 400 && $p3 == 400 && $p4 == 204 &&
	$p5 == *'"allow-lan cannot be changed'*' 400' && $p6 == *'"mixed-port cannot be changed'*' 400' &&
	$m6 == rule ]] && ((dbg > 0)); then
	pass api_configs
else
	fail api_configs "get=[$g1] patch-debug=$p1 then=[$g2] bad-mode=$p2 bad-json=$p3 back=$p4 debug-lines=$dbg allow-lan=[$p5] mode+port=[$p6] mode=$m6"
fi

# ---- connections: one live download, listed and closed ----------------------------------
out=$RUN_DIR/dl.out
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 200k -o "$out" "http://$T4/64m" 2>"$RUN_DIR/dl.err" &
dl=$!
conn=""
for ((i = 0; i < 50; i++)); do
	conn=$(api -H "$H" "http://$API/connections" | jq_py '
c=[x for x in d["connections"] if x["metadata"]["destinationPort"]=="80"]
if c and c[0]["download"]>0:
    x=c[0]; m=x["metadata"]
    print(x["id"], m["network"], m["destinationIP"], x["rule"], x["rulePayload"], ",".join(x["chains"]), "start" in x, d["downloadTotal"]>0)')
	[[ -n $conn ]] && break
	sleep 0.2
done
read -r cid cnet cdst crule cpay cchain cstart ctot <<<"$conn"
nf=$(code -H "$H" -X DELETE "http://$API/connections/tcp-999999")
dc=$(code -H "$H" -X DELETE "http://$API/connections/$cid")
# A reset, seen as the client's socket gone while curl still reads what it
# buffered (at 200 kB/s that can take until -m 60).
dlrc=reset
curl_reset_wait "$dl" "$T4" 80 10 || dlrc=none
gone=$(api -H "$H" "http://$API/connections" | jq_py "print(sum(1 for x in d['connections'] if x['id']=='$cid'))")
if [[ $cnet == tcp && $cdst == "$T4" && $crule == IPCIDR && $cpay == "$T4/32" && $cchain == dante,grp &&
	$cstart == True && $ctot == True && $dc == 204 && $nf == 404 && $dlrc == reset && $gone == 0 ]]; then
	pass api_connections_close
else
	fail api_connections_close "entry=[$conn] delete=$dc unknown=$nf curl=$dlrc still-listed=$gone"
fi

# ---- modes ----------------------------------------------------------------------------------
# The rules reject the IPv6 target; mode global sends everything to the
# default proxy (dante) instead, and mode rule rejects it again.
fetch_check "http://[$T6]/1k" "$SHA_1K"
before=$?
p1=$(code -H "$H" -X PATCH -d '{"mode":"global"}' "http://$API/configs")
fetch_check "http://[$T6]/1k" "$SHA_1K"
during=$?
m1=$(api -H "$H" "http://$API/configs" | jq_py 'print(d["mode"])')
p2=$(code -H "$H" -X PATCH -d '{"mode":"direct"}' "http://$API/configs")
m2=$(api -H "$H" "http://$API/configs" | jq_py 'print(d["mode"])')
p3=$(code -H "$H" -X PATCH -d '{"mode":"rule"}' "http://$API/configs")
fetch_check "http://[$T6]/1k" "$SHA_1K"
after=$?
if ((before != 0 && during == 0 && after != 0)) && [[ $p1 == 204 && $m1 == global && $p2 == 204 &&
	$m2 == direct && $p3 == 204 ]] && wait_log -E "$DAEMON_LOG" 'flow#[0-9]+ .*\[mode global\]' 5; then
	pass api_mode
else
	fail api_mode "rule=$before global=$during($p1 $m1) direct=$p2 $m2 rule-again=$after($p3)"
fi

# ---- reload ----------------------------------------------------------------------------------
r1=$(code -H "$H" -X PUT -d "{\"path\":\"$RUN_DIR/second.yaml\"}" "http://$API/configs")
n1=$(api -H "$H" "http://$API/rules" | jq_py 'print(len(d["rules"]))')
r2=$(code -H "$H" -X PUT -d '{"path":"/etc/passwd"}' "http://$API/configs")
r3=$(code -H "$H" -X PUT -d "{\"path\":\"$CONF\"}" "http://$API/configs")
n2=$(api -H "$H" "http://$API/rules" | jq_py 'print(len(d["rules"]))')
if [[ $r1 == 204 && $n1 == 6 && $r2 == 403 && $r3 == 204 && $n2 == 5 ]]; then
	pass api_reload
else
	fail api_reload "second=$r1 rules=$n1 passwd=$r2 back=$r3 rules=$n2"
fi

# ---- rule hit counts ------------------------------------------------------------------------
# The reload just above built a new generation: every count starts at 0.
h0=$(api -H "$H" "http://$API/rules" | jq_py 'print(",".join(str(r["hits"]) for r in d["rules"]))')
fetch_check "http://$T4/1k" "$SHA_1K"
f1=$?
fetch_check "http://$T4/1k" "$SHA_1K"
f2=$?
h1=$(api -H "$H" "http://$API/rules" | jq_py 'print(",".join(str(r["hits"]) for r in d["rules"]))')
hctl=$(cx "$(daemon_bin)" ctl -c "$CONF" rules 2>&1 | awk '$2 == "IPCIDR" && $3 == "'"$T4"'/32" {print $NF}')
if [[ $h0 == 0,0,0,0,0 && $f1 == 0 && $f2 == 0 && $h1 == 0,0,0,2,0 && $hctl == 2 ]]; then
	pass api_rule_hits
else
	fail api_rule_hits "before=[$h0] fetches=$f1,$f2 after=[$h1] ctl=[$hctl]"
fi

# ---- rules, proxies ---------------------------------------------------------------------------
rules=$(api -H "$H" "http://$API/rules" | jq_py 'print(";".join("%s|%s|%s" % (r["type"], r["payload"], r["proxy"]) for r in d["rules"]))')
px=$(api -H "$H" "http://$API/proxies" | jq_py 'p=d["proxies"]; print(p["dante"]["type"], p["grp"]["type"], p["grp"]["now"], ",".join(p["grp"]["all"]), p["GLOBAL"]["type"], "DIRECT" in p)')
one=$(api -H "$H" "http://$API/proxies/grp" | jq_py 'print(d["name"], d["now"])')
c404=$(code -H "$H" "http://$API/proxies/none")
prov=$(api -H "$H" "http://$API/providers/rules" | jq_py 'p=d["providers"]["blk"]; print(p["vehicleType"], p["behavior"], p["ruleCount"])')
ref=$(code -H "$H" -X PUT "http://$API/providers/rules/blk")
ref404=$(code -H "$H" -X PUT "http://$API/providers/rules/none")
pprov=$(api -H "$H" "http://$API/providers/proxies" | jq_py 'print(",".join(x["name"] for x in d["providers"]["default"]["proxies"]))')
if [[ $rules == "DomainSuffix|example.test|grp;RuleSet|blk|REJECT;IPCIDR|$T6/128|REJECT;IPCIDR|$T4/32|grp;Match||DIRECT" &&
	$px == "Socks5 Selector dante dante,dante2,DIRECT Selector True" && $one == "grp dante" && $c404 == 404 &&
	$prov == "Inline Domain 1" && $pprov == "dante,dante2" && $ref == 204 && $ref404 == 404 ]]; then
	pass api_rules_proxies
else
	fail api_rules_proxies "rules=[$rules] proxies=[$px] one=[$one] none=$c404 providers=[$prov] [$pprov] refresh=$ref unknown=$ref404"
fi

# ---- processPath -------------------------------------------------------------------------------
# A rule that asks for the process: the lookup's name and executable show
# in the connection's metadata. Then back to the first config.
write_conf "$RUN_DIR/proc.yaml" "  - DOMAIN-SUFFIX,example.test,grp
  - AND,((PROCESS-NAME,curl),(IP-CIDR,$T4/32)),grp"
want=$(readlink -f "$(type -P curl)")
pr=$(code -H "$H" -X PUT -d "{\"path\":\"$RUN_DIR/proc.yaml\"}" "http://$API/configs")
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 100k -o /dev/null "http://$T4/64m" 2>/dev/null &
dl=$!
pm=""
for ((i = 0; i < 50; i++)); do
	pm=$(api -H "$H" "http://$API/connections" | jq_py '
c=[x for x in d["connections"] if x["metadata"]["destinationPort"]=="80" and x["download"]>0]
if c:
    m=c[0]["metadata"]; print(c[0]["rule"], m["process"], m["processPath"])')
	[[ -n $pm ]] && break
	sleep 0.2
done
kill "$dl" 2>/dev/null
wait "$dl" 2>/dev/null
pb=$(code -H "$H" -X PUT -d "{\"path\":\"$CONF\"}" "http://$API/configs")
if [[ $pr == 204 && $pm == "And curl $want" && $pb == 204 ]]; then
	pass api_process_path
else
	fail api_process_path "reload=$pr entry=[$pm] want=[And curl $want] back=$pb"
fi

# ---- groups: select, delay ---------------------------------------------------------------------
s1=$(code -H "$H" -X PUT -d '{"name":"dante2"}' "http://$API/proxies/grp")
now=$(api -H "$H" "http://$API/proxies/grp" | jq_py 'print(d["now"])')
s2=$(code -H "$H" -X PUT -d '{"name":"nobody"}' "http://$API/proxies/grp")
s3=$(code -H "$H" -X PUT -d '{"name":"dante"}' "http://$API/proxies/auto")
s4=$(code -H "$H" -X PUT -d '{"name":"dante"}' "http://$API/proxies/nogroup")
fetch_check "http://$T4/1k" "$SHA_1K"
viasel=$?
wait_log -E "$DAEMON_LOG" "flow#[0-9]+ closed .*-> $T4:80 via dante2 " 5
via2=$(grep -cE "flow#[0-9]+ closed .*-> $T4:80 via dante2 " "$DAEMON_LOG")
if [[ $s1 == 204 && $now == dante2 && $s2 == 400 && $s3 == 400 && $s4 == 404 ]] && ((viasel == 0 && via2 >= 1)); then
	pass api_select
else
	fail api_select "put=$s1 now=$now bad-member=$s2 not-select=$s3 no-group=$s4 fetch=$viasel flows-via-dante2=$via2"
fi
code -H "$H" -X PUT -d '{"name":"dante"}' "http://$API/proxies/grp" >/dev/null
d1=$(api -H "$H" "http://$API/proxies/dante/delay?url=http://$T4/health&timeout=5000")
d1v=$(jq_py 'print(d["delay"] > 0)' <<<"$d1" 2>/dev/null)
d2=$(code -H "$H" "http://$API/proxies/dante/delay?url=http://192.0.2.1:9/&timeout=2000")
d3=$(code -H "$H" "http://$API/proxies/dante/delay?timeout=2000")
gd=$(api -H "$H" "http://$API/group/auto/delay?url=http://$T4/health&timeout=5000" | jq_py 'print(",".join(sorted(k for k, v in d.items() if v > 0)))')
hist=$(api -H "$H" "http://$API/proxies/dante2" | jq_py 'print(len(d["history"]), d["alive"])')
if [[ $d1v == True && ( $d2 == 503 || $d2 == 504 ) && $d3 == 400 && $gd == dante,dante2 && $hist == "1 True" ]]; then
	pass api_delay
else
	fail api_delay "proxy=[$d1] unreachable=$d2 no-url=$d3 group=[$gd] history=[$hist]"
fi

# ---- DNS ----------------------------------------------------------------------------------------
dq=$(api -H "$H" "http://$API/dns/query?name=localhost&type=A" | jq_py 'print(d["Status"], d["Answer"][0]["data"], d["Question"][0]["Name"])')
bad=$(code -H "$H" "http://$API/dns/query")
if [[ $dq == "0 127.0.0.1 localhost." && $bad == 400 ]]; then
	pass api_dns_query
else
	fail api_dns_query "answer=[$dq] no-name=$bad"
fi

# ---- streams ----------------------------------------------------------------------------------
tr_ws=$(ws "ws://$API/traffic?token=$SECRET" --n 2 --timeout 5 | grep -c '"up":')
mem_ws=$(ws "ws://$API/memory?token=$SECRET" --n 1 --timeout 5 | grep -c '"inuse":')
conn_ws=$(ws "ws://$API/connections?token=$SECRET&interval=200" --n 2 --timeout 5 | grep -c '"connections":')
ws "ws://$API/logs?token=$SECRET&level=info" --n 1 --timeout 10 >"$RUN_DIR/logs.ws" &
lw=$!
sleep 1
code -H "$H" -X PATCH -d '{"mode":"rule"}' "http://$API/configs" >/dev/null
wait "$lw"
log_ws=$(grep -c '"type":"info","payload":"api: mode rule' "$RUN_DIR/logs.ws")
tr_http=$(api -N -H "$H" -m 3 "http://$API/traffic" 2>/dev/null | grep -c '"up":')
conn_http=$(api -N -H "$H" -m 3 "http://$API/connections?interval=300" 2>/dev/null | grep -c '"connections":')
if [[ $tr_ws == 2 && $mem_ws == 1 && $conn_ws == 2 && $log_ws == 1 ]] && ((tr_http >= 2 && conn_http >= 2)); then
	pass api_streams
else
	fail api_streams "traffic-ws=$tr_ws memory=$mem_ws connections=$conn_ws logs=$log_ws ($(head -c 200 "$RUN_DIR/logs.ws")) traffic-http=$tr_http connections-http=$conn_http"
fi

# ---- structured logs --------------------------------------------------------------------------
ws "ws://$API/logs?token=$SECRET&level=info&format=structured" --n 1 --timeout 10 >"$RUN_DIR/slogs.ws" &
lw=$!
api -N -H "$H" -m 4 "http://$API/logs?level=info&format=structured" >"$RUN_DIR/slogs.http" 2>/dev/null &
lh=$!
sleep 1
code -H "$H" -X PATCH -d '{"mode":"rule"}' "http://$API/configs" >/dev/null
wait "$lw"
wait "$lh"
# one line: the four fields, the level, the message, a time of day
slog_check='
import json, re, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line: continue
    d = json.loads(line)
    if d["message"].startswith("api: mode rule"):
        ok = sorted(d) == ["fields", "level", "message", "time"] and d["level"] == "info" and d["fields"] == [] and re.fullmatch(r"\d\d:\d\d:\d\d", d["time"])
        print("ok" if ok else "bad %s" % line); break
else:
    print("none")'
sl_ws=$("$PY" -c "$slog_check" "$RUN_DIR/slogs.ws" 2>&1)
sl_http=$("$PY" -c "$slog_check" "$RUN_DIR/slogs.http" 2>&1)
if [[ $sl_ws == ok && $sl_http == ok ]]; then
	pass api_logs_structured
else
	fail api_logs_structured "ws=[$sl_ws] ($(head -c 200 "$RUN_DIR/slogs.ws")) http=[$sl_http] ($(head -c 200 "$RUN_DIR/slogs.http"))"
fi

# ---- GLOBAL -----------------------------------------------------------------------------------
# The rules reject the IPv6 target; in mode global it goes where GLOBAL
# points: dante2, then REJECT, then the group grp (its member dante).
g0=$(api -H "$H" "http://$API/proxies/GLOBAL" | jq_py 'print(d["now"], ",".join(d["all"]))')
code -H "$H" -X PATCH -d '{"mode":"global"}' "http://$API/configs" >/dev/null
gs1=$(code -H "$H" -X PUT -d '{"name":"dante2"}' "http://$API/proxies/GLOBAL")
gn1=$(api -H "$H" "http://$API/proxies/GLOBAL" | jq_py 'print(d["now"])')
fetch_check "http://[$T6]/1k" "$SHA_1K"
gf1=$?
wait_log -E "$DAEMON_LOG" "flow#[0-9]+ closed .*-> \[$T6\]:80 via dante2 " 5
gv1=$(grep -cE "flow#[0-9]+ closed .*-> \[$T6\]:80 via dante2 " "$DAEMON_LOG")
gs2=$(code -H "$H" -X PUT -d '{"name":"REJECT"}' "http://$API/proxies/GLOBAL")
fetch_check "http://[$T6]/1k" "$SHA_1K"
gf2=$?
gs3=$(code -H "$H" -X PUT -d '{"name":"grp"}' "http://$API/proxies/GLOBAL")
fetch_check "http://[$T6]/1k" "$SHA_1K"
gf3=$?
gs4=$(code -H "$H" -X PUT -d '{"name":"nobody"}' "http://$API/proxies/GLOBAL")
gl=$(api -H "$H" "http://$API/group" | jq_py 'print(",".join(g["name"] for g in d["proxies"]))')
code -H "$H" -X PATCH -d '{"mode":"rule"}' "http://$API/configs" >/dev/null
fetch_check "http://[$T6]/1k" "$SHA_1K"
gf4=$?
# left on dante2 for api_store_selected
code -H "$H" -X PUT -d '{"name":"dante2"}' "http://$API/proxies/GLOBAL" >/dev/null
# (--proxy given: its upstream, "proxy", until a member is chosen)
if [[ $g0 == "proxy DIRECT,REJECT,dante,dante2,grp,auto" && $gs1 == 204 && $gn1 == dante2 && $gf1 == 0 &&
	$gs2 == 204 && $gf2 != 0 && $gs3 == 204 && $gf3 == 0 && $gs4 == 400 && $gf4 != 0 &&
	$gl == grp,auto,GLOBAL ]] && ((gv1 >= 1)); then
	pass api_global
else
	fail api_global "before=[$g0] dante2=$gs1 now=$gn1 fetch=$gf1 via-dante2=$gv1 reject=$gs2 fetch=$gf2 grp=$gs3 fetch=$gf3 unknown=$gs4 groups=[$gl] rule-mode=$gf4"
fi

# ---- what a Clash dashboard (yacd) asks, as it asks it ------------------------------------------
compat=$(cx "$WSPY" "$T2S_ITEST/api_compat.py" "$API" "$SECRET" grp dante2 "http://$T4/health" 2>&1)
code -H "$H" -X PUT -d '{"name":"dante"}' "http://$API/proxies/grp" >/dev/null
if [[ $compat == *"compat ok"* ]]; then
	pass api_dashboard_compat
else
	fail api_dashboard_compat "$(tr '\n' '|' <<<"$compat" | tail -c 400)"
fi

# ---- tun2socks ctl ------------------------------------------------------------------------------
ctl() { cx "$(daemon_bin)" ctl -c "$CONF" "$@"; }
cx curl -q --noproxy '*' -sS -m 60 --limit-rate 100k -o /dev/null "http://$T4/64m" 2>/dev/null &
dl=$!
tbl=""
for ((i = 0; i < 50; i++)); do
	tbl=$(ctl connections 2>&1)
	grep -qE "^tcp-[0-9]+ +tcp .*$T4:80 +dante<grp +IPCIDR" <<<"$tbl" && break
	sleep 0.2
done
cid=$(grep -oE "^tcp-[0-9]+" <<<"$(grep -E "$T4:80 " <<<"$tbl")" | head -n 1)
watch=$(timeout 3 ip netns exec "$NS_C" "$(daemon_bin)" ctl -c "$CONF" connections --watch 1 2>&1 | grep -c 'ID  *NET  *SOURCE')
ctl close "$cid" >/dev/null 2>&1
cl=$?
dlrc=reset
curl_reset_wait "$dl" "$T4" 80 10 || dlrc=none
ctl close tcp-999999 >/dev/null 2>&1
cl404=$?
ctl select grp dante2 >/dev/null 2>&1
sel=$?
now=$(api -H "$H" "http://$API/proxies/grp" | jq_py 'print(d["now"])')
ctl select grp dante >/dev/null 2>&1
dly=$(ctl delay dante --url "http://$T4/health" --timeout 5000 2>&1)
rl=$(ctl rules 2>&1 | grep -c 'RuleSet')
ctl reload >/dev/null 2>&1
rel=$?
bad=$(cx "$(daemon_bin)" ctl -c "$CONF" --secret wrong rules 2>&1)
badrc=$?
if [[ -n $cid && $cl == 0 && $dlrc == reset && $cl404 == 1 && $sel == 0 && $now == dante2 &&
	$dly =~ ^dante:\ [0-9]+\ ms$ && $rl == 1 && $rel == 0 && $badrc == 1 && $bad == *"HTTP 401"* ]] &&
	((watch >= 2)); then
	pass api_ctl
else
	fail api_ctl "table=[$(head -c 300 <<<"$tbl")] id=$cid close=$cl curl=$dlrc unknown=$cl404 select=$sel now=$now delay=[$dly] rules=$rl reload=$rel wrong-secret=$badrc [$bad] watch=$watch"
fi

# ---- 1000 connections, and a client that never reads ------------------------------------------
coproc IDLE { ip netns exec "$NS_C" "$PY" "$T2S_ITEST/tclient.py" idle --host "$T4" --port "$HOLD_PORT" --n 1000 --hold 90 2>&1; }
idle_pid=$IDLE_PID
read -r -t 60 line <&"${IDLE[0]}"
log "idle client: ${line:-nothing}"
n=0
for ((i = 0; i < 50; i++)); do
	n=$(api -H "$H" "http://$API/connections" | jq_py 'print(sum(1 for x in d["connections"] if x["metadata"]["destinationPort"]=="'$HOLD_PORT'"))')
	((n >= 1000)) && break
	sleep 0.2
done
# The slow reader: /connections every 100 ms (about 400 KB each with 1000
# flows), never read.
cx "$WSPY" "$T2S_ITEST/api_tool.py" noread 127.0.0.1 9090 "/connections?token=$SECRET&interval=100" \
	--secs 12 >"$RUN_DIR/noread.out" 2>&1 &
nr=$!
sleep 2
slow=0 worst=0
for ((i = 0; i < 5; i++)); do
	t0=$(now)
	c=$(code -H "$H" "http://$API/version")
	e=$(elapsed "$t0")
	lt "$worst" "$e" && worst=$e
	[[ $c == 200 ]] || slow=$((slow + 1))
	sleep 1
done
fetch_check "http://$T4/1k" "$SHA_1K"
fetched=$?
wait "$nr"
nrout=$(cat "$RUN_DIR/noread.out")
if [[ $nrout == *closed* ]] && ((slow == 0 && fetched == 0)) && lt "$worst" 3; then
	pass api_slow_reader
else
	fail api_slow_reader "reader: [$nrout] failed-gets=$slow worst=${worst}s fetch=$fetched"
fi
dall=$(code -H "$H" -X DELETE "http://$API/connections")
left=-1
for ((i = 0; i < 50; i++)); do
	left=$(api -H "$H" "http://$API/connections" | jq_py 'print(sum(1 for x in d["connections"] if x["metadata"]["destinationPort"]=="'$HOLD_PORT'"))')
	((left == 0)) && break
	sleep 0.2
done
closed=$(grep -c 'closed through the control API' "$DAEMON_LOG")
echo >&"${IDLE[1]}" 2>/dev/null
kill "$idle_pid" 2>/dev/null
wait "$idle_pid" 2>/dev/null
if ((n >= 1000 && left == 0 && closed >= 1000)) && [[ $dall == 204 ]]; then
	pass api_many_connections
else
	fail api_many_connections "listed=$n delete=$dall left=$left closed-lines=$closed"
fi

# ---- store-selected off the loop ------------------------------------------------------------
# file_atomic_write's temporary file made a FIFO: opening it for writing
# waits for a reader. On the loop that would stop everything.
fifo="$T2S_CACHE_DIR/selected.json.tmp.$DAEMON_PID"
mkdir -p "$T2S_CACHE_DIR"
mkfifo "$fifo"
so1=$(code -H "$H" -m 5 -X PUT -d '{"name":"dante2"}' "http://$API/proxies/grp")
so2=$(code -H "$H" -m 5 "http://$API/version")
fetch_check "http://$T4/1k" "$SHA_1K"
sof=$?
stext=$(timeout 10 cat "$fifo") # a reader: the write goes on
for ((i = 0; i < 50; i++)); do
	[[ -e $fifo ]] || break # renamed over selected.json
	sleep 0.1
done
rm -f "$T2S_CACHE_DIR/selected.json" # the FIFO, renamed; rewritten below
if [[ $so1 == 204 && $so2 == 200 && $sof == 0 && $stext == *'"grp":"dante2"'* ]]; then
	pass api_store_off_loop
else
	fail api_store_off_loop "put=$so1 version=$so2 fetch=$sof written=[$stext]"
fi

# ---- store-selected: the selection survives a restart --------------------------------------
s1=$(code -H "$H" -X PUT -d '{"name":"dante2"}' "http://$API/proxies/grp")
# written on a worker after the answer: wait for it
stored=""
for ((i = 0; i < 50; i++)); do
	stored=$(cat "$T2S_CACHE_DIR/selected.json" 2>/dev/null)
	[[ $stored == *'"grp":"dante2"'* ]] && break
	sleep 0.1
done
daemon_finish
now=""
if daemon_start "socks5://$S_IP:$SOCKS_PORT" -c "$CONF"; then
	for ((i = 0; i < 100; i++)); do
		[[ $(code "http://$API/version" 2>/dev/null) == 401 ]] && break
		sleep 0.05
	done
	now=$(api -H "$H" "http://$API/proxies/grp" | jq_py 'print(d["now"])')
fi
gnow=$(api -H "$H" "http://$API/proxies/GLOBAL" | jq_py 'print(d["now"])')
if [[ $s1 == 204 && $stored == *'"grp":"dante2"'* && $stored == *'"GLOBAL":"dante2"'* && $now == dante2 &&
	$gnow == dante2 ]] && grep -q "store-selected: group grp uses dante2" "$DAEMON_LOG"; then
	pass api_store_selected
else
	fail api_store_selected "put=$s1 file=[$stored] after restart now=[$now] GLOBAL=[$gnow]"
fi

# ---- providers by name ---------------------------------------------------------------------------
# Two http rule-providers from nginx (through dante, downloaded at the
# reload since nothing is cached), a file proxy-provider used by a group.
printf '+.one.test\n' >"$RUN_DIR/www/rp1.txt"
printf '+.two.test\n' >"$RUN_DIR/www/rp2.txt"
printf 'proxies:\n  - { name: pdante, type: socks5, server: %s, port: %s }\n' "$S_IP" "$SOCKS_PORT" >"$RUN_DIR/pp.yaml"
cat >"$RUN_DIR/prov.yaml" <<EOC
external-controller: $API
secret: $SECRET
proxies:
  - { name: dante, type: socks5, server: $S_IP, port: $SOCKS_PORT }
proxy-providers:
  pp: { type: file, path: $RUN_DIR/pp.yaml }
proxy-groups:
  - { name: pgrp, type: select, use: [pp], url: "http://$T4/health", timeout: 5000 }
rule-providers:
  rp1: { type: http, behavior: domain, format: text, proxy: dante, url: "http://$T4/rp1.txt" }
  rp2: { type: http, behavior: domain, format: text, proxy: dante, url: "http://$T4/rp2.txt" }
rules:
  - RULE-SET,rp1,REJECT
  - RULE-SET,rp2,REJECT
  - MATCH,DIRECT
EOC
counts() { api -H "$H" "http://$API/providers/rules" | jq_py 'p=d["providers"]; print(p["rp1"]["ruleCount"], p["rp2"]["ruleCount"])' 2>/dev/null; }
pl=$(code -H "$H" -X PUT -d "{\"path\":\"$RUN_DIR/prov.yaml\"}" "http://$API/configs")
c0=""
for ((i = 0; i < 100; i++)); do
	c0=$(counts)
	[[ $c0 == "1 1" ]] && break
	sleep 0.2
done
at2=$(api -H "$H" "http://$API/providers/rules/rp2" | jq_py 'print(d["updatedAt"], d["vehicleType"])')
sleep 1.1 # updatedAt has seconds
printf '+.one.test\n+.uno.test\n' >"$RUN_DIR/www/rp1.txt"
printf '+.two.test\n+.dos.test\n+.tres.test\n' >"$RUN_DIR/www/rp2.txt"
pr1=$(code -H "$H" -X PUT "http://$API/providers/rules/rp1")
c1=""
for ((i = 0; i < 50; i++)); do
	c1=$(counts)
	[[ $c1 == "2 1" ]] && break
	sleep 0.2
done
at2b=$(api -H "$H" "http://$API/providers/rules/rp2" | jq_py 'print(d["updatedAt"], d["vehicleType"])')
one=$(api -H "$H" "http://$API/providers/rules/rp1" | jq_py 'print(d["name"], d["type"], d["behavior"], d["format"], d["ruleCount"])')
wrong=$(code -H "$H" -X PUT "http://$API/providers/proxies/rp1")
none=$(code -H "$H" "http://$API/providers/rules/none")
if [[ $pl == 204 && $c0 == "1 1" && $pr1 == 204 && $c1 == "2 1" && $at2 == "$at2b" && $at2 == *" HTTP" &&
	$one == "rp1 Rule Domain TextRule 2" && $wrong == 404 && $none == 404 ]]; then
	pass api_provider_refresh
else
	fail api_provider_refresh "reload=$pl start=[$c0] put=$pr1 after=[$c1] rp2 at=[$at2] then [$at2b] one=[$one] wrong-kind=$wrong unknown=$none"
fi

pp=$(api -H "$H" "http://$API/providers/proxies/pp" | jq_py 'print(d["name"], d["vehicleType"], ",".join(x["name"] for x in d["proxies"]), d["testUrl"])')
h0=$(api -H "$H" "http://$API/proxies/pdante" | jq_py 'print(len(d["history"]))')
hc=$(code -H "$H" "http://$API/providers/proxies/pp/healthcheck")
h1=$(api -H "$H" "http://$API/proxies/pdante" | jq_py 'print(len(d["history"]), d["history"][0]["delay"] > 0 if d["history"] else "")')
hcn=$(code -H "$H" "http://$API/providers/proxies/none/healthcheck")
pd=$(api -H "$H" "http://$API/providers/proxies/pp/pdante/healthcheck?url=http://$T4/health&timeout=5000" | jq_py 'print(d["delay"] > 0)')
if [[ $pp == "pp File pdante http://$T4/health" && $h0 == 0 && $hc == 204 && $h1 == "1 True" && $hcn == 404 &&
	$pd == True ]]; then
	pass api_provider_healthcheck
else
	fail api_provider_healthcheck "provider=[$pp] history before=$h0 check=$hc after=[$h1] unknown=$hcn proxy=[$pd]"
fi

daemon_finish
t2s_finish
