/*
 * bench_broker.c - how fast is `klab broker` with a real Kafka client, next
 * to Redis Streams, NATS JetStream and the loopback interface itself?
 *
 * bench_log.c and bench_produce.c measure klab's code in one process.  This
 * one measures the broker as a client sees it: a separate process on
 * loopback, spoken to by librdkafka (Debian's, the library behind kcat),
 * with the same records sent the same way to two other systems that keep
 * an append-only stream, and with the machine's own limit beside them.
 * Every server runs in a fresh directory under /tmp on a free port of
 * 127.0.0.1 and is stopped with SIGTERM at the end.
 *
 * For each record size (100 B and 1 KiB values, null keys, no compression;
 * record i carries value i % POOL of a pool of POOL pseudo-random printable
 * values, so every system gets the very same bytes):
 *
 *   loopback    one TCP connection, one writer and one reader thread in
 *               this process, N x size bytes in 256 KiB writes: the most
 *               any system here could move through 127.0.0.1;
 *   klab        produce: one librdkafka producer, acks=1 (settings printed
 *               with the table), into a topic of one partition; the clock
 *               runs from the first rd_kafka_produce() to the last delivery
 *               report (rd_kafka_flush), after a Metadata request has
 *               created the topic and opened the connection.  Every report
 *               must be a success.  PRODUCE_PASSES passes, each into a
 *               fresh topic.
 *               consume: the legacy librdkafka consumer from the beginning
 *               (rd_kafka_consume_batch) of the first pass's topic, until
 *               all N records are back; every value is compared with the
 *               one sent.  CONSUME_PASSES rounds, each a broker with
 *               klab.fetch.sendfile=true (log bytes go out by sendfile)
 *               and then one with =false (pread + send), restarted on the
 *               same log directory, so both meet the machine in the same
 *               mood.  A broker binary without that key (it is looked for
 *               in the binary) gets one consume row, its default path, and
 *               "sendfile toggle not available".
 *   cluster3    (100 B only) three klab brokers as one static cluster on
 *               loopback (cluster.brokers lists all three; own ports and
 *               log.dirs), a fresh topic of 6 partitions per pass created
 *               with CreateTopics through broker 1; Metadata through each
 *               broker must name the same leaders, all three brokers among
 *               them.  Then the same records, record i to partition i % 6,
 *               by one producer and, into another fresh topic, by three
 *               producers in parallel (a thread and an rd_kafka_t each, a
 *               third of the records each), the clock from the first
 *               produce() to the last delivery report of all; every report
 *               must be a success.  CLUSTER_PASSES rounds of both.  Printed
 *               also as a ratio to the single-broker produce row: on two
 *               cores the three brokers and three producers share the
 *               machine, so that ratio says what this box does, not what a
 *               cluster of three machines would;
 *   redis       redis-server with persistence off (save "", appendonly
 *               no: the stream lives in memory only), XADD stream * v
 *               <value>, pipelined over one connection with at most
 *               WINDOW commands unanswered, REDIS_PASSES passes into fresh
 *               streams; then XRANGE COUNT 10000 requests, one after
 *               another (each starts after the last ID of the one before),
 *               reading the first stream back, values compared;
 *   nats        nats-server -js, a stream with file storage (the server's
 *               default sync_interval: written to the page cache, fsync
 *               every 2 minutes), PUB with a reply subject, each JetStream
 *               ack (a MSG on that subject) counted, at most WINDOW
 *               publishes unacknowledged - an async publisher with a
 *               window, as nats.go's PublishAsync with its default of 4000
 *               pending.
 *
 * klab's log is in the page cache too (no fsync unless log.flush.* say
 * so, as in Kafka).  Each row is the fastest of its passes; sync(2) runs
 * before every pass, outside the clock, so that no pass pays for the
 * writeback of an earlier one.  Beside records/s and MB/s each row shows
 * the CPU the client (this process, librdkafka's threads included) and
 * the server used (cluster3: its three brokers summed), in cores: which
 * side was the bottleneck.  Two cores
 * are shared by the client, the server and whatever else runs, so none of
 * these is a dedicated-hardware figure; compare rows of one run.
 *
 * The targets of the issue, printed last: >= 800,000 records/s of 100 B
 * produced (Kafka's published single-producer figure, 821,557/s on
 * dedicated hardware), at least Redis Streams' pipelined XADD rate, and
 * >= 1,500,000 records/s consumed.
 *
 * Usage: bench_broker [KLAB]   (default build/bench/ch3/klab); `make bench`
 * runs it.  A peer that is not installed or does not start is reported and
 * skipped, and so is one that fails (it is reported in its row); the exit
 * status is 1 only when klab lost or garbled records (a failed delivery
 * report included), a klab broker or the cluster did not start, exited
 * badly or placed a topic wrongly, or the loopback row failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define POOL 1024	   /* distinct values, cycled */
#define WINDOW 4000	   /* unanswered pipelined commands at most (redis, nats) */
#define XRANGE_COUNT 10000 /* entries per XRANGE request */
#define LOOP_CHUNK (256 << 10)
#define LOOP_PASSES 3
#define PRODUCE_PASSES 3 /* klab: the best of this many, each into a fresh topic */
#define CONSUME_PASSES 3 /* klab: sendfile on and off alternately, best of each */
#define REDIS_PASSES 2	 /* XADD into a fresh stream each time */
#define TARGET_PRODUCE 800000.0
#define TARGET_CONSUME 1500000.0
#define NSIZES 2
#define MAXROWS 12

static const int sizes[NSIZES] = { 100, 1024 };
static const long counts[NSIZES] = { 2000000, 300000 };

/* The producer's settings, printed with the table. */
static const char *const producer_conf[][2] = {
	{ "acks", "1" },
	{ "linger.ms", "5" },
	{ "batch.size", "1000000" },
	{ "batch.num.messages", "100000" },
	{ "queue.buffering.max.messages", "2500000" },
	{ "queue.buffering.max.kbytes", "2097151" },
	{ "compression.codec", "none" },
	{ "enable.idempotence", "false" },
};
static const char *const consumer_conf[][2] = {
	{ "fetch.message.max.bytes", "4194304" }, { "fetch.max.bytes", "52428800" },
	{ "queued.min.messages", "1000000" },	  { "queued.max.messages.kbytes", "1048576" },
	{ "fetch.wait.max.ms", "100" },		  { "enable.auto.commit", "false" },
	{ "enable.auto.offset.store", "false" },
};

/* N values of one size: value i is pool + (i % POOL) * size. */
struct values {
	uint8_t *pool;
	int size;
	long n;
};

/*
 * One line of the table: its fastest pass, with the CPU seconds that the
 * client (this process, all threads) and the server process used in it;
 * skip set means "not measured, and why".
 */
struct row {
	char system[16], op[48];
	long n;
	int size;
	int passes;
	double secs, client_cpu, server_cpu;
	char skip[96];
};

/* One measured pass: wall and CPU seconds, from meter_start to meter_stop. */
struct meter {
	pid_t server[3]; /* the server processes (a cluster's brokers), nserver of them */
	int nserver;
	double wall, client, server_cpu;
};

struct table {
	struct row rows[MAXROWS];
	int nrows;
};

struct bench {
	char dir[64];
	const char *klab;
	bool sendfile_key;	  /* the broker binary knows klab.fetch.sendfile */
	bool failed;		  /* something was lost or wrong */
	char cluster_leaders[96]; /* the cluster's last topic: partition -> leader */
	struct table tables[NSIZES];
};

static _Noreturn void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_broker: %s: %s\n", what, detail ? detail : strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t *
value_at(const struct values *v, long i)
{
	return v->pool + (size_t)(i % POOL) * (size_t)v->size;
}

static void
values_make(struct values *v, int size, long n)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	v->size = size;
	v->n = n;
	v->pool = malloc((size_t)POOL * (size_t)size);
	if (v->pool == NULL)
		die("malloc", NULL);
	for (size_t i = 0; i < (size_t)POOL * (size_t)size; i++) {
		s ^= s << 13; /* xorshift64: the same values every run */
		s ^= s >> 7;
		s ^= s << 17;
		v->pool[i] = (uint8_t)('a' + s % 26);
	}
}

static struct row *
add_row(struct table *t, const char *system, const char *op, const struct values *v)
{
	struct row *r;

	if (t->nrows == MAXROWS)
		die("add_row", "more than MAXROWS rows");
	r = &t->rows[t->nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->system, sizeof(r->system), "%s", system);
	snprintf(r->op, sizeof(r->op), "%s", op);
	r->n = v->n;
	r->size = v->size;
	return r;
}

/* User + system seconds of a process so far (/proc/PID/stat), or 0. */
static double
proc_cpu_s(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long utime, stime;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
		    2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * sync(2) first, outside the clock: the pages an earlier pass left dirty
 * are written back now, not during this pass.
 */
static double
servers_cpu_s(const struct meter *m)
{
	double sum = 0;

	for (int i = 0; i < m->nserver; i++)
		sum += proc_cpu_s(m->server[i]);
	return sum;
}

/* n server processes (at most 3), their CPU seconds summed. */
static void
meter_start_n(struct meter *m, const pid_t *servers, int n)
{
	sync();
	m->nserver = n;
	for (int i = 0; i < n; i++)
		m->server[i] = servers[i];
	m->server_cpu = servers_cpu_s(m);
	m->client = self_cpu_s();
	m->wall = now_s();
}

static void
meter_start(struct meter *m, pid_t server)
{
	meter_start_n(m, &server, server > 0 ? 1 : 0);
}

static void
meter_stop(struct meter *m)
{
	m->wall = now_s() - m->wall;
	m->client = self_cpu_s() - m->client;
	m->server_cpu = servers_cpu_s(m) - m->server_cpu;
}

/* Keep the pass if it is the row's fastest. */
static void
row_keep(struct row *r, const struct meter *m)
{
	r->passes++;
	if (r->secs > 0 && r->secs <= m->wall)
		return;
	r->secs = m->wall;
	r->client_cpu = m->client;
	r->server_cpu = m->server_cpu;
}

static bool
ok_so_far(const struct row *r)
{
	return r->skip[0] == '\0';
}

static void
skip_rows(struct row **rows, int n, const char *why)
{
	for (int i = 0; i < n; i++)
		snprintf(rows[i]->skip, sizeof(rows[i]->skip), "%s", why);
}

/* ---- processes and sockets ---------------------------------------------------- */

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool
installed(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* The first line `cmd` prints (its first 60 characters), or "<prog> not installed". */
static const char *
version_of(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");

	if (f == NULL || fgets(out, (int)(n < 61 ? n : 61), f) == NULL)
		snprintf(out, n, "%.*s not installed", (int)strcspn(cmd, " "), cmd);
	out[strcspn(out, "\n")] = '\0';
	if (strstr(out, " sha=") != NULL) /* redis-server: "Redis server v=7.0.15 sha=..." */
		*strstr(out, " sha=") = '\0';
	if (f != NULL)
		pclose(f);
	return out;
}

/* A port of 127.0.0.1 that was free a moment ago. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		die("free_port", NULL);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A connected socket to 127.0.0.1:port, or -1. */
static int
dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Start argv[0] with stdout and stderr to `log`; the child is killed if
 * this process dies first (PR_SET_PDEATHSIG), so no server outlives us.
 */
static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait until 127.0.0.1:port accepts, up to 10 s; false if the child died. */
static bool
wait_port(pid_t pid, int port)
{
	for (int i = 0; i < 1000; i++) {
		int fd = dial(port);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return false;
}

/* SIGTERM, then SIGKILL after 10 s; the exit status, or -1. */
static int
stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void
print_tail(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' | sed 's/^/    /'", path);
	if (system(cmd) != 0)
		printf("    (no log)\n");
}

/* All n bytes written; false if the connection broke (EPIPE: SIGPIPE is ignored). */
static bool
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

static void
write_all(int fd, const void *p, size_t n)
{
	if (!send_all(fd, p, n))
		die("write", NULL);
}

/* ---- a buffered reader for RESP and the NATS protocol --------------------------- */

struct reader {
	int fd;
	char *buf;
	size_t cap, start, end;
};

static void
reader_init(struct reader *r, int fd)
{
	r->fd = fd;
	r->cap = 4u << 20; /* larger than any reply element read whole */
	r->buf = malloc(r->cap);
	r->start = r->end = 0;
	if (r->buf == NULL)
		die("malloc", NULL);
}

/* At least `want` bytes buffered from start; false at EOF or error. */
static bool
reader_fill(struct reader *r, size_t want)
{
	if (want > r->cap)
		return false;
	if (r->start + want > r->cap) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	while (r->end - r->start < want) {
		ssize_t k = read(r->fd, r->buf + r->end, r->cap - r->end);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		r->end += (size_t)k;
	}
	return true;
}

/* The next line without its \r\n (NUL-terminated in place), or NULL. */
static char *
reader_line(struct reader *r)
{
	size_t scanned = 0;

	for (;;) {
		char *p = r->buf + r->start;
		char *nl = memchr(p + scanned, '\n', r->end - r->start - scanned);

		if (nl != NULL) {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			r->start = (size_t)(nl - r->buf) + 1;
			return p;
		}
		scanned = r->end - r->start;
		if (!reader_fill(r, scanned + 1))
			return NULL;
	}
}

/* The next n bytes, contiguous, then \r\n; or NULL. */
static const char *
reader_take(struct reader *r, size_t n)
{
	const char *p;

	if (!reader_fill(r, n + 2))
		return NULL;
	p = r->buf + r->start;
	r->start += n + 2;
	return p;
}

/* ---- pipelined requests with a window ---------------------------------------- */

/*
 * The writer (the calling thread) appends command i with `cmd` and writes
 * the buffer when it passes 64 KiB, or when WINDOW commands are
 * unanswered and it must wait; a reader thread parses one reply at a time
 * with `reply` (0 ok, 1 an error reply, -1 the connection broke).
 */
struct pipeline {
	int fd;
	long n;
	const struct values *v;
	const char *name; /* the stream's key or subject */
	void (*cmd)(const struct pipeline *p, char *out, size_t *len, long i);
	int (*reply)(struct reader *r);
	atomic_long answered;
	long errors;
	bool broken;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct reader rd;
};

static void *
pipeline_reader(void *arg)
{
	struct pipeline *p = arg;
	long done = 0;

	while (done < p->n) {
		int rc = p->reply(&p->rd);

		if (rc < 0) {
			p->broken = true;
			done = p->n; /* wake the writer for good */
		} else {
			p->errors += rc;
			done++;
		}
		atomic_store(&p->answered, done);
		if ((done & 255) == 0 || done == p->n) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->cv);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

static void
pipeline_wait(struct pipeline *p, long i)
{
	pthread_mutex_lock(&p->mu);
	while (i - atomic_load(&p->answered) >= WINDOW)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* All p->n commands answered; m measures from the first written to the last read. */
static void
pipeline_run(struct pipeline *p, struct meter *m, pid_t server)
{
	size_t cap = (128u << 10) + (size_t)p->v->size + 256, len = 0;
	char *out = malloc(cap);
	bool sent = true;
	pthread_t th;

	if (out == NULL)
		die("malloc", NULL);
	atomic_store(&p->answered, 0);
	p->errors = 0;
	p->broken = false;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	meter_start(m, server);
	if (pthread_create(&th, NULL, pipeline_reader, p) != 0)
		die("pthread_create", NULL);
	for (long i = 0; i < p->n && sent; i++) {
		if (i - atomic_load(&p->answered) >= WINDOW) {
			sent = send_all(p->fd, out, len);
			len = 0;
			pipeline_wait(p, i);
		}
		p->cmd(p, out, &len, i);
		if (len >= (64u << 10)) {
			sent = sent && send_all(p->fd, out, len);
			len = 0;
		}
	}
	if (!sent || !send_all(p->fd, out, len))
		shutdown(p->fd, SHUT_RDWR); /* the reader sees the end and stops */
	pthread_join(th, NULL);
	meter_stop(m);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(out);
}

/* ---- loopback: the same bytes over plain TCP ----------------------------------- */

struct sink {
	int fd;
	uint64_t want, got;
};

static void *
sink_run(void *arg)
{
	struct sink *s = arg;
	char *buf = malloc(LOOP_CHUNK);

	if (buf == NULL)
		die("malloc", NULL);
	while (s->got < s->want) {
		ssize_t k = read(s->fd, buf, LOOP_CHUNK);

		if (k <= 0)
			break;
		s->got += (uint64_t)k;
	}
	free(buf);
	return NULL;
}

/* One pass: N x size bytes through a fresh connection; the fastest is kept. */
static void
loopback_pass(struct bench *b, struct row *r, const struct values *v)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), out;
	struct sink s = { .want = (uint64_t)v->n * (uint64_t)v->size };
	uint64_t left = s.want;
	size_t pool_bytes = (size_t)POOL * (size_t)v->size;
	size_t copies = (pool_bytes + LOOP_CHUNK) / pool_bytes + 1;
	uint8_t *ring = malloc(copies * pool_bytes); /* the pool, again and again */
	struct meter m;
	pthread_t th;

	if (ring == NULL)
		die("malloc", NULL);
	for (size_t i = 0; i < copies; i++)
		memcpy(ring + i * pool_bytes, v->pool, pool_bytes);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		die("loopback listen", NULL);
	out = dial(ntohs(a.sin_port));
	s.fd = accept(lfd, NULL, NULL);
	if (out < 0 || s.fd < 0)
		die("loopback connect", NULL);
	meter_start(&m, 0);
	if (pthread_create(&th, NULL, sink_run, &s) != 0)
		die("pthread_create", NULL);
	while (left > 0) { /* value i % POOL, for i = 0, 1, ..., N - 1 */
		size_t off = (size_t)((s.want - left) % pool_bytes);
		size_t n = left < LOOP_CHUNK ? (size_t)left : LOOP_CHUNK;

		write_all(out, ring + off, n);
		left -= n;
	}
	pthread_join(th, NULL);
	meter_stop(&m);
	row_keep(r, &m);
	if (s.got != s.want) {
		snprintf(r->skip, sizeof(r->skip), "only %" PRIu64 " of %" PRIu64 " bytes", s.got,
			 s.want);
		b->failed = true;
	}
	free(ring);
	close(out);
	close(s.fd);
	close(lfd);
}

static void
bench_loopback(struct bench *b, struct table *t, const struct values *v)
{
	struct row *r = add_row(t, "loopback", "TCP send+recv", v);

	for (int pass = 0; pass < LOOP_PASSES && ok_so_far(r); pass++)
		loopback_pass(b, r, v);
}

/* ---- klab: the broker and librdkafka -------------------------------------------- */

/* Does the file at path contain needle (the broker reads that key)? */
static bool
binary_mentions(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size = 0;
	bool found;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)size)) == NULL ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size)
		die("reading the broker binary", path);
	found = memmem(buf, (size_t)size, needle, strlen(needle)) != NULL;
	fclose(f);
	free(buf);
	return found;
}

struct broker {
	pid_t pid;
	int port;
	char bootstrap[32], log[160];
};

/* `klab broker` on a free port over dir/klab; sendfile < 0: key left out. */
static bool
broker_start(struct bench *b, struct broker *k, int sendfile)
{
	char props[160];
	char *argv[] = { (char *)b->klab, "broker", "-c", props, NULL };
	FILE *f;

	k->port = free_port();
	snprintf(k->bootstrap, sizeof(k->bootstrap), "127.0.0.1:%d", k->port);
	snprintf(props, sizeof(props), "%s/server.properties", b->dir);
	snprintf(k->log, sizeof(k->log), "%s/broker.log", b->dir);
	if ((f = fopen(props, "w")) == NULL)
		die("fopen", props);
	fprintf(f,
		"broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s/klab\n"
		"num.partitions=1\nauto.create.topics.enable=true\n",
		k->port, b->dir);
	if (sendfile >= 0)
		fprintf(f, "klab.fetch.sendfile=%s\n", sendfile ? "true" : "false");
	fclose(f);
	k->pid = spawn(argv, k->log);
	if (!wait_port(k->pid, k->port)) {
		printf("klab broker did not start (%s):\n", k->log);
		print_tail(k->log);
		stop(k->pid);
		return false;
	}
	return true;
}

static void
broker_stop(struct bench *b, struct broker *k)
{
	int rc = stop(k->pid);

	if (rc != 0) {
		printf("klab broker: exit status %d on SIGTERM:\n", rc);
		print_tail(k->log);
		b->failed = true;
	}
}

static rd_kafka_conf_t *
kafka_conf(const char *bootstrap, const char *const (*kv)[2], size_t n)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char err[256];

	if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK)
		die("rd_kafka_conf_set", err);
	for (size_t i = 0; i < n; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
			die("rd_kafka_conf_set", err);
	return c;
}

/* Metadata for topic until its partitions have leaders: creates it, opens the connection. */
static bool
kafka_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int partitions)
{
	for (int i = 0; i < 100; i++) {
		const struct rd_kafka_metadata *md;
		bool ok;

		if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		ok = md->topic_cnt == 1 && md->topics[0].err == 0 &&
		     md->topics[0].partition_cnt == partitions;
		for (int p = 0; ok && p < partitions; p++)
			ok = md->topics[0].partitions[p].leader >= 0;
		rd_kafka_metadata_destroy(md);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

struct delivery {
	long ok, failed;
	rd_kafka_resp_err_t first_err;
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *d = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		d->ok++;
	} else {
		if (d->failed++ == 0)
			d->first_err = m->err;
	}
}

/* One pass: v->n records into a fresh topic; the fastest pass is kept in r. */
static void
kafka_produce(struct bench *b, struct row *r, const struct broker *k, const char *topic,
	      const struct values *v)
{
	rd_kafka_conf_t *c = kafka_conf(k->bootstrap, producer_conf,
					sizeof(producer_conf) / sizeof(producer_conf[0]));
	struct delivery d = { 0 };
	rd_kafka_topic_t *rkt;
	struct meter m;
	rd_kafka_t *rk;
	char err[256];

	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, &d);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err))) == NULL)
		die("rd_kafka_new", err);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!kafka_ready(rk, rkt, 1)) {
		snprintf(r->skip, sizeof(r->skip), "no metadata for %s", topic);
		b->failed = true;
		goto out;
	}
	meter_start(&m, k->pid);
	for (long i = 0; i < v->n; i++) {
		while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value_at(v, i),
					(size_t)v->size, NULL, 0, NULL) != 0) {
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				die("rd_kafka_produce", rd_kafka_err2str(rd_kafka_last_error()));
			rd_kafka_poll(rk, 1);
		}
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 120000);
	meter_stop(&m);
	if (d.ok != v->n || d.failed != 0) {
		snprintf(r->skip, sizeof(r->skip), "%ld delivered, %ld failed (%s)", d.ok, d.failed,
			 rd_kafka_err2str(d.first_err));
		b->failed = true;
	} else {
		row_keep(r, &m);
	}
out:
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

/* Checks one consumed record; counts it.  Returns false on a mismatch. */
static bool
check_record(const struct values *v, const rd_kafka_message_t *m, long *next)
{
	bool ok = m->offset == *next && m->len == (size_t)v->size &&
		  memcmp(m->payload, value_at(v, m->offset), m->len) == 0;

	(*next)++;
	return ok;
}

/*
 * One pass: all v->n records of partition 0 from the beginning, each
 * compared with the one sent; the fastest pass is kept in r.
 */
static void
kafka_consume(struct bench *b, struct row *r, const struct broker *k, const char *topic,
	      const struct values *v)
{
	rd_kafka_conf_t *c = kafka_conf(k->bootstrap, consumer_conf,
					sizeof(consumer_conf) / sizeof(consumer_conf[0]));
	rd_kafka_message_t **ms = malloc(10000 * sizeof(*ms));
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	struct meter m;
	char err[256];
	long next = 0, bad = 0;
	double deadline;

	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err))) == NULL || ms == NULL)
		die("rd_kafka_new", err);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!kafka_ready(rk, rkt, 1)) {
		snprintf(r->skip, sizeof(r->skip), "no metadata for %s", topic);
		b->failed = true;
		goto out;
	}
	meter_start(&m, k->pid);
	deadline = now_s() + 120;
	if (rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING) != 0)
		die("rd_kafka_consume_start", rd_kafka_err2str(rd_kafka_last_error()));
	while (next < v->n && now_s() < deadline) {
		ssize_t got = rd_kafka_consume_batch(rkt, 0, 1000, ms, 10000);

		for (ssize_t i = 0; i < got; i++) {
			if (ms[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR)
				bad += !check_record(v, ms[i], &next);
			else if (ms[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				bad++;
			rd_kafka_message_destroy(ms[i]);
		}
	}
	meter_stop(&m);
	rd_kafka_consume_stop(rkt, 0);
	if (next != v->n || bad != 0) {
		snprintf(r->skip, sizeof(r->skip), "%ld of %ld records, %ld wrong", next, v->n,
			 bad);
		b->failed = true;
	} else {
		row_keep(r, &m);
	}
out:
	free(ms);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

/*
 * PRODUCE_PASSES passes into topics bench-SIZE-0, -1, ...; then
 * CONSUME_PASSES rounds of reading bench-SIZE-0 back, each round a broker
 * with klab.fetch.sendfile=true and then one with =false (restarted on
 * the same log directory), so that both meet the machine in the same mood.
 */
static void
bench_klab(struct bench *b, struct table *t, const struct values *v)
{
	struct row *prod = add_row(t, "klab", "produce acks=1", v);
	struct row *on = add_row(t, "klab", b->sendfile_key ? "consume, sendfile" : "consume", v);
	struct row *off = add_row(t, "klab", "consume, read+write", v);
	struct broker k;
	char topic[32];

	if (!b->sendfile_key)
		snprintf(off->skip, sizeof(off->skip), "sendfile toggle not available");
	if (!broker_start(b, &k, b->sendfile_key ? 1 : -1)) {
		snprintf(prod->skip, sizeof(prod->skip), "the broker did not start");
		snprintf(on->skip, sizeof(on->skip), "the broker did not start");
		b->failed = true;
		return;
	}
	for (int pass = 0; pass < PRODUCE_PASSES && ok_so_far(prod); pass++) {
		snprintf(topic, sizeof(topic), "bench-%d-%d", v->size, pass);
		kafka_produce(b, prod, &k, topic, v);
	}
	snprintf(topic, sizeof(topic), "bench-%d-0", v->size);
	for (int pass = 0; pass < CONSUME_PASSES && ok_so_far(prod) && ok_so_far(on); pass++) {
		if (pass > 0 && !broker_start(b, &k, b->sendfile_key ? 1 : -1))
			break;
		kafka_consume(b, on, &k, topic, v);
		broker_stop(b, &k);
		if (!b->sendfile_key)
			continue;
		if (!broker_start(b, &k, 0)) {
			snprintf(off->skip, sizeof(off->skip), "the broker did not start");
			b->failed = true;
			break;
		}
		kafka_consume(b, off, &k, topic, v);
		broker_stop(b, &k);
	}
	if (!ok_so_far(prod))
		broker_stop(b, &k);
}

/* ---- klab: a static cluster of three brokers ------------------------------------ */

/*
 * Three `klab broker` processes on loopback, one static cluster (every
 * configuration lists all three in cluster.brokers, each broker has its
 * own port and log.dirs).  For each pass a fresh topic of
 * CLUSTER_PARTITIONS partitions is created with CreateTopics through
 * broker 1 (the broker places it and tells the other two); before the
 * clock, Metadata through each broker as the bootstrap server must name
 * the same leaders, and those must be all three brokers.  Then the 100 B
 * records of the single-broker row are produced, record i to partition
 * i % CLUSTER_PARTITIONS, by one librdkafka producer, and into another
 * fresh topic by CLUSTER_PRODUCERS producers in parallel (a thread and an
 * rd_kafka_t each, a third of the records each); the clock runs from the
 * first produce() to the last delivery report of the last producer.
 */
#define CLUSTER_SIZE 3
#define CLUSTER_PARTITIONS 6
#define CLUSTER_PRODUCERS 3
#define CLUSTER_PASSES 3 /* each producer count, alternately; the best of each */

struct cluster {
	struct broker k[CLUSTER_SIZE];
	pid_t pids[CLUSTER_SIZE];
	char bootstrap[CLUSTER_SIZE * 24];
	int leaders[CLUSTER_PARTITIONS]; /* the last topic's, as Metadata named them */
};

static bool
cluster_start(struct bench *b, struct cluster *c)
{
	char members[CLUSTER_SIZE * 32] = "", props[160];
	size_t n = 0, bn = 0;

	for (int i = 0; i < CLUSTER_SIZE; i++) {
		struct broker *k = &c->k[i];
		bool taken;

		do { /* three distinct ports */
			k->port = free_port();
			taken = false;
			for (int j = 0; j < i; j++)
				taken = taken || c->k[j].port == k->port;
		} while (taken);
		snprintf(k->bootstrap, sizeof(k->bootstrap), "127.0.0.1:%d", k->port);
		n += (size_t)snprintf(members + n, sizeof(members) - n, "%s%d@127.0.0.1:%d",
				      i > 0 ? "," : "", i + 1, k->port);
		bn += (size_t)snprintf(c->bootstrap + bn, sizeof(c->bootstrap) - bn, "%s%s",
				       i > 0 ? "," : "", k->bootstrap);
	}
	for (int i = 0; i < CLUSTER_SIZE; i++) {
		struct broker *k = &c->k[i];
		char *argv[] = { (char *)b->klab, "broker", "-c", props, NULL };
		FILE *f;

		snprintf(props, sizeof(props), "%s/cluster-%d.properties", b->dir, i + 1);
		snprintf(k->log, sizeof(k->log), "%s/cluster-%d.log", b->dir, i + 1);
		if ((f = fopen(props, "w")) == NULL)
			die("fopen", props);
		fprintf(f,
			"broker.id=%d\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s/cluster-%d\n"
			"cluster.brokers=%s\nnum.partitions=1\nauto.create.topics.enable=false\n",
			i + 1, k->port, b->dir, i + 1, members);
		fclose(f);
		k->pid = c->pids[i] = spawn(argv, k->log);
	}
	for (int i = 0; i < CLUSTER_SIZE; i++) {
		if (wait_port(c->k[i].pid, c->k[i].port))
			continue;
		printf("klab broker %d of the cluster did not start (%s):\n", i + 1, c->k[i].log);
		print_tail(c->k[i].log);
		for (int j = 0; j < CLUSTER_SIZE; j++)
			stop(c->k[j].pid);
		return false;
	}
	return true;
}

/* The leader of each partition of topic, by Metadata through bootstrap; false if not all known. */
static bool
cluster_metadata(const char *bootstrap, const char *topic, int *leaders)
{
	rd_kafka_conf_t *c = kafka_conf(bootstrap, NULL, 0);
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	char err[256];
	bool ok = false;

	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err))) == NULL)
		die("rd_kafka_new", err);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const struct rd_kafka_metadata_topic *t = &md->topics[0];

		ok = md->topic_cnt == 1 && t->err == 0 && t->partition_cnt == CLUSTER_PARTITIONS;
		for (int p = 0; ok && p < CLUSTER_PARTITIONS; p++) {
			if (t->partitions[p].id < 0 || t->partitions[p].id >= CLUSTER_PARTITIONS)
				ok = false;
			else
				leaders[t->partitions[p].id] = t->partitions[p].leader;
		}
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return ok;
}

/*
 * CreateTopics for topic through broker 1, then Metadata through every
 * broker until each names the same leaders; they must be all three
 * brokers.  False, with why, otherwise.
 */
static bool
cluster_topic(struct cluster *c, const char *topic, char *why, size_t whylen)
{
	rd_kafka_conf_t *conf = kafka_conf(c->k[0].bootstrap, NULL, 0);
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_t *rk;
	char err[256];
	size_t cnt = 0;
	bool ok = false;

	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL)
		die("rd_kafka_new", err);
	if ((nt = rd_kafka_NewTopic_new(topic, CLUSTER_PARTITIONS, 1, err, sizeof(err))) == NULL)
		die("rd_kafka_NewTopic_new", err);
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 15000);
	if (ev == NULL)
		snprintf(why, whylen, "CreateTopics %s: no answer in 15 s", topic);
	else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(why, whylen, "CreateTopics: %.70s", rd_kafka_event_error_string(ev));
	else if ((res = rd_kafka_event_CreateTopics_result(ev)) == NULL ||
		 (tr = rd_kafka_CreateTopics_result_topics(res, &cnt)) == NULL || cnt != 1)
		snprintf(why, whylen, "CreateTopics %s: no result for the topic", topic);
	else if (rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(why, whylen, "CreateTopics: %.70s",
			 rd_kafka_err2str(rd_kafka_topic_result_error(tr[0])));
	else
		ok = true;
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	if (!ok)
		return false;

	for (int i = 0; i < CLUSTER_SIZE; i++) {
		int leaders[CLUSTER_PARTITIONS], tries = 0;

		while (!cluster_metadata(c->k[i].bootstrap, topic, leaders))
			if (++tries == 50) {
				snprintf(why, whylen,
					 "broker %d has no metadata for %s after 50 tries", i + 1,
					 topic);
				return false;
			}
		if (i == 0)
			memcpy(c->leaders, leaders, sizeof(leaders));
		else if (memcmp(c->leaders, leaders, sizeof(leaders)) != 0) {
			snprintf(why, whylen, "brokers 1 and %d name different leaders for %s",
				 i + 1, topic);
			return false;
		}
	}
	for (int id = 1; id <= CLUSTER_SIZE; id++) {
		bool leads = false;

		for (int p = 0; p < CLUSTER_PARTITIONS; p++)
			leads = leads || c->leaders[p] == id;
		if (!leads) {
			snprintf(why, whylen, "broker %d leads no partition of %s", id, topic);
			return false;
		}
	}
	return true;
}

/* One producer of a cluster pass: records first .. first + count - 1. */
struct cluster_producer {
	const struct values *v;
	long first, count, undelivered;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	struct delivery d;
	pthread_t th;
};

static void *
cluster_produce(void *arg)
{
	struct cluster_producer *p = arg;

	for (long i = p->first; i < p->first + p->count; i++) {
		while (rd_kafka_produce(p->rkt, (int32_t)(i % CLUSTER_PARTITIONS),
					RD_KAFKA_MSG_F_COPY, (void *)value_at(p->v, i),
					(size_t)p->v->size, NULL, 0, NULL) != 0) {
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				die("rd_kafka_produce", rd_kafka_err2str(rd_kafka_last_error()));
			rd_kafka_poll(p->rk, 1);
		}
		if ((i & 1023) == 0)
			rd_kafka_poll(p->rk, 0);
	}
	rd_kafka_flush(p->rk, 60000);
	p->undelivered = rd_kafka_outq_len(p->rk);
	return NULL;
}

/*
 * One pass: v->n records into topic by nprod producers in parallel, each
 * ready (Metadata with every leader) before the clock starts; the fastest
 * pass is kept in r.
 */
static void
cluster_pass(struct bench *b, struct row *r, const struct cluster *c, const char *topic,
	     const struct values *v, int nprod)
{
	struct cluster_producer ps[CLUSTER_PRODUCERS];
	long delivered = 0, failed = 0, undelivered = 0;
	rd_kafka_resp_err_t first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
	struct meter m;
	char err[256];

	for (int i = 0; i < nprod; i++) {
		struct cluster_producer *p = &ps[i];
		rd_kafka_conf_t *conf =
			kafka_conf(c->bootstrap, producer_conf,
				   sizeof(producer_conf) / sizeof(producer_conf[0]));

		memset(p, 0, sizeof(*p));
		p->v = v;
		p->first = v->n * i / nprod;
		p->count = v->n * (i + 1) / nprod - p->first;
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
		rd_kafka_conf_set_opaque(conf, &p->d);
		if ((p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL)
			die("rd_kafka_new", err);
		p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
		if (!kafka_ready(p->rk, p->rkt, CLUSTER_PARTITIONS)) {
			snprintf(r->skip, sizeof(r->skip), "producer %d: no metadata for %s", i + 1,
				 topic);
			b->failed = true;
			nprod = i + 1;
			goto out;
		}
	}
	meter_start_n(&m, c->pids, CLUSTER_SIZE);
	for (int i = 0; i < nprod; i++)
		if (pthread_create(&ps[i].th, NULL, cluster_produce, &ps[i]) != 0)
			die("pthread_create", NULL);
	for (int i = 0; i < nprod; i++)
		pthread_join(ps[i].th, NULL);
	meter_stop(&m);
	for (int i = 0; i < nprod; i++) {
		delivered += ps[i].d.ok;
		failed += ps[i].d.failed;
		undelivered += ps[i].undelivered;
		if (first_err == RD_KAFKA_RESP_ERR_NO_ERROR)
			first_err = ps[i].d.first_err;
	}
	if (delivered != v->n || failed != 0 || undelivered != 0) {
		snprintf(r->skip, sizeof(r->skip),
			 "%ld delivered, %ld failed (%s), %ld not in 60 s", delivered, failed,
			 rd_kafka_err2str(first_err), undelivered);
		b->failed = true;
	} else {
		row_keep(r, &m);
	}
out:
	for (int i = 0; i < nprod; i++) {
		if (rd_kafka_outq_len(ps[i].rk) > 0)
			rd_kafka_purge(ps[i].rk,
				       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_topic_destroy(ps[i].rkt);
		rd_kafka_destroy(ps[i].rk);
	}
}

/*
 * CLUSTER_PASSES rounds, each one producer and then CLUSTER_PRODUCERS
 * producers, each into a fresh topic cluster-P-PASS; v is the 100 B set.
 */
static void
bench_cluster(struct bench *b, struct table *t, const struct values *v)
{
	struct row *rows[2] = { add_row(t, "cluster3", "produce, 1 producer", v),
				add_row(t, "cluster3", "produce, 3 producers", v) };
	const int nprod[2] = { 1, CLUSTER_PRODUCERS };
	struct cluster c;
	char topic[32];

	if (!cluster_start(b, &c)) {
		skip_rows(rows, 2, "the cluster did not start");
		b->failed = true;
		return;
	}
	for (int pass = 0; pass < CLUSTER_PASSES; pass++) {
		for (int j = 0; j < 2; j++) {
			if (!ok_so_far(rows[j]))
				continue;
			snprintf(topic, sizeof(topic), "cluster-%d-%d", nprod[j], pass);
			if (!cluster_topic(&c, topic, rows[j]->skip, sizeof(rows[j]->skip))) {
				b->failed = true;
				continue;
			}
			snprintf(b->cluster_leaders, sizeof(b->cluster_leaders), "%s:", topic);
			for (int p = 0; p < CLUSTER_PARTITIONS; p++) {
				size_t len = strlen(b->cluster_leaders);

				snprintf(b->cluster_leaders + len, sizeof(b->cluster_leaders) - len,
					 " p%d->%d", p, c.leaders[p]);
			}
			cluster_pass(b, rows[j], &c, topic, v, nprod[j]);
		}
	}
	for (int i = 0; i < CLUSTER_SIZE; i++)
		broker_stop(b, &c.k[i]);
}

/* ---- Redis Streams ------------------------------------------------------------ */

static void
redis_xadd(const struct pipeline *p, char *out, size_t *len, long i)
{
	*len += (size_t)sprintf(out + *len,
				"*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nv\r\n$%d\r\n",
				strlen(p->name), p->name, p->v->size);
	memcpy(out + *len, value_at(p->v, i), (size_t)p->v->size);
	*len += (size_t)p->v->size;
	memcpy(out + *len, "\r\n", 2);
	*len += 2;
}

/* One RESP bulk string: its bytes and length, or NULL. */
static const char *
resp_bulk(struct reader *r, long *n)
{
	char *line = reader_line(r);

	if (line == NULL || line[0] != '$' || (*n = strtol(line + 1, NULL, 10)) < 0)
		return NULL;
	return reader_take(r, (size_t)*n);
}

/* XADD's reply: the new entry's ID (a bulk string), or an error. */
static int
redis_xadd_reply(struct reader *r)
{
	char *line = reader_line(r);
	long n;

	if (line == NULL)
		return -1;
	if (line[0] == '-')
		return 1;
	if (line[0] != '$' || (n = strtol(line + 1, NULL, 10)) <= 0)
		return -1;
	return reader_take(r, (size_t)n) != NULL ? 0 : -1;
}

/* One XRANGE reply: entries (checked against v from *next); -1 if malformed. */
static long
redis_xrange_reply(struct reader *r, const struct values *v, long *next, char *last, size_t lastlen)
{
	char *line = reader_line(r);
	long entries, n;
	const char *p;

	if (line == NULL || line[0] != '*' || (entries = strtol(line + 1, NULL, 10)) < 0)
		return -1;
	for (long e = 0; e < entries; e++) {
		if ((line = reader_line(r)) == NULL || strcmp(line, "*2") != 0 ||
		    (p = resp_bulk(r, &n)) == NULL || (size_t)n >= lastlen)
			return -1;
		memcpy(last, p, (size_t)n);
		last[n] = '\0';
		if ((line = reader_line(r)) == NULL || strcmp(line, "*2") != 0 ||
		    resp_bulk(r, &n) == NULL || (p = resp_bulk(r, &n)) == NULL)
			return -1;
		if (*next >= v->n || n != v->size || memcmp(p, value_at(v, *next), (size_t)n) != 0)
			return -1;
		(*next)++;
	}
	return entries;
}

/* XRANGE of key from the start, XRANGE_COUNT entries a request, until all are back. */
static void
redis_read_back(struct row *r, int fd, pid_t server, const char *key, const struct values *v)
{
	struct reader rd;
	char last[64] = "-", cmd[160];
	struct meter m;
	long next = 0, got;

	reader_init(&rd, fd);
	meter_start(&m, server);
	while (next < v->n) {
		int n = snprintf(cmd, sizeof(cmd), "XRANGE %s %s%s + COUNT %d\r\n", key,
				 next == 0 ? "" : "(", last, XRANGE_COUNT);

		write_all(fd, cmd, (size_t)n);
		if ((got = redis_xrange_reply(&rd, v, &next, last, sizeof(last))) <= 0)
			break;
	}
	meter_stop(&m);
	if (next != v->n) {
		snprintf(r->skip, sizeof(r->skip), "%ld of %ld entries read back intact", next,
			 v->n);
	} else {
		row_keep(r, &m);
	}
	free(rd.buf);
}

static void
bench_redis(struct bench *b, struct table *t, const struct values *v)
{
	struct row *rows[2] = { add_row(t, "redis", "XADD pipelined", v),
				add_row(t, "redis", "XRANGE read back", v) };
	char dir[96], log[128], port[16], key[REDIS_PASSES][32];
	char *argv[] = { "redis-server", "--port", port, "--bind",
			 "127.0.0.1",	 "--save", "",	 "--appendonly",
			 "no",		 "--dir",  dir,	 "--protected-mode",
			 "no",		 NULL };
	struct pipeline p = { .n = v->n, .v = v, .cmd = redis_xadd, .reply = redis_xadd_reply };
	pid_t pid;
	int fd;

	if (!installed("redis-server")) {
		skip_rows(rows, 2, "redis-server not installed");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/redis", b->dir);
	snprintf(log, sizeof(log), "%s/redis.log", b->dir);
	snprintf(port, sizeof(port), "%d", free_port());
	mkdir(dir, 0755);
	pid = spawn(argv, log);
	if (!wait_port(pid, atoi(port)) || (fd = dial(atoi(port))) < 0) {
		printf("redis-server did not start (%s):\n", log);
		print_tail(log);
		skip_rows(rows, 2, "redis-server did not start");
		stop(pid);
		return;
	}
	p.fd = fd;
	reader_init(&p.rd, fd);
	for (int pass = 0; pass < REDIS_PASSES && ok_so_far(rows[0]); pass++) {
		struct meter m;

		snprintf(key[pass], sizeof(key[pass]), "bench-%d-%d", v->size, pass);
		p.name = key[pass];
		pipeline_run(&p, &m, pid);
		if (p.broken || p.errors != 0) {
			snprintf(rows[0]->skip, sizeof(rows[0]->skip), "%ld error replies%s",
				 p.errors, p.broken ? ", connection broken" : "");
		} else {
			row_keep(rows[0], &m);
		}
	}
	free(p.rd.buf);
	if (ok_so_far(rows[0]))
		redis_read_back(rows[1], fd, pid, key[0], v);
	else
		snprintf(rows[1]->skip, sizeof(rows[1]->skip), "not measured (XADD failed)");
	close(fd);
	stop(pid);
}

/* ---- NATS JetStream ------------------------------------------------------------ */

static void
nats_pub(const struct pipeline *p, char *out, size_t *len, long i)
{
	*len += (size_t)sprintf(out + *len, "PUB %s _INBOX.acks %d\r\n", p->name, p->v->size);
	memcpy(out + *len, value_at(p->v, i), (size_t)p->v->size);
	*len += (size_t)p->v->size;
	memcpy(out + *len, "\r\n", 2);
	*len += 2;
}

/*
 * One message on a subscription: its payload (NUL-terminated copy in
 * buf), skipping PING/+OK/INFO lines; 0 a MSG, 1 an HMSG (a status such
 * as 503 no responders), -1 an -ERR or a broken connection.
 */
static int
nats_next_msg(struct reader *r, char *buf, size_t cap)
{
	for (;;) {
		char *line = reader_line(r), *sp;
		const char *p;
		long n;

		if (line == NULL || strncmp(line, "-ERR", 4) == 0)
			return -1;
		if (strncmp(line, "MSG ", 4) != 0 && strncmp(line, "HMSG ", 5) != 0)
			continue; /* PING (answered by nobody: the run is short), +OK, INFO */
		sp = strrchr(line, ' ');
		n = strtol(sp + 1, NULL, 10);
		if (n < 0 || (p = reader_take(r, (size_t)n)) == NULL)
			return -1;
		if (cap > 0) {
			size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;

			memcpy(buf, p, k);
			buf[k] = '\0';
		}
		return line[0] == 'H' ? 1 : 0;
	}
}

/* A JetStream publish ack: {"stream":..,"seq":N}; an error object counts as 1. */
static int
nats_ack_reply(struct reader *r)
{
	char buf[256];
	int rc = nats_next_msg(r, buf, sizeof(buf));

	if (rc == 0 && strstr(buf, "\"error\"") != NULL)
		return 1;
	return rc;
}

/* CONNECT, then create the stream (file storage), retrying while JetStream starts. */
static bool
nats_setup(int fd, struct reader *rd, const struct values *v, char *why, size_t whylen)
{
	static const char connect[] = "CONNECT {\"verbose\":false,\"pedantic\":false,"
				      "\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n"
				      "SUB _INBOX.admin 1\r\nSUB _INBOX.acks 2\r\n";
	char body[512], cmd[700], reply[512];

	write_all(fd, connect, sizeof(connect) - 1);
	snprintf(body, sizeof(body),
		 "{\"name\":\"BENCH%d\",\"subjects\":[\"bench%d\"],\"retention\":\"limits\","
		 "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
		 "\"max_msg_size\":-1,\"storage\":\"file\",\"discard\":\"old\","
		 "\"num_replicas\":1}",
		 v->size, v->size);
	for (int attempt = 0; attempt < 50; attempt++) {
		int n = snprintf(cmd, sizeof(cmd),
				 "PUB $JS.API.STREAM.CREATE.BENCH%d _INBOX.admin %zu\r\n%s\r\n",
				 v->size, strlen(body), body);
		int rc;

		write_all(fd, cmd, (size_t)n);
		rc = nats_next_msg(rd, reply, sizeof(reply));
		if (rc < 0)
			break;
		if (rc == 0 && strstr(reply, "\"error\"") == NULL)
			return true;
		usleep(100000);
	}
	snprintf(why, whylen, "stream not created: %.60s", reply);
	return false;
}

static void
bench_nats(struct bench *b, struct table *t, const struct values *v)
{
	struct row *r = add_row(t, "nats", "JetStream publish", v);
	char dir[96], log[128], port[16];
	char *argv[] = { "nats-server", "-js", "-sd", dir, "-a", "127.0.0.1", "-p", port, NULL };
	struct pipeline p = { .n = v->n, .v = v, .cmd = nats_pub, .reply = nats_ack_reply };
	char subject[32];
	struct meter m;
	pid_t pid;
	int fd;

	if (!installed("nats-server")) {
		snprintf(r->skip, sizeof(r->skip), "nats-server not installed");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/nats-%d", b->dir, v->size);
	snprintf(log, sizeof(log), "%s/nats.log", b->dir);
	snprintf(port, sizeof(port), "%d", free_port());
	pid = spawn(argv, log);
	if (!wait_port(pid, atoi(port)) || (fd = dial(atoi(port))) < 0) {
		printf("nats-server did not start (%s):\n", log);
		print_tail(log);
		snprintf(r->skip, sizeof(r->skip), "nats-server did not start");
		stop(pid);
		return;
	}
	reader_init(&p.rd, fd);
	if (!nats_setup(fd, &p.rd, v, r->skip, sizeof(r->skip))) {
	} else {
		p.fd = fd;
		snprintf(subject, sizeof(subject), "bench%d", v->size);
		p.name = subject;
		pipeline_run(&p, &m, pid);
		if (p.broken || p.errors != 0) {
			snprintf(r->skip, sizeof(r->skip), "%ld failed acks%s", p.errors,
				 p.broken ? ", connection broken" : "");
		} else {
			row_keep(r, &m);
		}
	}
	free(p.rd.buf);
	close(fd);
	stop(pid);
}

/* ---- the report ------------------------------------------------------------------ */

static const struct row *
find_row(const struct table *t, const char *system, const char *op)
{
	for (int i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i].system, system) == 0 &&
		    strncmp(t->rows[i].op, op, strlen(op)) == 0)
			return &t->rows[i];
	return NULL;
}

static bool
measured(const struct row *r)
{
	return r != NULL && r->skip[0] == '\0' && r->secs > 0;
}

static double
rate(const struct row *r)
{
	return (double)r->n / r->secs;
}

/* The Redis row a klab row is compared with: XADD for produce, XRANGE for consume. */
static const struct row *
redis_peer(const struct table *t, const struct row *r)
{
	if (strcmp(r->system, "klab") != 0)
		return NULL;
	return find_row(t, "redis", strncmp(r->op, "produce", 7) == 0 ? "XADD" : "XRANGE");
}

static void
print_table(const struct table *t)
{
	const struct row *loop = find_row(t, "loopback", "");

	printf("\n%-9s %-20s %8s %6s %11s %8s %9s %10s %6s %6s %6s\n", "system", "operation",
	       "records", "size", "records/s", "MB/s", "/loopback", "klab/redis", "client",
	       "server", "passes");
	for (int i = 0; i < t->nrows; i++) {
		const struct row *r = &t->rows[i], *peer = redis_peer(t, r);

		printf("%-9s %-20s %8ld %4d B", r->system, r->op, r->n, r->size);
		if (!measured(r)) {
			printf("  %s\n", r->skip);
			continue;
		}
		printf(" %11.0f %8.1f", rate(r), rate(r) * r->size / 1e6);
		if (measured(loop))
			printf(" %9.3f", rate(r) / rate(loop));
		else
			printf(" %9s", "-");
		if (measured(peer))
			printf(" %10.2f", rate(r) / rate(peer));
		else
			printf(" %10s", "-");
		printf(" %6.2f", r->client_cpu / r->secs);
		if (r->server_cpu > 0)
			printf(" %6.2f", r->server_cpu / r->secs);
		else
			printf(" %6s", "-");
		printf(" %6d\n", r->passes);
	}
}

static void
print_sendfile_ratio(const struct bench *b, const struct table *t)
{
	const struct row *on = find_row(t, "klab", "consume, sendfile"),
			 *off = find_row(t, "klab", "consume, read+write");

	if (!b->sendfile_key)
		printf("sendfile / read+write: sendfile toggle not available (the broker binary "
		       "has no klab.fetch.sendfile key); one consume row, the broker's default "
		       "fetch path\n");
	else if (measured(on) && measured(off))
		printf("sendfile / read+write: %.2f (records/s with klab.fetch.sendfile=true "
		       "over =false)\n",
		       rate(on) / rate(off));
}

/* The cluster rows over the single-broker produce row of the same run. */
static void
print_cluster(const struct bench *b, const struct table *t)
{
	const struct row *one = find_row(t, "klab", "produce");

	printf("\n3-broker cluster on loopback, 100 B acks=1, record i to partition i %% %d; "
	       "a fresh topic each pass,\n  its leaders the same through every broker and all "
	       "three brokers among them (the last: %s)\n",
	       CLUSTER_PARTITIONS, b->cluster_leaders[0] ? b->cluster_leaders : "-");
	for (int i = 0; i < t->nrows; i++) {
		const struct row *r = &t->rows[i];

		if (strcmp(r->system, "cluster3") != 0)
			continue;
		printf("  %-22s", r->op);
		if (!measured(r)) {
			printf(" %s\n", r->skip);
			continue;
		}
		printf(" %9.0f records/s %6.1f MB/s", rate(r), rate(r) * r->size / 1e6);
		if (measured(one))
			printf("  / single broker, 1 producer: %.2f", rate(r) / rate(one));
		printf("  CPU: client %.2f, 3 brokers %.2f cores\n", r->client_cpu / r->secs,
		       r->server_cpu / r->secs);
	}
	printf("  / single broker: records/s over the klab produce acks=1 row of this run (one "
	       "broker, one producer,\n  one partition).  %ld cores: the 3 brokers and the 3 "
	       "producers (librdkafka's threads) share them,\n  so the cluster cannot spread "
	       "out here; a ratio below 1 is expected on this machine and is no\n  estimate of "
	       "three brokers on three machines\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
}

static void
print_settings(const struct bench *b)
{
	printf("\nsettings:\n  librdkafka %s producer:", rd_kafka_version_str());
	for (size_t i = 0; i < sizeof(producer_conf) / sizeof(producer_conf[0]); i++)
		printf(" %s=%s", producer_conf[i][0], producer_conf[i][1]);
	printf("\n    RD_KAFKA_MSG_F_COPY, null keys, partition 0 of a 1-partition topic; "
	       "clock: first produce() to the last delivery report\n  consumer (legacy "
	       "API, rd_kafka_consume_batch from the beginning):");
	for (size_t i = 0; i < sizeof(consumer_conf) / sizeof(consumer_conf[0]); i++)
		printf(" %s=%s", consumer_conf[i][0], consumer_conf[i][1]);
	printf("\n    every value compared with the one sent\n");
	printf("  klab broker: %s, one partition, log.dirs under %s, no fsync "
	       "(Kafka's log.flush.* defaults)%s\n",
	       b->klab, b->dir, b->sendfile_key ? "; klab.fetch.sendfile=true, then =false" : "");
	printf("  cluster3: 3 klab brokers, cluster.brokers=1@..,2@..,3@.., "
	       "auto.create.topics.enable=false, log.dirs\n    under %s; topics of %d "
	       "partitions by CreateTopics through broker 1; the producer settings above,\n"
	       "    record i to partition i %% %d; server CPU: the three brokers summed\n",
	       b->dir, CLUSTER_PARTITIONS, CLUSTER_PARTITIONS);
	printf("  redis-server: save \"\", appendonly no (memory only); XADD bench-SIZE * v "
	       "VALUE, pipelined, <= %d unanswered;\n    XRANGE COUNT %d, one request at a "
	       "time\n",
	       WINDOW, XRANGE_COUNT);
	printf("  nats-server -js: stream of file storage (default sync_interval: page cache, "
	       "fsync every 2 min);\n    PUB with a reply subject, one JetStream ack per "
	       "message, <= %d unacknowledged\n",
	       WINDOW);
	printf("  sync(2) before every pass (outside the clock), so that no pass pays for the "
	       "writeback of an earlier one\n");
	printf("  loopback: one TCP connection in this process, a writer and a reader thread, "
	       "%d KiB writes\n  MB/s counts value bytes (10^6 B/s); /loopback: records/s over "
	       "the loopback row's (the same bytes);\n  klab/redis: over redis XADD (produce) "
	       "or XRANGE (consume); client, server: CPU seconds over wall\n  seconds (cores "
	       "busy) of this process (all its threads) and of the server process;\n  passes: "
	       "each row is the fastest of that many, each into a fresh topic or stream\n  "
	       "(consume: of the same one)\n",
	       LOOP_CHUNK >> 10);
}

static void
target(const char *what, double got, double want, const char *unit)
{
	printf("target: %-44s %11.0f %s, want >= %.0f  %s\n", what, got, unit, want,
	       got >= want ? "PASS" : "BELOW");
}

static void
print_targets(const struct bench *b)
{
	const struct table *t = &b->tables[0]; /* 100 B */
	const struct row *prod = find_row(t, "klab", "produce"),
			 *cons = find_row(t, "klab", "consume"), *xadd;

	printf("\n");
	if (measured(prod))
		target("produce 100 B, one librdkafka producer", rate(prod), TARGET_PRODUCE,
		       "records/s");
	else
		printf("target: produce 100 B: not measured  BELOW\n");
	for (int s = 0; s < NSIZES; s++) {
		char what[64];

		prod = find_row(&b->tables[s], "klab", "produce");
		xadd = find_row(&b->tables[s], "redis", "XADD");
		snprintf(what, sizeof(what), "produce %d B >= Redis pipelined XADD", sizes[s]);
		if (measured(prod) && measured(xadd))
			target(what, rate(prod), rate(xadd), "records/s");
		else
			printf("target: %s: not measured (the %s row)\n", what,
			       measured(xadd) ? "klab" : "redis");
	}
	if (measured(cons))
		target("consume 100 B", rate(cons), TARGET_CONSUME, "records/s");
	else
		printf("target: consume 100 B: not measured  BELOW\n");
}

int
main(int argc, char **argv)
{
	struct bench b = { .klab = argc > 1 ? argv[1] : "build/bench/ch3/klab" };
	double start = now_s();
	char redis[128], nats[128];

	signal(SIGPIPE, SIG_IGN); /* a server that dies is an error to report, not our death */
	if (access(b.klab, X_OK) != 0)
		die(b.klab, NULL);
	snprintf(b.dir, sizeof(b.dir), "/tmp/klab-bench.XXXXXX");
	if (mkdtemp(b.dir) == NULL)
		die("mkdtemp", NULL);
	b.sendfile_key = binary_mentions(b.klab, "klab.fetch.sendfile");
	printf("bench_broker: %s; %ld cores; broker %s; librdkafka %s; %s; %s\n", b.dir,
	       sysconf(_SC_NPROCESSORS_ONLN), b.klab, rd_kafka_version_str(),
	       version_of("redis-server --version 2>/dev/null", redis, sizeof(redis)),
	       version_of("nats-server --version 2>/dev/null", nats, sizeof(nats)));
	for (int s = 0; s < NSIZES; s++) {
		struct values v;

		values_make(&v, sizes[s], counts[s]);
		bench_loopback(&b, &b.tables[s], &v);
		bench_klab(&b, &b.tables[s], &v);
		bench_redis(&b, &b.tables[s], &v);
		bench_nats(&b, &b.tables[s], &v);
		if (s == 0)
			bench_cluster(&b, &b.tables[s], &v);
		free(v.pool);
	}
	for (int s = 0; s < NSIZES; s++) {
		print_table(&b.tables[s]);
		print_sendfile_ratio(&b, &b.tables[s]);
		if (s == 0)
			print_cluster(&b, &b.tables[s]);
	}
	print_settings(&b);
	print_targets(&b);
	nftw(b.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	printf("bench_broker: %.1f s%s\n", now_s() - start,
	       b.failed ? "; FAILED: klab lost or garbled records, or a broker failed (above)"
			: "");
	return b.failed ? 1 : 0;
}
