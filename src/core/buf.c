/*
 * buf.c - growable buffers and bounded cursors (see buf.h; the cursor
 * readers a parser calls for every field are inline there).
 *
 * Invariants:
 *   1. b->len <= b->cap, and data[0..len) is what was put.
 *   2. Once b->failed is set it stays set; puts become no-ops.
 *   3. A cursor never reads outside [p, p+len); once c->failed is set every
 *      get returns 0 (or NULL) and consumes nothing.
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/varint.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
}

bool
buf_ok(const struct buf *b)
{
	return !b->failed;
}

bool
buf_reserve(struct buf *b, size_t extra)
{
	size_t want;
	uint8_t *p;

	if (b->failed)
		return false;
	if (extra <= b->cap - b->len)
		return true;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	want = b->cap ? b->cap : 256;
	while (want - b->len < extra)
		want *= 2;
	p = realloc(b->data, want);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = want;
	return true;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void
buf_put_be16(struct buf *b, uint16_t v)
{
	uint8_t t[2];

	be16_write(t, v);
	buf_put(b, t, 2);
}

void
buf_put_be32(struct buf *b, uint32_t v)
{
	uint8_t t[4];

	be32_write(t, v);
	buf_put(b, t, 4);
}

void
buf_put_be64(struct buf *b, uint64_t v)
{
	uint8_t t[8];

	be64_write(t, v);
	buf_put(b, t, 8);
}

void
buf_put_varint(struct buf *b, int32_t v)
{
	uint8_t t[VARLONG_MAX];

	buf_put(b, t, uvarint_encode(t, zigzag32(v)));
}

void
buf_put_varlong(struct buf *b, int64_t v)
{
	uint8_t t[VARLONG_MAX];

	buf_put(b, t, uvarint_encode(t, zigzag64(v)));
}

void
be16_write(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void
be32_write(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

void
be64_write(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint16_t
be16_read(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t
be32_read(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t
be64_read(const uint8_t *p)
{
	return ((uint64_t)be32_read(p) << 32) | be32_read(p + 4);
}

uint16_t
cur_get_be16(struct cursor *c)
{
	const uint8_t *p = cur_get_bytes(c, 2);

	return p ? be16_read(p) : 0;
}

uint32_t
cur_get_be32(struct cursor *c)
{
	const uint8_t *p = cur_get_bytes(c, 4);

	return p ? be32_read(p) : 0;
}

uint64_t
cur_get_be64(struct cursor *c)
{
	const uint8_t *p = cur_get_bytes(c, 8);

	return p ? be64_read(p) : 0;
}
