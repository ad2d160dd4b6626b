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
 *
 * The parts live in tests/bench/broker/, one concern a file, with
 * broker/bench_broker.h as their map: meter.c (values, rows, the meter),
 * proc.c (servers and sockets), pipeline.c (pipelined requests for redis
 * and nats), loopback.c, rdkafka.c (one klab broker), cluster.c, redis.c
 * and nats.c.  This file runs them and prints the report.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "broker/bench_broker.h"

static const int sizes[NSIZES] = { 100, 1024 };
static const long counts[NSIZES] = { 2000000, 300000 };

/* ---- the report: a table per size, the settings, the targets ---------------------- */

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

/* What idempotence costs: the idempotent row over the acks=1 row of the same run. */
static void
print_idempotent_ratio(const struct table *t)
{
	const struct row *plain = find_row(t, "klab", "produce acks=1"),
			 *idem = find_row(t, "klab", "idempotent acks=all");

	if (measured(plain) && measured(idem))
		printf("idempotent acks=all / acks=1: %.2f (records/s; one replica, so acks=all "
		       "waits for no one: the difference is InitProducerId, sequence checks and "
		       "5 in flight)\n",
		       rate(idem) / rate(plain));
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
	for (size_t i = 0; i < producer_conf_n; i++)
		printf(" %s=%s", producer_conf[i][0], producer_conf[i][1]);
	printf("\n    the idempotent row:");
	for (size_t i = 0; i < idempotent_conf_n; i++)
		printf(" %s=%s", idempotent_conf[i][0], idempotent_conf[i][1]);
	printf("\n    RD_KAFKA_MSG_F_COPY, null keys, partition 0 of a 1-partition topic; "
	       "clock: first produce() to the last delivery report\n  consumer (legacy "
	       "API, rd_kafka_consume_batch from the beginning):");
	for (size_t i = 0; i < consumer_conf_n; i++)
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
	       "writeback of an earlier one;\n  klab topics deleted after their produce pass "
	       "(but the first, which is read back), so the page cache holds no pass already "
	       "measured\n");
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
		print_idempotent_ratio(&b.tables[s]);
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
