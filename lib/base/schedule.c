#include "lib/base/schedule.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECONDS_PER_DAY INT64_C(86400)
#define WEEKDAY_MASK 0x7fu

/* Integer division and remainder rounding toward minus infinity: days and
 * seconds before 1970 are negative and must still fall in the right bucket. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/* ---- calendar ------------------------------------------------------------ */

void schedule_calendar_init(struct schedule_calendar *c)
{
	memset(c, 0, sizeof(*c));
	c->weekdays = SCHEDULE_MON_FRI;
}

/* Index of the first holiday >= day. */
static size_t holiday_lower_bound(const struct schedule_calendar *c, int32_t day)
{
	size_t lo = 0, hi = c->n_holidays;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->holidays[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int schedule_calendar_add_holiday(struct schedule_calendar *c, int32_t day)
{
	if (day == SCHEDULE_NO_DAY)
		return -1;
	size_t pos = holiday_lower_bound(c, day);
	if (pos < c->n_holidays && c->holidays[pos] == day)
		return 0;
	if (c->n_holidays >= SCHEDULE_MAX_HOLIDAYS)
		return -1;
	memmove(&c->holidays[pos + 1], &c->holidays[pos],
		(c->n_holidays - pos) * sizeof(c->holidays[0]));
	c->holidays[pos] = day;
	c->n_holidays++;
	return 0;
}

/* ---- days ---------------------------------------------------------------- */

int32_t schedule_day_from_ymd(int y, int m, int d)
{
	return (int32_t)calendar_days_from_civil(y, m, d);
}

void schedule_day_ymd(int32_t day, int *y, int *m, int *d)
{
	calendar_civil_from_days(day, y, m, d);
}

static int fixed_digits(const char *text, int n, int *out)
{
	int value = 0;
	for (int i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	*out = value;
	return 0;
}

int schedule_parse_day(const char *text, int32_t *day)
{
	int64_t days;

	if (calendar_parse_date(text, &days) != 0)
		return -1;
	*day = (int32_t)days; /* four-digit years are well inside int32 */
	return 0;
}

void schedule_format_day(int32_t day, char *buf, size_t len)
{
	int y, m, d;
	calendar_civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

int schedule_weekday(int32_t day)
{
	/* 1970-01-01 was a Thursday, weekday 3 counting from Monday. */
	return (int)floor_mod((int64_t)day + 3, 7);
}

static int trading_weekday(const struct schedule_calendar *c, int weekday)
{
	return (c->weekdays >> weekday) & 1u;
}

int schedule_is_trading_day(const struct schedule_calendar *c, int32_t day)
{
	if (day == SCHEDULE_NO_DAY || !trading_weekday(c, schedule_weekday(day)))
		return 0;
	size_t pos = holiday_lower_bound(c, day);
	return !(pos < c->n_holidays && c->holidays[pos] == day);
}

/* Walks from day in steps of +1 or -1. Any 7 consecutive days hold at least
 * one trading weekday, and each holiday can hide at most one of them, so a
 * trading day turns up within 7 * (n_holidays + 1) steps: the bound turns a
 * mask of 0 into an answer instead of an endless loop. */
static int32_t step_to_trading_day(const struct schedule_calendar *c, int32_t day, int step)
{
	if ((c->weekdays & WEEKDAY_MASK) == 0 || day == SCHEDULE_NO_DAY)
		return SCHEDULE_NO_DAY;
	int64_t candidate = day;
	int64_t max_steps = 7 * ((int64_t)c->n_holidays + 1);
	for (int64_t i = 0; i < max_steps; i++) {
		candidate += step;
		if (candidate <= INT32_MIN || candidate > INT32_MAX)
			return SCHEDULE_NO_DAY;
		if (schedule_is_trading_day(c, (int32_t)candidate))
			return (int32_t)candidate;
	}
	return SCHEDULE_NO_DAY;
}

int32_t schedule_prev_trading_day(const struct schedule_calendar *c, int32_t day)
{
	return step_to_trading_day(c, day, -1);
}

int32_t schedule_next_trading_day(const struct schedule_calendar *c, int32_t day)
{
	return step_to_trading_day(c, day, +1);
}

size_t schedule_trading_days_between(const struct schedule_calendar *c, int32_t first, int32_t last)
{
	if (last < first)
		return 0;
	int64_t span = (int64_t)last - first + 1;
	int per_week = 0;
	for (int w = 0; w < 7; w++)
		per_week += trading_weekday(c, w);
	int64_t count = span / 7 * per_week;
	int first_weekday = schedule_weekday(first);
	for (int64_t i = 0; i < span % 7; i++)
		count += trading_weekday(c, (int)((first_weekday + i) % 7));
	/* Holidays on non-trading weekdays were never counted. */
	for (size_t i = holiday_lower_bound(c, first); i < c->n_holidays && c->holidays[i] <= last;
	     i++)
		count -= trading_weekday(c, schedule_weekday(c->holidays[i]));
	return (size_t)count;
}

/* ---- local time ---------------------------------------------------------- */

/* Seconds to add to UTC to get local wall time at instant t. Computed from
 * the broken-down time rather than tm_gmtoff so that it needs nothing beyond
 * POSIX localtime_r. */
static int64_t utc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm))
		return 0;
	int64_t wall =
	    calendar_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
		SECONDS_PER_DAY +
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return wall - t;
}

int32_t schedule_local_day(int64_t us)
{
	int64_t t = floor_div(us, CALENDAR_US_PER_S);
	return (int32_t)floor_div(t + utc_offset(t), SECONDS_PER_DAY);
}

int32_t schedule_trading_day_of(const struct schedule_calendar *c, int64_t us)
{
	int32_t d = schedule_local_day(us);
	if (!schedule_is_trading_day(c, d))
		d = schedule_next_trading_day(c, d);
	return d;
}

/*
 * mktime() is not used: what it does with a wall time in a gap or an overlap
 * (tm_isdst = -1) differs between C libraries and is documented by none.
 * Instead: the wall time, read as if it were UTC, is within a day of the
 * true instant, and real zones change offset at most once in two days, so
 * the offsets in force one day before, at and one day after it are the only
 * candidates. An offset o fits when the instant wall - o has offset o.
 */
int64_t schedule_local_instant(int32_t day, int minute_of_day)
{
	if (day == SCHEDULE_NO_DAY || minute_of_day < 0 ||
	    minute_of_day >= SCHEDULE_MINUTES_PER_DAY)
		return CALENDAR_NONE;
	int64_t wall = (int64_t)day * SECONDS_PER_DAY + (int64_t)minute_of_day * 60;
	int64_t offsets[3];
	size_t n = 0;
	for (int k = -1; k <= 1; k++) {
		int64_t o = utc_offset(wall + k * SECONDS_PER_DAY);
		size_t j = 0;
		while (j < n && offsets[j] != o)
			j++;
		if (j == n)
			offsets[n++] = o;
	}

	int64_t best = 0, min_offset = offsets[0], max_offset = offsets[0];
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t t = wall - offsets[i];
		/* Two fits: the overlap; the earlier instant is the first time
		 * the clock shows this wall time. */
		if (utc_offset(t) == offsets[i] && (!found || t < best)) {
			best = t;
			found = 1;
		}
		if (offsets[i] < min_offset)
			min_offset = offsets[i];
		if (offsets[i] > max_offset)
			max_offset = offsets[i];
	}
	if (found)
		return best * CALENDAR_US_PER_S;

	/* No fit: the wall time is skipped. The transition lies between the
	 * wall time read with the later (larger) offset, still before it, and
	 * read with the earlier one, already after it; bisect for the first
	 * second of the new offset, where the clock lands. */
	int64_t before = wall - max_offset, after = wall - min_offset;
	int64_t offset_before = utc_offset(before);
	if (before >= after || utc_offset(after) == offset_before)
		return after * CALENDAR_US_PER_S;
	while (after - before > 1) {
		int64_t mid = before + (after - before) / 2;
		if (utc_offset(mid) == offset_before)
			before = mid;
		else
			after = mid;
	}
	return after * CALENDAR_US_PER_S;
}

/* ---- daily slot ---------------------------------------------------------- */

int32_t schedule_last_due_day(const struct schedule_calendar *c, int minute_of_day, int64_t now_us)
{
	if (minute_of_day < 0 || minute_of_day >= SCHEDULE_MINUTES_PER_DAY)
		return SCHEDULE_NO_DAY;
	int32_t day = schedule_local_day(now_us);
	if (!schedule_is_trading_day(c, day))
		day = schedule_prev_trading_day(c, day);
	/* Today's slot may still be ahead; an earlier day's always lies at or
	 * before the start of today, hence at or before now. */
	while (day != SCHEDULE_NO_DAY && schedule_local_instant(day, minute_of_day) > now_us)
		day = schedule_prev_trading_day(c, day);
	return day;
}

int64_t schedule_next_fire(const struct schedule_calendar *c, int minute_of_day, int64_t now_us,
			   int32_t *day)
{
	int32_t candidate = SCHEDULE_NO_DAY;
	int64_t at = CALENDAR_NONE;

	if (minute_of_day < 0 || minute_of_day >= SCHEDULE_MINUTES_PER_DAY)
		goto done;
	candidate = schedule_local_day(now_us);
	if (!schedule_is_trading_day(c, candidate))
		candidate = schedule_next_trading_day(c, candidate);
	while (candidate != SCHEDULE_NO_DAY) {
		at = schedule_local_instant(candidate, minute_of_day);
		if (at > now_us)
			break;
		candidate = schedule_next_trading_day(c, candidate);
	}
	if (candidate == SCHEDULE_NO_DAY)
		at = CALENDAR_NONE;
done:
	if (day)
		*day = candidate;
	return at;
}

/* ---- weekly slot --------------------------------------------------------- */

static int weekly_args_valid(int weekday, int minute_of_day)
{
	return weekday >= 0 && weekday < 7 && minute_of_day >= 0 &&
	       minute_of_day < SCHEDULE_MINUTES_PER_DAY;
}

int64_t schedule_next_weekly(int weekday, int minute_of_day, int64_t now_us, int32_t *day)
{
	if (!weekly_args_valid(weekday, minute_of_day)) {
		if (day)
			*day = SCHEDULE_NO_DAY;
		return CALENDAR_NONE;
	}
	int32_t today = schedule_local_day(now_us);
	int32_t candidate = today + (weekday - schedule_weekday(today) + 7) % 7;
	int64_t at = schedule_local_instant(candidate, minute_of_day);
	if (at <= now_us) {
		candidate += 7;
		at = schedule_local_instant(candidate, minute_of_day);
	}
	if (day)
		*day = candidate;
	return at;
}

int32_t schedule_last_weekly(int weekday, int minute_of_day, int64_t now_us)
{
	if (!weekly_args_valid(weekday, minute_of_day))
		return SCHEDULE_NO_DAY;
	int32_t today = schedule_local_day(now_us);
	int32_t candidate = today - (schedule_weekday(today) - weekday + 7) % 7;
	if (schedule_local_instant(candidate, minute_of_day) > now_us)
		candidate -= 7;
	return candidate;
}

/* ---- catch-up ------------------------------------------------------------ */

size_t schedule_missed_days(const struct schedule_calendar *c, int32_t last_done, int32_t last_due,
			    size_t limit, int32_t *out, size_t *skipped)
{
	size_t total = 0;

	if (skipped)
		*skipped = 0;
	if (last_due == SCHEDULE_NO_DAY)
		return 0;
	if (last_done == SCHEDULE_NO_DAY)
		total = schedule_is_trading_day(c, last_due) ? 1 : 0;
	else if (last_due > last_done)
		total = schedule_trading_days_between(c, last_done + 1, last_due);
	size_t written = total < limit ? total : limit;
	if (skipped)
		*skipped = total - written;

	/* Fill from the newest backwards: the count above guarantees each of
	 * these days lies after last_done. */
	int32_t day = schedule_is_trading_day(c, last_due) ? last_due
							   : schedule_prev_trading_day(c, last_due);
	for (size_t i = written; i > 0; i--) {
		out[i - 1] = day;
		day = schedule_prev_trading_day(c, day);
	}
	return written;
}

/* ---- configuration text -------------------------------------------------- */

int schedule_parse_hhmm(const char *text)
{
	int hours, minutes;

	if (!text || strlen(text) != 5 || text[2] != ':' || fixed_digits(text, 2, &hours) ||
	    fixed_digits(text + 3, 2, &minutes) || hours > 23 || minutes > 59)
		return -1;
	return hours * 60 + minutes;
}

int schedule_parse_weekday(const char *text)
{
	static const char *const names[] = {"monday", "tuesday",  "wednesday", "thursday",
					    "friday", "saturday", "sunday"};
	if (!text)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strcasecmp(text, names[i]) == 0 ||
		    (strlen(text) == 3 && strncasecmp(text, names[i], 3) == 0))
			return i;
	return -1;
}

/* ---- settings ------------------------------------------------------------ */

static int read_daily(void *opts, const struct option_key *o, json_t *v, char *sub, size_t sublen,
		      struct err *e)
{
	struct schedule_options *s = opts;
	int m = schedule_parse_hhmm(json_string_value(v));
	(void)o, (void)sub, (void)sublen;
	if (m < 0)
		return err_set(e, EINVAL, "must be a local time \"HH:MM\"");
	s->daily_minute = m;
	return 0;
}

static int read_retrain(void *opts, const struct option_key *o, json_t *v, char *sub, size_t sublen,
			struct err *e)
{
	struct schedule_options *s = opts;
	const char *text = json_string_value(v);
	const char *sp = text ? strchr(text, ' ') : NULL;
	char day[16];
	int m = -1, wd = -1;
	(void)o, (void)sub, (void)sublen;
	if (json_is_null(v)) {
		s->retrain_weekday = -1;
		return 0;
	}
	if (sp && (size_t)(sp - text) < sizeof day) {
		snprintf(day, sizeof day, "%.*s", (int)(sp - text), text);
		wd = schedule_parse_weekday(day);
		m = schedule_parse_hhmm(sp + 1);
	}
	if (wd < 0 || m < 0)
		return err_set(e, EINVAL, "must be \"WEEKDAY HH:MM\" (\"sunday 01:00\") or null");
	s->retrain_weekday = wd;
	s->retrain_minute = m;
	return 0;
}

static int read_trading_days(void *opts, const struct option_key *o, json_t *v, char *sub,
			     size_t sublen, struct err *e)
{
	struct schedule_options *s = opts;
	const char *text = json_string_value(v);
	unsigned mask = 0;
	(void)o, (void)sub, (void)sublen;
	if (text && strcmp(text, "mon-fri") == 0) {
		mask = SCHEDULE_MON_FRI;
	} else if (text && strcmp(text, "every day") == 0) {
		mask = SCHEDULE_EVERY_DAY;
	} else if (json_is_array(v)) {
		size_t i;
		json_t *d;
		json_array_foreach(v, i, d)
		{
			int wd = schedule_parse_weekday(json_string_value(d));
			if (wd < 0) {
				mask = 0;
				break;
			}
			mask |= 1u << wd;
		}
	}
	if (!mask)
		return err_set(e, EINVAL,
			       "must be \"mon-fri\", \"every day\" or a list of weekday names");
	s->calendar.weekdays = mask;
	return 0;
}

static int read_holidays(void *opts, const struct option_key *o, json_t *v, char *sub,
			 size_t sublen, struct err *e)
{
	struct schedule_options *s = opts;
	size_t i;
	json_t *d;
	(void)o;
	if (!json_is_array(v))
		return err_set(e, EINVAL, "must be a list of dates \"YYYY-MM-DD\"");
	s->calendar.n_holidays = 0;
	json_array_foreach(v, i, d)
	{
		int32_t day;
		const char *text = json_string_value(d);
		if (!text || schedule_parse_day(text, &day) ||
		    schedule_calendar_add_holiday(&s->calendar, day)) {
			snprintf(sub, sublen, "[%zu]", i);
			return err_set(e, EINVAL, "must be a date \"YYYY-MM-DD\" (at most %d)",
				       SCHEDULE_MAX_HOLIDAYS);
		}
	}
	return 0;
}

/* A struct filled by hand: the keys read from text, as the readers leave them. */
static int schedule_options_rules(const void *opts, char *key, size_t keylen, struct err *e)
{
	const struct schedule_options *s = opts;
	const char *bad = NULL;
	if (s->daily_minute < 0 || s->daily_minute >= SCHEDULE_MINUTES_PER_DAY)
		bad = "daily";
	else if (s->retrain_weekday < -1 || s->retrain_weekday > 6 ||
		 (s->retrain_weekday >= 0 &&
		  (s->retrain_minute < 0 || s->retrain_minute >= SCHEDULE_MINUTES_PER_DAY)))
		bad = "retrain";
	else if (!(s->calendar.weekdays & WEEKDAY_MASK) || (s->calendar.weekdays & ~WEEKDAY_MASK))
		bad = "trading_days";
	else if (s->calendar.n_holidays > SCHEDULE_MAX_HOLIDAYS)
		bad = "holidays";
	if (!bad)
		return 0;
	snprintf(key, keylen, "%s", bad);
	return err_set(e, EINVAL, "out of range");
}

#define T struct schedule_options
static const struct option_key schedule_keys[] = {
    OPTION_CUSTOM("daily", T, daily_minute, read_daily, "\"16:05\""),
    OPTION_CUSTOM("retrain", T, retrain_weekday, read_retrain, "\"sunday 01:00\""),
    OPTION_CUSTOM("trading_days", T, calendar, read_trading_days, "\"mon-fri\""),
    OPTION_CUSTOM("holidays", T, calendar, read_holidays, "[]"),
    OPTION_NUMBER(T, job_timeout_s, 1800, 1, 7 * 86400),
    OPTION_NUMBER(T, max_retries, 3, 0, 20),
    OPTION_NUMBER(T, retry_backoff_s, 60, 0, 86400),
    OPTION_NUMBER(T, catch_up_days, 5, 0, 366),
};
#undef T

const struct option_table schedule_option_table =
    OPTION_TABLE(schedule_keys, schedule_options_rules);

void schedule_options_init(struct schedule_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&schedule_option_table, o);
}
