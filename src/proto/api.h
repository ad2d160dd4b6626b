/*
 * api.h - Kafka's API keys, named once (chapter 3 §1).
 *
 * The first int16 of every request header says which API the body speaks.
 * The numbers are Kafka's (ApiKeys.java, and the "apiKey" of each
 * clients/src/main/resources/common/message/<Name>Request.json); so are the
 * names, so `KAPI_LIST_OFFSETS` reads like `ApiKeys.LIST_OFFSETS`.
 * The broker's dispatch, the codec's registry (messages.c), the tracer and
 * every client use these and never the bare numbers.
 *
 * Listed here: the APIs klab speaks (proto_api() knows them), and the ones
 * later chapters add - the group APIs of chapter 6 and InitProducerId.
 * A key being here does not mean klab answers it: proto_api() is the
 * registry of what it does.
 */
#ifndef KLAB_PROTO_API_H
#define KLAB_PROTO_API_H

enum kafka_api {
	KAPI_PRODUCE = 0,
	KAPI_FETCH = 1,
	KAPI_LIST_OFFSETS = 2,
	KAPI_METADATA = 3,
	KAPI_OFFSET_COMMIT = 8,
	KAPI_OFFSET_FETCH = 9,
	KAPI_FIND_COORDINATOR = 10,
	KAPI_JOIN_GROUP = 11,
	KAPI_HEARTBEAT = 12,
	KAPI_LEAVE_GROUP = 13,
	KAPI_SYNC_GROUP = 14,
	KAPI_DESCRIBE_GROUPS = 15,
	KAPI_LIST_GROUPS = 16,
	KAPI_API_VERSIONS = 18,
	KAPI_CREATE_TOPICS = 19,
	KAPI_DELETE_TOPICS = 20,
	KAPI_INIT_PRODUCER_ID = 22,
};

#endif
