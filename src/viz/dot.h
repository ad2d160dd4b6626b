/*
 * dot.h - writing Graphviz DOT and rendering it.
 *
 * Every stage's `dot` command writes its live state as a DOT graph and asks
 * Graphviz's `dot` program to draw it as SVG and PNG beside the .dot file.
 * The DOT text must be deterministic (no addresses, no wall-clock times),
 * so that `make test` can tell a stale committed diagram from a fresh one.
 */
#ifndef KLAB_VIZ_DOT_H
#define KLAB_VIZ_DOT_H

#include <stdio.h>

#include "core/err.h"

/* Write s escaped for a DOT "..." string or an HTML-like label. */
void dot_escape(FILE *f, const char *s);
void dot_html_escape(FILE *f, const char *s);

/* The header every klab diagram shares: fonts, colours, rankdir. */
void dot_begin(FILE *f, const char *name, const char *rankdir);
void dot_end(FILE *f);

/*
 * Is base a name the `dot` commands may write and hand to Graphviz?  Not
 * empty and not starting with '-', which Graphviz would read as an option
 * ("dot -x").  KLAB_OK, or KLAB_EINVAL with the sentence in e.
 */
int dot_check_base(const char *base, struct kerr *e);

/*
 * Render base.dot to base.svg and base.png with Graphviz.  KLAB_ENOTFOUND
 * when the `dot` program is missing (the .dot file is still there);
 * KLAB_EINVAL for a base dot_check_base refuses.
 */
int dot_render(const char *base, struct kerr *e);

#endif
