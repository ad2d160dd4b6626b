/*
 * gen_corpus.c - writes the seed inputs of the fuzz targets.
 *
 *   tools/fuzz.sh corpus      (builds this against build/bench/ch1/libklab.a
 *                              and runs it as: gen_corpus tests/fuzz/corpus)
 *
 * A fuzzer that starts from nothing spends its time learning the magic
 * byte and the CRC; one that starts from a few real batches and segments
 * spends it on the parsers.  This program builds those starting points
 * with klab's own builder and log, and a few broken ones beside them (torn,
 * bad CRC, bad magic, offsets going backwards) so recovery's cutting paths
 * are covered from the first run.
 *
 * The output is deterministic (fixed timestamps and contents), so
 * regenerating changes no file unless the formats changed.  Files are
 * only written, never deleted: a minimized crash input kept in the corpus
 * as a regression (regress-*) stays.
 *
 *   corpus/fuzz_batch/<name>     one RecordBatch, as fuzz_batch.c reads it
 *   corpus/fuzz_segment/<name>   3 header bytes, .index, .timeindex, .log
 *                                (the layout fuzz_segment.c describes)
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "log/batch.h"
#include "log/log.h"
#include "net/disk_real.h"

#define T0 1700000000000LL /* every timestamp is T0 plus a little */

static const char *out_root;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
put_file(const char *sub, const char *name, const uint8_t *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_root, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", out_root, sub, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
	printf("  %-60s %6zu bytes\n", path, n);
}

/*
 * Append to out a batch of count records at base_offset: record i has key
 * "k<i>" (null when i % 4 == 3), a value of value_len bytes, and headers
 * headers.
 */
static void
add_batch(struct buf *out, int64_t base_offset, int count, int value_len, int headers,
	  int16_t attributes)
{
	static const uint8_t hv[] = "trace-id";
	struct batch_builder bb;
	struct kv hdr[2] = { { hv, 5, hv, 8 }, { hv, 2, NULL, -1 } };
	uint8_t value[1024], key[16];

	for (int i = 0; i < (int)sizeof(value); i++)
		value[i] = (uint8_t)('a' + i % 26);
	batch_builder_begin(&bb, out, base_offset, T0 + base_offset, attributes);
	for (int i = 0; i < count; i++) {
		struct record_in r = {
			{ key, 0, value, value_len }, T0 + base_offset + i, hdr, (size_t)headers
		};

		r.kv.key_len = snprintf((char *)key, sizeof(key), "k%d", i);
		if (i % 4 == 3)
			r.kv = (struct kv){ NULL, -1, i % 8 == 7 ? NULL : value,
					    i % 8 == 7 ? -1 : 0 };
		batch_builder_add(&bb, &r);
	}
	if (batch_builder_finish(&bb) != KLAB_OK)
		die("batch_builder_finish");
}

static void
put_batch(const char *name, int count, int value_len, int headers, int16_t attributes)
{
	struct buf b;

	buf_init(&b);
	add_batch(&b, 0, count, value_len, headers, attributes);
	put_file("fuzz_batch", name, b.data, b.len);
	buf_free(&b);
}

/* A valid batch, changed by one edit; crc: recompute the CRC after. */
static void
put_broken_batch(const char *name, size_t at, uint8_t byte, size_t cut, bool crc)
{
	struct buf b;

	buf_init(&b);
	add_batch(&b, 0, 3, 10, 1, 0);
	if (at < b.len)
		b.data[at] = byte;
	if (crc)
		be32_write(b.data + BATCH_CRC_OFFSET, batch_compute_crc(b.data, b.len));
	put_file("fuzz_batch", name, b.data, cut < b.len ? cut : b.len);
	buf_free(&b);
}

static void
batch_corpus(void)
{
	put_batch("valid-1-record", 1, 5, 0, 0);
	put_batch("valid-3-records", 3, 10, 0, 0);
	put_batch("valid-headers", 4, 3, 2, 0);
	put_batch("valid-null-and-empty", 8, 0, 1, 0);
	put_batch("valid-100-records", 100, 20, 0, 0);
	put_batch("valid-1k-value", 2, 1024, 0, 0);
	put_batch("valid-gzip-attribute", 2, 10, 0, 1);
	put_batch("valid-logappendtime-txn", 2, 10, 0, BATCH_ATTR_LOG_APPEND_TIME | 0x10);
	put_broken_batch("bad-crc", 70, 'X', SIZE_MAX, false);
	put_broken_batch("bad-magic", 16, 1, SIZE_MAX, false);
	put_broken_batch("truncated-header", 0, 0, 30, false);
	put_broken_batch("truncated-records", 0, 0, 80, false);
	put_broken_batch("bad-last-offset-delta", 26, 7, SIZE_MAX, true);
	put_broken_batch("bad-record-length", BATCH_HEADER_SIZE, 0x7f, SIZE_MAX, true);
	put_broken_batch("bad-batch-length", 11, 0xff, SIZE_MAX, false);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
slurp(const char *dir, const char *suffix, struct buf *out)
{
	char path[1024];
	uint8_t chunk[4096];
	ssize_t got;
	int fd;

	segment_file_name(path, sizeof(path), dir, 0, suffix);
	if ((fd = open(path, O_RDONLY)) < 0)
		die(path);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		buf_put(out, chunk, (size_t)got);
	close(fd);
}

/*
 * A real segment: `batches` batches appended through log_append() with
 * log.index.interval.bytes = interval, the log closed cleanly, and its
 * three files read back into *seg (.log), *ix and *tix.
 */
static void
real_segment(int batches, int interval, struct buf *seg, struct buf *ix, struct buf *tix)
{
	char dir[] = "/tmp/klab-gen-corpus.XXXXXX", sub[64];
	struct log_config cfg;
	struct log *l;
	struct buf b;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(sub, sizeof(sub), "%s/t-0", dir);
	log_config_defaults(&cfg);
	cfg.index_interval_bytes = interval;
	if (log_open(&l, disk_real(), sub, &cfg, 0, 0, false, T0, NULL) != KLAB_OK)
		die("log_open");
	buf_init(&b);
	for (int i = 0; i < batches; i++) {
		buf_reset(&b);
		add_batch(&b, 0, 1 + i % 5, 8 + 16 * (i % 3), i % 2, 0);
		if (log_append(l, b.data, b.len, T0 + i, NULL, NULL) != KLAB_OK)
			die("log_append");
	}
	buf_free(&b);
	if (log_close(l) != KLAB_OK)
		die("log_close");
	slurp(sub, ".log", seg);
	slurp(sub, ".index", ix);
	slurp(sub, ".timeindex", tix);
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Pack header bytes, index files (dropped when longer than 255) and log. */
static void
put_segment(const char *name, uint8_t flags, const struct buf *ix, const struct buf *tix,
	    const uint8_t *log, size_t log_len)
{
	size_t n = ix && ix->len < 256 ? ix->len : 0, m = tix && tix->len < 256 ? tix->len : 0;
	uint8_t hdr[3] = { (uint8_t)n, (uint8_t)m, flags };
	struct buf out;

	buf_init(&out);
	buf_put(&out, hdr, sizeof(hdr));
	if (n > 0)
		buf_put(&out, ix->data, n);
	if (m > 0)
		buf_put(&out, tix->data, m);
	buf_put(&out, log, log_len);
	put_file("fuzz_segment", name, out.data, out.len);
	buf_free(&out);
}

/* The position of batch i in a segment. */
static size_t
batch_pos(const struct buf *seg, int i)
{
	struct batch_header h;
	size_t pos = 0;

	while (i-- > 0 && batch_header_parse(seg->data + pos, seg->len - pos, &h) == KLAB_OK)
		pos += batch_size(&h);
	return pos;
}

/* seg with one byte changed (at batch i, offset within it). */
static void
put_edited(const char *name, uint8_t flags, struct buf *seg, int i, size_t off, uint8_t byte)
{
	size_t at = batch_pos(seg, i) + off;
	uint8_t old = seg->data[at];

	seg->data[at] = byte;
	put_segment(name, flags, NULL, NULL, seg->data, seg->len);
	seg->data[at] = old;
}

/* Batches with gaps between their offsets, and a compressed one. */
static void
put_gapped(void)
{
	struct buf b;

	buf_init(&b);
	add_batch(&b, 0, 2, 10, 0, 0);
	add_batch(&b, 10, 3, 10, 0, 0);
	add_batch(&b, 100, 2, 10, 0, 1);
	add_batch(&b, 1000, 1, 10, 1, 0);
	put_segment("seg-offset-gaps-gzip-attribute", 0, NULL, NULL, b.data, b.len);
	buf_free(&b);
}

/* Index files that fail index_open's check: recovery must rebuild them. */
static void
put_garbage_indexes(const struct buf *seg)
{
	static const uint8_t junk[] = "\x00\x00\x00\x05\x00\x00\x01\x00\x00\x00\x00\x02"
				      "\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00";
	struct buf ix, tix;

	buf_init(&ix);
	buf_init(&tix);
	buf_put(&ix, junk, 7);	 /* not a whole number of entries */
	buf_put(&tix, junk, 24); /* timestamps going down */
	put_segment("seg-garbage-index", 1 << 1, &ix, &tix, seg->data, seg->len);
	buf_free(&ix);
	buf_free(&tix);
}

static void
segment_corpus(void)
{
	struct buf seg, ix, tix;

	buf_init(&seg);
	buf_init(&ix);
	buf_init(&tix);
	put_segment("seg-empty", 0, NULL, NULL, NULL, 0);
	real_segment(3, 0, &seg, &ix, &tix);
	put_segment("seg-3-batches-indexed", 0, &ix, &tix, seg.data, seg.len);
	buf_reset(&seg);
	buf_reset(&ix);
	buf_reset(&tix);
	real_segment(20, 128, &seg, &ix, &tix);
	put_segment("seg-20-batches-interval-128", 2 << 1, &ix, &tix, seg.data, seg.len);
	put_segment("seg-20-batches-no-index", 0, NULL, NULL, seg.data, seg.len);
	put_segment("seg-torn-tail", 0, NULL, NULL, seg.data, seg.len - 40);
	put_edited("seg-bad-crc-batch-5", 0, &seg, 5, 70, 'X');
	put_edited("seg-bad-crc-fixed-by-flag", 1, &seg, 5, 70, 'X');
	put_edited("seg-bad-magic-batch-2", 0, &seg, 2, 16, 1);
	put_edited("seg-offsets-backwards-batch-3", 0, &seg, 3, 7, 0);
	put_garbage_indexes(&seg);
	put_gapped();
	buf_free(&seg);
	buf_free(&ix);
	buf_free(&tix);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus CORPUS_DIR\n");
		return 2;
	}
	out_root = argv[1];
	mkdir(out_root, 0755);
	batch_corpus();
	segment_corpus();
	return 0;
}
