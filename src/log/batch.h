/*
 * batch.h - Kafka's RecordBatch v2 (magic 2): build, parse, validate.
 *
 * A batch is the unit Kafka writes, replicates and sends to consumers; the
 * bytes on disk are the bytes on the wire.  Layout (docs/implementation.html
 * §5.3.1, DefaultRecordBatch.java), all integers big-endian:
 *
 *   off  field                 off  field
 *    0   baseOffset int64       27  baseTimestamp int64
 *    8   batchLength int32      35  maxTimestamp int64
 *   12   partitionLeaderEpoch   43  producerId int64
 *   16   magic int8 = 2         51  producerEpoch int16
 *   17   crc uint32 (CRC-32C    53  baseSequence int32
 *        of bytes 21..end)      57  recordCount int32
 *   21   attributes int16       61  records...
 *   23   lastOffsetDelta int32
 *
 * batchLength counts the bytes after itself, so a batch is 12 + batchLength
 * bytes.  baseOffset and partitionLeaderEpoch lie outside the CRC: the log
 * assigns them on append without recomputing it.
 *
 * Each record: length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, keyLength varint + key (-1 = null), valueLength
 * varint + value, headerCount varint, then per header keyLength varint +
 * key, valueLength varint + value.
 */
#ifndef KLAB_LOG_BATCH_H
#define KLAB_LOG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define BATCH_HEADER_SIZE 61  /* bytes before the first record */
#define BATCH_LENGTH_OFFSET 8 /* batchLength int32 */
#define BATCH_MAGIC_OFFSET 16
#define BATCH_CRC_OFFSET 17
#define BATCH_ATTR_OFFSET 21 /* first byte the CRC covers */
#define BATCH_MAGIC 2
#define BATCH_NO_PRODUCER_ID (-1)
#define BATCH_NO_TIMESTAMP (-1)

enum batch_attr {
	BATCH_ATTR_COMPRESSION = 0x07, /* 0 none 1 gzip 2 snappy 3 lz4 4 zstd */
	BATCH_ATTR_LOG_APPEND_TIME = 0x08,
	BATCH_ATTR_TRANSACTIONAL = 0x10,
	BATCH_ATTR_CONTROL = 0x20,
	BATCH_ATTR_DELETE_HORIZON = 0x40,
};

struct batch_header {
	int64_t base_offset;
	int32_t length; /* batchLength */
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

/* A key/value pair; len -1 means null. */
struct kv {
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;
};

/* What a producer hands the builder. */
struct record_in {
	struct kv kv;
	int64_t timestamp;
	const struct kv *headers;
	size_t header_count;
};

/* A record decoded from a batch; pointers alias the batch bytes. */
struct record {
	int8_t attributes;
	int64_t timestamp; /* base timestamp + delta */
	int64_t offset;	   /* base offset + delta */
	int32_t offset_delta;
	struct kv kv;
	int32_t header_count;
	struct cursor headers; /* header_count headers, read with record_header_next */
};

struct batch_builder {
	struct buf *out;
	size_t start; /* where this batch begins in out */
	int16_t attributes;
	int32_t count;
	int64_t base_timestamp, max_timestamp;
};

/* Start a batch at the end of out (producer fields -1: no idempotence). */
void batch_builder_begin(struct batch_builder *bb, struct buf *out, int64_t base_offset,
			 int64_t base_timestamp, int16_t attributes);
void batch_builder_add(struct batch_builder *bb, const struct record_in *r);
/* Fill in lengths, counts, timestamps and CRC.  Returns KLAB_OK or ENOMEM. */
int batch_builder_finish(struct batch_builder *bb);

/*
 * Parse the 61-byte header at p (avail bytes readable).  KLAB_ETRUNCATED
 * when avail is too short; KLAB_ECORRUPT when magic is not 2 or the length
 * cannot hold a header.  Does not look at the CRC.
 */
int batch_header_parse(const uint8_t *p, size_t avail, struct batch_header *h);

/* 12 + batchLength. */
size_t batch_size(const struct batch_header *h);
int64_t batch_last_offset(const struct batch_header *h);

/* CRC-32C over bytes 21..len. */
uint32_t batch_compute_crc(const uint8_t *p, size_t len);

/*
 * Validate the whole batch p[0..len): header, exact size, CRC, and for an
 * uncompressed batch every record (count, offset deltas 0..n-1, lengths in
 * bounds, lastOffsetDelta = n-1).  Returns KLAB_OK, KLAB_ETRUNCATED (len is
 * shorter than the batch says) or KLAB_ECORRUPT; *why (may be NULL) gets a
 * short reason.
 */
int batch_validate(const uint8_t *p, size_t len, struct batch_header *h, const char **why);

/* Patch fields that lie outside the CRC. */
void batch_set_base_offset(uint8_t *p, int64_t base_offset);
void batch_set_leader_epoch(uint8_t *p, int32_t epoch);
/* Stamp an idempotent producer's id, epoch and base sequence; redoes the CRC. */
void batch_set_producer(uint8_t *p, size_t len, int64_t producer_id, int16_t epoch,
			int32_t base_sequence);
/* Stamp LogAppendTime: sets the attribute bit and maxTimestamp, redoes CRC. */
void batch_set_log_append_time(uint8_t *p, size_t len, int64_t now_ms);

/* Iterate records of a validated, uncompressed batch. */
struct record_iter {
	struct cursor c;
	struct batch_header h;
	int32_t left;
};
void record_iter_init(struct record_iter *it, const uint8_t *p, size_t len,
		      const struct batch_header *h);
/* 1 and *r filled; 0 at the end; KLAB_ECORRUPT on a malformed record. */
int record_iter_next(struct record_iter *it, struct record *r);
/* 1 and *h filled; 0 when the record's headers are done; <0 malformed. */
int record_header_next(struct record *r, struct kv *h);

const char *batch_compression_name(int16_t attributes);

#endif
