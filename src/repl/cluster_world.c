/*
 * cluster_world.c - the world of the stage-3 shell (cluster_shell.h): a
 * simulated cluster of brokers and three client nodes (admin, producer,
 * consumer), or the same clients on the real runtime after `connect`, and
 * running it until what a command waits for has happened.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "repl/cluster_shell.h"

#include "net/disk_real.h"

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

int64_t
cl_now_ms(const struct cluster_shell *c)
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
bool
cl_wait_flag(struct cluster_shell *c, const bool *flag, int64_t max_ms, int64_t quiet_ms)
{
	int64_t end = cl_now_ms(c) + max_ms;

	while (!*flag) {
		/* a real cluster none of whose bootstrap servers took a connection */
		if (!c->sim_on && c->clients_on && !c->admin.reached_broker &&
		    c->admin.connects_failed >= (uint64_t)c->admin.nbootstrap)
			return false;
		if (quiet_ms > 0 && c->last_record_ms > 0 &&
		    cl_now_ms(c) - c->last_record_ms >= quiet_ms)
			return true;
		if (cl_now_ms(c) >= end)
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

bool
cl_wait_done(struct cluster_shell *c, int64_t max_ms, int64_t quiet_ms)
{
	return cl_wait_flag(c, &c->done, max_ms, quiet_ms);
}

void
cl_begin_wait(struct cluster_shell *c)
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
void
cl_admin_answer(struct kclient *kc, void *arg, int err, int16_t version, const struct pvalue *resp)
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

int
cl_wait_answer(struct cluster_shell *c, const char *what)
{
	if (!cl_wait_done(c, CL_WAIT_MS, 0))
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
	c->last_record_ms = cl_now_ms(c);
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

void
cl_clients_free(struct cluster_shell *c)
{
	if (!c->clients_on)
		return;
	kclient_free(&c->admin);
	kproducer_free(&c->prod);
	kconsumer_free(&c->cons);
	c->clients_on = false;
}

/* Set up the three client states for c->bootstrap. */
int
cl_clients_init(struct cluster_shell *c)
{
	struct kclient_config cc;
	struct kproducer_config pc;
	struct kconsumer_config kc;
	struct kclient_hooks hooks = { .on_metadata = admin_metadata, .app = c };
	const struct config_entry *idem;
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
	/* enable.idempotence from the shell's settings (unset: Kafka's default, true) */
	if ((idem = config_find(&c->r->cfg, "enable.idempotence")) != NULL)
		pc.idempotence =
			strcmp(idem->value, "false") == 0 ? KP_IDEMPOTENCE_OFF : KP_IDEMPOTENCE_ON;
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

void
cl_sim_free(struct cluster_shell *c)
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

void
cl_real_free(struct cluster_shell *c)
{
	if (c->real == NULL)
		return;
	real_shutdown(c->real);
	real_free(c->real);
	c->real = NULL;
}

int
cl_broker_index(struct cluster_shell *c, const char *arg)
{
	int64_t id;

	if (!c->sim_on)
		return repl_error(c->r, "no simulated cluster (connect uses real brokers)");
	if (!repl_arg_i64(c->r, arg, "broker id", 1, c->nbrokers, &id))
		return -1;
	return (int)id - 1;
}

int
cl_start(struct cluster_shell *c, int n, uint64_t seed)
{
	char members[1024] = "", dir[4200];
	struct kerr e = { 0 };

	cl_clients_free(c);
	cl_sim_free(c);
	cl_real_free(c);
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
		if (cb->node < 0)
			return repl_error(c->r, "out of memory");
		sim_on_crash(&c->sim, cb->node, broker_crash_hook);
		/* its simulated disk shows in the real directory (ls, klab dump-log) */
		if (fs_mkdirs(disk_real(), dir, &e) != KLAB_OK ||
		    disk_sim_mirror(sim_disk_of(&c->sim, cb->node), disk_real(), dir, &e) !=
			    KLAB_OK)
			return repl_error(c->r, "%s", kerr_msg(&e));
		cb->up = true;
	}
	c->nbrokers = n;
	snprintf(c->bootstrap, sizeof(c->bootstrap), "broker-1:%d", CL_PORT);
	if (cl_clients_init(c) != 0)
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
int
cl_clients_restart(struct cluster_shell *c)
{
	int nodes[3] = { c->admin_node, c->prod_node, c->cons_node };

	if (c->sim_on)
		for (int i = 0; i < 3; i++)
			sim_crash(&c->sim, nodes[i]);
	cl_clients_free(c);
	if (cl_clients_init(c) != 0)
		return -1;
	if (c->sim_on) {
		sim_node(&c->sim, c->admin_node)->state = &c->admin;
		sim_node(&c->sim, c->prod_node)->state = &c->prod.kc;
		sim_node(&c->sim, c->cons_node)->state = &c->cons.kc;
		for (int i = 0; i < 3; i++)
			sim_restart(&c->sim, nodes[i]);
		sim_run_for(&c->sim, 1);
	} else {
		cl_real_free(c);
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
int
cl_refresh_admin(struct cluster_shell *c)
{
	c->meta_done = false;
	kclient_refresh_metadata(&c->admin);
	if (!cl_wait_flag(c, &c->meta_done, CL_WAIT_MS, 0) || !c->admin.metadata_known)
		return repl_error(c->r, "no broker answered Metadata (bootstrap %s%s%s)",
				  c->bootstrap, c->admin.connects_failed > 0 ? "; " : "",
				  c->admin.connects_failed > 0 ? kerr_msg(&c->admin.connect_error)
							       : "");
	return 0;
}

bool
cl_have_world(struct cluster_shell *c)
{
	if (c->clients_on)
		return true;
	repl_error(c->r, "no cluster: `cluster start` or `connect HOST:PORT`");
	return false;
}

bool
cl_need_sim(struct cluster_shell *c, const char *what)
{
	if (c->sim_on)
		return true;
	repl_error(c->r, "%s needs the simulated cluster (`cluster start`)", what);
	return false;
}
