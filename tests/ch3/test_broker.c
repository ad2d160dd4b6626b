/*
 * test_broker.c - one broker in the simulator, driven by a tiny test
 * client node that sends requests encoded with proto_request_encode() and
 * decodes the answers with the response tables (chapter 3 §3).
 *
 *   ApiVersions v0-3, and v4 answered with UNSUPPORTED_VERSION in v0;
 *   flexible versions: ApiVersions v3 byte for byte, Metadata v10-12 and
 *   Fetch v13-15 with topic ids (a stub metadata source gives them),
 *   Produce v9, ListOffsets v7-8, CreateTopics v7, DeleteTopics v6,
 *   FindCoordinator v4; refusals logged with name, range and client id;
 *   Metadata v0-8: all topics, auto-creation on and off, unknown and
 *   invalid names;
 *   Produce v3-8: acks 1 assigns base offsets, acks 0 sends nothing,
 *   unknown topics, corrupt and oversized batches, bad acks;
 *   Fetch v4-11: records, high watermark, log start offset, an empty
 *   answer at the log end, OFFSET_OUT_OF_RANGE, max_bytes;
 *   ListOffsets v0-5: earliest, latest, by timestamp;
 *   CreateTopics v0-4 (partitions, validate_only, replication factor,
 *   configs, duplicates) and DeleteTopics v0-3;
 *   bad input: garbage and truncated frames, unknown API keys and
 *   versions close the connection; the broker carries on;
 *   a full disk (ENOSPC) and a failing one (EIO on write, on fsync): the
 *   log directory goes offline, KAFKA_STORAGE_ERROR, a stop that is not
 *   clean, a restart (on the still-full disk too) that recovers.
 *
 * Set KLAB_SEED to replay the random frames of the garbage test.
 */
#include "testutil.h"

#include "broker/broker.h"
#include "proto/kafka.h"
#include "proto/tracer.h"
#include "net/disk_sim.h"
#include "net/sim.h"

#define PORT 9092
#define BROKER_ID 3

#include "broker_client.h"

/* ---- the world ----------------------------------------------------------------- */

struct world {
	struct sim sim;
	struct broker broker;
	struct client client;
	struct config props;
	char dir[64];
	int bi, ci;
	int32_t corr;
	char logs[4096];
};

static void
log_line(void *arg, const char *line)
{
	struct world *w = arg;
	size_t n = strlen(w->logs);

	snprintf(w->logs + n, sizeof(w->logs) - n, "%s\n", line);
}

static struct rt *
crt(struct world *w)
{
	return sim_node(&w->sim, w->ci)->rt;
}

static void
connect_client(struct world *w)
{
	w->client.conn = crt(w)->ops->connect(crt(w), "broker", PORT);
	sim_run_until_idle(&w->sim, 100000);
	assert_true(w->client.connected);
}

/* A broker and a connected client; extra is NULL or KEY, VALUE, ..., NULL. */
static struct world *
world_new_with(bool auto_create, const char *max_message_bytes, const char *const *extra)
{
	struct world *w = calloc(1, sizeof(*w));
	struct broker_config bc;

	assert_non_null(w);
	tu_tmpdir_make(w->dir, sizeof(w->dir));
	config_init(&w->props);
	assert_int_equal(config_set(&w->props, "num.partitions", "2"), KLAB_OK);
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2)
		assert_int_equal(config_set(&w->props, extra[i], extra[i + 1]), KLAB_OK);
	if (max_message_bytes != NULL)
		assert_int_equal(config_set(&w->props, "message.max.bytes", max_message_bytes),
				 KLAB_OK);
	memset(&bc, 0, sizeof(bc));
	bc.broker_id = BROKER_ID;
	snprintf(bc.listen_host, sizeof(bc.listen_host), "broker");
	bc.listen_port = PORT;
	snprintf(bc.cluster_id, sizeof(bc.cluster_id), "klab-test-cluster");
	bc.auto_create_topics = auto_create;
	bc.props = &w->props;
	bc.trace = true;
	bc.log = log_line;
	bc.log_arg = w;
	broker_init(&w->broker, &bc);
	sim_init(&w->sim, tu_seed(0xB0B));
	w->bi = sim_add_node(&w->sim, "broker", &broker_node_ops, &w->broker, w->dir);
	w->ci = sim_add_node(&w->sim, "client", &client_ops, &w->client, NULL);
	sim_run_until_idle(&w->sim, 1000);
	assert_false(w->broker.failed);
	connect_client(w);
	return w;
}

static struct world *
world_new(bool auto_create, const char *max_message_bytes)
{
	return world_new_with(auto_create, max_message_bytes, NULL);
}

static void
world_free(struct world *w)
{
	broker_free(&w->broker); /* while its disk (the simulator's) is still there */
	sim_free(&w->sim);
	for (size_t i = 0; i < w->client.nframes; i++)
		buf_free(&w->client.frames[i]);
	free(w->client.frames);
	config_free(&w->props);
	tu_tmpdir_remove(w->dir);
	free(w);
}

/* Send a raw frame; return how many frames came back. */
static size_t
send_raw(struct world *w, const uint8_t *p, size_t len)
{
	size_t before = w->client.nframes;

	assert_int_equal(crt(w)->ops->send(crt(w), w->client.conn, p, len), KLAB_OK);
	sim_run_until_idle(&w->sim, 100000);
	return w->client.nframes - before;
}

/*
 * Send request body at version v of API key; return the decoded response
 * (the caller frees it), or NULL when nothing came back.
 */
static struct pvalue *
rpc(struct world *w, int16_t key, int16_t v, const struct pvalue *body)
{
	const struct api_desc *api = proto_api(key);
	struct proto_request_header h = { .api_key = key,
					  .api_version = v,
					  .correlation_id = ++w->corr,
					  .client_id = (const uint8_t *)"test",
					  .client_id_len = 4 };
	struct buf out;
	struct pvalue *resp = NULL;
	const struct buf *f;
	struct cursor c;
	int32_t corr;
	size_t got;

	buf_init(&out);
	assert_int_equal(proto_request_encode(&h, body, &out), KLAB_OK);
	got = send_raw(w, out.data, out.len);
	buf_free(&out);
	if (got == 0)
		return NULL;
	assert_int_equal(got, 1);
	f = &w->client.frames[w->client.nframes - 1];
	assert_true(f->len >= 8);
	assert_int_equal(proto_response_header_parse(key, v, f->data + 4, f->len - 4, &corr, &c),
			 KLAB_OK);
	assert_int_equal(corr, w->corr);
	assert_int_equal(proto_decode(api->response, v, c.p, c.len, &resp), KLAB_OK);
	return resp;
}

static struct pvalue *
request(int16_t key)
{
	struct pvalue *r = pvalue_new(proto_api(key)->request);

	assert_non_null(r);
	return r;
}

/* ---- request builders ------------------------------------------------------------- */

static void
create_topic(struct world *w, const char *name, int32_t partitions)
{
	struct pvalue *req = request(KAPI_CREATE_TOPICS), *resp, *t;

	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", name);
	pvalue_set_int(t, "num_partitions", partitions);
	pvalue_set_int(t, "replication_factor", 1);
	resp = rpc(w, KAPI_CREATE_TOPICS, 3, req);
	assert_non_null(resp);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			 0);
	pvalue_free(resp);
	pvalue_free(req);
}

/* One topic, one partition, the given records bytes. */
static struct pvalue *
produce_req(const char *topic, int32_t partition, int16_t acks, const void *rec, int32_t len)
{
	struct pvalue *req = request(KAPI_PRODUCE), *t, *p;

	pvalue_set_int(req, "acks", acks);
	pvalue_set_int(req, "timeout_ms", 1000);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topic_data"), 0);
	pvalue_set_str(t, "name", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", partition);
	pvalue_set_bytes(p, "records", rec, len);
	return req;
}

static struct pvalue *
produce_part(struct pvalue *resp)
{
	struct pvalue *t = pvalue_at(pvalue_array(resp, "responses"), 0);

	return pvalue_at(pvalue_array(t, "partition_responses"), 0);
}

/* Send batch b (then freed) in a Produce at version v; the error, *base its offset. */
static int64_t
send_batch(struct world *w, int16_t v, const char *topic, int32_t part, int16_t acks, struct buf *b,
	   int64_t *base)
{
	struct pvalue *req = produce_req(topic, part, acks, b->data, (int32_t)b->len);
	struct pvalue *resp = rpc(w, KAPI_PRODUCE, v, req);
	int64_t err;

	assert_non_null(resp);
	err = pvalue_get_int(produce_part(resp), "error_code");
	if (base != NULL)
		*base = pvalue_get_int(produce_part(resp), "base_offset");
	pvalue_free(resp);
	pvalue_free(req);
	buf_free(b);
	return err;
}

/* Produce nrec records (timestamps ts0..) at version v, acks 1; returns the error code. */
static int64_t
produce(struct world *w, int16_t v, const char *topic, int32_t part, int nrec, int64_t ts0,
	int64_t *base)
{
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, nrec, ts0, 10, (uint32_t)nrec);
	return send_batch(w, v, topic, part, 1, &b, base);
}

static struct pvalue *
fetch_req(const char *topic, int32_t partition, int64_t offset, int32_t max_bytes)
{
	struct pvalue *req = request(KAPI_FETCH), *t, *p;

	pvalue_set_int(req, "max_wait_ms", 0);
	pvalue_set_int(req, "min_bytes", 1);
	pvalue_set_int(req, "max_bytes", max_bytes);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "topic", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	pvalue_set_int(p, "partition", partition);
	pvalue_set_int(p, "fetch_offset", offset);
	pvalue_set_int(p, "partition_max_bytes", max_bytes);
	return req;
}

static struct pvalue *
fetch_part(struct pvalue *resp)
{
	struct pvalue *t = pvalue_at(pvalue_array(resp, "responses"), 0);

	return pvalue_at(pvalue_array(t, "partitions"), 0);
}

static struct pvalue *
list_offsets_req(const char *topic, int32_t partition, int64_t ts)
{
	struct pvalue *req = request(KAPI_LIST_OFFSETS), *t, *p;

	pvalue_set_int(req, "replica_id", -1);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	pvalue_set_int(p, "partition_index", partition);
	pvalue_set_int(p, "timestamp", ts);
	return req;
}

static struct pvalue *
metadata_req(const char *topic, bool auto_create)
{
	struct pvalue *req = request(KAPI_METADATA);

	pvalue_set_int(req, "allow_auto_topic_creation", auto_create);
	if (topic == NULL) {
		pvalue_array_set_null(pvalue_array(req, "topics"));
		return req;
	}
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), 0), "name", topic);
	return req;
}

static bool logged(const struct world *w, const char *what);

/* ---- ApiVersions ------------------------------------------------------------------------ */

static void
test_ch3_broker_api_versions(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);

	for (int16_t v = 0; v <= 3; v++) {
		struct pvalue *req = request(KAPI_API_VERSIONS),
			      *resp = rpc(w, KAPI_API_VERSIONS, v, req), *keys;
		bool produce = false, fetch = false;

		assert_non_null(resp);
		assert_int_equal(pvalue_get_int(resp, "error_code"), 0);
		keys = pvalue_array(resp, "api_keys");
		assert_int_equal(pvalue_count(keys), (int32_t)proto_api_count());
		for (int32_t i = 0; i < pvalue_count(keys); i++) {
			struct pvalue *k = pvalue_at(keys, i);
			int64_t key = pvalue_get_int(k, "api_key");

			produce |= key == KAPI_PRODUCE && pvalue_get_int(k, "min_version") == 0 &&
				   pvalue_get_int(k, "max_version") == 9;
			fetch |= key == KAPI_FETCH && pvalue_get_int(k, "min_version") == 4 &&
				 pvalue_get_int(k, "max_version") == 15;
		}
		assert_true(produce && fetch);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* No groups before chapter 6: every key has no coordinator, a retriable error. */
static void
test_ch3_broker_find_coordinator_not_available(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);

	for (int16_t v = 0; v <= 2; v++) {
		struct pvalue *req = request(KAPI_FIND_COORDINATOR), *resp;
		int32_t len;

		pvalue_set_str(req, "key", "my-group");
		resp = rpc(w, KAPI_FIND_COORDINATOR, v, req);
		assert_non_null(resp);
		assert_int_equal(pvalue_get_int(resp, "error_code"),
				 15); /* COORDINATOR_NOT_AVAILABLE */
		assert_int_equal(pvalue_get_int(resp, "node_id"), -1);
		pvalue_get_bytes(resp, "error_message", &len);
		assert_true(v == 0 ? len == -1 : len > 0); /* no message field in v0 */
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* The simulator's trace, with the Kafka describer: frames read as requests and responses. */
static void
trace_line(void *arg, const char *line)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 8192 - n, "%s\n", line);
}

static void
test_ch3_broker_trace_decodes_requests_and_responses(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	struct proto_tracer tracer;
	char *lines = calloc(1, 8192);
	struct pvalue *req, *resp;

	assert_non_null(lines);
	proto_tracer_init(&tracer);
	sim_set_trace(&w->sim, trace_line, lines);
	sim_set_describe(&w->sim, proto_tracer_describe, &tracer);
	req = metadata_req("traced", true);
	resp = rpc(w, KAPI_METADATA, 4, req);
	assert_non_null(resp);
	pvalue_free(resp);
	resp = rpc(w, KAPI_METADATA, 12, req); /* flexible: header v2 in, v1 out */
	assert_non_null(resp);
	pvalue_free(resp);
	pvalue_free(req);
	if (strstr(lines, "Metadata v12 request [flexible] corr=") == NULL ||
	    strstr(lines, "Metadata v12 response [flexible] corr=") == NULL ||
	    strstr(lines, "Metadata v4 request corr=") == NULL ||
	    strstr(lines, "topics=[traced] allow_auto_topic_creation=1") == NULL ||
	    strstr(lines, "Metadata v4 response corr=") == NULL)
		fail_msg("trace:\n%s", lines);
	/* garbage is shown as bytes, not misread */
	memset(lines, 0, 8192);
	send_raw(w, (const uint8_t *)"\0\0\0\4\xff\xff\xff\xff", 8);
	if (strstr(lines, "? 8 bytes: 00 00 00 04 ff ff ff ff") == NULL)
		fail_msg("trace:\n%s", lines);
	sim_set_trace(&w->sim, NULL, NULL);
	free(lines);
	world_free(w);
}

static void
test_ch3_broker_api_versions_v4_unsupported(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	/* ApiVersions v4, a version klab does not have: header v2 and bytes it never reads. */
	static const uint8_t frame[] = {
		0,   0,	  0,   26, 0,  18,  0,	 4,   0,   0,	0,   42, 0,   4,   't',
		'e', 's', 't', 0,  10, 'l', 'i', 'b', 'r', 'd', 'k', 4,	 '2', '.', '0',
	};
	const struct buf *f;
	struct pvalue *resp;

	assert_int_equal(sizeof(frame) - 4, 26);
	assert_int_equal(send_raw(w, frame, sizeof(frame)), 1);
	f = &w->client.frames[w->client.nframes - 1];
	assert_int_equal(be32_read(f->data + 4), 42);
	assert_int_equal(proto_decode(proto_api(KAPI_API_VERSIONS)->response, 0, f->data + 8,
				      f->len - 8, &resp),
			 KLAB_OK);
	assert_int_equal(pvalue_get_int(resp, "error_code"), KERR_UNSUPPORTED_VERSION);
	/* Kafka lists only ApiVersions' own range (ApiVersionsRequest.getErrorResponse) */
	assert_int_equal(pvalue_count(pvalue_array(resp, "api_keys")), 1);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(resp, "api_keys"), 0), "api_key"),
			 18);
	assert_int_equal(
		pvalue_get_int(pvalue_at(pvalue_array(resp, "api_keys"), 0), "max_version"), 3);
	pvalue_free(resp);
	if (!logged(w, "ApiVersions v4 is not supported (klab serves v0-v3), client_id=test: "
		       "answered UNSUPPORTED_VERSION in v0"))
		fail_msg("log:\n%s", w->logs);
	assert_true(w->client.connected);
	world_free(w);
}

/* ---- Metadata ------------------------------------------------------------------------------ */

static void
check_topic_meta(const struct pvalue *t, const char *name, int32_t partitions)
{
	int32_t len;
	const uint8_t *p = pvalue_get_bytes(t, "name", &len);
	const struct pvalue *parts = pvalue_array(t, "partitions");

	assert_int_equal(pvalue_get_int(t, "error_code"), 0);
	assert_int_equal(len, (int32_t)strlen(name));
	assert_memory_equal(p, name, (size_t)len);
	assert_int_equal(pvalue_count(parts), partitions);
	for (int32_t i = 0; i < partitions; i++) {
		const struct pvalue *pp = pvalue_at(parts, i);

		assert_int_equal(pvalue_get_int(pp, "partition_index"), i);
		assert_int_equal(pvalue_get_int(pp, "leader_id"), BROKER_ID);
		assert_int_equal(pvalue_count(pvalue_array(pp, "replica_nodes")), 1);
		assert_int_equal(pvalue_at(pvalue_array(pp, "replica_nodes"), 0)->i, BROKER_ID);
		assert_int_equal(pvalue_count(pvalue_array(pp, "isr_nodes")), 1);
		assert_int_equal(pvalue_at(pvalue_array(pp, "isr_nodes"), 0)->i, BROKER_ID);
	}
}

static void
test_ch3_broker_metadata(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	char name[32];

	create_topic(w, "orders", 3);
	for (int16_t v = 0; v <= 8; v++) {
		struct pvalue *req = request(KAPI_METADATA), *resp, *b;
		int32_t len;

		if (v == 0)
			pvalue_array_resize(pvalue_array(req, "topics"), 0); /* v0: empty = all */
		else
			pvalue_array_set_null(pvalue_array(req, "topics"));
		resp = rpc(w, KAPI_METADATA, v, req);
		assert_non_null(resp);
		b = pvalue_array(resp, "brokers");
		assert_int_equal(pvalue_count(b), 1);
		assert_int_equal(pvalue_get_int(pvalue_at(b, 0), "node_id"), BROKER_ID);
		assert_int_equal(pvalue_get_int(pvalue_at(b, 0), "port"), PORT);
		assert_memory_equal(pvalue_get_bytes(pvalue_at(b, 0), "host", &len), "broker", 6);
		if (v >= 1)
			assert_int_equal(pvalue_get_int(resp, "controller_id"), BROKER_ID);
		if (v >= 2)
			assert_memory_equal(pvalue_get_bytes(resp, "cluster_id", &len),
					    "klab-test-cluster", 17);
		/* "orders" plus the topics auto-created at earlier versions */
		assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 1 + v);
		pvalue_free(resp);
		pvalue_free(req);

		/* auto-creation: one broker, so the topic is there at once */
		snprintf(name, sizeof(name), "auto-%d", v);
		req = metadata_req(name, true);
		resp = rpc(w, KAPI_METADATA, v, req);
		assert_non_null(resp);
		check_topic_meta(pvalue_at(pvalue_array(resp, "topics"), 0), name, 2);
		pvalue_free(resp);
		pvalue_free(req);
	}
	/* v4+: allow_auto_topic_creation=false */
	{
		struct pvalue *req = metadata_req("nope", false),
			      *resp = rpc(w, KAPI_METADATA, 4, req);

		assert_int_equal(
			pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			KERR_UNKNOWN_TOPIC_OR_PARTITION);
		pvalue_free(resp);
		pvalue_free(req);
		req = metadata_req("bad/name", true);
		resp = rpc(w, KAPI_METADATA, 4, req);
		assert_int_equal(
			pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			KERR_INVALID_TOPIC_EXCEPTION);
		pvalue_free(resp);
		pvalue_free(req);
		/* v1+: an empty list means no topics */
		req = request(KAPI_METADATA);
		resp = rpc(w, KAPI_METADATA, 1, req);
		assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 0);
		pvalue_free(resp);
		pvalue_free(req);
	}
	assert_null(topics_find(w->broker.store, "nope"));
	world_free(w);
}

static void
test_ch3_broker_metadata_auto_create_disabled(void **state)
{
	(void)state;
	struct world *w = world_new(false, NULL);
	struct pvalue *req = metadata_req("t", true), *resp = rpc(w, KAPI_METADATA, 8, req);

	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			 KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_null(topics_find(w->broker.store, "t"));
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

/* ---- Produce ------------------------------------------------------------------------------- */

static void
test_ch3_broker_produce(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	int64_t base, expect = 0;

	create_topic(w, "p", 2);
	for (int16_t v = 3; v <= 8; v++) {
		assert_int_equal(produce(w, v, "p", 1, 5, 1000, &base), 0);
		assert_int_equal(base, expect);
		expect += 5;
	}
	assert_int_equal(topics_find(w->broker.store, "p")->logs[1]->next_offset, 30);
	assert_int_equal(topics_find(w->broker.store, "p")->logs[0]->next_offset, 0);
	/* unknown topic or partition */
	assert_int_equal(produce(w, 8, "none", 0, 1, 0, NULL), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(produce(w, 8, "p", 2, 1, 0, NULL), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(produce(w, 8, "p", -1, 1, 0, NULL), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_null(topics_find(w->broker.store, "none")); /* Produce never creates */
	world_free(w);
}

static void
test_ch3_broker_produce_acks0_no_response(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	struct buf b;

	create_topic(w, "a0", 1);
	buf_init(&b);
	tu_batch_make(&b, 4, 0, 10, 1);
	for (int16_t v = 3; v <= 8; v++) {
		struct pvalue *req = produce_req("a0", 0, 0, b.data, (int32_t)b.len);

		assert_null(rpc(w, KAPI_PRODUCE, v, req)); /* nothing comes back */
		pvalue_free(req);
	}
	assert_true(w->client.connected);
	assert_int_equal(topics_find(w->broker.store, "a0")->logs[0]->next_offset, 24);
	/* acks=-1 (all) answers like acks=1 on one broker; acks=2 is invalid */
	{
		struct pvalue *req = produce_req("a0", 0, -1, b.data, (int32_t)b.len);
		struct pvalue *resp = rpc(w, KAPI_PRODUCE, 7, req);

		assert_int_equal(pvalue_get_int(produce_part(resp), "error_code"), 0);
		assert_int_equal(pvalue_get_int(produce_part(resp), "base_offset"), 24);
		pvalue_free(resp);
		pvalue_free(req);
		req = produce_req("a0", 0, 2, b.data, (int32_t)b.len);
		resp = rpc(w, KAPI_PRODUCE, 7, req);
		assert_int_equal(pvalue_get_int(produce_part(resp), "error_code"),
				 KERR_INVALID_REQUIRED_ACKS);
		pvalue_free(resp);
		pvalue_free(req);
	}
	buf_free(&b);
	world_free(w);
}

static void
test_ch3_broker_produce_bad_batches(void **state)
{
	(void)state;
	struct world *w = world_new(true, "200");
	struct buf b, two;
	struct pvalue *req, *resp;
	int64_t errs[6];
	static const uint8_t magic1[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14,
					  0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };

	create_topic(w, "bad", 1);
	buf_init(&b);
	/* a flipped byte in the records: CRC mismatch */
	tu_batch_make(&b, 2, 0, 10, 1);
	b.data[b.len - 3] ^= 0x40;
	req = produce_req("bad", 0, 1, b.data, (int32_t)b.len);
	resp = rpc(w, KAPI_PRODUCE, 8, req);
	errs[0] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	/* above message.max.bytes=200 */
	tu_batch_make(&b, 10, 0, 100, 1);
	req = produce_req("bad", 0, 1, b.data, (int32_t)b.len);
	resp = rpc(w, KAPI_PRODUCE, 8, req);
	errs[1] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	/* a batch length that overruns the field */
	tu_batch_make(&b, 2, 0, 10, 1);
	req = produce_req("bad", 0, 1, b.data, (int32_t)b.len - 5);
	resp = rpc(w, KAPI_PRODUCE, 8, req);
	errs[2] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	/* null records */
	req = produce_req("bad", 0, 1, NULL, 0);
	resp = rpc(w, KAPI_PRODUCE, 5, req);
	errs[3] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	assert_int_equal(errs[0], KERR_CORRUPT_MESSAGE);
	assert_int_equal(errs[1], KERR_MESSAGE_TOO_LARGE);
	assert_int_equal(errs[2], KERR_CORRUPT_MESSAGE);
	/* two batches for one partition: Produce v3+ allows exactly one (Kafka: INVALID_RECORD) */
	buf_init(&two);
	tu_batch_make(&two, 1, 0, 10, 1);
	tu_batch_make(&b, 1, 0, 10, 2);
	buf_put(&two, b.data, b.len);
	req = produce_req("bad", 0, 1, two.data, (int32_t)two.len);
	resp = rpc(w, KAPI_PRODUCE, 8, req);
	errs[4] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	buf_free(&two);
	/* Produce v2 with a small magic-1 message set: the format, not corruption */
	req = produce_req("bad", 0, 1, magic1, (int32_t)sizeof(magic1));
	resp = rpc(w, KAPI_PRODUCE, 2, req);
	errs[5] = pvalue_get_int(produce_part(resp), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	assert_int_equal(errs[3], KERR_CORRUPT_MESSAGE);
	assert_int_equal(errs[4], KERR_INVALID_RECORD);
	assert_int_equal(errs[5], KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT);
	assert_int_equal(topics_find(w->broker.store, "bad")->logs[0]->next_offset, 0);
	/* and a good one still goes in */
	assert_int_equal(produce(w, 8, "bad", 0, 1, 0, NULL), 0);
	buf_free(&b);
	world_free(w);
}

/* ---- Fetch -------------------------------------------------------------------------------- */

static void
test_ch3_broker_fetch(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);

	create_topic(w, "f", 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(produce(w, 8, "f", 0, 3, 100 * i, NULL), 0);
	for (int16_t v = 4; v <= 11; v++) {
		struct pvalue *req = fetch_req("f", 0, 3, 1 << 20), *resp, *p;
		const uint8_t *rec;
		int32_t len;
		int64_t next = 3;

		resp = rpc(w, KAPI_FETCH, v, req);
		assert_non_null(resp);
		p = fetch_part(resp);
		assert_int_equal(pvalue_get_int(p, "error_code"), 0);
		assert_int_equal(pvalue_get_int(p, "high_watermark"), 12);
		if (v >= 5)
			assert_int_equal(pvalue_get_int(p, "log_start_offset"), 0);
		rec = pvalue_get_bytes(p, "records", &len);
		assert_non_null(rec);
		assert_int_equal(tu_check_batches(rec, (size_t)len, &next), 3);
		assert_int_equal(next, 12);
		pvalue_free(resp);
		pvalue_free(req);

		/* at the log end: no records, no error */
		req = fetch_req("f", 0, 12, 1 << 20);
		resp = rpc(w, KAPI_FETCH, v, req);
		p = fetch_part(resp);
		assert_int_equal(pvalue_get_int(p, "error_code"), 0);
		pvalue_get_bytes(p, "records", &len);
		assert_true(len <= 0);
		pvalue_free(resp);
		pvalue_free(req);

		/* past it */
		req = fetch_req("f", 0, 13, 1 << 20);
		resp = rpc(w, KAPI_FETCH, v, req);
		assert_int_equal(pvalue_get_int(fetch_part(resp), "error_code"),
				 KERR_OFFSET_OUT_OF_RANGE);
		pvalue_free(resp);
		pvalue_free(req);

		/* unknown partition */
		req = fetch_req("f", 5, 0, 1 << 20);
		resp = rpc(w, KAPI_FETCH, v, req);
		assert_int_equal(pvalue_get_int(fetch_part(resp), "error_code"),
				 KERR_UNKNOWN_TOPIC_OR_PARTITION);
		pvalue_free(resp);
		pvalue_free(req);
	}
	/* max_bytes 1: still one whole batch (KIP-74) */
	{
		struct pvalue *req = fetch_req("f", 0, 0, 1), *resp = rpc(w, KAPI_FETCH, 11, req);
		const uint8_t *rec;
		int32_t len;
		int64_t next = 0;

		rec = pvalue_get_bytes(fetch_part(resp), "records", &len);
		assert_int_equal(tu_check_batches(rec, (size_t)len, &next), 1);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* ---- ListOffsets ------------------------------------------------------------------------------ */

static void
test_ch3_broker_list_offsets(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);

	create_topic(w, "lo", 1);
	/* offsets 0-4 at timestamps 1000-1004, 5-9 at 2000-2004 */
	assert_int_equal(produce(w, 8, "lo", 0, 5, 1000, NULL), 0);
	assert_int_equal(produce(w, 8, "lo", 0, 5, 2000, NULL), 0);
	for (int16_t v = 0; v <= 5; v++) {
		static const int64_t ts[] = { -2, -1, 1003, 1500, 9999 };
		static const int64_t want[] = { 0, 10, 3, 5, -1 };

		for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
			struct pvalue *req = list_offsets_req("lo", 0, ts[i]);
			struct pvalue *resp = rpc(w, KAPI_LIST_OFFSETS, v, req), *p;

			assert_non_null(resp);
			p = pvalue_at(pvalue_array(pvalue_at(pvalue_array(resp, "topics"), 0),
						   "partitions"),
				      0);
			assert_int_equal(pvalue_get_int(p, "error_code"), 0);
			if (v == 0) {
				struct pvalue *o = pvalue_array(p, "old_style_offsets");

				if (want[i] < 0) {
					assert_int_equal(pvalue_count(o), 0);
				} else {
					assert_int_equal(pvalue_count(o), 1);
					assert_int_equal(pvalue_at(o, 0)->i, want[i]);
				}
			} else {
				assert_int_equal(pvalue_get_int(p, "offset"), want[i]);
				if (ts[i] == 1003)
					assert_int_equal(pvalue_get_int(p, "timestamp"), 1003);
			}
			pvalue_free(resp);
			pvalue_free(req);
		}
	}
	{
		struct pvalue *req = list_offsets_req("zz", 0, -1),
			      *resp = rpc(w, KAPI_LIST_OFFSETS, 2, req);
		struct pvalue *p = pvalue_at(
			pvalue_array(pvalue_at(pvalue_array(resp, "topics"), 0), "partitions"), 0);

		assert_int_equal(pvalue_get_int(p, "error_code"), KERR_UNKNOWN_TOPIC_OR_PARTITION);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* ---- CreateTopics and DeleteTopics -------------------------------------------------------------- */

/* One CreateTopics of one topic; returns the error code. */
static int64_t
create(struct world *w, int16_t v, const char *name, int32_t np, int16_t rf, bool validate,
       const char *cfg_key, const char *cfg_val)
{
	struct pvalue *req = request(KAPI_CREATE_TOPICS), *resp, *t;
	int64_t err;

	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", name);
	pvalue_set_int(t, "num_partitions", np);
	pvalue_set_int(t, "replication_factor", rf);
	if (cfg_key != NULL) {
		struct pvalue *c = pvalue_array(t, "configs");

		assert_int_equal(pvalue_array_resize(c, 1), KLAB_OK);
		pvalue_set_str(pvalue_at(c, 0), "name", cfg_key);
		pvalue_set_str(pvalue_at(c, 0), "value", cfg_val);
	}
	pvalue_set_int(req, "validate_only", validate);
	resp = rpc(w, KAPI_CREATE_TOPICS, v, req);
	assert_non_null(resp);
	assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 1);
	err = pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code");
	pvalue_free(resp);
	pvalue_free(req);
	return err;
}

static void
test_ch3_broker_create_topics(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	char name[32];

	for (int16_t v = 0; v <= 4; v++) {
		snprintf(name, sizeof(name), "c%d", v);
		assert_int_equal(create(w, v, name, 3, 1, false, NULL, NULL), 0);
		assert_non_null(topics_find(w->broker.store, name));
		assert_int_equal(topics_find(w->broker.store, name)->partitions, 3);
		assert_int_equal(create(w, v, name, 3, 1, false, NULL, NULL),
				 KERR_TOPIC_ALREADY_EXISTS);
		assert_int_equal(create(w, v, "rf", 1, 3, false, NULL, NULL),
				 KERR_INVALID_REPLICATION_FACTOR);
		assert_int_equal(create(w, v, "np", 0, 1, false, NULL, NULL),
				 KERR_INVALID_PARTITIONS);
		assert_int_equal(create(w, v, "bad name", 1, 1, false, NULL, NULL),
				 KERR_INVALID_TOPIC_EXCEPTION);
		assert_int_equal(create(w, v, "cfg", 1, 1, false, "no.such.key", "1"),
				 KERR_INVALID_CONFIG);
		assert_int_equal(create(w, v, "cfg", 1, 1, false, "retention.ms", "abc"),
				 KERR_INVALID_CONFIG);
		/* a client cannot choose a topic id: only another broker passes one on */
		assert_int_equal(create(w, v, "cfg", 1, 1, false, BROKER_PEER_TOPIC_ID_CONFIG,
					"UXyU9i5ARn6W00ON2taeWA"),
				 KERR_INVALID_CONFIG);
		if (v >= 1) { /* validate_only */
			assert_int_equal(create(w, v, "vo", 2, 1, true, NULL, NULL), 0);
			assert_null(topics_find(w->broker.store, "vo"));
		}
	}
	/* -1: the broker's defaults (num.partitions=2) */
	assert_int_equal(create(w, 4, "dflt", -1, -1, false, "retention.ms", "60000"), 0);
	assert_int_equal(topics_find(w->broker.store, "dflt")->partitions, 2);
	assert_int_equal(topics_find(w->broker.store, "dflt")->lc.retention_ms, 60000);
	assert_null(topics_find(w->broker.store, "rf"));
	assert_null(topics_find(w->broker.store, "cfg"));
	world_free(w);
}

static void
test_ch3_broker_delete_topics(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);

	for (int16_t v = 0; v <= 3; v++) {
		struct pvalue *req = request(KAPI_DELETE_TOPICS), *resp, *names, *r;
		char name[32];

		snprintf(name, sizeof(name), "d%d", v);
		create_topic(w, name, 2);
		assert_int_equal(produce(w, 8, name, 1, 3, 0, NULL), 0);
		names = pvalue_array(req, "topic_names");
		assert_int_equal(pvalue_array_resize(names, 2), KLAB_OK);
		pvalue_at(names, 0)->s.p = (const uint8_t *)name;
		pvalue_at(names, 0)->s.len = (int32_t)strlen(name);
		pvalue_at(names, 1)->s.p = (const uint8_t *)"ghost";
		pvalue_at(names, 1)->s.len = 5;
		pvalue_set_int(req, "timeout_ms", 1000);
		resp = rpc(w, KAPI_DELETE_TOPICS, v, req);
		assert_non_null(resp);
		r = pvalue_array(resp, "responses");
		assert_int_equal(pvalue_count(r), 2);
		assert_int_equal(pvalue_get_int(pvalue_at(r, 0), "error_code"), 0);
		assert_int_equal(pvalue_get_int(pvalue_at(r, 1), "error_code"),
				 KERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_null(topics_find(w->broker.store, name));
		pvalue_free(resp);
		pvalue_free(req);
		/* produce to it now fails; a new topic of that name starts empty */
		assert_int_equal(produce(w, 8, name, 1, 1, 0, NULL),
				 KERR_UNKNOWN_TOPIC_OR_PARTITION);
		create_topic(w, name, 2);
		assert_int_equal(topics_find(w->broker.store, name)->logs[1]->next_offset, 0);
	}
	world_free(w);
}

/* ---- bad input ------------------------------------------------------------------------------------ */

/* Send a frame that must close the connection; reconnect afterwards. */
static void
expect_closed(struct world *w, const uint8_t *p, size_t len)
{
	int closed = w->client.closed;

	assert_int_equal(send_raw(w, p, len), 0);
	assert_int_equal(w->client.closed, closed + 1);
	connect_client(w);
}

static void
test_ch3_broker_bad_frames(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	uint8_t f[64];
	struct tu_rng rng;
	struct buf b;

	/* a header cut short */
	be32_write(f, 3);
	f[4] = 0, f[5] = 3, f[6] = 0;
	expect_closed(w, f, 7);
	/* an unknown API key (99) */
	memset(f, 0, sizeof(f));
	be32_write(f, 10);
	f[5] = 99;
	expect_closed(w, f, 14);
	/* Produce v2 (klab speaks 3-8) and Metadata v9 (flexible) */
	be32_write(f, 10);
	f[4] = 0, f[5] = 0, f[6] = 0, f[7] = 2;
	expect_closed(w, f, 14);
	f[5] = 3, f[7] = 9;
	expect_closed(w, f, 14);
	/* a Metadata v1 body that ends early: a topic count of 5 and nothing else */
	be32_write(f, 14);
	f[4] = 0, f[5] = 3, f[6] = 0, f[7] = 1;
	memset(f + 8, 0, 6);
	be32_write(f + 14, 5);
	expect_closed(w, f, 18);
	/* a client id longer than the frame */
	be32_write(f, 10);
	f[5] = 18, f[7] = 0, f[12] = 0x7f, f[13] = 0xff;
	expect_closed(w, f, 14);
	/* random frames with valid API keys and versions: answered or closed, never a crash */
	tu_rng_init(&rng, tu_seed(0xBAD));
	buf_init(&b);
	for (int i = 0; i < 300; i++) {
		size_t n = 8 + tu_rng_below(&rng, 120);
		static const int16_t keys[] = { KAPI_PRODUCE,	   KAPI_FETCH,
						KAPI_LIST_OFFSETS, KAPI_METADATA,
						KAPI_API_VERSIONS, KAPI_CREATE_TOPICS,
						KAPI_DELETE_TOPICS };
		const struct api_desc *api = proto_api(keys[tu_rng_below(&rng, 7)]);
		int closed = w->client.closed;

		buf_reset(&b);
		buf_put_be32(&b, (uint32_t)n);
		buf_put_be16(&b, (uint16_t)api->key);
		buf_put_be16(&b, (uint16_t)(api->min_version +
					    tu_rng_below(&rng, (uint64_t)(api->max_version -
									  api->min_version + 1))));
		buf_put_be32(&b, (uint32_t)i);
		for (size_t j = 8; j < n; j++)
			buf_put_u8(&b, (uint8_t)tu_rng_below(&rng, 4) == 0
					       ? 0xff
					       : (uint8_t)tu_rng_below(&rng, 3));
		send_raw(w, b.data, b.len);
		if (w->client.closed != closed)
			connect_client(w);
	}
	buf_free(&b);
	assert_true(w->broker.closed_bad >= 6);
	/* the broker still answers */
	assert_int_equal(produce(w, 8, "after", 0, 1, 0, NULL), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	create_topic(w, "after", 1);
	assert_int_equal(produce(w, 8, "after", 0, 1, 0, NULL), 0);
	world_free(w);
}

/* ---- Fetch long polling (the purgatory) ------------------------------------------------- */

/* Encode and send without running the simulation. */
static void
send_on(struct world *w, conn_id c, int16_t key, int16_t v, const struct pvalue *body, int32_t corr)
{
	struct proto_request_header h = { .api_key = key,
					  .api_version = v,
					  .correlation_id = corr,
					  .client_id = (const uint8_t *)"test",
					  .client_id_len = 4 };
	struct buf out;

	buf_init(&out);
	assert_int_equal(proto_request_encode(&h, body, &out), KLAB_OK);
	assert_int_equal(crt(w)->ops->send(crt(w), c, out.data, out.len), KLAB_OK);
	buf_free(&out);
}

static const struct buf *
frame_at(struct world *w, size_t i)
{
	assert_true(i < w->client.nframes);
	return &w->client.frames[i];
}

/*
 * KIP-74: a batch larger than the limits still goes out - but only for the
 * first partition with data; a later partition whose first batch does not
 * fit gets nothing this time (its turn comes in the next Fetch).
 */
static void
test_ch3_broker_fetch_oversized_batch_only_first_partition(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	struct pvalue *req, *resp, *parts;
	int32_t len0, len1;

	create_topic(w, "big", 2);
	assert_int_equal(produce(w, 8, "big", 0, 5, 0, NULL), 0);
	assert_int_equal(produce(w, 8, "big", 1, 5, 0, NULL), 0);
	req = fetch_req("big", 0, 0, 10); /* 10 bytes: less than any batch */
	parts = pvalue_array(pvalue_at(pvalue_array(req, "topics"), 0), "partitions");
	assert_int_equal(pvalue_array_resize(parts, 2), KLAB_OK);
	pvalue_set_int(pvalue_at(parts, 1), "partition", 1);
	pvalue_set_int(pvalue_at(parts, 1), "fetch_offset", 0);
	pvalue_set_int(pvalue_at(parts, 1), "partition_max_bytes", 10);
	resp = rpc(w, KAPI_FETCH, 11, req);
	assert_non_null(resp);
	parts = pvalue_array(pvalue_at(pvalue_array(resp, "responses"), 0), "partitions");
	pvalue_get_bytes(pvalue_at(parts, 0), "records", &len0);
	pvalue_get_bytes(pvalue_at(parts, 1), "records", &len1);
	assert_true(len0 > 10);	   /* the first partition: one whole batch, over the limit */
	assert_int_equal(len1, 0); /* the second: nothing */
	assert_int_equal(pvalue_get_int(pvalue_at(parts, 1), "error_code"), 0);
	assert_int_equal(pvalue_get_int(pvalue_at(parts, 1), "high_watermark"), 5);
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

static void
test_ch3_broker_fetch_long_poll(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	struct pvalue *fetch, *resp, *api = request(KAPI_API_VERSIONS);
	conn_id c1;
	size_t before;
	int64_t t0;
	int32_t len;
	struct buf b;

	create_topic(w, "lp", 1);
	assert_int_equal(produce(w, 8, "lp", 0, 2, 0, NULL), 0);
	c1 = w->client.conn;
	connect_client(w); /* a second connection, for the producer */
	assert_true(w->client.conn != c1);

	/* 1. nothing arrives: the answer comes after max_wait_ms, empty */
	fetch = fetch_req("lp", 0, 2, 1 << 20);
	pvalue_set_int(fetch, "max_wait_ms", 500);
	before = w->client.nframes;
	t0 = sim_now(&w->sim);
	send_on(w, c1, KAPI_FETCH, 11, fetch, 100);
	send_on(w, c1, KAPI_API_VERSIONS, 2, api, 101); /* queues behind the waiting Fetch */
	sim_run_for(&w->sim, 400);
	assert_int_equal(w->client.nframes, before);
	assert_int_equal(w->broker.fetches_parked, 1);
	sim_run_until_idle(&w->sim, 100000);
	assert_int_equal(w->client.nframes, before + 2);
	assert_true(sim_now(&w->sim) - t0 >= 500);
	assert_int_equal(be32_read(frame_at(w, before)->data + 4), 100); /* in request order */
	assert_int_equal(be32_read(frame_at(w, before + 1)->data + 4), 101);
	assert_int_equal(proto_decode(proto_api(KAPI_FETCH)->response, 11,
				      frame_at(w, before)->data + 8, frame_at(w, before)->len - 8,
				      &resp),
			 KLAB_OK);
	assert_int_equal(pvalue_get_int(fetch_part(resp), "error_code"), 0);
	pvalue_get_bytes(fetch_part(resp), "records", &len);
	assert_true(len <= 0);
	pvalue_free(resp);

	/* 2. a produce on another connection answers the waiting Fetch at once */
	before = w->client.nframes;
	t0 = sim_now(&w->sim);
	send_on(w, c1, KAPI_FETCH, 11, fetch, 102);
	sim_run_for(&w->sim, 100);
	assert_int_equal(w->client.nframes, before);
	buf_init(&b);
	tu_batch_make(&b, 3, 0, 10, 9);
	{
		struct pvalue *req = produce_req("lp", 0, 1, b.data, (int32_t)b.len);

		send_on(w, w->client.conn, KAPI_PRODUCE, 8, req, 103);
		pvalue_free(req);
	}
	sim_run_for(&w->sim, 100);
	assert_int_equal(w->client.nframes, before + 2);
	assert_true(sim_now(&w->sim) - t0 < 500);
	for (size_t i = before; i < before + 2; i++) {
		const struct buf *f = frame_at(w, i);
		int64_t next = 2;
		const uint8_t *rec;

		if (be32_read(f->data + 4) != 102)
			continue;
		assert_int_equal(proto_decode(proto_api(KAPI_FETCH)->response, 11, f->data + 8,
					      f->len - 8, &resp),
				 KLAB_OK);
		rec = pvalue_get_bytes(fetch_part(resp), "records", &len);
		assert_int_equal(tu_check_batches(rec, (size_t)len, &next), 1);
		assert_int_equal(next, 5);
		pvalue_free(resp);
	}
	/* 3. a closed connection leaves nothing waiting */
	pvalue_set_int(
		pvalue_at(pvalue_array(pvalue_at(pvalue_array(fetch, "topics"), 0), "partitions"),
			  0),
		"fetch_offset", 5);
	send_on(w, c1, KAPI_FETCH, 11, fetch, 104);
	sim_run_for(&w->sim, 50);
	assert_non_null(w->broker.parked);
	crt(w)->ops->close(crt(w), c1);
	sim_run_for(&w->sim, 50);
	assert_null(w->broker.parked);
	sim_run_until_idle(&w->sim, 100000);
	buf_free(&b);
	pvalue_free(fetch);
	pvalue_free(api);
	world_free(w);
}

/* ---- InitProducerId and idempotent Produce (KIP-98) -------------------------------------- */

static struct pvalue *
init_pid(struct world *w, int16_t v, const char *txn)
{
	struct pvalue *req = request(KAPI_INIT_PRODUCER_ID), *resp;

	pvalue_set_str(req, "transactional_id", txn); /* NULL: null, an idempotent producer */
	pvalue_set_int(req, "transaction_timeout_ms", 60000);
	resp = rpc(w, KAPI_INIT_PRODUCER_ID, v, req);
	pvalue_free(req);
	assert_non_null(resp);
	return resp;
}

/* New ids at epoch 0, never repeated across a restart; transactional ids are not served. */
static void
test_ch3_broker_init_producer_id(void **state)
{
	struct world *w = world_new(true, NULL);
	struct pvalue *r;
	int64_t first, id;
	char path[128];

	(void)state;
	r = init_pid(w, 0, NULL);
	assert_int_equal(pvalue_get_int(r, "error_code"), 0);
	first = pvalue_get_int(r, "producer_id");
	assert_int_equal(first, (int64_t)BROKER_ID << 32); /* this broker's range */
	assert_int_equal(pvalue_get_int(r, "producer_epoch"), 0);
	pvalue_free(r);
	r = init_pid(w, 1, NULL);
	assert_int_equal(pvalue_get_int(r, "producer_id"), first + 1);
	pvalue_free(r);
	r = init_pid(w, 1, "txn-1"); /* no transaction coordinator here */
	assert_int_equal(pvalue_get_int(r, "error_code"), KERR_NOT_COORDINATOR);
	assert_int_equal(pvalue_get_int(r, "producer_id"), -1);
	pvalue_free(r);
	r = init_pid(w, 1, "");
	assert_int_equal(pvalue_get_int(r, "error_code"), KERR_INVALID_REQUEST);
	pvalue_free(r);
	sim_stop(&w->sim, w->bi); /* the next block starts past everything handed out */
	sim_run_for(&w->sim, 10);
	sim_restart(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	connect_client(w);
	r = init_pid(w, 1, NULL);
	id = pvalue_get_int(r, "producer_id");
	assert_int_equal(id, first + 1000);
	pvalue_free(r);
	/* a block file that does not parse is never guessed past: no ids, a log line */
	snprintf(path, sizeof(path), "%s/%s", w->dir, PRODUCER_ID_FILE);
	assert_int_equal(fs_write_file_atomic(disk_sim_fs(sim_disk_of(&w->sim, w->bi)), path,
					      "block.end=12", 12, NULL),
			 KLAB_OK);
	sim_stop(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	sim_restart(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	connect_client(w);
	r = init_pid(w, 1, NULL);
	assert_int_equal(pvalue_get_int(r, "error_code"), KERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(pvalue_get_int(r, "producer_id"), -1);
	assert_non_null(strstr(w->logs, "block.end outside"));
	pvalue_free(r);
	world_free(w);
}

/* One batch of nrec records from a (forged or real) producer; the error, *base its offset. */
static int64_t
produce_as(struct world *w, const char *topic, int64_t pid, int16_t epoch, int32_t seq, int nrec,
	   int64_t *base)
{
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, nrec, 1000, 10, (uint32_t)seq);
	batch_set_producer(b.data, b.len, pid, epoch, seq);
	return send_batch(w, 8, topic, 0, -1, &b, base);
}

/*
 * A hostile client forging producer ids, epochs and sequences gets errors
 * and changes nothing for a well-behaved producer on the same partition;
 * a retry is answered with the original offset and not written again.
 */
static void
test_ch3_broker_idempotent_produce_hostile(void **state)
{
	struct world *w = world_new(true, NULL);
	const struct log *l;
	int64_t base, b0, end;
	const int64_t good = 77;

	(void)state;
	create_topic(w, "i", 1);
	l = topics_find(w->broker.store, "i")->logs[0];
	assert_int_equal(produce_as(w, "i", good, 0, 0, 3, &b0), 0);
	assert_int_equal(produce_as(w, "i", good, 0, 3, 2, &base), 0);
	end = l->next_offset;
	assert_int_equal(produce_as(w, "i", good, 0, 0, 3, &base), 0); /* a retry */
	assert_int_equal(base, b0);
	assert_int_equal(l->next_offset, end);
	/* forgeries aimed at the good producer: sequence gaps, old epochs, bad sequences */
	assert_int_equal(produce_as(w, "i", good, 0, 9, 1, &base),
			 KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(base, -1);
	assert_int_equal(produce_as(w, "i", good, -7, 5, 1, NULL), KERR_INVALID_PRODUCER_EPOCH);
	assert_int_equal(produce_as(w, "i", good, 3, 4, 1, NULL),
			 KERR_OUT_OF_ORDER_SEQUENCE_NUMBER); /* a new epoch must start at 0 */
	assert_int_equal(produce_as(w, "i", good, 0, -1, 1, NULL), KERR_INVALID_RECORD);
	assert_int_equal(produce_as(w, "i", good, 0, INT32_MAX, 1, NULL),
			 KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(l->next_offset, end);
	/* many forged producers: accepted as unknown ones, bounded by the table */
	for (int i = 0; i < 50; i++)
		assert_int_equal(produce_as(w, "i", 1000 + i, (int16_t)i, i * 1000, 1, NULL), 0);
	assert_true(l->producers.n <= l->producers.max_producers);
	/* the good producer carries on where it was */
	assert_int_equal(produce_as(w, "i", good, 0, 5, 1, &base), 0);
	assert_int_equal(base, l->next_offset - 1);
	assert_int_equal(log_check_invariants(l, NULL), KLAB_OK);
	assert_false(w->broker.failed);
	world_free(w);
}

/* A stopped broker closes its store cleanly; restarted, it finds the data. */
/*
 * Every log.retention.check.interval.ms the broker applies retention.  The
 * timer makes the simulation never idle, so the broker is restarted with
 * the setting after the data is written, and time moves with sim_run_for.
 */
static void
test_ch3_broker_retention_runs_on_a_timer(void **state)
{
	static const char *const extra[] = { "log.retention.ms", "60000", "log.segment.bytes",
					     "300", NULL };
	struct world *w = world_new_with(true, NULL, extra);
	const struct log *l;
	uint64_t runs;

	(void)state;
	create_topic(w, "old", 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(produce(w, 8, "old", 0, 3, sim_now(&w->sim), NULL), 0);
	assert_int_equal(w->broker.maintenance_runs, 0); /* no timer without the setting */
	assert_int_equal(config_set(&w->props, "log.retention.check.interval.ms", "1000"), KLAB_OK);
	sim_stop(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	sim_restart(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	assert_false(w->broker.failed);
	l = topics_find(w->broker.store, "old")->logs[0];
	assert_true(l->nsegs > 3);
	assert_int_equal(l->log_start_offset, 0);
	runs = w->broker.maintenance_runs;
	sim_run_for(&w->sim, 30000); /* about 30 s old: nothing goes */
	assert_true(w->broker.maintenance_runs >= runs + 29);
	assert_int_equal(l->log_start_offset, 0);
	sim_run_for(&w->sim, 40000); /* now every segment has expired */
	l = topics_find(w->broker.store, "old")->logs[0];
	assert_int_equal(l->log_start_offset, 30);
	assert_int_equal(l->next_offset, 30);
	assert_non_null(strstr(w->logs, "retention deleted"));
	world_free(w);
}

static void
test_ch3_broker_stop_restart(void **state)
{
	(void)state;
	struct world *w = world_new(true, NULL);
	int64_t base;

	create_topic(w, "keep", 1);
	assert_int_equal(produce(w, 8, "keep", 0, 7, 0, NULL), 0);
	sim_stop(&w->sim, w->bi);
	sim_run_until_idle(&w->sim, 1000);
	assert_null(w->broker.store);
	{
		char marker[128];

		snprintf(marker, sizeof(marker), "%s/.kafka_cleanshutdown", w->dir);
		assert_true(fs_exists(disk_sim_fs(sim_disk_of(&w->sim, w->bi)), marker));
	}
	sim_restart(&w->sim, w->bi);
	sim_run_until_idle(&w->sim, 1000);
	assert_false(w->broker.failed);
	if (!w->client.connected)
		connect_client(w);
	assert_int_equal(produce(w, 8, "keep", 0, 1, 0, &base), 0);
	assert_int_equal(base, 7);
	world_free(w);
}

/* ---- a full or failing disk (issue 10, item 11) ------------------------------------------- */

/* Fetch of d-0 from offset at v11: its error code; the record bytes in *len. */
static int64_t
fetch_err(struct world *w, int64_t offset, int32_t *len)
{
	struct pvalue *req = fetch_req("d", 0, offset, 1 << 20), *resp;
	int64_t err;

	resp = rpc(w, KAPI_FETCH, 11, req);
	assert_non_null(resp);
	err = pvalue_get_int(fetch_part(resp), "error_code");
	if (len != NULL)
		pvalue_get_bytes(fetch_part(resp), "records", len);
	pvalue_free(resp);
	pvalue_free(req);
	return err;
}

static bool
logged(const struct world *w, const char *what)
{
	return strstr(w->logs, what) != NULL;
}

/*
 * The disk fills up (ENOSPC): the append fails with KAFKA_STORAGE_ERROR
 * and takes the log directory offline (logged once); every partition in
 * it answers the same from then on, even with room again, while Metadata
 * still answers; CreateTopics answers it too.  The stop is not clean (no
 * marker, the broker failed), and a restart on the still-full disk
 * recovers and serves every acknowledged record.
 */
static void
test_ch3_broker_disk_full_takes_log_dir_offline(void **state)
{
	/* an index entry per batch: recovery rebuilds them, on a disk with no room */
	static const char *const dense[] = { "log.index.interval.bytes", "1", NULL };
	(void)state;
	struct world *w = world_new_with(true, NULL, dense);
	struct disk_sim *d = sim_disk_of(&w->sim, w->bi);
	struct pvalue *req, *resp;
	char marker[128];
	int32_t len = 0;

	create_topic(w, "d", 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(produce(w, 8, "d", 0, 3, 0, NULL), 0);
	disk_sim_set_capacity(d, 1); /* full */
	assert_int_equal(produce(w, 8, "d", 0, 2, 0, NULL), KERR_KAFKA_STORAGE_ERROR);
	assert_true(logged(w, "is offline"));
	disk_sim_set_capacity(d, 0);
	assert_int_equal(produce(w, 8, "d", 0, 2, 0, NULL), KERR_KAFKA_STORAGE_ERROR);
	assert_int_equal(fetch_err(w, 0, NULL), KERR_KAFKA_STORAGE_ERROR);
	assert_int_equal(create(w, 4, "later", 1, 1, false, NULL, NULL), KERR_KAFKA_STORAGE_ERROR);
	req = metadata_req(NULL, false);
	resp = rpc(w, KAPI_METADATA, 8, req);
	assert_non_null(resp);
	pvalue_free(resp);
	pvalue_free(req);
	{ /* logged once */
		const char *first = strstr(w->logs, "is offline");

		assert_null(strstr(first + 1, "is offline"));
	}
	/* stop: not clean */
	disk_sim_set_capacity(d, 1);
	sim_stop(&w->sim, w->bi);
	sim_run_until_idle(&w->sim, 1000);
	assert_true(w->broker.failed);
	assert_true(logged(w, "the stop is not clean"));
	snprintf(marker, sizeof(marker), "%s/.kafka_cleanshutdown", w->dir);
	assert_false(fs_exists(disk_sim_fs(d), marker));
	/* restart on the full disk: recovery needs no room */
	sim_restart(&w->sim, w->bi);
	sim_run_until_idle(&w->sim, 1000);
	if (w->broker.failed)
		fail_msg("restart on a full disk: %s", w->logs);
	if (!w->client.connected)
		connect_client(w);
	assert_int_equal(fetch_err(w, 0, &len), 0);
	assert_true(len > 0);
	assert_int_equal(fetch_err(w, 9, &len), 0); /* through the rebuilt index */
	assert_true(len > 0);
	disk_sim_set_capacity(d, 0);
	world_free(w);
}

/* EIO: on fsync (log.flush.interval.messages=1 flushes every append) and on write. */
static void
test_ch3_broker_disk_eio_takes_log_dir_offline(void **state)
{
	static const char *const flush_each[] = { "log.flush.interval.messages", "1", NULL };
	(void)state;

	for (int how = 0; how < 2; how++) {
		struct world *w = world_new_with(true, NULL, flush_each);
		struct disk_sim *d = sim_disk_of(&w->sim, w->bi);
		struct disk_faults f = { 0 };

		create_topic(w, "d", 1);
		assert_int_equal(produce(w, 8, "d", 0, 3, 0, NULL), 0);
		if (how == 0) {
			assert_int_equal(disk_sim_fail_fsync(d, NULL, 1), KLAB_OK);
		} else {
			f.write_eio = 1.0;
			disk_sim_set_faults(d, &f);
		}
		assert_int_equal(produce(w, 8, "d", 0, 2, 0, NULL), KERR_KAFKA_STORAGE_ERROR);
		f.write_eio = 0;
		disk_sim_set_faults(d, &f);
		assert_int_equal(produce(w, 8, "d", 0, 2, 0, NULL), KERR_KAFKA_STORAGE_ERROR);
		assert_true(logged(w, "is offline"));
		sim_stop(&w->sim, w->bi);
		sim_run_until_idle(&w->sim, 1000);
		assert_true(w->broker.failed);
		sim_restart(&w->sim, w->bi);
		sim_run_until_idle(&w->sim, 1000);
		assert_false(w->broker.failed);
		if (!w->client.connected)
			connect_client(w);
		assert_int_equal(produce(w, 8, "d", 0, 1, 0, NULL), 0);
		world_free(w);
	}
}

/* ---- flexible versions (KIP-482) and topic ids (KIP-516) ----------------------------- */

/*
 * Topic ids come from the metadata source (metadata.h: the static cluster
 * keeps each topic's, topic.h).  stub_id makes an id no topic has: a name's
 * bytes, zero-padded to 16 (names of at most 15 bytes).
 */
static void
stub_id(const char *topic, uint8_t id[16])
{
	memset(id, 0, 16);
	memcpy(id, topic, strlen(topic));
}

/* The id the broker's metadata source gave topic (the static cluster's, topic.h). */
static void
id_of(struct world *w, const char *topic, uint8_t id[16])
{
	const struct metadata_ops *ops = w->broker.meta.ops;
	static const uint8_t zero[16];

	assert_int_equal(ops->topic_id(&w->broker.meta, topic, id), KLAB_OK);
	assert_memory_not_equal(id, zero, 16);
}

/* ApiVersions v3 as librdkafka 2.0.2 sends it, byte for byte (ApiVersionsRequest.json). */
static void
test_ch3_broker_flexible_api_versions_v3(void **state)
{
	static const uint8_t frame[] = {
		0,  0,	 0,   33,		     /* size */
		0,  18,	 0,   3,   0,	0,   0,	  7, /* key 18, v3, correlation id 7 */
		0,  4,	 't', 'e', 's', 't',	     /* client_id: int16 length even in v2 */
		0,				     /* header tagged fields: none */
		11, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', /* compact "librdkafka" */
		6,  '2', '.', '0', '.', '2',			      /* compact "2.0.2" */
		0,						      /* body tagged fields: none */
	};
	struct world *w = world_new(true, NULL);
	const struct buf *f;
	struct pvalue *resp;

	(void)state;
	assert_int_equal(sizeof(frame) - 4, 33);
	assert_int_equal(send_raw(w, frame, sizeof(frame)), 1);
	f = &w->client.frames[w->client.nframes - 1];
	/* response header v0 (KIP-511): the correlation id, then the flexible body at once */
	assert_int_equal(be32_read(f->data + 4), 7);
	assert_int_equal(proto_decode(proto_api(KAPI_API_VERSIONS)->response, 3, f->data + 8,
				      f->len - 8, &resp),
			 KLAB_OK);
	assert_int_equal(pvalue_get_int(resp, "error_code"), 0);
	assert_int_equal(pvalue_count(pvalue_array(resp, "api_keys")), (int32_t)proto_api_count());
	assert_int_equal(pvalue_get_int(resp, "finalized_features_epoch"), -1); /* not written */
	pvalue_free(resp);
	world_free(w);
}

/* Metadata v12: ids in the answer, topics asked for by id; v10 may not use ids. */
static void
test_ch3_broker_flexible_metadata_topic_ids(void **state)
{
	struct world *w = world_new(true, NULL);
	struct pvalue *req, *resp, *t;
	uint8_t id[16], got[16];
	int32_t len;

	(void)state;
	create_topic(w, "flex", 2);
	id_of(w, "flex", id);
	req = metadata_req("flex", false);
	resp = rpc(w, KAPI_METADATA, 12, req);
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	check_topic_meta(t, "flex", 2);
	pvalue_get_uuid(t, "topic_id", got);
	assert_memory_equal(got, id, 16);
	pvalue_free(resp);
	/* by id: the name comes back; an unknown id is UNKNOWN_TOPIC_ID with a null name */
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 2), KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), 0), "name", NULL);
	pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 0), "topic_id", id);
	stub_id("nope", got);
	pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), 1), "name", NULL);
	pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 1), "topic_id", got);
	resp = rpc(w, KAPI_METADATA, 12, req);
	assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 2);
	check_topic_meta(pvalue_at(pvalue_array(resp, "topics"), 0), "flex", 2);
	t = pvalue_at(pvalue_array(resp, "topics"), 1);
	assert_int_equal(pvalue_get_int(t, "error_code"), KERR_UNKNOWN_TOPIC_ID);
	assert_null(pvalue_get_bytes(t, "name", &len));
	pvalue_free(resp);
	/* v10 names topics only by name: Kafka 3.6 refuses the request */
	pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), 1), "name", "flex");
	resp = rpc(w, KAPI_METADATA, 10, req);
	assert_int_equal(pvalue_count(pvalue_array(resp, "brokers")), 0);
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	assert_int_equal(pvalue_get_int(t, "error_code"), KERR_INVALID_REQUEST);
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

/* Produce v9 and Fetch v13/v15 (topics by id), ListOffsets v7 MAX_TIMESTAMP and v8 -4. */
static void
test_ch3_broker_flexible_produce_fetch_list_offsets(void **state)
{
	struct world *w = world_new(true, NULL);
	struct pvalue *req, *resp, *t, *p;
	uint8_t id[16], got[16];
	int64_t base;
	int32_t len;

	(void)state;
	create_topic(w, "flex", 1);
	assert_int_equal(produce(w, 9, "flex", 0, 3, 5000, &base), 0);
	assert_int_equal(base, 0);
	assert_int_equal(produce(w, 9, "flex", 0, 2, 1000, &base), 0);
	assert_int_equal(base, 3);
	id_of(w, "flex", id);
	for (int16_t v = 13; v <= 15; v += 2) {
		req = fetch_req("ignored", 0, 0, 1 << 20);
		pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 0), "topic_id", id);
		resp = rpc(w, KAPI_FETCH, v, req);
		t = pvalue_at(pvalue_array(resp, "responses"), 0);
		pvalue_get_uuid(t, "topic_id", got);
		assert_memory_equal(got, id, 16);
		p = fetch_part(resp);
		assert_int_equal(pvalue_get_int(p, "error_code"), 0);
		assert_int_equal(pvalue_get_int(p, "high_watermark"), 5);
		assert_true(pvalue_get_bytes(p, "records", &len) != NULL && len > 0);
		pvalue_free(resp);
		/* an id no topic has */
		stub_id("gone", got);
		pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 0), "topic_id", got);
		resp = rpc(w, KAPI_FETCH, v, req);
		assert_int_equal(pvalue_get_int(fetch_part(resp), "error_code"),
				 KERR_UNKNOWN_TOPIC_ID);
		pvalue_free(resp);
		pvalue_free(req);
	}
	/* MAX_TIMESTAMP: 5002, kept with the last offset of its batch (2), as Kafka 3.6 */
	req = list_offsets_req("flex", 0, -3);
	resp = rpc(w, KAPI_LIST_OFFSETS, 7, req);
	p = pvalue_at(pvalue_array(pvalue_at(pvalue_array(resp, "topics"), 0), "partitions"), 0);
	assert_int_equal(pvalue_get_int(p, "error_code"), 0);
	assert_int_equal(pvalue_get_int(p, "timestamp"), 5002);
	assert_int_equal(pvalue_get_int(p, "offset"), 2);
	pvalue_free(resp);
	pvalue_free(req);
	req = list_offsets_req("flex", 0, -4); /* earliest local: the log start, no tiers here */
	resp = rpc(w, KAPI_LIST_OFFSETS, 8, req);
	p = pvalue_at(pvalue_array(pvalue_at(pvalue_array(resp, "topics"), 0), "partitions"), 0);
	assert_int_equal(pvalue_get_int(p, "offset"), 0);
	assert_int_equal(pvalue_get_int(p, "timestamp"), -1);
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

/* CreateTopics v7 reports what it made; DeleteTopics v6 by id and by name; FindCoordinator v4. */
static void
test_ch3_broker_flexible_admin(void **state)
{
	struct world *w = world_new(true, NULL);
	struct pvalue *req = request(KAPI_CREATE_TOPICS), *resp, *t, *c;
	uint8_t id[16], got[16];
	int32_t len;

	(void)state;
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", "made");
	pvalue_set_int(t, "num_partitions", 3);
	pvalue_set_int(t, "replication_factor", -1);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "configs"), 1), KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(t, "configs"), 0), "name", "retention.ms");
	pvalue_set_str(pvalue_at(pvalue_array(t, "configs"), 0), "value", "60000");
	resp = rpc(w, KAPI_CREATE_TOPICS, 7, req);
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	assert_int_equal(pvalue_get_int(t, "error_code"), 0);
	assert_int_equal(pvalue_get_int(t, "num_partitions"), 3);
	assert_int_equal(pvalue_get_int(t, "replication_factor"), 1);
	id_of(w, "made", id);
	pvalue_get_uuid(t, "topic_id", got);
	assert_memory_equal(got, id, 16);
	assert_int_equal(pvalue_count(pvalue_array(t, "configs")), 1);
	c = pvalue_at(pvalue_array(t, "configs"), 0);
	assert_memory_equal(pvalue_get_bytes(c, "value", &len), "60000", 5);
	assert_int_equal(pvalue_get_int(c, "config_source"), 1);
	pvalue_free(resp);
	resp = rpc(w, KAPI_CREATE_TOPICS, 7, req); /* again: exists; Kafka's -1, -1 */
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	assert_int_equal(pvalue_get_int(t, "error_code"), KERR_TOPIC_ALREADY_EXISTS);
	assert_int_equal(pvalue_get_int(t, "num_partitions"), -1);
	pvalue_free(resp);
	pvalue_free(req);

	create_topic(w, "byname", 1);
	req = request(KAPI_DELETE_TOPICS);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 3), KLAB_OK);
	pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 0), "topic_id", id);
	pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), 1), "name", "byname");
	stub_id("never", got);
	pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 2), "topic_id", got);
	resp = rpc(w, KAPI_DELETE_TOPICS, 6, req);
	t = pvalue_array(resp, "responses");
	assert_int_equal(pvalue_get_int(pvalue_at(t, 0), "error_code"), 0);
	assert_memory_equal(pvalue_get_bytes(pvalue_at(t, 0), "name", &len), "made", 4);
	assert_int_equal(pvalue_get_int(pvalue_at(t, 1), "error_code"), 0);
	assert_int_equal(pvalue_get_int(pvalue_at(t, 2), "error_code"), KERR_UNKNOWN_TOPIC_ID);
	assert_null(pvalue_get_bytes(pvalue_at(t, 2), "name", &len));
	assert_int_equal(w->broker.meta.ops->partitions(&w->broker.meta, "made"), -1);
	assert_int_equal(w->broker.meta.ops->partitions(&w->broker.meta, "byname"), -1);
	pvalue_free(resp);
	pvalue_free(req);

	req = request(KAPI_FIND_COORDINATOR);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "coordinator_keys"), 2), KLAB_OK);
	pvalue_at(pvalue_array(req, "coordinator_keys"), 0)->s.p = (const uint8_t *)"g1";
	pvalue_at(pvalue_array(req, "coordinator_keys"), 0)->s.len = 2;
	resp = rpc(w, KAPI_FIND_COORDINATOR, 4, req);
	t = pvalue_array(resp, "coordinators");
	assert_int_equal(pvalue_count(t), 2);
	assert_memory_equal(pvalue_get_bytes(pvalue_at(t, 0), "key", &len), "g1", 2);
	assert_int_equal(pvalue_get_int(pvalue_at(t, 1), "error_code"),
			 KERR_COORDINATOR_NOT_AVAILABLE);
	assert_int_equal(pvalue_get_int(pvalue_at(t, 1), "node_id"), -1);
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

/* Without ids in the source: zero ids out, UNKNOWN_TOPIC_ID for every id in. */
static void
test_ch3_broker_flexible_without_topic_ids(void **state)
{
	struct world *w = world_new(true, NULL);
	static struct metadata_ops no_ids;
	struct pvalue *req, *resp;
	uint8_t id[16], zero[16] = { 0 };

	(void)state;
	no_ids = *w->broker.meta.ops;
	no_ids.topic_id = NULL;
	no_ids.topic_by_id = NULL;
	w->broker.meta.ops = &no_ids;
	create_topic(w, "flex", 1);
	req = metadata_req("flex", false);
	resp = rpc(w, KAPI_METADATA, 12, req);
	pvalue_get_uuid(pvalue_at(pvalue_array(resp, "topics"), 0), "topic_id", id);
	assert_memory_equal(id, zero, 16);
	pvalue_free(resp);
	pvalue_free(req);
	req = fetch_req("flex", 0, 0, 1000);
	stub_id("flex", id);
	pvalue_set_uuid(pvalue_at(pvalue_array(req, "topics"), 0), "topic_id", id);
	resp = rpc(w, KAPI_FETCH, 13, req);
	assert_int_equal(pvalue_get_int(fetch_part(resp), "error_code"), KERR_UNKNOWN_TOPIC_ID);
	pvalue_free(resp);
	pvalue_free(req);
	world_free(w);
}

/* A refused version is logged with the API's name, its range and the client id. */
static void
test_ch3_broker_refusal_is_diagnosable(void **state)
{
	struct world *w = world_new(true, NULL);
	/* Metadata v13, header v2 (tagged fields: none), empty body: klab serves v0-v12 */
	static const uint8_t v13[] = { 0, 0, 0, 18,  0,	  3,   0,   13,	 0,   0,   0,
				       1, 0, 7, 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0 };
	static const uint8_t key77[] = { 0, 0, 0, 10, 0, 77, 0, 1, 0, 0, 0, 1, 0, 0 };

	(void)state;
	assert_int_equal(send_raw(w, v13, sizeof(v13)), 0);
	if (!logged(w, "Metadata v13 is not supported (klab serves v0-v12), client_id=rdkafka"))
		fail_msg("log:\n%s", w->logs);
	connect_client(w);
	assert_int_equal(send_raw(w, key77, sizeof(key77)), 0);
	if (!logged(w, "unknown API key 77 (v1), client_id="))
		fail_msg("log:\n%s", w->logs);
	world_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_broker_api_versions),
		cmocka_unit_test(test_ch3_broker_api_versions_v4_unsupported),
		cmocka_unit_test(test_ch3_broker_flexible_api_versions_v3),
		cmocka_unit_test(test_ch3_broker_flexible_metadata_topic_ids),
		cmocka_unit_test(test_ch3_broker_flexible_produce_fetch_list_offsets),
		cmocka_unit_test(test_ch3_broker_flexible_admin),
		cmocka_unit_test(test_ch3_broker_flexible_without_topic_ids),
		cmocka_unit_test(test_ch3_broker_refusal_is_diagnosable),
		cmocka_unit_test(test_ch3_broker_find_coordinator_not_available),
		cmocka_unit_test(test_ch3_broker_trace_decodes_requests_and_responses),
		cmocka_unit_test(test_ch3_broker_metadata),
		cmocka_unit_test(test_ch3_broker_metadata_auto_create_disabled),
		cmocka_unit_test(test_ch3_broker_produce),
		cmocka_unit_test(test_ch3_broker_init_producer_id),
		cmocka_unit_test(test_ch3_broker_idempotent_produce_hostile),
		cmocka_unit_test(test_ch3_broker_produce_acks0_no_response),
		cmocka_unit_test(test_ch3_broker_produce_bad_batches),
		cmocka_unit_test(test_ch3_broker_fetch),
		cmocka_unit_test(test_ch3_broker_fetch_oversized_batch_only_first_partition),
		cmocka_unit_test(test_ch3_broker_fetch_long_poll),
		cmocka_unit_test(test_ch3_broker_list_offsets),
		cmocka_unit_test(test_ch3_broker_create_topics),
		cmocka_unit_test(test_ch3_broker_delete_topics),
		cmocka_unit_test(test_ch3_broker_bad_frames),
		cmocka_unit_test(test_ch3_broker_retention_runs_on_a_timer),
		cmocka_unit_test(test_ch3_broker_stop_restart),
		cmocka_unit_test(test_ch3_broker_disk_full_takes_log_dir_offline),
		cmocka_unit_test(test_ch3_broker_disk_eio_takes_log_dir_offline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
