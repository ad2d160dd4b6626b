/*
 * session.c - ZooKeeper's session tracker, session ids and passwords, the
 * connect handshake's session rules and the client's timers (see
 * session.h for the states and the formats).
 *
 * Sources, apache/zookeeper 3.8 (zookeeper-server/src/main/java/org/
 * apache/zookeeper/):
 *   server/SessionTrackerImpl.java  initializeNextSessionId, createSession,
 *       trackSession, touchSession, setSessionClosing, removeSession, run
 *   server/ZooKeeperServer.java     superSecret, generatePasswd, checkPasswd,
 *       processConnectRequest, reopenSession, revalidateSession,
 *       finishSessionInit, setMinSessionTimeout, setMaxSessionTimeout
 *   ClientCnxn.java                 the constructor and onConnected
 *       (readTimeout, connectTimeout), SendThread.run (when to ping)
 *   java.util.Random                setSeed, next, nextInt, nextBytes
 *
 * Sessions sit in a flat array (bounded by the tracker's capacity) and
 * are found by a scan, as in expiry.c; the expiry queue holds one entry
 * per session, keyed by its id.
 *
 * Invariants (zk_sessions_check_invariants):
 *   1. n <= cap; ids are distinct and never 0 (0 asks for a new session).
 *   2. every open (not closing) session has an entry in the expiry queue,
 *      and every entry there is a session: a closing one may have left it
 *      (polled) and a touch never puts it back.
 *   3. every timeout is > 0.
 *   4. the expiry queue's own invariants hold (expiry.c).
 */
#include "coord/session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"

/* ---- java.util.Random ---------------------------------------------------------- */

#define JR_MULT 0x5DEECE66DULL
#define JR_ADD 0xBULL
#define JR_MASK ((1ULL << 48) - 1)

void
zk_jrandom_init(struct zk_jrandom *r, int64_t seed)
{
	r->seed = ((uint64_t)seed ^ JR_MULT) & JR_MASK; /* Random.initialScramble */
}

int32_t
zk_jrandom_next(struct zk_jrandom *r, int bits)
{
	assert(bits >= 1 && bits <= 32);
	r->seed = (r->seed * JR_MULT + JR_ADD) & JR_MASK;
	/* (int)(seed >>> (48 - bits)): the low 32 bits, as two's complement */
	return (int32_t)(uint32_t)(r->seed >> (48 - bits));
}

int32_t
zk_jrandom_next_int(struct zk_jrandom *r)
{
	return zk_jrandom_next(r, 32);
}

void
zk_jrandom_next_bytes(struct zk_jrandom *r, uint8_t *out, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t rnd = (uint32_t)zk_jrandom_next_int(r);

		for (int k = 0; k < 4 && i < len; k++, rnd >>= 8)
			out[i++] = (uint8_t)rnd; /* (byte)rnd, low byte first */
	}
}

/* ---- ids and passwords ------------------------------------------------------------ */

int64_t
zk_session_initial_id(int64_t now_ms, int64_t server_id)
{
	uint64_t id;

	KLAB_ASSERT(server_id >= 0 && server_id <= 255, "server id %lld is not one byte",
		    (long long)server_id);
	id = ((uint64_t)now_ms << 24) >> 8; /* Java's >>> is C's >> on unsigned */
	id |= (uint64_t)server_id << 56;
	if ((int64_t)id == ZK_CONTAINER_OWNER)
		id++; /* that id marks container nodes' ephemeralOwner */
	return (int64_t)id;
}

void
zk_session_passwd(int64_t id, uint8_t out[ZK_PASSWD_LEN])
{
	struct zk_jrandom r;

	zk_jrandom_init(&r, id ^ ZK_SUPER_SECRET);
	zk_jrandom_next_bytes(&r, out, ZK_PASSWD_LEN);
}

bool
zk_session_check_passwd(int64_t id, const uint8_t *passwd, size_t len)
{
	uint8_t want[ZK_PASSWD_LEN];

	if (id == 0 || passwd == NULL || len != ZK_PASSWD_LEN)
		return false; /* Arrays.equals compares lengths first */
	zk_session_passwd(id, want);
	return memcmp(want, passwd, ZK_PASSWD_LEN) == 0;
}

/* ---- timeout negotiation -------------------------------------------------------- */

int
zk_timeouts_init(struct zk_timeouts *t, int32_t tick_ms, int32_t min_ms, int32_t max_ms)
{
	if (tick_ms <= 0 || tick_ms > INT32_MAX / 20)
		return KLAB_ECONFIG;
	t->tick_ms = tick_ms;
	t->min_ms = min_ms == -1 ? tick_ms * 2 : min_ms;
	t->max_ms = max_ms == -1 ? tick_ms * 20 : max_ms;
	if (t->min_ms <= 0 || t->min_ms > t->max_ms)
		return KLAB_ECONFIG; /* klab's rule: every negotiated timeout is > 0 */
	return KLAB_OK;
}

int32_t
zk_timeouts_negotiate(const struct zk_timeouts *t, int32_t requested_ms)
{
	int32_t v = requested_ms;

	if (v < t->min_ms)
		v = t->min_ms;
	if (v > t->max_ms)
		v = t->max_ms; /* checked second: with min > max, max wins */
	return v;
}

/* ---- the tracker -------------------------------------------------------------------- */

int
zk_sessions_init(struct zk_sessions *t, int64_t server_id, int32_t tick_ms, size_t max_sessions,
		 int64_t now_ms)
{
	int rc;

	memset(t, 0, sizeof(*t));
	if (server_id < 0 || server_id > 255 || tick_ms <= 0 || now_ms < 0)
		return KLAB_EINVAL;
	t->cap = max_sessions == 0 ? ZK_SESSIONS_MAX : max_sessions;
	rc = expiry_init(&t->queue, tick_ms, t->cap, now_ms);
	if (rc != KLAB_OK)
		return rc;
	t->s = calloc(t->cap, sizeof(*t->s));
	t->polled = calloc(t->cap, sizeof(*t->polled));
	if (t->s == NULL || t->polled == NULL) {
		zk_sessions_free(t);
		return KLAB_ENOMEM;
	}
	t->next_id = zk_session_initial_id(now_ms, server_id);
	return KLAB_OK;
}

void
zk_sessions_free(struct zk_sessions *t)
{
	expiry_free(&t->queue);
	free(t->s);
	free(t->polled);
	memset(t, 0, sizeof(*t));
}

static struct zk_session *
find(const struct zk_sessions *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].id == id)
			return &t->s[i];
	return NULL;
}

const struct zk_session *
zk_sessions_get(const struct zk_sessions *t, int64_t id)
{
	return find(t, id);
}

int
zk_sessions_track(struct zk_sessions *t, int64_t id, int32_t timeout_ms, int64_t now_ms,
		  bool *added)
{
	struct zk_session *s = find(t, id);

	KLAB_ASSERT(id != 0 && timeout_ms > 0, "session 0x%llx with a timeout of %d ms",
		    (unsigned long long)id, (int)timeout_ms);
	if (added != NULL)
		*added = s == NULL;
	if (s == NULL) {
		if (t->n == t->cap)
			return KLAB_EFULL;
		s = &t->s[t->n++];
		*s = (struct zk_session){ .id = id, .timeout_ms = timeout_ms };
	}
	/* Both arrays have room for cap ids, so this cannot be full. */
	return expiry_update(&t->queue, id, now_ms, timeout_ms, NULL);
}

int
zk_sessions_create(struct zk_sessions *t, int32_t timeout_ms, int64_t now_ms, int64_t *id)
{
	int rc;

	if (t->n == t->cap)
		return KLAB_EFULL; /* before taking an id: a refusal uses none up */
	rc = zk_sessions_track(t, t->next_id, timeout_ms, now_ms, NULL);
	if (rc != KLAB_OK)
		return rc;
	*id = t->next_id++; /* nextSessionId.getAndIncrement() */
	return KLAB_OK;
}

bool
zk_sessions_touch(struct zk_sessions *t, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
	struct zk_session *s = find(t, id);
	int rc;

	if (s == NULL || s->closing)
		return false;
	rc = expiry_update(&t->queue, id, now_ms, timeout_ms, NULL);
	KLAB_ASSERT(rc == KLAB_OK, "session 0x%llx is tracked but not in the expiry queue",
		    (unsigned long long)id);
	return true;
}

void
zk_sessions_set_closing(struct zk_sessions *t, int64_t id)
{
	struct zk_session *s = find(t, id);

	if (s != NULL)
		s->closing = true;
}

void
zk_sessions_remove(struct zk_sessions *t, int64_t id)
{
	struct zk_session *s = find(t, id);

	if (s == NULL)
		return;
	*s = t->s[--t->n];
	expiry_remove(&t->queue, id);
}

int64_t
zk_sessions_wait_ms(struct zk_sessions *t, int64_t now_ms)
{
	return expiry_wait_ms(&t->queue, now_ms);
}

size_t
zk_sessions_expire(struct zk_sessions *t, int64_t now_ms, int64_t *out, size_t cap)
{
	size_t k;

	KLAB_ASSERT(cap >= t->cap, "an expiry buffer of %zu for %zu sessions", cap, t->cap);
	k = expiry_poll(&t->queue, now_ms, out, cap);
	for (size_t i = 0; i < k; i++)
		zk_sessions_set_closing(t, out[i]);
	return k;
}

static int
cmp_session(const void *a, const void *b)
{
	int64_t x = ((const struct zk_session *)a)->id, y = ((const struct zk_session *)b)->id;

	return (x > y) - (x < y);
}

size_t
zk_sessions_list(const struct zk_sessions *t, struct zk_session *out, size_t cap)
{
	KLAB_ASSERT(cap >= t->n, "a list of %zu for %zu sessions", cap, t->n);
	memcpy(out, t->s, t->n * sizeof(*out));
	qsort(out, t->n, sizeof(*out), cmp_session);
	return t->n;
}

/* ---- connecting ------------------------------------------------------------------- */

int
zk_sessions_connect(struct zk_sessions *t, const struct zk_timeouts *to, int64_t session_id,
		    const uint8_t *passwd, size_t passwd_len, int32_t requested_ms, int64_t now_ms,
		    struct zk_connect_reply *reply)
{
	int32_t timeout = zk_timeouts_negotiate(to, requested_ms);
	int64_t id = session_id;
	int rc = KLAB_OK;

	memset(reply, 0, sizeof(*reply)); /* the refusal: 0, 0, 16 zero bytes */
	if (session_id == 0)
		rc = zk_sessions_create(t, timeout, now_ms, &id);
	else if (!zk_session_check_passwd(session_id, passwd, passwd_len) ||
		 !zk_sessions_touch(t, session_id, timeout, now_ms))
		rc = KLAB_ENOTFOUND;
	if (rc != KLAB_OK)
		return rc;
	reply->timeout_ms = timeout;
	reply->session_id = id;
	zk_session_passwd(id, reply->passwd);
	return KLAB_OK;
}

/* ---- the client's clock ------------------------------------------------------------ */

int32_t
zk_client_read_timeout(int32_t negotiated_ms)
{
	return (int32_t)((int64_t)negotiated_ms * 2 / 3);
}

int32_t
zk_client_connect_timeout(int32_t session_ms, int nhosts)
{
	assert(nhosts > 0);
	return session_ms / nhosts;
}

int32_t
zk_client_time_to_ping(int32_t read_timeout_ms, int32_t idle_send_ms)
{
	/* The extra second keeps a second ping from being missed in a race. */
	return read_timeout_ms / 2 - idle_send_ms - (idle_send_ms > 1000 ? 1000 : 0);
}

bool
zk_client_should_ping(int32_t read_timeout_ms, int32_t idle_send_ms)
{
	return zk_client_time_to_ping(read_timeout_ms, idle_send_ms) <= 0 ||
	       idle_send_ms > ZK_PING_INTERVAL_MAX_MS;
}

/* ---- invariants ---------------------------------------------------------------------- */

int
zk_sessions_check_invariants(const struct zk_sessions *t, const char **why)
{
	const char *w = NULL;

	if (t->n > t->cap)
		w = "1: more sessions than room";
	for (size_t i = 0; w == NULL && i < t->queue.n; i++)
		if (find(t, t->queue.e[i].id) == NULL)
			w = "2: the expiry queue holds an id that is no session";
	for (size_t i = 0; w == NULL && i < t->n; i++) {
		if (t->s[i].id == 0)
			w = "1: a session with id 0";
		else if (!t->s[i].closing && expiry_get(&t->queue, t->s[i].id) < 0)
			w = "2: an open session missing from the expiry queue";
		else if (t->s[i].timeout_ms <= 0)
			w = "3: a session with a timeout <= 0";
		for (size_t j = i + 1; w == NULL && j < t->n; j++)
			if (t->s[i].id == t->s[j].id)
				w = "1: an id appears twice";
	}
	if (w == NULL && expiry_check_invariants(&t->queue, &w) != KLAB_OK)
		w = w != NULL ? w : "4: the expiry queue";
	if (why != NULL)
		*why = w;
	return w == NULL ? KLAB_OK : KLAB_ECORRUPT;
}
