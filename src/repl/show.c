/*
 * show.c - printing batches and records for people (see show.h).
 */
#include "repl/show.h"

#include <inttypes.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/varint.h"

void
show_bytes(FILE *f, const uint8_t *p, int32_t len)
{
	if (len < 0) {
		fputs("null", f);
		return;
	}
	for (int32_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

void
show_record(FILE *f, const struct record *r, int64_t ts)
{
	struct record copy = *r;
	struct kv h;

	fprintf(f, "offset %" PRId64 "  ts %" PRId64 "  key ", r->offset, ts);
	show_bytes(f, r->kv.key, r->kv.key_len);
	fputs("  value ", f);
	show_bytes(f, r->kv.value, r->kv.value_len);
	while (record_header_next(&copy, &h) == 1) {
		fputs("  ", f);
		show_bytes(f, h.key, h.key_len);
		fputc('=', f);
		show_bytes(f, h.value, h.value_len);
	}
	fputc('\n', f);
}

static void
hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 12; i++)
		fprintf(f, "%02x", p[i]);
	if (n > 12)
		fputs("..", f);
}

/* One line: "  @off  hexbytes  name  meaning". */
static void
field(FILE *f, size_t at, const uint8_t *p, size_t n, const char *name, const char *meaning)
{
	char bytes[40];
	FILE *m = fmemopen(bytes, sizeof(bytes), "w");

	if (m != NULL) {
		hex(m, p + at, n);
		fclose(m);
	} else {
		bytes[0] = '\0';
	}
	fprintf(f, "  @%-4zu %-26s %-22s %s\n", at, bytes, name, meaning);
}

#define FIELD_INT(off, n, name, fmt, val)           \
	do {                                        \
		char m_[64];                        \
		snprintf(m_, sizeof(m_), fmt, val); \
		field(f, off, p, n, name, m_);      \
	} while (0)

static void
show_header_fields(FILE *f, const uint8_t *p, const struct batch_header *h, uint32_t crc)
{
	char m[96];

	FIELD_INT(0, 8, "baseOffset", "%" PRId64, h->base_offset);
	FIELD_INT(8, 4, "batchLength", "%" PRId32 " bytes follow", h->length);
	FIELD_INT(12, 4, "partitionLeaderEpoch", "%" PRId32, h->partition_leader_epoch);
	FIELD_INT(16, 1, "magic", "%d", h->magic);
	snprintf(m, sizeof(m), "%08" PRIx32 " (%s)", h->crc, crc == h->crc ? "valid" : "INVALID");
	field(f, 17, p, 4, "crc", m);
	snprintf(m, sizeof(m), "compression %s, %s%s%s", batch_compression_name(h->attributes),
		 h->attributes & BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
		 h->attributes & BATCH_ATTR_TRANSACTIONAL ? ", transactional" : "",
		 h->attributes & BATCH_ATTR_CONTROL ? ", control" : "");
	field(f, 21, p, 2, "attributes", m);
	FIELD_INT(23, 4, "lastOffsetDelta", "%" PRId32, h->last_offset_delta);
	FIELD_INT(27, 8, "baseTimestamp", "%" PRId64, h->base_timestamp);
	FIELD_INT(35, 8, "maxTimestamp", "%" PRId64, h->max_timestamp);
	FIELD_INT(43, 8, "producerId", "%" PRId64, h->producer_id);
	FIELD_INT(51, 2, "producerEpoch", "%d", h->producer_epoch);
	FIELD_INT(53, 4, "baseSequence", "%" PRId32, h->base_sequence);
	FIELD_INT(57, 4, "recordCount", "%" PRId32, h->record_count);
}

/* A varint field at *at: show it and move past it. */
static int64_t
show_varint(FILE *f, const uint8_t *p, size_t len, size_t *at, const char *name)
{
	uint64_t v = 0;
	size_t n = uvarint_decode(p + *at, len - *at, VARLONG_MAX, &v);
	char m[48];

	if (n == 0) {
		field(f, *at, p, len - *at, name, "(malformed varint)");
		*at = len;
		return 0;
	}
	snprintf(m, sizeof(m), "%" PRId64 " (varint)", unzigzag64(v));
	field(f, *at, p, n, name, m);
	*at += n;
	return unzigzag64(v);
}

static void
show_blob(FILE *f, const uint8_t *p, size_t len, size_t *at, const char *name)
{
	char lname[32];
	int64_t n;

	snprintf(lname, sizeof(lname), "%sLength", name);
	n = show_varint(f, p, len, at, lname);
	if (n <= 0 || (uint64_t)n > len - *at)
		return;
	fprintf(f, "  @%-4zu %-26s %-22s ", *at, "", name);
	show_bytes(f, p + *at, (int32_t)n);
	fputc('\n', f);
	*at += (size_t)n;
}

void
show_batch_fields(FILE *f, const uint8_t *p, size_t len)
{
	struct batch_header h;
	size_t at = BATCH_HEADER_SIZE;

	if (batch_header_parse(p, len, &h) != KLAB_OK || batch_size(&h) != len) {
		fprintf(f, "  (not a whole magic-2 batch)\n");
		return;
	}
	show_header_fields(f, p, &h, batch_compute_crc(p, len));
	if (h.attributes & BATCH_ATTR_COMPRESSION) {
		fprintf(f, "  @%-4d records: one %s-compressed block of %zu bytes\n",
			BATCH_HEADER_SIZE, batch_compression_name(h.attributes), len - at);
		return;
	}
	for (int32_t i = 0; i < h.record_count && at < len; i++) {
		int64_t nh;

		fprintf(f, "  record %" PRId32 ":\n", i);
		show_varint(f, p, len, &at, "length");
		field(f, at, p, 1, "attributes", "unused (0)");
		at++;
		show_varint(f, p, len, &at, "timestampDelta");
		show_varint(f, p, len, &at, "offsetDelta");
		show_blob(f, p, len, &at, "key");
		show_blob(f, p, len, &at, "value");
		nh = show_varint(f, p, len, &at, "headerCount");
		for (int64_t k = 0; k < nh && at < len; k++) {
			show_blob(f, p, len, &at, "headerKey");
			show_blob(f, p, len, &at, "headerValue");
		}
	}
}
