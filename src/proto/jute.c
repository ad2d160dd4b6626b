/*
 * jute.c - ZooKeeper's jute records on the wire and in files: the codec,
 * the frames and the trace (see jute.h; chapter 4 §1).
 *
 * A jute record is a Kafka message at a non-flexible version (jute.h), so
 * the codec is kafka.c's, called at version 0; what is ZooKeeper's own is
 * here: the frames around the records.
 *
 *   request    int32 size | RequestHeader{int xid; int type} | body
 *   reply      int32 size | ReplyHeader{int xid; long zxid; int err} | body
 *   connect    int32 size | ConnectRequest | readOnly byte (no header)
 *   connected  int32 size | ConnectResponse | readOnly byte (optional)
 *   multi      (MultiHeader | op record)* | MultiHeader{-1, true, -1}
 *
 * A reply whose err is not 0 has no body (FinalRequestProcessor writes the
 * header alone); watch events come as replies with xid -1, zxid -1 and a
 * WatcherEvent body.
 *
 * Invariants:
 *   1. Every read goes through a struct cursor bounded by the frame, so no
 *      input makes the code read outside it (kafka.c, invariant 1).
 *   2. A frame size is checked against max_bytes (jute.maxbuffer) before a
 *      byte of the frame is waited for.
 *   3. A multi op list grows only by ops whose 9-byte header has been
 *      read: its length is bounded by the bytes of the body.
 *   4. The encoders leave out as it was on error.
 */
#include "proto/jute.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define MULTI_HEADER_BYTES 9 /* int type, boolean done, int err */

/* ---- codec --------------------------------------------------------------- */

int
jute_decode(const struct pschema *s, const uint8_t *p, size_t len, struct pvalue **out)
{
	return proto_decode(s, 0, p, len, out);
}

int
jute_decode_cursor(const struct pschema *s, struct cursor *c, struct pvalue **out)
{
	return proto_decode_cursor(s, 0, c, out);
}

int
jute_encode(const struct pschema *s, const struct pvalue *st, struct buf *out)
{
	return proto_encode(s, 0, st, out);
}

/* ---- framing ------------------------------------------------------------- */

int
jute_frame_next(const uint8_t *p, size_t avail, size_t max_bytes, struct proto_frame *f)
{
	return proto_frame_next(p, avail, max_bytes, f);
}

/* Start a frame: a size to patch in frame_end(). */
static size_t
frame_begin(struct buf *out)
{
	size_t start = out->len;

	buf_put_be32(out, 0);
	return start;
}

/* Patch the size, or take the frame back on error (invariant 4). */
static int
frame_end(struct buf *out, size_t start, int rc)
{
	if (rc == KLAB_OK && !buf_ok(out))
		rc = KLAB_ENOMEM;
	if (rc == KLAB_OK && out->len - start - 4 > INT32_MAX)
		rc = KLAB_ETOOLARGE;
	if (rc != KLAB_OK) {
		out->len = start;
		return rc;
	}
	be32_write(out->data + start, (uint32_t)(out->len - start - 4));
	return KLAB_OK;
}

/* Body s/st after a header, if there is one. */
static int
put_body(const struct pschema *s, const struct pvalue *body, struct buf *out)
{
	if (s == NULL && body == NULL)
		return KLAB_OK;
	if (s == NULL || body == NULL)
		return KLAB_EINVAL;
	return jute_encode(s, body, out);
}

int
jute_request_encode(int32_t xid, int32_t type, const struct pschema *s, const struct pvalue *body,
		    struct buf *out)
{
	size_t start = frame_begin(out);

	buf_put_be32(out, (uint32_t)xid);
	buf_put_be32(out, (uint32_t)type);
	return frame_end(out, start, put_body(s, body, out));
}

int
jute_reply_encode(int32_t xid, int64_t zxid, int32_t err, const struct pschema *s,
		  const struct pvalue *body, struct buf *out)
{
	size_t start = frame_begin(out);

	buf_put_be32(out, (uint32_t)xid);
	buf_put_be64(out, (uint64_t)zxid);
	buf_put_be32(out, (uint32_t)err);
	return frame_end(out, start, put_body(s, body, out));
}

int
jute_request_header_parse(const uint8_t *frame, size_t len, struct jute_request_header *h,
			  struct cursor *body)
{
	cur_init(body, frame, len);
	h->xid = (int32_t)cur_get_be32(body);
	h->type = (int32_t)cur_get_be32(body);
	return cur_ok(body) ? KLAB_OK : KLAB_ETRUNCATED;
}

int
jute_reply_header_parse(const uint8_t *frame, size_t len, struct jute_reply_header *h,
			struct cursor *body)
{
	cur_init(body, frame, len);
	h->xid = (int32_t)cur_get_be32(body);
	h->zxid = (int64_t)cur_get_be64(body);
	h->err = (int32_t)cur_get_be32(body);
	return cur_ok(body) ? KLAB_OK : KLAB_ETRUNCATED;
}

/* ---- the handshake ------------------------------------------------------- */

static int
connect_encode(const struct pschema *s, const struct pvalue *rec, bool read_only, struct buf *out)
{
	size_t start = frame_begin(out);
	int rc = jute_encode(s, rec, out);

	buf_put_u8(out, read_only);
	return frame_end(out, start, rc);
}

/* The record, then an optional readOnly byte; nothing may follow it. */
static int
connect_decode(const struct pschema *s, const uint8_t *frame, size_t len, struct pvalue **out,
	       bool *read_only)
{
	struct cursor c;
	int rc;

	cur_init(&c, frame, len);
	*read_only = false;
	if ((rc = jute_decode_cursor(s, &c, out)) != KLAB_OK)
		return rc;
	if (c.len >= 1)
		*read_only = cur_get_u8(&c) != 0;
	if (c.len == 0)
		return KLAB_OK;
	pvalue_free(*out);
	*out = NULL;
	return KLAB_ECORRUPT;
}

int
jute_connect_request_encode(const struct pvalue *req, bool read_only, struct buf *out)
{
	return connect_encode(&jute_connect_request, req, read_only, out);
}

int
jute_connect_response_encode(const struct pvalue *resp, bool read_only, struct buf *out)
{
	return connect_encode(&jute_connect_response, resp, read_only, out);
}

int
jute_connect_request_decode(const uint8_t *frame, size_t len, struct pvalue **out, bool *read_only)
{
	return connect_decode(&jute_connect_request, frame, len, out, read_only);
}

int
jute_connect_response_decode(const uint8_t *frame, size_t len, struct pvalue **out, bool *read_only)
{
	return connect_decode(&jute_connect_response, frame, len, out, read_only);
}

/* ---- multi --------------------------------------------------------------- */

/*
 * The ops a multi may hold: a request any create, delete, setData, check,
 * getChildren or getData (MultiOperationRecord.java); a reply only create,
 * create2, delete, setData, check, getChildren, getData and error
 * (MultiResponse.java: createTTL and createContainer answer as create2).
 */
static bool
multi_op_ok(int32_t type, bool reply)
{
	switch (type) {
	case JUTE_OP_CREATE_CONTAINER:
	case JUTE_OP_CREATE_TTL: return !reply;
	case JUTE_OP_ERROR: return reply;
	case JUTE_OP_CREATE:
	case JUTE_OP_CREATE2:
	case JUTE_OP_DELETE:
	case JUTE_OP_SET_DATA:
	case JUTE_OP_CHECK:
	case JUTE_OP_GET_CHILDREN:
	case JUTE_OP_GET_DATA: return true;
	default: return false;
	}
}

/* The record after an op's header: ErrorResponse for a failed reply op. */
static const struct pschema *
multi_body(int32_t type, bool reply)
{
	if (reply && type == JUTE_OP_ERROR)
		return &jute_error_response;
	return reply ? jute_op_response(type) : jute_op_request(type);
}

static void
put_multi_header(struct buf *out, int32_t type, bool done, int32_t err)
{
	buf_put_be32(out, (uint32_t)type);
	buf_put_u8(out, done);
	buf_put_be32(out, (uint32_t)err);
}

static int
multi_encode_op(const struct jute_multi_op *op, bool reply, struct buf *out)
{
	if (reply && op->type == JUTE_OP_ERROR) {
		put_multi_header(out, JUTE_OP_ERROR, false, op->err);
		buf_put_be32(out, (uint32_t)op->err); /* ErrorResponse{err} */
		return KLAB_OK;
	}
	if (!multi_op_ok(op->type, reply))
		return KLAB_EINVAL;
	put_multi_header(out, op->type, false, reply ? op->err : -1);
	return put_body(multi_body(op->type, reply), op->body, out);
}

int
jute_multi_encode(const struct jute_multi_op *ops, size_t n, bool reply, struct buf *out)
{
	size_t start = out->len;
	int rc = KLAB_OK;

	for (size_t i = 0; i < n && rc == KLAB_OK; i++)
		rc = multi_encode_op(&ops[i], reply, out);
	put_multi_header(out, JUTE_OP_ERROR, true, -1);
	if (rc == KLAB_OK && !buf_ok(out))
		rc = KLAB_ENOMEM;
	if (rc != KLAB_OK)
		out->len = start; /* invariant 4 */
	return rc;
}

void
jute_multi_free(struct jute_multi *m)
{
	for (size_t i = 0; i < m->n; i++)
		pvalue_free(m->ops[i].body);
	free(m->ops);
	m->ops = NULL;
	m->n = 0;
}

/* Room for one more op (invariant 3: the caller has read its header). */
static int
multi_grow(struct jute_multi *m, size_t *cap)
{
	struct jute_multi_op *v;

	if (m->n < *cap)
		return KLAB_OK;
	*cap = *cap ? 2 * *cap : 4;
	v = realloc(m->ops, *cap * sizeof(*v));
	if (v == NULL)
		return KLAB_ENOMEM;
	m->ops = v;
	return KLAB_OK;
}

/* One op after its header: its record, if its type has one. */
static int
multi_decode_op(struct cursor *c, bool reply, int32_t type, int32_t err, struct jute_multi_op *op)
{
	const struct pschema *s = multi_body(type, reply);

	op->type = type;
	op->err = err;
	op->body = NULL;
	if (!multi_op_ok(type, reply))
		return KLAB_ECORRUPT;
	return s != NULL ? jute_decode_cursor(s, c, &op->body) : KLAB_OK;
}

int
jute_multi_decode(struct cursor *c, bool reply, struct jute_multi *m)
{
	size_t cap = 0;
	int rc = KLAB_OK;

	memset(m, 0, sizeof(*m));
	for (;;) {
		int32_t type = (int32_t)cur_get_be32(c);
		bool done = cur_get_u8(c) != 0;
		int32_t err = (int32_t)cur_get_be32(c);

		if (!cur_ok(c))
			rc = KLAB_ETRUNCATED;
		if (rc != KLAB_OK || done)
			break;
		if ((rc = multi_grow(m, &cap)) != KLAB_OK)
			break;
		rc = multi_decode_op(c, reply, type, err, &m->ops[m->n]);
		m->n += rc == KLAB_OK;
		if (rc != KLAB_OK)
			break;
	}
	if (rc != KLAB_OK)
		jute_multi_free(m);
	return rc;
}

/* ---- trace --------------------------------------------------------------- */

struct line {
	char *out;
	size_t cap, len;
};

static void
line_printf(struct line *l, const char *fmt, ...)
{
	va_list ap;
	size_t room = l->len < l->cap ? l->cap - l->len : 0;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(room > 0 ? l->out + l->len : NULL, room, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->len += (size_t)k;
}

/* Bytes as text when every byte is printable ASCII, else their count. */
static void
line_bytes(struct line *l, const struct pvalue *v)
{
	bool text = true;

	if (v->null) {
		line_printf(l, "null");
		return;
	}
	for (int32_t i = 0; i < v->s.len; i++)
		text = text && v->s.p[i] >= 0x20 && v->s.p[i] < 0x7f;
	if (text && v->s.len <= 64)
		line_printf(l, "%.*s", (int)v->s.len, (const char *)v->s.p);
	else
		line_printf(l, "<%d bytes>", (int)v->s.len);
}

static void
line_array(struct line *l, const struct pvalue *arr)
{
	int32_t n = pvalue_count(arr);

	if (arr->type != PT_ARRAY_BYTES) {
		line_printf(l, "<%d>", (int)n);
		return;
	}
	line_printf(l, "[");
	for (int32_t i = 0; i < n && i < 4; i++) {
		line_printf(l, "%s", i > 0 ? "," : "");
		line_bytes(l, &arr->a.v[i]);
	}
	line_printf(l, "%s]", n > 4 ? ",.." : "");
}

/* The top-level fields of a body: ints, text, arrays; structs as {..}. */
static void
line_body(struct line *l, const struct pvalue *body)
{
	const struct pschema *s;

	if (body == NULL)
		return;
	s = body->a.schema;
	for (size_t i = 0; i < s->nfields; i++) {
		const struct pvalue *v = &body->a.v[i];

		line_printf(l, " %s=", s->fields[i].name);
		if (v->type == PT_BYTES)
			line_bytes(l, v);
		else if (v->type == PT_STRUCT)
			line_printf(l, "{..}");
		else if (v->type == PT_ARRAY || v->type == PT_ARRAY_BYTES)
			line_array(l, v);
		else
			line_printf(l, "%lld", (long long)v->i);
	}
}

size_t
jute_trace_request(char *out, size_t n, int32_t xid, int32_t type, const struct pvalue *body)
{
	struct line l = { out, n, 0 };
	const char *name = jute_op_name(type);

	if (n > 0)
		out[0] = '\0';
	if (name != NULL)
		line_printf(&l, "%s xid=%d", name, (int)xid);
	else
		line_printf(&l, "op%d xid=%d", (int)type, (int)xid);
	line_body(&l, body);
	return l.len;
}

size_t
jute_trace_reply(char *out, size_t n, int32_t xid, int64_t zxid, int32_t err,
		 const struct pvalue *body)
{
	struct line l = { out, n, 0 };

	if (n > 0)
		out[0] = '\0';
	line_printf(&l, "reply xid=%d zxid=0x%llx err=%s", (int)xid, (unsigned long long)zxid,
		    jute_err_name(err));
	line_body(&l, body);
	return l.len;
}

/* A body after its header: decoded as s and shown, or its size. */
static void
line_frame_body(struct line *l, const struct pschema *s, const struct cursor *body)
{
	struct pvalue *v = NULL;

	if (s != NULL && jute_decode(s, body->p, body->len, &v) == KLAB_OK)
		line_body(l, v);
	else if (body->len > 0)
		line_printf(l, " <%zu bytes>", body->len);
	pvalue_free(v);
}

/* A multi's ops by name: " ops=[create,delete]", or its size if it is bad. */
static void
line_multi(struct line *l, const struct cursor *body, bool reply)
{
	struct cursor c = *body;
	struct jute_multi m;

	if (jute_multi_decode(&c, reply, &m) != KLAB_OK) {
		line_printf(l, " <%zu bytes>", body->len);
		return;
	}
	line_printf(l, " ops=[");
	for (size_t i = 0; i < m.n; i++) {
		const char *name = jute_op_name(m.ops[i].type);

		line_printf(l, "%s%s", i > 0 ? "," : "", name != NULL ? name : "?");
		if (reply && m.ops[i].type == JUTE_OP_ERROR)
			line_printf(l, ":%s", jute_err_name(m.ops[i].err));
	}
	line_printf(l, "]");
	jute_multi_free(&m);
}

static bool
is_multi(int32_t op)
{
	return op == JUTE_OP_MULTI || op == JUTE_OP_MULTI_READ;
}

size_t
jute_trace_request_frame(char *out, size_t n, const uint8_t *frame, size_t len)
{
	struct jute_request_header h;
	struct cursor body;
	struct line l = { out, n, 0 };

	if (jute_request_header_parse(frame, len, &h, &body) != KLAB_OK) {
		if (n > 0)
			out[0] = '\0';
		line_printf(&l, "request <%zu bytes>", len);
		return l.len;
	}
	l.len = jute_trace_request(out, n, h.xid, h.type, NULL);
	if (is_multi(h.type))
		line_multi(&l, &body, false);
	else
		line_frame_body(&l, jute_op_request(h.type), &body);
	return l.len;
}

size_t
jute_trace_reply_frame(char *out, size_t n, const uint8_t *frame, size_t len, int32_t op)
{
	struct jute_reply_header h;
	struct cursor body;
	struct line l = { out, n, 0 };

	if (jute_reply_header_parse(frame, len, &h, &body) != KLAB_OK) {
		if (n > 0)
			out[0] = '\0';
		line_printf(&l, "reply <%zu bytes>", len);
		return l.len;
	}
	l.len = jute_trace_reply(out, n, h.xid, h.zxid, h.err, NULL);
	if (h.xid == JUTE_XID_NOTIFICATION)
		op = JUTE_OP_NOTIFICATION;
	if (is_multi(op) && h.err == JUTE_OK)
		line_multi(&l, &body, true);
	else
		line_frame_body(&l, h.err == JUTE_OK ? jute_op_response(op) : NULL, &body);
	return l.len;
}
