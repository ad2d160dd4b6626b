/*
 * log.h - the append-only log: an ordered list of segments (chapter 1).
 *
 * A log hands out offsets: each batch appended gets the next offsets in
 * sequence, and a reader asks for "everything from offset o".  Old data is
 * never changed, only deleted a whole segment at a time by retention.
 *
 *   segments:  [0 .. 999] [1000 .. 2041] [2042 .. (active)]
 *               ^ log start offset                     next offset ^
 *
 * Durability: appends go to the page cache; flush() fsyncs and moves the
 * recovery point.  Everything below the recovery point survives a power
 * cut; after an unclean shutdown log_open() validates everything at and
 * after it and cuts the log at the first torn or corrupt batch.
 *
 * Time never comes from a hidden clock: callers pass now_ms, so a
 * simulation or a REPL script decides what time it is.
 */
#ifndef KLAB_LOG_LOG_H
#define KLAB_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/fs.h"
#include "log/producer_state.h"
#include "log/segment.h"

/* Kafka's broker-level log settings (KafkaConfig / LogConfig). */
struct log_config {
	int64_t segment_bytes;		   /* log.segment.bytes */
	int64_t roll_ms;		   /* log.roll.ms or log.roll.hours */
	int64_t retention_ms;		   /* log.retention.{ms,minutes,hours}; -1 = forever */
	int64_t retention_bytes;	   /* log.retention.bytes; -1 = no limit */
	int64_t index_interval_bytes;	   /* log.index.interval.bytes */
	int64_t index_size_max_bytes;	   /* log.index.size.max.bytes */
	int64_t flush_interval_messages;   /* log.flush.interval.messages */
	int64_t flush_interval_ms;	   /* log.flush.interval.ms; -1 = not set */
	int64_t max_message_bytes;	   /* message.max.bytes */
	bool log_append_time;		   /* log.message.timestamp.type=LogAppendTime */
	int64_t producer_id_expiration_ms; /* producer.id.expiration.ms */
};

extern const struct config_key log_config_keys[];
extern const size_t log_config_key_count;

void log_config_defaults(struct log_config *lc);
/* Read the log keys of c (defaults for the rest). */
int log_config_load(struct log_config *lc, const struct config *c, struct kerr *e);

/* What log_open() did, for the REPL and tests to show. */
struct log_open_report {
	bool clean; /* the clean-shutdown marker skipped the scan */
	int segments;
	int segments_recovered; /* validated batch by batch */
	int64_t truncated_bytes;
	int segments_deleted; /* after a corrupt one */
	const char *why;      /* the first problem found, or NULL */
	/* a log-start checkpoint beyond the log end (log.c, log_open_in), -1: none: */
	int64_t start_ignored; /* after a clean stop: ignored, the log starts at its first segment */
	int64_t start_restarted; /* after a crash: the log restarted empty at that offset */
	/* producer state (log.c, load_producer_state): */
	int64_t snapshot_loaded;    /* the offset of the snapshot it started from, -1: none */
	int snapshots_skipped;	    /* corrupt or past the log end: deleted, never trusted */
	int64_t producers_replayed; /* batches with a producer id read after the snapshot */
};

struct log {
	struct fs *fs; /* the disk the log lives on */
	char *dir;
	struct log_config cfg;
	struct segment **segs; /* ascending base offset; segs[nsegs-1] is active */
	size_t nsegs, cap;
	int64_t log_start_offset;
	int64_t next_offset;	/* the log end offset */
	int64_t recovery_point; /* offsets below it are fsynced */
	int64_t unflushed_messages;
	int64_t last_flush_ms;
	int32_t leader_epoch;
	struct segment_files *files; /* its log directory's bound on open cold files, or NULL */
	bool dir_unsynced;	     /* a segment was created since the directory's last fsync */
	bool failed;		 /* a flush failed: appends and flushes refused until reopened */
	struct pstate producers; /* idempotent producers' last batches (producer_state.h) */
	struct log_open_report report;
};

/* Where the log left a batch. */
struct log_append_info {
	int64_t first_offset, last_offset;
	int64_t segment_base;
	uint64_t position;
	int32_t records;
	bool rolled, flushed;
	bool duplicate; /* an idempotent producer's retry: nothing appended, the original's offsets */
};

struct log_read_info {
	int batches;
	int64_t first_offset; /* base offset of the first batch returned */
	int64_t next_offset;  /* the log end offset when read */
	bool stopped_at_corrupt;
};

struct log_retention_report {
	int segments_deleted;
	uint64_t bytes_deleted;
	int64_t log_start_offset;
	bool rolled;
};

/*
 * Open the log in dir (creating dir and a first segment when empty).
 * recovery_point and log_start_offset come from the log directory's
 * checkpoint files (0 when unknown); clean says whether the directory's
 * clean-shutdown marker was present.
 */
int log_open(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
	     int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
	     struct kerr *e);

/*
 * log_open, with sealed and flushed segments going cold into files (a log
 * directory's bound on open files, segment.c invariant 4); log_open keeps
 * every file open.
 */
int log_open_in(struct log **out, struct fs *fs, const char *dir, const struct log_config *cfg,
		int64_t recovery_point, int64_t log_start_offset, bool clean, int64_t now_ms,
		struct segment_files *files, struct kerr *e);

/*
 * Validate the batch p[0..len), assign its offsets (rewriting baseOffset
 * in place), roll if needed and append it.  KLAB_ECORRUPT or
 * KLAB_ETRUNCATED (with a reason in e) for a malformed batch,
 * KLAB_ETOOLARGE above message.max.bytes; nothing is written then.
 * A batch with a producer id passes the producer state's rules first
 * (producer_state.h): a duplicate is KLAB_OK with info->duplicate and the
 * original offsets, nothing written; KLAB_ESEQUENCE (out of order),
 * KLAB_EFENCED (an older epoch) and KLAB_EINVAL (a negative sequence, a
 * transactional batch) write nothing either.
 */
int log_append(struct log *l, uint8_t *p, size_t len, int64_t now_ms, struct log_append_info *info,
	       struct kerr *e);

/*
 * Copy whole batches starting with the one holding offset into out, up to
 * max_bytes (but at least one batch).  Every batch is CRC-checked first; a
 * corrupt batch is never returned (KLAB_ECORRUPT if it is the first).
 * KLAB_ERANGE below the log start or above the log end offset.
 */
int log_read(struct log *l, int64_t offset, size_t max_bytes, struct buf *out,
	     struct log_read_info *info);

/*
 * Where a Fetch's bytes lie, without reading them (Kafka's LogSegment.read
 * returning a FileRecords slice): whole batches of one segment file,
 * starting with the batch holding offset, up to max_bytes (but at least
 * one batch).  The broker sends them with sendfile and never looks at
 * them, so no CRC is checked here: consumers check (librdkafka's
 * check.crcs).  len 0 at the log end; KLAB_ERANGE as log_read; a batch
 * header that cannot be read ends the region early (KLAB_ECORRUPT if it
 * is the first).  file stays valid until the segment is deleted.
 */
struct log_region {
	struct fs_file *file; /* NULL when len is 0 */
	int64_t pos;
	size_t len;
	int64_t first_offset; /* base offset of the first batch; -1 when len 0 */
};

int log_read_region(struct log *l, int64_t offset, size_t max_bytes, struct log_region *out);

/*
 * The first offset whose record timestamp is >= ts (Kafka's ListOffsets by
 * timestamp), and that record's timestamp.  KLAB_ENOTFOUND when none is.
 */
int log_offset_for_time(struct log *l, int64_t ts, int64_t *offset, int64_t *found_ts);

/*
 * The largest record timestamp in the log and the offset each segment
 * keeps with it (the last offset of the batch that holds it, as Kafka
 * 3.6's maxTimestampAndOffsetSoFar), from the segments' own fields, no
 * reading: ListOffsets' MAX_TIMESTAMP (KIP-734).  Both -1 when the log is
 * empty.
 */
void log_max_timestamp(const struct log *l, int64_t *offset, int64_t *ts);

/* Start a new active segment at the log end (no-op when it is empty). */
int log_roll(struct log *l, int64_t now_ms);

/* Delete whole segments past log.retention.ms / log.retention.bytes. */
int log_apply_retention(struct log *l, int64_t now_ms, struct log_retention_report *rep);

/* fsync everything; the recovery point becomes the log end offset. */
int log_flush(struct log *l, int64_t now_ms);
/* Flush if log.flush.interval.ms has passed since the last flush. */
int log_tick(struct log *l, int64_t now_ms);

uint64_t log_size_bytes(const struct log *l);
/* The segment holding offset, or NULL. */
struct segment *log_segment_for(const struct log *l, int64_t offset);

/* Flush and free. */
int log_close(struct log *l);

/*
 * Free the log without any I/O: nothing is flushed, written, truncated or
 * deleted (error paths use it, and so does a simulated crash, whose disk
 * then decides what survived).  NULL is allowed.
 */
void log_release(struct log *l);

/* Check invariants 1-3 of log.c and each segment's; KLAB_OK or an error naming the rule. */
int log_check_invariants(const struct log *l, struct kerr *e);

#endif
