/*
 * broker.h - one Kafka broker as a sans-I/O node (chapter 3 §3; node.h).
 *
 * The broker listens on its listener, cuts nothing itself (the runtime
 * hands it whole frames), parses request header v1, decodes the body with
 * the generic codec (proto.h), calls one handler per API (handlers.c) and
 * encodes the response with response header v0.  Everything it stores
 * lives in a topic store (topic.h) opened on start and closed on stop (a
 * clean shutdown writes the logs' clean-shutdown marker).
 *
 * What it knows about its cluster it asks of its metadata source
 * (metadata.h, b->meta); in chapter 3 that is a static cluster (cluster.c:
 * cluster.brokers lists every member, and the list never changes; without
 * it, a cluster of one).  Metadata from any broker names every member;
 * each partition has one replica, on the broker it was placed on, which
 * leads it, with replicas = isr = [leader]; the broker that answers names
 * itself the controller.  A request for a partition another broker holds is answered
 * NOT_LEADER_OR_FOLLOWER.  Replication arrives in chapter 5.
 *
 * Bad input never crashes it: a frame whose header cannot be parsed, an
 * unknown API key, a version outside klab's range (other than ApiVersions,
 * which answers UNSUPPORTED_VERSION in v0 as Kafka does) or a body that
 * does not decode closes that connection only, as Kafka does.
 *
 * A Fetch that finds fewer than min_bytes waits up to max_wait_ms in a
 * purgatory of delayed operations (broker.c): every append re-runs the
 * waiting Fetches and a timer ends the wait.  Fetch does not read the log
 * bytes it returns: the response points at regions of segment files
 * (log_read_region) and the runtime sends them with sendfile, zero-copy
 * (the sim, and klab.fetch.sendfile=false, copy them).
 */
#ifndef KLAB_BROKER_BROKER_H
#define KLAB_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/metadata.h"
#include "broker/producer_ids.h"
#include "proto/kafka.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "net/node.h"
#include "topic/topic.h"

#define BROKER_HOST_MAX 256
#define BROKER_CLUSTER_ID_MAX 64
#define BROKER_MEMBERS_MAX 64
#define BROKER_PEER_INFLIGHT 64
#define BROKER_CLOSED_RECENT 16 /* connections it closed, remembered for its invariants */
/* The client id of broker-to-broker requests: "klab-broker-<id>". */
#define BROKER_PEER_CLIENT_ID "klab-broker-"
/*
 * The topic id a broker passes on with a topic it created: a config entry
 * of the CreateTopics it sends the others (cluster.c), taken only from a
 * peer - a client cannot choose a topic's id, as in Kafka.
 */
#define BROKER_PEER_TOPIC_ID_CONFIG "klab.topic.id"

/* One broker of the static cluster (cluster.brokers=1@host:port,...). */
struct broker_member {
	int32_t id;
	char host[BROKER_HOST_MAX];
	int port;
};

struct broker_config {
	int32_t broker_id;			/* broker.id */
	char listen_host[BROKER_HOST_MAX];	/* listeners=PLAINTEXT://host:port */
	int listen_port;			/* 0: the runtime picks */
	char advertised_host[BROKER_HOST_MAX];	/* advertised.listeners (or listeners) */
	int advertised_port;			/* 0: the port actually bound */
	char log_dir[4096];			/* log.dirs; "" = the runtime's data_dir */
	char cluster_id[BROKER_CLUSTER_ID_MAX]; /* from meta.properties */
	bool auto_create_topics;		/* auto.create.topics.enable */
	const struct config *props;		/* log.*, num.partitions, message.max.bytes */
	bool trace;				/* one rt->trace line per request */
	bool fetch_copy;			/* klab.fetch.sendfile=false */
	/* cluster.brokers, this broker included; 0 members: a cluster of one. */
	struct broker_member members[BROKER_MEMBERS_MAX];
	int nmembers;
	/* Where cluster metadata comes from (metadata.h); NULL: the static cluster. */
	const struct metadata_ops *metadata_ops;
	void *metadata_state;			  /* handed to it as metadata_source.state */
	void (*log)(void *arg, const char *line); /* NULL: stderr */
	void *log_arg;
	void (*on_fail)(void *arg); /* on_start failed (main stops the runtime) */
	void *on_fail_arg;
};

/*
 * A link of the static cluster (cluster.c) to another broker: connected on first
 * use; requests wait in `pending` until it is up.  Responses come back in
 * request order, so `inflight` remembers what each was.
 */
struct broker_link {
	conn_id conn; /* 0: none */
	bool up;
	struct buf pending; /* whole request frames not yet sent */
	struct {
		int16_t api_key, version;
	} inflight[BROKER_PEER_INFLIGHT];
	int ninflight;
	uint64_t lost; /* requests dropped with the connection */
};

struct broker {
	struct broker_config cfg;
	struct node *node;
	struct topic_store *store;
	int64_t listener;
	int port;		      /* the port bound */
	bool failed;		      /* on_start could not open the store or listen */
	struct kerr error;	      /* why */
	struct buf out;		      /* the response being built */
	struct proto_splices splices; /* its Fetch records left in files */
	uint64_t requests;	      /* handled, for tests and traces */
	uint64_t closed_bad;	      /* connections closed for bad input */
	/* The last connections it closed (closed_bad of them in all), by closed_bad % N. */
	conn_id closed_recent[BROKER_CLOSED_RECENT];
	/*
	 * The purgatory: Fetches waiting for min_bytes or max_wait_ms, one
	 * per connection at most (a connection waits while its Fetch does,
	 * and frames that arrive meanwhile queue behind it).
	 */
	struct broker_parked *parked;
	uint64_t fetches_parked; /* how many times a Fetch waited, for tests */
	/*
	 * The logs appended to since the frame or timer being handled began
	 * (touched[0] is append number touched_seq0): a waiting Fetch is run
	 * again only when one of them is a log it waits on (broker.c, wake).
	 */
	struct log **touched;
	size_t ntouched, captouched;
	uint64_t touched_seq0;
	/*
	 * Log maintenance (Kafka's LogManager scheduler): every
	 * log.retention.check.interval.ms, retention and time-based flushes
	 * run on every partition and the checkpoints are written.
	 */
	timer_id maintenance_timer;
	int64_t maintenance_ms;
	uint64_t maintenance_runs; /* for tests */
	/* Everything about the cluster is asked of it (metadata.h). */
	struct metadata_source meta;
	/* InitProducerId's ids (producer_ids.h), read on the first request after a start. */
	struct producer_ids pids;
	bool pids_open;
	/* The static cluster's links to the other brokers, by index into cfg.members. */
	struct broker_link links[BROKER_MEMBERS_MAX];
	int32_t peer_corr;
};

/* The node handlers; node->state must point at a struct broker. */
extern const struct node_ops broker_node_ops;

/* Copy cfg (props must outlive the broker). */
void broker_init(struct broker *b, const struct broker_config *cfg);
/* Close the store if still open (a clean close) and free memory. */
void broker_free(struct broker *b);
/* What a crash leaves: the store closed without flushing (topics_crash). */
void broker_crash(struct broker *b);

/*
 * Check the broker's invariants (broker.c, top comment) and its metadata
 * source's: KLAB_OK, or KLAB_ESTATE with a sentence naming the broken one
 * in *e.  Changes nothing; tests call it after every simulated step.
 */
int broker_check_invariants(struct broker *b, struct kerr *e);

/* ---- inside the broker (broker.c and handlers.c) ------------------------ */

/*
 * One request being handled: what the handlers need, and memory that must
 * live until the response is encoded (error messages, copied names, fetched
 * bytes).
 */
struct broker_req {
	struct broker *b;
	const struct proto_request_header *h;
	int64_t now_ms;
	bool no_response; /* Produce with acks=0 */
	bool may_park;	  /* a Fetch may wait (it has not timed out yet) */
	bool park;	  /* the Fetch chose to wait ... */
	int64_t park_ms;  /* ... this long at most */
	bool appended;	  /* records were appended: waiting Fetches may be ready */
	void **keep;	  /* freed after the response is encoded */
	size_t nkeep, capkeep;
};

/* Memory that lives until the response is encoded (NULL when out of memory). */
void *breq_alloc(struct broker_req *r, size_t n);
/* Free p (from malloc) after the response is encoded; KLAB_ENOMEM (p freed) on failure. */
int breq_keep(struct broker_req *r, void *p);
/* A NUL-terminated copy of p[0..len) (len < 0: NULL). */
char *breq_strndup(struct broker_req *r, const uint8_t *p, int32_t len);
/* A printf into request memory. */
char *breq_printf(struct broker_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A (name, number) pair of a request - a topic, or a topic and a
 * partition - at position pos, for finding repeats in O(n log n):
 * breq_keys_sort orders keys by name bytes, number and pos, so the first
 * key of a run of equal ones (breq_key_same) is the earliest in the request.
 */
struct breq_key {
	const uint8_t *p;
	int32_t len;
	int32_t num;
	int32_t pos;
};
void breq_keys_sort(struct breq_key *k, size_t n);
bool breq_key_same(const struct breq_key *a, const struct breq_key *b);

/* Each handler reads req (decoded at r->h->api_version) and fills resp. */
typedef int (*broker_handler)(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_produce(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_fetch(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_list_offsets(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_metadata(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_find_coordinator(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_api_versions(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_create_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_init_producer_id(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);
int handle_delete_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp);

/*
 * ---- the static cluster (cluster.c) --------------------------------------
 *
 * Its metadata source is cluster_metadata_ops (metadata.h); besides it,
 * the parsing of cluster.brokers and Kafka's placement.
 */

/*
 * Parse "1@host:port,2@host:port" into members (sorted by id).  Errors
 * name the entry: duplicate ids, bad ports, too many brokers.
 */
int cluster_parse(const char *text, struct broker_member *members, int *n, struct kerr *e);

/*
 * Kafka's rack-unaware replica placement (AdminUtils.
 * assignReplicasToBrokersRackUnaware): brokers sorted by id, a start
 * index and a follower shift (random in Kafka; given here, so that tests
 * and the lesson can replay it); partition p's leader is broker
 * (start + p) % n, its followers follow shifted.  out holds partitions *
 * rf ids.  KLAB_EINVAL when rf > n.
 */
int cluster_place(const int32_t *ids, int n, int32_t partitions, int16_t rf, int start, int shift,
		  int32_t *out);

/* Was this request sent by another broker of the cluster (its client id)? */
bool cluster_from_peer(const struct proto_request_header *h);

/* A line for the broker's log. */
void broker_log(struct broker *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A write, flush or checkpoint of the log directory failed (why says what):
 * take it offline (logdir_fail) and log that once.  From then on every
 * partition in it answers KAFKA_STORAGE_ERROR until the broker restarts,
 * and the stop is not clean.
 */
void broker_log_dir_failed(struct broker *b, const char *why);

#endif
