/*
 * assert.c - the slow path of KLAB_ASSERT (see assert.h).
 */
#include "core/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
klab_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "klab: %s:%d: KLAB_ASSERT(%s) failed: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}
