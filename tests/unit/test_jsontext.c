#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/jsontext.h"

/* ---- reals ----------------------------------------------------------------- */

struct real_case {
	double value;
	const char *text; /* exact text, or NULL: only the round trip is checked */
};

static const struct real_case real_cases[] = {
    {-0.23, "-0.23"},
    {0.1, "0.1"},
    {1.0, "1.0"},
    {100.0, "100.0"},
    {-0.0, "-0.0"},
    {1.5, "1.5"},
    {-2.5e-5, "-2.5e-05"},
    {0.000123, "0.000123"},
    {123456789.0, "123456789.0"},
    {1e300, "1e+300"},
    {1e15, "1e+15"},
    {0.30000000000000004, "0.30000000000000004"}, /* needs all 17 digits */
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {9007199254740992.0, "9007199254740992.0"},
    /* The smallest subnormal: 15 significant digits at least (the header's
     * floor), so "4.94065645841247e-324" rather than "5e-324"; either way
     * it must read back as the same double. */
    {5e-324, NULL},
    {2.2250738585072014e-308, NULL},
};

static void test_real_shortest_round_trip_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]); i++) {
		const struct real_case *c = &real_cases[i];
		char buf[40];
		jsontext_real(c->value, buf, sizeof(buf));
		if (c->text && strcmp(buf, c->text) != 0)
			fail_msg("%.17g: \"%s\", expected \"%s\"", c->value, buf, c->text);
		double back = strtod(buf, NULL);
		if (memcmp(&back, &c->value, sizeof(back)) != 0)
			fail_msg("%.17g: \"%s\" reads back as %.17g", c->value, buf, back);
	}
}

static void test_real_non_finite_is_null(void **state)
{
	const double values[] = {NAN, -NAN, INFINITY, -INFINITY};
	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[40];
		jsontext_real(values[i], buf, sizeof(buf));
		assert_string_equal(buf, "null");
	}
}

/* xorshift64*: a fixed seed, so a failure is reproducible. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static void check_round_trip(double d)
{
	char buf[40];
	jsontext_real(d, buf, sizeof(buf));
	double back = strtod(buf, NULL);
	if (memcmp(&back, &d, sizeof(d)) != 0)
		fail_msg("%.17g: \"%s\" reads back as %.17g", d, buf, back);
	/* Still a JSON real: jansson reads it back as a real, not an integer. */
	json_error_t jerr;
	json_t *j = json_loads(buf, JSON_DECODE_ANY, &jerr);
	if (!json_is_real(j))
		fail_msg("%.17g: \"%s\" is not a JSON real", d, buf);
	json_decref(j);
}

static void test_real_round_trips_10000_random_doubles(void **state)
{
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
	(void)state;
	for (int i = 0; i < 10000; i++) {
		/* Half random bit patterns (every exponent), half prices. */
		uint64_t bits = next_random(&seed);
		double d;
		if (i % 2) {
			memcpy(&d, &bits, sizeof(d));
			if (!isfinite(d))
				continue;
		} else {
			d = (double)(bits >> 11) / 9007199254740992.0 * 1000.0 - 500.0;
		}
		check_round_trip(d);
	}
}

/* The definition of the text of a real: the first of %.15g, %.16g and
 * %.17g that reads back as the same double, ".0" added to an integer. */
static void real_by_definition(double d, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
}

/* The value of class i % 9 made from random bits: the magnitudes and
 * shapes tradelearn writes (prices, weights, fractions, counts) and the
 * edges (powers of two and their neighbours, ties of decimal rounding,
 * subnormals, every exponent). */
static double real_of_class(int i, uint64_t bits)
{
	double d;
	switch (i % 9) {
	case 0: /* any bit pattern */
		memcpy(&d, &bits, sizeof d);
		return isfinite(d) ? d : 1.5;
	case 1: /* a price in cents */
		return (double)(int64_t)(bits % 20000000) / 100.0;
	case 2: /* a power of two, or a neighbour of one */
		d = ldexp(1.0, (int)(bits % 200) - 100);
		return bits & 1 ? nextafter(d, (bits & 2) ? INFINITY : -INFINITY) : d;
	case 3: /* a full significand at a decimal exponent from -12 to 17 */
		return (double)(bits >> 11) / 9007199254740992.0 *
		       pow(10.0, (double)(bits % 30) - 12);
	case 4: /* a short decimal, on the tie of rounding to 15 or 16 digits */
		return (double)(int64_t)(bits % 100000000000000000ULL) /
		       pow(10.0, (double)(bits % 20));
	case 5: /* a neighbour of a short decimal */
		d = (double)(int64_t)(bits % 1000000) / 1000.0;
		return nextafter(d, (bits >> 63) ? INFINITY : -INFINITY);
	case 6: /* a subnormal */
		bits &= (UINT64_C(1) << 52) - 1;
		memcpy(&d, &bits, sizeof d);
		return d;
	case 7: /* a weight or probability */
		return (double)(bits >> 11) / 9007199254740992.0 * 8.0 - 4.0;
	default: /* a whole number up to 2^60 */
		return (double)(bits >> (4 + bits % 40));
	}
}

static void test_real_is_the_first_of_15_16_17_digits_that_reads_back(void **state)
{
	uint64_t seed = UINT64_C(0x2545f4914f6cdd1d);
	(void)state;
	for (int i = 0; i < 300000; i++) {
		uint64_t bits = next_random(&seed);
		double d = real_of_class(i, bits);
		if (bits >> 62 == 3)
			d = -d;
		char got[40], want[48];
		jsontext_real(d, got, sizeof got);
		real_by_definition(d, want, sizeof want);
		if (strcmp(got, want) != 0)
			fail_msg("%a (class %d): \"%s\", by definition \"%s\"", d, i % 9, got,
				 want);
	}
}

/* ---- strings ------------------------------------------------------------- */

struct string_case {
	const char *value;
	size_t len;
	const char *json;
};

#define STR(s) s, sizeof(s) - 1

static const struct string_case string_cases[] = {
    {STR("plain"), "\"plain\""},
    {STR(""), "\"\""},
    {STR("say \"hi\""), "\"say \\\"hi\\\"\""},
    {STR("back\\slash"), "\"back\\\\slash\""},
    {STR("a\nb\rc\td"), "\"a\\nb\\rc\\td\""},
    {STR("\x01\x1f"), "\"\\u0001\\u001f\""},
    {STR("nul\0byte"), "\"nul\\u0000byte\""},
    {STR("\b\f"), "\"\\u0008\\u000c\""},
    {STR("slash / and del \x7f"), "\"slash / and del \x7f\""},
    {STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
};

static void test_string_escapes_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
		const struct string_case *c = &string_cases[i];
		json_t *s = json_stringn(c->value, c->len);
		size_t len = 0;
		assert_non_null(s);
		char *text = jsontext_dump(s, JSONTEXT_COMPACT, &len);
		assert_non_null(text);
		assert_string_equal(text, c->json);
		assert_int_equal(len, strlen(c->json));
		/* jansson reads the same string back. */
		json_error_t jerr;
		json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		assert_non_null(back);
		assert_true(json_equal(s, back));
		json_decref(back);
		json_decref(s);
		free(text);
	}
}

/* ---- documents ------------------------------------------------------------- */

static void test_object_keys_keep_insertion_order(void **state)
{
	json_t *o = json_object();
	(void)state;
	json_object_set_new(o, "zeta", json_integer(1));
	json_object_set_new(o, "alpha", json_integer(2));
	json_object_set_new(o, "mid", json_integer(3));
	json_object_set_new(o, "beta", json_null());
	char *text = jsontext_dump(o, JSONTEXT_COMPACT, NULL);
	assert_string_equal(text, "{\"zeta\":1,\"alpha\":2,\"mid\":3,\"beta\":null}");
	free(text);
	json_decref(o);
}

struct dump_case {
	const char *input; /* parsed with jansson */
	const char *compact;
	const char *pretty;
};

static const struct dump_case dump_cases[] = {
    {"{}", "{}", "{}\n"},
    {"[]", "[]", "[]\n"},
    {"null", "null", "null\n"},
    {"[true,false,null,0,-7,2.5]", "[true,false,null,0,-7,2.5]",
     "[\n  true,\n  false,\n  null,\n  0,\n  -7,\n  2.5\n]\n"},
    {"{\"a\":1,\"b\":[1,{\"c\":-0.23}],\"d\":{},\"e\":[]}",
     "{\"a\":1,\"b\":[1,{\"c\":-0.23}],\"d\":{},\"e\":[]}",
     "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"c\": -0.23\n    }\n  ],\n"
     "  \"d\": {},\n  \"e\": []\n}\n"},
    {"{\"price\":100.0,\"qty\":3,\"big\":9007199254740993}",
     "{\"price\":100.0,\"qty\":3,\"big\":9007199254740993}",
     "{\n  \"price\": 100.0,\n  \"qty\": 3,\n  \"big\": 9007199254740993\n}\n"},
};

static void test_dump_compact_and_pretty_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dump_cases) / sizeof(dump_cases[0]); i++) {
		const struct dump_case *c = &dump_cases[i];
		json_error_t jerr;
		json_t *v = json_loads(c->input, JSON_DECODE_ANY, &jerr);
		size_t len;
		assert_non_null(v);

		char *compact = jsontext_dump(v, JSONTEXT_COMPACT, &len);
		assert_string_equal(compact, c->compact);
		assert_int_equal(len, strlen(c->compact));
		char *pretty = jsontext_dump(v, JSONTEXT_PRETTY, &len);
		assert_string_equal(pretty, c->pretty);
		assert_int_equal(len, strlen(c->pretty));
		assert_int_equal(pretty[len - 1], '\n');

		/* Both read back to an equal document. */
		json_t *back = json_loads(pretty, JSON_DECODE_ANY, &jerr);
		assert_true(json_equal(v, back));
		json_decref(back);
		back = json_loads(compact, JSON_DECODE_ANY, &jerr);
		assert_true(json_equal(v, back));
		json_decref(back);

		free(compact);
		free(pretty);
		json_decref(v);
	}
}

static void test_reals_inside_documents_are_shortest(void **state)
{
	json_t *o = json_pack("{s:f,s:f,s:f}", "pnl_frac", -0.23, "price", 1.0, "x", 0.1);
	(void)state;
	char *text = jsontext_dump(o, JSONTEXT_COMPACT, NULL);
	assert_string_equal(text, "{\"pnl_frac\":-0.23,\"price\":1.0,\"x\":0.1}");
	free(text);
	json_decref(o);
}

/* JSON has no NaN or infinity: those figures are written as null. */
static void test_real_or_null_is_a_real_or_null_for_non_finite(void **state)
{
	(void)state;
	static const double finite[] = {0.0, -0.23, 1e300, -5e-324};
	for (size_t i = 0; i < sizeof finite / sizeof finite[0]; i++) {
		json_t *v = jsontext_real_or_null(finite[i]);
		assert_true(json_is_real(v));
		assert_true(json_real_value(v) == finite[i]);
		json_decref(v);
	}
	static const double not_finite[] = {NAN, -NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < sizeof not_finite / sizeof not_finite[0]; i++) {
		json_t *v = jsontext_real_or_null(not_finite[i]);
		assert_true(json_is_null(v));
		json_decref(v);
	}
	json_t *o = json_object();
	json_object_set_new(o, "sharpe", jsontext_real_or_null(NAN));
	json_object_set_new(o, "pnl", jsontext_real_or_null(-0.23));
	char *text = jsontext_dump(o, JSONTEXT_COMPACT, NULL);
	assert_string_equal(text, "{\"sharpe\":null,\"pnl\":-0.23}");
	free(text);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_shortest_round_trip_table),
	    cmocka_unit_test(test_real_non_finite_is_null),
	    cmocka_unit_test(test_real_round_trips_10000_random_doubles),
	    cmocka_unit_test(test_real_is_the_first_of_15_16_17_digits_that_reads_back),
	    cmocka_unit_test(test_string_escapes_table),
	    cmocka_unit_test(test_object_keys_keep_insertion_order),
	    cmocka_unit_test(test_dump_compact_and_pretty_table),
	    cmocka_unit_test(test_reals_inside_documents_are_shortest),
	    cmocka_unit_test(test_real_or_null_is_a_real_or_null_for_non_finite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
