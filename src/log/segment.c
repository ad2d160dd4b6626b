/*
 * segment.c - a log segment: .log + .index + .timeindex (see segment.h,
 * chapter 1 §3-§5).
 *
 * Appending a batch at byte position P (LogSegment.append in Kafka):
 *
 *     write the batch at P
 *     if more than index_interval_bytes were written since the last entry:
 *         .index     += (batch's last offset -> P)
 *         .timeindex += (max timestamp so far -> its offset)
 *
 * so a lookup of offset o finds the entry with the largest offset <= o and
 * scans batch headers forward from its position; the scan is bounded by
 * roughly one index interval.
 *
 * Invariants:
 *   1. Batches lie back to back from position 0 to size; offsets ascend.
 *   2. Every .index entry (o -> p) names a batch that starts at p and whose
 *      last offset is o; every .timeindex entry (t -> o) has o in the
 *      segment and t <= the largest timestamp at or before o.
 *   3. next_offset = the last batch's last offset + 1 (base when empty).
 *   4. Descriptors.  The active segment holds its three files open.  A
 *      sealed one is cold (segment_cool): its indexes never change again,
 *      so their entries are written out and their files closed (lookups
 *      read the entries kept in memory), and its .log is one of a log
 *      directory's bounded set of open cold files (struct segment_files,
 *      least recently used first), reopened when a read, a flush or a
 *      recovery needs it.  So a broker holds about 3 descriptors per
 *      partition plus files->max, however many segments a tiny
 *      segment.bytes makes (Kafka keeps every segment's files open and
 *      asks for a large ulimit -n instead).  Closing a file loses nothing:
 *      its dirty pages belong to the file, and an fsync through a new
 *      descriptor writes them (and, since Linux 4.16, reports a writeback
 *      error that no descriptor saw); the simulated disk keeps dirty
 *      sectors per file too.  A file handed to a response
 *      (log_read_region) is pinned until the next request
 *      (segment_files_next_epoch), so it is never closed under a response
 *      being built.
 */
#include "log/segment.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
segment_file_name(char *out, size_t n, const char *dir, int64_t base, const char *suffix)
{
	snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, suffix);
}

static void
reset_stats(struct segment *s)
{
	s->next_offset = s->base_offset;
	s->max_timestamp = -1;
	s->offset_of_max_timestamp = -1;
	s->rolling_timestamp = -1;
	s->bytes_since_index = 0;
}

static int
open_indexes(struct segment *s, const char *dir, uint32_t max_bytes, struct kerr *e)
{
	char path[4096];
	int rc;

	segment_file_name(path, sizeof(path), dir, s->base_offset, ".index");
	rc = index_open(&s->oi, s->fs, INDEX_OFFSET, path, s->base_offset, max_bytes, e);
	if (rc == KLAB_ECORRUPT)
		s->index_suspect = true;
	else if (rc != KLAB_OK)
		return rc;
	segment_file_name(path, sizeof(path), dir, s->base_offset, ".timeindex");
	rc = index_open(&s->ti, s->fs, INDEX_TIME, path, s->base_offset, max_bytes, e);
	if (rc == KLAB_ECORRUPT)
		s->index_suspect = true;
	else if (rc != KLAB_OK)
		return rc;
	return KLAB_OK;
}

int
segment_open(struct segment **out, struct fs *fs, const char *dir, int64_t base,
	     uint32_t index_interval_bytes, uint32_t index_max_bytes, int64_t now_ms,
	     struct kerr *e)
{
	struct segment *s = calloc(1, sizeof(*s));
	char path[4096];
	int64_t size;
	int rc = KLAB_ENOMEM;

	if (s == NULL)
		return kerr_set(e, rc, "out of memory");
	s->fs = fs;
	s->base_offset = base;
	s->unsynced = true; /* what an earlier process left is unknown until a flush */
	s->created_ms = now_ms;
	s->index_interval_bytes = index_interval_bytes;
	reset_stats(s);
	segment_file_name(path, sizeof(path), dir, base, ".log");
	if ((s->log_path = strdup(path)) == NULL)
		goto fail;
	if ((rc = fs_open(fs, path, FS_CREATE, &s->file, e)) != KLAB_OK)
		goto fail;
	if ((size = fs_size(s->file, e)) < 0) {
		rc = (int)size;
		goto fail;
	}
	s->size = (uint64_t)size;
	segment_file_name(path, sizeof(path), dir, base, ".index");
	if (s->size > 0 && !fs_exists(fs, path))
		s->index_suspect = true; /* a lost index is rebuilt, as Kafka does */
	if ((rc = open_indexes(s, dir, index_max_bytes, e)) != KLAB_OK)
		goto fail;
	*out = s;
	return KLAB_OK;
fail:
	segment_close(s);
	return rc;
}

/* ---- the cold files (invariant 4) ---------------------------------------- */

void
segment_files_init(struct segment_files *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->max = max > 0 ? max : 1;
	c->epoch = 1; /* a segment's pin starts at 0: not pinned */
}

static void
lru_unlink(struct segment *s)
{
	struct segment_files *c = s->files;

	if (s->lru_prev != NULL)
		s->lru_prev->lru_next = s->lru_next;
	else
		c->head = s->lru_next;
	if (s->lru_next != NULL)
		s->lru_next->lru_prev = s->lru_prev;
	else
		c->tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
	c->open--;
}

static void
lru_push(struct segment *s)
{
	struct segment_files *c = s->files;

	s->lru_prev = NULL;
	s->lru_next = c->head;
	if (c->head != NULL)
		c->head->lru_prev = s;
	else
		c->tail = s;
	c->head = s;
	c->open++;
}

static bool
in_lru(const struct segment *s)
{
	return s->files != NULL && (s->files->head == s || s->lru_prev != NULL);
}

/* Close the least recently used cold files beyond max, except pinned ones and the newest. */
static void
lru_trim(struct segment_files *c)
{
	struct segment *s = c->tail;

	while (c->open > c->max && s != NULL && s != c->head) {
		struct segment *prev = s->lru_prev;

		if (s->pin != c->epoch) {
			lru_unlink(s);
			fs_close(s->file);
			s->file = NULL;
		}
		s = prev;
	}
}

void
segment_files_next_epoch(struct segment_files *c)
{
	c->epoch++;
	lru_trim(c);
}

void
segment_cool(struct segment *s, struct segment_files *files)
{
	if (files == NULL || s->cold)
		return;
	s->cold = true;
	s->files = files;
	index_release_file(&s->oi);
	index_release_file(&s->ti);
	if (s->file != NULL) {
		lru_push(s);
		lru_trim(files);
	}
}

int
segment_warm(struct segment *s)
{
	if (!s->cold)
		return KLAB_OK;
	if (segment_log_file(s, false) == NULL)
		return KLAB_EIO;
	lru_unlink(s);
	s->cold = false;
	return KLAB_OK;
}

struct fs_file *
segment_log_file(const struct segment *cs, bool pin)
{
	/* the handle is a cache, not the segment's value: reads of a const segment may open it */
	struct segment *s = (struct segment *)cs;

	if (!s->cold)
		return s->file;
	if (s->file == NULL && fs_open(s->fs, s->log_path, 0, &s->file, NULL) != KLAB_OK) {
		s->file = NULL;
		return NULL;
	}
	if (in_lru(s))
		lru_unlink(s);
	lru_push(s);
	if (pin)
		s->pin = s->files->epoch;
	lru_trim(s->files);
	return s->file;
}

void
segment_close(struct segment *s)
{
	if (s == NULL)
		return;
	if (in_lru(s))
		lru_unlink(s);
	fs_close(s->file);
	index_close(&s->oi);
	index_close(&s->ti);
	free(s->log_path);
	free(s);
}

int
segment_delete(struct segment *s)
{
	int rc = KLAB_OK;

	if (fs_unlink(s->fs, s->log_path, NULL) != KLAB_OK ||
	    index_remove_file(&s->oi) != KLAB_OK || index_remove_file(&s->ti) != KLAB_OK)
		rc = KLAB_EIO;
	segment_close(s);
	return rc;
}

int
segment_read(const struct segment *s, uint64_t pos, void *dst, size_t n)
{
	struct fs_file *f;
	int64_t got;

	if (pos > s->size || n > s->size - pos)
		return KLAB_ETRUNCATED;
	if ((f = segment_log_file(s, false)) == NULL)
		return KLAB_EIO;
	got = fs_pread(f, dst, n, pos, NULL);
	if (got < 0)
		return KLAB_EIO;
	return (size_t)got == n ? KLAB_OK : KLAB_ETRUNCATED;
}

int
segment_header_at(const struct segment *s, uint64_t pos, struct batch_header *h)
{
	uint8_t hdr[BATCH_HEADER_SIZE];
	size_t n = BATCH_HEADER_SIZE;
	int rc;

	if (pos >= s->size)
		return KLAB_ETRUNCATED;
	if (s->size - pos < n)
		n = (size_t)(s->size - pos);
	if ((rc = segment_read(s, pos, hdr, n)) != KLAB_OK)
		return rc;
	if ((rc = batch_header_parse(hdr, n, h)) != KLAB_OK)
		return rc;
	return batch_size(h) > s->size - pos ? KLAB_ETRUNCATED : KLAB_OK;
}

/* Account for a batch at pos: indexes (maybe) and the running stats. */
static int
note_batch(struct segment *s, uint64_t pos, const struct batch_header *h)
{
	int64_t last = batch_last_offset(h);
	int rc;

	if (h->max_timestamp > s->max_timestamp) {
		s->max_timestamp = h->max_timestamp;
		s->offset_of_max_timestamp = last;
	}
	if (s->rolling_timestamp < 0)
		s->rolling_timestamp = h->max_timestamp;
	if (s->bytes_since_index > s->index_interval_bytes) {
		rc = index_append_offset(&s->oi, last, (uint32_t)pos);
		if (rc == KLAB_OK)
			rc = index_maybe_append_time(&s->ti, s->max_timestamp,
						     s->offset_of_max_timestamp);
		if (rc != KLAB_OK)
			return rc;
		s->bytes_since_index = 0;
	}
	s->bytes_since_index += batch_size(h);
	s->next_offset = last + 1;
	return KLAB_OK;
}

int
segment_append(struct segment *s, const uint8_t *p, size_t len, const struct batch_header *h)
{
	uint64_t pos = s->size;
	int rc;

	if (h->base_offset < s->next_offset || pos + len > UINT32_MAX)
		return KLAB_EINVAL;
	s->unsynced = true;
	if ((rc = fs_pwrite(s->file, p, len, pos, NULL)) != KLAB_OK) {
		/* a failed write may leave part of the batch: cut it off again */
		fs_truncate(s->file, pos, NULL);
		return rc == KLAB_ENOSPC ? KLAB_ENOSPC : KLAB_EIO;
	}
	s->size += len;
	return note_batch(s, pos, h);
}

int
segment_load(struct segment *s)
{
	struct index_entry last = { s->base_offset, -1, 0 };
	struct batch_header h;
	uint64_t pos;
	int rc;

	if (s->index_suspect)
		return KLAB_ECORRUPT;
	if (s->oi.n > 0)
		last = index_entry_at(&s->oi, s->oi.n - 1);
	if (s->oi.n > 0 && last.position >= s->size)
		return KLAB_ECORRUPT; /* the index names a batch the .log does not hold */
	if (s->ti.n > 0) {
		struct index_entry t = index_entry_at(&s->ti, s->ti.n - 1);

		s->max_timestamp = t.timestamp;
		s->offset_of_max_timestamp = t.offset;
	}
	if (s->size > 0 && (rc = segment_header_at(s, 0, &h)) == KLAB_OK)
		s->rolling_timestamp = h.max_timestamp;
	s->bytes_since_index = 0;
	for (pos = last.position; pos < s->size; pos += batch_size(&h)) {
		if ((rc = segment_header_at(s, pos, &h)) != KLAB_OK)
			return KLAB_ECORRUPT;
		if (h.max_timestamp > s->max_timestamp) {
			s->max_timestamp = h.max_timestamp;
			s->offset_of_max_timestamp = batch_last_offset(&h);
		}
		s->next_offset = batch_last_offset(&h) + 1;
		s->bytes_since_index += batch_size(&h);
	}
	return KLAB_OK;
}

/*
 * Do the batch's offsets fit this segment?  Relative offsets are 32-bit
 * (index.h), and one past the last offset must still be an int64.  Offsets
 * below the base are left to the caller ("offsets go backwards").
 */
static bool
offsets_fit(const struct segment *s, const struct batch_header *h)
{
	if (h->base_offset < s->base_offset)
		return true;
	return h->base_offset <= INT64_MAX - 1 - h->last_offset_delta &&
	       h->base_offset - s->base_offset <= (int64_t)INT32_MAX - h->last_offset_delta;
}

/* Read and fully validate the batch at pos into b. */
static int
read_valid_batch(struct segment *s, uint64_t pos, size_t max_batch_bytes, struct buf *b,
		 struct batch_header *h, const char **why)
{
	int rc = segment_header_at(s, pos, h);

	if (rc == KLAB_ETRUNCATED) {
		*why = "torn batch at the end of the file";
		return rc;
	}
	if (rc != KLAB_OK) {
		*why = "bad batch header";
		return rc;
	}
	if (batch_size(h) > max_batch_bytes) {
		*why = "batch larger than the recovery size limit";
		return KLAB_ECORRUPT;
	}
	buf_reset(b);
	if (!buf_reserve(b, batch_size(h)))
		return KLAB_ENOMEM;
	if ((rc = segment_read(s, pos, b->data, batch_size(h))) != KLAB_OK)
		return rc;
	b->len = batch_size(h);
	if ((rc = batch_validate(b->data, b->len, h, why)) != KLAB_OK)
		return rc;
	if (!offsets_fit(s, h)) {
		*why = "offsets do not fit the segment";
		return KLAB_ECORRUPT;
	}
	return KLAB_OK;
}

int
segment_recover(struct segment *s, size_t max_batch_bytes, struct segment_recovery *rep)
{
	struct buf b;
	struct batch_header h;
	uint64_t pos = 0;
	int rc = KLAB_OK;

	memset(rep, 0, sizeof(*rep));
	buf_init(&b);
	reset_stats(s);
	if (index_reset(&s->oi) != KLAB_OK || index_reset(&s->ti) != KLAB_OK) {
		buf_free(&b);
		return KLAB_EIO;
	}
	s->index_suspect = false;
	/* LAB 1 BEGIN recover_scan: keep the valid prefix of the segment
	 * skeleton: (void)h; (void)max_batch_bytes; (void)read_valid_batch; rc = KLAB_ENOTIMPL;
	 */
	while (pos < s->size) {
		rc = read_valid_batch(s, pos, max_batch_bytes, &b, &h, &rep->why);
		if (rc == KLAB_OK && h.base_offset < s->next_offset) {
			rep->why = "offsets go backwards";
			rc = KLAB_ECORRUPT;
		}
		if (rc == KLAB_ECORRUPT || rc == KLAB_ETRUNCATED) {
			rc = KLAB_OK; /* everything from pos on is cut */
			break;
		}
		if (rc != KLAB_OK || (rc = note_batch(s, pos, &h)) != KLAB_OK)
			break;
		rep->batches++;
		pos += batch_size(&h);
	}
	/* LAB 1 END recover_scan */
	buf_free(&b);
	if (rc != KLAB_OK)
		return rc;
	rep->valid_bytes = pos;
	rep->truncated_bytes = s->size - pos;
	s->unsynced |= pos < s->size;
	if (pos < s->size &&
	    (segment_log_file(s, false) == NULL || fs_truncate(s->file, pos, NULL) != KLAB_OK))
		return KLAB_EIO;
	s->size = pos;
	return KLAB_OK;
}

int
segment_find(const struct segment *s, int64_t offset, uint64_t *pos, struct batch_header *h)
{
	struct index_entry start = index_lookup(&s->oi, offset);
	uint64_t p;
	int rc;

	for (p = start.position; p < s->size; p += batch_size(h)) {
		if ((rc = segment_header_at(s, p, h)) != KLAB_OK)
			return rc;
		if (batch_last_offset(h) >= offset) {
			*pos = p;
			return KLAB_OK;
		}
	}
	return KLAB_ENOTFOUND;
}

int
segment_flush(struct segment *s)
{
	struct fs_file *f = segment_log_file(s, false);
	int oi, ti;

	/* one fsync per change: recovery's flush and the log's next one do not repeat it */
	if (f == NULL || (s->unsynced && fs_fsync(f, NULL) != KLAB_OK))
		return KLAB_EIO;
	s->unsynced = false;
	/* a full disk leaves an index short, which is correct (index.c, invariant 4) */
	oi = index_sync(&s->oi);
	ti = index_sync(&s->ti);
	if ((oi != KLAB_OK && oi != KLAB_ENOSPC) || (ti != KLAB_OK && ti != KLAB_ENOSPC))
		return KLAB_EIO;
	if (s->cold) { /* rebuilt by a recovery: closed again (invariant 4) */
		index_release_file(&s->oi);
		index_release_file(&s->ti);
	}
	return KLAB_OK;
}

/*
 * Why rewrite what is already there?  A failed fsync does not put the
 * pages it could not write back in the queue: Linux marks them clean, so
 * the page cache - which outlives the process - still shows the bytes, and
 * a later fsync that succeeds does not write them (fsyncgate, 2018; core/
 * fs.h rule 2).  A broker restarted after such a failure reads its tail
 * back whole, validates it, flushes "successfully" and would move its
 * recovery point over bytes the disk does not hold.  Writing them again
 * dirties the pages, and the flush that follows recovery makes them
 * durable for real.  The cost is one more write of the unflushed tail,
 * only when recovering.
 */
int
segment_rewrite(struct segment *s)
{
	uint8_t chunk[16384];

	for (uint64_t pos = 0; pos < s->size;) {
		size_t n = s->size - pos < sizeof(chunk) ? (size_t)(s->size - pos) : sizeof(chunk);

		s->unsynced = true;
		if (segment_read(s, pos, chunk, n) != KLAB_OK ||
		    fs_pwrite(s->file, chunk, n, pos, NULL) != KLAB_OK)
			return KLAB_EIO;
		pos += n;
	}
	return KLAB_OK;
}

int
segment_truncate_at(struct segment *s, uint64_t pos)
{
	struct segment_recovery rep;

	if (pos > s->size)
		return KLAB_EINVAL;
	s->unsynced = true;
	if (segment_log_file(s, false) == NULL || fs_truncate(s->file, pos, NULL) != KLAB_OK)
		return KLAB_EIO;
	s->size = pos;
	/* rebuild indexes and stats over what is left */
	return segment_recover(s, SIZE_MAX, &rep);
}

int
segment_seal(struct segment *s)
{
	if (s->max_timestamp < 0)
		return KLAB_OK;
	if (index_full(&s->ti))
		return KLAB_OK;
	return index_maybe_append_time(&s->ti, s->max_timestamp, s->offset_of_max_timestamp);
}

/* Invariant 2, in memory: entries name positions inside the file, and offsets in the segment. */
static int
check_index(const struct segment *s, const struct index *ix, struct kerr *e)
{
	for (size_t i = 0; i < ix->n; i++) {
		struct index_entry en = index_entry_at(ix, i);

		if (en.offset < s->base_offset || en.offset >= s->next_offset ||
		    (ix->kind == INDEX_OFFSET && en.position >= s->size))
			return kerr_set(e, KLAB_ESTATE,
					"%s: invariant 2: index entry %zu (offset %" PRId64
					", position %" PRIu32 ") outside the segment [%" PRId64
					", %" PRId64 "), %" PRIu64 " bytes",
					s->log_path, i, en.offset, en.position, s->base_offset,
					s->next_offset, s->size);
	}
	return KLAB_OK;
}

int
segment_check_invariants(const struct segment *s, struct kerr *e)
{
	int rc;

	if (s->next_offset < s->base_offset || (s->size == 0) != (s->next_offset == s->base_offset))
		return kerr_set(e, KLAB_ESTATE,
				"%s: invariant 3: %" PRIu64 " bytes but next offset %" PRId64
				" (base %" PRId64 ")",
				s->log_path, s->size, s->next_offset, s->base_offset);
	if (s->size > UINT32_MAX)
		return kerr_set(e, KLAB_ESTATE, "%s: invariant 1: larger than 4 GiB", s->log_path);
	if (s->index_suspect)
		return KLAB_OK; /* a failed index is rebuilt by recovery, not trusted */
	if ((rc = check_index(s, &s->oi, e)) != KLAB_OK)
		return rc;
	return check_index(s, &s->ti, e);
}
