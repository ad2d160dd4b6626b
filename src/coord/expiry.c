/*
 * expiry.c - ZooKeeper's ExpiryQueue over a caller-given clock (see
 * expiry.h for the contract).
 *
 * Java keeps two maps, element -> expiry time and expiry time -> set of
 * elements, so a poll takes a bucket in one lookup.  klab keeps one flat
 * array of (id, expiry) and finds a bucket by scanning it: the queue is
 * bounded by the coordinator's session limit, a poll runs once per tick,
 * and a learner reads one array instead of two maps kept in step.  The
 * behaviour is Java's, rule for rule:
 *
 *   roundToNextInterval  (t / interval + 1) * interval   expiry_round_up
 *   update               no change when the bucket is the same; else move
 *   poll                 nothing while now < nextExpirationTime; else the
 *                        bucket nextExpirationTime, and advance it by one
 *                        interval even when the bucket was empty
 *   remove               returns the bucket the element was in
 *
 * Invariants (expiry_check_invariants):
 *   1. interval_ms > 0; next_ms is a multiple of it; n <= cap.
 *   2. every entry's expiry is a multiple of interval_ms and >= next_ms:
 *      no bucket is left behind the one the next poll takes (so polling
 *      loses nothing); this holds because now never goes back and every
 *      update lands at expiry_round_up(now + timeout) >= next_ms.
 *   3. ids are distinct: one entry per element.
 */
#include "coord/expiry.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/err.h"

int64_t
expiry_round_up(int64_t t_ms, int32_t interval_ms)
{
	KLAB_ASSERT(interval_ms > 0 && t_ms >= 0, "expiry times are >= 0 and the tick > 0");
	return (t_ms / interval_ms + 1) * interval_ms;
}

int
expiry_init(struct expiry_queue *q, int32_t interval_ms, size_t cap, int64_t now_ms)
{
	memset(q, 0, sizeof(*q));
	if (interval_ms <= 0 || cap == 0 || now_ms < 0)
		return KLAB_EINVAL;
	q->e = calloc(cap, sizeof(*q->e));
	if (q->e == NULL)
		return KLAB_ENOMEM;
	q->cap = cap;
	q->interval_ms = interval_ms;
	q->next_ms = expiry_round_up(now_ms, interval_ms);
	q->last_now_ms = now_ms;
	return KLAB_OK;
}

void
expiry_free(struct expiry_queue *q)
{
	free(q->e);
	memset(q, 0, sizeof(*q));
}

/* The clock is the caller's; it must never run backwards. */
static void
advance_clock(struct expiry_queue *q, int64_t now_ms)
{
	KLAB_ASSERT(now_ms >= q->last_now_ms, "the clock went back from %lld to %lld ms",
		    (long long)q->last_now_ms, (long long)now_ms);
	q->last_now_ms = now_ms;
}

static struct expiry_entry *
find(const struct expiry_queue *q, int64_t id)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->e[i].id == id)
			return &q->e[i];
	return NULL;
}

int
expiry_update(struct expiry_queue *q, int64_t id, int64_t now_ms, int32_t timeout_ms,
	      int64_t *expiry_ms)
{
	struct expiry_entry *e;
	int64_t at;

	KLAB_ASSERT(timeout_ms >= 0, "a timeout of %d ms", (int)timeout_ms);
	advance_clock(q, now_ms);
	at = expiry_round_up(now_ms + timeout_ms, q->interval_ms);
	e = find(q, id);
	if (e == NULL) {
		if (q->n == q->cap)
			return KLAB_EFULL;
		e = &q->e[q->n++];
		e->id = id;
	}
	e->expiry_ms = at; /* moving it between buckets is rewriting its time */
	if (expiry_ms != NULL)
		*expiry_ms = at;
	return KLAB_OK;
}

int64_t
expiry_remove(struct expiry_queue *q, int64_t id)
{
	struct expiry_entry *e = find(q, id);
	int64_t at;

	if (e == NULL)
		return -1;
	at = e->expiry_ms;
	*e = q->e[--q->n]; /* order does not matter: swap the last one in */
	return at;
}

int64_t
expiry_get(const struct expiry_queue *q, int64_t id)
{
	const struct expiry_entry *e = find(q, id);

	return e == NULL ? -1 : e->expiry_ms;
}

int64_t
expiry_wait_ms(struct expiry_queue *q, int64_t now_ms)
{
	advance_clock(q, now_ms);
	return now_ms < q->next_ms ? q->next_ms - now_ms : 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

size_t
expiry_poll(struct expiry_queue *q, int64_t now_ms, int64_t *out, size_t cap)
{
	size_t k = 0, i = 0;

	KLAB_ASSERT(cap >= q->cap, "a poll buffer of %zu for a queue of %zu", cap, q->cap);
	advance_clock(q, now_ms);
	if (now_ms < q->next_ms)
		return 0;
	while (i < q->n) {
		if (q->e[i].expiry_ms == q->next_ms) {
			out[k++] = q->e[i].id;
			q->e[i] = q->e[--q->n]; /* look at the swapped-in one next */
		} else {
			i++;
		}
	}
	q->next_ms += q->interval_ms;
	qsort(out, k, sizeof(*out), cmp_id);
	return k;
}

int
expiry_check_invariants(const struct expiry_queue *q, const char **why)
{
	const char *w = NULL;

	if (q->interval_ms <= 0 || q->next_ms % q->interval_ms != 0 || q->n > q->cap)
		w = "1: the tick, next bucket or count is out of shape";
	for (size_t i = 0; w == NULL && i < q->n; i++) {
		if (q->e[i].expiry_ms % q->interval_ms != 0 || q->e[i].expiry_ms < q->next_ms)
			w = "2: an entry's bucket is off the tick or behind the next poll";
		for (size_t j = i + 1; w == NULL && j < q->n; j++)
			if (q->e[i].id == q->e[j].id)
				w = "3: an id appears twice";
	}
	if (why != NULL)
		*why = w;
	return w == NULL ? KLAB_OK : KLAB_ECORRUPT;
}
