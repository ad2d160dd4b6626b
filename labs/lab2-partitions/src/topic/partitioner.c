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

static const char *const kind_names[PARTITIONER_KIND_COUNT] = {
	[PARTITIONER_DEFAULT] = "default",
	[PARTITIONER_MURMUR2] = "murmur2",
	[PARTITIONER_ROUND_ROBIN] = "round-robin",
	[PARTITIONER_STICKY] = "sticky",
	[PARTITIONER_CONSISTENT_RANDOM] = "consistent_random",
	[PARTITIONER_MURMUR2_RANDOM] = "murmur2_random",
};

static const char *const how_names[] = {
	[PARTITION_HOW_EXPLICIT] = "explicit", [PARTITION_HOW_MURMUR2] = "murmur2",
	[PARTITION_HOW_CRC32] = "crc32",       [PARTITION_HOW_ROUND_ROBIN] = "round-robin",
	[PARTITION_HOW_STICKY] = "sticky",     [PARTITION_HOW_RANDOM] = "random",
};

/* ---- the PRNG (splitmix64, Steele, Lea and Flood 2014) ------------------- */

static uint64_t
rng_next(struct partitioner *p)
{
	uint64_t z = (p->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the modulo bias, below n / 2^64, is negligible). */
static int32_t
rng_below(struct partitioner *p, int32_t n)
{
	return (int32_t)(rng_next(p) % (uint64_t)n);
}

/* ---- per-topic state ----------------------------------------------------- */

static bool
kind_is_sticky(enum partitioner_kind kind)
{
	return kind == PARTITIONER_DEFAULT || kind == PARTITIONER_STICKY;
}

static bool
kind_counts(enum partitioner_kind kind)
{
	return kind == PARTITIONER_MURMUR2 || kind == PARTITIONER_ROUND_ROBIN;
}

static int
topic_check(const char *topic)
{
	size_t len = strnlen(topic, PARTITIONER_TOPIC_NAME_MAX + 1);

	if (len == 0 || len > PARTITIONER_TOPIC_NAME_MAX)
		return KLAB_EINVAL;
	return KLAB_OK;
}

/*
 * The state of topic (already checked), added on first use.  A new
 * round-robin counter starts at 0 (RoundRobinPartitioner) or, for the
 * murmur2 kind, at a random int (the pre-2.4 DefaultPartitioner).
 */
static int
topic_get(struct partitioner *p, const char *topic, struct partitioner_topic **out)
{
	struct partitioner_topic *t;

	for (int i = 0; i < p->ntopics; i++)
		if (strcmp(p->topics[i].name, topic) == 0) {
			*out = &p->topics[i];
			return KLAB_OK;
		}
	if (p->ntopics == PARTITIONER_TOPICS_MAX)
		return KLAB_ETOOLARGE;
	t = &p->topics[p->ntopics++];
	memcpy(t->name, topic, strlen(topic) + 1);
	t->counter = p->kind == PARTITIONER_MURMUR2 ? (uint32_t)rng_next(p) : 0;
	t->sticky = -1;
	*out = t;
	return KLAB_OK;
}

/* A new sticky partition for t: uniform over [0, n), but not the old one. */
static void
sticky_pick(struct partitioner *p, struct partitioner_topic *t, int32_t n)
{
	/* LAB 2 BEGIN sticky_pick: the next sticky partition, uniform over the others, one draw
	 * skeleton: (void)p; (void)n; t->sticky = 0;
	 */
	/* TODO(lab 2, sticky_pick): write this part. */
	(void)p; (void)n; t->sticky = 0;
	/* LAB 2 END sticky_pick */
}

/* ---- the rules ----------------------------------------------------------- */

/* The bits of u read as a Java int. */
static int64_t
java_int(uint32_t u)
{
	return (int64_t)u - (u > (uint32_t)INT32_MAX ? (int64_t)1 << 32 : 0);
}

static int
by_murmur2(const uint8_t *key, int32_t key_len, int32_t n, struct partition_choice *c)
{
	/* LAB 2 BEGIN keyed_partition: a keyed record goes to toPositive(murmur2(key)) % n
	 * skeleton: (void)key; (void)key_len; (void)n; (void)c; return KLAB_ENOTIMPL;
	 */
	/* TODO(lab 2, keyed_partition): write this part. */
	(void)key; (void)key_len; (void)n; (void)c; return KLAB_ENOTIMPL;
	/* LAB 2 END keyed_partition */
}

/* librdkafka's rd_kafka_msg_partitioner_consistent: rd_crc32(key) % n. */
static int
by_crc32(const uint8_t *key, int32_t key_len, int32_t n, struct partition_choice *c)
{
	uint32_t crc = (uint32_t)crc32(0L, key, (uInt)key_len);

	c->how = PARTITION_HOW_CRC32;
	c->hash = crc;
	c->dividend = crc;
	c->partition = (int32_t)(crc % (uint32_t)n);
	return KLAB_OK;
}

static int
by_random(struct partitioner *p, int32_t n, struct partition_choice *c)
{
	c->how = PARTITION_HOW_RANDOM;
	c->partition = rng_below(p, n);
	return KLAB_OK;
}

static int
by_round_robin(struct partitioner *p, const char *topic, int32_t n, struct partition_choice *c)
{
	struct partitioner_topic *t;
	int rc = topic_get(p, topic, &t);

	if (rc != KLAB_OK)
		return rc;
	c->how = PARTITION_HOW_ROUND_ROBIN;
	c->hash = java_int(t->counter);
	c->dividend = t->counter & 0x7fffffffu; /* Utils.toPositive */
	c->partition = (int32_t)(c->dividend % n);
	t->counter++; /* wraps as Java's AtomicInteger does */
	return KLAB_OK;
}

static int
by_sticky(struct partitioner *p, const char *topic, int32_t n, struct partition_choice *c)
{
	struct partitioner_topic *t;
	int rc = topic_get(p, topic, &t);

	if (rc != KLAB_OK)
		return rc;
	if (t->sticky < 0 || t->sticky >= n)
		sticky_pick(p, t, n);
	c->how = PARTITION_HOW_STICKY;
	c->partition = t->sticky;
	return KLAB_OK;
}

/* The kind's rule for a record without an explicit partition. */
static int
choose_by_kind(struct partitioner *p, const char *topic, const uint8_t *key, int32_t key_len,
	       int32_t n, struct partition_choice *c)
{
	bool keyed = key_len != PARTITIONER_KEY_NULL;

	switch (p->kind) {
	case PARTITIONER_DEFAULT:
		return keyed ? by_murmur2(key, key_len, n, c) : by_sticky(p, topic, n, c);
	case PARTITIONER_MURMUR2:
		return keyed ? by_murmur2(key, key_len, n, c) : by_round_robin(p, topic, n, c);
	case PARTITIONER_ROUND_ROBIN: return by_round_robin(p, topic, n, c);
	case PARTITIONER_STICKY: return by_sticky(p, topic, n, c);
	case PARTITIONER_CONSISTENT_RANDOM:
		return key_len > 0 ? by_crc32(key, key_len, n, c) : by_random(p, n, c);
	case PARTITIONER_MURMUR2_RANDOM:
		return keyed ? by_murmur2(key, key_len, n, c) : by_random(p, n, c);
	case PARTITIONER_KIND_COUNT: break;
	}
	assert(!"partitioner kind out of range");
	return KLAB_EINVAL;
}

/* ---- the interface ------------------------------------------------------- */

void
partitioner_init(struct partitioner *p, enum partitioner_kind kind, uint64_t seed)
{
	assert((unsigned)kind < PARTITIONER_KIND_COUNT);
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->rng = seed;
}

int
partitioner_choose(struct partitioner *p, const char *topic, int32_t partition, const uint8_t *key,
		   int32_t key_len, int32_t num_partitions, struct partition_choice *out)
{
	struct partition_choice c = { 0 };
	int rc;

	assert(p != NULL && topic != NULL && out != NULL);
	assert(key != NULL || key_len <= 0);
	if (num_partitions <= 0 || key_len < PARTITIONER_KEY_NULL)
		return KLAB_EINVAL;
	if (partition != PARTITION_ANY && (partition < 0 || partition >= num_partitions))
		return KLAB_EINVAL;
	if ((rc = topic_check(topic)) != KLAB_OK)
		return rc;
	if (partition != PARTITION_ANY) {
		c.how = PARTITION_HOW_EXPLICIT;
		c.partition = partition;
	} else if ((rc = choose_by_kind(p, topic, key, key_len, num_partitions, &c)) != KLAB_OK) {
		return rc;
	}
	assert(c.partition >= 0 && c.partition < num_partitions);
	*out = c;
	return KLAB_OK;
}

int
partitioner_on_new_batch(struct partitioner *p, const char *topic, int32_t prev_partition,
			 int32_t num_partitions)
{
	struct partitioner_topic *t;
	int rc;

	assert(p != NULL && topic != NULL);
	if (num_partitions <= 0 || prev_partition < 0 || prev_partition >= num_partitions)
		return KLAB_EINVAL;
	if ((rc = topic_check(topic)) != KLAB_OK)
		return rc;
	if (!kind_is_sticky(p->kind))
		return KLAB_OK;
	if ((rc = topic_get(p, topic, &t)) != KLAB_OK)
		return rc;
	/* StickyPartitionCache.nextPartition: move only the current sticky partition */
	if (t->sticky < 0 || t->sticky == prev_partition || t->sticky >= num_partitions)
		sticky_pick(p, t, num_partitions);
	return KLAB_OK;
}

const char *
partitioner_name(enum partitioner_kind kind)
{
	assert((unsigned)kind < PARTITIONER_KIND_COUNT);
	return kind_names[kind];
}

/* Case folded, '-' read as '_'. */
static int
name_fold(char ch)
{
	int c = tolower((unsigned char)ch);

	return c == '-' ? '_' : c;
}

int
partitioner_parse(const char *name, enum partitioner_kind *out)
{
	assert(name != NULL && out != NULL);
	for (int k = 0; k < PARTITIONER_KIND_COUNT; k++) {
		const char *a = name, *b = kind_names[k];

		while (*a != '\0' && name_fold(*a) == name_fold(*b)) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0') {
			*out = (enum partitioner_kind)k;
			return KLAB_OK;
		}
	}
	return KLAB_EINVAL;
}

const char *
partition_how_name(enum partition_how how)
{
	assert((unsigned)how < sizeof(how_names) / sizeof(how_names[0]));
	return how_names[how];
}

const char *
partitioner_check_invariants(const struct partitioner *p)
{
	if ((unsigned)p->kind >= PARTITIONER_KIND_COUNT)
		return "invariant 1: kind is one of enum partitioner_kind";
	if (p->ntopics < 0 || p->ntopics > PARTITIONER_TOPICS_MAX)
		return "invariant 2: 0 <= ntopics <= PARTITIONER_TOPICS_MAX";
	for (int i = 0; i < p->ntopics; i++) {
		const struct partitioner_topic *t = &p->topics[i];
		size_t len = strnlen(t->name, sizeof(t->name));

		if (len == 0 || len > PARTITIONER_TOPIC_NAME_MAX)
			return "invariant 3: a topic name has 1..PARTITIONER_TOPIC_NAME_MAX bytes";
		for (int j = 0; j < i; j++)
			if (strcmp(p->topics[j].name, t->name) == 0)
				return "invariant 3: topic names are distinct";
		if (t->sticky < -1 || (t->sticky != -1 && !kind_is_sticky(p->kind)))
			return "invariant 4: sticky is -1 or a partition, and -1 unless sticky";
		if (t->counter != 0 && !kind_counts(p->kind))
			return "invariant 5: counter is 0 unless the kind counts";
	}
	return NULL;
}
