/*
 * test_topic_id.c - topic ids (KIP-516; topic.h): drawn at creation, kept
 * in the topic's properties file and in each partition directory's
 * partition.metadata exactly as Kafka writes it, the same after a clean
 * restart and after a crash; given to topics an older klab wrote; a
 * missing or unreadable partition.metadata rewritten from the properties;
 * one naming another id refusing its topic (INCONSISTENT_TOPIC_ID), and
 * nothing else.
 *
 * The store lives on a simulated disk (net/disk_sim.h), so a crash can be
 * cut in anywhere and every seed replays.
 */
#include "testutil.h"

#include "core/config.h"
#include "core/fs.h"
#include "net/disk_sim.h"
#include "topic/topic.h"

#define STORE "/data/logs"

struct fixture {
	struct disk_sim *disk;
	struct fs *fs;
	struct config cfg;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->disk = disk_sim_new(tu_seed(516));
	assert_non_null(f->disk);
	f->fs = disk_sim_fs(f->disk);
	config_init(&f->cfg);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(&f->cfg);
	disk_sim_free(f->disk);
	free(f);
	return 0;
}

static struct topic_store *
open_store(struct fixture *f, uint64_t seed)
{
	struct topic_store *s = NULL;
	struct kerr e = { 0 };

	if (topics_open(&s, f->fs, STORE, &f->cfg, seed, 0, &e) != KLAB_OK)
		fail_msg("topics_open: %s", kerr_msg(&e));
	return s;
}

static struct topic *
create(struct topic_store *s, const char *name, int32_t partitions)
{
	struct kerr e = { 0 };

	if (topics_create(s, name, partitions, NULL, 0, NULL, 0, &e) != KLAB_OK)
		fail_msg("topics_create %s: %s", name, kerr_msg(&e));
	return topics_find(s, name);
}

static void
pm_path(const char *topic, int p, char *out, size_t n)
{
	snprintf(out, n, STORE "/%s-%d/" PARTITION_METADATA_FILE, topic, p);
}

/* The text of a file (NUL-terminated), or NULL when it is absent. */
static char *
get_file(struct fixture *f, const char *path)
{
	struct buf b;
	char *text;

	buf_init(&b);
	if (fs_read_file(f->fs, path, 1 << 20, &b, NULL) != KLAB_OK) {
		buf_free(&b);
		return NULL;
	}
	text = strdup((const char *)b.data);
	buf_free(&b);
	return text;
}

static void
put_file(struct fixture *f, const char *path, const void *bytes, size_t n)
{
	struct kerr e = { 0 };

	if (fs_write_file_atomic(f->fs, path, bytes, n, &e) != KLAB_OK)
		fail_msg("%s", kerr_msg(&e));
}

/* Every partition of topic holds Kafka's partition.metadata for id. */
static void
assert_partition_ids(struct fixture *f, const char *topic, int32_t partitions, const uint8_t *id)
{
	char path[256], want[PARTITION_METADATA_MAX_BYTES], *got;

	partition_metadata_format(id, want, sizeof(want));
	for (int p = 0; p < partitions; p++) {
		pm_path(topic, p, path, sizeof(path));
		got = get_file(f, path);
		if (got == NULL || strcmp(got, want) != 0)
			fail_msg("%s: '%s', want '%s'", path, got ? got : "(absent)", want);
		free(got);
	}
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
}

/* ---- the formats ------------------------------------------------------------ */

static void
test_ch2_topic_id_files_as_kafka_writes_them(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	struct topic *t = create(s, "orders", 3);
	char id[UUID_STRING_LEN + 1], line[64], want[128], *meta;
	uint8_t got[UUID_BYTES], other[UUID_BYTES] = { 9 };

	uuid_to_string(t->id, id);
	assert_int_equal(t->id[6] >> 4, 4); /* version 4 */
	assert_int_equal(t->id[8] >> 6, 2); /* variant 10 */
	/* PartitionMetadata.encode: two lines, no final newline, 43 bytes */
	snprintf(want, sizeof(want), "version: 0\ntopic_id: %s", id);
	assert_int_equal(strlen(want), 43);
	assert_partition_ids(f, "orders", 3, t->id);
	meta = get_file(f, STORE "/" TOPICS_META_DIR "/orders.properties");
	snprintf(line, sizeof(line), "\ntopic.id=%s\n", id);
	assert_contains(meta, line);
	free(meta);
	/* found by name and by id; unknown ids and names are not */
	assert_int_equal(topics_id(s, "orders", got), KLAB_OK);
	assert_memory_equal(got, t->id, UUID_BYTES);
	assert_ptr_equal(topics_find_id(s, t->id), t);
	assert_int_equal(topics_id(s, "nosuch", got), KLAB_ENOTFOUND);
	assert_null(topics_find_id(s, other));
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_id_partition_metadata_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"version: 0",
		"version: 0\n",
		"version: 0\ntopic_id: ",
		"version:0\ntopic_id: UXyU9i5ARn6W00ON2taeWA",
		"version:  0\ntopic_id: UXyU9i5ARn6W00ON2taeWA",
		"version: -1\ntopic_id: UXyU9i5ARn6W00ON2taeWA",
		"version: 1234567890\ntopic_id: UXyU9i5ARn6W00ON2taeWA",
		"version: 0\ntopic-id: UXyU9i5ARn6W00ON2taeWA",
		"version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeW",
		"version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA\n\n",
		"version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA junk",
		"version: 0\ntopic_id: UXyU9i5ARn6W00ON2ta+WA",
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA", /* ZERO_UUID */
		"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ", /* the metadata topic's */
		"topic_id: UXyU9i5ARn6W00ON2taeWA\nversion: 0",
	};
	uint8_t id[UUID_BYTES], want[UUID_BYTES];
	struct kerr e = { 0 };
	const char *kafka = "version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA";

	(void)state;
	assert_int_equal(uuid_parse("UXyU9i5ARn6W00ON2taeWA", 22, want, NULL), KLAB_OK);
	assert_int_equal(partition_metadata_parse(kafka, strlen(kafka), "p", id, &e), KLAB_OK);
	assert_memory_equal(id, want, UUID_BYTES);
	/* one final newline, and a later version (Kafka reads those too) */
	assert_int_equal(partition_metadata_parse("version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA\n",
						  44, "p", id, &e),
			 KLAB_OK);
	assert_int_equal(partition_metadata_parse("version: 7\ntopic_id: UXyU9i5ARn6W00ON2taeWA",
						  43, "p", id, &e),
			 KLAB_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (partition_metadata_parse(bad[i], strlen(bad[i]), "/x/t-0/partition.metadata",
					     id, &e) != KLAB_ECORRUPT)
			fail_msg("accepted '%s'", bad[i]);
		assert_contains(kerr_msg(&e), "/x/t-0/partition.metadata");
	}
	/* a NUL inside is not text */
	assert_int_equal(partition_metadata_parse("version: 0\ntopic_id: UXyU9i5A\0n6W00ON2taeWA",
						  43, "p", id, NULL),
			 KLAB_ECORRUPT);
}

/* ---- durability ----------------------------------------------------------------- */

static void
test_ch2_topic_id_survives_restart_and_crash(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	uint8_t a[UUID_BYTES], b[UUID_BYTES];
	struct topic *t;

	memcpy(a, create(s, "orders", 2)->id, UUID_BYTES);
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, 2); /* another seed: the ids come from the disk */
	assert_memory_equal(topics_find(s, "orders")->id, a, UUID_BYTES);
	t = create(s, "clicks", 3);
	memcpy(b, t->id, UUID_BYTES);
	assert_false(uuid_equal(a, b));
	topics_release(s); /* the process dies: no I/O */
	assert_int_equal(disk_sim_crash(f->disk, NULL), KLAB_OK);
	s = open_store(f, 3);
	assert_memory_equal(topics_find(s, "orders")->id, a, UUID_BYTES);
	assert_memory_equal(topics_find(s, "clicks")->id, b, UUID_BYTES);
	assert_int_equal(s->ids_repaired, 0);
	assert_int_equal(s->nrefused, 0);
	assert_partition_ids(f, "clicks", 3, b);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* The same seed after a delete never gives a live topic's id to another. */
static void
test_ch2_topic_id_unique_in_the_store(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 7);
	uint8_t first[UUID_BYTES];
	struct kerr e = { 0 };

	memcpy(first, create(s, "a", 1)->id, UUID_BYTES);
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, 7); /* the same seed: its first draw is a's id */
	assert_false(uuid_equal(create(s, "b", 1)->id, first));
	assert_int_equal(topics_check_invariants(s, &e), KLAB_OK);
	/* an id given by another broker: never reserved, never another topic's */
	assert_int_equal(topics_create_placed(s, "c", 1, 0, NULL, NULL, first, 0, &e), KLAB_EINVAL);
	assert_contains(kerr_msg(&e), "'a'");
	memset(first, 0, sizeof(first));
	assert_int_equal(topics_create_placed(s, "c", 1, 0, NULL, NULL, first, 0, &e), KLAB_EINVAL);
	assert_contains(kerr_msg(&e), "reserved");
	first[0] = 0x42;
	assert_int_equal(topics_create_placed(s, "c", 1, 0, NULL, NULL, first, 0, &e), KLAB_OK);
	assert_memory_equal(topics_find(s, "c")->id, first, UUID_BYTES);
	assert_partition_ids(f, "c", 1, first);
	/* invariant 3 catches two topics with one id */
	memcpy(topics_find(s, "b")->id, first, UUID_BYTES);
	assert_int_equal(topics_check_invariants(s, &e), KLAB_ESTATE);
	assert_contains(kerr_msg(&e), "invariant 3");
	topics_release(s);
}

/*
 * A crash after the properties file but before the partition directories
 * (or before their partition.metadata): the next open writes them from
 * the properties, with the same id.
 */
static void
test_ch2_topic_id_missing_or_torn_partition_metadata_rewritten(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	char path[256], *text;
	uint8_t id[UUID_BYTES];

	memcpy(id, create(s, "orders", 3)->id, UUID_BYTES);
	assert_int_equal(topics_close(s), KLAB_OK);
	pm_path("orders", 0, path, sizeof(path));
	assert_int_equal(fs_unlink(f->fs, path, NULL), KLAB_OK);
	pm_path("orders", 1, path, sizeof(path));
	put_file(f, path, "version: 0\ntopic_id: UXy", 24); /* a torn prefix */
	pm_path("orders", 2, path, sizeof(path));
	put_file(f, path, "", 0);
	s = open_store(f, 2);
	assert_memory_equal(topics_find(s, "orders")->id, id, UUID_BYTES);
	assert_int_equal(s->ids_repaired, 3);
	assert_partition_ids(f, "orders", 3, id);
	topics_release(s);
	assert_int_equal(disk_sim_crash(f->disk, NULL), KLAB_OK); /* and the rewrite was durable */
	assert_partition_ids(f, "orders", 3, id);
	s = open_store(f, 3);
	assert_int_equal(s->ids_repaired, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
	/* the whole partition directory gone: created again, with the id */
	assert_int_equal(fs_remove_dir(f->fs, STORE "/orders-1", NULL), KLAB_OK);
	s = open_store(f, 4);
	assert_int_equal(s->ids_repaired, 1);
	assert_partition_ids(f, "orders", 3, id);
	text = get_file(f, STORE "/" TOPICS_META_DIR "/orders.properties");
	assert_non_null(text);
	free(text);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/*
 * Reopened with the same seed (a script on a virtual clock), a store does
 * not give a new topic the id of one deleted before: the ids it finds at
 * open move its generator on.
 */
static void
test_ch2_topic_id_deleted_id_not_drawn_again(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 11);
	uint8_t gone[UUID_BYTES];

	create(s, "keep", 1);
	memcpy(gone, create(s, "gone", 1)->id, UUID_BYTES);
	assert_int_equal(topics_delete(s, "gone", NULL), KLAB_OK);
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, 11);
	assert_false(uuid_equal(create(s, "gone", 1)->id, gone));
	assert_false(uuid_equal(create(s, "other", 1)->id, gone));
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* A topic written before topic ids: given one at open, kept from then on. */
static void
test_ch2_topic_id_older_topic_gets_one(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s;
	uint8_t id[UUID_BYTES];
	char *meta;

	assert_int_equal(fs_mkdirs(f->fs, STORE "/" TOPICS_META_DIR, NULL), KLAB_OK);
	put_file(f, STORE "/" TOPICS_META_DIR "/old.properties", "partitions=2\n", 13);
	s = open_store(f, 1);
	memcpy(id, topics_find(s, "old")->id, UUID_BYTES);
	assert_false(uuid_is_reserved(id));
	assert_partition_ids(f, "old", 2, id);
	meta = get_file(f, STORE "/" TOPICS_META_DIR "/old.properties");
	assert_contains(meta, "topic.id=");
	free(meta);
	topics_release(s);
	assert_int_equal(disk_sim_crash(f->disk, NULL), KLAB_OK);
	s = open_store(f, 99);
	assert_memory_equal(topics_find(s, "old")->id, id, UUID_BYTES);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* An older topic whose partitions already know an id (the properties lost it) takes it. */
static void
test_ch2_topic_id_older_topic_takes_its_partitions_id(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s;
	const char *kafka = "version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA";
	uint8_t want[UUID_BYTES];

	assert_int_equal(uuid_parse("UXyU9i5ARn6W00ON2taeWA", 22, want, NULL), KLAB_OK);
	assert_int_equal(fs_mkdirs(f->fs, STORE "/" TOPICS_META_DIR, NULL), KLAB_OK);
	assert_int_equal(fs_mkdirs(f->fs, STORE "/old-1", NULL), KLAB_OK);
	put_file(f, STORE "/old-1/" PARTITION_METADATA_FILE, kafka, strlen(kafka));
	put_file(f, STORE "/" TOPICS_META_DIR "/old.properties", "partitions=2\n", 13);
	s = open_store(f, 1);
	assert_memory_equal(topics_find(s, "old")->id, want, UUID_BYTES);
	assert_partition_ids(f, "old", 2, want);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* ---- an id that disagrees: the topic is refused, the others open ---------------- */

static void
test_ch2_topic_id_inconsistent_partition_refuses_the_topic(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	const char *other = "version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA";
	char path[256], *before, *after;
	struct kerr e = { 0 };
	struct topic *t;

	t = create(s, "orders", 2);
	tu_append(t->logs[1], 3, 0, 20, 1, 0);
	create(s, "clicks", 1);
	assert_int_equal(topics_close(s), KLAB_OK);
	pm_path("orders", 1, path, sizeof(path));
	put_file(f, path, other, strlen(other));
	before = get_file(f, STORE "/orders-1/00000000000000000000.log");

	s = open_store(f, 2);
	assert_null(topics_find(s, "orders"));
	assert_non_null(topics_find(s, "clicks"));
	assert_int_equal(s->nrefused, 1);
	assert_non_null(topics_refused(s, "orders"));
	assert_contains(kerr_msg(topics_refused(s, "orders")), "INCONSISTENT_TOPIC_ID");
	assert_contains(kerr_msg(topics_refused(s, "orders")), "orders-1/partition.metadata");
	assert_contains(kerr_msg(topics_refused(s, "orders")), "UXyU9i5ARn6W00ON2taeWA");
	/* nothing of it is touched, nor can it be created over */
	assert_int_equal(topics_create(s, "orders", 1, NULL, 0, NULL, 0, &e), KLAB_ESTATE);
	assert_contains(kerr_msg(&e), "INCONSISTENT_TOPIC_ID");
	after = get_file(f, STORE "/orders-1/00000000000000000000.log");
	assert_non_null(after);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(topics_close(s), KLAB_OK);

	/* deleting it forgets it; the name is free again, with a new id */
	s = open_store(f, 3);
	assert_int_equal(s->nrefused, 1);
	assert_int_equal(topics_delete(s, "orders", &e), KLAB_OK);
	assert_null(topics_refused(s, "orders"));
	t = create(s, "orders", 2);
	assert_int_equal(t->logs[1]->next_offset, 0); /* the old directory is gone */
	assert_partition_ids(f, "orders", 2, t->id);
	assert_int_equal(topics_close(s), KLAB_OK);
	free(before);
}

/* Garbage, oversized or a directory: rewritten, never read beyond the limit. */
static void
test_ch2_topic_id_garbage_partition_metadata_rewritten(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	uint8_t id[UUID_BYTES], junk[4096];
	char path[256];

	memcpy(id, create(s, "orders", 3)->id, UUID_BYTES);
	assert_int_equal(topics_close(s), KLAB_OK);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	pm_path("orders", 0, path, sizeof(path));
	put_file(f, path, junk, 64); /* binary */
	pm_path("orders", 1, path, sizeof(path));
	put_file(f, path, junk, sizeof(junk)); /* larger than the limit */
	pm_path("orders", 2, path, sizeof(path));
	put_file(f, path, "version: 0\ntopic_id: UXyU9i5ARn6W00ON2taeWA\nversion: 0\n", 55);
	s = open_store(f, 2);
	assert_non_null(topics_find(s, "orders"));
	assert_int_equal(s->ids_repaired, 3);
	assert_partition_ids(f, "orders", 3, id);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* A corrupt topic.id in the properties file fails the open, naming it. */
static void
test_ch2_topic_id_bad_properties_id_fails_open(void **state)
{
	static const char *const bad[] = {
		"partitions=1\ntopic.id=nope\n",
		"partitions=1\ntopic.id=AAAAAAAAAAAAAAAAAAAAAA\n",
		"partitions=1\ntopic.id=UXyU9i5ARn6W00ON2taeWA==\n",
	};
	struct fixture *f = *state;
	struct topic_store *s = NULL;
	struct kerr e = { 0 };

	assert_int_equal(fs_mkdirs(f->fs, STORE "/" TOPICS_META_DIR, NULL), KLAB_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file(f, STORE "/" TOPICS_META_DIR "/t.properties", bad[i], strlen(bad[i]));
		assert_int_equal(topics_open(&s, f->fs, STORE, &f->cfg, 1, 0, &e), KLAB_ECORRUPT);
		assert_contains(kerr_msg(&e), "t.properties");
		assert_contains(kerr_msg(&e), "topic.id=");
	}
}

/* Two properties files with one id (a copied file): the second one read is refused. */
static void
test_ch2_topic_id_duplicate_id_refused(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, 1);
	char *text;

	create(s, "a", 1);
	assert_int_equal(topics_close(s), KLAB_OK);
	text = get_file(f, STORE "/" TOPICS_META_DIR "/a.properties");
	put_file(f, STORE "/" TOPICS_META_DIR "/b.properties", text, strlen(text));
	free(text);
	s = open_store(f, 2);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->nrefused, 1);
	assert_contains(kerr_msg(&s->refused[0].why), "INCONSISTENT_TOPIC_ID");
	assert_int_equal(topics_close(s), KLAB_OK);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch2_topic_id_files_as_kafka_writes_them),
		T(test_ch2_topic_id_partition_metadata_parse),
		T(test_ch2_topic_id_survives_restart_and_crash),
		T(test_ch2_topic_id_unique_in_the_store),
		T(test_ch2_topic_id_missing_or_torn_partition_metadata_rewritten),
		T(test_ch2_topic_id_deleted_id_not_drawn_again),
		T(test_ch2_topic_id_older_topic_gets_one),
		T(test_ch2_topic_id_older_topic_takes_its_partitions_id),
		T(test_ch2_topic_id_inconsistent_partition_refuses_the_topic),
		T(test_ch2_topic_id_garbage_partition_metadata_rewritten),
		T(test_ch2_topic_id_bad_properties_id_fails_open),
		T(test_ch2_topic_id_duplicate_id_refused),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
