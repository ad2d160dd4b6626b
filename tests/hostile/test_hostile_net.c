/*
 * test_hostile_net.c - clients that attack the broker's connections rather
 * than its codec (issue 10, items 6 and 8; src/net/real.c, rules 4-7):
 *
 *   pipelining Fetches without reading    muted: at most CONN_FILES_MAX
 *                                         descriptors pinned, others served
 *   pipelining Metadata without reading   muted: about 1 MiB queued, not
 *                                         hundreds
 *   running the broker out of descriptors the spare descriptor: no spin, a
 *                                         log line, new clients see their
 *                                         connection closed, not a hang
 *   max.connections, max.connections.per.ip   extra connections closed,
 *                                         logged at most once a second
 *   a request trickled a byte at a time   cut off klab.request.read.timeout.ms
 *                                         after its first byte
 *   many large requests half sent         queued.max.request.bytes: one is
 *                                         read at a time, the others wait
 *                                         unread; all answered in the end
 *   queued.max.request.bytes=0            refused at start, naming the line
 *
 * Each test starts its own `klab broker` (hostile.h) and stops it in the
 * teardown, so a failed assertion leaves no process behind.
 */
#include "testutil.h"

#include "hostile.h"

#define FETCH_PIPELINE 3000    /* Fetches sent without reading a response */
#define METADATA_PIPELINE 6000 /* Metadata requests sent likewise */
#define FILES_PER_CONN 16      /* real.c's CONN_FILES_MAX */
#define BIG_SENDERS 64	       /* clients each half sending a large request */
#define BIG_RECORD (900 << 10) /* the record value of each: a 900 KB frame */
#define BIG_SENT (800 << 10)   /* what each sends before it pauses */

static int
setup(void **state)
{
	struct hb *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	*state = b;
	return 0;
}

static int
teardown(void **state)
{
	struct hb *b = *state;

	hb_cleanup(b);
	free(b);
	return 0;
}

static void
start(struct hb *b, const char *extra, rlim_t nofile)
{
	if (hb_start(b, extra, nofile, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(b));
}

/*
 * Start a broker whose ASan keeps at most 16 MB of freed memory in
 * quarantine (256 MB by default), so that its peak RSS measures what it
 * holds, not what it churned through.
 */
static void
start_small_quarantine(struct hb *b, const char *extra)
{
	const char *old = getenv("ASAN_OPTIONS");
	char *saved = old != NULL ? strdup(old) : NULL, opts[512];

	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=16", old != NULL ? old : "",
		 old != NULL && *old != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	start(b, extra, 0);
	if (saved != NULL)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
}

/* One request frame, encoded into out (header v1). */
static void
frame(struct buf *out, int16_t api, int16_t ver, int32_t corr, const struct pvalue *body)
{
	struct proto_request_header h = { api, ver, corr, (const uint8_t *)"hostile", 7 };

	buf_reset(out);
	assert_int_equal(proto_request_encode(&h, body, out), KLAB_OK);
}

/* Send a request and wait for its answer, decoded (fails the test otherwise). */
static struct pvalue *
rpc(int fd, int16_t api, int16_t ver, struct pvalue *body)
{
	struct pvalue *resp;
	struct buf f;

	buf_init(&f);
	assert_int_equal(hc_request(fd, api, ver, 7, body), 0);
	assert_int_equal(hc_read_frame(fd, &f, 10000), 0);
	resp = hc_decode(api, ver, &f);
	assert_non_null(resp);
	buf_free(&f);
	pvalue_free(body);
	return resp;
}

static void
create_topic(int fd, const char *name)
{
	struct pvalue *req = hc_body(KAPI_CREATE_TOPICS), *resp, *t;

	pvalue_set_int(req, "timeout_ms", 5000);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "name", name);
	pvalue_set_int(t, "num_partitions", 1);
	pvalue_set_int(t, "replication_factor", 1);
	resp = rpc(fd, KAPI_CREATE_TOPICS, 3, req);
	assert_int_equal(pvalue_get_int(pvalue_at(pvalue_array(resp, "topics"), 0), "error_code"),
			 0);
	pvalue_free(resp);
}

/* Append nrec records of value_len bytes to topic-0 (acks=1). */
static void
produce(int fd, const char *topic, int nrec, size_t value_len)
{
	struct pvalue *req, *resp, *t;
	struct buf b;

	buf_init(&b);
	req = hc_produce_body(topic, nrec, value_len, 1, 5000, &b);
	resp = rpc(fd, KAPI_PRODUCE, 3, req);
	t = pvalue_at(pvalue_array(resp, "responses"), 0);
	assert_int_equal(
		pvalue_get_int(pvalue_at(pvalue_array(t, "partition_responses"), 0), "error_code"),
		0);
	pvalue_free(resp);
	buf_free(&b);
}

/* A Fetch v4 of topic-0 from offset 0, not waiting. */
static void
fetch_frame(struct buf *out, const char *topic)
{
	struct pvalue *req = hc_body(KAPI_FETCH), *t, *p;

	pvalue_set_int(req, "max_wait_ms", 0);
	pvalue_set_int(req, "min_bytes", 1);
	pvalue_set_int(req, "max_bytes", 1 << 20);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topics"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topics"), 0);
	pvalue_set_str(t, "topic", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partitions"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partitions"), 0);
	pvalue_set_int(p, "partition", 0);
	pvalue_set_int(p, "fetch_offset", 0);
	pvalue_set_int(p, "partition_max_bytes", 1 << 20);
	frame(out, KAPI_FETCH, 4, 1, req);
	pvalue_free(req);
}

/*
 * Send copies copies of frame f on fd without reading anything, for at
 * most ms (a muted connection stops taking them once the socket buffers
 * are full); returns how many went out whole.
 */
static int
pipeline(int fd, const struct buf *f, int copies, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	size_t total = f->len * (size_t)copies, put = 0;
	int rcv = 4096;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	while (put < total && h_now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		size_t at = put % f->len;
		ssize_t w;

		if (poll(&p, 1, 50) <= 0)
			continue;
		w = send(fd, f->data + at, f->len - at, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			break;
		put += (size_t)w;
	}
	return (int)(put / f->len);
}

/* Wait until the broker's descriptor count stops changing (at most ms); the count. */
static int
fds_settled(const struct hb *b, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	int last = hb_fds(b), same = 0;

	while (h_now_ms() < deadline && same < 5) {
		int now;

		usleep(100 * 1000);
		now = hb_fds(b);
		same = now == last ? same + 1 : 0;
		last = now;
	}
	return last;
}

/* Wait until the broker's peak RSS stops growing (at most ms); the peak in kB. */
static long
rss_settled(const struct hb *b, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	long last = hb_rss_peak_kb(b);
	int same = 0;

	while (h_now_ms() < deadline && same < 5) {
		long now;

		usleep(100 * 1000);
		now = hb_rss_peak_kb(b);
		same = now == last ? same + 1 : 0;
		last = now;
	}
	return last;
}

/* Did the broker close fd (end of stream or reset) within ms, sending nothing? */
static bool
closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	char c;

	if (poll(&p, 1, ms) <= 0)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * Send an ApiVersions v0 on fd: 1 if it is answered within ms, 0 if the
 * broker closes the connection first, -1 if neither happens (a hang).
 */
static int
answered_or_closed(int fd, int ms)
{
	struct pvalue *body = hc_body(KAPI_API_VERSIONS);
	int64_t t0 = h_now_ms();
	struct buf f;
	int rc = 0;

	buf_init(&f);
	if (fd >= 0 && hc_request(fd, KAPI_API_VERSIONS, 0, 1, body) == 0)
		rc = hc_read_frame(fd, &f, ms) == 0 ? 1 : h_now_ms() - t0 < ms - 100 ? 0 : -1;
	pvalue_free(body);
	buf_free(&f);
	return rc;
}

/* An ApiVersions v0 round trip on an open connection, in ms (-1: none within ms). */
static int64_t
answer_ms(int fd, int ms)
{
	int64_t t0 = h_now_ms();
	struct pvalue *body = hc_body(KAPI_API_VERSIONS);
	struct buf f;
	int rc;

	buf_init(&f);
	rc = hc_request(fd, KAPI_API_VERSIONS, 0, 1, body) == 0 ? hc_read_frame(fd, &f, ms) : -1;
	pvalue_free(body);
	buf_free(&f);
	return rc == 0 ? h_now_ms() - t0 : -1;
}

/* Lines of the broker's log containing s. */
static int
log_lines_with(const struct hb *b, const char *s)
{
	const char *text = hb_log(b);
	int n = 0;

	for (const char *p = strstr(text, s); p != NULL; p = strstr(p + 1, s))
		n++;
	return n;
}

/* ---- muting ---------------------------------------------------------------------- */

/*
 * 3000 pipelined Fetches of a 64 KB partition, none of the responses read:
 * the old runtime queued every response with a dup() of the segment (about
 * 3000 descriptors); now the connection is muted once 16 file parts are
 * queued, and another client is still answered at once.
 */
static void
test_hostile_fetch_pipeline_unread_pins_few_descriptors(void **state)
{
	struct hb *b = *state;
	struct buf f;
	int admin, hog, base, sent, fds;
	int64_t ms;

	start(b, NULL, 0);
	admin = hc_connect(b->port);
	create_topic(admin, "fetched");
	produce(admin, "fetched", 200, 300); /* a 64 KB batch */
	base = hb_fds(b);
	buf_init(&f);
	fetch_frame(&f, "fetched");
	hog = hc_connect(b->port);
	sent = pipeline(hog, &f, FETCH_PIPELINE, 3000);
	fds = fds_settled(b, 3000);
	ms = hc_probe_ms(b->port, 5000);
	print_message("fetch hog: %d requests sent, fds %d -> %d, probe %lld ms\n", sent, base, fds,
		      (long long)ms);
	assert_true(sent > 100);
	assert_true(fds <= base + 1 + FILES_PER_CONN + 2);
	assert_true(ms >= 0 && ms < 1000);
	assert_true(answer_ms(admin, 5000) >= 0);
	close(hog);
	close(admin);
	buf_free(&f);
	assert_int_equal(hb_stop(b), 0);
}

/*
 * 6000 pipelined Metadata requests for every topic (40 topics of long
 * names: about 11 KB a response, 66 MB in all), none read: the old runtime
 * queued them all in memory; now the connection is muted at 1 MiB queued.
 */
static void
test_hostile_metadata_pipeline_unread_bounded_memory(void **state)
{
	struct hb *b = *state;
	struct pvalue *req;
	struct buf f;
	char name[256];
	int admin, hog, sent;
	long rss0, rss1;
	int64_t ms;

	start_small_quarantine(b, NULL);
	admin = hc_connect(b->port);
	for (int i = 0; i < 40; i++) {
		memset(name, 'm', 200);
		snprintf(name + 200, sizeof(name) - 200, "%03d", i);
		create_topic(admin, name);
	}
	req = hc_body(KAPI_METADATA);
	pvalue_array_set_null(pvalue_array(req, "topics")); /* every topic */
	buf_init(&f);
	frame(&f, KAPI_METADATA, 1, 1, req);
	pvalue_free(req);
	assert_true(answer_ms(admin, 5000) >= 0);
	rss0 = hb_rss_peak_kb(b);
	hog = hc_connect(b->port);
	sent = pipeline(hog, &f, METADATA_PIPELINE, 4000);
	rss1 = rss_settled(b, 6000);
	ms = hc_probe_ms(b->port, 5000);
	print_message("metadata hog: %d requests sent, peak RSS %ld -> %ld kB, probe %lld ms\n",
		      sent, rss0, rss1, (long long)ms);
	assert_true(sent > 1000);
	assert_true(rss1 - rss0 < 48 * 1024); /* ASan's own caches: about 30 MB */
	assert_true(ms >= 0 && ms < 1000);
	close(hog);
	close(admin);
	buf_free(&f);
	assert_int_equal(hb_stop(b), 0);
}

/* ---- descriptors ----------------------------------------------------------------- */

/*
 * RLIMIT_NOFILE 64 and 80 connections: the old loop spun at 100% CPU on a
 * listener it could not accept from, logging nothing, and a new client
 * hung; now the pending connections are accepted and closed at once, a
 * line says so, and once the hogs leave new clients are served.
 */
static void
test_hostile_out_of_descriptors_no_spin_closes_new_clients(void **state)
{
	struct hb *b = *state;
	int hogs[80], late[3] = { -1, -1, -1 }, outcome;
	double cpu0, cpu1;
	bool closed = false;
	int64_t ms;

	start(b, NULL, 64);
	for (int i = 0; i < 80; i++)
		assert_true((hogs[i] = hc_connect(b->port)) >= 0); /* the backlog takes them */
	usleep(300 * 1000);
	cpu0 = hb_cpu_seconds(b);
	usleep(2000 * 1000);
	cpu1 = hb_cpu_seconds(b);
	print_message("80 connections at ulimit -n 64: %.2f s of CPU in 2 s, %d fds\n", cpu1 - cpu0,
		      hb_fds(b));
	assert_true(cpu1 - cpu0 < 0.3);
	/* a slot freed meanwhile (a connection that ended) serves one; then none is free */
	for (int i = 0; i < 3 && !closed; i++) {
		late[i] = hc_connect(b->port);
		outcome = answered_or_closed(late[i], 3000);
		print_message("new client %d: %s\n", i,
			      outcome > 0    ? "served"
			      : outcome == 0 ? "closed"
					     : "left hanging");
		assert_true(outcome >= 0);
		closed = outcome == 0;
	}
	assert_true(closed);
	assert_true(log_lines_with(b, "out of file descriptors (EMFILE") >= 1);
	assert_true(log_lines_with(b, "out of file descriptors") <= 5); /* once a second */
	for (int i = 0; i < 80; i++)
		close(hogs[i]);
	for (int i = 0; i < 3; i++)
		close(late[i]);
	usleep(300 * 1000);
	ms = hc_probe_ms(b->port, 5000);
	assert_true(ms >= 0 && ms < 1000);
	assert_int_equal(hb_stop(b), 0);
}

/* ---- connection limits ----------------------------------------------------------- */

/*
 * max.connections=3: three connections are served, the next 50 are closed
 * at once with a log line at most once a second (the old runtime logged
 * every one: a client connecting in a loop filled the log); one leaves, a
 * new one is served.
 */
static void
test_hostile_max_connections_refuses_extra(void **state)
{
	struct hb *b = *state;
	int keep[3], fd, refused = 0;

	start(b, "max.connections=3\n", 0);
	for (int i = 0; i < 3; i++) {
		keep[i] = hc_connect(b->port);
		assert_true(answer_ms(keep[i], 5000) >= 0);
	}
	for (int i = 0; i < 50; i++) {
		fd = hc_connect(b->port);
		refused += fd < 0 || closed_within(fd, 2000);
		if (fd >= 0)
			close(fd);
	}
	print_message("max.connections=3: %d of 50 refused, %d log lines\n", refused,
		      log_lines_with(b, "(max.connections)"));
	assert_int_equal(refused, 50);
	assert_true(log_lines_with(b, "(max.connections)") >= 1);
	assert_true(log_lines_with(b, "(max.connections)") <= 5);
	close(keep[0]);
	usleep(200 * 1000);
	fd = hc_connect(b->port);
	assert_true(answer_ms(fd, 5000) >= 0);
	assert_true(answer_ms(keep[1], 5000) >= 0);
	close(fd);
	close(keep[1]);
	close(keep[2]);
	assert_int_equal(hb_stop(b), 0);
}

/* max.connections.per.ip=2: a third connection from 127.0.0.1 is closed (the key was ignored). */
static void
test_hostile_max_connections_per_ip_refuses_extra(void **state)
{
	struct hb *b = *state;
	int keep[2], fd;

	start(b, "max.connections.per.ip=2\n", 0);
	for (int i = 0; i < 2; i++) {
		keep[i] = hc_connect(b->port);
		assert_true(answer_ms(keep[i], 5000) >= 0);
	}
	fd = hc_connect(b->port);
	assert_true(fd < 0 || closed_within(fd, 2000));
	close(fd);
	assert_true(log_lines_with(b, "(max.connections.per.ip)") == 1);
	close(keep[0]);
	usleep(200 * 1000);
	fd = hc_connect(b->port);
	assert_true(answer_ms(fd, 5000) >= 0);
	close(fd);
	close(keep[1]);
	assert_int_equal(hb_stop(b), 0);
}

/* ---- slow clients ---------------------------------------------------------------- */

/*
 * klab.request.read.timeout.ms=1000: an ApiVersions request sent one byte
 * every 100 ms (2.1 s in all) is cut off about 1 s after its first byte,
 * though every byte reset the idle timer (the old broker waited and
 * answered it); a connection that sends nothing meanwhile stays open, as
 * connections.max.idle.ms says.
 */
static void
test_hostile_slow_request_cut_off(void **state)
{
	struct hb *b = *state;
	struct pvalue *body = hc_body(KAPI_API_VERSIONS);
	struct buf f;
	int slow, quiet;
	int64_t t0, cut = -1;

	start(b, "klab.request.read.timeout.ms=1000\n", 0);
	buf_init(&f);
	frame(&f, KAPI_API_VERSIONS, 0, 1, body);
	pvalue_free(body);
	quiet = hc_connect(b->port);
	slow = hc_connect(b->port);
	t0 = h_now_ms();
	for (size_t i = 0; i < f.len && cut < 0; i++) {
		if (hc_send(slow, f.data + i, 1) != 0 || closed_within(slow, 100))
			cut = h_now_ms() - t0;
	}
	if (cut < 0 && closed_within(slow, 2000))
		cut = h_now_ms() - t0;
	print_message("a request trickled byte by byte: cut off after %lld ms\n", (long long)cut);
	assert_true(cut >= 900 && cut < 1800);
	assert_true(log_lines_with(b, "klab.request.read.timeout.ms") == 1);
	assert_true(answer_ms(quiet, 5000) >= 0);
	close(slow);
	close(quiet);
	buf_free(&f);
	assert_int_equal(hb_stop(b), 0);
}

/* ---- requests being read ------------------------------------------------------- */

/* A Produce (acks=1) of one record of value_len bytes to topic, as a frame. */
static void
produce_frame(struct buf *out, const char *topic, size_t value_len)
{
	struct pvalue *req = hc_body(KAPI_PRODUCE), *t, *p;
	struct buf b;

	buf_init(&b);
	tu_batch_make(&b, 1, 1700000000000, value_len, 1);
	pvalue_set_int(req, "acks", 1);
	pvalue_set_int(req, "timeout_ms", 5000);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topic_data"), 0);
	pvalue_set_str(t, "name", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", 0);
	pvalue_set_bytes(p, "records", b.data, (int32_t)b.len);
	frame(out, KAPI_PRODUCE, 3, 1, req);
	pvalue_free(req);
	buf_free(&b);
}

/*
 * Send bytes [0, upto) of f on each of fds[0..n), put[i] of them already
 * sent, without blocking, round-robin, for at most ms; how many got there.
 */
static int
send_upto(const int *fds, size_t *put, int n, const struct buf *f, size_t upto, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	int done = 0;

	while (done < n && h_now_ms() < deadline) {
		done = 0;
		for (int i = 0; i < n; i++) {
			ssize_t w = 0;

			if (put[i] < upto)
				w = send(fds[i], f->data + put[i], upto - put[i],
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			put[i] += w > 0 ? (size_t)w : 0;
			done += put[i] == upto;
		}
		if (done < n)
			usleep(1000);
	}
	return done;
}

/* An ApiVersions v0 sent in two parts: its first 6 bytes now, the rest 100 ms later. */
static void
send_split_api_versions(int fd)
{
	struct pvalue *body = hc_body(KAPI_API_VERSIONS);
	struct buf f;

	buf_init(&f);
	frame(&f, KAPI_API_VERSIONS, 0, 1, body);
	assert_int_equal(hc_send(fd, f.data, 6), 0);
	usleep(100 * 1000);
	assert_int_equal(hc_send(fd, f.data + 6, f.len - 6), 0);
	pvalue_free(body);
	buf_free(&f);
}

/*
 * 64 clients each send 800 KB of a 900 KB Produce and pause.  Without a
 * bound the broker reads them all (about 50 MB of input buffers); with
 * queued.max.request.bytes=1048576 it reads one, and the others wait
 * unread, their bytes in the kernel's socket buffers.  A small request
 * that arrives whole is answered at once; one whose size arrives ahead of
 * its body waits its turn behind the large ones (real.c, rule 4).  When
 * the senders finish, every request is answered.
 */
static void
test_hostile_queued_request_bytes_bounds_reading(void **state)
{
	struct hb *b = *state;
	int fds[BIG_SENDERS], split, admin;
	size_t put[BIG_SENDERS] = { 0 };
	struct buf f;
	long rss0, rss1;
	int64_t ms;

	start_small_quarantine(b, "auto.create.topics.enable=false\n"
				  "queued.max.request.bytes=1048576\n");
	buf_init(&f);
	produce_frame(&f, "absent", BIG_RECORD);
	admin = hc_connect(b->port);
	assert_true(answer_ms(admin, 5000) >= 0);
	rss0 = hb_rss_peak_kb(b);
	for (int i = 0; i < BIG_SENDERS; i++)
		assert_true((fds[i] = hc_connect(b->port)) >= 0);
	assert_int_equal(send_upto(fds, put, BIG_SENDERS, &f, BIG_SENT, 10000), BIG_SENDERS);
	rss1 = rss_settled(b, 6000);
	ms = hc_probe_ms(b->port, 5000);
	split = hc_connect(b->port);
	send_split_api_versions(split);
	print_message("%d clients half sending %zu KB: peak RSS %ld -> %ld kB, probe %lld ms\n",
		      BIG_SENDERS, f.len >> 10, rss0, rss1, (long long)ms);
	assert_true(rss1 - rss0 < 24 * 1024); /* unbounded: about 50 MB more */
	assert_true(ms >= 0 && ms < 1000);
	assert_int_equal(poll(&(struct pollfd){ .fd = split, .events = POLLIN }, 1, 500),
			 0); /* it waits: neither answered nor closed */
	assert_int_equal(send_upto(fds, put, BIG_SENDERS, &f, f.len, 20000), BIG_SENDERS);
	for (int i = 0; i < BIG_SENDERS; i++) {
		struct buf r;

		buf_init(&r);
		assert_int_equal(hc_read_frame(fds[i], &r, 20000), 0);
		buf_free(&r);
		close(fds[i]);
	}
	assert_true(hc_read_frame(split, &f, 5000) == 0); /* its turn came */
	close(split);
	close(admin);
	buf_free(&f);
	assert_int_equal(hb_stop(b), 0);
}

/* Run `klab broker` with these extra lines to its end; its exit status (128+signal if killed). */
static int
broker_exit_status(struct hb *b, const char *extra)
{
	int status;

	memset(b, 0, sizeof(*b));
	tu_tmpdir_make(b->dir, sizeof(b->dir));
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	b->port = h_free_port();
	hb_write_config(b, extra);
	if ((b->pid = fork()) == 0)
		hb_exec(b, 0, 0);
	assert_true(b->pid > 0);
	assert_int_equal(waitpid(b->pid, &status, 0), b->pid);
	b->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* queued.max.request.bytes=0 or -2: the broker exits at once, naming the line. */
static void
test_hostile_queued_request_bytes_zero_refused(void **state)
{
	struct hb *b = *state;
	int rc;

	rc = broker_exit_status(b, "queued.max.request.bytes=0\n");
	print_message("queued.max.request.bytes=0: exit %d: %s", rc, hb_log(b));
	assert_true(rc > 0 && rc < 128);
	assert_non_null(strstr(hb_log(b), "server.properties:4: queued.max.request.bytes=0: "
					  "must be -1 or at least 1"));
	hb_cleanup(b);
	rc = broker_exit_status(b, "queued.max.request.bytes=-2\n");
	assert_true(rc > 0 && rc < 128);
	assert_non_null(strstr(hb_log(b), "queued.max.request.bytes=-2: must be between -1"));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hostile_fetch_pipeline_unread_pins_few_descriptors),
		T(test_hostile_metadata_pipeline_unread_bounded_memory),
		T(test_hostile_out_of_descriptors_no_spin_closes_new_clients),
		T(test_hostile_max_connections_refuses_extra),
		T(test_hostile_max_connections_per_ip_refuses_extra),
		T(test_hostile_slow_request_cut_off),
		T(test_hostile_queued_request_bytes_bounds_reading),
		T(test_hostile_queued_request_bytes_zero_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
