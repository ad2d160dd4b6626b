/*
 * test_lab2.c - the graded tests of lab 2 (labs/lab2-partitions/README.md).
 *
 * Each test exercises one lab region through the code around it, and
 * builds what it needs without the other regions, so a region is graded
 * on its own:
 *
 *   - murmur2 is checked against hashes computed by Kafka's Java code
 *     (UtilsTest, and the vectors librdkafka checks its port with);
 *   - the keyed rule is checked against the hash that murmur2() returns,
 *     whatever it is, not against Kafka's partitions (those would also
 *     grade the murmur2 region);
 *   - the sticky draw is replayed with a copy of the partitioner's PRNG;
 *   - the accumulator's batches are put in place by hand for the
 *     sendable tests, so they do not go through acc_append and the
 *     needs_new_batch region.
 *
 * tests/labs/lab2/points gives each test its points.
 *
 * Assertions say in words what was expected (labs/check.h).
 *
 *   --list                   print the test names
 *   KLAB_TEST_FILTER=NAME    run only the test NAME (tools/grade.sh does)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/murmur2.h"
#include "log/batch.h"
#include "topic/accumulator.h"
#include "topic/partitioner.h"

#include "labs/check.h"

/* ---- murmur2 ------------------------------------------------------------ */

struct vector {
	const char *key;
	size_t len;
	int32_t hash;
};

static void
check_vectors(const struct vector *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int32_t got = murmur2(v[i].key, v[i].len);

		if (got != v[i].hash)
			fail_msg("murmur2 of the %zu-byte key #%zu (\"%s\"): expected %d (Kafka's "
				 "hash), got %d: %s",
				 v[i].len, i, v[i].key, v[i].hash, got,
				 v[i].len % 4 != 0 ? "did the tail bytes fall through the switch "
						     "(3, 2, 1), each "
						     "masked with 0xff?"
						   : "whole 4-byte blocks, little-endian, m = "
						     "0x5bd1e995, r = 24, "
						     "seed 0x9747b28c ^ len");
	}
}

/* Kafka's own test vectors (UtilsTest.testMurmur2). */
static void
test_lab2_murmur2_kafka_vectors(void **state)
{
	static const struct vector v[] = {
		{ "21", 2, -973932308 },
		{ "foobar", 6, -790332482 },
		{ "a-little-bit-long-string", 24, -985981536 },
		{ "a-little-bit-longer-string", 26, -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48, -58897971 },
		{ "abc", 3, 479470107 },
	};

	(void)state;
	check_vectors(v, sizeof(v) / sizeof(v[0]));
}

/*
 * Every tail length (0, 1, 2 and 3 bytes after the last whole block), with
 * the Java client's hashes that librdkafka's rdmurmur2.c checks its port
 * against.  Each key is also hashed from an odd address: murmur2 must read
 * byte by byte, not load words from a pointer it does not control.
 */
static void
test_lab2_murmur2_every_tail_length(void **state)
{
	static const struct vector v[] = {
		{ "", 0, 275646681 },
		{ "4", 1, 1514888353 },
		{ "34", 2, -2026295078 },
		{ "234", 3, -406844982 },
		{ "1234", 4, -1614185708 },
		{ "kafka", 5, -798503068 },
		{ "giberish123456789", 17, -1890243828 },
		{ "AmbleWillBeRemoved,ThePrePartThatIs", 35, 1656271935 },
		{ "eAmbleWillBeRemoved,ThePrePartThatIs", 36, -521871202 },
		{ "reAmbleWillBeRemoved,ThePrePartThatIs", 37, 1247982455 },
		{ "PreAmbleWillBeRemoved,ThePrePartThatIs", 38, 2017611548 },
	};
	char buf[64];

	(void)state;
	check_vectors(v, sizeof(v) / sizeof(v[0]));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (size_t at = 1; at < 4; at++) {
			memcpy(buf + at, v[i].key, v[i].len);
			CHECK_EQF(murmur2(buf + at, v[i].len), v[i].hash,
				  "read the key byte by byte, never as words from a pointer it "
				  "does not control",
				  "murmur2 of key #%zu (%zu bytes) copied to an address %zu bytes "
				  "past alignment",
				  i, v[i].len, at);
		}
	}
	CHECK_EQ(murmur2(NULL, 0), 275646681, "murmur2(NULL, 0)",
		 "a NULL empty key is allowed: hash no bytes, do not read the pointer");
}

/*
 * Bytes >= 0x80, as in any non-ASCII UTF-8 key.  Java's bytes are signed
 * and Kafka masks them with & 0xff; a port that sign-extends gets these
 * wrong.  Computed with a Python transcription of Utils.murmur2 that
 * reproduces all of the vectors above.
 */
static void
test_lab2_murmur2_high_bytes(void **state)
{
	static const struct vector v[] = {
		{ "Z\xc3\xbcrich", 7, -1551140815 },			   /* "Zürich" */
		{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9, 1431860170 }, /* "日本語" */
		{ "user-\xff", 6, -606284680 },
		{ "\xff\xff\xff\xff", 4, 644171429 },
		{ "\xff\xfe\x80", 3, -160726397 },
		{ "\x80\x00\x00\x80\xc3\xa9\xff", 7, 724082953 },
		{ "\x80\x81\x82\x83\x84\x85\x86\x87\x88", 9, -622696910 },
	};

	(void)state;
	check_vectors(v, sizeof(v) / sizeof(v[0]));
}

/* ---- keyed_partition ---------------------------------------------------- */

/* The hashing kinds, as a failure names them. */
static const char *const kind_names[] = { "default", "murmur2", "murmur2_random" };

static const struct vector keys[] = {
	{ "21", 2, 0 },
	{ "foobar", 6, 0 },
	{ "a-little-bit-longer-string", 26, 0 },
	{ "abc", 3, 0 },
	{ "", 0, 0 }, /* an empty key is a key, not a null one */
	{ "user-42", 7, 0 },
	{ "Z\xc3\xbcrich", 7, 0 },
	{ "\xff\xfe\x80", 3, 0 },
	{ "order-1001", 10, 0 },
	{ "order-1002", 10, 0 },
	{ "order-1003", 10, 0 },
	{ "order-1004", 10, 0 },
};

static const int32_t partition_counts[] = { 1, 2, 3, 4, 6, 7, 10, 12, 100, 1000, INT32_MAX };

/*
 * The keyed rule, for the three kinds that hash keys: the choice reports
 * murmur2(key) - as this build's murmur2() computes it, so that the test
 * does not grade the murmur2 region - and the partition is
 * toPositive(hash) % n.
 */
static void
test_lab2_keyed_partition_is_hash_mod_n(void **state)
{
	static const enum partitioner_kind kinds[] = { PARTITIONER_DEFAULT, PARTITIONER_MURMUR2,
						       PARTITIONER_MURMUR2_RANDOM };
	struct partitioner p;

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		partitioner_init(&p, kinds[k], 42);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const uint8_t *key = (const uint8_t *)keys[i].key;
			int32_t len = (int32_t)keys[i].len;
			int64_t hash = murmur2(key, (size_t)len);
			int64_t dividend = (int64_t)((uint32_t)hash & 0x7fffffffu);

			for (size_t j = 0;
			     j < sizeof(partition_counts) / sizeof(partition_counts[0]); j++) {
				int32_t n = partition_counts[j];
				struct partition_choice c;

				CHECK_EQF(partitioner_choose(&p, "orders", PARTITION_ANY, key, len,
							     n, &c),
					  KLAB_OK, "a keyed record always gets a partition",
					  "kind %s, key #%zu (\"%s\"), %d partitions: "
					  "partitioner_choose",
					  kind_names[k], i, keys[i].key, n);
				CHECK_EQF(c.how, PARTITION_HOW_MURMUR2,
					  "a record with a key (even an empty one) is hashed",
					  "kind %s, key #%zu (\"%s\"), %d partitions: how",
					  kind_names[k], i, keys[i].key, n);
				CHECK_EQF(c.hash, hash, "report murmur2 of the key's len bytes",
					  "kind %s, key #%zu (\"%s\"), %d partitions: hash",
					  kind_names[k], i, keys[i].key, n);
				CHECK_EQF(c.dividend, dividend,
					  "toPositive(hash) is hash & 0x7fffffff, not abs(hash)",
					  "kind %s, key #%zu (\"%s\"), %d partitions: dividend",
					  kind_names[k], i, keys[i].key, n);
				CHECK_EQF(c.partition, dividend % n,
					  "the partition is toPositive(hash) % n",
					  "kind %s, key #%zu (\"%s\"), %d partitions: partition",
					  kind_names[k], i, keys[i].key, n);
			}
		}
	}
	/* a key is len bytes, NUL or not, and nothing after them */
	{
		const uint8_t key[] = { 'a', 0, 'b', 'c', 'd' };
		struct partition_choice c;

		partitioner_init(&p, PARTITIONER_DEFAULT, 42);
		CHECK_OK(partitioner_choose(&p, "t", PARTITION_ANY, key, 4, 1000, &c),
			 "partitioner_choose of the 4-byte key \"a\\0bc\"");
		CHECK_EQ(c.hash, murmur2(key, 4), "hash of the 4-byte key \"a\\0bc\"",
			 "a key is key_len bytes, NUL or not: not a C string (no strlen)");
		CHECK_EQ(c.partition, ((uint32_t)murmur2(key, 4) & 0x7fffffffu) % 1000,
			 "partition of the 4-byte key \"a\\0bc\" of 1000",
			 "a key is key_len bytes, NUL or not: not a C string (no strlen)");
	}
}

/*
 * Invariant 7 of partitioner.c: a keyed record under a hashing kind reads
 * and writes no state.  No per-topic entry is made (so any number of
 * topics works: the table holds only PARTITIONER_TOPICS_MAX), the PRNG
 * does not move, and the same key gets the same partition every time.
 */
static void
test_lab2_keyed_partition_reads_no_state(void **state)
{
	static const enum partitioner_kind kinds[] = { PARTITIONER_DEFAULT, PARTITIONER_MURMUR2,
						       PARTITIONER_MURMUR2_RANDOM };
	static struct partitioner p, before;

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int32_t first[sizeof(keys) / sizeof(keys[0])] = { 0 };

		partitioner_init(&p, kinds[k], 7);
		memcpy(&before, &p, sizeof(p));
		for (int round = 0; round < 3; round++) {
			for (int t = 0; t < 3 * PARTITIONER_TOPICS_MAX; t++) {
				char topic[32];

				snprintf(topic, sizeof(topic), "topic-%d", t);
				for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
					struct partition_choice c;

					CHECK_EQF(partitioner_choose(&p, topic, PARTITION_ANY,
								     (const uint8_t *)keys[i].key,
								     (int32_t)keys[i].len, 12, &c),
						  KLAB_OK,
						  "a keyed record needs no per-topic entry: the "
						  "table's size does not limit it",
						  "kind %s, topic %s, key #%zu: partitioner_choose",
						  kind_names[k], topic, i);
					if (round == 0 && t == 0)
						first[i] = c.partition;
					CHECK_EQF(
						c.partition, first[i],
						"the same key gets the same partition, whatever "
						"the topic or the time",
						"kind %s, round %d, topic %s, key #%zu: partition",
						kind_names[k], round, topic, i);
				}
			}
		}
		CHECK_EQF(p.ntopics, 0, "a keyed record makes no per-topic entry (invariant 7)",
			  "kind %s: topics in the partitioner after keyed records only",
			  kind_names[k]);
		CHECK_EQF(p.rng, before.rng, "a keyed record draws nothing from the PRNG",
			  "kind %s: PRNG state after keyed records only", kind_names[k]);
		CHECK_EQF(memcmp(&p, &before, sizeof(p)), 0,
			  "a keyed record reads and writes no state (invariant 7)",
			  "kind %s: the partitioner changed (memcmp)", kind_names[k]);
		CHECK_TRUE(partitioner_check_invariants(&p) == NULL,
			   "partitioner_check_invariants failed after keyed records");
	}
}

/* ---- sticky_pick -------------------------------------------------------- */

/* The partitioner's PRNG, copied: splitmix64. */
static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* The partition of a record without a key (default kind: sticky). */
static int32_t
null_key(struct partitioner *p, const char *topic, int32_t n)
{
	struct partition_choice c;

	CHECK_EQF(partitioner_choose(p, topic, PARTITION_ANY, NULL, PARTITIONER_KEY_NULL, n, &c),
		  KLAB_OK, "a record without a key always gets a partition",
		  "partitioner_choose, null key, topic %s of %d partitions", topic, n);
	CHECK_EQF(c.how, PARTITION_HOW_STICKY,
		  "the default kind sends a record without a key to the sticky partition",
		  "how, null key, topic %s", topic);
	if (c.partition < 0 || c.partition >= n)
		fail_msg("null key, topic %s of %d partitions: partition %d is not in [0, %d)",
			 topic, n, c.partition, n);
	return c.partition;
}

static void
test_lab2_sticky_moves_off_on_new_batch(void **state)
{
	struct partitioner p;
	int32_t s, s2;

	(void)state;
	partitioner_init(&p, PARTITIONER_DEFAULT, 2024);
	s = null_key(&p, "clicks", 4);
	for (int i = 0; i < 200; i++) {
		for (int j = 0; j < 3; j++) /* sticky: no new batch, no move */
			CHECK_EQF(null_key(&p, "clicks", 4), s, "sticky: no new batch, no move",
				  "switch %d, record %d: partition of a null key", i, j);
		CHECK_EQF(partitioner_on_new_batch(&p, "clicks", s, 4), KLAB_OK, "not a region",
			  "switch %d: partitioner_on_new_batch", i);
		s2 = null_key(&p, "clicks", 4);
		if (s2 == s)
			fail_msg("switch %d: a new batch of sticky partition %d left it at %d: a "
				 "new batch must move it to another partition",
				 i, s, s2);
		s = s2;
	}
	/* a batch of a partition that is no longer sticky moves nothing */
	CHECK_OK(partitioner_on_new_batch(&p, "clicks", (s + 1) % 4, 4),
		 "partitioner_on_new_batch of another partition");
	CHECK_EQ(null_key(&p, "clicks", 4), s,
		 "sticky partition after a new batch of a partition that is not sticky",
		 "only a new batch of the sticky partition itself moves it");
	/* with two partitions it alternates */
	s = null_key(&p, "pairs", 2);
	for (int i = 0; i < 20; i++) {
		CHECK_OK(partitioner_on_new_batch(&p, "pairs", s, 2), "partitioner_on_new_batch");
		CHECK_EQF(null_key(&p, "pairs", 2), 1 - s,
			  "of two partitions, the move goes to the other one",
			  "switch %d of topic pairs (2 partitions): partition", i);
		s = 1 - s;
	}
	CHECK_TRUE(partitioner_check_invariants(&p) == NULL,
		   "partitioner_check_invariants failed after the sticky switches");
}

static void
test_lab2_sticky_is_uniform(void **state)
{
	enum { N = 5, SWITCHES = 10000 };
	int moves[N][N] = { { 0 } };
	int firsts[4] = { 0 };
	struct partitioner p;
	int32_t s;

	(void)state;
	partitioner_init(&p, PARTITIONER_DEFAULT, 99);
	s = null_key(&p, "t", N);
	for (int i = 0; i < SWITCHES; i++) {
		int32_t next;

		CHECK_OK(partitioner_on_new_batch(&p, "t", s, N), "partitioner_on_new_batch");
		next = null_key(&p, "t", N);
		moves[s][next]++;
		s = next;
	}
	/* from each partition, each of the 4 others about equally often (~500) */
	for (int a = 0; a < N; a++)
		for (int b = 0; b < N; b++) {
			if (a == b)
				CHECK_EQF(moves[a][b], 0,
					  "a new batch always moves to another partition",
					  "moves from %d to itself in %d switches", a, SWITCHES);
			else if (moves[a][b] < 380 || moves[a][b] > 620)
				fail_msg("moves from partition %d to %d in %d switches: expected "
					 "about "
					 "500 (380 to 620), got %d: draw rng_below(p, n - 1) and "
					 "step "
					 "over the old partition, so each other one is equally "
					 "likely",
					 a, b, SWITCHES, moves[a][b]);
		}
	/* the first sticky partition of a topic: uniform over all n */
	for (uint64_t seed = 0; seed < 4000; seed++) {
		partitioner_init(&p, PARTITIONER_DEFAULT, seed * 7919);
		firsts[null_key(&p, "t", 4)]++;
	}
	for (int i = 0; i < 4; i++)
		if (firsts[i] < 850 || firsts[i] > 1150)
			fail_msg(
				"first sticky partition of 4 over 4000 seeds: partition %d chosen "
				"%d times, expected about 1000 (850 to 1150): draw rng_below(p, n) "
				"over all n partitions",
				i, firsts[i]);
}

/*
 * The contract fixes the draws, so a seed replays: one rng_below(p, n)
 * when there is no valid sticky partition, one rng_below(p, n - 1) then a
 * step over the old one when it moves, none when n is 1.
 */
static void
test_lab2_sticky_one_draw_per_pick(void **state)
{
	const uint64_t seed = 0x5EED;
	struct partitioner p;
	uint64_t rng = seed;
	int32_t want, got;

	(void)state;
	partitioner_init(&p, PARTITIONER_DEFAULT, seed);
	want = (int32_t)(splitmix(&rng) % 6);
	CHECK_EQ(null_key(&p, "t", 6), want, "first sticky partition of 6",
		 "no sticky partition yet: one rng_below(p, n)");
	CHECK_TRUE(p.rng == rng, "the first pick of a topic must make exactly one draw "
				 "(rng_below(p, n)): the PRNG state differs");
	for (int i = 0; i < 100; i++) {
		int32_t r;

		CHECK_OK(partitioner_on_new_batch(&p, "t", want, 6), "partitioner_on_new_batch");
		r = (int32_t)(splitmix(&rng) % 5);
		want = r < want ? r : r + 1;
		got = null_key(&p, "t", 6);
		CHECK_EQF(got, want,
			  "one rng_below(p, n - 1), then step over the old partition (r >= old: r "
			  "+ 1)",
			  "move %d of 6 partitions: new sticky partition", i);
		if (p.rng != rng)
			fail_msg(
				"move %d: the PRNG state differs from exactly one draw after it: a "
				"move makes one rng_below(p, n - 1), no more, no fewer",
				i);
	}
	/* fewer partitions than the sticky one: a fresh draw over all of them */
	partitioner_init(&p, PARTITIONER_DEFAULT, 11);
	want = null_key(&p, "t", 6);
	for (int i = 0; i < 100 && want < 3; i++) {
		CHECK_OK(partitioner_on_new_batch(&p, "t", want, 6), "partitioner_on_new_batch");
		want = null_key(&p, "t", 6);
	}
	CHECK_TRUE(want >= 3, "100 moves over 6 partitions never reached partitions 3 to 5");
	rng = p.rng;
	CHECK_EQ(null_key(&p, "t", 3), (int32_t)(splitmix(&rng) % 3),
		 "partition of a topic shrunk to 3, its sticky one gone",
		 "a sticky partition >= n is no longer valid: a fresh rng_below(p, n)");
	CHECK_TRUE(p.rng == rng, "a topic that shrank below its sticky partition must make "
				 "exactly one draw (rng_below(p, n)): the PRNG state differs");
	/* one partition: always 0, and no draw */
	partitioner_init(&p, PARTITIONER_DEFAULT, 11);
	CHECK_EQ(null_key(&p, "solo", 1), 0, "partition of a topic of 1", "the only one");
	CHECK_OK(partitioner_on_new_batch(&p, "solo", 0, 1), "partitioner_on_new_batch");
	CHECK_EQ(null_key(&p, "solo", 1), 0, "partition of a topic of 1 after a new batch",
		 "nowhere else to go: it stays");
	CHECK_TRUE(p.rng == 11, "a topic of one partition must draw nothing from the PRNG "
				"(n is 1: no rng_below)");
}

/* ---- needs_new_batch ---------------------------------------------------- */

static struct producer_config
config(int64_t batch_size, int64_t linger_ms)
{
	struct producer_config pc = { 0 };

	pc.batch_size = batch_size;
	pc.linger_ms = linger_ms;
	pc.buffer_memory = 1 << 24;
	pc.max_block_ms = 0;
	pc.max_request_size = 1 << 20;
	pc.compression = COMPRESSION_NONE;
	return pc;
}

static uint8_t value_bytes[4096];

/* A record with key "k" and a value of value_len bytes. */
static struct record_in
record(int32_t value_len)
{
	struct record_in r = { 0 };

	memset(value_bytes, 'v', sizeof(value_bytes));
	r.kv.key = (const uint8_t *)"k";
	r.kv.key_len = 1;
	r.kv.value = value_bytes;
	r.kv.value_len = value_len;
	r.timestamp = 1000;
	return r;
}

/* accumulator.c's record_bound() for record(value_len): what a record may add. */
static uint64_t
bound(int32_t value_len)
{
	return 32 + 1 + (uint64_t)value_len;
}

/* acc_append, which must succeed; returns whether it opened a new batch. */
static bool
append(struct accumulator *a, const char *topic, int32_t partition, int32_t value_len)
{
	struct record_in r = record(value_len);
	bool new_batch = false;

	CHECK_EQF(acc_append(a, topic, partition, &r, 1000, &new_batch, NULL), KLAB_OK,
		  "a record with room in buffer.memory is appended",
		  "acc_append of a %d-byte value to %s-%d", value_len, topic, partition);
	return new_batch;
}

static bool
needs(const struct accumulator *a, const char *topic, int32_t partition, int32_t value_len)
{
	struct record_in r = record(value_len);

	return acc_needs_new_batch(a, topic, partition, &r);
}

static void
test_lab2_needs_new_batch_per_partition(void **state)
{
	struct producer_config pc = config(16384, 0);
	struct accumulator a;

	(void)state;
	acc_init(&a, &pc);
	CHECK_EQ(needs(&a, "t", 0, 10), true, "needs a new batch, t-0, nothing open yet (1: yes)",
		 "no open batch for the partition: a new one");
	CHECK_EQ(append(&a, "t", 0, 10), true, "first append to t-0 opened a batch (1: yes)",
		 "no open batch for the partition: a new one");
	CHECK_EQ(needs(&a, "t", 0, 10), false, "needs a new batch, t-0 with room (1: yes)",
		 "the open batch of t-0 has room for a small record");
	CHECK_EQ(needs(&a, "t", 1, 10), true, "needs a new batch, t-1 (1: yes)",
		 "batches are per partition: t-0's batch is not t-1's");
	CHECK_EQ(needs(&a, "u", 0, 10), true, "needs a new batch, u-0 (1: yes)",
		 "batches are per topic and partition: t-0's batch is not u-0's");
	CHECK_EQ(append(&a, "t", 0, 10), false, "second append to t-0 opened a batch (1: yes)",
		 "room in t-0's open batch");
	CHECK_EQ(append(&a, "t", 0, 10), false, "third append to t-0 opened a batch (1: yes)",
		 "room in t-0's open batch");
	CHECK_EQ(append(&a, "t", 1, 10), true, "first append to t-1 opened a batch (1: yes)",
		 "no open batch for t-1");
	CHECK_EQ(needs(&a, "t", 1, 10), false, "needs a new batch, t-1 with room (1: yes)",
		 "the open batch of t-1 has room");
	CHECK_EQ(a.n, 2, "batches in the accumulator", "one per partition written to");
	CHECK_EQ(a.batches[0]->records, 3, "records in t-0's batch", "three appends to t-0");
	CHECK_EQ(a.batches[1]->records, 1, "records in t-1's batch", "one append to t-1");
	acc_free(&a);
}

static void
test_lab2_needs_new_batch_at_batch_size(void **state)
{
	struct producer_config pc = config(300, 0);
	struct accumulator a;
	struct acc_batch *b;
	int total = 0, batches = 0;

	(void)state;
	acc_init(&a, &pc);
	for (int i = 0; i < 40; i++) {
		int32_t v = 10 + (i * 37) % 90;
		const struct acc_batch *open = acc_open_batch(&a, "t", 0);
		bool want = open == NULL || open->bytes.len + bound(v) > 300;

		CHECK_EQF(
			needs(&a, "t", 0, v), want,
			"a new batch when none is open or the open one's bytes + the record's "
			"bound would pass batch.size",
			"record %d (%d-byte value, open batch %lld bytes, batch.size 300): needs a "
			"new batch (1: yes)",
			i, v, open == NULL ? -1LL : (long long)open->bytes.len);
		CHECK_EQF(append(&a, "t", 0, v), want, "acc_append asks needs_new_batch",
			  "record %d (%d-byte value): acc_append opened a batch (1: yes)", i, v);
		batches += want;
	}
	CHECK_TRUE(batches >= 5, "40 records of up to 100 bytes in batches of 300 bytes made "
				 "fewer than 5 batches");
	CHECK_EQ(a.n, batches, "batches in the accumulator", "one per new batch opened");
	for (size_t i = 0; i < a.n; i++) {
		total += a.batches[i]->records;
		CHECK_EQF(a.batches[i]->bytes.len <= 300, 1, "a batch never grows past batch.size",
			  "batch %zu is %llu bytes, at most 300 (1: yes)", i,
			  (unsigned long long)a.batches[i]->bytes.len);
		CHECK_EQF(a.batches[i]->full, i + 1 < a.n,
			  "a batch left behind by a new one is closed (full); the last one is open",
			  "full flag of batch %zu of %zu", i, a.n);
	}
	CHECK_EQ(total, 40, "records in all the batches", "every record in exactly one batch");

	/* a record that takes the batch to exactly batch.size still fits */
	CHECK_EQ(append(&a, "t", 1, 20), true, "first append to t-1 opened a batch (1: yes)",
		 "no open batch for t-1");
	b = acc_open_batch(&a, "t", 1);
	CHECK_TRUE(b != NULL, "t-1 has no open batch after an append to it");
	{
		int32_t v = (int32_t)(300 - b->bytes.len - bound(0));

		CHECK_EQF(
			needs(&a, "t", 1, v), false,
			"a record that takes the batch to exactly batch.size still fits (> not >=)",
			"a %d-byte value into a %llu-byte batch of 300: needs a new batch (1: yes)",
			v, (unsigned long long)b->bytes.len);
		CHECK_EQF(
			append(&a, "t", 1, v), false,
			"a record that takes the batch to exactly batch.size still fits (> not >=)",
			"a %d-byte value filling the batch to 300: acc_append opened a batch (1: "
			"yes)",
			v);
		CHECK_EQ(b->records, 2, "records in t-1's batch", "both fit");
	}
	acc_free(&a);
}

static void
test_lab2_needs_new_batch_after_big_record(void **state)
{
	struct producer_config pc = config(200, 0);
	struct accumulator a;

	(void)state;
	acc_init(&a, &pc);
	CHECK_EQ(needs(&a, "t", 0, 500), true, "needs a new batch, nothing open (1: yes)",
		 "no open batch: a new one");
	CHECK_EQ(append(&a, "t", 0, 500), true,
		 "a 500-byte value (batch.size 200) opened a batch (1: yes)",
		 "a record larger than batch.size gets a batch of its own");
	CHECK_EQ(needs(&a, "t", 0, 5), true,
		 "needs a new batch after a record larger than batch.size (1: yes)",
		 "nothing more fits in a batch already past batch.size");
	CHECK_EQ(append(&a, "t", 0, 5), true,
		 "a small record after the big one opened a batch (1: yes)",
		 "nothing more fits in a batch already past batch.size");
	CHECK_EQ(needs(&a, "t", 0, 5), false, "needs a new batch, small batch with room (1: yes)",
		 "the new batch has room");
	CHECK_EQ(append(&a, "t", 0, 5), false, "second small record opened a batch (1: yes)",
		 "the new batch has room");
	CHECK_EQ(a.n, 2, "batches in the accumulator", "the big record's and the small ones'");
	CHECK_TRUE(a.batches[0]->full,
		   "the big record's batch was left behind but is not closed (full)");
	CHECK_EQ(a.batches[0]->records, 1, "records in the big record's batch", "only itself");
	CHECK_EQ(a.batches[1]->records, 2, "records in the second batch", "the two small ones");
	CHECK_EQ(needs(&a, "t", 0, 150), true, "needs a new batch for a 150-byte value (1: yes)",
		 "the open batch's bytes + the record's bound (183) pass batch.size (200)");
	acc_free(&a);
}

/* ---- sendable ----------------------------------------------------------- */

/*
 * Put a batch of records records with values of value_len bytes into a, as
 * acc_append would have (without it: acc_append uses needs_new_batch).
 */
static struct acc_batch *
put_batch(struct accumulator *a, const char *topic, int32_t partition, int64_t created_ms,
	  int records, int32_t value_len)
{
	struct acc_batch *b = calloc(1, sizeof(*b));
	void *grown = realloc(a->batches, (a->n + 1) * sizeof(*a->batches));

	assert_non_null(b);
	assert_non_null(grown);
	a->batches = grown;
	a->cap = a->n + 1;
	snprintf(b->topic, sizeof(b->topic), "%s", topic);
	b->partition = partition;
	b->created_ms = created_ms;
	b->reserved = (uint64_t)a->cfg.batch_size;
	buf_init(&b->bytes);
	batch_builder_begin(&b->bb, &b->bytes, 0, created_ms, 0);
	for (int i = 0; i < records; i++) {
		struct record_in r = record(value_len);

		batch_builder_add(&b->bb, &r);
		b->records++;
	}
	assert_true(buf_ok(&b->bytes));
	a->batches[a->n++] = b;
	a->used += b->reserved;
	return b;
}

/* acc_drain_one: -1 when nothing is ready, else the drained batch's partition. */
static int32_t
drain(struct accumulator *a, int64_t now_ms, bool flush)
{
	char topic[256];
	int32_t partition = -1, records = 0;
	uint64_t raw = 0;
	struct buf out;
	int rc;

	buf_init(&out);
	rc = acc_drain_one(a, now_ms, flush, &out, topic, sizeof(topic), &partition, &records,
			   &raw);
	buf_free(&out);
	if (rc != 0 && rc != 1)
		fail_msg("acc_drain_one at %lld ms%s: returned %d (%s), expected 1 (a batch) or 0 "
			 "(none ready)",
			 (long long)now_ms, flush ? ", flushing" : "", rc, klab_strerror(rc));
	return rc == 1 ? partition : -1;
}

static void
test_lab2_sendable_after_linger(void **state)
{
	struct producer_config pc = config(16384, 10);
	struct accumulator a;

	(void)state;
	acc_init(&a, &pc);
	put_batch(&a, "t", 0, 1000, 2, 10);
	put_batch(&a, "t", 1, 1004, 2, 10);
	CHECK_EQ(drain(&a, 1000, false), -1, "partition drained at 1000 ms (-1: none)",
		 "linger.ms 10: a batch created at 1000 lingers until 1010");
	CHECK_EQ(drain(&a, 1009, false), -1, "partition drained at 1009 ms (-1: none)",
		 "9 ms of linger.ms 10: still lingering");
	CHECK_EQ(drain(&a, 1010, false), 0, "partition drained at 1010 ms (-1: none)",
		 "ready once now - created_ms >= linger.ms (>=, not >)");
	CHECK_EQ(drain(&a, 1013, false), -1, "partition drained at 1013 ms (-1: none)",
		 "t-1's batch, created at 1004, lingers until 1014");
	CHECK_EQ(drain(&a, 1014, false), 1, "partition drained at 1014 ms (-1: none)",
		 "t-1's batch is ready at 1004 + 10");
	CHECK_EQ(drain(&a, 5000, false), -1, "partition drained at 5000 ms (-1: none)",
		 "both batches were drained: nothing left");
	CHECK_EQ(a.n, 0, "batches left after draining both", "a drained batch leaves");
	CHECK_EQ(a.used, 0, "bytes of buffer.memory in use after draining both",
		 "a drained batch gives its reservation back");
	acc_free(&a);

	pc = config(16384, 0); /* linger.ms=0: ready at once */
	acc_init(&a, &pc);
	put_batch(&a, "t", 3, 2000, 1, 10);
	CHECK_EQ(drain(&a, 2000, false), 3, "partition drained at once with linger.ms 0",
		 "linger.ms 0: ready at once");
	acc_free(&a);
}

static void
test_lab2_sendable_when_full(void **state)
{
	struct producer_config pc = config(16384, 1000000);
	struct accumulator a;
	struct acc_batch *b;

	(void)state;
	acc_init(&a, &pc);
	put_batch(&a, "t", 0, 1000, 1, 10);
	b = put_batch(&a, "t", 1, 1000, 1, 10);
	b->full = true; /* closed: the next record did not fit */
	b = put_batch(&a, "t", 2, 1000, 3, 120);
	a.cfg.batch_size = (int64_t)b->bytes.len; /* exactly batch.size bytes */
	b = put_batch(&a, "t", 3, 1000, 3, 119);  /* one byte short of it */
	CHECK_EQ(b->bytes.len, (uint64_t)a.cfg.batch_size - 3, "bytes of t-3's batch",
		 "the test's own batches (not a region)");
	CHECK_TRUE(a.batches[0]->bytes.len < (uint64_t)a.cfg.batch_size,
		   "t-0's batch is not below batch.size (the test's own batches)");
	CHECK_EQ(drain(&a, 1000, false), 1, "first partition drained while lingering (-1: none)",
		 "a closed (full) batch is ready at once, whatever linger.ms");
	CHECK_EQ(drain(&a, 1000, false), 2, "second partition drained while lingering (-1: none)",
		 "a batch of exactly batch.size bytes is ready (>=, not >)");
	CHECK_EQ(drain(&a, 1000, false), -1, "third partition drained while lingering (-1: none)",
		 "t-0's batch is not full, t-3's is 3 bytes short: both linger");
	CHECK_EQ(a.n, 2, "batches left", "t-0's and t-3's linger");
	acc_free(&a);
}

static void
test_lab2_sendable_on_flush_or_exhausted(void **state)
{
	struct producer_config pc = config(16384, 1000000);
	struct accumulator a;

	(void)state;
	acc_init(&a, &pc);
	put_batch(&a, "t", 0, 1000, 1, 10);
	put_batch(&a, "u", 5, 1001, 1, 10);
	CHECK_EQ(drain(&a, 1002, false), -1, "partition drained while lingering (-1: none)",
		 "not full, linger.ms not over, no flush, memory not exhausted: wait");
	a.exhausted = true; /* a send waits for buffer.memory: send everything */
	CHECK_EQ(drain(&a, 1002, false), 0, "first partition drained, memory exhausted (-1: none)",
		 "a send waiting for buffer.memory makes every batch ready, oldest first");
	CHECK_EQ(drain(&a, 1002, false), 5, "second partition drained, memory exhausted (-1: none)",
		 "a send waiting for buffer.memory makes every batch ready");
	CHECK_EQ(drain(&a, 1002, false), -1, "third drain, memory exhausted (-1: none)",
		 "both were drained: nothing left");
	a.exhausted = false;
	put_batch(&a, "t", 0, 1003, 1, 10);
	put_batch(&a, "t", 1, 1004, 1, 10);
	CHECK_EQ(drain(&a, 1005, false), -1, "partition drained while lingering (-1: none)",
		 "not full, linger.ms not over, no flush: wait");
	CHECK_EQ(drain(&a, 1005, true), 0, "first partition drained by a flush (-1: none)",
		 "a flush makes every batch ready, oldest first");
	CHECK_EQ(drain(&a, 1005, true), 1, "second partition drained by a flush (-1: none)",
		 "a flush makes every batch ready");
	CHECK_EQ(drain(&a, 1005, true), -1, "third drain of a flush (-1: none)",
		 "both were drained: nothing left");
	acc_free(&a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab2_murmur2_kafka_vectors),
		cmocka_unit_test(test_lab2_murmur2_every_tail_length),
		cmocka_unit_test(test_lab2_murmur2_high_bytes),
		cmocka_unit_test(test_lab2_keyed_partition_is_hash_mod_n),
		cmocka_unit_test(test_lab2_keyed_partition_reads_no_state),
		cmocka_unit_test(test_lab2_sticky_moves_off_on_new_batch),
		cmocka_unit_test(test_lab2_sticky_is_uniform),
		cmocka_unit_test(test_lab2_sticky_one_draw_per_pick),
		cmocka_unit_test(test_lab2_needs_new_batch_per_partition),
		cmocka_unit_test(test_lab2_needs_new_batch_at_batch_size),
		cmocka_unit_test(test_lab2_needs_new_batch_after_big_record),
		cmocka_unit_test(test_lab2_sendable_after_linger),
		cmocka_unit_test(test_lab2_sendable_when_full),
		cmocka_unit_test(test_lab2_sendable_on_flush_or_exhausted),
	};
	const char *filter = getenv("KLAB_TEST_FILTER");

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (filter != NULL)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
