/*
 * admin.h - the admin requests behind `klab topics` (chapter 3 §4), like
 * Kafka's Admin client: CreateTopics, DeleteTopics and a Metadata request
 * that creates nothing.
 *
 * Each call builds one request and hands it to kclient_request(): to the
 * controller when the metadata names one, else to any broker (bootstrap).
 * The callback is the kclient's: it gets the decoded response (or
 * KLAB_ETIMEDOUT / KLAB_EIO) and reads the per-topic error codes itself.
 * Strings passed in must live until the callback runs.
 */
#ifndef KLAB_CLIENT_ADMIN_H
#define KLAB_CLIENT_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"

/* One topic config (name=value) of CreateTopics. */
struct kadmin_config {
	const char *name;
	const char *value;
};

/*
 * CreateTopics (v4 or the broker's highest) for one topic; partitions and
 * replication_factor -1 take the broker's defaults (KIP-464).
 */
int kadmin_create_topic(struct kclient *kc, const char *topic, int32_t partitions,
			int16_t replication_factor, const struct kadmin_config *configs,
			int32_t nconfigs, int32_t timeout_ms, kclient_cb cb, void *arg);

/*
 * Kafka's limit on a topic name (Topic.MAX_NAME_LENGTH).  A longer name is
 * invalid everywhere, and from 32,768 bytes on a string field cannot even
 * carry it.
 */
#define KADMIN_TOPIC_NAME_MAX 249

/*
 * May topic be sent?  KLAB_OK, or KLAB_EINVAL with the sentence in e
 * ("topic name is 300 characters; the limit is 249").  The kadmin_* calls
 * refuse such a name with KLAB_EINVAL too; a tool checks first to say why.
 */
int kadmin_check_topic(const char *topic, struct kerr *e);

/* DeleteTopics (v3 or the broker's highest) for one topic. */
int kadmin_delete_topic(struct kclient *kc, const char *topic, int32_t timeout_ms, kclient_cb cb,
			void *arg);

/* Metadata (v8 or the broker's highest) for topic, or all topics (NULL); never creates. */
int kadmin_metadata(struct kclient *kc, const char *topic, kclient_cb cb, void *arg);

#endif
