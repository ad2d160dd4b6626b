/*
 * config.h - `.properties` configuration with Kafka's key names.
 *
 * A `struct config` holds the raw key=value pairs of a Java-style
 * .properties file (with the line each came from).  A module that takes
 * settings describes them in a table of `struct config_key` (name, type,
 * default, range) and reads typed values through it; a value that does not
 * parse or is out of range is an error naming the key, the value and the
 * line, e.g.
 *
 *   server.properties:7: log.segment.bytes=abc: not an integer
 *
 * File syntax (java.util.Properties, the parts Kafka's files use): one
 * `key=value`, `key: value` or `key value` a line; blank lines and lines
 * starting with `#` or `!` are ignored; a line ending in a backslash
 * continues on the next; `\t \n \\ \= \: \#` escapes.
 */
#ifndef KLAB_CORE_CONFIG_H
#define KLAB_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fs.h"

enum config_type {
	CONFIG_INT,    /* 32-bit signed */
	CONFIG_LONG,   /* 64-bit signed */
	CONFIG_BOOL,   /* true | false */
	CONFIG_STRING, /* any text; `choices` may restrict it */
};

struct config_key {
	const char *name;
	enum config_type type;
	const char *def;	    /* default as text; NULL means "no default" */
	int64_t min, max;	    /* for INT/LONG; ignored when min > max */
	const char *const *choices; /* NULL-terminated, for STRING, or NULL */
	const char *doc;
};

struct config_entry {
	char *key;
	char *value;
	int line; /* 0 when set by a program, not read from a file */
};

struct config {
	char source[256]; /* the file name, for messages */
	struct config_entry *entries;
	size_t n, cap;
};

void config_init(struct config *c);
void config_free(struct config *c);

/* Parse .properties text; later keys override earlier ones. */
int config_parse(struct config *c, const char *text, const char *source, struct kerr *e);
int config_load_file(struct config *c, struct fs *fs, const char *path, struct kerr *e);

/* Set or replace one value (line 0). */
int config_set(struct config *c, const char *key, const char *value);

/* The raw entry for key, or NULL. */
const struct config_entry *config_find(const struct config *c, const char *key);

/* The schema entry named name in keys[0..n), or NULL. */
const struct config_key *config_key_find(const struct config_key *keys, size_t n, const char *name);

/*
 * Typed reads through a schema entry: the file's value, or the default.
 * Returns KLAB_ECONFIG (with a message naming key, value and line) when the
 * value is malformed or out of range, KLAB_ENOTFOUND when absent with no
 * default.
 */
int config_long(const struct config *c, const struct config_key *k, int64_t *out, struct kerr *e);
int config_bool(const struct config *c, const struct config_key *k, bool *out, struct kerr *e);
int config_string(const struct config *c, const struct config_key *k, const char **out,
		  struct kerr *e);

/* True when the key is set (in a file or by config_set). */
bool config_has(const struct config *c, const char *key);

/* Check every key of the schema that is set; the first error is returned. */
int config_validate(const struct config *c, const struct config_key *keys, size_t n,
		    struct kerr *e);

#endif
