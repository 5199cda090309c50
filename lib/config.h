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
 */
#ifndef TRADELEARN_CONFIG_H
#define TRADELEARN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "profile.h"

struct config {
	char path[4096];	/* the file read, or "" when none */
	char profile_name[64];
	char logs[4096];	/* "" = default */
	char exchange_timezone[64];
	double capital_usd;
	uint64_t max_line_bytes;
	long batch_lines;
	long rescan_interval_ms;
	long poll_interval_ms;
	json_t *profiles;	/* owned: the "profiles" object, or NULL */
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
