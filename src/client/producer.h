/*
 * producer.h - the Kafka producer as a client node (chapter 3 §4): chapter
 * 2's accumulator and partitioner, with the drain step turned into Produce
 * requests to each partition's leader.
 *
 *   kproducer_send(topic, record, opaque)
 *       -> (no metadata for topic yet: waits in a queue, Metadata asked)
 *       -> partitioner -> accumulator (batch.size, linger.ms, compression)
 *       -> drained batches, grouped by leader -> Produce (v8 or the
 *          broker's highest) -> on_delivery(opaque, partition, offset, err)
 *
 * Ordering: at most one batch per partition is in flight (Kafka's
 * max.in.flight.requests.per.connection=1), so a retried batch never
 * overtakes the next one.  A batch that fails with a retriable error
 * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION,
 * a lost connection, a timeout) refreshes the metadata and goes again after
 * retry.backoff.ms, up to `retries` times and delivery.timeout.ms after it
 * was drained; then its records are reported failed.  Without idempotence
 * a retry after a timeout may write a batch twice, as in Kafka.
 *
 * Idempotence (KIP-98; enable.idempotence, on by default as in Kafka 3.x):
 * before its first batch the producer asks any broker for a producer id
 * (InitProducerId); every batch then carries that id, its epoch and the
 * sequence number of its first record, counted per partition and fixed
 * when the batch is first sent, so a retry carries the same sequence and
 * the partition's leader writes it once (a duplicate is answered with the
 * original offsets).  OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID
 * and INVALID_PRODUCER_EPOCH fail the batch and make the producer start
 * over with a new producer id and sequences from 0 (Kafka's idempotent
 * producer bumps its epoch instead, with InitProducerId v3+; klab speaks
 * v0-1).  The settings idempotence needs are Kafka's
 * (ProducerConfig.postProcessAndValidateIdempotenceConfigs): acks=all,
 * retries > 0, max.in.flight.requests.per.connection <= 5.  Asked for
 * explicitly, a conflicting setting is a configuration error; left at
 * its default, idempotence is silently turned off by one.
 *
 * acks=0: the broker does not answer; records are reported delivered
 * (offset -1) once written to the connection.
 */
#ifndef KLAB_CLIENT_PRODUCER_H
#define KLAB_CLIENT_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "topic/accumulator.h"
#include "topic/partitioner.h"

/* Called once per record; offset -1 when unknown (acks=0) or on error. */
typedef void (*kproducer_delivery_fn)(void *arg, void *opaque, const char *topic, int32_t partition,
				      int64_t offset, int err, int16_t kafka_error);

/* enable.idempotence: unset means Kafka's default, true unless a setting conflicts. */
enum kp_idempotence { KP_IDEMPOTENCE_DEFAULT = 0, KP_IDEMPOTENCE_ON, KP_IDEMPOTENCE_OFF };

struct kproducer_config {
	struct kclient_config client;
	struct producer_config acc;	 /* batch.size, linger.ms, compression.type, ... */
	int16_t acks;			 /* acks: 0, 1 or -1 (all) */
	int32_t retries;		 /* retries (2147483647) */
	int64_t delivery_timeout_ms;	 /* delivery.timeout.ms (120000) */
	enum kp_idempotence idempotence; /* enable.idempotence */
	int32_t max_in_flight; /* max.in.flight.requests.per.connection (5); klab sends 1 */
	enum partitioner_kind partitioner;
	uint64_t seed;
	kproducer_delivery_fn on_delivery;
	void *arg;
	void (*on_ready)(void *arg); /* the node started (send may be called) */
	/* timers the application set with kclient_set_timer() */
	void (*on_timer)(void *arg, timer_id t);
};

struct kp_waiting; /* a record waiting for its topic's metadata */
struct kp_record;  /* a record in a batch, until delivered */
struct kp_batch;   /* a drained batch, until acknowledged */
struct kp_seq;	   /* the next sequence number of a partition */

struct kproducer {
	struct kproducer_config cfg;
	struct kclient kc;
	struct accumulator acc;
	struct partitioner part;
	struct kp_waiting *waiting;
	size_t nwaiting, capwaiting;
	struct kp_record *records; /* in send order */
	size_t nrecords, caprecords;
	struct kp_batch *batches;
	size_t nbatches, capbatches;
	uint64_t next_batch_id;
	bool flushing;
	bool polling, poll_again; /* poll_now() is running / must run again */
	timer_id wake_timer;
	int64_t wake_ms;
	struct buf scratch;
	/* idempotence (see the top of this file) */
	bool idempotent;
	int64_t producer_id; /* -1 until InitProducerId answered */
	int16_t producer_epoch;
	bool pid_inflight;
	int64_t pid_not_before_ms;
	struct kp_seq *seqs;
	size_t nseqs, capseqs;
	/* counters for tests and tools */
	int64_t delivered, failed, retried_batches, produce_requests, producer_id_resets;
};

void kproducer_config_defaults(struct kproducer_config *cfg);

/* Set up p; its node's state must be &p->kc and its ops kclient_node_ops. */
int kproducer_init(struct kproducer *p, const struct kproducer_config *cfg, struct kerr *e);
void kproducer_free(struct kproducer *p);

/*
 * Hand over one record (copied) of topic, to partition (or PARTITION_ANY).
 * Returns KLAB_OK (on_delivery will run for it), KLAB_EINVAL (bad topic or
 * partition), KLAB_ETOOLARGE (record > max.request.size), KLAB_EFULL
 * (buffer.memory full: poll and try later), KLAB_ENOMEM.
 */
int kproducer_send(struct kproducer *p, const char *topic, int32_t partition,
		   const struct record_in *r, void *opaque, struct kerr *e);

/* Send every batch now, ignoring linger.ms (until no record is left). */
void kproducer_flush(struct kproducer *p);

/* Records handed over and not yet reported. */
size_t kproducer_outstanding(const struct kproducer *p);

/* NULL when the rules of producer.c (and client.c) hold, else the one broken. */
const char *kproducer_check_invariants(const struct kproducer *p);

#endif
