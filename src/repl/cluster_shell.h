/*
 * cluster_shell.h - the state the stage-3 shell's cluster commands share
 * (chapter 3).  Three files implement them:
 *
 *   cluster_world.c     the world: a simulated cluster (or a real runtime
 *                       after `connect`), its three client nodes, and
 *                       running it until a command's answer arrives
 *   cmd_cluster.c       the commands that shape the world (cluster,
 *                       broker, net, run, step, trace, bootstrap, connect)
 *                       and the command table
 *   cmd_cluster_data.c  the commands that use it through the clients
 *                       (topic, metadata, produce, produce-many, consume,
 *                       dot)
 */
#ifndef KLAB_REPL_CLUSTER_SHELL_H
#define KLAB_REPL_CLUSTER_SHELL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "proto/tracer.h"
#include "client/admin.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "net/real.h"
#include "net/sim.h"
#include "repl/repl.h"

#define CL_MAX_BROKERS 5
#define CL_PORT 9092
#define CL_WAIT_MS 30000	/* a command gives up after this much (virtual) time */
#define CL_CONSUME_IDLE_MS 1000 /* consume stops after this long without records */
#define CL_MAX_RECORDS 1000

struct cl_broker {
	struct broker b;
	struct config props;
	int node; /* index in the sim */
	bool up;
};

/* The records a `consume` collects. */
struct cl_rec {
	int32_t partition;
	int64_t offset, timestamp;
	char *key, *value; /* NULL when null */
};

struct cluster_shell {
	struct repl *r;
	/* the simulated cluster */
	bool sim_on;
	struct sim sim;
	struct cl_broker brokers[CL_MAX_BROKERS];
	int nbrokers;
	uint64_t seed;
	char base[4096]; /* the brokers' directories are base/broker-N */
	bool base_is_tmp;
	struct proto_tracer tracer;
	bool trace;
	/* or a real one */
	struct real *real;
	/* the clients */
	char bootstrap[1024];
	struct kclient admin;
	struct kproducer prod;
	struct kconsumer cons;
	int admin_node, prod_node, cons_node;
	bool clients_on;
	/* what the waiting command is waiting for */
	bool done;
	bool meta_done; /* a Metadata answer reached the admin client */
	int err;
	struct pvalue *resp; /* a copy of the admin answer's tree: see cl_admin_answer */
	struct buf resp_bytes;
	int16_t resp_version;
	char answered_by[KCLIENT_HOST_MAX + 16]; /* "broker-2:9092" */
	int delivered, failed;
	int64_t *per_partition; /* produce-many: records delivered to each partition */
	int32_t nper;
	int64_t last_offset;
	int32_t last_partition;
	int16_t last_kafka_error;
	struct cl_rec recs[CL_MAX_RECORDS];
	int nrecs, max_recs;
	int64_t last_record_ms;
};

/* ---- the world (cluster_world.c) ---------------------------------------- */

/* Virtual time in the simulation, the monotonic clock after `connect`. */
int64_t cl_now_ms(const struct cluster_shell *c);

/*
 * Run the world until *flag (or the consumer has gone quiet for quiet_ms,
 * when > 0) or max_ms pass; false on a timeout, or when no bootstrap server
 * of a real cluster took a connection.
 */
bool cl_wait_flag(struct cluster_shell *c, const bool *flag, int64_t max_ms, int64_t quiet_ms);
bool cl_wait_done(struct cluster_shell *c, int64_t max_ms, int64_t quiet_ms);
/* Forget the last answer before a new request. */
void cl_begin_wait(struct cluster_shell *c);
/* A kclient_cb for admin requests: keeps a copy of the answer in c->resp. */
void cl_admin_answer(struct kclient *kc, void *arg, int err, int16_t version,
		     const struct pvalue *resp);
/* Wait for an admin answer; print an error naming what and return -1 on failure. */
int cl_wait_answer(struct cluster_shell *c, const char *what);
/* One Metadata round of the admin client (it learns the brokers). */
int cl_refresh_admin(struct cluster_shell *c);

int cl_clients_init(struct cluster_shell *c);
void cl_clients_free(struct cluster_shell *c);
/* Restart the simulated client nodes with c->bootstrap. */
int cl_clients_restart(struct cluster_shell *c);
/* A fresh simulated cluster of n brokers. */
int cl_start(struct cluster_shell *c, int n, uint64_t seed);
void cl_sim_free(struct cluster_shell *c);
void cl_real_free(struct cluster_shell *c);
void cl_free_recs(struct cluster_shell *c);

/* The index of broker ARG (1..n), or -1 with an error printed. */
int cl_broker_index(struct cluster_shell *c, const char *arg);
/* Is there a world (simulated or connected)?  Is it simulated?  (Errors printed.) */
bool cl_have_world(struct cluster_shell *c);
bool cl_need_sim(struct cluster_shell *c, const char *what);

/* ---- the commands that use the clients (cmd_cluster_data.c) -------------- */

int cl_cmd_topic(struct repl *r, void *state, int argc, char **argv);
int cl_cmd_metadata(struct repl *r, void *state, int argc, char **argv);
int cl_cmd_produce(struct repl *r, void *state, int argc, char **argv);
int cl_cmd_produce_many(struct repl *r, void *state, int argc, char **argv);
int cl_cmd_consume(struct repl *r, void *state, int argc, char **argv);
int cl_cmd_dot(struct repl *r, void *state, int argc, char **argv);

#endif
