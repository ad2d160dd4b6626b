/*
 * test_jute.c - ZooKeeper's jute records and frames (chapter 4 §1).
 *
 *   round trip     every record of jute_records.c, filled with values
 *                  that are not the defaults, encodes, decodes to the same
 *                  values and encodes to the same bytes.
 *   golden bytes   frames written out by hand from zookeeper.jute: the
 *                  connect request with its readOnly byte, a create with
 *                  ACL world:anyone, a reply with a Stat, a watch event, a
 *                  multi of two ops, one failing, and its reply.
 *   truncation     every proper prefix is an error, never a crash.
 *   bounds         a vector count of 2^31-1 with four bytes behind it is
 *                  refused before anything is allocated; frames above
 *                  jute.maxbuffer are refused from their size alone.
 */
#include "testutil.h"

#include "proto/jute.h"

/* ---- filling and comparing trees ----------------------------------------- */

static const char *const texts[] = { "/a", "world", "anyone", "/klab/brokers/ids/1", "x" };

static void fill(struct pvalue *st, unsigned *k);

static void
fill_slice(struct pvalue *v, unsigned *k)
{
	const char *t = texts[(*k)++ % 5];

	v->null = false;
	v->s.p = (const uint8_t *)t;
	v->s.len = (int32_t)strlen(t);
}

static void
fill_node(struct pvalue *v, unsigned *k)
{
	if (v->type == PT_STRUCT) {
		fill(v, k);
	} else if (v->type == PT_BYTES) {
		fill_slice(v, k);
	} else if (v->type == PT_ARRAY || v->type == PT_ARRAY_BYTES) {
		assert_int_equal(pvalue_array_resize(v, 2), KLAB_OK);
		for (int32_t i = 0; i < 2; i++)
			fill_node(&v->a.v[i], k);
	} else if (v->type == PT_BOOL) {
		v->i = 1;
	} else {
		assert_true(v->type == PT_INT32 || v->type == PT_INT64);
		v->i = v->type == PT_INT64 ? -(int64_t)0x123456789ll * ++*k : 1000 + (*k)++;
	}
}

static void
fill(struct pvalue *st, unsigned *k)
{
	for (int32_t i = 0; i < st->a.n; i++)
		fill_node(&st->a.v[i], k);
}

static void
assert_same(const struct pvalue *a, const struct pvalue *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->null, b->null);
	if (a->type == PT_BYTES) {
		assert_int_equal(a->s.len, b->s.len);
		assert_memory_equal(a->s.p, b->s.p, (size_t)a->s.len);
	} else if (a->type == PT_STRUCT || a->type == PT_ARRAY || a->type == PT_ARRAY_BYTES) {
		assert_int_equal(a->a.n, b->a.n);
		for (int32_t i = 0; i < a->a.n; i++)
			assert_same(&a->a.v[i], &b->a.v[i]);
	} else {
		assert_true(a->i == b->i);
	}
}

/* Every proper prefix of p[0..len) as record s is an error. */
static void
assert_prefixes_fail(const struct pschema *s, const uint8_t *p, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		struct pvalue *v = (struct pvalue *)1;

		assert_int_equal(jute_decode(s, p, n, &v), KLAB_ETRUNCATED);
		assert_null(v);
	}
}

/* ---- every record ----------------------------------------------------------- */

static void
test_ch4_jute_round_trip_every_record(void **state)
{
	(void)state;
	assert_int_equal(jute_record_count(), 64);
	for (size_t i = 0; i < jute_record_count(); i++) {
		const struct pschema *s = jute_record_at(i);
		struct pvalue *v = pvalue_new(s), *back = NULL;
		struct buf a, b;
		unsigned k = (unsigned)i;

		assert_ptr_equal(jute_record(s->name), s);
		fill(v, &k);
		buf_init(&a);
		buf_init(&b);
		assert_int_equal(jute_encode(s, v, &a), KLAB_OK);
		assert_int_equal(jute_decode(s, a.data, a.len, &back), KLAB_OK);
		assert_same(v, back);
		assert_int_equal(jute_encode(s, back, &b), KLAB_OK);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		assert_prefixes_fail(s, a.data, a.len);
		pvalue_free(v);
		pvalue_free(back);
		buf_free(&a);
		buf_free(&b);
	}
}

/* Sizes fixed by zookeeper.jute: Stat is 68 bytes, StatPersisted 60, TxnHeader 32. */
static void
test_ch4_jute_fixed_record_sizes(void **state)
{
	const struct pschema *s[] = { &jute_stat,	    &jute_stat_persisted,
				      &jute_request_header, &jute_reply_header,
				      &jute_txn_header,	    &jute_file_header };
	const size_t want[] = { 68, 60, 8, 16, 32, 16 };

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		struct pvalue *v = pvalue_new(s[i]);
		struct buf b;

		buf_init(&b);
		assert_int_equal(jute_encode(s[i], v, &b), KLAB_OK);
		assert_int_equal(b.len, want[i]);
		buf_free(&b);
		pvalue_free(v);
	}
}

/* ---- golden bytes ---------------------------------------------------------- */

static void
assert_bytes(const struct buf *b, const uint8_t *want, size_t len)
{
	assert_int_equal(b->len, len);
	assert_memory_equal(b->data, want, len);
}

/* A fresh Java client's first frame: no session, a 16-byte zero password. */
static const uint8_t connect_golden[] = {
	0x00, 0x00, 0x00, 0x2d,				/* size 45 */
	0x00, 0x00, 0x00, 0x00,				/* protocolVersion 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* lastZxidSeen 0 */
	0x00, 0x00, 0x75, 0x30,				/* timeOut 30000 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sessionId 0 */
	0x00, 0x00, 0x00, 0x10,				/* passwd: 16 bytes */
	0,    0,    0,	  0,	0,    0,    0,	  0,	0,
	0,    0,    0,	  0,	0,    0,    0,	  0x01, /* readOnly, outside the record */
};

static void
test_ch4_jute_golden_connect_request(void **state)
{
	static const uint8_t zero16[16];
	struct pvalue *v = pvalue_new(&jute_connect_request), *back;
	struct buf b;
	bool ro = false;

	(void)state;
	pvalue_set_int(v, "timeOut", 30000);
	pvalue_set_bytes(v, "passwd", zero16, 16);
	buf_init(&b);
	assert_int_equal(jute_connect_request_encode(v, true, &b), KLAB_OK);
	assert_bytes(&b, connect_golden, sizeof(connect_golden));
	assert_int_equal(jute_connect_request_decode(b.data + 4, b.len - 4, &back, &ro), KLAB_OK);
	assert_true(ro);
	assert_int_equal(pvalue_get_int(back, "timeOut"), 30000);
	pvalue_free(back);
	/* without the readOnly byte (a pre-3.4 client): read as false */
	assert_int_equal(jute_connect_request_decode(b.data + 4, b.len - 5, &back, &ro), KLAB_OK);
	assert_false(ro);
	pvalue_free(back);
	pvalue_free(v);
	buf_free(&b);
}

/*
 * The server's answer: 36 bytes of record with a 16-byte password, 37 with
 * readOnly; the C client reads 41 bytes with the size and takes 40 too.
 */
static void
test_ch4_jute_connect_response_with_and_without_read_only(void **state)
{
	static const uint8_t pw[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pvalue *v = pvalue_new(&jute_connect_response), *back;
	struct buf b;
	bool ro = true;

	(void)state;
	pvalue_set_int(v, "timeOut", 4000);
	pvalue_set_int(v, "sessionId", 0x100000abcdll);
	pvalue_set_bytes(v, "passwd", pw, 16);
	buf_init(&b);
	assert_int_equal(jute_connect_response_encode(v, false, &b), KLAB_OK);
	assert_int_equal(b.len, 41);
	assert_int_equal(be32_read(b.data), 37);
	assert_int_equal(jute_connect_response_decode(b.data + 4, 36, &back, &ro), KLAB_OK);
	assert_false(ro);
	assert_true(pvalue_get_int(back, "sessionId") == 0x100000abcdll);
	pvalue_free(back);
	/* a byte after readOnly is not a ConnectResponse */
	assert_int_equal(buf_reserve(&b, 1), true);
	buf_put_u8(&b, 0);
	assert_int_equal(jute_connect_response_decode(b.data + 4, 38, &back, &ro), KLAB_ECORRUPT);
	assert_null(back);
	pvalue_free(v);
	buf_free(&b);
}

/* The one ACL of ZooDefs.Ids.OPEN_ACL_UNSAFE: ALL (31), world:anyone. */
static void
set_open_acl(struct pvalue *req)
{
	struct pvalue *acl = pvalue_array(req, "acl"), *id;

	assert_int_equal(pvalue_array_resize(acl, 1), KLAB_OK);
	pvalue_set_int(pvalue_at(acl, 0), "perms", JUTE_PERM_ALL);
	id = pvalue_get(pvalue_at(acl, 0), "id");
	pvalue_set_str(id, "scheme", "world");
	pvalue_set_str(id, "id", "anyone");
}

static const uint8_t create_golden[] = {
	0x00, 0x00, 0x00, 0x33,				/* size 51 */
	0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, /* xid 5, type create */
	0x00, 0x00, 0x00, 0x02, '/',  'a',		/* path */
	0x00, 0x00, 0x00, 0x02, 'h',  'i',		/* data */
	0x00, 0x00, 0x00, 0x01,				/* one ACL */
	0x00, 0x00, 0x00, 0x1f,				/* perms ALL */
	0x00, 0x00, 0x00, 0x05, 'w',  'o',  'r',  'l',	'd',  0x00, 0x00, 0x00,
	0x06, 'a',  'n',  'y',	'o',  'n',  'e',  0x00, 0x00, 0x00, 0x01, /* flags: ephemeral */
};

static void
test_ch4_jute_golden_create_request(void **state)
{
	struct pvalue *v = pvalue_new(&jute_create_request), *back;
	struct jute_request_header h;
	struct cursor body;
	struct buf b;
	char line[128];

	(void)state;
	pvalue_set_str(v, "path", "/a");
	pvalue_set_bytes(v, "data", "hi", 2);
	set_open_acl(v);
	pvalue_set_int(v, "flags", JUTE_CREATE_EPHEMERAL);
	buf_init(&b);
	assert_int_equal(jute_request_encode(5, JUTE_OP_CREATE, &jute_create_request, v, &b),
			 KLAB_OK);
	assert_bytes(&b, create_golden, sizeof(create_golden));
	assert_int_equal(jute_request_header_parse(b.data + 4, b.len - 4, &h, &body), KLAB_OK);
	assert_int_equal(h.xid, 5);
	assert_ptr_equal(jute_op_request(h.type), &jute_create_request);
	assert_int_equal(jute_decode(&jute_create_request, body.p, body.len, &back), KLAB_OK);
	assert_int_equal(pvalue_get_int(back, "flags"), 1);
	jute_trace_request(line, sizeof(line), h.xid, h.type, back);
	assert_string_equal(line, "create xid=5 path=/a data=hi acl=<1> flags=1");
	assert_prefixes_fail(&jute_create_request, body.p, body.len);
	pvalue_free(back);
	pvalue_free(v);
	buf_free(&b);
}

static const uint8_t exists_reply_golden[] = {
	0x00, 0x00, 0x00, 0x54,				/* size 84 = 16 + 68 */
	0x00, 0x00, 0x00, 0x07,				/* xid 7 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, /* zxid 0x10 */
	0x00, 0x00, 0x00, 0x00,				/* err OK */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* czxid */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, /* mzxid */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* ctime */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, /* mtime */
	0x00, 0x00, 0x00, 0x01,				/* version */
	0x00, 0x00, 0x00, 0x02,				/* cversion */
	0x00, 0x00, 0x00, 0x00,				/* aversion */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* ephemeralOwner */
	0x00, 0x00, 0x00, 0x02,				/* dataLength */
	0x00, 0x00, 0x00, 0x00,				/* numChildren */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* pzxid */
};

static void
test_ch4_jute_golden_reply_with_stat(void **state)
{
	struct pvalue *v = pvalue_new(&jute_exists_response), *back;
	struct pvalue *stat = pvalue_get(v, "stat");
	struct jute_reply_header h;
	struct cursor body;
	struct buf b;

	(void)state;
	pvalue_set_int(stat, "czxid", 2);
	pvalue_set_int(stat, "mzxid", 3);
	pvalue_set_int(stat, "ctime", 0x100);
	pvalue_set_int(stat, "mtime", 0x200);
	pvalue_set_int(stat, "version", 1);
	pvalue_set_int(stat, "cversion", 2);
	pvalue_set_int(stat, "dataLength", 2);
	pvalue_set_int(stat, "pzxid", 2);
	buf_init(&b);
	assert_int_equal(jute_reply_encode(7, 0x10, JUTE_OK, &jute_exists_response, v, &b),
			 KLAB_OK);
	assert_bytes(&b, exists_reply_golden, sizeof(exists_reply_golden));
	assert_int_equal(jute_reply_header_parse(b.data + 4, b.len - 4, &h, &body), KLAB_OK);
	assert_true(h.xid == 7 && h.zxid == 0x10 && h.err == 0);
	assert_int_equal(jute_decode(&jute_exists_response, body.p, body.len, &back), KLAB_OK);
	assert_int_equal(pvalue_get_int(pvalue_get(back, "stat"), "mzxid"), 3);
	assert_prefixes_fail(&jute_exists_response, body.p, body.len);
	pvalue_free(back);
	pvalue_free(v);
	buf_free(&b);
}

static const uint8_t event_golden[] = {
	0x00, 0x00, 0x00, 0x1e,				/* size 30 */
	0xff, 0xff, 0xff, 0xff,				/* xid -1: a notification */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* zxid -1 */
	0x00, 0x00, 0x00, 0x00,				/* err OK */
	0x00, 0x00, 0x00, 0x03,				/* NodeDataChanged */
	0x00, 0x00, 0x00, 0x03,				/* SyncConnected */
	0x00, 0x00, 0x00, 0x02, '/',  'a',
};

static void
test_ch4_jute_golden_watch_event(void **state)
{
	struct pvalue *v = pvalue_new(&jute_watcher_event);
	struct buf b;
	char line[128];

	(void)state;
	pvalue_set_int(v, "type", JUTE_EVENT_NODE_DATA_CHANGED);
	pvalue_set_int(v, "state", JUTE_STATE_SYNC_CONNECTED);
	pvalue_set_str(v, "path", "/a");
	buf_init(&b);
	assert_int_equal(
		jute_reply_encode(JUTE_XID_NOTIFICATION, -1, JUTE_OK, &jute_watcher_event, v, &b),
		KLAB_OK);
	assert_bytes(&b, event_golden, sizeof(event_golden));
	jute_trace_reply(line, sizeof(line), -1, -1, 0, v);
	assert_string_equal(line,
			    "reply xid=-1 zxid=0xffffffffffffffff err=OK type=3 state=3 path=/a");
	assert_string_equal(jute_event_type_name(3), "NodeDataChanged");
	assert_string_equal(jute_state_name(3), "SyncConnected");
	pvalue_free(v);
	buf_free(&b);
}

/* ---- multi ----------------------------------------------------------------- */

/* multi [create /a "" OPEN_ACL_UNSAFE persistent, delete /b version -1] */
static const uint8_t multi_request_golden[] = {
	0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, /* {create, false, -1} */
	0x00, 0x00, 0x00, 0x02, '/',  'a',  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x05, 'w',  'o',  'r',	'l',
	'd',  0x00, 0x00, 0x00, 0x06, 'a',  'n',  'y',	'o',  'n',  'e',  0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, /* {delete, false, -1} */
	0x00, 0x00, 0x00, 0x02, '/',  'b',  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x01, 0xff, 0xff, 0xff, 0xff, /* {-1, true, -1} */
};

/*
 * Its reply when /b does not exist: every op an ErrorResult, OK for the
 * ops before the failing one (rolled back), NONODE (-101) for it.
 */
static const uint8_t multi_reply_golden[] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0x9b, 0xff, 0xff,
	0xff, 0x9b, 0xff, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff,
};

static void
test_ch4_jute_golden_multi_with_a_failure(void **state)
{
	struct pvalue *create = pvalue_new(&jute_create_request);
	struct pvalue *del = pvalue_new(&jute_delete_request);
	struct jute_multi_op req[2] = { { JUTE_OP_CREATE, -1, create },
					{ JUTE_OP_DELETE, -1, del } };
	struct jute_multi_op rep[2] = { { JUTE_OP_ERROR, JUTE_OK, NULL },
					{ JUTE_OP_ERROR, JUTE_NONODE, NULL } };
	struct jute_multi m;
	struct cursor c;
	struct buf b;

	(void)state;
	pvalue_set_str(create, "path", "/a");
	set_open_acl(create);
	pvalue_set_str(del, "path", "/b");
	pvalue_set_int(del, "version", -1);
	buf_init(&b);
	assert_int_equal(jute_multi_encode(req, 2, false, &b), KLAB_OK);
	assert_bytes(&b, multi_request_golden, sizeof(multi_request_golden));
	buf_reset(&b);
	assert_int_equal(jute_multi_encode(rep, 2, true, &b), KLAB_OK);
	assert_bytes(&b, multi_reply_golden, sizeof(multi_reply_golden));

	cur_init(&c, multi_request_golden, sizeof(multi_request_golden));
	assert_int_equal(jute_multi_decode(&c, false, &m), KLAB_OK);
	assert_int_equal(c.len, 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.ops[1].type, JUTE_OP_DELETE);
	assert_int_equal(pvalue_get_int(m.ops[1].body, "version"), -1);
	jute_multi_free(&m);
	cur_init(&c, multi_reply_golden, sizeof(multi_reply_golden));
	assert_int_equal(jute_multi_decode(&c, true, &m), KLAB_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.ops[1].err, JUTE_NONODE);
	assert_int_equal(pvalue_get_int(m.ops[1].body, "err"), JUTE_NONODE);
	jute_multi_free(&m);

	for (size_t n = 0; n < sizeof(multi_request_golden); n++) {
		cur_init(&c, multi_request_golden, n);
		assert_int_equal(jute_multi_decode(&c, false, &m), KLAB_ETRUNCATED);
		assert_null(m.ops);
	}
	pvalue_free(create);
	pvalue_free(del);
	buf_free(&b);
}

static void
test_ch4_jute_multi_refuses_an_op_it_cannot_hold(void **state)
{
	/* {getACL, false, -1} + a path: not an op a multi may carry */
	static const uint8_t bad[] = { 0, 0, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, '/' };
	struct jute_multi_op op = { JUTE_OP_PING, -1, NULL };
	struct jute_multi m;
	struct cursor c;
	struct buf b;

	(void)state;
	cur_init(&c, bad, sizeof(bad));
	assert_int_equal(jute_multi_decode(&c, false, &m), KLAB_ECORRUPT);
	buf_init(&b);
	assert_int_equal(jute_multi_encode(&op, 1, false, &b), KLAB_EINVAL);
	assert_int_equal(b.len, 0);
	/* createTTL is a request op only: MultiResponse answers it as create2 */
	op.type = JUTE_OP_CREATE_TTL;
	assert_int_equal(jute_multi_encode(&op, 1, true, &b), KLAB_EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* ---- bounds ---------------------------------------------------------------- */

static void
test_ch4_jute_huge_vector_count_refused_before_allocating(void **state)
{
	static const uint8_t children[] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	/* CreateRequest: path "", data null, acl count 2^31-1 */
	static const uint8_t create[] = {
		0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff
	};
	struct pvalue *v;

	(void)state;
	assert_int_equal(jute_decode(&jute_get_children_response, children, 4, &v),
			 KLAB_ETRUNCATED);
	assert_int_equal(jute_decode(&jute_get_children_response, children, 8, &v),
			 KLAB_ETRUNCATED);
	assert_int_equal(jute_decode(&jute_create_request, create, sizeof(create), &v),
			 KLAB_ETRUNCATED);
	assert_null(v);
}

static void
test_ch4_jute_nulls_and_bad_lengths(void **state)
{
	/* GetDataResponse{data null, Stat of zeros} */
	uint8_t p[4 + 68] = { 0xff, 0xff, 0xff, 0xff };
	struct pvalue *v;
	int32_t len;

	(void)state;
	assert_int_equal(jute_decode(&jute_get_data_response, p, sizeof(p), &v), KLAB_OK);
	assert_null(pvalue_get_bytes(v, "data", &len));
	assert_int_equal(len, -1);
	pvalue_free(v);
	p[3] = 0xfe; /* -2: not null, not a length; Kafka's rule: read as null */
	assert_int_equal(jute_decode(&jute_get_data_response, p, sizeof(p), &v), KLAB_OK);
	pvalue_free(v);
	p[0] = 0x00, p[3] = 0x45; /* 69: past the end */
	assert_int_equal(jute_decode(&jute_get_data_response, p, sizeof(p), &v), KLAB_ETRUNCATED);
}

static void
test_ch4_jute_frame_size_bounded_by_maxbuffer(void **state)
{
	uint8_t p[8] = { 0x00, 0x10, 0x00, 0x00 }; /* 0x100000: one byte over */
	struct proto_frame f;

	(void)state;
	assert_int_equal(jute_frame_next(p, 4, JUTE_MAXBUFFER_DEFAULT, &f), KLAB_ETOOLARGE);
	p[1] = 0x0f, p[2] = 0xff, p[3] = 0xff; /* 0xfffff: allowed, needs more bytes */
	assert_int_equal(jute_frame_next(p, 8, JUTE_MAXBUFFER_DEFAULT, &f), KLAB_OK);
	assert_int_equal(f.consumed, 0);
	p[0] = 0xff; /* negative */
	assert_int_equal(jute_frame_next(p, 4, JUTE_MAXBUFFER_DEFAULT, &f), KLAB_ECORRUPT);
	p[0] = 0, p[1] = 0, p[2] = 0, p[3] = 4;
	assert_int_equal(jute_frame_next(p, 8, JUTE_MAXBUFFER_DEFAULT, &f), KLAB_OK);
	assert_int_equal(f.consumed, 8);
	assert_int_equal(f.len, 4);
}

/* ---- codes and trace -------------------------------------------------------- */

static void
test_ch4_jute_codes_and_names(void **state)
{
	(void)state;
	assert_string_equal(jute_op_name(JUTE_OP_GET_EPHEMERALS), "getEphemerals");
	assert_string_equal(jute_op_name(107), "whoAmI");
	assert_string_equal(jute_op_name(-10), "createSession");
	assert_null(jute_op_name(10));
	assert_string_equal(jute_err_name(-101), "NONODE");
	assert_string_equal(jute_err_name(-127), "THROTTLEDOP");
	assert_string_equal(jute_err_name(-9), "UNKNOWN");
	assert_ptr_equal(jute_op_response(JUTE_OP_CREATE2), &jute_create2_response);
	assert_null(jute_op_response(JUTE_OP_DELETE));
	assert_ptr_equal(jute_op_txn(JUTE_OP_CREATE_TTL), &jute_create_ttl_txn);
	assert_ptr_equal(jute_op_txn(JUTE_OP_CLOSE_SESSION), &jute_close_session_txn);
}

static void
test_ch4_jute_trace_reply_names_the_error(void **state)
{
	char line[64];
	size_t n;

	(void)state;
	n = jute_trace_reply(line, sizeof(line), 5, 3, JUTE_NONODE, NULL);
	assert_string_equal(line, "reply xid=5 zxid=0x3 err=NONODE");
	assert_int_equal(n, strlen(line));
	n = jute_trace_request(line, 8, 5, JUTE_OP_PING, NULL);
	assert_int_equal(n, strlen("ping xid=5"));
	assert_string_equal(line, "ping xi");
}

static void
test_ch4_jute_trace_frames(void **state)
{
	uint8_t frame[128] = { 0, 0, 0, 9, 0, 0, 0, 14 }; /* xid 9, multi */
	uint8_t reply[128] = { 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0 };
	char line[128];

	(void)state;
	jute_trace_request_frame(line, sizeof(line), create_golden + 4, sizeof(create_golden) - 4);
	assert_string_equal(line, "create xid=5 path=/a data=hi acl=<1> flags=1");
	jute_trace_reply_frame(line, sizeof(line), event_golden + 4, sizeof(event_golden) - 4, -1);
	assert_string_equal(line,
			    "reply xid=-1 zxid=0xffffffffffffffff err=OK type=3 state=3 path=/a");
	jute_trace_reply_frame(line, sizeof(line), exists_reply_golden + 4, 16 + 68,
			       JUTE_OP_EXISTS);
	assert_string_equal(line, "reply xid=7 zxid=0x10 err=OK stat={..}");
	memcpy(frame + 8, multi_request_golden, sizeof(multi_request_golden));
	jute_trace_request_frame(line, sizeof(line), frame, 8 + sizeof(multi_request_golden));
	assert_string_equal(line, "multi xid=9 ops=[create,delete]");
	memcpy(reply + 16, multi_reply_golden, sizeof(multi_reply_golden));
	jute_trace_reply_frame(line, sizeof(line), reply, 16 + sizeof(multi_reply_golden),
			       JUTE_OP_MULTI);
	assert_string_equal(line, "reply xid=9 zxid=0x20 err=OK ops=[error:OK,error:NONODE]");
	jute_trace_request_frame(line, sizeof(line), frame, 8 + 5);
	assert_string_equal(line, "multi xid=9 <5 bytes>");
	jute_trace_request_frame(line, sizeof(line), frame, 3);
	assert_string_equal(line, "request <3 bytes>");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch4_jute_round_trip_every_record),
		cmocka_unit_test(test_ch4_jute_fixed_record_sizes),
		cmocka_unit_test(test_ch4_jute_golden_connect_request),
		cmocka_unit_test(test_ch4_jute_connect_response_with_and_without_read_only),
		cmocka_unit_test(test_ch4_jute_golden_create_request),
		cmocka_unit_test(test_ch4_jute_golden_reply_with_stat),
		cmocka_unit_test(test_ch4_jute_golden_watch_event),
		cmocka_unit_test(test_ch4_jute_golden_multi_with_a_failure),
		cmocka_unit_test(test_ch4_jute_multi_refuses_an_op_it_cannot_hold),
		cmocka_unit_test(test_ch4_jute_huge_vector_count_refused_before_allocating),
		cmocka_unit_test(test_ch4_jute_nulls_and_bad_lengths),
		cmocka_unit_test(test_ch4_jute_frame_size_bounded_by_maxbuffer),
		cmocka_unit_test(test_ch4_jute_codes_and_names),
		cmocka_unit_test(test_ch4_jute_trace_reply_names_the_error),
		cmocka_unit_test(test_ch4_jute_trace_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
