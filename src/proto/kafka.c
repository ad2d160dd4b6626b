/*
 * proto.c - one encoder and one decoder for every Kafka message (see
 * proto.h; chapter 3 §1).
 *
 * Kafka's build turns each JSON schema into a Java class whose read() and
 * write() walk the fields in order, testing the version before each one
 * (generator/src/main/java/org/apache/kafka/message/MessageDataGenerator
 * .java writes them).  We do the same walk at run time over the tables of
 * messages.c, so the whole wire format fits here:
 *
 *   int8, bool      1 byte (bool: nonzero is true, as readByte() != 0)
 *   int16/32/64     big-endian, two's complement
 *   uvarint         7 bits a byte, low first, high bit = more; at most 5
 *   uuid            16 bytes
 *   string          int16 length N, then N bytes of UTF-8; -1 = null
 *   bytes, records  int32 length N, then N bytes; -1 = null
 *   array           int32 count N, then N elements; -1 = null
 *   struct          its fields in order, no prefix
 *
 * and in a flexible version (KIP-482; v >= the message's flexible_min):
 *
 *   string, bytes,  uvarint N+1, then N bytes; 0 = null
 *   records
 *   array           uvarint N+1, then N elements; 0 = null
 *   struct          its untagged fields in order, then the tagged ones:
 *                   uvarint count, and per field uvarint tag, uvarint
 *                   size, size bytes of value; in increasing tag order
 *                   (as Kafka's generated writers), only fields that do
 *                   not hold their default.  A tag the reader does not
 *                   know is skipped, which is how a newer peer may add
 *                   fields without a version bump.
 *
 * A field absent at the version is neither read nor written; it holds its
 * default.  As in Kafka's generated readers, any negative length or count
 * is null where the version allows null and an error where it does not
 * (so decoding then encoding may turn a -2 into a -1; a second round trip
 * is exact).
 *
 * Invariants:
 *   1. The decoder reads only through a struct cursor, which never passes
 *      the end of its input: a short input is KLAB_ETRUNCATED, whatever
 *      the bytes are.
 *   2. A length is checked against the bytes left before it is used; an
 *      array count N is checked before allocating: N elements of at least
 *      m bytes each (m = elem_min_size(), >= 1) must fit in what is left.
 *   2a. The memory a decoded tree takes is bounded by its input: before an
 *      array is allocated its cost (tree_cost(): N nodes, and for structs
 *      N blocks of their fields' nodes plus malloc's overhead) is charged
 *      to a budget of PROTO_DECODE_RATIO bytes per input byte plus
 *      PROTO_DECODE_SLACK, and an array that would overdraw it is
 *      KLAB_ETOOLARGE.  Invariant 2 alone allowed ~40 bytes of tree per
 *      byte (a Metadata topic "" is 2 bytes and 80 bytes of tree: 10 MB
 *      of them made 1.7 GB with the answer); a request of ordinary
 *      elements (names, partitions, offsets) costs 5-20 bytes per byte.
 *   3. Every node of a tree was built from its schema (node_init_*), so
 *      the encoder may trust node types; a mismatch is an assert.
 *   4. proto_encode() and the frame writers leave out unchanged on error.
 *   5. A varint of more than 5 bytes or more than 32 bits, a compact
 *      length above what its type can hold, and a tagged field whose value
 *      does not fill exactly its size are KLAB_ECORRUPT; a tagged-field
 *      count or size is checked against the bytes left before use, so an
 *      unknown tag costs its bytes and no memory.
 */
#include "proto/kafka.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/err.h"

/* ---- types --------------------------------------------------------------- */

bool
pfield_present(const struct pfield *f, int16_t v)
{
	return v >= f->min_version && v <= f->max_version;
}

static bool
null_ok(const struct pfield *f, int16_t v)
{
	return f->nullable && v >= f->null_min;
}

static bool
is_array(enum ptype t)
{
	return t == PT_ARRAY || t == PT_ARRAY_INT32 || t == PT_ARRAY_INT64 ||
	       t == PT_ARRAY_STRING || t == PT_ARRAY_BYTES;
}

static bool
is_slice(enum ptype t)
{
	return t == PT_STRING || t == PT_BYTES || t == PT_RECORDS;
}

static bool
is_int(enum ptype t)
{
	return t == PT_INT8 || t == PT_INT16 || t == PT_INT32 || t == PT_INT64 || t == PT_BOOL ||
	       t == PT_UVARINT;
}

static bool
has_kids(enum ptype t)
{
	return t == PT_STRUCT || is_array(t);
}

static enum ptype
elem_type(enum ptype t)
{
	switch (t) {
	case PT_ARRAY: return PT_STRUCT;
	case PT_ARRAY_INT32: return PT_INT32;
	case PT_ARRAY_INT64: return PT_INT64;
	case PT_ARRAY_STRING: return PT_STRING;
	case PT_ARRAY_BYTES: return PT_BYTES;
	default: assert(!"elem_type of a non-array"); return t;
	}
}

/* A field on the wire at v in the struct's ordered part (not tagged). */
static bool
untagged_present(const struct pfield *f, int16_t v)
{
	return pfield_present(f, v) && !f->tagged;
}

/* The fewest bytes a value of type t can take (struct: at version v). */
static size_t
min_size(enum ptype t, const struct pschema *sub, int16_t v, bool flex)
{
	size_t n = flex ? 1 : 0; /* a struct's tagged-field count */

	switch (t) {
	case PT_INT8:
	case PT_BOOL:
	case PT_UVARINT: return 1;
	case PT_INT16: return 2;
	case PT_INT64: return 8;
	case PT_UUID: return 16;
	case PT_STRING: return flex ? 1 : 2;
	case PT_STRUCT:
		for (size_t i = 0; i < sub->nfields; i++)
			if (untagged_present(&sub->fields[i], v))
				n += min_size(sub->fields[i].type, sub->fields[i].sub, v, flex);
		return n;
	case PT_INT32: return 4;
	default: return flex ? 1 : 4; /* bytes, records, arrays */
	}
}

static size_t
elem_min_size(const struct pfield *f, int16_t v, bool flex)
{
	size_t m = min_size(elem_type(f->type), f->sub, v, flex);

	return m > 0 ? m : 1;
}

/* ---- trees --------------------------------------------------------------- */

static int node_init_struct(struct pvalue *v, const struct pschema *s);

/* v := the default of field f. */
static int
node_init_field(struct pvalue *v, const struct pfield *f)
{
	memset(v, 0, sizeof(*v));
	v->type = f->type;
	if (f->type == PT_STRUCT)
		return node_init_struct(v, f->sub);
	if (is_array(f->type))
		v->a.schema = f->sub;
	if (is_array(f->type) || is_slice(f->type))
		v->null = f->def_null;
	else
		v->i = f->def;
	return KLAB_OK;
}

static int
node_init_struct(struct pvalue *v, const struct pschema *s)
{
	memset(v, 0, sizeof(*v));
	v->type = PT_STRUCT;
	v->a.schema = s;
	if (s->nfields == 0)
		return KLAB_OK;
	v->a.v = calloc(s->nfields, sizeof(*v->a.v));
	if (v->a.v == NULL)
		return KLAB_ENOMEM;
	v->a.n = (int32_t)s->nfields;
	for (size_t i = 0; i < s->nfields; i++) {
		int rc = node_init_field(&v->a.v[i], &s->fields[i]);

		if (rc != KLAB_OK)
			return rc; /* the caller clears v; calloc'd kids are inert */
	}
	return KLAB_OK;
}

/* Free what v owns (not v itself). */
static void
node_clear(struct pvalue *v)
{
	if (!has_kids(v->type))
		return;
	for (int32_t i = 0; i < v->a.n; i++)
		node_clear(&v->a.v[i]);
	free(v->a.v);
	v->a.v = NULL;
	v->a.n = 0;
}

struct pvalue *
pvalue_new(const struct pschema *s)
{
	struct pvalue *v = malloc(sizeof(*v));

	if (v == NULL)
		return NULL;
	if (node_init_struct(v, s) != KLAB_OK) {
		pvalue_free(v);
		return NULL;
	}
	return v;
}

void
pvalue_free(struct pvalue *v)
{
	if (v == NULL)
		return;
	node_clear(v);
	free(v);
}

struct pvalue *
pvalue_get(const struct pvalue *st, const char *name)
{
	assert(st->type == PT_STRUCT);
	for (int32_t i = 0; i < st->a.n; i++)
		if (strcmp(st->a.schema->fields[i].name, name) == 0)
			return &st->a.v[i];
	return NULL;
}

/*
 * The named child, which must exist: a wrong name is a programmer error,
 * and one that must stop even the -DNDEBUG build, which would otherwise
 * read or write through NULL (tests/ch3/test_proto_names.c finds most
 * before they run).
 */
static struct pvalue *
must_get(const struct pvalue *st, const char *name)
{
	struct pvalue *v;

	KLAB_ASSERT(st != NULL && st->type == PT_STRUCT, "field '%s' looked up in a non-struct",
		    name);
	v = pvalue_get(st, name);
	KLAB_ASSERT(v != NULL, "schema %s has no field '%s' (field names: messages.c)",
		    st->a.schema->name, name);
	return v;
}

/* The node a typed accessor reads or writes must have the type it expects. */
#define MUST_BE(cond, st, name)                                                               \
	KLAB_ASSERT(cond, "field '%s' of %s is not of the type the accessor handles", (name), \
		    (st)->a.schema->name)

int64_t
pvalue_get_int(const struct pvalue *st, const char *name)
{
	const struct pvalue *v = must_get(st, name);

	MUST_BE(is_int(v->type), st, name);
	return v->i;
}

void
pvalue_set_int(struct pvalue *st, const char *name, int64_t i)
{
	struct pvalue *v = must_get(st, name);

	MUST_BE(is_int(v->type), st, name);
	v->i = i;
}

const uint8_t *
pvalue_get_bytes(const struct pvalue *st, const char *name, int32_t *len)
{
	const struct pvalue *v = must_get(st, name);

	MUST_BE(is_slice(v->type) && !v->in_file, st, name);
	*len = v->null ? -1 : v->s.len;
	if (v->null)
		return NULL;
	return v->s.p != NULL ? v->s.p : (const uint8_t *)"";
}

void
pvalue_set_bytes(struct pvalue *st, const char *name, const void *p, int32_t len)
{
	struct pvalue *v = must_get(st, name);

	MUST_BE(is_slice(v->type), st, name);
	KLAB_ASSERT(p == NULL || len >= 0, "field '%s': a negative length %d", name, (int)len);
	v->null = p == NULL;
	v->in_file = false;
	v->s.p = p;
	v->s.len = p == NULL ? 0 : len;
}

void
pvalue_set_file(struct pvalue *st, const char *name, struct fs_file *file, int64_t off, int32_t len)
{
	struct pvalue *v = must_get(st, name);

	MUST_BE(v->type == PT_RECORDS, st, name);
	KLAB_ASSERT(file != NULL && off >= 0 && len >= 0, "field '%s': bad file region", name);
	v->null = false;
	v->in_file = true;
	v->s.p = NULL;
	v->s.len = len;
	v->s.file = file;
	v->s.file_off = off;
}

void
pvalue_set_str(struct pvalue *st, const char *name, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	KLAB_ASSERT(n <= INT16_MAX, "field '%s': a string of %zu bytes", name, n);
	pvalue_set_bytes(st, name, s, (int32_t)n);
}

bool
pvalue_has_field(const struct pvalue *st, const char *name, int16_t v)
{
	const struct pschema *sc = st->a.schema;

	assert(st->type == PT_STRUCT);
	for (size_t i = 0; i < sc->nfields; i++)
		if (strcmp(sc->fields[i].name, name) == 0)
			return pfield_present(&sc->fields[i], v);
	return false;
}

void
pvalue_get_uuid(const struct pvalue *st, const char *name, uint8_t id[16])
{
	const struct pvalue *v = must_get(st, name);

	MUST_BE(v->type == PT_UUID, st, name);
	memcpy(id, v->uuid, 16);
}

void
pvalue_set_uuid(struct pvalue *st, const char *name, const uint8_t id[16])
{
	struct pvalue *v = must_get(st, name);

	MUST_BE(v->type == PT_UUID, st, name);
	memcpy(v->uuid, id, 16);
}

struct pvalue *
pvalue_array(const struct pvalue *st, const char *name)
{
	struct pvalue *v = must_get(st, name);

	MUST_BE(is_array(v->type), st, name);
	return v;
}

int32_t
pvalue_count(const struct pvalue *arr)
{
	assert(is_array(arr->type));
	return arr->null ? 0 : arr->a.n;
}

struct pvalue *
pvalue_at(const struct pvalue *arr, int32_t i)
{
	KLAB_ASSERT(is_array(arr->type) && i >= 0 && i < arr->a.n, "element %d of an array of %d",
		    (int)i, (int)arr->a.n);
	return &arr->a.v[i];
}

/* A fresh default element of array arr. */
static int
node_init_elem(struct pvalue *el, const struct pvalue *arr)
{
	if (arr->type == PT_ARRAY)
		return node_init_struct(el, arr->a.schema);
	memset(el, 0, sizeof(*el));
	el->type = elem_type(arr->type);
	return KLAB_OK;
}

int
pvalue_array_resize(struct pvalue *arr, int32_t n)
{
	assert(is_array(arr->type) && n >= 0);
	node_clear(arr);
	arr->null = false;
	if (n == 0)
		return KLAB_OK;
	arr->a.v = calloc((size_t)n, sizeof(*arr->a.v));
	if (arr->a.v == NULL)
		return KLAB_ENOMEM;
	arr->a.n = n;
	for (int32_t i = 0; i < n; i++)
		if (node_init_elem(&arr->a.v[i], arr) != KLAB_OK)
			return KLAB_ENOMEM; /* the tree stays freeable */
	return KLAB_OK;
}

void
pvalue_array_filter(struct pvalue *arr, const bool *keep)
{
	int32_t k = 0;

	assert(is_array(arr->type));
	for (int32_t i = 0; i < arr->a.n; i++) {
		if (!keep[i])
			node_clear(&arr->a.v[i]);
		else
			arr->a.v[k++] = arr->a.v[i]; /* a node owns its kids: moving it is enough */
	}
	arr->a.n = k; /* the block keeps its size; node_clear frees it */
}

void
pvalue_array_set_null(struct pvalue *arr)
{
	assert(is_array(arr->type));
	node_clear(arr);
	arr->null = true;
}

/* ---- decoder ------------------------------------------------------------- */

/* A decoder's input, what is left of its memory budget (invariant 2a), and
 * whether the message's version is flexible. */
struct dec {
	struct cursor *c;
	size_t budget;
	bool flex;
};

static int decode_struct(const struct pschema *s, int16_t v, struct dec *d, struct pvalue *st);

static int
cur_rc(const struct cursor *c)
{
	return cur_ok(c) ? KLAB_OK : KLAB_ETRUNCATED;
}

/*
 * An unsigned varint of at most 5 bytes and 32 bits (Kafka's
 * ByteUtils.readUnsignedVarint refuses a sixth byte).  Invariant 5.
 */
static int
get_uvarint(struct cursor *c, uint32_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 5; i++) {
		uint8_t byte = cur_get_u8(c);

		if (!cur_ok(c))
			return KLAB_ETRUNCATED;
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if ((byte & 0x80) == 0) {
			*out = (uint32_t)v;
			return v > UINT32_MAX ? KLAB_ECORRUPT : KLAB_OK;
		}
	}
	return KLAB_ECORRUPT; /* a sixth byte would follow */
}

/*
 * A length or count prefix: int16 (strings) or int32, or in a flexible
 * version the compact uvarint N+1.  *n < 0 means null.
 */
static int
get_length(struct cursor *c, bool flex, bool int16, int32_t *n)
{
	uint32_t u;
	int rc;

	if (!flex) {
		*n = int16 ? (int16_t)cur_get_be16(c) : (int32_t)cur_get_be32(c);
		return cur_rc(c);
	}
	if ((rc = get_uvarint(c, &u)) != KLAB_OK)
		return rc;
	if (u - 1 > (uint32_t)(int16 ? INT16_MAX : INT32_MAX) && u != 0)
		return KLAB_ECORRUPT; /* invariant 5 */
	*n = u == 0 ? -1 : (int32_t)(u - 1);
	return KLAB_OK;
}

static int
decode_int(enum ptype t, struct cursor *c, int64_t *out)
{
	uint32_t u = 0;
	int rc;

	switch (t) {
	case PT_INT8: *out = (int8_t)cur_get_u8(c); break;
	case PT_BOOL: *out = cur_get_u8(c) != 0; break;
	case PT_INT16: *out = (int16_t)cur_get_be16(c); break;
	case PT_INT32: *out = (int32_t)cur_get_be32(c); break;
	case PT_INT64: *out = (int64_t)cur_get_be64(c); break;
	case PT_UVARINT:
		rc = get_uvarint(c, &u);
		*out = u;
		return rc;
	default: assert(!"decode_int of a non-integer");
	}
	return cur_rc(c);
}

/* A string (int16 length) or bytes (int32 length), or compact; negative = null. */
static int
decode_slice(enum ptype t, bool nullable, struct dec *d, struct pvalue *v)
{
	int32_t len;
	int rc = get_length(d->c, d->flex, t == PT_STRING, &len);

	if (rc != KLAB_OK)
		return rc;
	if (len < 0) {
		v->null = true;
		v->s.p = NULL;
		v->s.len = 0;
		return nullable ? KLAB_OK : KLAB_ECORRUPT;
	}
	v->null = false;
	v->s.p = cur_get_bytes(d->c, (size_t)len); /* fails if len > what is left */
	v->s.len = len;
	return cur_rc(d->c);
}

static int
decode_uuid(struct cursor *c, struct pvalue *v)
{
	const uint8_t *p = cur_get_bytes(c, 16);

	if (p != NULL)
		memcpy(v->uuid, p, 16);
	return cur_rc(c);
}

static int
decode_elem(struct pvalue *arr, int16_t v, struct dec *d, struct pvalue *el)
{
	switch (arr->type) {
	case PT_ARRAY: return decode_struct(arr->a.schema, v, d, el);
	case PT_ARRAY_STRING: return decode_slice(PT_STRING, false, d, el);
	case PT_ARRAY_BYTES: return decode_slice(PT_BYTES, false, d, el);
	default: return decode_int(el->type, d->c, &el->i);
	}
}

/*
 * The bytes of memory n elements of array arr take (invariant 2a): the
 * nodes, and for a struct element the block of its fields' nodes
 * (node_init_struct), each block with malloc's overhead.  Nested arrays
 * are charged when they are decoded.
 */
static size_t
tree_cost(const struct pvalue *arr, size_t n)
{
	size_t per = sizeof(struct pvalue);

	if (arr->type == PT_ARRAY && arr->a.schema->nfields > 0)
		per += arr->a.schema->nfields * sizeof(struct pvalue) + PROTO_ALLOC_OVERHEAD;
	return PROTO_ALLOC_OVERHEAD + n * per;
}

static int
decode_array(const struct pfield *f, int16_t v, struct dec *d, struct pvalue *arr)
{
	struct cursor *c = d->c;
	int32_t n;
	size_t cost;
	int rc = get_length(c, d->flex, false, &n);

	if (rc != KLAB_OK)
		return rc;
	if (n < 0) {
		pvalue_array_set_null(arr);
		return null_ok(f, v) ? KLAB_OK : KLAB_ECORRUPT;
	}
	if ((size_t)n > c->len / elem_min_size(f, v, d->flex))
		return KLAB_ETRUNCATED; /* invariant 2: before allocating */
	if ((cost = tree_cost(arr, (size_t)n)) > d->budget)
		return KLAB_ETOOLARGE; /* invariant 2a: before allocating */
	d->budget -= cost;
	rc = pvalue_array_resize(arr, n);
	for (int32_t i = 0; i < n && rc == KLAB_OK; i++)
		rc = decode_elem(arr, v, d, &arr->a.v[i]);
	return rc;
}

/* The value of field f, whatever its place (ordered or tagged). */
static int
decode_value(const struct pfield *f, int16_t v, struct dec *d, struct pvalue *val)
{
	if (f->type == PT_STRUCT)
		return decode_struct(f->sub, v, d, val);
	if (is_array(f->type))
		return decode_array(f, v, d, val);
	if (is_slice(f->type) && f->classic) {
		struct dec cd = { d->c, d->budget, false };

		return decode_slice(f->type, null_ok(f, v), &cd, val);
	}
	if (is_slice(f->type))
		return decode_slice(f->type, null_ok(f, v), d, val);
	if (f->type == PT_UUID)
		return decode_uuid(d->c, val);
	return decode_int(f->type, d->c, &val->i);
}

/* The field of s that tag names at v, or -1: the tag is unknown here. */
static int
tagged_index(const struct pschema *s, int16_t v, uint32_t tag)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i].tagged && (uint32_t)s->fields[i].tag == tag &&
		    pfield_present(&s->fields[i], v))
			return (int)i;
	return -1;
}

/* One tagged field of size bytes: decoded into its node, or skipped. */
static int
decode_tagged(const struct pschema *s, int16_t v, struct dec *d, struct pvalue *st, uint32_t tag,
	      uint32_t size)
{
	int k = tagged_index(s, v, tag);
	struct cursor sub;
	struct dec sd;
	int rc;

	cur_init(&sub, d->c->p, size);
	if (cur_get_bytes(d->c, size) == NULL)
		return KLAB_ETRUNCATED; /* invariant 5: a size past the end */
	if (k < 0)
		return KLAB_OK; /* unknown: skipped */
	sd = (struct dec){ &sub, d->budget, d->flex };
	rc = decode_value(&s->fields[k], v, &sd, &st->a.v[k]);
	d->budget = sd.budget;
	if (rc == KLAB_ETRUNCATED)
		return KLAB_ECORRUPT; /* the value overran its own size */
	return rc == KLAB_OK && sub.len != 0 ? KLAB_ECORRUPT : rc;
}

/* The tagged-field section that ends a struct in a flexible version. */
static int
decode_tags(const struct pschema *s, int16_t v, struct dec *d, struct pvalue *st)
{
	uint32_t n, tag, size;
	int rc = get_uvarint(d->c, &n);

	if (rc != KLAB_OK)
		return rc;
	if (n > d->c->len / 2)
		return KLAB_ETRUNCATED; /* each field takes a tag and a size byte at least */
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = get_uvarint(d->c, &tag)) != KLAB_OK ||
		    (rc = get_uvarint(d->c, &size)) != KLAB_OK ||
		    (rc = decode_tagged(s, v, d, st, tag, size)) != KLAB_OK)
			return rc;
	}
	return KLAB_OK;
}

/* st holds defaults (node_init_struct); overwrite the fields present at v. */
static int
decode_struct(const struct pschema *s, int16_t v, struct dec *d, struct pvalue *st)
{
	for (size_t i = 0; i < s->nfields; i++) {
		int rc = KLAB_OK;

		if (untagged_present(&s->fields[i], v))
			rc = decode_value(&s->fields[i], v, d, &st->a.v[i]);
		if (rc != KLAB_OK)
			return rc;
	}
	return d->flex ? decode_tags(s, v, d, st) : KLAB_OK;
}

size_t
proto_decode_budget(size_t len)
{
	return len > (SIZE_MAX - PROTO_DECODE_SLACK) / PROTO_DECODE_RATIO
		       ? SIZE_MAX
		       : PROTO_DECODE_RATIO * len + PROTO_DECODE_SLACK;
}

int
proto_decode_cursor(const struct pschema *s, int16_t v, struct cursor *c, struct pvalue **out)
{
	struct dec d = { c, proto_decode_budget(c->len), v >= s->flexible_min };
	struct pvalue *st = pvalue_new(s);
	int rc;

	*out = NULL;
	if (st == NULL)
		return KLAB_ENOMEM;
	rc = decode_struct(s, v, &d, st);
	if (rc != KLAB_OK) {
		pvalue_free(st);
		return rc;
	}
	*out = st;
	return KLAB_OK;
}

int
proto_decode(const struct pschema *s, int16_t v, const uint8_t *p, size_t len, struct pvalue **out)
{
	struct cursor c;
	int rc;

	cur_init(&c, p, len);
	rc = proto_decode_cursor(s, v, &c, out);
	if (rc == KLAB_OK && c.len != 0) {
		pvalue_free(*out);
		*out = NULL;
		return KLAB_ECORRUPT; /* bytes after the last field */
	}
	return rc;
}

/* ---- encoder ------------------------------------------------------------- */

/* Where the encoder writes; sp (may be NULL) takes records kept in files. */
struct enc {
	struct buf *b;
	struct proto_splices *sp;
	bool flex;
};

static int encode_struct(const struct pschema *s, int16_t v, const struct pvalue *st,
			 struct enc *e);

static void
put_uvarint(struct buf *b, uint32_t u)
{
	uint8_t t[VARLONG_MAX];

	buf_put(b, t, uvarint_encode(t, u));
}

static void
encode_int(enum ptype t, int64_t i, struct buf *b)
{
	switch (t) {
	case PT_INT8: buf_put_u8(b, (uint8_t)i); break;
	case PT_BOOL: buf_put_u8(b, i != 0); break;
	case PT_INT16: buf_put_be16(b, (uint16_t)i); break;
	case PT_INT32: buf_put_be32(b, (uint32_t)i); break;
	case PT_INT64: buf_put_be64(b, (uint64_t)i); break;
	case PT_UVARINT: put_uvarint(b, (uint32_t)i); break;
	default: assert(!"encode_int of a non-integer");
	}
}

/* A length or count prefix (n < 0: null), as get_length reads it. */
static void
put_length(struct enc *e, bool int16, int32_t n)
{
	if (e->flex)
		put_uvarint(e->b, n < 0 ? 0 : (uint32_t)n + 1);
	else if (int16)
		buf_put_be16(e->b, (uint16_t)n);
	else
		buf_put_be32(e->b, (uint32_t)n);
}

/* Records in a file: a splice when the caller takes them, else a copy. */
static int
encode_file(const struct pvalue *val, struct enc *e)
{
	struct proto_splices *sp = e->sp;
	size_t n = (size_t)val->s.len;

	if (sp == NULL) {
		if (!buf_reserve(e->b, n))
			return KLAB_ENOMEM;
		if (fs_pread_all(val->s.file, e->b->data + e->b->len, n, (uint64_t)val->s.file_off,
				 NULL) != KLAB_OK)
			return KLAB_EIO;
		e->b->len += n;
		return KLAB_OK;
	}
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? 2 * sp->cap : 8;
		struct proto_splice *v = realloc(sp->v, cap * sizeof(*v));

		if (v == NULL)
			return KLAB_ENOMEM;
		sp->v = v;
		sp->cap = cap;
	}
	sp->v[sp->n++] = (struct proto_splice){ e->b->len, val->s.file, val->s.file_off, n };
	sp->bytes += n;
	return KLAB_OK;
}

static int
encode_slice(enum ptype t, bool nullable, const struct pvalue *val, struct enc *e)
{
	int32_t len = val->null ? -1 : val->s.len;

	if ((val->null && !nullable) || (t == PT_STRING && len > INT16_MAX))
		return KLAB_EINVAL;
	put_length(e, t == PT_STRING, len);
	if (len > 0 && val->in_file)
		return encode_file(val, e);
	if (len > 0)
		buf_put(e->b, val->s.p, (size_t)len);
	return KLAB_OK;
}

static int
encode_array(const struct pfield *f, int16_t v, const struct pvalue *arr, struct enc *e)
{
	int rc = KLAB_OK;

	assert(arr->type == f->type);
	if (arr->null) {
		put_length(e, false, -1);
		return null_ok(f, v) ? KLAB_OK : KLAB_EINVAL;
	}
	put_length(e, false, arr->a.n);
	for (int32_t i = 0; i < arr->a.n && rc == KLAB_OK; i++) {
		const struct pvalue *el = &arr->a.v[i];

		if (f->type == PT_ARRAY)
			rc = encode_struct(f->sub, v, el, e);
		else if (f->type == PT_ARRAY_STRING || f->type == PT_ARRAY_BYTES)
			rc = encode_slice(elem_type(f->type), false, el, e);
		else
			encode_int(el->type, el->i, e->b);
	}
	return rc;
}

/* The value of field f, whatever its place (ordered or tagged). */
static int
encode_value(const struct pfield *f, int16_t v, const struct pvalue *val, struct enc *e)
{
	assert(val->type == f->type); /* invariant 3 */
	if (f->type == PT_STRUCT)
		return encode_struct(f->sub, v, val, e);
	if (is_array(f->type))
		return encode_array(f, v, val, e);
	if (is_slice(f->type) && f->classic) {
		struct enc ce = { e->b, e->sp, false };

		return encode_slice(f->type, null_ok(f, v), val, &ce);
	}
	if (is_slice(f->type))
		return encode_slice(f->type, null_ok(f, v), val, e);
	if (f->type == PT_UUID)
		buf_put(e->b, val->uuid, 16);
	else
		encode_int(f->type, val->i, e->b);
	return KLAB_OK;
}

static bool node_is_default(const struct pfield *f, const struct pvalue *val);

static bool
struct_is_default(const struct pschema *s, const struct pvalue *st)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (!node_is_default(&s->fields[i], &st->a.v[i]))
			return false;
	return true;
}

/* Does val hold f's default?  A tagged field is written only when not. */
static bool
node_is_default(const struct pfield *f, const struct pvalue *val)
{
	static const uint8_t zero[16];

	if (f->type == PT_STRUCT)
		return struct_is_default(f->sub, val);
	if (is_array(f->type))
		return f->def_null ? val->null : !val->null && val->a.n == 0;
	if (is_slice(f->type))
		return f->def_null ? val->null : !val->null && val->s.len == 0;
	if (f->type == PT_UUID)
		return memcmp(val->uuid, zero, 16) == 0;
	return val->i == f->def;
}

/* Field k of s as a tagged field: tag, size, value. */
static int
encode_tagged(const struct pschema *s, size_t k, int16_t v, const struct pvalue *st, struct enc *e)
{
	struct buf tmp;
	struct enc te = { &tmp, NULL, e->flex };
	int rc;

	buf_init(&tmp);
	rc = encode_value(&s->fields[k], v, &st->a.v[k], &te);
	if (rc == KLAB_OK && !buf_ok(&tmp))
		rc = KLAB_ENOMEM;
	if (rc == KLAB_OK && tmp.len > UINT32_MAX)
		rc = KLAB_ETOOLARGE;
	if (rc == KLAB_OK) {
		put_uvarint(e->b, (uint32_t)s->fields[k].tag);
		put_uvarint(e->b, (uint32_t)tmp.len);
		buf_put(e->b, tmp.data, tmp.len);
	}
	buf_free(&tmp);
	return rc;
}

/* Is field k of s a tagged field to write at v? */
static bool
tag_written(const struct pschema *s, size_t k, int16_t v, const struct pvalue *st)
{
	const struct pfield *f = &s->fields[k];

	return f->tagged && pfield_present(f, v) && !node_is_default(f, &st->a.v[k]);
}

/* The tagged-field section: the count, then the fields by increasing tag. */
static int
encode_tags(const struct pschema *s, int16_t v, const struct pvalue *st, struct enc *e)
{
	uint32_t n = 0;
	int64_t last = -1;

	for (size_t k = 0; k < s->nfields; k++)
		n += tag_written(s, k, v, st);
	put_uvarint(e->b, n);
	for (uint32_t i = 0; i < n; i++) {
		size_t best = s->nfields;
		int rc;

		for (size_t k = 0; k < s->nfields; k++)
			if (tag_written(s, k, v, st) && s->fields[k].tag > last &&
			    (best == s->nfields || s->fields[k].tag < s->fields[best].tag))
				best = k;
		assert(best < s->nfields); /* tags are distinct (test_proto_flex checks) */
		if ((rc = encode_tagged(s, best, v, st, e)) != KLAB_OK)
			return rc;
		last = s->fields[best].tag;
	}
	return KLAB_OK;
}

static int
encode_struct(const struct pschema *s, int16_t v, const struct pvalue *st, struct enc *e)
{
	assert(st->type == PT_STRUCT && st->a.schema == s);
	for (size_t i = 0; i < s->nfields; i++) {
		int rc = KLAB_OK;

		if (untagged_present(&s->fields[i], v))
			rc = encode_value(&s->fields[i], v, &st->a.v[i], e);
		if (rc != KLAB_OK)
			return rc;
	}
	return e->flex ? encode_tags(s, v, st, e) : KLAB_OK;
}

/* proto_encode, handing records kept in files to sp (NULL: copy them). */
static int
encode_top(const struct pschema *s, int16_t v, const struct pvalue *st, struct buf *out,
	   struct proto_splices *sp)
{
	struct enc e = { out, sp, v >= s->flexible_min };
	size_t start = out->len, nsp = sp ? sp->n : 0, bytes = sp ? sp->bytes : 0;
	int rc = encode_struct(s, v, st, &e);

	if (rc == KLAB_OK && !buf_ok(out))
		rc = KLAB_ENOMEM;
	if (rc != KLAB_OK) {
		out->len = start; /* invariant 4 */
		if (sp != NULL) {
			sp->n = nsp;
			sp->bytes = bytes;
		}
	}
	return rc;
}

int
proto_encode(const struct pschema *s, int16_t v, const struct pvalue *st, struct buf *out)
{
	return encode_top(s, v, st, out, NULL);
}

void
proto_splices_free(struct proto_splices *sp)
{
	free(sp->v);
	memset(sp, 0, sizeof(*sp));
}

/* ---- framing ------------------------------------------------------------- */

int
proto_frame_next(const uint8_t *p, size_t avail, size_t max_bytes, struct proto_frame *f)
{
	int32_t size;

	memset(f, 0, sizeof(*f));
	if (avail < 4)
		return KLAB_OK;
	size = (int32_t)be32_read(p);
	if (size < 0)
		return KLAB_ECORRUPT;
	if ((size_t)size > max_bytes)
		return KLAB_ETOOLARGE;
	if (avail - 4 < (size_t)size)
		return KLAB_OK;
	f->body = p + 4;
	f->len = (size_t)size;
	f->consumed = 4 + (size_t)size;
	return KLAB_OK;
}

bool
proto_api_flexible(const struct api_desc *api, int16_t v)
{
	return v >= api->flexible_min;
}

int16_t
proto_request_header_version(int16_t key, int16_t v)
{
	const struct api_desc *api = proto_api(key);

	return api != NULL && proto_api_flexible(api, v) ? 2 : 1;
}

int16_t
proto_response_header_version(int16_t key, int16_t v)
{
	const struct api_desc *api = proto_api(key);

	if (key == KAPI_API_VERSIONS || api == NULL)
		return 0;
	return proto_api_flexible(api, v) ? 1 : 0;
}

int
proto_request_header_parse(const uint8_t *frame, size_t len, struct proto_request_header *h,
			   struct cursor *body)
{
	struct pvalue *hv;
	int32_t id_len;
	int16_t key, v;
	int rc;

	if (len < 4)
		return KLAB_ETRUNCATED;
	key = (int16_t)be16_read(frame);
	v = (int16_t)be16_read(frame + 2);
	cur_init(body, frame, len);
	rc = proto_decode_cursor(&proto_request_header, proto_request_header_version(key, v), body,
				 &hv);
	if (rc != KLAB_OK)
		return rc;
	h->api_key = key;
	h->api_version = v;
	h->correlation_id = (int32_t)pvalue_get_int(hv, "correlation_id");
	h->client_id = pvalue_get_bytes(hv, "client_id", &id_len);
	h->client_id_len = (int16_t)id_len;
	pvalue_free(hv);
	return KLAB_OK;
}

int
proto_response_header_parse(int16_t key, int16_t v, const uint8_t *frame, size_t len, int32_t *corr,
			    struct cursor *body)
{
	struct pvalue *hv;
	int rc;

	cur_init(body, frame, len);
	rc = proto_decode_cursor(&proto_response_header, proto_response_header_version(key, v),
				 body, &hv);
	if (rc != KLAB_OK)
		return rc;
	*corr = (int32_t)pvalue_get_int(hv, "correlation_id");
	pvalue_free(hv);
	return KLAB_OK;
}

/* The API of a header, if klab speaks its version. */
static int
api_for(const struct proto_request_header *h, const struct api_desc **api)
{
	*api = proto_api(h->api_key);
	if (*api == NULL)
		return KLAB_ENOTFOUND;
	if (h->api_version < (*api)->min_version || h->api_version > (*api)->max_version)
		return KLAB_ERANGE;
	return KLAB_OK;
}

int
proto_request_decode(const struct proto_request_header *h, struct cursor body, struct pvalue **out)
{
	const struct api_desc *api;
	int rc = api_for(h, &api);

	*out = NULL;
	if (rc != KLAB_OK)
		return rc;
	return proto_decode(api->request, h->api_version, body.p, body.len, out);
}

/* Append header hs (version hv) and body s (version v) as one frame. */
static int
frame_encode(const struct pschema *hs, int16_t hv, const struct pvalue *hdr,
	     const struct pschema *s, int16_t v, const struct pvalue *body, struct buf *out,
	     struct proto_splices *sp)
{
	size_t start = out->len, nsp = sp ? sp->n : 0, bytes0 = sp ? sp->bytes : 0;
	size_t size;
	int rc;

	buf_put_be32(out, 0); /* the size, patched below */
	rc = proto_encode(hs, hv, hdr, out);
	if (rc == KLAB_OK)
		rc = encode_top(s, v, body, out, sp);
	size = out->len - start - 4 + (sp ? sp->bytes - bytes0 : 0);
	if (rc == KLAB_OK && size > INT32_MAX)
		rc = KLAB_ETOOLARGE;
	if (rc == KLAB_OK && !buf_ok(out))
		rc = KLAB_ENOMEM;
	if (rc != KLAB_OK) {
		out->len = start;
		if (sp != NULL) {
			sp->n = nsp;
			sp->bytes = bytes0;
		}
		return rc;
	}
	be32_write(out->data + start, (uint32_t)size);
	return KLAB_OK;
}

int
proto_request_encode(const struct proto_request_header *h, const struct pvalue *body,
		     struct buf *out)
{
	const struct api_desc *api;
	struct pvalue kids[4] = {
		{ .type = PT_INT16, .i = h->api_key },
		{ .type = PT_INT16, .i = h->api_version },
		{ .type = PT_INT32, .i = h->correlation_id },
		{ .type = PT_STRING,
		  .null = h->client_id == NULL,
		  .s = { .p = h->client_id, .len = h->client_id_len < 0 ? 0 : h->client_id_len } },
	};
	struct pvalue hdr = { .type = PT_STRUCT, .a = { kids, 4, &proto_request_header } };
	int rc = api_for(h, &api);

	assert(proto_request_header.nfields == 4);
	if (rc != KLAB_OK)
		return rc;
	return frame_encode(&proto_request_header,
			    proto_request_header_version(h->api_key, h->api_version), &hdr,
			    api->request, h->api_version, body, out, NULL);
}

int
proto_response_encode_spliced(int32_t correlation_id, const struct api_desc *api, int16_t v,
			      const struct pvalue *body, struct buf *out, struct proto_splices *sp)
{
	struct pvalue kid = { .type = PT_INT32, .i = correlation_id };
	struct pvalue hdr = { .type = PT_STRUCT, .a = { &kid, 1, &proto_response_header } };

	assert(proto_response_header.nfields == 1);
	return frame_encode(&proto_response_header, proto_response_header_version(api->key, v),
			    &hdr, api->response, v, body, out, sp);
}

int
proto_response_encode(int32_t correlation_id, const struct api_desc *api, int16_t v,
		      const struct pvalue *body, struct buf *out)
{
	return proto_response_encode_spliced(correlation_id, api, v, body, out, NULL);
}

/* ---- trace --------------------------------------------------------------- */

/* A bounded writer with snprintf's counting: len may pass n. */
struct tw {
	char *p;
	size_t n;
	size_t len;
};

static void tw_printf(struct tw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tw_printf(struct tw *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (w->len < w->n)
		r = vsnprintf(w->p + w->len, w->n - w->len, fmt, ap);
	else
		r = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		w->len += (size_t)r;
}

/* A string from the wire: at most 32 bytes, unprintable bytes as '?'. */
static void
tw_str(struct tw *w, const struct pvalue *s)
{
	int32_t n = s->s.len < 32 ? s->s.len : 32;

	if (s->null) {
		tw_printf(w, "null");
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		uint8_t ch = s->s.p[i];

		tw_printf(w, "%c", ch >= 0x20 && ch < 0x7f ? ch : '?');
	}
	if (s->s.len > n)
		tw_printf(w, "...");
}

/* An element in brief: a struct's first string field, else "{..}". */
/* The first non-zero error_code inside struct node st (its arrays included), or 0. */
static int64_t
first_error(const struct pvalue *st)
{
	const struct pschema *sc = st->a.schema;

	for (int32_t i = 0; sc != NULL && i < st->a.n; i++) {
		const struct pvalue *v = &st->a.v[i];
		int64_t e = 0;

		if (strcmp(sc->fields[i].name, "error_code") == 0 && v->i != 0)
			return v->i;
		if (v->type == PT_STRUCT)
			e = first_error(v);
		for (int32_t k = 0; v->type == PT_ARRAY && !v->null && k < v->a.n && e == 0; k++)
			e = first_error(&v->a.v[k]);
		if (e != 0)
			return e;
	}
	return 0;
}

/* An element: its first string (a name), and "!ERROR" when something in it failed. */
static void
tw_elem(struct tw *w, const struct pvalue *el)
{
	int64_t err;
	bool named = false;

	if (el->type != PT_STRUCT) {
		if (el->type == PT_STRING)
			tw_str(w, el);
		else
			tw_printf(w, "%lld", (long long)el->i);
		return;
	}
	for (int32_t i = 0; i < el->a.n && !named; i++) {
		if (el->a.v[i].type == PT_STRING) {
			tw_str(w, &el->a.v[i]);
			named = true;
		}
	}
	if (!named)
		tw_printf(w, "{..}");
	if ((err = first_error(el)) != 0)
		tw_printf(w, "!%s", kafka_error_name((int16_t)err));
}

static void
tw_array(struct tw *w, const struct pvalue *arr)
{
	const int32_t shown = 6;

	if (arr->null) {
		tw_printf(w, "null");
		return;
	}
	tw_printf(w, "[");
	for (int32_t i = 0; i < arr->a.n && i < shown; i++) {
		tw_printf(w, "%s", i > 0 ? "," : "");
		tw_elem(w, &arr->a.v[i]);
	}
	if (arr->a.n > shown)
		tw_printf(w, ",+%d", arr->a.n - shown);
	tw_printf(w, "]");
}

static void
tw_field(struct tw *w, const struct pfield *f, const struct pvalue *val)
{
	tw_printf(w, " %s=", f->name);
	if (is_array(f->type))
		tw_array(w, val);
	else if (f->type == PT_STRING)
		tw_str(w, val);
	else if (is_slice(f->type) && val->null)
		tw_printf(w, "null");
	else if (is_slice(f->type))
		tw_printf(w, "<%d bytes>", val->s.len);
	else if (f->type == PT_STRUCT)
		tw_printf(w, "{..}");
	else if (f->type == PT_UUID)
		for (int i = 0; i < 16; i++)
			tw_printf(w, "%02x", val->uuid[i]);
	else
		tw_printf(w, "%lld", (long long)val->i);
}

size_t
proto_trace(char *out, size_t n, const struct api_desc *api, bool response, int16_t v,
	    int32_t correlation_id, const struct pvalue *body)
{
	struct tw w = { out, n, 0 };
	const struct pschema *s = response ? api->response : api->request;

	if (n > 0)
		out[0] = '\0';
	/* "[flexible]": compact lengths and tagged fields (KIP-482) */
	tw_printf(&w, "%s v%d %s%s corr=%d", api->name, v, response ? "response" : "request",
		  proto_api_flexible(api, v) ? " [flexible]" : "", correlation_id);
	for (size_t i = 0; body != NULL && i < s->nfields; i++)
		if (pfield_present(&s->fields[i], v))
			tw_field(&w, &s->fields[i], &body->a.v[i]);
	return w.len;
}
