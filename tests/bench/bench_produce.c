/*
 * bench_produce.c - how fast is chapter 2's producer, next to stage 1's
 * log and the machine, and does buffer.memory really bound its memory?
 *
 * As in bench_log.c, every number is printed beside the limits that bound
 * it, measured in the same run on the same filesystem:
 *
 *   memcpy       copying large buffers: the ceiling of any byte-moving code;
 *   log_append   stage 1 alone: the same records, already cut into the
 *                same uncompressed batches (built before the clock starts),
 *                appended with log_append() to the same partitions.  The
 *                producer's extra work - partitioner, accumulator, building
 *                and compressing batches - is what the /append column shows;
 *   compress:X   batch_compress() alone on those batches (1 partition's),
 *                no producer, no log: the /codec column;
 *   decompress:X batch_decompress() of the result, which log_append() does
 *                to every compressed batch to check its records, as Kafka's
 *                broker does: the producer's drain pays it too.
 *
 * Part 1, throughput.  RECORDS keyed records (key "user-NNNNN", uniform
 * over KEYS users; a 100-byte JSON-ish value that names the same user)
 * are generated once.  Each of them is handed to producer_send() and the
 * producer polled after every send (as the REPL does); batch.size 16384,
 * linger.ms so large that batches leave only when full, then one final
 * flush.  Into topics of 1, 4, 16 and 64 partitions, for every
 * compression.type.  MB/s counts the key + value bytes handed to send()
 * (10^6 bytes); ratio is wire bytes / uncompressed batch bytes from the
 * producer's stats.  Each configuration runs in a fresh topic; the best of
 * PASSES passes counts (other processes share the CPUs), and the
 * log_append baseline runs in the same passes, interleaved with the
 * producer's, so that both meet the machine in the same mood.  After every
 * run the topic is checked: every record there, the logs hold exactly the
 * wire bytes, and partition 0's first batch decompresses to the first
 * record sent there.  A short second table repeats the producer on random
 * (incompressible) values.
 *
 * Part 2, memory.  A producer with 64 partitions and buffer.memory 1 MiB
 * and then 32 MiB, each in a child process of its own (so that ru_maxrss,
 * a high-water mark, starts from the child's size at fork): first
 * `paused` (a broker that does not answer) until send() fails because
 * memory is full, then resumed and flushed, then MEM_RECORDS more records
 * as in part 1.  acc.peak_used must stay <= buffer.memory (the
 * accumulator's invariant 1); the child's peak RSS growth shows what the
 * process really paid.  Part 2 runs first, before part 1's large buffers
 * exist.
 *
 * Data lives in a fresh directory under /tmp, one topic at a time, deleted
 * as it goes.  `make bench` runs it.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/murmur2.h"
#include "log/batch.h"
#include "log/compress.h"
#include "log/log.h"
#include "topic/producer.h"
#include "topic/topic.h"
#include "net/disk_real.h"

#define RECORDS 200000	     /* part 1, per configuration */
#define RANDOM_RECORDS 60000 /* the random-values table */
#define KEYS 100000	     /* distinct keys, uniform */
#define KEY_LEN 10	     /* "user-NNNNN" */
#define VALUE_LEN 100
#define BATCH_SIZE 16384
#define LINGER "1000000000" /* ms: batches leave when full, or at the flush */
#define PASSES 3
#define MEMCPY_BYTES (64u << 20)
#define MEM_PARTITIONS 64
#define MEM_RECORDS 300000 /* part 2, after the paused phase */
#define T0 1700000000000LL
#define NCODECS 5
#define NPARTS 4

static const int partition_counts[NPARTS] = { 1, 4, 16, 64 };
static const enum compression codecs[NCODECS] = { COMPRESSION_NONE, COMPRESSION_GZIP,
						  COMPRESSION_SNAPPY, COMPRESSION_LZ4,
						  COMPRESSION_ZSTD };

/* The records of part 1: record i is keys[i*KEY_LEN..] and values[i*VALUE_LEN..]. */
struct records {
	uint8_t *keys, *values;
	long n;
};

/* One measured configuration: the best pass. */
struct result {
	double secs;
	int64_t batches;
	uint64_t wire, raw; /* producer stats */
};

/* Part 2, one buffer.memory, as the child reports it through a pipe. */
struct mem_result {
	int64_t buffer_memory;
	long paused_records;   /* accepted before send() failed */
	uint64_t used_at_fail; /* acc.used when it failed */
	int fail_rc;
	uint64_t peak_used;
	long records; /* in the logs at the end */
	int64_t batches;
	long rss_before_kib, rss_after_kib;
	char error[160]; /* empty when the child succeeded */
};

struct bench {
	char dir[64];
	double memcpy_mbps;
	uint64_t rng;
	struct topic_store *store;
	int topic_seq;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_produce: %s: %s\n", what, detail ? detail : strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: fixed seed, so every run sends the same records. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss; /* KiB on Linux */
}

/* ---- the records ------------------------------------------------------------ */

/*
 * A 100-byte JSON-ish event about user `user`, truncated to 99 bytes and
 * closed with '}': field names repeat from record to record, the values
 * mostly do not - roughly what a real topic of events looks like.
 */
static void
make_value(uint64_t *rng, unsigned user, long i, uint8_t *out)
{
	static const char *const events[] = { "page_view", "click",  "add_to_cart",
					      "checkout",  "search", "login" };
	static const char *const pages[] = { "products", "cart", "search", "account", "help" };
	static const char *const countries[] = { "DE", "FR", "US", "GB", "NL",
						 "IN", "BR", "JP", "SE", "ES" };
	static const char *const devices[] = { "mobile", "desktop", "tablet" };
	uint64_t r = rng_next(rng);
	char tmp[256];
	int n;

	n = snprintf(tmp, sizeof(tmp),
		     "{\"ts\":%lld,\"user\":\"user-%05u\",\"event\":\"%s\",\"page\":\"/%s/%u\","
		     "\"country\":\"%s\",\"device\":\"%s\",\"session\":\"%08x\"}",
		     (long long)(T0 + i * 3 + (long)(r % 3)), user, events[(r >> 8) % 6],
		     pages[(r >> 16) % 5], (unsigned)((r >> 24) % 10000), countries[(r >> 40) % 10],
		     devices[(r >> 48) % 3], (unsigned)rng_next(rng));
	if (n < VALUE_LEN)
		die("make_value", "the template is shorter than VALUE_LEN");
	memcpy(out, tmp, VALUE_LEN - 1);
	out[VALUE_LEN - 1] = '}';
}

static void
make_records(struct records *rs, long n, bool random_values, uint64_t seed)
{
	uint64_t rng = seed;

	rs->n = n;
	rs->keys = malloc((size_t)n * KEY_LEN);
	rs->values = malloc((size_t)n * VALUE_LEN);
	if (rs->keys == NULL || rs->values == NULL)
		die("malloc", NULL);
	for (long i = 0; i < n; i++) {
		unsigned user = (unsigned)(rng_next(&rng) % KEYS);
		char key[KEY_LEN + 1];

		snprintf(key, sizeof(key), "user-%05u", user);
		memcpy(rs->keys + i * KEY_LEN, key, KEY_LEN);
		if (random_values)
			for (int j = 0; j < VALUE_LEN; j++)
				rs->values[i * VALUE_LEN + j] = (uint8_t)rng_next(&rng);
		else
			make_value(&rng, user, i, rs->values + i * VALUE_LEN);
	}
}

static void
free_records(struct records *rs)
{
	free(rs->keys);
	free(rs->values);
}

static struct record_in
record_at(const struct records *rs, long i)
{
	struct record_in r = { { rs->keys + i * KEY_LEN, KEY_LEN, rs->values + i * VALUE_LEN,
				 VALUE_LEN },
			       T0,
			       NULL,
			       0 };

	return r;
}

/* The default partitioner's choice for a keyed record. */
static int32_t
partition_of(const struct records *rs, long i, int32_t partitions)
{
	return murmur2_to_positive(murmur2(rs->keys + i * KEY_LEN, KEY_LEN)) % partitions;
}

/* ---- the machine's limit ---------------------------------------------------- */

static double
measure_memcpy(void)
{
	uint8_t *src = malloc(MEMCPY_BYTES), *dst = malloc(MEMCPY_BYTES);
	double best = 0;

	if (src == NULL || dst == NULL)
		die("malloc", NULL);
	memset(src, 0x5a, MEMCPY_BYTES); /* fault every page in first */
	memset(dst, 0, MEMCPY_BYTES);
	for (int pass = 0; pass < 5; pass++) {
		double t = now_s();

		memcpy(dst, src, MEMCPY_BYTES);
		__asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
		t = now_s() - t;
		if (MEMCPY_BYTES / t > best)
			best = MEMCPY_BYTES / t;
		src[pass] = dst[pass + 1];
	}
	free(src);
	free(dst);
	return best / 1e6;
}

/* ---- topics ----------------------------------------------------------------- */

static struct topic *
new_topic(struct bench *b, struct topic_store *s, int32_t partitions, char *name, size_t len)
{
	struct kerr e = { 0 };

	snprintf(name, len, "bench-%d", b->topic_seq++);
	if (topics_create(s, name, partitions, NULL, T0, NULL, 0, &e) != KLAB_OK)
		die("topics_create", kerr_msg(&e));
	return topics_find(s, name);
}

static void
drop_topic(struct topic_store *s, const char *name)
{
	struct kerr e = { 0 };

	if (topics_delete(s, name, &e) != KLAB_OK)
		die("topics_delete", kerr_msg(&e));
}

/* Every record in the topic, and exactly `bytes` bytes in its logs. */
static void
check_topic(const struct topic *t, long records, uint64_t bytes)
{
	uint64_t size = 0;
	int64_t n = 0;

	for (int32_t p = 0; p < t->partitions; p++) {
		const struct log *l = t->logs[p];

		n += l->next_offset - l->log_start_offset;
		for (size_t i = 0; i < l->nsegs; i++)
			size += l->segs[i]->size;
	}
	if (n != records || size != bytes) {
		fprintf(stderr,
			"bench_produce: %s holds %" PRId64 " records in %" PRIu64
			" bytes; %ld records in %" PRIu64 " bytes were sent\n",
			t->name, n, size, records, bytes);
		exit(1);
	}
}

/*
 * Partition 0's first batch, decompressed, starts with the first record
 * sent there: the codec wrote something a reader can read.
 */
static void
check_first_record(struct topic *t, const struct records *rs)
{
	struct buf out, plain;
	struct log_read_info info;
	struct batch_header h;
	struct record_iter it;
	struct record r;
	long first = 0;

	while (first < rs->n && partition_of(rs, first, t->partitions) != 0)
		first++;
	if (first == rs->n)
		return;
	buf_init(&out);
	buf_init(&plain);
	if (log_read(t->logs[0], 0, 1, &out, &info) != KLAB_OK ||
	    batch_header_parse(out.data, out.len, &h) != KLAB_OK ||
	    batch_decompress(out.data, batch_size(&h), 64u << 20, &plain) != KLAB_OK ||
	    batch_header_parse(plain.data, plain.len, &h) != KLAB_OK)
		die("reading partition 0 back", t->name);
	record_iter_init(&it, plain.data, plain.len, &h);
	if (record_iter_next(&it, &r) != 1 || r.kv.key_len != KEY_LEN ||
	    r.kv.value_len != VALUE_LEN ||
	    memcmp(r.kv.key, rs->keys + first * KEY_LEN, KEY_LEN) != 0 ||
	    memcmp(r.kv.value, rs->values + first * VALUE_LEN, VALUE_LEN) != 0)
		die("partition 0's first record is not the first one sent there", t->name);
	buf_free(&out);
	buf_free(&plain);
}

/* ---- the producer ----------------------------------------------------------- */

static void
producer_start(struct producer *p, struct topic_store *s, enum compression c, int64_t memory)
{
	struct kerr e = { 0 };
	struct config cfg;
	char num[32];

	config_init(&cfg);
	snprintf(num, sizeof(num), "%d", BATCH_SIZE);
	config_set(&cfg, "batch.size", num);
	config_set(&cfg, "linger.ms", LINGER);
	snprintf(num, sizeof(num), "%" PRId64, memory);
	config_set(&cfg, "buffer.memory", num);
	config_set(&cfg, "max.block.ms", "0");
	config_set(&cfg, "compression.type", compression_name(c));
	if (producer_init(p, s, &cfg, PARTITIONER_DEFAULT, 1, &e) != KLAB_OK)
		die("producer_init", kerr_msg(&e));
	config_free(&cfg);
}

/* Send records [from, to) to topic, polling after each; no flush. */
static void
send_range(struct producer *p, const char *topic, const struct records *rs, long from, long to)
{
	struct send_result res;
	struct kerr e = { 0 };
	int32_t sent;

	for (long i = from; i < to; i++) {
		struct record_in r = record_at(rs, i);

		if (producer_send(p, topic, PARTITION_ANY, &r, T0, &res, &e) != KLAB_OK ||
		    producer_poll(p, T0, false, &sent, &e) != KLAB_OK)
			die("producer_send / producer_poll", kerr_msg(&e));
	}
}

static void
flush(struct producer *p)
{
	struct kerr e = { 0 };
	int32_t sent;

	if (producer_poll(p, T0, true, &sent, &e) != KLAB_OK)
		die("producer_poll (flush)", kerr_msg(&e));
}

/* One pass: every record through a fresh producer into a fresh topic. */
static void
produce_pass(struct bench *b, const struct records *rs, int32_t partitions, enum compression c,
	     struct result *best)
{
	struct producer p;
	struct topic *t;
	char name[64];
	double secs;

	t = new_topic(b, b->store, partitions, name, sizeof(name));
	producer_start(&p, b->store, c, 32 << 20);
	secs = now_s();
	send_range(&p, name, rs, 0, rs->n);
	flush(&p);
	secs = now_s() - secs;
	if (p.stats.records != rs->n || p.acc.n != 0)
		die("the producer lost records", name);
	check_topic(t, rs->n, p.stats.wire_bytes);
	check_first_record(t, rs);
	if (best->secs == 0 || secs < best->secs)
		best->secs = secs;
	best->batches = p.stats.batches;
	best->wire = p.stats.wire_bytes;
	best->raw = p.stats.uncompressed_bytes;
	producer_free(&p);
	drop_topic(b->store, name);
}

/* ---- stage 1's log_append of the same batches ------------------------------- */

struct prebuilt {
	struct buf *bufs; /* one uncompressed batch each, in the order sent */
	int32_t *partition;
	size_t n, cap;
	uint64_t bytes;
};

static void
prebuilt_push(struct prebuilt *pb, struct buf *batch, int32_t partition)
{
	if (pb->n == pb->cap) {
		pb->cap = pb->cap ? pb->cap * 2 : 1024;
		pb->bufs = realloc(pb->bufs, pb->cap * sizeof(*pb->bufs));
		pb->partition = realloc(pb->partition, pb->cap * sizeof(*pb->partition));
		if (pb->bufs == NULL || pb->partition == NULL)
			die("realloc", NULL);
	}
	pb->bufs[pb->n] = *batch;
	pb->partition[pb->n++] = partition;
	pb->bytes += batch->len;
}

/*
 * Cut the records into the batches the producer makes: per partition, a
 * new batch when the record's bound (32 + key + value, accumulator.c)
 * would take the open one past batch.size; full batches in the order they
 * fill, then the open ones (the final flush).
 */
static void
prebuild(struct prebuilt *pb, const struct records *rs, int32_t partitions)
{
	struct buf *open = calloc((size_t)partitions, sizeof(*open));
	struct batch_builder *bb = calloc((size_t)partitions, sizeof(*bb));
	uint64_t bound = 32 + KEY_LEN + VALUE_LEN;

	if (open == NULL || bb == NULL)
		die("calloc", NULL);
	memset(pb, 0, sizeof(*pb));
	for (long i = 0; i < rs->n; i++) {
		int32_t p = partition_of(rs, i, partitions);
		struct record_in r = record_at(rs, i);

		if (open[p].data != NULL && open[p].len + bound > BATCH_SIZE) {
			if (batch_builder_finish(&bb[p]) != KLAB_OK)
				die("batch_builder_finish", NULL);
			prebuilt_push(pb, &open[p], p);
			memset(&open[p], 0, sizeof(open[p]));
		}
		if (open[p].data == NULL) {
			buf_init(&open[p]);
			batch_builder_begin(&bb[p], &open[p], 0, T0, 0);
		}
		batch_builder_add(&bb[p], &r);
	}
	for (int32_t p = 0; p < partitions; p++)
		if (open[p].data != NULL) {
			if (batch_builder_finish(&bb[p]) != KLAB_OK)
				die("batch_builder_finish", NULL);
			prebuilt_push(pb, &open[p], p);
		}
	free(open);
	free(bb);
}

static void
prebuilt_free(struct prebuilt *pb)
{
	for (size_t i = 0; i < pb->n; i++)
		buf_free(&pb->bufs[i]);
	free(pb->bufs);
	free(pb->partition);
}

/*
 * Stage 1's codec alone on the pre-built batches: batch_compress() (the
 * producer's drain) and batch_decompress() of its output (what
 * log_append() does to check a compressed batch's records, as Kafka's
 * broker does), each timed on its own.
 */
static void
codec_pass(const struct prebuilt *pb, enum compression c, struct result *comp,
	   struct result *decomp)
{
	struct buf out, plain;
	uint64_t wire = 0;
	double t, csecs = 0, dsecs = 0;

	buf_init(&out);
	buf_init(&plain);
	for (size_t i = 0; i < pb->n; i++) {
		buf_reset(&out);
		buf_reset(&plain);
		t = now_s();
		if (batch_compress(pb->bufs[i].data, pb->bufs[i].len, c, &out) != KLAB_OK)
			die("batch_compress", compression_name(c));
		csecs += now_s() - t;
		t = now_s();
		if (batch_decompress(out.data, out.len, 64u << 20, &plain) != KLAB_OK ||
		    plain.len != pb->bufs[i].len)
			die("batch_decompress", compression_name(c));
		dsecs += now_s() - t;
		wire += out.len;
	}
	buf_free(&out);
	buf_free(&plain);
	if (comp->secs == 0 || csecs < comp->secs)
		comp->secs = csecs;
	if (decomp->secs == 0 || dsecs < decomp->secs)
		decomp->secs = dsecs;
	comp->batches = decomp->batches = (int64_t)pb->n;
	comp->wire = decomp->wire = wire;
	comp->raw = decomp->raw = pb->bytes;
}

static void
append_pass(struct bench *b, const struct records *rs, struct prebuilt *pb, int32_t partitions,
	    struct result *best)
{
	struct kerr e = { 0 };
	struct topic *t;
	char name[64];
	double secs;

	t = new_topic(b, b->store, partitions, name, sizeof(name));
	secs = now_s();
	for (size_t i = 0; i < pb->n; i++)
		if (log_append(t->logs[pb->partition[i]], pb->bufs[i].data, pb->bufs[i].len, T0,
			       NULL, &e) != KLAB_OK)
			die("log_append", kerr_msg(&e));
	secs = now_s() - secs;
	check_topic(t, rs->n, pb->bytes);
	check_first_record(t, rs);
	if (best->secs == 0 || secs < best->secs)
		best->secs = secs;
	best->batches = (int64_t)pb->n;
	best->wire = best->raw = pb->bytes;
	drop_topic(b->store, name);
}

/* ---- part 2: memory ------------------------------------------------------------ */

/* In a child: the paused-then-resumed workload with buffer.memory = memory. */
static void
mem_child(struct bench *b, int64_t memory, struct mem_result *m)
{
	struct send_result res;
	struct kerr e = { 0 };
	struct topic_store *s;
	struct producer p;
	struct records rs;
	struct topic *t;
	struct config cfg;
	char path[128], name[64];
	long total;
	int rc = KLAB_OK;

	/* enough records for the paused phase (memory / ~120 B) and the rest */
	make_records(&rs, (long)(memory / 100) + MEM_RECORDS, false, 0x1234567ULL);
	snprintf(path, sizeof(path), "%s/mem-%" PRId64, b->dir, memory);
	config_init(&cfg);
	if (topics_open(&s, disk_real(), path, &cfg, 516, T0, &e) != KLAB_OK)
		die("topics_open", kerr_msg(&e));
	config_free(&cfg);
	t = new_topic(b, s, MEM_PARTITIONS, name, sizeof(name));
	producer_start(&p, s, COMPRESSION_NONE, memory);
	m->rss_before_kib = maxrss_kib();

	/* paused: a broker that does not answer; send until memory is full */
	p.paused = true;
	for (total = 0; total < rs.n; total++) {
		struct record_in r = record_at(&rs, total);

		if ((rc = producer_send(&p, name, PARTITION_ANY, &r, T0, &res, &e)) != KLAB_OK)
			break;
	}
	m->paused_records = total;
	m->fail_rc = rc;
	m->used_at_fail = p.acc.used;
	if (rc != KLAB_ETIMEDOUT)
		snprintf(m->error, sizeof(m->error), "paused send did not fail with ETIMEDOUT: %s",
			 kerr_msg(&e));

	/* resumed: drain everything, then the rest of the records as in part 1 */
	p.paused = false;
	flush(&p);
	send_range(&p, name, &rs, total, total + MEM_RECORDS);
	flush(&p);
	total += MEM_RECORDS;
	m->rss_after_kib = maxrss_kib();
	m->peak_used = p.acc.peak_used;
	m->records = total;
	m->batches = p.stats.batches;
	check_topic(t, total, p.stats.wire_bytes);
	producer_free(&p);
	topics_close(s);
	free_records(&rs);
}

static void
mem_run(struct bench *b, int64_t memory, struct mem_result *m)
{
	int fds[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) != 0)
		die("pipe", NULL);
	if ((pid = fork()) < 0)
		die("fork", NULL);
	if (pid == 0) {
		struct mem_result r = { .buffer_memory = memory };

		close(fds[0]);
		mem_child(b, memory, &r);
		if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], m, sizeof(*m)) != (ssize_t)sizeof(*m))
		die("the memory child failed", NULL);
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("the memory child failed", NULL);
}

static bool
print_memory(const struct mem_result *m, int n)
{
	bool ok = true;

	printf("\nmemory: %d partitions, batch.size %d, compression none; paused until send() "
	       "fails, then resumed + %d records\n",
	       MEM_PARTITIONS, BATCH_SIZE, MEM_RECORDS);
	printf("%-13s %9s %13s %13s %13s %9s %6s %8s %8s %11s %9s\n", "buffer.memory", "paused rec",
	       "used at fail", "peak_used", "peak/memory", "check", "", "batches", "rec/batch",
	       "RSS growth", "RSS/mem");
	for (int i = 0; i < n; i++) {
		const struct mem_result *r = &m[i];
		bool pass = r->peak_used <= (uint64_t)r->buffer_memory && r->error[0] == '\0';
		double growth = (double)(r->rss_after_kib - r->rss_before_kib) * 1024;

		ok = ok && pass;
		printf("%8.0f MiB %10ld %11" PRIu64 " B %11" PRIu64 " B %13.4f %9s %6s %8" PRId64
		       " %8.1f %7.1f MiB %9.2f\n",
		       (double)r->buffer_memory / 1048576, r->paused_records, r->used_at_fail,
		       r->peak_used, (double)r->peak_used / (double)r->buffer_memory,
		       pass ? "<= PASS" : "FAIL", "", r->batches,
		       (double)r->records / (double)r->batches, growth / 1048576,
		       growth / (double)r->buffer_memory);
		if (r->error[0] != '\0')
			printf("  error: %s\n", r->error);
	}
	printf("(peak_used: bytes of buffer.memory reserved by unsent batches at most; RSS "
	       "growth: ru_maxrss after - before, in a child of its own)\n");
	return ok;
}

/* ---- the report ----------------------------------------------------------------- */

static const char *
fs_name(const char *dir)
{
	struct statfs st;

	if (statfs(dir, &st) != 0)
		return "?";
	switch ((unsigned long)st.f_type) {
	case 0xEF53: return "ext2/3/4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794C7630: return "overlayfs";
	default: return "other";
	}
}

static void
print_header(void)
{
	printf("%5s %-17s %8s %7s %8s %9s %7s %7s %7s %7s %8s\n", "parts", "path", "records",
	       "batches", "MB/s", "records/s", "ratio", "/memcpy", "/append", "/codec", "wire MB");
}

/* One row; base and codec (the /append and /codec denominators) may be NULL. */
static void
print_result(const struct bench *b, int parts, const char *path, long records,
	     const struct result *r, const struct result *base, const struct result *codec)
{
	double input = (double)records * (KEY_LEN + VALUE_LEN);
	double mbps = input / r->secs / 1e6;

	printf("%5d %-17s %8ld %7" PRId64 " %8.1f %9.0f %7.3f %7.3f", parts, path, records,
	       r->batches, mbps, (double)records / r->secs, (double)r->wire / (double)r->raw,
	       mbps / b->memcpy_mbps);
	if (base != NULL)
		printf(" %7.2f", base->secs / r->secs);
	else
		printf(" %7s", "-");
	if (codec != NULL && codec->secs > 0)
		printf(" %7.2f", codec->secs / r->secs);
	else
		printf(" %7s", "-");
	printf(" %8.1f\n", (double)r->wire / 1e6);
}

static double
mbps_of(const struct result *r, long records)
{
	return (double)records * (KEY_LEN + VALUE_LEN) / r->secs / 1e6;
}

/* What the tables mean, and what they do not: numbers from this run. */
static void
print_notes(const struct result prod[NPARTS][NCODECS], const struct result *base,
	    const struct result *codec, const struct result *decomp, const struct mem_result *mem)
{
	double none1 = mbps_of(&prod[0][0], RECORDS),
	       none64 = mbps_of(&prod[NPARTS - 1][0], RECORDS);
	double app1 = mbps_of(&base[0], RECORDS), app64 = mbps_of(&base[NPARTS - 1], RECORDS);

	printf("\nnotes:\n");
	printf(" - One thread does everything: send(), batching, compression and the "
	       "log_append() of the\n   drain (Java's producer compresses in send()'s "
	       "thread too, and sends in another).\n   No network, no fsync: the logs go to "
	       "the page cache, so these are CPU costs.\n");
	printf(" - send:none is %.0f%% of log_append at 1 partition and %.0f%% at 64: the "
	       "producer builds each\n   batch record by record (varints, copies) where "
	       "log_append gets it ready-made, and the\n   accumulator finds a partition's "
	       "batch by a linear scan (strcmp of topic names), and\n   producer_poll() "
	       "checks every open batch after every send: O(partitions) a record.\n   "
	       "(log_append itself: %.0f MB/s at 1 partition, %.0f MB/s at 64.)\n",
	       100 * none1 / app1, 100 * none64 / app64, app1, app64);
	printf(" - With a codec, send:X pays three costs in one thread: send:none's work, "
	       "compress:X, and\n   decompress:X, because the drain's log_append() "
	       "decompresses every compressed batch to\n   check its records (log.c, as "
	       "Kafka's broker does).  At 1 partition,\n   1/(1/none + 1/compress + "
	       "1/decompress) predicts / measured MB/s:\n  ");
	for (int c = 1; c < NCODECS; c++) {
		double sum = 1 / none1 + 1 / mbps_of(&codec[c], RECORDS) +
			     1 / mbps_of(&decomp[c], RECORDS);

		printf(" %s %.0f / %.0f%s", compression_name(codecs[c]), 1 / sum,
		       mbps_of(&prod[0][c], RECORDS), c < NCODECS - 1 ? "," : ".\n");
	}
	printf("   A rough model: none's own log_append checks and writes uncompressed bytes, "
	       "which a\n   compressed batch does not, and noise moves single rows by 10-20%%.  "
	       "compress.c makes\n   fresh codec contexts for every batch (deflateInit2, "
	       "ZSTD_compress, ZSTD_createDCtx, ...).\n   The log gets only ratio x the "
	       "input.\n");
	printf(" - ratio counts whole batches (61-byte header, record framing) against "
	       "uncompressed ones;\n   the random-value rows still compress a little: "
	       "their keys (10 of every 110 bytes) and\n   the framing are text.  The JSON "
	       "values are made up, so real data may compress\n   better or worse.\n");
	printf(" - buffer.memory 1 MiB is exactly %d x batch.size: every new batch finds "
	       "memory exhausted,\n   so the producer drains all batches, part-full (%.0f "
	       "records a batch against %.0f with\n   32 MiB), as Kafka's sender does when "
	       "a send waits for memory.\n",
	       MEM_PARTITIONS, (double)mem[0].records / (double)mem[0].batches,
	       (double)mem[1].records / (double)mem[1].batches);
	printf(" - peak_used counts the bytes reserved (batch.size a batch), not malloc's; "
	       "RSS growth adds\n   allocator overhead, the batch structs, the drain's "
	       "scratch buffer and the 64 partitions'\n   in-memory index entries.  Best of "
	       "%d passes on a shared machine: compare rows of one\n   run, not runs.\n",
	       PASSES);
}

int
main(void)
{
	struct bench b = { .rng = 0x9e3779b97f4a7c15ULL };
	struct result prod[NPARTS][NCODECS], base[NPARTS], rnd[NCODECS], codec[NCODECS],
		decomp[NCODECS];
	struct mem_result mem[2];
	struct records rs;
	struct kerr e = { 0 };
	struct config cfg;
	char path[128];
	double start = now_s();
	bool mem_ok;

	snprintf(b.dir, sizeof(b.dir), "/tmp/klab-bench.XXXXXX");
	if (mkdtemp(b.dir) == NULL)
		die("mkdtemp", NULL);

	/* part 2 first: the children fork from a small process */
	mem_run(&b, 1 << 20, &mem[0]);
	mem_run(&b, 32 << 20, &mem[1]);

	b.memcpy_mbps = measure_memcpy();
	printf("bench_produce: %s (%s); memcpy of %u MiB buffers: %.0f MB/s\n", b.dir,
	       fs_name(b.dir), MEMCPY_BYTES >> 20, b.memcpy_mbps);
	snprintf(path, sizeof(path), "%s/topics", b.dir);
	config_init(&cfg);
	if (topics_open(&b.store, disk_real(), path, &cfg, 516, T0, &e) != KLAB_OK)
		die("topics_open", kerr_msg(&e));
	config_free(&cfg);

	/* part 1: throughput, the baselines interleaved with the producer */
	memset(prod, 0, sizeof(prod));
	memset(base, 0, sizeof(base));
	memset(rnd, 0, sizeof(rnd));
	memset(codec, 0, sizeof(codec));
	memset(decomp, 0, sizeof(decomp));
	make_records(&rs, RECORDS, false, b.rng);
	for (int pi = 0; pi < NPARTS; pi++) {
		struct prebuilt pb;

		prebuild(&pb, &rs, partition_counts[pi]);
		for (int pass = 0; pass < PASSES; pass++) {
			append_pass(&b, &rs, &pb, partition_counts[pi], &base[pi]);
			for (int c = 0; c < NCODECS; c++) {
				if (pi == 0 && c > 0)
					codec_pass(&pb, codecs[c], &codec[c], &decomp[c]);
				produce_pass(&b, &rs, partition_counts[pi], codecs[c],
					     &prod[pi][c]);
			}
		}
		prebuilt_free(&pb);
		if (prod[pi][0].batches != base[pi].batches)
			printf("note: %d partitions: the producer made %" PRId64
			       " batches, the pre-built log_append baseline %" PRId64 "\n",
			       partition_counts[pi], prod[pi][0].batches, base[pi].batches);
	}
	free_records(&rs);
	make_records(&rs, RANDOM_RECORDS, true, b.rng);
	for (int c = 0; c < NCODECS; c++)
		produce_pass(&b, &rs, 16, codecs[c], &rnd[c]);
	free_records(&rs);

	printf("\nproduce: %d keyed records (%d B key + %d B JSON-ish value), uniform over %d "
	       "keys;\nbatch.size %d, linger.ms %s, buffer.memory 32 MiB, poll after every "
	       "send, final flush; best of %d\n",
	       RECORDS, KEY_LEN, VALUE_LEN, KEYS, BATCH_SIZE, LINGER, PASSES);
	print_header();
	for (int c = 1; c < NCODECS; c++) {
		snprintf(path, sizeof(path), "compress:%s", compression_name(codecs[c]));
		print_result(&b, 1, path, RECORDS, &codec[c], NULL, NULL);
		snprintf(path, sizeof(path), "decompress:%s", compression_name(codecs[c]));
		print_result(&b, 1, path, RECORDS, &decomp[c], NULL, NULL);
	}
	for (int pi = 0; pi < NPARTS; pi++) {
		print_result(&b, partition_counts[pi], "log_append", RECORDS, &base[pi], NULL,
			     NULL);
		for (int c = 0; c < NCODECS; c++) {
			snprintf(path, sizeof(path), "send:%s", compression_name(codecs[c]));
			print_result(&b, partition_counts[pi], path, RECORDS, &prod[pi][c],
				     &base[pi], c > 0 ? &codec[c] : NULL);
		}
	}
	printf("(MB/s: key+value bytes handed in (or covered), 10^6 B/s; ratio: wire / "
	       "uncompressed batch bytes;\n log_append: stage 1 alone on the same records "
	       "pre-built into the same batches;\n compress:X, decompress:X: "
	       "batch_compress(), batch_decompress() alone on those batches;\n /memcpy, "
	       "/append, /codec: MB/s over memcpy's, log_append's, compress:X's)\n");

	printf("\nrandom values: %d records, %d random bytes each, 16 partitions, one pass\n",
	       RANDOM_RECORDS, VALUE_LEN);
	print_header();
	for (int c = 0; c < NCODECS; c++) {
		snprintf(path, sizeof(path), "send:%s", compression_name(codecs[c]));
		print_result(&b, 16, path, RANDOM_RECORDS, &rnd[c], NULL, NULL);
	}

	mem_ok = print_memory(mem, 2);
	print_notes(prod, base, codec, decomp, mem);
	if (topics_close(b.store) != KLAB_OK)
		die("topics_close", NULL);
	remove_tree(b.dir);
	printf("bench_produce: %.1f s\n", now_s() - start);
	return mem_ok ? 0 : 1;
}
