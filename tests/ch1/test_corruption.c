/*
 * test_corruption.c - recovery against every torn tail and against flipped
 * bytes (chapter 1 §5).
 *
 * A log of 12 batches is written and closed cleanly; its files are kept in
 * memory.  Each trial restores them, damages the .log, and reopens:
 *
 *   cut at byte c (every c in the last two batches), marker removed:
 *     recovery runs; the log ends at the last whole batch below c; reads
 *     return exactly the original bytes up to there.
 *   flip a byte (seeded) in the last two batches, marker removed:
 *     recovery cuts the log at the damaged batch.
 *   the same flips with the marker present (no recovery scan):
 *     nothing crashes and log_read never returns the damaged batch, since
 *     it checks every CRC on the way out.
 *
 * Flips skip baseOffset (bytes 0-7) and partitionLeaderEpoch (12-15): by
 * Kafka's design those lie outside the CRC so the log can assign them
 * without recomputing it, and no checksum can notice them changing.
 */
#include "testutil.h"

#include "log/logdir.h"
#include "net/disk_real.h"

#define NBATCH 12
#define SEED_DEFAULT 0xC0FFEEull
#define FLIPS 150

static const char *const files[] = {
	LOGDIR_CLEAN_MARKER,
	LOGDIR_RECOVERY_CHECKPOINT,
	LOGDIR_START_CHECKPOINT,
	"t-0/00000000000000000000.log",
	"t-0/00000000000000000000.index",
	"t-0/00000000000000000000.timeindex",
};
#define NFILES (sizeof(files) / sizeof(files[0]))
#define LOG_FILE 3

struct fixture {
	char dir[64];
	uint8_t *saved[NFILES];
	size_t saved_len[NFILES];
	size_t pos[NBATCH + 1];	  /* batch i is bytes pos[i]..pos[i+1] */
	int64_t base[NBATCH + 1]; /* base[NBATCH] = the log end */
	struct log_config lc;
};

static const char *
path_of(const struct fixture *f, size_t i)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
	return p;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct logdir *d;
	struct log *l;

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	f->lc = tu_log_config();
	f->lc.index_interval_bytes = 200;
	assert_int_equal(logdir_open(&d, disk_real(), f->dir, NULL), KLAB_OK);
	assert_int_equal(logdir_log(d, "t-0", &f->lc, 0, &l, NULL), KLAB_OK);
	for (int i = 0; i < NBATCH; i++) {
		struct log_append_info a = tu_append(l, 1 + i % 4, 1000 + 10 * i,
						     20 + (size_t)(i * 29) % 90, (uint32_t)i, 0);

		f->pos[i] = a.position;
		f->base[i] = a.first_offset;
	}
	f->pos[NBATCH] = l->segs[0]->size;
	f->base[NBATCH] = l->next_offset;
	assert_int_equal(l->nsegs, 1);
	assert_true(l->segs[0]->oi.n >= 3);
	assert_int_equal(logdir_close(d), KLAB_OK);
	for (size_t i = 0; i < NFILES; i++) {
		f->saved[i] = tu_file_read(path_of(f, i), &f->saved_len[i]);
		assert_non_null(f->saved[i]);
	}
	assert_int_equal(f->saved_len[LOG_FILE], f->pos[NBATCH]);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < NFILES; i++)
		free(f->saved[i]);
	tu_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Put every file back as it was after the clean close. */
static void
restore(const struct fixture *f, bool marker)
{
	for (size_t i = 0; i < NFILES; i++)
		tu_file_write(path_of(f, i), f->saved[i], f->saved_len[i]);
	if (!marker)
		assert_int_equal(remove(path_of(f, 0)), 0);
}

/* The index of the batch holding byte position p. */
static int
batch_at(const struct fixture *f, size_t p)
{
	int i = 0;

	while (i + 1 <= NBATCH && f->pos[i + 1] <= p)
		i++;
	return i;
}

/*
 * Reopen; the log must hold exactly batches 0..keep-1, read back byte for
 * byte, with indexes that point only at them.
 */
static void
expect_recovered_to(const struct fixture *f, int keep, const char *what)
{
	struct logdir *d;
	struct log *l;
	struct buf out;
	int64_t next = 0;

	assert_int_equal(logdir_open(&d, disk_real(), f->dir, NULL), KLAB_OK);
	assert_int_equal(logdir_log(d, "t-0", &f->lc, 0, &l, NULL), KLAB_OK);
	if (l->next_offset != f->base[keep] || log_size_bytes(l) != f->pos[keep])
		fail_msg("%s: log end %" PRId64 " size %" PRIu64 ", want %" PRId64 " size %zu",
			 what, l->next_offset, log_size_bytes(l), f->base[keep], f->pos[keep]);
	assert_false(l->report.clean);
	assert_int_equal(l->report.segments_recovered, 1);
	assert_int_equal(tu_file_size(path_of(f, LOG_FILE)), (long long)f->pos[keep]);
	buf_init(&out);
	assert_int_equal(tu_read_all(l, 1000, &out), KLAB_OK);
	assert_int_equal(out.len, f->pos[keep]);
	if (keep > 0)
		assert_memory_equal(out.data, f->saved[LOG_FILE], out.len);
	assert_int_equal(tu_check_batches(out.data, out.len, &next), keep);
	for (size_t i = 0; i < l->segs[0]->oi.n; i++) {
		struct index_entry en = index_entry_at(&l->segs[0]->oi, i);
		struct batch_header h;

		assert_true(en.position < f->pos[keep]);
		assert_int_equal(segment_header_at(l->segs[0], en.position, &h), KLAB_OK);
		assert_true(batch_last_offset(&h) == en.offset);
	}
	/* the recovered log takes appends at its end */
	assert_true(tu_append(l, 1, 0, 4, 77, 0).first_offset == f->base[keep]);
	buf_free(&out);
	logdir_release(d);
}

static void
test_ch1_recovery_truncates_torn_tail_at_every_byte(void **state)
{
	struct fixture *f = *state;
	char what[64];

	for (size_t cut = f->pos[NBATCH - 2]; cut <= f->pos[NBATCH]; cut++) {
		int keep = batch_at(f, cut); /* whole batches below the cut */

		if (cut == f->pos[NBATCH])
			keep = NBATCH;
		restore(f, false);
		tu_file_truncate(path_of(f, LOG_FILE), (long long)cut);
		snprintf(what, sizeof(what), "cut at %zu", cut);
		expect_recovered_to(f, keep, what);
	}
}

/* A position inside batch b that its CRC or framing covers. */
static size_t
covered_position(const struct fixture *f, int b, struct tu_rng *r)
{
	for (;;) {
		size_t rel = (size_t)tu_rng_below(r, f->pos[b + 1] - f->pos[b]);

		if (rel >= 16 || (rel >= 8 && rel < 12))
			return f->pos[b] + rel;
	}
}

static void
test_ch1_recovery_cuts_at_flipped_byte(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct tu_rng r;
	char what[128];

	tu_rng_init(&r, seed);
	for (int t = 0; t < FLIPS; t++) {
		int b = NBATCH - 2 + (int)tu_rng_below(&r, 2);
		size_t p = covered_position(f, b, &r);
		uint8_t mask = (uint8_t)(1 + tu_rng_below(&r, 255));

		restore(f, false);
		tu_file_flip(path_of(f, LOG_FILE), (long long)p, mask);
		snprintf(what, sizeof(what),
			 "byte %zu ^ 0x%02x (reproduce with KLAB_SEED=%" PRIu64 ")", p, mask, seed);
		expect_recovered_to(f, b, what);
	}
}

/* Is p[0..len) byte for byte one of the original batches other than skip? */
static bool
is_original_batch(const struct fixture *f, const uint8_t *p, size_t len, int skip)
{
	for (int i = 0; i < NBATCH; i++)
		if (i != skip && f->pos[i + 1] - f->pos[i] == len &&
		    memcmp(f->saved[LOG_FILE] + f->pos[i], p, len) == 0)
			return true;
	return false;
}

/* With the marker: whatever the open believes, reads serve only good batches. */
static void
expect_reads_never_corrupt(const struct fixture *f, int damaged, const char *what)
{
	struct logdir *d;
	struct log *l;
	struct buf out;

	assert_int_equal(logdir_open(&d, disk_real(), f->dir, NULL), KLAB_OK);
	assert_int_equal(logdir_log(d, "t-0", &f->lc, 0, &l, NULL), KLAB_OK);
	buf_init(&out);
	for (int i = 0; i <= NBATCH; i++) {
		struct log_read_info info;
		size_t pos = 0;
		int rc;

		buf_reset(&out);
		rc = log_read(l, f->base[i], SIZE_MAX, &out, &info);
		assert_true(rc == KLAB_OK || rc == KLAB_ECORRUPT || rc == KLAB_ERANGE);
		while (pos < out.len) {
			struct batch_header h;

			assert_int_equal(batch_header_parse(out.data + pos, out.len - pos, &h),
					 KLAB_OK);
			assert_true(batch_size(&h) <= out.len - pos);
			if (batch_validate(out.data + pos, batch_size(&h), &h, NULL) != KLAB_OK ||
			    !is_original_batch(f, out.data + pos, batch_size(&h), damaged))
				fail_msg("%s: read at %" PRId64 " returned a damaged batch", what,
					 f->base[i]);
			pos += batch_size(&h);
		}
		/* from the start: exactly the batches before the damaged one */
		if (i == 0 && l->log_start_offset == 0 && l->next_offset > 0) {
			assert_int_equal(out.len, f->pos[damaged]);
			assert_true(rc == KLAB_OK || damaged == 0);
		}
	}
	buf_free(&out);
	logdir_release(d);
}

static void
test_ch1_clean_open_never_serves_flipped_batch(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = tu_seed(SEED_DEFAULT) + 1;
	struct tu_rng r;
	char what[128];

	tu_rng_init(&r, seed);
	for (int t = 0; t < FLIPS; t++) {
		int b = NBATCH - 2 + (int)tu_rng_below(&r, 2);
		size_t p = covered_position(f, b, &r);
		uint8_t mask = (uint8_t)(1 + tu_rng_below(&r, 255));

		restore(f, true);
		tu_file_flip(path_of(f, LOG_FILE), (long long)p, mask);
		snprintf(what, sizeof(what),
			 "byte %zu ^ 0x%02x (reproduce with KLAB_SEED=%" PRIu64 ")", p, mask,
			 seed - 1);
		expect_reads_never_corrupt(f, b, what);
	}
}

static void
test_ch1_clean_open_with_torn_tail_never_crashes(void **state)
{
	struct fixture *f = *state;
	char what[64];

	/* a marker that lies (files cut after a clean stop): reads stay safe */
	for (size_t cut = f->pos[NBATCH - 2]; cut < f->pos[NBATCH]; cut += 3) {
		int keep = batch_at(f, cut);
		struct logdir *d;
		struct log *l;

		restore(f, true);
		tu_file_truncate(path_of(f, LOG_FILE), (long long)cut);
		snprintf(what, sizeof(what), "cut at %zu with marker", cut);
		expect_reads_never_corrupt(f, keep, what);
		/* and the log end is never below the whole batches that are left */
		restore(f, true);
		tu_file_truncate(path_of(f, LOG_FILE), (long long)cut);
		assert_int_equal(logdir_open(&d, disk_real(), f->dir, NULL), KLAB_OK);
		assert_int_equal(logdir_log(d, "t-0", &f->lc, 0, &l, NULL), KLAB_OK);
		if (l->next_offset != f->base[keep])
			fail_msg("%s: log end %" PRId64 ", want %" PRId64, what, l->next_offset,
				 f->base[keep]);
		logdir_release(d);
	}
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch1_recovery_truncates_torn_tail_at_every_byte),
		T(test_ch1_recovery_cuts_at_flipped_byte),
		T(test_ch1_clean_open_never_serves_flipped_batch),
		T(test_ch1_clean_open_with_torn_tail_never_crashes),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
