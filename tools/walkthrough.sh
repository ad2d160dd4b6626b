#!/bin/sh
# walkthrough.sh KLAB CHAPTER_DIR... [--update]
#
# Replays each chapter's walkthrough (walkthrough.klab, with
# walkthrough.properties if present) in a fresh temporary directory and
# compares what the REPL prints with the committed transcript
# (walkthrough.out).  A lesson therefore never shows output that the code
# no longer produces.  With --update the transcript is rewritten instead.
set -u
klab=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
update=0
for a in "$@"; do [ "$a" = --update ] && update=1; done
status=0
for ch in "$@"; do
	[ "$ch" = --update ] && continue
	[ -f "$ch/walkthrough.klab" ] || continue
	abs=$(cd "$ch" && pwd)
	tmp=$(mktemp -d)
	cfg=""
	[ -f "$abs/walkthrough.properties" ] && cfg="-c $abs/walkthrough.properties"
	(cd "$tmp" && "$klab" repl -e $cfg -f "$abs/walkthrough.klab") >"$tmp/transcript" 2>&1
	rc=$?
	if [ $update = 1 ]; then
		cp "$tmp/transcript" "$abs/walkthrough.out"
		echo "walkthrough: wrote $ch/walkthrough.out (exit $rc)"
	elif [ $rc -ne 0 ]; then
		echo "walkthrough: $ch: a command failed (klab repl -e exit $rc):" >&2
		tail -n 5 "$tmp/transcript" >&2; status=1
	elif ! diff -u "$abs/walkthrough.out" "$tmp/transcript" >"$tmp/diff"; then
		echo "walkthrough: $ch: the REPL's output differs from walkthrough.out:" >&2
		head -n 40 "$tmp/diff" >&2; status=1
	else
		echo "walkthrough: $ch: transcript matches ($(wc -l <"$tmp/transcript") lines)"
	fi
	rm -rf "$tmp"
done
exit $status
