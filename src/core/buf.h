/*
 * buf.h - growable byte buffers for writing, bounded cursors for reading.
 *
 * Everything klab puts on disk or on the wire is built in a `struct buf`
 * and parsed through a `struct cursor`.  Integers are big-endian, as in
 * Kafka's and ZooKeeper's formats.  Varints are the zigzag varints of
 * protobuf that Kafka's record format uses (see varint.h).
 *
 * Interface:
 *   buf_put_*() append to a buffer; the buffer grows as needed.  If growing
 *   fails, the buffer remembers it (b->failed) and further puts do nothing,
 *   so a builder can check once at the end with buf_ok().
 *
 *   cur_get_*() read from a cursor; reading past the end never touches
 *   memory outside the cursor: it sets c->failed and returns 0.  A parser
 *   checks cur_ok() once at the end.  Every length read from untrusted
 *   bytes is bounded by what is left in the cursor before it is used.
 */
#ifndef KLAB_CORE_BUF_H
#define KLAB_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/varint.h"

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
};

struct cursor {
	const uint8_t *p;
	size_t len; /* bytes left */
	bool failed;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
bool buf_reserve(struct buf *b, size_t extra);
bool buf_ok(const struct buf *b);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_be16(struct buf *b, uint16_t v);
void buf_put_be32(struct buf *b, uint32_t v);
void buf_put_be64(struct buf *b, uint64_t v);
void buf_put_varint(struct buf *b, int32_t v);	/* zigzag */
void buf_put_varlong(struct buf *b, int64_t v); /* zigzag */

/* Fixed-position helpers for patching or reading raw memory. */
void be16_write(uint8_t *p, uint16_t v);
void be32_write(uint8_t *p, uint32_t v);
void be64_write(uint8_t *p, uint64_t v);
uint16_t be16_read(const uint8_t *p);
uint32_t be32_read(const uint8_t *p);
uint64_t be64_read(const uint8_t *p);

uint16_t cur_get_be16(struct cursor *c);
uint32_t cur_get_be32(struct cursor *c);
uint64_t cur_get_be64(struct cursor *c);

/*
 * cur_init, cur_ok, cur_get_bytes, cur_get_u8, cur_get_varint and
 * cur_get_varlong are defined here, inline: walking a batch's records calls
 * them for every field, and as calls into buf.c they cost more than the
 * parsing (tests/bench/bench_log.c measures the record walk).
 */
static inline void
cur_init(struct cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->failed = false;
}

static inline bool
cur_ok(const struct cursor *c)
{
	return !c->failed;
}

/* Returns a pointer to the next n bytes and skips them, or NULL. */
static inline const uint8_t *
cur_get_bytes(struct cursor *c, size_t n)
{
	const uint8_t *p;

	if (c->failed || n > c->len) {
		c->failed = true;
		return NULL;
	}
	p = c->p;
	c->p += n;
	c->len -= n;
	return p;
}

static inline uint8_t
cur_get_u8(struct cursor *c)
{
	const uint8_t *p = cur_get_bytes(c, 1);

	return p ? p[0] : 0;
}

/* An unsigned varint of at most max_bytes (for the two below). */
static inline uint64_t
cur_get_uvarint(struct cursor *c, size_t max_bytes)
{
	uint64_t v = 0;
	size_t n;

	if (c->failed)
		return 0;
	n = uvarint_decode(c->p, c->len, max_bytes, &v);
	if (n == 0) {
		c->failed = true;
		return 0;
	}
	c->p += n;
	c->len -= n;
	return v;
}

static inline int32_t
cur_get_varint(struct cursor *c)
{
	struct cursor before = *c;
	uint64_t v = cur_get_uvarint(c, VARINT_MAX);

	if (v > UINT32_MAX) { /* more than 32 bits: fail without consuming */
		*c = before;
		c->failed = true;
		return 0;
	}
	return unzigzag32((uint32_t)v);
}

static inline int64_t
cur_get_varlong(struct cursor *c)
{
	return unzigzag64(cur_get_uvarint(c, VARLONG_MAX));
}

#endif
