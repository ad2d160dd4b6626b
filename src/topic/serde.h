/*
 * serde.h - key and value serializers for the producer and consumer
 * (chapter 2), after Kafka's org.apache.kafka.common.serialization.
 *
 * A record's key and value are bytes to the broker.  A serde turns the
 * REPL's text form of a key or value into those bytes (serialize) and the
 * bytes back into printable text (deserialize):
 *
 *   kind          Kafka class             bytes                text form
 *   SERDE_BYTES   ByteArraySerializer     as given             text, or hex after "0x"
 *   SERDE_STRING  StringSerializer        UTF-8                the string
 *   SERDE_INT32   IntegerSerializer       4 bytes, big-endian  decimal
 *   SERDE_INT64   LongSerializer          8 bytes, big-endian  decimal
 *   SERDE_JSON    (a JSON serializer)     compact, sorted keys JSON
 *
 * Interface:
 *   serde_serialize() appends the bytes of `text` to `out`;
 *   serde_deserialize() appends the text of `len` bytes at `p` to
 *   `out_text` and leaves a '\0' after it (not counted in len), so
 *   (char *)out_text->data is a C string.  Both return KLAB_OK, or a
 *   negative code with one sentence in *e that starts with the serde's
 *   name ("int32: '3000000000' is out of range ...").  On failure the
 *   buffer's len is what it was on entry: no half-written value is left.
 *
 *   Null (a Kafka null key, or a null value - a tombstone) is not a text:
 *   serde_serialize() with text == NULL appends nothing and returns
 *   KLAB_OK, and the caller records length -1 (struct kv's convention);
 *   serde_deserialize() with len == -1 appends the text "null".
 *
 *   The bytes of SERDE_BYTES: a text starting with "0x" (or "0X") is hex,
 *   two digits per byte ("0x00ff" is 2 bytes, "0x" is 0 bytes); any other
 *   text is its own bytes.  To send the literal text "0x10", use
 *   SERDE_STRING.  Deserialized, printable ASCII (0x20-0x7e) is shown as
 *   is and every other byte, and the backslash, as \xNN.
 *
 *   Deserialized strings show the control characters U+0000-U+001F and
 *   U+007F as \xNN, so a value cannot break the REPL's one-line output;
 *   everything else (the backslash too) is shown as is, so any string
 *   without control characters comes back exactly as it was typed.
 */
#ifndef KLAB_TOPIC_SERDE_H
#define KLAB_TOPIC_SERDE_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

enum serde_kind {
	SERDE_BYTES,
	SERDE_STRING,
	SERDE_INT32,
	SERDE_INT64,
	SERDE_JSON,
};

/*
 * The kind named `name`: bytes, string, int32 or integer, int64 or long,
 * json.  KLAB_OK, or KLAB_EINVAL (and *out untouched) for any other name.
 */
int serde_parse(const char *name, enum serde_kind *out);

/* The canonical name of k ("int32", never "integer"); "unknown" if k is not a kind. */
const char *serde_name(enum serde_kind k);

/*
 * Append the bytes of `text` (NULL: a null, see above) to `out`.
 * KLAB_EINVAL: text is not a value of the kind (bad hex, invalid UTF-8
 * with its byte offset, not a decimal integer or out of range, JSON that
 * does not parse, with its line and column); KLAB_ETOOLARGE: more than
 * INT32_MAX bytes; KLAB_ENOMEM.
 */
int serde_serialize(enum serde_kind k, const char *text, struct buf *out, struct kerr *e);

/*
 * Append the text of the `len` bytes at `p` (len -1: a null) to
 * `out_text`.  KLAB_ECORRUPT: the bytes are not a value of the kind
 * (an int32 that is not 4 bytes, invalid UTF-8, bad JSON); KLAB_EINVAL:
 * len < -1 or k is not a kind; KLAB_ENOMEM.
 */
int serde_deserialize(enum serde_kind k, const uint8_t *p, int32_t len, struct buf *out_text,
		      struct kerr *e);

#endif
