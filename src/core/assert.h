/*
 * assert.h - an assert that is never compiled out (Redis's serverAssert).
 *
 * C's assert() vanishes under -DNDEBUG, and klab's bench build defines it.
 * That is right for checks that only catch a programmer's slip in a
 * computation that cannot hurt anything, and wrong for the rules that
 * guard data: an offset past the end of a buffer, a size that does not
 * tile a record batch, a field name the codec does not know (which would
 * otherwise read or write through a NULL node).  Carrying on past one of
 * those writes wrong bytes to a log or onto the wire, so those checks use
 *
 *   KLAB_ASSERT(cond, "rule, printf-style", ...);
 *
 * which stays in every build.  When cond is false it prints
 *
 *   klab: src/proto/kafka.c:224: KLAB_ASSERT(v != NULL) failed: schema
 *   MetadataRequest has no field 'topicz' (field names: messages.c)
 *
 * - where, the condition, and a sentence naming the rule that broke - to
 * stderr and calls abort(), so a core dump or the sanitizers' report
 * shows the stack.  It is for invariants, never for bad input: a frame
 * from the network or a file read from disk that breaks a rule is an
 * error code (err.h), not an assert.
 */
#ifndef KLAB_CORE_ASSERT_H
#define KLAB_CORE_ASSERT_H

#define KLAB_ASSERT(cond, ...) \
	((cond) ? (void)0 : klab_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))

/* Print the broken rule and abort (KLAB_ASSERT's slow path). */
void klab_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#endif
