/*
 * batch.c - the RecordBatch v2 codec (layout in batch.h; chapter 1 §2).
 *
 * Building: the builder writes a placeholder header, appends records, and
 * finish() patches batchLength, lastOffsetDelta, the timestamps, the count
 * and last the CRC, which must cover the finished bytes 21..end.
 *
 * Validating never trusts a length: every length read from the bytes is
 * checked against what is left before it is used, so a fuzzer or a torn
 * file cannot make us read outside the batch.
 *
 * Invariants of a valid batch (what batch_validate() checks):
 *   1. magic == 2 and 12 + batchLength == the bytes we were given.
 *   2. crc == CRC-32C(bytes 21..end).
 *   3. Uncompressed: exactly recordCount records fill the records section;
 *      record i has offsetDelta i; lastOffsetDelta == recordCount - 1.
 */
#include "log/batch.h"

#include <string.h>

#include "core/crc32c.h"
#include "core/err.h"
#include "core/varint.h"

void
batch_builder_begin(struct batch_builder *bb, struct buf *out, int64_t base_offset,
		    int64_t base_timestamp, int16_t attributes)
{
	uint8_t hdr[BATCH_HEADER_SIZE] = { 0 };

	bb->out = out;
	bb->start = out->len;
	bb->attributes = attributes;
	bb->count = 0;
	bb->base_timestamp = base_timestamp;
	bb->max_timestamp = base_timestamp;
	be64_write(hdr, (uint64_t)base_offset);
	be32_write(hdr + 12, (uint32_t)-1); /* partitionLeaderEpoch */
	hdr[16] = BATCH_MAGIC;
	be64_write(hdr + 43, (uint64_t)BATCH_NO_PRODUCER_ID);
	be16_write(hdr + 51, (uint16_t)-1); /* producerEpoch */
	be32_write(hdr + 53, (uint32_t)-1); /* baseSequence */
	buf_put(out, hdr, sizeof(hdr));
}

static size_t
bytes_size(int32_t len)
{
	return varint_size(len) + (len > 0 ? (size_t)len : 0);
}

static void
put_bytes(struct buf *b, const uint8_t *p, int32_t len)
{
	buf_put_varint(b, len);
	if (len > 0)
		buf_put(b, p, (size_t)len);
}

void
batch_builder_add(struct batch_builder *bb, const struct record_in *r)
{
	int64_t ts_delta = r->timestamp - bb->base_timestamp;
	int32_t off_delta = bb->count;
	size_t body = 1 + varlong_size(ts_delta) + varint_size(off_delta) +
		      bytes_size(r->kv.key_len) + bytes_size(r->kv.value_len) +
		      varint_size((int32_t)r->header_count);

	for (size_t i = 0; i < r->header_count; i++)
		body += bytes_size(r->headers[i].key_len) + bytes_size(r->headers[i].value_len);
	buf_put_varint(bb->out, (int32_t)body);
	buf_put_u8(bb->out, 0); /* record attributes: unused */
	buf_put_varlong(bb->out, ts_delta);
	buf_put_varint(bb->out, off_delta);
	put_bytes(bb->out, r->kv.key, r->kv.key_len);
	put_bytes(bb->out, r->kv.value, r->kv.value_len);
	buf_put_varint(bb->out, (int32_t)r->header_count);
	for (size_t i = 0; i < r->header_count; i++) {
		put_bytes(bb->out, r->headers[i].key, r->headers[i].key_len);
		put_bytes(bb->out, r->headers[i].value, r->headers[i].value_len);
	}
	if (r->timestamp > bb->max_timestamp)
		bb->max_timestamp = r->timestamp;
	bb->count++;
}

int
batch_builder_finish(struct batch_builder *bb)
{
	uint8_t *p;
	size_t len;

	if (!buf_ok(bb->out))
		return KLAB_ENOMEM;
	p = bb->out->data + bb->start;
	len = bb->out->len - bb->start;
	be32_write(p + 8, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	be16_write(p + 21, (uint16_t)bb->attributes);
	be32_write(p + 23, (uint32_t)(bb->count - 1));
	be64_write(p + 27, (uint64_t)bb->base_timestamp);
	be64_write(p + 35, (uint64_t)bb->max_timestamp);
	be32_write(p + 57, (uint32_t)bb->count);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
	return KLAB_OK;
}

int
batch_header_parse(const uint8_t *p, size_t avail, struct batch_header *h)
{
	if (avail < BATCH_LOG_OVERHEAD + 5)
		return KLAB_ETRUNCATED;
	h->base_offset = (int64_t)be64_read(p);
	h->length = (int32_t)be32_read(p + 8);
	h->partition_leader_epoch = (int32_t)be32_read(p + 12);
	h->magic = (int8_t)p[16];
	if (h->magic != BATCH_MAGIC || h->length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
		return KLAB_ECORRUPT;
	if (avail < BATCH_HEADER_SIZE)
		return KLAB_ETRUNCATED;
	h->crc = be32_read(p + 17);
	h->attributes = (int16_t)be16_read(p + 21);
	h->last_offset_delta = (int32_t)be32_read(p + 23);
	h->base_timestamp = (int64_t)be64_read(p + 27);
	h->max_timestamp = (int64_t)be64_read(p + 35);
	h->producer_id = (int64_t)be64_read(p + 43);
	h->producer_epoch = (int16_t)be16_read(p + 51);
	h->base_sequence = (int32_t)be32_read(p + 53);
	h->record_count = (int32_t)be32_read(p + 57);
	return KLAB_OK;
}

size_t
batch_size(const struct batch_header *h)
{
	return BATCH_LOG_OVERHEAD + (size_t)(uint32_t)h->length;
}

int64_t
batch_last_offset(const struct batch_header *h)
{
	return h->base_offset + h->last_offset_delta;
}

uint32_t
batch_compute_crc(const uint8_t *p, size_t len)
{
	return crc32c(0, p + BATCH_ATTR_OFFSET, len - BATCH_ATTR_OFFSET);
}

static int
corrupt(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return KLAB_ECORRUPT;
}

/* Invariant 3: walk every record of an uncompressed batch. */
static int
validate_records(const uint8_t *p, size_t len, const struct batch_header *h, const char **why)
{
	struct record_iter it;
	struct record r;
	struct kv hv;
	int32_t n = 0;
	int rc;

	record_iter_init(&it, p, len, h);
	while ((rc = record_iter_next(&it, &r)) == 1) {
		if (r.offset_delta != n++)
			return corrupt(why, "record offset deltas are not 0, 1, 2, ...");
		while ((rc = record_header_next(&r, &hv)) == 1)
			;
		if (rc < 0)
			return corrupt(why, "malformed record header");
	}
	if (rc < 0)
		return corrupt(why, "malformed record");
	if (it.c.len != 0)
		return corrupt(why, "bytes left after the last record");
	if (h->last_offset_delta != h->record_count - 1)
		return corrupt(why, "lastOffsetDelta is not recordCount - 1");
	return KLAB_OK;
}

int
batch_validate(const uint8_t *p, size_t len, struct batch_header *h, const char **why)
{
	int rc = batch_header_parse(p, len, h);

	if (rc == KLAB_ETRUNCATED && why != NULL)
		*why = "shorter than a batch header";
	if (rc == KLAB_ECORRUPT)
		return corrupt(why, "bad magic or batchLength");
	if (rc != KLAB_OK)
		return rc;
	if (batch_size(h) > len) {
		if (why != NULL)
			*why = "shorter than its batchLength says";
		return KLAB_ETRUNCATED;
	}
	if (batch_size(h) < len)
		return corrupt(why, "longer than its batchLength says");
	if (h->crc != batch_compute_crc(p, len))
		return corrupt(why, "CRC mismatch");
	if (h->record_count <= 0 || h->last_offset_delta < 0)
		return corrupt(why, "no records");
	if ((h->attributes & BATCH_ATTR_COMPRESSION) > 4)
		return corrupt(why, "unknown compression codec");
	if ((h->attributes & BATCH_ATTR_COMPRESSION) != 0)
		return KLAB_OK; /* records are one compressed block: see compress.h */
	return validate_records(p, len, h, why);
}

void
batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
	be64_write(p, (uint64_t)base_offset);
}

void
batch_set_leader_epoch(uint8_t *p, int32_t epoch)
{
	be32_write(p + 12, (uint32_t)epoch);
}

void
batch_set_producer(uint8_t *p, size_t len, int64_t producer_id, int16_t epoch,
		   int32_t base_sequence)
{
	be64_write(p + 43, (uint64_t)producer_id);
	be16_write(p + 51, (uint16_t)epoch);
	be32_write(p + 53, (uint32_t)base_sequence);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
}

void
batch_set_log_append_time(uint8_t *p, size_t len, int64_t now_ms)
{
	uint16_t attr = be16_read(p + 21) | BATCH_ATTR_LOG_APPEND_TIME;

	be16_write(p + 21, attr);
	be64_write(p + 35, (uint64_t)now_ms);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
}

void
record_iter_init(struct record_iter *it, const uint8_t *p, size_t len, const struct batch_header *h)
{
	cur_init(&it->c, p + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE);
	it->h = *h;
	it->left = h->record_count;
}

/* A varint length and that many bytes; -1 is null. */
static inline bool
get_bytes(struct cursor *c, const uint8_t **p, int32_t *len)
{
	*len = cur_get_varint(c);
	*p = NULL;
	if (*len < -1 || !cur_ok(c))
		return false;
	if (*len > 0)
		*p = cur_get_bytes(c, (size_t)*len);
	return cur_ok(c);
}

int
record_iter_next(struct record_iter *it, struct record *r)
{
	/*
	 * The record body is parsed in place: what its fields leave is the
	 * headers.  (Parsing a local cursor and copying it into r->headers at
	 * the end stalled every record on a store-to-load forward.)
	 */
	struct cursor *body = &r->headers;
	int32_t len;
	const uint8_t *p;

	if (it->left == 0)
		return 0;
	len = cur_get_varint(&it->c);
	if (len <= 0 || !cur_ok(&it->c) || (p = cur_get_bytes(&it->c, (size_t)len)) == NULL)
		return KLAB_ECORRUPT;
	cur_init(body, p, (size_t)len);
	r->attributes = (int8_t)cur_get_u8(body);
	/* untrusted sums: wrap (as Java's long does) instead of overflowing */
	r->timestamp = (int64_t)((uint64_t)it->h.base_timestamp + (uint64_t)cur_get_varlong(body));
	r->offset_delta = cur_get_varint(body);
	r->offset = (int64_t)((uint64_t)it->h.base_offset + (uint64_t)(int64_t)r->offset_delta);
	if (!get_bytes(body, &r->kv.key, &r->kv.key_len) ||
	    !get_bytes(body, &r->kv.value, &r->kv.value_len))
		return KLAB_ECORRUPT;
	r->header_count = cur_get_varint(body);
	if (!cur_ok(body) || r->header_count < 0)
		return KLAB_ECORRUPT;
	it->left--;
	return 1;
}

int
record_header_next(struct record *r, struct kv *h)
{
	if (r->header_count == 0)
		return r->headers.len == 0 ? 0 : KLAB_ECORRUPT;
	if (!get_bytes(&r->headers, &h->key, &h->key_len) ||
	    !get_bytes(&r->headers, &h->value, &h->value_len) || h->key_len < 0)
		return KLAB_ECORRUPT;
	r->header_count--;
	return 1;
}

const char *
batch_compression_name(int16_t attributes)
{
	static const char *const names[] = { "none", "gzip", "snappy", "lz4", "zstd" };
	int c = attributes & BATCH_ATTR_COMPRESSION;

	return c < 5 ? names[c] : "unknown";
}
