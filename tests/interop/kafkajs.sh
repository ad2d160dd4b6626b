#!/bin/sh
# kafkajs.sh [KLAB] - a real Node.js client (kafkajs 2.2.4, pinned in
# kafkajs/package-lock.json) against a real `klab broker` on loopback:
#
#   kafkajs/interop.js: admin createTopics (4 partitions), describeCluster,
#   listTopics, fetchTopicMetadata; 2,000 keyed records with headers produced
#   with acks -1, 1 and 0 and with gzip (kafkajs's default partitioner, the
#   Java-compatible murmur2), each in the partition an independent murmur2
#   gives; fetchTopicOffsets = those counts; fetchTopicOffsetsByTimestamp;
#   the records read back by kafkajs's own Fetch; deleteTopics;
#   then kcat reads every partition back (keys, values, headers, offsets)
#   and `klab repl` partition-of agrees with lib/checks.js's murmur2.
#
# The broker has no consumer groups yet, so the kafkajs Consumer is not used.
# Every client call is bounded by `timeout`; the run takes seconds.
# Prints "kafkajs: N passed, M failed"; exits 1 if anything failed or if
# node/npm are missing.
set -u
. "$(dirname "$0")/lib/broker.sh"
suite_init kafkajs "${1:-}" kafkajs
T=60 # seconds, for any one client call
node_client kafkajs 2.2.4
run_node interop.js 45 node "$dir/interop.js" "$b" "$tmp/out"

# ---- kcat reads back what kafkajs produced (when kcat is installed) ------------------
if command -v kcat >/dev/null 2>&1; then
	for topic in kjs-acks-all kjs-acks-0 kjs-gzip; do
		n=0 why=
		for p in 0 1 2 3; do
			[ -f "$tmp/out/want-$topic-$p" ] || { why="no want-$topic-$p from interop.js"; break; }
			if ! timeout $T kcat -b "$b" -C -t "$topic" -p $p -o beginning -e -q \
				-f '%k %s %h %o\n' >"$tmp/got" 2>"$tmp/err"; then
				why="kcat -C -p $p: $(cat "$tmp/err")"
				break
			fi
			if ! cmp -s "$tmp/out/want-$topic-$p" "$tmp/got"; then
				why="partition $p differs ($(wc -l <"$tmp/got") lines back):
$(diff "$tmp/out/want-$topic-$p" "$tmp/got" | head -n 10)"
				break
			fi
			n=$((n + $(wc -l <"$tmp/got")))
		done
		if [ -z "$why" ] && [ $n = 2000 ]; then
			ok "kcat reads $topic back: $n records, keys/values/headers/offsets, murmur2 partitions"
		else
			bad "kcat reads $topic back" "${why:-$n records}"
		fi
	done
fi

# ---- klab's own partitioner agrees with murmur2 (lib/checks.js) ----------------------
partition_of_agrees "$tmp/out/partition-of" 4
stop_broker
finish kafkajs
