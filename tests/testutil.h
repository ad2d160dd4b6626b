/*
 * testutil.h - helpers shared by klab's cmocka tests (static inline, so a
 * test program includes only what it uses and nothing needs linking).
 *
 *   tu_rng_*       a seeded PRNG (splitmix64): every random test replays
 *                  from its seed, printed on failure.
 *   tu_tmpdir_*    a fresh directory under /tmp, removed afterwards.
 *   tu_file_*      whole-file read, write, size, byte flip.
 *   tu_batch_*     RecordBatch v2 test batches with recognisable contents.
 *   tu_read_all()  read a whole log back through log_read().
 *   tu_check_batches()  every batch of a byte run valid, offsets contiguous.
 */
#ifndef KLAB_TESTS_TESTUTIL_H
#define KLAB_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "log/segment.h"

/* ---- PRNG ---------------------------------------------------------------- */

struct tu_rng {
	uint64_t s;
};

static inline void
tu_rng_init(struct tu_rng *r, uint64_t seed)
{
	r->s = seed;
}

static inline uint64_t
tu_rng_next(struct tu_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0; the bias is irrelevant for tests). */
static inline uint64_t
tu_rng_below(struct tu_rng *r, uint64_t n)
{
	return tu_rng_next(r) % n;
}

/* The seed: $KLAB_SEED when set, else def. */
static inline uint64_t
tu_seed(uint64_t def)
{
	const char *s = getenv("KLAB_SEED");

	if (s != NULL && *s != '\0')
		return strtoull(s, NULL, 0);
	return def;
}

/*
 * A check in a seeded simulated test: on failure print the caller's
 * message, then fail naming the condition and how to replay the run.
 */
#define TU_CHECK_SEED(seed, cond, ...)                                                        \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			print_error(__VA_ARGS__);                                             \
			fail_msg("%s (reproduce with KLAB_SEED=%" PRIu64 ")", #cond, (seed)); \
		}                                                                             \
	} while (0)

/* ---- temporary directories ---------------------------------------------- */

static inline void
tu_tmpdir_make(char *out, size_t n)
{
	snprintf(out, n, "/tmp/klab-test-XXXXXX");
	assert_non_null(mkdtemp(out));
}

static inline int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
tu_tmpdir_remove(const char *path)
{
	if (path == NULL || strncmp(path, "/tmp/klab-test-", 15) != 0)
		return; /* never remove anything but our own directories */
	nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- files --------------------------------------------------------------- */

static inline bool
tu_file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static inline long long
tu_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (long long)st.st_size;
}

/* The whole file, NUL-terminated (not counted in *len); NULL when absent. */
static inline uint8_t *
tu_file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = 0;
	if (len != NULL)
		*len = (size_t)n;
	return p;
}

static inline void
tu_file_write(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len > 0)
		assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline void
tu_file_truncate(const char *path, long long len)
{
	assert_int_equal(truncate(path, (off_t)len), 0);
}

/* XOR the byte at pos with mask (mask != 0). */
static inline void
tu_file_flip(const char *path, long long pos, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)pos), 1);
	b ^= mask;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)pos), 1);
	close(fd);
}

/* ---- batches -------------------------------------------------------------- */

/* The i-th value byte of record rec in a batch tagged tag. */
static inline uint8_t
tu_value_byte(uint32_t tag, int rec, size_t i)
{
	return (uint8_t)(tag * 31u + (uint32_t)rec * 7u + (uint32_t)i);
}

/*
 * Append to out a batch of nrec records (key "k<tag>.<i>", value_len bytes
 * of tu_value_byte, timestamps ts0, ts0+1, ...), with baseOffset 0 as a
 * producer sends it.  Returns where in out the batch starts.
 */
static inline size_t
tu_batch_add(struct buf *out, int nrec, int64_t ts0, size_t value_len, uint32_t tag)
{
	struct batch_builder bb;
	size_t start = out->len;
	uint8_t *val = malloc(value_len + 1);
	char key[32];

	assert_non_null(val);
	batch_builder_begin(&bb, out, 0, ts0, 0);
	for (int i = 0; i < nrec; i++) {
		struct record_in r = { 0 };
		int klen = snprintf(key, sizeof(key), "k%u.%d", tag, i);

		for (size_t j = 0; j < value_len; j++)
			val[j] = tu_value_byte(tag, i, j);
		r.kv.key = (const uint8_t *)key;
		r.kv.key_len = klen;
		r.kv.value = val;
		r.kv.value_len = (int32_t)value_len;
		r.timestamp = ts0 + i;
		batch_builder_add(&bb, &r);
	}
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
	free(val);
	return start;
}

/* Build one batch into b (reset first); returns its length. */
static inline size_t
tu_batch_make(struct buf *b, int nrec, int64_t ts0, size_t value_len, uint32_t tag)
{
	buf_reset(b);
	tu_batch_add(b, nrec, ts0, value_len, tag);
	return b->len;
}

/* Append a fresh batch to l; returns the append info (asserting success). */
static inline struct log_append_info
tu_append(struct log *l, int nrec, int64_t ts0, size_t value_len, uint32_t tag, int64_t now_ms)
{
	struct log_append_info info;
	struct kerr e = { 0 };
	struct buf b;
	int rc;

	buf_init(&b);
	tu_batch_make(&b, nrec, ts0, value_len, tag);
	rc = log_append(l, b.data, b.len, now_ms, &info, &e);
	if (rc != KLAB_OK)
		fail_msg("log_append: %s (%s)", klab_strerror(rc), kerr_msg(&e));
	buf_free(&b);
	return info;
}

/* Append a fresh batch to segment s at its next offset; returns its header. */
static inline struct batch_header
tu_seg_append(struct segment *s, int nrec, int64_t ts0, size_t value_len, uint32_t tag)
{
	struct batch_header h;
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, nrec, ts0, value_len, tag);
	batch_set_base_offset(b.data, s->next_offset);
	assert_int_equal(batch_validate(b.data, b.len, &h, NULL), KLAB_OK);
	assert_int_equal(segment_append(s, b.data, b.len, &h), KLAB_OK);
	buf_free(&b);
	return h;
}

/*
 * Walk the batches in p[0..len): each must pass batch_validate and start at
 * the offset after the previous one (the first at *next unless *next < 0).
 * Returns the number of batches; *next becomes the offset after the last.
 */
static inline int
tu_check_batches(const uint8_t *p, size_t len, int64_t *next)
{
	struct batch_header h;
	const char *why = NULL;
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		size_t rest = len - pos;
		int rc;

		assert_true(rest >= BATCH_LOG_OVERHEAD);
		rc = batch_header_parse(p + pos, rest, &h);
		assert_int_equal(rc, KLAB_OK);
		assert_true(batch_size(&h) <= rest);
		rc = batch_validate(p + pos, batch_size(&h), &h, &why);
		if (rc != KLAB_OK)
			fail_msg("batch at %zu invalid: %s", pos, why ? why : "?");
		if (*next >= 0 && h.base_offset != *next)
			fail_msg("batch at %zu has base offset %" PRId64 ", expected %" PRId64, pos,
				 h.base_offset, *next);
		*next = batch_last_offset(&h) + 1;
		pos += batch_size(&h);
		n++;
	}
	return n;
}

/*
 * Read everything from the log start to the log end into out (appending)
 * with reads of at most max_bytes.  Returns the first non-OK rc of
 * log_read (then out holds what came before) or KLAB_OK.
 */
static inline int
tu_read_all(struct log *l, size_t max_bytes, struct buf *out)
{
	int64_t off = l->log_start_offset;

	while (off < l->next_offset) {
		struct log_read_info info;
		size_t before = out->len;
		int64_t next = -1;
		int rc = log_read(l, off, max_bytes, out, &info);

		if (rc != KLAB_OK)
			return rc;
		if (info.batches == 0)
			break;
		tu_check_batches(out->data + before, out->len - before, &next);
		if (info.stopped_at_corrupt)
			return KLAB_ECORRUPT;
		off = next;
	}
	return KLAB_OK;
}

/* A log configuration for tests: Kafka's defaults, nothing flushed by count. */
static inline struct log_config
tu_log_config(void)
{
	struct log_config lc;

	log_config_defaults(&lc);
	return lc;
}

#endif
