/*
 * node.h - the contract between a node (broker, coordinator server,
 * client) and the runtime that drives it (chapter 3 §1; DESIGN §2).
 *
 * A node is a sans-I/O state machine: it never calls socket(), read(),
 * open(), fsync(), clock_gettime() or rand().  The runtime calls the node's handlers when
 * something happens, and the node acts only through `struct rt`, the
 * runtime's operations.  Two runtimes implement `struct rt`:
 *
 *   sim   (src/net/sim.c)   one thread, virtual time, one seeded PRNG, a
 *                           network that can delay, drop, duplicate,
 *                           reorder and cut; nodes that crash and restart.
 *   real  (src/net/real.c)  epoll over TCP, the wall clock, signals.
 *
 * Frames are whole protocol frames including their int32 size prefix:
 * the runtime cuts the byte stream into frames (frame_size() says how
 * long the next one is), so a node always sees exactly one frame per
 * on_frame call, in both runtimes.
 *
 *   event                     handler
 *   node started              on_start(node)
 *   a peer connected to us    on_accept(node, conn, listener)
 *   our connect() completed   on_connected(node, conn, ok)
 *   a frame arrived           on_frame(node, conn, bytes, len)
 *   a connection closed       on_closed(node, conn)
 *   a timer fired             on_timer(node, timer_id)
 *   the node is stopping      on_stop(node)        (clean shutdown)
 */
#ifndef KLAB_NET_NODE_H
#define KLAB_NET_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

typedef int64_t conn_id;  /* > 0; never reused within a run */
typedef int64_t timer_id; /* > 0 */

struct rt; /* the runtime */

/* A piece of a frame for send_parts: bytes, then a region of a file. */
struct rt_part {
	const uint8_t *bytes;
	size_t len;
	struct fs_file *file; /* NULL: no file region */
	int64_t file_off;
	size_t file_len;
};

struct rt_ops {
	/* Listen on host:port (port 0: the runtime picks); returns a listener id > 0. */
	int64_t (*listen)(struct rt *rt, const char *host, int port, struct kerr *e);
	/* Start connecting; the outcome arrives as on_connected. */
	conn_id (*connect)(struct rt *rt, const char *host, int port);
	/* Queue a whole frame (size prefix included) on conn; copies the bytes. */
	int (*send)(struct rt *rt, conn_id c, const uint8_t *frame, size_t len);
	/*
	 * Queue one frame made of n parts, each some bytes followed by
	 * file_len bytes of file from file_off (NULL: none), a file of the
	 * node's own disk.  The first
	 * part starts with the size prefix, which counts every part.  The
	 * real runtime sends the file parts with sendfile (zero-copy); the
	 * sim copies them.  Nothing is queued unless the whole frame is.
	 */
	int (*send_parts)(struct rt *rt, conn_id c, const struct rt_part *parts, size_t n);
	/* Close c; the peer sees on_closed, this node does not. */
	void (*close)(struct rt *rt, conn_id c);
	timer_id (*set_timer)(struct rt *rt, int64_t after_ms);
	void (*cancel_timer)(struct rt *rt, timer_id t);
	int64_t (*now_ms)(struct rt *rt);
	uint64_t (*random)(struct rt *rt);
	const char *(*data_dir)(struct rt *rt);
	/* The node's disk: every file it keeps goes through it (core/fs.h). */
	struct fs *(*disk)(struct rt *rt);
	/* One line for the trace (the REPL's `trace on` shows them). */
	void (*trace)(struct rt *rt, const char *line);
	/* The port a listener is bound to (after listen with port 0), or -1. */
	int (*listener_port)(struct rt *rt, int64_t listener);
};

struct rt {
	const struct rt_ops *ops;
	void *impl;
};

struct node;

struct node_ops {
	void (*on_start)(struct node *n);
	void (*on_accept)(struct node *n, conn_id c, int64_t listener);
	void (*on_connected)(struct node *n, conn_id c, bool ok);
	void (*on_frame)(struct node *n, conn_id c, const uint8_t *frame, size_t len);
	void (*on_closed)(struct node *n, conn_id c);
	void (*on_timer)(struct node *n, timer_id t);
	void (*on_stop)(struct node *n);
};

struct node {
	const struct node_ops *ops;
	struct rt *rt;
	void *state;
	const char *name; /* "broker-1", for traces */
};

/*
 * How long the next frame is, given the first avail bytes of a stream:
 * 0 when fewer than 4 bytes are there, 4 + size otherwise;
 * KLAB_ETOOLARGE when size > max_frame, KLAB_ECORRUPT when size < 0.
 */
int64_t frame_size(const uint8_t *p, size_t avail, int32_t max_frame);

/*
 * The length of the frame that parts[0..n) make, checked: KLAB_EINVAL
 * unless the first part holds the size prefix and it counts every byte
 * of every part.
 */
int64_t frame_parts_size(const struct rt_part *parts, size_t n);

#endif
