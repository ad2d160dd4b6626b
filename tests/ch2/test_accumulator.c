/*
 * test_accumulator.c - the producer's record accumulator (chapter 2 §4):
 * batch.size closes a batch, linger.ms holds it, flush sends everything,
 * buffer.memory bounds what it holds (a long seeded random workload checks
 * invariants 1-3 of accumulator.c after every step), max.request.size,
 * and the bytes drained are a valid RecordBatch, compressed as configured.
 *
 * Every record's value starts with "<partition>:<sequence>", so a drained
 * batch can be checked against the records sent to its partition.
 */
#include "testutil.h"

#include "log/compress.h"
#include "topic/accumulator.h"

#define SEED_DEFAULT 20240601ull

static struct producer_config
cfg_with(int64_t batch_size, int64_t linger_ms, int64_t buffer_memory)
{
	struct producer_config pc = { 0 };

	pc.batch_size = batch_size;
	pc.linger_ms = linger_ms;
	pc.buffer_memory = buffer_memory;
	pc.max_block_ms = 1000;
	pc.max_request_size = 1 << 20;
	pc.compression = COMPRESSION_NONE;
	return pc;
}

/* A record whose value is "<tag>:<seq>" padded with 'v' to value_len bytes. */
struct rec {
	char key[32];
	uint8_t *value;
	struct kv header;
	struct record_in in;
};

static void
rec_make(struct rec *r, int tag, int seq, size_t value_len, int64_t ts)
{
	int n;

	memset(r, 0, sizeof(*r));
	r->value = malloc(value_len + 32);
	assert_non_null(r->value);
	n = snprintf((char *)r->value, value_len + 32, "%d:%d", tag, seq);
	if ((size_t)n < value_len)
		memset(r->value + n, 'v', value_len - (size_t)n);
	else
		value_len = (size_t)n;
	snprintf(r->key, sizeof(r->key), "key-%d", seq);
	r->header = (struct kv){ (const uint8_t *)"h", 1, (const uint8_t *)r->key,
				 (int32_t)strlen(r->key) };
	r->in.kv = (struct kv){ (const uint8_t *)r->key, (int32_t)strlen(r->key), r->value,
				(int32_t)value_len };
	r->in.timestamp = ts;
	r->in.headers = seq % 3 == 0 ? &r->header : NULL;
	r->in.header_count = seq % 3 == 0 ? 1 : 0;
}

static void
rec_free(struct rec *r)
{
	free(r->value);
}

/* Append, asserting success; returns whether a new batch was opened. */
static bool
append_ok(struct accumulator *a, const char *topic, int32_t p, int tag, int seq, size_t value_len,
	  int64_t now)
{
	struct kerr e = { 0 };
	struct rec r;
	bool nb = false;
	int rc;

	rec_make(&r, tag, seq, value_len, now);
	rc = acc_append(a, topic, p, &r.in, now, &nb, &e);
	rec_free(&r);
	if (rc != KLAB_OK)
		fail_msg("acc_append %s-%d seq %d: %s", topic, p, seq, kerr_msg(&e));
	return nb;
}

struct drained {
	struct buf bytes;
	char topic[256];
	int32_t partition, records;
	uint64_t uncompressed;
};

static int
drain(struct accumulator *a, int64_t now, bool flush, struct drained *d)
{
	return acc_drain_one(a, now, flush, &d->bytes, d->topic, sizeof(d->topic), &d->partition,
			     &d->records, &d->uncompressed);
}

/*
 * Check that batch p[0..len) is valid and holds records whose values are
 * "<tag>:<first>", "<tag>:<first+1>", ...; returns the record count.
 */
static int
check_batch(const uint8_t *p, size_t len, int tag, int first)
{
	struct batch_header h;
	struct record_iter it;
	struct record r;
	const char *why = NULL;
	char want[32];
	int n = 0, rc;

	if (batch_validate(p, len, &h, &why) != KLAB_OK)
		fail_msg("drained batch invalid: %s", why ? why : "?");
	assert_int_equal(h.attributes & BATCH_ATTR_COMPRESSION, 0);
	record_iter_init(&it, p, len, &h);
	while ((rc = record_iter_next(&it, &r)) == 1) {
		int wl = snprintf(want, sizeof(want), "%d:%d", tag, first + n);

		if (r.kv.value_len < wl || memcmp(r.kv.value, want, (size_t)wl) != 0 ||
		    (r.kv.value_len > wl && r.kv.value[wl] != 'v'))
			fail_msg("record %d of the batch is '%.*s', expected '%s'", n,
				 r.kv.value_len < 20 ? r.kv.value_len : 20, r.kv.value, want);
		assert_int_equal(r.offset_delta, n);
		assert_int_equal(r.header_count, (first + n) % 3 == 0 ? 1 : 0);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, h.record_count);
	return n;
}

/* ---- configuration --------------------------------------------------------- */

static void
test_ch2_acc_producer_config_defaults_and_errors(void **state)
{
	struct producer_config pc;
	struct kerr e = { 0 };
	struct config c;

	(void)state;
	config_init(&c);
	assert_int_equal(producer_config_load(&pc, &c, &e), KLAB_OK);
	assert_int_equal(pc.batch_size, 16384);
	assert_int_equal(pc.linger_ms, 0);
	assert_int_equal(pc.buffer_memory, 33554432);
	assert_int_equal(pc.max_block_ms, 60000);
	assert_int_equal(pc.max_request_size, 1048576);
	assert_int_equal(pc.compression, COMPRESSION_NONE);
	assert_int_equal(config_set(&c, "compression.type", "zstd"), KLAB_OK);
	assert_int_equal(config_set(&c, "linger.ms", "25"), KLAB_OK);
	assert_int_equal(producer_config_load(&pc, &c, &e), KLAB_OK);
	assert_int_equal(pc.compression, COMPRESSION_ZSTD);
	assert_int_equal(pc.linger_ms, 25);
	assert_int_equal(config_set(&c, "compression.type", "brotli"), KLAB_OK);
	assert_int_equal(producer_config_load(&pc, &c, &e), KLAB_ECONFIG);
	assert_non_null(strstr(kerr_msg(&e), "compression.type=brotli"));
	assert_int_equal(config_set(&c, "compression.type", "none"), KLAB_OK);
	assert_int_equal(config_set(&c, "batch.size", "-1"), KLAB_OK);
	assert_int_equal(producer_config_load(&pc, &c, &e), KLAB_ECONFIG);
	assert_non_null(strstr(kerr_msg(&e), "batch.size=-1"));
	config_free(&c);
}

/* ---- batch.size ------------------------------------------------------------- */

static void
test_ch2_acc_batch_size_closes_a_batch(void **state)
{
	struct producer_config pc = cfg_with(512, 1000000, 1 << 20);
	struct accumulator a;
	struct acc_batch *first, *second;
	struct drained d = { 0 };
	int seq = 0;

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	assert_null(acc_open_batch(&a, "t", 0));
	assert_true(append_ok(&a, "t", 0, 0, seq++, 100, 0)); /* the first opens one */
	first = acc_open_batch(&a, "t", 0);
	assert_non_null(first);
	while (!append_ok(&a, "t", 0, 0, seq, 100, 0))
		seq++;
	/* record seq did not fit: first is closed, seq opened the second */
	assert_true(seq >= 3);
	assert_int_equal(first->records, seq);
	assert_true(first->full);
	assert_true(first->bytes.len <= 512);
	/* less room is left than one more record needs (value, key, overhead) */
	assert_true(512 - first->bytes.len < 100 + strlen("key-9") + 32);
	second = acc_open_batch(&a, "t", 0);
	assert_non_null(second);
	assert_ptr_not_equal(first, second);
	assert_int_equal(second->records, 1);
	assert_false(second->full);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.used, 2 * 512);

	/* the full batch is sent at once; the open one waits for linger.ms */
	assert_int_equal(drain(&a, 0, false, &d), 1);
	assert_string_equal(d.topic, "t");
	assert_int_equal(d.partition, 0);
	assert_int_equal(d.records, seq);
	assert_int_equal(check_batch(d.bytes.data, d.bytes.len, 0, 0), seq);
	assert_int_equal(drain(&a, 0, false, &d), 0);
	assert_int_equal(a.used, 512);
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_batches_of_a_partition_drain_in_open_order(void **state)
{
	struct producer_config pc = cfg_with(300, 1000000, 1 << 20);
	struct accumulator a;
	struct drained d = { 0 };
	int next[3] = { 0 }, sent[3] = { 0 }, batches = 0;

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	for (int i = 0; i < 60; i++) { /* interleaved, several batches per partition */
		int p = (i * 7) % 3;

		append_ok(&a, "t", p, p, sent[p]++, 60, i);
	}
	for (int p = 0; p < 3; p++)
		assert_true(sent[p] > 0);
	while (drain(&a, 100, true, &d) == 1) {
		assert_int_equal(d.records, check_batch(d.bytes.data, d.bytes.len, d.partition,
							next[d.partition]));
		next[d.partition] += d.records;
		batches++;
	}
	for (int p = 0; p < 3; p++)
		assert_int_equal(next[p], sent[p]);
	assert_true(batches > 3);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.used, 0);
	acc_free(&a);
	buf_free(&d.bytes);
}

/* ---- linger.ms, flush ------------------------------------------------------- */

static void
test_ch2_acc_linger_holds_a_batch_until_due(void **state)
{
	struct producer_config pc = cfg_with(16384, 100, 1 << 20);
	struct accumulator a;
	struct drained d = { 0 };

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	assert_int_equal(acc_next_ready_ms(&a), -1);
	append_ok(&a, "t", 0, 0, 0, 10, 1000);
	append_ok(&a, "t", 0, 0, 1, 10, 1040); /* joins the batch; its age counts from 1000 */
	append_ok(&a, "t", 1, 1, 0, 10, 1050);
	assert_int_equal(acc_next_ready_ms(&a), 1100);
	assert_int_equal(drain(&a, 1000, false, &d), 0);
	assert_int_equal(drain(&a, 1099, false, &d), 0);
	assert_int_equal(drain(&a, 1100, false, &d), 1);
	assert_int_equal(d.partition, 0);
	assert_int_equal(d.records, 2);
	assert_int_equal(drain(&a, 1100, false, &d), 0);
	assert_int_equal(acc_next_ready_ms(&a), 1150);
	assert_int_equal(drain(&a, 1149, false, &d), 0);
	assert_int_equal(drain(&a, 1150, false, &d), 1);
	assert_int_equal(d.partition, 1);
	assert_int_equal(acc_next_ready_ms(&a), -1);
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_linger_zero_sends_at_once(void **state)
{
	struct producer_config pc = cfg_with(16384, 0, 1 << 20);
	struct accumulator a;
	struct drained d = { 0 };

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	append_ok(&a, "t", 0, 0, 0, 10, 5000);
	assert_int_equal(drain(&a, 5000, false, &d), 1);
	assert_int_equal(d.records, 1);
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_flush_drains_everything(void **state)
{
	struct producer_config pc = cfg_with(400, 1000000, 1 << 20);
	struct accumulator a;
	struct drained d = { 0 };
	int records = 0, sent = 0;

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	for (int i = 0; i < 40; i++) {
		char topic[8];

		snprintf(topic, sizeof(topic), "t%d", i % 4);
		append_ok(&a, topic, (i / 4) % 2, 0, i, 50, i); /* 8 topic-partitions */
		sent++;
	}
	assert_true(a.n >= 8);
	while (drain(&a, 40, false, &d) == 1) /* only the full ones */
		records += d.records;
	assert_int_equal(a.n, 8); /* every topic-partition still has its open batch */
	while (drain(&a, 40, true, &d) == 1)
		records += d.records;
	assert_int_equal(records, sent);
	assert_int_equal(a.n, 0);
	assert_int_equal(a.used, 0);
	assert_int_equal(acc_next_ready_ms(&a), -1);
	acc_free(&a);
	buf_free(&d.bytes);
}

/* ---- buffer.memory, max.request.size -------------------------------------- */

static void
test_ch2_acc_efull_when_a_new_batch_does_not_fit(void **state)
{
	struct producer_config pc = cfg_with(1000, 1000000, 3000);
	struct accumulator a;
	struct drained d = { 0 };
	struct kerr e = { 0 };
	struct rec r;
	bool nb = true;

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	for (int p = 0; p < 3; p++)
		append_ok(&a, "t", p, p, 0, 10, 0);
	assert_int_equal(a.used, 3000);
	rec_make(&r, 3, 0, 10, 0);
	assert_int_equal(acc_append(&a, "t", 3, &r.in, 0, &nb, &e), KLAB_EFULL);
	assert_false(nb);
	assert_non_null(strstr(kerr_msg(&e), "buffer.memory"));
	assert_int_equal(a.n, 3); /* nothing changed */
	assert_int_equal(a.used, 3000);
	assert_null(acc_open_batch(&a, "t", 3));
	assert_true(a.exhausted);
	rec_free(&r);
	/* an open batch with room still takes records */
	assert_false(append_ok(&a, "t", 1, 1, 1, 10, 0));
	/* memory is exhausted: every batch is ready, whatever linger.ms says */
	append_ok(&a, "t", 2, 2, 1, 10, 0);
	rec_make(&r, 3, 0, 10, 0);
	assert_int_equal(acc_append(&a, "t", 3, &r.in, 0, &nb, &e), KLAB_EFULL);
	assert_int_equal(drain(&a, 0, false, &d), 1);
	assert_int_equal(a.used, 2000);
	assert_int_equal(acc_append(&a, "t", 3, &r.in, 0, &nb, &e), KLAB_OK);
	assert_true(nb);
	assert_int_equal(a.used, 3000);
	assert_int_equal(a.peak_used, 3000);
	rec_free(&r);
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_big_record_reserves_its_size(void **state)
{
	struct producer_config pc = cfg_with(500, 1000000, 10000);
	struct accumulator a;
	struct drained d = { 0 };

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	assert_true(append_ok(&a, "t", 0, 0, 0, 2000, 0)); /* larger than batch.size */
	assert_true(a.used >= 2000);
	assert_true(a.batches[0]->bytes.len <= a.batches[0]->reserved);
	assert_true(append_ok(&a, "t", 0, 0, 1, 10, 0)); /* it is full: a new batch */
	assert_int_equal(drain(&a, 0, false, &d), 1);
	assert_int_equal(d.records, 1);
	assert_true(d.bytes.len > 2000);
	assert_int_equal(check_batch(d.bytes.data, d.bytes.len, 0, 0), 1);
	assert_int_equal(a.used, 500);
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_record_too_large(void **state)
{
	struct producer_config pc = cfg_with(16384, 0, 1 << 20);
	struct accumulator a;
	struct kerr e = { 0 };
	struct rec r;
	bool nb = true;

	(void)state;
	pc.max_request_size = 1000;
	acc_init(&a, &pc);
	rec_make(&r, 0, 0, 1000, 0);
	assert_int_equal(acc_append(&a, "t", 0, &r.in, 0, &nb, &e), KLAB_ETOOLARGE);
	assert_false(nb);
	assert_non_null(strstr(kerr_msg(&e), "max.request.size=1000"));
	assert_int_equal(a.n, 0);
	assert_int_equal(a.used, 0);
	rec_free(&r);
	append_ok(&a, "t", 0, 0, 0, 800, 0); /* below the limit is fine */

	/* larger than all of buffer.memory: could never be sent either */
	acc_free(&a);
	pc.max_request_size = 1 << 20;
	pc.buffer_memory = 5000;
	acc_init(&a, &pc);
	rec_make(&r, 0, 0, 6000, 0);
	assert_int_equal(acc_append(&a, "t", 0, &r.in, 0, &nb, &e), KLAB_ETOOLARGE);
	assert_non_null(strstr(kerr_msg(&e), "buffer.memory=5000"));
	assert_int_equal(a.used, 0);
	rec_free(&r);
	acc_free(&a);
}

/* ---- random workload --------------------------------------------------------- */

struct model {
	int sent[9], drained[9]; /* per topic-partition: records appended, drained */
};

/* Invariants 1-3 of accumulator.c, and what the model expects. */
static void
check_acc(const struct accumulator *a, uint64_t seed, int step)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < a->n; i++) {
		const struct acc_batch *b = a->batches[i];

		sum += b->reserved;
		if (b->bytes.len > b->reserved)
			fail_msg("seed %" PRIu64
				 " step %d: batch holds %zu bytes, reserved %" PRIu64,
				 seed, step, b->bytes.len, b->reserved);
		for (size_t j = i + 1; j < a->n; j++) {
			const struct acc_batch *c = a->batches[j];

			if (c->partition != b->partition || strcmp(c->topic, b->topic) != 0)
				continue;
			if (!b->full) /* invariant 2: only the newest may be open */
				fail_msg("seed %" PRIu64 " step %d: two open batches for %s-%d",
					 seed, step, b->topic, b->partition);
			if (c->created_ms < b->created_ms)
				fail_msg("seed %" PRIu64 " step %d: batches out of order", seed,
					 step);
		}
	}
	if (sum != a->used || a->used > (uint64_t)a->cfg.buffer_memory)
		fail_msg("seed %" PRIu64 " step %d: used %" PRIu64 ", reserved %" PRIu64
			 ", buffer.memory %" PRId64,
			 seed, step, a->used, sum, a->cfg.buffer_memory);
	if (a->peak_used > (uint64_t)a->cfg.buffer_memory)
		fail_msg("seed %" PRIu64 " step %d: peak_used %" PRIu64 " above buffer.memory",
			 seed, step, a->peak_used);
}

static void
random_append(struct accumulator *a, struct model *m, struct tu_rng *rng, int64_t now,
	      uint64_t seed, int step, int *efull)
{
	int tp = (int)tu_rng_below(rng, 9);
	char topic[8];
	size_t vlen = tu_rng_below(rng, 10) == 0 ? 1000 + tu_rng_below(rng, 2500)
						 : tu_rng_below(rng, 300);
	size_t n_before = a->n;
	uint64_t used_before = a->used;
	bool needed, nb = false;
	struct kerr e = { 0 };
	struct rec r;
	int rc;

	snprintf(topic, sizeof(topic), "t%d", tp / 3);
	rec_make(&r, tp, m->sent[tp], vlen, now);
	needed = acc_needs_new_batch(a, topic, tp % 3, &r.in);
	rc = acc_append(a, topic, tp % 3, &r.in, now, &nb, &e);
	rec_free(&r);
	if (rc == KLAB_OK) {
		if (nb != needed)
			fail_msg("seed %" PRIu64 " step %d: new_batch %d, predicted %d", seed, step,
				 nb, needed);
		m->sent[tp]++;
		return;
	}
	if (rc != KLAB_EFULL)
		fail_msg("seed %" PRIu64 " step %d: acc_append: %s", seed, step, kerr_msg(&e));
	if (!needed || a->n != n_before || a->used != used_before || !a->exhausted)
		fail_msg("seed %" PRIu64 " step %d: EFULL without need, or with a change", seed,
			 step);
	(*efull)++;
}

static void
random_drain(struct accumulator *a, struct model *m, int64_t now, bool flush, struct drained *d,
	     uint64_t seed, int step)
{
	bool exhausted = a->exhausted;
	int rc = drain(a, now, flush, d), tp;

	if (rc < 0)
		fail_msg("seed %" PRIu64 " step %d: drain: %s", seed, step, klab_strerror(rc));
	if (rc == 0) {
		if (exhausted && a->n > 0)
			fail_msg("seed %" PRIu64 " step %d: memory exhausted but nothing drained",
				 seed, step);
		return;
	}
	tp = (d->topic[1] - '0') * 3 + d->partition;
	if (check_batch(d->bytes.data, d->bytes.len, tp, m->drained[tp]) != d->records)
		fail_msg("seed %" PRIu64 " step %d: record count", seed, step);
	m->drained[tp] += d->records;
}

static void
test_ch2_acc_memory_bounded_under_random_load(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct producer_config pc = cfg_with(1024, 20, 8192);
	struct accumulator a;
	struct drained d = { 0 };
	struct model m = { 0 };
	struct tu_rng rng;
	int64_t now = 0;
	int efull = 0;

	(void)state;
	pc.max_request_size = 4096;
	tu_rng_init(&rng, seed);
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	for (int step = 0; step < 20000; step++) {
		uint64_t op = tu_rng_below(&rng, 100);

		if (op < 70)
			random_append(&a, &m, &rng, now, seed, step, &efull);
		else if (op < 90)
			random_drain(&a, &m, now, false, &d, seed, step);
		else if (op < 99)
			now += (int64_t)tu_rng_below(&rng, 10);
		else
			while (a.n > 0)
				random_drain(&a, &m, now, true, &d, seed, step);
		check_acc(&a, seed, step);
	}
	while (a.n > 0)
		random_drain(&a, &m, now, true, &d, seed, 20000);
	for (int tp = 0; tp < 9; tp++)
		if (m.sent[tp] != m.drained[tp] || m.sent[tp] == 0)
			fail_msg("seed %" PRIu64 ": partition %d sent %d, drained %d", seed, tp,
				 m.sent[tp], m.drained[tp]);
	if (efull == 0 || a.peak_used < 6000)
		fail_msg("seed %" PRIu64 ": the workload never filled buffer.memory (%d EFULL, "
			 "peak %" PRIu64 ")",
			 seed, efull, a.peak_used);
	assert_int_equal(a.used, 0);
	acc_free(&a);
	buf_free(&d.bytes);
}

/* ---- the bytes ------------------------------------------------------------------ */

static void
test_ch2_acc_drained_batch_is_valid_and_in_send_order(void **state)
{
	struct producer_config pc = cfg_with(16384, 1000000, 1 << 20);
	struct accumulator a;
	struct drained d = { 0 };
	struct batch_header h;
	struct record_iter it;
	struct record r;
	struct kv hv;

	(void)state;
	acc_init(&a, &pc);
	buf_init(&d.bytes);
	for (int i = 0; i < 25; i++)
		append_ok(&a, "orders", 4, 4, i, (size_t)(5 + i * 3), 7000 + i);
	assert_int_equal(drain(&a, 7100, true, &d), 1);
	assert_string_equal(d.topic, "orders");
	assert_int_equal(d.partition, 4);
	assert_int_equal(d.records, 25);
	assert_int_equal(d.uncompressed, d.bytes.len);
	assert_int_equal(check_batch(d.bytes.data, d.bytes.len, 4, 0), 25);
	assert_int_equal(batch_validate(d.bytes.data, d.bytes.len, &h, NULL), KLAB_OK);
	assert_int_equal(h.record_count, 25);
	assert_int_equal(h.last_offset_delta, 24);
	assert_int_equal(h.base_timestamp, 7000);
	assert_int_equal(h.max_timestamp, 7024);
	assert_int_equal(h.producer_id, BATCH_NO_PRODUCER_ID);
	record_iter_init(&it, d.bytes.data, d.bytes.len, &h);
	for (int i = 0; record_iter_next(&it, &r) == 1; i++) {
		char key[32];

		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(r.timestamp, 7000 + i);
		assert_int_equal(r.kv.key_len, (int32_t)strlen(key));
		assert_memory_equal(r.kv.key, key, strlen(key));
		assert_int_equal(r.kv.value_len, 5 + i * 3);
		if (i % 3 == 0) {
			assert_int_equal(record_header_next(&r, &hv), 1);
			assert_int_equal(hv.key_len, 1);
			assert_memory_equal(hv.value, key, strlen(key));
		}
	}
	acc_free(&a);
	buf_free(&d.bytes);
}

static void
test_ch2_acc_compression_sets_codec_and_round_trips(void **state)
{
	static const enum compression codecs[] = { COMPRESSION_GZIP, COMPRESSION_SNAPPY,
						   COMPRESSION_LZ4, COMPRESSION_ZSTD };

	(void)state;
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		struct producer_config pc = cfg_with(16384, 1000000, 1 << 20);
		struct accumulator a;
		struct drained d = { 0 };
		struct batch_header h;
		struct buf plain;

		pc.compression = codecs[c];
		acc_init(&a, &pc);
		buf_init(&d.bytes);
		buf_init(&plain);
		for (int i = 0; i < 30; i++)
			append_ok(&a, "z", 0, 0, i, 200, 100 + i);
		assert_int_equal(drain(&a, 100, true, &d), 1);
		assert_int_equal(d.records, 30);
		assert_int_equal(batch_validate(d.bytes.data, d.bytes.len, &h, NULL), KLAB_OK);
		if ((h.attributes & BATCH_ATTR_COMPRESSION) != (int)codecs[c])
			fail_msg("%s: attributes 0x%x", compression_name(codecs[c]), h.attributes);
		assert_int_equal(h.record_count, 30);
		assert_true(d.bytes.len < d.uncompressed); /* 'v' padding compresses */
		assert_int_equal(batch_decompress(d.bytes.data, d.bytes.len, 1 << 20, &plain),
				 KLAB_OK);
		assert_int_equal(plain.len, d.uncompressed);
		assert_int_equal(check_batch(plain.data, plain.len, 0, 0), 30);
		acc_free(&a);
		buf_free(&d.bytes);
		buf_free(&plain);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch2_acc_producer_config_defaults_and_errors),
		cmocka_unit_test(test_ch2_acc_batch_size_closes_a_batch),
		cmocka_unit_test(test_ch2_acc_batches_of_a_partition_drain_in_open_order),
		cmocka_unit_test(test_ch2_acc_linger_holds_a_batch_until_due),
		cmocka_unit_test(test_ch2_acc_linger_zero_sends_at_once),
		cmocka_unit_test(test_ch2_acc_flush_drains_everything),
		cmocka_unit_test(test_ch2_acc_efull_when_a_new_batch_does_not_fit),
		cmocka_unit_test(test_ch2_acc_big_record_reserves_its_size),
		cmocka_unit_test(test_ch2_acc_record_too_large),
		cmocka_unit_test(test_ch2_acc_memory_bounded_under_random_load),
		cmocka_unit_test(test_ch2_acc_drained_batch_is_valid_and_in_send_order),
		cmocka_unit_test(test_ch2_acc_compression_sets_codec_and_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
