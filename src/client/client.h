/*
 * client.h - what every Kafka client node shares (chapter 3 §4): bootstrap
 * servers, a metadata cache, one connection per broker, and requests
 * matched to responses by correlation id, each bounded by a timeout.
 *
 * A client is a sans-I/O node (net/node.h): the producer (producer.h), the
 * consumer (consumer.h) and the admin calls (admin.h) sit on top of one
 * `struct kclient` and run unchanged in the simulator and on the real
 * runtime.
 *
 *   kclient_request(node, api, max_version, body, cb)
 *        |  node: a broker id from the metadata, or KCLIENT_ANY
 *        v
 *   [ connection to that broker ]  DOWN -> CONNECTING -> VERSIONS -> READY
 *        |  ApiVersions v0 first; each request goes out at the highest
 *        |  version both sides support
 *        v
 *   cb(kc, arg, err, version, response)   exactly once per request:
 *        KLAB_OK with the decoded response; KLAB_ETIMEDOUT after
 *        request.timeout.ms; KLAB_EIO when the connection was lost or could
 *        not be made; KLAB_ENOTIMPL when the broker speaks no version we do.
 *        ETIMEDOUT and EIO are indefinite: the broker may have acted.
 *
 * Bootstrap: a KCLIENT_ANY request goes to a ready broker if there is one,
 * else to the next server of the list (bootstrap servers, then brokers the
 * metadata named) in turn; a failed connect moves it on to the next, and
 * after a whole round without success it waits retry.backoff.ms.
 *
 * Metadata: kclient_refresh_metadata() asks for the topics of interest
 * (kclient_want_topic) or all topics; one Metadata request is in flight at a
 * time and a refresh asked for meanwhile runs after it.  When an answer
 * arrives the hooks' on_metadata runs.
 *
 * Invariants:
 *   1. every pending request is in exactly one state: queued on a
 *      connection that is not ready, or sent and awaiting its response;
 *   2. a request's callback runs exactly once, then it is gone;
 *   3. at most one connection per broker (per slot) is open.
 */
#ifndef KLAB_CLIENT_CLIENT_H
#define KLAB_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/kafka.h"
#include "core/buf.h"
#include "core/err.h"
#include "net/node.h"

#define KCLIENT_ANY (-1)	 /* any broker (bootstrap) */
#define KCLIENT_SLOTS_MAX 64	 /* bootstrap servers + brokers */
#define KCLIENT_HOST_MAX 256	 /* host names */
#define KCLIENT_TOPIC_MAX 250	 /* Kafka's 249 characters + NUL */
#define KCLIENT_TOPICS_MAX 256	 /* topics in the metadata cache */
#define KCLIENT_PENDING_MAX 1024 /* requests in flight or queued */
#define KCLIENT_API_KEYS 64	 /* api keys whose versions we keep */
#define KCLIENT_PARTITIONS_MAX 100000

struct kclient;
struct pvalue;

/* Called exactly once per request; resp is valid only during the call. */
typedef void (*kclient_cb)(struct kclient *kc, void *arg, int err, int16_t version,
			   const struct pvalue *resp);

struct kclient_hooks {
	void (*on_start)(struct kclient *kc);
	void (*on_metadata)(struct kclient *kc, int err);
	void (*on_timer)(struct kclient *kc, timer_id t); /* timers the app set */
	void (*on_stop)(struct kclient *kc);
	void *app;
};

struct kclient_config {
	char bootstrap[1024];	    /* bootstrap.servers: "host:port[,host:port]" */
	int64_t request_timeout_ms; /* request.timeout.ms (30000) */
	int64_t retry_backoff_ms;   /* retry.backoff.ms (100) */
	bool allow_auto_create;	    /* allow.auto.create.topics on Metadata */
	const char *client_id;	    /* client.id */
};

enum kc_conn_state { KC_DOWN, KC_CONNECTING, KC_VERSIONS, KC_READY };

/* One broker (node_id >= 0) or bootstrap server (node_id < 0). */
struct kc_slot {
	int32_t node_id;
	char host[KCLIENT_HOST_MAX];
	int port;
	conn_id conn; /* 0 when DOWN */
	enum kc_conn_state state;
	int32_t versions_corr;					/* the ApiVersions request */
	int16_t versions_v;					/* ... and its version */
	int16_t vmin[KCLIENT_API_KEYS], vmax[KCLIENT_API_KEYS]; /* -1: unknown */
	int64_t failed_ms;					/* last failed connect, or -1 */
};

struct kc_partition {
	int32_t leader; /* -1: none known */
	int16_t error;
};

struct kc_topic {
	char name[KCLIENT_TOPIC_MAX];
	bool wanted; /* ask for it in Metadata */
	bool known;  /* the last answer described it */
	int16_t error;
	int32_t npartitions;
	struct kc_partition *parts;
};

struct kc_pending {
	int32_t corr; /* 0: the entry is free */
	int slot;
	bool any; /* KCLIENT_ANY: may move to another slot */
	bool sent;
	bool no_response; /* Produce acks=0 */
	int16_t api, max_version, version;
	struct pvalue *body; /* until sent */
	timer_id timer;
	kclient_cb cb;
	void *arg;
};

struct kclient {
	struct kclient_config cfg;
	struct kclient_hooks hooks;
	struct node *node;
	struct kc_slot slots[KCLIENT_SLOTS_MAX];
	int nslots, nbootstrap;
	int next_any; /* where the next ANY connect starts */
	struct kc_topic topics[KCLIENT_TOPICS_MAX];
	int ntopics;
	bool want_all_topics;
	int32_t controller_id;
	char cluster_id[64];
	bool metadata_known; /* a Metadata answer has arrived */
	bool reached_broker; /* some connection got as far as READY */
	bool metadata_inflight, metadata_again;
	int64_t metadata_ms;	 /* when the last Metadata request went out, or -1 */
	timer_id metadata_timer; /* a refresh waiting for retry.backoff.ms */
	timer_id retry_timer;
	struct kc_pending pending[KCLIENT_PENDING_MAX];
	int32_t next_corr;
	struct buf out;
	uint64_t requests_sent, timeouts, connects_failed; /* for tests */
	int answered_slot;	   /* during a callback: the slot its request went to (-1: none) */
	struct kerr last_error;	   /* the last failure, for tools */
	struct kerr connect_error; /* the last failed connect */
};

extern const struct node_ops kclient_node_ops;

/*
 * Set up kc (node->state must point at it).  Parses cfg->bootstrap:
 * KLAB_EINVAL (with a sentence in e) for an empty list or a bad host:port.
 */
int kclient_init(struct kclient *kc, const struct kclient_config *cfg,
		 const struct kclient_hooks *hooks, struct kerr *e);
void kclient_free(struct kclient *kc);
void kclient_config_defaults(struct kclient_config *cfg);

/*
 * Send body (a tree of api's request schema; kclient frees it, and the
 * bytes it points to must live until cb runs) to broker node (or
 * KCLIENT_ANY) at the highest version <= max_version both sides speak.
 * no_response: the broker will not answer (Produce acks=0); cb runs once
 * the request is written.  Returns KLAB_OK (cb will run), or KLAB_EFULL /
 * KLAB_ENOMEM (cb will not; body is freed).
 */
int kclient_request(struct kclient *kc, int32_t node, int16_t api, int16_t max_version,
		    struct pvalue *body, bool no_response, kclient_cb cb, void *arg);

/* Ask for topic in Metadata requests from now on (KLAB_EFULL when the table is full). */
int kclient_want_topic(struct kclient *kc, const char *topic);
/* Ask the brokers for fresh metadata (coalesced with one in flight). */
void kclient_refresh_metadata(struct kclient *kc);

/* The cached topic, or NULL. */
const struct kc_topic *kclient_topic(const struct kclient *kc, const char *topic);
/* The leader of topic/partition, or -1 when unknown. */
int32_t kclient_leader(const struct kclient *kc, const char *topic, int32_t partition);

/* Kafka's errors that a metadata refresh and a retry may cure. */
bool kclient_retriable(int16_t kafka_error);
/* Kafka's name for an error code: "NOT_LEADER_OR_FOLLOWER". */
const char *kclient_error_name(int16_t kafka_error);

int64_t kclient_now(const struct kclient *kc);
timer_id kclient_set_timer(struct kclient *kc, int64_t after_ms);

/* NULL when the rules of this file hold, else the one broken. */
const char *kclient_check_invariants(const struct kclient *kc);

#endif
