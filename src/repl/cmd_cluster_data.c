/*
 * cmd_cluster_data.c - the stage-3 shell's commands that use the cluster
 * through its clients (cluster_shell.h): topic, metadata, produce,
 * produce-many, consume, dot.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/cluster_shell.h"
#include "viz/dot.h"

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

int
cl_cmd_metadata(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t id = KCLIENT_ANY;
	struct pvalue *body;
	int rc;

	if (!cl_have_world(c) ||
	    (argc == 2 && !repl_arg_i64(r, argv[1], "broker id", 0, INT32_MAX, &id)))
		return -1;
	if (id != KCLIENT_ANY && cl_refresh_admin(c) != 0)
		return -1;
	/* a connection that dropped meanwhile (a cut that timed out) is tried once more */
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((body = pvalue_new(proto_api(KAPI_METADATA)->request)) == NULL)
			return repl_error(r, "out of memory");
		pvalue_array_set_null(pvalue_array(body, "topics"));
		pvalue_set_int(body, "allow_auto_topic_creation", 0);
		cl_begin_wait(c);
		rc = kclient_request(&c->admin, (int32_t)id, KAPI_METADATA, 12, body, false,
				     cl_admin_answer, c);
		if (rc == KLAB_ENOTFOUND)
			return repl_error(r, "the metadata names no broker %lld", (long long)id);
		if (rc != KLAB_OK)
			return repl_error(r, "metadata: %s", klab_strerror(rc));
		if (!cl_wait_done(c, CL_WAIT_MS, 0) || c->err != KLAB_EIO)
			break;
	}
	if (cl_wait_answer(c, "metadata") != 0)
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

int
cl_cmd_topic(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	struct kadmin_config cfgs[32];
	int64_t partitions = -1;
	int32_t ncfg = 0;
	struct kerr e = { 0 };
	int rc;

	if (!cl_have_world(c))
		return -1;
	/* before a request is built: a name too long for Kafka is a clear error */
	if (argc >= 3 && strcmp(argv[1], "list") != 0 && kadmin_check_topic(argv[2], &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	cl_begin_wait(c);
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
					 CL_WAIT_MS, cl_admin_answer, c);
		if (rc != KLAB_OK || cl_wait_answer(c, "topic create") != 0)
			return rc != KLAB_OK ? repl_error(r, "%s", klab_strerror(rc)) : -1;
		repl_printf(r, "(asked %s)\n", c->answered_by);
		return topic_result(c, "topics", "created topic '%s'\n", argv[2]);
	}
	if (strcmp(argv[1], "delete") == 0 && argc == 3) {
		rc = kadmin_delete_topic(&c->admin, argv[2], CL_WAIT_MS, cl_admin_answer, c);
		if (rc != KLAB_OK || cl_wait_answer(c, "topic delete") != 0)
			return rc != KLAB_OK ? repl_error(r, "%s", klab_strerror(rc)) : -1;
		return topic_result(c, "responses", "deleted topic '%s'\n", argv[2]);
	}
	if ((strcmp(argv[1], "list") == 0 && argc == 2) ||
	    (strcmp(argv[1], "describe") == 0 && argc <= 3)) {
		bool list = strcmp(argv[1], "list") == 0;
		const struct pvalue *ts;

		rc = kadmin_metadata(&c->admin, argc == 3 ? argv[2] : NULL, cl_admin_answer, c);
		if (rc != KLAB_OK || cl_wait_answer(c, "metadata") != 0)
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

int
cl_cmd_produce(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t partition = PARTITION_ANY;
	struct kv headers[16];
	struct record_in rec;
	struct kerr e = { 0 };
	int a = 1, nh;

	if (!cl_have_world(c))
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
	cl_begin_wait(c);
	if (kproducer_send(&c->prod, argv[a], (int32_t)partition, &rec, NULL, &e) != KLAB_OK)
		return repl_error(r, "produce: %s", kerr_msg(&e));
	kproducer_flush(&c->prod);
	if (!cl_wait_done(c, CL_WAIT_MS + 1000, 0))
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

void
cl_free_recs(struct cluster_shell *c)
{
	for (int i = 0; i < c->nrecs; i++) {
		free(c->recs[i].key);
		free(c->recs[i].value);
	}
	c->nrecs = 0;
}

/* --from earliest | latest | @TIMESTAMP | OFFSET */
static bool
parse_from(struct repl *r, const char *v, int64_t *from, bool *by_offset)
{
	bool digits = strspn(v, "0123456789") == strlen(v);

	*by_offset = digits;
	if (strcmp(v, "earliest") == 0)
		*from = KCONSUMER_EARLIEST;
	else if (strcmp(v, "latest") == 0)
		*from = KCONSUMER_LATEST;
	else if (v[0] == '@')
		return repl_arg_i64(r, v + 1, "timestamp", 0, INT64_MAX, from);
	else if (digits)
		return repl_arg_i64(r, v, "offset", 0, INT64_MAX, from);
	else
		return repl_error(r,
				  "--from must be earliest, latest, an OFFSET or @TIMESTAMP (ms), "
				  "not '%s'",
				  v) == 0;
	return true;
}

int
cl_cmd_consume(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t partition = -1, max = 100, from = KCONSUMER_EARLIEST;
	bool by_offset = false;
	int32_t p32;
	int rc;

	if (!cl_have_world(c))
		return -1;
	for (int i = 2; i < argc; i += 2) { /* OPTION VALUE pairs */
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok;

		if (v == NULL)
			return repl_usage(r, repl_find(r, "consume"));
		if (strcmp(argv[i], "-p") == 0)
			ok = repl_arg_i64(r, v, "partition", 0, INT32_MAX, &partition);
		else if (strcmp(argv[i], "-n") == 0)
			ok = repl_arg_i64(r, v, "max records", 1, CL_MAX_RECORDS, &max);
		else if (strcmp(argv[i], "--from") == 0)
			ok = parse_from(r, v, &from, &by_offset);
		else
			return repl_usage(r, repl_find(r, "consume"));
		if (!ok)
			return -1;
	}
	cl_free_recs(c);
	c->max_recs = (int)max;
	p32 = (int32_t)partition;
	rc = kconsumer_assign(&c->cons, argv[1], partition < 0 ? NULL : &p32,
			      partition < 0 ? -1 : 1);
	if (rc == KLAB_OK)
		rc = by_offset ? kconsumer_seek_offset(&c->cons, -1, from)
			       : kconsumer_seek(&c->cons, -1, from);
	if (rc != KLAB_OK)
		return repl_error(r, "consume: %s", klab_strerror(rc));
	cl_begin_wait(c);
	c->last_record_ms = cl_now_ms(c); /* quiet from now: stop after CL_CONSUME_IDLE_MS */
	cl_wait_done(c, CL_WAIT_MS, CL_CONSUME_IDLE_MS);
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
	cl_free_recs(c);
	return 0;
}

/*
 * produce-many TOPIC N [KEYS]: N records with KEYS distinct keys (key-0,
 * key-1, ...; default: every record its own key), sent as fast as the
 * producer takes them; then how many went to each partition and broker.
 */
#define MANY_MAX 1000000
#define MANY_PARTS 1024

int
cl_cmd_produce_many(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n, keys, sent = 0, per_broker[CL_MAX_BROKERS + 1] = { 0 };
	int64_t counts[MANY_PARTS] = { 0 };
	const struct kc_topic *t;
	char key[32], value[32];
	struct kerr e = { 0 };

	if (!cl_have_world(c) || !repl_arg_i64(r, argv[2], "records", 1, MANY_MAX, &n))
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
			cl_begin_wait(c);
			while (c->delivered + c->failed == before && cl_wait_done(c, CL_WAIT_MS, 0))
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
		cl_begin_wait(c);
		if (!cl_wait_done(c, CL_WAIT_MS + 1000, 0))
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

int
cl_cmd_dot(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	const char *base = argc > 1 ? argv[1] : "cluster";
	char path[4096];
	struct kerr e = { 0 };
	FILE *f;

	if (!cl_need_sim(c, "dot"))
		return -1;
	if (dot_check_base(base, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
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
