#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>
#include <math.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/option.h"
#include "lib/config/config.h"

/* Each test gets a fresh folder; the state is the path of
 * "<folder>/tradelearn.json" (not written yet). */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX";
	char *path;
	if (!mkdtemp(dir) || asprintf(&path, "%s/tradelearn.json", dir) < 0)
		return -1;
	*state = path;
	return calendar_set_zone("America/New_York");
}

static int remove_folder(void **state)
{
	char *path = *state;
	*strrchr(path, '/') = '\0';
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
	calendar_set_zone("America/New_York");
	return rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Asserts that err is "<path><rest>" exactly up to strlen(rest). */
static void assert_error_starts(const char *err, const char *path, const char *rest)
{
	size_t n = strlen(path);
	if (strncmp(err, path, n) != 0 || strncmp(err + n, rest, strlen(rest)) != 0)
		fail_msg("error \"%s\", expected \"%s%s...\"", err, path, rest);
}

static const char full_config[] =
    "{\n"
    "  \"profile\": \"mybot\",\n"
    "  \"logs\": \"/var/log/bot\",\n"
    "  \"exchange_timezone\": \"America/Chicago\",\n"
    "  \"capital_usd\": 25000.5,\n"
    "  \"max_line_bytes\": 65536,\n"
    "  \"batch_lines\": 100,\n"
    "  \"rescan_interval_ms\": 1000,\n"
    "  \"poll_interval_ms\": 250,\n"
    "  \"profiles\": {\n"
    "    \"mybot\": {\n"
    "      \"pnl_unit\": \"percent\",\n"
    "      \"position\": \"symbol\",\n"
    "      \"sources\": {\n"
    "        \"attribution\": {\n"
    "          \"file\": \"trades.jsonl\",\n"
    "          \"kind\": {\"pointer\": \"/type\", \"equals\": {\"BUY\": \"open\", \"SELL\": "
    "\"close\"}},\n"
    "          \"key\": \"/id\",\n"
    "          \"fields\": {\"ts\": \"/time\", \"symbol\": \"/ticker\", \"pnl_pct\": \"/ret\"}\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

static void test_defaults(void **state)
{
	struct config c;
	(void)state;
	config_init(&c);
	assert_string_equal(c.path, "");
	assert_string_equal(c.profile_name, "canonical");
	assert_string_equal(c.logs, "");
	assert_string_equal(c.exchange_timezone, "America/New_York");
	assert_true(c.capital_usd == 100000.0);
	assert_int_equal(c.max_line_bytes, 1048576);
	assert_int_equal(c.batch_lines, 4096);
	assert_int_equal(c.rescan_interval_ms, 2000);
	assert_int_equal(c.poll_interval_ms, 500);
	assert_null(c.profiles);
	config_release(&c);
}

static void test_schedule_daily_and_knob_sections_load(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	write_file(path,
		   "{\"exchange_timezone\": \"UTC\",\n"
		   " \"schedule\": {\"daily\": \"23:55\", \"retrain\": \"sat 02:30\",\n"
		   "   \"trading_days\": \"every day\", \"holidays\": [\"2026-12-25\"],\n"
		   "   \"job_timeout_s\": 60, \"max_retries\": 5, \"retry_backoff_s\": 2,\n"
		   "   \"catch_up_days\": 0},\n"
		   " \"daily\": {\"stale_hours\": 48, \"min_trades\": 3, \"drift_lambda\": 20},\n"
		   " \"knobs\": {\"min_confidence\": {\"value\": 0.3}},\n"
		   " \"knob_rules\": [{\"if\": \"win_rate_7d < 0.5\", \"knob\": "
		   "\"min_confidence\", \"target\": 0.4, \"min_trades\": 5}]}\n");
	config_init(&c);
	if (config_load(&c, path, 1, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c.schedule.daily_minute, 23 * 60 + 55);
	assert_int_equal(c.schedule.retrain_weekday, 5);
	assert_int_equal(c.schedule.retrain_minute, 150);
	assert_int_equal(c.schedule.calendar.weekdays, SCHEDULE_EVERY_DAY);
	assert_int_equal(c.schedule.calendar.n_holidays, 1);
	assert_true(c.schedule.job_timeout_s == 60 && c.schedule.retry_backoff_s == 2);
	assert_int_equal(c.schedule.max_retries, 5);
	assert_int_equal(c.schedule.catch_up_days, 0);
	assert_true(c.daily.stale_hours == 48 && c.daily.drift_lambda == 20);
	assert_int_equal(c.daily.min_trades, 3);
	assert_true(json_is_object(c.knobs) && json_is_array(c.knob_rules));
	config_release(&c);

	/* Defaults: 16:05 Mon–Fri, Sunday 01:00; retrain null turns it off. */
	config_init(&c);
	assert_int_equal(c.schedule.daily_minute, 16 * 60 + 5);
	assert_int_equal(c.schedule.calendar.weekdays, SCHEDULE_MON_FRI);
	assert_int_equal(c.schedule.retrain_weekday, 6);
	assert_int_equal(c.schedule.retrain_minute, 60);
	write_file(path,
		   "{\"schedule\": {\"retrain\": null, \"trading_days\": [\"mon\", \"wed\"]}}");
	if (config_load(&c, path, 1, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c.schedule.retrain_weekday, -1);
	assert_int_equal(c.schedule.calendar.weekdays, 0x5u);
	config_release(&c);
}

static void test_full_config_loads_every_key(void **state)
{
	const char *path = *state;
	struct config c;
	struct profile p;
	struct err err = {0};
	(void)state;
	write_file(path, full_config);
	config_init(&c);
	if (config_load(&c, path, 1, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(c.path, path);
	assert_string_equal(c.profile_name, "mybot");
	assert_string_equal(c.logs, "/var/log/bot");
	assert_string_equal(c.exchange_timezone, "America/Chicago");
	assert_true(c.capital_usd == 25000.5);
	assert_int_equal(c.max_line_bytes, 65536);
	assert_int_equal(c.batch_lines, 100);
	assert_int_equal(c.rescan_interval_ms, 1000);
	assert_int_equal(c.poll_interval_ms, 250);
	assert_true(json_is_object(c.profiles));

	assert_int_equal(config_profile(&c, "mybot", &p, &err), 0);
	assert_string_equal(p.name, "mybot");
	assert_int_equal(p.pnl_percent, 1);
	assert_int_equal(p.position_by_symbol, 1);
	assert_string_equal(p.source[PROFILE_SOURCE_ATTRIBUTION].file, "trades.jsonl");
	profile_release(&p);
	config_release(&c);
	config_release(&c); /* twice is harmless */
}

/* Loading records the zone and has no side effect on the process: the
 * caller puts it in force with calendar_set_zone(). */
static void test_load_records_the_zone_without_putting_it_in_force(void **state)
{
	const char *path = *state;
	struct config c;
	struct calendar_local l;
	struct err err = {0};
	int64_t us;
	write_file(path, "{\"exchange_timezone\": \"Asia/Tokyo\"}\n");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	assert_string_equal(c.exchange_timezone, "Asia/Tokyo");
	assert_int_equal(calendar_parse_iso("2026-02-05T00:00:00Z", &us), 0);
	calendar_local(us, &l);
	assert_int_equal(l.hour, 19); /* still New York, EST */
	assert_int_equal(calendar_set_zone(c.exchange_timezone), 0);
	calendar_local(us, &l);
	assert_int_equal(l.hour, 9); /* JST, UTC+9 */
	config_release(&c);
}

static void test_syntax_error_reports_file_line_column(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	write_file(path, "{\n  \"profile\": \"canonical\",\n  \"capital_usd\": 1000,,\n}\n");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), -1);
	assert_error_starts(err.msg, path, ":3:23: ");
	config_release(&c);
}

/* Each refused file, and the message after "FILE". */
static const struct {
	const char *text;
	const char *message;
} refusal_cases[] = {
    {"{\n  \"profile\": \"canonical\",\n  \"batch_line\": 10\n}\n", ":3: batch_line: unknown key"},
    {"{\n  \"capital_usd\": -5\n}\n", ":2: capital_usd: must be a number from 0.01 to 1e+12"},
    {"{\n  \"logs\": \"/l\",\n\n  \"capital_usd\": 0\n}\n",
     ":4: capital_usd: must be a number from 0.01 to 1e+12"},
    {"{\"capital_usd\": \"100\"}", ":1: capital_usd: must be a number from 0.01 to 1e+12"},
    {"{\n\"batch_lines\": 0}", ":2: batch_lines: must be an integer from 1 to 1000000"},
    {"{\n\"batch_lines\": 1.5}", ":2: batch_lines: must be an integer from 1 to 1000000"},
    {"{\n\"max_line_bytes\": -1}", ":2: max_line_bytes: must be an integer from 64 to 1073741824"},
    {"{\n\"rescan_interval_ms\": null}",
     ":2: rescan_interval_ms: must be an integer from 10 to 3600000"},
    {"{\n\"poll_interval_ms\": true}",
     ":2: poll_interval_ms: must be an integer from 10 to 3600000"},
    {"{\n\n\"exchange_timezone\": \"Mars/Olympus\"}",
     ":3: exchange_timezone: must be an IANA time zone"},
    {"{\"profile\": 5}", ":1: profile: must be a profile name"},
    {"{\"logs\": \"\"}", ":1: logs: must be a folder path"},
    {"{\n \"profiles\": []}", ":2: profiles: must map names to profiles"},
    {"[1, 2]", ":1: the config must be a JSON object"},
    {"{\n  \"profile\": \"a\",\n  \"profile\": \"b\"\n}\n", ":3:"}, /* duplicate key */
    {"", ":1:"},						    /* empty file */
    /* A bad field of a configured profile, named by its full key path and
     * line (12). */
    {"{\n"
     "  \"profile\": \"mybot\",\n"
     "  \"profiles\": {\n"
     "    \"mybot\": {\n"
     "      \"pnl_unit\": \"fraction\",\n"
     "      \"sources\": {\n"
     "        \"attribution\": {\n"
     "          \"file\": \"a.jsonl\",\n"
     "          \"kind\": \"open\",\n"
     "          \"fields\": {\n"
     "            \"ts\": \"/ts\",\n"
     "            \"xx\": \"/x\"\n"
     "          }\n"
     "        }\n"
     "      }\n"
     "    }\n"
     "  }\n"
     "}\n",
     ":12: profiles.mybot.sources.attribution.fields.xx: unknown field"},
    /* The same, in the second of two profiles that share key names (16). */
    {"{\n"
     "  \"profiles\": {\n"
     "    \"good\": {\n"
     "      \"sources\": {\n"
     "        \"attribution\": {\n"
     "          \"file\": \"a.jsonl\", \"kind\": \"open\",\n"
     "          \"fields\": {\"ts\": \"/ts\", \"symbol\": \"/s\"}\n"
     "        }\n"
     "      }\n"
     "    },\n"
     "    \"mybot\": {\n"
     "      \"sources\": {\n"
     "        \"attribution\": {\n"
     "          \"file\": \"a.jsonl\", \"kind\": \"open\",\n"
     "          \"fields\": {\"ts\": \"/ts\",\n"
     "                     \"xx\": \"/x\"}\n"
     "        }\n"
     "      }\n"
     "    }\n"
     "  }\n"
     "}\n",
     ":16: profiles.mybot.sources.attribution.fields.xx: unknown field"},
    /* A key path whose last segments are absent: the line is the one of the
     * deepest segment present (attribution, line 5), not of a namesake in
     * a sibling object (the exit source's fields.ts, line 12). */
    {"{\n"
     "  \"profiles\": {\n"
     "    \"mybot\": {\n"
     "      \"sources\": {\n"
     "        \"attribution\": {\n"
     "          \"file\": \"a.jsonl\",\n"
     "          \"kind\": \"open\"\n"
     "        },\n"
     "        \"exit\": {\n"
     "          \"file\": \"e.jsonl\",\n"
     "          \"kind\": \"exit\",\n"
     "          \"fields\": {\"ts\": \"/ts\"}\n"
     "        }\n"
     "      }\n"
     "    }\n"
     "  }\n"
     "}\n",
     ":5: profiles.mybot.sources.attribution.fields.ts: is required"},
    /* The same one level up: mybot has no sources (line 3); the next
     * profile's sources (line 5) are not mybot's. */
    {"{\n"
     "  \"profiles\": {\n"
     "    \"mybot\": {\"pnl_unit\": \"percent\"},\n"
     "    \"other\": {\n"
     "      \"sources\": {\n"
     "        \"attribution\": {\"file\": \"a\", \"kind\": \"open\", \"fields\": {\"ts\": "
     "\"/t\"}}\n"
     "      }\n"
     "    }\n"
     "  }\n"
     "}\n",
     ":3: profiles.mybot.sources.attribution: is required"},
    /* A bad kind value in a profile's map (line 6). */
    {"{\n"
     "  \"profiles\": {\"m\": {\"sources\": {\n"
     "    \"attribution\": {\n"
     "      \"file\": \"a.jsonl\",\n"
     "      \"fields\": {\"ts\": \"/ts\"},\n"
     "      \"kind\": \"opne\"\n"
     "    }}}}\n"
     "}\n",
     ":6: profiles.m.sources.attribution.kind: unknown kind"},
    {"{\n  \"schedule\": {\n    \"daily\": \"4pm\"\n  }\n}\n",
     ":3: schedule.daily: must be a local time \"HH:MM\""},
    {"{\n  \"schedule\": {\n    \"retrain\": \"someday 01:00\"\n  }\n}\n",
     ":3: schedule.retrain: must be \"WEEKDAY HH:MM\""},
    {"{\n  \"schedule\": {\"trading_days\": \"weekdays\"}\n}\n",
     ":2: schedule.trading_days: must be \"mon-fri\", \"every day\""},
    {"{\n  \"schedule\": {\n\n \"holidays\": [\"2026-11-26\", \"2026-13-01\"]}\n}\n",
     ":4: schedule.holidays[1]: must be a date"},
    {"{\n  \"schedule\": {\"max_retries\": -1}\n}\n",
     ":2: schedule.max_retries: must be an integer from 0 to 20"},
    {"{\n  \"schedule\": {\"dayly\": \"16:05\"}\n}\n", ":2: schedule.dayly: unknown key"},
    {"{\n  \"daily\": {\n    \"stale_hourz\": 3\n  }\n}\n", ":3: daily.stale_hourz: unknown key"},
    {"{\n  \"daily\": {\"missed_min_confidence\": 2}\n}\n",
     ":2: daily.missed_min_confidence: must be a number from 0 to 1"},
    {"{\n  \"knob_rules\": [\n    {\"if\": \"winrate < 0.4\", \"knob\": \"max_positions\", "
     "\"target\": 5}\n  ]\n}\n",
     ":2: knob_rules[0].if: unknown metric"},
    {"{\n  \"knobs\": {\n    \"max_positions\": {\"min\": 50, \"max\": 10}\n  }\n}\n",
     ":3: knobs.max_positions"},
};

/* Every case is tried, and every wrong message printed, before failing. */
static void test_refusals_name_file_line_and_key(void **state)
{
	const char *path = *state;
	size_t wrong = 0;
	for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
		struct config c;
		struct err err = {0};
		size_t n = strlen(path);
		const char *want = refusal_cases[i].message;
		write_file(path, refusal_cases[i].text);
		config_init(&c);
		if (config_load(&c, path, 0, &err) != -1) {
			print_error("case %zu accepted\n", i);
			wrong++;
		} else if (strncmp(err.msg, path, n) != 0 ||
			   strncmp(err.msg + n, want, strlen(want)) != 0) {
			print_error("case %zu: \"%s\", expected \"FILE%s...\"\n", i, err.msg, want);
			wrong++;
		}
		/* c keeps its defaults. */
		assert_string_equal(c.profile_name, "canonical");
		assert_true(c.capital_usd == 100000.0);
		assert_int_equal(c.batch_lines, 4096);
		assert_null(c.profiles);
		assert_string_equal(c.path, "");
		config_release(&c);
	}
	assert_int_equal(wrong, 0);
}

/* A top-level key that also appears, earlier, inside a profile: the line
 * is the one of the top-level key (8), not the profile's (4). */
static void test_unknown_key_line_is_its_own_not_an_earlier_namesake(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	write_file(path, "{\n"
			 "  \"profiles\": {\n"
			 "    \"mybot\": {\n"
			 "      \"pnl_unit\": \"percent\",\n"
			 "      \"sources\": {\"attribution\": {\"file\": \"a.jsonl\", \"kind\": "
			 "\"open\", \"fields\": {\"ts\": \"/ts\"}}}\n"
			 "    }\n"
			 "  },\n"
			 "  \"pnl_unit\": \"percent\"\n"
			 "}\n");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), -1);
	assert_error_starts(err.msg, path, ":8: pnl_unit: unknown key");
	config_release(&c);
}

/* A refused file changes nothing: not c, and not the process's zone. */
static void test_refused_config_leaves_zone_unchanged(void **state)
{
	const char *path = *state;
	struct config c;
	struct calendar_local l;
	struct err err = {0};
	int64_t us;
	write_file(path, "{\n  \"exchange_timezone\": \"Asia/Tokyo\",\n  \"bogus\": 1\n}\n");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), -1);
	assert_error_starts(err.msg, path, ":3: bogus: unknown key");
	assert_string_equal(c.exchange_timezone, "America/New_York");
	assert_int_equal(calendar_parse_iso("2026-02-05T15:00:00Z", &us), 0);
	calendar_local(us, &l);
	assert_int_equal(l.hour, 10); /* still New York, EST */
	config_release(&c);
}

static void test_refused_config_keeps_previous_values(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	write_file(path, full_config);
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	write_file(path, "{\"batch_lines\": 7, \"capital_usd\": -1}");
	assert_int_equal(config_load(&c, path, 1, &err), -1);
	assert_int_equal(c.batch_lines, 100);
	assert_string_equal(c.profile_name, "mybot");
	assert_non_null(json_object_get(c.profiles, "mybot"));
	/* And a second good load replaces the first. */
	write_file(path, "{\"batch_lines\": 7}");
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	assert_int_equal(c.batch_lines, 7);
	config_release(&c);
}

static void test_missing_optional_file_is_fine(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	config_init(&c);
	assert_int_equal(config_load(&c, path, 0, &err), 0);
	assert_string_equal(c.path, "");
	assert_string_equal(c.profile_name, "canonical");
	config_release(&c);
}

static void test_missing_required_file_fails(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), -1);
	assert_error_starts(err.msg, path, ": ");
	config_release(&c);
}

static void test_config_profile_finds_configured_and_builtin_profiles(void **state)
{
	const char *path = *state;
	struct config c;
	struct profile p;
	struct err err = {0};
	write_file(path, full_config);
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);

	static const struct {
		const char *name;
		int rc;
		int pnl_percent;
	} cases[] = {
	    {"mybot", 0, 1},
	    {"canonical", 0, 0},
	    {"stock-bot", 0, 1},
	    {"nobody", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&err);
		int rc = config_profile(&c, cases[i].name, &p, &err);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(p.name, cases[i].name);
			assert_int_equal(p.pnl_percent, cases[i].pnl_percent);
			profile_release(&p);
		} else {
			assert_non_null(strstr(err.msg, "profile: unknown profile \"nobody\""));
		}
	}
	config_release(&c);

	/* Without a config, the built-ins still resolve. */
	config_init(&c);
	assert_int_equal(config_profile(&c, "stock-bot", &p, &err), 0);
	profile_release(&p);
	assert_int_equal(config_profile(&c, "mybot", &p, &err), -1);
	config_release(&c);
}

/* A configured profile shadows a built-in of the same name. */
static void test_configured_profile_shadows_builtin(void **state)
{
	const char *path = *state;
	struct config c;
	struct profile p;
	struct err err = {0};
	write_file(path, "{\"profiles\": {\"canonical\": {\"pnl_unit\": \"percent\", \"sources\": "
			 "{\"attribution\": {\"file\": \"mine.jsonl\", \"kind\": \"close\", "
			 "\"key\": \"/id\", \"fields\": {\"ts\": \"/t\"}}}}}}");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	assert_int_equal(config_profile(&c, "canonical", &p, &err), 0);
	assert_string_equal(p.source[PROFILE_SOURCE_ATTRIBUTION].file, "mine.jsonl");
	assert_int_equal(p.pnl_percent, 1);
	profile_release(&p);
	config_release(&c);
}

/* A bad profile put in c->profiles by hand is refused with its key path. */
static void test_config_profile_names_the_key_of_a_bad_profile(void **state)
{
	struct config c;
	struct profile p;
	struct err err = {0};
	json_error_t jerr;
	(void)state;
	config_init(&c);
	c.profiles = json_loads("{\"bad\": {\"sources\": {\"attribution\": {\"file\": \"a\", "
				"\"kind\": \"open\", \"fields\": {\"ts\": \"ts\"}}}}}",
				0, &jerr);
	assert_non_null(c.profiles);
	assert_int_equal(config_profile(&c, "bad", &p, &err), -1);
	assert_error_starts(err.msg, "profiles.bad.sources.attribution.fields.ts: ", "");
	config_release(&c);
}

/* ---- every setting's range, from its table ------------------------------------------- */

/* The file holding one key at value: "{\n  \"key\": value\n}\n", or for a
 * key of a section "{\n  \"section\": {\n    \"key\": value\n  }\n}\n" (the
 * key on line 3). */
static void write_key(const char *path, const char *key, const char *value)
{
	char text[1024];
	const char *dot = strchr(key, '.');
	if (dot)
		snprintf(text, sizeof text, "{\n  \"%.*s\": {\n    \"%s\": %s\n  }\n}\n",
			 (int)(dot - key), key, dot + 1, value);
	else
		snprintf(text, sizeof text, "{\n  \"%s\": %s\n}\n", key, value);
	write_file(path, text);
}

/* For every table: a key, a value out of its range or of the wrong type, and
 * the message after "FILE". */
static const struct {
	const char *key;
	const char *value;
	const char *message;
} range_cases[] = {
    /* The top level (config_option_table). */
    {"batch_lines", "9223372036854775807", ":2: batch_lines: must be an integer from 1 to 1000000"},
    {"rescan_interval_ms", "9223372036854775807",
     ":2: rescan_interval_ms: must be an integer from 10 to 3600000"},
    {"poll_interval_ms", "5", ":2: poll_interval_ms: must be an integer from 10 to 3600000"},
    {"max_line_bytes", "1073741825",
     ":2: max_line_bytes: must be an integer from 64 to 1073741824"},
    {"capital_usd", "1e13", ":2: capital_usd: must be a number from 0.01 to 1e+12"},
    {"profile", "\"\"", ":2: profile: must be a profile name"},
    /* learner_option_table, with its rule weight_min <= weight_max: named
     * at weight_min, on the line of the section when only weight_max is
     * written. */
    {"learner.weight_min", "3", ":3: learner.weight_min: must not be above weight_max (2)"},
    {"learner.weight_max", "0.4", ":2: learner.weight_min: must not be above weight_max (0.4)"},
    {"learner.hash_bits", "21", ":3: learner.hash_bits: must be an integer from 4 to 20"},
    {"learner.window", "50.5", ":3: learner.window: must be an integer from 10 to 1000000"},
    {"learner.eta", "0", ":3: learner.eta: must be a number from 1e-09 to 10"},
    {"learner.asymmetric", "1", ":3: learner.asymmetric: must be true or false"},
    {"learner.loss_boost", "0", ":3: learner.loss_boost: must be a number from 0.01 to 10"},
    /* weights_option_table */
    {"weights.min_mult", "1.5", ":3: weights.min_mult: must be a number from 0 to 1"},
    {"weights.z", "0", ":3: weights.z: must be a number from 0.1 to 10"},
    /* signals_option_table */
    {"signals.max_pending", "0", ":3: signals.max_pending: must be an integer from 1 to 100000000"},
    {"signals.horizon_hours", "1e6",
     ":3: signals.horizon_hours: must be a number from 0.001 to 100000"},
    /* schedule_option_table */
    {"schedule.max_retries", "21", ":3: schedule.max_retries: must be an integer from 0 to 20"},
    {"schedule.job_timeout_s", "0",
     ":3: schedule.job_timeout_s: must be a number from 1 to 604800"},
    {"schedule.daily", "\"24:00\"", ":3: schedule.daily: must be a local time \"HH:MM\""},
    /* postmarket_option_table, and missed_option_table behind "missed_" */
    {"daily.min_trades", "0", ":3: daily.min_trades: must be an integer from 1 to 1000000"},
    {"daily.drift_lambda", "0", ":3: daily.drift_lambda: must be a number from 0.001 to 1e+09"},
    {"daily.missed_window_minutes", "1441",
     ":3: daily.missed_window_minutes: must be a number from 0 to 1440"},
    {"daily.missed_min_score", "null",
     ":3: daily.missed_min_score: must be a number from -1e+12 to 1e+12"},
    {"daily.missed_confidence", "0.5",
     ":3: daily.missed_confidence: unknown key (missed_min_confidence, missed_window_minutes"},
};

/* Every case is tried, and every wrong message printed, before failing. */
/* The profile language's refusals in a config file: FILE:LINE: key: problem,
 * exactly. */
static const struct {
	const char *text;
	const char *message; /* after FILE */
} profile_refusals[] = {
    {"{\n \"profile\": \"nosuch\"\n}",
     ":2: profile: unknown profile \"nosuch\" (built in: canonical, stock-bot; or define it "
     "under \"profiles\")"},
    {"{\"profile\": \"bot\", \"profiles\": {\"bot\": {\n \"knobs\": [\"min_confidence\", "
     "\"warp\"],\n \"sources\": {\"attribution\": {\"file\": \"a.jsonl\", \"kind\": \"open\", "
     "\"fields\": {\"ts\": \"/ts\"}}}}}}",
     ":2: profiles.bot.knobs[1]: unknown knob \"warp\" (min_confidence, max_positions, "
     "stop_loss_pct, take_profit_pct, position_size_pct, orders_per_cycle, "
     "min_trade_gap_minutes)"},
    {"{\"profiles\": {\"bot\": {\"sources\": {\"attribution\": {\"file\": \"a.jsonl\",\n"
     " \"kind\": \"close\",\n \"fields\": {\"ts\": \"/ts\",\n \"pnl_usd\": \"/pnl\",\n"
     " \"components\": \"\"}}}}}}",
     ":5: profiles.bot.sources.attribution.fields.components: \"\" is the whole row, which "
     "holds /pnl, the pnl_usd this profile maps: the outcome would leak into the features "
     "(name the features instead)"},
    {"{\"profiles\": {\"bot\": {\"sources\": {\n \"attribution\": {\"file\": \"a.jsonl\", "
     "\"kind\": \"close\", \"fields\": {\"ts\": \"/ts\"}}}}}}",
     ":2: profiles.bot.sources.attribution.key: is required: a close needs a stable trade key "
     "(give \"key\", e.g. [\"/symbol\", \"/exit_ts\"], or map fields.trade_id)"},
    {"{\"sessions\": [{\"name\": \"asia\", \"from\": \"00:00\", \"to\": \"08:00\"},\n"
     " {\"name\": \"eu\", \"from\": \"8:00\", \"to\": \"16:00\"}]}",
     ":1: sessions[1].from: must be \"HH:MM\""},
    {"{\"sessions\": [{\"name\": \"asia\", \"from\": \"00:00\", \"to\": \"08:00\"},\n"
     " {\"name\": \"asia\", \"from\": \"08:00\", \"to\": \"16:00\"}]}",
     ":1: sessions[1].name: \"asia\" twice"},
    {"{\"sessions\": [{\"name\": \"all\", \"from\": \"09:00\", \"to\": \"09:00\"}]}",
     ":1: sessions[0].to: must differ from \"from\""},
    {"{\"sessions\": [{\"name\": \"a\", \"from\": \"09:00\", \"to\": \"10:00\", "
     "\"tz\": 1}]}",
     ":1: sessions[0].tz: unknown key (name, from, to)"},
    {"{\"sessions\": {\"asia\": 1}}", ":1: sessions: must be a list of at most 16 sessions"},
};

static void test_profile_language_refusals_name_file_line_and_key(void **state)
{
	const char *path = *state;
	for (size_t i = 0; i < sizeof profile_refusals / sizeof profile_refusals[0]; i++) {
		struct config c;
		struct err err = {0};
		char want[1024];
		write_file(path, profile_refusals[i].text);
		config_init(&c);
		assert_int_equal(config_load(&c, path, 1, &err), -1);
		snprintf(want, sizeof want, "%s%s", path, profile_refusals[i].message);
		if (strcmp(err.msg, want) != 0)
			fail_msg("case %zu:\n  got  %s\n  want %s", i, err.msg, want);
		config_release(&c);
	}
}

static void test_sessions_are_read_in_minutes_of_the_day(void **state)
{
	const char *path = *state;
	struct config c;
	struct err err = {0};
	write_file(path, "{\"sessions\": [{\"name\": \"asia\", \"from\": \"00:00\", \"to\": "
			 "\"08:00\"}, {\"name\": \"late\", \"from\": \"22:30\", \"to\": "
			 "\"02:00\"}]}");
	config_init(&c);
	assert_int_equal(config_load(&c, path, 1, &err), 0);
	assert_int_equal(c.n_sessions, 2);
	assert_string_equal(c.sessions[1].name, "late");
	assert_int_equal(c.sessions[1].from, 22 * 60 + 30);
	assert_int_equal(c.sessions[1].to, 120);
	config_release(&c);
}

static void test_a_value_out_of_its_range_is_refused_naming_key_and_line(void **state)
{
	const char *path = *state;
	size_t wrong = 0;
	for (size_t i = 0; i < sizeof range_cases / sizeof range_cases[0]; i++) {
		struct config c;
		struct err err = {0};
		const char *want = range_cases[i].message;
		write_key(path, range_cases[i].key, range_cases[i].value);
		config_init(&c);
		if (config_load(&c, path, 1, &err) != -1) {
			print_error("%s %s: accepted\n", range_cases[i].key, range_cases[i].value);
			wrong++;
		} else if (strncmp(err.msg, path, strlen(path)) != 0 ||
			   strncmp(err.msg + strlen(path), want, strlen(want)) != 0) {
			print_error("%s %s: \"%s\", expected \"FILE%s...\"\n", range_cases[i].key,
				    range_cases[i].value, err.msg, want);
			wrong++;
		}
		config_release(&c);
	}
	assert_int_equal(wrong, 0);
}

/* Calls fn with every key of t (and of its sections and groups) and its
 * path from the top of the config file. */
typedef void (*key_fn)(const char *path, const struct option_key *k, void *ctx);
static void each_key(const struct option_table *t, const char *section, const char *keyprefix,
		     key_fn fn, void *ctx)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct option_key *k = &t->keys[i];
		char path[256], prefix[128];
		if (k->type == OPTION_TYPE_GROUP) {
			snprintf(prefix, sizeof prefix, "%s%s", keyprefix, k->name);
			each_key(k->table, section, prefix, fn, ctx);
			continue;
		}
		snprintf(path, sizeof path, "%s%s%s%s", section, section[0] ? "." : "", keyprefix,
			 k->name);
		if (k->type == OPTION_TYPE_SECTION)
			each_key(k->table, path, "", fn, ctx);
		else
			fn(path, k, ctx);
	}
}

static int is_number(const struct option_key *k)
{
	return k->type == OPTION_TYPE_REAL || k->type == OPTION_TYPE_INT ||
	       k->type == OPTION_TYPE_LONG || k->type == OPTION_TYPE_ULONG;
}

struct sweep {
	const char *file;
	size_t numbers, wrong;
};

/* A number just outside each end is refused naming the key; each end and
 * the default are accepted. */
static void sweep_key(const char *path, const struct option_key *k, void *arg)
{
	struct sweep *sw = arg;
	if (!is_number(k))
		return;
	int integer = k->type != OPTION_TYPE_REAL && !k->scale;
	double step = integer ? 1 : fmax(fabs(k->min), 1e-6) * 0.5;
	double high = integer ? 1 : fmax(fabs(k->max), 1) * 0.5;
	const double values[] = {k->min - step, k->max + high, k->min, k->max, k->def};
	sw->numbers++;
	for (int v = 0; v < 5; v++) {
		char value[64], expect[300];
		struct config c;
		struct err err = {0};
		if (v == 4 && isnan(k->def))
			continue;
		snprintf(value, sizeof value, integer ? "%.0f" : "%.17g", values[v]);
		write_key(sw->file, path, value);
		snprintf(expect, sizeof expect, ": %s: must be", path);
		config_init(&c);
		int rc = config_load(&c, sw->file, 1, &err);
		/* An end may break a rule across keys with the others' defaults
		 * (weight_min 100 > weight_max 2): refused by the rule, not the
		 * range. */
		int rule = rc && strstr(err.msg, "learner.weight_min: must not be above");
		if (v < 2 ? rc != -1 || !strstr(err.msg, expect) : (rc != 0 && !rule)) {
			print_error("%s = %s: %s\n", path, value, rc ? err.msg : "accepted");
			sw->wrong++;
		}
		config_release(&c);
	}
}

static void test_every_number_of_every_table_has_a_range_and_its_ends_are_accepted(void **state)
{
	struct sweep sw = {*state, 0, 0};
	each_key(&config_option_table, "", "", sweep_key, &sw);
	print_message("%zu numbers checked\n", sw.numbers);
	assert_true(sw.numbers >= 40);
	assert_int_equal(sw.wrong, 0);
}

/* The defaults pass their own tables' checks, and the constructors take
 * them. */
static void test_defaults_pass_the_tables_that_define_them(void **state)
{
	struct config c;
	struct err err = {0};
	(void)state;
	config_init(&c);
	if (option_check(&config_option_table, &c, &err))
		fail_msg("%s", err.msg);
	struct learner *l = learner_new(&c.learner, &err);
	struct weights *w = weights_new(&c.weights, &err);
	struct signals *s = signals_new(&c.signals, &err);
	assert_true(l && w && s);
	learner_free(l);
	weights_free(w);
	signals_free(s);
	assert_true(c.learner.weight_min == 0.5 && c.learner.weight_max == 2);
	assert_int_equal(c.daily.missed.window_us, 15 * 60 * 1000000LL);
	assert_true(isnan(c.daily.missed.min_score));
	assert_int_equal(c.schedule.daily_minute, 16 * 60 + 5);
	config_release(&c);
}

/* A struct filled by hand is refused by its constructor with the rules the
 * config is read with. */
static void test_a_struct_filled_by_hand_meets_the_rules_of_the_config(void **state)
{
	static const struct {
		const struct option_table *table;
		size_t offset, size; /* of the options struct in struct config */
		size_t field;	     /* of the spoilt field, from the options struct */
		int is_long;
		double value;
		const char *message;
	} cases[] = {
	    {&learner_option_table, offsetof(struct config, learner),
	     sizeof(struct learner_options), offsetof(struct learner_options, weight_min), 0, 3,
	     "weight_min: must not be above weight_max (2)"},
	    {&weights_option_table, offsetof(struct config, weights),
	     sizeof(struct weights_options), offsetof(struct weights_options, min_samples), 1, 0,
	     "min_samples: must be an integer from 1 to 1000000"},
	    {&signals_option_table, offsetof(struct config, signals),
	     sizeof(struct signals_options), offsetof(struct signals_options, max_pending), 1, 0,
	     "max_pending: must be an integer from 1 to 100000000"},
	    {&postmarket_option_table, offsetof(struct config, daily),
	     sizeof(struct postmarket_options),
	     offsetof(struct postmarket_options, missed) +
		 offsetof(struct missed_options, window_us),
	     1, -1, "missed_window_minutes: must be a number from 0 to 1440"},
	    {&schedule_option_table, offsetof(struct config, schedule),
	     sizeof(struct schedule_options), offsetof(struct schedule_options, retry_backoff_s), 0,
	     -1, "retry_backoff_s: must be a number from 0 to 86400"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		struct err err = {0};
		config_init(&c);
		char *opts = (char *)&c + cases[i].offset;
		if (cases[i].is_long)
			*(long *)(opts + cases[i].field) = (long)cases[i].value;
		else
			*(double *)(opts + cases[i].field) = cases[i].value;
		assert_int_equal(option_check(cases[i].table, opts, &err), -1);
		assert_string_equal(err.msg, cases[i].message);
		config_release(&c);
	}

	struct config c;
	config_init(&c);
	c.learner.weight_min = 3;
	struct err err = {0};
	assert_null(learner_new(&c.learner, &err));
	assert_int_equal(err.code, EINVAL);
	c.weights.min_mult = 1.5;
	assert_null(weights_new(&c.weights, NULL));
	config_release(&c);
}

/* ---- the README's settings table says what the tables say -------------------------- */

struct readme {
	char *text;
	size_t keys, wrong;
};

/* The cells of the README row of key path: "| `path` | default | range | ... |". */
static int readme_row(const char *text, const char *path, char cells[3][200])
{
	char head[300];
	snprintf(head, sizeof head, "\n| `%s` |", path);
	const char *row = strstr(text, head);
	if (!row)
		return -1;
	row += strlen(head);
	for (int i = 0; i < 3; i++) {
		while (*row == ' ')
			row++;
		size_t n = strcspn(row, "|\n");
		if (row[n] != '|')
			return -1;
		size_t end = n;
		while (end && row[end - 1] == ' ')
			end--;
		snprintf(cells[i], sizeof cells[i], "%.*s", (int)end, row);
		row += n + 1;
	}
	return 0;
}

static int same_number(const char *text, double want)
{
	char *end;
	double d = strtod(text, &end);
	return end != text && fabs(d - want) <= 1e-12 * fmax(1, fabs(want));
}

static void readme_key(const char *path, const struct option_key *k, void *arg)
{
	struct readme *r = arg;
	char cells[3][200], expect[200] = "";
	r->keys++;
	if (readme_row(r->text, path, cells)) {
		print_error("README: no row for `%s`\n", path);
		r->wrong++;
		return;
	}
	int ok = 1;
	if (is_number(k)) {
		const char *to = strstr(cells[1], " to ");
		ok = (k->none ? strcmp(cells[0], "none") == 0 : same_number(cells[0], k->def)) &&
		     same_number(cells[1], k->min) && to && same_number(to + 4, k->max);
		snprintf(expect, sizeof expect, "%g | %g to %g", k->def, k->min, k->max);
	} else if (k->type == OPTION_TYPE_BOOL) {
		ok = strcmp(cells[0], k->def ? "true" : "false") == 0 &&
		     strcmp(cells[1], "true or false") == 0;
		snprintf(expect, sizeof expect, "%s | true or false", k->def ? "true" : "false");
	} else if (k->text) {
		snprintf(expect, sizeof expect, "`%s`", k->text);
		ok = strcmp(cells[0], expect) == 0;
	}
	if (!ok) {
		print_error("README: `%s` says \"%s | %s\", the table \"%s\"\n", path, cells[0],
			    cells[1], expect);
		r->wrong++;
	}
}

static void test_the_readme_states_every_default_and_range_of_the_tables(void **state)
{
	/* README.md at the top of the tree this file is in (tests run from
	 * there, and __FILE__ is named from there when relative). */
	char readme[4096];
	struct err err = {0};
	size_t len;
	struct readme r = {NULL, 0, 0};
	(void)state;
	snprintf(readme, sizeof readme, "%.*sREADME.md",
		 (int)(strlen(__FILE__) - strlen("tests/unit/test_config.c")), __FILE__);
	if (durable_read_all(readme, &r.text, &len, &err))
		fail_msg("%s", err.msg);
	each_key(&config_option_table, "", "", readme_key, &r);
	free(r.text);
	assert_true(r.keys >= 50);
	assert_int_equal(r.wrong, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_folder, remove_folder)
	const struct CMUnitTest tests[] = {
	    T(test_defaults),
	    T(test_full_config_loads_every_key),
	    T(test_load_records_the_zone_without_putting_it_in_force),
	    T(test_syntax_error_reports_file_line_column),
	    T(test_refusals_name_file_line_and_key),
	    T(test_schedule_daily_and_knob_sections_load),
	    T(test_unknown_key_line_is_its_own_not_an_earlier_namesake),
	    T(test_refused_config_leaves_zone_unchanged),
	    T(test_refused_config_keeps_previous_values),
	    T(test_missing_optional_file_is_fine),
	    T(test_missing_required_file_fails),
	    T(test_config_profile_finds_configured_and_builtin_profiles),
	    T(test_configured_profile_shadows_builtin),
	    T(test_profile_language_refusals_name_file_line_and_key),
	    T(test_sessions_are_read_in_minutes_of_the_day),
	    T(test_config_profile_names_the_key_of_a_bad_profile),
	    T(test_a_value_out_of_its_range_is_refused_naming_key_and_line),
	    T(test_every_number_of_every_table_has_a_range_and_its_ends_are_accepted),
	    T(test_defaults_pass_the_tables_that_define_them),
	    T(test_a_struct_filled_by_hand_meets_the_rules_of_the_config),
	    T(test_the_readme_states_every_default_and_range_of_the_tables),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
