/*
 * test_batch.c - RecordBatch v2: the builder's bytes field by field, the
 * record codec, and every way batch_validate() must refuse bytes.
 *
 * The golden vector (test_batch_golden_one_record_vector) was written out
 * by hand from the layout of Kafka's DefaultRecordBatch.java /
 * DefaultRecord.java (docs/implementation.html §5.3), not produced by
 * klab's builder:
 *
 *   record:  length varint, attributes int8, timestampDelta varlong,
 *            offsetDelta varint, keyLength varint, key, valueLength varint,
 *            value, headerCount varint
 *            key "key" (3 -> zigzag 6 = 0x06), value "value" (5 -> 0x0a),
 *            deltas 0, no headers: body = 1+1+1+1+3+1+5+1 = 14 bytes,
 *            length 14 -> zigzag 28 = 0x1c; 15 bytes in all.
 *   batch:   61-byte header + 15 = 76 bytes; batchLength = 76 - 12 = 64.
 *            baseTimestamp = maxTimestamp = 1700000000000 = 0x0000018BCFE56800.
 *            producerId -1, producerEpoch -1, baseSequence -1 (no
 *            idempotence), partitionLeaderEpoch -1, attributes 0.
 *   crc:     CRC-32C of bytes 21..75, computed with a separate bit-at-a-time
 *            implementation of the polynomial (a Python one-liner loop:
 *            crc ^= b; 8 x crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0),
 *            pre- and post-inverted), checked first against "123456789" ->
 *            0xE3069283: 0xDB5E9CDD.
 */
#include "testutil.h"

#include "core/crc32c.h"

static const uint8_t golden[76] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /*  0 baseOffset 0 */
	0x00, 0x00, 0x00, 0x40,				/*  8 batchLength 64 */
	0xff, 0xff, 0xff, 0xff,				/* 12 partitionLeaderEpoch -1 */
	0x02,						/* 16 magic 2 */
	0xdb, 0x5e, 0x9c, 0xdd,				/* 17 crc */
	0x00, 0x00,					/* 21 attributes */
	0x00, 0x00, 0x00, 0x00,				/* 23 lastOffsetDelta 0 */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* 27 baseTimestamp */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* 35 maxTimestamp */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* 43 producerId -1 */
	0xff, 0xff,					/* 51 producerEpoch -1 */
	0xff, 0xff, 0xff, 0xff,				/* 53 baseSequence -1 */
	0x00, 0x00, 0x00, 0x01,				/* 57 recordCount 1 */
	0x1c,						/* 61 record length 14 */
	0x00,						/*    attributes */
	0x00,						/*    timestampDelta 0 */
	0x00,						/*    offsetDelta 0 */
	0x06, 'k',  'e',  'y',				/*    key */
	0x0a, 'v',  'a',  'l',	'u',  'e',		/*    value */
	0x00,						/*    headerCount 0 */
};

#define GOLDEN_TS 1700000000000LL

static void
test_batch_golden_one_record_vector(void **state)
{
	struct batch_builder bb;
	struct record_in r = { 0 };
	struct batch_header h;
	struct buf b;

	(void)state;
	buf_init(&b);
	batch_builder_begin(&bb, &b, 0, GOLDEN_TS, 0);
	r.kv.key = (const uint8_t *)"key";
	r.kv.key_len = 3;
	r.kv.value = (const uint8_t *)"value";
	r.kv.value_len = 5;
	r.timestamp = GOLDEN_TS;
	batch_builder_add(&bb, &r);
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
	assert_int_equal(b.len, sizeof(golden));
	assert_memory_equal(b.data, golden, sizeof(golden));
	assert_int_equal(batch_validate(golden, sizeof(golden), &h, NULL), KLAB_OK);
	assert_int_equal(h.crc, 0xDB5E9CDDu);
	assert_int_equal(batch_compute_crc(golden, sizeof(golden)), 0xDB5E9CDDu);
	buf_free(&b);
}

/* A 3-record batch: null key, empty value, headers; ts 1000, 1005, 990. */
static size_t
build_three(struct buf *b, int64_t base_offset, int16_t attributes)
{
	static const struct kv hdrs[] = {
		{ (const uint8_t *)"h1", 2, (const uint8_t *)"v1", 2 },
		{ (const uint8_t *)"h2", 2, NULL, -1 }, /* null header value */
		{ (const uint8_t *)"", 0, (const uint8_t *)"", 0 },
	};
	struct record_in r[3];
	struct batch_builder bb;

	memset(r, 0, sizeof(r));
	r[0].kv = (struct kv){ NULL, -1, (const uint8_t *)"first", 5 };
	r[0].timestamp = 1000;
	r[1].kv = (struct kv){ (const uint8_t *)"k", 1, (const uint8_t *)"", 0 };
	r[1].timestamp = 1005;
	r[1].headers = hdrs;
	r[1].header_count = 3;
	r[2].kv = (struct kv){ (const uint8_t *)"kk", 2, NULL, -1 };
	r[2].timestamp = 990;
	buf_reset(b);
	batch_builder_begin(&bb, b, base_offset, 1000, attributes);
	for (int i = 0; i < 3; i++)
		batch_builder_add(&bb, &r[i]);
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
	return b->len;
}

static void
test_batch_header_fields_at_their_offsets(void **state)
{
	struct batch_header h;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 42, BATCH_ATTR_TRANSACTIONAL);
	assert_true((int64_t)be64_read(b.data + 0) == 42);
	assert_int_equal(be32_read(b.data + 8), len - 12);
	assert_int_equal((int32_t)be32_read(b.data + 12), -1);
	assert_int_equal(b.data[16], 2);
	assert_int_equal(be32_read(b.data + 17), crc32c(0, b.data + 21, len - 21));
	assert_int_equal(be16_read(b.data + 21), BATCH_ATTR_TRANSACTIONAL);
	assert_int_equal(be32_read(b.data + 23), 2);
	assert_true((int64_t)be64_read(b.data + 27) == 1000);
	assert_true((int64_t)be64_read(b.data + 35) == 1005); /* the max, not the last */
	assert_true((int64_t)be64_read(b.data + 43) == -1);
	assert_int_equal((int16_t)be16_read(b.data + 51), -1);
	assert_int_equal((int32_t)be32_read(b.data + 53), -1);
	assert_int_equal(be32_read(b.data + 57), 3);

	assert_int_equal(batch_header_parse(b.data, len, &h), KLAB_OK);
	assert_true(h.base_offset == 42);
	assert_int_equal(h.length, len - 12);
	assert_int_equal(h.partition_leader_epoch, -1);
	assert_int_equal(h.magic, 2);
	assert_int_equal(h.crc, be32_read(b.data + 17));
	assert_int_equal(h.attributes, BATCH_ATTR_TRANSACTIONAL);
	assert_int_equal(h.last_offset_delta, 2);
	assert_true(h.base_timestamp == 1000);
	assert_true(h.max_timestamp == 1005);
	assert_true(h.producer_id == -1);
	assert_int_equal(h.producer_epoch, -1);
	assert_int_equal(h.base_sequence, -1);
	assert_int_equal(h.record_count, 3);
	assert_int_equal(batch_size(&h), len);
	assert_true(batch_last_offset(&h) == 44);
	assert_int_equal(batch_validate(b.data, len, &h, NULL), KLAB_OK);
	buf_free(&b);
}

static void
test_batch_records_null_key_empty_value_headers(void **state)
{
	struct record_iter it;
	struct batch_header h;
	struct record r;
	struct kv hv;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 100, 0);
	assert_int_equal(batch_validate(b.data, len, &h, NULL), KLAB_OK);
	record_iter_init(&it, b.data, len, &h);

	assert_int_equal(record_iter_next(&it, &r), 1);
	assert_true(r.offset == 100);
	assert_int_equal(r.offset_delta, 0);
	assert_true(r.timestamp == 1000);
	assert_int_equal(r.kv.key_len, -1);
	assert_null(r.kv.key);
	assert_int_equal(r.kv.value_len, 5);
	assert_memory_equal(r.kv.value, "first", 5);
	assert_int_equal(r.header_count, 0);
	assert_int_equal(record_header_next(&r, &hv), 0);

	assert_int_equal(record_iter_next(&it, &r), 1);
	assert_true(r.offset == 101);
	assert_true(r.timestamp == 1005);
	assert_int_equal(r.kv.key_len, 1);
	assert_memory_equal(r.kv.key, "k", 1);
	assert_int_equal(r.kv.value_len, 0); /* empty, not null */
	assert_int_equal(r.header_count, 3);
	assert_int_equal(record_header_next(&r, &hv), 1);
	assert_int_equal(hv.key_len, 2);
	assert_memory_equal(hv.key, "h1", 2);
	assert_int_equal(hv.value_len, 2);
	assert_memory_equal(hv.value, "v1", 2);
	assert_int_equal(record_header_next(&r, &hv), 1);
	assert_memory_equal(hv.key, "h2", 2);
	assert_int_equal(hv.value_len, -1);
	assert_null(hv.value);
	assert_int_equal(record_header_next(&r, &hv), 1);
	assert_int_equal(hv.key_len, 0);
	assert_int_equal(hv.value_len, 0);
	assert_int_equal(record_header_next(&r, &hv), 0);

	assert_int_equal(record_iter_next(&it, &r), 1);
	assert_true(r.offset == 102);
	assert_true(r.timestamp == 990); /* a negative delta is fine */
	assert_int_equal(r.kv.value_len, -1);
	assert_null(r.kv.value);
	assert_int_equal(record_iter_next(&it, &r), 0);
	assert_int_equal(record_iter_next(&it, &r), 0);
	buf_free(&b);
}

/* Random records, built, validated, decoded, compared field by field. */
static void
test_batch_round_trip_random_records(void **state)
{
	uint64_t seed = tu_seed(0xBA7C4ull);
	struct tu_rng rng;
	uint8_t pool[4096];

	(void)state;
	tu_rng_init(&rng, seed);
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)tu_rng_next(&rng);
	for (int t = 0; t < 300; t++) {
		struct record_in in[20];
		struct kv hdr[20][4];
		struct batch_builder bb;
		struct batch_header h;
		struct record_iter it;
		struct record r;
		struct buf b;
		int n = 1 + (int)tu_rng_below(&rng, 20), i = 0;
		int64_t ts0 = (int64_t)tu_rng_next(&rng) >> 2, maxts = ts0;
		int64_t base = (int64_t)tu_rng_below(&rng, 1ull << 40);

		for (i = 0; i < n; i++) {
			int32_t kl = (int32_t)tu_rng_below(&rng, 40) - 1;
			int32_t vl = (int32_t)tu_rng_below(&rng, 300) - 1;

			memset(&in[i], 0, sizeof(in[i]));
			in[i].kv =
				(struct kv){ kl < 0 ? NULL : pool + tu_rng_below(&rng, 1000), kl,
					     vl < 0 ? NULL : pool + tu_rng_below(&rng, 1000), vl };
			in[i].timestamp = ts0 + (int64_t)tu_rng_below(&rng, 2000000) - 1000000;
			in[i].header_count = (size_t)tu_rng_below(&rng, 5);
			in[i].headers = hdr[i];
			for (size_t j = 0; j < in[i].header_count; j++) {
				int32_t hvl = (int32_t)tu_rng_below(&rng, 10) - 1;

				hdr[i][j] = (struct kv){ pool + j, (int32_t)j + 1,
							 hvl < 0 ? NULL : pool + 100, hvl };
			}
			if (in[i].timestamp > maxts)
				maxts = in[i].timestamp;
		}
		buf_init(&b);
		batch_builder_begin(&bb, &b, base, ts0, 0);
		for (i = 0; i < n; i++)
			batch_builder_add(&bb, &in[i]);
		assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
		if (batch_validate(b.data, b.len, &h, NULL) != KLAB_OK)
			fail_msg("invalid batch (reproduce with KLAB_SEED=%" PRIu64 ")", seed);
		assert_int_equal(h.record_count, n);
		assert_true(h.max_timestamp == maxts);
		record_iter_init(&it, b.data, b.len, &h);
		for (i = 0; record_iter_next(&it, &r) == 1; i++) {
			struct kv hv;

			assert_true(r.offset == base + i);
			assert_true(r.timestamp == in[i].timestamp);
			assert_int_equal(r.kv.key_len, in[i].kv.key_len);
			assert_int_equal(r.kv.value_len, in[i].kv.value_len);
			if (r.kv.key_len > 0)
				assert_memory_equal(r.kv.key, in[i].kv.key, (size_t)r.kv.key_len);
			if (r.kv.value_len > 0)
				assert_memory_equal(r.kv.value, in[i].kv.value,
						    (size_t)r.kv.value_len);
			assert_int_equal(r.header_count, in[i].header_count);
			for (size_t j = 0; j < in[i].header_count; j++) {
				assert_int_equal(record_header_next(&r, &hv), 1);
				assert_int_equal(hv.key_len, hdr[i][j].key_len);
				assert_int_equal(hv.value_len, hdr[i][j].value_len);
			}
			assert_int_equal(record_header_next(&r, &hv), 0);
		}
		assert_int_equal(i, n);
		buf_free(&b);
	}
}

static void
test_batch_validate_rejects_bad_magic(void **state)
{
	struct batch_header h;
	const char *why = NULL;
	uint8_t p[sizeof(golden)];

	(void)state;
	for (int m = 0; m < 256; m++) {
		if (m == 2)
			continue;
		memcpy(p, golden, sizeof(p));
		p[16] = (uint8_t)m;
		assert_int_equal(batch_validate(p, sizeof(p), &h, &why), KLAB_ECORRUPT);
		assert_int_equal(batch_header_parse(p, sizeof(p), &h), KLAB_ECORRUPT);
	}
	assert_non_null(why);
}

static void
test_batch_validate_rejects_wrong_length(void **state)
{
	struct batch_header h;
	const char *why = NULL;
	uint8_t p[sizeof(golden) + 8];

	(void)state;
	memcpy(p, golden, sizeof(golden));
	memset(p + sizeof(golden), 0, 8);
	/* batchLength one more than the bytes: the batch looks torn */
	be32_write(p + 8, 65);
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ETRUNCATED);
	/* one less: bytes left over */
	be32_write(p + 8, 63);
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* too small to hold a header; negative */
	be32_write(p + 8, 48);
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	be32_write(p + 8, 0x80000000u);
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* the right batchLength but more bytes given than the batch */
	be32_write(p + 8, 64);
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_OK);
	assert_int_equal(batch_validate(p, sizeof(p), &h, &why), KLAB_ECORRUPT);
	assert_string_equal(why, "longer than its batchLength says");
}

static void
test_batch_validate_rejects_every_flipped_covered_byte(void **state)
{
	struct batch_header h;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 7, 0);
	for (size_t i = 0; i < len; i++) {
		bool outside_crc = i < 8 || (i >= 12 && i < 16); /* baseOffset, epoch */

		for (int bit = 0; bit < 8; bit++) {
			int rc;

			b.data[i] ^= (uint8_t)(1u << bit);
			rc = batch_validate(b.data, len, &h, NULL);
			if (outside_crc)
				assert_int_equal(rc, KLAB_OK); /* by design: the log patches them */
			else if (rc == KLAB_OK)
				fail_msg("flipping bit %d of byte %zu went unnoticed", bit, i);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(batch_validate(b.data, len, &h, NULL), KLAB_OK);
	buf_free(&b);
}

/* Rewrite the 4 bytes at off and fix the CRC, so only the structure is wrong. */
static int
validate_patched(const uint8_t *src, size_t len, size_t off, uint32_t v, const char **why)
{
	uint8_t *p = malloc(len);
	struct batch_header h;
	int rc;

	assert_non_null(p);
	memcpy(p, src, len);
	be32_write(p + off, v);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
	rc = batch_validate(p, len, &h, why);
	free(p);
	return rc;
}

static void
test_batch_validate_rejects_record_count_mismatch(void **state)
{
	const char *why = NULL;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 0, 0);
	assert_int_equal(validate_patched(b.data, len, 57, 3, &why), KLAB_OK);
	/* recordCount 2 or 4 while 3 records follow (CRC made to match) */
	assert_int_equal(validate_patched(b.data, len, 57, 2, &why), KLAB_ECORRUPT);
	assert_int_equal(validate_patched(b.data, len, 57, 4, &why), KLAB_ECORRUPT);
	assert_int_equal(validate_patched(b.data, len, 57, 0, &why), KLAB_ECORRUPT);
	assert_int_equal(validate_patched(b.data, len, 57, 0x7fffffff, &why), KLAB_ECORRUPT);
	assert_int_equal(validate_patched(b.data, len, 57, 0xffffffff, &why), KLAB_ECORRUPT);
	/* lastOffsetDelta must be recordCount - 1 */
	assert_int_equal(validate_patched(b.data, len, 23, 3, &why), KLAB_ECORRUPT);
	assert_string_equal(why, "lastOffsetDelta is not recordCount - 1");
	assert_int_equal(validate_patched(b.data, len, 23, 0xffffffff, &why), KLAB_ECORRUPT);
	buf_free(&b);
}

static void
test_batch_validate_rejects_bad_records_with_good_crc(void **state)
{
	uint8_t p[sizeof(golden) + 1];
	struct batch_header h;
	const char *why = NULL;

	(void)state;
	/* offsetDelta 1 in the only record (byte 64) */
	memcpy(p, golden, sizeof(golden));
	p[64] = 0x02;
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(golden)));
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	assert_string_equal(why, "record offset deltas are not 0, 1, 2, ...");
	/* record length larger than what is left */
	memcpy(p, golden, sizeof(golden));
	p[61] = 0x1e;
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(golden)));
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* key length beyond the record body */
	memcpy(p, golden, sizeof(golden));
	p[65] = 0x40;
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(golden)));
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* key length -2 */
	memcpy(p, golden, sizeof(golden));
	p[65] = 0x03;
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(golden)));
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* one header promised, none there */
	memcpy(p, golden, sizeof(golden));
	p[75] = 0x02;
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(golden)));
	assert_int_equal(batch_validate(p, sizeof(golden), &h, &why), KLAB_ECORRUPT);
	/* a stray byte after the last record (batchLength and CRC adjusted) */
	memcpy(p, golden, sizeof(golden));
	p[sizeof(golden)] = 0;
	be32_write(p + 8, 65);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(p)));
	assert_int_equal(batch_validate(p, sizeof(p), &h, &why), KLAB_ECORRUPT);
	assert_string_equal(why, "bytes left after the last record");
}

static void
test_batch_validate_rejects_every_truncation(void **state)
{
	struct batch_header h;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 0, 0);
	/* exact-size heap copies: AddressSanitizer reports any over-read */
	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, b.data, n);
		assert_int_equal(batch_validate(p, n, &h, NULL), KLAB_ETRUNCATED);
		free(p);
	}
	buf_free(&b);
}

static void
test_batch_validate_random_garbage_never_crashes(void **state)
{
	struct tu_rng r;
	struct buf b;
	size_t len;

	(void)state;
	buf_init(&b);
	len = build_three(&b, 0, 0);
	tu_rng_init(&r, 31337);
	for (int t = 0; t < 20000; t++) {
		uint8_t *p = malloc(len);
		struct batch_header h;
		int flips = 1 + (int)tu_rng_below(&r, 4);

		assert_non_null(p);
		memcpy(p, b.data, len);
		for (int i = 0; i < flips; i++)
			p[16 + tu_rng_below(&r, len - 16)] = (uint8_t)tu_rng_next(&r);
		/* fix the CRC half the time so the record walk is exercised */
		if (tu_rng_below(&r, 2) && be32_read(p + 8) == len - 12)
			be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
		(void)batch_validate(p, len, &h, NULL);
		free(p);
	}
	buf_free(&b);
}

static void
test_batch_validate_rejects_zero_records(void **state)
{
	struct batch_builder bb;
	struct batch_header h;
	const char *why = NULL;
	struct buf b;

	(void)state;
	buf_init(&b);
	batch_builder_begin(&bb, &b, 0, 0, 0);
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
	assert_int_equal(b.len, BATCH_HEADER_SIZE);
	assert_int_equal(batch_validate(b.data, b.len, &h, &why), KLAB_ECORRUPT);
	assert_string_equal(why, "no records");
	buf_free(&b);
}

static void
test_batch_patches_outside_crc_keep_it_valid(void **state)
{
	struct batch_header h;
	uint8_t p[sizeof(golden)];

	(void)state;
	memcpy(p, golden, sizeof(p));
	batch_set_base_offset(p, 123456789012LL);
	batch_set_leader_epoch(p, 7);
	assert_int_equal(be32_read(p + 17), 0xDB5E9CDDu); /* CRC unchanged */
	assert_int_equal(batch_validate(p, sizeof(p), &h, NULL), KLAB_OK);
	assert_true(h.base_offset == 123456789012LL);
	assert_int_equal(h.partition_leader_epoch, 7);
}

static void
test_batch_log_append_time_stamps_and_recrcs(void **state)
{
	struct batch_header h;
	uint8_t p[sizeof(golden)];

	(void)state;
	memcpy(p, golden, sizeof(p));
	batch_set_log_append_time(p, sizeof(p), 1800000000000LL);
	assert_int_equal(batch_validate(p, sizeof(p), &h, NULL), KLAB_OK);
	assert_true(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
	assert_true(h.max_timestamp == 1800000000000LL);
	assert_true(h.base_timestamp == GOLDEN_TS); /* records keep their deltas */
	assert_int_not_equal(h.crc, 0xDB5E9CDDu);
	assert_memory_equal(p + 61, golden + 61, sizeof(golden) - 61);
}

static void
test_batch_compressed_batch_skips_record_walk(void **state)
{
	uint8_t p[sizeof(golden)];
	struct batch_header h;

	(void)state;
	memcpy(p, golden, sizeof(p));
	p[22] = 4;    /* zstd: the records section is one opaque block */
	p[61] = 0x7f; /* which is not a valid record */
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, sizeof(p)));
	assert_int_equal(batch_validate(p, sizeof(p), &h, NULL), KLAB_OK);
	assert_string_equal(batch_compression_name(h.attributes), "zstd");
	assert_string_equal(batch_compression_name(0), "none");
	assert_string_equal(batch_compression_name(1), "gzip");
	assert_string_equal(batch_compression_name(2), "snappy");
	assert_string_equal(batch_compression_name(3), "lz4");
	assert_string_equal(batch_compression_name(7), "unknown");
}

static void
test_batch_builder_appends_after_existing_bytes(void **state)
{
	struct batch_header h;
	struct buf b;
	size_t first, second;

	(void)state;
	buf_init(&b);
	first = tu_batch_add(&b, 2, 10, 5, 1);
	second = tu_batch_add(&b, 3, 20, 7, 2);
	assert_int_equal(first, 0);
	assert_int_equal(batch_header_parse(b.data, b.len, &h), KLAB_OK);
	assert_int_equal(second, batch_size(&h));
	assert_int_equal(batch_validate(b.data, second, &h, NULL), KLAB_OK);
	assert_int_equal(h.record_count, 2);
	assert_int_equal(batch_validate(b.data + second, b.len - second, &h, NULL), KLAB_OK);
	assert_int_equal(h.record_count, 3);
	assert_true(h.base_timestamp == 20);
	assert_true(h.max_timestamp == 22);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_golden_one_record_vector),
		cmocka_unit_test(test_batch_header_fields_at_their_offsets),
		cmocka_unit_test(test_batch_records_null_key_empty_value_headers),
		cmocka_unit_test(test_batch_round_trip_random_records),
		cmocka_unit_test(test_batch_validate_rejects_bad_magic),
		cmocka_unit_test(test_batch_validate_rejects_wrong_length),
		cmocka_unit_test(test_batch_validate_rejects_every_flipped_covered_byte),
		cmocka_unit_test(test_batch_validate_rejects_record_count_mismatch),
		cmocka_unit_test(test_batch_validate_rejects_bad_records_with_good_crc),
		cmocka_unit_test(test_batch_validate_rejects_every_truncation),
		cmocka_unit_test(test_batch_validate_random_garbage_never_crashes),
		cmocka_unit_test(test_batch_validate_rejects_zero_records),
		cmocka_unit_test(test_batch_patches_outside_crc_keep_it_valid),
		cmocka_unit_test(test_batch_log_append_time_stamps_and_recrcs),
		cmocka_unit_test(test_batch_compressed_batch_skips_record_walk),
		cmocka_unit_test(test_batch_builder_appends_after_existing_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
