/*
 * session.h - ZooKeeper sessions as pure logic: ids, passwords, timeout
 * negotiation, expiry (apache/zookeeper 3.8: server/SessionTrackerImpl,
 * server/ZooKeeperServer, ClientCnxn).  No sockets, no clock of its own:
 * every call that needs the time takes now_ms from the caller.
 *
 * A session is what outlives a TCP connection.  A client connects with
 * session id 0 and is given an id, a 16-byte password and a negotiated
 * timeout; if its connection breaks it connects again (perhaps to another
 * server) with the id and password, and carries on with its ephemeral
 * nodes and watches intact - unless the server heard nothing from it for
 * the timeout, in which case the session expired and the re-attach is
 * answered with a ConnectResponse of timeout 0, session id 0 and 16 zero
 * bytes of password (ZooKeeperServer.finishSessionInit, valid = false),
 * after which the server closes the connection.
 *
 * Session states (SessionTrackerImpl.SessionImpl.isClosing):
 *
 *            zk_sessions_create / zk_sessions_track
 *   (none) ------------------------------------------> OPEN
 *   OPEN --zk_sessions_touch--> OPEN          (moves it to a later bucket)
 *   OPEN --zk_sessions_expire (its bucket is due)--> CLOSING
 *   OPEN --zk_sessions_set_closing (closeSession request)--> CLOSING
 *   CLOSING --zk_sessions_touch--> refused (false): a closing session is
 *            never revived, so a late ping cannot undo an expiry
 *   OPEN/CLOSING --zk_sessions_remove (closeSession txn applied)--> (none)
 *
 * Expiry does not remove a session: ZooKeeper marks it closing and
 * submits a closeSession request, whose transaction deletes the session's
 * ephemerals and then calls removeSession.  klab's caller does the same
 * with the ids zk_sessions_expire returns.
 *
 * Session ids (initializeNextSessionId): the high byte is the server id,
 * the next five bytes the server's clock in ms when the tracker started,
 * the low two bytes 0; each new session takes the next id up:
 *
 *   id0 = ((now_ms << 24) >>> 8) | (server_id << 56)
 *
 * with Java's unsigned >>> (ZOOKEEPER-1622: with >> the time's top bit
 * would smear ones into the server id's byte).  The << 24 drops the
 * clock's top 24 bits, the >>> 8 makes room for the server id.  The clock
 * is Time.currentElapsedTime() (System.nanoTime() / 1000000, not the wall
 * clock); the server id is the quorum member's myid, and 1 for a
 * standalone server (ZooKeeperServer.createSessionTrackerServerId).
 *
 * Passwords (generatePasswd): new java.util.Random(id ^ 0xB3415C00)
 * .nextBytes(16 bytes) - a checksum of the id, not a secret ("treated
 * internally as if it carries no security weight").  zk_jrandom_* is
 * java.util.Random's generator, bit for bit.
 */
#ifndef KLAB_COORD_SESSION_H
#define KLAB_COORD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord/expiry.h"

#define ZK_PASSWD_LEN 16	      /* generatePasswd: new byte[16] */
#define ZK_SUPER_SECRET 0xB3415C00LL  /* ZooKeeperServer.superSecret */
#define ZK_TICK_MS_DEFAULT 3000	      /* ZooKeeperServer.DEFAULT_TICK_TIME */
#define ZK_CONTAINER_OWNER INT64_MIN  /* EphemeralType.CONTAINER_EPHEMERAL_OWNER */
#define ZK_PING_INTERVAL_MAX_MS 10000 /* ClientCnxn MAX_SEND_PING_INTERVAL */
#define ZK_SESSIONS_MAX 4096	      /* klab's bound on sessions per server */

/* ---- java.util.Random ------------------------------------------------ */

struct zk_jrandom {
	uint64_t seed; /* 48 bits */
};

/* new Random(seed): seed scrambled with 0x5DEECE66D, kept to 48 bits. */
void zk_jrandom_init(struct zk_jrandom *r, int64_t seed);
/* next(bits): one LCG step, the top `bits` of the 48 (1..32). */
int32_t zk_jrandom_next(struct zk_jrandom *r, int bits);
/* nextInt() = next(32). */
int32_t zk_jrandom_next_int(struct zk_jrandom *r);
/* nextBytes: one nextInt() per 4 bytes, its low byte first. */
void zk_jrandom_next_bytes(struct zk_jrandom *r, uint8_t *out, size_t len);

/* ---- ids and passwords ------------------------------------------------ */

/* initializeNextSessionId(server_id) at now_ms (server_id 0..255). */
int64_t zk_session_initial_id(int64_t now_ms, int64_t server_id);
/* generatePasswd(id). */
void zk_session_passwd(int64_t id, uint8_t out[ZK_PASSWD_LEN]);
/* checkPasswd: id != 0 and passwd equals generatePasswd(id), length too. */
bool zk_session_check_passwd(int64_t id, const uint8_t *passwd, size_t len);

/* ---- timeout negotiation (processConnectRequest) ---------------------- */

struct zk_timeouts {
	int32_t tick_ms;
	int32_t min_ms; /* minSessionTimeout: default 2 x tick */
	int32_t max_ms; /* maxSessionTimeout: default 20 x tick */
};

/*
 * setMinSessionTimeout/setMaxSessionTimeout: -1 means the default.
 * KLAB_ECONFIG unless 0 < tick, 0 < min <= max (so negotiation never
 * yields a timeout <= 0, which a client reads as "expired").
 */
int zk_timeouts_init(struct zk_timeouts *t, int32_t tick_ms, int32_t min_ms, int32_t max_ms);
/* The requested timeout raised to min, then lowered to max (in that order). */
int32_t zk_timeouts_negotiate(const struct zk_timeouts *t, int32_t requested_ms);

/* ---- the tracker (SessionTrackerImpl) --------------------------------- */

struct zk_session {
	int64_t id;
	int32_t timeout_ms; /* as created or restored; SessionImpl.timeout */
	bool closing;	    /* SessionImpl.isClosing */
};

struct zk_sessions {
	struct zk_session *s; /* unordered, n of cap used */
	size_t n, cap;
	int64_t next_id;	   /* the id createSession hands out next */
	struct expiry_queue queue; /* one entry per session in s */
	int64_t *polled;	   /* cap ids: zk_sessions_expire's scratch */
};

/*
 * A tracker for at most max_sessions sessions (0: ZK_SESSIONS_MAX), of
 * server server_id (0..255), with a tick of tick_ms, started at now_ms.
 * Returns KLAB_OK, KLAB_EINVAL or KLAB_ENOMEM.
 */
int zk_sessions_init(struct zk_sessions *t, int64_t server_id, int32_t tick_ms, size_t max_sessions,
		     int64_t now_ms);
void zk_sessions_free(struct zk_sessions *t);

/* createSession: a new id, tracked and due at now + timeout.  KLAB_EFULL. */
int zk_sessions_create(struct zk_sessions *t, int32_t timeout_ms, int64_t now_ms, int64_t *id);

/*
 * trackSession: add a session with a known id (restored from a snapshot
 * or log, or created on another server), or, if present, only refresh its
 * expiry.  *added (may be NULL) says which.  KLAB_EFULL.
 */
int zk_sessions_track(struct zk_sessions *t, int64_t id, int32_t timeout_ms, int64_t now_ms,
		      bool *added);

/*
 * touchSession: push the session's expiry to now + timeout_ms (the
 * connection's negotiated timeout).  False - and nothing changes - when
 * the session is unknown or closing.
 */
bool zk_sessions_touch(struct zk_sessions *t, int64_t id, int32_t timeout_ms, int64_t now_ms);

/* setSessionClosing; nothing when unknown. */
void zk_sessions_set_closing(struct zk_sessions *t, int64_t id);
/* removeSession; nothing when unknown. */
void zk_sessions_remove(struct zk_sessions *t, int64_t id);

/* The session, or NULL. */
const struct zk_session *zk_sessions_get(const struct zk_sessions *t, int64_t id);

/* Milliseconds until the next bucket is due (0: call zk_sessions_expire). */
int64_t zk_sessions_wait_ms(struct zk_sessions *t, int64_t now_ms);

/*
 * One turn of SessionTrackerImpl.run: poll the due bucket, mark each of
 * its sessions closing and write their ids (ascending) to out, which has
 * room for cap >= the tracker's capacity.  Returns how many.  The caller
 * closes each session, then zk_sessions_remove()s it.
 */
size_t zk_sessions_expire(struct zk_sessions *t, int64_t now_ms, int64_t *out, size_t cap);

/* The sessions for a snapshot: (id, timeout), ascending by id.  Returns n. */
size_t zk_sessions_list(const struct zk_sessions *t, struct zk_session *out, size_t cap);

/* ---- connecting (processConnectRequest, reopenSession) ------------------ */

struct zk_connect_reply {
	int32_t timeout_ms;	       /* 0 when refused */
	int64_t session_id;	       /* 0 when refused */
	uint8_t passwd[ZK_PASSWD_LEN]; /* zeros when refused */
};

/*
 * A ConnectRequest's session part.  session_id 0: a new session with the
 * negotiated timeout (KLAB_OK, or KLAB_EFULL).  Otherwise a re-attach:
 * the password must check (checkPasswd) and the session be open
 * (touchSession, which re-arms it with the newly negotiated timeout);
 * then KLAB_OK, else KLAB_ENOTFOUND with the refusal reply above.  The
 * reply carries the negotiated timeout, not the one the session was
 * created with, as ZooKeeper's does (cnxn.getSessionTimeout()).
 */
int zk_sessions_connect(struct zk_sessions *t, const struct zk_timeouts *to, int64_t session_id,
			const uint8_t *passwd, size_t passwd_len, int32_t requested_ms,
			int64_t now_ms, struct zk_connect_reply *reply);

/* ---- the client's clock (ClientCnxn) --------------------------------------- */

/* readTimeout = negotiated * 2 / 3: silence longer than this drops the connection. */
int32_t zk_client_read_timeout(int32_t negotiated_ms);
/* connectTimeout = session timeout / number of hosts. */
int32_t zk_client_connect_timeout(int32_t session_ms, int nhosts);
/*
 * timeToNextPing = readTimeout / 2 - idleSend - (idleSend > 1000 ? 1000 : 0);
 * ping when it is <= 0 or idleSend > ZK_PING_INTERVAL_MAX_MS.
 */
int32_t zk_client_time_to_ping(int32_t read_timeout_ms, int32_t idle_send_ms);
bool zk_client_should_ping(int32_t read_timeout_ms, int32_t idle_send_ms);

/* Numbered invariants of session.c; KLAB_OK or KLAB_ECORRUPT with *why set. */
int zk_sessions_check_invariants(const struct zk_sessions *t, const char **why);

#endif
