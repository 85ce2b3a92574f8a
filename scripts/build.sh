#!/usr/bin/env bash
# scripts/build.sh [--asan | --fuzz] [--release] [--test] [--clean] [-- CMAKE_ARGS...]
#
# Installs/fetches what is missing (scripts/deps.sh), configures when needed
# and builds with all CPUs. Works from any directory; quick when nothing
# changed (no refetch, no reconfigure, dependencies built once).
#
#   (default)  build/       RelWithDebInfo (-O2 -g)       -> build/tun2socks
#   --asan     build-asan/  + ASan/UBSan (-DT2S_SANITIZE=ON)
#   --fuzz     build-fuzz/  CC=clang, libFuzzer targets (-DT2S_FUZZ=ON);
#                           only the fuzz targets unless --test
#   --release  Release build type (-O3 -DNDEBUG) in the chosen directory
#   --test     run ctest afterwards
#   --clean    delete the chosen build directory first (keeps build/deps)
#   -- ARGS    extra arguments for the cmake configure step
# Environment: T2S_BUILD_DIR overrides the build directory; T2S_DEPS_DIR,
# T2S_DEPS_CACHE, T2S_DEBIAN_MIRROR, T2S_NO_INSTALL: see scripts/deps.sh.
set -euo pipefail

T2S_LOG_TAG=build
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

variant=default
build_type=RelWithDebInfo
run_tests=0
clean=0
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--asan) variant=asan ;;
	--fuzz) variant=fuzz ;;
	--release) build_type=Release ;;
	--test) run_tests=1 ;;
	--clean) clean=1 ;;
	--)
		shift
		extra=("$@")
		break
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) t2s_die "unknown argument: $1 (see --help)" ;;
	esac
	shift
done

deps_flags=()
mode_args=()
case $variant in
default)
	bdir=$T2S_ROOT/build
	mode_args=(-DT2S_SANITIZE=OFF -DT2S_FUZZ=OFF)
	;;
asan)
	bdir=$T2S_ROOT/build-asan
	mode_args=(-DT2S_SANITIZE=ON -DT2S_FUZZ=OFF)
	;;
fuzz)
	bdir=$T2S_ROOT/build-fuzz
	mode_args=(-DT2S_FUZZ=ON -DT2S_SANITIZE=OFF)
	deps_flags=(--fuzz)
	;;
esac
bdir=${T2S_BUILD_DIR:-$bdir}

if [ "$clean" = 1 ] && [ -d "$bdir" ]; then
	# build/deps (fetched sources, tarball cache) lives inside build/: keep it.
	t2s_log "cleaning $bdir (keeping deps/)"
	find "$bdir" -mindepth 1 -maxdepth 1 ! -name deps -exec rm -rf {} +
fi
mkdir -p "$bdir"
# Tool output (apt, cmake, compiler) goes to this log; the terminal gets a
# line per step.
t2s_log_open "$bdir/logs/build.log"
t2s_log "log: $T2S_LOG"

# (${a[@]+"${a[@]}"} expands an empty array under set -u in bash 3.2 too.)
# Fetch/install first; deps.sh prints the cmake arguments it wants.
deps_out=$(bash "$T2S_ROOT/scripts/deps.sh" ${deps_flags[@]+"${deps_flags[@]}"}) ||
	exit 1
deps_args=()
while IFS= read -r line; do
	[ -n "$line" ] && deps_args+=("$line")
done <<<"$deps_out"

cmake_args=(-DCMAKE_BUILD_TYPE="$build_type" "${mode_args[@]}"
	${deps_args[@]+"${deps_args[@]}"} ${extra[@]+"${extra[@]}"})

# Configure only when the build dir is new or the arguments changed; later
# edits to CMake files are picked up by the build step itself.
stamp=$bdir/.t2s-configure-args
want=$(printf '%s\n' "${cmake_args[@]}")
if [ ! -f "$bdir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	gen_args=()
	if [ ! -f "$bdir/CMakeCache.txt" ] && [ -z "${CMAKE_GENERATOR:-}" ] &&
		command -v ninja >/dev/null 2>&1; then
		gen_args=(-G Ninja)
	fi
	rm -f "$stamp"
	t2s_log "configuring ${bdir#"$T2S_ROOT"/}"
	if [ "$variant" = fuzz ]; then
		CC=${CC:-clang}
		case $CC in *clang*) ;; *) CC=clang ;; esac
		export CC
	fi
	t2s_logged "configuring $bdir" cmake -S "$T2S_ROOT" -B "$bdir" \
		${gen_args[@]+"${gen_args[@]}"} "${cmake_args[@]}"
	printf '%s\n' "$want" >"$stamp"
fi

jobs=$(t2s_nproc)
kind="make"
[ -f "$bdir/build.ninja" ] && kind=ninja
t2s_log_note "building $bdir with $jobs jobs"
rc=0
# A fuzz build that runs no ctest needs only the fuzz targets.
targets=()
[ "$variant" = fuzz ] && [ "$run_tests" = 0 ] && targets=(--target fuzzers)
cmake --build "$bdir" --parallel "$jobs" ${targets[@]+"${targets[@]}"} 2>&1 |
	t2s_progress "$kind" building || rc=$?
[ "$rc" -eq 0 ] || t2s_fail "build failed"

if [ "$run_tests" = 1 ]; then
	# What unit tests run: the openssl tool (the TLS test's certificates),
	# python3 (the geodata writer, the HTTP test server) and microsocks
	# (real SOCKS5 members for the HTTP client and health checks).
	if t2s_have_apt && [ "${T2S_NO_INSTALL:-0}" != 1 ]; then
		t2s_apt_install openssl python3 microsocks
	fi
	t2s_log "running the unit tests (ctest)"
	(cd "$bdir" && ctest --output-on-failure --parallel "$jobs")
fi

if [ -x "$bdir/tun2socks" ]; then
	t2s_log "built ${bdir#"$T2S_ROOT"/}/tun2socks"
fi
