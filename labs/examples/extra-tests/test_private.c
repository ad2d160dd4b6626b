/*
 * test_private.c - an example of an instructor's private test for lab 1
 * (labs/INSTRUCTORS.md): make grade LAB=1 EXTRA_TESTS=labs/examples/extra-tests
 *
 * Built against the same files as tests/labs/lab1/test_lab1.c, with the
 * same conventions: --list prints the test names, KLAB_TEST_FILTER=NAME
 * runs only NAME, and ./points gives each test its region and points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log/index.h"

#include "labs/check.h"

/* A target below every key has no floor; one at or past a key has. */
static void
test_private_slot_floor_before_first(void **state)
{
	const int64_t keys[] = { 10, 20, 30 };

	(void)state;
	CHECK_EQ(index_slot_floor(keys, 3, 9), -1L, "index_slot_floor({10, 20, 30}, 9)",
		 "no key is <= 9: the answer is -1");
	CHECK_EQ(index_slot_floor(keys, 3, 10), 0L, "index_slot_floor({10, 20, 30}, 10)",
		 "the first key equals the target");
	CHECK_EQ(index_slot_floor(keys, 3, 99), 2L, "index_slot_floor({10, 20, 30}, 99)",
		 "every key is below the target: the last slot");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_slot_floor_before_first),
	};
	const char *filter = getenv("KLAB_TEST_FILTER");

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (filter != NULL)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
