/*
 * test_log.c - the append-only log (chapter 1): offsets, reads, rolling,
 * retention, time lookups, flushing, LogAppendTime, size limits, and
 * never serving a corrupt batch.
 *
 * Time is always passed in (now_ms); record timestamps are chosen by each
 * test so that the expected rolls and deletions can be computed by hand.
 */
#include "testutil.h"

#include "log/segment.h"
#include "net/disk_real.h"

struct fixture {
	char dir[64];
	char logdir[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	snprintf(f->logdir, sizeof(f->logdir), "%s/topic-0", f->dir);
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

static struct log *
open_log(const struct fixture *f, const struct log_config *lc, int64_t now_ms)
{
	struct kerr e = { 0 };
	struct log *l = NULL;
	int rc = log_open(&l, disk_real(), f->logdir, lc, 0, 0, false, now_ms, &e);

	if (rc != KLAB_OK)
		fail_msg("log_open: %s", kerr_msg(&e));
	return l;
}

/* Everything from offset, in one read; returns the batch count. */
static int
read_from(struct log *l, int64_t offset, size_t max_bytes, struct buf *out,
	  struct log_read_info *info)
{
	buf_reset(out);
	assert_int_equal(log_read(l, offset, max_bytes, out, info), KLAB_OK);
	return info->batches;
}

/* The batches as stored, kept by the tests to compare reads against. */
struct stored {
	struct buf bytes; /* all batches back to back, offsets assigned */
	size_t pos[512];  /* where batch i starts in bytes */
	int64_t base[512], last[512];
	int n;
};

static void
stored_add(struct stored *st, const uint8_t *p, size_t len)
{
	struct batch_header h;

	assert_int_equal(batch_header_parse(p, len, &h), KLAB_OK);
	assert_true(st->n < 512);
	st->pos[st->n] = st->bytes.len;
	st->base[st->n] = h.base_offset;
	st->last[st->n++] = batch_last_offset(&h);
	buf_put(&st->bytes, p, len);
}

/* Append nrec records (value_len bytes) and remember the stored batch. */
static struct log_append_info
append_keep(struct log *l, struct stored *st, int nrec, int64_t ts, size_t value_len,
	    int64_t now_ms)
{
	struct log_append_info info;
	struct kerr e = { 0 };
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, nrec, ts, value_len, (uint32_t)st->n);
	batch_set_base_offset(b.data, 987654); /* what a producer sends is ignored */
	if (log_append(l, b.data, b.len, now_ms, &info, &e) != KLAB_OK)
		fail_msg("log_append: %s", kerr_msg(&e));
	stored_add(st, b.data, b.len);
	buf_free(&b);
	return info;
}

static int
stored_batch_of(const struct stored *st, int64_t offset)
{
	for (int i = 0; i < st->n; i++)
		if (st->base[i] <= offset && offset <= st->last[i])
			return i;
	return -1;
}

static void
test_ch1_log_assigns_consecutive_offsets_across_batches(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l = open_log(f, &lc, 0);
	struct stored st = { 0 };
	struct log_read_info ri;
	struct buf out;
	int64_t next = 0;

	buf_init(&st.bytes);
	l->leader_epoch = 7;
	for (int i = 0; i < 20; i++) {
		struct log_append_info info = append_keep(l, &st, 1 + i % 4, 100, 10, 0);

		assert_true(info.first_offset == next);
		assert_true(info.last_offset == next + i % 4);
		assert_int_equal(info.records, 1 + i % 4);
		assert_true(info.segment_base == 0);
		assert_int_equal(info.position, st.pos[i]);
		assert_false(info.rolled);
		next = info.last_offset + 1;
		assert_true(l->next_offset == next);
	}
	buf_init(&out);
	assert_int_equal(read_from(l, 0, SIZE_MAX, &out, &ri), 20);
	assert_int_equal(out.len, st.bytes.len);
	assert_memory_equal(out.data, st.bytes.data, out.len);
	{
		int64_t n = 0;

		assert_int_equal(tu_check_batches(out.data, out.len, &n), 20);
		assert_true(n == next);
	}
	/* the log stamped its leader epoch into every batch (outside the CRC) */
	assert_int_equal((int32_t)be32_read(out.data + 12), 7);
	assert_int_equal(log_close(l), KLAB_OK);
	buf_free(&out);
	buf_free(&st.bytes);
}

/* 40 batches over several segments, for the read tests. */
static struct log *
filled_log(const struct fixture *f, struct stored *st)
{
	struct log_config lc = tu_log_config();
	struct log *l;

	lc.segment_bytes = 1500;
	lc.index_interval_bytes = 200;
	l = open_log(f, &lc, 0);
	buf_init(&st->bytes);
	for (int i = 0; i < 40; i++)
		append_keep(l, st, 1 + (i * 7) % 5, 1000 + i, 20 + (size_t)(i * 13) % 90, 0);
	assert_true(l->nsegs >= 4);
	return l;
}

static void
test_ch1_log_read_starts_with_batch_holding_offset(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct log_read_info ri;
	struct buf out;

	buf_init(&out);
	for (int64_t o = 0; o < l->next_offset; o++) {
		int i = stored_batch_of(&st, o);
		size_t size = (i + 1 < st.n ? st.pos[i + 1] : st.bytes.len) - st.pos[i];

		/* max_bytes 1: still one whole batch */
		assert_int_equal(read_from(l, o, 1, &out, &ri), 1);
		assert_true(ri.first_offset == st.base[i]);
		assert_true(ri.next_offset == l->next_offset);
		assert_false(ri.stopped_at_corrupt);
		assert_int_equal(out.len, size);
		assert_memory_equal(out.data, st.bytes.data + st.pos[i], size);
		/* unlimited: everything from that batch to the end, across segments */
		assert_int_equal(read_from(l, o, SIZE_MAX, &out, &ri), st.n - i);
		assert_int_equal(out.len, st.bytes.len - st.pos[i]);
		assert_memory_equal(out.data, st.bytes.data + st.pos[i], out.len);
	}
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_read_respects_max_bytes(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct log_read_info ri;
	struct buf out;

	buf_init(&out);
	for (size_t max = 50; max < 3000; max += 37) {
		for (int i = 0; i < st.n; i += 3) {
			int got = read_from(l, st.base[i], max, &out, &ri);
			size_t end = st.pos[i] + out.len;

			assert_true(got >= 1);
			assert_true(got == 1 || out.len <= max);
			assert_memory_equal(out.data, st.bytes.data + st.pos[i], out.len);
			/* as many whole batches as fit: the next one would not */
			if (i + got < st.n) {
				int j = i + got + 1;
				size_t more = (j < st.n ? st.pos[j] : st.bytes.len) - st.pos[i];

				assert_true(more > max);
			}
			assert_int_equal(end, i + got < st.n ? st.pos[i + got] : st.bytes.len);
		}
	}
	/* appending to a buffer that already holds bytes counts only the new ones */
	buf_reset(&out);
	buf_put(&out, "prefix", 6);
	assert_int_equal(log_read(l, 0, st.pos[2], &out, &ri), KLAB_OK);
	assert_int_equal(ri.batches, 2);
	assert_int_equal(out.len, 6 + st.pos[2]);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_read_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct log_retention_report rep;
	struct log_read_info ri;
	struct buf out;
	int64_t end = l->next_offset;

	buf_init(&out);
	assert_int_equal(log_read(l, -1, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(log_read(l, end + 1, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(log_read(l, INT64_MAX, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(out.len, 0);
	/* at the log end: nothing yet, not an error */
	assert_int_equal(log_read(l, end, SIZE_MAX, &out, &ri), KLAB_OK);
	assert_int_equal(ri.batches, 0);
	assert_true(ri.next_offset == end);
	assert_int_equal(out.len, 0);
	/* after retention moved the log start, below it is out of range */
	l->cfg.retention_bytes = 1;
	assert_int_equal(log_apply_retention(l, 0, &rep), KLAB_OK);
	assert_true(l->log_start_offset > 0);
	assert_int_equal(log_read(l, l->log_start_offset - 1, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(log_read(l, 0, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(log_read(l, l->log_start_offset, SIZE_MAX, &out, &ri), KLAB_OK);
	assert_true(ri.first_offset == l->log_start_offset);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

/*
 * log_read_region (what a broker hands to sendfile): whole batches of one
 * segment starting with the batch holding the offset, the same bytes
 * log_read copies, never past max_bytes unless one batch is bigger.
 */
static void
test_ch1_log_read_region_is_whole_batches_of_one_segment(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct log_read_info ri;
	struct log_region rg;
	struct buf out;
	uint8_t *got = malloc(st.bytes.len);

	assert_non_null(got);
	buf_init(&out);
	for (size_t max = 1; max < 4000; max += 211) {
		for (int64_t o = 0; o < l->next_offset; o++) {
			int i = stored_batch_of(&st, o), j;

			assert_int_equal(log_read_region(l, o, max, &rg), KLAB_OK);
			assert_true(rg.len > 0 && rg.file != NULL);
			assert_true(rg.first_offset == st.base[i]);
			assert_int_equal(fs_pread(rg.file, got, rg.len, (uint64_t)rg.pos, NULL),
					 (int64_t)rg.len);
			/* the same bytes log_read copies, a prefix of them */
			read_from(l, o, max, &out, &ri);
			assert_true(rg.len <= out.len);
			assert_memory_equal(got, st.bytes.data + st.pos[i], rg.len);
			/* it ends on a batch boundary ... */
			for (j = i + 1; j < st.n && st.pos[j] - st.pos[i] < rg.len; j++)
				;
			assert_int_equal(rg.len, (j < st.n ? st.pos[j] : st.bytes.len) - st.pos[i]);
			/* ... within max_bytes unless it is one batch */
			assert_true(j == i + 1 || rg.len <= max);
			/* ... and stops only where it must: the next batch would pass
			 * max_bytes or lies in the next segment */
			if (j < st.n) {
				size_t with_next =
					(j + 1 < st.n ? st.pos[j + 1] : st.bytes.len) - st.pos[i];

				assert_true(with_next > max ||
					    log_segment_for(l, st.base[j]) !=
						    log_segment_for(l, st.base[i]));
			}
		}
	}
	/* the log end is empty, outside the log is out of range */
	assert_int_equal(log_read_region(l, l->next_offset, 100, &rg), KLAB_OK);
	assert_int_equal(rg.len, 0);
	assert_true(rg.first_offset == -1);
	assert_int_equal(log_read_region(l, l->next_offset + 1, 100, &rg), KLAB_ERANGE);
	assert_int_equal(log_read_region(l, -1, 100, &rg), KLAB_ERANGE);
	free(got);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_rolls_by_segment_bytes(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct stored st = { 0 };
	struct log *l;
	uint64_t active_size = 0;
	int rolls = 0;

	lc.segment_bytes = 1000;
	l = open_log(f, &lc, 0);
	buf_init(&st.bytes);
	for (int i = 0; i < 30; i++) {
		struct log_append_info info = append_keep(l, &st, 2, 0, 100, 0);
		size_t size = st.bytes.len - st.pos[i];
		bool want_roll = active_size > 0 && active_size + size > 1000;

		assert_int_equal(info.rolled, want_roll);
		if (want_roll) {
			rolls++;
			active_size = 0;
			assert_true(info.segment_base == info.first_offset);
			assert_int_equal(info.position, 0);
		}
		active_size += size;
	}
	assert_true(rolls >= 5);
	assert_int_equal(l->nsegs, (size_t)rolls + 1);
	for (size_t i = 0; i < l->nsegs; i++) {
		char p[256];

		assert_true(l->segs[i]->size <= 1000);
		assert_true(l->segs[i]->size > 0);
		if (i > 0)
			assert_true(l->segs[i]->base_offset == l->segs[i - 1]->next_offset);
		segment_file_name(p, sizeof(p), f->logdir, l->segs[i]->base_offset, ".log");
		assert_true(tu_file_exists(p));
		assert_int_equal(tu_file_size(p), (long long)l->segs[i]->size);
		assert_ptr_equal(log_segment_for(l, l->segs[i]->base_offset), l->segs[i]);
		assert_ptr_equal(log_segment_for(l, l->segs[i]->next_offset - 1), l->segs[i]);
	}
	assert_int_equal(log_size_bytes(l), st.bytes.len);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_oversized_batch_gets_its_own_segment(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l;
	struct log_append_info a, b, c;

	lc.segment_bytes = 300;
	l = open_log(f, &lc, 0);
	a = tu_append(l, 1, 0, 10, 1, 0);
	b = tu_append(l, 1, 0, 400, 2, 0); /* larger than a segment */
	c = tu_append(l, 1, 0, 10, 3, 0);
	assert_false(a.rolled);
	assert_true(b.rolled);
	assert_true(c.rolled);
	assert_int_equal(l->nsegs, 3);
	assert_true(l->segs[1]->size > 300);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_rolls_by_roll_ms(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l;

	lc.roll_ms = 1000;
	l = open_log(f, &lc, 0);
	assert_false(tu_append(l, 1, 0, 10, 1, 0).rolled);
	assert_false(tu_append(l, 1, 900, 10, 2, 900).rolled);
	/* exactly roll_ms after the first batch: not yet */
	assert_false(tu_append(l, 1, 1000, 10, 3, 1000).rolled);
	/* one ms later: roll, measured from the FIRST batch's timestamp */
	assert_true(tu_append(l, 1, 1001, 10, 4, 1001).rolled);
	assert_int_equal(l->nsegs, 2);
	assert_true(l->segs[1]->base_offset == 3);
	assert_false(tu_append(l, 1, 2001, 10, 5, 2001).rolled);
	assert_true(tu_append(l, 1, 2002, 10, 6, 2002).rolled);
	assert_int_equal(l->nsegs, 3);
	/* an empty active segment never rolls, however old */
	assert_int_equal(log_roll(l, 9000), KLAB_OK);
	assert_int_equal(l->nsegs, 4);
	assert_int_equal(log_roll(l, 9001), KLAB_OK); /* no-op: empty */
	assert_int_equal(l->nsegs, 4);
	assert_false(tu_append(l, 1, 100000, 10, 7, 100000).rolled);
	assert_int_equal(l->nsegs, 4);
	assert_true(l->segs[3]->base_offset == 6);
	assert_int_equal(log_close(l), KLAB_OK);
}

/* Segments of batches with timestamps 1000*i; returns the log. */
static struct log *
timed_log(const struct fixture *f, struct log_config *lc, struct stored *st, int batches)
{
	struct log *l;

	lc->segment_bytes = 600;
	l = open_log(f, lc, 0);
	buf_init(&st->bytes);
	for (int i = 0; i < batches; i++)
		append_keep(l, st, 2, 1000 * (int64_t)i, 60, 1000 * (int64_t)i);
	return l;
}

/* Every offset from the log start on still reads back as stored. */
static void
expect_retained_intact(struct log *l, const struct stored *st)
{
	struct log_read_info ri;
	struct buf out;
	int i = stored_batch_of(st, l->log_start_offset);

	assert_true(i >= 0);
	assert_true(st->base[i] == l->log_start_offset); /* whole segments go */
	buf_init(&out);
	assert_int_equal(read_from(l, l->log_start_offset, SIZE_MAX, &out, &ri), st->n - i);
	assert_int_equal(out.len, st->bytes.len - st->pos[i]);
	assert_memory_equal(out.data, st->bytes.data + st->pos[i], out.len);
	buf_free(&out);
}

static void
test_ch1_log_retention_by_time_deletes_oldest_segments(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_retention_report rep;
	struct stored st = { 0 };
	struct log *l;
	int64_t now = 20000;
	size_t want = 0, nsegs;
	uint64_t want_bytes = 0;
	char first_path[256];

	lc.retention_ms = 5000;
	l = timed_log(f, &lc, &st, 20);
	nsegs = l->nsegs;
	assert_true(nsegs >= 5);
	while (want < nsegs && now - l->segs[want]->max_timestamp > 5000)
		want_bytes += l->segs[want++]->size;
	assert_true(want >= 2 && want < nsegs);
	snprintf(first_path, sizeof(first_path), "%s", l->segs[0]->log_path);
	assert_int_equal(log_apply_retention(l, now, &rep), KLAB_OK);
	assert_int_equal(rep.segments_deleted, (int)want);
	assert_int_equal(rep.bytes_deleted, want_bytes);
	assert_false(rep.rolled);
	assert_int_equal(l->nsegs, nsegs - want);
	assert_true(rep.log_start_offset == l->segs[0]->base_offset);
	assert_true(l->log_start_offset == l->segs[0]->base_offset);
	assert_false(tu_file_exists(first_path));
	/* what is left: all within retention, and intact */
	for (size_t i = 0; i < l->nsegs; i++)
		assert_true(now - l->segs[i]->max_timestamp <= 5000);
	expect_retained_intact(l, &st);
	/* a second pass at the same time deletes nothing more */
	assert_int_equal(log_apply_retention(l, now, &rep), KLAB_OK);
	assert_int_equal(rep.segments_deleted, 0);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_retention_when_everything_expired(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_retention_report rep;
	struct stored st = { 0 };
	struct log_read_info ri;
	struct log *l;
	int64_t end;
	struct buf out;

	lc.retention_ms = 5000;
	l = timed_log(f, &lc, &st, 10);
	end = l->next_offset;
	assert_int_equal(log_apply_retention(l, 100000, &rep), KLAB_OK);
	assert_true(rep.rolled); /* the active segment expired too: roll first */
	assert_int_equal(l->nsegs, 1);
	assert_int_equal(l->segs[0]->size, 0);
	assert_true(l->log_start_offset == end);
	assert_true(l->next_offset == end);
	assert_int_equal(log_size_bytes(l), 0);
	buf_init(&out);
	assert_int_equal(log_read(l, 0, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	assert_int_equal(log_read(l, end, SIZE_MAX, &out, &ri), KLAB_OK);
	assert_int_equal(ri.batches, 0);
	/* offsets carry on where they were */
	assert_true(tu_append(l, 1, 100000, 5, 1, 100000).first_offset == end);
	assert_int_equal(read_from(l, end, SIZE_MAX, &out, &ri), 1);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_retention_by_bytes_keeps_at_least_the_limit(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_retention_report rep;
	struct stored st = { 0 };
	struct log *l;
	uint64_t before, after;

	lc.retention_bytes = 2000;
	lc.retention_ms = -1;
	l = timed_log(f, &lc, &st, 30);
	before = log_size_bytes(l);
	assert_true(before > 4000);
	assert_int_equal(log_apply_retention(l, INT64_MAX / 2, &rep), KLAB_OK);
	after = log_size_bytes(l);
	assert_int_equal(before - after, rep.bytes_deleted);
	assert_true(rep.segments_deleted > 0);
	/* Kafka's rule: delete a whole segment only if what stays is >= the limit */
	assert_true(after >= 2000);
	assert_true(after - l->segs[0]->size < 2000);
	expect_retained_intact(l, &st);
	/* the active segment is never deleted for size */
	l->cfg.retention_bytes = 0;
	assert_int_equal(log_apply_retention(l, 0, &rep), KLAB_OK);
	assert_int_equal(l->nsegs, 1);
	assert_true(l->segs[0]->size > 0);
	expect_retained_intact(l, &st);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_retention_disabled_deletes_nothing(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_retention_report rep;
	struct stored st = { 0 };
	struct log *l;
	size_t nsegs;

	lc.retention_ms = -1;
	lc.retention_bytes = -1;
	l = timed_log(f, &lc, &st, 20);
	nsegs = l->nsegs;
	assert_int_equal(log_apply_retention(l, INT64_MAX / 2, &rep), KLAB_OK);
	assert_int_equal(rep.segments_deleted, 0);
	assert_int_equal(l->nsegs, nsegs);
	assert_true(l->log_start_offset == 0);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_offset_for_time(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	int64_t ts_of[400];
	int64_t n = 0, ts = 100;
	struct log *l;

	lc.segment_bytes = 800;
	lc.index_interval_bytes = 100;
	l = open_log(f, &lc, 0);
	for (int i = 0; i < 60; i++) {
		int nrec = 1 + i % 3;

		/* records ts, ts+1, ...; the next batch starts 0..2 ms later */
		tu_append(l, nrec, ts, 30, (uint32_t)i, ts);
		for (int k = 0; k < nrec; k++)
			ts_of[n++] = ts + k;
		ts += nrec - 1 + i % 3;
	}
	assert_true(l->nsegs >= 3);
	for (int64_t q = 0; q <= ts_of[n - 1]; q++) {
		int64_t want = -1, off = -1, found = -1;

		for (int64_t o = 0; o < n && want < 0; o++)
			if (ts_of[o] >= q)
				want = o;
		assert_int_equal(log_offset_for_time(l, q, &off, &found), KLAB_OK);
		if (off != want)
			fail_msg("ts %" PRId64 ": offset %" PRId64 ", want %" PRId64, q, off, want);
		assert_true(found == ts_of[want]);
	}
	{
		int64_t off, found;

		assert_int_equal(log_offset_for_time(l, ts_of[n - 1] + 1, &off, &found),
				 KLAB_ENOTFOUND);
	}
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_flush_moves_recovery_point(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l = open_log(f, &lc, 0);

	assert_true(l->recovery_point == 0);
	tu_append(l, 3, 0, 10, 1, 0);
	tu_append(l, 2, 0, 10, 2, 0);
	assert_true(l->recovery_point == 0);
	assert_true(l->unflushed_messages == 5);
	assert_int_equal(log_flush(l, 50), KLAB_OK);
	assert_true(l->recovery_point == 5);
	assert_true(l->unflushed_messages == 0);
	assert_true(l->last_flush_ms == 50);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_flush_interval_messages_triggers_flush(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l;
	struct log_append_info a;

	lc.flush_interval_messages = 5;
	l = open_log(f, &lc, 0);
	a = tu_append(l, 2, 0, 10, 1, 0);
	assert_false(a.flushed);
	assert_true(l->recovery_point == 0);
	a = tu_append(l, 2, 0, 10, 2, 0);
	assert_false(a.flushed);
	assert_true(l->unflushed_messages == 4);
	a = tu_append(l, 2, 0, 10, 3, 0); /* 6 >= 5 */
	assert_true(a.flushed);
	assert_true(l->recovery_point == 6);
	assert_true(l->unflushed_messages == 0);
	a = tu_append(l, 5, 0, 10, 4, 0); /* exactly 5 */
	assert_true(a.flushed);
	assert_true(l->recovery_point == 11);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_flush_interval_ms(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log *l;

	lc.flush_interval_ms = 100;
	l = open_log(f, &lc, 1000);
	assert_false(tu_append(l, 1, 0, 10, 1, 1050).flushed);
	assert_int_equal(log_tick(l, 1099), KLAB_OK);
	assert_true(l->recovery_point == 0);
	assert_int_equal(log_tick(l, 1100), KLAB_OK);
	assert_true(l->recovery_point == 1);
	assert_true(l->last_flush_ms == 1100);
	assert_false(tu_append(l, 1, 0, 10, 2, 1150).flushed);
	assert_true(tu_append(l, 1, 0, 10, 3, 1200).flushed);
	assert_true(l->recovery_point == 3);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_append_time_stamps_max_timestamp(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_read_info ri;
	struct batch_header h;
	struct log *l;
	struct buf out;
	int64_t off, found;

	lc.log_append_time = true;
	l = open_log(f, &lc, 0);
	tu_append(l, 3, 5, 10, 1, 123456);
	tu_append(l, 2, 999999, 10, 2, 200000); /* the producer's clock is ignored */
	buf_init(&out);
	assert_int_equal(read_from(l, 0, SIZE_MAX, &out, &ri), 2);
	assert_int_equal(batch_validate(out.data, 12 + be32_read(out.data + 8), &h, NULL), KLAB_OK);
	assert_true(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
	assert_true(h.max_timestamp == 123456);
	assert_true(l->segs[0]->max_timestamp == 200000);
	assert_true(l->segs[0]->offset_of_max_timestamp == 4);
	/* time lookups see the append time, not the record timestamps */
	assert_int_equal(log_offset_for_time(l, 100, &off, &found), KLAB_OK);
	assert_true(off == 0 && found == 123456);
	assert_int_equal(log_offset_for_time(l, 123457, &off, &found), KLAB_OK);
	assert_true(off == 3 && found == 200000);
	assert_int_equal(log_offset_for_time(l, 200001, &off, &found), KLAB_ENOTFOUND);
	buf_free(&out);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_create_time_keeps_producer_timestamps(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_read_info ri;
	struct batch_header h;
	struct log *l = open_log(f, &lc, 0);
	struct buf out;

	tu_append(l, 3, 5, 10, 1, 123456);
	buf_init(&out);
	assert_int_equal(read_from(l, 0, SIZE_MAX, &out, &ri), 1);
	assert_int_equal(batch_validate(out.data, out.len, &h, NULL), KLAB_OK);
	assert_false(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
	assert_true(h.max_timestamp == 7);
	buf_free(&out);
	assert_int_equal(log_close(l), KLAB_OK);
}

/* A one-record batch of exactly size bytes, if the record format allows it. */
static bool
batch_of_size(struct buf *b, size_t size)
{
	for (size_t v = 0; v < size; v++) {
		if (tu_batch_make(b, 1, 0, v, 1) == size)
			return true;
	}
	return false;
}

static void
test_ch1_log_message_max_bytes_rejects_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct log_append_info info;
	struct kerr e = { 0 };
	struct log *l;
	struct buf b;
	long long file_before;
	size_t over;

	lc.max_message_bytes = 500;
	l = open_log(f, &lc, 0);
	tu_append(l, 2, 0, 10, 1, 0);
	file_before = tu_file_size(l->segs[0]->log_path);
	buf_init(&b);
	/* Kafka compares the whole batch (sizeInBytes, 12-byte overhead included) */
	assert_true(batch_of_size(&b, 500));
	assert_int_equal(log_append(l, b.data, b.len, 0, &info, &e), KLAB_OK);
	file_before += 500;
	for (over = 501; !batch_of_size(&b, over); over++)
		;
	assert_true(over <= 503);
	memset(&info, 0x5a, sizeof(info));
	assert_int_equal(log_append(l, b.data, b.len, 0, &info, &e), KLAB_ETOOLARGE);
	assert_non_null(strstr(e.msg, "message.max.bytes"));
	assert_true(info.first_offset == 0 && info.records == 0);
	assert_true(l->next_offset == 3);
	assert_int_equal(log_size_bytes(l), (uint64_t)file_before);
	assert_int_equal(tu_file_size(l->segs[0]->log_path), file_before);
	assert_true(be64_read(b.data) == 0); /* not even given an offset */
	tu_batch_make(&b, 1, 0, 5000, 1);
	assert_int_equal(log_append(l, b.data, b.len, 0, &info, &e), KLAB_ETOOLARGE);
	assert_true(l->next_offset == 3);
	assert_int_equal(tu_file_size(l->segs[0]->log_path), file_before);
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_append_rejects_invalid_batch(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct kerr e = { 0 };
	struct log *l = open_log(f, &lc, 0);
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, 2, 0, 20, 1);
	b.data[b.len - 3] ^= 1;
	assert_int_equal(log_append(l, b.data, b.len, 0, NULL, &e), KLAB_ECORRUPT);
	assert_non_null(strstr(e.msg, "CRC"));
	tu_batch_make(&b, 2, 0, 20, 1);
	assert_int_equal(log_append(l, b.data, b.len - 1, 0, NULL, &e), KLAB_ETRUNCATED);
	assert_int_equal(log_append(l, b.data, 10, 0, NULL, &e), KLAB_ETRUNCATED);
	assert_true(l->next_offset == 0);
	assert_int_equal(log_size_bytes(l), 0);
	assert_int_equal(tu_file_size(l->segs[0]->log_path), 0);
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_read_never_returns_corrupt_middle_batch(void **state)
{
	struct fixture *f = *state;
	struct log_config lc = tu_log_config();
	struct stored st = { 0 };
	struct log_read_info ri;
	struct log *l;
	struct buf out;
	char path[256];

	lc.index_interval_bytes = 1;
	l = open_log(f, &lc, 0);
	buf_init(&st.bytes);
	for (int i = 0; i < 5; i++)
		append_keep(l, &st, 3, 10, 40, 0);
	snprintf(path, sizeof(path), "%s", l->segs[0]->log_path);
	assert_int_equal(log_close(l), KLAB_OK);
	tu_file_flip(path, (long long)st.pos[2] + 70, 0x04);

	/* trusting a clean shutdown: no scan, but reads check every CRC */
	assert_int_equal(log_open(&l, disk_real(), f->logdir, &lc, 15, 0, true, 0, NULL), KLAB_OK);
	assert_true(l->next_offset == 15);
	buf_init(&out);
	assert_int_equal(log_read(l, 0, SIZE_MAX, &out, &ri), KLAB_OK);
	assert_int_equal(ri.batches, 2);
	assert_true(ri.stopped_at_corrupt);
	assert_int_equal(out.len, st.pos[2]);
	assert_memory_equal(out.data, st.bytes.data, out.len);
	for (int64_t o = 6; o < 9; o++) {
		buf_reset(&out);
		assert_int_equal(log_read(l, o, SIZE_MAX, &out, &ri), KLAB_ECORRUPT);
		assert_int_equal(ri.batches, 0);
		assert_int_equal(out.len, 0);
	}
	/* the batches after it are intact and still served */
	assert_int_equal(read_from(l, 9, SIZE_MAX, &out, &ri), 2);
	assert_memory_equal(out.data, st.bytes.data + st.pos[3], st.bytes.len - st.pos[3]);
	assert_int_equal(log_close(l), KLAB_OK);

	/* without the marker, recovery validates and cuts the log at batch 2 */
	assert_int_equal(log_open(&l, disk_real(), f->logdir, &lc, 0, 0, false, 0, NULL), KLAB_OK);
	assert_int_equal(l->report.segments_recovered, 1);
	assert_string_equal(l->report.why, "CRC mismatch");
	assert_true(l->next_offset == 6);
	assert_int_equal(log_size_bytes(l), st.pos[2]);
	assert_int_equal(read_from(l, 0, SIZE_MAX, &out, &ri), 2);
	assert_false(ri.stopped_at_corrupt);
	assert_int_equal(log_read(l, 9, SIZE_MAX, &out, &ri), KLAB_ERANGE);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

static void
test_ch1_log_reopen_after_close_keeps_everything(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct log_config lc = l->cfg;
	struct log_read_info ri;
	size_t nsegs = l->nsegs;
	int64_t end = l->next_offset;
	struct buf out;

	assert_int_equal(log_close(l), KLAB_OK);
	assert_int_equal(log_open(&l, disk_real(), f->logdir, &lc, end, 0, true, 0, NULL), KLAB_OK);
	assert_true(l->report.clean);
	assert_int_equal(l->report.segments_recovered, 0);
	assert_int_equal(l->report.segments, (int)nsegs);
	assert_true(l->next_offset == end);
	assert_true(l->recovery_point == end);
	buf_init(&out);
	assert_int_equal(read_from(l, 0, SIZE_MAX, &out, &ri), st.n);
	assert_int_equal(out.len, st.bytes.len);
	assert_memory_equal(out.data, st.bytes.data, out.len);
	/* and appends continue in the last segment */
	assert_true(tu_append(l, 1, 0, 10, 1, 0).first_offset == end);
	buf_free(&out);
	buf_free(&st.bytes);
	assert_int_equal(log_close(l), KLAB_OK);
}

/*
 * log_check_invariants passes on a healthy log and names the rule when the
 * in-memory state is broken by hand (each rule, then restored).
 */
static void
test_ch1_log_check_invariants_names_the_broken_rule(void **state)
{
	struct fixture *f = *state;
	struct stored st = { 0 };
	struct log *l = filled_log(f, &st);
	struct segment *s1 = l->segs[1];
	struct kerr e = { 0 };
	int64_t keep;
	size_t n;

	assert_int_equal(log_check_invariants(l, &e), KLAB_OK);
	keep = l->recovery_point;
	l->recovery_point = l->next_offset + 1;
	assert_int_equal(log_check_invariants(l, &e), KLAB_ESTATE);
	assert_non_null(strstr(kerr_msg(&e), "invariant 3"));
	l->recovery_point = keep;
	keep = s1->next_offset;
	s1->next_offset = l->segs[2]->base_offset + 1; /* overlaps the next segment */
	assert_int_equal(log_check_invariants(l, &e), KLAB_ESTATE);
	assert_non_null(strstr(kerr_msg(&e), "invariant 1"));
	s1->next_offset = keep;
	n = s1->oi.n;
	assert_true(n > 0);
	s1->size = index_entry_at(&s1->oi, n - 1).position; /* an entry past the file */
	assert_int_equal(log_check_invariants(l, &e), KLAB_ESTATE);
	assert_non_null(strstr(kerr_msg(&e), "invariant 2"));
	log_release(l);
	buf_free(&st.bytes);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch1_log_assigns_consecutive_offsets_across_batches),
		T(test_ch1_log_read_starts_with_batch_holding_offset),
		T(test_ch1_log_read_respects_max_bytes),
		T(test_ch1_log_read_out_of_range),
		T(test_ch1_log_read_region_is_whole_batches_of_one_segment),
		T(test_ch1_log_rolls_by_segment_bytes),
		T(test_ch1_log_oversized_batch_gets_its_own_segment),
		T(test_ch1_log_rolls_by_roll_ms),
		T(test_ch1_log_retention_by_time_deletes_oldest_segments),
		T(test_ch1_log_retention_when_everything_expired),
		T(test_ch1_log_retention_by_bytes_keeps_at_least_the_limit),
		T(test_ch1_log_retention_disabled_deletes_nothing),
		T(test_ch1_log_offset_for_time),
		T(test_ch1_log_flush_moves_recovery_point),
		T(test_ch1_log_flush_interval_messages_triggers_flush),
		T(test_ch1_log_flush_interval_ms),
		T(test_ch1_log_append_time_stamps_max_timestamp),
		T(test_ch1_log_create_time_keeps_producer_timestamps),
		T(test_ch1_log_message_max_bytes_rejects_and_writes_nothing),
		T(test_ch1_log_append_rejects_invalid_batch),
		T(test_ch1_log_read_never_returns_corrupt_middle_batch),
		T(test_ch1_log_reopen_after_close_keeps_everything),
		T(test_ch1_log_check_invariants_names_the_broken_rule),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
