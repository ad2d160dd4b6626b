/*
 * cluster.c - three `klab broker` processes on loopback as one static
 * cluster, produced to by librdkafka.
 *
 * Every configuration lists all three in cluster.brokers, and each broker
 * has its own port and log.dirs.  For each pass a fresh topic of
 * CLUSTER_PARTITIONS partitions is created with CreateTopics through
 * broker 1 (the broker places it and tells the other two); before the
 * clock, Metadata through each broker as the bootstrap server must name
 * the same leaders, and those must be all three brokers.  Then the 100 B
 * records of the single-broker row are produced, record i to partition
 * i % CLUSTER_PARTITIONS, by one librdkafka producer, and into another
 * fresh topic by CLUSTER_PRODUCERS producers in parallel (a thread and an
 * rd_kafka_t each, a third of the records each); the clock runs from the
 * first produce() to the last delivery report of the last producer, and
 * the server CPU is the three brokers' summed.
 *
 * Contract: bench_cluster() adds the two "cluster3" rows, runs
 * CLUSTER_PASSES rounds of both, and leaves the last topic's placement in
 * b->cluster_leaders.  A cluster that does not start, a topic placed
 * wrongly or a failed delivery report fails the run (b->failed).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bench_broker.h"

struct cluster {
	struct broker k[CLUSTER_SIZE];
	pid_t pids[CLUSTER_SIZE];
	char bootstrap[CLUSTER_SIZE * 24];
	int leaders[CLUSTER_PARTITIONS]; /* the last topic's, as Metadata named them */
};

/*
 * Three distinct free ports; members becomes cluster.brokers
 * (1@127.0.0.1:P1,2@..,3@..), c->bootstrap the three addresses.
 */
static void
cluster_ports(struct cluster *c, char *members, size_t cap)
{
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
		n += (size_t)snprintf(members + n, cap - n, "%s%d@127.0.0.1:%d", i > 0 ? "," : "",
				      i + 1, k->port);
		bn += (size_t)snprintf(c->bootstrap + bn, sizeof(c->bootstrap) - bn, "%s%s",
				       i > 0 ? "," : "", k->bootstrap);
	}
}

/* Each broker's properties file and process; false (all stopped) if one does not listen. */
static bool
cluster_start(struct bench *b, struct cluster *c)
{
	char members[CLUSTER_SIZE * 32] = "", props[160];

	cluster_ports(c, members, sizeof(members));
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

/* CreateTopics for topic (CLUSTER_PARTITIONS partitions) through broker 1; false, with why. */
static bool
cluster_create(struct cluster *c, const char *topic, char *why, size_t whylen)
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
	if (!cluster_create(c, topic, why, whylen))
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

/* Producer i of nprod: its share of the records, ready (Metadata with every leader) or not. */
static bool
cluster_producer_open(struct cluster_producer *p, const struct cluster *c, const char *topic,
		      const struct values *v, int i, int nprod)
{
	rd_kafka_conf_t *conf = kafka_conf(c->bootstrap, producer_conf, producer_conf_n);
	char err[256];

	memset(p, 0, sizeof(*p));
	p->v = v;
	p->first = v->n * i / nprod;
	p->count = v->n * (i + 1) / nprod - p->first;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &p->d);
	if ((p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL)
		die("rd_kafka_new", err);
	p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
	return kafka_ready(p->rk, p->rkt, CLUSTER_PARTITIONS);
}

/* The producers' delivery reports summed: all v->n delivered keeps the pass in r, else fails it. */
static void
cluster_tally(struct bench *b, struct row *r, const struct cluster_producer *ps, int nprod,
	      const struct values *v, const struct meter *m)
{
	long delivered = 0, failed = 0, undelivered = 0;
	rd_kafka_resp_err_t first_err = RD_KAFKA_RESP_ERR_NO_ERROR;

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
		row_keep(r, m);
	}
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
	struct meter m;

	for (int i = 0; i < nprod; i++) {
		if (!cluster_producer_open(&ps[i], c, topic, v, i, nprod)) {
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
	cluster_tally(b, r, ps, nprod, v, &m);
out:
	for (int i = 0; i < nprod; i++) {
		if (rd_kafka_outq_len(ps[i].rk) > 0)
			rd_kafka_purge(ps[i].rk,
				       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_topic_destroy(ps[i].rkt);
		rd_kafka_destroy(ps[i].rk);
	}
}

/* b->cluster_leaders: "TOPIC: p0->L0 p1->L1 ...", printed with the cluster rows. */
static void
cluster_note_leaders(struct bench *b, const struct cluster *c, const char *topic)
{
	snprintf(b->cluster_leaders, sizeof(b->cluster_leaders), "%s:", topic);
	for (int p = 0; p < CLUSTER_PARTITIONS; p++) {
		size_t len = strlen(b->cluster_leaders);

		snprintf(b->cluster_leaders + len, sizeof(b->cluster_leaders) - len, " p%d->%d", p,
			 c->leaders[p]);
	}
}

/*
 * CLUSTER_PASSES rounds, each one producer and then CLUSTER_PRODUCERS
 * producers, each into a fresh topic cluster-P-PASS; v is the 100 B set.
 */
void
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
			cluster_note_leaders(b, &c, topic);
			cluster_pass(b, rows[j], &c, topic, v, nprod[j]);
		}
	}
	for (int i = 0; i < CLUSTER_SIZE; i++)
		broker_stop(b, &c.k[i]);
}
