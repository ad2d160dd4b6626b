/*
 * handlers.c - one function per Kafka API (see broker.h; chapter 3 §3).
 *
 * Each handler reads the decoded request tree and fills the response tree
 * of the same version; the codec leaves out what a version does not have,
 * so a handler may set every field it knows.  Strings in the response
 * point into the request frame or into request memory (breq_*), both of
 * which live until the response is encoded.
 */
#include "broker/broker.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "log/batch.h"
#include "core/err.h"

/*
 * Lab 3, open level: write this file from the contracts in its header.
 * Every function below compiles and does nothing yet; the private
 * structures and helpers are yours to design.  Delete the pragma once
 * every parameter is used.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"

int
handle_api_versions(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_metadata(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_produce(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_fetch(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_find_coordinator(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_init_producer_id(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_list_offsets(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_create_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}

int
handle_delete_topics(struct broker_req *r, const struct pvalue *req, struct pvalue *resp)
{
	return KLAB_ENOTIMPL;
}
