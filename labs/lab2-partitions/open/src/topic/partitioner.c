/*
 * partitioner.c - choosing a record's partition, the way real clients do.
 *
 * A topic of n partitions is n independent logs.  Kafka orders records only
 * within a partition, so where the producer sends a record decides what a
 * consumer can rely on.  Two needs pull against each other:
 *
 *   - Records with the same key must go to the same partition, or their
 *     order is lost.  So a keyed record goes to hash(key) % n.  The hash
 *     must be the same in every client (core/murmur2.c), and the mapping
 *     holds only while n does not change: adding partitions moves keys.
 *   - Records without a key can go anywhere, and should spread evenly.
 *     How to spread them has changed over Kafka's history, because the
 *     obvious way (one record to each partition in turn) makes many small
 *     batches: with 100 partitions and linger.ms=0, each batch holds about
 *     one record.  KIP-480 (Kafka 2.4) made the producer "sticky": keep
 *     sending to one partition until its batch is sent, then move on.
 *     Batches fill up, fewer requests, lower latency.
 *
 * The kinds (the table in partitioner.h says which client each copies):
 *
 *   default            murmur2 for keys, sticky for null keys: the Java
 *                      producer's DefaultPartitioner of Kafka 2.4 to 3.2.
 *   murmur2            murmur2 for keys, round robin for null keys: the
 *                      Java DefaultPartitioner before 2.4, and kafkajs 2.x.
 *                      (librdkafka's own "murmur2" hashes a null key as an
 *                      empty one; we kept the pre-KIP-480 Java behaviour
 *                      so a learner can compare round robin with sticky.)
 *   round-robin        every record to the next partition, key or not:
 *                      Java's RoundRobinPartitioner.  Keys lose their order.
 *   sticky             every record to the sticky partition, key or not:
 *                      Java's UniformStickyPartitioner.
 *   consistent_random  CRC-32 of the key (zlib's crc32()) % n; an empty or
 *                      null key goes to a random partition: librdkafka's
 *                      default.  Note this is not murmur2: the same key
 *                      lands elsewhere than with the Java client.
 *   murmur2_random     murmur2 for keys (empty ones included), random for
 *                      null keys: librdkafka's Java-compatible choice.
 *
 * An explicit partition on the record bypasses all of them; out of range
 * it is an error, as in Kafka ("Invalid partition given with record: %d is
 * not in the range [0...%d)", KafkaProducer).
 *
 * Round robin.  Each topic has a counter; a record takes
 * toPositive(counter) % n and the counter goes up by one.  The counter is a
 * Java int, so after 2^31 records it wraps to negative, toPositive maps it
 * back to 0, and the cycle restarts mid-way (we keep that quirk: the tests
 * show it).  RoundRobinPartitioner starts at 0; the old DefaultPartitioner
 * started each topic at a random int, so that producers started together
 * do not all begin on partition 0, and the murmur2 kind does the same.
 * The counter moves only when a record takes it: since Kafka 2.4 the
 * producer has called the partitioner a second time when a batch was
 * full, and RoundRobinPartitioner skipped a partition each time
 * (KAFKA-9965); here partitioner_on_new_batch() leaves counters alone.
 *
 * Sticky (KIP-480, Kafka's StickyPartitionCache).  Each topic has a sticky
 * partition s, or none yet (-1):
 *
 *   state       event                          next   function
 *   none        a record                       s      partitioner_choose
 *   none        a new batch                    s      partitioner_on_new_batch
 *   s           a record                       s      partitioner_choose
 *   s           a new batch for partition s    s'     partitioner_on_new_batch
 *   s           a new batch for partition t!=s s      partitioner_on_new_batch
 *   s >= n      a record (fewer partitions)    s''    partitioner_choose
 *
 * s and s'' are uniform over [0, n); s' is uniform over the n - 1 others
 * (Kafka redraws until it gets a different one; we draw once from n - 1
 * and step over s, which gives the same distribution in one draw).  The
 * "t != s" row matters when several threads finish batches at once: only
 * the batch of the current sticky partition moves it.  Kafka 3.3 replaced
 * this with KIP-794's "uniform sticky" partitioner, which moves after
 * batch.size bytes and favours partitions on less loaded brokers; it
 * needs broker feedback that chapter 2 does not have yet.
 *
 * Random.  Uniform over [0, n) from the partitioner's own PRNG
 * (splitmix64), seeded at init, so a run replays from its seed.  (Newer
 * librdkafka versions keep a random partition for
 * sticky.partitioning.linger.ms instead of drawing per record; we draw per
 * record.)  Kafka draws only among partitions whose leader is available;
 * chapter 2 has no brokers, so every partition is available.
 *
 * Invariants (partitioner_check_invariants() checks 1-5):
 *
 *   1. kind is one of enum partitioner_kind and never changes after init.
 *   2. 0 <= ntopics <= PARTITIONER_TOPICS_MAX; topics[0..ntopics) in use.
 *   3. Their names are 1..PARTITIONER_TOPIC_NAME_MAX bytes and distinct.
 *   4. sticky is -1 or a partition >= 0, and stays -1 unless the kind is
 *      default or sticky.
 *   5. counter stays 0 unless the kind is murmur2 or round-robin.
 *   6. A call that returns an error changes nothing, not even the PRNG.
 *   7. Keyed records under a hashing kind read no state and write none:
 *      the same key always gets the same partition, whatever came before.
 *   8. The PRNG advances only for a random choice: a random partition, a
 *      sticky draw, the start of a murmur2-kind counter.
 *
 * Chapter 2 (topics and partitions) uses the REPL's partition-of command,
 * which prints partition_choice, to show each rule at work.
 */
#include "topic/partitioner.h"

#include <assert.h>
#include <ctype.h>
#include <string.h>
#include <zlib.h>

#include "core/murmur2.h"
#include "core/err.h"

/*
 * Lab 2, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

void
partitioner_init(struct partitioner *p, enum partitioner_kind kind, uint64_t seed)
{
}

int
partitioner_choose(struct partitioner *p, const char *topic, int32_t partition, const uint8_t *key,
		   int32_t key_len, int32_t num_partitions, struct partition_choice *out)
{
	return KLAB_ENOTIMPL;
}

int
partitioner_on_new_batch(struct partitioner *p, const char *topic, int32_t prev_partition,
			 int32_t num_partitions)
{
	return KLAB_ENOTIMPL;
}

const char *
partitioner_name(enum partitioner_kind kind)
{
	return NULL;
}

int
partitioner_parse(const char *name, enum partitioner_kind *out)
{
	return KLAB_ENOTIMPL;
}

const char *
partition_how_name(enum partition_how how)
{
	return NULL;
}

const char *
partitioner_check_invariants(const struct partitioner *p)
{
	return NULL;
}
