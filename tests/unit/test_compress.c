/*
 * test_compress.c - Kafka's batch compression (src/log/compress.c).
 *
 * The contract under test: every codec round-trips any input; the bytes
 * are in the framing Java and librdkafka write (checked against vectors
 * worked out by hand from KafkaLZ4BlockOutputStream.java and xerial's
 * SnappyOutputStream.java, and against frames the lz4 1.9.4 and zstd
 * 1.5.4 command-line tools and Python's gzip module wrote); the readers
 * accept what other clients write (raw snappy, checksummed lz4 and zstd
 * frames, concatenated gzip members) and refuse what Kafka refuses
 * (dependent lz4 blocks); truncated, bit-flipped and trailing-garbage
 * streams are refused without a crash or a leak (AddressSanitizer); the
 * max_out bound holds before memory is spent; and a compressed batch keeps
 * its header, validates, and decompresses to the original byte for byte.
 *
 * Random tests replay from their seed: KLAB_SEED=N overrides it.
 */
#include "testutil.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zstd.h>

#include "log/compress.h"

#define MIB (1024 * 1024)
#define T0 1700000000000LL
#define NCODECS (COMPRESSION_ZSTD + 1)

/* ---- payloads ------------------------------------------------------------ */

static uint8_t *
make_random(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	struct tu_rng r;

	assert_non_null(p);
	tu_rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tu_rng_next(&r);
	return p;
}

/*
 * n bytes of JSON lines like a service's event log: fixed field names,
 * values drawn at random from small sets, an id and a timestamp counting
 * up.  (The ratios in the report were measured on this.)
 */
static uint8_t *
make_json(size_t n, uint64_t seed)
{
	static const char *const events[] = { "page_view", "click", "add_to_cart", "checkout" };
	uint8_t *p = malloc(n + 256);
	struct tu_rng r;
	size_t len = 0;

	assert_non_null(p);
	tu_rng_init(&r, seed);
	for (int i = 0; len < n; i++)
		len += (size_t)snprintf((char *)p + len, 256,
					"{\"id\":%d,\"user\":\"user-%u\",\"event\":\"%s\",\"path\":"
					"\"/products/%u\",\"ts\":%lld,\"ok\":true}\n",
					100000 + i, (unsigned)tu_rng_below(&r, 50),
					events[tu_rng_below(&r, 4)],
					(unsigned)tu_rng_below(&r, 200), T0 + i * 7);
	return p;
}

/* n bytes of one JSON record repeated, only its id counting up: repetitive. */
static uint8_t *
make_repetitive(size_t n)
{
	uint8_t *p = malloc(n + 256);
	size_t len = 0;

	assert_non_null(p);
	for (int i = 0; len < n; i++)
		len += (size_t)snprintf((char *)p + len, 256,
					"{\"id\":%d,\"user\":\"user-%d\",\"event\":\"page_view\","
					"\"path\":\"/products/42\",\"ok\":true}\n",
					i, i % 10);
	return p;
}

/* An exact-size heap copy, so a read one byte too far is an ASan report. */
static uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* in[0..n) compressed with c into a fresh buffer (*z, buf_free'd by the caller). */
static void
compress_into(enum compression c, const uint8_t *in, size_t n, struct buf *z)
{
	buf_init(z);
	assert_int_equal(compress_block(c, in, n, z), KLAB_OK);
}

/* decompress_block on an exact-size copy of z[0..n); out is reset first. */
static int
decompress_exact(enum compression c, const uint8_t *z, size_t n, size_t max_out, struct buf *out)
{
	uint8_t *copy = dup_exact(z, n);
	int rc;

	buf_reset(out);
	rc = decompress_block(c, copy, n, max_out, out);
	free(copy);
	if (rc != KLAB_OK)
		assert_int_equal(out->len, 0); /* nothing left behind */
	return rc;
}

static void
round_trip(enum compression c, const uint8_t *in, size_t n)
{
	struct buf z, back;

	compress_into(c, in, n, &z);
	buf_init(&back);
	assert_int_equal(decompress_exact(c, z.data, z.len, n, &back), KLAB_OK);
	assert_int_equal(back.len, n);
	if (n > 0)
		assert_memory_equal(back.data, in, n);
	buf_free(&z);
	buf_free(&back);
}

/* ---- names --------------------------------------------------------------- */

static void
test_compress_parse_and_name_kafka_spellings(void **state)
{
	static const char *const bad[] = {
		"GZIP", "", "zstd ", "producer", "uncompressed", "lz4hc"
	};
	enum compression c;

	(void)state;
	for (int i = 0; i < NCODECS; i++) {
		const char *name = compression_name((enum compression)i);

		assert_int_equal(compression_parse(name, &c), KLAB_OK);
		assert_int_equal(c, i);
		assert_string_equal(name, batch_compression_name((int16_t)i));
	}
	assert_string_equal(compression_name(COMPRESSION_LZ4), "lz4");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(compression_parse(bad[i], &c), KLAB_EINVAL);
	assert_string_equal(compression_name((enum compression)5), "unknown");
}

/* ---- round trips --------------------------------------------------------- */

static void
test_compress_round_trip_every_codec_every_input(void **state)
{
	uint8_t *rnd = make_random(MIB, tu_seed(1)), *rep = make_repetitive(MIB),
		*json = make_json(MIB, tu_seed(2));
	static const uint8_t tiny[] = "k";

	(void)state;
	for (int c = 0; c < NCODECS; c++) {
		round_trip((enum compression)c, NULL, 0);
		round_trip((enum compression)c, tiny, 1);
		round_trip((enum compression)c, (const uint8_t *)"hello, kafka", 12);
		round_trip((enum compression)c, rnd, MIB);
		round_trip((enum compression)c, rep, MIB);
		round_trip((enum compression)c, json, MIB);
		round_trip((enum compression)c, json, 64 * 1024 + 1); /* one past an lz4 block */
		round_trip((enum compression)c, json, 32 * 1024);     /* exactly one xerial block */
	}
	free(rnd);
	free(rep);
	free(json);
}

static void
test_compress_ratio_on_repetitive_json_below_0_2(void **state)
{
	uint8_t *rep = make_repetitive(MIB);
	struct buf z;

	(void)state;
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		double ratio;

		compress_into((enum compression)c, rep, MIB, &z);
		ratio = (double)z.len / MIB;
		print_message("  %-6s 1 MiB repetitive JSON -> %6zu bytes, ratio %.3f\n",
			      compression_name((enum compression)c), z.len, ratio);
		buf_free(&z);
		assert_true(ratio < 0.2);
	}
	free(rep);
}

static void
test_compress_appends_after_existing_bytes(void **state)
{
	struct buf out;

	(void)state;
	for (int c = 0; c < NCODECS; c++) {
		uint8_t *z;
		size_t zlen;

		buf_init(&out);
		buf_put(&out, "abc", 3);
		assert_int_equal(
			compress_block((enum compression)c, (const uint8_t *)"hello", 5, &out),
			KLAB_OK);
		assert_memory_equal(out.data, "abc", 3);
		zlen = out.len - 3;
		z = dup_exact(out.data + 3, zlen);
		out.len = 3;
		assert_int_equal(decompress_block((enum compression)c, z, zlen, 5, &out), KLAB_OK);
		assert_int_equal(out.len, 8);
		assert_memory_equal(out.data, "abchello", 8);
		assert_int_equal(decompress_block((enum compression)c, z, zlen - 1, 5, &out),
				 c == COMPRESSION_NONE ? KLAB_OK : KLAB_ECORRUPT);
		assert_memory_equal(out.data, "abchello", 8); /* a failure leaves out alone */
		free(z);
		buf_free(&out);
	}
}

/* ---- the bytes on the wire ----------------------------------------------- */

static void
test_compress_magic_bytes_of_each_codec(void **state)
{
	static const uint8_t gz[] = { 0x1f, 0x8b, 0x08 }, lz4[] = { 0x04, 0x22, 0x4d, 0x18 },
			     zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
	uint8_t *json = make_json(100000, 3);
	struct buf z;

	(void)state;
	compress_into(COMPRESSION_GZIP, json, 100000, &z);
	assert_memory_equal(z.data, gz, 3);
	buf_free(&z);
	compress_into(COMPRESSION_LZ4, json, 100000, &z);
	assert_memory_equal(z.data, lz4, 4);
	assert_memory_equal(z.data + z.len - 4, "\0\0\0\0", 4); /* the end mark */
	buf_free(&z);
	compress_into(COMPRESSION_ZSTD, json, 100000, &z);
	assert_memory_equal(z.data, zst, 4);
	buf_free(&z);
	compress_into(COMPRESSION_SNAPPY, json, 100000, &z);
	assert_memory_equal(z.data, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
	buf_free(&z);
	free(json);
}

/*
 * What KafkaLZ4BlockOutputStream writes for "hello": magic (LE), FLG 0x60
 * (version 01, independent blocks), BD 0x40 (64 KiB), HC 0x82 (second
 * byte of XXH32({0x60, 0x40}, seed 0), computed with a separate Python
 * XXH32 checked against XXH32("") = 0x02CC5D05); then, as LZ4 would make
 * 5 bytes into 6, the block stored with the incompressible bit (0x80000005
 * LE); then the end mark.  For an empty stream: header and end mark only.
 */
static void
test_compress_lz4_is_byte_exact_with_java(void **state)
{
	static const uint8_t hello[] = {
		0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x05, 0x00, 0x00,
		0x80, 'h',  'e',  'l',	'l',  'o',  0x00, 0x00, 0x00, 0x00
	};
	static const uint8_t empty[] = { 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40,
					 0x82, 0x00, 0x00, 0x00, 0x00 };
	struct buf z;

	(void)state;
	compress_into(COMPRESSION_LZ4, (const uint8_t *)"hello", 5, &z);
	assert_int_equal(z.len, sizeof(hello));
	assert_memory_equal(z.data, hello, sizeof(hello));
	buf_free(&z);
	compress_into(COMPRESSION_LZ4, NULL, 0, &z);
	assert_int_equal(z.len, sizeof(empty));
	assert_memory_equal(z.data, empty, sizeof(empty));
	buf_free(&z);
}

/*
 * What SnappyOutputStream writes for "hello": the 16-byte header
 * (SnappyCodec: magic, version 1, compatible 1), then one block: int32 BE
 * length 7 and the raw snappy block (varint length 5, literal tag
 * (5-1)<<2 = 0x10, the bytes).  For an empty stream: the header alone.
 */
static void
test_compress_snappy_is_byte_exact_with_java(void **state)
{
	static const uint8_t hello[] = { 0x82, 'S',  'N',  'A',	 'P',  'P',  'Y',  0x00, 0x00,
					 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
					 0x00, 0x07, 0x05, 0x10, 'h',  'e',  'l',  'l',	 'o' };
	struct buf z;

	(void)state;
	compress_into(COMPRESSION_SNAPPY, (const uint8_t *)"hello", 5, &z);
	assert_int_equal(z.len, sizeof(hello));
	assert_memory_equal(z.data, hello, sizeof(hello));
	buf_free(&z);
	compress_into(COMPRESSION_SNAPPY, NULL, 0, &z);
	assert_int_equal(z.len, 16);
	assert_memory_equal(z.data, hello, 16);
	buf_free(&z);
}

/* 1 MiB becomes 32 xerial blocks of 32 KiB of input each. */
static void
test_compress_snappy_blocks_are_32k_of_input(void **state)
{
	uint8_t *json = make_json(MIB, 4);
	struct cursor c;
	struct buf z;
	int blocks = 0;

	(void)state;
	compress_into(COMPRESSION_SNAPPY, json, MIB, &z);
	cur_init(&c, z.data + 16, z.len - 16);
	while (c.len > 0) {
		uint32_t blen = cur_get_be32(&c);
		const uint8_t *b = cur_get_bytes(&c, blen);
		size_t ulen = 0;

		assert_non_null(b);
		assert_int_equal(snappy_uncompressed_length((const char *)b, blen, &ulen),
				 SNAPPY_OK);
		assert_int_equal(ulen, 32 * 1024);
		blocks++;
	}
	assert_int_equal(blocks, 32);
	buf_free(&z);
	free(json);
}

/* ---- reading what other clients write ------------------------------------ */

/* librdkafka and kafkajs-snappy write one raw block: no header. */
static void
test_compress_snappy_reads_raw_blocks(void **state)
{
	uint8_t *json = make_json(200000, 5);
	size_t zlen = snappy_max_compressed_length(200000);
	uint8_t *raw = malloc(zlen);
	struct buf out;

	(void)state;
	assert_non_null(raw);
	assert_int_equal(snappy_compress((const char *)json, 200000, (char *)raw, &zlen),
			 SNAPPY_OK);
	buf_init(&out);
	assert_int_equal(decompress_exact(COMPRESSION_SNAPPY, raw, zlen, 200000, &out), KLAB_OK);
	assert_int_equal(out.len, 200000);
	assert_memory_equal(out.data, json, 200000);
	assert_int_equal(decompress_exact(COMPRESSION_SNAPPY, (const uint8_t *)"\0", 1, 0, &out),
			 KLAB_OK); /* a raw block of nothing */
	assert_int_equal(out.len, 0);
	buf_free(&out);
	free(raw);
	free(json);
}

/* Append a xerial block of in[0..n) to z. */
static void
xerial_block(struct buf *z, const uint8_t *in, size_t n)
{
	size_t clen = snappy_max_compressed_length(n);
	uint8_t *tmp = malloc(clen);

	assert_non_null(tmp);
	assert_int_equal(snappy_compress((const char *)in, n, (char *)tmp, &clen), SNAPPY_OK);
	buf_put_be32(z, (uint32_t)clen);
	buf_put(z, tmp, clen);
	free(tmp);
}

/* Other block sizes than 32 KiB, and a second stream appended to the first. */
static void
test_compress_snappy_reads_any_xerial_blocking(void **state)
{
	static const uint8_t hdr[16] = "\x82SNAPPY\0\0\0\0\1\0\0\0\1";
	uint8_t *json = make_json(10000, 6);
	struct buf z, out;

	(void)state;
	buf_init(&z);
	buf_init(&out);
	buf_put(&z, hdr, 16);
	for (size_t pos = 0; pos < 6000; pos += 1000)
		xerial_block(&z, json + pos, 1000);
	buf_put(&z, hdr, 16);
	xerial_block(&z, json + 6000, 4000);
	assert_int_equal(decompress_exact(COMPRESSION_SNAPPY, z.data, z.len, 10000, &out), KLAB_OK);
	assert_int_equal(out.len, 10000);
	assert_memory_equal(out.data, json, 10000);
	z.data[8 + 3] = 0; /* version 0: SnappyInputStream refuses it */
	assert_int_equal(decompress_exact(COMPRESSION_SNAPPY, z.data, z.len, 10000, &out),
			 KLAB_ECORRUPT);
	buf_free(&z);
	buf_free(&out);
	free(json);
}

/* Frames the command-line tools wrote (lz4 -B4, zstd, Python gzip.compress). */
static void
test_compress_reads_frames_other_tools_wrote(void **state)
{
	static const uint8_t lz4_cli[] = { /* FLG 0x64: content checksum; HC 0xa7 */
					   0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0c,
					   0x00, 0x00, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
					   0x2c, 0x20, 0x6b, 0x61, 0x66, 0x6b, 0x61, 0x00,
					   0x00, 0x00, 0x00, 0x17, 0xd7, 0x87, 0xfd
	};
	static const uint8_t zstd_cli[] = { /* single segment, content size 12, checksum */
					    0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0c, 0x61, 0x00, 0x00,
					    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x6b, 0x61,
					    0x66, 0x6b, 0x61, 0x17, 0x7b, 0xcf, 0x89
	};
	static const uint8_t gz_py[] = { /* mtime 0, XFL 2, OS 3 */
					 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
					 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7,
					 0x51, 0xc8, 0x4e, 0x4c, 0xcb, 0x4e, 0x04, 0x00,
					 0x6e, 0x16, 0x60, 0x9e, 0x0c, 0x00, 0x00, 0x00
	};
	struct {
		enum compression c;
		const uint8_t *p;
		size_t n;
	} v[] = { { COMPRESSION_LZ4, lz4_cli, sizeof(lz4_cli) },
		  { COMPRESSION_ZSTD, zstd_cli, sizeof(zstd_cli) },
		  { COMPRESSION_GZIP, gz_py, sizeof(gz_py) } };
	struct buf out;

	(void)state;
	buf_init(&out);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(decompress_exact(v[i].c, v[i].p, v[i].n, 100, &out), KLAB_OK);
		assert_int_equal(out.len, 12);
		assert_memory_equal(out.data, "hello, kafka", 12);
		for (size_t pos = 0; pos < v[i].n;
		     pos++) { /* every flip is caught: all have checksums */
			uint8_t *copy = dup_exact(v[i].p, v[i].n);
			int rc;

			copy[pos] ^= 0x10;
			rc = decompress_exact(v[i].c, copy, v[i].n, 100, &out);
			if (rc == KLAB_OK) /* a field no check covers, e.g. gzip's OS byte */
				assert_memory_equal(out.data, "hello, kafka", 12);
			else
				assert_int_equal(rc, KLAB_ECORRUPT);
			free(copy);
		}
	}
	buf_free(&out);
}

/* An LZ4 frame of in[0..n) with the given frame options. */
static void
lz4_frame(const uint8_t *in, size_t n, const LZ4F_frameInfo_t *fi, struct buf *z)
{
	LZ4F_preferences_t prefs = { 0 };
	size_t bound, got;

	prefs.frameInfo = *fi;
	bound = LZ4F_compressFrameBound(n, &prefs);
	buf_init(z);
	assert_true(buf_reserve(z, bound));
	got = LZ4F_compressFrame(z->data, bound, in, n, &prefs);
	assert_false(LZ4F_isError(got));
	z->len = got;
}

/*
 * KafkaLZ4BlockInputStream accepts block and content checksums, a content
 * size and every block size 64 KiB..4 MiB; it refuses dependent blocks
 * and a dictionary id ("Dependent block stream is unsupported", "Reserved
 * bits must be 0").  So do we.
 */
static void
test_compress_lz4_accepts_and_refuses_what_kafka_does(void **state)
{
	const size_t n = 300000;
	uint8_t *json = make_json(n, 7);
	LZ4F_frameInfo_t ok[] = {
		{ .blockMode = LZ4F_blockIndependent,
		  .contentChecksumFlag = LZ4F_contentChecksumEnabled },
		{ .blockMode = LZ4F_blockIndependent,
		  .blockChecksumFlag = LZ4F_blockChecksumEnabled },
		{ .blockMode = LZ4F_blockIndependent, .contentSize = 300000 },
		{ .blockMode = LZ4F_blockIndependent, .blockSizeID = LZ4F_max4MB },
		{ .blockMode = LZ4F_blockIndependent, .blockSizeID = LZ4F_max256KB },
	};
	LZ4F_frameInfo_t refused[] = {
		{ .blockMode = LZ4F_blockLinked },
		{ .blockMode = LZ4F_blockIndependent, .dictID = 7 },
	};
	struct buf z, out;

	(void)state;
	buf_init(&out);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		lz4_frame(json, n, &ok[i], &z);
		assert_int_equal(decompress_exact(COMPRESSION_LZ4, z.data, z.len, n, &out),
				 KLAB_OK);
		assert_int_equal(out.len, n);
		assert_memory_equal(out.data, json, n);
		buf_free(&z);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		lz4_frame(json, n, &refused[i], &z);
		assert_int_equal(decompress_exact(COMPRESSION_LZ4, z.data, z.len, n, &out),
				 KLAB_ECORRUPT);
		buf_free(&z);
	}
	buf_free(&out);
	free(json);
}

/* Kafka before 0.10 hashed the magic into HC (KIP-57); a v2 batch never does. */
static void
test_compress_lz4_refuses_the_pre_kip57_header_checksum(void **state)
{
	struct buf z, out;

	(void)state;
	compress_into(COMPRESSION_LZ4, (const uint8_t *)"hello", 5, &z);
	buf_init(&out);
	z.data[6] = 0x1a; /* XXH32(04 22 4d 18 60 40) >> 8 & 0xff: the old, wrong HC */
	assert_int_equal(decompress_exact(COMPRESSION_LZ4, z.data, z.len, 5, &out), KLAB_ECORRUPT);
	buf_free(&z);
	buf_free(&out);
}

/* Java's GZIPInputStream reads concatenated members; zstd decoders read concatenated frames. */
static void
test_compress_gzip_members_and_zstd_frames_concatenate(void **state)
{
	static const enum compression cs[] = { COMPRESSION_GZIP, COMPRESSION_ZSTD };
	struct buf z, out;

	(void)state;
	buf_init(&out);
	for (size_t i = 0; i < 2; i++) {
		buf_init(&z);
		assert_int_equal(compress_block(cs[i], (const uint8_t *)"hello, ", 7, &z), KLAB_OK);
		assert_int_equal(compress_block(cs[i], NULL, 0, &z), KLAB_OK);
		assert_int_equal(compress_block(cs[i], (const uint8_t *)"kafka", 5, &z), KLAB_OK);
		assert_int_equal(decompress_exact(cs[i], z.data, z.len, 12, &out), KLAB_OK);
		assert_int_equal(out.len, 12);
		assert_memory_equal(out.data, "hello, kafka", 12);
		buf_free(&z);
	}
	buf_free(&out);
}

/* ---- refusing bad streams ------------------------------------------------ */

static void
test_compress_trailing_bytes_are_corrupt(void **state)
{
	static const uint8_t tails[][4] = { { 0 }, { 0xff }, { 0x1f, 0x8b }, { 0, 0, 0, 0 } };
	static const size_t tail_len[] = { 1, 1, 2, 4 };
	struct buf z, out;

	(void)state;
	buf_init(&out);
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		for (size_t t = 0; t < 4; t++) {
			compress_into((enum compression)c, (const uint8_t *)"hello, kafka", 12, &z);
			buf_put(&z, tails[t], tail_len[t]);
			assert_int_equal(
				decompress_exact((enum compression)c, z.data, z.len, 100, &out),
				KLAB_ECORRUPT);
			buf_free(&z);
		}
	}
	buf_free(&out);
}

static void
test_compress_unknown_codec_ids(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out);
	for (int c = 5; c < 8; c++) {
		assert_int_equal(compress_block((enum compression)c, (const uint8_t *)"x", 1, &out),
				 KLAB_EINVAL);
		assert_int_equal(
			decompress_block((enum compression)c, (const uint8_t *)"x", 1, 10, &out),
			KLAB_ECORRUPT);
		assert_int_equal(out.len, 0);
	}
	buf_free(&out);
}

/*
 * Offsets where a prefix of a xerial stream is itself a whole stream: after
 * the header and after each block.  *prefix_out gets what it decodes to.
 */
static bool
xerial_boundary(const struct buf *z, size_t t, size_t *prefix_out)
{
	size_t pos = 16, produced = 0;

	while (pos <= t) {
		size_t ulen = 0;
		uint32_t blen;

		if (pos == t) {
			*prefix_out = produced;
			return true;
		}
		blen = be32_read(z->data + pos);
		snappy_uncompressed_length((const char *)z->data + pos + 4, blen, &ulen);
		produced += ulen;
		pos += 4 + blen;
	}
	return false;
}

/* Each truncation point t in points[0..n): ECORRUPT, unless a whole shorter stream. */
static void
truncate_at(enum compression c, const struct buf *z, const uint8_t *orig, size_t orig_len,
	    const size_t *points, size_t n)
{
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i < n; i++) {
		size_t t = points[i], prefix = 0;
		int rc = decompress_exact(c, z->data, t, orig_len, &out);

		if (c == COMPRESSION_SNAPPY && t >= 16 && xerial_boundary(z, t, &prefix)) {
			assert_int_equal(rc, KLAB_OK);
			assert_int_equal(out.len, prefix);
			assert_memory_equal(out.data, orig, prefix);
			continue;
		}
		/* a cut inside the 8-byte magic reads as a raw block whose preamble
		 * (82 53: 10626 bytes) may pass the limit */
		if (c == COMPRESSION_SNAPPY && t < 8 && rc == KLAB_ETOOLARGE)
			continue;
		if (rc != KLAB_ECORRUPT)
			fail_msg("%s cut at %zu of %zu: %s", compression_name(c), t, z->len,
				 klab_strerror(rc));
	}
	buf_free(&out);
}

/*
 * Every truncation point of a small stream, and of a multi-block one (2
 * lz4 blocks, 3 xerial blocks) the first and last 64 and a seeded sample.
 */
static void
test_compress_every_truncation_is_corrupt(void **state)
{
	const size_t big = 70000;
	uint8_t *json = make_json(big, 8);
	size_t *points = malloc(sizeof(size_t) * 16384);
	struct tu_rng r;
	struct buf z;

	(void)state;
	assert_non_null(points);
	tu_rng_init(&r, tu_seed(9));
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		size_t n = 0;

		compress_into((enum compression)c, json, 3000, &z);
		assert_true(z.len < 16384);
		for (size_t t = 0; t < z.len; t++)
			points[n++] = t;
		truncate_at((enum compression)c, &z, json, 3000, points, n);
		buf_free(&z);
		compress_into((enum compression)c, json, big, &z);
		for (n = 0; n < 64; n++) {
			points[n] = n;
			points[64 + n] = z.len - 1 - n;
		}
		for (n = 128; n < 128 + 400; n++)
			points[n] = tu_rng_below(&r, z.len);
		truncate_at((enum compression)c, &z, json, big, points, n);
		buf_free(&z);
	}
	free(points);
	free(json);
}

/*
 * Seeded single-bit flips.  Whatever the bytes, the decoder answers OK,
 * ECORRUPT or ETOOLARGE, leaves nothing behind when it refuses, and
 * reads nothing it was not given.  gzip checks its content, so a flip it
 * accepts must be one that changed nothing; lz4, snappy and zstd frames
 * as Kafka writes them have no checksum and may decode a flip into other
 * bytes: the batch CRC-32C is what catches those (the batch tests below).
 */
static void
test_compress_bit_flips_never_crash_and_gzip_catches_all(void **state)
{
	const size_t n = 70000;
	uint8_t *json = make_json(n, 10);
	struct tu_rng r;
	struct buf z, out;

	(void)state;
	tu_rng_init(&r, tu_seed(11));
	buf_init(&out);
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		int refused = 0, changed = 0;

		compress_into((enum compression)c, json, n, &z);
		for (int i = 0; i < 600; i++) {
			size_t pos = tu_rng_below(&r, z.len);
			uint8_t bit = (uint8_t)(1u << tu_rng_below(&r, 8));
			int rc;

			z.data[pos] ^= bit;
			rc = decompress_exact((enum compression)c, z.data, z.len, n, &out);
			z.data[pos] ^= bit;
			if (rc == KLAB_OK && (out.len != n || memcmp(out.data, json, n) != 0))
				changed++;
			else if (rc != KLAB_OK)
				refused++;
			assert_true(rc == KLAB_OK || rc == KLAB_ECORRUPT || rc == KLAB_ETOOLARGE);
		}
		print_message("  %-6s 600 bit flips: %3d refused, %3d decoded to other bytes\n",
			      compression_name((enum compression)c), refused, changed);
		if (c == COMPRESSION_GZIP)
			assert_int_equal(changed, 0);
		buf_free(&z);
	}
	buf_free(&out);
	free(json);
}

/* Checksummed lz4 and zstd frames (other producers may send them): flips are caught. */
static void
test_compress_checksummed_frames_catch_every_flip(void **state)
{
	const size_t n = 20000;
	uint8_t *json = make_json(n, 12);
	LZ4F_frameInfo_t fi = { .blockMode = LZ4F_blockIndependent,
				.contentChecksumFlag = LZ4F_contentChecksumEnabled };
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	struct buf z[2], out;
	struct tu_rng r;

	(void)state;
	tu_rng_init(&r, tu_seed(13));
	lz4_frame(json, n, &fi, &z[0]);
	buf_init(&z[1]);
	assert_true(buf_reserve(&z[1], ZSTD_compressBound(n)));
	assert_non_null(cc);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
	z[1].len = ZSTD_compress2(cc, z[1].data, z[1].cap, json, n);
	assert_false(ZSTD_isError(z[1].len));
	assert_true((z[1].data[4] & 0x04) != 0); /* Content_Checksum_flag */
	ZSTD_freeCCtx(cc);
	buf_init(&out);
	for (int k = 0; k < 2; k++) {
		enum compression c = k == 0 ? COMPRESSION_LZ4 : COMPRESSION_ZSTD;

		assert_int_equal(decompress_exact(c, z[k].data, z[k].len, n, &out), KLAB_OK);
		for (int i = 0; i < 400; i++) {
			size_t pos = tu_rng_below(&r, z[k].len);
			uint8_t bit = (uint8_t)(1u << tu_rng_below(&r, 8));
			int rc;

			z[k].data[pos] ^= bit;
			rc = decompress_exact(c, z[k].data, z[k].len, n, &out);
			z[k].data[pos] ^= bit;
			if (rc == KLAB_OK) { /* e.g. a larger window that changes nothing */
				assert_int_equal(out.len, n);
				assert_memory_equal(out.data, json, n);
			} else {
				assert_true(rc == KLAB_ECORRUPT || rc == KLAB_ETOOLARGE);
			}
		}
		buf_free(&z[k]);
	}
	buf_free(&out);
	free(json);
}

/* Random bytes, with and without each codec's magic in front. */
static void
test_compress_garbage_never_crashes(void **state)
{
	static const uint8_t magic[][8] = { { 0x1f, 0x8b, 0x08, 0 },
					    { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 },
					    { 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82 },
					    { 0x28, 0xb5, 0x2f, 0xfd } };
	static const size_t magic_len[] = { 4, 8, 7, 4 };
	uint8_t junk[400];
	struct tu_rng r;
	struct buf out;

	(void)state;
	tu_rng_init(&r, tu_seed(14));
	buf_init(&out);
	for (int i = 0; i < 8000; i++) {
		int c = 1 + (int)tu_rng_below(&r, 4);
		size_t n = tu_rng_below(&r, sizeof(junk)), m = 0;
		int rc;

		for (size_t j = 0; j < n; j++)
			junk[j] = (uint8_t)tu_rng_next(&r);
		if (i % 2 == 0 && n >= magic_len[c - 1]) {
			m = magic_len[c - 1];
			memcpy(junk, magic[c - 1], m);
		}
		rc = decompress_exact((enum compression)c, junk, n, 4096, &out);
		assert_true(rc == KLAB_OK || rc == KLAB_ECORRUPT || rc == KLAB_ETOOLARGE);
		assert_true(out.len <= 4096);
	}
	buf_free(&out);
}

/* ---- max_out ------------------------------------------------------------- */

static void
test_compress_max_out_is_exact(void **state)
{
	uint8_t *json = make_json(MIB, 15);
	struct buf z, out;

	(void)state;
	buf_init(&out);
	for (int c = 0; c < NCODECS; c++) {
		compress_into((enum compression)c, json, MIB, &z);
		assert_int_equal(decompress_exact((enum compression)c, z.data, z.len, MIB, &out),
				 KLAB_OK);
		assert_int_equal(
			decompress_exact((enum compression)c, z.data, z.len, MIB - 1, &out),
			KLAB_ETOOLARGE);
		assert_int_equal(decompress_exact((enum compression)c, z.data, z.len, 0, &out),
				 KLAB_ETOOLARGE);
		buf_free(&z);
	}
	buf_free(&out);
	free(json);
}

/* 64 MiB of zeros against a 1 MiB limit: refused without spending 64 MiB. */
static void
test_compress_bombs_stop_at_max_out(void **state)
{
	const size_t big = 64 * (size_t)MIB;
	uint8_t *zeros = calloc(big, 1);
	size_t rlen = snappy_max_compressed_length(big);
	struct buf z, out;

	(void)state;
	assert_non_null(zeros);
	for (int c = COMPRESSION_GZIP; c < NCODECS + 1; c++) {
		if (c == NCODECS) { /* a raw snappy block: one preamble says 64 MiB */
			buf_init(&z);
			assert_true(buf_reserve(&z, rlen));
			assert_int_equal(
				snappy_compress((const char *)zeros, big, (char *)z.data, &rlen),
				SNAPPY_OK);
			z.len = rlen;
		} else {
			compress_into((enum compression)c, zeros, big, &z);
		}
		buf_init(&out);
		assert_int_equal(
			decompress_block(c == NCODECS ? COMPRESSION_SNAPPY : (enum compression)c,
					 z.data, z.len, MIB, &out),
			KLAB_ETOOLARGE);
		assert_int_equal(out.len, 0);
		assert_true(out.cap <= 4 * (size_t)MIB);
		buf_free(&out);
		buf_free(&z);
	}
	free(zeros);
}

/* ---- batches ------------------------------------------------------------- */

/* A batch of n JSON records with keys, a null key every 5th, and a header. */
static void
make_batch(struct buf *b, int n, int16_t attributes)
{
	static const uint8_t hk[] = "trace", hv[] = "0af7651916cd43dd";
	uint8_t *json = make_json((size_t)n * 130, 16);
	struct kv hdr = { hk, 5, hv, 16 };
	struct batch_builder bb;
	char key[32];

	buf_init(b);
	batch_builder_begin(&bb, b, 0, T0, attributes);
	for (int i = 0; i < n; i++) {
		struct record_in r = { { (const uint8_t *)key, 0, json + i * 100, 100 },
				       T0 + i,
				       &hdr,
				       (size_t)(i % 3 == 0) };

		r.kv.key_len = snprintf(key, sizeof(key), "user-%d", i % 50);
		if (i % 5 == 4)
			r.kv = (struct kv){ NULL, -1, json + i * 100, 100 };
		batch_builder_add(&bb, &r);
	}
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
	free(json);
}

static void
test_compress_batch_round_trip_is_byte_identical(void **state)
{
	static const int16_t attrs[] = { 0, BATCH_ATTR_LOG_APPEND_TIME | BATCH_ATTR_TRANSACTIONAL };
	struct batch_header h, hc;
	struct buf b, z, back;

	(void)state;
	for (size_t a = 0; a < 2; a++) {
		make_batch(&b, 200, attrs[a]);
		assert_int_equal(batch_validate(b.data, b.len, &h, NULL), KLAB_OK);
		for (int c = 0; c < NCODECS; c++) {
			buf_init(&z);
			buf_init(&back);
			assert_int_equal(batch_compress(b.data, b.len, (enum compression)c, &z),
					 KLAB_OK);
			assert_int_equal(batch_validate(z.data, z.len, &hc, NULL), KLAB_OK);
			assert_int_equal(hc.attributes, attrs[a] | c);
			assert_int_equal(hc.length, (int32_t)(z.len - BATCH_LOG_OVERHEAD));
			assert_memory_equal(z.data, b.data, 8);		  /* baseOffset */
			assert_memory_equal(z.data + 12, b.data + 12, 5); /* epoch, magic */
			assert_memory_equal(z.data + 23, b.data + 23,
					    38); /* lastOffsetDelta .. count */
			if (c != COMPRESSION_NONE)
				assert_true(z.len < b.len / 2);
			assert_int_equal(batch_decompress(z.data, z.len, MIB, &back), KLAB_OK);
			assert_int_equal(back.len, b.len);
			assert_memory_equal(back.data, b.data, b.len);
			buf_free(&z);
			buf_free(&back);
		}
		buf_free(&b);
	}
}

/* After batch_decompress, record_iter walks the records the builder wrote. */
static void
test_compress_batch_records_iterate_after_decompress(void **state)
{
	struct batch_header h;
	struct record rec;
	struct record_iter it;
	struct buf b, z, back;
	char key[32];
	int n = 0;

	(void)state;
	make_batch(&b, 50, 0);
	buf_init(&z);
	buf_init(&back);
	assert_int_equal(batch_compress(b.data, b.len, COMPRESSION_ZSTD, &z), KLAB_OK);
	assert_int_equal(batch_decompress(z.data, z.len, MIB, &back), KLAB_OK);
	assert_int_equal(batch_validate(back.data, back.len, &h, NULL), KLAB_OK);
	record_iter_init(&it, back.data, back.len, &h);
	while (record_iter_next(&it, &rec) == 1) {
		assert_int_equal(rec.offset_delta, n);
		assert_true(rec.timestamp == T0 + n);
		assert_int_equal(rec.kv.value_len, 100);
		if (n % 5 == 4) {
			assert_int_equal(rec.kv.key_len, -1);
		} else {
			snprintf(key, sizeof(key), "user-%d", n % 50);
			assert_int_equal(rec.kv.key_len, (int32_t)strlen(key));
			assert_memory_equal(rec.kv.key, key, strlen(key));
		}
		n++;
	}
	assert_int_equal(n, 50);
	buf_free(&b);
	buf_free(&z);
	buf_free(&back);
}

/* Every byte the CRC covers, flipped in a compressed batch: refused. */
static void
test_compress_batch_crc_catches_every_flip(void **state)
{
	struct tu_rng r;
	struct buf b, z, back;

	(void)state;
	tu_rng_init(&r, tu_seed(17));
	make_batch(&b, 20, 0);
	buf_init(&back);
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		buf_init(&z);
		assert_int_equal(batch_compress(b.data, b.len, (enum compression)c, &z), KLAB_OK);
		for (size_t pos = 0; pos < z.len; pos++) {
			uint8_t bit = (uint8_t)(1u << tu_rng_below(&r, 8));
			uint8_t *copy = dup_exact(z.data, z.len);
			int rc;

			copy[pos] ^= bit;
			buf_reset(&back);
			rc = batch_decompress(copy, z.len, MIB, &back);
			free(copy);
			if (pos < 8 ||
			    (pos >= 12 && pos < 16)) /* baseOffset, epoch: outside the CRC */
				assert_int_equal(rc, KLAB_OK);
			else
				assert_true(rc == KLAB_ECORRUPT ||
					    (pos < 12 && rc == KLAB_ETRUNCATED));
			if (rc != KLAB_OK)
				assert_int_equal(back.len, 0);
		}
		buf_free(&z);
	}
	buf_free(&b);
	buf_free(&back);
}

/*
 * The same flips with the CRC recomputed, as a buggy producer would send
 * them: whatever comes back OK is a valid batch whose records match the
 * header (invariant 5), walked here independently.
 */
static void
test_compress_batch_flips_with_fixed_crc_stay_valid_or_refused(void **state)
{
	struct tu_rng r;
	struct buf b, z, back;

	(void)state;
	tu_rng_init(&r, tu_seed(18));
	make_batch(&b, 20, 0);
	buf_init(&back);
	for (int c = COMPRESSION_GZIP; c < NCODECS; c++) {
		buf_init(&z);
		assert_int_equal(batch_compress(b.data, b.len, (enum compression)c, &z), KLAB_OK);
		for (int i = 0; i < 300; i++) {
			size_t pos =
				BATCH_HEADER_SIZE + tu_rng_below(&r, z.len - BATCH_HEADER_SIZE);
			uint8_t *copy = dup_exact(z.data, z.len);
			struct batch_header h;
			struct record_iter it;
			struct record rec;
			int rc, k = 0;

			copy[pos] ^= (uint8_t)(1u << tu_rng_below(&r, 8));
			be32_write(copy + BATCH_CRC_OFFSET, batch_compute_crc(copy, z.len));
			buf_reset(&back);
			rc = batch_decompress(copy, z.len, MIB, &back);
			free(copy);
			assert_true(rc == KLAB_OK || rc == KLAB_ECORRUPT || rc == KLAB_ETOOLARGE);
			if (rc != KLAB_OK)
				continue;
			assert_int_equal(batch_header_parse(back.data, back.len, &h), KLAB_OK);
			record_iter_init(&it, back.data, back.len, &h);
			while ((rc = record_iter_next(&it, &rec)) == 1)
				k++;
			assert_int_equal(rc, 0);
			assert_int_equal(k, 20);
		}
		buf_free(&z);
	}
	buf_free(&b);
	buf_free(&back);
}

/* recordCount or lastOffsetDelta that the records do not match; codec ids 5-7. */
static void
test_compress_batch_refuses_lying_headers(void **state)
{
	struct buf b, z, back;

	(void)state;
	make_batch(&b, 10, 0);
	buf_init(&z);
	buf_init(&back);
	assert_int_equal(batch_compress(b.data, b.len, COMPRESSION_LZ4, &z), KLAB_OK);
	for (int edit = 0; edit < 5; edit++) {
		uint8_t *copy = dup_exact(z.data, z.len);

		if (edit == 0)
			be32_write(copy + 57, 11); /* recordCount */
		else if (edit == 1)
			be32_write(copy + 23, 10); /* lastOffsetDelta */
		else
			be16_write(copy + 21, (uint16_t)(5 + edit - 2)); /* codec 5, 6, 7 */
		be32_write(copy + BATCH_CRC_OFFSET, batch_compute_crc(copy, z.len));
		assert_int_equal(batch_decompress(copy, z.len, MIB, &back), KLAB_ECORRUPT);
		assert_int_equal(back.len, 0);
		free(copy);
	}
	buf_free(&b);
	buf_free(&z);
	buf_free(&back);
}

static void
test_compress_batch_argument_errors(void **state)
{
	struct buf b, z, zz, back;

	(void)state;
	make_batch(&b, 10, 0);
	buf_init(&z);
	buf_init(&zz);
	buf_init(&back);
	assert_int_equal(batch_compress(b.data, b.len, COMPRESSION_GZIP, &z), KLAB_OK);
	assert_int_equal(batch_compress(z.data, z.len, COMPRESSION_GZIP, &zz), KLAB_EINVAL);
	assert_int_equal(batch_compress(b.data, b.len, (enum compression)5, &zz), KLAB_EINVAL);
	assert_int_equal(batch_compress(b.data, b.len - 1, COMPRESSION_GZIP, &zz), KLAB_ETRUNCATED);
	b.data[70] ^= 1; /* bad CRC */
	assert_int_equal(batch_compress(b.data, b.len, COMPRESSION_GZIP, &zz), KLAB_ECORRUPT);
	b.data[70] ^= 1;
	assert_int_equal(zz.len, 0);
	/* max_out bounds the records section: */
	assert_int_equal(batch_decompress(z.data, z.len, b.len - BATCH_HEADER_SIZE - 1, &back),
			 KLAB_ETOOLARGE);
	assert_int_equal(back.len, 0);
	assert_int_equal(batch_decompress(z.data, z.len, b.len - BATCH_HEADER_SIZE, &back),
			 KLAB_OK);
	buf_reset(&back);
	assert_int_equal(batch_decompress(b.data, b.len, MIB, &back),
			 KLAB_OK); /* uncompressed: a copy */
	assert_memory_equal(back.data, b.data, b.len);
	buf_free(&b);
	buf_free(&z);
	buf_free(&zz);
	buf_free(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress_parse_and_name_kafka_spellings),
		cmocka_unit_test(test_compress_round_trip_every_codec_every_input),
		cmocka_unit_test(test_compress_ratio_on_repetitive_json_below_0_2),
		cmocka_unit_test(test_compress_appends_after_existing_bytes),
		cmocka_unit_test(test_compress_magic_bytes_of_each_codec),
		cmocka_unit_test(test_compress_lz4_is_byte_exact_with_java),
		cmocka_unit_test(test_compress_snappy_is_byte_exact_with_java),
		cmocka_unit_test(test_compress_snappy_blocks_are_32k_of_input),
		cmocka_unit_test(test_compress_snappy_reads_raw_blocks),
		cmocka_unit_test(test_compress_snappy_reads_any_xerial_blocking),
		cmocka_unit_test(test_compress_reads_frames_other_tools_wrote),
		cmocka_unit_test(test_compress_lz4_accepts_and_refuses_what_kafka_does),
		cmocka_unit_test(test_compress_lz4_refuses_the_pre_kip57_header_checksum),
		cmocka_unit_test(test_compress_gzip_members_and_zstd_frames_concatenate),
		cmocka_unit_test(test_compress_trailing_bytes_are_corrupt),
		cmocka_unit_test(test_compress_unknown_codec_ids),
		cmocka_unit_test(test_compress_every_truncation_is_corrupt),
		cmocka_unit_test(test_compress_bit_flips_never_crash_and_gzip_catches_all),
		cmocka_unit_test(test_compress_checksummed_frames_catch_every_flip),
		cmocka_unit_test(test_compress_garbage_never_crashes),
		cmocka_unit_test(test_compress_max_out_is_exact),
		cmocka_unit_test(test_compress_bombs_stop_at_max_out),
		cmocka_unit_test(test_compress_batch_round_trip_is_byte_identical),
		cmocka_unit_test(test_compress_batch_records_iterate_after_decompress),
		cmocka_unit_test(test_compress_batch_crc_catches_every_flip),
		cmocka_unit_test(test_compress_batch_flips_with_fixed_crc_stay_valid_or_refused),
		cmocka_unit_test(test_compress_batch_refuses_lying_headers),
		cmocka_unit_test(test_compress_batch_argument_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
