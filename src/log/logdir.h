/*
 * logdir.h - a log directory (one entry of log.dirs) and the logs in it.
 *
 * Kafka keeps per-directory bookkeeping beside the partition directories
 * (LogManager):
 *
 *   <log.dir>/.lock                               held while it is open
 *   <log.dir>/.kafka_cleanshutdown                written by a clean stop
 *   <log.dir>/recovery-point-offset-checkpoint    offsets known fsynced
 *   <log.dir>/log-start-offset-checkpoint         where each log begins
 *   <log.dir>/<topic>-<partition>/00000000000000000000.log ...
 *
 * A checkpoint file is text: a version line ("0"), a count line, then one
 * "topic partition offset" line per log.  It is replaced atomically
 * (write a .tmp, fsync, rename), so a crash leaves the old or the new one.
 *
 * On open the directory is locked first (fs_lock on .lock, Kafka's
 * LogManager.lockLogDirs): a second owner - another broker on the same
 * log.dirs - is refused before it reads or writes anything, or both would
 * hand out the same offsets and one's acknowledged records would vanish.
 * Then the marker is read and deleted, and the deletion made durable:
 * if the process dies from here on the next open will know the shutdown
 * was unclean.
 */
#ifndef KLAB_LOG_LOGDIR_H
#define KLAB_LOG_LOGDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"
#include "log/log.h"

#define LOGDIR_LOCK_FILE ".lock"
/* Cold segments' .log files open at once (segment.c, invariant 4). */
#define LOGDIR_OPEN_COLD_FILES_MAX 64
#define LOGDIR_CLEAN_MARKER ".kafka_cleanshutdown"
#define LOGDIR_RECOVERY_CHECKPOINT "recovery-point-offset-checkpoint"
#define LOGDIR_START_CHECKPOINT "log-start-offset-checkpoint"

struct checkpoint_entry {
	char *name; /* "<topic>-<partition>" */
	int64_t offset;
};

struct logdir_log {
	char *name;
	struct log *log;
};

struct logdir {
	struct fs *fs;
	char *path;
	struct fs_file *lock;	    /* LOGDIR_LOCK_FILE, locked until the directory is closed */
	bool was_clean;		    /* the marker was there when we opened */
	bool offline;		    /* a write or flush failed: see logdir_fail */
	struct segment_files files; /* its logs' open cold files */
	struct kerr offline_why;
	struct checkpoint_entry *recovery, *start;
	size_t nrecovery, nstart;
	struct logdir_log *logs;
	size_t nlogs, cap;
};

/*
 * Lock the directory at path (creating it), read its checkpoints, take the
 * clean-shutdown marker.  KLAB_ESTATE, with Kafka's sentence, when another
 * process (or another open in this one) holds the lock.
 */
int logdir_open(struct logdir **out, struct fs *fs, const char *path, struct kerr *e);

/*
 * The log named name ("<topic>-<partition>"), opened (and recovered when
 * the directory was not shut down cleanly) on first use.
 */
int logdir_log(struct logdir *d, const char *name, const struct log_config *cfg, int64_t now_ms,
	       struct log **out, struct kerr *e);

/*
 * Close the log called name and delete its directory and files (a topic
 * being deleted).  KLAB_ENOTFOUND when no such log is open.
 */
int logdir_drop(struct logdir *d, const char *name);

/*
 * Forget what the checkpoints read at open said about the log called name,
 * so that a new log of that name starts from nothing: no recovery point,
 * no log start offset inherited from a deleted one.
 */
void logdir_forget(struct logdir *d, const char *name);

/*
 * Take the directory offline after a failed write or flush (Kafka's
 * LogDirFailureChannel): from now on no log in it is written, flushed or
 * checkpointed, and the close writes no clean-shutdown marker, so the next
 * start recovers every log from its last good recovery point.  Klab has
 * one log directory; Kafka would halt a broker whose last directory went
 * offline, klab's broker keeps answering (Metadata, and
 * KAFKA_STORAGE_ERROR for every partition in the directory) so that the
 * operator sees why.  Only a restart brings the directory back.  Returns
 * true the first time (the caller logs it once), false when it already was.
 */
bool logdir_fail(struct logdir *d, const char *why);

/* Write both checkpoint files from the open logs. */
int logdir_checkpoint(struct logdir *d);

/*
 * Flush and close every log, write checkpoints and the clean marker, free.
 * KLAB_EIO when any of it failed or the directory is offline: then there is
 * no marker, and the next open recovers.
 */
int logdir_close(struct logdir *d);

/*
 * Free every log and the directory without any I/O (log_release): no
 * flush, no checkpoint, no marker.  A simulated crash uses it, and the
 * simulated disk then decides what survived.  NULL is allowed.
 */
void logdir_release(struct logdir *d);

/* Parse checkpoint text; KLAB_ECORRUPT (with a reason) when malformed. */
int checkpoint_parse(const char *text, struct checkpoint_entry **out, size_t *n, struct kerr *e);
void checkpoint_free(struct checkpoint_entry *en, size_t n);

#endif
