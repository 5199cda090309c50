/*
 * dashboard — see dashboard.h for the contract.
 *
 * Two halves: the gathering reads the files into one document (I/O, every
 * file optional), the page renders a document (no I/O), so the page can be
 * tested on any document and the gathering on any folder.
 */
#include "lib/report/dashboard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/report/html.h"

#define REPORT_MAX_BYTES (64L << 20) /* a day's report or the registry */
#define KNOB_TAIL_BYTES (256L << 10)
#define JOBS_TAIL_BYTES (64L << 10)
#define JOBS_SHOWN 10

/* ---- reading files ----------------------------------------------------- */

/* The last max bytes of path (all of it when smaller) as a NUL-terminated
 * malloc'd text starting at a line: a cut first line is dropped. NULL when
 * the file is absent, not a regular file, or unreadable (its section then
 * says there is nothing). Files under the root are opened without
 * following a symlink. */
static char *read_tail(const char *path, long max, size_t *len)
{
	struct stat st;
	char *text = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	off_t from = st.st_size > max ? st.st_size - max : 0;
	size_t want = (size_t)(st.st_size - from), got = 0;
	text = malloc(want + 1);
	if (!text)
		goto out;
	while (got < want) {
		ssize_t n = pread(fd, text + got, want - got, from + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	*len = got;
	if (from > 0) {
		char *nl = memchr(text, '\n', got);
		size_t skip = nl ? (size_t)(nl - text) + 1 : got;
		memmove(text, text + skip, got - skip + 1);
		*len = got - skip;
	}
out:
	close(fd);
	return text;
}

/* The JSON object in path, or NULL (absent, too large, not an object). */
static json_t *read_object(const char *path)
{
	size_t len = 0;
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > REPORT_MAX_BYTES)
		return NULL;
	char *text = read_tail(path, REPORT_MAX_BYTES, &len);
	json_t *v = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Calls each(line, ctx) for every JSON object line of text. */
static void each_line(char *text, void (*each)(json_t *line, void *ctx), void *ctx)
{
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *v = json_loads(line, 0, NULL);
		if (json_is_object(v))
			each(v, ctx);
		json_decref(v);
	}
}

/* ---- the days ---------------------------------------------------------- */

int dashboard_report_day(const char *name, char *day, size_t len)
{
	int64_t d;
	size_t n = strlen(name);
	if (n != strlen("post_market_YYYY-MM-DD.json") || strncmp(name, "post_market_", 12) != 0 ||
	    strcmp(name + n - 5, ".json") != 0)
		return -1;
	snprintf(day, len, "%.10s", name + 12);
	return calendar_parse_date(day, &d);
}

static int by_day(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

/* A day's summary from its report (NULL: unreadable, the date only). */
static json_t *day_summary(const char *date, const json_t *r)
{
	const json_t *day = json_object_get(r, "day");
	const json_t *all = json_object_get(json_object_get(r, "windows"), "all");
	const json_t *model = json_object_get(r, "model");
	const json_t *missed = json_object_get(r, "missed");
	json_t *s = json_pack("{s:s}", "date", date);
	if (!s || !r)
		return s;
	json_object_set_new(s, "trades", copy_or_null(json_object_get(day, "count")));
	json_object_set_new(s, "win_rate", copy_or_null(json_object_get(day, "win_rate")));
	json_object_set_new(s, "pnl_usd", copy_or_null(json_object_get(day, "pnl_usd")));
	json_object_set_new(
	    s, "sharpe", copy_or_null(json_object_get(json_object_get(all, "returns"), "sharpe")));
	json_object_set_new(s, "auc", copy_or_null(json_object_get(model, "auc")));
	json_object_set_new(s, "log_loss", copy_or_null(json_object_get(model, "log_loss")));
	json_object_set_new(s, "missed", copy_or_null(json_object_get(missed, "count")));
	json_object_set_new(s, "missed_pnl_usd",
			    copy_or_null(json_object_get(missed, "missed_pnl_usd")));
	json_object_set_new(s, "retrain",
			    json_boolean(json_is_true(
				json_object_get(json_object_get(r, "retrain"), "triggered"))));
	return s;
}

/* Every report's summary into doc.days (oldest first) and the newest
 * report that reads whole into doc.latest. */
static int gather_days(json_t *doc, const char *reports_dir, struct err *err)
{
	DIR *d = opendir(reports_dir);
	char(*names)[16] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	json_t *days = json_array();
	int rc = -1;

	json_object_set_new(doc, "days", days);
	json_object_set_new(doc, "latest", json_null());
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return err_fail(err, "%s: %s", reports_dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		char day[16];
		if (dashboard_report_day(de->d_name, day, sizeof day))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(names, ncap * sizeof(*names));
			if (!p) {
				err_set(err, ENOMEM, "out of memory");
				goto out;
			}
			names = p;
			cap = ncap;
		}
		memcpy(names[n++], day, sizeof day);
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), by_day);
	for (size_t i = 0; i < n; i++) {
		char path[4400];
		json_t *r = NULL;
		if (snprintf(path, sizeof path, "%s/post_market_%s.json", reports_dir, names[i]) <
		    (int)sizeof path)
			r = read_object(path);
		json_t *s = day_summary(names[i], r);
		if (!s || json_array_append_new(days, s)) {
			json_decref(r);
			err_set(err, ENOMEM, "out of memory");
			goto out;
		}
		if (r) /* the newest that reads */
			json_object_set(doc, "latest", r);
		json_decref(r);
	}
	rc = 0;
out:
	closedir(d);
	free(names);
	return rc;
}

/* ---- knobs, jobs ------------------------------------------------------- */

/* The last change of every knob, from state/knob_adjustments.jsonl. */
static void last_change(json_t *line, void *ctx)
{
	const char *knob = json_string_value(json_object_get(line, "knob"));
	if (knob)
		json_object_set_new(ctx, knob,
				    json_pack("{s:O?,s:O?,s:O?,s:O?}", "day",
					      json_object_get(line, "day"), "previous",
					      json_object_get(line, "previous"), "value",
					      json_object_get(line, "value"), "reason",
					      json_object_get(line, "reason")));
}

static void gather_knobs(json_t *doc, const struct dashboard_options *o)
{
	char path[4400];
	size_t len = 0;
	json_t *changes = json_object(), *list = json_array();
	const char *name;
	json_t *value;

	snprintf(path, sizeof path, "%s/knobs.json", o->state_dir);
	json_t *saved = read_object(path);
	json_t *values = json_object_get(saved, "values");
	snprintf(path, sizeof path, "%s/knob_adjustments.jsonl", o->state_dir);
	char *text = read_tail(path, KNOB_TAIL_BYTES, &len);
	if (text && changes)
		each_line(text, last_change, changes);
	free(text);
	/* The configured knobs in their order, then any other the state has. */
	json_object_foreach((json_t *)o->knob_defaults, name, value)
	{
		json_array_append_new(list,
				      json_pack("{s:s,s:O?,s:O,s:O?}", "name", name, "value",
						json_object_get(values, name), "default", value,
						"change", json_object_get(changes, name)));
	}
	json_object_foreach(values, name, value)
	{
		if (json_object_get(o->knob_defaults, name))
			continue;
		json_array_append_new(list, json_pack("{s:s,s:O,s:n,s:O?}", "name", name, "value",
						      value, "default", "change",
						      json_object_get(changes, name)));
	}
	json_object_set_new(doc, "knobs", list);
	json_object_set_new(doc, "knobs_as_of", copy_or_null(json_object_get(saved, "as_of")));
	json_decref(saved);
	json_decref(changes);
}

struct job_runs {
	json_t *recent; /* the last JOBS_SHOWN lines, oldest first */
	json_t *last;	/* job -> its last line */
};

static void job_run(json_t *line, void *ctx)
{
	struct job_runs *r = ctx;
	const char *job = json_string_value(json_object_get(line, "job"));
	if (!job)
		return;
	json_array_append(r->recent, line);
	if (json_array_size(r->recent) > JOBS_SHOWN)
		json_array_remove(r->recent, 0);
	json_object_set(r->last, job, line);
}

static void gather_jobs(json_t *doc, const struct dashboard_options *o)
{
	char path[4400];
	size_t len = 0;
	struct job_runs r = {json_array(), json_object()};
	json_t *newest_first = json_array();

	snprintf(path, sizeof path, "%s/jobs.jsonl", o->state_dir);
	char *text = read_tail(path, JOBS_TAIL_BYTES, &len);
	if (text && r.recent && r.last)
		each_line(text, job_run, &r);
	free(text);
	for (size_t i = json_array_size(r.recent); i > 0; i--)
		json_array_append(newest_first, json_array_get(r.recent, i - 1));
	json_decref(r.recent);
	json_object_set_new(doc, "jobs", newest_first);
	json_object_set_new(doc, "last_jobs", r.last);
}

json_t *dashboard_gather(const struct dashboard_options *o, struct err *err)
{
	char path[4400], now[40];
	json_t *doc = json_object(), *v;

	if (!doc) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	calendar_format_iso(o->now_us, now, sizeof now);
	json_object_set_new(doc, "generated_at", json_string(now));
	snprintf(path, sizeof path, "%s/reports", o->state_dir);
	if (gather_days(doc, path, err)) {
		json_decref(doc);
		return NULL;
	}
	gather_knobs(doc, o);
	snprintf(path, sizeof path, "%s/health.json", o->state_dir);
	v = read_object(path);
	json_object_set_new(doc, "health", v ? v : json_null());
	gather_jobs(doc, o);
	v = NULL;
	if (o->models_dir) {
		snprintf(path, sizeof path, "%s/registry.json", o->models_dir);
		v = read_object(path);
	}
	json_object_set_new(doc, "registry", v ? v : json_null());
	return doc;
}

/* ---- the page ---------------------------------------------------------- */

static int is_date(const json_t *v)
{
	int64_t d;
	const char *s = json_string_value(v);
	return s && calendar_parse_date(s, &d) == 0;
}

/* <a href="post_market_DATE.html">DATE</a>, or the date as text when it is
 * not a valid one (it would become part of a file name). */
static void put_day_link(FILE *out, const json_t *date)
{
	if (!is_date(date)) {
		put_json_text(out, date);
		return;
	}
	fputs("<a href=\"post_market_", out);
	put_text(out, json_string_value(date));
	fputs(".html\">", out);
	put_text(out, json_string_value(date));
	fputs("</a>", out);
}

static void put_figure(FILE *out, const char *label, double v, enum fmt f)
{
	fputs("<div><dt>", out);
	put_text(out, label);
	fprintf(out, "</dt><dd class=\"num%s\">", tone(v, f));
	put_num(out, v, f);
	fputs("</dd></div>\n", out);
}

static void put_header(FILE *out, const json_t *doc)
{
	const json_t *latest = json_object_get(doc, "latest");
	const json_t *day = json_object_get(latest, "day");
	const json_t *all = json_object_get(json_object_get(latest, "windows"), "all");
	const json_t *returns = json_object_get(all, "returns");
	size_t n = json_array_size(json_object_get(doc, "days"));

	fputs("<header>\n<h1>tradelearn</h1>\n<p class=\"sub\">", out);
	if (json_is_object(latest)) {
		fputs("Latest report ", out);
		put_day_link(out, json_object_get(latest, "date"));
		fprintf(out, " &middot; %zu trading day%s reported &middot; ", n,
			n == 1 ? "" : "s");
	} else {
		fputs("No daily report yet: the first is written after the next close. ", out);
	}
	fputs("page written ", out);
	put_timestamp(out, json_object_get(doc, "generated_at"));
	if (json_is_true(json_object_get(json_object_get(latest, "retrain"), "triggered")))
		fputs(" &middot; <span class=\"badge warn\">Retrain triggered</span>", out);
	fputs("</p>\n", out);
	if (json_is_object(latest)) {
		fputs("<dl class=\"headline\">\n", out);
		put_figure(out, "Trades", field(day, "count"), FMT_COUNT);
		put_figure(out, "Win rate", field(day, "win_rate"), FMT_PCT);
		put_figure(out, "P&L", field(day, "pnl_usd"), FMT_MONEY);
		put_figure(out, "Profit factor", field(day, "profit_factor"), FMT_RATIO);
		put_figure(out, "P&L, all time", field(json_object_get(all, "trades"), "pnl_usd"),
			   FMT_MONEY);
		put_figure(out, "Sharpe, all time", field(returns, "sharpe"), FMT_RATIO);
		put_figure(out, "Max drawdown", field(returns, "max_drawdown"), FMT_PCT_SIGNED);
		put_figure(out, "AUC", field(json_object_get(latest, "model"), "auc"), FMT_SCORE);
		fputs("</dl>\n", out);
	}
	fputs("</header>\n", out);
}

static void put_days_head(FILE *out)
{
	fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th>Day</th><th class=\"num\">Trades</th>"
	      "<th class=\"num\">Win rate</th><th class=\"num\">P&amp;L</th>"
	      "<th class=\"num\">Sharpe to date</th><th class=\"num\">Missed</th>"
	      "<th class=\"num\">AUC</th><th class=\"num\">Log loss</th><th>Retrain</th>"
	      "<th>Data</th></tr></thead>\n<tbody>\n",
	      out);
}

static void put_day_row(FILE *out, const json_t *d)
{
	const json_t *date = json_object_get(d, "date");
	fputs("<tr><th scope=\"row\">", out);
	put_day_link(out, date);
	fputs("</th>", out);
	put_cell(out, field(d, "trades"), FMT_COUNT);
	put_cell(out, field(d, "win_rate"), FMT_PCT);
	put_cell(out, field(d, "pnl_usd"), FMT_MONEY);
	put_cell(out, field(d, "sharpe"), FMT_RATIO);
	put_cell(out, field(d, "missed"), FMT_COUNT);
	put_cell(out, field(d, "auc"), FMT_SCORE);
	put_cell(out, field(d, "log_loss"), FMT_SCORE);
	fputs(json_is_true(json_object_get(d, "retrain")) ? "<td>due</td>" : "<td></td>", out);
	if (is_date(date)) {
		fputs("<td><a href=\"post_market_", out);
		put_text(out, json_string_value(date));
		fputs(".json\">JSON</a></td>", out);
	} else {
		fputs("<td></td>", out);
	}
	fputs("</tr>\n", out);
}

/* Newest first: the ten newest in view, the others folded under them. */
static void put_days(FILE *out, const json_t *doc)
{
	const json_t *days = json_object_get(doc, "days");
	size_t n = json_array_size(days), shown = n < FOLD_ROWS ? n : FOLD_ROWS;

	fputs("<section id=\"days\">\n<h2>Days</h2>\n", out);
	if (n == 0) {
		fputs("<p>No reports yet.</p>\n</section>\n", out);
		return;
	}
	put_days_head(out);
	for (size_t i = 0; i < shown; i++)
		put_day_row(out, json_array_get(days, n - 1 - i));
	fputs("</tbody>\n</table>\n</div>\n", out);
	if (n > shown) {
		fprintf(out, "<details>\n<summary>%zu earlier day%s</summary>\n", n - shown,
			n - shown == 1 ? "" : "s");
		put_days_head(out);
		for (size_t i = shown; i < n; i++)
			put_day_row(out, json_array_get(days, n - 1 - i));
		fputs("</tbody>\n</table>\n</div>\n</details>\n", out);
	}
	fputs("<p class=\"note\">Sharpe to date: of the daily returns from the first reported "
	      "day to that day. Missed: high-confidence signals not traded. AUC and log loss: the "
	      "online model's progressive figures at that day's report.</p>\n</section>\n",
	      out);
}

/* A line of one figure per day (days [{date, key}], by index). */
static void chart_days_line(FILE *out, const json_t *days, const char *key, const char *id,
			    const char *title, const char *caption)
{
	struct plot p = {.out = out, .w = HALF_W, .h = HALF_H};

	if (!series_chart_open(&p, days, key, id, title, caption))
		return;
	series_chart_axes(&p, days, 0.08, AXIS_PLAIN);
	series_polyline(&p, days, key);
	chart_close(&p, caption);
}

/* One bar per day of a count (missed opportunities). */
static void chart_days_bars(FILE *out, const json_t *days, const char *key, const char *id,
			    const char *title, const char *caption)
{
	size_t n = json_array_size(days), i;
	struct plot p = {.out = out, .w = WIDE_W, .h = WIDE_H};
	double lo, hi;
	json_t *d;

	chart_open(&p, id, title);
	if (series_range(days, key, &lo, &hi) < 1 || n < 2) {
		chart_no_data(&p);
		chart_close(&p, caption);
		return;
	}
	p.y_lo = 0;
	p.y_hi = hi > 0 ? hi * 1.1 : 1;
	axis_settle(&p.y_lo, &p.y_hi);
	/* Bars centred on their index, half a slot of room at either end. */
	p.x_lo = -0.5;
	p.x_hi = (double)n - 0.5;
	put_y_ticks(&p, AXIS_PLAIN);
	double slot = plot_w(&p) / (double)n, bar = slot * 0.7;
	json_array_foreach(days, i, d)
	{
		double v = field(d, key);
		if (isnan(v) || v <= 0)
			continue;
		fputs("<rect class=\"bar\" x=\"", out);
		put_coord(out, plot_x(&p, (double)i) - bar / 2);
		fputs("\" y=\"", out);
		put_coord(out, plot_y(&p, v));
		fputs("\" width=\"", out);
		put_coord(out, bar < 0.5 ? 0.5 : bar);
		fputs("\" height=\"", out);
		put_coord(out, plot_bottom(&p) - plot_y(&p, v));
		fputs("\"><title>", out);
		put_json_text(out, json_object_get(d, "date"));
		fprintf(out, ": %.0f</title></rect>\n", v);
	}
	put_date_ticks(&p, days, n);
	chart_close(&p, caption);
}

static void put_over_time(FILE *out, const json_t *doc)
{
	const json_t *latest = json_object_get(doc, "latest");
	const json_t *days = json_object_get(doc, "days");

	fputs("<section id=\"equity\">\n<h2>Equity and drawdown, all reported days</h2>\n", out);
	chart_equity(out, json_object_get(latest, "charts"));
	chart_drawdown(out, json_object_get(latest, "charts"));
	fputs("</section>\n", out);
	fputs("<section id=\"model-health\">\n<h2>Model health over time</h2>\n"
	      "<div class=\"chart-pair\">\n",
	      out);
	chart_days_line(out, days, "auc", "chart-auc", "Progressive AUC by day (0.5 is chance)",
			"The online model's AUC on every trade before it learned from it, as of "
			"each day's report; higher is better.");
	chart_days_line(out, days, "log_loss", "chart-log-loss",
			"Progressive log loss by day (lower is better)",
			"The online model's log loss on every trade before it learned from it, as "
			"of each day's report.");
	fputs("</div>\n</section>\n", out);
	fputs("<section id=\"missed\">\n<h2>Missed opportunities per day</h2>\n", out);
	chart_days_bars(out, days, "missed", "chart-missed",
			"High-confidence signals not traded, by day",
			"Signals at or above the confidence limit with no order or trade for their "
			"symbol; each day's page lists them by reason.");
	fputs("</section>\n", out);
}

static void put_knobs(FILE *out, const json_t *doc)
{
	const json_t *knobs = json_object_get(doc, "knobs");
	size_t i;
	json_t *k;

	fputs("<section id=\"knobs\">\n<h2>Knobs</h2>\n", out);
	if (json_array_size(knobs) == 0) {
		fputs("<p>No knobs yet: the first daily report sets them.</p>\n</section>\n", out);
		return;
	}
	fputs("<p class=\"sub\">The bot's execution parameters as of ", out);
	put_json_text(out, json_object_get(doc, "knobs_as_of"));
	fputs(", against their configured defaults.</p>\n", out);
	fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th>Knob</th><th class=\"num\">Now</th>"
	      "<th class=\"num\">Default</th><th>Last change</th><th class=\"num\">From</th>"
	      "<th class=\"num\">To</th><th>Reason</th></tr></thead>\n<tbody>\n",
	      out);
	json_array_foreach(knobs, i, k)
	{
		const json_t *value = json_object_get(k, "value");
		const json_t *def = json_object_get(k, "default");
		const json_t *change = json_object_get(k, "change");
		int moved = json_is_number(value) && json_is_number(def) &&
			    json_number_value(value) != json_number_value(def);
		fputs("<tr><th scope=\"row\">", out);
		put_text(out, json_string_value(json_object_get(k, "name")));
		fprintf(out, "</th><td class=\"num%s\">", moved ? " moved" : "");
		put_plain_value(out, value ? value : json_null());
		fputs("</td><td class=\"num\">", out);
		put_plain_value(out, def);
		fputs("</td>", out);
		if (json_is_object(change)) {
			fputs("<td>", out);
			put_day_link(out, json_object_get(change, "day"));
			fputs("</td><td class=\"num\">", out);
			put_plain_value(out, json_object_get(change, "previous"));
			fputs("</td><td class=\"num\">", out);
			put_plain_value(out, json_object_get(change, "value"));
			fputs("</td><td>", out);
			put_json_text(out, json_object_get(change, "reason"));
			fputs("</td>", out);
		} else {
			fputs("<td>never</td><td></td><td></td><td></td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n</div>\n<p class=\"note\">A value in bold differs from its "
	      "default.</p>\n</section>\n",
	      out);
}

static void put_job_row(FILE *out, const json_t *run)
{
	const char *status = json_string_value(json_object_get(run, "status"));
	fputs("<tr><th scope=\"row\">", out);
	put_json_text(out, json_object_get(run, "job"));
	fputs("</th><td>", out);
	put_json_text(out, json_object_get(run, "day"));
	fputs("</td><td>", out);
	put_timestamp(out, json_object_get(run, "start"));
	fputs("</td><td>", out);
	put_timestamp(out, json_object_get(run, "end"));
	fprintf(out, "</td><td><span class=\"badge %s\">",
		status && strcmp(status, "ok") == 0 ? "ok" : "warn");
	put_text(out, status && *status ? status : DASH);
	fputs("</span></td><td>", out);
	put_json_text(out, json_object_get(run, "error"));
	fputs("</td></tr>\n", out);
}

static const char job_head[] =
    "<div class=\"wrap\">\n<table>\n<thead><tr><th>Job</th><th>Day</th><th>Started</th>"
    "<th>Ended</th><th>Status</th><th>Error</th></tr></thead>\n<tbody>\n";

static void put_health(FILE *out, const json_t *doc)
{
	const json_t *health = json_object_get(doc, "health");
	const json_t *lag = json_object_get(health, "lag_bytes");
	const json_t *runs = json_object_get(doc, "jobs");
	const json_t *last = json_object_get(doc, "last_jobs");
	const char *key;
	json_t *v;
	size_t i;

	fputs("<section id=\"health\">\n<h2>Health</h2>\n", out);
	if (!json_is_object(health)) {
		fputs("<p>No health file yet (state/health.json): watch writes it at every "
		      "commit.</p>\n",
		      out);
	} else {
		fputs("<div class=\"wrap\">\n<table>\n<tbody>\n<tr><th scope=\"row\">Last "
		      "commit</th><td>",
		      out);
		put_timestamp(out, json_object_get(health, "last_commit"));
		fputs("</td></tr>\n<tr><th scope=\"row\">Alive at</th><td>", out);
		put_timestamp(out, json_object_get(health, "alive_at"));
		fputs("</td></tr>\n<tr><th scope=\"row\">Open positions</th>", out);
		put_cell(out, field(health, "open_positions"), FMT_COUNT);
		fputs("</tr>\n<tr><th scope=\"row\">Following</th><td>", out);
		fputs(json_is_true(json_object_get(health, "polling")) ? "by polling"
								       : "by inotify",
		      out);
		fputs("</td></tr>\n", out);
		json_object_foreach((json_t *)lag, key, v)
		{
			double bytes = num(v);
			fputs("<tr><th scope=\"row\">Lag, ", out);
			put_text(out, key);
			fprintf(out, "</th><td class=\"num%s\">", bytes > 0 ? " neg" : "");
			if (isnan(bytes))
				fputs(DASH, out);
			else
				fprintf(out, "%.0f bytes", bytes);
			fputs("</td></tr>\n", out);
		}
		fputs("</tbody>\n</table>\n</div>\n", out);
	}
	if (json_object_size(last) > 0) {
		fputs("<h3>Last run of each job</h3>\n", out);
		fputs(job_head, out);
		json_object_foreach((json_t *)last, key, v) put_job_row(out, v);
		fputs("</tbody>\n</table>\n</div>\n", out);
	}
	if (json_array_size(runs) > 0) {
		fprintf(out, "<details>\n<summary>The last %zu job runs</summary>\n",
			json_array_size(runs));
		fputs(job_head, out);
		json_array_foreach(runs, i, v) put_job_row(out, v);
		fputs("</tbody>\n</table>\n</div>\n</details>\n", out);
	} else {
		fputs("<p>No job has run yet (state/jobs.jsonl).</p>\n", out);
	}
	fputs("</section>\n", out);
}

static void put_version_row(FILE *out, const json_t *v, const char *deployed)
{
	const json_t *m = json_object_get(v, "metrics");
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *status = json_string_value(json_object_get(v, "status"));
	int current = id && deployed && strcmp(id, deployed) == 0;

	fprintf(out, "<tr%s><th scope=\"row\">", current ? " class=\"current\"" : "");
	put_text(out, id ? id : DASH);
	fputs("</th><td>", out);
	put_timestamp(out, json_object_get(v, "trained_at"));
	fputs("</td><td>", out);
	put_json_text(out, json_object_get(v, "candidate"));
	fprintf(out, "</td><td><span class=\"badge %s\">",
		current ? "ok" : (status && strcmp(status, "rejected") == 0 ? "warn" : "plain"));
	put_text(out, status && *status ? status : DASH);
	fputs("</span></td><td>", out);
	put_json_text(out, json_object_get(v, "decided_by"));
	fputs("</td>", out);
	put_cell(out, field(m, "auc"), FMT_SCORE);
	put_cell(out, field(m, "log_loss"), FMT_SCORE);
	put_cell(out, field(json_object_get(m, "taken"), "sharpe"), FMT_RATIO);
	fputs("<td>", out);
	put_json_text(out, json_object_get(v, "reason"));
	fputs("</td></tr>\n", out);
}

static const char version_head[] =
    "<div class=\"wrap\">\n<table>\n<thead><tr><th>Version</th><th>Trained</th>"
    "<th>Candidate</th><th>Status</th><th>Decided by</th><th class=\"num\">AUC</th>"
    "<th class=\"num\">Log loss</th><th class=\"num\">Taken Sharpe</th><th>Reason</th></tr>"
    "</thead>\n<tbody>\n";

static void put_models(FILE *out, const json_t *doc)
{
	const json_t *reg = json_object_get(doc, "registry");
	const json_t *versions = json_object_get(reg, "versions");
	const char *deployed = json_string_value(json_object_get(reg, "deployed"));
	size_t n = json_array_size(versions), shown = n < FOLD_ROWS ? n : FOLD_ROWS;

	fputs("<section id=\"models\">\n<h2>Models</h2>\n", out);
	if (n == 0) {
		fputs("<p>No model version yet: the online model learns from every trade, and the "
		      "first retrain (Sunday, or when the daily report calls for one) records a "
		      "version in models/registry.json.</p>\n</section>\n",
		      out);
		return;
	}
	fputs("<p>Deployed: <strong>", out);
	put_text(out, deployed ? deployed : "none (the online model only)");
	fputs("</strong>", out);
	const json_t *deps = json_object_get(reg, "deployments");
	const json_t *last = json_array_get(deps, json_array_size(deps) - 1);
	if (deployed && json_is_object(last)) {
		fputs(", since ", out);
		put_timestamp(out, json_object_get(last, "at"));
		fputs(" (", out);
		put_json_text(out, json_object_get(last, "by"));
		fputs(")", out);
	}
	fprintf(out, ". %zu version%s, %zu deployment%s; hold-out figures of each.</p>\n", n,
		n == 1 ? "" : "s", json_array_size(deps), json_array_size(deps) == 1 ? "" : "s");
	fputs(version_head, out);
	for (size_t i = 0; i < shown; i++)
		put_version_row(out, json_array_get(versions, n - 1 - i), deployed);
	fputs("</tbody>\n</table>\n</div>\n", out);
	if (n > shown) {
		fprintf(out, "<details>\n<summary>%zu earlier version%s</summary>\n", n - shown,
			n - shown == 1 ? "" : "s");
		fputs(version_head, out);
		for (size_t i = shown; i < n; i++)
			put_version_row(out, json_array_get(versions, n - 1 - i), deployed);
		fputs("</tbody>\n</table>\n</div>\n</details>\n", out);
	}
	fputs("</section>\n", out);
}

char *dashboard_page(const json_t *doc, struct err *err)
{
	struct page page;
	char *text;

	if (!json_is_object(doc)) {
		err_set(err, EINVAL, "dashboard: the document is not a JSON object");
		return NULL;
	}
	if (page_open(&page) != 0)
		goto nomem;
	put_head(page.out, "Dashboard", NULL);
	put_header(page.out, doc);
	fputs("<main>\n", page.out);
	put_over_time(page.out, doc);
	put_days(page.out, doc);
	put_knobs(page.out, doc);
	put_health(page.out, doc);
	put_models(page.out, doc);
	fputs("</main>\n<footer>Written by tradelearn after every daily report, deployment and "
	      "rollback, from the files under state/ and models/.</footer>\n</body>\n</html>\n",
	      page.out);
	text = page_close(&page, 0);
	if (!text)
		goto nomem;
	return text;
nomem:
	err_set(err, ENOMEM, "dashboard: out of memory");
	return NULL;
}

int dashboard_write(const struct dashboard_options *o, struct err *err)
{
	char path[4400];
	json_t *doc = dashboard_gather(o, err);
	if (!doc)
		return -1;
	char *html = dashboard_page(doc, err);
	json_decref(doc);
	if (!html)
		return -1;
	if (snprintf(path, sizeof path, "%s/reports", o->state_dir) >= (int)sizeof path ||
	    durable_mkdirs(path, err)) {
		free(html);
		return err_fail(err, "%s: cannot create the reports folder", o->state_dir);
	}
	snprintf(path, sizeof path, "%s/reports/index.html", o->state_dir);
	int rc = durable_replace(path, html, strlen(html), err);
	free(html);
	return rc;
}
