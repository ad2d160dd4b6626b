/*
 * varint.h - protobuf-style variable-length integers, as Kafka's record
 * format (RecordBatch v2, KIP-98) uses them.
 *
 * Unsigned varints store 7 bits a byte, least significant group first, the
 * high bit of each byte saying "more follows".  Signed values are first
 * zigzag-mapped (0,-1,1,-2,... -> 0,1,2,3,...) so that small negative
 * numbers stay short: -1, Kafka's "null" length, is the single byte 0x01.
 *
 * A varint (32-bit) takes at most 5 bytes, a varlong (64-bit) at most 10.
 */
#ifndef KLAB_CORE_VARINT_H
#define KLAB_CORE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 5
#define VARLONG_MAX 10

uint32_t zigzag32(int32_t v);
uint64_t zigzag64(int64_t v);

/* Write v at p (room for VARLONG_MAX bytes); return bytes written. */
size_t uvarint_encode(uint8_t *p, uint64_t v);

/* Bytes needed to encode a zigzag varint / varlong. */
size_t varint_size(int32_t v);
size_t varlong_size(int64_t v);

/*
 * The decoders are defined here, inline: parsing a record calls them for
 * every field, and a call each costs more than the decoding itself
 * (tests/bench/bench_log.c measures the record walk).
 */
static inline int32_t
unzigzag32(uint32_t v)
{
	return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}

static inline int64_t
unzigzag64(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

/*
 * Decode an unsigned varint of at most max_bytes from p[0..len).
 * Returns bytes consumed, or 0 when the input is truncated or too long.
 */
static inline size_t
uvarint_decode(const uint8_t *p, size_t len, size_t max_bytes, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len && i < max_bytes; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

#endif
