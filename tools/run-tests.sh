#!/bin/sh
# run-tests.sh PROGRAM... - run cmocka test programs, then print one summary
# line "N passed, N failed" (a failing program's own output says which).
# With KLAB_COUNTS=FILE set, the counts are also added to FILE (make test
# prints the total at the end).
set -u
[ $# -gt 0 ] || exit 0
passed=0 failed=0 bad=""
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	passed=$((passed + ${p:-0}))
	if [ "$rc" -ne 0 ] || [ -n "$f" ] || [ -z "$p" ]; then
		failed=$((failed + ${f:-1}))
		bad="$bad $t"
		printf '%s\n' "$out"
		echo "FAILED: $t (exit $rc)"
	else
		echo "ok  $(basename "$t"): ${p} tests"
	fi
done
echo "tests: $passed passed, $failed failed"
[ -n "${KLAB_COUNTS:-}" ] && echo "$passed $failed" >>"$KLAB_COUNTS"
[ -z "$bad" ]
