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
#include "core/err.h"

/*
 * Lab 1, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

int
log_open(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
	 int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
	 struct kerr *e)
{
	return KLAB_ENOTIMPL;
}

int
log_open_in(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
	    int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
	    struct segment_files *files, struct kerr *e)
{
	return KLAB_ENOTIMPL;
}

int
log_append(struct log *l, uint8_t *p, size_t len, int64_t now_ms, struct log_append_info *info,
	   struct kerr *e)
{
	return KLAB_ENOTIMPL;
}

struct segment *
log_segment_for(const struct log *l, int64_t offset)
{
	return NULL;
}

int
log_read(struct log *l, int64_t offset, size_t max_bytes, struct buf *out,
	 struct log_read_info *info)
{
	return KLAB_ENOTIMPL;
}

int
log_read_region(struct log *l, int64_t offset, size_t max_bytes, struct log_region *out)
{
	return KLAB_ENOTIMPL;
}

void
log_max_timestamp(const struct log *l, int64_t *offset, int64_t *ts)
{
}

int
log_offset_for_time(struct log *l, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	return KLAB_ENOTIMPL;
}

int
log_roll(struct log *l, int64_t now_ms)
{
	return KLAB_ENOTIMPL;
}

uint64_t
log_size_bytes(const struct log *l)
{
	return 0;
}

int
log_apply_retention(struct log *l, int64_t now_ms, struct log_retention_report *rep)
{
	return KLAB_ENOTIMPL;
}

int
log_flush(struct log *l, int64_t now_ms)
{
	return KLAB_ENOTIMPL;
}

int
log_tick(struct log *l, int64_t now_ms)
{
	return KLAB_ENOTIMPL;
}

int
log_close(struct log *l)
{
	return KLAB_ENOTIMPL;
}

void
log_release(struct log *l)
{
}

int
log_check_invariants(const struct log *l, struct kerr *e)
{
	return KLAB_ENOTIMPL;
}
