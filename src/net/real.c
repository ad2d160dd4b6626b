/*
 * real.c - the real runtime: an epoll loop over non-blocking TCP sockets
 * (chapter 3 §3; DESIGN §2).
 *
 * The same nodes that run in the simulator run here; only this file knows
 * about sockets, epoll, the clock and signals.  One thread does it all:
 *
 *   loop:
 *     wait in epoll_wait, at most until the first timer or idle deadline
 *     listener readable      accept4 -> on_accept (or refuse over a limit)
 *     socket readable        read into the connection's input buffer, cut
 *                            it into frames with frame_size() -> on_frame;
 *                            end of stream or error -> on_closed
 *     connecting, writable   SO_ERROR says how connect() went -> on_connected
 *     socket writable        write the output queue on
 *     signalfd readable      SIGINT/SIGTERM: stop
 *     timers due             on_timer, in (deadline, id) order
 *     idle connections       closed after connections.max.idle.ms
 *     slow requests          closed klab.request.read.timeout.ms after the
 *                            request's first byte
 *     unmuted connections    the frames they hold -> on_frame
 *     waiting connections    admitted while queued.max.request.bytes holds
 *                            their next frame: read again
 *     flush                  every connection with queued output is written
 *
 * Sending never writes from inside a handler: send() and send_parts() queue
 * (bounded by max_output_bytes), and the loop writes after the handler
 * returns, so a failure found while writing reaches the node as on_closed
 * at a point where it can take it, never re-entrantly.  A file part
 * holds a dup() of the file descriptor (the file may be deleted meanwhile)
 * and goes out through sendfile(2), from the page cache to the socket
 * without a copy.
 *
 * Rules:
 *   1. a frame reaches a node whole: an input buffer holds at most one
 *      incomplete frame, whose announced size was checked against
 *      socket.request.max.bytes before the buffer grew for it;
 *   2. a node's own close() never calls its on_closed; every other end of
 *      a connection does, once;
 *   3. a connection struct is freed only at the end of a loop iteration
 *      (epoll may still hold its pointer in the current batch of events);
 *   4. what a client costs is bounded, whatever it sends or leaves unread.
 *      An accepted connection is muted (its requests wait in the socket,
 *      unread) while its queued output is at least mute_output_bytes (1 MiB)
 *      or holds CONN_FILES_MAX file parts, or while it has output queued
 *      and every accepted connection's together is at least
 *      klab.queued.max.response.bytes (256 MiB); it is unmuted once its
 *      output drains.  So one connection queues at most 1 MiB plus one
 *      response (which max_output_bytes caps) and holds at most
 *      CONN_FILES_MAX descriptors of files; Kafka mutes a channel the same
 *      way while a response is outstanding.  Only accepted connections
 *      mute: a node's own connects always read, so two runtimes never wait
 *      on each other.  A muted connection's input holds what was read
 *      before it muted (at most 16 reads of READ_CHUNK) and an incomplete
 *      request holds up to socket.request.max.bytes.  Across connections,
 *      queued.max.request.bytes (Kafka's; default -1: no cap) bounds the
 *      requests being read: once an accepted connection's next frame size
 *      is known and its body has not all arrived, that size is reserved
 *      from the budget before more is read; if the budget cannot hold it,
 *      or others already wait, the connection stops reading (`starved`)
 *      until conns_admit admits it, the oldest waiter first.  A frame is
 *      released when it has gone to the node, or its connection closes.
 *      A frame larger than the whole budget is admitted when nothing else
 *      is reserved (Kafka's pool lets an oversized request through when it
 *      is free, too), so it waits, never forever.  A frame that arrives
 *      whole in the read that brought its size reserves nothing: it goes
 *      to the node at once, so a small request usually passes the waiters;
 *      one whose size arrives ahead of its body waits its turn behind
 *      them.  So requests being read hold at most the budget (or one
 *      frame) plus, per accepted connection, the one READ_CHUNK read that
 *      brought a size; an input buffer past INPUT_KEEP_BYTES is given
 *      back once its large frame is handed on.  A waiting connection's
 *      request is not timed by rule 7 (the broker, not the client, is
 *      slow): its clock restarts when it is admitted, so one client holds
 *      the budget at most klab.request.read.timeout.ms;
 *   5. a file part holds a dup() only while that is cheap: past
 *      CONN_FILES_MAX on its connection, or a quarter of RLIMIT_NOFILE for
 *      the process, or when dup() fails, its bytes are copied instead;
 *   6. the loop never spins on a listener: one descriptor is kept spare, so
 *      that on EMFILE/ENFILE accept4 can be made to succeed (close the
 *      spare, accept, close the connection at once, reopen the spare: the
 *      client sees its connection closed, not a hang), with a log line at
 *      most once a second; if even that fails, accepting pauses for
 *      ACCEPT_PAUSE_MS (libev's and nginx's answers);
 *   7. a request must arrive whole within klab.request.read.timeout.ms of
 *      its first byte (the idle timeout alone would let a client trickle
 *      one byte a minute), and refused connections (max.connections,
 *      max.connections.per.ip) are accepted and closed at once, logged at
 *      most once a second.
 *
 * Host names go through getaddrinfo(), which blocks: fine for numeric
 * addresses, "localhost" and /etc/hosts, which is what klab's tests use.
 *
 * Clocks: now_ms is the wall clock (CLOCK_REALTIME: records carry epoch
 * milliseconds); timers and idle deadlines use CLOCK_MONOTONIC.
 */
#include "net/real.h"

#include "net/disk_real.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

#define REAL_MAX_NODES 16
#define REAL_MAX_LISTENERS 64
#define READ_CHUNK 65536
#define CONN_FILES_MAX 16		  /* dup()'d files queued on one connection (rule 5) */
#define ACCEPT_PAUSE_MS 100		  /* accepting pauses this long when even the spare fails */
#define LOG_EVERY_MS 1000		  /* a repeated complaint is logged at most this often */
#define INPUT_KEEP_BYTES (4 * READ_CHUNK) /* a larger input buffer is trimmed (rule 4) */

enum rkind { K_LISTENER, K_CONN, K_SIGNAL };

struct outq {
	struct outq *next;
	uint8_t *data; /* bytes, then file_left bytes of file_fd */
	size_t len, off;
	int file_fd; /* -1: none; a dup() we own */
	int64_t file_off;
	size_t file_left;
};

struct rconn {
	enum rkind kind; /* K_CONN; first, like every epoll'd struct */
	int fd;
	conn_id id;
	int node;
	bool connecting;   /* connect() not yet completed */
	bool connect_fail; /* failed at once: on_connected(false) next round */
	bool accepted;	   /* a listener accepted it (counts for max.connections) */
	bool closing;	   /* the node closed it: flush, then go */
	bool dead;	   /* freed at the end of this iteration */
	bool muted;	   /* too much output queued: its frames wait (rule 4) */
	bool resume;	   /* unmuted: hand it the frames it holds this round */
	bool starved;	   /* its next frame waits for queued.max.request.bytes (rule 4) */
	uint64_t ticket;   /* when it began to wait: the oldest is admitted first */
	size_t reserved;   /* bytes of its incomplete frame, counted in r->in_reserved */
	uint32_t events;   /* what epoll watches for it */
	uint32_t peer;	   /* an accepted one's IPv4 address (max.connections.per.ip) */
	struct buf in;
	struct outq *out, **out_tail;
	size_t out_bytes;
	size_t out_files;   /* entries of out holding a dup() */
	int64_t active_ms;  /* monotonic; for the idle timeout */
	int64_t request_ms; /* monotonic: when the incomplete frame in `in` began; 0: none */
	struct rconn *next;
};

/* A complaint repeated by many clients, logged at most every LOG_EVERY_MS. */
struct rlog_limit {
	int64_t last_ms;
	uint64_t held; /* occurrences since the last line */
};

struct rlistener {
	enum rkind kind; /* K_LISTENER */
	int fd;
	int64_t id;
	int node;
	int port;
};

struct rtimer {
	int64_t due_ms; /* monotonic */
	timer_id id;
	int node;
};

struct rnode {
	struct real *r;
	int index;
	char name[32];
	char data_dir[256];
	struct node node;
	struct rt rt;
};

struct real {
	struct real_config cfg;
	int epfd;
	struct {
		enum rkind kind; /* K_SIGNAL */
		int fd;
	} sig;
	sigset_t old_mask;
	struct rnode nodes[REAL_MAX_NODES];
	int nnodes;
	struct rlistener listeners[REAL_MAX_LISTENERS];
	int64_t next_listener;
	struct rconn *conns;	     /* every connection, dead ones until the round ends */
	int nconns;		     /* live ones */
	int naccepted;		     /* live ones that a listener accepted (max.connections) */
	size_t out_bytes;	     /* queued output of the accepted ones (rule 4) */
	size_t in_reserved;	     /* frames being read, reserved (queued.max.request.bytes) */
	int nstarved;		     /* connections waiting for in_reserved to fall (rule 4) */
	uint64_t next_ticket;	     /* for rconn.ticket */
	size_t files;		     /* dup()'d files queued on every connection (rule 5) */
	size_t files_max;	     /* a quarter of RLIMIT_NOFILE */
	int spare_fd;		     /* kept open for EMFILE (rule 6); -1 when in use or lost */
	int64_t accept_paused_until; /* monotonic; 0: accepting */
	uint64_t shed;		     /* connections closed at once for want of descriptors */
	struct rlog_limit log_shed, log_refused, log_slow;
	conn_id next_conn;
	struct rtimer *timers; /* a binary min-heap by (due_ms, id) */
	size_t ntimers, timers_cap;
	timer_id next_timer;
	uint64_t rng;
	bool running, stop;
};

static const struct rt_ops real_rt_ops;

/* ---- small helpers ------------------------------------------------------------ */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
rlog(struct real *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->cfg.log != NULL)
		r->cfg.log(r->cfg.log_arg, line);
	else
		fprintf(stderr, "klab: %s\n", line);
}

/*
 * Whether a complaint limited by l is to be logged now; *held says how
 * many were not logged since the last line.
 */
static bool
rlog_due(struct rlog_limit *l, uint64_t *held)
{
	int64_t now = mono_ms();

	if (l->last_ms != 0 && now - l->last_ms < LOG_EVERY_MS) {
		l->held++;
		return false;
	}
	*held = l->held;
	l->held = 0;
	l->last_ms = now;
	return true;
}

static struct rnode *
rn_of(struct rt *rt)
{
	return rt->impl;
}

static struct rconn *
conn_find(struct real *r, conn_id id)
{
	for (struct rconn *c = r->conns; c != NULL; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

static int
epoll_set(struct real *r, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(r->epfd, op, fd, &ev);
}

/* ---- timers: a min-heap ------------------------------------------------------- */

static bool
timer_before(const struct rtimer *a, const struct rtimer *b)
{
	return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->id < b->id);
}

static void
timer_sift_down(struct real *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct rtimer t;

		if (l < r->ntimers && timer_before(&r->timers[l], &r->timers[m]))
			m = l;
		if (l + 1 < r->ntimers && timer_before(&r->timers[l + 1], &r->timers[m]))
			m = l + 1;
		if (m == i)
			return;
		t = r->timers[i];
		r->timers[i] = r->timers[m];
		r->timers[m] = t;
		i = m;
	}
}

static void
timer_sift_up(struct real *r, size_t i)
{
	while (i > 0 && timer_before(&r->timers[i], &r->timers[(i - 1) / 2])) {
		struct rtimer t = r->timers[i];

		r->timers[i] = r->timers[(i - 1) / 2];
		r->timers[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void
timer_remove_at(struct real *r, size_t i)
{
	r->timers[i] = r->timers[--r->ntimers];
	if (i < r->ntimers) {
		timer_sift_down(r, i);
		timer_sift_up(r, i);
	}
}

/* ---- connections -------------------------------------------------------------- */

static struct rconn *
conn_new(struct real *r, int fd, int node)
{
	struct rconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->kind = K_CONN;
	c->fd = fd;
	c->id = ++r->next_conn;
	c->node = node;
	buf_init(&c->in);
	c->out_tail = &c->out;
	c->active_ms = mono_ms();
	c->next = r->conns;
	r->conns = c;
	r->nconns++;
	return c;
}

static void
outq_free(struct outq *q)
{
	if (q->file_fd >= 0)
		close(q->file_fd);
	free(q->data);
	free(q);
}

/* A queue entry holding a copy of p[0..len) and no file part yet. */
static struct outq *
outq_new(const uint8_t *p, size_t len)
{
	struct outq *q = calloc(1, sizeof(*q));

	if (q == NULL || (q->data = malloc(len ? len : 1)) == NULL) {
		free(q);
		return NULL;
	}
	memcpy(q->data, p, len);
	q->len = len;
	q->file_fd = -1;
	return q;
}

static void
outq_free_all(struct outq *q)
{
	while (q != NULL) {
		struct outq *next = q->next;

		outq_free(q);
		q = next;
	}
}

/* c's reserved frame went to its node, or c closed: give its bytes back (rule 4). */
static void
conn_release(struct real *r, struct rconn *c)
{
	if (c->starved)
		r->nstarved--;
	else
		r->in_reserved -= c->reserved;
	c->starved = false;
	c->reserved = 0;
}

/* Close c's socket; tell its node (on_closed) unless the node asked for it. */
static void
conn_drop(struct real *r, struct rconn *c, bool tell)
{
	struct node *n = &r->nodes[c->node].node;
	bool was_connecting = c->connecting;

	if (c->dead)
		return;
	c->dead = true;
	r->nconns--;
	r->naccepted -= c->accepted;
	close(c->fd); /* also removes it from epoll */
	outq_free_all(c->out);
	c->out = NULL;
	if (c->accepted)
		r->out_bytes -= c->out_bytes;
	r->files -= c->out_files;
	c->out_bytes = c->out_files = 0;
	conn_release(r, c);
	if (!tell)
		return;
	if (was_connecting && n->ops->on_connected != NULL)
		n->ops->on_connected(n, c->id, false);
	else if (!was_connecting && n->ops->on_closed != NULL)
		n->ops->on_closed(n, c->id);
}

/* Free the connections marked dead (rule 3). */
static void
conns_reap(struct real *r)
{
	struct rconn **pp = &r->conns;

	while (*pp != NULL) {
		struct rconn *c = *pp;

		if (c->dead) {
			*pp = c->next;
			buf_free(&c->in);
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* n bytes of c's output went out. */
static void
conn_sent(struct real *r, struct rconn *c, size_t n)
{
	c->out_bytes -= n;
	if (c->accepted)
		r->out_bytes -= n;
}

/* Write one queue entry on; 1: done, 0: the socket is full, <0: error. */
static int
write_entry(struct real *r, struct rconn *c, struct outq *q)
{
	while (q->off < q->len) {
		/* MSG_MORE: a file part or more bytes follow, so do not push a short packet. */
		int more = q->file_left > 0 || q->next != NULL ? MSG_MORE : 0;
		ssize_t n = send(c->fd, q->data + q->off, q->len - q->off, MSG_NOSIGNAL | more);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		q->off += (size_t)n;
		conn_sent(r, c, (size_t)n);
	}
	while (q->file_left > 0) {
		off_t off = (off_t)q->file_off;
		ssize_t n = sendfile(c->fd, q->file_fd, &off, q->file_left);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if (n == 0)
			return -1; /* the file is shorter than the frame says */
		q->file_off += n;
		q->file_left -= (size_t)n;
		conn_sent(r, c, (size_t)n);
	}
	return 1;
}

/* Watch c for what it waits for: input unless closing or muted, output if queued. */
static void
conn_arm(struct real *r, struct rconn *c)
{
	uint32_t ev = (c->closing || c->muted || c->starved ? 0 : EPOLLIN) |
		      (c->out != NULL ? EPOLLOUT : 0);

	if (ev != c->events && epoll_set(r, EPOLL_CTL_MOD, c->fd, ev, c) == 0)
		c->events = ev;
}

/* Should c's requests wait until its output drains (rule 4)? */
static bool
conn_over(const struct real *r, const struct rconn *c)
{
	if (!c->accepted)
		return false;
	return c->out_bytes >= r->cfg.mute_output_bytes || c->out_files >= CONN_FILES_MAX ||
	       (c->out_bytes > 0 && r->out_bytes >= r->cfg.queued_output_max);
}

/* Can a frame of len bytes be reserved now?  One larger than the whole budget can when
   nothing else is (rule 4). */
static bool
budget_fits(const struct real *r, size_t len)
{
	int64_t max = r->cfg.queued_request_max;

	return max < 0 || r->in_reserved == 0 || r->in_reserved + len <= (uint64_t)max;
}

/*
 * c's input begins with an incomplete frame of len bytes: reserve them from
 * queued.max.request.bytes before reading on, or stop reading c until
 * conns_admit can, behind every connection already waiting (rule 4).
 */
static void
conn_reserve(struct real *r, struct rconn *c, size_t len)
{
	if (!c->accepted || c->starved || c->reserved > 0 || r->cfg.queued_request_max < 0)
		return;
	c->reserved = len;
	if (r->nstarved == 0 && budget_fits(r, len)) {
		r->in_reserved += len;
		return;
	}
	c->starved = true;
	c->ticket = r->next_ticket++;
	r->nstarved++;
	conn_arm(r, c);
}

/* Admit waiting connections, the oldest first, while the budget holds their frames. */
static void
conns_admit(struct real *r)
{
	while (r->nstarved > 0) {
		struct rconn *first = NULL;

		for (struct rconn *c = r->conns; c != NULL; c = c->next)
			if (!c->dead && c->starved && (first == NULL || c->ticket < first->ticket))
				first = c;
		assert(first != NULL);
		if (!budget_fits(r, first->reserved))
			return;
		first->starved = false;
		r->nstarved--;
		r->in_reserved += first->reserved;
		first->request_ms = mono_ms(); /* rule 7: its clock starts now */
		conn_arm(r, first);
	}
}

/* After a large frame, give its buffer back: keep a copy of what is left (rule 4). */
static void
conn_input_trim(struct rconn *c)
{
	struct buf small;

	if (c->in.cap <= INPUT_KEEP_BYTES || c->in.len > READ_CHUNK)
		return;
	buf_init(&small);
	buf_put(&small, c->in.data, c->in.len);
	if (!buf_ok(&small)) {
		buf_free(&small); /* keep the large one */
		return;
	}
	buf_free(&c->in);
	c->in = small;
}

/* Write as much queued output as the socket takes (rule: never in a handler). */
static void
conn_flush(struct real *r, struct rconn *c)
{
	while (c->out != NULL) {
		struct outq *q = c->out;
		int rc = write_entry(r, c, q);

		if (rc < 0) {
			conn_drop(r, c, !c->closing);
			return;
		}
		if (rc == 0)
			break;
		c->active_ms = mono_ms();
		c->out = q->next;
		if (c->out == NULL)
			c->out_tail = &c->out;
		if (q->file_fd >= 0) {
			c->out_files--;
			r->files--;
		}
		outq_free(q);
	}
	if (c->out == NULL && c->closing) {
		conn_drop(r, c, false);
		return;
	}
	if (c->muted && !conn_over(r, c)) { /* its frames go to the node this round */
		c->muted = false;
		c->resume = true;
	}
	conn_arm(r, c); /* a closing connection reads nothing more: only writes */
}

/* Hand every whole frame in c's input buffer to its node (rule 1). */
static void
conn_frames(struct real *r, struct rconn *c)
{
	struct node *n = &r->nodes[c->node].node;
	size_t pos = 0;

	while (!c->dead && !c->closing) {
		int64_t len;

		if (conn_over(r, c)) { /* rule 4: write what it can, then mute if still over */
			conn_flush(r, c);
			if (c->dead)
				return;
			if (conn_over(r, c)) {
				c->muted = true;
				conn_arm(r, c);
				break;
			}
		}
		len = frame_size(c->in.data + pos, c->in.len - pos, r->cfg.max_frame_bytes);

		if (len < 0) {
			rlog(r,
			     "%s: closing connection %" PRId64 ": frame size %" PRId32
			     " %s (socket.request.max.bytes = %" PRId32 ")",
			     n->name, c->id, (int32_t)be32_read(c->in.data + pos),
			     len == KLAB_ETOOLARGE ? "too large" : "negative",
			     r->cfg.max_frame_bytes);
			conn_drop(r, c, true);
			return;
		}
		if (len == 0)
			break;
		if ((size_t)len > c->in.len - pos) {
			conn_reserve(r, c, (size_t)len);
			break;
		}
		if (n->ops->on_frame != NULL)
			n->ops->on_frame(n, c->id, c->in.data + pos, (size_t)len);
		pos += (size_t)len;
		conn_release(r, c);
	}
	if (c->dead)
		return;
	if (pos > 0) {
		memmove(c->in.data, c->in.data + pos, c->in.len - pos);
		c->in.len -= pos;
		conn_input_trim(c);
	}
	/* rule 7: the clock of a request starts with its first byte */
	if (c->in.len == 0)
		c->request_ms = 0;
	else if (pos > 0 || c->request_ms == 0)
		c->request_ms = mono_ms();
}

static void
conn_readable(struct real *r, struct rconn *c)
{
	for (int rounds = 0; rounds < 16 && !c->dead && !c->closing && !c->muted && !c->starved;
	     rounds++) {
		ssize_t n;

		if (!buf_reserve(&c->in, READ_CHUNK)) {
			conn_drop(r, c, true);
			return;
		}
		n = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* end of stream, or an error */
			conn_drop(r, c, true);
			return;
		}
		c->in.len += (size_t)n;
		c->active_ms = mono_ms();
		conn_frames(r, c);
	}
}

static void
conn_connect_done(struct real *r, struct rconn *c)
{
	struct node *n = &r->nodes[c->node].node;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		conn_drop(r, c, true); /* on_connected(false) */
		return;
	}
	c->connecting = false;
	c->active_ms = mono_ms();
	epoll_set(r, EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLOUT, c);
	c->events = EPOLLIN | EPOLLOUT; /* conn_flush drops EPOLLOUT once nothing is queued */
	if (n->ops->on_connected != NULL)
		n->ops->on_connected(n, c->id, true);
}

static void
conn_event(struct real *r, struct rconn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (c->connecting) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connect_done(r, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_readable(r, c);
	if (!c->dead && (events & EPOLLOUT))
		conn_flush(r, c);
}

/* ---- listeners ------------------------------------------------------------------ */

/* Stop watching the listeners for ACCEPT_PAUSE_MS (rule 6); accepts_resume rearms them. */
static void
accepts_pause(struct real *r)
{
	r->accept_paused_until = mono_ms() + ACCEPT_PAUSE_MS;
	for (int i = 0; i < REAL_MAX_LISTENERS; i++)
		if (r->listeners[i].id != 0)
			epoll_set(r, EPOLL_CTL_MOD, r->listeners[i].fd, 0, &r->listeners[i]);
}

/* The ms until accepting resumes (-1: it is not paused), rearming when due. */
static int64_t
accepts_resume(struct real *r)
{
	int64_t left = r->accept_paused_until - mono_ms();

	if (r->accept_paused_until == 0)
		return -1;
	if (left > 0)
		return left;
	r->accept_paused_until = 0;
	if (r->spare_fd < 0)
		r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < REAL_MAX_LISTENERS; i++)
		if (r->listeners[i].id != 0)
			epoll_set(r, EPOLL_CTL_MOD, r->listeners[i].fd, EPOLLIN, &r->listeners[i]);
	return -1;
}

/*
 * accept4 failed with err (EMFILE or ENFILE): the pending connection
 * would keep the listener readable and the loop spinning.  Accept it with
 * the spare descriptor's slot and close it at once (rule 6).  False when
 * the listener is to be left for this round.
 */
static bool
accept_shed(struct real *r, struct rlistener *l, int err)
{
	struct rlimit rl = { 0 };
	uint64_t held;
	int fd = -1;

	if (r->spare_fd >= 0) {
		close(r->spare_fd);
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			err = errno;
		else
			close(fd);
		r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0)
		r->shed++;
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((fd >= 0 || err != EAGAIN) && rlog_due(&r->log_shed, &held))
		rlog(r,
		     "%s: out of file descriptors (%s, ulimit -n %llu): new connections are "
		     "closed at once (%" PRIu64 " so far)",
		     r->nodes[l->node].name, err == ENFILE ? "ENFILE" : "EMFILE",
		     (unsigned long long)rl.rlim_cur, r->shed);
	if (fd >= 0 && r->spare_fd >= 0)
		return true;
	if (fd >= 0 || err != EAGAIN)
		accepts_pause(r); /* no spare to give: wait rather than spin */
	return false;
}

/* Live accepted connections from IPv4 address ip (network order). */
static int
conns_from(const struct real *r, uint32_t ip)
{
	int n = 0;

	for (const struct rconn *c = r->conns; c != NULL; c = c->next)
		n += !c->dead && c->accepted && c->peer == ip;
	return n;
}

/* Over max.connections or max.connections.per.ip?  Logs why (rule 7). */
static bool
accept_refused(struct real *r, struct rlistener *l, uint32_t ip)
{
	const char *key = "max.connections";
	int limit = r->cfg.max_connections;
	char addr[INET_ADDRSTRLEN] = "?";
	uint64_t held;

	if (r->naccepted < limit) {
		key = "max.connections.per.ip";
		limit = r->cfg.max_connections_per_ip;
		if (limit <= 0 || conns_from(r, ip) < limit)
			return false;
	}
	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	if (rlog_due(&r->log_refused, &held))
		rlog(r,
		     "%s: refusing a connection from %s: %d connections is the limit (%s); %" PRIu64
		     " more refused since the last line",
		     r->nodes[l->node].name, addr, limit, key, held);
	return true;
}

static void
listener_accept(struct real *r, struct rlistener *l)
{
	struct node *n = &r->nodes[l->node].node;

	for (;;) {
		struct sockaddr_in sa = { 0 };
		socklen_t salen = sizeof(sa);
		int fd = accept4(l->fd, (struct sockaddr *)&sa, &salen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct rconn *c;
		int one = 1;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && accept_shed(r, l, errno))
			continue;
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return;
		if (accept_refused(r, l, sa.sin_addr.s_addr)) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(r, fd, l->node);
		if (c != NULL) {
			c->accepted = true;
			c->peer = sa.sin_addr.s_addr;
			c->events = EPOLLIN;
			r->naccepted++;
		}
		if (c == NULL || epoll_set(r, EPOLL_CTL_ADD, fd, EPOLLIN, c) < 0) {
			if (c != NULL)
				conn_drop(r, c, false);
			else
				close(fd);
			continue;
		}
		if (n->ops->on_accept != NULL)
			n->ops->on_accept(n, c->id, l->id);
	}
}

static int
resolve(const char *host, int port, bool passive, struct addrinfo **out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	char ports[16];

	hints.ai_flags = passive ? AI_PASSIVE : 0;
	snprintf(ports, sizeof(ports), "%d", port);
	if (host != NULL && host[0] == '\0')
		host = NULL;
	return getaddrinfo(host, ports, &hints, out);
}

static int64_t
real_listen(struct rt *rt, const char *host, int port, struct kerr *e)
{
	struct rnode *rn = rn_of(rt);
	struct real *r = rn->r;
	struct rlistener *l = NULL;
	struct addrinfo *ai;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd, one = 1, rc;

	for (int i = 0; i < REAL_MAX_LISTENERS && l == NULL; i++)
		if (r->listeners[i].id == 0)
			l = &r->listeners[i];
	if (l == NULL)
		return kerr_set(e, KLAB_EFULL, "listen: too many listeners");
	if ((rc = resolve(host, port, true, &ai)) != 0)
		return kerr_set(e, KLAB_EINVAL, "listen %s:%d: %s", host, port, gai_strerror(rc));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = kerr_set(e, KLAB_EIO, "listen %s:%d: %s", host, port, strerror(errno));
		goto fail;
	}
	l->kind = K_LISTENER;
	l->fd = fd;
	l->node = rn->index;
	l->port = ntohs(sa.sin_port);
	if (epoll_set(r, EPOLL_CTL_ADD, fd, EPOLLIN, l) < 0) {
		rc = kerr_set(e, KLAB_EIO, "listen: epoll: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	l->id = ++r->next_listener;
	return l->id;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static int
real_listener_port(struct rt *rt, int64_t listener)
{
	struct real *r = rn_of(rt)->r;

	for (int i = 0; i < REAL_MAX_LISTENERS; i++)
		if (listener != 0 && r->listeners[i].id == listener)
			return r->listeners[i].port;
	return -1;
}

/* ---- struct rt -------------------------------------------------------------------- */

static conn_id
real_connect(struct rt *rt, const char *host, int port)
{
	struct rnode *rn = rn_of(rt);
	struct real *r = rn->r;
	struct addrinfo *ai = NULL;
	struct rconn *c;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (c = conn_new(r, fd, rn->index)) == NULL) {
		rlog(r, "%s: connect %s:%d: %s", rn->name, host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connecting = true;
	if (resolve(host, port, false, &ai) != 0 ||
	    (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) ||
	    epoll_set(r, EPOLL_CTL_ADD, fd, EPOLLOUT, c) < 0) {
		c->connect_fail = true; /* reported by the loop, not from in here */
	}
	c->events = EPOLLOUT;
	if (ai != NULL)
		freeaddrinfo(ai);
	return c->id;
}

/*
 * Give q the file region of part: a dup() of its descriptor, for sendfile,
 * when c and the process hold few (rule 5), else a copy of its bytes
 * appended to q's.  *dups counts the dup()s of the frame so far.
 */
static int
outq_file(struct real *r, const struct rconn *c, struct outq *q, const struct rt_part *part,
	  size_t *dups)
{
	int fd = fs_os_fd(part->file); /* a file of the real disk (disk_real.c) */
	uint8_t *data;

	q->file_off = part->file_off;
	if (c->out_files + *dups < CONN_FILES_MAX && r->files + *dups < r->files_max &&
	    (q->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		q->file_left = part->file_len;
		++*dups;
		return KLAB_OK;
	}
	if ((data = realloc(q->data, q->len + part->file_len)) == NULL)
		return KLAB_ENOMEM;
	q->data = data;
	for (size_t got = 0; got < part->file_len;) {
		ssize_t n = pread(fd, data + q->len + got, part->file_len - got,
				  (off_t)part->file_off + (off_t)got);

		if (n <= 0)
			return KLAB_EIO; /* shorter than the frame says, or unreadable */
		got += (size_t)n;
	}
	q->len += part->file_len;
	return KLAB_OK;
}

static int
real_send_parts(struct rt *rt, conn_id id, const struct rt_part *parts, size_t n)
{
	struct real *r = rn_of(rt)->r;
	struct rconn *c = conn_find(r, id);
	struct outq *first = NULL, **tail = &first;
	int64_t total = frame_parts_size(parts, n);
	size_t dups = 0;

	if (c == NULL || c->connecting || c->closing || c->node != rn_of(rt)->index)
		return KLAB_ESTATE;
	if (total < 0)
		return KLAB_EINVAL; /* not one whole frame */
	if (c->out_bytes + (size_t)total > r->cfg.max_output_bytes)
		return KLAB_EFULL;
	for (size_t i = 0; i < n; i++) { /* all or nothing: build, then link */
		struct outq *q = outq_new(parts[i].bytes, parts[i].len);
		int rc = q == NULL ? KLAB_ENOMEM : KLAB_OK;

		if (q != NULL && parts[i].file != NULL && parts[i].file_len > 0 &&
		    (rc = outq_file(r, c, q, &parts[i], &dups)) != KLAB_OK)
			outq_free(q);
		if (rc != KLAB_OK) {
			outq_free_all(first);
			return rc;
		}
		*tail = q;
		tail = &q->next;
	}
	*c->out_tail = first;
	c->out_tail = tail;
	c->out_bytes += (size_t)total;
	c->out_files += dups;
	r->files += dups;
	if (c->accepted)
		r->out_bytes += (size_t)total;
	return KLAB_OK;
}

static int
real_send(struct rt *rt, conn_id id, const uint8_t *frame, size_t len)
{
	struct rt_part part = { .bytes = frame, .len = len, .file = NULL };

	return real_send_parts(rt, id, &part, 1);
}

static void
real_close(struct rt *rt, conn_id id)
{
	struct rconn *c = conn_find(rn_of(rt)->r, id);

	if (c != NULL && c->node == rn_of(rt)->index)
		c->closing = true; /* the loop flushes, then closes (rule 2) */
}

static timer_id
real_set_timer(struct rt *rt, int64_t after_ms)
{
	struct real *r = rn_of(rt)->r;

	if (r->ntimers == r->timers_cap) {
		size_t cap = r->timers_cap ? 2 * r->timers_cap : 32;
		struct rtimer *t = realloc(r->timers, cap * sizeof(*t));

		if (t == NULL)
			return 0;
		r->timers = t;
		r->timers_cap = cap;
	}
	r->timers[r->ntimers] =
		(struct rtimer){ .due_ms = mono_ms() + (after_ms > 0 ? after_ms : 0),
				 .id = ++r->next_timer,
				 .node = rn_of(rt)->index };
	timer_sift_up(r, r->ntimers++);
	return r->next_timer;
}

static void
real_cancel_timer(struct rt *rt, timer_id t)
{
	struct real *r = rn_of(rt)->r;

	for (size_t i = 0; i < r->ntimers; i++) {
		if (r->timers[i].id == t && r->timers[i].node == rn_of(rt)->index) {
			timer_remove_at(r, i);
			return;
		}
	}
}

static int64_t
real_now_ms(struct rt *rt)
{
	struct timespec ts;

	(void)rt;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
real_random(struct rt *rt)
{
	struct real *r = rn_of(rt)->r;
	uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull); /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *
real_data_dir(struct rt *rt)
{
	return rn_of(rt)->data_dir;
}

static struct fs *
real_disk(struct rt *rt)
{
	(void)rt;
	return disk_real();
}

static void
real_trace(struct rt *rt, const char *line)
{
	struct real *r = rn_of(rt)->r;

	if (r->cfg.trace != NULL)
		r->cfg.trace(r->cfg.trace_arg, line);
}

static const struct rt_ops real_rt_ops = {
	.listen = real_listen,
	.connect = real_connect,
	.send = real_send,
	.send_parts = real_send_parts,
	.close = real_close,
	.set_timer = real_set_timer,
	.cancel_timer = real_cancel_timer,
	.now_ms = real_now_ms,
	.random = real_random,
	.data_dir = real_data_dir,
	.disk = real_disk,
	.trace = real_trace,
	.listener_port = real_listener_port,
};

/* ---- set-up ------------------------------------------------------------------------ */

void
real_config_defaults(struct real_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_frame_bytes = 104857600;
	cfg->max_connections = 1000;
	cfg->max_connections_per_ip = 0; /* none */
	cfg->idle_timeout_ms = 600000;
	cfg->request_timeout_ms = 30000;
	cfg->max_output_bytes = 256u << 20;
	cfg->mute_output_bytes = 1u << 20;
	cfg->queued_output_max = 256u << 20;
	cfg->queued_request_max = -1; /* none */
	cfg->handle_signals = true;
}

struct real *
real_new(const struct real_config *cfg)
{
	struct real *r = calloc(1, sizeof(*r));
	struct rlimit rl;

	if (r == NULL)
		return NULL;
	r->cfg = *cfg;
	r->sig.kind = K_SIGNAL;
	r->sig.fd = -1;
	r->files_max = 1u << 20;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		r->files_max = (size_t)rl.rlim_cur / 4;	       /* rule 5 */
	r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* rule 6 */
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0 || getrandom(&r->rng, sizeof(r->rng), 0) != sizeof(r->rng)) {
		if (r->epfd >= 0)
			close(r->epfd);
		if (r->spare_fd >= 0)
			close(r->spare_fd);
		free(r);
		return NULL;
	}
	return r;
}

void
real_free(struct real *r)
{
	if (r == NULL)
		return;
	for (struct rconn *c = r->conns; c != NULL; c = c->next)
		conn_drop(r, c, false);
	conns_reap(r);
	for (int i = 0; i < REAL_MAX_LISTENERS; i++)
		if (r->listeners[i].id != 0)
			close(r->listeners[i].fd);
	free(r->timers);
	close(r->epfd);
	if (r->spare_fd >= 0)
		close(r->spare_fd);
	free(r);
}

int
real_add_node(struct real *r, const char *name, const struct node_ops *ops, void *state,
	      const char *data_dir)
{
	struct rnode *rn;

	if (r->nnodes == REAL_MAX_NODES)
		return KLAB_EFULL;
	rn = &r->nodes[r->nnodes];
	rn->r = r;
	rn->index = r->nnodes++;
	snprintf(rn->name, sizeof(rn->name), "%s", name);
	snprintf(rn->data_dir, sizeof(rn->data_dir), "%s", data_dir ? data_dir : "");
	rn->rt.ops = &real_rt_ops;
	rn->rt.impl = rn;
	rn->node.ops = ops;
	rn->node.rt = &rn->rt;
	rn->node.state = state;
	rn->node.name = rn->name;
	if (r->running && ops->on_start != NULL)
		ops->on_start(&rn->node);
	return rn->index;
}

struct node *
real_node(struct real *r, int index)
{
	assert(index >= 0 && index < r->nnodes);
	return &r->nodes[index].node;
}

void
real_stop(struct real *r)
{
	r->stop = true;
}

/* ---- the loop ------------------------------------------------------------------------ */

static int
signals_open(struct real *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, &r->old_mask) < 0)
		return KLAB_EIO;
	r->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sig.fd < 0 || epoll_set(r, EPOLL_CTL_ADD, r->sig.fd, EPOLLIN, &r->sig) < 0)
		return KLAB_EIO;
	return KLAB_OK;
}

static void
signals_close(struct real *r)
{
	if (r->sig.fd >= 0)
		close(r->sig.fd);
	r->sig.fd = -1;
	sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
}

static void
signal_event(struct real *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		rlog(r, "signal %s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		r->stop = true;
	}
}

/* Fire due timers (in order); returns ms until the next one, or -1. */
static int64_t
timers_run(struct real *r)
{
	int64_t now = mono_ms();

	while (r->ntimers > 0 && r->timers[0].due_ms <= now && !r->stop) {
		struct rtimer t = r->timers[0];
		struct node *n = &r->nodes[t.node].node;

		timer_remove_at(r, 0);
		if (n->ops->on_timer != NULL)
			n->ops->on_timer(n, t.id);
	}
	return r->ntimers > 0 ? r->timers[0].due_ms - now : -1;
}

/* The earlier of two deadlines in ms from now (-1: none). */
static int64_t
sooner(int64_t a, int64_t b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

/*
 * Close c if it is idle or its request is late (rule 7); false if it
 * stays, with *next lowered to its next deadline.
 */
static bool
conn_expired(struct real *r, struct rconn *c, int64_t now, int64_t *next)
{
	int64_t idle = r->cfg.idle_timeout_ms, rto = r->cfg.request_timeout_ms;
	bool timed = c->accepted && rto > 0 && c->request_ms > 0 && !c->muted && !c->starved;
	uint64_t held;

	if (idle > 0 && !c->connecting && now - c->active_ms >= idle) {
		rlog(r,
		     "%s: closing connection %" PRId64 ": idle for %" PRId64
		     " ms (connections.max.idle.ms)",
		     r->nodes[c->node].name, c->id, now - c->active_ms);
		conn_drop(r, c, true);
		return true;
	}
	if (timed && now - c->request_ms >= rto) {
		if (rlog_due(&r->log_slow, &held))
			rlog(r,
			     "%s: closing connection %" PRId64 ": its request is not whole %" PRId64
			     " ms after its first byte (klab.request.read.timeout.ms); %" PRIu64
			     " more since the last line",
			     r->nodes[c->node].name, c->id, now - c->request_ms, held);
		conn_drop(r, c, true);
		return true;
	}
	if (idle > 0 && !c->connecting)
		*next = sooner(*next, c->active_ms + idle - now);
	if (timed)
		*next = sooner(*next, c->request_ms + rto - now);
	return false;
}

/*
 * Per connection, once a round: report connects that failed at once, close
 * idle and slow ones, write queued output.  Returns ms until the next
 * deadline (-1: none).
 */
static int64_t
conns_service(struct real *r)
{
	int64_t now = mono_ms(), next = -1;

	for (struct rconn *c = r->conns; c != NULL; c = c->next) {
		if (c->dead)
			continue;
		if (c->connect_fail) {
			conn_drop(r, c, true);
			continue;
		}
		if (conn_expired(r, c, now, &next))
			continue;
		if (!c->connecting && (c->out != NULL || c->closing))
			conn_flush(r, c);
	}
	return next;
}

/* Hand unmuted connections the frames they hold (rule 4), in the loop, not in a handler. */
static void
conns_resume(struct real *r)
{
	for (struct rconn *c = r->conns; c != NULL; c = c->next)
		if (c->resume && !c->dead) {
			c->resume = false;
			conn_frames(r, c);
		}
}

static bool
conns_pending(struct real *r)
{
	for (struct rconn *c = r->conns; c != NULL; c = c->next)
		if (!c->dead &&
		    (c->connect_fail || c->resume || (!c->connecting && c->closing && !c->out)))
			return true;
	return false;
}

static void
dispatch(struct real *r, struct epoll_event *ev)
{
	enum rkind *kind = ev->data.ptr;

	if (*kind == K_LISTENER)
		listener_accept(r, ev->data.ptr);
	else if (*kind == K_CONN)
		conn_event(r, ev->data.ptr, ev->events);
	else
		signal_event(r);
}

/* One round of the loop, waiting at most cap ms (-1: as long as nothing is due). */
static int
loop_once(struct real *r, int64_t cap)
{
	struct epoll_event evs[64];
	int64_t wait = timers_run(r);
	int n;

	wait = sooner(wait, conns_service(r));
	wait = sooner(wait, accepts_resume(r));
	wait = sooner(wait, cap);
	if (r->stop || conns_pending(r))
		wait = 0;
	n = epoll_wait(r->epfd, evs, 64, wait > 1000000 ? 1000000 : (int)wait);
	if (n < 0 && errno != EINTR)
		return KLAB_EIO;
	for (int i = 0; i < n; i++)
		dispatch(r, &evs[i]);
	conns_resume(r);
	conns_admit(r);
	conns_service(r);
	conns_reap(r);
	return KLAB_OK;
}

static void
nodes_stop(struct real *r)
{
	for (int i = 0; i < r->nnodes; i++) {
		struct node *n = &r->nodes[i].node;

		if (n->ops->on_stop != NULL)
			n->ops->on_stop(n);
	}
	conns_service(r); /* one last try to write what on_stop sent */
	for (struct rconn *c = r->conns; c != NULL; c = c->next)
		conn_drop(r, c, false);
	conns_reap(r);
}

static void
nodes_start(struct real *r)
{
	r->running = true;
	for (int i = 0; i < r->nnodes; i++)
		if (r->nodes[i].node.ops->on_start != NULL)
			r->nodes[i].node.ops->on_start(&r->nodes[i].node);
}

int
real_poll(struct real *r, int64_t max_wait_ms)
{
	if (!r->running)
		nodes_start(r);
	return loop_once(r, max_wait_ms < 0 ? 0 : max_wait_ms);
}

void
real_shutdown(struct real *r)
{
	if (!r->running)
		return;
	nodes_stop(r);
	r->running = false;
}

int
real_run(struct real *r)
{
	int rc = KLAB_OK;

	if (r->cfg.handle_signals && signals_open(r) != KLAB_OK) {
		rlog(r, "signalfd: %s", strerror(errno));
		signals_close(r);
		return KLAB_EIO;
	}
	nodes_start(r);
	while (!r->stop && rc == KLAB_OK)
		rc = loop_once(r, -1);
	if (rc != KLAB_OK)
		rlog(r, "epoll_wait: %s", strerror(errno));
	nodes_stop(r);
	r->running = false;
	if (r->cfg.handle_signals)
		signals_close(r);
	return rc;
}
