#!/bin/sh
# check-excerpts.sh CHAPTER_DIR... - every code block of a chapter's
# README.md that shows REPL output (a line starting "klab> ") must appear,
# line for line, in that chapter's replayed transcript walkthrough.out.
# Together with tools/walkthrough.sh this keeps the lesson's quoted output
# true to what the code prints.
set -u
status=0
for ch in "$@"; do
	[ -f "$ch/README.md" ] && [ -f "$ch/walkthrough.out" ] || continue
	awk -v readme="$ch/README.md" '
	FNR == NR { t = t $0 "\n"; next }
	/^```/ {
		if (inblock) {
			if (block ~ /(^|\n)klab> / && index(t, block) == 0) {
				printf "excerpts: %s: the block ending at line %d is not in walkthrough.out:\n%s",
					readme, FNR, block
				bad = 1
			}
			inblock = 0
		} else { inblock = 1; block = "" }
		next
	}
	inblock { block = block $0 "\n" }
	END { exit bad }
	' "$ch/walkthrough.out" "$ch/README.md" || status=1
	[ $status = 0 ] && echo "excerpts: $ch/README.md quotes only what the walkthrough prints"
done
exit $status
