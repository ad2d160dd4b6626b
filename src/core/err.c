/*
 * err.c - names and helpers for klab's error codes (see err.h).
 */
#include "core/err.h"

#include <stdio.h>

const char *
klab_strerror(int code)
{
	switch (code) {
	case KLAB_OK: return "success";
	case KLAB_EIO: return "I/O error";
	case KLAB_ENOMEM: return "out of memory";
	case KLAB_EINVAL: return "invalid argument";
	case KLAB_ECORRUPT: return "corrupt data";
	case KLAB_ETOOLARGE: return "too large";
	case KLAB_ERANGE: return "offset out of range";
	case KLAB_ENOTFOUND: return "not found";
	case KLAB_ECONFIG: return "bad configuration";
	case KLAB_ENOTIMPL: return "not implemented";
	case KLAB_ESTATE: return "wrong state";
	case KLAB_ETRUNCATED: return "truncated input";
	case KLAB_EFULL: return "buffer full";
	case KLAB_ETIMEDOUT: return "timed out";
	case KLAB_ENOSPC: return "no space left on the disk";
	case KLAB_ESEQUENCE: return "out of order sequence number";
	case KLAB_EFENCED: return "stale producer epoch";
	}
	return "unknown error";
}

bool
klab_err_definite(int code)
{
	/* An I/O error during a write may have written part of the data (and
	 * a full disk may have taken some of it); a time-out may have happened
	 * after the operation took effect. */
	return code != KLAB_EIO && code != KLAB_ENOSPC && code != KLAB_ETIMEDOUT;
}

int
kerr_set(struct kerr *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *
kerr_msg(const struct kerr *e)
{
	if (e == NULL)
		return "";
	if (e->msg[0] != '\0')
		return e->msg;
	return klab_strerror(e->code);
}
