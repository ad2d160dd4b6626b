#!/bin/sh
# fuzz.sh - run klab's libFuzzer targets (tests/fuzz/fuzz_*.c, built by make
# as build/fuzz/fuzz_*).
#
#   tools/fuzz.sh replay FUZZER...        each target over its committed corpus
#                                         (every file once, no mutation), then a
#                                         short fuzz pass (FUZZ_REPLAY_SECONDS=10,
#                                         -seed=1) whose new inputs go to a
#                                         temporary directory; fails on any crash
#   tools/fuzz.sh run SECONDS FUZZER...   fuzz each target SECONDS, growing the
#                                         scratch corpus build/fuzz/corpus-<name>
#                                         (seeded from the committed one)
#   tools/fuzz.sh corpus                  rebuild tests/fuzz/gen_corpus.c and
#                                         rewrite the seed inputs it makes
#
# A FUZZER is a path like build/fuzz/fuzz_batch; its committed corpus is
# tests/fuzz/corpus/fuzz_batch/.  Arguments that are not executables (the .d
# files make leaves beside the targets) are skipped.  A crashing input is
# saved as build/fuzz/artifacts/<name>-crash-<sha1>; reproduce it with
# `build/fuzz/<name> FILE`, and once fixed, keep it in the committed corpus as
# regress-<what> so replay checks it forever.  Each run's full libFuzzer
# output is in build/fuzz/logs/.
#
# UBSan is made fatal (halt_on_error): the fuzz build does not use
# -fno-sanitize-recover, and an undefined-behaviour report that only
# scrolls past is not a failure anyone sees.  LeakSanitizer is on.
set -u

CORPUS=tests/fuzz/corpus
ART=build/fuzz/artifacts
LOGS=build/fuzz/logs
REPLAY_SECONDS=${FUZZ_REPLAY_SECONDS:-10}
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

usage() {
	echo "usage: tools/fuzz.sh replay FUZZER... | run SECONDS FUZZER... | corpus" >&2
	exit 2
}

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }
stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

# run_fuzzer NAME LOG ARGS...: run it, then remove the scratch directory a
# target may keep as /tmp/klab-NAME.<pid> (fuzz_segment does).
run_fuzzer() {
	name=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	rm -rf "/tmp/klab-$name.$pid"
	return $rc
}

# Say why a run failed: the sanitizer's or libFuzzer's own lines.
show_failure() {
	echo "---- $1 failed (full output in $2) ----"
	grep -E 'ERROR|SUMMARY|invariant broken|runtime error|Test unit written|^    #[0-9] ' "$2" |
		head -n 30
	grep '^Running: ' "$2" | tail -n 1 | sed 's/^Running: /the input that failed: /'
	echo "----"
}

# Every file of the committed corpus, once, unmutated.
replay_corpus() { # FUZZER NAME
	dir=$CORPUS/$2
	n=$(find "$dir" -type f 2>/dev/null | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "fuzz: $2: no committed corpus in $dir" >&2
		return 1
	fi
	log=$LOGS/$2-replay.log
	echo "fuzz: $2: replaying $n inputs of $dir"
	if ! run_fuzzer "$2" "$log" "$1" -artifact_prefix="$ART/$2-" "$dir"/*; then
		show_failure "$2 replay" "$log"
		return 1
	fi
	ran=$(grep -c '^Executed ' "$log")
	[ "$ran" -eq "$n" ] || { echo "fuzz: $2: only $ran of $n inputs ran" >&2; return 1; }
}

# A bounded fuzz pass; new inputs land in a temporary directory.
short_fuzz() { # FUZZER NAME SECONDS
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/klab-fuzz-new.XXXXXX")
	log=$LOGS/$2-fuzz.log
	echo "fuzz: $2: fuzzing ${3}s (-seed=1), new inputs to $tmp (deleted after)"
	run_fuzzer "$2" "$log" "$1" -max_total_time="$3" -seed=1 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$ART/$2-" "$tmp" "$CORPUS/$2"
	rc=$?
	rm -rf "$tmp"
	[ $rc -eq 0 ] || show_failure "$2 fuzz pass" "$log"
	return $rc
}

targets=""
pick_targets() {
	for f in "$@"; do
		if [ -f "$f" ] && [ -x "$f" ]; then
			targets="$targets $f"
		else
			echo "fuzz: skipping $f (not an executable)"
		fi
	done
	[ -n "$targets" ] || { echo "fuzz: no fuzz target given" >&2; exit 2; }
}

replay() {
	pick_targets "$@"
	mkdir -p "$ART" "$LOGS"
	summary="" failed="" start=$(now_ms)
	for fz in $targets; do
		name=$(basename "$fz") t0=$(now_ms) result=ok execs=- new=-
		rm -f "$LOGS/$name-replay.log" "$LOGS/$name-fuzz.log"
		if ! replay_corpus "$fz" "$name"; then
			result="FAILED (corpus replay)"
		elif ! short_fuzz "$fz" "$name" "$REPLAY_SECONDS"; then
			result="FAILED (fuzz pass)"
		fi
		if [ -f "$LOGS/$name-fuzz.log" ] && [ "$result" != "FAILED (corpus replay)" ]; then
			execs=$(stat_of number_of_executed_units "$LOGS/$name-fuzz.log")
			new=$(stat_of new_units_added "$LOGS/$name-fuzz.log")
		fi
		[ "$result" = ok ] || failed="$failed $name"
		inputs=$(find "$CORPUS/$name" -type f 2>/dev/null | wc -l)
		took=$(secs $(($(now_ms) - t0)))
		line=$(printf '%-16s %7s %10s %9s %8ss  %s' "$name" "$inputs" "${execs:--}" \
			"${new:--}" "$took" "$result")
		summary="$summary$line
"
	done
	echo
	echo "fuzz replay summary (corpus replay, then ${REPLAY_SECONDS}s of fuzzing each, seed 1):"
	printf '%-16s %7s %10s %9s %9s  %s\n' target corpus execs "new(tmp)" time result
	printf '%s' "$summary"
	echo "total $(secs $(($(now_ms) - start)))s"
	if [ -n "$failed" ]; then
		echo "fuzz: FAILED:$failed (crash inputs in $ART/, logs in $LOGS/)"
		exit 1
	fi
	echo "fuzz: every target passed"
}

run() {
	seconds=$1
	shift
	pick_targets "$@"
	mkdir -p "$ART" "$LOGS"
	failed=""
	for fz in $targets; do
		name=$(basename "$fz") scratch=build/fuzz/corpus-$(basename "$fz")
		mkdir -p "$scratch"
		for f in "$CORPUS/$name"/*; do # seed it; inputs found earlier stay
			[ -f "$f" ] || continue
			[ -e "$scratch/$(basename "$f")" ] || cp "$f" "$scratch/"
		done
		before=$(find "$scratch" -type f | wc -l)
		log=$LOGS/$name-run.log
		echo "fuzz: $name: fuzzing ${seconds}s over $scratch ($before inputs)"
		if ! run_fuzzer "$name" "$log" "$fz" -max_total_time="$seconds" -timeout=10 \
			-print_final_stats=1 -artifact_prefix="$ART/$name-" "$scratch"; then
			show_failure "$name" "$log"
			failed="$failed $name"
		fi
		echo "fuzz: $name: $(stat_of number_of_executed_units "$log") executions," \
			"corpus $before -> $(find "$scratch" -type f | wc -l) inputs"
	done
	if [ -n "$failed" ]; then
		echo "fuzz: FAILED:$failed (crash inputs in $ART/, logs in $LOGS/)"
		exit 1
	fi
	echo "fuzz: every target ran ${seconds}s without a crash"
}

corpus() {
	make --no-print-directory build/bench/ch1/libklab.a >/dev/null || exit 1
	mkdir -p build/fuzz
	${CC:-cc} -std=c17 -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror -O2 -g \
		tests/fuzz/gen_corpus.c build/bench/ch1/libklab.a -o build/fuzz/gen_corpus \
		-lpthread || exit 1
	echo "fuzz: writing seed inputs into $CORPUS"
	build/fuzz/gen_corpus "$CORPUS"
}

case "${1:-}" in
replay)
	shift
	[ $# -gt 0 ] || usage
	replay "$@" ;;
run)
	[ $# -gt 2 ] || usage
	shift
	run "$@" ;;
corpus)
	corpus ;;
*)
	usage ;;
esac
