# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it turns on pipefail (the
# progress pipes rely on it) and defines functions and
# T2S_ROOT (the repository root, resolved from this file's location so the
# scripts work from any cwd). Bash only.

set -o pipefail

# shellcheck disable=SC2034 # used by the scripts that source this file
T2S_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---- output ----------------------------------------------------------------
# A person reads one terminal line per step; everything the tools print
# (apt, cmake, the compiler) goes to a log file, whose tail and path are
# shown when a step fails. T2S_LOG names that file; the first script of a
# run opens it (t2s_log_open) and the scripts it starts append to it.

t2s_log() { printf '[%s] %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >&2; t2s_log_note "$*"; }
t2s_warn() { t2s_log "warning: $*"; }
t2s_die() {
	printf '[%s] error: %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >&2
	t2s_log_note "error: $*"
	exit 1
}

# Appends a line to the log (when one is open), marked so that a step's
# output can be found in it.
t2s_log_note() {
	[ -n "${T2S_LOG:-}" ] && printf '==== [%s] %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >>"$T2S_LOG"
	return 0
}

# usage: t2s_log_open FILE
# Opens FILE (truncated) as the run's log unless a parent script did.
t2s_log_open() {
	[ -n "${T2S_LOG:-}" ] && return 0
	mkdir -p "$(dirname "$1")"
	T2S_LOG=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	: >"$T2S_LOG"
	export T2S_LOG
}

# Prints what failed, the last lines of the log and its path; exits 1.
t2s_fail() {
	printf '[%s] error: %s\n' "${T2S_LOG_TAG:-t2s}" "$*" >&2
	if [ -n "${T2S_LOG:-}" ] && [ -s "$T2S_LOG" ]; then
		printf -- '---- last lines of %s ----\n' "$T2S_LOG" >&2
		tail -n "${T2S_LOG_TAIL:-25}" "$T2S_LOG" >&2
		printf -- '---- full log: %s\n' "$T2S_LOG" >&2
	fi
	exit 1
}

# usage: t2s_logged WHAT CMD...
# Runs CMD with its output appended to the log; on failure: t2s_fail WHAT.
t2s_logged() {
	local what=$1
	shift
	if [ -z "${T2S_LOG:-}" ]; then
		"$@" >&2 || t2s_die "$what failed"
		return 0
	fi
	t2s_log_note "$what: $*"
	"$@" >>"$T2S_LOG" 2>&1 || t2s_fail "$what failed"
}

# usage: CMD | t2s_progress KIND LABEL
# Copies a tool's output to the log and shows LABEL with its progress on one
# terminal line: redrawn in place on a terminal, else a line per quarter.
# KIND says how progress is printed: ninja ("[212/369] ..."), make
# ("[ 42%] ..."), apt (APT::Status-Fd lines "pmstatus:pkg:42.5:..." and
# "dlstatus:...", other lines are ordinary output).
t2s_progress() {
	local kind=$1 label=$2 line shown="" pct quarter last=-1 tty=0 any=0
	[ -t 2 ] && tty=1
	while IFS= read -r line; do
		shown=""
		case $kind in
		ninja)
			if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then
				shown="[${BASH_REMATCH[1]}/${BASH_REMATCH[2]}]"
				pct=$((BASH_REMATCH[1] * 100 / BASH_REMATCH[2]))
			fi
			;;
		make)
			if [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then
				pct=${BASH_REMATCH[1]}
				shown="[$pct%]"
			fi
			;;
		apt)
			if [[ $line =~ ^(pm|dl)status:[^:]*:([0-9]+) ]]; then
				pct=${BASH_REMATCH[2]}
				# downloads are the first half, unpack/configure the second
				if [ "${BASH_REMATCH[1]}" = dl ]; then
					pct=$((pct / 2))
				else
					pct=$((50 + pct / 2))
				fi
				shown="[$pct%]"
			fi
			;;
		esac
		if [ -n "${T2S_LOG:-}" ] && [[ $kind != apt || -z $shown ]]; then
			printf '%s\n' "$line" >>"$T2S_LOG"
		fi
		[ -n "$shown" ] || continue
		any=1
		if [ "$tty" = 1 ]; then
			printf '\r\033[K[%s] %s %s' "${T2S_LOG_TAG:-t2s}" "$label" "$shown" >&2
		else
			quarter=$((pct / 25))
			if [ "$quarter" -ne "$last" ]; then
				last=$quarter
				printf '[%s] %s %s\n' "${T2S_LOG_TAG:-t2s}" "$label" "$shown" >&2
			fi
		fi
	done
	[ "$tty" = 1 ] && [ "$any" = 1 ] && printf '\n' >&2
	return 0
}

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

# usage: t2s_apt_install PKG...
# Installs the Debian packages that are not installed yet, without their
# recommends: one terminal line with progress, apt's output in the log. Runs
# the system's `apt-get update` once per run (T2S_APT_UPDATED is exported so
# child scripts do not repeat it), and only when something is missing.
# T2S_APT_NO_SERVICES=1: the packages' own services (nginx, danted, ...) are
# not started on the host while installing (a policy-rc.d for the duration).
T2S_APT_UPDATED=${T2S_APT_UPDATED:-0}
t2s_apt_install() {
	local missing=() p rc=0 policy=/usr/sbin/policy-rc.d made_policy=0 what
	for p in "$@"; do
		t2s_deb_installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	if [ "${#missing[@]}" -eq 1 ]; then what="installing ${missing[0]}"
	else what="installing ${#missing[@]} packages"; fi
	t2s_log_note "$what: ${missing[*]}"
	if [ "$T2S_APT_UPDATED" != 1 ]; then
		t2s_log "updating the package index (apt-get update)"
		t2s_logged "apt-get update" t2s_as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get -q update
		T2S_APT_UPDATED=1
		export T2S_APT_UPDATED
	fi
	if [ "${T2S_APT_NO_SERVICES:-0}" = 1 ] && [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		made_policy=1
		trap 'rm -f "$policy"; exit 130' INT TERM
	fi
	# Status lines (APT::Status-Fd) go through the pipe to the progress
	# line; apt's ordinary output to the log.
	# (pipefail, set by every script here, makes apt's status the pipe's.)
	t2s_as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		--no-install-recommends -o APT::Status-Fd=1 install "${missing[@]}" \
		2>>"${T2S_LOG:-/dev/stderr}" | t2s_progress apt "$what" || rc=$?
	if [ "$made_policy" = 1 ]; then
		rm -f "$policy"
		trap - INT TERM
	fi
	[ "$rc" -eq 0 ] || t2s_fail "apt-get install ${missing[*]} failed"
}

# The Debian archive URI from the machine's own apt sources: the first entry
# (one-line or deb822 format) whose suites include the running release's
# codename; failing that, the first entry with a plain release suite (no
# -updates/-security/-backports). Comments and disabled stanzas are skipped.
t2s_debian_mirror() {
	if [ -n "${T2S_DEBIAN_MIRROR:-}" ]; then
		printf '%s\n' "$T2S_DEBIAN_MIRROR"
		return 0
	fi
	local codename files=() f
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")
	[ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && files+=("$f")
	done
	[ "${#files[@]}" -gt 0 ] || return 1
	awk -v want="$codename" '
		function consider(uri, suites,   n, s, i) {
			if (uri == "" || uri ~ /^cdrom:/) return
			n = split(suites, s, /[ \t]+/)
			for (i = 1; i <= n; i++) {
				if (s[i] == "") continue
				if (want != "" && s[i] == want && exact == "") exact = uri
				if (s[i] !~ /-/ && plain == "") plain = uri
			}
		}
		function flush() {
			if (types ~ /(^|[ \t])deb(-src)?([ \t]|$)/ && tolower(enabled) != "no") {
				split(uris, u, /[ \t]+/)
				for (k = 1; k in u; k++) if (u[k] != "") { consider(u[k], suites); break }
			}
			types = uris = suites = enabled = ""; key = ""
		}
		FNR == 1 { if (deb822) flush(); deb822 = (FILENAME ~ /\.sources$/) }
		deb822 {
			if ($0 ~ /^[ \t]*#/) next
			if ($0 ~ /^[ \t]*$/) { flush(); next }
			if ($0 ~ /^[ \t]/) {   # continuation line
				if (key == "uris") uris = uris " " $0
				else if (key == "suites") suites = suites " " $0
				next
			}
			key = tolower($0); sub(/:.*/, "", key)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "types") types = val
			else if (key == "uris") uris = val
			else if (key == "suites") suites = val
			else if (key == "enabled") enabled = val
			next
		}
		{
			line = $0; sub(/#.*/, "", line)
			n = split(line, f, /[ \t]+/)
			i = 1; while (i <= n && f[i] == "") i++
			if (f[i] != "deb" && f[i] != "deb-src") next
			i++
			if (substr(f[i], 1, 1) == "[") {
				while (i <= n && f[i] !~ /\]$/) i++
				i++
			}
			consider(f[i], f[i + 1])
		}
		END {
			if (deb822) flush()
			if (exact != "") print exact
			else if (plain != "") print plain
		}
	' "${files[@]}"
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
