/*
 * report_html — see report_html.h for the contract.
 *
 * Pages are written into an open_memstream() buffer, which grows as needed;
 * a write that fails (ENOMEM) sets the stream's error flag, checked once at
 * the end, so the writers below do not check every fprintf.
 */
#include "lib/report/report_html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/report/html.h"

/* ---- output buffer ---------------------------------------------------- */

int page_open(struct page *p)
{
	p->text = NULL;
	p->len = 0;
	p->out = open_memstream(&p->text, &p->len);
	return p->out ? 0 : -1;
}

/* Closes the stream; returns the text (the caller frees it), or NULL when
 * any write failed or `failed` is set (the text is freed then). */
char *page_close(struct page *p, int failed)
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

/* ---- text and numbers ------------------------------------------------- */

/* Writes s HTML-escaped: safe in element content and in quoted attributes. */
void put_text(FILE *out, const char *s)
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
void put_json_text(FILE *out, const json_t *v)
{
	const char *s = json_string_value(v);
	put_text(out, s && *s ? s : DASH);
}

/* The finite number at v, or NAN when v is null, missing, not a number or
 * not finite: NAN is "cannot be computed" everywhere below. */
double num(const json_t *v)
{
	double d;
	if (!json_is_number(v))
		return NAN;
	d = json_number_value(v);
	return isfinite(d) ? d : NAN;
}

double field(const json_t *obj, const char *key)
{
	return num(json_object_get(obj, key));
}

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
		half = 0.0005; /* 0.05% */
		break;
	case FMT_PCT_SIGNED:
		half = 0.00005; /* 0.005% */
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

void put_num(FILE *out, double v, enum fmt f)
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
		fprintf(out, v != 0 ? "%+.2f%%" : "%.2f%%", v * 100.0);
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
		if (fabs(v) < 72)
			fprintf(out, "%.1f h", v);
		else
			fprintf(out, "%.1f d", v / 24.0);
		break;
	}
}

/* An ISO-8601 timestamp as a person reads it: "2026-02-09T20:21:46.341659Z"
 * becomes "2026-02-09 20:21 UTC" and an offset is kept ("2026-02-09 15:21
 * -05:00"), inside a <time> element that keeps the full value; anything
 * else is written as it is (escaped), and a missing one as a dash. */
void put_timestamp(FILE *out, const json_t *v)
{
	static const char shape[] = "dddd-dd-ddTdd:dd";
	const char *s = json_string_value(v), *zone;
	size_t n = sizeof(shape) - 1, i;

	for (i = 0; s && i < n; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			break;
	if (!s || i < n) {
		put_json_text(out, v);
		return;
	}
	zone = s + n;
	if (*zone == ':') /* seconds and fraction */
		for (zone++; (*zone >= '0' && *zone <= '9') || *zone == '.'; zone++)
			;
	fputs("<time datetime=\"", out);
	put_text(out, s);
	fprintf(out, "\">%.10s %.5s", s, s + 11);
	if (strcmp(zone, "Z") == 0 || strcmp(zone, "+00:00") == 0) {
		fputs(" UTC", out);
	} else if (*zone) {
		putc(' ', out);
		put_text(out, zone);
	}
	fputs("</time>", out);
}

/* A knob value: integers as integers, reals with up to 6 significant
 * digits (smoothed knobs carry long tails), text escaped. */
void put_plain_value(FILE *out, const json_t *v)
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

const char *tone(double v, enum fmt f)
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

void put_cell(FILE *out, double v, enum fmt f)
{
	fprintf(out, "<td class=\"num%s\">", tone(v, f));
	put_num(out, v, f);
	fputs("</td>", out);
}

int fold_open(FILE *out, size_t n, const char *what)
{
	if (n <= FOLD_ROWS)
		return 0;
	fprintf(out, "<details>\n<summary>%zu ", n);
	put_text(out, what);
	fputs("</summary>\n", out);
	return 1;
}

void fold_close(FILE *out, int opened)
{
	if (opened)
		fputs("</details>\n", out);
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
    ".wrap{overflow-x:auto;max-width:100%}\n"
    "th,td{padding:3px 10px;border-bottom:1px solid #e6e9ed;text-align:left;vertical-align:top}\n"
    "table.group{font-size:13px}\n"
    "table.group th,table.group td{padding:3px 6px}\n"
    "table.group thead th{white-space:normal;vertical-align:bottom}\n"
    "th{font-weight:600;background:#f4f6f8}\n"
    "tbody th{background:none;font-weight:normal}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".pos{color:#1a7f37}\n"
    ".neg{color:#c62828}\n"
    ".groups{columns:2 420px;column-gap:40px}\n"
    ".groups>div{break-inside:avoid;overflow-x:auto;min-width:0}\n"
    ".groups h3{margin-top:4px}\n"
    "table.group{width:100%}\n"
    "tbody th{overflow-wrap:break-word}\n"
    ".badge{display:inline-block;padding:2px 8px;border-radius:4px;font-weight:600}\n"
    ".warn{background:#fff4e0;color:#8a4b00;border:1px solid #f0c27a}\n"
    ".ok{background:#eef6ee;color:#1a7f37;border:1px solid #b7dcb9}\n"
    ".plain{background:#f4f6f8;color:#1d2329;border:1px solid #d8dde3;font-weight:normal}\n"
    "td.moved{font-weight:700}\n"
    "td time,th a,td a{white-space:nowrap}\n"
    "tr.current th,tr.current td{background:#eef6ee}\n"
    "figure.chart{margin:16px 0 24px}\n"
    "figure.chart h3{margin:0 0 6px}\n"
    "figure.chart svg{display:block;max-width:100%;height:auto}\n"
    ".chart-pair{display:flex;flex-wrap:wrap;gap:0 40px}\n"
    ".chart-pair figure{flex:1 1 420px;max-width:480px}\n"
    "svg text{font-size:11px;fill:#5b6670}\n"
    "svg text.axis{font-size:12px;fill:#1d2329}\n"
    "svg text.count{font-size:10px}\n"
    "svg text.count.in{fill:#fff}\n"
    "svg .frame{stroke:#9aa5b1;fill:none}\n"
    "svg .grid{stroke:#e6e9ed}\n"
    "svg .ref{stroke:#9aa5b1;stroke-dasharray:2 3}\n"
    "svg .line{fill:none;stroke:#1f6feb;stroke-width:2}\n"
    "svg .area{fill:#c62828;fill-opacity:.25;stroke:#c62828;stroke-width:1.5}\n"
    "svg .bar{fill:#1f6feb;fill-opacity:.75}\n"
    "svg .diag{stroke:#9aa5b1;stroke-dasharray:4 4}\n"
    "svg .line.thin{stroke-width:1.25;stroke-opacity:.6}\n"
    "svg .dot{fill:#1f6feb;stroke:#fff;stroke-width:1}\n"
    "svg text.empty{font-size:14px;fill:#9aa5b1}\n"
    "details{margin:4px 0 12px}\n"
    "summary{cursor:pointer;color:#0b57d0;font-weight:600;padding:2px 0}\n"
    "footer{margin-top:32px;color:#5b6670;font-size:12px}\n"
    "@media print{body{max-width:none;padding:0;font-size:11px}"
    "h2,h3{break-after:avoid}figure,tr,.groups>div,.chart-pair{break-inside:avoid}"
    ".wrap,.groups>div{overflow:visible}"
    "details::details-content{content-visibility:visible;display:contents}"
    "summary{color:inherit;list-style:none}"
    "*{print-color-adjust:exact;-webkit-print-color-adjust:exact}a{color:inherit}}\n";

/* The document up to <body>; the title is title, then date when not NULL,
 * so that a row of browser tabs shows which day each is. */
void put_head(FILE *out, const char *title, const char *date)
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
void put_figure_table(FILE *out, const struct figure_row *rows, size_t n_rows,
		      const char *const *columns, const json_t *const *objects, size_t n_columns)
{
	fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th></th>", out);
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
	fputs("</tbody>\n</table>\n</div>\n", out);
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
	put_timestamp(out, generated);
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
	fputs("<table class=\"group\">\n<thead><tr><th>", out);
	put_text(out, first_column);
	fputs("</th><th class=\"num\">Trades</th><th class=\"num\">Win rate</th>"
	      "<th class=\"num\">P&amp;L</th><th class=\"num\">Profit factor</th>"
	      "<th class=\"num\">Expectancy</th></tr></thead>\n<tbody>\n",
	      out);
}

static void put_group_row(FILE *out, const char *key, const json_t *trades)
{
	fputs("<tr><th scope=\"row\">", out);
	if (!*key)
		fputs(DASH, out);
	/* Composite keys ("signal_decay+flow_reversal") may wrap after a '+'. */
	for (const char *part = key; *part;) {
		size_t len = strcspn(part, "+");
		char piece[256];
		while (len > 0) {
			size_t take = len < sizeof(piece) - 1 ? len : sizeof(piece) - 1;
			memcpy(piece, part, take);
			piece[take] = '\0';
			put_text(out, piece);
			part += take;
			len -= take;
		}
		if (*part == '+') {
			fputs("+<wbr>", out);
			part++;
		}
	}
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

	fputs("<div class=\"groups\">\n<div>\n<h3>Best</h3>\n", out);
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
	    {"strategy", "Strategy"},
	};
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i][0], key) == 0)
			return titles[i][1];
	return key;
}

/* Confidence buckets by key ("0.3-0.4" before "0.4-0.5"). */
static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Symbols by P&L, best first (symbols whose P&L is null last, by name),
 * confidence buckets by key, every other breakdown in the report's own
 * order (the daily job orders time of day and weekdays chronologically).
 * Each is a block of a two-column flow, so that short tables sit side by
 * side and a long symbol list does not push everything else down. Returns
 * -1 on ENOMEM. */
static int put_breakdowns(FILE *out, const json_t *report)
{
	const json_t *breakdowns = json_object_get(report, "breakdowns");
	const char *dimension, *key;
	json_t *groups, *trades;

	const char *basis = json_string_value(json_object_get(report, "pnl_basis"));
	fputs("<section id=\"breakdowns\">\n<h2>Breakdowns, 30 days</h2>\n", out);
	if (basis) {
		fputs("<p class=\"basis\">P&amp;L fractions: ", out);
		put_text(out, basis);
		fputs("</p>\n", out);
	}
	if (json_object_size(breakdowns) == 0)
		fputs("<p>No breakdowns.</p>\n", out);
	else
		fputs("<div class=\"groups\">\n", out);
	json_object_foreach((json_t *)breakdowns, dimension, groups)
	{
		size_t n = 0;
		struct keyed *rows;

		fputs("<div>\n<h3>", out);
		put_text(out, dimension_title(dimension));
		fputs("</h3>\n", out);
		if (json_object_size(groups) == 0) {
			fputs("<p>No trades.</p>\n</div>\n", out);
			continue;
		}
		rows = calloc(json_object_size(groups), sizeof(*rows));
		if (!rows)
			return -1;
		json_object_foreach(groups, key, trades)
		{
			double pnl = field(trades, "pnl_usd");
			rows[n].key = key;
			rows[n].trades = trades;
			rows[n].pnl = isnan(pnl) ? -INFINITY : pnl;
			n++;
		}
		if (strcmp(dimension, "symbol") == 0)
			qsort(rows, n, sizeof(*rows), by_pnl_desc);
		else if (strcmp(dimension, "confidence") == 0)
			qsort(rows, n, sizeof(*rows), by_key);
		int folded = fold_open(out, n, "rows");
		put_group_head(out, dimension_title(dimension));
		for (size_t i = 0; i < n; i++)
			put_group_row(out, rows[i].key, rows[i].trades);
		fputs("</tbody>\n</table>\n", out);
		fold_close(out, folded);
		fputs("</div>\n", out);
		free(rows);
	}
	if (json_object_size(breakdowns) > 0)
		fputs("</div>\n", out);
	fputs("</section>\n", out);
	return 0;
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
			fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th>Knob</th><th "
			      "class=\"num\">Previous</th>"
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
		fputs("</tbody>\n</table>\n</div>\n", out);
	else
		fputs("<p>No change.</p>\n", out);
	fputs("</section>\n", out);
}

/* The strings of array v as list items; non-strings are skipped. Returns
 * how many were written. */
size_t put_string_items(FILE *out, const json_t *v)
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
		int folded = fold_open(out, json_object_size(by_reason), "reasons not traded");
		fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th>Reason not traded</th><th "
		      "class=\"num\">Signals</th>"
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
		fputs("</tbody>\n</table>\n</div>\n", out);
		fold_close(out, folded);
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
	size_t i, n = json_array_size(stale);
	json_t *position;

	fputs("<section id=\"stale\">\n<h2>Stale positions</h2>\n", out);
	if (n == 0) {
		fputs("<p>None.</p>\n</section>\n", out);
		return;
	}
	int folded = fold_open(out, n, n == 1 ? "stale position" : "stale positions");
	fputs("<div class=\"wrap\">\n<table>\n<thead><tr><th>Symbol</th><th>Opened</th><th "
	      "class=\"num\">Age</th></tr>"
	      "</thead>\n<tbody>\n",
	      out);
	json_array_foreach(stale, i, position)
	{
		fputs("<tr><th scope=\"row\">", out);
		put_json_text(out, json_object_get(position, "symbol"));
		fputs("</th><td>", out);
		put_timestamp(out, json_object_get(position, "opened_at"));
		fputs("</td>", out);
		put_cell(out, field(position, "age_hours"), FMT_HOURS);
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n</div>\n", out);
	fold_close(out, folded);
	fputs("</section>\n", out);
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

/* The equity and drawdown charts span the column; win rate by hour and
 * calibration sit side by side (each wraps under the other on a narrow
 * screen or on paper). Sizes are the natural size in CSS pixels, so the
 * 11px labels read at 11px; the style only ever scales a chart down. */

double plot_w(const struct plot *p)
{
	return p->w - PAD_LEFT - PAD_RIGHT;
}

double plot_h(const struct plot *p)
{
	return p->h - PAD_TOP - PAD_BOTTOM;
}

double plot_bottom(const struct plot *p)
{
	return PAD_TOP + plot_h(p);
}

/* Makes [lo, hi] a usable axis: finite, ordered, and never of zero width,
 * so the scales below never divide by zero. A flat series gets 5% of its
 * level (or 1) of room either side. */
void axis_settle(double *lo, double *hi)
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

double plot_x(const struct plot *p, double x)
{
	return PAD_LEFT + (x - p->x_lo) / (p->x_hi - p->x_lo) * plot_w(p);
}

double plot_y(const struct plot *p, double y)
{
	return plot_bottom(p) - (y - p->y_lo) / (p->y_hi - p->y_lo) * plot_h(p);
}

/* Every coordinate goes through here: whatever went wrong upstream, a
 * non-finite value never reaches the SVG, and a wild one stays near the
 * canvas. */
void put_coord(FILE *out, double v)
{
	if (!isfinite(v))
		v = 0;
	v = fmax(-COORD_LIMIT, fmin(COORD_LIMIT, v));
	if (fabs(v) < 0.05)
		v = 0;
	fprintf(out, "%.1f", v);
}

void put_point(FILE *out, double x, double y)
{
	put_coord(out, x);
	putc(',', out);
	put_coord(out, y);
	putc(' ', out);
}

void put_line(FILE *out, const char *cls, double x1, double y1, double x2, double y2)
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
void open_text(FILE *out, const char *cls, double x, double y, const char *anchor)
{
	fputs("<text ", out);
	if (cls)
		fprintf(out, "class=\"%s\" ", cls);
	fputs("x=\"", out);
	put_coord(out, x);
	fputs("\" y=\"", out);
	put_coord(out, y);
	fprintf(out, "\" text-anchor=\"%s\">", anchor);
}

/* Opens the figure with its visible title and the <svg> of p's size. */
void chart_open(const struct plot *p, const char *id, const char *title)
{
	fputs("<figure class=\"chart\">\n<h3>", p->out);
	put_text(p->out, title);
	fprintf(p->out,
		"</h3>\n<svg id=\"%s\" role=\"img\" aria-labelledby=\"%s-title\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n<title id=\"%s-title\">",
		id, id, p->w, p->h, p->w, p->h, id);
	put_text(p->out, title);
	fputs("</title>\n", p->out);
}

void chart_close(const struct plot *p, const char *caption)
{
	fputs("<rect class=\"frame\" x=\"", p->out);
	put_coord(p->out, PAD_LEFT);
	fputs("\" y=\"", p->out);
	put_coord(p->out, PAD_TOP);
	fputs("\" width=\"", p->out);
	put_coord(p->out, plot_w(p));
	fputs("\" height=\"", p->out);
	put_coord(p->out, plot_h(p));
	fputs("\"/>\n</svg>\n<figcaption>", p->out);
	put_text(p->out, caption);
	fputs("</figcaption>\n</figure>\n", p->out);
}

void chart_no_data(const struct plot *p)
{
	open_text(p->out, "empty", PAD_LEFT + plot_w(p) / 2.0, PAD_TOP + plot_h(p) / 2.0, "middle");
	fputs("no data</text>\n", p->out);
}

/* Titles of the axes: x under the tick labels, y turned along the left. */
void put_axis_titles(const struct plot *p, const char *x_title, const char *y_title)
{
	if (x_title) {
		open_text(p->out, "axis", PAD_LEFT + plot_w(p) / 2.0, p->h - 6, "middle");
		put_text(p->out, x_title);
		fputs("</text>\n", p->out);
	}
	if (y_title) {
		fputs("<text class=\"axis\" transform=\"rotate(-90)\" x=\"", p->out);
		put_coord(p->out, -(PAD_TOP + plot_h(p) / 2.0));
		fputs("\" y=\"14\" text-anchor=\"middle\">", p->out);
		put_text(p->out, y_title);
		fputs("</text>\n", p->out);
	}
}

/* The smallest step of 1, 2 or 5 times a power of ten that cuts span into
 * at most seven intervals (so an axis has between three and eight labels),
 * or 0 when the span is too odd to have one. */
static double nice_step(double span)
{
	static const double multiples[] = {1, 2, 5, 10};
	double magnitude;
	if (!(span > 0) || !isfinite(span))
		return 0;
	magnitude = pow(10, floor(log10(span / 7)));
	if (!(magnitude > 0) || !isfinite(magnitude))
		return 0;
	for (size_t i = 0; i < sizeof(multiples) / sizeof(multiples[0]); i++)
		if (span / (multiples[i] * magnitude) <= 7 * (1 + 1e-9))
			return multiples[i] * magnitude;
	return 10 * magnitude;
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
void put_y_ticks(const struct plot *p, enum axis_fmt fmt)
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
		put_line(p->out, "grid", PAD_LEFT, plot_y(p, v), PAD_LEFT + plot_w(p),
			 plot_y(p, v));
		open_text(p->out, NULL, PAD_LEFT - 6, plot_y(p, v) + 4, "end");
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
		put_line(p->out, "grid", plot_x(p, v), PAD_TOP, plot_x(p, v), plot_bottom(p));
		open_text(p->out, NULL, plot_x(p, v), plot_bottom(p) + 16, "middle");
		put_tick_label(p->out, v, step, fmt);
		fputs("</text>\n", p->out);
	}
}

/* Date labels under a series of n points (n >= 2) placed by index: the
 * first, the last and up to five between, at least 110 px apart (a label
 * is about 60 px wide). The first label starts at its point and the last
 * ends at its point, so that neither runs off the canvas. */
void put_date_ticks(const struct plot *p, const json_t *series, size_t n)
{
	size_t last_index = (size_t)-1, labels = (size_t)(plot_w(p) / 110);
	if (labels > 7)
		labels = 7;
	if (labels > n)
		labels = n;
	if (labels < 2)
		labels = 2;
	for (size_t k = 0; k < labels; k++) {
		size_t i = (size_t)llround((double)k * (double)(n - 1) / (double)(labels - 1));
		const char *anchor = i == 0 ? "start" : i == n - 1 ? "end" : "middle";
		if (i == last_index)
			continue;
		last_index = i;
		put_line(p->out, "frame", plot_x(p, (double)i), plot_bottom(p),
			 plot_x(p, (double)i), plot_bottom(p) + 4);
		open_text(p->out, NULL, plot_x(p, (double)i), plot_bottom(p) + 16, anchor);
		put_json_text(p->out, json_object_get(json_array_get(series, i), "date"));
		fputs("</text>\n", p->out);
	}
}

/* Counts the points of series whose key is a finite number, and their
 * range. */
size_t series_range(const json_t *series, const char *key, double *lo, double *hi)
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

int series_chart_open(struct plot *p, const json_t *series, const char *key, const char *id,
		      const char *title, const char *empty_caption)
{
	size_t n = json_array_size(series);
	chart_open(p, id, title);
	if (series_range(series, key, &p->y_lo, &p->y_hi) < 2 || n < 2) {
		chart_no_data(p);
		chart_close(p, empty_caption);
		return 0;
	}
	p->x_lo = 0;
	p->x_hi = (double)(n - 1);
	return 1;
}

void series_chart_axes(struct plot *p, const json_t *series, double pad, enum axis_fmt fmt)
{
	double margin = (p->y_hi - p->y_lo) * pad;
	p->y_lo -= margin;
	p->y_hi += margin;
	axis_settle(&p->y_lo, &p->y_hi);
	put_y_ticks(p, fmt);
	put_date_ticks(p, series, json_array_size(series));
}

void series_polyline(const struct plot *p, const json_t *series, const char *key)
{
	size_t i;
	json_t *point;
	int open = 0;
	json_array_foreach(series, i, point)
	{
		double v = field(point, key);
		if (isnan(v))
			continue;
		if (!open)
			fputs("<polyline class=\"line\" points=\"", p->out);
		open = 1;
		put_point(p->out, plot_x(p, (double)i), plot_y(p, v));
	}
	if (open)
		fputs("\"/>\n", p->out);
}

void chart_equity(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "equity");
	struct plot p = {.out = out, .w = WIDE_W, .h = WIDE_H};

	if (!series_chart_open(&p, series, "equity", "chart-equity",
			       "Equity curve, all time (compounded, 1.00 at the start)",
			       "Equity: not enough trading days to draw."))
		return;
	series_chart_axes(&p, series, 0.05, AXIS_PLAIN);
	if (p.y_lo < 1 && 1 < p.y_hi)
		put_line(out, "ref", PAD_LEFT, plot_y(&p, 1), PAD_LEFT + plot_w(&p), plot_y(&p, 1));
	series_polyline(&p, series, "equity");
	chart_close(&p, "Equity, compounded from daily returns, one point per trading day; the "
			"dotted line is the starting level.");
}

void chart_drawdown(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "drawdown");
	size_t i;
	struct plot p = {.out = out, .w = WIDE_W, .h = WIDE_H};
	json_t *point;
	double first_x = NAN, last_x = NAN;

	if (!series_chart_open(&p, series, "drawdown", "chart-drawdown",
			       "Drawdown from the running peak, all time",
			       "Drawdown: not enough trading days to draw."))
		return;
	/* The area hangs from zero, and the deepest point sits a tenth of the
	 * height above the bottom, however shallow it is (the labels give the
	 * scale); a series that never fell shows a 1% scale. */
	p.y_hi = fmax(p.y_hi, 0);
	p.y_lo = p.y_lo < 0 ? p.y_lo * 1.1 : -0.01;
	series_chart_axes(&p, series, 0, AXIS_PCT);
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
	chart_close(&p, "Drawdown: how far equity stood below its highest point so far.");
}

/* Whether the point is an hour bar that can be drawn. */
static int hour_bar(const json_t *point, double *hour, double *trades)
{
	*hour = field(point, "hour");
	*trades = field(point, "trades");
	return !isnan(*hour) && *hour >= 0 && *hour <= 23 && !isnan(*trades) && *trades >= 1;
}

static void chart_win_rate_by_hour(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "win_rate_by_hour");
	struct plot p = {.out = out, .w = HALF_W, .h = HALF_H, .y_lo = 0, .y_hi = 1};
	double first_hour = INFINITY, last_hour = -INFINITY, slot, label_every, hour, trades;
	size_t i, bars = 0;
	int counts;
	json_t *point;

	chart_open(&p, "chart-win-rate-by-hour", "Win rate by hour of entry, all time");
	json_array_foreach(series, i, point)
	{
		if (!hour_bar(point, &hour, &trades))
			continue;
		first_hour = fmin(first_hour, floor(hour));
		last_hour = fmax(last_hour, floor(hour));
		bars++;
	}
	if (bars == 0) {
		chart_no_data(&p);
		chart_close(&p, "Win rate by hour: no trades.");
		return;
	}
	p.x_lo = first_hour - 0.5;
	p.x_hi = last_hour + 0.5;
	slot = plot_w(&p) / (p.x_hi - p.x_lo);
	label_every = ceil(44.0 / slot);
	counts = slot >= 30; /* room over a bar for "1234" */
	put_y_ticks(&p, AXIS_PCT);
	for (double h = first_hour; h <= last_hour; h += 1) {
		if (fmod(h - first_hour, label_every) != 0)
			continue;
		open_text(out, NULL, plot_x(&p, h), plot_bottom(&p) + 16, "middle");
		fprintf(out, "%02d:00</text>\n", (int)h);
	}
	json_array_foreach(series, i, point)
	{
		double wins = field(point, "wins"), rate, top;
		if (!hour_bar(point, &hour, &trades))
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
		put_coord(out, plot_bottom(&p) - top);
		fputs("\"><title>", out);
		fprintf(out, "%02d:00: ", (int)hour);
		put_num(out, isnan(wins) ? NAN : rate, FMT_PCT);
		fputs(" of ", out);
		put_num(out, trades, FMT_COUNT);
		fputs(" trades</title></rect>\n", out);
		if (!counts)
			continue;
		/* Over the bar, or inside its top when the bar reaches the top. */
		open_text(out, top - 4 < PAD_TOP + 10 ? "count in" : "count", plot_x(&p, hour),
			  top - 4 < PAD_TOP + 10 ? top + 13 : top - 4, "middle");
		put_num(out, trades, FMT_COUNT);
		fputs("</text>\n", out);
	}
	put_line(out, "ref", PAD_LEFT, plot_y(&p, 0.5), PAD_LEFT + plot_w(&p), plot_y(&p, 0.5));
	put_axis_titles(&p, "Hour of entry (exchange time)", "Win rate");
	chart_close(&p, counts ? "Share of winning trades by the hour the trade was opened; the "
				 "number over each bar is its count of trades, the dotted line "
				 "is 50%."
			       : "Share of winning trades by the hour the trade was opened (a "
				 "bar's tooltip gives its count of trades); the dotted line is "
				 "50%.");
}

/* Whether the bucket is a calibration point that can be drawn. */
static int calibration_point(const json_t *bucket, double *predicted, double *observed)
{
	*predicted = field(bucket, "mean_predicted");
	*observed = field(bucket, "observed");
	return field(bucket, "n") > 0 && !isnan(*predicted) && !isnan(*observed);
}

static void chart_calibration(FILE *out, const json_t *charts)
{
	const json_t *series = json_object_get(charts, "calibration");
	struct plot p = {
	    .out = out, .w = HALF_W, .h = HALF_H, .x_lo = 0, .x_hi = 1, .y_lo = 0, .y_hi = 1};
	double predicted, observed, most = 0;
	size_t i, points = 0;
	json_t *bucket;

	chart_open(&p, "chart-calibration",
		   "Calibration: observed win rate against predicted probability");
	json_array_foreach(series, i, bucket)
	{
		if (!calibration_point(bucket, &predicted, &observed))
			continue;
		most = fmax(most, field(bucket, "n"));
		points++;
	}
	if (points == 0) {
		chart_no_data(&p);
		chart_close(&p, "Calibration: no scored trades.");
		return;
	}
	put_y_ticks(&p, AXIS_PLAIN);
	put_x_ticks(&p, AXIS_PLAIN);
	put_line(out, "diag", plot_x(&p, 0), plot_y(&p, 0), plot_x(&p, 1), plot_y(&p, 1));
	fputs("<polyline class=\"line thin\" points=\"", out);
	json_array_foreach(series, i, bucket)
	{
		if (calibration_point(bucket, &predicted, &observed))
			put_point(out, plot_x(&p, fmax(0, fmin(1, predicted))),
				  plot_y(&p, fmax(0, fmin(1, observed))));
	}
	fputs("\"/>\n", out);
	json_array_foreach(series, i, bucket)
	{
		if (!calibration_point(bucket, &predicted, &observed))
			continue;
		/* The dot's area grows with its bucket's trades: a bucket of
		 * two trades should not catch the eye like one of two hundred. */
		fputs("<circle class=\"dot\" r=\"", out);
		put_coord(out, 2.5 + 4.5 * sqrt(field(bucket, "n") / most));
		fputs("\" cx=\"", out);
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
	put_axis_titles(&p, "Predicted probability of a win", "Observed win rate");
	chart_close(&p, "One dot per confidence bucket, larger for more trades; the dashed "
			"diagonal is perfect calibration.");
}

static void put_charts(FILE *out, const json_t *report)
{
	const json_t *charts = json_object_get(report, "charts");
	fputs("<section id=\"charts\">\n<h2>Charts</h2>\n", out);
	chart_equity(out, charts);
	chart_drawdown(out, charts);
	fputs("<div class=\"chart-pair\">\n", out);
	chart_win_rate_by_hour(out, charts);
	chart_calibration(out, charts);
	fputs("</div>\n</section>\n", out);
}

/* ---- the two pages ---------------------------------------------------- */

char *report_html_page(const json_t *report, struct err *err)
{
	const char *date = json_string_value(json_object_get(report, "date"));
	struct page page;
	char *text;
	int failed = 0;

	if (!json_is_object(report)) {
		err_set(err, EINVAL, "report_html: the report is not a JSON object");
		return NULL;
	}
	if (!date) {
		err_set(err, EINVAL, "report_html: the report has no date string");
		return NULL;
	}
	if (page_open(&page) != 0)
		goto fail;
	put_head(page.out, "Post-market report", date);
	put_header(page.out, report, date);
	fputs("<main>\n", page.out);
	put_charts(page.out, report);
	put_windows(page.out, report);
	if (put_symbols(page.out, report) != 0)
		failed = 1;
	put_knobs(page.out, report);
	put_retrain(page.out, report);
	put_missed(page.out, report);
	put_stale(page.out, report);
	put_model(page.out, report);
	if (put_breakdowns(page.out, report) != 0)
		failed = 1;
	fputs("</main>\n<footer>The figures of this page are in post_market_", page.out);
	put_text(page.out, date);
	fputs(".json. <a href=\"index.html\">Every day</a></footer>\n</body>\n</html>\n", page.out);
	text = page_close(&page, failed);
	if (!text)
		goto fail;
	return text;
fail:
	err_set(err, ENOMEM, "report_html: out of memory");
	return NULL;
}
