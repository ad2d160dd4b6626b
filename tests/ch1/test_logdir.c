/*
 * test_logdir.c - a log directory: the clean-shutdown marker, the
 * checkpoint files in Kafka's text format, and recovery after a crash
 * (chapter 1 §5).
 */
#include "testutil.h"

#include "log/logdir.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

struct fixture {
	char dir[64];
	char path[256]; /* scratch */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static struct logdir *
open_dir(const struct fixture *f)
{
	struct kerr e = { 0 };
	struct logdir *d = NULL;

	if (logdir_open(&d, disk_real(), f->dir, &e) != KLAB_OK)
		fail_msg("logdir_open: %s", kerr_msg(&e));
	return d;
}

static struct log *
open_log(struct logdir *d, const char *name, const struct log_config *lc)
{
	struct kerr e = { 0 };
	struct log *l = NULL;

	if (logdir_log(d, name, lc, 0, &l, &e) != KLAB_OK)
		fail_msg("logdir_log %s: %s", name, kerr_msg(&e));
	return l;
}

static const char *
in_dir(struct fixture *f, const char *file)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, file);
	return f->path;
}

static void
expect_file_text(struct fixture *f, const char *file, const char *want)
{
	char *text = (char *)tu_file_read(in_dir(f, file), NULL);

	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

static void
test_ch1_logdir_clean_close_writes_marker_and_checkpoints(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct logdir *d = open_dir(f);
	struct log *a, *b;

	assert_false(d->was_clean);
	a = open_log(d, "orders-0", &lc);
	b = open_log(d, "my-topic-12", &lc);
	for (int i = 0; i < 5; i++)
		tu_append(a, 2, 0, 10, (uint32_t)i, 0);
	tu_append(b, 3, 0, 10, 9, 0);
	assert_false(tu_file_exists(in_dir(f, LOGDIR_CLEAN_MARKER)));
	assert_int_equal(logdir_close(d), KLAB_OK);
	assert_true(tu_file_exists(in_dir(f, LOGDIR_CLEAN_MARKER)));
	assert_int_equal(tu_file_size(in_dir(f, LOGDIR_CLEAN_MARKER)), 0);
	/* Kafka's format: version, count, then "topic partition offset" lines */
	expect_file_text(f, LOGDIR_RECOVERY_CHECKPOINT, "0\n2\norders 0 10\nmy-topic 12 3\n");
	expect_file_text(f, LOGDIR_START_CHECKPOINT, "0\n2\norders 0 0\nmy-topic 12 0\n");
	assert_false(tu_file_exists(in_dir(f, LOGDIR_RECOVERY_CHECKPOINT ".tmp")));
	assert_true(tu_file_exists(in_dir(f, "orders-0/00000000000000000000.log")));
	assert_true(tu_file_exists(in_dir(f, "my-topic-12/00000000000000000000.log")));
}

static void
test_ch1_logdir_reopen_is_clean_and_skips_scan(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct logdir *d = open_dir(f);
	struct log *l = open_log(d, "t-0", &lc);
	struct log_read_info ri;
	struct buf before, after;

	for (int i = 0; i < 6; i++)
		tu_append(l, 2, 100 + i, 30, (uint32_t)i, 0);
	buf_init(&before);
	assert_int_equal(log_read(l, 0, SIZE_MAX, &before, &ri), KLAB_OK);
	assert_int_equal(logdir_close(d), KLAB_OK);
	/* damage batch 1's records on disk: a scan would cut the log there */
	tu_file_flip(in_dir(f, "t-0/00000000000000000000.log"),
		     BATCH_LOG_OVERHEAD + be32_read(before.data + 8) + 80, 0x01);

	d = open_dir(f);
	assert_true(d->was_clean);
	/* the marker is consumed at open: a crash from now on is unclean */
	assert_false(tu_file_exists(in_dir(f, LOGDIR_CLEAN_MARKER)));
	l = open_log(d, "t-0", &lc);
	assert_true(l->report.clean);
	assert_int_equal(l->report.segments_recovered, 0);
	assert_int_equal(l->report.truncated_bytes, 0);
	assert_true(l->next_offset == 12);
	assert_true(l->recovery_point == 12);
	assert_int_equal(log_size_bytes(l), before.len);
	/* reads still refuse the damaged batch */
	buf_init(&after);
	assert_int_equal(log_read(l, 0, SIZE_MAX, &after, &ri), KLAB_OK);
	assert_true(ri.stopped_at_corrupt);
	assert_int_equal(ri.batches, 1);
	assert_memory_equal(after.data, before.data, after.len);
	buf_free(&before);
	buf_free(&after);
	assert_int_equal(logdir_close(d), KLAB_OK);
}

static void
test_ch1_logdir_unreadable_checkpoint_means_full_recovery(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct logdir *d = open_dir(f);
	struct log *l;

	lc.segment_bytes = 500;
	l = open_log(d, "t-0", &lc);
	for (int i = 0; i < 12; i++)
		tu_append(l, 2, i, 40, (uint32_t)i, 0);
	assert_true(l->nsegs >= 3);
	assert_int_equal(logdir_close(d), KLAB_OK);
	tu_file_write(in_dir(f, LOGDIR_RECOVERY_CHECKPOINT), "garbage\n", 8);
	remove(in_dir(f, LOGDIR_CLEAN_MARKER));
	d = open_dir(f);
	assert_int_equal(d->nrecovery, 0);
	l = open_log(d, "t-0", &lc);
	/* recovery point 0: every segment is validated, and all are intact */
	assert_int_equal(l->report.segments_recovered, l->report.segments);
	assert_int_equal(l->report.truncated_bytes, 0);
	assert_true(l->next_offset == 24);
	assert_int_equal(logdir_close(d), KLAB_OK);
	/* the recovery checkpoint is good again */
	expect_file_text(f, LOGDIR_RECOVERY_CHECKPOINT, "0\n1\nt 0 24\n");
}

static void
test_ch1_logdir_checkpoint_keeps_log_start_offset(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_retention_report rep;
	struct logdir *d = open_dir(f);
	struct log *l;
	int64_t start;

	lc.segment_bytes = 500;
	lc.retention_bytes = 600;
	l = open_log(d, "t-0", &lc);
	for (int i = 0; i < 12; i++)
		tu_append(l, 2, i, 40, (uint32_t)i, 0);
	assert_int_equal(log_apply_retention(l, 0, &rep), KLAB_OK);
	start = l->log_start_offset;
	assert_true(start > 0);
	assert_int_equal(logdir_close(d), KLAB_OK);
	{
		char want[64];

		snprintf(want, sizeof(want), "0\n1\nt 0 %" PRId64 "\n", start);
		expect_file_text(f, LOGDIR_START_CHECKPOINT, want);
	}
	d = open_dir(f);
	assert_int_equal(d->nstart, 1);
	assert_string_equal(d->start[0].name, "t-0");
	assert_true(d->start[0].offset == start);
	l = open_log(d, "t-0", &lc);
	assert_true(l->log_start_offset == start);
	assert_int_equal(logdir_close(d), KLAB_OK);
}

/*
 * A log-start checkpoint beyond the log end (10^12) would hide every
 * record: it is ignored and reported, and every record still reads.
 */
static void
test_ch1_logdir_start_checkpoint_beyond_log_end_ignored(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct logdir *d = open_dir(f);
	struct log *l = open_log(d, "t-0", &lc);
	struct buf all;

	for (int i = 0; i < 4; i++)
		tu_append(l, 2, i, 40, (uint32_t)i, 0);
	assert_int_equal(logdir_close(d), KLAB_OK);
	{
		const char *text = "0\n1\nt 0 1000000000000\n";

		tu_file_write(in_dir(f, LOGDIR_START_CHECKPOINT), text, strlen(text));
	}
	d = open_dir(f);
	l = open_log(d, "t-0", &lc);
	assert_int_equal(l->log_start_offset, 0);
	assert_int_equal(l->report.start_ignored, 1000000000000LL);
	buf_init(&all);
	assert_int_equal(tu_read_all(l, 1 << 20, &all), KLAB_OK);
	assert_true(all.len > 0);
	buf_free(&all);
	assert_int_equal(logdir_close(d), KLAB_OK);
	expect_file_text(f, LOGDIR_START_CHECKPOINT, "0\n1\nt 0 0\n");
}

static void
test_ch1_logdir_log_names(void **state)
{
	static const char *const bad[] = {
		"noparition", "-0", "t-", "t-x", "a/b-0", "../x-0", "t 1-0", "t-1a", "",
	};
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct logdir *d = open_dir(f);
	struct kerr e = { 0 };
	struct log *l, *again;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		assert_int_equal(logdir_log(d, bad[i], &lc, 0, &l, &e), KLAB_EINVAL);
		assert_null(l);
	}
	assert_int_equal(d->nlogs, 0);
	l = open_log(d, "a.b_c-D-7", &lc);
	again = open_log(d, "a.b_c-D-7", &lc);
	assert_ptr_equal(l, again);
	assert_int_equal(d->nlogs, 1);
	assert_int_equal(logdir_close(d), KLAB_OK);
	expect_file_text(f, LOGDIR_RECOVERY_CHECKPOINT, "0\n1\na.b_c-D 7 0\n");
}

/* ---- checkpoint_parse ----------------------------------------------------- */

static void
test_ch1_logdir_checkpoint_parse_accepts_kafka_format(void **state)
{
	struct checkpoint_entry *en;
	struct kerr e = { 0 };
	size_t n;

	(void)state;
	assert_int_equal(
		checkpoint_parse("0\n2\nfoo 0 10\nbar-baz 3 9223372036854775807\n", &en, &n, &e),
		KLAB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(en[0].name, "foo-0");
	assert_true(en[0].offset == 10);
	assert_string_equal(en[1].name, "bar-baz-3");
	assert_true(en[1].offset == INT64_MAX);
	checkpoint_free(en, n);
	assert_int_equal(checkpoint_parse("0\n0\n", &en, &n, &e), KLAB_OK);
	assert_int_equal(n, 0);
	checkpoint_free(en, n);
	/* CRLF line ends and trailing blanks are fine (Kafka splits on \s+) */
	assert_int_equal(checkpoint_parse("0\r\n2\r\nfoo 0 5\r\nbar 1 6  \n", &en, &n, &e),
			 KLAB_OK);
	assert_int_equal(n, 2);
	assert_true(en[0].offset == 5 && en[1].offset == 6);
	checkpoint_free(en, n);
	/* no newline after the last entry is fine too */
	assert_int_equal(checkpoint_parse("0\n1\nfoo 1 5", &en, &n, &e), KLAB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(en[0].name, "foo-1");
	checkpoint_free(en, n);
}

static void
test_ch1_logdir_checkpoint_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",			    /* empty */
		"0\n",			    /* no count */
		"x\n1\nfoo 0 1\n",	    /* version not a number */
		"1\n1\nfoo 0 1\n",	    /* unknown version */
		"0\n-1\n",		    /* negative count */
		"0\n2\nfoo 0 1\n",	    /* fewer entries than the count */
		"0\n1\n",		    /* no entries at all */
		"0\n1\nfoo x 1\n",	    /* partition not a number */
		"0\n1\nfoo 0 y\n",	    /* offset not a number */
		"0\n1\nfoo 0\n",	    /* missing offset */
		"0\n1\nfoo 0 -5\n",	    /* negative offset */
		"0\n1\nfoo -1 5\n",	    /* negative partition */
		"0\n1\nfoo 0 5 7\n",	    /* a fourth field */
		"0\n1\nfoo 0 5x\n",	    /* trailing garbage */
		"0\n1\nfoo 0 5\nbar 0 6\n", /* more entries than the count */
		"0\n1\nfoo 0 5\ngarbage\n", /* junk after the entries */
	};
	struct checkpoint_entry *en;
	struct kerr e = { 0 };
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		en = (struct checkpoint_entry *)&e; /* must be reset */
		n = 99;
		memset(&e, 0, sizeof(e));
		if (checkpoint_parse(bad[i], &en, &n, &e) != KLAB_ECORRUPT)
			fail_msg("accepted malformed checkpoint #%zu: \"%s\"", i, bad[i]);
		assert_null(en);
		assert_int_equal(n, 0);
		assert_non_null(strstr(e.msg, "checkpoint"));
	}
}

/*
 * Kafka's <log.dir>/.lock: a second open of a directory that is open is
 * refused with Kafka's sentence, on the real disk (flock) and on the
 * simulated one; a close, a release or a power cut lets go of it.
 */
static void
test_ch1_logdir_lock_refuses_a_second_owner(void **state)
{
	struct fixture *f = *state;
	struct disk_sim *sim = disk_sim_new(7);
	struct fs *disks[2] = { disk_real(), disk_sim_fs(sim) };

	for (int i = 0; i < 2; i++) {
		struct kerr e = { 0 };
		struct logdir *d = NULL, *d2 = NULL;

		assert_int_equal(logdir_open(&d, disks[i], f->dir, &e), KLAB_OK);
		assert_int_equal(logdir_open(&d2, disks[i], f->dir, &e), KLAB_ESTATE);
		assert_non_null(strstr(kerr_msg(&e), "Failed to acquire lock on file .lock"));
		assert_int_equal(logdir_close(d), KLAB_OK);
		assert_int_equal(logdir_open(&d, disks[i], f->dir, &e), KLAB_OK);
		logdir_release(d); /* no I/O, but the lock goes */
		assert_int_equal(logdir_open(&d, disks[i], f->dir, &e), KLAB_OK);
		if (i == 1) { /* a power cut kills the holder */
			assert_int_equal(disk_sim_crash(sim, NULL), KLAB_OK);
			assert_int_equal(logdir_open(&d2, disks[i], f->dir, &e), KLAB_OK);
			logdir_release(d2);
		}
		logdir_release(d);
	}
	disk_sim_free(sim);
}

/*
 * Cold segments (segment.c, invariant 4): with a bound of 2 open cold
 * files, 60 segments keep at most 2 .log files open beyond the active
 * one, every old record still reads back, a crash and an unclean reopen
 * recover them all, and files handed out by log_read_region stay open
 * (pinned) until the next epoch even beyond the bound.
 */
static void
test_ch1_logdir_cold_segments_keep_few_files_open(void **state)
{
	struct fixture *f = *state;
	struct disk_sim *sim = disk_sim_new(11);
	struct log_config lc = tu_log_config();
	struct kerr e = { 0 };
	struct fs_file *handed[5];
	struct logdir *d = NULL;
	struct log *l;
	struct buf all;

	lc.segment_bytes = 100; /* a segment per batch */
	assert_int_equal(logdir_open(&d, disk_sim_fs(sim), f->dir, &e), KLAB_OK);
	segment_files_init(&d->files, 2);
	l = open_log(d, "c-0", &lc);
	for (int i = 0; i < 60; i++)
		tu_append(l, 1, 0, 80, (uint32_t)i, 0);
	assert_int_equal(l->nsegs, 60);
	assert_true(d->files.open <= 2);
	buf_init(&all);
	assert_int_equal(tu_read_all(l, 1 << 20, &all), KLAB_OK);
	assert_true(d->files.open <= 2);
	for (int i = 0; i < 5; i++) { /* one response handed five old files */
		struct log_region rg;

		assert_int_equal(log_read_region(l, i * 7, 1 << 20, &rg), KLAB_OK);
		handed[i] = rg.file;
		assert_non_null(handed[i]);
	}
	for (int i = 0; i < 5; i++)
		assert_true(fs_size(handed[i], NULL) > 0); /* still open */
	assert_int_equal(d->files.open, 5);
	segment_files_next_epoch(&d->files);
	assert_true(d->files.open <= 2);
	/* a power cut, then an unclean open recovers all 60 within the bound */
	assert_int_equal(log_flush(l, 0), KLAB_OK);
	logdir_release(d);
	assert_int_equal(disk_sim_crash(sim, NULL), KLAB_OK);
	assert_int_equal(logdir_open(&d, disk_sim_fs(sim), f->dir, &e), KLAB_OK);
	segment_files_init(&d->files, 2);
	l = open_log(d, "c-0", &lc);
	assert_int_equal(l->next_offset, 60);
	assert_true(d->files.open <= 2);
	buf_reset(&all);
	assert_int_equal(tu_read_all(l, 1 << 20, &all), KLAB_OK);
	buf_free(&all);
	logdir_release(d);
	disk_sim_free(sim);
}

/*
 * Recovery's cost in fsyncs: after an unclean stop, each recovered log
 * costs one fsync of its .log, plus one per index file it rewrote (before:
 * every file twice, 6 per log, and 1,400 logs took seconds).
 */
static void
test_ch1_logdir_unclean_open_fsyncs_each_file_once(void **state)
{
	struct fixture *f = *state;
	struct disk_sim *sim = disk_sim_new(5);
	struct log_config lc = tu_log_config();
	struct kerr e = { 0 };
	struct logdir *d = NULL;
	uint64_t before;
	char name[16];

	assert_int_equal(logdir_open(&d, disk_sim_fs(sim), f->dir, &e), KLAB_OK);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "e-%d", i);
		open_log(d, name, &lc);
	}
	logdir_release(d); /* unclean: no marker, no checkpoint */
	before = disk_sim_stats(sim)->fsyncs;
	assert_int_equal(logdir_open(&d, disk_sim_fs(sim), f->dir, &e), KLAB_OK);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "e-%d", i);
		open_log(d, name, &lc);
	}
	assert_int_equal(disk_sim_stats(sim)->fsyncs - before, 20);
	logdir_release(d);
	disk_sim_free(sim);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch1_logdir_clean_close_writes_marker_and_checkpoints),
		T(test_ch1_logdir_reopen_is_clean_and_skips_scan),
		T(test_ch1_logdir_unreadable_checkpoint_means_full_recovery),
		T(test_ch1_logdir_checkpoint_keeps_log_start_offset),
		T(test_ch1_logdir_start_checkpoint_beyond_log_end_ignored),
		T(test_ch1_logdir_log_names),
		T(test_ch1_logdir_lock_refuses_a_second_owner),
		T(test_ch1_logdir_cold_segments_keep_few_files_open),
		T(test_ch1_logdir_unclean_open_fsyncs_each_file_once),
		cmocka_unit_test(test_ch1_logdir_checkpoint_parse_accepts_kafka_format),
		cmocka_unit_test(test_ch1_logdir_checkpoint_parse_rejects_malformed),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
