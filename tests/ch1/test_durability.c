/*
 * test_durability.c - what survives a power cut, on the simulated disk
 * (chapter 1 §6-§7; core/fs.h; net/disk_sim.h).
 *
 * Every test runs a log directory on a struct disk_sim: a crash keeps
 * what fsync made durable plus a seeded, sector-granular prefix of the
 * rest, and forgets names whose directory was not fsynced.  The rule
 * checked everywhere: after recovery the log is a prefix of what was
 * appended (whole batches, in order) that contains at least everything a
 * successful flush covered.  Sweeps print the seed that broke it;
 * KLAB_SEED replays one.
 */
#include "testutil.h"

#include "log/logdir.h"
#include "net/disk_sim.h"

#define DIR "/data/logs"
#define NAME "t-0"
#define SEEDS 200

struct world {
	struct disk_sim *disk;
	struct fs *fs;
	struct logdir *d;
	struct log *l;
	struct log_config lc;
};

static void
world_open(struct world *w)
{
	struct kerr e = { 0 };

	if (logdir_open(&w->d, w->fs, DIR, &e) != KLAB_OK ||
	    logdir_log(w->d, NAME, &w->lc, 0, &w->l, &e) != KLAB_OK)
		fail_msg("open: %s", kerr_msg(&e));
}

static void
world_init(struct world *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->disk = disk_sim_new(seed);
	assert_non_null(w->disk);
	w->fs = disk_sim_fs(w->disk);
	w->lc = tu_log_config();
	w->lc.segment_bytes = 2048; /* a few batches per segment: rolls happen */
	world_open(w);
}

/* The power cut: the process's memory goes (no I/O), then the disk's power. */
static struct disk_crash_report
world_crash(struct world *w)
{
	struct disk_crash_report rep;
	struct kerr e = { 0 };

	logdir_release(w->d);
	w->d = NULL;
	w->l = NULL;
	assert_int_equal(disk_sim_crash(w->disk, &rep), KLAB_OK);
	if (disk_sim_check_invariants(w->disk, &e) != KLAB_OK)
		fail_msg("disk: %s", kerr_msg(&e));
	return rep;
}

static void
world_free(struct world *w)
{
	if (w->d != NULL)
		assert_int_equal(logdir_close(w->d), KLAB_OK);
	disk_sim_free(w->disk);
}

/* Everything the log holds, from its start, every batch CRC-checked. */
static void
read_everything(struct log *l, struct buf *out)
{
	buf_reset(out);
	assert_int_equal(tu_read_all(l, 1 << 20, out), KLAB_OK);
}

static void
check_log(const struct log *l, uint64_t seed)
{
	struct kerr e = { 0 };

	if (log_check_invariants(l, &e) != KLAB_OK)
		fail_msg("seed %" PRIu64 ": %s (reproduce with KLAB_SEED=%" PRIu64 ")", seed,
			 kerr_msg(&e), seed);
}

/*
 * After recovery the log must be a whole-batch prefix of `all` at least
 * `durable` bytes long.  Returns how many bytes it kept.
 */
static size_t
expect_prefix(struct log *l, const struct buf *all, size_t durable, uint64_t seed)
{
	struct buf now;
	size_t kept;

	buf_init(&now);
	read_everything(l, &now);
	kept = now.len;
	if (kept < durable || kept > all->len || memcmp(now.data, all->data, kept) != 0)
		fail_msg("seed %" PRIu64 ": after recovery the log holds %zu bytes; want a prefix "
			 "of the %zu appended with at least the %zu flushed (reproduce with "
			 "KLAB_SEED=%" PRIu64 ")",
			 seed, kept, all->len, durable, seed);
	buf_free(&now);
	return kept;
}

/* ---- crash and recovery over many seeds --------------------------------- */

static void
one_crash(uint64_t seed, int *kept_some, int *kept_none)
{
	struct world w;
	struct buf all, flushed;
	size_t kept;
	int64_t end;

	world_init(&w, seed);
	buf_init(&all);
	buf_init(&flushed);
	for (int i = 0; i < 10; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	assert_int_equal(log_flush(w.l, 0), KLAB_OK);
	assert_int_equal(logdir_checkpoint(w.d), KLAB_OK);
	read_everything(w.l, &flushed);
	for (int i = 10; i < 10 + 1 + (int)(seed % 20); i++) /* rolls a segment or more */
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	read_everything(w.l, &all);
	world_crash(&w);
	world_open(&w);
	assert_false(w.d->was_clean);
	kept = expect_prefix(w.l, &all, flushed.len, seed);
	*kept_some += kept > flushed.len;
	*kept_none += kept == flushed.len;
	check_log(w.l, seed);
	/* the recovered log takes appends at its end */
	end = w.l->next_offset;
	assert_true(tu_append(w.l, 1, 0, 4, 77, 0).first_offset == end);
	world_free(&w);
	buf_free(&all);
	buf_free(&flushed);
}

static void
test_ch1_durability_crash_keeps_a_prefix_with_everything_flushed(void **state)
{
	uint64_t first = tu_seed(1), n = getenv("KLAB_SEED") ? 1 : SEEDS;
	int kept_some = 0, kept_none = 0;

	(void)state;
	for (uint64_t s = first; s < first + n; s++)
		one_crash(s, &kept_some, &kept_none);
	/* the sweep really tears: some seeds keep part of the unflushed tail, some none */
	if (n == SEEDS)
		assert_true(kept_some > 0 && kept_none > 0);
}

/* ---- the directory fsyncs ----------------------------------------------- */

/*
 * A rolled segment is a new file: its name is durable only after its
 * directory is fsynced, which log_flush does (Kafka's LocalLog.flush).
 * Without that fsync the crash drops the new segment and, with it,
 * flushed records.
 */
static void
test_ch1_durability_flush_makes_new_segment_names_durable(void **state)
{
	struct world w;
	struct buf all;
	size_t nsegs;

	(void)state;
	world_init(&w, tu_seed(7));
	buf_init(&all);
	for (int i = 0; i < 30; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	nsegs = w.l->nsegs;
	assert_true(nsegs >= 3);
	assert_int_equal(log_flush(w.l, 0), KLAB_OK);
	read_everything(w.l, &all);
	world_crash(&w);
	world_open(&w);
	assert_int_equal(w.l->nsegs, nsegs);
	expect_prefix(w.l, &all, all.len, 7);
	world_free(&w);
	buf_free(&all);
}

/*
 * The clean-shutdown marker's removal at open must be durable before the
 * log is written: otherwise the crash brings the marker back and the next
 * open trusts a log whose tail was never flushed.
 */
static void
test_ch1_durability_marker_removal_survives_crash(void **state)
{
	struct world w;
	struct buf all;

	(void)state;
	world_init(&w, tu_seed(11));
	buf_init(&all);
	for (int i = 0; i < 4; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	assert_int_equal(logdir_close(w.d), KLAB_OK); /* writes the marker */
	world_open(&w);
	assert_true(w.d->was_clean);
	read_everything(w.l, &all);
	for (int i = 4; i < 8; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	world_crash(&w);
	world_open(&w);
	assert_false(w.d->was_clean); /* the marker stayed gone */
	assert_false(w.l->report.clean);
	expect_prefix(w.l, &all, all.len, 11);
	world_free(&w);
	buf_free(&all);
}

/* A checkpoint is renamed into place and the directory fsynced: it survives. */
static void
test_ch1_durability_checkpoint_survives_crash(void **state)
{
	struct world w;
	struct buf text;
	char want[64];

	(void)state;
	world_init(&w, tu_seed(13));
	buf_init(&text);
	for (int i = 0; i < 5; i++)
		tu_append(w.l, 2, i, 40, (uint32_t)i, 0);
	assert_int_equal(log_flush(w.l, 0), KLAB_OK);
	assert_int_equal(logdir_checkpoint(w.d), KLAB_OK);
	world_crash(&w);
	assert_int_equal(fs_read_file(w.fs, DIR "/" LOGDIR_RECOVERY_CHECKPOINT, 4096, &text, NULL),
			 KLAB_OK);
	snprintf(want, sizeof(want), "0\n1\nt 0 10\n");
	assert_string_equal((const char *)text.data, want);
	world_open(&w);
	assert_int_equal(w.l->next_offset, 10);
	world_free(&w);
	buf_free(&text);
}

/* ---- failing fsyncs ------------------------------------------------------ */

struct snapshot {
	struct fs *fs;
	char names[16][64];
	struct buf bytes[16];
	int n;
};

static int
snap_one(void *arg, const char *name)
{
	struct snapshot *s = arg;
	char path[256];

	if (strstr(name, ".log") == NULL)
		return KLAB_OK;
	assert_true(s->n < 16);
	snprintf(s->names[s->n], sizeof(s->names[s->n]), "%s", name);
	snprintf(path, sizeof(path), DIR "/" NAME "/%s", name);
	buf_init(&s->bytes[s->n]);
	assert_int_equal(fs_read_file(s->fs, path, 1 << 20, &s->bytes[s->n], NULL), KLAB_OK);
	s->n++;
	return KLAB_OK;
}

/* Every segment file of the log, byte for byte. */
static void
snapshot_take(struct snapshot *s, struct fs *fs)
{
	memset(s, 0, sizeof(*s));
	s->fs = fs;
	assert_int_equal(fs_list(fs, DIR "/" NAME, snap_one, s, NULL), KLAB_OK);
	assert_true(s->n >= 2);
}

static void
snapshot_expect_same(struct snapshot *s)
{
	struct buf now;
	char path[256];

	buf_init(&now);
	for (int i = 0; i < s->n; i++) {
		snprintf(path, sizeof(path), DIR "/" NAME "/%s", s->names[i]);
		assert_int_equal(fs_read_file(s->fs, path, 1 << 20, &now, NULL), KLAB_OK);
		if (now.len != s->bytes[i].len || memcmp(now.data, s->bytes[i].data, now.len) != 0)
			fail_msg("%s changed: %zu bytes, was %zu", s->names[i], now.len,
				 s->bytes[i].len);
		buf_free(&s->bytes[i]);
	}
	buf_free(&now);
}

/*
 * Recovery after an unclean stop ends with a flush; when that fsync fails
 * the open fails, and the way out must not touch the disk: every segment
 * keeps every byte, and a later open (the disk healthy again) has them all.
 */
static void
test_ch1_durability_failed_fsync_during_open_loses_no_byte(void **state)
{
	struct world w;
	struct snapshot snap;
	struct kerr e = { 0 };
	struct buf all;
	int rc;

	(void)state;
	world_init(&w, tu_seed(17));
	buf_init(&all);
	for (int i = 0; i < 30; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	assert_int_equal(log_flush(w.l, 0), KLAB_OK); /* durable, but no checkpoint says so */
	read_everything(w.l, &all);
	world_crash(&w);
	snapshot_take(&snap, w.fs);
	assert_int_equal(disk_sim_fail_fsync(w.disk, NULL, 1), KLAB_OK); /* recovery's first */
	assert_int_equal(logdir_open(&w.d, w.fs, DIR, &e), KLAB_OK);
	rc = logdir_log(w.d, NAME, &w.lc, 0, &w.l, &e);
	assert_int_equal(rc, KLAB_EIO);
	assert_non_null(strstr(kerr_msg(&e), "cannot fsync after recovery"));
	logdir_release(w.d);
	snapshot_expect_same(&snap);
	world_open(&w);
	expect_prefix(w.l, &all, all.len, 17);
	world_free(&w);
	buf_free(&all);
}

/*
 * fsyncgate: after a failed fsync the pages that did not reach the disk
 * are not retried by the next fsync, so the log stops taking appends and
 * flushes until it is reopened (recovered from its last good recovery
 * point).  A crash then keeps what the last good flush covered.
 */
static void
test_ch1_durability_failed_flush_stops_the_log(void **state)
{
	struct world w;
	struct buf flushed;
	struct buf b;
	struct kerr e = { 0 };
	int64_t rp;

	(void)state;
	world_init(&w, tu_seed(19));
	buf_init(&flushed);
	buf_init(&b);
	for (int i = 0; i < 4; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	assert_int_equal(log_flush(w.l, 0), KLAB_OK);
	read_everything(w.l, &flushed);
	rp = w.l->recovery_point;
	for (int i = 4; i < 8; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	assert_int_equal(disk_sim_fail_fsync(w.disk, NULL, 1), KLAB_OK);
	assert_int_equal(log_flush(w.l, 0), KLAB_EIO);
	assert_true(w.l->recovery_point == rp);	       /* nothing more is claimed durable */
	assert_int_equal(log_flush(w.l, 0), KLAB_EIO); /* and a retry does not pretend */
	tu_batch_make(&b, 1, 0, 10, 99);
	assert_int_equal(log_append(w.l, b.data, b.len, 0, NULL, &e), KLAB_EIO);
	assert_non_null(strstr(kerr_msg(&e), "a flush failed"));
	world_crash(&w);
	world_open(&w);
	expect_prefix(w.l, &flushed, flushed.len, 19);
	world_free(&w);
	buf_free(&flushed);
	buf_free(&b);
}

/* ---- a full disk ---------------------------------------------------------- */

static void
test_ch1_durability_full_disk_refuses_append_and_keeps_log(void **state)
{
	struct world w;
	struct buf before, b;
	struct kerr e = { 0 };
	int64_t end;

	(void)state;
	world_init(&w, tu_seed(23));
	buf_init(&before);
	buf_init(&b);
	for (int i = 0; i < 3; i++)
		tu_append(w.l, 3, i, 40, (uint32_t)i, 0);
	read_everything(w.l, &before);
	end = w.l->next_offset;
	disk_sim_set_capacity(w.disk, log_size_bytes(w.l) + 10); /* no room for a batch */
	tu_batch_make(&b, 3, 0, 40, 5);
	assert_int_equal(log_append(w.l, b.data, b.len, 0, NULL, &e), KLAB_ENOSPC);
	assert_true(w.l->next_offset == end);
	check_log(w.l, 23);
	expect_prefix(w.l, &before, before.len, 23);
	disk_sim_set_capacity(w.disk, 0);
	assert_true(tu_append(w.l, 1, 0, 4, 6, 0).first_offset == end);
	world_free(&w);
	buf_free(&before);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch1_durability_crash_keeps_a_prefix_with_everything_flushed),
		cmocka_unit_test(test_ch1_durability_flush_makes_new_segment_names_durable),
		cmocka_unit_test(test_ch1_durability_marker_removal_survives_crash),
		cmocka_unit_test(test_ch1_durability_checkpoint_survives_crash),
		cmocka_unit_test(test_ch1_durability_failed_fsync_during_open_loses_no_byte),
		cmocka_unit_test(test_ch1_durability_failed_flush_stops_the_log),
		cmocka_unit_test(test_ch1_durability_full_disk_refuses_append_and_keeps_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
