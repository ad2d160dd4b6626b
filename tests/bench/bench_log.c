/*
 * bench_log.c - how fast is klab's log, next to what the machine can do?
 *
 * A number alone says little: "300 MB/s" is excellent on one disk and
 * poor in a page cache.  So every row here is measured beside the limit
 * that bounds it, in the same run, on the same filesystem:
 *
 *   memcpy     copying large buffers: the ceiling of any byte-moving code;
 *   plain      the same bytes, in the same chunks, with plain syscalls in
 *              the same directory: write() for appends (plus fsync() after
 *              every chunk for the fsync rows), pread() for reads.
 *
 * Rows:
 *   append          log_append() through logdir + log with Kafka's defaults
 *                   (log.index.interval.bytes 4096, log.segment.bytes 1 GiB),
 *                   batches of 1, 10, 100, 1000 records of 100 B or 1 KiB
 *                   values (null keys), APPEND_BYTES into the page cache; the
 *                   best of PASSES passes (other processes share the CPUs);
 *   append+fsync    the same with log_flush() after every batch (fsync of
 *                   the .log and both indexes), alternating with write() +
 *                   fsync() of the same chunk, for FSYNC_SECONDS;
 *   read            log_read() of the whole log, 1 MiB a call: each batch
 *                   is CRC-checked and its records walked (log.h);
 *   index           index_lookup() and segment_find() at random offsets.
 *
 * Each configuration's batch is built once; the same bytes are appended
 * again and again.  That is what fresh copies would give: log_append()
 * rewrites only baseOffset and partitionLeaderEpoch, which lie outside the
 * CRC, and it rewrites them on every append.  (So every batch has the same
 * timestamps and the .timeindex gets a single entry; a producer's rising
 * timestamps would add a pwrite() to it every index interval.)  The log is
 * read back and checked at the end of each configuration, so a benchmark
 * that measured something broken would say so.
 *
 * The target, printed last: batched appends (>= 100 records a
 * batch, no fsync) at >= 70% of plain sequential write().
 *
 * Data lives in a fresh directory under /tmp, at most about 2 x
 * FSYNC_MAX_BYTES at a time, deleted as it goes.  `make bench` runs it.
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
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "log/batch.h"
#include "log/index.h"
#include "log/log.h"
#include "log/logdir.h"
#include "log/segment.h"
#include "net/disk_real.h"

#define APPEND_BYTES (64u << 20) /* per no-fsync configuration */
#define FSYNC_SECONDS 0.8	 /* per fsync configuration, both sides */
#define FSYNC_MAX_BYTES (128u << 20)
#define PASSES 3 /* no-fsync rows: the best of this many */
#define READ_MAX_BYTES (1u << 20)
#define MEMCPY_BYTES (64u << 20)
#define LOOKUPS 2000000
#define FINDS 100000
#define T0 1700000000000LL
#define TARGET_RATIO 0.70
#define MAX_ROWS 32

struct row {
	const char *op; /* "append", "append+fsync", "read" */
	int records;	/* per batch */
	int value_len;
	size_t batch_bytes;
	long batches;
	double secs;	   /* klab */
	double plain_secs; /* the plain syscalls on the same bytes */
	const char *plain; /* which syscalls */
};

struct bench {
	char dir[64];
	double memcpy_mbps;
	struct row rows[MAX_ROWS];
	int nrows;
	uint64_t rng;
	size_t index_entries; /* of the log bench_index() measured */
	int64_t index_offsets;
	double lookup_ns, find_ns;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_log: %s: %s\n", what, detail ? detail : strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: fixed seed, so every run appends and looks up the same. */
static uint64_t
rng_next(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the machine's limits ------------------------------------------------ */

static double
measure_memcpy(void)
{
	uint8_t *src = malloc(MEMCPY_BYTES), *dst = malloc(MEMCPY_BYTES);
	double best = 0;

	if (src == NULL || dst == NULL)
		die("malloc", NULL);
	memset(src, 0x5a, MEMCPY_BYTES); /* fault every page in first */
	memset(dst, 0, MEMCPY_BYTES);
	for (int pass = 0; pass < 5; pass++) {
		double t = now_s();

		memcpy(dst, src, MEMCPY_BYTES);
		__asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
		t = now_s() - t;
		if (MEMCPY_BYTES / t > best)
			best = MEMCPY_BYTES / t;
		src[pass] = dst[pass + 1];
	}
	free(src);
	free(dst);
	return best / 1e6;
}

/* write() the chunk n times to a new file in dir. */
static double
plain_write(const char *dir, const uint8_t *p, size_t len, long n)
{
	char path[128];
	double t;
	int fd;

	snprintf(path, sizeof(path), "%s/plain.bin", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die(path, NULL);
	t = now_s();
	for (long i = 0; i < n; i++)
		if (write(fd, p, len) != (ssize_t)len)
			die("write", NULL);
	t = now_s() - t;
	close(fd);
	unlink(path);
	return t;
}

/* pread() the file from start to end in READ_MAX_BYTES chunks. */
static double
plain_read(const char *path, uint64_t size)
{
	uint8_t *chunk = malloc(READ_MAX_BYTES);
	double t;
	int fd;

	if (chunk == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		die(path, NULL);
	t = now_s();
	for (uint64_t pos = 0; pos < size; pos += READ_MAX_BYTES)
		if (pread(fd, chunk, READ_MAX_BYTES, (off_t)pos) < 0)
			die("pread", NULL);
	t = now_s() - t;
	close(fd);
	free(chunk);
	return t;
}

/* ---- klab ------------------------------------------------------------------ */

/* One batch of `records` records with null keys and value_len-byte values. */
static void
build_batch(struct bench *b, struct buf *out, int records, int value_len)
{
	uint8_t *value = malloc((size_t)value_len);
	struct batch_builder bb;

	if (value == NULL)
		die("malloc", NULL);
	for (int i = 0; i < value_len; i++)
		value[i] = (uint8_t)rng_next(b);
	batch_builder_begin(&bb, out, 0, T0, 0);
	for (int i = 0; i < records; i++) {
		struct record_in r = { { NULL, -1, value, value_len }, T0 + i, NULL, 0 };

		batch_builder_add(&bb, &r);
	}
	if (batch_builder_finish(&bb) != KLAB_OK)
		die("batch_builder_finish", NULL);
	free(value);
}

static struct log *
open_log(struct logdir **d, const char *path)
{
	struct log_config cfg;
	struct kerr e = { 0 };
	struct log *l;

	log_config_defaults(&cfg);
	if (logdir_open(d, disk_real(), path, &e) != KLAB_OK ||
	    logdir_log(*d, "bench-0", &cfg, T0, &l, &e) != KLAB_OK)
		die("opening the log", kerr_msg(&e));
	return l;
}

/* Append the batch n times; the seconds it took. */
static double
append_batches(struct log *l, const struct buf *batch, long n)
{
	struct kerr e = { 0 };
	double t = now_s();

	for (long i = 0; i < n; i++)
		if (log_append(l, batch->data, batch->len, T0, NULL, &e) != KLAB_OK)
			die("log_append", kerr_msg(&e));
	return now_s() - t;
}

/* The offset after the last batch in out[0..len); counts records too. */
static int64_t
walk_read(const struct buf *out, long *records, long *batches)
{
	struct batch_header h;
	int64_t next = -1;

	for (size_t pos = 0; pos < out->len; pos += batch_size(&h)) {
		if (batch_header_parse(out->data + pos, out->len - pos, &h) != KLAB_OK ||
		    batch_size(&h) > out->len - pos ||
		    batch_validate(out->data + pos, batch_size(&h), &h, NULL) != KLAB_OK)
			die("log_read returned something that is not a batch", NULL);
		next = batch_last_offset(&h) + 1;
		*records += h.record_count;
		(*batches)++;
	}
	return next;
}

/* log_read() everything from the start, READ_MAX_BYTES a call. */
static double
read_all(struct log *l, long *records, long *batches)
{
	struct log_read_info info;
	int64_t offset = l->log_start_offset;
	struct buf out;
	double t, spent = 0;

	buf_init(&out);
	*records = *batches = 0;
	while (offset < l->next_offset) {
		buf_reset(&out);
		t = now_s();
		if (log_read(l, offset, READ_MAX_BYTES, &out, &info) != KLAB_OK ||
		    info.batches == 0)
			die("log_read", NULL);
		spent += now_s() - t; /* walk_read() is the checking, not the reading */
		offset = walk_read(&out, records, batches);
	}
	buf_free(&out);
	return spent;
}

/* ---- index lookups ------------------------------------------------------- */

static void
bench_index(struct bench *b, struct log *l)
{
	const struct segment *s = l->segs[l->nsegs - 1];
	volatile uint64_t sink = 0;
	struct batch_header h;
	uint64_t pos;
	double t;

	b->index_entries = s->oi.n;
	b->index_offsets = l->next_offset;
	t = now_s();
	for (long i = 0; i < LOOKUPS; i++)
		sink += index_lookup(&s->oi, (int64_t)(rng_next(b) % (uint64_t)l->next_offset))
				.position;
	b->lookup_ns = (now_s() - t) / LOOKUPS * 1e9;
	t = now_s();
	for (long i = 0; i < FINDS; i++) {
		if (segment_find(s, (int64_t)(rng_next(b) % (uint64_t)l->next_offset), &pos, &h) !=
		    KLAB_OK)
			die("segment_find", NULL);
		sink += pos;
	}
	b->find_ns = (now_s() - t) / FINDS * 1e9;
	(void)sink;
}

/* ---- one configuration -------------------------------------------------- */

static struct row *
new_row(struct bench *b, const char *op, int records, int value_len, size_t batch_bytes)
{
	struct row *r;

	if (b->nrows == MAX_ROWS)
		die("too many rows", "raise MAX_ROWS");
	r = &b->rows[b->nrows++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->records = records;
	r->value_len = value_len;
	r->batch_bytes = batch_bytes;
	return r;
}

/* Read the log back: the read row, and a check that everything is there. */
static void
bench_read(struct bench *b, struct log *l, int records, int value_len, size_t batch_bytes,
	   long appended)
{
	struct row *r = new_row(b, "read", records, value_len, batch_bytes);
	const struct segment *s = l->segs[0];
	long got_records;

	if (l->nsegs != 1)
		die("expected one segment", NULL);
	for (int i = 0; i < PASSES; i++) {
		double secs = read_all(l, &got_records, &r->batches);
		double plain = plain_read(s->log_path, s->size);

		if (r->batches != appended || got_records != appended * records)
			die("the log does not hold what was appended", NULL);
		if (i == 0 || secs < r->secs)
			r->secs = secs;
		if (i == 0 || plain < r->plain_secs)
			r->plain_secs = plain;
	}
	r->plain = "pread()";
}

/*
 * One pass of a configuration: a fresh log, n appends, the same bytes with
 * plain write(); the best time of the passes counts.  The last pass of a
 * no-fsync configuration also reads the log back (and one measures index
 * lookups) before it is closed and deleted.
 */
/*
 * One pass of a no-fsync configuration: a fresh log, the appends, then the
 * same bytes with plain write(); the best time of the passes counts.  The
 * last pass also reads the log back (and one measures index lookups)
 * before the log is closed and deleted.
 */
static void
bench_pass(struct bench *b, const struct buf *batch, struct row *r, bool last)
{
	long n = (long)(APPEND_BYTES / batch->len);
	struct logdir *d;
	struct log *l;
	char path[128];
	double secs, plain;

	snprintf(path, sizeof(path), "%s/logs", b->dir);
	l = open_log(&d, path);
	secs = append_batches(l, batch, n);
	plain = plain_write(b->dir, batch->data, batch->len, n);
	r->batches = n;
	if (r->secs == 0 || secs < r->secs)
		r->secs = secs;
	if (r->plain_secs == 0 || plain < r->plain_secs)
		r->plain_secs = plain;
	if (last)
		bench_read(b, l, r->records, r->value_len, batch->len, n);
	if (last && r->records == 1 && r->value_len == 100)
		bench_index(b, l);
	if (logdir_close(d) != KLAB_OK)
		die("logdir_close", NULL);
	remove_tree(path);
}

/*
 * The fsync rows: append + log_flush(), then write() + fsync() of the same
 * bytes to a plain file, alternately, each timed on its own, so that both
 * meet the disk in the same state (a virtual disk's cache fills and
 * drains; measured one after the other, the second would pay for the
 * first).  Until FSYNC_SECONDS have passed or FSYNC_MAX_BYTES are written.
 */
static void
bench_fsync(struct bench *b, const struct buf *batch, struct row *r)
{
	struct kerr e = { 0 };
	struct logdir *d;
	struct log *l;
	char path[128];
	double t, start = now_s();
	int fd;

	snprintf(path, sizeof(path), "%s/plain.bin", b->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die(path, NULL);
	snprintf(path, sizeof(path), "%s/logs", b->dir);
	l = open_log(&d, path);
	while (now_s() - start < FSYNC_SECONDS &&
	       (r->batches + 1) * batch->len <= FSYNC_MAX_BYTES) {
		t = now_s();
		if (log_append(l, batch->data, batch->len, T0, NULL, &e) != KLAB_OK ||
		    log_flush(l, T0) != KLAB_OK)
			die("log_append + log_flush", kerr_msg(&e));
		r->secs += now_s() - t;
		t = now_s();
		if (write(fd, batch->data, batch->len) != (ssize_t)batch->len || fsync(fd) != 0)
			die("write + fsync", NULL);
		r->plain_secs += now_s() - t;
		r->batches++;
	}
	close(fd);
	if (logdir_close(d) != KLAB_OK)
		die("logdir_close", NULL);
	remove_tree(path);
	snprintf(path, sizeof(path), "%s/plain.bin", b->dir);
	unlink(path);
}

static void
bench_config(struct bench *b, int records, int value_len, bool sync_each)
{
	struct buf batch;
	struct row *r;

	buf_init(&batch);
	build_batch(b, &batch, records, value_len);
	r = new_row(b, sync_each ? "append+fsync" : "append", records, value_len, batch.len);
	r->plain = sync_each ? "write()+fsync" : "write()";
	for (int i = 0; i < (sync_each ? 0 : PASSES); i++)
		bench_pass(b, &batch, r, i == PASSES - 1);
	if (sync_each)
		bench_fsync(b, &batch, r);
	buf_free(&batch);
}

/* ---- the report ----------------------------------------------------------- */

static const char *
fs_name(const char *dir)
{
	struct statfs st;

	if (statfs(dir, &st) != 0)
		return "?";
	switch ((unsigned long)st.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794C7630: return "overlayfs";
	default: return "other";
	}
}

static void
print_row(const struct bench *b, const struct row *r)
{
	double bytes = (double)r->batch_bytes * (double)r->batches;
	double mbps = bytes / r->secs / 1e6, plain_mbps = bytes / r->plain_secs / 1e6;
	char cfg[32];

	snprintf(cfg, sizeof(cfg), "%4d x %4d B", r->records, r->value_len);
	printf("%-13s %s %8zu %7ld %8.1f %9.1f %12.0f %7.3f %7.2f %9.1f  %s\n", r->op, cfg,
	       r->batch_bytes, r->batches, bytes / 1e6, mbps,
	       (double)r->records * (double)r->batches / r->secs, mbps / b->memcpy_mbps,
	       mbps / plain_mbps, plain_mbps, r->plain);
}

static void
print_table(const struct bench *b)
{
	printf("\n%-13s %-13s %8s %7s %8s %9s %12s %7s %7s %9s  %s\n", "operation", "records x val",
	       "batch B", "batches", "MB", "MB/s", "records/s", "/memcpy", "/plain", "plain MB/s",
	       "plain = the same bytes with");
	for (int i = 0; i < b->nrows; i++)
		print_row(b, &b->rows[i]);
	printf("(MB = 10^6 bytes; /memcpy and /plain are MB/s ratios; page cache warm for "
	       "reads)\n");
}

static void
print_index(const struct bench *b)
{
	printf("\nindex_lookup  %7.0f ns a lookup: binary search of %zu .index entries in memory "
	       "(%" PRId64 " offsets, 1 x 100 B log)\n",
	       b->lookup_ns, b->index_entries, b->index_offsets);
	printf("segment_find  %7.0f ns a lookup: the index, then one pread() per batch header "
	       "up to the offset\n",
	       b->find_ns);
}

/* The target: batched appends without fsync vs plain write(). */
static void
print_target(const struct bench *b)
{
	double worst = 1e9;

	printf("\ntarget: batched append (>= 100 records a batch, no fsync) at >= %.0f%% of plain "
	       "sequential write() of the same bytes\n",
	       TARGET_RATIO * 100);
	for (int i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		double ratio = r->plain_secs / r->secs;

		if (strcmp(r->op, "append") != 0 || r->records < 100)
			continue;
		printf("target:   %4d x %4d B: %5.1f%%  %s\n", r->records, r->value_len,
		       ratio * 100, ratio >= TARGET_RATIO ? "PASS" : "BELOW");
		if (ratio < worst)
			worst = ratio;
	}
	printf("target: %s (worst %.1f%%)\n", worst >= TARGET_RATIO ? "PASS" : "BELOW",
	       worst * 100);
}

int
main(void)
{
	static const int records[] = { 1, 10, 100, 1000 };
	static const int values[] = { 100, 1024 };
	struct bench b = { .rng = 0x9e3779b97f4a7c15ULL };
	double start = now_s();

	snprintf(b.dir, sizeof(b.dir), "/tmp/klab-bench.XXXXXX");
	if (mkdtemp(b.dir) == NULL)
		die("mkdtemp", NULL);
	b.memcpy_mbps = measure_memcpy();
	printf("bench_log: %s (%s); memcpy of %u MiB buffers: %.0f MB/s\n", b.dir, fs_name(b.dir),
	       MEMCPY_BYTES >> 20, b.memcpy_mbps);
	for (int sync_each = 0; sync_each < 2; sync_each++)
		for (size_t v = 0; v < 2; v++)
			for (size_t r = 0; r < 4; r++)
				bench_config(&b, records[r], values[v], sync_each);
	print_table(&b);
	print_index(&b);
	print_target(&b);
	remove_tree(b.dir);
	printf("bench_log: %.1f s\n", now_s() - start);
	return 0;
}
