/*
 * txnlog.c - ZooKeeper's transaction log: the files a ZooKeeper server
 * writes every txn to before it applies or acknowledges it (chapter 4).
 *
 * Where the bytes come from: Apache ZooKeeper 3.8,
 * server/persistence/FileTxnLog.java (append, commit, FileTxnIterator),
 * FilePadding.java (preallocation), Util.java (makeLogName,
 * getZxidFromName, writeTxnBytes, readTxnBytes), PurgeTxnLog.java, and
 * FileHeader in zookeeper.jute.  All integers are big-endian (jute).
 *
 *   <dataDir>/version-2/log.<first zxid, lowercase hex, no padding>
 *
 *   FileHeader   int magic 0x5A4B4C47 "ZKLG" | int version 2 | long dbid 0
 *   entry ...    long checksum | int length | byte[length] txn | byte 'B'
 *   zeros        preallocated, up to the file's size
 *
 * The checksum is Adler-32 (java.util.zip.Adler32, zlib's adler32) of
 * the txn bytes only: not of the length, not of the trailer.
 *
 * Preallocation (FilePadding.calculateFileSizeWithPadding): before each
 * append, when position + 4096 >= the size we know the file to have, the
 * size grows by preAllocSize (rounded up to a multiple of it when the
 * position already passed it), by writing one zero byte at size - 1.
 * The file is then sparse, and the reader takes a length of 0 as the end
 * of the file.  Growing the file in big steps means an fsync rarely has
 * to update the file's size in the inode as well as its data.
 *
 * Invariants:
 *   1. Files are named by the zxid of their first txn, and zxids grow
 *      strictly, within a file and across files in name order.
 *   2. A txn is durable only after a commit that covers it returned OK;
 *      after a failed write or fsync the log takes no more appends.
 *   3. A file is created only after the previous one was fsynced
 *      (txnlog_roll), so after a crash only the last file can be torn.
 *   4. The reader never returns an entry whose Adler-32 did not match,
 *      and never holds more than max_txn_bytes + 1 bytes of a file.
 *
 * Reader's stops (FileTxnIterator.next, Util.readTxnBytes): a length of 0
 * or a file that ends at an entry's boundary moves to the next file; a
 * short read or a trailer other than 'B' is a torn tail ("Last
 * transaction was partial"), reported and also a move to the next file;
 * an Adler-32 mismatch is corruption (ZooKeeper: IOException "CRC check
 * failed"), as is a length beyond jute.maxbuffer ("Unreasonable length").
 *
 * With the default 64 MiB a fresh file is 16 + 67108864 = 67108880 bytes
 * after its first append: the size of every young ZooKeeper log file.
 *
 * Where klab differs from ZooKeeper, on purpose:
 *   - txnlog_roll fsyncs the old file (ZooKeeper leaves it to the next
 *     commit), which gives invariant 3.
 *   - A commit that created a file also fsyncs version-2 (ZooKeeper does
 *     not), so a committed txn's file name survives a power cut too.
 *   - Names: exactly "log.<hex>"; ZooKeeper would also take "log.5.bak"
 *     (it reads the second '.'-part only).
 *   - The reader starts in the newest file whose first zxid <= the one
 *     asked for (getLogFiles); FileTxnIterator.init takes the newest with
 *     a first zxid < it, one file earlier when a file starts exactly there.
 *   - txnlog_recover cuts a torn tail and the preallocated zeros off the
 *     last file; ZooKeeper leaves them and starts a new file after restart.
 *   - The reader does not check that zxids grow (neither does ZooKeeper);
 *     the writer refuses a zxid not above the last one it appended, but
 *     learns nothing from the files already there: after a restart the
 *     caller passes zxids above txnlog_recover's last_zxid.
 */
#include "coord/txnlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/assert.h"
#include "core/buf.h"

#define TXNLOG_PATH_MAX 1024
#define TXNLOG_FILES_MAX 100000 /* bounds the listing of version-2 */

struct txnlog {
	struct fs *fs;
	char dir[TXNLOG_PATH_MAX]; /* <dataDir>/version-2 */
	struct txnlog_config cfg;
	struct fs_file *cur; /* the file appended to, or NULL */
	char cur_name[TXNLOG_NAME_MAX];
	uint64_t pos;	      /* where the next entry goes */
	uint64_t padded_size; /* FilePadding.currentSize */
	bool dir_dirty;	      /* a file was created since the last commit */
	bool failed;	      /* invariant 2 */
	int64_t last_appended;
	int64_t last_committed;
	struct buf entry; /* scratch: one framed entry */
};

/* ---- names and the directory ------------------------------------------- */

void
txnlog_config_default(struct txnlog_config *c)
{
	c->prealloc_bytes = TXNLOG_PREALLOC_DEFAULT;
	c->max_txn_bytes = TXNLOG_MAX_TXN_DEFAULT;
	c->force_sync = true;
}

void
txnlog_file_name(int64_t zxid, char *out, size_t n)
{
	KLAB_ASSERT(zxid >= 0, "a zxid is never negative");
	snprintf(out, n, "%s.%" PRIx64, TXNLOG_PREFIX, (uint64_t)zxid);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
txnlog_parse_name(const char *name, int64_t *zxid)
{
	size_t plen = strlen(TXNLOG_PREFIX), i;
	uint64_t v = 0;

	if (strncmp(name, TXNLOG_PREFIX, plen) != 0 || name[plen] != '.')
		return false;
	name += plen + 1;
	for (i = 0; name[i] != '\0'; i++) {
		int d = hex_digit(name[i]);

		if (d < 0 || i >= 16)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (i == 0 || v > INT64_MAX)
		return false;
	*zxid = (int64_t)v;
	return true;
}

static void
join(char *out, size_t n, const char *dir, const char *name)
{
	int w = snprintf(out, n, "%s/%s", dir, name);

	KLAB_ASSERT(w > 0 && (size_t)w < n, "txnlog path too long");
}

struct listing {
	int64_t *zxids;
	size_t n, cap;
	int rc;
};

static int
listing_add(void *arg, const char *name)
{
	struct listing *ls = arg;
	int64_t z;

	if (!txnlog_parse_name(name, &z))
		return 0;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;
		int64_t *p;

		if (cap > TXNLOG_FILES_MAX || (p = realloc(ls->zxids, cap * sizeof(*p))) == NULL) {
			ls->rc = cap > TXNLOG_FILES_MAX ? KLAB_ETOOLARGE : KLAB_ENOMEM;
			return 1;
		}
		ls->zxids = p;
		ls->cap = cap;
	}
	ls->zxids[ls->n++] = z;
	return 0;
}

static int
cmp_zxid(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The log files in dir, by first zxid ascending; caller frees ls->zxids. */
static int
list_logs(struct fs *fs, const char *dir, struct listing *ls, struct kerr *e)
{
	int rc;

	memset(ls, 0, sizeof(*ls));
	rc = fs_list(fs, dir, listing_add, ls, e);
	if (rc == 1)
		return kerr_set(e, ls->rc, "%s: listing the log files: %s", dir,
				klab_strerror(ls->rc));
	if (rc != KLAB_OK)
		return rc;
	if (ls->n > 1)
		qsort(ls->zxids, ls->n, sizeof(*ls->zxids), cmp_zxid);
	return KLAB_OK;
}

/* Index of the newest file whose first zxid <= zxid, or 0 (getLogFiles). */
static size_t
first_file_for(const struct listing *ls, int64_t zxid)
{
	size_t i, at = 0;

	for (i = 0; i < ls->n && ls->zxids[i] <= zxid; i++)
		at = i;
	return at;
}

static void
version_dir(char *out, size_t n, const char *data_dir)
{
	join(out, n, data_dir, TXNLOG_SUBDIR);
}

/* ---- writing ------------------------------------------------------------- */

int
txnlog_open(struct txnlog **out, struct fs *fs, const char *data_dir, const struct txnlog_config *c,
	    struct kerr *e)
{
	struct txnlog *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (l == NULL)
		return kerr_set(e, KLAB_ENOMEM, "txnlog: out of memory");
	l->fs = fs;
	version_dir(l->dir, sizeof(l->dir), data_dir);
	if (c != NULL)
		l->cfg = *c;
	else
		txnlog_config_default(&l->cfg);
	if (l->cfg.max_txn_bytes == 0)
		l->cfg.max_txn_bytes = TXNLOG_MAX_TXN_DEFAULT;
	buf_init(&l->entry);
	rc = fs_mkdirs(fs, l->dir, e);
	if (rc != KLAB_OK)
		goto fail;
	*out = l;
	return KLAB_OK;
fail:
	txnlog_close(l);
	return rc;
}

static int
fail_log(struct txnlog *l, int rc, struct kerr *e, const char *what)
{
	char why[sizeof(e->msg)];

	l->failed = true;
	snprintf(why, sizeof(why), "%s", kerr_msg(e)); /* e->msg is rewritten below */
	return kerr_set(e, rc, "%s/%s: %s failed (%s); the log takes no more appends", l->dir,
			l->cur_name, what, why);
}

/* Create log.<zxid> and write its FileHeader (FileTxnLog.append). */
static int
start_file(struct txnlog *l, int64_t zxid, struct kerr *e)
{
	uint8_t h[TXNLOG_FILE_HEADER_BYTES];
	char path[TXNLOG_PATH_MAX];
	int rc;

	txnlog_file_name(zxid, l->cur_name, sizeof(l->cur_name));
	join(path, sizeof(path), l->dir, l->cur_name);
	rc = fs_open(l->fs, path, FS_CREATE | FS_EXCL, &l->cur, e);
	if (rc != KLAB_OK)
		return fail_log(l, rc, e, "creating the file");
	be32_write(h, TXNLOG_MAGIC);
	be32_write(h + 4, TXNLOG_VERSION);
	be64_write(h + 8, TXNLOG_DBID);
	rc = fs_pwrite(l->cur, h, sizeof(h), 0, e);
	if (rc != KLAB_OK)
		return fail_log(l, rc, e, "writing the header");
	l->pos = sizeof(h);
	l->padded_size = sizeof(h); /* filePadding.setCurrentSize(position) */
	l->dir_dirty = true;
	return KLAB_OK;
}

/* FilePadding.calculateFileSizeWithPadding. */
static uint64_t
padded_size(uint64_t pos, uint64_t size, uint64_t prealloc)
{
	if (prealloc == 0 || pos + TXNLOG_PAD_SLACK < size)
		return size;
	if (pos > size) {
		size = pos + prealloc;
		return size - size % prealloc;
	}
	return size + prealloc;
}

/* FilePadding.padFile: one zero byte at the new size - 1 (a sparse file). */
static int
pad_file(struct txnlog *l, struct kerr *e)
{
	uint64_t size = padded_size(l->pos, l->padded_size, l->cfg.prealloc_bytes);
	uint8_t zero = 0;
	int rc;

	if (size == l->padded_size)
		return KLAB_OK;
	rc = fs_pwrite(l->cur, &zero, 1, size - 1, e);
	if (rc != KLAB_OK)
		return fail_log(l, rc, e, "preallocating");
	l->padded_size = size;
	return KLAB_OK;
}

static int
check_append(struct txnlog *l, int64_t zxid, const uint8_t *txn, size_t len, struct kerr *e)
{
	if (l->failed)
		return kerr_set(e, KLAB_ESTATE, "%s: the log failed; no appends until reopened",
				l->dir);
	if (len > l->cfg.max_txn_bytes)
		return kerr_set(e, KLAB_ETOOLARGE, "%s: a txn of %zu bytes is above %" PRIu32,
				l->dir, len, l->cfg.max_txn_bytes);
	if (len < TXNLOG_TXN_HEADER_BYTES)
		return kerr_set(e, KLAB_EINVAL, "%s: %zu bytes cannot hold a TxnHeader", l->dir,
				len);
	if ((int64_t)be64_read(txn + TXNLOG_ZXID_OFFSET) != zxid)
		return kerr_set(e, KLAB_EINVAL, "%s: zxid 0x%" PRIx64 " is not the TxnHeader's",
				l->dir, (uint64_t)zxid);
	if (zxid <= l->last_appended)
		return kerr_set(e, KLAB_EINVAL,
				"%s: zxid 0x%" PRIx64 " after 0x%" PRIx64 " (invariant 1)", l->dir,
				(uint64_t)zxid, (uint64_t)l->last_appended);
	return KLAB_OK;
}

int
txnlog_append(struct txnlog *l, int64_t zxid, const void *txn, size_t len, struct kerr *e)
{
	int rc = check_append(l, zxid, txn, len, e);

	if (rc != KLAB_OK)
		return rc;
	if (l->cur == NULL && (rc = start_file(l, zxid, e)) != KLAB_OK)
		return rc;
	if ((rc = pad_file(l, e)) != KLAB_OK)
		return rc;
	buf_reset(&l->entry);
	buf_put_be64(&l->entry, adler32(adler32(0, NULL, 0), txn, (uInt)len));
	buf_put_be32(&l->entry, (uint32_t)len);
	buf_put(&l->entry, txn, len);
	buf_put_u8(&l->entry, TXNLOG_ENTRY_TRAILER);
	if (!buf_ok(&l->entry))
		return kerr_set(e, KLAB_ENOMEM, "%s: out of memory", l->dir);
	rc = fs_pwrite(l->cur, l->entry.data, l->entry.len, l->pos, e);
	if (rc != KLAB_OK)
		return fail_log(l, rc, e, "appending");
	l->pos += l->entry.len;
	l->last_appended = zxid;
	return KLAB_OK;
}

int
txnlog_commit(struct txnlog *l, struct kerr *e)
{
	int rc;

	if (l->failed)
		return kerr_set(e, KLAB_ESTATE, "%s: the log failed; reopen it", l->dir);
	if (l->cfg.force_sync && l->cur != NULL && (rc = fs_fsync(l->cur, e)) != KLAB_OK)
		return fail_log(l, rc, e, "fsync");
	if (l->cfg.force_sync && l->dir_dirty && (rc = fs_fsync_dir(l->fs, l->dir, e)) != KLAB_OK)
		return fail_log(l, rc, e, "fsync of the directory");
	l->dir_dirty = false;
	l->last_committed = l->last_appended;
	return KLAB_OK;
}

int
txnlog_roll(struct txnlog *l, struct kerr *e)
{
	int rc;

	if (l->cur == NULL)
		return l->failed ? kerr_set(e, KLAB_ESTATE, "%s: the log failed", l->dir) : KLAB_OK;
	rc = txnlog_commit(l, e); /* invariant 3 */
	if (rc != KLAB_OK)
		return rc;
	fs_close(l->cur);
	l->cur = NULL;
	l->cur_name[0] = '\0';
	return KLAB_OK;
}

int64_t
txnlog_last_appended(const struct txnlog *l)
{
	return l->last_appended;
}

int64_t
txnlog_last_committed(const struct txnlog *l)
{
	return l->last_committed;
}

bool
txnlog_failed(const struct txnlog *l)
{
	return l->failed;
}

int
txnlog_check_invariants(const struct txnlog *l, struct kerr *e)
{
	if (l->last_committed > l->last_appended)
		return kerr_set(e, KLAB_ESTATE,
				"%s: invariant 2: committed 0x%" PRIx64
				" beyond appended 0x%" PRIx64,
				l->dir, (uint64_t)l->last_committed, (uint64_t)l->last_appended);
	if ((l->cur == NULL) != (l->cur_name[0] == '\0'))
		return kerr_set(e, KLAB_ESTATE, "%s: a current file without a name", l->dir);
	if (l->cur != NULL && l->pos < TXNLOG_FILE_HEADER_BYTES)
		return kerr_set(e, KLAB_ESTATE, "%s/%s: position %" PRIu64 " inside the header",
				l->dir, l->cur_name, l->pos);
	if (l->cur != NULL && l->cfg.prealloc_bytes > 0 && l->pos > l->padded_size &&
	    l->pos - l->padded_size > (uint64_t)l->cfg.max_txn_bytes + TXNLOG_ENTRY_OVERHEAD)
		return kerr_set(e, KLAB_ESTATE,
				"%s/%s: position %" PRIu64
				" more than one entry past the preallocated %" PRIu64,
				l->dir, l->cur_name, l->pos, l->padded_size);
	return KLAB_OK;
}

void
txnlog_close(struct txnlog *l)
{
	if (l == NULL)
		return;
	fs_close(l->cur);
	buf_free(&l->entry);
	free(l);
}

/* ---- reading ------------------------------------------------------------- */

struct txnlog_iter {
	struct fs *fs;
	char dir[TXNLOG_PATH_MAX];
	struct listing files;
	size_t next_file;  /* index in files.zxids of the next file to open */
	struct fs_file *f; /* the file being read, or NULL */
	char name[TXNLOG_NAME_MAX];
	uint64_t pos, size;
	int64_t from; /* skip txns below it */
	uint32_t max_txn_bytes;
	struct txnlog_end end; /* of the last file left */
	struct buf data;       /* one entry's txn and trailer */
};

int
txnlog_iter_open(struct txnlog_iter **out, struct fs *fs, const char *data_dir, int64_t zxid,
		 uint32_t max_txn_bytes, struct kerr *e)
{
	struct txnlog_iter *it = calloc(1, sizeof(*it));
	int rc;

	*out = NULL;
	if (it == NULL)
		return kerr_set(e, KLAB_ENOMEM, "txnlog: out of memory");
	it->fs = fs;
	version_dir(it->dir, sizeof(it->dir), data_dir);
	it->from = zxid;
	it->max_txn_bytes = max_txn_bytes ? max_txn_bytes : TXNLOG_MAX_TXN_DEFAULT;
	buf_init(&it->data);
	rc = list_logs(fs, it->dir, &it->files, e);
	if (rc != KLAB_OK)
		goto fail;
	it->next_file = first_file_for(&it->files, zxid);
	*out = it;
	return KLAB_OK;
fail:
	txnlog_iter_close(it);
	return rc;
}

/* Leave the current file, recording how it ended. */
static void
leave_file(struct txnlog_iter *it, enum txnlog_end_reason why)
{
	it->end.reason = why;
	memcpy(it->end.name, it->name, sizeof(it->name));
	it->end.good_bytes = it->pos;
	it->end.file_bytes = it->size;
	fs_close(it->f);
	it->f = NULL;
}

/* Open the next file and check its FileHeader; KLAB_ENOTFOUND at the end. */
static int
enter_file(struct txnlog_iter *it, struct kerr *e)
{
	uint8_t h[TXNLOG_FILE_HEADER_BYTES];
	char path[TXNLOG_PATH_MAX];
	int64_t n;
	int rc;

	if (it->next_file >= it->files.n)
		return KLAB_ENOTFOUND;
	txnlog_file_name(it->files.zxids[it->next_file++], it->name, sizeof(it->name));
	join(path, sizeof(path), it->dir, it->name);
	if ((rc = fs_open(it->fs, path, FS_READONLY, &it->f, e)) != KLAB_OK)
		return rc;
	if ((n = fs_size(it->f, e)) < 0)
		return (int)n;
	it->size = (uint64_t)n;
	it->pos = 0;
	if ((n = fs_pread(it->f, h, sizeof(h), 0, e)) < 0)
		return (int)n;
	if (n < (int64_t)sizeof(h)) {
		leave_file(it, TXNLOG_END_TORN); /* created, header not yet written */
		return KLAB_OK;
	}
	if (be32_read(h) != TXNLOG_MAGIC)
		return kerr_set(e, KLAB_ECORRUPT,
				"%s/%s: offset 0: magic 0x%08" PRIx32 " is not ZKLG's 0x%08x",
				it->dir, it->name, be32_read(h), TXNLOG_MAGIC);
	it->pos = sizeof(h);
	return KLAB_OK;
}

/* Read n bytes at off; *got gets how many there were (fewer at the end). */
static int
read_at(struct txnlog_iter *it, void *dst, size_t n, uint64_t off, size_t *got, struct kerr *e)
{
	int64_t r = fs_pread(it->f, dst, n, off, e);

	if (r < 0)
		return (int)r;
	*got = (size_t)r;
	return KLAB_OK;
}

/*
 * One entry of the current file: KLAB_OK with *t set, or KLAB_OK with the
 * file left (it->f == NULL), or an error.
 */
static int
read_entry(struct txnlog_iter *it, struct txnlog_txn *t, struct kerr *e)
{
	uint8_t h[TXNLOG_ENTRY_HEAD_BYTES];
	uint64_t at = it->pos;
	size_t got;
	uint32_t len;
	int rc;

	if ((rc = read_at(it, h, sizeof(h), at, &got, e)) != KLAB_OK)
		return rc;
	if (got == 0) {
		leave_file(it, TXNLOG_END_EOF);
		return KLAB_OK;
	}
	len = be32_read(h + 8);
	if (got < sizeof(h) || len == 0) {
		leave_file(it, got < sizeof(h) ? TXNLOG_END_TORN : TXNLOG_END_PADDING);
		return KLAB_OK;
	}
	if (len > it->max_txn_bytes || len < TXNLOG_TXN_HEADER_BYTES)
		return kerr_set(e, KLAB_ECORRUPT,
				"%s/%s: offset %" PRIu64 ": length %" PRIu32
				" outside [%d, %" PRIu32 "] (jute.maxbuffer)",
				it->dir, it->name, at, len, TXNLOG_TXN_HEADER_BYTES,
				it->max_txn_bytes);
	buf_reset(&it->data);
	if (!buf_reserve(&it->data, (size_t)len + 1))
		return kerr_set(e, KLAB_ENOMEM, "%s/%s: out of memory", it->dir, it->name);
	if ((rc = read_at(it, it->data.data, (size_t)len + 1, at + sizeof(h), &got, e)) != KLAB_OK)
		return rc;
	if (got < (size_t)len + 1 || it->data.data[len] != TXNLOG_ENTRY_TRAILER) {
		leave_file(it, TXNLOG_END_TORN); /* "Last transaction was partial." */
		return KLAB_OK;
	}
	if (adler32(adler32(0, NULL, 0), it->data.data, len) != be64_read(h))
		return kerr_set(e, KLAB_ECORRUPT,
				"%s/%s: offset %" PRIu64 ": Adler-32 mismatch (CRC check failed)",
				it->dir, it->name, at);
	it->pos = at + sizeof(h) + len + 1;
	t->zxid = (int64_t)be64_read(it->data.data + TXNLOG_ZXID_OFFSET);
	t->bytes = it->data.data;
	t->len = len;
	return KLAB_OK;
}

int
txnlog_iter_next(struct txnlog_iter *it, struct txnlog_txn *t, struct kerr *e)
{
	int rc;

	for (;;) {
		if (it->f == NULL && (rc = enter_file(it, e)) != KLAB_OK)
			return rc;
		if (it->f == NULL)
			continue; /* a header-less file */
		if ((rc = read_entry(it, t, e)) != KLAB_OK)
			return rc;
		if (it->f != NULL && t->zxid >= it->from)
			return KLAB_OK;
	}
}

void
txnlog_iter_end(const struct txnlog_iter *it, struct txnlog_end *out)
{
	*out = it->end;
}

void
txnlog_iter_close(struct txnlog_iter *it)
{
	if (it == NULL)
		return;
	fs_close(it->f);
	free(it->files.zxids);
	buf_free(&it->data);
	free(it);
}

/* ---- maintenance --------------------------------------------------------- */

/* Cut (or delete) the last file the iterator left, as its end says. */
static int
cut_last(struct fs *fs, const char *dir, const struct txnlog_end *end, struct kerr *e)
{
	char path[TXNLOG_PATH_MAX];
	struct fs_file *f = NULL;
	int rc;

	join(path, sizeof(path), dir, end->name);
	if (end->good_bytes < TXNLOG_FILE_HEADER_BYTES) {
		if ((rc = fs_unlink(fs, path, e)) != KLAB_OK)
			return rc;
		return fs_fsync_dir(fs, dir, e);
	}
	if (end->file_bytes == end->good_bytes)
		return KLAB_OK;
	if ((rc = fs_open(fs, path, 0, &f, e)) != KLAB_OK)
		return rc;
	rc = fs_truncate(f, end->good_bytes, e);
	if (rc == KLAB_OK)
		rc = fs_fsync(f, e);
	fs_close(f);
	return rc;
}

int
txnlog_recover(struct fs *fs, const char *data_dir, uint32_t max_txn_bytes, int64_t *last_zxid,
	       struct kerr *e)
{
	struct txnlog_iter *it;
	struct txnlog_txn t;
	struct txnlog_end end;
	int64_t last = 0;
	int rc;

	if ((rc = txnlog_iter_open(&it, fs, data_dir, 0, max_txn_bytes, e)) != KLAB_OK)
		return rc;
	while ((rc = txnlog_iter_next(it, &t, e)) == KLAB_OK)
		last = t.zxid;
	txnlog_iter_end(it, &end);
	if (rc == KLAB_ENOTFOUND && end.reason != TXNLOG_END_NONE)
		rc = cut_last(fs, it->dir, &end, e);
	else if (rc == KLAB_ENOTFOUND)
		rc = KLAB_OK;
	txnlog_iter_close(it);
	if (rc == KLAB_OK && last_zxid != NULL)
		*last_zxid = last;
	return rc;
}

int
txnlog_purge(struct fs *fs, const char *data_dir, int64_t snap_zxid, int *removed, struct kerr *e)
{
	char dir[TXNLOG_PATH_MAX], path[TXNLOG_PATH_MAX], name[TXNLOG_NAME_MAX];
	struct listing ls;
	size_t keep, i;
	int rc;

	if (removed != NULL)
		*removed = 0;
	version_dir(dir, sizeof(dir), data_dir);
	if ((rc = list_logs(fs, dir, &ls, e)) != KLAB_OK)
		return rc;
	keep = first_file_for(&ls, snap_zxid);
	for (i = 0; i < keep && rc == KLAB_OK; i++) {
		txnlog_file_name(ls.zxids[i], name, sizeof(name));
		join(path, sizeof(path), dir, name);
		rc = fs_unlink(fs, path, e);
		if (rc == KLAB_OK && removed != NULL)
			(*removed)++;
	}
	if (rc == KLAB_OK && keep > 0)
		rc = fs_fsync_dir(fs, dir, e);
	free(ls.zxids);
	return rc;
}
