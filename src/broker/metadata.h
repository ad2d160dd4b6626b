/*
 * metadata.h - where the broker learns about its cluster: the metadata
 * seam (chapter 3 §8; DESIGN §1).
 *
 * A broker needs to know things it cannot see by itself: which brokers
 * make up the cluster and how to reach them, which broker leads each
 * partition and which hold its replicas, who the controller is, and how a
 * change it takes from a client (a topic created or deleted) reaches the
 * other brokers.  The broker's handlers (handlers.c) and node code
 * (broker.c) ask one struct metadata_source for all of it, through the
 * ops below, and never anyone else.  What sits behind the ops changes
 * with the chapters:
 *
 *   chapter 3   the static cluster (cluster.c, cluster_metadata_ops): the
 *               member list of cluster.brokers, placement done by the
 *               broker that takes a CreateTopics, and the change passed
 *               on by sending the other brokers the same request;
 *   chapter 5   the controller backed by the coordinator: brokers
 *               registered under /brokers/ids, partition state under
 *               /brokers/topics, changes made by the controller and
 *               learnt through watches.
 *
 * Chapter 5 plugs its source in through broker_config.metadata_ops and
 * .metadata_state, so no chapter 3 file includes chapter 5 code.
 *
 * The contract every source keeps:
 *
 *   1. Calls come from the broker's node, one at a time, between the
 *      broker's start and stop (a sans-I/O node: no threads).  A source
 *      acts only through the broker's runtime (b->node->rt): it may open
 *      connections, set timers, read the clock and draw random numbers.
 *   2. The node events of what it opened are its own: connected, frame
 *      and closed return true for a connection the source opened (and the
 *      broker then does nothing else with the event); timer returns true
 *      for a timer it set.  Everything else returns false.
 *   3. stop drops every connection and timer the source holds and frees
 *      its memory; it is called on the broker's stop, on a crash and by
 *      broker_free, possibly more than once, and start may follow again.
 *   4. The answers are a view, possibly stale, never torn: brokers lists
 *      members in ascending id order, this broker at the address it
 *      advertises; a topic that topic_count/topic_name list has
 *      partitions() >= 0, and partition() answers for each index below it;
 *      a partition's leader is one of its replicas, and its ISR a subset
 *      of them.  Strings stay valid until the next call into the source.
 *   5. create_topic and delete_topics make the change for the whole
 *      cluster or report why not.  A change requested by another broker
 *      of the cluster (h, its request header) is applied here and not
 *      passed on.  When settles_later() is true, a change made here
 *      reaches the other brokers only after the call returns (a client
 *      that asks at once may be told LEADER_NOT_AVAILABLE, as Kafka does
 *      while a new topic's leaders are elected).
 *   6. Nothing the source is told by the network is trusted: a malformed
 *      answer from a peer or the coordinator is logged and dropped, never
 *      an assert.
 *   7. check_invariants checks the source's own rules without changing
 *      anything (broker_check_invariants calls it; the simulator's tests
 *      after every step).
 */
#ifndef KLAB_BROKER_METADATA_H
#define KLAB_BROKER_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/kafka.h"
#include "core/config.h"
#include "core/err.h"
#include "net/node.h"

#define METADATA_REPLICAS_MAX 16 /* replicas of one partition */

struct broker;

/* A member of the cluster. */
struct metadata_broker {
	int32_t id;
	const char *host; /* valid until the next call into the source */
	int port;
};

/* Where one partition lives. */
struct metadata_partition {
	int32_t leader;	      /* broker id; -1: no leader now */
	int32_t leader_epoch; /* -1: unknown here */
	int32_t replicas[METADATA_REPLICAS_MAX];
	int nreplicas;
	int32_t isr[METADATA_REPLICAS_MAX]; /* in-sync replicas */
	int nisr;
};

/* A topic a client asked for, checked by the handler. */
struct metadata_new_topic {
	const char *name;
	int32_t partitions;	      /* 1 .. TOPIC_PARTITIONS_MAX */
	const int32_t *assignment;    /* each partition's broker id; NULL: the source places */
	const struct config *configs; /* topic overrides; NULL: none */
};

struct metadata_source;

struct metadata_ops {
	const char *name; /* "static cluster" */

	/* ---- the broker's node events (invariants 2, 3) ---- */
	void (*start)(struct metadata_source *m);
	void (*stop)(struct metadata_source *m);
	bool (*connected)(struct metadata_source *m, conn_id c, bool ok);
	bool (*frame)(struct metadata_source *m, conn_id c, const uint8_t *frame, size_t len);
	bool (*closed)(struct metadata_source *m, conn_id c);
	bool (*timer)(struct metadata_source *m, timer_id t);

	/* ---- who is in the cluster ---- */
	/* Up to cap members into out, by id (invariant 4); returns how many. */
	int (*brokers)(struct metadata_source *m, struct metadata_broker *out, int cap);
	/* The cluster id; NULL when there is none. */
	const char *(*cluster_id)(struct metadata_source *m);
	/* The broker that takes topic changes (Metadata's controller_id). */
	int32_t (*controller)(struct metadata_source *m);

	/* ---- where each partition lives ---- */
	/* The topics, in a stable order: how many, and the i-th one's name. */
	int32_t (*topic_count)(struct metadata_source *m);
	const char *(*topic_name)(struct metadata_source *m, int32_t i);
	/* How many partitions topic has; -1 when the cluster has no such topic. */
	int32_t (*partitions)(struct metadata_source *m, const char *topic);
	/* Partition p of topic; KLAB_ENOTFOUND when there is no such partition. */
	int (*partition)(struct metadata_source *m, const char *topic, int32_t p,
			 struct metadata_partition *out);

	/* ---- how a change reaches the others (invariant 5) ---- */
	/* Create t in the cluster; KLAB_OK, or an error with e's sentence. */
	int (*create_topic)(struct metadata_source *m, const struct proto_request_header *h,
			    const struct metadata_new_topic *t, int64_t now_ms, struct kerr *e);
	/* Delete names[0..n); errors[i] gets Kafka's code for names[i]. */
	void (*delete_topics)(struct metadata_source *m, const struct proto_request_header *h,
			      const char *const *names, int32_t n, int16_t *errors);
	/* Does a change made here reach the other brokers only later? */
	bool (*settles_later)(struct metadata_source *m);

	/* ---- its own rules (invariant 7): KLAB_OK, or KLAB_ESTATE and e's sentence ---- */
	int (*check_invariants)(struct metadata_source *m, struct kerr *e);

	/*
	 * ---- topic ids (KIP-516; topic.h): the same id for a topic on every broker ----
	 * Optional: a source without ids leaves both NULL, and the handlers then
	 * answer the zero UUID for every topic and UNKNOWN_TOPIC_ID for every id.
	 */
	/* The topic's id into id: KLAB_OK, or KLAB_ENOTFOUND. */
	int (*topic_id)(struct metadata_source *m, const char *topic, uint8_t id[16]);
	/* The name of the topic whose id is id; NULL when unknown. */
	const char *(*topic_by_id)(struct metadata_source *m, const uint8_t id[16]);
};

struct metadata_source {
	const struct metadata_ops *ops;
	struct broker *b; /* the broker it serves */
	void *state;	  /* the source's own (broker_config.metadata_state) */
};

/* Chapter 3's source: the static cluster of cluster.brokers (cluster.c). */
extern const struct metadata_ops cluster_metadata_ops;

#endif
