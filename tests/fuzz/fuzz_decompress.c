/*
 * fuzz_decompress.c - libFuzzer target: the decoders of src/log/compress.c
 * (gzip, snappy raw and xerial, lz4 frames, zstd frames) on arbitrary
 * bytes.
 *
 * compress.c promises that a decoder never reads outside its input, never
 * appends more than max_out bytes, and leaves the output buffer as it
 * found it when it refuses (compress.c's invariants 2-4).  An input is
 *
 *   byte 0   bits 0-2: the codec id as a batch's attributes carry it
 *            (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd; 5-7 are no codec
 *            and must be refused); bit 7: also run step 4
 *   rest     the compressed stream
 *
 * and goes through
 *
 *   1. decompress_block() with max_out = 1 MiB after 3 bytes already in
 *      the buffer: the answer is OK, ECORRUPT, ETOOLARGE or ENOMEM, and
 *      codec ids 5-7 are ECORRUPT;
 *   2. on a refusal the buffer holds just its 3 bytes; on OK at most
 *      max_out bytes follow them, and every one is read, so
 *      AddressSanitizer sees any byte that was never written;
 *   3. on OK with at most 64 KiB out: the output compressed again with the
 *      same codec decompresses to itself (what we accept, we can write);
 *   4. with bit 7 set, the rest is also taken as a RecordBatch: its codec
 *      bits set to byte 0's and its CRC fixed (as fuzz_batch.c does, so
 *      mutated streams get past the CRC), then batch_decompress(); when it
 *      says OK, the result must pass batch_validate() and every record
 *      and header must walk.
 *
 * libFuzzer hands us each input in a heap block of exactly `size` bytes,
 * so the stream data+1 .. data+size ends where the block ends.
 *
 * Build and run: make build/fuzz/fuzz_decompress && tools/fuzz.sh replay
 * build/fuzz/fuzz_decompress (seed inputs: tests/fuzz/corpus/fuzz_decompress/,
 * written by tests/fuzz/gen_corpus_compress.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "log/batch.h"
#include "log/compress.h"

#define MAX_OUT (1024 * 1024)
#define ROUND_TRIP_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *rule)
{
	fprintf(stderr, "fuzz_decompress: invariant broken: %s\n", rule);
	abort();
}

static void
touch(const uint8_t *p, size_t n)
{
	volatile uint8_t sink = 0;

	for (size_t i = 0; i < n; i++)
		sink ^= p[i];
	(void)sink;
}

/* Step 3: compress(out) decompresses to out. */
static void
round_trip(enum compression c, const uint8_t *p, size_t n)
{
	struct buf z, back;

	buf_init(&z);
	buf_init(&back);
	if (compress_block(c, p, n, &z) != KLAB_OK)
		fail("compress_block refused what decompress_block produced");
	if (decompress_block(c, z.data, z.len, n, &back) != KLAB_OK)
		fail("a stream compress_block wrote did not decompress");
	if (back.len != n || (n > 0 && memcmp(back.data, p, n) != 0))
		fail("compress then decompress changed the bytes");
	buf_free(&z);
	buf_free(&back);
}

/* Steps 1-3. */
static void
block(enum compression c, const uint8_t *in, size_t n)
{
	struct buf out;
	int rc;

	buf_init(&out);
	buf_put(&out, "pre", 3);
	rc = decompress_block(c, in, n, MAX_OUT, &out);
	if (rc != KLAB_OK && rc != KLAB_ECORRUPT && rc != KLAB_ETOOLARGE && rc != KLAB_ENOMEM)
		fail("decompress_block returned an unexpected code");
	if ((unsigned)c > COMPRESSION_ZSTD && rc != KLAB_ECORRUPT)
		fail("a codec id above 4 was not refused");
	if (out.len < 3 || memcmp(out.data, "pre", 3) != 0)
		fail("decompress_block changed bytes that were already in the buffer");
	if (rc != KLAB_OK && out.len != 3)
		fail("a refused stream left bytes behind");
	if (out.len - 3 > MAX_OUT)
		fail("decompress_block wrote more than max_out");
	touch(out.data, out.len);
	if (rc == KLAB_OK && out.len - 3 <= ROUND_TRIP_MAX)
		round_trip(c, out.data + 3, out.len - 3);
	buf_free(&out);
}

/* Every record and header of a batch that batch_validate accepted. */
static void
walk(const uint8_t *p, size_t len, const struct batch_header *h)
{
	struct record_iter it;
	struct record r;
	struct kv hv;
	int rc;

	record_iter_init(&it, p, len, h);
	while ((rc = record_iter_next(&it, &r)) == 1) {
		touch(r.kv.key, r.kv.key_len > 0 ? (size_t)r.kv.key_len : 0);
		touch(r.kv.value, r.kv.value_len > 0 ? (size_t)r.kv.value_len : 0);
		while ((rc = record_header_next(&r, &hv)) == 1)
			touch(hv.value, hv.value_len > 0 ? (size_t)hv.value_len : 0);
		if (rc != 0)
			fail("a header of a decompressed, validated batch is malformed");
	}
	if (rc != 0)
		fail("a record of a decompressed, validated batch is malformed");
}

/* Step 4. */
static void
batch(uint8_t codec, const uint8_t *in, size_t n)
{
	struct batch_header h;
	struct buf out;
	uint8_t *p;
	int rc;

	if (n < BATCH_HEADER_SIZE || (p = malloc(n)) == NULL)
		return;
	memcpy(p, in, n);
	be16_write(
		p + BATCH_ATTR_OFFSET,
		(uint16_t)((be16_read(p + BATCH_ATTR_OFFSET) & ~BATCH_ATTR_COMPRESSION) | codec));
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, n));
	buf_init(&out);
	rc = batch_decompress(p, n, MAX_OUT, &out);
	free(p);
	if (rc != KLAB_OK && out.len != 0)
		fail("a refused batch left bytes behind");
	if (rc == KLAB_OK) {
		if (batch_validate(out.data, out.len, &h, NULL) != KLAB_OK)
			fail("batch_decompress returned a batch that does not validate");
		if ((h.attributes & BATCH_ATTR_COMPRESSION) != 0)
			fail("a decompressed batch still names a codec");
		walk(out.data, out.len, &h);
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	block((enum compression)(data[0] & 7), data + 1, size - 1);
	if (data[0] & 0x80)
		batch(data[0] & 7, data + 1, size - 1);
	return 0;
}
