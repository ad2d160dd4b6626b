/*
 * test_hostile_proto.c - well-formed requests whose cost or meaning is
 * hostile, each against a real `klab broker` (hostile.h):
 *
 *   a Metadata request naming a million empty topics: the decoder's cost
 *   is bounded by the request's size, and the refusal is logged;
 *   a CreateTopics validate_only request of 8,000 topics: the duplicate
 *   check is O(n log n), another client is answered meanwhile;
 *   a Fetch parked on one partition listed 200,000 times: a Produce to
 *   that partition is not slowed by the repetition;
 *   a Produce of a control batch (attribute bit 0x20): INVALID_RECORD;
 *   forged idempotent producers (ids, epochs, sequences): refused, others
 *   unaffected, a retry recognised after a restart;
 *   topic names holding a NUL byte: never cut at the NUL;
 *   names of 241..249 characters: INVALID_TOPIC_EXCEPTION, not -1 or
 *   LEADER_NOT_AVAILABLE forever;
 *   flexible frames that lie (KIP-482's varints): a compact array of 2^31
 *   elements, a varint of six bytes, a tagged field longer than what is
 *   left: the connection closes with a line naming the API, version and
 *   client, and the broker goes on answering everyone else.
 *
 * The sizes are chosen so that each test failed clearly on the broker
 * before its fix and runs in a second or two after it.
 */
#include "testutil.h"

#include "hostile.h"

#include "broker/broker.h"
#include "core/crc32c.h"
#include "log/batch.h"

/* ---- helpers ----------------------------------------------------------------- */

/* Send body as api/ver and read the answer (decoded; NULL: closed or bad). */
static struct pvalue *
ask(int fd, int16_t api, int16_t ver, const struct pvalue *body, int timeout_ms)
{
	struct buf f;
	struct pvalue *resp = NULL;

	buf_init(&f);
	if (hc_request(fd, api, ver, 7, body) == 0 && hc_read_frame(fd, &f, timeout_ms) == 0)
		resp = hc_decode(api, ver, &f);
	buf_free(&f);
	return resp;
}

/* A broker with auto-creation as given; asserts it started. */
static void
start(struct hb *b, bool auto_create)
{
	if (hb_start(b,
		     auto_create ? "auto.create.topics.enable=true\n"
				 : "auto.create.topics.enable=false\n",
		     0, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(b));
}

/* CreateTopics v1 of one topic name[0..len) (one partition): its error code. */
static int64_t
create_topic(int fd, const char *name, int32_t len)
{
	struct pvalue *body = hc_body(KAPI_CREATE_TOPICS), *resp, *t;
	int64_t err;

	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_bytes(t, "name", name, len);
	pvalue_set_int(t, "num_partitions", 1);
	pvalue_set_int(t, "replication_factor", 1);
	pvalue_set_int(body, "timeout_ms", 5000);
	resp = ask(fd, KAPI_CREATE_TOPICS, 1, body, 10000);
	assert_non_null(resp);
	err = pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code");
	pvalue_free(body);
	pvalue_free(resp);
	return err;
}

/* Metadata v4 for one topic name[0..len): its error code. */
static int64_t
metadata_topic(int fd, const char *name, int32_t len)
{
	struct pvalue *body = hc_body(KAPI_METADATA), *resp;
	int64_t err;

	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topics"), 1), KLAB_OK);
	pvalue_set_bytes(pvalue_at(pvalue_array(body, "topics"), 0), "name", name, len);
	pvalue_set_int(body, "allow_auto_topic_creation", 1);
	resp = ask(fd, KAPI_METADATA, 4, body, 10000);
	assert_non_null(resp);
	assert_int_equal(pvalue_count(pvalue_array(resp, "topics")), 1);
	err = pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code");
	pvalue_free(body);
	pvalue_free(resp);
	return err;
}

/*
 * Produce v3 (acks=1) of batch[0..blen) to name[0..len) partition 0: the
 * partition's error code; *ms (may be NULL) the time it took.
 */
static int64_t
produce(int fd, const char *name, int32_t len, const uint8_t *batch, size_t blen, int64_t *ms)
{
	struct pvalue *body = hc_body(KAPI_PRODUCE), *resp, *t, *p;
	int64_t err, t0 = h_now_ms();

	pvalue_set_int(body, "acks", 1);
	pvalue_set_int(body, "timeout_ms", 5000);
	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(body, "topic_data"), 0);
	pvalue_set_bytes(t, "name", name, len);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", 0);
	pvalue_set_bytes(p, "records", batch, (int32_t)blen);
	resp = ask(fd, KAPI_PRODUCE, 3, body, 20000);
	assert_non_null(resp);
	if (ms != NULL)
		*ms = h_now_ms() - t0;
	t = pvalue_at(pvalue_array(resp, "responses"), 0);
	err = pvalue_get_int(pvalue_at(pvalue_array(t, "partition_responses"), 0), "error_code");
	pvalue_free(body);
	pvalue_free(resp);
	return err;
}

/* ListOffsets v1 latest of name-0 (an existing topic): the offset. */
static int64_t
latest_offset(int fd, const char *name)
{
	struct pvalue *body = hc_body(KAPI_LIST_OFFSETS), *resp, *t, *p;
	int64_t off;

	pvalue_set_int(body, "replica_id", -1);
	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_str(t, "name", name);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	pvalue_set_int(p, "timestamp", -1);
	resp = ask(fd, KAPI_LIST_OFFSETS, 1, body, 10000);
	assert_non_null(resp);
	t = pvalue_at(pvalue_array(resp, "topics"), 0);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	assert_int_equal(pvalue_get_int(p, "error_code"), KERR_NONE);
	off = pvalue_get_int(p, "offset");
	pvalue_free(body);
	pvalue_free(resp);
	return off;
}

/* ---- item 3: decode cost bounded by the request's size ------------------------ */

/*
 * One Metadata v1 request naming a million empty topics (2 MB): before,
 * decoding it and answering it took ~80 bytes of tree per 2 bytes of
 * request (a peak of several hundred MB under ASan); now the decoder
 * refuses a tree over its bound, the broker logs why and closes, and its
 * peak grows by little more than the frame itself.
 */
static void
test_hostile_metadata_empty_names_memory_bounded(void **state)
{
	const uint32_t n = 1000000;
	struct hb b;
	struct buf req, f;
	long before, after;
	int fd;

	(void)state;
	start(&b, false);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	before = hb_rss_peak_kb(&b);
	buf_init(&req);
	buf_init(&f);
	/* size, api 3, v1, corr 1, client_id null, then the topics array */
	buf_put_be32(&req, 2 + 2 + 4 + 2 + 4 + 2 * n);
	buf_put_be16(&req, KAPI_METADATA);
	buf_put_be16(&req, 1);
	buf_put_be32(&req, 1);
	buf_put_be16(&req, 0xFFFF);
	buf_put_be32(&req, n);
	for (uint32_t i = 0; i < n; i++)
		buf_put_be16(&req, 0);
	assert_true(buf_ok(&req));
	assert_int_equal(hc_send(fd, req.data, req.len), 0);
	(void)hc_read_frame(fd, &f, 60000); /* answered (before) or closed (now) */
	after = hb_rss_peak_kb(&b);
	print_message("metadata of %u empty names (%zu bytes): peak %ld -> %ld kB\n", n, req.len,
		      before, after);
	assert_true(after - before < 48 * 1024);
	assert_non_null(strstr(hb_log(&b), "decoded"));
	assert_true(hc_probe_ms(b.port, 5000) >= 0);
	close(fd);
	buf_free(&req);
	buf_free(&f);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 4: CreateTopics' duplicate check ------------------------------------ */

/*
 * 8,000 topics in one validate_only CreateTopics (160 KB): the duplicate
 * check compared every pair (seconds under ASan, 37 s for 40,000 at -O2);
 * now it sorts.  The answer and another client's probe both come quickly,
 * every topic passes, and a duplicate pair is still INVALID_REQUEST.
 */
static void
test_hostile_create_topics_many_names_is_not_quadratic(void **state)
{
	const int32_t n = 8000;
	struct pvalue *body = hc_body(KAPI_CREATE_TOPICS), *resp, *topics;
	char(*names)[16] = calloc((size_t)n, 16);
	struct hb b;
	struct buf f;
	int64_t t0, probe, ms;
	int fd;

	(void)state;
	assert_non_null(names);
	start(&b, false);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	topics = pvalue_array(body, "topics");
	assert_int_equal(pvalue_array_resize(topics, n), KLAB_OK);
	for (int32_t i = 0; i < n; i++) {
		struct pvalue *t = pvalue_at(topics, i);

		/* the last name repeats the first: both INVALID_REQUEST */
		snprintf(names[i], 16, "t%05d", i == n - 1 ? 0 : (int)i);
		pvalue_set_str(t, "name", names[i]);
		pvalue_set_int(t, "num_partitions", 1);
		pvalue_set_int(t, "replication_factor", 1);
	}
	pvalue_set_int(body, "timeout_ms", 5000);
	pvalue_set_int(body, "validate_only", 1);
	buf_init(&f);
	t0 = h_now_ms();
	assert_int_equal(hc_request(fd, KAPI_CREATE_TOPICS, 1, 3, body), 0);
	probe = hc_probe_ms(b.port, 120000);
	assert_int_equal(hc_read_frame(fd, &f, 120000), 0);
	ms = h_now_ms() - t0;
	print_message("CreateTopics of %d names: answered in %lld ms, probe %lld ms\n", (int)n,
		      (long long)ms, (long long)probe);
	resp = hc_decode(KAPI_CREATE_TOPICS, 1, &f);
	assert_non_null(resp);
	topics = pvalue_array(resp, "topics");
	assert_int_equal(pvalue_count(topics), n);
	assert_int_equal(pvalue_get_int(pvalue_at(topics, 0), "error_code"), KERR_INVALID_REQUEST);
	assert_int_equal(pvalue_get_int(pvalue_at(topics, 1), "error_code"), KERR_NONE);
	assert_int_equal(pvalue_get_int(pvalue_at(topics, n - 2), "error_code"), KERR_NONE);
	assert_int_equal(pvalue_get_int(pvalue_at(topics, n - 1), "error_code"),
			 KERR_INVALID_REQUEST);
	assert_true(probe >= 0 && probe < 1500);
	assert_true(ms < 1500);
	pvalue_free(resp);
	pvalue_free(body);
	buf_free(&f);
	free(names);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 5: a parked Fetch and the appends that wake it ---------------------- */

/*
 * A Fetch v4 that lists partition t-0 200,000 times (3.2 MB), waits 60 s
 * for 1 MB it can never get (max_bytes 1): each append to t-0 used to
 * re-decode and re-run all of it (about a second per Produce under ASan).
 * Now the parked Fetch holds t-0 once, so a Produce costs what it costs
 * without it.
 */
static void
test_hostile_parked_fetch_repeating_a_partition_does_not_slow_produce(void **state)
{
	const int32_t n = 200000;
	struct pvalue *body = hc_body(KAPI_FETCH), *t, *parts;
	struct hb b;
	struct buf batch;
	int64_t ms, worst = 0;
	int fd, pfd;

	(void)state;
	start(&b, false);
	fd = hc_connect(b.port);
	pfd = hc_connect(b.port);
	assert_true(fd >= 0 && pfd >= 0);
	assert_int_equal(create_topic(pfd, "t", 1), KERR_NONE);
	pvalue_set_int(body, "max_wait_ms", 60000);
	pvalue_set_int(body, "min_bytes", 1 << 20);
	pvalue_set_int(body, "max_bytes", 1);
	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_str(t, "topic", "t");
	parts = pvalue_array(t, "partitions");
	assert_int_equal(pvalue_array_resize(parts, n), KLAB_OK);
	for (int32_t i = 0; i < n; i++) {
		pvalue_set_int(pvalue_at(parts, i), "fetch_offset", 0);
		pvalue_set_int(pvalue_at(parts, i), "partition_max_bytes", 1 << 20);
	}
	assert_int_equal(hc_request(fd, KAPI_FETCH, 4, 9, body), 0);
	pvalue_free(body);
	/* the Fetch is parked once the broker answers the next request */
	assert_true(hc_probe_ms(b.port, 60000) >= 0);
	buf_init(&batch);
	for (int i = 0; i < 4; i++) {
		tu_batch_make(&batch, 1, 1000, 10, (uint32_t)i);
		assert_int_equal(produce(pfd, "t", 1, batch.data, batch.len, &ms), KERR_NONE);
		worst = ms > worst ? ms : worst;
	}
	print_message("produce with a Fetch of %d repeats parked: worst %lld ms\n", (int)n,
		      (long long)worst);
	assert_true(worst < 250);
	assert_int_equal(latest_offset(pfd, "t"), 4);
	buf_free(&batch);
	close(fd);
	close(pfd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 9: control batches from a client ------------------------------------ */

/* Kafka's LogValidator: "Clients are not allowed to write control records". */
static void
test_hostile_produce_control_batch_is_invalid_record(void **state)
{
	struct hb b;
	struct buf batch;
	uint32_t crc;
	int fd;

	(void)state;
	start(&b, false);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	assert_int_equal(create_topic(fd, "t", 1), KERR_NONE);
	buf_init(&batch);
	tu_batch_make(&batch, 1, 1000, 10, 1);
	batch.data[BATCH_ATTR_OFFSET + 1] |= BATCH_ATTR_CONTROL; /* attributes: int16 */
	crc = crc32c(0, batch.data + BATCH_ATTR_OFFSET, batch.len - BATCH_ATTR_OFFSET);
	be32_write(batch.data + BATCH_CRC_OFFSET, crc);
	assert_int_equal(produce(fd, "t", 1, batch.data, batch.len, NULL), KERR_INVALID_RECORD);
	assert_int_equal(latest_offset(fd, "t"), 0);
	buf_free(&batch);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 12: forged idempotent producers (KIP-98) --------------------------- */

/* A batch of one record from producer pid at epoch and sequence seq: its error. */
static int64_t
produce_as(int fd, int64_t pid, int16_t epoch, int32_t seq)
{
	struct buf batch;
	int64_t err;

	buf_init(&batch);
	/* now: a producer idle for producer.id.expiration.ms (a day) is forgotten */
	tu_batch_make(&batch, 1, (int64_t)time(NULL) * 1000, 10, (uint32_t)seq);
	batch_set_producer(batch.data, batch.len, pid, epoch, seq);
	err = produce(fd, "t", 1, batch.data, batch.len, NULL);
	buf_free(&batch);
	return err;
}

/*
 * A client forging producer ids, epochs and sequences against a real
 * broker: refused with OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH
 * or INVALID_RECORD, nothing written, the broker alive; a well-behaved
 * producer on the same partition carries on, and after a clean restart
 * (the producer snapshot) its retry is still recognised.
 */
static void
test_hostile_forged_producer_ids_sequences_epochs(void **state)
{
	const int64_t good = 5;
	struct hb b;
	int64_t end;
	int fd;

	(void)state;
	start(&b, false);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	assert_int_equal(create_topic(fd, "t", 1), KERR_NONE);
	for (int32_t seq = 0; seq < 3; seq++)
		assert_int_equal(produce_as(fd, good, 0, seq), KERR_NONE);
	end = latest_offset(fd, "t");
	assert_int_equal(produce_as(fd, good, 0, 7), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(produce_as(fd, good, -2, 3), KERR_INVALID_PRODUCER_EPOCH);
	assert_int_equal(produce_as(fd, good, 9, 3), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(produce_as(fd, good, 0, INT32_MIN), KERR_INVALID_RECORD);
	for (int i = 0; i < 500; i++) /* forged producers, each new to the partition */
		assert_int_equal(produce_as(fd, 1000 + i, (int16_t)i, i), KERR_NONE);
	assert_int_equal(latest_offset(fd, "t"), end + 500);
	assert_int_equal(produce_as(fd, good, 0, 3), KERR_NONE); /* carries on */
	close(fd);
	assert_int_equal(hb_stop(&b), 0); /* a clean stop writes the snapshot */
	assert_int_equal(hb_launch(&b, "auto.create.topics.enable=false\n", 0, 0), 0);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	end = latest_offset(fd, "t");
	assert_int_equal(produce_as(fd, good, 0, 3), KERR_NONE); /* a retry: not written */
	assert_int_equal(latest_offset(fd, "t"), end);
	assert_int_equal(produce_as(fd, good, 0, 5), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	assert_int_equal(produce_as(fd, good, 0, 4), KERR_NONE);
	assert_int_equal(latest_offset(fd, "t"), end + 1);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 10: NUL bytes in topic names ---------------------------------------- */

/* A DeleteTopics v1 of name[0..len): its error code. */
static int64_t
delete_topic(int fd, const char *name, int32_t len)
{
	struct pvalue *body = hc_body(KAPI_DELETE_TOPICS), *resp, *names;
	int64_t err;

	names = pvalue_array(body, "topic_names");
	assert_int_equal(pvalue_array_resize(names, 1), KLAB_OK);
	pvalue_at(names, 0)->s.p = (const uint8_t *)name;
	pvalue_at(names, 0)->s.len = len;
	pvalue_set_int(body, "timeout_ms", 5000);
	resp = ask(fd, KAPI_DELETE_TOPICS, 1, body, 10000);
	assert_non_null(resp);
	err = pvalue_get_int(pvalue_at(pvalue_array(resp, "responses"), 0), "error_code");
	pvalue_free(body);
	pvalue_free(resp);
	return err;
}

/*
 * "victim\0../x" is not "victim": a Produce to it is UNKNOWN_TOPIC_OR_PARTITION
 * and writes nothing, a DeleteTopics of "victim\0zzz" deletes nothing, a
 * Metadata for "a\0b" is INVALID_TOPIC_EXCEPTION and creates no "a", a
 * CreateTopics of "n\0" is INVALID_TOPIC_EXCEPTION.
 */
static void
test_hostile_nul_in_topic_names_is_never_cut(void **state)
{
	static const char produce_name[] = "victim\0../x", delete_name[] = "victim\0zzz";
	struct hb b;
	struct buf batch;
	int fd;

	(void)state;
	start(&b, true);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	assert_int_equal(create_topic(fd, "victim", 6), KERR_NONE);
	buf_init(&batch);
	tu_batch_make(&batch, 1, 1000, 10, 1);
	assert_int_equal(
		produce(fd, produce_name, sizeof(produce_name) - 1, batch.data, batch.len, NULL),
		KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(latest_offset(fd, "victim"), 0);
	assert_int_equal(delete_topic(fd, delete_name, sizeof(delete_name) - 1),
			 KERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(metadata_topic(fd, "victim", 6), KERR_NONE);
	assert_int_equal(metadata_topic(fd, "a\0b", 3), KERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(create_topic(fd, "n\0", 2), KERR_INVALID_TOPIC_EXCEPTION);
	/* "a\0b" auto-created no "a" */
	assert_null(strstr(hb_log(&b), "auto-created topic 'a'"));
	buf_free(&batch);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- item 13: names of 241..249 characters ------------------------------------ */

/*
 * Kafka allows 249 characters; klab's metadata file "<name>.properties.tmp"
 * must fit in 255 bytes, so klab's limit is 240.  A longer name is
 * INVALID_TOPIC_EXCEPTION at once, from CreateTopics and from Metadata's
 * auto-creation (not UNKNOWN_SERVER_ERROR, nor LEADER_NOT_AVAILABLE
 * forever); 240 characters work.
 */
static void
test_hostile_long_topic_names_are_invalid_topic(void **state)
{
	char name[260];
	struct hb b;
	int fd;

	(void)state;
	start(&b, true);
	fd = hc_connect(b.port);
	assert_true(fd >= 0);
	memset(name, 'x', sizeof(name));
	assert_int_equal(create_topic(fd, name, 245), KERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(metadata_topic(fd, name, 249), KERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(metadata_topic(fd, name, 249), KERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(create_topic(fd, name, 250), KERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(create_topic(fd, name, 240), KERR_NONE);
	close(fd);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

/* ---- flexible encodings that lie ---------------------------------------------- */

/* One Metadata v12 frame (header v2, client "hostile") with body[0..n); it must close. */
static void
expect_refused(struct hb *b, const uint8_t *body, size_t n, const char *what)
{
	static const uint8_t header[] = { 0, 3,	  0,   12,  0,	 0,   0,   9,	0,
					  7, 'h', 'o', 's', 't', 'i', 'l', 'e', 0 };
	int fd = hc_connect(b->port);
	struct buf req, f;

	assert_true(fd >= 0);
	buf_init(&req);
	buf_init(&f);
	buf_put_be32(&req, (uint32_t)(sizeof(header) + n));
	buf_put(&req, header, sizeof(header));
	buf_put(&req, body, n);
	assert_int_equal(hc_send(fd, req.data, req.len), 0);
	if (hc_read_frame(fd, &f, 10000) == 0)
		fail_msg("%s: answered, not closed", what);
	assert_true(hc_probe_ms(b->port, 5000) >= 0);
	close(fd);
	buf_free(&req);
	buf_free(&f);
}

static void
test_hostile_flexible_lies_close_cleanly(void **state)
{
	/* topics: compact count 2^31 + 1 - 1 = 2^31, more than an int32 holds */
	static const uint8_t huge_array[] = { 0x81, 0x80, 0x80, 0x80, 0x08, 1, 0, 0 };
	/* topics: a count 2^31 - 1 that fits, in 6 bytes of varint: no more than 5 are allowed */
	static const uint8_t long_varint[] = { 0x80, 0x80, 0x80, 0x80, 0x88, 0x00, 1, 0, 0 };
	/* topics: 2^31 - 1 elements of at least 18 bytes, in a few bytes */
	static const uint8_t many[] = { 0x80, 0x80, 0x80, 0x80, 0x08, 1, 0, 0 };
	/* topics null, allow 1, include 0, then one tagged field of 127 bytes with 2 left */
	static const uint8_t tag_overrun[] = { 0, 1, 0, 1, 9, 0x7f, 'x', 'y' };
	struct hb b;

	(void)state;
	start(&b, false);
	expect_refused(&b, huge_array, sizeof(huge_array), "a compact array of 2^31");
	expect_refused(&b, long_varint, sizeof(long_varint), "a varint of 6 bytes");
	expect_refused(&b, many, sizeof(many), "2^31 - 1 topics in 8 bytes");
	expect_refused(&b, tag_overrun, sizeof(tag_overrun), "a tagged field past the end");
	if (strstr(hb_log(&b), "Metadata v12: malformed request body, client_id=hostile") == NULL)
		fail_msg("log:\n%s", hb_log(&b));
	assert_true(hb_alive(&b));
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_metadata_empty_names_memory_bounded),
		cmocka_unit_test(test_hostile_create_topics_many_names_is_not_quadratic),
		cmocka_unit_test(
			test_hostile_parked_fetch_repeating_a_partition_does_not_slow_produce),
		cmocka_unit_test(test_hostile_produce_control_batch_is_invalid_record),
		cmocka_unit_test(test_hostile_forged_producer_ids_sequences_epochs),
		cmocka_unit_test(test_hostile_nul_in_topic_names_is_never_cut),
		cmocka_unit_test(test_hostile_long_topic_names_are_invalid_topic),
		cmocka_unit_test(test_hostile_flexible_lies_close_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
