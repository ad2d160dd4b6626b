/*
 * show.h - printing log data for people: keys and values as text where
 * they are text, batches annotated field by field.  Used by the REPL and
 * by `klab dump-log`.
 */
#ifndef KLAB_REPL_SHOW_H
#define KLAB_REPL_SHOW_H

#include <stdint.h>
#include <stdio.h>

#include "log/batch.h"

/* Bytes as text: printable ASCII as is, others as \xNN; len -1 is "null". */
void show_bytes(FILE *f, const uint8_t *p, int32_t len);

/* One record: offset, timestamp, key, value, headers. */
void show_record(FILE *f, const struct record *r, int64_t ts);

/*
 * The bytes of one batch, each field on its own line with its offset in
 * the batch, its raw bytes in hex and its meaning; records likewise.
 */
void show_batch_fields(FILE *f, const uint8_t *p, size_t len);

#endif
