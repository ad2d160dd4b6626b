#!/bin/sh
# diagrams.sh KLAB update|check
#
# Each diagrams/*.klab is a REPL script whose `dot NAME` commands draw the
# diagrams a chapter shows.  `update` runs them in a temporary directory
# and copies NAME.dot and NAME.svg into diagrams/; `check` runs them and
# fails if a committed .dot differs (a stale diagram).  A hand-drawn
# diagram is a DOT file diagrams/NAME.gv: `update` renders NAME.svg from it,
# `check` fails if NAME.gv does not render or NAME.svg is missing.
set -u
klab=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mode=$2
top=$(pwd)
status=0
for script in diagrams/*.klab; do
	[ -f "$script" ] || continue
	tmp=$(mktemp -d)
	if ! (cd "$tmp" && "$klab" repl -e -f "$top/$script") >"$tmp/log" 2>&1; then
		echo "diagrams: $script failed:" >&2; tail -n 5 "$tmp/log" >&2
		rm -rf "$tmp"; status=1; continue
	fi
	for dot in "$tmp"/*.dot; do
		name=$(basename "$dot" .dot)
		if [ "$mode" = update ]; then
			cp "$dot" "diagrams/$name.dot"
			cp "$tmp/$name.svg" "diagrams/$name.svg"
			echo "diagrams: wrote diagrams/$name.dot and .svg (from $script)"
		elif ! cmp -s "$dot" "diagrams/$name.dot"; then
			echo "diagrams: diagrams/$name.dot is stale (or missing): run 'make diagrams' and commit" >&2
			status=1
		else
			echo "diagrams: diagrams/$name.dot is current"
		fi
	done
	rm -rf "$tmp"
done
for gv in diagrams/*.gv; do
	[ -f "$gv" ] || continue
	svg=${gv%.gv}.svg
	if [ "$mode" = update ]; then
		dot -Tsvg "$gv" -o "$svg" && echo "diagrams: rendered $svg" || status=1
	elif ! dot -Tsvg "$gv" -o /dev/null; then
		echo "diagrams: $gv does not render" >&2; status=1
	elif [ ! -f "$svg" ]; then
		echo "diagrams: $svg is missing: run 'make diagrams' and commit" >&2; status=1
	else
		echo "diagrams: $gv renders"
	fi
done
exit $status
