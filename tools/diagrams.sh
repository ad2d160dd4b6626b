#!/bin/sh
# diagrams.sh BUILD_DIR update|check
#
# A script diagrams/chN-*.klab runs on stage N's program, BUILD_DIR/chN/klab.
#
# Each diagrams/*.klab is a REPL script whose `dot NAME` commands draw the
# diagrams a chapter shows (with settings from the .properties file of the
# same name, if there is one).  `update` runs them in a temporary directory
# and copies NAME.dot and NAME.svg into diagrams/; `check` runs them and
# fails if a committed .dot differs (a stale diagram).  A hand-drawn
# diagram is a DOT file diagrams/NAME.gv: `update` renders NAME.svg from it,
# `check` fails if NAME.gv does not render or NAME.svg is missing.
set -u
build=$(cd "$1" && pwd)
mode=$2
top=$(pwd)
status=0
for script in diagrams/*.klab; do
	[ -f "$script" ] || continue
	stage=$(basename "$script" | sed -n 's/^ch\([0-9]*\)-.*/\1/p')
	klab=$build/ch$stage/klab
	[ -n "$stage" ] && [ -x "$klab" ] || { echo "diagrams: $script: no $klab" >&2; status=1; continue; }
	tmp=$(mktemp -d)
	cfg=""
	[ -f "${script%.klab}.properties" ] && cfg="-c $top/${script%.klab}.properties"
	if ! (cd "$tmp" && "$klab" repl -e $cfg -f "$top/$script") >"$tmp/log" 2>&1; then
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
