/*
 * test_proto_flex.c - the flexible versions of the Kafka codec (KIP-482;
 * chapter 3 §1).
 *
 *   tables         every API's versions and first flexible version are
 *                  Kafka 3.6's; request, response and registry agree; the
 *                  tags of a struct are distinct and only in flexible
 *                  versions.
 *   defaults       a tree of defaults at every version of every API
 *                  encodes, decodes and encodes to the same bytes.
 *   golden bytes   frames written out by hand from Kafka's JSON schemas:
 *                  ApiVersions v3 request and response, Metadata v12
 *                  request, Produce v9 request with header v2.
 *   truncation     every proper prefix of flexible messages is
 *                  KLAB_ETRUNCATED or KLAB_ECORRUPT, never a crash.
 *   tagged fields  unknown tags are skipped, known ones decoded wherever
 *                  they sit; a value that does not fill its size, a size
 *                  past the end, a six-byte varint and a count above
 *                  INT32_MAX are errors.
 *   captures       frames of real clients in tests/ch3/golden/, NAME.bin (one
 *                  whole request frame each, if the directory exists)
 *                  decode and re-encode to the same bytes.
 */
#include "testutil.h"

#include <dirent.h>

#include "proto/kafka.h"

/* ---- tables ------------------------------------------------------------------ */

/* Kafka 3.6's ranges and "flexibleVersions" for the APIs klab serves. */
static const struct {
	int16_t key, min, max, flex;
} kafka36[] = {
	{ KAPI_PRODUCE, 0, 9, 9 },	    { KAPI_FETCH, 4, 15, 12 },
	{ KAPI_LIST_OFFSETS, 0, 8, 6 },	    { KAPI_METADATA, 0, 12, 9 },
	{ KAPI_FIND_COORDINATOR, 0, 4, 3 }, { KAPI_API_VERSIONS, 0, 3, 3 },
	{ KAPI_CREATE_TOPICS, 0, 7, 5 },    { KAPI_DELETE_TOPICS, 0, 6, 4 },
	{ KAPI_INIT_PRODUCER_ID, 0, 4, 2 },
};

/* Tags distinct within each struct, tagged fields only where flex allows. */
static void
check_tags(const struct pschema *s, int16_t flex)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const struct pfield *f = &s->fields[i];

		if (f->tagged && f->min_version < flex)
			fail_msg("%s.%s is tagged before flexible v%d", s->name, f->name, flex);
		for (size_t k = i + 1; f->tagged && k < s->nfields; k++)
			if (s->fields[k].tagged && s->fields[k].tag == f->tag)
				fail_msg("%s: tag %d twice", s->name, (int)f->tag);
		if (f->sub != NULL)
			check_tags(f->sub, flex);
	}
}

static void
test_ch3_flex_tables_are_kafka_36(void **state)
{
	(void)state;
	assert_int_equal(proto_api_count(), sizeof(kafka36) / sizeof(kafka36[0]));
	for (size_t i = 0; i < sizeof(kafka36) / sizeof(kafka36[0]); i++) {
		const struct api_desc *api = proto_api(kafka36[i].key);

		assert_non_null(api);
		assert_int_equal(api->min_version, kafka36[i].min);
		assert_int_equal(api->max_version, kafka36[i].max);
		assert_int_equal(api->flexible_min, kafka36[i].flex);
		assert_int_equal(api->request->flexible_min, api->flexible_min);
		assert_int_equal(api->response->flexible_min, api->flexible_min);
		check_tags(api->request, api->flexible_min);
		check_tags(api->response, api->flexible_min);
		assert_int_equal(proto_request_header_version(api->key, api->flexible_min), 2);
		assert_int_equal(proto_request_header_version(api->key, api->flexible_min - 1), 1);
		assert_int_equal(proto_response_header_version(api->key, api->flexible_min),
				 api->key == KAPI_API_VERSIONS ? 0 : 1);
	}
}

/* ---- default trees ------------------------------------------------------------- */

static void
trip(const struct pschema *s, int16_t v, const struct pvalue *t)
{
	struct buf b1, b2;
	struct pvalue *back = NULL;
	int rc;

	buf_init(&b1);
	buf_init(&b2);
	assert_int_equal(proto_encode(s, v, t, &b1), KLAB_OK);
	rc = proto_decode(s, v, b1.data, b1.len, &back);
	if (rc != KLAB_OK)
		fail_msg("%s v%d: %s", s->name, v, klab_strerror(rc));
	assert_int_equal(proto_encode(s, v, back, &b2), KLAB_OK);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.data, b2.data, b1.len);
	pvalue_free(back);
	buf_free(&b1);
	buf_free(&b2);
}

static void
test_ch3_flex_default_trees_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < proto_api_count(); i++) {
		const struct api_desc *api = proto_api_at(i);

		for (int16_t v = api->min_version; v <= api->max_version; v++) {
			struct pvalue *rq = pvalue_new(api->request),
				      *rs = pvalue_new(api->response);

			trip(api->request, v, rq);
			trip(api->response, v, rs);
			pvalue_free(rq);
			pvalue_free(rs);
		}
	}
}

/* ---- golden bytes ---------------------------------------------------------------- */

/* Encode h + body as a request frame and compare it with want. */
static void
expect_request(const struct proto_request_header *h, const struct pvalue *body, const uint8_t *want,
	       size_t n)
{
	struct proto_request_header h2;
	struct proto_frame f;
	struct pvalue *back;
	struct cursor c;
	struct buf b;

	buf_init(&b);
	assert_int_equal(proto_request_encode(h, body, &b), KLAB_OK);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, want, n);
	assert_int_equal(proto_frame_next(want, n, 1 << 20, &f), KLAB_OK);
	assert_int_equal(proto_request_header_parse(f.body, f.len, &h2, &c), KLAB_OK);
	assert_int_equal(h2.correlation_id, h->correlation_id);
	assert_int_equal(proto_request_decode(&h2, c, &back), KLAB_OK);
	pvalue_free(back);
	buf_free(&b);
}

static void
test_ch3_flex_golden_api_versions_v3(void **state)
{
	/*
	 * ApiVersionsRequest.json v3 ("flexibleVersions": "3+"): request
	 * header v2 = RequestHeader v1 + tagged fields, whose client_id keeps
	 * its int16 length ("flexibleVersions": "none" on the field); the body
	 * ClientSoftwareName and ClientSoftwareVersion as compact strings
	 * (uvarint length + 1), then the body's tagged fields (none: 0).
	 */
	static const uint8_t req[] = {
		0x00, 0x00, 0x00, 0x17,	     /* size 23 */
		0x00, 0x12, 0x00, 0x03,	     /* ApiVersions (18) v3 */
		0x00, 0x00, 0x00, 0x05,	     /* correlation_id 5 */
		0x00, 0x02, 'c',  'k',	     /* client_id "ck", int16 length */
		0x00,			     /* header tagged fields: 0 */
		0x05, 'k',  'l',  'a',	'b', /* client_software_name: 4 + 1 */
		0x04, '0',  '.',  '3',	     /* client_software_version: 3 + 1 */
		0x00,			     /* body tagged fields: 0 */
	};
	/*
	 * ApiVersionsResponse.json v3 under response header v0 (KIP-511):
	 * ErrorCode int16, ApiKeys compact array of {ApiKey, MinVersion,
	 * MaxVersion, tagged fields}, ThrottleTimeMs int32, then the tagged
	 * fields; SupportedFeatures (tag 0) .. ZkMigrationReady (tag 3) hold
	 * their defaults and are not written.
	 */
	static const uint8_t resp[] = {
		0x00, 0x00, 0x00, 0x13,			  /* size 19 */
		0x00, 0x00, 0x00, 0x05,			  /* correlation_id 5, header v0 */
		0x00, 0x00,				  /* error_code 0 */
		0x02,					  /* api_keys: 1 + 1 */
		0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, /* 18, v0-v3, no tags */
		0x00, 0x00, 0x00, 0x00,			  /* throttle_time_ms 0 */
		0x00,					  /* tagged fields: 0 */
	};
	const struct api_desc *api = proto_api(KAPI_API_VERSIONS);
	struct proto_request_header h = { KAPI_API_VERSIONS, 3, 5, (const uint8_t *)"ck", 2 };
	struct pvalue *body = pvalue_new(api->request), *r = pvalue_new(api->response), *back;
	struct cursor c;
	int32_t corr;
	struct buf b;

	(void)state;
	pvalue_set_str(body, "client_software_name", "klab");
	pvalue_set_str(body, "client_software_version", "0.3");
	expect_request(&h, body, req, sizeof(req));
	assert_int_equal(pvalue_array_resize(pvalue_array(r, "api_keys"), 1), KLAB_OK);
	pvalue_set_int(pvalue_at(pvalue_array(r, "api_keys"), 0), "api_key", 18);
	pvalue_set_int(pvalue_at(pvalue_array(r, "api_keys"), 0), "max_version", 3);
	buf_init(&b);
	assert_int_equal(proto_response_encode(5, api, 3, r, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(resp));
	assert_memory_equal(b.data, resp, sizeof(resp));
	assert_int_equal(proto_response_header_parse(KAPI_API_VERSIONS, 3, resp + 4,
						     sizeof(resp) - 4, &corr, &c),
			 KLAB_OK);
	assert_int_equal(corr, 5);
	assert_int_equal(proto_decode(api->response, 3, c.p, c.len, &back), KLAB_OK);
	assert_int_equal(pvalue_get_int(back, "finalized_features_epoch"), -1);
	pvalue_free(back);
	pvalue_free(r);
	pvalue_free(body);
	buf_free(&b);
}

static void
test_ch3_flex_golden_metadata_v12_request(void **state)
{
	/*
	 * MetadataRequest.json v12: Topics compact array of {TopicId uuid,
	 * Name compact nullable string, tagged fields}, AllowAutoTopicCreation
	 * bool, IncludeTopicAuthorizedOperations bool (IncludeCluster... is
	 * 8-10 only), tagged fields.  Two topics: "t" by name (zero id) and
	 * one by id with a null name.
	 */
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x34,				/* size 52 */
		0x00, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x2a, /* Metadata v12, corr 42 */
		0xff, 0xff,					/* client_id null */
		0x00,						/* header tags */
		0x03,						/* topics: 2 + 1 */
		0,    0,    0,	  0,	0,    0,    0,	  0,	/* topic_id zero ... */
		0,    0,    0,	  0,	0,    0,    0,	  0,	/* ... 16 bytes */
		0x02, 't',					/* name "t": 1 + 1 */
		0x00,						/* topic tags */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* topic_id ... */
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, /* ... */
		0x00,						/* name null */
		0x00,						/* topic tags */
		0x01,						/* allow_auto_topic_creation */
		0x00, /* include_topic_authorized_operations */
		0x00, /* tags */
	};
	static const uint8_t id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const struct api_desc *api = proto_api(KAPI_METADATA);
	struct proto_request_header h = { KAPI_METADATA, 12, 42, NULL, -1 };
	struct pvalue *body = pvalue_new(api->request), *ts;

	(void)state;
	ts = pvalue_array(body, "topics");
	assert_int_equal(pvalue_array_resize(ts, 2), KLAB_OK);
	pvalue_set_str(pvalue_at(ts, 0), "name", "t");
	pvalue_set_str(pvalue_at(ts, 1), "name", NULL);
	pvalue_set_uuid(pvalue_at(ts, 1), "topic_id", id);
	expect_request(&h, body, want, sizeof(want));
	pvalue_free(body);
}

static void
test_ch3_flex_golden_produce_v9_request(void **state)
{
	/*
	 * ProduceRequest.json v9 (flexible from 9) under request header v2:
	 * TransactionalId compact nullable string (null: 0), Acks int16,
	 * TimeoutMs int32, TopicData compact array of {Name, PartitionData
	 * compact array of {Index int32, Records compact bytes, tags}, tags},
	 * tags.
	 */
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x22,				/* size 34 */
		0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, /* Produce v9, corr 1 */
		0x00, 0x01, 'p',				/* client_id "p" */
		0x00,						/* header tags */
		0x00,						/* transactional_id null */
		0xff, 0xff,					/* acks -1 */
		0x00, 0x00, 0x75, 0x30,				/* timeout_ms 30000 */
		0x02, 0x02, 't',				/* topic_data: 1; name "t" */
		0x02, 0x00, 0x00, 0x00, 0x07,			/* partition_data: 1; index 7 */
		0x04, 0xaa, 0xbb, 0xcc,				/* records: 3 + 1 */
		0x00, 0x00, 0x00,				/* partition, topic, request tags */
	};
	const struct api_desc *api = proto_api(KAPI_PRODUCE);
	struct proto_request_header h = { KAPI_PRODUCE, 9, 1, (const uint8_t *)"p", 1 };
	struct pvalue *body = pvalue_new(api->request), *t, *p;

	(void)state;
	pvalue_set_int(body, "acks", -1);
	pvalue_set_int(body, "timeout_ms", 30000);
	assert_int_equal(pvalue_array_resize(pvalue_array(body, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(body, "topic_data"), 0);
	pvalue_set_str(t, "name", "t");
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", 7);
	pvalue_set_bytes(p, "records", "\xaa\xbb\xcc", 3);
	expect_request(&h, body, want, sizeof(want));
	pvalue_free(body);
}

/* ---- truncation ------------------------------------------------------------------- */

/* A tree of s at v with one element per array, "ab" strings and small ints. */
static void
fill(struct pvalue *st, const struct pschema *s, int16_t v)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const struct pfield *f = &s->fields[i];
		struct pvalue *val = &st->a.v[i];

		if (!pfield_present(f, v))
			continue;
		if (f->type == PT_STRUCT)
			fill(val, f->sub, v);
		else if (f->type == PT_ARRAY) {
			assert_int_equal(pvalue_array_resize(val, 1), KLAB_OK);
			fill(&val->a.v[0], f->sub, v);
		} else if (f->type == PT_ARRAY_INT32 || f->type == PT_ARRAY_INT64) {
			assert_int_equal(pvalue_array_resize(val, 2), KLAB_OK);
			val->a.v[1].i = 300;
		} else if (f->type == PT_ARRAY_STRING) {
			assert_int_equal(pvalue_array_resize(val, 1), KLAB_OK);
			val->a.v[0].s.p = (const uint8_t *)"ab";
			val->a.v[0].s.len = 2;
		} else if (f->type == PT_STRING || f->type == PT_BYTES || f->type == PT_RECORDS) {
			val->null = false;
			val->s.p = (const uint8_t *)"ab";
			val->s.len = 2;
		} else if (f->type == PT_UUID) {
			val->uuid[3] = 7;
		} else {
			val->i = 1 + (int64_t)i; /* not the default: tagged ones are written */
		}
	}
}

static void
truncations(const struct pschema *s, int16_t v)
{
	struct pvalue *t = pvalue_new(s), *back;
	struct buf b;

	fill(t, s, v);
	buf_init(&b);
	assert_int_equal(proto_encode(s, v, t, &b), KLAB_OK);
	for (size_t cut = 0; cut < b.len; cut++) {
		int rc = proto_decode(s, v, b.data, cut, &back);

		if (rc != KLAB_ETRUNCATED && rc != KLAB_ECORRUPT)
			fail_msg("%s v%d cut at %zu of %zu: %s", s->name, v, cut, b.len,
				 klab_strerror(rc));
		assert_null(back);
	}
	assert_int_equal(proto_decode(s, v, b.data, b.len, &back), KLAB_OK);
	pvalue_free(back);
	pvalue_free(t);
	buf_free(&b);
}

static void
test_ch3_flex_truncated_at_every_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < proto_api_count(); i++) {
		const struct api_desc *api = proto_api_at(i);

		for (int16_t v = api->flexible_min; v <= api->max_version; v++) {
			truncations(api->request, v);
			truncations(api->response, v);
		}
	}
	truncations(&proto_request_header, 2);
	truncations(&proto_response_header, 1);
}

/* ---- tagged fields ------------------------------------------------------------------ */

static int
decode_api_versions_response(const uint8_t *p, size_t n, struct pvalue **out)
{
	return proto_decode(proto_api(KAPI_API_VERSIONS)->response, 3, p, n, out);
}

static void
test_ch3_flex_tagged_fields_known_and_unknown(void **state)
{
	/*
	 * An ApiVersions v3 response body from a newer broker: one api key
	 * whose element carries an unknown tag 9 (2 bytes), then at the top
	 * FinalizedFeaturesEpoch (tag 1, int64 7), an unknown tag 300
	 * (uvarint 0xac 0x02, 0 bytes), ZkMigrationReady (tag 3, true).
	 */
	static const uint8_t body[] = {
		0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, /* error, 1 key: 0 v0-v9 */
		0x01, 0x09, 0x02, 0xde, 0xad,			      /* its tags: 9 = dead */
		0x00, 0x00, 0x00, 0x00,				      /* throttle_time_ms */
		0x03,						      /* 3 tagged fields */
		0x01, 0x08, 0,	  0,	0,    0,    0,	  0,	0,    0x07, /* 1: epoch 7 */
		0xac, 0x02, 0x00,					    /* 300: nothing */
		0x03, 0x01, 0x01,					    /* 3: true */
	};
	uint8_t bad[sizeof(body)];
	struct pvalue *r;
	struct buf b;

	(void)state;
	assert_int_equal(decode_api_versions_response(body, sizeof(body), &r), KLAB_OK);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(r, "api_keys"), 0), "max_version"),
			 9);
	assert_int_equal(pvalue_get_int(r, "finalized_features_epoch"), 7);
	assert_int_equal(pvalue_get_int(r, "zk_migration_ready"), 1);
	/* written back: the known tags in order, the unknown ones gone */
	buf_init(&b);
	assert_int_equal(proto_encode(r->a.schema, 3, r, &b), KLAB_OK);
	assert_int_equal(b.len, sizeof(body) - 4 - 3); /* tag 9 (4 bytes), tag 300 (3) */
	pvalue_free(r);
	buf_free(&b);
	/* the epoch claims 9 bytes: 8 fill it, one is left over inside it */
	memcpy(bad, body, sizeof(body));
	bad[20] = 0x09;
	assert_int_equal(decode_api_versions_response(bad, sizeof(body), &r), KLAB_ECORRUPT);
	/* the unknown tag 9 claims 127 bytes: past the end */
	memcpy(bad, body, sizeof(body));
	bad[11] = 0x7f;
	assert_int_equal(decode_api_versions_response(bad, sizeof(body), &r), KLAB_ETRUNCATED);
	/* a tagged-field count no input can hold */
	memcpy(bad, body, sizeof(body));
	bad[18] = 0x7f;
	assert_int_equal(decode_api_versions_response(bad, sizeof(body), &r), KLAB_ETRUNCATED);
}

static void
test_ch3_flex_varints_that_lie(void **state)
{
	/* ApiVersions v3 response bodies whose api_keys count is a lie */
	static const uint8_t six_bytes[] = {
		0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0, 0
	};
	static const uint8_t over_int32[] = { 0, 0, 0x81, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0, 0 };
	static const uint8_t over_32_bits[] = { 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0, 0 };
	static const uint8_t int32_max[] = { 0, 0, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0, 0 };
	/* a compact string of 40000 bytes: more than an int16 string may hold */
	static const uint8_t long_name[] = { 0xc1, 0xb8, 0x02, 'k' };
	struct pvalue *r;

	(void)state;
	assert_int_equal(decode_api_versions_response(six_bytes, sizeof(six_bytes), &r),
			 KLAB_ECORRUPT);
	assert_int_equal(decode_api_versions_response(over_int32, sizeof(over_int32), &r),
			 KLAB_ECORRUPT);
	assert_int_equal(decode_api_versions_response(over_32_bits, sizeof(over_32_bits), &r),
			 KLAB_ECORRUPT);
	assert_int_equal(decode_api_versions_response(int32_max, sizeof(int32_max), &r),
			 KLAB_ETRUNCATED);
	assert_int_equal(proto_decode(proto_api(KAPI_API_VERSIONS)->request, 3, long_name,
				      sizeof(long_name), &r),
			 KLAB_ECORRUPT);
	assert_null(r);
}

/* ---- captures of real clients (optional) --------------------------------------------- */

/*
 * tests/ch3/golden/NAME.bin: one whole request frame as a real
 * client sent it (size prefix included).  It must decode; and unless its
 * name holds "-lossy" (a frame with unknown tagged fields, which klab does
 * not keep), re-encode to the same bytes.
 */
/* What tests/ch3/golden/README.md says each kind of capture holds. */
static void
check_capture_fields(const char *name, const struct proto_request_header *h,
		     const struct pvalue *req)
{
	static const struct {
		const char *prefix, *software;
	} who[] = { { "platformatic-", "platformatic-kafka" },
		    { "kafkats-", "kafka-ts" },
		    { "librdkafka-", "librdkafka" } };
	int32_t len;
	const uint8_t *p;

	if (h->client_id_len != 11 || memcmp(h->client_id, "klab-golden", 11) != 0)
		fail_msg("%s: client_id is not klab-golden", name);
	if (h->api_key == KAPI_API_VERSIONS && h->api_version == 3) {
		p = pvalue_get_bytes(req, "client_software_name", &len);
		for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++)
			if (strncmp(name, who[i].prefix, strlen(who[i].prefix)) == 0 &&
			    (p == NULL || (size_t)len != strlen(who[i].software) ||
			     memcmp(p, who[i].software, (size_t)len) != 0))
				fail_msg("%s: client_software_name is not %s", name,
					 who[i].software);
	}
	if (h->api_key == KAPI_INIT_PRODUCER_ID &&
	    pvalue_get_bytes(req, "transactional_id", &len) != NULL)
		fail_msg("%s: an idempotent producer's InitProducerId has a transactional id",
			 name);
	if (h->api_key == KAPI_PRODUCE && pvalue_get_int(req, "acks") != -1)
		fail_msg("%s: acks is not -1", name);
}

static void
check_capture(const char *path, const char *name)
{
	struct proto_request_header h;
	struct proto_frame f;
	struct pvalue *req;
	struct cursor c;
	struct buf in, out;
	FILE *fp = fopen(path, "rb");
	uint8_t chunk[4096];
	size_t n;

	assert_non_null(fp);
	buf_init(&in);
	buf_init(&out);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_put(&in, chunk, n);
	fclose(fp);
	assert_int_equal(proto_frame_next(in.data, in.len, 100 << 20, &f), KLAB_OK);
	if (f.consumed != in.len)
		fail_msg("%s: not one whole frame", name);
	assert_int_equal(proto_request_header_parse(f.body, f.len, &h, &c), KLAB_OK);
	if (proto_api(h.api_key) != NULL && h.api_version > proto_api(h.api_key)->max_version) {
		/* a version above klab's (kafka-ts tries ApiVersions v4 first):
		 * refused, and the broker answers ApiVersions in v0 (KIP-511) */
		if (proto_request_decode(&h, c, &req) != KLAB_ERANGE)
			fail_msg("%s: api %d v%d should be out of range", name, h.api_key,
				 h.api_version);
		buf_free(&in);
		buf_free(&out);
		return;
	}
	if (proto_request_decode(&h, c, &req) != KLAB_OK)
		fail_msg("%s: api %d v%d does not decode", name, h.api_key, h.api_version);
	check_capture_fields(name, &h, req);
	assert_int_equal(proto_request_encode(&h, req, &out), KLAB_OK);
	if (strstr(name, "-lossy") == NULL &&
	    (out.len != in.len || memcmp(out.data, in.data, in.len) != 0))
		fail_msg("%s: re-encoded differently", name);
	pvalue_free(req);
	buf_free(&in);
	buf_free(&out);
}

static void
test_ch3_flex_captured_frames(void **state)
{
	const char *dir = "tests/ch3/golden";
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	int n = 0;

	(void)state;
	if (d == NULL) {
		print_message("no %s: no captures to check\n", dir);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".bin") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		check_capture(path, e->d_name);
		n++;
	}
	closedir(d);
	print_message("%d captured frames decode\n", n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_flex_tables_are_kafka_36),
		cmocka_unit_test(test_ch3_flex_default_trees_round_trip),
		cmocka_unit_test(test_ch3_flex_golden_api_versions_v3),
		cmocka_unit_test(test_ch3_flex_golden_metadata_v12_request),
		cmocka_unit_test(test_ch3_flex_golden_produce_v9_request),
		cmocka_unit_test(test_ch3_flex_truncated_at_every_byte),
		cmocka_unit_test(test_ch3_flex_tagged_fields_known_and_unknown),
		cmocka_unit_test(test_ch3_flex_varints_that_lie),
		cmocka_unit_test(test_ch3_flex_captured_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
