/*
 * redis.c - Redis Streams over RESP on a plain socket: the same records
 * appended with XADD and read back with XRANGE.
 *
 * redis-server runs with persistence off (save "", appendonly no: the
 * stream lives in memory only).  XADD stream * v <value> is pipelined
 * over one connection with at most WINDOW commands unanswered
 * (pipeline.c), REDIS_PASSES passes into fresh streams; then XRANGE
 * COUNT XRANGE_COUNT requests, one after another (each starts after the
 * last ID of the one before), read the first stream back, every value
 * compared with the one sent.
 *
 * Contract: bench_redis() adds the two "redis" rows; a redis-server that
 * is not installed or does not start, or that fails, is reported in the
 * rows and does not fail the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_broker.h"

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

void
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
