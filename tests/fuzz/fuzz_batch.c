/*
 * fuzz_batch.c - libFuzzer target: the RecordBatch v2 parser on arbitrary
 * bytes (src/log/batch.c).
 *
 * batch.c promises that no length read from the bytes is used before it is
 * checked (batch.c's essay; the cursors of buf.h).  This target holds it to
 * that promise.  Every input goes through
 *
 *   1. batch_header_parse() on each prefix of 0..61 bytes: it may answer
 *      ETRUNCATED or ECORRUPT, but must never read past the prefix;
 *   2. batch_validate() on the whole input; when it says KLAB_OK,
 *   3. every record and every header is walked with record_iter_next() and
 *      record_header_next(), and every key and value byte is read, so
 *      AddressSanitizer sees any pointer that escapes the batch;
 *   4. the fields outside the CRC (baseOffset, partitionLeaderEpoch) are
 *      rewritten and LogAppendTime is stamped, as log_append() does, and
 *      the batch must still validate.
 *
 * A mutated batch almost never keeps a matching CRC, so the fuzzer would
 * rarely get past step 2.  Steps 2-4 therefore run twice: on the input as
 * it is, and on a copy whose CRC field has been set to the CRC of its
 * bytes - the second pass is how mutated records reach the record parser.
 *
 * libFuzzer hands us each input in a heap block of exactly `size` bytes,
 * and the prefixes of step 1 are copied into blocks of their own size, so
 * a read one byte too far is a heap-buffer-overflow report, not a silent
 * bug.  A broken invariant aborts with a message naming it.
 *
 * Build and run: make build/fuzz/fuzz_batch && tools/fuzz.sh replay
 * build/fuzz/fuzz_batch (seed inputs: tests/fuzz/corpus/fuzz_batch/).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "log/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *rule)
{
	fprintf(stderr, "fuzz_batch: invariant broken: %s\n", rule);
	abort();
}

/* Read every byte of a key or value (len -1 is null). */
static void
touch(const uint8_t *p, int32_t len)
{
	volatile uint8_t sink = 0;

	if (len < -1)
		fail("a key or value length below -1 was returned");
	if (len > 0 && p == NULL)
		fail("a non-empty key or value without bytes");
	for (int32_t i = 0; i < len; i++)
		sink ^= p[i];
	(void)sink;
}

/* Step 1: every prefix of the header, each in an exact-size copy. */
static void
parse_prefixes(const uint8_t *data, size_t size)
{
	size_t max = size < BATCH_HEADER_SIZE ? size : BATCH_HEADER_SIZE;
	struct batch_header h;

	for (size_t n = 0; n <= max; n++) {
		uint8_t *p = malloc(n ? n : 1);
		int rc;

		if (p == NULL)
			return;
		memcpy(p, data, n);
		rc = batch_header_parse(p, n, &h);
		free(p);
		if (rc == KLAB_OK && n < BATCH_HEADER_SIZE)
			fail("batch_header_parse accepted fewer than 61 bytes");
		if (rc != KLAB_OK && rc != KLAB_ETRUNCATED && rc != KLAB_ECORRUPT)
			fail("batch_header_parse returned an unexpected code");
	}
}

/* One record: key, value and every header.  False when malformed. */
static bool
touch_record(struct record *r)
{
	struct kv hv;
	int rc;

	touch(r->kv.key, r->kv.key_len);
	touch(r->kv.value, r->kv.value_len);
	while ((rc = record_header_next(r, &hv)) == 1) {
		touch(hv.key, hv.key_len);
		touch(hv.value, hv.value_len);
	}
	return rc == 0;
}

/* Step 3: every record of a validated batch. */
static void
walk_records(const uint8_t *p, size_t len, const struct batch_header *h)
{
	bool compressed = (h->attributes & BATCH_ATTR_COMPRESSION) != 0;
	struct record_iter it;
	struct record r;
	int32_t n = 0;
	int rc;

	record_iter_init(&it, p, len, h);
	while ((rc = record_iter_next(&it, &r)) == 1) {
		/* a compressed block is not records: only memory safety counts */
		if (!touch_record(&r) && !compressed)
			fail("record_header_next failed on a valid batch");
		if (!compressed && r.offset_delta != n)
			fail("offset deltas of a valid batch are not 0, 1, 2, ...");
		n++;
	}
	if (compressed)
		return;
	if (rc != 0)
		fail("record_iter_next failed on a valid batch");
	if (n != h->record_count)
		fail("a valid batch does not hold recordCount records");
}

/* Step 4: what log_append() rewrites must keep the batch valid. */
static void
rewrite_and_revalidate(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size);
	struct batch_header h;

	if (p == NULL)
		return;
	memcpy(p, data, size);
	batch_set_base_offset(p, INT64_MAX / 2);
	batch_set_leader_epoch(p, 7);
	if (batch_validate(p, size, &h, NULL) != KLAB_OK)
		fail("rewriting baseOffset or the leader epoch broke a valid batch");
	if (h.base_offset != INT64_MAX / 2 || h.partition_leader_epoch != 7)
		fail("the rewritten baseOffset or leader epoch did not stick");
	batch_set_log_append_time(p, size, 1700000000000);
	if (batch_validate(p, size, &h, NULL) != KLAB_OK)
		fail("stamping LogAppendTime broke a valid batch");
	if ((h.attributes & BATCH_ATTR_LOG_APPEND_TIME) == 0 || h.max_timestamp != 1700000000000)
		fail("LogAppendTime was not stamped");
	walk_records(p, size, &h);
	free(p);
}

/* Steps 2-4 on data[0..size). */
static void
validate_and_walk(const uint8_t *data, size_t size)
{
	struct batch_header h;
	const char *why = NULL;
	int rc = batch_validate(data, size, &h, &why);

	if (rc != KLAB_OK) {
		if (rc != KLAB_ETRUNCATED && rc != KLAB_ECORRUPT)
			fail("batch_validate returned an unexpected code");
		if (why == NULL)
			fail("batch_validate refused a batch without saying why");
		return;
	}
	if (batch_size(&h) != size || h.magic != BATCH_MAGIC)
		fail("a valid batch's size or magic is wrong");
	walk_records(data, size, &h);
	rewrite_and_revalidate(data, size);
}

/* The second pass: the same bytes with a CRC that matches them. */
static void
validate_with_fixed_crc(const uint8_t *data, size_t size)
{
	uint8_t *p;

	if (size < BATCH_HEADER_SIZE)
		return;
	if ((p = malloc(size)) == NULL)
		return;
	memcpy(p, data, size);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, size));
	validate_and_walk(p, size);
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_prefixes(data, size);
	validate_and_walk(data, size);
	validate_with_fixed_crc(data, size);
	return 0;
}
