/*
 * tradelearn status — where reading stands, read from the committed state
 * (no lock: it never disturbs a running watch).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/base/calendar.h"
#include "cmd/cmd.h"
#include "lib/base/durable.h"
#include "lib/base/jsontext.h"
#include "lib/learn/learner.h"
#include "jobs/live/join.h"
#include "lib/models/registry.h"
#include "lib/store/state.h"

static const char status_usage[] =
    "usage: tradelearn [global options] status [--json] [--check [--max-lag-bytes N]\n"
    "                                             [--max-commit-age S]]\n"
    "\n"
    "Per source: the file being read, offset, size, lag in bytes, records read,\n"
    "learned, quarantined and skipped; the online model's progressive metrics and\n"
    "calibration table (all trades and the recent window; n/a when undefined);\n"
    "open positions; the last commit; whether a watch is running; the deployed\n"
    "model (since when, by whom, why) and the last retrain decision. --json prints\n"
    "the same as one JSON object (undefined figures are null).\n"
    "\n"
    "--check is a monitoring plugin: exit 0 with one OK line when healthy, 1 with\n"
    "one line per problem: watch not running or not responding, a source more than\n"
    "--max-lag-bytes behind (default 1048576), no commit for more than\n"
    "--max-commit-age seconds (only when given), a scheduled job or hook whose last\n"
    "run failed. With --json the object gets \"healthy\" and \"problems\".\n";

static json_t *read_json(const char *path)
{
	json_error_t jerr;
	return json_load_file(path, 0, &jerr);
}

/* Bytes not yet read of one saved file: from its offset to its size now. */
static uint64_t lag_of(const struct follow_position *p, uint64_t *size_now)
{
	struct stat st;
	*size_now = p->size;
	if (!p->compressed && stat(p->path, &st) == 0 && (uint64_t)st.st_ino == p->ino)
		*size_now = (uint64_t)st.st_size;
	return *size_now > p->offset ? *size_now - p->offset : 0;
}

/* The context join's counts in the committed state, or NULL without one. */
static json_t *join_json(json_t *saved)
{
	struct join_counts c;
	if (!saved || join_counts_of(saved, &c))
		return NULL;
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "matched", (json_int_t)c.matched, "unmatched",
			 (json_int_t)c.unmatched, "pending", (json_int_t)c.pending,
			 "contexts_waiting", (json_int_t)c.contexts_waiting, "contexts_unused",
			 (json_int_t)c.contexts_unused);
}

/* The progressive metrics of the committed learner. */
static json_t *model_metrics(struct cmd_env *env, json_t *saved)
{
	struct learner_metrics m = {0};
	struct err err = {0};
	json_t *o = json_object();
	struct learner *l = learner_new(&env->config.learner, &err);
	if (!l) {
		cmd_info("status: the learner: %s", err.msg);
		return o;
	}
	/* A state that does not load shows as no trades (learner_load leaves
	 * l empty). */
	if (saved && learner_load(l, saved, &err))
		cmd_info("status: the learner's state: %s", err.msg);
	learner_metrics(l, &m);
	json_t *segments = learner_segments_health(l);
	learner_free(l);
	if (segments)
		json_object_set_new(o, "segments", segments);
	json_object_set_new(o, "trades_scored", json_integer(m.trades_scored));
	json_object_set_new(o, "auc", jsontext_real_or_null(m.auc));
	json_object_set_new(o, "log_loss", jsontext_real_or_null(m.log_loss));
	json_object_set_new(o, "brier", jsontext_real_or_null(m.brier));
	json_object_set_new(o, "ece", jsontext_real_or_null(m.ece));
	json_object_set_new(o, "calibration", learner_calibration_json(&m, 0));
	json_object_set_new(o, "window",
			    json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "trades",
				      (json_int_t)m.window_trades, "auc",
				      jsontext_real_or_null(m.window_auc), "log_loss",
				      jsontext_real_or_null(m.window_log_loss), "brier",
				      jsontext_real_or_null(m.window_brier), "ece",
				      jsontext_real_or_null(m.window_ece), "calibration",
				      learner_calibration_json(&m, 1)));
	return o;
}

/* The last run of each scheduled job, from state/jobs.jsonl, and the
 * latest report. */
static json_t *last_jobs(struct cmd_env *env)
{
	char path[4200], *text = NULL;
	size_t len;
	struct err err;
	json_t *last = json_object();
	snprintf(path, sizeof path, "%s/jobs.jsonl", env->state_dir);
	if (durable_read_all(path, &text, &len, &err) == 0) {
		for (char *line = text, *nl; (nl = memchr(line, '\n', (size_t)(text + len - line)));
		     line = nl + 1) {
			json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
			const char *job = json_string_value(json_object_get(j, "job"));
			if (job)
				json_object_set(last, job, j);
			json_decref(j);
		}
		free(text);
	}
	snprintf(path, sizeof path, "%s/reports/post_market_latest.json", env->state_dir);
	json_t *rep = json_load_file(path, 0, NULL);
	const char *date = json_string_value(json_object_get(rep, "date"));
	json_object_set_new(last, "latest_report", date ? json_string(date) : json_null());
	json_decref(rep);
	return last;
}

/* The deployed model (when, by whom, why) and the last retrain decision,
 * from models/registry.json (read without the lock: always whole). */
static void models_json(struct cmd_env *env, json_t *o)
{
	struct err err = {0};
	json_t *doc = registry_load(env->models_dir, &err);
	const char *id = doc ? registry_deployed(doc) : NULL;
	json_t *dep = doc ? registry_last_deployment(doc) : NULL;
	json_t *v = id ? registry_version(doc, id) : NULL;
	json_t *last = json_object_get(doc, "last_decision");
	if (!doc)
		json_object_set_new(o, "models_error", json_string(err.msg));
	json_object_set_new(o, "deployed_model",
			    v && dep ? json_pack("{s:s,s:O,s:O,s:O,s:O,s:O}", "version", id,
						 "deployed_at", json_object_get(dep, "at"), "by",
						 json_object_get(dep, "by"), "reason",
						 json_object_get(v, "reason"), "trained_at",
						 json_object_get(v, "trained_at"), "metrics",
						 json_object_get(v, "metrics"))
				     : json_null());
	json_object_set_new(o, "last_retrain",
			    json_is_object(last)
				? json_pack("{s:O,s:O,s:O,s:O}", "time",
					    json_object_get(last, "time"), "decision",
					    json_object_get(last, "decision"), "version",
					    json_object_get(last, "version"), "reasons",
					    json_object_get(last, "reasons"))
				: json_null());
	json_decref(doc);
}

static json_t *build(struct cmd_env *env, const struct state *st, int have_state)
{
	json_t *o = json_object(), *sources = json_object(), *positions, *health, *learner;
	char path[4200];
	uint64_t quarantined = 0;

	json_object_set_new(o, "root", json_string(env->root));
	json_object_set_new(o, "logs", json_string(env->logs_dir));
	json_object_set_new(o, "profile", json_string(env->profile.name));
	json_object_set_new(o, "generation", json_integer((json_int_t)st->generation));
	if (have_state && st->committed_at) {
		char at[40];
		calendar_format_iso(st->committed_at, at, sizeof at);
		json_object_set_new(o, "last_commit", json_string(at));
	} else {
		json_object_set_new(o, "last_commit", json_null());
	}
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		const struct profile_source *ps = &env->profile.source[s];
		const struct state_source *src = &st->source[s];
		const struct state_counters *c = &src->count;
		json_t *j = json_object();
		uint64_t size = 0, lag = 0, pending = 0;
		char file[4400];
		if (!ps->file[0])
			continue;
		snprintf(file, sizeof file, "%s/%s", env->logs_dir, ps->file);
		if (src->follow.has_current) {
			lag += lag_of(&src->follow.current, &size);
			json_object_set_new(j, "path", json_string(src->follow.current.path));
			json_object_set_new(j, "offset",
					    json_integer((json_int_t)src->follow.current.offset));
		} else {
			struct stat sb;
			if (stat(file, &sb) == 0) {
				size = (uint64_t)sb.st_size;
				lag = size;
			}
			json_object_set_new(j, "path", json_string(file));
			json_object_set_new(j, "offset", json_integer(0));
		}
		json_object_set_new(j, "size", json_integer((json_int_t)size));
		for (size_t i = 0; i < src->follow.n_draining; i++) {
			uint64_t dsize;
			pending += lag_of(&src->follow.draining[i], &dsize);
		}
		json_object_set_new(j, "lag_bytes", json_integer((json_int_t)(lag + pending)));
		json_object_set_new(j, "rotated_files_pending",
				    json_integer((json_int_t)src->follow.n_draining));
		json_object_set_new(j, "records_read", json_integer((json_int_t)c->read));
		json_object_set_new(j, "records_learned", json_integer((json_int_t)c->learned));
		json_object_set_new(j, "records_quarantined",
				    json_integer((json_int_t)c->quarantined));
		json_object_set_new(j, "trades_recorded", json_integer((json_int_t)c->trades));
		json_object_set_new(j, "records_skipped", json_integer((json_int_t)c->skipped));
		json_object_set_new(
		    j, "skipped_by_reason",
		    json_pack("{s:I,s:I,s:I,s:I}", "ignored", (json_int_t)c->ignored, "duplicate",
			      (json_int_t)c->duplicates, "long_line", (json_int_t)c->long_lines,
			      "unterminated_tail", (json_int_t)c->tails));
		json_object_set_new(j, "pnl_sign_mismatch",
				    json_integer((json_int_t)c->sign_mismatch));
		json_t *unmapped = json_object();
		for (size_t i = 0; i < c->n_unmapped; i++)
			json_object_set_new(unmapped, c->unmapped[i].field,
					    json_integer((json_int_t)c->unmapped[i].count));
		json_object_set_new(j, "unmapped", unmapped);
		json_object_set_new(j, "features_skipped",
				    json_integer((json_int_t)c->features_skipped));
		quarantined += c->quarantined;
		json_object_set_new(sources, profile_source_name((enum profile_source_id)s), j);
	}
	json_object_set_new(o, "sources", sources);
	json_object_set_new(
	    o, "trades_recorded",
	    json_integer((json_int_t)st->source[PROFILE_SOURCE_ATTRIBUTION].count.trades));
	json_object_set_new(o, "quarantined", json_integer((json_int_t)quarantined));

	positions = json_array();
	learner = NULL;
	if (st->learner_file[0]) {
		/* A generation that fails its seal was said by cmd_check_outputs(),
		 * and status exits 1 for it: its figures are not shown. */
		struct err lerr = {0};
		if (state_load_learner(env->state_dir, st, &learner, &lerr))
			learner = NULL;
		json_t *arr = json_object_get(learner, "open_positions"), *v;
		size_t i;
		int64_t now = calendar_now();
		json_array_foreach(arr, i, v)
		{
			char at[40];
			int64_t t = json_integer_value(json_object_get(v, "opened_at_us"));
			int side = (int)json_integer_value(json_object_get(v, "side"));
			calendar_format_iso(t, at, sizeof at);
			json_array_append_new(positions,
					      json_pack("{s:O,s:s,s:s,s:f}", "symbol",
							json_object_get(v, "symbol"), "side",
							side > 0   ? "long"
							: side < 0 ? "short"
								   : "unknown",
							"opened_at", at, "age_hours",
							(double)(now - t) / 3600e6));
		}
	}
	json_object_set_new(o, "model", model_metrics(env, json_object_get(learner, "learner")));
	json_t *join = join_json(json_object_get(learner, "join"));
	if (join)
		json_object_set_new(o, "context", join);
	json_decref(learner);
	json_object_set_new(o, "open_positions", positions);

	snprintf(path, sizeof path, "%s/health.json", env->state_dir);
	health = read_json(path);
	json_int_t pid = json_integer_value(json_object_get(health, "pid"));
	int running = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	json_object_set_new(o, "watch_running", json_boolean(running));
	json_object_set_new(o, "watch_pid", running ? json_integer(pid) : json_null());
	json_decref(health);
	json_object_set_new(o, "jobs", last_jobs(env));
	models_json(env, o);
	return o;
}

/* A figure of the JSON as text: "n/a" when it is null (undefined: no
 * trades, or one class only). */
static const char *figure(json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return "n/a";
	snprintf(buf, len, "%.4f", json_number_value(v));
	return buf;
}

/* The two calibration tables side by side, rows with a trade in either. */
static void print_calibration(json_t *m)
{
	json_t *all = json_object_get(m, "calibration");
	json_t *window = json_object_get(json_object_get(m, "window"), "calibration");
	long long window_trades =
	    (long long)json_integer_value(json_object_get(json_object_get(m, "window"), "trades"));
	int header = 0;
	for (size_t b = 0; b < json_array_size(all); b++) {
		json_t *a = json_array_get(all, b), *w = json_array_get(window, b);
		json_t *range = json_object_get(a, "range");
		long long na = (long long)json_integer_value(json_object_get(a, "trades"));
		long long nw = (long long)json_integer_value(json_object_get(w, "trades"));
		char b1[32], b2[32], b3[32], b4[32], last[32];
		if (!na && !nw)
			continue;
		if (!header) {
			snprintf(last, sizeof last, "last %lld:", window_trades);
			printf("calibration  %-7s %7s %7s %8s | %-10s %7s %7s %8s\n", "p", "trades",
			       "mean p", "win rate", last, "trades", "mean p", "win rate");
			header = 1;
		}
		printf("             %.1f-%.1f %7lld %7s %8s | %-10s %7lld %7s %8s\n",
		       json_number_value(json_array_get(range, 0)),
		       json_number_value(json_array_get(range, 1)), na,
		       figure(json_object_get(a, "mean_predicted"), b1, sizeof b1),
		       figure(json_object_get(a, "observed_win_rate"), b2, sizeof b2), "", nw,
		       figure(json_object_get(w, "mean_predicted"), b3, sizeof b3),
		       figure(json_object_get(w, "observed_win_rate"), b4, sizeof b4));
	}
}

static void print_segments(json_t *seg)
{
	const char *value;
	json_t *v;
	char auc[32], loss[32];
	if (!seg)
		return;
	json_t *shared = json_object_get(seg, "shared");
	printf("segments by %s; shared model: %lld trades, AUC %s, log loss %s\n",
	       json_string_value(json_object_get(seg, "by")),
	       (long long)json_integer_value(json_object_get(shared, "trades_scored")),
	       figure(json_object_get(shared, "auc"), auc, sizeof auc),
	       figure(json_object_get(shared, "log_loss"), loss, sizeof loss));
	json_object_foreach(json_object_get(seg, "models"), value, v)
	{
		printf("  %-12s %7lld trades, AUC %s, log loss %s%s\n", value,
		       (long long)json_integer_value(json_object_get(v, "trades_scored")),
		       figure(json_object_get(v, "auc"), auc, sizeof auc),
		       figure(json_object_get(v, "log_loss"), loss, sizeof loss),
		       json_is_true(json_object_get(v, "in_use")) ? ""
								  : " (the shared model predicts)");
	}
}

static void print_human(json_t *o)
{
	const char *key;
	json_t *s;
	printf("root     %s\nlogs     %s (profile %s)\n",
	       json_string_value(json_object_get(o, "root")),
	       json_string_value(json_object_get(o, "logs")),
	       json_string_value(json_object_get(o, "profile")));
	const char *commit = json_string_value(json_object_get(o, "last_commit"));
	printf("commit   %s (generation %lld)%s\n", commit ? commit : "never",
	       (long long)json_integer_value(json_object_get(o, "generation")),
	       json_is_true(json_object_get(o, "watch_running")) ? ", watch running" : "");
	printf("\n%-12s %12s %12s %10s %9s %9s %8s %8s %8s\n", "source", "offset", "size", "lag",
	       "read", "learned", "quarant", "skipped", "pnl_sign");
	json_object_foreach(json_object_get(o, "sources"), key, s)
	{
		printf("%-12s %12lld %12lld %10lld %9lld %9lld %8lld %8lld %8lld\n", key,
		       (long long)json_integer_value(json_object_get(s, "offset")),
		       (long long)json_integer_value(json_object_get(s, "size")),
		       (long long)json_integer_value(json_object_get(s, "lag_bytes")),
		       (long long)json_integer_value(json_object_get(s, "records_read")),
		       (long long)json_integer_value(json_object_get(s, "records_learned")),
		       (long long)json_integer_value(json_object_get(s, "records_quarantined")),
		       (long long)json_integer_value(json_object_get(s, "records_skipped")),
		       (long long)json_integer_value(json_object_get(s, "pnl_sign_mismatch")));
	}
	printf("(pnl_sign: closes recorded and learned although their P&L sign disagrees "
	       "with their prices and side)\n");
	json_object_foreach(json_object_get(o, "sources"), key, s)
	{
		const char *field;
		json_t *n;
		json_object_foreach(json_object_get(s, "unmapped"), field, n)
		    printf("unmapped %s %s: %lld values outside its map, read as unknown\n", key,
			   field, (long long)json_integer_value(n));
		if (json_integer_value(json_object_get(s, "features_skipped")))
			printf(
			    "features %s: %lld values that are not numbers skipped\n", key,
			    (long long)json_integer_value(json_object_get(s, "features_skipped")));
	}
	json_t *m = json_object_get(o, "model");
	char auc[32], loss[32], brier[32], ece[32], window_auc[32];
	printf(
	    "\nmodel    %lld trades learned; progressive AUC %s, log loss %s, Brier %s, ECE %s "
	    "(last %lld: AUC %s)\n",
	    (long long)json_integer_value(json_object_get(m, "trades_scored")),
	    figure(json_object_get(m, "auc"), auc, sizeof auc),
	    figure(json_object_get(m, "log_loss"), loss, sizeof loss),
	    figure(json_object_get(m, "brier"), brier, sizeof brier),
	    figure(json_object_get(m, "ece"), ece, sizeof ece),
	    (long long)json_integer_value(json_object_get(json_object_get(m, "window"), "trades")),
	    figure(json_object_get(json_object_get(m, "window"), "auc"), window_auc,
		   sizeof window_auc));
	print_calibration(m);
	print_segments(json_object_get(m, "segments"));
	json_t *ctx = json_object_get(o, "context");
	if (ctx)
		printf("\ncontext  %lld trades matched, %lld unmatched, %lld waiting; %lld context "
		       "rows waiting, %lld let go unused\n",
		       (long long)json_integer_value(json_object_get(ctx, "matched")),
		       (long long)json_integer_value(json_object_get(ctx, "unmatched")),
		       (long long)json_integer_value(json_object_get(ctx, "pending")),
		       (long long)json_integer_value(json_object_get(ctx, "contexts_waiting")),
		       (long long)json_integer_value(json_object_get(ctx, "contexts_unused")));
	json_t *jobs = json_object_get(o, "jobs");
	const char *job;
	json_t *run;
	printf("\n");
	json_object_foreach(jobs, job, run)
	{
		if (!json_is_object(run))
			continue;
		const char *day = json_string_value(json_object_get(run, "day"));
		const char *why = json_string_value(json_object_get(run, "error"));
		printf("job      %s%s%s: %s at %s (attempt %lld)%s%s\n", job, day ? " " : "",
		       day ? day : "", json_string_value(json_object_get(run, "status")),
		       json_string_value(json_object_get(run, "end")),
		       (long long)json_integer_value(json_object_get(run, "attempt")),
		       why ? ": " : "", why ? why : "");
	}
	const char *latest = json_string_value(json_object_get(jobs, "latest_report"));
	printf("report   %s\n", latest ? latest : "none yet (tradelearn daily)");
	json_t *dep = json_object_get(o, "deployed_model");
	if (json_is_object(dep))
		printf("deployed %s since %s (%s): %s\n",
		       json_string_value(json_object_get(dep, "version")),
		       json_string_value(json_object_get(dep, "deployed_at")),
		       json_string_value(json_object_get(dep, "by")),
		       json_string_value(json_object_get(dep, "reason")));
	else
		printf("deployed none yet (models/online.json is the model; tradelearn retrain)\n");
	json_t *last = json_object_get(o, "last_retrain");
	if (json_is_object(last)) {
		const char *version = json_string_value(json_object_get(last, "version"));
		json_t *reasons = json_object_get(last, "reasons");
		printf("retrain  %s at %s%s%s",
		       json_string_value(json_object_get(last, "decision")),
		       json_string_value(json_object_get(last, "time")), version ? " of " : "",
		       version ? version : "");
		for (size_t k = 0; k < json_array_size(reasons); k++)
			printf("%s%s", k ? "; " : ": ",
			       json_string_value(json_array_get(reasons, k)));
		printf("\n");
	}
	const char *merr = json_string_value(json_object_get(o, "models_error"));
	if (merr)
		printf("models   %s\n", merr);
	printf("\ntrades recorded: %lld    quarantined rows: %lld\n",
	       (long long)json_integer_value(json_object_get(o, "trades_recorded")),
	       (long long)json_integer_value(json_object_get(o, "quarantined")));
	json_t *pos = json_object_get(o, "open_positions"), *p;
	size_t i;
	printf("open positions: %zu\n", json_array_size(pos));
	json_array_foreach(pos, i, p)
	{
		if (i == 20) {
			printf("  … and %zu more (status --json lists all)\n",
			       json_array_size(pos) - 20);
			break;
		}
		printf("  %-8s %-6s since %s (%.1f h)\n",
		       json_string_value(json_object_get(p, "symbol")),
		       json_string_value(json_object_get(p, "side")),
		       json_string_value(json_object_get(p, "opened_at")),
		       json_real_value(json_object_get(p, "age_hours")));
	}
}

/* The limits of --check. */
struct check_limits {
	uint64_t max_lag_bytes;
	int64_t max_commit_age_s; /* -1: not checked */
};

#define CHECK_DEFAULT_MAX_LAG_BYTES 1048576

/* A job's last status that a monitor must hear about (ok, skipped: a day
 * older than the catch-up, interrupted: watch stopped it, are not). */
static int job_failed(const char *status)
{
	return status && (strcmp(status, "failed") == 0 || strcmp(status, "crashed") == 0 ||
			  strcmp(status, "timeout") == 0 || strcmp(status, "missing") == 0);
}

static void problem(json_t *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(json_t *problems, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	json_array_append_new(problems, json_string(line));
}

/* How long since watch last wrote state/health.json, in seconds; -1 when
 * it says nothing readable. */
static int64_t health_age_s(const struct cmd_env *env, int64_t now)
{
	char path[4200];
	int64_t at;
	snprintf(path, sizeof path, "%s/health.json", env->state_dir);
	json_t *h = read_json(path);
	const char *text = json_string_value(json_object_get(h, "alive_at"));
	int ok = text && calendar_parse_iso(text, &at) == 0;
	json_decref(h);
	return ok ? (now - at) / 1000000 : -1;
}

/* Every problem of the status o, one line each (a new array). */
static json_t *check(const struct cmd_env *env, const struct state *st, json_t *o,
		     const struct check_limits *lim)
{
	json_t *problems = json_array(), *src, *run;
	const char *key;
	int64_t now = calendar_now();
	/* watch writes health.json every rescan (or poll) interval. */
	long interval_ms = env->config.rescan_interval_ms > env->config.poll_interval_ms
			       ? env->config.rescan_interval_ms
			       : env->config.poll_interval_ms;
	int64_t stale_s = interval_ms * 10 / 1000 > 60 ? interval_ms * 10 / 1000 : 60;

	if (!json_is_true(json_object_get(o, "watch_running"))) {
		problem(problems, "watch is not running on %s", env->root);
	} else {
		int64_t age = health_age_s(env, now);
		if (age > stale_s)
			problem(
			    problems,
			    "watch (pid %lld) is not responding: state/health.json is %lld s old",
			    (long long)json_integer_value(json_object_get(o, "watch_pid")),
			    (long long)age);
	}
	json_object_foreach(json_object_get(o, "sources"), key, src)
	{
		json_int_t lag = json_integer_value(json_object_get(src, "lag_bytes"));
		if ((uint64_t)lag > lim->max_lag_bytes)
			problem(problems, "source %s is %lld bytes behind (limit %llu): %s", key,
				(long long)lag, (unsigned long long)lim->max_lag_bytes,
				json_string_value(json_object_get(src, "path")));
	}
	if (lim->max_commit_age_s >= 0) {
		int64_t age = st->committed_at ? (now - st->committed_at) / 1000000 : -1;
		if (age < 0)
			problem(problems, "nothing committed yet");
		else if (age > lim->max_commit_age_s)
			problem(problems, "last commit %lld s ago (limit %lld s)", (long long)age,
				(long long)lim->max_commit_age_s);
	}
	json_object_foreach(json_object_get(o, "jobs"), key, run)
	{
		const char *status = json_string_value(json_object_get(run, "status"));
		const char *day = json_string_value(json_object_get(run, "day"));
		const char *why = json_string_value(json_object_get(run, "error"));
		if (json_is_object(run) && job_failed(status))
			problem(problems, "%s %s%s%s at %s (attempt %lld): %s",
				strncmp(key, "hook:", 5) == 0 ? "hook" : "job", key, day ? " " : "",
				day ? day : "", json_string_value(json_object_get(run, "end")),
				(long long)json_integer_value(json_object_get(run, "attempt")),
				why ? why : status);
	}
	return problems;
}

/* The one line of a healthy --check. */
static void print_ok(json_t *o)
{
	uint64_t lag = 0;
	int sources = 0;
	const char *key;
	json_t *src;
	json_object_foreach(json_object_get(o, "sources"), key, src)
	{
		lag += (uint64_t)json_integer_value(json_object_get(src, "lag_bytes"));
		sources++;
	}
	const char *commit = json_string_value(json_object_get(o, "last_commit"));
	printf("OK: watch running (pid %lld), %d sources, lag %llu bytes, last commit %s\n",
	       (long long)json_integer_value(json_object_get(o, "watch_pid")), sources,
	       (unsigned long long)lag, commit ? commit : "none yet");
}

/* "--max-lag-bytes N" and the like: a whole number in [0, max]. */
static int parse_limit(const char *opt, const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
	if (!text || *text < '0' || *text > '9' || *end || errno || v > max) {
		cmd_error("status: %s wants a whole number from 0 to %llu%s%s", opt,
			  (unsigned long long)max, text ? ", not " : "", text ? text : "");
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_status(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	struct state st;
	struct err err;
	enum state_origin origin;
	int as_json = 0, checking = 0, rc;
	struct check_limits lim = {.max_lag_bytes = CHECK_DEFAULT_MAX_LAG_BYTES,
				   .max_commit_age_s = -1};
	uint64_t age;

	if (cmd_wants_help(argc, argv)) {
		fputs(status_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--check") == 0) {
			checking = 1;
		} else if (strcmp(argv[i], "--max-lag-bytes") == 0) {
			if (parse_limit(argv[i], argv[i + 1], UINT64_MAX / 2, &lim.max_lag_bytes))
				return EXIT_USAGE;
			i++;
		} else if (strcmp(argv[i], "--max-commit-age") == 0) {
			if (parse_limit(argv[i], argv[i + 1], 100LL * 365 * 86400, &age))
				return EXIT_USAGE;
			lim.max_commit_age_s = (int64_t)age;
			i++;
		} else {
			cmd_error("status: unknown argument %s", argv[i]);
			return EXIT_USAGE;
		}
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	if (state_load(env.state_dir, &st, &origin, &err)) {
		cmd_error("%s", err.msg);
		if (checking)
			printf("the state cannot be read: %s\n", err.msg);
		cmd_env_release(&env);
		return EXIT_FAILED;
	}
	if (origin == STATE_PREV)
		cmd_error("%s; showing its previous version", err.msg);
	/* Shown all the same, but a state watch would refuse is a failure. */
	int refused = cmd_check_outputs(env.state_dir, &st, "status");
	json_t *o = build(&env, &st, origin != STATE_NONE);
	json_t *problems = checking ? check(&env, &st, o, &lim) : NULL;
	if (problems) {
		json_object_set_new(o, "healthy", json_boolean(json_array_size(problems) == 0));
		json_object_set(o, "problems", problems);
	}
	if (as_json) {
		char *text = jsontext_dump(o, JSONTEXT_PRETTY, NULL);
		fputs(text, stdout);
		free(text);
	} else if (problems) {
		size_t i;
		json_t *line;
		json_array_foreach(problems, i, line) printf("%s\n", json_string_value(line));
		if (!json_array_size(problems))
			print_ok(o);
	} else {
		print_human(o);
	}
	rc = problems && json_array_size(problems) ? EXIT_FAILED : EXIT_DONE;
	json_decref(problems);
	json_decref(o);
	cmd_env_release(&env);
	return refused ? refused : rc;
}
