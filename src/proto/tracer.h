/*
 * tracer.h - Kafka frames described in words, for the simulator's trace
 * (chapter 3 §1: "watch the protocol").
 *
 * The simulator hands every frame it carries to a describe function
 * (sim_set_describe).  This one decodes Kafka requests with the request
 * header and the API's table, remembers (connection, correlation id) ->
 * (API, version) for each, and decodes the response that comes back on
 * the same connection with the same correlation id:
 *
 *   Metadata v8 request corr=3 topics=[orders] allow_auto_topic_creation=1
 *   Metadata v8 response corr=3 throttle_time_ms=0 brokers=[..] ...
 *
 * A frame that is neither prints its size and first bytes.
 */
#ifndef KLAB_PROTO_TRACER_H
#define KLAB_PROTO_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACER_PENDING 256

struct proto_tracer {
	struct {
		uint64_t link;
		int32_t corr;
		int16_t api, version;
		bool used;
	} pending[TRACER_PENDING];
	size_t next; /* the slot the next request takes (the oldest goes) */
};

void proto_tracer_init(struct proto_tracer *t);

/* A sim_describe_fn: arg is a struct proto_tracer. */
void proto_tracer_describe(void *arg, uint64_t link, const uint8_t *frame, size_t len, char *out,
			   size_t cap);

#endif
