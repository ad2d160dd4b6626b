/*
 * logdir.c - a log directory's logs, checkpoints and clean-shutdown marker
 * (see logdir.h; chapter 1 §5).
 *
 * A checkpoint that cannot be read is not fatal: it only makes recovery do
 * more work (a recovery point of 0 validates everything; a missing log
 * start offset falls back to the first segment's base offset).
 */
#include "log/logdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	if (buf_read_file(&text, path, 1u << 24) == KLAB_OK &&
	    checkpoint_parse((const char *)text.data, en, n, NULL) != KLAB_OK) {
		*en = NULL; /* unreadable: recover as if it were absent */
		*n = 0;
	}
	buf_free(&text);
}

int
logdir_open(struct logdir **out, const char *path, struct kerr *e)
{
	struct logdir *d = calloc(1, sizeof(*d));
	char marker[4096];
	struct stat st;

	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		int rc = kerr_set(e, KLAB_EIO, "mkdir %s: %s", path, strerror(errno));

		free(d->path);
		free(d);
		return rc;
	}
	snprintf(marker, sizeof(marker), "%s/%s", path, LOGDIR_CLEAN_MARKER);
	d->was_clean = stat(marker, &st) == 0;
	load_checkpoint(d, LOGDIR_RECOVERY_CHECKPOINT, &d->recovery, &d->nrecovery);
	load_checkpoint(d, LOGDIR_START_CHECKPOINT, &d->start, &d->nstart);
	if (d->was_clean)
		unlink(marker); /* from now on a crash is unclean */
	*out = d;
	return KLAB_OK;
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
	rc = log_open(&l, dir, cfg, checkpoint_lookup(d->recovery, d->nrecovery, name),
		      checkpoint_lookup(d->start, d->nstart, name), d->was_clean, now_ms, e);
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

/* Remove every file in dir, then dir (a partition directory is flat). */
static int
remove_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char path[4096 + 256];
	int rc = KLAB_OK;

	if (dp == NULL)
		return errno == ENOENT ? KLAB_OK : KLAB_EIO;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0)
			rc = KLAB_EIO;
	}
	closedir(dp);
	if (rmdir(dir) != 0)
		rc = KLAB_EIO;
	return rc;
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
	log_crash(d->logs[i].log); /* free without flushing: the data is going */
	free(d->logs[i].name);
	d->logs[i] = d->logs[--d->nlogs];
	snprintf(dir, sizeof(dir), "%s/%s", d->path, name);
	if (remove_dir(dir) != KLAB_OK)
		return KLAB_EIO;
	return logdir_checkpoint(d);
}

/* Write "<dir>/<file>" through a temporary file and rename. */
static int
write_checkpoint(const struct logdir *d, const char *file, bool recovery)
{
	char path[4096], tmp[4200];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", d->path, file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return KLAB_EIO;
	fprintf(f, "0\n%zu\n", d->nlogs);
	for (size_t i = 0; i < d->nlogs; i++) {
		const char *name = d->logs[i].name, *dash = strrchr(name, '-');
		const struct log *l = d->logs[i].log;

		fprintf(f, "%.*s %s %" PRId64 "\n", (int)(dash - name), name, dash + 1,
			recovery ? l->recovery_point : l->log_start_offset);
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0)
		return KLAB_EIO;
	return KLAB_OK;
}

int
logdir_checkpoint(struct logdir *d)
{
	int rc = write_checkpoint(d, LOGDIR_RECOVERY_CHECKPOINT, true);

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
	free(d->path);
	free(d);
}

int
logdir_close(struct logdir *d)
{
	char marker[4096];
	int rc = KLAB_OK, fd;

	for (size_t i = 0; i < d->nlogs; i++)
		if (log_flush(d->logs[i].log, d->logs[i].log->last_flush_ms) != KLAB_OK)
			rc = KLAB_EIO;
	if (rc == KLAB_OK)
		rc = logdir_checkpoint(d);
	for (size_t i = 0; i < d->nlogs; i++)
		if (log_close(d->logs[i].log) != KLAB_OK)
			rc = KLAB_EIO;
	snprintf(marker, sizeof(marker), "%s/%s", d->path, LOGDIR_CLEAN_MARKER);
	if (rc == KLAB_OK) { /* only a stop that flushed everything is clean */
		fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || fsync(fd) != 0)
			rc = KLAB_EIO;
		if (fd >= 0)
			close(fd);
	}
	logdir_free(d);
	return rc;
}

uint64_t
logdir_crash(struct logdir *d)
{
	uint64_t lost = 0;

	for (size_t i = 0; i < d->nlogs; i++)
		lost += log_crash(d->logs[i].log);
	logdir_free(d);
	return lost;
}
