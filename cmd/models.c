/*
 * tradelearn models — the model versions: list, show, deploy by hand,
 * roll back.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "jobs/daily/daily.h"
#include "lib/base/calendar.h"
#include "lib/base/hook.h"
#include "lib/base/jsontext.h"
#include "lib/models/bundle.h"
#include "lib/models/holdout.h"
#include "lib/models/registry.h"

static const char models_usage[] =
    "usage: tradelearn [global options] models list [--json]\n"
    "       tradelearn [global options] models show ID [--json]\n"
    "       tradelearn [global options] models deploy ID\n"
    "       tradelearn [global options] models rollback [ID]\n"
    "\n"
    "list      every version in models/registry.json: id, trained, samples, the\n"
    "          hold-out AUC, log loss and taken-trade Sharpe, status (deployed,\n"
    "          rejected, archived, rolled_back) and who decided\n"
    "show ID   a version's registry entry, its hold-out figures beside the other\n"
    "          candidates', and its bundle's manifest, every checksum verified (a\n"
    "          damaged bundle is refused, exit 1)\n"
    "deploy ID deploys a version by hand, the gate bypassed (the registry says so)\n"
    "rollback  deploys again the version deployed before the one in use (or ID, one\n"
    "          deployed before): models/current.json is as it was then, byte for byte\n"
    "\n"
    "Exit status: 0 done, 1 failed, 2 usage error, 75 when a retrain or another\n"
    "models command holds models/.lock (deploy, rollback).\n";

static void say_line(void *ctx, const char *message)
{
	(void)ctx;
	cmd_error("models: %s", message);
}

static int print_json(json_t *v)
{
	char *text = v ? jsontext_dump(v, JSONTEXT_PRETTY, NULL) : NULL;
	if (!text) {
		cmd_error("models: out of memory");
		return EXIT_FAILED;
	}
	fputs(text, stdout);
	free(text);
	return EXIT_DONE;
}

/* A count of the registry (samples, sizes), -1 when absent. */
static long long count_at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(o, a), b);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void figure(char *buf, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, fmt, v);
}

static const char *text_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The registry: recovered under the lock when no one holds it, else read
 * as it stands (it is always whole). */
static json_t *read_registry(struct cmd_env *env)
{
	struct registry_options ro = {env->models_dir, env->state_dir,
				      env->config.retrain.keep_bundles, say_line, NULL};
	struct err err = {0};
	struct registry *r = registry_open(&ro, &err);
	json_t *doc = NULL;
	if (r) {
		doc = json_incref(registry_doc(r));
		registry_close(r);
		return doc;
	}
	if (err.code != EWOULDBLOCK) {
		cmd_error("models: %s", err.msg);
		return NULL;
	}
	doc = registry_load(env->models_dir, &err);
	if (!doc)
		cmd_error("models: %s", err.msg);
	return doc;
}

static int list(struct cmd_env *env, int as_json)
{
	json_t *doc = read_registry(env), *v;
	size_t i;
	if (!doc)
		return EXIT_FAILED;
	if (as_json) {
		json_t *out = json_array();
		json_array_foreach(json_object_get(doc, "versions"), i, v)
		{
			json_t *m = json_object_get(v, "metrics");
			json_array_append_new(
			    out, json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "id",
					   json_object_get(v, "id"), "trained_at",
					   json_object_get(v, "trained_at"), "samples",
					   json_object_get(v, "samples"), "auc",
					   json_object_get(m, "auc"), "log_loss",
					   json_object_get(m, "log_loss"), "taken_sharpe",
					   json_object_get(json_object_get(m, "taken"), "sharpe"),
					   "status", json_object_get(v, "status"), "decided_by",
					   json_object_get(v, "decided_by"), "reason",
					   json_object_get(v, "reason"), "bundle",
					   json_object_get(v, "bundle")));
		}
		int rc = print_json(out);
		json_decref(out);
		json_decref(doc);
		return rc;
	}
	if (!json_array_size(json_object_get(doc, "versions"))) {
		printf("no model versions yet (tradelearn retrain trains one)\n");
		json_decref(doc);
		return EXIT_DONE;
	}
	printf("%-22s %-20s %8s %6s %8s %7s  %-11s %s\n", "ID", "TRAINED", "SAMPLES", "AUC",
	       "LOGLOSS", "SHARPE", "STATUS", "DECIDED BY");
	json_array_foreach(json_object_get(doc, "versions"), i, v)
	{
		struct holdout_figures f;
		char auc[16], ll[16], sharpe[16];
		holdout_figures_from_json(json_object_get(v, "metrics"), &f);
		figure(auc, sizeof auc, f.auc, "%.3f");
		figure(ll, sizeof ll, f.log_loss, "%.4f");
		figure(sharpe, sizeof sharpe, f.taken.sharpe, "%.2f");
		printf("%-22s %-20.19s %8lld %6s %8s %7s  %-11s %s\n", text_of(v, "id"),
		       text_of(v, "trained_at"), count_at(v, "samples", "window"), auc, ll, sharpe,
		       text_of(v, "status"), text_of(v, "decided_by"));
	}
	json_decref(doc);
	return EXIT_DONE;
}

static void print_figures(const char *name, json_t *j)
{
	char auc[16], ll[16], brier[16], ece[16], acc[16], sharpe[16], wr[16], pf[16], pnl[20];
	struct holdout_figures f;
	if (holdout_figures_from_json(j, &f)) {
		printf("  %-9s n/a\n", name);
		return;
	}
	figure(auc, sizeof auc, f.auc, "%.3f");
	figure(ll, sizeof ll, f.log_loss, "%.4f");
	figure(brier, sizeof brier, f.brier, "%.4f");
	figure(ece, sizeof ece, f.ece, "%.3f");
	figure(acc, sizeof acc, f.accuracy * 100, "%.1f%%");
	figure(sharpe, sizeof sharpe, f.taken.sharpe, "%.2f");
	figure(wr, sizeof wr, f.taken.win_rate * 100, "%.1f%%");
	figure(pf, sizeof pf, f.taken.profit_factor, "%.2f");
	figure(pnl, sizeof pnl, f.taken.pnl_usd, "%.2f");
	printf("  %-9s AUC %s, log loss %s, Brier %s, ECE %s, accuracy %s; taken %ld trades: "
	       "win rate %s, profit factor %s, P&L %s USD, Sharpe %s\n",
	       name, auc, ll, brier, ece, acc, f.taken.count, wr, pf, pnl, sharpe);
}

static int show(struct cmd_env *env, const char *id, int as_json)
{
	char path[4400];
	struct err err = {0};
	/* Read only: showing a version never writes anything. */
	json_t *doc = registry_load(env->models_dir, &err);
	if (!doc) {
		cmd_error("models: %s", err.msg);
		return EXIT_FAILED;
	}
	json_t *v = registry_version(doc, id);
	if (!v) {
		cmd_error("models: %s: no such version (tradelearn models list shows them)", id);
		json_decref(doc);
		return EXIT_FAILED;
	}
	const char *bundle = json_string_value(json_object_get(v, "bundle"));
	if (!bundle) {
		cmd_error("models: %s: its bundle was removed by retention", id);
		json_decref(doc);
		return EXIT_FAILED;
	}
	snprintf(path, sizeof path, "%s/%s", env->models_dir, bundle);
	struct bundle *b = bundle_new(path, &err);
	if (!b) {
		cmd_error("models: %s: refused: %s", id, err.msg);
		json_decref(doc);
		return EXIT_FAILED;
	}
	size_t len;
	const char *text = bundle_member(b, "metrics.json", &len);
	json_t *metrics = text ? json_loadb(text, len, 0, NULL) : NULL;
	text = bundle_member(b, "model.json", &len);
	json_t *model = text ? json_loadb(text, len, 0, NULL) : NULL;
	const json_t *manifest = bundle_manifest(b);
	int rc = EXIT_DONE;
	if (as_json) {
		json_t *out =
		    json_pack("{s:O,s:O,s:o,s:o,s:b}", "version", v, "manifest", manifest,
			      "metrics", metrics ? json_incref(metrics) : json_null(), "model",
			      model ? json_incref(model) : json_null(), "checksums_verified", 1);
		rc = print_json(out);
		json_decref(out);
	} else {
		json_t *figs = json_object_get(json_object_get(metrics, "figures"), "candidates");
		json_t *m, *c;
		size_t i;
		printf("%s: %s (%s), %s\n", id, text_of(v, "status"), text_of(v, "decided_by"),
		       text_of(v, "reason"));
		printf("trained %s on %s: data %s to %s, hold-out from %s\n",
		       text_of(v, "trained_at"), text_of(v, "candidate"),
		       text_of(json_object_get(v, "data"), "from"),
		       text_of(json_object_get(v, "data"), "to"),
		       text_of(json_object_get(v, "data"), "holdout_from"));
		printf("samples: %lld in the window, %lld trained on, %lld held out\n",
		       count_at(v, "samples", "window"), count_at(v, "samples", "train"),
		       count_at(v, "samples", "holdout"));
		printf("hold-out figures:\n");
		print_figures("batch", json_object_get(figs, "batch"));
		print_figures("online", json_object_get(figs, "online"));
		print_figures("deployed", json_object_get(figs, "deployed"));
		print_figures("base rate",
			      json_object_get(json_object_get(metrics, "figures"), "base_rate"));
		printf("gate:\n");
		json_array_foreach(json_object_get(json_object_get(v, "decision"), "checks"), i, c)
		    printf("  %s\n", text_of(c, "text"));
		printf("bundle %s (config digest %s), every checksum verified:\n", path,
		       text_of((json_t *)manifest, "config_digest"));
		json_array_foreach(json_object_get(manifest, "members"), i, m)
		    printf("  %-14s %8lld bytes  sha256 %s\n", text_of(m, "name"),
			   (long long)json_integer_value(json_object_get(m, "size")),
			   text_of(m, "sha256"));
	}
	json_decref(metrics);
	json_decref(model);
	bundle_free(b);
	json_decref(doc);
	return rc;
}

/* deploy and rollback: under the lock. */
static int change(struct cmd_env *env, int rollback, const char *id)
{
	struct registry_options ro = {env->models_dir, env->state_dir,
				      env->config.retrain.keep_bundles, say_line, NULL};
	struct err err = {0};
	char before[REGISTRY_VERSION_MAX] = "", target[REGISTRY_VERSION_MAX] = "";
	struct registry *r = registry_open(&ro, &err);
	if (!r) {
		cmd_error("models: %s", err.msg);
		return err.code == EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILED;
	}
	const char *deployed = registry_deployed(registry_doc(r));
	if (deployed)
		snprintf(before, sizeof before, "%s", deployed);
	int failed = rollback ? registry_rollback(r, id, calendar_now(), target, &err)
			      : registry_deploy(r, id, calendar_now(), &err);
	json_t *event = failed ? NULL : registry_deploy_event(registry_doc(r));
	registry_close(r);
	if (failed) {
		cmd_error("models: %s", err.msg);
		return EXIT_FAILED;
	}
	/* After the lock is released: the hook's run is journaled, and its
	 * outcome is not the command's. */
	if (event && hook_fire(&env->config.hooks, env->root, env->state_dir, HOOK_DEPLOY, event,
			       NULL, &err))
		cmd_error("models: %s", err.msg);
	json_decref(event);
	/* The dashboard shows the deployed version: it follows the registry. */
	if (daily_write_dashboard(&env->config, env->state_dir, env->root, calendar_now(), &err))
		cmd_error("models: %s", err.msg);
	if (rollback)
		printf("rolled back from %s to %s: %s/current.json is %s's again\n", before, target,
		       env->models_dir, target);
	else
		printf("deployed %s by hand, the gate bypassed%s%s: %s/current.json\n", id,
		       before[0] ? "; it replaces " : "", before, env->models_dir);
	return EXIT_DONE;
}

int cmd_models(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	const char *verb = NULL, *id = NULL;
	int as_json = 0, rc;

	if (cmd_wants_help(argc, argv)) {
		fputs(models_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (argv[i][0] == '-') {
			cmd_error("models: unknown option %s (see tradelearn models --help)",
				  argv[i]);
			return EXIT_USAGE;
		} else if (!verb) {
			verb = argv[i];
		} else if (!id) {
			id = argv[i];
		} else {
			cmd_error("models: unexpected argument %s", argv[i]);
			return EXIT_USAGE;
		}
	}
	int known = verb && (strcmp(verb, "list") == 0 || strcmp(verb, "show") == 0 ||
			     strcmp(verb, "deploy") == 0 || strcmp(verb, "rollback") == 0);
	if (!known) {
		cmd_error("models: %s (list, show ID, deploy ID, rollback [ID]; see tradelearn "
			  "models --help)",
			  verb ? "unknown subcommand" : "which one?");
		return EXIT_USAGE;
	}
	int needs_id = strcmp(verb, "show") == 0 || strcmp(verb, "deploy") == 0;
	if ((needs_id && !id) || (strcmp(verb, "list") == 0 && id)) {
		cmd_error("models %s: %s", verb, id ? "takes no argument" : "needs a version ID");
		return EXIT_USAGE;
	}
	if (as_json && strcmp(verb, "list") != 0 && strcmp(verb, "show") != 0) {
		cmd_error("models %s: --json is for list and show", verb);
		return EXIT_USAGE;
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	if (strcmp(verb, "list") == 0)
		rc = list(&env, as_json);
	else if (strcmp(verb, "show") == 0)
		rc = show(&env, id, as_json);
	else
		rc = change(&env, strcmp(verb, "rollback") == 0, id);
	cmd_env_release(&env);
	return rc;
}
