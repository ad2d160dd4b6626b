/*
 * config.c - .properties parsing and typed, schema-checked reads.
 *
 * The parser keeps the raw text of each value; typing happens when a
 * module reads a key through its schema.  That way one file (for example a
 * broker's server.properties) can carry the keys of every layer, and each
 * layer checks only its own.
 *
 * Invariants:
 *   1. Keys are unique in c->entries: setting a key again replaces it.
 *   2. Every message about a bad value names source, line, key and value.
 */
#include "core/config.h"

#include "core/buf.h"
#include "core/fs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->source, sizeof(c->source), "%s", "(config)");
}

void
config_free(struct config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	config_init(c);
}

static struct config_entry *
entry_find(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	return NULL;
}

static int
config_put(struct config *c, const char *key, const char *value, int line)
{
	struct config_entry *en = entry_find(c, key);
	char *v = strdup(value);

	if (v == NULL)
		return KLAB_ENOMEM;
	if (en == NULL) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			void *p = realloc(c->entries, cap * sizeof(*en));

			if (p == NULL)
				goto fail;
			c->entries = p;
			c->cap = cap;
		}
		en = &c->entries[c->n];
		en->key = strdup(key);
		if (en->key == NULL)
			goto fail;
		c->n++;
	} else {
		free(en->value);
	}
	en->value = v;
	en->line = line;
	return KLAB_OK;
fail:
	free(v);
	return KLAB_ENOMEM;
}

int
config_set(struct config *c, const char *key, const char *value)
{
	return config_put(c, key, value, 0);
}

const struct config_entry *
config_find(const struct config *c, const char *key)
{
	return entry_find(c, key);
}

bool
config_has(const struct config *c, const char *key)
{
	return entry_find(c, key) != NULL;
}

/* One escape after a backslash, as java.util.Properties reads it. */
static char
unescape(char ch)
{
	switch (ch) {
	case 't': return '\t';
	case 'n': return '\n';
	case 'r': return '\r';
	case 'f': return '\f';
	default: return ch;
	}
}

/*
 * Split one logical line (continuations already joined) into key and value,
 * unescaping both.  out must have room for strlen(line) + 2 bytes; key and
 * value point into it.
 */
static void
split_line(const char *s, char *out, char **key, char **value)
{
	char *o = out;

	while (*s && *s != '=' && *s != ':' && !isspace((unsigned char)*s)) {
		if (*s == '\\' && s[1] != '\0')
			s++, *o++ = unescape(*s++);
		else
			*o++ = *s++;
	}
	*o++ = '\0';
	*key = out;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '=' || *s == ':')
		s++;
	while (isspace((unsigned char)*s))
		s++;
	*value = o;
	while (*s) {
		if (*s == '\\' && s[1] != '\0')
			s++, *o++ = unescape(*s++);
		else
			*o++ = *s++;
	}
	while (o > *value && isspace((unsigned char)o[-1]))
		o--;
	*o = '\0';
}

/* True when the line ends in an odd number of backslashes. */
static bool
continues(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[len - 1 - n] == '\\')
		n++;
	return n % 2 == 1;
}

/* True when s[0..len) is a comment line, which never continues. */
static bool
is_comment(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	return i < len && (s[i] == '#' || s[i] == '!');
}

static int
parse_logical(struct config *c, const char *logical, int line, struct kerr *e)
{
	const char *s = logical;
	char *tmp, *key, *value;
	int rc;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#' || *s == '!')
		return KLAB_OK;
	tmp = malloc(strlen(s) + 2);
	if (tmp == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	split_line(s, tmp, &key, &value);
	rc = config_put(c, key, value, line);
	free(tmp);
	if (rc != KLAB_OK)
		return kerr_set(e, rc, "out of memory");
	return KLAB_OK;
}

int
config_parse(struct config *c, const char *text, const char *source, struct kerr *e)
{
	size_t cap = strlen(text) + 1, len = 0;
	char *logical = malloc(cap);
	int line = 0, first = 0, rc = KLAB_OK;

	if (logical == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	snprintf(c->source, sizeof(c->source), "%s", source);
	while (*text != '\0' && rc == KLAB_OK) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		const char *piece = text;

		line++;
		if (len == 0) {
			first = line;
		} else { /* a continuation drops its leading blanks */
			while (n > 0 && isspace((unsigned char)*piece))
				piece++, n--;
		}
		if (n > 0 && piece[n - 1] == '\r')
			n--;
		memcpy(logical + len, piece, n);
		len += n;
		if (continues(logical, len) && !is_comment(logical, len)) {
			len--; /* drop the backslash, keep reading */
		} else {
			logical[len] = '\0';
			rc = parse_logical(c, logical, first, e);
			len = 0;
		}
		text = nl ? nl + 1 : text + strlen(text);
	}
	if (rc == KLAB_OK && len > 0) {
		logical[len] = '\0';
		rc = parse_logical(c, logical, first, e);
	}
	free(logical);
	return rc;
}

int
config_load_file(struct config *c, struct fs *fs, const char *path, struct kerr *e)
{
	struct buf text;
	int rc;

	buf_init(&text);
	rc = fs_read_file(fs, path, (size_t)1 << 24, &text, e);
	if (rc == KLAB_ETOOLARGE)
		rc = kerr_set(e, KLAB_EIO, "%s: cannot read (or larger than 16 MiB)", path);
	else if (rc == KLAB_ENOTFOUND)
		rc = kerr_set(e, KLAB_EIO, "%s: cannot open: No such file or directory", path);
	else if (rc != KLAB_OK)
		rc = KLAB_EIO; /* the disk's sentence names the file and the reason */
	else if (strlen((const char *)text.data) != text.len)
		rc = kerr_set(e, KLAB_ECONFIG, "%s: contains a NUL byte", path);
	else
		rc = config_parse(c, (const char *)text.data, path, e);
	buf_free(&text);
	return rc;
}

const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The text for k: the file's value (and where), or the default. */
static const char *
raw_value(const struct config *c, const struct config_key *k, int *line)
{
	const struct config_entry *en = entry_find(c, k->name);

	*line = en ? en->line : -1;
	return en ? en->value : k->def;
}

static int
bad_value(const struct config *c, const struct config_key *k, const char *value, int line,
	  struct kerr *e, const char *why)
{
	if (line > 0)
		return kerr_set(e, KLAB_ECONFIG, "%s:%d: %s=%s: %s", c->source, line, k->name,
				value, why);
	return kerr_set(e, KLAB_ECONFIG, "%s=%s: %s", k->name, value, why);
}

int
config_long(const struct config *c, const struct config_key *k, int64_t *out, struct kerr *e)
{
	int line;
	const char *v = raw_value(c, k, &line);
	char *end, why[96];
	long long x;

	if (v == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s is not set", k->name);
	errno = 0;
	x = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || isspace((unsigned char)*v))
		return bad_value(c, k, v, line, e, "not an integer");
	if (errno == ERANGE || (k->type == CONFIG_INT && (x < INT32_MIN || x > INT32_MAX)))
		return bad_value(c, k, v, line, e, "integer out of range");
	if (k->min <= k->max && (x < k->min || x > k->max)) {
		snprintf(why, sizeof(why), "must be between %lld and %lld", (long long)k->min,
			 (long long)k->max);
		return bad_value(c, k, v, line, e, why);
	}
	*out = x;
	return KLAB_OK;
}

int
config_bool(const struct config *c, const struct config_key *k, bool *out, struct kerr *e)
{
	int line;
	const char *v = raw_value(c, k, &line);

	if (v == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s is not set", k->name);
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else
		return bad_value(c, k, v, line, e, "must be true or false");
	return KLAB_OK;
}

int
config_string(const struct config *c, const struct config_key *k, const char **out, struct kerr *e)
{
	int line;
	const char *v = raw_value(c, k, &line);

	if (v == NULL)
		return kerr_set(e, KLAB_ENOTFOUND, "%s is not set", k->name);
	if (k->choices != NULL) {
		size_t i;

		for (i = 0; k->choices[i] != NULL; i++)
			if (strcmp(k->choices[i], v) == 0)
				break;
		if (k->choices[i] == NULL)
			return bad_value(c, k, v, line, e, "not one of the allowed values");
	}
	*out = v;
	return KLAB_OK;
}

int
config_validate(const struct config *c, const struct config_key *keys, size_t n, struct kerr *e)
{
	for (size_t i = 0; i < n; i++) {
		int64_t l;
		bool b;
		const char *s;
		int rc;

		if (!config_has(c, keys[i].name))
			continue;
		switch (keys[i].type) {
		case CONFIG_INT:
		case CONFIG_LONG: rc = config_long(c, &keys[i], &l, e); break;
		case CONFIG_BOOL: rc = config_bool(c, &keys[i], &b, e); break;
		default: rc = config_string(c, &keys[i], &s, e); break;
		}
		if (rc != KLAB_OK)
			return rc;
	}
	return KLAB_OK;
}
