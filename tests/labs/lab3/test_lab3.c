/*
 * test_lab3.c - the graded tests of lab 3 (labs/lab3-broker/README.md).
 *
 * The broker tests run one broker in the simulator with a tiny test
 * client node, as tests/ch3/test_broker.c does: the client builds each
 * request by hand, field by field, encodes it with proto_request_encode(),
 * and decodes the broker's answer with the response tables.  A test
 * exercises one lab region and looks only at what that region writes, so a
 * region is graded on its own:
 *
 *   - the topics are made with CreateTopics and the records with Produce,
 *     neither of which is a lab region;
 *   - the meta_topic_error tests check error codes and the broker's
 *     topic store, not the partitions of the answer (meta_partitions);
 *   - the fetch_range tests check error codes and offsets, not the
 *     records (fetch_read), and the fetch_read tests the records, not the
 *     offsets.
 *
 * The client tests (cache_brokers, cache_leaders, retry_not_leader) run
 * klab's producer against a static cluster of three brokers; see "the
 * client" below for how they stay apart from the broker regions.
 *
 * tests/labs/lab3/points gives each test its points.
 *
 *   --list                   print the test names
 *   KLAB_TEST_FILTER=NAME    run only the test NAME (tools/grade.sh does)
 */
#include "testutil.h"

#include "broker/broker.h"
#include "proto/kafka.h"
#include "client/admin.h"
#include "client/producer.h"
#include "net/sim.h"

#define PORT 9092
#define BROKER_ID 3

#include "broker_client.h"
#include "labs/check.h"

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
	CHECK_TRUE(!w->broker.failed, "the broker failed to start");
	w->client.conn = crt(w)->ops->connect(crt(w), "broker", PORT);
	sim_run_until_idle(&w->sim, 100000);
	CHECK_TRUE(w->client.connected, "the test's client could not connect to the broker");
	return w;
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
	CHECK_EQF(proto_request_encode(&h, body, &out), KLAB_OK,
		  "the test's request (not a region)", "encoding %s v%d", api->name, v);
	CHECK_EQF(crt(w)->ops->send(crt(w), w->client.conn, out.data, out.len), KLAB_OK,
		  "the test's client (not a region)", "sending %s v%d", api->name, v);
	buf_free(&out);
	sim_run_until_idle(&w->sim, 100000);
	CHECK_EQF(w->client.nframes - before, 1,
		  "the broker answers every request once: did the handler return an error, "
		  "so the broker closed the connection?",
		  "answers to %s v%d", api->name, v);
	f = &w->client.frames[w->client.nframes - 1];
	CHECK_EQF(f->len >= 8, 1, "a response has at least a correlation id",
		  "the answer to %s v%d is at least 8 bytes (1: yes; %zu bytes)", api->name, v,
		  f->len);
	CHECK_EQF((int32_t)be32_read(f->data + 4), w->corr, "the request's own correlation id",
		  "correlation id of the answer to %s v%d", api->name, v);
	CHECK_EQF(proto_decode(api->response, v, f->data + 8, f->len - 8, &resp), KLAB_OK,
		  "the response must decode at the request's version: a field missing, or one "
		  "of a later version?",
		  "decoding the answer to %s v%d", api->name, v);
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
	CHECK_EQF(pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"), 0,
		  "CreateTopics is not a lab region", "error code of CreateTopics %s", name);
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
	CHECK_EQF(pvalue_get_int(p, "error_code"), 0, "Produce is not a lab region",
		  "error code of Produce to %s-%d", topic, partition);
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

/* The string field of st must be want; what names it in a failure ("v3 broker 0 host"). */
static void
assert_str(const struct pvalue *st, const char *field, const char *want, const char *what)
{
	int32_t len = -1;
	const uint8_t *p = pvalue_get_bytes(st, field, &len);

	if (p == NULL || len != (int32_t)strlen(want) || memcmp(p, want, strlen(want)) != 0)
		fail_msg("%s: expected \"%s\", got %s%.*s%s", what, want, p == NULL ? "null" : "\"",
			 p == NULL ? 0 : (int)len, p == NULL ? "" : (const char *)p,
			 p == NULL ? "" : "\"");
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
	char what[64];

	CHECK_EQF(pvalue_count(b), 1, "the one broker of this cluster, whatever topics were asked",
		  "Metadata v%d: brokers in the answer", v);
	CHECK_EQF(pvalue_get_int(pvalue_at(b, 0), "node_id"), id, "this broker's broker.id",
		  "Metadata v%d: node_id of the broker", v);
	snprintf(what, sizeof(what), "Metadata v%d: host of the broker", v);
	assert_str(pvalue_at(b, 0), "host", host, what);
	CHECK_EQF(pvalue_get_int(pvalue_at(b, 0), "port"), port,
		  "the advertised port when there is one, else the listening port",
		  "Metadata v%d: port of the broker", v);
	if (v >= 1)
		CHECK_EQF(pvalue_get_int(resp, "controller_id"), id,
			  "from v1 on: this broker is the controller",
			  "Metadata v%d: controller_id", v);
	if (v >= 2) {
		snprintf(what, sizeof(what), "Metadata v%d: cluster_id (from v2 on)", v);
		assert_str(resp, "cluster_id", cluster, what);
	}
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

	if (t == NULL)
		fail_msg("Metadata v%d: a topic that exists is missing from the answer", v);
	CHECK_EQF(pvalue_get_int(t, "error_code"), 0, "a topic that exists has no error",
		  "Metadata v%d: topic error code", v);
	parts = pvalue_array(t, "partitions");
	CHECK_EQF(pvalue_count(parts), partitions, "one entry per partition of the topic",
		  "Metadata v%d: partitions of a topic of %d", v, partitions);
	for (int32_t i = 0; i < partitions; i++) {
		const struct pvalue *pp = pvalue_at(parts, i);
		const struct pvalue *rep = pvalue_array(pp, "replica_nodes");
		const struct pvalue *isr = pvalue_array(pp, "isr_nodes");

		CHECK_EQF(pvalue_get_int(pp, "error_code"), 0,
			  "a partition with a leader has no error",
			  "Metadata v%d: error code of partition %d", v, i);
		CHECK_EQF(pvalue_get_int(pp, "partition_index"), i, "partitions in index order",
			  "Metadata v%d: partition_index of entry %d", v, i);
		CHECK_EQF(pvalue_get_int(pp, "leader_id"), BROKER_ID,
			  "this broker leads every partition",
			  "Metadata v%d: leader of partition %d", v, i);
		if (v >= 7)
			CHECK_EQF(pvalue_get_int(pp, "leader_epoch"), 0,
				  "from v7 on: the leader epoch, 0 on one broker",
				  "Metadata v%d: leader_epoch of partition %d", v, i);
		CHECK_EQF(pvalue_count(rep), 1, "one replica: this broker",
			  "Metadata v%d: replicas of partition %d", v, i);
		CHECK_EQF(pvalue_at(rep, 0)->i, BROKER_ID, "the replica is this broker",
			  "Metadata v%d: replica of partition %d", v, i);
		CHECK_EQF(pvalue_count(isr), 1, "the ISR: this broker",
			  "Metadata v%d: ISR size of partition %d", v, i);
		CHECK_EQF(pvalue_at(isr, 0)->i, BROKER_ID, "the ISR is this broker",
			  "Metadata v%d: ISR member of partition %d", v, i);
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

		CHECK_EQF(pvalue_count(pvalue_array(resp, "topics")), 3,
			  "a request for all topics (null, or empty before v1) lists every topic",
			  "Metadata v%d: topics in the answer", v);
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

		char what[64];

		CHECK_EQF(pvalue_count(ts), 3,
			  "one entry per topic asked, in the order asked, a repeated one twice",
			  "Metadata v%d: topics in the answer to b, a, b", v);
		snprintf(what, sizeof(what), "Metadata v%d: name of the first topic", v);
		assert_str(pvalue_at(ts, 0), "name", "b", what);
		check_partitions(pvalue_at(ts, 0), v, 2);
		snprintf(what, sizeof(what), "Metadata v%d: name of the second topic", v);
		assert_str(pvalue_at(ts, 1), "name", "a", what);
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

		CHECK_EQF(topic_error(resp, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION,
			  "UNKNOWN_TOPIC_OR_PARTITION (3) when auto.create.topics.enable is false",
			  "Metadata v%d: error of \"nope\"", v);
		CHECK_EQF(topic_error(resp, 1), KERR_NONE, "a topic that exists has no error",
			  "Metadata v%d: error of \"known\"", v);
		CHECK_EQF(topic_error(resp, 2), KERR_UNKNOWN_TOPIC_OR_PARTITION,
			  "UNKNOWN_TOPIC_OR_PARTITION (3) when auto.create.topics.enable is false",
			  "Metadata v%d: error of \"nada\"", v);
		pvalue_free(resp);
		pvalue_free(req);
	}
	world_free(w);
	w = world_new(BROKER_ID, true, NULL, 0);
	for (int16_t v = 4; v <= 8; v++) { /* the client says allow_auto_topic_creation=false */
		struct pvalue *req = metadata_req(names, 1, false), *resp = rpc(w, 3, v, req);

		CHECK_EQF(topic_error(resp, 0), KERR_UNKNOWN_TOPIC_OR_PARTITION,
			  "from v4 on the request's allow_auto_topic_creation=false forbids it, "
			  "even when the broker allows it",
			  "Metadata v%d: error of \"nope\"", v);
		pvalue_free(resp);
		pvalue_free(req);
	}
	CHECK_TRUE(topics_find(w->broker.store, "nope") == NULL,
		   "topic \"nope\" was created although the request said "
		   "allow_auto_topic_creation=false");
	CHECK_EQ(w->broker.store->n, 0, "topics in the broker's store",
		 "no topic may be created when the request forbids it");
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
			CHECK_EQF(topic_error(resp, i), KERR_INVALID_TOPIC_EXCEPTION,
				  "INVALID_TOPIC_EXCEPTION (17) for a name Kafka cannot have "
				  "(topic_name_valid), before any auto-creation",
				  "Metadata v%d: error of invalid name #%d (\"%.12s\")", v, i,
				  names[i]);
		pvalue_free(resp);
		pvalue_free(req);
	}
	CHECK_EQ(w->broker.store->n, 0, "topics in the broker's store",
		 "an invalid name is never auto-created");
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
		CHECK_EQF(topic_error(resp, 0), KERR_NONE,
			  "an auto-created topic exists at once on one broker: no error",
			  "Metadata v%d: error of new topic %s", v, name);
		CHECK_EQF(topic_error(resp, 1), KERR_INVALID_TOPIC_EXCEPTION,
			  "an invalid name is not auto-created: INVALID_TOPIC_EXCEPTION (17)",
			  "Metadata v%d: error of \"bad/one\"", v);
		CHECK_EQF(topic_error(resp, 2), KERR_NONE, "auto-created once, then it exists",
			  "Metadata v%d: error of \"shared\"", v);
		t = topics_find(w->broker.store, name);
		if (t == NULL)
			fail_msg("Metadata v%d with auto-creation allowed did not create topic %s",
				 v, name);
		CHECK_EQF(t->partitions, 2, "an auto-created topic gets num.partitions (2)",
			  "Metadata v%d: partitions of auto-created %s", v, name);
		CHECK_TRUE(topics_find(w->broker.store, "shared") != NULL,
			   "topic \"shared\" was not auto-created");
		CHECK_EQF(w->broker.store->n, (size_t)v + 2,
			  "one new topic per version, \"shared\" once, never \"bad/one\"",
			  "Metadata v%d: topics in the broker's store", v);
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
		CHECK_EQF(produce(w, "f", 0, 3, (uint32_t)i), 3 * i, "Produce is not a lab region",
			  "base offset of batch %d of f-0", i);
	return w;
}

/* ---- fetch_range ------------------------------------------------------------- */

/* The offsets of partition p of a Fetch v answer from offset. */
static void
check_offsets(const struct pvalue *p, int16_t v, int64_t offset, int64_t err, int64_t hw,
	      int64_t start)
{
	CHECK_EQF(
		pvalue_get_int(p, "error_code"), err,
		err == 0 ? "an offset in [log start, high watermark] is in range (the high "
			   "watermark too: nothing to read yet)"
			 : "OFFSET_OUT_OF_RANGE (1) below the log start or past the high watermark",
		"Fetch v%d from offset %lld: error code", v, (long long)offset);
	CHECK_EQF(pvalue_get_int(p, "high_watermark"), hw,
		  "the log's high watermark, in range or not",
		  "Fetch v%d from offset %lld: high_watermark", v, (long long)offset);
	if (v >= 4)
		CHECK_EQF(pvalue_get_int(p, "last_stable_offset"), hw,
			  "from v4 on: no transactions, so the high watermark",
			  "Fetch v%d from offset %lld: last_stable_offset", v, (long long)offset);
	if (v >= 5)
		CHECK_EQF(pvalue_get_int(p, "log_start_offset"), start,
			  "from v5 on: the log's start offset, in range or not",
			  "Fetch v%d from offset %lld: log_start_offset", v, (long long)offset);
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
			check_offsets(fetch_one(w, v, "f", 0, offsets[i], 1 << 20, &resp), v,
				      offsets[i], 0, 12, 0);
			pvalue_free(resp);
		}
		check_offsets(fetch_one(w, v, "empty", 0, 0, 1 << 20, &resp), v, 0, 0, 0, 0);
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
				      offsets[i], KERR_OFFSET_OUT_OF_RANGE, 12, 0);
			pvalue_free(resp);
		}
		check_offsets(fetch_one(w, v, "empty", 0, 1, 1 << 20, &resp), v, 1,
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

		check_offsets(fetch_one(w, v, "f", 0, 0, 1 << 20, &resp), v, 0,
			      KERR_OFFSET_OUT_OF_RANGE, 12, 6);
		pvalue_free(resp);
		check_offsets(fetch_one(w, v, "f", 0, 5, 1 << 20, &resp), v, 5,
			      KERR_OFFSET_OUT_OF_RANGE, 12, 6);
		pvalue_free(resp);
		check_offsets(fetch_one(w, v, "f", 0, 6, 1 << 20, &resp), v, 6, 0, 12, 6);
		pvalue_free(resp);
	}
	world_free(w);
}

/* ---- fetch_read ----------------------------------------------------------------------- */

/* The records of p (a Fetch v answer): how many whole batches, and the offset after them. */
static int
batches_of(const struct pvalue *p, int16_t v, int64_t first_base, int64_t *next)
{
	int32_t len = 0;
	const uint8_t *rec = pvalue_get_bytes(p, "records", &len);

	CHECK_EQF(pvalue_get_int(p, "error_code"), 0, "an offset in range reads without error",
		  "Fetch v%d from offset %lld: error code", v, (long long)first_base);
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
			int n = batches_of(fetch_one(w, v, "f", 0, off, 1 << 20, &resp), v,
					   off / 3 * 3, &next);

			CHECK_EQF(n, 4 - off / 3,
				  "whole batches from the one holding the offset to the end (the "
				  "client skips the records before it)",
				  "Fetch v%d from offset %lld: batches", v, (long long)off);
			CHECK_EQF(next, 12, "the batches read run to the log's end, in order",
				  "Fetch v%d from offset %lld: offset after the batches read", v,
				  (long long)off);
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

		CHECK_TRUE(pvalue_get_bytes(p, "records", &len) != NULL,
			   "Fetch v11 from offset 0 with 1 MiB allowed returned no records");
	}
	pvalue_free(resp);
	CHECK_EQF(len > 0 && len % 4 == 0, 1, "four batches of the same size, all of them",
		  "Fetch v11 from 0, 1 MiB allowed: %d bytes, a multiple of 4 (1: yes)", len);
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

			CHECK_EQF(batches_of(p, v, 0, &next), cases[i].batches,
				  "whole batches within partition_max_bytes, and at least one even "
				  "when it is larger",
				  "Fetch v%d, partition_max_bytes %d (a batch is %d): batches", v,
				  cases[i].pmax, one);
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
			CHECK_EQF(pvalue_get_int(pvalue_at(ps, 0), "partition_index"), 1,
				  "partitions answered in the order asked",
				  "Fetch v%d: the first partition of the answer", v);
			CHECK_EQF(batches_of(pvalue_at(ps, 0), v, 0, &next), cases[i].first,
				  "max_bytes is shared, whole batches, at least one for the first "
				  "partition",
				  "Fetch v%d, max_bytes %d batches: batches of g-1 (asked first)",
				  v, cases[i].max);
			CHECK_EQF(
				batches_of(pvalue_at(ps, 1), v, 3, &next), cases[i].second,
				"the second partition gets what the first left of max_bytes, whole "
				"batches, maybe none",
				"Fetch v%d, max_bytes %d batches: batches of g-0 (asked second)", v,
				cases[i].max);
			pvalue_free(resp);
			pvalue_free(req);
		}
	}
	world_free(w);
}

/* ==== the client: metadata cache and retries ==================================== */

/*
 * The client tests run a static cluster of three brokers (ids 1-3,
 * "broker1":9092, "broker2":9093, "broker3":9094), klab's producer, an
 * admin client that creates topics through broker1, and a "front" node:
 * the producer's only bootstrap server.  The front answers ApiVersions and
 * Metadata itself, from the test's `struct front` (which the test fills in
 * by hand, or from the brokers' own placement of a topic), never from the
 * brokers' Metadata handler: so the client regions are graded on their own,
 * whatever state the broker regions are in.  The client keeps asking its
 * Metadata of the first ready server, which is the front.  Produce goes to
 * the real brokers, which store the records or answer
 * NOT_LEADER_OR_FOLLOWER for a partition another broker holds.
 *
 *   - the cache_brokers tests look at the client's broker slots;
 *   - the cache_leaders tests look at the cached topics and at which
 *     broker's log the records reach; the cluster's slots are filled in by
 *     the test (slots_fill), as cache_brokers would;
 *   - the retry_not_leader tests need a working cache_leaders (a retry
 *     must learn the new leader), and fill the slots themselves too.
 */

#define NBROKERS 3
#define FRONT_PORT 9000
#define FRONT_TOPICS 4
#define FRONT_PARTS 8

struct front_broker {
	int32_t id;
	char host[32];
	int32_t port;
};

/* A topic as the front describes it: partitions listed in index[] order. */
struct front_topic {
	char name[32];
	int16_t error;
	int32_t n;
	int32_t index[FRONT_PARTS], leader[FRONT_PARTS];
	int16_t error_of[FRONT_PARTS];
};

struct front {
	struct front_broker brokers[NBROKERS + 2];
	int nbrokers;
	struct front_topic topics[FRONT_TOPICS];
	int ntopics;
	int metadata_requests;
	int64_t stale_until_ms; /* answers before this moment name the old leaders */
	struct buf out;
};

static void
front_start(struct node *n)
{
	assert_true(n->rt->ops->listen(n->rt, "front", FRONT_PORT, NULL) > 0);
}

static void
front_accept(struct node *n, conn_id c, int64_t listener)
{
	(void)n;
	(void)c;
	(void)listener;
}

/* ApiVersions: the front speaks Metadata v0-v8 and ApiVersions v0-v2. */
static struct pvalue *
front_versions(void)
{
	static const int16_t keys[][3] = { { 3, 0, 8 }, { 18, 0, 2 } };
	struct pvalue *r = pvalue_new(proto_api(18)->response);
	struct pvalue *a = pvalue_array(r, "api_keys");

	assert_int_equal(pvalue_array_resize(a, 2), KLAB_OK);
	for (int32_t i = 0; i < 2; i++) {
		pvalue_set_int(pvalue_at(a, i), "api_key", keys[i][0]);
		pvalue_set_int(pvalue_at(a, i), "min_version", keys[i][1]);
		pvalue_set_int(pvalue_at(a, i), "max_version", keys[i][2]);
	}
	pvalue_set_int(r, "error_code", 0);
	return r;
}

static void
front_partitions(struct pvalue *el, const struct front_topic *ft)
{
	struct pvalue *ps = pvalue_array(el, "partitions");

	assert_int_equal(pvalue_array_resize(ps, ft->n), KLAB_OK);
	for (int32_t j = 0; j < ft->n; j++) {
		struct pvalue *pe = pvalue_at(ps, j);
		int32_t p = ft->index[j];

		pvalue_set_int(pe, "error_code", ft->error_of[p]);
		pvalue_set_int(pe, "partition_index", p);
		pvalue_set_int(pe, "leader_id", ft->leader[p]);
		pvalue_set_int(pe, "leader_epoch", 0);
		if (ft->leader[p] >= 0) {
			assert_int_equal(pvalue_array_resize(pvalue_array(pe, "replica_nodes"), 1),
					 KLAB_OK);
			assert_int_equal(pvalue_array_resize(pvalue_array(pe, "isr_nodes"), 1),
					 KLAB_OK);
			pvalue_at(pvalue_array(pe, "replica_nodes"), 0)->i = ft->leader[p];
			pvalue_at(pvalue_array(pe, "isr_nodes"), 0)->i = ft->leader[p];
		}
	}
}

/* Metadata: every broker and every topic of the front, whatever was asked. */
static struct pvalue *
front_metadata(const struct front *f)
{
	struct pvalue *r = pvalue_new(proto_api(3)->response);
	struct pvalue *bs = pvalue_array(r, "brokers"), *ts = pvalue_array(r, "topics");

	assert_int_equal(pvalue_array_resize(bs, f->nbrokers), KLAB_OK);
	for (int32_t i = 0; i < f->nbrokers; i++) {
		pvalue_set_int(pvalue_at(bs, i), "node_id", f->brokers[i].id);
		pvalue_set_str(pvalue_at(bs, i), "host", f->brokers[i].host);
		pvalue_set_int(pvalue_at(bs, i), "port", f->brokers[i].port);
	}
	pvalue_set_str(r, "cluster_id", "lab3-cluster");
	pvalue_set_int(r, "controller_id", 1);
	assert_int_equal(pvalue_array_resize(ts, f->ntopics), KLAB_OK);
	for (int32_t i = 0; i < f->ntopics; i++) {
		struct pvalue *el = pvalue_at(ts, i);

		pvalue_set_int(el, "error_code", f->topics[i].error);
		pvalue_set_str(el, "name", f->topics[i].name);
		pvalue_set_int(el, "is_internal", 0);
		front_partitions(el, &f->topics[i]);
	}
	return r;
}

/* Every leader one broker on (1 -> 2 -> 3 -> 1), as a stale answer gives them. */
static void
front_rotate_leaders(struct front *f)
{
	for (int i = 0; i < f->ntopics; i++)
		for (int32_t p = 0; p < FRONT_PARTS; p++)
			if (f->topics[i].leader[p] >= 1)
				f->topics[i].leader[p] = f->topics[i].leader[p] % NBROKERS + 1;
}

static void
front_frame(struct node *n, conn_id c, const uint8_t *frame, size_t len)
{
	struct front *f = n->state;
	struct proto_request_header h;
	struct cursor body;
	struct pvalue *resp;
	bool stale;

	assert_true(len > 4);
	assert_int_equal(proto_request_header_parse(frame + 4, len - 4, &h, &body), KLAB_OK);
	if (h.api_key != 3 && h.api_key != 18) /* the client asks the front nothing else */
		fail_msg("the bootstrap server got a request of API key %d, not Metadata or "
			 "ApiVersions: a request for a broker went to the bootstrap server's slot",
			 h.api_key);
	if (h.api_key == 3)
		f->metadata_requests++;
	stale = h.api_key == 3 && n->rt->ops->now_ms(n->rt) < f->stale_until_ms;
	if (stale) /* a stale answer: every leader one broker off */
		front_rotate_leaders(f);
	resp = h.api_key == 3 ? front_metadata(f) : front_versions();
	if (stale) /* three rotations of 1..NBROKERS bring a leader back */
		for (int i = 0; i < NBROKERS - 1; i++)
			front_rotate_leaders(f);
	buf_reset(&f->out);
	assert_int_equal(proto_response_encode(h.correlation_id, proto_api(h.api_key),
					       h.api_version, resp, &f->out),
			 KLAB_OK);
	assert_int_equal(n->rt->ops->send(n->rt, c, f->out.data, f->out.len), KLAB_OK);
	pvalue_free(resp);
}

static const struct node_ops front_ops = {
	.on_start = front_start,
	.on_accept = front_accept,
	.on_frame = front_frame,
};

/* The front lists the cluster's brokers, as their Metadata would. */
static void
front_cluster(struct front *f)
{
	f->nbrokers = NBROKERS;
	for (int32_t id = 1; id <= NBROKERS; id++) {
		f->brokers[id - 1].id = id;
		snprintf(f->brokers[id - 1].host, sizeof(f->brokers[0].host), "broker%d", id);
		f->brokers[id - 1].port = 9091 + id;
	}
}

/* ---- the cluster world ------------------------------------------------------------ */

/*
 * Every client test runs its scenario in CW_SEEDS simulated worlds, each
 * from its own seed (the order of events, the network's delays): a region
 * that works only for one interleaving fails for another.  Failures name
 * the seed; cw_seed is the world's seed while a scenario runs.
 */
#define CW_SEEDS 20
static uint64_t cw_seed = 0x1AB3C;

/* A failure inside a scenario, prefixed with the seed of its world. */
#define CW_EQ(got, want, what, hint) \
	CHECK_EQF(got, want, hint, "seed %#llx: %s", (unsigned long long)cw_seed, (what))
#define CW_EQF(got, want, hint, fmt, ...) \
	CHECK_EQF(got, want, hint, "seed %#llx: " fmt, (unsigned long long)cw_seed, __VA_ARGS__)
#define CW_TRUE(cond, msg)                                                              \
	do {                                                                            \
		if (!(cond))                                                            \
			fail_msg("seed %#llx: %s", (unsigned long long)cw_seed, (msg)); \
	} while (0)

/* Run scenario in CW_SEEDS worlds, seeds 0x1AB3C, 0x1AB3D, ... */
static void
cw_sweep(void (*scenario)(void))
{
	for (uint64_t i = 0; i < CW_SEEDS; i++) {
		cw_seed = 0x1AB3C + i;
		scenario();
	}
}

struct cworld {
	struct sim sim;
	struct broker brokers[NBROKERS];
	char dirs[NBROKERS][64];
	struct config props;
	struct front front;
	struct kclient admin;
	struct kproducer prod;
	int ok, errors, last_err;
	int16_t last_kerr;
	int64_t last_ok_ms, last_error_ms;
};

static int
cw_invariants(void *arg, struct sim *s, struct kerr *e)
{
	struct cworld *w = arg;
	const char *why = kproducer_check_invariants(&w->prod);

	(void)s;
	return why == NULL ? KLAB_OK : kerr_set(e, KLAB_ECORRUPT, "client invariant %s", why);
}

static void
cw_quiet(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

static void
cw_delivery(void *arg, void *opaque, const char *topic, int32_t partition, int64_t offset, int err,
	    int16_t kafka_error)
{
	struct cworld *w = arg;

	(void)opaque;
	(void)topic;
	(void)partition;
	(void)offset;
	if (err == KLAB_OK) {
		w->ok++;
		w->last_ok_ms = sim_now(&w->sim);
		return;
	}
	w->errors++;
	w->last_err = err;
	w->last_kerr = kafka_error;
	w->last_error_ms = sim_now(&w->sim);
}

static void
cw_broker(struct cworld *w, int32_t id)
{
	struct broker_config bc;

	memset(&bc, 0, sizeof(bc));
	bc.broker_id = id;
	snprintf(bc.listen_host, sizeof(bc.listen_host), "broker%d", id);
	bc.listen_port = 9091 + id;
	snprintf(bc.cluster_id, sizeof(bc.cluster_id), "lab3-cluster");
	bc.props = &w->props;
	bc.log = cw_quiet;
	for (int i = 0; i < NBROKERS; i++) {
		bc.members[i].id = i + 1;
		snprintf(bc.members[i].host, sizeof(bc.members[i].host), "broker%d", i + 1);
		bc.members[i].port = 9092 + i;
	}
	bc.nmembers = NBROKERS;
	broker_init(&w->brokers[id - 1], &bc);
}

/* Three brokers, the front, an admin client and a producer (linger.ms 0). */
static struct cworld *
cw_new(void)
{
	struct cworld *w = calloc(1, sizeof(*w));
	struct kclient_config ac;
	struct kproducer_config pc;
	struct kerr e = { 0 };

	assert_non_null(w);
	config_init(&w->props);
	for (int32_t id = 1; id <= NBROKERS; id++) {
		tu_tmpdir_make(w->dirs[id - 1], sizeof(w->dirs[0]));
		cw_broker(w, id);
	}
	kclient_config_defaults(&ac);
	snprintf(ac.bootstrap, sizeof(ac.bootstrap), "broker1:9092");
	ac.request_timeout_ms = 1000;
	assert_int_equal(kclient_init(&w->admin, &ac, NULL, &e), KLAB_OK);
	kproducer_config_defaults(&pc);
	snprintf(pc.client.bootstrap, sizeof(pc.client.bootstrap), "front:%d", FRONT_PORT);
	pc.client.request_timeout_ms = 1000;
	pc.client.allow_auto_create = false;
	pc.acc.max_block_ms = 3000;
	pc.delivery_timeout_ms = 20000;
	/* the front answers Metadata only: no InitProducerId, so no idempotence here */
	pc.idempotence = KP_IDEMPOTENCE_OFF;
	pc.on_delivery = cw_delivery;
	pc.arg = w;
	assert_int_equal(kproducer_init(&w->prod, &pc, &e), KLAB_OK);
	buf_init(&w->front.out);
	front_cluster(&w->front);

	sim_init(&w->sim, cw_seed);
	for (int32_t id = 1; id <= NBROKERS; id++) {
		char name[32];

		snprintf(name, sizeof(name), "broker%d", id);
		sim_add_node(&w->sim, name, &broker_node_ops, &w->brokers[id - 1], w->dirs[id - 1]);
	}
	sim_add_node(&w->sim, "front", &front_ops, &w->front, NULL);
	sim_add_node(&w->sim, "admin", &kclient_node_ops, &w->admin, NULL);
	sim_add_node(&w->sim, "producer", &kclient_node_ops, &w->prod.kc, NULL);
	sim_set_invariant(&w->sim, cw_invariants, w);
	w->sim.check_each_step = true;
	sim_run_for(&w->sim, 10);
	for (int i = 0; i < NBROKERS; i++)
		CW_TRUE(!w->brokers[i].failed, "a broker of the cluster failed to start");
	return w;
}

static void
cw_free(struct cworld *w)
{
	CW_TRUE(!w->sim.violated,
		"the producer broke one of its invariants (kproducer_check_invariants): a batch "
		"counted twice, or a cached leader that is no broker?");
	kproducer_free(&w->prod);
	kclient_free(&w->admin);
	for (int i = 0; i < NBROKERS; i++) {
		broker_free(&w->brokers[i]); /* while its disk (the simulator's) is still there */
		tu_tmpdir_remove(w->dirs[i]);
	}
	sim_free(&w->sim);
	buf_free(&w->front.out);
	config_free(&w->props);
	free(w);
}

/* Run until cond holds or ms of virtual time pass. */
#define CW_RUN_UNTIL(w, cond, ms)                                                    \
	do {                                                                         \
		int64_t until_ = sim_now(&(w)->sim) + (ms);                          \
		while (!(cond) && sim_now(&(w)->sim) < until_ && !(w)->sim.violated) \
			sim_run_for(&(w)->sim, 1);                                   \
	} while (0)

/* What cache_brokers writes: a slot per broker of the cluster (for the other regions' tests). */
static void
slots_fill(struct kclient *kc)
{
	for (int32_t id = 1; id <= NBROKERS; id++) {
		struct kc_slot *s = &kc->slots[kc->nslots++];

		memset(s, 0, sizeof(*s));
		s->node_id = id;
		snprintf(s->host, sizeof(s->host), "broker%d", id);
		s->port = 9091 + id;
		s->failed_ms = -1;
		for (int k = 0; k < KCLIENT_API_KEYS; k++)
			s->vmin[k] = s->vmax[k] = -1;
	}
}

static const struct kc_slot *
slot_of(const struct kclient *kc, int32_t id)
{
	for (int i = 0; i < kc->nslots; i++)
		if (kc->slots[i].node_id == id)
			return &kc->slots[i];
	return NULL;
}

struct admin_done {
	int calls, err;
	int16_t code;
};

static void
admin_cb(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct admin_done *r = arg;

	(void)kc;
	(void)v;
	r->calls++;
	r->err = err;
	if (err == KLAB_OK)
		r->code = (int16_t)pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0),
						  "error_code");
}

/*
 * Create topic (CreateTopics through broker1, which tells the others) and
 * add it to the front's answers, each partition led by the broker the
 * cluster placed it on.
 */
static struct front_topic *
cw_create_topic(struct cworld *w, const char *name, int32_t partitions,
		const struct kadmin_config *configs, int32_t nconfigs)
{
	struct admin_done r = { 0 };
	struct front_topic *ft = &w->front.topics[w->front.ntopics++];
	const struct topic *t;

	assert_true(partitions <= FRONT_PARTS);
	assert_int_equal(kadmin_create_topic(&w->admin, name, partitions, 1, configs, nconfigs,
					     1000, admin_cb, &r),
			 KLAB_OK);
	CW_RUN_UNTIL(w, r.calls > 0, 5000);
	CW_EQF(r.calls, 1, "CreateTopics goes through broker1, not a lab region",
	       "answers to CreateTopics %s", name);
	CW_EQF(r.err, KLAB_OK, "CreateTopics goes through broker1, not a lab region",
	       "CreateTopics %s", name);
	CW_EQF(r.code, 0, "CreateTopics goes through broker1, not a lab region",
	       "error code of CreateTopics %s", name);
	sim_run_for(&w->sim, 100); /* the other brokers hear of it */
	memset(ft, 0, sizeof(*ft));
	snprintf(ft->name, sizeof(ft->name), "%s", name);
	ft->n = partitions;
	for (int i = 0; i < NBROKERS; i++) {
		t = topics_find(w->brokers[i].store, name);
		CW_EQF(t != NULL, 1, "the cluster tells every broker of a new topic (not a region)",
		       "broker %d holds topic %s", i + 1, name);
		CW_EQF(t->partitions, partitions, "the cluster's placement (not a region)",
		       "partitions of %s on broker %d", name, i + 1);
	}
	for (int32_t p = 0; p < partitions; p++) {
		ft->index[p] = p;
		ft->leader[p] = topic_leader(t, p);
		assert_true(ft->leader[p] >= 1 && ft->leader[p] <= NBROKERS);
	}
	return ft;
}

/* Records in broker id's log of topic/partition; -1 when that broker does not hold it. */
static int64_t
log_end(struct cworld *w, int32_t id, const char *topic, int32_t partition)
{
	const struct topic *t = topics_find(w->brokers[id - 1].store, topic);

	if (t == NULL || partition >= t->partitions || t->logs[partition] == NULL)
		return -1;
	return t->logs[partition]->next_offset;
}

/* Hand the producer one record of value_len bytes for topic/partition. */
static void
cw_send(struct cworld *w, const char *topic, int32_t partition, size_t value_len)
{
	static uint8_t value[2048];
	struct record_in r = { .timestamp = -1 };
	struct kerr e = { 0 };

	assert_true(value_len <= sizeof(value));
	memset(value, 'v', sizeof(value));
	r.kv = (struct kv){ (const uint8_t *)"k", 1, value, (int32_t)value_len };
	CW_EQF(kproducer_send(&w->prod, topic, partition, &r, NULL, &e), KLAB_OK,
	       "a send with room in buffer.memory succeeds", "kproducer_send to %s-%d (%.100s)",
	       topic, partition, e.msg);
}

static void
cw_settle(struct cworld *w, int64_t ms)
{
	CW_RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, ms);
	CW_EQF(kproducer_outstanding(&w->prod), 0,
	       "every batch ends acknowledged or failed: is one retried forever, or never sent?",
	       "records still outstanding after %lld ms", (long long)ms);
}

/* Metadata from the front, once more (at most one per retry.backoff.ms). */
static void
cw_refresh(struct cworld *w)
{
	int before = w->front.metadata_requests;

	kclient_refresh_metadata(&w->prod.kc);
	CW_RUN_UNTIL(w, w->front.metadata_requests > before && !w->prod.kc.metadata_inflight, 2000);
	CW_TRUE(w->front.metadata_requests > before,
		"kclient_refresh_metadata sent no Metadata request to the bootstrap server");
	CW_TRUE(!w->prod.kc.metadata_inflight,
		"a Metadata request is still in flight 2 s after it was sent: was its answer "
		"taken in (metadata_inflight cleared)?");
}

/* Make the producer's cached leaders of topic wrong: each moves to the next broker. */
static void
cache_rotate(struct cworld *w, const char *topic)
{
	for (int i = 0; i < w->prod.kc.ntopics; i++)
		if (strcmp(w->prod.kc.topics[i].name, topic) == 0)
			for (int32_t p = 0; p < w->prod.kc.topics[i].npartitions; p++)
				w->prod.kc.topics[i].parts[p].leader =
					w->prod.kc.topics[i].parts[p].leader % NBROKERS + 1;
}

/* ---- cache_brokers ---------------------------------------------------------------- */

/*
 * One bootstrap server, three brokers in its Metadata answer (and two
 * entries to skip): a slot per broker, at the address the answer gives;
 * a broker that moves keeps its slot and gets the new address.
 */
static void
client_learns_brokers(void)
{
	struct cworld *w = cw_new();
	struct kclient *kc = &w->prod.kc;
	const struct kc_slot *s;

	w->front.brokers[3] = (struct front_broker){ -1, "nobody", 9999 };
	w->front.brokers[4] = (struct front_broker){ 7, "", 9999 };
	w->front.nbrokers = 5;
	cw_refresh(w);
	CW_TRUE(kc->metadata_known, "after a Metadata answer, metadata_known is still false");
	CW_EQ(kc->nslots, 1 + NBROKERS, "slots after the first Metadata answer",
	      "one for the bootstrap server and one per broker with an id >= 0 and a host");
	for (int32_t id = 1; id <= NBROKERS; id++) {
		char host[32];

		s = slot_of(kc, id);
		CW_EQF(s != NULL, 1, "a broker in the answer gets a slot", "a slot for broker %d",
		       id);
		snprintf(host, sizeof(host), "broker%d", id);
		CW_EQF(strcmp(s->host, host), 0, "the host as the answer gives it",
		       "host of broker %d's slot differs from %s (strcmp)", id, host);
		CW_EQF(s->port, 9091 + id, "the port as the answer gives it",
		       "port of broker %d's slot", id);
	}
	CW_TRUE(slot_of(kc, 7) == NULL,
		"broker 7 has an empty host in the answer and must get no slot");
	/* broker 2 moves; the same three again, in another order */
	w->front.nbrokers = NBROKERS;
	w->front.brokers[0] = (struct front_broker){ 3, "broker3", 9094 };
	w->front.brokers[1] = (struct front_broker){ 2, "broker2.example", 19093 };
	w->front.brokers[2] = (struct front_broker){ 1, "broker1", 9092 };
	cw_refresh(w);
	CW_EQ(kc->nslots, 1 + NBROKERS, "slots after the same brokers came back in another order",
	      "a known broker keeps its slot (found by node id): no new slot");
	CW_TRUE((s = slot_of(kc, 2)) != NULL, "broker 2 lost its slot when it moved");
	CW_TRUE(strcmp(s->host, "broker2.example") == 0,
		"broker 2 moved to broker2.example, and its slot still has the old host: "
		"update a known slot's address");
	CW_EQ(s->port, 19093, "port of broker 2's slot after it moved",
	      "update a known slot's address");
	CW_TRUE((s = slot_of(kc, 3)) != NULL, "broker 3 lost its slot");
	CW_TRUE(strcmp(s->host, "broker3") == 0, "broker 3's host changed, and should not have");
	CW_EQ(s->port, 9094, "port of broker 3's slot", "it did not move");
	CW_TRUE(strcmp(kc->slots[0].host, "front") == 0,
		"slot 0 is no longer the bootstrap server: it stays, whatever the answer");
	cw_free(w);
}

static void
test_lab3_client_learns_brokers(void **state)
{
	(void)state;
	cw_sweep(client_learns_brokers);
}

struct versions_done {
	int calls, err;
	int32_t node;
};

static void
versions_cb(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct versions_done *r = arg;

	(void)v;
	(void)resp;
	r->calls++;
	r->err = err;
	r->node = kc->answered_slot >= 0 ? kc->slots[kc->answered_slot].node_id : -100;
}

/*
 * After one Metadata answer from the bootstrap server, a request for each
 * broker id reaches that broker: its own connection, at the host and port
 * the answer gave (a wrong one is refused).
 */
static void
client_reaches_brokers(void)
{
	struct cworld *w = cw_new();
	struct kclient *kc = &w->prod.kc;
	int ready = 0;

	w->front.brokers[0] = (struct front_broker){ 2, "broker2", 9093 };
	w->front.brokers[1] = (struct front_broker){ 3, "broker3", 9094 };
	w->front.brokers[2] = (struct front_broker){ 1, "broker1", 9092 };
	cw_refresh(w);
	for (int32_t id = NBROKERS; id >= 1; id--) {
		struct versions_done r = { 0 };
		struct pvalue *body = pvalue_new(proto_api(18)->request);

		assert_non_null(body);
		CW_EQF(kclient_request(kc, id, 18, 2, body, false, versions_cb, &r), KLAB_OK,
		       "a broker of the answer must be known by its id",
		       "kclient_request to broker %d", id);
		CW_RUN_UNTIL(w, r.calls > 0, 3000);
		CW_EQF(r.calls, 1, "the request goes over a connection to the slot's host and port",
		       "answers to ApiVersions sent to broker %d within 3 s", id);
		CW_EQF(r.err, KLAB_OK,
		       "the request goes over a connection to the slot's host and port",
		       "error of ApiVersions sent to broker %d", id);
		CW_EQF(r.node, id, "each broker id has its own slot and connection",
		       "the broker that answered a request for broker %d", id);
	}
	for (int i = 0; i < kc->nslots; i++)
		ready += kc->slots[i].node_id >= 1 && kc->slots[i].state == KC_READY;
	CW_EQ(ready, NBROKERS, "broker slots connected and ready",
	      "one connection per broker, at the address its slot holds");
	CW_EQ(kc->connects_failed, 0, "failed connects",
	      "connect to the host and port the Metadata answer gave for that broker");
	cw_free(w);
}

static void
test_lab3_client_reaches_brokers(void **state)
{
	(void)state;
	cw_sweep(client_reaches_brokers);
}

/* ---- cache_leaders ---------------------------------------------------------------- */

static struct front_topic *
front_topic(struct front *f, const char *name, int16_t error, int32_t n)
{
	struct front_topic *ft = &f->topics[f->ntopics++];

	memset(ft, 0, sizeof(*ft));
	snprintf(ft->name, sizeof(ft->name), "%s", name);
	ft->error = error;
	ft->n = n;
	for (int32_t p = 0; p < n; p++)
		ft->index[p] = p;
	return ft;
}

static void
check_leaders(struct kclient *kc, const struct front_topic *ft)
{
	const struct kc_topic *t = kclient_topic(kc, ft->name);

	CW_TRUE(t != NULL, "a wanted topic is not in the client's topic cache");
	CW_EQF(t->known, 1, "a topic the answer gives without error is known",
	       "known flag of topic %s", ft->name);
	CW_EQF(t->error, 0, "the topic's error code from the answer", "error of topic %s",
	       ft->name);
	CW_EQF(t->npartitions, ft->n, "as many partitions as the answer lists",
	       "partitions of topic %s", ft->name);
	for (int32_t p = 0; p < ft->n; p++) {
		CW_EQF(kclient_leader(kc, ft->name, p), ft->leader[p],
		       "store each leader at its partition_index, not at its position in the "
		       "answer",
		       "leader of %s-%d", ft->name, p);
		CW_EQF(t->parts[p].error, ft->error_of[p],
		       "store each partition's error code at its partition_index", "error of %s-%d",
		       ft->name, p);
	}
	CW_EQF(kclient_leader(kc, ft->name, ft->n), -1, "no such partition: no leader",
	       "leader of %s-%d (past the last partition)", ft->name, ft->n);
}

static void
check_unknown(struct kclient *kc, const char *name, int16_t error)
{
	const struct kc_topic *t = kclient_topic(kc, name);

	CW_TRUE(t != NULL, "a wanted topic is not in the client's topic cache");
	CW_EQF(t->known, 0, "a topic answered with an error is not known", "known flag of topic %s",
	       name);
	CW_EQF(t->error, error, "keep the topic's error code from the answer", "error of topic %s",
	       name);
	CW_EQF(t->npartitions, 0, "a topic with an error has no partitions: forget the old ones",
	       "partitions of topic %s", name);
	CW_EQF(kclient_leader(kc, name, 0), -1, "a topic with an error has no leaders",
	       "leader of %s-0", name);
}

/*
 * A Metadata answer fills the topic cache: each partition's leader by
 * partition index (the answer lists them out of order), a partition
 * without a leader (LEADER_NOT_AVAILABLE, leader -1), a topic that does
 * not exist (UNKNOWN_TOPIC_OR_PARTITION, no partitions).  The next answer
 * replaces it all: leaders move, a topic grows, another is deleted.
 */
static void
client_caches_leaders(void)
{
	static const int32_t order[] = { 3, 0, 5, 1, 4, 2 };
	struct cworld *w = cw_new();
	struct kclient *kc = &w->prod.kc;
	struct front_topic *spread, *busy;

	spread = front_topic(&w->front, "spread", 0, 6);
	for (int32_t j = 0; j < 6; j++) {
		spread->index[j] = order[j];
		spread->leader[j] = j % NBROKERS + 1;
	}
	busy = front_topic(&w->front, "busy", 0, 3);
	busy->leader[0] = 2;
	busy->leader[1] = -1;
	busy->error_of[1] = 5; /* LEADER_NOT_AVAILABLE */
	busy->leader[2] = 3;
	front_topic(&w->front, "missing", 3, 0); /* UNKNOWN_TOPIC_OR_PARTITION */
	CW_EQ(kclient_want_topic(kc, "spread"), KLAB_OK, "kclient_want_topic(spread)",
	      "not a region");
	CW_EQ(kclient_want_topic(kc, "busy"), KLAB_OK, "kclient_want_topic(busy)", "not a region");
	CW_EQ(kclient_want_topic(kc, "missing"), KLAB_OK, "kclient_want_topic(missing)",
	      "not a region");
	cw_refresh(w);
	check_leaders(kc, spread);
	check_leaders(kc, busy);
	check_unknown(kc, "missing", 3);

	/* leaders move, spread grows to 8 partitions, busy is gone */
	spread->n = 8;
	for (int32_t p = 0; p < 8; p++) {
		spread->index[p] = 7 - p;
		spread->leader[p] = (p + 1) % NBROKERS + 1;
	}
	busy->error = 3;
	busy->n = 0;
	cw_refresh(w);
	check_leaders(kc, spread);
	check_unknown(kc, "busy", 3);
	cw_free(w);
}

static void
test_lab3_client_caches_leaders(void **state)
{
	(void)state;
	cw_sweep(client_caches_leaders);
}

/*
 * Records for each partition of a topic spread over three brokers reach
 * its leader's log, and no other broker is asked: no retry, no error.
 */
static void
client_produces_to_leaders(void)
{
	struct cworld *w = cw_new();
	const struct front_topic *ft;
	int per_broker[NBROKERS + 1] = { 0 };

	slots_fill(&w->prod.kc);
	ft = cw_create_topic(w, "spread", 6, NULL, 0);
	for (int32_t p = 0; p < 6; p++)
		per_broker[ft->leader[p]]++;
	for (int32_t id = 1; id <= NBROKERS; id++)
		CW_EQF(per_broker[id], 2,
		       "the cluster places partitions round robin (not a region)",
		       "partitions of spread led by broker %d", id);
	for (int i = 0; i < 5; i++)
		for (int32_t p = 0; p < 6; p++)
			cw_send(w, "spread", p, 10);
	cw_settle(w, 10000);
	CW_EQ(w->ok, 30, "records acknowledged",
	      "each batch goes to its partition's leader, as the cached Metadata answer says");
	CW_EQ(w->errors, 0, "records failed", "send each batch to its partition's leader");
	CW_EQ(w->prod.retried_batches, 0, "batches retried",
	      "a batch sent to the right leader needs no retry: is the leader cached by "
	      "partition_index?");
	for (int32_t p = 0; p < 6; p++)
		for (int32_t id = 1; id <= NBROKERS; id++)
			CW_EQF(log_end(w, id, "spread", p), id == ft->leader[p] ? 5 : -1,
			       "records reach the leader's log only (-1: the broker does not hold "
			       "the partition)",
			       "log end of spread-%d on broker %d (leader %d)", p, id,
			       ft->leader[p]);
	cw_free(w);
}

static void
test_lab3_client_produces_to_leaders(void **state)
{
	(void)state;
	cw_sweep(client_produces_to_leaders);
}

/* ---- retry_not_leader ------------------------------------------------------------- */

/* A producer that has sent one batch to each of "spread"'s 6 partitions, all acknowledged. */
static struct cworld *
cw_spread(const struct front_topic **ft)
{
	struct cworld *w = cw_new();

	slots_fill(&w->prod.kc);
	*ft = cw_create_topic(w, "spread", 6, NULL, 0);
	for (int32_t p = 0; p < 6; p++)
		cw_send(w, "spread", p, 10);
	cw_settle(w, 10000);
	CHECK_EQ(w->ok, 6, "batches acknowledged before the leaders moved", "a working producer");
	return w;
}

/*
 * The producer's cache is wrong on purpose (every leader moved to the next
 * broker): each batch is answered NOT_LEADER_OR_FOLLOWER, the producer
 * asks for Metadata and sends it again after retry.backoff.ms, to the
 * right broker.  Then the network eats a request: after request.timeout.ms
 * the batch goes again and lands.
 */
static void
client_retry_not_leader(void)
{
	const struct front_topic *ft;
	struct cworld *w = cw_spread(&ft);
	int metadata;
	int64_t t0, retried;

	w->prod.kc.cfg.retry_backoff_ms = 300;
	cache_rotate(w, "spread");
	metadata = w->front.metadata_requests;
	t0 = sim_now(&w->sim);
	for (int32_t p = 0; p < 6; p++)
		cw_send(w, "spread", p, 10);
	cw_settle(w, 10000);
	CHECK_EQ(w->ok, 12, "batches acknowledged after the leaders moved",
		 "a batch answered NOT_LEADER_OR_FOLLOWER is retried until it lands");
	CHECK_EQ(w->errors, 0, "batches failed after the leaders moved",
		 "NOT_LEADER_OR_FOLLOWER is retriable: the batch must not fail");
	CHECK_TRUE(w->front.metadata_requests > metadata,
		   "no Metadata request after NOT_LEADER_OR_FOLLOWER: a retry must refresh "
		   "metadata to learn the new leader (kclient_refresh_metadata)");
	CHECK_EQ(w->prod.retried_batches, 6, "retries of 6 batches whose leaders all moved",
		 "one retry each, to the new leader: did the retry refresh metadata first?");
	CHECK_TRUE(w->last_ok_ms - t0 >= 300,
		   "a retried batch landed before retry.backoff.ms (300 ms) had passed");
	for (int32_t p = 0; p < 6; p++)
		CW_EQF(log_end(w, ft->leader[p], "spread", p), 2,
		       "the retried batch lands on the new leader",
		       "log end of spread-%d on its leader, broker %d", p, ft->leader[p]);

	/* a request lost in a partitioned network: a timeout, then a retry */
	retried = w->prod.retried_batches;
	CW_EQ(sim_partition_str(&w->sim, "broker1,broker2,broker3,front,admin|producer", NULL),
	      KLAB_OK, "sim_partition_str", "not a region");
	cw_send(w, "spread", 0, 10);
	sim_run_for(&w->sim, 1500);
	CW_EQ(w->ok, 12, "records acknowledged while the producer is cut off",
	      "nothing can be acknowledged across a partitioned network");
	sim_heal(&w->sim);
	cw_settle(w, 15000);
	CW_EQ(w->ok, 13, "records acknowledged after the network healed",
	      "a request that timed out (request.timeout.ms) is retried");
	CW_EQ(w->errors, 0, "records failed after a lost request",
	      "a timeout is retriable: the batch must not fail");
	CW_TRUE(w->prod.retried_batches > retried,
		"a request lost in the network was not retried: a timeout is retriable");
	CW_TRUE(log_end(w, ft->leader[0], "spread", 0) >= 3,
		"the batch sent during the partition never reached spread-0's leader");
	cw_free(w);
}

static void
test_lab3_client_retry_not_leader(void **state)
{
	(void)state;
	cw_sweep(client_retry_not_leader);
}

/*
 * The retry itself must ask for Metadata: for 400 ms the front's answers
 * name the old leaders, so the refreshes the sends asked for learn
 * nothing; only a refresh asked for by a retry after that finds the new
 * leaders.  A retry that does not refresh goes to the old leader forever.
 */
static void
client_retry_refreshes_metadata(void)
{
	const struct front_topic *ft;
	struct cworld *w = cw_spread(&ft);

	w->prod.kc.cfg.retry_backoff_ms = 300;
	w->front.stale_until_ms = sim_now(&w->sim) + 400;
	cache_rotate(w, "spread");
	for (int32_t p = 0; p < 6; p++)
		cw_send(w, "spread", p, 10);
	cw_settle(w, 10000);
	CHECK_EQ(w->ok, 12, "batches acknowledged once the Metadata answers are fresh again",
		 "every retry must refresh metadata (kclient_refresh_metadata) to learn the "
		 "new leader");
	CHECK_EQ(w->errors, 0, "batches failed", "NOT_LEADER_OR_FOLLOWER is retriable");
	for (int32_t p = 0; p < 6; p++)
		CHECK_EQF(log_end(w, ft->leader[p], "spread", p), 2,
			  "the batch lands on the leader",
			  "log end of spread-%d on its leader, broker %d", p, ft->leader[p]);
	cw_free(w);
}

static void
test_lab3_client_retry_refreshes_metadata(void **state)
{
	(void)state;
	cw_sweep(client_retry_refreshes_metadata);
}

/*
 * An error a retry cannot cure fails the batch at once, with the broker's
 * error: a batch larger than the topic's max.message.bytes gets
 * MESSAGE_TOO_LARGE and is not sent again, while batches answered
 * NOT_LEADER_OR_FOLLOWER in the same moment are retried and land.
 */
static void
client_final_errors_not_retried(void)
{
	static const struct kadmin_config small_cfg[] = { { "max.message.bytes", "300" } };
	struct cworld *w = cw_new();
	const struct front_topic *small, *spread;
	int64_t t0, retried;

	slots_fill(&w->prod.kc);
	small = cw_create_topic(w, "small", 1, small_cfg, 1);
	spread = cw_create_topic(w, "spread", 3, NULL, 0);
	cw_send(w, "small", 0, 10);
	for (int32_t p = 0; p < 3; p++)
		cw_send(w, "spread", p, 10);
	cw_settle(w, 10000);
	CW_EQ(w->ok, 4, "records acknowledged before the leaders moved", "a working producer");

	cache_rotate(w, "spread");
	retried = w->prod.retried_batches;
	t0 = sim_now(&w->sim);
	cw_send(w, "small", 0, 1000);
	for (int32_t p = 0; p < 3; p++)
		cw_send(w, "spread", p, 10);
	cw_settle(w, 30000);
	CW_EQ(w->errors, 1, "records failed", "the batch too large for topic small fails, once");
	CW_EQ(w->last_kerr, 10, "Kafka error of the failed batch",
	      "report the broker's error, MESSAGE_TOO_LARGE (10)");
	CW_TRUE(w->last_error_ms - t0 < w->prod.kc.cfg.retry_backoff_ms,
		"MESSAGE_TOO_LARGE failed the batch only after retry.backoff.ms: a final error "
		"fails it at once, with no retry");
	CW_EQ(w->ok, 7, "records acknowledged",
	      "the NOT_LEADER_OR_FOLLOWER batches are retried and land");
	CW_EQ(w->prod.retried_batches - retried, 3, "batches retried",
	      "the three spread batches once each, and never the MESSAGE_TOO_LARGE one");
	CW_EQ(log_end(w, small->leader[0], "small", 0), 1, "log end of small-0",
	      "the batch too large was not written");
	for (int32_t p = 0; p < 3; p++)
		CW_EQF(log_end(w, spread->leader[p], "spread", p), 2,
		       "the retried batch lands on the new leader",
		       "log end of spread-%d on its leader, broker %d", p, spread->leader[p]);
	cw_free(w);
}

static void
test_lab3_client_final_errors_not_retried(void **state)
{
	(void)state;
	cw_sweep(client_final_errors_not_retried);
}

/*
 * A leader that never gets better (the front keeps naming a broker that
 * does not hold the partition): with retries=3 the batch fails after four
 * attempts, a backoff apart; with unbounded retries it fails once
 * delivery.timeout.ms has passed.  Both report NOT_LEADER_OR_FOLLOWER.
 */
static void
client_retries_bounded(void)
{
	struct cworld *w = cw_new();
	struct front_topic *ft;
	int32_t leader;
	int64_t t0, requests;

	slots_fill(&w->prod.kc);
	ft = cw_create_topic(w, "stuck", 1, NULL, 0);
	leader = ft->leader[0];
	ft->leader[0] = leader % NBROKERS + 1; /* wrong, and stays wrong */
	w->prod.kc.cfg.retry_backoff_ms = 200;
	w->prod.cfg.retries = 3;
	requests = w->prod.produce_requests;
	t0 = sim_now(&w->sim);
	cw_send(w, "stuck", 0, 10);
	cw_settle(w, 10000);
	CW_EQ(w->ok, 0, "records acknowledged", "the leader is wrong and stays wrong");
	CW_EQ(w->errors, 1, "records failed with retries=3",
	      "a batch fails once its retries are spent");
	CW_EQ(w->last_kerr, 6, "Kafka error of the failed batch",
	      "report the last error, NOT_LEADER_OR_FOLLOWER (6)");
	CW_EQ(w->prod.produce_requests - requests, 4, "Produce requests with retries=3",
	      "the first attempt and three retries: is the retry count off by one?");
	CW_EQ(w->prod.retried_batches, 3, "retries with retries=3", "no more than retries");
	CW_EQF(w->last_error_ms - t0 >= 600 && w->last_error_ms - t0 < 1000, 1,
	       "retry.backoff.ms (200) between attempts: four attempts take 600 ms to < 1 s",
	       "failed within [600, 1000) ms of the send (1: yes); it failed after %lld ms",
	       (long long)(w->last_error_ms - t0));

	w->prod.cfg.retries = INT32_MAX;
	w->prod.cfg.delivery_timeout_ms = 1500;
	t0 = sim_now(&w->sim);
	cw_send(w, "stuck", 0, 10);
	cw_settle(w, 10000);
	CW_EQ(w->errors, 2, "records failed with unbounded retries",
	      "a batch fails once delivery.timeout.ms has passed");
	CW_EQ(w->last_kerr, 6, "Kafka error of the batch past delivery.timeout.ms",
	      "report the last error, NOT_LEADER_OR_FOLLOWER (6)");
	CW_EQF(w->last_error_ms - t0 >= 1500 && w->last_error_ms - t0 < 2000, 1,
	       "delivery.timeout.ms (1500) bounds the retries",
	       "failed within [1500, 2000) ms of the send (1: yes); it failed after %lld ms",
	       (long long)(w->last_error_ms - t0));
	CW_TRUE(w->prod.retried_batches >= 3 + 5,
		"fewer than 5 retries in 1.5 s with retry.backoff.ms 200: keep retrying until "
		"delivery.timeout.ms");
	CW_EQ(log_end(w, leader, "stuck", 0), 0, "log end of stuck-0 on its real leader",
	      "the test's front names the wrong leader throughout");
	cw_free(w);
}

static void
test_lab3_client_retries_bounded(void **state)
{
	(void)state;
	cw_sweep(client_retries_bounded);
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
		cmocka_unit_test(test_lab3_client_learns_brokers),
		cmocka_unit_test(test_lab3_client_reaches_brokers),
		cmocka_unit_test(test_lab3_client_caches_leaders),
		cmocka_unit_test(test_lab3_client_produces_to_leaders),
		cmocka_unit_test(test_lab3_client_retry_not_leader),
		cmocka_unit_test(test_lab3_client_retry_refreshes_metadata),
		cmocka_unit_test(test_lab3_client_final_errors_not_retried),
		cmocka_unit_test(test_lab3_client_retries_bounded),
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
