/*
 * cluster.c - a static cluster of brokers (chapter 3, part 2).
 *
 * Every broker's configuration lists the whole cluster:
 *
 *   cluster.brokers=1@127.0.0.1:9092,2@127.0.0.1:9093,3@127.0.0.1:9094
 *
 * and that list never changes while the brokers run: static membership.
 * Metadata from any broker names every member; a topic's partitions are
 * spread over the members the way Kafka spreads them (cluster_place); the
 * broker that takes a CreateTopics or DeleteTopics from a client places
 * the topic, applies the change, and tells every other broker by sending
 * it the same request with the placement spelled out (CreateTopics'
 * manual `assignments`, which any Kafka client may send too).  A request
 * from another broker (client id "klab-broker-<id>") is applied and not
 * passed on.
 *
 * That is all the agreement there is.  A broker that is down or cut off
 * when a topic is created never hears of it: there is no log of changes
 * to catch up from, no one who knows who is alive, and two brokers can
 * create the same topic differently at the same time.  Chapter 3's lesson
 * shows the disagreement; chapter 4's coordinator is the cure.
 *
 * Links: a broker connects to a peer on first use and keeps the
 * connection.  Requests wait in the link's `pending` buffer until it is
 * up; when the connection fails or drops, what was pending or in flight
 * is dropped with a log line (the peer may or may not have applied an
 * in-flight one; nobody will ever know - another lesson).
 */
#include "broker/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- membership ------------------------------------------------------------- */

static int
member_cmp(const void *a, const void *b)
{
	const struct broker_member *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int
cluster_parse(const char *text, struct broker_member *members, int *n, struct kerr *e)
{
	const char *p = text;

	*n = 0;
	while (*p != '\0') {
		const char *end = strchr(p, ','), *at, *colon;
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char entry[BROKER_HOST_MAX + 32], *stop;
		struct broker_member *m = &members[*n];
		long id, port;

		if (len == 0 || len >= sizeof(entry))
			return kerr_set(e, KLAB_ECONFIG,
					"cluster.brokers=%s: an empty or overlong entry", text);
		memcpy(entry, p, len);
		entry[len] = '\0';
		at = strchr(entry, '@');
		colon = strrchr(entry, ':');
		if (*n == BROKER_MEMBERS_MAX)
			return kerr_set(e, KLAB_ECONFIG, "cluster.brokers: at most %d brokers",
					BROKER_MEMBERS_MAX);
		if (at == NULL || colon == NULL || colon < at || colon == at + 1)
			return kerr_set(e, KLAB_ECONFIG,
					"cluster.brokers: '%s' is not ID@HOST:PORT", entry);
		id = strtol(entry, &stop, 10);
		if (stop != at || stop == entry || id < 0 || id > INT32_MAX)
			return kerr_set(e, KLAB_ECONFIG, "cluster.brokers: '%s': bad broker id",
					entry);
		port = strtol(colon + 1, &stop, 10);
		if (*stop != '\0' || stop == colon + 1 || port < 1 || port > 65535)
			return kerr_set(e, KLAB_ECONFIG, "cluster.brokers: '%s': bad port", entry);
		m->id = (int32_t)id;
		snprintf(m->host, sizeof(m->host), "%.*s", (int)(colon - at - 1), at + 1);
		m->port = (int)port;
		for (int i = 0; i < *n; i++)
			if (members[i].id == m->id)
				return kerr_set(e, KLAB_ECONFIG,
						"cluster.brokers: broker id %d is listed twice",
						(int)m->id);
		(*n)++;
		p += len;
		if (*p == ',')
			p++;
	}
	qsort(members, (size_t)*n, sizeof(*members), member_cmp);
	return KLAB_OK;
}

int
cluster_ids(const struct broker *b, int32_t *ids)
{
	if (b->cfg.nmembers == 0) {
		ids[0] = b->cfg.broker_id;
		return 1;
	}
	for (int i = 0; i < b->cfg.nmembers; i++)
		ids[i] = b->cfg.members[i].id;
	return b->cfg.nmembers;
}

/* ---- placement (Kafka's AdminUtils.assignReplicasToBrokersRackUnaware) ----- */

/* Where the j-th follower of a partition led by brokers[first] goes. */
static int
follower_index(int first, int shift, int j, int n)
{
	return (first + 1 + (shift + j) % (n - 1)) % n;
}

int
cluster_place(const int32_t *ids, int n, int32_t partitions, int16_t rf, int start, int shift,
	      int32_t *out)
{
	if (n <= 0 || rf < 1 || rf > n || start < 0 || shift < 0)
		return KLAB_EINVAL;
	for (int32_t p = 0; p < partitions; p++) {
		int first = (int)((p + start) % n);

		if (p > 0 && p % n == 0)
			shift++; /* each round of n partitions moves the followers on by one */
		out[p * rf] = ids[first];
		for (int j = 0; j < rf - 1; j++)
			out[p * rf + 1 + j] = ids[follower_index(first, shift, j, n)];
	}
	return KLAB_OK;
}

/* ---- links to the other brokers -------------------------------------------- */

static int
link_of(const struct broker *b, conn_id c)
{
	for (int i = 0; i < b->cfg.nmembers; i++)
		if (b->links[i].conn == c && c != 0)
			return i;
	return -1;
}

bool
cluster_is_link(const struct broker *b, conn_id c)
{
	return link_of(b, c) >= 0;
}

bool
cluster_from_peer(const struct proto_request_header *h)
{
	size_t n = sizeof(BROKER_PEER_CLIENT_ID) - 1;

	return h->client_id != NULL && (size_t)h->client_id_len > n &&
	       memcmp(h->client_id, BROKER_PEER_CLIENT_ID, n) == 0;
}

/* Drop what a link held (its connection failed or closed). */
static void
link_reset(struct broker *b, int i, const char *why)
{
	struct broker_link *l = &b->links[i];
	int dropped = l->ninflight;

	for (size_t pos = 0; pos + 4 <= l->pending.len; dropped++)
		pos += 4 + be32_read(l->pending.data + pos);
	if (dropped > 0)
		broker_log(b,
			   "broker %d: link to broker %d %s: %d request%s to it lost (it will "
			   "not hear of those changes)",
			   b->cfg.broker_id, b->cfg.members[i].id, why, dropped,
			   dropped == 1 ? "" : "s");
	l->lost += (uint64_t)dropped;
	l->conn = 0;
	l->up = false;
	l->ninflight = 0;
	buf_reset(&l->pending);
}

/* Send what waits on an up link, as long as there is room in flight. */
static void
link_flush(struct broker *b, int i)
{
	struct broker_link *l = &b->links[i];
	struct rt *rt = b->node->rt;
	size_t pos = 0;

	while (l->up && pos + 4 <= l->pending.len && l->ninflight < BROKER_PEER_INFLIGHT) {
		size_t len = 4 + be32_read(l->pending.data + pos);
		const uint8_t *f = l->pending.data + pos;

		l->inflight[l->ninflight].api_key = (int16_t)be16_read(f + 4);
		l->inflight[l->ninflight].version = (int16_t)be16_read(f + 6);
		if (rt->ops->send(rt, l->conn, f, len) != KLAB_OK)
			break;
		l->ninflight++;
		pos += len;
	}
	memmove(l->pending.data, l->pending.data + pos, l->pending.len - pos);
	l->pending.len -= pos;
}

void
cluster_tell_peers(struct broker *b, int16_t api_key, int16_t version, const struct pvalue *body)
{
	char client_id[32];
	struct proto_request_header h = { .api_key = api_key, .api_version = version };

	snprintf(client_id, sizeof(client_id), BROKER_PEER_CLIENT_ID "%d", (int)b->cfg.broker_id);
	h.client_id = (const uint8_t *)client_id;
	h.client_id_len = (int16_t)strlen(client_id);
	for (int i = 0; i < b->cfg.nmembers; i++) {
		const struct broker_member *m = &b->cfg.members[i];
		struct broker_link *l = &b->links[i];

		if (m->id == b->cfg.broker_id)
			continue;
		h.correlation_id = ++b->peer_corr;
		if (proto_request_encode(&h, body, &l->pending) != KLAB_OK) {
			broker_log(b, "broker %d: cannot encode a request for broker %d",
				   b->cfg.broker_id, m->id);
			continue;
		}
		if (l->conn == 0)
			l->conn = b->node->rt->ops->connect(b->node->rt, m->host, m->port);
		if (l->conn == 0)
			link_reset(b, i, "cannot be opened");
		else
			link_flush(b, i);
	}
}

void
cluster_connected(struct broker *b, conn_id c, bool ok)
{
	int i = link_of(b, c);

	if (i < 0)
		return;
	if (!ok) {
		link_reset(b, i, "could not connect");
		return;
	}
	b->links[i].up = true;
	link_flush(b, i);
}

/* The names and errors of a CreateTopics or DeleteTopics response, logged. */
static void
log_peer_answer(struct broker *b, int32_t peer, const struct pvalue *resp, const char *array)
{
	const struct pvalue *ts = pvalue_array(resp, array);

	for (int32_t k = 0; k < pvalue_count(ts); k++) {
		const struct pvalue *t = pvalue_at(ts, k);
		int64_t err = pvalue_get_int(t, "error_code");
		int32_t len;
		const uint8_t *name = pvalue_get_bytes(t, "name", &len);

		if (err != KERR_NONE)
			broker_log(b, "broker %d: broker %d refused the change to topic '%.*s': %s",
				   b->cfg.broker_id, peer, name ? (int)len : 0,
				   name ? (const char *)name : "", kafka_error_name((int16_t)err));
	}
}

void
cluster_frame(struct broker *b, conn_id c, const uint8_t *frame, size_t len)
{
	int i = link_of(b, c);
	struct broker_link *l;
	const struct api_desc *api;
	struct pvalue *resp = NULL;
	int16_t key, version;

	if (i < 0)
		return;
	l = &b->links[i];
	if (l->ninflight == 0 || len < 8) {
		broker_log(b, "broker %d: an unexpected frame from broker %d", b->cfg.broker_id,
			   b->cfg.members[i].id);
		return;
	}
	key = l->inflight[0].api_key;
	version = l->inflight[0].version;
	memmove(&l->inflight[0], &l->inflight[1],
		(size_t)(--l->ninflight) * sizeof(l->inflight[0]));
	api = proto_api(key);
	if (api != NULL &&
	    proto_decode(api->response, version, frame + 8, len - 8, &resp) == KLAB_OK)
		log_peer_answer(b, b->cfg.members[i].id, resp,
				key == KAPI_CREATE_TOPICS ? "topics" : "responses");
	else
		broker_log(b, "broker %d: a malformed answer from broker %d", b->cfg.broker_id,
			   b->cfg.members[i].id);
	pvalue_free(resp);
	link_flush(b, i);
}

void
cluster_closed(struct broker *b, conn_id c)
{
	int i = link_of(b, c);

	if (i >= 0)
		link_reset(b, i, "closed");
}

void
cluster_free(struct broker *b)
{
	for (int i = 0; i < BROKER_MEMBERS_MAX; i++) {
		buf_free(&b->links[i].pending);
		b->links[i].conn = 0;
		b->links[i].up = false;
		b->links[i].ninflight = 0;
	}
}
