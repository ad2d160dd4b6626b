/*
 * klab.c - the `klab` multi-call binary.
 *
 *   klab repl [-c FILE] [-f SCRIPT] [-e]   the shell of this stage
 *   klab dump-log [--print-data-log] FILE  print a segment like kafka-dump-log
 *   klab version
 *
 * Stage 3 adds `klab broker` and the clients `klab topics`, `klab produce`
 * and `klab consume` (src/main/topics_main.c and the like, linked from stage 3 on).
 *
 * Which REPL commands exist depends on the stage this binary was linked
 * as (build/chN/klab): the generated build/gen/chN/stage.c names them.
 */
#include <stdio.h>
#include <string.h>

#include "main/dump_log.h"
#include "repl/repl.h"

/* Stage 3 and later link src/main/broker_main.c; earlier stages do not. */
extern int broker_main(int argc, char **argv) __attribute__((weak));
extern int topics_main(int argc, char **argv) __attribute__((weak));
extern int produce_main(int argc, char **argv) __attribute__((weak));
extern int consume_main(int argc, char **argv) __attribute__((weak));

extern const int klab_stage;
extern const char *const klab_stage_name;
extern const struct repl_table *const klab_stage_tables[];

static int
usage(FILE *f)
{
	fprintf(f,
		"klab (stage %d: %s)\n"
		"usage: klab COMMAND [ARGS]\n"
		"  repl [-c CONFIG] [-f SCRIPT] [-e]   interactive shell (or run a script)\n"
		"  dump-log [--print-data-log] FILE... print segment, index or timeindex files\n"
		"  version                             print the stage\n",
		klab_stage, klab_stage_name);
	if (broker_main != NULL)
		fprintf(f, "  broker -c server.properties         run a Kafka broker\n");
	if (topics_main != NULL)
		fprintf(f, "  topics --bootstrap-server H:P ...   create, list, describe, delete "
			   "topics\n"
			   "  produce --bootstrap-server H:P --topic T   stdin lines to records\n"
			   "  consume --bootstrap-server H:P --topic T   records to stdout\n");
	return f == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "repl") == 0)
		return repl_main(argc - 1, argv + 1, klab_stage_tables);
	if (strcmp(argv[1], "dump-log") == 0)
		return dump_log_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "broker") == 0 && broker_main != NULL)
		return broker_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "topics") == 0 && topics_main != NULL)
		return topics_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "produce") == 0 && produce_main != NULL)
		return produce_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "consume") == 0 && consume_main != NULL)
		return consume_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		printf("klab stage %d: %s\n", klab_stage, klab_stage_name);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	fprintf(stderr, "klab: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
