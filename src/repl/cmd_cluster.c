/*
 * cmd_cluster.c - the stage-3 shell: a cluster of brokers and its clients
 * (chapter 3).
 *
 * The shell starts a simulated cluster (src/net/sim.c) of three brokers,
 * broker-1..3 on port 9092, each with its own log directory, and three
 * client nodes: an admin client, a producer and a consumer, whose only
 * bootstrap server is broker-1:9092.  Everything runs in one thread, in
 * virtual time, from one seed, so a script prints the same thing every
 * time.  `connect HOST:PORT,...` swaps the simulation for the real
 * runtime: the same clients then talk to real brokers (klab broker,
 * Kafka) and the same commands work, except those that need the
 * simulation (kill, net, run, step).
 *
 *   cluster start [N] [SEED]    a fresh simulated cluster of N brokers
 *   cluster                     brokers, their state, what each holds
 *   broker kill|restart ID      crash a broker (losing what it did not
 *                               flush) / start it again on its directory
 *   net partition 1,2 / 3       cut the network; net heal
 *   run MS | step [N]           let time pass / deliver events one by one
 *   trace on|off                print every frame, decoded
 *   bootstrap HOST:PORT,...     restart the clients with other bootstrap servers
 *   topic create|delete|list|describe
 *   produce | consume           through the producer and consumer clients
 *   metadata [ID]               who leads what, as one broker (or any) sees it
 *   dot [FILE]                  brokers, partitions, leaders, connections
 *   connect HOST:PORT,...       use a real cluster instead
 *
 * Commands that wait (topic, produce, consume, metadata) run the
 * simulation until their answer arrives or a virtual timeout passes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/cluster_shell.h"

#include "net/disk_real.h"

/* ---- cluster, broker, net, run, step, trace ------------------------------------- */

static int
cmd_cluster(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n = 3, seed = 1;

	if (argc >= 2 && strcmp(argv[1], "start") == 0) {
		if (argc > 4 ||
		    (argc >= 3 && !repl_arg_i64(r, argv[2], "brokers", 1, CL_MAX_BROKERS, &n)) ||
		    (argc == 4 && !repl_arg_i64(r, argv[3], "seed", 0, INT64_MAX, &seed)))
			return argc > 4 ? repl_usage(r, repl_find(r, "cluster")) : -1;
		return cl_start(c, (int)n, (uint64_t)seed);
	}
	if (argc != 1)
		return repl_usage(r, repl_find(r, "cluster"));
	if (!cl_need_sim(c, "cluster"))
		return -1;
	repl_printf(r, "%-6s %-16s %-5s %-7s %s\n", "broker", "address", "state", "topics",
		    "partitions held");
	for (int i = 0; i < c->nbrokers; i++) {
		struct cl_broker *cb = &c->brokers[i];
		char held[512] = "";
		size_t len = 0;
		size_t ntopics = cb->b.store != NULL ? cb->b.store->n : 0;

		for (size_t t = 0; t < ntopics; t++) {
			const struct topic *tp = cb->b.store->topics[t];

			for (int32_t p = 0; p < tp->partitions && len + 40 < sizeof(held); p++)
				if (tp->logs[p] != NULL)
					len += (size_t)snprintf(held + len, sizeof(held) - len,
								"%s%s-%d", len ? " " : "", tp->name,
								(int)p);
		}
		repl_printf(r, "%-6d broker-%d:%-7d %-5s %-7zu %s\n", i + 1, i + 1, CL_PORT,
			    cb->up ? "up" : "down", ntopics, len ? held : "-");
	}
	return 0;
}

static int
cmd_broker(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int i;

	(void)argc;
	if (!cl_need_sim(c, "broker") || (i = cl_broker_index(c, argv[2])) < 0)
		return -1;
	if (strcmp(argv[1], "kill") == 0) {
		if (!c->brokers[i].up)
			return repl_error(r, "broker %d is already down", i + 1);
		const struct disk_crash_report *rep;

		sim_crash(&c->sim, c->brokers[i].node);
		c->brokers[i].up = false;
		rep = &c->sim.nodes[c->brokers[i].node].last_crash;
		repl_printf(r,
			    "broker %d: killed; its disk kept what was fsynced, and of the rest "
			    "lost %" PRIu64 " bytes (%d file%s torn, %d file name%s lost)\n",
			    i + 1, rep->bytes_lost, rep->files_torn,
			    rep->files_torn == 1 ? "" : "s", rep->names_undone,
			    rep->names_undone == 1 ? "" : "s");
		return 0;
	}
	if (strcmp(argv[1], "restart") == 0) {
		if (c->brokers[i].up)
			return repl_error(r, "broker %d is up", i + 1);
		sim_restart(&c->sim, c->brokers[i].node);
		sim_run_for(&c->sim, 1);
		c->brokers[i].up = !c->brokers[i].b.failed;
		if (!c->brokers[i].up)
			return repl_error(r, "broker %d failed to start: %s", i + 1,
					  kerr_msg(&c->brokers[i].b.error));
		repl_printf(r, "broker %d: restarted on its log directory (%zu topic%s)\n", i + 1,
			    c->brokers[i].b.store->n, c->brokers[i].b.store->n == 1 ? "" : "s");
		return 0;
	}
	return repl_usage(r, repl_find(r, "broker"));
}

/*
 * Append one group of `net partition` ("1,2" or "clients,3") to spec as
 * node names; named[0] (the clients) and named[id] mark what the groups so
 * far named.  Returns how many it named, or -1 after an error.
 */
static int
net_group(struct cluster_shell *c, char *g, bool *named, char *spec, size_t cap, size_t *len)
{
	int count = 0;

	for (char *m = g; *m != '\0';) {
		char name[32];
		size_t n = strcspn(m, ", ");
		int64_t id = 0;

		if (n == 0) {
			m++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, m);
		m += n;
		if (strcmp(name, "clients") != 0 &&
		    !repl_arg_i64(c->r, name, "broker id", 1, c->nbrokers, &id))
			return -1;
		if (named[id])
			return repl_error(c->r, "net partition: %s%s %s in two groups",
					  id ? "broker " : "the clients", id ? name : "",
					  id ? "is" : "are");
		named[id] = true;
		if (id == 0)
			*len += (size_t)snprintf(spec + *len, cap - *len,
						 "%sadmin,producer,consumer", count ? "," : "");
		else
			*len += (size_t)snprintf(spec + *len, cap - *len, "%sbroker-%d",
						 count ? "," : "", (int)id);
		count++;
	}
	return count;
}

/*
 * net lose-reply ID: the next frame broker ID sends the producer is lost
 * and that connection drops (sim_lose_next) - an answer the producer never
 * gets for a batch the broker did append.
 */
static int
net_lose_reply(struct cluster_shell *c, const char *arg)
{
	char *end;
	long id = strtol(arg, &end, 10);
	char name[32];
	int from, to;

	if (*arg == '\0' || *end != '\0' || id < 1 || id > c->nbrokers)
		return repl_error(c->r, "net lose-reply: no broker %s (1..%d)", arg, c->nbrokers);
	snprintf(name, sizeof(name), "broker-%ld", id);
	from = sim_find_node(&c->sim, name);
	to = sim_find_node(&c->sim, "producer");
	if (from < 0 || to < 0)
		return repl_error(c->r, "net lose-reply: no %s", from < 0 ? name : "producer");
	sim_lose_next(&c->sim, from, to);
	repl_printf(c->r,
		    "the next frame broker %ld sends the producer is lost, and its "
		    "connection drops\n",
		    id);
	return 0;
}

/*
 * "1,2 / 3" -> "broker-1,broker-2,admin,producer,consumer|broker-3": the
 * clients stay with the first group unless a group names "clients".
 */
static int
cmd_net(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	char spec[1024] = "", words[1024] = "";
	bool clients_named = false, named[CL_MAX_BROKERS + 1] = { false };
	size_t len = 0;
	int groups = 0;
	struct kerr e = { 0 };

	if (!cl_need_sim(c, "net"))
		return -1;
	if (argc == 2 && strcmp(argv[1], "heal") == 0) {
		sim_heal(&c->sim);
		repl_printf(r, "network healed\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "lose-reply") == 0)
		return net_lose_reply(c, argv[2]);
	if (argc < 3 || strcmp(argv[1], "partition") != 0)
		return repl_usage(r, repl_find(r, "net"));
	for (int i = 2; i < argc; i++) {
		size_t w = strlen(words);

		snprintf(words + w, sizeof(words) - w, "%s%s", i > 2 ? " " : "", argv[i]);
	}
	clients_named = strstr(words, "clients") != NULL;
	for (char *g = strtok(words, "/"); g != NULL; g = strtok(NULL, "/")) {
		int k;

		if (groups > 0)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len, "|");
		if ((k = net_group(c, g, named, spec, sizeof(spec), &len)) < 0)
			return -1;
		if (k == 0)
			return repl_error(r, "net partition: group %d names no broker", groups + 1);
		if (groups == 0 && !clients_named)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len,
						",admin,producer,consumer");
		groups++;
	}
	if (groups < 2)
		return repl_error(r, "net partition: name at least two groups, as in "
				     "`net partition 1,2 / 3`");
	if (sim_partition_str(&c->sim, spec, &e) != KLAB_OK)
		return repl_error(r, "net partition: %s", kerr_msg(&e));
	repl_printf(r, "network cut: %s\n", spec);
	return 0;
}

/* "250", "250ms", "2s" -> milliseconds. */
static bool
parse_duration(struct repl *r, const char *arg, int64_t *ms)
{
	char num[32];
	size_t n = strspn(arg, "0123456789");
	int64_t v, scale = 1;

	if (n == 0 || n >= sizeof(num) ||
	    (strcmp(arg + n, "") != 0 && strcmp(arg + n, "ms") != 0 && strcmp(arg + n, "s") != 0)) {
		repl_error(r, "duration '%s': expected MS, MSms or Ss", arg);
		return false;
	}
	if (strcmp(arg + n, "s") == 0)
		scale = 1000;
	snprintf(num, sizeof(num), "%.*s", (int)n, arg);
	v = n > 9 ? INT64_MAX : strtoll(num, NULL, 10);
	if (v > 86400000 / scale) {
		repl_error(r, "duration '%s' is too long: at most a day (86400s)", arg);
		return false;
	}
	*ms = v * scale;
	return true;
}

static int
cmd_run(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t ms;

	(void)argc;
	if (!cl_need_sim(c, "run") || !parse_duration(r, argv[1], &ms))
		return -1;
	sim_run_for(&c->sim, ms);
	repl_printf(r, "ran %" PRId64 " ms (now +%" PRId64 " ms)\n", ms,
		    (int64_t)(sim_now(&c->sim) - REPL_EPOCH_MS));
	return 0;
}

static int
cmd_step(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	int64_t n = 1;
	bool was = c->trace;
	int64_t i;

	if (!cl_need_sim(c, "step") ||
	    (argc == 2 && !repl_arg_i64(r, argv[1], "events", 1, 100000, &n)))
		return -1;
	c->trace = true; /* a step shows what it delivered */
	for (i = 0; i < n && sim_step(&c->sim); i++)
		;
	c->trace = was;
	if (i < n)
		repl_printf(r, "nothing more to deliver (%" PRId64 " event%s)\n", i,
			    i == 1 ? "" : "s");
	return 0;
}

static int
cmd_trace(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;

	(void)argc;
	if (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0)
		return repl_usage(r, repl_find(r, "trace"));
	c->trace = strcmp(argv[1], "on") == 0;
	if (c->real != NULL && c->trace)
		repl_printf(r, "(a real cluster's frames are not traced: use the simulation)\n");
	repl_printf(r, "trace %s\n", c->trace ? "on" : "off");
	return 0;
}

/*
 * Is list a bootstrap list the clients accept?  Checked before the running
 * clients are replaced, so that a typo leaves them as they were.
 */
static bool
bootstrap_ok(struct cluster_shell *c, const char *list)
{
	struct kclient_config cfg;
	struct kclient *kc = calloc(1, sizeof(*kc));
	struct kerr e = { 0 };
	int rc;

	if (kc == NULL) {
		repl_error(c->r, "out of memory");
		return false;
	}
	kclient_config_defaults(&cfg);
	if (strlen(list) >= sizeof(cfg.bootstrap)) {
		free(kc);
		repl_error(c->r, "bootstrap: the list is longer than %zu bytes",
			   sizeof(cfg.bootstrap) - 1);
		return false;
	}
	snprintf(cfg.bootstrap, sizeof(cfg.bootstrap), "%s", list);
	rc = kclient_init(kc, &cfg, NULL, &e);
	kclient_free(kc);
	free(kc);
	if (rc != KLAB_OK && c->clients_on)
		repl_error(c->r, "%s; the clients still bootstrap from %s", kerr_msg(&e),
			   c->bootstrap);
	else if (rc != KLAB_OK)
		repl_error(c->r, "%s", kerr_msg(&e));
	return rc == KLAB_OK;
}

static int
cmd_bootstrap(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;

	(void)argc;
	if (!cl_need_sim(c, "bootstrap") || !bootstrap_ok(c, argv[1]))
		return -1;
	snprintf(c->bootstrap, sizeof(c->bootstrap), "%s", argv[1]);
	if (cl_clients_restart(c) != 0)
		return -1;
	repl_printf(r, "clients restarted; they bootstrap from %s\n", c->bootstrap);
	return 0;
}

/* ---- connect: the same clients against a real cluster ------------------------------ */

static void
real_log_line(void *arg, const char *line)
{
	struct cluster_shell *c = arg;

	repl_printf(c->r, "  | %s\n", line);
}

static int
cmd_connect(struct repl *r, void *state, int argc, char **argv)
{
	struct cluster_shell *c = state;
	struct real_config rc;

	(void)argc;
	if (!bootstrap_ok(c, argv[1]))
		return -1;
	cl_clients_free(c);
	cl_sim_free(c);
	cl_real_free(c);
	real_config_defaults(&rc);
	rc.handle_signals = false;
	rc.log = real_log_line;
	rc.log_arg = c;
	if ((c->real = real_new(&rc)) == NULL)
		return repl_error(r, "cannot create the runtime");
	snprintf(c->bootstrap, sizeof(c->bootstrap), "%s", argv[1]);
	if (cl_clients_init(c) != 0) {
		cl_real_free(c);
		return -1;
	}
	if (real_add_node(c->real, "admin", &kclient_node_ops, &c->admin, NULL) < 0 ||
	    real_add_node(c->real, "producer", &kclient_node_ops, &c->prod.kc, NULL) < 0 ||
	    real_add_node(c->real, "consumer", &kclient_node_ops, &c->cons.kc, NULL) < 0) {
		cl_clients_free(c);
		cl_real_free(c);
		return repl_error(r, "cannot add the client nodes");
	}
	real_poll(c->real, 0); /* start the client nodes */
	if (cl_refresh_admin(c) != 0)
		return -1;
	repl_printf(r, "connected to %s: %d broker%s\n", c->bootstrap,
		    c->admin.nslots - c->admin.nbootstrap,
		    c->admin.nslots - c->admin.nbootstrap == 1 ? "" : "s");
	return 0;
}

/* ---- the table ------------------------------------------------------------------- */

static int
cluster_shell_init(struct repl *r, void **state)
{
	struct cluster_shell *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	*state = c;
	c->r = r;
	buf_init(&c->resp_bytes);
	if (repl_first_log_dir(r, c->base, sizeof(c->base))) {
		if (fs_mkdirs(disk_real(), c->base, NULL) != KLAB_OK) {
			fprintf(stderr, "klab: cannot use log directory %s\n", c->base);
			return -1;
		}
	} else {
		snprintf(c->base, sizeof(c->base), "/tmp/klab-cluster-XXXXXX");
		if (mkdtemp(c->base) == NULL) {
			fprintf(stderr, "klab: cannot make a temporary directory\n");
			return -1;
		}
		c->base_is_tmp = true;
	}
	{
		static const struct config_key seed_key = { "klab.seed",
							    CONFIG_LONG,
							    "1",
							    0,
							    INT64_MAX,
							    NULL,
							    "the simulated cluster's seed" };
		int64_t seed;
		struct kerr e = { 0 };

		if (config_long(&r->cfg, &seed_key, &seed, &e) != KLAB_OK) {
			fprintf(stderr, "klab: %s\n", kerr_msg(&e));
			return -1;
		}
		return cl_start(c, 3, (uint64_t)seed) == 0 ? 0 : -1;
	}
}

static void
cluster_shell_fini(struct repl *r, void *state)
{
	struct cluster_shell *c = state;

	(void)r;
	cl_clients_free(c);
	cl_sim_free(c);
	cl_real_free(c);
	pvalue_free(c->resp);
	buf_free(&c->resp_bytes);
	cl_free_recs(c);
	if (c->base_is_tmp)
		fs_remove_tree(disk_real(), c->base, NULL);
	free(c);
}

/*
 * After every command the simulation runs on for a moment (TICK_MS of
 * virtual time), so that what a command set going - a broker telling the
 * others about a topic - shows up before the next prompt.
 */
#define TICK_MS 50

static void
cluster_shell_tick(struct repl *r, void *state)
{
	struct cluster_shell *c = state;

	(void)r;
	if (c->sim_on)
		sim_run_for(&c->sim, TICK_MS);
}

static const struct repl_cmd cluster_cmds[] = {
	{ "cluster", "[start [BROKERS] [SEED]]", "start a simulated cluster, or show its brokers",
	  "  cluster start [N] [SEED]   N brokers (1-5, default 3), broker-1..N:9092, each with\n"
	  "                             its own directory under log.dirs; the clients (admin,\n"
	  "                             producer, consumer) bootstrap from broker-1:9092\n"
	  "  cluster                    each broker: up or down, topics it knows, partitions it\n"
	  "                             holds (as the broker itself sees it)",
	  0, 3, cmd_cluster },
	{ "broker", "kill|restart ID", "crash a broker, or start it again on its directory",
	  "A killed broker loses what it had not flushed (its page cache); its\n"
	  "partitions are unavailable until it restarts: there is no other copy\n"
	  "before chapter 5.",
	  2, 2, cmd_broker },
	{ "net", "partition IDS / IDS ... | heal | lose-reply ID",
	  "cut the network between groups of brokers, or lose one answer",
	  "  net partition 1,2 / 3     brokers 1 and 2 on one side, 3 alone; the clients\n"
	  "                            stay with the first group unless a group names `clients`\n"
	  "  net heal                  everyone can talk again\n"
	  "  net lose-reply 2          the next frame broker 2 sends the producer is lost and\n"
	  "                            the connection drops (a Produce answer never arrives)",
	  1, -1, cmd_net },
	{ "run", "DURATION", "let virtual time pass (250, 250ms, 2s)", NULL, 1, 1, cmd_run },
	{ "step", "[N]", "deliver the next N events, showing each", NULL, 0, 1, cmd_step },
	{ "trace", "on|off", "print every frame on the network, decoded", NULL, 1, 1, cmd_trace },
	{ "bootstrap", "HOST:PORT[,HOST:PORT...]",
	  "restart the clients with these bootstrap servers", NULL, 1, 1, cmd_bootstrap },
	{ "topic", "create|delete|list|describe ...", "manage topics through the admin client",
	  "  topic create NAME [PARTITIONS] [KEY=VALUE ...]\n"
	  "  topic delete NAME\n"
	  "  topic list\n"
	  "  topic describe [NAME]\n"
	  "The admin client sends CreateTopics / DeleteTopics / Metadata to a broker\n"
	  "it knows; that broker places the partitions and tells the others.",
	  1, -1, cl_cmd_topic },
	{ "produce", "[-p PARTITION] TOPIC KEY VALUE [HEADER=VALUE ...]",
	  "send one record through the producer client and wait for its offset (KEY '-' is null)",
	  NULL, 3, -1, cl_cmd_produce },
	{ "produce-many", "TOPIC N [KEYS]",
	  "send N records (KEYS distinct keys) and show where they went, by partition and broker",
	  NULL, 2, 3, cl_cmd_produce_many },
	{ "consume", "TOPIC [-p PARTITION] [--from earliest|latest|OFFSET|@TIMESTAMP] [-n MAX]",
	  "read records through the consumer client (stops after 1 s without records)", NULL, 1, 7,
	  cl_cmd_consume },
	{ "metadata", "[BROKER_ID]", "brokers and partition leaders, as one broker (or any) says",
	  NULL, 0, 1, cl_cmd_metadata },
	{ "dot", "[FILE]", "draw brokers, the partitions they lead, client connections", NULL, 0, 1,
	  cl_cmd_dot },
	{ "connect", "HOST:PORT[,HOST:PORT...]", "use a real cluster (klab broker, Kafka) instead",
	  NULL, 1, 1, cmd_connect },
};

const struct repl_table repl_cluster_table = {
	.name = "cluster",
	.title = "stage 3: brokers",
	.cmds = cluster_cmds,
	.ncmds = (int)(sizeof(cluster_cmds) / sizeof(cluster_cmds[0])),
	.init = cluster_shell_init,
	.fini = cluster_shell_fini,
	.tick = cluster_shell_tick,
};
