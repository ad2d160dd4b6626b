/*
 * bench_broker.h - the parts of bench_broker (tests/bench/bench_broker.c)
 * and what they share: the records, the table's rows, the meter, the
 * servers, and one bench_SYSTEM() per system measured.
 *
 * A map of the program, one file per concern:
 *
 *   ../bench_broker.c  main: for each record size, every system's rows
 *                      into one table; then the tables, the settings and
 *                      the targets
 *   meter.c            the values sent, the rows, the clock and CPU meter
 *   proc.c             server processes, free ports, sockets
 *   pipeline.c         a buffered reader and pipelined requests (redis, nats)
 *   loopback.c         the loopback row: plain TCP inside this process
 *   rdkafka.c          one klab broker and librdkafka: produce and consume
 *   cluster.c          three klab brokers as one cluster: produce
 *   redis.c            Redis Streams: XADD and XRANGE over RESP
 *   nats.c             NATS JetStream: PUB and its acks
 *
 * Every bench_SYSTEM() adds its rows to a table and fills them: the
 * fastest pass, or a skip text that says why it was not measured.  Only
 * klab's failures (lost or garbled records, a broker that did not start,
 * exited badly or placed a topic wrongly) and the loopback row's set
 * b->failed, which makes the exit status 1.
 */
#ifndef BENCH_BROKER_H
#define BENCH_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

#define CLUSTER_SIZE 3
#define CLUSTER_PARTITIONS 6
#define CLUSTER_PRODUCERS 3
#define CLUSTER_PASSES 3 /* each producer count, alternately; the best of each */

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

/* One klab broker process: its port, bootstrap address and log file. */
struct broker {
	pid_t pid;
	int port;
	char bootstrap[32], log[160];
};

/* Delivery reports counted by on_delivery. */
struct delivery {
	long ok, failed;
	rd_kafka_resp_err_t first_err;
};

/* A buffered reader of one connection (pipeline.c). */
struct reader {
	int fd;
	char *buf;
	size_t cap, start, end;
};

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

/* The bytes of record i (inline: the produce loops call it per record). */
static inline const uint8_t *
value_at(const struct values *v, long i)
{
	return v->pool + (size_t)(i % POOL) * (size_t)v->size;
}

/* meter.c */
_Noreturn void die(const char *what, const char *detail);
double now_s(void);
void values_make(struct values *v, int size, long n);
struct row *add_row(struct table *t, const char *system, const char *op, const struct values *v);
void meter_start_n(struct meter *m, const pid_t *servers, int n);
void meter_start(struct meter *m, pid_t server);
void meter_stop(struct meter *m);
void row_keep(struct row *r, const struct meter *m);
bool ok_so_far(const struct row *r);
void skip_rows(struct row **rows, int n, const char *why);

/* proc.c */
struct stat;
struct FTW;
int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
bool installed(const char *prog);
const char *version_of(const char *cmd, char *out, size_t n);
int free_port(void);
int dial(int port);
pid_t spawn(char *const argv[], const char *log);
bool wait_port(pid_t pid, int port);
int stop(pid_t pid);
void print_tail(const char *path);
bool send_all(int fd, const void *p, size_t n);
void write_all(int fd, const void *p, size_t n);

/* pipeline.c */
void reader_init(struct reader *r, int fd);
char *reader_line(struct reader *r);
const char *reader_take(struct reader *r, size_t n);
void pipeline_run(struct pipeline *p, struct meter *m, pid_t server);

/* rdkafka.c */
extern const char *const producer_conf[][2];
extern const size_t producer_conf_n;
extern const char *const idempotent_conf[][2];
extern const size_t idempotent_conf_n;
extern const char *const consumer_conf[][2];
extern const size_t consumer_conf_n;
bool binary_mentions(const char *path, const char *needle);
bool broker_start(struct bench *b, struct broker *k, int sendfile);
void broker_stop(struct bench *b, struct broker *k);
rd_kafka_conf_t *kafka_conf(const char *bootstrap, const char *const (*kv)[2], size_t n);
bool kafka_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int partitions);
bool kafka_delete_topic(rd_kafka_t *rk, const char *topic);
void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* The systems, each adding its rows to t (v: the records of one size). */
void bench_loopback(struct bench *b, struct table *t, const struct values *v);
void bench_klab(struct bench *b, struct table *t, const struct values *v);
void bench_cluster(struct bench *b, struct table *t, const struct values *v);
void bench_redis(struct bench *b, struct table *t, const struct values *v);
void bench_nats(struct bench *b, struct table *t, const struct values *v);

#endif
