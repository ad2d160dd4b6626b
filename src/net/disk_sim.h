/*
 * disk_sim.h - the simulated disk: the storage interface (core/fs.h) in
 * memory, with crashes modelled exactly and faults drawn from a seed.
 * The model (current and durable images, dirty sectors, the two
 * namespaces, what a power cut keeps) is described at the top of
 * disk_sim.c.
 *
 *   struct disk_sim *d = disk_sim_new(seed);
 *   struct fs *fs = disk_sim_fs(d);          ... the node's disk ...
 *   disk_sim_crash(d, &rep);                 a power cut
 *   disk_sim_free(d);
 *
 * Interface:
 *   disk_sim_new(seed) / disk_sim_free()   one disk; every random choice
 *                  it makes (faults, torn writes, corrupted bits) comes
 *                  from the seed.  Close its files before freeing it.
 *   disk_sim_fs()  the disk as a struct fs, for fs_open() and friends.
 *   faults         disk_sim_set_faults(): probabilities per operation;
 *                  disk_sim_fail_fsync(): the next fsyncs of one path fail;
 *                  disk_sim_set_capacity(): a full disk; disk_sim_corrupt():
 *                  bit rot in one byte.
 *   disk_sim_crash()  a power cut: only what was made durable survives
 *                  (plus a torn prefix of the rest); open files go dead.
 *   disk_sim_stats(), disk_sim_check_invariants()  what happened, and the
 *                  model's own rules checked (tests call it after steps);
 *                  disk_sim_is_dirty(): would a crash now change a file.
 *   disk_sim_mirror()  show the disk in a real directory, for the REPL.
 */
#ifndef KLAB_NET_DISK_SIM_H
#define KLAB_NET_DISK_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

#define DISK_SIM_SECTOR_BYTES 512
/* Files live in memory: none grows beyond this (KLAB_EIO, "File too large"). */
#define DISK_SIM_FILE_MAX_BYTES (1ull << 30)
#define DISK_SIM_PATH_MAX 4096
#define DISK_SIM_NAME_MAX 255
#define DISK_SIM_FAIL_RULES 16

struct disk_sim;

/* Probabilities per operation (0 = never), drawn from the disk's PRNG. */
struct disk_faults {
	double fsync_eio;    /* fs_fsync / fs_fsync_dir fails with KLAB_EIO */
	double write_enospc; /* fs_pwrite fails with KLAB_ENOSPC, nothing written */
	double read_eio;     /* fs_pread fails with KLAB_EIO */
	double write_eio;    /* fs_pwrite fails with KLAB_EIO, nothing written */
};

/* What one crash threw away. */
struct disk_crash_report {
	int files_torn;	     /* surviving files that now read differently */
	uint64_t bytes_lost; /* bytes of unsynced sectors that never reached the disk */
	int names_undone;    /* name changes undone: created names gone, removed back */
	int handles_dead;    /* open files that went dead */
};

/* Counted since disk_sim_new. */
struct disk_stats {
	uint64_t writes; /* fs_pwrite calls that wrote */
	uint64_t bytes_written;
	uint64_t fsyncs;     /* fs_fsync calls, failed ones too */
	uint64_t dir_fsyncs; /* fs_fsync_dir calls, failed ones too */
	uint64_t reads;	     /* fs_pread calls */
	uint64_t faults;     /* operations failed on purpose (faults, rules, capacity) */
	uint64_t crashes;
	uint64_t mirror_failures; /* real operations that failed in mirror mode */
};

/* A fresh, empty disk ("/" and "." exist); NULL when out of memory. */
struct disk_sim *disk_sim_new(uint64_t seed);

/* Free the disk and its files.  Handles still open only free themselves later. */
void disk_sim_free(struct disk_sim *d);

struct fs *disk_sim_fs(struct disk_sim *d);

/* Replace the fault probabilities (each in [0, 1]). */
void disk_sim_set_faults(struct disk_sim *d, const struct disk_faults *f);

/*
 * The next `times` fsyncs (of the file or directory at path, or of
 * anything when path is NULL) fail with KLAB_EIO.  KLAB_EFULL when
 * DISK_SIM_FAIL_RULES rules are pending, KLAB_EINVAL for a bad path.
 */
int disk_sim_fail_fsync(struct disk_sim *d, const char *path, int times);

/*
 * The sum of the files' current sizes may not exceed bytes (0: no limit):
 * a pwrite or truncate that would go beyond fails with KLAB_ENOSPC and
 * changes nothing.
 */
void disk_sim_set_capacity(struct disk_sim *d, uint64_t bytes);

/*
 * Bit rot: XOR the byte at off of the file at path, in its current and its
 * durable image (where each reaches that far), with a nonzero mask from
 * the seed.  KLAB_ENOTFOUND when there is no file, KLAB_ERANGE when
 * neither image reaches off.
 */
int disk_sim_corrupt(struct disk_sim *d, const char *path, uint64_t off, struct kerr *e);

/*
 * A power cut (see disk_sim.c: "Crash").  rep may be NULL.  KLAB_ENOMEM
 * (and nothing changed) when memory for the surviving images runs out.
 */
int disk_sim_crash(struct disk_sim *d, struct disk_crash_report *rep);

const struct disk_stats *disk_sim_stats(const struct disk_sim *d);

/*
 * Could a crash now change the file at path?  True when its current image
 * differs from its durable one (writes or a size change not yet made
 * durable, or lost to a failed fsync) or when a name on its path is not
 * durable (created, removed or renamed since its directory's last fsync).
 * False when nothing is there or it is not a file.  No randomness is drawn:
 * a test may ask before a crash without changing what the crash does.
 */
bool disk_sim_is_dirty(const struct disk_sim *d, const char *path);

/* The model's invariants (disk_sim.c); KLAB_ESTATE with the broken rule in e. */
int disk_sim_check_invariants(const struct disk_sim *d, struct kerr *e);

/*
 * Mirror mode.  Load every directory and file under root from real (as
 * durable: a crash right after keeps them), then apply every change under
 * root to real as well, and after a crash rewrite the real tree to what
 * survived, so a learner can `ls` and dump the files.  The simulated disk
 * stays the truth: a real operation that fails is counted in
 * stats.mirror_failures and its sentence kept (disk_sim_mirror_error()).
 * Files are mirrored through the handles opened while under root.
 */
int disk_sim_mirror(struct disk_sim *d, struct fs *real, const char *root, struct kerr *e);

/* The last mirror failure's sentence, or NULL when none happened. */
const char *disk_sim_mirror_error(const struct disk_sim *d);

#endif
