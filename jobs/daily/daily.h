/*
 * daily — the post-market job for one trading day D.
 *
 * Inputs, all read-only: the committed state (outcomes up to their committed
 * length, the learner generation with its progressive metrics and open
 * positions, signal outcomes), the day's records in the logs (signals,
 * orders, opens, closes: for missed opportunities), the config.
 *
 * Outputs, each replaced atomically (temp, fsync, rename) or appended once:
 *   state/reports/post_market_D.json, .html, post_market_latest.json (when D
 *     is the newest report), index.html (the dashboard, daily_write_dashboard);
 *   state/knobs.json ({format, as_of, values, before}) and
 *     state/knob_adjustments.jsonl (one line per change);
 *   state/missed_signals.jsonl.zst (one frame per day, each line with "day");
 *   state/baseline_performance.json (created by the first run; the retrain
 *     job replaces it at each deployment).
 *
 * Which trades belong to D: closes whose exit time falls on D in the
 * exchange's zone; a close on a day that is not a trading day belongs to the
 * next trading day. Trade figures count full closes (partial == 1): partial
 * closes are part of a trade, not trades, but their realized P&L enters the
 * day's return. Windows count trading days of the configured calendar, from
 * the first trading day with data (never before it) to D; a trading day
 * without trades has return 0. Breakdowns are over the 30-day window.
 *
 * Idempotent: running D again gives the same report (apart from generated_at
 * and figures of the live model, which learns meanwhile), does not move the
 * knobs a second time (they are re-derived from the values before D), and
 * does not append D's missed signals twice. A run for a day older than the
 * knobs' as_of reports the knobs without moving them.
 *
 * When the report says a retrain is due, the job fires the retrain_triggered
 * hook (config hooks, lib/base/hook.h) with {day, reasons, report}, after the
 * files are written and the lock released, and waits for it (at most
 * hooks.timeout_s); its outcome is journaled and never the job's. watch runs
 * the job as a child process, so watch itself never waits for the hook.
 * Running a day again fires it again.
 *
 * The job takes "<state>/reports/.lock" so two runs never interleave; the
 * follower's lock is not needed (it only reads committed files).
 */
#ifndef TRADELEARN_DAILY_H
#define TRADELEARN_DAILY_H

#include <stdint.h>
#include <jansson.h>

#include "lib/base/err.h"
#include "lib/config/config.h"
#include "lib/ingest/logscan.h"
#include "lib/ingest/profile.h"

struct daily_options {
	const char *state_dir;
	const char *root_dir; /* the root, for hooks (their folder, TRADELEARN_ROOT); may be NULL */
	const char *logs_dir;
	const struct config *config;
	const struct profile *profile;
	int32_t day;	/* the trading day (schedule.h); SCHEDULE_NO_DAY: the last completed one */
	int64_t now_us; /* generated_at, and "completed" for the default day */
	/* Backfill replays history and knows where each day's records are:
	 * when day_entries[s] is not NULL, the day's records of source s are
	 * read from those n_day_entries[s] entries (logscan_history) instead of
	 * the files the logs folder holds now; records at or after
	 * records_until_us (when not 0) are left out, as they were not written
	 * yet when a watch ran the day; the retrain_triggered hook, whose
	 * moment has passed, is not fired when no_hooks is set; and the
	 * dashboard, which reads every report, is left to the caller when
	 * no_dashboard is set (backfill writes it once, after its last day). */
	const struct logscan_entry *day_entries[PROFILE_SOURCE_COUNT];
	size_t n_day_entries[PROFILE_SOURCE_COUNT];
	int64_t records_until_us;
	int no_hooks;
	int no_dashboard;
};

/* Runs the job. On success returns 0 and, when report is not NULL, the
 * report object (new reference). Returns -1 with err set on failure: a day
 * that is not a trading day (EINVAL), a committed file that is damaged (the
 * state, knobs.json), another run holding the reports' lock (EWOULDBLOCK), a
 * file that cannot be read or written (its errno), ENOMEM. Files already
 * replaced stay valid on their own. */
int daily_run(const struct daily_options *o, json_t **report, struct err *err);

/* Writes state_dir/reports/index.html, the dashboard (lib/report/dashboard.h),
 * with the knob defaults of config c and the model history of
 * root_dir/models (none when root_dir is NULL). The daily job calls it
 * after every report; `models deploy`, `models rollback`, `retrain` and
 * `backfill` after they change the registry. Returns 0, or -1 with err
 * set. */
int daily_write_dashboard(const struct config *c, const char *state_dir, const char *root_dir,
			  int64_t now_us, struct err *err);

/* The trading day a report is for when none is given: the last trading day
 * whose daily slot (config schedule.daily) is at or before now. */
int32_t daily_default_day(const struct config *c, int64_t now_us);

#endif
