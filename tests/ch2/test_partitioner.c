/*
 * test_partitioner.c - murmur2 and the partitioners against Kafka's test
 * vectors, against independent reference implementations written here,
 * and against the rules of each kind (round robin cycles, sticky until a
 * new batch, explicit partitions, errors, determinism from the seed).
 *
 * The references share nothing with src/: ref_murmur2() is a line-by-line
 * transcription of Kafka's Utils.murmur2 that emulates Java's int with
 * int64_t and Java's signed bytes; ref_crc32() is the bit-at-a-time
 * definition of CRC-32 (reflected polynomial 0xEDB88320, as in zlib).
 * Extra murmur2 vectors were computed with a separate Python transcription
 * that reproduces all six of Kafka's UtilsTest vectors.
 */
#include "testutil.h"

#include <zlib.h>

#include "core/murmur2.h"
#include "topic/partitioner.h"

#define SEED_DEFAULT 0x9747B28Cull

/* ---- references ---------------------------------------------------------- */

/* A value wrapped to Java's int range, as every Java int operation does. */
static int64_t
jint(int64_t x)
{
	x &= 0xffffffffLL;
	return x >= 0x80000000LL ? x - 0x100000000LL : x;
}

static int64_t
jmul(int64_t a, int64_t b)
{
	return jint(a * b); /* |a|, |b| <= 2^31: the product fits in 63 bits */
}

static int64_t
jshl(int64_t a, int r)
{
	return jint((a & 0xffffffffLL) << r);
}

/* Java's >>>: shift in zeros. */
static int64_t
jushr(int64_t a, int r)
{
	return jint((a & 0xffffffffLL) >> r);
}

/* data[i] as a Java byte: -128..127. */
static int64_t
jbyte(const uint8_t *data, int i)
{
	return data[i] >= 128 ? (int64_t)data[i] - 256 : (int64_t)data[i];
}

/* Utils.murmur2, line by line. */
static int32_t
ref_murmur2(const uint8_t *data, int length)
{
	const int64_t seed = jint(0x9747b28cLL);
	const int64_t m = 0x5bd1e995;
	const int r = 24;
	int64_t h = jint(seed ^ length);
	int length4 = length / 4;

	for (int i = 0; i < length4; i++) {
		int i4 = i * 4;
		int64_t k =
			jint((jbyte(data, i4 + 0) & 0xff) + jshl(jbyte(data, i4 + 1) & 0xff, 8) +
			     jshl(jbyte(data, i4 + 2) & 0xff, 16) +
			     jshl(jbyte(data, i4 + 3) & 0xff, 24));
		k = jmul(k, m);
		k ^= jushr(k, r);
		k = jmul(k, m);
		h = jmul(h, m);
		h ^= k;
	}
	switch (length % 4) {
	case 3: h ^= jshl(jbyte(data, (length & ~3) + 2) & 0xff, 16); /* fall through */
	case 2: h ^= jshl(jbyte(data, (length & ~3) + 1) & 0xff, 8);  /* fall through */
	case 1: h ^= jbyte(data, length & ~3) & 0xff; h = jmul(h, m);
	}
	h ^= jushr(h, 13);
	h = jmul(h, m);
	h ^= jushr(h, 15);
	return (int32_t)h; /* in int32 range: exact */
}

/* Utils.toPositive as arithmetic: the value mod 2^31, never negative. */
static int64_t
ref_to_positive(int64_t v)
{
	return (v % 2147483648LL + 2147483648LL) % 2147483648LL;
}

/* The Java producer's partition for a key. */
static int32_t
ref_partition(const uint8_t *key, int len, int32_t n)
{
	return (int32_t)(ref_to_positive(ref_murmur2(key, len)) % n);
}

/* CRC-32 (zlib's), one bit at a time. */
static uint32_t
ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0xEDB88320u : 0);
	}
	return ~crc;
}

/* ---- helpers ------------------------------------------------------------- */

static const enum partitioner_kind all_kinds[] = {
	PARTITIONER_DEFAULT, PARTITIONER_MURMUR2,	    PARTITIONER_ROUND_ROBIN,
	PARTITIONER_STICKY,  PARTITIONER_CONSISTENT_RANDOM, PARTITIONER_MURMUR2_RANDOM,
};
#define NKINDS ((int)(sizeof(all_kinds) / sizeof(all_kinds[0])))

/* Choose for a record with a string key (NULL: null key); must succeed. */
static struct partition_choice
choose(struct partitioner *p, const char *topic, int32_t partition, const char *key, int32_t n)
{
	struct partition_choice c;
	int32_t len = key == NULL ? PARTITIONER_KEY_NULL : (int32_t)strlen(key);
	int rc = partitioner_choose(p, topic, partition, (const uint8_t *)key, len, n, &c);

	if (rc != KLAB_OK)
		fail_msg("choose(%s, %s, key %s, n %d): %s", partitioner_name(p->kind), topic,
			 key ? key : "null", n, klab_strerror(rc));
	assert_true(c.partition >= 0 && c.partition < n);
	assert_null(partitioner_check_invariants(p));
	return c;
}

static void
new_batch(struct partitioner *p, const char *topic, int32_t prev, int32_t n)
{
	assert_int_equal(partitioner_on_new_batch(p, topic, prev, n), KLAB_OK);
	assert_null(partitioner_check_invariants(p));
}

static void
fill_random(struct tu_rng *r, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)tu_rng_next(r);
}

/* ---- murmur2 ------------------------------------------------------------- */

struct vector {
	const char *key;
	size_t len;
	int32_t hash;
};

/* Kafka's UtilsTest.testMurmur2. */
static const struct vector kafka_vectors[] = {
	{ "21", 2, -973932308 },
	{ "foobar", 6, -790332482 },
	{ "a-little-bit-long-string", 24, -985981536 },
	{ "a-little-bit-longer-string", 26, -1486304829 },
	{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48, -58897971 },
	{ "abc", 3, 479470107 },
};

static void
test_ch2_murmur2_kafka_utilstest_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kafka_vectors) / sizeof(kafka_vectors[0]); i++) {
		const struct vector *v = &kafka_vectors[i];

		assert_int_equal(strlen(v->key), v->len);
		assert_int_equal(murmur2(v->key, v->len), v->hash);
		assert_int_equal(ref_murmur2((const uint8_t *)v->key, (int)v->len), v->hash);
	}
}

/*
 * Every tail length (0..5 bytes) and bytes >= 0x80, which a port without
 * Java's `& 0xff` gets wrong.  From the Python transcription.
 */
static void
test_ch2_murmur2_tails_and_high_bytes(void **state)
{
	static const struct vector v[] = {
		{ "", 0, 275646681 },
		{ "a", 1, -1563381124 },
		{ "ab", 2, 316155434 },
		{ "abcd", 4, -1323649548 },
		{ "\xff\xfe\x80", 3, -160726397 },
		{ "\x80\x81\x82\x83\xff", 5, 59675667 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(murmur2(v[i].key, v[i].len), v[i].hash);
		assert_int_equal(ref_murmur2((const uint8_t *)v[i].key, (int)v[i].len), v[i].hash);
	}
	/* a NULL pointer is a valid empty key */
	assert_int_equal(murmur2(NULL, 0), 275646681);
}

static void
test_ch2_murmur2_matches_java_transcription_on_random_keys(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct tu_rng r;
	uint8_t buf[64 + 16];

	(void)state;
	tu_rng_init(&r, seed);
	for (int t = 0; t < 20000; t++) {
		size_t len = (size_t)tu_rng_below(&r, 65);
		size_t at = (size_t)tu_rng_below(&r, 16); /* any alignment */
		int32_t got, want;

		fill_random(&r, buf, sizeof(buf));
		got = murmur2(buf + at, len);
		want = ref_murmur2(buf + at, (int)len);
		if (got != want)
			fail_msg("len %zu: murmur2 %d, Java %d (reproduce with KLAB_SEED=%" PRIu64
				 ")",
				 len, got, want, seed);
	}
}

static void
test_ch2_murmur2_to_positive_clears_the_sign_bit(void **state)
{
	(void)state;
	/* -790332482 = 0xD0E47BBE; without the sign bit 0x50E47BBE = 1357151166 */
	assert_int_equal(murmur2_to_positive(-790332482), 1357151166);
	assert_int_not_equal(murmur2_to_positive(-790332482), 790332482); /* not abs() */
	assert_int_equal(murmur2_to_positive(INT32_MIN), 0);		  /* abs() would overflow */
	assert_int_equal(murmur2_to_positive(-1), INT32_MAX);
	assert_int_equal(murmur2_to_positive(0), 0);
	assert_int_equal(murmur2_to_positive(479470107), 479470107);
	assert_int_equal(murmur2_to_positive(INT32_MAX), INT32_MAX);
	for (int64_t v = INT32_MIN; v <= INT32_MAX; v += 65537)
		assert_int_equal(murmur2_to_positive((int32_t)v), ref_to_positive(v));
}

/* ---- keyed records -------------------------------------------------------- */

struct keyed {
	const char *key;
	int32_t n;
	int32_t partition;
};

/*
 * toPositive(murmur2(key)) % n, worked out by hand:
 *   "foobar": -790332482 -> 1357151166.  Digit sum 36, so % 3 = 0 and
 *             (even) % 6 = 0; last two digits 66, so % 4 = 2; last digit 6,
 *             so % 5 = 1 and % 10 = 6; 7 * 193878738 = 1357151166, % 7 = 0;
 *             % 12: 0 mod 3 and 2 mod 4 -> 6.
 *   "21":     -973932308 -> 1173551340.  Digit sum 30 and last two digits
 *             40: % 3 = 0, % 4 = 0, % 12 = 0, % 10 = 0; 7 * 167650191 =
 *             1173551337, % 7 = 3.
 *   "abc":    479470107 (positive: unchanged).  Digit sum 39: % 3 = 0;
 *             odd: % 2 = 1; % 10 = 7; 7 * 68495729 = 479470103, % 7 = 4.
 *   "a-little-bit-longer-string": -1486304829 -> 661178819.  % 10 = 9;
 *             7 * 94454117 = 661178819, % 7 = 0; 12 * 55098234 = 661178808,
 *             % 12 = 11.
 *   "" (an empty key, not a null one): 275646681.  Digit sum 45: % 3 = 0,
 *             and odd: % 6 = 3; % 4 = 1 (81 = 4 * 20 + 1).
 */
static const struct keyed known[] = {
	{ "foobar", 3, 0 },
	{ "foobar", 4, 2 },
	{ "foobar", 5, 1 },
	{ "foobar", 6, 0 },
	{ "foobar", 7, 0 },
	{ "foobar", 10, 6 },
	{ "foobar", 12, 6 },
	{ "21", 3, 0 },
	{ "21", 4, 0 },
	{ "21", 7, 3 },
	{ "21", 10, 0 },
	{ "abc", 2, 1 },
	{ "abc", 3, 0 },
	{ "abc", 7, 4 },
	{ "abc", 10, 7 },
	{ "a-little-bit-longer-string", 7, 0 },
	{ "a-little-bit-longer-string", 10, 9 },
	{ "a-little-bit-longer-string", 12, 11 },
	{ "", 3, 0 },
	{ "", 4, 1 },
	{ "", 6, 3 },
	{ "foobar", 1, 0 },
};

static void
test_ch2_keyed_records_land_where_the_java_producer_puts_them(void **state)
{
	static const enum partitioner_kind hashing[] = { PARTITIONER_DEFAULT, PARTITIONER_MURMUR2,
							 PARTITIONER_MURMUR2_RANDOM };

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		struct partitioner p;

		partitioner_init(&p, hashing[k], 1);
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			struct partition_choice c =
				choose(&p, "t", PARTITION_ANY, known[i].key, known[i].n);

			assert_int_equal(c.partition, known[i].partition);
			assert_int_equal(c.how, PARTITION_HOW_MURMUR2);
		}
		/* the REPL's numbers for "foobar": the hash and what was taken % n */
		struct partition_choice c = choose(&p, "t", PARTITION_ANY, "foobar", 4);

		assert_true(c.hash == -790332482);
		assert_true(c.dividend == 1357151166);
		assert_int_equal(p.ntopics, 0); /* keyed records keep no state */
	}
}

static void
test_ch2_keyed_records_match_reference_on_random_keys(void **state)
{
	static const enum partitioner_kind hashing[] = { PARTITIONER_DEFAULT, PARTITIONER_MURMUR2,
							 PARTITIONER_MURMUR2_RANDOM };
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct tu_rng r;
	uint8_t key[64];

	(void)state;
	tu_rng_init(&r, seed);
	for (size_t k = 0; k < 3; k++) {
		struct partitioner p;

		partitioner_init(&p, hashing[k], seed);
		for (int t = 0; t < 5000; t++) {
			int32_t len = (int32_t)tu_rng_below(&r, 65);
			int32_t n = 1 + (int32_t)tu_rng_below(&r, t % 2 ? 12 : 10000);
			struct partition_choice c;

			fill_random(&r, key, sizeof(key));
			assert_int_equal(
				partitioner_choose(&p, "t", PARTITION_ANY, key, len, n, &c),
				KLAB_OK);
			if (c.partition != ref_partition(key, len, n))
				fail_msg("%s len %d n %d: partition %d, Java %d (KLAB_SEED=%" PRIu64
					 ")",
					 partitioner_name(hashing[k]), len, n, c.partition,
					 ref_partition(key, len, n), seed);
			assert_true(c.hash == ref_murmur2(key, len));
		}
	}
}

/* ---- consistent_random: CRC-32 -------------------------------------------- */

static void
test_ch2_consistent_random_uses_zlib_crc32(void **state)
{
	struct partitioner p;
	struct partition_choice c;

	(void)state;
	/* the CRC-32 check value, and "foobar" */
	assert_int_equal(ref_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(crc32(0L, (const Bytef *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(ref_crc32((const uint8_t *)"foobar", 6), 0x9EF61F95u);
	assert_int_equal(crc32(0L, (const Bytef *)"foobar", 6), 0x9EF61F95u);

	partitioner_init(&p, PARTITIONER_CONSISTENT_RANDOM, 1);
	/*
	 * 0x9EF61F95 = 2666930069: digit sum 47, % 3 = 2; last two digits 69,
	 * % 4 = 1; last digit 9: % 5 = 4, % 10 = 9.
	 */
	c = choose(&p, "t", PARTITION_ANY, "foobar", 3);
	assert_int_equal(c.partition, 2);
	assert_int_equal(c.how, PARTITION_HOW_CRC32);
	assert_true(c.hash == 2666930069LL && c.dividend == 2666930069LL);
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "foobar", 4).partition, 1);
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "foobar", 5).partition, 4);
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "foobar", 10).partition, 9);
	/* 0xCBF43926 = 3421780262: % 10 = 2; 7 * 488825751 = 3421780257, % 7 = 5 */
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "123456789", 10).partition, 2);
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "123456789", 7).partition, 5);
	/* not murmur2: "foobar" % 4 is 2 under the Java producer */
	assert_int_not_equal(choose(&p, "t", PARTITION_ANY, "foobar", 4).partition, 2);
}

static void
test_ch2_consistent_random_matches_reference_crc32(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct partitioner p;
	struct tu_rng r;
	uint8_t key[64];

	(void)state;
	tu_rng_init(&r, seed);
	partitioner_init(&p, PARTITIONER_CONSISTENT_RANDOM, seed);
	for (int t = 0; t < 5000; t++) {
		int32_t len = 1 + (int32_t)tu_rng_below(&r, 64);
		int32_t n = 1 + (int32_t)tu_rng_below(&r, 1000);
		uint32_t crc;
		struct partition_choice c;

		fill_random(&r, key, sizeof(key));
		crc = ref_crc32(key, (size_t)len);
		assert_int_equal(partitioner_choose(&p, "t", PARTITION_ANY, key, len, n, &c),
				 KLAB_OK);
		assert_int_equal(c.how, PARTITION_HOW_CRC32);
		assert_true(c.hash == crc);
		if (c.partition != (int32_t)(crc % (uint32_t)n))
			fail_msg("len %d n %d: %d != %u (KLAB_SEED=%" PRIu64 ")", len, n,
				 c.partition, crc % (uint32_t)n, seed);
	}
}

/* Draw many partitions for a key; each of n partitions must get about 1/n. */
static void
check_uniform(struct partitioner *p, const char *key, int32_t n, enum partition_how how)
{
	int counts[8] = { 0 };
	const int draws = 4000;

	assert_true(n <= 8);
	for (int i = 0; i < draws; i++) {
		struct partition_choice c = choose(p, "t", PARTITION_ANY, key, n);

		assert_int_equal(c.how, how);
		counts[c.partition]++;
	}
	for (int i = 0; i < n; i++)
		if (counts[i] < draws / n * 8 / 10 || counts[i] > draws / n * 12 / 10)
			fail_msg("partition %d got %d of %d draws", i, counts[i], draws);
}

static void
test_ch2_consistent_random_spreads_empty_and_null_keys(void **state)
{
	struct partitioner p;

	(void)state;
	partitioner_init(&p, PARTITIONER_CONSISTENT_RANDOM, tu_seed(SEED_DEFAULT));
	check_uniform(&p, NULL, 4, PARTITION_HOW_RANDOM);
	check_uniform(&p, "", 5, PARTITION_HOW_RANDOM);
	assert_int_equal(p.ntopics, 0);
}

static void
test_ch2_murmur2_random_spreads_null_keys_but_hashes_empty_ones(void **state)
{
	struct partitioner p;
	struct partition_choice c;

	(void)state;
	partitioner_init(&p, PARTITIONER_MURMUR2_RANDOM, tu_seed(SEED_DEFAULT));
	check_uniform(&p, NULL, 4, PARTITION_HOW_RANDOM);
	/* an empty key is a key (librdkafka tests `!key`): murmur2("") = 275646681, % 4 = 1 */
	for (int i = 0; i < 50; i++) {
		c = choose(&p, "t", PARTITION_ANY, "", 4);
		assert_int_equal(c.how, PARTITION_HOW_MURMUR2);
		assert_int_equal(c.partition, 1);
	}
}

/* ---- round robin ---------------------------------------------------------- */

static void
test_ch2_round_robin_cycles_and_ignores_keys(void **state)
{
	static const char *const keys[] = { NULL, "foobar", NULL, "abc", "", NULL };
	struct partitioner p;

	(void)state;
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 7);
	for (int i = 0; i < 30; i++) {
		struct partition_choice c = choose(&p, "a", PARTITION_ANY, keys[i % 6], 3);

		assert_int_equal(c.how, PARTITION_HOW_ROUND_ROBIN);
		assert_int_equal(c.partition, i % 3); /* RoundRobinPartitioner starts at 0 */
		assert_true(c.hash == i && c.dividend == i);
	}
	/* a second topic has its own counter, from 0 */
	for (int i = 0; i < 6; i++) {
		assert_int_equal(choose(&p, "b", PARTITION_ANY, NULL, 4).partition, i % 4);
		assert_int_equal(choose(&p, "a", PARTITION_ANY, NULL, 3).partition, i % 3);
	}
}

/* KAFKA-9965: a new batch must not make round robin skip a partition. */
static void
test_ch2_round_robin_does_not_skip_on_new_batch(void **state)
{
	struct partitioner p;

	(void)state;
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 7);
	for (int i = 0; i < 12; i++) {
		struct partition_choice c = choose(&p, "a", PARTITION_ANY, NULL, 4);

		assert_int_equal(c.partition, i % 4);
		new_batch(&p, "a", c.partition, 4);
	}
}

/* The counter is a Java int: past 2^31 - 1 it turns negative and toPositive restarts it. */
static void
test_ch2_round_robin_counter_wraps_like_javas(void **state)
{
	struct partitioner p;
	struct partition_choice c;

	(void)state;
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 7);
	choose(&p, "a", PARTITION_ANY, NULL, 3); /* creates the topic's counter */
	p.topics[0].counter = 0x7ffffffeu;
	c = choose(&p, "a", PARTITION_ANY, NULL, 3);
	assert_true(c.hash == 2147483646LL); /* = 3 * 715827882: partition 0 */
	assert_int_equal(c.partition, 0);
	c = choose(&p, "a", PARTITION_ANY, NULL, 3);
	assert_true(c.hash == 2147483647LL); /* partition 1 */
	assert_int_equal(c.partition, 1);
	c = choose(&p, "a", PARTITION_ANY, NULL, 3);
	assert_true(c.hash == -2147483648LL); /* toPositive -> 0: partition 0, not 2 */
	assert_true(c.dividend == 0);
	assert_int_equal(c.partition, 0);
	assert_int_equal(choose(&p, "a", PARTITION_ANY, NULL, 3).partition, 1);
}

static void
test_ch2_murmur2_kind_round_robins_null_keys_only(void **state)
{
	struct partitioner p;
	struct partition_choice c;
	int32_t prev;

	(void)state;
	partitioner_init(&p, PARTITIONER_MURMUR2, tu_seed(SEED_DEFAULT));
	c = choose(&p, "a", PARTITION_ANY, NULL, 5);
	assert_int_equal(c.how, PARTITION_HOW_ROUND_ROBIN);
	assert_true(c.dividend == ref_to_positive(c.hash));
	assert_int_equal(c.partition, (int32_t)(c.dividend % 5));
	prev = c.partition;
	for (int i = 0; i < 20; i++) {
		/* a keyed record in between hashes and does not advance the counter */
		assert_int_equal(choose(&p, "a", PARTITION_ANY, "foobar", 5).partition, 1);
		c = choose(&p, "a", PARTITION_ANY, NULL, 5);
		assert_int_equal(c.partition, (prev + 1) % 5);
		prev = c.partition;
	}
}

/* ---- sticky --------------------------------------------------------------- */

static void
test_ch2_sticky_stays_until_new_batch_then_moves(void **state)
{
	struct partitioner p;
	int visited[5] = { 0 };
	int32_t s;

	(void)state;
	partitioner_init(&p, PARTITIONER_STICKY, tu_seed(SEED_DEFAULT));
	s = choose(&p, "t", PARTITION_ANY, NULL, 5).partition;
	for (int round = 0; round < 200; round++) {
		visited[s]++;
		for (int i = 0; i < 20; i++) {
			/* UniformStickyPartitioner: keys do not matter */
			struct partition_choice c =
				choose(&p, "t", PARTITION_ANY, i % 2 ? "foobar" : NULL, 5);

			assert_int_equal(c.how, PARTITION_HOW_STICKY);
			assert_int_equal(c.partition, s);
		}
		new_batch(&p, "t", s, 5);
		int32_t next = choose(&p, "t", PARTITION_ANY, NULL, 5).partition;

		assert_int_not_equal(next, s);
		s = next;
	}
	for (int i = 0; i < 5; i++)
		assert_true(visited[i] > 0);
}

/* The next sticky partition is uniform over the n - 1 others. */
static void
test_ch2_sticky_moves_uniformly_to_the_others(void **state)
{
	struct partitioner p;
	int counts[4] = { 0 };
	const int draws = 4000;

	(void)state;
	partitioner_init(&p, PARTITIONER_STICKY, tu_seed(SEED_DEFAULT));
	for (int i = 0; i < draws; i++) {
		choose(&p, "t", PARTITION_ANY, NULL, 4);
		p.topics[0].sticky = 2; /* always move away from 2 */
		new_batch(&p, "t", 2, 4);
		counts[p.topics[0].sticky]++;
	}
	assert_int_equal(counts[2], 0);
	for (int i = 0; i < 4; i++)
		if (i != 2 && (counts[i] < draws / 3 * 8 / 10 || counts[i] > draws / 3 * 12 / 10))
			fail_msg("partition %d got %d of %d moves", i, counts[i], draws);
}

static void
test_ch2_default_sticks_null_keys_and_hashes_keyed_ones(void **state)
{
	struct partitioner p;
	int32_t s, s2;

	(void)state;
	partitioner_init(&p, PARTITIONER_DEFAULT, tu_seed(SEED_DEFAULT));
	s = choose(&p, "t", PARTITION_ANY, NULL, 6).partition;
	for (int i = 0; i < 50; i++) {
		struct partition_choice k = choose(&p, "t", PARTITION_ANY, "foobar", 6);

		assert_int_equal(k.how, PARTITION_HOW_MURMUR2);
		assert_int_equal(k.partition, 0); /* 1357151166 % 6 */
		assert_int_equal(choose(&p, "t", PARTITION_ANY, NULL, 6).partition, s);
	}
	/* a new batch for a keyed record's partition moves the sticky one only if it is it */
	new_batch(&p, "t", s, 6);
	s2 = choose(&p, "t", PARTITION_ANY, NULL, 6).partition;
	assert_int_not_equal(s2, s);
	assert_int_equal(choose(&p, "t", PARTITION_ANY, "foobar", 6).partition, 0);
}

/* StickyPartitionCache.nextPartition: a stale new-batch call changes nothing. */
static void
test_ch2_sticky_ignores_new_batch_for_another_partition(void **state)
{
	struct partitioner p;
	int32_t s;

	(void)state;
	partitioner_init(&p, PARTITIONER_STICKY, tu_seed(SEED_DEFAULT));
	s = choose(&p, "t", PARTITION_ANY, NULL, 5).partition;
	for (int32_t other = 0; other < 5; other++) {
		if (other == s)
			continue;
		new_batch(&p, "t", other, 5);
		assert_int_equal(choose(&p, "t", PARTITION_ANY, NULL, 5).partition, s);
	}
}

static void
test_ch2_sticky_topics_are_independent(void **state)
{
	struct partitioner p;
	int32_t a, b;

	(void)state;
	partitioner_init(&p, PARTITIONER_STICKY, tu_seed(SEED_DEFAULT));
	a = choose(&p, "a", PARTITION_ANY, NULL, 8).partition;
	b = choose(&p, "b", PARTITION_ANY, NULL, 8).partition;
	for (int i = 0; i < 20; i++) {
		new_batch(&p, "a", a, 8);
		a = choose(&p, "a", PARTITION_ANY, NULL, 8).partition;
		assert_int_equal(choose(&p, "b", PARTITION_ANY, NULL, 8).partition, b);
	}
	assert_int_equal(p.ntopics, 2);
}

static void
test_ch2_sticky_edge_cases(void **state)
{
	struct partitioner p;
	int32_t s;

	(void)state;
	partitioner_init(&p, PARTITIONER_STICKY, tu_seed(SEED_DEFAULT));
	/* one partition: it stays, and a new batch cannot move it elsewhere */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(choose(&p, "one", PARTITION_ANY, NULL, 1).partition, 0);
		new_batch(&p, "one", 0, 1);
	}
	/* a new batch before the first record draws the first sticky partition */
	new_batch(&p, "fresh", 3, 4);
	assert_true(p.topics[1].sticky >= 0 && p.topics[1].sticky < 4);
	s = choose(&p, "fresh", PARTITION_ANY, NULL, 4).partition;
	assert_int_equal(s, p.topics[1].sticky);
	/* fewer partitions than the sticky one: a new one in range */
	p.topics[1].sticky = 3;
	s = choose(&p, "fresh", PARTITION_ANY, NULL, 2).partition;
	assert_true(s == 0 || s == 1);
	assert_int_equal(choose(&p, "fresh", PARTITION_ANY, NULL, 2).partition, s);
}

/* ---- explicit partitions, errors, bounds ----------------------------------- */

static void
test_ch2_explicit_partition_bypasses_every_kind(void **state)
{
	(void)state;
	for (int k = 0; k < NKINDS; k++) {
		struct partitioner p;

		partitioner_init(&p, all_kinds[k], 3);
		for (int32_t part = 0; part < 3; part++) {
			struct partition_choice a = choose(&p, "t", part, "foobar", 3);
			struct partition_choice b = choose(&p, "t", part, NULL, 3);

			assert_int_equal(a.partition, part);
			assert_int_equal(a.how, PARTITION_HOW_EXPLICIT);
			assert_int_equal(b.partition, part);
			assert_int_equal(b.how, PARTITION_HOW_EXPLICIT);
		}
		assert_int_equal(p.ntopics, 0); /* no state touched */
		assert_true(p.rng == 3);	/* no random draw */
	}
	/* and round robin continues where it was */
	struct partitioner rr;

	partitioner_init(&rr, PARTITIONER_ROUND_ROBIN, 3);
	assert_int_equal(choose(&rr, "t", PARTITION_ANY, NULL, 3).partition, 0);
	assert_int_equal(choose(&rr, "t", 0, NULL, 3).partition, 0);
	assert_int_equal(choose(&rr, "t", PARTITION_ANY, NULL, 3).partition, 1);
}

/* The call fails with want and changes neither *out nor the partitioner. */
static void
expect_error(struct partitioner *p, const char *topic, int32_t partition, const uint8_t *key,
	     int32_t key_len, int32_t n, int want)
{
	struct partitioner before;
	struct partition_choice c, sentinel;

	memcpy(&before, p, sizeof(before));
	memset(&c, 0xA5, sizeof(c));
	memcpy(&sentinel, &c, sizeof(c));
	assert_int_equal(partitioner_choose(p, topic, partition, key, key_len, n, &c), want);
	assert_memory_equal(&c, &sentinel, sizeof(c));
	assert_memory_equal(p, &before, sizeof(before));
}

static void
test_ch2_errors_are_definite(void **state)
{
	char long_name[PARTITIONER_TOPIC_NAME_MAX + 2];
	const uint8_t *k = (const uint8_t *)"foobar";

	(void)state;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0'; /* 250 bytes */
	for (int i = 0; i < NKINDS; i++) {
		struct partitioner p;

		partitioner_init(&p, all_kinds[i], 11);
		choose(&p, "t", PARTITION_ANY, NULL, 3); /* some state to keep */
		expect_error(&p, "t", PARTITION_ANY, k, 6, 0, KLAB_EINVAL);
		expect_error(&p, "t", PARTITION_ANY, NULL, -1, -1, KLAB_EINVAL);
		expect_error(&p, "t", 3, k, 6, 3, KLAB_EINVAL);
		expect_error(&p, "t", -2, NULL, -1, 3, KLAB_EINVAL);
		expect_error(&p, "t", INT32_MIN, NULL, -1, 3, KLAB_EINVAL);
		expect_error(&p, "t", PARTITION_ANY, k, -2, 3, KLAB_EINVAL);
		expect_error(&p, "", PARTITION_ANY, NULL, -1, 3, KLAB_EINVAL);
		expect_error(&p, long_name, PARTITION_ANY, NULL, -1, 3, KLAB_EINVAL);
		assert_int_equal(partitioner_on_new_batch(&p, "t", 0, 0), KLAB_EINVAL);
		assert_int_equal(partitioner_on_new_batch(&p, "t", -1, 3), KLAB_EINVAL);
		assert_int_equal(partitioner_on_new_batch(&p, "t", 3, 3), KLAB_EINVAL);
		assert_int_equal(partitioner_on_new_batch(&p, "", 0, 3), KLAB_EINVAL);
		assert_null(partitioner_check_invariants(&p));
		/* the longest legal name works */
		long_name[PARTITIONER_TOPIC_NAME_MAX] = '\0';
		choose(&p, long_name, PARTITION_ANY, NULL, 3);
		long_name[PARTITIONER_TOPIC_NAME_MAX] = 'x';
	}
}

static void
test_ch2_topic_table_is_bounded(void **state)
{
	struct partitioner p;
	char name[32];

	(void)state;
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 5);
	for (int i = 0; i < PARTITIONER_TOPICS_MAX; i++) {
		snprintf(name, sizeof(name), "topic-%d", i);
		assert_int_equal(choose(&p, name, PARTITION_ANY, NULL, 2).partition, 0);
	}
	expect_error(&p, "one-too-many", PARTITION_ANY, NULL, -1, 2, KLAB_ETOOLARGE);
	for (int i = 0; i < PARTITIONER_TOPICS_MAX; i++) {
		snprintf(name, sizeof(name), "topic-%d", i);
		assert_int_equal(choose(&p, name, PARTITION_ANY, NULL, 2).partition, 1);
	}

	/* default: keyed records need no state, null keys and new batches do */
	partitioner_init(&p, PARTITIONER_DEFAULT, 5);
	for (int i = 0; i < PARTITIONER_TOPICS_MAX; i++) {
		snprintf(name, sizeof(name), "topic-%d", i);
		choose(&p, name, PARTITION_ANY, NULL, 2);
	}
	assert_int_equal(choose(&p, "one-too-many", PARTITION_ANY, "foobar", 4).partition, 2);
	expect_error(&p, "one-too-many", PARTITION_ANY, NULL, -1, 2, KLAB_ETOOLARGE);
	assert_int_equal(partitioner_on_new_batch(&p, "one-too-many", 0, 2), KLAB_ETOOLARGE);

	/* the random kinds keep no per-topic state at all */
	partitioner_init(&p, PARTITIONER_CONSISTENT_RANDOM, 5);
	for (int i = 0; i < 2 * PARTITIONER_TOPICS_MAX; i++) {
		snprintf(name, sizeof(name), "topic-%d", i);
		choose(&p, name, PARTITION_ANY, NULL, 2);
		new_batch(&p, name, 0, 2);
	}
	assert_int_equal(p.ntopics, 0);
}

/* ---- determinism, names, invariants ---------------------------------------- */

/* One random operation on p, drawn from r; returns what it produced. */
static int32_t
random_op(struct partitioner *p, struct tu_rng *r)
{
	static const char *const topics[] = { "a", "b", "c", "orders", "clicks" };
	static const char *const keys[] = { NULL, "", "foobar", "21", "abc", "user-42" };
	const char *topic = topics[tu_rng_below(r, 5)];
	const char *key = keys[tu_rng_below(r, 6)];
	int32_t n = 1 + (int32_t)tu_rng_below(r, 8);
	struct partition_choice c;

	if (tu_rng_below(r, 4) == 0) {
		new_batch(p, topic, (int32_t)tu_rng_below(r, (uint64_t)n), n);
		return -1;
	}
	c = choose(p, topic, tu_rng_below(r, 10) == 0 ? n - 1 : PARTITION_ANY, key, n);
	if (c.how == PARTITION_HOW_MURMUR2) /* invariant 7: history does not matter */
		assert_int_equal(c.partition,
				 ref_partition((const uint8_t *)key, (int)strlen(key), n));
	return c.partition;
}

static void
test_ch2_same_seed_same_choices(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);

	(void)state;
	for (int k = 0; k < NKINDS; k++) {
		struct partitioner a, b, other;
		struct tu_rng ra, rb, ro;
		bool differ = false;

		partitioner_init(&a, all_kinds[k], seed);
		partitioner_init(&b, all_kinds[k], seed);
		partitioner_init(&other, all_kinds[k], seed + 1);
		tu_rng_init(&ra, seed);
		tu_rng_init(&rb, seed);
		tu_rng_init(&ro, seed);
		for (int i = 0; i < 2000; i++) {
			int32_t x = random_op(&a, &ra);

			assert_int_equal(random_op(&b, &rb), x);
			differ |= random_op(&other, &ro) != x;
		}
		assert_memory_equal(&a, &b, sizeof(a));
		/* every kind but round-robin draws randomly somewhere: another seed shows it */
		if (all_kinds[k] != PARTITIONER_ROUND_ROBIN)
			assert_true(differ);
		else
			assert_false(differ);
	}
}

/* The PRNG moves only for random choices: hashing and round robin leave it alone. */
static void
test_ch2_only_random_choices_draw_from_the_prng(void **state)
{
	static const char *const topics[] = { "a", "b", "c" };
	struct partitioner p;

	(void)state;
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 42);
	for (int i = 0; i < 30; i++) {
		choose(&p, topics[i % 3], PARTITION_ANY, i % 2 ? "k" : NULL, 4);
		new_batch(&p, topics[i % 3], 0, 4);
	}
	assert_true(p.rng == 42);
	for (int k = 0; k < NKINDS; k++) {
		if (all_kinds[k] == PARTITIONER_ROUND_ROBIN || all_kinds[k] == PARTITIONER_STICKY)
			continue; /* these ignore keys */
		partitioner_init(&p, all_kinds[k], 42);
		for (int i = 0; i < 30; i++)
			choose(&p, topics[i % 3], PARTITION_ANY, i % 2 ? "k" : "user-42", 4);
		assert_true(p.rng == 42);
		choose(&p, "a", PARTITION_ANY, NULL, 4); /* a null key draws in every one */
		assert_true(p.rng != 42);
	}
}

static void
test_ch2_invariants_hold_and_are_checked(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct partitioner p;
	struct tu_rng r;

	(void)state;
	tu_rng_init(&r, seed);
	for (int k = 0; k < NKINDS; k++) {
		partitioner_init(&p, all_kinds[k], seed);
		for (int i = 0; i < 3000; i++)
			random_op(&p, &r); /* checks the invariants after every step */
	}
	/* and the checker notices broken state */
	partitioner_init(&p, PARTITIONER_STICKY, 1);
	choose(&p, "a", PARTITION_ANY, NULL, 3);
	choose(&p, "b", PARTITION_ANY, NULL, 3);
	p.topics[0].sticky = -5;
	assert_non_null(strstr(partitioner_check_invariants(&p), "invariant 4"));
	p.topics[0].sticky = 0;
	memcpy(p.topics[1].name, "a", 2);
	assert_non_null(strstr(partitioner_check_invariants(&p), "invariant 3"));
	memcpy(p.topics[1].name, "b", 2);
	p.topics[1].counter = 9;
	assert_non_null(strstr(partitioner_check_invariants(&p), "invariant 5"));
	p.topics[1].counter = 0;
	p.ntopics = PARTITIONER_TOPICS_MAX + 1;
	assert_non_null(strstr(partitioner_check_invariants(&p), "invariant 2"));
	p.ntopics = 2;
	assert_null(partitioner_check_invariants(&p));
	partitioner_init(&p, PARTITIONER_ROUND_ROBIN, 1);
	choose(&p, "a", PARTITION_ANY, NULL, 3);
	p.topics[0].sticky = 1;
	assert_non_null(strstr(partitioner_check_invariants(&p), "invariant 4"));
}

static void
test_ch2_names_parse_and_print(void **state)
{
	static const char *const canonical[] = { "default", "murmur2",		 "round-robin",
						 "sticky",  "consistent_random", "murmur2_random" };
	enum partitioner_kind kind;

	(void)state;
	assert_int_equal(NKINDS, PARTITIONER_KIND_COUNT);
	for (int k = 0; k < NKINDS; k++) {
		assert_string_equal(partitioner_name(all_kinds[k]), canonical[k]);
		kind = PARTITIONER_KIND_COUNT;
		assert_int_equal(partitioner_parse(canonical[k], &kind), KLAB_OK);
		assert_int_equal(kind, all_kinds[k]);
	}
	assert_int_equal(partitioner_parse("round_robin", &kind), KLAB_OK);
	assert_int_equal(kind, PARTITIONER_ROUND_ROBIN);
	assert_int_equal(partitioner_parse("Consistent-Random", &kind), KLAB_OK);
	assert_int_equal(kind, PARTITIONER_CONSISTENT_RANDOM);
	assert_int_equal(partitioner_parse("MURMUR2-RANDOM", &kind), KLAB_OK);
	assert_int_equal(kind, PARTITIONER_MURMUR2_RANDOM);
	assert_int_equal(partitioner_parse("STICKY", &kind), KLAB_OK);
	assert_int_equal(kind, PARTITIONER_STICKY);

	static const char *const bad[] = { "",	       "murmur3", "round robin", "defaultx",
					   "default_", "stick",	  "murmur2 ",	 "random" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kind = PARTITIONER_STICKY;
		assert_int_equal(partitioner_parse(bad[i], &kind), KLAB_EINVAL);
		assert_int_equal(kind, PARTITIONER_STICKY);
	}

	assert_string_equal(partition_how_name(PARTITION_HOW_EXPLICIT), "explicit");
	assert_string_equal(partition_how_name(PARTITION_HOW_MURMUR2), "murmur2");
	assert_string_equal(partition_how_name(PARTITION_HOW_CRC32), "crc32");
	assert_string_equal(partition_how_name(PARTITION_HOW_ROUND_ROBIN), "round-robin");
	assert_string_equal(partition_how_name(PARTITION_HOW_STICKY), "sticky");
	assert_string_equal(partition_how_name(PARTITION_HOW_RANDOM), "random");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch2_murmur2_kafka_utilstest_vectors),
		cmocka_unit_test(test_ch2_murmur2_tails_and_high_bytes),
		cmocka_unit_test(test_ch2_murmur2_matches_java_transcription_on_random_keys),
		cmocka_unit_test(test_ch2_murmur2_to_positive_clears_the_sign_bit),
		cmocka_unit_test(test_ch2_keyed_records_land_where_the_java_producer_puts_them),
		cmocka_unit_test(test_ch2_keyed_records_match_reference_on_random_keys),
		cmocka_unit_test(test_ch2_consistent_random_uses_zlib_crc32),
		cmocka_unit_test(test_ch2_consistent_random_matches_reference_crc32),
		cmocka_unit_test(test_ch2_consistent_random_spreads_empty_and_null_keys),
		cmocka_unit_test(test_ch2_murmur2_random_spreads_null_keys_but_hashes_empty_ones),
		cmocka_unit_test(test_ch2_round_robin_cycles_and_ignores_keys),
		cmocka_unit_test(test_ch2_round_robin_does_not_skip_on_new_batch),
		cmocka_unit_test(test_ch2_round_robin_counter_wraps_like_javas),
		cmocka_unit_test(test_ch2_murmur2_kind_round_robins_null_keys_only),
		cmocka_unit_test(test_ch2_sticky_stays_until_new_batch_then_moves),
		cmocka_unit_test(test_ch2_sticky_moves_uniformly_to_the_others),
		cmocka_unit_test(test_ch2_default_sticks_null_keys_and_hashes_keyed_ones),
		cmocka_unit_test(test_ch2_sticky_ignores_new_batch_for_another_partition),
		cmocka_unit_test(test_ch2_sticky_topics_are_independent),
		cmocka_unit_test(test_ch2_sticky_edge_cases),
		cmocka_unit_test(test_ch2_explicit_partition_bypasses_every_kind),
		cmocka_unit_test(test_ch2_errors_are_definite),
		cmocka_unit_test(test_ch2_topic_table_is_bounded),
		cmocka_unit_test(test_ch2_same_seed_same_choices),
		cmocka_unit_test(test_ch2_only_random_choices_draw_from_the_prng),
		cmocka_unit_test(test_ch2_invariants_hold_and_are_checked),
		cmocka_unit_test(test_ch2_names_parse_and_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
