/*
 * compress.h - Kafka's batch compression: gzip, snappy, lz4 and zstd, in
 * the byte layouts real clients write and read (the essay in compress.c).
 *
 * Two levels:
 *
 *   compress_block() / decompress_block()   one codec stream, as it sits
 *       in a compressed batch's records section (everything after byte 61);
 *   batch_compress() / batch_decompress()   a whole RecordBatch v2: same
 *       header fields, attributes bits 0-2 naming the codec, batchLength
 *       and CRC recomputed over the new bytes.
 *
 * All four append to `out` and leave it exactly as it was (out->len) when
 * they fail.  Every decoder treats its input as hostile: it never reads
 * outside in[0..n), never appends more than max_out bytes, and answers
 * KLAB_ECORRUPT for anything that is not a complete, well-formed stream.
 */
#ifndef KLAB_LOG_COMPRESS_H
#define KLAB_LOG_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The codec ids of attributes bits 0-2 (DefaultRecordBatch.java). */
enum compression {
	COMPRESSION_NONE = 0,
	COMPRESSION_GZIP = 1,
	COMPRESSION_SNAPPY = 2,
	COMPRESSION_LZ4 = 3,
	COMPRESSION_ZSTD = 4,
};

/* Inputs larger than this are refused (KLAB_ETOOLARGE): a batch's length is an int32. */
#define COMPRESS_MAX_INPUT ((size_t)INT32_MAX)

/*
 * A producer's compression.type: "none", "gzip", "snappy", "lz4" or "zstd"
 * (lower case, as Kafka spells them).  KLAB_OK and *out set, or KLAB_EINVAL.
 */
int compression_parse(const char *name, enum compression *out);

/* "none", "gzip", ... ; "unknown" for any other value. */
const char *compression_name(enum compression c);

/*
 * Append the codec stream of in[0..n) to out: a gzip member, a snappy-java
 * (xerial) framed stream, an LZ4 frame or a zstd frame; NONE copies.
 * Returns KLAB_OK, KLAB_EINVAL (not a codec), KLAB_ETOOLARGE (n above
 * COMPRESS_MAX_INPUT) or KLAB_ENOMEM.
 */
int compress_block(enum compression c, const uint8_t *in, size_t n, struct buf *out);

/*
 * Append the bytes the codec stream in[0..n) decodes to, at most max_out
 * of them.  Snappy accepts both the xerial framing Java writes and the raw
 * block librdkafka writes.  Returns KLAB_OK; KLAB_ETOOLARGE when the
 * output would pass max_out; KLAB_ECORRUPT for a malformed, truncated or
 * checksum-failing stream, bytes after its end, or c not a codec id;
 * KLAB_ENOMEM.
 */
int decompress_block(enum compression c, const uint8_t *in, size_t n, size_t max_out,
		     struct buf *out);

/*
 * batch[0..len) must be a valid uncompressed batch (batch_validate).
 * Appends the same batch with its records section compressed with c:
 * attributes get c in bits 0-2, batchLength and CRC are recomputed, every
 * other header field (recordCount, lastOffsetDelta, timestamps, producer
 * fields) is kept.  Returns KLAB_OK; what batch_validate returned for an
 * invalid batch; KLAB_EINVAL when the batch is already compressed or c is
 * not a codec; KLAB_ETOOLARGE; KLAB_ENOMEM.
 */
int batch_compress(const uint8_t *batch, size_t len, enum compression c, struct buf *out);

/*
 * The inverse: batch[0..len) must pass batch_validate (its CRC covers the
 * compressed bytes).  Appends the batch with its records section
 * decompressed (at most max_out bytes of records), compression bits
 * cleared, batchLength and CRC recomputed; an uncompressed batch is copied
 * as it is.  On KLAB_OK the appended batch passes batch_validate, so its
 * records can be walked with record_iter_*.  Returns KLAB_OK, what
 * batch_validate returned, KLAB_ECORRUPT (unknown codec, bad stream, or
 * records that do not match the header), KLAB_ETOOLARGE or KLAB_ENOMEM.
 */
int batch_decompress(const uint8_t *batch, size_t len, size_t max_out, struct buf *out);

#endif
