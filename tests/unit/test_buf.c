/*
 * test_buf.c - growable buffers and bounded cursors (buf.h).
 *
 * The contract under test: puts append big-endian bytes and zigzag varints;
 * a failed grow sticks; a cursor never reads outside its bytes - a read
 * past the end sets failed, returns 0 and consumes nothing, and every
 * later read fails too.
 */
#include "testutil.h"

#include "core/varint.h"

static void
test_buf_put_writes_big_endian(void **state)
{
	static const uint8_t want[] = {
		0x7f,						/* u8 */
		0x12, 0x34,					/* be16 */
		0xde, 0xad, 0xbe, 0xef,				/* be32 */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* be64 */
		'a',  'b',  'c',				/* bytes */
		0x01,						/* varint -1 */
		0x96, 0x01,					/* varint 75 -> 150 */
		0x03,						/* varlong -2 */
	};
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_put_u8(&b, 0x7f);
	buf_put_be16(&b, 0x1234);
	buf_put_be32(&b, 0xdeadbeefu);
	buf_put_be64(&b, 0x0102030405060708ull);
	buf_put(&b, "abc", 3);
	buf_put(&b, "zzz", 0); /* nothing */
	buf_put_varint(&b, -1);
	buf_put_varint(&b, 75);
	buf_put_varlong(&b, -2);
	assert_true(buf_ok(&b));
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_buf_grows_and_keeps_contents(void **state)
{
	struct buf b;
	uint8_t *kept;
	size_t cap;

	(void)state;
	buf_init(&b);
	for (int i = 0; i < 100000; i++)
		buf_put_u8(&b, (uint8_t)(i * 13));
	assert_true(buf_ok(&b));
	assert_int_equal(b.len, 100000);
	assert_true(b.cap >= b.len);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], (uint8_t)(i * 13));
	kept = b.data;
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, kept); /* reset keeps the memory */
	assert_int_equal(b.cap, cap);
	assert_true(buf_reserve(&b, cap));
	assert_ptr_equal(b.data, kept);
	buf_free(&b);
}

static void
test_buf_failed_grow_sticks(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_put_be32(&b, 1);
	assert_false(buf_reserve(&b, SIZE_MAX - 2));
	assert_false(buf_ok(&b));
	buf_put_be32(&b, 2); /* a no-op now */
	assert_int_equal(b.len, 4);
	assert_false(buf_reserve(&b, 1));
	buf_reset(&b); /* reset clears the failure */
	assert_true(buf_ok(&b));
	buf_put_u8(&b, 9);
	assert_int_equal(b.len, 1);
	buf_free(&b);
}

static void
test_buf_fixed_position_helpers(void **state)
{
	uint8_t p[8];

	(void)state;
	be16_write(p, 0xA1B2);
	assert_int_equal(p[0], 0xA1);
	assert_int_equal(p[1], 0xB2);
	assert_int_equal(be16_read(p), 0xA1B2);
	be32_write(p, 0x80000001u);
	assert_int_equal(p[0], 0x80);
	assert_int_equal(p[3], 0x01);
	assert_int_equal(be32_read(p), 0x80000001u);
	be64_write(p, 0xF00000000000000Full);
	assert_int_equal(p[0], 0xF0);
	assert_int_equal(p[7], 0x0F);
	assert_true(be64_read(p) == 0xF00000000000000Full);
	be64_write(p, (uint64_t)INT64_MIN);
	assert_true((int64_t)be64_read(p) == INT64_MIN);
}

static void
test_buf_cursor_reads_what_was_put(void **state)
{
	struct buf b;
	struct cursor c;
	const uint8_t *p;

	(void)state;
	buf_init(&b);
	buf_put_u8(&b, 200);
	buf_put_be16(&b, 65535);
	buf_put_be32(&b, 0x01020304u);
	buf_put_be64(&b, UINT64_MAX - 5);
	buf_put_varint(&b, INT32_MIN);
	buf_put_varlong(&b, INT64_MIN);
	buf_put(&b, "xyz", 3);
	cur_init(&c, b.data, b.len);
	assert_int_equal(cur_get_u8(&c), 200);
	assert_int_equal(cur_get_be16(&c), 65535);
	assert_int_equal(cur_get_be32(&c), 0x01020304u);
	assert_true(cur_get_be64(&c) == UINT64_MAX - 5);
	assert_int_equal(cur_get_varint(&c), INT32_MIN);
	assert_true(cur_get_varlong(&c) == INT64_MIN);
	p = cur_get_bytes(&c, 3);
	assert_non_null(p);
	assert_memory_equal(p, "xyz", 3);
	assert_int_equal(c.len, 0);
	assert_true(cur_ok(&c));
	buf_free(&b);
}

static void
test_buf_varint_edge_values_round_trip(void **state)
{
	static const int32_t v32[] = { 0, -1, 1, 63, -64, 64, -65, INT32_MAX, INT32_MIN };
	static const int64_t v64[] = { 0,
				       -1,
				       1,
				       INT32_MAX,
				       INT32_MIN,
				       (int64_t)INT32_MIN - 1,
				       INT64_MAX,
				       INT64_MIN,
				       INT64_MAX - 1,
				       INT64_MIN + 1 };
	struct buf b;
	struct cursor c;

	(void)state;
	buf_init(&b);
	for (size_t i = 0; i < sizeof(v32) / sizeof(v32[0]); i++) {
		buf_reset(&b);
		buf_put_varint(&b, v32[i]);
		assert_int_equal(b.len, varint_size(v32[i]));
		cur_init(&c, b.data, b.len);
		assert_int_equal(cur_get_varint(&c), v32[i]);
		assert_true(cur_ok(&c));
		assert_int_equal(c.len, 0);
	}
	for (size_t i = 0; i < sizeof(v64) / sizeof(v64[0]); i++) {
		buf_reset(&b);
		buf_put_varlong(&b, v64[i]);
		assert_int_equal(b.len, varlong_size(v64[i]));
		cur_init(&c, b.data, b.len);
		assert_true(cur_get_varlong(&c) == v64[i]);
		assert_true(cur_ok(&c));
		assert_int_equal(c.len, 0);
	}
	/* -1, Kafka's null length, is the single byte 0x01 */
	buf_reset(&b);
	buf_put_varint(&b, -1);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 0x01);
	buf_reset(&b);
	buf_put_varlong(&b, -1);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 0x01);
	/* INT32_MIN is five bytes ff ff ff ff 0f; INT64_MIN ten ending 01 */
	buf_reset(&b);
	buf_put_varint(&b, INT32_MIN);
	assert_int_equal(b.len, 5);
	assert_int_equal(b.data[4], 0x0f);
	buf_reset(&b);
	buf_put_varlong(&b, INT64_MIN);
	assert_int_equal(b.len, 10);
	assert_int_equal(b.data[9], 0x01);
	buf_free(&b);
}

static void
test_buf_cursor_past_end_fails_and_sticks(void **state)
{
	static const uint8_t three[] = { 1, 2, 3 };
	struct cursor c;

	(void)state;
	cur_init(&c, three, sizeof(three));
	assert_int_equal(cur_get_be32(&c), 0); /* 4 > 3 */
	assert_false(cur_ok(&c));
	assert_int_equal(c.len, 3); /* consumed nothing */
	assert_ptr_equal(c.p, three);
	assert_int_equal(cur_get_u8(&c), 0); /* sticky, although 3 bytes remain */
	assert_null(cur_get_bytes(&c, 1));
	assert_int_equal(cur_get_varint(&c), 0);
	assert_true(cur_get_varlong(&c) == 0);
	assert_int_equal(c.len, 3);

	cur_init(&c, three, sizeof(three));
	assert_int_equal(cur_get_be16(&c), 0x0102);
	assert_int_equal(cur_get_be16(&c), 0);
	assert_false(cur_ok(&c));
	assert_int_equal(c.len, 1);

	cur_init(&c, three, sizeof(three));
	assert_null(cur_get_bytes(&c, SIZE_MAX));
	assert_false(cur_ok(&c));

	cur_init(&c, three, 0);
	assert_true(cur_get_be64(&c) == 0);
	assert_false(cur_ok(&c));

	cur_init(&c, three, sizeof(three));
	assert_non_null(cur_get_bytes(&c, 0));
	assert_non_null(cur_get_bytes(&c, 3));
	assert_true(cur_ok(&c));
	assert_null(cur_get_bytes(&c, 1));
	assert_false(cur_ok(&c));
}

static void
test_buf_cursor_rejects_truncated_and_overlong_varints(void **state)
{
	static const uint8_t trunc[] = { 0x80, 0x80 };
	static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t over32[] = { 0xff, 0xff, 0xff, 0xff, 0x1f }; /* 33 bits */
	static const uint8_t max32[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	struct cursor c;

	(void)state;
	cur_init(&c, trunc, sizeof(trunc));
	assert_int_equal(cur_get_varint(&c), 0);
	assert_false(cur_ok(&c));
	assert_int_equal(c.len, 2);

	cur_init(&c, trunc, sizeof(trunc));
	assert_true(cur_get_varlong(&c) == 0);
	assert_false(cur_ok(&c));

	cur_init(&c, six, sizeof(six));
	cur_get_varint(&c);
	assert_false(cur_ok(&c));

	cur_init(&c, over32, sizeof(over32));
	assert_int_equal(cur_get_varint(&c), 0);
	assert_false(cur_ok(&c));
	assert_int_equal(c.len, sizeof(over32)); /* a failed read consumes nothing */

	cur_init(&c, max32, sizeof(max32));
	assert_int_equal(cur_get_varint(&c), INT32_MIN); /* zigzag of 0xffffffff */
	assert_true(cur_ok(&c));

	cur_init(&c, eleven, sizeof(eleven));
	cur_get_varlong(&c);
	assert_false(cur_ok(&c));
}

/* Parse random bytes as a mix of fields; the cursor must stay in bounds. */
static void
parse_random(const uint8_t *p, size_t n, struct tu_rng *r)
{
	struct cursor c;
	size_t left;

	cur_init(&c, p, n);
	for (int i = 0; i < 16 && cur_ok(&c); i++) {
		left = c.len;
		switch (tu_rng_below(r, 6)) {
		case 0: cur_get_u8(&c); break;
		case 1: cur_get_be16(&c); break;
		case 2: cur_get_be32(&c); break;
		case 3: cur_get_varint(&c); break;
		case 4: cur_get_varlong(&c); break;
		default: cur_get_bytes(&c, (size_t)tu_rng_below(r, 8)); break;
		}
		assert_true(c.len <= left);
		assert_ptr_equal(c.p, p + (n - c.len));
		if (!cur_ok(&c))
			assert_int_equal(c.len, left);
	}
}

static void
test_buf_cursor_never_reads_past_end(void **state)
{
	struct tu_rng r;

	(void)state;
	tu_rng_init(&r, 2024);
	/* exact-size heap copies: AddressSanitizer reports any over-read */
	for (int t = 0; t < 20000; t++) {
		size_t n = (size_t)tu_rng_below(&r, 24);
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(tu_rng_below(&r, 3) ? 0x80 | tu_rng_next(&r)
							     : tu_rng_next(&r));
		parse_random(p, n, &r);
		free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_put_writes_big_endian),
		cmocka_unit_test(test_buf_grows_and_keeps_contents),
		cmocka_unit_test(test_buf_failed_grow_sticks),
		cmocka_unit_test(test_buf_fixed_position_helpers),
		cmocka_unit_test(test_buf_cursor_reads_what_was_put),
		cmocka_unit_test(test_buf_varint_edge_values_round_trip),
		cmocka_unit_test(test_buf_cursor_past_end_fails_and_sticks),
		cmocka_unit_test(test_buf_cursor_rejects_truncated_and_overlong_varints),
		cmocka_unit_test(test_buf_cursor_never_reads_past_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
