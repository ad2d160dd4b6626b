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
 * Lines typed at a terminal go out as they are typed.  The real runtime
 * watches only sockets, so the tool looks at stdin every PUMP_MS with
 * poll() and a zero timeout (a read never blocks the loop); a file or a
 * pipe is read in steps of READ_MAX_BYTES that the producer's
 * buffer.memory absorbs.
 *
 * Exits 0 when every record was acknowledged (acks 1/all) or written
 * (acks 0); 1 when any failed, naming why; 2 for bad arguments.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/producer.h"
#include "main/tools.h"

#define MAX_HEADERS 64
#define PUMP_MS 10		  /* how often stdin is looked at */
#define PUMP_DONE_MS 100	  /* after its end: how often to look for the last reports */
#define READ_MAX_BYTES (4u << 20) /* read per look */

struct produce {
	struct kproducer p;
	struct real *rt;
	const char *topic;
	int32_t partition;
	bool parse_key;
	const char *key_sep;
	struct kv headers[MAX_HEADERS];
	size_t nheaders;
	struct buf input; /* read from stdin, not yet sent from `used` on */
	size_t used;
	size_t lines; /* sent */
	bool eof, failed_input;
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

/*
 * Read what stdin has now, without blocking: poll() says whether a read
 * would wait.  At most READ_MAX_BYTES per call, so a big file goes in
 * steps the producer can absorb.
 */
static void
read_stdin(struct produce *s)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char chunk[65536];
	size_t got = 0;
	ssize_t n;

	while (!s->eof && got < READ_MAX_BYTES && poll(&pfd, 1, 0) > 0) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n <= 0) { /* end of input (or an error, which ends it too) */
			s->eof = true;
			break;
		}
		buf_put(&s->input, chunk, (size_t)n);
		got += (size_t)n;
	}
}

/* One line (without its newline) into a record; false when parse.key finds no separator. */
static bool
line_record(struct produce *s, const uint8_t *b, size_t len, struct record_in *r)
{
	const uint8_t *sep;
	size_t sl = strlen(s->key_sep);

	*r = (struct record_in){ .timestamp = -1,
				 .headers = s->headers,
				 .header_count = s->nheaders };
	r->kv = (struct kv){ NULL, -1, b, (int32_t)len };
	if (!s->parse_key)
		return true;
	if ((sep = memmem(b, len, s->key_sep, sl)) == NULL)
		return false;
	r->kv.key = b;
	r->kv.key_len = (int32_t)(sep - b);
	r->kv.value = sep + sl;
	r->kv.value_len = (int32_t)(len - (size_t)(sep - b) - sl);
	return true;
}

/*
 * Send the complete lines read so far (and, at end of input, a last line
 * without a newline).  Stops early when the producer is full.
 */
static void
send_lines(struct produce *s)
{
	while (!s->failed_input && s->used < s->input.len) {
		const uint8_t *b = s->input.data + s->used;
		const uint8_t *nl = memchr(b, '\n', s->input.len - s->used);
		size_t len = nl ? (size_t)(nl - b) : s->input.len - s->used;
		struct record_in r;
		struct kerr e = { 0 };
		int rc;

		if (nl == NULL && !s->eof)
			break; /* the rest of this line has not come yet */
		if (!line_record(s, b, len, &r)) {
			fprintf(stderr,
				"klab produce: No key separator found on line number %zu: '%.*s'\n",
				s->lines + 1, (int)(len > 200 ? 200 : len), (const char *)b);
			s->failed_input = true;
			break;
		}
		rc = kproducer_send(&s->p, s->topic, s->partition, &r, NULL, &e);
		if (rc == KLAB_EFULL)
			break;
		if (rc != KLAB_OK) {
			fprintf(stderr, "klab produce: line %zu: %s\n", s->lines + 1, kerr_msg(&e));
			s->failed_input = true;
			break;
		}
		s->lines++;
		s->used += len + (nl != NULL);
	}
	if (s->used > 0 && s->used == s->input.len) { /* the records hold copies */
		buf_reset(&s->input);
		s->used = 0;
	}
}

/* ---- sending ---------------------------------------------------------------------- */

static bool
input_done(const struct produce *s)
{
	return s->failed_input || (s->eof && s->used == s->input.len);
}

/* Read, send, and stop once the input is done and every record is reported. */
static void
pump(struct produce *s)
{
	read_stdin(s);
	send_lines(s);
	if (input_done(s))
		kproducer_flush(&s->p);
	if (input_done(s) && kproducer_outstanding(&s->p) == 0) {
		tools_stop(s->rt);
		return;
	}
	if (s->pump_timer == 0)
		s->pump_timer = kclient_set_timer(&s->p.kc, input_done(s) ? PUMP_DONE_MS : PUMP_MS);
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
	/* not pump() here: the producer is in the middle of its report */
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
		s->lines, msg);
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
	if (tools_run("produce", &kclient_node_ops, &s->p.kc, &s->rt) == KLAB_OK) {
		report(s);
		if (s->failed_input)
			s->exit_code = 1;
		else if (!input_done(s) || kproducer_outstanding(&s->p) > 0) {
			fprintf(stderr, "klab produce: interrupted with records unsent\n");
			s->exit_code = 1;
		}
		rc = s->exit_code;
	}
	kproducer_free(&s->p);
out:
	buf_free(&s->input);
	free(s);
	return rc;
}
