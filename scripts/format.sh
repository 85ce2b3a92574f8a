#!/usr/bin/env bash
# scripts/format.sh [--check]
#
# Formats every C file of ours with clang-format and the repository's
# .clang-format; --check changes nothing and fails, listing the files that
# are not formatted (the test command runs it). Third-party code is never
# in the tree, so every .c/.h under the source folders is ours.
set -euo pipefail

T2S_LOG_TAG=format
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$T2S_ROOT"

check=0
[ "${1:-}" = --check ] && check=1
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null 2>&1 || t2s_die "no $cf (Debian: apt-get install clang-format)"

mapfile -t files < <(git ls-files -- 'tun2socks/*.[ch]' 'lwip-port/*.[ch]' \
	'resolver/*.[ch]' 'config/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]')
bad=0
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	if [ "$check" = 1 ]; then
		if ! "$cf" "$f" | cmp -s - "$f"; then
			echo "not formatted: $f"
			bad=$((bad + 1))
		fi
	else
		"$cf" -i "$f"
	fi
done
if [ "$check" = 1 ]; then
	[ "$bad" -eq 0 ] || t2s_die "$bad file(s) not formatted: bash scripts/format.sh"
	t2s_log "all ${#files[@]} files formatted ($("$cf" --version | sed 's/.*version //'))"
fi
