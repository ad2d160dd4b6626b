/*
 * murmur2.c - MurmurHash2, 32 bits, exactly as Kafka's Java client has it.
 *
 * Why a producer needs a hash at all: a topic is split into partitions, and
 * Kafka only orders records within one partition.  If every record with key
 * "user-42" goes to the same partition, a consumer sees that user's events
 * in the order they were produced.  So the producer maps key -> partition
 * with a hash that must be *stable*: the same on every machine, in every
 * process, in every client library, forever.  A hash that differed between
 * processes (the hashCode() of a Java byte[] is its identity, new in every
 * run; a randomly seeded hash table's hash likewise) would scatter a key
 * across partitions.  Kafka therefore copied Austin Appleby's MurmurHash2
 * (2008) into org.apache.kafka.common.utils.Utils with a fixed seed, and
 * has never changed it: a new hash would move every key.  The other
 * clients reimplement it to agree.
 *
 * The algorithm (Utils.murmur2; all arithmetic on 32-bit words, wrapping):
 *
 *   m = 0x5bd1e995, r = 24, h = 0x9747b28c ^ length
 *   for each whole 4-byte block, read little-endian as k:
 *       k *= m;  k ^= k >>> r;  k *= m;       mix the block
 *       h *= m;  h ^= k;                       fold it into h
 *   the 1-3 tail bytes (a switch that falls through):
 *       case 3: h ^= tail[2] << 16;
 *       case 2: h ^= tail[1] << 8;
 *       case 1: h ^= tail[0];  h *= m;
 *   h ^= h >>> 13;  h *= m;  h ^= h >>> 15;    final avalanche
 *
 * Java has no unsigned int, which shapes the transcription:
 *
 *   1. `>>>` is a logical shift; on a C int32_t `>>` would copy the sign
 *      bit in.  We keep everything in uint32_t, where `>>` is logical and
 *      `*` wraps modulo 2^32 as Java's int multiply does (signed overflow
 *      would be undefined behaviour in C).
 *   2. Java bytes are signed; Kafka writes `data[i] & 0xff` to undo the
 *      sign extension.  Our bytes are uint8_t from the start.  Forgetting
 *      the mask is the classic bug of ports: keys with bytes >= 0x80 (any
 *      non-ASCII UTF-8) then hash differently (tests check such keys).
 *   3. Blocks are read byte by byte, little-endian, whatever the CPU:
 *      Appleby's original loads a native word, so it agrees with Kafka
 *      only on little-endian machines and needs aligned keys on some.
 *   4. The result is returned as Java's signed int, so it prints as Kafka
 *      prints it.  The uint32 -> int32 conversion is done with arithmetic
 *      whose result C defines for every input (to_int32 below).
 *   5. length is a Java int; Java arrays are shorter than 2^31, and for
 *      longer inputs we use len mod 2^32 (nobody can compare with Java).
 *
 * From hash to partition (DefaultPartitioner, and BuiltInPartitioner since
 * Kafka 3.3): `Utils.toPositive(murmur2(keyBytes)) % numPartitions`, where
 * toPositive(n) = n & 0x7fffffff.  Not Math.abs: abs(Integer.MIN_VALUE) is
 * still negative and would give a negative partition, while clearing the
 * sign bit maps MIN_VALUE to 0.  Nor is toPositive abs for the other
 * negatives: toPositive(-790332482) is 1357151166, not 790332482, and a
 * port that used abs() would send many keys elsewhere.  Worked
 * example, with Kafka's own test vector (UtilsTest.testMurmur2):
 *
 *   murmur2("foobar") = -790332482            (bits 0xD0E47BBE)
 *   toPositive        = 0x50E47BBE = 1357151166
 *   with 4 partitions:  1357151166 % 4 = 2    -> partition 2
 *
 * Chapter 2 (topics and partitions) uses this to show where keys land and
 * what adding partitions does to them.
 */
#include "core/murmur2.h"

#include <stdint.h>
#include "core/err.h"

/*
 * Lab 2, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

int32_t
murmur2(const void *key, size_t len)
{
	return 0;
}

int32_t
murmur2_to_positive(int32_t n)
{
	return 0;
}
