/*
 * test_topic.c - topics as sets of partition logs (chapter 2 §1): the
 * on-disk layout (<topic>-<p> directories, .klab-topics/<name>.properties),
 * surviving a clean restart and a crash, num.partitions, per-topic
 * overrides of the log settings, Kafka's name rules, delete and
 * add-partitions.
 *
 * Every test works in its own temporary log directory and passes time in
 * explicitly, so the rolls and deletions expected can be worked out by hand.
 */
#include "testutil.h"

#include "core/config.h"
#include "topic/topic.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"

struct fixture {
	char dir[64];
	struct fs *fs; /* the real disk, or a simulated one for the crash tests */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	f->fs = disk_real();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tu_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Open the store in f->dir with the broker settings in props (may be NULL). */
static struct topic_store *
open_store(const struct fixture *f, const char *props, int64_t now_ms)
{
	struct topic_store *s = NULL;
	struct kerr e = { 0 };
	struct config c;

	config_init(&c);
	if (props != NULL && config_parse(&c, props, "test.properties", &e) != KLAB_OK)
		fail_msg("config_parse: %s", kerr_msg(&e));
	if (topics_open(&s, f->fs, f->dir, &c, 516, now_ms, &e) != KLAB_OK)
		fail_msg("topics_open: %s", kerr_msg(&e));
	config_free(&c);
	return s;
}

/* Overrides from "k=v\nk=v" text. */
static void
overrides(struct config *c, const char *text)
{
	struct kerr e = { 0 };

	config_init(c);
	if (config_parse(c, text, "overrides", &e) != KLAB_OK)
		fail_msg("config_parse: %s", kerr_msg(&e));
}

static struct topic *
create(struct topic_store *s, const char *name, int32_t partitions, const char *ov_text,
       int64_t now_ms)
{
	struct kerr e = { 0 };
	struct config ov;
	int rc;

	overrides(&ov, ov_text != NULL ? ov_text : "");
	rc = topics_create(s, name, partitions, &ov, now_ms, NULL, 0, &e);
	config_free(&ov);
	if (rc != KLAB_OK)
		fail_msg("topics_create %s: %s", name, kerr_msg(&e));
	assert_non_null(topics_find(s, name));
	return topics_find(s, name);
}

/* Expect topics_create to fail with code; returns the message (static). */
static const char *
create_fails(struct topic_store *s, const char *name, int32_t partitions, const char *ov_text,
	     int code)
{
	static struct kerr e;
	struct config ov;
	int rc;

	memset(&e, 0, sizeof(e));
	overrides(&ov, ov_text != NULL ? ov_text : "");
	rc = topics_create(s, name, partitions, &ov, 0, NULL, 0, &e);
	config_free(&ov);
	if (rc != code)
		fail_msg("topics_create '%.40s' returned %s, expected %s (%s)", name,
			 klab_strerror(rc), klab_strerror(code), kerr_msg(&e));
	return kerr_msg(&e);
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

/* True when s is well-formed UTF-8 (no stray continuation or lead bytes). */
static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int more = *p < 0x80		 ? 0
			   : (*p & 0xe0) == 0xc0 ? 1
			   : (*p & 0xf0) == 0xe0 ? 2
			   : (*p & 0xf8) == 0xf0 ? 3
						 : -1;

		if (more < 0)
			return false;
		for (p++; more > 0; more--, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

static bool
path_exists(const struct fixture *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	return tu_file_exists(path);
}

static char *
read_meta(const struct fixture *f, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s.properties", f->dir, TOPICS_META_DIR, name);
	return (char *)tu_file_read(path, NULL);
}

/* Everything in the log, checked batch by batch. */
static void
read_log(struct log *l, struct buf *out)
{
	buf_reset(out);
	assert_int_equal(tu_read_all(l, 1 << 20, out), KLAB_OK);
}

/* ---- create, list, describe ---------------------------------------------- */

static void
test_ch2_topic_create_lays_out_partition_logs_and_metadata(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "orders", 3, NULL, 0);
	char rel[128], *meta;

	assert_string_equal(t->name, "orders");
	assert_int_equal(t->partitions, 3);
	for (int p = 0; p < 3; p++) {
		snprintf(rel, sizeof(rel), "orders-%d/00000000000000000000.log", p);
		assert_true(path_exists(f, rel));
		assert_non_null(t->logs[p]);
		snprintf(rel, sizeof(rel), "/orders-%d", p);
		assert_non_null(strstr(t->logs[p]->dir, rel));
		assert_int_equal(t->logs[p]->next_offset, 0);
	}
	assert_false(path_exists(f, "orders-3"));
	meta = read_meta(f, "orders");
	assert_non_null(meta);
	assert_contains(meta, "partitions=3\n");
	free(meta);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_list_and_describe(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	bool seen[3] = { false };

	assert_int_equal(s->n, 0);
	create(s, "a", 1, NULL, 0);
	create(s, "b", 2, "retention.ms=1000", 0);
	create(s, "c", 3, NULL, 0);
	assert_int_equal(s->n, 3);
	for (size_t i = 0; i < s->n; i++) {
		int k = s->topics[i]->name[0] - 'a';

		assert_true(k >= 0 && k < 3 && !seen[k]);
		seen[k] = true;
		assert_int_equal(s->topics[i]->partitions, k + 1);
	}
	assert_null(topics_find(s, "d"));
	assert_null(topics_find(s, "")); /* a prefix or empty name is no topic */
	assert_string_equal(config_find(&topics_find(s, "b")->overrides, "retention.ms")->value,
			    "1000");
	assert_int_equal(topics_find(s, "a")->overrides.n, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_num_partitions_default(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, "num.partitions=4\n", 0);

	assert_int_equal(create(s, "zero", 0, NULL, 0)->partitions, 4);
	assert_int_equal(create(s, "negative", -1, NULL, 0)->partitions, 4);
	assert_int_equal(create(s, "explicit", 2, NULL, 0)->partitions, 2);
	assert_true(path_exists(f, "zero-3"));
	assert_false(path_exists(f, "zero-4"));
	assert_int_equal(topics_close(s), KLAB_OK);

	/* without num.partitions: Kafka's default of 1 */
	s = open_store(f, NULL, 0);
	assert_int_equal(create(s, "one", 0, NULL, 0)->partitions, 1);
	assert_int_equal(topics_find(s, "zero")->partitions, 4); /* recorded, not recomputed */
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_too_many_partitions_refused(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	const char *msg = create_fails(s, "huge", TOPIC_PARTITIONS_MAX + 1, NULL, KLAB_EINVAL);

	assert_contains(msg, "10001");
	assert_null(topics_find(s, "huge"));
	assert_false(path_exists(f, "huge-0"));
	assert_false(path_exists(f, TOPICS_META_DIR "/huge.properties"));
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* ---- restart -------------------------------------------------------------- */

static void
test_ch2_topic_survives_close_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *a = create(s, "alpha", 2, "retention.ms=60000\nsegment.bytes=4096", 0);
	struct topic *b = create(s, "beta", 3, NULL, 0);
	struct buf before1, before2, after;

	buf_init(&before1);
	buf_init(&before2);
	buf_init(&after);
	for (int i = 0; i < 5; i++) {
		tu_append(a->logs[1], 3, 1000 + i, 50, (uint32_t)i, 1000);
		tu_append(b->logs[2], 2, 2000 + i, 20, (uint32_t)(100 + i), 1000);
	}
	read_log(a->logs[1], &before1);
	read_log(b->logs[2], &before2);
	assert_int_equal(topics_close(s), KLAB_OK);

	s = open_store(f, NULL, 5000);
	assert_int_equal(s->n, 2);
	a = topics_find(s, "alpha");
	b = topics_find(s, "beta");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->partitions, 2);
	assert_int_equal(b->partitions, 3);
	assert_string_equal(config_find(&a->overrides, "retention.ms")->value, "60000");
	assert_string_equal(config_find(&a->overrides, "segment.bytes")->value, "4096");
	assert_int_equal(a->overrides.n, 2);
	assert_int_equal(b->overrides.n, 0);
	assert_int_equal(a->lc.retention_ms, 60000);
	assert_int_equal(a->logs[1]->cfg.segment_bytes, 4096);
	assert_int_equal(a->logs[1]->next_offset, 15);
	assert_int_equal(a->logs[0]->next_offset, 0);
	assert_int_equal(b->logs[2]->next_offset, 10);
	read_log(a->logs[1], &after);
	assert_int_equal(after.len, before1.len);
	assert_memory_equal(after.data, before1.data, after.len);
	read_log(b->logs[2], &after);
	assert_int_equal(after.len, before2.len);
	assert_memory_equal(after.data, before2.data, after.len);
	/* and appends go on where they stopped */
	assert_int_equal(tu_append(b->logs[2], 1, 3000, 10, 7, 5000).first_offset, 10);
	buf_free(&before1);
	buf_free(&before2);
	buf_free(&after);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_metadata_without_partitions_is_completed_on_open(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct topic_store *s;
	struct topic *t;

	/* a crash after the metadata was written, before any partition existed */
	snprintf(path, sizeof(path), "%s/%s", f->dir, TOPICS_META_DIR);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/half.properties", f->dir, TOPICS_META_DIR);
	tu_file_write(path, "partitions=2\nretention.ms=5000\n", 31);
	s = open_store(f, NULL, 0);
	t = topics_find(s, "half");
	assert_non_null(t);
	assert_int_equal(t->partitions, 2);
	assert_int_equal(t->lc.retention_ms, 5000);
	assert_true(path_exists(f, "half-0/00000000000000000000.log"));
	assert_true(path_exists(f, "half-1/00000000000000000000.log"));
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_bad_metadata_fails_open_naming_the_file(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = NULL;
	struct kerr e = { 0 };
	struct config c;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, TOPICS_META_DIR);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/bad.properties", f->dir, TOPICS_META_DIR);
	tu_file_write(path, "partitions=abc\n", 15);
	config_init(&c);
	assert_int_equal(topics_open(&s, disk_real(), f->dir, &c, 516, 0, &e), KLAB_ECONFIG);
	assert_null(s);
	assert_contains(kerr_msg(&e), "bad.properties");
	assert_contains(kerr_msg(&e), "partitions=abc");
	config_free(&c);
}

/* ---- placement (chapter 3: a store opened as one broker of a cluster) ---- */

static void
test_ch2_topic_placed_opens_only_this_brokers_partitions(void **state)
{
	struct fixture *f = *state;
	static const int32_t on[] = { 1, 2, 3, 1, 2 };
	struct topic_store *s = NULL;
	struct kerr e = { 0 };
	struct config c;
	struct topic *t;
	char *meta;

	config_init(&c);
	assert_int_equal(topics_open_as(&s, disk_real(), f->dir, &c, 2, 516, 0, &e), KLAB_OK);
	assert_int_equal(topics_create_placed(s, "orders", 5, 1, on, NULL, NULL, 0, &e), KLAB_OK);
	t = topics_find(s, "orders");
	for (int32_t p = 0; p < 5; p++) {
		assert_int_equal(topic_leader(t, p), on[p]);
		assert_true((t->logs[p] != NULL) == (on[p] == 2));
	}
	assert_int_equal(topic_leader(t, 5), -1);
	assert_true(path_exists(f, "orders-1/00000000000000000000.log"));
	assert_false(path_exists(f, "orders-0"));
	meta = read_meta(f, "orders");
	assert_contains(meta, "replicas.0=1\nreplicas.1=2\n");
	free(meta);
	/* growing a placed topic is refused; deleting drops only our partitions */
	assert_int_equal(topics_add_partitions(s, "orders", 6, 0, &e), KLAB_EINVAL);
	assert_int_equal(topics_close(s), KLAB_OK);
	/* reopened as broker 1: the same placement, broker 1's logs */
	assert_int_equal(topics_open_as(&s, disk_real(), f->dir, &c, 1, 516, 0, &e), KLAB_OK);
	t = topics_find(s, "orders");
	assert_non_null(t);
	for (int32_t p = 0; p < 5; p++) {
		assert_int_equal(topic_leader(t, p), on[p]);
		assert_true((t->logs[p] != NULL) == (on[p] == 1));
	}
	assert_int_equal(topics_delete(s, "orders", &e), KLAB_OK);
	assert_false(path_exists(f, "orders-0"));
	assert_true(path_exists(f, "orders-1")); /* broker 2's, not ours to drop */
	assert_int_equal(topics_close(s), KLAB_OK);
	/* an unplaced store (stage 2) holds every partition */
	assert_int_equal(topics_open(&s, disk_real(), f->dir, &c, 516, 0, &e), KLAB_OK);
	assert_int_equal(topics_create_placed(s, "all", 3, 1, on, NULL, NULL, 0, &e), KLAB_OK);
	for (int32_t p = 0; p < 3; p++)
		assert_non_null(topics_find(s, "all")->logs[p]);
	assert_int_equal(topics_close(s), KLAB_OK);
	config_free(&c);
}

static void
test_ch2_topic_bad_replicas_line_fails_open(void **state)
{
	static const char *const bad[] = {
		"partitions=2\nreplicas.0=1\n",		      /* partition 1 has none */
		"partitions=2\nreplicas.0=1\nreplicas.2=1\n", /* no partition 2 */
		"partitions=1\nreplicas.0=x\n",
		"partitions=1\nreplicas.0=1,\n",
		"partitions=2\nreplicas.0=1\nreplicas.1=1,2\n", /* counts differ */
	};
	struct fixture *f = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, TOPICS_META_DIR);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/t.properties", f->dir, TOPICS_META_DIR);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct topic_store *s = NULL;
		struct kerr e = { 0 };
		struct config c;

		tu_file_write(path, bad[i], strlen(bad[i]));
		config_init(&c);
		assert_int_equal(topics_open_as(&s, disk_real(), f->dir, &c, 1, 516, 0, &e),
				 KLAB_ECORRUPT);
		assert_null(s);
		assert_contains(kerr_msg(&e), "t.properties");
		config_free(&c);
	}
}

/* ---- overrides ------------------------------------------------------------- */

static void
test_ch2_topic_segment_bytes_override_rolls_only_that_topic(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *small = create(s, "small", 1, "segment.bytes=1024", 0);
	struct topic *big = create(s, "big", 1, NULL, 0);

	assert_int_equal(small->lc.segment_bytes, 1024);
	assert_int_equal(small->logs[0]->cfg.segment_bytes, 1024);
	assert_int_equal(big->lc.segment_bytes, 1073741824); /* log.segment.bytes default */
	for (int i = 0; i < 20; i++) {
		tu_append(small->logs[0], 2, i, 100, (uint32_t)i, 0);
		tu_append(big->logs[0], 2, i, 100, (uint32_t)i, 0);
	}
	assert_true(small->logs[0]->nsegs >= 4); /* ~5 KB of batches in 1 KB segments */
	assert_int_equal(big->logs[0]->nsegs, 1);
	for (size_t i = 0; i < small->logs[0]->nsegs; i++)
		assert_true(small->logs[0]->segs[i]->size <= 1024);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_retention_ms_override_deletes_only_that_topic(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, "log.segment.bytes=1024\nlog.retention.ms=-1\n", 0);
	struct topic *brief = create(s, "brief", 1, "retention.ms=1000", 0);
	struct topic *forever = create(s, "forever", 1, NULL, 0);
	struct log_retention_report rep;

	assert_int_equal(brief->lc.retention_ms, 1000);
	assert_int_equal(forever->lc.retention_ms, -1);
	assert_int_equal(brief->lc.segment_bytes, 1024); /* the broker default still applies */
	for (int i = 0; i < 20; i++) {
		tu_append(brief->logs[0], 2, i, 100, (uint32_t)i, 0);
		tu_append(forever->logs[0], 2, i, 100, (uint32_t)i, 0);
	}
	assert_true(brief->logs[0]->nsegs > 1);
	assert_int_equal(log_apply_retention(brief->logs[0], 100000, &rep), KLAB_OK);
	assert_true(rep.segments_deleted > 0);
	assert_int_equal(brief->logs[0]->log_start_offset, 40); /* everything had expired */
	assert_int_equal(log_apply_retention(forever->logs[0], 100000, &rep), KLAB_OK);
	assert_int_equal(rep.segments_deleted, 0);
	assert_int_equal(forever->logs[0]->log_start_offset, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_timestamp_type_override(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "stamped", 1, "message.timestamp.type=LogAppendTime", 0);
	struct topic *u = create(s, "plain", 1, NULL, 0);

	assert_true(t->lc.log_append_time);
	assert_true(t->logs[0]->cfg.log_append_time);
	assert_false(u->lc.log_append_time);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_bad_override_names_key_and_value(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	const char *msg;

	msg = create_fails(s, "t", 1, "segmnt.bytes=1024", KLAB_ECONFIG);
	assert_contains(msg, "segmnt.bytes");
	msg = create_fails(s, "t", 1, "log.retention.ms=5", KLAB_ECONFIG); /* a broker key */
	assert_contains(msg, "log.retention.ms");
	msg = create_fails(s, "t", 1, "segment.bytes=abc", KLAB_ECONFIG);
	assert_contains(msg, "segment.bytes=abc");
	msg = create_fails(s, "t", 1, "segment.bytes=10", KLAB_ECONFIG); /* below 14 */
	assert_contains(msg, "segment.bytes=10");
	msg = create_fails(s, "t", 1, "retention.ms=-2", KLAB_ECONFIG);
	assert_contains(msg, "retention.ms=-2");
	msg = create_fails(s, "t", 1, "segment.bytes=4294967296", KLAB_ECONFIG); /* not an int */
	assert_contains(msg, "segment.bytes=4294967296");
	msg = create_fails(s, "t", 1, "message.timestamp.type=WallClock", KLAB_ECONFIG);
	assert_contains(msg, "message.timestamp.type=WallClock");
	/* nothing of the refused topic is left behind */
	assert_null(topics_find(s, "t"));
	assert_false(path_exists(f, "t-0"));
	assert_false(path_exists(f, TOPICS_META_DIR "/t.properties"));
	assert_int_equal(s->n, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_compaction_is_refused_clearly(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	const char *msg = create_fails(s, "changelog", 1, "cleanup.policy=compact", KLAB_ECONFIG);

	assert_contains(msg, "cleanup.policy=compact");
	assert_contains(msg, "not implemented");
	assert_null(topics_find(s, "changelog"));
	assert_false(path_exists(f, "changelog-0"));
	create(s, "deleting", 1, "cleanup.policy=delete", 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* ---- names ----------------------------------------------------------------- */

static void
test_ch2_topic_name_rules(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	char long_name[TOPIC_NAME_MAX + 2];
	const char *msg;

	memset(long_name, 'x', TOPIC_NAME_MAX + 1);
	long_name[TOPIC_NAME_MAX + 1] = '\0'; /* 250 characters */
	assert_contains(create_fails(s, "", 1, NULL, KLAB_EINVAL), "empty");
	assert_contains(create_fails(s, long_name, 1, NULL, KLAB_EINVAL), "250");
	assert_contains(create_fails(s, "a/b", 1, NULL, KLAB_EINVAL), "'/'");
	assert_contains(create_fails(s, "../escape", 1, NULL, KLAB_EINVAL), "'/'");
	assert_contains(create_fails(s, "a b", 1, NULL, KLAB_EINVAL), "' '");
	assert_contains(create_fails(s, ".", 1, NULL, KLAB_EINVAL), "'.'");
	assert_contains(create_fails(s, "..", 1, NULL, KLAB_EINVAL), "'..'");
	msg = create_fails(s, "caf\xc3\xa9", 1, NULL, KLAB_EINVAL); /* "café" in UTF-8 */
	assert_contains(msg, "ASCII");
	assert_true(utf8_valid(msg)); /* never half a character */
	msg = create_fails(s, "tab\there", 1, NULL, KLAB_EINVAL);
	assert_null(strchr(msg, '\t')); /* one printable line */
	assert_int_equal(s->n, 0);
	assert_false(path_exists(f, "a"));
	assert_false(path_exists(f, "escape-0"));
	/* the edge cases that are legal */
	create(s, "...", 1, NULL, 0);
	create(s, "A-Z_0.9", 1, NULL, 0);
	assert_int_equal(topic_name_validate(long_name + 1, NULL, NULL), KLAB_OK); /* 249 */
	assert_int_equal(topics_close(s), KLAB_OK);
}

/*
 * Kafka allows 249 characters.  klab's metadata file name adds
 * ".properties.tmp" to the topic name, so names past 240 cannot be stored:
 * they must be refused with a reason, not fail half-way with an I/O error.
 */
static void
test_ch2_topic_long_names_work_or_are_refused_clearly(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	char name[TOPIC_NAME_MAX + 1];
	struct kerr e = { 0 };

	memset(name, 'n', TOPIC_NAME_MAX);
	name[TOPIC_NAME_MAX] = '\0';
	assert_int_equal(topics_create(s, name, 2, NULL, 0, NULL, 0, &e), KLAB_EINVAL);
	assert_contains(kerr_msg(&e), "249");
	assert_null(topics_find(s, name));
	assert_int_equal(s->n, 0);

	name[240] = '\0';
	assert_int_equal(topics_create(s, name, 11, NULL, 0, NULL, 0, &e), KLAB_OK);
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, NULL, 0);
	assert_non_null(topics_find(s, name));
	assert_int_equal(topics_find(s, name)->partitions, 11);
	tu_append(topics_find(s, name)->logs[10], 1, 0, 10, 1, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_dot_underscore_collision_warning(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	char warning[512] = "unchanged";
	struct kerr e = { 0 };
	bool collision = false;

	assert_int_equal(topic_name_validate("metrics.v1", &collision, NULL), KLAB_OK);
	assert_true(collision);
	assert_int_equal(topic_name_validate("metrics-v1", &collision, NULL), KLAB_OK);
	assert_false(collision);
	assert_int_equal(topic_name_validate("a_b", &collision, NULL), KLAB_OK);
	assert_true(collision);

	assert_int_equal(topics_create(s, "metrics.v1", 1, NULL, 0, warning, sizeof(warning), &e),
			 KLAB_OK);
	assert_string_equal(warning, ""); /* nothing to collide with yet */
	assert_int_equal(topics_create(s, "metrics_v1", 1, NULL, 0, warning, sizeof(warning), &e),
			 KLAB_OK);
	assert_contains(warning, "metrics_v1");
	assert_contains(warning, "metrics.v1");
	assert_contains(warning, "collide");
	assert_int_equal(topics_create(s, "metrics-v1", 1, NULL, 0, warning, sizeof(warning), &e),
			 KLAB_OK);
	assert_string_equal(warning, "");
	assert_int_equal(s->n, 3);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_duplicate_create_refused(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "dup", 2, NULL, 0);
	const char *msg;
	char *meta;

	tu_append(t->logs[0], 3, 0, 10, 1, 0);
	msg = create_fails(s, "dup", 5, "retention.ms=1", KLAB_EINVAL);
	assert_contains(msg, "already exists");
	t = topics_find(s, "dup");
	assert_int_equal(t->partitions, 2);
	assert_int_equal(t->overrides.n, 0);
	assert_int_equal(t->logs[0]->next_offset, 3);
	assert_int_equal(s->n, 1);
	assert_false(path_exists(f, "dup-2"));
	meta = read_meta(f, "dup");
	assert_contains(meta, "partitions=2\n");
	assert_null(strstr(meta, "retention.ms"));
	free(meta);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* ---- delete, add-partitions ---------------------------------------------- */

static void
test_ch2_topic_delete_removes_everything(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "doomed", 3, "retention.ms=1000", 0);
	struct topic *k = create(s, "kept", 1, NULL, 0);
	struct kerr e = { 0 };

	tu_append(t->logs[1], 4, 0, 10, 1, 0);
	tu_append(k->logs[0], 2, 0, 10, 2, 0);
	assert_int_equal(topics_delete(s, "doomed", &e), KLAB_OK);
	assert_null(topics_find(s, "doomed"));
	assert_int_equal(s->n, 1);
	for (int p = 0; p < 3; p++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "doomed-%d", p);
		assert_false(path_exists(f, rel));
	}
	assert_false(path_exists(f, TOPICS_META_DIR "/doomed.properties"));
	assert_int_equal(topics_delete(s, "doomed", &e), KLAB_ENOTFOUND);
	assert_contains(kerr_msg(&e), "doomed");
	assert_int_equal(topics_close(s), KLAB_OK);

	s = open_store(f, NULL, 0);
	assert_null(topics_find(s, "doomed"));
	assert_int_equal(s->n, 1);
	assert_int_equal(topics_find(s, "kept")->logs[0]->next_offset, 2);
	/* the name is free again, and the new topic starts empty */
	t = create(s, "doomed", 2, NULL, 0);
	assert_int_equal(t->logs[1]->next_offset, 0);
	assert_int_equal(t->logs[1]->log_start_offset, 0);
	assert_int_equal(t->overrides.n, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_delete_then_recreate_in_one_session(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "again", 1, NULL, 0);
	struct kerr e = { 0 };
	struct buf out;

	tu_append(t->logs[0], 5, 0, 10, 1, 0);
	assert_int_equal(topics_close(s), KLAB_OK); /* checkpoints now name again-0 at 5 */
	s = open_store(f, NULL, 0);
	assert_int_equal(topics_delete(s, "again", &e), KLAB_OK);
	t = create(s, "again", 1, NULL, 0);
	assert_int_equal(t->logs[0]->next_offset, 0);
	assert_int_equal(t->logs[0]->log_start_offset, 0);
	assert_int_equal(tu_append(t->logs[0], 2, 0, 10, 9, 0).first_offset, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, NULL, 0);
	t = topics_find(s, "again");
	assert_int_equal(t->logs[0]->next_offset, 2);
	buf_init(&out);
	read_log(t->logs[0], &out);
	assert_true(out.len > 0);
	buf_free(&out);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_add_partitions_grows_and_never_shrinks(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "grow", 2, "segment.bytes=2048", 0);
	struct kerr e = { 0 };
	char *meta;

	tu_append(t->logs[0], 3, 0, 10, 1, 0);
	tu_append(t->logs[1], 4, 0, 10, 2, 0);
	assert_int_equal(topics_add_partitions(s, "grow", 5, 0, &e), KLAB_OK);
	t = topics_find(s, "grow");
	assert_int_equal(t->partitions, 5);
	assert_int_equal(t->logs[0]->next_offset, 3);
	assert_int_equal(t->logs[1]->next_offset, 4);
	for (int p = 2; p < 5; p++) {
		assert_int_equal(t->logs[p]->next_offset, 0);
		assert_int_equal(t->logs[p]->cfg.segment_bytes, 2048); /* overrides apply too */
	}
	assert_true(path_exists(f, "grow-4/00000000000000000000.log"));
	meta = read_meta(f, "grow");
	assert_contains(meta, "partitions=5\n");
	assert_contains(meta, "segment.bytes=2048");
	free(meta);

	assert_int_equal(topics_add_partitions(s, "grow", 3, 0, &e), KLAB_EINVAL);
	assert_contains(kerr_msg(&e), "never removes");
	assert_int_equal(topics_add_partitions(s, "grow", 5, 0, &e), KLAB_EINVAL);
	assert_int_equal(topics_add_partitions(s, "grow", TOPIC_PARTITIONS_MAX + 1, 0, &e),
			 KLAB_EINVAL);
	assert_int_equal(topics_add_partitions(s, "nosuch", 5, 0, &e), KLAB_ENOTFOUND);
	assert_int_equal(t->partitions, 5);
	assert_false(path_exists(f, "grow-5"));
	assert_int_equal(topics_close(s), KLAB_OK);

	s = open_store(f, NULL, 0);
	t = topics_find(s, "grow");
	assert_int_equal(t->partitions, 5);
	assert_int_equal(t->logs[1]->next_offset, 4);
	assert_int_equal(t->logs[4]->next_offset, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_create_that_cannot_open_a_partition_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct kerr e = { 0 };
	char path[512];
	int rc;

	/* a stray file where partition 1's directory must go */
	snprintf(path, sizeof(path), "%s/broken-1", f->dir);
	tu_file_write(path, "x", 1);
	rc = topics_create(s, "broken", 3, NULL, 0, NULL, 0, &e);
	assert_int_not_equal(rc, KLAB_OK);
	assert_contains(kerr_msg(&e), "broken-1");
	assert_null(topics_find(s, "broken"));
	assert_int_equal(s->n, 0);
	assert_false(path_exists(f, TOPICS_META_DIR "/broken.properties"));
	assert_false(path_exists(f, "broken-0"));
	assert_false(path_exists(f, "broken-2"));
	assert_true(path_exists(f, "broken-1")); /* not ours: left alone */
	assert_int_equal(topics_close(s), KLAB_OK);
	s = open_store(f, NULL, 0);
	assert_int_equal(s->n, 0);
	assert_int_equal(topics_close(s), KLAB_OK);
}

static void
test_ch2_topic_add_partitions_that_fails_keeps_the_ones_it_has(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "stuck", 1, NULL, 0);
	struct kerr e = { 0 };
	char path[512], *meta;

	tu_append(t->logs[0], 2, 0, 10, 1, 0);
	snprintf(path, sizeof(path), "%s/stuck-2", f->dir);
	tu_file_write(path, "x", 1);
	assert_int_not_equal(topics_add_partitions(s, "stuck", 4, 0, &e), KLAB_OK);
	assert_contains(kerr_msg(&e), "stuck-2");
	/* invariant 1: every partition counted has an open log */
	assert_int_equal(t->partitions, 2);
	assert_int_equal(t->logs[0]->next_offset, 2);
	assert_int_equal(t->logs[1]->next_offset, 0);
	assert_int_equal(tu_append(t->logs[1], 1, 0, 10, 2, 0).first_offset, 0);
	/* invariant 2: the metadata says the same */
	meta = read_meta(f, "stuck");
	assert_contains(meta, "partitions=2\n");
	free(meta);
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* topics_check_invariants: a held partition without an open log is caught. */
static void
test_ch2_topic_check_invariants(void **state)
{
	struct fixture *f = *state;
	struct topic_store *s = open_store(f, NULL, 0);
	struct topic *t = create(s, "checked", 2, NULL, 0);
	struct kerr e = { 0 };
	struct log *keep;

	assert_int_equal(topics_check_invariants(s, &e), KLAB_OK);
	keep = t->logs[1];
	t->logs[1] = NULL;
	assert_int_equal(topics_check_invariants(s, &e), KLAB_ESTATE);
	assert_non_null(strstr(kerr_msg(&e), "invariant 1"));
	t->logs[1] = keep;
	keep->recovery_point = keep->next_offset + 5; /* a log's own rule */
	assert_int_equal(topics_check_invariants(s, &e), KLAB_ESTATE);
	assert_non_null(strstr(kerr_msg(&e), "invariant 3"));
	keep->recovery_point = keep->next_offset;
	assert_int_equal(topics_close(s), KLAB_OK);
}

/* ---- crash ----------------------------------------------------------------- */

/*
 * A power cut on the simulated disk, over many seeds: the topic's
 * metadata file and everything flushed survive; of the unflushed batches
 * a prefix (maybe none) survives, each batch whole.
 */
static void
crash_once(struct fixture *f, uint64_t seed)
{
	struct disk_sim *disk = disk_sim_new(seed);
	struct topic_store *s;
	struct topic *t;
	struct buf out;
	int64_t next = -1;

	assert_non_null(disk);
	f->fs = disk_sim_fs(disk);
	buf_init(&out);
	s = open_store(f, NULL, 0);
	t = create(s, "fragile", 2, "retention.ms=600000", 0);
	for (int i = 0; i < 4; i++)
		tu_append(t->logs[0], 2, i, 30, (uint32_t)i, 0);
	assert_int_equal(topics_close(s), KLAB_OK); /* 8 records, flushed */

	s = open_store(f, NULL, 0);
	t = topics_find(s, "fragile");
	for (int i = 0; i < 6; i++) /* 6 unflushed batches */
		tu_append(t->logs[0], 2, 10 + i, 30, (uint32_t)(10 + i), 0);
	tu_append(t->logs[1], 1, 0, 30, 99, 0);
	topics_release(s); /* the process dies: no I/O */
	assert_int_equal(disk_sim_crash(disk, NULL), KLAB_OK);

	s = open_store(f, NULL, 0);
	t = topics_find(s, "fragile");
	assert_non_null(t);
	assert_int_equal(t->partitions, 2);
	assert_int_equal(t->lc.retention_ms, 600000);
	assert_false(t->logs[0]->report.clean);
	read_log(t->logs[0], &out);
	if (t->logs[0]->next_offset < 8 || t->logs[0]->next_offset > 20 ||
	    t->logs[0]->next_offset % 2 != 0)
		fail_msg("seed %" PRIu64 ": log end %" PRId64 " (reproduce with KLAB_SEED=%" PRIu64
			 ")",
			 seed, t->logs[0]->next_offset, seed);
	assert_int_equal(tu_check_batches(out.data, out.len, &next),
			 4 + (t->logs[0]->next_offset - 8) / 2);
	assert_true(next == t->logs[0]->next_offset);
	assert_true(t->logs[1]->next_offset <= 1); /* its one batch: whole or gone */
	assert_int_equal(topics_close(s), KLAB_OK);
	buf_free(&out);
	disk_sim_free(disk);
	f->fs = disk_real();
}

static void
test_ch2_topic_crash_then_reopen_recovers(void **state)
{
	uint64_t first = tu_seed(1), n = getenv("KLAB_SEED") ? 1 : 50;

	for (uint64_t seed = first; seed < first + n; seed++)
		crash_once(*state, seed);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch2_topic_create_lays_out_partition_logs_and_metadata),
		T(test_ch2_topic_list_and_describe),
		T(test_ch2_topic_num_partitions_default),
		T(test_ch2_topic_too_many_partitions_refused),
		T(test_ch2_topic_survives_close_and_reopen),
		T(test_ch2_topic_metadata_without_partitions_is_completed_on_open),
		T(test_ch2_topic_bad_metadata_fails_open_naming_the_file),
		T(test_ch2_topic_placed_opens_only_this_brokers_partitions),
		T(test_ch2_topic_bad_replicas_line_fails_open),
		T(test_ch2_topic_segment_bytes_override_rolls_only_that_topic),
		T(test_ch2_topic_retention_ms_override_deletes_only_that_topic),
		T(test_ch2_topic_timestamp_type_override),
		T(test_ch2_topic_bad_override_names_key_and_value),
		T(test_ch2_topic_compaction_is_refused_clearly),
		T(test_ch2_topic_name_rules),
		T(test_ch2_topic_long_names_work_or_are_refused_clearly),
		T(test_ch2_topic_dot_underscore_collision_warning),
		T(test_ch2_topic_duplicate_create_refused),
		T(test_ch2_topic_delete_removes_everything),
		T(test_ch2_topic_delete_then_recreate_in_one_session),
		T(test_ch2_topic_add_partitions_grows_and_never_shrinks),
		T(test_ch2_topic_create_that_cannot_open_a_partition_leaves_nothing),
		T(test_ch2_topic_add_partitions_that_fails_keeps_the_ones_it_has),
		T(test_ch2_topic_crash_then_reopen_recovers),
		T(test_ch2_topic_check_invariants),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
