/*
 * test_session.c - ZooKeeper sessions (src/coord/expiry.c, session.c):
 * the expiry buckets, session ids, passwords, timeout negotiation, the
 * connect handshake's session rules and the client's timers.
 *
 * The Java numbers below were derived twice: by hand from the algorithm
 * (each vector's comment shows the steps), and by this independent Python
 * implementation of java.util.Random and initializeNextSessionId, whose
 * output is the values asserted here:
 *
 *   M = (1 << 48) - 1
 *   def s32(x): x &= 0xffffffff; return x - (1 << 32) if x >> 31 else x
 *   class R:
 *       def __init__(s, seed): s.seed = (seed ^ 0x5DEECE66D) & M
 *       def next(s, bits):
 *           s.seed = (s.seed * 0x5DEECE66D + 0xB) & M
 *           return s32(s.seed >> (48 - bits))
 *       def nextInt(s): return s.next(32)
 *       def nextBytes(s, n):
 *           out = []
 *           while len(out) < n:
 *               r = s.nextInt()
 *               for k in range(min(4, n - len(out))):
 *                   out.append(r & 0xff); r >>= 8
 *           return bytes(out)
 *   R(42).nextInt(), R(0).nextInt()    # -1170105035 -1155484576
 *   R(sid ^ 0xB3415C00).nextBytes(16).hex()    # generatePasswd(sid)
 *   M64 = (1 << 64) - 1
 *   def nid(t, s): return ((((t << 24) & M64) >> 8) | (s << 56)) & M64
 *
 * new Random(42).nextInt() == -1170105035 and new Random(0).nextInt() ==
 * -1155484576 are Java's own published outputs; the Python agrees.
 *
 * Set KLAB_SEED to replay the random sweeps; failures print the seed.
 */
#include "testutil.h"

#include "coord/expiry.h"
#include "coord/session.h"

#define SEED_DEFAULT 0x5E55104Eull

static uint64_t seed;

#define CHECK(cond, ...) TU_CHECK_SEED(seed, cond, __VA_ARGS__)

static void
assert_expiry_ok(const struct expiry_queue *q)
{
	const char *why = NULL;

	if (expiry_check_invariants(q, &why) != KLAB_OK)
		fail_msg("expiry invariant %s", why);
}

static void
assert_sessions_ok(const struct zk_sessions *t)
{
	const char *why = NULL;

	if (zk_sessions_check_invariants(t, &why) != KLAB_OK)
		fail_msg("session invariant %s", why);
}

/* ---- the expiry queue ------------------------------------------------------ */

/* roundToNextInterval: the next multiple strictly after t, never t itself. */
static void
test_ch4_expiry_round_up_worked_examples(void **state)
{
	(void)state;
	assert_int_equal(expiry_round_up(0, 2000), 2000);
	assert_int_equal(expiry_round_up(1, 2000), 2000);
	assert_int_equal(expiry_round_up(1999, 2000), 2000);
	assert_int_equal(expiry_round_up(2000, 2000), 4000); /* exact: the next one */
	assert_int_equal(expiry_round_up(4100, 2000), 6000); /* 4100/2000 = 2 -> 3 x 2000 */
	assert_int_equal(expiry_round_up(10000, 3000), 12000);
	/* a session touched at 12345 with a 10000 ms timeout on a 3000 ms tick:
	 * 22345 / 3000 = 7 -> 8 x 3000 = 24000, so it lives 11655 ms */
	assert_int_equal(expiry_round_up(12345 + 10000, 3000), 24000);
}

/* A bucket is handed out only when its time has come, one per poll. */
static void
test_ch4_expiry_only_at_bucket_boundaries(void **state)
{
	struct expiry_queue q;
	int64_t out[4], at = 0;

	(void)state;
	assert_int_equal(expiry_init(&q, 1000, 4, 500), KLAB_OK);
	assert_int_equal(q.next_ms, 1000); /* round_up(500) */
	assert_int_equal(expiry_update(&q, 7, 500, 2000, &at), KLAB_OK);
	assert_int_equal(at, 3000); /* round_up(2500) */
	assert_int_equal(expiry_wait_ms(&q, 999), 1);
	assert_int_equal(expiry_poll(&q, 999, out, 4), 0);
	assert_int_equal(q.next_ms, 1000);		    /* not due: nothing moved */
	assert_int_equal(expiry_poll(&q, 1000, out, 4), 0); /* bucket 1000, empty */
	assert_int_equal(q.next_ms, 2000);
	assert_int_equal(expiry_poll(&q, 1999, out, 4), 0);
	assert_int_equal(expiry_poll(&q, 2000, out, 4), 0);
	assert_int_equal(expiry_wait_ms(&q, 2999), 1);
	assert_int_equal(expiry_poll(&q, 2999, out, 4), 0);
	assert_int_equal(expiry_get(&q, 7), 3000);
	assert_int_equal(expiry_poll(&q, 3000, out, 4), 1);
	assert_int_equal(out[0], 7);
	assert_int_equal(expiry_get(&q, 7), -1);
	assert_int_equal(q.next_ms, 4000);
	assert_expiry_ok(&q);
	expiry_free(&q);
}

/* A poll far behind the clock catches up one bucket per call. */
static void
test_ch4_expiry_late_poll_takes_one_bucket_per_call(void **state)
{
	struct expiry_queue q;
	int64_t out[4];

	(void)state;
	assert_int_equal(expiry_init(&q, 1000, 4, 0), KLAB_OK);
	assert_int_equal(expiry_update(&q, 1, 0, 500, NULL), KLAB_OK);	/* 1000 */
	assert_int_equal(expiry_update(&q, 2, 0, 2500, NULL), KLAB_OK); /* 3000 */
	assert_int_equal(expiry_poll(&q, 10000, out, 4), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(expiry_poll(&q, 10000, out, 4), 0); /* bucket 2000 */
	assert_int_equal(expiry_poll(&q, 10000, out, 4), 1); /* bucket 3000 */
	assert_int_equal(out[0], 2);
	assert_int_equal(expiry_wait_ms(&q, 10000), 0);
	expiry_free(&q);
}

/* A touch moves the element to a later bucket; the old one no longer has it. */
static void
test_ch4_expiry_touch_moves_to_later_bucket(void **state)
{
	struct expiry_queue q;
	int64_t out[4], at = 0;

	(void)state;
	assert_int_equal(expiry_init(&q, 1000, 4, 0), KLAB_OK);
	assert_int_equal(expiry_update(&q, 9, 0, 2000, &at), KLAB_OK);
	assert_int_equal(at, 3000);
	assert_int_equal(expiry_poll(&q, 1000, out, 4), 0);
	assert_int_equal(expiry_poll(&q, 2000, out, 4), 0);
	assert_int_equal(expiry_update(&q, 9, 2500, 2000, &at), KLAB_OK);
	assert_int_equal(at, 5000);			    /* round_up(4500) */
	assert_int_equal(expiry_poll(&q, 3000, out, 4), 0); /* its old bucket: empty */
	assert_int_equal(expiry_poll(&q, 4000, out, 4), 0);
	assert_int_equal(expiry_poll(&q, 5000, out, 4), 1);
	assert_int_equal(out[0], 9);
	assert_expiry_ok(&q);
	expiry_free(&q);
}

/* One bucket, one poll, ids ascending; remove takes an id out of its bucket. */
static void
test_ch4_expiry_bucket_and_remove(void **state)
{
	struct expiry_queue q;
	int64_t out[8];

	(void)state;
	assert_int_equal(expiry_init(&q, 1000, 8, 0), KLAB_OK);
	/* 1100, 1500 and 1999 all round up to 2000 */
	assert_int_equal(expiry_update(&q, 30, 100, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_update(&q, 10, 500, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_update(&q, 20, 999, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_update(&q, 40, 999, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_remove(&q, 40), 2000);
	assert_int_equal(expiry_remove(&q, 40), -1);
	assert_int_equal(expiry_poll(&q, 1000, out, 8), 0);
	assert_int_equal(expiry_poll(&q, 2000, out, 8), 3);
	assert_int_equal(out[0], 10);
	assert_int_equal(out[1], 20);
	assert_int_equal(out[2], 30);
	assert_int_equal(q.n, 0);
	expiry_free(&q);
}

/* Bounded: a full queue refuses a new element but still moves an old one. */
static void
test_ch4_expiry_full_refuses_new(void **state)
{
	struct expiry_queue q;

	(void)state;
	assert_int_equal(expiry_init(&q, 1000, 2, 0), KLAB_OK);
	assert_int_equal(expiry_update(&q, 1, 0, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_update(&q, 2, 0, 1000, NULL), KLAB_OK);
	assert_int_equal(expiry_update(&q, 3, 0, 1000, NULL), KLAB_EFULL);
	assert_int_equal(expiry_update(&q, 2, 10, 5000, NULL), KLAB_OK);
	assert_int_equal(q.n, 2);
	expiry_free(&q);
	assert_int_equal(expiry_init(&q, 0, 2, 0), KLAB_EINVAL);
	assert_int_equal(expiry_init(&q, 1000, 0, 0), KLAB_EINVAL);
}

/*
 * The model: each live id's deadline bucket, computed another way (the
 * smallest multiple of the tick strictly above now + timeout).  After the
 * clock moves and the queue is polled until nothing is due, exactly the
 * ids whose bucket is <= now have come out, in bucket order.
 */
#define SWEEP_IDS 24

static int64_t
model_bucket(int64_t t, int64_t tick)
{
	return t - t % tick + tick;
}

static void
sweep_expiry_once(uint64_t s)
{
	struct tu_rng r;
	struct expiry_queue q;
	int64_t bucket[SWEEP_IDS], now = (int64_t)(s % 5000), out[SWEEP_IDS];
	int32_t tick = 100 + (int32_t)(s % 7) * 150;

	tu_rng_init(&r, s);
	for (int i = 0; i < SWEEP_IDS; i++)
		bucket[i] = -1;
	assert_int_equal(expiry_init(&q, tick, SWEEP_IDS, now), KLAB_OK);
	for (int step = 0; step < 400; step++) {
		int id = (int)tu_rng_below(&r, SWEEP_IDS);
		uint64_t op = tu_rng_below(&r, 10);

		if (op < 6) { /* add or touch */
			int32_t to = (int32_t)tu_rng_below(&r, 8 * (uint64_t)tick);

			CHECK(expiry_update(&q, id, now, to, NULL) == KLAB_OK, "update %d", id);
			bucket[id] = model_bucket(now + to, tick);
		} else if (op < 7) {
			CHECK(expiry_remove(&q, id) == bucket[id], "remove %d", id);
			bucket[id] = -1;
		} else {
			int64_t last = -1;

			now += (int64_t)tu_rng_below(&r, 3 * (uint64_t)tick);
			while (expiry_wait_ms(&q, now) == 0) {
				size_t k = expiry_poll(&q, now, out, SWEEP_IDS);

				for (size_t j = 0; j < k; j++) {
					int64_t b = bucket[out[j]];

					CHECK(b >= 0 && b <= now,
					      "id %lld out at %lld, bucket %lld", (long long)out[j],
					      (long long)now, (long long)b);
					CHECK(b >= last, "bucket %lld after %lld", (long long)b,
					      (long long)last);
					last = b;
					bucket[out[j]] = -1;
				}
			}
			for (int i = 0; i < SWEEP_IDS; i++)
				CHECK(bucket[i] < 0 || bucket[i] > now,
				      "id %d (bucket %lld) still in", i, (long long)bucket[i]);
		}
		for (int i = 0; i < SWEEP_IDS; i++)
			CHECK(expiry_get(&q, i) == bucket[i], "step %d id %d", step, i);
		CHECK(expiry_check_invariants(&q, NULL) == KLAB_OK, "step %d", step);
	}
	expiry_free(&q);
}

static void
test_ch4_expiry_random_sweep_matches_model(void **state)
{
	uint64_t base = tu_seed(SEED_DEFAULT);

	(void)state;
	for (uint64_t i = 0; i < 50; i++) {
		seed = base + i;
		sweep_expiry_once(seed);
	}
}

/* ---- session ids --------------------------------------------------------------- */

/*
 * ((t << 24) >>> 8) | (server << 56), worked by hand:
 *   t = 1000000 = 0xF4240 (20 bits): << 24 = 0x00000F4240000000, >>> 8
 *   = 0x0000000F42400000, | 1 << 56 = 0x0100000F42400000 (nid(1000000, 1)).
 *   t = 0x123456789AB: << 24 drops the top hex digit of the 11:
 *   0x23456789AB000000, >>> 8 = 0x0023456789AB0000, | 5 << 56.
 *   t = 0x8000000000 (bit 39): << 24 sets bit 63; Java's >>> 8 gives
 *   0x0080000000000000 - an arithmetic >> 8 would give 0xFF80000000000000
 *   and bury the server id (ZOOKEEPER-1622).
 */
static void
test_ch4_session_ids_for_fixed_time_and_server(void **state)
{
	(void)state;
	assert_int_equal(zk_session_initial_id(1000000, 1), 0x0100000F42400000LL);
	assert_int_equal(zk_session_initial_id(0x123456789ABLL, 5), 0x0523456789AB0000LL);
	assert_int_equal(zk_session_initial_id(0x8000000000LL, 1), 0x0180000000000000LL);
	assert_int_equal(zk_session_initial_id(1700000000000LL, 1), 0x018BCFE568000000LL);
	assert_int_equal((uint64_t)zk_session_initial_id(1000000, 255), 0xFF00000F42400000ULL);
	assert_int_equal(zk_session_initial_id(0, 0), 0);
	/* server 128 at time 0 would be Long.MIN_VALUE, the container marker */
	assert_int_equal((uint64_t)zk_session_initial_id(0, 128), 0x8000000000000001ULL);
}

static void
test_ch4_session_create_takes_consecutive_ids(void **state)
{
	struct zk_sessions t;
	int64_t a = 0, b = 0;

	(void)state;
	assert_int_equal(zk_sessions_init(&t, 1, 2000, 8, 1000000), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 6000, 1000000, &a), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 6000, 1000001, &b), KLAB_OK);
	assert_int_equal(a, 0x0100000F42400000LL);
	assert_int_equal(b, a + 1);
	assert_sessions_ok(&t);
	zk_sessions_free(&t);
	assert_int_equal(zk_sessions_init(&t, 256, 2000, 8, 0), KLAB_EINVAL);
}

/* ---- java.util.Random and passwords ----------------------------------------- */

static void
test_ch4_jrandom_matches_java(void **state)
{
	struct zk_jrandom r;
	uint8_t b[5];
	const uint8_t want5[5] = { 0x35, 0x9d, 0x41, 0xba, 0xf7 };

	(void)state;
	zk_jrandom_init(&r, 42);
	assert_int_equal(zk_jrandom_next_int(&r), -1170105035);
	assert_int_equal(zk_jrandom_next_int(&r), 234785527);
	assert_int_equal(zk_jrandom_next_int(&r), -1360544799);
	assert_int_equal(zk_jrandom_next_int(&r), 205897768);
	zk_jrandom_init(&r, 0);
	assert_int_equal(zk_jrandom_next_int(&r), -1155484576);
	/*
	 * nextBytes(5) from Random(42): the first int -1170105035 is
	 * 0xBA419D35, its bytes low first 35 9d 41 ba; the second, 234785527 =
	 * 0x0DFE8AF7, gives one byte, f7, and the rest of it is thrown away.
	 */
	zk_jrandom_init(&r, 42);
	zk_jrandom_next_bytes(&r, b, sizeof(b));
	assert_memory_equal(b, want5, sizeof(b));
}

static void
hex16(const char *hex, uint8_t out[16])
{
	for (int i = 0; i < 16; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/*
 * generatePasswd(1), by hand: seed = 1 ^ 0xB3415C00 = 0xB3415C01;
 * scrambled: ^ 0x5DEECE66D = 0x56DADBA6C.  Each step seed = seed *
 * 0x5DEECE66D + 0xB mod 2^48, int = seed >> 16:
 *   0x4AC74C056807 -> 0x4AC74C05 -> bytes 05 4c c7 4a
 *   0xB27D32379506 -> 0xB27D3237 -> 37 32 7d b2
 *   0xE202E715D799 -> 0xE202E715 -> 15 e7 02 e2
 *   0x05F0730C4230 -> 0x05F0730C -> 0c 73 f0 05
 */
static void
test_ch4_session_passwords_of_known_ids(void **state)
{
	static const struct {
		uint64_t id;
		const char *hex;
	} v[] = {
		{ 1, "054cc74a37327db215e702e20c73f005" },
		{ 0x0100000000000000ULL, "f22acd4a97e69d6d20a49bb638eadb38" },
		{ 0x01000186a0000000ULL, "f20adcf7974633fa20847546384ae0b7" },
	};
	uint8_t got[16], want[16];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex16(v[i].hex, want);
		zk_session_passwd((int64_t)v[i].id, got);
		assert_memory_equal(got, want, 16);
		assert_true(zk_session_check_passwd((int64_t)v[i].id, want, 16));
		want[15] ^= 1;
		assert_false(zk_session_check_passwd((int64_t)v[i].id, want, 16));
	}
	zk_session_passwd(1, got);
	assert_false(zk_session_check_passwd(1, got, 15)); /* lengths differ */
	assert_false(zk_session_check_passwd(2, got, 16));
	zk_session_passwd(0, got);
	assert_false(zk_session_check_passwd(0, got, 16)); /* id 0 never checks */
}

/* ---- negotiation and connecting --------------------------------------------- */

static void
test_ch4_negotiation_clamps_to_min_and_max(void **state)
{
	struct zk_timeouts to;

	(void)state;
	assert_int_equal(zk_timeouts_init(&to, 2000, -1, -1), KLAB_OK);
	assert_int_equal(to.min_ms, 4000);  /* 2 x tick */
	assert_int_equal(to.max_ms, 40000); /* 20 x tick */
	assert_int_equal(zk_timeouts_negotiate(&to, 1000), 4000);
	assert_int_equal(zk_timeouts_negotiate(&to, -5), 4000);
	assert_int_equal(zk_timeouts_negotiate(&to, 4000), 4000);
	assert_int_equal(zk_timeouts_negotiate(&to, 30000), 30000);
	assert_int_equal(zk_timeouts_negotiate(&to, 40001), 40000);
	assert_int_equal(zk_timeouts_negotiate(&to, INT32_MAX), 40000);
	assert_int_equal(zk_timeouts_init(&to, 2000, 1000, 9000), KLAB_OK);
	assert_int_equal(zk_timeouts_negotiate(&to, 500), 1000);
	assert_int_equal(zk_timeouts_negotiate(&to, 10000), 9000);
	assert_int_equal(zk_timeouts_init(&to, 2000, 9000, 8000), KLAB_ECONFIG);
	assert_int_equal(zk_timeouts_init(&to, 0, -1, -1), KLAB_ECONFIG);
}

static void
assert_refused(const struct zk_connect_reply *r)
{
	uint8_t zero[ZK_PASSWD_LEN] = { 0 };

	assert_int_equal(r->timeout_ms, 0);
	assert_int_equal(r->session_id, 0);
	assert_memory_equal(r->passwd, zero, ZK_PASSWD_LEN);
}

static void
test_ch4_connect_new_then_reattach(void **state)
{
	struct zk_sessions t;
	struct zk_timeouts to;
	struct zk_connect_reply r, r2;
	uint8_t pw[ZK_PASSWD_LEN];

	(void)state;
	assert_int_equal(zk_timeouts_init(&to, 2000, -1, -1), KLAB_OK);
	assert_int_equal(zk_sessions_init(&t, 3, 2000, 8, 5000), KLAB_OK);
	assert_int_equal(zk_sessions_connect(&t, &to, 0, pw, 0, 1000, 5000, &r), KLAB_OK);
	assert_int_equal(r.timeout_ms, 4000);
	assert_int_equal(r.session_id, zk_session_initial_id(5000, 3));
	zk_session_passwd(r.session_id, pw);
	assert_memory_equal(r.passwd, pw, ZK_PASSWD_LEN);
	assert_int_equal(zk_sessions_get(&t, r.session_id)->timeout_ms, 4000);
	/* re-attach asking for 30 s: the reply carries the new negotiation */
	assert_int_equal(zk_sessions_connect(&t, &to, r.session_id, r.passwd, 16, 30000, 6000, &r2),
			 KLAB_OK);
	assert_int_equal(r2.timeout_ms, 30000);
	assert_int_equal(r2.session_id, r.session_id);
	assert_memory_equal(r2.passwd, pw, ZK_PASSWD_LEN);
	assert_int_equal(expiry_get(&t.queue, r.session_id), 38000);	       /* round_up(36000) */
	assert_int_equal(zk_sessions_get(&t, r.session_id)->timeout_ms, 4000); /* as created */
	assert_sessions_ok(&t);
	zk_sessions_free(&t);
}

static void
test_ch4_connect_reattach_refusals(void **state)
{
	struct zk_sessions t;
	struct zk_timeouts to;
	struct zk_connect_reply r, bad;
	uint8_t pw[ZK_PASSWD_LEN];
	int64_t out[8];
	int64_t gone;

	(void)state;
	assert_int_equal(zk_timeouts_init(&to, 2000, -1, -1), KLAB_OK);
	assert_int_equal(zk_sessions_init(&t, 1, 2000, 8, 0), KLAB_OK);
	assert_int_equal(zk_sessions_connect(&t, &to, 0, NULL, 0, 4000, 0, &r), KLAB_OK);
	memcpy(pw, r.passwd, ZK_PASSWD_LEN);
	pw[0] ^= 0xff; /* wrong password */
	assert_int_equal(zk_sessions_connect(&t, &to, r.session_id, pw, 16, 4000, 10, &bad),
			 KLAB_ENOTFOUND);
	assert_refused(&bad);
	assert_int_equal(zk_sessions_connect(&t, &to, r.session_id, r.passwd, 8, 4000, 10, &bad),
			 KLAB_ENOTFOUND); /* short password */
	assert_refused(&bad);
	/* an unknown id with its own good password */
	gone = r.session_id + 100;
	zk_session_passwd(gone, pw);
	assert_int_equal(zk_sessions_connect(&t, &to, gone, pw, 16, 4000, 10, &bad),
			 KLAB_ENOTFOUND);
	assert_refused(&bad);
	/* expired: bucket round_up(4000) = 6000 is polled, the session closing */
	assert_int_equal(zk_sessions_expire(&t, 6000, out, 8), 0); /* catching up: 2000 */
	assert_int_equal(zk_sessions_expire(&t, 6000, out, 8), 0); /* 4000 */
	assert_int_equal(zk_sessions_expire(&t, 6000, out, 8), 1); /* 6000 */
	assert_int_equal(out[0], r.session_id);
	assert_true(zk_sessions_get(&t, r.session_id)->closing);
	assert_int_equal(zk_sessions_connect(&t, &to, r.session_id, r.passwd, 16, 4000, 6000, &bad),
			 KLAB_ENOTFOUND);
	assert_refused(&bad);
	assert_sessions_ok(&t);
	zk_sessions_remove(&t, r.session_id);
	assert_null(zk_sessions_get(&t, r.session_id));
	assert_sessions_ok(&t);
	zk_sessions_free(&t);
}

/* ---- the tracker --------------------------------------------------------------- */

static void
test_ch4_touch_refused_when_closing_or_unknown(void **state)
{
	struct zk_sessions t;
	int64_t id = 0, out[4];

	(void)state;
	assert_int_equal(zk_sessions_init(&t, 1, 1000, 4, 0), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 3000, 0, &id), KLAB_OK);
	assert_true(zk_sessions_touch(&t, id, 3000, 2500)); /* now due at 6000 */
	assert_false(zk_sessions_touch(&t, id + 1, 3000, 2500));
	zk_sessions_set_closing(&t, id);
	assert_false(zk_sessions_touch(&t, id, 3000, 2600));
	assert_int_equal(expiry_get(&t.queue, id), 6000); /* the refused touch moved nothing */
	assert_int_equal(zk_sessions_expire(&t, 2600, out, 4), 0); /* bucket 1000 */
	assert_int_equal(zk_sessions_expire(&t, 2600, out, 4), 0); /* bucket 2000 */
	for (int64_t now = 3000; now < 6000; now += 1000)
		assert_int_equal(zk_sessions_expire(&t, now, out, 4), 0);
	assert_int_equal(zk_sessions_expire(&t, 6000, out, 4), 1);
	assert_sessions_ok(&t);
	zk_sessions_remove(&t, id);
	zk_sessions_remove(&t, id); /* twice: nothing */
	assert_int_equal(t.n, 0);
	zk_sessions_free(&t);
}

static void
test_ch4_sessions_list_and_bound(void **state)
{
	struct zk_sessions t;
	struct zk_session l[3];
	int64_t id;
	bool added = false;

	(void)state;
	assert_int_equal(zk_sessions_init(&t, 0, 1000, 3, 0), KLAB_OK);
	assert_int_equal(zk_sessions_track(&t, 900, 5000, 0, &added), KLAB_OK);
	assert_true(added);
	assert_int_equal(zk_sessions_track(&t, 300, 7000, 0, &added), KLAB_OK);
	assert_int_equal(zk_sessions_track(&t, 900, 5000, 10, &added), KLAB_OK);
	assert_false(added);
	assert_int_equal(zk_sessions_track(&t, 600, 6000, 10, NULL), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 4000, 20, &id), KLAB_EFULL);
	assert_int_equal(zk_sessions_track(&t, 700, 4000, 20, NULL), KLAB_EFULL);
	assert_int_equal(zk_sessions_list(&t, l, 3), 3);
	assert_int_equal(l[0].id, 300);
	assert_int_equal(l[0].timeout_ms, 7000);
	assert_int_equal(l[1].id, 600);
	assert_int_equal(l[2].id, 900);
	assert_int_equal(l[2].timeout_ms, 5000);
	assert_sessions_ok(&t);
	zk_sessions_free(&t);
}

/*
 * The tracker against a model: open sessions touched, closed, removed and
 * expired at random; a touch of a closing session is refused, and expiry
 * takes exactly the sessions whose model bucket has come.
 */
struct msess {
	int64_t id, bucket; /* bucket -1: not in the queue */
	bool live, closing;
};

static void
sweep_tracker_step(struct zk_sessions *t, struct msess *m, int *nm, struct tu_rng *r, int64_t *now,
		   int32_t tick)
{
	uint64_t op = tu_rng_below(r, 10);
	int i = *nm > 0 ? (int)tu_rng_below(r, (uint64_t)*nm) : 0;
	int32_t to = 1 + (int32_t)tu_rng_below(r, 6 * (uint64_t)tick);
	int64_t out[16];

	if (op < 2 && *nm < 16) {
		struct msess *s = &m[(*nm)++];

		CHECK(zk_sessions_create(t, to, *now, &s->id) == KLAB_OK, "create");
		*s = (struct msess){ s->id, model_bucket(*now + to, tick), true, false };
	} else if (op < 6 && *nm > 0) {
		bool ok = zk_sessions_touch(t, m[i].id, to, *now);

		CHECK(ok == (m[i].live && !m[i].closing), "touch %d", i);
		if (ok)
			m[i].bucket = model_bucket(*now + to, tick);
	} else if (op < 7 && *nm > 0) {
		zk_sessions_set_closing(t, m[i].id);
		m[i].closing = m[i].live;
	} else if (op < 8 && *nm > 0) {
		zk_sessions_remove(t, m[i].id);
		m[i].live = m[i].closing = false;
		m[i].bucket = -1;
	} else {
		*now += (int64_t)tu_rng_below(r, 2 * (uint64_t)tick);
		while (zk_sessions_wait_ms(t, *now) == 0) {
			size_t k = zk_sessions_expire(t, *now, out, 16);

			for (size_t j = 0; j < k; j++)
				for (int x = 0; x < *nm; x++)
					if (m[x].id == out[j]) {
						CHECK(m[x].live && m[x].bucket >= 0 &&
							      m[x].bucket <= *now,
						      "expired %d early", x);
						m[x].closing = true;
						m[x].bucket = -1;
					}
		}
		for (int x = 0; x < *nm; x++)
			CHECK(m[x].bucket < 0 || m[x].bucket > *now, "%d overdue", x);
	}
}

static void
test_ch4_tracker_random_sweep_matches_model(void **state)
{
	uint64_t base = tu_seed(SEED_DEFAULT);

	(void)state;
	for (uint64_t k = 0; k < 40; k++) {
		struct zk_sessions t;
		struct msess m[16];
		struct tu_rng r;
		int nm = 0;
		int64_t now = 1000;
		int32_t tick;

		seed = base + k; /* KLAB_SEED=seed replays this run first */
		tick = 200 + (int32_t)(seed % 5) * 100;
		tu_rng_init(&r, seed);
		assert_int_equal(zk_sessions_init(&t, (int64_t)(seed % 256), tick, 16, now),
				 KLAB_OK);
		for (int step = 0; step < 300; step++) {
			sweep_tracker_step(&t, m, &nm, &r, &now, tick);
			for (int x = 0; x < nm; x++) {
				const struct zk_session *s = zk_sessions_get(&t, m[x].id);

				CHECK((s != NULL) == m[x].live, "step %d session %d", step, x);
				CHECK(s == NULL || s->closing == m[x].closing, "step %d %d", step,
				      x);
				CHECK(expiry_get(&t.queue, m[x].id) == m[x].bucket, "step %d %d",
				      step, x);
			}
			CHECK(zk_sessions_check_invariants(&t, NULL) == KLAB_OK, "step %d", step);
		}
		zk_sessions_free(&t);
	}
}

/* The checkers are not vacuous: each names the rule a corruption breaks. */
static void
test_ch4_invariants_catch_corruption(void **state)
{
	struct zk_sessions t;
	int64_t a = 0, b = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(zk_sessions_init(&t, 1, 1000, 4, 0), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 3000, 0, &a), KLAB_OK);
	assert_int_equal(zk_sessions_create(&t, 3000, 0, &b), KLAB_OK);
	assert_sessions_ok(&t);
	t.queue.e[0].expiry_ms += 1; /* off the tick */
	assert_int_equal(zk_sessions_check_invariants(&t, &why), KLAB_ECORRUPT);
	assert_int_equal(why[0], '2');
	t.queue.e[0].expiry_ms -= 1;
	t.queue.e[1].id = t.queue.e[0].id; /* b lost from the queue, a twice */
	assert_int_equal(zk_sessions_check_invariants(&t, &why), KLAB_ECORRUPT);
	assert_int_equal(why[0], '2');
	t.queue.e[1].id = t.s[0].id == t.queue.e[0].id ? t.s[1].id : t.s[0].id;
	assert_sessions_ok(&t);
	t.s[1].timeout_ms = 0;
	assert_int_equal(zk_sessions_check_invariants(&t, &why), KLAB_ECORRUPT);
	assert_int_equal(why[0], '3');
	zk_sessions_free(&t);
}

/* ---- the client's timers ------------------------------------------------------ */

static void
test_ch4_client_timers(void **state)
{
	(void)state;
	assert_int_equal(zk_client_read_timeout(30000), 20000);
	assert_int_equal(zk_client_read_timeout(10000), 6666); /* 20000 / 3, truncated */
	assert_int_equal(zk_client_connect_timeout(30000, 3), 10000);
	assert_int_equal(zk_client_connect_timeout(10000, 3), 3333);
	/* read timeout 20000: ping after 10000 ms idle, less the extra second */
	assert_int_equal(zk_client_time_to_ping(20000, 0), 10000);
	assert_int_equal(zk_client_time_to_ping(20000, 1000), 9000); /* 1000 is not > 1000 */
	assert_int_equal(zk_client_time_to_ping(20000, 1001), 7999);
	assert_false(zk_client_should_ping(20000, 8999));
	assert_true(zk_client_should_ping(20000, 9000));
	/* a long read timeout still pings after 10 s without a send */
	assert_false(zk_client_should_ping(40000, 10000));
	assert_true(zk_client_should_ping(40000, 10001));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch4_expiry_round_up_worked_examples),
		cmocka_unit_test(test_ch4_expiry_only_at_bucket_boundaries),
		cmocka_unit_test(test_ch4_expiry_late_poll_takes_one_bucket_per_call),
		cmocka_unit_test(test_ch4_expiry_touch_moves_to_later_bucket),
		cmocka_unit_test(test_ch4_expiry_bucket_and_remove),
		cmocka_unit_test(test_ch4_expiry_full_refuses_new),
		cmocka_unit_test(test_ch4_expiry_random_sweep_matches_model),
		cmocka_unit_test(test_ch4_session_ids_for_fixed_time_and_server),
		cmocka_unit_test(test_ch4_session_create_takes_consecutive_ids),
		cmocka_unit_test(test_ch4_jrandom_matches_java),
		cmocka_unit_test(test_ch4_session_passwords_of_known_ids),
		cmocka_unit_test(test_ch4_negotiation_clamps_to_min_and_max),
		cmocka_unit_test(test_ch4_connect_new_then_reattach),
		cmocka_unit_test(test_ch4_connect_reattach_refusals),
		cmocka_unit_test(test_ch4_touch_refused_when_closing_or_unknown),
		cmocka_unit_test(test_ch4_sessions_list_and_bound),
		cmocka_unit_test(test_ch4_tracker_random_sweep_matches_model),
		cmocka_unit_test(test_ch4_invariants_catch_corruption),
		cmocka_unit_test(test_ch4_client_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
