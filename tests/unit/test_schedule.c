#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/schedule.h"

#define AT_1605 (16 * 60 + 5)

/* Expected instants are written as UTC ISO text and parsed by calendar.c, so
 * they do not depend on the module under test. */
static int64_t utc(const char *iso)
{
	int64_t us = 0;
	if (calendar_parse_iso(iso, &us) != 0)
		fail_msg("bad test instant \"%s\"", iso);
	return us;
}

static int32_t day_of(const char *text)
{
	int32_t day = 0;
	if (schedule_parse_day(text, &day) != 0)
		fail_msg("bad test day \"%s\"", text);
	return day;
}

static void assert_instant(int64_t got, const char *expected_iso)
{
	if (got != utc(expected_iso)) {
		char buf[40];
		calendar_format_iso(got, buf, sizeof(buf));
		fail_msg("got %s, expected %s", buf, expected_iso);
	}
}

static void assert_day(int32_t got, const char *expected)
{
	char buf[16];
	schedule_format_day(got, buf, sizeof(buf));
	if (got == SCHEDULE_NO_DAY || strcmp(buf, expected) != 0)
		fail_msg("got day %s (%ld), expected %s", buf, (long)got, expected);
}

static int zone_new_york(void **state)
{
	(void)state;
	return calendar_set_zone("America/New_York");
}

static int zone_utc(void **state)
{
	(void)state;
	return calendar_set_zone("UTC");
}

/* ---- days: parse, format, weekday --------------------------------------- */

static void test_day_numbers_are_days_since_1970_in_any_zone(void **state)
{
	(void)state;
	assert_int_equal(schedule_day_from_ymd(1970, 1, 1), 0);
	assert_int_equal(schedule_day_from_ymd(1969, 12, 31), -1);
	assert_int_equal(schedule_day_from_ymd(2026, 2, 10), 20494);
	assert_int_equal(schedule_day_from_ymd(2000, 3, 1), 11017);
	/* Month 13 and February 30 roll over. */
	assert_int_equal(schedule_day_from_ymd(2025, 13, 1), schedule_day_from_ymd(2026, 1, 1));
	assert_int_equal(schedule_day_from_ymd(2026, 2, 29), schedule_day_from_ymd(2026, 3, 1));
	assert_int_equal(schedule_day_from_ymd(2026, 0, 31), schedule_day_from_ymd(2025, 12, 31));
}

static void test_day_parse_and_format_round_trip(void **state)
{
	static const char *const days[] = {"1970-01-01", "1969-12-31", "2000-02-29", "2024-02-29",
					   "2026-02-10", "2026-12-31", "2100-02-28", "1900-03-01",
					   "0001-01-01", "9999-12-31"};
	(void)state;
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		int32_t day = 0;
		char buf[16];
		int y, m, d;
		assert_int_equal(schedule_parse_day(days[i], &day), 0);
		schedule_format_day(day, buf, sizeof(buf));
		assert_string_equal(buf, days[i]);
		schedule_day_ymd(day, &y, &m, &d);
		assert_int_equal(schedule_day_from_ymd(y, m, d), day);
	}
	/* Every day of four centuries survives ymd and back. */
	for (int32_t day = schedule_day_from_ymd(1900, 1, 1);
	     day < schedule_day_from_ymd(2300, 1, 1); day++) {
		int y, m, d;
		schedule_day_ymd(day, &y, &m, &d);
		if (schedule_day_from_ymd(y, m, d) != day)
			fail_msg("day %ld -> %04d-%02d-%02d does not round-trip", (long)day, y, m,
				 d);
	}
}

static void test_day_parse_refuses_malformed_and_impossible_dates(void **state)
{
	static const char *const bad[] = {
	    "2026-02-30",  "2026-2-3",	 "2026-02-3",  "2025-02-29",  "2100-02-29", "2026-04-31",
	    "2026-13-01",  "2026-00-10", "2026-02-00", "2026-02-10x", "2026/02/10", " 2026-02-10",
	    "2026-02-10 ", "",		 "20260210",   "+026-02-10",  "2026-0a-10", "2026-02-1a",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int32_t day = 12345;
		if (schedule_parse_day(bad[i], &day) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(day, 12345);
	}
	int32_t day;
	assert_int_equal(schedule_parse_day(NULL, &day), -1);
}

static void test_weekday_counts_from_monday(void **state)
{
	(void)state;
	assert_int_equal(schedule_weekday(0), 3); /* 1970-01-01, a Thursday */
	assert_int_equal(schedule_weekday(-1), 2);
	assert_int_equal(schedule_weekday(day_of("2026-02-09")), 0); /* Monday */
	assert_int_equal(schedule_weekday(day_of("2026-02-13")), 4); /* Friday */
	assert_int_equal(schedule_weekday(day_of("2026-02-14")), 5);
	assert_int_equal(schedule_weekday(day_of("2026-02-15")), 6);
	assert_int_equal(schedule_weekday(day_of("1900-01-01")), 0);
}

/* ---- configuration text -------------------------------------------------- */

static void test_parse_hhmm_accepts_only_strict_wall_times(void **state)
{
	static const struct {
		const char *text;
		int minute;
	} cases[] = {
	    {"16:05", 965}, {"00:00", 0}, {"23:59", 1439}, {"01:00", 60},  {"24:00", -1},
	    {"12:60", -1},  {"1:05", -1}, {"12:5", -1},	   {"12:05 ", -1}, {"", -1},
	    {"ab:cd", -1},  {"1205", -1}, {"12-05", -1},   {"-1:05", -1},  {"99:99", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (schedule_parse_hhmm(cases[i].text) != cases[i].minute)
			fail_msg("\"%s\": got %d, expected %d", cases[i].text,
				 schedule_parse_hhmm(cases[i].text), cases[i].minute);
	assert_int_equal(schedule_parse_hhmm(NULL), -1);
}

static void test_parse_weekday_full_and_short_names_any_case(void **state)
{
	static const struct {
		const char *text;
		int weekday;
	} cases[] = {
	    {"monday", 0}, {"Tuesday", 1}, {"WEDNESDAY", 2}, {"thu", 3}, {"Fri", 4},
	    {"sat", 5},	   {"SUN", 6},	   {"sunday", 6},    {"mo", -1}, {"mondays", -1},
	    {"", -1},	   {"tues", -1},   {"sundayx", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (schedule_parse_weekday(cases[i].text) != cases[i].weekday)
			fail_msg("\"%s\": got %d, expected %d", cases[i].text,
				 schedule_parse_weekday(cases[i].text), cases[i].weekday);
	assert_int_equal(schedule_parse_weekday(NULL), -1);
}

/* ---- the trading calendar ------------------------------------------------ */

static void test_calendar_defaults_to_monday_to_friday(void **state)
{
	struct schedule_calendar c;
	(void)state;
	schedule_calendar_init(&c);
	assert_true(schedule_is_trading_day(&c, day_of("2026-02-13")));	 /* Friday */
	assert_false(schedule_is_trading_day(&c, day_of("2026-02-14"))); /* Saturday */
	assert_false(schedule_is_trading_day(&c, day_of("2026-02-15"))); /* Sunday */
	assert_true(schedule_is_trading_day(&c, day_of("2026-02-16")));
	assert_day(schedule_next_trading_day(&c, day_of("2026-02-13")), "2026-02-16");
	assert_day(schedule_prev_trading_day(&c, day_of("2026-02-16")), "2026-02-13");
	assert_day(schedule_prev_trading_day(&c, day_of("2026-02-15")), "2026-02-13");
	assert_day(schedule_next_trading_day(&c, day_of("2026-02-10")), "2026-02-11");
}

static void test_holidays_stay_sorted_and_unique_until_full(void **state)
{
	struct schedule_calendar c;
	(void)state;
	schedule_calendar_init(&c);
	assert_int_equal(schedule_calendar_add_holiday(&c, day_of("2026-12-25")), 0);
	assert_int_equal(schedule_calendar_add_holiday(&c, day_of("2026-01-01")), 0);
	assert_int_equal(schedule_calendar_add_holiday(&c, day_of("2026-07-03")), 0);
	assert_int_equal(schedule_calendar_add_holiday(&c, day_of("2026-01-01")), 0);
	assert_int_equal(c.n_holidays, 3);
	assert_day(c.holidays[0], "2026-01-01");
	assert_day(c.holidays[1], "2026-07-03");
	assert_day(c.holidays[2], "2026-12-25");
	assert_false(schedule_is_trading_day(&c, day_of("2026-07-03")));
	assert_int_equal(schedule_calendar_add_holiday(&c, SCHEDULE_NO_DAY), -1);

	/* Filled in descending order to exercise the insertion at the front. */
	schedule_calendar_init(&c);
	for (int i = SCHEDULE_MAX_HOLIDAYS - 1; i >= 0; i--)
		assert_int_equal(schedule_calendar_add_holiday(&c, 20000 + 2 * i), 0);
	assert_int_equal(c.n_holidays, SCHEDULE_MAX_HOLIDAYS);
	for (size_t i = 1; i < c.n_holidays; i++)
		assert_true(c.holidays[i - 1] < c.holidays[i]);
	assert_int_equal(schedule_calendar_add_holiday(&c, 19999), -1);
	assert_int_equal(schedule_calendar_add_holiday(&c, 20000), 0); /* duplicate, not new */
	assert_int_equal(c.n_holidays, SCHEDULE_MAX_HOLIDAYS);
}

static void test_holiday_is_skipped_by_next_and_prev_trading_day(void **state)
{
	struct schedule_calendar c;
	(void)state;
	schedule_calendar_init(&c);
	schedule_calendar_add_holiday(&c, day_of("2026-02-16")); /* Presidents' Day */
	assert_day(schedule_next_trading_day(&c, day_of("2026-02-13")), "2026-02-17");
	assert_day(schedule_prev_trading_day(&c, day_of("2026-02-17")), "2026-02-13");
}

static void test_calendar_without_trading_weekdays_answers_no_day(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	size_t skipped = 99;
	int32_t out[4];
	(void)state;
	schedule_calendar_init(&c);
	c.weekdays = 0;
	assert_int_equal(schedule_prev_trading_day(&c, day_of("2026-02-10")), SCHEDULE_NO_DAY);
	assert_int_equal(schedule_next_trading_day(&c, day_of("2026-02-10")), SCHEDULE_NO_DAY);
	assert_int_equal(schedule_trading_days_between(&c, 0, 1000), 0);
	assert_int_equal(schedule_last_due_day(&c, AT_1605, utc("2026-02-10T23:00:00Z")),
			 SCHEDULE_NO_DAY);
	assert_true(schedule_next_fire(&c, AT_1605, utc("2026-02-10T23:00:00Z"), &day) ==
		    CALENDAR_NONE);
	assert_int_equal(day, SCHEDULE_NO_DAY);
	assert_int_equal(
	    schedule_missed_days(&c, SCHEDULE_NO_DAY, SCHEDULE_NO_DAY, 4, out, &skipped), 0);
	assert_int_equal(skipped, 0);
}

static void test_trading_days_between_matches_a_day_by_day_count(void **state)
{
	struct schedule_calendar c;
	(void)state;
	schedule_calendar_init(&c);
	/* February 2026: 20 weekdays; a Monday holiday takes one, a Saturday
	 * holiday none. */
	assert_int_equal(
	    schedule_trading_days_between(&c, day_of("2026-02-01"), day_of("2026-02-28")), 20);
	schedule_calendar_add_holiday(&c, day_of("2026-02-16"));
	schedule_calendar_add_holiday(&c, day_of("2026-02-21"));
	schedule_calendar_add_holiday(&c, day_of("2026-03-02"));
	assert_int_equal(
	    schedule_trading_days_between(&c, day_of("2026-02-01"), day_of("2026-02-28")), 19);
	assert_int_equal(
	    schedule_trading_days_between(&c, day_of("2026-02-16"), day_of("2026-02-16")), 0);
	assert_int_equal(
	    schedule_trading_days_between(&c, day_of("2026-02-17"), day_of("2026-02-17")), 1);
	assert_int_equal(
	    schedule_trading_days_between(&c, day_of("2026-02-28"), day_of("2026-02-01")), 0);

	const unsigned masks[] = {SCHEDULE_MON_FRI, SCHEDULE_EVERY_DAY, 0x41u, 0x2au};
	int32_t base = day_of("2026-01-26");
	for (size_t k = 0; k < sizeof(masks) / sizeof(masks[0]); k++) {
		c.weekdays = masks[k];
		for (int32_t first = base; first < base + 20; first++)
			for (int32_t last = first - 1; last < first + 50; last++) {
				size_t brute = 0;
				for (int32_t d = first; d <= last; d++)
					brute += (size_t)schedule_is_trading_day(&c, d);
				if (schedule_trading_days_between(&c, first, last) != brute)
					fail_msg("mask %#x [%ld, %ld]: got %zu, expected %zu",
						 masks[k], (long)first, (long)last,
						 schedule_trading_days_between(&c, first, last),
						 brute);
			}
	}
}

/* ---- local time ---------------------------------------------------------- */

static void test_local_day_follows_the_exchange_zone(void **state)
{
	(void)state;
	/* 03:00 UTC on the 11th is 22:00 on the 10th in New York. */
	assert_day(schedule_local_day(utc("2026-02-11T03:00:00Z")), "2026-02-10");
	assert_day(schedule_local_day(utc("2026-02-11T05:00:00Z")), "2026-02-11");
	assert_day(schedule_local_day(utc("1969-12-31T23:00:00Z")), "1969-12-31");
	assert_int_equal(calendar_set_zone("UTC"), 0);
	assert_day(schedule_local_day(utc("2026-02-11T03:00:00Z")), "2026-02-11");
	assert_day(schedule_local_day(utc("1969-12-31T23:59:59.999999Z")), "1969-12-31");
	assert_day(schedule_local_day(utc("1970-01-01T00:00:00Z")), "1970-01-01");
}

static void test_local_instant_refuses_minutes_outside_the_day(void **state)
{
	(void)state;
	assert_true(schedule_local_instant(day_of("2026-02-10"), -1) == CALENDAR_NONE);
	assert_true(schedule_local_instant(day_of("2026-02-10"), 1440) == CALENDAR_NONE);
	assert_true(schedule_local_instant(SCHEDULE_NO_DAY, 0) == CALENDAR_NONE);
	assert_instant(schedule_local_instant(day_of("2026-02-10"), 1439), "2026-02-11T04:59:00Z");
}

/* ---- daily slot ---------------------------------------------------------- */

static void test_daily_fires_at_1605_new_york_on_a_weekday(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	(void)state;
	schedule_calendar_init(&c);
	/* Tuesday 2026-02-10, EST (UTC-5): 16:05 local is 21:05 UTC. */
	assert_instant(schedule_local_instant(day_of("2026-02-10"), AT_1605),
		       "2026-02-10T21:05:00Z");
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-10T15:00:00Z"), &day),
		       "2026-02-10T21:05:00Z");
	assert_day(day, "2026-02-10");
	/* One microsecond before the fire it is not yet due; at the fire it is,
	 * and the next one is tomorrow's. */
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-10T21:04:59.999999Z")),
		   "2026-02-09");
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-10T21:05:00Z")), "2026-02-10");
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-10T21:05:00Z"), &day),
		       "2026-02-11T21:05:00Z");
	assert_day(day, "2026-02-11");
	/* Late in the local evening, already the next day in UTC. */
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-11T03:00:00Z"), &day),
		       "2026-02-11T21:05:00Z");
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-11T03:00:00Z")), "2026-02-10");
	/* day may be NULL. */
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-10T15:00:00Z"), NULL),
		       "2026-02-10T21:05:00Z");
	assert_true(schedule_next_fire(&c, 1440, utc("2026-02-10T15:00:00Z"), &day) ==
		    CALENDAR_NONE);
	assert_int_equal(schedule_last_due_day(&c, -1, utc("2026-02-10T15:00:00Z")),
			 SCHEDULE_NO_DAY);
}

static void test_daily_does_not_fire_on_saturday_or_sunday(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	(void)state;
	schedule_calendar_init(&c);
	/* Friday 16:06 local: the next fire is Monday 16:05. */
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-13T21:06:00Z"), &day),
		       "2026-02-16T21:05:00Z");
	assert_day(day, "2026-02-16");
	/* From inside the weekend, too. */
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-14T21:05:00Z"), &day),
		       "2026-02-16T21:05:00Z");
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-15T23:00:00Z"), &day),
		       "2026-02-16T21:05:00Z");
	/* All weekend and Monday morning, Friday is the day due. */
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-14T21:05:00Z")), "2026-02-13");
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-16T15:00:00Z")), "2026-02-13");
}

static void test_daily_skips_a_holiday(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	(void)state;
	schedule_calendar_init(&c);
	schedule_calendar_add_holiday(&c, day_of("2026-02-16"));
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-13T21:06:00Z"), &day),
		       "2026-02-17T21:05:00Z");
	assert_day(day, "2026-02-17");
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-02-16T22:00:00Z")), "2026-02-13");
}

static void test_daily_every_day_calendar_in_utc_fires_on_weekends(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	(void)state;
	schedule_calendar_init(&c);
	c.weekdays = SCHEDULE_EVERY_DAY;
	/* Midnight UTC slot, Saturday and Sunday included. */
	assert_instant(schedule_next_fire(&c, 0, utc("2026-02-13T23:59:59Z"), &day),
		       "2026-02-14T00:00:00Z");
	assert_day(day, "2026-02-14");
	assert_instant(schedule_next_fire(&c, 0, utc("2026-02-14T00:00:00Z"), &day),
		       "2026-02-15T00:00:00Z");
	assert_day(day, "2026-02-15");
	assert_day(schedule_last_due_day(&c, 0, utc("2026-02-15T12:00:00Z")), "2026-02-15");
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-02-14T12:00:00Z"), &day),
		       "2026-02-14T16:05:00Z");
	/* UTC has no DST: the same wall time all year. */
	assert_instant(schedule_local_instant(day_of("2026-03-08"), 150), "2026-03-08T02:30:00Z");
	assert_instant(schedule_local_instant(day_of("2026-07-01"), AT_1605),
		       "2026-07-01T16:05:00Z");
}

/* 2026 in New York: EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4) until
 * 2026-11-01 02:00, EST again after. */
static void test_daily_1605_follows_dst_in_new_york(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	(void)state;
	schedule_calendar_init(&c);
	/* Winter (EST) before spring-forward: 21:05 UTC. */
	assert_instant(schedule_local_instant(day_of("2026-03-06"), AT_1605),
		       "2026-03-06T21:05:00Z");
	/* The Friday before spring-forward to the Monday after: 20:05 UTC. */
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-03-06T21:05:00Z"), &day),
		       "2026-03-09T20:05:00Z");
	assert_day(day, "2026-03-09");
	/* Spring-forward Sunday itself (every day calendar). */
	assert_instant(schedule_local_instant(day_of("2026-03-08"), AT_1605),
		       "2026-03-08T20:05:00Z");
	/* Summer (EDT) before fall-back: 20:05 UTC; after it 21:05 UTC. */
	assert_instant(schedule_local_instant(day_of("2026-10-30"), AT_1605),
		       "2026-10-30T20:05:00Z");
	assert_instant(schedule_next_fire(&c, AT_1605, utc("2026-10-30T20:05:00Z"), &day),
		       "2026-11-02T21:05:00Z");
	assert_day(day, "2026-11-02");
	assert_instant(schedule_local_instant(day_of("2026-11-01"), AT_1605),
		       "2026-11-01T21:05:00Z");
	/* Monday after fall-back, 20:30 UTC is 15:30 EST: Friday still due. */
	assert_day(schedule_last_due_day(&c, AT_1605, utc("2026-11-02T20:30:00Z")), "2026-10-30");
}

static void test_slot_in_spring_forward_gap_fires_when_clock_jumps(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0;
	int32_t sunday = day_of("2026-03-08");
	(void)state;
	schedule_calendar_init(&c);
	c.weekdays = SCHEDULE_EVERY_DAY;
	/* 02:00–02:59 do not exist; the clock jumps from 01:59:59 EST to
	 * 03:00 EDT at 07:00 UTC. */
	assert_instant(schedule_local_instant(sunday, 2 * 60 + 30), "2026-03-08T07:00:00Z");
	assert_instant(schedule_local_instant(sunday, 2 * 60), "2026-03-08T07:00:00Z");
	assert_instant(schedule_local_instant(sunday, 2 * 60 + 59), "2026-03-08T07:00:00Z");
	assert_instant(schedule_local_instant(sunday, 3 * 60), "2026-03-08T07:00:00Z");
	assert_instant(schedule_local_instant(sunday, 60 + 59), "2026-03-08T06:59:00Z");
	assert_instant(schedule_local_instant(sunday, 3 * 60 + 1), "2026-03-08T07:01:00Z");
	/* The 02:30 slot fires once that day, at the jump, then normally. */
	assert_instant(schedule_next_fire(&c, 150, utc("2026-03-07T12:00:00Z"), &day),
		       "2026-03-08T07:00:00Z");
	assert_day(day, "2026-03-08");
	assert_day(schedule_last_due_day(&c, 150, utc("2026-03-08T06:59:59Z")), "2026-03-07");
	assert_day(schedule_last_due_day(&c, 150, utc("2026-03-08T07:00:00Z")), "2026-03-08");
	assert_instant(schedule_next_fire(&c, 150, utc("2026-03-08T07:00:00Z"), &day),
		       "2026-03-09T06:30:00Z");
	assert_day(day, "2026-03-09");
}

/* Runs a scheduler loop minute by minute over [from, to), as watch would:
 * fire when now reaches the next fire instant, and count fires per day. */
static size_t fires_between(const struct schedule_calendar *c, int minute_of_day, const char *from,
			    const char *to, int32_t *days, size_t max)
{
	int64_t now = utc(from), end = utc(to);
	size_t n = 0;
	int32_t day = 0;
	int64_t next = schedule_next_fire(c, minute_of_day, now - 1, &day);
	for (; now < end; now += 60 * CALENDAR_US_PER_S) {
		if (now >= next) {
			if (n < max)
				days[n] = day;
			n++;
			next = schedule_next_fire(c, minute_of_day, now, &day);
		}
	}
	return n;
}

static void test_slot_in_fall_back_overlap_fires_once(void **state)
{
	struct schedule_calendar c;
	int32_t day = 0, days[8];
	int32_t sunday = day_of("2026-11-01");
	(void)state;
	schedule_calendar_init(&c);
	c.weekdays = SCHEDULE_EVERY_DAY;
	/* 01:30 shows at 05:30 UTC (EDT) and again at 06:30 UTC (EST): the
	 * first one counts. */
	assert_instant(schedule_local_instant(sunday, 90), "2026-11-01T05:30:00Z");
	assert_instant(schedule_local_instant(sunday, 60), "2026-11-01T05:00:00Z");
	assert_instant(schedule_local_instant(sunday, 2 * 60), "2026-11-01T07:00:00Z");
	assert_instant(schedule_local_instant(sunday, 59), "2026-11-01T04:59:00Z");
	/* After the first 01:30, the second is not a new fire. */
	assert_instant(schedule_next_fire(&c, 90, utc("2026-11-01T05:30:00Z"), &day),
		       "2026-11-02T06:30:00Z");
	assert_day(day, "2026-11-02");
	assert_day(schedule_last_due_day(&c, 90, utc("2026-11-01T06:45:00Z")), "2026-11-01");
	/* Minute by minute over three days: one fire a day. */
	size_t n = fires_between(&c, 90, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z", days, 8);
	assert_int_equal(n, 3);
	assert_day(days[0], "2026-10-31");
	assert_day(days[1], "2026-11-01");
	assert_day(days[2], "2026-11-02");
	/* And the spring-forward day, with its 02:30 that never shows. */
	n = fires_between(&c, 150, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z", days, 8);
	assert_int_equal(n, 3);
	assert_day(days[1], "2026-03-08");
}

/* ---- weekly slot --------------------------------------------------------- */

static void test_weekly_sunday_0100_fires_every_week_in_new_york(void **state)
{
	int32_t day = 0;
	(void)state;
	/* Wednesday 2026-02-11 noon EST: next Sunday 01:00 EST is 06:00 UTC. */
	assert_instant(schedule_next_weekly(6, 60, utc("2026-02-11T17:00:00Z"), &day),
		       "2026-02-15T06:00:00Z");
	assert_day(day, "2026-02-15");
	assert_instant(schedule_next_weekly(6, 60, utc("2026-02-15T06:00:00Z"), &day),
		       "2026-02-22T06:00:00Z");
	assert_day(day, "2026-02-22");
	/* On the Sunday itself, before the slot. */
	assert_instant(schedule_next_weekly(6, 60, utc("2026-02-15T05:59:59Z"), &day),
		       "2026-02-15T06:00:00Z");
	assert_day(schedule_last_weekly(6, 60, utc("2026-02-15T05:59:59Z")), "2026-02-08");
	assert_day(schedule_last_weekly(6, 60, utc("2026-02-15T06:00:00Z")), "2026-02-15");
	assert_day(schedule_last_weekly(6, 60, utc("2026-02-18T12:00:00Z")), "2026-02-15");
	/* Across spring-forward: 01:00 EST, then 01:00 EDT. */
	assert_instant(schedule_next_weekly(6, 60, utc("2026-03-05T12:00:00Z"), &day),
		       "2026-03-08T06:00:00Z");
	assert_instant(schedule_next_weekly(6, 60, utc("2026-03-08T06:00:00Z"), &day),
		       "2026-03-15T05:00:00Z");
	/* A weekly slot in the gap fires at the jump. */
	assert_instant(schedule_next_weekly(6, 150, utc("2026-03-05T12:00:00Z"), &day),
		       "2026-03-08T07:00:00Z");
	/* A Monday slot from a Monday after it: next week. */
	assert_instant(schedule_next_weekly(0, 9 * 60 + 30, utc("2026-02-16T15:00:00Z"), &day),
		       "2026-02-23T14:30:00Z");
	assert_day(schedule_last_weekly(0, 9 * 60 + 30, utc("2026-02-16T15:00:00Z")), "2026-02-16");
	/* Bad arguments. */
	assert_true(schedule_next_weekly(7, 60, 0, &day) == CALENDAR_NONE);
	assert_int_equal(day, SCHEDULE_NO_DAY);
	assert_true(schedule_next_weekly(-1, 60, 0, NULL) == CALENDAR_NONE);
	assert_int_equal(schedule_last_weekly(0, 1440, 0), SCHEDULE_NO_DAY);
}

static void test_weekly_slot_ignores_the_trading_calendar(void **state)
{
	int32_t day = 0;
	(void)state;
	/* Saturday in UTC: no calendar to consult, Saturdays are fine. */
	assert_instant(schedule_next_weekly(5, 0, utc("2026-02-13T12:00:00Z"), &day),
		       "2026-02-14T00:00:00Z");
	assert_day(day, "2026-02-14");
}

/* ---- catch-up ------------------------------------------------------------ */

static void test_missed_days_across_a_long_weekend(void **state)
{
	struct schedule_calendar c;
	int32_t out[8];
	size_t skipped = 99;
	(void)state;
	schedule_calendar_init(&c);
	schedule_calendar_add_holiday(&c, day_of("2026-02-16"));
	/* Last ran Thursday; down until Tuesday evening: Friday and Tuesday. */
	size_t n =
	    schedule_missed_days(&c, day_of("2026-02-12"), day_of("2026-02-17"), 8, out, &skipped);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 0);
	assert_day(out[0], "2026-02-13");
	assert_day(out[1], "2026-02-17");
	/* Up to date: nothing. */
	assert_int_equal(
	    schedule_missed_days(&c, day_of("2026-02-17"), day_of("2026-02-17"), 8, out, &skipped),
	    0);
	assert_int_equal(skipped, 0);
	/* last_due on a non-trading day counts back to Friday. */
	n = schedule_missed_days(&c, day_of("2026-02-12"), day_of("2026-02-16"), 8, out, NULL);
	assert_int_equal(n, 1);
	assert_day(out[0], "2026-02-13");
}

static void test_missed_days_keeps_only_the_newest_limit(void **state)
{
	struct schedule_calendar c;
	int32_t out[3];
	size_t skipped = 0;
	(void)state;
	schedule_calendar_init(&c);
	/* Last ran Friday 2026-01-02; six full weeks later: 30 days due. */
	size_t n =
	    schedule_missed_days(&c, day_of("2026-01-02"), day_of("2026-02-13"), 3, out, &skipped);
	assert_int_equal(n, 3);
	assert_int_equal(skipped, 27);
	assert_day(out[0], "2026-02-11");
	assert_day(out[1], "2026-02-12");
	assert_day(out[2], "2026-02-13");
	/* A limit of 0 runs nothing and says everything was dropped. */
	assert_int_equal(
	    schedule_missed_days(&c, day_of("2026-01-02"), day_of("2026-02-13"), 0, out, &skipped),
	    0);
	assert_int_equal(skipped, 30);
}

static void test_missed_days_when_never_ran_is_only_the_last_due(void **state)
{
	struct schedule_calendar c;
	int32_t out[8];
	size_t skipped = 99;
	(void)state;
	schedule_calendar_init(&c);
	size_t n =
	    schedule_missed_days(&c, SCHEDULE_NO_DAY, day_of("2026-02-13"), 8, out, &skipped);
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 0);
	assert_day(out[0], "2026-02-13");
	/* Nothing due yet at all. */
	assert_int_equal(
	    schedule_missed_days(&c, SCHEDULE_NO_DAY, SCHEDULE_NO_DAY, 8, out, &skipped), 0);
	assert_int_equal(skipped, 0);
}

/* The pieces together: down from Thursday evening to Tuesday noon over a
 * long weekend, what runs on restart, and when the next run is. */
static void test_restart_after_downtime_runs_missed_days_then_waits(void **state)
{
	struct schedule_calendar c;
	int32_t out[5], next_day = 0;
	size_t skipped = 0;
	(void)state;
	schedule_calendar_init(&c);
	schedule_calendar_add_holiday(&c, day_of("2026-02-16"));
	int64_t now = utc("2026-02-17T17:00:00Z"); /* Tuesday 12:00 EST */
	int32_t due = schedule_last_due_day(&c, AT_1605, now);
	assert_day(due, "2026-02-13");
	size_t n = schedule_missed_days(&c, day_of("2026-02-12"), due, 5, out, &skipped);
	assert_int_equal(n, 1);
	assert_day(out[0], "2026-02-13");
	assert_instant(schedule_next_fire(&c, AT_1605, now, &next_day), "2026-02-17T21:05:00Z");
	assert_day(next_day, "2026-02-17");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_day_numbers_are_days_since_1970_in_any_zone),
	    cmocka_unit_test(test_day_parse_and_format_round_trip),
	    cmocka_unit_test(test_day_parse_refuses_malformed_and_impossible_dates),
	    cmocka_unit_test(test_weekday_counts_from_monday),
	    cmocka_unit_test(test_parse_hhmm_accepts_only_strict_wall_times),
	    cmocka_unit_test(test_parse_weekday_full_and_short_names_any_case),
	    cmocka_unit_test(test_calendar_defaults_to_monday_to_friday),
	    cmocka_unit_test(test_holidays_stay_sorted_and_unique_until_full),
	    cmocka_unit_test(test_holiday_is_skipped_by_next_and_prev_trading_day),
	    cmocka_unit_test_setup(test_calendar_without_trading_weekdays_answers_no_day,
				   zone_new_york),
	    cmocka_unit_test(test_trading_days_between_matches_a_day_by_day_count),
	    cmocka_unit_test_setup(test_local_day_follows_the_exchange_zone, zone_new_york),
	    cmocka_unit_test_setup(test_local_instant_refuses_minutes_outside_the_day,
				   zone_new_york),
	    cmocka_unit_test_setup(test_daily_fires_at_1605_new_york_on_a_weekday, zone_new_york),
	    cmocka_unit_test_setup(test_daily_does_not_fire_on_saturday_or_sunday, zone_new_york),
	    cmocka_unit_test_setup(test_daily_skips_a_holiday, zone_new_york),
	    cmocka_unit_test_setup(test_daily_every_day_calendar_in_utc_fires_on_weekends,
				   zone_utc),
	    cmocka_unit_test_setup(test_daily_1605_follows_dst_in_new_york, zone_new_york),
	    cmocka_unit_test_setup(test_slot_in_spring_forward_gap_fires_when_clock_jumps,
				   zone_new_york),
	    cmocka_unit_test_setup(test_slot_in_fall_back_overlap_fires_once, zone_new_york),
	    cmocka_unit_test_setup(test_weekly_sunday_0100_fires_every_week_in_new_york,
				   zone_new_york),
	    cmocka_unit_test_setup(test_weekly_slot_ignores_the_trading_calendar, zone_utc),
	    cmocka_unit_test_setup(test_missed_days_across_a_long_weekend, zone_new_york),
	    cmocka_unit_test_setup(test_missed_days_keeps_only_the_newest_limit, zone_new_york),
	    cmocka_unit_test_setup(test_missed_days_when_never_ran_is_only_the_last_due,
				   zone_new_york),
	    cmocka_unit_test_setup(test_restart_after_downtime_runs_missed_days_then_waits,
				   zone_new_york),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
