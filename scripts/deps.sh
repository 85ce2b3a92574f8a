#!/usr/bin/env bash
# scripts/deps.sh [--fuzz] [--no-install]
#
# Prepares what the CMake build needs from outside this repository:
#  - build tools and system libraries (on apt systems: installs only what is
#    missing, running `apt-get update` once first when something is);
#  - pinned upstream sources: lwIP 2.2.1 always, c-ares (>= 1.28 < 2) and
#    mbedTLS (>= 3.6 < 3.7) when the system's are missing or too old.
#    On Debian they come from Debian source packages (only the upstream
#    *.orig.tar.* is used), fetched with a private apt configuration under
#    the deps dir; the system's apt configuration is never touched. Elsewhere
#    nothing is fetched here: CMake's FetchContent takes them from upstream
#    git at configure time.
# Writes $T2S_DEPS_DIR/deps.cmake (included by the top CMakeLists.txt) and
# prints the cmake argument that points at it on stdout; logs go to stderr.
#
# Environment:
#  T2S_DEPS_DIR          work dir (default: <repo>/build/deps)
#  T2S_DEPS_CACHE        fetched tarballs (default: $T2S_DEPS_DIR/cache)
#  T2S_DEBIAN_MIRROR     Debian archive URI (default: taken from the
#                        machine's apt sources, the entry for its release)
#  T2S_DEPS_FROM_SOURCE  1: build c-ares and mbedTLS from source even when
#                        the system's are new enough
#  T2S_NO_INSTALL        1: never install packages (same as --no-install)
set -euo pipefail

T2S_LOG_TAG=deps
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

want_fuzz=0
no_install=${T2S_NO_INSTALL:-0}
for arg in "$@"; do
	case $arg in
	--fuzz) want_fuzz=1 ;;
	--no-install) no_install=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) t2s_die "unknown argument: $arg" ;;
	esac
done

deps_dir=${T2S_DEPS_DIR:-$T2S_ROOT/build/deps}
mkdir -p "$deps_dir"
deps_dir=$(cd "$deps_dir" && pwd)
cache_dir=${T2S_DEPS_CACHE:-$deps_dir/cache}
src_root=$deps_dir/src
apt_dir=$deps_dir/apt
mkdir -p "$cache_dir" "$src_root"
cache_dir=$(cd "$cache_dir" && pwd)

# Two builds started at once (say build.sh and build.sh --asan) share this
# directory: serialise them.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$deps_dir/.lock"
	flock 9
fi

# --- tools and system libraries ---------------------------------------------

install_tools() {
	[ "$no_install" = 1 ] && return 0
	if t2s_have_apt; then
		t2s_apt_install build-essential cmake ninja-build pkg-config \
			libuv1-dev libyaml-dev xz-utils bzip2 tar
		if [ "$want_fuzz" = 1 ]; then
			t2s_apt_install clang
			local major
			major=$(clang -dumpversion | cut -d. -f1)
			# Since LLVM 14 Debian ships libFuzzer and the sanitizer
			# runtimes in libclang-rt-N-dev.
			if [ "$major" -ge 14 ]; then
				t2s_apt_install "libclang-rt-$major-dev"
			fi
		fi
	elif [ "$(uname -s)" = Darwin ] && command -v brew >/dev/null 2>&1; then
		local f missing=()
		for f in cmake ninja pkg-config libuv libyaml; do
			brew list --versions "$f" >/dev/null 2>&1 || missing+=("$f")
		done
		if [ "${#missing[@]}" -gt 0 ]; then
			t2s_log "brew install ${missing[*]}"
			brew install "${missing[@]}" >&2
		fi
	fi
}

check_tools() {
	local t
	for t in cmake pkg-config tar; do
		command -v "$t" >/dev/null 2>&1 || t2s_die "missing tool: $t"
	done
	if [ "$want_fuzz" = 1 ]; then
		command -v clang >/dev/null 2>&1 || t2s_die "--fuzz needs clang"
	fi
}

# True when the system's library satisfies the supported range.
system_has() {
	[ "${T2S_DEPS_FROM_SOURCE:-0}" = 1 ] && return 1
	case $1 in
	c-ares)
		pkg-config --atleast-version=1.28 libcares 2>/dev/null &&
			! pkg-config --atleast-version=2 libcares 2>/dev/null
		;;
	mbedtls)
		# mbedTLS ships .pc files since 3.6 (Debian's 2.28 has none).
		pkg-config --atleast-version=3.6 mbedtls 2>/dev/null &&
			! pkg-config --atleast-version=3.7 mbedtls 2>/dev/null
		;;
	*) return 1 ;;
	esac
}

# --- versions ---------------------------------------------------------------

# Upstream part of a Debian version: 1:2.2.1+dfsg1-1+deb13u1 -> 2.2.1.
upstream_of() {
	local v=${1#*:}
	case $v in *-*) v=${v%-*} ;; esac
	printf '%s\n' "$v" | sed -E 's/[+~](dfsg|ds|repack)[0-9.]*.*$//'
}

in_range() { # name upstream-version
	case $1 in
	lwip) [ "$2" = 2.2.1 ] ;;
	c-ares) dpkg --compare-versions "$2" ge 1.28 &&
		dpkg --compare-versions "$2" lt 2~ ;;
	mbedtls) dpkg --compare-versions "$2" ge 3.6 &&
		dpkg --compare-versions "$2" lt 3.7~ ;;
	*) return 1 ;;
	esac
}

# Sorts Debian versions (one per line on stdin) newest first.
sort_versions_desc() {
	local sorted=() v i j tmp
	while IFS= read -r v; do
		[ -n "$v" ] && sorted+=("$v")
	done
	for ((i = 1; i < ${#sorted[@]}; i++)); do
		for ((j = i; j > 0; j--)); do
			dpkg --compare-versions "${sorted[j]}" gt "${sorted[j - 1]}" || break
			tmp=${sorted[j]}
			sorted[j]=${sorted[j - 1]}
			sorted[j - 1]=$tmp
		done
	done
	[ "${#sorted[@]}" -gt 0 ] && printf '%s\n' "${sorted[@]}"
	return 0
}

# --- Debian archive, through a private apt configuration --------------------

# The Debian archive URI from the machine's own apt sources: the first entry
# (one-line or deb822 format) whose suites include the running release's
# codename; failing that, the first entry with a plain release suite (no
# -updates/-security/-backports). Comments and disabled stanzas are skipped.
debian_mirror() {
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

apt_opts=()
apt_ready=0
apt_prepare() {
	[ "$apt_ready" = 1 ] && return 0
	local mirror
	mirror=$(debian_mirror || true)
	[ -n "$mirror" ] ||
		t2s_die "no Debian archive URI in the apt sources; set T2S_DEBIAN_MIRROR"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	local s
	for s in trixie forky sid; do
		printf 'deb-src [trusted=yes] %s %s main\n' "$mirror" "$s"
	done >"$apt_dir/sources.list"
	apt_opts=(
		-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::Cache=$apt_dir/cache"
		-o "Acquire::Languages=none"
	)
	# As root apt downloads as the _apt user, which may not be allowed into
	# the build tree; the files are only tarballs we unpack ourselves.
	[ "$(id -u)" -eq 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
	t2s_log "apt-get update (private source list under $apt_dir, archive $mirror)"
	if ! apt-get -q "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1; then
		cat "$apt_dir/update.log" >&2
		t2s_die "apt-get update with the private source list failed"
	fi
	apt_ready=1
}

# Downloads the newest in-range source package of PKG whose files are all
# there (some listed versions 404) and keeps its orig tarball in the cache;
# sets fetched_orig to its path. Runs in the main shell (apt state is kept).
fetched_orig=""
apt_fetch_orig() { # name pkg
	local name=$1 pkg=$2 versions v tmp orig
	fetched_orig=""
	apt_prepare
	versions=$(apt-cache "${apt_opts[@]}" showsrc "$pkg" 2>/dev/null |
		awk -v p="$pkg" '/^Package: /{cur=$2} /^Version: /{if (cur == p) print $2}' |
		sort -u | sort_versions_desc)
	[ -n "$versions" ] || t2s_die "no source package $pkg in the Debian archive"
	while IFS= read -r v; do
		in_range "$name" "$(upstream_of "$v")" || continue
		tmp=$(mktemp -d "$apt_dir/dl.XXXXXX")
		t2s_log "trying $pkg=$v"
		if (cd "$tmp" && apt-get -q "${apt_opts[@]}" source --download-only "$pkg=$v") \
			>"$tmp.log" 2>&1; then
			orig=$(find "$tmp" -maxdepth 1 -type f -name "${pkg}_*.orig.tar.*" \
				! -name '*.asc' | head -n 1)
			if [ -n "$orig" ]; then
				mv -f "$orig" "$cache_dir/"
				rm -rf "$tmp" "$tmp.log"
				t2s_log "fetched $(basename "$orig") (from $pkg $v)"
				fetched_orig=$cache_dir/$(basename "$orig")
				return 0
			fi
		fi
		t2s_log "  $pkg=$v: $(grep -m1 -E '^(E|W): ' "$tmp.log" || echo 'download failed')"
		rm -rf "$tmp" "$tmp.log"
	done <<<"$versions"
	t2s_die "no version of $pkg in the supported range could be downloaded"
}

# The newest in-range orig tarball of PKG already in the cache, if any.
cached_orig() { # name pkg
	local name=$1 pkg=$2 f b v best="" best_v=""
	for f in "$cache_dir/${pkg}"_*.orig.tar.*; do
		[ -f "$f" ] || continue
		case $f in *.asc | *.tmp) continue ;; esac
		b=${f##*/}
		v=${b#"${pkg}"_}
		v=${v%%.orig.tar.*}
		in_range "$name" "$(upstream_of "$v")" || continue
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best_v"; then
			best=$f
			best_v=$v
		fi
	done
	[ -n "$best" ] && printf '%s\n' "$best"
	return 0
}

# Makes $src_root/NAME hold the unpacked upstream sources of Debian source
# package PKG; sets source_dir to that directory.
source_dir=""
ensure_debian_source() { # name pkg
	local name=$1 pkg=$2 dest=$src_root/$1 stamp tarball have="" tmp top
	source_dir=$dest
	stamp=$dest/.t2s-orig
	[ -f "$stamp" ] && have=$(cat "$stamp")
	tarball=$(cached_orig "$name" "$pkg")
	if [ -z "$tarball" ] && [ -n "$have" ]; then
		# Unpacked earlier, the cache since cleaned: keep what we have if
		# it is still in range.
		local v=${have#"${pkg}"_}
		v=${v%%.orig.tar.*}
		if in_range "$name" "$(upstream_of "$v")"; then
			return 0
		fi
	fi
	if [ -z "$tarball" ]; then
		apt_fetch_orig "$name" "$pkg"
		tarball=$fetched_orig
	fi
	if [ "$have" = "${tarball##*/}" ] && [ -d "$dest" ]; then
		return 0
	fi
	t2s_log "unpacking ${tarball##*/} into $dest"
	tmp=$(mktemp -d "$src_root/.unpack.XXXXXX")
	tar -xf "$tarball" -C "$tmp" || { rm -rf "$tmp"; t2s_die "cannot unpack $tarball"; }
	top=$(find "$tmp" -mindepth 1 -maxdepth 1)
	if [ "$(printf '%s\n' "$top" | wc -l)" -ne 1 ] || [ ! -d "$top" ]; then
		rm -rf "$tmp"
		t2s_die "${tarball##*/}: expected a single top-level directory"
	fi
	rm -rf "$dest"
	mv "$top" "$dest"
	rmdir "$tmp"
	printf '%s\n' "${tarball##*/}" >"$stamp"
}

check_tree() { # dir file...
	local d=$1 f
	shift
	for f in "$@"; do
		[ -e "$d/$f" ] || t2s_die "$d: missing $f (unexpected source layout)"
	done
}

# --- main -------------------------------------------------------------------

install_tools
check_tools

lwip_dir="" cares_dir="" mbedtls_dir=""
if t2s_is_debian || [ -n "${T2S_DEBIAN_MIRROR:-}" ]; then
	ensure_debian_source lwip lwip
	lwip_dir=$source_dir
	check_tree "$lwip_dir" src/core/init.c src/core/ipv4/ip4.c src/core/ipv6/ip6.c \
		src/include/lwip/init.h
	if system_has c-ares; then
		t2s_log "c-ares: system $(pkg-config --modversion libcares)"
	else
		ensure_debian_source c-ares c-ares
		cares_dir=$source_dir
		check_tree "$cares_dir" CMakeLists.txt include/ares_version.h
	fi
	if system_has mbedtls; then
		t2s_log "mbedTLS: system $(pkg-config --modversion mbedtls)"
	else
		ensure_debian_source mbedtls mbedtls
		mbedtls_dir=$source_dir
		# Release tarballs carry the generated sources and the framework
		# submodule, so GEN_FILES=OFF needs neither python nor git.
		check_tree "$mbedtls_dir" CMakeLists.txt framework/CMakeLists.txt \
			library/error.c library/psa_crypto_driver_wrappers.h
	fi
else
	t2s_log "not Debian: CMake will use system packages or FetchContent (upstream git)"
fi

deps_file=$deps_dir/deps.cmake
if {
	echo "# Generated by scripts/deps.sh; included by the top CMakeLists.txt."
	echo "# An empty directory means: system package if new enough, else FetchContent."
	echo "set(T2S_DEPS_LWIP_SOURCE_DIR \"$lwip_dir\")"
	echo "set(T2S_DEPS_CARES_SOURCE_DIR \"$cares_dir\")"
	echo "set(T2S_DEPS_MBEDTLS_SOURCE_DIR \"$mbedtls_dir\")"
} | t2s_write_if_changed "$deps_file"; then
	t2s_log "wrote $deps_file"
fi
printf '%s\n' "-DT2S_DEPS_FILE=$deps_file"
