/*
 * producer_ids.h - handing out producer ids that never repeat (KIP-98).
 *
 * An idempotent producer's batches are told apart by their producer id,
 * so an id handed out twice would make one producer's batches look like
 * another's retries.  Kafka's brokers take blocks of 1000 ids from a
 * shared counter (ProducerIdManager, ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE;
 * in ZooKeeper mode the znode /latest_producer_id_block).  klab has no
 * shared store before chapter 4, so each broker owns the range
 * broker.id * 2^32 + [0, 2^32) and records in its log directory, durably,
 * the end of the block it hands ids from:
 *
 *   <log.dir>/producer-id-block     "block.end=<next unallocated id>\n"
 *
 * The file is written (fs_write_file_atomic) before any id of a new block
 * is handed out; after a restart the broker starts at the recorded end,
 * skipping what was left of the old block, as Kafka does.
 */
#ifndef KLAB_BROKER_PRODUCER_IDS_H
#define KLAB_BROKER_PRODUCER_IDS_H

#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

#define PRODUCER_ID_BLOCK_SIZE 1000
#define PRODUCER_ID_FILE "producer-id-block"

struct producer_ids {
	struct fs *fs;
	char path[4096 + 32];
	int64_t range_start, range_end; /* this broker's ids: [start, end) */
	int64_t next, block_end;	/* ids next..block_end-1 are ours to hand out */
};

/* Read the block file in dir (none: the range's start). */
int producer_ids_open(struct producer_ids *p, struct fs *fs, const char *dir, int32_t broker_id,
		      struct kerr *e);

/* The next id; a new block is made durable first.  KLAB_EIO, KLAB_EFULL (range spent). */
int producer_ids_next(struct producer_ids *p, int64_t *id, struct kerr *e);

#endif
