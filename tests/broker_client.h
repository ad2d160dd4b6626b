/*
 * broker_client.h - the test client node of the simulated broker tests
 * (tests/ch3/test_broker.c, tests/labs/lab3/test_lab3.c): it connects,
 * keeps every frame it receives, and counts closes.  Include after
 * cmocka.h, core/buf.h and net/node.h.
 */
#ifndef KLAB_TESTS_BROKER_CLIENT_H
#define KLAB_TESTS_BROKER_CLIENT_H

#include <stdbool.h>
#include <stdlib.h>

#include "core/buf.h"
#include "net/node.h"

struct client {
	conn_id conn;
	bool connected;
	int closed;
	struct buf *frames; /* every frame received, kept for the trees into them */
	size_t nframes, cap;
};

static void
client_connected(struct node *n, conn_id c, bool ok)
{
	struct client *cl = n->state;

	if (c == cl->conn)
		cl->connected = ok;
}

static void
client_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct client *cl = n->state;

	(void)c;
	if (cl->nframes == cl->cap) {
		cl->cap = cl->cap ? 2 * cl->cap : 16;
		cl->frames = realloc(cl->frames, cl->cap * sizeof(*cl->frames));
		assert_non_null(cl->frames);
	}
	buf_init(&cl->frames[cl->nframes]);
	buf_put(&cl->frames[cl->nframes], f, len);
	cl->nframes++;
}

static void
client_closed(struct node *n, conn_id c)
{
	struct client *cl = n->state;

	if (c == cl->conn) {
		cl->closed++;
		cl->connected = false;
		cl->conn = 0;
	}
}

static const struct node_ops client_ops = {
	.on_connected = client_connected,
	.on_frame = client_frame,
	.on_closed = client_closed,
};

#endif
