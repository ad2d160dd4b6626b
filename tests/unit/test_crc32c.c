/*
 * test_crc32c.c - CRC-32C against published vectors, a bit-at-a-time
 * reference, and itself (incremental vs one-shot, portable vs hardware).
 *
 * Vectors: RFC 3720 (iSCSI) appendix B.4, and the "check" value of the
 * CRC catalogue (CRC-32/ISCSI of "123456789" = 0xE3069283).
 */
#include "testutil.h"

#include "core/crc32c.h"

#define SEED_DEFAULT 0xC3C32Cull

/* The definition, one bit at a time: nothing shared with crc32c.c. */
static uint32_t
crc_reference(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
	}
	return ~crc;
}

/* All three implementations (hardware only where the CPU has it). */
static void
check_all(const uint8_t *p, size_t n, uint32_t want)
{
	assert_int_equal(crc_reference(0, p, n), want);
	assert_int_equal(crc32c_portable(0, p, n), want);
	assert_int_equal(crc32c(0, p, n), want);
	if (crc32c_hardware_available())
		assert_int_equal(crc32c_hardware(0, p, n), want);
}

static void
test_crc32c_rfc3720_32_zero_bytes(void **state)
{
	uint8_t b[32];

	(void)state;
	memset(b, 0x00, sizeof(b));
	check_all(b, sizeof(b), 0x8A9136AAu);
}

static void
test_crc32c_rfc3720_32_ff_bytes(void **state)
{
	uint8_t b[32];

	(void)state;
	memset(b, 0xFF, sizeof(b));
	check_all(b, sizeof(b), 0x62A8AB43u);
}

static void
test_crc32c_rfc3720_ascending(void **state)
{
	uint8_t b[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	check_all(b, sizeof(b), 0x46DD794Eu);
}

static void
test_crc32c_rfc3720_descending(void **state)
{
	uint8_t b[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	check_all(b, sizeof(b), 0x113FDB5Cu);
}

static void
test_crc32c_check_value_123456789(void **state)
{
	(void)state;
	check_all((const uint8_t *)"123456789", 9, 0xE3069283u);
}

static void
test_crc32c_empty_input_is_identity(void **state)
{
	const uint8_t b[1] = { 0 };

	(void)state;
	check_all(b, 0, 0);
	assert_int_equal(crc32c(0xDEADBEEFu, b, 0), 0xDEADBEEFu);
	assert_int_equal(crc32c_portable(0x12345678u, b, 0), 0x12345678u);
	/* one byte changes it */
	assert_int_not_equal(crc32c(0, b, 1), 0);
}

static void
fill_random(struct tu_rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)tu_rng_next(r);
}

static void
test_crc32c_incremental_equals_one_shot(void **state)
{
	struct tu_rng r;
	uint8_t b[523];
	uint32_t whole;

	(void)state;
	tu_rng_init(&r, tu_seed(SEED_DEFAULT));
	fill_random(&r, b, sizeof(b));
	whole = crc_reference(0, b, sizeof(b));
	assert_int_equal(crc32c(0, b, sizeof(b)), whole);
	for (size_t cut = 0; cut <= sizeof(b); cut++) {
		uint32_t a = crc32c(0, b, cut);
		uint32_t pa = crc32c_portable(0, b, cut);

		assert_int_equal(crc32c(a, b + cut, sizeof(b) - cut), whole);
		assert_int_equal(crc32c_portable(pa, b + cut, sizeof(b) - cut), whole);
		if (crc32c_hardware_available()) {
			uint32_t ha = crc32c_hardware(0, b, cut);

			assert_int_equal(crc32c_hardware(ha, b + cut, sizeof(b) - cut), whole);
		}
	}
	/* three pieces, at seeded cuts */
	for (int t = 0; t < 200; t++) {
		size_t i = (size_t)tu_rng_below(&r, sizeof(b) + 1);
		size_t j = i + (size_t)tu_rng_below(&r, sizeof(b) - i + 1);
		uint32_t c = crc32c(0, b, i);

		c = crc32c(c, b + i, j - i);
		c = crc32c(c, b + j, sizeof(b) - j);
		assert_int_equal(c, whole);
	}
}

/* Lengths 0..300 and some large ones, at every alignment 0..15. */
static void
compare_on_random_buffers(bool hardware)
{
	static const size_t big[] = { 1000, 4095, 4096, 4097, 65536 + 13 };
	uint64_t seed = tu_seed(SEED_DEFAULT);
	struct tu_rng r;
	uint8_t *b = malloc(70000);

	assert_non_null(b);
	tu_rng_init(&r, seed);
	for (size_t k = 0; k < 301 + sizeof(big) / sizeof(big[0]); k++) {
		size_t len = k < 301 ? k : big[k - 301];

		for (size_t align = 0; align < 16; align++) {
			uint32_t init = (uint32_t)tu_rng_next(&r);
			uint32_t want, got;

			fill_random(&r, b + align, len);
			want = crc_reference(init, b + align, len);
			got = hardware ? crc32c_hardware(init, b + align, len)
				       : crc32c_portable(init, b + align, len);
			if (hardware && got != crc32c_portable(init, b + align, len))
				fail_msg("len %zu align %zu: hardware != portable "
					 "(reproduce with KLAB_SEED=%" PRIu64 ")",
					 len, align, seed);
			if (got != want)
				fail_msg("len %zu align %zu: %08x != %08x "
					 "(reproduce with KLAB_SEED=%" PRIu64 ")",
					 len, align, got, want, seed);
		}
	}
	free(b);
}

static void
test_crc32c_portable_matches_reference(void **state)
{
	(void)state;
	compare_on_random_buffers(false);
}

static void
test_crc32c_hardware_matches_portable(void **state)
{
	(void)state;
	if (!crc32c_hardware_available()) {
		skip(); /* the portable test above still ran */
		return;
	}
	compare_on_random_buffers(true);
}

static void
test_crc32c_detects_every_single_bit_flip(void **state)
{
	uint8_t b[64];
	uint32_t base;

	(void)state;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37);
	base = crc32c(0, b, sizeof(b));
	for (size_t i = 0; i < sizeof(b) * 8; i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(crc32c(0, b, sizeof(b)), base);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(crc32c(0, b, sizeof(b)), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_rfc3720_32_zero_bytes),
		cmocka_unit_test(test_crc32c_rfc3720_32_ff_bytes),
		cmocka_unit_test(test_crc32c_rfc3720_ascending),
		cmocka_unit_test(test_crc32c_rfc3720_descending),
		cmocka_unit_test(test_crc32c_check_value_123456789),
		cmocka_unit_test(test_crc32c_empty_input_is_identity),
		cmocka_unit_test(test_crc32c_incremental_equals_one_shot),
		cmocka_unit_test(test_crc32c_portable_matches_reference),
		cmocka_unit_test(test_crc32c_hardware_matches_portable),
		cmocka_unit_test(test_crc32c_detects_every_single_bit_flip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
