/*
 * test_producer_state.c - the idempotent producer's rules on the log
 * (KIP-98; src/log/producer_state.h): every branch of the sequence and
 * epoch checks, the snapshot file (Kafka's ProducerStateManager format)
 * and its corruption, and recovery through the simulated disk: a crash
 * after a roll rebuilds the state from the snapshot plus the batches after
 * it, and a retry after the restart is still found to be a duplicate.
 */
#include "testutil.h"

#include "core/crc32c.h"
#include "log/producer_state.h"
#include "net/disk_sim.h"

#define PID 4000
#define DIR "/data/t-0"

/* A header as the producer sends it: n records from seq. */
static struct batch_header
hdr(int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t base_offset)
{
	struct batch_header h = { 0 };

	h.producer_id = pid;
	h.producer_epoch = epoch;
	h.base_sequence = seq;
	h.last_offset_delta = n - 1;
	h.record_count = n;
	h.base_offset = base_offset;
	h.max_timestamp = 1000;
	return h;
}

/* Record an appended batch; returns the next offset. */
static int64_t
appended(struct pstate *ps, int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t off)
{
	struct batch_header h = hdr(pid, epoch, seq, n, off);

	assert_int_equal(pstate_check(ps, &h, NULL, NULL), PSTATE_APPEND);
	assert_int_equal(pstate_update(ps, &h), KLAB_OK);
	return off + n;
}

static enum pstate_verdict
verdict(const struct pstate *ps, int64_t pid, int16_t epoch, int32_t seq, int32_t n)
{
	struct batch_header h = hdr(pid, epoch, seq, n, 0);

	return pstate_check(ps, &h, NULL, NULL);
}

/* ---- the rules (ProducerAppendInfo.checkSequence / checkProducerEpoch) --- */

static void
test_ch1_pstate_next_sequence_appends_and_gap_is_out_of_order(void **state)
{
	struct pstate ps;

	(void)state;
	pstate_init(&ps, 0);
	appended(&ps, PID, 0, 0, 3, 0); /* seqs 0..2 */
	assert_int_equal(verdict(&ps, PID, 0, 3, 1), PSTATE_APPEND);
	assert_int_equal(verdict(&ps, PID, 0, 4, 1), PSTATE_OUT_OF_ORDER); /* a gap */
	assert_int_equal(verdict(&ps, PID, 0, 2, 1), PSTATE_OUT_OF_ORDER); /* overlaps */
	assert_int_equal(verdict(&ps, PID, 0, 1, 2), PSTATE_OUT_OF_ORDER); /* not a batch it has */
	pstate_free(&ps);
}

static void
test_ch1_pstate_duplicate_of_each_of_the_last_five(void **state)
{
	struct pstate ps;
	struct pstate_batch dup;
	struct batch_header h;
	int64_t off = 100;

	(void)state;
	pstate_init(&ps, 0);
	for (int i = 0; i < 6; i++) /* batches of 2: seqs 0-1, 2-3, ... 10-11 */
		off = appended(&ps, PID, 0, 2 * i, 2, off);
	for (int i = 1; i < 6; i++) {
		h = hdr(PID, 0, 2 * i, 2, 0);
		assert_int_equal(pstate_check(&ps, &h, &dup, NULL), PSTATE_DUPLICATE);
		assert_int_equal(dup.first_offset, 100 + 2 * i);
		assert_int_equal(dup.last_offset, 101 + 2 * i);
	}
	/* the sixth-newest is forgotten: it is merely out of order now */
	assert_int_equal(verdict(&ps, PID, 0, 0, 2), PSTATE_OUT_OF_ORDER);
	/* a duplicate needs the same epoch: the same seqs at epoch 1 are a new epoch not at 0 */
	assert_int_equal(verdict(&ps, PID, 1, 10, 2), PSTATE_OUT_OF_ORDER);
	pstate_free(&ps);
}

static void
test_ch1_pstate_epochs(void **state)
{
	struct pstate ps;

	(void)state;
	pstate_init(&ps, 0);
	appended(&ps, PID, 5, 0, 1, 0);
	assert_int_equal(verdict(&ps, PID, 4, 1, 1), PSTATE_STALE_EPOCH);
	assert_int_equal(verdict(&ps, PID, 4, 0, 1), PSTATE_STALE_EPOCH);
	assert_int_equal(verdict(&ps, PID, 6, 1, 1), PSTATE_OUT_OF_ORDER); /* new epoch, not 0 */
	appended(&ps, PID, 6, 0, 1, 1);					   /* new epoch at 0 */
	assert_int_equal(pstate_find(&ps, PID)->epoch, 6);
	assert_int_equal(pstate_find(&ps, PID)->nbatches, 1); /* the old epoch's batches go */
	assert_int_equal(verdict(&ps, PID, 5, 1, 1), PSTATE_STALE_EPOCH);
	pstate_free(&ps);
}

/* Kafka 2.5+ (KIP-360): a producer the partition does not know may start anywhere. */
static void
test_ch1_pstate_unknown_producer_accepted_at_any_sequence(void **state)
{
	struct pstate ps;

	(void)state;
	pstate_init(&ps, 0);
	assert_int_equal(verdict(&ps, PID, 0, 17, 1), PSTATE_APPEND);
	appended(&ps, PID, 0, 17, 1, 0);
	assert_int_equal(verdict(&ps, PID, 0, 18, 1), PSTATE_APPEND);
	assert_int_equal(verdict(&ps, PID + 1, 3, 0, 1), PSTATE_APPEND); /* others unaffected */
	pstate_free(&ps);
}

static void
test_ch1_pstate_sequence_wraps_at_int32_max(void **state)
{
	struct pstate ps;
	struct pstate_batch dup;
	struct batch_header h;

	(void)state;
	assert_int_equal(pstate_last_seq(INT32_MAX, 0), INT32_MAX);
	assert_int_equal(pstate_last_seq(INT32_MAX - 1, 3), 1);
	pstate_init(&ps, 0);
	appended(&ps, PID, 0, INT32_MAX - 1, 3, 0); /* MAX-1, MAX, 0 */
	assert_int_equal(pstate_find(&ps, PID)->b[0].last_seq, 0);
	assert_int_equal(verdict(&ps, PID, 0, 1, 1), PSTATE_APPEND);
	h = hdr(PID, 0, INT32_MAX - 1, 3, 0);
	assert_int_equal(pstate_check(&ps, &h, &dup, NULL), PSTATE_DUPLICATE);
	pstate_clear(&ps);
	appended(&ps, PID, 0, INT32_MAX, 1, 0);
	assert_int_equal(verdict(&ps, PID, 0, 0, 1), PSTATE_APPEND); /* inSequence's wrap */
	pstate_free(&ps);
}

static void
test_ch1_pstate_bounded_and_expiring(void **state)
{
	struct pstate ps;
	const char *why;

	(void)state;
	pstate_init(&ps, 0);
	ps.max_producers = 4;
	for (int i = 0; i < 10; i++) {
		struct batch_header h = hdr(PID + i, 0, 0, 1, i);

		h.max_timestamp = 1000 + i;
		assert_int_equal(pstate_update(&ps, &h), KLAB_OK);
	}
	assert_int_equal(ps.n, 4); /* the idlest went first */
	assert_null(pstate_find(&ps, PID + 5));
	assert_non_null(pstate_find(&ps, PID + 9));
	assert_int_equal(pstate_check_invariants(&ps, &why), KLAB_OK);
	pstate_expire(&ps, 1007 + PSTATE_EXPIRATION_MS); /* idle >= 86400000 ms: gone */
	assert_int_equal(ps.n, 2);
	assert_non_null(pstate_find(&ps, PID + 8));
	pstate_free(&ps);
}

/* ---- the snapshot file -------------------------------------------------- */

static void
test_ch1_pstate_snapshot_is_kafkas_format(void **state)
{
	struct pstate ps, back;
	struct buf b;
	const uint8_t *p;

	(void)state;
	pstate_init(&ps, 0);
	pstate_init(&back, 0);
	appended(&ps, PID, 2, 0, 3, 10); /* 10..12 */
	appended(&ps, PID, 2, 3, 2, 20); /* 20..21, seqs 3..4 */
	appended(&ps, 7, 0, 100, 1, 30); /* unknown start */
	buf_init(&b);
	assert_int_equal(pstate_snapshot_encode(&ps, &b), KLAB_OK);
	assert_int_equal(b.len, 10 + 2 * 46);
	p = b.data;
	assert_int_equal(be16_read(p), 1);				 /* version */
	assert_int_equal(be32_read(p + 2), crc32c(0, p + 6, b.len - 6)); /* crc */
	assert_int_equal(be32_read(p + 6), 2);				 /* entries, by id */
	p += 10;
	assert_int_equal((int64_t)be64_read(p), 7);
	p += 46;
	assert_int_equal((int64_t)be64_read(p), PID);	    /* producer_id */
	assert_int_equal((int16_t)be16_read(p + 8), 2);	    /* epoch */
	assert_int_equal((int32_t)be32_read(p + 10), 4);    /* last_sequence */
	assert_int_equal((int64_t)be64_read(p + 14), 21);   /* last_offset */
	assert_int_equal((int32_t)be32_read(p + 22), 1);    /* offset_delta */
	assert_int_equal((int64_t)be64_read(p + 26), 1000); /* timestamp */
	assert_int_equal((int32_t)be32_read(p + 34), -1);   /* coordinator_epoch */
	assert_int_equal((int64_t)be64_read(p + 38), -1);   /* current_txn_first_offset */
	assert_int_equal(pstate_snapshot_decode(&back, b.data, b.len, NULL), KLAB_OK);
	assert_int_equal(back.n, 2);
	assert_int_equal(pstate_find(&back, PID)->b[0].first_seq, 3);
	assert_int_equal(pstate_find(&back, PID)->b[0].first_offset, 20);
	assert_int_equal(verdict(&back, PID, 2, 5, 1), PSTATE_APPEND);
	assert_int_equal(verdict(&back, PID, 2, 3, 2), PSTATE_DUPLICATE);
	buf_free(&b);
	pstate_free(&ps);
	pstate_free(&back);
}

/* Every flipped byte and every truncation is refused, and leaves no state. */
static void
test_ch1_pstate_snapshot_corruption_refused(void **state)
{
	struct pstate ps, back;
	const char *why;
	struct buf b;

	(void)state;
	pstate_init(&ps, 0);
	pstate_init(&back, 0);
	appended(&ps, PID, 0, 0, 1, 0);
	appended(&ps, PID + 1, 0, 0, 1, 1);
	buf_init(&b);
	assert_int_equal(pstate_snapshot_encode(&ps, &b), KLAB_OK);
	for (size_t i = 0; i < b.len; i++)
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(pstate_snapshot_decode(&back, b.data, b.len, &why),
					 KLAB_ECORRUPT);
			assert_int_equal(back.n, 0);
			b.data[i] ^= (uint8_t)(1 << bit);
		}
	for (size_t len = 0; len < b.len; len++)
		assert_int_equal(pstate_snapshot_decode(&back, b.data, len, &why), KLAB_ECORRUPT);
	/* a valid CRC over a lying count */
	be32_write(b.data + 6, 0x7fffffff);
	be32_write(b.data + 2, crc32c(0, b.data + 6, b.len - 6));
	assert_int_equal(pstate_snapshot_decode(&back, b.data, b.len, &why), KLAB_ECORRUPT);
	/* a valid CRC over a negative offset */
	be32_write(b.data + 6, 2);
	be64_write(b.data + 10 + 14, (uint64_t)-5);
	be32_write(b.data + 2, crc32c(0, b.data + 6, b.len - 6));
	assert_int_equal(pstate_snapshot_decode(&back, b.data, b.len, &why), KLAB_ECORRUPT);
	assert_int_equal(back.n, 0);
	buf_free(&b);
	pstate_free(&ps);
	pstate_free(&back);
}

/* ---- through the log ---------------------------------------------------- */

/* Append one idempotent batch of n records; returns log_append's code. */
static int
send(struct log *l, int16_t epoch, int32_t seq, int n, int64_t now, struct log_append_info *info)
{
	struct buf b;
	int rc;

	buf_init(&b);
	tu_batch_make(&b, n, now, 40, (uint32_t)seq);
	batch_set_producer(b.data, b.len, PID, epoch, seq);
	rc = log_append(l, b.data, b.len, now, info, NULL);
	buf_free(&b);
	return rc;
}

static struct log *
open_log(struct fs *fs, bool clean)
{
	struct log_config lc = tu_log_config();
	struct kerr e = { 0 };
	struct log *l;

	lc.segment_bytes = 600; /* a roll every few batches */
	if (log_open(&l, fs, DIR, &lc, 0, 0, clean, 5000, &e) != KLAB_OK)
		fail_msg("log_open: %s", kerr_msg(&e));
	return l;
}

static void
test_ch1_log_retry_is_not_written_twice(void **state)
{
	struct disk_sim *d = disk_sim_new(1);
	struct log *l = open_log(disk_sim_fs(d), false);
	struct log_append_info a, b;
	int64_t end;

	(void)state;
	assert_int_equal(send(l, 0, 0, 3, 1000, &a), KLAB_OK);
	end = l->next_offset;
	assert_int_equal(send(l, 0, 0, 3, 1000, &b), KLAB_OK);
	assert_true(b.duplicate);
	assert_int_equal(b.first_offset, a.first_offset);
	assert_int_equal(b.last_offset, a.last_offset);
	assert_int_equal(l->next_offset, end);
	assert_int_equal(send(l, 0, 5, 1, 1000, &b), KLAB_ESEQUENCE);
	assert_int_equal(send(l, 0, -1, 1, 1000, &b), KLAB_EINVAL);
	assert_int_equal(send(l, 1, 0, 1, 1000, &b), KLAB_OK); /* a bumped epoch at 0 */
	assert_int_equal(send(l, 0, 3, 1, 1000, &b), KLAB_EFENCED);
	assert_int_equal(log_check_invariants(l, NULL), KLAB_OK);
	log_release(l);
	disk_sim_free(d);
}

/* Crash after rolls: state from the newest snapshot plus replay; duplicates still found. */
static void
test_ch1_log_recovery_rebuilds_producer_state(void **state)
{
	struct disk_sim *d = disk_sim_new(2);
	struct log *l = open_log(disk_sim_fs(d), false);
	struct log_append_info info[20], again;
	struct disk_crash_report rep;
	int32_t seq = 0;

	(void)state;
	for (int i = 0; i < 20; i++, seq += 2)
		assert_int_equal(send(l, 0, seq, 2, 1000 + i, &info[i]), KLAB_OK);
	assert_true(l->nsegs > 3);
	assert_int_equal(log_flush(l, 2000), KLAB_OK);
	log_release(l);
	assert_int_equal(disk_sim_crash(d, &rep), KLAB_OK);
	l = open_log(disk_sim_fs(d), false);
	assert_true(l->report.snapshot_loaded > 0);
	assert_true(l->report.producers_replayed > 0); /* the active segment's batches */
	/*
	 * As in Kafka, a snapshot keeps each producer's newest batch only: the
	 * retries still recognised are that one and the replayed batches after it.
	 */
	for (int i = 19, found = 0; i >= 0 && !found; i--) {
		found = info[i].last_offset < l->report.snapshot_loaded;
		assert_int_equal(send(l, 0, 2 * i, 2, 3000, &again), KLAB_OK);
		assert_true(again.duplicate);
		assert_int_equal(again.first_offset, info[i].first_offset);
	}
	assert_int_equal(send(l, 0, 40, 1, 3000, &again), KLAB_OK);
	assert_false(again.duplicate);
	assert_int_equal(again.first_offset, info[19].last_offset + 1);
	assert_int_equal(log_check_invariants(l, NULL), KLAB_OK);
	log_release(l);
	disk_sim_free(d);
}

/* A corrupt newest snapshot is deleted and never trusted: an older one and replay answer. */
static void
test_ch1_log_corrupt_snapshot_skipped(void **state)
{
	struct disk_sim *d = disk_sim_new(3);
	struct fs *fs = disk_sim_fs(d);
	struct log *l = open_log(fs, false);
	struct log_append_info info, again;
	char path[256];
	int64_t newest;

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(send(l, 0, i, 1, 1000 + i, &info), KLAB_OK);
	newest = l->segs[l->nsegs - 1]->base_offset;
	assert_int_equal(log_close(l), KLAB_OK); /* a snapshot at the log end too */
	snprintf(path, sizeof(path), DIR "/%020" PRId64 ".snapshot", info.last_offset + 1);
	assert_true(fs_exists(fs, path));
	assert_int_equal(fs_write_file_atomic(fs, path, "garbage!!!!!", 12, NULL), KLAB_OK);
	snprintf(path, sizeof(path), DIR "/%020" PRId64 ".snapshot", newest);
	assert_int_equal(disk_sim_corrupt(d, path, 12, NULL), KLAB_OK);
	l = open_log(fs, true);
	assert_int_equal(l->report.snapshots_skipped, 2);
	assert_true(l->report.snapshot_loaded >= 0 && l->report.snapshot_loaded < newest);
	assert_false(fs_exists(fs, path));
	assert_int_equal(send(l, 0, 19, 1, 3000, &again), KLAB_OK);
	assert_true(again.duplicate);
	assert_int_equal(again.first_offset, info.first_offset);
	log_release(l);
	disk_sim_free(d);
}

/* Retention deletes a segment's snapshot with it. */
static void
test_ch1_log_snapshots_deleted_with_segments(void **state)
{
	struct disk_sim *d = disk_sim_new(4);
	struct fs *fs = disk_sim_fs(d);
	struct log *l = open_log(fs, false);
	struct log_retention_report rep;
	struct log_append_info info;
	char path[256];
	int64_t second;

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(send(l, 0, i, 1, 1000 + i, &info), KLAB_OK);
	second = l->segs[1]->base_offset;
	snprintf(path, sizeof(path), DIR "/%020" PRId64 ".snapshot", second);
	assert_true(fs_exists(fs, path));
	l->cfg.retention_bytes = 1;
	assert_int_equal(log_apply_retention(l, 3000, &rep), KLAB_OK);
	assert_true(rep.segments_deleted >= 2);
	assert_false(fs_exists(fs, path));
	log_release(l);
	disk_sim_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch1_pstate_next_sequence_appends_and_gap_is_out_of_order),
		cmocka_unit_test(test_ch1_pstate_duplicate_of_each_of_the_last_five),
		cmocka_unit_test(test_ch1_pstate_epochs),
		cmocka_unit_test(test_ch1_pstate_unknown_producer_accepted_at_any_sequence),
		cmocka_unit_test(test_ch1_pstate_sequence_wraps_at_int32_max),
		cmocka_unit_test(test_ch1_pstate_bounded_and_expiring),
		cmocka_unit_test(test_ch1_pstate_snapshot_is_kafkas_format),
		cmocka_unit_test(test_ch1_pstate_snapshot_corruption_refused),
		cmocka_unit_test(test_ch1_log_retry_is_not_written_twice),
		cmocka_unit_test(test_ch1_log_recovery_rebuilds_producer_state),
		cmocka_unit_test(test_ch1_log_corrupt_snapshot_skipped),
		cmocka_unit_test(test_ch1_log_snapshots_deleted_with_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
