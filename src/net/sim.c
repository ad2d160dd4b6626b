/*
 * sim.c - the deterministic simulator (chapter 3 §2; DESIGN §2).
 *
 * Every node of a simulated cluster lives in this one thread.  Nothing
 * happens unless an event is taken from the queue: there is no real time,
 * no real network, no other source of randomness than one PRNG seeded by
 * the caller.  Two runs with the same seed, the same nodes and the same
 * calls make the same events in the same order, byte for byte, so one
 * number ("reproduce with KLAB_SEED=N") replays any failure.  The design
 * follows TigerBeetle's VOPR and canonical/raft's test fixture; the fault
 * model follows MIT 6.5840's labrpc.
 *
 * Events.  The queue is a binary min-heap ordered by (time_ms, seq); seq
 * grows with every event scheduled, so two events due at the same
 * millisecond run in the order they were made.  sim_step() takes the first
 * event, sets the clock to its time and delivers it:
 *
 *   START      on_start          (sim_add_node, sim_restart)
 *   CONNECT    on_accept         a connect() reached a listener
 *   CONNECTED  on_connected      the answer got back (ok or not)
 *   FRAME      on_frame
 *   CLOSED     on_closed         (on_connected(false) if still connecting)
 *   TIMER      on_timer
 *
 * The fault model, per link (an ordered pair of nodes, struct sim_faults):
 *
 *   delay      each frame takes a uniform [delay_min_ms, delay_max_ms].
 *              Without reordering a connection is FIFO: a frame never
 *              arrives before one sent earlier in the same direction.
 *   drop       a frame is lost with probability `drop`; the connection
 *              stays up.  (TCP would retransmit; a lost frame here stands
 *              for "the request or its reply vanished", as in labrpc, so
 *              callers must time out and retry.)
 *   closed     a frame sent after the peer's endpoint closed (or its node
 *              crashed) is lost at once: nobody will read it.
 *   duplicate  a frame is delivered twice with probability `duplicate`.
 *   reorder    with probability `reorder` a frame gets up to reorder_max_ms
 *              extra, and later frames may overtake it.
 *   cut        sim_partition() cuts links.  A connection across a cut
 *              delivers nothing more and closes on both sides
 *              cut_timeout_ms later, even if the cut heals meanwhile (TCP
 *              gave up).  A connect() across a cut fails (on_connected
 *              false) connect_timeout_ms after it reached the cut.
 *   lose next  sim_lose_next(a, b): the next frame a sends b is lost and
 *              its connection closes on both sides 1 ms later (an answer
 *              in flight when the connection dropped).  No PRNG draw.
 *   crash      sim_crash(): the node's timers and queued events vanish, its
 *              listeners disappear, its peers see on_closed one link delay
 *              later; no on_stop.  The crash hook then lets the node's
 *              memory be lost (it must do no I/O), and the node's disk
 *              has its power cut (disk_sim_crash): what was not fsynced is
 *              lost or torn, names not made durable by a directory fsync
 *              vanish.
 *   disk       every node has its own simulated disk (net/disk_sim.h),
 *              seeded from the world's seed and the node's index, so a
 *              simulated test touches no real file; rt->disk hands it to
 *              the node.  A stop leaves the disk as it is: the process
 *              ended, the machine did not.
 *   stop       sim_stop(): on_stop runs first (it may still send), then as
 *              a crash without the hook.
 *
 * With every probability 0 a connection behaves as TCP does: in order,
 * exactly once, closed by FIN after its last frame.
 *
 * Connections.  Connection k has two endpoints: id 2k+1 on the side that
 * called connect(), 2k+2 on the side that accepted; k counts up from 0,
 * so ids are never reused.  Frames in flight live in the event queue; each
 * direction counts its frames and bytes, bounded by max_inflight_bytes
 * (send: KLAB_EFULL).  A queued event that names a connection pins it:
 * the connection counts such events, and once both endpoints are closed
 * and the count is 0 nothing can reach it any more - it is marked dead and
 * freed at the end of the step.  s->conns keeps the rest sorted by k and
 * is searched by bisection, so an id a node still holds after its
 * connection was freed finds nothing (send: KLAB_ESTATE, close: nothing),
 * as it would find a closed endpoint.  A long run keeps about as many
 * connections as are open, not as many as were ever made.
 *
 * The order of PRNG draws is fixed: for each frame sent, drop (if its
 * probability is not 0), duplicate (likewise), then per copy delay and
 * reorder; rt->random draws from the same stream.
 *
 * Invariants (sim_check_invariants):
 *   1. the heap is ordered, and no queued event is earlier than now;
 *   2. an open or connecting endpoint belongs to an up node, this
 *      incarnation of it;
 *   3. no event but CONNECT (which fails) is queued for a node that is down;
 *   4. each direction's frame counter equals the frames queued for it;
 *   5. every connection a queued event names is still there, and counts
 *      exactly the events that name it; s->conns is sorted by k.
 * The check allocates nothing and looks at each queued event and each
 * connection not yet freed once (plus a bisection per event), so it can
 * run after every step of a large, long world.
 *
 * The simulator aborts when memory runs out: a silently lost event would
 * make a run unreproducible.
 */
#include "net/sim.h"

#include "net/disk_sim.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"

enum ev_kind { EV_START, EV_CONNECT, EV_CONNECTED, EV_FRAME, EV_CLOSED, EV_TIMER };

static const char *const ev_names[] = {
	"start", "accept", "connected", "frame", "closed", "timer"
};

struct sim_event {
	int64_t time_ms;
	uint64_t seq;
	enum ev_kind kind;
	int node; /* who receives it */
	int from; /* who caused it; -1: the simulator */
	uint32_t incarnation;
	conn_id conn;	  /* the receiving endpoint (CONNECT: the connector's) */
	timer_id timer;	  /* TIMER */
	int64_t listener; /* CONNECT */
	bool ok;	  /* CONNECTED */
	bool cancelled;	  /* skipped when it comes up */
	uint8_t *frame;	  /* FRAME: owned */
	size_t len;
};

enum ep_state { EP_NONE, EP_CONNECTING, EP_OPEN, EP_CLOSED };

struct sim_endpoint {
	int node;
	uint32_t incarnation;
	enum ep_state state;
};

struct sim_conn {
	uint64_t k;		   /* endpoint ids 2k+1 and 2k+2 */
	struct sim_endpoint ep[2]; /* 0: connect() side, 1: accept side */
	bool doomed;		   /* crossed a cut: closes on both sides */
	bool dead;		   /* both ends closed, no event: freed soon */
	size_t events;		   /* queued events that name it (invariant 5) */
	/* Per direction, indexed by the receiving side: */
	int64_t fifo_ms[2]; /* latest in-order arrival */
	int64_t last_ms[2]; /* latest arrival of anything (FIN goes after) */
	size_t inflight_frames[2];
	size_t inflight_bytes[2];
	/* Scratch for sim_check_invariants: what the queue holds for it. */
	size_t seen_events;
	size_t seen_frames[2];
};

static const struct rt_ops sim_rt_ops;

/* ---- PRNG: xoshiro256**, seeded through splitmix64 ---------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct sim *s)
{
	uint64_t *r = s->rng;
	uint64_t out = rotl(r[1] * 5, 7) * 9;
	uint64_t t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return out;
}

/* Uniform in [lo, hi] (the modulo bias is irrelevant here). */
static int64_t
rng_range(struct sim *s, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

/* True with probability p; draws nothing when p <= 0. */
static bool
rng_chance(struct sim *s, double p)
{
	if (p <= 0)
		return false;
	return (double)(rng_next(s) >> 11) * 0x1p-53 < p;
}

/* ---- memory, names, trace ------------------------------------------------ */

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	return p;
}

static const char *
node_name(const struct sim *s, int i)
{
	return i >= 0 && i < s->nnodes ? s->nodes[i].name : "sim";
}

static void
hex_describe(void *arg, uint64_t link, const uint8_t *frame, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	(void)arg;
	(void)link;
	out[0] = '\0';
	for (size_t i = 0; i < len && i < 12 && n + 4 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02x ", frame[i]);
	if (len > 12 && n + 4 < cap)
		snprintf(out + n, cap - n, "...");
}

static void
strace(struct sim *s, int from, int to, const char *what, const char *fmt, ...)
{
	char detail[SIM_LINE_MAX], line[SIM_LINE_MAX + 64];
	va_list ap;

	if (s->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%8" PRId64 " ms  %-10s -> %-10s %-10s %s",
		 s->now_ms - s->trace_epoch_ms, node_name(s, from), node_name(s, to), what, detail);
	s->trace(s->trace_arg, line);
}

static void
trace_frame(struct sim *s, int from, int to, const char *what, conn_id c, const uint8_t *p,
	    size_t len)
{
	char desc[SIM_LINE_MAX - 96];

	if (s->trace == NULL)
		return;
	s->describe(s->describe_arg, (uint64_t)(c - 1) / 2, p, len, desc, sizeof(desc));
	strace(s, from, to, what, "c%" PRId64 " %zuB %s", c, len, desc);
}

/* ---- the event queue ------------------------------------------------------ */

static bool
ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->time_ms < b->time_ms || (a->time_ms == b->time_ms && a->seq < b->seq);
}

static void
heap_swap(struct sim *s, size_t i, size_t j)
{
	struct sim_event *t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
}

static void
heap_push(struct sim *s, struct sim_event *ev)
{
	size_t i;

	if (s->nheap == s->heap_cap) {
		size_t cap = s->heap_cap ? 2 * s->heap_cap : 64;
		struct sim_event **h = realloc(s->heap, cap * sizeof(*h));

		if (h == NULL) {
			fprintf(stderr, "sim: out of memory\n");
			abort();
		}
		s->heap = h;
		s->heap_cap = cap;
	}
	i = s->nheap++;
	s->heap[i] = ev;
	while (i > 0 && ev_before(s->heap[i], s->heap[(i - 1) / 2])) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct sim_event *
heap_pop(struct sim *s)
{
	struct sim_event *top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && ev_before(s->heap[l], s->heap[m]))
			m = l;
		if (r < s->nheap && ev_before(s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(s, i, m);
		i = m;
	}
	return top;
}

/* A new event for node at time t (not yet queued). */
static struct sim_event *
ev_new(struct sim *s, enum ev_kind kind, int node, int from, int64_t t)
{
	struct sim_event *ev = xcalloc(1, sizeof(*ev));

	assert(t >= s->now_ms);
	ev->time_ms = t;
	ev->seq = s->next_seq++;
	ev->kind = kind;
	ev->node = node;
	ev->from = from;
	ev->incarnation = s->nodes[node].incarnation;
	return ev;
}

static struct sim_conn *conn_of(const struct sim *s, conn_id c, int *side);
static void conn_release(struct sim *s, struct sim_conn *c);

static void
ev_free(struct sim *s, struct sim_event *ev)
{
	if (ev->conn != 0) {
		int side;
		struct sim_conn *c = conn_of(s, ev->conn, &side);

		assert(c != NULL && c->events > 0); /* the event pinned it */
		c->events--;
		if (ev->kind == EV_FRAME) {
			c->inflight_frames[side]--;
			c->inflight_bytes[side] -= ev->len;
		}
		conn_release(s, c);
	}
	free(ev->frame);
	free(ev);
}

/* ---- connections ------------------------------------------------------------ */

static conn_id
ep_id(uint64_t k, int side)
{
	return (conn_id)(2 * k + 1 + (uint64_t)side);
}

/* The connection of endpoint c, and which side c is; NULL when unknown or freed. */
static struct sim_conn *
conn_of(const struct sim *s, conn_id c, int *side)
{
	size_t lo = 0, hi = s->nconns;
	uint64_t k;

	*side = 0;
	if (c <= 0)
		return NULL;
	k = (uint64_t)(c - 1) / 2;
	while (lo < hi) { /* the first connection numbered k or more */
		size_t mid = lo + (hi - lo) / 2;

		if (s->conns[mid]->k < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->nconns || s->conns[lo]->k != k || s->conns[lo]->dead)
		return NULL;
	*side = (int)((c - 1) % 2);
	return s->conns[lo];
}

static struct sim_conn *
conn_new(struct sim *s, int node)
{
	struct sim_conn *c = xcalloc(1, sizeof(*c));

	if (s->nconns == s->conns_cap) {
		size_t cap = s->conns_cap ? 2 * s->conns_cap : 16;
		struct sim_conn **a = realloc(s->conns, cap * sizeof(*a));

		if (a == NULL) {
			fprintf(stderr, "sim: out of memory\n");
			abort();
		}
		s->conns = a;
		s->conns_cap = cap;
	}
	c->k = s->conns_made++; /* the highest number yet: s->conns stays sorted */
	c->ep[0].node = node;
	c->ep[0].incarnation = s->nodes[node].incarnation;
	c->ep[0].state = EP_CONNECTING;
	c->ep[1].node = -1;
	s->conns[s->nconns++] = c;
	if (s->nconns > s->nconns_peak)
		s->nconns_peak = s->nconns;
	return c;
}

/* Let ev name endpoint `side` of c; c stays until ev is freed. */
static void
ev_pin(struct sim_event *ev, struct sim_conn *c, int side)
{
	assert(!c->dead);
	ev->conn = ep_id(c->k, side);
	c->events++;
}

/* Free the dead connections, keeping the others in order. */
static void
conns_sweep(struct sim *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nconns; i++) {
		if (s->conns[i]->dead)
			free(s->conns[i]);
		else
			s->conns[n++] = s->conns[i];
	}
	s->nconns = n;
	s->nconns_dead = 0;
}

static bool
ep_live(const struct sim_endpoint *e)
{
	return e->state == EP_CONNECTING || e->state == EP_OPEN;
}

/*
 * Once both endpoints are closed and no event names c, nothing can reach
 * it: mark it dead.  It is freed at the end of the step (conns_sweep), so
 * that nobody walking s->conns sees it go.
 */
static void
conn_release(struct sim *s, struct sim_conn *c)
{
	if (c->dead || c->events > 0 || ep_live(&c->ep[0]) || ep_live(&c->ep[1]))
		return;
	c->dead = true;
	s->nconns_dead++;
}

/* When something sent now towards side `to` arrives, in order. */
static int64_t
arrival_fifo(struct sim *s, struct sim_conn *c, int to, int64_t delay)
{
	int64_t t = s->now_ms + delay;

	if (t < c->fifo_ms[to])
		t = c->fifo_ms[to];
	c->fifo_ms[to] = t;
	if (t > c->last_ms[to])
		c->last_ms[to] = t;
	return t;
}

static int64_t
link_delay(struct sim *s, int from, int to)
{
	const struct sim_faults *f = &s->faults[from][to];

	return rng_range(s, f->delay_min_ms, f->delay_max_ms);
}

/* Tell side `to` of connection c that its peer went away (FIN or RST). */
static void
notify_closed(struct sim *s, struct sim_conn *c, int to, int from_node, int64_t at)
{
	struct sim_event *ev;

	if (!ep_live(&c->ep[to]))
		return;
	ev = ev_new(s, EV_CLOSED, c->ep[to].node, from_node, at);
	ev->incarnation = c->ep[to].incarnation;
	ev_pin(ev, c, to);
	heap_push(s, ev);
}

static void
notify_closed_fifo(struct sim *s, struct sim_conn *c, int to, int from_node)
{
	int64_t t;

	if (c->doomed || !ep_live(&c->ep[to]))
		return; /* a doomed connection's close is already queued */
	t = s->now_ms + link_delay(s, from_node, c->ep[to].node);
	if (t < c->last_ms[to])
		t = c->last_ms[to];
	notify_closed(s, c, to, from_node, t);
}

/* Queue copies of a frame towards side `to` of connection c, with faults. */
static void
transmit(struct sim *s, struct sim_conn *c, int to, const uint8_t *p, size_t len)
{
	uint64_t k = c->k;
	int from = c->ep[1 - to].node, dst = c->ep[to].node;
	const struct sim_faults *f = &s->faults[from][dst];
	int copies = 1;

	if (!ep_live(&c->ep[to])) { /* the peer has gone: nobody reads it */
		trace_frame(s, from, dst, "lost(peer)", ep_id(k, 1 - to), p, len);
		return;
	}
	if (s->cut[from][dst] || c->doomed) {
		trace_frame(s, from, dst, "lost(cut)", ep_id(k, 1 - to), p, len);
		return;
	}
	if (s->lose_next[from][dst]) {
		s->lose_next[from][dst] = false;
		trace_frame(s, from, dst, "lost(drop)", ep_id(k, 1 - to), p, len);
		c->doomed = true;
		for (int side = 0; side < 2; side++)
			notify_closed(s, c, side, -1, s->now_ms + 1);
		return;
	}
	if (rng_chance(s, f->drop)) {
		trace_frame(s, from, dst, "drop", ep_id(k, 1 - to), p, len);
		return;
	}
	if (rng_chance(s, f->duplicate)) {
		trace_frame(s, from, dst, "duplicate", ep_id(k, 1 - to), p, len);
		copies = 2;
	}
	for (int i = 0; i < copies; i++) {
		int64_t t = s->now_ms + link_delay(s, from, dst);
		struct sim_event *ev;

		if (t < c->fifo_ms[to])
			t = c->fifo_ms[to];
		if (rng_chance(s, f->reorder)) /* late, and later frames may overtake */
			t += rng_range(s, 1, f->reorder_max_ms > 0 ? f->reorder_max_ms : 1);
		else
			c->fifo_ms[to] = t;
		if (t > c->last_ms[to])
			c->last_ms[to] = t;
		ev = ev_new(s, EV_FRAME, dst, from, t);
		ev->incarnation = c->ep[to].incarnation;
		ev_pin(ev, c, to);
		ev->frame = xcalloc(1, len ? len : 1);
		memcpy(ev->frame, p, len);
		ev->len = len;
		c->inflight_frames[to]++;
		c->inflight_bytes[to] += len;
		heap_push(s, ev);
	}
}

/* ---- listeners ---------------------------------------------------------------- */

static struct sim_listener *
listener_by_name(struct sim *s, const char *name)
{
	for (int i = 0; i < SIM_LISTENERS_MAX; i++)
		if (s->listeners[i].id != 0 && strcmp(s->listeners[i].name, name) == 0)
			return &s->listeners[i];
	return NULL;
}

static struct sim_listener *
listener_by_id(struct sim *s, int64_t id)
{
	for (int i = 0; i < SIM_LISTENERS_MAX; i++)
		if (id != 0 && s->listeners[i].id == id)
			return &s->listeners[i];
	return NULL;
}

static bool
port_used(struct sim *s, int port)
{
	for (int i = 0; i < SIM_LISTENERS_MAX; i++)
		if (s->listeners[i].id != 0 && s->listeners[i].port == port)
			return true;
	return false;
}

/* ---- struct rt for a simulated node ----------------------------------------------- */

static struct sim_node *
sn_of(struct rt *rt)
{
	struct sim_node *sn = rt->impl;

	assert(sn != NULL && sn->sim != NULL);
	return sn;
}

static int64_t
sim_listen(struct rt *rt, const char *host, int port, struct kerr *e)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;
	struct sim_listener *l = listener_by_id(s, 0);
	char name[sizeof(l->name)];

	if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		host = sn->name;
	if (port < 0 || port > 65535)
		return kerr_set(e, KLAB_EINVAL, "listen: bad port %d", port);
	while (port == 0 && port_used(s, s->next_port))
		s->next_port++;
	if (port == 0)
		port = s->next_port++;
	snprintf(name, sizeof(name), "%s:%d", host, port);
	if (listener_by_name(s, name) != NULL)
		return kerr_set(e, KLAB_EINVAL, "listen: %s: address in use", name);
	for (int i = 0; i < SIM_LISTENERS_MAX; i++) {
		l = &s->listeners[i];
		if (l->id != 0)
			continue;
		snprintf(l->name, sizeof(l->name), "%s", name);
		l->port = port;
		l->node = sn->index;
		l->id = ++s->next_listener;
		strace(s, sn->index, sn->index, "listen", "%s (l%" PRId64 ")", name, l->id);
		return l->id;
	}
	return kerr_set(e, KLAB_EFULL, "listen: more than %d listeners", SIM_LISTENERS_MAX);
}

static int
sim_listener_port(struct rt *rt, int64_t listener)
{
	struct sim_listener *l = listener_by_id(sn_of(rt)->sim, listener);

	return l != NULL && l->node == sn_of(rt)->index ? l->port : -1;
}

static conn_id
sim_connect(struct rt *rt, const char *host, int port)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;
	struct sim_conn *c = conn_new(s, sn->index);
	uint64_t k = c->k;
	char name[SIM_NAME_MAX + 8];
	struct sim_listener *l;
	struct sim_event *ev;

	snprintf(name, sizeof(name), "%s:%d", host, port);
	l = listener_by_name(s, name);
	if (l == NULL) { /* connection refused, one hop later */
		strace(s, sn->index, sn->index, "connect", "c%" PRId64 " %s: no listener",
		       ep_id(k, 0), name);
		ev = ev_new(s, EV_CONNECTED, sn->index, -1,
			    s->now_ms + link_delay(s, sn->index, sn->index));
		ev_pin(ev, c, 0);
		heap_push(s, ev);
		return ep_id(k, 0);
	}
	strace(s, sn->index, l->node, "connect", "c%" PRId64 " %s", ep_id(k, 0), name);
	ev = ev_new(s, EV_CONNECT, l->node, sn->index,
		    arrival_fifo(s, c, 1, link_delay(s, sn->index, l->node)));
	ev_pin(ev, c, 0);
	ev->listener = l->id;
	heap_push(s, ev);
	return ep_id(k, 0);
}

static int
sim_send(struct rt *rt, conn_id id, const uint8_t *frame, size_t len)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;
	int side;
	struct sim_conn *c = conn_of(s, id, &side);

	if (len < 4 || frame_size(frame, len, INT32_MAX) != (int64_t)len)
		return KLAB_EINVAL; /* not one whole frame */
	if (c == NULL || c->ep[side].node != sn->index || c->ep[side].state != EP_OPEN)
		return KLAB_ESTATE;
	if (c->inflight_bytes[1 - side] + len > s->max_inflight_bytes ||
	    s->nheap >= s->max_events_queued)
		return KLAB_EFULL;
	transmit(s, c, 1 - side, frame, len);
	return KLAB_OK;
}

/* The sim has no zero-copy path: read the file parts and send one frame. */
static int
sim_send_parts(struct rt *rt, conn_id c, const struct rt_part *parts, size_t n)
{
	int64_t total = frame_parts_size(parts, n);
	uint8_t *p;
	size_t at = 0;
	int rc;

	if (total < 0)
		return KLAB_EINVAL;
	if ((p = malloc((size_t)total)) == NULL)
		return KLAB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t end;

		memcpy(p + at, parts[i].bytes, parts[i].len);
		at += parts[i].len;
		end = at + (parts[i].file != NULL ? parts[i].file_len : 0);
		if (end > at && fs_pread_all(parts[i].file, p + at, end - at,
					     (uint64_t)parts[i].file_off, NULL) != KLAB_OK) {
			free(p);
			return KLAB_EIO;
		}
		at = end;
	}
	rc = sim_send(rt, c, p, at);
	free(p);
	return rc;
}

static void
sim_close(struct rt *rt, conn_id id)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;
	int side;
	struct sim_conn *c = conn_of(s, id, &side);

	if (c == NULL || c->ep[side].node != sn->index || !ep_live(&c->ep[side]))
		return;
	c->ep[side].state = EP_CLOSED;
	strace(s, sn->index, c->ep[1 - side].node, "close", "c%" PRId64, id);
	notify_closed_fifo(s, c, 1 - side, sn->index);
	conn_release(s, c);
}

static timer_id
sim_set_timer(struct rt *rt, int64_t after_ms)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;
	struct sim_event *ev;

	if (after_ms < 0)
		after_ms = 0;
	ev = ev_new(s, EV_TIMER, sn->index, sn->index, s->now_ms + after_ms);
	ev->timer = ++s->next_timer;
	heap_push(s, ev);
	return ev->timer;
}

static void
sim_cancel_timer(struct rt *rt, timer_id t)
{
	struct sim_node *sn = sn_of(rt);
	struct sim *s = sn->sim;

	for (size_t i = 0; i < s->nheap; i++) {
		struct sim_event *ev = s->heap[i];

		if (ev->kind == EV_TIMER && ev->timer == t && ev->node == sn->index)
			ev->cancelled = true;
	}
}

static int64_t
sim_now_ms(struct rt *rt)
{
	return sn_of(rt)->sim->now_ms;
}

static uint64_t
sim_random(struct rt *rt)
{
	return rng_next(sn_of(rt)->sim);
}

static const char *
sim_data_dir(struct rt *rt)
{
	return sn_of(rt)->data_dir;
}

static struct fs *
sim_disk(struct rt *rt)
{
	return disk_sim_fs(sn_of(rt)->disk);
}

static void
sim_trace_line(struct rt *rt, const char *line)
{
	struct sim_node *sn = sn_of(rt);

	strace(sn->sim, sn->index, sn->index, "trace", "%s", line);
}

static const struct rt_ops sim_rt_ops = {
	.listen = sim_listen,
	.connect = sim_connect,
	.send = sim_send,
	.send_parts = sim_send_parts,
	.close = sim_close,
	.set_timer = sim_set_timer,
	.cancel_timer = sim_cancel_timer,
	.now_ms = sim_now_ms,
	.random = sim_random,
	.data_dir = sim_data_dir,
	.disk = sim_disk,
	.trace = sim_trace_line,
	.listener_port = sim_listener_port,
};

/* ---- set-up ------------------------------------------------------------------ */

void
sim_init(struct sim *s, uint64_t seed)
{
	uint64_t x = seed;
	struct sim_faults f = { .delay_min_ms = 1, .delay_max_ms = 5 };

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	s->cut_timeout_ms = 3000;
	s->connect_timeout_ms = 1000;
	s->max_events_queued = 1u << 20;
	s->max_inflight_bytes = 64u << 20;
	s->next_port = 30000;
	s->describe = hex_describe;
	s->check_each_step = true;
	sim_set_faults(s, &f);
}

void
sim_free(struct sim *s)
{
	while (s->nheap > 0)
		ev_free(s, heap_pop(s));
	free(s->heap);
	for (size_t i = 0; i < s->nconns; i++)
		free(s->conns[i]);
	free(s->conns);
	for (int i = 0; i < s->nnodes; i++)
		disk_sim_free(s->nodes[i].disk);
	memset(s, 0, sizeof(*s));
}

int
sim_add_node(struct sim *s, const char *name, const struct node_ops *ops, void *state,
	     const char *data_dir)
{
	struct sim_node *sn;

	if (s->nnodes == SIM_MAX_NODES)
		return KLAB_EFULL;
	sn = &s->nodes[s->nnodes];
	memset(sn, 0, sizeof(*sn));
	/* the node's own disk, its faults and tears drawn from its own seed */
	if ((sn->disk = disk_sim_new(s->seed ^
				     (0x9e3779b97f4a7c15ull * (uint64_t)(s->nnodes + 1)))) == NULL)
		return KLAB_ENOMEM;
	sn->sim = s;
	sn->index = s->nnodes++;
	snprintf(sn->name, sizeof(sn->name), "%s", name);
	snprintf(sn->data_dir, sizeof(sn->data_dir), "%s", data_dir ? data_dir : "");
	sn->rt.ops = &sim_rt_ops;
	sn->rt.impl = sn;
	sn->node.ops = ops;
	sn->node.rt = &sn->rt;
	sn->node.state = state;
	sn->node.name = sn->name;
	sn->state = SIM_UP;
	heap_push(s, ev_new(s, EV_START, sn->index, -1, s->now_ms));
	return sn->index;
}

struct node *
sim_node(struct sim *s, int index)
{
	assert(index >= 0 && index < s->nnodes);
	return &s->nodes[index].node;
}

int
sim_find_node(const struct sim *s, const char *name)
{
	for (int i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].name, name) == 0)
			return i;
	return -1;
}

void
sim_on_crash(struct sim *s, int index, void (*hook)(struct node *n))
{
	assert(index >= 0 && index < s->nnodes);
	s->nodes[index].crash_hook = hook;
}

void
sim_set_faults(struct sim *s, const struct sim_faults *f)
{
	for (int a = 0; a < SIM_MAX_NODES; a++)
		for (int b = 0; b < SIM_MAX_NODES; b++)
			s->faults[a][b] = *f;
}

void
sim_set_link_faults(struct sim *s, int a, int b, const struct sim_faults *f)
{
	assert(a >= 0 && a < SIM_MAX_NODES && b >= 0 && b < SIM_MAX_NODES);
	s->faults[a][b] = *f;
	s->faults[b][a] = *f;
}

void
sim_set_trace(struct sim *s, sim_trace_fn fn, void *arg)
{
	s->trace = fn;
	s->trace_arg = arg;
}

void
sim_set_describe(struct sim *s, sim_describe_fn fn, void *arg)
{
	s->describe = fn ? fn : hex_describe;
	s->describe_arg = arg;
}

void
sim_set_invariant(struct sim *s, sim_invariant_fn fn, void *arg)
{
	s->invariant = fn;
	s->invariant_arg = arg;
}

int64_t
sim_now(const struct sim *s)
{
	return s->now_ms;
}

/* ---- partitions --------------------------------------------------------------- */

void
sim_lose_next(struct sim *s, int from, int to)
{
	KLAB_ASSERT(from >= 0 && from < s->nnodes && to >= 0 && to < s->nnodes,
		    "sim_lose_next(%d, %d) of %d nodes", from, to, s->nnodes);
	s->lose_next[from][to] = true;
}

/* Doom every live connection that now crosses a cut. */
static void
apply_cuts(struct sim *s)
{
	for (size_t i = 0; i < s->nconns; i++) {
		struct sim_conn *c = s->conns[i];
		int a = c->ep[0].node, b = c->ep[1].node;

		if (c->doomed || b < 0 || !(ep_live(&c->ep[0]) || ep_live(&c->ep[1])))
			continue;
		if (!s->cut[a][b] && !s->cut[b][a])
			continue;
		c->doomed = true;
		for (int side = 0; side < 2; side++)
			notify_closed(s, c, side, -1, s->now_ms + s->cut_timeout_ms);
	}
}

void
sim_partition(struct sim *s, const int *group_of)
{
	char desc[SIM_LINE_MAX] = "";
	size_t n = 0; /* of desc used; a long list is cut short */

	for (int a = 0; a < s->nnodes; a++) {
		for (int b = 0; b < s->nnodes; b++)
			s->cut[a][b] = group_of[a] != group_of[b];
		if (n < sizeof(desc))
			n += (size_t)snprintf(desc + n, sizeof(desc) - n, "%s=%d ",
					      s->nodes[a].name, group_of[a]);
	}
	strace(s, -1, -1, "partition", "%s", desc);
	apply_cuts(s);
}

int
sim_partition_str(struct sim *s, const char *spec, struct kerr *e)
{
	int group_of[SIM_MAX_NODES], g = 0;
	char name[SIM_NAME_MAX];
	size_t n = 0;

	for (int i = 0; i < s->nnodes; i++)
		group_of[i] = 1000 + i; /* unnamed: alone */
	for (const char *p = spec;; p++) {
		if (*p == ',' || *p == '|' || *p == '\0') {
			int i;

			name[n] = '\0';
			i = sim_find_node(s, name);
			if (n > 0 && i < 0)
				return kerr_set(e, KLAB_ENOTFOUND, "partition: no node %s", name);
			if (i >= 0)
				group_of[i] = g;
			n = 0;
			g += *p == '|';
			if (*p == '\0')
				break;
		} else if (*p != ' ' && n + 1 < sizeof(name)) {
			name[n++] = *p;
		}
	}
	sim_partition(s, group_of);
	return KLAB_OK;
}

void
sim_heal(struct sim *s)
{
	memset(s->cut, 0, sizeof(s->cut));
	strace(s, -1, -1, "heal", "%s", "");
}

/* ---- crash, stop, restart ----------------------------------------------------- */

/* The node's connections close for its peers; its events and listeners go. */
static void
node_teardown(struct sim *s, int index)
{
	for (size_t i = 0; i < s->nconns; i++) {
		struct sim_conn *c = s->conns[i];

		for (int side = 0; side < 2; side++) {
			if (c->ep[side].node != index || !ep_live(&c->ep[side]))
				continue;
			c->ep[side].state = EP_CLOSED;
			notify_closed_fifo(s, c, 1 - side, index);
		}
		conn_release(s, c);
	}
	for (size_t i = 0; i < s->nheap; i++)
		if (s->heap[i]->node == index && s->heap[i]->kind != EV_CONNECT)
			s->heap[i]->cancelled = true;
	for (int i = 0; i < SIM_LISTENERS_MAX; i++)
		if (s->listeners[i].node == index)
			s->listeners[i].id = 0;
}

/* The power cut reaches the node's disk; the trace says what it cost. */
static void
crash_disk(struct sim *s, int index)
{
	struct disk_crash_report rep;

	if (disk_sim_crash(s->nodes[index].disk, &rep) != KLAB_OK) {
		strace(s, -1, index, "disk", "%s", "out of memory while crashing");
		return;
	}
	s->nodes[index].last_crash = rep;
	strace(s, -1, index, "disk",
	       "power cut: %" PRIu64 " unsynced bytes lost, %d file%s torn, %d name%s undone",
	       rep.bytes_lost, rep.files_torn, rep.files_torn == 1 ? "" : "s", rep.names_undone,
	       rep.names_undone == 1 ? "" : "s");
}

struct disk_sim *
sim_disk_of(struct sim *s, int index)
{
	assert(index >= 0 && index < s->nnodes);
	return s->nodes[index].disk;
}

void
sim_crash(struct sim *s, int index)
{
	struct sim_node *sn = &s->nodes[index];

	assert(index >= 0 && index < s->nnodes);
	if (sn->state != SIM_UP)
		return;
	strace(s, -1, index, "crash", "%s", "");
	node_teardown(s, index);
	sn->state = SIM_CRASHED;
	if (sn->crash_hook != NULL)
		sn->crash_hook(&sn->node);
	crash_disk(s, index);
}

void
sim_stop(struct sim *s, int index)
{
	struct sim_node *sn = &s->nodes[index];

	assert(index >= 0 && index < s->nnodes);
	if (sn->state != SIM_UP)
		return;
	strace(s, -1, index, "stop", "%s", "");
	if (sn->node.ops->on_stop != NULL)
		sn->node.ops->on_stop(&sn->node);
	node_teardown(s, index);
	sn->state = SIM_STOPPED;
}

void
sim_restart(struct sim *s, int index)
{
	struct sim_node *sn = &s->nodes[index];

	assert(index >= 0 && index < s->nnodes);
	if (sn->state == SIM_UP)
		return;
	sn->incarnation++;
	sn->state = SIM_UP;
	strace(s, -1, index, "restart", "incarnation %" PRIu32, sn->incarnation);
	heap_push(s, ev_new(s, EV_START, index, -1, s->now_ms));
}

/* ---- delivering events ----------------------------------------------------------- */

static void
deliver_connect(struct sim *s, struct sim_event *ev, struct node *n)
{
	int side;
	struct sim_conn *c = conn_of(s, ev->conn, &side);
	struct sim_listener *l = listener_by_id(s, ev->listener);
	int from = ev->from; /* the connector, c->ep[0].node */
	struct sim_event *reply;
	int64_t t;

	assert(c != NULL); /* the event pins it (invariant 5) */
	if (c->ep[0].state != EP_CONNECTING) {
		strace(s, from, ev->node, "discard", "c%" PRId64 " connect (gone)", ev->conn);
		return;
	}
	if (l == NULL || s->nodes[ev->node].state != SIM_UP) {
		strace(s, from, ev->node, "refused", "c%" PRId64, ev->conn);
		t = s->now_ms + link_delay(s, ev->node, from);
	} else if (s->cut[from][ev->node]) {
		strace(s, from, ev->node, "lost(cut)", "c%" PRId64 " connect", ev->conn);
		t = s->now_ms + s->connect_timeout_ms;
	} else {
		c->ep[1].node = ev->node;
		c->ep[1].incarnation = ev->incarnation;
		c->ep[1].state = EP_OPEN;
		reply = ev_new(s, EV_CONNECTED, from, ev->node,
			       arrival_fifo(s, c, 0, link_delay(s, ev->node, from)));
		reply->incarnation = c->ep[0].incarnation;
		ev_pin(reply, c, 0);
		reply->ok = true;
		heap_push(s, reply);
		strace(s, from, ev->node, "accept", "c%" PRId64 " l%" PRId64, ep_id(c->k, 1),
		       ev->listener);
		if (n->ops->on_accept != NULL)
			n->ops->on_accept(n, ep_id(c->k, 1), ev->listener);
		return;
	}
	reply = ev_new(s, EV_CONNECTED, from, ev->node, t);
	reply->incarnation = c->ep[0].incarnation;
	ev_pin(reply, c, 0);
	heap_push(s, reply);
}

/* CONNECTED, CLOSED and FRAME: to one endpoint, if it is still there. */
static void
deliver_to_endpoint(struct sim *s, struct sim_event *ev, struct node *n)
{
	int side;
	struct sim_conn *c = conn_of(s, ev->conn, &side);
	struct sim_endpoint *e;
	bool connecting;
	const char *what = ev_names[ev->kind];

	assert(c != NULL); /* the event pins it (invariant 5) */
	e = &c->ep[side];
	connecting = e->state == EP_CONNECTING;
	if (ev->kind == EV_FRAME && (e->state != EP_OPEN || c->doomed)) {
		trace_frame(s, ev->from, ev->node, "discard", ev->conn, ev->frame, ev->len);
		return;
	}
	if ((ev->kind == EV_CONNECTED && (!connecting || c->doomed)) || !ep_live(e)) {
		strace(s, ev->from, ev->node, "discard", "c%" PRId64 " %s", ev->conn, what);
		return;
	}
	if (ev->kind == EV_FRAME) {
		trace_frame(s, ev->from, ev->node, what, ev->conn, ev->frame, ev->len);
		if (n->ops->on_frame != NULL)
			n->ops->on_frame(n, ev->conn, ev->frame, ev->len);
		return;
	}
	if (ev->kind == EV_CONNECTED && ev->ok) {
		e->state = EP_OPEN;
		strace(s, ev->from, ev->node, what, "c%" PRId64 " ok", ev->conn);
		if (n->ops->on_connected != NULL)
			n->ops->on_connected(n, ev->conn, true);
		return;
	}
	e->state = EP_CLOSED; /* a failed connect, or a close */
	strace(s, ev->from, ev->node, connecting ? "connected" : what,
	       connecting ? "c%" PRId64 " failed" : "c%" PRId64, ev->conn);
	if (connecting && n->ops->on_connected != NULL)
		n->ops->on_connected(n, ev->conn, false);
	else if (!connecting && n->ops->on_closed != NULL)
		n->ops->on_closed(n, ev->conn);
}

static void
deliver(struct sim *s, struct sim_event *ev)
{
	struct sim_node *sn = &s->nodes[ev->node];
	struct node *n = &sn->node;

	if (ev->kind == EV_CONNECT) {
		if (ev->incarnation != sn->incarnation)
			ev->listener = 0; /* the listener died with its node */
		deliver_connect(s, ev, n);
		return;
	}
	assert(sn->state == SIM_UP && ev->incarnation == sn->incarnation);
	switch (ev->kind) {
	case EV_START:
		strace(s, -1, ev->node, "start", "incarnation %" PRIu32, sn->incarnation);
		if (n->ops->on_start != NULL)
			n->ops->on_start(n);
		break;
	case EV_TIMER:
		strace(s, ev->node, ev->node, "timer", "t%" PRId64, ev->timer);
		if (n->ops->on_timer != NULL)
			n->ops->on_timer(n, ev->timer);
		break;
	default: deliver_to_endpoint(s, ev, n); break;
	}
}

/* Drop cancelled events from the top; the first live one, or NULL. */
static struct sim_event *
peek_live(struct sim *s)
{
	while (s->nheap > 0 && s->heap[0]->cancelled)
		ev_free(s, heap_pop(s));
	return s->nheap > 0 ? s->heap[0] : NULL;
}

bool
sim_step(struct sim *s)
{
	struct sim_event *ev;

	if (s->violated || peek_live(s) == NULL)
		return false;
	ev = heap_pop(s);
	assert(ev->time_ms >= s->now_ms);
	s->now_ms = ev->time_ms;
	deliver(s, ev);
	ev_free(s, ev);
	s->events_delivered++;
	if (s->nconns_dead > 0)
		conns_sweep(s);
	if (s->check_each_step && sim_check_invariants(s, &s->violation) != KLAB_OK) {
		s->violated = true;
		strace(s, -1, -1, "VIOLATION", "%s", kerr_msg(&s->violation));
	}
	return true;
}

void
sim_run_for(struct sim *s, int64_t ms)
{
	int64_t end = s->now_ms + ms;
	struct sim_event *ev;

	while (!s->violated && (ev = peek_live(s)) != NULL && ev->time_ms <= end)
		sim_step(s);
	if (!s->violated && s->now_ms < end)
		s->now_ms = end;
}

uint64_t
sim_run_until_idle(struct sim *s, uint64_t max_events)
{
	uint64_t n = 0;

	while (n < max_events && sim_step(s))
		n++;
	return n;
}

/* ---- invariants ------------------------------------------------------------------ */

/* Count ev against the connection it names (invariants 4 and 5). */
static int
count_event(struct sim *s, const struct sim_event *ev, struct kerr *e)
{
	int side;
	struct sim_conn *c = conn_of(s, ev->conn, &side);

	if (c == NULL)
		return kerr_set(e, KLAB_ESTATE,
				"invariant 5: a %s event names c%" PRId64 ", which is freed",
				ev_names[ev->kind], ev->conn);
	c->seen_events++;
	if (ev->kind == EV_FRAME)
		c->seen_frames[side]++;
	return KLAB_OK;
}

static int
check_queue(struct sim *s, struct kerr *e)
{
	for (size_t i = 0; i < s->nheap; i++) {
		struct sim_event *ev = s->heap[i];
		struct sim_node *sn = &s->nodes[ev->node];

		if (i > 0 && ev_before(ev, s->heap[(i - 1) / 2]))
			return kerr_set(e, KLAB_ESTATE, "invariant 1: heap out of order at %zu", i);
		if (ev->time_ms < s->now_ms)
			return kerr_set(e, KLAB_ESTATE, "invariant 1: event in the past");
		if (!ev->cancelled && ev->kind != EV_CONNECT &&
		    (sn->state != SIM_UP || ev->incarnation != sn->incarnation))
			return kerr_set(e, KLAB_ESTATE, "invariant 3: %s event queued for %s, down",
					ev_names[ev->kind], sn->name);
		if (ev->conn != 0 && count_event(s, ev, e) != KLAB_OK)
			return KLAB_ESTATE;
	}
	return KLAB_OK;
}

/* s->conns[i], after check_queue counted what is queued for it. */
static int
check_conn(struct sim *s, size_t i, struct kerr *e)
{
	struct sim_conn *c = s->conns[i];

	if (i > 0 && s->conns[i - 1]->k >= c->k)
		return kerr_set(e, KLAB_ESTATE, "invariant 5: connections out of order at %zu", i);
	if (c->seen_events != c->events)
		return kerr_set(e, KLAB_ESTATE,
				"invariant 5: c%" PRId64 " counts %zu events, %zu queued",
				ep_id(c->k, 0), c->events, c->seen_events);
	for (int side = 0; side < 2; side++) {
		struct sim_endpoint *ep = &c->ep[side];

		if (ep_live(ep) && (s->nodes[ep->node].state != SIM_UP ||
				    s->nodes[ep->node].incarnation != ep->incarnation))
			return kerr_set(e, KLAB_ESTATE,
					"invariant 2: c%" PRId64 " open on %s, which is down",
					ep_id(c->k, side), s->nodes[ep->node].name);
		if (c->seen_frames[side] != c->inflight_frames[side])
			return kerr_set(e, KLAB_ESTATE,
					"invariant 4: c%" PRId64 " counts %zu frames, %zu queued",
					ep_id(c->k, side), c->inflight_frames[side],
					c->seen_frames[side]);
	}
	return KLAB_OK;
}

int
sim_check_invariants(struct sim *s, struct kerr *e)
{
	int rc;

	for (size_t i = 0; i < s->nconns; i++) {
		struct sim_conn *c = s->conns[i];

		c->seen_events = c->seen_frames[0] = c->seen_frames[1] = 0;
	}
	rc = check_queue(s, e);
	for (size_t i = 0; rc == KLAB_OK && i < s->nconns; i++)
		rc = check_conn(s, i, e);
	if (rc == KLAB_OK && s->invariant != NULL)
		rc = s->invariant(s->invariant_arg, s, e);
	return rc;
}
