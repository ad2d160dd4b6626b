/*
 * producer_ids.c - durable producer id blocks (see producer_ids.h).
 *
 * Invariant: range_start <= next <= block_end <= range_end, and the file
 * on disk says block_end (or more), so no id below it is handed out again.
 */
#include "broker/producer_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define BLOCK_FILE_MAX 64

/* "block.end=N\n" inside the range, or KLAB_ECORRUPT. */
static int
parse_block(const struct producer_ids *p, const struct buf *b, int64_t *end, struct kerr *e)
{
	char text[BLOCK_FILE_MAX + 1];
	char *stop;
	long long v;

	memcpy(text, b->data, b->len);
	text[b->len] = '\0';
	if (strncmp(text, "block.end=", 10) != 0)
		return kerr_set(e, KLAB_ECORRUPT, "%s: no block.end= line", p->path);
	v = strtoll(text + 10, &stop, 10);
	if (stop == text + 10 || (*stop != '\n' && *stop != '\0') || v < p->range_start ||
	    v > p->range_end)
		return kerr_set(e, KLAB_ECORRUPT,
				"%s: block.end outside [%" PRId64 ", %" PRId64 "]", p->path,
				p->range_start, p->range_end);
	*end = v;
	return KLAB_OK;
}

int
producer_ids_open(struct producer_ids *p, struct fs *fs, const char *dir, int32_t broker_id,
		  struct kerr *e)
{
	struct buf b;
	int rc = KLAB_OK;

	memset(p, 0, sizeof(*p));
	p->fs = fs;
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, PRODUCER_ID_FILE);
	p->range_start = (int64_t)(broker_id < 0 ? 0 : broker_id) << 32;
	p->range_end = p->range_start + ((int64_t)1 << 32);
	p->next = p->block_end = p->range_start;
	if (!fs_exists(fs, p->path))
		return KLAB_OK;
	buf_init(&b);
	rc = fs_read_file(fs, p->path, BLOCK_FILE_MAX, &b, e);
	if (rc == KLAB_OK)
		rc = parse_block(p, &b, &p->block_end, e);
	buf_free(&b);
	p->next = p->block_end;
	return rc;
}

int
producer_ids_next(struct producer_ids *p, int64_t *id, struct kerr *e)
{
	if (p->next == p->block_end) {
		int64_t end = p->block_end + PRODUCER_ID_BLOCK_SIZE;
		char text[BLOCK_FILE_MAX];
		int n, rc;

		if (end > p->range_end)
			return kerr_set(e, KLAB_EFULL, "broker's producer id range is spent");
		n = snprintf(text, sizeof(text), "block.end=%" PRId64 "\n", end);
		if ((rc = fs_write_file_atomic(p->fs, p->path, text, (size_t)n, e)) != KLAB_OK)
			return rc;
		p->block_end = end;
	}
	*id = p->next++;
	return KLAB_OK;
}
