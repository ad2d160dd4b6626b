/*
 * disk_real.h - the real disk: the storage interface (core/fs.h) over
 * POSIX calls.  It has no state of its own (each open file holds its
 * descriptor), so every caller may share the one instance.
 *
 *   struct fs *fs = disk_real();
 *   fs_open(fs, "data/orders-0/00000000000000000000.log", FS_CREATE, &f, &e);
 *
 * This file and real.c are the only ones in src/ that call open(),
 * pwrite(), fsync(), rename() and friends (make check enforces it).
 */
#ifndef KLAB_NET_DISK_REAL_H
#define KLAB_NET_DISK_REAL_H

#include "core/fs.h"

struct fs *disk_real(void);

#endif
