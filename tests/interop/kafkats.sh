#!/bin/sh
# kafkats.sh [KLAB] - kafka-ts 1.5.0 (pinned in kafkats/package-lock.json), a
# current pure-TypeScript client, against a real `klab broker` on loopback:
#
#   kafkats/interop.js: ApiVersions (kafka-ts retries at the broker's version
#   after UNSUPPORTED_VERSION), Metadata, CreateTopics (3 partitions, and
#   again: TOPIC_ALREADY_EXISTS); 1,000 keyed records with headers and
#   timestamps sent by kafka-ts's producer, which is always idempotent
#   (InitProducerId, then Produce v3+ with a producer id and sequences);
#   ListOffsets = the Java partitioner's counts; a consumer without a group
#   reads every record back (key, value, headers, timestamp, offset,
#   partition); a consumer with a group fails with FindCoordinator's
#   COORDINATOR_NOT_AVAILABLE (no group coordinator before chapter 6);
#   DeleteTopics.
#   Here: the batches on disk carry the producer id, and base sequence =
#   base offset (one producer, from an empty log); `klab repl` partition-of
#   agrees with the Java partitioner; SIGTERM stops the broker cleanly.
#
# Every client call is bounded by `timeout`; the run takes seconds.
# Prints "kafkats: N passed, M failed"; exits 1 if anything failed or if
# node/npm are missing.
set -u
suite=kafkats
klab=${1:-build/san/ch3/klab}
case $klab in /*) ;; *) klab=$(pwd)/$klab ;; esac
dir=$(cd "$(dirname "$0")/kafkats" && pwd)
tmp=$(mktemp -d)
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/../checks.sh"
. "$(dirname "$0")/lib/broker.sh"
need_node

npm_ci "$dir" kafka-ts 1.5.0
start_broker
mkdir "$tmp/out"
run_node interop.js 90 node "$dir/interop.js" "$b" "$tmp/out"

# ---- the idempotent producer's batches, as stored ----------------------------------
idempotent_batches kts-keys 3
partition_of_agrees "$tmp/out/partition-of" 3
stop_broker
finish kafkats
