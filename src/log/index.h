/*
 * index.h - the sparse offset index (.index) and time index (.timeindex)
 * of a log segment.
 *
 * An index is a sorted array of fixed-size entries kept in memory and
 * mirrored to a file, big-endian as Kafka writes them:
 *
 *   .index      8 bytes an entry: relativeOffset int32, position int32
 *               "the batch holding this offset starts at byte position"
 *   .timeindex 12 bytes an entry: timestamp int64, relativeOffset int32
 *               "records at or after this offset have timestamps >= this"
 *
 * Offsets are stored relative to the segment's base offset, which is why a
 * segment must roll before its offsets span more than 2^31.  The index is
 * sparse: the segment adds an entry only every log.index.interval.bytes of
 * log, so a lookup finds the nearest entry at or below the target and the
 * caller scans forward from there (chapter 1 §4).
 *
 * Kafka preallocates the file and maps it into memory; klab keeps the
 * entries in memory and writes the new ones with one pwrite() when the
 * log is flushed, so the file length is always a whole number of entries
 * - a simpler picture with the same bytes.
 */
#ifndef KLAB_LOG_INDEX_H
#define KLAB_LOG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

#define OFFSET_INDEX_ENTRY 8
#define TIME_INDEX_ENTRY 12

enum index_kind { INDEX_OFFSET, INDEX_TIME };

struct index {
	enum index_kind kind;
	struct fs *fs;
	struct fs_file
		*file; /* NULL when closed (index_release_file): reopened on the next write */
	char *path;
	int64_t base_offset;
	size_t entry_size;
	uint8_t *mem;  /* n * entry_size bytes, as in the file */
	int64_t *keys; /* keys[i]: entry i's relative offset or timestamp */
	size_t n, cap;
	size_t written;	    /* entries [0, written) are in the file; index_sync writes the rest */
	bool unsynced;	    /* the file changed since its last fsync */
	size_t max_entries; /* log.index.size.max.bytes / entry_size */
};

/* One .index entry, with the offset made absolute again. */
struct index_entry {
	int64_t offset;
	int64_t timestamp; /* time index only */
	uint32_t position; /* offset index only */
};

/*
 * Open (creating if absent) the index file at path and load its entries.
 * Returns KLAB_ECORRUPT when the file fails the sanity check (length not a
 * whole number of entries, entries out of order or below base_offset); the
 * caller then rebuilds it with index_reset() and fresh appends.
 */
int index_open(struct index *ix, struct fs *fs, enum index_kind kind, const char *path,
	       int64_t base_offset, size_t max_bytes, struct kerr *e);
void index_close(struct index *ix);
/*
 * Write the pending entries (no fsync) and let go of the file's
 * descriptor (the entries stay in memory, where lookups read them); the
 * next write, truncation or sync reopens it.  A sealed segment's indexes
 * never change, so they hold no descriptor.  If the write fails the file
 * stays open and the next index_sync tries again.
 */
void index_release_file(struct index *ix);
/*
 * Write the pending entries and fsync the file: KLAB_OK; KLAB_ENOSPC when
 * the disk had no room for the new entries (they stay in memory, the file
 * holds a shorter index, fsynced: index.c invariant 4); KLAB_EIO.
 */
int index_sync(struct index *ix);
bool index_full(const struct index *ix);
/* Drop every entry (and truncate the file). */
int index_reset(struct index *ix);
/* Drop entries for offsets >= offset. */
int index_truncate_to(struct index *ix, int64_t offset);
int index_remove_file(struct index *ix);

/* Offset index: offset must be above the last entry's. */
int index_append_offset(struct index *ix, int64_t offset, uint32_t position);
/*
 * Time index: adds only when timestamp is above the last entry's (above -1,
 * "no timestamp", when there is none yet: negative timestamps are not
 * indexed, as in Kafka).
 */
int index_maybe_append_time(struct index *ix, int64_t timestamp, int64_t offset);

/* Entry i (0 <= i < n), decoded. */
struct index_entry index_entry_at(const struct index *ix, size_t i);

/*
 * The largest entry whose offset (offset index) or timestamp (time index)
 * is <= target.  When every entry is above target, or there are none, the
 * answer is the segment start: offset base_offset, position 0.
 */
struct index_entry index_lookup(const struct index *ix, int64_t target);

/*
 * The slot of the last entry whose key is <= target, or -1 when none is.
 * keys[i] = key of entry i, ascending.  (The binary search at the heart of
 * every index lookup - lab 1.)
 */
long index_slot_floor(const int64_t *keys, size_t n, int64_t target);

#endif
