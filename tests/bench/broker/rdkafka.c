/*
 * rdkafka.c - one `klab broker` process, spoken to by librdkafka: the
 * produce row and the two consume rows (sendfile on, then off).
 *
 * Contract:
 *   broker_start() writes dir/server.properties (broker.id=1, one
 *   partition per topic, auto-created) and starts the broker on a free
 *   port; broker_stop() stops it and fails the run if it exits badly.
 *   kafka_conf() is a configuration with bootstrap.servers and the given
 *   settings; kafka_ready() sends Metadata for a topic until every one of
 *   its partitions has a leader (auto-creating it, and opening the
 *   connection before the clock starts); on_delivery() counts delivery
 *   reports into the struct delivery given as the configuration's opaque.
 *   These three serve cluster.c as well.
 *
 *   bench_klab() produces PRODUCE_PASSES times, each into a fresh topic,
 *   with producer_conf (acks=1), and as many again with the idempotent
 *   producer (idempotent_conf: acks=all, enable.idempotence=true); the
 *   clock runs from the first rd_kafka_produce() to the last delivery
 *   report, and every report must be a success.  Every topic but the
 *   first is deleted (DeleteTopics) after its pass, outside the clock, so
 *   that the page cache does not fill up with the records of passes
 *   already measured.  Then CONSUME_PASSES rounds read the first topic
 *   back with the legacy consumer (rd_kafka_consume_batch, consumer_conf),
 *   every value compared with the one sent: one broker with
 *   klab.fetch.sendfile=true and then one with =false, restarted on the
 *   same log directory.  A broker binary without that key gets one
 *   consume row, its default fetch path.  Lost or garbled records fail
 *   the run (b->failed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench_broker.h"

/* The producer's settings, printed with the table. */
const char *const producer_conf[][2] = {
	{ "acks", "1" },
	{ "linger.ms", "5" },
	{ "batch.size", "1000000" },
	{ "batch.num.messages", "100000" },
	{ "queue.buffering.max.messages", "2500000" },
	{ "queue.buffering.max.kbytes", "2097151" },
	{ "compression.codec", "none" },
	{ "enable.idempotence", "false" },
};
const size_t producer_conf_n = sizeof(producer_conf) / sizeof(producer_conf[0]);

/* The idempotent producer's row: producer_conf with these in place (KIP-98:
 * acks=all, at most 5 requests in flight; librdkafka then sends
 * InitProducerId and sequence numbers). */
const char *const idempotent_conf[][2] = {
	{ "acks", "all" },
	{ "enable.idempotence", "true" },
	{ "max.in.flight.requests.per.connection", "5" },
};
const size_t idempotent_conf_n = sizeof(idempotent_conf) / sizeof(idempotent_conf[0]);

const char *const consumer_conf[][2] = {
	{ "fetch.message.max.bytes", "4194304" }, { "fetch.max.bytes", "52428800" },
	{ "queued.min.messages", "1000000" },	  { "queued.max.messages.kbytes", "1048576" },
	{ "fetch.wait.max.ms", "100" },		  { "enable.auto.commit", "false" },
	{ "enable.auto.offset.store", "false" },
};
const size_t consumer_conf_n = sizeof(consumer_conf) / sizeof(consumer_conf[0]);

/* Does the file at path contain needle (the broker reads that key)? */
bool
binary_mentions(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size = 0;
	bool found;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)size)) == NULL ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size)
		die("reading the broker binary", path);
	found = memmem(buf, (size_t)size, needle, strlen(needle)) != NULL;
	fclose(f);
	free(buf);
	return found;
}

/* `klab broker` on a free port over dir/klab; sendfile < 0: key left out. */
bool
broker_start(struct bench *b, struct broker *k, int sendfile)
{
	char props[160];
	char *argv[] = { (char *)b->klab, "broker", "-c", props, NULL };
	FILE *f;

	k->port = free_port();
	snprintf(k->bootstrap, sizeof(k->bootstrap), "127.0.0.1:%d", k->port);
	snprintf(props, sizeof(props), "%s/server.properties", b->dir);
	snprintf(k->log, sizeof(k->log), "%s/broker.log", b->dir);
	if ((f = fopen(props, "w")) == NULL)
		die("fopen", props);
	fprintf(f,
		"broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s/klab\n"
		"num.partitions=1\nauto.create.topics.enable=true\n",
		k->port, b->dir);
	if (sendfile >= 0)
		fprintf(f, "klab.fetch.sendfile=%s\n", sendfile ? "true" : "false");
	fclose(f);
	k->pid = spawn(argv, k->log);
	if (!wait_port(k->pid, k->port)) {
		printf("klab broker did not start (%s):\n", k->log);
		print_tail(k->log);
		stop(k->pid);
		return false;
	}
	return true;
}

void
broker_stop(struct bench *b, struct broker *k)
{
	int rc = stop(k->pid);

	if (rc != 0) {
		printf("klab broker: exit status %d on SIGTERM:\n", rc);
		print_tail(k->log);
		b->failed = true;
	}
}

rd_kafka_conf_t *
kafka_conf(const char *bootstrap, const char *const (*kv)[2], size_t n)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char err[256];

	if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK)
		die("rd_kafka_conf_set", err);
	for (size_t i = 0; i < n; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK)
			die("rd_kafka_conf_set", err);
	return c;
}

/* Metadata for topic until its partitions have leaders: creates it, opens the connection. */
bool
kafka_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int partitions)
{
	for (int i = 0; i < 100; i++) {
		const struct rd_kafka_metadata *md;
		bool ok;

		if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		ok = md->topic_cnt == 1 && md->topics[0].err == 0 &&
		     md->topics[0].partition_cnt == partitions;
		for (int p = 0; ok && p < partitions; p++)
			ok = md->topics[0].partitions[p].leader >= 0;
		rd_kafka_metadata_destroy(md);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

/*
 * Delete topic through rk (DeleteTopics) and wait for the answer: a pass's
 * records, once measured, should not keep the page cache full for the
 * passes after it (on a machine whose memory cgroup holds the page cache,
 * a fuller cache makes every later pwrite pay for reclaim).  False when
 * the broker refused or did not answer in 30 s.
 */
bool
kafka_delete_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_DeleteTopic_t *del = rd_kafka_DeleteTopic_new(topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	bool ok = false;

	rd_kafka_DeleteTopics(rk, &del, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev != NULL && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const rd_kafka_DeleteTopics_result_t *res = rd_kafka_event_DeleteTopics_result(ev);
		size_t n = 0;
		const rd_kafka_topic_result_t **tr =
			res != NULL ? rd_kafka_DeleteTopics_result_topics(res, &n) : NULL;

		ok = n == 1 && rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_NO_ERROR;
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_DeleteTopic_destroy(del);
	return ok;
}

void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *d = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		d->ok++;
	} else {
		if (d->failed++ == 0)
			d->first_err = m->err;
	}
}

/*
 * One pass: v->n records into a fresh topic; the fastest pass is kept in r.
 * idempotent: with idempotent_conf on top of producer_conf.
 */
static void
kafka_produce(struct bench *b, struct row *r, const struct broker *k, const char *topic,
	      const struct values *v, bool idempotent, bool keep)
{
	rd_kafka_conf_t *c = kafka_conf(k->bootstrap, producer_conf, producer_conf_n);
	struct delivery d = { 0 };
	rd_kafka_topic_t *rkt;
	struct meter m;
	rd_kafka_t *rk;
	char err[256];

	for (size_t i = 0; idempotent && i < idempotent_conf_n; i++)
		if (rd_kafka_conf_set(c, idempotent_conf[i][0], idempotent_conf[i][1], err,
				      sizeof(err)) != RD_KAFKA_CONF_OK)
			die("rd_kafka_conf_set", err);

	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, &d);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err))) == NULL)
		die("rd_kafka_new", err);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!kafka_ready(rk, rkt, 1)) {
		snprintf(r->skip, sizeof(r->skip), "no metadata for %s", topic);
		b->failed = true;
		goto out;
	}
	meter_start(&m, k->pid);
	for (long i = 0; i < v->n; i++) {
		while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value_at(v, i),
					(size_t)v->size, NULL, 0, NULL) != 0) {
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				die("rd_kafka_produce", rd_kafka_err2str(rd_kafka_last_error()));
			rd_kafka_poll(rk, 1);
		}
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 120000);
	meter_stop(&m);
	if (d.ok != v->n || d.failed != 0) {
		snprintf(r->skip, sizeof(r->skip), "%ld delivered, %ld failed (%s)", d.ok, d.failed,
			 rd_kafka_err2str(d.first_err));
		b->failed = true;
	} else {
		row_keep(r, &m);
	}
	if (!keep && !kafka_delete_topic(rk, topic)) {
		snprintf(r->skip, sizeof(r->skip), "DeleteTopics %s failed", topic);
		b->failed = true;
	}
out:
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

/* Checks one consumed record; counts it.  Returns false on a mismatch. */
static bool
check_record(const struct values *v, const rd_kafka_message_t *m, long *next)
{
	bool ok = m->offset == *next && m->len == (size_t)v->size &&
		  memcmp(m->payload, value_at(v, m->offset), m->len) == 0;

	(*next)++;
	return ok;
}

/*
 * One pass: all v->n records of partition 0 from the beginning, each
 * compared with the one sent; the fastest pass is kept in r.
 */
static void
kafka_consume(struct bench *b, struct row *r, const struct broker *k, const char *topic,
	      const struct values *v)
{
	rd_kafka_conf_t *c = kafka_conf(k->bootstrap, consumer_conf, consumer_conf_n);
	rd_kafka_message_t **ms = malloc(10000 * sizeof(*ms));
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	struct meter m;
	char err[256];
	long next = 0, bad = 0;
	double deadline;

	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err))) == NULL || ms == NULL)
		die("rd_kafka_new", err);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!kafka_ready(rk, rkt, 1)) {
		snprintf(r->skip, sizeof(r->skip), "no metadata for %s", topic);
		b->failed = true;
		goto out;
	}
	meter_start(&m, k->pid);
	deadline = now_s() + 120;
	if (rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING) != 0)
		die("rd_kafka_consume_start", rd_kafka_err2str(rd_kafka_last_error()));
	while (next < v->n && now_s() < deadline) {
		ssize_t got = rd_kafka_consume_batch(rkt, 0, 1000, ms, 10000);

		for (ssize_t i = 0; i < got; i++) {
			if (ms[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR)
				bad += !check_record(v, ms[i], &next);
			else if (ms[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				bad++;
			rd_kafka_message_destroy(ms[i]);
		}
	}
	meter_stop(&m);
	rd_kafka_consume_stop(rkt, 0);
	if (next != v->n || bad != 0) {
		snprintf(r->skip, sizeof(r->skip), "%ld of %ld records, %ld wrong", next, v->n,
			 bad);
		b->failed = true;
	} else {
		row_keep(r, &m);
	}
out:
	free(ms);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
}

/*
 * PRODUCE_PASSES passes into topics bench-SIZE-0, -1, ...; then
 * CONSUME_PASSES rounds of reading bench-SIZE-0 back, each round a broker
 * with klab.fetch.sendfile=true and then one with =false (restarted on
 * the same log directory), so that both meet the machine in the same mood.
 */
void
bench_klab(struct bench *b, struct table *t, const struct values *v)
{
	struct row *prod = add_row(t, "klab", "produce acks=1", v);
	struct row *idem = add_row(t, "klab", "idempotent acks=all", v);
	struct row *on = add_row(t, "klab", b->sendfile_key ? "consume, sendfile" : "consume", v);
	struct row *off = add_row(t, "klab", "consume, read+write", v);
	struct broker k;
	char topic[32];

	if (!b->sendfile_key)
		snprintf(off->skip, sizeof(off->skip), "sendfile toggle not available");
	if (!broker_start(b, &k, b->sendfile_key ? 1 : -1)) {
		snprintf(prod->skip, sizeof(prod->skip), "the broker did not start");
		snprintf(on->skip, sizeof(on->skip), "the broker did not start");
		b->failed = true;
		return;
	}
	for (int pass = 0; pass < PRODUCE_PASSES && ok_so_far(prod); pass++) {
		snprintf(topic, sizeof(topic), "bench-%d-%d", v->size, pass);
		kafka_produce(b, prod, &k, topic, v, false, pass == 0); /* 0 is read back */
	}
	for (int pass = 0; pass < PRODUCE_PASSES && ok_so_far(prod) && ok_so_far(idem); pass++) {
		snprintf(topic, sizeof(topic), "bench-%d-idem-%d", v->size, pass);
		kafka_produce(b, idem, &k, topic, v, true, false);
	}
	snprintf(topic, sizeof(topic), "bench-%d-0", v->size);
	for (int pass = 0; pass < CONSUME_PASSES && ok_so_far(prod) && ok_so_far(on); pass++) {
		if (pass > 0 && !broker_start(b, &k, b->sendfile_key ? 1 : -1)) {
			snprintf(on->skip, sizeof(on->skip), "the broker did not restart");
			b->failed = true;
			break;
		}
		kafka_consume(b, on, &k, topic, v);
		broker_stop(b, &k);
		if (!b->sendfile_key)
			continue;
		if (!broker_start(b, &k, 0)) {
			snprintf(off->skip, sizeof(off->skip), "the broker did not start");
			b->failed = true;
			break;
		}
		kafka_consume(b, off, &k, topic, v);
		broker_stop(b, &k);
	}
	if (!ok_so_far(prod))
		broker_stop(b, &k);
}
