/*
 * viz_topic.h - stage 2's diagram: topics -> partitions -> segments, with
 * the producer's open batches waiting in the accumulator.
 */
#ifndef KLAB_VIZ_VIZ_TOPIC_H
#define KLAB_VIZ_VIZ_TOPIC_H

#include <stdio.h>

#include "topic/accumulator.h"
#include "topic/topic.h"

/* acc may be NULL.  Topics are drawn in name order. */
void viz_topics_dot(FILE *f, const struct topic_store *s, const struct accumulator *acc);

#endif
