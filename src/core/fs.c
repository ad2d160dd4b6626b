/*
 * fs.c - the storage interface's calls and the few recipes built on them
 * (see fs.h).  Nothing here touches a real disk: every byte goes through
 * the backend's operations, so the same recipe is exercised on the real
 * disk and on the simulated one.
 *
 * The recipes are the ones whose order matters for durability:
 *
 *   atomic replace   write path.tmp -> fsync it -> rename over path ->
 *                    fsync the directory.  Skip the first fsync and a crash
 *                    can leave an empty file under the new name (the rename
 *                    was durable, the data was not: ext4's "zero-length
 *                    file" reports, 2009); skip the last and the rename
 *                    itself may be undone.
 *   durable create   create the file -> fsync the directory.
 */
#include "core/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
fs_open(struct fs *fs, const char *path, int flags, struct fs_file **out, struct kerr *e)
{
	return fs->ops->open(fs, path, flags, out, e);
}

void
fs_close(struct fs_file *f)
{
	if (f != NULL)
		f->fs->ops->close(f);
}

int64_t
fs_pread(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e)
{
	return f->fs->ops->pread(f, dst, n, off, e);
}

int
fs_pwrite(struct fs_file *f, const void *src, size_t n, uint64_t off, struct kerr *e)
{
	return f->fs->ops->pwrite(f, src, n, off, e);
}

int
fs_fsync(struct fs_file *f, struct kerr *e)
{
	return f->fs->ops->fsync(f, e);
}

int
fs_truncate(struct fs_file *f, uint64_t size, struct kerr *e)
{
	return f->fs->ops->truncate(f, size, e);
}

int64_t
fs_size(struct fs_file *f, struct kerr *e)
{
	return f->fs->ops->size(f, e);
}

int
fs_os_fd(struct fs_file *f)
{
	return f->fs->ops->os_fd(f);
}

int
fs_stat(struct fs *fs, const char *path, enum fs_kind *kind, uint64_t *size, struct kerr *e)
{
	return fs->ops->stat(fs, path, kind, size, e);
}

int
fs_mkdir(struct fs *fs, const char *path, struct kerr *e)
{
	return fs->ops->mkdir(fs, path, e);
}

int
fs_rmdir(struct fs *fs, const char *path, struct kerr *e)
{
	return fs->ops->rmdir(fs, path, e);
}

int
fs_unlink(struct fs *fs, const char *path, struct kerr *e)
{
	return fs->ops->unlink(fs, path, e);
}

int
fs_rename(struct fs *fs, const char *from, const char *to, struct kerr *e)
{
	return fs->ops->rename(fs, from, to, e);
}

int
fs_fsync_dir(struct fs *fs, const char *path, struct kerr *e)
{
	return fs->ops->fsync_dir(fs, path, e);
}

int
fs_list(struct fs *fs, const char *path, fs_list_fn fn, void *arg, struct kerr *e)
{
	return fs->ops->list(fs, path, fn, arg, e);
}

int
fs_lock(struct fs *fs, const char *path, struct fs_file **out, struct kerr *e)
{
	return fs->ops->lock(fs, path, out, e);
}

/* ---- recipes ------------------------------------------------------------ */

bool
fs_exists(struct fs *fs, const char *path)
{
	enum fs_kind kind = FS_NONE;
	uint64_t size;

	return fs_stat(fs, path, &kind, &size, NULL) == KLAB_OK && kind != FS_NONE;
}

int
fs_pread_all(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e)
{
	int64_t got = fs_pread(f, dst, n, off, e);

	if (got < 0)
		return (int)got;
	if ((size_t)got != n)
		return kerr_set(e, KLAB_ETRUNCATED, "%s: %zu bytes at %llu: the file ends first",
				f->path, n, (unsigned long long)off);
	return KLAB_OK;
}

int
fs_read_file(struct fs *fs, const char *path, size_t max_bytes, struct buf *out, struct kerr *e)
{
	struct fs_file *f;
	int64_t size;
	int rc;

	if ((rc = fs_open(fs, path, FS_READONLY, &f, e)) != KLAB_OK)
		return rc;
	buf_reset(out);
	if ((size = fs_size(f, e)) < 0) {
		rc = (int)size;
	} else if ((uint64_t)size > max_bytes) {
		rc = kerr_set(e, KLAB_ETOOLARGE, "%s: larger than %zu bytes", path, max_bytes);
	} else if (!buf_reserve(out, (size_t)size + 1)) {
		rc = kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	} else if ((rc = fs_pread_all(f, out->data, (size_t)size, 0, e)) == KLAB_OK) {
		out->len = (size_t)size;
		out->data[size] = '\0'; /* text files can be used as strings */
	}
	fs_close(f);
	return rc;
}

void
fs_dirname(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

int
fs_write_file_atomic(struct fs *fs, const char *path, const void *bytes, size_t len, struct kerr *e)
{
	char tmp[4096], dir[4096];
	struct fs_file *f;
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return kerr_set(e, KLAB_EINVAL, "%s: path too long", path);
	if ((rc = fs_open(fs, tmp, FS_CREATE, &f, e)) != KLAB_OK)
		return rc;
	rc = fs_truncate(f, 0, e);
	if (rc == KLAB_OK)
		rc = fs_pwrite(f, bytes, len, 0, e);
	if (rc == KLAB_OK)
		rc = fs_fsync(f, e);
	fs_close(f);
	if (rc != KLAB_OK)
		return rc; /* the old file is untouched; the .tmp is overwritten next time */
	if ((rc = fs_rename(fs, tmp, path, e)) != KLAB_OK)
		return rc;
	fs_dirname(path, dir, sizeof(dir));
	return fs_fsync_dir(fs, dir, e);
}

int
fs_create_durable(struct fs *fs, const char *path, struct kerr *e)
{
	char dir[4096];
	struct fs_file *f;
	int rc;

	if ((rc = fs_open(fs, path, FS_CREATE, &f, e)) != KLAB_OK)
		return rc;
	rc = fs_fsync(f, e);
	fs_close(f);
	if (rc != KLAB_OK)
		return rc;
	fs_dirname(path, dir, sizeof(dir));
	return fs_fsync_dir(fs, dir, e);
}

int
fs_mkdirs(struct fs *fs, const char *path, struct kerr *e)
{
	char part[4096], parent[4096];
	size_t i, n = strlen(path);
	int rc;

	if (n == 0 || n >= sizeof(part))
		return kerr_set(e, KLAB_EINVAL, "%s: bad directory name", path);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(part, path, i);
		part[i] = '\0';
		if (fs_exists(fs, part))
			continue;
		if ((rc = fs_mkdir(fs, part, e)) != KLAB_OK)
			return rc;
		fs_dirname(part, parent, sizeof(parent));
		if ((rc = fs_fsync_dir(fs, parent, e)) != KLAB_OK)
			return rc;
	}
	return KLAB_OK;
}

/* Removing the entries of a directory: each name goes to `one`. */
struct remove_walk {
	struct fs *fs;
	const char *dir;
	int (*one)(struct fs *fs, const char *path, struct kerr *e);
	struct kerr *e;
	int rc;
};

static int
remove_entry(void *arg, const char *name)
{
	struct remove_walk *w = arg;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	w->rc = w->one(w->fs, path, w->e);
	return w->rc != KLAB_OK;
}

int
fs_remove_dir(struct fs *fs, const char *path, struct kerr *e)
{
	struct remove_walk w = { fs, path, fs_unlink, e, KLAB_OK };
	char parent[4096];
	int rc = fs_list(fs, path, remove_entry, &w, e);

	if (rc == KLAB_OK)
		rc = w.rc;
	if (rc == KLAB_OK)
		rc = fs_rmdir(fs, path, e);
	if (rc != KLAB_OK)
		return rc;
	fs_dirname(path, parent, sizeof(parent));
	return fs_fsync_dir(fs, parent, e);
}

int
fs_remove_tree(struct fs *fs, const char *path, struct kerr *e)
{
	struct remove_walk w = { fs, path, fs_remove_tree, e, KLAB_OK };
	enum fs_kind kind;
	uint64_t size;
	int rc = fs_stat(fs, path, &kind, &size, e);

	if (rc != KLAB_OK || kind == FS_NONE)
		return rc;
	if (kind == FS_FILE)
		return fs_unlink(fs, path, e);
	if ((rc = fs_list(fs, path, remove_entry, &w, e)) == KLAB_OK)
		rc = w.rc;
	return rc == KLAB_OK ? fs_rmdir(fs, path, e) : rc;
}
