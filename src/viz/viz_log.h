/*
 * viz_log.h - stage 1's diagram: a log's segments and the sparse index
 * pointing into them.
 */
#ifndef KLAB_VIZ_VIZ_LOG_H
#define KLAB_VIZ_VIZ_LOG_H

#include <stdio.h>

#include "log/log.h"

/*
 * Write the log as DOT: one column per segment (base offset, size, offset
 * range, the active one highlighted), its batches as rows (at most
 * max_rows a segment; the rest elided), and each .index entry as an arrow
 * to the batch it points at.
 */
void viz_log_dot(FILE *f, const struct log *l, const char *title, int max_rows);

#endif
