/*
 * test_txnlog.c - ZooKeeper's transaction log files (coord/txnlog.h):
 * the bytes (FileHeader, entries, Adler-32), preallocation at the 4096
 * boundary, reading across files from a zxid, torn tails, bit rot, a
 * failed fsync and a crash sweep on the simulated disk (net/disk_sim.h).
 *
 * Txns are opaque to the log; the tests make 32-byte-or-longer payloads
 * that start like a TxnHeader {long clientId; int cxid; long zxid; long
 * time; int type}, with the zxid at byte 12 and a recognisable body.
 * Sweeps print the seed that broke them; KLAB_SEED replays one.
 */
#include "testutil.h"

#include <zlib.h>

#include "coord/txnlog.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

#define ZK "/zk"
#define VDIR ZK "/version-2"
#define SWEEP_SEEDS 300

/* ---- helpers ------------------------------------------------------------- */

/* A txn of len bytes (>= 32) for zxid: a TxnHeader, then bytes from zxid. */
static void
make_txn(struct buf *b, int64_t zxid, size_t len)
{
	size_t i;

	buf_reset(b);
	buf_put_be64(b, 0x1234);	  /* clientId */
	buf_put_be32(b, 7);		  /* cxid */
	buf_put_be64(b, (uint64_t)zxid);  /* zxid */
	buf_put_be64(b, 1700000000000ll); /* time */
	buf_put_be32(b, 1);		  /* type: create */
	for (i = TXNLOG_TXN_HEADER_BYTES; i < len; i++)
		buf_put_u8(b, (uint8_t)(zxid * 31 + (int64_t)i));
	assert_true(buf_ok(b));
}

static size_t
txn_len(int64_t zxid)
{
	return TXNLOG_TXN_HEADER_BYTES + (size_t)(zxid % 7) * 5;
}

static struct txnlog_config
small_config(uint64_t prealloc)
{
	struct txnlog_config c;

	txnlog_config_default(&c);
	c.prealloc_bytes = prealloc;
	return c;
}

static void
append(struct txnlog *l, int64_t zxid)
{
	struct buf b;
	struct kerr e = { 0 };

	buf_init(&b);
	make_txn(&b, zxid, txn_len(zxid));
	if (txnlog_append(l, zxid, b.data, b.len, &e) != KLAB_OK)
		fail_msg("append %" PRId64 ": %s", zxid, kerr_msg(&e));
	buf_free(&b);
}

static void
commit(struct txnlog *l)
{
	struct kerr e = { 0 };

	if (txnlog_commit(l, &e) != KLAB_OK)
		fail_msg("commit: %s", kerr_msg(&e));
}

static struct txnlog *
open_log(struct fs *fs, const char *dir, uint64_t prealloc)
{
	struct txnlog_config c = small_config(prealloc);
	struct txnlog *l;
	struct kerr e = { 0 };

	if (txnlog_open(&l, fs, dir, &c, &e) != KLAB_OK)
		fail_msg("open: %s", kerr_msg(&e));
	return l;
}

/*
 * Read from zxid on into got[] (the zxids), checking each txn's bytes;
 * returns the iterator's final code (KLAB_ENOTFOUND at a clean end).
 */
static int
read_from(struct fs *fs, const char *dir, int64_t zxid, int64_t *got, int max, int *n,
	  struct txnlog_end *end, struct kerr *e)
{
	struct txnlog_iter *it;
	struct txnlog_txn t;
	struct buf want;
	int rc;

	buf_init(&want);
	*n = 0;
	if ((rc = txnlog_iter_open(&it, fs, dir, zxid, 0, e)) != KLAB_OK)
		return rc;
	while ((rc = txnlog_iter_next(it, &t, e)) == KLAB_OK) {
		make_txn(&want, t.zxid, txn_len(t.zxid));
		assert_int_equal(t.len, want.len);
		assert_memory_equal(t.bytes, want.data, want.len);
		assert_true(*n < max);
		got[(*n)++] = t.zxid;
	}
	if (end != NULL)
		txnlog_iter_end(it, end);
	txnlog_iter_close(it);
	buf_free(&want);
	return rc;
}

/* got[0..n) must be lo, lo+1, ..., hi. */
static void
expect_range(const int64_t *got, int n, int64_t lo, int64_t hi)
{
	int i;

	if (n != (int)(hi - lo + 1))
		fail_msg("read %d txns, want %" PRId64 "..%" PRId64, n, lo, hi);
	for (i = 0; i < n; i++)
		assert_int_equal(got[i], lo + i);
}

static void
expect_read(struct fs *fs, const char *dir, int64_t from, int64_t lo, int64_t hi)
{
	int64_t got[512];
	int n;
	struct kerr e = { 0 };
	int rc = read_from(fs, dir, from, got, 512, &n, NULL, &e);

	if (rc != KLAB_ENOTFOUND)
		fail_msg("read from %" PRId64 ": %s", from, kerr_msg(&e));
	expect_range(got, n, lo, hi);
}

static uint64_t
file_size(struct fs *fs, const char *path)
{
	enum fs_kind k;
	uint64_t size = 0;

	assert_int_equal(fs_stat(fs, path, &k, &size, NULL), KLAB_OK);
	assert_int_equal(k, FS_FILE);
	return size;
}

/* ---- names --------------------------------------------------------------- */

static void
test_ch4_txnlog_names_are_makeLogName_hex(void **state)
{
	char name[TXNLOG_NAME_MAX];
	int64_t z = 0;

	(void)state;
	txnlog_file_name(0x100000001ll, name, sizeof(name));
	assert_string_equal(name, "log.100000001");
	txnlog_file_name(0xabcdefll, name, sizeof(name));
	assert_string_equal(name, "log.abcdef");
	txnlog_file_name(INT64_MAX, name, sizeof(name));
	assert_string_equal(name, "log.7fffffffffffffff");
	assert_true(txnlog_parse_name("log.1a", &z) && z == 0x1a);
	assert_true(txnlog_parse_name("log.1A", &z) && z == 0x1a); /* Long.parseLong(.., 16) */
	assert_true(txnlog_parse_name("log.7fffffffffffffff", &z) && z == INT64_MAX);
	assert_false(txnlog_parse_name("log.", &z));
	assert_false(txnlog_parse_name("log.8000000000000000", &z));
	assert_false(txnlog_parse_name("log.10000000000000000", &z));
	assert_false(txnlog_parse_name("log.xyz", &z));
	assert_false(txnlog_parse_name("log.1.bak", &z));
	assert_false(txnlog_parse_name("log1", &z));
	assert_false(txnlog_parse_name("snapshot.1", &z));
}

/* ---- golden bytes -------------------------------------------------------- */

/*
 * One txn of 32 bytes: clientId 0, cxid 0, zxid 1, time 0, type 1.
 * Adler-32 by hand: a = 1 + (sum of bytes) = 1 + 1 + 1 = 3; b adds a after
 * every byte: 19 bytes at a = 1 (19), the zxid's last byte makes a = 2
 * (21), 11 bytes at 2 (43), the type's last byte makes a = 3 (46).
 * b << 16 | a = 0x002e0003.
 */
static const uint8_t golden_txn[32] = {
	0, 0, 0, 0, 0, 0, 0, 0, /* clientId */
	0, 0, 0, 0,		/* cxid */
	0, 0, 0, 0, 0, 0, 0, 1, /* zxid */
	0, 0, 0, 0, 0, 0, 0, 0, /* time */
	0, 0, 0, 1,		/* type */
};

static const uint8_t golden_head[16] = {
	0x5a, 0x4b, 0x4c, 0x47,		    /* "ZKLG" */
	0,    0,    0,	  2,		    /* version */
	0,    0,    0,	  0,	0, 0, 0, 0, /* dbid */
};

static const uint8_t golden_entry_head[12] = {
	0, 0, 0, 0,  0x00, 0x2e, 0x00, 0x03, /* long Adler-32 */
	0, 0, 0, 32,			     /* int length */
};

static void
test_ch4_txnlog_golden_header_and_entry(void **state)
{
	struct disk_sim *d = disk_sim_new(1);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog *l = open_log(fs, ZK, 0);
	struct buf file;
	struct kerr e = { 0 };

	(void)state;
	assert_int_equal(adler32(adler32(0, NULL, 0), golden_txn, sizeof(golden_txn)), 0x002e0003);
	assert_int_equal(txnlog_append(l, 1, golden_txn, sizeof(golden_txn), &e), KLAB_OK);
	commit(l);
	txnlog_close(l);
	buf_init(&file);
	assert_int_equal(fs_read_file(fs, VDIR "/log.1", 1 << 20, &file, &e), KLAB_OK);
	assert_int_equal(file.len, 16 + 12 + 32 + 1);
	assert_memory_equal(file.data, golden_head, 16);
	assert_memory_equal(file.data + 16, golden_entry_head, 12);
	assert_memory_equal(file.data + 28, golden_txn, 32);
	assert_int_equal(file.data[60], 'B');
	buf_free(&file);
	disk_sim_free(d);
}

/* ---- round trip on both disks ------------------------------------------- */

static void
round_trip(struct fs *fs, const char *dir)
{
	struct txnlog *l = open_log(fs, dir, 8192);
	int64_t z;

	for (z = 1; z <= 20; z++) {
		append(l, z);
		if (z % 5 == 0)
			commit(l); /* group commit: one fsync per five */
	}
	assert_int_equal(txnlog_last_committed(l), 20);
	txnlog_close(l);
	expect_read(fs, dir, 0, 1, 20);
	expect_read(fs, dir, 13, 13, 20);
	expect_read(fs, dir, 21, 1, 0);
}

static void
test_ch4_txnlog_round_trip_simulated_disk(void **state)
{
	struct disk_sim *d = disk_sim_new(2);

	(void)state;
	round_trip(disk_sim_fs(d), ZK);
	disk_sim_free(d);
}

static void
test_ch4_txnlog_round_trip_real_disk(void **state)
{
	char base[64], dir[128];

	(void)state;
	tu_tmpdir_make(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/data", base);
	round_trip(disk_real(), dir);
	tu_tmpdir_remove(base);
}

/* ---- preallocation --------------------------------------------------------- */

/*
 * prealloc 8192, entries of 100 bytes (87-byte txns): the file is 16 +
 * 8192 after the first append; after k entries the position is
 * 16 + 100k, and the append at k = 41 (4116 + 4096 >= 8208) is the first
 * to grow it, to 16400.  The zeros after the last entry end the reader.
 */
static void
test_ch4_txnlog_preallocation_grows_at_the_4096_boundary(void **state)
{
	struct disk_sim *d = disk_sim_new(3);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog *l = open_log(fs, ZK, 8192);
	struct buf b;
	struct txnlog_end end;
	struct txnlog_iter *it;
	struct txnlog_txn t;
	int64_t got[64], z;
	int n;
	struct kerr e = { 0 };

	(void)state;
	buf_init(&b);
	for (z = 1; z <= 42; z++) {
		make_txn(&b, z, 87);
		assert_int_equal(txnlog_append(l, z, b.data, b.len, &e), KLAB_OK);
		if (z == 1 || z == 41)
			assert_int_equal(file_size(fs, VDIR "/log.1"), 8208);
		if (z == 42)
			assert_int_equal(file_size(fs, VDIR "/log.1"), 16400);
	}
	commit(l);
	txnlog_close(l);
	n = 0;
	assert_int_equal(txnlog_iter_open(&it, fs, ZK, 0, 0, &e), KLAB_OK);
	while (txnlog_iter_next(it, &t, &e) == KLAB_OK)
		got[n++] = t.zxid;
	txnlog_iter_end(it, &end);
	txnlog_iter_close(it);
	expect_range(got, n, 1, 42);
	assert_int_equal(end.reason, TXNLOG_END_PADDING);
	assert_int_equal(end.good_bytes, 16 + 42 * 100);
	assert_int_equal(end.file_bytes, 16400);
	buf_free(&b);
	disk_sim_free(d);
}

/*
 * An entry that ran past the preallocated size: the next size is
 * position + preAllocSize rounded down to a multiple of preAllocSize
 * (FilePadding.calculateFileSizeWithPadding).
 */
static void
test_ch4_txnlog_preallocation_rounds_up_past_a_big_entry(void **state)
{
	struct disk_sim *d = disk_sim_new(4);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog *l = open_log(fs, ZK, 1024);
	struct buf b;
	struct kerr e = { 0 };

	(void)state;
	buf_init(&b);
	make_txn(&b, 1, 1071); /* an entry of 1084 bytes: it ends at 1100 */
	assert_int_equal(txnlog_append(l, 1, b.data, b.len, &e), KLAB_OK);
	assert_int_equal(file_size(fs, VDIR "/log.1"), 1100); /* padded to 1040 first */
	make_txn(&b, 2, 40);
	assert_int_equal(txnlog_append(l, 2, b.data, b.len, &e), KLAB_OK);
	/* position 1100 > size 1040: 1100 + 1024, less (2124 % 1024) = 2048 */
	assert_int_equal(file_size(fs, VDIR "/log.1"), 2048);
	txnlog_close(l);
	buf_free(&b);
	disk_sim_free(d);
}

/* ---- several files -------------------------------------------------------- */

/* log.1 holds 1..10, log.b 11..20, log.15 21..30. */
static void
three_files(struct fs *fs)
{
	struct txnlog *l = open_log(fs, ZK, 4096);
	struct kerr e = { 0 };
	int64_t z;

	for (z = 1; z <= 30; z++) {
		append(l, z);
		if (z % 10 == 0)
			assert_int_equal(txnlog_roll(l, &e), KLAB_OK);
	}
	commit(l);
	txnlog_close(l);
	assert_true(fs_exists(fs, VDIR "/log.1"));
	assert_true(fs_exists(fs, VDIR "/log.b"));
	assert_true(fs_exists(fs, VDIR "/log.15"));
}

static void
test_ch4_txnlog_reads_from_a_middle_zxid_across_files(void **state)
{
	struct disk_sim *d = disk_sim_new(5);
	struct fs *fs = disk_sim_fs(d);

	(void)state;
	three_files(fs);
	expect_read(fs, ZK, 0, 1, 30);
	expect_read(fs, ZK, 5, 5, 30);
	expect_read(fs, ZK, 11, 11, 30);
	expect_read(fs, ZK, 15, 15, 30);
	expect_read(fs, ZK, 21, 21, 30);
	expect_read(fs, ZK, 30, 30, 30);
	expect_read(fs, ZK, 31, 1, 0);
	disk_sim_free(d);
}

static void
test_ch4_txnlog_purge_keeps_the_log_holding_the_snapshot(void **state)
{
	struct disk_sim *d = disk_sim_new(6);
	struct fs *fs = disk_sim_fs(d);
	struct kerr e = { 0 };
	int removed = -1;

	(void)state;
	three_files(fs);
	assert_int_equal(txnlog_purge(fs, ZK, 0, &removed, &e), KLAB_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(txnlog_purge(fs, ZK, 0x10, &removed, &e), KLAB_OK);
	assert_int_equal(removed, 1); /* log.b holds 0x11.. after snapshot.10 */
	assert_false(fs_exists(fs, VDIR "/log.1"));
	assert_true(fs_exists(fs, VDIR "/log.b"));
	expect_read(fs, ZK, 0x10, 0x10, 30);
	assert_int_equal(txnlog_purge(fs, ZK, 0x15, &removed, &e), KLAB_OK);
	assert_int_equal(removed, 1);
	assert_false(fs_exists(fs, VDIR "/log.b"));
	assert_true(fs_exists(fs, VDIR "/log.15"));
	disk_sim_free(d);
}

/* ---- refusals ------------------------------------------------------------- */

static void
test_ch4_txnlog_append_refuses_bad_txns(void **state)
{
	struct disk_sim *d = disk_sim_new(7);
	struct txnlog *l = open_log(disk_sim_fs(d), ZK, 0);
	struct buf b;
	struct kerr e = { 0 };

	(void)state;
	buf_init(&b);
	make_txn(&b, 5, 40);
	assert_int_equal(txnlog_append(l, 6, b.data, b.len, &e), KLAB_EINVAL); /* not its zxid */
	assert_int_equal(txnlog_append(l, 5, b.data, 31, &e), KLAB_EINVAL);    /* no TxnHeader */
	assert_int_equal(txnlog_append(l, 5, b.data, b.len, &e), KLAB_OK);
	assert_int_equal(txnlog_append(l, 5, b.data, b.len, &e), KLAB_EINVAL); /* not after 5 */
	make_txn(&b, 9, TXNLOG_MAX_TXN_DEFAULT + 1);
	assert_int_equal(txnlog_append(l, 9, b.data, b.len, &e), KLAB_ETOOLARGE);
	assert_false(txnlog_failed(l));
	txnlog_close(l);
	buf_free(&b);
	disk_sim_free(d);
}

/* ---- damage ----------------------------------------------------------------- */

static void
test_ch4_txnlog_flipped_bit_is_a_crc_error_naming_the_file(void **state)
{
	struct disk_sim *d = disk_sim_new(8);
	struct fs *fs = disk_sim_fs(d);
	int64_t got[64];
	int n;
	struct kerr e = { 0 }, ec = { 0 };
	uint64_t second = 16 + 13 + txn_len(0xb); /* the entry of zxid 0xc in log.b */

	(void)state;
	three_files(fs);
	/* a byte of zxid 0xc's TxnHeader (its zxid): the Adler-32 no longer matches */
	assert_int_equal(disk_sim_corrupt(d, VDIR "/log.b", second + 12 + 19, &e), KLAB_OK);
	assert_int_equal(read_from(fs, ZK, 0, got, 64, &n, NULL, &ec), KLAB_ECORRUPT);
	expect_range(got, n, 1, 0xb);
	assert_non_null(strstr(kerr_msg(&ec), "version-2/log.b: offset 81:"));
	assert_non_null(strstr(kerr_msg(&ec), "Adler-32"));
	disk_sim_free(d);
}

static void
test_ch4_txnlog_bad_magic_is_corrupt(void **state)
{
	struct disk_sim *d = disk_sim_new(9);
	struct fs *fs = disk_sim_fs(d);
	int64_t got[64];
	int n;
	struct kerr e = { 0 };

	(void)state;
	three_files(fs);
	assert_int_equal(disk_sim_corrupt(d, VDIR "/log.1", 1, &e), KLAB_OK);
	assert_int_equal(read_from(fs, ZK, 0, got, 64, &n, NULL, &e), KLAB_ECORRUPT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(kerr_msg(&e), "log.1: offset 0: magic"));
	disk_sim_free(d);
}

static void
test_ch4_txnlog_failed_fsync_fails_the_log(void **state)
{
	struct disk_sim *d = disk_sim_new(10);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog *l = open_log(fs, ZK, 4096);
	struct buf b;
	struct kerr e = { 0 };

	(void)state;
	buf_init(&b);
	append(l, 1);
	commit(l);
	append(l, 2);
	assert_int_equal(disk_sim_fail_fsync(d, VDIR "/log.1", 1), KLAB_OK);
	assert_int_equal(txnlog_commit(l, &e), KLAB_EIO);
	assert_non_null(strstr(kerr_msg(&e), "log.1: fsync failed"));
	assert_true(txnlog_failed(l));
	assert_int_equal(txnlog_last_committed(l), 1);
	make_txn(&b, 3, 40);
	assert_int_equal(txnlog_append(l, 3, b.data, b.len, &e), KLAB_ESTATE);
	assert_int_equal(txnlog_commit(l, &e), KLAB_ESTATE); /* a retry proves nothing */
	assert_int_equal(txnlog_roll(l, &e), KLAB_ESTATE);
	txnlog_close(l);
	buf_free(&b);
	disk_sim_free(d);
}

static void
test_ch4_txnlog_force_sync_off_skips_fsync(void **state)
{
	struct disk_sim *d = disk_sim_new(11);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog_config c = small_config(4096);
	struct txnlog *l;
	uint64_t before;
	struct kerr e = { 0 };

	(void)state;
	c.force_sync = false;
	assert_int_equal(txnlog_open(&l, fs, ZK, &c, &e), KLAB_OK);
	before = disk_sim_stats(d)->fsyncs + disk_sim_stats(d)->dir_fsyncs;
	append(l, 1);
	commit(l);
	assert_int_equal(disk_sim_stats(d)->fsyncs + disk_sim_stats(d)->dir_fsyncs, before);
	assert_true(disk_sim_is_dirty(d, VDIR "/log.1")); /* "committed", not durable */
	txnlog_close(l);
	disk_sim_free(d);
}

/* ---- torn tails -------------------------------------------------------------- */

/*
 * Five whole entries and a cut of the sixth at every byte, durably on
 * disk (with or without preallocated zeros after it), as a crash in the
 * middle of the sixth append would leave them.  The reader returns 1..5
 * (1..6 when the cut is the whole entry), never a damaged sixth; recovery
 * cuts the file after the last whole entry and a new log goes on after it.
 */
static void
torn_at(size_t cut, uint64_t zeros)
{
	struct disk_sim *d = disk_sim_new(cut);
	struct fs *fs = disk_sim_fs(d);
	struct txnlog *l = open_log(fs, ZK, 0);
	struct buf file;
	struct fs_file *f;
	int64_t got[64], last = -1;
	size_t whole;
	int n, rc;
	struct kerr e = { 0 };

	buf_init(&file);
	for (int64_t z = 1; z <= 6; z++)
		append(l, z);
	commit(l);
	txnlog_close(l);
	assert_int_equal(fs_read_file(fs, VDIR "/log.1", 1 << 20, &file, &e), KLAB_OK);
	whole = file.len - (13 + txn_len(6));
	assert_true(cut <= file.len - whole);
	assert_int_equal(fs_open(fs, VDIR "/log.1", 0, &f, &e), KLAB_OK);
	assert_int_equal(fs_truncate(f, whole + cut, &e), KLAB_OK);
	if (zeros > 0)
		assert_int_equal(fs_truncate(f, whole + cut + zeros, &e), KLAB_OK);
	assert_int_equal(fs_fsync(f, &e), KLAB_OK);
	fs_close(f);

	rc = read_from(fs, ZK, 0, got, 64, &n, NULL, &e);
	if (rc != KLAB_ENOTFOUND)
		fail_msg("cut %zu zeros %" PRIu64 ": %s", cut, zeros, kerr_msg(&e));
	expect_range(got, n, 1, cut == file.len - whole ? 6 : 5);
	assert_int_equal(txnlog_recover(fs, ZK, 0, &last, &e), KLAB_OK);
	assert_int_equal(last, n);
	assert_int_equal(file_size(fs, VDIR "/log.1"), cut == file.len - whole ? file.len : whole);
	l = open_log(fs, ZK, 0);
	append(l, 7);
	commit(l);
	txnlog_close(l);
	rc = read_from(fs, ZK, 0, got, 64, &n, NULL, &e);
	assert_int_equal(rc, KLAB_ENOTFOUND);
	assert_int_equal(got[n - 1], 7);
	assert_int_equal(n, (int)last + 1);
	buf_free(&file);
	disk_sim_free(d);
}

static void
test_ch4_txnlog_torn_tail_at_every_byte_of_the_last_entry(void **state)
{
	size_t cut, len = 13 + txn_len(6);

	(void)state;
	for (cut = 0; cut <= len; cut++) {
		torn_at(cut, 0);
		torn_at(cut, 4096);
	}
}

static void
test_ch4_txnlog_recover_deletes_a_header_less_last_file(void **state)
{
	struct disk_sim *d = disk_sim_new(12);
	struct fs *fs = disk_sim_fs(d);
	struct fs_file *f;
	int64_t last = -1;
	struct kerr e = { 0 };

	(void)state;
	three_files(fs);
	assert_int_equal(fs_open(fs, VDIR "/log.1f", FS_CREATE, &f, &e), KLAB_OK);
	assert_int_equal(fs_pwrite(f, "ZK", 2, 0, &e), KLAB_OK);
	fs_close(f);
	expect_read(fs, ZK, 0, 1, 30);
	assert_int_equal(txnlog_recover(fs, ZK, 0, &last, &e), KLAB_OK);
	assert_int_equal(last, 30);
	assert_false(fs_exists(fs, VDIR "/log.1f"));
	disk_sim_free(d);
}

/* The same stops on the real disk: a cut tail, then a flipped bit. */
static void
test_ch4_txnlog_real_disk_torn_tail_and_flipped_bit(void **state)
{
	char base[64], dir[128], path[192];
	struct fs *fs = disk_real();
	struct txnlog *l;
	int64_t got[64], last = -1;
	int n;
	long long size;
	struct kerr e = { 0 };

	(void)state;
	tu_tmpdir_make(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/data", base);
	snprintf(path, sizeof(path), "%s/version-2/log.1", dir);
	l = open_log(fs, dir, 0);
	for (int64_t z = 1; z <= 6; z++)
		append(l, z);
	commit(l);
	txnlog_close(l);
	size = tu_file_size(path);
	tu_file_truncate(path, size - 3); /* zxid 6 loses its last bytes */
	assert_int_equal(read_from(fs, dir, 0, got, 64, &n, NULL, &e), KLAB_ENOTFOUND);
	expect_range(got, n, 1, 5);
	assert_int_equal(txnlog_recover(fs, dir, 0, &last, &e), KLAB_OK);
	assert_int_equal(last, 5);
	assert_int_equal(tu_file_size(path), size - (13 + (long long)txn_len(6)));
	tu_file_flip(path, 16 + 13 + 20, 0x01); /* zxid 1's time field */
	assert_int_equal(read_from(fs, dir, 0, got, 64, &n, NULL, &e), KLAB_ECORRUPT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(kerr_msg(&e), "version-2/log.1: offset 16:"));
	tu_tmpdir_remove(base);
}

/* ---- the crash sweep -------------------------------------------------------- */

/*
 * Random appends, group commits and rolls, a power cut at a random point
 * (the disk keeps what fsync made durable and a seeded torn prefix of the
 * rest), recovery, and a read: the txns read are 1..k with k at least
 * the last committed zxid, and no corrupt entry.  Then the log goes on.
 */
struct sweep {
	int lost_uncommitted; /* runs where the crash took txns never committed */
	int kept_uncommitted; /* runs where some survived anyway */
};

static void
crash_once(uint64_t seed, struct sweep *sw)
{
	struct disk_sim *d = disk_sim_new(seed);
	struct fs *fs = disk_sim_fs(d);
	struct tu_rng r;
	struct txnlog *l;
	int64_t got[512], z, committed, last = -1;
	int n, rc, steps;
	struct kerr e = { 0 };

	tu_rng_init(&r, seed);
	l = open_log(fs, ZK, 1024 * (1 + tu_rng_below(&r, 4)));
	steps = 1 + (int)tu_rng_below(&r, 120);
	for (z = 1; z <= steps; z++) {
		append(l, z);
		if (tu_rng_below(&r, 4) == 0)
			commit(l);
		if (tu_rng_below(&r, 16) == 0)
			TU_CHECK_SEED(seed, txnlog_roll(l, &e) == KLAB_OK, "%s", kerr_msg(&e));
		TU_CHECK_SEED(seed, txnlog_check_invariants(l, &e) == KLAB_OK, "%s", kerr_msg(&e));
	}
	committed = txnlog_last_committed(l);
	txnlog_close(l);
	assert_int_equal(disk_sim_crash(d, NULL), KLAB_OK);
	TU_CHECK_SEED(seed, disk_sim_check_invariants(d, &e) == KLAB_OK, "%s", kerr_msg(&e));
	rc = txnlog_recover(fs, ZK, 0, &last, &e);
	TU_CHECK_SEED(seed, rc == KLAB_OK, "recover: %s", kerr_msg(&e));
	rc = read_from(fs, ZK, 0, got, 512, &n, NULL, &e);
	TU_CHECK_SEED(seed, rc == KLAB_ENOTFOUND, "read: %s", kerr_msg(&e));
	TU_CHECK_SEED(seed, n >= committed && n <= steps && last == n,
		      "read %d txns, committed %" PRId64 ", appended %d, recovered to %" PRId64, n,
		      committed, steps, last);
	for (int i = 0; i < n; i++)
		TU_CHECK_SEED(seed, got[i] == i + 1, "txn %d is zxid %" PRId64, i, got[i]);
	sw->lost_uncommitted += n < steps;
	sw->kept_uncommitted += n > committed;
	l = open_log(fs, ZK, 1024);
	append(l, n + 1);
	commit(l);
	txnlog_close(l);
	rc = read_from(fs, ZK, (n + 1) / 2, got, 512, &n, NULL, &e);
	TU_CHECK_SEED(seed, rc == KLAB_ENOTFOUND && n > 0 && got[n - 1] == last + 1,
		      "read after recovery: %s", kerr_msg(&e));
	disk_sim_free(d);
}

static void
test_ch4_txnlog_crash_sweep_keeps_every_committed_txn(void **state)
{
	uint64_t s, one = tu_seed(0);
	struct sweep sw = { 0 };

	(void)state;
	if (one != 0) {
		crash_once(one, &sw);
		return;
	}
	for (s = 1; s <= SWEEP_SEEDS; s++)
		crash_once(s, &sw);
	/* the sweep tests something only if crashes both cut and keep */
	assert_true(sw.lost_uncommitted > SWEEP_SEEDS / 10);
	assert_true(sw.kept_uncommitted > SWEEP_SEEDS / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch4_txnlog_names_are_makeLogName_hex),
		cmocka_unit_test(test_ch4_txnlog_golden_header_and_entry),
		cmocka_unit_test(test_ch4_txnlog_round_trip_simulated_disk),
		cmocka_unit_test(test_ch4_txnlog_round_trip_real_disk),
		cmocka_unit_test(test_ch4_txnlog_preallocation_grows_at_the_4096_boundary),
		cmocka_unit_test(test_ch4_txnlog_preallocation_rounds_up_past_a_big_entry),
		cmocka_unit_test(test_ch4_txnlog_reads_from_a_middle_zxid_across_files),
		cmocka_unit_test(test_ch4_txnlog_purge_keeps_the_log_holding_the_snapshot),
		cmocka_unit_test(test_ch4_txnlog_append_refuses_bad_txns),
		cmocka_unit_test(test_ch4_txnlog_flipped_bit_is_a_crc_error_naming_the_file),
		cmocka_unit_test(test_ch4_txnlog_bad_magic_is_corrupt),
		cmocka_unit_test(test_ch4_txnlog_failed_fsync_fails_the_log),
		cmocka_unit_test(test_ch4_txnlog_force_sync_off_skips_fsync),
		cmocka_unit_test(test_ch4_txnlog_torn_tail_at_every_byte_of_the_last_entry),
		cmocka_unit_test(test_ch4_txnlog_recover_deletes_a_header_less_last_file),
		cmocka_unit_test(test_ch4_txnlog_real_disk_torn_tail_and_flipped_bit),
		cmocka_unit_test(test_ch4_txnlog_crash_sweep_keeps_every_committed_txn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
