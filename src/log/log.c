/*
 * log.c - the append-only log (see log.h; chapter 1).
 *
 * The life of a batch:
 *
 *   producer bytes --validate--> assign offsets --> maybe roll --> active
 *   segment (page cache) --flush--> disk; recovery point moves
 *
 * Rolling (Log.maybeRoll in Kafka) starts a new active segment when the
 * batch would push the active segment past log.segment.bytes, when the
 * active segment's first batch is older than log.roll.ms, when its index
 * is full, or when the batch's offsets would not fit in the 32-bit
 * relative offsets of the index.  The sealed segment goes cold: it holds
 * no descriptor of its own from then on (segment.c, invariant 4).
 *
 * Durability (chapter 1 §6): a batch is safe once log_flush() fsynced its
 * segment; a segment *file* is safe once its directory was fsynced too, so
 * a flush that covers a segment created since the last one also fsyncs the
 * log's directory (Kafka's LocalLog.flush does the same, for the same
 * reason).  A flush that fails leaves the log failed: the pages that did
 * not reach the disk are not retried by a later fsync (PostgreSQL learned
 * this in 2018), so nothing more may be appended or acknowledged until the
 * log is reopened and recovered from its last good recovery point.
 *
 * Idempotent producers (KIP-98; producer_state.h): before a batch with a
 * producer id is appended, the partition's producer state decides whether
 * it is new, a retry of one of the producer's last five batches (answered
 * with the original offsets, not written again), out of sequence or from
 * a fenced epoch.  The state is rebuilt on open (load_producer_state):
 * from the newest valid snapshot file "<20-digit offset>.snapshot" at or
 * below the log end, then the batch headers after it.  A snapshot is
 * written, as Kafka's UnifiedLog.roll and close do, when a segment rolls
 * (named by the new segment's base offset) and at a clean close, whenever
 * some producer is known; it is deleted with its segment.  A snapshot
 * that fails its CRC or its bounds is deleted, never trusted: an older one,
 * or a replay from the log start, takes its place.
 *
 * Invariants (log_check_invariants() tests them):
 *   1. nsegs >= 1; base offsets ascend; each segment's next_offset <= the
 *      next segment's base offset; the last segment is the active one.
 *   2. log_start_offset <= next_offset; next_offset = active->next_offset.
 *   3. recovery_point <= next_offset.
 */
#include "log/log.h"

#include "log/compress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most a compressed batch may expand to (a decompression bomb guard). */
#define LOG_MAX_DECOMPRESSED ((size_t)256 << 20)

static struct segment *
active(const struct log *l)
{
	return l->segs[l->nsegs - 1];
}

static int
push_segment(struct log *l, struct segment *s)
{
	if (l->nsegs == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->segs, cap * sizeof(*l->segs));

		if (p == NULL)
			return KLAB_ENOMEM;
		l->segs = p;
		l->cap = cap;
	}
	l->segs[l->nsegs++] = s;
	return KLAB_OK;
}

static int
new_segment(struct log *l, int64_t base, int64_t now_ms, struct segment **out, struct kerr *e)
{
	struct segment *s;
	int rc = segment_open(&s, l->fs, l->dir, base, (uint32_t)l->cfg.index_interval_bytes,
			      (uint32_t)l->cfg.index_size_max_bytes, now_ms, e);

	if (rc != KLAB_OK)
		return rc;
	if ((rc = push_segment(l, s)) != KLAB_OK) {
		segment_close(s);
		return kerr_set(e, rc, "out of memory");
	}
	if (out != NULL)
		*out = s;
	return KLAB_OK;
}

/* Is name "<20 digits><suffix>"?  Then *base is its offset. */
static bool
offset_name(const char *name, const char *suffix, int64_t *base)
{
	char *end;
	unsigned long long v;

	if (strlen(name) != 20 + strlen(suffix) || strcmp(name + 20, suffix) != 0)
		return false;
	for (int i = 0; i < 20; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	errno = 0;
	v = strtoull(name, &end, 10);
	if (errno != 0 || v > INT64_MAX)
		return false;
	*base = (int64_t)v;
	return true;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct segment_list {
	int64_t *bases;
	size_t n, cap;
};

static int
push_base(struct segment_list *sl, int64_t base)
{
	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? sl->cap * 2 : 16;
		void *p = realloc(sl->bases, cap * sizeof(*sl->bases));

		if (p == NULL)
			return KLAB_ENOMEM;
		sl->bases = p;
		sl->cap = cap;
	}
	sl->bases[sl->n++] = base;
	return KLAB_OK;
}

static int
collect_segment(void *arg, const char *name)
{
	int64_t base;

	return offset_name(name, ".log", &base) ? push_base(arg, base) : KLAB_OK;
}

/* The base offsets of the .log files in dir, sorted. */
static int
list_segments(struct fs *fs, const char *dir, int64_t **bases, size_t *n, struct kerr *e)
{
	struct segment_list sl = { NULL, 0, 0 };
	int rc = fs_list(fs, dir, collect_segment, &sl, e);

	if (rc == KLAB_ENOMEM)
		kerr_set(e, rc, "out of memory");
	if (rc != KLAB_OK) {
		free(sl.bases);
		return rc;
	}
	if (sl.n > 1)
		qsort(sl.bases, sl.n, sizeof(*sl.bases), cmp_i64);
	*bases = sl.bases;
	*n = sl.n;
	return KLAB_OK;
}

static void
snapshot_path(const struct log *l, int64_t offset, char *out, size_t n)
{
	segment_file_name(out, n, l->dir, offset, ".snapshot");
}

/* Delete a segment and the producer snapshot named by its base offset. */
static int
delete_segment(struct log *l, struct segment *s)
{
	char path[4096 + 32];

	snapshot_path(l, s->base_offset, path, sizeof(path));
	if (fs_exists(l->fs, path))
		(void)fs_unlink(l->fs, path, NULL); /* a stray one is only ignored at open */
	return segment_delete(s);
}

/* Delete segs[from..] (after a corrupt segment everything later goes). */
static void
drop_segments_from(struct log *l, size_t from)
{
	while (l->nsegs > from) {
		delete_segment(l, l->segs[--l->nsegs]);
		l->report.segments_deleted++;
	}
}

/*
 * Recovery (LogLoader.recoverLog in Kafka): segments wholly below the
 * recovery point were fsynced and are trusted; every later one is
 * validated batch by batch.  The first segment that had to be cut ends the
 * log: any segment after it is deleted.
 */
static int
recover_segments(struct log *l, bool clean, struct kerr *e)
{
	for (size_t i = 0; i < l->nsegs; i++) {
		struct segment *s = l->segs[i];
		bool later_flushed =
			i + 1 < l->nsegs && l->segs[i + 1]->base_offset <= l->recovery_point;
		struct segment_recovery rep;
		int rc;

		if ((clean || later_flushed) && segment_load(s) == KLAB_OK)
			continue;
		/* no message.max.bytes here: lowering it must not cut old data */
		rc = segment_recover(s, (size_t)INT32_MAX + BATCH_LOG_OVERHEAD, &rep);
		if (rc != KLAB_OK)
			return kerr_set(e, rc, "%s: recovery failed: %s", s->log_path,
					klab_strerror(rc));
		/* what was validated may never have reached the disk (segment_rewrite) */
		if ((rc = segment_rewrite(s)) != KLAB_OK)
			return kerr_set(e, rc, "%s: cannot rewrite after recovery", s->log_path);
		if ((rc = segment_flush(s)) != KLAB_OK) /* the rebuilt indexes too */
			return kerr_set(e, rc,
					"%s: cannot fsync after recovery (the disk reports an I/O "
					"error): a log that cannot be made durable is not opened",
					s->log_path);
		l->report.segments_recovered++;
		l->report.truncated_bytes += (int64_t)rep.truncated_bytes;
		if (rep.truncated_bytes > 0) {
			if (l->report.why == NULL)
				l->report.why = rep.why;
			drop_segments_from(l, i + 1);
		}
	}
	return KLAB_OK;
}

/* Invariant 1 after loading: segments must not overlap. */
static int
check_order(struct log *l, struct kerr *e)
{
	for (size_t i = 0; i + 1 < l->nsegs; i++)
		if (l->segs[i]->next_offset > l->segs[i + 1]->base_offset)
			return kerr_set(e, KLAB_ECORRUPT,
					"%s overlaps the next segment (ends at %" PRId64 ")",
					l->segs[i]->log_path, l->segs[i]->next_offset);
	return KLAB_OK;
}

static int
load_segments(struct log *l, int64_t now_ms, bool clean, struct kerr *e)
{
	int64_t *bases = NULL;
	size_t n = 0;
	int rc = list_segments(l->fs, l->dir, &bases, &n, e);

	struct segment *s;

	/* every segment but the last goes cold at once: hundreds of them never hold
	 * their files together (segment.c, invariant 4); recovery reopens them */
	for (size_t i = 0; rc == KLAB_OK && i < n; i++)
		if ((rc = new_segment(l, bases[i], now_ms, &s, e)) == KLAB_OK && i + 1 < n)
			segment_cool(s, l->files);
	free(bases);
	if (rc != KLAB_OK)
		return rc;
	l->report.segments = (int)l->nsegs;
	if ((rc = recover_segments(l, clean, e)) != KLAB_OK)
		return rc;
	if (l->nsegs > 0 && segment_warm(active(l)) != KLAB_OK)
		return kerr_set(e, KLAB_EIO, "%s: cannot reopen the active segment", l->dir);
	if (l->nsegs == 0) {
		l->dir_unsynced = true; /* a new segment file: its name needs a directory fsync */
		return new_segment(l, l->log_start_offset, now_ms, NULL, e);
	}
	return check_order(l, e);
}

/*
 * The checkpointed log start offset lies past everything the segments
 * hold: a crash took records that retention had left (they were never
 * flushed).  Offsets below the log start must not be handed out again -
 * a consumer may have read them, and the checkpoint would hide the new
 * records at the next restart - so, as Kafka's LogLoader does, the
 * segments go and the log starts afresh, empty, at its log start offset.
 */
static int
restart_at_log_start(struct log *l, int64_t now_ms, struct kerr *e)
{
	drop_segments_from(l, 0);
	l->dir_unsynced = true; /* a new segment file */
	return new_segment(l, l->log_start_offset, now_ms, NULL, e);
}

/* ---- producer state (producer_state.h) ------------------------------------ */

static int
collect_snapshot(void *arg, const char *name)
{
	int64_t offset;

	return offset_name(name, ".snapshot", &offset) ? push_base(arg, offset) : KLAB_OK;
}

/*
 * Read the snapshot at offset into l->producers.  A file that is too long
 * for the bound on producers is corrupt before it is read.
 */
static int
read_snapshot(struct log *l, int64_t offset)
{
	size_t max = PSTATE_SNAPSHOT_HEADER + l->producers.max_producers * PSTATE_SNAPSHOT_ENTRY;
	char path[4096 + 32];
	struct buf b;
	int rc;

	snapshot_path(l, offset, path, sizeof(path));
	buf_init(&b);
	rc = fs_read_file(l->fs, path, max, &b, NULL);
	if (rc == KLAB_OK)
		rc = pstate_snapshot_decode(&l->producers, b.data, b.len, NULL);
	else if (rc != KLAB_EIO && rc != KLAB_ENOMEM)
		rc = KLAB_ECORRUPT; /* too long, or gone */
	buf_free(&b);
	return rc;
}

/* Update the producer state from every batch header at or after from. */
static int
replay_producers(struct log *l, int64_t from)
{
	for (size_t i = 0; i < l->nsegs; i++) {
		struct segment *s = l->segs[i];
		struct batch_header h;
		uint64_t pos;
		int rc;

		if (s->next_offset <= from)
			continue;
		rc = segment_find(s, from > s->base_offset ? from : s->base_offset, &pos, &h);
		for (; rc == KLAB_OK && pos < s->size; pos += batch_size(&h)) {
			if ((rc = segment_header_at(s, pos, &h)) != KLAB_OK)
				break;
			if (h.base_offset < from || h.producer_id < 0 ||
			    (h.attributes & BATCH_ATTR_CONTROL) != 0)
				continue;
			if (pstate_update(&l->producers, &h) != KLAB_OK)
				return KLAB_ENOMEM;
			l->report.producers_replayed++;
		}
		if (rc == KLAB_ENOMEM || rc == KLAB_EIO)
			return rc;
		/* a header that does not parse ends this segment's replay: reads refuse it too */
	}
	return KLAB_OK;
}

/*
 * Kafka's UnifiedLog.loadProducerState: snapshots past the log end (a
 * crash cut the log below them) or unreadable are deleted; the newest
 * remaining one is the starting point, and the batches after it are
 * replayed.  Producers idle past producer.id.expiration.ms are dropped.
 * After a clean close without any snapshot no producer was known (a
 * close writes one when some is), and nothing is read: like Kafka's
 * reload after a clean shutdown, opening a log that never saw an
 * idempotent producer costs nothing.
 */
static int
load_producer_state(struct log *l, bool clean, int64_t now_ms, struct kerr *e)
{
	struct segment_list sl = { NULL, 0, 0 };
	int64_t from = l->segs[0]->base_offset;
	char path[4096 + 32];
	int rc = fs_list(l->fs, l->dir, collect_snapshot, &sl, e);

	l->report.snapshot_loaded = -1;
	if (rc != KLAB_OK) {
		free(sl.bases);
		return rc;
	}
	if (clean && sl.n == 0) { /* a clean close with producers leaves a snapshot: none were */
		free(sl.bases);
		return KLAB_OK;
	}
	if (sl.n > 1)
		qsort(sl.bases, sl.n, sizeof(*sl.bases), cmp_i64);
	for (size_t i = sl.n; i-- > 0;) {
		bool usable =
			sl.bases[i] <= l->next_offset && sl.bases[i] >= l->segs[0]->base_offset;

		if (usable && l->report.snapshot_loaded >= 0)
			continue; /* older and valid: kept until its segment goes */
		if (usable && (rc = read_snapshot(l, sl.bases[i])) == KLAB_OK) {
			l->report.snapshot_loaded = from = sl.bases[i];
			continue;
		}
		if (usable && rc != KLAB_ECORRUPT)
			continue; /* unreadable today (EIO): not evidence of corruption */
		snapshot_path(l, sl.bases[i], path, sizeof(path));
		(void)fs_unlink(l->fs, path, NULL);
		l->report.snapshots_skipped++;
	}
	free(sl.bases);
	if ((rc = replay_producers(l, from)) != KLAB_OK)
		return kerr_set(e, rc, "%s: cannot rebuild the producer state", l->dir);
	pstate_expire(&l->producers, now_ms);
	return KLAB_OK;
}

/* Write the producer state as of the log end (at a roll, at a clean close). */
static int
write_snapshot(struct log *l)
{
	char path[4096 + 32];
	struct buf b;
	int rc;

	if (l->producers.n == 0)
		return KLAB_OK;
	snapshot_path(l, l->next_offset, path, sizeof(path));
	buf_init(&b);
	rc = pstate_snapshot_encode(&l->producers, &b);
	if (rc == KLAB_OK)
		rc = fs_write_file_atomic(l->fs, path, b.data, b.len, NULL);
	buf_free(&b);
	return rc;
}

int
log_open(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
	 int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
	 struct kerr *e)
{
	return log_open_in(out, fs, dir, cfg, recovery_point, log_start_offset, clean, now_ms, NULL,
			   e);
}

int
log_open_in(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
	    int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
	    struct segment_files *files, struct kerr *e)
{
	struct log *l = calloc(1, sizeof(*l));
	int rc;

	if (l == NULL || (l->dir = strdup(dir)) == NULL) {
		free(l);
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	l->fs = fs;
	l->files = files;
	l->cfg = *cfg;
	pstate_init(&l->producers, cfg->producer_id_expiration_ms);
	l->recovery_point = recovery_point > 0 ? recovery_point : 0;
	l->log_start_offset = log_start_offset > 0 ? log_start_offset : 0;
	l->last_flush_ms = now_ms;
	l->report.clean = clean;
	if ((rc = fs_mkdirs(fs, dir, e)) != KLAB_OK ||
	    (rc = load_segments(l, now_ms, clean, e)) != KLAB_OK) {
		log_release(l);
		return rc;
	}
	/*
	 * A log start offset beyond the log end.  After a clean stop only a
	 * damaged or crafted checkpoint says so (klab moves the log start only by
	 * deleting whole segments, never past the log end): it is ignored and
	 * reported (the broker logs it), and the log starts at its first segment.
	 * After an unclean stop it is what a crash leaves when it took records
	 * that retention had left: then offsets below the log start must not be
	 * handed out again, and the log restarts empty at its log start offset,
	 * as Kafka's LogLoader does (restart_at_log_start; reported too).
	 */
	l->report.start_ignored = -1;
	l->report.start_restarted = -1;
	if (l->log_start_offset > active(l)->next_offset && clean) {
		l->report.start_ignored = l->log_start_offset;
		l->log_start_offset = 0;
	} else if (l->log_start_offset > active(l)->next_offset) {
		l->report.start_restarted = l->log_start_offset;
		if ((rc = restart_at_log_start(l, now_ms, e)) != KLAB_OK) {
			log_release(l);
			return rc;
		}
	}
	if (l->log_start_offset < l->segs[0]->base_offset)
		l->log_start_offset = l->segs[0]->base_offset;
	l->next_offset = active(l)->next_offset;
	if (l->recovery_point > l->next_offset)
		l->recovery_point = l->next_offset;
	/*
	 * Unclean: recover_segments rewrote and fsynced every segment from the
	 * recovery point on; the flush that makes the recovered log durable
	 * finds them synced (segment_flush fsyncs only what changed) and fsyncs
	 * the directory, whose names a failed fsync before the crash may have
	 * left undurable: one fsync per recovered file, not two.
	 */
	if ((rc = load_producer_state(l, clean, now_ms, e)) != KLAB_OK) {
		log_release(l);
		return rc;
	}
	l->dir_unsynced |= !clean;
	if (clean)
		l->recovery_point = l->next_offset;
	else if ((rc = log_flush(l, now_ms)) != KLAB_OK) {
		log_release(l);
		return kerr_set(e, rc,
				"%s: cannot fsync after recovery (the disk reports an I/O "
				"error): a log that cannot be made durable is not opened",
				dir);
	}
	*out = l;
	return KLAB_OK;
}

static bool
should_roll(const struct log *l, const struct batch_header *h, size_t len, int64_t now_ms)
{
	const struct segment *s = active(l);
	int64_t since = s->rolling_timestamp >= 0 ? s->rolling_timestamp : s->created_ms;

	if (s->size == 0)
		return false;
	return s->size + len > (uint64_t)l->cfg.segment_bytes || now_ms - since > l->cfg.roll_ms ||
	       index_full(&s->oi) || index_full(&s->ti) ||
	       l->next_offset + h->last_offset_delta - s->base_offset > INT32_MAX;
}

/* Give the batch its offsets: the next ones in the log, in order. */
static void
assign_offsets(struct log *l, uint8_t *p, struct batch_header *h)
{
	/* LAB 1 BEGIN assign_offsets: the log, not the producer, numbers records
	 * skeleton: (void)l; (void)p; (void)h;
	 */
	h->base_offset = l->next_offset;
	batch_set_base_offset(p, h->base_offset);
	l->next_offset = batch_last_offset(h) + 1;
	/* LAB 1 END assign_offsets */
}

static int
validate_for_append(const struct log *l, const uint8_t *p, size_t len, struct batch_header *h,
		    struct kerr *e)
{
	const char *why = NULL;
	int rc;

	/* the whole batch, log overhead included, as Kafka's sizeInBytes */
	if (len > (uint64_t)l->cfg.max_message_bytes)
		return kerr_set(e, KLAB_ETOOLARGE,
				"batch of %zu bytes is larger than message.max.bytes=%" PRId64, len,
				l->cfg.max_message_bytes);
	rc = batch_validate(p, len, h, &why);
	if (rc != KLAB_OK)
		return kerr_set(e, rc, "invalid batch: %s", why ? why : klab_strerror(rc));
	if ((h->attributes & BATCH_ATTR_COMPRESSION) != 0) {
		/* like Kafka's broker: decompress to check every record */
		struct buf plain;

		buf_init(&plain);
		rc = batch_decompress(p, len, LOG_MAX_DECOMPRESSED, &plain);
		buf_free(&plain);
		if (rc != KLAB_OK)
			return kerr_set(e, rc, "invalid %s batch: %s",
					batch_compression_name(h->attributes),
					rc == KLAB_ETOOLARGE ? "decompresses to too many bytes"
							     : "its records do not decompress");
	}
	return KLAB_OK;
}

static int
maybe_flush(struct log *l, int64_t now_ms, bool *flushed)
{
	*flushed = false;
	if (l->unflushed_messages >= l->cfg.flush_interval_messages ||
	    (l->cfg.flush_interval_ms >= 0 &&
	     now_ms - l->last_flush_ms >= l->cfg.flush_interval_ms)) {
		*flushed = true;
		return log_flush(l, now_ms);
	}
	return KLAB_OK;
}

/*
 * The producer state's word on batch h (producer_state.h) before it is
 * written: KLAB_OK to append; KLAB_OK with info->duplicate for a retry of
 * a batch the log holds; an error that writes nothing.
 */
static int
check_producer(struct log *l, const struct batch_header *h, int64_t now_ms,
	       struct log_append_info *info, struct kerr *e)
{
	struct pstate_batch dup;
	const char *why;

	if (h->producer_id < 0)
		return KLAB_OK;
	if (h->base_sequence < 0) /* Kafka's LogValidator */
		return kerr_set(e, KLAB_EINVAL,
				"Invalid sequence number %" PRId32
				" in record batch with producerId %" PRId64,
				h->base_sequence, h->producer_id);
	if ((h->attributes & BATCH_ATTR_TRANSACTIONAL) != 0)
		return kerr_set(e, KLAB_EINVAL,
				"klab has no transactions: a transactional "
				"batch cannot be written");
	if (now_ms - l->producers.last_expiry_ms >= PSTATE_EXPIRATION_CHECK_MS)
		pstate_expire(&l->producers, now_ms);
	switch (pstate_check(&l->producers, h, &dup, &why)) {
	case PSTATE_APPEND: return KLAB_OK;
	case PSTATE_DUPLICATE:
		info->duplicate = true;
		info->first_offset = dup.first_offset;
		info->last_offset = dup.last_offset;
		info->records = h->record_count;
		return KLAB_OK;
	case PSTATE_OUT_OF_ORDER:
		return kerr_set(e, KLAB_ESEQUENCE, "producer %" PRId64 ", sequence %" PRId32 ": %s",
				h->producer_id, h->base_sequence, why);
	case PSTATE_STALE_EPOCH:
		return kerr_set(e, KLAB_EFENCED, "producer %" PRId64 ", epoch %d: %s",
				h->producer_id, h->producer_epoch, why);
	}
	return KLAB_OK;
}

int
log_append(struct log *l, uint8_t *p, size_t len, int64_t now_ms, struct log_append_info *info,
	   struct kerr *e)
{
	struct log_append_info dummy;
	struct batch_header h;
	int64_t before = l->next_offset;
	int rc;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (l->failed)
		return kerr_set(e, KLAB_EIO,
				"%s: a flush failed; no appends until the log is reopened", l->dir);
	if ((rc = validate_for_append(l, p, len, &h, e)) != KLAB_OK)
		return rc;
	if ((rc = check_producer(l, &h, now_ms, info, e)) != KLAB_OK || info->duplicate)
		return rc;
	if (should_roll(l, &h, len, now_ms)) {
		if ((rc = log_roll(l, now_ms)) != KLAB_OK)
			return kerr_set(e, rc, "cannot roll a new segment");
		info->rolled = true;
	}
	assign_offsets(l, p, &h);
	if (l->next_offset <= before) {
		l->next_offset = before;
		return kerr_set(e, KLAB_ENOTIMPL, "offsets were not assigned");
	}
	if (l->cfg.log_append_time) {
		batch_set_log_append_time(p, len, now_ms);
		h.max_timestamp = now_ms;
	}
	batch_set_leader_epoch(p, l->leader_epoch);
	info->position = active(l)->size;
	if ((rc = segment_append(active(l), p, len, &h)) != KLAB_OK) {
		l->next_offset = before;
		return kerr_set(e, rc, "%s: append failed: %s", active(l)->log_path,
				klab_strerror(rc));
	}
	if (h.producer_id >= 0 && pstate_update(&l->producers, &h) != KLAB_OK)
		return kerr_set(e, KLAB_ENOMEM, "out of memory for the producer state");
	info->first_offset = h.base_offset;
	info->last_offset = batch_last_offset(&h);
	info->segment_base = active(l)->base_offset;
	info->records = h.record_count;
	l->unflushed_messages += h.record_count;
	return maybe_flush(l, now_ms, &info->flushed);
}

struct segment *
log_segment_for(const struct log *l, int64_t offset)
{
	size_t lo = 0, hi = l->nsegs;

	/* the last segment whose base offset is <= offset */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->segs[mid]->base_offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return l->segs[lo]->base_offset <= offset ? l->segs[lo] : NULL;
}

static size_t
segment_index(const struct log *l, const struct segment *s)
{
	size_t i = 0;

	while (l->segs[i] != s)
		i++;
	return i;
}

/* Copy the batch at pos into out if it is valid; else KLAB_ECORRUPT. */
static int
copy_batch(const struct segment *s, uint64_t pos, const struct batch_header *h, struct buf *out)
{
	size_t n = batch_size(h);
	struct batch_header check;
	int rc;

	if (!buf_reserve(out, n))
		return KLAB_ENOMEM;
	if ((rc = segment_read(s, pos, out->data + out->len, n)) != KLAB_OK)
		return rc == KLAB_ETRUNCATED ? KLAB_ECORRUPT : rc;
	if (batch_validate(out->data + out->len, n, &check, NULL) != KLAB_OK)
		return KLAB_ECORRUPT;
	out->len += n;
	return KLAB_OK;
}

int
log_read(struct log *l, int64_t offset, size_t max_bytes, struct buf *out,
	 struct log_read_info *info)
{
	struct log_read_info dummy;
	struct segment *s = log_segment_for(l, offset);
	size_t start = out->len, i;
	struct batch_header h;
	uint64_t pos;
	int rc = KLAB_OK;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	info->first_offset = -1;
	info->next_offset = l->next_offset;
	if (offset < l->log_start_offset || offset > l->next_offset)
		return KLAB_ERANGE;
	if (offset == l->next_offset || s == NULL)
		return KLAB_OK;
	for (i = segment_index(l, s); i < l->nsegs; i++, offset = l->segs[i - 1]->next_offset) {
		s = l->segs[i];
		rc = segment_find(s, offset, &pos, &h);
		if (rc == KLAB_ENOTFOUND)
			continue;
		for (; rc == KLAB_OK && pos < s->size; pos += batch_size(&h)) {
			if ((rc = segment_header_at(s, pos, &h)) != KLAB_OK)
				break;
			if (info->batches > 0 && out->len - start + batch_size(&h) > max_bytes)
				return KLAB_OK;
			if ((rc = copy_batch(s, pos, &h, out)) != KLAB_OK)
				break;
			if (info->batches++ == 0)
				info->first_offset = h.base_offset;
		}
		if (rc != KLAB_OK)
			break;
	}
	if (rc == KLAB_ENOTFOUND)
		rc = KLAB_OK;
	if (rc == KLAB_ECORRUPT || rc == KLAB_ETRUNCATED) {
		info->stopped_at_corrupt = true;
		return info->batches > 0 ? KLAB_OK : KLAB_ECORRUPT;
	}
	return rc;
}

int
log_read_region(struct log *l, int64_t offset, size_t max_bytes, struct log_region *out)
{
	struct segment *s = log_segment_for(l, offset);
	struct batch_header h;
	uint64_t pos = 0, end;
	size_t i;
	int rc = KLAB_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	out->file = NULL;
	out->first_offset = -1;
	if (offset < l->log_start_offset || offset > l->next_offset)
		return KLAB_ERANGE;
	if (offset == l->next_offset || s == NULL)
		return KLAB_OK;
	/* The first segment with a batch reaching offset (a gap moves on). */
	for (i = segment_index(l, s); i < l->nsegs; i++, offset = l->segs[i - 1]->next_offset) {
		s = l->segs[i];
		if ((rc = segment_find(s, offset, &pos, &h)) != KLAB_ENOTFOUND)
			break;
	}
	if (rc == KLAB_ENOTFOUND)
		return KLAB_OK;
	if (rc != KLAB_OK)
		return rc == KLAB_ETRUNCATED ? KLAB_ECORRUPT : rc;
	if ((out->file = segment_log_file(s, true)) == NULL) /* pinned: the response takes it */
		return KLAB_EIO;
	out->pos = (int64_t)pos;
	out->first_offset = h.base_offset;
	/* The common case, a consumer near the end: all the rest of the segment fits. */
	if (s->size - pos <= max_bytes) {
		out->len = (size_t)(s->size - pos);
		return KLAB_OK;
	}
	/* Else whole batches up to max_bytes, walking their headers. */
	end = pos + batch_size(&h);
	while (end < s->size && segment_header_at(s, end, &h) == KLAB_OK &&
	       end + batch_size(&h) - pos <= max_bytes && end + batch_size(&h) <= s->size)
		end += batch_size(&h);
	if (end > s->size) /* a first batch longer than the file: never send past it */
		return KLAB_ECORRUPT;
	out->len = (size_t)(end - pos);
	return KLAB_OK;
}

/* In the batch at pos: the first record with timestamp >= ts. */
static int
search_batch_for_time(const struct segment *s, uint64_t pos, const struct batch_header *h,
		      int64_t ts, int64_t *offset, int64_t *found_ts)
{
	struct buf b;
	struct batch_header check;
	struct record_iter it;
	struct record r;
	int rc;

	buf_init(&b);
	if (!buf_reserve(&b, batch_size(h))) {
		buf_free(&b);
		return KLAB_ENOMEM;
	}
	b.len = batch_size(h);
	rc = segment_read(s, pos, b.data, b.len);
	if (rc == KLAB_OK)
		rc = batch_validate(b.data, b.len, &check, NULL);
	if (rc == KLAB_OK && (h->attributes & BATCH_ATTR_COMPRESSION) != 0) {
		*offset = h->base_offset; /* records are compressed: the batch it is */
		*found_ts = h->max_timestamp;
	} else if (rc == KLAB_OK) {
		record_iter_init(&it, b.data, b.len, h);
		rc = KLAB_ENOTFOUND;
		while (record_iter_next(&it, &r) == 1) {
			int64_t rts = (h->attributes & BATCH_ATTR_LOG_APPEND_TIME)
					      ? h->max_timestamp
					      : r.timestamp;

			if (rts >= ts) {
				*offset = r.offset;
				*found_ts = rts;
				rc = KLAB_OK;
				break;
			}
		}
	}
	buf_free(&b);
	return rc;
}

void
log_max_timestamp(const struct log *l, int64_t *offset, int64_t *ts)
{
	*offset = -1;
	*ts = -1;
	for (size_t i = 0; i < l->nsegs; i++) {
		const struct segment *s = l->segs[i];

		if (s->max_timestamp > *ts) { /* the first segment with the largest, as maxBy */
			*ts = s->max_timestamp;
			*offset = s->offset_of_max_timestamp;
		}
	}
}

int
log_offset_for_time(struct log *l, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	for (size_t i = 0; i < l->nsegs; i++) {
		struct segment *s = l->segs[i];
		struct index_entry te;
		struct batch_header h;
		uint64_t pos;
		int rc;

		if (s->max_timestamp < ts)
			continue;
		te = index_lookup(&s->ti, ts);
		rc = segment_find(s, te.offset, &pos, &h);
		for (; rc == KLAB_OK && pos < s->size; pos += batch_size(&h)) {
			if ((rc = segment_header_at(s, pos, &h)) != KLAB_OK)
				break;
			if (h.max_timestamp >= ts)
				return search_batch_for_time(s, pos, &h, ts, offset, found_ts);
		}
	}
	return KLAB_ENOTFOUND;
}

int
log_roll(struct log *l, int64_t now_ms)
{
	struct segment *s = active(l);
	int rc;

	if (s->size == 0)
		return KLAB_OK;
	if ((rc = segment_seal(s)) != KLAB_OK)
		return rc;
	l->dir_unsynced = true; /* the new files' names are durable after the next flush */
	if ((rc = new_segment(l, l->next_offset, now_ms, NULL, NULL)) != KLAB_OK)
		return rc;
	segment_cool(s, l->files); /* sealed: no descriptor of its own (segment.c, invariant 4) */
	return write_snapshot(l);
}

uint64_t
log_size_bytes(const struct log *l)
{
	uint64_t n = 0;

	for (size_t i = 0; i < l->nsegs; i++)
		n += l->segs[i]->size;
	return n;
}

/* Delete segs[0..n) and move the log start offset past them. */
static int
delete_oldest(struct log *l, size_t n, struct log_retention_report *rep)
{
	int rc = KLAB_OK;

	for (size_t i = 0; i < n; i++) {
		rep->bytes_deleted += l->segs[i]->size;
		if (delete_segment(l, l->segs[i]) != KLAB_OK)
			rc = KLAB_EIO;
	}
	memmove(l->segs, l->segs + n, (l->nsegs - n) * sizeof(*l->segs));
	l->nsegs -= n;
	rep->segments_deleted += (int)n;
	if (l->log_start_offset < l->segs[0]->base_offset)
		l->log_start_offset = l->segs[0]->base_offset;
	return rc;
}

/* How many of the oldest segments are past log.retention.ms. */
static size_t
expired_by_time(const struct log *l, int64_t now_ms)
{
	size_t n = 0;

	if (l->cfg.retention_ms < 0)
		return 0;
	while (n < l->nsegs && l->segs[n]->size > 0 &&
	       now_ms - l->segs[n]->max_timestamp > l->cfg.retention_ms)
		n++;
	return n;
}

/* How many of the oldest (inactive) segments log.retention.bytes drops. */
static size_t
expired_by_size(const struct log *l)
{
	int64_t diff = (int64_t)log_size_bytes(l) - l->cfg.retention_bytes;
	size_t n = 0;

	if (l->cfg.retention_bytes < 0)
		return 0;
	while (n + 1 < l->nsegs && diff - (int64_t)l->segs[n]->size >= 0)
		diff -= (int64_t)l->segs[n++]->size;
	return n;
}

int
log_apply_retention(struct log *l, int64_t now_ms, struct log_retention_report *rep)
{
	size_t n = expired_by_time(l, now_ms);
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (n == l->nsegs) { /* even the active segment expired: roll first */
		if ((rc = log_roll(l, now_ms)) != KLAB_OK)
			return rc;
		rep->rolled = true;
	}
	if (n > 0 && (rc = delete_oldest(l, n, rep)) != KLAB_OK)
		return rc;
	n = expired_by_size(l);
	if (n > 0 && (rc = delete_oldest(l, n, rep)) != KLAB_OK)
		return rc;
	rep->log_start_offset = l->log_start_offset;
	return KLAB_OK;
}

int
log_flush(struct log *l, int64_t now_ms)
{
	struct segment *from = log_segment_for(l, l->recovery_point);
	size_t i = from ? segment_index(l, from) : 0;

	if (l->failed)
		return KLAB_EIO;
	for (; i < l->nsegs; i++)
		if (segment_flush(l->segs[i]) != KLAB_OK)
			goto fail;
	if (l->dir_unsynced && fs_fsync_dir(l->fs, l->dir, NULL) != KLAB_OK)
		goto fail;
	l->dir_unsynced = false;
	l->recovery_point = l->next_offset;
	l->unflushed_messages = 0;
	l->last_flush_ms = now_ms;
	return KLAB_OK;
fail:
	l->failed = true; /* see the top of this file: no retry makes it safe */
	return KLAB_EIO;
}

int
log_tick(struct log *l, int64_t now_ms)
{
	bool flushed;

	return maybe_flush(l, now_ms, &flushed);
}

static void
free_log(struct log *l)
{
	for (size_t i = 0; i < l->nsegs; i++)
		segment_close(l->segs[i]);
	pstate_free(&l->producers);
	free(l->segs);
	free(l->dir);
	free(l);
}

int
log_close(struct log *l)
{
	int rc = segment_seal(active(l)); /* first, so the flush writes its entry */

	if (rc == KLAB_OK)
		rc = log_flush(l, l->last_flush_ms);
	if (rc == KLAB_OK && !l->failed)
		rc = write_snapshot(l);
	free_log(l);
	return rc;
}

void
log_release(struct log *l)
{
	if (l != NULL)
		free_log(l);
}

int
log_check_invariants(const struct log *l, struct kerr *e)
{
	if (l->nsegs < 1)
		return kerr_set(e, KLAB_ESTATE, "%s: invariant 1: a log has no segment", l->dir);
	for (size_t i = 0; i + 1 < l->nsegs; i++)
		if (l->segs[i]->base_offset >= l->segs[i + 1]->base_offset ||
		    l->segs[i]->next_offset > l->segs[i + 1]->base_offset)
			return kerr_set(e, KLAB_ESTATE,
					"%s: invariant 1: segment %" PRId64 " overlaps the next",
					l->dir, l->segs[i]->base_offset);
	if (l->log_start_offset > l->next_offset || l->next_offset != active(l)->next_offset)
		return kerr_set(e, KLAB_ESTATE,
				"%s: invariant 2: log start %" PRId64 ", log end %" PRId64
				", active segment's end %" PRId64,
				l->dir, l->log_start_offset, l->next_offset,
				active(l)->next_offset);
	if (l->recovery_point > l->next_offset)
		return kerr_set(e, KLAB_ESTATE,
				"%s: invariant 3: recovery point %" PRId64
				" past the log end %" PRId64,
				l->dir, l->recovery_point, l->next_offset);
	for (size_t i = 0; i < l->nsegs; i++) {
		int rc = segment_check_invariants(l->segs[i], e);

		if (rc != KLAB_OK)
			return rc;
	}
	const char *why;

	if (pstate_check_invariants(&l->producers, &why) != KLAB_OK)
		return kerr_set(e, KLAB_ESTATE, "%s: producer state: %s", l->dir, why);
	return KLAB_OK;
}
