#!/usr/bin/env bash
# scripts/fresh-check.sh [--demo] [--full] [--keep] [--worktree]
#
# Proves the README's install path on a machine that has nothing: bootstraps
# a minimal Debian 12 root (debootstrap --variant=minbase bookworm, with
# Debian's default apt configuration and nothing else), copies a clean clone
# of this repository in, and runs there, as root with an empty environment
# (env -i), `bash scripts/build.sh --test`: the build, its dependency
# install and fetch, and the unit tests. The host's apt configuration, caches
# and packages take no part: whatever the fresh root lacks, the scripts must
# install themselves.
#
#   --demo      also run `bash scripts/demo.sh` in the fresh root
#   --full      run the whole test command there (`bash scripts/test.sh`,
#               its own fresh stage skipped) instead of build.sh --test:
#               about as long as a CI run
#   --keep      keep the root afterwards (build/fresh-root) for a look
#   --worktree  copy the working tree (with uncommitted changes) instead of
#               a clone of HEAD
#
# Every mount made here (proc, sys, dev, run) is undone on exit, also on
# failure, Ctrl-C or SIGTERM. Needs root and the network (the Debian
# archive named by the machine's apt sources, or T2S_DEBIAN_MIRROR).
# Ends with "N passed, M failed" like the other test stages.
set -euo pipefail

T2S_LOG_TAG=fresh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_demo=0 run_full=0 keep=0 from_worktree=0
for arg in "$@"; do
	case $arg in
	--demo) run_demo=1 ;;
	--full) run_full=1 ;;
	--keep) keep=1 ;;
	--worktree) from_worktree=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) t2s_die "unknown argument: $arg (see --help)" ;;
	esac
done

[ "$(id -u)" -eq 0 ] || t2s_die "must run as root (debootstrap, chroot, mounts)"
t2s_have_apt || t2s_die "needs a Debian-like host (debootstrap from apt)"

root=${T2S_FRESH_ROOT:-$T2S_ROOT/build/fresh-root}
cache=${T2S_FRESH_CACHE:-$T2S_ROOT/build/fresh-cache}
suite=bookworm
mkdir -p "$(dirname "$root")" "$cache"
root=$(cd "$(dirname "$root")" && pwd)/$(basename "$root")
cache=$(cd "$cache" && pwd)
t2s_log_open "$T2S_ROOT/build/logs/fresh-check.log"
t2s_log "log: $T2S_LOG"

# --- mounts, and undoing them -------------------------------------------------

# Mount points under $root, innermost last, from the kernel's own table (so
# that mounts a killed earlier run left behind are found too).
mounts_under_root() {
	awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r
}

# Kills what still runs inside the root (a daemon the demo started, a
# stuck build), then unmounts everything under it.
release_root() {
	local p m pids=()
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=("${p#/proc/}")
	done
	if [ "${#pids[@]}" -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		sleep 1
		kill -KILL "${pids[@]}" 2>/dev/null || true
	fi
	for m in $(mounts_under_root); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			t2s_warn "could not unmount $m"
	done
}

remove_root() {
	release_root
	if [ -n "$(mounts_under_root)" ]; then
		# Never rm -rf through a mount: it would reach the host's /dev.
		t2s_warn "mounts remain under $root; not removing it"
		return 1
	fi
	rm -rf --one-file-system "$root"
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$keep" = 1 ]; then
		release_root
		t2s_log "kept $root"
	else
		remove_root || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_in_root() { # type source target [options]
	mkdir -p "$root/$3"
	mount -t "$1" ${4:+-o "$4"} "$2" "$root/$3"
}

# --- the root -----------------------------------------------------------------

if [ -e "$root" ]; then
	t2s_log "removing the previous fresh root"
	remove_root || t2s_die "cannot remove $root"
fi

mirror=$(t2s_debian_mirror || true)
[ -n "$mirror" ] || t2s_die "no Debian archive URI in the apt sources; set T2S_DEBIAN_MIRROR"
t2s_apt_install debootstrap git
t2s_log "bootstrapping a minimal Debian 12 ($suite) root"
t2s_logged "debootstrap" debootstrap --variant=minbase --cache-dir="$cache" \
	"$suite" "$root" "$mirror"

# What a fresh machine has: the apt sources debootstrap wrote, no apt.conf.d
# additions (Debian's minbase ships a couple of its own; keep those).
[ -s "$root/etc/apt/sources.list" ] || t2s_die "debootstrap wrote no apt sources"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap writes no /etc/hosts; Debian's installer (and every image)
# does, so a fresh machine resolves localhost: give the root the same.
[ -e "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' >"$root/etc/hosts"

# The root is a mount point of its own (a bind onto itself, not shared back
# to the host), as / is on a real machine: `ip netns exec` remounts / as a
# slave and fails on a plain directory.
mount --bind "$root" "$root"
mount --make-rslave "$root"
mount_in_root proc proc /proc
mount_in_root sysfs sysfs /sys
mount_in_root tmpfs tmpfs /run mode=0755
# /dev from the host (bind, not shared back): /dev/net/tun for the TUN
# unit test, /dev/null, /dev/urandom, ptys.
mkdir -p "$root/dev"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"

if [ "$from_worktree" = 1 ]; then
	t2s_log "copying the working tree"
	mkdir -p "$root/src"
	(cd "$T2S_ROOT" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - -cf -) | tar -xf - -C "$root/src"
else
	t2s_log "cloning $(git -C "$T2S_ROOT" rev-parse --short HEAD)"
	t2s_logged "git clone" git clone -q --no-hardlinks "$T2S_ROOT" "$root/src"
fi

# --- the checks ---------------------------------------------------------------

passed=0 failed=0
in_root() { # what command...
	local what=$1
	shift
	t2s_log "in the fresh root: $what"
	# A clean environment: only what a root login shell would have.
	if chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
		LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /src && $*" 2>&1 | sed -u 's/^/  | /'; then
		printf 'PASS fresh: %s\n' "$what"
		passed=$((passed + 1))
	else
		printf 'FAIL fresh: %s\n' "$what"
		failed=$((failed + 1))
	fi
}

if [ "$run_full" = 1 ]; then
	in_root "every test (bash scripts/test.sh)" "T2S_SKIP=fresh bash scripts/test.sh"
else
	in_root "build and unit tests (bash scripts/build.sh --test)" \
		"set -o pipefail; bash scripts/build.sh --test 2>&1 | grep -v -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed'"
fi
in_root "the daemon runs (tun2socks --version, check)" \
	"build/tun2socks --version && printf 'rules:\n  - MATCH,DIRECT\n' >/tmp/c.yaml && build/tun2socks check -c /tmp/c.yaml"
if [ "$run_demo" = 1 ]; then
	in_root "the demo (bash scripts/demo.sh)" "bash scripts/demo.sh"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
