#!/bin/sh
# mutants.sh LAB - prove the graded tests of lab LAB catch plausible wrong
# solutions.
#
# Each tests/labs/labN/mutants/NAME.diff is a unified diff (paths a/src/...)
# of the reference code: an off-by-one, a missing check, a forgotten call.
# Its first lines, before the diff, say which mistake it makes.  The diff
# is applied to a copy of the lab's files from src/ in
# build/labs/labN-mutant-NAME/, graded like a learner's copy, and must
# score below full marks; a mutant that scores full names a clause of the
# contract no graded test checks.  A diff that no longer applies after the
# reference changed fails too: refresh it.
set -u
lab=$1 caught="" missed=""
dir=$(ls -d labs/lab"$lab"-* 2>/dev/null | head -n 1)
[ -n "$dir" ] || { echo "mutants: no labs/lab$lab-*" >&2; exit 2; }
for m in tests/labs/lab"$lab"/mutants/*.diff; do
	[ -f "$m" ] || continue
	name=$(basename "$m" .diff)
	root=build/labs/lab$lab-mutant-$name
	rm -rf "$root"
	for f in $(cat "$dir/FILES"); do
		mkdir -p "$root/$(dirname "$f")"
		cp "$f" "$root/$f"
	done
	patch -s -p1 -d "$root" <"$m" >"$root.log" 2>&1 || {
		cat "$root.log" >&2; echo "mutants: $m does not apply to the reference: refresh it" >&2; exit 1; }
	printf '\nmutant %s: %s\n' "$name" "$(sed -n '1{s/^# *//;p;q}' "$m")"
	if GRADE_EXIT=0 tools/grade.sh "$lab" "mutant-$name" require-below-full; then
		caught="$caught $name($(sed -n 's/^  "score": \(.*\),$/\1/p' "build/grade/lab$lab-mutant-$name.json"))"
	else
		missed="$missed $name"
	fi
done
echo "mutants: lab $lab caught:${caught:- none}"
[ -z "$missed" ] || { echo "mutants: lab $lab missed:$missed" >&2; exit 1; }
