/*
 * sim — a realistic synthetic trading bot, deterministic for a seed.
 *
 * It writes the four source files of a profile into a logs folder:
 * several symbols with regime-switching random-walk prices; signals whose
 * components carry planted, known predictive weights plus noise; orders;
 * opens; closes by stop, target or time; partial closes; exit events; high-
 * confidence signals that were not traded (with a reason); and a small share
 * of malformed lines (not JSON, truncated JSON, a missing required field).
 *
 * Two modes:
 *   - batch (sim_run_batch): N trading days of history, written at once;
 *   - live  (sim_run_live): appends in real time at a rate, and rotates its
 *     files like logrotate, alternating rename-and-create and copytruncate,
 *     gzipping the previous rotation (delaycompress), keeping every rotation.
 *
 * The planted model: P(win) = sigmoid(intercept + Σ w_i·z_i) where z_i are the
 * standardized components of the signal at entry; a trade's outcome (target
 * hit vs stop hit) is drawn from that probability, so the planted weights are
 * the ground truth a learner must recover. Some components have weight 0.
 *
 * The bot's score and confidence are its own opinion, not the truth: a noisy
 * linear score over the same components with the bot's mis-specified weights
 * (it over-rates some zero-weight components, under-rates or ignores planted
 * ones). The bot trades on that confidence, so the planted model ranks the
 * trades clearly better than the bot's score or confidence do, and only a
 * learner that reads the components can match it.
 */
#ifndef TRADELEARN_SIM_H
#define TRADELEARN_SIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/base/err.h"

enum sim_profile { SIM_CANONICAL, SIM_STOCK_BOT, SIM_CRYPTO };

#define SIM_MAX_SEGMENTS 4

struct sim_options {
	const char *logs_dir; /* folder to write into (created if absent) */
	enum sim_profile profile;
	int days; /* trading days of history (batch) */
	uint64_t seed;
	int64_t start_us; /* first trading day (UTC midnight); 0 = 2026-01-05 */
	/* batch: when not 0, the history ends here instead: its last day is the
	 * latest whose session began before end_us, cut at end_us, its first day
	 * `days` trading days back (start_us is then not read) */
	int64_t end_us;
	double malformed_share; /* share of malformed lines, default 0.005 */
	/* live mode */
	double rate;	       /* records per second (all sources together) */
	double rotate_every_s; /* seconds between rotations, 0 = never; default 20 */
	long max_records;      /* live: stop after this many records, 0 = until stopped */
	int append;	       /* live: continue after the last timestamp already in the files */
	volatile int *stop;    /* live: set non-zero (from a signal) to stop cleanly */
};

/* Ground truth of what a run wrote. */
struct sim_truth {
	char profile[16]; /* "canonical" or "stock-bot" */
	uint64_t seed;
	int days; /* trading days written (batch), 0 for live */
	int live; /* 1 when written by sim_run_live */
	size_t n_components;
	char component_names[16][32];
	double weights[16];	/* planted weights (0 for noise components) */
	double bot_weights[16]; /* the bot's own, behind its score and confidence */
	/* The model reads z = (value - mean) / sd of each written value; the
	 * canonical profile writes z itself (mean 0, sd 1). Components that are
	 * constant in the rows are not listed. */
	double component_mean[16], component_sd[16];
	double intercept;
	double oracle_auc; /* AUC of the planted probabilities on the full closes */
	/* The same over the last half (count / 2, rounded down) of all closes and
	 * partial closes in the order written: the trades a learner's
	 * progressive window of that size scores. */
	double oracle_auc_second_half;
	long opens, closes, partial_closes, wins; /* wins: closes with pnl_usd > 0 */
	double closes_pnl_usd, partials_pnl_usd;
	long signals, untraded_signals, orders, exits, malformed_lines;
	long lines_written; /* all lines, every source */
	/* lines per source file: attribution, exit, signals, orders */
	long lines_by_source[4];
	/* The crypto profile (sim_run_crypto): one planted model per timeframe
	 * over the context file's features (component_names), and what was
	 * written of each; contexts: rows of the context file (one per trade,
	 * plus decoys that match no trade). */
	size_t n_segments;
	char segment_names[SIM_MAX_SEGMENTS][16];
	double segment_weights[SIM_MAX_SEGMENTS][16];
	double segment_intercept[SIM_MAX_SEGMENTS];
	long segment_trades[SIM_MAX_SEGMENTS], segment_wins[SIM_MAX_SEGMENTS];
	double segment_pnl_usd[SIM_MAX_SEGMENTS];
	double segment_oracle_auc[SIM_MAX_SEGMENTS];
	long contexts, decoy_contexts;
};

/* Fills defaults (canonical, 20 days, seed 1, malformed 0.005, rate 5/s,
 * rotate every 20 s, logs_dir "logs"). */
void sim_options_init(struct sim_options *opt);

/* Writes `days` trading days (Mon–Fri, 9:30–16:00 America/New_York) of
 * history from start_us into logs_dir, replacing the profile's four files
 * (other files in the folder, such as old rotations, are left alone). The
 * same options give byte-identical files: nothing depends on the wall clock.
 * Fills *truth. Sets the process time zone (TZ) to America/New_York.
 * Returns 0, or -1 with the reason in err (truth then holds partial counts). */
int sim_run_batch(const struct sim_options *opt, struct sim_truth *truth, struct err *err);

/* The crypto futures bot (opt->profile SIM_CRYPTO): `days` days of
 * round-the-clock UTC trading from start_us, written at once as two files,
 * trades.jsonl (finished trades only, by exit time, no trade id) and
 * context.jsonl (one row per trade at its entry, a second or two off, plus
 * decoys; by time), replacing them. Every trade's features are in its
 * context row; its outcome is drawn from the planted model of its
 * timeframe. Deterministic for the options; fills *truth (closes, wins,
 * closes_pnl_usd and the segments). Returns 0, or -1 with err set. */
int sim_run_crypto(const struct sim_options *opt, struct sim_truth *truth, struct err *err);

/* Appends to the profile's files (created when absent) at opt->rate rows per
 * second with wall-clock timestamps (shifted past the files' latest one when
 * opt->append is set), rotating every rotate_every_s seconds, until *opt->stop
 * becomes non-zero or max_records lines are written. Trade, signal and order
 * numbers start from the clock (seconds × 1000), so they never repeat those
 * of a batch run or an earlier live run. *truth counts only this run's lines.
 * Returns 0 (also when stopped), or -1 with the reason in err. */
int sim_run_live(const struct sim_options *opt, struct sim_truth *truth, struct err *err);

/* Writes the truth as a JSON object to path with durable_replace (temp
 * file, fsync, rename, fsync of the folder): profile, seed, mode
 * ("batch"/"live"), days, components {name: weight}, component_mean,
 * component_sd, bot_weights, intercept, oracle_auc, oracle_auc_second_half
 * (learner_auc of the planted probabilities; 0.5 without both wins and
 * losses), then every count and P&L of struct sim_truth. Returns 0, or -1
 * with the reason in err (no temp file is left behind). */
int sim_write_truth(const struct sim_truth *truth, const char *path, struct err *err);

/* File name of a source for a profile: source is "attribution", "exit",
 * "signals", "orders", or "context" (crypto). NULL for a source the profile
 * does not write. */
const char *sim_source_file(enum sim_profile profile, const char *source);

#endif
