/*
 * nats.c - NATS JetStream over its text protocol on a plain socket.
 *
 * nats-server -js keeps a stream of file storage (the server's default
 * sync_interval: written to the page cache, fsync every 2 minutes).  The
 * records are published with PUB and a reply subject, each JetStream ack
 * (a MSG on that subject) counted, at most WINDOW publishes
 * unacknowledged (pipeline.c) - an async publisher with a window, as
 * nats.go's PublishAsync with its default of 4000 pending.
 *
 * Contract: bench_nats() adds the "nats" row; a nats-server that is not
 * installed or does not start, or that fails, is reported in the row and
 * does not fail the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_broker.h"

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

void
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
	if (nats_setup(fd, &p.rd, v, r->skip, sizeof(r->skip))) {
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
