#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "lib/base/promtext.h"

static void test_a_family_has_its_help_and_type_lines_and_samples_with_labels(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct err err = {0};
	assert_int_equal(promtext_family(&b, "x_runs_total", "counter", "Runs.", &err), 0);
	assert_int_equal(
	    promtext_sample(&b, "x_runs_total", "job", "daily", "status", "ok", 3, &err), 0);
	assert_int_equal(
	    promtext_sample(&b, "x_runs_total", NULL, NULL, NULL, NULL, 12345678901.0, &err), 0);
	assert_string_equal(b.data, "# HELP x_runs_total Runs.\n# TYPE x_runs_total counter\n"
				    "x_runs_total{job=\"daily\",status=\"ok\"} 3\n"
				    "x_runs_total 12345678901\n");
	buf_release(&b);
}

static void test_label_values_and_help_are_escaped_as_the_format_says(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct err err = {0};
	assert_int_equal(promtext_family(&b, "x", "gauge", "a \\ b\nc \"q\"", &err), 0);
	assert_int_equal(promtext_sample(&b, "x", "v", "a\"b\\c\nd", NULL, NULL, 1, &err), 0);
	assert_string_equal(b.data, "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x gauge\n"
				    "x{v=\"a\\\"b\\\\c\\nd\"} 1\n");
	buf_release(&b);
}

static void test_values_read_back_exactly_and_nan_and_infinities_are_spelled_out(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct err err = {0};
	promtext_sample(&b, "a", NULL, NULL, NULL, NULL, 0.1, &err);
	promtext_sample(&b, "b", NULL, NULL, NULL, NULL, NAN, &err);
	promtext_sample(&b, "c", NULL, NULL, NULL, NULL, -INFINITY, &err);
	promtext_sample(&b, "d", NULL, NULL, NULL, NULL, 1796664632.752046, &err);
	assert_string_equal(b.data, "a 0.10000000000000001\nb NaN\nc -Inf\nd 1796664632.7520461\n");
	buf_release(&b);
}

static void test_names_outside_the_grammar_are_refused(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct err err = {0};
	assert_true(promtext_valid_name("tradelearn:lag_bytes", 0));
	assert_false(promtext_valid_name("tradelearn:lag_bytes", 1));
	assert_false(promtext_valid_name("9lives", 0));
	assert_false(promtext_valid_name("a-b", 0));
	assert_false(promtext_valid_name("", 0));
	assert_int_equal(promtext_family(&b, "a b", "gauge", "x", &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(promtext_sample(&b, "a", "__name", "x", NULL, NULL, 1, &err), -1);
	assert_int_equal(promtext_sample(&b, "a", "a:b", "x", NULL, NULL, 1, &err), -1);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_family_has_its_help_and_type_lines_and_samples_with_labels),
	    cmocka_unit_test(test_label_values_and_help_are_escaped_as_the_format_says),
	    cmocka_unit_test(test_values_read_back_exactly_and_nan_and_infinities_are_spelled_out),
	    cmocka_unit_test(test_names_outside_the_grammar_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
