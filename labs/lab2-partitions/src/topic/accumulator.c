/*
 * accumulator.c - batching records per partition (see accumulator.h;
 * Kafka's RecordAccumulator, KIP-480 for the sticky interplay).
 *
 * Memory accounting follows Kafka's BufferPool in spirit: opening a batch
 * reserves max(batch.size, size of its first record) bytes; draining it
 * gives them back.  Kafka pools and reuses those buffers; klab allocates
 * and frees them, but counts the same bytes, so `used` never exceeds
 * buffer.memory (invariant 1).
 *
 * Invariants:
 *   1. used = sum of reserved over all batches <= buffer.memory.
 *   2. At most one open (not full) batch per topic/partition.
 *   3. Batches of one partition drain in the order they were opened, so
 *      records of a partition reach the log in the order they were sent.
 */
#include "topic/accumulator.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const compressions[] = { "none", "gzip", "snappy", "lz4", "zstd", NULL };

const struct config_key producer_config_keys[] = {
	{ "batch.size", CONFIG_INT, "16384", 0, INT32_MAX, NULL,
	  "close a partition's batch when it reaches this many bytes" },
	{ "linger.ms", CONFIG_LONG, "0", 0, INT64_MAX, NULL,
	  "wait up to this long for more records before sending a batch" },
	{ "buffer.memory", CONFIG_LONG, "33554432", 0, INT64_MAX, NULL,
	  "bytes the producer may hold in unsent batches" },
	{ "max.block.ms", CONFIG_LONG, "60000", 0, INT64_MAX, NULL,
	  "how long send() may wait for buffer memory" },
	{ "max.request.size", CONFIG_INT, "1048576", 0, INT32_MAX, NULL,
	  "the largest record (and request) the producer sends" },
	{ "compression.type", CONFIG_STRING, "none", 0, -1, compressions,
	  "none, gzip, snappy, lz4 or zstd: how batches are compressed" },
};
const size_t producer_config_key_count =
	sizeof(producer_config_keys) / sizeof(producer_config_keys[0]);

int
producer_config_load(struct producer_config *pc, const struct config *c, struct kerr *e)
{
	const struct config_key *k = producer_config_keys;
	const char *ct;
	int rc;

	if ((rc = config_validate(c, k, producer_config_key_count, e)) ||
	    (rc = config_long(c, &k[0], &pc->batch_size, e)) ||
	    (rc = config_long(c, &k[1], &pc->linger_ms, e)) ||
	    (rc = config_long(c, &k[2], &pc->buffer_memory, e)) ||
	    (rc = config_long(c, &k[3], &pc->max_block_ms, e)) ||
	    (rc = config_long(c, &k[4], &pc->max_request_size, e)) ||
	    (rc = config_string(c, &k[5], &ct, e)))
		return rc;
	return compression_parse(ct, &pc->compression);
}

void
acc_init(struct accumulator *a, const struct producer_config *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
}

static void
batch_free(struct acc_batch *b)
{
	buf_free(&b->bytes);
	free(b);
}

void
acc_free(struct accumulator *a)
{
	for (size_t i = 0; i < a->n; i++)
		batch_free(a->batches[i]);
	free(a->batches);
	memset(a, 0, sizeof(*a));
}

struct acc_batch *
acc_open_batch(const struct accumulator *a, const char *topic, int32_t partition)
{
	for (size_t i = a->n; i-- > 0;) {
		struct acc_batch *b = a->batches[i];

		if (b->partition == partition && strcmp(b->topic, topic) == 0)
			return b->full ? NULL : b;
	}
	return NULL;
}

/* An upper bound of the bytes r adds to a batch. */
static uint64_t
record_bound(const struct record_in *r)
{
	uint64_t n = 32 + (r->kv.key_len > 0 ? (uint64_t)r->kv.key_len : 0) +
		     (r->kv.value_len > 0 ? (uint64_t)r->kv.value_len : 0);

	for (size_t i = 0; i < r->header_count; i++)
		n += 10 + (uint64_t)(r->headers[i].key_len > 0 ? r->headers[i].key_len : 0) +
		     (uint64_t)(r->headers[i].value_len > 0 ? r->headers[i].value_len : 0);
	return n;
}

bool
acc_needs_new_batch(const struct accumulator *a, const char *topic, int32_t partition,
		    const struct record_in *r)
{
	/* LAB 2 BEGIN needs_new_batch: no open batch, or r would take it past batch.size
	 * skeleton: (void)a; (void)topic; (void)partition; (void)r; return true;
	 */
	/* TODO(lab 2, needs_new_batch): write this part. */
	(void)a; (void)topic; (void)partition; (void)r; return true;
	/* LAB 2 END needs_new_batch */
}

static int
open_batch(struct accumulator *a, const char *topic, int32_t partition, uint64_t need,
	   int64_t now_ms, struct acc_batch **out)
{
	uint64_t reserve = need > (uint64_t)a->cfg.batch_size ? need : (uint64_t)a->cfg.batch_size;
	struct acc_batch *b;

	if (a->used + reserve > (uint64_t)a->cfg.buffer_memory) {
		a->exhausted = true;
		return KLAB_EFULL;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		void *p = realloc(a->batches, cap * sizeof(*a->batches));

		if (p == NULL)
			return KLAB_ENOMEM;
		a->batches = p;
		a->cap = cap;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return KLAB_ENOMEM;
	snprintf(b->topic, sizeof(b->topic), "%s", topic);
	b->partition = partition;
	b->created_ms = now_ms;
	b->reserved = reserve;
	buf_init(&b->bytes);
	batch_builder_begin(&b->bb, &b->bytes, 0, now_ms, 0);
	a->batches[a->n++] = b;
	a->used += reserve;
	if (a->used > a->peak_used)
		a->peak_used = a->used;
	*out = b;
	return KLAB_OK;
}

int
acc_append(struct accumulator *a, const char *topic, int32_t partition, const struct record_in *r,
	   int64_t now_ms, bool *new_batch, struct kerr *e)
{
	uint64_t need = BATCH_HEADER_SIZE + record_bound(r);
	struct acc_batch *b = acc_open_batch(a, topic, partition);
	int rc;

	*new_batch = false;
	if (need > (uint64_t)a->cfg.max_request_size || need > (uint64_t)a->cfg.buffer_memory)
		return kerr_set(e, KLAB_ETOOLARGE,
				"the record is %" PRIu64
				" bytes, larger than max.request.size=%" PRId64
				" or buffer.memory=%" PRId64 " (RecordTooLargeException)",
				need, a->cfg.max_request_size, a->cfg.buffer_memory);
	if (acc_needs_new_batch(a, topic, partition, r)) {
		struct acc_batch *old = b;

		if ((rc = open_batch(a, topic, partition, need, now_ms, &b)) != KLAB_OK) {
			if (rc == KLAB_EFULL)
				return kerr_set(e, rc,
						"buffer.memory is full (%" PRIu64 " of %" PRId64
						" bytes reserved by unsent batches)",
						a->used, a->cfg.buffer_memory);
			return kerr_set(e, rc, "out of memory");
		}
		if (old != NULL)
			old->full = true; /* invariant 2: it is sent as it is */
		*new_batch = true;
	}
	batch_builder_add(&b->bb, r);
	b->records++;
	a->exhausted = false;
	return buf_ok(&b->bytes) ? KLAB_OK : kerr_set(e, KLAB_ENOMEM, "out of memory");
}

static bool
sendable(const struct accumulator *a, const struct acc_batch *b, int64_t now_ms, bool flush)
{
	/* LAB 2 BEGIN sendable: flush, full, memory exhausted, batch.size reached or linger.ms over
	 * skeleton: (void)a; (void)b; (void)now_ms; (void)flush; return false;
	 */
	/* TODO(lab 2, sendable): write this part. */
	(void)a; (void)b; (void)now_ms; (void)flush; return false;
	/* LAB 2 END sendable */
}

int
acc_drain_one(struct accumulator *a, int64_t now_ms, bool flush, struct buf *out, char *topic_out,
	      size_t topic_len, int32_t *partition_out, int32_t *records_out,
	      uint64_t *uncompressed_out)
{
	struct acc_batch *b = NULL;
	size_t i;
	int rc;

	for (i = 0; i < a->n; i++)
		if (sendable(a, a->batches[i], now_ms, flush)) {
			b = a->batches[i];
			break;
		}
	if (b == NULL)
		return 0;
	memmove(a->batches + i, a->batches + i + 1, (a->n - i - 1) * sizeof(*a->batches));
	a->n--;
	a->used -= b->reserved;
	rc = batch_builder_finish(&b->bb);
	buf_reset(out);
	if (rc == KLAB_OK && a->cfg.compression != COMPRESSION_NONE)
		rc = batch_compress(b->bytes.data, b->bytes.len, a->cfg.compression, out);
	else if (rc == KLAB_OK)
		buf_put(out, b->bytes.data, b->bytes.len);
	snprintf(topic_out, topic_len, "%s", b->topic);
	*partition_out = b->partition;
	*records_out = b->records;
	*uncompressed_out = b->bytes.len;
	batch_free(b);
	if (rc == KLAB_OK && !buf_ok(out))
		rc = KLAB_ENOMEM;
	return rc == KLAB_OK ? 1 : rc;
}

int64_t
acc_next_ready_ms(const struct accumulator *a)
{
	int64_t next = -1;

	for (size_t i = 0; i < a->n; i++) {
		int64_t t = a->batches[i]->created_ms + a->cfg.linger_ms;

		if (next < 0 || t < next)
			next = t;
	}
	return next;
}
