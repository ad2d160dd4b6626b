/*
 * tools.h - what `klab topics`, `klab produce` and `klab consume` share
 * (chapter 3 §4): argument helpers, the real runtime around one client
 * node, and error sentences.  Each tool is a client node (src/client) on
 * the real runtime; its callbacks print and call tools_stop().
 *
 * Exit codes, for every tool: 0 done, 1 the cluster said no or could not
 * be reached, 2 bad arguments (with a usage message).
 */
#ifndef KLAB_MAIN_TOOLS_H
#define KLAB_MAIN_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "net/real.h"

int topics_main(int argc, char **argv);
int produce_main(int argc, char **argv);
int consume_main(int argc, char **argv);

/* A command-line value as a number in [lo, hi]; false (and a message) otherwise. */
bool tools_parse_long(const char *tool, const char *opt, const char *s, int64_t lo, int64_t hi,
		      int64_t *out);

/* "k=v" split at the first '='; false when there is none or k is empty. */
bool tools_split_kv(char *s, char **k, char **v);

/*
 * Run one client node (ops/state, as for real_add_node) on a fresh real
 * runtime until tools_stop() or SIGINT/SIGTERM.  *rt_out is the runtime
 * while it runs.  Returns KLAB_OK or KLAB_EIO (the runtime failed).
 */
int tools_run(const char *tool, const struct node_ops *ops, void *state, struct real **rt_out);
void tools_stop(struct real *r);

/*
 * A sentence for a failed request: for KLAB_ETIMEDOUT / KLAB_EIO before any
 * broker answered, that the bootstrap servers could not be reached.
 */
void tools_request_error(const struct kclient *kc, int err, char *out, size_t n);

#endif
