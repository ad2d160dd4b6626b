/*
 * log_config.c - the log's settings, by Kafka's names and with Kafka's
 * defaults (KafkaConfig.scala / LogConfig.java, Kafka 3.4).
 *
 * Where Kafka offers one setting in several units (log.roll.ms and
 * log.roll.hours; log.retention.ms, .minutes and .hours), the finest unit
 * that is set wins, as in Kafka.
 */
#include <stdio.h>
#include <string.h>

#include "log/log.h"

#define HOUR_MS (3600LL * 1000)

static const char *const timestamp_types[] = { "CreateTime", "LogAppendTime", NULL };

const struct config_key log_config_keys[] = {
	{ "log.dirs", CONFIG_STRING, NULL, 0, -1, NULL,
	  "directories where logs live (comma-separated; klab uses the first)" },
	{ "log.dir", CONFIG_STRING, "/tmp/kafka-logs", 0, -1, NULL,
	  "log directory used when log.dirs is not set" },
	{ "log.segment.bytes", CONFIG_INT, "1073741824", 14, INT32_MAX, NULL,
	  "roll to a new segment when the active one would exceed this size" },
	{ "log.roll.ms", CONFIG_LONG, NULL, 1, INT64_MAX, NULL,
	  "roll when the active segment's first batch is older than this" },
	{ "log.roll.hours", CONFIG_INT, "168", 1, INT32_MAX, NULL, "log.roll.ms in hours" },
	{ "log.retention.ms", CONFIG_LONG, NULL, -1, INT64_MAX, NULL,
	  "delete segments whose newest record is older than this (-1: never)" },
	{ "log.retention.minutes", CONFIG_INT, NULL, -1, INT32_MAX, NULL,
	  "log.retention.ms in minutes" },
	{ "log.retention.hours", CONFIG_INT, "168", -1, INT32_MAX, NULL,
	  "log.retention.ms in hours" },
	{ "log.retention.bytes", CONFIG_LONG, "-1", -1, INT64_MAX, NULL,
	  "delete old segments while the log is larger than this (-1: no limit)" },
	{ "log.index.interval.bytes", CONFIG_INT, "4096", 0, INT32_MAX, NULL,
	  "bytes of log between two entries of the sparse index" },
	{ "log.index.size.max.bytes", CONFIG_INT, "10485760", 4, INT32_MAX, NULL,
	  "largest index file; a full index rolls the segment" },
	{ "log.flush.interval.messages", CONFIG_LONG, "9223372036854775807", 1, INT64_MAX, NULL,
	  "fsync after this many messages" },
	{ "log.flush.interval.ms", CONFIG_LONG, NULL, 0, INT64_MAX, NULL,
	  "fsync when the last flush is older than this" },
	{ "message.max.bytes", CONFIG_INT, "1048588", 0, INT32_MAX, NULL,
	  "largest record batch accepted" },
	{ "log.message.timestamp.type", CONFIG_STRING, "CreateTime", 0, -1, timestamp_types,
	  "CreateTime (the producer's) or LogAppendTime (the log's)" },
	{ "producer.id.expiration.ms", CONFIG_INT, "86400000", 1, INT32_MAX, NULL,
	  "forget an idempotent producer idle this long (Kafka 3.6)" },
};

const size_t log_config_key_count = sizeof(log_config_keys) / sizeof(log_config_keys[0]);

void
log_config_defaults(struct log_config *lc)
{
	struct config empty;

	config_init(&empty);
	(void)log_config_load(lc, &empty, NULL); /* defaults always parse */
	config_free(&empty);
}

static const struct config_key *
key(const char *name)
{
	return config_key_find(log_config_keys, log_config_key_count, name);
}

static int
get(const struct config *c, const char *name, int64_t *out, struct kerr *e)
{
	return config_long(c, key(name), out, e);
}

/* ms if set, else minutes, else hours (times the unit). */
static int
get_ms(const struct config *c, const char *ms, const char *minutes, const char *hours, int64_t *out,
       struct kerr *e)
{
	int64_t v;
	int rc;

	if (config_has(c, ms))
		return get(c, ms, out, e);
	if (minutes != NULL && config_has(c, minutes)) {
		rc = get(c, minutes, &v, e);
		*out = v < 0 ? -1 : v * 60 * 1000;
		return rc;
	}
	rc = get(c, hours, &v, e);
	*out = v < 0 ? -1 : v * HOUR_MS;
	return rc;
}

int
log_config_load(struct log_config *lc, const struct config *c, struct kerr *e)
{
	const char *ts_type;
	int rc;

	if ((rc = config_validate(c, log_config_keys, log_config_key_count, e)) ||
	    (rc = get(c, "log.segment.bytes", &lc->segment_bytes, e)) ||
	    (rc = get_ms(c, "log.roll.ms", NULL, "log.roll.hours", &lc->roll_ms, e)) ||
	    (rc = get_ms(c, "log.retention.ms", "log.retention.minutes", "log.retention.hours",
			 &lc->retention_ms, e)) ||
	    (rc = get(c, "log.retention.bytes", &lc->retention_bytes, e)) ||
	    (rc = get(c, "log.index.interval.bytes", &lc->index_interval_bytes, e)) ||
	    (rc = get(c, "log.index.size.max.bytes", &lc->index_size_max_bytes, e)) ||
	    (rc = get(c, "log.flush.interval.messages", &lc->flush_interval_messages, e)) ||
	    (rc = get(c, "message.max.bytes", &lc->max_message_bytes, e)) ||
	    (rc = get(c, "producer.id.expiration.ms", &lc->producer_id_expiration_ms, e)) ||
	    (rc = config_string(c, key("log.message.timestamp.type"), &ts_type, e)))
		return rc;
	lc->flush_interval_ms = -1;
	if (config_has(c, "log.flush.interval.ms") &&
	    (rc = get(c, "log.flush.interval.ms", &lc->flush_interval_ms, e)))
		return rc;
	lc->log_append_time = strcmp(ts_type, "LogAppendTime") == 0;
	return KLAB_OK;
}
