/*
 * test_real.c - the real runtime over loopback TCP (chapter 3 §3).
 *
 * Two nodes in one runtime, on 127.0.0.1 with a port the kernel picks:
 *
 *   the server answers a connection with a send_parts frame (a 4-byte head
 *   and 1 MiB of a temporary file: sendfile with partial writes); the
 *   client checks every byte, then sends a frame announcing more than
 *   socket.request.max.bytes: the runtime closes the server's side (one
 *   log line) and the client sees on_closed; a client timer fires; the
 *   client then calls real_stop() and every node's on_stop runs;
 *   a connect to a port nobody listens on ends in on_connected(false);
 *   idle connections close after connections.max.idle.ms;
 *   SIGTERM stops the loop through signalfd.
 *
 * Each test arms a watchdog timer (3 s) that stops the loop and fails.
 */
#include "testutil.h"

#include <signal.h>

#include "net/real.h"
#include "net/disk_real.h"

#define FILE_BYTES (1u << 20)
#define WATCHDOG_MS 3000

struct shared {
	struct real *r;
	int port;
	struct fs_file *file;
	/* what happened */
	int accepted, connected_ok, connected_fail, frames, closed_server, closed_client;
	int timers, stopped, bad_bytes, watchdog_fired;
	size_t got_len;
	timer_id watchdog;
	char log[1024];
	bool idle_test, refuse_test;
};

static struct shared *
sh(struct node *n)
{
	return n->state;
}

static void
log_line(void *arg, const char *line)
{
	struct shared *s = arg;
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%s\n", line);
}

/* ---- server ---------------------------------------------------------------- */

static void
server_start(struct node *n)
{
	struct kerr e = { 0 };
	int64_t l = n->rt->ops->listen(n->rt, "127.0.0.1", 0, &e);

	if (l <= 0)
		fail_msg("listen: %s", kerr_msg(&e));
	sh(n)->port = n->rt->ops->listener_port(n->rt, l);
	assert_true(sh(n)->port > 0);
}

static void
server_accept(struct node *n, conn_id c, int64_t l)
{
	uint8_t head[4];

	(void)l;
	sh(n)->accepted++;
	if (sh(n)->idle_test)
		return;
	/*
	 * One frame in two parts, as a Fetch response is sent: the head and
	 * file bytes [0, 1000), then 10 bytes from memory (the same values)
	 * and the rest of the file from 1010.
	 */
	uint8_t mid[10];
	struct rt_part parts[2] = {
		{ .bytes = head, .len = 4, .file = sh(n)->file, .file_off = 0, .file_len = 1000 },
		{ .bytes = mid,
		  .len = sizeof(mid),
		  .file = sh(n)->file,
		  .file_off = 1010,
		  .file_len = FILE_BYTES - 1010 },
	};

	be32_write(head, FILE_BYTES);
	for (size_t i = 0; i < sizeof(mid); i++)
		mid[i] = (uint8_t)((1000 + i + 4) * 7);
	assert_int_equal(n->rt->ops->send_parts(n->rt, c, parts, 1), KLAB_EINVAL); /* not whole */
	assert_int_equal(n->rt->ops->send_parts(n->rt, c, parts, 2), KLAB_OK);
}

static void
server_closed(struct node *n, conn_id c)
{
	(void)c;
	sh(n)->closed_server++;
}

static void
server_stop(struct node *n)
{
	sh(n)->stopped++;
}

static const struct node_ops server_ops = {
	.on_start = server_start,
	.on_accept = server_accept,
	.on_closed = server_closed,
	.on_stop = server_stop,
};

/* ---- client ------------------------------------------------------------------ */

static void
client_start(struct node *n)
{
	struct shared *s = sh(n);

	s->watchdog = n->rt->ops->set_timer(n->rt, WATCHDOG_MS);
	n->rt->ops->set_timer(n->rt, 20);
	n->rt->ops->connect(n->rt, "127.0.0.1", s->refuse_test ? 1 : s->port);
}

static void
client_connected(struct node *n, conn_id c, bool ok)
{
	(void)c;
	if (!ok) {
		sh(n)->connected_fail++;
		real_stop(sh(n)->r);
		return;
	}
	sh(n)->connected_ok++;
}

static void
client_frame(struct node *n, conn_id c, const uint8_t *f, size_t len)
{
	struct shared *s = sh(n);
	uint8_t *big = calloc(1, FILE_BYTES + 5);

	s->frames++;
	s->got_len = len;
	for (size_t i = 4; i < len; i++)
		s->bad_bytes += f[i] != (uint8_t)(i * 7);
	assert_non_null(big);
	be32_write(big, FILE_BYTES + 1); /* one byte over socket.request.max.bytes */
	assert_int_equal(n->rt->ops->send(n->rt, c, big, FILE_BYTES + 5), KLAB_OK);
	free(big);
}

static void
client_closed(struct node *n, conn_id c)
{
	(void)c;
	sh(n)->closed_client++;
	if (sh(n)->timers > 0)
		real_stop(sh(n)->r);
}

static void
client_timer(struct node *n, timer_id t)
{
	struct shared *s = sh(n);

	if (t == s->watchdog) {
		s->watchdog_fired++;
		real_stop(s->r);
		return;
	}
	s->timers++;
	if (s->closed_client > 0)
		real_stop(s->r);
}

static const struct node_ops client_ops = {
	.on_start = client_start,
	.on_connected = client_connected,
	.on_frame = client_frame,
	.on_closed = client_closed,
	.on_timer = client_timer,
	.on_stop = server_stop,
};

/* ---- fixture ------------------------------------------------------------------- */

static char dir[64];

static struct real *
make(struct shared *s, int64_t idle_ms)
{
	struct real_config cfg;

	real_config_defaults(&cfg);
	cfg.max_frame_bytes = FILE_BYTES;
	cfg.idle_timeout_ms = idle_ms;
	cfg.handle_signals = false;
	cfg.log = log_line;
	cfg.log_arg = s;
	s->r = real_new(&cfg);
	assert_non_null(s->r);
	assert_int_equal(real_add_node(s->r, "server", &server_ops, s, dir), 0);
	assert_int_equal(real_add_node(s->r, "client", &client_ops, s, dir), 1);
	return s->r;
}

static int
setup(void **state)
{
	char path[128];
	uint8_t *p = malloc(FILE_BYTES + 4);
	struct shared *s = calloc(1, sizeof(*s));

	assert_non_null(p);
	tu_tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	for (size_t i = 0; i < FILE_BYTES; i++)
		p[i] = (uint8_t)((i + 4) * 7); /* byte i of the frame is i * 7 */
	tu_file_write(path, p, FILE_BYTES);
	free(p);
	assert_int_equal(fs_open(disk_real(), path, FS_READONLY, &s->file, NULL), KLAB_OK);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct shared *s = *state;

	fs_close(s->file);
	real_free(s->r);
	free(s);
	tu_tmpdir_remove(dir);
	return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void
test_ch3_real_send_parts_oversize_timer_stop(void **state)
{
	struct shared *s = *state;

	/* socket.request.max.bytes is 1 MiB: the send_parts frame fits, 1 MiB + 1 not. */
	make(s, 0);
	assert_int_equal(real_run(s->r), KLAB_OK);
	if (s->watchdog_fired)
		fail_msg("watchdog: accepted %d connected %d frames %d got %zu closed %d/%d "
			 "timers %d; log: %s",
			 s->accepted, s->connected_ok, s->frames, s->got_len, s->closed_server,
			 s->closed_client, s->timers, s->log);
	assert_int_equal(s->accepted, 1);
	assert_int_equal(s->connected_ok, 1);
	assert_int_equal(s->frames, 1);
	assert_int_equal(s->got_len, FILE_BYTES + 4);
	assert_int_equal(s->bad_bytes, 0);
	assert_int_equal(s->closed_server, 1); /* the runtime closed it: too large */
	assert_int_equal(s->closed_client, 1);
	assert_true(s->timers >= 1);
	assert_int_equal(s->stopped, 2);
	assert_non_null(strstr(s->log, "too large"));
}

static void
test_ch3_real_connect_refused(void **state)
{
	struct shared *s = *state;

	s->refuse_test = true;
	make(s, 0);
	assert_int_equal(real_run(s->r), KLAB_OK);
	assert_int_equal(s->watchdog_fired, 0);
	assert_int_equal(s->connected_fail, 1);
	assert_int_equal(s->connected_ok, 0);
}

static void
test_ch3_real_idle_connections_close(void **state)
{
	struct shared *s = *state;

	s->idle_test = true;
	make(s, 100);
	assert_int_equal(real_run(s->r), KLAB_OK);
	assert_int_equal(s->watchdog_fired, 0);
	assert_int_equal(s->connected_ok, 1);
	assert_int_equal(s->closed_client, 1);
	assert_int_equal(s->closed_server, 1);
	assert_non_null(strstr(s->log, "connections.max.idle.ms"));
}

/*
 * max.connections counts accepted connections only: one node listens
 * (limit 1) and connects to itself twice.  Both of its own connects are
 * made (they are not counted), the listener accepts the first and refuses
 * the second with a log line, and the refused one closes on the
 * connecting side.
 */
struct lim {
	struct shared *s;
	int accepted, connected, closed;
};

static void
lim_start(struct node *n)
{
	struct kerr e = { 0 };
	int64_t id = n->rt->ops->listen(n->rt, "127.0.0.1", 0, &e);
	int port = n->rt->ops->listener_port(n->rt, id);

	assert_true(port > 0);
	n->rt->ops->connect(n->rt, "127.0.0.1", port);
	n->rt->ops->connect(n->rt, "127.0.0.1", port);
	n->rt->ops->set_timer(n->rt, 300);
}

static void
lim_accept(struct node *n, conn_id c, int64_t listener)
{
	(void)c;
	(void)listener;
	((struct lim *)n->state)->accepted++;
}

static void
lim_connected(struct node *n, conn_id c, bool ok)
{
	(void)c;
	((struct lim *)n->state)->connected += ok;
}

static void
lim_closed(struct node *n, conn_id c)
{
	(void)c;
	((struct lim *)n->state)->closed++;
}

static void
lim_timer(struct node *n, timer_id t)
{
	(void)t;
	real_stop(((struct lim *)n->state)->s->r);
}

static const struct node_ops lim_ops = {
	.on_start = lim_start,
	.on_accept = lim_accept,
	.on_connected = lim_connected,
	.on_closed = lim_closed,
	.on_timer = lim_timer,
};

static void
test_ch3_real_max_connections_counts_accepted_only(void **state)
{
	struct shared *s = *state;
	struct lim l = { .s = s };
	struct real_config cfg;

	real_config_defaults(&cfg);
	cfg.max_connections = 1;
	cfg.log = log_line;
	cfg.log_arg = s;
	s->r = real_new(&cfg);
	assert_non_null(s->r);
	assert_true(real_add_node(s->r, "lim", &lim_ops, &l, NULL) >= 0);
	assert_int_equal(real_run(s->r), KLAB_OK);
	assert_int_equal(l.connected, 2); /* its own connects are not limited */
	assert_int_equal(l.accepted, 1);  /* the listener took one ... */
	assert_int_equal(l.closed, 1);	  /* ... and refused the other */
	assert_non_null(strstr(s->log, "max.connections"));
}

static void
sig_timer(struct node *n, timer_id t)
{
	(void)t;
	(void)n;
	kill(getpid(), SIGTERM);
}

static const struct node_ops sig_ops = { .on_timer = sig_timer, .on_stop = server_stop };

static void
sig_start(struct node *n)
{
	n->rt->ops->set_timer(n->rt, 10);
}

static void
test_ch3_real_sigterm_stops(void **state)
{
	struct shared *s = *state;
	struct node_ops ops = sig_ops;
	struct real_config cfg;

	ops.on_start = sig_start;
	real_config_defaults(&cfg);
	cfg.log = log_line;
	cfg.log_arg = s;
	s->r = real_new(&cfg);
	assert_non_null(s->r);
	real_add_node(s->r, "sig", &ops, s, NULL);
	alarm(5); /* if SIGTERM is lost, die rather than hang */
	assert_int_equal(real_run(s->r), KLAB_OK);
	alarm(0);
	assert_int_equal(s->stopped, 1);
	assert_non_null(strstr(s->log, "SIGTERM"));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ch3_real_send_parts_oversize_timer_stop),
		T(test_ch3_real_connect_refused),
		T(test_ch3_real_idle_connections_close),
		T(test_ch3_real_max_connections_counts_accepted_only),
		T(test_ch3_real_sigterm_stops),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
