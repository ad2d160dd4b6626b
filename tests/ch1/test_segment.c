/*
 * test_segment.c - one segment: its file names, appends, positions,
 * lookups, recovery and truncation (chapter 1 §3-§5).
 */
#include "testutil.h"

#include "log/segment.h"
#include "net/disk_real.h"

struct fixture {
	char dir[64];
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

static void
test_ch1_segment_file_names_have_20_digit_base_offsets(void **state)
{
	char name[256];

	(void)state;
	segment_file_name(name, sizeof(name), "/d", 0, ".log");
	assert_string_equal(name, "/d/00000000000000000000.log");
	segment_file_name(name, sizeof(name), "/d", 1043, ".index");
	assert_string_equal(name, "/d/00000000000000001043.index");
	segment_file_name(name, sizeof(name), "/d/t-0", INT64_MAX, ".timeindex");
	assert_string_equal(name, "/d/t-0/09223372036854775807.timeindex");
}

static void
test_ch1_segment_open_creates_three_files(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	char p[256];

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 1043, 4096, 1 << 20, 77, NULL),
			 KLAB_OK);
	assert_true(s->base_offset == 1043);
	assert_true(s->next_offset == 1043);
	assert_int_equal(s->size, 0);
	assert_true(s->max_timestamp == -1);
	assert_true(s->created_ms == 77);
	snprintf(p, sizeof(p), "%s/00000000000000001043.log", f->dir);
	assert_true(tu_file_exists(p));
	assert_string_equal(s->log_path, p);
	snprintf(p, sizeof(p), "%s/00000000000000001043.index", f->dir);
	assert_true(tu_file_exists(p));
	snprintf(p, sizeof(p), "%s/00000000000000001043.timeindex", f->dir);
	assert_true(tu_file_exists(p));
	assert_int_equal(segment_delete(s), KLAB_OK);
	assert_false(tu_file_exists(p));
	snprintf(p, sizeof(p), "%s/00000000000000001043.log", f->dir);
	assert_false(tu_file_exists(p));
}

static void
test_ch1_segment_append_positions_and_stats(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	struct batch_header h, got;
	uint64_t pos[5], at = 0;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 100, 4096, 1 << 20, 0, NULL),
			 KLAB_OK);
	for (int i = 0; i < 5; i++) {
		pos[i] = at;
		h = tu_seg_append(s, i + 1, 1000 - 10 * i + (i == 2 ? 500 : 0), 20, (uint32_t)i);
		at += batch_size(&h);
	}
	/* offsets 100 | 101-102 | 103-105 | 106-109 | 110-114 */
	assert_true(s->next_offset == 115);
	assert_int_equal(s->size, at);
	assert_int_equal(tu_file_size(s->log_path), (long long)at);
	assert_true(s->max_timestamp == 1480 + 2); /* batch 2: ts 1480.. 1482 */
	assert_true(s->offset_of_max_timestamp == 105);
	assert_true(s->rolling_timestamp == 1000); /* the first batch's max */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(segment_header_at(s, pos[i], &got), KLAB_OK);
		assert_int_equal(got.record_count, i + 1);
	}
	assert_int_equal(segment_header_at(s, at, &got), KLAB_ETRUNCATED);
	assert_int_equal(segment_header_at(s, at + 100, &got), KLAB_ETRUNCATED);
	/* a base offset below next_offset is refused, and nothing is written */
	{
		struct buf b;

		buf_init(&b);
		tu_batch_make(&b, 1, 0, 1, 9);
		batch_set_base_offset(b.data, 114);
		assert_int_equal(batch_validate(b.data, b.len, &h, NULL), KLAB_OK);
		assert_int_equal(segment_append(s, b.data, b.len, &h), KLAB_EINVAL);
		assert_int_equal(s->size, at);
		buf_free(&b);
	}
	segment_close(s);
}

static void
test_ch1_segment_read_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	struct batch_header h;
	uint8_t buf[512];
	struct buf b;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 4096, 1 << 20, 0, NULL), KLAB_OK);
	h = tu_seg_append(s, 2, 5, 30, 1);
	buf_init(&b);
	tu_batch_make(&b, 2, 5, 30, 1);
	assert_int_equal(segment_read(s, 0, buf, batch_size(&h)), KLAB_OK);
	assert_memory_equal(buf, b.data, b.len);
	assert_int_equal(segment_read(s, 1, buf, batch_size(&h)), KLAB_ETRUNCATED);
	assert_int_equal(segment_read(s, s->size + 1, buf, 0), KLAB_ETRUNCATED);
	assert_int_equal(segment_read(s, s->size, buf, 0), KLAB_OK);
	buf_free(&b);
	segment_close(s);
}

static void
test_ch1_segment_find_returns_batch_holding_offset(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	int64_t base_of[400];
	uint64_t pos_of[400], at = 0;
	int64_t o = 50;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 50, 200, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 60; i++) {
		struct batch_header h = tu_seg_append(s, 1 + i % 5, i, 40, (uint32_t)i);

		for (int k = 0; k <= h.last_offset_delta; k++) {
			base_of[o - 50] = h.base_offset;
			pos_of[o++ - 50] = at;
		}
		at += batch_size(&h);
	}
	assert_true(s->oi.n > 5); /* the index is used, not just a scan from 0 */
	for (int64_t q = 0; q < 50; q++) {
		struct batch_header h;
		uint64_t pos;

		assert_int_equal(segment_find(s, q, &pos, &h), KLAB_OK);
		assert_int_equal(pos, 0); /* below the base: the first batch */
	}
	for (int64_t q = 50; q < o; q++) {
		struct batch_header h;
		uint64_t pos = 12345;

		assert_int_equal(segment_find(s, q, &pos, &h), KLAB_OK);
		assert_int_equal(pos, pos_of[q - 50]);
		assert_true(h.base_offset == base_of[q - 50]);
		assert_true(h.base_offset <= q && q <= batch_last_offset(&h));
	}
	{
		struct batch_header h;
		uint64_t pos;

		assert_int_equal(segment_find(s, o, &pos, &h), KLAB_ENOTFOUND);
		assert_int_equal(segment_find(s, INT64_MAX, &pos, &h), KLAB_ENOTFOUND);
	}
	segment_close(s);
}

/* Reopen after a clean close: segment_load reads only the tail. */
static void
test_ch1_segment_load_restores_state(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	int64_t next, maxts, maxoff, rolling;
	uint64_t size, since;
	size_t oin;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 300, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 30; i++)
		tu_seg_append(s, 2, 1000 + (i * 37) % 100, 30, (uint32_t)i);
	assert_int_equal(segment_seal(s), KLAB_OK);
	assert_int_equal(segment_flush(s), KLAB_OK);
	next = s->next_offset;
	maxts = s->max_timestamp;
	maxoff = s->offset_of_max_timestamp;
	rolling = s->rolling_timestamp;
	size = s->size;
	since = s->bytes_since_index;
	oin = s->oi.n;
	segment_close(s);
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 300, 1 << 20, 99, NULL), KLAB_OK);
	assert_int_equal(s->size, size);
	assert_int_equal(segment_load(s), KLAB_OK);
	assert_true(s->next_offset == next);
	assert_true(s->max_timestamp == maxts);
	assert_true(s->offset_of_max_timestamp == maxoff);
	assert_true(s->rolling_timestamp == rolling);
	assert_int_equal(s->bytes_since_index, since);
	assert_int_equal(s->oi.n, oin);
	/* appends go on with the same indexing as without the restart */
	tu_seg_append(s, 2, 5000, 30, 99);
	assert_true(s->next_offset == next + 2);
	assert_true(s->max_timestamp == 5001);
	segment_close(s);
}

static void
test_ch1_segment_load_refuses_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	char path[256];

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 4096, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 4; i++)
		tu_seg_append(s, 2, i, 30, (uint32_t)i);
	snprintf(path, sizeof(path), "%s", s->log_path);
	segment_close(s);
	tu_file_truncate(path, tu_file_size(path) - 5);
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 4096, 1 << 20, 0, NULL), KLAB_OK);
	assert_int_equal(segment_load(s), KLAB_ECORRUPT);
	segment_close(s);
}

/* An index entry past the end of the .log (a file cut behind our back). */
static void
test_ch1_segment_load_refuses_index_past_end(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	uint64_t ends[10];
	char path[256];

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 100, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 10; i++) {
		tu_seg_append(s, 2, i, 60, (uint32_t)i);
		ends[i] = s->size;
	}
	assert_true(index_entry_at(&s->oi, s->oi.n - 1).position >= ends[5]);
	assert_int_equal(segment_flush(s), KLAB_OK); /* the index reaches the file */
	snprintf(path, sizeof(path), "%s", s->log_path);
	segment_close(s);
	tu_file_truncate(path, (long long)ends[5]); /* at a batch boundary */
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 100, 1 << 20, 0, NULL), KLAB_OK);
	assert_int_equal(segment_load(s), KLAB_ECORRUPT);
	segment_close(s);
}

static void
test_ch1_segment_recover_keeps_valid_prefix(void **state)
{
	struct fixture *f = *state;
	struct segment_recovery rep;
	struct segment *s;
	uint64_t ends[6] = { 0 };
	int64_t nexts[6] = { 0 };
	uint8_t *idx_before;
	size_t idx_len;
	char path[256], ipath[256];

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 150, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 6; i++) {
		struct batch_header h = tu_seg_append(s, 3, 10 * i, 40, (uint32_t)i);

		ends[i] = s->size;
		nexts[i] = batch_last_offset(&h) + 1;
	}
	snprintf(path, sizeof(path), "%s", s->log_path);
	segment_file_name(ipath, sizeof(ipath), f->dir, 0, ".index");
	idx_before = tu_file_read(ipath, &idx_len);
	/* intact: recovery keeps everything and rebuilds the same index */
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 6);
	assert_int_equal(rep.valid_bytes, ends[5]);
	assert_int_equal(rep.truncated_bytes, 0);
	assert_null(rep.why);
	assert_true(s->next_offset == nexts[5]);
	{
		size_t len;
		uint8_t *idx_after = tu_file_read(ipath, &len);

		assert_int_equal(len, idx_len);
		assert_memory_equal(idx_after, idx_before, len);
		free(idx_after);
	}
	free(idx_before);
	segment_close(s);

	/* torn in the middle of batch 4 (0-based): batches 0..3 stay */
	tu_file_truncate(path, (long long)(ends[3] + 20));
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 150, 1 << 20, 0, NULL), KLAB_OK);
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 4);
	assert_int_equal(rep.valid_bytes, ends[3]);
	assert_int_equal(rep.truncated_bytes, 20);
	assert_string_equal(rep.why, "torn batch at the end of the file");
	assert_int_equal(s->size, ends[3]);
	assert_int_equal(tu_file_size(path), (long long)ends[3]);
	assert_true(s->next_offset == nexts[3]);
	segment_close(s);

	/* a flipped byte in batch 2's records: cut at batch 2 */
	tu_file_flip(path, (long long)(ends[1] + 70), 0x10);
	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 150, 1 << 20, 0, NULL), KLAB_OK);
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 2);
	assert_int_equal(rep.valid_bytes, ends[1]);
	assert_string_equal(rep.why, "CRC mismatch");
	assert_true(s->next_offset == nexts[1]);
	for (size_t i = 0; i < s->oi.n; i++) /* no index entry points past the cut */
		assert_true(index_entry_at(&s->oi, i).position < ends[1]);
	segment_close(s);
}

static void
test_ch1_segment_recover_cuts_oversized_batch(void **state)
{
	struct fixture *f = *state;
	struct segment_recovery rep;
	struct segment *s;
	struct batch_header h1;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 4096, 1 << 20, 0, NULL), KLAB_OK);
	h1 = tu_seg_append(s, 1, 0, 10, 1);
	tu_seg_append(s, 1, 0, 500, 2);
	tu_seg_append(s, 1, 0, 10, 3);
	assert_int_equal(segment_recover(s, 200, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 1);
	assert_int_equal(rep.valid_bytes, batch_size(&h1));
	assert_string_equal(rep.why, "batch larger than the recovery size limit");
	segment_close(s);
}

static void
test_ch1_segment_recover_cuts_offsets_going_backwards(void **state)
{
	struct fixture *f = *state;
	struct segment_recovery rep;
	struct segment *s;
	uint64_t keep;
	struct buf b;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 10, 4096, 1 << 20, 0, NULL),
			 KLAB_OK);
	tu_seg_append(s, 3, 0, 10, 1); /* 10..12 */
	tu_seg_append(s, 3, 0, 10, 2); /* 13..15 */
	keep = s->size;
	/* write a valid batch claiming offset 14 straight into the file */
	buf_init(&b);
	tu_batch_make(&b, 1, 0, 10, 3);
	batch_set_base_offset(b.data, 14);
	assert_int_equal(fs_pwrite(s->file, b.data, b.len, s->size, NULL), KLAB_OK);
	s->size += b.len;
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 2);
	assert_int_equal(rep.valid_bytes, keep);
	assert_string_equal(rep.why, "offsets go backwards");
	/* and a batch below the segment's base offset */
	batch_set_base_offset(b.data, 3);
	assert_int_equal(segment_truncate_at(s, 0), KLAB_OK);
	assert_int_equal(fs_pwrite(s->file, b.data, b.len, 0, NULL), KLAB_OK);
	s->size = b.len;
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 0);
	assert_int_equal(s->size, 0);
	assert_true(s->next_offset == 10);
	buf_free(&b);
	segment_close(s);
}

static void
test_ch1_segment_truncate_at_batch_boundary(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	uint64_t ends[8];

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 100, 1 << 20, 0, NULL), KLAB_OK);
	for (int i = 0; i < 8; i++) {
		tu_seg_append(s, 2, 100 * i, 30, (uint32_t)i);
		ends[i] = s->size;
	}
	assert_int_equal(segment_truncate_at(s, s->size + 1), KLAB_EINVAL);
	assert_int_equal(segment_truncate_at(s, ends[4]), KLAB_OK);
	assert_int_equal(s->size, ends[4]);
	assert_true(s->next_offset == 10);
	assert_true(s->max_timestamp == 401);
	for (size_t i = 0; i < s->oi.n; i++)
		assert_true(index_entry_at(&s->oi, i).offset < 10);
	for (size_t i = 0; i < s->ti.n; i++)
		assert_true(index_entry_at(&s->ti, i).offset < 10);
	tu_seg_append(s, 2, 7, 30, 77);
	assert_true(s->next_offset == 12);
	segment_close(s);
}

static void
test_ch1_segment_seal_records_max_timestamp(void **state)
{
	struct fixture *f = *state;
	struct segment *s;
	struct index_entry en;

	assert_int_equal(segment_open(&s, disk_real(), f->dir, 0, 1 << 20, 1 << 20, 0, NULL),
			 KLAB_OK);
	assert_int_equal(segment_seal(s), KLAB_OK); /* empty: nothing to record */
	assert_int_equal(s->ti.n, 0);
	tu_seg_append(s, 3, 500, 10, 1);
	tu_seg_append(s, 3, 900, 10, 2);
	tu_seg_append(s, 3, 100, 10, 3);
	assert_int_equal(s->ti.n, 0); /* sparse: no entry yet */
	assert_int_equal(segment_seal(s), KLAB_OK);
	assert_int_equal(s->ti.n, 1);
	en = index_entry_at(&s->ti, 0);
	assert_true(en.timestamp == 902);
	assert_true(en.offset == 5);
	assert_int_equal(segment_seal(s), KLAB_OK); /* idempotent */
	assert_int_equal(s->ti.n, 1);
	segment_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch1_segment_file_names_have_20_digit_base_offsets),
		cmocka_unit_test_setup_teardown(test_ch1_segment_open_creates_three_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_append_positions_and_stats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_read_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_find_returns_batch_holding_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_load_restores_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_load_refuses_torn_tail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_load_refuses_index_past_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_recover_keeps_valid_prefix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_recover_cuts_oversized_batch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_ch1_segment_recover_cuts_offsets_going_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_truncate_at_batch_boundary, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ch1_segment_seal_records_max_timestamp, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
