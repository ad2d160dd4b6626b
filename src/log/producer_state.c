/*
 * producer_state.c - per-partition idempotent producer state (see
 * producer_state.h for the rules and the snapshot format).
 *
 * A small sorted array: a partition rarely has more than a few producers,
 * and a binary search keeps a hostile thousand cheap.  The table is
 * bounded (PSTATE_PRODUCERS_MAX, a klab choice: Kafka 3.6 has no bound,
 * KIP-936 proposes one); a new producer arriving at a full table takes
 * the place of the one idle longest, whose next batch is then treated as
 * an unknown producer's (accepted at any sequence, as Kafka does after
 * expiry).
 *
 * Invariants (pstate_check_invariants):
 *   1. producer ids strictly ascend; n <= max_producers.
 *   2. each entry holds 1..5 batches, oldest first, offsets ascending.
 */
#include "log/producer_state.h"

#include <stdlib.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/err.h"

void
pstate_init(struct pstate *ps, int64_t expiration_ms)
{
	memset(ps, 0, sizeof(*ps));
	ps->max_producers = PSTATE_PRODUCERS_MAX;
	ps->expiration_ms = expiration_ms > 0 ? expiration_ms : PSTATE_EXPIRATION_MS;
}

void
pstate_free(struct pstate *ps)
{
	free(ps->e);
	ps->e = NULL;
	ps->n = ps->cap = 0;
}

void
pstate_clear(struct pstate *ps)
{
	ps->n = 0;
}

/* DefaultRecordBatch.incrementSequence: sequences wrap from INT32_MAX to 0. */
int32_t
pstate_last_seq(int32_t base_seq, int32_t last_offset_delta)
{
	int64_t v = (int64_t)base_seq + last_offset_delta; /* in 64 bits: no overflow */

	if (v > INT32_MAX)
		v -= (int64_t)INT32_MAX + 1;
	return (int32_t)v;
}

/* DefaultRecordBatch.decrementSequence. */
static int32_t
first_seq_of(int32_t last_seq, int32_t delta)
{
	if (last_seq < delta)
		return (int32_t)((int64_t)INT32_MAX - delta + last_seq + 1);
	return last_seq - delta;
}

/* ProducerAppendInfo.inSequence. */
static bool
in_sequence(int32_t last_seq, int32_t next_seq)
{
	return (int64_t)next_seq == (int64_t)last_seq + 1 ||
	       (next_seq == 0 && last_seq == INT32_MAX);
}

/* The index of producer_id, or where it would go (*found false). */
static size_t
lookup(const struct pstate *ps, int64_t producer_id, bool *found)
{
	size_t lo = 0, hi = ps->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ps->e[mid].producer_id < producer_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < ps->n && ps->e[lo].producer_id == producer_id;
	return lo;
}

const struct pstate_entry *
pstate_find(const struct pstate *ps, int64_t producer_id)
{
	bool found;
	size_t i = lookup(ps, producer_id, &found);

	return found ? &ps->e[i] : NULL;
}

/* ProducerStateEntry.findDuplicateBatch: same epoch, same sequence range. */
static bool
find_duplicate(const struct pstate_entry *pe, const struct batch_header *h,
	       struct pstate_batch *dup)
{
	int32_t last = pstate_last_seq(h->base_sequence, h->last_offset_delta);

	if (pe->epoch != h->producer_epoch)
		return false;
	for (int i = 0; i < pe->nbatches; i++)
		if (pe->b[i].first_seq == h->base_sequence && pe->b[i].last_seq == last) {
			if (dup != NULL)
				*dup = pe->b[i];
			return true;
		}
	return false;
}

enum pstate_verdict
pstate_check(const struct pstate *ps, const struct batch_header *h, struct pstate_batch *dup,
	     const char **why)
{
	const struct pstate_entry *pe = pstate_find(ps, h->producer_id);
	int16_t cur = pe != NULL ? pe->epoch : PSTATE_NO_EPOCH;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (pe != NULL && find_duplicate(pe, h, dup))
		return PSTATE_DUPLICATE;
	if (h->producer_epoch < cur) { /* checkProducerEpoch */
		*why = "the producer's epoch is older than the last one this partition saw";
		return PSTATE_STALE_EPOCH;
	}
	if (h->producer_epoch != cur) { /* a newer epoch (or an unknown producer) */
		if (h->base_sequence != 0 && cur != PSTATE_NO_EPOCH) {
			*why = "a new producer epoch must start at sequence 0";
			return PSTATE_OUT_OF_ORDER;
		}
		return PSTATE_APPEND; /* unknown producer: any sequence (Kafka 2.5+, KIP-360) */
	}
	if (!in_sequence(pe->b[pe->nbatches - 1].last_seq, h->base_sequence)) {
		*why = "the sequence number does not follow the producer's last batch";
		return PSTATE_OUT_OF_ORDER;
	}
	return PSTATE_APPEND;
}

/* The entry idle longest (the smallest last timestamp). */
static size_t
idlest(const struct pstate *ps)
{
	size_t best = 0;

	for (size_t i = 1; i < ps->n; i++)
		if (ps->e[i].last_timestamp < ps->e[best].last_timestamp)
			best = i;
	return best;
}

static void
remove_at(struct pstate *ps, size_t i)
{
	memmove(&ps->e[i], &ps->e[i + 1], (ps->n - i - 1) * sizeof(*ps->e));
	ps->n--;
}

/* A new, empty entry for producer_id; NULL when out of memory. */
static struct pstate_entry *
insert(struct pstate *ps, int64_t producer_id)
{
	bool found;
	size_t i;

	if (ps->n >= ps->max_producers && ps->n > 0)
		remove_at(ps, idlest(ps));
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		void *p = realloc(ps->e, cap * sizeof(*ps->e));

		if (p == NULL)
			return NULL;
		ps->e = p;
		ps->cap = cap;
	}
	i = lookup(ps, producer_id, &found);
	memmove(&ps->e[i + 1], &ps->e[i], (ps->n - i) * sizeof(*ps->e));
	ps->n++;
	memset(&ps->e[i], 0, sizeof(ps->e[i]));
	ps->e[i].producer_id = producer_id;
	ps->e[i].epoch = PSTATE_NO_EPOCH;
	return &ps->e[i];
}

/* ProducerStateEntry.addBatch: a new epoch forgets the old epoch's batches. */
static void
add_batch(struct pstate_entry *pe, int16_t epoch, const struct pstate_batch *b)
{
	if (pe->epoch != epoch) {
		pe->epoch = epoch;
		pe->nbatches = 0;
	}
	if (pe->nbatches == PSTATE_BATCHES) {
		memmove(&pe->b[0], &pe->b[1], (PSTATE_BATCHES - 1) * sizeof(pe->b[0]));
		pe->nbatches--;
	}
	pe->b[pe->nbatches++] = *b;
	pe->last_timestamp = b->timestamp;
}

int
pstate_update(struct pstate *ps, const struct batch_header *h)
{
	bool found;
	size_t i = lookup(ps, h->producer_id, &found);
	struct pstate_entry *pe = found ? &ps->e[i] : insert(ps, h->producer_id);
	struct pstate_batch b = {
		.first_seq = h->base_sequence,
		.last_seq = pstate_last_seq(h->base_sequence, h->last_offset_delta),
		.first_offset = h->base_offset,
		.last_offset = batch_last_offset(h),
		.timestamp = h->max_timestamp,
	};

	if (pe == NULL)
		return KLAB_ENOMEM;
	if (pe->nbatches > 0 && b.first_offset <= pe->b[pe->nbatches - 1].last_offset)
		return KLAB_OK; /* not after the last one (a damaged replay): not recorded */
	add_batch(pe, h->producer_epoch, &b);
	return KLAB_OK;
}

void
pstate_expire(struct pstate *ps, int64_t now_ms)
{
	size_t j = 0;

	for (size_t i = 0; i < ps->n; i++)
		if (now_ms - ps->e[i].last_timestamp < ps->expiration_ms)
			ps->e[j++] = ps->e[i];
	ps->n = j;
	ps->last_expiry_ms = now_ms;
}

/* ---- snapshots ----------------------------------------------------------- */

int
pstate_snapshot_encode(const struct pstate *ps, struct buf *out)
{
	size_t start = out->len;

	buf_put_be16(out, PSTATE_SNAPSHOT_VERSION);
	buf_put_be32(out, 0); /* the CRC, below */
	buf_put_be32(out, (uint32_t)ps->n);
	for (size_t i = 0; i < ps->n; i++) {
		const struct pstate_entry *pe = &ps->e[i];
		const struct pstate_batch *b = &pe->b[pe->nbatches - 1];

		buf_put_be64(out, (uint64_t)pe->producer_id);
		buf_put_be16(out, (uint16_t)pe->epoch);
		buf_put_be32(out, (uint32_t)b->last_seq);
		buf_put_be64(out, (uint64_t)b->last_offset);
		buf_put_be32(out, (uint32_t)(b->last_offset - b->first_offset));
		buf_put_be64(out, (uint64_t)b->timestamp);
		buf_put_be32(out, (uint32_t)-1); /* coordinator_epoch: no transactions */
		buf_put_be64(out, (uint64_t)-1); /* current_txn_first_offset: none */
	}
	if (!buf_ok(out))
		return KLAB_ENOMEM;
	be32_write(out->data + start + 2, crc32c(0, out->data + start + 6, out->len - start - 6));
	return KLAB_OK;
}

/* One entry at p (PSTATE_SNAPSHOT_ENTRY bytes); false when its fields are impossible. */
static bool
decode_entry(const uint8_t *p, struct pstate_entry *pe)
{
	int32_t last_seq = (int32_t)be32_read(p + 10);
	int64_t last_offset = (int64_t)be64_read(p + 14);
	int32_t delta = (int32_t)be32_read(p + 22);
	struct pstate_batch *b = &pe->b[0];

	memset(pe, 0, sizeof(*pe));
	pe->producer_id = (int64_t)be64_read(p);
	pe->epoch = (int16_t)be16_read(p + 8);
	if (pe->producer_id < 0 || last_offset < 0 || delta < 0 || last_seq < 0 ||
	    delta > last_offset)
		return false;
	b->last_seq = last_seq;
	b->first_seq = first_seq_of(last_seq, delta);
	b->last_offset = last_offset;
	b->first_offset = last_offset - delta;
	b->timestamp = (int64_t)be64_read(p + 26);
	pe->last_timestamp = b->timestamp;
	pe->nbatches = 1;
	return true;
}

static int
corrupt(struct pstate *ps, const char **why, const char *what)
{
	pstate_clear(ps);
	if (why != NULL)
		*why = what;
	return KLAB_ECORRUPT;
}

int
pstate_snapshot_decode(struct pstate *ps, const uint8_t *p, size_t len, const char **why)
{
	uint32_t count;

	pstate_clear(ps);
	if (len < PSTATE_SNAPSHOT_HEADER)
		return corrupt(ps, why, "shorter than a snapshot header");
	if (be16_read(p) != PSTATE_SNAPSHOT_VERSION)
		return corrupt(ps, why, "an unknown snapshot version");
	if (be32_read(p + 2) != crc32c(0, p + 6, len - 6))
		return corrupt(ps, why, "the CRC does not match");
	count = be32_read(p + 6);
	if (count > ps->max_producers ||
	    (len - PSTATE_SNAPSHOT_HEADER) != (size_t)count * PSTATE_SNAPSHOT_ENTRY)
		return corrupt(ps, why, "the entry count does not match the file size");
	for (uint32_t i = 0; i < count; i++) {
		struct pstate_entry pe;
		bool found;

		if (!decode_entry(p + PSTATE_SNAPSHOT_HEADER + (size_t)i * PSTATE_SNAPSHOT_ENTRY,
				  &pe))
			return corrupt(ps, why, "an entry holds impossible offsets or sequences");
		(void)lookup(ps, pe.producer_id, &found);
		if (found)
			return corrupt(ps, why, "a producer id appears twice");
		if (insert(ps, pe.producer_id) == NULL)
			return corrupt(ps, why, "out of memory");
		*(struct pstate_entry *)pstate_find(ps, pe.producer_id) = pe;
	}
	return KLAB_OK;
}

int
pstate_check_invariants(const struct pstate *ps, const char **why)
{
	if (ps->n > ps->max_producers) {
		*why = "invariant 1: more producers than the bound";
		return KLAB_ESTATE;
	}
	for (size_t i = 0; i < ps->n; i++) {
		const struct pstate_entry *pe = &ps->e[i];

		if (i > 0 && ps->e[i - 1].producer_id >= pe->producer_id) {
			*why = "invariant 1: producer ids out of order";
			return KLAB_ESTATE;
		}
		if (pe->nbatches < 1 || pe->nbatches > PSTATE_BATCHES) {
			*why = "invariant 2: an entry without batches";
			return KLAB_ESTATE;
		}
		for (int j = 1; j < pe->nbatches; j++)
			if (pe->b[j].first_offset <= pe->b[j - 1].last_offset) {
				*why = "invariant 2: a producer's batches out of order";
				return KLAB_ESTATE;
			}
	}
	return KLAB_OK;
}
