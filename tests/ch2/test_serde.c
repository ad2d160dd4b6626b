/*
 * test_serde.c - key and value serializers (src/topic/serde.h; chapter 2).
 *
 * What must hold: each kind writes the bytes Kafka's Java serializer would
 * (int32 and int64 big-endian, strings as UTF-8, JSON compact with sorted
 * keys) and reads them back to the same text; invalid input - bad hex,
 * malformed UTF-8, out-of-range or non-decimal integers, broken JSON,
 * wrong-length integers - is refused with a code and a sentence that says
 * where, and leaves the output buffer as it was; null is length -1 in and
 * "null" out; no input, however random, crashes a serde.
 */
#include "testutil.h"

#include "topic/serde.h"

static const enum serde_kind all_kinds[] = { SERDE_BYTES, SERDE_STRING, SERDE_INT32, SERDE_INT64,
					     SERDE_JSON };
#define NKINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

/* Serialize text into a fresh buffer and check it gives exactly want[0..n). */
static void
expect_bytes(enum serde_kind k, const char *text, const void *want, size_t n)
{
	struct kerr e = { 0 };
	struct buf b;
	int rc;

	buf_init(&b);
	rc = serde_serialize(k, text, &b, &e);
	if (rc != KLAB_OK)
		fail_msg("%s '%s': %s", serde_name(k), text, kerr_msg(&e));
	assert_int_equal(b.len, n);
	if (n > 0)
		assert_memory_equal(b.data, want, n);
	buf_free(&b);
}

/* Deserialize p[0..len) and check the text (and its terminating '\0'). */
static void
expect_text(enum serde_kind k, const void *p, int32_t len, const char *want)
{
	struct kerr e = { 0 };
	struct buf b;
	int rc;

	buf_init(&b);
	rc = serde_deserialize(k, p, len, &b, &e);
	if (rc != KLAB_OK)
		fail_msg("%s deserialize: %s", serde_name(k), kerr_msg(&e));
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

/*
 * Serialize text, expect code, a message containing `needle`, and the
 * buffer exactly as it was (it starts with one byte already in it).
 */
static void
expect_ser_error(enum serde_kind k, const char *text, int code, const char *needle)
{
	struct kerr e = { 0 };
	struct buf b;
	int rc;

	buf_init(&b);
	buf_put_u8(&b, 0xab);
	rc = serde_serialize(k, text, &b, &e);
	if (rc != code)
		fail_msg("%s '%s': want %d got %d (%s)", serde_name(k), text, code, rc,
			 kerr_msg(&e));
	assert_int_equal(e.code, code);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("%s '%s': message '%s' lacks '%s'", serde_name(k), text, e.msg, needle);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 0xab);
	assert_int_equal(serde_serialize(k, text, &b, NULL), code); /* e may be NULL */
	assert_int_equal(b.len, 1);
	buf_free(&b);
}

/* The same for deserializing p[0..len). */
static void
expect_des_error(enum serde_kind k, const void *p, int32_t len, int code, const char *needle)
{
	struct kerr e = { 0 };
	struct buf b;
	int rc;

	buf_init(&b);
	buf_put(&b, "kept", 4);
	rc = serde_deserialize(k, p, len, &b, &e);
	if (rc != code)
		fail_msg("%s deserialize: want %d got %d (%s)", serde_name(k), code, rc,
			 kerr_msg(&e));
	assert_int_equal(e.code, code);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("%s deserialize: message '%s' lacks '%s'", serde_name(k), e.msg, needle);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "kept", 4);
	assert_int_equal(serde_deserialize(k, p, len, &b, NULL), code);
	assert_int_equal(b.len, 4);
	buf_free(&b);
}

/* text -> bytes -> text gives text back. */
static void
expect_round_trip(enum serde_kind k, const char *text)
{
	struct kerr e = { 0 };
	struct buf bytes;

	buf_init(&bytes);
	if (serde_serialize(k, text, &bytes, &e) != KLAB_OK)
		fail_msg("%s '%s': %s", serde_name(k), text, kerr_msg(&e));
	expect_text(k, bytes.data, (int32_t)bytes.len, text);
	buf_free(&bytes);
}

/* ---- names ---------------------------------------------------------------- */

static void
test_ch2_serde_parse_accepts_kafka_names_and_aliases(void **state)
{
	static const struct {
		const char *name;
		enum serde_kind k;
	} names[] = {
		{ "bytes", SERDE_BYTES },   { "string", SERDE_STRING }, { "int32", SERDE_INT32 },
		{ "integer", SERDE_INT32 }, { "int64", SERDE_INT64 },	{ "long", SERDE_INT64 },
		{ "json", SERDE_JSON },
	};
	static const char *const bad[] = {
		"", "int", "Int32", "STRING", "int16", "bytes ", "double"
	};
	enum serde_kind k;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = SERDE_JSON + 1;
		assert_int_equal(serde_parse(names[i].name, &k), KLAB_OK);
		assert_int_equal(k, names[i].k);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k = SERDE_STRING;
		assert_int_equal(serde_parse(bad[i], &k), KLAB_EINVAL);
		assert_int_equal(k, SERDE_STRING); /* untouched */
	}
	assert_string_equal(serde_name(SERDE_BYTES), "bytes");
	assert_string_equal(serde_name(SERDE_STRING), "string");
	assert_string_equal(serde_name(SERDE_INT32), "int32");
	assert_string_equal(serde_name(SERDE_INT64), "int64");
	assert_string_equal(serde_name(SERDE_JSON), "json");
	assert_string_equal(serde_name((enum serde_kind)42), "unknown");
	for (size_t i = 0; i < NKINDS; i++) { /* the name parses back to the kind */
		assert_int_equal(serde_parse(serde_name(all_kinds[i]), &k), KLAB_OK);
		assert_int_equal(k, all_kinds[i]);
	}
}

/* ---- integers --------------------------------------------------------------- */

static void
test_ch2_serde_int32_is_four_bytes_big_endian(void **state)
{
	(void)state;
	expect_bytes(SERDE_INT32, "42", "\x00\x00\x00\x2a", 4);
	expect_bytes(SERDE_INT32, "0", "\x00\x00\x00\x00", 4);
	expect_bytes(SERDE_INT32, "-1", "\xff\xff\xff\xff", 4);
	expect_bytes(SERDE_INT32, "2147483647", "\x7f\xff\xff\xff", 4);
	expect_bytes(SERDE_INT32, "-2147483648", "\x80\x00\x00\x00", 4);
	expect_bytes(SERDE_INT32, "16909060", "\x01\x02\x03\x04", 4);
	/* the value counts, not its spelling (invariant 3) */
	expect_bytes(SERDE_INT32, "+42", "\x00\x00\x00\x2a", 4);
	expect_bytes(SERDE_INT32, "00042", "\x00\x00\x00\x2a", 4);
	expect_bytes(SERDE_INT32, "-0", "\x00\x00\x00\x00", 4);
	expect_text(SERDE_INT32, "\x00\x00\x00\x2a", 4, "42");
	expect_text(SERDE_INT32, "\x80\x00\x00\x00", 4, "-2147483648");
	expect_text(SERDE_INT32, "\x7f\xff\xff\xff", 4, "2147483647");
	expect_text(SERDE_INT32, "\xff\xff\xff\xfe", 4, "-2");
}

static void
test_ch2_serde_int64_is_eight_bytes_big_endian(void **state)
{
	(void)state;
	expect_bytes(SERDE_INT64, "-1", "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	expect_bytes(SERDE_INT64, "42", "\x00\x00\x00\x00\x00\x00\x00\x2a", 8);
	expect_bytes(SERDE_INT64, "9223372036854775807", "\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
	expect_bytes(SERDE_INT64, "-9223372036854775808", "\x80\x00\x00\x00\x00\x00\x00\x00", 8);
	expect_bytes(SERDE_INT64, "3000000000", "\x00\x00\x00\x00\xb2\xd0\x5e\x00", 8);
	expect_text(SERDE_INT64, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, "-1");
	expect_text(SERDE_INT64, "\x80\x00\x00\x00\x00\x00\x00\x00", 8, "-9223372036854775808");
	expect_text(SERDE_INT64, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, "72623859790382856");
}

static void
test_ch2_serde_int_rejects_out_of_range_and_non_decimal(void **state)
{
	static const char *const not_decimal[] = { "",	  "-",	 "+",	"12a", " 1",  "1 ", "0x10",
						   "1.5", "1e3", "--1", "+-1", "abc", "٣" };

	(void)state;
	expect_ser_error(SERDE_INT32, "3000000000", KLAB_EINVAL,
			 "int32: '3000000000' is out of range");
	expect_ser_error(SERDE_INT32, "2147483648", KLAB_EINVAL, "out of range");
	expect_ser_error(SERDE_INT32, "-2147483649", KLAB_EINVAL, "out of range");
	expect_ser_error(SERDE_INT32, "99999999999999999999999999999", KLAB_EINVAL, "out of range");
	expect_ser_error(SERDE_INT64, "9223372036854775808", KLAB_EINVAL,
			 "int64: '9223372036854775808' is out of range");
	expect_ser_error(SERDE_INT64, "-9223372036854775809", KLAB_EINVAL, "out of range");
	expect_ser_error(SERDE_INT64, "18446744073709551616", KLAB_EINVAL, "out of range");
	for (size_t i = 0; i < sizeof(not_decimal) / sizeof(not_decimal[0]); i++) {
		expect_ser_error(SERDE_INT32, not_decimal[i], KLAB_EINVAL,
				 "is not a decimal integer");
		expect_ser_error(SERDE_INT64, not_decimal[i], KLAB_EINVAL,
				 "is not a decimal integer");
	}
}

static void
test_ch2_serde_deserialize_wrong_length_int_errors(void **state)
{
	static const uint8_t nine[9] = { 0 };

	(void)state;
	expect_des_error(SERDE_INT32, nine, 3, KLAB_ECORRUPT, "int32 needs 4 bytes, got 3");
	expect_des_error(SERDE_INT32, nine, 0, KLAB_ECORRUPT, "int32 needs 4 bytes, got 0");
	expect_des_error(SERDE_INT32, nine, 5, KLAB_ECORRUPT, "int32 needs 4 bytes, got 5");
	expect_des_error(SERDE_INT32, nine, 8, KLAB_ECORRUPT, "int32 needs 4 bytes, got 8");
	expect_des_error(SERDE_INT64, nine, 4, KLAB_ECORRUPT, "int64 needs 8 bytes, got 4");
	expect_des_error(SERDE_INT64, nine, 7, KLAB_ECORRUPT, "int64 needs 8 bytes, got 7");
	expect_des_error(SERDE_INT64, nine, 9, KLAB_ECORRUPT, "int64 needs 8 bytes, got 9");
	expect_des_error(SERDE_INT64, NULL, 0, KLAB_ECORRUPT, "int64 needs 8 bytes, got 0");
}

/* ---- bytes ------------------------------------------------------------------ */

static void
test_ch2_serde_bytes_are_text_or_hex(void **state)
{
	(void)state;
	expect_bytes(SERDE_BYTES, "hello", "hello", 5);
	expect_bytes(SERDE_BYTES, "", "", 0);
	expect_bytes(SERDE_BYTES, "0x00ff41", "\x00\xff\x41", 3);
	expect_bytes(SERDE_BYTES, "0XdeadBEEF", "\xde\xad\xbe\xef", 4);
	expect_bytes(SERDE_BYTES, "0x", "", 0);
	expect_bytes(SERDE_BYTES, "0", "0", 1);
	expect_bytes(SERDE_BYTES, "x0x", "x0x", 3);
	expect_text(SERDE_BYTES, "\x00\xff\x41\x7e\x7f\x1f ", 7, "\\x00\\xffA~\\x7f\\x1f ");
	expect_text(SERDE_BYTES, "a\\b", 3, "a\\x5cb"); /* the backslash too: unambiguous */
	expect_text(SERDE_BYTES, "\xc3\xa9", 2, "\\xc3\\xa9");
	expect_text(SERDE_BYTES, "", 0, "");
	expect_text(SERDE_BYTES, NULL, 0, "");
	expect_ser_error(SERDE_BYTES, "0xabc", KLAB_EINVAL, "odd number of hex digits");
	expect_ser_error(SERDE_BYTES, "0xzz", KLAB_EINVAL, "non-hex character at offset 2");
	expect_ser_error(SERDE_BYTES, "0x0g", KLAB_EINVAL, "non-hex character at offset 3");
	expect_ser_error(SERDE_BYTES, "0x 1", KLAB_EINVAL, "non-hex character at offset 2");
	/* a bad digit after good ones: the bytes already written are taken back */
	expect_ser_error(SERDE_BYTES, "0x0011zz", KLAB_EINVAL, "non-hex character at offset 6");
}

/* ---- strings ---------------------------------------------------------------- */

static void
test_ch2_serde_string_is_utf8(void **state)
{
	static const char *const ok[] = {
		"plain ascii",
		"caf\xc3\xa9",			    /* é, 2 bytes */
		"\xe2\x82\xac 5",		    /* €, 3 bytes */
		"\xf0\x9f\x98\x80",		    /* 😀, 4 bytes */
		"\xc2\x80\xdf\xbf",		    /* U+0080, U+07FF */
		"\xe0\xa0\x80\xed\x9f\xbf",	    /* U+0800, U+D7FF (below the surrogates) */
		"\xee\x80\x80\xef\xbf\xbf",	    /* U+E000, U+FFFF */
		"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", /* U+10000, U+10FFFF */
		"back\\slash",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		expect_bytes(SERDE_STRING, ok[i], ok[i], strlen(ok[i]));
		expect_round_trip(SERDE_STRING, ok[i]);
	}
	/* control characters are shown escaped, so output stays one line */
	expect_text(SERDE_STRING, "a\tb\n", 4, "a\\x09b\\x0a");
	expect_text(SERDE_STRING, "a\0b\x7f", 4, "a\\x00b\\x7f");
}

static void
test_ch2_serde_string_rejects_invalid_utf8(void **state)
{
	static const struct {
		const char *bytes;
		const char *where; /* the offset of the bad sequence */
		const char *why;
	} bad[] = {
		{ "\xc0\x80", "at byte 0", "overlong" },	 /* U+0000 in 2 bytes */
		{ "ab\xc1\xbf", "at byte 2", "overlong" },	 /* U+007F in 2 bytes */
		{ "\xe0\x80\x80", "at byte 0", "overlong" },	 /* U+0000 in 3 bytes */
		{ "x\xe0\x9f\xbf", "at byte 1", "overlong" },	 /* U+07FF in 3 bytes */
		{ "\xf0\x80\x80\x80", "at byte 0", "overlong" }, /* in 4 bytes */
		{ "\xf0\x8f\xbf\xbf", "at byte 0", "overlong" }, /* U+FFFF in 4 bytes */
		{ "\xed\xa0\x80", "at byte 0", "surrogate" },	 /* U+D800 */
		{ "ok\xed\xbf\xbf", "at byte 2", "surrogate" },	 /* U+DFFF */
		{ "\xf4\x90\x80\x80", "at byte 0", "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", "at byte 0", "never appears" },
		{ "\xff", "at byte 0", "never appears" },
		{ "\xe2\x82", "at byte 0", "truncated" }, /* input ends inside € */
		{ "abc\xe2\x82", "at byte 3", "truncated" },
		{ "\xe2\x82x", "at byte 0", "truncated" }, /* ASCII inside € */
		{ "\xf0\x9f\x98", "at byte 0", "truncated" },
		{ "\xc3", "at byte 0", "truncated" },
		{ "\xc3\xc3\xa9", "at byte 0", "truncated" },
		{ "\x80", "at byte 0", "continuation" }, /* a lone continuation */
		{ "\xc3\xa9\xa9", "at byte 2", "continuation" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *s = bad[i].bytes;

		expect_ser_error(SERDE_STRING, s, KLAB_EINVAL, bad[i].where);
		expect_ser_error(SERDE_STRING, s, KLAB_EINVAL, bad[i].why);
		expect_ser_error(SERDE_STRING, s, KLAB_EINVAL, "string: invalid UTF-8");
		expect_des_error(SERDE_STRING, s, (int32_t)strlen(s), KLAB_ECORRUPT, bad[i].where);
		expect_des_error(SERDE_STRING, s, (int32_t)strlen(s), KLAB_ECORRUPT, bad[i].why);
	}
	/* the bytes serde does not care */
	expect_text(SERDE_BYTES, "\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
}

/* ---- JSON --------------------------------------------------------------------- */

static void
test_ch2_serde_json_is_compact_with_sorted_keys(void **state)
{
	static const char *const same[] = {
		"{\"b\":1,\"a\":[1,2]}",
		"{ \"a\" : [ 1 , 2 ] , \"b\" : 1 }",
		"\n{\n\t\"b\": 1,\n\t\"a\": [1, 2]\n}\n",
	};
	static const char canon[] = "{\"a\":[1,2],\"b\":1}";
	static const char nested[] = "{\"m\":[{\"c\":0,\"d\":0}],\"z\":{\"x\":2,\"y\":1}}";

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		expect_bytes(SERDE_JSON, same[i], canon, strlen(canon));
	expect_text(SERDE_JSON, same[2], (int32_t)strlen(same[2]), canon);
	expect_bytes(SERDE_JSON, "{\"z\":{\"y\":1,\"x\":2},\"m\":[{\"d\":0,\"c\":0}]}", nested,
		     strlen(nested));
	/* any JSON value, not only objects (Kafka's JSON serdes take a JsonNode) */
	expect_bytes(SERDE_JSON, " 42 ", "42", 2);
	expect_bytes(SERDE_JSON, "\"hi\"", "\"hi\"", 4);
	expect_bytes(SERDE_JSON, "[true, false, null]", "[true,false,null]", 17);
	expect_bytes(SERDE_JSON, "null", "null", 4); /* JSON null is 4 bytes, not a Kafka null */
	expect_bytes(SERDE_JSON, "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"", 7);
	expect_round_trip(SERDE_JSON, canon);
	expect_round_trip(SERDE_JSON, "{\"k\":-1.5,\"s\":\"\\\"q\\\"\"}");
	expect_round_trip(SERDE_JSON, "[]");
	expect_round_trip(SERDE_JSON, "{}");
}

static void
test_ch2_serde_json_canonical_form_is_a_fixed_point(void **state)
{
	static const char *const docs[] = { "0.1", "1e5", "{\"b\":[0.3,{\"d\":1}],\"a\":\"\"}",
					    "-0.0", "[1.7976931348623157e308]" };
	struct buf once, twice;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		buf_init(&once);
		buf_init(&twice);
		assert_int_equal(serde_serialize(SERDE_JSON, docs[i], &once, NULL), KLAB_OK);
		buf_put_u8(&once, 0);
		assert_int_equal(serde_serialize(SERDE_JSON, (char *)once.data, &twice, NULL),
				 KLAB_OK);
		assert_int_equal(twice.len, once.len - 1);
		assert_memory_equal(twice.data, once.data, twice.len);
		buf_free(&once);
		buf_free(&twice);
	}
}

static void
test_ch2_serde_json_errors_give_line_and_column(void **state)
{
	static const char nul_inside[] = "{\"a\":\"x\0y\"}";

	(void)state;
	expect_ser_error(SERDE_JSON, "[1,\n2,", KLAB_EINVAL, "json: line 2, column ");
	expect_ser_error(SERDE_JSON, "{\"a\":1,}", KLAB_EINVAL, "json: line 1, column 8");
	expect_ser_error(SERDE_JSON, "{\"a\":1} x", KLAB_EINVAL, "line 1, column 9");
	expect_ser_error(SERDE_JSON, "", KLAB_EINVAL, "json: line 1, column 0");
	expect_ser_error(SERDE_JSON, "{'a':1}", KLAB_EINVAL, "json: line 1, column ");
	expect_ser_error(SERDE_JSON, "{\"a\":1,\"a\":2}", KLAB_EINVAL, "duplicate object key");
	expect_ser_error(SERDE_JSON, "99999999999999999999", KLAB_EINVAL, "too big integer");
	expect_ser_error(SERDE_JSON, "\"\\u0000\"", KLAB_EINVAL, "line 1, column ");
	expect_ser_error(SERDE_JSON, "\"\xc3\"", KLAB_EINVAL, "json: line 1, column ");
	expect_des_error(SERDE_JSON, "{\"a\":", 5, KLAB_ECORRUPT, "json: line 1, column ");
	expect_des_error(SERDE_JSON, "", 0, KLAB_ECORRUPT, "json: line 1, column 0");
	expect_des_error(SERDE_JSON, NULL, 0, KLAB_ECORRUPT, "json: line 1, column 0");
	expect_des_error(SERDE_JSON, "\xff", 1, KLAB_ECORRUPT, "json: line 1, column ");
	expect_des_error(SERDE_JSON, nul_inside, (int32_t)sizeof(nul_inside) - 1, KLAB_ECORRUPT,
			 "json: line 1, column ");
	expect_des_error(SERDE_JSON, "{\"a\":1}", 3, KLAB_ECORRUPT, "json: line 1"); /* cut */
}

/* ---- null, round trips, appending, robustness -------------------------------- */

static void
test_ch2_serde_null_is_null_text_and_no_bytes(void **state)
{
	struct kerr e = { 0 };
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_put(&b, "k", 1);
	for (size_t i = 0; i < NKINDS; i++) {
		assert_int_equal(serde_serialize(all_kinds[i], NULL, &b, &e), KLAB_OK);
		assert_int_equal(b.len, 1); /* nothing: the caller records length -1 */
		expect_text(all_kinds[i], NULL, -1, "null");
		expect_text(all_kinds[i], "ignored", -1, "null");
		expect_des_error(all_kinds[i], "x", -2, KLAB_EINVAL, "length -2");
		expect_des_error(all_kinds[i], "x", INT32_MIN, KLAB_EINVAL, "length");
	}
	buf_free(&b);
}

static void
test_ch2_serde_every_kind_round_trips(void **state)
{
	static const struct {
		enum serde_kind k;
		const char *text;
	} cases[] = {
		{ SERDE_BYTES, "hello world" },
		{ SERDE_BYTES, "~ !\"#" },
		{ SERDE_STRING, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac" },
		{ SERDE_INT32, "42" },
		{ SERDE_INT32, "-2147483648" },
		{ SERDE_INT32, "2147483647" },
		{ SERDE_INT32, "0" },
		{ SERDE_INT64, "-9223372036854775808" },
		{ SERDE_INT64, "9223372036854775807" },
		{ SERDE_INT64, "-1" },
		{ SERDE_JSON, "{\"a\":[1,2],\"b\":{\"c\":null}}" },
		{ SERDE_JSON, "\"\xe2\x82\xac\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_round_trip(cases[i].k, cases[i].text);
}

static void
test_ch2_serde_appends_and_partitioner_sees_different_bytes(void **state)
{
	struct buf key32, keystr, text;

	(void)state;
	buf_init(&key32);
	buf_init(&keystr);
	buf_init(&text);
	/* key and value into one buffer, one after the other */
	assert_int_equal(serde_serialize(SERDE_INT32, "42", &key32, NULL), KLAB_OK);
	assert_int_equal(serde_serialize(SERDE_STRING, "v", &key32, NULL), KLAB_OK);
	assert_int_equal(key32.len, 5);
	assert_memory_equal(key32.data,
			    "\x00\x00\x00\x2a"
			    "v",
			    5);
	/* the same "42" through another serde: other bytes, so another hash */
	assert_int_equal(serde_serialize(SERDE_STRING, "42", &keystr, NULL), KLAB_OK);
	assert_int_equal(keystr.len, 2);
	assert_memory_equal(keystr.data, "42", 2);
	/* deserializing appends too, and keeps the '\0' after the end */
	assert_int_equal(serde_deserialize(SERDE_INT32, key32.data, 4, &text, NULL), KLAB_OK);
	assert_int_equal(serde_deserialize(SERDE_STRING, key32.data + 4, 1, &text, NULL), KLAB_OK);
	assert_string_equal((char *)text.data, "42v");
	buf_free(&key32);
	buf_free(&keystr);
	buf_free(&text);
}

static void
test_ch2_serde_unknown_kind_is_an_error(void **state)
{
	struct kerr e = { 0 };
	struct buf b;
	enum serde_kind k = (enum serde_kind)7;

	(void)state;
	buf_init(&b);
	assert_int_equal(serde_serialize(k, "1", &b, &e), KLAB_EINVAL);
	assert_non_null(strstr(e.msg, "unknown kind 7"));
	assert_int_equal(serde_serialize(k, NULL, &b, NULL), KLAB_EINVAL);
	memset(&e, 0, sizeof(e));
	assert_int_equal(serde_deserialize(k, (const uint8_t *)"1", 1, &b, &e), KLAB_EINVAL);
	assert_non_null(strstr(e.msg, "unknown kind 7"));
	assert_int_equal(serde_deserialize((enum serde_kind) - 1, NULL, -1, &b, NULL), KLAB_EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/*
 * Random bytes through every deserializer and random text through every
 * serializer: each call either succeeds or returns a negative code with a
 * message and the buffer as it was.  ASan and UBSan watch the rest.
 */
static void
test_ch2_serde_random_input_never_crashes(void **state)
{
	static const char alphabet[] = "0123456789x-+{}[]\":, ablnrtu\\\n\xc3\xa9\xed\xf0\x80\xff";
	uint64_t seed = tu_seed(0x5E7DEull);
	struct tu_rng r;
	struct buf b;
	char s[40];

	(void)state;
	tu_rng_init(&r, seed);
	buf_init(&b);
	for (int t = 0; t < 20000; t++) {
		enum serde_kind k = all_kinds[tu_rng_below(&r, NKINDS)];
		size_t n = (size_t)tu_rng_below(&r, sizeof(s));
		struct kerr e = { 0 };
		int rc;

		for (size_t i = 0; i < n; i++)
			s[i] = t % 2 ? (char)tu_rng_next(&r)
				     : alphabet[tu_rng_below(&r, sizeof(alphabet) - 1)];
		buf_reset(&b);
		rc = t % 2 ? serde_deserialize(k, (const uint8_t *)s, (int32_t)n, &b, &e)
			   : (s[n] = '\0', serde_serialize(k, s, &b, &e));
		if (rc != KLAB_OK && (rc >= 0 || e.code != rc || e.msg[0] == '\0' || b.len != 0))
			fail_msg("seed=%#" PRIx64 " t=%d: rc %d msg '%s'", seed, t, rc, e.msg);
		if (rc == KLAB_OK && t % 2)
			assert_int_equal(strlen((char *)b.data), b.len);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch2_serde_parse_accepts_kafka_names_and_aliases),
		cmocka_unit_test(test_ch2_serde_int32_is_four_bytes_big_endian),
		cmocka_unit_test(test_ch2_serde_int64_is_eight_bytes_big_endian),
		cmocka_unit_test(test_ch2_serde_int_rejects_out_of_range_and_non_decimal),
		cmocka_unit_test(test_ch2_serde_deserialize_wrong_length_int_errors),
		cmocka_unit_test(test_ch2_serde_bytes_are_text_or_hex),
		cmocka_unit_test(test_ch2_serde_string_is_utf8),
		cmocka_unit_test(test_ch2_serde_string_rejects_invalid_utf8),
		cmocka_unit_test(test_ch2_serde_json_is_compact_with_sorted_keys),
		cmocka_unit_test(test_ch2_serde_json_canonical_form_is_a_fixed_point),
		cmocka_unit_test(test_ch2_serde_json_errors_give_line_and_column),
		cmocka_unit_test(test_ch2_serde_null_is_null_text_and_no_bytes),
		cmocka_unit_test(test_ch2_serde_every_kind_round_trips),
		cmocka_unit_test(test_ch2_serde_appends_and_partitioner_sees_different_bytes),
		cmocka_unit_test(test_ch2_serde_unknown_kind_is_an_error),
		cmocka_unit_test(test_ch2_serde_random_input_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
