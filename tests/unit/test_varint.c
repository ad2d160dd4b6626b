/*
 * test_varint.c - zigzag mapping and unsigned varints (varint.h).
 *
 * Expected bytes come from the protobuf encoding rules (7 bits a byte,
 * least significant first, high bit = more) and the zigzag table in
 * protobuf's documentation: 0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...
 */
#include "testutil.h"

#include "core/varint.h"

static void
test_varint_zigzag32_table(void **state)
{
	(void)state;
	assert_int_equal(zigzag32(0), 0);
	assert_int_equal(zigzag32(-1), 1);
	assert_int_equal(zigzag32(1), 2);
	assert_int_equal(zigzag32(-2), 3);
	assert_int_equal(zigzag32(2), 4);
	assert_int_equal(zigzag32(-64), 127);
	assert_int_equal(zigzag32(64), 128);
	assert_int_equal(zigzag32(INT32_MAX), 0xFFFFFFFEu);
	assert_int_equal(zigzag32(INT32_MIN), 0xFFFFFFFFu);
	assert_int_equal(unzigzag32(0xFFFFFFFEu), INT32_MAX);
	assert_int_equal(unzigzag32(0xFFFFFFFFu), INT32_MIN);
	assert_int_equal(unzigzag32(1), -1);
	assert_int_equal(unzigzag32(3), -2);
}

static void
test_varint_zigzag64_table(void **state)
{
	(void)state;
	assert_int_equal(zigzag64(0), 0);
	assert_int_equal(zigzag64(-1), 1);
	assert_int_equal(zigzag64(1), 2);
	assert_int_equal(zigzag64(INT64_MAX), UINT64_MAX - 1);
	assert_int_equal(zigzag64(INT64_MIN), UINT64_MAX);
	assert_true(unzigzag64(UINT64_MAX - 1) == INT64_MAX);
	assert_true(unzigzag64(UINT64_MAX) == INT64_MIN);
	assert_true(unzigzag64(1) == -1);
	assert_true(unzigzag64(4) == 2);
}

static void
test_varint_zigzag_round_trips(void **state)
{
	static const int64_t edges[] = {
		0,
		1,
		-1,
		2,
		-2,
		63,
		-64,
		64,
		-65,
		127,
		128,
		8191,
		-8192,
		8192,
		INT32_MAX,
		INT32_MIN,
		(int64_t)INT32_MAX + 1,
		(int64_t)INT32_MIN - 1,
		INT64_MAX,
		INT64_MIN,
		INT64_MAX - 1,
		INT64_MIN + 1,
	};
	struct tu_rng r;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		int64_t v = edges[i];

		assert_true(unzigzag64(zigzag64(v)) == v);
		if (v >= INT32_MIN && v <= INT32_MAX)
			assert_true(unzigzag32(zigzag32((int32_t)v)) == (int32_t)v);
	}
	tu_rng_init(&r, 7);
	for (int i = 0; i < 100000; i++) {
		uint64_t x = tu_rng_next(&r) >> tu_rng_below(&r, 64);
		int64_t v = (int64_t)x;

		assert_true(unzigzag64(zigzag64(v)) == v);
		assert_true(unzigzag32(zigzag32((int32_t)v)) == (int32_t)v);
		/* zigzag keeps small magnitudes small */
		assert_true(zigzag64(v) >> 1 == (v < 0 ? ~(uint64_t)v : (uint64_t)v));
	}
}

static void
expect_encoding(uint64_t v, const uint8_t *want, size_t n)
{
	uint8_t b[VARLONG_MAX + 2];
	uint64_t out = 0;

	memset(b, 0xAA, sizeof(b));
	assert_int_equal(uvarint_encode(b, v), n);
	assert_memory_equal(b, want, n);
	assert_int_equal(b[n], 0xAA); /* nothing written past the encoding */
	assert_int_equal(uvarint_decode(want, n, VARLONG_MAX, &out), n);
	assert_true(out == v);
}

static void
test_varint_known_encodings(void **state)
{
	static const uint8_t e0[] = { 0x00 }, e1[] = { 0x01 }, e127[] = { 0x7f };
	static const uint8_t e128[] = { 0x80, 0x01 }, e300[] = { 0xac, 0x02 };
	static const uint8_t e16383[] = { 0xff, 0x7f }, e16384[] = { 0x80, 0x80, 0x01 };
	static const uint8_t emax32[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t emax64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
	};

	(void)state;
	expect_encoding(0, e0, 1);
	expect_encoding(1, e1, 1);
	expect_encoding(127, e127, 1);
	expect_encoding(128, e128, 2);
	expect_encoding(300, e300, 2);
	expect_encoding(16383, e16383, 2);
	expect_encoding(16384, e16384, 3);
	expect_encoding(UINT32_MAX, emax32, 5);
	expect_encoding(UINT64_MAX, emax64, 10);
}

static void
test_varint_sizes(void **state)
{
	(void)state;
	assert_int_equal(varint_size(0), 1);
	assert_int_equal(varint_size(-1), 1); /* Kafka's null length: one byte */
	assert_int_equal(varint_size(63), 1);
	assert_int_equal(varint_size(-64), 1);
	assert_int_equal(varint_size(64), 2);
	assert_int_equal(varint_size(-65), 2);
	assert_int_equal(varint_size(INT32_MAX), 5);
	assert_int_equal(varint_size(INT32_MIN), 5);
	assert_int_equal(varlong_size(0), 1);
	assert_int_equal(varlong_size(-1), 1);
	assert_int_equal(varlong_size(INT32_MIN), 5);
	assert_int_equal(varlong_size((int64_t)INT32_MIN - 1), 5);
	assert_int_equal(varlong_size(INT64_MAX), 10);
	assert_int_equal(varlong_size(INT64_MIN), 10);
	/* the size agrees with the encoder for every power of two and its neighbours */
	for (int s = 0; s < 63; s++) {
		for (int64_t d = -1; d <= 1; d++) {
			int64_t v = ((int64_t)1 << s) + d;
			uint8_t b[VARLONG_MAX];

			assert_int_equal(varlong_size(v), uvarint_encode(b, zigzag64(v)));
			assert_int_equal(varlong_size(-v), uvarint_encode(b, zigzag64(-v)));
		}
	}
}

static void
test_varint_truncated_input_rejected(void **state)
{
	static const uint8_t enc[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	uint64_t out = 12345;

	(void)state;
	/* every proper prefix ends with a continuation bit set */
	for (size_t n = 0; n < sizeof(enc); n++) {
		assert_int_equal(uvarint_decode(enc, n, VARLONG_MAX, &out), 0);
		assert_true(out == 12345); /* untouched on failure */
	}
	assert_int_equal(uvarint_decode(enc, sizeof(enc), VARLONG_MAX, &out), 10);
	assert_true(out == UINT64_MAX);
}

static void
test_varint_overlong_input_rejected(void **state)
{
	/* 0 written with 6 (varint) and 11 (varlong) bytes: too long */
	static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	uint64_t out = 0;

	(void)state;
	assert_int_equal(uvarint_decode(six, sizeof(six), VARINT_MAX, &out), 0);
	assert_int_equal(uvarint_decode(six, sizeof(six), VARLONG_MAX, &out), 6);
	assert_true(out == 0);
	assert_int_equal(uvarint_decode(eleven, sizeof(eleven), VARLONG_MAX, &out), 0);
	/* the limit counts bytes, whatever the length of the input */
	assert_int_equal(uvarint_decode(six, 5, VARINT_MAX, &out), 0);
	assert_int_equal(uvarint_decode(six, sizeof(six), 0, &out), 0);
}

static void
test_varint_decode_stops_at_first_terminator(void **state)
{
	static const uint8_t two[] = { 0xac, 0x02, 0x05, 0x80 };
	uint64_t out = 0;

	(void)state;
	assert_int_equal(uvarint_decode(two, sizeof(two), VARLONG_MAX, &out), 2);
	assert_true(out == 300);
	assert_int_equal(uvarint_decode(two + 2, 2, VARLONG_MAX, &out), 1);
	assert_true(out == 5);
	assert_int_equal(uvarint_decode(two + 3, 1, VARLONG_MAX, &out), 0);
}

static void
test_varint_decode_never_reads_past_len(void **state)
{
	struct tu_rng r;

	(void)state;
	tu_rng_init(&r, 99);
	/* exact-size heap copies: AddressSanitizer reports any over-read */
	for (int t = 0; t < 20000; t++) {
		size_t n = (size_t)tu_rng_below(&r, 12);
		uint8_t *p = malloc(n ? n : 1);
		uint64_t out;
		size_t got;

		assert_non_null(p);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(tu_rng_below(&r, 4) ? 0x80 | tu_rng_next(&r)
							     : tu_rng_next(&r));
		got = uvarint_decode(p, n, VARLONG_MAX, &out);
		assert_true(got <= n);
		if (got > 0)
			assert_int_equal(p[got - 1] & 0x80, 0);
		free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_zigzag32_table),
		cmocka_unit_test(test_varint_zigzag64_table),
		cmocka_unit_test(test_varint_zigzag_round_trips),
		cmocka_unit_test(test_varint_known_encodings),
		cmocka_unit_test(test_varint_sizes),
		cmocka_unit_test(test_varint_truncated_input_rejected),
		cmocka_unit_test(test_varint_overlong_input_rejected),
		cmocka_unit_test(test_varint_decode_stops_at_first_terminator),
		cmocka_unit_test(test_varint_decode_never_reads_past_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
