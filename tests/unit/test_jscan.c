#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/ingest/jscan.h"

/* A query of the pointers given, and the line scanned with it. */
struct scanned {
	struct jscan_query *q;
	int slot[16];
	struct jscan_value v[JSCAN_MAX_SLOTS];
	const char *text;
	size_t len;
	int rc;
};

static void scan(struct scanned *s, const char *text, size_t len, const char *const *pointers)
{
	s->q = jscan_query_new();
	assert_non_null(s->q);
	for (size_t i = 0; pointers && pointers[i]; i++) {
		s->slot[i] = jscan_query_add(s->q, pointers[i]);
		assert_true(s->slot[i] >= 0);
	}
	s->text = text;
	s->len = len;
	s->rc = jscan_parse(s->q, text, len, s->v, NULL);
}

static const struct jscan_value *at(const struct scanned *s, int i)
{
	return &s->v[s->slot[i]];
}

static void done(struct scanned *s)
{
	jscan_query_free(s->q);
}

/* What record.c's jansson load says of the text: 1 accepted, 0 refused. */
static int jansson_accepts(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_decref(j);
	return j != NULL;
}

/* ---- what is refused, as jansson refuses it ----------------------------- */

struct line_case {
	const char *what;
	const char *text;
	size_t len; /* 0: strlen */
	int accepted;
};

static const struct line_case line_cases[] = {
    {"an object", "{\"a\": 1}", 0, 1},
    {"whitespace around it", " \t\r\n{}\r", 0, 1},
    {"a top level that is not an object is still JSON (record.c calls it not_object)", "[1, 2]", 0,
     1},
    {"a number at the top", "42", 0, 1},
    {"invalid JSON: a missing value", "{\"ts\": }", 0, 0},
    {"invalid JSON: an unclosed object", "{\"a\": 1", 0, 0},
    {"invalid JSON: a key that is not a string", "{a: 1}", 0, 0},
    {"invalid JSON: a trailing comma", "{\"a\": 1,}", 0, 0},
    {"an empty line", "", 0, 0},
    {"whitespace only", "  ", 0, 0},
    {"trailing garbage after the object", "{\"a\": 1} x", 0, 0},
    {"a second object after the first", "{}{}", 0, 0},
    {"a form feed is not whitespace", "{}\f", 0, 0},
    {"invalid UTF-8: a lone continuation byte", "{\"s\": \"\x80\"}", 0, 0},
    {"invalid UTF-8: a truncated sequence", "{\"s\": \"\xc3(\"}", 0, 0},
    {"invalid UTF-8: an overlong form", "{\"s\": \"\xc0\xaf\"}", 0, 0},
    {"invalid UTF-8: an encoded surrogate", "{\"s\": \"\xed\xa0\x80\"}", 0, 0},
    {"invalid UTF-8: beyond U+10FFFF", "{\"s\": \"\xf4\x90\x80\x80\"}", 0, 0},
    {"valid UTF-8 of every length", "{\"s\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0, 1},
    {"a NUL byte inside a string", "{\"s\": \"a\0b\"}", 11, 0},
    {"a NUL byte after the object", "{}\0", 3, 0},
    {"a NUL byte right after a number is dropped, as jansson drops it", "{\"a\": 1\0}", 9, 1},
    {"a NUL byte right after a literal is dropped too", "[true\0]", 7, 1},
    {"two NUL bytes after a number are not", "{\"a\": 1\0\0}", 10, 0},
    {"a NUL byte after a string is not", "{\"a\": \"x\"\0}", 11, 0},
    {"\\u0000 in a value", "{\"s\": \"a\\u0000b\"}", 0, 1},
    {"\\u0000 in a key", "{\"a\\u0000\": 1}", 0, 0},
    {"a real that overflows: 1e999", "{\"pnl\": 1e999}", 0, 0},
    {"a negative real that overflows", "{\"pnl\": -1e999}", 0, 0},
    {"a real that underflows reads as strtod gives it", "{\"pnl\": 1e-999}", 0, 1},
    {"a real just below the largest double", "{\"x\": 1.7976931348623157e308}", 0, 1},
    {"an integer beyond long long: 99999999999999999999", "{\"q\": 99999999999999999999}", 0, 0},
    {"one past the largest long long", "{\"q\": 9223372036854775808}", 0, 0},
    {"the smallest long long", "{\"q\": -9223372036854775808}", 0, 1},
    {"one below the smallest long long", "{\"q\": -9223372036854775809}", 0, 0},
    {"NaN as text", "{\"pnl\": NaN}", 0, 0},
    {"Infinity as text", "{\"pnl\": Infinity}", 0, 0},
    {"\"NaN\" as a string is a string", "{\"pnl\": \"NaN\"}", 0, 1},
    {"a raw control character in a string", "{\"s\": \"a\tb\"}", 0, 0},
    {"a raw newline in a string", "{\"s\": \"a\nb\"}", 0, 0},
    {"DEL is not a control character", "{\"s\": \"a\x7f\"}", 0, 1},
    {"an unknown escape", "{\"s\": \"\\x41\"}", 0, 0},
    {"a short \\u escape", "{\"s\": \"\\u12\"}", 0, 0},
    {"a lone high surrogate escape", "{\"s\": \"\\ud83d\"}", 0, 0},
    {"a high surrogate before a non-surrogate", "{\"s\": \"\\ud83d\\u0041\"}", 0, 0},
    {"a lone low surrogate escape", "{\"s\": \"\\ude00\"}", 0, 0},
    {"a surrogate pair", "{\"s\": \"\\ud83d\\ude00\"}", 0, 1},
    {"duplicate keys are accepted (no JSON_REJECT_DUPLICATES)", "{\"a\": 1, \"a\": 2}", 0, 1},
    {"a leading zero", "{\"a\": 01}", 0, 0},
    {"a bare minus", "{\"a\": -}", 0, 0},
    {"a point without digits after it", "{\"a\": 1.}", 0, 0},
    {"an exponent without digits", "{\"a\": 1e+}", 0, 0},
    {"a literal cut short", "{\"a\": tru}", 0, 0},
    {"a literal run on", "{\"a\": truex}", 0, 0},
};

static void test_lines_are_accepted_exactly_as_jansson_accepts_them(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof line_cases / sizeof line_cases[0]; i++) {
		const struct line_case *c = &line_cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		struct scanned s;
		scan(&s, c->text, len, NULL);
		if ((s.rc == 0) != c->accepted || jansson_accepts(c->text, len) != c->accepted)
			fail_msg("%s: jscan %s, jansson %s, expected %s", c->what,
				 s.rc == 0 ? "accepts" : "refuses",
				 jansson_accepts(c->text, len) ? "accepts" : "refuses",
				 c->accepted ? "accepted" : "refused");
		done(&s);
	}
}

/* Nesting of depth values (the top one counted) around an empty object. */
static char *nested(int depth, size_t *len)
{
	char *text = malloc(2 * (size_t)depth + 1);
	assert_non_null(text);
	size_t n = 0;
	for (int i = 0; i < depth - 1; i++)
		text[n++] = '[';
	text[n++] = '{';
	text[n++] = '}';
	for (int i = 0; i < depth - 1; i++)
		text[n++] = ']';
	*len = n;
	return text;
}

static void test_nesting_deeper_than_2048_values_is_refused_as_jansson_refuses_it(void **state)
{
	(void)state;
	for (int depth = JSCAN_MAX_DEPTH - 1; depth <= JSCAN_MAX_DEPTH + 1; depth++) {
		size_t len;
		char *text = nested(depth, &len);
		struct scanned s;
		scan(&s, text, len, NULL);
		int ok = depth <= JSCAN_MAX_DEPTH;
		assert_int_equal(s.rc == 0, ok);
		assert_int_equal(jansson_accepts(text, len), ok);
		done(&s);
		free(text);
	}
}

/* ---- values at pointers -------------------------------------------------- */

static void test_values_at_pointers_have_their_types_and_numbers(void **state)
{
	(void)state;
	static const char *const p[] = {"/i", "/r",    "/t",   "/f",   "/n",   "/s", "/o",
					"/a", "/none", "/o/x", "/big", "/neg", NULL};
	const char *text =
	    "{\"i\": -12, \"r\": 2.5e-3, \"t\": true, \"f\": false, \"n\": null, "
	    "\"s\": \"x\", \"o\": {\"x\": 1}, \"a\": [1], \"big\": 9223372036854775807,"
	    " \"neg\": -0.0}";
	struct scanned s;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	assert_int_equal(at(&s, 0)->type, JSCAN_INTEGER);
	assert_true(at(&s, 0)->integer == -12);
	assert_int_equal(at(&s, 1)->type, JSCAN_REAL);
	assert_true(at(&s, 1)->real == 2.5e-3);
	assert_int_equal(at(&s, 2)->type, JSCAN_TRUE);
	assert_int_equal(at(&s, 3)->type, JSCAN_FALSE);
	assert_int_equal(at(&s, 4)->type, JSCAN_NULL);
	assert_int_equal(at(&s, 5)->type, JSCAN_STRING);
	assert_int_equal(at(&s, 6)->type, JSCAN_OBJECT);
	assert_memory_equal(text + at(&s, 6)->at, "{\"x\": 1}", at(&s, 6)->len);
	assert_int_equal(at(&s, 7)->type, JSCAN_ARRAY);
	assert_int_equal(at(&s, 8)->type, JSCAN_ABSENT);
	assert_int_equal(at(&s, 9)->type, JSCAN_INTEGER);
	assert_true(at(&s, 10)->integer == 9223372036854775807LL);
	assert_int_equal(at(&s, 11)->type, JSCAN_REAL);
	assert_true(at(&s, 11)->real == 0 && signbit(at(&s, 11)->real));
	done(&s);
}

static void test_reals_convert_bit_for_bit_as_strtod_does(void **state)
{
	(void)state;
	static const char *const reals[] = {
	    "0.1",
	    "2.232",
	    "-14.657",
	    "7.040000000000001",
	    "1e22",
	    "1e23",
	    "123456789012345.6",
	    "0.30000000000000004",
	    "4.9e-324",
	    "2.2250738585072014e-308",
	    "1.5E+300",
	    "12345678901234567890.0",
	    "0.000000000000000000000000001",
	};
	static const char *const p[] = {"/0", NULL};
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "[%s]", reals[i]);
		struct scanned s;
		scan(&s, text, strlen(text), p);
		assert_int_equal(s.rc, 0);
		assert_int_equal(at(&s, 0)->type, JSCAN_REAL);
		double want = strtod(reals[i], NULL);
		if (memcmp(&want, &at(&s, 0)->real, sizeof want) != 0)
			fail_msg("%s: %.17g, strtod gives %.17g", reals[i], at(&s, 0)->real, want);
		done(&s);
	}
}

static void test_strings_decode_escapes_and_keep_a_nul(void **state)
{
	(void)state;
	static const char *const p[] = {"/s", "/z", "/plain", NULL};
	const char *text = "{\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", "
			   "\"z\": \"a\\u0000b\", \"plain\": \"abc\"}";
	struct scanned s;
	char out[64];
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	size_t n = jscan_string(text, at(&s, 0), out);
	assert_int_equal(n, 14);
	assert_memory_equal(out, "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80", 14);
	assert_int_equal(out[n], '\0');
	n = jscan_string(text, at(&s, 1), out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\0b", 3);
	assert_false(at(&s, 2)->escaped);
	assert_int_equal(jscan_string(text, at(&s, 2), out), 3);
	assert_string_equal(out, "abc");
	done(&s);
}

static void test_a_key_given_twice_keeps_its_last_value_even_below_it(void **state)
{
	(void)state;
	static const char *const p[] = {"/a/b", "/a/c", "/a", "/k", NULL};
	const char *text = "{\"a\": {\"b\": 1}, \"k\": 1, \"a\": {\"c\": 2}, \"k\": \"last\"}";
	struct scanned s;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	assert_int_equal(at(&s, 0)->type, JSCAN_ABSENT); /* the first "a" held it */
	assert_int_equal(at(&s, 1)->type, JSCAN_INTEGER);
	assert_int_equal(at(&s, 2)->type, JSCAN_OBJECT);
	assert_int_equal(at(&s, 3)->type, JSCAN_STRING);
	done(&s);
}

static void test_pointers_resolve_as_rfc_6901_with_record_pointer_quirks(void **state)
{
	(void)state;
	static const char *const p[] = {"/a~1b",   "/m~0n",	 "/",	      "/arr/1",
					"/arr/01", "/arr/ 2",	 "/arr/-1",   "/arr/x",
					"",	   "/e\xc3\xa9", "/k\\u0041", NULL};
	const char *text = "{\"a/b\": 1, \"m~n\": 2, \"\": 3, \"arr\": [10, 11, 12], "
			   "\"e\\u00e9\": 4, \"k\\\\u0041\": 5}";
	struct scanned s;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	assert_true(at(&s, 0)->integer == 1);
	assert_true(at(&s, 1)->integer == 2);
	assert_true(at(&s, 2)->integer == 3); /* "/" is the key "" */
	assert_true(at(&s, 3)->integer == 11);
	assert_true(at(&s, 4)->integer == 11); /* strtoul reads "01" as 1 */
	assert_true(at(&s, 5)->integer == 12); /* and " 2" as 2 */
	assert_int_equal(at(&s, 6)->type, JSCAN_ABSENT);
	assert_int_equal(at(&s, 7)->type, JSCAN_ABSENT);
	assert_int_equal(at(&s, 8)->type, JSCAN_OBJECT); /* "" is the whole line */
	assert_true(at(&s, 9)->integer == 4);		 /* a key's escapes decoded */
	assert_true(at(&s, 10)->integer == 5);
	done(&s);
}

static void test_a_pointer_into_a_value_it_cannot_enter_is_absent(void **state)
{
	(void)state;
	static const char *const p[] = {"/s/x", "/n/0", "/a/9", "/o/x/y", NULL};
	const char *text = "{\"s\": \"text\", \"n\": 5, \"a\": [1], \"o\": {\"x\": 1}}";
	struct scanned s;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(at(&s, i)->type, JSCAN_ABSENT);
	done(&s);
}

static void test_a_token_counts_to_its_255th_byte_as_record_pointer_cuts_it(void **state)
{
	(void)state;
	char pointer[400], text[600];
	memset(pointer, 'k', sizeof pointer);
	pointer[0] = '/';
	pointer[300] = '\0'; /* a token of 299 bytes */
	snprintf(text, sizeof text, "{\"%.255s\": 7}", pointer + 1);
	const char *const p[] = {pointer, NULL};
	struct scanned s;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	assert_true(at(&s, 0)->integer == 7);
	done(&s);
}

static void test_members_come_in_text_order_with_their_values(void **state)
{
	(void)state;
	static const char *const p[] = {"/c", NULL};
	const char *text =
	    "{\"c\": {\"x\": 1, \"y\": {\"z\": [\"}\"]}, \"s\": \"a\\\"b\", \"x\": 2.5,"
	    " \"t\": true, \"n\": null, \"a\": [1, 2]}}";
	struct scanned s;
	struct jscan_members m;
	struct jscan_value key, value;
	char name[16];
	static const char *const names[] = {"x", "y", "s", "x", "t", "n", "a"};
	static const enum jscan_type types[] = {JSCAN_INTEGER, JSCAN_OBJECT, JSCAN_STRING,
						JSCAN_REAL,    JSCAN_TRUE,   JSCAN_NULL,
						JSCAN_ARRAY};
	size_t n = 0;
	scan(&s, text, strlen(text), p);
	assert_int_equal(s.rc, 0);
	jscan_members_begin(&m, text, at(&s, 0));
	while (jscan_members_next(&m, &key, &value)) {
		assert_true(n < 7);
		jscan_string(text, &key, name);
		assert_string_equal(name, names[n]);
		assert_int_equal(value.type, types[n]);
		n++;
	}
	assert_int_equal(n, 7);
	done(&s);
}

static void test_a_query_has_at_most_1024_steps(void **state)
{
	(void)state;
	struct jscan_query *q = jscan_query_new();
	char pointer[32];
	int last = 0;
	assert_non_null(q);
	for (int i = 0; i < JSCAN_MAX_SLOTS - 1; i++) {
		snprintf(pointer, sizeof pointer, "/k%d", i);
		last = jscan_query_add(q, pointer);
		assert_true(last > 0);
	}
	assert_int_equal(jscan_query_add(q, "/k0"), 1); /* the same place again */
	assert_int_equal(jscan_query_add(q, "/one-more"), -1);
	assert_int_equal(jscan_query_slots(q), JSCAN_MAX_SLOTS);
	jscan_query_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_are_accepted_exactly_as_jansson_accepts_them),
	    cmocka_unit_test(test_nesting_deeper_than_2048_values_is_refused_as_jansson_refuses_it),
	    cmocka_unit_test(test_values_at_pointers_have_their_types_and_numbers),
	    cmocka_unit_test(test_reals_convert_bit_for_bit_as_strtod_does),
	    cmocka_unit_test(test_strings_decode_escapes_and_keep_a_nul),
	    cmocka_unit_test(test_a_key_given_twice_keeps_its_last_value_even_below_it),
	    cmocka_unit_test(test_pointers_resolve_as_rfc_6901_with_record_pointer_quirks),
	    cmocka_unit_test(test_a_pointer_into_a_value_it_cannot_enter_is_absent),
	    cmocka_unit_test(test_a_token_counts_to_its_255th_byte_as_record_pointer_cuts_it),
	    cmocka_unit_test(test_members_come_in_text_order_with_their_values),
	    cmocka_unit_test(test_a_query_has_at_most_1024_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
