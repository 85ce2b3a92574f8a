#!/usr/bin/env bash
# TCP semantics through the tunnel:
#  half_close       the client sends 1 MiB and shuts its write side; the
#                   server answers only after that FIN: the answer must
#                   still arrive (a FIN is a half-close, not a close).
#  idle_timeout     with --idle-timeout 2 an idle flow is closed after about
#                   2 s (between 1.5 and 6 s), and a busy flow (a 1 MB/s
#                   download for 4 s) is not.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t2s_init
NAMES="half_close_v4 half_close_v6 idle_timeout_closes idle_timeout_spares_busy"
setup_servers "$NAMES" none
IT=2
start_or_fail "$NAMES" "socks5://$S_IP:$SOCKS_PORT" --idle-timeout "$IT"

for v in 4 6; do
	host=$T4; [[ $v == 6 ]] && host=$T6
	out=$(cx "$PY" "$T2S_ITEST/tclient.py" halfclose --host "$host" --port "$EOF_PORT" \
		--bytes $((1 << 20)) --timeout $((10 * SLOW)) 2>&1)
	rc=$?
	log "half_close_v$v: $out"
	if ((rc == 0)); then pass "half_close_v$v"
	else fail "half_close_v$v" "$out$(alive_note)"; fi
done

out=$(cx "$PY" "$T2S_ITEST/tclient.py" idlewait --host "$T4" --port "$HOLD_PORT" --timeout 10 2>&1)
rc=$?
log "idle_timeout: $out"
secs=$(sed -nE 's/.* after ([0-9.]+)s.*/\1/p' <<<"$out")
if ((rc != 0)); then fail idle_timeout_closes "idle flow not closed: $out (--idle-timeout $IT)$(alive_note)"
elif lt "${secs:-0}" 1.5 || ! lt "${secs:-99}" $((IT + 4)); then
	fail idle_timeout_closes "$out, want about ${IT}s"
else
	pass idle_timeout_closes
fi

# busy: curl's own --max-time must be what ends it (exit 28), not the daemon
err=$(ccurl --max-time 4 -o "$RUN_DIR/busy.out" "http://$T4/slow/64m" 2>&1)
rc=$?
size=$(stat -c %s "$RUN_DIR/busy.out" 2>/dev/null || echo 0)
log "busy flow: curl exit $rc, $size bytes: $err"
rm -f "$RUN_DIR/busy.out"
# (exit 28 is the proof: a flow the daemon ended would give 18 or 56
# before 4 s; how many bytes came depends on the machine's load)
if ((rc == 28 && size > 0)); then pass idle_timeout_spares_busy
else fail idle_timeout_spares_busy "curl exit $rc after $size bytes ($err), want 28 (its own 4 s limit)$(alive_note)"; fi

daemon_finish
t2s_finish
