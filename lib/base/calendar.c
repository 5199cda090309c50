#include "lib/base/calendar.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Civil dates <-> days since 1970-01-01 on the proleptic Gregorian calendar,
 * after Howard Hinnant's days_from_civil and civil_from_days ("chrono-
 * Compatible Low-Level Date Algorithms", howardhinnant.github.io/
 * date_algorithms.html, a public-domain description). Counting the year
 * from March 1 puts the leap day last, so the day of the year is a linear
 * function of the month (the 153/5 rule: months of 31,30,31,30,31 days
 * repeat), and 400-year eras of 146097 days make the rest exact. Eras
 * and month shifts are divided rounding toward minus infinity (the "- 399"
 * and "- 146096"), so dates before year 0 land in the right era too.
 */

int64_t calendar_days_from_civil(int64_t year, int64_t month, int64_t day)
{
	if (month < 1 || month > 12) {
		const int64_t years = (month > 0 ? month - 1 : month - 12) / 12;
		year += years;
		month -= years * 12;
	}
	year -= month <= 2;
	const int64_t era = (year >= 0 ? year : year - 399) / 400;
	const int64_t year_of_era = year - era * 400; /* 0 … 399 */
	const int64_t day_of_year =
	    (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1; /* from March 1 */
	const int64_t day_of_era =
	    year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	/* 719468 days separate 0000-03-01 from 1970-01-01. */
	return era * 146097 + day_of_era - 719468;
}

void calendar_civil_from_days(int64_t days, int *year, int *month, int *day)
{
	days += 719468;
	const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	const int64_t day_of_era = days - era * 146097; /* 0 … 146096 */
	const int64_t year_of_era =
	    (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	const int64_t day_of_year =
	    day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	const int64_t month_from_march =
	    (5 * day_of_year + 2) / 153; /* 0 = March … 11 = February */
	*day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
	*month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
	*year = (int)(era * 400 + year_of_era + (*month <= 2));
}

int calendar_date_exists(int64_t year, int month, int day)
{
	static const int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12 || day < 1)
		return 0;
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return day <= lengths[month - 1] + (month == 2 && leap);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int calendar_parse_date(const char *text, int64_t *days)
{
	const char *p = text;
	int year, month, day;

	if (!p || digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &month) || *p++ != '-' ||
	    digits(&p, 2, &day) || *p != '\0' || !calendar_date_exists(year, month, day))
		return -1;
	*days = calendar_days_from_civil(year, month, day);
	return 0;
}

int calendar_parse_iso(const char *text, int64_t *us)
{
	const char *p = text;
	int Y, M, D, h = 0, mi = 0, s = 0;
	int64_t frac = 0;

	if (!p || digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D))
		return -1;
	if (!calendar_date_exists(Y, M, D))
		return -1;
	if (*p == 'T' || *p == ' ' || *p == 't') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &s))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				int n = 0;
				while (isdigit((unsigned char)*p)) {
					if (n < 6) {
						frac = frac * 10 + (*p - '0');
						n++;
					}
					p++;
				}
				if (n == 0)
					return -1;
				while (n++ < 6)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || s > 60)
			return -1;
	}
	int64_t offset_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
			return -1;
		offset_s = sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0')
		return -1;
	int64_t secs =
	    calendar_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + s - offset_s;
	*us = secs * CALENDAR_US_PER_S + frac;
	return 0;
}

int64_t calendar_from_epoch_number(double v)
{
	double a = fabs(v);
	if (a > 1e14)
		return (int64_t)llround(v);
	if (a > 1e11)
		return (int64_t)llround(v * 1e3);
	return (int64_t)llround(v * 1e6);
}

static void split(int64_t us, int64_t *secs, int64_t *micros)
{
	*secs = us / CALENDAR_US_PER_S;
	*micros = us % CALENDAR_US_PER_S;
	if (*micros < 0) {
		*micros += CALENDAR_US_PER_S;
		*secs -= 1;
	}
}

void calendar_format_iso(int64_t us, char *buf, size_t len)
{
	int64_t secs, micros;
	split(us, &secs, &micros);
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int y, m, d;
	calendar_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
		 (int)(rem % 3600 / 60), (int)(rem % 60), (int)micros);
}

void calendar_format_date(int64_t us, char *buf, size_t len)
{
	int64_t secs, micros;
	split(us, &secs, &micros);
	int64_t days = secs / 86400;
	if (secs % 86400 < 0)
		days--;
	int y, m, d;
	calendar_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}

int calendar_zone_exists(const char *zone)
{
	char path[512], magic[4];
	FILE *f;
	size_t n;

	if (!zone || !*zone || strstr(zone, ".."))
		return 0;
	if (strcmp(zone, "UTC") == 0)
		return 1;
	/* tzset() silently falls back to UTC for unknown names, and a folder
	 * such as "America" opens too: require a TZif file. */
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
	f = fopen(path, "rb");
	if (!f)
		return 0;
	n = fread(magic, 1, sizeof magic, f);
	fclose(f);
	return n == sizeof magic && memcmp(magic, "TZif", 4) == 0;
}

int calendar_set_zone(const char *zone)
{
	if (!calendar_zone_exists(zone))
		return -1;
	setenv("TZ", zone, 1);
	tzset();
	return 0;
}

void calendar_local(int64_t us, struct calendar_local *out)
{
	int64_t secs, micros;
	split(us, &secs, &micros);
	time_t t = (time_t)secs;
	struct tm tm;
	localtime_r(&t, &tm);
	out->year = tm.tm_year + 1900;
	out->month = tm.tm_mon + 1;
	out->day = tm.tm_mday;
	out->hour = tm.tm_hour;
	out->minute = tm.tm_min;
	out->second = tm.tm_sec;
	out->weekday = (tm.tm_wday + 6) % 7;
	out->minute_of_day = tm.tm_hour * 60 + tm.tm_min;
}

static struct calendar_session sessions[CALENDAR_MAX_SESSIONS];
static size_t n_sessions;
static char sessions_text[CALENDAR_MAX_SESSIONS * (CALENDAR_SESSION_NAME + 16) + 32];

void calendar_set_sessions(const struct calendar_session *s, size_t n)
{
	size_t used;
	n_sessions = n < CALENDAR_MAX_SESSIONS ? n : CALENDAR_MAX_SESSIONS;
	if (n_sessions)
		memcpy(sessions, s, n_sessions * sizeof *s);
	used = (size_t)snprintf(sessions_text, sizeof sessions_text, "exchange time:");
	for (size_t i = 0; i < n_sessions && used < sizeof sessions_text; i++)
		used += (size_t)snprintf(
		    sessions_text + used, sizeof sessions_text - used, "%s %s %02d:%02d-%02d:%02d",
		    i ? "," : "", sessions[i].name, sessions[i].from / 60, sessions[i].from % 60,
		    sessions[i].to / 60, sessions[i].to % 60);
}

size_t calendar_sessions_count(void)
{
	return n_sessions;
}

const char *calendar_sessions_text(void)
{
	return sessions_text;
}

const char *calendar_time_of_day(int64_t us)
{
	struct calendar_local l;
	calendar_local(us, &l);
	int m = l.minute_of_day;
	for (size_t i = 0; i < n_sessions; i++) {
		const struct calendar_session *s = &sessions[i];
		if (s->from <= s->to ? m >= s->from && m < s->to : m >= s->from || m < s->to)
			return s->name;
	}
	if (n_sessions)
		return "other";
	if (m < 9 * 60 + 30)
		return "pre_market";
	if (m < 10 * 60 + 30)
		return "open";
	if (m < 12 * 60)
		return "mid_morning";
	if (m < 13 * 60 + 30)
		return "lunch";
	if (m < 15 * 60)
		return "afternoon";
	if (m < 16 * 60)
		return "close";
	return "after_hours";
}

const char *calendar_day_of_week(int64_t us)
{
	static const char *const names[] = {"monday", "tuesday",  "wednesday", "thursday",
					    "friday", "saturday", "sunday"};
	struct calendar_local l;
	calendar_local(us, &l);
	return names[l.weekday];
}

int64_t calendar_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CALENDAR_US_PER_S + ts.tv_nsec / 1000;
}

int64_t calendar_schedule_now(void)
{
	static int loaded;
	static int64_t shift;
	if (!loaded) {
		const char *at = getenv("TRADELEARN_TEST_CLOCK");
		int64_t us;
		loaded = 1;
		if (at && *at && calendar_parse_iso(at, &us) == 0)
			shift = us - calendar_now();
	}
	return calendar_now() + shift;
}
