/*
 * test_proto_names.c - every field name the code looks up exists in the
 * codec's tables (chapter 3 §1).
 *
 * Handler and client code reads and writes protocol fields by their
 * snake_case name: pvalue_get_int(req, "timeout_ms").  A misspelt name is
 * a programmer error the codec stops on at run time (KLAB_ASSERT in
 * proto.c), but only on a path some test happens to run.  This test reads
 * the sources instead: it scans every .c file under src/ for the calls
 * that take a field name - the pvalue_* accessors and the few wrappers
 * that pass a name on (FIELD_ARGS below) - and the string literals of
 * handlers.c's walk_shape tables, and checks that each literal is the
 * name of a field of some message of the registry (proto_api), present
 * in at least one version klab supports.  Comments are skipped.
 *
 *   scanner        a typo, a name in a comment, a ternary of two names:
 *                  the scanner sees what it must (a test of the test).
 *   sources        every name in src/ is known, and the scan found the
 *                  hundreds of call sites it should.
 *
 * The test runs from the top of the tree (as `make test-ch3` runs it);
 * KLAB_SRC names another src/ directory.
 */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>

#include "proto/kafka.h"

#define NAMES_MAX 1024
#define ARGS_MAX 16
#define SCAN_MIN_SITES 200 /* src/ has more: fewer means the scanner broke */

/* Functions that take field names, and which arguments (0-based) are names. */
static const struct field_arg {
	const char *fn;
	int arg;
} FIELD_ARGS[] = {
	{ "pvalue_get", 1 },	   { "pvalue_get_int", 1 },  { "pvalue_set_int", 1 },
	{ "pvalue_get_bytes", 1 }, { "pvalue_set_str", 1 },  { "pvalue_set_bytes", 1 },
	{ "pvalue_set_file", 1 },  { "pvalue_array", 1 },    { "str_field", 2 },
	{ "copy_str", 1 },	   { "copy_str", 3 },	     { "set_int32_list", 1 },
	{ "set_int32_array", 1 },  { "log_peer_answer", 3 }, { "topic_result", 1 },
	{ "topic_parts", 1 },	   { "topic_parts", 2 },     { "topic_parts", 3 },
};

/* ---- the names the tables know -------------------------------------------- */

struct known {
	const char *name[NAMES_MAX];
	int n;
};

/* Fields of s (and of its sub-schemas) present in some version of [lo, hi]. */
static void
collect(struct known *k, const struct pschema *s, int16_t lo, int16_t hi)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const struct pfield *f = &s->fields[i];

		if (f->min_version > hi || f->max_version < lo)
			continue; /* in no version klab speaks */
		assert_true(k->n < NAMES_MAX);
		k->name[k->n++] = f->name;
		if (f->sub != NULL)
			collect(k, f->sub, lo, hi);
	}
}

static void
known_init(struct known *k)
{
	k->n = 0;
	collect(k, &proto_request_header, 0, PV_ANY);
	collect(k, &proto_response_header, 0, PV_ANY);
	for (size_t i = 0; i < proto_api_count(); i++) {
		const struct api_desc *api = proto_api_at(i);

		collect(k, api->request, api->min_version, api->max_version);
		collect(k, api->response, api->min_version, api->max_version);
	}
}

static bool
is_known(const struct known *k, const char *name, size_t len)
{
	for (int i = 0; i < k->n; i++)
		if (strlen(k->name[i]) == len && memcmp(k->name[i], name, len) == 0)
			return true;
	return false;
}

/* ---- reading C ------------------------------------------------------------ */

/* Blank out comments (newlines kept, so line numbers hold); literals stay. */
static void
strip_comments(char *s)
{
	char quote = 0;

	for (char *p = s; *p != '\0'; p++) {
		if (quote != 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p != '\0' && *p != '\n'; p++)
				*p = ' ';
			p--;
		} else if (p[0] == '/' && p[1] == '*') {
			char *end = strstr(p + 2, "*/");
			char *stop = end != NULL ? end + 2 : p + strlen(p);

			for (; p < stop; p++)
				if (*p != '\n')
					*p = ' ';
			p--;
		}
	}
}

/* Skip the string or character literal at p; returns the byte after it. */
static const char *
skip_literal(const char *p)
{
	char quote = *p++;

	while (*p != '\0' && *p != quote)
		p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
	return *p != '\0' ? p + 1 : p;
}

/*
 * Split the argument list starting after an opening parenthesis at p into
 * at most ARGS_MAX [begin, end) ranges; returns how many (-1: unbalanced).
 */
static int
split_args(const char *p, const char **begin, const char **end)
{
	int depth = 0, n = 0;

	begin[0] = p;
	while (*p != '\0') {
		if (*p == '"' || *p == '\'') {
			p = skip_literal(p);
			continue;
		}
		if (*p == '(' || *p == '[' || *p == '{')
			depth++;
		else if ((*p == ')' || *p == ']' || *p == '}') && depth-- == 0) {
			end[n] = p;
			return n + 1;
		} else if (*p == ',' && depth == 0 && n + 1 < ARGS_MAX) {
			end[n++] = p;
			begin[n] = p + 1;
		}
		p++;
	}
	return -1;
}

/* ---- the scan ------------------------------------------------------------- */

struct scan {
	const struct known *known;
	const char *file;
	const char *text; /* comments stripped */
	int sites;	  /* names checked */
	int unknown;	  /* names not in the tables */
};

static int
line_of(const char *text, const char *at)
{
	int line = 1;

	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/* Check every string literal in [p, end). */
static void
check_literals(struct scan *sc, const char *p, const char *end)
{
	for (; p < end; p++) {
		const char *close;

		if (*p == '\'') {
			p = skip_literal(p) - 1;
			continue;
		}
		if (*p != '"')
			continue;
		close = skip_literal(p);
		sc->sites++;
		if (!is_known(sc->known, p + 1, (size_t)(close - 1 - (p + 1)))) {
			sc->unknown++;
			fprintf(stderr, "%s:%d: no message of the registry has a field %.*s\n",
				sc->file, line_of(sc->text, p), (int)(close - p), p);
		}
		p = close - 1;
	}
}

/* Every call of fa->fn: the literals of its name argument. */
static void
scan_calls(struct scan *sc, const struct field_arg *fa)
{
	size_t n = strlen(fa->fn);

	for (const char *p = strstr(sc->text, fa->fn); p != NULL; p = strstr(p + n, fa->fn)) {
		const char *q = p + n, *begin[ARGS_MAX], *end[ARGS_MAX];
		int nargs;

		if ((p > sc->text && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
		    isalnum((unsigned char)*q) || *q == '_')
			continue; /* part of a longer name */
		while (isspace((unsigned char)*q))
			q++;
		if (*q != '(' || (nargs = split_args(q + 1, begin, end)) <= fa->arg)
			continue; /* a declaration's name, a pointer, a short list */
		check_literals(sc, begin[fa->arg], end[fa->arg]);
	}
}

/* The initialisers of walk_shape tables: every literal is a field name. */
static void
scan_shapes(struct scan *sc)
{
	static const char tag[] = "struct walk_shape";

	for (const char *p = strstr(sc->text, tag); p != NULL; p = strstr(p + 1, tag)) {
		const char *eq = strchr(p, '='), *semi = strchr(p, ';');

		if (eq != NULL && semi != NULL && eq < semi)
			check_literals(sc, eq, semi);
	}
}

static void
scan_text(struct scan *sc, char *text)
{
	strip_comments(text);
	sc->text = text;
	for (size_t i = 0; i < sizeof(FIELD_ARGS) / sizeof(FIELD_ARGS[0]); i++)
		scan_calls(sc, &FIELD_ARGS[i]);
	scan_shapes(sc);
}

/* ---- tests ---------------------------------------------------------------- */

static void
scan_sample(const struct known *k, const char *sample, struct scan *sc)
{
	char *text = strdup(sample);

	assert_non_null(text);
	memset(sc, 0, sizeof(*sc));
	sc->known = k;
	sc->file = "sample.c";
	scan_text(sc, text);
	free(text);
}

static void
test_ch3_names_scanner_finds_typos_and_skips_comments(void **state)
{
	struct known k;
	struct scan sc;

	(void)state;
	known_init(&k);
	assert_true(is_known(&k, "timeout_ms", 10));
	assert_true(is_known(&k, "partition_index", 15));
	assert_false(is_known(&k, "timeout_msx", 11));
	scan_sample(&k, "x = pvalue_get_int(req, \"timeout_ms\");", &sc);
	assert_int_equal(sc.sites, 1);
	assert_int_equal(sc.unknown, 0);
	scan_sample(&k,
		    "x = pvalue_get_int(pvalue_at(pvalue_array(r, \"topics\"), 0),\n"
		    "\t\"partiton_index\");",
		    &sc);
	assert_int_equal(sc.sites, 2);
	assert_int_equal(sc.unknown, 1); /* the typo */
	scan_sample(&k, "/* pvalue_get_int(req, \"nope\") */ // pvalue_array(r, \"nope\")\n", &sc);
	assert_int_equal(sc.sites, 0);
	scan_sample(&k, "pvalue_set_str(o, \"error_message\", \"a, (message\");", &sc);
	assert_int_equal(sc.sites, 1); /* the value is not a name */
	assert_int_equal(sc.unknown, 0);
	scan_sample(&k, "log_peer_answer(b, id, resp, k == 19 ? \"topics\" : \"respones\");", &sc);
	assert_int_equal(sc.sites, 2);
	assert_int_equal(sc.unknown, 1);
	scan_sample(&k, "static const struct walk_shape s = { \"topics\", \"partitons\" };", &sc);
	assert_int_equal(sc.unknown, 1);
}

static void
scan_file(struct scan *sc, const char *path)
{
	size_t len = 0;
	uint8_t *data = tu_file_read(path, &len);
	char *text = malloc(len + 1);

	assert_non_null(data);
	assert_non_null(text);
	memcpy(text, data, len);
	text[len] = '\0';
	sc->file = path;
	scan_text(sc, text);
	free(text);
	free(data);
}

static void
scan_dir(struct scan *sc, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		fail_msg("cannot open %s: run from the top of the tree or set KLAB_SRC", dir);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			scan_dir(sc, path);
		else if (n > 2 && strcmp(de->d_name + n - 2, ".c") == 0)
			scan_file(sc, path);
	}
	closedir(d);
}

static void
test_ch3_names_every_field_name_in_src_is_in_the_tables(void **state)
{
	const char *src = getenv("KLAB_SRC");
	struct known k;
	struct scan sc = { 0 };

	(void)state;
	known_init(&k);
	sc.known = &k;
	scan_dir(&sc, src != NULL && *src != '\0' ? src : "src");
	if (sc.unknown > 0)
		fail_msg("%d field name%s in src/ not in any message (listed above)", sc.unknown,
			 sc.unknown == 1 ? "" : "s");
	if (sc.sites < SCAN_MIN_SITES)
		fail_msg("only %d field names found in src/: the scanner missed the call sites",
			 sc.sites);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ch3_names_scanner_finds_typos_and_skips_comments),
		cmocka_unit_test(test_ch3_names_every_field_name_in_src_is_in_the_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
