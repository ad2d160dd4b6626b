/*
 * disk_sim.c - the simulated disk (see disk_sim.h and core/fs.h; chapter 1
 * §6).
 *
 * A disk that lives in memory, so that a test can cut the power at any
 * instant and see exactly what a real disk could have kept - no more (a
 * lucky page cache) and no less.  It never touches the real disk, except
 * in mirror mode, and then only through another struct fs.
 *
 * Inodes and names.  A file or a directory is an inode; names are
 * directory entries keyed by (directory, name), all in one hash table, so
 * a path is resolved one component at a time from "/" (absolute paths) or
 * from "." (relative ones; they are two different directories, as on a
 * real disk).  Paths are normalised first: "//" collapses, "." goes, ".."
 * takes the previous component away, a trailing "/" is dropped.  Apart
 * from the two roots nothing exists until fs_mkdir makes it.
 *
 * Each entry holds two answers: what the name means now (cur) and what it
 * would mean after a crash (dur).  Creating, renaming and removing a name,
 * mkdir and rmdir change only cur; fs_fsync_dir(dir) copies cur to dur for
 * every entry of dir (fs.h rule 3):
 *
 *      "a.log"  cur -> inode 7     fs_fsync_dir     "a.log"  cur -> inode 7
 *               dur -> (none)    ---------------->           dur -> inode 7
 *
 * Each file has two images, current (what pread sees) and durable (what a
 * crash keeps), and one dirty bit per 512-byte sector of the current one.
 * pwrite and a growing truncate set bits; fs_fsync writes the dirty
 * sectors and the size to the durable image and clears the bits (rule 2):
 *
 *              pwrite                  fs_fsync ok
 *     clean  ---------->  dirty  -----------------------> clean, durable
 *                           |      fs_fsync fails (EIO)
 *                           +-------------------------->  clean, NOT durable
 *
 * A failed fsync clears the bits too, as Linux does (PostgreSQL's
 * "fsyncgate", 2018): the page cache still shows the data, but the
 * writeback that failed dropped it, and a later fsync that succeeds does
 * not write it again.  That is why the durable image is only ever updated
 * sector by sector, never copied whole from the current one.
 *
 * Crash (disk_sim_crash), in this order:
 *   1. every open file goes dead: its operations fail with KLAB_EIO ("the
 *      disk crashed"); fs_close still frees it;
 *   2. every entry's cur becomes its dur: names created since their
 *      directory's last fsync vanish, removed ones come back, renamed ones
 *      go back to their old place;
 *   3. fsck: walking from the roots, an inode reached under a second name
 *      loses that name (a rename across directories of which only one was
 *      fsynced can leave two; a journal would keep one), and whatever is
 *      not reached is freed;
 *   4. each surviving file becomes its durable image plus a torn prefix of
 *      its dirty sectors: the first k in address order, k uniform in 0..m
 *      for m dirty sectors (the others never reached the platter).  Its
 *      size is the durable size, extended to cover the kept sectors but
 *      never past the current size;
 *   5. in mirror mode the real tree is rewritten to match.
 *
 * Randomness.  One PRNG (splitmix64) seeded by the caller makes every
 * choice, in a fixed order: per operation, one draw for its fault only
 * when that fault's probability is not 0; per crash, one draw per
 * surviving file with dirty sectors, in creation order; one per
 * disk_sim_corrupt.  The same seed and the same calls give the same disk,
 * byte for byte.
 *
 * Errors are the real disk's (disk_real.c): KLAB_ENOTFOUND for a missing
 * file or directory, KLAB_ESTATE for an existing name under FS_EXCL and
 * for a directory that is not empty, KLAB_ENOSPC for a full disk,
 * KLAB_EIO for the rest (a directory opened as a file, a file used as a
 * directory, a write through a read-only handle, a fault).
 *
 * Invariants (disk_sim_check_invariants, O(metadata), cheap enough for
 * every simulated step):
 *   1. every entry sits in the hash table under (its directory, its name)
 *      and in its directory's list, and its directory is a directory;
 *   2. the inodes' refs add up to the names that point at them (cur and
 *      dur counted apart) plus the live handles; no inode but a root is
 *      kept without a ref;
 *   3. "/" and "." are directories, and no entry names them;
 *   4. a file's dirty bitmap covers its current image, and no bit is set
 *      past its end;
 *   5. used_bytes is the sum of the files' current sizes;
 *   6. until an fsync of the file fails, every sector of its current
 *      image past the durable size is dirty (what is not durable waits to
 *      be written);
 *   7. a live handle points at a file inode; a dead one at nothing.
 */
#include "net/disk_sim.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR DISK_SIM_SECTOR_BYTES
#define TABLE_MIN_SLOTS 64
#define MIRROR_DEPTH_MAX 32

struct image {
	uint8_t *data;
	uint64_t len; /* the file's size */
	uint64_t cap;
};

struct dsim_dirent;

struct dsim_inode {
	uint64_t id; /* never reused; part of the entry hash */
	enum fs_kind kind;
	int refs;			/* entries (cur and dur apart) and live handles (inv. 2) */
	bool mark;			/* reached in the crash's walk */
	bool lost_writes;		/* an fsync failed: invariant 6 no longer holds */
	struct dsim_inode *prev, *next; /* every inode, in creation order */
	/* files */
	struct image cur, dur;
	uint64_t *dirty; /* one bit per sector of cur (inv. 4) */
	size_t dirty_words;
	/* directories: their entries, in creation order */
	struct dsim_dirent *first, *last;
};

struct dsim_dirent {
	struct dsim_inode *dir;
	struct dsim_inode *cur; /* what the name means now; NULL: nothing */
	struct dsim_inode *dur; /* what it means after a crash */
	uint64_t hash;
	struct dsim_dirent *hnext;	 /* hash chain */
	struct dsim_dirent *prev, *next; /* the directory's list */
	size_t name_len;
	char name[];
};

struct dsim_file {
	struct fs_file base;	 /* first: a struct fs_file * is a struct dsim_file * */
	struct disk_sim *disk;	 /* NULL once the disk was freed */
	struct dsim_inode *node; /* NULL once the disk crashed: the handle is dead */
	struct fs_file *mirror;	 /* the real file, in mirror mode */
	bool readonly;
	bool lock;		       /* taken by fs_lock: its file is locked while live */
	struct dsim_file *prev, *next; /* the disk's open handles */
	char path[];
};

struct dsim_rule {
	char path[DISK_SIM_PATH_MAX]; /* normalised; "" for any path */
	int times;		      /* 0: the slot is free */
};

struct disk_sim {
	struct fs fs;
	uint64_t rng;
	struct disk_faults faults;
	struct dsim_rule rules[DISK_SIM_FAIL_RULES];
	int rules_pending;	 /* rules with times left */
	uint64_t capacity_bytes; /* 0: no limit */
	uint64_t used_bytes;	 /* inv. 5 */
	uint64_t next_id;
	struct dsim_inode *root_abs, *root_rel; /* "/" and "." (inv. 3) */
	struct dsim_inode *first, *last;	/* every inode */
	struct dsim_dirent **slots;
	size_t nslots, nentries;
	struct dsim_file *handles;
	struct disk_stats stats;
	struct fs *mirror;		     /* the real disk, in mirror mode */
	char mirror_root[DISK_SIM_PATH_MAX]; /* normalised */
	bool mirror_failed;
	struct kerr mirror_err;
};

/* A path resolved against the current namespace. */
struct dsim_loc {
	char path[DISK_SIM_PATH_MAX]; /* normalised */
	struct dsim_inode *dir;	      /* holding the last name; NULL for a root */
	const char *name;	      /* the last name, inside path */
	size_t name_len;
	struct dsim_dirent *de;	 /* its entry, or NULL */
	struct dsim_inode *node; /* what the path names now, or NULL */
};

/* ---- randomness ---------------------------------------------------------- */

static uint64_t
rng_next(struct disk_sim *d)
{
	uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint64_t
rng_below(struct disk_sim *d, uint64_t n)
{
	return rng_next(d) % n;
}

/* True with probability p; no draw at all when p is 0. */
static bool
rng_chance(struct disk_sim *d, double p)
{
	if (p <= 0)
		return false;
	return (double)(rng_next(d) >> 11) * 0x1.0p-53 < p;
}

/* ---- images and dirty sectors -------------------------------------------- */

static uint64_t
sectors_of(uint64_t len)
{
	return (len + SECTOR - 1) / SECTOR;
}

static bool
image_reserve(struct image *im, uint64_t cap)
{
	uint64_t want = im->cap ? im->cap : SECTOR;
	uint8_t *p;

	if (cap <= im->cap)
		return true;
	while (want < cap)
		want *= 2;
	if ((p = realloc(im->data, (size_t)want)) == NULL)
		return false;
	im->data = p;
	im->cap = want;
	return true;
}

/* Set the size; the bytes it grows by read as zeros. */
static bool
image_resize(struct image *im, uint64_t len)
{
	if (!image_reserve(im, len))
		return false;
	if (len > im->len)
		memset(im->data + im->len, 0, (size_t)(len - im->len));
	im->len = len;
	return true;
}

static bool
dirty_reserve(struct dsim_inode *n, uint64_t sectors)
{
	size_t words = (size_t)((sectors + 63) / 64), want = n->dirty_words ? n->dirty_words : 1;
	uint64_t *p;

	if (words <= n->dirty_words)
		return true;
	while (want < words)
		want *= 2;
	if ((p = realloc(n->dirty, want * sizeof(*p))) == NULL)
		return false;
	memset(p + n->dirty_words, 0, (want - n->dirty_words) * sizeof(*p));
	n->dirty = p;
	n->dirty_words = want;
	return true;
}

static bool
dirty_test(const struct dsim_inode *n, uint64_t s)
{
	return (n->dirty[s / 64] >> (s % 64)) & 1;
}

/* Mark every sector that bytes [from, to) touch (covered by the bitmap). */
static void
dirty_mark(struct dsim_inode *n, uint64_t from, uint64_t to)
{
	for (uint64_t s = from / SECTOR; s < sectors_of(to); s++)
		n->dirty[s / 64] |= 1ull << (s % 64);
}

/* Clear the bits of sector s and every one after it. */
static void
dirty_clear_from(struct dsim_inode *n, uint64_t s)
{
	for (size_t w = (size_t)(s / 64); w < n->dirty_words; w++) {
		if (w == s / 64)
			n->dirty[w] &= (1ull << (s % 64)) - 1;
		else
			n->dirty[w] = 0;
	}
}

/* The first dirty sector at or after s, or UINT64_MAX. */
static uint64_t
dirty_next(const struct dsim_inode *n, uint64_t s)
{
	for (size_t w = (size_t)(s / 64); w < n->dirty_words; w++) {
		uint64_t bits = n->dirty[w];

		if (w == s / 64)
			bits &= ~((1ull << (s % 64)) - 1);
		if (bits != 0)
			return (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
	}
	return UINT64_MAX;
}

static uint64_t
dirty_count(const struct dsim_inode *n)
{
	uint64_t c = 0;

	for (size_t w = 0; w < n->dirty_words; w++)
		c += (uint64_t)__builtin_popcountll(n->dirty[w]);
	return c;
}

/* ---- inodes and entries -------------------------------------------------- */

static struct dsim_inode *
inode_new(struct disk_sim *d, enum fs_kind kind)
{
	struct dsim_inode *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	if (kind == FS_FILE && !dirty_reserve(n, 1)) {
		free(n);
		return NULL;
	}
	n->id = ++d->next_id;
	n->kind = kind;
	n->prev = d->last;
	if (d->last != NULL)
		d->last->next = n;
	else
		d->first = n;
	d->last = n;
	return n;
}

/* Free the inode's memory only: its entries must be gone already. */
static void
inode_destroy(struct disk_sim *d, struct dsim_inode *n)
{
	assert(n->first == NULL);
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		d->first = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		d->last = n->prev;
	d->used_bytes -= n->cur.len;
	free(n->cur.data);
	free(n->dur.data);
	free(n->dirty);
	free(n);
}

static uint64_t
entry_hash(const struct dsim_inode *dir, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (dir->id * 0x9E3779B97F4A7C15ull);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static struct dsim_dirent *
dirent_find(const struct disk_sim *d, const struct dsim_inode *dir, const char *name, size_t len)
{
	uint64_t h = entry_hash(dir, name, len);
	struct dsim_dirent *de = d->slots[h & (d->nslots - 1)];

	for (; de != NULL; de = de->hnext)
		if (de->hash == h && de->dir == dir && de->name_len == len &&
		    memcmp(de->name, name, len) == 0)
			return de;
	return NULL;
}

static bool
table_grow(struct disk_sim *d)
{
	size_t n = d->nslots * 2;
	struct dsim_dirent **slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < d->nslots; i++) {
		struct dsim_dirent *de = d->slots[i], *next;

		for (; de != NULL; de = next) {
			next = de->hnext;
			de->hnext = slots[de->hash & (n - 1)];
			slots[de->hash & (n - 1)] = de;
		}
	}
	free(d->slots);
	d->slots = slots;
	d->nslots = n;
	return true;
}

/* The entry for name in dir, made (naming nothing) when missing; NULL: no memory. */
static struct dsim_dirent *
dirent_get(struct disk_sim *d, struct dsim_inode *dir, const char *name, size_t len)
{
	struct dsim_dirent *de = dirent_find(d, dir, name, len);

	if (de != NULL)
		return de;
	if (d->nentries >= d->nslots && !table_grow(d))
		return NULL;
	if ((de = calloc(1, sizeof(*de) + len + 1)) == NULL)
		return NULL;
	memcpy(de->name, name, len);
	de->name_len = len;
	de->dir = dir;
	de->hash = entry_hash(dir, name, len);
	de->hnext = d->slots[de->hash & (d->nslots - 1)];
	d->slots[de->hash & (d->nslots - 1)] = de;
	de->prev = dir->last;
	if (dir->last != NULL)
		dir->last->next = de;
	else
		dir->first = de;
	dir->last = de;
	d->nentries++;
	return de;
}

/* Unhook and free the entry; what it names is the caller's business. */
static void
dirent_destroy(struct disk_sim *d, struct dsim_dirent *de)
{
	struct dsim_dirent **pp = &d->slots[de->hash & (d->nslots - 1)];
	struct dsim_inode *dir = de->dir;

	while (*pp != de)
		pp = &(*pp)->hnext;
	*pp = de->hnext;
	if (de->prev != NULL)
		de->prev->next = de->next;
	else
		dir->first = de->next;
	if (de->next != NULL)
		de->next->prev = de->prev;
	else
		dir->last = de->prev;
	d->nentries--;
	free(de);
}

static void ref_put(struct disk_sim *d, struct dsim_inode *n);

/* An inode nothing refers to any more: its entries go, then the inode. */
static void
inode_release(struct disk_sim *d, struct dsim_inode *n)
{
	while (n->first != NULL) {
		struct dsim_dirent *de = n->first;
		struct dsim_inode *cur = de->cur, *dur = de->dur;

		dirent_destroy(d, de);
		if (cur != NULL)
			ref_put(d, cur);
		if (dur != NULL)
			ref_put(d, dur);
	}
	inode_destroy(d, n);
}

static void
ref_put(struct disk_sim *d, struct dsim_inode *n)
{
	assert(n->refs > 0);
	if (--n->refs == 0 && n != d->root_abs && n != d->root_rel)
		inode_release(d, n);
}

/* Point one of an entry's two names (current or durable) at n, counting references. */
static void
dirent_point(struct disk_sim *d, struct dsim_inode **slot, struct dsim_inode *n)
{
	struct dsim_inode *old = *slot;

	if (n != NULL)
		n->refs++;
	*slot = n;
	if (old != NULL)
		ref_put(d, old);
}

static void
dirent_set_cur(struct disk_sim *d, struct dsim_dirent *de, struct dsim_inode *n)
{
	dirent_point(d, &de->cur, n);
}

static void
dirent_set_dur(struct disk_sim *d, struct dsim_dirent *de, struct dsim_inode *n)
{
	dirent_point(d, &de->dur, n);
}

/* An entry that names nothing, now or after a crash, is dropped. */
static void
dirent_tidy(struct disk_sim *d, struct dsim_dirent *de)
{
	if (de->cur == NULL && de->dur == NULL)
		dirent_destroy(d, de);
}

static bool
dir_has_children(const struct dsim_inode *dir)
{
	for (const struct dsim_dirent *de = dir->first; de != NULL; de = de->next)
		if (de->cur != NULL)
			return true;
	return false;
}

/* ---- paths ---------------------------------------------------------------- */

/* Append component c[0..len) to out[*o]; ".." removes the last one. */
static int
path_push(char *out, size_t *o, size_t base, const char *c, size_t len, const char *in,
	  struct kerr *e)
{
	if (len == 2 && c[0] == '.' && c[1] == '.') {
		if (*o == base && base == 0)
			return kerr_set(e, KLAB_EINVAL, "%s: leaves the working directory", in);
		while (*o > base && out[*o - 1] != '/')
			(*o)--;
		if (*o > base)
			(*o)--;
		return KLAB_OK;
	}
	if (len > DISK_SIM_NAME_MAX)
		return kerr_set(e, KLAB_EINVAL, "%s: File name too long", in);
	if (*o + len + 2 > DISK_SIM_PATH_MAX)
		return kerr_set(e, KLAB_EINVAL, "%s: path too long", in);
	if (*o > base)
		out[(*o)++] = '/';
	memcpy(out + *o, c, len);
	*o += len;
	return KLAB_OK;
}

/* "//a/./b/../c/" -> "/a/c"; "./x" -> "x"; "" is refused. */
static int
path_normalise(const char *in, char *out, struct kerr *e)
{
	size_t o = 0, base;
	const char *p = in;
	int rc;

	if (*in == '\0')
		return kerr_set(e, KLAB_EINVAL, "an empty path");
	if (*in == '/')
		out[o++] = '/';
	base = o;
	while (*p != '\0') {
		const char *c = p;
		size_t len;

		while (*p != '\0' && *p != '/')
			p++;
		len = (size_t)(p - c);
		if (*p == '/')
			p++;
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if ((rc = path_push(out, &o, base, c, len, in, e)) != KLAB_OK)
			return rc;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return KLAB_OK;
}

static void
loc_set(struct dsim_loc *l, struct dsim_inode *dir, const char *name, size_t len,
	struct dsim_dirent *de, struct dsim_inode *node)
{
	l->dir = dir;
	l->name = name;
	l->name_len = len;
	l->de = de;
	l->node = node;
}

/*
 * Resolve path (named `given` in messages) in the current namespace.  Every
 * directory on the way must exist: KLAB_ENOTFOUND when one is missing,
 * KLAB_EIO when one is a file; the last name itself may be missing.
 */
static int
loc_find(struct disk_sim *d, const char *given, const char *what, struct dsim_loc *l,
	 struct kerr *e)
{
	struct dsim_inode *n;
	const char *p;
	int rc;

	if ((rc = path_normalise(given, l->path, e)) != KLAB_OK)
		return rc;
	n = l->path[0] == '/' ? d->root_abs : d->root_rel;
	p = l->path[0] == '/' ? l->path + 1 : l->path;
	loc_set(l, NULL, l->path, strlen(l->path), NULL, n);
	if (*p == '\0' || strcmp(p, ".") == 0)
		return KLAB_OK;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct dsim_dirent *de = dirent_find(d, n, p, len);

		if (slash == NULL) {
			loc_set(l, n, p, len, de, de ? de->cur : NULL);
			return KLAB_OK;
		}
		if (de == NULL || de->cur == NULL)
			return kerr_set(e, KLAB_ENOTFOUND, "%s: %s: No such file or directory",
					given, what);
		if (de->cur->kind != FS_DIR)
			return kerr_set(e, KLAB_EIO, "%s: %s: Not a directory", given, what);
		n = de->cur;
		p = slash + 1;
	}
}

/* dir + "/" + name into out[DISK_SIM_PATH_MAX]; false when too long. */
static bool
path_join(char *out, const char *dir, const char *name)
{
	int w;

	if (strcmp(dir, ".") == 0)
		w = snprintf(out, DISK_SIM_PATH_MAX, "%s", name);
	else if (strcmp(dir, "/") == 0)
		w = snprintf(out, DISK_SIM_PATH_MAX, "/%s", name);
	else
		w = snprintf(out, DISK_SIM_PATH_MAX, "%s/%s", dir, name);
	return w >= 0 && w < DISK_SIM_PATH_MAX;
}

/* True when path (normalised) lies under dir (normalised): "a/b" under "a". */
static bool
path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	if (strcmp(dir, ".") == 0)
		return path[0] != '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* ---- mirror mode: the real side ------------------------------------------ */

static bool
mirror_covers(const struct disk_sim *d, const char *path)
{
	return d->mirror != NULL && path_under(path, d->mirror_root);
}

/* A real operation's result: a failure is counted and its sentence kept. */
static void
mirror_note(struct disk_sim *d, int rc, const struct kerr *me)
{
	if (rc == KLAB_OK)
		return;
	d->stats.mirror_failures++;
	d->mirror_failed = true;
	d->mirror_err = *me;
	if (d->mirror_err.msg[0] == '\0')
		kerr_set(&d->mirror_err, rc, "mirror: %s", klab_strerror(rc));
}

struct mirror_walk {
	struct disk_sim *d;
	struct fs *real;
	const char *path;
	struct dsim_inode *dir;
	int depth;
	struct kerr *e;
	int rc;
};

static int real_remove(struct fs *real, const char *path, int depth, struct kerr *e);

static int
real_remove_one(void *arg, const char *name)
{
	struct mirror_walk *w = arg;
	char path[DISK_SIM_PATH_MAX];

	if (!path_join(path, w->path, name))
		w->rc = kerr_set(w->e, KLAB_EINVAL, "%s/%s: path too long", w->path, name);
	else
		w->rc = real_remove(w->real, path, w->depth + 1, w->e);
	return w->rc != KLAB_OK;
}

/* Remove a real file, or a real directory and everything in it. */
static int
real_remove(struct fs *real, const char *path, int depth, struct kerr *e)
{
	struct mirror_walk w = { NULL, real, path, NULL, depth, e, KLAB_OK };
	enum fs_kind kind;
	uint64_t size;
	int rc;

	if (depth > MIRROR_DEPTH_MAX)
		return kerr_set(e, KLAB_ETOOLARGE, "%s: nested too deep to mirror", path);
	if ((rc = fs_stat(real, path, &kind, &size, e)) != KLAB_OK || kind == FS_NONE)
		return rc;
	if (kind == FS_FILE)
		return fs_unlink(real, path, e);
	if ((rc = fs_list(real, path, real_remove_one, &w, e)) != KLAB_OK)
		return w.rc != KLAB_OK ? w.rc : rc;
	return fs_rmdir(real, path, e);
}

static int
real_write_file(struct fs *real, const char *path, const struct dsim_inode *n, struct kerr *e)
{
	struct fs_file *f;
	int rc;

	if ((rc = fs_open(real, path, FS_CREATE, &f, e)) != KLAB_OK)
		return rc;
	rc = fs_truncate(f, 0, e);
	if (rc == KLAB_OK && n->cur.len > 0)
		rc = fs_pwrite(f, n->cur.data, (size_t)n->cur.len, 0, e);
	fs_close(f);
	return rc;
}

static int mirror_match(struct disk_sim *d, const char *path, struct dsim_inode *n, int depth,
			struct kerr *e);

/* fs_list callback: a real entry the simulated directory lacks goes. */
static int
mirror_drop_stranger(void *arg, const char *name)
{
	struct mirror_walk *w = arg;
	struct dsim_dirent *de = dirent_find(w->d, w->dir, name, strlen(name));
	char path[DISK_SIM_PATH_MAX];
	int rc;

	if (de != NULL && de->cur != NULL)
		return 0;
	if (!path_join(path, w->path, name))
		rc = kerr_set(w->e, KLAB_EINVAL, "%s/%s: path too long", w->path, name);
	else
		rc = real_remove(w->real, path, w->depth + 1, w->e);
	if (w->rc == KLAB_OK)
		w->rc = rc;
	return 0;
}

static int
mirror_match_dir(struct disk_sim *d, const char *path, struct dsim_inode *dir, int depth,
		 struct kerr *e)
{
	struct mirror_walk w = { d, d->mirror, path, dir, depth, e, KLAB_OK };
	char child[DISK_SIM_PATH_MAX];
	int rc = fs_list(d->mirror, path, mirror_drop_stranger, &w, e);

	if (rc == KLAB_OK)
		rc = w.rc;
	for (struct dsim_dirent *de = dir->first; de != NULL; de = de->next) {
		int one;

		if (de->cur == NULL)
			continue;
		if (!path_join(child, path, de->name))
			one = kerr_set(e, KLAB_EINVAL, "%s/%s: path too long", path, de->name);
		else
			one = mirror_match(d, child, de->cur, depth + 1, e);
		if (rc == KLAB_OK)
			rc = one;
	}
	return rc;
}

/* Make the real path hold what the simulated n holds (n NULL: nothing). */
static int
mirror_match(struct disk_sim *d, const char *path, struct dsim_inode *n, int depth, struct kerr *e)
{
	enum fs_kind kind;
	uint64_t size;
	int rc;

	if (depth > MIRROR_DEPTH_MAX)
		return kerr_set(e, KLAB_ETOOLARGE, "%s: nested too deep to mirror", path);
	if ((rc = fs_stat(d->mirror, path, &kind, &size, e)) != KLAB_OK)
		return rc;
	if (kind != FS_NONE && (n == NULL || n->kind != kind)) {
		if ((rc = real_remove(d->mirror, path, depth, e)) != KLAB_OK)
			return rc;
		kind = FS_NONE;
	}
	if (n == NULL)
		return KLAB_OK;
	if (n->kind == FS_FILE)
		return real_write_file(d->mirror, path, n, e);
	if (kind == FS_NONE && (rc = fs_mkdir(d->mirror, path, e)) != KLAB_OK)
		return rc;
	return mirror_match_dir(d, path, n, depth, e);
}

/* After a change at path (normalised): make the real path match, in mirror mode. */
static void
mirror_sync(struct disk_sim *d, const char *path)
{
	struct kerr me = { 0 };
	struct dsim_loc l;

	if (!mirror_covers(d, path))
		return;
	if (loc_find(d, path, "mirror", &l, NULL) != KLAB_OK)
		l.node = NULL;
	mirror_note(d, mirror_match(d, path, l.node, 0, &me), &me);
}

/* ---- files ---------------------------------------------------------------- */

static struct disk_sim *
disk_of(struct fs *fs)
{
	return fs->impl;
}

static struct dsim_file *
hf(struct fs_file *f)
{
	return (struct dsim_file *)f;
}

static int
handle_live(const struct dsim_file *h, const char *what, struct kerr *e)
{
	if (h->node != NULL)
		return KLAB_OK;
	return kerr_set(e, KLAB_EIO, "%s: %s: the disk crashed (the handle is dead)", h->base.path,
			what);
}

/* Grow the current image to len (zeros), within the capacity; the growth is dirty. */
static int
file_grow(struct disk_sim *d, struct dsim_inode *n, uint64_t len, const char *path,
	  const char *what, struct kerr *e)
{
	uint64_t old = n->cur.len;

	if (d->capacity_bytes != 0 && d->used_bytes - old + len > d->capacity_bytes) {
		d->stats.faults++;
		return kerr_set(e, KLAB_ENOSPC, "%s: %s: No space left on device", path, what);
	}
	if (!dirty_reserve(n, sectors_of(len)) || !image_resize(&n->cur, len))
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	d->used_bytes += len - old;
	dirty_mark(n, old, len);
	return KLAB_OK;
}

static void
file_shrink(struct disk_sim *d, struct dsim_inode *n, uint64_t len)
{
	d->used_bytes -= n->cur.len - len;
	n->cur.len = len;
	dirty_clear_from(n, sectors_of(len));
}

/* fsync: the dirty sectors and the size reach the durable image. */
static bool
file_persist(struct dsim_inode *n)
{
	if (!image_resize(&n->dur, n->cur.len))
		return false;
	for (uint64_t s = dirty_next(n, 0); s != UINT64_MAX; s = dirty_next(n, s + 1)) {
		uint64_t lo = s * SECTOR, hi = lo + SECTOR < n->cur.len ? lo + SECTOR : n->cur.len;

		memcpy(n->dur.data + lo, n->cur.data + lo, (size_t)(hi - lo));
	}
	dirty_clear_from(n, 0);
	return true;
}

/* The first pending rule for path (normalised; NULL when it is not valid), or NULL. */
static struct dsim_rule *
rule_for(struct disk_sim *d, const char *norm)
{
	for (int i = 0; i < DISK_SIM_FAIL_RULES; i++) {
		struct dsim_rule *r = &d->rules[i];

		if (r->times != 0 &&
		    (r->path[0] == '\0' || (norm != NULL && strcmp(r->path, norm) == 0)))
			return r;
	}
	return NULL;
}

/* Does this fsync of path fail?  A pending rule first, then the probability. */
static bool
fsync_fails(struct disk_sim *d, const char *path)
{
	char norm[DISK_SIM_PATH_MAX];
	struct dsim_rule *r = NULL;

	if (d->rules_pending > 0)
		r = rule_for(d, path_normalise(path, norm, NULL) == KLAB_OK ? norm : NULL);
	if (r != NULL) {
		if (--r->times == 0)
			d->rules_pending--;
	} else if (!rng_chance(d, d->faults.fsync_eio)) {
		return false;
	}
	d->stats.faults++;
	return true;
}

static struct dsim_inode *
file_create(struct disk_sim *d, const struct dsim_loc *l)
{
	struct dsim_inode *n = inode_new(d, FS_FILE);
	struct dsim_dirent *de;

	if (n == NULL)
		return NULL;
	if ((de = dirent_get(d, l->dir, l->name, l->name_len)) == NULL) {
		inode_destroy(d, n);
		return NULL;
	}
	dirent_set_cur(d, de, n);
	return n;
}

static void
handle_attach(struct disk_sim *d, struct dsim_file *h, const char *path, struct dsim_inode *n,
	      int flags)
{
	strcpy(h->path, path);
	h->base.fs = &d->fs;
	h->base.path = h->path;
	h->disk = d;
	h->node = n;
	h->readonly = (flags & FS_READONLY) != 0;
	n->refs++;
	h->next = d->handles;
	if (d->handles != NULL)
		d->handles->prev = h;
	d->handles = h;
}

static int
sim_open(struct fs *fs, const char *path, int flags, struct fs_file **out, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct kerr me = { 0 };
	struct dsim_file *h;
	struct dsim_loc l;
	bool created;
	int rc;

	if ((rc = loc_find(d, path, "open", &l, e)) != KLAB_OK)
		return rc;
	if (l.node != NULL && l.node->kind == FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: open: Is a directory", path);
	if (l.node != NULL && (flags & FS_CREATE) && (flags & FS_EXCL))
		return kerr_set(e, KLAB_ESTATE, "%s: open: File exists", path);
	if (l.node == NULL && !(flags & FS_CREATE))
		return kerr_set(e, KLAB_ENOTFOUND, "%s: open: No such file or directory", path);
	if ((h = calloc(1, sizeof(*h) + strlen(path) + 1)) == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	created = l.node == NULL;
	if (created && (l.node = file_create(d, &l)) == NULL) {
		free(h);
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	}
	handle_attach(d, h, path, l.node, flags);
	if (!h->readonly && mirror_covers(d, l.path))
		mirror_note(d, fs_open(d->mirror, l.path, FS_CREATE, &h->mirror, &me), &me);
	else if (created)
		mirror_sync(d, l.path);
	*out = &h->base;
	return KLAB_OK;
}

static void
sim_close(struct fs_file *f)
{
	struct dsim_file *h = hf(f);
	struct disk_sim *d = h->disk;

	if (d != NULL) {
		if (h->prev != NULL)
			h->prev->next = h->next;
		else
			d->handles = h->next;
		if (h->next != NULL)
			h->next->prev = h->prev;
		if (h->node != NULL)
			ref_put(d, h->node);
	}
	fs_close(h->mirror);
	free(h);
}

static int64_t
sim_pread(struct fs_file *f, void *dst, size_t n, uint64_t off, struct kerr *e)
{
	struct dsim_file *h = hf(f);
	uint64_t got;
	int rc;

	if ((rc = handle_live(h, "read", e)) != KLAB_OK)
		return rc;
	h->disk->stats.reads++;
	if (rng_chance(h->disk, h->disk->faults.read_eio)) {
		h->disk->stats.faults++;
		return kerr_set(e, KLAB_EIO, "%s: read: Input/output error (simulated)", f->path);
	}
	if (off >= h->node->cur.len || n == 0)
		return 0;
	got = h->node->cur.len - off < n ? h->node->cur.len - off : n;
	memcpy(dst, h->node->cur.data + off, (size_t)got);
	return (int64_t)got;
}

static int
sim_pwrite(struct fs_file *f, const void *src, size_t n, uint64_t off, struct kerr *e)
{
	struct dsim_file *h = hf(f);
	struct disk_sim *d = h->disk;
	struct kerr me = { 0 };
	int rc;

	if ((rc = handle_live(h, "write", e)) != KLAB_OK)
		return rc;
	if (h->readonly)
		return kerr_set(e, KLAB_EIO, "%s: write: Bad file descriptor (read-only)", f->path);
	if (n == 0)
		return KLAB_OK;
	if (off > DISK_SIM_FILE_MAX_BYTES || n > DISK_SIM_FILE_MAX_BYTES - off)
		return kerr_set(e, KLAB_EIO, "%s: write: File too large", f->path);
	if (rng_chance(d, d->faults.write_enospc)) {
		d->stats.faults++;
		return kerr_set(e, KLAB_ENOSPC, "%s: write: No space left on device (simulated)",
				f->path);
	}
	if (rng_chance(d, d->faults.write_eio)) {
		d->stats.faults++;
		return kerr_set(e, KLAB_EIO, "%s: write: Input/output error (simulated)", f->path);
	}
	if (off + n > h->node->cur.len &&
	    (rc = file_grow(d, h->node, off + n, f->path, "write", e)) != KLAB_OK)
		return rc;
	memcpy(h->node->cur.data + off, src, n);
	dirty_mark(h->node, off, off + n);
	d->stats.writes++;
	d->stats.bytes_written += n;
	if (h->mirror != NULL)
		mirror_note(d, fs_pwrite(h->mirror, src, n, off, &me), &me);
	return KLAB_OK;
}

static int
sim_fsync(struct fs_file *f, struct kerr *e)
{
	struct dsim_file *h = hf(f);
	int rc;

	if ((rc = handle_live(h, "fsync", e)) != KLAB_OK)
		return rc;
	h->disk->stats.fsyncs++;
	if (fsync_fails(h->disk, f->path)) {
		/* the writeback failed: the sectors are clean now, and lost (fsyncgate) */
		dirty_clear_from(h->node, 0);
		h->node->lost_writes = true;
		return kerr_set(e, KLAB_EIO, "%s: fsync: Input/output error (simulated)", f->path);
	}
	if (!file_persist(h->node))
		return kerr_set(e, KLAB_ENOMEM, "%s: fsync: out of memory", f->path);
	return KLAB_OK;
}

static int
sim_truncate(struct fs_file *f, uint64_t size, struct kerr *e)
{
	struct dsim_file *h = hf(f);
	struct disk_sim *d = h->disk;
	struct kerr me = { 0 };
	int rc;

	if ((rc = handle_live(h, "truncate", e)) != KLAB_OK)
		return rc;
	if (h->readonly)
		return kerr_set(e, KLAB_EIO, "%s: truncate: Invalid argument (read-only)", f->path);
	if (size > DISK_SIM_FILE_MAX_BYTES)
		return kerr_set(e, KLAB_EIO, "%s: truncate: File too large", f->path);
	if (size > h->node->cur.len)
		rc = file_grow(d, h->node, size, f->path, "truncate", e);
	else
		file_shrink(d, h->node, size);
	if (rc == KLAB_OK && h->mirror != NULL)
		mirror_note(d, fs_truncate(h->mirror, size, &me), &me);
	return rc;
}

static int64_t
sim_size(struct fs_file *f, struct kerr *e)
{
	struct dsim_file *h = hf(f);
	int rc;

	if ((rc = handle_live(h, "stat", e)) != KLAB_OK)
		return rc;
	return (int64_t)h->node->cur.len;
}

static int
sim_os_fd(struct fs_file *f)
{
	(void)f;
	return -1; /* no descriptor: sendfile() callers copy through pread */
}

/* ---- names ---------------------------------------------------------------- */

static int
sim_stat(struct fs *fs, const char *path, enum fs_kind *kind, uint64_t *size, struct kerr *e)
{
	struct kerr walk = { 0 };
	struct dsim_loc l;
	int rc;

	*kind = FS_NONE;
	*size = 0;
	rc = loc_find(disk_of(fs), path, "stat", &l, &walk);
	if (rc == KLAB_ENOTFOUND || rc == KLAB_EIO)
		return KLAB_OK; /* a missing directory on the way: nothing there */
	if (rc != KLAB_OK)
		return kerr_set(e, rc, "%s", walk.msg);
	if (l.node != NULL) {
		*kind = l.node->kind;
		*size = l.node->kind == FS_FILE ? l.node->cur.len : 0;
	}
	return KLAB_OK;
}

static int
sim_mkdir(struct fs *fs, const char *path, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct dsim_dirent *de;
	struct dsim_inode *n;
	struct dsim_loc l;
	int rc;

	if ((rc = loc_find(d, path, "mkdir", &l, e)) != KLAB_OK)
		return rc;
	if (l.node != NULL && l.node->kind == FS_DIR)
		return KLAB_OK;
	if (l.node != NULL)
		return kerr_set(e, KLAB_ESTATE, "%s: mkdir: File exists", path);
	if ((n = inode_new(d, FS_DIR)) == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	if ((de = dirent_get(d, l.dir, l.name, l.name_len)) == NULL) {
		inode_destroy(d, n);
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	}
	dirent_set_cur(d, de, n);
	mirror_sync(d, l.path);
	return KLAB_OK;
}

/* Take away the current name at l (rmdir, unlink): durable after the directory's fsync. */
static void
name_remove(struct disk_sim *d, const struct dsim_loc *l)
{
	dirent_set_cur(d, l->de, NULL);
	dirent_tidy(d, l->de);
	mirror_sync(d, l->path);
}

static int
sim_rmdir(struct fs *fs, const char *path, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct dsim_loc l;
	int rc;

	if ((rc = loc_find(d, path, "rmdir", &l, e)) != KLAB_OK)
		return rc;
	if (l.node == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: rmdir: No such file or directory", path);
	if (l.node->kind != FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: rmdir: Not a directory", path);
	if (l.dir == NULL)
		return kerr_set(e, KLAB_EIO, "%s: rmdir: Device or resource busy", path);
	if (dir_has_children(l.node))
		return kerr_set(e, KLAB_ESTATE, "%s: rmdir: Directory not empty", path);
	name_remove(d, &l);
	return KLAB_OK;
}

static int
sim_unlink(struct fs *fs, const char *path, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct dsim_loc l;
	int rc;

	if ((rc = loc_find(d, path, "unlink", &l, e)) != KLAB_OK)
		return rc;
	if (l.node == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: unlink: No such file or directory", path);
	if (l.node->kind == FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: unlink: Is a directory", path);
	name_remove(d, &l);
	return KLAB_OK;
}

/* rename(2)'s refusals, as the real disk reports them. */
static int
rename_check(const struct dsim_loc *a, const struct dsim_loc *b, const char *from, struct kerr *e)
{
	size_t n = strlen(a->path);

	if (a->node == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: rename: No such file or directory", from);
	if (a->dir == NULL || b->dir == NULL)
		return kerr_set(e, KLAB_EIO, "%s: rename: Device or resource busy", from);
	if (b->node != NULL && a->node->kind == FS_FILE && b->node->kind == FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: rename: Is a directory", from);
	if (b->node != NULL && a->node->kind == FS_DIR && b->node->kind == FS_FILE)
		return kerr_set(e, KLAB_EIO, "%s: rename: Not a directory", from);
	if (b->node != NULL && b->node->kind == FS_DIR && dir_has_children(b->node))
		return kerr_set(e, KLAB_ESTATE, "%s: rename: Directory not empty", from);
	if (a->node->kind == FS_DIR && strncmp(b->path, a->path, n) == 0 && b->path[n] == '/')
		return kerr_set(e, KLAB_EIO, "%s: rename: Invalid argument (into itself)", from);
	return KLAB_OK;
}

static void
rename_mirror(struct disk_sim *d, const struct dsim_loc *a, const struct dsim_loc *b)
{
	struct kerr me = { 0 };

	if (mirror_covers(d, a->path) && mirror_covers(d, b->path)) {
		mirror_note(d, fs_rename(d->mirror, a->path, b->path, &me), &me);
		return;
	}
	mirror_sync(d, a->path);
	mirror_sync(d, b->path);
}

static int
sim_rename(struct fs *fs, const char *from, const char *to, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct dsim_dirent *de;
	struct dsim_loc a, b;
	int rc;

	if ((rc = loc_find(d, from, "rename", &a, e)) != KLAB_OK ||
	    (rc = loc_find(d, to, "rename", &b, e)) != KLAB_OK)
		return rc;
	if (a.node != NULL && a.node == b.node)
		return KLAB_OK; /* the same file: rename(2) does nothing */
	if ((rc = rename_check(&a, &b, from, e)) != KLAB_OK)
		return rc;
	if ((de = dirent_get(d, b.dir, b.name, b.name_len)) == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", from);
	dirent_set_cur(d, de, a.node); /* the new name first: the inode never lacks a ref */
	dirent_set_cur(d, a.de, NULL);
	dirent_tidy(d, a.de);
	rename_mirror(d, &a, &b);
	return KLAB_OK;
}

static int
sim_fsync_dir(struct fs *fs, const char *path, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	struct dsim_dirent *de, *next;
	struct dsim_loc l;
	int rc;

	d->stats.dir_fsyncs++;
	if ((rc = loc_find(d, path, "open directory", &l, e)) != KLAB_OK)
		return rc;
	if (l.node == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: open directory: No such file or directory",
				path);
	if (l.node->kind != FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: open directory: Not a directory", path);
	if (fsync_fails(d, path))
		return kerr_set(e, KLAB_EIO, "%s: fsync directory: Input/output error (simulated)",
				path);
	for (de = l.node->first; de != NULL; de = next) {
		next = de->next; /* releasing an inode only drops entries of other directories */
		dirent_set_dur(d, de, de->cur);
		dirent_tidy(d, de);
	}
	return KLAB_OK;
}

/* The current names in dir, as one allocation (an array, then the strings). */
static int
names_gather(const struct dsim_inode *dir, char ***out, size_t *count, const char *path,
	     struct kerr *e)
{
	const struct dsim_dirent *de;
	size_t n = 0, bytes = 0;
	char **names, *p;

	for (de = dir->first; de != NULL; de = de->next)
		if (de->cur != NULL) {
			n++;
			bytes += de->name_len + 1;
		}
	if ((names = malloc(n * sizeof(*names) + bytes + 1)) == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	p = (char *)(names + n);
	n = 0;
	for (de = dir->first; de != NULL; de = de->next)
		if (de->cur != NULL) {
			names[n++] = p;
			memcpy(p, de->name, de->name_len + 1);
			p += de->name_len + 1;
		}
	*out = names;
	*count = n;
	return KLAB_OK;
}

static int
sim_list(struct fs *fs, const char *path, fs_list_fn fn, void *arg, struct kerr *e)
{
	struct dsim_loc l;
	char **names = NULL;
	size_t n = 0;
	int rc;

	if ((rc = loc_find(disk_of(fs), path, "open directory", &l, e)) != KLAB_OK)
		return rc;
	if (l.node == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: open directory: No such file or directory",
				path);
	if (l.node->kind != FS_DIR)
		return kerr_set(e, KLAB_EIO, "%s: open directory: Not a directory", path);
	if ((rc = names_gather(l.node, &names, &n, path, e)) != KLAB_OK)
		return rc;
	for (size_t i = 0; i < n && rc == KLAB_OK; i++)
		rc = fn(arg, names[i]);
	free(names);
	return rc;
}

/*
 * fs.h rule 7 in memory: a file is locked while a live handle that fs_lock
 * returned points at it.  A crash kills every handle, so it drops every
 * lock, as a process's death drops its flock()s.
 */
static int
sim_lock(struct fs *fs, const char *path, struct fs_file **out, struct kerr *e)
{
	struct disk_sim *d = disk_of(fs);
	int rc = sim_open(fs, path, FS_CREATE, out, e);

	if (rc != KLAB_OK)
		return rc;
	for (struct dsim_file *h = d->handles; h != NULL; h = h->next)
		if (h->lock && h->node != NULL && h->node == hf(*out)->node) {
			sim_close(*out);
			*out = NULL;
			return kerr_set(e, KLAB_ESTATE, "%s: locked by another process", path);
		}
	hf(*out)->lock = true;
	return KLAB_OK;
}

static const struct fs_ops sim_ops = {
	.open = sim_open,
	.close = sim_close,
	.pread = sim_pread,
	.pwrite = sim_pwrite,
	.fsync = sim_fsync,
	.truncate = sim_truncate,
	.size = sim_size,
	.os_fd = sim_os_fd,
	.stat = sim_stat,
	.mkdir = sim_mkdir,
	.rmdir = sim_rmdir,
	.unlink = sim_unlink,
	.rename = sim_rename,
	.fsync_dir = sim_fsync_dir,
	.list = sim_list,
	.lock = sim_lock,
};

/* ---- the disk ------------------------------------------------------------- */

struct disk_sim *
disk_sim_new(uint64_t seed)
{
	struct disk_sim *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->rng = seed;
	d->fs.ops = &sim_ops;
	d->fs.impl = d;
	d->nslots = TABLE_MIN_SLOTS;
	if ((d->slots = calloc(d->nslots, sizeof(*d->slots))) == NULL)
		goto fail;
	if ((d->root_abs = inode_new(d, FS_DIR)) == NULL)
		goto fail;
	if ((d->root_rel = inode_new(d, FS_DIR)) == NULL)
		goto fail;
	return d;
fail:
	disk_sim_free(d);
	return NULL;
}

void
disk_sim_free(struct disk_sim *d)
{
	static struct fs orphans = { &sim_ops, NULL }; /* stateless: never written */

	if (d == NULL)
		return;
	for (struct dsim_file *h = d->handles; h != NULL; h = h->next) {
		h->base.fs = &orphans; /* fs_close will free just the handle */
		h->disk = NULL;
		h->node = NULL;
	}
	for (size_t i = 0; d->slots != NULL && i < d->nslots; i++) {
		struct dsim_dirent *de = d->slots[i], *next;

		for (; de != NULL; de = next) {
			next = de->hnext;
			free(de);
		}
	}
	while (d->first != NULL) {
		d->first->first = NULL; /* its entries were freed above */
		inode_destroy(d, d->first);
	}
	free(d->slots);
	free(d);
}

struct fs *
disk_sim_fs(struct disk_sim *d)
{
	return &d->fs;
}

void
disk_sim_set_faults(struct disk_sim *d, const struct disk_faults *f)
{
	d->faults = *f;
}

int
disk_sim_fail_fsync(struct disk_sim *d, const char *path, int times)
{
	char norm[DISK_SIM_PATH_MAX] = "";

	if (times <= 0 || (path != NULL && path_normalise(path, norm, NULL) != KLAB_OK))
		return KLAB_EINVAL;
	for (int i = 0; i < DISK_SIM_FAIL_RULES; i++) {
		if (d->rules[i].times != 0)
			continue;
		memcpy(d->rules[i].path, norm, sizeof(norm));
		d->rules[i].times = times;
		d->rules_pending++;
		return KLAB_OK;
	}
	return KLAB_EFULL;
}

void
disk_sim_set_capacity(struct disk_sim *d, uint64_t bytes)
{
	d->capacity_bytes = bytes;
}

int
disk_sim_corrupt(struct disk_sim *d, const char *path, uint64_t off, struct kerr *e)
{
	struct dsim_inode *n;
	struct dsim_loc l;
	uint8_t mask;
	int rc;

	if ((rc = loc_find(d, path, "corrupt", &l, e)) != KLAB_OK)
		return rc;
	if ((n = l.node) == NULL || n->kind != FS_FILE)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: no such file to corrupt", path);
	if (off >= n->cur.len && off >= n->dur.len)
		return kerr_set(e, KLAB_ERANGE, "%s: byte %llu is past the end", path,
				(unsigned long long)off);
	mask = (uint8_t)(1 + rng_below(d, 255));
	if (off < n->cur.len)
		n->cur.data[off] ^= mask;
	if (off < n->dur.len)
		n->dur.data[off] ^= mask;
	mirror_sync(d, l.path);
	return KLAB_OK;
}

const struct disk_stats *
disk_sim_stats(const struct disk_sim *d)
{
	return &d->stats;
}

const char *
disk_sim_mirror_error(const struct disk_sim *d)
{
	return d->mirror_failed ? d->mirror_err.msg : NULL;
}

/* Does the file's current image differ from its durable one? */
static bool
images_differ(const struct dsim_inode *n)
{
	return n->cur.len != n->dur.len ||
	       (n->cur.len > 0 && memcmp(n->cur.data, n->dur.data, (size_t)n->cur.len) != 0);
}

bool
disk_sim_is_dirty(const struct disk_sim *d, const char *path)
{
	char norm[DISK_SIM_PATH_MAX];
	const struct dsim_inode *n;
	const char *p;
	bool name_moved = false;

	if (path_normalise(path, norm, NULL) != KLAB_OK)
		return false;
	n = norm[0] == '/' ? d->root_abs : d->root_rel;
	p = norm[0] == '/' ? norm + 1 : norm;
	while (*p != '\0' && strcmp(p, ".") != 0) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		const struct dsim_dirent *de = dirent_find(d, n, p, len);

		if (n->kind != FS_DIR || de == NULL || de->cur == NULL)
			return false;
		name_moved |= de->dur != de->cur; /* a crash would undo this name */
		n = de->cur;
		p = slash ? slash + 1 : p + len;
	}
	return n->kind == FS_FILE && (name_moved || images_differ(n));
}

/* ---- crash ---------------------------------------------------------------- */

/* Room for every surviving image, so that the crash itself cannot fail. */
static bool
crash_reserve(struct disk_sim *d)
{
	for (struct dsim_inode *n = d->first; n != NULL; n = n->next) {
		uint64_t m = n->cur.len > n->dur.len ? n->cur.len : n->dur.len;

		if (n->kind != FS_FILE)
			continue;
		if (!image_reserve(&n->cur, m) || !image_reserve(&n->dur, m) ||
		    !dirty_reserve(n, sectors_of(m)))
			return false;
	}
	return true;
}

/* Steps 1 and 2: handles die; every name means what it meant durably. */
static void
crash_forget(struct disk_sim *d, struct disk_crash_report *r)
{
	for (struct dsim_file *h = d->handles; h != NULL; h = h->next)
		if (h->node != NULL) {
			h->node = NULL; /* refs are counted again after the fsck */
			r->handles_dead++;
		}
	for (size_t i = 0; i < d->nslots; i++)
		for (struct dsim_dirent *de = d->slots[i]; de != NULL; de = de->hnext)
			if (de->cur != de->dur) {
				de->cur = de->dur;
				r->names_undone++;
			}
}

/* Step 3: mark what the roots reach; a second name for an inode is dropped. */
static void
fsck_walk(struct dsim_inode *dir, struct disk_crash_report *r)
{
	for (struct dsim_dirent *de = dir->first; de != NULL; de = de->next) {
		struct dsim_inode *child = de->cur;

		if (child == NULL)
			continue;
		if (child->mark) {
			de->cur = de->dur = NULL;
			r->names_undone++;
			continue;
		}
		child->mark = true;
		if (child->kind == FS_DIR)
			fsck_walk(child, r);
	}
}

/* Step 3, continued: free what was not reached, then count the refs again. */
static void
fsck_sweep(struct disk_sim *d)
{
	struct dsim_inode *n, *next;

	for (n = d->first; n != NULL; n = n->next) {
		struct dsim_dirent *de = n->first, *de_next;

		for (; de != NULL; de = de_next) {
			de_next = de->next;
			if (!n->mark || de->cur == NULL)
				dirent_destroy(d, de);
		}
	}
	for (n = d->first; n != NULL; n = next) {
		next = n->next;
		n->refs = 0;
		if (!n->mark)
			inode_destroy(d, n);
	}
	for (n = d->first; n != NULL; n = n->next)
		for (struct dsim_dirent *de = n->first; de != NULL; de = de->next) {
			de->cur->refs++;
			de->dur->refs++;
		}
}

static void
crash_fsck(struct disk_sim *d, struct disk_crash_report *r)
{
	for (struct dsim_inode *n = d->first; n != NULL; n = n->next)
		n->mark = false;
	d->root_abs->mark = true;
	d->root_rel->mark = true;
	fsck_walk(d->root_abs, r);
	fsck_walk(d->root_rel, r);
	fsck_sweep(d);
}

/* Step 4: the durable image plus a torn prefix of the dirty sectors. */
static void
crash_file(struct disk_sim *d, struct dsim_inode *n, struct disk_crash_report *r)
{
	uint64_t m = dirty_count(n), k = m ? rng_below(d, m + 1) : 0, i = 0;
	bool same;

	for (uint64_t s = dirty_next(n, 0); s != UINT64_MAX; s = dirty_next(n, s + 1), i++) {
		uint64_t lo = s * SECTOR, hi = lo + SECTOR < n->cur.len ? lo + SECTOR : n->cur.len;

		if (i >= k) {
			r->bytes_lost += hi - lo;
			continue;
		}
		if (n->dur.len < hi)
			(void)image_resize(&n->dur, hi); /* reserved by crash_reserve */
		memcpy(n->dur.data + lo, n->cur.data + lo, (size_t)(hi - lo));
	}
	same = n->dur.len == n->cur.len &&
	       (n->cur.len == 0 || memcmp(n->dur.data, n->cur.data, (size_t)n->cur.len) == 0);
	if (!same)
		r->files_torn++;
	d->used_bytes -= n->cur.len;
	(void)image_resize(&n->cur, n->dur.len); /* reserved too */
	if (n->dur.len > 0)
		memcpy(n->cur.data, n->dur.data, (size_t)n->dur.len);
	d->used_bytes += n->cur.len;
	dirty_clear_from(n, 0);
	n->lost_writes = false;
}

int
disk_sim_crash(struct disk_sim *d, struct disk_crash_report *rep)
{
	struct disk_crash_report r = { 0 };

	if (!crash_reserve(d))
		return KLAB_ENOMEM;
	crash_forget(d, &r);
	crash_fsck(d, &r);
	for (struct dsim_inode *n = d->first; n != NULL; n = n->next)
		if (n->kind == FS_FILE)
			crash_file(d, n, &r);
	d->stats.crashes++;
	if (d->mirror != NULL)
		mirror_sync(d, d->mirror_root);
	if (rep != NULL)
		*rep = r;
	return KLAB_OK;
}

/* ---- invariants ----------------------------------------------------------- */

#define BROKEN(e, ...) kerr_set((e), KLAB_ESTATE, "disk invariant " __VA_ARGS__)

/* Invariants 1 and 3; *names: the refs the entries hold. */
static int
check_entries(const struct disk_sim *d, int64_t *names, struct kerr *e)
{
	size_t seen = 0, listed = 0;

	for (size_t i = 0; i < d->nslots; i++)
		for (const struct dsim_dirent *de = d->slots[i]; de != NULL; de = de->hnext) {
			if ((de->hash & (d->nslots - 1)) != i || de->dir->kind != FS_DIR ||
			    dirent_find(d, de->dir, de->name, de->name_len) != de)
				return BROKEN(e, "1: entry \"%s\" is misfiled", de->name);
			if (de->cur == d->root_abs || de->cur == d->root_rel ||
			    de->dur == d->root_abs || de->dur == d->root_rel)
				return BROKEN(e, "3: entry \"%s\" names a root", de->name);
			*names += (de->cur != NULL) + (de->dur != NULL);
			seen++;
		}
	for (const struct dsim_inode *n = d->first; n != NULL; n = n->next)
		for (const struct dsim_dirent *de = n->first; de != NULL; de = de->next) {
			if (de->dir != n)
				return BROKEN(e, "1: entry \"%s\" is listed in another directory",
					      de->name);
			listed++;
		}
	if (seen != d->nentries || listed != d->nentries)
		return BROKEN(e, "1: %zu entries, %zu hashed, %zu listed", d->nentries, seen,
			      listed);
	return KLAB_OK;
}

/* True when every sector in [from, to) is dirty. */
static bool
dirty_all(const struct dsim_inode *n, uint64_t from, uint64_t to)
{
	uint64_t s = from;

	while (s < to) {
		if (s % 64 == 0 && s + 64 <= to) {
			if (n->dirty[s / 64] != UINT64_MAX)
				return false;
			s += 64;
		} else if (!dirty_test(n, s++)) {
			return false;
		}
	}
	return true;
}

/* Invariants 4 and 6 for one file. */
static int
check_file(const struct dsim_inode *n, struct kerr *e)
{
	uint64_t sectors = sectors_of(n->cur.len);

	if ((uint64_t)n->dirty_words * 64 < sectors)
		return BROKEN(e, "4: inode %llu: the dirty bitmap is short",
			      (unsigned long long)n->id);
	if (dirty_next(n, sectors) != UINT64_MAX)
		return BROKEN(e, "4: inode %llu: a dirty bit past the end",
			      (unsigned long long)n->id);
	if (!n->lost_writes && n->dur.len < n->cur.len &&
	    !dirty_all(n, n->dur.len / SECTOR, sectors))
		return BROKEN(e, "6: inode %llu: bytes past the durable size are not dirty",
			      (unsigned long long)n->id);
	return KLAB_OK;
}

/* Invariants 2 to 6 on the inodes; *refs: the refs they hold. */
static int
check_inodes(const struct disk_sim *d, int64_t *refs, struct kerr *e)
{
	uint64_t used = 0;
	int rc;

	if (d->root_abs->kind != FS_DIR || d->root_rel->kind != FS_DIR)
		return BROKEN(e, "3: a root is not a directory");
	for (const struct dsim_inode *n = d->first; n != NULL; n = n->next) {
		if (n->refs <= 0 && n != d->root_abs && n != d->root_rel)
			return BROKEN(e, "2: inode %llu is kept without a reference",
				      (unsigned long long)n->id);
		*refs += n->refs;
		if (n->kind == FS_FILE && (rc = check_file(n, e)) != KLAB_OK)
			return rc;
		used += n->cur.len;
	}
	if (used != d->used_bytes)
		return BROKEN(e, "5: files hold %llu bytes, used_bytes says %llu",
			      (unsigned long long)used, (unsigned long long)d->used_bytes);
	return KLAB_OK;
}

/* Invariant 7; *live: the refs the live handles hold. */
static int
check_handles(const struct disk_sim *d, int64_t *live, struct kerr *e)
{
	for (const struct dsim_file *h = d->handles; h != NULL; h = h->next) {
		if (h->disk != d || (h->node != NULL && h->node->kind != FS_FILE))
			return BROKEN(e, "7: handle %s is not a file of this disk", h->path);
		*live += h->node != NULL;
	}
	return KLAB_OK;
}

int
disk_sim_check_invariants(const struct disk_sim *d, struct kerr *e)
{
	int64_t names = 0, live = 0, refs = 0;
	int rc;

	if ((rc = check_entries(d, &names, e)) != KLAB_OK ||
	    (rc = check_handles(d, &live, e)) != KLAB_OK ||
	    (rc = check_inodes(d, &refs, e)) != KLAB_OK)
		return rc;
	if (refs != names + live)
		return BROKEN(e, "2: the inodes hold %lld refs, names and handles %lld",
			      (long long)refs, (long long)(names + live));
	return KLAB_OK;
}

/* ---- mirror mode: loading ------------------------------------------------- */

/* name in dir, now and durably, as an inode of kind (a directory is kept). */
static int
put_durable(struct disk_sim *d, struct dsim_inode *dir, const char *name, size_t len,
	    enum fs_kind kind, struct dsim_inode **out, struct kerr *e)
{
	struct dsim_dirent *de = dirent_get(d, dir, name, len);
	struct dsim_inode *n;

	if (de == NULL)
		return kerr_set(e, KLAB_ENOMEM, "%.*s: out of memory", (int)len, name);
	if (de->cur != NULL && de->cur->kind == FS_DIR && kind == FS_DIR) {
		n = de->cur;
	} else if ((n = inode_new(d, kind)) == NULL) {
		dirent_tidy(d, de);
		return kerr_set(e, KLAB_ENOMEM, "%.*s: out of memory", (int)len, name);
	}
	dirent_set_cur(d, de, n);
	dirent_set_dur(d, de, n);
	*out = n;
	return KLAB_OK;
}

/* The directories of path (normalised), made durable; *out: the last. */
static int
load_root(struct disk_sim *d, const char *path, struct dsim_inode **out, struct kerr *e)
{
	struct dsim_inode *n = path[0] == '/' ? d->root_abs : d->root_rel;
	const char *p = path[0] == '/' ? path + 1 : path;
	int rc;

	if (strcmp(path, ".") == 0)
		p = "";
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if ((rc = put_durable(d, n, p, len, FS_DIR, &n, e)) != KLAB_OK)
			return rc;
		p += len + (slash != NULL);
	}
	*out = n;
	return KLAB_OK;
}

static int
load_file(struct disk_sim *d, struct fs *real, const char *path, struct dsim_inode *n,
	  struct kerr *e)
{
	struct buf b;
	int rc;

	buf_init(&b);
	rc = fs_read_file(real, path, DISK_SIM_FILE_MAX_BYTES, &b, e);
	if (rc == KLAB_OK && d->capacity_bytes != 0 && d->used_bytes + b.len > d->capacity_bytes)
		rc = kerr_set(e, KLAB_ENOSPC, "%s: No space left on device", path);
	if (rc == KLAB_OK && (!dirty_reserve(n, sectors_of(b.len)) ||
			      !image_resize(&n->cur, b.len) || !image_resize(&n->dur, b.len)))
		rc = kerr_set(e, KLAB_ENOMEM, "%s: out of memory", path);
	if (rc == KLAB_OK && b.len > 0) {
		memcpy(n->cur.data, b.data, b.len);
		memcpy(n->dur.data, b.data, b.len);
	}
	if (rc == KLAB_OK)
		d->used_bytes += b.len;
	buf_free(&b);
	return rc;
}

static int load_dir(struct disk_sim *d, struct fs *real, const char *path, struct dsim_inode *dir,
		    int depth, struct kerr *e);

static int
load_one(void *arg, const char *name)
{
	struct mirror_walk *w = arg;
	char path[DISK_SIM_PATH_MAX];
	struct dsim_inode *n;
	enum fs_kind kind;
	uint64_t size;

	if (!path_join(path, w->path, name)) {
		w->rc = kerr_set(w->e, KLAB_EINVAL, "%s/%s: path too long", w->path, name);
		return 1;
	}
	if ((w->rc = fs_stat(w->real, path, &kind, &size, w->e)) != KLAB_OK || kind == FS_NONE)
		return w->rc != KLAB_OK;
	w->rc = put_durable(w->d, w->dir, name, strlen(name), kind, &n, w->e);
	if (w->rc == KLAB_OK && kind == FS_DIR)
		w->rc = load_dir(w->d, w->real, path, n, w->depth + 1, w->e);
	else if (w->rc == KLAB_OK)
		w->rc = load_file(w->d, w->real, path, n, w->e);
	return w->rc != KLAB_OK;
}

static int
load_dir(struct disk_sim *d, struct fs *real, const char *path, struct dsim_inode *dir, int depth,
	 struct kerr *e)
{
	struct mirror_walk w = { d, real, path, dir, depth, e, KLAB_OK };
	int rc;

	if (depth > MIRROR_DEPTH_MAX)
		return kerr_set(e, KLAB_ETOOLARGE, "%s: nested too deep to mirror", path);
	rc = fs_list(real, path, load_one, &w, e);
	return w.rc != KLAB_OK ? w.rc : rc;
}

int
disk_sim_mirror(struct disk_sim *d, struct fs *real, const char *root, struct kerr *e)
{
	char norm[DISK_SIM_PATH_MAX];
	struct dsim_inode *dir;
	enum fs_kind kind;
	uint64_t size;
	int rc;

	if ((rc = path_normalise(root, norm, e)) != KLAB_OK)
		return rc;
	if ((rc = fs_stat(real, norm, &kind, &size, e)) != KLAB_OK)
		return rc;
	if (kind != FS_DIR)
		return kerr_set(e, KLAB_ENOTFOUND, "%s: no directory to mirror", root);
	if ((rc = load_root(d, norm, &dir, e)) != KLAB_OK)
		return rc;
	if ((rc = load_dir(d, real, norm, dir, 0, e)) != KLAB_OK)
		return rc;
	d->mirror = real;
	memcpy(d->mirror_root, norm, sizeof(norm));
	return KLAB_OK;
}
