#!/bin/sh
# labgen.sh - make learners' skeletons from the reference code's lab marks.
#
#   tools/labgen.sh write           regenerate labs/labN-*/src/... from src/
#   tools/labgen.sh check           fail if a committed skeleton is stale
#   tools/labgen.sh gen N OUTDIR    write lab N's skeleton files under OUTDIR
#   tools/labgen.sh open N OUTDIR   write lab N's open-level files under OUTDIR
#
# A lab region in the reference code looks like this:
#
#	/* LAB 1 BEGIN assign_offsets: what the learner writes
#	 * skeleton: (void)l; return KLAB_ENOTIMPL;
#	 */
#	... reference code ...
#	/* LAB 1 END assign_offsets */
#
# In lab N's skeleton the comment stays, the reference code between the
# comment and the END line is replaced by the skeleton line (code that
# compiles and fails the region's tests) and a TODO line.  Regions of other
# labs are left as they are.  labs/labN-*/FILES lists the files lab N touches.
#
# The open level (make grade LAB=N LEVEL=open) starts from less: each file
# of FILES keeps its opening comment and includes, and every function its
# header declares (not static) with a body that compiles and does nothing
# (int: KLAB_ENOTIMPL, pointer: NULL, bool: false, void: nothing, other
# types: zero), and every data definition the header declares, zeroed;
# static helpers, private structures and data are left out.
# write puts them in labs/labN-*/open/, check checks them too.
set -eu

gen_open_file() { # LAB SRC OUT
	mkdir -p "$(dirname "$3")"
	awk -v lab="$1" 'function stub(type) {
	if (type ~ /\*[ \t]*$/) return "return NULL;"
	if (type ~ /(^|[ \t])void[ \t]*$/) return ""
	if (type ~ /(^|[ \t])bool[ \t]*$/) return "return false;"
	if (type ~ /(^|[ \t])int[ \t]*$/) return "return KLAB_ENOTIMPL;"
	if (type ~ /(^|[ \t])(u?int[0-9]+_t|long|size_t|ssize_t|unsigned)[ \t]*$/) return "return 0;"
	return "return (" type "){ 0 };"
}
BEGIN { head = 1 }
head && /^#include/ { includes = includes $0 "\n"; next }
head && /^$/ && includes != "" { includes = includes "\n"; next }
head && (/^(\/\*| \*)/ || /^$/) { if (includes == "") print; next }
head {
	head = 0
	sub(/\n+$/, "\n", includes)
	printf "%s", includes
	print "#include \"core/err.h\""
	print ""
	print "/*"
	print " * Lab " lab ", open level: write this file from the contracts in its header."
	print " * Every function below compiles and does nothing yet; the private"
	print " * structures and helpers are yours to design.  Delete the pragma once"
	print " * every parameter is used."
	print " */"
	print "#pragma GCC diagnostic ignored \"-Wunused-parameter\""
}
!head && /^[a-z_][a-zA-Z0-9_]*\(/ && prev !~ /^static/ && prev !~ /[;})]$/ && prev != "" {
	type = prev; sig = $0
	while ($0 != "{" && (getline) > 0) if ($0 != "{") sig = sig "\n" $0
	print ""
	print type
	print sig
	print "{"
	s = stub(type)
	if (s != "") print "\t" s
	print "}"
	while ($0 != "}" && (getline) > 0) ;
	prev = ""; next
}
!head && /^[a-z][^(]* =( |$)/ && $0 !~ /^static/ {
	d = $0; sub(/ =.*/, "", d)
	print ""
	print d " = { 0 }; /* TODO(lab " lab "): its contents. */"
	while ($0 !~ /;$/ && (getline) > 0) ;
	prev = ""; next
}
{ prev = $0 }
	' "$2" > "$3"
}

gen_open() { # N OUTDIR
	dir=$(ls -d labs/lab"$1"-* 2>/dev/null | head -n 1)
	[ -n "$dir" ] || { echo "labgen: no labs/lab$1-*" >&2; exit 1; }
	for f in $(cat "$dir/FILES"); do gen_open_file "$1" "$f" "$2/$f"; done
}

gen_file() { # LAB SRC OUT
	mkdir -p "$(dirname "$3")"
	awk -v lab="$1" '
	function indent(s) { match(s, /^[ \t]*/); return substr(s, 1, RLENGTH) }
	$0 ~ ("LAB " lab " BEGIN ") { inregion = 1; incomment = 1; ind = indent($0); skel = ""; name = $0
		sub(/.*BEGIN /, "", name); sub(/:.*/, "", name) }
	inregion && incomment {
		print
		if ($0 ~ /skeleton:/) { s = $0; sub(/.*skeleton:[ \t]*/, "", s); skel = s }
		if ($0 ~ /\*\//) {
			incomment = 0
			if (skel == "") { print "labgen: region " name " has no skeleton line" > "/dev/stderr"; exit 1 }
			print ind "/* TODO(lab " lab ", " name "): write this part. */"
			print ind skel
		}
		next
	}
	inregion && $0 ~ ("LAB " lab " END") { inregion = 0; print; next }
	inregion { next }
	{ print }
	END { if (inregion) { print "labgen: unterminated region " name > "/dev/stderr"; exit 1 } }
	' "$2" > "$3"
}

gen_lab() { # N OUTDIR
	dir=$(ls -d labs/lab"$1"-* 2>/dev/null | head -n 1)
	[ -n "$dir" ] || { echo "labgen: no labs/lab$1-*" >&2; exit 1; }
	for f in $(cat "$dir/FILES"); do
		grep -q "LAB $1 BEGIN" "$f" || { echo "labgen: $f has no LAB $1 region" >&2; exit 1; }
		gen_file "$1" "$f" "$2/$f"
	done
}

labs() { ls -d labs/lab*-* 2>/dev/null | sed 's|labs/lab\([0-9]*\)-.*|\1|'; }

case "${1:-}" in
write)
	for n in $(labs); do
		dir=$(ls -d labs/lab"$n"-* | head -n 1)
		gen_lab "$n" "$dir"
		gen_open "$n" "$dir/open"
		echo "labgen: wrote lab $n skeleton into $dir, its open level into $dir/open"
	done ;;
check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for n in $(labs); do
		dir=$(ls -d labs/lab"$n"-* | head -n 1)
		gen_lab "$n" "$tmp/$n"
		gen_open "$n" "$tmp/$n/open"
		for f in $(cat "$dir/FILES") $(sed 's|^|open/|' "$dir/FILES"); do
			if ! cmp -s "$tmp/$n/$f" "$dir/$f"; then
				echo "labgen: $dir/$f is stale: run 'make labs' and commit it" >&2
				diff -u "$dir/$f" "$tmp/$n/$f" | head -n 20 >&2 || true
				exit 1
			fi
		done
		echo "labgen: lab $n skeleton and open level match the reference"
	done ;;
gen)
	gen_lab "$2" "$3" ;;
open)
	gen_open "$2" "$3" ;;
*)
	echo "usage: tools/labgen.sh write|check|gen N OUTDIR|open N OUTDIR" >&2; exit 2 ;;
esac
