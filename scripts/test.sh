#!/usr/bin/env bash
# Build and run every test: the README's test command, and what CI runs.
#
#   bash scripts/test.sh              # everything (needs root for namespaces)
#   T2S_FUZZ_SECONDS=30 bash scripts/test.sh
#   T2S_SKIP="fuzz leak" bash scripts/test.sh   # skip stages by name
#
# Stages, in order:
#   fresh        scripts/fresh-check.sh --demo: a minimal Debian 12 root made
#                with debootstrap, where the build, the unit tests and the
#                demo must install everything they need themselves
#   source       scripts/format.sh --check (clang-format, the repository's
#                .clang-format) and scripts/check-includes.sh
#   unit         default build (RelWithDebInfo), ctest: unit tests and the
#                fuzz targets replaying their seed corpora
#   asan         the same under AddressSanitizer + UBSan
#   fuzz         clang libFuzzer build; every fuzz target runs for
#                T2S_FUZZ_SECONDS (default 45) from its seed corpus, one
#                target per core at a time
#   integration  real servers in network namespaces (tests/integration),
#                the whole suite with stress-ng --cpu 2 busy beside it (a
#                busy 2-core CI machine); T2S_SKIP=stress runs it unloaded
#   leak         the integration tests again with the ASan daemon; any
#                LeakSanitizer report fails them
# Installs whatever is missing (build tools, clang, test servers) first.
# Ends with one line "N passed, M failed" over all stages' tests.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
FUZZ_SECONDS=${T2S_FUZZ_SECONDS:-45}
SKIP=" ${T2S_SKIP:-} "
LOGDIR=$ROOT/build/test-logs
passed=0
failed=0
failures=()

stage_on() { [[ $SKIP != *" $1 "* ]]; }
# Each banner closes the stage before it: its time goes into the summary
# (CI must stay under an hour; this says where the hour goes).
stage_times=()
stage_name=
stage_start=$SECONDS
banner() {
	[[ -n $stage_name ]] && stage_times+=("$stage_name: $((SECONDS - stage_start)) s")
	stage_name=$*
	stage_start=$SECONDS
	printf '\n==== %s ====\n' "$*"
}

# Adds a stage's "N passed, M failed" (or ctest's summary) to the totals.
count_ctest() { # LOG NAME
	local total fails
	total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$1" | tail -1)
	fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -1)
	if [ -z "$total" ]; then
		failed=$((failed + 1)); failures+=("$2: no test summary (build failed?)")
		return
	fi
	passed=$((passed + total - fails)); failed=$((failed + fails))
	[ "$fails" -eq 0 ] || failures+=("$2: $fails failed")
}
count_plain() { # LOG NAME
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failures+=("$2: no summary line")
		return
	fi
	p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("$2: $f failed")
}

mkdir -p "$LOGDIR"
if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/test.sh: integration tests need root (network namespaces, TUN); run as root" >&2
	exit 2
fi
banner "installing what is missing"
bash scripts/install-test-deps.sh || { echo "dependency install failed" >&2; exit 1; }

if stage_on fresh; then
	banner "a fresh Debian 12 root: build, unit tests and the demo"
	bash scripts/fresh-check.sh --demo 2>&1 | tee "$LOGDIR/fresh.log"
	count_plain "$LOGDIR/fresh.log" fresh
fi

if stage_on source; then
	banner "source: formatting and include layering"
	for check in "scripts/format.sh --check" scripts/check-includes.sh; do
		# shellcheck disable=SC2086 # the check's own arguments
		if bash $check > "$LOGDIR/source.log" 2>&1; then
			echo "PASS $check"
			passed=$((passed + 1))
		else
			echo "FAIL $check"
			tail -20 "$LOGDIR/source.log"
			failed=$((failed + 1)); failures+=("source: $check")
		fi
	done
fi

if stage_on unit; then
	banner "unit tests (default build)"
	bash scripts/build.sh --test 2>&1 | tee "$LOGDIR/unit.log"
	count_ctest "$LOGDIR/unit.log" unit
fi

if stage_on asan; then
	banner "unit tests under ASan + UBSan"
	bash scripts/build.sh --asan --test 2>&1 | tee "$LOGDIR/asan.log"
	count_ctest "$LOGDIR/asan.log" asan
fi

# fuzz_one BIN: one fuzz target from its seed corpus for FUZZ_SECONDS; its
# verdict goes to build-fuzz/verdicts/NAME (the targets run side by side).
fuzz_one() {
	local bin=$1 name short work d runs
	local seeds=()
	name=$(basename "$bin"); short=${name#fuzz_}
	work=build-fuzz/corpus-run/$short
	mkdir -p "$work" build-fuzz/artifacts
	for d in "tests/fuzz/corpus/$short" "tests/fuzz/corpus/$name"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build-fuzz/artifacts/$short-" \
		-print_final_stats=1 "$work" "${seeds[@]}" > "$LOGDIR/$name.log" 2>&1; then
		runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$LOGDIR/$name.log" | grep -o '[0-9]*$')
		echo "PASS $name ($runs runs)" > "build-fuzz/verdicts/$name"
	else
		echo "FAIL $name (see $LOGDIR/$name.log)" > "build-fuzz/verdicts/$name"
	fi
}

if stage_on fuzz; then
	# One target per core at a time: each still gets FUZZ_SECONDS of a
	# whole core, and the stage takes half the time on a 2-core machine.
	fuzz_jobs=$(nproc 2>/dev/null || echo 1)
	banner "fuzzing, ${FUZZ_SECONDS}s per target, $fuzz_jobs at a time"
	if bash scripts/build.sh --fuzz > "$LOGDIR/fuzz-build.log" 2>&1; then
		rm -rf build-fuzz/verdicts && mkdir -p build-fuzz/verdicts
		bins=()
		for bin in build-fuzz/tests/fuzz_*; do
			[ -x "$bin" ] && bins+=("$bin")
		done
		running=0
		for bin in "${bins[@]}"; do
			if [ "$running" -ge "$fuzz_jobs" ]; then
				wait -n
				running=$((running - 1))
			fi
			fuzz_one "$bin" &
			running=$((running + 1))
		done
		wait
		for bin in "${bins[@]}"; do
			name=$(basename "$bin")
			verdict=$(cat "build-fuzz/verdicts/$name" 2>/dev/null || echo "FAIL $name (no verdict)")
			echo "$verdict"
			if [[ $verdict == PASS* ]]; then
				passed=$((passed + 1))
			else
				tail -30 "$LOGDIR/$name.log"
				failed=$((failed + 1)); failures+=("fuzz: $name")
			fi
		done
	else
		tail -30 "$LOGDIR/fuzz-build.log"
		failed=$((failed + 1)); failures+=("fuzz: build failed")
	fi
fi

if stage_on integration; then
	# Every integration test must hold on a busy 2-core machine: the one
	# pass of the suite runs with every core kept busy (README, "Tests").
	if stage_on stress; then
		banner "integration tests (network namespaces, real servers) beside stress-ng --cpu 2"
		T2S_STRESS=2 bash tests/integration/run.sh -n 2>&1 | tee "$LOGDIR/integration.log"
	else
		banner "integration tests (network namespaces, real servers)"
		bash tests/integration/run.sh -n 2>&1 | tee "$LOGDIR/integration.log"
	fi
	count_plain "$LOGDIR/integration.log" integration
fi

if stage_on leak; then
	banner "integration tests with the ASan daemon (leak check)"
	[ -x build-asan/tun2socks ] || bash scripts/build.sh --asan > "$LOGDIR/asan-build.log" 2>&1
	T2S_LEAK_CHECK=1 bash tests/integration/run.sh -n 2>&1 | tee "$LOGDIR/leak.log"
	count_plain "$LOGDIR/leak.log" leak
fi

banner "summary"
printf '%s\n' "${stage_times[@]}"
echo "total: $SECONDS s"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
