/*
 * viz_topic.c - draw topics, their partitions (each a log) and the
 * producer's accumulator (see viz_topic.h; chapter 2's diagrams).
 */
#include "viz/viz_topic.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "viz/dot.h"

static int
by_name(const void *a, const void *b)
{
	return strcmp((*(const struct topic *const *)a)->name,
		      (*(const struct topic *const *)b)->name);
}

/* A bar of up to 20 blocks: the partition's records against the busiest. */
static void
skew_bar(FILE *f, int64_t records, int64_t max)
{
	int n = max > 0 ? (int)((records * 20 + max - 1) / max) : 0;

	fprintf(f, "<tr><td align=\"left\">");
	if (n > 0) { /* Graphviz refuses an empty <font> */
		fprintf(f, "<font color=\"#c0392b\">");
		for (int i = 0; i < n; i++)
			fputs("&#9608;", f);
		fprintf(f, "</font> ");
	}
	fprintf(f, "%" PRId64 " record%s</td></tr>", records, records == 1 ? "" : "s");
}

static void
partition_node(FILE *f, const struct topic *t, int32_t p, size_t ti, int64_t max)
{
	const struct log *l = t->logs[p];

	fprintf(f,
		"  t%zup%" PRId32 " [label=<<table border=\"1\" cellborder=\"0\" "
		"cellspacing=\"0\" cellpadding=\"3\" bgcolor=\"#e8eef7\">"
		"<tr><td><b>",
		ti, p);
	dot_html_escape(f, t->name);
	fprintf(f,
		"-%" PRId32 "</b></td></tr><tr><td>start offset %" PRId64 ", end offset %" PRId64
		"</td></tr><tr><td><font point-size=\"9\">%zu segment%s, %" PRIu64
		" bytes</font></td></tr>",
		p, l->log_start_offset, l->next_offset, l->nsegs, l->nsegs == 1 ? "" : "s",
		log_size_bytes(l));
	skew_bar(f, l->next_offset - l->log_start_offset, max);
	fprintf(f, "</table>>];\n");
}

static void
accumulator_nodes(FILE *f, const struct topic *t, size_t ti, const struct accumulator *acc)
{
	for (size_t i = 0; acc != NULL && i < acc->n; i++) {
		const struct acc_batch *b = acc->batches[i];

		if (strcmp(b->topic, t->name) != 0 || b->partition >= t->partitions)
			continue;
		fprintf(f,
			"  acc%zu [shape=box, style=\"rounded,dashed\", label=\"batch: %" PRId32
			" record%s\\n%zu bytes%s\"];\n",
			i, b->records, b->records == 1 ? "" : "s", b->bytes.len,
			b->full ? " (full)" : "");
		fprintf(f, "  acc%zu -> t%zup%" PRId32 " [style=dashed, label=\"linger\"];\n", i,
			ti, b->partition);
	}
}

void
viz_topics_dot(FILE *f, const struct topic_store *s, const struct accumulator *acc)
{
	const struct topic **ts = calloc(s->n ? s->n : 1, sizeof(*ts));

	dot_begin(f, "topics", "LR");
	if (ts == NULL) {
		dot_end(f);
		return;
	}
	memcpy(ts, s->topics, s->n * sizeof(*ts));
	qsort(ts, s->n, sizeof(*ts), by_name);
	for (size_t i = 0; i < s->n; i++) {
		fprintf(f,
			"  topic%zu [shape=box, ordering=out, style=\"rounded,filled\", "
			"fillcolor=\"#fff3c4\", "
			"label=\"topic ",
			i);
		dot_escape(f, ts[i]->name);
		fprintf(f, "\\n%" PRId32 " partition%s\"];\n", ts[i]->partitions,
			ts[i]->partitions == 1 ? "" : "s");
		int64_t max = 0;

		for (int32_t p = 0; p < ts[i]->partitions; p++) {
			const struct log *l = ts[i]->logs[p];

			if (l->next_offset - l->log_start_offset > max)
				max = l->next_offset - l->log_start_offset;
		}
		for (int32_t p = 0; p < ts[i]->partitions; p++) {
			partition_node(f, ts[i], p, i, max);
			fprintf(f, "  topic%zu -> t%zup%" PRId32 ";\n", i, i, p);
		}
		accumulator_nodes(f, ts[i], i, acc);
	}
	if (s->n == 0)
		fprintf(f, "  empty [label=\"no topics yet\"];\n");
	free(ts);
	dot_end(f);
}
