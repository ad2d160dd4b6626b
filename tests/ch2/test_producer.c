/*
 * test_producer.c - the producer of chapter 2 end to end: partitioner,
 * accumulator and the partition logs.  Keyed records land on
 * toPositive(murmur2(key)) % n and keep their per-key order; null keys
 * stick to one partition per batch (KIP-480) and so make fuller batches
 * than round robin; explicit partitions, unknown topics and partitions;
 * a sender that does not drain makes send() fail after max.block.ms with
 * Kafka's message; a topic deleted under pending batches is reported.
 *
 * Time is passed in; the tests poll the producer after every send, as the
 * REPL does after every command.
 */
#include "testutil.h"

#include "core/murmur2.h"
#include "log/compress.h"
#include "topic/producer.h"
#include "net/disk_real.h"

#define SEED_DEFAULT 7777ull
#define LINGER_FOREVER "1000000000"

struct fixture {
	char dir[64];
	struct topic_store *store;
	struct producer prod;
	bool have_prod;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kerr e = { 0 };
	struct config c;

	tu_tmpdir_make(f->dir, sizeof(f->dir));
	config_init(&c);
	if (topics_open(&f->store, disk_real(), f->dir, &c, 516, 0, &e) != KLAB_OK)
		fail_msg("topics_open: %s", kerr_msg(&e));
	config_free(&c);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->have_prod)
		producer_free(&f->prod);
	topics_close(f->store);
	tu_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* Start f's producer with the producer settings in props ("k=v\n..."). */
static struct producer *
start(struct fixture *f, enum partitioner_kind kind, const char *props)
{
	struct kerr e = { 0 };
	struct config c;

	config_init(&c);
	if (config_parse(&c, props, "producer.properties", &e) != KLAB_OK ||
	    producer_init(&f->prod, f->store, &c, kind, 1, &e) != KLAB_OK)
		fail_msg("producer: %s", kerr_msg(&e));
	config_free(&c);
	f->have_prod = true;
	return &f->prod;
}

static struct topic *
create(struct fixture *f, const char *name, int32_t partitions)
{
	struct kerr e = { 0 };

	if (topics_create(f->store, name, partitions, NULL, 0, NULL, 0, &e) != KLAB_OK)
		fail_msg("topics_create: %s", kerr_msg(&e));
	return topics_find(f->store, name);
}

/* Send key (NULL: a null key) and value; returns the rc. */
static int
send_rec(struct producer *p, const char *topic, int32_t partition, const char *key,
	 const char *value, int64_t now, struct send_result *res, struct kerr *e)
{
	struct record_in r = { 0 };

	r.kv = (struct kv){ (const uint8_t *)key, key ? (int32_t)strlen(key) : -1,
			    (const uint8_t *)value, (int32_t)strlen(value) };
	r.timestamp = now;
	return producer_send(p, topic, partition, &r, now, res, e);
}

static struct send_result
send_ok(struct producer *p, const char *topic, int32_t partition, const char *key,
	const char *value, int64_t now)
{
	struct send_result res;
	struct kerr e = { 0 };

	if (send_rec(p, topic, partition, key, value, now, &res, &e) != KLAB_OK)
		fail_msg("producer_send %s: %s", topic, kerr_msg(&e));
	return res;
}

static int32_t
poll_ok(struct producer *p, int64_t now, bool flush)
{
	struct kerr e = { 0 };
	int32_t sent = 0;

	if (producer_poll(p, now, flush, &sent, &e) != KLAB_OK)
		fail_msg("producer_poll: %s", kerr_msg(&e));
	return sent;
}

/* The records of one partition, in offset order. */
struct rec_list {
	char key[4096][24];
	char value[4096][64];
	int n;
	int batches;
};

static void
copy_bytes(char *out, size_t n, const uint8_t *p, int32_t len)
{
	if (len < 0)
		snprintf(out, n, "<null>");
	else
		snprintf(out, n, "%.*s", (int)len, (const char *)p);
}

static void
collect_batch(struct rec_list *rl, const uint8_t *p, size_t len)
{
	struct batch_header h;
	struct record_iter it;
	struct record r;
	struct buf plain;

	buf_init(&plain);
	assert_int_equal(batch_validate(p, len, &h, NULL), KLAB_OK);
	if (h.attributes & BATCH_ATTR_COMPRESSION) {
		assert_int_equal(batch_decompress(p, len, 1 << 24, &plain), KLAB_OK);
		p = plain.data;
		len = plain.len;
		assert_int_equal(batch_validate(p, len, &h, NULL), KLAB_OK);
	}
	record_iter_init(&it, p, len, &h);
	while (record_iter_next(&it, &r) == 1) {
		assert_true(rl->n < 4096);
		copy_bytes(rl->key[rl->n], sizeof(rl->key[0]), r.kv.key, r.kv.key_len);
		copy_bytes(rl->value[rl->n], sizeof(rl->value[0]), r.kv.value, r.kv.value_len);
		rl->n++;
	}
	rl->batches++;
	buf_free(&plain);
}

static struct rec_list *
read_partition(const struct topic *t, int32_t p)
{
	struct rec_list *rl = calloc(1, sizeof(*rl));
	struct batch_header h;
	struct buf b;

	assert_non_null(rl);
	buf_init(&b);
	assert_int_equal(tu_read_all(t->logs[p], 1 << 20, &b), KLAB_OK);
	for (size_t at = 0; at < b.len; at += batch_size(&h)) {
		assert_int_equal(batch_header_parse(b.data + at, b.len - at, &h), KLAB_OK);
		collect_batch(rl, b.data + at, batch_size(&h));
	}
	buf_free(&b);
	return rl;
}

static int32_t
murmur2_partition(const char *key, int32_t n)
{
	return murmur2_to_positive(murmur2(key, strlen(key))) % n;
}

/* ---- keys ------------------------------------------------------------------ */

static void
test_ch2_producer_keyed_records_go_to_murmur2_partition(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "keyed", 7);
	struct producer *p = start(f, PARTITIONER_DEFAULT, "linger.ms=5\n");
	int per_partition[7] = { 0 }, found = 0;
	char key[32];

	for (int i = 0; i < 300; i++) {
		struct send_result res;

		snprintf(key, sizeof(key), "user-%d", i);
		res = send_ok(p, "keyed", PARTITION_ANY, key, key, i);
		assert_int_equal(res.choice.how, PARTITION_HOW_MURMUR2);
		assert_int_equal(res.choice.hash, murmur2(key, strlen(key)));
		if (res.choice.partition != murmur2_partition(key, 7))
			fail_msg("%s went to %d, murmur2 says %d", key, res.choice.partition,
				 murmur2_partition(key, 7));
		per_partition[res.choice.partition]++;
		poll_ok(p, i, false);
	}
	poll_ok(p, 1000, true);
	for (int32_t part = 0; part < 7; part++) {
		struct rec_list *rl = read_partition(t, part);

		assert_true(per_partition[part] > 0); /* 300 keys reach all of 7 partitions */
		assert_int_equal(rl->n, per_partition[part]);
		for (int i = 0; i < rl->n; i++)
			if (murmur2_partition(rl->key[i], 7) != part)
				fail_msg("%s is in partition %d", rl->key[i], part);
		found += rl->n;
		free(rl);
	}
	assert_int_equal(found, 300);
	assert_int_equal(p->stats.records, 300);
}

static void
test_ch2_producer_empty_key_is_not_a_null_key(void **state)
{
	struct fixture *f = *state;
	struct producer *p;
	struct send_result res;

	create(f, "k", 5);
	p = start(f, PARTITIONER_DEFAULT, "");
	res = send_ok(p, "k", PARTITION_ANY, "", "v", 0);
	assert_int_equal(res.choice.how, PARTITION_HOW_MURMUR2);
	assert_int_equal(res.choice.partition, murmur2_to_positive(murmur2("", 0)) % 5);
	res = send_ok(p, "k", PARTITION_ANY, NULL, "v", 0);
	assert_int_equal(res.choice.how, PARTITION_HOW_STICKY);
}

static void
test_ch2_producer_per_key_order_is_kept(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct topic *t = create(f, "ordered", 5);
	struct producer *p = start(f, PARTITIONER_DEFAULT, "linger.ms=3\nbatch.size=512\n");
	int sent[40] = { 0 }, seen[40] = { 0 }, total = 0;
	struct tu_rng rng;
	char key[16], value[32];
	int64_t now = 0;

	tu_rng_init(&rng, seed);
	while (total < 40 * 25) {
		int k = (int)tu_rng_below(&rng, 40);

		if (sent[k] == 25)
			continue;
		snprintf(key, sizeof(key), "k%d", k);
		snprintf(value, sizeof(value), "k%d:%d", k, sent[k]++);
		send_ok(p, "ordered", PARTITION_ANY, key, value, now);
		total++;
		now += (int64_t)tu_rng_below(&rng, 2);
		poll_ok(p, now, false);
	}
	poll_ok(p, now, true);
	for (int32_t part = 0; part < 5; part++) {
		struct rec_list *rl = read_partition(t, part);

		for (int i = 0; i < rl->n; i++) {
			int k = atoi(rl->key[i] + 1), v;

			assert_int_equal(murmur2_partition(rl->key[i], 5), part);
			v = atoi(strchr(rl->value[i], ':') + 1);
			if (v != seen[k])
				fail_msg("seed %" PRIu64 ": key %s: value %d after %d", seed,
					 rl->key[i], v, seen[k] - 1);
			seen[k]++;
		}
		assert_true(rl->batches > 1);
		free(rl);
	}
	for (int k = 0; k < 40; k++)
		assert_int_equal(seen[k], 25);
}

/* ---- null keys: sticky and round robin -------------------------------------- */

static void
test_ch2_producer_sticky_fills_a_batch_then_moves(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "sticky", 4);
	struct producer *p =
		start(f, PARTITIONER_STICKY, "batch.size=1024\nlinger.ms=" LINGER_FOREVER "\n");
	int32_t part[80];
	int moves = 0, run = 0, run_len = -1, in_logs = 0;
	char value[128];

	memset(value, 'x', 100);
	value[100] = '\0';
	for (int i = 0; i < 80; i++) {
		struct send_result res = send_ok(p, "sticky", PARTITION_ANY, NULL, value, i);
		int32_t sent;

		part[i] = res.choice.partition;
		assert_int_equal(res.choice.how, PARTITION_HOW_STICKY);
		sent = poll_ok(p, i, false);
		if (i == 0 || part[i] == part[i - 1]) {
			assert_false(i > 0 && res.new_batch); /* same partition, same batch */
			assert_int_equal(sent, 0);	      /* linger.ms holds an open batch */
			run++;
			continue;
		}
		/* the sticky partition moved: only when its batch was full ... */
		assert_true(res.switched);
		assert_true(res.new_batch);
		if (run_len >= 0)
			assert_int_equal(run, run_len); /* equal records, equal batches */
		run_len = run;
		run = 1;
		moves++;
		/* ... and that full batch goes out now, not after linger.ms */
		assert_int_equal(sent, 1);
	}
	assert_true(moves >= 5);
	assert_true(run_len >= 5); /* 100-byte values in 1024-byte batches */
	assert_int_equal(p->stats.batches, moves);
	for (int32_t q = 0; q < 4; q++) {
		struct rec_list *rl = read_partition(t, q);

		in_logs += rl->n;
		assert_int_equal(rl->n, rl->batches * run_len); /* only full batches so far */
		free(rl);
	}
	assert_int_equal(in_logs, moves * run_len);
}

/* Average records per batch for 400 null-key records, one a millisecond. */
static double
records_per_batch(struct fixture *f, const char *topic, enum partitioner_kind kind,
		  const char *linger)
{
	char props[128];
	struct producer *p;
	double avg;

	create(f, topic, 4);
	snprintf(props, sizeof(props), "batch.size=16384\nlinger.ms=%s\n", linger);
	p = start(f, kind, props);
	for (int i = 0; i < 400; i++) {
		send_ok(p, topic, PARTITION_ANY, NULL, "some value of a null-key record", i);
		poll_ok(p, i, false);
	}
	poll_ok(p, 400, true);
	assert_int_equal(p->stats.records, 400);
	avg = (double)p->stats.records / (double)p->stats.batches;
	producer_free(p);
	f->have_prod = false;
	return avg;
}

static void
test_ch2_producer_sticky_batches_are_fuller_than_round_robin(void **state)
{
	struct fixture *f = *state;
	double rr0 = records_per_batch(f, "rr0", PARTITIONER_ROUND_ROBIN, "0");
	double st0 = records_per_batch(f, "st0", PARTITIONER_STICKY, "0");
	double rr20 = records_per_batch(f, "rr20", PARTITIONER_ROUND_ROBIN, "20");
	double st20 = records_per_batch(f, "st20", PARTITIONER_STICKY, "20");

	print_message("records per batch: linger.ms=0 round-robin %.1f sticky %.1f; "
		      "linger.ms=20 round-robin %.1f sticky %.1f\n",
		      rr0, st0, rr20, st20);
	/* linger.ms=0: every record is sent alone, whichever partitioner */
	assert_true(rr0 == 1.0 && st0 == 1.0);
	/* linger.ms=20: round robin spreads 20 ms of records over 4 batches,
	 * sticky puts them in one */
	assert_true(rr20 > 3.0 && rr20 < 8.0);
	assert_true(st20 > 2.5 * rr20);
}

static void
test_ch2_producer_round_robin_cycles(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "rr", 4);
	struct producer *p = start(f, PARTITIONER_ROUND_ROBIN, "linger.ms=0\n");
	int32_t first = -1;

	for (int i = 0; i < 12; i++) {
		struct send_result res =
			send_ok(p, "rr", PARTITION_ANY, i % 2 ? "same-key" : NULL, "v", i);

		assert_int_equal(res.choice.how, PARTITION_HOW_ROUND_ROBIN);
		if (first < 0)
			first = res.choice.partition;
		assert_int_equal(res.choice.partition, (first + i) % 4); /* keys are ignored */
		poll_ok(p, i, false);
	}
	for (int32_t q = 0; q < 4; q++)
		assert_int_equal(t->logs[q]->next_offset, 3);
}

/* ---- explicit partitions and errors ------------------------------------------ */

static void
test_ch2_producer_explicit_partition_wins(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "explicit", 3);
	struct producer *p = start(f, PARTITIONER_DEFAULT, "");
	const char *key = "user-1";
	int32_t other = (murmur2_partition(key, 3) + 1) % 3;
	struct send_result res = send_ok(p, "explicit", other, key, "v", 0);
	struct rec_list *rl;

	assert_int_equal(res.choice.how, PARTITION_HOW_EXPLICIT);
	assert_int_equal(res.choice.partition, other);
	poll_ok(p, 0, true);
	rl = read_partition(t, other);
	assert_int_equal(rl->n, 1);
	assert_string_equal(rl->key[0], key);
	free(rl);
	assert_int_equal(t->logs[murmur2_partition(key, 3)]->next_offset, 0);
}

static void
test_ch2_producer_unknown_topic_and_partition(void **state)
{
	struct fixture *f = *state;
	struct producer *p;
	struct send_result res;
	struct kerr e = { 0 };

	create(f, "three", 3);
	p = start(f, PARTITIONER_DEFAULT, "");
	assert_int_equal(send_rec(p, "nosuch", PARTITION_ANY, "k", "v", 0, &res, &e),
			 KLAB_ENOTFOUND);
	assert_non_null(strstr(kerr_msg(&e), "nosuch"));
	assert_non_null(strstr(kerr_msg(&e), "UNKNOWN_TOPIC_OR_PARTITION"));
	assert_int_equal(send_rec(p, "three", 3, "k", "v", 0, &res, &e), KLAB_EINVAL);
	assert_non_null(strstr(kerr_msg(&e), "0..2"));
	assert_int_equal(send_rec(p, "three", -2, "k", "v", 0, &res, &e), KLAB_EINVAL);
	assert_int_equal(send_rec(p, "three", INT32_MAX, NULL, "v", 0, &res, &e), KLAB_EINVAL);
	assert_int_equal(p->acc.n, 0); /* nothing was queued */
	assert_int_equal(p->stats.records, 0);
	send_ok(p, "three", 2, "k", "v", 0);
	assert_int_equal(p->stats.records, 1);
}

static void
test_ch2_producer_record_too_large(void **state)
{
	struct fixture *f = *state;
	struct producer *p;
	struct send_result res;
	struct kerr e = { 0 };
	char big[2048];

	create(f, "t", 1);
	p = start(f, PARTITIONER_DEFAULT, "max.request.size=1024\n");
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(send_rec(p, "t", PARTITION_ANY, "k", big, 0, &res, &e), KLAB_ETOOLARGE);
	assert_non_null(strstr(kerr_msg(&e), "max.request.size"));
	assert_int_equal(p->acc.n, 0);
}

/* ---- memory and the sender -------------------------------------------------- */

static void
test_ch2_producer_paused_sender_blocks_then_times_out(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "blocked", 8);
	struct producer *p = start(f, PARTITIONER_ROUND_ROBIN,
				   "batch.size=1024\nbuffer.memory=4096\nmax.block.ms=750\n"
				   "linger.ms=" LINGER_FOREVER "\n");
	struct send_result res;
	struct kerr e = { 0 };
	int rc, accepted = 0;

	p->paused = true;
	for (int i = 0; i < 4; i++) { /* four batches: all of buffer.memory */
		send_ok(p, "blocked", PARTITION_ANY, NULL, "v", i);
		accepted++;
		assert_int_equal(poll_ok(p, i, false), 0);
	}
	assert_int_equal(p->acc.used, 4096);
	rc = send_rec(p, "blocked", PARTITION_ANY, NULL, "v", 10, &res, &e);
	assert_int_equal(rc, KLAB_ETIMEDOUT);
	assert_non_null(strstr(kerr_msg(&e), "Failed to allocate memory within the configured "
					     "max blocking time"));
	assert_non_null(strstr(kerr_msg(&e), "750"));
	assert_int_equal(res.blocked_ms, 750);
	assert_int_equal(res.drained, 0);
	assert_int_equal(p->stats.records, accepted);
	for (int32_t q = 0; q < 8; q++)
		assert_int_equal(t->logs[q]->next_offset, 0);

	/* the broker answers again: memory is exhausted, so everything drains */
	p->paused = false;
	assert_int_equal(poll_ok(p, 11, false), 4);
	assert_int_equal(p->acc.used, 0);
	send_ok(p, "blocked", PARTITION_ANY, NULL, "v", 12);
	poll_ok(p, 12, true);
	accepted++;
	rc = 0;
	for (int32_t q = 0; q < 8; q++)
		rc += (int)t->logs[q]->next_offset;
	assert_int_equal(rc, accepted);
}

static void
test_ch2_producer_full_memory_drains_to_make_room(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "busy", 8);
	struct producer *p = start(f, PARTITIONER_ROUND_ROBIN,
				   "batch.size=1024\nbuffer.memory=4096\n"
				   "linger.ms=" LINGER_FOREVER "\n");
	struct send_result res;
	int64_t total = 0;

	for (int i = 0; i < 4; i++)
		send_ok(p, "busy", PARTITION_ANY, NULL, "v", i);
	res = send_ok(p, "busy", PARTITION_ANY, NULL, "v", 4); /* a fifth batch */
	assert_true(res.drained >= 1);
	assert_int_equal(res.blocked_ms, 0);
	assert_true(p->acc.used <= 4096);
	for (int32_t q = 0; q < 8; q++)
		total += t->logs[q]->next_offset;
	assert_int_equal(total, 4); /* the drained records are in the logs */
}

static void
test_ch2_producer_topic_deleted_with_pending_batches(void **state)
{
	struct fixture *f = *state;
	struct topic *stays;
	struct producer *p;
	struct kerr e = { 0 };
	int32_t sent = 0;

	create(f, "gone", 1);
	stays = create(f, "stays", 1);
	p = start(f, PARTITIONER_DEFAULT, "linger.ms=" LINGER_FOREVER "\n");
	for (int i = 0; i < 5; i++)
		send_ok(p, "gone", PARTITION_ANY, "k", "v", i);
	for (int i = 0; i < 3; i++)
		send_ok(p, "stays", PARTITION_ANY, "k", "v", 10 + i);
	assert_int_equal(topics_delete(f->store, "gone", &e), KLAB_OK);

	assert_int_equal(producer_poll(p, 20, true, &sent, &e), KLAB_ENOTFOUND);
	assert_non_null(strstr(kerr_msg(&e), "'gone'"));
	assert_non_null(strstr(kerr_msg(&e), "5 records dropped"));
	/* the other topic's batch is not lost with it */
	poll_ok(p, 21, true);
	assert_int_equal(stays->logs[0]->next_offset, 3);
	assert_int_equal(p->acc.n, 0);
	assert_int_equal(p->acc.used, 0);
	assert_int_equal(p->stats.batches, 1);
	assert_int_equal(
		send_rec(p, "gone", PARTITION_ANY, "k", "v", 30, &(struct send_result){ 0 }, &e),
		KLAB_ENOTFOUND);
}

static void
test_ch2_producer_compressed_batches_reach_the_log(void **state)
{
	struct fixture *f = *state;
	struct topic *t = create(f, "zipped", 1);
	struct producer *p = start(f, PARTITIONER_DEFAULT, "compression.type=zstd\nlinger.ms=10\n");
	struct rec_list *rl;
	struct buf b;
	struct batch_header h;
	char value[64];

	for (int i = 0; i < 50; i++) {
		snprintf(value, sizeof(value), "value %d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
		send_ok(p, "zipped", PARTITION_ANY, "key", value, 0);
	}
	poll_ok(p, 10, false);
	assert_int_equal(t->logs[0]->next_offset, 50);
	assert_true(p->stats.wire_bytes < p->stats.uncompressed_bytes);
	buf_init(&b);
	assert_int_equal(tu_read_all(t->logs[0], 1 << 20, &b), KLAB_OK);
	assert_int_equal(batch_header_parse(b.data, b.len, &h), KLAB_OK);
	assert_int_equal(h.attributes & BATCH_ATTR_COMPRESSION, COMPRESSION_ZSTD);
	buf_free(&b);
	rl = read_partition(t, 0);
	assert_int_equal(rl->n, 50);
	for (int i = 0; i < 50; i++) {
		snprintf(value, sizeof(value), "value %d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
		assert_string_equal(rl->value[i], value);
	}
	free(rl);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch2_producer_keyed_records_go_to_murmur2_partition),
		T(test_ch2_producer_empty_key_is_not_a_null_key),
		T(test_ch2_producer_per_key_order_is_kept),
		T(test_ch2_producer_sticky_fills_a_batch_then_moves),
		T(test_ch2_producer_sticky_batches_are_fuller_than_round_robin),
		T(test_ch2_producer_round_robin_cycles),
		T(test_ch2_producer_explicit_partition_wins),
		T(test_ch2_producer_unknown_topic_and_partition),
		T(test_ch2_producer_record_too_large),
		T(test_ch2_producer_paused_sender_blocks_then_times_out),
		T(test_ch2_producer_full_memory_drains_to_make_room),
		T(test_ch2_producer_topic_deleted_with_pending_batches),
		T(test_ch2_producer_compressed_batches_reach_the_log),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
