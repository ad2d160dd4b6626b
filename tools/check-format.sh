#!/bin/sh
# check-format.sh - every C file is formatted by clang-format with the
# project's .clang-format (fix with: clang-format -i FILE).
set -u
files=$(find src tests -name '*.[ch]' | sort)
if ! command -v clang-format >/dev/null 2>&1; then
	echo "format: clang-format is missing (apt-get install clang-format)" >&2
	exit 1
fi
bad=$(for f in $files; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -n "$bad" ]; then
	echo "format: not clang-formatted (run: clang-format -i FILE):" >&2
	echo "$bad" | sed 's/^/  /' >&2
	exit 1
fi
echo "format: $(echo "$files" | wc -l) files follow .clang-format"
