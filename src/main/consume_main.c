/*
 * consume_main.c - `klab consume`, shaped like Kafka's
 * kafka-console-consumer.sh (chapter 3 §4): the records of a topic, one
 * per line on stdout.
 *
 *   klab consume --bootstrap-server H:P[,H:P] --topic T
 *                [--from-beginning | --offset N|earliest|latest | --timestamp MS]
 *                [--partition P] [--max-messages N] [--timeout-ms N]
 *                [--property print.key=true] [--property print.headers=true]
 *                [--property print.offset=true] [--property print.partition=true]
 *                [--property print.timestamp=true] [--property key.separator=SEP]
 *
 * Each line is, as Kafka's DefaultMessageFormatter writes it (fields only
 * when asked for, each followed by a tab or key.separator):
 *
 *   CreateTime:1700000000000  Partition:0  Offset:42  h1:v1,h2:v2  key  value
 *
 * (NO_HEADERS when a record has none; null for a null key or value.)  At
 * the end "Processed a total of N messages" goes to stderr.
 *
 * Without --partition every partition is read.  --offset needs
 * --partition, as in Kafka.  --timeout-ms: stop when no record came for
 * that long; an unreachable cluster is an error after it (30000 without).
 * Exits 0 at --max-messages, the timeout or SIGINT; 1 when the cluster
 * cannot be reached or a partition fails; 2 for bad arguments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/consumer.h"
#include "main/tools.h"

#define START_LATEST 0
#define START_EARLIEST 1
#define START_OFFSET 2
#define START_TIMESTAMP 3

struct consume {
	struct kconsumer c;
	struct real *rt;
	const char *topic;
	int32_t partition; /* -1: all */
	int start;
	int64_t start_at; /* the offset or timestamp */
	int64_t max_messages, count;
	int64_t timeout_ms; /* 0: none */
	bool print_key, print_headers, print_offset, print_partition, print_timestamp;
	const char *key_sep;
	timer_id idle_timer;
	int exit_code;
};

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "klab consume: %s\n", why);
	fprintf(stderr,
		"usage: klab consume --bootstrap-server HOST:PORT[,HOST:PORT] --topic T [OPTIONS]\n"
		"  --from-beginning | --offset N|earliest|latest | --timestamp MS\n"
		"  --partition P         one partition (required with --offset N)\n"
		"  --max-messages N      stop after N records\n"
		"  --timeout-ms N        stop when no record came for N ms\n"
		"  --property print.key=true | print.headers=true | print.offset=true |\n"
		"             print.partition=true | print.timestamp=true | key.separator=SEP\n");
	return 2;
}

/* ---- output ----------------------------------------------------------------------- */

static void
put_bytes(const uint8_t *p, int32_t len)
{
	if (len < 0)
		fputs("null", stdout);
	else if (len > 0)
		fwrite(p, 1, (size_t)len, stdout);
}

static void
print_headers(const struct record *r)
{
	struct record rr = *r;
	struct kv h;
	int n = 0;

	while (record_header_next(&rr, &h) == 1) {
		if (n++)
			putchar(',');
		put_bytes(h.key, h.key_len);
		putchar(':');
		put_bytes(h.value, h.value_len);
	}
	if (n == 0)
		fputs("NO_HEADERS", stdout);
}

static void
arm_idle(struct consume *s)
{
	struct rt *rt = s->c.kc.node->rt;

	if (s->timeout_ms <= 0)
		return;
	if (s->idle_timer != 0)
		rt->ops->cancel_timer(rt, s->idle_timer);
	s->idle_timer = kclient_set_timer(&s->c.kc, s->timeout_ms);
}

static void
on_record(void *arg, const char *topic, int32_t partition, const struct record *r)
{
	struct consume *s = arg;

	(void)topic;
	if (s->max_messages > 0 && s->count >= s->max_messages)
		return;
	if (s->print_timestamp)
		printf("CreateTime:%" PRId64 "%s", r->timestamp, s->key_sep);
	if (s->print_partition)
		printf("Partition:%" PRId32 "%s", partition, s->key_sep);
	if (s->print_offset)
		printf("Offset:%" PRId64 "%s", r->offset, s->key_sep);
	if (s->print_headers) {
		print_headers(r);
		fputs(s->key_sep, stdout);
	}
	if (s->print_key) {
		put_bytes(r->kv.key, r->kv.key_len);
		fputs(s->key_sep, stdout);
	}
	put_bytes(r->kv.value, r->kv.value_len);
	putchar('\n');
	fflush(stdout); /* a reader at the other end of a pipe sees records as they come */
	s->count++;
	arm_idle(s);
	if (s->max_messages > 0 && s->count >= s->max_messages) {
		kconsumer_stop(&s->c);
		tools_stop(s->rt);
	}
}

static void
on_error(void *arg, int32_t partition, int err, const char *msg)
{
	struct consume *s = arg;

	if (partition < 0)
		fprintf(stderr, "klab consume: topic %s: %s\n", s->topic, msg);
	else
		fprintf(stderr, "klab consume: %s-%" PRId32 ": %s (%s)\n", s->topic, partition, msg,
			klab_strerror(err));
	s->exit_code = 1;
	tools_stop(s->rt);
}

/* ---- start and stop --------------------------------------------------------------- */

static void
on_ready(void *arg)
{
	struct consume *s = arg;
	int32_t p = s->partition;
	int rc;

	rc = kconsumer_assign(&s->c, s->topic, s->partition >= 0 ? &p : NULL,
			      s->partition >= 0 ? 1 : -1);
	if (rc == KLAB_OK && s->start == START_EARLIEST)
		rc = kconsumer_seek(&s->c, s->partition, KCONSUMER_EARLIEST);
	else if (rc == KLAB_OK && s->start == START_LATEST)
		rc = kconsumer_seek(&s->c, s->partition, KCONSUMER_LATEST);
	else if (rc == KLAB_OK && s->start == START_TIMESTAMP)
		rc = kconsumer_seek(&s->c, s->partition, s->start_at);
	else if (rc == KLAB_OK)
		rc = kconsumer_seek_offset(&s->c, s->partition, s->start_at);
	if (rc != KLAB_OK) {
		fprintf(stderr, "klab consume: cannot assign %s: %s\n", s->topic,
			klab_strerror(rc));
		s->exit_code = 1;
		tools_stop(s->rt);
		return;
	}
	/* the first deadline: reach the cluster (and, with --timeout-ms, get a record) */
	s->idle_timer = kclient_set_timer(
		&s->c.kc, s->timeout_ms > 0 ? s->timeout_ms : s->c.kc.cfg.request_timeout_ms);
}

static void
on_timer(void *arg, timer_id t)
{
	struct consume *s = arg;
	char msg[1024];

	if (t != s->idle_timer)
		return;
	s->idle_timer = 0;
	if (!s->c.kc.metadata_known ||
	    kconsumer_position(&s->c, s->partition >= 0 ? s->partition : 0) < 0) {
		if (!s->c.kc.reached_broker) {
			tools_request_error(&s->c.kc, KLAB_ETIMEDOUT, msg, sizeof(msg));
			fprintf(stderr, "klab consume: %s\n", msg);
			s->exit_code = 1;
			tools_stop(s->rt);
			return;
		}
	}
	if (s->timeout_ms > 0) /* no record for --timeout-ms: done */
		tools_stop(s->rt);
}

/* ---- arguments -------------------------------------------------------------------- */

static int
property(struct consume *s, char *kv)
{
	char *k, *v;
	bool on;

	if (!tools_split_kv(kv, &k, &v))
		return usage("--property takes KEY=VALUE");
	on = strcmp(v, "true") == 0;
	if (strcmp(k, "print.key") == 0)
		s->print_key = on;
	else if (strcmp(k, "print.headers") == 0)
		s->print_headers = on;
	else if (strcmp(k, "print.offset") == 0)
		s->print_offset = on;
	else if (strcmp(k, "print.partition") == 0)
		s->print_partition = on;
	else if (strcmp(k, "print.timestamp") == 0)
		s->print_timestamp = on;
	else if (strcmp(k, "key.separator") == 0)
		s->key_sep = v;
	else {
		fprintf(stderr, "klab consume: unknown property '%s'\n", k);
		return usage(NULL);
	}
	return 0;
}

static int
set_start(struct consume *s, int start)
{
	if (s->start != START_LATEST && s->start != start)
		return usage("give at most one of --from-beginning, --offset, --timestamp");
	s->start = start;
	return 0;
}

static int
option(struct consume *s, struct kconsumer_config *cc, const char *a, char *val)
{
	int64_t v;

	if (strcmp(a, "--bootstrap-server") == 0)
		snprintf(cc->client.bootstrap, sizeof(cc->client.bootstrap), "%s", val);
	else if (strcmp(a, "--topic") == 0)
		s->topic = val;
	else if (strcmp(a, "--property") == 0)
		return property(s, val);
	else if (strcmp(a, "--offset") == 0) {
		if (strcmp(val, "earliest") == 0)
			return set_start(s, START_EARLIEST);
		if (strcmp(val, "latest") == 0)
			return 0;
		if (!tools_parse_long("consume", a, val, 0, INT64_MAX, &s->start_at))
			return 2;
		return set_start(s, START_OFFSET);
	} else if (strcmp(a, "--timestamp") == 0) {
		if (!tools_parse_long("consume", a, val, 0, INT64_MAX, &s->start_at))
			return 2;
		return set_start(s, START_TIMESTAMP);
	} else if (strcmp(a, "--partition") == 0) {
		if (!tools_parse_long("consume", a, val, 0, INT32_MAX, &v))
			return 2;
		s->partition = (int32_t)v;
	} else if (strcmp(a, "--max-messages") == 0) {
		if (!tools_parse_long("consume", a, val, 1, INT64_MAX, &s->max_messages))
			return 2;
	} else if (strcmp(a, "--timeout-ms") == 0) {
		if (!tools_parse_long("consume", a, val, 1, INT32_MAX, &s->timeout_ms))
			return 2;
		cc->client.request_timeout_ms = s->timeout_ms;
	} else {
		fprintf(stderr, "klab consume: unknown option '%s'\n", a);
		return usage(NULL);
	}
	return 0;
}

static int
parse(struct consume *s, struct kconsumer_config *cc, int argc, char **argv)
{
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from-beginning") == 0) {
			if ((rc = set_start(s, START_EARLIEST)) != 0)
				return rc;
			continue;
		}
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "klab consume: '%s' needs a value or is not an option\n",
				argv[i]);
			return usage(NULL);
		}
		if ((rc = option(s, cc, argv[i], argv[i + 1])) != 0)
			return rc;
		i++;
	}
	if (cc->client.bootstrap[0] == '\0')
		return usage("--bootstrap-server is required");
	if (s->topic == NULL)
		return usage("--topic is required");
	if (s->start == START_OFFSET && s->partition < 0)
		return usage("The partition is required when offset is specified.");
	return 0;
}

int
consume_main(int argc, char **argv)
{
	struct consume *s = calloc(1, sizeof(*s));
	struct kconsumer_config cc;
	struct kerr e = { 0 };
	int rc;

	if (s == NULL)
		return 1;
	kconsumer_config_defaults(&cc);
	cc.client.client_id = "klab-console-consumer";
	cc.client.allow_auto_create = false;
	cc.reset = KCONSUMER_RESET_LATEST;
	s->partition = -1;
	s->key_sep = "\t";
	if ((rc = parse(s, &cc, argc, argv)) != 0) {
		free(s);
		return rc;
	}
	cc.on_record = on_record;
	cc.on_error = on_error;
	cc.on_ready = on_ready;
	cc.on_timer = on_timer;
	cc.arg = s;
	if (kconsumer_init(&s->c, &cc, &e) != KLAB_OK) {
		rc = usage(kerr_msg(&e));
		kconsumer_free(&s->c);
		free(s);
		return rc;
	}
	rc = 1;
	if (tools_run("consume", &kclient_node_ops, &s->c.kc, &s->rt) == KLAB_OK) {
		fflush(stdout);
		fprintf(stderr, "Processed a total of %" PRId64 " messages\n", s->count);
		rc = s->exit_code;
	}
	kconsumer_free(&s->c);
	free(s);
	return rc;
}
