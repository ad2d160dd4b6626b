#!/bin/sh
# diagrams.sh KLAB update|check
#
# Each diagrams/*.klab is a REPL script whose `dot NAME` commands draw the
# diagrams a chapter shows.  `update` runs them in a temporary directory
# and copies NAME.dot and NAME.svg into diagrams/; `check` runs them and
# fails if a committed .dot differs (a stale diagram).
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
exit $status
