/*
 * txnlog.h - ZooKeeper's transaction log files, framing only
 * (<dataDir>/version-2/log.<hex zxid>; Apache ZooKeeper's
 * server/persistence/FileTxnLog.java, FilePadding.java, Util.java).
 *
 * The txn bytes are opaque here: the caller serializes TxnHeader, the
 * txn record and the optional TxnDigest (zookeeper.jute) and hands the
 * bytes over.  The one field this module reads from them is the zxid,
 * at byte offset TXNLOG_ZXID_OFFSET of TxnHeader
 * {long clientId; int cxid; long zxid; long time; int type}.
 *
 * Writing:
 *   txnlog_open()    the version-2 directory, created durably; no file
 *                    is opened until the first append (ZooKeeper starts
 *                    a new log file at every start, too).
 *   txnlog_append()  frame one txn into the current file (creating
 *                    log.<its zxid> when there is none); not durable yet.
 *   txnlog_commit()  one fsync for every append since the last commit
 *                    (group commit); a txn is durable only after a commit
 *                    that covers it returned KLAB_OK.
 *   txnlog_roll()    the next append starts a new file.
 *   txnlog_close()   lets go of the handles; no I/O, nothing flushed.
 *
 * Reading:
 *   txnlog_iter_open(), txnlog_iter_next(), txnlog_iter_end(),
 *   txnlog_iter_close()   every txn from a zxid on, across the files.
 *
 * Maintenance:
 *   txnlog_recover()  cut the last file after its last whole entry.
 *   txnlog_purge()    delete the files a snapshot has made useless.
 */
#ifndef KLAB_COORD_TXNLOG_H
#define KLAB_COORD_TXNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

#define TXNLOG_SUBDIR "version-2"   /* FileTxnSnapLog.version + 'version-' */
#define TXNLOG_PREFIX "log"	    /* FileTxnLog.LOG_FILE_PREFIX */
#define TXNLOG_MAGIC 0x5A4B4C47u    /* "ZKLG", FileTxnLog.TXNLOG_MAGIC */
#define TXNLOG_VERSION 2	    /* FileTxnLog.VERSION */
#define TXNLOG_DBID 0		    /* FileTxnLog.dbId */
#define TXNLOG_FILE_HEADER_BYTES 16 /* FileHeader: int magic, int version, long dbid */
#define TXNLOG_ENTRY_HEAD_BYTES 12  /* long checksum, int length */
#define TXNLOG_ENTRY_TRAILER 0x42   /* 'B', Util.writeTxnBytes */
#define TXNLOG_ENTRY_OVERHEAD 13    /* head + trailer */
#define TXNLOG_TXN_HEADER_BYTES 32  /* TxnHeader: 8 + 4 + 8 + 8 + 4 */
#define TXNLOG_ZXID_OFFSET 12	    /* TxnHeader.zxid: after clientId and cxid */
#define TXNLOG_PAD_SLACK 4096	    /* FilePadding: pad when pos + 4096 >= size */
#define TXNLOG_PREALLOC_DEFAULT (65536ull * 1024) /* zookeeper.preAllocSize, in KB */
/*
 * jute.maxbuffer (default 0xfffff) plus zookeeper.jute.maxbuffer.extrasize
 * (default: jute.maxbuffer again): the longest buffer ZooKeeper's
 * BinaryInputArchive.checkLength reads, so the longest txn it can replay.
 */
#define TXNLOG_JUTE_MAXBUFFER 0xfffff
#define TXNLOG_MAX_TXN_DEFAULT (2 * TXNLOG_JUTE_MAXBUFFER)
#define TXNLOG_NAME_MAX 32 /* "log." + 16 hex digits + NUL, rounded up */

struct txnlog_config {
	uint64_t prealloc_bytes; /* 0: no preallocation (FilePadding: preAllocSize <= 0) */
	uint32_t max_txn_bytes;	 /* a longer txn is refused, a longer entry corrupt */
	/*
	 * forceSync=no (zookeeper.forceSync): commit skips the fsync.  UNSAFE:
	 * a power cut then loses txns that were acknowledged.  For tests and
	 * for learners measuring what fsync costs.
	 */
	bool force_sync;
};

/* prealloc 64 MiB, max TXNLOG_MAX_TXN_DEFAULT bytes, force_sync on. */
void txnlog_config_default(struct txnlog_config *c);

/* "log.<zxid in lowercase hex, no padding>" (Util.makeLogName) into out[n]. */
void txnlog_file_name(int64_t zxid, char *out, size_t n);

/*
 * The zxid in a log file's name: true for "log.<1-16 hex digits>" whose
 * value fits a nonnegative long, false for anything else (those files are
 * ignored).  Util.getZxidFromName splits on '.' the same way.
 */
bool txnlog_parse_name(const char *name, int64_t *zxid);

/* ---- writing ------------------------------------------------------------- */

struct txnlog;

/*
 * Open the log in <data_dir>/version-2 (created durably if missing).
 * NULL c means txnlog_config_default.  Recover first (txnlog_recover) if
 * the directory may hold a torn file.
 */
int txnlog_open(struct txnlog **out, struct fs *fs, const char *data_dir,
		const struct txnlog_config *c, struct kerr *e);

/*
 * Frame txn[0..len) as one entry.  zxid must equal the one in the bytes
 * (TXNLOG_ZXID_OFFSET) and exceed every zxid appended before: KLAB_EINVAL
 * otherwise, and KLAB_ETOOLARGE above max_txn_bytes.  KLAB_ESTATE when
 * the log has failed.  A failed write fails the log.
 */
int txnlog_append(struct txnlog *l, int64_t zxid, const void *txn, size_t len, struct kerr *e);

/*
 * Make every append so far durable: fsync the current file and, when a
 * file was created since, the directory.  A failed fsync fails the log:
 * every later append and commit returns KLAB_ESTATE (no retry makes the
 * lost pages safe; core/fs.h rule 2).
 */
int txnlog_commit(struct txnlog *l, struct kerr *e);

/*
 * End the current file; the next append opens log.<its zxid>.  Unlike
 * ZooKeeper's rollLog, which leaves the old file's fsync to the next
 * commit, the old file is fsynced here (when force_sync), so a newer file
 * never survives a crash that an older file's tail did not.
 */
int txnlog_roll(struct txnlog *l, struct kerr *e);

/* The last zxid appended (0 when none) and the last one committed. */
int64_t txnlog_last_appended(const struct txnlog *l);
int64_t txnlog_last_committed(const struct txnlog *l);
bool txnlog_failed(const struct txnlog *l);

/* The writer's invariants (txnlog.c); KLAB_ESTATE naming the broken one. */
int txnlog_check_invariants(const struct txnlog *l, struct kerr *e);

/* Let go of the log (no I/O: appends not committed may be lost).  NULL ok. */
void txnlog_close(struct txnlog *l);

/* ---- reading ------------------------------------------------------------- */

/* Why the reader left a file. */
enum txnlog_end_reason {
	TXNLOG_END_NONE,    /* no file ended yet */
	TXNLOG_END_EOF,	    /* the file ended exactly after an entry */
	TXNLOG_END_PADDING, /* a length of 0: preallocated zeros */
	TXNLOG_END_TORN,    /* a short read or a trailer other than 'B' */
};

struct txnlog_end {
	enum txnlog_end_reason reason;
	char name[TXNLOG_NAME_MAX]; /* the file's name in version-2 */
	uint64_t good_bytes;	    /* the end of its last whole entry (or its header) */
	uint64_t file_bytes;	    /* its size */
};

struct txnlog_txn {
	int64_t zxid;
	const uint8_t *bytes; /* valid until the next call on the iterator */
	size_t len;
};

struct txnlog_iter;

/*
 * Read every txn with a zxid >= zxid, starting in the newest file whose
 * first zxid <= zxid (FileTxnLog.getLogFiles).  max_txn_bytes 0 means
 * TXNLOG_MAX_TXN_DEFAULT; it bounds the iterator's memory.
 */
int txnlog_iter_open(struct txnlog_iter **out, struct fs *fs, const char *data_dir, int64_t zxid,
		     uint32_t max_txn_bytes, struct kerr *e);

/*
 * The next txn into *t: KLAB_OK, KLAB_ENOTFOUND after the last one, or
 * KLAB_ECORRUPT naming the file and offset (a bad magic, an Adler-32
 * mismatch, a length above max_txn_bytes or below a TxnHeader).
 */
int txnlog_iter_next(struct txnlog_iter *it, struct txnlog_txn *t, struct kerr *e);

/* How the most recently finished file ended. */
void txnlog_iter_end(const struct txnlog_iter *it, struct txnlog_end *out);

void txnlog_iter_close(struct txnlog_iter *it); /* NULL ok */

/* ---- maintenance --------------------------------------------------------- */

/*
 * Before opening for append: read every file; truncate the last one at
 * the end of its last whole entry (dropping a torn entry and the
 * preallocated zeros) and fsync it; delete a last file too short to hold
 * its header.  *last_zxid (may be NULL) gets the last whole txn's zxid, 0
 * when none.  A CRC error anywhere is returned, and nothing is changed.
 * ZooKeeper itself truncates nothing here (a torn tail just ends its
 * reader; FileTxnSnapLog.truncateLog cuts to a zxid a leader names).
 */
int txnlog_recover(struct fs *fs, const char *data_dir, uint32_t max_txn_bytes, int64_t *last_zxid,
		   struct kerr *e);

/*
 * A snapshot at snap_zxid is the oldest one kept: delete every log file
 * older than the newest file whose first zxid <= snap_zxid (that one may
 * hold txns after the snapshot; PurgeTxnLog.purgeOlderSnapshots keeps
 * getSnapshotLogs(zxid)), oldest first, then fsync the directory.
 * *removed (may be NULL) gets the count.
 */
int txnlog_purge(struct fs *fs, const char *data_dir, int64_t snap_zxid, int *removed,
		 struct kerr *e);

#endif
