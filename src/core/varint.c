/*
 * varint.c - zigzag varints (see varint.h for the format).
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

int32_t
unzigzag32(uint32_t v)
{
	return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}

int64_t
unzigzag64(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
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
