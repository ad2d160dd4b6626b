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
#
# A script that draws a chapter's pictures from its walkthrough's own run
# says so in a comment line `# follows: chapters/0N-NAME/walkthrough.klab`;
# both modes then check that its commands, `dot` lines aside, are the
# walkthrough's commands in the walkthrough's order (it may leave out
# commands that only look, such as `read`), so a picture cannot drift from
# the run the chapter prints.
set -u
# The commands of a REPL script: no comments, no blank lines, no `dot`.
commands() {
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' -e '^dot\b' "$1"
}
# follows SCRIPT WALKTHROUGH: is SCRIPT's command list a subsequence of WALKTHROUGH's?
follows() {
	commands "$2" | awk -v want="$(commands "$1")" '
		BEGIN { n = split(want, w, "\n"); i = 1 }
		i <= n && $0 == w[i] { i++ }
		END { if (i <= n) { print w[i]; exit 1 } }'
}
build=$(cd "$1" && pwd)
mode=$2
top=$(pwd)
status=0
for script in diagrams/*.klab; do
	[ -f "$script" ] || continue
	stage=$(basename "$script" | sed -n 's/^ch\([0-9]*\)-.*/\1/p')
	klab=$build/ch$stage/klab
	[ -n "$stage" ] && [ -x "$klab" ] || { echo "diagrams: $script: no $klab" >&2; status=1; continue; }
	walk=$(sed -n 's/^# follows: *//p' "$script")
	if [ -n "$walk" ]; then
		if [ ! -f "$walk" ]; then
			echo "diagrams: $script follows $walk, which does not exist" >&2; status=1; continue
		elif ! miss=$(follows "$script" "$walk"); then
			echo "diagrams: $script has left $walk: '$miss' is not the walkthrough's next command" >&2
			status=1; continue
		fi
	fi
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
