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
#include "core/err.h"

/*
 * Lab 1, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

void
segment_file_name(char *out, size_t n, const char *dir, int64_t base, const char *suffix)
{
}

int
segment_open(struct segment **out, struct fs *fs, const char *dir, int64_t base,
	     uint32_t index_interval_bytes, uint32_t index_max_bytes, int64_t now_ms,
	     struct kerr *e)
{
	return KLAB_ENOTIMPL;
}

void
segment_files_init(struct segment_files *c, size_t max)
{
}

void
segment_files_next_epoch(struct segment_files *c)
{
}

void
segment_cool(struct segment *s, struct segment_files *files)
{
}

int
segment_warm(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

struct fs_file *
segment_log_file(const struct segment *cs, bool pin)
{
	return NULL;
}

void
segment_close(struct segment *s)
{
}

int
segment_delete(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

int
segment_read(const struct segment *s, uint64_t pos, void *dst, size_t n)
{
	return KLAB_ENOTIMPL;
}

int
segment_header_at(const struct segment *s, uint64_t pos, struct batch_header *h)
{
	return KLAB_ENOTIMPL;
}

int
segment_append(struct segment *s, const uint8_t *p, size_t len, const struct batch_header *h)
{
	return KLAB_ENOTIMPL;
}

int
segment_load(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

int
segment_recover(struct segment *s, size_t max_batch_bytes, struct segment_recovery *rep)
{
	return KLAB_ENOTIMPL;
}

int
segment_find(const struct segment *s, int64_t offset, uint64_t *pos, struct batch_header *h)
{
	return KLAB_ENOTIMPL;
}

int
segment_flush(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

int
segment_rewrite(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

int
segment_truncate_at(struct segment *s, uint64_t pos)
{
	return KLAB_ENOTIMPL;
}

int
segment_seal(struct segment *s)
{
	return KLAB_ENOTIMPL;
}

int
segment_check_invariants(const struct segment *s, struct kerr *e)
{
	return KLAB_ENOTIMPL;
}
