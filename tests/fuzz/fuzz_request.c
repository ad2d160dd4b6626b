/*
 * fuzz_request.c - libFuzzer target: arbitrary bytes as request frames to
 * one broker node (src/broker/{broker,handlers,proto,messages}.c).
 *
 * The broker is driven directly through broker_node_ops by a fake runtime
 * (struct rt below): no simulator, no sockets, a clock that only moves
 * when this file says so, so every input runs the same way every time.
 *
 * Each input is cut into frames the way a runtime cuts a stream
 * (frame_size()); where the bytes left do not make a whole frame (a size
 * prefix that is negative, too large or longer than what is left), the
 * rest of the input becomes the last frame with its size prefix set
 * right, so every byte reaches the broker.  A corpus file may therefore
 * hold a whole session: CreateTopics, Produce, Fetch, ListOffsets ...
 *
 * What must hold, or the target aborts naming the rule:
 *   1. the broker starts on a fresh, empty log directory;
 *   2. after each frame it has answered (one or more sends), closed the
 *      connection, parked a Fetch (or queued the frame behind one), or
 *      taken a Produce with acks=0, which has no answer;
 *   3. every frame it sends is whole: its size prefix counts the rest;
 *   4. once the pending timers have fired, no Fetch waits any more;
 *   5. it stops cleanly, and nothing leaks (LeakSanitizer is on);
 *   and, as everywhere, no ASan or UBSan report.
 *
 * FUZZ_REQUEST_VERBOSE=1 prints the broker's log and what became of each
 * frame.
 *
 * A closed connection is replaced by a fresh one for the frames after it.
 *
 * mkdir() fails with ENOSPC after MKDIR_BUDGET calls an input (below).
 *
 * One directory per process, /tmp/klab-fuzz_request.<pid> (tools/fuzz.sh
 * removes it after the run), emptied before every input.  fsync() is a
 * no-op here, as in fuzz_segment.c.
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/broker.h"
#include "core/buf.h"
#include "core/config.h"
#include "net/node.h"
#include "net/disk_real.h"

#define MAX_FRAME (100 << 20)
#define MAX_TIMERS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
fsync(int fd)
{
	(void)fd;
	return 0;
}

/*
 * A disk that fills up: each input may make MKDIR_BUDGET directories
 * (mkdir calls), then mkdir fails with ENOSPC.  A CreateTopics of 100,000
 * partitions would otherwise spend minutes making files; this way it
 * stops early and the broker's answer to a failing disk is fuzzed too.
 */
#define MKDIR_BUDGET 256
static int mkdir_budget = -1; /* < 0: no limit (fresh_root) */

int
mkdir(const char *path, mode_t mode)
{
	if (mkdir_budget == 0) {
		errno = ENOSPC;
		return -1;
	}
	if (mkdir_budget > 0)
		mkdir_budget--;
	return (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
}

static char root[256];

/* ---- the fake runtime ------------------------------------------------------ */

struct fake {
	uint64_t sends;
	uint64_t closes;
	int64_t now;
	uint64_t rnd;
	timer_id next_timer;
	timer_id timers[MAX_TIMERS]; /* pending, 0 = free */
};

static struct fake fk;

static void
fail(const char *rule)
{
	fprintf(stderr, "fuzz_request: invariant broken: %s\n", rule);
	abort();
}

static int64_t
f_listen(struct rt *rt, const char *host, int port, struct kerr *e)
{
	(void)rt;
	(void)host;
	(void)port;
	(void)e;
	return 1;
}

static conn_id
f_connect(struct rt *rt, const char *host, int port)
{
	(void)rt;
	(void)host;
	(void)port;
	return 0;
}

static void
check_frame(const uint8_t *p, size_t len)
{
	if (len < 8 || be32_read(p) != len - 4)
		fail("a response frame is not whole (size prefix)");
}

static int
f_send(struct rt *rt, conn_id c, const uint8_t *frame, size_t len)
{
	(void)rt;
	(void)c;
	check_frame(frame, len);
	fk.sends++;
	return KLAB_OK;
}

static int
f_send_parts(struct rt *rt, conn_id c, const struct rt_part *parts, size_t n)
{
	int64_t total = frame_parts_size(parts, n);
	uint8_t *all;
	size_t at = 0;

	(void)rt;
	(void)c;
	if (total < 0)
		fail("send_parts: the parts are not one frame");
	if ((all = malloc((size_t)total)) == NULL)
		fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t flen = parts[i].file != NULL ? parts[i].file_len : 0;

		memcpy(all + at, parts[i].bytes, parts[i].len);
		at += parts[i].len;
		if (flen > 0 && fs_pread_all(parts[i].file, all + at, flen,
					     (uint64_t)parts[i].file_off, NULL) != KLAB_OK)
			fail("send_parts: cannot read the file bytes");
		at += flen;
	}
	check_frame(all, at);
	free(all);
	fk.sends++;
	return KLAB_OK;
}

static void
f_close(struct rt *rt, conn_id c)
{
	(void)rt;
	(void)c;
	fk.closes++;
}

static timer_id
f_set_timer(struct rt *rt, int64_t after_ms)
{
	(void)rt;
	(void)after_ms;
	for (int i = 0; i < MAX_TIMERS; i++)
		if (fk.timers[i] == 0)
			return fk.timers[i] = ++fk.next_timer;
	fail("too many timers pending");
	return 0;
}

static void
f_cancel_timer(struct rt *rt, timer_id t)
{
	(void)rt;
	for (int i = 0; i < MAX_TIMERS; i++)
		if (fk.timers[i] == t)
			fk.timers[i] = 0;
}

static int64_t
f_now_ms(struct rt *rt)
{
	(void)rt;
	return fk.now;
}

static uint64_t
f_random(struct rt *rt)
{
	(void)rt;
	return fk.rnd = fk.rnd * 6364136223846793005ull + 1442695040888963407ull;
}

static const char *
f_data_dir(struct rt *rt)
{
	(void)rt;
	return root;
}

static void
f_trace(struct rt *rt, const char *line)
{
	(void)rt;
	(void)line;
}

static int
f_listener_port(struct rt *rt, int64_t listener)
{
	(void)rt;
	(void)listener;
	return 9092;
}

static struct fs *
f_disk(struct rt *rt)
{
	(void)rt;
	return disk_real();
}

static const struct rt_ops fake_ops = {
	.listen = f_listen,
	.connect = f_connect,
	.send = f_send,
	.send_parts = f_send_parts,
	.close = f_close,
	.set_timer = f_set_timer,
	.cancel_timer = f_cancel_timer,
	.now_ms = f_now_ms,
	.random = f_random,
	.data_dir = f_data_dir,
	.disk = f_disk,
	.trace = f_trace,
	.listener_port = f_listener_port,
};

/* ---- the log directory ------------------------------------------------------ */

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_root(void)
{
	if (root[0] != '\0')
		nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fresh_root(void)
{
	if (root[0] == '\0') {
		snprintf(root, sizeof(root), "/tmp/klab-fuzz_request.%ld", (long)getpid());
		atexit(remove_root);
	}
	remove_root();
	if (mkdir(root, 0755) != 0 && errno != EEXIST)
		fail("cannot make the log directory");
}

static bool verbose; /* FUZZ_REQUEST_VERBOSE=1: the broker's log and each frame's fate */

static void
quiet(void *arg, const char *line)
{
	(void)arg;
	if (verbose)
		fprintf(stderr, "fuzz_request: broker: %s\n", line);
}

/* ---- one input ------------------------------------------------------------------ */

static bool
parked_on(const struct broker *b)
{
	return b->parked != NULL;
}

/* Is frame a Produce whose acks field is 0?  (The broker sends no answer.) */
static bool
produce_acks0(const uint8_t *f, size_t len)
{
	return len >= 6 && be16_read(f + 4) == 0;
}

static void
fire_timers(struct node *n)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		timer_id t = 0;
		int at = -1;

		for (int i = 0; i < MAX_TIMERS; i++)
			if (fk.timers[i] != 0 && (t == 0 || fk.timers[i] < t)) {
				t = fk.timers[i];
				at = i;
			}
		if (t == 0)
			return;
		fk.timers[at] = 0;
		fk.now += 1000;
		broker_node_ops.on_timer(n, t);
	}
	fail("timers keep firing");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt rt = { .ops = &fake_ops, .impl = NULL };
	struct broker b;
	struct broker_config bc;
	struct config props;
	struct node n;
	conn_id conn = 1;
	size_t pos = 0;
	uint8_t *tmp = NULL;

	verbose = getenv("FUZZ_REQUEST_VERBOSE") != NULL;
	mkdir_budget = -1;
	fresh_root();
	mkdir_budget = MKDIR_BUDGET;
	memset(&fk, 0, sizeof(fk));
	fk.now = 1700000000000;
	fk.rnd = 1;
	config_init(&props);
	/* Small segments and indexes: rolls happen, and files are cheap to make. */
	if (config_set(&props, "num.partitions", "2") != KLAB_OK ||
	    config_set(&props, "log.segment.bytes", "16384") != KLAB_OK ||
	    config_set(&props, "log.index.size.max.bytes", "4096") != KLAB_OK)
		fail("config_set");
	memset(&bc, 0, sizeof(bc));
	bc.broker_id = 1;
	snprintf(bc.listen_host, sizeof(bc.listen_host), "localhost");
	bc.listen_port = 9092;
	snprintf(bc.cluster_id, sizeof(bc.cluster_id), "klab-fuzz");
	bc.auto_create_topics = true;
	bc.props = &props;
	bc.log = quiet;
	broker_init(&b, &bc);
	n = (struct node){ .ops = &broker_node_ops, .rt = &rt, .state = &b, .name = "broker" };
	broker_node_ops.on_start(&n);
	if (b.failed)
		fail("the broker did not start");

	while (pos < size) {
		size_t avail = size - pos;
		int64_t fs = frame_size(data + pos, avail, MAX_FRAME);
		const uint8_t *f;
		size_t flen;
		uint64_t sends = fk.sends, closes = fk.closes, reqs = b.requests;
		bool was_parked = parked_on(&b);

		if (fs >= 4 && (size_t)fs <= avail) {
			f = data + pos;
			flen = (size_t)fs;
		} else { /* the rest, as one frame with a right size prefix */
			free(tmp);
			if ((tmp = malloc(avail + 4)) == NULL)
				fail("out of memory");
			be32_write(tmp, (uint32_t)avail);
			memcpy(tmp + 4, data + pos, avail);
			f = tmp;
			flen = avail + 4;
			fs = (int64_t)avail;
		}
		pos += (size_t)fs;
		broker_node_ops.on_frame(&n, conn, f, flen);
		fk.now += 1;
		if (verbose)
			fprintf(stderr, "fuzz_request: frame of %zu bytes, key %d v%d: %s\n", flen,
				flen >= 6 ? (int16_t)be16_read(f + 4) : -1,
				flen >= 8 ? (int16_t)be16_read(f + 6) : -1,
				fk.closes != closes ? "closed"
				: fk.sends != sends ? "answered"
				: parked_on(&b)	    ? "waits"
						    : "no answer");
		if (fk.closes != closes) {
			conn++; /* a fresh connection for what follows */
			continue;
		}
		if (fk.sends != sends || was_parked || parked_on(&b))
			continue;
		if (b.requests != reqs && produce_acks0(f, flen))
			continue;
		fail("a frame got neither an answer nor a close");
	}
	fire_timers(&n);
	if (parked_on(&b))
		fail("a Fetch still waits after every timer fired");
	broker_node_ops.on_stop(&n);
	broker_free(&b);
	config_free(&props);
	free(tmp);
	return 0;
}
