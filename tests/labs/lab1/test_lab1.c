/*
 * test_lab1.c - the graded tests of lab 1 (labs/lab1-log/README.md).
 *
 * Each test exercises one lab region through the code around it, and
 * builds what it needs without the other regions (segment files are
 * written byte by byte, indexes entry by entry), so a region is graded
 * on its own.  tests/labs/lab1/points gives each test its points.
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
	assert_int_equal(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), KLAB_OK);
	buf_init(&b);
	make_batch(&b, 0, 3, 1000);
	assert_int_equal(log_append(l, b.data, b.len, 1000, &in, NULL), KLAB_OK);
	assert_int_equal(in.first_offset, 0);
	assert_int_equal(in.last_offset, 2);
	buf_reset(&b);
	make_batch(&b, 999, 2, 1000); /* the producer's base offset is ignored */
	assert_int_equal(log_append(l, b.data, b.len, 1000, &in, NULL), KLAB_OK);
	assert_int_equal(in.first_offset, 3);
	assert_int_equal(in.last_offset, 4);
	assert_int_equal(l->next_offset, 5);
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
	rm_tree(dir);
}

static void
test_lab1_append_rewrites_base_offset_in_batch(void **state)
{
	char *dir = temp_dir();
	struct log_config lc = small_config();
	struct log_read_info ri;
	struct batch_header h;
	struct log *l;
	struct buf b, r;

	(void)state;
	assert_int_equal(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), KLAB_OK);
	buf_init(&b);
	buf_init(&r);
	for (int i = 0; i < 3; i++) {
		buf_reset(&b);
		make_batch(&b, 0, 4, 1000);
		assert_int_equal(log_append(l, b.data, b.len, 1000, NULL, NULL), KLAB_OK);
	}
	assert_int_equal(log_read(l, 9, 1, &r, &ri), KLAB_OK);
	assert_int_equal(ri.batches, 1);
	assert_int_equal(batch_validate(r.data, r.len, &h, NULL), KLAB_OK);
	assert_int_equal(h.base_offset, 8); /* on disk, not just in memory */
	assert_int_equal(batch_last_offset(&h), 11);
	buf_free(&b);
	buf_free(&r);
	assert_int_equal(log_close(l), KLAB_OK);
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
	assert_int_equal(log_open(&l, disk_real(), dir, &lc, 0, 0, true, 1000, NULL), KLAB_OK);
	make_batch(&b, 0, 5, 1000);
	assert_int_equal(log_append(l, b.data, b.len, 1000, NULL, NULL), KLAB_OK);
	assert_int_equal(log_close(l), KLAB_OK);
	assert_int_equal(log_open(&l, disk_real(), dir, &lc, 5, 0, true, 2000, NULL), KLAB_OK);
	buf_reset(&b);
	make_batch(&b, 0, 1, 2000);
	assert_int_equal(log_append(l, b.data, b.len, 2000, &in, NULL), KLAB_OK);
	assert_int_equal(in.first_offset, 5);
	buf_free(&b);
	assert_int_equal(log_close(l), KLAB_OK);
	rm_tree(dir);
}

/* ---- index_slot_floor --------------------------------------------------- */

static void
test_lab1_slot_floor_cases(void **state)
{
	const int64_t keys[] = { 10, 20, 30, 40 };
	const int64_t one[] = { 7 };

	(void)state;
	assert_int_equal(index_slot_floor(keys, 4, 5), -1);
	assert_int_equal(index_slot_floor(keys, 4, 10), 0);
	assert_int_equal(index_slot_floor(keys, 4, 15), 0);
	assert_int_equal(index_slot_floor(keys, 4, 25), 1);
	assert_int_equal(index_slot_floor(keys, 4, 30), 2);
	assert_int_equal(index_slot_floor(keys, 4, 40), 3);
	assert_int_equal(index_slot_floor(keys, 4, 1000), 3);
	assert_int_equal(index_slot_floor(keys, 0, 10), -1);
	assert_int_equal(index_slot_floor(one, 1, 6), -1);
	assert_int_equal(index_slot_floor(one, 1, 7), 0);
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
		assert_int_equal(index_slot_floor(keys, N, target), want);
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
	assert_int_equal(en.offset, 250);
	assert_int_equal(en.position, 15000);
	en = index_lookup(&ix, 600);
	assert_int_equal(en.offset, 600);
	assert_int_equal(en.position, 50000);
	en = index_lookup(&ix, 105); /* below the first entry: the segment start */
	assert_int_equal(en.offset, 100);
	assert_int_equal(en.position, 0);
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
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 3);
	assert_int_equal(rep.valid_bytes, sizes[0] + sizes[1] + sizes[2]);
	assert_int_equal(rep.truncated_bytes, sizes[3] - sizes[3] / 2);
	assert_int_equal(s->size, rep.valid_bytes);
	assert_int_equal(s->next_offset, 6);
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
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 2);
	assert_int_equal(s->size, sizes[0] + sizes[1]);
	assert_int_equal(rep.truncated_bytes, sizes[2] + sizes[3]);
	assert_int_equal(s->next_offset, 4);
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
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 40);
	assert_true(s->oi.n >= 5);
	for (size_t i = 0; i < s->oi.n; i++) { /* each entry names a batch start */
		struct index_entry en = index_entry_at(&s->oi, i);

		assert_int_equal(segment_header_at(s, en.position, &h), KLAB_OK);
		assert_int_equal(batch_last_offset(&h), en.offset);
	}
	assert_true(s->ti.n >= 1);
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
	assert_int_equal(segment_recover(s, 1 << 20, &rep), KLAB_OK);
	assert_int_equal(rep.batches, 6);
	assert_int_equal(rep.truncated_bytes, 0);
	assert_int_equal(s->size, b.len);
	assert_int_equal(s->next_offset, 12);
	assert_int_equal(s->max_timestamp, 1000 + 5 + 1);
	segment_close(s);
	buf_free(&b);
	rm_tree(dir);
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
