/*
 * expiry.h - ZooKeeper's ExpiryQueue: things that expire, kept in buckets
 * one tick wide (server/ExpiryQueue.java, apache/zookeeper 3.8).
 *
 * A ZooKeeper server does not keep a timer per session.  It rounds every
 * deadline UP to the next multiple of the tick (expirationInterval):
 *
 *   roundToNextInterval(t) = (t / interval + 1) * interval
 *
 * so with a 2000 ms tick a deadline of 4100 lands in bucket 6000, and one
 * of exactly 4000 in bucket 6000 too (the next multiple, never t itself).
 * All the sessions of a bucket expire together, and the server wakes once
 * per tick instead of once per session.  Rounding up is a grace period: a
 * session lives at least its timeout, at most one tick longer.
 *
 *   expiry_update(q, id, now, timeout)  moves id to the bucket of
 *                        roundToNextInterval(now + timeout) (a touch)
 *   expiry_poll(q, now, out, cap)       when now >= next_ms, the whole
 *                        bucket next_ms (possibly empty) and next_ms += one
 *                        interval; before that, nothing
 *   expiry_remove(q, id)
 *   expiry_wait_ms(q, now)              how long until next_ms (0 if due)
 *
 * A poll hands out one bucket and advances by one interval, as Java's does:
 * a caller that fell behind catches up one bucket per call, so it polls
 * until the wait is positive again.
 *
 * The clock is the caller's (ZooKeeper reads Time.currentElapsedTime(),
 * a monotonic millisecond clock): every call takes now_ms, which must not
 * go backwards.  Memory is bounded: one entry per element, at most the
 * capacity given to expiry_init; there is no per-bucket storage, a bucket
 * being the entries with that expiry time.
 */
#ifndef KLAB_COORD_EXPIRY_H
#define KLAB_COORD_EXPIRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct expiry_entry {
	int64_t id;
	int64_t expiry_ms; /* a multiple of interval_ms, >= next_ms */
};

struct expiry_queue {
	int32_t interval_ms;	/* the tick; > 0 */
	int64_t next_ms;	/* the bucket the next poll hands out */
	int64_t last_now_ms;	/* the latest now seen: time never goes back */
	struct expiry_entry *e; /* unordered, n of cap used */
	size_t n, cap;
};

/* roundToNextInterval: the multiple of interval_ms strictly after t_ms. */
int64_t expiry_round_up(int64_t t_ms, int32_t interval_ms);

/*
 * A queue of at most cap elements with a tick of interval_ms, created at
 * now_ms: the first bucket polled is expiry_round_up(now_ms).  Returns
 * KLAB_OK, KLAB_EINVAL (interval <= 0, cap 0) or KLAB_ENOMEM.
 */
int expiry_init(struct expiry_queue *q, int32_t interval_ms, size_t cap, int64_t now_ms);
void expiry_free(struct expiry_queue *q);

/*
 * Put id in the bucket of now_ms + timeout_ms (timeout_ms >= 0), adding it
 * if absent.  *expiry_ms (may be NULL) gets the bucket.  Returns KLAB_OK,
 * or KLAB_EFULL when id is new and the queue holds cap elements already.
 */
int expiry_update(struct expiry_queue *q, int64_t id, int64_t now_ms, int32_t timeout_ms,
		  int64_t *expiry_ms);

/* Forget id.  Returns the bucket it was in, or -1 when it was absent. */
int64_t expiry_remove(struct expiry_queue *q, int64_t id);

/* The bucket id is in, or -1. */
int64_t expiry_get(const struct expiry_queue *q, int64_t id);

/* Milliseconds until the next bucket is due; 0 when a poll would take it. */
int64_t expiry_wait_ms(struct expiry_queue *q, int64_t now_ms);

/*
 * When now_ms >= next_ms: remove the elements of bucket next_ms, write
 * their ids to out in ascending order, advance next_ms by one interval and
 * return how many there were (0 for an empty bucket).  Before then, 0 and
 * nothing changes.  cap must be at least the queue's capacity, so a bucket
 * is never split.
 */
size_t expiry_poll(struct expiry_queue *q, int64_t now_ms, int64_t *out, size_t cap);

/* Numbered invariants of expiry.c; KLAB_OK or KLAB_ECORRUPT with *why set. */
int expiry_check_invariants(const struct expiry_queue *q, const char **why);

#endif
