#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/store/outcome.h"

/* What jansson and the getters of the jobs read from a line: the reference
 * the decoder must agree with. */
static double number_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t time_at(json_t *o, const char *key)
{
	int64_t us;
	const char *s = json_string_value(json_object_get(o, key));
	return s && calendar_parse_iso(s, &us) == 0 ? us : CALENDAR_NONE;
}

static void same_number(double a, double b)
{
	if (isnan(a) || isnan(b))
		assert_true(isnan(a) && isnan(b));
	else
		assert_memory_equal(&a, &b, sizeof a);
}

static void same_text(const char *a, json_t *b)
{
	const char *want = json_string_value(b);
	if (!want)
		assert_null(a);
	else
		assert_string_equal(a, want);
}

/* The decoder's fields of line agree with json_loadb() of it, key for key. */
static void agrees_with_jansson(struct outcome_decoder *d, const char *line)
{
	struct outcome_fields f;
	struct err err = {0};
	json_error_t jerr;
	json_t *o = json_loadb(line, strlen(line), 0, &jerr);
	assert_non_null(o);
	if (outcome_decode(d, line, strlen(line), &f, &err))
		fail_msg("%s: %s", line, err.msg);
	static const char *const texts[] = {"trade_id",	   "symbol",	  "side",
					    "regime",	   "sector",	  "timeframe",
					    "time_of_day", "day_of_week", "close_reason"};
	const char *got[] = {f.trade_id,  f.symbol,	 f.side,	f.regime,      f.sector,
			     f.timeframe, f.time_of_day, f.day_of_week, f.close_reason};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		same_text(got[i], json_object_get(o, texts[i]));
	static const char *const numbers[] = {"entry_price", "exit_price", "qty",
					      "pnl_usd",     "pnl_frac",   "hold_minutes",
					      "confidence",  "score",	   "partial"};
	const double values[] = {f.entry_price,	 f.exit_price, f.qty,	f.pnl_usd, f.pnl_frac,
				 f.hold_minutes, f.confidence, f.score, f.partial};
	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
		same_number(values[i], number_of(o, numbers[i]));
	assert_true(f.entry_us == time_at(o, "entry_ts"));
	assert_true(f.exit_us == time_at(o, "exit_ts"));
	json_t *comps = json_object_get(o, "components");
	assert_int_equal(f.has_components, json_is_object(comps));
	size_t k = 0;
	const char *name;
	json_t *v;
	json_object_foreach(comps, name, v)
	{
		if (!json_is_number(v))
			continue;
		assert_true(k < f.n_components);
		assert_string_equal(f.components[k].name, name);
		same_number(f.components[k].value, json_number_value(v));
		k++;
	}
	assert_int_equal(k, f.n_components);
	json_t *cats = json_object_get(o, "categories");
	k = 0;
	json_object_foreach(cats, name, v)
	{
		assert_true(k < f.n_categories);
		assert_string_equal(f.categories[k].name, name);
		same_text(f.categories[k].value, v);
		k++;
	}
	assert_int_equal(k, f.n_categories);
	json_decref(o);
}

static void test_lines_read_as_jansson_reads_them(void **state)
{
	static const char *const lines[] = {
	    /* As the short-term job writes one. */
	    "{\"trade_id\":\"T000001\",\"symbol\":\"JPM\",\"side\":\"short\",\"entry_ts\":"
	    "\"2026-01-05T14:31:02.962913Z\",\"exit_ts\":\"2026-01-05T14:41:04.131717Z\","
	    "\"entry_price\":250.03,\"exit_price\":247.79,\"qty\":19.0,\"pnl_usd\":42.56,"
	    "\"pnl_frac\":0.008959,\"hold_minutes\":10.02,\"confidence\":0.6845,\"score\":6.1528,"
	    "\"regime\":\"trend_up\",\"sector\":\"financials\",\"timeframe\":\"5m\","
	    "\"time_of_day\":\"open\",\"day_of_week\":\"monday\",\"close_reason\":\"take_profit\","
	    "\"partial\":1.0,\"components\":{\"momentum\":0.0321,\"mean_reversion\":-0.8497}}",
	    /* Nulls, keys in another order, unknown keys of every type skipped. */
	    "{ \"components\" : null, \"pnl_usd\" : null, \"pnl_frac\": -0.5, \"extra\": "
	    "[1, {\"a\": [true, false, null]}, \"x\"], \"exit_ts\": \"2026-02-05 14:31:54\", "
	    "\"side\": null, \"partial\": 0.25 }",
	    /* Escapes: \\n, \\", \\u00e9, a surrogate pair, \\/. */
	    "{\"trade_id\":\"a\\\"b\\\\c\\nd\\/e\",\"symbol\":\"caf\\u00e9 \\ud83d\\ude00\","
	    "\"components\":{\"x\\u0041\":1}}",
	    /* Numbers: exponents, integers, long mantissas, -0, tiny and huge. */
	    "{\"pnl_usd\":1e3,\"pnl_frac\":-2.5E-7,\"qty\":1234567890123456789,\"score\":-0,"
	    "\"confidence\":0.1000000000000000055511151231257827,\"entry_price\":1e-320,"
	    "\"exit_price\":123456789.123456789,\"hold_minutes\":0.0000001}",
	    /* Components: a number, a string, a nested object, a name written twice
	     * (first number then not, and the reverse), a time that is not one. */
	    "{\"components\":{\"a\":1,\"b\":\"no\",\"c\":{\"d\":2},\"a\":\"gone\",\"e\":null,"
	    "\"e\":3.5,\"f\":-7},\"entry_ts\":\"yesterday\",\"exit_ts\":17}",
	    /* Categories: texts, null, a number and an object (none), a name
	     * written twice (its last value), escapes. */
	    "{\"categories\":{\"venue\":\"binance\",\"strategy\":null,\"desk\":5,"
	    "\"x\":{\"y\":\"z\"},\"venue\":\"okx\",\"v\\u00e9\":\"a\\nb\"},\"symbol\":\"BTC\"}",
	    "{\"categories\":null}",
	    "{\"categories\":{}}",
	    /* Wrong types where numbers and texts belong; an empty object. */
	    "{\"symbol\":5,\"pnl_usd\":\"12\",\"regime\":[\"a\"],\"partial\":true}",
	    "{}",
	    "  {\"symbol\" :\t\"X\"}  \r\n",
	};
	struct outcome_decoder *d = outcome_decoder_new(NULL);
	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		agrees_with_jansson(d, lines[i]);
	outcome_decoder_free(d);
}

static void test_what_is_not_one_json_object_is_refused_with_the_byte(void **state)
{
	static const struct {
		const char *line, *message;
	} cases[] = {
	    {"", "at byte 0: not a JSON object"},
	    {"[1]", "at byte 0: not a JSON object"},
	    {"{\"a\":1", "at byte 6: no ',' or '}' after a member"},
	    {"{\"a\":1}x", "at byte 7: text after the object"},
	    {"{\"a\":01}", "at byte 6: no ',' or '}' after a member"},
	    {"{\"a\":1.}", "at byte 7: a number without digits after its point"},
	    {"{\"a\":1e+}", "at byte 8: a number without digits in its exponent"},
	    {"{\"a\":tru}", "at byte 5: not a JSON value"},
	    {"{\"a\":\"x}", "at byte 8: a string is not closed"},
	    {"{\"a\":\"\\q\"}", "at byte 8: a bad escape in a string"},
	    {"{\"a\":\"\\ud800\"}", "at byte 12: a lone UTF-16 surrogate in a string"},
	    {"{\"a\":\"\\u0000\"}", "at byte 12: \\u0000 in a string"},
	    {"{a:1}", "at byte 1: an object key is not a string"},
	    {"{\"components\":{\"a\" 1}}", "at byte 19: no ':' after an object key"},
	    {"{\"x\":[1 2]}", "at byte 8: no ',' or ']' after an element"},
	};
	struct outcome_decoder *d = outcome_decoder_new(NULL);
	struct outcome_fields f;
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err err = {0};
		assert_int_equal(outcome_decode(d, cases[i].line, strlen(cases[i].line), &f, &err),
				 -1);
		assert_int_equal(err.code, EINVAL);
		if (strcmp(err.msg, cases[i].message) != 0)
			fail_msg("%s: \"%s\", not \"%s\"", cases[i].line, err.msg,
				 cases[i].message);
	}
	/* Nesting is bounded, and the decoder is fine afterwards. */
	char deep[2000];
	size_t n = (size_t)snprintf(deep, sizeof deep, "{\"x\":");
	for (int i = 0; i < 600; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	struct err err = {0};
	assert_int_equal(outcome_decode(d, deep, n, &f, &err), -1);
	assert_non_null(strstr(err.msg, "nested too deep"));
	agrees_with_jansson(d, "{\"symbol\":\"AAPL\",\"components\":{\"m\":0.5}}");
	outcome_decoder_free(d);
}

/* The decoder reads what outcome_encode writes. */
static void test_an_encoded_record_decodes_to_its_values(void **state)
{
	struct record r;
	struct outcome_fields f;
	struct outcome_decoder *d = outcome_decoder_new(NULL);
	(void)state;
	memset(&r, 0, sizeof r);
	r.kind = PROFILE_KIND_PARTIAL;
	r.symbol = "MSFT";
	snprintf(r.key, sizeof r.key, "T1|2026-01-05");
	r.side = -1;
	r.ts = 1767624064131717;
	r.entry_ts = CALENDAR_NONE;
	r.entry_price = r.exit_price = r.qty = r.hold_minutes = r.score = NAN;
	r.pnl_usd = -26.18;
	r.pnl_frac = -0.006024;
	r.confidence = 1.0 / 3.0;
	r.fraction = 0.4;
	r.components = json_pack("{s:f,s:s}", "momentum", 0.1 + 0.2, "note", "x");
	char *line = outcome_encode(&r);
	assert_non_null(line);
	assert_int_equal(outcome_decode(d, line, strlen(line), &f, NULL), 0);
	assert_string_equal(f.trade_id, "T1|2026-01-05");
	assert_string_equal(f.side, "short");
	assert_true(f.exit_us == r.ts && f.entry_us == CALENDAR_NONE);
	assert_true(f.pnl_usd == r.pnl_usd && f.pnl_frac == r.pnl_frac);
	assert_true(f.confidence == r.confidence && isnan(f.score) && f.partial == 0.4);
	assert_int_equal(f.n_components, 1);
	assert_true(f.components[0].value == 0.1 + 0.2);
	free(line);
	json_decref(r.components);
	outcome_decoder_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_read_as_jansson_reads_them),
	    cmocka_unit_test(test_what_is_not_one_json_object_is_refused_with_the_byte),
	    cmocka_unit_test(test_an_encoded_record_decodes_to_its_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
