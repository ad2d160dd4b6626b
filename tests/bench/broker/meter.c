/*
 * meter.c - the measuring half of bench_broker: the records every system
 * is sent, the rows of the table, and the clock and CPU meter of one pass.
 *
 * Contract:
 *   values_make() builds POOL pseudo-random printable values of one size
 *   (the same bytes every run); record i carries value_at(v, i).
 *   A pass runs between meter_start() (or meter_start_n() for the brokers
 *   of a cluster) and meter_stop(): wall seconds, this process's CPU
 *   seconds (all its threads, librdkafka's included) and the server
 *   processes' CPU seconds (/proc/PID/stat), summed.  meter_start runs
 *   sync(2) before it reads the clock, so that no pass pays for the
 *   writeback of an earlier one.
 *   row_keep() keeps a pass in its row if it is the fastest so far; a row
 *   whose skip text is set (ok_so_far() false) was not measured, and the
 *   text says why.
 *   die() is for what the benchmark cannot go on without (malloc, fork):
 *   it prints and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_broker.h"

_Noreturn void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_broker: %s: %s\n", what, detail ? detail : strerror(errno));
	exit(1);
}

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
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

struct row *
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

/* The CPU seconds of m's server processes, summed. */
static double
servers_cpu_s(const struct meter *m)
{
	double sum = 0;

	for (int i = 0; i < m->nserver; i++)
		sum += proc_cpu_s(m->server[i]);
	return sum;
}

/*
 * n server processes (at most 3).  sync(2) first, outside the clock: the
 * pages an earlier pass left dirty are written back now, not during this
 * pass.
 */
void
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

void
meter_start(struct meter *m, pid_t server)
{
	meter_start_n(m, &server, server > 0 ? 1 : 0);
}

void
meter_stop(struct meter *m)
{
	m->wall = now_s() - m->wall;
	m->client = self_cpu_s() - m->client;
	m->server_cpu = servers_cpu_s(m) - m->server_cpu;
}

/* Keep the pass if it is the row's fastest. */
void
row_keep(struct row *r, const struct meter *m)
{
	r->passes++;
	if (r->secs > 0 && r->secs <= m->wall)
		return;
	r->secs = m->wall;
	r->client_cpu = m->client;
	r->server_cpu = m->server_cpu;
}

bool
ok_so_far(const struct row *r)
{
	return r->skip[0] == '\0';
}

void
skip_rows(struct row **rows, int n, const char *why)
{
	for (int i = 0; i < n; i++)
		snprintf(rows[i]->skip, sizeof(rows[i]->skip), "%s", why);
}
