#!/usr/bin/env bash
# Harness self-test: proves the topology and the real servers without the
# daemon: C is isolated from the targets, and proxychains4 through danted
# reaches them (download, upload, IPv6, username auth).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
require_tools danted nginx proxychains4
topo_up
servers_up none || { fail harness_servers "servers did not start"; t2s_finish; }
start_dante username "$SOCKS_AUTH_PORT" danted-auth || { fail harness_servers "auth danted did not start"; t2s_finish; }

if cx curl -q --noproxy '*' -s -o /dev/null --max-time 2 "http://$T4/1k"; then
	fail harness_isolation "C reaches $T4 without any tunnel"
else
	pass harness_isolation
fi

PC=$RUN_DIR/pc.conf
pc_conf "$PC"
pcx() { cx proxychains4 -q -f "$PC" "$@"; }

ok=1
for f in 1k 64m; do
	sha=$SHA_1K; [[ $f == 64m ]] && sha=$SHA_64M
	out=$RUN_DIR/pc.$f
	if ! pcx curl -q --noproxy '*' -sS --max-time 60 -o "$out" "http://$T4/$f" 2>"$out.err"; then
		fail harness_socks_download "$f: curl: $(head -c 200 "$out.err")"; ok=0; break
	fi
	[[ $(sha256sum <"$out" | cut -d' ' -f1) == "$sha" ]] || { fail harness_socks_download "$f sha256 mismatch"; ok=0; break; }
	rm -f "$out"
done
if ((ok)); then
	if grep -q "$T4\.$HTTP_PORT" "$RUN_DIR/danted.log"; then pass harness_socks_download
	else fail harness_socks_download "danted log does not show $T4.$HTTP_PORT"; fi
fi

reply=$(pcx curl -q --noproxy '*' -sS --max-time 60 -H 'Expect:' -T "$RUN_DIR/www/64m" "http://$T4:$SINK_PORT/upload" 2>&1)
if [[ $reply == "$SHA_64M $((64 << 20))" ]]; then pass harness_socks_upload
else fail harness_socks_upload "sink replied: ${reply:0:200}"; fi

reply=$(pcx curl -q --noproxy '*' -sS --max-time 10 -g "http://[$T6]/1k" 2>&1 | sha256sum | cut -d' ' -f1)
if [[ $reply == "$SHA_1K" ]]; then pass harness_socks_ipv6
else fail harness_socks_ipv6 "IPv6 via proxychains failed"; fi

pc_conf "$PC" "$SOCKS_AUTH_PORT" "$AUTH_USER" "$AUTH_PASS"
good=$(pcx curl -q --noproxy '*' -sS --max-time 10 "http://$T4/1k" 2>&1 | sha256sum | cut -d' ' -f1)
pc_conf "$PC" "$SOCKS_AUTH_PORT" "$AUTH_USER" wrong-password
t0=$(now)
if pcx curl -q --noproxy '*' -sS --max-time 10 -o /dev/null "http://$T4/1k" 2>/dev/null; then bad=ok; else bad=failed; fi
el=$(elapsed "$t0")
if [[ $good == "$SHA_1K" && $bad == failed ]]; then pass harness_socks_auth
else fail harness_socks_auth "right password: $([[ $good == "$SHA_1K" ]] && echo ok || echo failed); wrong password: $bad in ${el}s"; fi

t2s_finish
