/*
 * consumer.h - the Kafka consumer as a client node (chapter 3 §4), with
 * manual assignment (groups arrive in chapter 6).
 *
 *   kconsumer_assign(topic, partitions)      which partitions to read
 *   kconsumer_seek_*(partition, ...)         where to start: earliest,
 *                                            latest, an offset, a timestamp
 *        -> ListOffsets (v1+) when the position is not an offset
 *        -> Fetch (v11 or the broker's highest) to each partition's leader,
 *           one request per leader in flight, again as soon as it answers
 *        -> record batches decoded (and decompressed), records from the
 *           position on handed to on_record(offset, timestamp, key, value,
 *           headers), the position moved past them
 *
 * Partition states (the table says who moves it):
 *
 *   NEED_OFFSET --ListOffsets sent--> LISTING --answer--> FETCHABLE
 *        ^                                                  |
 *        +---- OFFSET_OUT_OF_RANGE, auto.offset.reset ------+
 *                 earliest | latest   (none: FAILED, on_error)
 *
 * Retriable errors (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
 * UNKNOWN_TOPIC_OR_PARTITION, a lost connection, a timeout) refresh the
 * metadata and try again after retry.backoff.ms.  A seek by timestamp
 * that finds no record that late goes to the end, as Kafka's console
 * consumer does.
 */
#ifndef KLAB_CLIENT_CONSUMER_H
#define KLAB_CLIENT_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "log/batch.h"

#define KCONSUMER_EARLIEST (-2) /* ListOffsets' timestamp for the log start */
#define KCONSUMER_LATEST (-1)	/* ... and for the log end */

enum kconsumer_reset { KCONSUMER_RESET_EARLIEST, KCONSUMER_RESET_LATEST, KCONSUMER_RESET_NONE };

/* One record; r's pointers are valid only during the call. */
typedef void (*kconsumer_record_fn)(void *arg, const char *topic, int32_t partition,
				    const struct record *r);
/* A partition failed for good (partition -1: the whole consumer). */
typedef void (*kconsumer_error_fn)(void *arg, int32_t partition, int err, const char *msg);

struct kconsumer_config {
	struct kclient_config client;
	enum kconsumer_reset reset;	   /* auto.offset.reset (latest) */
	int32_t fetch_max_wait_ms;	   /* fetch.max.wait.ms (500) */
	int32_t fetch_min_bytes;	   /* fetch.min.bytes (1) */
	int32_t fetch_max_bytes;	   /* fetch.max.bytes (52428800) */
	int32_t max_partition_fetch_bytes; /* max.partition.fetch.bytes (1048576) */
	kconsumer_record_fn on_record;
	kconsumer_error_fn on_error;
	void (*on_ready)(void *arg); /* the node started */
	/* timers the application set with kclient_set_timer() */
	void (*on_timer)(void *arg, timer_id t);
	void *arg;
};

enum kcp_state { KCP_NEED_OFFSET, KCP_LISTING, KCP_FETCHABLE, KCP_FAILED };

struct kcons_part {
	int32_t partition;
	enum kcp_state state;
	int64_t seek;	  /* NEED_OFFSET: KCONSUMER_EARLIEST, _LATEST or a timestamp */
	int64_t position; /* FETCHABLE: the next offset to read */
	int64_t high_watermark;
	bool fetching;
	int64_t not_before_ms;
};

struct kconsumer {
	struct kconsumer_config cfg;
	struct kclient kc;
	char topic[KCLIENT_TOPIC_MAX];
	bool assigned, all_partitions;
	int64_t initial_seek; /* for partitions found later (all_partitions) */
	struct kcons_part *parts;
	int32_t nparts;
	bool stopped;
	bool polling, poll_again;
	timer_id wake_timer;
	int64_t wake_ms;
	struct buf scratch;
	/* counters for tests and tools */
	int64_t records, fetches, list_offsets, resets;
};

void kconsumer_config_defaults(struct kconsumer_config *cfg);

/* Set up c; its node's state must be &c->kc and its ops kclient_node_ops. */
int kconsumer_init(struct kconsumer *c, const struct kconsumer_config *cfg, struct kerr *e);
void kconsumer_free(struct kconsumer *c);

/*
 * Read partitions[0..n) of topic (n < 0: every partition the metadata
 * names), each starting per auto.offset.reset until a seek says otherwise.
 * Replaces an earlier assignment.  KLAB_EINVAL for a bad topic or
 * partition number, KLAB_ENOMEM.
 */
int kconsumer_assign(struct kconsumer *c, const char *topic, const int32_t *partitions, int32_t n);

/* partition -1: every assigned partition.  KLAB_ENOTFOUND: not assigned. */
int kconsumer_seek_offset(struct kconsumer *c, int32_t partition, int64_t offset);
/* where: KCONSUMER_EARLIEST, KCONSUMER_LATEST or a timestamp in ms (>= 0). */
int kconsumer_seek(struct kconsumer *c, int32_t partition, int64_t where);

/* The next offset of partition, or -1 when not known yet. */
int64_t kconsumer_position(const struct kconsumer *c, int32_t partition);

/* Hand over no more records (on_record may call it). */
void kconsumer_stop(struct kconsumer *c);

/* NULL when the rules of consumer.c (and client.c) hold, else the one broken. */
const char *kconsumer_check_invariants(const struct kconsumer *c);

#endif
