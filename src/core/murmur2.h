/*
 * murmur2.h - the 32-bit MurmurHash2 of Kafka's Java client
 * (org.apache.kafka.common.utils.Utils.murmur2), bit for bit.
 *
 * Kafka's producers map a record's key to a partition with
 *
 *   partition = murmur2_to_positive(murmur2(key, len)) % num_partitions
 *
 * (DefaultPartitioner.partition, BuiltInPartitioner.partitionForKey), and
 * every client that wants "the same key lands on the same partition as with
 * the Java producer" (librdkafka's murmur2 and murmur2_random partitioners,
 * kafkajs's DefaultPartitioner) reproduces exactly this function.
 *
 * Interface: murmur2() returns the hash as Java's `int` would hold it, so it
 * can be printed and compared with Kafka's numbers (murmur2("foobar", 6) ==
 * -790332482).  It never fails and reads exactly len bytes of key (key may
 * be NULL when len is 0).  murmur2_to_positive() is Kafka's
 * Utils.toPositive: clear the sign bit.
 */
#ifndef KLAB_CORE_MURMUR2_H
#define KLAB_CORE_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

#define MURMUR2_SEED 0x9747b28cu /* Kafka's fixed seed */

int32_t murmur2(const void *key, size_t len);

/* n & 0x7fffffff: never negative, unlike abs(INT32_MIN). */
int32_t murmur2_to_positive(int32_t n);

#endif
