/*
 * tools.c - helpers shared by the command-line clients (tools.h; chapter 3
 * §4): number and key=value parsing, a real runtime around one client
 * node, and the sentence a user sees when the cluster cannot be reached.
 */
#include "main/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
tools_parse_long(const char *tool, const char *opt, const char *s, int64_t lo, int64_t hi,
		 int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr,
			"klab %s: %s %s: expected a number from %" PRId64 " to %" PRId64 "\n", tool,
			opt, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

bool
tools_split_kv(char *s, char **k, char **v)
{
	char *eq = strchr(s, '=');

	if (eq == NULL || eq == s)
		return false;
	*eq = '\0';
	*k = s;
	*v = eq + 1;
	return true;
}

static void
log_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

int
tools_run(const char *tool, const struct node_ops *ops, void *state, struct real **rt_out)
{
	struct real_config rc;
	struct real *r;
	int ret;

	real_config_defaults(&rc);
	rc.handle_signals = true;
	rc.log = log_line;
	if ((r = real_new(&rc)) == NULL) {
		fprintf(stderr, "klab %s: cannot create the runtime\n", tool);
		return KLAB_EIO;
	}
	*rt_out = r;
	if (real_add_node(r, tool, ops, state, NULL) < 0) {
		fprintf(stderr, "klab %s: cannot add the client node\n", tool);
		real_free(r);
		*rt_out = NULL;
		return KLAB_EIO;
	}
	ret = real_run(r);
	real_free(r);
	*rt_out = NULL;
	return ret == KLAB_OK ? KLAB_OK : KLAB_EIO;
}

void
tools_stop(struct real *r)
{
	if (r != NULL)
		real_stop(r);
}

void
tools_request_error(const struct kclient *kc, int err, char *out, size_t n)
{
	if ((err == KLAB_ETIMEDOUT || err == KLAB_EIO) && !kc->reached_broker)
		snprintf(out, n, "could not reach any broker of %s within %" PRId64 " ms (%s)",
			 kc->cfg.bootstrap, kc->cfg.request_timeout_ms,
			 kc->connects_failed > 0 ? kerr_msg(&kc->connect_error)
						 : "no connection completed");
	else if (err == KLAB_ETIMEDOUT)
		snprintf(out, n, "no answer from %s within %" PRId64 " ms (%s)", kc->cfg.bootstrap,
			 kc->cfg.request_timeout_ms, kerr_msg(&kc->last_error));
	else
		snprintf(out, n, "%s (%s)", klab_strerror(err), kerr_msg(&kc->last_error));
}
