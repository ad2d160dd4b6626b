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
#include "core/err.h"

/*
 * Lab 1, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

struct index_entry
index_entry_at(const struct index *ix, size_t i)
{
	return (struct index_entry){ 0 };
}

int
index_open(struct index *ix, struct fs *fs, enum index_kind kind, const char *path,
	   int64_t base_offset, size_t max_bytes, struct kerr *e)
{
	return KLAB_ENOTIMPL;
}

void
index_close(struct index *ix)
{
}

void
index_release_file(struct index *ix)
{
}

int
index_sync(struct index *ix)
{
	return KLAB_ENOTIMPL;
}

bool
index_full(const struct index *ix)
{
	return false;
}

int
index_reset(struct index *ix)
{
	return KLAB_ENOTIMPL;
}

int
index_truncate_to(struct index *ix, int64_t offset)
{
	return KLAB_ENOTIMPL;
}

int
index_remove_file(struct index *ix)
{
	return KLAB_ENOTIMPL;
}

int
index_append_offset(struct index *ix, int64_t offset, uint32_t position)
{
	return KLAB_ENOTIMPL;
}

int
index_maybe_append_time(struct index *ix, int64_t timestamp, int64_t offset)
{
	return KLAB_ENOTIMPL;
}

long
index_slot_floor(const int64_t *keys, size_t n, int64_t target)
{
	return 0;
}

struct index_entry
index_lookup(const struct index *ix, int64_t target)
{
	return (struct index_entry){ 0 };
}
