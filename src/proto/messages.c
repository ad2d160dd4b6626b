/*
 * messages.c - the Kafka messages klab speaks, as tables (see proto.h;
 * chapter 3 §1).
 *
 * Each table below transcribes one of Kafka's message schemas,
 * clients/src/main/resources/common/message/<Name>.json in apache/kafka,
 * as of Kafka 3.6 (the versions a 3.6 broker offers for these APIs).  A
 * JSON field
 *
 *   { "name": "Rack", "type": "string", "versions": "1+",
 *     "nullableVersions": "1+", "default": "null" }
 *
 * becomes the row
 *
 *   { F("rack", PT_STRING, 1, ANY), NULLABLE(1), .def_null = true },
 *
 * and a tagged one ("taggedVersions": "12+", "tag": 0) adds TAG(0).  A
 * message's "flexibleVersions": "N+" is its MESSAGE(..., N); from N on the
 * codec uses the compact encodings and tagged-field sections by itself
 * (kafka.c), so a table says nothing else about flexibility.
 *
 * Names are the snake_case ones of Kafka's protocol guide
 * (kafka.apache.org/protocol), which handler code uses to look fields up.
 * Where Kafka renamed a field over the years (FetchRequest's "MaxWait" is
 * now "MaxWaitMs") we take the current name; the bytes are the same.
 * Defaults are the JSON's "default", else 0, "" or an empty array.
 *
 * Versions klab supports (Kafka 3.6's, REFERENCE.md "Kafka API versions"):
 *
 *   API           key  versions  flexible from  notes
 *   Produce        0    0-9      9    3 is the first with RecordBatch v2 (0-2
 *                                     are advertised for librdkafka's codec
 *                                     check)
 *   Fetch          1    4-15     12   4 is the first with RecordBatch v2;
 *                                     13+ name topics by id (KIP-516); 15
 *                                     moves replica_id into the tagged
 *                                     replica_state (KIP-903)
 *   ListOffsets    2    0-8      6    7: MAX_TIMESTAMP (-3, KIP-734); 8:
 *                                     EARLIEST_LOCAL (-4, KIP-405)
 *   Metadata       3    0-12     9    10+ topic ids; 11 drops include_
 *                                     cluster_authorized_operations
 *   FindCoordinator 10  0-4      3    answered COORDINATOR_NOT_AVAILABLE
 *                                     until groups exist (chapter 6); 4 asks
 *                                     for many keys at once (KIP-699)
 *   ApiVersions   18    0-3      3    4+ is answered in v0 (KIP-511); the
 *                                     response header is always v0
 *   CreateTopics  19    0-7      5    response v4 is v3 (KIP-464 changed only
 *                                     the meaning of -1 in the request); 5
 *                                     reports partitions, replication and
 *                                     configs; 7 the topic id
 *   DeleteTopics  20    0-6      4    6 names topics by name or id
 *   InitProducerId 22   0-4      2    idempotent producers (KIP-98); 3 lets
 *                                     a producer name its id and epoch
 *
 * Every range, flexible version, field, tag and default here was checked
 * against the JSON of a Kafka 3.6 tree (FetchRequest/Response "0-15",
 * ListOffsets "0-8", ApiVersionsResponse with ZkMigrationReady, tag 3).
 * Kafka 3.7 goes on (Produce 10, Fetch 16, with KIP-951's tagged leader
 * hints); klab stops where 3.6 does.
 *
 * To add a version: raise max_version in apis[] and add any field that
 * version introduced with its min_version.
 */
#include "proto/kafka.h"

#define ANY PV_ANY
#define F(n, t, lo, hi) .name = (n), .type = (t), .min_version = (lo), .max_version = (hi)
#define NULLABLE(v) .nullable = true, .null_min = (v)
/* A nested struct's fields (flexible_min PV_NONE: its message decides). */
#define FIELDS(f) sizeof(f) / sizeof((f)[0]), (f), PV_NONE
/* Kafka's "taggedVersions" with its "tag" (the versions are the field's). */
#define TAG(t) .tagged = true, .tag = (t)
/* A whole message: its schema and the first version of "flexibleVersions". */
#define MESSAGE(name, f, flex)                                  \
	{                                                       \
		(name), sizeof(f) / sizeof((f)[0]), (f), (flex) \
	}

/* Each API's "flexibleVersions", shared by its request, response and apis[]. */
#define PRODUCE_FLEX 9
#define FETCH_FLEX 12
#define LIST_OFFSETS_FLEX 6
#define METADATA_FLEX 9
#define FIND_COORDINATOR_FLEX 3
#define API_VERSIONS_FLEX 3
#define CREATE_TOPICS_FLEX 5
#define DELETE_TOPICS_FLEX 4
#define INIT_PRODUCER_ID_FLEX 2

/* ---- headers (RequestHeader.json, ResponseHeader.json) ------------------- */

static const struct pfield request_header_fields[] = {
	{ F("request_api_key", PT_INT16, 0, ANY) },
	{ F("request_api_version", PT_INT16, 0, ANY) },
	{ F("correlation_id", PT_INT32, 0, ANY) },
	/* "flexibleVersions": "none": the int16-length string even in header v2. */
	{ F("client_id", PT_STRING, 1, ANY), NULLABLE(1), .classic = true },
};
const struct pschema proto_request_header = MESSAGE("RequestHeader", request_header_fields, 2);

static const struct pfield response_header_fields[] = {
	{ F("correlation_id", PT_INT32, 0, ANY) },
};
const struct pschema proto_response_header = MESSAGE("ResponseHeader", response_header_fields, 1);

/* ---- ApiVersions (18) ---------------------------------------------------- */

static const struct pfield api_versions_request_fields[] = {
	{ F("client_software_name", PT_STRING, 3, ANY) },
	{ F("client_software_version", PT_STRING, 3, ANY) },
};
static const struct pschema api_versions_request =
	MESSAGE("ApiVersionsRequest", api_versions_request_fields, API_VERSIONS_FLEX);

static const struct pfield api_version_fields[] = {
	{ F("api_key", PT_INT16, 0, ANY) },
	{ F("min_version", PT_INT16, 0, ANY) },
	{ F("max_version", PT_INT16, 0, ANY) },
};
static const struct pschema api_version = { "ApiVersion", FIELDS(api_version_fields) };

static const struct pfield supported_feature_fields[] = {
	{ F("name", PT_STRING, 3, ANY) },
	{ F("min_version", PT_INT16, 3, ANY) },
	{ F("max_version", PT_INT16, 3, ANY) },
};
static const struct pschema supported_feature = { "SupportedFeatureKey",
						  FIELDS(supported_feature_fields) };

static const struct pfield finalized_feature_fields[] = {
	{ F("name", PT_STRING, 3, ANY) },
	{ F("max_version_level", PT_INT16, 3, ANY) },
	{ F("min_version_level", PT_INT16, 3, ANY) },
};
static const struct pschema finalized_feature = { "FinalizedFeatureKey",
						  FIELDS(finalized_feature_fields) };

/* klab has no features (KIP-584): it writes none of the tagged fields. */
static const struct pfield api_versions_response_fields[] = {
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("api_keys", PT_ARRAY, 0, ANY), .sub = &api_version },
	{ F("throttle_time_ms", PT_INT32, 1, ANY) },
	{ F("supported_features", PT_ARRAY, 3, ANY), TAG(0), .sub = &supported_feature },
	{ F("finalized_features_epoch", PT_INT64, 3, ANY), TAG(1), .def = -1 },
	{ F("finalized_features", PT_ARRAY, 3, ANY), TAG(2), .sub = &finalized_feature },
	{ F("zk_migration_ready", PT_BOOL, 3, ANY), TAG(3) },
};
static const struct pschema api_versions_response =
	MESSAGE("ApiVersionsResponse", api_versions_response_fields, API_VERSIONS_FLEX);

/* ---- Metadata (3) -------------------------------------------------------- */

static const struct pfield metadata_request_topic_fields[] = {
	{ F("topic_id", PT_UUID, 10, ANY) },
	{ F("name", PT_STRING, 0, ANY), NULLABLE(10) },
};
static const struct pschema metadata_request_topic = { "MetadataRequestTopic",
						       FIELDS(metadata_request_topic_fields) };

static const struct pfield metadata_request_fields[] = {
	/* v0: empty = all topics; v1+: null = all topics, empty = none. */
	{ F("topics", PT_ARRAY, 0, ANY), NULLABLE(1), .sub = &metadata_request_topic },
	{ F("allow_auto_topic_creation", PT_BOOL, 4, ANY), .def = 1 },
	{ F("include_cluster_authorized_operations", PT_BOOL, 8, 10) },
	{ F("include_topic_authorized_operations", PT_BOOL, 8, ANY) },
};
static const struct pschema metadata_request =
	MESSAGE("MetadataRequest", metadata_request_fields, METADATA_FLEX);

static const struct pfield metadata_broker_fields[] = {
	{ F("node_id", PT_INT32, 0, ANY) },
	{ F("host", PT_STRING, 0, ANY) },
	{ F("port", PT_INT32, 0, ANY) },
	{ F("rack", PT_STRING, 1, ANY), NULLABLE(1), .def_null = true },
};
static const struct pschema metadata_broker = { "MetadataResponseBroker",
						FIELDS(metadata_broker_fields) };

static const struct pfield metadata_partition_fields[] = {
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("partition_index", PT_INT32, 0, ANY) },
	{ F("leader_id", PT_INT32, 0, ANY) },
	{ F("leader_epoch", PT_INT32, 7, ANY), .def = -1 },
	{ F("replica_nodes", PT_ARRAY_INT32, 0, ANY) },
	{ F("isr_nodes", PT_ARRAY_INT32, 0, ANY) },
	{ F("offline_replicas", PT_ARRAY_INT32, 5, ANY) },
};
static const struct pschema metadata_partition = { "MetadataResponsePartition",
						   FIELDS(metadata_partition_fields) };

static const struct pfield metadata_topic_fields[] = {
	{ F("error_code", PT_INT16, 0, ANY) },
	/* null for an unknown topic asked for by id */
	{ F("name", PT_STRING, 0, ANY), NULLABLE(12) },
	{ F("topic_id", PT_UUID, 10, ANY) },
	{ F("is_internal", PT_BOOL, 1, ANY) },
	{ F("partitions", PT_ARRAY, 0, ANY), .sub = &metadata_partition },
	{ F("topic_authorized_operations", PT_INT32, 8, ANY), .def = INT32_MIN },
};
static const struct pschema metadata_topic = { "MetadataResponseTopic",
					       FIELDS(metadata_topic_fields) };

static const struct pfield metadata_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 3, ANY) },
	{ F("brokers", PT_ARRAY, 0, ANY), .sub = &metadata_broker },
	{ F("cluster_id", PT_STRING, 2, ANY), NULLABLE(2), .def_null = true },
	{ F("controller_id", PT_INT32, 1, ANY), .def = -1 },
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &metadata_topic },
	{ F("cluster_authorized_operations", PT_INT32, 8, 10), .def = INT32_MIN },
};
static const struct pschema metadata_response =
	MESSAGE("MetadataResponse", metadata_response_fields, METADATA_FLEX);

/* ---- Produce (0) --------------------------------------------------------- */

static const struct pfield produce_partition_fields[] = {
	{ F("index", PT_INT32, 0, ANY) },
	{ F("records", PT_RECORDS, 0, ANY), NULLABLE(0) },
};
static const struct pschema produce_partition = { "PartitionProduceData",
						  FIELDS(produce_partition_fields) };

static const struct pfield produce_topic_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("partition_data", PT_ARRAY, 0, ANY), .sub = &produce_partition },
};
static const struct pschema produce_topic = { "TopicProduceData", FIELDS(produce_topic_fields) };

static const struct pfield produce_request_fields[] = {
	{ F("transactional_id", PT_STRING, 3, ANY), NULLABLE(3), .def_null = true },
	{ F("acks", PT_INT16, 0, ANY) },
	{ F("timeout_ms", PT_INT32, 0, ANY) },
	{ F("topic_data", PT_ARRAY, 0, ANY), .sub = &produce_topic },
};
static const struct pschema produce_request =
	MESSAGE("ProduceRequest", produce_request_fields, PRODUCE_FLEX);

static const struct pfield produce_record_error_fields[] = {
	{ F("batch_index", PT_INT32, 8, ANY) },
	{ F("batch_index_error_message", PT_STRING, 8, ANY), NULLABLE(8), .def_null = true },
};
static const struct pschema produce_record_error = { "BatchIndexAndErrorMessage",
						     FIELDS(produce_record_error_fields) };

static const struct pfield produce_partition_response_fields[] = {
	{ F("index", PT_INT32, 0, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("base_offset", PT_INT64, 0, ANY) },
	{ F("log_append_time_ms", PT_INT64, 2, ANY), .def = -1 },
	{ F("log_start_offset", PT_INT64, 5, ANY), .def = -1 },
	{ F("record_errors", PT_ARRAY, 8, ANY), .sub = &produce_record_error },
	{ F("error_message", PT_STRING, 8, ANY), NULLABLE(8), .def_null = true },
};
static const struct pschema produce_partition_response = {
	"PartitionProduceResponse", FIELDS(produce_partition_response_fields)
};

static const struct pfield produce_topic_response_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("partition_responses", PT_ARRAY, 0, ANY), .sub = &produce_partition_response },
};
static const struct pschema produce_topic_response = { "TopicProduceResponse",
						       FIELDS(produce_topic_response_fields) };

static const struct pfield produce_response_fields[] = {
	{ F("responses", PT_ARRAY, 0, ANY), .sub = &produce_topic_response },
	{ F("throttle_time_ms", PT_INT32, 1, ANY) },
};
static const struct pschema produce_response =
	MESSAGE("ProduceResponse", produce_response_fields, PRODUCE_FLEX);

/* ---- Fetch (1) ----------------------------------------------------------- */

static const struct pfield fetch_partition_fields[] = {
	{ F("partition", PT_INT32, 0, ANY) },
	{ F("current_leader_epoch", PT_INT32, 9, ANY), .def = -1 },
	{ F("fetch_offset", PT_INT64, 0, ANY) },
	{ F("last_fetched_epoch", PT_INT32, 12, ANY), .def = -1 },
	{ F("log_start_offset", PT_INT64, 5, ANY), .def = -1 },
	{ F("partition_max_bytes", PT_INT32, 0, ANY) },
};
static const struct pschema fetch_partition = { "FetchPartition", FIELDS(fetch_partition_fields) };

static const struct pfield fetch_topic_fields[] = {
	{ F("topic", PT_STRING, 0, 12) },
	{ F("topic_id", PT_UUID, 13, ANY) },
	{ F("partitions", PT_ARRAY, 0, ANY), .sub = &fetch_partition },
};
static const struct pschema fetch_topic = { "FetchTopic", FIELDS(fetch_topic_fields) };

static const struct pfield fetch_forgotten_fields[] = {
	{ F("topic", PT_STRING, 7, 12) },
	{ F("topic_id", PT_UUID, 13, ANY) },
	{ F("partitions", PT_ARRAY_INT32, 7, ANY) },
};
static const struct pschema fetch_forgotten = { "ForgottenTopic", FIELDS(fetch_forgotten_fields) };

static const struct pfield fetch_replica_state_fields[] = {
	{ F("replica_id", PT_INT32, 15, ANY), .def = -1 },
	{ F("replica_epoch", PT_INT64, 15, ANY), .def = -1 },
};
static const struct pschema fetch_replica_state = { "ReplicaState",
						    FIELDS(fetch_replica_state_fields) };

static const struct pfield fetch_request_fields[] = {
	{ F("cluster_id", PT_STRING, 12, ANY), NULLABLE(12), .def_null = true, TAG(0) },
	{ F("replica_id", PT_INT32, 0, 14), .def = -1 },
	/* KIP-903: from v15 replica_id travels here, tagged (a consumer omits it) */
	{ F("replica_state", PT_STRUCT, 15, ANY), TAG(1), .sub = &fetch_replica_state },
	{ F("max_wait_ms", PT_INT32, 0, ANY) },
	{ F("min_bytes", PT_INT32, 0, ANY) },
	{ F("max_bytes", PT_INT32, 3, ANY), .def = INT32_MAX },
	{ F("isolation_level", PT_INT8, 4, ANY) },
	{ F("session_id", PT_INT32, 7, ANY) },
	{ F("session_epoch", PT_INT32, 7, ANY), .def = -1 },
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &fetch_topic },
	{ F("forgotten_topics_data", PT_ARRAY, 7, ANY), .sub = &fetch_forgotten },
	{ F("rack_id", PT_STRING, 11, ANY) },
};
static const struct pschema fetch_request =
	MESSAGE("FetchRequest", fetch_request_fields, FETCH_FLEX);

static const struct pfield fetch_aborted_fields[] = {
	{ F("producer_id", PT_INT64, 4, ANY) },
	{ F("first_offset", PT_INT64, 4, ANY) },
};
static const struct pschema fetch_aborted = { "AbortedTransaction", FIELDS(fetch_aborted_fields) };

static const struct pfield fetch_epoch_end_offset_fields[] = {
	{ F("epoch", PT_INT32, 12, ANY), .def = -1 },
	{ F("end_offset", PT_INT64, 12, ANY), .def = -1 },
};
static const struct pschema fetch_epoch_end_offset = { "EpochEndOffset",
						       FIELDS(fetch_epoch_end_offset_fields) };

static const struct pfield fetch_current_leader_fields[] = {
	{ F("leader_id", PT_INT32, 12, ANY), .def = -1 },
	{ F("leader_epoch", PT_INT32, 12, ANY), .def = -1 },
};
static const struct pschema fetch_current_leader = { "LeaderIdAndEpoch",
						     FIELDS(fetch_current_leader_fields) };

static const struct pfield fetch_snapshot_id_fields[] = {
	{ F("end_offset", PT_INT64, 0, ANY), .def = -1 },
	{ F("epoch", PT_INT32, 0, ANY), .def = -1 },
};
static const struct pschema fetch_snapshot_id = { "SnapshotId", FIELDS(fetch_snapshot_id_fields) };

/* The three tagged structs are KRaft's and KIP-320's; klab leaves them default (unwritten). */
static const struct pfield fetch_partition_data_fields[] = {
	{ F("partition_index", PT_INT32, 0, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("high_watermark", PT_INT64, 0, ANY) },
	{ F("last_stable_offset", PT_INT64, 4, ANY), .def = -1 },
	{ F("log_start_offset", PT_INT64, 5, ANY), .def = -1 },
	{ F("diverging_epoch", PT_STRUCT, 12, ANY), TAG(0), .sub = &fetch_epoch_end_offset },
	{ F("current_leader", PT_STRUCT, 12, ANY), TAG(1), .sub = &fetch_current_leader },
	{ F("snapshot_id", PT_STRUCT, 12, ANY), TAG(2), .sub = &fetch_snapshot_id },
	{ F("aborted_transactions", PT_ARRAY, 4, ANY), NULLABLE(4), .sub = &fetch_aborted },
	{ F("preferred_read_replica", PT_INT32, 11, ANY), .def = -1 },
	{ F("records", PT_RECORDS, 0, ANY), NULLABLE(0) },
};
static const struct pschema fetch_partition_data = { "PartitionData",
						     FIELDS(fetch_partition_data_fields) };

static const struct pfield fetch_topic_response_fields[] = {
	{ F("topic", PT_STRING, 0, 12) },
	{ F("topic_id", PT_UUID, 13, ANY) },
	{ F("partitions", PT_ARRAY, 0, ANY), .sub = &fetch_partition_data },
};
static const struct pschema fetch_topic_response = { "FetchableTopicResponse",
						     FIELDS(fetch_topic_response_fields) };

static const struct pfield fetch_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 1, ANY) },
	{ F("error_code", PT_INT16, 7, ANY) },
	{ F("session_id", PT_INT32, 7, ANY) },
	{ F("responses", PT_ARRAY, 0, ANY), .sub = &fetch_topic_response },
};
static const struct pschema fetch_response =
	MESSAGE("FetchResponse", fetch_response_fields, FETCH_FLEX);

/* ---- ListOffsets (2) ----------------------------------------------------- */

static const struct pfield list_offsets_partition_fields[] = {
	{ F("partition_index", PT_INT32, 0, ANY) },
	{ F("current_leader_epoch", PT_INT32, 4, ANY), .def = -1 },
	{ F("timestamp", PT_INT64, 0, ANY) },
	{ F("max_num_offsets", PT_INT32, 0, 0), .def = 1 },
};
static const struct pschema list_offsets_partition = { "ListOffsetsPartition",
						       FIELDS(list_offsets_partition_fields) };

static const struct pfield list_offsets_topic_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("partitions", PT_ARRAY, 0, ANY), .sub = &list_offsets_partition },
};
static const struct pschema list_offsets_topic = { "ListOffsetsTopic",
						   FIELDS(list_offsets_topic_fields) };

static const struct pfield list_offsets_request_fields[] = {
	{ F("replica_id", PT_INT32, 0, ANY) },
	{ F("isolation_level", PT_INT8, 2, ANY) },
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &list_offsets_topic },
};
static const struct pschema list_offsets_request =
	MESSAGE("ListOffsetsRequest", list_offsets_request_fields, LIST_OFFSETS_FLEX);

static const struct pfield list_offsets_partition_response_fields[] = {
	{ F("partition_index", PT_INT32, 0, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("old_style_offsets", PT_ARRAY_INT64, 0, 0) },
	{ F("timestamp", PT_INT64, 1, ANY), .def = -1 },
	{ F("offset", PT_INT64, 1, ANY), .def = -1 },
	{ F("leader_epoch", PT_INT32, 4, ANY), .def = -1 },
};
static const struct pschema list_offsets_partition_response = {
	"ListOffsetsPartitionResponse", FIELDS(list_offsets_partition_response_fields)
};

static const struct pfield list_offsets_topic_response_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("partitions", PT_ARRAY, 0, ANY), .sub = &list_offsets_partition_response },
};
static const struct pschema list_offsets_topic_response = {
	"ListOffsetsTopicResponse", FIELDS(list_offsets_topic_response_fields)
};

static const struct pfield list_offsets_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 2, ANY) },
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &list_offsets_topic_response },
};
static const struct pschema list_offsets_response =
	MESSAGE("ListOffsetsResponse", list_offsets_response_fields, LIST_OFFSETS_FLEX);

/* ---- CreateTopics (19) --------------------------------------------------- */

static const struct pfield create_assignment_fields[] = {
	{ F("partition_index", PT_INT32, 0, ANY) },
	{ F("broker_ids", PT_ARRAY_INT32, 0, ANY) },
};
static const struct pschema create_assignment = { "CreatableReplicaAssignment",
						  FIELDS(create_assignment_fields) };

static const struct pfield create_config_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("value", PT_STRING, 0, ANY), NULLABLE(0) },
};
static const struct pschema create_config = { "CreatableTopicConfig",
					      FIELDS(create_config_fields) };

static const struct pfield create_topic_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("num_partitions", PT_INT32, 0, ANY) },
	{ F("replication_factor", PT_INT16, 0, ANY) },
	{ F("assignments", PT_ARRAY, 0, ANY), .sub = &create_assignment },
	{ F("configs", PT_ARRAY, 0, ANY), .sub = &create_config },
};
static const struct pschema create_topic = { "CreatableTopic", FIELDS(create_topic_fields) };

static const struct pfield create_topics_request_fields[] = {
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &create_topic },
	{ F("timeout_ms", PT_INT32, 0, ANY), .def = 60000 },
	{ F("validate_only", PT_BOOL, 1, ANY) },
};
static const struct pschema create_topics_request =
	MESSAGE("CreateTopicsRequest", create_topics_request_fields, CREATE_TOPICS_FLEX);

static const struct pfield create_result_config_fields[] = {
	{ F("name", PT_STRING, 5, ANY) },	{ F("value", PT_STRING, 5, ANY), NULLABLE(5) },
	{ F("read_only", PT_BOOL, 5, ANY) },	{ F("config_source", PT_INT8, 5, ANY), .def = -1 },
	{ F("is_sensitive", PT_BOOL, 5, ANY) },
};
static const struct pschema create_result_config = { "CreatableTopicConfigs",
						     FIELDS(create_result_config_fields) };

static const struct pfield create_topic_result_fields[] = {
	{ F("name", PT_STRING, 0, ANY) },
	{ F("topic_id", PT_UUID, 7, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	/* "The error message, or null if there was no error." */
	{ F("error_message", PT_STRING, 1, ANY), NULLABLE(0), .def_null = true },
	{ F("topic_config_error_code", PT_INT16, 5, ANY), TAG(0) },
	{ F("num_partitions", PT_INT32, 5, ANY), .def = -1 },
	{ F("replication_factor", PT_INT16, 5, ANY), .def = -1 },
	{ F("configs", PT_ARRAY, 5, ANY), NULLABLE(5), .sub = &create_result_config },
};
static const struct pschema create_topic_result = { "CreatableTopicResult",
						    FIELDS(create_topic_result_fields) };

static const struct pfield create_topics_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 2, ANY) },
	{ F("topics", PT_ARRAY, 0, ANY), .sub = &create_topic_result },
};
static const struct pschema create_topics_response =
	MESSAGE("CreateTopicsResponse", create_topics_response_fields, CREATE_TOPICS_FLEX);

/* ---- FindCoordinator (10) ---------------------------------------------- */

static const struct pfield find_coordinator_request_fields[] = {
	{ F("key", PT_STRING, 0, 3) },
	{ F("key_type", PT_INT8, 1, ANY) },
	{ F("coordinator_keys", PT_ARRAY_STRING, 4, ANY) }, /* KIP-699: a batch of keys */
};
static const struct pschema find_coordinator_request =
	MESSAGE("FindCoordinatorRequest", find_coordinator_request_fields, FIND_COORDINATOR_FLEX);

static const struct pfield find_coordinator_coordinator_fields[] = {
	{ F("key", PT_STRING, 4, ANY) },
	{ F("node_id", PT_INT32, 4, ANY) },
	{ F("host", PT_STRING, 4, ANY) },
	{ F("port", PT_INT32, 4, ANY) },
	{ F("error_code", PT_INT16, 4, ANY) },
	{ F("error_message", PT_STRING, 4, ANY), NULLABLE(4) }, /* no "default": "" */
};
static const struct pschema find_coordinator_coordinator = {
	"Coordinator", FIELDS(find_coordinator_coordinator_fields)
};

static const struct pfield find_coordinator_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 1, ANY) },
	{ F("error_code", PT_INT16, 0, 3) },
	{ F("error_message", PT_STRING, 1, 3), NULLABLE(1), .def_null = true },
	{ F("node_id", PT_INT32, 0, 3) },
	{ F("host", PT_STRING, 0, 3) },
	{ F("port", PT_INT32, 0, 3) },
	{ F("coordinators", PT_ARRAY, 4, ANY), .sub = &find_coordinator_coordinator },
};
static const struct pschema find_coordinator_response =
	MESSAGE("FindCoordinatorResponse", find_coordinator_response_fields, FIND_COORDINATOR_FLEX);

/* ---- DeleteTopics (20) --------------------------------------------------- */

static const struct pfield delete_topic_state_fields[] = {
	{ F("name", PT_STRING, 6, ANY), NULLABLE(6), .def_null = true },
	{ F("topic_id", PT_UUID, 6, ANY) },
};
static const struct pschema delete_topic_state = { "DeleteTopicState",
						   FIELDS(delete_topic_state_fields) };

static const struct pfield delete_topics_request_fields[] = {
	{ F("topics", PT_ARRAY, 6, ANY), .sub = &delete_topic_state }, /* by name or id */
	{ F("topic_names", PT_ARRAY_STRING, 0, 5) },
	{ F("timeout_ms", PT_INT32, 0, ANY) },
};
static const struct pschema delete_topics_request =
	MESSAGE("DeleteTopicsRequest", delete_topics_request_fields, DELETE_TOPICS_FLEX);

static const struct pfield delete_topic_result_fields[] = {
	{ F("name", PT_STRING, 0, ANY), NULLABLE(6) },
	{ F("topic_id", PT_UUID, 6, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("error_message", PT_STRING, 5, ANY), NULLABLE(5), .def_null = true },
};
static const struct pschema delete_topic_result = { "DeletableTopicResult",
						    FIELDS(delete_topic_result_fields) };

static const struct pfield delete_topics_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 1, ANY) },
	{ F("responses", PT_ARRAY, 0, ANY), .sub = &delete_topic_result },
};
static const struct pschema delete_topics_response =
	MESSAGE("DeleteTopicsResponse", delete_topics_response_fields, DELETE_TOPICS_FLEX);

/* ---- InitProducerId (22) ------------------------------------------------- */

/*
 * InitProducerIdRequest.json: versions 0-4, flexible from 2; v3 adds
 * ProducerId and ProducerEpoch (a producer resuming after
 * INVALID_PRODUCER_EPOCH), v4 only allows PRODUCER_FENCED in answers.
 * InitProducerIdResponse.json: v1 only changed quota throttling.
 */
static const struct pfield init_producer_id_request_fields[] = {
	{ F("transactional_id", PT_STRING, 0, ANY), NULLABLE(0) },
	{ F("transaction_timeout_ms", PT_INT32, 0, ANY) },
	{ F("producer_id", PT_INT64, 3, ANY), .def = -1 },
	{ F("producer_epoch", PT_INT16, 3, ANY), .def = -1 },
};
static const struct pschema init_producer_id_request =
	MESSAGE("InitProducerIdRequest", init_producer_id_request_fields, INIT_PRODUCER_ID_FLEX);

static const struct pfield init_producer_id_response_fields[] = {
	{ F("throttle_time_ms", PT_INT32, 0, ANY) },
	{ F("error_code", PT_INT16, 0, ANY) },
	{ F("producer_id", PT_INT64, 0, ANY), .def = -1 },
	{ F("producer_epoch", PT_INT16, 0, ANY) },
};
static const struct pschema init_producer_id_response =
	MESSAGE("InitProducerIdResponse", init_producer_id_response_fields, INIT_PRODUCER_ID_FLEX);

/* ---- the registry -------------------------------------------------------- */

/* In key order. */
static const struct api_desc apis[] = {
	/* Produce from v0: librdkafka enables gzip, snappy and lz4 only when the
	 * broker's Produce range includes v0 (rdkafka_msgset_writer.c); it then
	 * sends v7 with magic 2, and a v0-v2 request (magic 0/1) is answered
	 * UNSUPPORTED_FOR_MESSAGE_FORMAT. */
	{ KAPI_PRODUCE, "Produce", 0, 9, PRODUCE_FLEX, &produce_request, &produce_response },
	{ KAPI_FETCH, "Fetch", 4, 15, FETCH_FLEX, &fetch_request, &fetch_response },
	{ KAPI_LIST_OFFSETS, "ListOffsets", 0, 8, LIST_OFFSETS_FLEX, &list_offsets_request,
	  &list_offsets_response },
	{ KAPI_METADATA, "Metadata", 0, 12, METADATA_FLEX, &metadata_request, &metadata_response },
	/* FindCoordinator v0 in the list is what makes librdkafka enable lz4
	 * (its feature map ties LZ4 to FindCoordinator, rdkafka_feature.c). */
	{ KAPI_FIND_COORDINATOR, "FindCoordinator", 0, 4, FIND_COORDINATOR_FLEX,
	  &find_coordinator_request, &find_coordinator_response },
	{ KAPI_API_VERSIONS, "ApiVersions", 0, 3, API_VERSIONS_FLEX, &api_versions_request,
	  &api_versions_response },
	{ KAPI_CREATE_TOPICS, "CreateTopics", 0, 7, CREATE_TOPICS_FLEX, &create_topics_request,
	  &create_topics_response },
	{ KAPI_DELETE_TOPICS, "DeleteTopics", 0, 6, DELETE_TOPICS_FLEX, &delete_topics_request,
	  &delete_topics_response },
	/* InitProducerId: a new producer id for an idempotent producer (KIP-98);
	 * transactional ids are not coordinated here (NOT_COORDINATOR). */
	{ KAPI_INIT_PRODUCER_ID, "InitProducerId", 0, 4, INIT_PRODUCER_ID_FLEX,
	  &init_producer_id_request, &init_producer_id_response },
};
#define NAPIS (sizeof(apis) / sizeof(apis[0]))

const struct api_desc *
proto_api(int16_t key)
{
	for (size_t i = 0; i < NAPIS; i++)
		if (apis[i].key == key)
			return &apis[i];
	return NULL;
}

size_t
proto_api_count(void)
{
	return NAPIS;
}

const struct api_desc *
proto_api_at(size_t i)
{
	return i < NAPIS ? &apis[i] : NULL;
}
