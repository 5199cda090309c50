/*
 * tradelearn daily — the post-market job for one trading day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "cmd/cmd.h"
#include "jobs/daily/daily.h"
#include "lib/base/schedule.h"

static const char daily_usage[] =
    "usage: tradelearn [global options] daily [--date YYYY-MM-DD]\n"
    "\n"
    "Runs the post-market analysis for one trading day (default: the last one\n"
    "whose daily slot has passed): metrics, breakdowns, knob adjustments, missed\n"
    "opportunities, stale positions, retrain triggers. Writes\n"
    "state/reports/post_market_DATE.{json,html}, post_market_latest.json,\n"
    "index.html, state/knobs.json, state/knob_adjustments.jsonl,\n"
    "state/missed_signals.jsonl.zst and state/baseline_performance.json.\n"
    "Running a day again gives the same report and moves the knobs once.\n";

int cmd_daily(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	struct daily_options o;
	struct err err = {0};
	char day[16];
	int32_t date = SCHEDULE_NO_DAY;
	json_t *report = NULL;
	int rc;

	if (cmd_wants_help(argc, argv)) {
		fputs(daily_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--date") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--date=", 7) == 0)
			v = argv[i] + 7;
		if (!v) {
			cmd_error("daily: unknown argument %s", argv[i]);
			return EXIT_USAGE;
		}
		if (schedule_parse_day(v, &date)) {
			cmd_error("daily: --date %s is not a date YYYY-MM-DD", v);
			return EXIT_USAGE;
		}
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	memset(&o, 0, sizeof o);
	o.state_dir = env.state_dir;
	o.root_dir = env.root;
	o.logs_dir = env.logs_dir;
	o.config = &env.config;
	o.profile = &env.profile;
	o.day = date;
	o.now_us = calendar_schedule_now();
	if (daily_run(&o, &report, &err)) {
		cmd_error("daily: %s", err.msg);
		cmd_env_release(&env);
		return EXIT_FAILED;
	}
	json_t *d = json_object_get(report, "day"), *r = json_object_get(report, "retrain");
	snprintf(day, sizeof day, "%s", json_string_value(json_object_get(report, "date")));
	cmd_error(
	    "daily %s: %lld closed trades, P&L %.2f USD; %s; report %s/reports/post_market_%s.html",
	    day, (long long)json_integer_value(json_object_get(d, "count")),
	    json_number_value(json_object_get(d, "pnl_usd")),
	    json_is_true(json_object_get(r, "triggered")) ? "retrain due" : "no retrain due",
	    env.state_dir, day);
	json_decref(report);
	cmd_env_release(&env);
	return EXIT_DONE;
}
