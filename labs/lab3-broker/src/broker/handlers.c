/*
 * handlers.c - one function per Kafka API (see broker.h; chapter 3 §3).
 *
 * Each handler reads the decoded request tree and fills the response tree
 * of the same version; the codec leaves out what a version does not have,
 * so a handler may set every field it knows.  Strings in the response
 * point into the request frame or into request memory (breq_*), both of
 * which live until the response is encoded.
 */
#include "broker/broker.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "log/batch.h"

static const uint8_t no_bytes[1];
static const uint8_t zero_id[16];

/*
 * The topic a request names by an id the metadata source does not know
 * (KIP-516): no log has this name, and partition_error answers
 * UNKNOWN_TOPIC_ID for it.
 */
static const char unknown_id_topic[] = "";

/* The id of topic name (the zero UUID when unknown or the source has none). */
static void
topic_id_of(struct broker_req *r, const char *name, uint8_t id[16])
{
	struct metadata_source *m = &r->b->meta;

	memset(id, 0, 16);
	if (name == NULL || m->ops->topic_id == NULL || m->ops->topic_id(m, name, id) != KLAB_OK)
		memset(id, 0, 16);
}

/* The name of the topic with this id, copied into request memory; NULL if unknown. */
static char *
topic_of_id(struct broker_req *r, const uint8_t id[16])
{
	struct metadata_source *m = &r->b->meta;
	const char *name;

	if (memcmp(id, zero_id, 16) == 0 || m->ops->topic_by_id == NULL ||
	    (name = m->ops->topic_by_id(m, id)) == NULL)
		return NULL;
	return breq_strndup(r, (const uint8_t *)name, (int32_t)strlen(name));
}

/* Set the topic_id field of el (where its version has one) to name's id. */
static void
set_topic_id(struct broker_req *r, struct pvalue *el, const char *name)
{
	uint8_t id[16];

	topic_id_of(r, name, id);
	pvalue_set_uuid(el, "topic_id", id);
}

/* The name of a string field as a NUL-terminated copy, or NULL. */
static char *
str_field(struct broker_req *r, const struct pvalue *st, const char *name)
{
	int32_t len;
	const uint8_t *p = pvalue_get_bytes(st, name, &len);

	return p == NULL ? NULL : breq_strndup(r, p, len);
}

/*
 * A topic name from the wire, checked on its exact bytes before any use:
 * a C string stops at a NUL, and "victim\0../x" must not become "victim".
 * KLAB_OK with *name a NUL-terminated copy of a name Kafka's rules allow
 * (topic_name_validate_bytes); KLAB_EINVAL with *name NULL and e saying
 * why; KLAB_ENOMEM.  A NULL name is no topic: find_log and the metadata
 * source find nothing for it.
 */
static int
wire_topic(struct broker_req *r, const struct pvalue *st, const char *field, char **name,
	   struct kerr *e)
{
	int32_t len;
	const uint8_t *p = pvalue_get_bytes(st, field, &len);

	*name = NULL;
	if (p == NULL)
		return kerr_set(e, KLAB_EINVAL, "a topic name cannot be null");
	if (topic_name_validate_bytes(p, (size_t)len, NULL, e) != KLAB_OK)
		return KLAB_EINVAL;
	return (*name = breq_strndup(r, p, len)) != NULL ? KLAB_OK : KLAB_ENOMEM;
}

/*
 * A valid name klab cannot create: Kafka allows 249 characters, but klab's
 * metadata file "<name>.properties.tmp" must fit in 255 bytes (topic.h).
 * INVALID_TOPIC_EXCEPTION at once, rather than a failure on every attempt.
 */
static const char *
too_long_for_klab(struct broker_req *r, const char *name)
{
	size_t n = strlen(name);

	if (n <= TOPIC_NAME_MAX_KLAB)
		return NULL;
	return breq_printf(r,
			   "Topic name is %zu characters: Kafka allows %d, klab at most %d (its "
			   "metadata file <name>.properties.tmp must fit in a 255-byte file name).",
			   n, TOPIC_NAME_MAX, TOPIC_NAME_MAX_KLAB);
}

/*
 * For each element i of arr (an array of structs), how many elements have
 * its string field `field`: rep[i] = +count for the first of them, -count
 * for the others (nulls never repeat).  Sorted, so O(n log n); NULL when
 * out of memory.
 */
static int32_t *
name_repeats(struct broker_req *r, const struct pvalue *arr, const char *field)
{
	int32_t n = pvalue_count(arr);
	struct breq_key *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof(*keys));
	int32_t *rep = breq_alloc(r, (size_t)n * sizeof(*rep));

	if (keys == NULL || rep == NULL) {
		free(keys);
		return NULL;
	}
	for (int32_t i = 0; i < n; i++) {
		keys[i].p = pvalue_get_bytes(pvalue_at(arr, i), field, &keys[i].len);
		keys[i].num = 0;
		keys[i].pos = i;
	}
	breq_keys_sort(keys, (size_t)n);
	for (int32_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && breq_key_same(&keys[i], &keys[j]); j++)
			;
		for (int32_t k = i; k < j; k++) /* keys[i] is the earliest of its run */
			rep[keys[k].pos] = keys[k].p == NULL ? 1 : k == i ? j - i : i - j;
	}
	free(keys);
	return rep;
}

/* Point response string field `to` at the request's string field `from`. */
static void
copy_str(struct pvalue *dst, const char *to, const struct pvalue *src, const char *from)
{
	int32_t len;
	const uint8_t *p = pvalue_get_bytes(src, from, &len);

	pvalue_set_bytes(dst, to, p == NULL ? no_bytes : p, p == NULL ? 0 : len);
}

/* The local log of a partition; NULL also while the log directory is offline. */
static struct log *
find_log(struct broker *b, const char *topic, int32_t partition, struct topic **tp)
{
	struct topic *t =
		topic == NULL || topic == unknown_id_topic ? NULL : topics_find(b->store, topic);

	if (tp != NULL)
		*tp = t;
	if (t == NULL || partition < 0 || partition >= t->partitions || b->store->dir->offline)
		return NULL;
	return t->logs[partition];
}

/*
 * Why find_log found no log: the partition does not exist, or another
 * broker of the cluster holds it (the client's metadata is stale, or it
 * asked the wrong broker): NOT_LEADER_OR_FOLLOWER sends it back to
 * Metadata; or it is here but its log directory is offline
 * (broker_log_dir_failed): KAFKA_STORAGE_ERROR.
 */
static int16_t
partition_error(struct broker *b, const char *topic, int32_t partition)
{
	struct metadata_source *m = &b->meta;
	int32_t n = topic == NULL ? -1 : m->ops->partitions(m, topic);
	struct topic *t = topic == NULL ? NULL : topics_find(b->store, topic);

	if (topic == unknown_id_topic)
		return KERR_UNKNOWN_TOPIC_ID;
	if (partition < 0 || partition >= n)
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	if (b->store->dir->offline && t != NULL && partition < t->partitions &&
	    t->logs[partition] != NULL)
		return KERR_KAFKA_STORAGE_ERROR;
	return KERR_NOT_LEADER_OR_FOLLOWER;
}

/* Make integer array field `name` hold v[0..n). */
static int
set_int32_array(struct pvalue *st, const char *name, const int32_t *v, int n)
{
	struct pvalue *a = pvalue_array(st, name);

	if (pvalue_array_resize(a, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int i = 0; i < n; i++)
		pvalue_at(a, i)->i = v[i];
	return KLAB_OK;
}

static int
set_int32_list(struct pvalue *st, const char *name, int32_t v)
{
	return set_int32_array(st, name, &v, 1);
}

/* ---- ApiVersions (18) ------------------------------------------------------ */

int
handle_api_versions(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	struct pvalue *keys = pvalue_array(resp, "api_keys");
	int32_t n = (int32_t)proto_api_count();

	(void)r;
	(void)req;
	if (pvalue_array_resize(keys, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		const struct api_desc *api = proto_api_at((size_t)i);
		struct pvalue *el = pvalue_at(keys, i);

		pvalue_set_int(el, "api_key", api->key);
		pvalue_set_int(el, "min_version", api->min_version);
		pvalue_set_int(el, "max_version", api->max_version);
	}
	pvalue_set_int(resp, "error_code", KERR_NONE);
	return KLAB_OK;
}

/* ---- creating topics in a cluster ------------------------------------------------ */

/*
 * Create topic name with `partitions` partitions placed as `assignment`
 * says (one leader per partition), or, when it is NULL, where the
 * metadata source places them.  The source makes the change for the
 * whole cluster (metadata.h, invariant 5).
 */
static int
create_placed(struct broker_req *r, const char *name, int32_t partitions, const int32_t *assignment,
	      const struct config *ov, struct kerr *e)
{
	struct metadata_source *m = &r->b->meta;
	const struct metadata_new_topic t = { name, partitions, assignment, ov };

	return m->ops->create_topic(m, r->h, &t, r->now_ms, e);
}

/* ---- Metadata (3) ------------------------------------------------------------ */

/* A topic's entry; `partitions` < 0: the topic has none to list (an error). */
static int
metadata_topic(struct broker_req *r, struct pvalue *el, const char *name, int32_t partitions,
	       int16_t error)
{
	pvalue_set_str(el, "name", name);
	pvalue_set_int(el, "error_code", error);
	pvalue_set_int(el, "is_internal", 0);
	set_topic_id(r, el, name); /* v10+; zero when there is none */
	if (partitions < 0)
		return KLAB_OK;
	/* LAB 3 BEGIN meta_partitions: one entry per partition: index, leader, epoch, replicas, isr
	 * skeleton: (void)r; return KLAB_OK;
	 */
	/* TODO(lab 3, meta_partitions): write this part. */
	(void)r; return KLAB_OK;
	/* LAB 3 END meta_partitions */
}

/* The cluster's brokers, its id and its controller. */
static int
metadata_brokers(struct broker_req *r, struct pvalue *resp)
{
	struct broker *b = r->b;
	struct pvalue *brokers = pvalue_array(resp, "brokers");

	/* LAB 3 BEGIN meta_brokers: the brokers list (every member; this one as it advertises itself), the cluster id, the controller
	 * skeleton: (void)b; (void)brokers;
	 */
	/* TODO(lab 3, meta_brokers): write this part. */
	(void)b; (void)brokers;
	/* LAB 3 END meta_brokers */
	return KLAB_OK;
}

/* The topics a Metadata request names, each found, refused or auto-created. */
static int
metadata_named(struct broker_req *r, const struct pvalue *want, struct pvalue *topics,
	       bool auto_create)
{
	struct broker *b = r->b;
	struct metadata_source *m = &b->meta;
	int32_t n = pvalue_count(want);

	if (pvalue_array_resize(topics, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		const struct pvalue *wi = pvalue_at(want, i);
		struct pvalue *el = pvalue_at(topics, i);
		char *name;
		int32_t np;
		struct kerr e = { 0 };
		int16_t err = KERR_NONE;
		int rc;

		if ((rc = wire_topic(r, wi, "name", &name, &e)) == KLAB_ENOMEM)
			return KLAB_ENOMEM;
		np = m->ops->partitions(m, name);
		/* LAB 3 BEGIN meta_topic_error: a named topic that is missing: invalid, unknown or auto-created
		 * skeleton: (void)e; (void)auto_create; (void)rc; err = KERR_NONE;
		 */
		/* TODO(lab 3, meta_topic_error): write this part. */
		(void)e; (void)auto_create; (void)rc; err = KERR_NONE;
		/* LAB 3 END meta_topic_error */
		if (metadata_topic(r, el, name, err == KERR_NONE ? np : -1, err) != KLAB_OK)
			return KLAB_ENOMEM;
		copy_str(el, "name", wi, "name"); /* the name as asked, byte for byte */
	}
	return KLAB_OK;
}

/*
 * How a Metadata request names its topics (v10+ may use ids, KIP-516), by
 * Kafka 3.6's rules (KafkaApis.handleTopicMetadataRequest): before v12 a
 * null name or an id makes the request invalid; from v12 a request that
 * gives any id is answered for the topics of its ids only.
 */
enum metadata_naming { BY_NAME, BY_ID, INVALID };

static enum metadata_naming
metadata_naming(const struct pvalue *want, int16_t v)
{
	enum metadata_naming how = BY_NAME;

	for (int32_t i = 0; i < pvalue_count(want); i++) {
		const struct pvalue *wi = pvalue_at(want, i);
		int32_t len;
		uint8_t id[16];

		pvalue_get_uuid(wi, "topic_id", id);
		if (v < 12 &&
		    (pvalue_get_bytes(wi, "name", &len) == NULL || memcmp(id, zero_id, 16) != 0))
			return INVALID;
		if (memcmp(id, zero_id, 16) != 0)
			how = BY_ID;
	}
	return how;
}

/*
 * An invalid request's answer, in the shape of Kafka's
 * MetadataRequest.getErrorResponse: no brokers, and each topic asked for
 * with INVALID_REQUEST (a null name as "").
 */
static int
metadata_invalid(const struct pvalue *want, struct pvalue *topics)
{
	int32_t n = pvalue_count(want);

	if (pvalue_array_resize(topics, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		const struct pvalue *wi = pvalue_at(want, i);
		struct pvalue *el = pvalue_at(topics, i);
		uint8_t id[16];

		copy_str(el, "name", wi, "name");
		if (pvalue_get(el, "name")->null)
			pvalue_set_str(el, "name", "");
		pvalue_get_uuid(wi, "topic_id", id);
		pvalue_set_uuid(el, "topic_id", id);
		pvalue_set_int(el, "error_code", KERR_INVALID_REQUEST);
	}
	return KLAB_OK;
}

/* The topics of the ids a v12+ request gives; an unknown id is UNKNOWN_TOPIC_ID, name null. */
static int
metadata_by_id(struct broker_req *r, const struct pvalue *want, struct pvalue *topics)
{
	struct metadata_source *m = &r->b->meta;
	int32_t n = pvalue_count(want);
	bool *keep = breq_alloc(r, (size_t)n + 1);

	if (keep == NULL || pvalue_array_resize(topics, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		struct pvalue *el = pvalue_at(topics, i);
		uint8_t id[16];
		char *name;

		pvalue_get_uuid(pvalue_at(want, i), "topic_id", id);
		keep[i] = memcmp(id, zero_id, 16) != 0; /* Kafka drops the others */
		if (!keep[i])
			continue;
		name = topic_of_id(r, id);
		if (name == NULL) {
			pvalue_set_str(el, "name", NULL);
			pvalue_set_int(el, "error_code", KERR_UNKNOWN_TOPIC_ID);
		} else if (metadata_topic(r, el, name, m->ops->partitions(m, name), KERR_NONE) !=
			   KLAB_OK) {
			return KLAB_ENOMEM;
		}
		pvalue_set_uuid(el, "topic_id", id);
	}
	pvalue_array_filter(topics, keep);
	return KLAB_OK;
}

int
handle_metadata(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	struct broker *b = r->b;
	struct metadata_source *m = &b->meta;
	const struct pvalue *want = pvalue_array(req, "topics");
	bool all = want->null || (r->h->api_version == 0 && pvalue_count(want) == 0);
	struct pvalue *topics = pvalue_array(resp, "topics");
	enum metadata_naming how = all ? BY_NAME : metadata_naming(want, r->h->api_version);
	int32_t n = m->ops->topic_count(m);

	if (how == INVALID)
		return metadata_invalid(want, topics);
	if (metadata_brokers(r, resp) != KLAB_OK)
		return KLAB_ENOMEM;
	if (how == BY_ID)
		return metadata_by_id(r, want, topics);
	if (!all)
		return metadata_named(r, want, topics,
				      b->cfg.auto_create_topics &&
					      pvalue_get_int(req, "allow_auto_topic_creation"));
	if (pvalue_array_resize(topics, n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		const char *name = m->ops->topic_name(m, i);

		if (metadata_topic(r, pvalue_at(topics, i), name, m->ops->partitions(m, name),
				   KERR_NONE) != KLAB_OK)
			return KLAB_ENOMEM;
	}
	return KLAB_OK;
}

/* ---- for each partition of a request ----------------------------------------------- */

/* Where a request and its response keep their topics and partitions. */
struct walk_shape {
	const char *topics_in, *topics_out; /* arrays of topics */
	const char *name_in, *name_out;	    /* each topic's name */
	const char *parts_in, *parts_out;   /* each topic's array of partitions */
};

/* One partition: its topic's name, its request and response elements. */
typedef int (*partition_fn)(struct broker_req *r, void *arg, const char *topic,
			    const struct pvalue *pi, struct pvalue *po);

/*
 * The topic a request's topic element ti names, and its echo in the
 * response element to: by name, or from Fetch v13 on by id (KIP-516; an
 * id the metadata source does not know is unknown_id_topic).
 */
static int
topic_in(struct broker_req *r, const struct pvalue *ti, struct pvalue *to,
	 const struct walk_shape *w, char **name)
{
	struct kerr e = { 0 };
	uint8_t id[16];

	if (pvalue_has_field(ti, "topic_id", r->h->api_version)) {
		pvalue_get_uuid(ti, "topic_id", id);
		pvalue_set_uuid(to, "topic_id", id);
		*name = topic_of_id(r, id);
		if (*name == NULL)
			*name = (char *)unknown_id_topic;
		return KLAB_OK;
	}
	copy_str(to, w->name_out, ti, w->name_in);
	return wire_topic(r, ti, w->name_in, name, &e) == KLAB_ENOMEM ? KLAB_ENOMEM : KLAB_OK;
}

/*
 * Produce, Fetch and ListOffsets all say "for each topic, for each
 * partition": size the response like the request, copy each topic's name,
 * and call fn for every partition in request order (the order matters:
 * Fetch's max_bytes goes to the partitions asked for first).
 */
static int
each_partition(struct broker_req *r, const struct pvalue *req, struct pvalue *resp,
	       const struct walk_shape *w, partition_fn fn, void *arg)
{
	const struct pvalue *tin = pvalue_array(req, w->topics_in);
	struct pvalue *tout = pvalue_array(resp, w->topics_out);
	int32_t nt = pvalue_count(tin);

	if (pvalue_array_resize(tout, nt) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < nt; i++) {
		const struct pvalue *ti = pvalue_at(tin, i);
		struct pvalue *to = pvalue_at(tout, i);
		const struct pvalue *pin = pvalue_array(ti, w->parts_in);
		struct pvalue *pout = pvalue_array(to, w->parts_out);
		char *name; /* NULL for a name Kafka's rules refuse: no such topic */
		int32_t np = pvalue_count(pin);

		if (topic_in(r, ti, to, w, &name) != KLAB_OK ||
		    pvalue_array_resize(pout, np) != KLAB_OK)
			return KLAB_ENOMEM;
		for (int32_t j = 0; j < np; j++) {
			int rc = fn(r, arg, name, pvalue_at(pin, j), pvalue_at(pout, j));

			if (rc != KLAB_OK)
				return rc;
		}
	}
	return KLAB_OK;
}

/* ---- Produce (0) --------------------------------------------------------------- */

static int16_t
append_error(int rc)
{
	switch (rc) {
	case KLAB_OK: return KERR_NONE;
	case KLAB_ECORRUPT: return KERR_CORRUPT_MESSAGE;
	case KLAB_ETOOLARGE: return KERR_MESSAGE_TOO_LARGE;
	case KLAB_ETRUNCATED:
	case KLAB_EINVAL: return KERR_INVALID_RECORD;
	case KLAB_EIO:
	case KLAB_ENOSPC: return KERR_KAFKA_STORAGE_ERROR; /* the log directory failed */
	case KLAB_ESEQUENCE: return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case KLAB_EFENCED: return KERR_INVALID_PRODUCER_EPOCH;
	default: return KERR_UNKNOWN_SERVER_ERROR;
	}
}

/*
 * Append the record batch of records[0..len): Produce v3 and later carry
 * exactly one per partition (Kafka's ProduceRequest.validateRecords), so
 * a field whose batch sizes tile it but hold more than one is refused
 * with INVALID_RECORD, as is one whose sizes do not tile it.
 */

/* A retry an idempotent producer sent again (KIP-98): said once, for traces. */
static void
log_duplicate(struct broker_req *r, const struct log *l, const uint8_t *batch, size_t len,
	      const struct log_append_info *info)
{
	struct batch_header h;
	const char *part = strrchr(l->dir, '/') != NULL ? strrchr(l->dir, '/') + 1 : l->dir;

	if (batch_header_parse(batch, len, &h) != KLAB_OK)
		return;
	broker_log(r->b,
		   "broker %d: %s: producer %" PRId64 " sent sequence %" PRId32
		   " again; it is at offsets %" PRId64 "..%" PRId64 " already: not written twice",
		   r->b->cfg.broker_id, part, h.producer_id, h.base_sequence, info->first_offset,
		   info->last_offset);
}

static int16_t
produce_partition(struct broker_req *r, struct log *l, const uint8_t *records, int32_t len,
		  int64_t *base_offset, const char **msg)
{
	uint8_t *copy;
	size_t pos = 0;
	int nbatches = 0;
	int16_t err = KERR_NONE;
	struct kerr e = { 0 };

	if (r->h->api_version < 3) { /* v0-v2 carry magic 0/1 message sets */
		*msg = "klab stores only magic-2 record batches (Produce v3 and later)";
		return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	}
	if (records == NULL || len < BATCH_HEADER_SIZE) {
		*msg = "the records field holds no record batch";
		return KERR_CORRUPT_MESSAGE;
	}
	while (pos < (size_t)len) { /* sizes first: nothing is written if they do not tile */
		int32_t blen;

		if ((size_t)len - pos < BATCH_HEADER_SIZE) {
			*msg = "a record batch is truncated";
			return KERR_CORRUPT_MESSAGE;
		}
		blen = (int32_t)be32_read(records + pos + BATCH_LENGTH_OFFSET);
		if (blen < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD ||
		    (size_t)blen > (size_t)len - pos - BATCH_LOG_OVERHEAD) {
			*msg = "a record batch length does not match the records field";
			return KERR_CORRUPT_MESSAGE;
		}
		/* v0-v2 clients send magic 0/1 message sets */
		if (records[pos + BATCH_MAGIC_OFFSET] != BATCH_MAGIC) {
			*msg = "klab stores only magic-2 record batches (Produce v3 and later)";
			return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
		}
		/* the low byte of the int16 attributes; only a coordinator writes markers */
		if (records[pos + BATCH_ATTR_OFFSET + 1] & BATCH_ATTR_CONTROL) {
			*msg = "Clients are not allowed to write control records (Kafka's "
			       "LogValidator)";
			return KERR_INVALID_RECORD;
		}
		pos += BATCH_LOG_OVERHEAD + (size_t)blen;
		nbatches++;
	}
	if (nbatches > 1) { /* Kafka: ProduceRequest.validateRecords */
		*msg = "Produce requests with version 3 and later may carry exactly one record "
		       "batch per partition";
		return KERR_INVALID_RECORD;
	}
	if ((copy = malloc((size_t)len)) == NULL)
		return KERR_UNKNOWN_SERVER_ERROR;
	memcpy(copy, records, (size_t)len); /* log_append rewrites baseOffset */
	for (pos = 0; pos < (size_t)len && err == KERR_NONE;) {
		size_t blen = BATCH_LOG_OVERHEAD + be32_read(copy + pos + BATCH_LENGTH_OFFSET);
		struct log_append_info info;
		int rc;

		KLAB_ASSERT(blen <= (size_t)len - pos,
			    "a batch of %zu bytes at %zu of %d: batch sizes were checked to tile "
			    "the records field",
			    blen, pos, (int)len);
		rc = log_append(l, copy + pos, blen, r->now_ms, &info, &e);

		if (rc != KLAB_OK) {
			err = append_error(rc);
			*msg = breq_printf(r, "%s",
					   *kerr_msg(&e) ? kerr_msg(&e) : "a flush failed");
			if (err == KERR_KAFKA_STORAGE_ERROR)
				broker_log_dir_failed(r->b, *msg);
		} else {
			/* a duplicate (KIP-98) is answered with the original's offsets */
			r->appended |= !info.duplicate;
			if (info.duplicate)
				log_duplicate(r, l, copy + pos, blen, &info);
			if (pos == 0)
				*base_offset = info.first_offset;
		}
		pos += blen;
	}
	free(copy);
	return err;
}

static int
produce_one(struct broker_req *r, void *arg, const char *name, const struct pvalue *pi,
	    struct pvalue *po)
{
	int64_t acks = *(const int64_t *)arg;
	int32_t index = (int32_t)pvalue_get_int(pi, "index");
	struct topic *t;
	struct log *l = find_log(r->b, name, index, &t);
	int64_t base = -1;
	const char *msg = NULL;
	int16_t err;
	int32_t len;
	const uint8_t *rec = pvalue_get_bytes(pi, "records", &len);

	pvalue_set_int(po, "index", index);
	if (acks != 0 && acks != 1 && acks != -1)
		err = KERR_INVALID_REQUIRED_ACKS;
	else if (l == NULL)
		err = partition_error(r->b, name, index);
	else
		err = produce_partition(r, l, rec, len, &base, &msg);
	pvalue_set_int(po, "error_code", err);
	pvalue_set_int(po, "base_offset", err == KERR_NONE ? base : -1);
	pvalue_set_int(po, "log_append_time_ms",
		       err == KERR_NONE && t->lc.log_append_time ? r->now_ms : -1);
	pvalue_set_int(po, "log_start_offset", l != NULL ? l->log_start_offset : -1);
	if (msg != NULL)
		pvalue_set_str(po, "error_message", msg);
	return KLAB_OK;
}

int
handle_produce(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	static const struct walk_shape shape = { "topic_data",	   "responses",
						 "name",	   "name",
						 "partition_data", "partition_responses" };
	int64_t acks = pvalue_get_int(req, "acks");
	int rc = each_partition(r, req, resp, &shape, produce_one, &acks);

	if (acks == 0)
		r->no_response = true; /* neither client expects one (REFERENCE.md) */
	return rc;
}

/* ---- Fetch (1) ------------------------------------------------------------------- */

/* A Fetch's progress over its partitions. */
struct fetch_state {
	int64_t budget; /* max_bytes (INT32_MAX when <= 0) */
	int64_t total;	/* bytes of records the answer holds so far */
	bool errors;	/* a partition failed: answer at once */
};

static int
fetch_one(struct broker_req *r, void *arg, const char *name, const struct pvalue *pi,
	  struct pvalue *po)
{
	struct fetch_state *st = arg;
	int32_t index = (int32_t)pvalue_get_int(pi, "partition");
	int64_t offset = pvalue_get_int(pi, "fetch_offset");
	int64_t pmax = pvalue_get_int(pi, "partition_max_bytes");
	struct log *l = find_log(r->b, name, index, NULL);

	pvalue_set_int(po, "partition_index", index);
	pvalue_set_bytes(po, "records", no_bytes, 0);
	pvalue_set_int(po, "high_watermark", -1);
	pvalue_set_int(po, "last_stable_offset", -1);
	pvalue_set_int(po, "log_start_offset", -1);
	if (l == NULL) {
		pvalue_set_int(po, "error_code", partition_error(r->b, name, index));
		st->errors = true;
		return KLAB_OK;
	}
	/* LAB 3 BEGIN fetch_range: the log's offsets in the answer; OFFSET_OUT_OF_RANGE outside them
	 * skeleton: (void)l; (void)offset;
	 */
	/* TODO(lab 3, fetch_range): write this part. */
	(void)l; (void)offset;
	/* LAB 3 END fetch_range */
	/* LAB 3 BEGIN fetch_read: read from fetch_offset, at most partition_max_bytes and what is left of max_bytes
	 * skeleton: (void)pmax; return KLAB_OK;
	 */
	/* TODO(lab 3, fetch_read): write this part. */
	(void)pmax; return KLAB_OK;
	/* LAB 3 END fetch_read */
	return KLAB_OK;
}

int
handle_fetch(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	static const struct walk_shape shape = { "topics", "responses",	 "topic",
						 "topic",  "partitions", "partitions" };
	struct fetch_state st = { pvalue_get_int(req, "max_bytes"), 0, false };
	int rc;

	/* files earlier responses were handed are taken by now (segment.c, invariant 4) */
	segment_files_next_epoch(&r->b->store->dir->files);
	if (st.budget <= 0)
		st.budget = INT32_MAX;
	pvalue_set_int(resp, "error_code", KERR_NONE);
	pvalue_set_int(resp, "session_id", 0); /* no fetch sessions: full fetches only */
	if ((rc = each_partition(r, req, resp, &shape, fetch_one, &st)) != KLAB_OK)
		return rc;
	/* Too little to answer yet: wait in the purgatory (broker.c). */
	if (r->may_park && !st.errors && pvalue_get_int(req, "max_wait_ms") > 0 &&
	    st.total < pvalue_get_int(req, "min_bytes")) {
		r->park = true;
		r->park_ms = pvalue_get_int(req, "max_wait_ms");
	}
	return KLAB_OK;
}

/* ---- FindCoordinator (10) ------------------------------------------------------- */

/*
 * Consumer groups and their coordinator arrive in chapter 6.  Until then
 * every group has none, which is what Kafka answers while
 * __consumer_offsets is not ready: COORDINATOR_NOT_AVAILABLE, a retriable
 * error.  (Listing the API at all matters: librdkafka enables lz4 only
 * for brokers that have FindCoordinator.)
 */
static const char no_coordinator[] = "klab has no group coordinator before chapter 6";

int
handle_find_coordinator(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	const struct pvalue *keys = pvalue_array(req, "coordinator_keys");
	struct pvalue *out = pvalue_array(resp, "coordinators");

	(void)r;
	pvalue_set_int(resp, "error_code", KERR_COORDINATOR_NOT_AVAILABLE);
	pvalue_set_str(resp, "error_message", no_coordinator);
	pvalue_set_int(resp, "node_id", -1);
	pvalue_set_int(resp, "port", -1);
	/* v4 (KIP-699): one answer per key, in the request's order */
	if (pvalue_array_resize(out, pvalue_count(keys)) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < pvalue_count(keys); i++) {
		struct pvalue *c = pvalue_at(out, i);
		const struct pvalue *k = pvalue_at(keys, i);

		pvalue_set_bytes(c, "key", k->s.p != NULL ? k->s.p : no_bytes, k->s.len);
		pvalue_set_int(c, "node_id", -1);
		pvalue_set_int(c, "port", -1);
		pvalue_set_int(c, "error_code", KERR_COORDINATOR_NOT_AVAILABLE);
		pvalue_set_str(c, "error_message", no_coordinator);
	}
	return KLAB_OK;
}

/* ---- InitProducerId (22) ----------------------------------------------------- */

/*
 * An idempotent producer (transactional_id null) gets a new producer id
 * at epoch 0 (KafkaApis.handleInitProducerIdRequest ->
 * ProducerIdManager.generateProducerId; ids: producer_ids.h).  klab has
 * no transaction coordinator: it owns no __transaction_state partition,
 * so for a transactional id it answers as a Kafka broker that is not the
 * id's coordinator, NOT_COORDINATOR (TransactionStateManager.
 * getTransactionState; TransactionCoordinatorTest.
 * shouldRespondWithNotCoordinatorOnInitPidWhenNotCoordinator), and an
 * empty one INVALID_REQUEST (TransactionCoordinator.handleInitProducerId).
 */
/* The next producer id; the block file is read on the first call after a start. */
static int
next_producer_id(struct broker *b, int64_t *id, struct kerr *e)
{
	int rc;

	if (!b->pids_open) {
		rc = producer_ids_open(&b->pids, b->store->dir->fs, b->store->dir->path,
				       b->cfg.broker_id, e);
		if (rc != KLAB_OK)
			return rc;
		b->pids_open = true;
	}
	return producer_ids_next(&b->pids, id, e);
}

int
handle_init_producer_id(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	struct broker *b = r->b;
	int32_t len;
	const uint8_t *txn = pvalue_get_bytes(req, "transactional_id", &len);
	int16_t err = KERR_NONE;
	int64_t id = -1;
	struct kerr e = { 0 };

	/* v3+ may name the producer's id and epoch (KIP-360): both or neither
	 * (KafkaApis.handleInitProducerIdRequest); an idempotent producer gets
	 * a new id either way (TransactionCoordinator.handleInitProducerId). */
	if ((pvalue_get_int(req, "producer_id") == -1) !=
	    (pvalue_get_int(req, "producer_epoch") == -1))
		err = KERR_INVALID_REQUEST;
	else if (txn != NULL && len == 0)
		err = KERR_INVALID_REQUEST;
	else if (txn != NULL)
		err = KERR_NOT_COORDINATOR;
	else if (next_producer_id(b, &id, &e) != KLAB_OK) {
		err = KERR_UNKNOWN_SERVER_ERROR;
		broker_log(b, "broker %d: InitProducerId: %s", b->cfg.broker_id, kerr_msg(&e));
	}
	pvalue_set_int(resp, "error_code", err);
	pvalue_set_int(resp, "producer_id", err == KERR_NONE ? id : -1);
	pvalue_set_int(resp, "producer_epoch", err == KERR_NONE ? 0 : -1);
	return KLAB_OK;
}

/* ---- ListOffsets (2) ---------------------------------------------------------------- */

/* ListOffsetsRequest's special timestamps (ListOffsetsRequest.java). */
#define LATEST_TIMESTAMP (-1)
#define EARLIEST_TIMESTAMP (-2)
#define MAX_TIMESTAMP (-3)	      /* v7+, KIP-734 */
#define EARLIEST_LOCAL_TIMESTAMP (-4) /* v8+, KIP-405 */

static int
list_offsets_one(struct broker_req *r, void *arg, const char *name, const struct pvalue *pi,
		 struct pvalue *po)
{
	int16_t v = *(const int16_t *)arg;
	int32_t index = (int32_t)pvalue_get_int(pi, "partition_index");
	int64_t ts = pvalue_get_int(pi, "timestamp");
	struct log *l = find_log(r->b, name, index, NULL);
	int64_t offset = -1, found_ts = -1;

	pvalue_set_int(po, "partition_index", index);
	if (l == NULL) {
		pvalue_set_int(po, "error_code", partition_error(r->b, name, index));
		return KLAB_OK;
	}
	/*
	 * Clients send -3 and -4 only from v7 and v8 (their builders demand
	 * it); the broker, like Kafka's UnifiedLog.fetchOffsetByTimestamp,
	 * reads them at any version.  MAX_TIMESTAMP: the largest timestamp and
	 * the offset its segment keeps with it (log_max_timestamp).  Without
	 * tiered storage the earliest local offset is the earliest offset,
	 * timestamp -1, as Kafka answers.
	 */
	if (ts == LATEST_TIMESTAMP)
		offset = l->next_offset;
	else if (ts == EARLIEST_TIMESTAMP || ts == EARLIEST_LOCAL_TIMESTAMP)
		offset = l->log_start_offset;
	else if (ts == MAX_TIMESTAMP)
		log_max_timestamp(l, &offset, &found_ts);
	else if (log_offset_for_time(l, ts, &offset, &found_ts) != KLAB_OK)
		offset = found_ts = -1; /* no record that late: Kafka's -1 */
	pvalue_set_int(po, "error_code", KERR_NONE);
	pvalue_set_int(po, "timestamp", found_ts);
	pvalue_set_int(po, "offset", offset);
	pvalue_set_int(po, "leader_epoch", l->leader_epoch < 0 ? 0 : l->leader_epoch);
	if (v == 0 && offset >= 0 && set_int32_list(po, "old_style_offsets", 0) == KLAB_OK)
		pvalue_at(pvalue_array(po, "old_style_offsets"), 0)->i = offset;
	return KLAB_OK;
}

int
handle_list_offsets(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	static const struct walk_shape shape = { "topics", "topics",	 "name",
						 "name",   "partitions", "partitions" };
	int16_t v = r->h->api_version;

	return each_partition(r, req, resp, &shape, list_offsets_one, &v);
}

/* ---- CreateTopics (19) ----------------------------------------------------------------- */

static bool
is_member(struct broker *b, int32_t id)
{
	struct metadata_source *m = &b->meta;
	struct metadata_broker members[BROKER_MEMBERS_MAX];
	int n = m->ops->brokers(m, members, BROKER_MEMBERS_MAX);

	for (int i = 0; i < n; i++)
		if (members[i].id == id)
			return true;
	return false;
}

/* Manual assignments: partitions 0..n-1 in order, each on one member. */
static int16_t
check_assignments(struct broker_req *r, const struct pvalue *as, const char **msg)
{
	int32_t na = pvalue_count(as);

	for (int32_t k = 0; k < na; k++) {
		const struct pvalue *a = pvalue_at(as, k);
		const struct pvalue *ids = pvalue_array(a, "broker_ids");

		if (pvalue_count(ids) > 1) {
			*msg = "Replication factor is larger than 1: replication arrives in "
			       "chapter 5.";
			return KERR_INVALID_REPLICATION_FACTOR;
		}
		if (pvalue_get_int(a, "partition_index") != k || pvalue_count(ids) != 1 ||
		    !is_member(r->b, (int32_t)pvalue_at(ids, 0)->i)) {
			*msg = breq_printf(
				r,
				"Assignments must name partitions 0..%d in order, each on "
				"one broker of the cluster.",
				na - 1);
			return KERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	return KERR_NONE;
}

/* The request's topic configs into ov, checked against Kafka's topic keys. */
static int16_t
check_configs(struct broker_req *r, const struct pvalue *cs, struct config *ov, const char **msg)
{
	struct kerr e = { 0 };

	for (int32_t k = 0; k < pvalue_count(cs); k++) {
		const struct pvalue *c = pvalue_at(cs, k);
		char *key = str_field(r, c, "name");
		char *val = str_field(r, c, "value");

		if (key == NULL)
			return KERR_UNKNOWN_SERVER_ERROR;
		/* the topic id a peer passes on (cluster.c) is the metadata source's to check */
		if (config_key_find(topic_config_keys, topic_config_key_count, key) == NULL &&
		    !(cluster_from_peer(r->h) && strcmp(key, BROKER_PEER_TOPIC_ID_CONFIG) == 0)) {
			*msg = breq_printf(r, "Unknown topic config name: %s", key);
			return KERR_INVALID_CONFIG;
		}
		if (val != NULL && config_set(ov, key, val) != KLAB_OK)
			return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (config_validate(ov, topic_config_keys, topic_config_key_count, &e) != KLAB_OK) {
		*msg = breq_printf(r, "%s", kerr_msg(&e));
		return KERR_INVALID_CONFIG;
	}
	return KERR_NONE;
}

/* Partitions from the request, or an error code with a message. */
static int16_t
create_check(struct broker_req *r, const struct pvalue *ti, const char *name, int32_t *partitions,
	     struct config *ov, const char **msg)
{
	int64_t np = pvalue_get_int(ti, "num_partitions");
	int64_t rf = pvalue_get_int(ti, "replication_factor");
	const struct pvalue *as = pvalue_array(ti, "assignments");
	int32_t na = pvalue_count(as);
	struct kerr e = { 0 };
	int16_t err;

	if (topic_name_validate(name, NULL, &e) != KLAB_OK) {
		*msg = breq_printf(r, "%s", kerr_msg(&e));
		return KERR_INVALID_TOPIC_EXCEPTION;
	}
	if (r->b->meta.ops->partitions(&r->b->meta, name) >= 0) {
		*msg = breq_printf(r, "Topic '%s' already exists.", name);
		return KERR_TOPIC_ALREADY_EXISTS;
	}
	if (na > 0 && (np != -1 || rf != -1)) {
		*msg = "Both numPartitions or replicationFactor and replicasAssignments were set. "
		       "Both cannot be used at the same time.";
		return KERR_INVALID_REQUEST;
	}
	if (na > 0 && (err = check_assignments(r, as, msg)) != KERR_NONE)
		return err;
	if (na > 0)
		np = na;
	else if (np == -1)
		np = r->b->store->default_partitions;
	if (np <= 0 || np > TOPIC_PARTITIONS_MAX) {
		*msg = breq_printf(r, "Number of partitions must be 1..%d (or -1).",
				   TOPIC_PARTITIONS_MAX);
		return KERR_INVALID_PARTITIONS;
	}
	if (rf != -1 && rf != 1) {
		*msg = breq_printf(r,
				   "Replication factor: %lld: klab's brokers keep one copy of each "
				   "partition until replication arrives in chapter 5.",
				   (long long)rf);
		return KERR_INVALID_REPLICATION_FACTOR;
	}
	*partitions = (int32_t)np;
	return check_configs(r, pvalue_array(ti, "configs"), ov, msg);
}

/* A failed creation's error code: a disk that fails takes the log directory offline. */
static int16_t
create_error(int rc)
{
	switch (rc) {
	case KLAB_ECONFIG: return KERR_INVALID_CONFIG;
	case KLAB_EIO:
	case KLAB_ENOSPC: return KERR_KAFKA_STORAGE_ERROR;
	default: return KERR_UNKNOWN_SERVER_ERROR;
	}
}

/* The request's manual assignment (checked by create_check), or NULL. */
static const int32_t *
assignment_of(struct broker_req *r, const struct pvalue *ti)
{
	const struct pvalue *as = pvalue_array(ti, "assignments");
	int32_t n = pvalue_count(as), *ids;

	if (n == 0 || (ids = breq_alloc(r, (size_t)n * sizeof(*ids))) == NULL)
		return NULL;
	for (int32_t k = 0; k < n; k++)
		ids[k] = (int32_t)pvalue_at(pvalue_array(pvalue_at(as, k), "broker_ids"), 0)->i;
	return ids;
}

/*
 * What v5+ tells of a topic created (or that would be, validate_only):
 * its partitions, replication factor and configs, and from v7 its id,
 * as ZkAdminManager.createTopics fills them; a failed topic keeps the
 * defaults -1, -1 and no configs, as Kafka's.  Kafka lists every topic
 * config with its source (the broker's defaults too); klab lists the
 * overrides the request set, as DYNAMIC_TOPIC_CONFIG (1), and leaves out
 * the defaults, which the client can read from the broker's properties.
 */
static int
create_result(struct broker_req *r, struct pvalue *to, const char *name, int32_t partitions,
	      const struct config *ov, bool validate_only)
{
	struct pvalue *cs = pvalue_array(to, "configs");

	pvalue_set_int(to, "num_partitions", partitions);
	pvalue_set_int(to, "replication_factor", 1); /* one copy until chapter 5 */
	if (!validate_only)
		set_topic_id(r, to, name);
	if (pvalue_array_resize(cs, (int32_t)ov->n) != KLAB_OK)
		return KLAB_ENOMEM;
	for (size_t k = 0; k < ov->n; k++) {
		struct pvalue *c = pvalue_at(cs, (int32_t)k);
		const char *key = breq_printf(r, "%s", ov->entries[k].key);
		const char *val = breq_printf(r, "%s", ov->entries[k].value);

		if (key == NULL || val == NULL)
			return KLAB_ENOMEM;
		pvalue_set_str(c, "name", key);
		pvalue_set_str(c, "value", val);
		pvalue_set_int(c, "config_source", 1);
	}
	return KLAB_OK;
}

int
handle_create_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	struct broker *b = r->b;
	const struct pvalue *tin = pvalue_array(req, "topics");
	struct pvalue *tout = pvalue_array(resp, "topics");
	bool validate_only = pvalue_get_int(req, "validate_only") != 0;
	int32_t nt = pvalue_count(tin);
	int32_t *repeats = name_repeats(r, tin, "name"); /* sorted: O(n log n) */

	if (repeats == NULL || pvalue_array_resize(tout, nt) != KLAB_OK)
		return KLAB_ENOMEM;
	for (int32_t i = 0; i < nt; i++) {
		const struct pvalue *ti = pvalue_at(tin, i);
		struct pvalue *to = pvalue_at(tout, i);
		char *name;
		const char *msg = NULL;
		int32_t partitions = 0;
		struct config ov;
		struct kerr e = { 0 };
		int16_t err;
		int rc = wire_topic(r, ti, "name", &name, &e);

		if (rc == KLAB_ENOMEM)
			return KLAB_ENOMEM;
		copy_str(to, "name", ti, "name");
		config_init(&ov);
		if (repeats[i] > 1 || repeats[i] < -1) {
			err = KERR_INVALID_REQUEST;
			msg = "Create topics request contains duplicate topic names.";
		} else if (rc != KLAB_OK) {
			err = KERR_INVALID_TOPIC_EXCEPTION;
			msg = breq_printf(r, "%s", kerr_msg(&e));
		} else if ((msg = too_long_for_klab(r, name)) != NULL) {
			err = KERR_INVALID_TOPIC_EXCEPTION;
		} else {
			err = create_check(r, ti, name, &partitions, &ov, &msg);
		}
		if (err == KERR_NONE && b->store->dir->offline) {
			err = KERR_KAFKA_STORAGE_ERROR;
			msg = breq_printf(r, "log directory %s is offline: %s", b->store->dir->path,
					  kerr_msg(&b->store->dir->offline_why));
		}
		if (err == KERR_NONE && !validate_only) {
			rc = create_placed(r, name, partitions, assignment_of(r, ti), &ov, &e);
			if (rc != KLAB_OK) {
				err = create_error(rc);
				msg = breq_printf(r, "%s", kerr_msg(&e));
				if (err == KERR_KAFKA_STORAGE_ERROR)
					broker_log_dir_failed(b, msg);
			} else {
				broker_log(b, "broker %d: created topic '%s' with %d partitions",
					   b->cfg.broker_id, name, partitions);
			}
		}
		if (err == KERR_NONE &&
		    create_result(r, to, name, partitions, &ov, validate_only) != KLAB_OK)
			err = KERR_UNKNOWN_SERVER_ERROR; /* out of memory: the topic exists */
		config_free(&ov);
		pvalue_set_int(to, "error_code", err);
		pvalue_set_str(to, "error_message", msg);
	}
	return KLAB_OK;
}

/* ---- DeleteTopics (20) ------------------------------------------------------------------ */

/*
 * Topic i of a DeleteTopics request: its name bytes (NULL: none) into
 * *p, *len, and its echo in the response element o.  Up to v5 a list of
 * names; v6 names each topic by name or by id (KIP-516), and an id wins,
 * as Kafka 3.6's ZooKeeper-mode handler resolves it; an id klab cannot
 * resolve answers UNKNOWN_TOPIC_ID, name null.  Returns the error the
 * topic has unless the source deletes it.
 */
static int16_t
delete_target(struct broker_req *r, const struct pvalue *req, int32_t i, struct pvalue *o,
	      const uint8_t **p, int32_t *len)
{
	const struct pvalue *el;
	uint8_t id[16];
	char *name;

	if (r->h->api_version < 6) {
		el = pvalue_at(pvalue_array(req, "topic_names"), i);
		*p = el->s.p != NULL ? el->s.p : no_bytes;
		*len = el->s.len;
		pvalue_set_bytes(o, "name", *p, *len);
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	el = pvalue_at(pvalue_array(req, "topics"), i);
	pvalue_get_uuid(el, "topic_id", id);
	pvalue_set_uuid(o, "topic_id", id);
	if (memcmp(id, zero_id, 16) == 0) {
		*p = pvalue_get_bytes(el, "name", len);
		pvalue_set_bytes(o, "name", *p, *len);
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	name = topic_of_id(r, id);
	*p = (const uint8_t *)name;
	*len = name != NULL ? (int32_t)strlen(name) : -1;
	pvalue_set_str(o, "name", name);
	return name != NULL ? KERR_UNKNOWN_TOPIC_OR_PARTITION : KERR_UNKNOWN_TOPIC_ID;
}

/* The metadata source deletes them in the cluster (metadata.h, invariant 5). */
int
handle_delete_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	struct metadata_source *m = &r->b->meta;
	const char *in_name = r->h->api_version < 6 ? "topic_names" : "topics";
	struct pvalue *out = pvalue_array(resp, "responses");
	int32_t n = pvalue_count(pvalue_array(req, in_name)), k = 0;
	const char **names = breq_alloc(r, (size_t)n * sizeof(*names));
	int16_t *errors = breq_alloc(r, (size_t)n * sizeof(*errors));
	int32_t *at = breq_alloc(r, (size_t)n * sizeof(*at));

	if (names == NULL || errors == NULL || at == NULL || pvalue_array_resize(out, n) != KLAB_OK)
		return KLAB_ENOMEM;
	/*
	 * Only names Kafka's rules allow, checked on their exact bytes, go to
	 * the metadata source; the others name no topic (Kafka:
	 * UNKNOWN_TOPIC_OR_PARTITION) - "victim\0zzz" must not delete "victim".
	 */
	for (int32_t i = 0; i < n; i++) {
		struct pvalue *o = pvalue_at(out, i);
		const uint8_t *p;
		int32_t len;

		pvalue_set_int(o, "error_code", delete_target(r, req, i, o, &p, &len));
		if (p == NULL || topic_name_validate_bytes(p, (size_t)len, NULL, NULL) != KLAB_OK)
			continue;
		if ((names[k] = breq_strndup(r, p, len)) == NULL)
			return KLAB_ENOMEM;
		at[k++] = i;
	}
	m->ops->delete_topics(m, r->h, names, k, errors);
	for (int32_t j = 0; j < k; j++)
		pvalue_set_int(pvalue_at(out, at[j]), "error_code", errors[j]);
	return KLAB_OK;
}
