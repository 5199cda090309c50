/*
 * config — tradelearn.json: load, defaults, validation.
 *
 * The file is optional (everything has a default). Every key is checked; an
 * unknown key or a value of the wrong type refuses the whole file with a
 * message "FILE:LINE: key.path: problem", so a typo never silently falls back
 * to a default. Keys:
 *
 *   profile            name of the profile to use ("canonical")
 *   logs               the bot's logs folder (default <root>/logs)
 *   exchange_timezone  IANA zone of the exchange ("America/New_York")
 *   capital_usd        capital for daily returns (100000)
 *   max_line_bytes     longer lines are skipped and counted (1048576)
 *   batch_lines        lines per commit at most (4096)
 *   rescan_interval_ms the safety-net stat of every file (2000)
 *   poll_interval_ms   the poll period when inotify cannot work (500)
 *   profiles           {name: profile} (see profile.h), added to the built-in
 *                      "canonical" and "stock-bot"
 *   learner            {eta 0.05, l2 1e-4, hash_bits 12, window 500,
 *                       half_life_days 30, weight_min 0.5, weight_max 2.0,
 *                       asymmetric false}: the online model (lib/learner.h)
 *   weights            {min_samples 30, step 0.05, min_mult 0.25,
 *                       max_mult 2.5, ewma_alpha 0.05,
 *                       evidence_half_life 500}: component and
 *                       exit-reason multipliers (lib/weights.h)
 *   signals            {horizon_hours 24, max_pending 10000}: signal outcomes
 *   schedule           when watch runs the scheduled jobs, in the exchange zone:
 *                      {daily "16:05", retrain "sunday 01:00" (or null: never),
 *                       trading_days "mon-fri" | "every day" | ["monday", …],
 *                       holidays ["2026-11-26", …], job_timeout_s 1800,
 *                       max_retries 3, retry_backoff_s 60, catch_up_days 5}
 *   daily              the post-market job: {missed_min_confidence 0.60,
 *                       missed_window_minutes 15, missed_notional_usd 1000,
 *                       stale_hours 24, min_trades 10, win_rate_drop 0.08,
 *                       accuracy_drop 0.10, profit_factor_floor 1.0,
 *                       profit_factor_baseline 1.2, retrain_after_days 7,
 *                       sharpe_7d_floor 0.3, success_rate_floor 0.40,
 *                       drift_lambda 50}: see jobs/daily.h
 *   knobs, knob_rules  the bot's execution knobs and the rules that move them
 *                      (lib/knobs.h)
 */
#ifndef TRADELEARN_CONFIG_H
#define TRADELEARN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "lib/ingest/profile.h"
#include "lib/base/schedule.h"

struct config {
	char path[4096]; /* the file read, or "" when none */
	char profile_name[64];
	char logs[4096]; /* "" = default */
	char exchange_timezone[64];
	double capital_usd;
	uint64_t max_line_bytes;
	long batch_lines;
	long rescan_interval_ms;
	long poll_interval_ms;
	json_t *profiles; /* owned: the "profiles" object, or NULL */
	struct {
		double eta, l2, half_life_days, weight_min, weight_max;
		long hash_bits, window;
		int asymmetric;
	} learner;
	struct {
		long min_samples;
		double step, min_mult, max_mult, ewma_alpha, evidence_half_life;
	} weights;
	struct {
		double horizon_hours;
		long max_pending;
	} signals;
	struct {
		int daily_minute;		     /* local minute of day */
		int retrain_weekday, retrain_minute; /* retrain_weekday -1: never */
		struct schedule_calendar calendar;
		double job_timeout_s, retry_backoff_s;
		long max_retries, catch_up_days;
	} schedule;
	struct {
		double missed_min_confidence, missed_window_minutes, missed_notional_usd;
		double missed_min_score; /* NAN: none (see missed.h) */
		double stale_hours, win_rate_drop, accuracy_drop, profit_factor_floor;
		double profit_factor_baseline, retrain_after_days, sharpe_7d_floor;
		double success_rate_floor, drift_lambda;
		long min_trades;
	} daily;
	json_t *knobs;	    /* owned: the "knobs" object, or NULL (defaults) */
	json_t *knob_rules; /* owned: the "knob_rules" array, or NULL (defaults) */
};

/* Fills defaults. */
void config_init(struct config *c);

/* Reads path into c (after config_init). A missing file is an error only
 * when required is set (an explicit --config). On failure returns -1 with
 * "FILE:LINE: key: problem" in err; c is left as it was. It has no side
 * effect on the process: the caller puts exchange_timezone in force with
 * calendar_set_zone() once the whole file was accepted. */
int config_load(struct config *c, const char *path, int required, char *err, size_t errlen);

/* Resolves a profile by name: the config's profiles first, then the
 * built-ins. -1 with a message naming the key when it is unknown or bad. */
int config_profile(const struct config *c, const char *name, struct profile *p, char *err,
		   size_t errlen);

void config_release(struct config *c);

#endif
