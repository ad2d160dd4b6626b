/*
 * test_fs_contract.c - the storage interface's contract (core/fs.h), one
 * set of tests run against both backends: the real disk (disk_real.c, in
 * a fresh directory under /tmp that the test removes) and the simulated
 * one (disk_sim.c).  Whatever a node may rely on must hold on both, with
 * the same error codes, or a test on the simulated disk proves nothing
 * about the real one.
 *
 * Covered: create, write, read, size; a short read only at the end;
 * FS_EXCL; truncate; rename replaces; unlink; list gathers its names
 * first; mkdir of an existing directory; rmdir of a full one; missing
 * files and directories; the recipes of fs.c (atomic replace, read_file's
 * bound, mkdirs, remove_dir); read-only handles; a directory opened as a
 * file.  The real disk alone: a symbolic link is never followed (rule 6).
 */
#include "testutil.h"

#include "core/fs.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

struct backend {
	const char *name;
	struct disk_sim *d; /* NULL for the real disk */
	struct fs *fs;
	char base[256];
};

static int
setup_real(void **state)
{
	struct backend *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	b->name = "real disk";
	b->fs = disk_real();
	tu_tmpdir_make(b->base, sizeof(b->base));
	print_message("  on the real disk, in %s\n", b->base);
	*state = b;
	return 0;
}

static int
setup_sim(void **state)
{
	struct backend *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	b->name = "simulated disk";
	b->d = disk_sim_new(tu_seed(7));
	assert_non_null(b->d);
	b->fs = disk_sim_fs(b->d);
	snprintf(b->base, sizeof(b->base), "/tmp/klab-sim/base");
	assert_int_equal(fs_mkdirs(b->fs, b->base, NULL), KLAB_OK);
	print_message("  on the simulated disk\n");
	*state = b;
	return 0;
}

static int
teardown(void **state)
{
	struct backend *b = *state;
	struct kerr e = { 0 };

	if (b->d != NULL) {
		if (disk_sim_check_invariants(b->d, &e) != KLAB_OK)
			fail_msg("%s", kerr_msg(&e));
		disk_sim_free(b->d);
	} else {
		tu_tmpdir_remove(b->base);
	}
	free(b);
	return 0;
}

/* base/name, in a buffer of the caller's. */
static const char *
at(const struct backend *b, char *buf, const char *name)
{
	snprintf(buf, 512, "%s/%s", b->base, name);
	return buf;
}

static void
expect(const struct backend *b, int got, int want, const struct kerr *e, const char *what)
{
	if (got != want)
		fail_msg("%s: %s: got %s, want %s (%s)", b->name, what, klab_strerror(got),
			 klab_strerror(want), e != NULL ? kerr_msg(e) : "");
}

static struct fs_file *
open_ok(const struct backend *b, const char *path, int flags)
{
	struct kerr e = { 0 };
	struct fs_file *f = NULL;

	expect(b, fs_open(b->fs, path, flags, &f, &e), KLAB_OK, &e, path);
	return f;
}

static void
write_ok(const struct backend *b, struct fs_file *f, const char *s, uint64_t off)
{
	struct kerr e = { 0 };

	expect(b, fs_pwrite(f, s, strlen(s), off, &e), KLAB_OK, &e, "pwrite");
}

/* The whole file at path as a string (asserting it is short). */
static void
read_all(const struct backend *b, const char *path, char *out, size_t n)
{
	struct kerr e = { 0 };
	struct buf buf;

	buf_init(&buf);
	expect(b, fs_read_file(b->fs, path, n - 1, &buf, &e), KLAB_OK, &e, path);
	memcpy(out, buf.data, buf.len);
	out[buf.len] = '\0';
	buf_free(&buf);
}

static void
test_fs_create_write_read_size(void **state)
{
	struct backend *b = *state;
	char p[512], got[32] = { 0 };
	enum fs_kind kind;
	uint64_t size;
	struct fs_file *f = open_ok(b, at(b, p, "f"), FS_CREATE);

	write_ok(b, f, "hello", 0);
	write_ok(b, f, " world", 5);
	assert_int_equal(fs_size(f, NULL), 11);
	assert_int_equal(fs_pread(f, got, 11, 0, NULL), 11);
	assert_string_equal(got, "hello world");
	expect(b, fs_fsync(f, NULL), KLAB_OK, NULL, "fsync");
	fs_close(f);
	expect(b, fs_stat(b->fs, p, &kind, &size, NULL), KLAB_OK, NULL, "stat");
	assert_int_equal(kind, FS_FILE);
	assert_int_equal(size, 11);
	assert_int_equal(fs_os_fd(f = open_ok(b, p, 0)) >= 0, b->d == NULL);
	fs_close(f);
}

static void
test_fs_short_read_only_at_eof(void **state)
{
	struct backend *b = *state;
	char p[512], got[32] = { 0 };
	struct fs_file *f = open_ok(b, at(b, p, "f"), FS_CREATE);

	write_ok(b, f, "0123456789", 0);
	assert_int_equal(fs_pread(f, got, 20, 5, NULL), 5);
	assert_memory_equal(got, "56789", 5);
	assert_int_equal(fs_pread(f, got, 4, 2, NULL), 4);
	assert_int_equal(fs_pread(f, got, 4, 10, NULL), 0);
	assert_int_equal(fs_pread(f, got, 4, 1000, NULL), 0);
	assert_int_equal(fs_pread_all(f, got, 4, 8, NULL), KLAB_ETRUNCATED);
	fs_close(f);
}

static void
test_fs_excl_refuses_an_existing_file(void **state)
{
	struct backend *b = *state;
	struct fs_file *f = NULL;
	struct kerr e = { 0 };
	char p[512];

	fs_close(open_ok(b, at(b, p, "f"), FS_CREATE | FS_EXCL));
	expect(b, fs_open(b->fs, p, FS_CREATE | FS_EXCL, &f, &e), KLAB_ESTATE, &e, "excl");
	assert_non_null(strstr(e.msg, p));
	fs_close(open_ok(b, p, FS_CREATE));
}

static void
test_fs_truncate_cuts_and_extends_with_zeros(void **state)
{
	struct backend *b = *state;
	char p[512], got[64];
	struct fs_file *f = open_ok(b, at(b, p, "f"), FS_CREATE);

	write_ok(b, f, "abcdefghijklmnopqrstuvwxyz", 0);
	expect(b, fs_truncate(f, 10, NULL), KLAB_OK, NULL, "truncate");
	assert_int_equal(fs_size(f, NULL), 10);
	assert_int_equal(fs_pread(f, got, 64, 0, NULL), 10);
	expect(b, fs_truncate(f, 20, NULL), KLAB_OK, NULL, "truncate up");
	assert_int_equal(fs_pread(f, got, 64, 0, NULL), 20);
	assert_memory_equal(got, "abcdefghij\0\0\0\0\0\0\0\0\0\0", 20);
	fs_close(f);
}

static void
test_fs_rename_replaces_the_target(void **state)
{
	struct backend *b = *state;
	char a[512], c[512], got[32];
	struct kerr e = { 0 };
	struct fs_file *f;

	write_ok(b, f = open_ok(b, at(b, a, "a"), FS_CREATE), "old contents", 0);
	fs_close(f);
	write_ok(b, f = open_ok(b, at(b, c, "c"), FS_CREATE), "new", 0);
	fs_close(f);
	expect(b, fs_rename(b->fs, c, a, &e), KLAB_OK, &e, "rename");
	read_all(b, a, got, sizeof(got));
	assert_string_equal(got, "new");
	assert_false(fs_exists(b->fs, c));
	expect(b, fs_rename(b->fs, c, a, &e), KLAB_ENOTFOUND, &e, "rename a missing file");
	expect(b, fs_rename(b->fs, a, a, &e), KLAB_OK, &e, "rename onto itself");
	assert_true(fs_exists(b->fs, a));
}

static void
test_fs_unlink_removes_the_name(void **state)
{
	struct backend *b = *state;
	struct kerr e = { 0 };
	char p[512];

	fs_close(open_ok(b, at(b, p, "f"), FS_CREATE));
	assert_true(fs_exists(b->fs, p));
	expect(b, fs_unlink(b->fs, p, &e), KLAB_OK, &e, "unlink");
	assert_false(fs_exists(b->fs, p));
	expect(b, fs_unlink(b->fs, p, &e), KLAB_ENOTFOUND, &e, "unlink again");
}

struct unlink_each {
	const struct backend *b;
	int seen;
	int stop_after;
};

static int
unlink_each(void *arg, const char *name)
{
	struct unlink_each *u = arg;
	char p[512];

	assert_true(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
	expect(u->b, fs_unlink(u->b->fs, at(u->b, p, name), NULL), KLAB_OK, NULL, name);
	return ++u->seen == u->stop_after ? 42 : 0;
}

static void
test_fs_list_gathers_names_before_calling_back(void **state)
{
	struct backend *b = *state;
	struct unlink_each u = { b, 0, 0 };
	char p[512], name[16];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		fs_close(open_ok(b, at(b, p, name), FS_CREATE));
	}
	expect(b, fs_list(b->fs, b->base, unlink_each, &u, NULL), KLAB_OK, NULL, "list");
	assert_int_equal(u.seen, 20);
	u.seen = 0;
	expect(b, fs_list(b->fs, b->base, unlink_each, &u, NULL), KLAB_OK, NULL, "list empty");
	assert_int_equal(u.seen, 0);
	for (int i = 0; i < 3; i++)
		fs_close(open_ok(b, at(b, p, i == 0 ? "x" : i == 1 ? "y" : "z"), FS_CREATE));
	u.stop_after = 2;
	assert_int_equal(fs_list(b->fs, b->base, unlink_each, &u, NULL), 42);
	assert_int_equal(u.seen, 2);
}

static void
test_fs_mkdir_and_rmdir(void **state)
{
	struct backend *b = *state;
	char dir[512], f[512];
	struct kerr e = { 0 };

	expect(b, fs_mkdir(b->fs, at(b, dir, "d"), &e), KLAB_OK, &e, "mkdir");
	expect(b, fs_mkdir(b->fs, dir, &e), KLAB_OK, &e, "mkdir existing");
	fs_close(open_ok(b, at(b, f, "d/f"), FS_CREATE));
	expect(b, fs_mkdir(b->fs, f, &e), KLAB_ESTATE, &e, "mkdir over a file");
	expect(b, fs_rmdir(b->fs, dir, &e), KLAB_ESTATE, &e, "rmdir non-empty");
	assert_true(fs_exists(b->fs, f));
	expect(b, fs_rmdir(b->fs, f, &e), KLAB_EIO, &e, "rmdir a file");
	expect(b, fs_unlink(b->fs, dir, &e), KLAB_EIO, &e, "unlink a directory");
	expect(b, fs_unlink(b->fs, f, &e), KLAB_OK, &e, "unlink");
	expect(b, fs_rmdir(b->fs, dir, &e), KLAB_OK, &e, "rmdir empty");
	expect(b, fs_rmdir(b->fs, dir, &e), KLAB_ENOTFOUND, &e, "rmdir missing");
}

static void
test_fs_missing_files_and_directories(void **state)
{
	struct backend *b = *state;
	struct fs_file *f = NULL;
	struct kerr e = { 0 };
	enum fs_kind kind = FS_FILE;
	uint64_t size = 1;
	char p[512], q[512];

	expect(b, fs_open(b->fs, at(b, p, "nope"), 0, &f, &e), KLAB_ENOTFOUND, &e, "open");
	assert_non_null(strstr(e.msg, "nope"));
	expect(b, fs_open(b->fs, at(b, q, "nodir/f"), FS_CREATE, &f, &e), KLAB_ENOTFOUND, &e,
	       "create in a missing directory");
	expect(b, fs_list(b->fs, at(b, q, "nodir"), unlink_each, NULL, &e), KLAB_ENOTFOUND, &e,
	       "list");
	expect(b, fs_fsync_dir(b->fs, q, &e), KLAB_ENOTFOUND, &e, "fsync_dir");
	expect(b, fs_stat(b->fs, p, &kind, &size, &e), KLAB_OK, &e, "stat");
	assert_int_equal(kind, FS_NONE);
	assert_int_equal(size, 0);
	expect(b, fs_stat(b->fs, at(b, q, "nodir/f"), &kind, &size, &e), KLAB_OK, &e, "stat deep");
	assert_int_equal(kind, FS_NONE);
	assert_false(fs_exists(b->fs, q));
}

static void
test_fs_atomic_write_and_bounded_read(void **state)
{
	struct backend *b = *state;
	char p[512], tmp[600], got[32];
	struct kerr e = { 0 };
	struct buf buf;

	buf_init(&buf);
	at(b, p, "checkpoint");
	expect(b, fs_write_file_atomic(b->fs, p, "abc", 3, &e), KLAB_OK, &e, "atomic");
	read_all(b, p, got, sizeof(got));
	assert_string_equal(got, "abc");
	expect(b, fs_write_file_atomic(b->fs, p, "defg", 4, &e), KLAB_OK, &e, "atomic again");
	read_all(b, p, got, sizeof(got));
	assert_string_equal(got, "defg");
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	assert_false(fs_exists(b->fs, tmp));
	expect(b, fs_read_file(b->fs, p, 3, &buf, &e), KLAB_ETOOLARGE, &e, "read_file bound");
	expect(b, fs_read_file(b->fs, p, 4, &buf, &e), KLAB_OK, &e, "read_file at the bound");
	assert_int_equal(buf.len, 4);
	expect(b, fs_read_file(b->fs, at(b, p, "none"), 10, &buf, &e), KLAB_ENOTFOUND, &e,
	       "read_file missing");
	buf_free(&buf);
}

static void
test_fs_mkdirs_and_remove_dir(void **state)
{
	struct backend *b = *state;
	char p[512], f[512];
	struct kerr e = { 0 };
	enum fs_kind kind;
	uint64_t size;

	expect(b, fs_mkdirs(b->fs, at(b, p, "x/y/z"), &e), KLAB_OK, &e, "mkdirs");
	expect(b, fs_mkdirs(b->fs, p, &e), KLAB_OK, &e, "mkdirs again");
	expect(b, fs_stat(b->fs, p, &kind, &size, &e), KLAB_OK, &e, "stat");
	assert_int_equal(kind, FS_DIR);
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "x/y/z/%d.log", i);
		expect(b, fs_create_durable(b->fs, at(b, f, name), &e), KLAB_OK, &e, name);
	}
	expect(b, fs_remove_dir(b->fs, p, &e), KLAB_OK, &e, "remove_dir");
	assert_false(fs_exists(b->fs, p));
	assert_true(fs_exists(b->fs, at(b, f, "x/y")));
}

static void
test_fs_readonly_refuses_writes(void **state)
{
	struct backend *b = *state;
	struct kerr e = { 0 };
	char p[512], got[16];
	struct fs_file *f = open_ok(b, at(b, p, "f"), FS_CREATE);

	write_ok(b, f, "keep", 0);
	fs_close(f);
	f = open_ok(b, p, FS_READONLY);
	assert_int_not_equal(fs_pwrite(f, "XX", 2, 0, &e), KLAB_OK);
	assert_int_not_equal(fs_truncate(f, 1, &e), KLAB_OK);
	assert_int_equal(fs_pread(f, got, sizeof(got), 0, NULL), 4);
	assert_memory_equal(got, "keep", 4);
	fs_close(f);
}

static void
test_fs_a_directory_is_not_a_file(void **state)
{
	struct backend *b = *state;
	struct fs_file *f = NULL;
	struct kerr e = { 0 };
	char p[512], q[512];

	expect(b, fs_mkdir(b->fs, at(b, p, "d"), &e), KLAB_OK, &e, "mkdir");
	expect(b, fs_open(b->fs, p, FS_CREATE, &f, &e), KLAB_EIO, &e, "open a directory");
	fs_close(open_ok(b, at(b, q, "f"), FS_CREATE));
	expect(b, fs_list(b->fs, q, unlink_each, NULL, &e), KLAB_EIO, &e, "list a file");
	expect(b, fs_open(b->fs, at(b, q, "f/g"), FS_CREATE, &f, &e), KLAB_EIO, &e,
	       "a file as a directory");
}

/* Rule 6, on the real disk: a link planted as a file name is refused. */
static void
test_fs_real_refuses_a_symlinked_file(void **state)
{
	struct backend *b = *state;
	char target[512], link[512], got[16];
	struct fs_file *f = NULL;
	struct kerr e = { 0 };
	enum fs_kind kind;
	uint64_t size;

	write_ok(b, f = open_ok(b, at(b, target, "target"), FS_CREATE), "precious", 0);
	fs_close(f);
	assert_int_equal(symlink(target, at(b, link, "00000000000000000000.log")), 0);
	expect(b, fs_open(b->fs, link, FS_CREATE, &f, &e), KLAB_EINVAL, &e, "open a link");
	expect(b, fs_open(b->fs, link, FS_READONLY, &f, &e), KLAB_EINVAL, &e, "open a link");
	expect(b, fs_stat(b->fs, link, &kind, &size, &e), KLAB_EINVAL, &e, "stat a link");
	read_all(b, target, got, sizeof(got));
	assert_string_equal(got, "precious");
}

/* Each test twice: on the real disk, then on the simulated one (setup says which). */
#define BOTH(t)                                                   \
	cmocka_unit_test_setup_teardown(t, setup_real, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_sim, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_fs_create_write_read_size),
		BOTH(test_fs_short_read_only_at_eof),
		BOTH(test_fs_excl_refuses_an_existing_file),
		BOTH(test_fs_truncate_cuts_and_extends_with_zeros),
		BOTH(test_fs_rename_replaces_the_target),
		BOTH(test_fs_unlink_removes_the_name),
		BOTH(test_fs_list_gathers_names_before_calling_back),
		BOTH(test_fs_mkdir_and_rmdir),
		BOTH(test_fs_missing_files_and_directories),
		BOTH(test_fs_atomic_write_and_bounded_read),
		BOTH(test_fs_mkdirs_and_remove_dir),
		BOTH(test_fs_readonly_refuses_writes),
		BOTH(test_fs_a_directory_is_not_a_file),
		cmocka_unit_test_setup_teardown(test_fs_real_refuses_a_symlinked_file, setup_real,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
