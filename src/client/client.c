/*
 * client.c - the connection, request and metadata layer every Kafka client
 * node shares (client.h; chapter 3 §4).
 *
 * A request's life:
 *
 *   kclient_request ----> QUEUED on a slot ---- slot READY ----> SENT
 *        |                  (connecting, or        |               |
 *        |                   ApiVersions            |  response    | timeout / closed
 *        |                   in flight)             v              v
 *        +-- timer set ------------------------> cb(OK, resp)   cb(ETIMEDOUT / EIO)
 *
 * The timeout timer starts when the request is made, not when it is sent,
 * so a request for a cluster that cannot be reached fails after
 * request.timeout.ms instead of waiting forever.  As in Kafka's
 * NetworkClient, a request that times out closes its connection: the
 * answer may still come, and nothing on that connection can be trusted to
 * be in order any more.
 *
 * The correlation id is the client's own counter; a response whose id
 * matches nothing in flight closes the connection (a confused broker).
 */
#include "client/client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METADATA_MAX_VERSION 12
#define API_VERSIONS_MAX_VERSION 3
/* What ApiVersions v3 calls the client (KIP-511). */
#define KLAB_SOFTWARE_VERSION "0.3"

/* ---- small helpers ---------------------------------------------------------------- */

int64_t
kclient_now(const struct kclient *kc)
{
	return kc->node->rt->ops->now_ms(kc->node->rt);
}

timer_id
kclient_set_timer(struct kclient *kc, int64_t after_ms)
{
	return kc->node->rt->ops->set_timer(kc->node->rt, after_ms);
}

static void
cancel_timer(struct kclient *kc, timer_id t)
{
	if (t > 0)
		kc->node->rt->ops->cancel_timer(kc->node->rt, t);
}

static void trace(struct kclient *kc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
trace(struct kclient *kc, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (kc->node->rt->ops->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	kc->node->rt->ops->trace(kc->node->rt, line);
}

void
kclient_config_defaults(struct kclient_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->request_timeout_ms = 30000;
	cfg->retry_backoff_ms = 100;
	cfg->allow_auto_create = true;
	cfg->client_id = "klab";
}

/* Parse "host:port" of len n into slot s; -1 when it is not one. */
static int
parse_server(const char *p, size_t n, struct kc_slot *s)
{
	const char *colon = NULL;
	long port = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] == ':')
			colon = p + i;
	if (colon == NULL || colon == p || (size_t)(colon - p) >= KCLIENT_HOST_MAX)
		return -1;
	if (colon + 1 == p + n)
		return -1;
	for (const char *q = colon + 1; q < p + n; q++) {
		if (*q < '0' || *q > '9' || port > 65535)
			return -1;
		port = port * 10 + (*q - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	memcpy(s->host, p, (size_t)(colon - p));
	s->host[colon - p] = '\0';
	s->port = (int)port;
	return 0;
}

static void
slot_reset(struct kc_slot *s, int32_t node_id)
{
	memset(s, 0, sizeof(*s));
	s->node_id = node_id;
	s->failed_ms = -1;
	for (int i = 0; i < KCLIENT_API_KEYS; i++)
		s->vmin[i] = s->vmax[i] = -1;
}

int
kclient_init(struct kclient *kc, const struct kclient_config *cfg,
	     const struct kclient_hooks *hooks, struct kerr *e)
{
	const char *p;

	memset(kc, 0, sizeof(*kc));
	kc->cfg = *cfg;
	if (hooks != NULL)
		kc->hooks = *hooks;
	kc->controller_id = -1;
	kc->metadata_ms = -1;
	buf_init(&kc->out);
	p = cfg->bootstrap;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		struct kc_slot *s = &kc->slots[kc->nslots];

		if (kc->nslots == KCLIENT_SLOTS_MAX / 2)
			return kerr_set(e, KLAB_EINVAL, "more than %d bootstrap servers",
					KCLIENT_SLOTS_MAX / 2);
		slot_reset(s, -1 - kc->nslots);
		if (parse_server(p, n, s) != 0)
			return kerr_set(e, KLAB_EINVAL,
					"bootstrap server '%.*s' is not host:port (port 1-65535)",
					(int)n, p);
		kc->nslots++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (kc->nslots == 0)
		return kerr_set(e, KLAB_EINVAL, "no bootstrap servers (expected host:port[,...])");
	kc->nbootstrap = kc->nslots;
	return KLAB_OK;
}

void
kclient_free(struct kclient *kc)
{
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++)
		pvalue_free(kc->pending[i].body);
	for (int i = 0; i < kc->ntopics; i++)
		free(kc->topics[i].parts);
	buf_free(&kc->out);
	memset(kc->pending, 0, sizeof(kc->pending));
	kc->ntopics = 0;
}

/* ---- Kafka errors ----------------------------------------------------------------- */

bool
kclient_retriable(int16_t code)
{
	return kafka_error_retriable(code);
}

const char *
kclient_error_name(int16_t code)
{
	return kafka_error_name(code);
}

/* ---- pending requests ------------------------------------------------------------- */

static struct kc_pending *
pending_by_corr(struct kclient *kc, int32_t corr)
{
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++)
		if (kc->pending[i].corr == corr && corr != 0)
			return &kc->pending[i];
	return NULL;
}

/* Run the callback and free the entry (invariant 2). */
static void
pending_finish(struct kclient *kc, struct kc_pending *p, int err, const struct pvalue *resp)
{
	struct kc_pending done = *p;

	cancel_timer(kc, p->timer);
	pvalue_free(p->body);
	memset(p, 0, sizeof(*p));
	if (err == KLAB_ETIMEDOUT)
		kc->timeouts++;
	kc->answered_slot = done.slot;
	if (done.cb != NULL)
		done.cb(kc, done.arg, err, done.version, resp);
}

static int
slot_by_node(const struct kclient *kc, int32_t node)
{
	for (int i = 0; i < kc->nslots; i++)
		if (kc->slots[i].node_id == node)
			return i;
	return -1;
}

static int
slot_by_conn(const struct kclient *kc, conn_id c)
{
	for (int i = 0; i < kc->nslots; i++)
		if (kc->slots[i].conn == c && c != 0)
			return i;
	return -1;
}

/* The version to speak: the highest <= max both sides support, or -1. */
static int16_t
pick_version(const struct kc_slot *s, int16_t api, int16_t max)
{
	const struct api_desc *d = proto_api(api);
	int16_t hi = max, lo;

	if (d == NULL || api < 0 || api >= KCLIENT_API_KEYS || s->vmax[api] < 0)
		return -1;
	if (hi > d->max_version)
		hi = d->max_version;
	if (hi > s->vmax[api])
		hi = s->vmax[api];
	lo = d->min_version > s->vmin[api] ? d->min_version : s->vmin[api];
	return hi >= lo ? hi : -1;
}

static int
send_frame(struct kclient *kc, int slot, int16_t api, int16_t v, int32_t corr,
	   const struct pvalue *body)
{
	struct proto_request_header h = {
		.api_key = api,
		.api_version = v,
		.correlation_id = corr,
		.client_id = (const uint8_t *)kc->cfg.client_id,
		.client_id_len = kc->cfg.client_id ? (int16_t)strlen(kc->cfg.client_id) : -1,
	};
	int rc;

	buf_reset(&kc->out);
	if ((rc = proto_request_encode(&h, body, &kc->out)) != KLAB_OK)
		return rc;
	kc->requests_sent++;
	return kc->node->rt->ops->send(kc->node->rt, kc->slots[slot].conn, kc->out.data,
				       kc->out.len);
}

static void slot_close(struct kclient *kc, int slot, bool tell_runtime);

/* Send one queued request on its ready slot. */
static void
pending_send(struct kclient *kc, struct kc_pending *p)
{
	struct kc_slot *s = &kc->slots[p->slot];
	int rc;

	p->version = pick_version(s, p->api, p->max_version);
	if (p->version < 0) {
		kerr_set(&kc->last_error, KLAB_ENOTIMPL,
			 "broker %s:%d supports no version of API %d that klab speaks", s->host,
			 s->port, p->api);
		pending_finish(kc, p, KLAB_ENOTIMPL, NULL);
		return;
	}
	rc = send_frame(kc, p->slot, p->api, p->version, p->corr, p->body);
	pvalue_free(p->body);
	p->body = NULL;
	p->sent = true;
	if (rc != KLAB_OK) {
		pending_finish(kc, p, rc == KLAB_ENOMEM ? KLAB_ENOMEM : KLAB_EIO, NULL);
		return;
	}
	if (p->no_response)
		pending_finish(kc, p, KLAB_OK, NULL);
}

static void
slot_flush(struct kclient *kc, int slot)
{
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++) {
		struct kc_pending *p = &kc->pending[i];

		if (p->corr != 0 && p->slot == slot && !p->sent &&
		    kc->slots[slot].state == KC_READY)
			pending_send(kc, p);
	}
}

/* ---- connections ------------------------------------------------------------------ */

static void
slot_connect(struct kclient *kc, int slot)
{
	struct kc_slot *s = &kc->slots[slot];

	if (s->state != KC_DOWN)
		return;
	trace(kc, "%s: connecting to %s:%d (node %d)", kc->node->name, s->host, s->port,
	      s->node_id);
	s->conn = kc->node->rt->ops->connect(kc->node->rt, s->host, s->port);
	s->state = KC_CONNECTING;
}

/*
 * The slot a KCLIENT_ANY request should use: a ready one, else one already
 * connecting, else the next server (from next_any) that has not failed in
 * the last retry.backoff.ms; -1 when every server failed just now.
 */
static int
pick_any(struct kclient *kc)
{
	int64_t now = kclient_now(kc);

	for (int i = 0; i < kc->nslots; i++)
		if (kc->slots[i].state == KC_READY)
			return i;
	for (int i = 0; i < kc->nslots; i++)
		if (kc->slots[i].state != KC_DOWN)
			return i;
	for (int k = 0; k < kc->nslots; k++) {
		int i = (kc->next_any + k) % kc->nslots;
		struct kc_slot *s = &kc->slots[i];

		if (s->failed_ms < 0 || now - s->failed_ms >= kc->cfg.retry_backoff_ms) {
			kc->next_any = (i + 1) % kc->nslots;
			return i;
		}
	}
	return -1;
}

static void
arm_retry(struct kclient *kc)
{
	if (kc->retry_timer == 0)
		kc->retry_timer = kclient_set_timer(kc, kc->cfg.retry_backoff_ms);
}

/* Give every unsent ANY request a slot, connecting as needed. */
static void
dispatch_any(struct kclient *kc)
{
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++) {
		struct kc_pending *p = &kc->pending[i];
		int slot;

		if (p->corr == 0 || !p->any || p->sent || p->slot >= 0)
			continue;
		if ((slot = pick_any(kc)) < 0) {
			arm_retry(kc);
			return;
		}
		p->slot = slot;
		slot_connect(kc, slot);
		if (kc->slots[slot].state == KC_READY)
			pending_send(kc, p);
	}
}

/*
 * A connection is gone (closed, refused, or closed by us): every request on
 * it fails with KLAB_EIO, except unsent ANY requests, which move on.
 */
static void
slot_close(struct kclient *kc, int slot, bool tell_runtime)
{
	struct kc_slot *s = &kc->slots[slot];
	bool was_connecting = s->state == KC_CONNECTING;

	if (tell_runtime && s->conn != 0)
		kc->node->rt->ops->close(kc->node->rt, s->conn);
	s->conn = 0;
	s->state = KC_DOWN;
	if (was_connecting) {
		s->failed_ms = kclient_now(kc);
		kc->connects_failed++;
		kerr_set(&kc->last_error, KLAB_EIO, "could not connect to %s:%d", s->host, s->port);
		kc->connect_error = kc->last_error;
	}
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++) {
		struct kc_pending *p = &kc->pending[i];

		if (p->corr == 0 || p->slot != slot)
			continue;
		if (p->any && !p->sent)
			p->slot = -1;
		else
			pending_finish(kc, p, KLAB_EIO, NULL);
	}
	dispatch_any(kc);
}

/*
 * Ask slot's broker which versions it speaks, with ApiVersions v (KIP-511:
 * v3 names the client software; a broker that does not know v3 answers in
 * v0's format with UNSUPPORTED_VERSION and its own range, and on_versions
 * asks again with the highest version that range allows).
 */
static void
send_versions(struct kclient *kc, int slot, int16_t v)
{
	struct kc_slot *s = &kc->slots[slot];
	struct pvalue *body = pvalue_new(proto_api(KAPI_API_VERSIONS)->request);

	s->versions_corr = ++kc->next_corr;
	s->versions_v = v;
	if (body != NULL && v >= 3) {
		pvalue_set_str(body, "client_software_name", "klab");
		pvalue_set_str(body, "client_software_version", KLAB_SOFTWARE_VERSION);
	}
	if (body == NULL || send_frame(kc, slot, KAPI_API_VERSIONS, v, s->versions_corr, body) != 0)
		slot_close(kc, slot, true);
	pvalue_free(body);
}

static void
on_connected(struct node *n, conn_id c, bool ok)
{
	struct kclient *kc = n->state;
	int slot = slot_by_conn(kc, c);
	struct kc_slot *s;

	if (slot < 0)
		return;
	s = &kc->slots[slot];
	if (!ok) {
		trace(kc, "%s: cannot connect to %s:%d", n->name, s->host, s->port);
		slot_close(kc, slot, false);
		return;
	}
	s->failed_ms = -1;
	s->state = KC_VERSIONS;
	send_versions(kc, slot, API_VERSIONS_MAX_VERSION);
}

static void
on_versions(struct kclient *kc, int slot, const uint8_t *body, size_t len)
{
	struct kc_slot *s = &kc->slots[slot];
	struct pvalue *resp = NULL;
	struct pvalue *keys;
	int16_t again = -1;
	bool refused;

	/*
	 * Every version starts with the int16 error_code.  A broker refusing our
	 * version answers in v0's format (KIP-511), whatever we asked with.
	 */
	refused = len >= 2 && (int16_t)be16_read(body) == KERR_UNSUPPORTED_VERSION;
	(void)proto_decode(proto_api(KAPI_API_VERSIONS)->response, refused ? 0 : s->versions_v,
			   body, len, &resp);
	if (resp != NULL && s->versions_v > 0 &&
	    pvalue_get_int(resp, "error_code") == KERR_UNSUPPORTED_VERSION) {
		keys = pvalue_array(resp, "api_keys");
		for (int32_t i = 0; i < pvalue_count(keys); i++)
			if (pvalue_get_int(pvalue_at(keys, i), "api_key") == KAPI_API_VERSIONS)
				again = (int16_t)pvalue_get_int(pvalue_at(keys, i), "max_version");
		if (again > s->versions_v - 1)
			again = s->versions_v - 1;
	}
	if (again >= 0) {
		trace(kc, "%s:%d: ApiVersions v%d refused; asking again with v%d", s->host, s->port,
		      s->versions_v, again);
		pvalue_free(resp);
		send_versions(kc, slot, again);
		return;
	}
	if (resp == NULL || pvalue_get_int(resp, "error_code") != 0) {
		pvalue_free(resp);
		slot_close(kc, slot, true);
		return;
	}
	keys = pvalue_array(resp, "api_keys");
	for (int32_t i = 0; i < pvalue_count(keys); i++) {
		const struct pvalue *k = pvalue_at(keys, i);
		int64_t key = pvalue_get_int(k, "api_key");

		if (key >= 0 && key < KCLIENT_API_KEYS) {
			s->vmin[key] = (int16_t)pvalue_get_int(k, "min_version");
			s->vmax[key] = (int16_t)pvalue_get_int(k, "max_version");
		}
	}
	pvalue_free(resp);
	s->state = KC_READY;
	kc->reached_broker = true;
	slot_flush(kc, slot);
	dispatch_any(kc);
}

static void
on_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct kclient *kc = n->state;
	int slot = slot_by_conn(kc, c);
	struct kc_pending *p;
	struct pvalue *resp = NULL;
	int32_t corr;
	struct cursor body;
	int rc;

	if (slot < 0)
		return;
	if (len < 8) {
		slot_close(kc, slot, true);
		return;
	}
	corr = (int32_t)be32_read(f + 4);
	if (kc->slots[slot].state == KC_VERSIONS && corr == kc->slots[slot].versions_corr) {
		on_versions(kc, slot, f + 8, len - 8);
		return;
	}
	p = pending_by_corr(kc, corr);
	if (p == NULL || p->slot != slot || !p->sent) {
		kerr_set(&kc->last_error, KLAB_ECORRUPT,
			 "response with unknown correlation id %" PRId32, corr);
		slot_close(kc, slot, true);
		return;
	}
	/* the header is v0 or v1 (flexible): proto_response_header_parse knows which */
	rc = proto_response_header_parse(p->api, p->version, f + 4, len - 4, &corr, &body);
	if (rc == KLAB_OK)
		rc = proto_decode(proto_api(p->api)->response, p->version, body.p, body.len, &resp);
	if (rc != KLAB_OK) {
		kerr_set(&kc->last_error, rc, "cannot decode a %s v%d response from %s:%d",
			 proto_api(p->api)->name, p->version, kc->slots[slot].host,
			 kc->slots[slot].port);
		slot_close(kc, slot, true); /* fails p too */
		return;
	}
	pending_finish(kc, p, KLAB_OK, resp);
	pvalue_free(resp);
}

static void
on_closed(struct node *n, conn_id c)
{
	struct kclient *kc = n->state;
	int slot = slot_by_conn(kc, c);

	if (slot >= 0) {
		trace(kc, "%s: connection to %s:%d closed", n->name, kc->slots[slot].host,
		      kc->slots[slot].port);
		slot_close(kc, slot, false);
	}
}

/* ---- requests --------------------------------------------------------------------- */

int
kclient_request(struct kclient *kc, int32_t node, int16_t api, int16_t max_version,
		struct pvalue *body, bool no_response, kclient_cb cb, void *arg)
{
	struct kc_pending *p = NULL;
	int slot = -1;

	for (int i = 0; i < KCLIENT_PENDING_MAX && p == NULL; i++)
		if (kc->pending[i].corr == 0)
			p = &kc->pending[i];
	if (node != KCLIENT_ANY && (slot = slot_by_node(kc, node)) < 0) {
		/* a broker the metadata does not name (any more): let it retry */
		pvalue_free(body);
		return KLAB_ENOTFOUND;
	}
	if (p == NULL) {
		pvalue_free(body);
		return KLAB_EFULL;
	}
	if (++kc->next_corr <= 0)
		kc->next_corr = 1;
	*p = (struct kc_pending){ .corr = kc->next_corr,
				  .slot = slot,
				  .any = node == KCLIENT_ANY,
				  .no_response = no_response,
				  .api = api,
				  .max_version = max_version,
				  .body = body,
				  .cb = cb,
				  .arg = arg };
	p->timer = kclient_set_timer(kc, kc->cfg.request_timeout_ms);
	if (p->any) {
		dispatch_any(kc);
	} else {
		slot_connect(kc, slot);
		if (kc->slots[slot].state == KC_READY)
			pending_send(kc, p);
	}
	return KLAB_OK;
}

/* ---- metadata --------------------------------------------------------------------- */

static struct kc_topic *
topic_find(struct kclient *kc, const char *name, size_t len)
{
	for (int i = 0; i < kc->ntopics; i++)
		if (strlen(kc->topics[i].name) == len && memcmp(kc->topics[i].name, name, len) == 0)
			return &kc->topics[i];
	return NULL;
}

static struct kc_topic *
topic_add(struct kclient *kc, const char *name, size_t len)
{
	struct kc_topic *t = topic_find(kc, name, len);

	if (t != NULL)
		return t;
	if (kc->ntopics == KCLIENT_TOPICS_MAX || len == 0 || len >= KCLIENT_TOPIC_MAX)
		return NULL;
	t = &kc->topics[kc->ntopics++];
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, len);
	return t;
}

int
kclient_want_topic(struct kclient *kc, const char *topic)
{
	struct kc_topic *t = topic_add(kc, topic, strlen(topic));

	if (t == NULL)
		return KLAB_EFULL;
	t->wanted = true;
	return KLAB_OK;
}

const struct kc_topic *
kclient_topic(const struct kclient *kc, const char *topic)
{
	for (int i = 0; i < kc->ntopics; i++)
		if (strcmp(kc->topics[i].name, topic) == 0)
			return &kc->topics[i];
	return NULL;
}

int32_t
kclient_leader(const struct kclient *kc, const char *topic, int32_t partition)
{
	const struct kc_topic *t = kclient_topic(kc, topic);

	if (t == NULL || !t->known || partition < 0 || partition >= t->npartitions)
		return -1;
	return t->parts[partition].leader;
}

/*
 * Learn the brokers of a Metadata answer: a slot per node id, its address
 * updated.  Slots are never removed: a pending request may name one.
 */
static void
learn_brokers(struct kclient *kc, const struct pvalue *brokers)
{
	/* LAB 3 BEGIN cache_brokers: a slot per broker of the answer (node id, host, port)
	 * skeleton: (void)kc; (void)brokers; return;
	 */
	for (int32_t i = 0; i < pvalue_count(brokers); i++) {
		const struct pvalue *b = pvalue_at(brokers, i);
		int32_t id = (int32_t)pvalue_get_int(b, "node_id");
		int32_t hlen;
		const uint8_t *h = pvalue_get_bytes(b, "host", &hlen);
		int slot = slot_by_node(kc, id);

		if (id < 0 || h == NULL || hlen <= 0 || hlen >= KCLIENT_HOST_MAX)
			continue;
		if (slot < 0) {
			if (kc->nslots == KCLIENT_SLOTS_MAX)
				continue;
			slot = kc->nslots++;
			slot_reset(&kc->slots[slot], id);
		}
		memcpy(kc->slots[slot].host, h, (size_t)hlen);
		kc->slots[slot].host[hlen] = '\0';
		kc->slots[slot].port = (int)pvalue_get_int(b, "port");
	}
	/* LAB 3 END cache_brokers */
}

/*
 * Learn one topic of a Metadata answer: its error, and each partition's
 * leader and error, indexed by partition_index.
 */
static void
learn_topic(struct kclient *kc, const struct pvalue *mt)
{
	int32_t nlen;
	const uint8_t *name = pvalue_get_bytes(mt, "name", &nlen);
	const struct pvalue *parts = pvalue_array(mt, "partitions");
	int32_t n = pvalue_count(parts), max = -1;
	struct kc_topic *t;

	if (name == NULL || nlen <= 0 ||
	    (t = topic_add(kc, (const char *)name, (size_t)nlen)) == NULL)
		return;
	/* LAB 3 BEGIN cache_leaders: the topic's error, and each partition's leader and error
	 * skeleton: (void)parts; (void)n; (void)max; return;
	 */
	t->error = (int16_t)pvalue_get_int(mt, "error_code");
	for (int32_t i = 0; i < n; i++) {
		int64_t idx = pvalue_get_int(pvalue_at(parts, i), "partition_index");

		if (idx > max && idx < KCLIENT_PARTITIONS_MAX)
			max = (int32_t)idx;
	}
	free(t->parts);
	t->parts = NULL;
	t->npartitions = 0;
	t->known = t->error == 0 && max >= 0;
	if (!t->known || (t->parts = calloc((size_t)max + 1, sizeof(*t->parts))) == NULL) {
		t->known = false;
		return;
	}
	t->npartitions = max + 1;
	for (int32_t i = 0; i <= max; i++)
		t->parts[i].leader = -1;
	for (int32_t i = 0; i < n; i++) {
		const struct pvalue *pp = pvalue_at(parts, i);
		int64_t idx = pvalue_get_int(pp, "partition_index");

		if (idx < 0 || idx > max)
			continue;
		t->parts[idx].error = (int16_t)pvalue_get_int(pp, "error_code");
		t->parts[idx].leader = (int32_t)pvalue_get_int(pp, "leader_id");
	}
	/* LAB 3 END cache_leaders */
}

static void
on_metadata(struct kclient *kc, void *arg, int err, int16_t v, const struct pvalue *resp)
{
	const struct pvalue *topics;
	int32_t clen;
	const uint8_t *cid;

	(void)arg;
	kc->metadata_inflight = false;
	if (err == KLAB_OK) {
		learn_brokers(kc, pvalue_array(resp, "brokers"));
		if (v >= 1)
			kc->controller_id = (int32_t)pvalue_get_int(resp, "controller_id");
		cid = pvalue_get_bytes(resp, "cluster_id", &clen);
		if (cid != NULL && clen > 0 && (size_t)clen < sizeof(kc->cluster_id)) {
			memcpy(kc->cluster_id, cid, (size_t)clen);
			kc->cluster_id[clen] = '\0';
		}
		topics = pvalue_array(resp, "topics");
		for (int i = 0; i < kc->ntopics; i++)
			kc->topics[i].known = false;
		for (int32_t i = 0; i < pvalue_count(topics); i++)
			learn_topic(kc, pvalue_at(topics, i));
		kc->metadata_known = true;
	}
	if (kc->metadata_again) {
		kc->metadata_again = false;
		kclient_refresh_metadata(kc);
	}
	if (kc->hooks.on_metadata != NULL)
		kc->hooks.on_metadata(kc, err);
}

void
kclient_refresh_metadata(struct kclient *kc)
{
	struct pvalue *body, *arr;
	int32_t n = 0;
	int64_t now = kclient_now(kc);

	if (kc->metadata_inflight) {
		kc->metadata_again = true;
		return;
	}
	if (kc->metadata_timer != 0)
		return;
	if (kc->metadata_ms >= 0 && now - kc->metadata_ms < kc->cfg.retry_backoff_ms) {
		/* at most one Metadata request per retry.backoff.ms */
		kc->metadata_timer =
			kclient_set_timer(kc, kc->metadata_ms + kc->cfg.retry_backoff_ms - now);
		return;
	}
	kc->metadata_ms = now;
	if ((body = pvalue_new(proto_api(KAPI_METADATA)->request)) == NULL)
		return;
	arr = pvalue_array(body, "topics");
	for (int i = 0; i < kc->ntopics; i++)
		n += kc->topics[i].wanted;
	if (kc->want_all_topics || pvalue_array_resize(arr, n) != KLAB_OK) {
		pvalue_array_set_null(arr);
	} else {
		n = 0;
		for (int i = 0; i < kc->ntopics; i++)
			if (kc->topics[i].wanted)
				pvalue_set_str(pvalue_at(arr, n++), "name", kc->topics[i].name);
	}
	pvalue_set_int(body, "allow_auto_topic_creation", kc->cfg.allow_auto_create);
	if (kclient_request(kc, KCLIENT_ANY, KAPI_METADATA, METADATA_MAX_VERSION, body, false,
			    on_metadata, NULL) == KLAB_OK)
		kc->metadata_inflight = true;
}

/* ---- the node --------------------------------------------------------------------- */

static void
on_start(struct node *n)
{
	struct kclient *kc = n->state;

	kc->node = n;
	if (kc->hooks.on_start != NULL)
		kc->hooks.on_start(kc);
}

static void
on_timer(struct node *n, timer_id t)
{
	struct kclient *kc = n->state;

	if (t == kc->retry_timer) {
		kc->retry_timer = 0;
		dispatch_any(kc);
		return;
	}
	if (t == kc->metadata_timer) {
		kc->metadata_timer = 0;
		kclient_refresh_metadata(kc);
		return;
	}
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++) {
		struct kc_pending *p = &kc->pending[i];

		if (p->corr == 0 || p->timer != t)
			continue;
		p->timer = 0;
		kerr_set(&kc->last_error, KLAB_ETIMEDOUT,
			 "%s request timed out after %" PRId64 " ms (request.timeout.ms)",
			 proto_api(p->api) ? proto_api(p->api)->name : "?",
			 kc->cfg.request_timeout_ms);
		if (p->sent && p->slot >= 0) {
			int slot = p->slot;

			pending_finish(kc, p, KLAB_ETIMEDOUT, NULL);
			slot_close(kc, slot, true);
		} else {
			pending_finish(kc, p, KLAB_ETIMEDOUT, NULL);
		}
		return;
	}
	if (kc->hooks.on_timer != NULL)
		kc->hooks.on_timer(kc, t);
}

static void
on_stop(struct node *n)
{
	struct kclient *kc = n->state;

	if (kc->hooks.on_stop != NULL)
		kc->hooks.on_stop(kc);
}

const struct node_ops kclient_node_ops = {
	.on_start = on_start,
	.on_connected = on_connected,
	.on_frame = on_frame,
	.on_closed = on_closed,
	.on_timer = on_timer,
	.on_stop = on_stop,
};

const char *
kclient_check_invariants(const struct kclient *kc)
{
	for (int i = 0; i < KCLIENT_PENDING_MAX; i++) {
		const struct kc_pending *p = &kc->pending[i];

		if (p->corr == 0)
			continue;
		if (p->sent && p->body != NULL)
			return "1: a sent request still holds its body";
		if (p->sent && (p->slot < 0 || kc->slots[p->slot].state != KC_READY))
			return "1: a sent request sits on a connection that is not ready";
		for (int j = i + 1; j < KCLIENT_PENDING_MAX; j++)
			if (kc->pending[j].corr == p->corr)
				return "2: two requests share a correlation id";
	}
	for (int i = 0; i < kc->nslots; i++)
		for (int j = i + 1; j < kc->nslots; j++)
			if (kc->slots[i].conn != 0 && kc->slots[i].conn == kc->slots[j].conn)
				return "3: two slots share a connection";
	return NULL;
}
