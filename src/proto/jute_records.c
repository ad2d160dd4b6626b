/*
 * jute_records.c - ZooKeeper's records as tables (see jute.h; chapter 4 §1).
 *
 * Each table transcribes one class of zookeeper-jute/src/main/resources/
 * zookeeper.jute (ZooKeeper 3.8): the fields in their order, with jute's
 * names and types.  A jute class
 *
 *   class SetDataRequest { ustring path; buffer data; int version; }
 *
 * becomes
 *
 *   RECORD(jute_set_data_request, "SetDataRequest", USTRING("path"),
 *          BUFFER("data"), INT("version"));
 *
 * Left out: records no ZooKeeper 3.8 client or klab's server files use
 * (ReconfigRequest, the SASL records, Get/SetMaxChildren, QuorumAuthPacket,
 * GetStatPersisted, which came after 3.8).  DataNode is not a jute class:
 * DataNode.serialize() writes {buffer data; long acl; StatPersisted stat}
 * by hand, and snapshots hold it as such.
 *
 * The op-code tables at the end say which record follows a header of each
 * type (FinalRequestProcessor.java and ClientCnxn's callers for requests
 * and replies, SerializeUtils.deserializeTxn for the log).
 */
#include <string.h>

#include "proto/jute.h"

/* Every field is on the wire from version 0 on (jute has no versions). */
#define FIELD(n, t) .name = (n), .type = (t), .min_version = 0, .max_version = PV_ANY
#define INT(n)                     \
	{                          \
		FIELD(n, PT_INT32) \
	}
#define LONG(n)                    \
	{                          \
		FIELD(n, PT_INT64) \
	}
#define BOOLEAN(n)                \
	{                         \
		FIELD(n, PT_BOOL) \
	}
#define BUFFER(n)                                    \
	{                                            \
		FIELD(n, PT_BYTES), .nullable = true \
	}
#define USTRING(n)                                   \
	{                                            \
		FIELD(n, PT_BYTES), .nullable = true \
	} /* UTF-8 bytes */
#define VECTOR(n, rec)                                              \
	{                                                           \
		FIELD(n, PT_ARRAY), .nullable = true, .sub = &(rec) \
	}
#define VECTOR_USTRING(n)                                  \
	{                                                  \
		FIELD(n, PT_ARRAY_BYTES), .nullable = true \
	}
#define NESTED(n, rec)                             \
	{                                          \
		FIELD(n, PT_STRUCT), .sub = &(rec) \
	}

#define RECORD(var, jname, ...)                                                               \
	static const struct pfield var##_fields[] = { __VA_ARGS__ };                          \
	const struct pschema var = { (jname), sizeof(var##_fields) / sizeof(var##_fields[0]), \
				     var##_fields, PV_NONE }

/* ---- org.apache.zookeeper.data ------------------------------------------ */

RECORD(jute_id, "Id", USTRING("scheme"), USTRING("id"));
RECORD(jute_acl, "ACL", INT("perms"), NESTED("id", jute_id));
RECORD(jute_stat, "Stat", LONG("czxid"), LONG("mzxid"), LONG("ctime"), LONG("mtime"),
       INT("version"), INT("cversion"), INT("aversion"), LONG("ephemeralOwner"), INT("dataLength"),
       INT("numChildren"), LONG("pzxid"));
RECORD(jute_stat_persisted, "StatPersisted", LONG("czxid"), LONG("mzxid"), LONG("ctime"),
       LONG("mtime"), INT("version"), INT("cversion"), INT("aversion"), LONG("ephemeralOwner"),
       LONG("pzxid"));
RECORD(jute_client_info, "ClientInfo", USTRING("authScheme"), USTRING("user"));

/* ---- org.apache.zookeeper.proto ----------------------------------------- */

RECORD(jute_connect_request, "ConnectRequest", INT("protocolVersion"), LONG("lastZxidSeen"),
       INT("timeOut"), LONG("sessionId"), BUFFER("passwd"));
RECORD(jute_connect_response, "ConnectResponse", INT("protocolVersion"), INT("timeOut"),
       LONG("sessionId"), BUFFER("passwd"));
RECORD(jute_set_watches, "SetWatches", LONG("relativeZxid"), VECTOR_USTRING("dataWatches"),
       VECTOR_USTRING("existWatches"), VECTOR_USTRING("childWatches"));
RECORD(jute_set_watches2, "SetWatches2", LONG("relativeZxid"), VECTOR_USTRING("dataWatches"),
       VECTOR_USTRING("existWatches"), VECTOR_USTRING("childWatches"),
       VECTOR_USTRING("persistentWatches"), VECTOR_USTRING("persistentRecursiveWatches"));
RECORD(jute_request_header, "RequestHeader", INT("xid"), INT("type"));
RECORD(jute_multi_header, "MultiHeader", INT("type"), BOOLEAN("done"), INT("err"));
RECORD(jute_auth_packet, "AuthPacket", INT("type"), USTRING("scheme"), BUFFER("auth"));
RECORD(jute_reply_header, "ReplyHeader", INT("xid"), LONG("zxid"), INT("err"));
RECORD(jute_get_data_request, "GetDataRequest", USTRING("path"), BOOLEAN("watch"));
RECORD(jute_set_data_request, "SetDataRequest", USTRING("path"), BUFFER("data"), INT("version"));
RECORD(jute_set_data_response, "SetDataResponse", NESTED("stat", jute_stat));
RECORD(jute_create_request, "CreateRequest", USTRING("path"), BUFFER("data"),
       VECTOR("acl", jute_acl), INT("flags"));
RECORD(jute_create_ttl_request, "CreateTTLRequest", USTRING("path"), BUFFER("data"),
       VECTOR("acl", jute_acl), INT("flags"), LONG("ttl"));
RECORD(jute_delete_request, "DeleteRequest", USTRING("path"), INT("version"));
RECORD(jute_get_children_request, "GetChildrenRequest", USTRING("path"), BOOLEAN("watch"));
RECORD(jute_get_all_children_number_request, "GetAllChildrenNumberRequest", USTRING("path"));
RECORD(jute_get_all_children_number_response, "GetAllChildrenNumberResponse", INT("totalNumber"));
RECORD(jute_get_children2_request, "GetChildren2Request", USTRING("path"), BOOLEAN("watch"));
RECORD(jute_check_version_request, "CheckVersionRequest", USTRING("path"), INT("version"));
RECORD(jute_sync_request, "SyncRequest", USTRING("path"));
RECORD(jute_sync_response, "SyncResponse", USTRING("path"));
RECORD(jute_get_acl_request, "GetACLRequest", USTRING("path"));
RECORD(jute_set_acl_request, "SetACLRequest", USTRING("path"), VECTOR("acl", jute_acl),
       INT("version"));
RECORD(jute_set_acl_response, "SetACLResponse", NESTED("stat", jute_stat));
RECORD(jute_add_watch_request, "AddWatchRequest", USTRING("path"), INT("mode"));
RECORD(jute_watcher_event, "WatcherEvent", INT("type"), INT("state"), USTRING("path"));
RECORD(jute_error_response, "ErrorResponse", INT("err"));
RECORD(jute_create_response, "CreateResponse", USTRING("path"));
RECORD(jute_create2_response, "Create2Response", USTRING("path"), NESTED("stat", jute_stat));
RECORD(jute_exists_request, "ExistsRequest", USTRING("path"), BOOLEAN("watch"));
RECORD(jute_exists_response, "ExistsResponse", NESTED("stat", jute_stat));
RECORD(jute_get_data_response, "GetDataResponse", BUFFER("data"), NESTED("stat", jute_stat));
RECORD(jute_get_children_response, "GetChildrenResponse", VECTOR_USTRING("children"));
RECORD(jute_get_children2_response, "GetChildren2Response", VECTOR_USTRING("children"),
       NESTED("stat", jute_stat));
RECORD(jute_get_acl_response, "GetACLResponse", VECTOR("acl", jute_acl), NESTED("stat", jute_stat));
RECORD(jute_check_watches_request, "CheckWatchesRequest", USTRING("path"), INT("type"));
RECORD(jute_remove_watches_request, "RemoveWatchesRequest", USTRING("path"), INT("type"));
RECORD(jute_get_ephemerals_request, "GetEphemeralsRequest", USTRING("prefixPath"));
RECORD(jute_get_ephemerals_response, "GetEphemeralsResponse", VECTOR_USTRING("ephemerals"));
RECORD(jute_who_am_i_response, "WhoAmIResponse", VECTOR("clientInfo", jute_client_info));

/* ---- org.apache.zookeeper.server.quorum and .persistence ----------------- */

RECORD(jute_learner_info, "LearnerInfo", LONG("serverid"), INT("protocolVersion"),
       LONG("configVersion"));
RECORD(jute_quorum_packet, "QuorumPacket", INT("type"), LONG("zxid"), BUFFER("data"),
       VECTOR("authinfo", jute_id));
RECORD(jute_file_header, "FileHeader", INT("magic"), INT("version"), LONG("dbid"));
RECORD(jute_data_node, "DataNode", BUFFER("data"), LONG("acl"),
       NESTED("stat", jute_stat_persisted));

/* ---- org.apache.zookeeper.txn ------------------------------------------- */

RECORD(jute_txn_digest, "TxnDigest", INT("version"), LONG("treeDigest"));
RECORD(jute_txn_header, "TxnHeader", LONG("clientId"), INT("cxid"), LONG("zxid"), LONG("time"),
       INT("type"));
RECORD(jute_create_txn_v0, "CreateTxnV0", USTRING("path"), BUFFER("data"), VECTOR("acl", jute_acl),
       BOOLEAN("ephemeral"));
RECORD(jute_create_txn, "CreateTxn", USTRING("path"), BUFFER("data"), VECTOR("acl", jute_acl),
       BOOLEAN("ephemeral"), INT("parentCVersion"));
RECORD(jute_create_ttl_txn, "CreateTTLTxn", USTRING("path"), BUFFER("data"),
       VECTOR("acl", jute_acl), INT("parentCVersion"), LONG("ttl"));
RECORD(jute_create_container_txn, "CreateContainerTxn", USTRING("path"), BUFFER("data"),
       VECTOR("acl", jute_acl), INT("parentCVersion"));
RECORD(jute_delete_txn, "DeleteTxn", USTRING("path"));
RECORD(jute_set_data_txn, "SetDataTxn", USTRING("path"), BUFFER("data"), INT("version"));
RECORD(jute_check_version_txn, "CheckVersionTxn", USTRING("path"), INT("version"));
RECORD(jute_set_acl_txn, "SetACLTxn", USTRING("path"), VECTOR("acl", jute_acl), INT("version"));
RECORD(jute_create_session_txn, "CreateSessionTxn", INT("timeOut"));
RECORD(jute_close_session_txn, "CloseSessionTxn", VECTOR_USTRING("paths2Delete"));
RECORD(jute_error_txn, "ErrorTxn", INT("err"));
RECORD(jute_txn, "Txn", INT("type"), BUFFER("data"));
RECORD(jute_multi_txn, "MultiTxn", VECTOR("txns", jute_txn));

static const struct pschema *const records[] = {
	&jute_id,
	&jute_acl,
	&jute_stat,
	&jute_stat_persisted,
	&jute_client_info,
	&jute_connect_request,
	&jute_connect_response,
	&jute_set_watches,
	&jute_set_watches2,
	&jute_request_header,
	&jute_multi_header,
	&jute_auth_packet,
	&jute_reply_header,
	&jute_get_data_request,
	&jute_set_data_request,
	&jute_set_data_response,
	&jute_create_request,
	&jute_create_ttl_request,
	&jute_delete_request,
	&jute_get_children_request,
	&jute_get_all_children_number_request,
	&jute_get_all_children_number_response,
	&jute_get_children2_request,
	&jute_check_version_request,
	&jute_sync_request,
	&jute_sync_response,
	&jute_get_acl_request,
	&jute_get_acl_response,
	&jute_set_acl_request,
	&jute_set_acl_response,
	&jute_add_watch_request,
	&jute_watcher_event,
	&jute_error_response,
	&jute_create_response,
	&jute_create2_response,
	&jute_exists_request,
	&jute_exists_response,
	&jute_get_data_response,
	&jute_get_children_response,
	&jute_get_children2_response,
	&jute_get_ephemerals_request,
	&jute_get_ephemerals_response,
	&jute_remove_watches_request,
	&jute_check_watches_request,
	&jute_who_am_i_response,
	&jute_txn_header,
	&jute_create_txn,
	&jute_create_txn_v0,
	&jute_create_ttl_txn,
	&jute_create_container_txn,
	&jute_delete_txn,
	&jute_set_data_txn,
	&jute_check_version_txn,
	&jute_set_acl_txn,
	&jute_create_session_txn,
	&jute_close_session_txn,
	&jute_error_txn,
	&jute_txn,
	&jute_multi_txn,
	&jute_txn_digest,
	&jute_file_header,
	&jute_data_node,
	&jute_quorum_packet,
	&jute_learner_info,
};

#define NRECORDS (sizeof(records) / sizeof(records[0]))

size_t
jute_record_count(void)
{
	return NRECORDS;
}

const struct pschema *
jute_record_at(size_t i)
{
	return i < NRECORDS ? records[i] : NULL;
}

const struct pschema *
jute_record(const char *name)
{
	for (size_t i = 0; i < NRECORDS; i++)
		if (strcmp(records[i]->name, name) == 0)
			return records[i];
	return NULL;
}

/* ---- op codes ------------------------------------------------------------ */

/*
 * Per op: ZooDefs.OpCode's name; the request body the server reads
 * (FinalRequestProcessor), the reply body it writes (NULL: ReplyHeader
 * alone), and the txn record that follows a TxnHeader of that type in
 * the log (SerializeUtils.deserializeTxn).  addWatch is answered with an
 * ErrorResponse{0}; reconfig and sasl are not handled by klab.
 */
static const struct op_desc {
	int32_t op;
	const char *name;
	const struct pschema *request, *response, *txn;
} ops[] = {
	{ JUTE_OP_NOTIFICATION, "notification", NULL, &jute_watcher_event, NULL },
	{ JUTE_OP_CREATE, "create", &jute_create_request, &jute_create_response, &jute_create_txn },
	{ JUTE_OP_DELETE, "delete", &jute_delete_request, NULL, &jute_delete_txn },
	{ JUTE_OP_EXISTS, "exists", &jute_exists_request, &jute_exists_response, NULL },
	{ JUTE_OP_GET_DATA, "getData", &jute_get_data_request, &jute_get_data_response, NULL },
	{ JUTE_OP_SET_DATA, "setData", &jute_set_data_request, &jute_set_data_response,
	  &jute_set_data_txn },
	{ JUTE_OP_GET_ACL, "getACL", &jute_get_acl_request, &jute_get_acl_response, NULL },
	{ JUTE_OP_SET_ACL, "setACL", &jute_set_acl_request, &jute_set_acl_response,
	  &jute_set_acl_txn },
	{ JUTE_OP_GET_CHILDREN, "getChildren", &jute_get_children_request,
	  &jute_get_children_response, NULL },
	{ JUTE_OP_SYNC, "sync", &jute_sync_request, &jute_sync_response, NULL },
	{ JUTE_OP_PING, "ping", NULL, NULL, NULL },
	{ JUTE_OP_GET_CHILDREN2, "getChildren2", &jute_get_children2_request,
	  &jute_get_children2_response, NULL },
	{ JUTE_OP_CHECK, "check", &jute_check_version_request, NULL, &jute_check_version_txn },
	{ JUTE_OP_MULTI, "multi", NULL, NULL, &jute_multi_txn },
	{ JUTE_OP_CREATE2, "create2", &jute_create_request, &jute_create2_response,
	  &jute_create_txn },
	{ JUTE_OP_RECONFIG, "reconfig", NULL, &jute_get_data_response, &jute_set_data_txn },
	{ JUTE_OP_CHECK_WATCHES, "checkWatches", &jute_check_watches_request, NULL, NULL },
	{ JUTE_OP_REMOVE_WATCHES, "removeWatches", &jute_remove_watches_request, NULL, NULL },
	{ JUTE_OP_CREATE_CONTAINER, "createContainer", &jute_create_request, &jute_create2_response,
	  &jute_create_container_txn },
	{ JUTE_OP_DELETE_CONTAINER, "deleteContainer", &jute_delete_request, NULL,
	  &jute_delete_txn },
	{ JUTE_OP_CREATE_TTL, "createTTL", &jute_create_ttl_request, &jute_create2_response,
	  &jute_create_ttl_txn },
	{ JUTE_OP_MULTI_READ, "multiRead", NULL, NULL, NULL },
	{ JUTE_OP_AUTH, "auth", &jute_auth_packet, NULL, NULL },
	{ JUTE_OP_SET_WATCHES, "setWatches", &jute_set_watches, NULL, NULL },
	{ JUTE_OP_SASL, "sasl", NULL, NULL, NULL },
	{ JUTE_OP_GET_EPHEMERALS, "getEphemerals", &jute_get_ephemerals_request,
	  &jute_get_ephemerals_response, NULL },
	{ JUTE_OP_GET_ALL_CHILDREN_NUMBER, "getAllChildrenNumber",
	  &jute_get_all_children_number_request, &jute_get_all_children_number_response, NULL },
	{ JUTE_OP_SET_WATCHES2, "setWatches2", &jute_set_watches2, NULL, NULL },
	{ JUTE_OP_ADD_WATCH, "addWatch", &jute_add_watch_request, &jute_error_response, NULL },
	{ JUTE_OP_WHO_AM_I, "whoAmI", NULL, &jute_who_am_i_response, NULL },
	{ JUTE_OP_CREATE_SESSION, "createSession", NULL, NULL, &jute_create_session_txn },
	{ JUTE_OP_CLOSE_SESSION, "closeSession", NULL, NULL, &jute_close_session_txn },
	{ JUTE_OP_ERROR, "error", NULL, &jute_error_response, &jute_error_txn },
};

static const struct op_desc *
op_find(int32_t op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return &ops[i];
	return NULL;
}

const char *
jute_op_name(int32_t op)
{
	const struct op_desc *d = op_find(op);

	return d != NULL ? d->name : NULL;
}

const struct pschema *
jute_op_request(int32_t op)
{
	const struct op_desc *d = op_find(op);

	return d != NULL ? d->request : NULL;
}

const struct pschema *
jute_op_response(int32_t op)
{
	const struct op_desc *d = op_find(op);

	return d != NULL ? d->response : NULL;
}

const struct pschema *
jute_op_txn(int32_t op)
{
	const struct op_desc *d = op_find(op);

	return d != NULL ? d->txn : NULL;
}

/* ---- error codes, events, states ---------------------------------------- */

struct code_name {
	int32_t code;
	const char *name;
};

static const struct code_name errs[] = {
	{ JUTE_OK, "OK" },
	{ JUTE_SYSTEMERROR, "SYSTEMERROR" },
	{ JUTE_RUNTIMEINCONSISTENCY, "RUNTIMEINCONSISTENCY" },
	{ JUTE_DATAINCONSISTENCY, "DATAINCONSISTENCY" },
	{ JUTE_CONNECTIONLOSS, "CONNECTIONLOSS" },
	{ JUTE_MARSHALLINGERROR, "MARSHALLINGERROR" },
	{ JUTE_UNIMPLEMENTED, "UNIMPLEMENTED" },
	{ JUTE_OPERATIONTIMEOUT, "OPERATIONTIMEOUT" },
	{ JUTE_BADARGUMENTS, "BADARGUMENTS" },
	{ JUTE_UNKNOWNSESSION, "UNKNOWNSESSION" },
	{ JUTE_NEWCONFIGNOQUORUM, "NEWCONFIGNOQUORUM" },
	{ JUTE_RECONFIGINPROGRESS, "RECONFIGINPROGRESS" },
	{ JUTE_APIERROR, "APIERROR" },
	{ JUTE_NONODE, "NONODE" },
	{ JUTE_NOAUTH, "NOAUTH" },
	{ JUTE_BADVERSION, "BADVERSION" },
	{ JUTE_NOCHILDRENFOREPHEMERALS, "NOCHILDRENFOREPHEMERALS" },
	{ JUTE_NODEEXISTS, "NODEEXISTS" },
	{ JUTE_NOTEMPTY, "NOTEMPTY" },
	{ JUTE_SESSIONEXPIRED, "SESSIONEXPIRED" },
	{ JUTE_INVALIDCALLBACK, "INVALIDCALLBACK" },
	{ JUTE_INVALIDACL, "INVALIDACL" },
	{ JUTE_AUTHFAILED, "AUTHFAILED" },
	{ JUTE_SESSIONMOVED, "SESSIONMOVED" },
	{ JUTE_NOTREADONLY, "NOTREADONLY" },
	{ JUTE_EPHEMERALONLOCALSESSION, "EPHEMERALONLOCALSESSION" },
	{ JUTE_NOWATCHER, "NOWATCHER" },
	{ JUTE_REQUESTTIMEOUT, "REQUESTTIMEOUT" },
	{ JUTE_RECONFIGDISABLED, "RECONFIGDISABLED" },
	{ JUTE_SESSIONCLOSEDREQUIRESASLAUTH, "SESSIONCLOSEDREQUIRESASLAUTH" },
	{ JUTE_QUOTAEXCEEDED, "QUOTAEXCEEDED" },
	{ JUTE_THROTTLEDOP, "THROTTLEDOP" },
};

static const struct code_name event_types[] = {
	{ JUTE_EVENT_NONE, "None" },
	{ JUTE_EVENT_NODE_CREATED, "NodeCreated" },
	{ JUTE_EVENT_NODE_DELETED, "NodeDeleted" },
	{ JUTE_EVENT_NODE_DATA_CHANGED, "NodeDataChanged" },
	{ JUTE_EVENT_NODE_CHILDREN_CHANGED, "NodeChildrenChanged" },
	{ JUTE_EVENT_DATA_WATCH_REMOVED, "DataWatchRemoved" },
	{ JUTE_EVENT_CHILD_WATCH_REMOVED, "ChildWatchRemoved" },
	{ JUTE_EVENT_PERSISTENT_WATCH_REMOVED, "PersistentWatchRemoved" },
};

static const struct code_name states[] = {
	{ JUTE_STATE_DISCONNECTED, "Disconnected" },
	{ JUTE_STATE_SYNC_CONNECTED, "SyncConnected" },
	{ JUTE_STATE_AUTH_FAILED, "AuthFailed" },
	{ JUTE_STATE_CONNECTED_READ_ONLY, "ConnectedReadOnly" },
	{ JUTE_STATE_SASL_AUTHENTICATED, "SaslAuthenticated" },
	{ JUTE_STATE_CLOSED, "Closed" },
	{ JUTE_STATE_EXPIRED, "Expired" },
};

static const char *
code_find(const struct code_name *t, size_t n, int32_t code, const char *dflt)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].name;
	return dflt;
}

#define CODE_FIND(t, code, dflt) code_find((t), sizeof(t) / sizeof((t)[0]), (code), (dflt))

const char *
jute_err_name(int32_t err)
{
	return CODE_FIND(errs, err, "UNKNOWN");
}

const char *
jute_event_type_name(int32_t type)
{
	return CODE_FIND(event_types, type, "Unknown");
}

const char *
jute_state_name(int32_t state)
{
	return CODE_FIND(states, state, "Unknown");
}
