/*
 * sim.h - the deterministic simulator: a runtime (node.h) with virtual
 * time, one seeded PRNG and a network that misbehaves on purpose
 * (chapter 3 §2; DESIGN §2).  The fault model is described at the top of
 * sim.c.
 *
 * Interface:
 *   sim_init(seed) / sim_free()   one simulated world; everything random in
 *                  it (delays, faults, rt->random) comes from the seed.
 *   sim_add_node() a node with its name, handlers, state and data directory;
 *                  its on_start runs as the first event at the current time.
 *                  Each node gets its own simulated disk (sim_disk_of()).
 *   sim_step()     deliver exactly one event; false when nothing is queued.
 *   sim_run_for()  deliver every event up to now + ms, then set the clock
 *                  to now + ms.  sim_run_until_idle(): until nothing is
 *                  queued or max_events were delivered.
 *   faults         sim_set_faults() for every link, sim_set_link_faults()
 *                  for one pair; sim_partition() / sim_heal(); sim_crash(),
 *                  sim_stop(), sim_restart().
 *   trace          one line per event to a callback; frames are summarised
 *                  by a pluggable describe function (hex by default).
 *   invariants     sim_check_invariants() checks the simulator's own rules
 *                  and then the test's (sim_set_invariant()); sim_step()
 *                  runs it after every event while sim->check_each_step.
 *
 * The simulator never owns a node's state: on crash it calls the node's
 * crash hook (sim_on_crash()), which may free or reset the state to what a
 * process that lost its memory would find, before sim_restart().
 */
#ifndef KLAB_NET_SIM_H
#define KLAB_NET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "net/disk_sim.h"
#include "net/node.h"

#define SIM_MAX_NODES 64 /* faults[][] below makes struct sim about 225 KiB */
#define SIM_NAME_MAX 32
#define SIM_DIR_MAX 256
#define SIM_LISTENERS_MAX 64
#define SIM_LINE_MAX 512

/* How one link (a pair of nodes, both directions) misbehaves. */
struct sim_faults {
	int64_t delay_min_ms; /* every frame takes [min, max] ms */
	int64_t delay_max_ms;
	double drop;		/* probability a frame is lost */
	double duplicate;	/* probability a frame is delivered twice */
	double reorder;		/* probability a frame gets an extra delay ... */
	int64_t reorder_max_ms; /* ... of up to this, and may be overtaken */
};

enum sim_node_state { SIM_UP, SIM_CRASHED, SIM_STOPPED };

struct sim;

struct sim_node {
	struct sim *sim;
	int index;
	char name[SIM_NAME_MAX];
	char data_dir[SIM_DIR_MAX];
	struct node node; /* node.rt points at rt below */
	struct rt rt;	  /* rt.impl points back at this sim_node */
	enum sim_node_state state;
	uint32_t incarnation;		     /* +1 at every restart; stale events are dropped */
	struct disk_sim *disk;		     /* the node's simulated disk (rt->disk) */
	struct disk_crash_report last_crash; /* what its disk's last power cut cost */
	void (*crash_hook)(struct node *n);
};

struct sim_listener {
	char name[SIM_NAME_MAX + 8]; /* "host:port" */
	int port;
	int node;
	int64_t id; /* 0: the slot is free */
};

struct sim_event;
struct sim_conn;

typedef void (*sim_trace_fn)(void *arg, const char *line);
/*
 * Write a short summary of a frame (NUL-terminated) into out[cap].  link
 * names the connection (the same for both directions), so that a
 * describer can match a response to the request it answers.
 */
typedef void (*sim_describe_fn)(void *arg, uint64_t link, const uint8_t *frame, size_t len,
				char *out, size_t cap);
/* Return KLAB_OK, or an error with a sentence in *e. */
typedef int (*sim_invariant_fn)(void *arg, struct sim *s, struct kerr *e);

struct sim {
	int64_t now_ms;
	uint64_t rng[4]; /* xoshiro256** */
	uint64_t seed;
	uint64_t next_seq;

	struct sim_node nodes[SIM_MAX_NODES];
	int nnodes;

	struct sim_faults faults[SIM_MAX_NODES][SIM_MAX_NODES];
	bool cut[SIM_MAX_NODES][SIM_MAX_NODES];	      /* partitions */
	bool lose_next[SIM_MAX_NODES][SIM_MAX_NODES]; /* sim_lose_next */
	int64_t cut_timeout_ms;			      /* a cut connection closes after this */
	int64_t connect_timeout_ms;

	/* The event queue: a binary min-heap ordered by (time_ms, seq). */
	struct sim_event **heap;
	size_t nheap, heap_cap;
	size_t max_events_queued;

	/*
	 * The connections not yet freed, in order of their number k (endpoint
	 * ids 2k+1 and 2k+2).  A connection is freed once both its endpoints
	 * are closed and no queued event names it, so this holds about as
	 * many as are open, however many were ever made.
	 */
	struct sim_conn **conns;
	size_t nconns, conns_cap;
	size_t nconns_dead;	   /* freeable, until the end of the step */
	size_t nconns_peak;	   /* the most nconns has been */
	uint64_t conns_made;	   /* the next connection is number conns_made */
	size_t max_inflight_bytes; /* per direction of a connection */

	struct sim_listener listeners[SIM_LISTENERS_MAX];
	int64_t next_listener;
	int next_port;
	timer_id next_timer;

	uint64_t events_delivered;
	sim_trace_fn trace;
	void *trace_arg;
	int64_t trace_epoch_ms; /* trace lines show now_ms minus this */
	sim_describe_fn describe;
	void *describe_arg;
	sim_invariant_fn invariant;
	void *invariant_arg;
	bool check_each_step;
	bool violated; /* an invariant failed; sim_step refuses to go on */
	struct kerr violation;
};

void sim_init(struct sim *s, uint64_t seed);
void sim_free(struct sim *s);

/*
 * Add a node; returns its index (>= 0) or KLAB_EFULL.  name and data_dir
 * (may be NULL) are copied; state belongs to the caller.
 */
int sim_add_node(struct sim *s, const char *name, const struct node_ops *ops, void *state,
		 const char *data_dir);
struct node *sim_node(struct sim *s, int index);
int sim_find_node(const struct sim *s, const char *name); /* -1: none */
void sim_on_crash(struct sim *s, int index, void (*hook)(struct node *n));

bool sim_step(struct sim *s);
void sim_run_for(struct sim *s, int64_t ms);
/* Returns how many events were delivered. */
uint64_t sim_run_until_idle(struct sim *s, uint64_t max_events);
int64_t sim_now(const struct sim *s);

void sim_set_faults(struct sim *s, const struct sim_faults *f);
void sim_set_link_faults(struct sim *s, int a, int b, const struct sim_faults *f);

/*
 * Cut the network into groups: group_of[i] is node i's group (nnodes
 * entries); nodes in different groups cannot talk.  Replaces any earlier
 * partition.  sim_partition_str() takes "a,b|c" by node names; nodes not
 * named are each cut off alone.
 */
void sim_partition(struct sim *s, const int *group_of);
int sim_partition_str(struct sim *s, const char *spec, struct kerr *e);
void sim_heal(struct sim *s);

/*
 * The next frame node `from` sends node `to` is lost, and the connection
 * it was on closes on both sides: a connection that dropped with that
 * frame in flight (an answer written by a broker that never reaches the
 * client).  One frame; later ones travel as usual.
 */
void sim_lose_next(struct sim *s, int from, int to);

/* A crash: the node's memory (crash hook) and then its disk's power (disk_sim_crash). */
void sim_crash(struct sim *s, int index);
/* The node's simulated disk: faults, mirroring, statistics. */
struct disk_sim *sim_disk_of(struct sim *s, int index);
void sim_stop(struct sim *s, int index);
/* Start a crashed or stopped node again: on_start runs as an event. */
void sim_restart(struct sim *s, int index);

void sim_set_trace(struct sim *s, sim_trace_fn fn, void *arg);
void sim_set_describe(struct sim *s, sim_describe_fn fn, void *arg);
void sim_set_invariant(struct sim *s, sim_invariant_fn fn, void *arg);
int sim_check_invariants(struct sim *s, struct kerr *e);

#endif
