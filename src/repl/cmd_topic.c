/*
 * cmd_topic.c - stage 2's REPL commands: topics, partitions, the producer.
 *
 *   topic create|list|describe|delete|add-partitions   topics
 *   produce / produce-many / skew                      the producer
 *   consume / consume-all                              reading back
 *   partition-of                                       which partition, and why
 *   producer / partitioner / flush-producer            batching, live
 *   dot                                                topic -> partitions -> segments
 *
 * The names topic create, produce, consume and partition-of are fixed:
 * lessons and graders use them.  The topics live under log.dirs.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/disk_real.h"
#include "repl/repl.h"
#include "repl/show.h"
#include "topic/producer.h"
#include "topic/serde.h"
#include "viz/dot.h"
#include "viz/viz_topic.h"

#define SKEW_BAR 40

struct topic_shell {
	struct topic_store *store;
	struct producer prod;
	bool have_producer;
	enum partitioner_kind kind;
	enum serde_kind key_serde, value_serde;
	uint64_t seq; /* produce-many numbers its records: seq-<n> */
};

extern const struct repl_table repl_topic_table;

static int
need_store(struct repl *r, struct topic_shell *sh)
{
	if (sh->store == NULL && !repl_is_latest(r, &repl_topic_table))
		return repl_error(r, "this is a chapter-2 command on a local log directory; from "
				     "chapter 3 on, log.dirs belongs to the brokers: run it in "
				     "build/ch2/klab");
	if (sh->store == NULL)
		return repl_error(r, "no log directory is open: set log.dirs (klab repl -c FILE)");
	return 0;
}

/* Producer settings can change with `config`: re-read them each time. */
static int
refresh_producer(struct repl *r, struct topic_shell *sh)
{
	struct producer_config pc;
	struct kerr e = { 0 };

	if (need_store(r, sh) != 0)
		return -1;
	if (producer_config_load(&pc, &r->cfg, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	sh->prod.acc.cfg = pc;
	return 0;
}

/* Send what is ready (linger.ms passed, batch full); quiet unless asked. */
static int
pump(struct repl *r, struct topic_shell *sh, bool flush, bool verbose)
{
	struct kerr e = { 0 };
	int32_t sent;

	if (producer_poll(&sh->prod, repl_now_ms(r), flush, &sent, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	if (verbose && sent > 0)
		repl_printf(r, "sent %" PRId32 " batch%s\n", sent, sent == 1 ? "" : "es");
	return 0;
}

/* ---- topic -------------------------------------------------------------- */

static int
parse_overrides(struct repl *r, int n, char **words, struct config *c)
{
	for (int i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');

		if (eq == NULL || eq == words[i])
			return repl_error(r, "'%s' is not KEY=VALUE (e.g. retention.ms=60000)",
					  words[i]);
		*eq = '\0';
		if (config_set(c, words[i], eq + 1) != KLAB_OK)
			return repl_error(r, "out of memory");
	}
	return 0;
}

static int
topic_create(struct repl *r, struct topic_shell *sh, int argc, char **argv)
{
	struct kerr e = { 0 };
	char warning[512] = "";
	struct config ov;
	int first_override;
	int64_t n;
	int rc;

	if (argc < 3)
		return repl_error(r, "usage: topic create NAME [PARTITIONS] [KEY=VALUE ...]");
	if (argc == 3 || strchr(argv[3], '=') != NULL) /* no count: num.partitions */
		n = sh->store->default_partitions;
	else if (!repl_arg_i64(r, argv[3], "PARTITIONS", 1, TOPIC_PARTITIONS_MAX, &n))
		return -1;
	first_override = argc > 3 && strchr(argv[3], '=') == NULL ? 4 : 3;
	config_init(&ov);
	rc = parse_overrides(r, argc - first_override, argv + first_override, &ov);
	if (rc == 0 && topics_create(sh->store, argv[2], (int32_t)n, &ov, repl_now_ms(r), warning,
				     sizeof(warning), &e) != KLAB_OK)
		rc = repl_error(r, "%s", kerr_msg(&e));
	config_free(&ov);
	if (rc != 0)
		return rc;
	if (warning[0] != '\0')
		repl_printf(r, "warning: %s\n", warning);
	repl_printf(r, "created topic %s with %" PRId64 " partition%s\n", argv[2], n,
		    n == 1 ? "" : "s");
	return 0;
}

static int
topic_list(struct repl *r, struct topic_shell *sh)
{
	const struct topic *ts[TOPIC_PARTITIONS_MAX];
	size_t n = sh->store->n < TOPIC_PARTITIONS_MAX ? sh->store->n : TOPIC_PARTITIONS_MAX;

	for (size_t i = 0; i < n; i++) { /* sorted by name, for stable output */
		size_t j = i;

		ts[i] = sh->store->topics[i];
		while (j > 0 && strcmp(ts[j - 1]->name, ts[j]->name) > 0) {
			const struct topic *t = ts[j];

			ts[j] = ts[j - 1];
			ts[--j] = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		repl_printf(r, "%s (%" PRId32 " partition%s)\n", ts[i]->name, ts[i]->partitions,
			    ts[i]->partitions == 1 ? "" : "s");
	if (n == 0)
		repl_printf(r, "(no topics)\n");
	return 0;
}

static int
topic_describe(struct repl *r, struct topic_shell *sh, const char *name)
{
	const struct topic *t = topics_find(sh->store, name);
	char id[UUID_STRING_LEN + 1];

	if (t == NULL && topics_refused(sh->store, name) != NULL)
		return repl_error(r, "%s", kerr_msg(topics_refused(sh->store, name)));
	if (t == NULL)
		return repl_error(r, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)", name);
	uuid_to_string(t->id, id); /* as kafka-topics.sh --describe shows it */
	repl_printf(r, "Topic: %s\tTopicId: %s\tPartitionCount: %" PRId32 "\tConfigs:", t->name, id,
		    t->partitions);
	for (size_t i = 0; i < t->overrides.n; i++)
		repl_printf(r, "%s%s=%s", i ? "," : " ", t->overrides.entries[i].key,
			    t->overrides.entries[i].value);
	repl_printf(r, "\n");
	for (int32_t p = 0; p < t->partitions; p++) {
		const struct log *l = t->logs[p];

		repl_printf(r,
			    "\tPartition: %" PRId32 "\tlog %s-%" PRId32 "\tstart offset %" PRId64
			    "\tend offset %" PRId64 "\t%zu segment%s, %" PRIu64 " bytes\n",
			    p, t->name, p, l->log_start_offset, l->next_offset, l->nsegs,
			    l->nsegs == 1 ? "" : "s", log_size_bytes(l));
	}
	return 0;
}

static int
cmd_topic(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	struct kerr e = { 0 };
	int64_t n;

	if (need_store(r, sh) != 0)
		return -1;
	if (strcmp(argv[1], "create") == 0)
		return topic_create(r, sh, argc, argv);
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return topic_list(r, sh);
	if (strcmp(argv[1], "describe") == 0 && argc == 3)
		return topic_describe(r, sh, argv[2]);
	if (strcmp(argv[1], "delete") == 0 && argc == 3) {
		if (pump(r, sh, true, false) != 0)
			return -1;
		if (topics_delete(sh->store, argv[2], &e) != KLAB_OK)
			return repl_error(r, "%s", kerr_msg(&e));
		repl_printf(r, "deleted topic %s and its partitions\n", argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "add-partitions") == 0 && argc == 4) {
		if (!repl_arg_i64(r, argv[3], "TOTAL", 1, TOPIC_PARTITIONS_MAX, &n))
			return -1;
		if (topics_add_partitions(sh->store, argv[2], (int32_t)n, repl_now_ms(r), &e) !=
		    KLAB_OK)
			return repl_error(r, "%s", kerr_msg(&e));
		repl_printf(r,
			    "topic %s now has %" PRId64 " partitions: keys may now map elsewhere "
			    "(see partition-of)\n",
			    argv[2], n);
		return 0;
	}
	return repl_error(r, "usage: topic create NAME [PARTITIONS] [KEY=VALUE ...] | list | "
			     "describe NAME | delete NAME | add-partitions NAME TOTAL");
}

/* ---- produce ------------------------------------------------------------ */

struct produce_opts {
	int32_t partition;
	enum serde_kind key_serde, value_serde;
	int first; /* index of TOPIC in argv */
};

static int
parse_produce_opts(struct repl *r, struct topic_shell *sh, int argc, char **argv,
		   struct produce_opts *o)
{
	int64_t p;

	o->partition = PARTITION_ANY;
	o->key_serde = sh->key_serde;
	o->value_serde = sh->value_serde;
	for (o->first = 1;
	     o->first + 1 < argc && argv[o->first][0] == '-' && argv[o->first][1] != '\0';
	     o->first += 2) {
		const char *opt = argv[o->first], *val = argv[o->first + 1];

		if (strcmp(opt, "-p") == 0) {
			if (!repl_arg_i64(r, val, "PARTITION", 0, TOPIC_PARTITIONS_MAX, &p))
				return -1;
			o->partition = (int32_t)p;
		} else if (strcmp(opt, "-k") == 0 && serde_parse(val, &o->key_serde) == KLAB_OK) {
			continue;
		} else if (strcmp(opt, "-v") == 0 && serde_parse(val, &o->value_serde) == KLAB_OK) {
			continue;
		} else {
			return repl_error(r,
					  "bad option %s %s (use -p PARTITION, -k SERDE, -v SERDE; "
					  "serdes: bytes string int32 int64 json)",
					  opt, val);
		}
	}
	return 0;
}

static void
print_send(struct repl *r, const struct topic *t, const struct send_result *res)
{
	const struct partition_choice *c = &res->choice;

	repl_printf(r, "-> %s-%" PRId32 " (%s", t->name, c->partition, partition_how_name(c->how));
	if (c->how == PARTITION_HOW_MURMUR2)
		repl_printf(r, " %" PRId64 ", toPositive %" PRId64 " %% %" PRId32 " = %" PRId32,
			    c->hash, c->dividend, t->partitions, c->partition);
	else if (c->how == PARTITION_HOW_CRC32)
		repl_printf(r, " %" PRId64 " %% %" PRId32 " = %" PRId32, c->hash, t->partitions,
			    c->partition);
	repl_printf(r, ")%s%s\n", res->new_batch ? ", new batch" : "",
		    res->switched ? ", sticky partition moved" : "");
}

static int
cmd_produce(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	struct kv headers[REPL_MAX_ARGS];
	struct produce_opts o;
	struct record_in rec = { 0 };
	struct send_result res;
	struct kerr e = { 0 };
	struct buf k, v;
	int rc = -1;

	if (refresh_producer(r, sh) != 0 || parse_produce_opts(r, sh, argc, argv, &o) != 0)
		return -1;
	if (argc - o.first < 3)
		return repl_usage(r, repl_find(r, "produce"));
	buf_init(&k);
	buf_init(&v);
	if (strcmp(argv[o.first + 1], "-") != 0 &&
	    serde_serialize(o.key_serde, argv[o.first + 1], &k, &e) != KLAB_OK)
		goto fail;
	if (serde_serialize(o.value_serde, argv[o.first + 2], &v, &e) != KLAB_OK)
		goto fail;
	if (repl_parse_headers(r, argc - o.first - 3, argv + o.first + 3, headers) != 0)
		goto out;
	rec.kv = (struct kv){ k.data, strcmp(argv[o.first + 1], "-") == 0 ? -1 : (int32_t)k.len,
			      v.data, (int32_t)v.len };
	rec.timestamp = repl_now_ms(r);
	rec.headers = headers;
	rec.header_count = (size_t)(argc - o.first - 3);
	if (producer_send(&sh->prod, argv[o.first], o.partition, &rec, repl_now_ms(r), &res, &e) !=
	    KLAB_OK) {
		r->clock_offset_ms += res.blocked_ms; /* send() blocked that long */
		goto fail;
	}
	print_send(r, topics_find(sh->store, argv[o.first]), &res);
	rc = pump(r, sh, false, false);
	goto out;
fail:
	rc = repl_error(r, "%s", kerr_msg(&e));
out:
	buf_free(&k);
	buf_free(&v);
	return rc;
}

/* ---- produce-many and skew ---------------------------------------------- */

enum key_dist { DIST_UNIFORM, DIST_ZIPF, DIST_HOT, DIST_LOW, DIST_NONE };

struct keygen {
	enum key_dist dist;
	int64_t keys; /* distinct keys */
	uint64_t rng;
	double *zipf_cdf;
};

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
uniform01(uint64_t *s)
{
	return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static int
keygen_init(struct repl *r, struct keygen *g, const char *spec)
{
	memset(g, 0, sizeof(*g));
	g->rng = 42;
	g->keys = 1000;
	if (strcmp(spec, "uniform") == 0)
		g->dist = DIST_UNIFORM;
	else if (strcmp(spec, "zipf") == 0)
		g->dist = DIST_ZIPF;
	else if (strcmp(spec, "hot") == 0)
		g->dist = DIST_HOT;
	else if (strcmp(spec, "none") == 0)
		g->dist = DIST_NONE;
	else if (strncmp(spec, "low:", 4) == 0) {
		if (!repl_arg_i64(r, spec + 4, "low:K", 1, 1000000, &g->keys))
			return -1; /* one error line: repl_arg_i64 printed it */
		g->dist = DIST_LOW;
	} else
		return repl_error(r, "key distribution '%s': use uniform, zipf, hot, low:K or none",
				  spec);
	if (g->dist == DIST_ZIPF) { /* P(rank k) ~ 1/k over 1000 keys */
		double sum = 0;

		if ((g->zipf_cdf = malloc((size_t)g->keys * sizeof(double))) == NULL)
			return repl_error(r, "out of memory");
		for (int64_t k = 0; k < g->keys; k++)
			g->zipf_cdf[k] = (sum += 1.0 / (double)(k + 1));
		for (int64_t k = 0; k < g->keys; k++)
			g->zipf_cdf[k] /= sum;
	}
	return 0;
}

/* The next key into out; returns its length, -1 for a null key. */
static int32_t
keygen_next(struct keygen *g, char *out, size_t n)
{
	double u = uniform01(&g->rng);
	int64_t k;

	switch (g->dist) {
	case DIST_NONE: return -1;
	case DIST_HOT:
		if (u < 0.5)
			return snprintf(out, n, "hot-key");
		u = uniform01(&g->rng);
		/* fall through */
	case DIST_UNIFORM:
	case DIST_LOW: k = (int64_t)(u * (double)g->keys); break;
	default: {
		int64_t lo = 0, hi = g->keys - 1;

		while (lo < hi) { /* first rank whose cdf >= u */
			int64_t mid = (lo + hi) / 2;

			if (g->zipf_cdf[mid] >= u)
				hi = mid;
			else
				lo = mid + 1;
		}
		k = lo;
	}
	}
	return snprintf(out, n, "user-%" PRId64, k);
}

static int
produce_generated(struct repl *r, struct topic_shell *sh, const char *topic, int64_t n,
		  struct keygen *g, int64_t vbytes, int64_t *counts, int32_t nparts)
{
	char key[32], *value = malloc((size_t)vbytes + 32);
	struct send_result res;
	struct kerr e = { 0 };

	if (value == NULL)
		return repl_error(r, "out of memory");
	for (int64_t i = 0; i < n; i++) {
		struct record_in rec = { 0 };
		int32_t klen = keygen_next(g, key, sizeof(key));
		int vlen = snprintf(value, (size_t)vbytes + 32, "seq-%06" PRIu64 "-%0*d", sh->seq++,
				    (int)vbytes, 0);

		rec.kv = (struct kv){ (uint8_t *)key, klen, (uint8_t *)value,
				      vlen < vbytes ? vlen : (int32_t)vbytes };
		rec.timestamp = repl_now_ms(r);
		if (producer_send(&sh->prod, topic, PARTITION_ANY, &rec, repl_now_ms(r), &res,
				  &e) != KLAB_OK) {
			free(value);
			return repl_error(r, "record %" PRId64 ": %s", i, kerr_msg(&e));
		}
		if (counts != NULL && res.choice.partition < nparts)
			counts[res.choice.partition]++;
		if (pump(r, sh, false, false) != 0) {
			free(value);
			return -1;
		}
	}
	free(value);
	return 0;
}

static int
cmd_produce_many(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	int64_t n, vbytes = 32, b0 = sh->prod.stats.batches, r0 = sh->prod.stats.records;
	struct keygen g;
	int rc;

	if (refresh_producer(r, sh) != 0 || !repl_arg_i64(r, argv[2], "N", 1, 10000000, &n) ||
	    keygen_init(r, &g, argc > 3 ? argv[3] : "uniform") != 0)
		return -1;
	if (argc > 4 && !repl_arg_i64(r, argv[4], "VALUE_BYTES", 8, 1 << 20, &vbytes)) {
		free(g.zipf_cdf);
		return -1;
	}
	rc = produce_generated(r, sh, argv[1], n, &g, vbytes, NULL, 0);
	free(g.zipf_cdf);
	if (rc == 0)
		repl_printf(r,
			    "accepted %" PRId64 " records; %" PRId64 " batches sent, %zu batch%s "
			    "still waiting in the accumulator\n",
			    sh->prod.stats.records - r0, sh->prod.stats.batches - b0,
			    sh->prod.acc.n, sh->prod.acc.n == 1 ? "" : "es");
	return rc;
}

static int
cmd_skew(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const struct topic *t;
	int64_t n, *counts, max = 1;
	struct keygen g;
	int rc;

	(void)argc;
	if (refresh_producer(r, sh) != 0 || !repl_arg_i64(r, argv[2], "N", 1, 10000000, &n))
		return -1;
	if ((t = topics_find(sh->store, argv[1])) == NULL)
		return repl_error(r, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)", argv[1]);
	if (keygen_init(r, &g, argv[3]) != 0)
		return -1;
	counts = calloc((size_t)t->partitions, sizeof(*counts));
	rc = counts == NULL ? repl_error(r, "out of memory")
			    : produce_generated(r, sh, argv[1], n, &g, 16, counts, t->partitions);
	free(g.zipf_cdf);
	for (int32_t p = 0; rc == 0 && p < t->partitions; p++)
		if (counts[p] > max)
			max = counts[p];
	if (rc == 0) {
		repl_printf(r, "%" PRId64 " records, keys %s, partitioner %s:\n", n, argv[3],
			    partitioner_name(sh->kind));
		for (int32_t p = 0; p < t->partitions; p++) {
			int bar = (int)(counts[p] * SKEW_BAR / max);

			repl_printf(r, "  %s-%-4" PRId32 " %7" PRId64 "  %5.1f%%  %.*s\n", t->name,
				    p, counts[p], 100.0 * (double)counts[p] / (double)n, bar,
				    "########################################");
		}
		repl_printf(r, "  busiest partition: %.2fx its fair share\n",
			    (double)max * t->partitions / (double)n);
	}
	free(counts);
	return rc;
}

/* ---- consume ------------------------------------------------------------ */

static void
print_value(struct repl *r, enum serde_kind k, const uint8_t *p, int32_t len)
{
	struct buf text;
	struct kerr e = { 0 };

	buf_init(&text);
	if (serde_deserialize(k, p, len, &text, &e) == KLAB_OK) {
		buf_put_u8(&text, 0);
		repl_printf(r, "%s", buf_ok(&text) ? (char *)text.data : "?");
	} else {
		repl_printf(r, "<%s>", kerr_msg(&e));
	}
	buf_free(&text);
}

/* Print the records >= from of one batch; count them into *n. */
static int
print_batch(struct repl *r, struct topic_shell *sh, const char *prefix, const uint8_t *p,
	    size_t len, int64_t from, int64_t *n, int64_t max)
{
	struct batch_header h;
	struct record_iter it;
	struct record rec;
	struct buf plain;
	int rc = KLAB_OK;

	buf_init(&plain);
	batch_header_parse(p, len, &h);
	if (h.attributes & BATCH_ATTR_COMPRESSION) {
		if ((rc = batch_decompress(p, len, 64u << 20, &plain)) != KLAB_OK) {
			buf_free(&plain);
			return repl_error(r, "cannot decompress a %s batch",
					  batch_compression_name(h.attributes));
		}
		p = plain.data;
		len = plain.len;
		batch_header_parse(p, len, &h);
	}
	record_iter_init(&it, p, len, &h);
	while (*n < max && (rc = record_iter_next(&it, &rec)) == 1) {
		struct kv hv;

		if (rec.offset < from)
			continue;
		repl_printf(r, "%s%" PRId64 "  key ", prefix, rec.offset);
		print_value(r, sh->key_serde, rec.kv.key, rec.kv.key_len);
		repl_printf(r, "  value ");
		print_value(r, sh->value_serde, rec.kv.value, rec.kv.value_len);
		while (record_header_next(&rec, &hv) == 1) {
			repl_printf(r, "  ");
			show_bytes(r->out, hv.key, hv.key_len);
			repl_printf(r, "=");
			show_bytes(r->out, hv.value, hv.value_len);
		}
		repl_printf(r, "\n");
		(*n)++;
	}
	buf_free(&plain);
	return rc < 0 ? repl_error(r, "malformed record") : 0;
}

/* Read up to max records of one partition from offset; *next = where to go on. */
static int
consume_partition(struct repl *r, struct topic_shell *sh, const struct topic *t, int32_t p,
		  int64_t offset, int64_t max, const char *prefix, int64_t *next, int64_t *n)
{
	struct log *l = t->logs[p];
	struct log_read_info info;
	struct batch_header h;
	struct buf b;
	int rc;

	buf_init(&b);
	rc = log_read(l, offset, 1 << 20, &b, &info);
	if (rc == KLAB_ERANGE) {
		buf_free(&b);
		return repl_error(r,
				  "offset %" PRId64 " is out of range for %s-%" PRId32 " (%" PRId64
				  "..%" PRId64 "): OFFSET_OUT_OF_RANGE",
				  offset, t->name, p, l->log_start_offset, l->next_offset);
	}
	*next = offset;
	for (size_t at = 0; rc == KLAB_OK && at < b.len && *n < max; at += batch_size(&h)) {
		batch_header_parse(b.data + at, b.len - at, &h);
		rc = print_batch(r, sh, prefix, b.data + at, batch_size(&h), offset, n, max);
		*next = batch_last_offset(&h) + 1;
	}
	buf_free(&b);
	return rc == KLAB_OK ? 0 : -1;
}

static int
cmd_consume(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const struct topic *t;
	int64_t p, offset, max = 100, n = 0, next;

	if (need_store(r, sh) != 0 || pump(r, sh, false, false) != 0)
		return -1;
	if ((t = topics_find(sh->store, argv[1])) == NULL)
		return repl_error(r, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)", argv[1]);
	if (!repl_arg_i64(r, argv[2], "PARTITION", 0, t->partitions - 1, &p) ||
	    !repl_arg_i64(r, argv[3], "OFFSET", 0, INT64_MAX, &offset) ||
	    (argc > 4 && !repl_arg_i64(r, argv[4], "MAX_RECORDS", 1, 1000000, &max)))
		return -1;
	if (consume_partition(r, sh, t, (int32_t)p, offset, max, "offset ", &next, &n) != 0)
		return -1;
	repl_printf(r, "%" PRId64 " record%s; log end offset %" PRId64 "\n", n, n == 1 ? "" : "s",
		    t->logs[p]->next_offset);
	return 0;
}

/*
 * Read a whole topic as a consumer of all its partitions does: a fetch
 * from each partition in turn, a few records at a time.  Then check the
 * two orders a learner should know: per partition (always) and the order
 * records were sent (only within a partition).
 */
static int
cmd_consume_all(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const struct topic *t;
	int64_t *pos, chunk = 3, total = 0;
	bool progress = true;
	char prefix[300];

	if (need_store(r, sh) != 0 || pump(r, sh, false, false) != 0)
		return -1;
	if ((t = topics_find(sh->store, argv[1])) == NULL)
		return repl_error(r, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)", argv[1]);
	if (argc > 2 && !repl_arg_i64(r, argv[2], "RECORDS_PER_FETCH", 1, 1000000, &chunk))
		return -1;
	if ((pos = calloc((size_t)t->partitions, sizeof(*pos))) == NULL)
		return repl_error(r, "out of memory");
	for (int32_t p = 0; p < t->partitions; p++)
		pos[p] = t->logs[p]->log_start_offset;
	while (progress) {
		progress = false;
		for (int32_t p = 0; p < t->partitions; p++) {
			int64_t n = 0, next;

			if (pos[p] >= t->logs[p]->next_offset)
				continue;
			snprintf(prefix, sizeof(prefix), "%s-%" PRId32 " offset ", t->name, p);
			if (consume_partition(r, sh, t, p, pos[p], chunk, prefix, &next, &n) != 0) {
				free(pos);
				return -1;
			}
			pos[p] = pos[p] + n > next ? pos[p] + n : next;
			total += n;
			progress = progress || n > 0;
		}
	}
	free(pos);
	repl_printf(r,
		    "%" PRId64 " records from %" PRId32 " partitions: offsets ascend within "
		    "each partition; across partitions there is no order\n",
		    total, t->partitions);
	return 0;
}

/* ---- partition-of, producer, partitioner -------------------------------- */

static int
cmd_partition_of(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const struct topic *t;
	struct buf k;
	struct kerr e = { 0 };
	enum serde_kind ks = sh->key_serde;

	if (need_store(r, sh) != 0)
		return -1;
	if (argc > 3 && serde_parse(argv[3], &ks) != KLAB_OK)
		return repl_error(r, "serde '%s': use bytes, string, int32, int64 or json",
				  argv[3]);
	if ((t = topics_find(sh->store, argv[1])) == NULL)
		return repl_error(r, "no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION)", argv[1]);
	buf_init(&k);
	if (serde_serialize(ks, argv[2], &k, &e) != KLAB_OK) {
		buf_free(&k);
		return repl_error(r, "%s", kerr_msg(&e));
	}
	repl_printf(r, "key %s (%s, %zu bytes) in %s with %" PRId32 " partitions:\n", argv[2],
		    serde_name(ks), k.len, t->name, t->partitions);
	for (int kind = 0; kind < PARTITIONER_KIND_COUNT; kind++) {
		struct partitioner part;
		struct partition_choice c;

		partitioner_init(&part, (enum partitioner_kind)kind, 1);
		if (partitioner_choose(&part, t->name, PARTITION_ANY, k.data, (int32_t)k.len,
				       t->partitions, &c) != KLAB_OK)
			continue;
		repl_printf(r, "  %-18s partition %-4" PRId32 " %s", partitioner_name(kind),
			    c.partition, partition_how_name(c.how));
		if (c.how == PARTITION_HOW_MURMUR2)
			repl_printf(
				r, ": murmur2 = %" PRId64 ", toPositive = %" PRId64 ", %% %" PRId32,
				c.hash, c.dividend, t->partitions);
		else if (c.how == PARTITION_HOW_CRC32)
			repl_printf(r, ": crc32 = %" PRId64 ", %% %" PRId32, c.hash, t->partitions);
		repl_printf(r, "\n");
	}
	buf_free(&k);
	return 0;
}

static int
cmd_producer(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const struct accumulator *a = &sh->prod.acc;
	const struct producer_stats *st = &sh->prod.stats;

	if (refresh_producer(r, sh) != 0)
		return -1;
	if (argc > 1 && strcmp(argv[1], "pause") == 0) {
		sh->prod.paused = true;
		repl_printf(r, "sender paused: batches stay in the accumulator (as if the broker "
			       "did not answer)\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "resume") == 0) {
		sh->prod.paused = false;
		repl_printf(r, "sender resumed\n");
		return pump(r, sh, false, true);
	}
	if (argc > 1 && strcmp(argv[1], "flush") == 0)
		return pump(r, sh, true, true);
	if (argc > 1)
		return repl_usage(r, repl_find(r, "producer"));
	repl_printf(r,
		    "partitioner %s, batch.size %" PRId64 ", linger.ms %" PRId64
		    ", compression %s, sender %s\n",
		    partitioner_name(sh->kind), a->cfg.batch_size, a->cfg.linger_ms,
		    compression_name(a->cfg.compression), sh->prod.paused ? "paused" : "running");
	repl_printf(r,
		    "buffer.memory: %" PRIu64 " of %" PRId64 " bytes reserved (peak %" PRIu64 ")\n",
		    a->used, a->cfg.buffer_memory, a->peak_used);
	for (size_t i = 0; i < a->n; i++) {
		const struct acc_batch *b = a->batches[i];

		repl_printf(r,
			    "  %s-%" PRId32 ": %" PRId32 " record%s, %zu bytes, %" PRId64
			    " ms old%s\n",
			    b->topic, b->partition, b->records, b->records == 1 ? "" : "s",
			    b->bytes.len, repl_now_ms(r) - b->created_ms, b->full ? ", full" : "");
	}
	repl_printf(r,
		    "accepted %" PRId64 " records; sent %" PRId64 " batches, %" PRIu64
		    " bytes (%" PRIu64 " before compression)\n",
		    st->records, st->batches, st->wire_bytes, st->uncompressed_bytes);
	return 0;
}

static int
cmd_partitioner(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	enum partitioner_kind k;

	(void)argc;
	if (partitioner_parse(argv[1], &k) != KLAB_OK)
		return repl_error(r,
				  "partitioner '%s': use default, murmur2, round-robin, sticky, "
				  "consistent_random or murmur2_random",
				  argv[1]);
	if (pump(r, sh, true, false) != 0)
		return -1;
	sh->kind = k;
	partitioner_init(&sh->prod.part, k, 1);
	repl_printf(r, "partitioner is now %s\n", partitioner_name(k));
	return 0;
}

static int
cmd_serdes(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	enum serde_kind k, v;

	(void)argc;
	if (serde_parse(argv[1], &k) != KLAB_OK || serde_parse(argv[2], &v) != KLAB_OK)
		return repl_error(r, "use bytes, string, int32, int64 or json");
	sh->key_serde = k; /* both or neither: a failed command changes nothing */
	sh->value_serde = v;
	repl_printf(r, "key serde %s, value serde %s\n", serde_name(sh->key_serde),
		    serde_name(sh->value_serde));
	return 0;
}

static int
cmd_topic_dot(struct repl *r, void *state, int argc, char **argv)
{
	struct topic_shell *sh = state;
	const char *base = argc > 1 ? argv[1] : "topics";
	char path[4096];
	struct kerr e = { 0 };
	FILE *f;

	if (need_store(r, sh) != 0)
		return -1;
	if (dot_check_base(base, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	snprintf(path, sizeof(path), "%s.dot", base);
	if ((f = fopen(path, "w")) == NULL)
		return repl_error(r, "%s: %s", path, strerror(errno));
	viz_topics_dot(f, sh->store, &sh->prod.acc);
	if (fclose(f) != 0)
		return repl_error(r, "%s: write failed", path);
	if (dot_render(base, &e) != KLAB_OK)
		return repl_error(r, "wrote %s, but %s", path, kerr_msg(&e));
	repl_printf(r, "wrote %s.dot, %s.svg and %s.png\n", base, base, base);
	return 0;
}

static int
topic_shell_check_config(const struct config *c, struct kerr *e)
{
	struct producer_config pc;

	return producer_config_load(&pc, c, e);
}

/* After every command: whatever linger.ms made ready is sent. */
static void
topic_shell_tick(struct repl *r, void *state)
{
	struct topic_shell *sh = state;

	if (sh->store != NULL)
		pump(r, sh, false, true);
}

/*
 * Where the shell's topic ids come from: klab.seed and the clock, so that
 * a script on the virtual clock prints the same ids every run, and two
 * interactive sessions draw different ones.  (A store never gives an id
 * to two of its topics; a deleted topic's id may come back in a later
 * session with the same seed and clock - a teaching shell's compromise.)
 */
static uint64_t
id_seed(struct repl *r)
{
	const struct config_entry *s = config_find(&r->cfg, "klab.seed");
	uint64_t seed = s != NULL ? strtoull(s->value, NULL, 10) : 1;

	return seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)repl_now_ms(r);
}

static int
topic_shell_init(struct repl *r, void **state)
{
	struct topic_shell *sh = calloc(1, sizeof(*sh));
	char first[4096];
	struct kerr e = { 0 };

	if (sh == NULL)
		return -1;
	*state = sh;
	sh->key_serde = sh->value_serde = SERDE_STRING;
	/* a later stage's brokers own log.dirs */
	if (!repl_is_latest(r, &repl_topic_table) || !repl_first_log_dir(r, first, sizeof(first)))
		return 0;
	if (topics_open(&sh->store, disk_real(), first, &r->cfg, id_seed(r), repl_now_ms(r), &e) !=
		    KLAB_OK ||
	    producer_init(&sh->prod, sh->store, &r->cfg, PARTITIONER_DEFAULT, 1, &e) != KLAB_OK) {
		fprintf(stderr, "klab: %s\n", kerr_msg(&e));
		return -1;
	}
	sh->have_producer = true;
	repl_printf(r, "opened log directory %s: %zu topic%s\n", first, sh->store->n,
		    sh->store->n == 1 ? "" : "s");
	for (size_t i = 0; i < sh->store->nrefused; i++)
		repl_printf(r, "error: %s\n", kerr_msg(&sh->store->refused[i].why));
	if (sh->store->ids_repaired > 0)
		repl_printf(r,
			    "rewrote %" PRIu64 " missing or unreadable " PARTITION_METADATA_FILE
			    " file%s from the topics' metadata\n",
			    sh->store->ids_repaired, sh->store->ids_repaired == 1 ? "" : "s");
	return 0;
}

static void
topic_shell_fini(struct repl *r, void *state)
{
	struct topic_shell *sh = state;

	if (sh->store != NULL) {
		pump(r, sh, true, false);
		if (topics_close(sh->store) != KLAB_OK)
			repl_error(r, "closing the log directory failed");
	}
	if (sh->have_producer)
		producer_free(&sh->prod);
	free(sh);
}

static const struct repl_cmd topic_cmds[] = {
	{ "topic", "create|list|describe|delete|add-partitions ...",
	  "create, list, describe, delete topics; add partitions",
	  "  topic create NAME [PARTITIONS] [KEY=VALUE ...]   (default: num.partitions)\n"
	  "  topic list\n"
	  "  topic describe NAME\n"
	  "  topic delete NAME\n"
	  "  topic add-partitions NAME TOTAL\n"
	  "KEY=VALUE are topic configurations with Kafka's names (retention.ms,\n"
	  "segment.bytes, ...), overriding the log.* defaults for this topic.",
	  1, -1, cmd_topic },
	{ "produce", "[-p PARTITION] [-k SERDE] [-v SERDE] TOPIC KEY VALUE [HEADER=VALUE ...]",
	  "send one record through the producer (KEY '-' is null)",
	  "The key is serialized, the partitioner picks a partition (Kafka's\n"
	  "murmur2 for keys by default), and the record joins that partition's\n"
	  "batch; the batch is sent when linger.ms passes or batch.size is reached.",
	  3, -1, cmd_produce },
	{ "produce-many", "TOPIC N [uniform|zipf|hot|low:K|none] [VALUE_BYTES]",
	  "send N generated records with a key distribution", NULL, 2, 4, cmd_produce_many },
	{ "skew", "TOPIC N uniform|zipf|hot|low:K|none",
	  "send N records and show records per partition", NULL, 3, 3, cmd_skew },
	{ "consume", "TOPIC PARTITION OFFSET [MAX_RECORDS]", "read one partition from an offset",
	  NULL, 3, 4, cmd_consume },
	{ "consume-all", "TOPIC [RECORDS_PER_FETCH]",
	  "read every partition, interleaved as a consumer does", NULL, 1, 2, cmd_consume_all },
	{ "partition-of", "TOPIC KEY [SERDE]",
	  "which partition KEY goes to, under each partitioner", NULL, 2, 3, cmd_partition_of },
	{ "producer", "[pause|resume|flush]",
	  "show the accumulator, or pause/resume/flush the sender", NULL, 0, 1, cmd_producer },
	{ "partitioner", "NAME", "choose the producer's partitioner", NULL, 1, 1, cmd_partitioner },
	{ "serdes", "KEY_SERDE VALUE_SERDE", "choose serializers: bytes string int32 int64 json",
	  NULL, 2, 2, cmd_serdes },
	{ "dot", "[FILE]", "draw topics, partitions and segments (FILE.dot, .svg, .png)", NULL, 0,
	  1, cmd_topic_dot },
};

const struct repl_table repl_topic_table = {
	.name = "topic",
	.title = "stage 2: topics and partitions",
	.cmds = topic_cmds,
	.ncmds = (int)(sizeof(topic_cmds) / sizeof(topic_cmds[0])),
	.init = topic_shell_init,
	.fini = topic_shell_fini,
	.tick = topic_shell_tick,
	.check_config = topic_shell_check_config,
};
