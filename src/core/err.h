/*
 * err.h - the one error convention of klab.
 *
 * Every function that can fail for an operational reason (a bad file, a bad
 * frame, a full disk) returns an int: KLAB_OK (0) on success, or one of the
 * negative codes below.  Programmer errors are assert()s, not codes; a
 * broken invariant that guards data (an offset, a size, a field name) is a
 * KLAB_ASSERT (core/assert.h), which -DNDEBUG does not remove.
 *
 * Where a caller needs to tell a person *what* went wrong (which config key,
 * which file, which byte), the function also takes a `struct kerr *` and
 * writes one human sentence into it.  Passing NULL is always allowed.
 *
 * Cleanup has one shape.  A function that must undo work on failure jumps
 * to a single label `fail:` that releases what was taken and returns the
 * code; where the same release runs on success too, the label every path
 * reaches is `out:`, and `fail:` (setting the result) falls through into
 * it.  A cleanup path never writes, truncates or deletes a file: it frees
 * memory and lets go of handles (log_release, fs_close), nothing more.
 *
 * Later chapters map Kafka's and ZooKeeper's wire error codes onto these at
 * the protocol edge.  Each code is marked definite (it did not happen) or
 * indefinite (it may have happened) in klab_err_definite().
 */
#ifndef KLAB_CORE_ERR_H
#define KLAB_CORE_ERR_H

#include <stdarg.h>
#include <stdbool.h>

enum klab_err {
	KLAB_OK = 0,
	KLAB_EIO = -1,	       /* the operating system said no */
	KLAB_ENOMEM = -2,      /* allocation failed */
	KLAB_EINVAL = -3,      /* a bad argument or value */
	KLAB_ECORRUPT = -4,    /* bytes failed a CRC or a structural check */
	KLAB_ETOOLARGE = -5,   /* bigger than a configured limit */
	KLAB_ERANGE = -6,      /* an offset outside the log */
	KLAB_ENOTFOUND = -7,   /* no such thing */
	KLAB_ECONFIG = -8,     /* a bad configuration value */
	KLAB_ENOTIMPL = -9,    /* not implemented (lab skeletons return this) */
	KLAB_ESTATE = -10,     /* the object is not in a state that allows this */
	KLAB_ETRUNCATED = -11, /* input ended before a complete item */
	KLAB_EFULL = -12,      /* a bounded buffer has no room (yet) */
	KLAB_ETIMEDOUT = -13,  /* waited as long as allowed */
	KLAB_ENOSPC = -14,     /* the disk is full */
	KLAB_ESEQUENCE = -15,  /* an idempotent producer's batch is out of sequence */
	KLAB_EFENCED = -16,    /* an idempotent producer's epoch is older than the log's */
};

struct kerr {
	int code;
	char msg[512];
};

/* The name of a code, e.g. "KLAB_ECORRUPT" -> "corrupt data". */
const char *klab_strerror(int code);

/* True when the failure means the operation certainly did not take effect. */
bool klab_err_definite(int code);

/*
 * Record code and a printf-style sentence in *e (if e is not NULL) and return
 * code, so a caller can write `return kerr_set(e, KLAB_EINVAL, "...")`.
 */
int kerr_set(struct kerr *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The sentence in *e, or the code's name when none was recorded. */
const char *kerr_msg(const struct kerr *e);

#endif
