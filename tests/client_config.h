/*
 * client_config.h - the producer and consumer settings the simulated
 * client tests share (tests/ch3/test_client.c, test_cluster.c): short
 * timeouts for a simulation, a small linger, reads from the earliest
 * offset.  Include after client/producer.h and client/consumer.h.
 */
#ifndef KLAB_TESTS_CLIENT_CONFIG_H
#define KLAB_TESTS_CLIENT_CONFIG_H

#include <stdio.h>

#include "client/consumer.h"
#include "client/producer.h"

static inline void
tc_producer_config(struct kproducer_config *pc, const char *bootstrap, uint64_t seed)
{
	kproducer_config_defaults(pc);
	snprintf(pc->client.bootstrap, sizeof(pc->client.bootstrap), "%s", bootstrap);
	pc->client.request_timeout_ms = 1000;
	pc->acc.linger_ms = 5;
	pc->acc.max_block_ms = 3000;
	pc->delivery_timeout_ms = 20000;
	pc->seed = seed;
}

static inline void
tc_consumer_config(struct kconsumer_config *cc, const char *bootstrap)
{
	kconsumer_config_defaults(cc);
	snprintf(cc->client.bootstrap, sizeof(cc->client.bootstrap), "%s", bootstrap);
	cc->client.request_timeout_ms = 1000;
	cc->client.allow_auto_create = false;
	cc->reset = KCONSUMER_RESET_EARLIEST;
	cc->fetch_max_wait_ms = 100;
}

#endif
