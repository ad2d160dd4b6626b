/*
 * compress.c - whole-batch compression with the four codecs Kafka speaks
 * (contract in compress.h; the batch layout in batch.h; chapter 2).
 *
 * Why whole batches.  A producer compresses a batch's records section as
 * one block, never a record at a time.  Records in one batch share field
 * names, keys and structure, so a 16 KiB batch of JSON shrinks five to ten
 * times where one 200-byte record would hardly shrink at all, and the
 * codec's setup is paid once per batch.  Then the broker stores the batch
 * as it was sent: a v2 header keeps baseOffset outside the compressed
 * block and outside the CRC, so the broker can assign offsets without
 * recompressing; it may decompress to check the records, but it writes
 * the producer's bytes, and they reach consumers unchanged through
 * sendfile.  Kafka calls this end-to-end compression (docs/design.html
 * "End-to-end Batch Compression").  Only the consumer decompresses.
 *
 *   0        61                                         12 + batchLength
 *   | header | one codec stream of the records section |
 *
 * The header stays uncompressed: recordCount still counts records,
 * lastOffsetDelta and the timestamps are unchanged, attributes bits 0-2
 * name the codec (1 gzip, 2 snappy, 3 lz4, 4 zstd), and batchLength and
 * the CRC-32C describe the compressed bytes (DefaultRecordBatch.java).
 *
 * The streams, as apache/kafka's clients/.../common/compress/ writes them
 * and librdkafka 2.0.2 (src/rdkafka_*.c) and kafkajs 2.2.4 read them:
 *
 *   gzip    one gzip member (RFC 1952: 1f 8b 08, deflate data, CRC-32 and
 *           length of the content); Java's GZIPOutputStream.  zlib writes
 *           it with windowBits 15 + 16.  We read concatenated members, as
 *           java.util.zip.GZIPInputStream does.
 *
 *   snappy  Java (SnappyFactory.java) uses xerial snappy-java's
 *           SnappyOutputStream: a 16-byte header - magic 82 'S' 'N' 'A' 'P'
 *           'P' 'Y' 00, int32 version 1, int32 compatible version 1
 *           (SnappyCodec.java) - then for every 32 KiB of input an int32
 *           big-endian length and one raw snappy block.  librdkafka and
 *           kafkajs-snappy write one raw snappy block with no framing; all
 *           three readers look for the 8-byte magic and fall back to raw
 *           (SnappyInputStream.readHeader, rd_kafka_snappy_java_uncompress
 *           in snappy.c, kafkajs-snappy src/index.js).  We write xerial,
 *           as Java does, and read both.  Neither framing has a checksum.
 *
 *   lz4     one LZ4 frame (lz4_Frame_format.md; KIP-57): magic 04 22 4d 18,
 *           FLG 60 (version 01, independent blocks), BD 40 (64 KiB blocks),
 *           HC 82 = second byte of XXH32(FLG BD); then blocks, each a
 *           little-endian uint32 size (high bit: stored uncompressed) and
 *           the data; then the end mark 00000000.  That is exactly what
 *           KafkaLZ4BlockOutputStream and librdkafka (rdkafka_lz4.c:
 *           LZ4F_blockIndependent, no checksums) write.  The reader,
 *           KafkaLZ4BlockInputStream, refuses dependent blocks, a
 *           dictionary id or other reserved bits, and a block size code
 *           outside 4-7; it verifies HC and block checksums, skips a
 *           content size, and reads but does not verify a content
 *           checksum.  We refuse what it refuses and verify every checksum
 *           present (liblz4's LZ4F_decompress does).  Brokers before 0.10
 *           computed HC over the magic too (KIP-57); v2 batches never
 *           carry that mistake, so we do not accept it.
 *
 *   zstd    one standard zstd frame (RFC 8878), magic 28 b5 2f fd, level 3
 *           as Java's zstd-jni and librdkafka default to.  Our frames state
 *           the content size and carry no checksum; we read any frames,
 *           concatenated or with checksums (ZstdFactory.java,
 *           rdkafka_zstd.c).
 *
 * Integrity.  Only gzip always checks its content.  An lz4, snappy or zstd
 * stream in Kafka's framing can decode a flipped bit into different bytes
 * without complaint; what catches it is the batch CRC-32C, which covers
 * the compressed bytes and which batch_decompress() checks first.
 *
 * Invariants:
 *   1. batch_decompress(batch_compress(b, c)) == b, byte for byte.
 *   2. A decoder never reads outside in[0..n) and never appends more than
 *      max_out bytes: each step is given room for at most one byte past
 *      the limit, so a stream that overflows shows it by writing that byte.
 *   3. Every function leaves out->len as it found it when it fails.
 *   4. A stream is complete and alone: truncation, and bytes after its
 *      end, are KLAB_ECORRUPT.
 *   5. batch_decompress() returns KLAB_OK only for a batch that passes
 *      batch_validate(), records and all.
 */
#include "log/compress.h"

#include <stdbool.h>
#include <string.h>

#define ZLIB_CONST
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/err.h"
#include "log/batch.h"

#define CHUNK (64 * 1024)	 /* output a decoder is given per step */
#define ZSTD_LEVEL 3		 /* ZSTD_CLEVEL_DEFAULT, zstd-jni's and librdkafka's */
#define XERIAL_HEADER_SIZE 16	 /* magic, version, compatible version */
#define XERIAL_BLOCK (32 * 1024) /* SnappyOutputStream.DEFAULT_BLOCK_SIZE */
#define LZ4_MAGIC 0x184D2204u

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

static const char *const names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

/* KafkaLZ4BlockOutputStream's frame: 64 KiB independent blocks, no checksums. */
static const LZ4F_preferences_t lz4_prefs = {
	.frameInfo = { .blockSizeID = LZ4F_max64KB,
		       .blockMode = LZ4F_blockIndependent,
		       .contentChecksumFlag = LZ4F_noContentChecksum,
		       .frameType = LZ4F_frame,
		       .blockChecksumFlag = LZ4F_noBlockChecksum },
	.compressionLevel = 0, /* LZ4_compress_default, lz4-java's fastCompressor */
};

int
compression_parse(const char *name, enum compression *out)
{
	for (int c = COMPRESSION_NONE; c <= COMPRESSION_ZSTD; c++) {
		if (strcmp(name, names[c]) == 0) {
			*out = (enum compression)c;
			return KLAB_OK;
		}
	}
	return KLAB_EINVAL;
}

const char *
compression_name(enum compression c)
{
	return (unsigned)c <= COMPRESSION_ZSTD ? names[c] : "unknown";
}

/* Room for want more bytes at the end of out, or NULL. */
static uint8_t *
out_room(struct buf *out, size_t want)
{
	return buf_reserve(out, want) ? out->data + out->len : NULL;
}

/* What a decoder may write next (invariant 2); produced <= max_out. */
static size_t
out_budget(size_t produced, size_t max_out)
{
	size_t left = max_out - produced;

	return left < CHUNK ? left + 1 : CHUNK;
}

/* ---- gzip ---------------------------------------------------------------- */

static int
gzip_compress(const uint8_t *in, size_t n, struct buf *out)
{
	z_stream z;
	uLong bound;
	uint8_t *p;
	int zrc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return KLAB_ENOMEM;
	bound = deflateBound(&z, (uLong)n);
	if ((p = out_room(out, bound)) == NULL) {
		deflateEnd(&z);
		return KLAB_ENOMEM;
	}
	z.next_in = in;
	z.avail_in = (uInt)n;
	z.next_out = p;
	z.avail_out = (uInt)bound;
	zrc = deflate(&z, Z_FINISH);
	out->len += z.total_out;
	deflateEnd(&z);
	return zrc == Z_STREAM_END ? KLAB_OK : KLAB_ENOMEM;
}

/* One inflate() step's result as a klab code; 1 means "keep going". */
static int
gzip_step(z_stream *z, int zrc)
{
	if (zrc == Z_STREAM_END) {
		if (z->avail_in == 0)
			return KLAB_OK;
		return inflateReset(z) == Z_OK ? 1 : KLAB_ENOMEM; /* another member */
	}
	if (zrc == Z_MEM_ERROR)
		return KLAB_ENOMEM;
	if (zrc == Z_OK)
		return 1;
	/* Z_BUF_ERROR: no progress with room to write, so the input ran out */
	return KLAB_ECORRUPT;
}

static int
gzip_decompress(const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	size_t start = out->len;
	z_stream z;
	int rc = 1;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return KLAB_ENOMEM;
	z.next_in = in;
	z.avail_in = (uInt)n;
	while (rc == 1) {
		size_t room = out_budget(out->len - start, max_out);
		uint8_t *p = out_room(out, room);
		int zrc;

		if (p == NULL) {
			rc = KLAB_ENOMEM;
			break;
		}
		z.next_out = p;
		z.avail_out = (uInt)room;
		zrc = inflate(&z, Z_NO_FLUSH);
		out->len += room - z.avail_out;
		rc = out->len - start > max_out ? KLAB_ETOOLARGE : gzip_step(&z, zrc);
	}
	inflateEnd(&z);
	return rc;
}

/* ---- snappy -------------------------------------------------------------- */

/* SnappyOutputStream's stream: the header, then 32 KiB of input a block. */
static int
snappy_compress_xerial(const uint8_t *in, size_t n, struct buf *out)
{
	uint8_t hdr[XERIAL_HEADER_SIZE];
	size_t pos = 0;

	memcpy(hdr, xerial_magic, sizeof(xerial_magic));
	be32_write(hdr + 8, 1);	 /* version */
	be32_write(hdr + 12, 1); /* compatible version */
	buf_put(out, hdr, sizeof(hdr));
	while (pos < n) {
		size_t chunk = n - pos < XERIAL_BLOCK ? n - pos : XERIAL_BLOCK;
		size_t clen = snappy_max_compressed_length(chunk);
		uint8_t *p = out_room(out, 4 + clen);

		if (p == NULL)
			return KLAB_ENOMEM;
		if (snappy_compress((const char *)in + pos, chunk, (char *)p + 4, &clen) !=
		    SNAPPY_OK)
			return KLAB_ENOMEM;
		be32_write(p, (uint32_t)clen);
		out->len += 4 + clen;
		pos += chunk;
	}
	return buf_ok(out) ? KLAB_OK : KLAB_ENOMEM;
}

/* One raw snappy block; its varint preamble is checked against the budget first. */
static int
snappy_raw(const uint8_t *in, size_t n, size_t max_out, size_t *produced, struct buf *out)
{
	size_t ulen;
	uint8_t *p;

	if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
		return KLAB_ECORRUPT;
	if (ulen > max_out - *produced)
		return KLAB_ETOOLARGE;
	if ((p = out_room(out, ulen > 0 ? ulen : 1)) == NULL)
		return KLAB_ENOMEM;
	if (snappy_uncompress((const char *)in, n, (char *)p, &ulen) != SNAPPY_OK)
		return KLAB_ECORRUPT;
	out->len += ulen;
	*produced += ulen;
	return KLAB_OK;
}

/*
 * A xerial stream: a header, then blocks.  Another header where a block
 * length would be starts a stream appended to this one: its first four
 * bytes would be a negative length, so there is no ambiguity (recent
 * snappy-java reads such streams too; SnappyCodec.MAGIC_HEADER_HEAD).  A
 * version below 1 is refused, as SnappyInputStream.readHeader refuses it.
 */
static int
snappy_xerial(const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	size_t produced = 0;
	struct cursor c;
	int rc;

	cur_init(&c, in, n);
	while (c.len > 0) {
		const uint8_t *block;
		int32_t version;
		uint32_t blen;

		if (c.len >= sizeof(xerial_magic) && memcmp(c.p, xerial_magic, 8) == 0) {
			cur_get_bytes(&c, sizeof(xerial_magic));
			version = (int32_t)cur_get_be32(&c);
			cur_get_be32(&c); /* compatible version: Java does not check it */
			if (!cur_ok(&c) || version < 1)
				return KLAB_ECORRUPT;
			continue;
		}
		blen = cur_get_be32(&c);
		if ((block = cur_get_bytes(&c, blen)) == NULL)
			return KLAB_ECORRUPT;
		if ((rc = snappy_raw(block, blen, max_out, &produced, out)) != KLAB_OK)
			return rc;
	}
	return KLAB_OK;
}

static int
snappy_decompress(const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	size_t produced = 0;

	if (n >= sizeof(xerial_magic) && memcmp(in, xerial_magic, sizeof(xerial_magic)) == 0)
		return snappy_xerial(in, n, max_out, out);
	return snappy_raw(in, n, max_out, &produced, out);
}

/* ---- lz4 ----------------------------------------------------------------- */

static int
lz4_compress(const uint8_t *in, size_t n, struct buf *out)
{
	size_t bound = LZ4F_compressFrameBound(n, &lz4_prefs);
	uint8_t *p = out_room(out, bound);
	size_t got;

	if (p == NULL)
		return KLAB_ENOMEM;
	got = LZ4F_compressFrame(p, bound, in, n, &lz4_prefs);
	if (LZ4F_isError(got))
		return KLAB_ENOMEM;
	out->len += got;
	return KLAB_OK;
}

/*
 * The frame descriptor as KafkaLZ4BlockInputStream checks it (FLG and BD
 * validate()): FLG version 01, independent blocks, reserved bits 0-1 zero
 * (so no dictionary id); BD reserved bits zero, block size code 4..7.
 */
static bool
lz4_kafka_descriptor(const uint8_t *in, size_t n)
{
	uint8_t flg, bd;

	if (n < 7 || (in[0] | in[1] << 8 | in[2] << 16 | (uint32_t)in[3] << 24) != LZ4_MAGIC)
		return false;
	flg = in[4];
	bd = in[5];
	return (flg >> 6) == 1 && (flg & 0x20) != 0 && (flg & 0x03) == 0 && (bd & 0x8f) == 0 &&
	       (bd >> 4) >= 4;
}

/* liblz4 checks HC, the block sizes, and whichever checksums the frame has. */
static int
lz4_decompress(const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	size_t start = out->len, pos = 0, hint = 1;
	LZ4F_dctx *d;
	int rc = KLAB_OK;

	if (!lz4_kafka_descriptor(in, n))
		return KLAB_ECORRUPT;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
		return KLAB_ENOMEM;
	while (rc == KLAB_OK && hint != 0) {
		size_t room = out_budget(out->len - start, max_out), src = n - pos;
		uint8_t *p = out_room(out, room);

		if (p == NULL) {
			rc = KLAB_ENOMEM;
			break;
		}
		hint = LZ4F_decompress(d, p, &room, in + pos, &src, NULL);
		if (LZ4F_isError(hint)) {
			rc = KLAB_ECORRUPT;
			break;
		}
		out->len += room;
		pos += src;
		if (out->len - start > max_out)
			rc = KLAB_ETOOLARGE;
		else if (hint != 0 && src == 0 && room == 0)
			rc = KLAB_ECORRUPT; /* no progress: the frame was cut short */
	}
	if (rc == KLAB_OK && pos != n)
		rc = KLAB_ECORRUPT; /* bytes after the end mark */
	LZ4F_freeDecompressionContext(d);
	return rc;
}

/* ---- zstd ---------------------------------------------------------------- */

static int
zstd_compress(const uint8_t *in, size_t n, struct buf *out)
{
	size_t bound = ZSTD_compressBound(n);
	uint8_t *p = out_room(out, bound);
	size_t got;

	if (p == NULL)
		return KLAB_ENOMEM;
	got = ZSTD_compress(p, bound, in, n, ZSTD_LEVEL);
	if (ZSTD_isError(got))
		return KLAB_ENOMEM;
	out->len += got;
	return KLAB_OK;
}

/* One ZSTD_decompressStream() step as a klab code; 1 means "keep going". */
static int
zstd_step(size_t ret, const ZSTD_inBuffer *src, const ZSTD_outBuffer *dst, size_t before)
{
	if (ZSTD_isError(ret))
		return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? KLAB_ENOMEM
									      : KLAB_ECORRUPT;
	if (ret == 0 && src->pos == src->size)
		return KLAB_OK; /* a frame ended exactly at the end of the input */
	if (src->pos == src->size && dst->pos < dst->size)
		return KLAB_ECORRUPT; /* wants input that is not there */
	if (src->pos == before && dst->pos == 0)
		return KLAB_ECORRUPT; /* no progress */
	return 1;		      /* more output to flush, or another frame */
}

static int
zstd_decompress(const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	ZSTD_inBuffer src = { in, n, 0 };
	size_t start = out->len;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	int rc = 1;

	if (d == NULL)
		return KLAB_ENOMEM;
	while (rc == 1) {
		size_t room = out_budget(out->len - start, max_out), before = src.pos, ret;
		ZSTD_outBuffer dst = { out_room(out, room), room, 0 };

		if (dst.dst == NULL) {
			rc = KLAB_ENOMEM;
			break;
		}
		ret = ZSTD_decompressStream(d, &dst, &src);
		out->len += dst.pos;
		rc = out->len - start > max_out ? KLAB_ETOOLARGE
						: zstd_step(ret, &src, &dst, before);
	}
	ZSTD_freeDCtx(d);
	return rc;
}

/* ---- blocks -------------------------------------------------------------- */

int
compress_block(enum compression c, const uint8_t *in, size_t n, struct buf *out)
{
	static const uint8_t empty[1];
	size_t start = out->len;
	int rc;

	if (n > COMPRESS_MAX_INPUT)
		return KLAB_ETOOLARGE;
	if (n == 0)
		in = empty; /* the libraries want a pointer even for nothing */
	switch (c) {
	case COMPRESSION_NONE:
		buf_put(out, in, n);
		rc = buf_ok(out) ? KLAB_OK : KLAB_ENOMEM;
		break;
	case COMPRESSION_GZIP: rc = gzip_compress(in, n, out); break;
	case COMPRESSION_SNAPPY: rc = snappy_compress_xerial(in, n, out); break;
	case COMPRESSION_LZ4: rc = lz4_compress(in, n, out); break;
	case COMPRESSION_ZSTD: rc = zstd_compress(in, n, out); break;
	default: return KLAB_EINVAL;
	}
	if (rc != KLAB_OK)
		out->len = start;
	return rc;
}

int
decompress_block(enum compression c, const uint8_t *in, size_t n, size_t max_out, struct buf *out)
{
	static const uint8_t empty[1];
	size_t start = out->len;
	int rc;

	if (n > COMPRESS_MAX_INPUT)
		return KLAB_ETOOLARGE;
	if (n == 0)
		in = empty;
	switch (c) {
	case COMPRESSION_NONE:
		if (n > max_out)
			return KLAB_ETOOLARGE;
		buf_put(out, in, n);
		rc = buf_ok(out) ? KLAB_OK : KLAB_ENOMEM;
		break;
	case COMPRESSION_GZIP: rc = gzip_decompress(in, n, max_out, out); break;
	case COMPRESSION_SNAPPY: rc = snappy_decompress(in, n, max_out, out); break;
	case COMPRESSION_LZ4: rc = lz4_decompress(in, n, max_out, out); break;
	case COMPRESSION_ZSTD: rc = zstd_decompress(in, n, max_out, out); break;
	default: return KLAB_ECORRUPT; /* attributes bits 0-2 = 5, 6 or 7 */
	}
	if (rc != KLAB_OK)
		out->len = start;
	return rc;
}

/* ---- batches ------------------------------------------------------------- */

/* Set attributes, batchLength and the CRC of the batch at out[start..]. */
static int
batch_refit(struct buf *out, size_t start, int16_t attributes)
{
	uint8_t *p;
	size_t len;

	if (!buf_ok(out))
		return KLAB_ENOMEM;
	p = out->data + start;
	len = out->len - start;
	if (len - BATCH_LOG_OVERHEAD > (size_t)INT32_MAX)
		return KLAB_ETOOLARGE;
	be32_write(p + 8, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	be16_write(p + BATCH_ATTR_OFFSET, (uint16_t)attributes);
	be32_write(p + BATCH_CRC_OFFSET, batch_compute_crc(p, len));
	return KLAB_OK;
}

int
batch_compress(const uint8_t *batch, size_t len, enum compression c, struct buf *out)
{
	struct batch_header h;
	size_t start = out->len;
	int rc = batch_validate(batch, len, &h, NULL);

	if (rc != KLAB_OK)
		return rc;
	if ((h.attributes & BATCH_ATTR_COMPRESSION) != 0 || (unsigned)c > COMPRESSION_ZSTD)
		return KLAB_EINVAL;
	buf_put(out, batch, BATCH_HEADER_SIZE);
	rc = compress_block(c, batch + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE, out);
	if (rc == KLAB_OK)
		rc = batch_refit(out, start,
				 (int16_t)((h.attributes & ~BATCH_ATTR_COMPRESSION) | (int16_t)c));
	if (rc != KLAB_OK)
		out->len = start;
	return rc;
}

int
batch_decompress(const uint8_t *batch, size_t len, size_t max_out, struct buf *out)
{
	struct batch_header h;
	size_t start = out->len;
	int rc = batch_validate(batch, len, &h, NULL);

	if (rc != KLAB_OK)
		return rc;
	buf_put(out, batch, BATCH_HEADER_SIZE);
	rc = decompress_block((enum compression)(h.attributes & BATCH_ATTR_COMPRESSION),
			      batch + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE, max_out, out);
	if (rc == KLAB_OK)
		rc = batch_refit(out, start, (int16_t)(h.attributes & ~BATCH_ATTR_COMPRESSION));
	/* invariant 5: the records must be what the header promised */
	if (rc == KLAB_OK &&
	    batch_validate(out->data + start, out->len - start, &h, NULL) != KLAB_OK)
		rc = KLAB_ECORRUPT;
	if (rc != KLAB_OK)
		out->len = start;
	return rc;
}
