/*
 * fuzz_jute.c - libFuzzer target: ZooKeeper's jute records and frames on
 * arbitrary bytes (src/proto/jute.c, jute_records.c, and the Kafka codec
 * they run on, kafka.c).
 *
 * The first byte of an input says what the rest is:
 *
 *   0 mod 4   one record: the second byte picks it (jute_record_at), the
 *             rest is its bytes;
 *   1 mod 4   a request frame body: RequestHeader, then the op's record
 *             (jute_op_request) or a multi's op list;
 *   2 mod 4   a reply frame body: ReplyHeader, then the op's reply record
 *             (the op is the second byte, as a client knows it from the
 *             xid it sent) or a multi's reply list;
 *   3 mod 4   a ConnectRequest, or with bit 2 set a ConnectResponse, with
 *             the optional readOnly byte.
 *
 * What must hold, or the target aborts naming the rule:
 *   1. whatever decodes re-encodes, and the re-encoded bytes decode to a
 *      tree that encodes to the same bytes again (a fixed point);
 *   2. a record that decoded from the whole input takes all of it back
 *      (jute_decode refuses bytes left over);
 *   3. the trace of any decoded body fits the line it is given, and every
 *      request and reply frame traces as something;
 *   and, as everywhere, no ASan, UBSan or leak report.  libFuzzer hands
 *   the input in a heap block of exactly its size, so a read past it is a
 *   heap-buffer-overflow.
 *
 * Seed inputs: tests/fuzz/corpus/fuzz_jute/ (the golden frames of
 * tests/ch4/test_jute.c behind their selector bytes).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/jute.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *rule)
{
	fprintf(stderr, "fuzz_jute: invariant broken: %s\n", rule);
	abort();
}

/* Invariants 1 and 3 for a tree of record s. */
static void
check_tree(const struct pschema *s, const struct pvalue *v)
{
	struct buf a, b;
	struct pvalue *back = NULL;
	char line[96];

	if (jute_trace_request(line, sizeof(line), 1, 1, v) == 0 || strlen(line) >= sizeof(line))
		fail("a trace line overran its buffer");
	buf_init(&a);
	buf_init(&b);
	if (jute_encode(s, v, &a) != KLAB_OK)
		fail("a decoded record does not encode");
	if (jute_decode(s, a.data, a.len, &back) != KLAB_OK)
		fail("re-encoded bytes do not decode");
	if (jute_encode(s, back, &b) != KLAB_OK || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		fail("encode(decode(encode(x))) differs from encode(x)");
	pvalue_free(back);
	buf_free(&a);
	buf_free(&b);
}

static void
one_record(const uint8_t *p, size_t n)
{
	const struct pschema *s;
	struct pvalue *v = NULL;

	if (n == 0)
		return;
	s = jute_record_at(p[0] % jute_record_count());
	if (jute_decode(s, p + 1, n - 1, &v) == KLAB_OK)
		check_tree(s, v);
	pvalue_free(v);
}

static void
multi(struct cursor *c, bool reply)
{
	struct jute_multi m;
	struct buf b;

	if (jute_multi_decode(c, reply, &m) != KLAB_OK)
		return;
	for (size_t i = 0; i < m.n; i++)
		if (m.ops[i].body != NULL)
			check_tree(m.ops[i].body->a.schema, m.ops[i].body);
	buf_init(&b);
	if (jute_multi_encode(m.ops, m.n, reply, &b) != KLAB_OK)
		fail("a decoded multi does not encode");
	buf_free(&b);
	jute_multi_free(&m);
}

static void
body(struct cursor *c, int32_t op, bool reply)
{
	const struct pschema *s = reply ? jute_op_response(op) : jute_op_request(op);
	struct pvalue *v = NULL;

	if (op == JUTE_OP_MULTI || op == JUTE_OP_MULTI_READ) {
		multi(c, reply);
		return;
	}
	if (s != NULL && jute_decode(s, c->p, c->len, &v) == KLAB_OK)
		check_tree(s, v);
	pvalue_free(v);
}

static void
request(const uint8_t *p, size_t n)
{
	struct jute_request_header h;
	struct cursor c;
	char line[64];

	if (jute_trace_request_frame(line, sizeof(line), p, n) == 0)
		fail("a request frame traced as nothing");
	if (jute_request_header_parse(p, n, &h, &c) == KLAB_OK)
		body(&c, h.type, false);
}

static void
reply(const uint8_t *p, size_t n)
{
	struct jute_reply_header h;
	struct cursor c;
	char line[64];

	if (n == 0)
		return;
	if (jute_trace_reply_frame(line, sizeof(line), p + 1, n - 1, (int8_t)p[0]) == 0)
		fail("a reply frame traced as nothing");
	if (jute_reply_header_parse(p + 1, n - 1, &h, &c) != KLAB_OK)
		return;
	body(&c, h.xid == JUTE_XID_NOTIFICATION ? JUTE_OP_NOTIFICATION : (int8_t)p[0], true);
}

static void
connect_frame(uint8_t sel, const uint8_t *p, size_t n)
{
	bool resp = (sel & 4) != 0, ro = false;
	struct pvalue *v = NULL;
	int rc = resp ? jute_connect_response_decode(p, n, &v, &ro)
		      : jute_connect_request_decode(p, n, &v, &ro);

	if (rc == KLAB_OK)
		check_tree(resp ? &jute_connect_response : &jute_connect_request, v);
	pvalue_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0: one_record(data + 1, size - 1); break;
	case 1: request(data + 1, size - 1); break;
	case 2: reply(data + 1, size - 1); break;
	default: connect_frame(data[0], data + 1, size - 1); break;
	}
	return 0;
}
