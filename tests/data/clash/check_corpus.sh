#!/usr/bin/env bash
# tests/data/clash/check_corpus.sh BIN [CORPUS_DIR]
#
# Loads every file of the corpus of real Clash configs and rule lists
# (README.md here) with `BIN check`:
#  - each rule-provider file of manifest.tsv, behind a one-line config
#    that names it: check must say OK and skip exactly the number of bad
#    entries the manifest gives;
#  - each config of configs.tsv: "ok" ones must pass, "fail" ones must
#    fail with the given text in the output (so one that starts passing,
#    or fails for another reason, is reported and its line updated).
# CORPUS_DIR holds lists/ and configs/; default: $T2S_CLASH_CORPUS, else
# the first of tests/data/clash/ (the files in the tree) and
# ../shared/corpus/clash beside the repository that has lists/.
# Prints one line per file and "N passed, M failed"; exit 1 on a failure,
# 77 (skipped) when no corpus is found.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${1:?usage: check_corpus.sh BIN [CORPUS_DIR]}
[[ $bin == */* ]] && bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=${2:-${T2S_CLASH_CORPUS:-}}
if [[ -z $dir ]]; then
	for d in "$here" "$root/../shared/corpus/clash"; do
		[[ -d $d/lists ]] && { dir=$d; break; }
	done
fi
if [[ -z $dir || ! -d $dir/lists || ! -d $dir/configs ]]; then
	# The files are fetched data that stays out of this repository
	# (README.md here): without them the test is skipped, loudly (ctest's
	# SKIP_RETURN_CODE), rather than failed on a machine that lacks them.
	echo "SKIP: no corpus: put lists/ and configs/ (README.md) in tests/data/clash/ or ../shared/corpus/clash, or set T2S_CLASH_CORPUS"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

while IFS=$'\t' read -r file behavior format skipped repo path commit; do
	[[ -z $file || $file == \#* ]] && continue
	printf 'rule-providers:\n  s: {type: file, behavior: %s, format: %s, path: %s}\nrules:\n  - RULE-SET,s,DIRECT\n' \
		"$behavior" "$format" "$dir/lists/$file" >"$work/c.yaml"
	out=$("$bin" check -c "$work/c.yaml" 2>&1)
	rc=$?
	got=$(grep -o "rule-set 's': [0-9]* bad entr[a-z]* skipped" <<<"$out" | grep -o "[0-9]*" | head -1)
	got=${got:-0}
	if ((rc == 0)) && [[ $out == *": OK:"* && $got == "$skipped" ]]; then
		echo "PASS list $file ($behavior, $format; $got skipped)"
		passed=$((passed + 1))
	else
		echo "FAIL list $file: rc $rc, $got skipped (want $skipped): $(grep -v ': warning: ' <<<"$out" | head -3)"
		failed=$((failed + 1))
	fi
done <"$here/manifest.tsv"

while IFS=$'\t' read -r file expect text why repo path commit; do
	[[ -z $file || $file == \#* ]] && continue
	out=$(cd "$dir/configs" && "$bin" check -c "$file" 2>&1)
	rc=$?
	if [[ $expect == ok ]] && ((rc == 0)); then
		echo "PASS config $file"
		passed=$((passed + 1))
	elif [[ $expect == fail ]] && ((rc != 0)) && grep -qF -- "$text" <<<"$out"; then
		echo "PASS config $file (fails as expected: $why)"
		passed=$((passed + 1))
	else
		echo "FAIL config $file: want $expect${text:+ ($text)}, check rc $rc: $(grep -v ': warning: ' <<<"$out" | head -3)"
		failed=$((failed + 1))
	fi
done <"$here/configs.tsv"
echo "$passed passed, $failed failed"
((failed == 0))
