/*
 * disk_real.c - the storage interface over POSIX (see core/fs.h and
 * disk_real.h).
 *
 * Each operation is one system call, with three rules added:
 *   - O_NOFOLLOW on every open, and lstat() for stat: the last component
 *     of a path is never followed if it is a symbolic link (fs.h rule 6).
 *   - O_NONBLOCK on every open, then fstat(): anything but a regular file
 *     (a FIFO, whose open would otherwise wait for a writer; a device) is
 *     closed again untouched and refused with KLAB_EINVAL (rule 6).
 *   - fs_lock is flock(LOCK_EX | LOCK_NB) on the opened file: the kernel
 *     drops the lock when the descriptor is closed or the process dies,
 *     so a broker killed with SIGKILL never leaves a stale lock (rule 7).
 *   - errno becomes klab's codes at this edge: ENOENT -> KLAB_ENOTFOUND,
 *     ENOSPC/EDQUOT -> KLAB_ENOSPC, EEXIST and ENOTEMPTY (rmdir of a
 *     directory that still has entries) -> KLAB_ESTATE, ELOOP (a link)
 *     -> KLAB_EINVAL, ENOMEM -> KLAB_ENOMEM, anything else -> KLAB_EIO;
 *     the sentence in the kerr keeps the system's own words.
 */
#include "net/disk_real.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct real_file {
	struct fs_file base; /* first: a struct fs_file * is a struct real_file * */
	int fd;
	char path[];
};

static int
code_of(int err)
{
	switch (err) {
	case ENOENT: return KLAB_ENOTFOUND;
	case ENOSPC:
	case EDQUOT: return KLAB_ENOSPC;
	case EEXIST:
	case ENOTEMPTY: return KLAB_ESTATE;
	case ELOOP: return KLAB_EINVAL;
	case ENOMEM: return KLAB_ENOMEM;
	}
	return KLAB_EIO;
}

static int
fail(struct kerr *e, const char *path, const char *what)
{
	int err = errno;

	if (err == ELOOP)
		return kerr_set(e, KLAB_EINVAL, "%s: is a symbolic link (not followed)", path);
	if (err == EMFILE || err == ENFILE) /* every log keeps files open, as Kafka's do */
		return kerr_set(e, KLAB_EIO,
				"%s: %s: %s: raise the open-file limit (ulimit -n; Kafka advises "
				"100000 or more) or hold fewer partitions",
				path, what, strerror(err));
	return kerr_set(e, code_of(err), "%s: %s: %s", path, what, strerror(err));
}

static struct real_file *
rf(struct fs_file *f)
{
	return (struct real_file *)f;
}

/* fd must be a regular file (rule 6); then it is made blocking again. */
static int
regular_only(int fd, const char *path, struct kerr *e)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return fail(e, path, "stat");
	if (!S_ISREG(st.st_mode))
		return kerr_set(e, KLAB_EINVAL, "%s: not a regular file (not opened)", path);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
		return fail(e, path, "fcntl");
	return KLAB_OK;
}

static int
real_open(struct fs *fs, const char *path, int flags, struct fs_file **out, struct kerr *e)
{
	int oflags =
		O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | ((flags & FS_READONLY) ? O_RDONLY : O_RDWR);
	size_t n = strlen(path) + 1;
	struct real_file *f;
	int rc;

	if (flags & FS_CREATE)
		oflags |= O_CREAT;
	if (flags & FS_EXCL)
		oflags |= O_EXCL;
	if ((f = malloc(sizeof(*f) + n)) == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	memcpy(f->path, path, n);
	f->base.fs = fs;
	f->base.path = f->path;
	if ((f->fd = open(path, oflags, 0644)) < 0) {
		rc = fail(e, path, "open");
		free(f);
		return rc;
	}
	if ((rc = regular_only(f->fd, path, e)) != KLAB_OK) {
		close(f->fd);
		free(f);
		return rc;
	}
	*out = &f->base;
	return KLAB_OK;
}

static void
real_close(struct fs_file *f)
{
	close(rf(f)->fd);
	free(f);
}

static int64_t
real_pread(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(rf(f)->fd, (char *)dst + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(e, f->path, "read");
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (int64_t)got;
}

static int
real_pwrite(struct fs_file *f, const void *src, size_t n, uint64_t off, struct kerr *e)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = pwrite(rf(f)->fd, (const char *)src + put, n - put, (off_t)(off + put));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(e, f->path, "write");
		if (w == 0) {
			errno = ENOSPC;
			return fail(e, f->path, "write");
		}
		put += (size_t)w;
	}
	return KLAB_OK;
}

static int
real_fsync(struct fs_file *f, struct kerr *e)
{
	return fsync(rf(f)->fd) == 0 ? KLAB_OK : fail(e, f->path, "fsync");
}

static int
real_truncate(struct fs_file *f, uint64_t size, struct kerr *e)
{
	return ftruncate(rf(f)->fd, (off_t)size) == 0 ? KLAB_OK : fail(e, f->path, "truncate");
}

static int64_t
real_size(struct fs_file *f, struct kerr *e)
{
	struct stat st;

	if (fstat(rf(f)->fd, &st) != 0)
		return fail(e, f->path, "stat");
	return (int64_t)st.st_size;
}

static int
real_os_fd(struct fs_file *f)
{
	return rf(f)->fd;
}

static int
real_stat(struct fs *fs, const char *path, enum fs_kind *kind, uint64_t *size, struct kerr *e)
{
	struct stat st;

	(void)fs;
	*kind = FS_NONE;
	*size = 0;
	if (lstat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? KLAB_OK : fail(e, path, "stat");
	/* a link to a directory (a log.dirs entry, say) is followed; to a file, never */
	if (S_ISLNK(st.st_mode) && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
		return kerr_set(e, KLAB_EINVAL, "%s: is a symbolic link (not followed)", path);
	*kind = S_ISDIR(st.st_mode) ? FS_DIR : FS_FILE;
	*size = (uint64_t)st.st_size;
	return KLAB_OK;
}

static int
real_mkdir(struct fs *fs, const char *path, struct kerr *e)
{
	struct stat st;

	(void)fs;
	if (mkdir(path, 0755) == 0)
		return KLAB_OK;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return KLAB_OK;
	return fail(e, path, "mkdir");
}

static int
real_rmdir(struct fs *fs, const char *path, struct kerr *e)
{
	(void)fs;
	return rmdir(path) == 0 ? KLAB_OK : fail(e, path, "rmdir");
}

static int
real_unlink(struct fs *fs, const char *path, struct kerr *e)
{
	(void)fs;
	return unlink(path) == 0 ? KLAB_OK : fail(e, path, "unlink");
}

static int
real_rename(struct fs *fs, const char *from, const char *to, struct kerr *e)
{
	(void)fs;
	return rename(from, to) == 0 ? KLAB_OK : fail(e, from, "rename");
}

static int
real_fsync_dir(struct fs *fs, const char *path, struct kerr *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = KLAB_OK;

	(void)fs;
	if (fd < 0)
		return fail(e, path, "open directory");
	if (fsync(fd) != 0)
		rc = fail(e, path, "fsync directory");
	close(fd);
	return rc;
}

/* The names of a directory, gathered first (fs.h: the callback may remove its entry). */
static int
read_names(const char *path, char ***names, size_t *n, struct kerr *e)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return fail(e, path, "open directory");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			char **grown = realloc(*names, (cap = cap ? cap * 2 : 16) * sizeof(char *));

			if (grown == NULL)
				break;
			*names = grown;
		}
		if (((*names)[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	return de == NULL ? KLAB_OK : kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
}

static int
real_list(struct fs *fs, const char *path, fs_list_fn fn, void *arg, struct kerr *e)
{
	char **names;
	size_t i, n;
	int rc;

	(void)fs;
	rc = read_names(path, &names, &n, e);
	for (i = 0; i < n; i++) {
		if (rc == KLAB_OK)
			rc = fn(arg, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
real_lock(struct fs *fs, const char *path, struct fs_file **out, struct kerr *e)
{
	int rc = real_open(fs, path, FS_CREATE, out, e);

	if (rc != KLAB_OK)
		return rc;
	if (flock(rf(*out)->fd, LOCK_EX | LOCK_NB) == 0)
		return KLAB_OK;
	rc = errno == EWOULDBLOCK ? kerr_set(e, KLAB_ESTATE, "%s: locked by another process", path)
				  : fail(e, path, "lock");
	real_close(*out);
	*out = NULL;
	return rc;
}

static const struct fs_ops real_ops = {
	.open = real_open,
	.close = real_close,
	.pread = real_pread,
	.pwrite = real_pwrite,
	.fsync = real_fsync,
	.truncate = real_truncate,
	.size = real_size,
	.os_fd = real_os_fd,
	.stat = real_stat,
	.mkdir = real_mkdir,
	.rmdir = real_rmdir,
	.unlink = real_unlink,
	.rename = real_rename,
	.fsync_dir = real_fsync_dir,
	.list = real_list,
	.lock = real_lock,
};

struct fs *
disk_real(void)
{
	static struct fs disk = { &real_ops, NULL }; /* stateless: never written */

	return &disk;
}
