/*
 * topic.c - topics and their partitions (see topic.h; chapter 2 §1).
 *
 * Creating a topic writes its metadata file first and then creates the
 * partition logs; opening the store reads every metadata file and opens
 * the logs it names.  A crash between the two steps leaves a topic whose
 * partitions are created (empty) on the next open - never a partition
 * directory that no topic owns.
 *
 * Topic ids (KIP-516; the formats are in topic.h).  Creation draws the
 * id, writes it in the metadata file, opens the partitions and writes
 * each one's partition.metadata - every file durably (fs_write_file_atomic)
 * and all before the topic is announced.  So a crash leaves one of:
 *
 *   metadata file    partition.metadata    on the next open
 *   -------------    ------------------    --------------------------------
 *   absent           (no directories)      no topic
 *   with the id      absent                written from the metadata file
 *   with the id      with the same id      the topic, as it was
 *   without an id    -                     a klab older than topic ids: an
 *                                          id drawn and written now
 *
 * The metadata file is the authority, as the /brokers/topics znode is for
 * Kafka.  A partition.metadata that cannot be read (garbage, oversized,
 * torn by a disk that does not keep renames atomic) is rewritten from it
 * and counted in ids_repaired.  One that reads well but names another id
 * belongs to another topic of the same name; Kafka raises
 * InconsistentTopicIdException, klab refuses the topic (topics_refused):
 * it is neither served nor recreated until it is deleted.
 *
 * Invariants:
 *   1. Every topic in the store has `partitions` log slots; the slots of
 *      the partitions this broker holds (all of them without a broker id)
 *      are open logs named <name>-<p>, the others NULL.
 *   2. Its metadata file records the same partition count.
 *   3. Its id is not reserved (uuid.h) and no other topic in the store has
 *      it.
 */
#include "topic/topic.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Kafka allows 249-character names; klab's metadata file
 * "<name>.properties.tmp" must also fit in one file name.
 */
#define FILE_NAME_MAX 255
#define TOPIC_NAME_MAX_ON_DISK ((size_t)FILE_NAME_MAX - (sizeof(".properties.tmp") - 1))
_Static_assert(TOPIC_NAME_MAX_ON_DISK == TOPIC_NAME_MAX_KLAB, "topic.h names klab's limit");

static const char *const cleanup_policies[] = { "delete", NULL };
static const char *const timestamp_types[] = { "CreateTime", "LogAppendTime", NULL };

/* Kafka's topic-level keys, and the log setting each overrides. */
const struct config_key topic_config_keys[] = {
	{ "cleanup.policy", CONFIG_STRING, "delete", 0, -1, cleanup_policies,
	  "delete old segments (compaction is not implemented in klab yet)" },
	{ "retention.ms", CONFIG_LONG, NULL, -1, INT64_MAX, NULL, "log.retention.ms" },
	{ "retention.bytes", CONFIG_LONG, NULL, -1, INT64_MAX, NULL, "log.retention.bytes" },
	{ "segment.bytes", CONFIG_INT, NULL, 14, INT32_MAX, NULL, "log.segment.bytes" },
	{ "segment.ms", CONFIG_LONG, NULL, 1, INT64_MAX, NULL, "log.roll.ms" },
	{ "segment.index.bytes", CONFIG_INT, NULL, 4, INT32_MAX, NULL, "log.index.size.max.bytes" },
	{ "index.interval.bytes", CONFIG_INT, NULL, 0, INT32_MAX, NULL,
	  "log.index.interval.bytes" },
	{ "flush.messages", CONFIG_LONG, NULL, 1, INT64_MAX, NULL, "log.flush.interval.messages" },
	{ "flush.ms", CONFIG_LONG, NULL, 0, INT64_MAX, NULL, "log.flush.interval.ms" },
	{ "max.message.bytes", CONFIG_INT, NULL, 0, INT32_MAX, NULL, "message.max.bytes" },
	{ "message.timestamp.type", CONFIG_STRING, NULL, 0, -1, timestamp_types,
	  "log.message.timestamp.type" },
};
const size_t topic_config_key_count = sizeof(topic_config_keys) / sizeof(topic_config_keys[0]);

/* Where each numeric topic key lands in struct log_config. */
static const struct {
	const char *key;
	size_t field;
} overrides_map[] = {
	{ "retention.ms", offsetof(struct log_config, retention_ms) },
	{ "retention.bytes", offsetof(struct log_config, retention_bytes) },
	{ "segment.bytes", offsetof(struct log_config, segment_bytes) },
	{ "segment.ms", offsetof(struct log_config, roll_ms) },
	{ "segment.index.bytes", offsetof(struct log_config, index_size_max_bytes) },
	{ "index.interval.bytes", offsetof(struct log_config, index_interval_bytes) },
	{ "flush.messages", offsetof(struct log_config, flush_interval_messages) },
	{ "flush.ms", offsetof(struct log_config, flush_interval_ms) },
	{ "max.message.bytes", offsetof(struct log_config, max_message_bytes) },
};

static bool
legal_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int
topic_name_validate(const char *name, bool *collision, struct kerr *e)
{
	return topic_name_validate_bytes((const uint8_t *)name, strlen(name), collision, e);
}

/*
 * The rules on the exact bytes: a name from the wire may hold a NUL, which
 * must make it invalid rather than cut it short ("victim\0x" is not
 * "victim").
 */
int
topic_name_validate_bytes(const uint8_t *name, size_t n, bool *collision, struct kerr *e)
{
	if (collision != NULL)
		*collision =
			n > 0 && (memchr(name, '.', n) != NULL || memchr(name, '_', n) != NULL);
	if (n == 0)
		return kerr_set(e, KLAB_EINVAL, "a topic name cannot be empty");
	if (n > TOPIC_NAME_MAX)
		return kerr_set(e, KLAB_EINVAL, "topic name is %zu characters; the limit is %d", n,
				TOPIC_NAME_MAX);
	if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
		return kerr_set(e, KLAB_EINVAL, "a topic cannot be named '%.*s'", (int)n, name);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = name[i];

		if (legal_char((char)c))
			continue;
		if (c < 0x20 || c >= 0x7f) /* never print half a UTF-8 character or a control */
			return kerr_set(
				e, KLAB_EINVAL,
				"topic name has a non-ASCII or control byte 0x%02X at position "
				"%zu: use only ASCII letters, digits, '.', '_' and '-'",
				c, i);
		return kerr_set(e, KLAB_EINVAL,
				"topic name '%.*s' has an illegal character '%c': use only "
				"ASCII letters, digits, '.', '_' and '-'",
				(int)n, name, c);
	}
	return KLAB_OK;
}

/* The broker defaults with the topic's overrides applied. */
static int
effective_config(const struct topic_store *s, const struct config *ov, struct log_config *lc,
		 struct kerr *e)
{
	int64_t v;
	const char *str;
	int rc;

	*lc = s->defaults;
	if (config_has(ov, "cleanup.policy") &&
	    strcmp(config_find(ov, "cleanup.policy")->value, "delete") != 0)
		return kerr_set(e, KLAB_ECONFIG,
				"cleanup.policy=%s: log compaction is not implemented in klab yet; "
				"only cleanup.policy=delete is supported",
				config_find(ov, "cleanup.policy")->value);
	if ((rc = config_validate(ov, topic_config_keys, topic_config_key_count, e)) != KLAB_OK)
		return rc;
	for (size_t i = 0; i < sizeof(overrides_map) / sizeof(overrides_map[0]); i++) {
		const struct config_key *k = config_key_find(
			topic_config_keys, topic_config_key_count, overrides_map[i].key);

		if (!config_has(ov, k->name))
			continue;
		if ((rc = config_long(ov, k, &v, e)) != KLAB_OK)
			return rc;
		memcpy((char *)lc + overrides_map[i].field, &v, sizeof(v));
	}
	if (config_has(ov, "message.timestamp.type")) {
		config_string(ov,
			      config_key_find(topic_config_keys, topic_config_key_count,
					      "message.timestamp.type"),
			      &str, NULL);
		lc->log_append_time = strcmp(str, "LogAppendTime") == 0;
	}
	for (size_t i = 0; i < ov->n; i++)
		if (config_key_find(topic_config_keys, topic_config_key_count,
				    ov->entries[i].key) == NULL)
			return kerr_set(e, KLAB_ECONFIG, "'%s' is not a topic configuration",
					ov->entries[i].key);
	return KLAB_OK;
}

static void
topic_free(struct topic *t)
{
	if (t == NULL)
		return;
	config_free(&t->overrides);
	free(t->logs);
	free(t->replicas);
	free(t);
}

/* Does this store's broker hold partition p of t? */
static bool
holds(const struct topic_store *s, const struct topic *t, int32_t p)
{
	if (s->broker_id < 0 || t->replicas == NULL)
		return true;
	for (int16_t i = 0; i < t->replication_factor; i++)
		if (t->replicas[p * t->replication_factor + i] == s->broker_id)
			return true;
	return false;
}

int32_t
topic_leader(const struct topic *t, int32_t p)
{
	if (t->replicas == NULL || p < 0 || p >= t->partitions)
		return -1;
	return t->replicas[p * t->replication_factor];
}

/*
 * Open partitions [from, t->partitions) of t.  On failure t->partitions
 * becomes the number of partitions that are open (invariant 1).
 */
static int
open_partitions(struct topic_store *s, struct topic *t, int32_t from, int64_t now_ms,
		struct kerr *e)
{
	struct log **logs = realloc(t->logs, (size_t)t->partitions * sizeof(*logs));
	char name[TOPIC_NAME_MAX + 16];
	int rc;

	if (logs == NULL) {
		t->partitions = from;
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	t->logs = logs;
	for (int32_t p = from; p < t->partitions; p++) {
		t->logs[p] = NULL;
		if (!holds(s, t, p))
			continue;
		snprintf(name, sizeof(name), "%s-%" PRId32, t->name, p);
		if ((rc = logdir_log(s->dir, name, &t->lc, now_ms, &t->logs[p], e)) != KLAB_OK) {
			t->partitions = p;
			return rc;
		}
	}
	return KLAB_OK;
}

static void
meta_path(const struct topic_store *s, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s.properties", s->dir->path, TOPICS_META_DIR, name);
}

/* ---- topic ids ----------------------------------------------------------- */

/* The store's generator (splitmix64), seeded by the caller of topics_open. */
static uint64_t
id_next(void *arg)
{
	struct topic_store *s = arg;
	uint64_t z = (s->id_rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/*
 * Mix an id seen into the generator: every topic found at open and every
 * one deleted moves the sequence on, so that a store reopened with the
 * same seed (a script on a virtual clock) does not draw a deleted topic's
 * id again for a topic created after it.
 */
static void
mix_id(struct topic_store *s, const uint8_t id[UUID_BYTES])
{
	uint64_t hi = 0, lo = 0;

	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | id[i];
		lo = lo << 8 | id[8 + i];
	}
	s->id_rng ^= hi ^ (lo << 17 | lo >> 47);
	(void)id_next(s);
}

/* A new random id no topic of the store has (invariant 3). */
static void
draw_id(struct topic_store *s, uint8_t id[UUID_BYTES])
{
	do
		uuid_random(id_next, s, id);
	while (topics_find_id(s, id) != NULL);
}

size_t
partition_metadata_format(const uint8_t id[UUID_BYTES], char *out, size_t n)
{
	char text[UUID_STRING_LEN + 1];
	int len;

	uuid_to_string(id, text);
	len = snprintf(out, n, "version: %d\ntopic_id: %s", PARTITION_METADATA_VERSION, text);
	return len < 0 ? 0 : (size_t)len;
}

/*
 * Kafka's reader (PartitionMetadataReadBuffer) splits each line at ":\s+"
 * and ignores what follows the second line; klab reads only what Kafka
 * writes - one space after each colon, and at most one newline after the
 * id - so that a damaged file is noticed rather than half-believed.
 */
int
partition_metadata_parse(const char *text, size_t len, const char *path, uint8_t id[UUID_BYTES],
			 struct kerr *e)
{
	static const char v_key[] = "version: ", id_key[] = "\ntopic_id: ";
	size_t pos = sizeof(v_key) - 1, digits = 0;
	struct kerr why = { 0 };

	if (len < pos || memcmp(text, v_key, pos) != 0)
		return kerr_set(e, KLAB_ECORRUPT, "%s: does not start with \"version: \"", path);
	while (pos < len && text[pos] >= '0' && text[pos] <= '9' && digits < 9)
		pos++, digits++;
	if (digits == 0 || (pos < len && text[pos] >= '0' && text[pos] <= '9'))
		return kerr_set(e, KLAB_ECORRUPT, "%s: the version is not a number of 1-9 digits",
				path);
	if (len - pos < sizeof(id_key) - 1 || memcmp(text + pos, id_key, sizeof(id_key) - 1) != 0)
		return kerr_set(e, KLAB_ECORRUPT, "%s: no \"topic_id: \" line after the version",
				path);
	pos += sizeof(id_key) - 1;
	if (len - pos == UUID_STRING_LEN + 1 && text[len - 1] == '\n')
		len--; /* one final newline, as a hand-written file may have */
	if (uuid_parse(text + pos, len - pos, id, &why) != KLAB_OK)
		return kerr_set(e, KLAB_ECORRUPT, "%s: %s", path, kerr_msg(&why));
	if (uuid_is_reserved(id))
		return kerr_set(e, KLAB_ECORRUPT, "%s: topic_id %.*s is a reserved id", path,
				UUID_STRING_LEN, text + pos);
	return KLAB_OK;
}

static void
partition_metadata_path(const struct topic_store *s, const struct topic *t, int32_t p, char *out,
			size_t n)
{
	snprintf(out, n, "%s/%s-%" PRId32 "/%s", s->dir->path, t->name, p, PARTITION_METADATA_FILE);
}

/* What a partition directory says about its topic id, at open. */
enum pm_state { PM_GOOD, PM_MISSING, PM_UNREADABLE };

/* Read partition p's partition.metadata: *st, and the id when PM_GOOD. */
static int
read_partition_id(const struct topic_store *s, const struct topic *t, int32_t p,
		  uint8_t id[UUID_BYTES], uint8_t *st, struct kerr *e)
{
	char path[4096];
	struct buf text;
	int rc;

	partition_metadata_path(s, t, p, path, sizeof(path));
	buf_init(&text);
	rc = fs_read_file(s->dir->fs, path, PARTITION_METADATA_MAX_BYTES, &text, NULL);
	if (rc == KLAB_ENOTFOUND) {
		*st = PM_MISSING;
		rc = KLAB_OK;
	} else if (rc == KLAB_OK || rc == KLAB_ETOOLARGE || rc == KLAB_EINVAL) {
		*st = rc == KLAB_OK && partition_metadata_parse((const char *)text.data, text.len,
								path, id, NULL) == KLAB_OK
			      ? PM_GOOD
			      : PM_UNREADABLE;
		rc = KLAB_OK;
	} else {
		rc = kerr_set(e, rc, "%s: cannot be read", path);
	}
	buf_free(&text);
	return rc;
}

/*
 * Read every held partition's id into state[p] before anything is opened.
 * A topic whose metadata file has no id (a klab older than topic ids)
 * takes the one its partitions agree on, if any.  KLAB_ESTATE in why when
 * a partition names another id: Kafka's InconsistentTopicIdException.
 */
static int
check_partition_ids(const struct topic_store *s, struct topic *t, uint8_t *state, struct kerr *why,
		    struct kerr *e)
{
	uint8_t id[UUID_BYTES];
	char a[UUID_STRING_LEN + 1], b[UUID_STRING_LEN + 1];
	int rc;

	for (int32_t p = 0; p < t->partitions; p++) {
		if (!holds(s, t, p))
			continue;
		if ((rc = read_partition_id(s, t, p, id, &state[p], e)) != KLAB_OK)
			return rc;
		if (state[p] != PM_GOOD)
			continue;
		if (uuid_is_zero(t->id))
			memcpy(t->id, id, UUID_BYTES);
		if (uuid_equal(id, t->id))
			continue;
		uuid_to_string(id, a);
		uuid_to_string(t->id, b);
		return kerr_set(
			why, KLAB_ESTATE,
			"topic '%s' refused: %s-%" PRId32 "/" PARTITION_METADATA_FILE
			" has topic id %s but the topic's is %s "
			"(INCONSISTENT_TOPIC_ID): the directory belongs to another topic of "
			"that name; delete the topic, or move the directory away",
			t->name, t->name, p, a, b);
	}
	return KLAB_OK;
}

/*
 * Write partition.metadata, durably, in every held partition of t from
 * `from` on whose state (NULL: all of them) is not PM_GOOD.
 */
static int
write_partition_ids(struct topic_store *s, const struct topic *t, int32_t from,
		    const uint8_t *state, struct kerr *e)
{
	char path[4096], text[PARTITION_METADATA_MAX_BYTES];
	size_t n = partition_metadata_format(t->id, text, sizeof(text));
	int rc;

	for (int32_t p = from; p < t->partitions; p++) {
		if (t->logs[p] == NULL || (state != NULL && state[p] == PM_GOOD))
			continue;
		partition_metadata_path(s, t, p, path, sizeof(path));
		if ((rc = fs_write_file_atomic(s->dir->fs, path, text, n, e)) != KLAB_OK)
			return rc;
		if (state != NULL)
			s->ids_repaired++;
	}
	return KLAB_OK;
}

void
topics_add_entropy(struct topic_store *s, uint64_t entropy)
{
	s->id_rng ^= entropy;
}

struct topic *
topics_find_id(const struct topic_store *s, const uint8_t id[UUID_BYTES])
{
	for (size_t i = 0; i < s->n; i++)
		if (uuid_equal(s->topics[i]->id, id))
			return s->topics[i];
	return NULL;
}

int
topics_id(const struct topic_store *s, const char *name, uint8_t id[UUID_BYTES])
{
	const struct topic *t = topics_find(s, name);

	if (t == NULL)
		return KLAB_ENOTFOUND;
	memcpy(id, t->id, UUID_BYTES);
	return KLAB_OK;
}

const struct kerr *
topics_refused(const struct topic_store *s, const char *name)
{
	for (size_t i = 0; i < s->nrefused; i++)
		if (strcmp(s->refused[i].name, name) == 0)
			return &s->refused[i].why;
	return NULL;
}

static int
refuse(struct topic_store *s, const char *name, const struct kerr *why)
{
	struct topic_refused *r = realloc(s->refused, (s->nrefused + 1) * sizeof(*r));

	if (r == NULL)
		return KLAB_ENOMEM;
	s->refused = r;
	r += s->nrefused++;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->why = *why;
	return KLAB_OK;
}

/* ---- the metadata file ----------------------------------------------------- */

static void put_line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put_line(struct buf *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		b->failed = true;
	else
		buf_put(b, line, (size_t)n);
}

/* The metadata file's text: partitions, placement, overrides. */
static void
format_meta(const struct topic *t, struct buf *b)
{
	char id[UUID_STRING_LEN + 1];

	uuid_to_string(t->id, id);
	put_line(b, "# topic %s (klab topic metadata)\npartitions=%" PRId32 "\n", t->name,
		 t->partitions);
	put_line(b, TOPIC_ID_KEY "=%s\n", id);
	for (int32_t p = 0; t->replicas != NULL && p < t->partitions; p++) {
		put_line(b, "replicas.%" PRId32 "=", p);
		for (int16_t i = 0; i < t->replication_factor; i++)
			put_line(b, "%s%" PRId32, i ? "," : "",
				 t->replicas[p * t->replication_factor + i]);
		put_line(b, "\n");
	}
	for (size_t i = 0; i < t->overrides.n; i++)
		put_line(b, "%s=%s\n", t->overrides.entries[i].key, t->overrides.entries[i].value);
}

/* Write the metadata file atomically and durably (fs_write_file_atomic). */
static int
write_meta(const struct topic_store *s, const struct topic *t, struct kerr *e)
{
	struct fs *fs = s->dir->fs;
	char path[4096];
	struct buf text;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", s->dir->path, TOPICS_META_DIR);
	if ((rc = fs_mkdirs(fs, path, e)) != KLAB_OK)
		return rc;
	meta_path(s, t->name, path, sizeof(path));
	buf_init(&text);
	format_meta(t, &text);
	if (!buf_ok(&text))
		rc = kerr_set(e, KLAB_ENOMEM, "%s: cannot format", path);
	else
		rc = fs_write_file_atomic(fs, path, text.data, text.len, e);
	buf_free(&text);
	return rc;
}

static int
push_topic(struct topic_store *s, struct topic *t)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		void *p = realloc(s->topics, cap * sizeof(*s->topics));

		if (p == NULL)
			return KLAB_ENOMEM;
		s->topics = p;
		s->cap = cap;
	}
	s->topics[s->n++] = t;
	return KLAB_OK;
}

static int
new_topic(const char *name, int32_t partitions, struct topic **out, struct kerr *e)
{
	struct topic *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->partitions = partitions;
	config_init(&t->overrides);
	*out = t;
	return KLAB_OK;
}

/* One "replicas.P=ID[,ID...]" line of a metadata file. */
static int
load_replicas(struct topic *t, const char *key, const char *value, const char *path, struct kerr *e)
{
	int32_t ids[TOPIC_RF_MAX];
	int16_t n = 0;
	char *end;
	long p = strtol(key + 9, &end, 10);
	const char *v = value;

	if (*end != '\0' || end == key + 9 || p < 0 || p >= t->partitions)
		return kerr_set(e, KLAB_ECORRUPT, "%s: %s: no such partition", path, key);
	do {
		long id = strtol(v, &end, 10);

		if (end == v || id < 0 || id > INT32_MAX || n == TOPIC_RF_MAX ||
		    (*end != ',' && *end != '\0'))
			return kerr_set(e, KLAB_ECORRUPT, "%s: %s=%s: not a list of broker ids",
					path, key, value);
		ids[n++] = (int32_t)id;
		v = end + 1;
	} while (*end == ',');
	if (t->replicas == NULL) {
		t->replication_factor = n;
		if ((t->replicas = malloc((size_t)t->partitions * (size_t)n * sizeof(int32_t))) ==
		    NULL)
			return kerr_set(e, KLAB_ENOMEM, "out of memory");
		for (int32_t i = 0; i < t->partitions * n; i++)
			t->replicas[i] = -1;
	} else if (n != t->replication_factor) {
		return kerr_set(e, KLAB_ECORRUPT, "%s: %s: partitions differ in replica count",
				path, key);
	}
	memcpy(t->replicas + p * n, ids, (size_t)n * sizeof(int32_t));
	return KLAB_OK;
}

/* The "topic.id=ID" line of a metadata file. */
static int
load_id(struct topic *t, const char *value, const char *path, struct kerr *e)
{
	struct kerr why = { 0 };

	if (uuid_parse(value, strlen(value), t->id, &why) != KLAB_OK)
		return kerr_set(e, KLAB_ECORRUPT, "%s: " TOPIC_ID_KEY "=%.40s: %s", path, value,
				kerr_msg(&why));
	if (uuid_is_reserved(t->id))
		return kerr_set(e, KLAB_ECORRUPT, "%s: " TOPIC_ID_KEY "=%s is a reserved id", path,
				value);
	return KLAB_OK;
}

/* Read one metadata file into a new topic (not yet opened); t->id zero: none recorded. */
static int
load_meta(struct topic_store *s, const char *name, struct topic **out, struct kerr *e)
{
	static const struct config_key partitions_key = {
		"partitions", CONFIG_INT, NULL, 1, TOPIC_PARTITIONS_MAX, NULL, "partition count"
	};
	char path[4096];
	struct config c;
	int64_t n;
	int rc;

	config_init(&c);
	meta_path(s, name, path, sizeof(path));
	if ((rc = config_load_file(&c, s->dir->fs, path, e)) != KLAB_OK ||
	    (rc = config_long(&c, &partitions_key, &n, e)) != KLAB_OK ||
	    (rc = new_topic(name, (int32_t)n, out, e)) != KLAB_OK) {
		config_free(&c);
		return rc;
	}
	for (size_t i = 0; i < c.n && rc == KLAB_OK; i++) {
		const char *k = c.entries[i].key;

		if (strncmp(k, "replicas.", 9) == 0)
			rc = load_replicas(*out, k, c.entries[i].value, path, e);
		else if (strcmp(k, TOPIC_ID_KEY) == 0)
			rc = load_id(*out, c.entries[i].value, path, e);
		else if (strcmp(k, "partitions") != 0)
			rc = config_set(&(*out)->overrides, k, c.entries[i].value);
	}
	if (rc == KLAB_OK && (*out)->replicas != NULL)
		for (int32_t p = 0; p < (*out)->partitions && rc == KLAB_OK; p++)
			if ((*out)->replicas[p * (*out)->replication_factor] < 0)
				rc = kerr_set(e, KLAB_ECORRUPT, "%s: no replicas.%" PRId32, path,
					      p);
	config_free(&c);
	if (rc == KLAB_OK)
		rc = effective_config(s, &(*out)->overrides, &(*out)->lc, e);
	if (rc != KLAB_OK)
		topic_free(*out);
	return rc;
}

/* A second topic with the same id (a copied metadata file) is refused too. */
static int
refuse_duplicate_id(const struct topic_store *s, const struct topic *t, struct kerr *why)
{
	const struct topic *other = topics_find_id(s, t->id);
	char id[UUID_STRING_LEN + 1];

	if (other == NULL)
		return KLAB_OK;
	uuid_to_string(t->id, id);
	return kerr_set(why, KLAB_ESTATE,
			"topic '%s' refused: its topic id %s is also topic '%s''s "
			"(INCONSISTENT_TOPIC_ID)",
			t->name, id, other->name);
}

/*
 * Settle the id of a topic just read from its metadata file, before
 * anything of it is opened: what its partitions say (state[p]), and the
 * id itself - a klab older than topic ids wrote none, and then it is drawn
 * now and kept.  why set (and KLAB_OK): the topic is refused.
 */
static int
settle_id(struct topic_store *s, struct topic *t, uint8_t *state, struct kerr *why, struct kerr *e)
{
	bool had_id = !uuid_is_zero(t->id);
	int rc = check_partition_ids(s, t, state, why, e);

	if (why->code != KLAB_OK)
		return KLAB_OK;
	if (rc != KLAB_OK)
		return rc;
	if (!uuid_is_zero(t->id) && refuse_duplicate_id(s, t, why) != KLAB_OK)
		return KLAB_OK;
	if (uuid_is_zero(t->id)) /* an older topic, whose partitions know no id either */
		draw_id(s, t->id);
	return had_id ? KLAB_OK : write_meta(s, t, e);
}

/*
 * Take a topic just read from its metadata file into the store, its id
 * settled and its partitions opened, each with its partition.metadata; or
 * record it as refused (and free it).  An error fails the store's open.
 */
static int
load_ids(struct topic_store *s, struct topic *t, int64_t now_ms, struct kerr *e)
{
	uint8_t *state = calloc((size_t)t->partitions, 1);
	struct kerr why = { 0 };
	int rc = state == NULL ? kerr_set(e, KLAB_ENOMEM, "out of memory")
			       : settle_id(s, t, state, &why, e);

	if (rc == KLAB_OK && why.code != KLAB_OK && refuse(s, t->name, &why) != KLAB_OK)
		rc = kerr_set(e, KLAB_ENOMEM, "out of memory");
	else if (rc == KLAB_OK && why.code == KLAB_OK && push_topic(s, t) != KLAB_OK)
		rc = kerr_set(e, KLAB_ENOMEM, "out of memory");
	if (!uuid_is_zero(t->id))
		mix_id(s, t->id);
	if (rc != KLAB_OK || why.code != KLAB_OK) {
		topic_free(t);
		free(state);
		return rc;
	}
	if ((rc = open_partitions(s, t, 0, now_ms, e)) == KLAB_OK)
		rc = write_partition_ids(s, t, 0, state, e);
	free(state);
	return rc;
}

struct load_walk {
	struct topic_store *s;
	int64_t now_ms;
	struct kerr *e;
};

/* One entry of the metadata directory: "<topic>.properties" is a topic. */
static int
load_topic(void *arg, const char *file)
{
	struct load_walk *w = arg;
	char name[TOPIC_NAME_MAX + 1];
	size_t n = strlen(file);
	struct topic *t = NULL;
	int rc;

	if (n <= 11 || n - 11 > TOPIC_NAME_MAX || strcmp(file + n - 11, ".properties") != 0)
		return KLAB_OK;
	snprintf(name, sizeof(name), "%.*s", (int)(n - 11), file);
	if ((rc = topic_name_validate(name, NULL, w->e)) != KLAB_OK ||
	    (rc = load_meta(w->s, name, &t, w->e)) != KLAB_OK)
		return rc;
	return load_ids(w->s, t, w->now_ms, w->e); /* a refused topic does not stop the others */
}

static int
load_topics(struct topic_store *s, int64_t now_ms, struct kerr *e)
{
	struct load_walk w = { s, now_ms, e };
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", s->dir->path, TOPICS_META_DIR);
	if (!fs_exists(s->dir->fs, path))
		return KLAB_OK;
	return fs_list(s->dir->fs, path, load_topic, &w, e);
}

int
topics_open(struct topic_store **out, struct fs *fs, const char *path, const struct config *cfg,
	    uint64_t id_seed, int64_t now_ms, struct kerr *e)
{
	return topics_open_as(out, fs, path, cfg, -1, id_seed, now_ms, e);
}

int
topics_open_as(struct topic_store **out, struct fs *fs, const char *path, const struct config *cfg,
	       int32_t broker_id, uint64_t id_seed, int64_t now_ms, struct kerr *e)
{
	static const struct config_key num_partitions = {
		"num.partitions",    CONFIG_INT, "1", 1, TOPIC_PARTITIONS_MAX, NULL,
		"default partitions"
	};
	struct topic_store *s = calloc(1, sizeof(*s));
	int64_t n;
	int rc;

	if (s == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	if ((rc = log_config_load(&s->defaults, cfg, e)) != KLAB_OK ||
	    (rc = config_long(cfg, &num_partitions, &n, e)) != KLAB_OK ||
	    (rc = logdir_open(&s->dir, fs, path, e)) != KLAB_OK) {
		free(s);
		return rc;
	}
	s->default_partitions = (int32_t)n;
	s->broker_id = broker_id;
	s->id_rng = id_seed;
	if ((rc = load_topics(s, now_ms, e)) != KLAB_OK) {
		topics_release(s); /* no I/O on the way out */
		return rc;
	}
	*out = s;
	return KLAB_OK;
}

struct topic *
topics_find(const struct topic_store *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->topics[i]->name, name) == 0)
			return s->topics[i];
	return NULL;
}

/* Kafka's warning: "orders.v1" and "orders_v1" collide in metric names. */
static void
collision_warning(const struct topic_store *s, const char *name, char *out, size_t n)
{
	char a[TOPIC_NAME_MAX + 1], b[TOPIC_NAME_MAX + 1];

	if (out == NULL || n == 0)
		return;
	out[0] = '\0';
	snprintf(a, sizeof(a), "%s", name);
	for (char *p = a; *p; p++)
		if (*p == '.')
			*p = '_';
	for (size_t i = 0; i < s->n; i++) {
		snprintf(b, sizeof(b), "%s", s->topics[i]->name);
		for (char *p = b; *p; p++)
			if (*p == '.')
				*p = '_';
		if (strcmp(a, b) == 0 && strcmp(name, s->topics[i]->name) != 0) {
			snprintf(out, n,
				 "topic '%s' collides with existing topic '%s': due to limitations "
				 "in "
				 "metric names, topics with a period ('.') or underscore ('_') "
				 "could "
				 "collide",
				 name, s->topics[i]->name);
			return;
		}
	}
}

int
topics_create(struct topic_store *s, const char *name, int32_t partitions,
	      const struct config *overrides, int64_t now_ms, char *warning, size_t warning_len,
	      struct kerr *e)
{
	if (topics_find(s, name) == NULL)
		collision_warning(s, name, warning, warning_len);
	else if (warning != NULL && warning_len > 0)
		warning[0] = '\0';
	return topics_create_placed(s, name, partitions, 0, NULL, overrides, NULL, now_ms, e);
}

struct leftover_walk {
	struct topic_store *s;
	const char *name;
	struct kerr *e;
};

/* Remove entry when it is "<name>-<digits>" and no open log owns it. */
static int
remove_leftover(void *arg, const char *entry)
{
	struct leftover_walk *w = arg;
	size_t n = strlen(w->name);
	char path[4096];

	if (strncmp(entry, w->name, n) != 0 || entry[n] != '-' || entry[n + 1] == '\0' ||
	    strspn(entry + n + 1, "0123456789") != strlen(entry + n + 1))
		return KLAB_OK;
	for (size_t i = 0; i < w->s->dir->nlogs; i++)
		if (strcmp(w->s->dir->logs[i].name, entry) == 0)
			return KLAB_OK;
	snprintf(path, sizeof(path), "%s/%s", w->s->dir->path, entry);
	return fs_remove_dir(w->s->dir->fs, path, w->e); /* fsyncs the log directory */
}

/*
 * Before a new topic's metadata names its partitions, nothing of an
 * earlier topic of the same name may be left to claim them.  A deletion
 * cut short - its directory fsync failed, or the power went after the
 * metadata was gone (topics_delete) - leaves partition directories
 * behind, and the checkpoints may still hold their offsets.  The new
 * topic would open those directories and serve the old records as its
 * own, or take an old log start offset and hide records of its own.  So
 * every "<name>-<n>" directory no open log owns is removed, durably, the
 * offsets read from the checkpoints at open are forgotten for the new
 * partitions, and both checkpoints are rewritten from the open logs; a
 * failure fails the creation before anything names the topic.
 */
static int
clear_leftovers(struct topic_store *s, const char *name, int32_t partitions, struct kerr *e)
{
	struct leftover_walk w = { s, name, e };
	char log[TOPIC_NAME_MAX + 16];
	int rc = fs_list(s->dir->fs, s->dir->path, remove_leftover, &w, e);

	for (int32_t p = 0; p < partitions; p++) { /* and what the checkpoints said at open */
		snprintf(log, sizeof(log), "%s-%" PRId32, name, p);
		logdir_forget(s->dir, log);
	}
	if (rc == KLAB_OK && (rc = logdir_checkpoint(s->dir)) != KLAB_OK)
		rc = kerr_set(e, rc, "%s: cannot write the checkpoints", s->dir->path);
	return rc;
}

/* An id another broker drew: a real one, and no other topic's here. */
static int
check_given_id(const struct topic_store *s, const uint8_t *id, struct kerr *e)
{
	const struct topic *other = topics_find_id(s, id);
	char text[UUID_STRING_LEN + 1];

	uuid_to_string(id, text);
	if (uuid_is_reserved(id))
		return kerr_set(e, KLAB_EINVAL, "topic id %s is reserved", text);
	if (other != NULL)
		return kerr_set(e, KLAB_EINVAL, "topic id %s is already topic '%s''s", text,
				other->name);
	return KLAB_OK;
}

int
topics_create_placed(struct topic_store *s, const char *name, int32_t partitions, int16_t rf,
		     const int32_t *replicas, const struct config *overrides, const uint8_t *id,
		     int64_t now_ms, struct kerr *e)
{
	struct topic *t = NULL;
	const struct kerr *refused = topics_refused(s, name);
	int rc;

	if ((rc = topic_name_validate(name, NULL, e)) != KLAB_OK)
		return rc;
	if (strlen(name) > TOPIC_NAME_MAX_ON_DISK)
		return kerr_set(
			e, KLAB_EINVAL,
			"topic name is %zu characters: Kafka allows %d, but klab's limit is %zu "
			"(its metadata file %s/NAME.properties.tmp must fit in %d bytes)",
			strlen(name), TOPIC_NAME_MAX, TOPIC_NAME_MAX_ON_DISK, TOPICS_META_DIR,
			FILE_NAME_MAX);
	if (topics_find(s, name) != NULL)
		return kerr_set(e, KLAB_EINVAL, "topic '%s' already exists (TOPIC_ALREADY_EXISTS)",
				name);
	if (refused != NULL)
		return kerr_set(e, KLAB_ESTATE, "%s", kerr_msg(refused));
	if (id != NULL && (rc = check_given_id(s, id, e)) != KLAB_OK)
		return rc;
	if (partitions <= 0)
		partitions = s->default_partitions;
	if (partitions > TOPIC_PARTITIONS_MAX)
		return kerr_set(e, KLAB_EINVAL, "%" PRId32 " partitions: the limit here is %d",
				partitions, TOPIC_PARTITIONS_MAX);
	if (replicas != NULL && (rf < 1 || rf > TOPIC_RF_MAX))
		return kerr_set(e, KLAB_EINVAL, "replication factor %d: the limit here is %d",
				(int)rf, TOPIC_RF_MAX);
	if ((rc = new_topic(name, partitions, &t, e)) != KLAB_OK)
		return rc;
	if (id != NULL)
		memcpy(t->id, id, UUID_BYTES);
	else
		draw_id(s, t->id);
	if (replicas != NULL) {
		size_t n = (size_t)partitions * (size_t)rf;

		t->replication_factor = rf;
		if ((t->replicas = malloc(n * sizeof(int32_t))) == NULL)
			rc = kerr_set(e, KLAB_ENOMEM, "out of memory");
		else
			memcpy(t->replicas, replicas, n * sizeof(int32_t));
	}
	for (size_t i = 0; overrides != NULL && i < overrides->n && rc == KLAB_OK; i++)
		rc = config_set(&t->overrides, overrides->entries[i].key,
				overrides->entries[i].value);
	if (rc == KLAB_OK)
		rc = effective_config(s, &t->overrides, &t->lc, e);
	if (rc == KLAB_OK)
		rc = clear_leftovers(s, name, partitions, e);
	if (rc == KLAB_OK)
		rc = write_meta(s, t, e);
	if (rc == KLAB_OK && (rc = push_topic(s, t)) != KLAB_OK)
		rc = kerr_set(e, rc, "out of memory");
	if (rc != KLAB_OK) {
		topic_free(t);
		return rc;
	}
	if ((rc = open_partitions(s, t, 0, now_ms, e)) != KLAB_OK ||
	    (rc = write_partition_ids(s, t, 0, NULL, e)) != KLAB_OK)
		topics_delete(s, name, NULL); /* undo: metadata and the partitions opened */
	return rc;
}

/* Remove topic name's metadata file, durably (its directory fsynced). */
static int
unlink_meta(struct topic_store *s, const char *name, struct kerr *e)
{
	char path[4096];
	int rc;

	meta_path(s, name, path, sizeof(path));
	if ((rc = fs_unlink(s->dir->fs, path, e)) != KLAB_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", s->dir->path, TOPICS_META_DIR);
	return fs_fsync_dir(s->dir->fs, path, e);
}

/*
 * Delete a refused topic: its metadata file, durably.  Its partition
 * directories are not open; a topic created under the name later clears
 * them (clear_leftovers).
 */
static int
forget_refused(struct topic_store *s, const char *name, struct kerr *e)
{
	size_t i = 0;
	int rc;

	if ((rc = unlink_meta(s, name, e)) != KLAB_OK)
		return rc;
	while (strcmp(s->refused[i].name, name) != 0)
		i++;
	s->refused[i] = s->refused[--s->nrefused];
	return KLAB_OK;
}

int
topics_delete(struct topic_store *s, const char *name, struct kerr *e)
{
	char log[TOPIC_NAME_MAX + 16];
	struct topic *t = topics_find(s, name);
	size_t i = 0;
	int rc;

	if (t == NULL && topics_refused(s, name) != NULL)
		return forget_refused(s, name, e);
	if (t == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)",
				name);
	/* first, durably: a crash now leaves orphans, not a topic without data */
	if ((rc = unlink_meta(s, name, e)) != KLAB_OK)
		return rc;
	for (int32_t p = 0; p < t->partitions; p++) {
		if (t->logs[p] == NULL)
			continue; /* held by another broker */
		snprintf(log, sizeof(log), "%s-%" PRId32, name, p);
		logdir_drop(s->dir, log);
	}
	while (s->topics[i] != t)
		i++;
	s->topics[i] = s->topics[--s->n];
	mix_id(s, t->id);
	topic_free(t);
	return KLAB_OK;
}

int
topics_add_partitions(struct topic_store *s, const char *name, int32_t total, int64_t now_ms,
		      struct kerr *e)
{
	struct topic *t = topics_find(s, name);
	int32_t before;
	int rc;

	if (t == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)",
				name);
	if (total <= t->partitions)
		return kerr_set(e, KLAB_EINVAL,
				"topic '%s' has %" PRId32
				" partitions; the new count must be larger "
				"(INVALID_PARTITIONS): Kafka never removes partitions",
				name, t->partitions);
	if (total > TOPIC_PARTITIONS_MAX)
		return kerr_set(e, KLAB_EINVAL, "the limit here is %d partitions",
				TOPIC_PARTITIONS_MAX);
	if (t->replicas != NULL)
		return kerr_set(e, KLAB_EINVAL,
				"topic '%s' is placed on brokers: klab does not add partitions to "
				"a cluster's topics",
				name);
	before = t->partitions;
	t->partitions = total;
	if ((rc = write_meta(s, t, e)) != KLAB_OK) {
		t->partitions = before;
		return rc;
	}
	if ((rc = open_partitions(s, t, before, now_ms, e)) != KLAB_OK)
		write_meta(s, t, NULL); /* invariant 2: record the partitions that exist */
	else				/* a failure here leaves files the next open writes */
		rc = write_partition_ids(s, t, before, NULL, e);
	return rc;
}

static void
store_free(struct topic_store *s)
{
	for (size_t i = 0; i < s->n; i++)
		topic_free(s->topics[i]);
	free(s->topics);
	free(s->refused);
	free(s);
}

int
topics_close(struct topic_store *s)
{
	int rc = logdir_close(s->dir);

	store_free(s);
	return rc;
}

void
topics_release(struct topic_store *s)
{
	if (s == NULL)
		return;
	logdir_release(s->dir);
	store_free(s);
}

static int
check_topic(const struct topic_store *s, const struct topic *t, struct kerr *e)
{
	char name[TOPIC_NAME_MAX + 16];
	int rc;

	for (int32_t p = 0; p < t->partitions; p++) {
		struct log *l = t->logs[p];

		if ((l != NULL) != holds(s, t, p))
			return kerr_set(e, KLAB_ESTATE,
					"topic %s: invariant 1: partition %" PRId32 " is %s but %s",
					t->name, p, l != NULL ? "open" : "not open",
					holds(s, t, p) ? "held here" : "held elsewhere");
		if (l == NULL)
			continue;
		snprintf(name, sizeof(name), "/%s-%" PRId32, t->name, p);
		if (strlen(l->dir) < strlen(name) ||
		    strcmp(l->dir + strlen(l->dir) - strlen(name), name) != 0)
			return kerr_set(e, KLAB_ESTATE,
					"topic %s: invariant 1: partition %" PRId32 " opened %s",
					t->name, p, l->dir);
		if ((rc = log_check_invariants(l, e)) != KLAB_OK)
			return rc;
	}
	return KLAB_OK;
}

int
topics_check_invariants(const struct topic_store *s, struct kerr *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct topic *t = s->topics[i];
		int rc = check_topic(s, t, e);

		if (rc != KLAB_OK)
			return rc;
		if (uuid_is_reserved(t->id) || topics_find_id(s, t->id) != t)
			return kerr_set(e, KLAB_ESTATE,
					"topic %s: invariant 3: its id is reserved or another "
					"topic's",
					t->name);
	}
	return KLAB_OK;
}
