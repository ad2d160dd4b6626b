/*
 * errors.c - Kafka's error codes by name (Errors.java in Apache Kafka's
 * clients), and which of them a client may cure by refreshing its
 * metadata and trying again (Kafka's RetriableException subclasses).
 */
#include "proto/kafka.h"

static const struct {
	int16_t code;
	const char *name;
	bool retriable;
} kafka_errors[] = {
	{ -1, "UNKNOWN_SERVER_ERROR", false },
	{ 0, "NONE", false },
	{ 1, "OFFSET_OUT_OF_RANGE", false },
	{ 2, "CORRUPT_MESSAGE", true },
	{ 3, "UNKNOWN_TOPIC_OR_PARTITION", true },
	{ 5, "LEADER_NOT_AVAILABLE", true },
	{ 6, "NOT_LEADER_OR_FOLLOWER", true },
	{ 7, "REQUEST_TIMED_OUT", true },
	{ 10, "MESSAGE_TOO_LARGE", false },
	{ 13, "NETWORK_EXCEPTION", true },
	{ 15, "COORDINATOR_NOT_AVAILABLE", true },
	{ 16, "NOT_COORDINATOR", true },
	{ 17, "INVALID_TOPIC_EXCEPTION", false },
	{ 19, "NOT_ENOUGH_REPLICAS", true },
	{ 21, "INVALID_REQUIRED_ACKS", false },
	{ 35, "UNSUPPORTED_VERSION", false },
	{ 36, "TOPIC_ALREADY_EXISTS", false },
	{ 37, "INVALID_PARTITIONS", false },
	{ 38, "INVALID_REPLICATION_FACTOR", false },
	{ 39, "INVALID_REPLICA_ASSIGNMENT", false },
	{ 40, "INVALID_CONFIG", false },
	{ 41, "NOT_CONTROLLER", true },
	{ 42, "INVALID_REQUEST", false },
	{ 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false },
	{ 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false },
	{ 46, "DUPLICATE_SEQUENCE_NUMBER", false },
	{ 47, "INVALID_PRODUCER_EPOCH", false },
	{ 56, "KAFKA_STORAGE_ERROR", true },
	{ 59, "UNKNOWN_PRODUCER_ID", false },
	{ 74, "FENCED_LEADER_EPOCH", true },
	{ 87, "INVALID_RECORD", false },
	{ 100, "UNKNOWN_TOPIC_ID", true },
};
#define NKAFKA_ERRORS (sizeof(kafka_errors) / sizeof(kafka_errors[0]))

bool
kafka_error_retriable(int16_t code)
{
	for (size_t i = 0; i < NKAFKA_ERRORS; i++)
		if (kafka_errors[i].code == code)
			return kafka_errors[i].retriable;
	return false;
}

const char *
kafka_error_name(int16_t code)
{
	for (size_t i = 0; i < NKAFKA_ERRORS; i++)
		if (kafka_errors[i].code == code)
			return kafka_errors[i].name;
	return "UNKNOWN_ERROR_CODE";
}
