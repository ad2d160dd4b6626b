/*
 * uuid.h - Kafka's 128-bit ids (org.apache.kafka.common.Uuid): topic ids
 * (KIP-516, Kafka 2.8), and later cluster and directory ids.
 *
 * An id is 16 bytes, most significant byte first.  Kafka prints it, and
 * reads it back, as URL-safe base64 without padding: 22 characters of
 * [A-Za-z0-9-_] (Uuid.toString / Uuid.fromString):
 *
 *   00000000 00000000 00000000 00000000   "AAAAAAAAAAAAAAAAAAAAAA"  ZERO_UUID
 *   00000000 00000000 00000000 00000001   "AAAAAAAAAAAAAAAAAAAAAQ"  ONE_UUID
 *   517c94f6 2e40467e 96d3438d dad69e58   "UXyU9i5ARn6W00ON2taeWA"
 *
 * The zero id means "none" and the one id is KRaft's metadata topic, so
 * Uuid.randomUuid never returns either, nor an id whose string starts
 * with '-' (it would read as a command-line option).  A random id is a
 * version 4 UUID (RFC 9562 §5.4): 122 random bits, the version nibble 4
 * (byte 6) and the variant bits 10 (byte 8).
 *
 * Interface: uuid_to_string never fails; uuid_parse accepts exactly the
 * 22 characters uuid_to_string writes (no padding, no other alphabet, no
 * stray bits in the last character) and nothing else; uuid_random draws
 * from the caller's generator, so a simulated world stays deterministic.
 */
#ifndef KLAB_CORE_UUID_H
#define KLAB_CORE_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define UUID_BYTES 16
#define UUID_STRING_LEN 22 /* base64url of 16 bytes, without "==" */

/* The 22 characters and a NUL into out. */
void uuid_to_string(const uint8_t id[UUID_BYTES], char out[UUID_STRING_LEN + 1]);

/*
 * s[0..n) as Uuid.fromString reads it, strictly: KLAB_OK, or KLAB_EINVAL
 * with a sentence naming what is wrong (e may be NULL).
 */
int uuid_parse(const char *s, size_t n, uint8_t out[UUID_BYTES], struct kerr *e);

bool uuid_is_zero(const uint8_t id[UUID_BYTES]);
/* ZERO_UUID or ONE_UUID (Uuid.RESERVED): never a topic's id. */
bool uuid_is_reserved(const uint8_t id[UUID_BYTES]);
bool uuid_equal(const uint8_t a[UUID_BYTES], const uint8_t b[UUID_BYTES]);

/*
 * A random version 4 id, as Uuid.randomUuid: drawn again while it is
 * reserved or its string starts with '-'.  next(arg) gives 64 random bits.
 */
void uuid_random(uint64_t (*next)(void *arg), void *arg, uint8_t out[UUID_BYTES]);

#endif
