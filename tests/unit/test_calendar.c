#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/base/calendar.h"

/* Microseconds of a second count and a microsecond part. */
#define AT(seconds, micros) ((seconds)*CALENDAR_US_PER_S + (micros))

/* 2026-02-05T14:31:54Z and 2026-02-05T00:00:00Z in seconds since the epoch. */
#define FEB5_143154 INT64_C(1770301914)
#define FEB5_MIDNIGHT INT64_C(1770249600)

static int zone_new_york(void **state)
{
	(void)state;
	return calendar_set_zone("America/New_York");
}

/* ---- ISO-8601 parsing ---------------------------------------------------- */

struct iso_case {
	const char *text;
	int rc;		  /* 0 or -1 */
	int64_t expected; /* microseconds, when rc == 0 */
};

static const struct iso_case iso_cases[] = {
    /* Offsets. */
    {"2026-02-05T14:31:54Z", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T14:31:54z", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T14:31:54+00:00", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T09:31:54-05:00", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T20:01:54+05:30", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T20:01:54+0530", 0, AT(FEB5_143154, 0)},
    {"2026-02-05T14:31:54", 0, AT(FEB5_143154, 0)}, /* no offset: UTC */
    /* Fractional seconds: 1 to 9 digits, truncated (not rounded) to µs. */
    {"2026-02-05T14:31:54.4Z", 0, AT(FEB5_143154, 400000)},
    {"2026-02-05T14:31:54.46Z", 0, AT(FEB5_143154, 460000)},
    {"2026-02-05T14:31:54.466Z", 0, AT(FEB5_143154, 466000)},
    {"2026-02-05T14:31:54.4660Z", 0, AT(FEB5_143154, 466000)},
    {"2026-02-05T14:31:54.46602Z", 0, AT(FEB5_143154, 466020)},
    {"2026-02-05T14:31:54.466025+00:00", 0, AT(FEB5_143154, 466025)},
    {"2026-02-05T14:31:54.4660259Z", 0, AT(FEB5_143154, 466025)},
    {"2026-02-05T14:31:54.46602599Z", 0, AT(FEB5_143154, 466025)},
    {"2026-02-05T14:31:54.466025999Z", 0, AT(FEB5_143154, 466025)},
    {"2026-02-05T14:31:54,5Z", 0, AT(FEB5_143154, 500000)},
    /* Date alone, space separator, no seconds. */
    {"2026-02-05", 0, AT(FEB5_MIDNIGHT, 0)},
    {"2026-02-05 14:31:54", 0, AT(FEB5_143154, 0)},
    {"2026-02-05 14:31:54.466025+00:00", 0, AT(FEB5_143154, 466025)},
    {"2026-02-05T14:31", 0, AT(FEB5_143154 - 54, 0)},
    {"1970-01-01T00:00:00Z", 0, 0},
    {"2000-02-29T12:00:00Z", 0, AT(INT64_C(951825600), 0)},
    /* Malformed. */
    {"2026-13-01", -1, 0},
    {"2026-00-10", -1, 0},
    {"2026-02-00", -1, 0},
    {"2026-02-32", -1, 0},
    {"2026-02-05T25:00", -1, 0},
    {"2026-02-05T14:60", -1, 0},
    {"abc", -1, 0},
    {"", -1, 0},
    {"2026-2-5", -1, 0},
    {"2026-02-05T14:31:54Zjunk", -1, 0},
    {"2026-02-05T14:31:54+00:00 ", -1, 0},
    {"2026-02-05x", -1, 0},
    {"2026-02-05T", -1, 0},
    {"2026-02-05T14:31:54.Z", -1, 0},
    {"2026-02-05T14:31:54+", -1, 0},
    {"2026-02-05T14:31:54+5", -1, 0},
};

static void test_parse_iso_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(iso_cases) / sizeof(iso_cases[0]); i++) {
		const struct iso_case *c = &iso_cases[i];
		int64_t us = -42;
		int rc = calendar_parse_iso(c->text, &us);
		if (rc != c->rc || (rc == 0 && us != c->expected))
			fail_msg("\"%s\": rc %d us %lld, expected rc %d us %lld", c->text, rc,
				 (long long)us, c->rc, (long long)c->expected);
	}
}

static void test_parse_iso_refuses_null(void **state)
{
	int64_t us;
	(void)state;
	assert_int_equal(calendar_parse_iso(NULL, &us), -1);
}

/* A day that does not exist in its month is malformed, like month 13; the
 * parser must not roll it over into the next month. */
static void test_parse_iso_refuses_day_past_end_of_month(void **state)
{
	static const char *const bad[] = {"2026-02-29", "2026-02-30", "2026-04-31",
					  "2100-02-29T00:00:00Z"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 0;
		if (calendar_parse_iso(bad[i], &us) != -1) {
			char got[40];
			calendar_format_iso(us, got, sizeof(got));
			fail_msg("\"%s\" accepted as %s", bad[i], got);
		}
	}
}

/* ---- civil dates ---------------------------------------------------------- */

struct civil_case {
	int64_t year;
	int64_t month, day;
	int64_t days;	  /* since 1970-01-01 */
	const char *what; /* why the row is there */
};

/* Day counts worked out independently (Python's proleptic Gregorian
 * date.toordinal(), and 719468 days from 0000-03-01 to 1970-01-01). */
static const struct civil_case civil_cases[] = {
    {1970, 1, 1, 0, "the epoch"},
    {1969, 12, 31, -1, "the day before"},
    {2000, 2, 29, 11016, "divisible by 400: a leap year"},
    {2000, 3, 1, 11017, "after a leap day"},
    {1900, 2, 28, -25509, "divisible by 100: not a leap year"},
    {1900, 3, 1, -25508, "after no leap day"},
    {2026, 2, 10, 20494, "a day of the logs"},
    {1600, 2, 29, -135081, "an earlier era's leap day"},
    {1, 1, 1, -719162, "the first day of year 1"},
    {0, 3, 1, -719468, "the start of Hinnant's era 0"},
    {0, 1, 1, -719528, "year 0 is a leap year"},
    {-1, 12, 31, -719529, "the era before year 0"},
    {2100, 12, 31, 47846, "a century that is not leap"},
    {9999, 12, 31, 2932896, "the last four-digit year"},
};

static void test_days_from_civil_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(civil_cases) / sizeof(civil_cases[0]); i++) {
		const struct civil_case *c = &civil_cases[i];
		int y, m, d;
		if (calendar_days_from_civil(c->year, c->month, c->day) != c->days)
			fail_msg("%s: %lld-%lld-%lld is not day %lld", c->what, (long long)c->year,
				 (long long)c->month, (long long)c->day, (long long)c->days);
		calendar_civil_from_days(c->days, &y, &m, &d);
		assert_int_equal(y, c->year);
		assert_int_equal(m, c->month);
		assert_int_equal(d, c->day);
	}
}

static void test_days_from_civil_rolls_months_and_days_over(void **state)
{
	(void)state;
	static const struct {
		int64_t y, m, d, same_y, same_m, same_d;
	} cases[] = {
	    {2025, 13, 1, 2026, 1, 1},	 {2026, 0, 31, 2025, 12, 31}, {2026, -11, 1, 2025, 1, 1},
	    {2026, -12, 1, 2024, 12, 1}, {2026, 25, 1, 2028, 1, 1},   {2026, 2, 29, 2026, 3, 1},
	    {2024, 2, 30, 2024, 3, 1},	 {2026, 3, 0, 2026, 2, 28},   {2026, 1, 366, 2027, 1, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    calendar_days_from_civil(cases[i].y, cases[i].m, cases[i].d),
		    calendar_days_from_civil(cases[i].same_y, cases[i].same_m, cases[i].same_d));
}

/* Every day from 0000-01-01 to 9999-12-31 comes back as the date it came
 * from, one day after the one before. */
static void test_civil_from_days_inverts_days_from_civil_for_every_day(void **state)
{
	(void)state;
	int py = 0, pm = 1, pd = 0;
	for (int64_t day = -719528; day <= 2932896; day++) {
		int y, m, d;
		calendar_civil_from_days(day, &y, &m, &d);
		if (calendar_days_from_civil(y, m, d) != day || !calendar_date_exists(y, m, d))
			fail_msg("day %lld came back as %04d-%02d-%02d", (long long)day, y, m, d);
		int next = (y == py && m == pm && d == pd + 1) ||
			   (y == py && m == pm + 1 && d == 1) || (y == py + 1 && m == 1 && d == 1);
		if (day > -719528 && !next)
			fail_msg("%04d-%02d-%02d follows %04d-%02d-%02d", y, m, d, py, pm, pd);
		py = y;
		pm = m;
		pd = d;
	}
}

static void test_date_exists_table(void **state)
{
	(void)state;
	static const struct {
		int y, m, d, exists;
	} cases[] = {
	    {2026, 1, 31, 1}, {2026, 2, 28, 1},	 {2026, 2, 29, 0},  {2024, 2, 29, 1},
	    {2000, 2, 29, 1}, {1900, 2, 29, 0},	 {2100, 2, 29, 0},  {2026, 4, 30, 1},
	    {2026, 4, 31, 0}, {2026, 12, 31, 1}, {2026, 13, 1, 0},  {2026, 0, 1, 0},
	    {2026, 6, 0, 0},  {2026, 6, -1, 0},	 {2026, -1, 10, 0}, {0, 2, 29, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (calendar_date_exists(cases[i].y, cases[i].m, cases[i].d) != cases[i].exists)
			fail_msg("%d-%d-%d: expected %d", cases[i].y, cases[i].m, cases[i].d,
				 cases[i].exists);
}

static void test_parse_date_takes_only_strict_dates_that_exist(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",		  "2026-2-10",	 "2026-02-1",	"26-02-10",
	    "2026/02/10", "2026-02-10 ", " 2026-02-10", "2026-02-10T00:00:00Z",
	    "2026-13-01", "2026-00-10",	 "2026-02-00",	"2026-02-29",
	    "2026-02-30", "2026-04-31",	 "1900-02-29",	"2026-0a-10",
	    "+026-02-10", "../../etc/x"};
	int64_t days = 12345;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (calendar_parse_date(bad[i], &days) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(calendar_parse_date(NULL, &days), -1);
	assert_int_equal(days, 12345);
	assert_int_equal(calendar_parse_date("2026-02-10", &days), 0);
	assert_int_equal(days, 20494);
	assert_int_equal(calendar_parse_date("2024-02-29", &days), 0);
	assert_int_equal(days, calendar_days_from_civil(2024, 2, 29));
	assert_int_equal(calendar_parse_date("0000-01-01", &days), 0);
	assert_int_equal(days, -719528);
}

/* ---- epoch numbers ------------------------------------------------------- */

struct epoch_case {
	double value;
	int64_t expected;
};

static const struct epoch_case epoch_cases[] = {
    {1770301914.0, AT(FEB5_143154, 0)},		   /* seconds */
    {1770301914.5, AT(FEB5_143154, 500000)},	   /* seconds with a fraction */
    {1770301914466.0, AT(FEB5_143154, 466000)},	   /* milliseconds */
    {1770301914466025.0, AT(FEB5_143154, 466025)}, /* microseconds */
    {0.0, 0},
    {1.0, AT(1, 0)},
    {99999999999.0, AT(INT64_C(99999999999), 0)}, /* 1e11 is still seconds */
    {-1.0, AT(-1, 0)},
};

static void test_epoch_number_units_by_magnitude(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(epoch_cases) / sizeof(epoch_cases[0]); i++) {
		int64_t got = calendar_from_epoch_number(epoch_cases[i].value);
		if (got != epoch_cases[i].expected)
			fail_msg("%.17g: got %lld, expected %lld", epoch_cases[i].value,
				 (long long)got, (long long)epoch_cases[i].expected);
	}
}

/* ---- formatting ---------------------------------------------------------- */

struct format_case {
	int64_t us;
	const char *iso;
	const char *date;
};

static const struct format_case format_cases[] = {
    {AT(FEB5_143154, 466025), "2026-02-05T14:31:54.466025Z", "2026-02-05"},
    {AT(FEB5_MIDNIGHT, 0), "2026-02-05T00:00:00.000000Z", "2026-02-05"},
    {0, "1970-01-01T00:00:00.000000Z", "1970-01-01"},
    {-1, "1969-12-31T23:59:59.999999Z", "1969-12-31"},
    {AT(INT64_C(951825600), 1), "2000-02-29T12:00:00.000001Z", "2000-02-29"},
};

static void test_format_iso_and_date_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		char iso[40], date[16];
		calendar_format_iso(format_cases[i].us, iso, sizeof(iso));
		calendar_format_date(format_cases[i].us, date, sizeof(date));
		assert_string_equal(iso, format_cases[i].iso);
		assert_string_equal(date, format_cases[i].date);
	}
}

static void test_format_iso_round_trips_through_parse(void **state)
{
	static const int64_t values[] = {
	    0,
	    1,
	    -1,
	    AT(FEB5_143154, 466025),
	    INT64_C(4102444799999999),	 /* 2099-12-31 */
	    AT(INT64_C(-2208988800), 0), /* 1900-01-01 */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[40];
		int64_t back = 0;
		calendar_format_iso(values[i], buf, sizeof(buf));
		assert_int_equal(calendar_parse_iso(buf, &back), 0);
		assert_int_equal(back, values[i]);
	}
	/* And every parsed table case formats back to the same instant. */
	for (size_t i = 0; i < sizeof(iso_cases) / sizeof(iso_cases[0]); i++) {
		char buf[40];
		int64_t back = 0;
		if (iso_cases[i].rc)
			continue;
		calendar_format_iso(iso_cases[i].expected, buf, sizeof(buf));
		assert_int_equal(calendar_parse_iso(buf, &back), 0);
		assert_int_equal(back, iso_cases[i].expected);
	}
}

/* ---- exchange-local time --------------------------------------------------- */

struct bucket_case {
	const char *utc;
	const char *bucket;
	const char *weekday;
	int local_hour, local_minute;
};

/* New York switches to EDT (UTC-4) on 2026-03-08 at 02:00 EST. */
static const struct bucket_case bucket_cases[] = {
    /* Before the change: EST, UTC-5. */
    {"2026-03-06T14:31:00Z", "open", "friday", 9, 31},
    {"2026-03-06T13:45:00Z", "pre_market", "friday", 8, 45},
    {"2026-03-06T14:30:00Z", "open", "friday", 9, 30},
    {"2026-03-06T14:29:59Z", "pre_market", "friday", 9, 29},
    /* After the change: EDT, UTC-4; the same UTC clock is an hour later. */
    {"2026-03-09T13:45:00Z", "open", "monday", 9, 45},
    {"2026-03-09T13:31:00Z", "open", "monday", 9, 31},
    {"2026-03-08T14:31:00Z", "mid_morning", "sunday", 10, 31},
    {"2026-03-09T14:31:00Z", "mid_morning", "monday", 10, 31},
    /* Every bucket, on an EST day. */
    {"2026-02-05T15:29:59Z", "open", "thursday", 10, 29},
    {"2026-02-05T15:30:00Z", "mid_morning", "thursday", 10, 30},
    {"2026-02-05T17:00:00Z", "lunch", "thursday", 12, 0},
    {"2026-02-05T18:30:00Z", "afternoon", "thursday", 13, 30},
    {"2026-02-05T20:00:00Z", "close", "thursday", 15, 0},
    {"2026-02-05T20:59:59Z", "close", "thursday", 15, 59},
    {"2026-02-05T21:00:00Z", "after_hours", "thursday", 16, 0},
    /* 03:00 UTC on the 6th is still the evening of the 5th in New York. */
    {"2026-02-06T03:00:00Z", "after_hours", "thursday", 22, 0},
    {"2026-02-07T12:00:00Z", "pre_market", "saturday", 7, 0},
};

static void test_time_of_day_and_weekday_in_new_york_across_dst(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bucket_cases) / sizeof(bucket_cases[0]); i++) {
		const struct bucket_case *c = &bucket_cases[i];
		struct calendar_local l;
		int64_t us;
		assert_int_equal(calendar_parse_iso(c->utc, &us), 0);
		calendar_local(us, &l);
		if (strcmp(calendar_time_of_day(us), c->bucket) != 0 ||
		    strcmp(calendar_day_of_week(us), c->weekday) != 0 || l.hour != c->local_hour ||
		    l.minute != c->local_minute)
			fail_msg("%s: %s %s %02d:%02d, expected %s %s %02d:%02d", c->utc,
				 calendar_time_of_day(us), calendar_day_of_week(us), l.hour,
				 l.minute, c->bucket, c->weekday, c->local_hour, c->local_minute);
		assert_int_equal(l.minute_of_day, l.hour * 60 + l.minute);
	}
}

static void test_local_fields_of_a_known_instant(void **state)
{
	struct calendar_local l;
	(void)state;
	calendar_local(AT(FEB5_143154, 466025), &l);
	assert_int_equal(l.year, 2026);
	assert_int_equal(l.month, 2);
	assert_int_equal(l.day, 5);
	assert_int_equal(l.hour, 9);
	assert_int_equal(l.minute, 31);
	assert_int_equal(l.second, 54);
	assert_int_equal(l.weekday, 3); /* Thursday, Monday = 0 */
}

static void test_day_of_week_names_a_whole_week(void **state)
{
	static const char *const names[] = {"monday", "tuesday",  "wednesday", "thursday",
					    "friday", "saturday", "sunday"};
	int64_t monday_noon;
	(void)state;
	assert_int_equal(calendar_parse_iso("2026-02-02T17:00:00Z", &monday_noon), 0);
	for (int d = 0; d < 7; d++)
		assert_string_equal(calendar_day_of_week(monday_noon + AT(d * 86400, 0)), names[d]);
}

static void test_set_zone_utc_moves_the_buckets(void **state)
{
	int64_t us;
	(void)state;
	assert_int_equal(calendar_parse_iso("2026-03-06T13:45:00Z", &us), 0);
	assert_int_equal(calendar_set_zone("UTC"), 0);
	assert_string_equal(calendar_time_of_day(us), "afternoon");
	assert_int_equal(calendar_set_zone("America/New_York"), 0);
	assert_string_equal(calendar_time_of_day(us), "pre_market");
}

static void test_set_zone_refuses_unknown_zones(void **state)
{
	static const char *const bad[] = {"Mars/Olympus", "", "America/New_Yrok",
					  "../../../etc/passwd", "America/New_York/"};
	int64_t us;
	(void)state;
	assert_int_equal(calendar_set_zone(NULL), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(calendar_set_zone(bad[i]), -1);
	/* The zone in force is unchanged by a refusal. */
	assert_int_equal(calendar_parse_iso("2026-03-06T13:45:00Z", &us), 0);
	assert_string_equal(calendar_time_of_day(us), "pre_market");
}

static void test_zone_exists_table(void **state)
{
	static const struct {
		const char *zone;
		int exists;
	} cases[] = {
	    {"UTC", 1},
	    {"America/New_York", 1},
	    {"Europe/London", 1},
	    {"Asia/Tokyo", 1},
	    {"Mars/Olympus", 0},
	    {"America", 0}, /* a folder */
	    {"America/New_York/", 0},
	    {"../../../etc/passwd", 0},
	    {"America/../Asia/Tokyo", 0},
	    {"", 0},
	    {NULL, 0},
	};
	int64_t us;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (calendar_zone_exists(cases[i].zone) != cases[i].exists)
			fail_msg("%s: expected %d", cases[i].zone ? cases[i].zone : "(null)",
				 cases[i].exists);
	/* Asking changes nothing. */
	assert_int_equal(calendar_parse_iso("2026-03-06T13:45:00Z", &us), 0);
	assert_string_equal(calendar_time_of_day(us), "pre_market");
}

/* A folder of zoneinfo is not a zone: tzset() would silently use UTC. */
static void test_set_zone_refuses_a_zoneinfo_folder(void **state)
{
	int64_t us;
	(void)state;
	assert_int_equal(calendar_set_zone("America"), -1);
	assert_int_equal(calendar_parse_iso("2026-03-06T13:45:00Z", &us), 0);
	assert_string_equal(calendar_time_of_day(us), "pre_market");
}

static void test_now_is_after_2026(void **state)
{
	(void)state;
	assert_true(calendar_now() > AT(INT64_C(1767225600), 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_iso_table),
	    cmocka_unit_test(test_parse_iso_refuses_null),
	    cmocka_unit_test(test_parse_iso_refuses_day_past_end_of_month),
	    cmocka_unit_test(test_days_from_civil_table),
	    cmocka_unit_test(test_days_from_civil_rolls_months_and_days_over),
	    cmocka_unit_test(test_civil_from_days_inverts_days_from_civil_for_every_day),
	    cmocka_unit_test(test_date_exists_table),
	    cmocka_unit_test(test_parse_date_takes_only_strict_dates_that_exist),
	    cmocka_unit_test(test_epoch_number_units_by_magnitude),
	    cmocka_unit_test(test_format_iso_and_date_table),
	    cmocka_unit_test(test_format_iso_round_trips_through_parse),
	    cmocka_unit_test_setup(test_time_of_day_and_weekday_in_new_york_across_dst,
				   zone_new_york),
	    cmocka_unit_test_setup(test_local_fields_of_a_known_instant, zone_new_york),
	    cmocka_unit_test_setup(test_day_of_week_names_a_whole_week, zone_new_york),
	    cmocka_unit_test_setup(test_set_zone_utc_moves_the_buckets, zone_new_york),
	    cmocka_unit_test_setup(test_set_zone_refuses_unknown_zones, zone_new_york),
	    cmocka_unit_test_setup(test_set_zone_refuses_a_zoneinfo_folder, zone_new_york),
	    cmocka_unit_test_setup(test_zone_exists_table, zone_new_york),
	    cmocka_unit_test(test_now_is_after_2026),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
