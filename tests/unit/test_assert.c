/*
 * test_assert.c - KLAB_ASSERT stays in every build (core/assert.h).
 *
 * This file defines NDEBUG, as the bench build does: C's assert() is gone,
 * KLAB_ASSERT is not.  A broken rule aborts a child process, whose stderr
 * must name the place, the condition and the rule.
 */
#define NDEBUG 1

#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>

#include "core/assert.h"

/* Run KLAB_ASSERT(ok) in a child; its stderr into out, its status back. */
static int
run_child(bool ok, char *out, size_t cap)
{
	int fds[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		KLAB_ASSERT(ok, "the rule of test %d", 7);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, cap - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
test_assert_holds_is_silent(void **state)
{
	char out[1024];
	int status = run_child(true, out, sizeof(out));

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(out, "");
}

static void
test_assert_broken_rule_aborts_under_ndebug(void **state)
{
	char out[1024];
	int status = run_child(false, out, sizeof(out));

	(void)state;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	assert_non_null(strstr(out, "tests/unit/test_assert.c:"));
	assert_non_null(strstr(out, "KLAB_ASSERT(ok) failed: the rule of test 7"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assert_holds_is_silent),
		cmocka_unit_test(test_assert_broken_rule_aborts_under_ndebug),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
