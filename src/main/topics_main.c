/*
 * topics_main.c - `klab topics`, shaped like Kafka's kafka-topics.sh
 * (chapter 3 §4):
 *
 *   klab topics --bootstrap-server H:P[,H:P] --create --topic T
 *               [--partitions N] [--replication-factor R] [--config k=v]...
 *   klab topics --bootstrap-server ... --list
 *   klab topics --bootstrap-server ... --describe [--topic T]
 *   klab topics --bootstrap-server ... --delete --topic T
 *   [--timeout-ms N]   how long to wait for the cluster (30000)
 *
 * Output as Kafka's: "Created topic T.", one name per line for --list
 * (sorted), and for --describe a topic line and a line per partition
 * (TopicId and Configs are left out: the topic id reaches a client only in
 * Metadata v10+, whose topic_id klab's codec does not speak yet - the
 * broker has one, topic.h - and klab has no DescribeConfigs yet).
 * A refused request prints "Error while executing topic command : ..."
 * and exits 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "client/admin.h"
#include "main/tools.h"

#define MAX_CONFIGS 64

enum action { NONE, CREATE, LIST, DESCRIBE, DELETE };

struct topics {
	struct kclient kc;
	struct real *rt;
	enum action action;
	const char *topic;
	int32_t partitions;
	int16_t replication;
	struct kadmin_config configs[MAX_CONFIGS];
	int32_t nconfigs;
	int64_t timeout_ms;
	int exit_code;
};

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "klab topics: %s\n", why);
	fprintf(stderr,
		"usage: klab topics --bootstrap-server HOST:PORT[,HOST:PORT] ACTION [OPTIONS]\n"
		"  --create --topic T [--partitions N] [--replication-factor R] [--config K=V]...\n"
		"  --list\n"
		"  --describe [--topic T]\n"
		"  --delete --topic T\n"
		"  --timeout-ms N     how long to wait for the cluster (default 30000)\n");
	return 2;
}

static void
fail(struct topics *t, const char *fmt, const char *arg)
{
	fprintf(stderr, "Error while executing topic command : ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	t->exit_code = 1;
}

static void
request_failed(struct topics *t, int err)
{
	char msg[1024];

	tools_request_error(&t->kc, err, msg, sizeof(msg));
	fail(t, "%s", msg);
}

/* An error code and message of a CreateTopics / DeleteTopics result. */
static void
topic_error(struct topics *t, const struct pvalue *r)
{
	int16_t code = (int16_t)pvalue_get_int(r, "error_code");
	int32_t len = -1;
	const uint8_t *msg = pvalue_get(r, "error_message") != NULL
				     ? pvalue_get_bytes(r, "error_message", &len)
				     : NULL;
	char text[600];

	if (code == 3)
		snprintf(text, sizeof(text), "Topic '%s' does not exist as expected", t->topic);
	else if (code == 36)
		snprintf(text, sizeof(text), "Topic '%s' already exists.", t->topic);
	else if (msg != NULL && len > 0)
		snprintf(text, sizeof(text), "%.*s (%s)", (int)len, (const char *)msg,
			 kclient_error_name(code));
	else
		snprintf(text, sizeof(text), "%s", kclient_error_name(code));
	fail(t, "%s", text);
}

static void
on_change(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct topics *t = arg;
	const struct pvalue *arr;

	(void)kc;
	(void)v;
	if (err != KLAB_OK) {
		request_failed(t, err);
	} else {
		arr = pvalue_array(resp, t->action == CREATE ? "topics" : "responses");
		if (pvalue_count(arr) < 1)
			fail(t, "%s", "the broker's answer names no topic");
		else if (pvalue_get_int(pvalue_at(arr, 0), "error_code") != 0)
			topic_error(t, pvalue_at(arr, 0));
		else if (t->action == CREATE)
			printf("Created topic %s.\n", t->topic);
	}
	tools_stop(t->rt);
}

/* ---- list and describe ------------------------------------------------------------ */

struct named {
	char name[KCLIENT_TOPIC_MAX];
	const struct pvalue *v;
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static void
print_ids(const char *label, const struct pvalue *arr)
{
	printf("\t%s: ", label);
	for (int32_t i = 0; i < pvalue_count(arr); i++)
		printf("%s%" PRId64, i ? "," : "", pvalue_at(arr, i)->i);
}

/* Metadata v10+ carries each topic's id (KIP-516), printed as kafka-topics.sh does. */
static void
describe(const struct named *n, int16_t v)
{
	const struct pvalue *parts = pvalue_array(n->v, "partitions");
	int32_t np = pvalue_count(parts), rf = 0;
	uint8_t id[UUID_BYTES] = { 0 };
	char text[UUID_STRING_LEN + 1];

	if (np > 0)
		rf = pvalue_count(pvalue_array(pvalue_at(parts, 0), "replica_nodes"));
	printf("Topic: %s", n->name);
	if (v >= 10)
		pvalue_get_uuid(n->v, "topic_id", id);
	if (!uuid_is_zero(id)) {
		uuid_to_string(id, text);
		printf("\tTopicId: %s", text);
	}
	printf("\tPartitionCount: %" PRId32 "\tReplicationFactor: %" PRId32 "\n", np, rf);
	for (int32_t i = 0; i < np; i++) {
		const struct pvalue *p = NULL;

		for (int32_t j = 0; j < np && p == NULL; j++) /* in partition order */
			if (pvalue_get_int(pvalue_at(parts, j), "partition_index") == i)
				p = pvalue_at(parts, j);
		if (p == NULL)
			continue;
		printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: %" PRId64, n->name, i,
		       pvalue_get_int(p, "leader_id"));
		print_ids("Replicas", pvalue_array(p, "replica_nodes"));
		print_ids("Isr", pvalue_array(p, "isr_nodes"));
		printf("\n");
	}
}

static void
on_metadata(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct topics *t = arg;
	const struct pvalue *arr;
	struct named *ns;
	int32_t n, k = 0;

	(void)kc;
	if (err != KLAB_OK) {
		request_failed(t, err);
		tools_stop(t->rt);
		return;
	}
	arr = pvalue_array(resp, "topics");
	n = pvalue_count(arr);
	ns = calloc((size_t)n + 1, sizeof(*ns));
	for (int32_t i = 0; ns != NULL && i < n; i++) {
		const struct pvalue *tv = pvalue_at(arr, i);
		int32_t len;
		const uint8_t *name = pvalue_get_bytes(tv, "name", &len);
		int16_t code = (int16_t)pvalue_get_int(tv, "error_code");

		if (code != 0 && t->topic != NULL) {
			topic_error(t, tv);
			continue;
		}
		if (name == NULL || len <= 0 || len >= KCLIENT_TOPIC_MAX || code != 0)
			continue;
		memcpy(ns[k].name, name, (size_t)len);
		ns[k].v = tv;
		k++;
	}
	if (ns != NULL) {
		qsort(ns, (size_t)k, sizeof(*ns), by_name);
		for (int32_t i = 0; i < k; i++)
			if (t->action == LIST)
				printf("%s\n", ns[i].name);
			else
				describe(&ns[i], v);
	}
	free(ns);
	tools_stop(t->rt);
}

static void
on_start(struct kclient *kc)
{
	struct topics *t = kc->hooks.app;
	int rc;

	if (t->action == CREATE)
		rc = kadmin_create_topic(kc, t->topic, t->partitions, t->replication, t->configs,
					 t->nconfigs, (int32_t)t->timeout_ms, on_change, t);
	else if (t->action == DELETE)
		rc = kadmin_delete_topic(kc, t->topic, (int32_t)t->timeout_ms, on_change, t);
	else
		rc = kadmin_metadata(kc, t->action == LIST ? NULL : t->topic, on_metadata, t);
	if (rc != KLAB_OK) {
		request_failed(t, rc);
		tools_stop(t->rt);
	}
}

/* ---- arguments -------------------------------------------------------------------- */

static int
set_action(struct topics *t, enum action a)
{
	if (t->action != NONE)
		return usage("give exactly one of --create, --list, --describe, --delete");
	t->action = a;
	return 0;
}

static int
parse(struct topics *t, int argc, char **argv, struct kclient_config *cc)
{
	struct kerr e = { 0 };
	int64_t v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(a, "--bootstrap-server") == 0 || strcmp(a, "--topic") == 0 ||
			     strcmp(a, "--partitions") == 0 ||
			     strcmp(a, "--replication-factor") == 0 || strcmp(a, "--config") == 0 ||
			     strcmp(a, "--timeout-ms") == 0;

		if (takes && val == NULL)
			return usage("an option needs a value");
		if (takes)
			i++;
		if (strcmp(a, "--create") == 0 && set_action(t, CREATE))
			return 2;
		else if (strcmp(a, "--list") == 0 && set_action(t, LIST))
			return 2;
		else if (strcmp(a, "--describe") == 0 && set_action(t, DESCRIBE))
			return 2;
		else if (strcmp(a, "--delete") == 0 && set_action(t, DELETE))
			return 2;
		else if (strcmp(a, "--bootstrap-server") == 0)
			snprintf(cc->bootstrap, sizeof(cc->bootstrap), "%s", val);
		else if (strcmp(a, "--topic") == 0)
			t->topic = val;
		else if (strcmp(a, "--partitions") == 0) {
			if (!tools_parse_long("topics", a, val, 1, 1000000, &v))
				return 2;
			t->partitions = (int32_t)v;
		} else if (strcmp(a, "--replication-factor") == 0) {
			if (!tools_parse_long("topics", a, val, 1, INT16_MAX, &v))
				return 2;
			t->replication = (int16_t)v;
		} else if (strcmp(a, "--config") == 0) {
			char *k, *cv;

			if (t->nconfigs == MAX_CONFIGS || !tools_split_kv(argv[i], &k, &cv))
				return usage("--config takes KEY=VALUE");
			t->configs[t->nconfigs++] = (struct kadmin_config){ k, cv };
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (!tools_parse_long("topics", a, val, 1, INT32_MAX, &t->timeout_ms))
				return 2;
		} else if (strcmp(a, "--create") && strcmp(a, "--list") &&
			   strcmp(a, "--describe") && strcmp(a, "--delete")) {
			fprintf(stderr, "klab topics: unknown option '%s'\n", a);
			return usage(NULL);
		}
	}
	if (cc->bootstrap[0] == '\0')
		return usage("--bootstrap-server is required");
	if (t->action == NONE)
		return usage("give one of --create, --list, --describe, --delete");
	if ((t->action == CREATE || t->action == DELETE) && t->topic == NULL)
		return usage("--topic is required with --create and --delete");
	if (t->topic != NULL && kadmin_check_topic(t->topic, &e) != KLAB_OK)
		return usage(kerr_msg(&e)); /* before a request is built: never too long for it */
	return 0;
}

int
topics_main(int argc, char **argv)
{
	struct topics *t = calloc(1, sizeof(*t));
	struct kclient_config cc;
	struct kclient_hooks hooks = { .on_start = on_start };
	struct kerr e = { 0 };
	int rc;

	if (t == NULL)
		return 1;
	kclient_config_defaults(&cc);
	t->partitions = -1; /* the broker's num.partitions */
	t->replication = -1;
	t->timeout_ms = 30000;
	if ((rc = parse(t, argc, argv, &cc)) != 0) {
		free(t);
		return rc;
	}
	cc.request_timeout_ms = t->timeout_ms;
	cc.client_id = "klab-topics";
	hooks.app = t;
	if (kclient_init(&t->kc, &cc, &hooks, &e) != KLAB_OK) {
		rc = usage(kerr_msg(&e));
		kclient_free(&t->kc);
		free(t);
		return rc;
	}
	if (tools_run("topics", &kclient_node_ops, &t->kc, &t->rt) != KLAB_OK)
		t->exit_code = 1;
	rc = t->exit_code;
	fflush(stdout);
	kclient_free(&t->kc);
	free(t);
	return rc;
}
