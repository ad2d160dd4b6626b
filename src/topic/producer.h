/*
 * producer.h - the producer of chapter 2, in one process with the topics:
 *
 *   send(record) -> partitioner -> accumulator -> (linger, batch.size)
 *                -> drain -> the partition's log
 *
 * The serializers (serde.h) run before send(): the producer sees bytes.
 * In chapter 3 the drain step becomes a Produce request to a broker; here
 * it appends to the partition's log directly.  `paused` stands in for a
 * broker that does not answer: nothing drains, so buffer.memory fills and
 * send() blocks for max.block.ms, then fails as Kafka's does.
 */
#ifndef KLAB_TOPIC_PRODUCER_H
#define KLAB_TOPIC_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include "topic/accumulator.h"
#include "topic/partitioner.h"
#include "topic/topic.h"

struct producer_stats {
	int64_t records, batches;
	uint64_t wire_bytes, uncompressed_bytes;
};

struct producer {
	struct topic_store *topics; /* not owned */
	struct accumulator acc;
	struct partitioner part;
	bool paused;
	struct producer_stats stats;
	struct buf scratch;
};

struct send_result {
	struct partition_choice choice;
	bool new_batch;
	bool switched;	    /* sticky: a new batch moved the topic to another partition */
	int64_t blocked_ms; /* how long send() waited for memory */
	int32_t drained;    /* batches sent to make room */
};

int producer_init(struct producer *p, struct topic_store *topics, const struct config *c,
		  enum partitioner_kind kind, uint64_t seed, struct kerr *e);
void producer_free(struct producer *p);

/*
 * Hand one record to the producer.  partition is PARTITION_ANY or an
 * explicit partition.  Errors: unknown topic, partition out of range,
 * record too large, and - when memory stays full for max.block.ms -
 * KLAB_ETIMEDOUT with Kafka's message.
 */
int producer_send(struct producer *p, const char *topic, int32_t partition,
		  const struct record_in *r, int64_t now_ms, struct send_result *res,
		  struct kerr *e);

/* Send every batch that is ready at now_ms (all of them when flush). */
int producer_poll(struct producer *p, int64_t now_ms, bool flush, int32_t *batches_sent,
		  struct kerr *e);

#endif
