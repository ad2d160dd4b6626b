/*
 * test_client.c - klab's producer, consumer and admin client nodes against
 * simulated brokers (one, or a static cluster of three; chapter 3 §4).
 *
 *   a produce-then-consume round trip with keys and headers over three
 *   partitions, offsets as the delivery reports said, also compressed;
 *   the first bootstrap server does not exist: the clients move on;
 *   a request to a cut-off broker times out after request.timeout.ms, and
 *   a Produce that timed out is retried once the network heals;
 *   seek by timestamp, to an offset, to the end, and an out-of-range
 *   offset reset by auto.offset.reset;
 *   admin CreateTopics / Metadata / DeleteTopics, and a topic that does
 *   not exist (auto-creation off) fails after max.block.ms;
 *   the client asked for flexible versions (Metadata v12, ListOffsets v8)
 *   speaks them: header v2 out, header v1 in;
 *   the broker stops and restarts: clients reconnect, retried batches land
 *   in send order; a Produce answered UNKNOWN_TOPIC_OR_PARTITION is
 *   retried after a metadata refresh; slow, jittery links;
 *   a cluster of three brokers: clients find all of them from one
 *   bootstrap server and send to each partition's leader; a stale leader
 *   answers NOT_LEADER_OR_FOLLOWER and the producer refreshes and retries;
 *   acks=0 reports without offsets; a broker gone for good fails a batch
 *   after delivery.timeout.ms;
 *   a proxy corrupts a fifth of the broker's answers: no crash, the
 *   invariants hold, and every record handed over is one produced;
 *   bad bootstrap lists are refused.
 *
 * Every step checks the clients' invariants.  A failing test prints its
 * seed; KLAB_SEED=N replays it.
 */
#include "testutil.h"

#include "broker/broker.h"
#include "client/admin.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "net/sim.h"
#include "client_config.h"

#define PORT 9092
#define BROKER_ID 1
#define NREC 30

static uint64_t seed;

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond))                                                                \
			fail_msg("%s (reproduce with KLAB_SEED=%" PRIu64 ")", #cond, seed); \
	} while (0)

struct delivery {
	int n, errors;
	int last_err;
	int32_t partition[NREC * 4];
	int64_t offset[NREC * 4];
};

struct got {
	int n;
	int32_t partition[NREC * 4];
	int64_t offset[NREC * 4], timestamp[NREC * 4];
	char key[NREC * 4][16], value[NREC * 4][32], header[NREC * 4][32];
	int errors;
};

#define BROKERS_MAX 3

struct world {
	struct sim sim;
	struct broker broker;		     /* id 1, "broker" */
	struct broker more[BROKERS_MAX - 1]; /* ids 2.., "broker2".. */
	int nbrokers;
	char more_dirs[BROKERS_MAX - 1][64];
	struct config props;
	struct kproducer prod;
	struct kconsumer cons;
	struct delivery d;
	struct got g;
	char dir[64];
	int bi, pi, ci;
};

static int
invariants(void *arg, struct sim *s, struct kerr *e)
{
	struct world *w = arg;
	const char *why;

	(void)s;
	if ((why = kproducer_check_invariants(&w->prod)) != NULL ||
	    (why = kconsumer_check_invariants(&w->cons)) != NULL)
		return kerr_set(e, KLAB_ECORRUPT, "client invariant %s", why);
	return KLAB_OK;
}

static void
on_delivery(void *arg, void *opaque, const char *topic, int32_t partition, int64_t offset, int err,
	    int16_t kafka_error)
{
	struct delivery *d = arg;
	intptr_t i = (intptr_t)opaque;

	(void)topic;
	(void)kafka_error;
	if (err != KLAB_OK) {
		d->errors++;
		d->last_err = err;
		return;
	}
	assert_true(i >= 0 && i < NREC * 4);
	d->partition[i] = partition;
	d->offset[i] = offset;
	d->n++;
}

static void
on_record(void *arg, const char *topic, int32_t partition, const struct record *r)
{
	struct got *g = arg;
	struct record rr = *r;
	struct kv h;

	(void)topic;
	if (g->n == NREC * 4)
		return;
	g->partition[g->n] = partition;
	g->offset[g->n] = r->offset;
	g->timestamp[g->n] = r->timestamp;
	snprintf(g->key[g->n], sizeof(g->key[0]), "%.*s", r->kv.key_len < 0 ? 0 : r->kv.key_len,
		 (const char *)r->kv.key);
	snprintf(g->value[g->n], sizeof(g->value[0]), "%.*s", r->kv.value_len,
		 (const char *)r->kv.value);
	g->header[g->n][0] = '\0';
	if (record_header_next(&rr, &h) == 1)
		snprintf(g->header[g->n], sizeof(g->header[0]), "%.*s=%.*s", h.key_len,
			 (const char *)h.key, h.value_len, (const char *)h.value);
	g->n++;
}

static void
on_error(void *arg, int32_t partition, int err, const char *msg)
{
	struct got *g = arg;

	(void)partition;
	(void)err;
	(void)msg;
	g->errors++;
}

static void
quiet(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/* Broker id (1..n) of an n-broker static cluster, named "broker" or "brokerN". */
static void
broker_setup(struct world *w, struct broker *b, int32_t id, int n, bool auto_create)
{
	struct broker_config bc;

	memset(&bc, 0, sizeof(bc));
	bc.broker_id = id;
	snprintf(bc.listen_host, sizeof(bc.listen_host), id == 1 ? "broker" : "broker%d", id);
	bc.listen_port = PORT;
	snprintf(bc.cluster_id, sizeof(bc.cluster_id), "klab-test-cluster");
	bc.auto_create_topics = auto_create;
	bc.props = &w->props;
	bc.log = quiet;
	for (int i = 0; n > 1 && i < n; i++) {
		bc.members[i].id = i + 1;
		snprintf(bc.members[i].host, sizeof(bc.members[i].host),
			 i == 0 ? "broker" : "broker%d", i + 1);
		bc.members[i].port = PORT;
	}
	bc.nmembers = n > 1 ? n : 0;
	broker_init(b, &bc);
}

/* n brokers and two clients; bootstrap is their bootstrap.servers. */
static struct world *
world_new_n(int n, const char *bootstrap, bool auto_create, enum compression comp)
{
	struct world *w = calloc(1, sizeof(*w));
	struct kproducer_config pc;
	struct kconsumer_config cc;
	struct kerr e = { 0 };

	assert_non_null(w);
	tu_tmpdir_make(w->dir, sizeof(w->dir));
	config_init(&w->props);
	assert_int_equal(config_set(&w->props, "num.partitions", "3"), KLAB_OK);
	w->nbrokers = n;
	broker_setup(w, &w->broker, 1, n, auto_create);
	for (int i = 1; i < n; i++) {
		tu_tmpdir_make(w->more_dirs[i - 1], sizeof(w->more_dirs[0]));
		broker_setup(w, &w->more[i - 1], i + 1, n, auto_create);
	}

	tc_producer_config(&pc, bootstrap, seed);
	pc.acc.compression = comp;
	pc.on_delivery = on_delivery;
	pc.arg = &w->d;
	CHECK(kproducer_init(&w->prod, &pc, &e) == KLAB_OK);

	tc_consumer_config(&cc, bootstrap);
	cc.on_record = on_record;
	cc.on_error = on_error;
	cc.arg = &w->g;
	CHECK(kconsumer_init(&w->cons, &cc, &e) == KLAB_OK);

	sim_init(&w->sim, seed);
	w->bi = sim_add_node(&w->sim, "broker", &broker_node_ops, &w->broker, w->dir);
	for (int i = 1; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "broker%d", i + 1);
		sim_add_node(&w->sim, name, &broker_node_ops, &w->more[i - 1], w->more_dirs[i - 1]);
	}
	w->pi = sim_add_node(&w->sim, "producer", &kclient_node_ops, &w->prod.kc, NULL);
	w->ci = sim_add_node(&w->sim, "consumer", &kclient_node_ops, &w->cons.kc, NULL);
	sim_set_invariant(&w->sim, invariants, w);
	w->sim.check_each_step = true;
	sim_run_for(&w->sim, 10);
	CHECK(!w->broker.failed);
	return w;
}

static struct world *
world_new(const char *bootstrap, bool auto_create, enum compression comp)
{
	return world_new_n(1, bootstrap, auto_create, comp);
}

static void
world_free(struct world *w)
{
	CHECK(!w->sim.violated);
	kproducer_free(&w->prod);
	kconsumer_free(&w->cons);
	broker_free(&w->broker); /* while its disk (the simulator's) is still there */
	for (int i = 1; i < w->nbrokers; i++) {
		broker_free(&w->more[i - 1]);
		tu_tmpdir_remove(w->more_dirs[i - 1]);
	}
	sim_free(&w->sim);
	config_free(&w->props);
	tu_tmpdir_remove(w->dir);
	free(w);
}

/* Run until cond holds or ms of virtual time pass. */
#define RUN_UNTIL(w, cond, ms)                                                       \
	do {                                                                         \
		int64_t until_ = sim_now(&(w)->sim) + (ms);                          \
		while (!(cond) && sim_now(&(w)->sim) < until_ && !(w)->sim.violated) \
			sim_run_for(&(w)->sim, 10);                                  \
	} while (0)

/* ---- admin ------------------------------------------------------------------------ */

struct admin_result {
	int calls, err;
	int16_t code;
	int32_t partitions; /* Metadata: of the first topic */
};

static void
on_admin(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct admin_result *r = arg;
	const struct pvalue *arr;

	(void)kc;
	(void)v;
	r->calls++;
	r->err = err;
	if (err != KLAB_OK)
		return;
	if ((arr = pvalue_get(resp, "responses")) != NULL && pvalue_count(arr) > 0) /* Delete */
		r->code = (int16_t)pvalue_get_int(pvalue_at(arr, 0), "error_code");
	else if ((arr = pvalue_get(resp, "brokers")) != NULL) { /* Metadata */
		arr = pvalue_array(resp, "topics");
		if (pvalue_count(arr) > 0) {
			r->code = (int16_t)pvalue_get_int(pvalue_at(arr, 0), "error_code");
			r->partitions = pvalue_count(pvalue_array(pvalue_at(arr, 0), "partitions"));
		}
	} else if ((arr = pvalue_get(resp, "topics")) != NULL && pvalue_count(arr) > 0)
		r->code = (int16_t)pvalue_get_int(pvalue_at(arr, 0), "error_code");
}

static void
create_topic(struct world *w, const char *name, int32_t partitions)
{
	struct admin_result r = { 0 };

	CHECK(kadmin_create_topic(&w->prod.kc, name, partitions, 1, NULL, 0, 1000, on_admin, &r) ==
	      KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.calls == 1);
	CHECK(r.err == KLAB_OK);
	CHECK(r.code == 0);
}

/* ---- producing -------------------------------------------------------------------- */

static void
produce_n(struct world *w, const char *topic, int from, int n, int32_t partition, int64_t ts0)
{
	for (int i = from; i < from + n; i++) {
		char key[16], value[32], hv[16];
		struct kv h = { (const uint8_t *)"h", 1, (const uint8_t *)hv, 0 };
		struct record_in r = { 0 };
		struct kerr e = { 0 };

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(value, sizeof(value), "value-%d", i);
		snprintf(hv, sizeof(hv), "v%d", i);
		h.value_len = (int32_t)strlen(hv);
		r.kv = (struct kv){ (const uint8_t *)key, (int32_t)strlen(key),
				    (const uint8_t *)value, (int32_t)strlen(value) };
		r.timestamp = ts0 >= 0 ? ts0 + 1000 * i : -1;
		r.headers = &h;
		r.header_count = 1;
		CHECK(kproducer_send(&w->prod, topic, partition, &r, (void *)(intptr_t)i, &e) ==
		      KLAB_OK);
	}
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, 30000);
	CHECK(kproducer_outstanding(&w->prod) == 0);
}

/* Every record i came back once, as produced, at the offset its report named. */
static void
check_round_trip(struct world *w, int n)
{
	CHECK(w->g.n == n);
	for (int k = 0; k < w->g.n; k++) {
		int i = atoi(w->g.key[k] + 1);
		char want[32];

		CHECK(i >= 0 && i < n);
		snprintf(want, sizeof(want), "value-%d", i);
		CHECK(strcmp(w->g.value[k], want) == 0);
		snprintf(want, sizeof(want), "h=v%d", i);
		CHECK(strcmp(w->g.header[k], want) == 0);
		CHECK(w->g.partition[k] == w->d.partition[i]);
		CHECK(w->g.offset[k] == w->d.offset[i]);
	}
}

static void
round_trip(enum compression comp)
{
	struct world *w = world_new("broker:9092", false, comp);
	int per[3] = { 0 };

	create_topic(w, "orders", 3);
	produce_n(w, "orders", 0, NREC, PARTITION_ANY, -1);
	CHECK(w->d.n == NREC && w->d.errors == 0);
	/* keyed records spread over partitions; each partition's offsets are 0.. */
	for (int i = 0; i < NREC; i++) {
		CHECK(w->d.partition[i] >= 0 && w->d.partition[i] < 3);
		per[w->d.partition[i]]++;
	}
	CHECK(per[0] > 0 && per[1] > 0 && per[2] > 0);
	for (int i = 0; i < NREC; i++)
		CHECK(w->d.offset[i] >= 0 && w->d.offset[i] < per[w->d.partition[i]]);
	CHECK(kconsumer_assign(&w->cons, "orders", NULL, -1) == KLAB_OK);
	CHECK(kconsumer_seek(&w->cons, -1, KCONSUMER_EARLIEST) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= NREC, 10000);
	check_round_trip(w, NREC);
	CHECK(w->g.errors == 0);
	/* more records arrive through the running fetch loop */
	produce_n(w, "orders", NREC, 5, PARTITION_ANY, -1);
	RUN_UNTIL(w, w->g.n >= NREC + 5, 10000);
	check_round_trip(w, NREC + 5);
	world_free(w);
}

static void
test_ch3_client_round_trip_keys_headers(void **state)
{
	(void)state;
	round_trip(COMPRESSION_NONE);
}

static void
test_ch3_client_round_trip_compressed(void **state)
{
	(void)state;
	round_trip(COMPRESSION_GZIP);
	round_trip(COMPRESSION_ZSTD);
}

static void
test_ch3_client_bootstrap_skips_dead_server(void **state)
{
	struct world *w = world_new("ghost:9092,broker:9092", true, COMPRESSION_NONE);

	(void)state;
	/* auto-created by the producer's Metadata (num.partitions=3) */
	produce_n(w, "auto", 0, 10, PARTITION_ANY, -1);
	CHECK(w->d.n == 10 && w->d.errors == 0);
	CHECK(w->prod.kc.connects_failed >= 1);
	CHECK(kclient_topic(&w->prod.kc, "auto")->npartitions == 3);
	CHECK(kconsumer_assign(&w->cons, "auto", NULL, -1) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 10, 10000);
	check_round_trip(w, 10);
	CHECK(w->cons.kc.connects_failed >= 1);
	world_free(w);
}

static void
test_ch3_client_request_timeout_and_retry(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	struct admin_result r = { 0 };
	int64_t t0;

	(void)state;
	create_topic(w, "t", 1);
	produce_n(w, "t", 0, 1, 0, -1); /* metadata and connection are up */
	CHECK(w->d.n == 1);
	CHECK(sim_partition_str(&w->sim, "broker|producer,consumer", NULL) == KLAB_OK);
	/* a Metadata request into the void fails after request.timeout.ms */
	t0 = sim_now(&w->sim);
	CHECK(kadmin_metadata(&w->prod.kc, NULL, on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.calls == 1 && r.err == KLAB_ETIMEDOUT);
	CHECK(sim_now(&w->sim) - t0 >= 1000 && sim_now(&w->sim) - t0 < 1100);
	/* a Produce sent now times out too, and goes again when the network heals */
	{
		struct record_in rec = { .kv = { (const uint8_t *)"k1", 2,
						 (const uint8_t *)"value-1", 7 },
					 .timestamp = -1 };
		struct kerr e = { 0 };
		struct kv h = { (const uint8_t *)"h", 1, (const uint8_t *)"v1", 2 };

		rec.headers = &h;
		rec.header_count = 1;
		CHECK(kproducer_send(&w->prod, "t", 0, &rec, (void *)(intptr_t)1, &e) == KLAB_OK);
	}
	RUN_UNTIL(w, w->prod.kc.timeouts >= 2, 5000);
	CHECK(w->prod.kc.timeouts >= 2);
	CHECK(w->d.n == 1); /* not yet delivered */
	sim_heal(&w->sim);
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, 20000);
	CHECK(w->d.n == 2 && w->d.errors == 0);
	CHECK(w->prod.retried_batches >= 1);
	CHECK(w->d.offset[1] >= 1); /* after record 0 (a retry may have written it twice) */
	world_free(w);
}

static void
test_ch3_client_seek(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	int32_t p0 = 0;

	(void)state;
	create_topic(w, "ts", 1);
	produce_n(w, "ts", 0, 10, 0, 1000); /* timestamps 1000, 2000, ..., 10000 */
	CHECK(w->d.n == 10);
	CHECK(kconsumer_assign(&w->cons, "ts", &p0, 1) == KLAB_OK);
	/* the first record at or after 5500 is offset 5 (6000) */
	CHECK(kconsumer_seek(&w->cons, 0, 5500) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 5, 5000);
	CHECK(w->g.n == 5);
	CHECK(w->g.offset[0] == 5 && w->g.timestamp[0] == 6000);
	CHECK(strcmp(w->g.key[0], "k5") == 0);
	CHECK(w->g.offset[4] == 9);
	/* to an offset */
	w->g.n = 0;
	CHECK(kconsumer_seek_offset(&w->cons, 0, 8) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 2, 5000);
	CHECK(w->g.n == 2 && w->g.offset[0] == 8 && w->g.offset[1] == 9);
	/* past every timestamp: the end, then only new records */
	w->g.n = 0;
	CHECK(kconsumer_seek(&w->cons, 0, 99999) == KLAB_OK);
	sim_run_for(&w->sim, 500);
	CHECK(w->g.n == 0);
	CHECK(kconsumer_position(&w->cons, 0) == 10);
	produce_n(w, "ts", 10, 1, 0, -1);
	RUN_UNTIL(w, w->g.n >= 1, 5000);
	CHECK(w->g.n == 1 && w->g.offset[0] == 10);
	/* the end */
	w->g.n = 0;
	CHECK(kconsumer_seek(&w->cons, 0, KCONSUMER_LATEST) == KLAB_OK);
	sim_run_for(&w->sim, 500);
	CHECK(w->g.n == 0 && kconsumer_position(&w->cons, 0) == 11);
	/* out of range: auto.offset.reset=earliest starts over */
	CHECK(kconsumer_seek_offset(&w->cons, 0, 1000) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 11, 5000);
	CHECK(w->g.n == 11 && w->g.offset[0] == 0);
	CHECK(w->cons.resets == 1);
	CHECK(w->g.errors == 0);
	world_free(w);
}

static void
test_ch3_client_admin_and_missing_topic(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	struct admin_result r = { 0 };
	int64_t t0;

	(void)state;
	create_topic(w, "a", 4);
	CHECK(kadmin_metadata(&w->prod.kc, "a", on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.code == 0 && r.partitions == 4);
	/* again: TOPIC_ALREADY_EXISTS */
	memset(&r, 0, sizeof(r));
	CHECK(kadmin_create_topic(&w->prod.kc, "a", 1, 1, NULL, 0, 1000, on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.code == 36);
	memset(&r, 0, sizeof(r));
	CHECK(kadmin_delete_topic(&w->prod.kc, "a", 1000, on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.code == 0);
	memset(&r, 0, sizeof(r));
	CHECK(kadmin_metadata(&w->prod.kc, "a", on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.code == 3); /* UNKNOWN_TOPIC_OR_PARTITION */
	/* producing to it (no auto-creation) fails after max.block.ms */
	t0 = sim_now(&w->sim);
	{
		struct record_in rec = { .kv = { NULL, -1, (const uint8_t *)"x", 1 },
					 .timestamp = -1 };

		CHECK(kproducer_send(&w->prod, "a", PARTITION_ANY, &rec, NULL, NULL) == KLAB_OK);
	}
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, 10000);
	CHECK(w->d.errors == 1 && w->d.last_err == KLAB_ETIMEDOUT);
	CHECK(sim_now(&w->sim) - t0 >= 3000);
	world_free(w);
}

/* The same client speaks a flexible version when asked to: Metadata v12 and ListOffsets v8. */
struct flex_result {
	int calls, err;
	int16_t version;
	int32_t partitions;
	int64_t offset;
};

static void
on_flex(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct flex_result *r = arg;
	const struct pvalue *t;

	(void)kc;
	r->calls++;
	r->err = err;
	r->version = v;
	if (err != KLAB_OK || pvalue_count(pvalue_array(resp, "topics")) != 1)
		return;
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	r->partitions = pvalue_count(pvalue_array(t, "partitions"));
	if (pvalue_get(resp, "brokers") == NULL && r->partitions == 1) /* ListOffsets */
		r->offset = pvalue_get_int(pvalue_at(pvalue_array(t, "partitions"), 0), "offset");
}

static void
test_ch3_client_speaks_flexible_versions(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	struct flex_result r = { 0 };
	struct pvalue *body;

	(void)state;
	create_topic(w, "a", 4);
	body = pvalue_new(proto_api(KAPI_METADATA)->request);
	CHECK(body != NULL && pvalue_array_resize(pvalue_array(body, "topics"), 1) == KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(body, "topics"), 0), "name", "a");
	CHECK(kclient_request(&w->prod.kc, KCLIENT_ANY, KAPI_METADATA, 12, body, false, on_flex,
			      &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.version == 12 && r.partitions == 4);
	memset(&r, 0, sizeof(r));
	body = pvalue_new(proto_api(KAPI_LIST_OFFSETS)->request);
	CHECK(body != NULL && pvalue_array_resize(pvalue_array(body, "topics"), 1) == KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(body, "topics"), 0), "name", "a");
	CHECK(pvalue_array_resize(
		      pvalue_array(pvalue_at(pvalue_array(body, "topics"), 0), "partitions"), 1) ==
	      KLAB_OK);
	pvalue_set_int(
		pvalue_at(pvalue_array(pvalue_at(pvalue_array(body, "topics"), 0), "partitions"),
			  0),
		"timestamp", -4);
	r.offset = -7;
	CHECK(kclient_request(&w->prod.kc, KCLIENT_ANY, KAPI_LIST_OFFSETS, 8, body, false, on_flex,
			      &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.version == 8 && r.offset == 0); /* -4: the log start */
	world_free(w);
}

/*
 * A broker older than KIP-511's ApiVersions v3 (Kafka 2.3 and before): it
 * speaks ApiVersions v0-2 and Metadata v0-8, answers ApiVersions v3 in v0's
 * format with UNSUPPORTED_VERSION and its own ApiVersions range, and
 * closes the connection on anything else it does not know.
 */
struct old_broker {
	int16_t versions_seen[4]; /* the ApiVersions versions asked, in order */
	int nversions;
	int16_t metadata_v; /* the Metadata version asked, or -1 */
};

static void
old_answer(struct node *n, conn_id c, const struct proto_request_header *h, int16_t v,
	   struct pvalue *body)
{
	struct buf out;

	buf_init(&out);
	if (proto_response_encode(h->correlation_id, proto_api(h->api_key), v, body, &out) ==
	    KLAB_OK)
		n->rt->ops->send(n->rt, c, out.data, out.len);
	buf_free(&out);
	pvalue_free(body);
}

static void
old_on_start(struct node *n)
{
	struct kerr e = { 0 };

	CHECK(n->rt->ops->listen(n->rt, "broker", PORT, &e) > 0);
}

static void
old_on_frame(struct node *n, conn_id c, const uint8_t *frame, size_t len)
{
	struct old_broker *ob = n->state;
	struct proto_request_header h;
	struct cursor body;
	struct pvalue *resp, *keys;

	CHECK(proto_request_header_parse(frame + 4, len - 4, &h, &body) == KLAB_OK);
	if (h.api_key == KAPI_API_VERSIONS) {
		if (ob->nversions < 4)
			ob->versions_seen[ob->nversions++] = h.api_version;
		resp = pvalue_new(proto_api(KAPI_API_VERSIONS)->response);
		keys = pvalue_array(resp, "api_keys");
		/* refused: its own range only; else ApiVersions and Metadata */
		CHECK(pvalue_array_resize(keys, h.api_version > 2 ? 1 : 2) == KLAB_OK);
		pvalue_set_int(pvalue_at(keys, 0), "api_key", KAPI_API_VERSIONS);
		pvalue_set_int(pvalue_at(keys, 0), "max_version", 2);
		if (h.api_version > 2) {
			pvalue_set_int(resp, "error_code", KERR_UNSUPPORTED_VERSION);
			old_answer(n, c, &h, 0, resp);
		} else {
			pvalue_set_int(pvalue_at(keys, 1), "api_key", KAPI_METADATA);
			pvalue_set_int(pvalue_at(keys, 1), "max_version", 8);
			old_answer(n, c, &h, h.api_version, resp);
		}
	} else if (h.api_key == KAPI_METADATA && h.api_version <= 8) {
		ob->metadata_v = h.api_version;
		old_answer(n, c, &h, h.api_version, pvalue_new(proto_api(KAPI_METADATA)->response));
	} else {
		n->rt->ops->close(n->rt, c);
	}
}

static const struct node_ops old_broker_ops = {
	.on_start = old_on_start,
	.on_frame = old_on_frame,
};

/* KIP-511's fallback: v3 refused in v0's format, the client asks again with v2. */
static void
test_ch3_client_api_versions_fallback(void **state)
{
	struct old_broker ob = { .metadata_v = -1 };
	struct kclient kc;
	struct kclient_config cfg = { .request_timeout_ms = 30000, .retry_backoff_ms = 100 };
	struct flex_result r = { 0 };
	struct pvalue *body;
	struct sim sim;
	struct kerr e = { 0 };

	(void)state;
	snprintf(cfg.bootstrap, sizeof(cfg.bootstrap), "broker:%d", PORT);
	CHECK(kclient_init(&kc, &cfg, NULL, &e) == KLAB_OK);
	sim_init(&sim, seed);
	sim_add_node(&sim, "broker", &old_broker_ops, &ob, NULL);
	sim_add_node(&sim, "client", &kclient_node_ops, &kc, NULL);
	sim_run_for(&sim, 10);
	body = pvalue_new(proto_api(KAPI_METADATA)->request);
	CHECK(body != NULL);
	CHECK(kclient_request(&kc, KCLIENT_ANY, KAPI_METADATA, 12, body, false, on_flex, &r) ==
	      KLAB_OK);
	for (int i = 0; i < 500 && r.calls == 0; i++)
		sim_run_for(&sim, 10);
	if (ob.nversions != 2 || ob.versions_seen[0] != 3 || ob.versions_seen[1] != 2)
		fail_msg("the old broker saw %d ApiVersions requests (first v%d, then v%d); "
			 "expected v3 then v2 (seed %" PRIu64 ")",
			 ob.nversions, ob.versions_seen[0], ob.versions_seen[1], seed);
	CHECK(r.calls == 1 && r.err == KLAB_OK && r.version == 8 && ob.metadata_v == 8);
	sim_free(&sim);
	kclient_free(&kc);
}

/* The broker stops and comes back: connections drop, the clients reconnect and retry. */
static void
test_ch3_client_broker_restart(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	int32_t p0 = 0;

	(void)state;
	create_topic(w, "r", 1);
	produce_n(w, "r", 0, 5, 0, -1);
	CHECK(kconsumer_assign(&w->cons, "r", &p0, 1) == KLAB_OK);
	CHECK(kconsumer_seek(&w->cons, 0, KCONSUMER_EARLIEST) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 5, 5000);
	CHECK(w->g.n == 5);
	sim_stop(&w->sim, w->bi);
	sim_run_for(&w->sim, 300);
	for (int i = 5; i < 10; i++) {
		struct record_in r = { .kv = { (const uint8_t *)"k", 1, (const uint8_t *)"v", 1 },
				       .timestamp = -1 };

		CHECK(kproducer_send(&w->prod, "r", 0, &r, (void *)(intptr_t)i, NULL) == KLAB_OK);
	}
	sim_run_for(&w->sim, 2000); /* refused connections, retries */
	CHECK(w->d.n == 5 && w->d.errors == 0);
	sim_restart(&w->sim, w->bi);
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0 && w->g.n >= 10, 20000);
	CHECK(w->d.n == 10 && w->d.errors == 0);
	/* in send order, after the first five */
	for (int i = 5; i < 10; i++)
		CHECK(w->d.offset[i] == i);
	CHECK(w->g.n == 10 && w->g.offset[9] == 9);
	CHECK(w->prod.retried_batches >= 1);
	world_free(w);
}

/*
 * A topic deleted and auto-created again under the producer's feet: the
 * Produce gets UNKNOWN_TOPIC_OR_PARTITION, the producer refreshes its
 * metadata (which re-creates the topic) and the retry lands.
 */
static void
test_ch3_client_retry_after_unknown_topic(void **state)
{
	struct world *w = world_new("broker:9092", true, COMPRESSION_NONE);
	struct admin_result r = { 0 };

	(void)state;
	produce_n(w, "gone", 0, 3, PARTITION_ANY, -1);
	CHECK(w->d.n == 3);
	CHECK(kadmin_delete_topic(&w->prod.kc, "gone", 1000, on_admin, &r) == KLAB_OK);
	RUN_UNTIL(w, r.calls > 0, 5000);
	CHECK(r.err == KLAB_OK && r.code == 0);
	produce_n(w, "gone", 3, 3, PARTITION_ANY, -1);
	CHECK(w->d.n == 6 && w->d.errors == 0);
	CHECK(w->prod.retried_batches >= 1);
	for (int i = 3; i < 6; i++) /* a fresh log: offsets start again */
		CHECK(w->d.offset[i] < 3);
	world_free(w);
}

/* Slow, jittery links: every frame takes 1-40 ms.  Nothing is lost or reordered. */
static void
test_ch3_client_slow_network(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	struct sim_faults f = { .delay_min_ms = 1, .delay_max_ms = 40 };
	int last[3] = { -1, -1, -1 };

	(void)state;
	sim_set_faults(&w->sim, &f);
	create_topic(w, "slow", 3);
	produce_n(w, "slow", 0, NREC * 2, PARTITION_ANY, -1);
	CHECK(w->d.n == NREC * 2 && w->d.errors == 0);
	/* per partition, offsets follow the send order */
	for (int i = 0; i < NREC * 2; i++) {
		CHECK(w->d.offset[i] > last[w->d.partition[i]]);
		last[w->d.partition[i]] = (int)w->d.offset[i];
	}
	CHECK(kconsumer_assign(&w->cons, "slow", NULL, -1) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= NREC * 2, 20000);
	check_round_trip(w, NREC * 2);
	world_free(w);
}

/* Brokers of the cluster the client reached (a READY connection to a known id). */
static int
brokers_reached(const struct kclient *kc)
{
	int n = 0;

	for (int i = 0; i < kc->nslots; i++)
		n += kc->slots[i].node_id >= 0 && kc->slots[i].state == KC_READY;
	return n;
}

/*
 * Three brokers, one bootstrap server: the clients learn the others from
 * Metadata and send each partition's records to its leader.  Then the
 * producer's cache is made wrong on purpose: the broker it picks answers
 * NOT_LEADER_OR_FOLLOWER, the producer refreshes and the retry lands.
 */
static void
test_ch3_client_routes_by_leader(void **state)
{
	struct world *w = world_new_n(3, "broker:9092", false, COMPRESSION_NONE);
	const struct kc_topic *t;
	int leaders[4] = { 0 };
	int64_t retried;

	(void)state;
	create_topic(w, "spread", 6);
	produce_n(w, "spread", 0, NREC, PARTITION_ANY, -1);
	CHECK(w->d.n == NREC && w->d.errors == 0);
	t = kclient_topic(&w->prod.kc, "spread");
	CHECK(t != NULL && t->npartitions == 6);
	for (int32_t i = 0; i < 6; i++) {
		CHECK(t->parts[i].leader >= 1 && t->parts[i].leader <= 3);
		leaders[t->parts[i].leader]++;
	}
	CHECK(leaders[1] == 2 && leaders[2] == 2 && leaders[3] == 2);
	CHECK(brokers_reached(&w->prod.kc) == 3);
	CHECK(kconsumer_assign(&w->cons, "spread", NULL, -1) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= NREC, 10000);
	check_round_trip(w, NREC);
	CHECK(brokers_reached(&w->cons.kc) == 3);

	/* a stale cache: every partition's leader "moved" to the next broker */
	for (int i = 0; i < w->prod.kc.ntopics; i++)
		if (strcmp(w->prod.kc.topics[i].name, "spread") == 0)
			for (int32_t p = 0; p < 6; p++)
				w->prod.kc.topics[i].parts[p].leader =
					w->prod.kc.topics[i].parts[p].leader % 3 + 1;
	retried = w->prod.retried_batches;
	w->prod.acc.cfg.linger_ms = 0; /* sent at once, before any refresh can fix the cache */
	produce_n(w, "spread", NREC, 5, PARTITION_ANY, -1);
	CHECK(w->d.n == NREC + 5 && w->d.errors == 0);
	CHECK(w->prod.retried_batches > retried);
	RUN_UNTIL(w, w->g.n >= NREC + 5, 10000);
	check_round_trip(w, NREC + 5);
	world_free(w);
}

/* acks=0: reports come when the request is written, with no offset; the records are there. */
static void
test_ch3_client_acks_zero(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	int32_t p0 = 0;

	(void)state;
	w->prod.cfg.acks = 0;
	create_topic(w, "fire", 1);
	produce_n(w, "fire", 0, 10, 0, -1);
	CHECK(w->d.n == 10 && w->d.errors == 0);
	for (int i = 0; i < 10; i++)
		CHECK(w->d.offset[i] == -1 && w->d.partition[i] == 0);
	CHECK(kconsumer_assign(&w->cons, "fire", &p0, 1) == KLAB_OK);
	RUN_UNTIL(w, w->g.n >= 10, 5000);
	CHECK(w->g.n == 10);
	for (int k = 0; k < 10; k++) {
		char want[32];

		snprintf(want, sizeof(want), "value-%d", k);
		CHECK(w->g.offset[k] == k && strcmp(w->g.value[k], want) == 0);
	}
	world_free(w);
}

/* A broker that never comes back: the batch fails after delivery.timeout.ms, not later. */
static void
test_ch3_client_delivery_timeout(void **state)
{
	struct world *w = world_new("broker:9092", false, COMPRESSION_NONE);
	struct record_in r = { .kv = { (const uint8_t *)"k", 1, (const uint8_t *)"v", 1 },
			       .timestamp = -1 };
	int64_t t0;

	(void)state;
	create_topic(w, "lost", 1);
	produce_n(w, "lost", 0, 1, 0, -1);
	w->prod.cfg.delivery_timeout_ms = 5000;
	sim_stop(&w->sim, w->bi);
	sim_run_for(&w->sim, 10);
	t0 = sim_now(&w->sim);
	CHECK(kproducer_send(&w->prod, "lost", 0, &r, (void *)(intptr_t)1, NULL) == KLAB_OK);
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, 20000);
	CHECK(w->d.n == 1 && w->d.errors == 1);
	CHECK(w->d.last_err == KLAB_ETIMEDOUT || w->d.last_err == KLAB_EIO);
	CHECK(sim_now(&w->sim) - t0 >= 5000 && sim_now(&w->sim) - t0 < 7000);
	CHECK(w->prod.retried_batches >= 2);
	world_free(w);
}

/* ---- a proxy that corrupts the broker's answers --------------------------------------- */

#define PROXY_PAIRS 64

/*
 * Listens as proxy:9092 and relays every connection to broker:9092 (the
 * broker advertises the proxy, so all client traffic passes here).  Frames
 * from the broker have a few random bytes changed with probability
 * `corrupt`: size prefix and correlation id are kept, so the client gets
 * a reply to the right request that may not decode, may decode to
 * nonsense, or may hold a record batch that fails its CRC.
 */
struct proxy {
	struct tu_rng rng;
	double corrupt;
	struct {
		conn_id down, up; /* client side, broker side */
		bool up_ready;
		struct buf queued; /* frames from the client before the broker answered */
	} pairs[PROXY_PAIRS];
	int npairs;
	uint64_t corrupted;
};

static void
proxy_start(struct node *n)
{
	assert_true(n->rt->ops->listen(n->rt, "proxy", PORT, NULL) > 0);
}

static void
proxy_accept(struct node *n, conn_id c, int64_t listener)
{
	struct proxy *px = n->state;

	(void)listener;
	assert_true(px->npairs < PROXY_PAIRS);
	px->pairs[px->npairs].down = c;
	px->pairs[px->npairs].up = n->rt->ops->connect(n->rt, "broker", PORT);
	px->pairs[px->npairs].up_ready = false;
	buf_init(&px->pairs[px->npairs].queued);
	px->npairs++;
}

static int
proxy_pair(struct proxy *px, conn_id c, bool *from_up)
{
	for (int i = 0; i < px->npairs; i++)
		if (px->pairs[i].down == c || px->pairs[i].up == c) {
			*from_up = px->pairs[i].up == c;
			return i;
		}
	return -1;
}

static void
proxy_connected(struct node *n, conn_id c, bool ok)
{
	struct proxy *px = n->state;
	bool up;
	int i = proxy_pair(px, c, &up);

	if (i < 0)
		return;
	if (!ok) {
		n->rt->ops->close(n->rt, px->pairs[i].down);
		px->pairs[i].down = px->pairs[i].up = 0;
		return;
	}
	px->pairs[i].up_ready = true;
	if (px->pairs[i].queued.len > 0)
		n->rt->ops->send(n->rt, c, px->pairs[i].queued.data, px->pairs[i].queued.len);
	buf_reset(&px->pairs[i].queued);
}

static void
proxy_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct proxy *px = n->state;
	bool up;
	int i = proxy_pair(px, c, &up);
	uint8_t *copy;

	if (i < 0)
		return;
	if (!up) {
		if (px->pairs[i].up_ready)
			n->rt->ops->send(n->rt, px->pairs[i].up, f, len);
		else
			buf_put(&px->pairs[i].queued, f, len);
		return;
	}
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, f, len);
	if (len > 8 && (double)tu_rng_below(&px->rng, 1000000) < px->corrupt * 1000000) {
		int flips = 1 + (int)tu_rng_below(&px->rng, 4);

		for (int k = 0; k < flips; k++)
			copy[8 + tu_rng_below(&px->rng, len - 8)] ^=
				(uint8_t)(1 + tu_rng_below(&px->rng, 255));
		px->corrupted++;
	}
	n->rt->ops->send(n->rt, px->pairs[i].down, copy, len);
	free(copy);
}

static void
proxy_closed(struct node *n, conn_id c)
{
	struct proxy *px = n->state;
	bool up;
	int i = proxy_pair(px, c, &up);

	if (i < 0)
		return;
	n->rt->ops->close(n->rt, up ? px->pairs[i].down : px->pairs[i].up);
	px->pairs[i].down = px->pairs[i].up = 0;
}

static const struct node_ops proxy_ops = {
	.on_start = proxy_start,
	.on_accept = proxy_accept,
	.on_connected = proxy_connected,
	.on_frame = proxy_frame,
	.on_closed = proxy_closed,
};

/*
 * Answers corrupted at random: the clients never crash, their invariants
 * hold, and a record handed to the application is one that was produced
 * (keys and values are under the batch CRC).
 */
static void
test_ch3_client_corrupt_answers(void **state)
{
	struct world *w = world_new_n(1, "proxy:9092", true, COMPRESSION_NONE);
	struct proxy *px = calloc(1, sizeof(*px));

	(void)state;
	assert_non_null(px);
	tu_rng_init(&px->rng, seed);
	px->corrupt = 0.2;
	snprintf(w->broker.cfg.advertised_host, sizeof(w->broker.cfg.advertised_host), "proxy");
	sim_add_node(&w->sim, "proxy", &proxy_ops, px, NULL);
	sim_run_for(&w->sim, 10);
	for (int i = 0; i < NREC; i++) {
		char key[16], value[32];
		struct record_in r = { .timestamp = -1 };

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(value, sizeof(value), "value-%d", i);
		r.kv = (struct kv){ (const uint8_t *)key, (int32_t)strlen(key),
				    (const uint8_t *)value, (int32_t)strlen(value) };
		CHECK(kproducer_send(&w->prod, "noisy", PARTITION_ANY, &r, (void *)(intptr_t)i,
				     NULL) == KLAB_OK);
	}
	RUN_UNTIL(w, kproducer_outstanding(&w->prod) == 0, 60000);
	CHECK(kproducer_outstanding(&w->prod) == 0);
	CHECK(w->d.n + w->d.errors == NREC);
	CHECK(kconsumer_assign(&w->cons, "noisy", NULL, -1) == KLAB_OK);
	CHECK(kconsumer_seek(&w->cons, -1, KCONSUMER_EARLIEST) == KLAB_OK);
	sim_run_for(&w->sim, 20000);
	for (int k = 0; k < w->g.n; k++) {
		char want[32];

		snprintf(want, sizeof(want), "value-%s", w->g.key[k] + 1);
		CHECK(w->g.key[k][0] == 'k' && strcmp(w->g.value[k], want) == 0);
	}
	CHECK(px->corrupted > 0);
	CHECK(!w->sim.violated);
	world_free(w);
	for (int i = 0; i < px->npairs; i++)
		buf_free(&px->pairs[i].queued);
	free(px);
}

static void
test_ch3_client_bad_bootstrap(void **state)
{
	const char *bad[] = { "",	  "broker",	  "broker:",   ":9092",
			      "broker:0", "broker:65536", "broker:9x", "a:1,,b:2" };
	struct kclient kc;
	struct kclient_config cfg;
	struct kerr e = { 0 };

	(void)state;
	kclient_config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cfg.bootstrap, sizeof(cfg.bootstrap), "%s", bad[i]);
		CHECK(kclient_init(&kc, &cfg, NULL, &e) == KLAB_EINVAL);
		kclient_free(&kc);
	}
	snprintf(cfg.bootstrap, sizeof(cfg.bootstrap), "a:1,b.example:65535");
	CHECK(kclient_init(&kc, &cfg, NULL, &e) == KLAB_OK);
	CHECK(kc.nslots == 2 && kc.slots[1].port == 65535);
	CHECK(strcmp(kc.slots[1].host, "b.example") == 0);
	kclient_free(&kc);
}

/*
 * enable.idempotence as Kafka 3.x's ProducerConfig decides it: on by
 * default; a conflicting acks, retries or max.in.flight turns the default
 * off silently, and is a configuration error when idempotence was asked for.
 */
static void
test_ch3_client_idempotence_config(void **state)
{
	struct {
		enum kp_idempotence want;
		int16_t acks;
		int32_t retries, max_in_flight;
		int rc;
		bool idempotent;
	} cases[] = {
		{ KP_IDEMPOTENCE_DEFAULT, -1, INT32_MAX, 5, KLAB_OK, true },
		{ KP_IDEMPOTENCE_DEFAULT, 1, INT32_MAX, 5, KLAB_OK, false },
		{ KP_IDEMPOTENCE_DEFAULT, 0, INT32_MAX, 5, KLAB_OK, false },
		{ KP_IDEMPOTENCE_DEFAULT, -1, 0, 5, KLAB_OK, false },
		{ KP_IDEMPOTENCE_DEFAULT, -1, INT32_MAX, 6, KLAB_OK, false },
		{ KP_IDEMPOTENCE_ON, -1, 3, 1, KLAB_OK, true },
		{ KP_IDEMPOTENCE_ON, 1, INT32_MAX, 5, KLAB_ECONFIG, false },
		{ KP_IDEMPOTENCE_ON, -1, 0, 5, KLAB_ECONFIG, false },
		{ KP_IDEMPOTENCE_ON, -1, INT32_MAX, 6, KLAB_ECONFIG, false },
		{ KP_IDEMPOTENCE_OFF, -1, INT32_MAX, 5, KLAB_OK, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kproducer_config pc;
		struct kproducer p;
		struct kerr e = { 0 };
		int rc;

		tc_producer_config(&pc, "broker:9092", 1);
		pc.idempotence = cases[i].want;
		pc.acks = cases[i].acks;
		pc.retries = cases[i].retries;
		pc.max_in_flight = cases[i].max_in_flight;
		rc = kproducer_init(&p, &pc, &e);
		assert_int_equal(rc, cases[i].rc);
		if (rc != KLAB_OK) {
			assert_non_null(strstr(kerr_msg(&e), "idempotent producer"));
			continue;
		}
		assert_int_equal(p.idempotent, cases[i].idempotent);
		kproducer_free(&p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_client_idempotence_config),
		cmocka_unit_test(test_ch3_client_round_trip_keys_headers),
		cmocka_unit_test(test_ch3_client_round_trip_compressed),
		cmocka_unit_test(test_ch3_client_bootstrap_skips_dead_server),
		cmocka_unit_test(test_ch3_client_request_timeout_and_retry),
		cmocka_unit_test(test_ch3_client_seek),
		cmocka_unit_test(test_ch3_client_admin_and_missing_topic),
		cmocka_unit_test(test_ch3_client_speaks_flexible_versions),
		cmocka_unit_test(test_ch3_client_api_versions_fallback),
		cmocka_unit_test(test_ch3_client_broker_restart),
		cmocka_unit_test(test_ch3_client_retry_after_unknown_topic),
		cmocka_unit_test(test_ch3_client_slow_network),
		cmocka_unit_test(test_ch3_client_routes_by_leader),
		cmocka_unit_test(test_ch3_client_acks_zero),
		cmocka_unit_test(test_ch3_client_delivery_timeout),
		cmocka_unit_test(test_ch3_client_corrupt_answers),
		cmocka_unit_test(test_ch3_client_bad_bootstrap),
	};

	seed = tu_seed(0xC11E);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
