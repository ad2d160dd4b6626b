/*
 * cmd_log.c - stage 1's REPL commands: drive one log by hand.
 *
 *   open DIR [NAME]   a log directory (log.dirs) and the log NAME in it
 *   append / fill     write batches         read / find-time   read them
 *   segments / index  look at the files     explain            one batch's bytes
 *   roll / retention  segment lifecycle     flush / crash      durability
 *   corrupt           flip a byte on disk   dot                draw it
 *
 * The names open, append, read, segments, flush, crash and dot are fixed:
 * lessons and graders use them.
 *
 * The disk.  An open log lives on a simulated disk (net/disk_sim.h) that
 * mirrors the real directory: `open` loads the directory's files as they
 * are, every write goes to both, and `ls` or `klab dump-log` show the
 * files at any moment.  What the simulated disk adds is the page cache:
 * it remembers what an fsync made durable, so `crash` can cut the power
 * for real - unflushed writes are lost or torn at sector granularity, and
 * a file or rename whose directory was not fsynced disappears - and the
 * real files are rewritten to what survived.  Which sectors survive comes
 * from klab.seed and the number of crashes so far: a script replays the
 * same crash every time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/logdir.h"
#include "net/disk_real.h"
#include "net/disk_sim.h"
#include "repl/repl.h"
#include "repl/show.h"
#include "viz/dot.h"
#include "viz/viz_log.h"

#define DEFAULT_LOG_NAME "events-0"
#define DEFAULT_READ_BYTES (1024 * 1024)

struct log_shell {
	struct disk_sim *disk; /* while a log is open */
	struct logdir *dir;
	struct log *log;
	char name[256];
	uint64_t crashes; /* so each crash of a script tears differently, and replayably */
};

static const struct repl_cmd log_cmds[];
extern const struct repl_table repl_log_table;

/* "holds offsets 3..41" or "is empty (its next offset is 42)". */
static const char *
range_text(const struct log *l, char *buf, size_t n)
{
	if (l->next_offset == l->log_start_offset)
		snprintf(buf, n, "is empty (its next offset is %" PRId64 ")", l->next_offset);
	else
		snprintf(buf, n, "holds offsets %" PRId64 "..%" PRId64, l->log_start_offset,
			 l->next_offset - 1);
	return buf;
}

/* An error unless offset is in the log. */
static int
need_offset(struct repl *r, const struct log *l, int64_t offset)
{
	char why[96];

	if (offset >= l->log_start_offset && offset < l->next_offset)
		return 0;
	return repl_error(r, "offset %" PRId64 " is not in the log: it %s", offset,
			  range_text(l, why, sizeof(why)));
}

static int
need_log(struct repl *r, struct log_shell *sh)
{
	if (sh->log == NULL)
		return repl_error(r, "no log is open: use 'open DIR' first");
	return 0;
}

/* Re-read the log settings, so `config KEY VALUE` applies at once. */
static int
refresh_config(struct repl *r, struct log_shell *sh)
{
	struct log_config lc;
	struct kerr e = { 0 };

	if (log_config_load(&lc, &r->cfg, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	sh->log->cfg = lc;
	for (size_t i = 0; i < sh->log->nsegs; i++)
		sh->log->segs[i]->index_interval_bytes = (uint32_t)lc.index_interval_bytes;
	return 0;
}

static void
print_open_report(struct repl *r, const struct log_shell *sh)
{
	const struct log *l = sh->log;
	const struct log_open_report *rep = &l->report;

	char range[96];

	repl_printf(r, "opened %s/%s: %zu segment%s; the log %s\n", sh->dir->path, sh->name,
		    l->nsegs, l->nsegs == 1 ? "" : "s", range_text(l, range, sizeof(range)));
	if (rep->start_ignored >= 0)
		repl_printf(r,
			    "  warning: the log-start checkpoint says %" PRId64
			    ", beyond the log end: ignored\n",
			    rep->start_ignored);
	if (rep->start_restarted >= 0)
		repl_printf(r,
			    "  warning: the log-start checkpoint says %" PRId64
			    ", beyond what the crash left: the log restarts empty there\n",
			    rep->start_restarted);
	if (rep->segments == 0)
		repl_printf(r, "  new log: nothing to recover\n");
	else if (rep->clean && rep->segments_recovered == 0)
		repl_printf(r, "  clean shutdown marker found: no recovery scan\n");
	else if (rep->clean)
		repl_printf(r,
			    "  clean shutdown marker found, but %d segment%s failed an index check "
			    "and %s rebuilt (%" PRId64 " bytes truncated)\n",
			    rep->segments_recovered, rep->segments_recovered == 1 ? "" : "s",
			    rep->segments_recovered == 1 ? "was" : "were", rep->truncated_bytes);
	else
		repl_printf(r,
			    "  unclean shutdown: validated %d segment%s, truncated %" PRId64
			    " bytes%s%s%s, deleted %d segment%s\n",
			    rep->segments_recovered, rep->segments_recovered == 1 ? "" : "s",
			    rep->truncated_bytes, rep->why ? " (" : "", rep->why ? rep->why : "",
			    rep->why ? ")" : "", rep->segments_deleted,
			    rep->segments_deleted == 1 ? "" : "s");
}

static void
close_current(struct repl *r, struct log_shell *sh)
{
	if (sh->dir != NULL && logdir_close(sh->dir) != KLAB_OK)
		repl_error(r, "closing the log directory failed: data may not be flushed");
	disk_sim_free(sh->disk); /* the mirror already holds every write */
	sh->disk = NULL;
	sh->dir = NULL;
	sh->log = NULL;
}

static uint64_t
shell_seed(struct repl *r)
{
	const struct config_entry *s = config_find(&r->cfg, "klab.seed");

	return s != NULL ? strtoull(s->value, NULL, 10) : 1;
}

/* A simulated disk showing the real directory path (see the top of this file). */
static int
open_disk(struct repl *r, struct log_shell *sh, const char *path, struct kerr *e)
{
	int rc;

	if (fs_mkdirs(disk_real(), path, e) != KLAB_OK)
		return KLAB_EIO;
	sh->disk = disk_sim_new(shell_seed(r) * 1000003u + sh->crashes);
	if (sh->disk == NULL)
		return kerr_set(e, KLAB_ENOMEM, "out of memory");
	if ((rc = disk_sim_mirror(sh->disk, disk_real(), path, e)) != KLAB_OK) {
		disk_sim_free(sh->disk);
		sh->disk = NULL;
	}
	return rc;
}

static int
open_log(struct repl *r, struct log_shell *sh, const char *path, const char *name)
{
	struct log_config lc;
	struct kerr e = { 0 };

	close_current(r, sh);
	if (log_config_load(&lc, &r->cfg, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	if (open_disk(r, sh, path, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	if (logdir_open(&sh->dir, disk_sim_fs(sh->disk), path, &e) != KLAB_OK ||
	    logdir_log(sh->dir, name, &lc, repl_now_ms(r), &sh->log, &e) != KLAB_OK) {
		logdir_release(sh->dir); /* no I/O on the way out */
		sh->dir = NULL;
		disk_sim_free(sh->disk);
		sh->disk = NULL;
		return repl_error(r, "%s", kerr_msg(&e));
	}
	snprintf(sh->name, sizeof(sh->name), "%s", name);
	print_open_report(r, sh);
	return 0;
}

/* Is dir the first of log.dirs, which a later stage's shell has open? */
static bool
owned_by_later_stage(const struct repl *r, const char *dir)
{
	char a[PATH_MAX], b[PATH_MAX], first[PATH_MAX];

	if (repl_is_latest(r, &repl_log_table) || !repl_first_log_dir(r, first, sizeof(first)))
		return false;
	return realpath(dir, a) != NULL && realpath(first, b) != NULL && strcmp(a, b) == 0;
}

static int
cmd_open(struct repl *r, void *state, int argc, char **argv)
{
	if (owned_by_later_stage(r, argv[1]))
		return repl_error(r,
				  "%s is the log directory this stage's topics use: open "
				  "another one (two writers on one log would corrupt it)",
				  argv[1]);
	return open_log(r, state, argv[1], argc > 2 ? argv[2] : DEFAULT_LOG_NAME);
}

static int
cmd_close(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0)
		return -1;
	close_current(r, sh);
	repl_printf(r, "closed cleanly: flushed, checkpoints and .kafka_cleanshutdown written\n");
	return 0;
}

static int
append_built(struct repl *r, struct log_shell *sh, struct buf *b, struct log_append_info *info)
{
	struct kerr e = { 0 };

	if (!buf_ok(b))
		return repl_error(r, "out of memory");
	if (log_append(sh->log, b->data, b->len, repl_now_ms(r), info, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	return 0;
}

static void
print_append(struct repl *r, const struct log_append_info *in, size_t bytes)
{
	if (in->first_offset == in->last_offset)
		repl_printf(r, "offset %" PRId64, in->first_offset);
	else
		repl_printf(r, "offsets %" PRId64 "..%" PRId64, in->first_offset, in->last_offset);
	repl_printf(r, " -> segment %020" PRId64 ", position %" PRIu64 ", %zu bytes%s%s\n",
		    in->segment_base, in->position, bytes,
		    in->rolled ? " (rolled a new segment)" : "", in->flushed ? " (flushed)" : "");
}

static int
cmd_append(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	struct kv headers[REPL_MAX_ARGS];
	struct record_in rec = { 0 };
	struct batch_builder bb;
	struct log_append_info info;
	struct buf b;
	int rc;

	if (need_log(r, sh) != 0 || refresh_config(r, sh) != 0 ||
	    repl_parse_headers(r, argc - 3, argv + 3, headers) != 0)
		return -1;
	rec.kv.key = (const uint8_t *)argv[1];
	rec.kv.key_len = strcmp(argv[1], "-") == 0 ? -1 : (int32_t)strlen(argv[1]);
	rec.kv.value = (const uint8_t *)argv[2];
	rec.kv.value_len = (int32_t)strlen(argv[2]);
	rec.timestamp = repl_now_ms(r);
	rec.headers = headers;
	rec.header_count = (size_t)(argc - 3);
	buf_init(&b);
	batch_builder_begin(&bb, &b, 0, rec.timestamp, 0);
	batch_builder_add(&bb, &rec);
	rc = batch_builder_finish(&bb) == KLAB_OK ? append_built(r, sh, &b, &info) : -1;
	if (rc == 0)
		print_append(r, &info, b.len);
	buf_free(&b);
	return rc;
}

/* One generated batch of n records: keys key-<i>, values of vbytes bytes. */
static int
fill_batch(struct repl *r, struct log_shell *sh, int64_t first, int64_t n, int64_t vbytes,
	   struct log_append_info *info)
{
	struct batch_builder bb;
	struct buf b;
	char key[32], *value = malloc((size_t)vbytes + 1);
	int rc = -1;

	if (value == NULL)
		return repl_error(r, "out of memory");
	buf_init(&b);
	batch_builder_begin(&bb, &b, 0, repl_now_ms(r), 0);
	for (int64_t i = first; i < first + n; i++) {
		struct record_in rec = { 0 };
		int klen = snprintf(key, sizeof(key), "key-%" PRId64, i);

		snprintf(value, (size_t)vbytes + 1, "value-%" PRId64 "-%0*d", i, (int)vbytes, 0);
		rec.kv = (struct kv){ (uint8_t *)key, klen, (uint8_t *)value, (int32_t)vbytes };
		rec.timestamp = repl_now_ms(r);
		batch_builder_add(&bb, &rec);
	}
	if (batch_builder_finish(&bb) == KLAB_OK)
		rc = append_built(r, sh, &b, info);
	buf_free(&b);
	free(value);
	return rc;
}

static int
cmd_fill(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	int64_t n, per = 1, vbytes = 16, done = 0, first = -1;
	struct log_append_info info = { 0 };
	int rolls = 0;

	if (need_log(r, sh) != 0 || refresh_config(r, sh) != 0 ||
	    !repl_arg_i64(r, argv[1], "N", 1, 10000000, &n) ||
	    (argc > 2 && !repl_arg_i64(r, argv[2], "RECORDS_PER_BATCH", 1, 100000, &per)) ||
	    (argc > 3 && !repl_arg_i64(r, argv[3], "VALUE_BYTES", 0, 1 << 20, &vbytes)))
		return -1;
	while (done < n) {
		int64_t k = n - done < per ? n - done : per;

		if (fill_batch(r, sh, sh->log->next_offset, k, vbytes, &info) != 0)
			return -1;
		if (first < 0)
			first = info.first_offset;
		rolls += info.rolled;
		done += k;
	}
	repl_printf(r,
		    "appended %" PRId64 " records in %" PRId64 " batches: offsets %" PRId64
		    "..%" PRId64 ", %d roll%s, %zu segment%s\n",
		    n, (n + per - 1) / per, first, info.last_offset, rolls, rolls == 1 ? "" : "s",
		    sh->log->nsegs, sh->log->nsegs == 1 ? "" : "s");
	return 0;
}

static int
print_batch_records(struct repl *r, const uint8_t *p, const struct batch_header *h, int64_t from)
{
	struct record_iter it;
	struct record rec;
	int rc;

	repl_printf(r,
		    "batch offsets %" PRId64 "..%" PRId64 ", %" PRId32 " record%s, %zu bytes, "
		    "crc %08" PRIx32 " ok\n",
		    h->base_offset, batch_last_offset(h), h->record_count,
		    h->record_count == 1 ? "" : "s", batch_size(h), h->crc);
	if (h->attributes & BATCH_ATTR_COMPRESSION) {
		repl_printf(r, "  (%s-compressed records)\n",
			    batch_compression_name(h->attributes));
		return 0;
	}
	record_iter_init(&it, p, batch_size(h), h);
	while ((rc = record_iter_next(&it, &rec)) == 1) {
		int64_t ts = h->attributes & BATCH_ATTR_LOG_APPEND_TIME ? h->max_timestamp
									: rec.timestamp;

		if (rec.offset < from)
			continue; /* a consumer skips what it did not ask for */
		fprintf(r->out, "  ");
		show_record(r->out, &rec, ts);
	}
	return rc;
}

static int
cmd_read(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	int64_t offset, max = DEFAULT_READ_BYTES;
	struct log_read_info info;
	struct batch_header h;
	struct buf b;
	int rc;

	if (need_log(r, sh) != 0 || !repl_arg_i64(r, argv[1], "OFFSET", 0, INT64_MAX, &offset) ||
	    (argc > 2 && !repl_arg_i64(r, argv[2], "MAX_BYTES", 1, 1 << 30, &max)))
		return -1;
	buf_init(&b);
	rc = log_read(sh->log, offset, (size_t)max, &b, &info);
	if (rc == KLAB_ERANGE) {
		need_offset(r, sh->log, offset);
		repl_printf(r, "(a consumer gets OFFSET_OUT_OF_RANGE and resets its position)\n");
		rc = -1;
	} else if (rc == KLAB_ECORRUPT)
		rc = repl_error(r,
				"the batch holding offset %" PRId64 " fails its CRC: not returned",
				offset);
	else if (rc != KLAB_OK)
		rc = repl_error(r, "read failed: %s", klab_strerror(rc));
	for (size_t at = 0; rc == 0 && at < b.len; at += batch_size(&h)) {
		batch_header_parse(b.data + at, b.len - at, &h);
		print_batch_records(r, b.data + at, &h, offset);
	}
	if (rc == 0)
		repl_printf(r, "%d batch%s, %zu bytes; log end offset %" PRId64 "%s\n",
			    info.batches, info.batches == 1 ? "" : "es", b.len, info.next_offset,
			    info.stopped_at_corrupt ? "; stopped before a corrupt batch" : "");
	buf_free(&b);
	return rc;
}

static int
cmd_segments(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	const struct log *l = sh->log;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0)
		return -1;
	repl_printf(r, "%-24s %10s %10s %10s %6s %6s  %s\n", "segment", "offsets", "", "bytes",
		    "index", "time", "max timestamp");
	for (size_t i = 0; i < l->nsegs; i++) {
		const struct segment *s = l->segs[i];
		char t[40] = "-";

		if (s->max_timestamp >= 0)
			repl_format_time(s->max_timestamp, t, sizeof(t));
		repl_printf(r,
			    "%020" PRId64 ".log %10" PRId64 " %10" PRId64 " %10" PRIu64
			    " %6zu %6zu  %s%s\n",
			    s->base_offset, s->base_offset, s->next_offset - 1, s->size, s->oi.n,
			    s->ti.n, t, i + 1 == l->nsegs ? "  (active)" : "");
	}
	repl_printf(r,
		    "log start offset %" PRId64 ", log end offset %" PRId64
		    ", recovery point %" PRId64 ", %" PRIu64 " bytes\n",
		    l->log_start_offset, l->next_offset, l->recovery_point, log_size_bytes(l));
	return 0;
}

static int
cmd_index(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	const struct segment *s;
	int64_t off;

	if (need_log(r, sh) != 0)
		return -1;
	s = sh->log->segs[sh->log->nsegs - 1];
	if (argc > 1) {
		if (!repl_arg_i64(r, argv[1], "OFFSET", 0, INT64_MAX, &off))
			return -1;
		if (need_offset(r, sh->log, off) != 0)
			return -1;
		s = log_segment_for(sh->log, off);
	}
	repl_printf(r, "%020" PRId64 ".index: %zu entries (one per %" PRId64 " bytes of log)\n",
		    s->base_offset, s->oi.n, sh->log->cfg.index_interval_bytes);
	for (size_t i = 0; i < s->oi.n; i++) {
		struct index_entry en = index_entry_at(&s->oi, i);

		repl_printf(r, "  offset %-8" PRId64 " -> position %" PRIu32 "\n", en.offset,
			    en.position);
	}
	repl_printf(r, "%020" PRId64 ".timeindex: %zu entries\n", s->base_offset, s->ti.n);
	for (size_t i = 0; i < s->ti.n; i++) {
		struct index_entry en = index_entry_at(&s->ti, i);

		repl_printf(r, "  timestamp %" PRId64 " -> offset %" PRId64 "\n", en.timestamp,
			    en.offset);
	}
	return 0;
}

static int
cmd_find_time(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	int64_t ts, off, found;
	char t[40];

	(void)argc;
	if (need_log(r, sh) != 0 || !repl_arg_i64(r, argv[1], "TIMESTAMP_MS", 0, INT64_MAX, &ts))
		return -1;
	if (log_offset_for_time(sh->log, ts, &off, &found) != KLAB_OK) {
		repl_printf(r,
			    "no record has a timestamp >= %" PRId64 " (a consumer would start at "
			    "the log end, %" PRId64 ")\n",
			    ts, sh->log->next_offset);
		return 0;
	}
	repl_format_time(found, t, sizeof(t));
	repl_printf(r,
		    "offset %" PRId64 " is the first with timestamp >= %" PRId64 " (it has %" PRId64
		    ", %s)\n",
		    off, ts, found, t);
	return 0;
}

/* Read the whole batch holding offset into b. */
static int
batch_holding(struct repl *r, struct log_shell *sh, int64_t offset, struct buf *b, uint64_t *pos,
	      const struct segment **seg)
{
	struct batch_header h;
	const struct segment *s = log_segment_for(sh->log, offset);

	if (need_offset(r, sh->log, offset) != 0)
		return -1;
	if (s == NULL || segment_find(s, offset, pos, &h) != KLAB_OK)
		return repl_error(r, "cannot find the batch holding offset %" PRId64, offset);
	if (!buf_reserve(b, batch_size(&h)) ||
	    segment_read(s, *pos, b->data, batch_size(&h)) != KLAB_OK)
		return repl_error(r, "cannot read the batch");
	b->len = batch_size(&h);
	*seg = s;
	return 0;
}

static int
cmd_explain(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	const struct segment *s;
	int64_t offset;
	uint64_t pos;
	struct buf b;
	int rc;

	(void)argc;
	if (need_log(r, sh) != 0 || !repl_arg_i64(r, argv[1], "OFFSET", 0, INT64_MAX, &offset))
		return -1;
	buf_init(&b);
	rc = batch_holding(r, sh, offset, &b, &pos, &s);
	if (rc == 0) {
		repl_printf(r,
			    "batch at position %" PRIu64 " of %020" PRId64 ".log, %zu bytes "
			    "(RecordBatch v2):\n",
			    pos, s->base_offset, b.len);
		show_batch_fields(r->out, b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

static int
cmd_roll(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0 || refresh_config(r, sh) != 0)
		return -1;
	if (log_roll(sh->log, repl_now_ms(r)) != KLAB_OK)
		return repl_error(r, "roll failed");
	repl_printf(r, "active segment is now %020" PRId64 ".log (%zu segments)\n",
		    sh->log->segs[sh->log->nsegs - 1]->base_offset, sh->log->nsegs);
	return 0;
}

static int
cmd_retention(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	struct log_retention_report rep;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0 || refresh_config(r, sh) != 0)
		return -1;
	if (log_apply_retention(sh->log, repl_now_ms(r), &rep) != KLAB_OK)
		return repl_error(r, "retention failed");
	repl_printf(r,
		    "deleted %d segment%s (%" PRIu64 " bytes)%s; log start offset is now %" PRId64
		    "\n",
		    rep.segments_deleted, rep.segments_deleted == 1 ? "" : "s", rep.bytes_deleted,
		    rep.rolled ? " after rolling the expired active segment" : "",
		    rep.log_start_offset);
	return 0;
}

static int
cmd_flush(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0)
		return -1;
	if (log_flush(sh->log, repl_now_ms(r)) != KLAB_OK || logdir_checkpoint(sh->dir) != KLAB_OK)
		return repl_error(r, "flush failed");
	repl_printf(r, "fsynced; recovery point is now %" PRId64 " (checkpoint written)\n",
		    sh->log->recovery_point);
	return 0;
}

static int
cmd_crash(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	struct disk_crash_report rep;
	char path[4096];
	int64_t rp;

	(void)argc, (void)argv;
	if (need_log(r, sh) != 0)
		return -1;
	rp = sh->log->recovery_point;
	snprintf(path, sizeof(path), "%s", sh->dir->path);
	logdir_release(sh->dir); /* the process is gone: no flush, no marker */
	sh->dir = NULL;
	sh->log = NULL;
	if (disk_sim_crash(sh->disk, &rep) != KLAB_OK)
		repl_error(r, "the simulated disk ran out of memory while crashing");
	disk_sim_free(sh->disk);
	sh->disk = NULL;
	sh->crashes++;
	repl_printf(r,
		    "power cut: %" PRIu64 " bytes never reached the disk, %d file%s torn, %d "
		    "file name%s lost\n",
		    rep.bytes_lost, rep.files_torn, rep.files_torn == 1 ? "" : "s",
		    rep.names_undone, rep.names_undone == 1 ? "" : "s");
	repl_printf(r, "everything below recovery point %" PRId64 " was fsynced and is safe\n", rp);
	repl_printf(r, "no clean shutdown marker: 'open %s' will recover\n", path);
	return 0;
}

static int
cmd_corrupt(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	const struct segment *s;
	int64_t offset;
	uint64_t pos, at;
	struct buf b;
	struct kerr e = { 0 };

	(void)argc;
	if (need_log(r, sh) != 0 || !repl_arg_i64(r, argv[1], "OFFSET", 0, INT64_MAX, &offset))
		return -1;
	buf_init(&b);
	if (batch_holding(r, sh, offset, &b, &pos, &s) != 0) {
		buf_free(&b);
		return -1;
	}
	at = pos + b.len - 1; /* the last byte: part of the last record's value */
	buf_free(&b);
	/* bit rot: the stored byte changes, in the page cache and on the platter */
	if (disk_sim_corrupt(sh->disk, s->log_path, at, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	repl_printf(r,
		    "flipped bits of the byte at position %" PRIu64 " of %020" PRId64
		    ".log: that batch's CRC no longer matches\n",
		    at, s->base_offset);
	return 0;
}

static int
cmd_dot(struct repl *r, void *state, int argc, char **argv)
{
	struct log_shell *sh = state;
	const char *base = argc > 1 ? argv[1] : "log";
	char path[4096], title[300];
	struct kerr e = { 0 };
	FILE *f;

	if (need_log(r, sh) != 0)
		return -1;
	if (dot_check_base(base, &e) != KLAB_OK)
		return repl_error(r, "%s", kerr_msg(&e));
	snprintf(path, sizeof(path), "%s.dot", base);
	if ((f = fopen(path, "w")) == NULL)
		return repl_error(r, "%s: %s", path, strerror(errno));
	snprintf(title, sizeof(title), "%s", sh->name);
	viz_log_dot(f, sh->log, title, 10);
	if (fclose(f) != 0)
		return repl_error(r, "%s: write failed", path);
	if (dot_render(base, &e) != KLAB_OK)
		return repl_error(r, "wrote %s, but %s", path, kerr_msg(&e));
	repl_printf(r, "wrote %s.dot, %s.svg and %s.png\n", base, base, base);
	return 0;
}

static int
log_shell_init(struct repl *r, void **state)
{
	struct log_shell *sh = calloc(1, sizeof(*sh));
	struct log_config lc;
	struct kerr e = { 0 };
	char first[4096];

	if (sh == NULL)
		return -1;
	*state = sh;
	if (log_config_load(&lc, &r->cfg, &e) != KLAB_OK) { /* refuse a bad file at once */
		fprintf(stderr, "klab: %s\n", kerr_msg(&e));
		return -1;
	}
	if (repl_is_latest(r, &repl_log_table) && repl_first_log_dir(r, first, sizeof(first)))
		open_log(r, sh, first, DEFAULT_LOG_NAME); /* a ready default */
	return 0;
}

static int
log_shell_check_config(const struct config *c, struct kerr *e)
{
	struct log_config lc;

	return log_config_load(&lc, c, e);
}

static void
log_shell_fini(struct repl *r, void *state)
{
	close_current(r, state);
	free(state);
}

static const struct repl_cmd log_cmds[] = {
	{ "open", "DIR [TOPIC-PARTITION]", "open (or create) a log in log directory DIR",
	  "DIR is a log directory (one of Kafka's log.dirs); the log lives in\n"
	  "DIR/TOPIC-PARTITION (default events-0).  If DIR has no clean-shutdown\n"
	  "marker, every batch after the recovery point is validated and the log\n"
	  "is cut at the first torn or corrupt one.",
	  1, 2, cmd_open },
	{ "close", "", "flush and close cleanly (writes the clean-shutdown marker)", NULL, 0, 0,
	  cmd_close },
	{ "append", "KEY VALUE [HEADER=VALUE ...]", "append one record as a one-record batch",
	  "KEY '-' means a null key.  The record's timestamp is the shell's clock.\n"
	  "Prints the offset the log assigned and where the batch landed.",
	  2, -1, cmd_append },
	{ "fill", "N [RECORDS_PER_BATCH] [VALUE_BYTES]", "append N generated records",
	  "Keys are key-<offset>; values are VALUE_BYTES long (default 16).", 1, 3, cmd_fill },
	{ "read", "OFFSET [MAX_BYTES]", "read whole batches from OFFSET (as a consumer fetch)",
	  "Returns the batch holding OFFSET and those after it, up to MAX_BYTES\n"
	  "(default 1 MiB) but always at least one batch.  Every batch's CRC is\n"
	  "checked first: a corrupt batch is never returned.",
	  1, 2, cmd_read },
	{ "segments", "", "list the segments with their offsets, sizes and indexes", NULL, 0, 0,
	  cmd_segments },
	{ "index", "[OFFSET]", "list the sparse index entries of a segment (default: active)", NULL,
	  0, 1, cmd_index },
	{ "find-time", "TIMESTAMP_MS", "the first offset with a timestamp >= TIMESTAMP_MS",
	  "Uses the .timeindex to find where to start, then scans batches.", 1, 1, cmd_find_time },
	{ "explain", "OFFSET", "show the batch holding OFFSET byte by byte", NULL, 1, 1,
	  cmd_explain },
	{ "roll", "", "start a new active segment now", NULL, 0, 0, cmd_roll },
	{ "retention", "", "delete old segments (log.retention.ms / log.retention.bytes)", NULL, 0,
	  0, cmd_retention },
	{ "flush", "", "fsync the log and move the recovery point", NULL, 0, 0, cmd_flush },
	{ "crash", "", "cut the power: what was not fsynced is lost or torn",
	  "The log lives on a simulated disk that knows what each fsync made\n"
	  "durable.  A power cut keeps that, plus (chosen by klab.seed) a prefix\n"
	  "of the 512-byte sectors written since, in file order: the page cache\n"
	  "wrote back some of them before the lights went out.  A file created\n"
	  "or renamed since its directory's last fsync loses its name.  The real\n"
	  "files are rewritten to what survived; the clean-shutdown marker is not\n"
	  "written, so 'open' then recovers.",
	  0, 0, cmd_crash },
	{ "corrupt", "OFFSET", "flip bits of one byte on disk in the batch holding OFFSET", NULL, 1,
	  1, cmd_corrupt },
	{ "dot", "[FILE]", "draw segments and the sparse index (FILE.dot, .svg, .png)", NULL, 0, 1,
	  cmd_dot },
};

const struct repl_table repl_log_table = {
	.name = "log",
	.title = "stage 1: the append-only log",
	.cmds = log_cmds,
	.ncmds = (int)(sizeof(log_cmds) / sizeof(log_cmds[0])),
	.init = log_shell_init,
	.fini = log_shell_fini,
	.check_config = log_shell_check_config,
};
