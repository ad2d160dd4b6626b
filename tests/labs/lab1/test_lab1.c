/*
 * test_lab1.c - the graded tests of lab 1 (labs/lab1-log/README.md).
 *
 * Each test exercises one lab region through the code around it, and
 * builds what it needs without the other regions (segment files are
 * written byte by byte, indexes entry by entry), so a region is graded
 * on its own.  tests/labs/lab1/points gives each test its points.
 *
 * Assertions say in words what was expected (labs/check.h).
 *
 *   --list                   print the test names
 *   KLAB_TEST_FILTER=NAME    run only the test NAME (tools/grade.sh does)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "log/batch.h"
#include "log/index.h"
#include "log/log.h"
#include "log/segment.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

#include "labs/check.h"

/* A fresh directory for one test; removed with rm_tree at the end. */
static char *
temp_dir(void)
{
	char *d = strdup("/tmp/klab-lab1-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void
rm_tree(char *d)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

/* Append to out a batch of n records at base_offset ("k<i>" -> "value-<i>"). */
static void
make_batch(struct buf *out, int64_t base_offset, int n, int64_t ts)
{
	struct batch_builder bb;
	char key[32], value[64];

	batch_builder_begin(&bb, out, base_offset, ts, 0);
	for (int i = 0; i < n; i++) {
		struct record_in r = { 0 };

		r.kv.key = (const uint8_t *)key;
		r.kv.key_len = snprintf(key, sizeof(key), "k%d", i);
		r.kv.value = (const uint8_t *)value;
		r.kv.value_len =
			snprintf(value, sizeof(value), "value-%lld-%d", (long long)base_offset, i);
		r.timestamp = ts + i;
		batch_builder_add(&bb, &r);
	}
	assert_int_equal(batch_builder_finish(&bb), KLAB_OK);
}

static struct log_config
small_config(void)
{
	struct log_config lc;

	log_config_defaults(&lc);
	lc.index_interval_bytes = 100;
	return lc;
}

/* ---- assign_offsets ----------------------------------------------------- */

static void
test_lab1_append_assigns_consecutive_offsets(void **state)
{
	char *dir = temp_dir();
	struct log_config lc = small_config();
	struct log *l;
	struct log_append_info in;
	struct buf b;

	(void)state;
	CHECK_OK(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), "log_open");
	buf_init(&b);
	make_batch(&b, 0, 3, 1000);
	CHECK_OK(log_append(l, b.data, b.len, 1000, &in, NULL), "log_append of 3 records");
	CHECK_EQ(in.first_offset, 0, "first offset of the first batch in an empty log",
		 "an empty log starts at offset 0");
	CHECK_EQ(in.last_offset, 2, "last offset of a first batch of 3 records",
		 "the last offset is the base offset plus last_offset_delta");
	buf_reset(&b);
	make_batch(&b, 999, 2, 1000); /* the producer's base offset is ignored */
	CHECK_OK(log_append(l, b.data, b.len, 1000, &in, NULL), "log_append of 2 more records");
	CHECK_EQ(in.first_offset, 3, "first offset of a batch the producer numbered 999",
		 "the log, not the producer, numbers records: the next offset is the log's");
	CHECK_EQ(in.last_offset, 4, "last offset of that batch of 2 records",
		 "the batch ends at its base offset plus last_offset_delta");
	CHECK_EQ(l->next_offset, 5, "the log's next_offset after 5 records",
		 "did you move next_offset past the batch's last offset?");
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
	rm_tree(dir);
}

/* Read the whole segment file at base 0 of dir into out. */
static void
read_segment(const char *dir, struct buf *out)
{
	char path[4200], chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/00000000000000000000.log", dir);
	f = fopen(path, "rb");
	CHECK_TRUE(f != NULL, "the log's first segment file 00000000000000000000.log is missing");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(out, chunk, n);
	assert_int_equal(fclose(f), 0);
}

static void
test_lab1_append_rewrites_base_offset_in_batch(void **state)
{
	char *dir = temp_dir();
	struct log_config lc = small_config();
	struct batch_header h;
	struct log *l;
	struct buf b, r;
	size_t pos = 0;

	(void)state;
	CHECK_OK(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), "log_open");
	buf_init(&b);
	buf_init(&r);
	for (int i = 0; i < 3; i++) {
		buf_reset(&b);
		make_batch(&b, 7, 4, 1000); /* the producer says 7 every time */
		CHECK_OK(log_append(l, b.data, b.len, 1000, NULL, NULL), "log_append of 4 records");
	}
	CHECK_OK(log_close(l), "log_close");
	read_segment(dir, &r); /* the bytes on disk, not the log's memory */
	for (int i = 0; i < 3; i++) {
		CHECK_OK(batch_header_parse(r.data + pos, r.len - pos, &h),
			 "parsing a batch on disk");
		CHECK_EQF(
			h.base_offset, 4 * i,
			"did you write it into the batch (batch_set_base_offset) before appending?",
			"base offset of batch %d on disk", i + 1);
		CHECK_OK(batch_validate(r.data + pos, batch_size(&h), &h, NULL),
			 "batch_validate of a batch on disk (its CRC does not cover the base "
			 "offset)");
		pos += batch_size(&h);
	}
	CHECK_EQ(pos, r.len, "bytes in the segment file after 3 batches", "one batch per append");
	buf_free(&b);
	buf_free(&r);
	rm_tree(dir);
}

static void
test_lab1_offsets_continue_after_reopen(void **state)
{
	char *dir = temp_dir();
	struct log_config lc = small_config();
	struct log_append_info in;
	struct log *l;
	struct buf b;

	(void)state;
	buf_init(&b);
	CHECK_OK(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), "log_open");
	make_batch(&b, 42, 5, 1000); /* a producer's base offset that is not 0 */
	CHECK_OK(log_append(l, b.data, b.len, 1000, NULL, NULL), "log_append of 5 records");
	CHECK_OK(log_close(l), "log_close");
	CHECK_OK(log_open(&l, disk_real(), dir, &lc, 5, 0, true, 2000, NULL),
		 "log_open of the log again");
	CHECK_EQ(l->next_offset, 5, "next_offset after reopening a log of 5 records",
		 "reopening reads the offsets written on disk: did the batch on disk get base "
		 "offset 0, or keep the producer's 42?");
	buf_reset(&b);
	make_batch(&b, 0, 1, 2000);
	CHECK_OK(log_append(l, b.data, b.len, 2000, &in, NULL), "log_append after reopening");
	CHECK_EQ(in.first_offset, 5, "first offset appended after reopening a log of 5 records",
		 "offsets continue where the log on disk ends");
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
	rm_tree(dir);
}

/* ---- index_slot_floor --------------------------------------------------- */

static void
test_lab1_slot_floor_cases(void **state)
{
	static const int64_t keys[] = { 10, 20, 30, 40 };
	static const int64_t one[] = { 7 };
	static const struct {
		const int64_t *keys;
		size_t n;
		const char *name;
		int64_t target;
		long want;
	} cases[] = {
		{ keys, 4, "{10, 20, 30, 40}", 5, -1 },
		{ keys, 4, "{10, 20, 30, 40}", 10, 0 },
		{ keys, 4, "{10, 20, 30, 40}", 15, 0 },
		{ keys, 4, "{10, 20, 30, 40}", 25, 1 },
		{ keys, 4, "{10, 20, 30, 40}", 30, 2 },
		{ keys, 4, "{10, 20, 30, 40}", 40, 3 },
		{ keys, 4, "{10, 20, 30, 40}", 1000, 3 },
		{ keys, 0, "{}", 10, -1 },
		{ one, 1, "{7}", 6, -1 },
		{ one, 1, "{7}", 7, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQF(index_slot_floor(cases[i].keys, cases[i].n, cases[i].target),
			  cases[i].want,
			  "the slot of the last key <= target, or -1 when every key is greater",
			  "index_slot_floor(%s, target %lld)", cases[i].name,
			  (long long)cases[i].target);
}

static void
test_lab1_slot_floor_many_keys(void **state)
{
	enum { N = 10007 };
	int64_t *keys = malloc(N * sizeof(*keys));
	uint32_t x = 12345;

	(void)state;
	assert_non_null(keys);
	for (int i = 0; i < N; i++)
		keys[i] = 2 * (int64_t)i + 1; /* odd numbers 1, 3, 5, ... */
	for (int k = 0; k < 2000; k++) {
		int64_t target;
		long want;

		x = x * 1103515245u + 12345u;
		target = (int64_t)(x % (2 * N + 4)) - 1;
		want = target < 1 ? -1 : (long)((target - 1) / 2);
		if (want >= N)
			want = N - 1;
		CHECK_EQF(index_slot_floor(keys, N, target), want,
			  "the slot of the last key <= target, or -1 when every key is greater",
			  "index_slot_floor(keys 1, 3, 5, ..., %d, target %lld)", 2 * N - 1,
			  (long long)target);
	}
	free(keys);
}

static void
test_lab1_index_lookup_finds_floor_entry(void **state)
{
	char *dir = temp_dir();
	char path[4200];
	struct index ix;
	struct index_entry en;

	(void)state;
	snprintf(path, sizeof(path), "%s/00000000000000000100.index", dir);
	assert_int_equal(index_open(&ix, disk_real(), INDEX_OFFSET, path, 100, 1 << 20, NULL),
			 KLAB_OK);
	for (int i = 1; i <= 50; i++)
		assert_int_equal(index_append_offset(&ix, 100 + 10 * i, (uint32_t)(1000 * i)),
				 KLAB_OK);
	en = index_lookup(&ix, 255); /* entries at 250 and 260: the floor is 250 */
	CHECK_EQ(en.offset, 250, "index_lookup(255) in entries 110, 120, ..., 600",
		 "the entry of the last offset <= 255");
	CHECK_EQ(en.position, 15000, "position of the entry for 250", "the floor entry's position");
	en = index_lookup(&ix, 600);
	CHECK_EQ(en.offset, 600, "index_lookup(600), the last entry",
		 "an exact match is its own floor");
	CHECK_EQ(en.position, 50000, "position of the entry for 600", "the floor entry's position");
	en = index_lookup(&ix, 105); /* below the first entry: the segment start */
	CHECK_EQ(en.offset, 100, "index_lookup(105), below the first entry (110)",
		 "no key <= target: the slot is -1 and the lookup answers the segment's base");
	CHECK_EQ(en.position, 0, "position for a target below the first entry",
		 "the segment start");
	index_close(&ix);
	rm_tree(dir);
}

/* ---- recover_scan ------------------------------------------------------- */

/* Write a segment file at base 0 from the bytes in b. */
static void
write_segment(const char *dir, const struct buf *b)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/00000000000000000000.log", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
}

/* n batches of 2 records each, offsets 0, 2, 4, ...; sizes in sizes[]. */
static void
batches(struct buf *b, int n, size_t *sizes)
{
	for (int i = 0; i < n; i++) {
		size_t before = b->len;

		make_batch(b, 2 * i, 2, 1000 + i);
		sizes[i] = b->len - before;
	}
}

static struct segment *
open_segment(const char *dir, uint32_t interval)
{
	struct segment *s;

	assert_int_equal(segment_open(&s, disk_real(), dir, 0, interval, 1 << 20, 0, NULL),
			 KLAB_OK);
	return s;
}

static void
test_lab1_recovery_truncates_torn_tail(void **state)
{
	char *dir = temp_dir();
	struct segment_recovery rep;
	struct segment *s;
	size_t sizes[4];
	struct buf b;

	(void)state;
	buf_init(&b);
	batches(&b, 4, sizes);
	b.len -= sizes[3] / 2; /* the power went out halfway through batch 4 */
	write_segment(dir, &b);
	s = open_segment(dir, 4096);
	CHECK_OK(segment_recover(s, 1 << 20, &rep), "segment_recover of a torn tail");
	CHECK_EQ(rep.batches, 3, "batches kept of 4, the last one torn in half",
		 "a torn batch at the end ends the valid prefix");
	CHECK_EQ(rep.valid_bytes, sizes[0] + sizes[1] + sizes[2], "valid_bytes",
		 "the three whole batches");
	CHECK_EQ(rep.truncated_bytes, sizes[3] - sizes[3] / 2, "truncated_bytes",
		 "the half batch that reached the disk");
	CHECK_EQ(s->size, rep.valid_bytes, "the segment's size after recovery",
		 "the file is cut after the last valid batch");
	CHECK_EQ(s->next_offset, 6, "next_offset after 3 batches of 2 records",
		 "did note_batch run for each kept batch?");
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
}

static void
test_lab1_recovery_stops_at_corrupt_batch(void **state)
{
	char *dir = temp_dir();
	struct segment_recovery rep;
	struct segment *s;
	size_t sizes[4];
	struct buf b;

	(void)state;
	buf_init(&b);
	batches(&b, 4, sizes);
	b.data[sizes[0] + sizes[1] + sizes[2] - 3] ^= 0x40; /* inside batch 3's last value */
	write_segment(dir, &b);
	s = open_segment(dir, 4096);
	CHECK_OK(segment_recover(s, 1 << 20, &rep), "segment_recover of a corrupt batch");
	CHECK_EQ(rep.batches, 2, "batches kept of 4, the third one with a flipped bit",
		 "recovery keeps only the prefix before the first invalid batch (its CRC fails)");
	CHECK_EQ(s->size, sizes[0] + sizes[1], "the segment's size after recovery",
		 "the file is cut at the corrupt batch");
	CHECK_EQ(rep.truncated_bytes, sizes[2] + sizes[3], "truncated_bytes",
		 "everything from the corrupt batch on, the valid batch after it too");
	CHECK_EQ(s->next_offset, 4, "next_offset after 2 batches of 2 records",
		 "only kept batches count");
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
}

static void
test_lab1_recovery_rebuilds_index(void **state)
{
	char *dir = temp_dir();
	struct segment_recovery rep;
	struct batch_header h;
	struct segment *s;
	size_t sizes[40];
	struct buf b;

	(void)state;
	buf_init(&b);
	batches(&b, 40, sizes);
	write_segment(dir, &b);
	s = open_segment(dir, 200);
	CHECK_OK(segment_recover(s, 1 << 20, &rep), "segment_recover of 40 batches");
	CHECK_EQ(rep.batches, 40, "batches kept of 40 valid ones", "a valid log is kept whole");
	CHECK_TRUE(s->oi.n >= 5,
		   "the offset index has fewer than 5 entries after recovering 40 "
		   "batches with index.interval.bytes 200: did note_batch run for each?");
	for (size_t i = 0; i < s->oi.n; i++) { /* each entry names a batch start */
		struct index_entry en = index_entry_at(&s->oi, i);

		CHECK_OK(segment_header_at(s, en.position, &h),
			 "reading the batch an entry points at");
		CHECK_EQF(batch_last_offset(&h), en.offset, "each entry names a batch's start",
			  "offset of index entry %zu, against its batch's last offset", i);
	}
	CHECK_TRUE(s->ti.n >= 1, "the time index is empty after recovering 40 batches");
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
}

static void
test_lab1_recovery_keeps_valid_log(void **state)
{
	char *dir = temp_dir();
	struct segment_recovery rep;
	struct segment *s;
	size_t sizes[6];
	struct buf b;

	(void)state;
	buf_init(&b);
	batches(&b, 6, sizes);
	write_segment(dir, &b);
	s = open_segment(dir, 4096);
	CHECK_OK(segment_recover(s, 1 << 20, &rep), "segment_recover of a valid log");
	CHECK_EQ(rep.batches, 6, "batches kept of 6 valid ones", "a valid log is kept whole");
	CHECK_EQ(rep.truncated_bytes, 0, "truncated_bytes of a valid log", "nothing is cut");
	CHECK_EQ(s->size, b.len, "the segment's size", "a valid log keeps its size");
	CHECK_EQ(s->next_offset, 12, "next_offset after 6 batches of 2 records",
		 "the last batch's last offset plus one");
	CHECK_EQ(s->max_timestamp, 1000 + 5 + 1, "max_timestamp",
		 "the largest record timestamp of the kept batches");
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
}

static void
test_lab1_recovery_stops_at_backwards_offsets(void **state)
{
	char *dir = temp_dir();
	struct segment_recovery rep;
	struct segment *s;
	size_t sizes[3], again;
	struct buf b;

	(void)state;
	buf_init(&b);
	batches(&b, 3, sizes); /* offsets 0-1, 2-3, 4-5 */
	again = b.len;
	make_batch(&b, 2, 2, 2000); /* valid on its own, but offsets 2-3 again */
	again = b.len - again;
	make_batch(&b, 6, 2, 2001);
	write_segment(dir, &b);
	s = open_segment(dir, 4096);
	CHECK_OK(segment_recover(s, 1 << 20, &rep), "segment_recover");
	CHECK_EQ(
		rep.batches, 3, "batches kept when the fourth repeats offsets 2-3",
		"a batch whose base offset is below next_offset is invalid (offsets go backwards)");
	CHECK_EQ(rep.truncated_bytes, again + (b.len - again - sizes[0] - sizes[1] - sizes[2]),
		 "truncated_bytes", "everything from the backwards batch on is cut");
	CHECK_EQ(s->next_offset, 6, "next_offset", "the kept batches end at offset 5");
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
}

/*
 * A read that fails is not a corrupt batch: recovery must return the
 * error and leave the file alone, never cut good data.  Every read of the
 * simulated disk fails with probability 1/3, for 20 seeds.
 */
static void
test_lab1_recovery_read_error_is_not_corruption(void **state)
{
	size_t sizes[8];
	struct buf b;
	int failed = 0;

	(void)state;
	buf_init(&b);
	batches(&b, 8, sizes);
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct disk_sim *d = disk_sim_new(seed);
		struct disk_faults f = { 0 };
		struct segment_recovery rep;
		struct segment *s;
		uint64_t size = 0;
		enum fs_kind kind;
		int rc;

		assert_non_null(d);
		CHECK_OK(fs_mkdir(disk_sim_fs(d), "/log", NULL), "fs_mkdir on the simulated disk");
		CHECK_OK(fs_write_file_atomic(disk_sim_fs(d), "/log/00000000000000000000.log",
					      b.data, b.len, NULL),
			 "writing the segment on the simulated disk");
		CHECK_OK(segment_open(&s, disk_sim_fs(d), "/log", 0, 4096, 1 << 20, 0, NULL),
			 "segment_open");
		f.read_eio = 1.0 / 3;
		disk_sim_set_faults(d, &f);
		rc = segment_recover(s, 1 << 20, &rep);
		disk_sim_set_faults(d, &(struct disk_faults){ 0 });
		CHECK_OK(fs_stat(disk_sim_fs(d), "/log/00000000000000000000.log", &kind, &size,
				 NULL),
			 "fs_stat of the segment");
		CHECK_EQF(size, b.len,
			  "a read error (KLAB_EIO) is not corruption: return it, cut nothing",
			  "size of a valid segment of 8 batches after a recovery whose reads fail "
			  "(seed %llu, recovery returned %s)",
			  (unsigned long long)seed, klab_strerror(rc));
		if (rc == KLAB_OK)
			CHECK_EQF(rep.batches, 8, "a valid segment is kept whole",
				  "batches kept by a recovery that returned KLAB_OK (seed %llu)",
				  (unsigned long long)seed);
		else
			CHECK_RC(rc, KLAB_EIO, "a failed read is reported, as the disk's error",
				 "error returned by a recovery whose reads fail (seed %llu)",
				 (unsigned long long)seed);
		failed += rc != KLAB_OK;
		segment_close(s);
		disk_sim_free(d);
	}
	CHECK_TRUE(failed > 0, "no recovery met a read error: the test does not test anything");
	buf_free(&b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab1_append_assigns_consecutive_offsets),
		cmocka_unit_test(test_lab1_append_rewrites_base_offset_in_batch),
		cmocka_unit_test(test_lab1_offsets_continue_after_reopen),
		cmocka_unit_test(test_lab1_slot_floor_cases),
		cmocka_unit_test(test_lab1_slot_floor_many_keys),
		cmocka_unit_test(test_lab1_index_lookup_finds_floor_entry),
		cmocka_unit_test(test_lab1_recovery_truncates_torn_tail),
		cmocka_unit_test(test_lab1_recovery_stops_at_corrupt_batch),
		cmocka_unit_test(test_lab1_recovery_rebuilds_index),
		cmocka_unit_test(test_lab1_recovery_keeps_valid_log),
		cmocka_unit_test(test_lab1_recovery_stops_at_backwards_offsets),
		cmocka_unit_test(test_lab1_recovery_read_error_is_not_corruption),
	};
	const char *filter = getenv("KLAB_TEST_FILTER");

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (filter != NULL)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
