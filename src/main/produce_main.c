/*
 * produce_main.c - `klab produce`, shaped like Kafka's
 * kafka-console-producer.sh (chapter 3 §4): every line of stdin becomes
 * one record of the topic.
 *
 *   klab produce --bootstrap-server H:P[,H:P] --topic T
 *                [--property parse.key=true] [--property key.separator=SEP]
 *                [--header K=V]... [--acks 0|1|-1|all]
 *                [--compression-type none|gzip|snappy|lz4|zstd]
 *                [--partition P] [--linger-ms N] [--batch-size N]
 *                [--timeout-ms N]
 *
 * With parse.key=true each line is KEY<separator>VALUE (the separator is a
 * tab unless key.separator says otherwise); a line without it is an error,
 * as in Kafka.  Every --header is added to every record.
 *
 * stdin is read to its end before anything is sent: the real runtime has
 * no way yet to watch stdin beside its sockets, so lines typed at a
 * terminal go out at end of input (Ctrl-D), not one by one.
 *
 * Exits 0 when every record was acknowledged (acks 1/all) or written
 * (acks 0); 1 when any failed, naming why; 2 for bad arguments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/producer.h"
#include "main/tools.h"

#define MAX_HEADERS 64
#define PUMP_MS 10

struct line {
	size_t off, len; /* in the input buffer */
	size_t key_len;	 /* parse.key: the key is off..off+key_len */
	bool keyed;
};

struct produce {
	struct kproducer p;
	struct real *rt;
	const char *topic;
	int32_t partition;
	bool parse_key;
	const char *key_sep;
	struct kv headers[MAX_HEADERS];
	size_t nheaders;
	struct buf input;
	struct line *lines;
	size_t nlines, next;
	int64_t failed;
	int first_err;
	int16_t first_kafka_err;
	timer_id pump_timer;
	int exit_code;
};

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "klab produce: %s\n", why);
	fprintf(stderr,
		"usage: klab produce --bootstrap-server HOST:PORT[,HOST:PORT] --topic T [OPTIONS]\n"
		"  --property parse.key=true      lines are KEY<separator>VALUE\n"
		"  --property key.separator=SEP   the separator (default: a tab)\n"
		"  --header K=V                   a header on every record (repeatable)\n"
		"  --acks 0|1|-1|all              (default all)\n"
		"  --compression-type none|gzip|snappy|lz4|zstd\n"
		"  --partition P                  every record to partition P\n"
		"  --linger-ms N, --batch-size N  the producer's batching\n"
		"  --timeout-ms N                 how long to wait for the cluster (default "
		"30000)\n");
	return 2;
}

/* ---- input ------------------------------------------------------------------------ */

/* Read stdin and cut it into lines; false (with a message) on a bad line. */
static bool
read_lines(struct produce *s)
{
	char chunk[65536];
	size_t n, start = 0, cap = 0;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_put(&s->input, chunk, n);
	if (!buf_ok(&s->input)) {
		fprintf(stderr, "klab produce: out of memory reading stdin\n");
		return false;
	}
	while (start < s->input.len) {
		const uint8_t *nl = memchr(s->input.data + start, '\n', s->input.len - start);
		size_t end = nl ? (size_t)(nl - s->input.data) : s->input.len;
		struct line *l;

		if (s->nlines == cap) {
			struct line *q = realloc(s->lines, (cap ? 2 * cap : 1024) * sizeof(*q));

			if (q == NULL)
				return false;
			s->lines = q;
			cap = cap ? 2 * cap : 1024;
		}
		l = &s->lines[s->nlines++];
		l->off = start;
		l->len = end - start;
		l->keyed = false;
		if (s->parse_key) {
			const uint8_t *sep = memmem(s->input.data + start, l->len, s->key_sep,
						    strlen(s->key_sep));

			if (sep == NULL) {
				fprintf(stderr,
					"klab produce: No key separator found on line number %zu: "
					"'%.*s'\n",
					s->nlines, (int)(l->len > 200 ? 200 : l->len),
					(const char *)s->input.data + start);
				return false;
			}
			l->keyed = true;
			l->key_len = (size_t)(sep - (s->input.data + start));
		}
		start = end + 1;
	}
	return true;
}

/* ---- sending ---------------------------------------------------------------------- */

static void
finish_if_done(struct produce *s)
{
	if (s->next == s->nlines && kproducer_outstanding(&s->p) == 0)
		tools_stop(s->rt);
}

/* Hand lines to the producer until it is full; the pump timer does the rest. */
static void
pump(struct produce *s)
{
	while (s->next < s->nlines) {
		const struct line *l = &s->lines[s->next];
		const uint8_t *b = s->input.data + l->off;
		struct record_in r = { .timestamp = -1,
				       .headers = s->headers,
				       .header_count = s->nheaders };
		struct kerr e = { 0 };
		int rc;

		r.kv.key = NULL;
		r.kv.key_len = -1;
		r.kv.value = b;
		r.kv.value_len = (int32_t)l->len;
		if (l->keyed) {
			size_t sl = strlen(s->key_sep);

			r.kv.key = b;
			r.kv.key_len = (int32_t)l->key_len;
			r.kv.value = b + l->key_len + sl;
			r.kv.value_len = (int32_t)(l->len - l->key_len - sl);
		}
		rc = kproducer_send(&s->p, s->topic, s->partition, &r, NULL, &e);
		if (rc == KLAB_EFULL)
			break;
		if (rc != KLAB_OK) {
			fprintf(stderr, "klab produce: line %zu: %s\n", s->next + 1, kerr_msg(&e));
			s->exit_code = 1;
			s->next = s->nlines; /* stop sending; wait for what is out */
			break;
		}
		s->next++;
	}
	kproducer_flush(&s->p);
	if (s->next < s->nlines && s->pump_timer == 0)
		s->pump_timer = kclient_set_timer(&s->p.kc, PUMP_MS);
	finish_if_done(s);
}

static void
on_ready(void *arg)
{
	pump(arg);
}

static void
on_timer(void *arg, timer_id t)
{
	struct produce *s = arg;

	if (t == s->pump_timer) {
		s->pump_timer = 0;
		pump(s);
	}
}

static void
on_delivery(void *arg, void *opaque, const char *topic, int32_t partition, int64_t offset, int err,
	    int16_t kafka_error)
{
	struct produce *s = arg;

	(void)opaque;
	(void)topic;
	(void)partition;
	(void)offset;
	if (err != KLAB_OK && s->failed++ == 0) {
		s->first_err = err;
		s->first_kafka_err = kafka_error;
	}
	/* not finish_if_done() here: the producer is in the middle of its report */
	if (s->pump_timer == 0)
		s->pump_timer = kclient_set_timer(&s->p.kc, 0);
}

/* ---- arguments -------------------------------------------------------------------- */

static int
property(struct produce *s, char *kv)
{
	char *k, *v;

	if (!tools_split_kv(kv, &k, &v))
		return usage("--property takes KEY=VALUE");
	if (strcmp(k, "parse.key") == 0)
		s->parse_key = strcmp(v, "true") == 0;
	else if (strcmp(k, "key.separator") == 0 && v[0] != '\0')
		s->key_sep = v;
	else {
		fprintf(stderr,
			"klab produce: unknown property '%s' (known: parse.key, "
			"key.separator)\n",
			k);
		return 2;
	}
	return 0;
}

static int
option(struct produce *s, struct kproducer_config *pc, const char *a, char *val)
{
	int64_t v;
	char *k, *hv;

	if (strcmp(a, "--bootstrap-server") == 0)
		snprintf(pc->client.bootstrap, sizeof(pc->client.bootstrap), "%s", val);
	else if (strcmp(a, "--topic") == 0)
		s->topic = val;
	else if (strcmp(a, "--property") == 0)
		return property(s, val);
	else if (strcmp(a, "--header") == 0) {
		if (s->nheaders == MAX_HEADERS || !tools_split_kv(val, &k, &hv))
			return usage("--header takes KEY=VALUE");
		s->headers[s->nheaders++] = (struct kv){ (const uint8_t *)k, (int32_t)strlen(k),
							 (const uint8_t *)hv, (int32_t)strlen(hv) };
	} else if (strcmp(a, "--acks") == 0) {
		if (strcmp(val, "all") == 0)
			pc->acks = -1;
		else if (!tools_parse_long("produce", a, val, -1, 1, &v))
			return 2;
		else
			pc->acks = (int16_t)v;
	} else if (strcmp(a, "--compression-type") == 0) {
		if (compression_parse(val, &pc->acc.compression) != KLAB_OK)
			return usage("--compression-type: none, gzip, snappy, lz4 or zstd");
	} else if (strcmp(a, "--partition") == 0) {
		if (!tools_parse_long("produce", a, val, 0, INT32_MAX, &v))
			return 2;
		s->partition = (int32_t)v;
	} else if (strcmp(a, "--linger-ms") == 0) {
		if (!tools_parse_long("produce", a, val, 0, INT32_MAX, &pc->acc.linger_ms))
			return 2;
	} else if (strcmp(a, "--batch-size") == 0) {
		if (!tools_parse_long("produce", a, val, 1, INT32_MAX, &pc->acc.batch_size))
			return 2;
	} else if (strcmp(a, "--timeout-ms") == 0) {
		if (!tools_parse_long("produce", a, val, 1, INT32_MAX, &v))
			return 2;
		pc->client.request_timeout_ms = v;
		pc->acc.max_block_ms = v;
		pc->delivery_timeout_ms = v;
	} else {
		fprintf(stderr, "klab produce: unknown option '%s'\n", a);
		return usage(NULL);
	}
	return 0;
}

static int
parse(struct produce *s, struct kproducer_config *pc, int argc, char **argv)
{
	int rc;

	for (int i = 1; i < argc; i += 2) { /* every option takes a value */
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "klab produce: '%s' needs a value or is not an option\n",
				argv[i]);
			return usage(NULL);
		}
		if ((rc = option(s, pc, argv[i], argv[i + 1])) != 0)
			return rc;
	}
	if (pc->client.bootstrap[0] == '\0')
		return usage("--bootstrap-server is required");
	if (s->topic == NULL)
		return usage("--topic is required");
	return 0;
}

static void
report(struct produce *s)
{
	char msg[1024];

	if (s->failed == 0)
		return;
	if (s->first_kafka_err != 0)
		snprintf(msg, sizeof(msg), "%s", kclient_error_name(s->first_kafka_err));
	else
		tools_request_error(&s->p.kc, s->first_err, msg, sizeof(msg));
	fprintf(stderr, "klab produce: %" PRId64 " of %zu records failed: %s\n", s->failed,
		s->nlines, msg);
	s->exit_code = 1;
}

int
produce_main(int argc, char **argv)
{
	struct produce *s = calloc(1, sizeof(*s));
	struct kproducer_config pc;
	struct kerr e = { 0 };
	int rc;

	if (s == NULL)
		return 1;
	kproducer_config_defaults(&pc);
	pc.client.request_timeout_ms = pc.acc.max_block_ms = pc.delivery_timeout_ms = 30000;
	pc.client.client_id = "klab-console-producer";
	pc.acc.linger_ms = 5;
	s->partition = PARTITION_ANY;
	s->key_sep = "\t";
	buf_init(&s->input);
	if ((rc = parse(s, &pc, argc, argv)) != 0)
		goto out;
	pc.on_delivery = on_delivery;
	pc.on_ready = on_ready;
	pc.on_timer = on_timer;
	pc.arg = s;
	if (kproducer_init(&s->p, &pc, &e) != KLAB_OK) {
		rc = usage(kerr_msg(&e));
		kproducer_free(&s->p);
		goto out;
	}
	rc = 1;
	if (read_lines(s)) {
		if (tools_run("produce", &kclient_node_ops, &s->p.kc, &s->rt) == KLAB_OK) {
			report(s);
			if (s->next < s->nlines || kproducer_outstanding(&s->p) > 0) {
				fprintf(stderr, "klab produce: interrupted with records unsent\n");
				s->exit_code = 1;
			}
			rc = s->exit_code;
		}
	}
	kproducer_free(&s->p);
out:
	buf_free(&s->input);
	free(s->lines);
	free(s);
	return rc;
}
