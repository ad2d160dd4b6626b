/*
 * tracer.c - describing Kafka frames for the simulator's trace (tracer.h).
 */
#include "proto/tracer.h"

#include <stdio.h>
#include <string.h>

#include "proto/kafka.h"
#include "core/buf.h"
#include "core/err.h"

void
proto_tracer_init(struct proto_tracer *t)
{
	memset(t, 0, sizeof(*t));
}

static int
find_pending(const struct proto_tracer *t, uint64_t link, int32_t corr)
{
	for (int i = 0; i < TRACER_PENDING; i++)
		if (t->pending[i].used && t->pending[i].link == link && t->pending[i].corr == corr)
			return i;
	return -1;
}

/* A response to a request we saw on this link: decode it as that API's answer. */
static bool
describe_response(struct proto_tracer *t, uint64_t link, const uint8_t *frame, size_t len,
		  char *out, size_t cap)
{
	int32_t corr = (int32_t)be32_read(frame + 4);
	int i = find_pending(t, link, corr);
	const struct api_desc *api;
	struct pvalue *resp = NULL;
	struct cursor body;

	if (i < 0 || (api = proto_api(t->pending[i].api)) == NULL ||
	    proto_response_header_parse(api->key, t->pending[i].version, frame + 4, len - 4, &corr,
					&body) != KLAB_OK ||
	    proto_decode(api->response, t->pending[i].version, body.p, body.len, &resp) != KLAB_OK)
		return false;
	proto_trace(out, cap, api, true, t->pending[i].version, corr, resp);
	t->pending[i].used = false;
	pvalue_free(resp);
	return true;
}

static bool
describe_request(struct proto_tracer *t, uint64_t link, const uint8_t *frame, size_t len, char *out,
		 size_t cap)
{
	struct proto_request_header h;
	struct cursor body;
	struct pvalue *req = NULL;
	const struct api_desc *api;
	bool answered;

	if (proto_request_header_parse(frame + 4, len - 4, &h, &body) != KLAB_OK ||
	    (api = proto_api(h.api_key)) == NULL || proto_request_decode(&h, body, &req) != KLAB_OK)
		return false;
	proto_trace(out, cap, api, false, h.api_version, h.correlation_id, req);
	answered =
		!(h.api_key == KAPI_PRODUCE && pvalue_get_int(req, "acks") == 0); /* acks=0: none */
	pvalue_free(req);
	if (answered) {
		t->pending[t->next].link = link;
		t->pending[t->next].corr = h.correlation_id;
		t->pending[t->next].api = h.api_key;
		t->pending[t->next].version = h.api_version;
		t->pending[t->next].used = true;
		t->next = (t->next + 1) % TRACER_PENDING;
	}
	return true;
}

void
proto_tracer_describe(void *arg, uint64_t link, const uint8_t *frame, size_t len, char *out,
		      size_t cap)
{
	struct proto_tracer *t = arg;
	size_t n = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (len >= 8 && (describe_response(t, link, frame, len, out, cap) ||
			 describe_request(t, link, frame, len, out, cap)))
		return;
	n = (size_t)snprintf(out, cap, "? %zu bytes:", len);
	for (size_t i = 0; i < len && i < 8 && n + 4 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, " %02x", frame[i]);
}
