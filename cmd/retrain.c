/*
 * tradelearn retrain — the full retrain, its gate, and the deployment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "jobs/daily/daily.h"
#include "jobs/retrain/retrain.h"
#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"

static const char retrain_usage[] =
    "usage: tradelearn [global options] retrain [--force] [--dry-run] [--json] [--scheduled]\n"
    "\n"
    "Fits the logistic model from scratch on the committed outcomes of the last\n"
    "retrain.window_days (60) days, holds out the most recent 20% in time, and\n"
    "judges it on them beside a snapshot of the online model taken where the\n"
    "hold-out begins and the deployed model. The best candidate is deployed\n"
    "(models/current.json, state/baseline_performance.json) only when every\n"
    "threshold of the gate holds; the decision, with each threshold's value and\n"
    "limit, goes to state/retrain_log.jsonl and models/registry.json, and the\n"
    "candidate to a bundle models/model_YYYYMMDD_HHMMSS.tar.zst.\n"
    "\n"
    "Without --force it first checks that the latest daily report says a retrain\n"
    "is due (or that this is the weekly slot, --scheduled, which watch passes)\n"
    "and that retrain.min_interval_hours have passed since the last decision,\n"
    "and says in one line why it does or does not retrain.\n"
    "\n"
    "  --force     retrain whatever the triggers and the interval say\n"
    "  --dry-run   train and validate, print the gate's decision, write nothing\n"
    "  --json      print the decision as one JSON object (the event hooks get)\n"
    "  --scheduled the weekly slot: a reason to retrain by itself\n"
    "\n"
    "Exit status: 0 when it decided (deployed, rejected, or not retraining), 1 on\n"
    "a failure, 75 when another retrain or models command holds models/.lock.\n";

static void say_line(void *ctx, const char *message)
{
	(void)ctx;
	cmd_error("retrain: %s", message);
}

int cmd_retrain(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	struct retrain_job_options o;
	struct retrain_result res;
	struct err err = {0};
	int as_json = 0, rc;

	memset(&o, 0, sizeof o);
	if (cmd_wants_help(argc, argv)) {
		fputs(retrain_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			o.force = 1;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--scheduled") == 0) {
			o.scheduled = 1;
		} else {
			cmd_error("retrain: unknown argument %s (see tradelearn retrain --help)",
				  argv[i]);
			return EXIT_USAGE;
		}
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	o.root_dir = env.root;
	o.state_dir = env.state_dir;
	o.models_dir = env.models_dir;
	o.config = &env.config;
	o.now_us = calendar_now();
	o.log = say_line;
	if (retrain_run(&o, &res, &err)) {
		cmd_error("retrain: %s", err.msg);
		cmd_env_release(&env);
		return err.code == EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILED;
	}
	/* The dashboard's model history follows the registry. */
	if (!o.dry_run &&
	    daily_write_dashboard(&env.config, env.state_dir, env.root, calendar_now(), &err))
		cmd_error("retrain: %s", err.msg);
	if (as_json) {
		json_t *out = res.event ? json_incref(res.event)
					: json_pack("{s:s,s:s}", "event", "skip", "line", res.line);
		char *text = out ? jsontext_dump(out, JSONTEXT_PRETTY, NULL) : NULL;
		json_decref(out);
		if (!text) {
			cmd_error("retrain: out of memory");
			rc = EXIT_FAILED;
		} else {
			fputs(text, stdout);
			free(text);
		}
	} else {
		printf("%s\n", res.line);
	}
	retrain_result_release(&res);
	cmd_env_release(&env);
	if (rc == 0 && fflush(stdout) != 0) {
		cmd_error("retrain: writing: %s", strerror(errno));
		rc = EXIT_FAILED;
	}
	return rc;
}
