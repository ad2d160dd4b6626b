/*
 * test_hostile_basics.c - the harness of the hostile-client tests
 * (hostile.h) on a broker nobody attacks: it starts, answers another
 * client at once, holds a small number of descriptors, and stops cleanly
 * (exit 0) on SIGTERM.  The other tests/hostile programs measure the same
 * things while attacking it.
 */
#include "testutil.h"

#include "hostile.h"

static void
test_hostile_quiet_broker_answers_and_stops_cleanly(void **state)
{
	struct hb b;
	int64_t ms;

	(void)state;
	if (hb_start(&b, NULL, 0, 0) != 0)
		fail_msg("broker did not start: %s", hb_log(&b));
	ms = hc_probe_ms(b.port, 5000);
	assert_true(ms >= 0 && ms < 2000);
	assert_true(hb_fds(&b) > 2 && hb_fds(&b) < 64);
	assert_true(hb_rss_peak_kb(&b) > 0);
	assert_true(hb_cpu_seconds(&b) >= 0);
	assert_int_equal(hb_stop(&b), 0);
	hb_cleanup(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_quiet_broker_answers_and_stops_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
