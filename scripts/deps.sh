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
t2s_log_open "$deps_dir/deps.log"

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
		# gcc, make and libc headers without the rest of build-essential
		# (no g++: the project is C only).
		t2s_apt_install gcc libc6-dev make cmake ninja-build pkg-config \
			libuv1-dev libyaml-dev xz-utils bzip2 tar \
			libpcre2-dev libidn2-dev libzstd-dev libmaxminddb-dev \
			libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libpsl-dev \
			libwebsockets-dev libjansson-dev
		# sd-bus: systemd-resolved pointed at the TUN (Linux only)
		t2s_apt_install libsystemd-dev
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
		for f in cmake ninja pkg-config libuv libyaml pcre2 libidn2 zstd libmaxminddb protobuf-c curl libpsl libwebsockets jansson; do
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
	for t in cmake pkg-config tar protoc-c; do
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

# The suites searched for in-range sources, newest stable first. trixie
# alone has all three today; the later ones are there for when it no longer
# has (a suite that cannot be used is only a warning).
suites=${T2S_DEBIAN_SUITES:-trixie forky sid}
keyring=${T2S_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

# apt runs with a configuration of its own (APT_CONFIG, and Dir::Etc
# pointing under $apt_dir), so nothing in the machine's apt.conf.d,
# sources, keyrings, preferences or dpkg status changes what it does: a
# host that disables Valid-Until checks, pins, proxies or trusts extra keys
# neither helps nor breaks it, and nothing of the host's is written.
apt_env=()
apt_ready=0
declare -A suite_problem=()
usable_suites=""
apt_prepare() {
	[ "$apt_ready" = 1 ] && return 0
	local mirror s etc=$apt_dir/etc
	mirror=$(t2s_debian_mirror || true)
	[ -n "$mirror" ] ||
		t2s_die "no Debian archive URI in the apt sources; set T2S_DEBIAN_MIRROR"
	if [ ! -s "$keyring" ]; then
		t2s_apt_install debian-archive-keyring
		[ -s "$keyring" ] || t2s_die "no Debian archive keyring at $keyring"
	fi
	rm -rf "$etc"
	mkdir -p "$etc/apt.conf.d" "$etc/preferences.d" "$etc/trusted.gpg.d" \
		"$etc/sources.list.d" "$apt_dir/state/lists/partial" \
		"$apt_dir/cache/archives/partial"
	: >"$apt_dir/state/status"
	# Signatures are always checked against Debian's archive keyring
	# (signed-by); an index that is unsigned or badly signed is never used.
	# check-valid-until=no: Valid-Until bounds how long a signed index may
	# be replayed to a client that installs binaries from it. We only read
	# source indexes, and every tarball is still checked against the
	# signed index's hashes, so an expired but validly signed index (a
	# frozen mirror, a machine whose clock is ahead) still proves what
	# each file is; an invalid signature is fatal all the same.
	for s in $suites; do
		printf 'deb-src [signed-by=%s check-valid-until=no] %s %s main\n' \
			"$keyring" "$mirror" "$s"
	done >"$etc/sources.list"
	{
		printf 'Dir::Etc "%s/";\n' "$etc"
		printf 'Dir::Etc::main "apt.conf";\n'
		printf 'Dir::Etc::parts "apt.conf.d";\n'
		printf 'Dir::Etc::sourcelist "sources.list";\n'
		printf 'Dir::Etc::sourceparts "sources.list.d";\n'
		printf 'Dir::Etc::trusted "trusted.gpg";\n'
		printf 'Dir::Etc::trustedparts "trusted.gpg.d";\n'
		printf 'Dir::Etc::preferences "preferences";\n'
		printf 'Dir::Etc::preferencesparts "preferences.d";\n'
		printf 'Dir::Etc::netrc "auth.conf";\n'
		printf 'Dir::State "%s/state/";\n' "$apt_dir"
		printf 'Dir::State::lists "lists/";\n'
		printf 'Dir::State::status "%s/state/status";\n' "$apt_dir"
		printf 'Dir::Cache "%s/cache/";\n' "$apt_dir"
		printf 'Dir::Log "%s/log/";\n' "$apt_dir"
		printf 'Acquire::AllowInsecureRepositories "false";\n'
		printf 'Acquire::AllowDowngradeToInsecureRepositories "false";\n'
		printf 'Acquire::AllowWeakRepositories "false";\n'
		printf 'Acquire::Languages "none";\n'
		printf 'Acquire::Retries "3";\n'
		printf 'Acquire::http::Timeout "30";\n'
		printf 'APT::Get::List-Cleanup "true";\n'
		# As root apt downloads as the _apt user, which may not be allowed
		# into the build tree; the files are only tarballs we unpack
		# ourselves, after apt checked them.
		if [ "$(id -u)" -eq 0 ]; then
			printf 'APT::Sandbox::User "root";\n'
		fi
	} >"$etc/apt.conf"
	apt_env=(env "APT_CONFIG=$etc/apt.conf" LC_ALL=C)
	t2s_log "reading Debian's signed source indexes ($suites)"
	t2s_log_note "private apt configuration: $etc/apt.conf; archive $mirror"
	# apt-get update fails as a whole when any one suite fails; which
	# suites are usable is read off the lists it kept.
	"${apt_env[@]}" apt-get -q update >"$apt_dir/update.log" 2>&1 || true
	cat "$apt_dir/update.log" >>"${T2S_LOG:-/dev/null}"
	usable_suites=""
	for s in $suites; do
		if compgen -G "$apt_dir/state/lists/*_dists_${s}_*Sources*" >/dev/null; then
			usable_suites="$usable_suites $s"
		else
			suite_problem[$s]=$(suite_error "$s")
			t2s_warn "suite $s not usable: ${suite_problem[$s]}"
		fi
	done
	[ -n "$usable_suites" ] || t2s_fail "no Debian suite could be read; tried: $(suites_report)"
	apt_ready=1
}

# The first error apt-get update reported for SUITE, on one line
# ("Release file for .../dists/forky/InRelease is expired (...)", "The
# repository '... sid InRelease' is not signed.").
suite_error() { # suite
	local e
	e=$(grep -E '^(E|W): ' "$apt_dir/update.log" |
		grep -E "(dists/$1/| $1 (In)?Release)" | head -n 1 |
		sed -E 's/^(E|W): //; s/ \[IP: [^]]*\]//')
	printf '%s\n' "${e:-no source index (see $apt_dir/update.log)}"
}

# "trixie (ok), forky (<why not>), ..."
suites_report() {
	local s out=""
	for s in $suites; do
		if [ -n "${suite_problem[$s]:-}" ]; then
			out="$out${out:+; }$s (${suite_problem[$s]})"
		else
			out="$out${out:+; }$s (index ok)"
		fi
	done
	printf '%s\n' "$out"
}

# Downloads the newest in-range source package of PKG whose files are all
# there (some listed versions 404) and keeps its orig tarball in the cache;
# sets fetched_orig to its path. apt checks every file against the signed
# index. Runs in the main shell (apt state is kept).
fetched_orig=""
apt_fetch_orig() { # name pkg
	local name=$1 pkg=$2 versions v tmp orig tried="" announced=""
	fetched_orig=""
	apt_prepare
	versions=$("${apt_env[@]}" apt-cache showsrc "$pkg" 2>/dev/null |
		awk -v p="$pkg" '/^Package: /{cur=$2} /^Version: /{if (cur == p) print $2}' |
		sort -u | sort_versions_desc)
	while IFS= read -r v; do
		[ -n "$v" ] || continue
		if ! in_range "$name" "$(upstream_of "$v")"; then
			tried="$tried${tried:+, }$v (out of range)"
			continue
		fi
		tmp=$(mktemp -d "$apt_dir/dl.XXXXXX")
		t2s_log_note "fetching $name $(upstream_of "$v") source (Debian $pkg $v)"
		if [ "$announced" != "$name" ]; then
			t2s_log "fetching $name $(upstream_of "$v") source"
			announced=$name
		fi
		# A partial mirror may lack a version's .dsc or Debian diff while
		# holding its orig tarball, which is all we use: apt moves a file
		# to its final name only once its size and hashes match the signed
		# index, so an orig tarball that arrived is the right one whatever
		# else failed.
		(cd "$tmp" && "${apt_env[@]}" apt-get -q source --download-only "$pkg=$v") \
			>"$tmp.log" 2>&1 || true
		cat "$tmp.log" >>"${T2S_LOG:-/dev/null}"
		orig=$(find "$tmp" -maxdepth 1 -type f -name "${pkg}_*.orig.tar.*" \
			! -name '*.asc' | head -n 1)
		if [ -n "$orig" ]; then
			mv -f "$orig" "$cache_dir/"
			rm -rf "$tmp" "$tmp.log"
			fetched_orig=$cache_dir/$(basename "$orig")
			return 0
		fi
		tried="$tried${tried:+, }$v ($(grep -m1 -E '^(E|W): ' "$tmp.log" |
			sed -E 's/^E: Failed to fetch .*\/([^/ ]+) +/\1: /; s/ \[IP: [^]]*\]//; s/^(E|W): //' ||
			true))"
		t2s_log_note "$pkg $v: no orig tarball, trying an older version"
		rm -rf "$tmp" "$tmp.log"
	done <<<"$versions"
	t2s_fail "no $pkg source in the supported range could be fetched." \
		"Versions seen: ${tried:-none}. Suites: $(suites_report)"
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
	t2s_log_note "unpacking ${tarball##*/} into $dest"
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

# "c-ares 1.34.5" for what ensure_debian_source unpacked in $src_root/NAME.
source_version() { # name pkg
	local v
	v=$(cat "$src_root/$1/.t2s-orig" 2>/dev/null || true)
	v=${v#"$2"_}
	v=${v%%.orig.tar.*}
	printf '%s %s\n' "$1" "$(upstream_of "$v")"
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

lwip_dir="" cares_dir="" mbedtls_dir="" used=()
if t2s_is_debian || [ -n "${T2S_DEBIAN_MIRROR:-}" ]; then
	ensure_debian_source lwip lwip
	lwip_dir=$source_dir
	used=("$(source_version lwip lwip)")
	check_tree "$lwip_dir" src/core/init.c src/core/ipv4/ip4.c src/core/ipv6/ip6.c \
		src/include/lwip/init.h
	if system_has c-ares; then
		used+=("c-ares $(pkg-config --modversion libcares) (system)")
	else
		ensure_debian_source c-ares c-ares
		cares_dir=$source_dir
		used+=("$(source_version c-ares c-ares)")
		check_tree "$cares_dir" CMakeLists.txt include/ares_version.h
	fi
	if system_has mbedtls; then
		used+=("mbedTLS $(pkg-config --modversion mbedtls) (system)")
	else
		ensure_debian_source mbedtls mbedtls
		mbedtls_dir=$source_dir
		used+=("$(source_version mbedtls mbedtls)")
		# Release tarballs carry the generated sources and the framework
		# submodule, so GEN_FILES=OFF needs neither python nor git.
		check_tree "$mbedtls_dir" CMakeLists.txt framework/CMakeLists.txt \
			library/error.c library/psa_crypto_driver_wrappers.h
	fi
	t2s_log "sources: $(printf '%s, ' "${used[@]}" | sed 's/, $//')"
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
	t2s_log_note "wrote $deps_file"
fi
printf '%s\n' "-DT2S_DEPS_FILE=$deps_file"
