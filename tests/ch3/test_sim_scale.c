/*
 * test_sim_scale.c - the deterministic simulator at the size of the later
 * chapters' worlds (chapter 3 §2): forty nodes, ten thousand virtual
 * seconds, with the invariants checked after every step.
 *
 * Every node listens, and on a timer (with a jitter from rt->random) it
 * connects to a random peer, sends a request on one of its connections or
 * closes it; a node that gets a request answers it, and now and then
 * closes that connection from its side.  Each node also sets and cancels
 * a spare timer, and tries a connection it closed earlier, which must be
 * refused (KLAB_ESTATE) whether or not the simulator has freed it.  The
 * links delay, drop, duplicate and reorder; the world is cut in two and
 * healed, one node crashes and restarts, another stops and restarts.
 *
 *   the simulator keeps about as many connections as are open, far fewer
 *   than were made: it frees closed ones;
 *   the same seed gives the same run (trace hash and counters); another
 *   seed, another run;
 *   the whole run, under the sanitizers, takes bounded wall time.
 *
 * Set KLAB_SEED to replay a run; failures print the seed.
 */
#include "testutil.h"

#include <time.h>

#include "net/sim.h"

#define SEED_DEFAULT 0x5CA1Eull
#define NODES 40
#define SLOTS 3 /* outbound connections a node keeps, at most */
#define PORT 9000
#define RUN_MS (10000 * 1000) /* ten thousand virtual seconds */
#define WALL_S_MAX 20.0	      /* one run, under the sanitizers: about 3 s on one core */
#define REQ 1
#define REP 2

static uint64_t seed;

#define CHECK(cond, ...) TU_CHECK_SEED(seed, cond, __VA_ARGS__)

/* ---- the node ----------------------------------------------------------------- */

struct peer {
	int self;
	conn_id out[SLOTS]; /* 0: the slot is free */
	bool open[SLOTS];
	conn_id stale; /* a connection this node closed */
	timer_id tick, spare;
	/* counters, kept across crashes */
	uint64_t requests, replies, accepts, stale_refused, spares;
};

static uint64_t
rnd(struct node *n)
{
	return n->rt->ops->random(n->rt);
}

static void
send_msg(struct node *n, conn_id c, uint32_t type, uint32_t v)
{
	uint8_t f[12];

	be32_write(f, 8);
	be32_write(f + 4, type);
	be32_write(f + 8, v);
	n->rt->ops->send(n->rt, c, f, sizeof(f));
}

static void
peer_start(struct node *n)
{
	struct peer *p = n->state;
	struct kerr e = { 0 };

	assert_true(n->rt->ops->listen(n->rt, n->name, PORT, &e) > 0);
	p->tick = n->rt->ops->set_timer(n->rt, 500 + (int64_t)(rnd(n) % 1000));
}

/* A connection this node closed: sending on it is refused, closing it is harmless. */
static void
peer_try_stale(struct node *n)
{
	struct peer *p = n->state;
	uint8_t f[12] = { 0, 0, 0, 8 };

	if (p->stale == 0)
		return;
	CHECK(n->rt->ops->send(n->rt, p->stale, f, sizeof(f)) == KLAB_ESTATE,
	      "%s: c%" PRId64 " still takes frames\n", n->name, p->stale);
	n->rt->ops->close(n->rt, p->stale);
	p->stale_refused++;
	p->stale = 0;
}

/* One slot: connect to a random peer, or send a request and sometimes close. */
static void
peer_use_slot(struct node *n, int i, uint64_t r)
{
	struct peer *p = n->state;
	char host[16];
	int to = (int)((r >> 8) % NODES);

	if (p->out[i] == 0) {
		if (to == p->self)
			to = (to + 1) % NODES;
		snprintf(host, sizeof(host), "n%02d", to);
		p->out[i] = n->rt->ops->connect(n->rt, host, PORT);
		return;
	}
	if (!p->open[i])
		return; /* still connecting */
	send_msg(n, p->out[i], REQ, (uint32_t)r);
	p->requests++;
	if ((r >> 16) % 8 == 0) {
		n->rt->ops->close(n->rt, p->out[i]);
		p->stale = p->out[i];
		p->out[i] = 0;
		p->open[i] = false;
	}
}

static void
peer_timer(struct node *n, timer_id t)
{
	struct peer *p = n->state;
	uint64_t r = rnd(n);

	if (t == p->spare) {
		p->spare = 0;
		p->spares++;
		return;
	}
	if (t != p->tick)
		return;
	peer_try_stale(n);
	peer_use_slot(n, (int)(r % SLOTS), r);
	if (p->spare != 0 && (r >> 24) % 2 == 0) {
		n->rt->ops->cancel_timer(n->rt, p->spare);
		p->spare = 0;
	}
	if (p->spare == 0)
		p->spare = n->rt->ops->set_timer(n->rt, (int64_t)((r >> 32) % 3000));
	p->tick = n->rt->ops->set_timer(n->rt, 1000 + (int64_t)((r >> 40) % 2000));
}

static int
slot_of(const struct peer *p, conn_id c)
{
	for (int i = 0; i < SLOTS; i++)
		if (p->out[i] == c)
			return i;
	return -1;
}

static void
peer_connected(struct node *n, conn_id c, bool ok)
{
	struct peer *p = n->state;
	int i = slot_of(p, c);

	if (i < 0)
		return;
	if (ok)
		p->open[i] = true;
	else
		p->out[i] = 0;
}

static void
peer_closed(struct node *n, conn_id c)
{
	struct peer *p = n->state;
	int i = slot_of(p, c);

	if (i < 0)
		return; /* an accepted one */
	p->out[i] = 0;
	p->open[i] = false;
}

static void
peer_accept(struct node *n, conn_id c, int64_t listener)
{
	struct peer *p = n->state;

	(void)c;
	(void)listener;
	p->accepts++;
}

static void
peer_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct peer *p = n->state;

	CHECK(len == 12, "%s: a frame of %zu bytes\n", n->name, len);
	if (be32_read(f + 4) == REP) {
		p->replies++;
		return;
	}
	send_msg(n, c, REP, be32_read(f + 8) + 1);
	if (rnd(n) % 32 == 0 && p->stale == 0) { /* the accepting side hangs up */
		n->rt->ops->close(n->rt, c);
		p->stale = c;
	}
}

/* A crash loses the node's memory; its counters stay for the test. */
static void
peer_crash(struct node *n)
{
	struct peer *p = n->state;

	memset(p->out, 0, sizeof(p->out));
	memset(p->open, 0, sizeof(p->open));
	p->stale = p->tick = p->spare = 0;
}

static const struct node_ops peer_ops = {
	.on_start = peer_start,
	.on_accept = peer_accept,
	.on_connected = peer_connected,
	.on_frame = peer_frame,
	.on_closed = peer_closed,
	.on_timer = peer_timer,
};

/* ---- the world ----------------------------------------------------------------- */

struct world {
	struct sim sim; /* large (SIM_MAX_NODES² links): the world is allocated */
	struct peer peers[NODES];
	uint64_t hash; /* FNV-1a over the trace */
	uint64_t lines;
};

struct outcome {
	uint64_t hash, lines, events, conns_made, requests, replies, accepts, stale_refused;
	uint64_t spares;
	size_t conns_peak;
	int64_t now_ms;
	double wall_s;
};

static void
hash_line(void *arg, const char *line)
{
	struct world *w = arg;

	for (const char *c = line;; c++) {
		w->hash ^= (uint8_t)(*c ? *c : '\n');
		w->hash *= 0x100000001B3ull;
		if (*c == '\0')
			break;
	}
	w->lines++;
}

static struct world *
world_new(uint64_t s)
{
	struct world *w = calloc(1, sizeof(*w));
	struct sim_faults f = { .delay_min_ms = 1,
				.delay_max_ms = 20,
				.drop = 0.01,
				.duplicate = 0.01,
				.reorder = 0.01,
				.reorder_max_ms = 50 };

	assert_non_null(w);
	sim_init(&w->sim, s);
	w->hash = 0xCBF29CE484222325ull;
	sim_set_trace(&w->sim, hash_line, w);
	sim_set_faults(&w->sim, &f);
	for (int i = 0; i < NODES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%02d", i);
		w->peers[i].self = i;
		CHECK(sim_add_node(&w->sim, name, &peer_ops, &w->peers[i], NULL) == i, "add %s\n",
		      name);
		sim_on_crash(&w->sim, i, peer_crash);
	}
	return w;
}

/* Run until virtual time `at_ms`; a broken invariant fails the test. */
static void
run_to(struct world *w, int64_t at_ms)
{
	sim_run_for(&w->sim, at_ms - sim_now(&w->sim));
	CHECK(!w->sim.violated, "%s\n", kerr_msg(&w->sim.violation));
}

/* The faults, on a schedule scaled to run_ms. */
static void
world_run(struct world *w, int64_t run_ms)
{
	int group_of[NODES];

	for (int i = 0; i < NODES; i++)
		group_of[i] = i < NODES / 2 ? 0 : 1;
	run_to(w, run_ms * 30 / 100);
	sim_partition(&w->sim, group_of);
	run_to(w, run_ms * 36 / 100);
	sim_heal(&w->sim);
	run_to(w, run_ms * 50 / 100);
	sim_crash(&w->sim, 7);
	run_to(w, run_ms * 50 / 100 + 30000);
	sim_restart(&w->sim, 7);
	run_to(w, run_ms * 70 / 100);
	sim_stop(&w->sim, 21);
	run_to(w, run_ms * 70 / 100 + 10000);
	sim_restart(&w->sim, 21);
	run_to(w, run_ms);
}

static double
wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct outcome
run(uint64_t s, int64_t run_ms)
{
	struct world *w = world_new(s);
	struct outcome o = { 0 };
	double t0 = wall_s();

	world_run(w, run_ms);
	o.wall_s = wall_s() - t0;
	o.hash = w->hash;
	o.lines = w->lines;
	o.events = w->sim.events_delivered;
	o.conns_made = w->sim.conns_made;
	o.conns_peak = w->sim.nconns_peak;
	o.now_ms = sim_now(&w->sim);
	for (int i = 0; i < NODES; i++) {
		o.requests += w->peers[i].requests;
		o.replies += w->peers[i].replies;
		o.accepts += w->peers[i].accepts;
		o.stale_refused += w->peers[i].stale_refused;
		o.spares += w->peers[i].spares;
	}
	sim_free(&w->sim);
	free(w);
	return o;
}

static bool
same_run(const struct outcome *a, const struct outcome *b)
{
	return a->hash == b->hash && a->lines == b->lines && a->events == b->events &&
	       a->conns_made == b->conns_made && a->conns_peak == b->conns_peak &&
	       a->requests == b->requests && a->replies == b->replies && a->accepts == b->accepts &&
	       a->stale_refused == b->stale_refused && a->spares == b->spares &&
	       a->now_ms == b->now_ms;
}

/* ---- tests ------------------------------------------------------------------------ */

static void
test_ch3_sim_scale_forty_nodes_ten_thousand_seconds(void **state)
{
	/* Open at once: SLOTS per node, each one connection; a few more close. */
	const size_t peak_max = 2 * NODES * SLOTS;
	struct outcome one, two;

	(void)state;
	seed = tu_seed(SEED_DEFAULT);
	one = run(seed, RUN_MS);
	print_message("sim scale: %d nodes, %" PRId64 " s virtual, %" PRIu64 " events, %" PRIu64
		      " connections made, at most %zu kept; "
		      "%.2f s wall (seed %" PRIu64 ")\n",
		      NODES, one.now_ms / 1000, one.events, one.conns_made, one.conns_peak,
		      one.wall_s, seed);
	CHECK(one.now_ms == RUN_MS, "ended at %" PRId64 " ms\n", one.now_ms);
	CHECK(one.conns_peak <= peak_max, "kept %zu connections\n", one.conns_peak);
	CHECK(one.conns_made >= 20 * peak_max, "made only %" PRIu64 "\n", one.conns_made);
	CHECK(one.replies > one.requests / 2 && one.accepts > 0 && one.stale_refused > 0 &&
		      one.spares > 0,
	      "%" PRIu64 " requests, %" PRIu64 " replies\n", one.requests, one.replies);
	CHECK(one.wall_s < WALL_S_MAX, "%.2f s\n", one.wall_s);
	two = run(seed, RUN_MS);
	CHECK(same_run(&one, &two),
	      "hash %016" PRIx64 " then %016" PRIx64 ", %" PRIu64 " then %" PRIu64 " events\n",
	      one.hash, two.hash, one.events, two.events);
}

static void
test_ch3_sim_scale_another_seed_another_run(void **state)
{
	struct outcome one, two;

	(void)state;
	seed = tu_seed(SEED_DEFAULT);
	one = run(seed, 200 * 1000);
	two = run(seed + 1, 200 * 1000);
	CHECK(one.lines > 10000 && one.hash != two.hash, "hash %016" PRIx64 "\n", one.hash);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_sim_scale_forty_nodes_ten_thousand_seconds),
		cmocka_unit_test(test_ch3_sim_scale_another_seed_another_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
