/*
 * report_html — the daily post-market report as one self-contained HTML
 * page (the dashboard that lists every day is lib/report/dashboard.h).
 *
 * A page needs nothing but itself: the style is embedded, the four charts
 * are inline SVG, and there is no script, font, stylesheet or image to
 * fetch, so it opens offline, from a mail attachment, or on paper (the style
 * has a print section).
 *
 * The page reads the report object the daily job builds (its keys are listed
 * below) and prints, in the order a trader reads them: a header with the
 * date and the day's trades, win rate, P&L and profit factor; four charts
 * (equity curve, drawdown, win rate by hour, calibration); the day's trade
 * figures beside the 7-day, 30-day and all-time ones; the return figures of
 * each window; the 30-day best and worst symbols; the knob changes; the
 * retrain decision and its reasons; missed opportunities and suggestions;
 * stale positions; model health; and the 30-day breakdowns.
 *
 * Report keys read (anything missing or of the wrong type reads as null):
 *
 *   date "YYYY-MM-DD" (required), generated_at
 *   day, windows.{7d,30d,all}.trades        trades objects: count, wins,
 *       losses, win_rate, profit_factor, expectancy, payoff_ratio, avg_win,
 *       avg_loss, pnl_usd, avg_hold_minutes, max_consecutive_wins,
 *       max_consecutive_losses (win_rate, expectancy, avg_win and avg_loss
 *       are fractions)
 *   windows.{7d,30d,all}.returns            days, sharpe, sortino,
 *       max_drawdown, calmar, annual_return, annual_volatility
 *   breakdowns.{symbol,regime,...}.KEY      trades objects (30-day window)
 *   model                                   trades_scored, log_loss, auc,
 *                                           brier, ece
 *   knobs.NAME                              value, previous, reason
 *   missed                                  count, missed_pnl_usd,
 *       by_reason.REASON.{count,pnl_usd}, suggestions [text]
 *   stale_positions                         [{symbol, opened_at, age_hours}]
 *   retrain                                 triggered, reasons [text]
 *   charts.equity [{date, equity}], charts.drawdown [{date, drawdown}],
 *   charts.win_rate_by_hour [{hour, trades, wins}],
 *   charts.calibration [{lo, hi, n, mean_predicted, observed}]
 *
 * How figures are printed: a null (cannot be computed), missing or
 * non-finite number prints as "—". Money has a sign and 2 decimals
 * ("+$12.34", "-$5.00", "$0.00"); win rates and volatility print as
 * percentages with 1 decimal ("58.3%"), signed fractions (expectancy,
 * average win and loss, drawdown, annual return) with a sign and 2
 * decimals ("-0.04%": per-trade figures are fractions of a percent);
 * ratios (profit factor, payoff, Sharpe, Sortino, Calmar) with 2 decimals;
 * model scores (log loss, AUC, Brier, ECE) with 3 decimals; a position's
 * age in hours under 72 h, in days from there ("36.4 d"); an ISO-8601
 * timestamp as "2026-02-09 20:21 UTC" (an offset is kept), in a <time>
 * element holding the full value.
 *
 * Layout: each chart has a visible title; equity and drawdown span the
 * column, win rate by hour and calibration sit side by side (960x260 and
 * 480x300 SVG, scaled down only). The drawdown axis follows the deepest
 * point (a series that never fell shows 0 to -1%). Calibration dots grow
 * with their bucket's trades. Breakdowns flow in two columns; symbols are
 * sorted by P&L (best first), confidence buckets by key, the others keep
 * the report's order. Every table sits in a wrapper that scrolls sideways
 * (class "wrap", or a breakdown's block of the two-column flow), so a wide
 * one never runs under its neighbour at any width; a list of more than 10
 * rows (stale positions, a breakdown, reasons not traded) is folded into a
 * <details> whose summary gives its count. On paper (@media print) folds
 * are open and nothing scrolls. Nothing in the page names an address (no http:, no
 * src=, no url(): inline SVG goes without its xmlns).
 *
 * Every string taken from the report (symbols, reasons,
 * suggestions, keys, dates) is HTML-escaped (& < > " '): they come from a
 * bot's logs. No coordinate written into the SVG is ever NaN or infinite:
 * series with fewer than two points (fewer than one bar or calibration
 * point) draw an empty chart that says "no data", null points are left out,
 * and flat series get a padded axis.
 *
 * The function only reads its json argument (borrowed reference; the
 * caller keeps ownership), do no I/O, and are safe to call from several
 * threads on different inputs.
 */
#ifndef TRADELEARN_REPORT_HTML_H
#define TRADELEARN_REPORT_HTML_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"

/* Renders the report object (borrowed) as an HTML page. Returns a malloc'd
 * NUL-terminated page that the caller frees, or NULL with err set: EINVAL
 * when report is not an object or its date is not a string, ENOMEM when
 * memory runs out. */
char *report_html_page(const json_t *report, struct err *err);

#endif
