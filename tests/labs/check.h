/*
 * check.h - assertions that say in words what the graded tests of the labs
 * expected, so a failure reads as advice rather than as two numbers.
 *
 *   CHECK_EQ(got, want, "the batch's base offset", "did you set it before appending?");
 *     fails with: the batch's base offset: expected 7, got 0: did you set it before appending?
 *   CHECK_TRUE(cond, "what should hold: why");
 *   CHECK_OK(call, "what was called");  the call must return KLAB_OK
 *   CHECK_RC(rc, KLAB_EIO, "hint", "what, as a format", ...);  an error code, by name
 *
 * what may be a format with arguments through CHECK_EQF for loops, which
 * name the case that failed ("slot of target 25 in {10, 20, 30, 40}").
 * Include after <cmocka.h>.
 */
#ifndef KLAB_TESTS_LABS_CHECK_H
#define KLAB_TESTS_LABS_CHECK_H

#include <stdio.h>

#include "core/err.h"

#define CHECK_EQ(got, want, what, hint)                                                           \
	do {                                                                                      \
		long long got_ = (long long)(got), want_ = (long long)(want);                     \
		if (got_ != want_)                                                                \
			fail_msg("%s: expected %lld, got %lld: %s", (what), want_, got_, (hint)); \
	} while (0)

/* As CHECK_EQ, with what given as a printf format and its arguments. */
#define CHECK_EQF(got, want, hint, ...)                                                          \
	do {                                                                                     \
		long long got_ = (long long)(got), want_ = (long long)(want);                    \
		if (got_ != want_) {                                                             \
			char what_[256];                                                         \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                             \
			fail_msg("%s: expected %lld, got %lld: %s", what_, want_, got_, (hint)); \
		}                                                                                \
	} while (0)

#define CHECK_TRUE(cond, msg)                  \
	do {                                   \
		if (!(cond))                   \
			fail_msg("%s", (msg)); \
	} while (0)

#define CHECK_OK(call, what)                                                      \
	do {                                                                      \
		int rc_ = (call);                                                 \
		if (rc_ != KLAB_OK)                                               \
			fail_msg("%s returned %s (%d), expected KLAB_OK", (what), \
				 klab_strerror(rc_), rc_);                        \
	} while (0)

/* got must be the error code want (KLAB_EIO...): both named in the message. */
#define CHECK_RC(got, want, hint, ...)                                                       \
	do {                                                                                 \
		int got_ = (got), want_ = (want);                                            \
		if (got_ != want_) {                                                         \
			char what_[256];                                                     \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                         \
			fail_msg("%s: expected %s, got %s: %s", what_, klab_strerror(want_), \
				 klab_strerror(got_), (hint));                               \
		}                                                                            \
	} while (0)

#endif
