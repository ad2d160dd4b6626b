/*
 * index.c - sparse offset and time indexes (see index.h; chapter 1 §4).
 *
 * Invariants:
 *   1. mem holds the n entries; the file holds the first `written` of
 *      them (written <= n).  Appends stay in memory until index_sync()
 *      writes them - as Kafka's memory-mapped index reaches the disk when
 *      the kernel or a flush writes it back - so an append costs no
 *      system call; a crash may lose unsynced entries, and recovery
 *      rebuilds the index of every segment past the recovery point.
 *   2. Keys ascend strictly: relative offsets in .index, timestamps in
 *      .timeindex (and their offsets never decrease).
 *   3. Every relative offset is >= 0.
 *   4. The file holds a prefix of the entries (unsynced: it changed, or
 *      was loaded non-empty, since its last fsync; only then does
 *      index_sync fsync it).  When the disk is full a
 *      write of new entries fails (index_sync: KLAB_ENOSPC) and they stay
 *      in memory for a later sync: a shorter sparse index is still a
 *      correct one (a lookup only scans further), so a full disk never
 *      stops a flush or a recovery for an index's sake; a torn entry
 *      makes the length a partial entry, and the next open rebuilds it.
 */
#include "log/index.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* The search key of a raw entry: relative offset or timestamp. */
static int64_t
raw_key(const struct index *ix, const uint8_t *p)
{
	if (ix->kind == INDEX_OFFSET)
		return (int32_t)be32_read(p);
	return (int64_t)be64_read(p);
}

static int64_t
entry_key(const struct index *ix, size_t i)
{
	return ix->keys[i];
}

struct index_entry
index_entry_at(const struct index *ix, size_t i)
{
	const uint8_t *p = ix->mem + i * ix->entry_size;
	struct index_entry en = { 0 };

	if (ix->kind == INDEX_OFFSET) {
		en.offset = ix->base_offset + (int32_t)be32_read(p);
		en.position = be32_read(p + 4);
		en.timestamp = -1;
	} else {
		en.timestamp = (int64_t)be64_read(p);
		en.offset = ix->base_offset + (int32_t)be32_read(p + 8);
	}
	return en;
}

static bool
reserve(struct index *ix, size_t entries)
{
	size_t cap = ix->cap ? ix->cap : 64;
	uint8_t *p;
	int64_t *k;

	if (entries <= ix->cap)
		return true;
	while (cap < entries)
		cap *= 2;
	p = realloc(ix->mem, cap * ix->entry_size);
	if (p == NULL)
		return false;
	ix->mem = p;
	k = realloc(ix->keys, cap * sizeof(*k));
	if (k == NULL)
		return false;
	ix->keys = k;
	ix->cap = cap;
	return true;
}

/* Invariants 2 and 3 over the loaded entries. */
static bool
entries_sane(const struct index *ix)
{
	int64_t prev_off = -1;

	for (size_t i = 0; i < ix->n; i++) {
		struct index_entry en = index_entry_at(ix, i);
		int64_t rel = en.offset - ix->base_offset;

		if (rel < 0 || (i > 0 && entry_key(ix, i) <= entry_key(ix, i - 1)))
			return false;
		if (en.offset < prev_off)
			return false;
		prev_off = en.offset;
	}
	return true;
}

static int
load(struct index *ix, struct kerr *e)
{
	int64_t size = fs_size(ix->file, e);
	int rc;

	if (size < 0)
		return (int)size;
	if (size % (int64_t)ix->entry_size != 0 || (size_t)size / ix->entry_size > ix->max_entries)
		return kerr_set(e, KLAB_ECORRUPT, "%s: size %lld is not a whole number of entries",
				ix->path, (long long)size);
	if (!reserve(ix, (size_t)size / ix->entry_size))
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	ix->n = ix->written = (size_t)size / ix->entry_size;
	ix->unsynced = ix->n > 0; /* written by an earlier run: maybe never fsynced */
	if (ix->n > 0 && (rc = fs_pread_all(ix->file, ix->mem, (size_t)size, 0, e)) != KLAB_OK)
		return rc == KLAB_ETRUNCATED ? kerr_set(e, KLAB_EIO, "%s: short read", ix->path)
					     : rc;
	for (size_t i = 0; i < ix->n; i++)
		ix->keys[i] = raw_key(ix, ix->mem + i * ix->entry_size);
	if (!entries_sane(ix)) {
		ix->n = 0;
		return kerr_set(e, KLAB_ECORRUPT, "%s: entries out of order", ix->path);
	}
	return KLAB_OK;
}

int
index_open(struct index *ix, struct fs *fs, enum index_kind kind, const char *path,
	   int64_t base_offset, size_t max_bytes, struct kerr *e)
{
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->fs = fs;
	ix->kind = kind;
	ix->entry_size = kind == INDEX_OFFSET ? OFFSET_INDEX_ENTRY : TIME_INDEX_ENTRY;
	ix->base_offset = base_offset;
	ix->max_entries = max_bytes / ix->entry_size;
	ix->path = strdup(path);
	if (ix->path == NULL || !reserve(ix, 64)) {
		index_close(ix);
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	if ((rc = fs_open(fs, path, FS_CREATE, &ix->file, e)) != KLAB_OK) {
		index_close(ix);
		return rc;
	}
	return load(ix, e);
}

void
index_close(struct index *ix)
{
	fs_close(ix->file);
	free(ix->path);
	free(ix->mem);
	free(ix->keys);
	memset(ix, 0, sizeof(*ix));
}

/* The file, reopened if it was released. */
static int
reopen(struct index *ix)
{
	if (ix->file != NULL)
		return KLAB_OK;
	return fs_open(ix->fs, ix->path, FS_CREATE, &ix->file, NULL) == KLAB_OK ? KLAB_OK
										: KLAB_EIO;
}

/* Write the entries appended since the last write (invariant 1). */
static int
write_pending(struct index *ix)
{
	size_t n = (ix->n - ix->written) * ix->entry_size;
	size_t at = ix->written * ix->entry_size;
	int rc;

	if (n == 0)
		return KLAB_OK;
	if (reopen(ix) != KLAB_OK)
		return KLAB_EIO;
	ix->unsynced = true;
	if ((rc = fs_pwrite(ix->file, ix->mem + at, n, at, NULL)) != KLAB_OK)
		return rc == KLAB_ENOSPC ? KLAB_ENOSPC : KLAB_EIO;
	ix->written = ix->n;
	return KLAB_OK;
}

void
index_release_file(struct index *ix)
{
	if (ix->file != NULL && write_pending(ix) == KLAB_OK) {
		fs_close(ix->file);
		ix->file = NULL;
	}
}

int
index_sync(struct index *ix)
{
	int rc = write_pending(ix);

	if (rc != KLAB_OK && rc != KLAB_ENOSPC)
		return KLAB_EIO;
	if (!ix->unsynced) /* unchanged since its last fsync, or empty since created */
		return rc;
	if (reopen(ix) != KLAB_OK || fs_fsync(ix->file, NULL) != KLAB_OK)
		return KLAB_EIO;
	ix->unsynced = rc == KLAB_ENOSPC; /* what did not fit is still to write */
	return rc;
}

bool
index_full(const struct index *ix)
{
	return ix->n >= ix->max_entries;
}

/* After n shrank: cut the file back to at most n entries (invariant 1). */
static int
trim_file(struct index *ix)
{
	if (ix->written <= ix->n)
		return KLAB_OK;
	ix->written = ix->n;
	if (reopen(ix) != KLAB_OK)
		return KLAB_EIO;
	ix->unsynced = true;
	return fs_truncate(ix->file, ix->n * ix->entry_size, NULL) == KLAB_OK ? KLAB_OK : KLAB_EIO;
}

int
index_reset(struct index *ix)
{
	int64_t size;

	ix->n = ix->written = 0;
	if (reopen(ix) != KLAB_OK || (size = fs_size(ix->file, NULL)) < 0)
		return KLAB_EIO;
	if (size == 0) /* nothing to cut (a recovery of an empty segment costs no fsync) */
		return KLAB_OK;
	ix->unsynced = true;
	return fs_truncate(ix->file, 0, NULL) == KLAB_OK ? KLAB_OK : KLAB_EIO;
}

int
index_truncate_to(struct index *ix, int64_t offset)
{
	while (ix->n > 0 && index_entry_at(ix, ix->n - 1).offset >= offset)
		ix->n--;
	return trim_file(ix);
}

int
index_remove_file(struct index *ix)
{
	return fs_unlink(ix->fs, ix->path, NULL) == KLAB_OK ? KLAB_OK : KLAB_EIO;
}

static int
append_raw(struct index *ix, const uint8_t *entry)
{
	if (index_full(ix))
		return KLAB_ETOOLARGE;
	if (!reserve(ix, ix->n + 1))
		return KLAB_ENOMEM;
	memcpy(ix->mem + ix->n * ix->entry_size, entry, ix->entry_size);
	ix->keys[ix->n] = raw_key(ix, entry);
	ix->n++;
	return KLAB_OK;
}

int
index_append_offset(struct index *ix, int64_t offset, uint32_t position)
{
	uint8_t en[OFFSET_INDEX_ENTRY];
	int64_t rel = offset - ix->base_offset;

	assert(ix->kind == INDEX_OFFSET);
	if (rel < 0 || rel > INT32_MAX)
		return KLAB_ERANGE;
	if (ix->n > 0 && rel <= entry_key(ix, ix->n - 1))
		return KLAB_EINVAL;
	be32_write(en, (uint32_t)rel);
	be32_write(en + 4, position);
	return append_raw(ix, en);
}

int
index_maybe_append_time(struct index *ix, int64_t timestamp, int64_t offset)
{
	uint8_t en[TIME_INDEX_ENTRY];
	int64_t rel = offset - ix->base_offset;

	assert(ix->kind == INDEX_TIME);
	/* an empty index acts as if it ended at -1, NO_TIMESTAMP (Kafka's TimeIndex) */
	if (timestamp <= (ix->n > 0 ? entry_key(ix, ix->n - 1) : -1))
		return KLAB_OK;
	if (rel < 0 || rel > INT32_MAX)
		return KLAB_ERANGE;
	be64_write(en, (uint64_t)timestamp);
	be32_write(en + 8, (uint32_t)rel);
	return append_raw(ix, en);
}

long
index_slot_floor(const int64_t *keys, size_t n, int64_t target)
{
	/* LAB 1 BEGIN index_slot_floor: binary search for the last key <= target
	 * skeleton: (void)keys; (void)n; (void)target; return -2;
	 */
	long lo = 0, hi = (long)n - 1, found = -1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (keys[mid] <= target) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
	/* LAB 1 END index_slot_floor */
}

struct index_entry
index_lookup(const struct index *ix, int64_t target)
{
	struct index_entry none = { ix->base_offset, -1, 0 };
	int64_t key = target;
	long slot;

	if (ix->n == 0)
		return none;
	if (ix->kind == INDEX_OFFSET) {
		if (target < ix->base_offset)
			return none;
		key = target - ix->base_offset;
		if (key > INT32_MAX)
			key = INT32_MAX;
	}
	slot = index_slot_floor(ix->keys, ix->n, key);
	if (slot < 0 || (size_t)slot >= ix->n)
		return none;
	return index_entry_at(ix, (size_t)slot);
}
