/*
 * repl.h - the klab shell: GNU readline in a terminal, stable output from a
 * script, and command tables that each stage adds.
 *
 * A stage contributes one `struct repl_table`: its commands and a state
 * that lives as long as the shell.  The shell owns the clock and the
 * configuration that every stage reads (klab repl -c FILE).
 *
 * Output rules (so a walkthrough transcript can be compared byte for byte):
 *   - commands write to r->out only, through repl_printf();
 *   - a failing command prints one line starting "error: " and returns -1;
 *   - from a script the shell echoes each line as "klab> LINE" first, and
 *     the clock is virtual (it starts at REPL_EPOCH_MS and moves only with
 *     `sleep`), so timestamps repeat from run to run.  klab.clock=virtual
 *     in the settings (or the `clock virtual` command) puts a terminal on
 *     the same clock.
 */
#ifndef KLAB_REPL_REPL_H
#define KLAB_REPL_REPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "log/batch.h"

#define REPL_EPOCH_MS 1700000000000LL /* 2023-11-14T22:13:20Z */
#define REPL_MAX_ARGS 64
#define REPL_MAX_TABLES 8

struct repl;

struct repl_cmd {
	const char *name;
	const char *usage;	/* arguments, e.g. "KEY VALUE [HEADER=VALUE ...]" */
	const char *summary;	/* one line for `help` */
	const char *help;	/* more for `help NAME`, or NULL */
	int min_args, max_args; /* max -1: no limit */
	int (*run)(struct repl *r, void *state, int argc, char **argv);
};

struct repl_table {
	const char *name;  /* "log" */
	const char *title; /* "stage 1: the append-only log" */
	const struct repl_cmd *cmds;
	int ncmds;
	int (*init)(struct repl *r, void **state);
	void (*fini)(struct repl *r, void *state);
	void (*tick)(struct repl *r, void *state); /* after every command, or NULL */
	/* Check settings before `config KEY VALUE` takes them, or NULL. */
	int (*check_config)(const struct config *c, struct kerr *e);
};

struct repl {
	FILE *out;
	const struct repl_table *tables[REPL_MAX_TABLES];
	void *states[REPL_MAX_TABLES];
	int ntables;
	int ntables_total; /* all of this stage's tables; the last is the stage's own */
	struct config cfg;
	bool script;	    /* input is not a terminal */
	bool stop_on_error; /* -e */
	bool quit;
	bool virtual_clock;
	int64_t clock_offset_ms;
	int failures;
};

/* Milliseconds since the epoch on the shell's clock (virtual or wall). */
int64_t repl_now_ms(const struct repl *r);
void repl_printf(struct repl *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "error: ..." and return -1. */
int repl_error(struct repl *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the usage line of cmd as an error and return -1. */
int repl_usage(struct repl *r, const struct repl_cmd *cmd);
const struct repl_cmd *repl_find(const struct repl *r, const char *name);

/*
 * The first directory of log.dirs (or log.dir) into out; false when neither
 * is set.  Kafka takes a list; klab's stages use the first.
 */
bool repl_first_log_dir(const struct repl *r, char *out, size_t n);

/* True when t is the latest stage's table (it owns log.dirs). */
bool repl_is_latest(const struct repl *r, const struct repl_table *t);

/* Parse "NAME=VALUE" words into headers pointing into the words. */
int repl_parse_headers(struct repl *r, int n, char **words, struct kv *h);

/* Parse a decimal integer argument; on failure print an error naming what. */
bool repl_arg_i64(struct repl *r, const char *arg, const char *what, int64_t min, int64_t max,
		  int64_t *out);

/* Format ms since the epoch as 2023-11-14T22:13:20.000Z. */
void repl_format_time(int64_t ms, char *out, size_t n);

/* Split line into words (quotes "..." and '...' group); returns argc or -1. */
int repl_split(char *line, char **argv, int max);

/*
 * Run one line; returns 0 or -1.  A line "! COMMAND" succeeds only when
 * COMMAND fails (scripts use it to show an error without stopping -e).
 */
int repl_run_line(struct repl *r, const char *line);

/* `klab repl [-c FILE] [-f FILE] [-e] [--wall-clock]` */
int repl_main(int argc, char **argv, const struct repl_table *const *tables);

#endif
