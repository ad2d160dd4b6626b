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
. "$(dirname "$0")/lib/broker.sh"
suite_init kafkats "${1:-}" kafkats
node_client kafka-ts 1.5.0
run_node interop.js 90 node "$dir/interop.js" "$b" "$tmp/out"
node_client_end kts-keys 3
