#!/bin/sh
# grade.sh LAB MODE [POLICY] - build and grade lab LAB.
#
#   MODE    learner   the files in labs/labN-*/ (what a learner edits)
#           ref       the reference code in src/
#           skeleton  a fresh skeleton generated from the reference marks
#   POLICY  require-full      fail unless every test passes (CI, on ref)
#           require-all-fail  fail unless every test fails (CI, on skeleton)
#
# Each test runs in its own process (a crash in one cannot hide the
# others), with a time limit.  Prints a table and the total, and writes
# build/grade/labN-MODE.tap (TAP 13) and build/grade/labN-MODE.xml (JUnit).
set -u
lab=$1 mode=$2 policy=${3:-}
points=tests/labs/lab$lab/points
out=build/grade
bin=$out/lab$lab/$mode/test
[ -f "$points" ] || { echo "grade: no $points" >&2; exit 2; }
case $mode in learner|ref|skeleton) ;; *) echo "grade: bad mode $mode" >&2; exit 2 ;; esac
if [ "$mode" = skeleton ]; then
	rm -rf "build/labs/lab$lab"
	tools/labgen.sh gen "$lab" "build/labs/lab$lab" || exit 1
fi
mkdir -p "$out"
make -s --no-print-directory GRADE_LAB="$lab" GRADE_MODE="$mode" "$bin" >"$out.log" 2>&1 || {
	mkdir -p "$out"; cat "$out.log" >&2
	echo "grade: lab $lab ($mode) does not compile; score 0" >&2; exit 1; }

# The program's tests must be exactly the ones the points file scores.
"$bin" --list | sort >"$out/lab$lab-tests.txt"
awk '!/^#/ && NF { print $2 }' "$points" | sort >"$out/lab$lab-points.txt"
if ! cmp -s "$out/lab$lab-tests.txt" "$out/lab$lab-points.txt"; then
	echo "grade: $points does not list exactly the tests of $bin" >&2
	diff "$out/lab$lab-points.txt" "$out/lab$lab-tests.txt" >&2; exit 2
fi

tap=$out/lab$lab-$mode.tap xml=$out/lab$lab-$mode.xml
n=$(awk '!/^#/ && NF' "$points" | wc -l)
echo "TAP version 13" >"$tap"; echo "1..$n" >>"$tap"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="lab%s-%s" tests="%s">\n' "$lab" "$mode" "$n" >"$xml"
printf '\nLab %s (%s)\n%-16s %-48s %6s  %s\n' "$lab" "$mode" region test points result
total=0 got=0 passed=0 i=0
while read -r region test pts; do
	case $region in ''|\#*) continue ;; esac
	i=$((i + 1)); total=$((total + pts))
	if KLAB_TEST_FILTER="$test" timeout 60 "$bin" >"$out/lab$lab-$mode-$test.log" 2>&1; then
		result=pass; got=$((got + pts)); passed=$((passed + 1))
		echo "ok $i - $region/$test # $pts points" >>"$tap"
		printf '  <testcase classname="%s" name="%s"/>\n' "$region" "$test" >>"$xml"
	else
		result=FAIL
		echo "not ok $i - $region/$test # 0 of $pts points" >>"$tap"
		printf '  <testcase classname="%s" name="%s"><failure message="see %s"/></testcase>\n' \
			"$region" "$test" "$out/lab$lab-$mode-$test.log" >>"$xml"
	fi
	printf '%-16s %-48s %3s/%-2s  %s\n' "$region" "$test" "$([ $result = pass ] && echo "$pts" || echo 0)" "$pts" "$result"
done <"$points"
echo "</testsuite>" >>"$xml"
printf 'total: %s/%s points (%s of %s tests passed)\n' "$got" "$total" "$passed" "$i"
echo "results: $tap, $xml; a failing test's output is in $out/lab$lab-$mode-TEST.log"

case $policy in
require-full)
	[ "$got" -eq "$total" ] || { echo "grade: the reference must score full marks" >&2; exit 1; } ;;
require-all-fail)
	[ "$passed" -eq 0 ] || { echo "grade: the untouched skeleton passed $passed test(s): those tests do not test the lab's regions" >&2; exit 1; }
	echo "grade: every test of every region fails on the untouched skeleton, as it should" ;;
esac
exit 0
