/*
 * cluster.c - a static cluster of brokers (chapter 3, part 2), the
 * broker's first metadata source (metadata.h: cluster_metadata_ops).
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
 * Topic ids (KIP-516) travel the same way.  Kafka's CreateTopics request
 * has no field for one (its controller draws it and tells the brokers in
 * LeaderAndIsr), so the broker that draws a topic's id passes it on as a
 * config entry of its own, klab.topic.id=<id> (BROKER_PEER_TOPIC_ID_CONFIG),
 * which a broker takes only from a peer.  Every broker that hears of the
 * topic records the same id; one that never hears of it has none, and a
 * topic two brokers create at the same time gets two ids - the same
 * disagreement as its placement.  A topic from a klab older than topic
 * ids is given one by each broker at its start, independently: those ids
 * differ between brokers (a limitation of the static cluster; chapter 4's
 * coordinator keeps one id per topic, as Kafka's /brokers/topics znode).
 *
 * That is all the agreement there is.  A broker that is down or cut off
 * when a topic is created never hears of it: there is no log of changes
 * to catch up from, no one who knows who is alive, and two brokers can
 * create the same topic differently at the same time.  Chapter 3's lesson
 * shows the disagreement; chapter 4's coordinator is the cure.
 *
 * The broker asks all of this through the ops of metadata.h and never
 * calls in here directly: who the members are (static_brokers), where a
 * partition lives (its own topic store, which holds every topic's
 * placement), and how a change reaches the others (static_create_topic,
 * static_delete_topics).  Chapter 5 puts the coordinator-backed
 * controller behind the same ops.
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

/* This broker's cluster ids, sorted (just its own id without a cluster list). */
static int
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

/*
 * The versions brokers tell each other topic changes in: the last
 * non-flexible ones, whose requests name their topics in topic_names
 * (DeleteTopics v6 names them by name or id in another array).
 */
#define PEER_CREATE_TOPICS_VERSION 4
#define PEER_DELETE_TOPICS_VERSION 3

/*
 * Send a request to every other broker (client id klab-broker-<id>), once:
 * a broker that cannot be reached does not get it later.  Static
 * membership has no log of changes to replay; chapter 4's coordinator has.
 */
static void
tell_peers(struct broker *b, int16_t api_key, int16_t version, const struct pvalue *body)
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

static bool
static_connected(struct metadata_source *m, conn_id c, bool ok)
{
	struct broker *b = m->b;
	int i = link_of(b, c);

	if (i < 0)
		return false;
	if (!ok) {
		link_reset(b, i, "could not connect");
		return true;
	}
	b->links[i].up = true;
	link_flush(b, i);
	return true;
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

/* An answer from another broker to a change this one passed on. */
static bool
static_frame(struct metadata_source *m, conn_id c, const uint8_t *frame, size_t len)
{
	struct broker *b = m->b;
	int i = link_of(b, c);
	struct broker_link *l;
	const struct api_desc *api;
	struct pvalue *resp = NULL;
	int16_t key, version;
	struct cursor body;
	int32_t corr;

	if (i < 0)
		return false;
	l = &b->links[i];
	if (l->ninflight == 0 || len < 8) {
		broker_log(b, "broker %d: an unexpected frame from broker %d", b->cfg.broker_id,
			   b->cfg.members[i].id);
		return true;
	}
	key = l->inflight[0].api_key;
	version = l->inflight[0].version;
	memmove(&l->inflight[0], &l->inflight[1],
		(size_t)(--l->ninflight) * sizeof(l->inflight[0]));
	api = proto_api(key);
	if (api != NULL &&
	    proto_response_header_parse(key, version, frame + 4, len - 4, &corr, &body) ==
		    KLAB_OK &&
	    proto_decode(api->response, version, body.p, body.len, &resp) == KLAB_OK)
		log_peer_answer(b, b->cfg.members[i].id, resp,
				key == KAPI_CREATE_TOPICS ? "topics" : "responses");
	else
		broker_log(b, "broker %d: a malformed answer from broker %d", b->cfg.broker_id,
			   b->cfg.members[i].id);
	pvalue_free(resp);
	link_flush(b, i);
	return true;
}

static bool
static_closed(struct metadata_source *m, conn_id c)
{
	int i = link_of(m->b, c);

	if (i >= 0)
		link_reset(m->b, i, "closed");
	return i >= 0;
}

/* Drop the links: their connections die with the broker's stop or crash. */
static void
static_stop(struct metadata_source *m)
{
	struct broker *b = m->b;

	for (int i = 0; i < BROKER_MEMBERS_MAX; i++) {
		buf_free(&b->links[i].pending);
		b->links[i].conn = 0;
		b->links[i].up = false;
		b->links[i].ninflight = 0;
	}
}

/* Nothing to do: the member list is in the configuration, links open on first use. */
static void
static_start(struct metadata_source *m)
{
	(void)m;
}

static bool
static_timer(struct metadata_source *m, timer_id t)
{
	(void)m;
	(void)t;
	return false; /* the static cluster sets none */
}

/* ---- who is in the cluster ---------------------------------------------------- */

static int
static_brokers(struct metadata_source *m, struct metadata_broker *out, int cap)
{
	const struct broker *b = m->b;
	int n = b->cfg.nmembers > 0 ? b->cfg.nmembers : 1;

	if (n > cap)
		n = cap;
	for (int i = 0; i < n; i++) {
		const struct broker_member *mb = b->cfg.nmembers > 0 ? &b->cfg.members[i] : NULL;
		bool self = mb == NULL || mb->id == b->cfg.broker_id;

		out[i].id = self ? b->cfg.broker_id : mb->id;
		out[i].host = self ? b->cfg.advertised_host : mb->host;
		out[i].port = self ? b->cfg.advertised_port : mb->port;
	}
	return n;
}

static const char *
static_cluster_id(struct metadata_source *m)
{
	return m->b->cfg.cluster_id[0] ? m->b->cfg.cluster_id : NULL;
}

/* No controller in a static cluster: whoever takes a change makes it. */
static int32_t
static_controller(struct metadata_source *m)
{
	return m->b->cfg.broker_id;
}

/* ---- where each partition lives: the broker's own topic store ----------------- */

static int32_t
static_topic_count(struct metadata_source *m)
{
	return (int32_t)m->b->store->n;
}

static const char *
static_topic_name(struct metadata_source *m, int32_t i)
{
	return m->b->store->topics[i]->name;
}

/* The topic's id, as its store recorded it (the same on every broker: static_create_topic). */
static int
static_topic_id(struct metadata_source *m, const char *topic, uint8_t id[UUID_BYTES])
{
	return topic == NULL ? KLAB_ENOTFOUND : topics_id(m->b->store, topic, id);
}

static const char *
static_topic_by_id(struct metadata_source *m, const uint8_t id[UUID_BYTES])
{
	const struct topic *t = topics_find_id(m->b->store, id);

	return t == NULL ? NULL : t->name;
}

static int32_t
static_partitions(struct metadata_source *m, const char *topic)
{
	const struct topic *t = topic == NULL ? NULL : topics_find(m->b->store, topic);

	return t == NULL ? -1 : t->partitions;
}

/*
 * One replica per partition, on the broker the topic's placement names
 * (a topic without a placement: this broker), which leads it and is its
 * whole ISR.  The epoch is known only where the partition's log is.
 */
static int
static_partition(struct metadata_source *m, const char *topic, int32_t p,
		 struct metadata_partition *out)
{
	const struct topic *t = topic == NULL ? NULL : topics_find(m->b->store, topic);

	if (t == NULL || p < 0 || p >= t->partitions)
		return KLAB_ENOTFOUND;
	out->leader = topic_leader(t, p) >= 0 ? topic_leader(t, p) : m->b->cfg.broker_id;
	out->leader_epoch = t->logs[p] != NULL ? t->logs[p]->leader_epoch : -1;
	out->replicas[0] = out->isr[0] = out->leader;
	out->nreplicas = out->nisr = 1;
	return KLAB_OK;
}

/* ---- how a change reaches the others: the same request, to every peer ---------- */

/* Tell the other brokers about a topic this one created, placement spelled out. */
static void
tell_create(struct broker *b, const struct topic *t)
{
	const struct api_desc *api = proto_api(KAPI_CREATE_TOPICS);
	struct pvalue *req = pvalue_new(api->request);
	struct pvalue *ts, *ti, *as, *cs;
	char id[UUID_STRING_LEN + 1];

	if (req == NULL)
		return;
	ts = pvalue_array(req, "topics");
	if (pvalue_array_resize(ts, 1) != KLAB_OK)
		goto out;
	ti = pvalue_at(ts, 0);
	pvalue_set_str(ti, "name", t->name);
	pvalue_set_int(ti, "num_partitions", -1);
	pvalue_set_int(ti, "replication_factor", -1);
	as = pvalue_array(ti, "assignments");
	cs = pvalue_array(ti, "configs");
	if (pvalue_array_resize(as, t->partitions) != KLAB_OK ||
	    pvalue_array_resize(cs, (int32_t)t->overrides.n + 1) != KLAB_OK)
		goto out;
	for (int32_t p = 0; p < t->partitions; p++) {
		struct pvalue *ids = pvalue_array(pvalue_at(as, p), "broker_ids");

		pvalue_set_int(pvalue_at(as, p), "partition_index", p);
		if (pvalue_array_resize(ids, t->replication_factor) != KLAB_OK)
			goto out;
		for (int16_t k = 0; k < t->replication_factor; k++)
			pvalue_at(ids, k)->i = t->replicas[p * t->replication_factor + k];
	}
	for (size_t k = 0; k < t->overrides.n; k++) {
		pvalue_set_str(pvalue_at(cs, (int32_t)k), "name", t->overrides.entries[k].key);
		pvalue_set_str(pvalue_at(cs, (int32_t)k), "value", t->overrides.entries[k].value);
	}
	uuid_to_string(t->id, id); /* the last entry: the id, so every broker has the same */
	pvalue_set_str(pvalue_at(cs, (int32_t)t->overrides.n), "name", BROKER_PEER_TOPIC_ID_CONFIG);
	pvalue_set_str(pvalue_at(cs, (int32_t)t->overrides.n), "value", id);
	pvalue_set_int(req, "timeout_ms", 30000);
	tell_peers(b, KAPI_CREATE_TOPICS, PEER_CREATE_TOPICS_VERSION, req);
out:
	pvalue_free(req);
}

/*
 * The request's configs without the topic id a peer passed on (into ov),
 * and that id (*given).  A client may not name one: KLAB_ECONFIG.
 */
static int
split_topic_id(const struct proto_request_header *h, const struct config *in, struct config *ov,
	       uint8_t id[UUID_BYTES], bool *given, struct kerr *e)
{
	struct kerr why = { 0 };

	*given = false;
	for (size_t i = 0; in != NULL && i < in->n; i++) {
		const struct config_entry *c = &in->entries[i];

		if (strcmp(c->key, BROKER_PEER_TOPIC_ID_CONFIG) != 0) {
			if (config_set(ov, c->key, c->value) != KLAB_OK)
				return kerr_set(e, KLAB_ENOMEM, "out of memory");
			continue;
		}
		if (!cluster_from_peer(h))
			return kerr_set(e, KLAB_ECONFIG, "Unknown topic config name: %s", c->key);
		if (uuid_parse(c->value, strlen(c->value), id, &why) != KLAB_OK)
			return kerr_set(e, KLAB_ECONFIG, "%s=%.40s: %s", c->key, c->value,
					kerr_msg(&why));
		*given = true;
	}
	return KLAB_OK;
}

/*
 * Create the topic here with its partitions placed as t->assignment says
 * (one leader per partition), or, when it is NULL, spread over the cluster
 * the way Kafka does (a random start broker and shift); then, unless
 * another broker asked, pass it on.
 *
 * The topic id: a peer's request carries the one its broker drew, so every
 * broker records the same.  This broker draws one otherwise, from its
 * store's generator, into which the two placement draws are mixed first:
 * no draw of the runtime's is added, so a simulated run with topic ids
 * replays exactly as it did before them.
 */
static int
static_create_topic(struct metadata_source *m, const struct proto_request_header *h,
		    const struct metadata_new_topic *t, int64_t now_ms, struct kerr *e)
{
	struct broker *b = m->b;
	int32_t ids[BROKER_MEMBERS_MAX], *placed = NULL;
	int n = cluster_ids(b, ids), rc;
	struct rt *rt = b->node->rt;
	uint8_t id[UUID_BYTES];
	bool given;
	struct config ov;

	if (t->partitions <= 0 || t->partitions > TOPIC_PARTITIONS_MAX)
		return kerr_set(e, KLAB_EINVAL, "%d partitions", (int)t->partitions);
	config_init(&ov);
	if ((rc = split_topic_id(h, t->configs, &ov, id, &given, e)) != KLAB_OK)
		goto out;
	if ((placed = malloc((size_t)t->partitions * sizeof(*placed))) == NULL) {
		rc = kerr_set(e, KLAB_ENOMEM, "out of memory");
		goto out;
	}
	if (t->assignment != NULL) {
		memcpy(placed, t->assignment, (size_t)t->partitions * sizeof(*placed));
	} else {
		/* shift first: the order the runs before topic ids drew them in */
		uint64_t shift = rt->ops->random(rt), start = rt->ops->random(rt);

		topics_add_entropy(b->store, start ^ (shift << 32 | shift >> 32));
		cluster_place(ids, n, t->partitions, 1, (int)(start % (uint64_t)n),
			      (int)(shift % (uint64_t)n), placed);
	}
	rc = topics_create_placed(b->store, t->name, t->partitions, 1, placed, &ov,
				  given ? id : NULL, now_ms, e);
	if (rc == KLAB_OK && !cluster_from_peer(h) && b->cfg.nmembers > 1)
		tell_create(b, topics_find(b->store, t->name));
out:
	free(placed);
	config_free(&ov);
	return rc;
}

/*
 * Pass the topics this broker deleted on to the others; what it could not
 * delete (a topic it does not know) is not its to pass on.
 */
static void
tell_deleted(struct broker *b, const char *const *names, int32_t n, const int16_t *errors)
{
	const struct api_desc *api = proto_api(KAPI_DELETE_TOPICS);
	struct pvalue *req = pvalue_new(api->request), *out;
	int32_t k = 0;

	if (req == NULL)
		return;
	out = pvalue_array(req, "topic_names");
	for (int32_t i = 0; i < n; i++)
		k += errors[i] == KERR_NONE;
	if (k > 0 && pvalue_array_resize(out, k) == KLAB_OK) {
		k = 0;
		for (int32_t i = 0; i < n; i++) {
			if (errors[i] != KERR_NONE)
				continue;
			pvalue_at(out, k)->s.p = (const uint8_t *)names[i];
			pvalue_at(out, k++)->s.len = (int32_t)strlen(names[i]);
		}
		pvalue_set_int(req, "timeout_ms", 30000);
		tell_peers(b, KAPI_DELETE_TOPICS, PEER_DELETE_TOPICS_VERSION, req);
	}
	pvalue_free(req);
}

static void
static_delete_topics(struct metadata_source *m, const struct proto_request_header *h,
		     const char *const *names, int32_t n, int16_t *errors)
{
	struct broker *b = m->b;

	for (int32_t i = 0; i < n; i++) {
		struct kerr e = { 0 };

		errors[i] = KERR_NONE;
		if (topics_find(b->store, names[i]) == NULL) {
			errors[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else if (topics_delete(b->store, names[i], &e) != KLAB_OK) {
			broker_log(b, "broker %d: deleting '%s': %s", b->cfg.broker_id, names[i],
				   kerr_msg(&e));
			errors[i] = KERR_UNKNOWN_SERVER_ERROR;
		} else {
			broker_log(b, "broker %d: deleted topic '%s'", b->cfg.broker_id, names[i]);
		}
	}
	if (!cluster_from_peer(h) && b->cfg.nmembers > 1)
		tell_deleted(b, names, n, errors);
}

/* The other brokers are only being told: they know once their copy arrives. */
static bool
static_settles_later(struct metadata_source *m)
{
	return m->b->cfg.nmembers > 1;
}

/* ---- the static cluster's own rules ---------------------------------------------- */

/*
 * Links: in flight only on an up link, never more than BROKER_PEER_INFLIGHT;
 * requests wait only on a link that has (or is opening) a connection; no
 * two links share one; no link to this broker itself.
 */
static int
static_check_invariants(struct metadata_source *m, struct kerr *e)
{
	const struct broker *b = m->b;
	int id = b->cfg.broker_id;

	for (int i = 0; i < b->cfg.nmembers; i++) {
		const struct broker_link *l = &b->links[i];

		if (l->ninflight < 0 || l->ninflight > BROKER_PEER_INFLIGHT ||
		    (l->ninflight > 0 && !l->up) || (l->up && l->conn == 0))
			return kerr_set(
				e, KLAB_ESTATE,
				"broker %d: link to broker %d: %d in flight, %s, connection "
				"%lld",
				id, b->cfg.members[i].id, l->ninflight, l->up ? "up" : "down",
				(long long)l->conn);
		if (l->pending.len > 0 && l->conn == 0)
			return kerr_set(
				e, KLAB_ESTATE,
				"broker %d: requests for broker %d wait without a connection", id,
				b->cfg.members[i].id);
		if (l->conn != 0 && b->cfg.members[i].id == id)
			return kerr_set(e, KLAB_ESTATE, "broker %d: a link to itself", id);
		for (int j = i + 1; j < b->cfg.nmembers; j++)
			if (l->conn != 0 && b->links[j].conn == l->conn)
				return kerr_set(e, KLAB_ESTATE,
						"broker %d: two links share connection %lld", id,
						(long long)l->conn);
	}
	return KLAB_OK;
}

const struct metadata_ops cluster_metadata_ops = {
	.name = "static cluster",
	.start = static_start,
	.stop = static_stop,
	.connected = static_connected,
	.frame = static_frame,
	.closed = static_closed,
	.timer = static_timer,
	.brokers = static_brokers,
	.cluster_id = static_cluster_id,
	.controller = static_controller,
	.topic_count = static_topic_count,
	.topic_name = static_topic_name,
	.partitions = static_partitions,
	.partition = static_partition,
	.create_topic = static_create_topic,
	.delete_topics = static_delete_topics,
	.settles_later = static_settles_later,
	.check_invariants = static_check_invariants,
	.topic_id = static_topic_id,
	.topic_by_id = static_topic_by_id,
};
