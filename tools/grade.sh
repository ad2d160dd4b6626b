#!/bin/sh
# grade.sh LAB MODE [POLICY] - build and grade lab LAB.
#
#   MODE    learner      the files in labs/labN-*/ (what a learner edits)
#           ref          the reference code in src/
#           skeleton     a fresh skeleton generated from the reference marks
#           open         the files in labs/labN-*/open/ (the open level: whole
#                        files written from their headers' contracts)
#           open-skeleton  fresh open-level starting files (tools/labgen.sh open)
#           mutant-NAME  a plausible wrong solution: the reference with
#                        tests/labs/labN/mutants/NAME.diff applied, prepared
#                        in build/labs/labN-mutant-NAME by tools/mutants.sh
#   POLICY  require-full        fail unless every test passes (CI, on ref)
#           require-all-fail    fail unless every test fails (CI, on skeleton)
#           require-below-full  fail unless some test fails (CI, on mutants)
#           (none)              fail below full marks, unless GRADE_EXIT=0
#
# Graded by hand (no POLICY), learner and ref also build klab from the same
# files (build/labN/klab for learner) and replay the chapter's walkthrough
# with it, naming the first step whose output differs from the book's.
#
# Each test runs in its own process (a crash in one cannot hide the
# others) for at most GRADE_TIMEOUT seconds (10); a test that runs longer
# is reported as TIMEOUT, which usually means a loop in its region that
# never ends.  Prints a table, the total and the first lines a failing
# test printed, and writes build/grade/labN-MODE.tap (TAP 13),
# build/grade/labN-MODE.xml (JUnit) and build/grade/labN-MODE.json
# (Gradescope's results.json).
#
# EXTRA_TESTS=DIR adds an instructor's private tests: DIR holds cmocka
# programs test_*.c (with the --list and KLAB_TEST_FILTER conventions of
# tests/labs/labN/test_labN.c) and a points file in the format of
# tests/labs/labN/points.  Each program is built against the same files as
# the lab's own test program, and its tests are graded in the same table,
# after the public ones.
set -u
lab=$1 mode=$2 policy=${3:-}
points=tests/labs/lab$lab/points
out=build/grade
bin=$out/lab$lab/$mode/test
limit=${GRADE_TIMEOUT:-10}
lines=10
[ -f "$points" ] || { echo "grade: no $points" >&2; exit 2; }
case $mode in learner|ref|skeleton|open|open-skeleton|mutant-?*) ;; *) echo "grade: bad mode $mode" >&2; exit 2 ;; esac
case $policy in ''|require-full|require-all-fail|require-below-full) ;;
*) echo "grade: bad policy $policy" >&2; exit 2 ;; esac
if [ "$mode" = skeleton ]; then
	rm -rf "build/labs/lab$lab"
	tools/labgen.sh gen "$lab" "build/labs/lab$lab" || exit 1
fi
if [ "$mode" = open-skeleton ]; then
	rm -rf "build/labs/lab$lab-open"
	tools/labgen.sh open "$lab" "build/labs/lab$lab-open" || exit 1
fi
extra=${EXTRA_TESTS:-}
if [ -n "$extra" ]; then
	[ -d "$extra" ] && [ -f "$extra/points" ] || { echo "grade: EXTRA_TESTS=$extra has no points file" >&2; exit 2; }
	extra=$(cd "$extra" && pwd)
fi
mkdir -p "$out"
make -s --no-print-directory GRADE_LAB="$lab" GRADE_MODE="$mode" "$bin" >"$out.log" 2>&1 || {
	mkdir -p "$out"; cat "$out.log" >&2
	echo "grade: lab $lab ($mode) does not compile; score 0" >&2; exit 1; }

# The program's tests must be exactly the ones the points file scores.
# graded: one line per test: region, test, points, the program that runs it.
graded=$out/lab$lab-$mode.graded
"$bin" --list | sort >"$out/lab$lab-tests.txt"
awk '!/^#/ && NF { print $2 }' "$points" | sort >"$out/lab$lab-points.txt"
if ! cmp -s "$out/lab$lab-tests.txt" "$out/lab$lab-points.txt"; then
	echo "grade: $points does not list exactly the tests of $bin" >&2
	diff "$out/lab$lab-points.txt" "$out/lab$lab-tests.txt" >&2; exit 2
fi
awk -v bin="$bin" '!/^#/ && NF { print $1, $2, $3, bin }' "$points" >"$graded"
if [ -n "$extra" ]; then
	rm -rf "$out/lab$lab/$mode/extra"
	: >"$out/lab$lab-extra-tests.txt"
	for src in "$extra"/test_*.c; do
		[ -f "$src" ] || continue
		xbin=$out/lab$lab/$mode/extra/$(basename "$src" .c)
		make -s --no-print-directory GRADE_LAB="$lab" GRADE_MODE="$mode" EXTRA_TESTS="$extra" "$xbin" >"$out.log" 2>&1 || {
			cat "$out.log" >&2; echo "grade: the extra test $src does not compile against lab $lab ($mode)" >&2; exit 2; }
		"$xbin" --list | awk -v bin="$xbin" '{ print $1, bin }' >>"$out/lab$lab-extra-tests.txt"
	done
	awk '!/^#/ && NF { print $2 }' "$extra/points" | sort >"$out/lab$lab-points.txt"
	awk '{ print $1 }' "$out/lab$lab-extra-tests.txt" | sort >"$out/lab$lab-tests.txt"
	if ! cmp -s "$out/lab$lab-tests.txt" "$out/lab$lab-points.txt"; then
		echo "grade: $extra/points does not list exactly the tests of $extra/test_*.c" >&2
		diff "$out/lab$lab-points.txt" "$out/lab$lab-tests.txt" >&2; exit 2
	fi
	awk 'NR == FNR { bin[$1] = $2; next } !/^#/ && NF { print $1, $2, $3, bin[$2] }' \
		"$out/lab$lab-extra-tests.txt" "$extra/points" >>"$graded"
fi

# What a failing test said, without cmocka's banner lines: at most $lines lines.
# After an assertion failed, the memory the test had not freed yet is not news.
failure_text() { # LOG
	grep -v -E '^\[(==========| RUN      |       OK |  PASSED  |  FAILED  )\]|^ *[0-9]+ FAILED TEST|^$' "$1" |
		tr -d '\r' | tr -c '\n[:print:]\t' '?' |
		awk '/^\[  ERROR   \]|^ERROR: / { failed = 1 }
		failed && (/^=+$/ || /LeakSanitizer/) { exit }
		{ sub(/^\[  ERROR   \] --- \[   LINE   \] --- /, "at "); sub(/: error: Failure!$/, ""); print }' |
		head -n "$lines"
}
xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' | awk '{ printf "%s&#10;", $0 }'; }
json_escape() { awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); printf "%s\\n", $0 }'; }

tap=$out/lab$lab-$mode.tap xml=$out/lab$lab-$mode.xml json=$out/lab$lab-$mode.json
said=$out/lab$lab-$mode.failures
n=$(wc -l <"$graded")
echo "TAP version 13" >"$tap"; echo "1..$n" >>"$tap"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="lab%s-%s" tests="%s">\n' "$lab" "$mode" "$n" >"$xml"
printf '{\n  "tests": [\n' >"$json"
: >"$said"
printf '\nLab %s (%s)\n%-16s %-48s %6s  %s\n' "$lab" "$mode" region test points result
total=0 got=0 passed=0 i=0
while read -r region test pts tbin; do
	i=$((i + 1)); total=$((total + pts))
	log=$out/lab$lab-$mode-$test.log
	KLAB_TEST_FILTER="$test" timeout -k 2 "$limit" "$tbin" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		result=pass score=$pts msg=""; got=$((got + pts)); passed=$((passed + 1))
		echo "ok $i - $region/$test # $pts points" >>"$tap"
		printf '  <testcase classname="%s" name="%s"/>\n' "$region" "$test" >>"$xml"
	else
		score=0
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			result=TIMEOUT
			msg=$(printf 'timed out after %s s (GRADE_TIMEOUT): does a loop in region %s never end?\n' "$limit" "$region"
				failure_text "$log")
		else
			result=FAIL msg=$(failure_text "$log")
			[ -n "$msg" ] || msg="exit status $rc and no output"
		fi
		{ printf '\n%s/%s: %s\n' "$region" "$test" "$result"; printf '%s\n' "$msg" | sed 's/^/    /'; } >>"$said"
		echo "not ok $i - $region/$test # $result, 0 of $pts points" >>"$tap"
		printf '%s\n' "$msg" | sed 's/^/  # /' >>"$tap"
		printf '  <testcase classname="%s" name="%s"><failure type="%s" message="%s"/></testcase>\n' \
			"$region" "$test" "$result" "$(printf '%s\n' "$msg" | xml_escape)" >>"$xml"
	fi
	[ $i -gt 1 ] && printf ',\n' >>"$json"
	printf '    {"name": "%s/%s", "score": %s, "max_score": %s, "status": "%s", "output": "%s"}' \
		"$region" "$test" "$score" "$pts" "$([ $result = pass ] && echo passed || echo failed)" \
		"$(printf '%s' "$msg" | json_escape)" >>"$json"
	printf '%-16s %-48s %3s/%-2s  %s\n' "$region" "$test" "$score" "$pts" "$result"
done <"$graded"
echo "</testsuite>" >>"$xml"
printf '\n  ],\n  "score": %s,\n  "max_score": %s\n}\n' "$got" "$total" >>"$json"
printf 'total: %s/%s points (%s of %s tests passed)\n' "$got" "$total" "$passed" "$i"
if [ -s "$said" ] && [ "$policy" != require-all-fail ]; then
	printf '\nWhat the failing tests said (first %s lines each; all of it in %s/lab%s-%s-TEST.log):' \
		"$lines" "$out" "$lab" "$mode"
	cat "$said"
fi
echo "results: $tap, $xml, $json"

# The learner's own code in the shell: build klab from the same files and
# replay the chapter's walkthrough, naming the first step that differs.
walkthrough() { # STAGE
	klab=$out/lab$lab/$mode/klab
	make -s --no-print-directory GRADE_LAB="$lab" GRADE_MODE="$mode" "$klab" >"$out.log" 2>&1 || {
		cat "$out.log" >&2; echo "grade: klab from lab $lab ($mode) does not build"; return 1; }
	if [ "$mode" = learner ] || [ "$mode" = open ]; then mkdir -p "build/lab$lab"; cp "$klab" "build/lab$lab/klab"; fi
	for script in chapters/0"$1"-*/walkthrough.klab; do
		[ -f "$script" ] || continue
		base=$(cd "$(dirname "$script")" && pwd)/walkthrough
		tmp=$(mktemp -d)
		cfg=""
		[ -f "$base.properties" ] && cfg="-c $base.properties"
		(cd "$tmp" && timeout -k 2 $((limit * 6)) "$OLDPWD/$klab" repl -e $cfg -f "$base.klab") >"$tmp/got" 2>&1
		rc=$?
		if cmp -s "$base.out" "$tmp/got"; then
			echo "walkthrough: $script replays byte for byte with $klab"
		else
			line=$(cmp "$base.out" "$tmp/got" 2>/dev/null | sed -n 's/.* line \([0-9]*\).*/\1/p')
			[ -n "$line" ] || line=$(($(wc -l <"$tmp/got") + 1))
			awk -v n="$line" -v rc="$rc" -v script="$script" -v got="$tmp/got" '
			NR <= n && /^klab> # [0-9]+\./ { step = substr($0, 9) }
			NR <= n && /^klab> [^#]/ { cmd = substr($0, 7) }
			NR == n { want = $0 }
			END {
				while ((getline g < got) > 0) if (++i == n) break
				if (i < n) g = "(nothing: the shell stopped, exit " rc ")"
				printf "walkthrough: %s differs at line %d, in step %s\n", script, n, step == "" ? "(before the first step)" : step
				printf "  after: %s\n  book:  %s\n  yours: %s\n", cmd, want, g
			}' "$base.out"
			echo "  (the whole transcript: $out/lab$lab-$mode-walkthrough.out)"
			cp "$tmp/got" "$out/lab$lab-$mode-walkthrough.out"
			walk_failed=1
		fi
		rm -rf "$tmp"
	done
}
walk_failed=0
case $mode in learner|ref|open) [ -n "$policy" ] || walkthrough "$(cat "$(ls -d labs/lab"$lab"-* | head -n 1)/STAGE")" ;; esac

case $policy in
require-full)
	[ "$got" -eq "$total" ] || { echo "grade: the reference must score full marks" >&2; exit 1; } ;;
require-all-fail)
	[ "$passed" -eq 0 ] || { echo "grade: the untouched skeleton passed $passed test(s): those tests do not test the lab's regions" >&2; exit 1; }
	echo "grade: every test of every region fails on the untouched skeleton, as it should" ;;
require-below-full)
	[ "$got" -lt "$total" ] || { echo "grade: $mode scores full marks: a clause of the contract it breaks is not tested" >&2; exit 1; }
	echo "grade: $mode scores $got/$total, below full marks, as it should" ;;
'')
	[ "$got" -eq "$total" ] || [ "${GRADE_EXIT:-1}" = 0 ] || exit 1 ;;
esac
exit 0
