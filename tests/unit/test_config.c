/*
 * test_config.c - .properties parsing, typed reads, error messages
 * (config.h), and the log's Kafka settings (log_config.c).
 *
 * Parsing follows java.util.Properties: separators `=`, `:` or blanks;
 * `#`/`!` comments; a trailing backslash continues a line (but never a
 * comment line - the Properties javadoc: "a comment line cannot be
 * extended in this manner"); escapes.  A bad value's message has the form
 * "SOURCE:LINE: KEY=VALUE: reason".
 */
#include "testutil.h"

#include "core/config.h"
#include "net/disk_real.h"

/* The value of key after parsing, or NULL. */
static const char *
val(const struct config *c, const char *key)
{
	const struct config_entry *en = config_find(c, key);

	return en ? en->value : NULL;
}

static int
line_of(const struct config *c, const char *key)
{
	const struct config_entry *en = config_find(c, key);

	assert_non_null(en);
	return en->line;
}

static void
parse_ok(struct config *c, const char *text)
{
	struct kerr e = { 0 };

	config_init(c);
	if (config_parse(c, text, "test.properties", &e) != KLAB_OK)
		fail_msg("config_parse: %s", kerr_msg(&e));
}

static void
test_config_separators(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "a=1\n"
		     "b: 2\n"
		     "c 3\n"
		     "d   =   4\n"
		     "e:5\n"
		     "f\t6\n"
		     "  g = seven  \n"
		     "h = x=y:z\n"
		     "i\n"
		     "j=\n"
		     "k  :  \n");
	assert_string_equal(val(&c, "a"), "1");
	assert_string_equal(val(&c, "b"), "2");
	assert_string_equal(val(&c, "c"), "3");
	assert_string_equal(val(&c, "d"), "4");
	assert_string_equal(val(&c, "e"), "5");
	assert_string_equal(val(&c, "f"), "6");
	assert_string_equal(val(&c, "g"), "seven");
	assert_string_equal(val(&c, "h"), "x=y:z"); /* only the first separator splits */
	assert_string_equal(val(&c, "i"), "");
	assert_string_equal(val(&c, "j"), "");
	assert_string_equal(val(&c, "k"), "");
	assert_int_equal(c.n, 11);
	assert_int_equal(line_of(&c, "a"), 1);
	assert_int_equal(line_of(&c, "k"), 11);
	assert_string_equal(c.source, "test.properties");
	config_free(&c);
}

static void
test_config_comments_and_blank_lines(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "# a comment\n"
		     "! another\n"
		     "\n"
		     "   # indented comment\n"
		     "\t\n"
		     "x=1 # not a comment: part of the value\n"
		     "y=2\n");
	assert_int_equal(c.n, 2);
	assert_string_equal(val(&c, "x"), "1 # not a comment: part of the value");
	assert_string_equal(val(&c, "y"), "2");
	assert_int_equal(line_of(&c, "y"), 7);
	assert_false(config_has(&c, "#"));
	assert_false(config_has(&c, "!"));
	config_free(&c);
}

static void
test_config_continuation_lines(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "list=a,\\\n"
		     "     b,\\\n"
		     "\tc\n"
		     "after=1\n"
		     "even=ends in a backslash\\\\\n"
		     "next=2\n"
		     "last=tail\\");
	assert_string_equal(val(&c, "list"), "a,b,c");
	assert_int_equal(line_of(&c, "list"), 1); /* the line where it began */
	assert_string_equal(val(&c, "after"), "1");
	assert_int_equal(line_of(&c, "after"), 4);
	assert_string_equal(val(&c, "even"), "ends in a backslash\\");
	assert_string_equal(val(&c, "next"), "2");
	assert_int_equal(line_of(&c, "next"), 6);
	assert_string_equal(val(&c, "last"), "tail"); /* continued into end of text */
	config_free(&c);
}

static void
test_config_comment_line_never_continues(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "# a comment that ends in a backslash \\\n"
		     "kept=1\n"
		     "! so does this one\\\n"
		     "also.kept=2\n");
	assert_string_equal(val(&c, "kept"), "1");
	assert_int_equal(line_of(&c, "kept"), 2);
	assert_string_equal(val(&c, "also.kept"), "2");
	assert_int_equal(c.n, 2);
	config_free(&c);
}

static void
test_config_escapes(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "key\\=with\\:seps\\ and\\ space=v\n"
		     "tab=a\\tb\n"
		     "nl=a\\nb\n"
		     "bs=a\\\\b\n"
		     "eq=\\=x\\:y\\#z\n"
		     "plain=\\q\n");
	assert_string_equal(val(&c, "key=with:seps and space"), "v");
	assert_string_equal(val(&c, "tab"), "a\tb");
	assert_string_equal(val(&c, "nl"), "a\nb");
	assert_string_equal(val(&c, "bs"), "a\\b");
	assert_string_equal(val(&c, "eq"), "=x:y#z");
	assert_string_equal(val(&c, "plain"), "q"); /* an unknown escape is the char */
	config_free(&c);
}

static void
test_config_crlf_line_endings(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "a=1\r\n"
		     "# comment\r\n"
		     "b = two words \r\n"
		     "c=x,\\\r\n"
		     "  y\r\n"
		     "\r\n"
		     "d=4\r\n");
	assert_string_equal(val(&c, "a"), "1");
	assert_string_equal(val(&c, "b"), "two words");
	assert_string_equal(val(&c, "c"), "x,y");
	assert_string_equal(val(&c, "d"), "4");
	assert_int_equal(line_of(&c, "d"), 7);
	assert_int_equal(c.n, 4);
	config_free(&c);
}

static void
test_config_later_keys_override(void **state)
{
	struct config c;

	(void)state;
	parse_ok(&c, "a=1\nb=2\na=3\n");
	assert_int_equal(c.n, 2);
	assert_string_equal(val(&c, "a"), "3");
	assert_int_equal(line_of(&c, "a"), 3);
	assert_int_equal(config_set(&c, "a", "4"), KLAB_OK);
	assert_string_equal(val(&c, "a"), "4");
	assert_int_equal(line_of(&c, "a"), 0); /* set by a program */
	assert_int_equal(config_set(&c, "z", "26"), KLAB_OK);
	assert_int_equal(c.n, 3);
	assert_true(config_has(&c, "z"));
	assert_false(config_has(&c, "y"));
	assert_null(config_find(&c, "y"));
	config_free(&c);
	assert_int_equal(c.n, 0);
}

/* ---- typed reads ---------------------------------------------------------- */

static const char *const colours[] = { "red", "green", NULL };

static const struct config_key keys[] = {
	{ "n.int", CONFIG_INT, "7", 0, 100, NULL, "an int 0..100" },
	{ "n.long", CONFIG_LONG, "5000000000", 1, -1, NULL, "any long (min > max)" },
	{ "n.nodef", CONFIG_LONG, NULL, 0, -1, NULL, "no default" },
	{ "flag", CONFIG_BOOL, "false", 0, -1, NULL, "a bool" },
	{ "colour", CONFIG_STRING, "red", 0, -1, colours, "a choice" },
	{ "name", CONFIG_STRING, "anon", 0, -1, NULL, "free text" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct config_key *
k(const char *name)
{
	const struct config_key *key = config_key_find(keys, NKEYS, name);

	assert_non_null(key);
	return key;
}

static void
test_config_typed_reads_use_defaults(void **state)
{
	struct config c;
	struct kerr e = { 0 };
	int64_t l = 0;
	bool b = true;
	const char *s = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_long(&c, k("n.int"), &l, &e), KLAB_OK);
	assert_int_equal(l, 7);
	assert_int_equal(config_long(&c, k("n.long"), &l, &e), KLAB_OK);
	assert_true(l == 5000000000LL);
	assert_int_equal(config_bool(&c, k("flag"), &b, &e), KLAB_OK);
	assert_false(b);
	assert_int_equal(config_string(&c, k("colour"), &s, &e), KLAB_OK);
	assert_string_equal(s, "red");
	assert_int_equal(config_long(&c, k("n.nodef"), &l, &e), KLAB_ENOTFOUND);
	assert_non_null(strstr(e.msg, "n.nodef"));
	assert_null(config_key_find(keys, NKEYS, "nope"));
	assert_int_equal(config_validate(&c, keys, NKEYS, &e), KLAB_OK);
	config_free(&c);
}

static void
test_config_typed_reads_use_file_values(void **state)
{
	struct config c;
	struct kerr e = { 0 };
	int64_t l = 0;
	bool b = false;
	const char *s = NULL;

	(void)state;
	parse_ok(&c, "n.int=100\nn.long=-9223372036854775808\nn.nodef=0\n"
		     "flag=TRUE\ncolour=green\nname=  spaced name  \nunknown.key=whatever\n");
	assert_int_equal(config_long(&c, k("n.int"), &l, &e), KLAB_OK);
	assert_int_equal(l, 100);
	assert_int_equal(config_long(&c, k("n.long"), &l, &e), KLAB_OK);
	assert_true(l == INT64_MIN);
	assert_int_equal(config_long(&c, k("n.nodef"), &l, &e), KLAB_OK);
	assert_int_equal(l, 0);
	assert_int_equal(config_bool(&c, k("flag"), &b, &e), KLAB_OK);
	assert_true(b);
	assert_int_equal(config_string(&c, k("colour"), &s, &e), KLAB_OK);
	assert_string_equal(s, "green");
	assert_int_equal(config_string(&c, k("name"), &s, &e), KLAB_OK);
	assert_string_equal(s, "spaced name");
	/* keys outside the schema are some other layer's business */
	assert_int_equal(config_validate(&c, keys, NKEYS, &e), KLAB_OK);
	config_free(&c);
}

/* Parse "key=value" at line 3 of "srv.properties" and read it; check rc and msg. */
static void
expect_bad(const char *key, const char *value, const char *reason)
{
	char text[256], want[512];
	struct config c;
	struct kerr e = { 0 };
	const struct config_key *sk = k(key);
	int64_t l;
	bool b;
	const char *s;
	int rc;

	snprintf(text, sizeof(text), "# header\n\n%s=%s\n", key, value);
	config_init(&c);
	assert_int_equal(config_parse(&c, text, "srv.properties", &e), KLAB_OK);
	if (sk->type == CONFIG_BOOL)
		rc = config_bool(&c, sk, &b, &e);
	else if (sk->type == CONFIG_STRING)
		rc = config_string(&c, sk, &s, &e);
	else
		rc = config_long(&c, sk, &l, &e);
	assert_int_equal(rc, KLAB_ECONFIG);
	assert_int_equal(e.code, KLAB_ECONFIG);
	snprintf(want, sizeof(want), "srv.properties:3: %s=%s: %s", key, value, reason);
	assert_string_equal(e.msg, want);
	/* config_validate finds the same error */
	memset(&e, 0, sizeof(e));
	assert_int_equal(config_validate(&c, keys, NKEYS, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, want);
	config_free(&c);
}

static void
test_config_error_not_an_integer(void **state)
{
	(void)state;
	expect_bad("n.int", "abc", "not an integer");
	expect_bad("n.int", "12abc", "not an integer");
	expect_bad("n.int", "1.5", "not an integer");
	expect_bad("n.long", "0x10", "not an integer");
	expect_bad("n.long", "1e9", "not an integer");
}

static void
test_config_error_out_of_range(void **state)
{
	(void)state;
	expect_bad("n.int", "101", "must be between 0 and 100");
	expect_bad("n.int", "-1", "must be between 0 and 100");
	expect_bad("n.int", "2147483648", "integer out of range");
	expect_bad("n.int", "-2147483649", "integer out of range");
	expect_bad("n.long", "9223372036854775808", "integer out of range");
	expect_bad("n.long", "-9223372036854775809", "integer out of range");
	expect_bad("n.nodef", "99999999999999999999999", "integer out of range");
}

static void
test_config_error_bad_bool(void **state)
{
	(void)state;
	expect_bad("flag", "yes", "must be true or false");
	expect_bad("flag", "1", "must be true or false");
	expect_bad("flag", "truee", "must be true or false");
}

static void
test_config_error_bad_choice(void **state)
{
	(void)state;
	expect_bad("colour", "blue", "not one of the allowed values");
	expect_bad("colour", "Red", "not one of the allowed values"); /* exact match */
}

static void
test_config_error_empty_value(void **state)
{
	struct config c;
	struct kerr e = { 0 };
	int64_t l;

	(void)state;
	parse_ok(&c, "n.int=\n");
	assert_int_equal(config_long(&c, k("n.int"), &l, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, "test.properties:1: n.int=: not an integer");
	config_free(&c);
}

static void
test_config_error_from_config_set_has_no_line(void **state)
{
	struct config c;
	struct kerr e = { 0 };
	int64_t l = 42;

	(void)state;
	config_init(&c);
	assert_int_equal(config_set(&c, "n.int", " 5"), KLAB_OK);
	assert_int_equal(config_long(&c, k("n.int"), &l, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, "n.int= 5: not an integer");
	assert_int_equal(l, 42); /* untouched on error */
	config_free(&c);
}

static void
test_config_validate_reports_first_bad_key(void **state)
{
	struct config c;
	struct kerr e = { 0 };

	(void)state;
	parse_ok(&c, "flag=maybe\nn.int=abc\n");
	/* schema order: n.int comes before flag */
	assert_int_equal(config_validate(&c, keys, NKEYS, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, "test.properties:2: n.int=abc: not an integer");
	config_free(&c);
}

static void
test_config_load_file(void **state)
{
	char dir[64], path[128], want[256];
	struct config c;
	struct kerr e = { 0 };
	int64_t l;

	(void)state;
	tu_tmpdir_make(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/server.properties", dir);
	tu_file_write(path, "# server\r\nn.int = 42\r\nn.long=abc\r\n", 34);
	config_init(&c);
	assert_int_equal(config_load_file(&c, disk_real(), path, &e), KLAB_OK);
	assert_string_equal(c.source, path);
	assert_int_equal(config_long(&c, k("n.int"), &l, &e), KLAB_OK);
	assert_int_equal(l, 42);
	assert_int_equal(config_long(&c, k("n.long"), &l, &e), KLAB_ECONFIG);
	snprintf(want, sizeof(want), "%s:3: n.long=abc: not an integer", path);
	assert_string_equal(e.msg, want);
	config_free(&c);

	/* a NUL byte inside the file is refused */
	tu_file_write(path, "a=1\0b=2\n", 8);
	config_init(&c);
	assert_int_equal(config_load_file(&c, disk_real(), path, &e), KLAB_ECONFIG);
	assert_non_null(strstr(e.msg, path));
	config_free(&c);

	/* a missing file is an I/O error naming it */
	snprintf(path, sizeof(path), "%s/absent.properties", dir);
	config_init(&c);
	assert_int_equal(config_load_file(&c, disk_real(), path, &e), KLAB_EIO);
	assert_non_null(strstr(e.msg, path));
	config_free(&c);
	tu_tmpdir_remove(dir);
}

/* ---- log_config_load ------------------------------------------------------ */

static int
load_log_config(const char *text, struct log_config *lc, struct kerr *e)
{
	struct config c;
	int rc;

	config_init(&c);
	assert_int_equal(config_parse(&c, text, "server.properties", e), KLAB_OK);
	rc = log_config_load(lc, &c, e);
	config_free(&c);
	return rc;
}

static void
test_config_log_kafka_defaults(void **state)
{
	struct log_config lc, viadef;
	struct kerr e = { 0 };

	(void)state;
	memset(&lc, 0x55, sizeof(lc));
	assert_int_equal(load_log_config("", &lc, &e), KLAB_OK);
	assert_true(lc.segment_bytes == 1073741824);
	assert_true(lc.roll_ms == 168LL * 3600 * 1000);
	assert_true(lc.retention_ms == 604800000LL); /* 168 hours */
	assert_true(lc.retention_bytes == -1);
	assert_true(lc.index_interval_bytes == 4096);
	assert_true(lc.index_size_max_bytes == 10485760);
	assert_true(lc.flush_interval_messages == INT64_MAX);
	assert_true(lc.flush_interval_ms == -1);
	assert_true(lc.max_message_bytes == 1048588);
	assert_false(lc.log_append_time);
	log_config_defaults(&viadef);
	assert_true(viadef.segment_bytes == lc.segment_bytes);
	assert_true(viadef.roll_ms == lc.roll_ms);
	assert_true(viadef.retention_ms == lc.retention_ms);
	assert_true(viadef.retention_bytes == lc.retention_bytes);
	assert_true(viadef.index_interval_bytes == lc.index_interval_bytes);
	assert_true(viadef.index_size_max_bytes == lc.index_size_max_bytes);
	assert_true(viadef.flush_interval_messages == lc.flush_interval_messages);
	assert_true(viadef.flush_interval_ms == lc.flush_interval_ms);
	assert_true(viadef.max_message_bytes == lc.max_message_bytes);
	assert_true(viadef.log_append_time == lc.log_append_time);
}

static void
test_config_log_retention_precedence_ms_minutes_hours(void **state)
{
	struct log_config lc;
	struct kerr e = { 0 };

	(void)state;
	assert_int_equal(load_log_config("log.retention.hours=1\n", &lc, &e), KLAB_OK);
	assert_true(lc.retention_ms == 3600000);
	assert_int_equal(
		load_log_config("log.retention.hours=1\nlog.retention.minutes=2\n", &lc, &e),
		KLAB_OK);
	assert_true(lc.retention_ms == 120000);
	assert_int_equal(load_log_config("log.retention.minutes=2\nlog.retention.hours=1\n"
					 "log.retention.ms=1234\n",
					 &lc, &e),
			 KLAB_OK);
	assert_true(lc.retention_ms == 1234);
	assert_int_equal(load_log_config("log.retention.ms=-1\nlog.retention.hours=5\n", &lc, &e),
			 KLAB_OK);
	assert_true(lc.retention_ms == -1); /* forever */
	assert_int_equal(load_log_config("log.retention.hours=-1\n", &lc, &e), KLAB_OK);
	assert_true(lc.retention_ms == -1);
	assert_int_equal(load_log_config("log.retention.minutes=-1\n", &lc, &e), KLAB_OK);
	assert_true(lc.retention_ms == -1);
}

static void
test_config_log_roll_precedence_and_other_keys(void **state)
{
	struct log_config lc;
	struct kerr e = { 0 };

	(void)state;
	assert_int_equal(load_log_config("log.roll.hours=2\n", &lc, &e), KLAB_OK);
	assert_true(lc.roll_ms == 7200000);
	assert_int_equal(load_log_config("log.roll.hours=2\nlog.roll.ms=500\n", &lc, &e), KLAB_OK);
	assert_true(lc.roll_ms == 500);
	assert_int_equal(load_log_config("log.segment.bytes=1024\n"
					 "log.retention.bytes=4096\n"
					 "log.index.interval.bytes=100\n"
					 "log.index.size.max.bytes=64\n"
					 "log.flush.interval.messages=3\n"
					 "log.flush.interval.ms=1000\n"
					 "message.max.bytes=2000\n",
					 &lc, &e),
			 KLAB_OK);
	assert_true(lc.segment_bytes == 1024);
	assert_true(lc.retention_bytes == 4096);
	assert_true(lc.index_interval_bytes == 100);
	assert_true(lc.index_size_max_bytes == 64);
	assert_true(lc.flush_interval_messages == 3);
	assert_true(lc.flush_interval_ms == 1000);
	assert_true(lc.max_message_bytes == 2000);
}

static void
test_config_log_timestamp_type(void **state)
{
	struct log_config lc;
	struct kerr e = { 0 };

	(void)state;
	assert_int_equal(load_log_config("log.message.timestamp.type=LogAppendTime\n", &lc, &e),
			 KLAB_OK);
	assert_true(lc.log_append_time);
	assert_int_equal(load_log_config("log.message.timestamp.type=CreateTime\n", &lc, &e),
			 KLAB_OK);
	assert_false(lc.log_append_time);
	assert_int_equal(load_log_config("\nlog.message.timestamp.type=BrokerTime\n", &lc, &e),
			 KLAB_ECONFIG);
	assert_string_equal(e.msg, "server.properties:2: log.message.timestamp.type=BrokerTime:"
				   " not one of the allowed values");
}

static void
test_config_log_bad_values_name_file_line_key_value(void **state)
{
	struct log_config lc;
	struct kerr e = { 0 };

	(void)state;
	assert_int_equal(load_log_config("log.segment.bytes=10\n", &lc, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, "server.properties:1: log.segment.bytes=10: "
				   "must be between 14 and 2147483647");
	assert_int_equal(load_log_config("a=b\nlog.retention.minutes=soon\n", &lc, &e),
			 KLAB_ECONFIG);
	assert_string_equal(e.msg, "server.properties:2: log.retention.minutes=soon: "
				   "not an integer");
	/* a bad unit is reported even when a finer one wins */
	assert_int_equal(load_log_config("log.roll.ms=5\nlog.roll.hours=x\n", &lc, &e),
			 KLAB_ECONFIG);
	assert_string_equal(e.msg, "server.properties:2: log.roll.hours=x: not an integer");
	assert_int_equal(load_log_config("message.max.bytes=3000000000\n", &lc, &e), KLAB_ECONFIG);
	assert_string_equal(e.msg, "server.properties:1: message.max.bytes=3000000000: "
				   "integer out of range");
	assert_int_equal(load_log_config("log.flush.interval.ms=-5\n", &lc, &e), KLAB_ECONFIG);
	assert_non_null(strstr(e.msg, "server.properties:1: log.flush.interval.ms=-5: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_separators),
		cmocka_unit_test(test_config_comments_and_blank_lines),
		cmocka_unit_test(test_config_continuation_lines),
		cmocka_unit_test(test_config_comment_line_never_continues),
		cmocka_unit_test(test_config_escapes),
		cmocka_unit_test(test_config_crlf_line_endings),
		cmocka_unit_test(test_config_later_keys_override),
		cmocka_unit_test(test_config_typed_reads_use_defaults),
		cmocka_unit_test(test_config_typed_reads_use_file_values),
		cmocka_unit_test(test_config_error_not_an_integer),
		cmocka_unit_test(test_config_error_out_of_range),
		cmocka_unit_test(test_config_error_bad_bool),
		cmocka_unit_test(test_config_error_bad_choice),
		cmocka_unit_test(test_config_error_empty_value),
		cmocka_unit_test(test_config_error_from_config_set_has_no_line),
		cmocka_unit_test(test_config_validate_reports_first_bad_key),
		cmocka_unit_test(test_config_load_file),
		cmocka_unit_test(test_config_log_kafka_defaults),
		cmocka_unit_test(test_config_log_retention_precedence_ms_minutes_hours),
		cmocka_unit_test(test_config_log_roll_precedence_and_other_keys),
		cmocka_unit_test(test_config_log_timestamp_type),
		cmocka_unit_test(test_config_log_bad_values_name_file_line_key_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
