/*
 * calendar — timestamps, the exchange's local time, trading-day buckets.
 *
 * Time inside tradelearn is int64 microseconds since the Unix epoch (UTC):
 * exact for every timestamp a bot logs, and free of double rounding when
 * written back. Local time is the exchange's time zone, set once per process
 * with calendar_set_zone() (default America/New_York).
 */
#ifndef TRADELEARN_CALENDAR_H
#define TRADELEARN_CALENDAR_H

#include <stdint.h>
#include <stddef.h>

#define CALENDAR_US_PER_S INT64_C(1000000)
#define CALENDAR_NONE INT64_MIN

/* Parses an ISO-8601 timestamp ("2026-02-05T14:31:54.466025+00:00",
 * "...Z", "2026-02-05 14:31:54", a date alone "2026-02-05" as midnight UTC;
 * no offset means UTC). Returns 0 and sets *us, or -1 when malformed. */
int calendar_parse_iso(const char *text, int64_t *us);

/* Strict "YYYY-MM-DD": four, two and two digits, a date that exists
 * (calendar_date_exists()), nothing after. Returns 0 and sets *days (since
 * 1970-01-01), or -1 leaving *days untouched. */
int calendar_parse_date(const char *text, int64_t *days);

/* ---- civil dates: the one date algorithm of tradelearn ------------------- */

/* Days since 1970-01-01 of the proleptic Gregorian date year-month-day
 * (Howard Hinnant's days_from_civil; calendar.c names the source). Months
 * outside 1–12 and days outside the month roll over: month 13 is January of
 * year + 1, February 30 is March 1 or 2, day 0 the last of the month
 * before. */
int64_t calendar_days_from_civil(int64_t year, int64_t month, int64_t day);

/* The date of a day count (its inverse, civil_from_days); month and day are
 * 1-based. */
void calendar_civil_from_days(int64_t days, int *year, int *month, int *day);

/* 1 when year-month-day is a date of the Gregorian calendar (a month 1–12,
 * a day of that month: February 29 only in leap years), else 0. */
int calendar_date_exists(int64_t year, int month, int day);

/* Epoch numbers: seconds, or milliseconds / microseconds when the magnitude
 * says so (> 1e11 ms, > 1e14 us). */
int64_t calendar_from_epoch_number(double value);

/* Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC) into buf (at least 32 bytes). */
void calendar_format_iso(int64_t us, char *buf, size_t len);

/* Writes "YYYY-MM-DD" of the UTC date of us into buf (at least 11 bytes). */
void calendar_format_date(int64_t us, char *buf, size_t len);

/* 1 when zone names a time zone this system knows (a TZif file under
 * /usr/share/zoneinfo, or "UTC"), without changing anything. */
int calendar_zone_exists(const char *zone);

/* Sets the process's exchange time zone (an IANA name such as
 * "America/New_York" or "UTC"). Returns -1 when the zone is unknown. */
int calendar_set_zone(const char *zone);

/* Broken-down exchange-local time of us. */
struct calendar_local {
	int year, month, day; /* 1-based month and day */
	int hour, minute, second;
	int weekday;	   /* 0 = Monday … 6 = Sunday */
	int minute_of_day; /* hour*60 + minute */
};
void calendar_local(int64_t us, struct calendar_local *out);

/* Time-of-day bucket of an exchange-local time: "pre_market" (< 9:30),
 * "open" (9:30–10:30), "mid_morning" (10:30–12:00), "lunch" (12:00–13:30),
 * "afternoon" (13:30–15:00), "close" (15:00–16:00), "after_hours" (≥ 16:00);
 * with sessions set, the name of the first session holding the time, or
 * "other". */
const char *calendar_time_of_day(int64_t us);

#define CALENDAR_MAX_SESSIONS 16
#define CALENDAR_SESSION_NAME 32

/* A session of the exchange's day: [from, to) in minutes of the local day;
 * from > to wraps past midnight. */
struct calendar_session {
	char name[CALENDAR_SESSION_NAME];
	int from, to;
};

/* Puts sessions (n ≤ CALENDAR_MAX_SESSIONS, copied) in force in place of
 * the US equity buckets; n = 0 restores those. Process-wide, like the zone. */
void calendar_set_sessions(const struct calendar_session *sessions, size_t n);
size_t calendar_sessions_count(void);
/* "exchange time: asia 00:00-08:00, europe 08:00-16:00, ..." (static). */
const char *calendar_sessions_text(void);

/* "monday" … "sunday" in exchange-local time. */
const char *calendar_day_of_week(int64_t us);

/* Microseconds now (CLOCK_REALTIME). */
int64_t calendar_now(void);

/* The clock of the job schedule: calendar_now(), except when the
 * environment variable TRADELEARN_TEST_CLOCK holds an ISO-8601 instant.
 * Then the schedule's clock starts at that instant on the first call and
 * runs at the real pace from there, so tests can stand at 16:04:58 on a
 * Friday before a daylight-saving change. It is for tests only, and moves
 * nothing else: commit times and file times stay on the real clock. */
int64_t calendar_schedule_now(void);

#endif
