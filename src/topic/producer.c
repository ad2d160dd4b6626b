/*
 * producer.c - send(): partitioner, accumulator, drain (see producer.h;
 * chapter 2 §3-§4).
 *
 * The sticky partitioner (KIP-480) and the accumulator cooperate: a record
 * without a key goes to the topic's sticky partition; when that
 * partition would need a new batch (its batch is full, or was sent), the producer
 * first asks the partitioner for another partition ("abort on new
 * batch", Kafka 2.4's RecordAccumulator), so each batch fills before the
 * partition changes - fewer,
 * fuller batches, lower latency at the same linger.ms.
 */
#include "topic/producer.h"

#include <inttypes.h>
#include <string.h>

int
producer_init(struct producer *p, struct topic_store *topics, const struct config *c,
	      enum partitioner_kind kind, uint64_t seed, struct kerr *e)
{
	struct producer_config pc;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = producer_config_load(&pc, c, e)) != KLAB_OK)
		return rc;
	p->topics = topics;
	acc_init(&p->acc, &pc);
	partitioner_init(&p->part, kind, seed);
	buf_init(&p->scratch);
	return KLAB_OK;
}

void
producer_free(struct producer *p)
{
	acc_free(&p->acc);
	buf_free(&p->scratch);
}

/* Choose the partition, moving a sticky topic on when its batch is full. */
static int
choose(struct producer *p, const struct topic *t, int32_t partition, const struct record_in *r,
       struct send_result *res, struct kerr *e)
{
	int rc = partitioner_choose(&p->part, t->name, partition, r->kv.key, r->kv.key_len,
				    t->partitions, &res->choice);

	if (rc != KLAB_OK)
		return kerr_set(e, rc, "cannot choose a partition of '%s' (%" PRId32 " partitions)",
				t->name, t->partitions);
	if (res->choice.how == PARTITION_HOW_STICKY &&
	    acc_needs_new_batch(&p->acc, t->name, res->choice.partition, r)) {
		int32_t prev = res->choice.partition;
		struct acc_batch *full = acc_open_batch(&p->acc, t->name, prev);

		if (full != NULL) /* closed for appends, so it is sent now (Kafka's tryAppend) */
			full->full = true;
		partitioner_on_new_batch(&p->part, t->name, prev, t->partitions);
		rc = partitioner_choose(&p->part, t->name, partition, r->kv.key, r->kv.key_len,
					t->partitions, &res->choice);
		res->switched = res->choice.partition != prev;
	}
	return rc;
}

int
producer_send(struct producer *p, const char *topic, int32_t partition, const struct record_in *r,
	      int64_t now_ms, struct send_result *res, struct kerr *e)
{
	const struct topic *t = topics_find(p->topics, topic);
	int32_t sent;
	int rc;

	memset(res, 0, sizeof(*res));
	if (t == NULL)
		return kerr_set(e, KLAB_ENOTFOUND,
				"no topic '%s' (UNKNOWN_TOPIC_OR_PARTITION): create it first",
				topic);
	if (partition != PARTITION_ANY && (partition < 0 || partition >= t->partitions))
		return kerr_set(e, KLAB_EINVAL,
				"topic '%s' has partitions 0..%" PRId32 ", not %" PRId32, topic,
				t->partitions - 1, partition);
	if ((rc = choose(p, t, partition, r, res, e)) != KLAB_OK)
		return rc;
	rc = acc_append(&p->acc, topic, res->choice.partition, r, now_ms, &res->new_batch, e);
	if (rc == KLAB_EFULL && !p->paused) {
		/* memory is exhausted: every batch is sendable; drain and retry */
		if ((rc = producer_poll(p, now_ms, true, &sent, e)) != KLAB_OK)
			return rc;
		res->drained = sent;
		rc = acc_append(&p->acc, topic, res->choice.partition, r, now_ms, &res->new_batch,
				e);
	}
	if (rc == KLAB_EFULL) {
		res->blocked_ms = p->acc.cfg.max_block_ms;
		return kerr_set(e, KLAB_ETIMEDOUT,
				"Failed to allocate memory within the configured max blocking time "
				"%" PRId64 " ms. (buffer.memory=%" PRId64
				" is full of unsent batches)",
				p->acc.cfg.max_block_ms, p->acc.cfg.buffer_memory);
	}
	if (rc == KLAB_OK)
		p->stats.records++;
	return rc;
}

int
producer_poll(struct producer *p, int64_t now_ms, bool flush, int32_t *batches_sent, struct kerr *e)
{
	char topic[256];
	int32_t partition, records;
	uint64_t raw;
	struct topic *t;
	int rc;

	*batches_sent = 0;
	if (p->paused)
		return KLAB_OK;
	while ((rc = acc_drain_one(&p->acc, now_ms, flush, &p->scratch, topic, sizeof(topic),
				   &partition, &records, &raw)) == 1) {
		t = topics_find(p->topics, topic);
		if (t == NULL || partition >= t->partitions)
			return kerr_set(e, KLAB_ENOTFOUND,
					"topic '%s' was deleted: %" PRId32 " records dropped",
					topic, records);
		if ((rc = log_append(t->logs[partition], p->scratch.data, p->scratch.len, now_ms,
				     NULL, e)) != KLAB_OK)
			return rc;
		p->stats.batches++;
		p->stats.wire_bytes += p->scratch.len;
		p->stats.uncompressed_bytes += raw;
		(*batches_sent)++;
	}
	if (rc < 0)
		return kerr_set(e, rc, "cannot finish a batch: %s", klab_strerror(rc));
	return KLAB_OK;
}
