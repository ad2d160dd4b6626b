/*
 * fuzz_segment.c - libFuzzer target: recovering a log from an arbitrary
 * segment file, then reading all of it back (src/log/{segment,log,logdir}.c).
 *
 * After a power cut the bytes of a .log file are whatever the disk kept.
 * Recovery (chapter 1 §5) must then keep the longest valid prefix, cut the
 * rest, and rebuild the indexes - whatever the bytes are.  Each input
 * becomes one partition directory and the log directory is opened without
 * the clean-shutdown marker, so segment_recover() validates every batch:
 *
 *   /tmp/klab-fuzz_segment.<pid>/fuzz-0/00000000000000000000.log
 *                                       00000000000000000000.index
 *                                       00000000000000000000.timeindex
 *
 * Input layout (missing bytes count as zero):
 *
 *   byte 0   n, the length of the .index file's bytes (0..255)
 *   byte 1   m, the length of the .timeindex file's bytes (0..255)
 *   byte 2   bit 0: give every whole batch of the .log a correct CRC, so
 *            mutations get past the checksum; bits 1-7 times 64: the
 *            log.index.interval.bytes to use (0 = an entry per batch)
 *   then     n bytes of .index, m bytes of .timeindex, the rest is .log
 *
 * What must hold, or the target aborts naming the rule:
 *   1. logdir_log() opens the log: recovery cuts, it never fails;
 *   2. the recovered .log is a prefix of the bytes written;
 *   3. log_read() from log_start_offset to the log end, one batch a call,
 *      returns each batch of that prefix once, in order, each passing
 *      batch_validate(), and ends exactly at the log end offset; a read of
 *      an offset inside a batch returns that batch;
 *   4. one log_read() with 1 MiB returns the same bytes;
 *   5. logdir_close() succeeds, and nothing leaks (LeakSanitizer is on);
 *   6. opened again, now clean (segment_load() trusts the files recovery
 *      and the close wrote), the log has the same end and the same bytes.
 *
 * FUZZ_SEGMENT_VERBOSE=1 prints what recovery kept of each input.
 *
 * One directory per process, emptied before every input (empty_one()).
 * fsync() is replaced by a no-op below: durability is not what this target
 * tests, and on a real disk the dozen fsyncs of every open and close would
 * cut the executions per second a hundredfold.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "log/batch.h"
#include "log/log.h"
#include "log/logdir.h"
#include "log/segment.h"
#include "net/disk_real.h"

#define LOG_NAME "fuzz-0"
#define HEADER_BYTES 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The one directory of this process (set once, then only read). */
static char root[256];

int
fsync(int fd)
{
	(void)fd;
	return 0;
}

static void
fail(const char *rule, const char *detail)
{
	fprintf(stderr, "fuzz_segment: invariant broken: %s%s%s\n", rule, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* At exit: the whole directory goes. */
static void
remove_root(void)
{
	if (root[0] != '\0')
		nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Before each input: everything goes but the two directories and the three
 * segment files, which write_file() then truncates and rewrites.  The log
 * sees the same as in a fresh directory, and ext4 is spared creating and
 * deleting five inodes an input (the larger part of the time otherwise).
 */
static int
empty_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *name = path + ftw->base;

	(void)st;
	if (flag == FTW_DP && ftw->level <= 1)
		return 0;
	if (ftw->level == 2 && strncmp(name, "00000000000000000000.", 21) == 0 &&
	    (!strcmp(name + 21, "log") || !strcmp(name + 21, "index") ||
	     !strcmp(name + 21, "timeindex")))
		return 0;
	return remove(path);
}

static void
write_file(const char *dir, const char *suffix, const uint8_t *p, size_t n)
{
	char path[512];
	int fd;

	segment_file_name(path, sizeof(path), dir, 0, suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail("cannot create a segment file", path);
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		fail("cannot write a segment file", path);
	close(fd);
}

/* Bit 0 of byte 2: give each whole batch the CRC of its bytes. */
static void
fix_crcs(uint8_t *p, size_t len)
{
	struct batch_header h;
	size_t pos = 0;

	while (batch_header_parse(p + pos, len - pos, &h) == KLAB_OK &&
	       batch_size(&h) <= len - pos) {
		be32_write(p + pos + BATCH_CRC_OFFSET, batch_compute_crc(p + pos, batch_size(&h)));
		pos += batch_size(&h);
	}
}

/* Lay the input out as a fresh log directory; returns the .log bytes. */
static uint8_t *
write_input(const uint8_t *data, size_t size, size_t *log_len, int64_t *interval)
{
	uint8_t hdr[HEADER_BYTES] = { 0 };
	size_t n, m, at;
	char dir[512];
	uint8_t *log;

	memcpy(hdr, data, size < HEADER_BYTES ? size : HEADER_BYTES);
	at = size < HEADER_BYTES ? size : HEADER_BYTES;
	n = hdr[0] < size - at ? hdr[0] : size - at;
	m = hdr[1] < size - at - n ? hdr[1] : size - at - n;
	*log_len = size - at - n - m;
	*interval = (hdr[2] >> 1) * 64;
	snprintf(dir, sizeof(dir), "%s/%s", root, LOG_NAME);
	nftw(root, empty_one, 16, FTW_DEPTH | FTW_PHYS);
	if ((mkdir(root, 0755) != 0 && errno != EEXIST) ||
	    (mkdir(dir, 0755) != 0 && errno != EEXIST))
		fail("cannot make the log directory", dir);
	if ((log = malloc(*log_len ? *log_len : 1)) == NULL)
		fail("out of memory", NULL);
	memcpy(log, data + at + n + m, *log_len);
	if (hdr[2] & 1)
		fix_crcs(log, *log_len);
	write_file(dir, ".index", data + at, n);
	write_file(dir, ".timeindex", data + at + n, m);
	write_file(dir, ".log", log, *log_len);
	return log;
}

/* A read of an offset inside the batch h must return h first. */
static void
read_inside(struct log *l, const struct batch_header *h, struct buf *b)
{
	struct log_read_info info;
	int64_t mid = h->base_offset + h->last_offset_delta / 2;
	struct batch_header first;

	if (mid < l->log_start_offset)
		return;
	buf_reset(b);
	if (log_read(l, mid, 1, b, &info) != KLAB_OK || info.batches != 1)
		fail("a read inside a batch did not return one batch", NULL);
	if (batch_header_parse(b->data, b->len, &first) != KLAB_OK ||
	    first.base_offset != h->base_offset)
		fail("a read inside a batch returned another batch", NULL);
}

/* Invariant 3: batch by batch; the bytes go to all. */
static void
read_one_by_one(struct log *l, struct buf *all)
{
	struct buf b;
	struct batch_header h;
	struct log_read_info info;
	int64_t offset = l->log_start_offset;
	int rc;

	buf_init(&b);
	while (offset < l->next_offset) {
		buf_reset(&b);
		rc = log_read(l, offset, 1, &b, &info);
		if (rc != KLAB_OK || info.batches != 1 || info.stopped_at_corrupt)
			fail("log_read of a recovered log failed", klab_strerror(rc));
		if (batch_validate(b.data, b.len, &h, NULL) != KLAB_OK)
			fail("log_read returned a batch that does not validate", NULL);
		if (batch_last_offset(&h) < offset || h.base_offset != info.first_offset)
			fail("log_read returned a batch below the offset asked for", NULL);
		buf_put(all, b.data, b.len);
		read_inside(l, &h, &b);
		offset = batch_last_offset(&h) + 1;
	}
	if (offset != l->next_offset)
		fail("the batches do not end at the log end offset", NULL);
	buf_reset(&b);
	if (log_read(l, offset, 1, &b, &info) != KLAB_OK || info.batches != 0)
		fail("a read at the log end offset returned data", NULL);
	buf_free(&b);
}

/* Invariants 2-4 on the recovered log; what it holds goes to all. */
static void
check_log(struct log *l, const uint8_t *log, size_t log_len, struct buf *all)
{
	struct log_read_info info;
	struct buf big;
	uint64_t kept;

	if (l->nsegs != 1 || l->log_start_offset > l->next_offset)
		fail("the recovered log does not have one segment", NULL);
	kept = l->segs[0]->size;
	if (kept > log_len)
		fail("recovery made the .log longer", NULL);
	buf_init(&big);
	read_one_by_one(l, all);
	if (!buf_ok(all) || all->len != kept || (kept && memcmp(all->data, log, kept) != 0))
		fail("the batches read are not the prefix of the file recovery kept", NULL);
	if (l->log_start_offset < l->next_offset &&
	    (log_read(l, l->log_start_offset, 1 << 20, &big, &info) != KLAB_OK || big.len == 0 ||
	     big.len > all->len || memcmp(big.data, all->data, big.len) != 0))
		fail("one big read differs from the batch-by-batch reads", NULL);
	if (getenv("FUZZ_SEGMENT_VERBOSE") != NULL)
		fprintf(stderr,
			"fuzz_segment: kept %" PRIu64 " of %zu bytes, offsets %" PRId64
			" .. %" PRId64 ", %zu index entries, why: %s\n",
			kept, log_len, l->log_start_offset, l->next_offset, l->segs[0]->oi.n,
			l->report.why ? l->report.why : "-");
	buf_free(&big);
}

/* Invariant 6: a clean reopen sees the log recovery left. */
static void
check_reopen(const struct log_config *cfg, int64_t next_offset, const struct buf *before)
{
	struct kerr e = { 0 };
	struct logdir *d;
	struct log *l;
	struct buf again;

	if (logdir_open(&d, disk_real(), root, &e) != KLAB_OK || !d->was_clean)
		fail("a clean close left no clean-shutdown marker", kerr_msg(&e));
	if (logdir_log(d, LOG_NAME, cfg, 1700000000000, &l, &e) != KLAB_OK)
		fail("a clean reopen failed", kerr_msg(&e));
	if (l->next_offset != next_offset)
		fail("a clean reopen moved the log end offset", NULL);
	buf_init(&again);
	read_one_by_one(l, &again);
	if (again.len != before->len || (again.len && memcmp(again.data, before->data, again.len)))
		fail("a clean reopen reads other bytes", NULL);
	buf_free(&again);
	if (logdir_close(d) != KLAB_OK)
		fail("logdir_close after the clean reopen", NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_config cfg;
	struct logdir *d;
	struct log *l;
	struct kerr e = { 0 };
	struct buf all;
	int64_t next_offset;
	size_t log_len;
	uint8_t *log;

	if (root[0] == '\0') {
		snprintf(root, sizeof(root), "/tmp/klab-fuzz_segment.%ld", (long)getpid());
		atexit(remove_root);
	}
	log_config_defaults(&cfg);
	log = write_input(data, size, &log_len, &cfg.index_interval_bytes);
	if (logdir_open(&d, disk_real(), root, &e) != KLAB_OK || d->was_clean)
		fail("logdir_open", kerr_msg(&e));
	if (logdir_log(d, LOG_NAME, &cfg, 1700000000000, &l, &e) != KLAB_OK)
		fail("recovery failed instead of cutting the log", kerr_msg(&e));
	buf_init(&all);
	check_log(l, log, log_len, &all);
	next_offset = l->next_offset;
	if (logdir_close(d) != KLAB_OK)
		fail("logdir_close", NULL);
	check_reopen(&cfg, next_offset, &all);
	buf_free(&all);
	free(log);
	return 0;
}
