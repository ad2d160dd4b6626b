#!/bin/sh
# platformatic.sh [KLAB] - @platformatic/kafka 1.35.0 (pinned in
# platformatic/package-lock.json; the last release for Node.js 20), a current
# pure-JavaScript client that speaks only flexible protocol versions, against
# a real `klab broker` on loopback:
#
#   platformatic/interop.mjs: ApiVersions v3 (it sends no older version);
#   Metadata v9+, CreateTopics v7 (3 partitions; again: TOPIC_ALREADY_EXISTS),
#   listTopics, a topic id per topic; its murmur2 = Kafka's, its default
#   partitioner ((murmur2 >>> 0) % n) and compatibilityPartitioner (Java's)
#   each put the keys where they say; 1,000 keyed records with headers and
#   timestamps from each (Produce v7+), and from an idempotent producer
#   (InitProducerId v3+); ListOffsets v5+; every record read back with
#   Consumer.fetch (Fetch v12+, topics named by id from v13) without a group;
#   a group consumer fails with FindCoordinator's COORDINATOR_NOT_AVAILABLE
#   (no group coordinator before chapter 6); DeleteTopics v6.
#   Here: the idempotent producer's batches on disk; `klab repl`
#   partition-of agrees with the Java partitioner; SIGTERM stops the broker.
#
# Every client call is bounded by `timeout`; the run takes seconds.
# Prints "platformatic: N passed, M failed"; exits 1 if anything failed or if
# node/npm are missing.
set -u
. "$(dirname "$0")/lib/broker.sh"
suite_init platformatic "${1:-}" platformatic
NEED_NODE=20.19.4 # @platformatic/kafka 1.35.0's engines
node_client @platformatic/kafka 1.35.0
run_node interop.mjs 120 node "$dir/interop.mjs" "$b" "$tmp/out"
node_client_end plt-idempotent 3
