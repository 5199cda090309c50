/*
 * schedule — the trading-day calendar and the fire times of scheduled jobs.
 *
 * Pure functions of their arguments and of the process's exchange time zone
 * (calendar_set_zone()): no allocation, no I/O, no clock reads (the settings
 * at the end read JSON values). The caller
 * passes "now", so every answer can be tested at any instant.
 *
 * Two kinds of time appear here:
 *   - an instant: int64 microseconds since the Unix epoch (UTC), as in
 *     calendar.h;
 *   - a day: int32 count of days since 1970-01-01 of a *local calendar date*.
 *     2026-02-10 is the same number in every zone; which instants belong to
 *     it depends on the zone (schedule_local_day()).
 * A wall time of a day is a minute_of_day, 0 (00:00) to 1439 (23:59).
 *
 * Functions that find no answer (a calendar without trading weekdays, an
 * invalid argument) return SCHEDULE_NO_DAY for a day and CALENDAR_NONE for
 * an instant.
 */
#ifndef TRADELEARN_SCHEDULE_H
#define TRADELEARN_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/calendar.h"
#include "lib/base/option.h"

#define SCHEDULE_MAX_HOLIDAYS 256
#define SCHEDULE_NO_DAY INT32_MIN
#define SCHEDULE_MINUTES_PER_DAY 1440

/* Weekday masks: bit i is weekday i, 0 = Monday … 6 = Sunday. */
#define SCHEDULE_MON_FRI 0x1fu
#define SCHEDULE_EVERY_DAY 0x7fu

/* Which local dates are trading days: a weekday in the mask that is not a
 * holiday. A plain value: copy it, embed it, no release needed. */
struct schedule_calendar {
	unsigned weekdays; /* bit i set: weekday i is a trading day */
	size_t n_holidays;
	int32_t holidays[SCHEDULE_MAX_HOLIDAYS]; /* ascending, no duplicates */
};

/* Mon–Fri, no holidays. Crypto bots set weekdays = SCHEDULE_EVERY_DAY. */
void schedule_calendar_init(struct schedule_calendar *c);

/* Adds a holiday (a day that is not a trading day even on a trading weekday),
 * keeping the list sorted. Adding a day twice is a no-op returning 0. Returns
 * -1 when SCHEDULE_MAX_HOLIDAYS are already held or day is SCHEDULE_NO_DAY. */
int schedule_calendar_add_holiday(struct schedule_calendar *c, int32_t day);

/* ---- days ---------------------------------------------------------------- */

/* The day of a proleptic Gregorian date. Out-of-range months and days roll
 * over (month 13 is January of y+1, February 30 is March 1 or 2); use
 * schedule_parse_day() to validate text. */
int32_t schedule_day_from_ymd(int y, int m, int d);

/* The date of a day; month and day are 1-based. */
void schedule_day_ymd(int32_t day, int *y, int *m, int *d);

/* Strict "YYYY-MM-DD": four, two and two digits, a month 1–12, a day that
 * exists in that month (February 29 only in leap years), nothing after.
 * Returns 0 and sets *day, or -1 leaving *day untouched. */
int schedule_parse_day(const char *text, int32_t *day);

/* Writes "YYYY-MM-DD" into buf; len must be at least 11. */
void schedule_format_day(int32_t day, char *buf, size_t len);

/* 0 = Monday … 6 = Sunday. */
int schedule_weekday(int32_t day);

/* 1 when day is a trading day of c, else 0. */
int schedule_is_trading_day(const struct schedule_calendar *c, int32_t day);

/* The nearest trading day strictly before / strictly after day, or
 * SCHEDULE_NO_DAY when c has no trading weekday (weekdays & 0x7f == 0) or
 * the search would leave the int32 range. */
int32_t schedule_prev_trading_day(const struct schedule_calendar *c, int32_t day);
int32_t schedule_next_trading_day(const struct schedule_calendar *c, int32_t day);

/* How many trading days lie in [first, last], both included; 0 when
 * last < first. Constant time in the length of the range. */
size_t schedule_trading_days_between(const struct schedule_calendar *c, int32_t first,
				     int32_t last);

/* ---- local time ---------------------------------------------------------- */

/* The local date (in the exchange zone) of an instant. */
int32_t schedule_local_day(int64_t us);

/* The trading day an instant's P&L belongs to: its local date, or the next
 * trading day of c when that date is not one (a weekend close of a crypto
 * bot on a Mon–Fri calendar is realized on Monday). */
int32_t schedule_trading_day_of(const struct schedule_calendar *c, int64_t us);

/* The instant at which local wall time minute_of_day occurs on day.
 *
 * Daylight-saving transitions make a wall time occur zero or two times:
 *   - in a gap (02:30 on the spring-forward day in New York never shows on
 *     the clock) the answer is the instant the clock jumps *to*: the
 *     transition itself, 03:00 local (07:00 UTC). A job scheduled inside the
 *     gap therefore still fires that day, as soon as the day has reached it;
 *   - in an overlap (01:30 on the fall-back day shows twice) the answer is
 *     the first occurrence (01:30 EDT, 05:30 UTC), so a job fires once, not
 *     twice.
 * Returns CALENDAR_NONE when minute_of_day is outside 0..1439 or day is
 * SCHEDULE_NO_DAY. */
int64_t schedule_local_instant(int32_t day, int minute_of_day);

/* ---- daily slot: minute_of_day local on every trading day of c ----------- */

/* The latest trading day whose fire instant is <= now_us: the day whose run
 * is due. SCHEDULE_NO_DAY when c has no trading weekday or minute_of_day is
 * out of range. */
int32_t schedule_last_due_day(const struct schedule_calendar *c, int minute_of_day, int64_t now_us);

/* The first fire instant strictly after now_us; its trading day goes to *day
 * (day may be NULL). CALENDAR_NONE (and SCHEDULE_NO_DAY) when there is none. */
int64_t schedule_next_fire(const struct schedule_calendar *c, int minute_of_day, int64_t now_us,
			   int32_t *day);

/* ---- weekly slot: weekday at minute_of_day local, every week ------------- */

/* The weekly slot ignores the trading calendar: "Sunday 01:00" fires on
 * Sundays although they are not trading days, and on holidays too. */

/* The first instant of the slot strictly after now_us, its day to *day (day
 * may be NULL). CALENDAR_NONE when weekday is outside 0..6 or minute_of_day
 * outside 0..1439. */
int64_t schedule_next_weekly(int weekday, int minute_of_day, int64_t now_us, int32_t *day);

/* The latest day of the slot whose instant is <= now_us (SCHEDULE_NO_DAY on
 * bad arguments). */
int32_t schedule_last_weekly(int weekday, int minute_of_day, int64_t now_us);

/* ---- catch-up ------------------------------------------------------------ */

/* The trading days in (last_done, last_due] that still have to run, oldest
 * first, written to out (room for limit entries). When there are more than
 * limit, only the newest limit are written: older days are too old to be
 * worth a run, and *skipped says how many were dropped (skipped may be NULL).
 *
 * last_done == SCHEDULE_NO_DAY means the job never ran: then only last_due
 * itself is due, so a first start does not replay history.
 * last_due == SCHEDULE_NO_DAY, last_due <= last_done or limit == 0 write
 * nothing. Days that are not trading days of c are never written. Returns the
 * number of days written. */
size_t schedule_missed_days(const struct schedule_calendar *c, int32_t last_done, int32_t last_due,
			    size_t limit, int32_t *out, size_t *skipped);

/* ---- configuration text -------------------------------------------------- */

/* Strict "HH:MM" (two digits each, 00:00–23:59) to a minute_of_day, or -1. */
int schedule_parse_hhmm(const char *text);

/* "monday" … "sunday" or "mon" … "sun", any case, to 0 … 6, or -1. */
int schedule_parse_weekday(const char *text);

/* ---- settings ------------------------------------------------------------ */

/* When watch runs the scheduled jobs, in the exchange zone: the "schedule"
 * section of the config. Defaults and ranges: schedule_option_table
 * (schedule.c), which reads "daily": "HH:MM", "retrain": "WEEKDAY HH:MM" or
 * null, "trading_days": "mon-fri" | "every day" | [weekday names] and
 * "holidays": ["YYYY-MM-DD", ...]. A plain value, like the calendar. */
struct schedule_options {
	int daily_minute;		     /* the daily job's local minute of day */
	int retrain_weekday, retrain_minute; /* the weekly retrain; retrain_weekday -1: never */
	struct schedule_calendar calendar;
	double job_timeout_s;	/* a job running longer is killed */
	double retry_backoff_s; /* before the first retry, doubling at each */
	long max_retries;	/* retries of a failed run */
	long catch_up_days;	/* missed daily runs run at start, at most */
};
extern const struct option_table schedule_option_table;

/* Fills o with the defaults of schedule_option_table. */
void schedule_options_init(struct schedule_options *o);

#endif
