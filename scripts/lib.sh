# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it defines functions and
# T2S_ROOT (the repository root, resolved from this file's location so the
# scripts work from any cwd). Bash only.

# shellcheck disable=SC2034 # used by the scripts that source this file
T2S_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

t2s_log() { printf '[%s] %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >&2; }
t2s_die() { printf '[%s] error: %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >&2; exit 1; }

t2s_nproc() {
	nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null ||
		sysctl -n hw.ncpu 2>/dev/null || echo 2
}

# Runs a command as root: directly when we are root, else through sudo when
# it works without a password prompt (CI has no stdin).
t2s_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		t2s_die "need root to run: $*"
	fi
}

# True on any system managed by apt/dpkg (Debian, Ubuntu, ...).
t2s_have_apt() {
	command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1
}

# True on Debian proper: pinned sources come from Debian's own archive.
t2s_is_debian() {
	[ -r /etc/os-release ] || return 1
	# shellcheck disable=SC1091
	(. /etc/os-release && [ "${ID:-}" = debian ])
}

t2s_deb_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Installs the given Debian packages that are not installed yet; runs the
# system's `apt-get update` once per script run, and only if something is
# actually missing.
T2S_APT_UPDATED=${T2S_APT_UPDATED:-0}
t2s_apt_install() {
	local missing=() p
	for p in "$@"; do
		t2s_deb_installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	t2s_log "installing: ${missing[*]}"
	if [ "$T2S_APT_UPDATED" != 1 ]; then
		t2s_as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2 ||
			t2s_die "apt-get update failed"
		T2S_APT_UPDATED=1
	fi
	t2s_as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
		--no-install-recommends "${missing[@]}" >&2 ||
		t2s_die "apt-get install ${missing[*]} failed"
}

# usage: t2s_write_if_changed FILE  (content on stdin)
# Replaces FILE only when the content differs, so that CMake does not see a
# new timestamp (and reconfigure) for nothing. Returns 0 if FILE changed.
t2s_write_if_changed() {
	local file=$1 tmp
	tmp=$(mktemp "${file}.XXXXXX")
	cat >"$tmp"
	if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
		return 1
	fi
	chmod 644 "$tmp"
	mv -f "$tmp" "$file"
	return 0
}
