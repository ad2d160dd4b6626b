#!/bin/sh
# walkthrough.sh KLAB DIR... [--update]
#
# Replays every REPL script X.klab in each DIR that has a transcript X.out
# beside it (with settings from X.properties if present) in a fresh
# temporary directory, and compares what the REPL prints with X.out.  A
# chapter's walkthrough.klab is one such script, so a lesson never shows
# output that the code no longer produces.  --update rewrites X.out instead
# (and creates it for walkthrough.klab).
#
# A chapter's klab.properties (what `make run` and a reader typing by hand
# use) must show the book too: walkthrough.klab is also fed to the shell
# on stdin with those settings, and must print walkthrough.out.
set -u
klab=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
update=0
for a in "$@"; do [ "$a" = --update ] && update=1; done
status=0

replay() { # ABSBASE SCRIPT
	tmp=$(mktemp -d)
	cfg=""
	[ -f "$1.properties" ] && cfg="-c $1.properties"
	(cd "$tmp" && "$klab" repl -e $cfg -f "$1.klab") >"$tmp/transcript" 2>&1
	rc=$?
	if [ $update = 1 ]; then
		cp "$tmp/transcript" "$1.out"
		echo "walkthrough: wrote ${2%.klab}.out (exit $rc)"
	elif [ $rc -ne 0 ]; then
		echo "walkthrough: $2: a command failed (klab repl -e exit $rc):" >&2
		tail -n 5 "$tmp/transcript" >&2; status=1
	elif ! diff -u "$1.out" "$tmp/transcript" >"$tmp/diff"; then
		echo "walkthrough: $2: the REPL's output differs from ${2%.klab}.out:" >&2
		head -n 40 "$tmp/diff" >&2; status=1
	else
		echo "walkthrough: $2: transcript matches ($(wc -l <"$tmp/transcript") lines)"
	fi
	rm -rf "$tmp"
}

keyboard() { # ABSBASE SCRIPT: the walkthrough typed with klab.properties
	tmp=$(mktemp -d)
	(cd "$tmp" && "$klab" repl -c "$(dirname "$1")/klab.properties" <"$1.klab") \
		>"$tmp/transcript" 2>&1
	if ! diff -u "$1.out" "$tmp/transcript" >"$tmp/diff"; then
		echo "walkthrough: $2 with klab.properties differs from ${2%.klab}.out:" >&2
		head -n 40 "$tmp/diff" >&2; status=1
	else
		echo "walkthrough: $2 with klab.properties: transcript matches"
	fi
	rm -rf "$tmp"
}

for ch in "$@"; do
	[ "$ch" = --update ] && continue
	for script in "$ch"/*.klab; do
		[ -f "$script" ] || continue
		base=${script%.klab}
		[ -f "$base.out" ] || [ "$(basename "$base")" = walkthrough ] || continue
		abs="$(cd "$(dirname "$script")" && pwd)/$(basename "$base")"
		replay "$abs" "$script"
		if [ $update = 0 ] && [ "$(basename "$base")" = walkthrough ] &&
			[ -f "$(dirname "$script")/klab.properties" ]; then
			keyboard "$abs" "$script"
		fi
	done
done
exit $status
