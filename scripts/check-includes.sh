#!/usr/bin/env bash
# scripts/check-includes.sh [--list]
#
# Fails when the sources' #include "..." lines form a cycle, between folders
# (tun2socks/base, tun2socks/flow, resolver, config, ...) or between modules
# (a .c/.h pair; <name>_linux.c, <name>_darwin.c and <name>_impl.h belong to
# module <name>), or when an include of ours does not name its folder from
# the repository root ("flow/flow_tcp.h" style, the only include path we
# set besides lwIP's). Tests and benchmarks are leaves and are not checked.
# --list prints the folder graph. Runs in the test command (scripts/test.sh)
# and as a ctest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

list=0
[ "${1:-}" = --list ] && list=1

dirs=(tun2socks lwip-port resolver config)
# Every quoted include, as "file<TAB>included name".
find "${dirs[@]}" -name '*.[ch]' -print | LC_ALL=C sort |
	while IFS= read -r f; do
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
			while IFS= read -r inc; do printf '%s\t%s\n' "$f" "$inc"; done
	done |
	awk -F '\t' -v list="$list" -v root="$root" '
BEGIN {
	cmd = "find tun2socks lwip-port resolver config -name \"*.h\""
	while ((cmd | getline h) > 0) { b = h; sub(/.*\//, "", b); byname[b] = h }
	close(cmd)
}
function exists(p,   r) { r = (getline line < p); if (r >= 0) close(p); return r >= 0 }
function module(p) {
	sub(/\.[ch]$/, "", p)
	sub(/_(linux|darwin|impl)$/, "", p)
	return p
}
function folder(p) { if (sub(/\/[^\/]*$/, "", p)) return p; return "." }
# Depth-first search for a cycle in graph g (edges "a SUBSEP b" in E[g]).
function dfs(g, n,   k, parts, m) {
	color[g, n] = 1
	stack[++depth] = n
	for (k in E) {
		split(k, parts, SUBSEP)
		if (parts[1] != g || parts[2] != n) continue
		m = parts[3]
		if (color[g, m] == 1) { report(g, m); continue }
		if (color[g, m] == 0) dfs(g, m)
	}
	depth--
	color[g, n] = 2
}
function report(g, m,   i, s, start) {
	for (i = depth; i > 0; i--) if (stack[i] == m) { start = i; break }
	s = ""
	for (i = start; i <= depth; i++) s = s stack[i] " -> "
	s = s m
	if (!(s in seen)) {
		seen[s] = 1
		printf "include cycle between %s: %s (%s)\n", g, s, via[g, stack[depth], m]
		bad++
	}
}
{
	file = $1; inc = $2
	# lwIP and its port headers resolve in lwIP include dirs: not ours.
	if (inc ~ /^(lwip|netif|arch)\//) next
	if (exists(root "/" inc)) target = inc
	else {
		d = folder(file)
		if (exists(root "/" d "/" inc)) {
			printf "%s: #include \"%s\" must name its folder: \"%s/%s\"\n", file, inc, d, inc
			bad++
		} else if (inc in byname) {
			printf "%s: #include \"%s\" must name its folder: \"%s\"\n", file, inc, byname[inc]
			bad++
		} else if (inc !~ /^(lwipopts|cc|sys_arch)\.h$/) {
			printf "%s: #include \"%s\": no such file from the repository root\n", file, inc
			bad++
		}
		next
	}
	a = module(file); b = module(target)
	if (a != b) {
		E["modules", a, b] = 1; nodes["modules", a] = 1; nodes["modules", b] = 1
		if (!(("modules", a, b) in via)) via["modules", a, b] = file " includes " inc
	}
	fa = folder(file); fb = folder(target)
	if (fa != fb) {
		E["folders", fa, fb] = 1; nodes["folders", fa] = 1; nodes["folders", fb] = 1
		if (!(("folders", fa, fb) in via)) via["folders", fa, fb] = file " includes " inc
	}
}
END {
	if (list) for (k in E) { split(k, p, SUBSEP); if (p[1] == "folders") print p[2] " -> " p[3] }
	split("folders modules", graphs, " ")
	for (i = 1; i <= 2; i++) {
		g = graphs[i]
		for (k in nodes) {
			split(k, p, SUBSEP)
			if (p[1] == g && color[g, p[2]] == 0) { depth = 0; dfs(g, p[2]) }
		}
	}
	if (bad) { printf "%d include problem(s)\n", bad; exit 1 }
	print "includes: no cycles between folders or modules; every include names its folder"
}'
