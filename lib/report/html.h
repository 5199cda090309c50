/*
 * html — the parts that the report pages share (lib/report only): the
 * output buffer, escaped text, figures printed by their kind, the page
 * frame with its style sheet, and the SVG plot helpers. report_html.c
 * defines them; dashboard.c writes its page with them, so the two pages
 * print a figure the same way and look alike.
 *
 * The short names are kept in the two files that use them; the macros
 * below give the linked symbols a report_html_ prefix, so nothing outside
 * lib/report sees a bare put_text().
 */
#ifndef TRADELEARN_REPORT_HTML_PARTS_H
#define TRADELEARN_REPORT_HTML_PARTS_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* U+2014 EM DASH, spelled in bytes so the encoding of the output does not
 * depend on the compiler's source or execution character set. */
#define DASH "\xe2\x80\x94"

#define page_open report_html_page_open
#define page_close report_html_page_close
#define put_text report_html_put_text
#define put_json_text report_html_put_json_text
#define num report_html_num
#define field report_html_field
#define put_num report_html_put_num
#define put_timestamp report_html_put_timestamp
#define put_plain_value report_html_put_plain_value
#define tone report_html_tone
#define put_cell report_html_put_cell
#define put_head report_html_put_head
#define put_figure_table report_html_put_figure_table
#define put_string_items report_html_put_string_items
#define fold_open report_html_fold_open
#define fold_close report_html_fold_close
#define plot_w report_html_plot_w
#define plot_h report_html_plot_h
#define plot_bottom report_html_plot_bottom
#define axis_settle report_html_axis_settle
#define plot_x report_html_plot_x
#define plot_y report_html_plot_y
#define put_coord report_html_put_coord
#define put_point report_html_put_point
#define put_line report_html_put_line
#define open_text report_html_open_text
#define chart_open report_html_chart_open
#define chart_close report_html_chart_close
#define chart_no_data report_html_chart_no_data
#define put_axis_titles report_html_put_axis_titles
#define put_y_ticks report_html_put_y_ticks
#define put_date_ticks report_html_put_date_ticks
#define series_range report_html_series_range
#define series_chart_open report_html_series_chart_open
#define series_chart_axes report_html_series_chart_axes
#define series_polyline report_html_series_polyline
#define chart_equity report_html_chart_equity
#define chart_drawdown report_html_chart_drawdown

/* ---- output buffer ---------------------------------------------------- */

/* Pages are written into an open_memstream() buffer, which grows as
 * needed; a write that fails (ENOMEM) sets the stream's error flag,
 * checked once at the end. */
struct page {
	FILE *out;
	char *text;
	size_t len;
};

int page_open(struct page *p);
/* Closes the stream; returns the text (the caller frees it), or NULL when
 * any write failed or `failed` is set (the text is freed then). */
char *page_close(struct page *p, int failed);

/* ---- text and numbers ------------------------------------------------- */

enum fmt {
	FMT_COUNT,	/* 12 */
	FMT_MONEY,	/* +$12.34 */
	FMT_PCT,	/* fraction as 54.3% */
	FMT_PCT_SIGNED, /* fraction as +1.23% */
	FMT_RATIO,	/* 1.85 */
	FMT_SCORE,	/* 0.693 */
	FMT_MINUTES,	/* 42 min, 3.5 h */
	FMT_HOURS,	/* 26.5 h, 36.4 d */
};

/* s HTML-escaped: safe in element content and in quoted attributes. */
void put_text(FILE *out, const char *s);
/* The string at v escaped, or a dash when v is not a non-empty string. */
void put_json_text(FILE *out, const json_t *v);
/* The finite number at v, or NAN (null, missing, not a number, not
 * finite: "cannot be computed"). */
double num(const json_t *v);
double field(const json_t *obj, const char *key);
/* v as its kind prints (report_html.h), a dash for NAN. */
void put_num(FILE *out, double v, enum fmt f);
/* An ISO-8601 timestamp as "2026-02-09 20:21 UTC" in a <time> element. */
void put_timestamp(FILE *out, const json_t *v);
/* A knob value: integers as integers, reals with up to 6 digits. */
void put_plain_value(FILE *out, const json_t *v);
/* " pos", " neg" or "": the class of a signed money or percent figure. */
const char *tone(double v, enum fmt f);
/* <td class="num">v</td>, toned. */
void put_cell(FILE *out, double v, enum fmt f);

/* ---- the page frame and tables ---------------------------------------- */

/* The document up to <body>, with the shared style sheet; the title is
 * title, then date when not NULL. */
void put_head(FILE *out, const char *title, const char *date);

struct figure_row {
	const char *label;
	const char *key;
	enum fmt fmt;
};

/* A table with one row per figure and one column per object (a null
 * object gives a column of dashes), in a scrolling wrapper. */
void put_figure_table(FILE *out, const struct figure_row *rows, size_t n_rows,
		      const char *const *columns, const json_t *const *objects, size_t n_columns);

/* The strings of array v as list items; non-strings are skipped. Returns
 * how many were written. */
size_t put_string_items(FILE *out, const json_t *v);

/* Lists longer than this many rows are folded into a <details> element
 * whose summary gives their count ("38 stale positions"). */
#define FOLD_ROWS 10

/* Opens the fold when n > FOLD_ROWS; what names the rows. Returns whether
 * it opened one, for fold_close(). */
int fold_open(FILE *out, size_t n, const char *what);
void fold_close(FILE *out, int opened);

/* ---- charts ----------------------------------------------------------- */

/* Natural sizes in CSS pixels, so that 11px labels read at 11px; the style
 * only ever scales a chart down. */
#define WIDE_W 960
#define WIDE_H 260
#define HALF_W 480
#define HALF_H 300
#define PAD_LEFT 60
#define PAD_RIGHT 20
#define PAD_TOP 18
#define PAD_BOTTOM 44
/* Coordinates are clamped to this far outside the canvas. */
#define COORD_LIMIT 10000.0

/* A chart's canvas and data ranges; axis_settle() guarantees hi > lo,
 * both finite. */
struct plot {
	FILE *out;
	int w, h;
	double x_lo, x_hi, y_lo, y_hi;
};

enum axis_fmt { AXIS_PLAIN, AXIS_PCT };

double plot_w(const struct plot *p);
double plot_h(const struct plot *p);
double plot_bottom(const struct plot *p);
/* Makes [lo, hi] finite, ordered and never of zero width. */
void axis_settle(double *lo, double *hi);
double plot_x(const struct plot *p, double x);
double plot_y(const struct plot *p, double y);
/* Every coordinate goes through here: never NaN, never far off the canvas. */
void put_coord(FILE *out, double v);
void put_point(FILE *out, double x, double y);
void put_line(FILE *out, const char *cls, double x1, double y1, double x2, double y2);
/* Opens <text> at (x, y); the caller writes the content and "</text>". */
void open_text(FILE *out, const char *cls, double x, double y, const char *anchor);
/* Opens the figure with its visible title and the <svg> of p's size. */
void chart_open(const struct plot *p, const char *id, const char *title);
void chart_close(const struct plot *p, const char *caption);
void chart_no_data(const struct plot *p);
void put_axis_titles(const struct plot *p, const char *x_title, const char *y_title);
/* Horizontal grid lines with labels at nice values of the y range. */
void put_y_ticks(const struct plot *p, enum axis_fmt fmt);
/* Date labels under a series of n points ({date, ...}) placed by index. */
void put_date_ticks(const struct plot *p, const json_t *series, size_t n);
/* Counts the points of series whose key is a finite number, and their
 * range. */
size_t series_range(const json_t *series, const char *key, double *lo, double *hi);
/* Opens the chart of series[key], one point per element placed by index:
 * 1 with p's y range the data's (to adjust before series_chart_axes) and its
 * x range the indexes; 0 when fewer than two points can be drawn, the chart
 * then closed saying so with empty_caption. */
int series_chart_open(struct plot *p, const json_t *series, const char *key, const char *id,
		      const char *title, const char *empty_caption);
/* Widens the y range by pad (a fraction of it) on both sides, settles it,
 * and draws the y ticks (fmt) and the date ticks under the series. */
void series_chart_axes(struct plot *p, const json_t *series, double pad, enum axis_fmt fmt);
/* The line through series[key]'s finite points (nothing when there is none). */
void series_polyline(const struct plot *p, const json_t *series, const char *key);
/* The equity and drawdown charts of charts.equity [{date, equity}] and
 * charts.drawdown [{date, drawdown}]. */
void chart_equity(FILE *out, const json_t *charts);
void chart_drawdown(FILE *out, const json_t *charts);

#endif
