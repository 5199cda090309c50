/*
 * report_html — see report_html.h for the contract.
 *
 * Pages are written into an open_memstream() buffer, which grows as needed;
 * a write that fails (ENOMEM) sets the stream's error flag, checked once at
 * the end, so the writers below do not check every fprintf.
 */
#include "report_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+2014 EM DASH, spelled in bytes so the encoding of the output does not
 * depend on the compiler's source or execution character set. */
#define DASH "\xe2\x80\x94"

/* ---- output buffer ---------------------------------------------------- */

struct page {
	FILE *out;
	char *text;
	size_t len;
};

static int page_open(struct page *p)
{
	p->text = NULL;
	p->len = 0;
	p->out = open_memstream(&p->text, &p->len);
	return p->out ? 0 : -1;
}

/* Closes the stream; returns the text (the caller frees it), or NULL when
 * any write failed or `failed` is set (the text is freed then). */
static char *page_close(struct page *p, int failed)
{
	if (ferror(p->out))
		failed = 1;
	if (fclose(p->out) != 0)
		failed = 1;
	if (failed) {
		free(p->text);
		return NULL;
	}
	return p->text;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---- text and numbers ------------------------------------------------- */

/* Writes s HTML-escaped: safe in element content and in quoted attributes. */
static void put_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			putc(*s, out);
		}
	}
}

/* The string at v escaped, or a dash when v is not a non-empty string. */
static void put_json_text(FILE *out, const json_t *v)
{
	const char *s = json_string_value(v);
	put_text(out, s && *s ? s : DASH);
}

/* The finite number at v, or NAN when v is null, missing, not a number or
 * not finite: NAN is "cannot be computed" everywhere below. */
static double num(const json_t *v)
{
	double d;
	if (!json_is_number(v))
		return NAN;
	d = json_number_value(v);
	return isfinite(d) ? d : NAN;
}

static double field(const json_t *obj, const char *key)
{
	return num(json_object_get(obj, key));
}

enum fmt {
	FMT_COUNT,	/* 12 */
	FMT_MONEY,	/* +$12.34 */
	FMT_PCT,	/* fraction as 54.3% */
	FMT_PCT_SIGNED, /* fraction as +1.2% */
	FMT_RATIO,	/* 1.85 */
	FMT_SCORE,	/* 0.693 */
	FMT_MINUTES,	/* 42 min, 3.5 h */
	FMT_HOURS,	/* 26.5 h */
};

/* The value as it will be printed: what rounds to zero at the printed
 * precision becomes +0, so that no "-0.00" or "-$0.00" appears. */
static double printed_value(double v, enum fmt f)
{
	double half;
	switch (f) {
	case FMT_COUNT:
		half = 0.5;
		break;
	case FMT_MONEY:
	case FMT_RATIO:
		half = 0.005;
		break;
	case FMT_PCT:
	case FMT_PCT_SIGNED:
		half = 0.0005; /* 0.05% */
		break;
	case FMT_SCORE:
		half = 0.0005;
		break;
	default:
		half = 0.05;
	}
	return fabs(v) < half ? 0.0 : v;
}

/* -1, 0 or 1: the sign of the printed value (0 for a dash). */
static int printed_sign(double v, enum fmt f)
{
	if (isnan(v))
		return 0;
	v = printed_value(v, f);
	return (v > 0) - (v < 0);
}

static void put_num(FILE *out, double v, enum fmt f)
{
	if (isnan(v)) {
		fputs(DASH, out);
		return;
	}
	v = printed_value(v, f);
	switch (f) {
	case FMT_COUNT:
		fprintf(out, "%.0f", v);
		break;
	case FMT_MONEY:
		fprintf(out, "%s$%.2f", v > 0 ? "+" : v < 0 ? "-" : "", fabs(v));
		break;
	case FMT_PCT:
		fprintf(out, "%.1f%%", v * 100.0);
		break;
	case FMT_PCT_SIGNED:
		fprintf(out, v != 0 ? "%+.1f%%" : "%.1f%%", v * 100.0);
		break;
	case FMT_RATIO:
		fprintf(out, "%.2f", v);
		break;
	case FMT_SCORE:
		fprintf(out, "%.3f", v);
		break;
	case FMT_MINUTES:
		if (fabs(v) < 120)
			fprintf(out, "%.0f min", v);
		else
			fprintf(out, "%.1f h", v / 60.0);
		break;
	case FMT_HOURS:
		fprintf(out, "%.1f h", v);
		break;
	}
}

/* A knob value: integers as integers, reals with up to 6 significant
 * digits (smoothed knobs carry long tails), text escaped. */
static void put_plain_value(FILE *out, const json_t *v)
{
	double d = num(v);
	if (json_is_integer(v))
		fprintf(out, "%lld", (long long)json_integer_value(v));
	else if (!isnan(d))
		fprintf(out, "%.6g", d == 0 ? 0.0 : d); /* never "-0" */
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "true" : "false", out);
	else
		put_json_text(out, v);
}

static const char *tone(double v, enum fmt f)
{
	if (f != FMT_MONEY && f != FMT_PCT_SIGNED)
		return "";
	switch (printed_sign(v, f)) {
	case 1:
		return " pos";
	case -1:
		return " neg";
	default:
		return "";
	}
}

static void put_cell(FILE *out, double v, enum fmt f)
{
	fprintf(out, "<td class=\"num%s\">", tone(v, f));
	put_num(out, v, f);
	fputs("</td>", out);
}

/* ---- the page frame --------------------------------------------------- */

static const char style_sheet[] =
    "body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;"
    "color:#1d2329;background:#fff;max-width:1040px;margin:0 auto;padding:24px 20px 48px}\n"
    "h1{font-size:22px;margin:0 0 4px}\n"
    "h2{font-size:16px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #d8dde3}\n"
    "h3{font-size:14px;margin:12px 0 4px}\n"
    "a{color:#0b57d0}\n"
    ".sub,.note,figcaption{color:#5b6670}\n"
    ".note,figcaption{font-size:12px}\n"
    ".headline{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0 0}\n"
    ".headline div{border:1px solid #d8dde3;border-radius:6px;padding:8px 14px;min-width:120px}\n"
    ".headline dt{font-size:12px;color:#5b6670}\n"
    ".headline dd{margin:0;font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}\n"
    "table{border-collapse:collapse;margin:4px 0 12px}\n"
    "th,td{padding:3px 10px;border-bottom:1px solid #e6e9ed;text-align:left;vertical-align:top}\n"
    "th{font-weight:600;background:#f4f6f8}\n"
    "tbody th{background:none;font-weight:normal}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".pos{color:#1a7f37}\n"
    ".neg{color:#c62828}\n"
    ".pair{display:flex;flex-wrap:wrap;gap:8px 32px}\n"
    ".badge{display:inline-block;padding:2px 8px;border-radius:4px;font-weight:600}\n"
    ".warn{background:#fff4e0;color:#8a4b00;border:1px solid #f0c27a}\n"
    ".ok{background:#eef6ee;color:#1a7f37;border:1px solid #b7dcb9}\n"
    "figure.chart{margin:16px 0}\n"
    "figure.chart svg{display:block;max-width:100%;height:auto}\n"
    "svg text{font-size:11px;fill:#5b6670}\n"
    "svg .frame{stroke:#9aa5b1;fill:none}\n"
    "svg .grid{stroke:#e6e9ed}\n"
    "svg .ref{stroke:#9aa5b1;stroke-dasharray:2 3}\n"
    "svg .line{fill:none;stroke:#1f6feb;stroke-width:2}\n"
    "svg .area{fill:#c62828;fill-opacity:.25;stroke:#c62828;stroke-width:1.5}\n"
    "svg .bar{fill:#1f6feb;fill-opacity:.75}\n"
    "svg .diag{stroke:#9aa5b1;stroke-dasharray:4 4}\n"
    "svg .dot{fill:#1f6feb}\n"
    "svg text.empty{font-size:14px;fill:#9aa5b1}\n"
    "footer{margin-top:32px;color:#5b6670;font-size:12px}\n"
    "@media print{body{max-width:none;padding:0;font-size:11px}"
    "section,figure,table{break-inside:avoid}"
    "*{print-color-adjust:exact;-webkit-print-color-adjust:exact}a{color:inherit}}\n";

/* The document up to <body>; the title is title, then date when not NULL,
 * so that a row of browser tabs shows which day each is. */
static void put_head(FILE *out, const char *title, const char *date)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>",
	      out);
	put_text(out, title);
	if (date) {
		putc(' ', out);
		put_text(out, date);
	}
	fputs(" " DASH " tradelearn</title>\n<style>\n", out);
	fputs(style_sheet, out);
	fputs("</style>\n</head>\n<body>\n", out);
}

/* ---- tables ----------------------------------------------------------- */

struct figure_row {
	const char *label;
	const char *key;
	enum fmt fmt;
};

static const struct figure_row trade_rows[] = {
    {"Trades", "count", FMT_COUNT},
    {"Wins", "wins", FMT_COUNT},
    {"Losses", "losses", FMT_COUNT},
    {"Win rate", "win_rate", FMT_PCT},
    {"Profit factor", "profit_factor", FMT_RATIO},
    {"Expectancy", "expectancy", FMT_PCT_SIGNED},
    {"Payoff ratio", "payoff_ratio", FMT_RATIO},
    {"Average win", "avg_win", FMT_PCT_SIGNED},
    {"Average loss", "avg_loss", FMT_PCT_SIGNED},
    {"P&L", "pnl_usd", FMT_MONEY},
    {"Average hold", "avg_hold_minutes", FMT_MINUTES},
    {"Longest winning streak", "max_consecutive_wins", FMT_COUNT},
    {"Longest losing streak", "max_consecutive_losses", FMT_COUNT},
};

static const struct figure_row return_rows[] = {
    {"Trading days", "days", FMT_COUNT},
    {"Sharpe", "sharpe", FMT_RATIO},
    {"Sortino", "sortino", FMT_RATIO},
    {"Max drawdown", "max_drawdown", FMT_PCT_SIGNED},
    {"Calmar", "calmar", FMT_RATIO},
    {"Annual return", "annual_return", FMT_PCT_SIGNED},
    {"Annual volatility", "annual_volatility", FMT_PCT},
};

/* A table with one row per figure and one column per object (a null object
 * gives a column of dashes). */
static void put_figure_table(FILE *out, const struct figure_row *rows, size_t n_rows,
			     const char *const *columns, const json_t *const *objects,
			     size_t n_columns)
{
	fputs("<table>\n<thead><tr><th></th>", out);
	for (size_t c = 0; c < n_columns; c++) {
		fputs("<th class=\"num\">", out);
		put_text(out, columns[c]);
		fputs("</th>", out);
	}
	fputs("</tr></thead>\n<tbody>\n", out);
	for (size_t r = 0; r < n_rows; r++) {
		fputs("<tr><th scope=\"row\">", out);
		put_text(out, rows[r].label);
		fputs("</th>", out);
		for (size_t c = 0; c < n_columns; c++)
			put_cell(out, field(objects[c], rows[r].key), rows[r].fmt);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
}

static const json_t *window_part(const json_t *report, const char *window, const char *part)
{
	return json_object_get(json_object_get(json_object_get(report, "windows"), window), part);
}

static void put_header(FILE *out, const json_t *report, const char *date)
{
	const json_t *day = json_object_get(report, "day");
	const json_t *retrain = json_object_get(report, "retrain");
	const json_t *generated = json_object_get(report, "generated_at");
	static const struct figure_row headline[] = {
	    {"Trades", "count", FMT_COUNT},
	    {"Win rate", "win_rate", FMT_PCT},
	    {"P&L", "pnl_usd", FMT_MONEY},
	    {"Profit factor", "profit_factor", FMT_RATIO},
	};

	fputs("<header>\n<h1>Post-market report <time datetime=\"", out);
	put_text(out, date);
	fputs("\">", out);
	put_text(out, date);
	fputs("</time></h1>\n<p class=\"sub\">Generated ", out);
	put_json_text(out, generated);
	fputs(" by tradelearn", out);
	if (json_is_true(json_object_get(retrain, "triggered")))
		fputs(" &middot; <span class=\"badge warn\">Retrain triggered</span>", out);
	fputs("</p>\n<dl class=\"headline\">\n", out);
	for (size_t i = 0; i < sizeof(headline) / sizeof(headline[0]); i++) {
		double v = field(day, headline[i].key);
		fputs("<div><dt>", out);
		put_text(out, headline[i].label);
		fprintf(out, "</dt><dd class=\"num%s\">", tone(v, headline[i].fmt));
		put_num(out, v, headline[i].fmt);
		fputs("</dd></div>\n", out);
	}
	fputs("</dl>\n</header>\n", out);
}

static void put_windows(FILE *out, const json_t *report)
{
	static const char *const trade_columns[] = {"Day", "7 days", "30 days", "All time"};
	static const char *const return_columns[] = {"7 days", "30 days", "All time"};
	const json_t *trades[] = {
	    json_object_get(report, "day"),
	    window_part(report, "7d", "trades"),
	    window_part(report, "30d", "trades"),
	    window_part(report, "all", "trades"),
	};
	const json_t *returns[] = {
	    window_part(report, "7d", "returns"),
	    window_part(report, "30d", "returns"),
	    window_part(report, "all", "returns"),
	};

	fputs("<section id=\"trades\">\n<h2>Trades: the day against the rolling windows</h2>\n",
	      out);
	put_figure_table(out, trade_rows, sizeof(trade_rows) / sizeof(trade_rows[0]), trade_columns,
			 trades, 4);
	fputs("<p class=\"note\">Win rate, expectancy and average win and loss are per trade, in "
	      "percent of the position.</p>\n</section>\n",
	      out);
	fputs("<section id=\"returns\">\n<h2>Daily returns by window</h2>\n", out);
	put_figure_table(out, return_rows, sizeof(return_rows) / sizeof(return_rows[0]),
			 return_columns, returns, 3);
	fputs("</section>\n", out);
}

/* ---- symbols and breakdowns ------------------------------------------- */

struct keyed {
	const char *key;
	const json_t *trades;
	double pnl;
};

/* Highest P&L first; equal P&L by key, so the order is reproducible. */
static int by_pnl_desc(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->pnl != y->pnl)
		return x->pnl < y->pnl ? 1 : -1;
	return strcmp(x->key, y->key);
}

static void put_group_head(FILE *out, const char *first_column)
{
	fputs("<table>\n<thead><tr><th>", out);
	put_text(out, first_column);
	fputs("</th><th class=\"num\">Trades</th><th class=\"num\">Win rate</th>"
	      "<th class=\"num\">P&amp;L</th><th class=\"num\">Profit factor</th>"
	      "<th class=\"num\">Expectancy</th></tr></thead>\n<tbody>\n",
	      out);
}

static void put_group_row(FILE *out, const char *key, const json_t *trades)
{
	fputs("<tr><th scope=\"row\">", out);
	put_text(out, *key ? key : DASH);
	fputs("</th>", out);
	put_cell(out, field(trades, "count"), FMT_COUNT);
	put_cell(out, field(trades, "win_rate"), FMT_PCT);
	put_cell(out, field(trades, "pnl_usd"), FMT_MONEY);
	put_cell(out, field(trades, "profit_factor"), FMT_RATIO);
	put_cell(out, field(trades, "expectancy"), FMT_PCT_SIGNED);
	fputs("</tr>\n", out);
}

/* The best and worst symbols of the 30-day window by P&L: up to three each,
 * never the same symbol in both (with five symbols: three best, two worst).
 * Symbols whose P&L is null are left out of both. Returns -1 on ENOMEM. */
static int put_symbols(FILE *out, const json_t *report)
{
	const json_t *symbols = json_object_get(json_object_get(report, "breakdowns"), "symbol");
	size_t n = 0, n_best, n_worst;
	struct keyed *rows = NULL;
	const char *key;
	json_t *value;

	fputs("<section id=\"symbols\">\n<h2>Best and worst symbols, 30 days</h2>\n", out);
	if (json_object_size(symbols) > 0) {
		rows = calloc(json_object_size(symbols), sizeof(*rows));
		if (!rows)
			return -1;
	}
	json_object_foreach((json_t *)symbols, key, value)
	{
		double pnl = field(value, "pnl_usd");
		if (isnan(pnl))
			continue;
		rows[n].key = key;
		rows[n].trades = value;
		rows[n].pnl = pnl;
		n++;
	}
	if (n == 0) {
		fputs("<p>No symbol with a P&amp;L in the last 30 days.</p>\n</section>\n", out);
		free(rows);
		return 0;
	}
	qsort(rows, n, sizeof(*rows), by_pnl_desc);
	n_best = (n + 1) / 2 < 3 ? (n + 1) / 2 : 3;
	n_worst = n / 2 < 3 ? n / 2 : 3;

	fputs("<div class=\"pair\">\n<div>\n<h3>Best</h3>\n", out);
	put_group_head(out, "Symbol");
	for (size_t i = 0; i < n_best; i++)
		put_group_row(out, rows[i].key, rows[i].trades);
	fputs("</tbody>\n</table>\n</div>\n", out);
	if (n_worst > 0) {
		fputs("<div>\n<h3>Worst</h3>\n", out);
		put_group_head(out, "Symbol");
		for (size_t i = 0; i < n_worst; i++)
			put_group_row(out, rows[n - 1 - i].key, rows[n - 1 - i].trades);
		fputs("</tbody>\n</table>\n</div>\n", out);
	}
	fputs("</div>\n</section>\n", out);
	free(rows);
	return 0;
}

static const char *dimension_title(const char *key)
{
	static const char *const titles[][2] = {
	    {"symbol", "Symbol"},
	    {"regime", "Regime"},
	    {"time_of_day", "Time of day"},
	    {"day_of_week", "Day of week"},
	    {"confidence", "Confidence"},
	    {"exit_reason", "Exit reason"},
	    {"side", "Side"},
	};
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i][0], key) == 0)
			return titles[i][1];
	return key;
}

/* Every breakdown in the report's own order (the daily job orders time of
 * day and weekdays chronologically). */
static void put_breakdowns(FILE *out, const json_t *report)
{
	const json_t *breakdowns = json_object_get(report, "breakdowns");
	const char *dimension, *key;
	json_t *groups, *trades;

	fputs("<section id=\"breakdowns\">\n<h2>Breakdowns, 30 days</h2>\n", out);
	if (json_object_size(breakdowns) == 0)
		fputs("<p>No breakdowns.</p>\n", out);
	json_object_foreach((json_t *)breakdowns, dimension, groups)
	{
		fputs("<h3>", out);
		put_text(out, dimension_title(dimension));
		fputs("</h3>\n", out);
		if (json_object_size(groups) == 0) {
			fputs("<p>No trades.</p>\n", out);
			continue;
		}
		put_group_head(out, dimension_title(dimension));
		json_object_foreach(groups, key, trades) put_group_row(out, key, trades);
		fputs("</tbody>\n</table>\n", out);
	}
	fputs("</section>\n", out);
}

/* ---- knobs, retrain, missed, stale, model ----------------------------- */

/* A knob changed when it has a reason, or when its value differs from the
 * previous one (a reason is how the daily job marks a change; the values
 * are checked too, so that a change is never hidden). */
static int knob_changed(const json_t *knob)
{
	const char *reason = json_string_value(json_object_get(knob, "reason"));
	const json_t *value = json_object_get(knob, "value");
	const json_t *previous = json_object_get(knob, "previous");
	if (reason && *reason)
		return 1;
	if (json_is_number(value) && json_is_number(previous))
		return json_number_value(value) != json_number_value(previous);
	return 0;
}

static void put_knobs(FILE *out, const json_t *report)
{
	const json_t *knobs = json_object_get(report, "knobs");
	const char *name;
	json_t *knob;
	int any = 0;

	fputs("<section id=\"knobs\">\n<h2>Knob changes</h2>\n", out);
	json_object_foreach((json_t *)knobs, name, knob)
	{
		if (!knob_changed(knob))
			continue;
		if (!any)
			fputs("<table>\n<thead><tr><th>Knob</th><th class=\"num\">Previous</th>"
			      "<th class=\"num\">New</th><th>Reason</th></tr></thead>\n<tbody>\n",
			      out);
		any = 1;
		fputs("<tr><th scope=\"row\">", out);
		put_text(out, name);
		fputs("</th><td class=\"num\">", out);
		put_plain_value(out, json_object_get(knob, "previous"));
		fputs("</td><td class=\"num\">", out);
		put_plain_value(out, json_object_get(knob, "value"));
		fputs("</td><td>", out);
		put_json_text(out, json_object_get(knob, "reason"));
		fputs("</td></tr>\n", out);
	}
	if (any)
		fputs("</tbody>\n</table>\n", out);
	else
		fputs("<p>No change.</p>\n", out);
	fputs("</section>\n", out);
}

/* The strings of array v as list items; non-strings are skipped. Returns
 * how many were written. */
static size_t put_string_items(FILE *out, const json_t *v)
{
	size_t i, written = 0;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);
		if (!s || !*s)
			continue;
		if (written == 0)
			fputs("<ul>\n", out);
		fputs("<li>", out);
		put_text(out, s);
		fputs("</li>\n", out);
		written++;
	}
	if (written > 0)
		fputs("</ul>\n", out);
	return written;
}

static void put_retrain(FILE *out, const json_t *report)
{
	const json_t *retrain = json_object_get(report, "retrain");
	const json_t *triggered = json_object_get(retrain, "triggered");

	fputs("<section id=\"retrain\">\n<h2>Retrain</h2>\n<p>", out);
	if (json_is_true(triggered))
		fputs("<span class=\"badge warn\">Retrain triggered</span>", out);
	else if (json_is_false(triggered))
		fputs("<span class=\"badge ok\">No retrain</span>", out);
	else
		fputs("Retrain decision: " DASH, out);
	fputs("</p>\n", out);
	put_string_items(out, json_object_get(retrain, "reasons"));
	fputs("</section>\n", out);
}

static void put_missed(FILE *out, const json_t *report)
{
	const json_t *missed = json_object_get(report, "missed");
	const json_t *by_reason = json_object_get(missed, "by_reason");
	double pnl = field(missed, "missed_pnl_usd");
	const char *reason;
	json_t *entry;

	fputs("<section id=\"missed\">\n<h2>Missed opportunities</h2>\n<p>Signals not taken: ",
	      out);
	put_num(out, field(missed, "count"), FMT_COUNT);
	fprintf(out, "; their hypothetical P&amp;L: <span class=\"num%s\">", tone(pnl, FMT_MONEY));
	put_num(out, pnl, FMT_MONEY);
	fputs("</span>.</p>\n", out);
	if (json_object_size(by_reason) > 0) {
		fputs("<table>\n<thead><tr><th>Reason not traded</th><th class=\"num\">Signals</th>"
		      "<th class=\"num\">Hypothetical P&amp;L</th></tr></thead>\n<tbody>\n",
		      out);
		json_object_foreach((json_t *)by_reason, reason, entry)
		{
			fputs("<tr><th scope=\"row\">", out);
			put_text(out, *reason ? reason : DASH);
			fputs("</th>", out);
			put_cell(out, field(entry, "count"), FMT_COUNT);
			put_cell(out, field(entry, "pnl_usd"), FMT_MONEY);
			fputs("</tr>\n", out);
		}
		fputs("</tbody>\n</table>\n", out);
	}
	if (json_array_size(json_object_get(missed, "suggestions")) > 0) {
		fputs("<h3>Suggestions</h3>\n", out);
		put_string_items(out, json_object_get(missed, "suggestions"));
	}
	fputs("</section>\n", out);
}

static void put_stale(FILE *out, const json_t *report)
{
	const json_t *stale = json_object_get(report, "stale_positions");
	size_t i;
	json_t *position;

	fputs("<section id=\"stale\">\n<h2>Stale positions</h2>\n", out);
	if (json_array_size(stale) == 0) {
		fputs("<p>None.</p>\n</section>\n", out);
		return;
	}
	fputs("<table>\n<thead><tr><th>Symbol</th><th>Opened</th><th class=\"num\">Age</th></tr>"
	      "</thead>\n<tbody>\n",
	      out);
	json_array_foreach(stale, i, position)
	{
		fputs("<tr><th scope=\"row\">", out);
		put_json_text(out, json_object_get(position, "symbol"));
		fputs("</th><td>", out);
		put_json_text(out, json_object_get(position, "opened_at"));
		fputs("</td>", out);
		put_cell(out, field(position, "age_hours"), FMT_HOURS);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n</section>\n", out);
}

static void put_model(FILE *out, const json_t *report)
{
	static const struct figure_row rows[] = {
	    {"Trades scored", "trades_scored", FMT_COUNT},
	    {"Log loss (lower is better)", "log_loss", FMT_SCORE},
	    {"AUC (0.5 is chance)", "auc", FMT_SCORE},
	    {"Brier score (lower is better)", "brier", FMT_SCORE},
	    {"Expected calibration error", "ece", FMT_SCORE},
	};
	static const char *const columns[] = {"Progressive"};
	const json_t *model[] = {json_object_get(report, "model")};

	fputs("<section id=\"model\">\n<h2>Model health</h2>\n", out);
	put_figure_table(out, rows, sizeof(rows) / sizeof(rows[0]), columns, model, 1);
	fputs("</section>\n", out);
}

/* ---- charts ----------------------------------------------------------- */

#define CHART_W 640
#define CHART_H 260
#define PAD_LEFT 60
#define PAD_RIGHT 20
#define PAD_TOP 18
#define PAD_BOTTOM 40
#define PLOT_W (CHART_W - PAD_LEFT - PAD_RIGHT)
#define PLOT_H (CHART_H - PAD_TOP - PAD_BOTTOM)

/* Data ranges of a chart; axis_settle() guarantees hi > lo, both finite. */
struct plot {
	FILE *out;
	double x_lo, x_hi, y_lo, y_hi;
};

/* Makes [lo, hi] a usable axis: finite, ordered, and never of zero width,
 * so the scales below never divide by zero. A flat series gets 5% of its
 * level (or 1) of room either side. */
static void axis_settle(double *lo, double *hi)
{
	double span, level;
	if (!isfinite(*lo) || !isfinite(*hi)) {
		*lo = 0;
		*hi = 1;
		return;
	}
	if (*hi < *lo) {
		double t = *lo;
		*lo = *hi;
		*hi = t;
	}
	/* Keeps hi - lo finite: nothing a report holds comes near this. */
	*lo = fmax(*lo, -1e15);
	*hi = fmin(*hi, 1e15);
	span = *hi - *lo;
	level = fmax(fabs(*lo), fabs(*hi));
	if (!(span > level * 1e-9) || !(span > 1e-12)) {
		double pad = level > 0 ? level * 0.05 : 1;
		if (pad < 1e-9)
			pad = 1e-9;
		*lo -= pad;
		*hi += pad;
	}
}

static double plot_x(const struct plot *p, double x)
{
	return PAD_LEFT + (x - p->x_lo) / (p->x_hi - p->x_lo) * PLOT_W;
}

static double plot_y(const struct plot *p, double y)
{
	return PAD_TOP + PLOT_H - (y - p->y_lo) / (p->y_hi - p->y_lo) * PLOT_H;
}

/* Every coordinate goes through here: whatever went wrong upstream, a
 * non-finite value never reaches the SVG, and a wild one stays near the
 * canvas. */
static void put_coord(FILE *out, double v)
{
	if (!isfinite(v))
		v = 0;
	v = fmax(-10 * CHART_W, fmin(10 * CHART_W, v));
	if (fabs(v) < 0.05)
		v = 0;
	fprintf(out, "%.1f", v);
}

static void put_point(FILE *out, double x, double y)
{
	put_coord(out, x);
	putc(',', out);
	put_coord(out, y);
	putc(' ', out);
}

static void put_line(FILE *out, const char *cls, double x1, double y1, double x2, double y2)
{
	fprintf(out, "<line class=\"%s\" x1=\"", cls);
	put_coord(out, x1);
	fputs("\" y1=\"", out);
	put_coord(out, y1);
	fputs("\" x2=\"", out);
	put_coord(out, x2);
	fputs("\" y2=\"", out);
	put_coord(out, y2);
	fputs("\"/>\n", out);
}

/* Opens <text> at (x, y); the caller writes the content and "</text>". */
static void open_text(FILE *out, double x, double y, const char *anchor)
{
	fputs("<text x=\"", out);
	put_coord(out, x);
	fputs("\" y=\"", out);
	put_coord(out, y);
	fprintf(out, "\" text-anchor=\"%s\">", anchor);
}

static void chart_open(FILE *out, const char *id, const char *title)
{
	fprintf(
	    out,
	    "<figure class=\"chart\">\n<svg id=\"%s\" role=\"img\" aria-labelledby=\"%s-title\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"%s-title\">",
	    id, id, CHART_W, CHART_H, CHART_W, CHART_H, id);
	put_text(out, title);
	fputs("</title>\n", out);
}

static void chart_close(FILE *out, const char *caption)
{
	fputs("<rect class=\"frame\" x=\"", out);
	put_coord(out, PAD_LEFT);
	fputs("\" y=\"", out);
	put_coord(out, PAD_TOP);
	fprintf(out, "\" width=\"%d\" height=\"%d\"/>\n</svg>\n<figcaption>", PLOT_W, PLOT_H);
	put_text(out, caption);
	fputs("</figcaption>\n</figure>\n", out);
}

static void chart_no_data(FILE *out)
{
	fputs("<text class=\"empty\" x=\"", out);
	put_coord(out, PAD_LEFT + PLOT_W / 2.0);
	fputs("\" y=\"", out);
	put_coord(out, PAD_TOP + PLOT_H / 2.0);
	fputs("\" text-anchor=\"middle\">no data</text>\n", out);
}

enum axis_fmt { AXIS_PLAIN, AXIS_PCT };

/* A step of 1, 2 or 5 times a power of ten giving about four intervals, or
 * 0 when the span is too odd to have one. */
static double nice_step(double span)
{
	double raw = span / 4, magnitude, fraction;
	if (!(raw > 0) || !isfinite(raw))
		return 0;
	magnitude = pow(10, floor(log10(raw)));
	if (!(magnitude > 0) || !isfinite(magnitude))
		return 0;
	fraction = raw / magnitude;
	return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * magnitude;
}

static void put_tick_label(FILE *out, double v, double step, enum axis_fmt fmt)
{
	double scale = fmt == AXIS_PCT ? 100 : 1;
	int decimals = 0;
	if (step * scale < 1)
		decimals = (int)ceil(-log10(step * scale) - 1e-9);
	if (decimals < 0)
		decimals = 0;
	if (decimals > 6)
		decimals = 6;
	v *= scale;
	if (fabs(v) < step * scale * 1e-6)
		v = 0;
	fprintf(out, "%.*f%s", decimals, v, fmt == AXIS_PCT ? "%" : "");
}

/* Horizontal grid lines with labels at nice values of the y range. */
static void put_y_ticks(const struct plot *p, enum axis_fmt fmt)
{
	double step = nice_step(p->y_hi - p->y_lo);
	double first, v;
	int i;
	if (step == 0)
		return;
	first = ceil(p->y_lo / step - 1e-9) * step;
	for (i = 0; i < 12; i++) {
		v = first + i * step;
		if (v > p->y_hi + step * 1e-9)
			break;
		put_line(p->out, "grid", PAD_LEFT, plot_y(p, v), PAD_LEFT + PLOT_W, plot_y(p, v));
		open_text(p->out, PAD_LEFT - 6, plot_y(p, v) + 4, "end");
		put_tick_label(p->out, v, step, fmt);
		fputs("</text>\n", p->out);
	}
}

/* Vertical tick labels at nice values of the x range (calibration). */
static void put_x_ticks(const struct plot *p, enum axis_fmt fmt)
{
	double step = nice_step(p->x_hi - p->x_lo);
	double first, v;
	int i;
	if (step == 0)
		return;
	first = ceil(p->x_lo / step - 1e-9) * step;
	for (i = 0; i < 12; i++) {
		v = first + i * step;
		if (v > p->x_hi + step * 1e-9)
			break;
		put_line(p->out, "grid", plot_x(p, v), PAD_TOP, plot_x(p, v), PAD_TOP + PLOT_H);
		open_text(p->out, plot_x(p, v), PAD_TOP + PLOT_H + 16, "middle");
		put_tick_label(p->out, v, step, fmt);
		fputs("</text>\n", p->out);
	}
}

/* Date labels under a series of n points (n >= 2) placed by index: the
 * first, the last and up to three between. */
static void put_date_ticks(const struct plot *p, const json_t *series, size_t n)
{
	size_t last_index = (size_t)-1;
	for (size_t k = 0; k < 5; k++) {
		size_t i = (size_t)llround((double)k * (double)(n - 1) / 4.0);
		const char *anchor = k == 0 ? "start" : k == 4 ? "end" : "middle";
		if (i == last_index)
			continue;
		last_index = i;
		put_line(p->out, "frame", plot_x(p, (double)i), PAD_TOP + PLOT_H,
			 plot_x(p, (double)i), PAD_TOP + PLOT_H + 4);
		open_text(p->out, plot_x(p, (double)i), PAD_TOP + PLOT_H + 16, anchor);
		put_json_text(p->out, json_object_get(json_array_get(series, i), "date"));
		fputs("</text>\n", p->out);
	}
}

/* Counts the points of series whose key is a finite number, and their
 * range. */
static size_t series_range(const json_t *series, const char *key, double *lo, double *hi)
{
	size_t i, n = 0;
	json_t *point;
	*lo = INFINITY;
	*hi = -INFINITY;
	json_array_foreach(series, i, point)
	{
		double v = field(point, key);
		if (isnan(v))
			continue;
		*lo = fmin(*lo, v);
		*hi = fmax(*hi, v);
		n++;
	}
	return n;
}

static void chart_equity(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "equity");
	size_t n = json_array_size(series), i;
	struct plot p = {.out = out};
	json_t *point;

	chart_open(out, "chart-equity", "Equity curve, all time (compounded, 1.00 at the start)");
	if (series_range(series, "equity", &p.y_lo, &p.y_hi) < 2 || n < 2) {
		chart_no_data(out);
		chart_close(out, "Equity: not enough trading days to draw.");
		return;
	}
	if (p.y_hi > p.y_lo) {
		double pad = (p.y_hi - p.y_lo) * 0.05;
		p.y_lo -= pad;
		p.y_hi += pad;
	}
	axis_settle(&p.y_lo, &p.y_hi);
	p.x_lo = 0;
	p.x_hi = (double)(n - 1);
	put_y_ticks(&p, AXIS_PLAIN);
	if (p.y_lo < 1 && 1 < p.y_hi)
		put_line(out, "ref", PAD_LEFT, plot_y(&p, 1), PAD_LEFT + PLOT_W, plot_y(&p, 1));
	put_date_ticks(&p, series, n);
	fputs("<polyline class=\"line\" points=\"", out);
	json_array_foreach(series, i, point)
	{
		double v = field(point, "equity");
		if (!isnan(v))
			put_point(out, plot_x(&p, (double)i), plot_y(&p, v));
	}
	fputs("\"/>\n", out);
	chart_close(out, "Equity, compounded from daily returns, one point per trading day; the "
			 "dotted line is the starting level.");
}

static void chart_drawdown(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "drawdown");
	size_t n = json_array_size(series), i;
	struct plot p = {.out = out};
	json_t *point;
	double first_x = NAN, last_x = NAN;

	chart_open(out, "chart-drawdown", "Drawdown from the running peak, all time");
	if (series_range(series, "drawdown", &p.y_lo, &p.y_hi) < 2 || n < 2) {
		chart_no_data(out);
		chart_close(out, "Drawdown: not enough trading days to draw.");
		return;
	}
	/* The area hangs from zero; a series that never fell shows a 1% scale. */
	p.y_hi = fmax(p.y_hi, 0);
	p.y_lo = fmin(p.y_lo * 1.05, -0.01);
	axis_settle(&p.y_lo, &p.y_hi);
	p.x_lo = 0;
	p.x_hi = (double)(n - 1);
	put_y_ticks(&p, AXIS_PCT);
	put_date_ticks(&p, series, n);
	fputs("<polygon class=\"area\" points=\"", out);
	json_array_foreach(series, i, point)
	{
		double v = field(point, "drawdown");
		if (isnan(v))
			continue;
		if (isnan(first_x)) {
			first_x = plot_x(&p, (double)i);
			put_point(out, first_x, plot_y(&p, 0));
		}
		last_x = plot_x(&p, (double)i);
		put_point(out, last_x, plot_y(&p, v));
	}
	put_point(out, last_x, plot_y(&p, 0));
	fputs("\"/>\n", out);
	chart_close(out, "Drawdown: how far equity stood below its highest point so far.");
}

static void chart_win_rate_by_hour(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "win_rate_by_hour");
	struct plot p = {.out = out, .y_lo = 0, .y_hi = 1};
	double first_hour = INFINITY, last_hour = -INFINITY, slot, label_every;
	size_t i, bars = 0;
	json_t *point;

	chart_open(out, "chart-win-rate-by-hour", "Win rate by hour of entry, all time");
	json_array_foreach(series, i, point)
	{
		double hour = field(point, "hour"), trades = field(point, "trades");
		if (isnan(hour) || hour < 0 || hour > 23 || isnan(trades) || trades < 1)
			continue;
		first_hour = fmin(first_hour, floor(hour));
		last_hour = fmax(last_hour, floor(hour));
		bars++;
	}
	if (bars == 0) {
		chart_no_data(out);
		chart_close(out, "Win rate by hour: no trades.");
		return;
	}
	p.x_lo = first_hour - 0.5;
	p.x_hi = last_hour + 0.5;
	slot = (double)PLOT_W / (p.x_hi - p.x_lo);
	label_every = ceil(40.0 / slot);
	put_y_ticks(&p, AXIS_PCT);
	for (double h = first_hour; h <= last_hour; h += 1) {
		if (fmod(h - first_hour, label_every) != 0)
			continue;
		open_text(out, plot_x(&p, h), PAD_TOP + PLOT_H + 16, "middle");
		fprintf(out, "%02d:00</text>\n", (int)h);
	}
	json_array_foreach(series, i, point)
	{
		double hour = field(point, "hour"), trades = field(point, "trades");
		double wins = field(point, "wins"), rate, top;
		if (isnan(hour) || hour < 0 || hour > 23 || isnan(trades) || trades < 1)
			continue;
		hour = floor(hour);
		rate = isnan(wins) ? 0 : fmax(0, fmin(1, wins / trades));
		top = plot_y(&p, rate);
		fputs("<rect class=\"bar\" x=\"", out);
		put_coord(out, plot_x(&p, hour) - slot * 0.35);
		fputs("\" y=\"", out);
		put_coord(out, top);
		fputs("\" width=\"", out);
		put_coord(out, slot * 0.7);
		fputs("\" height=\"", out);
		put_coord(out, PAD_TOP + PLOT_H - top);
		fputs("\"><title>", out);
		fprintf(out, "%02d:00: ", (int)hour);
		put_num(out, isnan(wins) ? NAN : rate, FMT_PCT);
		fputs(" of ", out);
		put_num(out, trades, FMT_COUNT);
		fputs(" trades</title></rect>\n", out);
		open_text(out, plot_x(&p, hour), fmax(top - 4, PAD_TOP + 10), "middle");
		put_num(out, trades, FMT_COUNT);
		fputs("</text>\n", out);
	}
	chart_close(out, "Share of winning trades by the exchange-local hour the trade was "
			 "opened; the number over each bar is its count of trades.");
}

static void chart_calibration(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "calibration");
	struct plot p = {.out = out, .x_lo = 0, .x_hi = 1, .y_lo = 0, .y_hi = 1};
	size_t i, points = 0;
	json_t *bucket;

	chart_open(out, "chart-calibration",
		   "Calibration: observed win rate against predicted probability");
	json_array_foreach(series, i, bucket)
	{
		if (field(bucket, "n") > 0 && !isnan(field(bucket, "mean_predicted")) &&
		    !isnan(field(bucket, "observed")))
			points++;
	}
	if (points == 0) {
		chart_no_data(out);
		chart_close(out, "Calibration: no scored trades.");
		return;
	}
	put_y_ticks(&p, AXIS_PLAIN);
	put_x_ticks(&p, AXIS_PLAIN);
	put_line(out, "diag", plot_x(&p, 0), plot_y(&p, 0), plot_x(&p, 1), plot_y(&p, 1));
	fputs("<polyline class=\"line\" points=\"", out);
	json_array_foreach(series, i, bucket)
	{
		double predicted = field(bucket, "mean_predicted"),
		       observed = field(bucket, "observed");
		if (!(field(bucket, "n") > 0) || isnan(predicted) || isnan(observed))
			continue;
		put_point(out, plot_x(&p, fmax(0, fmin(1, predicted))),
			  plot_y(&p, fmax(0, fmin(1, observed))));
	}
	fputs("\"/>\n", out);
	json_array_foreach(series, i, bucket)
	{
		double predicted = field(bucket, "mean_predicted"),
		       observed = field(bucket, "observed");
		if (!(field(bucket, "n") > 0) || isnan(predicted) || isnan(observed))
			continue;
		fputs("<circle class=\"dot\" r=\"3.5\" cx=\"", out);
		put_coord(out, plot_x(&p, fmax(0, fmin(1, predicted))));
		fputs("\" cy=\"", out);
		put_coord(out, plot_y(&p, fmax(0, fmin(1, observed))));
		fputs("\"><title>", out);
		put_num(out, field(bucket, "lo"), FMT_SCORE);
		fputs(" to ", out);
		put_num(out, field(bucket, "hi"), FMT_SCORE);
		fputs(": ", out);
		put_num(out, field(bucket, "n"), FMT_COUNT);
		fputs(" trades, predicted ", out);
		put_num(out, predicted, FMT_PCT);
		fputs(", observed ", out);
		put_num(out, observed, FMT_PCT);
		fputs("</title></circle>\n", out);
	}
	chart_close(out, "Calibration by confidence bucket: the observed win rate (up) against "
			 "the mean predicted probability (across); the dashed diagonal is perfect "
			 "calibration.");
}

static void put_charts(FILE *out, const json_t *report)
{
	const json_t *charts = json_object_get(report, "charts");
	fputs("<section id=\"charts\">\n<h2>Charts</h2>\n", out);
	chart_equity(out, charts);
	chart_drawdown(out, charts);
	chart_win_rate_by_hour(out, charts);
	chart_calibration(out, charts);
	fputs("</section>\n", out);
}

/* ---- the two pages ---------------------------------------------------- */

char *report_html_page(const json_t *report, char *err, size_t errlen)
{
	const char *date = json_string_value(json_object_get(report, "date"));
	struct page page;
	char *text;
	int failed = 0;

	if (!json_is_object(report)) {
		set_err(err, errlen, "report_html: the report is not a JSON object");
		return NULL;
	}
	if (!date) {
		set_err(err, errlen, "report_html: the report has no date string");
		return NULL;
	}
	if (page_open(&page) != 0)
		goto fail;
	put_head(page.out, "Post-market report", date);
	put_header(page.out, report, date);
	fputs("<main>\n", page.out);
	put_windows(page.out, report);
	if (put_symbols(page.out, report) != 0)
		failed = 1;
	put_knobs(page.out, report);
	put_retrain(page.out, report);
	put_missed(page.out, report);
	put_stale(page.out, report);
	put_model(page.out, report);
	put_charts(page.out, report);
	put_breakdowns(page.out, report);
	fputs("</main>\n<footer>The figures of this page are in post_market_", page.out);
	put_text(page.out, date);
	fputs(".json. <a href=\"index.html\">Every day</a></footer>\n</body>\n</html>\n", page.out);
	text = page_close(&page, failed);
	if (!text)
		goto fail;
	return text;
fail:
	set_err(err, errlen, "report_html: out of memory");
	return NULL;
}

struct day_entry {
	const char *date;
	const json_t *summary; /* NULL when the element was a bare date */
	size_t position;       /* in the input, so a repeated date keeps its first */
};

/* Newest first; the same date in input order. */
static int by_date_desc(const void *a, const void *b)
{
	const struct day_entry *x = a, *y = b;
	int c = strcmp(y->date, x->date);
	if (c != 0)
		return c;
	return (x->position > y->position) - (x->position < y->position);
}

/* YYYY-MM-DD with a month of 01-12 and a day of 01-31: the date becomes
 * part of a file name in a link, so nothing else may pass. */
static int is_iso_date(const char *s)
{
	static const char shape[] = "dddd-dd-dd";
	int month, day;
	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
			return 0;
	month = (s[5] - '0') * 10 + (s[6] - '0');
	day = (s[8] - '0') * 10 + (s[9] - '0');
	return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

char *report_html_index(const json_t *days, char *err, size_t errlen)
{
	size_t n = json_array_size(days), i, listed = 0;
	struct day_entry *entries = NULL;
	int with_summaries = 0;
	struct page page;
	json_t *element;
	char *text;

	if (!json_is_array(days)) {
		set_err(err, errlen, "report_html: the days are not a JSON array");
		return NULL;
	}
	if (n > 0) {
		entries = calloc(n, sizeof(*entries));
		if (!entries)
			goto nomem;
	}
	json_array_foreach(days, i, element)
	{
		const json_t *summary = json_is_object(element) ? element : NULL;
		const char *date =
		    json_string_value(summary ? json_object_get(summary, "date") : element);
		if (!date || !is_iso_date(date)) {
			if (err && errlen > 0)
				snprintf(err, errlen,
					 "report_html: days[%zu] is not a YYYY-MM-DD date or "
					 "a summary object with one",
					 i);
			free(entries);
			return NULL;
		}
		entries[i].date = date;
		entries[i].summary = summary;
		entries[i].position = i;
		if (summary)
			with_summaries = 1;
	}
	if (n > 1)
		qsort(entries, n, sizeof(*entries), by_date_desc);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(entries[i].date, entries[i - 1].date) != 0)
			listed++;

	if (page_open(&page) != 0)
		goto nomem;
	put_head(page.out, "Post-market reports", NULL);
	fputs("<header>\n<h1>Post-market reports</h1>\n<p class=\"sub\">", page.out);
	if (listed == 0)
		fputs("No reports yet.", page.out);
	else
		fprintf(page.out, "%zu trading day%s, newest first.", listed,
			listed == 1 ? "" : "s");
	fputs("</p>\n</header>\n<main>\n", page.out);
	if (listed > 0) {
		fputs("<table>\n<thead><tr><th>Date</th>", page.out);
		if (with_summaries)
			fputs("<th class=\"num\">Trades</th><th class=\"num\">Win rate</th>"
			      "<th class=\"num\">P&amp;L</th>",
			      page.out);
		fputs("<th>Data</th></tr></thead>\n<tbody>\n", page.out);
	}
	for (i = 0; i < n; i++) {
		const struct day_entry *d = &entries[i];
		if (i > 0 && strcmp(d->date, entries[i - 1].date) == 0)
			continue;
		fputs("<tr><th scope=\"row\"><a href=\"post_market_", page.out);
		put_text(page.out, d->date);
		fputs(".html\">", page.out);
		put_text(page.out, d->date);
		fputs("</a></th>", page.out);
		if (with_summaries) {
			put_cell(page.out, field(d->summary, "trades"), FMT_COUNT);
			put_cell(page.out, field(d->summary, "win_rate"), FMT_PCT);
			put_cell(page.out, field(d->summary, "pnl_usd"), FMT_MONEY);
		}
		fputs("<td><a href=\"post_market_", page.out);
		put_text(page.out, d->date);
		fputs(".json\">JSON</a></td></tr>\n", page.out);
	}
	if (listed > 0)
		fputs("</tbody>\n</table>\n", page.out);
	fputs("</main>\n</body>\n</html>\n", page.out);
	free(entries);
	entries = NULL;
	text = page_close(&page, 0);
	if (!text)
		goto nomem;
	return text;
nomem:
	free(entries);
	set_err(err, errlen, "report_html: out of memory");
	return NULL;
}
