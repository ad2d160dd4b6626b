/*
 * partitioner.h - which partition of a topic a producer sends a record to.
 *
 * The kinds, and the client each one copies:
 *
 *   kind                  keyed record             null key        as in
 *   default               murmur2 % n              sticky          Java 2.4-3.2 DefaultPartitioner
 *   murmur2               murmur2 % n              round robin     Java < 2.4, kafkajs 2.x
 *   round-robin           round robin (key unused) round robin     Java RoundRobinPartitioner
 *   sticky                sticky (key unused)      sticky          Java UniformStickyPartitioner
 *   consistent_random     crc32 % n (empty: rand)  random          librdkafka's default
 *   murmur2_random        murmur2 % n              random          librdkafka, Java-compatible
 *
 * "murmur2 % n" is murmur2_to_positive(murmur2(key)) % n (core/murmur2.h);
 * "crc32" is zlib's crc32().  A record that names its partition bypasses
 * all of them (Kafka's KafkaProducer.partition()).
 *
 * Interface: one `struct partitioner` per producer, owned by the caller,
 * set up by partitioner_init() with the PRNG seed (same seed, same calls =>
 * same choices).  For every record call partitioner_choose().  When the
 * producer's accumulator would open a new batch for a partition, it calls
 * partitioner_on_new_batch() for that partition (this moves the sticky
 * partition; KIP-480) and then partitioner_choose() again.  Nothing is
 * allocated; there is nothing to free.  Not thread-safe: one producer
 * thread owns it.
 *
 * Per-topic state (round-robin counters, sticky partitions) lives in a
 * fixed table of PARTITIONER_TOPICS_MAX topics; a kind that needs state
 * for one more topic gets KLAB_ETOOLARGE.
 */
#ifndef KLAB_TOPIC_PARTITIONER_H
#define KLAB_TOPIC_PARTITIONER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define PARTITIONER_TOPICS_MAX 64      /* topics with state, per producer */
#define PARTITIONER_TOPIC_NAME_MAX 249 /* Kafka's Topic.MAX_NAME_LENGTH */
#define PARTITION_ANY (-1)	       /* no explicit partition: the partitioner chooses */
#define PARTITIONER_KEY_NULL (-1)      /* key_len of a null key */

enum partitioner_kind {
	PARTITIONER_DEFAULT,
	PARTITIONER_MURMUR2,
	PARTITIONER_ROUND_ROBIN,
	PARTITIONER_STICKY,
	PARTITIONER_CONSISTENT_RANDOM,
	PARTITIONER_MURMUR2_RANDOM,
	PARTITIONER_KIND_COUNT
};

/* How a partition was chosen, for the REPL to explain it. */
enum partition_how {
	PARTITION_HOW_EXPLICIT,	   /* the record named it */
	PARTITION_HOW_MURMUR2,	   /* toPositive(murmur2(key)) % n */
	PARTITION_HOW_CRC32,	   /* crc32(key) % n */
	PARTITION_HOW_ROUND_ROBIN, /* toPositive(the topic's counter) % n */
	PARTITION_HOW_STICKY,	   /* the topic's sticky partition */
	PARTITION_HOW_RANDOM,	   /* uniform from the PRNG */
};

struct partition_choice {
	int32_t partition;
	enum partition_how how;
	/*
	 * MURMUR2: murmur2(key) as Java's int (-790332482 for "foobar");
	 * CRC32: the unsigned crc (2666930069 for "foobar");
	 * ROUND_ROBIN: the counter's value as Java's int; otherwise 0.
	 */
	int64_t hash;
	/* What was taken % n: toPositive(hash) for MURMUR2 and ROUND_ROBIN, hash for CRC32. */
	int64_t dividend;
};

/* State for one topic.  Rule: sticky is -1 or a partition once chosen. */
struct partitioner_topic {
	char name[PARTITIONER_TOPIC_NAME_MAX + 1];
	uint32_t counter; /* round robin: the next value, as Java's int's bits */
	int32_t sticky;	  /* sticky: the current partition, -1 before the first */
};

struct partitioner {
	enum partitioner_kind kind;
	uint64_t rng; /* splitmix64 state; advanced only by random choices */
	int ntopics;  /* topics[0..ntopics) in use, in order of first use */
	struct partitioner_topic topics[PARTITIONER_TOPICS_MAX];
};

void partitioner_init(struct partitioner *p, enum partitioner_kind kind, uint64_t seed);

/*
 * Choose the partition of one record of topic, which has num_partitions
 * partitions.  partition is PARTITION_ANY or the record's explicit
 * partition; key_len is PARTITIONER_KEY_NULL for a null key (key may then
 * be NULL), else the key's length.  On success fills *out and returns
 * KLAB_OK.  Errors (definite: *out and p are unchanged):
 *   KLAB_EINVAL     num_partitions <= 0; partition outside [0, n) and not
 *                   PARTITION_ANY; key_len < -1; topic empty or longer
 *                   than PARTITIONER_TOPIC_NAME_MAX
 *   KLAB_ETOOLARGE  the kind needs state for a new topic and the table
 *                   already holds PARTITIONER_TOPICS_MAX
 */
int partitioner_choose(struct partitioner *p, const char *topic, int32_t partition,
		       const uint8_t *key, int32_t key_len, int32_t num_partitions,
		       struct partition_choice *out);

/*
 * The producer opens a new batch for prev_partition of topic.  For the
 * sticky kinds (default, sticky), if prev_partition is the topic's sticky
 * partition (or it has none yet), a new sticky partition is drawn: uniform
 * among the others when num_partitions > 1.  A call for a partition that
 * is no longer sticky changes nothing (Kafka's StickyPartitionCache).
 * Other kinds ignore the call.  Errors as for partitioner_choose(), with
 * prev_partition in the place of an explicit partition.
 */
int partitioner_on_new_batch(struct partitioner *p, const char *topic, int32_t prev_partition,
			     int32_t num_partitions);

/* "default", "murmur2", "round-robin", "sticky", "consistent_random", "murmur2_random". */
const char *partitioner_name(enum partitioner_kind kind);

/*
 * The kind named name: one of the names above, ignoring case and taking
 * '-' and '_' as the same ("round_robin", "Consistent-Random").
 * KLAB_EINVAL for anything else (then *out is unchanged).
 */
int partitioner_parse(const char *name, enum partitioner_kind *out);

/* "explicit", "murmur2", "crc32", "round-robin", "sticky", "random". */
const char *partition_how_name(enum partition_how how);

/* NULL when p keeps the rules in partitioner.c, else the rule broken. */
const char *partitioner_check_invariants(const struct partitioner *p);

#endif
