#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/report/report_html.h"

#define DASH "\xe2\x80\x94"

/* ---- report objects ----------------------------------------------------- */

/* A trades object with figures consistent with count, wins and pnl. */
static json_t *trades_object(int count, int wins, double pnl)
{
	int losses = count - wins;
	return json_pack("{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i}",
			 "count", count, "wins", wins, "losses", losses, "win_rate",
			 count ? (double)wins / count : 0.0, "profit_factor", pnl > 0 ? 1.6 : 0.7,
			 "expectancy", pnl > 0 ? 0.0031 : -0.0024, "payoff_ratio", 1.25, "avg_win",
			 0.0112, "avg_loss", -0.0089, "pnl_usd", pnl, "avg_hold_minutes", 47.5,
			 "max_consecutive_wins", wins > 3 ? 4 : wins, "max_consecutive_losses",
			 losses > 2 ? 3 : losses);
}

static json_t *returns_object(int days, double sharpe)
{
	return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "days", days, "sharpe", sharpe,
			 "sortino", sharpe * 1.4, "max_drawdown", -0.043, "calmar", 2.1,
			 "annual_return", 0.18, "annual_volatility", 0.12);
}

static json_t *window(int count, int wins, double pnl, int days, double sharpe)
{
	return json_pack("{s:o, s:o}", "trades", trades_object(count, wins, pnl), "returns",
			 returns_object(days, sharpe));
}

/* Charts of a 60-day history with a dip, trading hours 9 to 15, and ten
 * calibration buckets of which the extreme ones are empty. */
static json_t *realistic_charts(void)
{
	json_t *equity = json_array(), *drawdown = json_array();
	json_t *hours = json_array(), *calibration = json_array();
	double level = 1.0, peak = 1.0;
	for (int d = 0; d < 60; d++) {
		char date[16];
		if (d < 31)
			snprintf(date, sizeof(date), "2025-12-%02d", d + 1);
		else
			snprintf(date, sizeof(date), "2026-01-%02d", d - 30);
		level *= 1.0 + 0.004 * sin(d * 0.37) + 0.0015;
		peak = fmax(peak, level);
		json_array_append_new(equity,
				      json_pack("{s:s, s:f}", "date", date, "equity", level));
		json_array_append_new(drawdown, json_pack("{s:s, s:f}", "date", date, "drawdown",
							  level / peak - 1.0));
	}
	for (int h = 9; h <= 15; h++)
		json_array_append_new(hours, json_pack("{s:i, s:i, s:i}", "hour", h, "trades",
						       10 + h, "wins", (10 + h) * (h % 3 + 4) / 9));
	for (int b = 0; b < 10; b++) {
		int n = (b == 0 || b == 9) ? 0 : 5 + b * 3;
		json_array_append_new(
		    calibration, json_pack("{s:f, s:f, s:i, s:o, s:o}", "lo", b / 10.0, "hi",
					   (b + 1) / 10.0, "n", n, "mean_predicted",
					   n ? json_real(b / 10.0 + 0.05) : json_null(), "observed",
					   n ? json_real(b / 10.0 + 0.02 * (b % 3)) : json_null()));
	}
	return json_pack("{s:o, s:o, s:o, s:o}", "equity", equity, "drawdown", drawdown,
			 "win_rate_by_hour", hours, "calibration", calibration);
}

static json_t *realistic_report(void)
{
	json_t *symbols =
	    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "AAPL",
		      trades_object(14, 9, 412.50), "MSFT", trades_object(11, 5, -88.10), "NVDA",
		      trades_object(20, 13, 905.25), "TSLA", trades_object(9, 2, -640.00), "JPM",
		      trades_object(6, 4, 120.75), "AMD", trades_object(8, 3, -210.40), "XOM",
		      trades_object(5, 3, 33.00), "META", trades_object(7, 4, 260.10));
	json_t *breakdowns = json_pack(
	    "{s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o}, "
	    "s:{s:o, s:o}}",
	    "symbol", symbols, "regime", "trending", trades_object(40, 24, 900.0), "choppy",
	    trades_object(40, 19, -106.9), "time_of_day", "open", trades_object(30, 17, 500.0),
	    "midday", trades_object(30, 14, -20.0), "close", trades_object(20, 12, 313.1),
	    "day_of_week", "Mon", trades_object(40, 20, 100.0), "Tue", trades_object(40, 23, 693.1),
	    "confidence", "0.4-0.6", trades_object(50, 25, 10.0), "0.6-0.8",
	    trades_object(30, 18, 783.1), "exit_reason", "take_profit",
	    trades_object(80, 43, 793.1), "side", "long", trades_object(60, 33, 700.0), "short",
	    trades_object(20, 10, 93.1));
	json_t *knobs = json_pack("{s:{s:f, s:f, s:s}, s:{s:i, s:i, s:s}, s:{s:f, s:f, s:n}}",
				  "min_confidence", "value", 0.3216, "previous", 0.30, "reason",
				  "win rate 41.2% < 45%: raise minimum confidence", "max_positions",
				  "value", 5, "previous", 5, "reason", "", "stop_loss_pct", "value",
				  0.02, "previous", 0.02, "reason");
	json_t *missed = json_pack(
	    "{s:i, s:f, s:{s:{s:i, s:f}, s:{s:i, s:f}}, s:[s, s]}", "count", 7, "missed_pnl_usd",
	    182.4, "by_reason", "max_positions", "count", 5, "pnl_usd", 150.0, "min_trade_gap",
	    "count", 2, "pnl_usd", 32.4, "suggestions",
	    "5 signals at >= 0.60 were skipped at max positions; consider raising it to 6",
	    "min trade gap blocked 2 winners");
	json_t *report = json_pack(
	    "{s:s, s:s, s:o, s:{s:o, s:o, s:o}, s:o, s:{s:i, s:f, s:f, s:f, s:f}, s:o, s:o, "
	    "s:[{s:s, s:s, s:f}], s:{s:b, s:[s, s]}, s:o}",
	    "date", "2026-02-10", "generated_at", "2026-02-10T21:05:12Z", "day",
	    trades_object(12, 7, 231.45), "windows", "7d", window(58, 31, 640.20, 5, 1.12), "30d",
	    window(240, 131, 793.10, 21, 0.87), "all", window(1310, 702, 5120.77, 60, 1.31),
	    "breakdowns", breakdowns, "model", "trades_scored", 1310, "log_loss", 0.6712, "auc",
	    0.5843, "brier", 0.2391, "ece", 0.0312, "knobs", knobs, "missed", missed,
	    "stale_positions", "symbol", "GME", "opened_at", "2026-02-08T15:02:00Z", "age_hours",
	    53.9, "retrain", "triggered", 1, "reasons", "7-day Sharpe 0.21 below 0.3",
	    "win rate 8.4 points below baseline", "charts", realistic_charts());
	assert_non_null(report);
	return report;
}

/* ---- helpers ------------------------------------------------------------ */

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static char *page_of(const json_t *report)
{
	struct err err = {0};
	char *page = report_html_page(report, &err);
	if (!page)
		print_error("report_html_page: %s\n", err.msg);
	assert_non_null(page);
	return page;
}

static void assert_no_nan_or_inf(const char *page)
{
	const char *nan = strcasestr(page, "nan");
	const char *inf = strcasestr(page, "inf");
	if (nan)
		print_error("found: %.60s\n", nan > page + 30 ? nan - 30 : page);
	if (inf)
		print_error("found: %.60s\n", inf > page + 30 ? inf - 30 : page);
	assert_null(nan);
	assert_null(inf);
}

/* The text between the first occurrence of start and the next end. */
static char *between(const char *text, const char *start, const char *end)
{
	const char *a = strstr(text, start), *b;
	assert_non_null(a);
	a += strlen(start);
	b = strstr(a, end);
	assert_non_null(b);
	return strndup(a, (size_t)(b - a));
}

/* ---- the page ----------------------------------------------------------- */

static void test_page_for_realistic_report_has_date_in_title(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	char *page = page_of(report);
	char *title = between(page, "<title>", "</title>");
	assert_int_equal(strncmp(page, "<!DOCTYPE html>", 15), 0);
	assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(title, "2026-02-10"));
	assert_non_null(strstr(page, "<style>"));
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "http://www.w3.org/1999")); /* nothing fetched */
	assert_int_equal(count_of(page, "https:"), 0);
	assert_no_nan_or_inf(page);
	free(title);
	free(page);
	json_decref(report);
}

static void test_page_has_four_svg_charts_with_ids_and_role_img(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	char *page = page_of(report);
	static const char *const ids[] = {"chart-equity", "chart-drawdown",
					  "chart-win-rate-by-hour", "chart-calibration"};
	assert_int_equal(count_of(page, "<svg "), 4);
	assert_int_equal(count_of(page, "</svg>"), 4);
	assert_int_equal(count_of(page, "role=\"img\""), 4);
	for (size_t i = 0; i < 4; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "<svg id=\"%s\" role=\"img\"", ids[i]);
		assert_non_null(strstr(page, needle));
	}
	/* Equity and drawdown span the column; the other two sit side by side. */
	assert_int_equal(count_of(page, "viewBox=\"0 0 960 260\""), 2);
	assert_int_equal(count_of(page, "viewBox=\"0 0 480 300\""), 2);
	assert_int_equal(count_of(page, "<figure class=\"chart\">\n<h3>"), 4); /* visible titles */
	assert_int_equal(count_of(page, "<title id=\"chart-"), 4);
	assert_non_null(strstr(page, "<polyline class=\"line\""));
	assert_non_null(strstr(page, "<polygon class=\"area\""));
	assert_int_equal(count_of(page, "<rect class=\"bar\""), 7);
	assert_int_equal(count_of(page, "<circle class=\"dot\""), 8); /* two buckets empty */
	assert_non_null(strstr(page, "<line class=\"diag\""));
	assert_int_equal(count_of(page, ">no data</text>"), 0);
	free(page);
	json_decref(report);
}

static void test_page_escapes_text_from_the_report(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	json_t *symbols = json_object_get(json_object_get(report, "breakdowns"), "symbol");
	json_t *knob = json_object_get(json_object_get(report, "knobs"), "max_positions");
	char *page;
	json_object_set_new(symbols, "<script>&", trades_object(30, 25, 9999.0));
	json_object_set_new(knob, "reason", json_string("it's \"too\" <b>many</b> & more"));
	json_array_append_new(json_object_get(json_object_get(report, "missed"), "suggestions"),
			      json_string("</ul><script>alert(1)</script>"));
	json_object_set_new(json_array_get(json_object_get(report, "stale_positions"), 0), "symbol",
			    json_string("'quoted'"));

	page = page_of(report);
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<b>"));
	assert_non_null(strstr(page, "&lt;script&gt;&amp;"));
	assert_non_null(
	    strstr(page, "it&#39;s &quot;too&quot; &lt;b&gt;many&lt;/b&gt; &amp; more"));
	assert_non_null(strstr(page, "&lt;/ul&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(page, "&#39;quoted&#39;"));
	free(page);
	json_decref(report);
}

static void test_page_prints_dash_for_null_figures(void **state)
{
	(void)state;
	json_t *report = json_pack(
	    "{s:s, s:n, s:{s:n, s:n, s:n, s:n}, s:{s:{s:{s:n}, s:{s:n}}}, s:{s:n, s:n}}", "date",
	    "2026-02-10", "generated_at", "day", "count", "win_rate", "pnl_usd", "profit_factor",
	    "windows", "7d", "trades", "win_rate", "returns", "sharpe", "model", "auc", "brier");
	char *page = page_of(report);
	/* The headline figures. */
	assert_non_null(strstr(page, "<dt>Trades</dt><dd class=\"num\">" DASH "</dd>"));
	assert_non_null(strstr(page, "<dt>Win rate</dt><dd class=\"num\">" DASH "</dd>"));
	assert_non_null(strstr(page, "<dt>P&amp;L</dt><dd class=\"num\">" DASH "</dd>"));
	assert_non_null(strstr(page, "<dt>Profit factor</dt><dd class=\"num\">" DASH "</dd>"));
	/* A table row: the day, 7 days, 30 days, all time. */
	assert_non_null(strstr(page, "<th scope=\"row\">Win rate</th><td class=\"num\">" DASH
				     "</td><td class=\"num\">" DASH "</td><td class=\"num\">" DASH
				     "</td><td class=\"num\">" DASH "</td></tr>"));
	assert_non_null(strstr(page, "<th scope=\"row\">Sharpe</th><td class=\"num\">" DASH));
	assert_non_null(strstr(page, "Generated " DASH));
	assert_no_nan_or_inf(page);
	assert_int_equal(count_of(page, ">no data</text>"), 4);
	free(page);
	json_decref(report);
}

static void test_page_formats_money_percent_and_ratio(void **state)
{
	(void)state;
	json_t *report =
	    json_pack("{s:s, s:{s:i, s:f, s:f, s:f}, s:{s:{s:{s:f}}}}", "date", "2026-02-10", "day",
		      "count", 12, "win_rate", 0.58333, "pnl_usd", -1234.5, "profit_factor", 1.857,
		      "windows", "7d", "trades", "pnl_usd", -0.001);
	char *page = page_of(report);
	assert_non_null(strstr(page, "<dt>Trades</dt><dd class=\"num\">12</dd>"));
	assert_non_null(strstr(page, "<dt>Win rate</dt><dd class=\"num\">58.3%</dd>"));
	assert_non_null(strstr(page, "<dt>P&amp;L</dt><dd class=\"num neg\">-$1234.50</dd>"));
	assert_non_null(strstr(page, "<dt>Profit factor</dt><dd class=\"num\">1.86</dd>"));
	/* What rounds to zero prints without a sign. */
	assert_non_null(strstr(page, "<td class=\"num neg\">-$1234.50</td>"
				     "<td class=\"num\">$0.00</td>"));
	assert_null(strstr(page, "-$0.00"));
	free(page);
	json_decref(report);
}

static void test_empty_charts_print_no_nan_or_inf(void **state)
{
	(void)state;
	/* Each chart with nothing, one point, only nulls, and wrong types. */
	static const char *const cases[] = {
	    "{}",
	    "{\"equity\": [], \"drawdown\": [], \"win_rate_by_hour\": [], \"calibration\": []}",
	    "{\"equity\": [{\"date\": \"2026-02-10\", \"equity\": 1.0}],"
	    " \"drawdown\": [{\"date\": \"2026-02-10\", \"drawdown\": 0}],"
	    " \"win_rate_by_hour\": [{\"hour\": 10, \"trades\": 0, \"wins\": 0}],"
	    " \"calibration\": [{\"lo\": 0, \"hi\": 0.1, \"n\": 0, \"mean_predicted\": null,"
	    " \"observed\": null}]}",
	    "{\"equity\": [{\"date\": null, \"equity\": null}, {\"date\": \"x\", \"equity\": "
	    "null}],"
	    " \"drawdown\": [{\"drawdown\": null}, {\"drawdown\": \"-0.1\"}],"
	    " \"win_rate_by_hour\": [{\"hour\": null, \"trades\": 5, \"wins\": 2},"
	    " {\"hour\": 30, \"trades\": 5, \"wins\": 2}],"
	    " \"calibration\": [{\"n\": 4, \"mean_predicted\": 0.5, \"observed\": null}]}",
	    "{\"equity\": 3, \"drawdown\": \"x\", \"win_rate_by_hour\": {}, \"calibration\": "
	    "null}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *report = json_pack("{s:s, s:o}", "date", "2026-02-10", "charts",
					   json_loads(cases[i], 0, NULL));
		char *page;
		assert_non_null(report);
		page = page_of(report);
		assert_no_nan_or_inf(page);
		assert_int_equal(count_of(page, ">no data</text>"), 4);
		assert_int_equal(count_of(page, "<svg "), 4);
		free(page);
		json_decref(report);
	}
}

static void test_flat_and_sparse_series_draw_without_nan_or_inf(void **state)
{
	(void)state;
	/* Flat equity, a drawdown that never fell, one hour with no wins, one
	 * calibration point, extreme values and a null in the middle. */
	json_t *charts = json_loads(
	    "{\"equity\": [{\"date\": \"2026-02-09\", \"equity\": 1.0},"
	    " {\"date\": \"2026-02-10\", \"equity\": null},"
	    " {\"date\": \"2026-02-11\", \"equity\": 1.0}],"
	    " \"drawdown\": [{\"date\": \"2026-02-09\", \"drawdown\": 0},"
	    " {\"date\": \"2026-02-10\", \"drawdown\": 0}],"
	    " \"win_rate_by_hour\": [{\"hour\": 12, \"trades\": 3, \"wins\": 0}],"
	    " \"calibration\": [{\"lo\": 0.5, \"hi\": 0.6, \"n\": 9, \"mean_predicted\": 0.55,"
	    " \"observed\": 2.5}]}",
	    0, NULL);
	json_t *report = json_pack("{s:s, s:o}", "date", "2026-02-10", "charts", charts);
	json_t *huge = json_loads("[{\"date\": \"a\", \"equity\": 1e300},"
				  " {\"date\": \"b\", \"equity\": -1e300},"
				  " {\"date\": \"c\", \"equity\": 5e-324}]",
				  0, NULL);
	char *page = page_of(report);
	assert_no_nan_or_inf(page);
	assert_int_equal(count_of(page, ">no data</text>"), 0);
	assert_int_equal(count_of(page, "<rect class=\"bar\""), 1);
	assert_int_equal(count_of(page, "<circle class=\"dot\""), 1);
	free(page);

	json_object_set_new(charts, "equity", huge);
	page = page_of(report);
	assert_no_nan_or_inf(page);
	free(page);
	json_decref(report);
}

static void test_last_date_label_ends_at_the_right_edge(void **state)
{
	(void)state;
	/* With few points, the last label used to be centred on the right edge
	 * (half of it off the canvas) whenever an earlier slot rounded to the
	 * last index. Every length from 2 to 12 points: the last date is
	 * anchored at its end, the first at its start, each written once. */
	for (int n = 2; n <= 12; n++) {
		json_t *equity = json_array(), *report;
		char last[16], needle[64], *page, *chart;
		for (int d = 0; d < n; d++) {
			char date[16];
			snprintf(date, sizeof(date), "2026-03-%02d", d + 1);
			json_array_append_new(equity, json_pack("{s:s, s:f}", "date", date,
								"equity", 1.0 + 0.01 * d));
		}
		snprintf(last, sizeof(last), "2026-03-%02d", n);
		report =
		    json_pack("{s:s, s:{s:o}}", "date", "2026-03-12", "charts", "equity", equity);
		page = page_of(report);
		chart = between(page, "<svg id=\"chart-equity\"", "</svg>");
		snprintf(needle, sizeof(needle), "text-anchor=\"end\">%s</text>", last);
		assert_int_equal(count_of(chart, needle), 1);
		assert_int_equal(count_of(chart, last), 1);
		assert_int_equal(count_of(chart, "text-anchor=\"start\">2026-03-01</text>"), 1);
		free(chart);
		free(page);
		json_decref(report);
	}
}

static void test_shallow_drawdown_gets_its_own_scale(void **state)
{
	(void)state;
	/* A drawdown of 0.11% used to be drawn on a fixed 0 to -1% axis, a
	 * sliver at the top; the axis now follows the deepest point. */
	json_t *charts = json_loads("{\"drawdown\": [{\"date\": \"2026-02-05\", \"drawdown\": 0},"
				    " {\"date\": \"2026-02-06\", \"drawdown\": 0},"
				    " {\"date\": \"2026-02-09\", \"drawdown\": -0.000694},"
				    " {\"date\": \"2026-02-10\", \"drawdown\": -0.0011226}]}",
				    0, NULL);
	json_t *report = json_pack("{s:s, s:o}", "date", "2026-02-10", "charts", charts);
	char *page = page_of(report);
	char *chart = between(page, "<svg id=\"chart-drawdown\"", "</svg>");
	assert_non_null(strstr(chart, ">-0.10%</text>"));
	assert_null(strstr(chart, ">-1.0%</text>"));
	assert_null(strstr(chart, ">-1.00%</text>"));
	free(chart);
	free(page);

	/* A series that never fell still shows a 1% scale. */
	json_object_set_new(charts, "drawdown",
			    json_loads("[{\"date\": \"a\", \"drawdown\": 0},"
				       " {\"date\": \"b\", \"drawdown\": 0}]",
				       0, NULL));
	page = page_of(report);
	chart = between(page, "<svg id=\"chart-drawdown\"", "</svg>");
	assert_non_null(strstr(chart, ">-1.0%</text>"));
	assert_no_nan_or_inf(chart);
	free(chart);
	free(page);
	json_decref(report);
}

static void test_small_equity_moves_get_enough_ticks(void **state)
{
	(void)state;
	/* Equity between 0.9996 and 1.0007 used to get two labels. */
	json_t *charts =
	    json_loads("{\"equity\": [{\"date\": \"2026-02-05\", \"equity\": 1.000299},"
		       " {\"date\": \"2026-02-06\", \"equity\": 1.000688},"
		       " {\"date\": \"2026-02-09\", \"equity\": 0.999994},"
		       " {\"date\": \"2026-02-10\", \"equity\": 0.999565}]}",
		       0, NULL);
	json_t *report = json_pack("{s:s, s:o}", "date", "2026-02-10", "charts", charts);
	char *page = page_of(report);
	char *chart = between(page, "<svg id=\"chart-equity\"", "</svg>");
	size_t ticks = count_of(chart, "<line class=\"grid\"");
	assert_true(ticks >= 3 && ticks <= 8);
	assert_non_null(strstr(chart, ">1.0000</text>"));
	free(chart);
	free(page);
	json_decref(report);
}

static void test_per_trade_percentages_have_two_decimals(void **state)
{
	(void)state;
	/* Per-trade figures are a fraction of a percent: one decimal printed
	 * "0.0%" for a real bot's expectancy of -0.04%. */
	json_t *report = realistic_report();
	char *page;
	json_object_set_new(json_object_get(report, "day"), "expectancy", json_real(-0.00036));
	page = page_of(report);
	assert_non_null(strstr(page, "<th scope=\"row\">Expectancy</th><td class=\"num neg\">"
				     "-0.04%</td>"));
	assert_non_null(strstr(page, "<td class=\"num pos\">+1.12%</td>")); /* avg win */
	assert_non_null(strstr(page, "<td class=\"num neg\">-4.30%</td>")); /* max drawdown */
	assert_non_null(strstr(page, "<td class=\"num\">58.3%</td>"));	    /* win rate: 1 */
	free(page);
	json_decref(report);
}

static void test_timestamps_and_ages_read_as_a_person_reads_them(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	json_t *stale = json_object_get(report, "stale_positions");
	char *page, *section;
	json_array_append_new(stale, json_pack("{s:s, s:s, s:f}", "symbol", "V", "opened_at",
					       "2026-01-08T19:14:09.219030Z", "age_hours", 873.8));
	json_array_append_new(stale, json_pack("{s:s, s:s, s:f}", "symbol", "F", "opened_at",
					       "2026-02-09T15:21:00-05:00", "age_hours", 30.0));
	json_array_append_new(stale, json_pack("{s:s, s:s, s:f}", "symbol", "GM", "opened_at",
					       "yesterday <b>", "age_hours", 24.0));
	page = page_of(report);
	assert_non_null(strstr(page, "Generated <time datetime=\"2026-02-10T21:05:12Z\">"
				     "2026-02-10 21:05 UTC</time>"));
	section = between(page, "<section id=\"stale\">", "</section>");
	assert_non_null(strstr(section, ">2026-02-08 15:02 UTC</time>"));
	assert_non_null(strstr(section, ">2026-01-08 19:14 UTC</time>"));
	assert_non_null(strstr(section, ">2026-02-09 15:21 -05:00</time>"));
	assert_non_null(strstr(section, "<td>yesterday &lt;b&gt;</td>"));
	assert_non_null(strstr(section, "53.9 h"));
	assert_non_null(strstr(section, "36.4 d"));
	free(section);
	free(page);
	json_decref(report);
}

static void test_breakdowns_sort_symbols_by_pnl_and_buckets_by_key(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	json_t *confidence = json_object_get(json_object_get(report, "breakdowns"), "confidence");
	char *page, *section, *symbols, *buckets;
	json_object_set_new(json_object_get(json_object_get(report, "breakdowns"), "exit_reason"),
			    "signal_decay+trail<stop>", json_pack("{s:i}", "count", 2));
	json_object_set_new(confidence, "0.2-0.4",
			    json_pack("{s:i, s:f}", "count", 3, "pnl_usd", -5.0));
	page = page_of(report);
	section = between(page, "<section id=\"breakdowns\">", "</section>");
	symbols = between(section, "<h3>Symbol</h3>", "</table>");
	buckets = between(section, "<h3>Confidence</h3>", "</table>");
	assert_true(strstr(symbols, ">NVDA<") < strstr(symbols, ">AAPL<"));
	assert_true(strstr(symbols, ">AAPL<") < strstr(symbols, ">META<"));
	assert_true(strstr(symbols, ">AMD<") < strstr(symbols, ">TSLA<"));
	assert_true(strstr(buckets, ">0.2-0.4<") < strstr(buckets, ">0.4-0.6<"));
	assert_true(strstr(buckets, ">0.4-0.6<") < strstr(buckets, ">0.6-0.8<"));
	/* A composite key may wrap after its '+', and is still escaped. */
	assert_non_null(strstr(section, ">signal_decay+<wbr>trail&lt;stop&gt;</th>"));
	/* The other breakdowns keep the report's order. */
	assert_true(strstr(section, ">open<") < strstr(section, ">midday<"));
	assert_true(strstr(section, ">midday<") < strstr(section, ">close<"));
	free(buckets);
	free(symbols);
	free(section);
	free(page);
	json_decref(report);
}

static void test_page_names_no_address_at_all(void **state)
{
	(void)state;
	/* Not even the SVG namespace: inline SVG in HTML does not need it, and
	 * a page with no "http" in it is easy to check for fetching nothing. */
	json_t *report = realistic_report();
	char *page = page_of(report);
	assert_null(strstr(page, "http:"));
	assert_null(strstr(page, "https:"));
	assert_null(strstr(page, "src="));
	assert_null(strstr(page, "url("));
	assert_null(strstr(page, "@import"));
	free(page);
	json_decref(report);
}

static void test_page_lists_only_changed_knobs(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	char *page = page_of(report);
	char *knobs = between(page, "<section id=\"knobs\">", "</section>");
	assert_non_null(strstr(knobs, "min_confidence"));
	assert_non_null(strstr(knobs, "<td class=\"num\">0.3</td><td class=\"num\">0.3216</td>"));
	assert_non_null(strstr(knobs, "raise minimum confidence"));
	assert_null(strstr(knobs, "max_positions"));
	assert_null(strstr(knobs, "stop_loss_pct"));
	free(knobs);
	free(page);

	json_object_del(json_object_get(report, "knobs"), "min_confidence");
	page = page_of(report);
	knobs = between(page, "<section id=\"knobs\">", "</section>");
	assert_non_null(strstr(knobs, "No change."));
	assert_null(strstr(knobs, "<table>"));
	free(knobs);
	free(page);
	json_decref(report);
}

static void test_page_shows_best_and_worst_symbols_by_pnl(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	char *page = page_of(report);
	char *symbols = between(page, "<section id=\"symbols\">", "</section>");
	const char *best = strstr(symbols, "<h3>Best</h3>");
	const char *worst = strstr(symbols, "<h3>Worst</h3>");
	assert_non_null(best);
	assert_non_null(worst);
	/* Best: NVDA, AAPL, META; worst: TSLA, AMD, MSFT, in that order. */
	assert_true(strstr(best, ">NVDA<") < strstr(best, ">AAPL<"));
	assert_true(strstr(best, ">AAPL<") < strstr(best, ">META<"));
	assert_true(strstr(best, ">META<") < worst);
	assert_true(strstr(worst, ">TSLA<") < strstr(worst, ">AMD<"));
	assert_true(strstr(worst, ">AMD<") < strstr(worst, ">MSFT<"));
	assert_null(strstr(symbols, ">JPM<"));
	assert_null(strstr(symbols, ">XOM<"));
	free(symbols);
	free(page);
	json_decref(report);
}

static void test_page_shows_retrain_reasons_missed_and_stale(void **state)
{
	(void)state;
	json_t *report = realistic_report();
	char *page = page_of(report);
	char *retrain = between(page, "<section id=\"retrain\">", "</section>");
	char *missed = between(page, "<section id=\"missed\">", "</section>");
	char *stale = between(page, "<section id=\"stale\">", "</section>");
	assert_non_null(strstr(retrain, "Retrain triggered"));
	assert_non_null(strstr(retrain, "<li>7-day Sharpe 0.21 below 0.3</li>"));
	assert_non_null(strstr(missed, "+$182.40"));
	assert_non_null(strstr(missed, ">max_positions<"));
	assert_non_null(strstr(missed, "consider raising it to 6"));
	assert_non_null(strstr(stale, ">GME<"));
	assert_non_null(strstr(stale, "53.9 h"));
	free(retrain);
	free(missed);
	free(stale);
	free(page);
	json_decref(report);
}

static void test_page_rejects_a_report_without_date(void **state)
{
	(void)state;
	struct err err = {0};
	json_t *report = json_pack("{s:i}", "date", 20260210);
	json_t *array = json_array();
	assert_null(report_html_page(report, &err));
	assert_non_null(strstr(err.msg, "date"));
	assert_null(report_html_page(array, &err));
	assert_null(report_html_page(NULL, NULL));
	json_decref(report);
	json_decref(array);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page_for_realistic_report_has_date_in_title),
	    cmocka_unit_test(test_page_has_four_svg_charts_with_ids_and_role_img),
	    cmocka_unit_test(test_page_escapes_text_from_the_report),
	    cmocka_unit_test(test_page_prints_dash_for_null_figures),
	    cmocka_unit_test(test_page_formats_money_percent_and_ratio),
	    cmocka_unit_test(test_empty_charts_print_no_nan_or_inf),
	    cmocka_unit_test(test_flat_and_sparse_series_draw_without_nan_or_inf),
	    cmocka_unit_test(test_last_date_label_ends_at_the_right_edge),
	    cmocka_unit_test(test_shallow_drawdown_gets_its_own_scale),
	    cmocka_unit_test(test_small_equity_moves_get_enough_ticks),
	    cmocka_unit_test(test_per_trade_percentages_have_two_decimals),
	    cmocka_unit_test(test_timestamps_and_ages_read_as_a_person_reads_them),
	    cmocka_unit_test(test_breakdowns_sort_symbols_by_pnl_and_buckets_by_key),
	    cmocka_unit_test(test_page_names_no_address_at_all),
	    cmocka_unit_test(test_page_lists_only_changed_knobs),
	    cmocka_unit_test(test_page_shows_best_and_worst_symbols_by_pnl),
	    cmocka_unit_test(test_page_shows_retrain_reasons_missed_and_stale),
	    cmocka_unit_test(test_page_rejects_a_report_without_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
