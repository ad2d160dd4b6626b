/*
 * consumer.c - the Kafka consumer as a client node (consumer.h; chapter 3
 * §4).
 *
 * Every event (start, metadata, a response, the wake timer, a seek) ends in
 * poll(), which looks at every assigned partition and sends what is due:
 * ListOffsets for partitions that need a position, grouped by leader, and
 * one Fetch per leader for the fetchable partitions that have none in
 * flight.
 *
 * A Fetch answer holds whole record batches, except perhaps a cut-off one
 * at the end (the broker stops at max_bytes; Kafka's consumer skips such a
 * partial batch too).  Batches before the position (a fetch from the middle
 * of a batch returns the whole batch) are skipped, and so are the records of
 * a batch before the position.
 *
 * Invariants:
 *   1. a partition is `fetching` only while FETCHABLE;
 *   2. positions only move forward, except by a seek or an offset reset;
 *   3. after kconsumer_stop() no record is handed over.
 */
#include "client/consumer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/compress.h"

#define FETCH_MAX_VERSION 12
#define LIST_OFFSETS_MAX_VERSION 8
#define DECOMPRESS_MAX_BYTES (64u << 20)

static void poll_now(struct kconsumer *c);
static void hook_start(struct kclient *kc);
static void hook_metadata(struct kclient *kc, int err);
static void hook_timer(struct kclient *kc, timer_id t);

void
kconsumer_config_defaults(struct kconsumer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	kclient_config_defaults(&cfg->client);
	cfg->reset = KCONSUMER_RESET_LATEST;
	cfg->fetch_max_wait_ms = 500;
	cfg->fetch_min_bytes = 1;
	cfg->fetch_max_bytes = 52428800;
	cfg->max_partition_fetch_bytes = 1048576;
}

int
kconsumer_init(struct kconsumer *c, const struct kconsumer_config *cfg, struct kerr *e)
{
	struct kclient_hooks hooks = {
		.on_start = hook_start,
		.on_metadata = hook_metadata,
		.on_timer = hook_timer,
		.app = c,
	};

	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	buf_init(&c->scratch);
	return kclient_init(&c->kc, &cfg->client, &hooks, e);
}

static void on_fetch(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp);
static void on_list_offsets(struct kclient *kc, void *arg, int err, int16_t v,
			    const struct pvalue *resp);

void
kconsumer_free(struct kconsumer *c)
{
	/* requests still in flight hold memory their callbacks would free */
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++)
		if (c->kc.pending[i].corr != 0 &&
		    (c->kc.pending[i].cb == on_fetch || c->kc.pending[i].cb == on_list_offsets))
			free(c->kc.pending[i].arg);
	free(c->parts);
	buf_free(&c->scratch);
	kclient_free(&c->kc);
}

static int64_t
reset_seek(const struct kconsumer *c)
{
	return c->cfg.reset == KCONSUMER_RESET_EARLIEST ? KCONSUMER_EARLIEST : KCONSUMER_LATEST;
}

static struct kcons_part *
part(struct kconsumer *c, int32_t partition)
{
	for (int32_t i = 0; i < c->nparts; i++)
		if (c->parts[i].partition == partition)
			return &c->parts[i];
	return NULL;
}

static void
part_init(struct kcons_part *p, int32_t partition, int64_t seek)
{
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->state = KCP_NEED_OFFSET;
	p->seek = seek;
	p->position = -1;
	p->high_watermark = -1;
}

int
kconsumer_assign(struct kconsumer *c, const char *topic, const int32_t *partitions, int32_t n)
{
	struct kcons_part *parts = NULL;

	if (topic[0] == '\0' || strlen(topic) >= KCLIENT_TOPIC_MAX || n > KCLIENT_PARTITIONS_MAX)
		return KLAB_EINVAL;
	for (int32_t i = 0; i < n; i++)
		if (partitions[i] < 0)
			return KLAB_EINVAL;
	if (n > 0 && (parts = calloc((size_t)n, sizeof(*parts))) == NULL)
		return KLAB_ENOMEM;
	if (kclient_want_topic(&c->kc, topic) != KLAB_OK) {
		free(parts);
		return KLAB_ENOMEM;
	}
	free(c->parts);
	c->parts = parts;
	c->nparts = n > 0 ? n : 0;
	for (int32_t i = 0; i < c->nparts; i++)
		part_init(&c->parts[i], partitions[i], reset_seek(c));
	snprintf(c->topic, sizeof(c->topic), "%s", topic);
	c->assigned = true;
	c->all_partitions = n < 0;
	c->initial_seek = reset_seek(c);
	poll_now(c);
	return KLAB_OK;
}

/* Apply fn to partition (or all when -1). */
static int
each_part(struct kconsumer *c, int32_t partition, int64_t seek, int64_t offset)
{
	bool found = false;

	if (c->all_partitions && partition == -1)
		c->initial_seek = seek;
	for (int32_t i = 0; i < c->nparts; i++) {
		struct kcons_part *p = &c->parts[i];

		if (partition != -1 && p->partition != partition)
			continue;
		found = true;
		if (offset >= 0) {
			p->state = KCP_FETCHABLE;
			p->position = offset;
		} else {
			p->state = KCP_NEED_OFFSET;
			p->seek = seek;
		}
		p->fetching = false; /* an answer in flight is ignored (see on_fetch) */
	}
	if (!found && !(partition == -1 && c->all_partitions))
		return KLAB_ENOTFOUND;
	poll_now(c);
	return KLAB_OK;
}

int
kconsumer_seek_offset(struct kconsumer *c, int32_t partition, int64_t offset)
{
	if (offset < 0)
		return KLAB_EINVAL;
	if (partition == -1 && c->all_partitions) /* partitions found later: ListOffsets can't */
		return KLAB_EINVAL;
	return each_part(c, partition, 0, offset);
}

int
kconsumer_seek(struct kconsumer *c, int32_t partition, int64_t where)
{
	if (where < KCONSUMER_EARLIEST)
		return KLAB_EINVAL;
	return each_part(c, partition, where, -1);
}

int64_t
kconsumer_position(const struct kconsumer *c, int32_t partition)
{
	for (int32_t i = 0; i < c->nparts; i++)
		if (c->parts[i].partition == partition)
			return c->parts[i].state == KCP_FETCHABLE ? c->parts[i].position : -1;
	return -1;
}

void
kconsumer_stop(struct kconsumer *c)
{
	c->stopped = true;
}

static void
fail_part(struct kconsumer *c, struct kcons_part *p, int err, const char *msg)
{
	p->state = KCP_FAILED;
	p->fetching = false;
	if (c->cfg.on_error != NULL)
		c->cfg.on_error(c->cfg.arg, p->partition, err, msg);
}

/* A retriable error: look again after retry.backoff.ms with fresh metadata. */
static void
backoff(struct kconsumer *c, struct kcons_part *p)
{
	p->not_before_ms = kclient_now(&c->kc) + c->kc.cfg.retry_backoff_ms;
	kclient_refresh_metadata(&c->kc);
}

/* A request to leader could not even be built: its partitions wait a while. */
static void
backoff_leader(struct kconsumer *c, int32_t leader, int64_t now)
{
	for (int32_t i = 0; i < c->nparts; i++)
		if (kclient_leader(&c->kc, c->topic, c->parts[i].partition) == leader)
			c->parts[i].not_before_ms = now + c->kc.cfg.retry_backoff_ms;
}

/* ---- ListOffsets ------------------------------------------------------------------ */

/* The partition entries of the first topic of a response; NULL if absent. */
static const struct pvalue *
topic_parts(const struct pvalue *resp, const char *arr, const char *name_field,
	    const char *parts_field, const char *topic)
{
	const struct pvalue *topics = pvalue_array(resp, arr);

	for (int32_t i = 0; i < pvalue_count(topics); i++) {
		int32_t len;
		const uint8_t *n = pvalue_get_bytes(pvalue_at(topics, i), name_field, &len);

		if (n != NULL && (size_t)len == strlen(topic) && memcmp(n, topic, (size_t)len) == 0)
			return pvalue_array(pvalue_at(topics, i), parts_field);
	}
	return NULL;
}

/* The offset a ListOffsets partition answer names (v0: the first old-style offset), or -1. */
static int64_t
listed_offset(const struct pvalue *pr, int16_t v)
{
	const struct pvalue *old;

	if (v >= 1)
		return pvalue_get_int(pr, "offset");
	old = pvalue_array(pr, "old_style_offsets");
	return pvalue_count(old) > 0 ? pvalue_at(old, 0)->i : -1;
}

static void
on_list_offsets(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct kconsumer *c = kc->hooks.app;
	int32_t *asked = arg; /* [n, partition...] */
	const struct pvalue *parts =
		err == KLAB_OK ? topic_parts(resp, "topics", "name", "partitions", c->topic) : NULL;

	for (int32_t i = 0; i < asked[0]; i++) {
		struct kcons_part *p = part(c, asked[1 + i]);
		const struct pvalue *pr = NULL;

		if (p == NULL || p->state != KCP_LISTING)
			continue; /* sought elsewhere meanwhile */
		for (int32_t j = 0; parts != NULL && j < pvalue_count(parts); j++)
			if (pvalue_get_int(pvalue_at(parts, j), "partition_index") == p->partition)
				pr = pvalue_at(parts, j);
		p->state = KCP_NEED_OFFSET;
		if (pr == NULL || pvalue_get_int(pr, "error_code") != 0) {
			int16_t code = pr ? (int16_t)pvalue_get_int(pr, "error_code") : 0;

			if (pr == NULL || kclient_retriable(code))
				backoff(c, p);
			else
				fail_part(c, p, KLAB_EINVAL, kclient_error_name(code));
			continue;
		}
		if (listed_offset(pr, v) < 0) { /* no record that late: the end */
			p->seek = KCONSUMER_LATEST;
			continue;
		}
		p->position = listed_offset(pr, v);
		p->state = KCP_FETCHABLE;
	}
	free(asked);
	poll_now(c);
}

static void
send_list_offsets(struct kconsumer *c, int32_t leader, int64_t now)
{
	struct pvalue *body = pvalue_new(proto_api(KAPI_LIST_OFFSETS)->request), *t, *parts;
	int32_t n = 0, k = 0, *asked;

	for (int32_t i = 0; i < c->nparts; i++) {
		struct kcons_part *p = &c->parts[i];

		n += p->state == KCP_NEED_OFFSET && p->not_before_ms <= now &&
		     kclient_leader(&c->kc, c->topic, p->partition) == leader;
	}
	asked = calloc((size_t)n + 1, sizeof(*asked));
	if (body == NULL || asked == NULL ||
	    pvalue_array_resize(pvalue_array(body, "topics"), 1) != KLAB_OK)
		goto fail;
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_str(t, "name", c->topic);
	parts = pvalue_array(t, "partitions");
	if (pvalue_array_resize(parts, n) != KLAB_OK)
		goto fail;
	pvalue_set_int(body, "replica_id", -1);
	for (int32_t i = 0; i < c->nparts && k < n; i++) {
		struct kcons_part *p = &c->parts[i];

		if (p->state != KCP_NEED_OFFSET || p->not_before_ms > now ||
		    kclient_leader(&c->kc, c->topic, p->partition) != leader)
			continue;
		pvalue_set_int(pvalue_at(parts, k), "partition_index", p->partition);
		pvalue_set_int(pvalue_at(parts, k), "timestamp", p->seek);
		p->state = KCP_LISTING;
		asked[1 + k++] = p->partition;
	}
	asked[0] = k;
	c->list_offsets++;
	if (kclient_request(&c->kc, leader, KAPI_LIST_OFFSETS, LIST_OFFSETS_MAX_VERSION, body,
			    false, on_list_offsets, asked) != KLAB_OK) {
		for (int32_t i = 0; i < k; i++) {
			struct kcons_part *p = part(c, asked[1 + i]);

			p->state = KCP_NEED_OFFSET;
			backoff(c, p);
		}
		free(asked);
	}
	return;
fail:
	pvalue_free(body);
	free(asked);
	backoff_leader(c, leader, now);
}

/* ---- Fetch ------------------------------------------------------------------------ */

/* Hand over the records of one batch at or after the position. */
static int
deliver_batch(struct kconsumer *c, struct kcons_part *p, const uint8_t *b, size_t len,
	      const struct batch_header *h)
{
	const uint8_t *data = b;
	size_t dlen = len;
	struct batch_header dh = *h;
	struct record_iter it;
	struct record r;
	int rc;

	if ((rc = batch_validate(b, len, &dh, NULL)) != KLAB_OK)
		return rc;
	if ((h->attributes & BATCH_ATTR_COMPRESSION) != 0) {
		buf_reset(&c->scratch);
		if ((rc = batch_decompress(b, len, DECOMPRESS_MAX_BYTES, &c->scratch)) != KLAB_OK)
			return rc;
		data = c->scratch.data;
		dlen = c->scratch.len;
		if ((rc = batch_validate(data, dlen, &dh, NULL)) != KLAB_OK)
			return rc;
	}
	if ((h->attributes & BATCH_ATTR_CONTROL) == 0) {
		record_iter_init(&it, data, dlen, &dh);
		while (!c->stopped && (rc = record_iter_next(&it, &r)) == 1) {
			if (r.offset < p->position)
				continue;
			p->position = r.offset + 1;
			c->records++;
			if (c->cfg.on_record != NULL)
				c->cfg.on_record(c->cfg.arg, c->topic, p->partition, &r);
		}
		if (rc < 0)
			return rc;
	}
	if (!c->stopped && batch_last_offset(h) + 1 > p->position)
		p->position = batch_last_offset(h) + 1;
	return KLAB_OK;
}

static void
deliver_records(struct kconsumer *c, struct kcons_part *p, const uint8_t *b, int32_t len)
{
	size_t left = len > 0 ? (size_t)len : 0;
	struct batch_header h;
	int rc;

	while (left > 0 && !c->stopped) {
		rc = batch_header_parse(b, left, &h);
		if (rc == KLAB_ETRUNCATED || (rc == KLAB_OK && batch_size(&h) > left))
			return; /* a partial batch at the end */
		if (rc == KLAB_OK && batch_last_offset(&h) >= p->position)
			rc = deliver_batch(c, p, b, batch_size(&h), &h);
		if (rc != KLAB_OK) {
			fail_part(c, p, KLAB_ECORRUPT,
				  "a corrupt record batch in a Fetch response");
			return;
		}
		b += batch_size(&h);
		left -= batch_size(&h);
	}
}

static void
on_fetch_partition(struct kconsumer *c, struct kcons_part *p, const struct pvalue *pr)
{
	int16_t code = (int16_t)pvalue_get_int(pr, "error_code");
	int32_t len;
	const uint8_t *recs;

	if (code == 1) { /* OFFSET_OUT_OF_RANGE */
		if (c->cfg.reset == KCONSUMER_RESET_NONE) {
			fail_part(c, p, KLAB_ERANGE,
				  "OFFSET_OUT_OF_RANGE and auto.offset.reset=none");
			return;
		}
		c->resets++;
		p->state = KCP_NEED_OFFSET;
		p->seek = reset_seek(c);
		return;
	}
	if (code != 0) {
		if (kclient_retriable(code))
			backoff(c, p);
		else
			fail_part(c, p, KLAB_EINVAL, kclient_error_name(code));
		return;
	}
	p->high_watermark = pvalue_get_int(pr, "high_watermark");
	recs = pvalue_get_bytes(pr, "records", &len);
	if (recs != NULL)
		deliver_records(c, p, recs, len);
}

struct fetch_req {
	int32_t n;
	struct {
		int32_t partition;
		int64_t position; /* as sent: a seek meanwhile makes the answer stale */
	} asked[];
};

static void
on_fetch(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	struct kconsumer *c = kc->hooks.app;
	struct fetch_req *fr = arg;
	const struct pvalue *parts =
		err == KLAB_OK ? topic_parts(resp, "responses", "topic", "partitions", c->topic)
			       : NULL;

	(void)v;
	c->fetches++;
	for (int32_t i = 0; i < fr->n; i++) {
		struct kcons_part *p = part(c, fr->asked[i].partition);
		const struct pvalue *pr = NULL;

		if (p == NULL || !p->fetching || p->state != KCP_FETCHABLE ||
		    p->position != fr->asked[i].position)
			continue;
		p->fetching = false;
		for (int32_t j = 0; parts != NULL && j < pvalue_count(parts); j++)
			if (pvalue_get_int(pvalue_at(parts, j), "partition_index") == p->partition)
				pr = pvalue_at(parts, j);
		if (pr == NULL)
			backoff(c, p);
		else if (!c->stopped)
			on_fetch_partition(c, p, pr);
	}
	free(fr);
	poll_now(c);
}

static bool
fetch_due(struct kconsumer *c, const struct kcons_part *p, int32_t leader, int64_t now)
{
	return p->state == KCP_FETCHABLE && !p->fetching && p->not_before_ms <= now &&
	       kclient_leader(&c->kc, c->topic, p->partition) == leader;
}

static void
send_fetch(struct kconsumer *c, int32_t leader, int64_t now)
{
	struct pvalue *body = pvalue_new(proto_api(KAPI_FETCH)->request), *t, *parts;
	struct fetch_req *fr = NULL;
	int32_t n = 0;

	for (int32_t i = 0; i < c->nparts; i++)
		n += fetch_due(c, &c->parts[i], leader, now);
	fr = malloc(sizeof(*fr) + (size_t)n * sizeof(fr->asked[0]));
	if (body == NULL || fr == NULL ||
	    pvalue_array_resize(pvalue_array(body, "topics"), 1) != KLAB_OK)
		goto fail;
	pvalue_set_int(body, "replica_id", -1);
	pvalue_set_int(body, "max_wait_ms", c->cfg.fetch_max_wait_ms);
	pvalue_set_int(body, "min_bytes", c->cfg.fetch_min_bytes);
	pvalue_set_int(body, "max_bytes", c->cfg.fetch_max_bytes);
	pvalue_set_int(body, "session_epoch", -1); /* no fetch session (KIP-227) */
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_str(t, "topic", c->topic);
	parts = pvalue_array(t, "partitions");
	if (pvalue_array_resize(parts, n) != KLAB_OK)
		goto fail;
	fr->n = 0;
	for (int32_t i = 0; i < c->nparts && fr->n < n; i++) {
		struct kcons_part *p = &c->parts[i];
		struct pvalue *fp;

		if (!fetch_due(c, p, leader, now))
			continue;
		fp = pvalue_at(parts, fr->n);
		pvalue_set_int(fp, "partition", p->partition);
		pvalue_set_int(fp, "fetch_offset", p->position);
		pvalue_set_int(fp, "partition_max_bytes", c->cfg.max_partition_fetch_bytes);
		p->fetching = true;
		fr->asked[fr->n].partition = p->partition;
		fr->asked[fr->n++].position = p->position;
	}
	if (kclient_request(&c->kc, leader, KAPI_FETCH, FETCH_MAX_VERSION, body, false, on_fetch,
			    fr) != KLAB_OK) {
		for (int32_t i = 0; i < fr->n; i++) {
			struct kcons_part *p = part(c, fr->asked[i].partition);

			p->fetching = false;
			backoff(c, p);
		}
		free(fr);
	}
	return;
fail:
	pvalue_free(body);
	free(fr);
	backoff_leader(c, leader, now);
}

/* ---- poll ------------------------------------------------------------------------- */

/* all_partitions: add the partitions the metadata names and we lack. */
static void
learn_partitions(struct kconsumer *c)
{
	const struct kc_topic *t = kclient_topic(&c->kc, c->topic);
	struct kcons_part *q;

	if (!c->all_partitions || t == NULL || !t->known || t->npartitions <= c->nparts)
		return;
	if ((q = realloc(c->parts, (size_t)t->npartitions * sizeof(*q))) == NULL)
		return;
	c->parts = q;
	for (int32_t i = c->nparts; i < t->npartitions; i++)
		part_init(&c->parts[i], i, c->initial_seek);
	c->nparts = t->npartitions;
}

static void
arm_wake(struct kconsumer *c, int64_t now)
{
	int64_t next = -1;

	for (int32_t i = 0; i < c->nparts; i++) {
		const struct kcons_part *p = &c->parts[i];

		if (p->state != KCP_FAILED && p->state != KCP_LISTING && !p->fetching &&
		    p->not_before_ms > now && (next < 0 || p->not_before_ms < next))
			next = p->not_before_ms;
	}
	if (next < 0 || (c->wake_timer != 0 && c->wake_ms <= next))
		return;
	if (c->wake_timer != 0)
		c->kc.node->rt->ops->cancel_timer(c->kc.node->rt, c->wake_timer);
	c->wake_ms = next;
	c->wake_timer = kclient_set_timer(&c->kc, next - now);
}

static void
poll_once(struct kconsumer *c)
{
	int64_t now = kclient_now(&c->kc);
	const struct kc_topic *t = kclient_topic(&c->kc, c->topic);
	bool want_metadata = t == NULL || !t->known;

	learn_partitions(c);
	for (int32_t i = 0; i < c->nparts && !c->poll_again; i++) {
		struct kcons_part *p = &c->parts[i];
		int32_t leader = kclient_leader(&c->kc, c->topic, p->partition);

		if (p->not_before_ms > now || p->state == KCP_FAILED || p->state == KCP_LISTING)
			continue;
		if (leader < 0) {
			want_metadata = true;
			continue;
		}
		if (p->state == KCP_NEED_OFFSET) {
			send_list_offsets(c, leader, now);
			c->poll_again = true; /* the request may have failed at once */
		} else if (!p->fetching) {
			send_fetch(c, leader, now);
			c->poll_again = true;
		}
	}
	if (want_metadata)
		kclient_refresh_metadata(&c->kc);
	arm_wake(c, now);
}

static void
poll_now(struct kconsumer *c)
{
	if (c->kc.node == NULL || !c->assigned || c->stopped)
		return;
	if (c->polling) {
		c->poll_again = true;
		return;
	}
	c->polling = true;
	do {
		c->poll_again = false;
		poll_once(c);
	} while (c->poll_again);
	c->polling = false;
}

static void
hook_start(struct kclient *kc)
{
	struct kconsumer *c = kc->hooks.app;

	if (c->cfg.on_ready != NULL)
		c->cfg.on_ready(c->cfg.arg);
	poll_now(c);
}

static void
hook_metadata(struct kclient *kc, int err)
{
	struct kconsumer *c = kc->hooks.app;
	const struct kc_topic *t = kclient_topic(kc, c->topic);

	if (err == KLAB_OK && t != NULL && !t->known && t->error != 0 &&
	    !kclient_retriable(t->error) && c->cfg.on_error != NULL)
		c->cfg.on_error(c->cfg.arg, -1, KLAB_ENOTFOUND, kclient_error_name(t->error));
	poll_now(c);
}

static void
hook_timer(struct kclient *kc, timer_id t)
{
	struct kconsumer *c = kc->hooks.app;

	if (t == c->wake_timer) {
		c->wake_timer = 0;
		poll_now(c);
	} else if (c->cfg.on_timer != NULL) {
		c->cfg.on_timer(c->cfg.arg, t);
	}
}

const char *
kconsumer_check_invariants(const struct kconsumer *c)
{
	for (int32_t i = 0; i < c->nparts; i++) {
		const struct kcons_part *p = &c->parts[i];

		if (p->fetching && p->state != KCP_FETCHABLE)
			return "1: a partition is fetching but not FETCHABLE";
		if (p->state == KCP_FETCHABLE && p->position < 0)
			return "1: a FETCHABLE partition has no position";
	}
	return kclient_check_invariants(&c->kc);
}
