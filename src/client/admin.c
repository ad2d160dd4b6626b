/*
 * admin.c - CreateTopics, DeleteTopics and Metadata as admin calls
 * (admin.h; chapter 3 §4).  Kafka sends topic changes to the controller;
 * in chapter 3's static cluster that is whichever broker answered the
 * last Metadata (it passes the change on to the others), but the routing
 * is already the one chapter 5's controller needs.
 */
#include "client/admin.h"

#include <stdlib.h>
#include <string.h>

/* The controller when the metadata named it, else any broker. */
static int32_t
controller(const struct kclient *kc)
{
	for (int i = 0; i < kc->nslots; i++)
		if (kc->controller_id >= 0 && kc->slots[i].node_id == kc->controller_id)
			return kc->controller_id;
	return KCLIENT_ANY;
}

int
kadmin_check_topic(const char *topic, struct kerr *e)
{
	size_t n = strlen(topic);

	if (n > KADMIN_TOPIC_NAME_MAX)
		return kerr_set(e, KLAB_EINVAL, "topic name is %zu characters; the limit is %d", n,
				KADMIN_TOPIC_NAME_MAX);
	return KLAB_OK;
}

/* A string a request field can carry (int16 length). */
static bool
fits(const char *s)
{
	return s == NULL || strlen(s) <= INT16_MAX;
}

static int
send(struct kclient *kc, int16_t api, int16_t max_version, struct pvalue *body, kclient_cb cb,
     void *arg)
{
	int32_t node = api == KAPI_METADATA ? KCLIENT_ANY : controller(kc);

	return kclient_request(kc, node, api, max_version, body, false, cb, arg);
}

int
kadmin_create_topic(struct kclient *kc, const char *topic, int32_t partitions,
		    int16_t replication_factor, const struct kadmin_config *configs,
		    int32_t nconfigs, int32_t timeout_ms, kclient_cb cb, void *arg)
{
	struct pvalue *body, *t, *cf;

	if (kadmin_check_topic(topic, NULL) != KLAB_OK)
		return KLAB_EINVAL;
	for (int32_t i = 0; i < nconfigs; i++)
		if (!fits(configs[i].name) || !fits(configs[i].value))
			return KLAB_EINVAL;
	body = pvalue_new(proto_api(KAPI_CREATE_TOPICS)->request);
	if (body == NULL || pvalue_array_resize(pvalue_array(body, "topics"), 1) != KLAB_OK)
		goto fail;
	t = pvalue_at(pvalue_array(body, "topics"), 0);
	pvalue_set_str(t, "name", topic);
	pvalue_set_int(t, "num_partitions", partitions);
	pvalue_set_int(t, "replication_factor", replication_factor);
	cf = pvalue_array(t, "configs");
	if (pvalue_array_resize(cf, nconfigs) != KLAB_OK)
		goto fail;
	for (int32_t i = 0; i < nconfigs; i++) {
		pvalue_set_str(pvalue_at(cf, i), "name", configs[i].name);
		pvalue_set_str(pvalue_at(cf, i), "value", configs[i].value);
	}
	pvalue_set_int(body, "timeout_ms", timeout_ms);
	return send(kc, KAPI_CREATE_TOPICS, 7, body, cb, arg);
fail:
	pvalue_free(body);
	return KLAB_ENOMEM;
}

int
kadmin_delete_topic(struct kclient *kc, const char *topic, int32_t timeout_ms, kclient_cb cb,
		    void *arg)
{
	struct pvalue *body, *names;

	if (kadmin_check_topic(topic, NULL) != KLAB_OK)
		return KLAB_EINVAL;
	if ((body = pvalue_new(proto_api(KAPI_DELETE_TOPICS)->request)) == NULL)
		return KLAB_ENOMEM;
	names = pvalue_array(body, "topic_names");
	if (pvalue_array_resize(names, 1) != KLAB_OK) {
		pvalue_free(body);
		return KLAB_ENOMEM;
	}
	pvalue_at(names, 0)->s.p = (const uint8_t *)topic;
	pvalue_at(names, 0)->s.len = (int32_t)strlen(topic);
	pvalue_set_int(body, "timeout_ms", timeout_ms);
	return send(kc, KAPI_DELETE_TOPICS, 5, body, cb, arg);
}

int
kadmin_metadata(struct kclient *kc, const char *topic, kclient_cb cb, void *arg)
{
	struct pvalue *body, *arr;

	if (topic != NULL && kadmin_check_topic(topic, NULL) != KLAB_OK)
		return KLAB_EINVAL;
	if ((body = pvalue_new(proto_api(KAPI_METADATA)->request)) == NULL)
		return KLAB_ENOMEM;
	arr = pvalue_array(body, "topics");
	if (topic == NULL) {
		pvalue_array_set_null(arr);
	} else if (pvalue_array_resize(arr, 1) == KLAB_OK) {
		pvalue_set_str(pvalue_at(arr, 0), "name", topic);
	} else {
		pvalue_free(body);
		return KLAB_ENOMEM;
	}
	pvalue_set_int(body, "allow_auto_topic_creation", 0);
	return send(kc, KAPI_METADATA, 12, body, cb, arg);
}
