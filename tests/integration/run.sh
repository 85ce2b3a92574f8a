#!/usr/bin/env bash
# Run the integration tests (real servers in network namespaces; needs root).
#
#   bash tests/integration/run.sh                 # all test_*.sh
#   bash tests/integration/run.sh auth ipv6       # scripts whose name contains a word
#   T2S_LEAK_CHECK=1 bash tests/integration/run.sh   # daemon under ASan/valgrind
#
# Prints "PASS name" / "FAIL name (reason)" per test ("SKIP name (reason)"
# for one this machine cannot run: not counted), the log of every
# script that failed (daemon, danted, nginx logs included), then a closing
# line "N passed, M failed". Exits non-zero on any failure.
#
# Options: -v  stream every script's log while it runs
#          -l  list the scripts and exit
#          -n  do not try to build the daemon when build/tun2socks is missing
# Environment: see tests/integration/lib.sh (T2S_BIN, T2S_KEEP, ...);
#   T2S_TEST_TIMEOUT  seconds one script may run (default 300, x4 under
#                     T2S_LEAK_CHECK)
#   T2S_STRESS=N      run the scripts with `stress-ng --cpu N` busy beside
#                     them (a loaded CI machine); it is stopped when they end
#   T2S_KEEP_LOGS=1   keep every script's log (with a timestamp per test),
#                     not only those of failed scripts
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERBOSE=0
BUILD=1
LIST=0
while getopts vln opt; do
	case $opt in
	v) VERBOSE=1 ;;
	l) LIST=1 ;;
	n) BUILD=0 ;;
	*) sed -n '2,21p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

scripts=()
# the harness self-test first: it tells a broken sandbox from a broken daemon
for s in "$HERE"/test_harness.sh "$HERE"/test_*.sh; do
	[[ -f $s ]] || continue
	[[ $s != "$HERE/test_harness.sh" || ${#scripts[@]} -eq 0 ]] || continue
	name=$(basename "$s" .sh)
	if (($#)); then
		keep=0
		for w in "$@"; do [[ $name == *"$w"* ]] && keep=1; done
		((keep)) || continue
	fi
	scripts+=("$s")
done
if ((LIST)); then
	for s in "${scripts[@]}"; do basename "$s"; done
	exit 0
fi
if ((${#scripts[@]} == 0)); then
	echo "no test script matches: $*"
	echo "0 passed, 1 failed"
	exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "FAIL integration (needs root for network namespaces)"
	echo "0 passed, 1 failed"
	exit 1
fi

# Build the daemon when it is missing and a build script exists.
bin=${T2S_BIN:-$ROOT/build/tun2socks}
if ((BUILD)) && [[ ! -x $bin && -z ${T2S_BIN:-} && -f $ROOT/scripts/build.sh ]]; then
	echo "# building the daemon (bash scripts/build.sh)"
	if ! (cd "$ROOT" && bash scripts/build.sh) >/tmp/t2s-build.$$.log 2>&1; then
		echo "# build failed:"
		tail -n 30 /tmp/t2s-build.$$.log | sed 's/^/    | /'
	fi
	rm -f /tmp/t2s-build.$$.log
fi
[[ -x $bin ]] || echo "# note: no daemon binary at $bin: daemon scenarios will fail"

limit=${T2S_TEST_TIMEOUT:-300}
[[ ${T2S_LEAK_CHECK:-0} == 1 ]] && limit=$((limit * 4))

LOGDIR=$(mktemp -d /tmp/t2s-itest-logs.XXXXXX)
passed=0
failed=0
durations=()
child=
on_signal() {
	[[ -n $child ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
	stop_stress
	echo "interrupted"
	echo "$passed passed, $((failed + 1)) failed"
	exit 130
}
trap on_signal INT TERM

# Adversarial load beside the tests: every core kept busy, time-bounded
# by the run itself (and by stress-ng's own timeout, should we be killed).
stress=
if [[ -n ${T2S_STRESS:-} ]]; then
	if ! command -v stress-ng >/dev/null; then
		echo "FAIL stress (T2S_STRESS set but stress-ng is not installed)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	stress-ng --cpu "$T2S_STRESS" --timeout $((limit * ${#scripts[@]} + 60))s \
		>"$LOGDIR/stress-ng.log" 2>&1 &
	stress=$!
	echo "# stress-ng --cpu $T2S_STRESS (pid $stress) runs beside the tests"
fi
stop_stress() { [[ -n $stress ]] && kill -TERM "$stress" 2>/dev/null && wait "$stress" 2>/dev/null; }

for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	log=$LOGDIR/$name.log
	start=$(date +%s)
	# timeout sends SIGTERM first: the script's trap tears its namespaces down.
	: >"$log"
	timeout -k 20 "$limit" bash "$s" >"$log" 2>&1 &
	child=$!
	((VERBOSE)) && tail -n +1 -f --pid="$child" "$log"
	wait "$child"
	rc=$?
	child=
	dur=$(($(date +%s) - start))
	durations+=("$name ${dur}s")
	# SKIP lines (a test the machine cannot run, with the reason) are
	# shown, not counted.
	results=$(grep -E '^(PASS|FAIL|SKIP) ' "$log" | sed -E 's/^(PASS [^ ]+|FAIL [^ ]+ \(.*\)).*/\1/')
	np=$(grep -c '^PASS ' <<<"$results")
	nf=$(grep -c '^FAIL ' <<<"$results")
	((VERBOSE)) || [[ -z $results ]] || echo "$results"
	if ((rc == 124 || rc == 137)); then
		echo "FAIL $name (timed out after ${limit}s)"
		nf=$((nf + 1))
	elif ((rc != 0 && nf == 0)); then
		echo "FAIL $name (script exited $rc without a result)"
		nf=$((nf + 1))
	fi
	passed=$((passed + np))
	failed=$((failed + nf))
	if ((nf > 0 && !VERBOSE)); then
		echo "    --- $name log ($log, ${dur}s) ---"
		grep -vE '^(PASS|FAIL) ' "$log" | tail -n 250 | sed 's/^/    | /'
	fi
done
stop_stress
echo "# time per script: ${durations[*]}"

if ((failed == 0)) && [[ -z ${T2S_KEEP_LOGS:-} ]]; then
	rm -rf "$LOGDIR"
else
	echo "# logs: $LOGDIR"
fi
echo "$passed passed, $failed failed"
((failed == 0))
