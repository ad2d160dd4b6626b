/*
 * dot.c - DOT helpers and rendering through Graphviz (see dot.h).
 *
 * Rendering runs `dot -Tsvg` and `dot -Tpng` as child processes
 * (posix_spawnp: no shell, so a file name is never interpreted).
 */
#include "viz/dot.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

void
dot_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void
dot_html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

void
dot_begin(FILE *f, const char *name, const char *rankdir)
{
	fprintf(f, "digraph \"");
	dot_escape(f, name);
	fprintf(f,
		"\" {\n"
		"  rankdir=%s;\n"
		"  graph [fontname=\"Helvetica\", fontsize=11, nodesep=0.3, ranksep=0.5];\n"
		"  node [fontname=\"Helvetica\", fontsize=10, shape=plaintext];\n"
		"  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n",
		rankdir);
}

void
dot_end(FILE *f)
{
	fprintf(f, "}\n");
}

static int
run_dot(const char *format, const char *in, const char *out, struct kerr *e)
{
	char fmt[16], oflag[4096];
	char *argv[] = { "dot", fmt, (char *)in, "-o", oflag, NULL };
	pid_t pid;
	int status, rc;

	snprintf(fmt, sizeof(fmt), "-T%s", format);
	snprintf(oflag, sizeof(oflag), "%s", out);
	rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
	if (rc != 0)
		return kerr_set(e, KLAB_ENOTFOUND,
				"cannot run Graphviz's dot (%s): install the graphviz package",
				strerror(rc));
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return kerr_set(e, KLAB_EIO, "dot -T%s %s failed", format, in);
	return KLAB_OK;
}

int
dot_check_base(const char *base, struct kerr *e)
{
	if (base[0] == '\0' || base[0] == '-')
		return kerr_set(e, KLAB_EINVAL,
				"'%s': a file name must not be empty or start with '-' (Graphviz "
				"would take it for an option)",
				base);
	return KLAB_OK;
}

int
dot_render(const char *base, struct kerr *e)
{
	char in[4096], out[4096];
	int rc;

	if ((rc = dot_check_base(base, e)) != KLAB_OK)
		return rc;
	snprintf(in, sizeof(in), "%s.dot", base);
	snprintf(out, sizeof(out), "%s.svg", base);
	if ((rc = run_dot("svg", in, out, e)) != KLAB_OK)
		return rc;
	snprintf(out, sizeof(out), "%s.png", base);
	return run_dot("png", in, out, e);
}
