/*
 * test_index.c - the sparse offset and time indexes (chapter 1 §4).
 *
 * What must hold: the files are big-endian arrays of 8- and 12-byte
 * entries; a lookup answers with the floor entry (the largest key <= the
 * target, or the segment start); a segment adds an entry only after more
 * than log.index.interval.bytes of log since the previous one; a file that
 * fails the sanity check is refused and then rebuilt from the log.
 */
#include "testutil.h"

#include "log/index.h"
#include "log/segment.h"
#include "net/disk_real.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/00000000000000001000.index", f->dir);
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

/* ---- the binary search ---------------------------------------------------- */

static long
floor_linear(const int64_t *keys, size_t n, int64_t target)
{
	long found = -1;

	for (size_t i = 0; i < n; i++)
		if (keys[i] <= target)
			found = (long)i;
	return found;
}

static void
test_ch1_index_slot_floor_matches_linear_scan(void **state)
{
	static const int64_t k[] = { 3, 8, 20, 21, 100 };
	struct tu_rng r;
	int64_t keys[64];

	(void)state;
	assert_int_equal(index_slot_floor(k, 0, 50), -1);
	assert_int_equal(index_slot_floor(k, 5, 2), -1);
	assert_int_equal(index_slot_floor(k, 5, 3), 0);
	assert_int_equal(index_slot_floor(k, 5, 7), 0);
	assert_int_equal(index_slot_floor(k, 5, 8), 1);
	assert_int_equal(index_slot_floor(k, 5, 20), 2);
	assert_int_equal(index_slot_floor(k, 5, 21), 3);
	assert_int_equal(index_slot_floor(k, 5, 99), 3);
	assert_int_equal(index_slot_floor(k, 5, 100), 4);
	assert_int_equal(index_slot_floor(k, 5, INT64_MAX), 4);
	assert_int_equal(index_slot_floor(k, 5, INT64_MIN), -1);
	tu_rng_init(&r, 11);
	for (size_t n = 0; n <= 64; n++) {
		int64_t v = -50;

		for (size_t i = 0; i < n; i++)
			keys[i] = (v += 1 + (int64_t)tu_rng_below(&r, 5));
		for (int64_t t = -52; t <= v + 2; t++)
			assert_int_equal(index_slot_floor(keys, n, t), floor_linear(keys, n, t));
	}
}

/* ---- the offset index ----------------------------------------------------- */

static void
expect_entry(struct index_entry en, int64_t offset, uint32_t position)
{
	assert_true(en.offset == offset);
	assert_int_equal(en.position, position);
}

static void
test_ch1_index_offset_lookup_floor(void **state)
{
	struct fixture *f = *state;
	struct index ix;

	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	/* empty: everything maps to the segment start */
	expect_entry(index_lookup(&ix, 1000), 1000, 0);
	expect_entry(index_lookup(&ix, 5000), 1000, 0);
	assert_int_equal(index_append_offset(&ix, 1005, 100), KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1010, 250), KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1020, 400), KLAB_OK);
	assert_int_equal(ix.n, 3);
	expect_entry(index_lookup(&ix, 0), 1000, 0); /* below the base */
	expect_entry(index_lookup(&ix, 999), 1000, 0);
	expect_entry(index_lookup(&ix, 1000), 1000, 0);
	expect_entry(index_lookup(&ix, 1004), 1000, 0); /* below the first entry */
	expect_entry(index_lookup(&ix, 1005), 1005, 100);
	expect_entry(index_lookup(&ix, 1009), 1005, 100);
	expect_entry(index_lookup(&ix, 1010), 1010, 250);
	expect_entry(index_lookup(&ix, 1019), 1010, 250);
	expect_entry(index_lookup(&ix, 1020), 1020, 400);
	expect_entry(index_lookup(&ix, 1000000), 1020, 400);
	expect_entry(index_lookup(&ix, INT64_MAX), 1020, 400);
	expect_entry(index_entry_at(&ix, 1), 1010, 250);
	index_close(&ix);
}

static void
test_ch1_index_offset_file_format_and_reload(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, /* rel 5  -> pos 100 */
		0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, /* rel 65536 -> pos 65536 */
	};
	struct fixture *f = *state;
	struct index ix;
	uint8_t *bytes;
	size_t len;

	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1005, 100), KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1000 + 65536, 65536), KLAB_OK);
	assert_int_equal(index_sync(&ix), KLAB_OK);
	bytes = tu_file_read(f->path, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(bytes, want, sizeof(want));
	free(bytes);
	index_close(&ix);
	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	assert_int_equal(ix.n, 2);
	expect_entry(index_entry_at(&ix, 0), 1005, 100);
	expect_entry(index_entry_at(&ix, 1), 66536, 65536);
	expect_entry(index_lookup(&ix, 66535), 1005, 100);
	index_close(&ix);
}

static void
test_ch1_index_offset_append_rules(void **state)
{
	struct fixture *f = *state;
	struct index ix;

	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, f->path, 1000, 32, NULL),
			 KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 999, 0), KLAB_ERANGE);
	assert_int_equal(index_append_offset(&ix, 1000 + (int64_t)INT32_MAX + 1, 0), KLAB_ERANGE);
	assert_int_equal(index_append_offset(&ix, 1001, 10), KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1001, 20), KLAB_EINVAL); /* not ascending */
	assert_int_equal(index_append_offset(&ix, 1000, 20), KLAB_EINVAL);
	assert_int_equal(index_append_offset(&ix, 1002, 20), KLAB_OK);
	assert_int_equal(index_append_offset(&ix, 1003, 30), KLAB_OK);
	assert_false(index_full(&ix));
	assert_int_equal(index_append_offset(&ix, 1004, 40), KLAB_OK);
	assert_true(index_full(&ix)); /* 32 bytes = 4 entries */
	assert_int_equal(index_append_offset(&ix, 1005, 50), KLAB_ETOOLARGE);
	assert_int_equal(ix.n, 4);
	assert_int_equal(tu_file_size(f->path), 0); /* appends stay in memory until a sync */
	assert_int_equal(index_sync(&ix), KLAB_OK);
	assert_int_equal(tu_file_size(f->path), 32);
	index_close(&ix);
}

static void
test_ch1_index_truncate_and_reset(void **state)
{
	struct fixture *f = *state;
	struct index ix;

	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(index_append_offset(&ix, 1000 + 10 * i, (uint32_t)(100 * i)),
				 KLAB_OK);
	assert_int_equal(index_sync(&ix), KLAB_OK);
	assert_int_equal(tu_file_size(f->path), 40);
	assert_int_equal(index_truncate_to(&ix, 1031), KLAB_OK); /* keeps 1010..1030 */
	assert_int_equal(ix.n, 3);
	assert_int_equal(tu_file_size(f->path), 24);
	assert_int_equal(index_truncate_to(&ix, 1030), KLAB_OK); /* drops 1030 itself */
	assert_int_equal(ix.n, 2);
	assert_int_equal(tu_file_size(f->path), 16);
	expect_entry(index_lookup(&ix, 5000), 1020, 200);
	/* appends continue after the cut */
	assert_int_equal(index_append_offset(&ix, 1025, 250), KLAB_OK);
	expect_entry(index_lookup(&ix, 5000), 1025, 250);
	assert_int_equal(index_reset(&ix), KLAB_OK);
	assert_int_equal(ix.n, 0);
	assert_int_equal(tu_file_size(f->path), 0);
	expect_entry(index_lookup(&ix, 5000), 1000, 0);
	assert_int_equal(index_remove_file(&ix), KLAB_OK);
	assert_false(tu_file_exists(f->path));
	index_close(&ix);
}

/* ---- the time index ------------------------------------------------------- */

static void
test_ch1_index_time_lookup_floor(void **state)
{
	struct fixture *f = *state;
	struct index ix;
	struct index_entry en;
	uint8_t *bytes;
	size_t len;

	snprintf(f->path, sizeof(f->path), "%s/00000000000000001000.timeindex", f->dir);
	assert_int_equal(index_open(&ix, disk_real(), INDEX_TIME, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	assert_int_equal(index_maybe_append_time(&ix, 500, 1003), KLAB_OK);
	assert_int_equal(index_maybe_append_time(&ix, 500, 1004), KLAB_OK); /* not above: skipped */
	assert_int_equal(index_maybe_append_time(&ix, 400, 1005), KLAB_OK); /* skipped */
	assert_int_equal(index_maybe_append_time(&ix, 900, 1010), KLAB_OK);
	assert_int_equal(index_maybe_append_time(&ix, 1500, 1020), KLAB_OK);
	assert_int_equal(ix.n, 3);
	en = index_lookup(&ix, 499);
	assert_true(en.offset == 1000); /* before every entry: the segment start */
	en = index_lookup(&ix, 500);
	assert_true(en.offset == 1003 && en.timestamp == 500);
	en = index_lookup(&ix, 899);
	assert_true(en.offset == 1003 && en.timestamp == 500);
	en = index_lookup(&ix, 900);
	assert_true(en.offset == 1010 && en.timestamp == 900);
	en = index_lookup(&ix, 1499);
	assert_true(en.offset == 1010);
	en = index_lookup(&ix, INT64_MAX);
	assert_true(en.offset == 1020 && en.timestamp == 1500);
	/* 12-byte big-endian entries: timestamp int64, relative offset int32 */
	assert_int_equal(index_sync(&ix), KLAB_OK);
	bytes = tu_file_read(f->path, &len);
	assert_int_equal(len, 36);
	assert_true(be64_read(bytes) == 500);
	assert_int_equal(be32_read(bytes + 8), 3);
	assert_true(be64_read(bytes + 24) == 1500);
	assert_int_equal(be32_read(bytes + 32), 20);
	free(bytes);
	index_close(&ix);
	assert_int_equal(index_open(&ix, disk_real(), INDEX_TIME, f->path, 1000, 4096, NULL),
			 KLAB_OK);
	assert_int_equal(ix.n, 3);
	en = index_entry_at(&ix, 1);
	assert_true(en.offset == 1010 && en.timestamp == 900);
	index_close(&ix);
}

/* ---- the sanity check ----------------------------------------------------- */

static void
expect_refused(const char *path, enum index_kind kind, const void *bytes, size_t len,
	       size_t max_bytes)
{
	struct index ix;
	struct kerr e = { 0 };

	tu_file_write(path, bytes, len);
	assert_int_equal(index_open(&ix, disk_real(), kind, path, 1000, max_bytes, &e),
			 KLAB_ECORRUPT);
	assert_non_null(strstr(e.msg, path));
	assert_int_equal(ix.n, 0);
	/* the caller rebuilds: reset empties the file and appends work again */
	assert_int_equal(index_reset(&ix), KLAB_OK);
	assert_int_equal(tu_file_size(path), 0);
	if (kind == INDEX_OFFSET)
		assert_int_equal(index_append_offset(&ix, 1001, 0), KLAB_OK);
	else
		assert_int_equal(index_maybe_append_time(&ix, 1, 1001), KLAB_OK);
	index_close(&ix);
}

static void
test_ch1_index_sanity_check_rejects_partial_entries(void **state)
{
	struct fixture *f = *state;
	uint8_t z[24] = { 0 };
	char tpath[128];

	for (size_t len = 1; len < 24; len++)
		if (len % 8 != 0)
			expect_refused(f->path, INDEX_OFFSET, z, len, 4096);
	snprintf(tpath, sizeof(tpath), "%s/00000000000000001000.timeindex", f->dir);
	for (size_t len = 1; len < 24; len++)
		if (len % 12 != 0)
			expect_refused(tpath, INDEX_TIME, z, len, 4096);
}

static void
test_ch1_index_sanity_check_rejects_bad_entries(void **state)
{
	struct fixture *f = *state;
	uint8_t e[24] = { 0 };

	/* offsets out of order: rel 9 then rel 4 */
	be32_write(e, 9);
	be32_write(e + 8, 4);
	expect_refused(f->path, INDEX_OFFSET, e, 16, 4096);
	/* a repeated offset */
	be32_write(e + 8, 9);
	expect_refused(f->path, INDEX_OFFSET, e, 16, 4096);
	/* a negative relative offset */
	be32_write(e, 0xffffffffu);
	expect_refused(f->path, INDEX_OFFSET, e, 8, 4096);
	/* more entries than log.index.size.max.bytes allows */
	be32_write(e, 1);
	be32_write(e + 8, 2);
	be32_write(e + 16, 3);
	expect_refused(f->path, INDEX_OFFSET, e, 24, 16);
	/* time index: timestamps must ascend */
	memset(e, 0, sizeof(e));
	be64_write(e, 50);
	be64_write(e + 12, 40);
	be32_write(e + 20, 1);
	expect_refused(f->path, INDEX_TIME, e, 24, 4096);
}

/* ---- the sparse index of a segment ---------------------------------------- */

/*
 * Reference model of LogSegment.append: an entry (batch's last offset ->
 * its position) is added before a batch when more than interval bytes were
 * written since the previous entry.
 */
static void
test_ch1_index_sparse_entries_every_interval_bytes(void **state)
{
	struct fixture *f = *state;
	const uint32_t interval = 1000;
	int64_t want_off[256], want_ts[256], want_tso[256], maxts = -1, maxts_off = -1;
	uint32_t want_pos[256];
	struct tu_rng r;
	struct segment *s;
	uint64_t since = 0, pos = 0, max_batch = 0;
	size_t n = 0, nt = 0;

	tu_rng_init(&r, 5);
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, interval, 1 << 20, 0, NULL),
			 KLAB_OK);
	for (int i = 0; i < 200; i++) {
		struct batch_header h = tu_seg_append(s, 1 + (int)tu_rng_below(&r, 4),
						      (int64_t)tu_rng_below(&r, 10000),
						      (size_t)tu_rng_below(&r, 400), (uint32_t)i);

		if (h.max_timestamp > maxts) {
			maxts = h.max_timestamp;
			maxts_off = batch_last_offset(&h);
		}
		if (since > interval) {
			want_off[n] = batch_last_offset(&h);
			want_pos[n++] = (uint32_t)pos;
			if (nt == 0 || maxts > want_ts[nt - 1]) { /* time index: only if later */
				want_ts[nt] = maxts;
				want_tso[nt++] = maxts_off;
			}
			since = 0;
		}
		since += batch_size(&h);
		pos += batch_size(&h);
		if (batch_size(&h) > max_batch)
			max_batch = batch_size(&h);
	}
	assert_true(n > 20);
	assert_int_equal(s->oi.n, n);
	for (size_t i = 0; i < n; i++) {
		struct index_entry en = index_entry_at(&s->oi, i);
		struct batch_header h;

		expect_entry(en, want_off[i], want_pos[i]);
		/* the entry names a batch that starts there and ends at that offset */
		assert_int_equal(segment_header_at(s, en.position, &h), KLAB_OK);
		assert_true(batch_last_offset(&h) == en.offset);
		if (i > 0) { /* more than one interval apart, by at most one batch more */
			uint32_t gap = en.position - index_entry_at(&s->oi, i - 1).position;

			assert_true(gap > interval);
			assert_true(gap <= interval + max_batch);
		}
	}
	/* the time index grows with it: (max timestamp so far -> its offset) */
	assert_true(nt >= 1);
	assert_int_equal(s->ti.n, nt);
	for (size_t i = 0; i < nt; i++) {
		struct index_entry en = index_entry_at(&s->ti, i);

		assert_true(en.timestamp == want_ts[i]);
		assert_true(en.offset == want_tso[i]);
	}
	segment_close(s);
}

static void
test_ch1_index_interval_zero_indexes_every_batch_after_the_first(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	uint64_t pos = 0;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 0, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 10; i++) {
		struct batch_header h = tu_seg_append(s, 2, 100 + i, 10, (uint32_t)i);

		if (i > 0)
			expect_entry(index_entry_at(&s->oi, (size_t)i - 1), batch_last_offset(&h),
				     (uint32_t)pos);
		pos += batch_size(&h);
	}
	assert_int_equal(s->oi.n, 9);
	segment_close(s);
}

/* A log whose .index file was damaged rebuilds it on open and reads right. */
static void
test_ch1_index_damaged_file_is_rebuilt_by_log_open(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	char logdir[128], ipath[192];
	uint8_t *before, *after;
	size_t blen, alen;
	struct log *l;
	struct buf b;

	lc.index_interval_bytes = 300;
	snprintf(logdir, sizeof(logdir), "%s/t-0", f->dir);
	segment_file_name(ipath, sizeof(ipath), logdir, 0, ".index");
	assert_int_equal(log_open(&l, disk_real(), logdir, &lc, 0, 0, false, 0, NULL), KLAB_OK);
	for (int i = 0; i < 40; i++)
		tu_append(l, 3, 1000 + i, 50, (uint32_t)i, 0);
	assert_int_equal(log_close(l), KLAB_OK);
	before = tu_file_read(ipath, &blen);
	assert_true(blen >= 8 * 10);
	tu_file_truncate(ipath, (long long)blen - 3); /* a torn last entry */
	assert_int_equal(log_open(&l, disk_real(), logdir, &lc, 0, 0, true, 0, NULL), KLAB_OK);
	assert_int_equal(l->report.segments_recovered, 1); /* the check sent it to recovery */
	assert_true(l->next_offset == 120);
	after = tu_file_read(ipath, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	for (int64_t o = 0; o < 120; o++) {
		struct log_read_info info;

		buf_init(&b);
		assert_int_equal(log_read(l, o, 1, &b, &info), KLAB_OK);
		assert_int_equal(info.batches, 1);
		assert_true(info.first_offset == o - o % 3);
		buf_free(&b);
	}
	free(before);
	free(after);
	assert_int_equal(log_close(l), KLAB_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch1_index_slot_floor_matches_linear_scan),
		cmocka_unit_test_setup_teardown(test_ch1_index_offset_lookup_floor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_offset_file_format_and_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_offset_append_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_truncate_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_time_lookup_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_sanity_check_rejects_partial_entries,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_sanity_check_rejects_bad_entries,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_sparse_entries_every_interval_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_ch1_index_interval_zero_indexes_every_batch_after_the_first, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_ch1_index_damaged_file_is_rebuilt_by_log_open,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
