/*
 * topic.h - topics: named sets of partitions, each partition one log
 * (chapter 2).
 *
 * A topic "orders" with 3 partitions is three stage-1 logs in the log
 * directory, exactly as Kafka lays them out:
 *
 *   <log.dirs>/orders-0/  orders-1/  orders-2/
 *
 * What Kafka keeps in its metadata (ZooKeeper or KRaft: chapter 4) - the
 * partition count and the topic's configuration overrides - klab's stage 2
 * keeps in one small properties file per topic:
 *
 *   <log.dirs>/.klab-topics/orders.properties
 *       partitions=3
 *       retention.ms=60000
 *
 * Topic-level keys are Kafka's (retention.ms, segment.bytes, ...); each
 * overrides the broker's log.* default for that topic only.
 *
 * Every topic also has a topic id (KIP-516, Kafka 2.8): a random version 4
 * UUID drawn when the topic is created and never changed, so that a topic
 * deleted and created again under the same name is a different topic to
 * anyone holding the old one's id.  It is kept in the properties file, as
 * Kafka keeps it in the /brokers/topics/<t> znode,
 *
 *       topic.id=UXyU9i5ARn6W00ON2taeWA
 *
 * and, exactly as Kafka writes it, in every partition directory
 * (PartitionMetadataFile.java, PartitionMetadata.encode; no final newline):
 *
 *   <log.dirs>/orders-0/partition.metadata
 *       version: 0
 *       topic_id: UXyU9i5ARn6W00ON2taeWA
 *
 * so that a partition directory says which topic it belongs to.  A
 * partition.metadata naming another id means the directory belongs to
 * another topic of the same name (Kafka's InconsistentTopicIdException):
 * the store refuses that topic at open (struct topic_refused) rather than
 * serve one topic's records as another's.
 *
 * In a cluster (chapter 3) a topic also records which brokers hold each
 * partition, as Kafka's /brokers/topics/<t> znode does:
 *
 *       replicas.0=2          partition 0 lives on broker 2 (its leader)
 *       replicas.1=3
 *
 * A store opened as broker B (topics_open_as) keeps every topic but opens
 * logs only for the partitions B holds: logs[p] is NULL for the others.
 * A store opened without a broker id (stage 2) holds every partition.
 * Chapter 3 has one replica per partition; chapter 5 adds followers.
 */
#ifndef KLAB_TOPIC_TOPIC_H
#define KLAB_TOPIC_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/uuid.h"
#include "log/log.h"
#include "log/logdir.h"

#define TOPIC_NAME_MAX 249
/*
 * The longest name klab can create: its metadata file
 * "<name>.properties.tmp" must fit in a file name of 255 bytes (topic.c).
 */
#define TOPIC_NAME_MAX_KLAB 240
#define TOPIC_PARTITIONS_MAX 10000
#define TOPIC_RF_MAX 16
#define TOPICS_META_DIR ".klab-topics"
#define TOPIC_ID_KEY "topic.id" /* the id's line in the properties file */
#define PARTITION_METADATA_FILE "partition.metadata"
#define PARTITION_METADATA_VERSION 0
/* Kafka's file is 43 bytes; anything much larger is not one. */
#define PARTITION_METADATA_MAX_BYTES 128

extern const struct config_key topic_config_keys[];
extern const size_t topic_config_key_count;

struct topic {
	char name[TOPIC_NAME_MAX + 1];
	uint8_t id[UUID_BYTES]; /* its topic id: never reserved, unique in the store */
	int32_t partitions;
	int16_t replication_factor; /* 1 in chapter 3 */
	/* replicas[p * replication_factor + i]; the first is the leader.
	 * NULL: no assignment recorded (every partition local, stage 2). */
	int32_t *replicas;
	struct config overrides; /* topic-level keys only */
	struct log_config lc;	 /* broker defaults + overrides */
	struct log **logs;	 /* one per partition, owned by the logdir */
};

/* A topic found on disk but not opened, and why (topics_open). */
struct topic_refused {
	char name[TOPIC_NAME_MAX + 1];
	struct kerr why;
};

struct topic_store {
	struct logdir *dir;
	int32_t broker_id; /* -1: every partition is local */
	struct log_config defaults;
	int32_t default_partitions; /* num.partitions */
	uint64_t id_rng;	    /* splitmix64 state: where new topic ids come from */
	struct topic **topics;
	size_t n, cap;
	/* Refused at open: neither served nor creatable until deleted. */
	struct topic_refused *refused;
	size_t nrefused;
	/* partition.metadata files found missing or unreadable and rewritten at open */
	uint64_t ids_repaired;
};

/*
 * Kafka's topic name rules (Topic.java): 1..249 characters of
 * [a-zA-Z0-9._-], not "." or "..".  *collision (may be NULL) is set when
 * the name contains '.' or '_', which Kafka warns about because metrics
 * names replace '.' with '_'.
 */
int topic_name_validate(const char *name, bool *collision, struct kerr *e);
/* The same rules on name[0..n), a NUL byte included (names from the wire). */
int topic_name_validate_bytes(const uint8_t *name, size_t n, bool *collision, struct kerr *e);

/*
 * Open log directory path and every topic recorded in it.  New topic ids
 * are drawn from a generator seeded with id_seed, which the caller
 * chooses so that a simulated world replays: a broker its start time and
 * id, with its placement draws mixed in later (topics_add_entropy); the
 * shell klab.seed and its clock; a test a fixed number.  A topic written by a klab older than topic ids gets one now,
 * recorded in its properties file and partition directories.  A topic
 * whose partition.metadata names another id is refused (s->refused), the
 * others open.
 */
int topics_open(struct topic_store **out, struct fs *fs, const char *path, const struct config *cfg,
		uint64_t id_seed, int64_t now_ms, struct kerr *e);
/* The same, as broker broker_id of a cluster: only its partitions' logs open. */
int topics_open_as(struct topic_store **out, struct fs *fs, const char *path,
		   const struct config *cfg, int32_t broker_id, uint64_t id_seed, int64_t now_ms,
		   struct kerr *e);

/*
 * Create a topic.  partitions <= 0 means num.partitions; overrides may be
 * NULL.  warning (may be NULL) receives Kafka's '.'/'_' collision warning
 * when another topic differs only by those characters.
 */
int topics_create(struct topic_store *s, const char *name, int32_t partitions,
		  const struct config *overrides, int64_t now_ms, char *warning, size_t warning_len,
		  struct kerr *e);
/*
 * Create a topic placed on brokers: replicas[p * rf + i] as in struct
 * topic (copied).  Logs are opened for the partitions this store's broker
 * holds.  id: the topic id another broker drew for it, or NULL to draw a
 * new one; KLAB_EINVAL when it is reserved or another topic's.
 */
int topics_create_placed(struct topic_store *s, const char *name, int32_t partitions, int16_t rf,
			 const int32_t *replicas, const struct config *overrides, const uint8_t *id,
			 int64_t now_ms, struct kerr *e);
/* Delete a topic, or forget a refused one (its properties file goes). */
int topics_delete(struct topic_store *s, const char *name, struct kerr *e);
/* The leader of partition p (its first replica), or -1 when none is recorded. */
int32_t topic_leader(const struct topic *t, int32_t p);
/* Grow to total partitions (Kafka never shrinks a topic). */
int topics_add_partitions(struct topic_store *s, const char *name, int32_t total, int64_t now_ms,
			  struct kerr *e);
struct topic *topics_find(const struct topic_store *s, const char *name);
/*
 * Mix entropy into the generator new ids come from (a broker mixes in the
 * random numbers that placed a topic: no draw of its own).
 */
void topics_add_entropy(struct topic_store *s, uint64_t entropy);
/* The topic whose id is id, or NULL. */
struct topic *topics_find_id(const struct topic_store *s, const uint8_t id[UUID_BYTES]);
/* Topic name's id into id: KLAB_OK, or KLAB_ENOTFOUND. */
int topics_id(const struct topic_store *s, const char *name, uint8_t id[UUID_BYTES]);
/* Why topic name was refused at open, or NULL when it was not. */
const struct kerr *topics_refused(const struct topic_store *s, const char *name);

/*
 * partition.metadata's text for id, as Kafka writes it (no final newline),
 * into out[n]; returns its length.
 */
size_t partition_metadata_format(const uint8_t id[UUID_BYTES], char *out, size_t n);
/*
 * Parse partition.metadata text (len bytes, not NUL-terminated), strictly:
 * "version: V\ntopic_id: ID" with V >= 0 and an id that is not zero,
 * and at most one final newline.  KLAB_ECORRUPT naming path otherwise.
 */
int partition_metadata_parse(const char *text, size_t len, const char *path, uint8_t id[UUID_BYTES],
			     struct kerr *e);

/* Flush, checkpoint and close cleanly. */
int topics_close(struct topic_store *s);
/*
 * Check invariant 1 of topic.c (the in-memory half; invariant 2 is about
 * the files) and every open log's invariants.  KLAB_OK or KLAB_ESTATE
 * with the rule broken.
 */
int topics_check_invariants(const struct topic_store *s, struct kerr *e);

/*
 * Free the store without any I/O (logdir_release): what a crashed process
 * leaves; the disk decides what survived.  NULL is allowed.
 */
void topics_release(struct topic_store *s);

#endif
