/*
 * hostile.h - what the hostile-client tests share (the programs in tests/hostile).
 *
 * Each test starts a real `klab broker` process on a free loopback port
 * with its own log directory (and, where a bound needs it, its own small
 * ulimit), attacks it with well-formed but malicious requests or files,
 * and asserts a bound: the broker's peak memory, its descriptors, its CPU
 * time, the latency another client sees meanwhile, the error code it
 * answers, the bytes outside log.dirs.  Every test stops its broker.
 *
 *   struct hb b;
 *   hb_start(&b, "auto.create.topics.enable=false\n", 0, 0);
 *   int fd = hc_connect(b.port);
 *   ... hc_request(fd, KAPI_METADATA, 8, body) / hc_read_frame() ...
 *   assert_true(hb_rss_peak_kb(&b) < 200 * 1024);
 *   hb_stop(&b); hb_cleanup(&b);
 *
 * The broker binary is $KLAB (make test passes build/san/ch3/klab); under
 * ASan its memory figures include the sanitizer's own overhead, so bounds
 * are stated with room for it.  Include after testutil.h.
 */
#ifndef KLAB_TESTS_HOSTILE_H
#define KLAB_TESTS_HOSTILE_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/kafka.h"
#include "core/buf.h"

struct hb {
	pid_t pid; /* 0: not running */
	int port;
	char dir[64];  /* scratch: server.properties, broker.log, logs/ */
	char log[256]; /* dir/broker.log */
};

static inline int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline const char *
h_klab(void)
{
	const char *k = getenv("KLAB");

	return k != NULL && *k != '\0' ? k : "build/san/ch3/klab";
}

/* A port on 127.0.0.1 that nobody listens on now. */
static inline int
h_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

/* ---- a client connection ---------------------------------------------------- */

/* A blocking connection to 127.0.0.1:port; -1 when refused. */
static inline int
hc_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write all n bytes (0), or -1 when the broker closed the connection. */
static inline int
hc_send(int fd, const void *p, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = send(fd, (const char *)p + put, n - put, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

/* Send one request (header v1, body as api's request schema at version ver). */
static inline int
hc_request(int fd, int16_t api, int16_t ver, int32_t corr, const struct pvalue *body)
{
	struct proto_request_header h = { api, ver, corr, (const uint8_t *)"hostile", 7 };
	struct buf b;
	int rc;

	buf_init(&b);
	assert_int_equal(proto_request_encode(&h, body, &b), KLAB_OK);
	rc = hc_send(fd, b.data, b.len);
	buf_free(&b);
	return rc;
}

/*
 * Read one whole response frame (size prefix included) into out within
 * timeout_ms: 0, or -1 on a timeout or a closed connection.
 */
static inline int
hc_read_frame(int fd, struct buf *out, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	size_t want = 4;

	buf_reset(out);
	while (out->len < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - h_now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		assert_true(buf_reserve(out, want - out->len));
		r = recv(fd, out->data + out->len, want - out->len, 0);
		if (r <= 0)
			return -1;
		out->len += (size_t)r;
		if (want == 4 && out->len == 4)
			want = 4 + (size_t)be32_read(out->data);
	}
	return 0;
}

/* The response body of a frame hc_read_frame returned, decoded (NULL: bad bytes). */
static inline struct pvalue *
hc_decode(int16_t api, int16_t ver, const struct buf *frame)
{
	struct pvalue *v = NULL;
	struct cursor body;
	int32_t corr;

	/* response header v0, or v1 (one more byte: its tagged fields) when flexible */
	if (frame->len < 8 ||
	    proto_response_header_parse(api, ver, frame->data + 4, frame->len - 4, &corr, &body) !=
		    KLAB_OK ||
	    proto_decode(proto_api(api)->response, ver, body.p, body.len, &v) != KLAB_OK)
		return NULL;
	return v;
}

/* A request body of api at its schema's defaults, to fill in. */
static inline struct pvalue *
hc_body(int16_t api)
{
	return pvalue_new(proto_api(api)->request);
}

/*
 * How long an unrelated client waits for an ApiVersions v0 answer on a
 * fresh connection, in ms (-1: no answer within timeout_ms).  The measure
 * of "disturbs no other client".
 */
static inline int64_t
hc_probe_ms(int port, int timeout_ms)
{
	int64_t t0 = h_now_ms();
	int fd = hc_connect(port);
	struct pvalue *body;
	struct buf f;
	int rc;

	if (fd < 0)
		return -1;
	body = hc_body(KAPI_API_VERSIONS);
	buf_init(&f);
	rc = hc_request(fd, KAPI_API_VERSIONS, 0, 1, body) == 0 ? hc_read_frame(fd, &f, timeout_ms)
								: -1;
	pvalue_free(body);
	buf_free(&f);
	close(fd);
	return rc == 0 ? h_now_ms() - t0 : -1;
}

/*
 * A Produce request body: one batch of nrec records of value_len bytes
 * (tu_batch_make) for partition 0 of topic, with acks and timeout_ms.
 * The batch is copied into *batch, which must outlive the body.
 */
static inline struct pvalue *
hc_produce_body(const char *topic, int nrec, size_t value_len, int acks, int timeout_ms,
		struct buf *batch)
{
	struct pvalue *req = hc_body(KAPI_PRODUCE), *t, *p;

	tu_batch_make(batch, nrec, 1700000000000, value_len, (uint32_t)nrec);
	pvalue_set_int(req, "acks", acks);
	pvalue_set_int(req, "timeout_ms", timeout_ms);
	assert_int_equal(pvalue_array_resize(pvalue_array(req, "topic_data"), 1), KLAB_OK);
	t = pvalue_at(pvalue_array(req, "topic_data"), 0);
	pvalue_set_str(t, "name", topic);
	assert_int_equal(pvalue_array_resize(pvalue_array(t, "partition_data"), 1), KLAB_OK);
	p = pvalue_at(pvalue_array(t, "partition_data"), 0);
	pvalue_set_int(p, "index", 0);
	pvalue_set_bytes(p, "records", batch->data, (int32_t)batch->len);
	return req;
}

/* ---- the broker process ----------------------------------------------------- */

static inline bool
hb_alive(const struct hb *b)
{
	return b->pid > 0 && kill(b->pid, 0) == 0 && waitpid(b->pid, NULL, WNOHANG) == 0;
}

/* The broker's log so far (a static buffer, NUL-terminated). */
static inline const char *
hb_log(const struct hb *b)
{
	static char text[1 << 16];
	FILE *f = fopen(b->log, "r");
	size_t n = 0;

	text[0] = '\0';
	if (f != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static inline void
hb_write_config(struct hb *b, const char *extra)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.properties", b->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s/logs\n%s", b->port,
		b->dir, extra != NULL ? extra : "");
	assert_int_equal(fclose(f), 0);
}

static inline void
hb_exec(struct hb *b, rlim_t nofile, rlim_t as_bytes)
{
	char cfg[128];
	int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (nofile > 0) {
		struct rlimit r = { nofile, nofile };

		setrlimit(RLIMIT_NOFILE, &r);
	}
	if (as_bytes > 0) {
		struct rlimit r = { as_bytes, as_bytes };

		setrlimit(RLIMIT_AS, &r);
	}
	snprintf(cfg, sizeof(cfg), "%s/server.properties", b->dir);
	execl(h_klab(), h_klab(), "broker", "-c", cfg, (char *)NULL);
	_exit(127);
}

/*
 * Start a broker with these extra server.properties lines (may be NULL),
 * RLIMIT_NOFILE nofile and RLIMIT_AS as_bytes (0: unchanged).  Returns 0
 * once it accepts connections (within 20 s), -1 if it exited first (its
 * log is in hb_log).  Under ASan a small RLIMIT_AS does not work: use
 * the broker's own limits, or measure VmHWM instead.
 */
/*
 * Start b's broker process in b->dir (kept from an earlier start: a
 * restart on the same log directory) on a new free port: as hb_start.
 */
static inline int
hb_launch(struct hb *b, const char *extra, rlim_t nofile, rlim_t as_bytes)
{
	b->port = h_free_port();
	hb_write_config(b, extra);
	if ((b->pid = fork()) == 0)
		hb_exec(b, nofile, as_bytes);
	assert_true(b->pid > 0);
	for (int i = 0; i < 400; i++) {
		int fd = hc_connect(b->port);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (!hb_alive(b)) {
			b->pid = 0;
			return -1;
		}
		usleep(50 * 1000);
	}
	return -1;
}

static inline int
hb_start(struct hb *b, const char *extra, rlim_t nofile, rlim_t as_bytes)
{
	memset(b, 0, sizeof(*b));
	tu_tmpdir_make(b->dir, sizeof(b->dir));
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	return hb_launch(b, extra, nofile, as_bytes);
}

/*
 * SIGTERM, then wait up to 20 s: the exit status (0..255), 128+signal if
 * a signal ended it, -1 if it did not stop (then it is killed).
 */
static inline int
hb_stop(struct hb *b)
{
	int status;

	if (b->pid <= 0)
		return -1;
	kill(b->pid, SIGTERM);
	for (int i = 0; i < 400; i++) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(50 * 1000);
	}
	kill(b->pid, SIGKILL);
	waitpid(b->pid, &status, 0);
	b->pid = 0;
	return -1;
}

/* Kill the broker if it still runs and remove its directory. */
static inline void
hb_cleanup(struct hb *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	tu_tmpdir_remove(b->dir);
}

/* A line "Key:  N kB" of /proc/PID/status, in kB (-1: not found). */
static inline long
hb_status_kb(const struct hb *b, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Peak resident memory so far (VmHWM), in kB. */
static inline long
hb_rss_peak_kb(const struct hb *b)
{
	return hb_status_kb(b, "VmHWM");
}

/* Open descriptors now. */
static inline int
hb_fds(const struct hb *b)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)b->pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* CPU seconds used so far (user + system). */
static inline double
hb_cpu_seconds(const struct hb *b)
{
	char path[64], text[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if ((p = strrchr(text, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

#endif
