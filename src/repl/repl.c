/*
 * repl.c - the klab shell (see repl.h).
 *
 * One loop serves a person at a terminal (readline: history in
 * ~/.klab_history, tab completion of command names) and a script (-f FILE,
 * or commands piped to stdin).  Built-in commands: help, quit, echo, sleep,
 * time, clock, config.  Everything else comes from the stage's tables.
 *
 * The clock is virtual in a script and wherever the settings say
 * klab.clock=virtual (a chapter's klab.properties does, so that typing its
 * walkthrough by hand shows the lesson's timestamps and retention); it is
 * the wall clock at a terminal otherwise.  A virtual clock starts at
 * REPL_EPOCH_MS and moves only with `sleep`.
 */
#include "repl/repl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "net/disk_real.h"

static int builtin_help(struct repl *r, void *state, int argc, char **argv);
static int builtin_quit(struct repl *r, void *state, int argc, char **argv);
static int builtin_echo(struct repl *r, void *state, int argc, char **argv);
static int builtin_sleep(struct repl *r, void *state, int argc, char **argv);
static int builtin_time(struct repl *r, void *state, int argc, char **argv);
static int builtin_clock(struct repl *r, void *state, int argc, char **argv);
static int builtin_config(struct repl *r, void *state, int argc, char **argv);

static const struct repl_cmd builtins[] = {
	{ "help", "[COMMAND]", "list commands, or explain one", NULL, 0, 1, builtin_help },
	{ "quit", "", "leave the shell (also: exit, Ctrl-D)", NULL, 0, 0, builtin_quit },
	{ "exit", "", "leave the shell", NULL, 0, 0, builtin_quit },
	{ "echo", "[TEXT ...]", "print the text (for scripts)", NULL, 0, -1, builtin_echo },
	{ "sleep", "MS", "let MS milliseconds pass on the shell's clock",
	  "On the virtual clock (scripts, and klab.clock=virtual) time starts at\n"
	  "2023-11-14T22:13:20Z and moves only when you sleep, so output repeats\n"
	  "exactly.  On the wall clock sleep moves time forward without waiting.",
	  1, 1, builtin_sleep },
	{ "time", "", "show the shell's clock", NULL, 0, 0, builtin_time },
	{ "clock", "[virtual|wall]", "show which clock the shell uses, or switch",
	  "virtual: time starts at 2023-11-14T22:13:20Z, where a script's starts,\n"
	  "and moves only with `sleep`, so a walkthrough typed by hand shows the\n"
	  "lesson's timestamps.  wall: the computer's clock.  Switch before you\n"
	  "write anything: a log whose clock jumps back keeps its old timestamps.\n"
	  "The setting klab.clock chooses the clock the shell starts with.",
	  0, 1, builtin_clock },
	{ "config", "[KEY [VALUE]]", "show the settings, or set one",
	  "Settings come from `klab repl -c FILE` (Kafka's key names).  `config KEY\n"
	  "VALUE` changes one for what you open next; some stages apply it at once.",
	  0, 2, builtin_config },
};
#define NBUILTINS ((int)(sizeof(builtins) / sizeof(builtins[0])))

int64_t
repl_now_ms(const struct repl *r)
{
	struct timespec ts;

	if (r->virtual_clock)
		return REPL_EPOCH_MS + r->clock_offset_ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + r->clock_offset_ms;
}

void
repl_printf(struct repl *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
}

int
repl_error(struct repl *r, const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", r->out);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
	return -1;
}

int
repl_usage(struct repl *r, const struct repl_cmd *cmd)
{
	return repl_error(r, "usage: %s %s", cmd->name, cmd->usage);
}

bool
repl_arg_i64(struct repl *r, const char *arg, const char *what, int64_t min, int64_t max,
	     int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno == ERANGE || v < min || v > max) {
		repl_error(r, "%s must be an integer from %" PRId64 " to %" PRId64 ", not '%s'",
			   what, min, max, arg);
		return false;
	}
	*out = v;
	return true;
}

void
repl_format_time(int64_t ms, char *out, size_t n)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	int64_t frac = ms % 1000;

	if (ms < 0 || gmtime_r(&secs, &tm) == NULL) {
		snprintf(out, n, "%" PRId64, ms);
		return;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

int
repl_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line, *o;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			return argc;
		if (argc == max)
			return -1;
		argv[argc++] = o = p;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			char q = *p;

			if (q != '"' && q != '\'') {
				*o++ = *p++;
				continue;
			}
			for (p++; *p != '\0' && *p != q; p++) {
				if (q == '"' && *p == '\\' && p[1] != '\0')
					p++;
				*o++ = *p;
			}
			if (*p != q)
				return -1; /* unterminated quote */
			p++;
		}
		if (*p != '\0')
			p++;
		*o = '\0';
	}
}

/* The command called name, and the state of the table it belongs to.  A
 * later stage's command of the same name wins. */
static const struct repl_cmd *
lookup(const struct repl *r, const char *name, void **state)
{
	*state = NULL;
	for (int i = 0; i < NBUILTINS; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	for (int t = r->ntables - 1; t >= 0; t--)
		for (int i = 0; i < r->tables[t]->ncmds; i++)
			if (strcmp(r->tables[t]->cmds[i].name, name) == 0) {
				*state = r->states[t];
				return &r->tables[t]->cmds[i];
			}
	return NULL;
}

bool
repl_first_log_dir(const struct repl *r, char *out, size_t n)
{
	const struct config_entry *dirs = config_find(&r->cfg, "log.dirs");

	if (dirs == NULL)
		dirs = config_find(&r->cfg, "log.dir");
	if (dirs == NULL)
		return false;
	snprintf(out, n, "%.*s", (int)strcspn(dirs->value, ","), dirs->value);
	return true;
}

bool
repl_is_latest(const struct repl *r, const struct repl_table *t)
{
	return r->ntables_total > 0 && r->tables[r->ntables_total - 1] == t;
}

int
repl_parse_headers(struct repl *r, int n, char **words, struct kv *h)
{
	for (int i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');

		if (eq == NULL || eq == words[i])
			return repl_error(r, "header '%s' is not NAME=VALUE", words[i]);
		*eq = '\0';
		h[i] = (struct kv){ (const uint8_t *)words[i], (int32_t)strlen(words[i]),
				    (const uint8_t *)(eq + 1), (int32_t)strlen(eq + 1) };
	}
	return 0;
}

const struct repl_cmd *
repl_find(const struct repl *r, const char *name)
{
	void *state;

	return lookup(r, name, &state);
}

static int run_words(struct repl *r, const char *line);
static int run_marked(struct repl *r, const char *line);

static void
tick(struct repl *r)
{
	for (int t = 0; t < r->ntables; t++)
		if (r->tables[t]->tick != NULL)
			r->tables[t]->tick(r, r->states[t]);
}

int
repl_run_line(struct repl *r, const char *line)
{
	int rc = run_marked(r, line);

	tick(r);
	return rc;
}

static int
run_marked(struct repl *r, const char *line)
{
	const char *p = line + strspn(line, " \t");

	if (*p != '!')
		return run_words(r, line);
	/* "! COMMAND": a lesson shows a command that must fail */
	if (run_words(r, p + 1) == 0)
		return repl_error(r, "this command was expected to fail, but it succeeded");
	return 0;
}

static int
run_words(struct repl *r, const char *line)
{
	char *copy = strdup(line), *argv[REPL_MAX_ARGS];
	const struct repl_cmd *cmd;
	void *state;
	int argc, rc;

	if (copy == NULL)
		return repl_error(r, "out of memory");
	argc = repl_split(copy, argv, REPL_MAX_ARGS);
	if (argc < 0) {
		free(copy);
		return repl_error(r, "unterminated quote or more than %d words", REPL_MAX_ARGS);
	}
	if (argc == 0) {
		free(copy);
		return 0;
	}
	cmd = lookup(r, argv[0], &state);
	if (cmd == NULL)
		rc = repl_error(r, "unknown command '%s' (try 'help')", argv[0]);
	else if (argc - 1 < cmd->min_args || (cmd->max_args >= 0 && argc - 1 > cmd->max_args))
		rc = repl_usage(r, cmd);
	else
		rc = cmd->run(r, state, argc, argv) == 0 ? 0 : -1;
	free(copy);
	return rc;
}

static void
help_line(struct repl *r, const struct repl_cmd *c)
{
	char left[256];

	snprintf(left, sizeof(left), "%s %s", c->name, c->usage);
	if (strlen(left) > 34) /* a long usage gets a line of its own */
		repl_printf(r, "  %s\n  %-34s %s\n", left, "", c->summary);
	else
		repl_printf(r, "  %-34s %s\n", left, c->summary);
}

static int
builtin_help(struct repl *r, void *state, int argc, char **argv)
{
	const struct repl_cmd *c;

	(void)state;
	if (argc == 2) {
		if ((c = repl_find(r, argv[1])) == NULL)
			return repl_error(r, "unknown command '%s'", argv[1]);
		repl_printf(r, "usage: %s %s\n  %s\n", c->name, c->usage, c->summary);
		if (c->help != NULL)
			repl_printf(r, "\n%s\n", c->help);
		return 0;
	}
	for (int t = 0; t < r->ntables; t++) {
		repl_printf(r, "%s:\n", r->tables[t]->title);
		for (int i = 0; i < r->tables[t]->ncmds; i++) {
			void *st;

			/* a later stage's command of the same name replaces it */
			if (lookup(r, r->tables[t]->cmds[i].name, &st) == &r->tables[t]->cmds[i])
				help_line(r, &r->tables[t]->cmds[i]);
		}
	}
	repl_printf(r, "shell:\n");
	for (int i = 0; i < NBUILTINS; i++)
		help_line(r, &builtins[i]);
	repl_printf(r, "'help COMMAND' tells more; '#' starts a comment; '! COMMAND' in a\n"
		       "script runs a command that is expected to fail.\n");
	return 0;
}

static int
builtin_quit(struct repl *r, void *state, int argc, char **argv)
{
	(void)state, (void)argc, (void)argv;
	r->quit = true;
	return 0;
}

static int
builtin_echo(struct repl *r, void *state, int argc, char **argv)
{
	(void)state;
	for (int i = 1; i < argc; i++)
		repl_printf(r, "%s%s", i > 1 ? " " : "", argv[i]);
	repl_printf(r, "\n");
	return 0;
}

static int
builtin_sleep(struct repl *r, void *state, int argc, char **argv)
{
	int64_t ms;

	(void)state, (void)argc;
	if (!repl_arg_i64(r, argv[1], "MS", 0, INT64_MAX / 4, &ms))
		return -1;
	r->clock_offset_ms += ms;
	return builtin_time(r, NULL, 1, argv);
}

static int
builtin_time(struct repl *r, void *state, int argc, char **argv)
{
	char t[40];
	int64_t now = repl_now_ms(r);

	(void)state, (void)argc, (void)argv;
	repl_format_time(now, t, sizeof(t));
	repl_printf(r, "time %s (%" PRId64 " ms)\n", t, now);
	return 0;
}

static int
builtin_clock(struct repl *r, void *state, int argc, char **argv)
{
	(void)state;
	if (argc == 2) {
		if (strcmp(argv[1], "virtual") != 0 && strcmp(argv[1], "wall") != 0)
			return repl_error(r, "the clock is 'virtual' or 'wall', not '%s'", argv[1]);
		r->virtual_clock = strcmp(argv[1], "virtual") == 0;
		r->clock_offset_ms = 0;
	}
	repl_printf(r, "clock %s\n", r->virtual_clock ? "virtual" : "wall");
	return builtin_time(r, NULL, 1, argv);
}

/* Set KEY=VALUE only if every stage accepts the result. */
static int
config_change(struct repl *r, const char *key, const char *value)
{
	struct config trial;
	struct kerr e = { 0 };
	int rc = 0;

	config_init(&trial);
	for (size_t i = 0; i < r->cfg.n && rc == 0; i++)
		if (config_set(&trial, r->cfg.entries[i].key, r->cfg.entries[i].value) != KLAB_OK)
			rc = -1;
	if (rc == 0 && config_set(&trial, key, value) != KLAB_OK)
		rc = -1;
	for (int t = 0; rc == 0 && t < r->ntables; t++)
		if (r->tables[t]->check_config != NULL &&
		    r->tables[t]->check_config(&trial, &e) != KLAB_OK)
			rc = repl_error(r, "%s (the setting is unchanged)", kerr_msg(&e));
	config_free(&trial);
	if (rc != 0)
		return e.code != 0 ? -1 : repl_error(r, "out of memory");
	if (config_set(&r->cfg, key, value) != KLAB_OK)
		return repl_error(r, "out of memory");
	repl_printf(r, "%s=%s\n", key, value);
	return 0;
}

static int
builtin_config(struct repl *r, void *state, int argc, char **argv)
{
	const struct config_entry *en;

	(void)state;
	if (argc == 3)
		return config_change(r, argv[1], argv[2]);
	if (argc == 2) {
		if ((en = config_find(&r->cfg, argv[1])) == NULL) {
			repl_printf(r, "%s is not set: the default applies\n", argv[1]);
			return 0;
		}
		repl_printf(r, "%s=%s\n", en->key, en->value);
		return 0;
	}
	for (size_t i = 0; i < r->cfg.n; i++)
		repl_printf(r, "%s=%s\n", r->cfg.entries[i].key, r->cfg.entries[i].value);
	if (r->cfg.n == 0)
		repl_printf(r, "(no settings: Kafka's defaults apply)\n");
	return 0;
}

/* ---- readline ----------------------------------------------------------- */

static const struct repl *completing;

static char *
complete_command(const char *text, int state)
{
	static int t, i;
	size_t len = strlen(text);

	if (state == 0)
		t = -1, i = 0;
	for (;;) {
		const struct repl_cmd *cmds = t < 0 ? builtins : completing->tables[t]->cmds;
		int n = t < 0 ? NBUILTINS : completing->tables[t]->ncmds;

		while (i < n) {
			const char *name = cmds[i++].name;

			if (strncmp(name, text, len) == 0)
				return strdup(name);
		}
		if (++t >= completing->ntables)
			return NULL;
		i = 0;
	}
}

static char **
complete(const char *text, int start, int end)
{
	(void)end;
	if (start == 0 || strncmp(rl_line_buffer, "help ", 5) == 0) {
		rl_attempted_completion_over = 1;
		return rl_completion_matches(text, complete_command);
	}
	return NULL; /* file names */
}

static char *
history_path(void)
{
	const char *home = getenv("HOME");
	char *p = NULL;

	if (home != NULL && asprintf(&p, "%s/.klab_history", home) < 0)
		p = NULL;
	return p;
}

static void
interactive_loop(struct repl *r)
{
	char *hist = history_path(), *line;

	completing = r;
	rl_attempted_completion_function = complete;
	if (hist != NULL)
		read_history(hist);
	repl_printf(r, "klab, %s. Type 'help' for commands, Ctrl-D to leave.\n",
		    r->ntables > 0 ? r->tables[r->ntables - 1]->title : "");
	while (!r->quit && (line = readline("klab> ")) != NULL) {
		if (*line != '\0')
			add_history(line);
		if (repl_run_line(r, line) != 0)
			r->failures++;
		fflush(r->out);
		free(line);
	}
	if (hist != NULL) {
		write_history(hist);
		free(hist);
	}
}

/* Script mode: echo each line, stop at the first failure with -e. */
static void
script_loop(struct repl *r, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (!r->quit && (n = getline(&line, &cap, in)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		repl_printf(r, "klab> %s\n", line);
		if (repl_run_line(r, line) != 0) {
			r->failures++;
			if (r->stop_on_error)
				break;
		}
		fflush(r->out);
	}
	free(line);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: klab repl [-c CONFIG.properties] [-f SCRIPT] [-e] [--wall-clock]\n"
		   "  -c FILE       settings (Kafka's key names, e.g. log.dirs)\n"
		   "  -f FILE       run the commands in FILE instead of reading a terminal\n"
		   "  -e            with a script: stop at the first failing command, exit 1\n"
		   "  --wall-clock  use the real clock, not the virtual one\n"
		   "The clock is virtual in a script or with klab.clock=virtual in the\n"
		   "settings (each chapter's klab.properties), the wall clock otherwise.\n");
}

/* Whether the shell starts on the virtual clock: klab.clock if set, else
 * virtual for a script and wall at a terminal; --wall-clock wins.  -1 if
 * klab.clock is neither virtual nor wall. */
static int
choose_clock(const struct repl *r, bool wall)
{
	const struct config_entry *en = config_find(&r->cfg, "klab.clock");

	if (en != NULL && strcmp(en->value, "virtual") != 0 && strcmp(en->value, "wall") != 0) {
		fprintf(stderr, "klab: klab.clock is 'virtual' or 'wall', not '%s'\n", en->value);
		return -1;
	}
	if (wall)
		return 0;
	if (en != NULL)
		return strcmp(en->value, "virtual") == 0;
	return r->script;
}

static int
start_tables(struct repl *r, const struct repl_table *const *tables)
{
	while (r->ntables_total < REPL_MAX_TABLES && tables[r->ntables_total] != NULL) {
		r->tables[r->ntables_total] = tables[r->ntables_total];
		r->ntables_total++;
	}
	for (int i = 0; i < r->ntables_total; i++) {
		r->ntables = i + 1;
		if (tables[i]->init != NULL && tables[i]->init(r, &r->states[i]) != 0)
			return -1;
	}
	return 0;
}

static void
stop_tables(struct repl *r)
{
	for (int i = r->ntables - 1; i >= 0; i--)
		if (r->tables[i]->fini != NULL)
			r->tables[i]->fini(r, r->states[i]);
}

int
repl_main(int argc, char **argv, const struct repl_table *const *tables)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "file", required_argument, NULL, 'f' },
					      { "wall-clock", no_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct repl r = { .out = stdout };
	const char *script = NULL, *cfgfile = NULL;
	bool wall = false;
	FILE *in = stdin;
	struct kerr e = { 0 };
	int c, rc = 0;

	config_init(&r.cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:f:eh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgfile = optarg; break;
		case 'f': script = optarg; break;
		case 'e': r.stop_on_error = true; break;
		case 'w': wall = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cfgfile != NULL && config_load_file(&r.cfg, disk_real(), cfgfile, &e) != KLAB_OK) {
		fprintf(stderr, "klab: %s\n", kerr_msg(&e));
		config_free(&r.cfg);
		return 1;
	}
	if (script != NULL && (in = fopen(script, "r")) == NULL) {
		fprintf(stderr, "klab: %s: %s\n", script, strerror(errno));
		config_free(&r.cfg);
		return 1;
	}
	r.script = script != NULL || !isatty(STDIN_FILENO);
	c = choose_clock(&r, wall);
	r.virtual_clock = c == 1;
	if (c < 0 || start_tables(&r, tables) != 0) {
		rc = 1;
	} else if (r.script) {
		script_loop(&r, in);
		rc = r.stop_on_error && r.failures > 0 ? 1 : 0;
	} else {
		interactive_loop(&r);
	}
	stop_tables(&r);
	if (in != stdin)
		fclose(in);
	config_free(&r.cfg);
	return rc;
}
