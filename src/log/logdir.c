/*
 * logdir.c - a log directory's logs, checkpoints and clean-shutdown marker
 * (see logdir.h; chapter 1 §5).
 *
 * A checkpoint that cannot be read is not fatal: it only makes recovery do
 * more work (a recovery point of 0 validates everything; a missing log
 * start offset falls back to the first segment's base offset).
 *
 * The clean-shutdown marker is the one file whose *absence* matters: while
 * it is there, the next open trusts every log without a scan.  So its
 * removal at open is made durable (a directory fsync) before any log is
 * written; otherwise a crash could bring the marker back and the next open
 * would trust a torn tail.  Its creation at close comes after every log was
 * flushed and is made durable the same way.
 */
#include "log/logdir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

void
checkpoint_free(struct checkpoint_entry *en, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(en[i].name);
	free(en);
}

int
checkpoint_parse(const char *text, struct checkpoint_entry **out, size_t *n, struct kerr *e)
{
	struct checkpoint_entry *en = NULL;
	int version, count, used = 0;
	char topic[256];
	long long part, off;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (sscanf(text, "%d\n%d\n%n", &version, &count, &used) != 2 || used == 0)
		return kerr_set(e, KLAB_ECORRUPT, "checkpoint: missing version or count line");
	if (version != 0 || count < 0 || count > 1000000)
		return kerr_set(e, KLAB_ECORRUPT, "checkpoint: version %d, count %d", version,
				count);
	en = calloc((size_t)count + 1, sizeof(*en));
	if (en == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	for (text += used; i < (size_t)count; i++, text += used) {
		used = 0;
		if (sscanf(text, "%255s %lld %lld%n", topic, &part, &off, &used) != 3 ||
		    used == 0 || part < 0 || off < 0)
			break;
		used += (int)strspn(text + used, " \t\r"); /* three fields, then the line ends */
		if (text[used] != '\n' && text[used] != '\0')
			break;
		used += text[used] == '\n';
		en[i].offset = off;
		if (asprintf(&en[i].name, "%s-%lld", topic, part) < 0) {
			en[i].name = NULL;
			break;
		}
	}
	if (i != (size_t)count) {
		checkpoint_free(en, i);
		return kerr_set(e, KLAB_ECORRUPT,
				"checkpoint: line %zu is not 'topic partition offset'", i + 3);
	}
	text += strspn(text, " \t\r\n");
	if (*text != '\0') { /* Kafka refuses more entries than the count says */
		checkpoint_free(en, i);
		return kerr_set(e, KLAB_ECORRUPT, "checkpoint: more than %d entries", count);
	}
	*out = en;
	*n = i;
	return KLAB_OK;
}

static void
load_checkpoint(struct logdir *d, const char *file, struct checkpoint_entry **en, size_t *n)
{
	char path[4096];
	struct buf text;

	snprintf(path, sizeof(path), "%s/%s", d->path, file);
	buf_init(&text);
	if (fs_read_file(d->fs, path, 1u << 24, &text, NULL) == KLAB_OK &&
	    checkpoint_parse((const char *)text.data, en, n, NULL) != KLAB_OK) {
		*en = NULL; /* unreadable: recover as if it were absent */
		*n = 0;
	}
	buf_free(&text);
}

/* Read and remove the marker, durably (see the top of this file). */
static int
take_marker(struct logdir *d, struct kerr *e)
{
	char marker[4096];
	int rc;

	snprintf(marker, sizeof(marker), "%s/%s", d->path, LOGDIR_CLEAN_MARKER);
	d->was_clean = fs_exists(d->fs, marker);
	if (!d->was_clean)
		return KLAB_OK;
	if ((rc = fs_unlink(d->fs, marker, e)) != KLAB_OK)
		return rc;
	return fs_fsync_dir(d->fs, d->path, e); /* from now on a crash is unclean */
}

/* Kafka's LogManager.lockLogDirs, with its words. */
static int
take_lock(struct logdir *d, struct kerr *e)
{
	char path[4096];
	struct kerr le = { 0 };
	int rc;

	snprintf(path, sizeof(path), "%s/%s", d->path, LOGDIR_LOCK_FILE);
	rc = fs_lock(d->fs, path, &d->lock, &le);
	if (rc == KLAB_ESTATE)
		return kerr_set(e, rc,
				"Failed to acquire lock on file %s in %s. A Kafka instance in "
				"another process or thread is using this directory.",
				LOGDIR_LOCK_FILE, d->path);
	if (rc != KLAB_OK)
		return kerr_set(e, rc, "%s", kerr_msg(&le));
	return KLAB_OK;
}

int
logdir_open(struct logdir **out, struct fs *fs, const char *path, struct kerr *e)
{
	struct logdir *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	d->fs = fs;
	segment_files_init(&d->files, LOGDIR_OPEN_COLD_FILES_MAX);
	if ((rc = fs_mkdirs(fs, path, e)) != KLAB_OK || (rc = take_lock(d, e)) != KLAB_OK)
		goto fail;
	load_checkpoint(d, LOGDIR_RECOVERY_CHECKPOINT, &d->recovery, &d->nrecovery);
	load_checkpoint(d, LOGDIR_START_CHECKPOINT, &d->start, &d->nstart);
	if ((rc = take_marker(d, e)) != KLAB_OK)
		goto fail;
	*out = d;
	return KLAB_OK;
fail:
	logdir_release(d);
	return rc;
}

static int64_t
checkpoint_lookup(const struct checkpoint_entry *en, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(en[i].name, name) == 0)
			return en[i].offset;
	return 0;
}

static bool
valid_log_name(const char *name)
{
	const char *dash = strrchr(name, '-');

	if (dash == NULL || dash == name || dash[1] == '\0' || strlen(name) > 249)
		return false;
	for (const char *p = name; p < dash; p++)
		if (!(*p == '.' || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	for (const char *p = dash + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int
logdir_log(struct logdir *d, const char *name, const struct log_config *cfg, int64_t now_ms,
	   struct log **out, struct kerr *e)
{
	char dir[4096];
	struct log *l;
	int rc;

	for (size_t i = 0; i < d->nlogs; i++)
		if (strcmp(d->logs[i].name, name) == 0) {
			*out = d->logs[i].log;
			return KLAB_OK;
		}
	if (!valid_log_name(name))
		return kerr_set(e, KLAB_EINVAL, "'%s' is not a log name (<topic>-<partition>)",
				name);
	if (d->nlogs == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		void *p = realloc(d->logs, cap * sizeof(*d->logs));

		if (p == NULL)
			return kerr_set(e, KLAB_ENOMEM, "out of memory");
		d->logs = p;
		d->cap = cap;
	}
	snprintf(dir, sizeof(dir), "%s/%s", d->path, name);
	rc = log_open_in(&l, d->fs, dir, cfg, checkpoint_lookup(d->recovery, d->nrecovery, name),
			 checkpoint_lookup(d->start, d->nstart, name), d->was_clean, now_ms,
			 &d->files, e);
	if (rc != KLAB_OK)
		return rc;
	if ((d->logs[d->nlogs].name = strdup(name)) == NULL) {
		log_close(l);
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	d->logs[d->nlogs++].log = l;
	*out = l;
	return KLAB_OK;
}

static void
forget_entry(struct checkpoint_entry *en, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(en[i].name, name) == 0) {
			free(en[i].name);
			en[i--] = en[--*n];
		}
}

void
logdir_forget(struct logdir *d, const char *name)
{
	forget_entry(d->recovery, &d->nrecovery, name);
	forget_entry(d->start, &d->nstart, name);
}

int
logdir_drop(struct logdir *d, const char *name)
{
	char dir[4096];
	size_t i;

	for (i = 0; i < d->nlogs; i++)
		if (strcmp(d->logs[i].name, name) == 0)
			break;
	if (i == d->nlogs)
		return KLAB_ENOTFOUND;
	log_release(d->logs[i].log); /* no flush: the data is going */
	logdir_forget(d, name);	     /* a later log of this name starts afresh */
	free(d->logs[i].name);
	d->logs[i] = d->logs[--d->nlogs];
	snprintf(dir, sizeof(dir), "%s/%s", d->path, name);
	if (fs_exists(d->fs, dir) && fs_remove_dir(d->fs, dir, NULL) != KLAB_OK)
		return KLAB_EIO;
	return logdir_checkpoint(d);
}

/* Replace "<dir>/<file>" atomically (fs_write_file_atomic). */
static int
write_checkpoint(const struct logdir *d, const char *file, bool recovery)
{
	char path[4096], line[512];
	struct buf text;
	int rc;

	buf_init(&text);
	snprintf(line, sizeof(line), "0\n%zu\n", d->nlogs);
	buf_put(&text, line, strlen(line));
	for (size_t i = 0; i < d->nlogs; i++) {
		const char *name = d->logs[i].name, *dash = strrchr(name, '-');
		const struct log *l = d->logs[i].log;

		snprintf(line, sizeof(line), "%.*s %s %" PRId64 "\n", (int)(dash - name), name,
			 dash + 1, recovery ? l->recovery_point : l->log_start_offset);
		buf_put(&text, line, strlen(line));
	}
	snprintf(path, sizeof(path), "%s/%s", d->path, file);
	rc = buf_ok(&text) ? fs_write_file_atomic(d->fs, path, text.data, text.len, NULL)
			   : KLAB_ENOMEM;
	buf_free(&text);
	return rc == KLAB_OK ? KLAB_OK : KLAB_EIO;
}

bool
logdir_fail(struct logdir *d, const char *why)
{
	if (d->offline)
		return false;
	d->offline = true;
	kerr_set(&d->offline_why, KLAB_EIO, "%s", why != NULL && *why ? why : "a write failed");
	return true;
}

int
logdir_checkpoint(struct logdir *d)
{
	int rc;

	if (d->offline)
		return KLAB_EIO;
	rc = write_checkpoint(d, LOGDIR_RECOVERY_CHECKPOINT, true);

	if (rc == KLAB_OK)
		rc = write_checkpoint(d, LOGDIR_START_CHECKPOINT, false);
	return rc;
}

static void
logdir_free(struct logdir *d)
{
	for (size_t i = 0; i < d->nlogs; i++)
		free(d->logs[i].name);
	free(d->logs);
	checkpoint_free(d->recovery, d->nrecovery);
	checkpoint_free(d->start, d->nstart);
	fs_close(d->lock); /* no I/O: lets go of the lock */
	free(d->path);
	free(d);
}

int
logdir_close(struct logdir *d)
{
	char marker[4096];
	int rc = KLAB_OK;

	if (d->offline) { /* nothing more is written to it (logdir_fail) */
		logdir_release(d);
		return KLAB_EIO;
	}
	for (size_t i = 0; i < d->nlogs; i++)
		if (log_flush(d->logs[i].log, d->logs[i].log->last_flush_ms) != KLAB_OK)
			rc = KLAB_EIO;
	if (rc == KLAB_OK)
		rc = logdir_checkpoint(d);
	for (size_t i = 0; i < d->nlogs; i++)
		if (log_close(d->logs[i].log) != KLAB_OK)
			rc = KLAB_EIO;
	snprintf(marker, sizeof(marker), "%s/%s", d->path, LOGDIR_CLEAN_MARKER);
	if (rc == KLAB_OK) /* only a stop that flushed everything is clean */
		rc = fs_create_durable(d->fs, marker, NULL) == KLAB_OK ? KLAB_OK : KLAB_EIO;
	logdir_free(d);
	return rc;
}

void
logdir_release(struct logdir *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nlogs; i++)
		log_release(d->logs[i].log);
	logdir_free(d);
}
