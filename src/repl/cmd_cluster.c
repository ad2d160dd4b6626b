/*
 * cmd_cluster.c - the stage-3 shell: a cluster of brokers and its clients
 * (chapter 3).
 *
 * The shell starts a simulated cluster (src/net/sim.c) of three brokers,
 * broker-1..3 on port 9092, each with its own log directory, and three
 * client nodes: an admin client, a producer and a consumer, whose only
 * bootstrap server is broker-1:9092.  Everything runs in one thread, in
 * virtual time, from one seed, so a script prints the same thing every
 * time.  `connect HOST:PORT,...` swaps the simulation for the real
 * runtime: the same clients then talk to real brokers (klab broker,
 * Kafka) and the same commands work, except those that need the
 * simulation (kill, net, run, step).
 *
 *   cluster start [N] [SEED]    a fresh simulated cluster of N brokers
 *   cluster                     brokers, their state, what each holds
 *   broker kill|restart ID      crash a broker (losing what it did not
 *                               flush) / start it again on its directory
 *   net partition 1,2 / 3       cut the network; net heal
 *   run MS | step [N]           let time pass / deliver events one by one
 *   trace on|off                print every frame, decoded
 *   bootstrap HOST:PORT,...     restart the clients with other bootstrap servers
 *   topic create|delete|list|describe
 *   produce | consume           through the producer and consumer clients
 *   metadata [ID]               who leads what, as one broker (or any) sees it
 *   dot [FILE]                  brokers, partitions, leaders, connections
 *   connect HOST:PORT,...       use a real cluster instead
 *
 * Commands that wait (topic, produce, consume, metadata) run the
 * simulation until their answer arrives or a virtual timeout passes.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/tracer.h"
#include "client/admin.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "net/real.h"
#include "net/sim.h"
#include "repl/repl.h"
#include "viz/dot.h"

#define CL_MAX_BROKERS 5
#define CL_PORT 9092
#define CL_WAIT_MS 30000	/* a command gives up after this much (virtual) time */
#define CL_CONSUME_IDLE_MS 1000 /* consume stops after this long without records */
#define CL_MAX_RECORDS 1000

struct cl_broker {
	struct broker b;
	struct config props;
	int node; /* index in the sim */
	bool up;
};

/* The records a `consume` collects. */
struct cl_rec {
	int32_t partition;
	int64_t offset, timestamp;
	char *key, *value; /* NULL when null */
};

struct cluster_shell {
	struct repl *r;
	/* the simulated cluster */
	bool sim_on;
	struct sim sim;
	struct cl_broker brokers[CL_MAX_BROKERS];
	int nbrokers;
	uint64_t seed;
	char base[4096]; /* the brokers' directories are base/broker-N */
	bool base_is_tmp;
	struct proto_tracer tracer;
	bool trace;
	/* or a real one */
	struct real *real;
	/* the clients */
	char bootstrap[1024];
	struct kclient admin;
	struct kproducer prod;
	struct kconsumer cons;
	int admin_node, prod_node, cons_node;
	bool clients_on;
	/* what the waiting command is waiting for */
	bool done;
	bool meta_done; /* a Metadata answer reached the admin client */
	int err;
	struct pvalue *resp; /* a copy of the admin answer's tree: see keep_answer */
	struct buf resp_bytes;
	int16_t resp_version;
	char answered_by[KCLIENT_HOST_MAX + 16]; /* "broker-2:9092" */
	int delivered, failed;
	int64_t *per_partition; /* produce-many: records delivered to each partition */
	int32_t nper;
	int64_t last_offset;
	int32_t last_partition;
	int16_t last_kafka_error;
	struct cl_rec recs[CL_MAX_RECORDS];
	int nrecs, max_recs;
	int64_t last_record_ms;
};

/* ---- output from the nodes ------------------------------------------------------ */

static void
broker_log_line(void *arg, const char *line)
{
	struct cluster_shell *c = arg;

	repl_printf(c->r, "  | %s\n", line);
}

static void
trace_line(void *arg, const char *line)
{
	struct cluster_shell *c = arg;

	if (c->trace)
		repl_printf(c->r, "  %s\n", line);
}

/* ---- waiting -------------------------------------------------------------------- */

static int64_t
now_ms(const struct cluster_shell *c)
{
	struct timespec ts;

	if (c->sim_on)
		return sim_now(&c->sim);
	clock_gettime(CLOCK_MONOTONIC, &ts); /* connect: the real runtime's clock */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run the world until c->done (or the consumer has gone quiet, when
 * quiet_ms > 0) or max_ms pass.  Returns false on a timeout.
 */
static bool
wait_flag(struct cluster_shell *c, const bool *flag, int64_t max_ms, int64_t quiet_ms)
{
	int64_t end = now_ms(c) + max_ms;

	while (!*flag) {
		/* a real cluster none of whose bootstrap servers took a connection */
		if (!c->sim_on && c->clients_on && !c->admin.reached_broker &&
		    c->admin.connects_failed >= (uint64_t)c->admin.nbootstrap)
			return false;
		if (quiet_ms > 0 && c->last_record_ms > 0 &&
		    now_ms(c) - c->last_record_ms >= quiet_ms)
			return true;
		if (now_ms(c) >= end)
			return false;
		if (c->sim_on) {
			if (!sim_step(&c->sim))
				sim_run_for(&c->sim, 10); /* nothing queued: let time pass */
		} else if (c->real != NULL && real_poll(c->real, 10) != KLAB_OK) {
			return false;
		}
	}
	return true;
}

static bool
wait_done(struct cluster_shell *c, int64_t max_ms, int64_t quiet_ms)
{
	return wait_flag(c, &c->done, max_ms, quiet_ms);
}

static void
begin_wait(struct cluster_shell *c)
{
	c->done = false;
	c->err = KLAB_OK;
	pvalue_free(c->resp);
	c->resp = NULL;
	buf_reset(&c->resp_bytes);
}

/*
 * Keep an admin answer for the command to read after the callback: the
 * tree points into the frame, so re-encode it into our own bytes and
 * decode those.
 */
static void
admin_answer(struct kclient *kc, void *arg, int err, int16_t version, const struct pvalue *resp)
{
	struct cluster_shell *c = arg;
	const struct api_desc *api = NULL;

	c->done = true;
	c->err = err;
	c->resp_version = version;
	if (kc->answered_slot >= 0 && kc->answered_slot < kc->nslots)
		snprintf(c->answered_by, sizeof(c->answered_by), "%s:%d",
			 kc->slots[kc->answered_slot].host, kc->slots[kc->answered_slot].port);
	if (err != KLAB_OK || resp == NULL)
		return;
	for (size_t i = 0; i < proto_api_count(); i++)
		if (proto_api_at(i)->response == resp->a.schema)
			api = proto_api_at(i);
	buf_reset(&c->resp_bytes);
	if (api == NULL || proto_encode(api->response, version, resp, &c->resp_bytes) != KLAB_OK ||
	    proto_decode(api->response, version, c->resp_bytes.data, c->resp_bytes.len, &c->resp) !=
		    KLAB_OK)
		c->err = KLAB_ENOMEM;
}

static int
wait_answer(struct cluster_shell *c, const char *what)
{
	if (!wait_done(c, CL_WAIT_MS, 0))
		return repl_error(c->r, "%s: no answer within %d ms", what, CL_WAIT_MS);
	if (c->err != KLAB_OK)
		return repl_error(c->r, "%s: %s (%s)", what, klab_strerror(c->err),
				  kerr_msg(&c->admin.last_error));
	return 0;
}

/* ---- the clients ---------------------------------------------------------------- */

static void admin_metadata(struct kclient *kc, int err);

static void
on_delivery(void *arg, void *opaque, const char *topic, int32_t partition, int64_t offset, int err,
	    int16_t kafka_error)
{
	struct cluster_shell *c = arg;

	(void)opaque;
	(void)topic;
	if (err == KLAB_OK)
		c->delivered++;
	else
		c->failed++;
	if (err == KLAB_OK && c->per_partition != NULL && partition >= 0 && partition < c->nper)
		c->per_partition[partition]++;
	c->last_partition = partition;
	c->last_offset = offset;
	c->last_kafka_error = kafka_error;
	c->err = err;
	c->done = true;
}

static char *
dup_bytes(const uint8_t *p, int32_t len)
{
	char *s;

	if (p == NULL || len < 0)
		return NULL;
	if ((s = malloc((size_t)len + 1)) == NULL)
		return NULL;
	memcpy(s, p, (size_t)len);
	s[len] = '\0';
	return s;
}

static void
on_record(void *arg, const char *topic, int32_t partition, const struct record *rec)
{
	struct cluster_shell *c = arg;
	struct cl_rec *out;

	(void)topic;
	if (c->nrecs >= c->max_recs)
		return;
	out = &c->recs[c->nrecs++];
	out->partition = partition;
	out->offset = rec->offset;
	out->timestamp = rec->timestamp;
	out->key = dup_bytes(rec->kv.key, rec->kv.key_len);
	out->value = dup_bytes(rec->kv.value, rec->kv.value_len);
	c->last_record_ms = now_ms(c);
	if (c->nrecs >= c->max_recs)
		c->done = true;
}

static void
on_consume_error(void *arg, int32_t partition, int err, const char *msg)
{
	struct cluster_shell *c = arg;

	repl_printf(c->r, "  consumer: partition %d: %s (%s)\n", (int)partition, klab_strerror(err),
		    msg);
}

static void
clients_free(struct cluster_shell *c)
{
	if (!c->clients_on)
		return;
	kclient_free(&c->admin);
	kproducer_free(&c->prod);
	kconsumer_free(&c->cons);
	c->clients_on = false;
}

/* Set up the three client states for c->bootstrap. */
static int
clients_init(struct cluster_shell *c)
{
	struct kclient_config cc;
	struct kproducer_config pc;
	struct kconsumer_config kc;
	struct kclient_hooks hooks = { .on_metadata = admin_metadata, .app = c };
	struct kerr e = { 0 };

	kclient_config_defaults(&cc);
	snprintf(cc.bootstrap, sizeof(cc.bootstrap), "%s", c->bootstrap);
	cc.allow_auto_create = false;
	cc.client_id = "klab-admin";
	kproducer_config_defaults(&pc);
	pc.client = cc;
	pc.client.allow_auto_create = true;
	pc.client.client_id = "klab-producer";
	pc.on_delivery = on_delivery;
	pc.arg = c;
	pc.seed = c->seed;
	pc.delivery_timeout_ms = CL_WAIT_MS;
	kconsumer_config_defaults(&kc);
	kc.client = cc;
	kc.client.client_id = "klab-consumer";
	kc.reset = KCONSUMER_RESET_EARLIEST;
	kc.on_record = on_record;
	kc.on_error = on_consume_error;
	kc.arg = c;
	if (kclient_init(&c->admin, &cc, &hooks, &e) != KLAB_OK) {
		repl_error(c->r, "bootstrap %s: %s", c->bootstrap, kerr_msg(&e));
		return -1;
	}
	if (kproducer_init(&c->prod, &pc, &e) != KLAB_OK) {
		kclient_free(&c->admin);
		repl_error(c->r, "producer: %s", kerr_msg(&e));
		return -1;
	}
	if (kconsumer_init(&c->cons, &kc, &e) != KLAB_OK) {
		kclient_free(&c->admin);
		kproducer_free(&c->prod);
		repl_error(c->r, "consumer: %s", kerr_msg(&e));
		return -1;
	}
	c->clients_on = true;
	return 0;
}

/* ---- the simulated cluster ------------------------------------------------------- */

static void
broker_crash_hook(struct node *n)
{
	broker_crash(n->state);
}

static void
sim_world_free(struct cluster_shell *c)
{
	if (!c->sim_on)
		return;
	for (int i = 0; i < c->nbrokers; i++) {
		broker_free(&c->brokers[i].b);
		config_free(&c->brokers[i].props);
	}
	c->nbrokers = 0;
	sim_free(&c->sim);
	c->sim_on = false;
}

static void
real_world_free(struct cluster_shell *c)
{
	if (c->real == NULL)
		return;
	real_shutdown(c->real);
	real_free(c->real);
	c->real = NULL;
}

static int
broker_index(struct cluster_shell *c, const char *arg)
{
	int64_t id;

	if (!c->sim_on)
		return repl_error(c->r, "no simulated cluster (connect uses real brokers)");
	if (!repl_arg_i64(c->r, arg, "broker id", 1, c->nbrokers, &id))
		return -1;
	return (int)id - 1;
}

static int
cluster_start(struct cluster_shell *c, int n, uint64_t seed)
{
	char members[1024] = "", dir[4200];
	struct kerr e = { 0 };

	clients_free(c);
	sim_world_free(c);
	real_world_free(c);
	sim_init(&c->sim, seed);
	c->sim.now_ms = REPL_EPOCH_MS; /* records get the shell's timestamps */
	c->sim.trace_epoch_ms = REPL_EPOCH_MS;
	c->sim_on = true;
	c->seed = seed;
	proto_tracer_init(&c->tracer);
	sim_set_trace(&c->sim, trace_line, c);
	sim_set_describe(&c->sim, proto_tracer_describe, &c->tracer);
	for (int i = 1; i <= n; i++) {
		size_t len = strlen(members);

		snprintf(members + len, sizeof(members) - len, "%s%d@broker-%d:%d",
			 i > 1 ? "," : "", i, i, CL_PORT);
	}
	for (int i = 0; i < n; i++) {
		struct cl_broker *cb = &c->brokers[i];
		struct broker_config bc;
		char name[32];

		memset(&bc, 0, sizeof(bc));
		bc.broker_id = i + 1;
		snprintf(name, sizeof(name), "broker-%d", i + 1);
		snprintf(bc.listen_host, sizeof(bc.listen_host), "%s", name);
		bc.listen_port = CL_PORT;
		snprintf(bc.cluster_id, sizeof(bc.cluster_id), "klab-sim");
		bc.auto_create_topics = true;
		if (cluster_parse(members, bc.members, &bc.nmembers, &e) != KLAB_OK)
			return repl_error(c->r, "%s", kerr_msg(&e));
		config_init(&cb->props);
		/* the shell's settings; no maintenance timer, so a quiet cluster idles */
		for (size_t k = 0; k < c->r->cfg.n; k++)
			if (strcmp(c->r->cfg.entries[k].key, "log.retention.check.interval.ms") !=
				    0 &&
			    config_set(&cb->props, c->r->cfg.entries[k].key,
				       c->r->cfg.entries[k].value) != KLAB_OK)
				return repl_error(c->r, "out of memory");
		bc.props = &cb->props;
		bc.log = broker_log_line;
		bc.log_arg = c;
		broker_init(&cb->b, &bc);
		snprintf(dir, sizeof(dir), "%s/%s", c->base, name);
		cb->node = sim_add_node(&c->sim, name, &broker_node_ops, &cb->b, dir);
		sim_on_crash(&c->sim, cb->node, broker_crash_hook);
		cb->up = true;
	}
	c->nbrokers = n;
	snprintf(c->bootstrap, sizeof(c->bootstrap), "broker-1:%d", CL_PORT);
	if (clients_init(c) != 0)
		return -1;
	c->admin_node = sim_add_node(&c->sim, "admin", &kclient_node_ops, &c->admin, NULL);
	c->prod_node = sim_add_node(&c->sim, "producer", &kclient_node_ops, &c->prod.kc, NULL);
	c->cons_node = sim_add_node(&c->sim, "consumer", &kclient_node_ops, &c->cons.kc, NULL);
	sim_run_for(&c->sim, 10); /* every node starts */
	for (int i = 0; i < n; i++)
		if (c->brokers[i].b.failed)
			return repl_error(c->r, "broker %d failed to start: %s", i + 1,
					  kerr_msg(&c->brokers[i].b.error));
	repl_printf(c->r,
		    "cluster: %d broker%s (broker-1..%d:%d, simulated, seed %" PRIu64
		    "); clients bootstrap from %s\n",
		    n, n == 1 ? "" : "s", n, CL_PORT, seed, c->bootstrap);
	return 0;
}

/* Restart the clients (crash and start their nodes) with c->bootstrap. */
static int
clients_restart(struct cluster_shell *c)
{
	int nodes[3] = { c->admin_node, c->prod_node, c->cons_node };

	if (c->sim_on)
		for (int i = 0; i < 3; i++)
			sim_crash(&c->sim, nodes[i]);
	clients_free(c);
	if (clients_init(c) != 0)
		return -1;
	if (c->sim_on) {
		sim_node(&c->sim, c->admin_node)->state = &c->admin;
		sim_node(&c->sim, c->prod_node)->state = &c->prod.kc;
		sim_node(&c->sim, c->cons_node)->state = &c->cons.kc;
		for (int i = 0; i < 3; i++)
			sim_restart(&c->sim, nodes[i]);
		sim_run_for(&c->sim, 1);
	} else {
		real_world_free(c);
		return -1;
	}
	return 0;
}

/* The admin's metadata hook: a refresh the shell waits for has arrived. */
static void
admin_metadata(struct kclient *kc, int err)
{
	struct cluster_shell *c = kc->hooks.app;

	(void)err;
	c->meta_done = true;
}

/* Make sure the admin client knows the brokers (one Metadata round). */
static int
refresh_admin(struct cluster_shell *c)
{
	c->meta_done = false;
	kclient_refresh_metadata(&c->admin);
	if (!wait_flag(c, &c->meta_done, CL_WAIT_MS, 0) || !c->admin.metadata_known)
		return repl_error(c->r, "no broker answered Metadata (bootstrap %s%s%s)",
				  c->bootstrap, c->admin.connects_failed > 0 ? "; " : "",
				  c->admin.connects_failed > 0 ? kerr_msg(&c->admin.connect_error)
							       : "");
	return 0;
}

static bool
have_world(struct cluster_shell *c)
{
	if (c->clients_on)
		return true;
	repl_error(c->r, "no cluster: `cluster start` or `connect HOST:PORT`");
	return false;
}

static bool
need_sim(struct cluster_shell *c, const char *what)
{
	if (c->sim_on)
		return true;
	repl_error(c->r, "%s needs the simulated cluster (`cluster start`)", what);
	return false;
}

/* ---- cluster, broker, net, run, step, trace ------------------------------------- */

static int
cmd_cluster(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n = 3, seed = 1;

	if (argc >= 2 && strcmp(argv[1], "start") == 0) {
		if (argc > 4 ||
		    (argc >= 3 && !repl_arg_i64(r, argv[2], "brokers", 1, CL_MAX_BROKERS, &n)) ||
		    (argc == 4 && !repl_arg_i64(r, argv[3], "seed", 0, INT64_MAX, &seed)))
			return argc > 4 ? repl_usage(r, repl_find(r, "cluster")) : -1;
		return cluster_start(c, (int)n, (uint64_t)seed);
	}
	if (argc != 1)
		return repl_usage(r, repl_find(r, "cluster"));
	if (!need_sim(c, "cluster"))
		return -1;
	repl_printf(r, "%-6s %-16s %-5s %-7s %s\n", "broker", "address", "state", "topics",
		    "partitions held");
	for (int i = 0; i < c->nbrokers; i++) {
		struct cl_broker *cb = &c->brokers[i];
		char held[512] = "";
		size_t len = 0;
		size_t ntopics = cb->b.store != NULL ? cb->b.store->n : 0;

		for (size_t t = 0; t < ntopics; t++) {
			const struct topic *tp = cb->b.store->topics[t];

			for (int32_t p = 0; p < tp->partitions && len + 40 < sizeof(held); p++)
				if (tp->logs[p] != NULL)
					len += (size_t)snprintf(held + len, sizeof(held) - len,
								"%s%s-%d", len ? " " : "", tp->name,
								(int)p);
		}
		repl_printf(r, "%-6d broker-%d:%-7d %-5s %-7zu %s\n", i + 1, i + 1, CL_PORT,
			    cb->up ? "up" : "down", ntopics, len ? held : "-");
	}
	return 0;
}

static int
cmd_broker(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int i;

	(void)argc;
	if (!need_sim(c, "broker") || (i = broker_index(c, argv[2])) < 0)
		return -1;
	if (strcmp(argv[1], "kill") == 0) {
		if (!c->brokers[i].up)
			return repl_error(r, "broker %d is already down", i + 1);
		sim_crash(&c->sim, c->brokers[i].node);
		c->brokers[i].up = false;
		repl_printf(r, "broker %d: killed (what it had not flushed is lost)\n", i + 1);
		return 0;
	}
	if (strcmp(argv[1], "restart") == 0) {
		if (c->brokers[i].up)
			return repl_error(r, "broker %d is up", i + 1);
		sim_restart(&c->sim, c->brokers[i].node);
		sim_run_for(&c->sim, 1);
		c->brokers[i].up = !c->brokers[i].b.failed;
		if (!c->brokers[i].up)
			return repl_error(r, "broker %d failed to start: %s", i + 1,
					  kerr_msg(&c->brokers[i].b.error));
		repl_printf(r, "broker %d: restarted on its log directory (%zu topic%s)\n", i + 1,
			    c->brokers[i].b.store->n, c->brokers[i].b.store->n == 1 ? "" : "s");
		return 0;
	}
	return repl_usage(r, repl_find(r, "broker"));
}

/*
 * Append one group of `net partition` ("1,2" or "clients,3") to spec as
 * node names; named[0] (the clients) and named[id] mark what the groups so
 * far named.  Returns how many it named, or -1 after an error.
 */
static int
net_group(struct cluster_shell *c, char *g, bool *named, char *spec, size_t cap, size_t *len)
{
	int count = 0;

	for (char *m = g; *m != '\0';) {
		char name[32];
		size_t n = strcspn(m, ", ");
		int64_t id = 0;

		if (n == 0) {
			m++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, m);
		m += n;
		if (strcmp(name, "clients") != 0 &&
		    !repl_arg_i64(c->r, name, "broker id", 1, c->nbrokers, &id))
			return -1;
		if (named[id])
			return repl_error(c->r, "net partition: %s%s %s in two groups",
					  id ? "broker " : "the clients", id ? name : "",
					  id ? "is" : "are");
		named[id] = true;
		if (id == 0)
			*len += (size_t)snprintf(spec + *len, cap - *len,
						 "%sadmin,producer,consumer", count ? "," : "");
		else
			*len += (size_t)snprintf(spec + *len, cap - *len, "%sbroker-%d",
						 count ? "," : "", (int)id);
		count++;
	}
	return count;
}

/*
 * "1,2 / 3" -> "broker-1,broker-2,admin,producer,consumer|broker-3": the
 * clients stay with the first group unless a group names "clients".
 */
static int
cmd_net(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	char spec[1024] = "", words[1024] = "";
	bool clients_named = false, named[CL_MAX_BROKERS + 1] = { false };
	size_t len = 0;
	int groups = 0;
	struct kerr e = { 0 };

	if (!need_sim(c, "net"))
		return -1;
	if (argc == 2 && strcmp(argv[1], "heal") == 0) {
		sim_heal(&c->sim);
		repl_printf(r, "network healed\n");
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "partition") != 0)
		return repl_usage(r, repl_find(r, "net"));
	for (int i = 2; i < argc; i++) {
		size_t w = strlen(words);

		snprintf(words + w, sizeof(words) - w, "%s%s", i > 2 ? " " : "", argv[i]);
	}
	clients_named = strstr(words, "clients") != NULL;
	for (char *g = strtok(words, "/"); g != NULL; g = strtok(NULL, "/")) {
		int k;

		if (groups > 0)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len, "|");
		if ((k = net_group(c, g, named, spec, sizeof(spec), &len)) < 0)
			return -1;
		if (k == 0)
			return repl_error(r, "net partition: group %d names no broker", groups + 1);
		if (groups == 0 && !clients_named)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len,
						",admin,producer,consumer");
		groups++;
	}
	if (groups < 2)
		return repl_error(r, "net partition: name at least two groups, as in "
				     "`net partition 1,2 / 3`");
	if (sim_partition_str(&c->sim, spec, &e) != KLAB_OK)
		return repl_error(r, "net partition: %s", kerr_msg(&e));
	repl_printf(r, "network cut: %s\n", spec);
	return 0;
}

/* "250", "250ms", "2s" -> milliseconds. */
static bool
parse_duration(struct repl *r, const char *arg, int64_t *ms)
{
	char num[32];
	size_t n = strspn(arg, "0123456789");
	int64_t v, scale = 1;

	if (n == 0 || n >= sizeof(num) ||
	    (strcmp(arg + n, "") != 0 && strcmp(arg + n, "ms") != 0 && strcmp(arg + n, "s") != 0)) {
		repl_error(r, "duration '%s': expected MS, MSms or Ss", arg);
		return false;
	}
	if (strcmp(arg + n, "s") == 0)
		scale = 1000;
	snprintf(num, sizeof(num), "%.*s", (int)n, arg);
	v = n > 9 ? INT64_MAX : strtoll(num, NULL, 10);
	if (v > 86400000 / scale) {
		repl_error(r, "duration '%s' is too long: at most a day (86400s)", arg);
		return false;
	}
	*ms = v * scale;
	return true;
}

static int
cmd_run(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t ms;

	(void)argc;
	if (!need_sim(c, "run") || !parse_duration(r, argv[1], &ms))
		return -1;
	sim_run_for(&c->sim, ms);
	repl_printf(r, "ran %" PRId64 " ms (now +%" PRId64 " ms)\n", ms,
		    (int64_t)(sim_now(&c->sim) - REPL_EPOCH_MS));
	return 0;
}

static int
cmd_step(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n = 1;
	bool was = c->trace;
	int64_t i;

	if (!need_sim(c, "step") ||
	    (argc == 2 && !repl_arg_i64(r, argv[1], "events", 1, 100000, &n)))
		return -1;
	c->trace = true; /* a step shows what it delivered */
	for (i = 0; i < n && sim_step(&c->sim); i++)
		;
	c->trace = was;
	if (i < n)
		repl_printf(r, "nothing more to deliver (%" PRId64 " event%s)\n", i,
			    i == 1 ? "" : "s");
	return 0;
}

static int
cmd_trace(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;

	(void)argc;
	if (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0)
		return repl_usage(r, repl_find(r, "trace"));
	c->trace = strcmp(argv[1], "on") == 0;
	if (c->real != NULL && c->trace)
		repl_printf(r, "(a real cluster's frames are not traced: use the simulation)\n");
	repl_printf(r, "trace %s\n", c->trace ? "on" : "off");
	return 0;
}

/*
 * Is list a bootstrap list the clients accept?  Checked before the running
 * clients are replaced, so that a typo leaves them as they were.
 */
static bool
bootstrap_ok(struct cluster_shell *c, const char *list)
{
	struct kclient_config cfg;
	struct kclient *kc = calloc(1, sizeof(*kc));
	struct kerr e = { 0 };
	int rc;

	if (kc == NULL) {
		repl_error(c->r, "out of memory");
		return false;
	}
	kclient_config_defaults(&cfg);
	if (strlen(list) >= sizeof(cfg.bootstrap)) {
		free(kc);
		repl_error(c->r, "bootstrap: the list is longer than %zu bytes",
			   sizeof(cfg.bootstrap) - 1);
		return false;
	}
	snprintf(cfg.bootstrap, sizeof(cfg.bootstrap), "%s", list);
	rc = kclient_init(kc, &cfg, NULL, &e);
	kclient_free(kc);
	free(kc);
	if (rc != KLAB_OK && c->clients_on)
		repl_error(c->r, "%s; the clients still bootstrap from %s", kerr_msg(&e),
			   c->bootstrap);
	else if (rc != KLAB_OK)
		repl_error(c->r, "%s", kerr_msg(&e));
	return rc == KLAB_OK;
}

static int
cmd_bootstrap(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;

	(void)argc;
	if (!need_sim(c, "bootstrap") || !bootstrap_ok(c, argv[1]))
		return -1;
	snprintf(c->bootstrap, sizeof(c->bootstrap), "%s", argv[1]);
	if (clients_restart(c) != 0)
		return -1;
	repl_printf(r, "clients restarted; they bootstrap from %s\n", c->bootstrap);
	return 0;
}

/* ---- metadata and topics ------------------------------------------------------- */

static int
cmp_topic_name(const void *a, const void *b)
{
	const struct pvalue *x = *(const struct pvalue *const *)a;
	const struct pvalue *y = *(const struct pvalue *const *)b;
	int32_t lx, ly;
	const uint8_t *px = pvalue_get_bytes(x, "name", &lx);
	const uint8_t *py = pvalue_get_bytes(y, "name", &ly);
	int n = memcmp(px, py, (size_t)(lx < ly ? lx : ly));

	return n != 0 ? n : (lx > ly) - (lx < ly);
}

static void
print_ids(struct repl *r, const struct pvalue *arr)
{
	repl_printf(r, "[");
	for (int32_t i = 0; i < pvalue_count(arr); i++)
		repl_printf(r, "%s%lld", i ? "," : "", (long long)pvalue_at(arr, i)->i);
	repl_printf(r, "]");
}

/* A Metadata answer as tables: brokers, then topics by name. */
static void
print_metadata(struct cluster_shell *c, const struct pvalue *resp, bool brokers)
{
	struct repl *r = c->r;
	const struct pvalue *bs = pvalue_array(resp, "brokers");
	const struct pvalue *ts = pvalue_array(resp, "topics");
	int32_t nt = pvalue_count(ts);
	const struct pvalue **sorted = calloc((size_t)nt + 1, sizeof(*sorted));

	if (sorted == NULL) {
		repl_error(r, "out of memory");
		return;
	}
	if (brokers) {
		for (int32_t i = 0; i < pvalue_count(bs); i++) {
			const struct pvalue *b = pvalue_at(bs, i);
			int32_t len;
			const uint8_t *host = pvalue_get_bytes(b, "host", &len);

			repl_printf(r, "  broker %lld at %.*s:%lld%s\n",
				    (long long)pvalue_get_int(b, "node_id"), (int)len, host,
				    (long long)pvalue_get_int(b, "port"),
				    pvalue_get_int(b, "node_id") ==
						    pvalue_get_int(resp, "controller_id")
					    ? " (controller)"
					    : "");
		}
	}
	for (int32_t i = 0; i < nt; i++)
		sorted[i] = pvalue_at(ts, i);
	qsort(sorted, (size_t)nt, sizeof(*sorted), cmp_topic_name);
	if (nt > 0)
		repl_printf(r, "  %-16s %-9s %-6s %-8s %s\n", "topic", "partition", "leader",
			    "replicas", "isr");
	for (int32_t i = 0; i < nt; i++) {
		const struct pvalue *t = sorted[i];
		const struct pvalue *ps = pvalue_array(t, "partitions");
		int16_t err = (int16_t)pvalue_get_int(t, "error_code");
		int32_t len;
		const uint8_t *name = pvalue_get_bytes(t, "name", &len);

		if (err != 0) {
			repl_printf(r, "  %-16.*s %s\n", (int)len, name, kclient_error_name(err));
			continue;
		}
		for (int32_t p = 0; p < pvalue_count(ps); p++) {
			const struct pvalue *pe = pvalue_at(ps, p);

			repl_printf(r, "  %-16.*s %-9lld %-6lld ", (int)len, name,
				    (long long)pvalue_get_int(pe, "partition_index"),
				    (long long)pvalue_get_int(pe, "leader_id"));
			print_ids(r, pvalue_array(pe, "replica_nodes"));
			repl_printf(r, "      ");
			print_ids(r, pvalue_array(pe, "isr_nodes"));
			repl_printf(r, "\n");
		}
	}
	free(sorted);
}

static int
cmd_metadata(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t id = KCLIENT_ANY;
	struct pvalue *body;
	int rc;

	if (!have_world(c) ||
	    (argc == 2 && !repl_arg_i64(r, argv[1], "broker id", 0, INT32_MAX, &id)))
		return -1;
	if (id != KCLIENT_ANY && refresh_admin(c) != 0)
		return -1;
	/* a connection that dropped meanwhile (a cut that timed out) is tried once more */
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((body = pvalue_new(proto_api(3)->request)) == NULL)
			return repl_error(r, "out of memory");
		pvalue_array_set_null(pvalue_array(body, "topics"));
		pvalue_set_int(body, "allow_auto_topic_creation", 0);
		begin_wait(c);
		rc = kclient_request(&c->admin, (int32_t)id, 3, 8, body, false, admin_answer, c);
		if (rc == KLAB_ENOTFOUND)
			return repl_error(r, "the metadata names no broker %lld", (long long)id);
		if (rc != KLAB_OK)
			return repl_error(r, "metadata: %s", klab_strerror(rc));
		if (!wait_done(c, CL_WAIT_MS, 0) || c->err != KLAB_EIO)
			break;
	}
	if (wait_answer(c, "metadata") != 0)
		return -1;
	{
		int32_t len;
		const uint8_t *cid = pvalue_get_bytes(c->resp, "cluster_id", &len);

		repl_printf(r, "metadata from %s (cluster %.*s):\n", c->answered_by,
			    cid ? (int)len : 4, cid ? (const char *)cid : "null");
	}
	print_metadata(c, c->resp, true);
	return 0;
}

/* The error of a CreateTopics / DeleteTopics answer's only topic, printed. */
static int
topic_result(struct cluster_shell *c, const char *array, const char *done_fmt, const char *name)
{
	const struct pvalue *ts = pvalue_array(c->resp, array);
	const struct pvalue *t;
	int16_t err;
	int32_t len = -1;
	const uint8_t *msg = NULL;

	if (pvalue_count(ts) != 1)
		return repl_error(c->r, "the broker answered for %d topics", pvalue_count(ts));
	t = pvalue_at(ts, 0);
	err = (int16_t)pvalue_get_int(t, "error_code");
	if (pvalue_get(t, "error_message") != NULL)
		msg = pvalue_get_bytes(t, "error_message", &len);
	if (err != 0 && msg == NULL)
		return repl_error(c->r, "%s (topic '%s')", kclient_error_name(err), name);
	if (err != 0)
		return repl_error(c->r, "%s: %.*s", kclient_error_name(err), (int)len,
				  (const char *)msg);
	repl_printf(c->r, done_fmt, name);
	return 0;
}

/* The usage of one topic subcommand, or the list of them for an unknown one. */
static int
topic_usage(struct repl *r, const char *sub)
{
	static const char *const forms[][2] = {
		{ "create", "topic create NAME [PARTITIONS] [KEY=VALUE ...]" },
		{ "delete", "topic delete NAME" },
		{ "list", "topic list" },
		{ "describe", "topic describe [NAME]" },
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strcmp(sub, forms[i][0]) == 0)
			return repl_error(r, "usage: %s", forms[i][1]);
	return repl_error(r, "topic %s: no such subcommand (create, delete, list, describe)", sub);
}

static int
cmd_topic(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	struct kadmin_config cfgs[32];
	int64_t partitions = -1;
	int32_t ncfg = 0;
	int rc;

	if (!have_world(c))
		return -1;
	begin_wait(c);
	if (strcmp(argv[1], "create") == 0 && argc >= 3) {
		for (int i = 3; i < argc; i++) {
			char *eq = strchr(argv[i], '=');

			if (i == 3 && eq == NULL) {
				if (!repl_arg_i64(r, argv[i], "partitions", 1, 10000, &partitions))
					return -1;
				continue;
			}
			if (eq == NULL || eq == argv[i] || ncfg == 32)
				return repl_error(r, "'%s' is not KEY=VALUE", argv[i]);
			*eq = '\0';
			cfgs[ncfg++] = (struct kadmin_config){ argv[i], eq + 1 };
		}
		rc = kadmin_create_topic(&c->admin, argv[2], (int32_t)partitions, -1, cfgs, ncfg,
					 CL_WAIT_MS, admin_answer, c);
		if (rc != KLAB_OK || wait_answer(c, "topic create") != 0)
			return rc != KLAB_OK ? repl_error(r, "%s", klab_strerror(rc)) : -1;
		repl_printf(r, "(asked %s)\n", c->answered_by);
		return topic_result(c, "topics", "created topic '%s'\n", argv[2]);
	}
	if (strcmp(argv[1], "delete") == 0 && argc == 3) {
		rc = kadmin_delete_topic(&c->admin, argv[2], CL_WAIT_MS, admin_answer, c);
		if (rc != KLAB_OK || wait_answer(c, "topic delete") != 0)
			return rc != KLAB_OK ? repl_error(r, "%s", klab_strerror(rc)) : -1;
		return topic_result(c, "responses", "deleted topic '%s'\n", argv[2]);
	}
	if ((strcmp(argv[1], "list") == 0 && argc == 2) ||
	    (strcmp(argv[1], "describe") == 0 && argc <= 3)) {
		bool list = strcmp(argv[1], "list") == 0;
		const struct pvalue *ts;

		rc = kadmin_metadata(&c->admin, argc == 3 ? argv[2] : NULL, admin_answer, c);
		if (rc != KLAB_OK || wait_answer(c, "metadata") != 0)
			return rc != KLAB_OK ? repl_error(r, "%s", klab_strerror(rc)) : -1;
		ts = pvalue_array(c->resp, "topics");
		if (list) {
			const struct pvalue **sorted =
				calloc((size_t)pvalue_count(ts) + 1, sizeof(*sorted));

			if (sorted == NULL)
				return repl_error(r, "out of memory");
			for (int32_t i = 0; i < pvalue_count(ts); i++)
				sorted[i] = pvalue_at(ts, i);
			qsort(sorted, (size_t)pvalue_count(ts), sizeof(*sorted), cmp_topic_name);
			for (int32_t i = 0; i < pvalue_count(ts); i++) {
				int32_t len;
				const uint8_t *name = pvalue_get_bytes(sorted[i], "name", &len);

				repl_printf(r, "%.*s\n", (int)len, name);
			}
			free(sorted);
			return 0;
		}
		print_metadata(c, c->resp, false);
		return 0;
	}
	return topic_usage(r, argv[1]);
}

/* ---- produce and consume --------------------------------------------------------- */

/*
 * A topic the client's metadata has an error for, or a partition it says
 * the topic does not have: an error saying so (0 when neither is known).
 */
static int
partition_missing(struct cluster_shell *c, const struct kclient *kc, const char *what,
		  const char *topic, int64_t partition)
{
	const struct kc_topic *t = kclient_topic(kc, topic);

	if (t != NULL && t->error != 0)
		return repl_error(c->r, "%s: topic '%s': %s", what, topic,
				  kclient_error_name(t->error));
	if (partition < 0 || t == NULL || !t->known || partition < t->npartitions)
		return 0;
	return repl_error(c->r, "%s: topic '%s' has %d partition%s (0-%d), not partition %lld",
			  what, topic, (int)t->npartitions, t->npartitions == 1 ? "" : "s",
			  (int)t->npartitions - 1, (long long)partition);
}

static int
cmd_produce(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t partition = PARTITION_ANY;
	struct kv headers[16];
	struct record_in rec;
	struct kerr e = { 0 };
	int a = 1, nh;

	if (!have_world(c))
		return -1;
	if (argc >= 3 && strcmp(argv[1], "-p") == 0) {
		if (!repl_arg_i64(r, argv[2], "partition", 0, INT32_MAX, &partition))
			return -1;
		a = 3;
	}
	if (argc - a < 3 || argc - a - 3 > 16)
		return repl_usage(r, repl_find(r, "produce"));
	nh = argc - a - 3;
	if (repl_parse_headers(r, nh, argv + a + 3, headers) != 0)
		return -1;
	memset(&rec, 0, sizeof(rec));
	rec.timestamp = -1;
	if (strcmp(argv[a + 1], "-") != 0) {
		rec.kv.key = (const uint8_t *)argv[a + 1];
		rec.kv.key_len = (int32_t)strlen(argv[a + 1]);
	} else {
		rec.kv.key_len = -1;
	}
	rec.kv.value = (const uint8_t *)argv[a + 2];
	rec.kv.value_len = (int32_t)strlen(argv[a + 2]);
	rec.headers = headers;
	rec.header_count = (size_t)nh;
	begin_wait(c);
	if (kproducer_send(&c->prod, argv[a], (int32_t)partition, &rec, NULL, &e) != KLAB_OK)
		return repl_error(r, "produce: %s", kerr_msg(&e));
	kproducer_flush(&c->prod);
	if (!wait_done(c, CL_WAIT_MS + 1000, 0))
		return repl_error(r, "produce: no answer yet (the record is still being retried)");
	if (c->err != KLAB_OK && partition_missing(c, &c->prod.kc, "produce", argv[a], partition))
		return -1;
	if (c->err != KLAB_OK)
		return repl_error(r, "produce: %s%s%s%s", klab_strerror(c->err),
				  c->last_kafka_error ? " (last error " : "",
				  c->last_kafka_error ? kclient_error_name(c->last_kafka_error)
						      : "",
				  c->last_kafka_error ? ")" : "");
	repl_printf(r, "%s-%d offset %lld\n", argv[a], (int)c->last_partition,
		    (long long)c->last_offset);
	return 0;
}

static void
free_recs(struct cluster_shell *c)
{
	for (int i = 0; i < c->nrecs; i++) {
		free(c->recs[i].key);
		free(c->recs[i].value);
	}
	c->nrecs = 0;
}

static int
cmd_consume(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t partition = -1, max = 100, from = KCONSUMER_EARLIEST;
	bool by_offset = false;
	int32_t p32;
	int rc;

	if (!have_world(c))
		return -1;
	for (int i = 2; i < argc; i += 2) { /* OPTION VALUE pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return repl_usage(r, repl_find(r, "consume"));
		if (strcmp(argv[i], "-p") == 0) {
			if (!repl_arg_i64(r, v, "partition", 0, INT32_MAX, &partition))
				return -1;
		} else if (strcmp(argv[i], "-n") == 0) {
			if (!repl_arg_i64(r, v, "max records", 1, CL_MAX_RECORDS, &max))
				return -1;
		} else if (strcmp(argv[i], "--from") == 0) {
			by_offset = false;
			if (strcmp(v, "earliest") == 0)
				from = KCONSUMER_EARLIEST;
			else if (strcmp(v, "latest") == 0)
				from = KCONSUMER_LATEST;
			else if (v[0] == '@') {
				if (!repl_arg_i64(r, v + 1, "timestamp", 0, INT64_MAX, &from))
					return -1;
			} else if (strspn(v, "0123456789") != strlen(v)) {
				return repl_error(r,
						  "--from must be earliest, latest, an OFFSET or "
						  "@TIMESTAMP (ms), not '%s'",
						  v);
			} else {
				if (!repl_arg_i64(r, v, "offset", 0, INT64_MAX, &from))
					return -1;
				by_offset = true;
			}
		} else {
			return repl_usage(r, repl_find(r, "consume"));
		}
	}
	free_recs(c);
	c->max_recs = (int)max;
	c->last_record_ms = 0;
	p32 = (int32_t)partition;
	rc = kconsumer_assign(&c->cons, argv[1], partition < 0 ? NULL : &p32,
			      partition < 0 ? -1 : 1);
	if (rc == KLAB_OK)
		rc = by_offset ? kconsumer_seek_offset(&c->cons, -1, from)
			       : kconsumer_seek(&c->cons, -1, from);
	if (rc != KLAB_OK)
		return repl_error(r, "consume: %s", klab_strerror(rc));
	begin_wait(c);
	c->last_record_ms = now_ms(c); /* quiet from now: stop after CL_CONSUME_IDLE_MS */
	wait_done(c, CL_WAIT_MS, CL_CONSUME_IDLE_MS);
	kconsumer_assign(&c->cons, argv[1], NULL, 0); /* stop fetching */
	if (c->nrecs == 0 && partition_missing(c, &c->cons.kc, "consume", argv[1], partition))
		return -1;
	for (int i = 0; i < c->nrecs; i++) {
		const struct cl_rec *x = &c->recs[i];

		repl_printf(r, "%s-%d @%lld key=%s value=%s\n", argv[1], (int)x->partition,
			    (long long)x->offset, x->key ? x->key : "null",
			    x->value ? x->value : "null");
	}
	repl_printf(r, "(%d record%s)\n", c->nrecs, c->nrecs == 1 ? "" : "s");
	free_recs(c);
	return 0;
}

/*
 * produce-many TOPIC N [KEYS]: N records with KEYS distinct keys (key-0,
 * key-1, ...; default: every record its own key), sent as fast as the
 * producer takes them; then how many went to each partition and broker.
 */
#define MANY_MAX 1000000
#define MANY_PARTS 1024

static int
cmd_produce_many(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n, keys, sent = 0, per_broker[CL_MAX_BROKERS + 1] = { 0 };
	int64_t counts[MANY_PARTS] = { 0 };
	const struct kc_topic *t;
	char key[32], value[32];
	struct kerr e = { 0 };

	if (!have_world(c) || !repl_arg_i64(r, argv[2], "records", 1, MANY_MAX, &n))
		return -1;
	keys = n;
	if (argc == 4 && !repl_arg_i64(r, argv[3], "keys", 1, MANY_MAX, &keys))
		return -1;
	c->delivered = c->failed = 0;
	c->per_partition = counts;
	c->nper = MANY_PARTS;
	while (sent < n) {
		struct record_in rec = { .timestamp = -1 };
		int rc;

		snprintf(key, sizeof(key), "key-%lld", (long long)(sent % keys));
		snprintf(value, sizeof(value), "v-%lld", (long long)sent);
		rec.kv = (struct kv){ (const uint8_t *)key, (int32_t)strlen(key),
				      (const uint8_t *)value, (int32_t)strlen(value) };
		rc = kproducer_send(&c->prod, argv[1], PARTITION_ANY, &rec, NULL, &e);
		if (rc == KLAB_EFULL) { /* buffer.memory is full: let batches go out */
			int64_t before = c->delivered + c->failed;

			kproducer_flush(&c->prod);
			begin_wait(c);
			while (c->delivered + c->failed == before && wait_done(c, CL_WAIT_MS, 0))
				c->done = false;
			if (c->delivered + c->failed == before)
				break;
			continue;
		}
		if (rc != KLAB_OK) {
			c->per_partition = NULL;
			return repl_error(r, "produce-many: %s", kerr_msg(&e));
		}
		sent++;
	}
	kproducer_flush(&c->prod);
	while (c->delivered + c->failed < sent) {
		begin_wait(c);
		if (!wait_done(c, CL_WAIT_MS + 1000, 0))
			break;
	}
	c->per_partition = NULL;
	repl_printf(r, "sent %lld, delivered %d, failed %d\n", (long long)sent, c->delivered,
		    c->failed);
	t = kclient_topic(&c->prod.kc, argv[1]);
	for (int32_t p = 0; t != NULL && p < t->npartitions && p < MANY_PARTS; p++) {
		int32_t leader = kclient_leader(&c->prod.kc, argv[1], p);

		repl_printf(r, "  %s-%d  leader %d  %lld\n", argv[1], (int)p, (int)leader,
			    (long long)counts[p]);
		if (leader >= 1 && leader <= CL_MAX_BROKERS)
			per_broker[leader] += counts[p];
	}
	repl_printf(r, "  per broker:");
	for (int b = 1; b <= CL_MAX_BROKERS; b++)
		if (per_broker[b] > 0)
			repl_printf(r, "  %d: %lld", b, (long long)per_broker[b]);
	repl_printf(r, "\n");
	return c->failed > 0 ? repl_error(r, "%d records were not delivered", c->failed) : 0;
}

/* ---- dot -------------------------------------------------------------------------- */

/* One client node and an edge to each broker it holds a ready connection to. */
static void
dot_client(FILE *f, const char *name, const struct kclient *kc)
{
	fprintf(f, "  \"%s\" [shape=box, style=rounded, label=\"%s\"];\n", name, name);
	for (int i = 0; i < kc->nslots; i++) {
		const struct kc_slot *s = &kc->slots[i];

		if (s->state != KC_READY)
			continue;
		if (s->node_id >= 0)
			fprintf(f, "  \"%s\" -> \"broker-%d\";\n", name, (int)s->node_id);
		else
			fprintf(f, "  \"%s\" -> \"%s\" [style=dashed, label=\"bootstrap\"];\n",
				name, s->host);
	}
}

/*
 * Each broker as it sees the cluster: the topics it knows and the
 * partitions it leads (a broker that missed a create knows fewer).
 */
static void
dot_cluster(FILE *f, const struct cluster_shell *c)
{
	dot_begin(f, "cluster", "LR");
	for (int i = 0; i < c->nbrokers; i++) {
		const struct cl_broker *cb = &c->brokers[i];
		const struct topic_store *st = cb->up ? cb->b.store : NULL;

		fprintf(f,
			"  \"broker-%d\" [label=<<table border=\"1\" cellborder=\"0\" "
			"bgcolor=\"%s\">"
			"<tr><td><b>broker %d</b>%s</td></tr>",
			i + 1, cb->up ? "#eaf2fb" : "#dddddd", i + 1, cb->up ? "" : " (down)");
		for (size_t t = 0; st != NULL && t < st->n; t++) {
			const struct topic *tp = st->topics[t];
			int any = 0;

			fprintf(f, "<tr><td align=\"left\">");
			dot_html_escape(f, tp->name);
			fprintf(f, " (%d): leads", (int)tp->partitions);
			for (int32_t p = 0; p < tp->partitions; p++)
				if (tp->logs[p] != NULL)
					fprintf(f, "%s%d", any++ ? "," : " ", (int)p);
			fprintf(f, "%s</td></tr>", any ? "" : " none");
		}
		fprintf(f, "</table>>];\n");
	}
	fprintf(f, "  { rank=same;");
	for (int i = 0; i < c->nbrokers; i++)
		fprintf(f, " \"broker-%d\";", i + 1);
	fprintf(f, " }\n");
	if (c->clients_on) {
		dot_client(f, "admin", &c->admin);
		dot_client(f, "producer", &c->prod.kc);
		dot_client(f, "consumer", &c->cons.kc);
	}
	dot_end(f);
}

static int
cmd_dot(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	const char *base = argc > 1 ? argv[1] : "cluster";
	char path[4096];
	struct kerr e = { 0 };
	FILE *f;

	if (!need_sim(c, "dot"))
		return -1;
	snprintf(path, sizeof(path), "%s.dot", base);
	if ((f = fopen(path, "w")) == NULL)
		return repl_error(r, "%s: cannot write", path);
	dot_cluster(f, c);
	if (fclose(f) != 0)
		return repl_error(r, "%s: write failed", path);
	if (dot_render(base, &e) != KLAB_OK)
		return repl_error(r, "wrote %s, but %s", path, kerr_msg(&e));
	repl_printf(r, "wrote %s.dot, %s.svg and %s.png\n", base, base, base);
	return 0;
}

/* ---- connect: the same clients against a real cluster ------------------------------ */

static void
real_log_line(void *arg, const char *line)
{
	struct cluster_shell *c = arg;

	repl_printf(c->r, "  | %s\n", line);
}

static int
cmd_connect(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	struct real_config rc;

	(void)argc;
	if (!bootstrap_ok(c, argv[1]))
		return -1;
	clients_free(c);
	sim_world_free(c);
	real_world_free(c);
	real_config_defaults(&rc);
	rc.handle_signals = false;
	rc.log = real_log_line;
	rc.log_arg = c;
	if ((c->real = real_new(&rc)) == NULL)
		return repl_error(r, "cannot create the runtime");
	snprintf(c->bootstrap, sizeof(c->bootstrap), "%s", argv[1]);
	if (clients_init(c) != 0) {
		real_world_free(c);
		return -1;
	}
	if (real_add_node(c->real, "admin", &kclient_node_ops, &c->admin, NULL) < 0 ||
	    real_add_node(c->real, "producer", &kclient_node_ops, &c->prod.kc, NULL) < 0 ||
	    real_add_node(c->real, "consumer", &kclient_node_ops, &c->cons.kc, NULL) < 0) {
		clients_free(c);
		real_world_free(c);
		return repl_error(r, "cannot add the client nodes");
	}
	real_poll(c->real, 0); /* start the client nodes */
	if (refresh_admin(c) != 0)
		return -1;
	repl_printf(r, "connected to %s: %d broker%s\n", c->bootstrap,
		    c->admin.nslots - c->admin.nbootstrap,
		    c->admin.nslots - c->admin.nbootstrap == 1 ? "" : "s");
	return 0;
}

/* ---- the table ------------------------------------------------------------------- */

static int
cluster_shell_init(struct repl *r, void **state)
{
	struct cluster_shell *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	*state = c;
	c->r = r;
	buf_init(&c->resp_bytes);
	if (repl_first_log_dir(r, c->base, sizeof(c->base))) {
		if (mkdir(c->base, 0755) != 0 && access(c->base, W_OK) != 0) {
			fprintf(stderr, "klab: cannot use log directory %s\n", c->base);
			return -1;
		}
	} else {
		snprintf(c->base, sizeof(c->base), "/tmp/klab-cluster-XXXXXX");
		if (mkdtemp(c->base) == NULL) {
			fprintf(stderr, "klab: cannot make a temporary directory\n");
			return -1;
		}
		c->base_is_tmp = true;
	}
	{
		static const struct config_key seed_key = { "klab.seed",
							    CONFIG_LONG,
							    "1",
							    0,
							    INT64_MAX,
							    NULL,
							    "the simulated cluster's seed" };
		int64_t seed;
		struct kerr e = { 0 };

		if (config_long(&r->cfg, &seed_key, &seed, &e) != KLAB_OK) {
			fprintf(stderr, "klab: %s\n", kerr_msg(&e));
			return -1;
		}
		return cluster_start(c, 3, (uint64_t)seed) == 0 ? 0 : -1;
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cluster_shell_fini(struct repl *r, void *state)
{
	struct cluster_shell *c = state;

	(void)r;
	clients_free(c);
	sim_world_free(c);
	real_world_free(c);
	pvalue_free(c->resp);
	buf_free(&c->resp_bytes);
	free_recs(c);
	if (c->base_is_tmp)
		nftw(c->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
}

/*
 * After every command the simulation runs on for a moment (TICK_MS of
 * virtual time), so that what a command set going - a broker telling the
 * others about a topic - shows up before the next prompt.
 */
#define TICK_MS 50

static void
cluster_shell_tick(struct repl *r, void *state)
{
	struct cluster_shell *c = state;

	(void)r;
	if (c->sim_on)
		sim_run_for(&c->sim, TICK_MS);
}

static const struct repl_cmd cluster_cmds[] = {
	{ "cluster", "[start [BROKERS] [SEED]]", "start a simulated cluster, or show its brokers",
	  "  cluster start [N] [SEED]   N brokers (1-5, default 3), broker-1..N:9092, each with\n"
	  "                             its own directory under log.dirs; the clients (admin,\n"
	  "                             producer, consumer) bootstrap from broker-1:9092\n"
	  "  cluster                    each broker: up or down, topics it knows, partitions it\n"
	  "                             holds (as the broker itself sees it)",
	  0, 3, cmd_cluster },
	{ "broker", "kill|restart ID", "crash a broker, or start it again on its directory",
	  "A killed broker loses what it had not flushed (its page cache); its\n"
	  "partitions are unavailable until it restarts: there is no other copy\n"
	  "before chapter 5.",
	  2, 2, cmd_broker },
	{ "net", "partition IDS / IDS ... | heal", "cut the network between groups of brokers",
	  "  net partition 1,2 / 3     brokers 1 and 2 on one side, 3 alone; the clients\n"
	  "                            stay with the first group unless a group names `clients`\n"
	  "  net heal                  everyone can talk again",
	  1, -1, cmd_net },
	{ "run", "DURATION", "let virtual time pass (250, 250ms, 2s)", NULL, 1, 1, cmd_run },
	{ "step", "[N]", "deliver the next N events, showing each", NULL, 0, 1, cmd_step },
	{ "trace", "on|off", "print every frame on the network, decoded", NULL, 1, 1, cmd_trace },
	{ "bootstrap", "HOST:PORT[,HOST:PORT...]",
	  "restart the clients with these bootstrap servers", NULL, 1, 1, cmd_bootstrap },
	{ "topic", "create|delete|list|describe ...", "manage topics through the admin client",
	  "  topic create NAME [PARTITIONS] [KEY=VALUE ...]\n"
	  "  topic delete NAME\n"
	  "  topic list\n"
	  "  topic describe [NAME]\n"
	  "The admin client sends CreateTopics / DeleteTopics / Metadata to a broker\n"
	  "it knows; that broker places the partitions and tells the others.",
	  1, -1, cmd_topic },
	{ "produce", "[-p PARTITION] TOPIC KEY VALUE [HEADER=VALUE ...]",
	  "send one record through the producer client and wait for its offset (KEY '-' is null)",
	  NULL, 3, -1, cmd_produce },
	{ "produce-many", "TOPIC N [KEYS]",
	  "send N records (KEYS distinct keys) and show where they went, by partition and broker",
	  NULL, 2, 3, cmd_produce_many },
	{ "consume", "TOPIC [-p PARTITION] [--from earliest|latest|OFFSET|@TIMESTAMP] [-n MAX]",
	  "read records through the consumer client (stops after 1 s without records)", NULL, 1, 7,
	  cmd_consume },
	{ "metadata", "[BROKER_ID]", "brokers and partition leaders, as one broker (or any) says",
	  NULL, 0, 1, cmd_metadata },
	{ "dot", "[FILE]", "draw brokers, the partitions they lead, client connections", NULL, 0, 1,
	  cmd_dot },
	{ "connect", "HOST:PORT[,HOST:PORT...]", "use a real cluster (klab broker, Kafka) instead",
	  NULL, 1, 1, cmd_connect },
};

const struct repl_table repl_cluster_table = {
	.name = "cluster",
	.title = "stage 3: brokers",
	.cmds = cluster_cmds,
	.ncmds = (int)(sizeof(cluster_cmds) / sizeof(cluster_cmds[0])),
	.init = cluster_shell_init,
	.fini = cluster_shell_fini,
	.tick = cluster_shell_tick,
};
