/*
 * producer_state.h - what a partition remembers of each idempotent
 * producer (KIP-98), so a retried batch is written once.
 *
 * An idempotent producer stamps every batch with its producer id, its
 * epoch and the sequence number of its first record, counted per
 * partition.  The leader keeps, per producer id, the epoch and the last
 * five batches it appended (Kafka's ProducerStateEntry,
 * NUM_BATCHES_TO_RETAIN = 5) and decides, before the append, what a new
 * batch is (pstate_check):
 *
 *   a batch it already holds (same epoch, same first and last sequence)
 *                                  -> DUPLICATE: not appended; the producer
 *                                     is answered the original offsets
 *   an epoch older than the one it knows  -> INVALID_PRODUCER_EPOCH (47)
 *   the next sequence, or seq 0 of a newer epoch, or any sequence of a
 *   producer it does not know       -> APPEND
 *   anything else (a gap, a reorder, a newer epoch not at 0)
 *                                  -> OUT_OF_ORDER_SEQUENCE_NUMBER (45)
 *
 * The rules are Kafka 3.6's: ProducerAppendInfo.checkProducerEpoch and
 * checkSequence (storage/.../log/ProducerAppendInfo.java), the duplicate
 * search of ProducerStateEntry.findDuplicateBatch, called first by
 * UnifiedLog.analyzeAndValidateProducerState.  The state lives in the log
 * layer, as Kafka's ProducerStateManager does beside its UnifiedLog, so
 * recovery can rebuild it from snapshot files and the batches after them.
 */
#ifndef KLAB_LOG_PRODUCER_STATE_H
#define KLAB_LOG_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "log/batch.h"

#define PSTATE_BATCHES 5		    /* ProducerStateEntry.NUM_BATCHES_TO_RETAIN */
#define PSTATE_PRODUCERS_MAX 1024	    /* klab's bound on producers per partition */
#define PSTATE_EXPIRATION_MS 86400000LL	    /* producer.id.expiration.ms (Kafka 3.6) */
#define PSTATE_EXPIRATION_CHECK_MS 600000LL /* producer.id.expiration.check.interval.ms */
#define PSTATE_SNAPSHOT_VERSION 1
#define PSTATE_SNAPSHOT_HEADER 10 /* version int16, crc uint32, count int32 */
#define PSTATE_SNAPSHOT_ENTRY 46  /* the bytes of one entry, below */
#define PSTATE_NO_EPOCH (-1)	  /* RecordBatch.NO_PRODUCER_EPOCH */

/* One batch a producer appended. */
struct pstate_batch {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
	int64_t timestamp; /* the batch's maxTimestamp */
};

struct pstate_entry {
	int64_t producer_id;
	int16_t epoch;
	int nbatches;			       /* 0..PSTATE_BATCHES */
	struct pstate_batch b[PSTATE_BATCHES]; /* oldest first */
	int64_t last_timestamp;		       /* of the newest batch: expiry counts from it */
};

/* Sorted by producer id; at most max_producers entries. */
struct pstate {
	struct pstate_entry *e;
	size_t n, cap;
	size_t max_producers;
	int64_t expiration_ms;
	int64_t last_expiry_ms; /* when pstate_expire last ran */
};

enum pstate_verdict {
	PSTATE_APPEND = 0,
	PSTATE_DUPLICATE,    /* *dup says where the original went */
	PSTATE_OUT_OF_ORDER, /* OUT_OF_ORDER_SEQUENCE_NUMBER */
	PSTATE_STALE_EPOCH,  /* INVALID_PRODUCER_EPOCH */
};

void pstate_init(struct pstate *ps, int64_t expiration_ms);
void pstate_free(struct pstate *ps);
void pstate_clear(struct pstate *ps);

/* The last sequence of a batch: base + lastOffsetDelta, wrapping past INT32_MAX to 0. */
int32_t pstate_last_seq(int32_t base_seq, int32_t last_offset_delta);

/* The entry of producer_id, or NULL. */
const struct pstate_entry *pstate_find(const struct pstate *ps, int64_t producer_id);

/*
 * What the batch h (h->producer_id >= 0) is to this partition; why (may be
 * NULL) gets a sentence for the producer.  Changes nothing.
 */
enum pstate_verdict pstate_check(const struct pstate *ps, const struct batch_header *h,
				 struct pstate_batch *dup, const char **why);

/*
 * Record the appended batch h (base_offset assigned).  A producer new to a
 * full table takes the place of the one idle longest.  KLAB_OK or KLAB_ENOMEM.
 */
int pstate_update(struct pstate *ps, const struct batch_header *h);

/* Forget producers idle for expiration_ms (Kafka's removeExpiredProducers). */
void pstate_expire(struct pstate *ps, int64_t now_ms);

/*
 * Kafka's producer snapshot file (ProducerStateManager.writeSnapshot),
 * big-endian:
 *
 *   version int16 = 1 | crc uint32: CRC-32C of the bytes after it |
 *   count int32 | count entries of: producer_id int64, epoch int16,
 *   last_sequence int32, last_offset int64, offset_delta int32,
 *   timestamp int64, coordinator_epoch int32, current_txn_first_offset int64
 *
 * Each entry keeps only the producer's newest batch (first offset =
 * last_offset - offset_delta, first seq = last seq - offset_delta), as in
 * Kafka: after a restart, older duplicates than the last one are found
 * only if the batches after the snapshot are replayed.
 */
int pstate_snapshot_encode(const struct pstate *ps, struct buf *out);
/* Replace ps's entries with the file's; KLAB_ECORRUPT (why set) leaves ps empty. */
int pstate_snapshot_decode(struct pstate *ps, const uint8_t *p, size_t len, const char **why);

/* Invariants: sorted unique ids; 1 <= nbatches <= 5; sequences and offsets ascend. */
int pstate_check_invariants(const struct pstate *ps, const char **why);

#endif
