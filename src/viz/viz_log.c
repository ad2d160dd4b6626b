/*
 * viz_log.c - draw a log: segments, their batches, the sparse index
 * (chapter 1's diagrams).  See viz_log.h.
 *
 * Reads only batch headers (never payloads), so drawing a large log costs
 * one pread of 61 bytes per batch shown or skipped.
 */
#include "viz/viz_log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "viz/dot.h"

static void
human_size(uint64_t n, char *out, size_t len)
{
	if (n < 1024)
		snprintf(out, len, "%" PRIu64 " B", n);
	else if (n < 1024 * 1024)
		snprintf(out, len, "%.1f KiB", (double)n / 1024);
	else
		snprintf(out, len, "%.1f MiB", (double)n / (1024 * 1024));
}

/* Is a batch at pos the target of an index entry? */
static bool
indexed(const struct segment *s, uint64_t pos)
{
	for (size_t i = 0; i < s->oi.n; i++)
		if (index_entry_at(&s->oi, i).position == pos)
			return true;
	return false;
}

static void
batch_rows(FILE *f, const struct segment *s, int max_rows)
{
	struct batch_header h;
	uint64_t pos;
	int shown = 0, batches = 0;
	bool gap = false;

	for (pos = 0; pos < s->size && segment_header_at(s, pos, &h) == KLAB_OK;
	     pos += batch_size(&h))
		batches++;
	pos = 0;
	for (int i = 0; i < batches && segment_header_at(s, pos, &h) == KLAB_OK;
	     i++, pos += batch_size(&h)) {
		bool show = batches <= max_rows || i == 0 || i == batches - 1 ||
			    (indexed(s, pos) && shown < max_rows - 2);
		char size[32];

		if (!show) {
			gap = true;
			continue;
		}
		if (gap)
			fprintf(f, "<tr><td colspan=\"3\">&#8942;</td></tr>");
		gap = false;
		human_size(batch_size(&h), size, sizeof(size));
		fprintf(f,
			"<tr><td port=\"b%" PRIu64 "\" align=\"left\">offsets %" PRId64
			"&#8211;%" PRId64 "</td><td align=\"right\">pos %" PRIu64
			"</td><td align=\"right\">%s</td></tr>",
			pos, h.base_offset, batch_last_offset(&h), pos, size);
		shown++;
	}
	if (batches == 0)
		fprintf(f, "<tr><td colspan=\"3\"><i>empty</i></td></tr>");
}

static void
segment_node(FILE *f, const struct segment *s, size_t i, bool is_active, int max_rows)
{
	char size[32];

	human_size(s->size, size, sizeof(size));
	fprintf(f,
		"  seg%zu [label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"0\" "
		"cellpadding=\"3\" bgcolor=\"%s\">"
		"<tr><td colspan=\"3\"><b>%020" PRId64 ".log</b>%s</td></tr>"
		"<tr><td colspan=\"3\">%s, offsets %" PRId64 "&#8211;%" PRId64 "</td></tr>",
		i, is_active ? "#fff3c4" : "#e8eef7", s->base_offset, is_active ? " (active)" : "",
		size, s->base_offset, s->next_offset - 1);
	batch_rows(f, s, max_rows);
	fprintf(f, "</table>>];\n");
}

static void
index_node(FILE *f, const struct segment *s, size_t i)
{
	fprintf(f,
		"  idx%zu [label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"0\" "
		"cellpadding=\"3\" bgcolor=\"#eaf5ea\">"
		"<tr><td><b>%020" PRId64 ".index</b></td></tr>",
		i, s->base_offset);
	for (size_t k = 0; k < s->oi.n; k++) {
		struct index_entry en = index_entry_at(&s->oi, k);

		fprintf(f,
			"<tr><td port=\"e%zu\" align=\"left\">%" PRId64 " &#8594; pos %" PRIu32
			"</td></tr>",
			k, en.offset, en.position);
	}
	if (s->oi.n == 0)
		fprintf(f, "<tr><td><i>no entries yet</i></td></tr>");
	fprintf(f,
		"<tr><td><font point-size=\"8\">.timeindex: %zu entries</font></td></tr>"
		"</table>>];\n",
		s->ti.n);
}

static void
index_edges(FILE *f, const struct segment *s, size_t i)
{
	fprintf(f, "  idx%zu -> seg%zu [style=invis];\n", i, i);
	for (size_t k = 0; k < s->oi.n; k++)
		fprintf(f, "  idx%zu:e%zu:w -> seg%zu:b%" PRIu32 ":w [color=\"#2e7d32\"];\n", i, k,
			i, index_entry_at(&s->oi, k).position);
}

void
viz_log_dot(FILE *f, const struct log *l, const char *title, int max_rows)
{
	dot_begin(f, title, "TB");
	fprintf(f, "  label=\"");
	dot_escape(f, title);
	fprintf(f,
		": log start offset %" PRId64 ", log end offset %" PRId64
		", recovery point %" PRId64 "\";\n  labelloc=t;\n",
		l->log_start_offset, l->next_offset, l->recovery_point);
	/* indexes on the top row, segments below, oldest on the left */
	fprintf(f, "  { rank=same;\n");
	for (size_t i = 0; i < l->nsegs; i++)
		index_node(f, l->segs[i], i);
	fprintf(f, "  }\n  { rank=same;\n");
	for (size_t i = 0; i < l->nsegs; i++)
		segment_node(f, l->segs[i], i, i + 1 == l->nsegs, max_rows);
	for (size_t i = 1; i < l->nsegs; i++)
		fprintf(f, "  seg%zu -> seg%zu [style=dashed, label=\"roll\"];\n", i - 1, i);
	fprintf(f, "  }\n");
	for (size_t i = 0; i < l->nsegs; i++)
		index_edges(f, l->segs[i], i);
	dot_end(f);
}
