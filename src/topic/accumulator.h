/*
 * accumulator.h - the producer's record accumulator (chapter 2 §4):
 * records wait here, grouped into one open batch per partition, until the
 * batch is sent.
 *
 *   send(record) -> [ orders-0: batch (3 records, 210 B, 4 ms old) ]
 *                   [ orders-1: batch (1 record, 70 B, 1 ms old)   ] -> drain -> log
 *
 * A batch is ready to send when it is full (batch.size), when it has
 * waited linger.ms, when memory is exhausted (someone is waiting for
 * buffer.memory), or when the producer flushes.  Each open batch reserves
 * batch.size bytes (or more, for one big record) of buffer.memory, so the
 * accumulator's memory is bounded whatever the load: a send that finds no
 * memory gets KLAB_EFULL and must wait (max.block.ms) for batches to drain.
 */
#ifndef KLAB_TOPIC_ACCUMULATOR_H
#define KLAB_TOPIC_ACCUMULATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "log/batch.h"
#include "log/compress.h"

struct producer_config {
	int64_t batch_size;	      /* batch.size */
	int64_t linger_ms;	      /* linger.ms */
	int64_t buffer_memory;	      /* buffer.memory */
	int64_t max_block_ms;	      /* max.block.ms */
	int64_t max_request_size;     /* max.request.size: the largest record */
	enum compression compression; /* compression.type */
};

extern const struct config_key producer_config_keys[];
extern const size_t producer_config_key_count;
int producer_config_load(struct producer_config *pc, const struct config *c, struct kerr *e);

struct acc_batch {
	char topic[256];
	int32_t partition;
	struct buf bytes; /* the uncompressed RecordBatch being built */
	struct batch_builder bb;
	int64_t created_ms;
	int32_t records;
	uint64_t reserved; /* bytes of buffer.memory this batch holds */
	bool full;	   /* closed for appends: the next record did not fit */
};

struct accumulator {
	struct producer_config cfg;
	struct acc_batch **batches; /* open and full ones, oldest first */
	size_t n, cap;
	uint64_t used, peak_used; /* bytes of buffer.memory reserved */
	bool exhausted;		  /* a send is waiting for memory */
};

void acc_init(struct accumulator *a, const struct producer_config *cfg);
void acc_free(struct accumulator *a);

/* The open (not full) batch of topic/partition, or NULL. */
struct acc_batch *acc_open_batch(const struct accumulator *a, const char *topic, int32_t partition);

/* Would appending r to topic/partition need a new batch? */
bool acc_needs_new_batch(const struct accumulator *a, const char *topic, int32_t partition,
			 const struct record_in *r);

/*
 * Add r to the open batch of topic/partition, closing it and opening a new
 * one when r does not fit.  KLAB_EFULL when a new batch is needed and
 * buffer.memory has no room (nothing is changed then); KLAB_ETOOLARGE when
 * r alone is larger than max.request.size or buffer.memory.
 */
int acc_append(struct accumulator *a, const char *topic, int32_t partition,
	       const struct record_in *r, int64_t now_ms, bool *new_batch, struct kerr *e);

/*
 * Take the oldest batch that is ready to send at now_ms (everything when
 * flush is true), finished and compressed as configured, into out (the
 * wire bytes).  Returns 1 and fills *topic_out / *partition_out, or 0 when
 * no batch is ready.  The batch's memory is released.
 */
int acc_drain_one(struct accumulator *a, int64_t now_ms, bool flush, struct buf *out,
		  char *topic_out, size_t topic_len, int32_t *partition_out, int32_t *records_out,
		  uint64_t *uncompressed_out);

/* When the next batch becomes ready by linger.ms, or -1 when none waits. */
int64_t acc_next_ready_ms(const struct accumulator *a);

#endif
