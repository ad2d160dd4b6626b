/*
 * test_sim.c - the deterministic simulator (chapter 3 §2).
 *
 * Two small nodes exercise it: a server that answers each request
 * (id, v) with (id, 2v + 1), and a client that sends `goal` requests one
 * at a time, retrying on a timer (with a random jitter from rt->random)
 * and reconnecting when its connection fails or closes.  Each test is a
 * claim about the simulator:
 *
 *   same seed, same trace byte for byte; another seed, another trace;
 *   with drops, duplicates and reordering the client still finishes and
 *   the invariants hold after every step;
 *   a partition loses frames and connects, closes cut connections, and
 *   healing lets the client finish;
 *   a crashed node's timers never fire and its peers see on_closed; a
 *   restarted node starts again;
 *   virtual time moves only when an event is delivered;
 *   send_parts copies the file's bytes after the head.
 *
 * Set KLAB_SEED to replay a run; failures print the seed.
 */
#include "testutil.h"

#include "net/sim.h"
#include "net/disk_real.h"

#define SEED_DEFAULT 0x5EEDull
#define SERVER_PORT 9000
#define RETRY_MS 100

static uint64_t seed;

#define CHECK(cond, ...) TU_CHECK_SEED(seed, cond, __VA_ARGS__)

/* ---- the two nodes ---------------------------------------------------------- */

struct server {
	int64_t listener;
	int started;
	int frames;
	int ticks;
	bool crashed;
	timer_id tick;
};

struct client {
	conn_id conn;
	bool connected;
	uint32_t next_id, done, goal;
	timer_id retry;
	int connects_ok, connects_failed, closed, bad;
	int64_t finished_ms;
	/* send_parts test: */
	struct fs_file *file;
	size_t file_len;
};

static void
put_msg(uint8_t *f, uint32_t id, uint32_t v)
{
	be32_write(f, 8);
	be32_write(f + 4, id);
	be32_write(f + 8, v);
}

static void
server_start(struct node *n)
{
	struct server *s = n->state;
	struct kerr e = { 0 };

	s->started++;
	s->crashed = false;
	s->listener = n->rt->ops->listen(n->rt, "server", SERVER_PORT, &e);
	assert_true(s->listener > 0);
	s->tick = n->rt->ops->set_timer(n->rt, 10);
}

static void
server_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct server *s = n->state;
	uint8_t out[12];

	assert_int_equal(len, 12);
	s->frames++;
	put_msg(out, be32_read(f + 4), 2 * be32_read(f + 8) + 1);
	n->rt->ops->send(n->rt, c, out, sizeof(out));
}

static void
server_timer(struct node *n, timer_id t)
{
	struct server *s = n->state;

	assert_false(s->crashed);
	assert_int_equal(t, s->tick);
	s->ticks++;
	s->tick = n->rt->ops->set_timer(n->rt, 10);
}

static void
server_crash(struct node *n)
{
	struct server *s = n->state;

	s->crashed = true; /* its memory is gone; only counters for the test stay */
}

static const struct node_ops server_ops = {
	.on_start = server_start,
	.on_frame = server_frame,
	.on_timer = server_timer,
};

static void
client_send(struct node *n)
{
	struct client *c = n->state;
	uint8_t f[12];

	if (c->file != NULL) { /* send_parts: head, then the file's bytes */
		struct rt_part part = { .bytes = f,
					.len = 4,
					.file = c->file,
					.file_off = 0,
					.file_len = c->file_len };

		be32_write(f, (uint32_t)c->file_len);
		n->rt->ops->send_parts(n->rt, c->conn, &part, 1);
		return;
	}
	put_msg(f, c->next_id, c->next_id * 3);
	n->rt->ops->send(n->rt, c->conn, f, sizeof(f));
}

static void
client_arm(struct node *n)
{
	struct client *c = n->state;

	c->retry =
		n->rt->ops->set_timer(n->rt, RETRY_MS + (int64_t)(n->rt->ops->random(n->rt) % 50));
}

static void
client_start(struct node *n)
{
	struct client *c = n->state;

	c->conn = n->rt->ops->connect(n->rt, "server", SERVER_PORT);
	client_arm(n);
}

static void
client_connected(struct node *n, conn_id id, bool ok)
{
	struct client *c = n->state;

	if (id != c->conn)
		return;
	if (!ok) {
		c->connects_failed++;
		c->conn = 0;
		return;
	}
	c->connects_ok++;
	c->connected = true;
	client_send(n);
}

static void
client_closed(struct node *n, conn_id id)
{
	struct client *c = n->state;

	if (id != c->conn)
		return;
	c->closed++;
	c->conn = 0;
	c->connected = false;
}

static void
client_frame(struct node *n, conn_id id, const uint8_t *f, size_t len)
{
	struct client *c = n->state;

	(void)id;
	assert_int_equal(len, 12);
	if (be32_read(f + 4) != c->next_id || c->done == c->goal)
		return; /* a duplicate or a late answer to a retry */
	if (be32_read(f + 8) != 2 * (c->next_id * 3) + 1) {
		c->bad++;
		return;
	}
	c->done++;
	c->next_id++;
	if (c->done == c->goal) {
		c->finished_ms = n->rt->ops->now_ms(n->rt);
		n->rt->ops->cancel_timer(n->rt, c->retry);
		return;
	}
	client_send(n);
}

static void
client_timer(struct node *n, timer_id t)
{
	struct client *c = n->state;

	if (t != c->retry || c->done == c->goal)
		return;
	client_arm(n);
	if (c->conn == 0)
		c->conn = n->rt->ops->connect(n->rt, "server", SERVER_PORT);
	else if (c->connected)
		client_send(n);
}

static const struct node_ops client_ops = {
	.on_start = client_start,
	.on_connected = client_connected,
	.on_frame = client_frame,
	.on_closed = client_closed,
	.on_timer = client_timer,
};

/* ---- fixture ---------------------------------------------------------------- */

struct world {
	struct sim sim;
	struct server server;
	struct client client;
	int si, ci;
	struct buf trace;
};

static void
collect(void *arg, const char *line)
{
	struct buf *b = arg;

	buf_put(b, line, strlen(line));
	buf_put_u8(b, '\n');
}

static void
world_init(struct world *w, uint64_t s, uint32_t goal, const struct sim_faults *f)
{
	memset(w, 0, sizeof(*w));
	sim_init(&w->sim, s);
	buf_init(&w->trace);
	sim_set_trace(&w->sim, collect, &w->trace);
	if (f != NULL)
		sim_set_faults(&w->sim, f);
	w->client.goal = goal;
	w->client.file = NULL;
	w->si = sim_add_node(&w->sim, "server", &server_ops, &w->server, "/tmp/klab-sim-server");
	w->ci = sim_add_node(&w->sim, "client", &client_ops, &w->client, "/tmp/klab-sim-client");
	sim_on_crash(&w->sim, w->si, server_crash);
}

static void
world_free(struct world *w)
{
	sim_free(&w->sim);
	buf_free(&w->trace);
}

static void
expect_no_violation(struct world *w)
{
	struct kerr e = { 0 };

	CHECK(!w->sim.violated, "violation: %s\n", kerr_msg(&w->sim.violation));
	CHECK(sim_check_invariants(&w->sim, &e) == KLAB_OK, "%s\n", kerr_msg(&e));
}

static const struct sim_faults lossy = {
	.delay_min_ms = 1,
	.delay_max_ms = 20,
	.drop = 0.2,
	.duplicate = 0.2,
	.reorder = 0.2,
	.reorder_max_ms = 50,
};

/* ---- (a) determinism ----------------------------------------------------------- */

static void
run_traced(uint64_t s, struct buf *out)
{
	struct world w;

	world_init(&w, s, 30, &lossy);
	sim_run_for(&w.sim, 20000);
	expect_no_violation(&w);
	CHECK(w.client.done == 30, "done %u\n", w.client.done);
	buf_init(out);
	buf_put(out, w.trace.data, w.trace.len);
	world_free(&w);
}

static void
test_ch3_sim_same_seed_same_trace(void **state)
{
	struct buf a, b, c;

	(void)state;
	run_traced(seed, &a);
	run_traced(seed, &b);
	run_traced(seed + 1, &c);
	CHECK(a.len > 1000, "trace of %zu bytes\n", a.len);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "traces differ\n");
	CHECK(a.len != c.len || memcmp(a.data, c.data, a.len) != 0, "seed has no effect\n");
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

/* ---- (b) faults ------------------------------------------------------------------- */

static int
client_invariant(void *arg, struct sim *s, struct kerr *e)
{
	struct world *w = arg;

	(void)s;
	if (w->client.bad != 0)
		return kerr_set(e, KLAB_ESTATE, "client saw a wrong answer");
	if (w->client.done > w->client.goal)
		return kerr_set(e, KLAB_ESTATE, "client did more than asked");
	return KLAB_OK;
}

static void
test_ch3_sim_faults_request_response_completes(void **state)
{
	struct world w;
	const char *t;

	(void)state;
	for (uint64_t i = 0; i < 20; i++) {
		world_init(&w, seed + i, 50, &lossy);
		sim_set_invariant(&w.sim, client_invariant, &w);
		sim_run_for(&w.sim, 60000);
		expect_no_violation(&w);
		CHECK(w.client.done == 50, "run %" PRIu64 ": done %u of 50\n", i, w.client.done);
		t = (const char *)w.trace.data;
		buf_put_u8(&w.trace, 0);
		CHECK(strstr(t, " drop ") != NULL && strstr(t, " duplicate ") != NULL,
		      "no faults were injected\n");
		CHECK(w.server.frames > 50, "frames %d: no retry or duplicate\n", w.server.frames);
		world_free(&w);
	}
}

/* ---- (c) partitions ---------------------------------------------------------------- */

static void
test_ch3_sim_partition_cuts_and_heals(void **state)
{
	struct world w;
	int frames, fails;

	(void)state;
	world_init(&w, seed, 1000000, NULL);
	sim_run_for(&w.sim, 200);
	CHECK(w.client.connects_ok == 1 && w.client.done > 10, "done %u\n", w.client.done);
	sim_partition_str(&w.sim, "client|server", NULL);
	sim_run_for(&w.sim, 50); /* frames already in flight are lost too */
	frames = w.server.frames;
	sim_run_for(&w.sim, w.sim.cut_timeout_ms);
	CHECK(w.server.frames == frames, "frames crossed the cut\n");
	CHECK(w.client.closed == 1, "cut connection not closed (%d)\n", w.client.closed);
	fails = w.client.connects_failed;
	sim_run_for(&w.sim, 5000);
	CHECK(w.client.connects_failed > fails, "connect across the cut did not fail\n");
	CHECK(w.server.frames == frames && w.client.connects_ok == 1, "the cut leaked\n");
	sim_heal(&w.sim);
	frames = w.server.frames;
	sim_run_for(&w.sim, 3000);
	CHECK(w.client.connects_ok == 2 && w.server.frames > frames, "heal did not restore\n");
	expect_no_violation(&w);
	world_free(&w);
}

/*
 * sim_lose_next: the server's next answer is lost and that connection
 * closes on both sides; the client reconnects and carries on, and the
 * server saw the request (it answered it) - the shape of a lost Produce
 * answer.  One frame only: the answers after it arrive.
 */
static void
test_ch3_sim_lose_next_drops_one_answer_and_the_connection(void **state)
{
	struct world w;
	uint32_t done;
	const char *lost, *line;

	(void)state;
	world_init(&w, seed, 1000000, NULL);
	sim_run_for(&w.sim, 200);
	CHECK(w.client.connects_ok == 1 && w.client.done > 10, "done %u\n", w.client.done);
	sim_lose_next(&w.sim, w.si, w.ci);
	sim_run_for(&w.sim, 20);
	CHECK(w.client.closed == 1, "the connection did not drop (%d)\n", w.client.closed);
	buf_put_u8(&w.trace, 0);
	lost = strstr((const char *)w.trace.data, "lost(drop)");
	CHECK(lost != NULL && strstr(lost + 1, "lost(drop)") == NULL,
	      "not exactly one frame lost:\n%s\n", (const char *)w.trace.data);
	line = lost;
	while (line > (const char *)w.trace.data && line[-1] != '\n')
		line--;
	CHECK(strstr(line, "server") < strstr(line, "-> client"),
	      "the lost frame was not the server's: %.*s\n", (int)(lost - line) + 10, line);
	w.trace.len--; /* the NUL */
	done = w.client.done;
	sim_run_for(&w.sim, 2000);
	CHECK(w.client.connects_ok == 2 && w.client.done > done + 10,
	      "no recovery: %d connects, %u done\n", w.client.connects_ok, w.client.done - done);
	CHECK(w.client.closed == 1, "a second connection dropped\n");
	expect_no_violation(&w);
	world_free(&w);
}

/* ---- (d) crash and restart ----------------------------------------------------------- */

static void
test_ch3_sim_crash_restart(void **state)
{
	struct world w;
	int ticks, frames;

	(void)state;
	world_init(&w, seed, 1000000, NULL);
	sim_run_for(&w.sim, 500);
	CHECK(w.server.ticks >= 40 && w.client.done > 0, "did not run\n");
	sim_crash(&w.sim, w.si);
	assert_true(w.server.crashed);
	ticks = w.server.ticks;
	frames = w.server.frames;
	sim_run_for(&w.sim, 2000);
	CHECK(w.server.ticks == ticks, "a crashed node's timer fired\n");
	CHECK(w.server.frames == frames, "a crashed node got a frame\n");
	CHECK(w.client.closed == 1, "peer did not see on_closed (%d)\n", w.client.closed);
	CHECK(w.client.connects_failed > 0, "connects to a dead node succeeded\n");
	expect_no_violation(&w);
	sim_restart(&w.sim, w.si);
	sim_run_for(&w.sim, 1000);
	CHECK(w.server.started == 2 && w.server.ticks > ticks, "restart did not start\n");
	CHECK(w.server.frames > frames && w.client.connects_ok == 2, "client not back\n");
	sim_stop(&w.sim, w.ci);
	sim_run_for(&w.sim, 100);
	expect_no_violation(&w);
	world_free(&w);
}

/* ---- (e) virtual time ------------------------------------------------------------------ */

struct clock_node {
	int64_t seen[8];
	int n;
};

static void
clock_start(struct node *n)
{
	struct clock_node *c = n->state;

	c->seen[c->n++] = n->rt->ops->now_ms(n->rt);
	n->rt->ops->set_timer(n->rt, 250);
	n->rt->ops->set_timer(n->rt, 7);
}

static void
clock_timer(struct node *n, timer_id t)
{
	struct clock_node *c = n->state;

	(void)t;
	c->seen[c->n++] = n->rt->ops->now_ms(n->rt);
}

static const struct node_ops clock_ops = { .on_start = clock_start, .on_timer = clock_timer };

static void
test_ch3_sim_time_moves_only_by_events(void **state)
{
	struct sim s;
	struct clock_node c = { 0 };

	(void)state;
	sim_init(&s, seed);
	CHECK(!sim_step(&s) && sim_now(&s) == 0, "idle step moved time\n");
	sim_add_node(&s, "clock", &clock_ops, &c, NULL);
	CHECK(sim_step(&s) && sim_now(&s) == 0, "start not at 0\n");
	CHECK(sim_step(&s) && sim_now(&s) == 7, "now %" PRId64 "\n", sim_now(&s));
	CHECK(sim_run_until_idle(&s, 100) == 1 && sim_now(&s) == 250, "now %" PRId64 "\n",
	      sim_now(&s));
	CHECK(!sim_step(&s) && sim_now(&s) == 250, "idle step moved time\n");
	CHECK(c.n == 3 && c.seen[0] == 0 && c.seen[1] == 7 && c.seen[2] == 250, "clock seen\n");
	sim_run_for(&s, 1000); /* run_for moves the clock to its end */
	CHECK(sim_now(&s) == 1250, "run_for\n");
	sim_free(&s);
}

/* ---- send_parts ---------------------------------------------------------------------- */

struct sink {
	uint8_t got[64];
	size_t len;
	int64_t listener;
};

static void
sink_start(struct node *n)
{
	struct sink *k = n->state;

	k->listener = n->rt->ops->listen(n->rt, "server", SERVER_PORT, NULL);
}

static void
sink_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct sink *k = n->state;

	(void)c;
	assert_true(len <= sizeof(k->got));
	memcpy(k->got, f, len);
	k->len = len;
	n->rt->ops->close(n->rt, c);
}

static const struct node_ops sink_ops = { .on_start = sink_start, .on_frame = sink_frame };

static void
test_ch3_sim_send_parts_copies_bytes(void **state)
{
	char dir[64], path[128];
	const char body[] = "0123456789abcdef";
	struct client cl = { .goal = 1 };
	struct sink k = { 0 };
	struct sim s;

	(void)state;
	tu_tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	tu_file_write(path, body, 16);
	assert_int_equal(fs_open(disk_real(), path, FS_READONLY, &cl.file, NULL), KLAB_OK);
	cl.file_len = 16;
	sim_init(&s, seed);
	sim_add_node(&s, "server", &sink_ops, &k, NULL);
	sim_add_node(&s, "client", &client_ops, &cl, NULL);
	sim_run_for(&s, 50);
	CHECK(k.len == 20 && be32_read(k.got) == 16 && memcmp(k.got + 4, body, 16) == 0,
	      "len %zu\n", k.len);
	CHECK(sim_node(&s, 0)->rt->ops->listener_port(sim_node(&s, 0)->rt, k.listener) ==
		      SERVER_PORT,
	      "listener_port\n");
	CHECK(cl.closed == 1, "peer close not seen\n");
	sim_free(&s);
	fs_close(cl.file);
	tu_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_sim_same_seed_same_trace),
		cmocka_unit_test(test_ch3_sim_faults_request_response_completes),
		cmocka_unit_test(test_ch3_sim_partition_cuts_and_heals),
		cmocka_unit_test(test_ch3_sim_lose_next_drops_one_answer_and_the_connection),
		cmocka_unit_test(test_ch3_sim_crash_restart),
		cmocka_unit_test(test_ch3_sim_time_moves_only_by_events),
		cmocka_unit_test(test_ch3_sim_send_parts_copies_bytes),
	};

	seed = tu_seed(SEED_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
