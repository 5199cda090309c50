/*
 * dashboard — state/reports/index.html, the page a trader opens first.
 *
 * Built from files that exist, each read-only and each optional (a file
 * that is absent or unreadable leaves its section saying so, never the
 * page unwritten):
 *
 *   state/reports/post_market_YYYY-MM-DD.json   every reported day: its
 *       trades, win rate and P&L (day), the all-time Sharpe to that day
 *       (windows.all.returns.sharpe), the progressive AUC and log loss
 *       (model), missed opportunities (missed.count, missed_pnl_usd), the
 *       retrain decision; the newest one also gives the headline figures
 *       and the all-time equity and drawdown series (charts)
 *   state/knobs.json, state/knob_adjustments.jsonl   the knobs now, and
 *       the last change of each (read from the journal's last 256 KiB)
 *   state/health.json   lag per source, last commit, open positions
 *   state/jobs.jsonl    the last job runs (its last 64 KiB)
 *   models/registry.json   versions, decisions, the deployed one
 *
 * The page, in the order it is read: the latest day's headline figures
 * (with a link to its page); the equity curve and drawdown over all
 * reported days; the table of days, newest first, each linking to its page
 * (the ten newest shown, the others folded); model health over time (AUC
 * and log loss per day); missed opportunities per day; the knobs against
 * their defaults with their last change; health (lag, last commit, the last
 * job runs); the model history (every version with its decision, the
 * deployed one marked). It is self-contained like the daily pages (the same
 * style, inline SVG, no script, nothing fetched).
 *
 * Bounded: one day's report is parsed at a time and only its summary kept
 * (a few hundred bytes a day), the journals are read from their tails, so
 * years of days cost milliseconds per day and memory in proportion.
 */
#ifndef TRADELEARN_DASHBOARD_H
#define TRADELEARN_DASHBOARD_H

#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"

struct dashboard_options {
	const char *state_dir;	     /* <root>/state */
	const char *models_dir;	     /* <root>/models; NULL: no model history */
	const json_t *knob_defaults; /* {name: default value} (borrowed); may be NULL */
	int64_t now_us;		     /* the page's "generated" time */
};

/* The dashboard's input document, gathered from the files above (a new
 * reference), or NULL with err set (ENOMEM; the reports folder cannot be
 * listed: its errno). Keys: generated_at, days [{date, trades, win_rate,
 * pnl_usd, sharpe, auc, log_loss, missed, missed_pnl_usd, retrain}] oldest
 * first, latest (the newest report that reads, or null), knobs [{name, value,
 * default, change: {day, previous, value, reason} or null}], knobs_as_of,
 * health (health.json or null), jobs [the last runs, newest first, at most
 * 10], last_jobs {job: its last run}, registry (or null). */
json_t *dashboard_gather(const struct dashboard_options *o, struct err *err);

/* Renders a document of that shape (borrowed; any key may be missing) as
 * the page: a malloc'd NUL-terminated text the caller frees, or NULL with
 * err set (EINVAL: doc is not an object; ENOMEM). Every string from the
 * files is escaped; a day links to its page only when its date is a valid
 * YYYY-MM-DD. */
char *dashboard_page(const json_t *doc, struct err *err);

/* The day of a report's file name "post_market_YYYY-MM-DD.json" (a real
 * date) into day (len >= 11). Returns 0, or -1 for any other name. */
int dashboard_report_day(const char *name, char *day, size_t len);

/* Gathers, renders, and replaces state/reports/index.html atomically and
 * durably. Returns 0, or -1 with err set. */
int dashboard_write(const struct dashboard_options *o, struct err *err);

#endif
