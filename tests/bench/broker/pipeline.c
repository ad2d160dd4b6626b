/*
 * pipeline.c - requests written ahead of their replies, for the two peers
 * spoken to over a plain socket: Redis (RESP) and NATS (its text
 * protocol).
 *
 * A reader buffers one connection's bytes (4 MiB, more than any reply
 * element read whole) and hands out lines (reader_line: without their
 * \r\n, NUL-terminated in place) and counted payloads (reader_take: n
 * bytes, contiguous, then \r\n).  Both return NULL at EOF or on error.
 *
 * pipeline_run() sends p->n commands and waits for p->n replies:
 *
 *   writer (the caller)                    reader thread
 *   p->cmd appends command i to a buffer   p->reply parses one reply:
 *   write at 64 KiB, or when WINDOW           0 ok, 1 an error reply,
 *   commands are unanswered (then wait)       -1 the connection broke
 *                                          answered = replies so far
 *
 * Invariants: at most WINDOW commands are unanswered when one is
 * written; the reader wakes the writer every 256 replies and at the end;
 * a broken connection (p->broken) ends both sides - the writer shuts the
 * socket down if it cannot write, the reader stops at the first -1.  The
 * meter runs from before the first command is written to after the last
 * reply is read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_broker.h"

void
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
char *
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
const char *
reader_take(struct reader *r, size_t n)
{
	const char *p;

	if (!reader_fill(r, n + 2))
		return NULL;
	p = r->buf + r->start;
	r->start += n + 2;
	return p;
}

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
void
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
