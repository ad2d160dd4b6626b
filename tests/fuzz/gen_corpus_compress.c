/*
 * gen_corpus_compress.c - writes the seed inputs of fuzz_decompress.c.
 *
 *   cc -std=c17 -D_GNU_SOURCE -Isrc -O2 tests/fuzz/gen_corpus_compress.c \
 *      build/bench/ch1/libklab.a -o build/fuzz/gen_corpus_compress \
 *      -lz -lsnappy -llz4 -lzstd -lpthread
 *   build/fuzz/gen_corpus_compress tests/fuzz/corpus
 *
 * A fuzzer that starts from nothing spends its time guessing magic
 * numbers and checksums; one that starts from real streams spends it in
 * the decoders.  For every codec this writes a few streams klab itself
 * makes (empty, tiny, a few KiB, and one long enough for several lz4 and
 * xerial blocks), the variants other clients send (raw snappy as
 * librdkafka writes it, lz4 and zstd frames with checksums, two gzip
 * members), and compressed batches for step 4 of the target (byte 0 with
 * bit 7 set).  Each file is byte 0 (the codec id, fuzz_decompress.c) and
 * the stream.  The output is deterministic; files are only written, never
 * deleted, so minimized crash inputs kept as regress-* stay.
 */
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/err.h"
#include "log/batch.h"
#include "log/compress.h"

#define T0 1700000000000LL

static const char *out_root;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
put_file(const char *name, uint8_t first, const uint8_t *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fuzz_decompress", out_root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/fuzz_decompress/%s", out_root, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(&first, 1, 1, f) != 1 ||
	    (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die(path);
	printf("  %-60s %6zu bytes\n", path, n + 1);
}

/* n bytes of JSON lines, always the same ones. */
static uint8_t *
json(size_t n)
{
	uint8_t *p = malloc(n + 256);
	size_t len = 0;

	if (p == NULL)
		die("malloc");
	for (int i = 0; len < n; i++)
		len += (size_t)snprintf((char *)p + len, 256,
					"{\"id\":%d,\"user\":\"user-%d\",\"event\":\"%s\"}\n", i,
					(i * 7) % 23, i % 3 ? "click" : "page_view");
	return p;
}

static void
put_block(const char *name, enum compression c, const uint8_t *in, size_t n)
{
	char full[256];
	struct buf z;

	buf_init(&z);
	if (compress_block(c, in, n, &z) != KLAB_OK)
		die("compress_block");
	snprintf(full, sizeof(full), "%s-%s", compression_name(c), name);
	put_file(full, (uint8_t)c, z.data, z.len);
	buf_free(&z);
}

/* A batch of 3 JSON records, compressed with c; byte 0 asks for step 4. */
static void
put_batch(enum compression c, const uint8_t *vals)
{
	static const uint8_t hk[] = "trace";
	struct kv hdr = { hk, 5, hk, 5 };
	struct batch_builder bb;
	struct buf b, z;
	char name[64];

	buf_init(&b);
	buf_init(&z);
	batch_builder_begin(&bb, &b, 0, T0, 0);
	for (int i = 0; i < 3; i++) {
		struct record_in r = { { vals + 40 * i, 4, vals + 40 * i, 40 }, T0 + i, &hdr, 1 };

		if (i == 2) {
			r.kv.key = NULL;
			r.kv.key_len = -1;
		}
		batch_builder_add(&bb, &r);
	}
	if (batch_builder_finish(&bb) != KLAB_OK || batch_compress(b.data, b.len, c, &z) != KLAB_OK)
		die("batch");
	snprintf(name, sizeof(name), "batch-%s", compression_name(c));
	put_file(name, (uint8_t)(0x80 | c), z.data, z.len);
	buf_free(&b);
	buf_free(&z);
}

static void
put_lz4_variant(const char *name, const uint8_t *in, size_t n, LZ4F_frameInfo_t fi)
{
	LZ4F_preferences_t prefs = { 0 };
	size_t bound, got;
	uint8_t *p;

	prefs.frameInfo = fi;
	bound = LZ4F_compressFrameBound(n, &prefs);
	if ((p = malloc(bound)) == NULL)
		die("malloc");
	got = LZ4F_compressFrame(p, bound, in, n, &prefs);
	if (LZ4F_isError(got))
		die("LZ4F_compressFrame");
	put_file(name, COMPRESSION_LZ4, p, got);
	free(p);
}

/* What other clients send: raw snappy, checksummed frames, two gzip members. */
static void
put_variants(const uint8_t *j)
{
	size_t slen = snappy_max_compressed_length(2000), zlen = ZSTD_compressBound(2000);
	uint8_t *s = malloc(slen), *zs = malloc(zlen);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	struct buf g;

	if (s == NULL || zs == NULL || cc == NULL)
		die("malloc");
	if (snappy_compress((const char *)j, 2000, (char *)s, &slen) != SNAPPY_OK)
		die("snappy_compress");
	put_file("snappy-raw-2k", COMPRESSION_SNAPPY, s, slen);
	put_lz4_variant("lz4-content-checksum-2k", j, 2000,
			(LZ4F_frameInfo_t){ .blockMode = LZ4F_blockIndependent,
					    .contentChecksumFlag = LZ4F_contentChecksumEnabled });
	put_lz4_variant("lz4-block-checksum-content-size-2k", j, 2000,
			(LZ4F_frameInfo_t){ .blockMode = LZ4F_blockIndependent,
					    .blockChecksumFlag = LZ4F_blockChecksumEnabled,
					    .contentSize = 2000 });
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	zlen = ZSTD_compress2(cc, zs, zlen, j, 2000);
	if (ZSTD_isError(zlen))
		die("ZSTD_compress2");
	put_file("zstd-checksum-2k", COMPRESSION_ZSTD, zs, zlen);
	buf_init(&g);
	if (compress_block(COMPRESSION_GZIP, j, 100, &g) != KLAB_OK ||
	    compress_block(COMPRESSION_GZIP, j + 100, 100, &g) != KLAB_OK)
		die("gzip");
	put_file("gzip-two-members", COMPRESSION_GZIP, g.data, g.len);
	buf_free(&g);
	ZSTD_freeCCtx(cc);
	free(s);
	free(zs);
}

int
main(int argc, char **argv)
{
	uint8_t *j;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus_compress CORPUS_DIR\n");
		return 2;
	}
	out_root = argv[1];
	mkdir(out_root, 0755);
	j = json(70000);
	for (int c = COMPRESSION_NONE; c <= COMPRESSION_ZSTD; c++) {
		put_block("empty", (enum compression)c, NULL, 0);
		put_block("hello", (enum compression)c, (const uint8_t *)"hello, kafka", 12);
		put_block("json-2k", (enum compression)c, j, 2000);
		if (c != COMPRESSION_NONE)
			put_block("json-70k", (enum compression)c, j, 70000);
		put_batch((enum compression)c, j);
	}
	put_variants(j);
	put_file("codec5-junk", 5, (const uint8_t *)"junk", 4);
	free(j);
	return 0;
}
