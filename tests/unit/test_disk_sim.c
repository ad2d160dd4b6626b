/*
 * test_disk_sim.c - the simulated disk's crash model and faults
 * (net/disk_sim.h; the model is described at the top of disk_sim.c).
 *
 * What a crash keeps: a file is its durable image plus a sector-granular
 * prefix of the writes since (never anything else, over many seeds);
 * fsynced data stays; a name needs its directory's fsync; a failed fsync
 * loses its writes for good (fsyncgate).  Faults: a full disk writes
 * nothing; probabilities fire the same way for the same seed.  Open
 * handles die in a crash; bit rot changes one byte; mirror mode shows the
 * disk in a real directory.  The invariant checker runs after every step.
 * A seeded test prints its seed on failure (replay: KLAB_SEED=N).
 */
#include "testutil.h"

#include "core/fs.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

#define FILE_CAP (64 * 1024)
#define SECTORS (FILE_CAP / DISK_SIM_SECTOR_BYTES)

struct t {
	struct disk_sim *d;
	struct fs *fs;
	uint64_t seed;
};

static struct t
t_new(uint64_t seed)
{
	struct t t = { disk_sim_new(seed), NULL, seed };

	assert_non_null(t.d);
	t.fs = disk_sim_fs(t.d);
	return t;
}

static void
ok(const struct t *t, int rc, const struct kerr *e, const char *what)
{
	if (rc != KLAB_OK)
		fail_msg("seed %llu: %s: %s (%s)", (unsigned long long)t->seed, what,
			 klab_strerror(rc), e != NULL ? kerr_msg(e) : "");
}

static void
inv(const struct t *t)
{
	struct kerr e = { 0 };

	if (disk_sim_check_invariants(t->d, &e) != KLAB_OK)
		fail_msg("seed %llu: %s", (unsigned long long)t->seed, kerr_msg(&e));
}

static struct fs_file *
t_open(const struct t *t, const char *path, int flags)
{
	struct fs_file *f = NULL;
	struct kerr e = { 0 };

	ok(t, fs_open(t->fs, path, flags, &f, &e), &e, path);
	inv(t);
	return f;
}

static void
t_write(const struct t *t, struct fs_file *f, const void *p, size_t n, uint64_t off)
{
	struct kerr e = { 0 };

	ok(t, fs_pwrite(f, p, n, off, &e), &e, "pwrite");
	inv(t);
}

static void
t_fsync(const struct t *t, struct fs_file *f)
{
	struct kerr e = { 0 };

	ok(t, fs_fsync(f, &e), &e, "fsync");
	inv(t);
}

static void
t_dirsync(const struct t *t, const char *dir)
{
	struct kerr e = { 0 };

	ok(t, fs_fsync_dir(t->fs, dir, &e), &e, dir);
	inv(t);
}

static struct disk_crash_report
t_crash(const struct t *t)
{
	struct disk_crash_report rep;

	assert_int_equal(disk_sim_crash(t->d, &rep), KLAB_OK);
	inv(t);
	return rep;
}

/* The file's bytes into out (cap bytes at most); -1 when it is missing. */
static long
t_read(const struct t *t, const char *path, void *out, size_t cap)
{
	struct kerr e = { 0 };
	struct buf b;
	long n;
	int rc;

	buf_init(&b);
	rc = fs_read_file(t->fs, path, cap, &b, &e);
	if (rc == KLAB_ENOTFOUND) {
		buf_free(&b);
		return -1;
	}
	ok(t, rc, &e, path);
	if (b.len > 0)
		memcpy(out, b.data, b.len);
	n = (long)b.len;
	buf_free(&b);
	return n;
}

/* Write s to path (created), fsync it, and fsync its directory when asked. */
static void
t_put(const struct t *t, const char *path, const char *s, bool dir_too)
{
	struct fs_file *f = t_open(t, path, FS_CREATE);
	char dir[256];

	assert_int_equal(fs_truncate(f, 0, NULL), KLAB_OK);
	t_write(t, f, s, strlen(s), 0);
	t_fsync(t, f);
	fs_close(f);
	fs_dirname(path, dir, sizeof(dir));
	if (dir_too)
		t_dirsync(t, dir);
}

static void
t_mkdir(const struct t *t, const char *path)
{
	struct kerr e = { 0 };

	ok(t, fs_mkdirs(t->fs, path, &e), &e, path);
	inv(t);
}

static void
expect_text(const struct t *t, const char *path, const char *want)
{
	char got[8192];
	long n = t_read(t, path, got, sizeof(got) - 1);

	if (want == NULL && n >= 0)
		fail_msg("seed %llu: %s exists after the crash", (unsigned long long)t->seed, path);
	if (want == NULL)
		return;
	if (n < 0)
		fail_msg("seed %llu: %s is missing", (unsigned long long)t->seed, path);
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* ---- the torn prefix ------------------------------------------------------ */

/* What the test knows: both images and the dirty sectors since the last fsync. */
struct shadow {
	uint8_t cur[FILE_CAP], dur[FILE_CAP];
	size_t cur_len, dur_len;
	bool dirty[SECTORS];
};

static void
shadow_write(struct shadow *s, const uint8_t *p, size_t n, size_t off)
{
	size_t from = off < s->cur_len ? off : s->cur_len;

	if (off + n > s->cur_len) {
		memset(s->cur + s->cur_len, 0, off + n - s->cur_len);
		s->cur_len = off + n;
	}
	memcpy(s->cur + off, p, n);
	for (size_t i = from / DISK_SIM_SECTOR_BYTES; i * DISK_SIM_SECTOR_BYTES < off + n; i++)
		s->dirty[i] = true;
}

static void
shadow_fsync(struct shadow *s)
{
	memcpy(s->dur, s->cur, s->cur_len);
	s->dur_len = s->cur_len;
	memset(s->dirty, 0, sizeof(s->dirty));
}

/* The durable image plus the first k dirty sectors; its length. */
static size_t
shadow_torn(const struct shadow *s, int k, uint8_t *out)
{
	size_t len = s->dur_len;

	memcpy(out, s->dur, s->dur_len);
	for (int i = 0; i < SECTORS && k > 0; i++) {
		size_t lo = (size_t)i * DISK_SIM_SECTOR_BYTES, hi = lo + DISK_SIM_SECTOR_BYTES;

		if (!s->dirty[i])
			continue;
		hi = hi < s->cur_len ? hi : s->cur_len;
		if (len < hi) {
			memset(out + len, 0, hi - len);
			len = hi;
		}
		memcpy(out + lo, s->cur + lo, hi - lo);
		k--;
	}
	return len;
}

/* Random writes (appends and overwrites) and fsyncs on /d/f, then a crash. */
static void
torn_run(const struct t *t, struct shadow *s, struct fs_file *f)
{
	struct tu_rng r;
	uint8_t data[1500];
	int ops;

	tu_rng_init(&r, t->seed);
	ops = 1 + (int)tu_rng_below(&r, 30);
	for (int i = 0; i < ops; i++) {
		uint64_t what = tu_rng_below(&r, 100);
		size_t n = 1 + (size_t)tu_rng_below(&r, sizeof(data));
		size_t off = what < 70 ? s->cur_len : (size_t)tu_rng_below(&r, s->cur_len + 1);

		if (what >= 85) {
			t_fsync(t, f);
			shadow_fsync(s);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			data[j] = (uint8_t)tu_rng_next(&r);
		t_write(t, f, data, n, off);
		shadow_write(s, data, n, off);
	}
}

/* Which prefix k of the m dirty sectors the crash kept; fails when none fits. */
static int
torn_match(const struct t *t, const struct shadow *s, const uint8_t *got, long got_len,
	   uint8_t *want)
{
	int m = 0;

	for (int i = 0; i < SECTORS; i++)
		m += s->dirty[i];
	for (int k = 0; k <= m; k++) {
		size_t len = shadow_torn(s, k, want);

		if ((long)len == got_len && memcmp(want, got, len) == 0)
			return k == 0 ? 0 : k == m ? 2 : 1;
	}
	fail_msg("seed %llu: after the crash the file (%ld bytes) is not its durable image "
		 "plus a prefix of its %d dirty sectors",
		 (unsigned long long)t->seed, got_len, m);
	return -1;
}

static void
test_disk_sim_crash_keeps_durable_image_plus_torn_prefix(void **state)
{
	struct shadow *s = malloc(sizeof(*s));
	uint8_t *got = malloc(FILE_CAP), *want = malloc(FILE_CAP);
	int kinds[3] = { 0 }; /* kept none / some / all of the dirty sectors */
	uint64_t base = tu_seed(1000);

	(void)state;
	assert_true(s != NULL && got != NULL && want != NULL);
	for (uint64_t seed = base; seed < base + 300; seed++) {
		struct t t = t_new(seed);
		struct disk_crash_report rep;
		struct fs_file *f;
		long n;

		memset(s, 0, sizeof(*s));
		t_mkdir(&t, "/d");
		f = t_open(&t, "/d/f", FS_CREATE);
		t_fsync(&t, f);
		t_dirsync(&t, "/d");
		torn_run(&t, s, f);
		rep = t_crash(&t);
		n = t_read(&t, "/d/f", got, FILE_CAP);
		kinds[torn_match(&t, s, got, n, want)]++;
		if (rep.files_torn !=
		    ((size_t)n != s->cur_len || memcmp(got, s->cur, (size_t)n) != 0))
			fail_msg("seed %llu: files_torn is %d", (unsigned long long)seed,
				 rep.files_torn);
		assert_int_equal(rep.handles_dead, 1);
		fs_close(f);
		disk_sim_free(t.d);
	}
	/* the seed really tears: every kind of outcome happens */
	assert_true(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
	free(s);
	free(got);
	free(want);
}

static void
test_disk_sim_fsynced_data_survives_crashes(void **state)
{
	struct t t = t_new(tu_seed(5));
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	t_mkdir(&t, "data/p-0");
	t_put(&t, "data/p-0/a", big, true);
	t_put(&t, "data/p-0/b", "small", true);
	for (int i = 0; i < 20; i++) {
		struct disk_crash_report rep = t_crash(&t);

		assert_int_equal(rep.files_torn, 0);
		assert_int_equal(rep.bytes_lost, 0);
		assert_int_equal(rep.names_undone, 0);
		expect_text(&t, "data/p-0/a", big);
		expect_text(&t, "data/p-0/b", "small");
	}
	disk_sim_free(t.d);
}

/* ---- names ---------------------------------------------------------------- */

static void
test_disk_sim_new_name_needs_its_directory_fsynced(void **state)
{
	struct t t = t_new(tu_seed(11));
	struct disk_crash_report rep;

	(void)state;
	t_mkdir(&t, "/d");
	t_put(&t, "/d/kept", "both fsynced", true);
	t_put(&t, "/d/late", "name fsynced by the next dir fsync", false);
	t_dirsync(&t, "/d");
	t_put(&t, "/d/lost", "data fsynced, name not", false);
	rep = t_crash(&t);
	assert_int_equal(rep.names_undone, 1);
	expect_text(&t, "/d/lost", NULL);
	expect_text(&t, "/d/kept", "both fsynced");
	expect_text(&t, "/d/late", "name fsynced by the next dir fsync");
	/* an unsynced mkdir goes too, and with it what was made inside */
	ok(&t, fs_mkdir(t.fs, "/d/sub", NULL), NULL, "mkdir");
	t_put(&t, "/d/sub/x", "in a directory whose name is not durable", true);
	t_crash(&t);
	assert_false(fs_exists(t.fs, "/d/sub"));
	disk_sim_free(t.d);
}

static void
test_disk_sim_rename_needs_its_directory_fsynced(void **state)
{
	struct t t = t_new(tu_seed(12));

	(void)state;
	t_mkdir(&t, "/d");
	t_put(&t, "/d/a", "old", true);
	t_put(&t, "/d/a.tmp", "new", true);
	ok(&t, fs_rename(t.fs, "/d/a.tmp", "/d/a", NULL), NULL, "rename");
	inv(&t);
	expect_text(&t, "/d/a", "new");
	t_crash(&t);
	expect_text(&t, "/d/a", "old"); /* undone: the old name back with the old contents */
	expect_text(&t, "/d/a.tmp", "new");
	ok(&t, fs_rename(t.fs, "/d/a.tmp", "/d/a", NULL), NULL, "rename");
	t_dirsync(&t, "/d");
	t_crash(&t);
	expect_text(&t, "/d/a", "new");
	expect_text(&t, "/d/a.tmp", NULL);
	disk_sim_free(t.d);
}

static void
test_disk_sim_unlink_needs_its_directory_fsynced(void **state)
{
	struct t t = t_new(tu_seed(13));
	struct fs_file *f;
	char got[16];

	(void)state;
	t_mkdir(&t, "/d");
	t_put(&t, "/d/f", "durable", true);
	f = t_open(&t, "/d/f", 0);
	ok(&t, fs_unlink(t.fs, "/d/f", NULL), NULL, "unlink");
	inv(&t);
	assert_false(fs_exists(t.fs, "/d/f"));
	assert_int_equal(fs_pread(f, got, sizeof(got), 0, NULL), 7); /* still open */
	fs_close(f);
	inv(&t);
	t_crash(&t);
	expect_text(&t, "/d/f", "durable");
	ok(&t, fs_unlink(t.fs, "/d/f", NULL), NULL, "unlink");
	t_dirsync(&t, "/d");
	t_crash(&t);
	expect_text(&t, "/d/f", NULL);
	disk_sim_free(t.d);
}

static void
test_disk_sim_directory_rename_and_one_name_per_file(void **state)
{
	struct t t = t_new(tu_seed(14));
	struct disk_crash_report rep;

	(void)state;
	t_mkdir(&t, "/a");
	t_mkdir(&t, "/y");
	t_put(&t, "/a/f", "in a", true);
	ok(&t, fs_rename(t.fs, "/a", "/b", NULL), NULL, "rename a directory");
	inv(&t);
	expect_text(&t, "/b/f", "in a");
	t_crash(&t);
	expect_text(&t, "/a/f", "in a");
	assert_false(fs_exists(t.fs, "/b"));
	/* across directories, only the target fsynced: two durable names, one kept */
	ok(&t, fs_rename(t.fs, "/a/f", "/y/f", NULL), NULL, "rename across");
	t_dirsync(&t, "/y");
	rep = t_crash(&t);
	assert_true(fs_exists(t.fs, "/a/f") != fs_exists(t.fs, "/y/f"));
	assert_int_equal(rep.names_undone, 2); /* /a/f back, then one of the two dropped */
	assert_int_equal(fs_rename(t.fs, "/a", "/a/sub", NULL), KLAB_EIO); /* into itself */
	disk_sim_free(t.d);
}

static void
test_disk_sim_paths_are_normalised(void **state)
{
	struct t t = t_new(tu_seed(15));
	enum fs_kind kind;
	uint64_t size;

	(void)state;
	t_mkdir(&t, "/d/e");
	t_put(&t, "//d///e/f/", "x", false);
	expect_text(&t, "/d/./e/../e/f", "x");
	assert_false(fs_exists(t.fs, "d/e/f")); /* "." is not "/" */
	assert_int_equal(fs_stat(t.fs, "/", &kind, &size, NULL), KLAB_OK);
	assert_int_equal(kind, FS_DIR);
	assert_int_equal(fs_stat(t.fs, ".", &kind, &size, NULL), KLAB_OK);
	assert_int_equal(kind, FS_DIR);
	t_mkdir(&t, "./rel");
	assert_true(fs_exists(t.fs, "rel"));
	assert_int_equal(fs_stat(t.fs, "../x", &kind, &size, NULL), KLAB_EINVAL);
	disk_sim_free(t.d);
}

/* ---- faults --------------------------------------------------------------- */

static void
test_disk_sim_failed_fsync_loses_writes_for_good(void **state)
{
	struct t t = t_new(tu_seed(21));
	struct fs_file *f;
	struct kerr e = { 0 };
	uint8_t a[512], got[2048];
	long n;

	(void)state;
	memset(a, 'A', sizeof(a));
	t_mkdir(&t, "/d");
	t_put(&t, "/d/f", "", true);
	f = t_open(&t, "/d/f", 0);
	t_write(&t, f, a, sizeof(a), 0);
	assert_int_equal(disk_sim_fail_fsync(t.d, "/d/f", 1), KLAB_OK);
	assert_int_equal(fs_fsync(f, &e), KLAB_EIO);
	assert_non_null(strstr(e.msg, "/d/f: fsync"));
	inv(&t);
	assert_int_equal(fs_pread(f, got, sizeof(a), 0, NULL),
			 sizeof(a)); /* the cache still shows it */
	assert_memory_equal(got, a, sizeof(a));
	t_write(&t, f, "B", 1, 1024); /* a later write, to another sector */
	t_fsync(&t, f);		      /* succeeds, but does not write the lost sector */
	t_crash(&t);
	n = t_read(&t, "/d/f", got, sizeof(got));
	assert_int_equal(n, 1025);
	for (int i = 0; i < 512; i++)
		if (got[i] != 0)
			fail_msg("byte %d survived a failed fsync", i);
	assert_int_equal(got[1024], 'B');
	fs_close(f);
	disk_sim_free(t.d);
}

static void
test_disk_sim_fsync_faults_by_probability_and_by_hand(void **state)
{
	struct t t = t_new(tu_seed(22));
	struct disk_faults always = { .fsync_eio = 1.0 };
	struct disk_faults never = { 0 };
	struct fs_file *f;

	(void)state;
	t_mkdir(&t, "/d");
	f = t_open(&t, "/d/f", FS_CREATE);
	disk_sim_set_faults(t.d, &always);
	assert_int_equal(fs_fsync(f, NULL), KLAB_EIO);
	assert_int_equal(fs_fsync_dir(t.fs, "/d", NULL), KLAB_EIO);
	disk_sim_set_faults(t.d, &never);
	assert_int_equal(disk_sim_fail_fsync(t.d, NULL, 2), KLAB_OK);
	assert_int_equal(fs_fsync_dir(t.fs, "/d", NULL), KLAB_EIO);
	assert_int_equal(fs_fsync(f, NULL), KLAB_EIO);
	t_fsync(&t, f);
	assert_int_equal(disk_sim_fail_fsync(t.d, "/other", 1), KLAB_OK);
	t_dirsync(&t, "/d"); /* the rule is for another path */
	assert_int_equal(disk_sim_stats(t.d)->faults, 4);
	assert_int_equal(disk_sim_stats(t.d)->fsyncs, 3);
	assert_int_equal(disk_sim_stats(t.d)->dir_fsyncs, 4); /* fs_mkdirs made one */
	fs_close(f);
	disk_sim_free(t.d);
}

static void
test_disk_sim_full_disk_writes_nothing(void **state)
{
	struct t t = t_new(tu_seed(23));
	struct fs_file *f, *g;
	uint8_t buf[1000], got[1000];

	(void)state;
	memset(buf, 7, sizeof(buf));
	disk_sim_set_capacity(t.d, 1000);
	t_mkdir(&t, "/d");
	f = t_open(&t, "/d/f", FS_CREATE);
	g = t_open(&t, "/d/g", FS_CREATE);
	t_write(&t, f, buf, 800, 0);
	assert_int_equal(fs_pwrite(f, buf, 300, 800, NULL), KLAB_ENOSPC);
	assert_int_equal(fs_size(f, NULL), 800);
	assert_int_equal(fs_pwrite(g, buf, 201, 0, NULL), KLAB_ENOSPC);
	assert_int_equal(fs_size(g, NULL), 0);
	assert_int_equal(fs_truncate(g, 201, NULL), KLAB_ENOSPC);
	assert_int_equal(fs_pwrite(f, "zz", 2, 10, NULL), KLAB_OK); /* overwriting needs no room */
	t_write(&t, g, buf, 200, 0);
	inv(&t);
	assert_int_equal(fs_pread(f, got, sizeof(got), 0, NULL), 800);
	assert_memory_equal(got + 12, buf, 788);
	assert_int_equal(fs_truncate(f, 100, NULL), KLAB_OK);
	t_write(&t, g, buf, 900, 0); /* room again */
	fs_close(f);
	fs_close(g);
	disk_sim_free(t.d);
}

/* A run with every probability at 0.3; its outcomes in out[], the final file's hash returned. */
static uint64_t
faulty_run(uint64_t seed, int *out, int n)
{
	struct t t = t_new(seed);
	struct disk_faults faults = { 0.3, 0.3, 0.3, 0 };
	struct fs_file *f;
	uint8_t buf[16384];
	uint64_t h = 1469598103934665603ull;
	long len;

	t_mkdir(&t, "/d");
	f = t_open(&t, "/d/f", FS_CREATE);
	disk_sim_set_faults(t.d, &faults);
	for (int i = 0; i < n; i++) {
		memset(buf, i, 100);
		if (i % 3 == 0)
			out[i] = fs_pwrite(f, buf, 100, (uint64_t)i * 100, NULL);
		else if (i % 3 == 1)
			out[i] = (int)fs_pread(f, buf, 100, 0, NULL);
		else
			out[i] = fs_fsync(f, NULL);
		inv(&t);
	}
	fs_close(f);
	disk_sim_set_faults(t.d, &(struct disk_faults){ 0 });
	t_dirsync(&t, "/d");
	t_crash(&t);
	len = t_read(&t, "/d/f", buf, sizeof(buf));
	for (long i = 0; i < len; i++)
		h = (h ^ buf[i]) * 0x100000001b3ull;
	disk_sim_free(t.d);
	return h ^ (uint64_t)len;
}

static void
test_disk_sim_faults_are_deterministic_per_seed(void **state)
{
	int a[120], b[120], c[120], failed = 0;
	uint64_t seed = tu_seed(24);
	uint64_t ha = faulty_run(seed, a, 120), hb = faulty_run(seed, b, 120);
	uint64_t hc = faulty_run(seed + 1, c, 120);

	(void)state;
	if (memcmp(a, b, sizeof(a)) != 0 || ha != hb)
		fail_msg("seed %llu: two runs differ", (unsigned long long)seed);
	assert_true(memcmp(a, c, sizeof(a)) != 0);
	(void)hc;
	for (int i = 0; i < 120; i++)
		failed += a[i] < 0;
	assert_true(failed > 10 && failed < 80); /* about 0.3 of 120 */
}

/* ---- crashes, handles, bit rot -------------------------------------------- */

static void
test_disk_sim_handles_die_in_a_crash(void **state)
{
	struct t t = t_new(tu_seed(31));
	struct fs_file *f, *g;
	struct kerr e = { 0 };
	char got[8];

	(void)state;
	t_mkdir(&t, "/d");
	t_put(&t, "/d/f", "abc", true);
	f = t_open(&t, "/d/f", 0);
	g = t_open(&t, "/d/f", FS_READONLY);
	assert_int_equal(t_crash(&t).handles_dead, 2);
	assert_int_equal(fs_pread(f, got, 3, 0, &e), KLAB_EIO);
	assert_non_null(strstr(e.msg, "the disk crashed"));
	assert_int_equal(fs_pwrite(f, "x", 1, 0, NULL), KLAB_EIO);
	assert_int_equal(fs_fsync(f, NULL), KLAB_EIO);
	assert_int_equal(fs_truncate(f, 0, NULL), KLAB_EIO);
	assert_int_equal(fs_size(g, NULL), KLAB_EIO);
	fs_close(f);
	inv(&t);
	expect_text(&t, "/d/f", "abc"); /* a new handle works */
	disk_sim_free(t.d);
	fs_close(g); /* after the disk is gone, close still frees */
}

static void
test_disk_sim_corrupt_changes_exactly_one_byte(void **state)
{
	struct t t = t_new(tu_seed(32));
	uint8_t want[4096], got[4096];
	struct fs_file *f;

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7);
	t_mkdir(&t, "/d");
	f = t_open(&t, "/d/f", FS_CREATE);
	t_write(&t, f, want, sizeof(want), 0);
	t_fsync(&t, f);
	fs_close(f);
	t_dirsync(&t, "/d");
	assert_int_equal(disk_sim_corrupt(t.d, "/d/f", 1000, NULL), KLAB_OK);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(t_read(&t, "/d/f", got, sizeof(got)), sizeof(got));
		for (size_t i = 0; i < sizeof(got); i++)
			assert_true((got[i] != want[i]) == (i == 1000));
		t_crash(&t); /* the durable image is rotten too */
	}
	assert_int_equal(disk_sim_corrupt(t.d, "/d/f", 4096, NULL), KLAB_ERANGE);
	assert_int_equal(disk_sim_corrupt(t.d, "/d/none", 0, NULL), KLAB_ENOTFOUND);
	disk_sim_free(t.d);
}

/* ---- random operations: invariants and determinism ------------------------ */

static const char *const names[] = { "/w/a", "/w/b", "/w/s/c", "/w/s/d", "/w/t/e" };
static const char *const dirs[] = { "/w", "/w/s", "/w/t" };

/* An operation on an open file (or none when the slot is empty). */
static void
random_file_op(struct fs_file *f, uint64_t what, uint64_t off, size_t n)
{
	uint8_t buf[700];

	memset(buf, (int)(off & 0xff), sizeof(buf));
	if (f == NULL)
		return;
	if (what < 10)
		fs_pwrite(f, buf, n, off, NULL);
	else if (what < 13)
		fs_fsync(f, NULL);
	else if (what < 15)
		fs_truncate(f, off, NULL);
	else
		fs_pread(f, buf, n, off, NULL);
}

/* One operation, chosen and shaped by r (the same number of draws every time). */
static void
random_op(const struct t *t, struct tu_rng *r, struct fs_file **open)
{
	const char *p = names[tu_rng_below(r, 5)], *q = names[tu_rng_below(r, 5)];
	const char *dir = dirs[tu_rng_below(r, 3)], *dir2 = dirs[tu_rng_below(r, 3)];
	struct fs_file **f = &open[tu_rng_below(r, 2)];
	uint64_t what = tu_rng_below(r, 40), off = tu_rng_below(r, 3000);
	size_t n = 1 + (size_t)tu_rng_below(r, 700);

	if (what < 4) {
		fs_close(*f);
		*f = NULL;
		fs_open(t->fs, p, FS_CREATE, f, NULL);
	} else if (what < 22) {
		random_file_op(*f, what - 4, off, n);
	} else if (what < 27) {
		fs_fsync_dir(t->fs, dir, NULL);
	} else if (what < 30) {
		fs_rename(t->fs, p, q, NULL);
	} else if (what < 32) {
		fs_unlink(t->fs, p, NULL);
	} else if (what < 35) {
		fs_mkdir(t->fs, dir, NULL);
	} else if (what < 36) {
		fs_rmdir(t->fs, dir, NULL);
	} else if (what < 38) {
		fs_rename(t->fs, dir, dir2, NULL);
	} else if (what < 39) {
		assert_int_equal(disk_sim_crash(t->d, NULL), KLAB_OK);
	}
}

struct digest {
	struct fs *fs;
	const char *dir;
	uint64_t h;
};

static int
digest_one(void *arg, const char *name)
{
	struct digest *g = arg, sub = *g;
	char path[512];
	enum fs_kind kind;
	uint64_t size;
	struct buf b;

	snprintf(path, sizeof(path), "%s/%s", g->dir, name);
	for (const char *c = path; *c; c++)
		g->h = (g->h ^ (uint8_t)*c) * 0x100000001b3ull;
	assert_int_equal(fs_stat(g->fs, path, &kind, &size, NULL), KLAB_OK);
	if (kind == FS_DIR) {
		sub.dir = path;
		assert_int_equal(fs_list(g->fs, path, digest_one, &sub, NULL), KLAB_OK);
		g->h = sub.h;
		return 0;
	}
	buf_init(&b);
	assert_int_equal(fs_read_file(g->fs, path, 1 << 20, &b, NULL), KLAB_OK);
	for (size_t i = 0; i < b.len; i++)
		g->h = (g->h ^ b.data[i]) * 0x100000001b3ull;
	buf_free(&b);
	return 0;
}

/* Every name and byte on the disk, hashed in listing order. */
static uint64_t
digest(struct fs *fs)
{
	struct digest g = { fs, "", 1469598103934665603ull };

	assert_int_equal(fs_list(fs, "/", digest_one, &g, NULL), KLAB_OK);
	return g.h;
}

static uint64_t
random_run(uint64_t seed)
{
	struct t t = t_new(seed);
	struct disk_faults faults = { 0.05, 0.05, 0.05, 0 };
	struct fs_file *open[2] = { NULL, NULL };
	struct tu_rng r;
	uint64_t h;

	tu_rng_init(&r, seed);
	t_mkdir(&t, "/w/s");
	disk_sim_set_faults(t.d, &faults);
	disk_sim_set_capacity(t.d, 6000);
	for (int i = 0; i < 400; i++) {
		random_op(&t, &r, open);
		inv(&t);
	}
	fs_close(open[0]);
	fs_close(open[1]);
	inv(&t);
	disk_sim_set_faults(t.d, &(struct disk_faults){ 0 }); /* reading it all must not fail */
	h = digest(t.fs) ^ disk_sim_stats(t.d)->faults;
	disk_sim_free(t.d);
	return h;
}

static void
test_disk_sim_random_operations_keep_invariants_and_replay(void **state)
{
	uint64_t base = tu_seed(4000);

	(void)state;
	for (uint64_t seed = base; seed < base + 100; seed++)
		if (random_run(seed) != random_run(seed))
			fail_msg("seed %llu: the same seed made two different disks",
				 (unsigned long long)seed);
	assert_true(random_run(base) != random_run(base + 1));
}

/* ---- mirror mode ------------------------------------------------------------ */

static void
mirror_setup(const struct t *t, const char *root)
{
	char p[512];
	struct kerr e = { 0 };

	snprintf(p, sizeof(p), "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/seg.log", root);
	tu_file_write(p, "abc", 3);
	snprintf(p, sizeof(p), "%s/sub/x", root);
	tu_file_write(p, "xyz", 3);
	ok(t, disk_sim_mirror(t->d, disk_real(), root, &e), &e, "mirror");
	inv(t);
}

/* The real file at root/name holds exactly want (NULL: it does not exist). */
static void
expect_real(const char *root, const char *name, const char *want)
{
	char p[512];
	uint8_t *got;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	got = tu_file_read(p, &len);
	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s exists in the real directory", p);
		return;
	}
	if (got == NULL)
		fail_msg("%s is missing from the real directory", p);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static void
test_disk_sim_mirror_shows_the_disk_in_a_real_directory(void **state)
{
	struct t t = t_new(tu_seed(41));
	char root[256], p[512], q[512], text[64];
	struct fs_file *f;
	long n;

	(void)state;
	tu_tmpdir_make(root, sizeof(root));
	mirror_setup(&t, root);
	snprintf(p, sizeof(p), "%s/seg.log", root);
	expect_text(&t, p, "abc");
	t_crash(&t); /* loaded as durable */
	expect_text(&t, p, "abc");
	f = t_open(&t, p, 0);
	t_write(&t, f, "def", 3, 3); /* not fsynced */
	expect_real(root, "seg.log", "abcdef");
	snprintf(q, sizeof(q), "%s/new.log", root);
	t_put(&t, q, "hello", false); /* name not fsynced */
	expect_real(root, "new.log", "hello");
	snprintf(q, sizeof(q), "%s/sub/x", root);
	ok(&t, fs_unlink(t.fs, q, NULL), NULL, "unlink");
	expect_real(root, "sub/x", NULL);
	snprintf(q, sizeof(q), "%s/d2", root);
	ok(&t, fs_mkdir(t.fs, q, NULL), NULL,
	   "mkdir"); /* no fsync of root: new.log stays undurable */
	assert_true(tu_file_exists(q));
	t_crash(&t);
	fs_close(f);
	expect_real(root, "new.log", NULL);
	expect_real(root, "sub/x", "xyz");
	assert_false(tu_file_exists(q));
	n = t_read(&t, p, text, sizeof(text) - 1);
	text[n] = '\0';
	expect_real(root, "seg.log", text); /* "abc" plus whatever the crash kept */
	assert_int_equal(disk_sim_stats(t.d)->mirror_failures, 0);
	assert_null(disk_sim_mirror_error(t.d));
	disk_sim_free(t.d);
	tu_tmpdir_remove(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_sim_crash_keeps_durable_image_plus_torn_prefix),
		cmocka_unit_test(test_disk_sim_fsynced_data_survives_crashes),
		cmocka_unit_test(test_disk_sim_new_name_needs_its_directory_fsynced),
		cmocka_unit_test(test_disk_sim_rename_needs_its_directory_fsynced),
		cmocka_unit_test(test_disk_sim_unlink_needs_its_directory_fsynced),
		cmocka_unit_test(test_disk_sim_directory_rename_and_one_name_per_file),
		cmocka_unit_test(test_disk_sim_paths_are_normalised),
		cmocka_unit_test(test_disk_sim_failed_fsync_loses_writes_for_good),
		cmocka_unit_test(test_disk_sim_fsync_faults_by_probability_and_by_hand),
		cmocka_unit_test(test_disk_sim_full_disk_writes_nothing),
		cmocka_unit_test(test_disk_sim_faults_are_deterministic_per_seed),
		cmocka_unit_test(test_disk_sim_handles_die_in_a_crash),
		cmocka_unit_test(test_disk_sim_corrupt_changes_exactly_one_byte),
		cmocka_unit_test(test_disk_sim_random_operations_keep_invariants_and_replay),
		cmocka_unit_test(test_disk_sim_mirror_shows_the_disk_in_a_real_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
