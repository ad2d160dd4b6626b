/*
 * broker.c - the broker node: start, frames in, responses out, stop
 * (see broker.h; chapter 3 §3).
 *
 * One frame is one request.  The broker answers it before it looks at the
 * next, so responses leave each connection in request order, as Kafka's
 * one-request-at-a-time-per-connection rule requires.
 *
 * Invariants (broker_check_invariants):
 *   1. The purgatory holds at most one Fetch per connection.
 *   2. A waiting Fetch's connection is open: not one the broker closed
 *      (a connection the peer closes takes its Fetch out, broker_closed).
 *   3. Each waiting Fetch keeps one whole request frame and its timer;
 *      what queued behind it is whole frames, at most QUEUED_MAX bytes.
 *   4. A Fetch waits only while the store is open, and fetches_parked
 *      counts at least the Fetches waiting now.
 *   5. The maintenance timer runs only with an interval.
 *   6. The metadata source keeps its own (metadata.h, invariant 7).
 *   7. Its topic store keeps its own, and so does every log in it
 *      (topics_check_invariants: offsets, segments, indexes).
 *   8. A waiting Fetch lists each of its partitions once (fetch_dedupe),
 *      and keeps the logs it waits on sorted, without repeats: an append
 *      runs again only the Fetches waiting on the log appended to (wake),
 *      at a cost that does not grow with how often a request repeated a
 *      partition.
 */
#include "broker/broker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "topic/topic.h"

void
broker_log(struct broker *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (b->cfg.log != NULL)
		b->cfg.log(b->cfg.log_arg, line);
	else
		fprintf(stderr, "%s\n", line);
}

void
broker_log_dir_failed(struct broker *b, const char *why)
{
	if (b->store != NULL && logdir_fail(b->store->dir, why))
		broker_log(b,
			   "broker %d: log directory %s is offline: %s; its partitions answer "
			   "KAFKA_STORAGE_ERROR until the broker is restarted",
			   b->cfg.broker_id, b->store->dir->path, why);
}

/*
 * Close the topic store; a close that could not flush, checkpoint or write
 * the clean-shutdown marker (a full or failed disk) fails the broker, so
 * its process does not report a clean shutdown.
 */
static void
close_store(struct broker *b)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s", b->store->dir->path);
	if (topics_close(b->store) != KLAB_OK && !b->failed) {
		b->failed = true;
		kerr_set(&b->error, KLAB_EIO,
			 "log directory %s: the stop is not clean (a flush or checkpoint failed, "
			 "or the directory is offline): no clean-shutdown marker, the next start "
			 "recovers its logs",
			 dir);
		broker_log(b, "broker %d: %s", b->cfg.broker_id, kerr_msg(&b->error));
	}
	b->store = NULL;
}

void
broker_init(struct broker *b, const struct broker_config *cfg)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	buf_init(&b->out);
	b->meta.ops = cfg->metadata_ops != NULL ? cfg->metadata_ops : &cluster_metadata_ops;
	b->meta.b = b;
	b->meta.state = cfg->metadata_state;
}

static void free_parked(struct broker *b, bool cancel);

void
broker_free(struct broker *b)
{
	free_parked(b, false);
	if (b->store != NULL)
		close_store(b);
	buf_free(&b->out);
	proto_splices_free(&b->splices);
	free(b->touched);
	b->touched = NULL;
	b->ntouched = b->captouched = 0;
	b->meta.ops->stop(&b->meta);
}

void
broker_crash(struct broker *b)
{
	free_parked(b, false);	     /* its timers die with it */
	b->meta.ops->stop(&b->meta); /* and its connections */
	topics_release(b->store);    /* no I/O: the disk decides what survived */
	b->store = NULL;
}

/* ---- request memory ------------------------------------------------------- */

int
breq_keep(struct broker_req *r, void *p)
{
	if (r->nkeep == r->capkeep) {
		size_t cap = r->capkeep ? 2 * r->capkeep : 16;
		void **k = realloc(r->keep, cap * sizeof(*k));

		if (k == NULL) {
			free(p);
			return KLAB_ENOMEM;
		}
		r->keep = k;
		r->capkeep = cap;
	}
	r->keep[r->nkeep++] = p;
	return KLAB_OK;
}

void *
breq_alloc(struct broker_req *r, size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL || breq_keep(r, p) != KLAB_OK)
		return NULL;
	return p;
}

char *
breq_strndup(struct broker_req *r, const uint8_t *p, int32_t len)
{
	char *s;

	if (len < 0)
		return NULL;
	if ((s = breq_alloc(r, (size_t)len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, p, (size_t)len);
	s[len] = '\0';
	return s;
}

char *
breq_printf(struct broker_req *r, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	return breq_strndup(r, (const uint8_t *)tmp, n);
}

static void
breq_release(struct broker_req *r)
{
	for (size_t i = 0; i < r->nkeep; i++)
		free(r->keep[i]);
	free(r->keep);
	r->keep = NULL;
	r->nkeep = r->capkeep = 0;
}

/* ---- repeats in a request ------------------------------------------------------ */

static int
key_cmp(const void *x, const void *y)
{
	const struct breq_key *a = x, *b = y;
	int c;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->len > 0 && (c = memcmp(a->p, b->p, (size_t)a->len)) != 0)
		return c;
	if (a->num != b->num)
		return a->num < b->num ? -1 : 1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

void
breq_keys_sort(struct breq_key *k, size_t n)
{
	if (n > 1)
		qsort(k, n, sizeof(*k), key_cmp);
}

bool
breq_key_same(const struct breq_key *a, const struct breq_key *b)
{
	return a->len == b->len && a->num == b->num &&
	       (a->len <= 0 || memcmp(a->p, b->p, (size_t)a->len) == 0);
}

/* ---- node handlers ---------------------------------------------------------- */

static struct broker *
B(struct node *n)
{
	return n->state;
}

/*
 * Arm the maintenance timer when log.retention.check.interval.ms is set
 * (klab broker sets Kafka's default, 5 minutes; simulated tests leave it
 * out so that a quiet simulation goes idle).
 */
static void
schedule_maintenance(struct broker *b, const struct config *props)
{
	static const struct config_key interval = {
		"log.retention.check.interval.ms",
		CONFIG_LONG,
		"300000",
		1,
		INT64_MAX,
		NULL,
		"how often retention and time-based flushes run"
	};

	if (!config_has(props, interval.name))
		return;
	if (b->maintenance_ms == 0 &&
	    config_long(props, &interval, &b->maintenance_ms, &b->error) != KLAB_OK) {
		broker_log(b, "broker %d: %s; using 300000", b->cfg.broker_id, kerr_msg(&b->error));
		b->maintenance_ms = 300000;
	}
	b->maintenance_timer = b->node->rt->ops->set_timer(b->node->rt, b->maintenance_ms);
}

/* Retention and time-based flushes on every partition, then checkpoints. */
static void
run_maintenance(struct broker *b)
{
	int64_t now = b->node->rt->ops->now_ms(b->node->rt);
	struct log_retention_report rep;

	if (b->store->dir->offline)
		return; /* nothing more is written to it (logdir_fail) */
	for (size_t i = 0; i < b->store->n; i++) {
		const struct topic *t = b->store->topics[i];

		for (int32_t p = 0; p < t->partitions; p++) {
			if (t->logs[p] == NULL)
				continue; /* another broker's */
			if (log_apply_retention(t->logs[p], now, &rep) == KLAB_OK &&
			    rep.segments_deleted > 0)
				broker_log(b,
					   "broker %d: retention deleted %d segment%s of %s-%d; "
					   "log start offset %lld",
					   b->cfg.broker_id, rep.segments_deleted,
					   rep.segments_deleted == 1 ? "" : "s", t->name, (int)p,
					   (long long)rep.log_start_offset);
			if (log_tick(t->logs[p], now) != KLAB_OK)
				broker_log_dir_failed(b, "a time-based flush failed");
		}
	}
	if (logdir_checkpoint(b->store->dir) != KLAB_OK)
		broker_log_dir_failed(b, "a checkpoint could not be written");
	b->maintenance_runs++;
}

/* What opening the logs ignored, said once in the broker's log (log.c, log_open). */
static void
log_open_warnings(struct broker *b)
{
	for (size_t i = 0; i < b->store->nrefused; i++)
		broker_log(b, "broker %d: error: %s", b->cfg.broker_id,
			   kerr_msg(&b->store->refused[i].why));
	if (b->store->ids_repaired > 0)
		broker_log(b,
			   "broker %d: warning: %llu " PARTITION_METADATA_FILE
			   " file%s missing or unreadable: rewritten from the topics' metadata",
			   b->cfg.broker_id, (unsigned long long)b->store->ids_repaired,
			   b->store->ids_repaired == 1 ? "" : "s");
	for (size_t i = 0; i < b->store->dir->nlogs; i++) {
		const struct logdir_log *dl = &b->store->dir->logs[i];

		if (dl->log->report.start_restarted >= 0)
			broker_log(b,
				   "broker %d: warning: %s: the log-start checkpoint says %lld, "
				   "beyond what the crash left: the log restarts empty there",
				   b->cfg.broker_id, dl->name,
				   (long long)dl->log->report.start_restarted);
		if (dl->log->report.start_ignored >= 0)
			broker_log(b,
				   "broker %d: warning: %s: the log-start checkpoint says %lld, "
				   "beyond the log end %lld: ignored, the log starts at %lld",
				   b->cfg.broker_id, dl->name,
				   (long long)dl->log->report.start_ignored,
				   (long long)dl->log->next_offset,
				   (long long)dl->log->log_start_offset);
	}
}

static void
broker_start(struct node *n)
{
	struct broker *b = B(n);
	struct config empty;
	const struct config *props = b->cfg.props;
	const char *dir = b->cfg.log_dir[0] ? b->cfg.log_dir : n->rt->ops->data_dir(n->rt);
	int64_t now = n->rt->ops->now_ms(n->rt);
	int rc;

	b->node = n;
	b->failed = false;
	b->pids_open = false; /* the block file is read again: memory did not survive */
	config_init(&empty);
	if (props == NULL)
		props = &empty;
	if (b->store == NULL) {
		/*
		 * The topic-id generator starts from the clock and the broker
		 * id, not from a draw of the runtime's, which would change
		 * every simulated run; the random numbers that place each
		 * topic are mixed in later (cluster.c, static_create_topic).
		 */
		rc = topics_open_as(
			&b->store, n->rt->ops->disk(n->rt), dir, props, b->cfg.broker_id,
			(uint64_t)now * 0x9E3779B97F4A7C15ull ^ (uint64_t)b->cfg.broker_id, now,
			&b->error);
		if (rc != KLAB_OK) {
			b->store = NULL;
			b->failed = true;
			broker_log(b, "broker %d: cannot open log directory %s: %s",
				   b->cfg.broker_id, dir, kerr_msg(&b->error));
			config_free(&empty);
			if (b->cfg.on_fail != NULL)
				b->cfg.on_fail(b->cfg.on_fail_arg);
			return;
		}
		log_open_warnings(b);
	}
	config_free(&empty);
	b->listener = n->rt->ops->listen(n->rt, b->cfg.listen_host, b->cfg.listen_port, &b->error);
	if (b->listener <= 0) {
		b->failed = true;
		broker_log(b, "broker %d: cannot listen on %s:%d: %s", b->cfg.broker_id,
			   b->cfg.listen_host, b->cfg.listen_port, kerr_msg(&b->error));
		if (b->cfg.on_fail != NULL)
			b->cfg.on_fail(b->cfg.on_fail_arg);
		return;
	}
	b->port = n->rt->ops->listener_port(n->rt, b->listener);
	if (b->port <= 0)
		b->port = b->cfg.listen_port;
	if (b->cfg.advertised_port == 0)
		b->cfg.advertised_port = b->port;
	broker_log(b, "broker %d: listening on %s:%d", b->cfg.broker_id,
		   b->cfg.listen_host[0] ? b->cfg.listen_host : "0.0.0.0", b->port);
	if (b->cfg.advertised_host[0] == '\0')
		snprintf(b->cfg.advertised_host, sizeof(b->cfg.advertised_host), "%s",
			 b->cfg.listen_host[0] ? b->cfg.listen_host : "localhost");
	schedule_maintenance(b, props);
	b->meta.ops->start(&b->meta);
}

static void
close_bad(struct broker *b, conn_id c, const char *why)
{
	b->closed_recent[b->closed_bad % BROKER_CLOSED_RECENT] = c;
	b->closed_bad++;
	broker_log(b, "broker %d: closing connection %lld: %s", b->cfg.broker_id, (long long)c,
		   why);
	b->node->rt->ops->close(b->node->rt, c);
}

static broker_handler
handler_for(int16_t key)
{
	switch (key) {
	case KAPI_PRODUCE: return handle_produce;
	case KAPI_FETCH: return handle_fetch;
	case KAPI_LIST_OFFSETS: return handle_list_offsets;
	case KAPI_METADATA: return handle_metadata;
	case KAPI_FIND_COORDINATOR: return handle_find_coordinator;
	case KAPI_API_VERSIONS: return handle_api_versions;
	case KAPI_CREATE_TOPICS: return handle_create_topics;
	case KAPI_DELETE_TOPICS: return handle_delete_topics;
	case KAPI_INIT_PRODUCER_ID: return handle_init_producer_id;
	default: return NULL;
	}
}

/* ApiVersions above klab's range: error 35 and the list, in v0 (KIP-511). */
static void
api_versions_unsupported(struct broker *b, conn_id c, const struct proto_request_header *h)
{
	const struct api_desc *api = proto_api(KAPI_API_VERSIONS);
	struct broker_req r = { .b = b, .h = h };
	struct pvalue *resp = pvalue_new(api->response);

	if (resp == NULL) {
		close_bad(b, c, "out of memory");
		return;
	}
	/* as Kafka's ApiVersionsRequest.getErrorResponse: only ApiVersions' own range */
	handle_api_versions(&r, NULL, resp);
	for (int32_t i = 0; i < pvalue_count(pvalue_array(resp, "api_keys")); i++) {
		struct pvalue *k = pvalue_at(pvalue_array(resp, "api_keys"), i);

		if (pvalue_get_int(k, "api_key") == KAPI_API_VERSIONS) {
			int64_t lo = pvalue_get_int(k, "min_version"),
				hi = pvalue_get_int(k, "max_version");

			if (pvalue_array_resize(pvalue_array(resp, "api_keys"), 1) != KLAB_OK)
				break;
			k = pvalue_at(pvalue_array(resp, "api_keys"), 0);
			pvalue_set_int(k, "api_key", KAPI_API_VERSIONS);
			pvalue_set_int(k, "min_version", lo);
			pvalue_set_int(k, "max_version", hi);
			break;
		}
	}
	pvalue_set_int(resp, "error_code", KERR_UNSUPPORTED_VERSION);
	buf_reset(&b->out);
	if (proto_response_encode(h->correlation_id, api, 0, resp, &b->out) == KLAB_OK)
		b->node->rt->ops->send(b->node->rt, c, b->out.data, b->out.len);
	pvalue_free(resp);
}

static void
trace_msg(struct broker *b, const struct api_desc *api, bool response, int16_t v, int32_t corr,
	  const struct pvalue *body)
{
	char line[512];

	if (!b->cfg.trace)
		return;
	proto_trace(line, sizeof(line), api, response, v, corr, body);
	b->node->rt->ops->trace(b->node->rt, line);
}

/* ---- one request --------------------------------------------------------------- */

enum outcome { DONE, PARKED, CLOSED };

struct broker_parked {
	struct broker_parked *next;
	conn_id conn;
	timer_id timer;
	uint8_t *frame; /* the waiting Fetch, re-encoded without repeats (invariant 8) */
	size_t len;
	struct buf queued; /* frames that arrived on conn behind it */
	struct log **logs; /* the logs it waits on, sorted, each once */
	size_t nlogs;
	uint64_t checked; /* appends (touched_seq0 + i) it has run after */
};

/* What handle_one gives park() for a Fetch that waits. */
struct park_info {
	struct buf frame;
	struct log **logs;
	size_t nlogs;
};

/* Where a Produce or a Fetch request keeps its topics and partitions. */
struct req_shape {
	const char *topics, *name, *parts, *index;
};

static const struct req_shape produce_shape = { "topic_data", "name", "partition_data", "index" };
static const struct req_shape fetch_shape = { "topics", "topic", "partitions", "partition" };

/*
 * Kafka's FetchRequest holds its partitions in a map (fetchData): a
 * partition listed twice is fetched and answered once.  Drop each repeat
 * of a (topic, partition) after its first, and the topics it leaves
 * without partitions, in O(n log n), so that the answer and the waiting
 * Fetch cost what its distinct partitions cost (invariant 8).  (Kafka's
 * map keeps the first's place and the last's offsets; klab keeps the
 * first.)
 */
static int
fetch_dedupe(struct pvalue *req, int16_t v)
{
	struct pvalue *topics = pvalue_array(req, "topics");
	int32_t nt = pvalue_count(topics);
	size_t n = 0, k = 0, dups = 0;
	struct breq_key *keys;
	bool *keep;

	for (int32_t i = 0; i < nt; i++)
		n += (size_t)pvalue_count(pvalue_array(pvalue_at(topics, i), "partitions"));
	if (n < 2)
		return KLAB_OK;
	keys = malloc(n * sizeof(*keys));
	keep = malloc((n > (size_t)nt ? n : (size_t)nt) * sizeof(*keep));
	if (keys == NULL || keep == NULL) {
		free(keys);
		free(keep);
		return KLAB_ENOMEM;
	}
	for (int32_t i = 0; i < nt; i++) {
		const struct pvalue *t = pvalue_at(topics, i), *ps = pvalue_array(t, "partitions");
		int32_t len = 16;
		/* from v13 a topic is its id (KIP-516): the 16 bytes are the key */
		const uint8_t *name = pvalue_has_field(t, "topic_id", v)
					      ? pvalue_get(t, "topic_id")->uuid
					      : pvalue_get_bytes(t, "topic", &len);

		for (int32_t j = 0; j < pvalue_count(ps); j++, k++)
			keys[k] = (struct breq_key){
				name, len, (int32_t)pvalue_get_int(pvalue_at(ps, j), "partition"),
				(int32_t)k
			};
	}
	breq_keys_sort(keys, n);
	for (k = 0; k < n; k++) {
		bool repeat = k > 0 && breq_key_same(&keys[k - 1], &keys[k]);

		keep[keys[k].pos] = !repeat;
		dups += repeat;
	}
	free(keys);
	if (dups > 0) {
		k = 0;
		for (int32_t i = 0; i < nt; i++) {
			struct pvalue *ps = pvalue_array(pvalue_at(topics, i), "partitions");
			int32_t np = pvalue_count(ps);

			pvalue_array_filter(ps, keep + k);
			k += (size_t)np;
		}
		for (int32_t i = 0; i < nt; i++) /* a topic all of whose partitions were repeats */
			keep[i] =
				pvalue_count(pvalue_array(pvalue_at(topics, i), "partitions")) > 0;
		pvalue_array_filter(topics, keep);
	}
	free(keep);
	return KLAB_OK;
}

/* The log of partition p of topic name[0..len) on this broker, or NULL. */
static struct log *
local_log(struct broker *b, const uint8_t *name, int32_t len, int32_t p)
{
	char s[TOPIC_NAME_MAX + 1];
	struct topic *t;

	/* the exact bytes: "t\0x" is no topic, not "t" */
	if (name == NULL || len <= 0 || len > TOPIC_NAME_MAX || memchr(name, 0, (size_t)len))
		return NULL;
	memcpy(s, name, (size_t)len);
	s[len] = '\0';
	t = topics_find(b->store, s);
	return t != NULL && p >= 0 && p < t->partitions ? t->logs[p] : NULL;
}

/*
 * The name bytes topic element t (of a request at version ver, shape w)
 * names its topic by: its name, or from Fetch v13 on (KIP-516) the name
 * the metadata source has for its id; NULL when there is none.
 */
static const uint8_t *
req_topic(struct broker *b, const struct pvalue *t, const struct req_shape *w, int16_t ver,
	  int32_t *len)
{
	struct metadata_source *m = &b->meta;
	const char *name;
	uint8_t id[16];

	if (!pvalue_has_field(t, "topic_id", ver))
		return pvalue_get_bytes(t, w->name, len);
	pvalue_get_uuid(t, "topic_id", id);
	name = m->ops->topic_by_id != NULL ? m->ops->topic_by_id(m, id) : NULL;
	*len = name != NULL ? (int32_t)strlen(name) : -1;
	return (const uint8_t *)name;
}

/* Append to *v (n of cap) the local log of each partition req (version ver) lists (shape w). */
static int
collect_logs(struct broker *b, const struct pvalue *req, int16_t ver, const struct req_shape *w,
	     struct log ***v, size_t *n, size_t *cap)
{
	const struct pvalue *topics = pvalue_array(req, w->topics);

	for (int32_t i = 0; i < pvalue_count(topics); i++) {
		const struct pvalue *t = pvalue_at(topics, i), *ps = pvalue_array(t, w->parts);
		int32_t len;
		const uint8_t *name = req_topic(b, t, w, ver, &len);

		for (int32_t j = 0; j < pvalue_count(ps); j++) {
			struct log *l = local_log(
				b, name, len, (int32_t)pvalue_get_int(pvalue_at(ps, j), w->index));

			if (l == NULL)
				continue;
			if (*n == *cap) {
				size_t nc = *cap ? 2 * *cap : 8;
				struct log **nv = realloc(*v, nc * sizeof(*nv));

				if (nv == NULL)
					return KLAB_ENOMEM;
				*v = nv;
				*cap = nc;
			}
			(*v)[(*n)++] = l;
		}
	}
	return KLAB_OK;
}

static int
ptr_cmp(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t) * (struct log *const *)x,
		  b = (uintptr_t) * (struct log *const *)y;

	return (a > b) - (a < b);
}

/* A waiting Fetch: its frame without repeats, and the logs it waits on. */
static int
park_prepare(struct broker *b, const struct proto_request_header *h, const struct pvalue *req,
	     struct park_info *pk)
{
	size_t cap = 0, k = 0;

	if (proto_request_encode(h, req, &pk->frame) != KLAB_OK ||
	    collect_logs(b, req, h->api_version, &fetch_shape, &pk->logs, &pk->nlogs, &cap) !=
		    KLAB_OK)
		return KLAB_ENOMEM;
	if (pk->nlogs > 1)
		qsort(pk->logs, pk->nlogs, sizeof(*pk->logs), ptr_cmp);
	for (size_t i = 0; i < pk->nlogs; i++)
		if (k == 0 || pk->logs[k - 1] != pk->logs[i])
			pk->logs[k++] = pk->logs[i];
	pk->nlogs = k;
	return KLAB_OK;
}

/* Begin a new frame or timer: forget the appends of the last. */
static void
touched_reset(struct broker *b)
{
	b->touched_seq0 += b->ntouched;
	b->ntouched = 0;
}

/* Was a log p waits on appended to since p last ran? */
static bool
parked_touched(const struct broker *b, const struct broker_parked *p)
{
	size_t from = p->checked > b->touched_seq0 ? (size_t)(p->checked - b->touched_seq0) : 0;

	for (size_t i = from; i < b->ntouched; i++)
		if (bsearch(&b->touched[i], p->logs, p->nlogs, sizeof(*p->logs), ptr_cmp) != NULL)
			return true;
	return false;
}

#define QUEUED_MAX (64u << 20) /* bytes queued behind a waiting Fetch */

static struct broker_parked *
find_parked(struct broker *b, conn_id c)
{
	for (struct broker_parked *p = b->parked; p != NULL; p = p->next)
		if (p->conn == c)
			return p;
	return NULL;
}

static void
parked_free(struct broker_parked *p)
{
	free(p->frame);
	free(p->logs);
	buf_free(&p->queued);
	free(p);
}

/* Unlink p from the purgatory (cancelling its timer unless it fired). */
static void
unpark(struct broker *b, struct broker_parked *p, bool cancel)
{
	for (struct broker_parked **pp = &b->parked; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (cancel && b->node != NULL)
		b->node->rt->ops->cancel_timer(b->node->rt, p->timer);
}

/* Park the Fetch handle_one prepared (pk: its frame and logs, taken over). */
static void
park(struct broker *b, conn_id c, struct park_info *pk, int64_t ms)
{
	struct broker_parked *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		buf_free(&pk->frame);
		free(pk->logs);
		close_bad(b, c, "out of memory");
		return;
	}
	p->frame = pk->frame.data;
	p->len = pk->frame.len;
	p->logs = pk->logs;
	p->nlogs = pk->nlogs;
	p->checked = b->touched_seq0 + b->ntouched;
	p->conn = c;
	buf_init(&p->queued);
	p->timer = b->node->rt->ops->set_timer(b->node->rt, ms);
	p->next = b->parked;
	b->parked = p;
	b->fetches_parked++;
}

/*
 * Send the response in b->out: as it is, or, when Fetch records stayed in
 * segment files, as parts whose file regions go out with sendfile.
 */
static void
send_response(struct broker *b, conn_id c)
{
	struct rt *rt = b->node->rt;
	struct proto_splices *sp = &b->splices;
	struct rt_part one = { .bytes = b->out.data, .len = b->out.len, .file = NULL };
	struct rt_part *parts = &one;
	size_t at = 0;
	int rc;

	if (sp->n > 0 && (parts = calloc(sp->n + 1, sizeof(*parts))) == NULL) {
		close_bad(b, c, "out of memory");
		return;
	}
	for (size_t i = 0; i < sp->n; i++) {
		parts[i] = (struct rt_part){ b->out.data + at, sp->v[i].at - at, sp->v[i].file,
					     sp->v[i].file_off, sp->v[i].len };
		at = sp->v[i].at;
	}
	if (sp->n > 0)
		parts[sp->n] = (struct rt_part){ b->out.data + at, b->out.len - at, NULL, 0, 0 };
	rc = rt->ops->send_parts(rt, c, parts, sp->n + 1);
	if (parts != &one)
		free(parts);
	if (rc != KLAB_OK) /* the client would wait forever: tell it by closing */
		close_bad(b, c, "the response cannot be queued (max output bytes)");
}

/* The client id of h for a log line: printable bytes, at most 64; "null". */
static void
client_id_text(const struct proto_request_header *h, char *out, size_t n)
{
	size_t k = 0;

	if (h->client_id == NULL) {
		snprintf(out, n, "null");
		return;
	}
	for (int16_t i = 0; i < h->client_id_len && i < 64 && k + 1 < n; i++) {
		uint8_t ch = h->client_id[i];

		out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[k] = '\0';
}

/*
 * Why a request is refused, saying what a reader of the log needs to tell
 * which client sent what: the API by name (or its number), the version,
 * the versions klab serves, and the client id, e.g. "Metadata v13 is not
 * supported (klab serves v0-v12), client_id=rdkafka" (issue: a refusal
 * must be diagnosable).
 */
static const char *
refusal(char *why, size_t n, const struct proto_request_header *h, const struct api_desc *api,
	const char *what)
{
	char id[80];

	client_id_text(h, id, sizeof(id));
	if (api == NULL)
		snprintf(why, n, "unknown API key %d (v%d), client_id=%s", h->api_key,
			 h->api_version, id);
	else if (what == NULL)
		snprintf(why, n, "%s v%d is not supported (klab serves v%d-v%d), client_id=%s",
			 api->name, h->api_version, api->min_version, api->max_version, id);
	else
		snprintf(why, n, "%s v%d: %s, client_id=%s", api->name, h->api_version, what, id);
	return why;
}

/*
 * The header of a frame, checked: the API and its handler, or why the
 * connection must close, written into why (an ApiVersions above klab's
 * range is answered here, as Kafka does, and *answered is set).
 */
static const char *
check_header(struct broker *b, conn_id c, const uint8_t *frame, size_t len,
	     struct proto_request_header *h, struct cursor *body, const struct api_desc **api,
	     broker_handler *fn, bool *answered, char *why, size_t n)
{
	*answered = false;
	if (b->failed || b->store == NULL)
		return "the broker failed to start";
	if (len < 4 || proto_request_header_parse(frame + 4, len - 4, h, body) != KLAB_OK) {
		int16_t key = len >= 8 ? (int16_t)be16_read(frame + 4) : -1;
		const struct api_desc *known = proto_api(key);

		if (len < 8)
			return "malformed request header";
		if (known != NULL)
			snprintf(why, n, "malformed request header (%s v%d)", known->name,
				 (int16_t)be16_read(frame + 6));
		else
			snprintf(why, n, "malformed request header (unknown API key %d)", key);
		return why;
	}
	*api = proto_api(h->api_key);
	*fn = handler_for(h->api_key);
	if (*api == NULL || *fn == NULL)
		return refusal(why, n, h, NULL, NULL);
	if (h->api_version >= (*api)->min_version && h->api_version <= (*api)->max_version)
		return NULL;
	if (h->api_key == KAPI_API_VERSIONS && h->api_version > (*api)->max_version) {
		broker_log(b, "broker %d: connection %lld: %s: answered UNSUPPORTED_VERSION in v0",
			   b->cfg.broker_id, (long long)c, refusal(why, n, h, *api, NULL));
		api_versions_unsupported(b, c, h);
		*answered = true;
		return NULL;
	}
	return refusal(why, n, h, *api, NULL);
}

/* Encode and send the answer to a handled request; false if it cannot be encoded. */
static bool
answer(struct broker *b, conn_id c, const struct api_desc *api,
       const struct proto_request_header *h, const struct pvalue *resp)
{
	int rc;

	buf_reset(&b->out);
	b->splices.n = 0;
	b->splices.bytes = 0;
	rc = proto_response_encode_spliced(h->correlation_id, api, h->api_version, resp, &b->out,
					   b->cfg.fetch_copy ? NULL : &b->splices);
	if (rc == KLAB_OK) {
		trace_msg(b, api, true, h->api_version, h->correlation_id, resp);
		send_response(b, c);
	}
	if (b->out.cap > (1u << 24)) { /* do not keep a huge buffer */
		buf_free(&b->out);
		buf_init(&b->out);
	}
	return rc == KLAB_OK;
}

/*
 * Why a request body could not be decoded, for the log line that closes
 * its connection.
 */
static const char *
decode_failure(int rc, size_t len, char *why, size_t n)
{
	if (rc == KLAB_ENOMEM)
		return "out of memory decoding the request body";
	if (rc != KLAB_ETOOLARGE)
		return "malformed request body";
	snprintf(why, n,
		 "request body of %zu bytes: decoded it would take more than %zu bytes (klab "
		 "decodes at most %d bytes per byte of a request, plus %zu)",
		 len, proto_decode_budget(len), PROTO_DECODE_RATIO, PROTO_DECODE_SLACK);
	return why;
}

/*
 * Note the logs a Produce appended to (broker.touched) for wake().  Out of
 * memory, the Fetches waiting on them answer when their wait ends instead.
 */
static void
note_appends(struct broker *b, const struct pvalue *req)
{
	(void)collect_logs(b, req, 0, &produce_shape, &b->touched, &b->ntouched, &b->captouched);
}

/*
 * Handle one request frame on c.  may_park: a Fetch may wait (false once
 * its max_wait_ms has passed).  *appended is set when records went in.
 * PARKED: the Fetch waits and no response was sent; the caller decides
 * whether that means a new purgatory entry (park(), with what park_prepare
 * put in pk when pk is not NULL).
 */
static enum outcome
handle_one(struct broker *b, conn_id c, const uint8_t *frame, size_t len, bool may_park,
	   bool *appended, int64_t *park_ms, struct park_info *pk)
{
	struct node *n = b->node;
	struct proto_request_header h;
	struct cursor body;
	const struct api_desc *api = NULL;
	broker_handler fn = NULL;
	struct pvalue *req = NULL, *resp = NULL;
	struct broker_req r;
	enum outcome out = DONE;
	bool answered;
	char why[400], what[240];
	const char *bad =
		check_header(b, c, frame, len, &h, &body, &api, &fn, &answered, why, sizeof(why));
	int rc;

	if (bad == NULL && !answered && (rc = proto_request_decode(&h, body, &req)) != KLAB_OK)
		bad = refusal(why, sizeof(why), &h, api,
			      decode_failure(rc, body.len, what, sizeof(what)));
	if (bad == NULL && !answered && h.api_key == KAPI_FETCH &&
	    fetch_dedupe(req, h.api_version) != KLAB_OK)
		bad = refusal(why, sizeof(why), &h, api, "out of memory");
	if (bad == NULL && !answered && (resp = pvalue_new(api->response)) == NULL)
		bad = refusal(why, sizeof(why), &h, api, "out of memory");
	if (bad != NULL || answered) {
		pvalue_free(req);
		if (bad != NULL)
			close_bad(b, c, bad);
		return bad != NULL ? CLOSED : DONE;
	}
	memset(&r, 0, sizeof(r));
	r.b = b;
	r.h = &h;
	r.now_ms = n->rt->ops->now_ms(n->rt);
	r.may_park = may_park;
	if (fn(&r, req, resp) != KLAB_OK) {
		close_bad(b, c, refusal(why, sizeof(why), &h, api, "the handler failed"));
		out = CLOSED;
	} else if (r.park && pk != NULL && park_prepare(b, &h, req, pk) != KLAB_OK) {
		close_bad(b, c, refusal(why, sizeof(why), &h, api, "out of memory"));
		out = CLOSED;
	} else if (r.park) {
		*park_ms = r.park_ms;
		out = PARKED;
	} else {
		trace_msg(b, api, false, h.api_version, h.correlation_id, req);
		b->requests++;
		if (!r.no_response && !answer(b, c, api, &h, resp)) {
			close_bad(b, c,
				  refusal(why, sizeof(why), &h, api, "cannot encode the response"));
			out = CLOSED;
		}
	}
	if (r.appended && h.api_key == KAPI_PRODUCE)
		note_appends(b, req);
	*appended |= r.appended;
	breq_release(&r);
	pvalue_free(resp);
	pvalue_free(req);
	return out;
}

/* A fresh frame on c (not queued): handle it, parking a Fetch that waits. */
static enum outcome
handle_fresh(struct broker *b, conn_id c, const uint8_t *frame, size_t len, bool *appended)
{
	int64_t ms = 0;
	struct park_info pk = { .logs = NULL };
	enum outcome o;

	buf_init(&pk.frame);
	o = handle_one(b, c, frame, len, true, appended, &ms, &pk);
	if (o == PARKED) {
		park(b, c, &pk, ms);
		return o;
	}
	buf_free(&pk.frame);
	free(pk.logs);
	return o;
}

/* Handle the frames that queued behind a Fetch that has now answered. */
static void
drain(struct broker *b, conn_id c, struct buf *q, bool *appended)
{
	size_t pos = 0;

	while (q->len - pos >= 4) {
		size_t flen = 4 + (size_t)be32_read(q->data + pos);
		struct broker_parked *np = find_parked(b, c);

		KLAB_ASSERT(flen <= q->len - pos,
			    "a queued frame of %zu bytes at %zu of %zu: "
			    "only whole frames are queued",
			    flen, pos, q->len);
		if (np != NULL) { /* a queued Fetch waits in turn: the rest queue behind it */
			buf_put(&np->queued, q->data + pos, q->len - pos);
			return;
		}
		if (handle_fresh(b, c, q->data + pos, flen, appended) == CLOSED)
			return;
		pos += flen;
	}
}

/*
 * Re-run the waiting Fetches that waited on a log appended to (fired ==
 * 0), or the one whose timer fired ends its wait; answer those that are
 * ready and then the frames queued behind them.  Invariant 8: a Fetch
 * waiting on other logs is not touched.
 */
static void
wake(struct broker *b, timer_id fired)
{
	bool again = true;

	while (again) {
		again = false;
		for (struct broker_parked *p = b->parked; p != NULL; p = p->next) {
			bool timed_out = fired != 0 && p->timer == fired;
			bool appended = false;
			int64_t ms;
			enum outcome o;

			if (!timed_out && !parked_touched(b, p))
				continue;
			p->checked = b->touched_seq0 + b->ntouched;
			o = handle_one(b, p->conn, p->frame, p->len, !timed_out, &appended, &ms,
				       NULL);
			if (o == PARKED)
				continue;
			if (timed_out)
				fired = 0;
			unpark(b, p, !timed_out);
			if (o == DONE)
				drain(b, p->conn, &p->queued, &appended);
			parked_free(p);
			again = true; /* the list changed; appends may wake others */
			break;
		}
	}
}

static void
broker_frame(struct node *n, conn_id c, const uint8_t *frame, size_t len)
{
	struct broker *b = B(n);
	struct broker_parked *p;
	bool appended = false;

	b->node = n;
	if (b->meta.ops->frame(&b->meta, c, frame, len)) /* on the metadata source's connection */
		return;
	touched_reset(b);
	if ((p = find_parked(b, c)) != NULL) { /* one request at a time per connection */
		if (p->queued.len + len > QUEUED_MAX) {
			unpark(b, p, true);
			parked_free(p);
			close_bad(b, c, "too many requests behind a waiting Fetch");
			return;
		}
		buf_put(&p->queued, frame, len);
		return;
	}
	handle_fresh(b, c, frame, len, &appended);
	if (appended && b->parked != NULL)
		wake(b, 0);
}

static void
broker_timer(struct node *n, timer_id t)
{
	struct broker *b = B(n);

	b->node = n;
	if (t == b->maintenance_timer && b->store != NULL) {
		run_maintenance(b);
		b->maintenance_timer = n->rt->ops->set_timer(n->rt, b->maintenance_ms);
		return;
	}
	for (struct broker_parked *p = b->parked; p != NULL; p = p->next)
		if (p->timer == t) {
			touched_reset(b);
			wake(b, t);
			return;
		}
	b->meta.ops->timer(&b->meta, t);
}

static void
broker_closed(struct node *n, conn_id c)
{
	struct broker *b = B(n);
	struct broker_parked *p;

	b->node = n;
	if (b->meta.ops->closed(&b->meta, c))
		return;
	if ((p = find_parked(b, c)) != NULL) {
		unpark(b, p, true);
		parked_free(p);
	}
}

static void
broker_connected(struct node *n, conn_id c, bool ok)
{
	struct broker *b = B(n);

	b->node = n;
	b->meta.ops->connected(&b->meta, c, ok);
}

static void
free_parked(struct broker *b, bool cancel)
{
	while (b->parked != NULL) {
		struct broker_parked *p = b->parked;

		unpark(b, p, cancel);
		parked_free(p);
	}
}

static void
broker_stop(struct node *n)
{
	struct broker *b = B(n);

	b->node = n;
	free_parked(b, true);
	b->meta.ops->stop(&b->meta);
	if (b->maintenance_timer > 0)
		n->rt->ops->cancel_timer(n->rt, b->maintenance_timer);
	b->maintenance_timer = 0;
	if (b->store != NULL)
		close_store(b);
}

/* ---- invariants ---------------------------------------------------------------- */

/* Do p[0..len) hold whole size-prefixed frames, end to end? */
static bool
whole_frames(const uint8_t *p, size_t len)
{
	size_t pos = 0;

	while (len - pos >= 4 && 4 + (size_t)be32_read(p + pos) <= len - pos)
		pos += 4 + (size_t)be32_read(p + pos);
	return pos == len;
}

static bool
closed_by_broker(const struct broker *b, conn_id c)
{
	uint64_t n = b->closed_bad < BROKER_CLOSED_RECENT ? b->closed_bad : BROKER_CLOSED_RECENT;

	for (uint64_t i = 0; i < n; i++)
		if (b->closed_recent[i] == c)
			return true;
	return false;
}

/* Invariants 1-3 for one waiting Fetch. */
static int
check_parked(const struct broker *b, const struct broker_parked *p, struct kerr *e)
{
	int id = b->cfg.broker_id;

	for (const struct broker_parked *q = p->next; q != NULL; q = q->next)
		if (q->conn == p->conn)
			return kerr_set(
				e, KLAB_ESTATE,
				"broker %d: invariant 1: two Fetches wait on connection %lld", id,
				(long long)p->conn);
	if (p->conn <= 0 || closed_by_broker(b, p->conn))
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 2: a Fetch waits on connection %lld, which "
				"the broker closed",
				id, (long long)p->conn);
	if (p->frame == NULL || p->len < 4 || !whole_frames(p->frame, p->len) || p->timer == 0)
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 3: the Fetch waiting on connection %lld "
				"lost its frame or its timer",
				id, (long long)p->conn);
	for (size_t i = 1; i < p->nlogs; i++)
		if ((uintptr_t)p->logs[i - 1] >= (uintptr_t)p->logs[i])
			return kerr_set(e, KLAB_ESTATE,
					"broker %d: invariant 8: the logs the Fetch on connection "
					"%lld waits on are not sorted without repeats",
					id, (long long)p->conn);
	if (p->queued.len > QUEUED_MAX || !whole_frames(p->queued.data, p->queued.len))
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 3: %zu bytes queued behind the Fetch on "
				"connection %lld are not whole frames within %u bytes",
				id, p->queued.len, (long long)p->conn, QUEUED_MAX);
	return KLAB_OK;
}

int
broker_check_invariants(struct broker *b, struct kerr *e)
{
	uint64_t waiting = 0;
	int rc;

	for (const struct broker_parked *p = b->parked; p != NULL; p = p->next, waiting++)
		if ((rc = check_parked(b, p, e)) != KLAB_OK)
			return rc;
	if (waiting > 0 && b->store == NULL)
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 4: Fetches wait with the store closed",
				b->cfg.broker_id);
	if (waiting > b->fetches_parked)
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 4: %llu Fetches wait, %llu ever parked",
				b->cfg.broker_id, (unsigned long long)waiting,
				(unsigned long long)b->fetches_parked);
	if (b->maintenance_timer != 0 && b->maintenance_ms <= 0)
		return kerr_set(e, KLAB_ESTATE,
				"broker %d: invariant 5: maintenance runs without an interval",
				b->cfg.broker_id);
	if (b->store != NULL && (rc = topics_check_invariants(b->store, e)) != KLAB_OK)
		return rc;
	return b->meta.ops->check_invariants(&b->meta, e);
}

const struct node_ops broker_node_ops = {
	.on_start = broker_start,
	.on_connected = broker_connected,
	.on_frame = broker_frame,
	.on_closed = broker_closed,
	.on_timer = broker_timer,
	.on_stop = broker_stop,
};
