/*
 * dump_log.c - `klab dump-log [--print-data-log] FILE...`
 *
 * For a .log file, one line per batch in the shape of Kafka 3.4's
 * DumpLogSegments ("baseOffset: 0 lastOffset: 2 count: 3 ... isvalid:
 * true"), and with --print-data-log one "| offset: ..." line per record.
 * For .index and .timeindex files, their entries; for a producer state
 * .snapshot (src/log/producer_state.h), one line per producer, in the
 * shape of DumpLogSegments' dumpProducerIdSnapshot.  A torn or corrupt
 * tail is reported, never trusted: scanning stops at the first bad header,
 * and a snapshot that fails its checks is not printed.
 */
#include "main/dump_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/fs.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/index.h"
#include "log/producer_state.h"
#include "net/disk_real.h"
#include "repl/show.h"

static void
print_records(const uint8_t *p, const struct batch_header *h)
{
	struct record_iter it;
	struct record r;

	struct buf plain;
	struct batch_header ph = *h;

	buf_init(&plain);
	if (h->attributes & BATCH_ATTR_COMPRESSION) { /* as Kafka's tool does: decompress */
		if (batch_decompress(p, batch_size(h), (size_t)256 << 20, &plain) != KLAB_OK ||
		    batch_header_parse(plain.data, plain.len, &ph) != KLAB_OK) {
			printf("| (the compressed records do not decompress)\n");
			buf_free(&plain);
			return;
		}
		p = plain.data;
	}
	h = &ph;
	record_iter_init(&it, p, batch_size(h), h);
	while (record_iter_next(&it, &r) == 1) {
		struct record copy = r;
		struct kv hv;
		bool first = true;

		printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %" PRId32
		       " valueSize: %" PRId32 " sequence: %" PRId32 " headerKeys: [",
		       r.offset,
		       h->attributes & BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
		       h->attributes & BATCH_ATTR_LOG_APPEND_TIME ? h->max_timestamp : r.timestamp,
		       r.kv.key_len, r.kv.value_len,
		       h->base_sequence < 0 ? -1 : h->base_sequence + r.offset_delta);
		while (record_header_next(&copy, &hv) == 1) {
			printf("%s", first ? "" : ",");
			show_bytes(stdout, hv.key, hv.key_len);
			first = false;
		}
		printf("] key: ");
		show_bytes(stdout, r.kv.key, r.kv.key_len);
		printf(" payload: ");
		show_bytes(stdout, r.kv.value, r.kv.value_len);
		printf("\n");
	}
	buf_free(&plain);
}

static void
print_batch(const uint8_t *p, size_t pos, const struct batch_header *h, bool valid)
{
	printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32
	       " baseSequence: %" PRId32 " lastSequence: %" PRId32 " producerId: %" PRId64
	       " producerEpoch: %d partitionLeaderEpoch: %" PRId32 " isTransactional: %s"
	       " isControl: %s deleteHorizonMs: OptionalLong.empty position: %zu %s: %" PRId64
	       " size: %zu magic: %d compresscodec: %s crc: %" PRIu32 " isvalid: %s\n",
	       h->base_offset, batch_last_offset(h), h->record_count, h->base_sequence,
	       h->base_sequence < 0 ? -1 : h->base_sequence + h->last_offset_delta, h->producer_id,
	       h->producer_epoch, h->partition_leader_epoch,
	       h->attributes & BATCH_ATTR_TRANSACTIONAL ? "true" : "false",
	       h->attributes & BATCH_ATTR_CONTROL ? "true" : "false", pos,
	       h->attributes & BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
	       h->max_timestamp, batch_size(h), h->magic, batch_compression_name(h->attributes),
	       h->crc, valid ? "true" : "false");
	(void)p;
}

static int
dump_segment(const uint8_t *p, size_t len, bool data)
{
	size_t pos = 0;
	int bad = 0;

	while (pos < len) {
		struct batch_header h;
		const char *why = NULL;
		int rc = batch_header_parse(p + pos, len - pos, &h);

		if (rc != KLAB_OK || batch_size(&h) > len - pos) {
			printf("Found %zu invalid bytes at the end of the file (position %zu): "
			       "%s\n",
			       len - pos, pos,
			       rc == KLAB_ECORRUPT ? "bad batch header" : "torn batch");
			return 1;
		}
		rc = batch_validate(p + pos, batch_size(&h), &h, &why);
		print_batch(p + pos, pos, &h, rc == KLAB_OK);
		if (rc != KLAB_OK) {
			printf("  invalid: %s\n", why ? why : klab_strerror(rc));
			bad = 1;
		} else if (data) {
			print_records(p + pos, &h);
		}
		pos += batch_size(&h);
	}
	return bad;
}

static int
dump_index(const uint8_t *p, size_t len, bool time)
{
	size_t entry = time ? TIME_INDEX_ENTRY : OFFSET_INDEX_ENTRY;

	for (size_t at = 0; at + entry <= len; at += entry) {
		if (time)
			printf("timestamp: %" PRId64 " offset: %" PRId32 " (relative)\n",
			       (int64_t)be64_read(p + at), (int32_t)be32_read(p + at + 8));
		else
			printf("offset: %" PRId32 " (relative) position: %" PRIu32 "\n",
			       (int32_t)be32_read(p + at), be32_read(p + at + 4));
	}
	if (len % entry != 0) {
		printf("Found %zu trailing bytes: not a whole entry\n", len % entry);
		return 1;
	}
	return 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int
dump_snapshot(const uint8_t *p, size_t len)
{
	struct pstate ps;
	const char *why = NULL;

	pstate_init(&ps, 0);
	if (pstate_snapshot_decode(&ps, p, len, &why) != KLAB_OK) {
		printf("corrupt producer snapshot: %s\n", why);
		pstate_free(&ps);
		return 1;
	}
	for (size_t i = 0; i < ps.n; i++) {
		const struct pstate_entry *pe = &ps.e[i];
		const struct pstate_batch *b = &pe->b[0];

		printf("producerId: %" PRId64 " producerEpoch: %d coordinatorEpoch: -1 "
		       "currentTxnFirstOffset: None lastTimestamp: %" PRId64
		       " firstSequence: %" PRId32 " lastSequence: %" PRId32 " lastOffset: %" PRId64
		       " offsetDelta: %" PRId64 " timestamp: %" PRId64 "\n",
		       pe->producer_id, pe->epoch, pe->last_timestamp, b->first_seq, b->last_seq,
		       b->last_offset, b->last_offset - b->first_offset, b->timestamp);
	}
	pstate_free(&ps);
	return 0;
}

static int
dump_file(const char *path, bool data)
{
	struct buf file;
	uint8_t *p;
	size_t len;
	struct kerr e = { 0 };
	int rc;

	buf_init(&file);
	if (fs_read_file(disk_real(), path, (size_t)1 << 31, &file, &e) != KLAB_OK) {
		fprintf(stderr, "klab dump-log: %s\n", kerr_msg(&e));
		buf_free(&file);
		return 1;
	}
	p = file.data;
	len = file.len;
	printf("Dumping %s\n", path);
	if (ends_with(path, ".log")) {
		const char *base = strrchr(path, '/');

		printf("Log starting offset: %s\n", base ? base + 1 : path);
		rc = dump_segment((uint8_t *)p, len, data);
	} else if (ends_with(path, ".timeindex")) {
		rc = dump_index((uint8_t *)p, len, true);
	} else if (ends_with(path, ".index")) {
		rc = dump_index((uint8_t *)p, len, false);
	} else if (ends_with(path, ".snapshot")) {
		rc = dump_snapshot(p, len);
	} else {
		fprintf(stderr,
			"klab dump-log: %s: not a .log, .index, .timeindex or .snapshot file\n",
			path);
		rc = 1;
	}
	buf_free(&file);
	return rc;
}

int
dump_log_main(int argc, char **argv)
{
	bool data = false;
	int rc = 0, files = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print-data-log") == 0 || strcmp(argv[i], "-d") == 0) {
			data = true;
		} else if (strcmp(argv[i], "--files") == 0) {
			continue; /* Kafka's spelling: --files FILE */
		} else if (argv[i][0] == '-') {
			fprintf(stderr,
				"usage: klab dump-log [--print-data-log] [--files] FILE...\n");
			return 2;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		rc |= dump_file(argv[i], data);
		files++;
	}
	if (files == 0) {
		fprintf(stderr, "usage: klab dump-log [--print-data-log] [--files] FILE...\n");
		return 2;
	}
	return rc;
}
