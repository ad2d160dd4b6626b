#!/bin/sh
# check-io.sh - storage goes through the runtime (DESIGN §2, core/fs.h):
# no file under src/ calls the file system's writing or descriptor-level
# calls itself, except the real disk and the real runtime, which are the
# storage and network backends.  A node's files then always go through a
# struct fs, so the simulated disk sees (and can tear) every one of them.
#
# Also refused: fopen() for writing in the node layers (core .. client);
# the front ends (repl, viz, main) may write their own output files
# (DOT drawings, exported transcripts) with stdio, never a log's files.
set -u
allowed='src/net/disk_real.c src/net/real.c'
calls='open|openat|creat|pwrite|pwrite64|pread|pread64|write|fsync|fdatasync|ftruncate|truncate|rename|renameat|unlink|unlinkat|mkdir|mkdirat|rmdir|opendir|fdopendir|readdir|lstat|fstat|stat|access|sendfile|dup|dup2|dup3|mmap|sync_file_range|fallocate|flock|lockf|remove|nftw|ftw'
bad=0
for f in $(find src -name '*.c' | sort); do
	case " $allowed " in *" $f "*) continue ;; esac
	# strip comments and strings, then look for a call: a name not
	# preceded by '.', '>' or a word character (no struct member, no
	# fs_open), followed by '('
	hits=$(sed -e 's://.*$::' -e 's:"[^"]*"::g' "$f" |
		awk 'BEGIN { c = 0 }
		     { line = $0
		       while (1) {
		         if (c) { i = index(line, "*/"); if (!i) { line = ""; break }
		                  line = substr(line, i + 2); c = 0 }
		         i = index(line, "/*"); if (!i) break
		         rest = substr(line, i + 2); line = substr(line, 1, i - 1)
		         j = index(rest, "*/")
		         if (j) line = line " " substr(rest, j + 2); else c = 1
		       }
		       print NR ": " line }' |
		grep -E "(^|[^._>a-zA-Z0-9])($calls)[ 	]*\(" || true)
	if [ -n "$hits" ]; then
		echo "$hits" | sed "s|^|io: $f:|; s|\$|  <- calls the file system directly; use core/fs.h|"
		bad=1
	fi
	mod=$(echo "$f" | cut -d/ -f2)
	case $mod in repl|viz|main) continue ;; esac
	w=$(grep -nE 'fopen[ 	]*\([^,]*,[ 	]*"[wa]' "$f" || true)
	if [ -n "$w" ]; then
		echo "$w" | sed "s|^|io: $f:|; s|\$|  <- writes a file with stdio; use core/fs.h|"
		bad=1
	fi
done
[ $bad = 0 ] && echo "io: only the real disk and the real runtime call the file system"
exit $bad
