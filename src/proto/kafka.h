/*
 * proto.h - the Kafka wire protocol, described by tables (chapter 3 §1).
 *
 * Kafka defines every message in a JSON schema (clients/src/main/resources/
 * common/message/<Name>.json) and generates Java code from it.  klab keeps the
 * schemas as C tables (messages.c) and has one generic encoder and one
 * generic decoder that walk a table for a given version (proto.c).  Adding
 * a version or a field is a table edit.  Versions from an API's
 * flexible_min on are "flexible" (KIP-482): the codec then writes every
 * string, bytes and array with a compact (unsigned varint) length and
 * ends every struct with a section of tagged fields.
 *
 * Interface:
 *   Tables     struct pfield / struct pschema describe a message; the
 *              registry proto_api(key) names each API, the versions klab
 *              supports, and its request and response schemas.
 *
 *   Trees      A decoded message is a tree of struct pvalue nodes: a struct
 *              node has one child per field of its schema (fields absent at
 *              the version hold their default), an array node has one child
 *              per element.  String and bytes nodes point into the bytes
 *              they were decoded from (the frame must outlive the tree) or,
 *              for trees built by handlers, into the caller's memory.
 *              pvalue_new() builds a tree of defaults; pvalue_free() frees
 *              any tree.  Handler code reads and writes fields by their
 *              snake_case name: pvalue_get_int(req, "timeout_ms").
 *
 *   Codec      proto_decode() parses a whole body; proto_encode() appends
 *              one.  Malformed input returns KLAB_ETRUNCATED (the bytes ran
 *              out) or KLAB_ECORRUPT (a length or count that cannot be);
 *              the decoder never reads outside its input and bounds every
 *              count before it allocates.
 *
 *   Framing    proto_frame_next() cuts size-prefixed frames from a byte
 *              stream; proto_request_header_parse() reads request header
 *              v1 or v2 (flexible); proto_response_encode() writes a whole
 *              response frame with response header v0 or v1, as the API
 *              and version call for.
 *
 *   Trace      proto_trace() writes one line per message for the REPL.
 */
#ifndef KLAB_PROTO_KAFKA_H
#define KLAB_PROTO_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/api.h"
#include "core/buf.h"
#include "core/fs.h"

/* ---- tables -------------------------------------------------------------- */

#define PV_ANY INT16_MAX  /* the "N+" of Kafka's "versions": no upper bound */
#define PV_NONE INT16_MAX /* "flexibleVersions": "none" */

enum ptype {
	PT_INT8,
	PT_INT16,
	PT_INT32,
	PT_INT64,
	PT_BOOL,
	PT_STRING,	 /* int16 length + UTF-8; -1 = null where nullable */
	PT_BYTES,	 /* int32 length + bytes; -1 = null where nullable */
	PT_RECORDS,	 /* as PT_BYTES, holding record batches */
	PT_ARRAY,	 /* int32 count + structs of pfield.sub; -1 = null */
	PT_ARRAY_INT32,	 /* int32 count + int32s */
	PT_ARRAY_INT64,	 /* int32 count + int64s */
	PT_ARRAY_STRING, /* int32 count + (non-null) strings */
	PT_STRUCT,	 /* the fields of pfield.sub, inline */
	PT_UVARINT,	 /* unsigned varint, at most 5 bytes (32 bits) */
	PT_UUID,	 /* 16 bytes (Kafka's Uuid); the default is all zero */
	PT_ARRAY_BYTES,	 /* int32 count + (non-null) bytes: jute's vector<ustring> */
};

/*
 * In a flexible version (v >= the message's flexible_min) the encodings
 * change (KIP-482): string, bytes, records and arrays take an unsigned
 * varint N+1 instead of their int16/int32 prefix (0 = null), and every
 * struct ends with its tagged fields: an unsigned varint count, then per
 * field its tag, its size and its bytes (request header v2's client_id
 * keeps the int16 length).
 */

struct pschema;

struct pfield {
	const char *name;	   /* snake_case, as in Kafka's protocol guide */
	enum ptype type;	   /* */
	int16_t min_version;	   /* present in [min_version, max_version] */
	int16_t max_version;	   /* PV_ANY for Kafka's "N+" */
	bool nullable;		   /* null allowed from null_min on */
	int16_t null_min;	   /* Kafka's "nullableVersions": "N+" */
	bool def_null;		   /* the default is null ("default": "null") */
	int64_t def;		   /* the default of an integer or bool */
	const struct pschema *sub; /* PT_ARRAY and PT_STRUCT: the element */
	bool classic;		   /* keeps the int16/int32 length when flexible */
	bool tagged;		   /* a tagged field ("taggedVersions"), ... */
	int32_t tag;		   /* ... with this tag: written when not default */
};

struct pschema {
	const char *name; /* Kafka's name: "MetadataResponseTopic" */
	size_t nfields;
	const struct pfield *fields;
	/* A whole message (request, response, header): its first flexible
	 * version, or PV_NONE.  A nested struct is flexible when its message is. */
	int16_t flexible_min;
};

struct api_desc {
	int16_t key;
	const char *name;    /* "Metadata" */
	int16_t min_version; /* the versions klab supports */
	int16_t max_version;
	int16_t flexible_min; /* Kafka's "flexibleVersions": "N+"; PV_NONE */
	const struct pschema *request;
	const struct pschema *response;
};

/* The API with this key, or NULL when klab does not know it. */
const struct api_desc *proto_api(int16_t key);

/* All known APIs in key order, for ApiVersions: index 0 .. count-1. */
size_t proto_api_count(void);
const struct api_desc *proto_api_at(size_t i);

/*
 * RequestHeader.json (v1; v2 = v1 + tagged fields) and ResponseHeader.json
 * (v0; v1 = v0 + tagged fields).
 */
extern const struct pschema proto_request_header;
extern const struct pschema proto_response_header;

/*
 * The header versions a request and its response of API key at version v
 * use: request v2 and response v1 from the API's flexible_min on, else
 * v1 and v0; ApiVersions responses always v0 (KIP-511: a client that does
 * not yet know the broker's versions must read the answer).  An unknown
 * key gives 1 and 0.
 */
int16_t proto_request_header_version(int16_t key, int16_t v);
int16_t proto_response_header_version(int16_t key, int16_t v);

/* True when v is a flexible version of API api. */
bool proto_api_flexible(const struct api_desc *api, int16_t v);

/* True when f is on the wire at version v. */
bool pfield_present(const struct pfield *f, int16_t v);

/* ---- trees --------------------------------------------------------------- */

struct pvalue {
	enum ptype type; /* PT_STRUCT for a struct node; an element's own type */
	bool null;	 /* strings, bytes, arrays */
	bool in_file;	 /* records: s.len bytes of file s.file at s.file_off */
	union {
		int64_t i; /* integers and bools */
		struct {
			const uint8_t *p;
			int32_t len;
			struct fs_file *file; /* in_file only */
			int64_t file_off;     /* in_file only */
		} s;			      /* strings, bytes, records */
		uint8_t uuid[16];	      /* PT_UUID */
		struct {
			struct pvalue *v;
			int32_t n;
			const struct pschema *schema; /* structs, arrays of structs */
		} a;				      /* arrays and structs: n children */
	};
};

/* A struct node of schema s holding every field's default; NULL if no memory. */
struct pvalue *pvalue_new(const struct pschema *s);

/* Free a tree made by pvalue_new() or proto_decode() (NULL is fine). */
void pvalue_free(struct pvalue *v);

/*
 * The child of struct node st named name, or NULL when the schema has no
 * such field.  (Like strchr, it hands back a mutable pointer.)
 */
struct pvalue *pvalue_get(const struct pvalue *st, const char *name);

/*
 * Typed access by name.  An unknown name or a wrong type is a programmer
 * error that stops the process in every build (KLAB_ASSERT, core/assert.h).
 */
int64_t pvalue_get_int(const struct pvalue *st, const char *name);
void pvalue_set_int(struct pvalue *st, const char *name, int64_t v);

/* A string or bytes field: its bytes and length, or NULL (len -1) if null. */
const uint8_t *pvalue_get_bytes(const struct pvalue *st, const char *name, int32_t *len);

/* Point a string field at s (NUL-terminated; NULL = null), not copied. */
void pvalue_set_str(struct pvalue *st, const char *name, const char *s);

/* Point a bytes/records/string field at p[0..len) (p NULL = null). */
void pvalue_set_bytes(struct pvalue *st, const char *name, const void *p, int32_t len);

/*
 * Point a records field at len bytes of file fd from off (a Fetch's
 * records, still in the segment file): proto_encode copies them,
 * proto_response_encode_spliced leaves them to be sent from the file.
 */
void pvalue_set_file(struct pvalue *st, const char *name, struct fs_file *file, int64_t off,
		     int32_t len);

/* True when st's schema has a field named name and it is on the wire at v. */
bool pvalue_has_field(const struct pvalue *st, const char *name, int16_t v);

/* A uuid field: copy its 16 bytes out, or set them (copied in). */
void pvalue_get_uuid(const struct pvalue *st, const char *name, uint8_t id[16]);
void pvalue_set_uuid(struct pvalue *st, const char *name, const uint8_t id[16]);

/* An array field (asserting the name), its length, and its element i. */
struct pvalue *pvalue_array(const struct pvalue *st, const char *name);
int32_t pvalue_count(const struct pvalue *arr); /* 0 when null */
struct pvalue *pvalue_at(const struct pvalue *arr, int32_t i);

/*
 * Make arr hold n elements, each a fresh default (ints 0, strings empty,
 * structs of defaults), replacing what it held.  KLAB_ENOMEM on failure.
 */
int pvalue_array_resize(struct pvalue *arr, int32_t n);

/*
 * Keep the elements i of arr for which keep[i] (keep has pvalue_count(arr)
 * entries), in their order, freeing the others.
 */
void pvalue_array_filter(struct pvalue *arr, const bool *keep);

/* Make an array null (allowed on the wire only where it is nullable). */
void pvalue_array_set_null(struct pvalue *arr);

/* ---- codec --------------------------------------------------------------- */

/*
 * The memory a tree decoded from len bytes may take (proto.c, invariant
 * 2a): PROTO_DECODE_RATIO bytes per byte of input plus PROTO_DECODE_SLACK,
 * counting PROTO_ALLOC_OVERHEAD bytes for each block malloc hands out.  A
 * request whose tree would take more is refused, not decoded: the work a
 * request causes is bounded by its size (STYLE.md, convention 6).  Kafka
 * has no such bound; klab's keeps 16 bytes per byte, enough for every
 * request of ordinary elements, and refuses e.g. a Metadata request of a
 * million empty names (40 bytes of tree per byte).
 */
#define PROTO_DECODE_RATIO 16
#define PROTO_DECODE_SLACK ((size_t)4 << 20)
#define PROTO_ALLOC_OVERHEAD 16
size_t proto_decode_budget(size_t len);

/*
 * Decode exactly p[0..len) as schema s at version v into a new tree *out
 * (pointing into p); s is a whole message, whose flexible_min says
 * whether v uses the flexible encodings.  Returns KLAB_OK, KLAB_ETRUNCATED when the bytes end
 * early, KLAB_ECORRUPT for an impossible length or count or for bytes left
 * over, KLAB_ETOOLARGE when the tree would take more memory than
 * proto_decode_budget(len), KLAB_ENOMEM when an allocation failed.  On
 * error *out is NULL.
 */
int proto_decode(const struct pschema *s, int16_t v, const uint8_t *p, size_t len,
		 struct pvalue **out);

/* As proto_decode, from a cursor, leaving it after the message. */
int proto_decode_cursor(const struct pschema *s, int16_t v, struct cursor *c, struct pvalue **out);

/*
 * Append struct node st encoded as schema s (a whole message, as for
 * proto_decode) at version v to out.  A tagged field is written only when
 * it does not hold its default.  Fields
 * absent at v are not written.  KLAB_EINVAL when a null sits where v does
 * not allow one or a length does not fit its prefix; KLAB_ENOMEM when out
 * could not grow.
 */
int proto_encode(const struct pschema *s, int16_t v, const struct pvalue *st, struct buf *out);

/* ---- framing ------------------------------------------------------------- */

struct proto_frame {
	const uint8_t *body; /* the bytes after the int32 size */
	size_t len;	     /* = the size */
	size_t consumed;     /* 4 + len; 0 while more bytes are needed */
};

/*
 * Look for one frame at the start of p[0..avail).  KLAB_OK with
 * f->consumed == 0 means "need more bytes"; KLAB_OK with consumed > 0 is a
 * whole frame.  A negative size is KLAB_ECORRUPT and a size above max_bytes
 * (socket.request.max.bytes) KLAB_ETOOLARGE, both known as soon as the four
 * size bytes are there, as in Kafka's NetworkReceive.
 */
int proto_frame_next(const uint8_t *p, size_t avail, size_t max_bytes, struct proto_frame *f);

struct proto_request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	const uint8_t *client_id; /* into the frame; NULL when null */
	int16_t client_id_len;	  /* -1 when null */
};

/*
 * Read the request header from the start of a frame (v2 when its API is
 * flexible at its version, proto_request_header_version, else v1); *body
 * is left at the request body.  KLAB_ETRUNCATED or KLAB_ECORRUPT on bad
 * bytes.
 */
int proto_request_header_parse(const uint8_t *frame, size_t len, struct proto_request_header *h,
			       struct cursor *body);

/*
 * Decode the body of a request whose header is h.  KLAB_ENOTFOUND for an
 * unknown API key, KLAB_ERANGE for a version outside klab's range, else as
 * proto_decode.
 */
int proto_request_decode(const struct proto_request_header *h, struct cursor body,
			 struct pvalue **out);

/*
 * Read the response header of a response to API key at version v from
 * the start of a frame (after the size): *corr, and *body left at the
 * response body.  KLAB_ETRUNCATED or KLAB_ECORRUPT on bad bytes.
 */
int proto_response_header_parse(int16_t key, int16_t v, const uint8_t *frame, size_t len,
				int32_t *corr, struct cursor *body);

/*
 * Append a whole request frame to out: int32 size, the request header
 * (v1 or v2) from h, then body as h->api_key's request schema at h->api_version (the test
 * suite and klab's own clients use it).  KLAB_ENOTFOUND / KLAB_ERANGE as
 * above; on error out is left as it was.
 */
int proto_request_encode(const struct proto_request_header *h, const struct pvalue *body,
			 struct buf *out);

/*
 * Append a whole response frame to out: int32 size, the response header
 * (correlation_id; v0 or v1, proto_response_header_version), then body
 * encoded as api's response at version v.  On error out is left as it was.
 */
int proto_response_encode(int32_t correlation_id, const struct api_desc *api, int16_t v,
			  const struct pvalue *body, struct buf *out);

/*
 * Zero-copy responses.  As proto_response_encode, but records that live
 * in a file (pvalue_set_file) are not copied: out gets their length
 * prefix only, and sp one splice saying which file bytes go at which
 * position of out.  The frame's size counts them.  The broker hands out
 * and sp to the runtime's send_parts, which sends the file bytes with
 * sendfile (Kafka's FileRecords.writeTo does the same with transferTo).
 */
struct proto_splice {
	size_t at; /* the file bytes go before out[at] */
	struct fs_file *file;
	int64_t file_off;
	size_t len;
};

struct proto_splices {
	struct proto_splice *v;
	size_t n, cap;
	size_t bytes; /* the sum of v[].len */
};

void proto_splices_free(struct proto_splices *sp);

int proto_response_encode_spliced(int32_t correlation_id, const struct api_desc *api, int16_t v,
				  const struct pvalue *body, struct buf *out,
				  struct proto_splices *sp);

/* ---- errors (errors.c) -------------------------------------------------- */

/* Kafka's error codes that klab's broker and clients use (Errors.java). */
enum kafka_error {
	KERR_UNKNOWN_SERVER_ERROR = -1,
	KERR_NONE = 0,
	KERR_OFFSET_OUT_OF_RANGE = 1,
	KERR_CORRUPT_MESSAGE = 2,
	KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KERR_LEADER_NOT_AVAILABLE = 5,
	KERR_NOT_LEADER_OR_FOLLOWER = 6,
	KERR_MESSAGE_TOO_LARGE = 10,
	KERR_COORDINATOR_NOT_AVAILABLE = 15,
	KERR_NOT_COORDINATOR = 16,
	KERR_INVALID_TOPIC_EXCEPTION = 17,
	KERR_INVALID_REQUIRED_ACKS = 21,
	KERR_UNSUPPORTED_VERSION = 35,
	KERR_TOPIC_ALREADY_EXISTS = 36,
	KERR_INVALID_PARTITIONS = 37,
	KERR_INVALID_REPLICATION_FACTOR = 38,
	KERR_INVALID_REPLICA_ASSIGNMENT = 39,
	KERR_INVALID_CONFIG = 40,
	KERR_INVALID_REQUEST = 42,
	KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KERR_INVALID_PRODUCER_EPOCH = 47,
	KERR_KAFKA_STORAGE_ERROR = 56,
	KERR_INVALID_RECORD = 87,
	KERR_UNKNOWN_TOPIC_ID = 100,
};

/* Kafka's name for an error code, "NOT_LEADER_OR_FOLLOWER"; "UNKNOWN_ERROR_CODE". */
const char *kafka_error_name(int16_t code);
/* Errors a metadata refresh and a retry may cure. */
bool kafka_error_retriable(int16_t code);

/* ---- trace --------------------------------------------------------------- */

/*
 * One line (no newline) into out[0..n) describing a message:
 *   "Metadata v1 request corr=7 topics=[t1,t2] allow_auto_topic_creation=1"
 * Top-level integers and strings are shown; arrays of structs as the first
 * string field of each element.  Returns the length the whole line needs,
 * as snprintf does.
 */
size_t proto_trace(char *out, size_t n, const struct api_desc *api, bool response, int16_t v,
		   int32_t correlation_id, const struct pvalue *body);

#endif
