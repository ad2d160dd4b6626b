/*
 * test_proto.c - the table-driven Kafka codec (chapter 3 §1).
 *
 *   round trip     every API, every supported version, request and
 *                  response: a populated tree encodes, decodes to the same
 *                  values, and encodes to the same bytes again - alone and
 *                  inside a frame with its header.
 *   golden bytes   messages written out by hand from Kafka's JSON schemas.
 *   truncation     every proper prefix of several messages is
 *                  KLAB_ETRUNCATED, never a crash.
 *   garbage        seeded random bytes and byte flips never crash; what
 *                  decodes re-encodes to a fixed point.  KLAB_SEED=N replays.
 *   frames         negative and oversized sizes are rejected as soon as the
 *                  four size bytes arrive; short input asks for more.
 */
#include "testutil.h"

#include "proto/kafka.h"
#include "net/disk_real.h"

#define SEED_DEFAULT 0x6B6C6162ull
#define GARBAGE_TRIALS 20000

/* ---- populating a tree ----------------------------------------------------- */

static const char *const words[] = { "", "t", "orders", "klab-topic.0", "rack-a" };
static const uint8_t blob[] = "\x00\x01\x02\xff records are opaque here";

/* Fill struct node st of schema s with values derived from *k, at version v. */
static void populate(struct pvalue *st, const struct pschema *s, int16_t v, unsigned *k);

static void
populate_elem(struct pvalue *el, const struct pvalue *arr, int16_t v, unsigned *k)
{
	unsigned x = (*k)++;

	if (arr->type == PT_ARRAY)
		populate(el, arr->a.schema, v, k);
	else if (arr->type == PT_ARRAY_STRING)
		el->s.p = (const uint8_t *)words[x % 5], el->s.len = (int32_t)strlen(words[x % 5]);
	else
		el->i = arr->type == PT_ARRAY_INT64 ? -(int64_t)x * 0x10001 : (int32_t)(x * 3);
}

static void
populate_array(struct pvalue *arr, const struct pfield *f, int16_t v, unsigned *k)
{
	unsigned x = (*k)++;

	if (f->nullable && v >= f->null_min && x % 4 == 0) {
		pvalue_array_set_null(arr);
		return;
	}
	assert_int_equal(pvalue_array_resize(arr, (int32_t)(x % 3)), KLAB_OK);
	for (int32_t i = 0; i < arr->a.n; i++)
		populate_elem(&arr->a.v[i], arr, v, k);
}

static void
populate_field(struct pvalue *val, const struct pfield *f, int16_t v, unsigned *k)
{
	unsigned x = (*k)++;
	bool may_null = f->nullable && v >= f->null_min;

	switch (f->type) {
	case PT_INT8: val->i = (int8_t)(x * 37); break;
	case PT_BOOL: val->i = x & 1; break;
	case PT_INT16: val->i = (int16_t)(x * 4099); break;
	case PT_INT32: val->i = (int32_t)(x * 0x01020305u); break;
	case PT_INT64: val->i = (int64_t)(x * 0x0102030405060708ull); break;
	case PT_STRING:
		val->null = may_null && x % 3 == 0;
		val->s.p = val->null ? NULL : (const uint8_t *)words[x % 5];
		val->s.len = val->null ? 0 : (int32_t)strlen(words[x % 5]);
		break;
	case PT_BYTES:
	case PT_RECORDS:
		val->null = may_null && x % 3 == 0;
		val->s.p = val->null ? NULL : blob;
		val->s.len = val->null ? 0 : (int32_t)(x % sizeof(blob));
		break;
	case PT_STRUCT: populate(val, f->sub, v, k); break;
	case PT_UVARINT: val->i = x * 0x10203u; break;
	case PT_UUID:
		for (int j = 0; j < 16; j++)
			val->uuid[j] = (uint8_t)(x * 31 + (unsigned)j * (x & 1));
		break;
	default: populate_array(val, f, v, k);
	}
}

static void
populate(struct pvalue *st, const struct pschema *s, int16_t v, unsigned *k)
{
	for (size_t i = 0; i < s->nfields; i++)
		populate_field(&st->a.v[i], &s->fields[i], v, k);
}

/* A populated tree of s at v; k varies the values. */
static struct pvalue *
make_tree(const struct pschema *s, int16_t v, unsigned k)
{
	struct pvalue *t = pvalue_new(s);

	assert_non_null(t);
	populate(t, s, v, &k);
	return t;
}

/* ---- comparing trees ------------------------------------------------------- */

static void tree_equal(const struct pvalue *a, const struct pvalue *b, const struct pschema *s,
		       int16_t v);

static void
value_equal(const struct pvalue *a, const struct pvalue *b, enum ptype t, const struct pschema *sub,
	    int16_t v)
{
	if (t == PT_STRUCT) {
		tree_equal(a, b, sub, v);
		return;
	}
	assert_int_equal(a->null, b->null);
	if (t == PT_STRING || t == PT_BYTES || t == PT_RECORDS) {
		assert_int_equal(a->s.len, b->s.len);
		if (a->s.len > 0)
			assert_memory_equal(a->s.p, b->s.p, (size_t)a->s.len);
	} else if (t == PT_ARRAY || t == PT_ARRAY_INT32 || t == PT_ARRAY_INT64 ||
		   t == PT_ARRAY_STRING) {
		enum ptype et = t == PT_ARRAY	       ? PT_STRUCT
				: t == PT_ARRAY_STRING ? PT_STRING
						       : PT_INT64;

		assert_int_equal(pvalue_count(a), pvalue_count(b));
		for (int32_t i = 0; i < pvalue_count(a); i++)
			value_equal(pvalue_at(a, i), pvalue_at(b, i), et, sub, v);
	} else if (t == PT_UUID) {
		assert_memory_equal(a->uuid, b->uuid, 16);
	} else {
		assert_int_equal(a->i, b->i);
	}
}

/* The fields present at v are equal. */
static void
tree_equal(const struct pvalue *a, const struct pvalue *b, const struct pschema *s, int16_t v)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (pfield_present(&s->fields[i], v))
			value_equal(&a->a.v[i], &b->a.v[i], s->fields[i].type, s->fields[i].sub, v);
}

/* ---- round trips ----------------------------------------------------------- */

/* Encode t, decode, compare, encode again: the same bytes.  Returns them. */
static void
round_trip(const struct pschema *s, int16_t v, const struct pvalue *t, struct buf *b1)
{
	struct pvalue *back = NULL;
	struct buf b2;
	int rc;

	buf_init(&b2);
	buf_reset(b1);
	assert_int_equal(proto_encode(s, v, t, b1), KLAB_OK);
	rc = proto_decode(s, v, b1->data, b1->len, &back);
	if (rc != KLAB_OK)
		fail_msg("%s v%d: decode: %s", s->name, v, klab_strerror(rc));
	tree_equal(t, back, s, v);
	assert_int_equal(proto_encode(s, v, back, &b2), KLAB_OK);
	assert_int_equal(b1->len, b2.len);
	assert_memory_equal(b1->data, b2.data, b1->len);
	pvalue_free(back);
	buf_free(&b2);
}

/* The same request inside a frame: frame, header, body. */
static void
request_frame_trip(const struct api_desc *api, int16_t v, const struct pvalue *t,
		   const struct buf *body)
{
	struct proto_request_header h = { api->key, v, 1234, (const uint8_t *)"cli", 3 }, h2;
	struct proto_frame f;
	struct pvalue *back;
	struct cursor c;
	struct buf b;

	buf_init(&b);
	assert_int_equal(proto_request_encode(&h, t, &b), KLAB_OK);
	assert_int_equal(proto_frame_next(b.data, b.len, 1 << 20, &f), KLAB_OK);
	assert_int_equal(f.consumed, b.len);
	assert_int_equal(proto_request_header_parse(f.body, f.len, &h2, &c), KLAB_OK);
	assert_int_equal(h2.api_key, api->key);
	assert_int_equal(h2.api_version, v);
	assert_int_equal(h2.correlation_id, 1234);
	assert_int_equal(h2.client_id_len, 3);
	assert_memory_equal(h2.client_id, "cli", 3);
	assert_int_equal(c.len, body->len);
	assert_memory_equal(c.p, body->data, body->len);
	assert_int_equal(proto_request_decode(&h2, c, &back), KLAB_OK);
	tree_equal(t, back, api->request, v);
	pvalue_free(back);
	buf_free(&b);
}

static void
response_frame_trip(const struct api_desc *api, int16_t v, const struct pvalue *t,
		    const struct buf *body)
{
	/* response header v1 adds an empty tagged-field section: one byte 0 */
	size_t hlen = proto_response_header_version(api->key, v) == 1 ? 5 : 4;
	struct proto_frame f;
	struct buf b;

	buf_init(&b);
	assert_int_equal(proto_response_encode(-7, api, v, t, &b), KLAB_OK);
	assert_int_equal(proto_frame_next(b.data, b.len, 1 << 20, &f), KLAB_OK);
	assert_int_equal(f.len, hlen + body->len);
	assert_int_equal((int32_t)be32_read(f.body), -7);
	if (hlen == 5)
		assert_int_equal(f.body[4], 0);
	assert_memory_equal(f.body + hlen, body->data, body->len);
	buf_free(&b);
}

static void
test_ch3_round_trip_every_api_every_version(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	for (size_t i = 0; i < proto_api_count(); i++) {
		const struct api_desc *api = proto_api_at(i);

		for (int16_t v = api->min_version; v <= api->max_version; v++) {
			for (unsigned k = 0; k < 12; k++) {
				struct pvalue *rq = make_tree(api->request, v, k);
				struct pvalue *rs = make_tree(api->response, v, k);

				round_trip(api->request, v, rq, &b);
				request_frame_trip(api, v, rq, &b);
				round_trip(api->response, v, rs, &b);
				response_frame_trip(api, v, rs, &b);
				pvalue_free(rq);
				pvalue_free(rs);
			}
		}
	}
	buf_free(&b);
}

static void
test_ch3_registry_knows_the_nine_apis(void **state)
{
	static const int16_t keys[] = { 0, 1, 2, 3, 10, 18, 19, 20, 22 };
	struct proto_request_header h = { 3, 13, 1, NULL, -1 };
	struct pvalue *t = (struct pvalue *)1;
	struct cursor c;

	(void)state;
	assert_int_equal(proto_api_count(), 9);
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(proto_api(keys[i])->key, keys[i]);
	assert_string_equal(proto_api(18)->name, "ApiVersions");
	assert_int_equal(proto_api(0)->min_version, 0); /* for librdkafka's codec check */
	assert_int_equal(proto_api(1)->max_version, 15);
	assert_null(proto_api(4));
	assert_null(proto_api(-1));
	assert_int_equal(proto_api(22)->max_version, 4); /* InitProducerId: v2+ are flexible */
	assert_null(proto_api_at(9));
	cur_init(&c, "", 0);
	assert_int_equal(proto_request_decode(&h, c, &t), KLAB_ERANGE); /* Metadata v13 */
	assert_null(t);
	h.api_key = 99;
	assert_int_equal(proto_request_decode(&h, c, &t), KLAB_ENOTFOUND);
}

/* ---- golden bytes ---------------------------------------------------------- */

static void
test_ch3_golden_api_versions_v0_request_is_header_only(void **state)
{
	/*
	 * RequestHeader v1 (RequestHeader.json) then ApiVersionsRequest v0,
	 * whose fields all start at v3: the body is empty.
	 */
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x0e,		  /* size 14 = 2 + 2 + 4 + (2 + 4) */
		0x00, 0x12,			  /* request_api_key 18 */
		0x00, 0x00,			  /* request_api_version 0 */
		0x00, 0x00, 0x00, 0x01,		  /* correlation_id 1 */
		0x00, 0x04, 'k',  'c',	'a', 't', /* client_id "kcat" */
	};
	struct proto_request_header h = { 18, 0, 1, (const uint8_t *)"kcat", 4 }, h2;
	struct pvalue *body = pvalue_new(proto_api(18)->request), *back;
	struct proto_frame f;
	struct cursor c;
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(proto_request_encode(&h, body, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(proto_frame_next(want, sizeof(want), 100, &f), KLAB_OK);
	assert_int_equal(f.consumed, sizeof(want));
	assert_int_equal(proto_request_header_parse(f.body, f.len, &h2, &c), KLAB_OK);
	assert_int_equal(h2.api_key, 18);
	assert_int_equal(h2.correlation_id, 1);
	assert_memory_equal(h2.client_id, "kcat", 4);
	assert_int_equal(c.len, 0);
	assert_int_equal(proto_request_decode(&h2, c, &back), KLAB_OK);
	pvalue_free(back);
	pvalue_free(body);
	buf_free(&b);
}

static void
test_ch3_golden_api_versions_v0_response_unsupported_version(void **state)
{
	/*
	 * ResponseHeader v0, then ApiVersionsResponse v0: error_code int16,
	 * api_keys [api_key int16, min_version int16, max_version int16];
	 * throttle_time_ms starts at v1, so it is not written.
	 */
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x16,		    /* size 22 = 4 + 2 + 4 + 2 * 6 */
		0x00, 0x00, 0x00, 0x01,		    /* correlation_id 1 */
		0x00, 0x23,			    /* error_code 35 UNSUPPORTED_VERSION */
		0x00, 0x00, 0x00, 0x02,		    /* api_keys: 2 entries */
		0x00, 0x00, 0x00, 0x03, 0x00, 0x08, /* Produce 3..8 */
		0x00, 0x12, 0x00, 0x00, 0x00, 0x02, /* ApiVersions 0..2 */
	};
	const struct api_desc *api = proto_api(18);
	struct pvalue *t = pvalue_new(api->response), *keys, *back;
	struct buf b;

	(void)state;
	buf_init(&b);
	pvalue_set_int(t, "error_code", 35);
	pvalue_set_int(t, "throttle_time_ms", 99); /* absent at v0 */
	keys = pvalue_array(t, "api_keys");
	assert_int_equal(pvalue_array_resize(keys, 2), KLAB_OK);
	pvalue_set_int(pvalue_at(keys, 0), "api_key", 0);
	pvalue_set_int(pvalue_at(keys, 0), "min_version", 3);
	pvalue_set_int(pvalue_at(keys, 0), "max_version", 8);
	pvalue_set_int(pvalue_at(keys, 1), "api_key", 18);
	pvalue_set_int(pvalue_at(keys, 1), "max_version", 2);
	assert_int_equal(proto_response_encode(1, api, 0, t, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(proto_decode(api->response, 0, want + 8, sizeof(want) - 8, &back),
			 KLAB_OK);
	assert_int_equal(pvalue_get_int(back, "error_code"), 35);
	assert_int_equal(pvalue_get_int(back, "throttle_time_ms"), 0); /* the default */
	assert_int_equal(pvalue_count(pvalue_array(back, "api_keys")), 2);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(back, "api_keys"), 1), "api_key"),
			 18);
	pvalue_free(back);
	pvalue_free(t);
	buf_free(&b);
}

static void
test_ch3_golden_metadata_v1_request_one_topic(void **state)
{
	/* MetadataRequest v1: topics [name string]; nullable from v1. */
	static const uint8_t one[] = {
		0x00, 0x00, 0x00, 0x01, /* topics: 1 */
		0x00, 0x02, 't',  '1',	/* name "t1" */
	};
	static const uint8_t all[] = { 0xff, 0xff, 0xff, 0xff }; /* null: every topic */
	const struct pschema *s = proto_api(3)->request;
	struct pvalue *t = pvalue_new(s), *back;
	struct buf b;
	int32_t len;

	(void)state;
	buf_init(&b);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "topics"), 1), KLAB_OK);
	pvalue_set_str(pvalue_at(pvalue_array(t, "topics"), 0), "name", "t1");
	assert_int_equal(proto_encode(s, 1, t, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(one));
	assert_memory_equal(b.data, one, sizeof(one));

	/* v4 adds allow_auto_topic_creation bool, default true. */
	buf_reset(&b);
	assert_int_equal(proto_encode(s, 4, t, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(one) + 1);
	assert_int_equal(b.data[sizeof(one)], 1);

	/* null topics: v1 writes -1; v0 cannot say null and out is unchanged. */
	pvalue_array_set_null(pvalue_array(t, "topics"));
	buf_reset(&b);
	assert_int_equal(proto_encode(s, 1, t, &b), KLAB_OK);
	assert_memory_equal(b.data, all, 4);
	buf_reset(&b);
	assert_int_equal(proto_encode(s, 0, t, &b), KLAB_EINVAL);
	assert_int_equal(b.len, 0);
	assert_int_equal(proto_decode(s, 0, all, 4, &back), KLAB_ECORRUPT);
	assert_int_equal(proto_decode(s, 1, one, sizeof(one), &back), KLAB_OK);
	assert_memory_equal(
		pvalue_get_bytes(pvalue_at(pvalue_array(back, "topics"), 0), "name", &len), "t1",
		2);
	assert_int_equal(pvalue_get_int(back, "allow_auto_topic_creation"), 1);
	pvalue_free(back);
	pvalue_free(t);
	buf_free(&b);
}

/* Produce v3, written from ProduceRequest.json (the records are opaque). */
static const uint8_t produce_v3[] = {
	0x00, 0x00, 0x00, 0x29, /* size 41 = 11 header + 30 body */
	0x00, 0x00,		/* request_api_key 0 (Produce) */
	0x00, 0x03,		/* request_api_version 3 */
	0x00, 0x00, 0x00, 0x02, /* correlation_id 2 */
	0x00, 0x01, 'c',	/* client_id "c" */
	0xff, 0xff,		/* transactional_id null (v3+, nullable) */
	0xff, 0xff,		/* acks -1 */
	0x00, 0x00, 0x05, 0xdc, /* timeout_ms 1500 */
	0x00, 0x00, 0x00, 0x01, /* topic_data: 1 */
	0x00, 0x01, 't',	/* name "t" */
	0x00, 0x00, 0x00, 0x01, /* partition_data: 1 */
	0x00, 0x00, 0x00, 0x00, /* index 0 */
	0x00, 0x00, 0x00, 0x03, /* records: 3 bytes */
	'x',  'y',  'z',
};

static void
test_ch3_golden_produce_v3_request(void **state)
{
	struct proto_request_header h = { 0, 3, 2, (const uint8_t *)"c", 1 };
	const struct pschema *s = proto_api(0)->request;
	struct pvalue *t = pvalue_new(s), *topic, *part, *back;
	struct proto_frame f;
	struct cursor c;
	struct buf b;
	int32_t len;

	(void)state;
	buf_init(&b);
	pvalue_set_int(t, "acks", -1);
	pvalue_set_int(t, "timeout_ms", 1500);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "topic_data"), 1), KLAB_OK);
	topic = pvalue_at(pvalue_array(t, "topic_data"), 0);
	pvalue_set_str(topic, "name", "t");
	assert_int_equal(pvalue_array_resize(pvalue_array(topic, "partition_data"), 1), KLAB_OK);
	part = pvalue_at(pvalue_array(topic, "partition_data"), 0);
	pvalue_set_bytes(part, "records", "xyz", 3);
	assert_int_equal(proto_request_encode(&h, t, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(produce_v3));
	assert_memory_equal(b.data, produce_v3, sizeof(produce_v3));

	assert_int_equal(proto_frame_next(produce_v3, sizeof(produce_v3), 100, &f), KLAB_OK);
	assert_int_equal(proto_request_header_parse(f.body, f.len, &h, &c), KLAB_OK);
	assert_int_equal(proto_request_decode(&h, c, &back), KLAB_OK);
	assert_null(pvalue_get_bytes(back, "transactional_id", &len));
	assert_int_equal(len, -1);
	assert_int_equal(pvalue_get_int(back, "acks"), -1);
	part = pvalue_at(
		pvalue_array(pvalue_at(pvalue_array(back, "topic_data"), 0), "partition_data"), 0);
	assert_memory_equal(pvalue_get_bytes(part, "records", &len), "xyz", 3);
	assert_int_equal(len, 3);
	pvalue_free(back);
	pvalue_free(t);
	buf_free(&b);
}

static void
test_ch3_absent_fields_decode_to_kafka_defaults(void **state)
{
	/* MetadataResponse v0: brokers [], topics [1: error 0, "t", partitions [1]]. */
	static const uint8_t v0[] = {
		0, 0, 0, 0,			/* brokers: 0 */
		0, 0, 0, 1,			/* topics: 1 */
		0, 0, 0, 1, 't',		/* error_code 0, name "t" */
		0, 0, 0, 1,			/* partitions: 1 */
		0, 0, 0, 0, 0,	 0, 0, 0, 0, 5, /* error 0, index 0, leader 5 */
		0, 0, 0, 0, 0,	 0, 0, 0,	/* replica_nodes [], isr_nodes [] */
	};
	struct pvalue *back, *topic, *part;
	int32_t len;

	(void)state;
	assert_int_equal(proto_decode(proto_api(3)->response, 0, v0, sizeof(v0), &back), KLAB_OK);
	assert_int_equal(pvalue_get_int(back, "controller_id"), -1);
	assert_null(pvalue_get_bytes(back, "cluster_id", &len));
	assert_int_equal(pvalue_get_int(back, "cluster_authorized_operations"), INT32_MIN);
	topic = pvalue_at(pvalue_array(back, "topics"), 0);
	assert_int_equal(pvalue_get_int(topic, "is_internal"), 0);
	part = pvalue_at(pvalue_array(topic, "partitions"), 0);
	assert_int_equal(pvalue_get_int(part, "leader_id"), 5);
	assert_int_equal(pvalue_get_int(part, "leader_epoch"), -1);
	assert_int_equal(pvalue_count(pvalue_array(part, "offline_replicas")), 0);
	pvalue_free(back);
}

/* ---- malformed input ------------------------------------------------------- */

static void
test_ch3_every_truncation_is_an_error(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	for (size_t i = 0; i < proto_api_count(); i++) {
		const struct api_desc *api = proto_api_at(i);
		const int16_t vs[2] = { api->min_version, api->max_version };

		for (int j = 0; j < 4; j++) {
			const struct pschema *s = j & 1 ? api->response : api->request;
			int16_t v = vs[j >> 1];
			struct pvalue *t = make_tree(s, v, 7);

			round_trip(s, v, t, &b);
			for (size_t cut = 0; cut < b.len; cut++) {
				struct pvalue *back = (struct pvalue *)1;
				int rc = proto_decode(s, v, b.data, cut, &back);

				if (rc != KLAB_ETRUNCATED)
					fail_msg("%s v%d cut %zu/%zu: %s", s->name, v, cut, b.len,
						 klab_strerror(rc));
				assert_null(back);
			}
			pvalue_free(t);
		}
	}
	buf_free(&b);
}

static void
test_ch3_truncated_request_frames_are_errors(void **state)
{
	struct proto_request_header h;
	struct proto_frame f;
	struct cursor c;

	(void)state;
	/* Cut the Produce frame's body anywhere: the header or body fails. */
	for (size_t cut = 0; cut < sizeof(produce_v3) - 4; cut++) {
		struct pvalue *t;
		int rc = proto_request_header_parse(produce_v3 + 4, cut, &h, &c);

		if (rc == KLAB_OK)
			rc = proto_request_decode(&h, c, &t);
		assert_int_equal(rc, KLAB_ETRUNCATED);
		/* As a stream, the cut frame is "need more bytes". */
		assert_int_equal(proto_frame_next(produce_v3, cut + 4, 100, &f), KLAB_OK);
		assert_int_equal(f.consumed, 0);
	}
}

static void
test_ch3_bad_lengths_and_trailing_bytes_are_corrupt(void **state)
{
	const struct pschema *dt = proto_api(20)->request;
	static const uint8_t neg_str[] = { 0, 0, 0, 1, 0xff, 0xfe, 0, 0, 0, 0 };
	static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	static const uint8_t neg_arr[] = { 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t trailing[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0x55 };
	struct pvalue *t;

	(void)state;
	/* DeleteTopics v0: topic_names [string] (not nullable), timeout_ms. */
	assert_int_equal(proto_decode(dt, 0, neg_str, sizeof(neg_str), &t), KLAB_ECORRUPT);
	assert_int_equal(proto_decode(dt, 0, huge, sizeof(huge), &t), KLAB_ETRUNCATED);
	assert_int_equal(proto_decode(dt, 0, neg_arr, sizeof(neg_arr), &t), KLAB_ECORRUPT);
	assert_int_equal(proto_decode(dt, 0, trailing, sizeof(trailing), &t), KLAB_ECORRUPT);
	assert_int_equal(proto_decode(dt, 0, trailing, sizeof(trailing) - 1, &t), KLAB_OK);
	assert_int_equal(pvalue_get_int(t, "timeout_ms"), 1);
	pvalue_free(t);
}

/* Decode p at v; if it decodes, encode -> decode -> encode is a fixed point. */
static void
garbage_one(const struct pschema *s, int16_t v, const uint8_t *p, size_t len, uint64_t seed)
{
	struct pvalue *t, *t2;
	struct buf b1, b2;
	int rc = proto_decode(s, v, p, len, &t);

	if (rc == KLAB_OK) {
		buf_init(&b1);
		buf_init(&b2);
		assert_int_equal(proto_encode(s, v, t, &b1), KLAB_OK);
		rc = proto_decode(s, v, b1.data, b1.len, &t2);
		if (rc != KLAB_OK)
			fail_msg("%s v%d: re-decode %s (reproduce with KLAB_SEED=%" PRIu64 ")",
				 s->name, v, klab_strerror(rc), seed);
		assert_int_equal(proto_encode(s, v, t2, &b2), KLAB_OK);
		if (b1.len != b2.len || (b1.len > 0 && memcmp(b1.data, b2.data, b1.len) != 0))
			fail_msg("%s v%d: no fixed point (reproduce with KLAB_SEED=%" PRIu64 ")",
				 s->name, v, seed);
		pvalue_free(t2);
		pvalue_free(t);
		buf_free(&b1);
		buf_free(&b2);
	} else if (rc != KLAB_ETRUNCATED && rc != KLAB_ECORRUPT) {
		fail_msg("%s v%d: %s (reproduce with KLAB_SEED=%" PRIu64 ")", s->name, v,
			 klab_strerror(rc), seed);
	}
}

static void
test_ch3_random_garbage_never_crashes(void **state)
{
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct tu_rng r;
	uint8_t p[96];
	struct buf b;

	(void)state;
	buf_init(&b);
	tu_rng_init(&r, seed);
	for (int n = 0; n < GARBAGE_TRIALS; n++) {
		const struct api_desc *api = proto_api_at(tu_rng_below(&r, proto_api_count()));
		int16_t v = (int16_t)(api->min_version +
				      tu_rng_below(&r, (uint64_t)(api->max_version -
								  api->min_version + 1)));
		const struct pschema *s = n & 1 ? api->response : api->request;
		size_t len = tu_rng_below(&r, sizeof(p) + 1);

		if (n % 4 < 2) { /* pure noise, with small lengths likely */
			for (size_t i = 0; i < len; i++)
				p[i] = tu_rng_below(&r, 3) == 0 ? (uint8_t)tu_rng_next(&r) : 0;
			garbage_one(s, v, p, len, seed);
			continue;
		}
		/* a valid message with a few bytes flipped */
		{
			struct pvalue *t = make_tree(s, v, (unsigned)tu_rng_next(&r));

			buf_reset(&b);
			assert_int_equal(proto_encode(s, v, t, &b), KLAB_OK);
			pvalue_free(t);
			for (int k = 0; k < 3 && b.len > 0; k++)
				b.data[tu_rng_below(&r, b.len)] ^=
					(uint8_t)(1 + tu_rng_below(&r, 255));
			garbage_one(s, v, b.data, b.len, seed);
		}
	}
	buf_free(&b);
}

/* ---- frames ---------------------------------------------------------------- */

static void
test_ch3_frames_reject_negative_and_oversized_sizes(void **state)
{
	static const uint8_t neg[] = { 0xff, 0xff, 0xff, 0xfe };
	static const uint8_t big[] = { 0x00, 0x00, 0x01, 0x01 }; /* 257 */
	static const uint8_t two[] = { 0, 0, 0, 1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 2, 0xbb };
	struct proto_frame f;

	(void)state;
	assert_int_equal(proto_frame_next(neg, 4, 256, &f), KLAB_ECORRUPT);
	assert_int_equal(proto_frame_next(big, 4, 256, &f), KLAB_ETOOLARGE); /* no body yet */
	assert_int_equal(proto_frame_next(big, 4, 257, &f), KLAB_OK);
	assert_int_equal(f.consumed, 0); /* allowed, but needs 257 more bytes */
	for (size_t n = 0; n < 4; n++) {
		assert_int_equal(proto_frame_next(neg, n, 256, &f), KLAB_OK);
		assert_int_equal(f.consumed, 0);
	}
	/* Back-to-back frames, the second incomplete, then an empty one. */
	assert_int_equal(proto_frame_next(two, sizeof(two), 256, &f), KLAB_OK);
	assert_int_equal(f.consumed, 5);
	assert_int_equal(f.len, 1);
	assert_int_equal(f.body[0], 0xaa);
	assert_int_equal(proto_frame_next(two + 5, 4, 256, &f), KLAB_OK);
	assert_int_equal(f.consumed, 4);
	assert_int_equal(f.len, 0);
	assert_int_equal(proto_frame_next(two + 9, 5, 256, &f), KLAB_OK);
	assert_int_equal(f.consumed, 0);
}

/* ---- trace ----------------------------------------------------------------- */

static void
test_ch3_trace_names_api_version_and_main_fields(void **state)
{
	const struct api_desc *api = proto_api(3);
	struct pvalue *t = pvalue_new(api->request), *topics;
	char line[256], small[12];

	size_t n;

	(void)state;
	topics = pvalue_array(t, "topics");
	assert_int_equal(pvalue_array_resize(topics, 2), KLAB_OK);
	pvalue_set_str(pvalue_at(topics, 0), "name", "orders");
	pvalue_set_str(pvalue_at(topics, 1), "name", "bad\nname");
	n = proto_trace(line, sizeof(line), api, false, 4, 7, t);
	assert_string_equal(line, "Metadata v4 request corr=7 topics=[orders,bad?name] "
				  "allow_auto_topic_creation=1");
	assert_int_equal(n, strlen(line));
	assert_int_equal(proto_trace(small, sizeof(small), api, false, 4, 7, t), n);
	assert_string_equal(small, "Metadata v4");
	pvalue_free(t);
	/* an error inside an element is shown after its name */
	api = proto_api(0);
	t = pvalue_new(api->response);
	topics = pvalue_array(t, "responses");
	assert_int_equal(pvalue_array_resize(topics, 2), KLAB_OK);
	pvalue_set_str(pvalue_at(topics, 0), "name", "ok");
	pvalue_set_str(pvalue_at(topics, 1), "name", "orders");
	assert_int_equal(
		pvalue_array_resize(pvalue_array(pvalue_at(topics, 1), "partition_responses"), 2),
		KLAB_OK);
	pvalue_set_int(pvalue_at(pvalue_array(pvalue_at(topics, 1), "partition_responses"), 1),
		       "error_code", 6);
	proto_trace(line, sizeof(line), api, true, 8, 9, t);
	assert_string_equal(
		line, "Produce v8 response corr=9 responses=[ok,orders!NOT_LEADER_OR_FOLLOWER] "
		      "throttle_time_ms=0");
	pvalue_free(t);
}

/*
 * Zero-copy: a Fetch response whose records stay in a file encodes to
 * bytes plus splices that, put together, are exactly the copied response.
 */
static void
test_ch3_spliced_fetch_response_equals_the_copied_one(void **state)
{
	const struct api_desc *api = proto_api(1);
	struct pvalue *resp = pvalue_new(api->response);
	struct pvalue *topics = pvalue_array(resp, "responses"), *parts;
	struct proto_splices sp = { 0 };
	struct buf copied, spliced, joined;
	char dir[64], path[128];
	uint8_t file[300];
	size_t at = 0;
	struct fs_file *fd;

	(void)state;
	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(i * 31 + 7);
	tu_tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/00000000000000000000.log", dir);
	tu_file_write(path, file, sizeof(file));
	assert_int_equal(fs_open(disk_real(), path, FS_READONLY, &fd, NULL), KLAB_OK);
	assert_int_equal(pvalue_array_resize(topics, 1), KLAB_OK);
	pvalue_set_str(pvalue_at(topics, 0), "topic", "orders");
	parts = pvalue_array(pvalue_at(topics, 0), "partitions");
	assert_int_equal(pvalue_array_resize(parts, 3), KLAB_OK);
	for (int32_t p = 0; p < 3; p++) {
		pvalue_set_int(pvalue_at(parts, p), "partition_index", p);
		pvalue_set_int(pvalue_at(parts, p), "high_watermark", 100 + p);
	}
	pvalue_set_file(pvalue_at(parts, 0), "records", fd, 10, 120);
	pvalue_set_bytes(pvalue_at(parts, 1), "records", "inline", 6); /* in memory */
	pvalue_set_file(pvalue_at(parts, 2), "records", fd, 200, 100);
	buf_init(&copied);
	buf_init(&spliced);
	buf_init(&joined);
	for (int16_t v = 4; v <= 11; v++) {
		buf_reset(&copied);
		buf_reset(&spliced);
		buf_reset(&joined);
		sp.n = 0;
		sp.bytes = 0;
		assert_int_equal(proto_response_encode(9, api, v, resp, &copied), KLAB_OK);
		assert_int_equal(proto_response_encode_spliced(9, api, v, resp, &spliced, &sp),
				 KLAB_OK);
		assert_int_equal(sp.n, 2);
		assert_int_equal(sp.bytes, 220);
		assert_true(sp.v[0].file == fd && sp.v[0].file_off == 10 && sp.v[0].len == 120);
		assert_true(sp.v[1].file == fd && sp.v[1].file_off == 200 && sp.v[1].len == 100);
		/* the size prefix counts the file bytes that are not in the buffer */
		assert_int_equal(be32_read(spliced.data), spliced.len - 4 + 220);
		at = 0;
		for (size_t i = 0; i < sp.n; i++) {
			buf_put(&joined, spliced.data + at, sp.v[i].at - at);
			buf_put(&joined, file + sp.v[i].file_off, sp.v[i].len);
			at = sp.v[i].at;
		}
		buf_put(&joined, spliced.data + at, spliced.len - at);
		assert_int_equal(joined.len, copied.len);
		assert_memory_equal(joined.data, copied.data, copied.len);
	}
	fs_close(fd);
	proto_splices_free(&sp);
	buf_free(&copied);
	buf_free(&spliced);
	buf_free(&joined);
	pvalue_free(resp);
	tu_tmpdir_remove(dir);
}

/*
 * The decoder's memory is bounded by its input (proto.c, invariant 2a): a
 * Metadata v1 body of 400,000 empty names (800 KB, 40 bytes of tree per
 * byte) is KLAB_ETOOLARGE before anything is allocated for it, while the
 * same count of 8-character names (4 MB, 8 bytes of tree per byte)
 * decodes.
 */
static void
test_ch3_decode_cost_is_bounded_by_the_input(void **state)
{
	const uint32_t n = 400000;
	const struct api_desc *api = proto_api(KAPI_METADATA);
	struct pvalue *v = NULL;
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_put_be32(&b, n);
	for (uint32_t i = 0; i < n; i++)
		buf_put_be16(&b, 0);
	assert_true(buf_ok(&b));
	assert_true(n * 80 > proto_decode_budget(b.len));
	assert_int_equal(proto_decode(api->request, 1, b.data, b.len, &v), KLAB_ETOOLARGE);
	assert_null(v);
	buf_reset(&b);
	buf_put_be32(&b, n);
	for (uint32_t i = 0; i < n; i++) {
		buf_put_be16(&b, 8);
		buf_put(&b, "t1234567", 8);
	}
	assert_true(buf_ok(&b));
	assert_int_equal(proto_decode(api->request, 1, b.data, b.len, &v), KLAB_OK);
	assert_int_equal(pvalue_count(pvalue_array(v, "topics")), (int32_t)n);
	pvalue_free(v);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_round_trip_every_api_every_version),
		cmocka_unit_test(test_ch3_registry_knows_the_nine_apis),
		cmocka_unit_test(test_ch3_golden_api_versions_v0_request_is_header_only),
		cmocka_unit_test(test_ch3_golden_api_versions_v0_response_unsupported_version),
		cmocka_unit_test(test_ch3_golden_metadata_v1_request_one_topic),
		cmocka_unit_test(test_ch3_golden_produce_v3_request),
		cmocka_unit_test(test_ch3_absent_fields_decode_to_kafka_defaults),
		cmocka_unit_test(test_ch3_every_truncation_is_an_error),
		cmocka_unit_test(test_ch3_truncated_request_frames_are_errors),
		cmocka_unit_test(test_ch3_bad_lengths_and_trailing_bytes_are_corrupt),
		cmocka_unit_test(test_ch3_random_garbage_never_crashes),
		cmocka_unit_test(test_ch3_frames_reject_negative_and_oversized_sizes),
		cmocka_unit_test(test_ch3_trace_names_api_version_and_main_fields),
		cmocka_unit_test(test_ch3_spliced_fetch_response_equals_the_copied_one),
		cmocka_unit_test(test_ch3_decode_cost_is_bounded_by_the_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
