/*
 * test_uuid.c - Kafka's Uuid text form, both ways, and random ids.
 *
 * Vectors: Kafka's UuidTest ("UXyU9i5ARn6W00ON2taeWA", ZERO_UUID) and
 * Uuid.java (ONE_UUID, the metadata topic's id); the bytes of the first
 * checked with Python's base64.urlsafe_b64decode.
 */
#include "testutil.h"

#include "core/uuid.h"

static void
check_vector(const char *text, const char *hex)
{
	uint8_t want[UUID_BYTES], got[UUID_BYTES];
	char s[UUID_STRING_LEN + 1];

	for (int i = 0; i < UUID_BYTES; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		want[i] = (uint8_t)v;
	}
	uuid_to_string(want, s);
	assert_string_equal(s, text);
	assert_int_equal(uuid_parse(text, strlen(text), got, NULL), KLAB_OK);
	assert_memory_equal(got, want, UUID_BYTES);
}

static void
test_uuid_kafka_vectors(void **state)
{
	(void)state;
	check_vector("UXyU9i5ARn6W00ON2taeWA", "517c94f62e40467e96d3438ddad69e58");
	check_vector("AAAAAAAAAAAAAAAAAAAAAA", "00000000000000000000000000000000");
	check_vector("AAAAAAAAAAAAAAAAAAAAAQ", "00000000000000000000000000000001");
	check_vector("AAECAwQFBgcICQoLDA0ODw", "000102030405060708090a0b0c0d0e0f");
	check_vector("_____________________w", "ffffffffffffffffffffffffffffffff");
}

static void
test_uuid_reserved_ids(void **state)
{
	uint8_t id[UUID_BYTES] = { 0 };

	(void)state;
	assert_true(uuid_is_zero(id) && uuid_is_reserved(id));
	id[15] = 1;
	assert_true(!uuid_is_zero(id) && uuid_is_reserved(id));
	id[15] = 2;
	assert_false(uuid_is_reserved(id));
	id[15] = 0;
	id[0] = 1;
	assert_false(uuid_is_reserved(id));
}

static void
test_uuid_parse_refuses_what_is_never_written(void **state)
{
	static const char *const bad[] = {
		"",
		"UXyU9i5ARn6W00ON2taeW",    /* 21 */
		"UXyU9i5ARn6W00ON2taeWAA",  /* 23 */
		"UXyU9i5ARn6W00ON2taeWA==", /* padded */
		"UXyU9i5ARn6W00ON2ta+WA",   /* the other alphabet */
		"UXyU9i5ARn6W00ON2ta/WA",
		"UXyU9i5ARn6W00ON2ta WA",
		"UXyU9i5ARn6W00ON2taeWB",		       /* stray low bits */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 32 bytes' worth */
		"AAAAAA",				       /* 4 bytes' worth */
	};
	uint8_t id[UUID_BYTES];
	struct kerr e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(uuid_parse(bad[i], strlen(bad[i]), id, &e), KLAB_EINVAL);
		assert_non_null(strstr(kerr_msg(&e), "topic id"));
	}
	/* a NUL inside the 22 bytes is not a character of the alphabet */
	assert_int_equal(uuid_parse("UXyU9i5ARn6W00ON2t\0eWA", 22, id, NULL), KLAB_EINVAL);
}

static uint64_t
rng_next(void *arg)
{
	return tu_rng_next(arg);
}

/* Always returns 0: the generator must keep drawing past the zero id. */
static uint64_t
zero_then_rng(void *arg)
{
	struct tu_rng *r = arg;

	return r->s++ < 2 ? 0 : 0x0123456789abcdefull;
}

static void
test_uuid_random_is_version_4_and_never_reserved(void **state)
{
	struct tu_rng r;
	uint8_t id[UUID_BYTES], back[UUID_BYTES];
	char s[UUID_STRING_LEN + 1];

	(void)state;
	tu_rng_init(&r, 516);
	for (int i = 0; i < 10000; i++) {
		uuid_random(rng_next, &r, id);
		assert_int_equal(id[6] >> 4, 4);
		assert_int_equal(id[8] >> 6, 2);
		assert_false(uuid_is_reserved(id));
		uuid_to_string(id, s);
		assert_int_not_equal(s[0], '-');
		assert_int_equal(uuid_parse(s, strlen(s), back, NULL), KLAB_OK);
		assert_memory_equal(back, id, UUID_BYTES);
	}
	r.s = 0;
	uuid_random(zero_then_rng, &r, id); /* zero bits still give version and variant */
	assert_int_equal(id[6], 0x40);
	assert_false(uuid_is_reserved(id));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_kafka_vectors),
		cmocka_unit_test(test_uuid_reserved_ids),
		cmocka_unit_test(test_uuid_parse_refuses_what_is_never_written),
		cmocka_unit_test(test_uuid_random_is_version_4_and_never_reserved),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
