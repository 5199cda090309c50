#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "jobs/live/join.h"

/* A bot whose trades (closes) and context rows share no key. */
static const char symbol_time_profile[] =
    "{\"pnl_unit\": \"fraction\", \"sources\": {"
    " \"attribution\": {\"file\": \"t.jsonl\", \"kind\": \"close\", \"key\": [\"/s\", \"/ts\"],"
    "  \"fields\": {\"ts\": \"/ts\", \"entry_ts\": \"/in\", \"symbol\": \"/s\", \"pnl_usd\": "
    "\"/p\","
    "   \"components\": \"/own\"}},"
    " \"context\": {\"file\": \"c.jsonl\", \"kind\": \"context\", \"window_s\": 5,"
    "  \"fields\": {\"ts\": \"/ts\", \"symbol\": \"/s\", \"regime\": \"/r\", \"components\": "
    "\"/f\"}}}}";

static void load_profile(struct profile *p, const char *text)
{
	json_t *desc = json_loads(text, 0, NULL);
	struct err err = {0};
	assert_non_null(desc);
	if (profile_from_json(p, "test", desc, &err))
		fail_msg("%s", err.msg);
	json_decref(desc);
}

static void parse(const struct profile *p, enum profile_source_id source, const char *line,
		  struct record *r)
{
	const char *reason = NULL;
	char detail[256];
	enum record_status st =
	    record_parse(p, source, line, strlen(line), r, &reason, detail, sizeof detail);
	if (st != RECORD_OK)
		fail_msg("%s: %s (%s)", line, reason ? reason : "ignored", detail);
}

/* Trades entered at 10:00:00, 10:00:05 (AAA) and 10:00:00 (BBB); context
 * rows, by time: AAA 09:59:59 (the first trade's, the nearer), AAA 10:00:02
 * (then the second's), BBB 10:00:03, AAA 10:00:40 (beyond every window),
 * and a late row that moves the context file past every trade. */
static const char *const trades[] = {
    "{\"ts\": \"2026-02-05T10:30:00Z\", \"in\": \"2026-02-05T10:00:00Z\", \"s\": \"AAA\", \"p\": 1,"
    " \"own\": {\"size\": 3, \"edge\": 9}}",
    "{\"ts\": \"2026-02-05T10:31:00Z\", \"in\": \"2026-02-05T10:00:05Z\", \"s\": \"AAA\", \"p\": "
    "-1}",
    "{\"ts\": \"2026-02-05T10:32:00Z\", \"in\": \"2026-02-05T10:00:00Z\", \"s\": \"BBB\", \"p\": "
    "2}",
};
static const char *const contexts[] = {
    "{\"ts\": \"2026-02-05T09:59:59Z\", \"s\": \"AAA\", \"r\": \"near\", \"f\": {\"edge\": 1}}",
    "{\"ts\": \"2026-02-05T10:00:02Z\", \"s\": \"AAA\", \"r\": \"far\", \"f\": {\"edge\": 2}}",
    "{\"ts\": \"2026-02-05T10:00:03Z\", \"s\": \"BBB\", \"r\": \"bbb\"}",
    "{\"ts\": \"2026-02-05T10:00:40Z\", \"s\": \"AAA\", \"r\": \"outside\"}",
    "{\"ts\": \"2026-02-05T11:00:00Z\", \"s\": \"ZZZ\", \"r\": \"late\"}",
};

/* What the decided trades were, one "key=regime:edge" text each. */
static void drain(struct join *j, char *out, size_t len)
{
	struct record *r;
	struct err err = {0};
	while (join_next(j, 0, &r, &err) > 0) {
		json_t *edge = r->components ? json_object_get(r->components, "edge") : NULL;
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s=%s:%g;", r->key, r->regime ? r->regime : "-",
			 edge ? json_number_value(edge) : -1.0);
	}
	join_done(j);
}

static void feed(const struct profile *p, struct join *j, int trades_first, char *out, size_t len)
{
	struct err err = {0};
	for (int pass = 0; pass < 2; pass++) {
		int trading = (pass == 0) == (trades_first != 0);
		size_t n = trading ? 3 : 5;
		for (size_t i = 0; i < n; i++) {
			struct record r;
			if (trading) {
				parse(p, PROFILE_SOURCE_ATTRIBUTION, trades[i], &r);
				assert_int_equal(join_trade(j, &r, &err), 0);
				record_release(&r);
			} else {
				parse(p, PROFILE_SOURCE_CONTEXT, contexts[i], &r);
				assert_int_equal(join_context(j, &r, &err), 0);
				record_release(&r);
			}
			drain(j, out, len);
		}
	}
}

static const char want[] = "AAA|2026-02-05T10:30:00Z=near:9;"
			   "AAA|2026-02-05T10:31:00Z=far:2;"
			   "BBB|2026-02-05T10:32:00Z=bbb:-1;";

static void
test_the_nearest_context_within_the_window_attaches_whichever_file_comes_first(void **state)
{
	struct profile p;
	(void)state;
	load_profile(&p, symbol_time_profile);
	for (int first = 0; first < 2; first++) {
		char got[1024] = "";
		struct join *j = join_new(&p, NULL);
		struct join_counts c;
		feed(&p, j, first, got, sizeof got);
		/* The trade's own component wins on a shared name (edge 9). */
		assert_string_equal(got, want);
		join_counts(j, &c);
		assert_int_equal(c.matched, 3);
		assert_int_equal(c.unmatched, 0);
		assert_int_equal(c.pending, 0);
		assert_int_equal(c.contexts_waiting, 2); /* "outside" and "late" */
		join_free(j);
	}
	profile_release(&p);
}

static void
test_a_trade_waits_until_the_context_file_is_past_its_window_or_read_to_its_end(void **state)
{
	struct profile p;
	struct record r, *out;
	struct err err = {0};
	(void)state;
	load_profile(&p, symbol_time_profile);
	struct join *j = join_new(&p, NULL);
	parse(&p, PROFILE_SOURCE_ATTRIBUTION, trades[0], &r);
	assert_int_equal(join_trade(j, &r, &err), 0);
	record_release(&r);
	/* No context row yet, even read to its end: it waits. */
	join_caught_up(j);
	assert_int_equal(join_next(j, INT64_MAX, &out, &err), 0);
	/* A context row within the window, not past it: still waits. */
	parse(&p, PROFILE_SOURCE_CONTEXT, contexts[1], &r);
	assert_int_equal(join_context(j, &r, &err), 0);
	record_release(&r);
	join_end_batch(j);
	assert_int_equal(join_next(j, INT64_MAX, &out, &err), 0);
	/* Read to its end, the wall clock before close + window: waits. */
	int64_t close_us;
	assert_int_equal(calendar_parse_iso("2026-02-05T10:30:00Z", &close_us), 0);
	join_caught_up(j);
	assert_int_equal(join_next(j, close_us + 4000000, &out, &err), 0);
	/* ... and after it: decided, with the row it has. */
	assert_int_equal(join_next(j, close_us + 5000000, &out, &err), 1);
	assert_string_equal(out->regime, "far");
	join_done(j);
	join_free(j);
	profile_release(&p);
}

static void test_a_saved_join_reloaded_midway_decides_the_same(void **state)
{
	struct profile p;
	struct err err = {0};
	(void)state;
	load_profile(&p, symbol_time_profile);
	char got[1024] = "";
	struct join *j = join_new(&p, NULL);
	for (size_t i = 0; i < 3; i++) {
		struct record r;
		parse(&p, PROFILE_SOURCE_ATTRIBUTION, trades[i], &r);
		assert_int_equal(join_trade(j, &r, &err), 0);
		record_release(&r);
	}
	struct record r;
	parse(&p, PROFILE_SOURCE_CONTEXT, contexts[0], &r);
	assert_int_equal(join_context(j, &r, &err), 0);
	record_release(&r);
	/* Through text, as the learner generation holds it. */
	json_t *saved = join_save(j);
	size_t len;
	char *text = jsontext_dump(saved, JSONTEXT_COMPACT, &len);
	json_decref(saved);
	join_free(j);
	saved = json_loads(text, 0, NULL);
	free(text);
	j = join_new(&p, NULL);
	if (join_load(j, saved, &err))
		fail_msg("%s", err.msg);
	json_decref(saved);
	for (size_t i = 1; i < 5; i++) {
		parse(&p, PROFILE_SOURCE_CONTEXT, contexts[i], &r);
		assert_int_equal(join_context(j, &r, &err), 0);
		record_release(&r);
		drain(j, got, sizeof got);
	}
	assert_string_equal(got, want);
	join_free(j);
	profile_release(&p);
}

static void test_a_context_matched_by_key_takes_the_first_row_of_that_key(void **state)
{
	static const char text[] =
	    "{\"pnl_unit\": \"fraction\", \"sources\": {"
	    " \"attribution\": {\"file\": \"t.jsonl\", \"kind\": \"close\", \"key\": [\"/id\"],"
	    "  \"fields\": {\"ts\": \"/ts\", \"symbol\": \"/s\", \"pnl_usd\": \"/p\"}},"
	    " \"context\": {\"file\": \"c.jsonl\", \"kind\": \"context\", \"match\": \"key\","
	    "  \"key\": [\"/trade\"], \"fields\": {\"ts\": \"/ts\", \"symbol\": \"/s\", "
	    "\"regime\": "
	    "\"/r\"}}}}";
	struct profile p;
	struct record r, *out;
	struct err err = {0};
	(void)state;
	load_profile(&p, text);
	struct join *j = join_new(&p, NULL);
	parse(&p, PROFILE_SOURCE_CONTEXT,
	      "{\"ts\": \"2026-02-05T12:00:00Z\", \"s\": \"X\", \"trade\": 7, \"r\": \"first\"}",
	      &r);
	assert_int_equal(join_context(j, &r, &err), 0);
	record_release(&r);
	parse(&p, PROFILE_SOURCE_CONTEXT,
	      "{\"ts\": \"2026-02-05T12:00:01Z\", \"s\": \"X\", \"trade\": 7, \"r\": \"second\"}",
	      &r);
	assert_int_equal(join_context(j, &r, &err), 0);
	record_release(&r);
	parse(&p, PROFILE_SOURCE_ATTRIBUTION,
	      "{\"ts\": \"2026-02-05T13:00:00Z\", \"s\": \"X\", \"id\": 7, \"p\": 1}", &r);
	assert_int_equal(join_trade(j, &r, &err), 0);
	record_release(&r);
	/* Matched at once, though the context file is not past it. */
	assert_int_equal(join_next(j, 0, &out, &err), 1);
	assert_string_equal(out->regime, "first");
	join_done(j);
	join_free(j);
	profile_release(&p);
}

static void test_a_profile_without_a_context_source_has_no_join(void **state)
{
	struct profile p;
	(void)state;
	assert_int_equal(profile_builtin(&p, "canonical", NULL), 0);
	struct join *j = join_new(&p, NULL);
	assert_int_equal(join_active(j), 0);
	join_free(j);
	profile_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_the_nearest_context_within_the_window_attaches_whichever_file_comes_first),
	    cmocka_unit_test(
		test_a_trade_waits_until_the_context_file_is_past_its_window_or_read_to_its_end),
	    cmocka_unit_test(test_a_saved_join_reloaded_midway_decides_the_same),
	    cmocka_unit_test(test_a_context_matched_by_key_takes_the_first_row_of_that_key),
	    cmocka_unit_test(test_a_profile_without_a_context_source_has_no_join),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
