/*
 * config — tradelearn.json: load and validation, over the modules' tables.
 *
 * The file is optional (everything has a default). Every key is checked; an
 * unknown key, a value of the wrong type or out of its range refuses the
 * whole file with one message "FILE:LINE: key.path: problem", so a typo never
 * silently falls back to a default and no module is handed a value it
 * refuses. Each key, its default and its range is written once, in the
 * table of the module that uses it (option.h); the README's settings table
 * says the same for users. config_option_table (config.c) holds the
 * top-level keys and names each section's table:
 *
 *   learner            learner_option_table (lib/learn/learner.h)
 *   weights            weights_option_table (lib/learn/weights.h)
 *   signals            signals_option_table (lib/learn/signals.h)
 *   schedule           schedule_option_table (lib/base/schedule.h)
 *   daily              postmarket_option_table (lib/analyze/postmarket.h), with
 *                      missed_option_table (lib/analyze/missed.h) as "missed_*"
 *   hooks              hook_option_table (lib/base/hook.h)
 *   retrain            retrain_option_table (lib/models/gate.h), with
 *                      batch_option_table (lib/learn/batch.h) at the same level
 *   knobs, knob_rules  read by knobs_table_from_json (lib/analyze/knobs.h)
 *   profiles           {name: profile} (lib/ingest/profile.h), added to the
 *                      built-in "canonical" and "stock-bot"
 *   sessions           [{name, from, to}] the exchange's sessions (calendar.h)
 */
#ifndef TRADELEARN_CONFIG_H
#define TRADELEARN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/base/calendar.h"
#include "lib/base/err.h"
#include "lib/base/hook.h"
#include "lib/base/option.h"
#include "lib/base/schedule.h"
#include "lib/ingest/profile.h"
#include "lib/learn/learner.h"
#include "lib/learn/signals.h"
#include "lib/learn/weights.h"
#include "lib/analyze/postmarket.h"
#include "lib/models/gate.h"

struct config {
	char path[4096]; /* the file read, or "" when none */
	char profile_name[64];
	char logs[4096]; /* "" = <root>/logs */
	char exchange_timezone[64];
	double capital_usd;	       /* for daily returns when the bot logs no equity */
	uint64_t max_line_bytes;       /* longer lines are skipped and counted */
	uint64_t quarantine_max_bytes; /* quarantine.jsonl's cap: rows past it are counted */
	long batch_lines;	       /* lines per commit at most */
	long rescan_interval_ms;       /* the safety-net stat of every file */
	long poll_interval_ms;	       /* the poll period when inotify cannot work */
	char metrics_file[4096];       /* the Prometheus textfile watch writes; "" = none */
	json_t *profiles;	       /* owned: the "profiles" object, or NULL */
	struct learner_options learner;
	struct weights_options weights;
	struct signals_options signals;
	struct schedule_options schedule;
	struct postmarket_options daily;
	struct hook_options hooks;
	struct retrain_options retrain;
	json_t *knobs;	    /* owned: the "knobs" object, or NULL (defaults) */
	json_t *knob_rules; /* owned: the "knob_rules" array, or NULL (defaults) */
	/* "sessions": the exchange's own, in place of the US equity buckets
	 * (none: those); the caller puts them in force with
	 * calendar_set_sessions(), like the zone. */
	size_t n_sessions;
	struct calendar_session sessions[CALENDAR_MAX_SESSIONS];
};
extern const struct option_table config_option_table;

/* Fills the defaults of config_option_table, every section's included. */
void config_init(struct config *c);

/* Reads path into c (after config_init). A missing file is an error only
 * when required is set (an explicit --config). On failure returns -1 with
 * "FILE:LINE: key: problem" in e; c is left as it was. It has no side
 * effect on the process: the caller puts exchange_timezone in force with
 * calendar_set_zone() once the whole file was accepted. */
int config_load(struct config *c, const char *path, int required, struct err *e);

/* Resolves a profile by name: the config's profiles first, then the
 * built-ins. -1 with a message naming the key in e when it is unknown or
 * bad. */
int config_profile(const struct config *c, const char *name, struct profile *p, struct err *e);

void config_release(struct config *c);

#endif
