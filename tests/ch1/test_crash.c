/*
 * test_crash.c - kill -9 a writer at random moments; the log must come
 * back whole (chapter 1 §5).
 *
 * A child process opens a log directory and appends batches forever,
 * flushing every 1-4 batches; after each flush it writes the flushed log
 * end offset to a pipe (and now and then rewrites the checkpoints, so kills
 * also land inside checkpoint writes).  The parent SIGKILLs it after a
 * seeded-random 1-30 ms, then reopens the directory itself and checks:
 *
 *   1. every batch log_read returns passes batch_validate;
 *   2. offsets are contiguous from the log start to the log end;
 *   3. the log end is >= every flushed offset the child reported.
 *
 * then closes cleanly, and the next child carries on from there.  A kill
 * leaves whatever write() had put in the page cache, so this exercises the
 * unclean-open path (no marker, stale checkpoints, torn tails when a kill
 * lands inside a write) rather than power loss, which log_crash() models.
 *
 * The seed is $KLAB_SEED or a fixed default; failures print it.
 */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "log/logdir.h"
#include "net/disk_real.h"

#define KILLS 60
#define SEED_DEFAULT 20240601ull
#define LOG_NAME "crash-0"

static struct log_config
crash_config(void)
{
	struct log_config lc = tu_log_config();

	lc.segment_bytes = 64 * 1024; /* several segments over the run */
	lc.index_interval_bytes = 512;
	return lc;
}

/* ---- the child: no cmocka in here, only _exit codes ---------------------- */

static int
child_append(struct log *l, struct tu_rng *r, struct buf *b, uint32_t tag)
{
	static uint8_t value[256];
	struct batch_builder bb;
	int n = 1 + (int)tu_rng_below(r, 5);

	buf_reset(b);
	batch_builder_begin(&bb, b, 0, (int64_t)tag, 0);
	for (int i = 0; i < n; i++) {
		struct record_in rec = { 0 };

		for (size_t j = 0; j < sizeof(value); j++)
			value[j] = (uint8_t)(tag + (uint32_t)j);
		rec.kv.key = (const uint8_t *)&tag;
		rec.kv.key_len = (int32_t)sizeof(tag);
		rec.kv.value = value;
		rec.kv.value_len = (int32_t)tu_rng_below(r, sizeof(value));
		rec.timestamp = (int64_t)tag;
		batch_builder_add(&bb, &rec);
	}
	if (batch_builder_finish(&bb) != KLAB_OK)
		return KLAB_ENOMEM;
	return log_append(l, b->data, b->len, (int64_t)tag, NULL, NULL);
}

static void
child_run(const char *dir, int wfd, uint64_t seed)
{
	struct log_config lc = crash_config();
	struct logdir *d;
	struct log *l;
	struct tu_rng r;
	struct buf b;
	int until_flush = 1, flushes = 0;

	alarm(10); /* never outlive a lost parent */
	tu_rng_init(&r, seed);
	buf_init(&b);
	if (logdir_open(&d, disk_real(), dir, NULL) != KLAB_OK ||
	    logdir_log(d, LOG_NAME, &lc, 0, &l, NULL))
		_exit(2);
	for (uint32_t tag = 1;; tag++) {
		if (child_append(l, &r, &b, tag) != KLAB_OK)
			_exit(3);
		if (--until_flush > 0)
			continue;
		if (log_flush(l, (int64_t)tag) != KLAB_OK)
			_exit(4);
		if (write(wfd, &l->recovery_point, sizeof(l->recovery_point)) != 8)
			_exit(5);
		if (++flushes % 10 == 0 && logdir_checkpoint(d) != KLAB_OK)
			_exit(6);
		until_flush = 1 + (int)tu_rng_below(&r, 4);
	}
}

/* ---- the parent ------------------------------------------------------------ */

/* The last complete offset in the pipe, or -1 when none came. */
static int64_t
last_reported(int rfd)
{
	int64_t v, last = -1;
	uint8_t chunk[4096];
	size_t have = 0;
	ssize_t got;

	while ((got = read(rfd, chunk + have, sizeof(chunk) - have)) > 0) {
		have += (size_t)got;
		for (size_t i = 0; i + 8 <= have; i += 8) {
			memcpy(&v, chunk + i, 8);
			last = v;
		}
		memmove(chunk, chunk + have - have % 8, have % 8);
		have %= 8;
	}
	return last;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Reopen and check invariants 1-3; returns NULL or what is wrong.  Sets
 * *recovered when the open had to validate (the kill left it unclean).
 */
static const char *
verify(const char *dir, int64_t durable, int64_t *end, bool *recovered)
{
	static char why[256];
	struct log_config lc = crash_config();
	struct logdir *d;
	struct log *l;
	struct buf out;
	int64_t off;
	const char *bad = NULL;

	if (logdir_open(&d, disk_real(), dir, NULL) != KLAB_OK ||
	    logdir_log(d, LOG_NAME, &lc, 0, &l, NULL))
		return "cannot reopen the log directory";
	*recovered = l->report.segments_recovered > 0;
	buf_init(&out);
	for (off = l->log_start_offset; off < l->next_offset && bad == NULL;) {
		struct log_read_info info;
		struct batch_header h;
		size_t pos = 0;

		buf_reset(&out);
		if (log_read(l, off, 256 * 1024, &out, &info) != KLAB_OK || info.batches == 0 ||
		    info.stopped_at_corrupt) {
			snprintf(why, sizeof(why), "log_read at %" PRId64 " failed", off);
			bad = why;
		}
		while (bad == NULL && pos < out.len) {
			if (batch_header_parse(out.data + pos, out.len - pos, &h) != KLAB_OK ||
			    batch_size(&h) > out.len - pos ||
			    batch_validate(out.data + pos, batch_size(&h), &h, NULL) != KLAB_OK) {
				bad = "log_read returned an invalid batch";
			} else if (h.base_offset != off) {
				snprintf(why, sizeof(why),
					 "gap: batch at %" PRId64 ", expected %" PRId64,
					 h.base_offset, off);
				bad = why;
			}
			off = batch_last_offset(&h) + 1;
			pos += batch_size(&h);
		}
	}
	if (bad == NULL && l->log_start_offset != 0)
		bad = "the log start moved although nothing was deleted";
	if (bad == NULL && l->next_offset < durable) {
		snprintf(why, sizeof(why), "log end %" PRId64 " < flushed offset %" PRId64,
			 l->next_offset, durable);
		bad = why;
	}
	*end = l->next_offset;
	buf_free(&out);
	if (logdir_close(d) != KLAB_OK && bad == NULL)
		bad = "clean close failed";
	return bad;
}

static void
test_ch1_crash_kill9_at_random_moments_keeps_log_valid(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	int64_t durable = 0, end = 0, prev_end = 0;
	int recoveries = 0, grew = 0;
	char dir[64], data[128];
	struct tu_rng r;

	(void)state;
	tu_rng_init(&r, seed);
	tu_tmpdir_make(dir, sizeof(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	for (int k = 0; k < KILLS; k++) {
		long delay_ms = 1 + (long)tu_rng_below(&r, 30);
		uint64_t child_seed = tu_rng_next(&r);
		const char *bad;
		bool recovered;
		int fds[2], status;
		int64_t reported;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_run(data, fds[1], child_seed);
		}
		close(fds[1]);
		sleep_ms(delay_ms);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("kill %d: the child ended by itself (status 0x%x); "
				 "reproduce with KLAB_SEED=%" PRIu64,
				 k, status, seed);
		reported = last_reported(fds[0]);
		close(fds[0]);
		if (reported > durable)
			durable = reported;
		bad = verify(data, durable, &end, &recovered);
		if (bad != NULL)
			fail_msg("kill %d after %ld ms: %s; reproduce with KLAB_SEED=%" PRIu64, k,
				 delay_ms, bad, seed);
		if (end < prev_end)
			fail_msg("kill %d: the log shrank from %" PRId64 " to %" PRId64
				 "; reproduce with KLAB_SEED=%" PRIu64,
				 k, prev_end, end, seed);
		grew += end > prev_end;
		prev_end = end;
		recoveries += recovered;
	}
	/* the test must have tested something: kills mid-run, logs that grew */
	if (recoveries < KILLS / 4 || grew < KILLS / 4 || durable == 0)
		fail_msg("only %d recoveries, %d runs that appended, flushed up to %" PRId64
			 "; reproduce with KLAB_SEED=%" PRIu64,
			 recoveries, grew, durable, seed);
	tu_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch1_crash_kill9_at_random_moments_keeps_log_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
