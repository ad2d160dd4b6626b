/*
 * test_lab3.c - the graded tests of lab 3 (labs/lab3-broker/README.md).
 *
 * Each test runs one broker in the simulator with a tiny test client
 * node, as tests/ch3/test_broker.c does: the client builds each request by
 * hand, field by field, encodes it with proto_request_encode(), and
 * decodes the broker's answer with the response tables.  A test exercises
 * one lab region and looks only at what that region writes, so a region
 * is graded on its own:
 *
 *   - the topics are made with CreateTopics and the records with Produce,
 *     neither of which is a lab region;
 *   - the meta_topic_error tests check error codes and the broker's
 *     topic store, not the partitions of the answer (meta_partitions);
 *   - the fetch_range tests check error codes and offsets, not the
 *     records (fetch_read), and the fetch_read tests the records, not the
 *     offsets.
 *
 * tests/labs/lab3/points gives each test its points.
 *
 *   --list                   print the test names
 *   KLAB_TEST_FILTER=NAME    run only the test NAME (tools/grade.sh does)
 */
#include "testutil.h"

#include "broker/broker.h"
#include "broker/proto.h"
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
};

static struct rt *
crt(struct world *w)
{
	return sim_node(&w->sim, w->ci)->rt;
}

/*
 * One broker (id, listening on "broker":PORT, advertising host:port when
 * host is not NULL; num.partitions=2) and a connected client.
 */
static struct world *
world_new(int32_t id, bool auto_create, const char *host, int32_t port)
{
	struct world *w = calloc(1, sizeof(*w));
	struct broker_config bc;

	assert_non_null(w);
	tu_tmpdir_make(w->dir, sizeof(w->dir));
	config_init(&w->props);
	assert_int_equal(config_set(&w->props, "num.partitions", "2"), KLAB_OK);
	memset(&bc, 0, sizeof(bc));
	bc.broker_id = id;
	snprintf(bc.listen_host, sizeof(bc.listen_host), "broker");
	bc.listen_port = PORT;
	if (host != NULL) {
		snprintf(bc.advertised_host, sizeof(bc.advertised_host), "%s", host);
		bc.advertised_port = port;
	}
	snprintf(bc.cluster_id, sizeof(bc.cluster_id), "lab3-cluster-%d", id);
	bc.auto_create_topics = auto_create;
	bc.props = &w->props;
	broker_init(&w->broker, &bc);
	sim_init(&w->sim, 0x1AB3);
	w->bi = sim_add_node(&w->sim, "broker", &broker_node_ops, &w->broker, w->dir);
	w->ci = sim_add_node(&w->sim, "client", &client_ops, &w->client, NULL);
	sim_run_until_idle(&w->sim, 1000);
	assert_false(w->broker.failed);
	w->client.conn = crt(w)->ops->connect(crt(w), "broker", PORT);
	sim_run_until_idle(&w->sim, 100000);
	assert_true(w->client.connected);
	return w;
}

static void
world_free(struct world *w)
{
	sim_free(&w->sim);
	broker_free(&w->broker);
	for (size_t i = 0; i < w->client.nframes; i++)
		buf_free(&w->client.frames[i]);
	free(w->client.frames);
	config_free(&w->props);
	tu_tmpdir_remove(w->dir);
	free(w);
}

/* Send body at version v of API key; return the decoded response (caller frees). */
static struct pvalue *
rpc(struct world *w, int16_t key, int16_t v, const struct pvalue *body)
{
	const struct api_desc *api = proto_api(key);
	struct proto_request_header h = { .api_key = key,
					  .api_version = v,
					  .correlation_id = ++w->corr,
					  .client_id = (const uint8_t *)"lab3",
					  .client_id_len = 4 };
	size_t before = w->client.nframes;
	struct pvalue *resp = NULL;
	const struct buf *f;
	struct buf out;

	buf_init(&out);
	assert_int_equal(proto_request_encode(&h, body, &out), KLAB_OK);
	assert_int_equal(crt(w)->ops->send(crt(w), w->client.conn, out.data, out.len), KLAB_OK);
	buf_free(&out);
	sim_run_until_idle(&w->sim, 100000);
	assert_int_equal(w->client.nframes - before, 1);
	f = &w->client.frames[w->client.nframes - 1];
	assert_true(f->len >= 8);
	assert_int_equal((int32_t)be32_read(f->data + 4), w->corr);
	assert_int_equal(proto_decode(api->response, v, f->data + 8, f->len - 8, &resp), KLAB_OK);
	assert_non_null(resp);
	return resp;
}

static struct pvalue *
request(int16_t key)
{
	struct pvalue *r = pvalue_new(proto_api(key)->request);

	assert_non_null(r);
	return r;
}

static void
create_topic(struct world *w, const char *name, int32_t partitions)
{
	struct pvalue *req = request(19), *resp, *t;

	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", name);
	pvalue_set_int(t, "num_partitions", partitions);
	pvalue_set_int(t, "replication_factor", 1);
	resp = rpc(w, 19, 3, req);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			 0);
	pvalue_free(resp);
	pvalue_free(req);
}

/* Produce one batch of nrec records to topic/partition (acks 1); returns its base offset. */
static int64_t
produce(struct world *w, const char *topic, int32_t partition, int nrec, uint32_t tag)
{
	struct pvalue *req = request(0), *resp, *t, *p;
	struct buf b;
	int64_t base;

	buf_init(&b);
	tu_batch_make(&b, nrec, 1000, 10, tag);
	pvalue_set_int(req, "acks", 1);
	pvalue_set_int(req, "timeout_ms", 1000);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topic_data"), 0);
	pvalue_set_str(t, "name", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", partition);
	pvalue_set_bytes(p, "records", b.data, (int32_t)b.len);
	resp = rpc(w, 0, 8, req);
	t = pvalue_at(pvalue_array(resp, "responses"), 0);
	p = pvalue_at(pvalue_array(t, "partition_responses"), 0);
	assert_int_equal(pvalue_get_int(p, "error_code"), 0);
	base = pvalue_get_int(p, "base_offset");
	pvalue_free(resp);
	pvalue_free(req);
	buf_free(&b);
	return base;
}

/* ---- metadata requests ------------------------------------------------------------ */

/* A Metadata request for n named topics (names NULL: all topics). */
static struct pvalue *
metadata_req(const char *const *names, int32_t n, bool allow_auto_create)
{
	struct pvalue *req = request(3);

	pvalue_set_int(req, "allow_auto_topic_creation", allow_auto_create);
	if (names == NULL) {
		pvalue_array_set_null(pvalue_array(req, "topics"));
		return req;
	}
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), n), KLAB_OK);
	for (int32_t i = 0; i < n; i++)
		pvalue_set_str(pvalue_at(pvalue_array(req, "topics"), i), "name", names[i]);
	return req;
}

static void
assert_str(const struct pvalue *st, const char *field, const char *want)
{
	int32_t len = -1;
	const uint8_t *p = pvalue_get_bytes(st, field, &len);

	assert_non_null(p);
	assert_int_equal(len, (int32_t)strlen(want));
	assert_memory_equal(p, want, strlen(want));
}

/* The topic named name in a Metadata response, or NULL. */
static const struct pvalue *
meta_topic(const struct pvalue *resp, const char *name)
{
	const struct pvalue *ts = pvalue_array(resp, "topics");

	for (int32_t i = 0; i < pvalue_count(ts); i++) {
		int32_t len;
		const uint8_t *p = pvalue_get_bytes(pvalue_at(ts, i), "name", &len);

		if (p != NULL && len == (int32_t)strlen(name) && memcmp(p, name, (size_t)len) == 0)
			return pvalue_at(ts, i);
	}
	return NULL;
}

/* ---- meta_brokers --------------------------------------------------------------- */

static void
check_brokers(const struct pvalue *resp, int16_t v, int32_t id, const char *host, int32_t port,
	      const char *cluster)
{
	const struct pvalue *b = pvalue_array(resp, "brokers");

	assert_int_equal(pvalue_count(b), 1);
	assert_int_equal(pvalue_get_int(pvalue_at(b, 0), "node_id"), id);
	assert_str(pvalue_at(b, 0), "host", host);
	assert_int_equal(pvalue_get_int(pvalue_at(b, 0), "port"), port);
	if (v >= 1)
		assert_int_equal(pvalue_get_int(resp, "controller_id"), id);
	if (v >= 2)
		assert_str(resp, "cluster_id", cluster);
}

/* Every version, with and without topics: the one broker, the controller, the cluster. */
static void
test_lab3_meta_brokers_list(void **state)
{
	struct world *w = world_new(BROKER_ID, true, NULL, 0);
	static const char *const names[] = { "orders", "missing", "bad/name" };

	(void)state;
	create_topic(w, "orders", 3);
	for (int16_t v = 0; v <= 8; v++) {
		struct pvalue *req = metadata_req(v == 0 ? names : NULL, v == 0 ? 0 : -1, false);
		struct pvalue *resp = rpc(w, 3, v, req);

		check_brokers(resp, v, BROKER_ID, "broker", PORT, "lab3-cluster-3");
		pvalue_free(resp);
		pvalue_free(req);
		req = metadata_req(names, 3, false);
		resp = rpc(w, 3, v, req);
		check_brokers(resp, v, BROKER_ID, "broker", PORT, "lab3-cluster-3");
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* The advertised address, not the listening one; another broker id. */
static void
test_lab3_meta_brokers_advertised(void **state)
{
	struct world *w = world_new(7, false, "kafka-7.example", 29092);

	(void)state;
	for (int16_t v = 1; v <= 8; v++) {
		struct pvalue *req = metadata_req(NULL, -1, false), *resp = rpc(w, 3, v, req);

		check_brokers(resp, v, 7, "kafka-7.example", 29092, "lab3-cluster-7");
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* ---- meta_partitions ------------------------------------------------------------- */

static void
check_partitions(const struct pvalue *t, int16_t v, int32_t partitions)
{
	const struct pvalue *parts;

	assert_non_null(t);
	assert_int_equal(pvalue_get_int(t, "error_code"), 0);
	parts = pvalue_array(t, "partitions");
	assert_int_equal(pvalue_count(parts), partitions);
	for (int32_t i = 0; i < partitions; i++) {
		const struct pvalue *pp = pvalue_at(parts, i);
		const struct pvalue *rep = pvalue_array(pp, "replica_nodes");
		const struct pvalue *isr = pvalue_array(pp, "isr_nodes");

		assert_int_equal(pvalue_get_int(pp, "error_code"), 0);
		assert_int_equal(pvalue_get_int(pp, "partition_index"), i);
		assert_int_equal(pvalue_get_int(pp, "leader_id"), BROKER_ID);
		if (v >= 7)
			assert_int_equal(pvalue_get_int(pp, "leader_epoch"), 0);
		assert_int_equal(pvalue_count(rep), 1);
		assert_int_equal(pvalue_at(rep, 0)->i, BROKER_ID);
		assert_int_equal(pvalue_count(isr), 1);
		assert_int_equal(pvalue_at(isr, 0)->i, BROKER_ID);
	}
}

/* All topics: each with its partitions, leader, replicas and ISR (this broker). */
static void
test_lab3_meta_partitions_all_topics(void **state)
{
	struct world *w = world_new(BROKER_ID, false, NULL, 0);

	(void)state;
	create_topic(w, "one", 1);
	create_topic(w, "three", 3);
	create_topic(w, "eight", 8);
	for (int16_t v = 0; v <= 8; v++) {
		static const char *const none[] = { "" };
		struct pvalue *req = metadata_req(v == 0 ? none : NULL, v == 0 ? 0 : -1, false);
		struct pvalue *resp = rpc(w, 3, v, req);

		assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 3);
		check_partitions(meta_topic(resp, "one"), v, 1);
		check_partitions(meta_topic(resp, "three"), v, 3);
		check_partitions(meta_topic(resp, "eight"), v, 8);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* Named topics that exist, in the order asked, one twice. */
static void
test_lab3_meta_partitions_named(void **state)
{
	static const char *const names[] = { "b", "a", "b" };
	struct world *w = world_new(BROKER_ID, false, NULL, 0);

	(void)state;
	create_topic(w, "a", 4);
	create_topic(w, "b", 2);
	for (int16_t v = 0; v <= 8; v++) {
		struct pvalue *req = metadata_req(names, 3, false), *resp = rpc(w, 3, v, req);
		const struct pvalue *ts = pvalue_array(resp, "topics");

		assert_int_equal(pvalue_count(ts), 3);
		assert_str(pvalue_at(ts, 0), "name", "b");
		check_partitions(pvalue_at(ts, 0), v, 2);
		assert_str(pvalue_at(ts, 1), "name", "a");
		check_partitions(pvalue_at(ts, 1), v, 4);
		check_partitions(pvalue_at(ts, 2), v, 2);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* ---- meta_topic_error ------------------------------------------------------------ */

static int64_t
topic_error(const struct pvalue *resp, int32_t i)
{
	return pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), i), "error_code");
}

/* Unknown topics: UNKNOWN_TOPIC_OR_PARTITION, and nothing is created. */
static void
test_lab3_meta_unknown_topic(void **state)
{
	static const char *const names[] = { "nope", "known", "nada" };
	struct world *w = world_new(BROKER_ID, false, NULL, 0);

	(void)state;
	create_topic(w, "known", 1);
	for (int16_t v = 0; v <= 8; v++) { /* auto.create.topics.enable=false */
		struct pvalue *req = metadata_req(names, 3, true), *resp = rpc(w, 3, v, req);

		assert_int_equal(topic_error(resp, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(topic_error(resp, 1), KERR_NONE);
		assert_int_equal(topic_error(resp, 2), KERR_UNKNOWN_TOPIC_OR_PARTITION);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
	w = world_new(BROKER_ID, true, NULL, 0);
	for (int16_t v = 4; v <= 8; v++) { /* the client says allow_auto_topic_creation=false */
		struct pvalue *req = metadata_req(names, 1, false), *resp = rpc(w, 3, v, req);

		assert_int_equal(topic_error(resp, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION);
		pvalue_free(resp);
		pvalue_free(req);
	}
	assert_null(topics_find(w->broker.store, "nope"));
	assert_int_equal(w->broker.store->n, 0);
	world_free(w);
}

/* Names Kafka cannot have: INVALID_TOPIC_EXCEPTION, even with auto-creation on. */
static void
test_lab3_meta_invalid_topic(void **state)
{
	char long_name[260];
	const char *names[] = { "bad/name", ".", "..", "sp ace", "caf\xc3\xa9", long_name };
	struct world *w = world_new(BROKER_ID, true, NULL, 0);

	(void)state;
	memset(long_name, 'x', 250);
	long_name[250] = '\0';
	for (int16_t v = 4; v <= 8; v++) {
		struct pvalue *req = metadata_req(names, 6, true), *resp = rpc(w, 3, v, req);

		for (int32_t i = 0; i < 6; i++)
			assert_int_equal(topic_error(resp, i), KERR_INVALID_TOPIC_EXCEPTION);
		pvalue_free(resp);
		pvalue_free(req);
	}
	assert_int_equal(w->broker.store->n, 0);
	world_free(w);
}

/* Auto-creation: the topic exists at once (one broker), with num.partitions. */
static void
test_lab3_meta_auto_create(void **state)
{
	struct world *w = world_new(BROKER_ID, true, NULL, 0);

	(void)state;
	for (int16_t v = 0; v <= 8; v++) {
		char name[32];
		const char *names[] = { name, "bad/one", "shared" };
		struct pvalue *req, *resp;
		struct topic *t;

		snprintf(name, sizeof(name), "auto-%d", v);
		req = metadata_req(names, 3, true);
		resp = rpc(w, 3, v, req);
		assert_int_equal(topic_error(resp, 0), KERR_NONE);
		assert_int_equal(topic_error(resp, 1), KERR_INVALID_TOPIC_EXCEPTION);
		assert_int_equal(topic_error(resp, 2), KERR_NONE);
		t = topics_find(w->broker.store, name);
		assert_non_null(t);
		assert_int_equal(t->partitions, 2);
		assert_non_null(topics_find(w->broker.store, "shared"));
		assert_int_equal(w->broker.store->n, (size_t)v + 2);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
}

/* ---- fetch requests ----------------------------------------------------------------- */

/*
 * A Fetch request for partitions[0..n) of topic from offsets[0..n), with
 * partition_max_bytes pmax each and max_bytes max (max_wait_ms 0).
 */
static struct pvalue *
fetch_req(const char *topic, const int32_t *partitions, const int64_t *offsets, int32_t n,
	  int32_t pmax, int32_t max)
{
	struct pvalue *req = request(1), *t;

	pvalue_set_int(req, "replica_id", -1);
	pvalue_set_int(req, "max_wait_ms", 0);
	pvalue_set_int(req, "min_bytes", 1);
	pvalue_set_int(req, "max_bytes", max);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "topic", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), n), KLAB_OK);
	for (int32_t i = 0; i < n; i++) {
		struct pvalue *p = pvalue_at(pvalue_array(t, "partitions"), i);

		pvalue_set_int(p, "partition", partitions[i]);
		pvalue_set_int(p, "fetch_offset", offsets[i]);
		pvalue_set_int(p, "partition_max_bytes", pmax);
	}
	return req;
}

/* Fetch one partition at version v; the caller frees *resp. */
static const struct pvalue *
fetch_one(struct world *w, int16_t v, const char *topic, int32_t partition, int64_t offset,
	  int32_t pmax, struct pvalue **resp)
{
	struct pvalue *req = fetch_req(topic, &partition, &offset, 1, pmax, 1 << 24);
	const struct pvalue *t;

	*resp = rpc(w, 1, v, req);
	pvalue_free(req);
	t = pvalue_at(pvalue_array(*resp, "responses"), 0);
	return pvalue_at(pvalue_array(t, "partitions"), 0);
}

/* Topic "f", one partition, four batches of 3 records: offsets 0..11. */
static struct world *
fetch_world(void)
{
	struct world *w = world_new(BROKER_ID, false, NULL, 0);

	create_topic(w, "f", 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(produce(w, "f", 0, 3, (uint32_t)i), 3 * i);
	return w;
}

/* ---- fetch_range ------------------------------------------------------------- */

static void
check_offsets(const struct pvalue *p, int16_t v, int64_t err, int64_t hw, int64_t start)
{
	assert_int_equal(pvalue_get_int(p, "error_code"), err);
	assert_int_equal(pvalue_get_int(p, "high_watermark"), hw);
	if (v >= 4)
		assert_int_equal(pvalue_get_int(p, "last_stable_offset"), hw);
	if (v >= 5)
		assert_int_equal(pvalue_get_int(p, "log_start_offset"), start);
}

/* In range: no error, and the log's high watermark and start offset. */
static void
test_lab3_fetch_offsets_in_answer(void **state)
{
	struct world *w = fetch_world();

	(void)state;
	create_topic(w, "empty", 1);
	for (int16_t v = 4; v <= 11; v++) {
		static const int64_t offsets[] = { 0, 3, 7, 11, 12 };
		struct pvalue *resp;

		for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
			check_offsets(fetch_one(w, v, "f", 0, offsets[i], 1 << 20, &resp), v, 0, 12,
				      0);
			pvalue_free(resp);
		}
		check_offsets(fetch_one(w, v, "empty", 0, 0, 1 << 20, &resp), v, 0, 0, 0);
		pvalue_free(resp);
	}
	world_free(w);
}

/* Outside [log start, high watermark]: OFFSET_OUT_OF_RANGE, with the offsets. */
static void
test_lab3_fetch_out_of_range(void **state)
{
	struct world *w = fetch_world();
	struct log *l;

	(void)state;
	create_topic(w, "empty", 1);
	for (int16_t v = 4; v <= 11; v++) {
		static const int64_t offsets[] = { 13, 14, 1000, INT64_MAX, -1, -100 };
		struct pvalue *resp;

		for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
			check_offsets(fetch_one(w, v, "f", 0, offsets[i], 1 << 20, &resp), v,
				      KERR_OFFSET_OUT_OF_RANGE, 12, 0);
			pvalue_free(resp);
		}
		check_offsets(fetch_one(w, v, "empty", 0, 1, 1 << 20, &resp), v,
			      KERR_OFFSET_OUT_OF_RANGE, 0, 0);
		pvalue_free(resp);
	}
	/*
	 * The log start moves up (as retention or DeleteRecords would move it;
	 * here by hand, the old batches still on disk): offsets below it are
	 * out of range even though the log could still read them.
	 */
	l = topics_find(w->broker.store, "f")->logs[0];
	l->log_start_offset = 6;
	for (int16_t v = 4; v <= 11; v++) {
		struct pvalue *resp;

		check_offsets(fetch_one(w, v, "f", 0, 0, 1 << 20, &resp), v,
			      KERR_OFFSET_OUT_OF_RANGE, 12, 6);
		pvalue_free(resp);
		check_offsets(fetch_one(w, v, "f", 0, 5, 1 << 20, &resp), v,
			      KERR_OFFSET_OUT_OF_RANGE, 12, 6);
		pvalue_free(resp);
		check_offsets(fetch_one(w, v, "f", 0, 6, 1 << 20, &resp), v, 0, 12, 6);
		pvalue_free(resp);
	}
	world_free(w);
}

/* ---- fetch_read ----------------------------------------------------------------------- */

/* The records of p: how many whole batches, and the offset after them. */
static int
batches_of(const struct pvalue *p, int64_t first_base, int64_t *next)
{
	int32_t len = 0;
	const uint8_t *rec = pvalue_get_bytes(p, "records", &len);

	assert_int_equal(pvalue_get_int(p, "error_code"), 0);
	*next = first_base;
	if (rec == NULL || len <= 0)
		return 0;
	return tu_check_batches(rec, (size_t)len, next);
}

/* From any offset in range: the batches from the one holding it to the end. */
static void
test_lab3_fetch_reads_records(void **state)
{
	struct world *w = fetch_world();

	(void)state;
	for (int16_t v = 4; v <= 11; v++) {
		for (int64_t off = 0; off < 12; off++) {
			struct pvalue *resp;
			int64_t next;
			int n = batches_of(fetch_one(w, v, "f", 0, off, 1 << 20, &resp),
					   off / 3 * 3, &next);

			assert_int_equal(n, 4 - off / 3);
			assert_int_equal(next, 12);
			pvalue_free(resp);
		}
	}
	world_free(w);
}

/* partition_max_bytes and max_bytes: whole batches, at least one for the first partition. */
static void
test_lab3_fetch_max_bytes(void **state)
{
	struct world *w = fetch_world();
	struct pvalue *resp;
	int32_t len, one;
	int64_t next;

	(void)state;
	fetch_one(w, 11, "f", 0, 0, 1 << 20, &resp);
	len = 0;
	{
		const struct pvalue *t = pvalue_at(pvalue_array(resp, "responses"), 0);
		const struct pvalue *p = pvalue_at(pvalue_array(t, "partitions"), 0);

		assert_non_null(pvalue_get_bytes(p, "records", &len));
	}
	pvalue_free(resp);
	assert_true(len > 0 && len % 4 == 0); /* four batches of the same size */
	one = len / 4;
	for (int16_t v = 4; v <= 11; v++) {
		const struct {
			int32_t pmax, batches;
		} cases[] = {
			{ 1, 1 },	    { one - 1, 1 }, { one, 1 },
			{ 2 * one - 1, 1 }, { 2 * one, 2 }, { 3 * one - 1, 2 },
			{ 3 * one, 3 },	    { 4 * one, 4 }, { 5 * one, 4 },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct pvalue *p = fetch_one(w, v, "f", 0, 0, cases[i].pmax, &resp);

			assert_int_equal(batches_of(p, 0, &next), cases[i].batches);
			pvalue_free(resp);
		}
	}
	/* two partitions share max_bytes, in the order asked */
	create_topic(w, "g", 2);
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 4; i++)
			produce(w, "g", p, 3, (uint32_t)i);
	for (int16_t v = 4; v <= 11; v++) {
		static const int32_t parts[] = { 1, 0 };
		static const int64_t offsets[] = { 0, 3 };
		static const struct {
			int32_t max, first, second;
		} cases[] = { { 3, 3, 0 }, { 5, 4, 1 }, { 8, 4, 3 }, { 1, 1, 0 } };

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct pvalue *req =
				fetch_req("g", parts, offsets, 2, 1 << 20, one * cases[i].max);
			const struct pvalue *ps;

			resp = rpc(w, 1, v, req);
			ps = pvalue_array(pvalue_at(pvalue_array(resp, "responses"), 0),
					  "partitions");
			assert_int_equal(pvalue_get_int(pvalue_at(ps, 0), "partition_index"), 1);
			assert_int_equal(batches_of(pvalue_at(ps, 0), 0, &next), cases[i].first);
			assert_int_equal(batches_of(pvalue_at(ps, 1), 3, &next), cases[i].second);
			pvalue_free(resp);
			pvalue_free(req);
		}
	}
	world_free(w);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab3_meta_brokers_list),
		cmocka_unit_test(test_lab3_meta_brokers_advertised),
		cmocka_unit_test(test_lab3_meta_partitions_all_topics),
		cmocka_unit_test(test_lab3_meta_partitions_named),
		cmocka_unit_test(test_lab3_meta_unknown_topic),
		cmocka_unit_test(test_lab3_meta_invalid_topic),
		cmocka_unit_test(test_lab3_meta_auto_create),
		cmocka_unit_test(test_lab3_fetch_offsets_in_answer),
		cmocka_unit_test(test_lab3_fetch_out_of_range),
		cmocka_unit_test(test_lab3_fetch_reads_records),
		cmocka_unit_test(test_lab3_fetch_max_bytes),
	};
	const char *filter = getenv("KLAB_TEST_FILTER");

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (filter != NULL)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
