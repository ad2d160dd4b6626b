/*
 * varint.c - zigzag varints (see varint.h for the format; the decoders
 * are inline there).
 */
#include "core/varint.h"

uint32_t
zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

uint64_t
zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

size_t
uvarint_encode(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t
varint_size(int32_t v)
{
	uint8_t tmp[VARLONG_MAX];

	return uvarint_encode(tmp, zigzag32(v));
}

size_t
varlong_size(int64_t v)
{
	uint8_t tmp[VARLONG_MAX];

	return uvarint_encode(tmp, zigzag64(v));
}
