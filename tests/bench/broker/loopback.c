/*
 * loopback.c - the most any system here could move through 127.0.0.1:
 * the same N x size bytes as the other rows (value i % POOL, for i = 0,
 * 1, ..., N - 1), over one TCP connection inside this process, a writer
 * (the caller) and a reader thread, in LOOP_CHUNK (256 KiB) writes.
 *
 * Contract: bench_loopback() adds the "loopback" row and keeps the
 * fastest of LOOP_PASSES passes, each through a fresh connection; a pass
 * that reads back fewer bytes than were written fails the row and the
 * run (b->failed).
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "bench_broker.h"

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

void
bench_loopback(struct bench *b, struct table *t, const struct values *v)
{
	struct row *r = add_row(t, "loopback", "TCP send+recv", v);

	for (int pass = 0; pass < LOOP_PASSES && ok_so_far(r); pass++)
		loopback_pass(b, r, v);
}
