/*
 * fs.h - storage as a node sees it: the few file operations klab's logs,
 * indexes, checkpoints and metadata files need, behind one interface
 * (DESIGN §2; chapter 1 §6).
 *
 * Why an interface?  Everything a log promises is about what survives a
 * crash, and what survives depends on the disk, not on our code: a
 * write() lands in the page cache and is lost in a power cut unless
 * fsync() came after it; a new or renamed file is lost unless its
 * *directory* was fsynced; fsync itself can fail, and then the data is
 * not safe (PostgreSQL's "fsyncgate", 2018).  To test those rules we must
 * be able to swap the disk.  Two implementations stand behind this one
 * contract:
 *
 *   the real disk       (src/net/disk_real.c)  POSIX: open, pwrite,
 *                       fsync, rename ...  The only place in src/ that
 *                       calls them for klab's own files.
 *   the simulated disk  (src/net/disk_sim.c)   memory; every file has a
 *                       durable part and a volatile part, and a crash
 *                       keeps only what an fsync made durable (plus,
 *                       maybe, a torn prefix of the rest); faults by seed.
 *
 * The interface lives in core because chapter 1's log already needs it;
 * the backends belong to the runtime (src/net), which hands one to each
 * node (struct rt's disk operation).
 *
 * Contract (both backends):
 *   1. pwrite writes all n bytes or fails (KLAB_ENOSPC: the disk is full,
 *      KLAB_EIO otherwise); after a failure the bytes at off..off+n are
 *      unspecified, so callers cut them off again.
 *   2. Data written is durable only after fs_fsync of that file returned
 *      KLAB_OK.  After a failed fsync nothing written since the last good
 *      one may be assumed durable, and a retry does not make it so.
 *   3. A created, renamed or removed name is durable only after
 *      fs_fsync_dir of its directory returned KLAB_OK.
 *   4. fs_rename replaces the target atomically (a crash leaves the old
 *      or the new contents under the name, never a mix).
 *   5. fs_close does no I/O that changes the disk: it only lets go of the
 *      handle.  Nothing is flushed on close.
 *   6. Paths are '/'-separated; a file whose name is a symbolic link is
 *      never opened through it (KLAB_EINVAL), so a link planted in a log
 *      directory cannot make klab truncate a file elsewhere (a link to a
 *      directory, such as a log.dirs entry, is followed).  Nor is anything
 *      but a regular file (a FIFO, a device, a socket) opened as a file:
 *      KLAB_EINVAL, without reading or writing it.
 *   7. fs_lock takes an exclusive lock on a file (created if absent) for
 *      as long as its handle stays open: a second fs_lock of the same
 *      path, by this process or another, fails with KLAB_ESTATE until the
 *      first handle is closed (or its process dies).  A lock guards a
 *      directory against a second owner (Kafka's <log.dir>/.lock); it does
 *      not stop plain opens of the file.
 *
 * Every operation takes a struct kerr * (NULL allowed) and writes
 * "<path>: <reason>" there on failure.
 */
#ifndef KLAB_CORE_FS_H
#define KLAB_CORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum fs_open_flags {
	FS_CREATE = 1 << 0, /* create the file if it does not exist */
	FS_EXCL = 1 << 1,   /* with FS_CREATE: KLAB_ESTATE if it exists */
	FS_READONLY = 1 << 2,
};

enum fs_kind { FS_NONE, FS_FILE, FS_DIR };

struct fs;

/* An open file.  Backends put this first in their own file struct. */
struct fs_file {
	struct fs *fs;
	const char *path; /* owned by the backend, valid while open */
};

/*
 * Called once per directory entry (not "." or ".."); nonzero stops the
 * walk.  The names are gathered before the first call, so the callback may
 * remove the entry it is given.
 */
typedef int (*fs_list_fn)(void *arg, const char *name);

struct fs_ops {
	int (*open)(struct fs *fs, const char *path, int flags, struct fs_file **out,
		    struct kerr *e);
	void (*close)(struct fs_file *f);
	/* Bytes read (fewer only at the end of the file), or an error. */
	int64_t (*pread)(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e);
	int (*pwrite)(struct fs_file *f, const void *src, size_t n, uint64_t off, struct kerr *e);
	int (*fsync)(struct fs_file *f, struct kerr *e);
	int (*truncate)(struct fs_file *f, uint64_t size, struct kerr *e);
	int64_t (*size)(struct fs_file *f, struct kerr *e);
	/* A descriptor sendfile() can read, or -1 (the simulated disk has none). */
	int (*os_fd)(struct fs_file *f);

	/* kind FS_NONE (and KLAB_OK) when nothing is there. */
	int (*stat)(struct fs *fs, const char *path, enum fs_kind *kind, uint64_t *size,
		    struct kerr *e);
	int (*mkdir)(struct fs *fs, const char *path, struct kerr *e); /* OK if it exists */
	int (*rmdir)(struct fs *fs, const char *path, struct kerr *e); /* must be empty */
	int (*unlink)(struct fs *fs, const char *path, struct kerr *e);
	int (*rename)(struct fs *fs, const char *from, const char *to, struct kerr *e);
	int (*fsync_dir)(struct fs *fs, const char *path, struct kerr *e);
	/* Entries in no particular order; the callback's nonzero return is returned. */
	int (*list)(struct fs *fs, const char *path, fs_list_fn fn, void *arg, struct kerr *e);
	/* Rule 7: an exclusive lock held until fs_close(*out). */
	int (*lock)(struct fs *fs, const char *path, struct fs_file **out, struct kerr *e);
};

struct fs {
	const struct fs_ops *ops;
	void *impl;
};

/* ---- the operations, as calls (each one line over ops) ------------------ */

int fs_open(struct fs *fs, const char *path, int flags, struct fs_file **out, struct kerr *e);
void fs_close(struct fs_file *f); /* NULL is allowed */
int64_t fs_pread(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e);
int fs_pwrite(struct fs_file *f, const void *src, size_t n, uint64_t off, struct kerr *e);
int fs_fsync(struct fs_file *f, struct kerr *e);
int fs_truncate(struct fs_file *f, uint64_t size, struct kerr *e);
int64_t fs_size(struct fs_file *f, struct kerr *e);
int fs_os_fd(struct fs_file *f);
int fs_stat(struct fs *fs, const char *path, enum fs_kind *kind, uint64_t *size, struct kerr *e);
int fs_mkdir(struct fs *fs, const char *path, struct kerr *e);
int fs_rmdir(struct fs *fs, const char *path, struct kerr *e);
int fs_unlink(struct fs *fs, const char *path, struct kerr *e);
int fs_rename(struct fs *fs, const char *from, const char *to, struct kerr *e);
int fs_fsync_dir(struct fs *fs, const char *path, struct kerr *e);
int fs_list(struct fs *fs, const char *path, fs_list_fn fn, void *arg, struct kerr *e);
int fs_lock(struct fs *fs, const char *path, struct fs_file **out, struct kerr *e);

/* ---- built from the operations ----------------------------------------- */

/* True when path names something (a file or a directory). */
bool fs_exists(struct fs *fs, const char *path);

/* pread exactly n bytes: KLAB_ETRUNCATED when the file ends first. */
int fs_pread_all(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e);

/*
 * Read a whole file into out (replacing its contents); KLAB_ETOOLARGE
 * when it is larger than max_bytes, KLAB_ENOTFOUND when it is missing.
 */
int fs_read_file(struct fs *fs, const char *path, size_t max_bytes, struct buf *out,
		 struct kerr *e);

/*
 * Replace path with bytes, atomically and durably: write "<path>.tmp",
 * fsync it, rename it over path, fsync the directory (Kafka's
 * CheckpointFile and ZooKeeper's AtomicFileOutputStream do the same).
 * On failure the old file (if any) is still there.
 */
int fs_write_file_atomic(struct fs *fs, const char *path, const void *bytes, size_t len,
			 struct kerr *e);

/* Create path and durably: a new empty file, then an fsync of its directory. */
int fs_create_durable(struct fs *fs, const char *path, struct kerr *e);

/* mkdir -p: every missing directory on the way, each made durable in its parent. */
int fs_mkdirs(struct fs *fs, const char *path, struct kerr *e);

/* The directory part of path ("a/b/c" -> "a/b", "c" -> "."), into out[n]. */
void fs_dirname(const char *path, char *out, size_t n);

/* Remove a directory and the files in it (one level, as a partition directory). */
int fs_remove_dir(struct fs *fs, const char *path, struct kerr *e);

/* Remove path and everything below it (a scratch directory); no fsync. */
int fs_remove_tree(struct fs *fs, const char *path, struct kerr *e);

#endif
