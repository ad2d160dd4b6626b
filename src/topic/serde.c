/*
 * serde.c - serializers and deserializers for keys and values (serde.h;
 * chapter 2).
 *
 * The broker never looks inside a key or a value: the log of chapter 1
 * stores bytes, the wire carries bytes, and a consumer gets the same bytes
 * back.  Turning an application's integers, strings and documents into
 * those bytes is the client's business, and Kafka keeps it out of the
 * producer proper.  A KafkaProducer<K, V> is configured with a
 * key.serializer and a value.serializer, and send() runs
 *
 *   send(record) -> key serializer, value serializer -> partitioner
 *                -> accumulator (a batch per partition) -> sender thread
 *
 * so everything after the first arrow - partitioning, batching,
 * compression, the log - works on bytes and is the same whatever the
 * types are.  A consumer runs the same pipe backwards: fetch -> batch ->
 * key and value deserializers -> poll().  Nothing in a record says which
 * serde made it: producer and consumer agree out of band, and when they
 * disagree the consumer gets garbage or an error ("int32 needs 4 bytes,
 * got 2").
 *
 * The order matters for one thing a learner can see: the partitioner
 * hashes the *serialized* key (Kafka's default: murmur2(keyBytes) modulo
 * the partition count).  The int32 key 42 is the bytes 00 00 00 2a and
 * the string key "42" is 34 32; they hash differently and usually land in
 * different partitions, so switching a topic's key serde silently breaks
 * "all records of one key are in one partition, in order".  For the same
 * reason a JSON key must always serialize to the same bytes: {"a":1,"b":2}
 * and { "b": 2, "a": 1 } are one document, and here they are one key,
 * because SERDE_JSON parses (with jansson) and re-emits compactly with
 * sorted keys.  Two details keep that canonical form honest: an object
 * with a key twice is refused (which copy would win is a guess), and
 * reals are printed with 17 significant digits, so 0.1 comes out as
 * 0.10000000000000001 - the same double back, and a fixed point when
 * serialized again.
 *
 * Integers are big-endian, as Kafka's IntegerSerializer and LongSerializer
 * write them (the most significant byte first: (byte)(data >>> 24), ...)
 * and as every integer in the record batch is (buf.h).  A Java consumer
 * with IntegerDeserializer reads what klab's producer writes.
 *
 * Null is not a value of any kind: Kafka's serializers map a null object
 * to a null byte array, which the record stores as length -1 (a null
 * value is a tombstone to log compaction).  Here the caller passes NULL
 * text and records -1 itself (serde.h).
 *
 * Where Kafka is lax, klab is strict: Java's StringDeserializer turns
 * malformed UTF-8 into U+FFFD without a word, and here it is an error that
 * names the byte, because a learner should see that the bytes were not
 * what they thought.
 *
 * Invariants:
 *   1. serde_serialize() appends all of the value's bytes or none: on
 *      failure out->len is back where it was.  The same for
 *      serde_deserialize() and out_text.
 *   2. Serialized values are at most INT32_MAX bytes (a record's length
 *      is an int32).
 *   3. Serialization is a function of the value, not of its spelling:
 *      "007" and "7" give the same int32, and equal JSON documents give
 *      equal bytes.
 *   4. Deserializing reads only p[0..len), and the text it appends is
 *      followed by a '\0'.
 */
#include "topic/serde.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERDE_KIND_MAX SERDE_JSON
#define JSON_LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)
#define JSON_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

static const struct {
	const char *name;
	enum serde_kind kind;
} serde_names[] = {
	{ "bytes", SERDE_BYTES },   { "string", SERDE_STRING }, { "int32", SERDE_INT32 },
	{ "integer", SERDE_INT32 }, { "int64", SERDE_INT64 },	{ "long", SERDE_INT64 },
	{ "json", SERDE_JSON },
};

int
serde_parse(const char *name, enum serde_kind *out)
{
	assert(name != NULL && out != NULL);
	for (size_t i = 0; i < sizeof(serde_names) / sizeof(serde_names[0]); i++) {
		if (strcmp(name, serde_names[i].name) == 0) {
			*out = serde_names[i].kind;
			return KLAB_OK;
		}
	}
	return KLAB_EINVAL;
}

const char *
serde_name(enum serde_kind k)
{
	switch (k) {
	case SERDE_BYTES: return "bytes";
	case SERDE_STRING: return "string";
	case SERDE_INT32: return "int32";
	case SERDE_INT64: return "int64";
	case SERDE_JSON: return "json";
	}
	return "unknown";
}

/* ---- UTF-8 (RFC 3629; Unicode Table 3-7) -------------------------------- */

/*
 * Why byte i (1..3) of a sequence led by c is wrong, or NULL if it is
 * fine.  Every byte after the lead is a continuation byte 10xxxxxx, and
 * the second one also rules out what the lead alone cannot: overlong
 * forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
 * past U+10FFFF (F4 90..BF).
 */
static const char *
utf8_byte_problem(uint8_t c, size_t i, uint8_t b)
{
	if (b < 0x80 || b > 0xbf)
		return "truncated sequence (a continuation byte was expected)";
	if (i != 1)
		return NULL;
	if ((c == 0xe0 && b < 0xa0) || (c == 0xf0 && b < 0x90))
		return "overlong encoding";
	if (c == 0xed && b > 0x9f)
		return "UTF-16 surrogate (U+D800-U+DFFF)";
	if (c == 0xf4 && b > 0x8f)
		return "code point above U+10FFFF";
	return NULL;
}

/* The length of the lead byte c's sequence, or 0 with *why set. */
static size_t
utf8_lead_length(uint8_t c, const char **why)
{
	if (c < 0x80)
		return 1;
	if (c < 0xc0)
		*why = "unexpected continuation byte";
	else if (c < 0xc2)
		*why = "overlong encoding";
	else if (c < 0xe0)
		return 2;
	else if (c < 0xf0)
		return 3;
	else if (c < 0xf5)
		return 4;
	else
		*why = "byte that never appears in UTF-8 (0xf5-0xff)";
	return 0;
}

/* The length of the valid sequence at p (n > 0 bytes left), or 0 with *why set. */
static size_t
utf8_sequence(const uint8_t *p, size_t n, const char **why)
{
	size_t need = utf8_lead_length(p[0], why);

	for (size_t i = 1; i < need; i++) {
		*why = i < n ? utf8_byte_problem(p[0], i, p[i])
			     : "truncated sequence (input ended)";
		if (*why != NULL)
			return 0;
	}
	return need;
}

/* KLAB_OK, or `code` with the offset of the first bad sequence in *e. */
static int
utf8_check(const uint8_t *p, size_t n, int code, struct kerr *e)
{
	const char *why = NULL;
	size_t i = 0, step;

	while (i < n) {
		step = utf8_sequence(p + i, n - i, &why);
		if (step == 0)
			return kerr_set(e, code, "string: invalid UTF-8 at byte %zu (0x%02x): %s",
					i, p[i], why);
		i += step;
	}
	return KLAB_OK;
}

/* ---- serialize ----------------------------------------------------------- */

static int
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
ser_hex(const char *text, size_t n, struct buf *out, struct kerr *e)
{
	int hi, lo;

	if (n % 2 != 0)
		return kerr_set(e, KLAB_EINVAL, "bytes: '%.80s' has an odd number of hex digits",
				text);
	for (size_t i = 2; i < n; i += 2) {
		hi = hex_digit(text[i]);
		lo = hex_digit(text[i + 1]);
		if (hi < 0 || lo < 0) {
			size_t bad = hi < 0 ? i : i + 1;

			return kerr_set(e, KLAB_EINVAL,
					"bytes: '%.80s' has a non-hex character at offset %zu",
					text, bad);
		}
		buf_put_u8(out, (uint8_t)(hi << 4 | lo));
	}
	return KLAB_OK;
}

static int
ser_bytes(const char *text, struct buf *out, struct kerr *e)
{
	size_t n = strlen(text);

	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		return ser_hex(text, n, out, e);
	buf_put(out, text, n);
	return KLAB_OK;
}

static int
ser_string(const char *text, struct buf *out, struct kerr *e)
{
	size_t n = strlen(text);
	int rc = utf8_check((const uint8_t *)text, n, KLAB_EINVAL, e);

	if (rc != KLAB_OK)
		return rc;
	buf_put(out, text, n);
	return KLAB_OK;
}

/*
 * An optionally signed decimal in [min, max] (min < 0 < max).  Returns
 * 0, 1 if s is not a decimal integer, or 2 if it is one out of range.
 * The magnitude is accumulated unsigned and stops at the limit, so no
 * input overflows.
 */
static int
parse_decimal(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg = (*s == '-');
	bool over = false;
	uint64_t mag = 0, limit, d;

	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return 1;
	limit = neg ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 1;
		d = (uint64_t)(*s - '0');
		if (over || mag > (limit - d) / 10)
			over = true;
		else
			mag = mag * 10 + d;
	}
	if (over)
		return 2;
	*out = neg && mag != 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
	return 0;
}

static int
ser_int(enum serde_kind k, const char *text, struct buf *out, struct kerr *e)
{
	int64_t min = k == SERDE_INT32 ? INT32_MIN : INT64_MIN;
	int64_t max = k == SERDE_INT32 ? INT32_MAX : INT64_MAX;
	int64_t v = 0;
	int rc = parse_decimal(text, min, max, &v);

	if (rc == 1)
		return kerr_set(e, KLAB_EINVAL, "%s: '%.80s' is not a decimal integer",
				serde_name(k), text);
	if (rc == 2)
		return kerr_set(e, KLAB_EINVAL,
				"%s: '%.80s' is out of range (%" PRId64 "..%" PRId64 ")",
				serde_name(k), text, min, max);
	if (k == SERDE_INT32)
		buf_put_be32(out, (uint32_t)(int32_t)v);
	else
		buf_put_be64(out, (uint64_t)v);
	return KLAB_OK;
}

/*
 * Parse n bytes of JSON and append them compactly with sorted keys.
 * Errors carry jansson's line and column and `bad` as their code.
 */
static int
json_canonical(const char *p, size_t n, int bad, struct buf *out, struct kerr *e)
{
	json_error_t jerr;
	json_t *v = json_loadb(p, n, JSON_LOAD_FLAGS, &jerr);
	char *s;

	if (v == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			bad = KLAB_ENOMEM;
		return kerr_set(e, bad, "json: line %d, column %d: %s", jerr.line, jerr.column,
				jerr.text);
	}
	s = json_dumps(v, JSON_DUMP_FLAGS);
	json_decref(v);
	if (s == NULL)
		return kerr_set(e, KLAB_ENOMEM, "json: out of memory writing the document");
	buf_put(out, s, strlen(s));
	free(s);
	return KLAB_OK;
}

static int
ser_value(enum serde_kind k, const char *text, struct buf *out, struct kerr *e)
{
	switch (k) {
	case SERDE_BYTES: return ser_bytes(text, out, e);
	case SERDE_STRING: return ser_string(text, out, e);
	case SERDE_INT32:
	case SERDE_INT64: return ser_int(k, text, out, e);
	case SERDE_JSON: return json_canonical(text, strlen(text), KLAB_EINVAL, out, e);
	}
	return kerr_set(e, KLAB_EINVAL, "serde: unknown kind %d", (int)k);
}

int
serde_serialize(enum serde_kind k, const char *text, struct buf *out, struct kerr *e)
{
	size_t start = out->len;
	int rc;

	if ((unsigned)k > SERDE_KIND_MAX)
		return kerr_set(e, KLAB_EINVAL, "serde: unknown kind %d", (int)k);
	if (text == NULL) /* a null: the caller records length -1 */
		return KLAB_OK;
	rc = ser_value(k, text, out, e);
	if (rc == KLAB_OK && !buf_ok(out))
		rc = kerr_set(e, KLAB_ENOMEM, "%s: out of memory", serde_name(k));
	if (rc == KLAB_OK && out->len - start > INT32_MAX)
		rc = kerr_set(e, KLAB_ETOOLARGE, "%s: %zu bytes is more than a record holds",
			      serde_name(k), out->len - start);
	if (rc != KLAB_OK)
		out->len = start;
	return rc;
}

/* ---- deserialize --------------------------------------------------------- */

static void
put_escape(struct buf *out, uint8_t c)
{
	char t[5];

	snprintf(t, sizeof(t), "\\x%02x", c);
	buf_put(out, t, 4);
}

static int
des_bytes(const uint8_t *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] <= 0x7e && p[i] != '\\')
			buf_put_u8(out, p[i]);
		else
			put_escape(out, p[i]);
	}
	return KLAB_OK;
}

static int
des_string(const uint8_t *p, size_t n, struct buf *out, struct kerr *e)
{
	int rc = utf8_check(p, n, KLAB_ECORRUPT, e);

	if (rc != KLAB_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			put_escape(out, p[i]);
		else
			buf_put_u8(out, p[i]);
	}
	return KLAB_OK;
}

static int
des_int(enum serde_kind k, const uint8_t *p, size_t n, struct buf *out, struct kerr *e)
{
	size_t want = k == SERDE_INT32 ? 4 : 8;
	char t[24];
	int len;

	if (n != want)
		return kerr_set(e, KLAB_ECORRUPT, "%s needs %zu bytes, got %zu", serde_name(k),
				want, n);
	if (k == SERDE_INT32)
		len = snprintf(t, sizeof(t), "%" PRId32, (int32_t)be32_read(p));
	else
		len = snprintf(t, sizeof(t), "%" PRId64, (int64_t)be64_read(p));
	buf_put(out, t, (size_t)len);
	return KLAB_OK;
}

static int
des_value(enum serde_kind k, const uint8_t *p, size_t n, struct buf *out, struct kerr *e)
{
	switch (k) {
	case SERDE_BYTES: return des_bytes(p, n, out);
	case SERDE_STRING: return des_string(p, n, out, e);
	case SERDE_INT32:
	case SERDE_INT64: return des_int(k, p, n, out, e);
	case SERDE_JSON: return json_canonical((const char *)p, n, KLAB_ECORRUPT, out, e);
	}
	return kerr_set(e, KLAB_EINVAL, "serde: unknown kind %d", (int)k);
}

int
serde_deserialize(enum serde_kind k, const uint8_t *p, int32_t len, struct buf *out_text,
		  struct kerr *e)
{
	size_t start = out_text->len;
	int rc;

	assert(p != NULL || len <= 0);
	if ((unsigned)k > SERDE_KIND_MAX)
		return kerr_set(e, KLAB_EINVAL, "serde: unknown kind %d", (int)k);
	if (len < -1)
		return kerr_set(e, KLAB_EINVAL,
				"%s: length %" PRId32 " (only -1, null, is negative)",
				serde_name(k), len);
	if (len == -1) {
		buf_put(out_text, "null", 4);
		rc = KLAB_OK;
	} else {
		rc = des_value(k, len > 0 ? p : (const uint8_t *)"", (size_t)len, out_text, e);
	}
	if (rc == KLAB_OK && !buf_reserve(out_text, 1))
		rc = kerr_set(e, KLAB_ENOMEM, "%s: out of memory", serde_name(k));
	if (rc != KLAB_OK) {
		out_text->len = start;
		return rc;
	}
	out_text->data[out_text->len] = '\0';
	return KLAB_OK;
}
