/*
 * jute.h - ZooKeeper's record format (jute), described by tables
 * (chapter 4 §1).
 *
 * ZooKeeper declares every message and every record of its files in one
 * file, zookeeper-jute/src/main/resources/zookeeper.jute, and generates
 * Java and C code from it.  A jute record is a fixed list of fields: no
 * versions, no tags.  Its encoding (BinaryOutputArchive.java):
 *
 *   int        int32, big-endian
 *   long       int64, big-endian
 *   boolean    1 byte (0 or 1)
 *   buffer     int32 length N, then N bytes; -1 = null
 *   ustring    the same, the bytes being UTF-8
 *   vector<T>  int32 count N, then N items; -1 = null
 *   record     its fields in order, no prefix
 *
 * This is exactly a Kafka message at a non-flexible version whose strings
 * have int32 lengths.  So klab keeps one way of doing things: a jute
 * record is a struct pschema (proto/kafka.h) with every field present
 * from version 0 on, ustring and buffer both PT_BYTES, vector<ustring>
 * PT_ARRAY_BYTES, and every buffer, ustring and vector nullable (jute
 * allows null everywhere).  The Kafka codec decodes and encodes it at
 * version 0, with its bounds (decode budget, counts checked before
 * allocating, never reading outside the input), into the same struct
 * pvalue trees, read with the same accessors:
 *
 *   pvalue_get_int(stat, "mzxid"), pvalue_get_bytes(req, "path", &len)
 *
 * Field names are jute's own (camelCase, "ephemeralOwner"), so a field
 * can be found in zookeeper.jute by its name.  Strings in a vector<ustring>
 * may not be null (ZooKeeper never sends one; such a vector is refused).
 * Where ZooKeeper and Kafka's rules differ, Kafka's hold: a length below
 * -1 reads as null (BinaryInputArchive refuses it as "Unreasonable
 * length"), and ustring bytes are not checked to be UTF-8.
 *
 * Interface:
 *   Records    jute_<record> tables (jute_records.c), jute_record(name).
 *   Codes      op codes, error codes (KeeperException.Code), watch event
 *              types and states, reserved xids, with their names.
 *   Codec      jute_decode() / jute_encode() of one record.
 *   Framing    int32 length + RequestHeader + body; int32 length +
 *              ReplyHeader + body; the connect handshake (no header, a
 *              readOnly byte after the record); multi's op lists.
 *   Trace      jute_trace_request() / jute_trace_reply(): one line each.
 */
#ifndef KLAB_PROTO_JUTE_H
#define KLAB_PROTO_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/kafka.h"

/* ---- records (jute_records.c) ------------------------------------------- */

/* org.apache.zookeeper.data */
extern const struct pschema jute_id, jute_acl, jute_stat, jute_stat_persisted, jute_client_info;

/* org.apache.zookeeper.proto */
extern const struct pschema jute_connect_request, jute_connect_response, jute_set_watches,
	jute_set_watches2, jute_request_header, jute_multi_header, jute_auth_packet,
	jute_reply_header, jute_get_data_request, jute_set_data_request, jute_set_data_response,
	jute_create_request, jute_create_ttl_request, jute_delete_request,
	jute_get_children_request, jute_get_all_children_number_request,
	jute_get_all_children_number_response, jute_get_children2_request,
	jute_check_version_request, jute_sync_request, jute_sync_response, jute_get_acl_request,
	jute_get_acl_response, jute_set_acl_request, jute_set_acl_response, jute_add_watch_request,
	jute_watcher_event, jute_error_response, jute_create_response, jute_create2_response,
	jute_exists_request, jute_exists_response, jute_get_data_response,
	jute_get_children_response, jute_get_children2_response, jute_get_ephemerals_request,
	jute_get_ephemerals_response, jute_remove_watches_request, jute_check_watches_request,
	jute_who_am_i_response;

/* org.apache.zookeeper.txn */
extern const struct pschema jute_txn_header, jute_create_txn, jute_create_txn_v0,
	jute_create_ttl_txn, jute_create_container_txn, jute_delete_txn, jute_set_data_txn,
	jute_check_version_txn, jute_set_acl_txn, jute_create_session_txn, jute_close_session_txn,
	jute_error_txn, jute_txn, jute_multi_txn, jute_txn_digest;

/* persistence and quorum; DataNode is written by DataNode.serialize(), not
 * generated, as {buffer data; long acl; StatPersisted stat}. */
extern const struct pschema jute_file_header, jute_data_node, jute_quorum_packet, jute_learner_info;

/* The record named name ("CreateRequest"), or NULL. */
const struct pschema *jute_record(const char *name);

/* Every record, 0 .. jute_record_count()-1 (for tests). */
size_t jute_record_count(void);
const struct pschema *jute_record_at(size_t i);

/* ---- codes --------------------------------------------------------------- */

/* ZooDefs.OpCode (ZooKeeper 3.8). */
enum jute_op {
	JUTE_OP_NOTIFICATION = 0,
	JUTE_OP_CREATE = 1,
	JUTE_OP_DELETE = 2,
	JUTE_OP_EXISTS = 3,
	JUTE_OP_GET_DATA = 4,
	JUTE_OP_SET_DATA = 5,
	JUTE_OP_GET_ACL = 6,
	JUTE_OP_SET_ACL = 7,
	JUTE_OP_GET_CHILDREN = 8,
	JUTE_OP_SYNC = 9,
	JUTE_OP_PING = 11,
	JUTE_OP_GET_CHILDREN2 = 12,
	JUTE_OP_CHECK = 13,
	JUTE_OP_MULTI = 14,
	JUTE_OP_CREATE2 = 15,
	JUTE_OP_RECONFIG = 16,
	JUTE_OP_CHECK_WATCHES = 17,
	JUTE_OP_REMOVE_WATCHES = 18,
	JUTE_OP_CREATE_CONTAINER = 19,
	JUTE_OP_DELETE_CONTAINER = 20,
	JUTE_OP_CREATE_TTL = 21,
	JUTE_OP_MULTI_READ = 22,
	JUTE_OP_AUTH = 100,
	JUTE_OP_SET_WATCHES = 101,
	JUTE_OP_SASL = 102,
	JUTE_OP_GET_EPHEMERALS = 103,
	JUTE_OP_GET_ALL_CHILDREN_NUMBER = 104,
	JUTE_OP_SET_WATCHES2 = 105,
	JUTE_OP_ADD_WATCH = 106,
	JUTE_OP_WHO_AM_I = 107,
	JUTE_OP_CREATE_SESSION = -10,
	JUTE_OP_CLOSE_SESSION = -11,
	JUTE_OP_ERROR = -1,
};

/* ZooDefs.OpCode's name of op ("getChildren2"), or NULL when unknown. */
const char *jute_op_name(int32_t op);

/*
 * The body records of op's request and of its reply, or NULL when that
 * side has no body (ping, delete's reply) or klab does not know the op.
 * Multi's bodies are op lists (jute_multi_*), not one record: NULL.
 */
const struct pschema *jute_op_request(int32_t op);
const struct pschema *jute_op_response(int32_t op);

/* The txn record a TxnHeader of this type is followed by (FileTxnLog). */
const struct pschema *jute_op_txn(int32_t op);

/* KeeperException.Code (ZooKeeper 3.8). */
enum jute_err {
	JUTE_OK = 0,
	JUTE_SYSTEMERROR = -1,
	JUTE_RUNTIMEINCONSISTENCY = -2,
	JUTE_DATAINCONSISTENCY = -3,
	JUTE_CONNECTIONLOSS = -4,
	JUTE_MARSHALLINGERROR = -5,
	JUTE_UNIMPLEMENTED = -6,
	JUTE_OPERATIONTIMEOUT = -7,
	JUTE_BADARGUMENTS = -8,
	JUTE_UNKNOWNSESSION = -12,
	JUTE_NEWCONFIGNOQUORUM = -13,
	JUTE_RECONFIGINPROGRESS = -14,
	JUTE_APIERROR = -100,
	JUTE_NONODE = -101,
	JUTE_NOAUTH = -102,
	JUTE_BADVERSION = -103,
	JUTE_NOCHILDRENFOREPHEMERALS = -108,
	JUTE_NODEEXISTS = -110,
	JUTE_NOTEMPTY = -111,
	JUTE_SESSIONEXPIRED = -112,
	JUTE_INVALIDCALLBACK = -113,
	JUTE_INVALIDACL = -114,
	JUTE_AUTHFAILED = -115,
	JUTE_SESSIONMOVED = -118,
	JUTE_NOTREADONLY = -119,
	JUTE_EPHEMERALONLOCALSESSION = -120,
	JUTE_NOWATCHER = -121,
	JUTE_REQUESTTIMEOUT = -122,
	JUTE_RECONFIGDISABLED = -123,
	JUTE_SESSIONCLOSEDREQUIRESASLAUTH = -124,
	JUTE_QUOTAEXCEEDED = -125,
	JUTE_THROTTLEDOP = -127,
};

/* The Code's name ("NONODE"), or "UNKNOWN". */
const char *jute_err_name(int32_t err);

/* Watcher.Event.EventType */
enum jute_event_type {
	JUTE_EVENT_NONE = -1,
	JUTE_EVENT_NODE_CREATED = 1,
	JUTE_EVENT_NODE_DELETED = 2,
	JUTE_EVENT_NODE_DATA_CHANGED = 3,
	JUTE_EVENT_NODE_CHILDREN_CHANGED = 4,
	JUTE_EVENT_DATA_WATCH_REMOVED = 5,
	JUTE_EVENT_CHILD_WATCH_REMOVED = 6,
	JUTE_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

/* Watcher.Event.KeeperState */
enum jute_state {
	JUTE_STATE_DISCONNECTED = 0,
	JUTE_STATE_SYNC_CONNECTED = 3,
	JUTE_STATE_AUTH_FAILED = 4,
	JUTE_STATE_CONNECTED_READ_ONLY = 5,
	JUTE_STATE_SASL_AUTHENTICATED = 6,
	JUTE_STATE_CLOSED = 7,
	JUTE_STATE_EXPIRED = -112,
};

const char *jute_event_type_name(int32_t type); /* "NodeCreated"; "Unknown" */
const char *jute_state_name(int32_t state);	/* "SyncConnected"; "Unknown" */

/* Reserved xids (ClientCnxn.java). */
#define JUTE_XID_NOTIFICATION (-1)
#define JUTE_XID_PING (-2)
#define JUTE_XID_AUTH (-4)
#define JUTE_XID_SET_WATCHES (-8)

/* Create flags (CreateMode.java) and ZooDefs.Perms. */
#define JUTE_CREATE_EPHEMERAL 1
#define JUTE_CREATE_SEQUENTIAL 2
#define JUTE_CREATE_CONTAINER 4
#define JUTE_PERM_ALL 31 /* READ 1 | WRITE 2 | CREATE 4 | DELETE 8 | ADMIN 16 */

/* ---- codec --------------------------------------------------------------- */

/*
 * Decode exactly p[0..len) as record s into a new tree *out (pointing into
 * p).  Errors as proto_decode: KLAB_ETRUNCATED when the bytes end early,
 * KLAB_ECORRUPT for a length or count that cannot be or bytes left over,
 * KLAB_ETOOLARGE over the decode budget, KLAB_ENOMEM.
 */
int jute_decode(const struct pschema *s, const uint8_t *p, size_t len, struct pvalue **out);

/* As jute_decode, from a cursor, leaving it after the record. */
int jute_decode_cursor(const struct pschema *s, struct cursor *c, struct pvalue **out);

/* Append st as record s to out; out is unchanged on error (as proto_encode). */
int jute_encode(const struct pschema *s, const struct pvalue *st, struct buf *out);

/* ---- framing ------------------------------------------------------------- */

/*
 * jute.maxbuffer: the largest frame either side accepts, 0xfffff (1 MiB - 1)
 * by default.  jute_frame_next() refuses a larger size (KLAB_ETOOLARGE) or
 * a negative one (KLAB_ECORRUPT) as soon as the four size bytes are there,
 * as ZooKeeper's NIOServerCnxn and ClientCnxnSocket do.
 */
#define JUTE_MAXBUFFER_DEFAULT 0xfffff
int jute_frame_next(const uint8_t *p, size_t avail, size_t max_bytes, struct proto_frame *f);

/*
 * A whole request frame: int32 size, RequestHeader{xid, type}, then body
 * as record s (s and body NULL: no body, as ping and closeSession).  On
 * error out is left as it was.
 */
int jute_request_encode(int32_t xid, int32_t type, const struct pschema *s,
			const struct pvalue *body, struct buf *out);

/* A whole reply frame: int32 size, ReplyHeader{xid, zxid, err}, body. */
int jute_reply_encode(int32_t xid, int64_t zxid, int32_t err, const struct pschema *s,
		      const struct pvalue *body, struct buf *out);

struct jute_request_header {
	int32_t xid;
	int32_t type;
};

struct jute_reply_header {
	int32_t xid;
	int64_t zxid;
	int32_t err;
};

/* Read the header at the start of a frame (after the size); *body is left
 * at the body.  KLAB_ETRUNCATED when the frame is shorter than the header. */
int jute_request_header_parse(const uint8_t *frame, size_t len, struct jute_request_header *h,
			      struct cursor *body);
int jute_reply_header_parse(const uint8_t *frame, size_t len, struct jute_reply_header *h,
			    struct cursor *body);

/*
 * The handshake.  The client's first frame is ConnectRequest with no
 * header, then one readOnly byte outside the record (a client older than
 * 3.4 sends none: read as false).  The server answers ConnectResponse,
 * then the readOnly byte; the C client reads the frame as 41 bytes with
 * its size (a 16-byte password) and takes 40, so the byte is optional on
 * decode too.
 */
int jute_connect_request_encode(const struct pvalue *req, bool read_only, struct buf *out);
int jute_connect_response_encode(const struct pvalue *resp, bool read_only, struct buf *out);
int jute_connect_request_decode(const uint8_t *frame, size_t len, struct pvalue **out,
				bool *read_only);
int jute_connect_response_decode(const uint8_t *frame, size_t len, struct pvalue **out,
				 bool *read_only);

/*
 * multi (op 14) and multiRead (22).  A request body is, per op,
 * MultiHeader{type, done=false, err=-1} and the op's request record, then
 * MultiHeader{-1, true, -1}.  A reply body is, per op, MultiHeader{type,
 * false, err=0} and the op's reply record (none for delete and check), a
 * failed op as MultiHeader{-1, false, err} + ErrorResponse{err}, then the
 * same terminator (MultiOperationRecord.java, MultiResponse.java).
 */
struct jute_multi_op {
	int32_t type;	     /* the op code; -1 for a failed op in a reply */
	int32_t err;	     /* a reply's error code (requests: -1) */
	struct pvalue *body; /* NULL when the op has no body record */
};

struct jute_multi {
	struct jute_multi_op *ops;
	size_t n;
};

/* Append a multi request (reply false) or reply body for ops[0..n). */
int jute_multi_encode(const struct jute_multi_op *ops, size_t n, bool reply, struct buf *out);

/*
 * Decode a multi body from c up to its terminator into m (free with
 * jute_multi_free).  An op whose type has no known record is
 * KLAB_ECORRUPT; the op count is bounded by the bytes left (each header
 * takes 9).
 */
int jute_multi_decode(struct cursor *c, bool reply, struct jute_multi *m);
void jute_multi_free(struct jute_multi *m);

/* ---- trace --------------------------------------------------------------- */

/*
 * One line (no newline) into out[0..n), returning the length the whole
 * line needs, as snprintf:
 *   "create xid=5 path=/a data=<3 bytes> acl=[..] flags=1"
 *   "reply xid=5 zxid=0x3 err=NONODE"
 * Top-level ints are shown, buffers and ustrings as text when printable.
 */
size_t jute_trace_request(char *out, size_t n, int32_t xid, int32_t type,
			  const struct pvalue *body);
size_t jute_trace_reply(char *out, size_t n, int32_t xid, int64_t zxid, int32_t err,
			const struct pvalue *body);

/*
 * The same from a whole frame (after its size): a request's body is
 * decoded by its type, a reply's by op, the type of the request it
 * answers (a client knows it from the xid; -1 when not known), a watch
 * event (xid -1) as WatcherEvent; a multi shows its ops,
 *   "multi xid=9 ops=[create,delete]"
 *   "reply xid=9 zxid=0x20 err=OK ops=[error:OK,error:NONODE]"
 * and bytes that do not decode show as "<N bytes>".
 */
size_t jute_trace_request_frame(char *out, size_t n, const uint8_t *frame, size_t len);
size_t jute_trace_reply_frame(char *out, size_t n, const uint8_t *frame, size_t len, int32_t op);

#endif
