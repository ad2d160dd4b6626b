/*
 * test_hostile_disk.c - what the files under log.dirs, and the disk they
 * live on, may do to a real `klab broker` process (issue 10, items 1, 2,
 * 7 and 11):
 *
 *   a second broker on the same log.dirs     refused: it names .lock and
 *                                            exits non-zero; the first
 *                                            one still serves
 *   a segment file that is a symbolic link   refused at start, the file
 *   to a file outside log.dirs, or a FIFO    outside keeps every byte
 *   tiny segments (hundreds of them) under   Produce keeps succeeding, the
 *   a small RLIMIT_NOFILE                    descriptors stay bounded, and
 *                                            a restart recovers them all
 *   more partitions than descriptors         a clear refusal that names
 *                                            the limit (as Kafka, which
 *                                            keeps its files open too)
 *   a partition.metadata that is garbage,    rewritten from the topic's
 *   1 MB long, or names another topic id     metadata (the first two, read
 *                                            no further than its limit); the
 *                                            topic refused with
 *                                            INCONSISTENT_TOPIC_ID and its
 *                                            files untouched (the last)
 *   a full disk (a 2 MB tmpfs; root only)    KAFKA_STORAGE_ERROR, the log
 *                                            directory offline, a stop
 *                                            that is not "clean", and a
 *                                            restart on the full disk
 *
 * The simulated-disk side of the full and failing disk is in
 * tests/ch3/test_broker.c (test_ch3_broker_disk_*).
 */
#include "testutil.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "hostile.h"

#define KAFKA_STORAGE_ERROR 56 /* Errors.java */

/* ---- requests ---------------------------------------------------------------- */

/* One request and its decoded answer (NULL: none within 10 s). */
static struct pvalue *
h_rpc(int fd, int16_t api, int16_t ver, const struct pvalue *body)
{
	static int32_t corr;
	struct buf f;
	struct pvalue *v = NULL;

	buf_init(&f);
	if (hc_request(fd, api, ver, ++corr, body) == 0 && hc_read_frame(fd, &f, 10000) == 0)
		v = hc_decode(api, ver, &f);
	buf_free(&f);
	return v;
}

/* CreateTopics v3 of name with np partitions: its error code (-2: no answer). */
static int64_t
h_create(int fd, const char *name, int32_t np)
{
	struct pvalue *req = hc_body(KAPI_CREATE_TOPICS), *resp, *t;
	int64_t err = -2;

	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", name);
	pvalue_set_int(t, "num_partitions", np);
	pvalue_set_int(t, "replication_factor", 1);
	pvalue_set_int(req, "timeout_ms", 10000);
	if ((resp = h_rpc(fd, KAPI_CREATE_TOPICS, 3, req)) != NULL)
		err = pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	return err;
}

/* Produce v8, acks 1, nrec records of value_len bytes to topic-0: the error code (-2: none). */
static int64_t
h_produce(int fd, const char *topic, int nrec, size_t value_len, int64_t *base)
{
	struct pvalue *req, *resp, *p;
	int64_t err = -2;
	struct buf b;

	buf_init(&b);
	req = hc_produce_body(topic, nrec, value_len, 1, 10000, &b);
	if ((resp = h_rpc(fd, KAPI_PRODUCE, 8, req)) != NULL) {
		p = pvalue_at(pvalue_array(pvalue_at(pvalue_array(resp, "responses"), 0),
					   "partition_responses"),
			      0);
		err = pvalue_get_int(p, "error_code");
		if (base != NULL)
			*base = pvalue_get_int(p, "base_offset");
	}
	pvalue_free(resp);
	pvalue_free(req);
	buf_free(&b);
	return err;
}

/* Fetch v11 of topic-0 from offset: the error code (-2: none), bytes of records in *bytes. */
static int64_t
h_fetch(int fd, const char *topic, int64_t offset, int32_t *bytes)
{
	struct pvalue *req = hc_body(KAPI_FETCH), *resp, *t, *p;
	int64_t err = -2;
	int32_t n = 0;

	pvalue_set_int(req, "max_wait_ms", 0);
	pvalue_set_int(req, "min_bytes", 1);
	pvalue_set_int(req, "max_bytes", 1 << 20);
	pvalue_set_int(req, "replica_id", -1);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "topic", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	pvalue_set_int(p, "partition", 0);
	pvalue_set_int(p, "fetch_offset", offset);
	pvalue_set_int(p, "partition_max_bytes", 1 << 20);
	if ((resp = h_rpc(fd, KAPI_FETCH, 11, req)) != NULL) {
		p = pvalue_at(
			pvalue_array(pvalue_at(pvalue_array(resp, "responses"), 0), "partitions"),
			0);
		err = pvalue_get_int(p, "error_code");
		pvalue_get_bytes(p, "records", &n);
	}
	if (bytes != NULL)
		*bytes = n;
	pvalue_free(resp);
	pvalue_free(req);
	return err;
}

/* ---- brokers ------------------------------------------------------------------ */

/*
 * Start another broker process on b's log.dirs (its own port and scratch
 * directory in o) and wait until it exits or listens: its exit status,
 * or -1 when it started (it is then stopped).
 */
static int
h_second_broker(const struct hb *b, struct hb *o)
{
	char extra[256];
	int status;

	memset(o, 0, sizeof(*o));
	tu_tmpdir_make(o->dir, sizeof(o->dir));
	snprintf(o->log, sizeof(o->log), "%s/broker.log", o->dir);
	o->port = h_free_port();
	snprintf(extra, sizeof(extra), "log.dirs=%s/logs\n", b->dir);
	hb_write_config(o, extra);
	if ((o->pid = fork()) == 0)
		hb_exec(o, 0, 0);
	assert_true(o->pid > 0);
	for (int i = 0; i < 400; i++) {
		int fd;

		if (waitpid(o->pid, &status, WNOHANG) == o->pid) {
			o->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if ((fd = hc_connect(o->port)) >= 0) {
			close(fd);
			hb_stop(o);
			return -1;
		}
		usleep(50 * 1000);
	}
	return -1;
}

/* Restart b's broker process on the same directory (after hb_stop). */
static int
hb_restart(struct hb *b, rlim_t nofile)
{
	return hb_launch(b, NULL, nofile, 0);
}

/* A broker with topic "victim" holding 3 records, stopped (cleanly: exit 0). */
static void
h_broker_with_topic(struct hb *b, const char *extra)
{
	int fd;

	if (hb_start(b, extra, 0, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(b));
	assert_true((fd = hc_connect(b->port)) >= 0);
	assert_int_equal(h_create(fd, "victim", 1), 0);
	assert_int_equal(h_produce(fd, "victim", 3, 100, NULL), 0);
	close(fd);
	assert_int_equal(hb_stop(b), 0);
}

/* ---- item 1: the lock on log.dirs ----------------------------------------------- */

static void
test_hostile_disk_second_broker_on_same_log_dirs_refused(void **state)
{
	struct hb b, o;
	int64_t base = -1;
	int fd, rc;

	(void)state;
	if (hb_start(&b, NULL, 0, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(&b));
	assert_true((fd = hc_connect(b.port)) >= 0);
	assert_int_equal(h_create(fd, "t", 1), 0);
	rc = h_second_broker(&b, &o);
	if (rc <= 0)
		fail_msg("the second broker %s: %s", rc < 0 ? "started" : "exited 0", hb_log(&o));
	assert_non_null(strstr(hb_log(&o), ".lock"));
	/* the first one still serves, from offset 0 */
	assert_int_equal(h_produce(fd, "t", 2, 10, &base), 0);
	assert_int_equal(base, 0);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&o);
	hb_cleanup(&b);
}

/* ---- item 2: links and special files in a partition directory ------------------------- */

static void
plant_and_restart(const char *which, bool fifo)
{
	char seg[256], outside[256], marker[256];
	uint8_t bytes[1800], *after;
	size_t n;
	struct hb b;

	h_broker_with_topic(&b, NULL);
	snprintf(seg, sizeof(seg), "%s/logs/victim-0/00000000000000000000%s", b.dir, which);
	snprintf(outside, sizeof(outside), "%s/outside", b.dir);
	snprintf(marker, sizeof(marker), "%s/logs/.kafka_cleanshutdown", b.dir);
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 1);
	tu_file_write(outside, bytes, sizeof(bytes));
	assert_int_equal(unlink(seg), 0);
	if (fifo)
		assert_int_equal(mkfifo(seg, 0644), 0);
	else
		assert_int_equal(symlink(outside, seg), 0);
	unlink(marker); /* an unclean stop: recovery validates and cuts */
	if (hb_restart(&b, 0) == 0) {
		hb_stop(&b);
		fail_msg("the broker started over a %s %s: %s", fifo ? "FIFO" : "linked", which,
			 hb_log(&b));
	}
	assert_non_null(strstr(hb_log(&b), fifo ? "not a regular file" : "symbolic link"));
	after = tu_file_read(outside, &n);
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(after, bytes, n);
	free(after);
	hb_cleanup(&b);
}

static void
test_hostile_disk_symlinked_segment_files_refused(void **state)
{
	(void)state;
	plant_and_restart(".log", false);
	plant_and_restart(".index", false);
	plant_and_restart(".timeindex", false);
}

static void
test_hostile_disk_fifo_segment_files_refused(void **state)
{
	(void)state;
	plant_and_restart(".log", true);
	plant_and_restart(".index", true);
}

/* ---- partition.metadata (topic ids, KIP-516) ------------------------------------------------- */

static void
test_hostile_disk_partition_metadata_garbage_and_inconsistent(void **state)
{
	static const char other[] = "version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA";
	char pm[256], seg[256];
	uint8_t junk[512], *text;
	size_t n, seg_size;
	int fd;
	struct hb b;

	(void)state;
	h_broker_with_topic(&b, NULL);
	snprintf(pm, sizeof(pm), "%s/logs/victim-0/partition.metadata", b.dir);
	snprintf(seg, sizeof(seg), "%s/logs/victim-0/00000000000000000000.log", b.dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 151 + 3);
	tu_file_write(pm, junk, sizeof(junk));
	tu_file_truncate(pm, 1 << 20); /* garbage, then a megabyte of zeros */
	if (hb_restart(&b, 0) != 0)
		fail_msg("the broker did not start over a garbage %s: %s", pm, hb_log(&b));
	assert_non_null(strstr(hb_log(&b), "rewritten"));
	assert_true((fd = hc_connect(b.port)) >= 0);
	assert_int_equal(h_produce(fd, "victim", 2, 10, NULL), 0);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	text = tu_file_read(pm, &n);
	assert_int_equal(n, 43);
	assert_memory_equal(text, "version: 0\ntopic_id: ", 21);
	free(text);

	tu_file_write(pm, other, sizeof(other) - 1); /* another topic's id */
	seg_size = (size_t)tu_file_size(seg);
	if (hb_restart(&b, 0) != 0)
		fail_msg("the broker did not start over an inconsistent %s: %s", pm, hb_log(&b));
	assert_non_null(strstr(hb_log(&b), "INCONSISTENT_TOPIC_ID"));
	assert_true((fd = hc_connect(b.port)) >= 0);
	assert_int_not_equal(h_produce(fd, "victim", 2, 10, NULL), 0);
	assert_int_not_equal(h_create(fd, "victim", 1), 0);
	assert_int_equal(h_create(fd, "bystander", 1), 0); /* the broker still serves */
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	assert_int_equal((size_t)tu_file_size(seg), seg_size);
	text = tu_file_read(pm, &n);
	assert_int_equal(n, sizeof(other) - 1);
	assert_memory_equal(text, other, n);
	free(text);
	hb_cleanup(&b);
}

/* ---- item 7: descriptors ------------------------------------------------------------ */

#define FD_LIMIT 96

static void
test_hostile_disk_tiny_segments_keep_descriptors_bounded(void **state)
{
	struct hb b;
	int fd, peak = 0;

	(void)state;
	/* every batch rolls a segment: 400 segments, 1200 files */
	if (hb_start(&b, "log.segment.bytes=14\n", FD_LIMIT, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(&b));
	assert_true((fd = hc_connect(b.port)) >= 0);
	assert_int_equal(h_create(fd, "many", 1), 0);
	for (int i = 0; i < 400; i++) {
		int64_t base = -1, err = h_produce(fd, "many", 1, 10, &base);

		if (err != 0)
			fail_msg("produce %d: error %lld; %s", i, (long long)err, hb_log(&b));
		assert_int_equal(base, i);
		if (hb_fds(&b) > peak)
			peak = hb_fds(&b);
	}
	/* reading the old segments opens them again, within the bound */
	for (int i = 0; i < 400; i += 7) {
		int32_t bytes = 0;

		assert_int_equal(h_fetch(fd, "many", i, &bytes), 0);
		assert_true(bytes > 0);
	}
	assert_true(hb_fds(&b) < FD_LIMIT);
	print_message("400 segments: at most %d descriptors (limit %d)\n", peak, FD_LIMIT);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	/* an unclean restart recovers all 400 under the same limit */
	{
		char marker[256];

		snprintf(marker, sizeof(marker), "%s/logs/.kafka_cleanshutdown", b.dir);
		unlink(marker);
	}
	if (hb_restart(&b, FD_LIMIT) != 0)
		fail_msg("restart: %s", hb_log(&b));
	assert_true((fd = hc_connect(b.port)) >= 0);
	{
		int64_t base = -1;

		assert_int_equal(h_produce(fd, "many", 1, 10, &base), 0);
		assert_int_equal(base, 400);
	}
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

static void
test_hostile_disk_more_partitions_than_descriptors_refused_clearly(void **state)
{
	struct hb b;
	int fd;

	(void)state;
	if (hb_start(&b, NULL, 0, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(&b));
	assert_true((fd = hc_connect(b.port)) >= 0);
	assert_int_equal(h_create(fd, "wide", 60), 0); /* 60 active segments: 180 files */
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	if (hb_restart(&b, 64) == 0) {
		hb_stop(&b);
		fail_msg("started with 180 files under 64 descriptors?");
	}
	/* Kafka: "Too many open files" and a stop; klab names the limit */
	assert_non_null(strstr(hb_log(&b), "ulimit -n"));
	hb_cleanup(&b);
}

/* ---- item 11: a real full disk -------------------------------------------------------- */

/* The tmpfs test's broker and mount, undone by its teardown even when it fails. */
static struct hb full_b;
static char full_logs[128];
static bool full_mounted;

static int
full_teardown(void **state)
{
	(void)state;
	if (full_b.pid > 0)
		hb_stop(&full_b);
	if (full_mounted)
		umount(full_logs);
	full_mounted = false;
	if (full_b.dir[0] != '\0')
		hb_cleanup(&full_b);
	return 0;
}

static void
test_hostile_disk_full_tmpfs(void **state)
{
	char *logs = full_logs, marker[160];
	struct hb *bp = &full_b;
	int fd, i;
	int64_t err = 0, last_ok = -1;

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: mounting a small tmpfs needs root\n");
		return;
	}
	memset(bp, 0, sizeof(*bp));
	tu_tmpdir_make(bp->dir, sizeof(bp->dir));
	assert_true(snprintf(bp->log, sizeof(bp->log), "%s/broker.log", bp->dir) <
		    (int)sizeof(bp->log));
	assert_true(snprintf(logs, sizeof(full_logs), "%s/logs", bp->dir) < (int)sizeof(full_logs));
	assert_int_equal(mkdir(logs, 0755), 0);
	if (mount("tmpfs", logs, "tmpfs", 0, "size=2m") != 0) {
		print_message("skipped: mount -t tmpfs: %s\n", strerror(errno));
		return;
	}
	full_mounted = true;
	if (hb_restart(bp, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(bp));
	assert_true((fd = hc_connect(bp->port)) >= 0);
	assert_int_equal(h_create(fd, "full", 1), 0);
	for (i = 0; i < 400 && err == 0; i++) {
		int64_t base = -1;

		err = h_produce(fd, "full", 10, 1000, &base);
		if (err == 0)
			last_ok = base;
	}
	assert_int_equal(err, KAFKA_STORAGE_ERROR);
	assert_true(last_ok > 0);
	/* offline: every later Produce and Fetch answers the same; Metadata still works */
	assert_int_equal(h_produce(fd, "full", 1, 1, NULL), KAFKA_STORAGE_ERROR);
	assert_int_equal(h_fetch(fd, "full", 0, NULL), KAFKA_STORAGE_ERROR);
	assert_true(hc_probe_ms(bp->port, 5000) >= 0);
	assert_non_null(strstr(hb_log(bp), "offline"));
	close(fd);
	/* the stop is not clean: non-zero, no marker, and it says why */
	assert_int_not_equal(hb_stop(bp), 0);
	assert_null(strstr(hb_log(bp), "clean shutdown"));
	snprintf(marker, sizeof(marker), "%s/.kafka_cleanshutdown", logs);
	assert_false(tu_file_exists(marker));
	/* a restart on the still-full disk recovers and serves what was acknowledged */
	if (hb_restart(bp, 0) != 0)
		fail_msg("restart on a full disk: %s", hb_log(bp));
	assert_true((fd = hc_connect(bp->port)) >= 0);
	{
		int32_t bytes = 0;

		assert_int_equal(h_fetch(fd, "full", last_ok, &bytes), 0);
		assert_true(bytes > 0);
	}
	close(fd);
	hb_stop(bp);
	assert_int_equal(umount(logs), 0);
	full_mounted = false;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_disk_second_broker_on_same_log_dirs_refused),
		cmocka_unit_test(test_hostile_disk_symlinked_segment_files_refused),
		cmocka_unit_test(test_hostile_disk_fifo_segment_files_refused),
		cmocka_unit_test(test_hostile_disk_partition_metadata_garbage_and_inconsistent),
		cmocka_unit_test(test_hostile_disk_tiny_segments_keep_descriptors_bounded),
		cmocka_unit_test(
			test_hostile_disk_more_partitions_than_descriptors_refused_clearly),
		cmocka_unit_test_teardown(test_hostile_disk_full_tmpfs, full_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
