/*
 * segment.h - one segment of a log: a .log file of record batches with its
 * sparse .index and .timeindex.
 *
 * Files are named by the segment's base offset, the first offset it can
 * hold, as 20 decimal digits (Kafka's LogFileUtils.filenamePrefixFromOffset):
 *
 *   00000000000000000000.log  00000000000000000000.index  ...timeindex
 *   00000000000000001043.log  ...
 *
 * Only the newest ("active") segment of a log is appended to; the others
 * are immutable until retention deletes them whole (chapter 1 §3).
 *
 * Interface: segment_open() opens or creates the three files; then
 * segment_load() (trusting a clean shutdown: only the tail is looked at) or
 * segment_recover() (validating every batch) makes it usable.
 */
#ifndef KLAB_LOG_SEGMENT_H
#define KLAB_LOG_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"
#include "log/batch.h"
#include "log/index.h"

struct segment_files;

struct segment {
	int64_t base_offset;
	struct fs *fs;
	struct fs_file *file; /* the .log; NULL while a cold segment's file is closed */
	char *log_path;
	uint64_t size;	       /* bytes in .log */
	int64_t next_offset;   /* one past the last offset held; base when empty */
	int64_t max_timestamp; /* -1 when empty */
	int64_t offset_of_max_timestamp;
	int64_t rolling_timestamp; /* first batch's maxTimestamp, -1 when empty */
	int64_t created_ms;	   /* for log.roll.ms while empty */
	uint64_t bytes_since_index;
	uint32_t index_interval_bytes;
	bool index_suspect; /* an index file failed its sanity check */
	bool unsynced;	    /* the .log may hold writes no fsync covered yet */
	struct index oi, ti;
	/* cold: sealed; its files are opened on use (segment.c, invariant 4) */
	bool cold;
	struct segment_files *files;	     /* the bound on open cold files (NULL: none) */
	struct segment *lru_prev, *lru_next; /* in files' list while cold and open */
	uint64_t pin;			     /* files->epoch when log_read_region handed out file */
};

/*
 * The open .log files of cold segments, one set per log directory: at most
 * max of them (a least-recently-used list), beyond the files that requests
 * still being answered were handed (pinned in the current epoch).
 */
struct segment_files {
	struct segment *head, *tail; /* most recently used first */
	size_t open, max;
	uint64_t epoch;
};

/* An empty set of at most max (>= 1) open cold files. */
void segment_files_init(struct segment_files *c, size_t max);

/*
 * A new request begins: the files handed out before were taken (the real
 * runtime dup()s a file's descriptor when it queues it; the simulated one
 * copies its bytes), so they may close again; the set shrinks to max.
 */
void segment_files_next_epoch(struct segment_files *c);

/* What segment_recover() found. */
struct segment_recovery {
	int32_t batches;      /* valid batches kept */
	uint64_t valid_bytes; /* the .log is cut to this length */
	uint64_t truncated_bytes;
	const char *why; /* why the first bad batch was bad, or NULL */
};

/* "<dir>/<20-digit base><suffix>" into out. */
void segment_file_name(char *out, size_t n, const char *dir, int64_t base, const char *suffix);

/*
 * Open (creating when absent) the three files of the segment at base in
 * dir, on disk fs.  A created segment's names are durable only after the
 * directory is fsynced (log_flush does it, as Kafka's LocalLog.flush).
 */
int segment_open(struct segment **out, struct fs *fs, const char *dir, int64_t base,
		 uint32_t index_interval_bytes, uint32_t index_max_bytes, int64_t now_ms,
		 struct kerr *e);
/* Let go of the files and free the segment: no I/O, nothing flushed. */
void segment_close(struct segment *s);
/* Remove the three files and free the segment. */
int segment_delete(struct segment *s);

/*
 * Trusting a clean shutdown: read the batch headers after the last index
 * entry to learn next_offset and the timestamps.  KLAB_ECORRUPT when
 * anything there does not parse or an index failed its check: recover.
 */
int segment_load(struct segment *s);

/*
 * Validate every batch from the start (CRC included), cut the .log after
 * the last valid one, rebuild both indexes.  A batch is invalid when it is
 * torn, fails its CRC, is larger than max_batch_bytes, or its offsets do
 * not follow the previous batch's or do not fit the segment (relative
 * offsets are 32-bit).
 */
int segment_recover(struct segment *s, size_t max_batch_bytes, struct segment_recovery *rep);

/* Append a batch whose offsets are assigned (base >= next_offset). */
int segment_append(struct segment *s, const uint8_t *p, size_t len, const struct batch_header *h);

/* Read the batch header at pos (header only; no CRC check). */
int segment_header_at(const struct segment *s, uint64_t pos, struct batch_header *h);
/* pread n bytes at pos into dst; KLAB_ETRUNCATED when the file is shorter. */
int segment_read(const struct segment *s, uint64_t pos, void *dst, size_t n);

/*
 * The position of the first batch whose last offset is >= offset: the
 * sparse index gives a starting point, then batch headers are scanned.
 * KLAB_ENOTFOUND when no batch of this segment reaches offset.
 */
int segment_find(const struct segment *s, int64_t offset, uint64_t *pos, struct batch_header *h);

/* fsync the .log and both indexes (an index the full disk left short is fine). */
int segment_flush(struct segment *s);

/*
 * Write the .log's bytes again, as they read now, so that the next flush
 * really puts them on disk.  Recovery needs it: after a failed fsync the
 * page cache still shows bytes that never reached the disk (segment.c).
 */
int segment_rewrite(struct segment *s);

/* Cut the segment back to byte position pos (a batch boundary). */
int segment_truncate_at(struct segment *s, uint64_t pos);

/* On becoming inactive: the time index gets the segment's max timestamp. */
int segment_seal(struct segment *s);

/*
 * A sealed segment goes cold: its index files are written out (not
 * fsynced: a flush reopens them for that) and closed (their entries stay
 * in memory) and its .log joins files, closed when the least recently used
 * beyond files->max.  files NULL: nothing changes (a log without a log
 * directory keeps its files open, as before).
 */
void segment_cool(struct segment *s, struct segment_files *files);

/* Become active again (a recovery cut the segments after it): its files stay open. */
int segment_warm(struct segment *s);

/*
 * The .log, opened again if it is cold and closed; NULL when it cannot be
 * opened.  With pin, it stays open until the next epoch (log_read_region
 * hands it to a response).
 */
struct fs_file *segment_log_file(const struct segment *s, bool pin);

/*
 * Check the segment's invariants that hold in memory without reading the
 * files (segment.c, 1-3 in their cheap form): its size and offsets, and
 * its index entries against them.  KLAB_OK or KLAB_ESTATE naming the rule.
 */
int segment_check_invariants(const struct segment *s, struct kerr *e);

#endif
