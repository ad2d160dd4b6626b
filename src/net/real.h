/*
 * real.h - the real runtime: nodes (node.h) driven by an epoll loop over
 * TCP, the wall clock and signals (chapter 3 §3; DESIGN §2).
 *
 * Interface:
 *   real_new(cfg) / real_free()   a runtime; real_config_defaults() fills
 *                  Kafka's defaults for the settings it reads.
 *   real_add_node()  like sim_add_node(): on_start runs when real_run()
 *                  starts (or at once if it is running).
 *   real_run()     the loop: returns 0 after real_stop() or SIGINT/SIGTERM
 *                  (when cfg.handle_signals), having called every node's
 *                  on_stop; KLAB_EIO if the loop itself failed.
 *   real_stop()    asks the loop to stop; safe from a node's handler.
 *
 * Socket, epoll and signal headers stay in real.c: node code never sees
 * them.
 */
#ifndef KLAB_NET_REAL_H
#define KLAB_NET_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "net/node.h"

struct real_config {
	int32_t max_frame_bytes; /* socket.request.max.bytes (104857600) */
	int max_connections; /* max.connections (accepted ones; a node's own connects are not counted) */
	int max_connections_per_ip; /* max.connections.per.ip (accepted ones from one address) */
	int64_t idle_timeout_ms;    /* connections.max.idle.ms (600000); 0: never */
	int64_t request_timeout_ms; /* klab.request.read.timeout.ms (30000); 0: never */
	size_t max_output_bytes;    /* queued but unsent bytes per connection: more is refused */
	size_t mute_output_bytes;   /* an accepted connection's requests wait while this much
					of its output is queued (1 MiB) */
	size_t queued_output_max;   /* klab.queued.max.response.bytes: queued output of every
					accepted connection together (256 MiB) */
	int64_t queued_request_max; /* queued.max.request.bytes: frames being read by every
					accepted connection together (-1: no bound) */
	bool handle_signals;	    /* SIGINT/SIGTERM stop the loop */
	/* Log lines (refused connections, oversized frames); NULL: stderr. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
	/* rt->trace lines; NULL: dropped. */
	void (*trace)(void *arg, const char *line);
	void *trace_arg;
};

struct real;

void real_config_defaults(struct real_config *cfg);
/* NULL when out of memory or epoll could not be created. */
struct real *real_new(const struct real_config *cfg);
void real_free(struct real *r);

/* Returns the node's index (>= 0), or KLAB_EFULL / KLAB_ENOMEM. */
int real_add_node(struct real *r, const char *name, const struct node_ops *ops, void *state,
		  const char *data_dir);
struct node *real_node(struct real *r, int index);

int real_run(struct real *r);
void real_stop(struct real *r);

/*
 * For a program that drives the loop itself (the REPL's `connect`):
 * real_poll() starts the nodes on first use, then runs one round of the
 * loop, waiting at most max_wait_ms for something to happen; KLAB_EIO if
 * epoll failed.  Signals are not handled.  real_shutdown() calls every
 * node's on_stop and closes the connections.
 */
int real_poll(struct real *r, int64_t max_wait_ms);
void real_shutdown(struct real *r);

#endif
