/*
 * broker_main.c - `klab broker -c server.properties`: one broker on the real
 * runtime (chapter 3 §3).
 *
 * Reads Kafka's keys: broker.id, listeners=PLAINTEXT://host:port,
 * advertised.listeners, log.dirs (one directory), num.partitions,
 * auto.create.topics.enable, message.max.bytes, socket.request.max.bytes,
 * connections.max.idle.ms, max.connections, max.connections.per.ip and the
 * log.* keys of chapters 1-2; cluster.brokers, the static cluster of chapter 3 (ID@HOST:PORT,...,
 * this broker included; brokers configured alike derive the same
 * cluster.id from it); and keys of klab's own: klab.fetch.sendfile (true; false copies
 * Fetch records through user space, for the zero-copy benchmark),
 * klab.request.read.timeout.ms and klab.queued.max.response.bytes (the
 * runtime's bounds on slow requests and on queued responses: real.c, rules 4 and 7);
 * queued.max.request.bytes (-1: no bound) caps requests being read, as Kafka's does.  log.dirs/meta.properties records broker.id and cluster.id, as
 * Kafka's does; a mismatch on start is an error.  SIGINT/SIGTERM stop the
 * broker cleanly (the topic store is closed: clean-shutdown markers).
 *
 * The disk, as Kafka treats it: log.dirs/.lock is held while the broker
 * runs, so a second broker on the same directory exits at once naming it;
 * a symbolic link or a special file where a segment file should be stops
 * the start (nothing is read or written through it); a write, flush or
 * checkpoint that fails takes the directory offline (KAFKA_STORAGE_ERROR
 * for its partitions, logged once), and then the stop is not clean: exit
 * status 1, no clean-shutdown marker, and the next start recovers (a full
 * disk does not stop it).  Each partition keeps its active segment's three
 * files open, and at most 64 older segment files stay open in all: a
 * directory with more partitions than the open-file limit allows does not
 * start, and says to raise ulimit -n (Kafka, which keeps every segment
 * open, stops with "Too many open files" too).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "core/config.h"
#include "log/log.h"
#include "net/disk_real.h"
#include "net/real.h"

int broker_main(int argc, char **argv);

static const struct config_key broker_keys[] = {
	{ "broker.id", CONFIG_INT, "0", 0, INT32_MAX, NULL, "this broker's id" },
	{ "listeners", CONFIG_STRING, "PLAINTEXT://:9092", 0, -1, NULL, "where to listen" },
	{ "advertised.listeners", CONFIG_STRING, NULL, 0, -1, NULL, "what Metadata says" },
	{ "auto.create.topics.enable", CONFIG_BOOL, "true", 0, -1, NULL,
	  "create topics on Metadata" },
	{ "socket.request.max.bytes", CONFIG_INT, "104857600", 1, INT32_MAX, NULL,
	  "largest request frame" },
	{ "connections.max.idle.ms", CONFIG_LONG, "600000", 0, INT64_MAX, NULL,
	  "close idle connections after" },
	{ "max.connections", CONFIG_INT, "2147483647", 1, INT32_MAX, NULL, "connection limit" },
	{ "max.connections.per.ip", CONFIG_INT, "2147483647", 1, INT32_MAX, NULL,
	  "connection limit per client address" },
	{ "klab.request.read.timeout.ms", CONFIG_LONG, "30000", 0, INT64_MAX, NULL,
	  "close a connection whose request is not whole this long after its first byte" },
	{ "klab.queued.max.response.bytes", CONFIG_LONG, "268435456", 1, INT64_MAX, NULL,
	  "queued responses of all connections together: over it, connections with "
	  "responses queued are not read" },
	{ "queued.max.request.bytes", CONFIG_LONG, "-1", -1, INT64_MAX, NULL,
	  "requests being read by all connections together: over it, connections wait "
	  "before reading more (-1: no bound)" },
	{ "num.partitions", CONFIG_INT, "1", 1, 10000, NULL, "default partitions" },
	{ "cluster.brokers", CONFIG_STRING, NULL, 0, -1, NULL,
	  "the static cluster: ID@HOST:PORT,... (this broker included)" },
	{ "klab.fetch.sendfile", CONFIG_BOOL, "true", 0, -1, NULL,
	  "send Fetch records with sendfile (false: copy them, to compare)" },
};
#define NKEYS (sizeof(broker_keys) / sizeof(broker_keys[0]))

static const struct config_key *
key(const char *name)
{
	return config_key_find(broker_keys, NKEYS, name);
}

/* "PLAINTEXT://host:port[,...]": the first PLAINTEXT listener. */
static int
parse_listener(const char *text, const char *which, char *host, size_t hn, int *port)
{
	const char *p = strstr(text, "PLAINTEXT://");
	const char *colon, *end;
	char *stop;
	long v;

	if (p == NULL) {
		fprintf(stderr, "klab broker: %s=%s: only PLAINTEXT://host:port is supported\n",
			which, text);
		return -1;
	}
	p += strlen("PLAINTEXT://");
	end = strchr(p, ',');
	if (end == NULL)
		end = p + strlen(p);
	colon = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ':')
			colon = q;
	if (colon == NULL || (size_t)(colon - p) >= hn) {
		fprintf(stderr, "klab broker: %s=%s: expected PLAINTEXT://host:port\n", which,
			text);
		return -1;
	}
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	errno = 0;
	v = strtol(colon + 1, &stop, 10);
	if (errno != 0 || stop != end || v < 0 || v > 65535) {
		fprintf(stderr, "klab broker: %s=%s: bad port\n", which, text);
		return -1;
	}
	*port = (int)v;
	return 0;
}

/* 22 characters of URL-safe base64 of raw, like Kafka's Uuid.toString(). */
static void
uuid_text(const unsigned char raw[16], char *out, size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < 22 && i + 1 < n; i++) {
		size_t bit = i * 6, byte = bit / 8, off = bit % 8;
		unsigned v = (unsigned)raw[byte] << 8 | (byte + 1 < 16 ? raw[byte + 1] : 0);

		out[i] = b64[(v >> (10 - off)) & 63];
		out[i + 1] = '\0';
	}
}

static void
random_cluster_id(char *out, size_t n)
{
	unsigned char raw[16];
	ssize_t k = getrandom(raw, sizeof(raw), 0);
	size_t got = k > 0 ? (size_t)k : 0;

	for (size_t i = got; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(rand() ^ (int)time(NULL));
	uuid_text(raw, out, n);
}

/*
 * A static cluster's id, the same on every broker: derived from its member
 * list (FNV-1a over "id@host:port,..." twice), so that brokers configured
 * alike agree without talking.  (Kafka's brokers read it from ZooKeeper or
 * the KRaft quorum: chapter 4.)
 */
static void
derived_cluster_id(const struct broker_member *m, int nm, char *out, size_t n)
{
	unsigned char raw[16];
	uint64_t h[2] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
	char text[BROKER_HOST_MAX + 32];

	for (int i = 0; i < nm; i++) {
		int len = snprintf(text, sizeof(text), "%d@%s:%d,", (int)m[i].id, m[i].host,
				   m[i].port);

		for (int k = 0; k < 2; k++)
			for (int j = 0; j < len && j < (int)sizeof(text); j++)
				h[k] = (h[k] ^ (unsigned char)text[j]) * 0x100000001b3ull;
	}
	for (int i = 0; i < 16; i++)
		raw[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
	uuid_text(raw, out, n);
}

/* Read or write dir/meta.properties; -1 (with a message) on a mismatch. */
static int
meta_properties(const char *dir, int32_t broker_id, const char *want_cluster, char *cluster,
		size_t cn)
{
	char path[4200];
	struct config m;
	struct kerr e = { 0 };
	char text[512];

	snprintf(path, sizeof(path), "%s/meta.properties", dir);
	config_init(&m);
	if (fs_exists(disk_real(), path)) {
		const struct config_entry *id, *cid;

		if (config_load_file(&m, disk_real(), path, &e) != KLAB_OK) {
			fprintf(stderr, "klab broker: %s\n", kerr_msg(&e));
			config_free(&m);
			return -1;
		}
		id = config_find(&m, "broker.id");
		cid = config_find(&m, "cluster.id");
		if (id != NULL && strtol(id->value, NULL, 10) != broker_id) {
			fprintf(stderr,
				"klab broker: %s says broker.id=%s but the configuration says "
				"broker.id=%d: this log directory belongs to another broker\n",
				path, id->value, broker_id);
			config_free(&m);
			return -1;
		}
		if (cid != NULL && want_cluster != NULL && strcmp(cid->value, want_cluster) != 0) {
			fprintf(stderr,
				"klab broker: %s says cluster.id=%s but the configuration says "
				"cluster.id=%s: this log directory belongs to another cluster\n",
				path, cid->value, want_cluster);
			config_free(&m);
			return -1;
		}
		if (cid != NULL) {
			snprintf(cluster, cn, "%s", cid->value);
			config_free(&m);
			return 0;
		}
	}
	config_free(&m);
	if (want_cluster != NULL)
		snprintf(cluster, cn, "%s", want_cluster);
	else
		random_cluster_id(cluster, cn);
	snprintf(text, sizeof(text),
		 "#\n#Written by klab broker\ncluster.id=%s\nversion=0\nbroker.id=%d\n", cluster,
		 broker_id);
	if (fs_write_file_atomic(disk_real(), path, text, strlen(text), &e) != KLAB_OK) {
		fprintf(stderr, "klab broker: cannot write %s: %s\n", path, kerr_msg(&e));
		return -1;
	}
	return 0;
}

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void
stop_runtime(void *arg)
{
	real_stop(arg);
}

static bool
is_listed(const struct broker_config *bc)
{
	for (int i = 0; i < bc->nmembers; i++)
		if (bc->members[i].id == bc->broker_id)
			return true;
	return false;
}

static int
usage(void)
{
	fprintf(stderr, "usage: klab broker -c server.properties\n");
	return 2;
}

/* Print e (a config error) and return -1. */
static int
bad(const struct kerr *e)
{
	fprintf(stderr, "klab broker: %s\n", kerr_msg(e));
	return -1;
}

/* broker.id, listeners, advertised.listeners and the two switches. */
static int
settings_broker(const struct config *cfg, struct broker_config *bc)
{
	struct kerr e = { 0 };
	const char *s;
	int64_t v;
	bool on;

	if (config_long(cfg, key("broker.id"), &v, &e) != KLAB_OK)
		return bad(&e);
	bc->broker_id = (int32_t)v;
	if (config_string(cfg, key("listeners"), &s, &e) != KLAB_OK)
		return bad(&e);
	if (parse_listener(s, "listeners", bc->listen_host, sizeof(bc->listen_host),
			   &bc->listen_port) != 0)
		return -1;
	if (config_has(cfg, "advertised.listeners")) {
		if (config_string(cfg, key("advertised.listeners"), &s, &e) != KLAB_OK)
			return bad(&e);
		if (parse_listener(s, "advertised.listeners", bc->advertised_host,
				   sizeof(bc->advertised_host), &bc->advertised_port) != 0)
			return -1;
	} else if (bc->listen_host[0] == '\0' || strcmp(bc->listen_host, "0.0.0.0") == 0) {
		snprintf(bc->advertised_host, sizeof(bc->advertised_host), "localhost");
	}
	if (config_bool(cfg, key("auto.create.topics.enable"), &on, &e) != KLAB_OK)
		return bad(&e);
	bc->auto_create_topics = on;
	if (config_bool(cfg, key("klab.fetch.sendfile"), &on, &e) != KLAB_OK)
		return bad(&e);
	bc->fetch_copy = !on;
	return 0;
}

/* cluster.brokers, log.dirs, and meta.properties with the cluster id. */
static int
settings_cluster(const struct config *cfg, struct broker_config *bc)
{
	char want[BROKER_CLUSTER_ID_MAX] = "";
	struct kerr e = { 0 };
	const char *s;

	if (config_has(cfg, "cluster.brokers") &&
	    (config_string(cfg, key("cluster.brokers"), &s, &e) != KLAB_OK ||
	     cluster_parse(s, bc->members, &bc->nmembers, &e) != KLAB_OK))
		return bad(&e);
	if (bc->nmembers > 0 && !is_listed(bc)) {
		fprintf(stderr, "klab broker: cluster.brokers does not list broker.id=%d\n",
			(int)bc->broker_id);
		return -1;
	}
	s = config_has(cfg, "log.dirs")	 ? config_find(cfg, "log.dirs")->value
	    : config_has(cfg, "log.dir") ? config_find(cfg, "log.dir")->value
					 : "/tmp/kafka-logs";
	if (strchr(s, ',') != NULL) {
		fprintf(stderr, "klab broker: log.dirs=%s: klab supports one log directory\n", s);
		return -1;
	}
	snprintf(bc->log_dir, sizeof(bc->log_dir), "%s", s);
	if (fs_mkdirs(disk_real(), bc->log_dir, &e) != KLAB_OK) {
		fprintf(stderr, "klab broker: %s\n", kerr_msg(&e));
		return -1;
	}
	if (config_has(cfg, "cluster.id"))
		snprintf(want, sizeof(want), "%s", config_find(cfg, "cluster.id")->value);
	else if (bc->nmembers > 0)
		derived_cluster_id(bc->members, bc->nmembers, want, sizeof(want));
	return meta_properties(bc->log_dir, bc->broker_id, want[0] ? want : NULL, bc->cluster_id,
			       sizeof(bc->cluster_id));
}

/* queued.max.request.bytes: -1 (no bound) or at least 1; 0 and other negatives are refused. */
static int
queued_request_bytes(const struct config *cfg, int64_t *out)
{
	const struct config_entry *en = config_find(cfg, "queued.max.request.bytes");
	struct kerr e = { 0 };

	if (config_long(cfg, key("queued.max.request.bytes"), out, &e) != KLAB_OK)
		return bad(&e);
	if (*out != 0)
		return 0;
	if (en != NULL && en->line > 0)
		kerr_set(&e, KLAB_ECONFIG,
			 "%s:%d: queued.max.request.bytes=%s: must be -1 or at least 1",
			 cfg->source, en->line, en->value);
	else
		kerr_set(&e, KLAB_ECONFIG, "queued.max.request.bytes=%s: must be -1 or at least 1",
			 en != NULL ? en->value : "0");
	return bad(&e);
}

/* socket.request.max.bytes, connections.max.idle.ms, the connection limits and queues. */
static int
settings_runtime(const struct config *cfg, struct real_config *rc)
{
	struct kerr e = { 0 };
	int64_t v;

	real_config_defaults(rc);
	if (config_long(cfg, key("socket.request.max.bytes"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->max_frame_bytes = (int32_t)v;
	if (config_long(cfg, key("connections.max.idle.ms"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->idle_timeout_ms = v;
	if (config_long(cfg, key("max.connections"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->max_connections = (int)v;
	if (config_long(cfg, key("max.connections.per.ip"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->max_connections_per_ip = (int)v;
	if (config_long(cfg, key("klab.request.read.timeout.ms"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->request_timeout_ms = v;
	if (config_long(cfg, key("klab.queued.max.response.bytes"), &v, &e) != KLAB_OK)
		return bad(&e);
	rc->queued_output_max = (size_t)v;
	if (queued_request_bytes(cfg, &rc->queued_request_max) != 0)
		return -1;
	rc->handle_signals = true;
	rc->log = log_line;
	return 0;
}

/* Run the broker until SIGINT/SIGTERM; the exit status. */
static int
run(const struct broker_config *bc, const struct real_config *rc)
{
	struct broker b;
	struct real *r;
	int ret = 1;

	broker_init(&b, bc);
	if ((r = real_new(rc)) == NULL) {
		fprintf(stderr, "klab broker: cannot create the runtime\n");
		broker_free(&b);
		return 1;
	}
	b.cfg.on_fail = stop_runtime;
	b.cfg.on_fail_arg = r;
	if (real_add_node(r, "broker", &broker_node_ops, &b, bc->log_dir) < 0) {
		fprintf(stderr, "klab broker: cannot add the node\n");
	} else {
		fprintf(stderr, "klab broker: starting broker.id=%d cluster.id=%s log.dirs=%s\n",
			bc->broker_id, bc->cluster_id, bc->log_dir);
		ret = real_run(r) == KLAB_OK && !b.failed ? 0 : 1;
		if (b.failed)
			fprintf(stderr, "klab broker: %s\n", kerr_msg(&b.error));
		fprintf(stderr, "klab broker: stopped%s\n", b.failed ? "" : " (clean shutdown)");
	}
	broker_free(&b);
	real_free(r);
	return ret;
}

int
broker_main(int argc, char **argv)
{
	const char *path = NULL;
	struct config cfg;
	struct kerr e = { 0 };
	struct broker_config bc;
	struct real_config rc;
	struct log_config lc;
	int ret = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i]; /* kafka-server-start.sh style */
		else
			return usage();
	}
	if (path == NULL)
		return usage();
	config_init(&cfg);
	memset(&bc, 0, sizeof(bc));
	if (config_load_file(&cfg, disk_real(), path, &e) != KLAB_OK ||
	    config_validate(&cfg, broker_keys, NKEYS, &e) != KLAB_OK) {
		bad(&e);
		goto out;
	}
	/* a real broker runs log maintenance at Kafka's default interval */
	if (!config_has(&cfg, "log.retention.check.interval.ms") &&
	    config_set(&cfg, "log.retention.check.interval.ms", "300000") != KLAB_OK)
		goto out;
	/* the log settings, checked now rather than when the store opens */
	if (log_config_load(&lc, &cfg, &e) != KLAB_OK) {
		bad(&e);
		goto out;
	}
	if (settings_broker(&cfg, &bc) != 0 || settings_cluster(&cfg, &bc) != 0 ||
	    settings_runtime(&cfg, &rc) != 0)
		goto out;
	bc.props = &cfg;
	bc.log = log_line;
	ret = run(&bc, &rc);
out:
	config_free(&cfg);
	return ret;
}
