#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/report/dashboard.h"

/* ---- documents ---------------------------------------------------------- */

static json_t *day_of(int i)
{
	char date[16];
	snprintf(date, sizeof date, "2026-03-%02d", i + 1);
	return json_pack("{s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:i,s:b}", "date", date, "trades", 40 + i,
			 "win_rate", 0.5 + i / 100.0, "pnl_usd", i % 2 ? 12.5 : -7.25, "sharpe",
			 1.0 + i / 10.0, "auc", 0.6 + i / 200.0, "log_loss", 0.69 - i / 200.0,
			 "missed", i % 5, "retrain", i == 3);
}

/* A document of n days, a latest report, two knobs, a health file, two
 * job runs and a registry of two versions (the second deployed). */
static json_t *document(int n)
{
	json_t *days = json_array(), *equity = json_array(), *drawdown = json_array();
	for (int i = 0; i < n; i++) {
		json_t *d = day_of(i);
		json_array_append_new(equity,
				      json_pack("{s:O,s:f}", "date", json_object_get(d, "date"),
						"equity", 1.0 + i / 100.0));
		json_array_append_new(drawdown,
				      json_pack("{s:O,s:f}", "date", json_object_get(d, "date"),
						"drawdown", i % 3 ? -0.01 : 0.0));
		json_array_append_new(days, d);
	}
	json_t *latest = json_pack(
	    "{s:s,s:{s:i,s:f,s:f,s:f},s:{s:{s:{s:f},s:{s:f,s:f}}},s:{s:f},s:{s:b},s:{s:o,s:o}}",
	    "date", "2026-03-20", "day", "count", 61, "win_rate", 0.55, "pnl_usd", 123.45,
	    "profit_factor", 1.4, "windows", "all", "trades", "pnl_usd", 999.0, "returns", "sharpe",
	    2.5, "max_drawdown", -0.02, "model", "auc", 0.71, "retrain", "triggered", 1, "charts",
	    "equity", equity, "drawdown", drawdown);
	json_t *knobs =
	    json_pack("[{s:s,s:f,s:f,s:{s:s,s:f,s:f,s:s}},{s:s,s:i,s:i,s:n}]", "name",
		      "min_confidence", "value", 0.32, "default", 0.25, "change", "day",
		      "2026-03-19", "previous", 0.25, "value", 0.32, "reason", "win rate below 45%",
		      "name", "max_positions", "value", 10, "default", 10, "change");
	json_t *jobs = json_pack("[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s,s:s}]", "job",
				 "daily", "day", "2026-03-20", "start", "2026-03-20T21:05:00Z",
				 "end", "2026-03-20T21:05:02Z", "status", "ok", "job", "retrain",
				 "day", "2026-03-15", "start", "2026-03-15T06:00:00Z", "end",
				 "2026-03-15T06:01:00Z", "status", "failed", "error", "exit 1");
	json_t *registry = json_pack(
	    "{s:s,s:[{s:s,s:s,s:s,s:s,s:s,s:{s:f,s:f}},{s:s,s:s,s:s,s:s,s:s,s:{s:f,s:f}}],"
	    "s:[{s:s,s:s,s:s}]}",
	    "deployed", "model_20260315_060000", "versions", "id", "model_20260308_060000",
	    "trained_at", "2026-03-08T06:00:00Z", "candidate", "batch", "status", "rejected",
	    "decided_by", "gate", "metrics", "auc", 0.61, "log_loss", 0.68, "id",
	    "model_20260315_060000", "trained_at", "2026-03-15T06:00:00Z", "candidate", "online",
	    "status", "deployed", "decided_by", "gate", "metrics", "auc", 0.72, "log_loss", 0.61,
	    "deployments", "version", "model_20260315_060000", "at", "2026-03-15T06:01:00Z", "by",
	    "gate");
	json_t *doc =
	    json_pack("{s:s,s:o,s:o,s:o,s:s,s:{s:s,s:s,s:i,s:{s:i,s:i}},s:o,s:{s:O},s:o}",
		      "generated_at", "2026-03-20T21:05:03Z", "days", days, "latest", latest,
		      "knobs", knobs, "knobs_as_of", "2026-03-20", "health", "last_commit",
		      "2026-03-20T21:04:59Z", "alive_at", "2026-03-20T21:05:03Z", "open_positions",
		      3, "lag_bytes", "attribution", 0, "signals", 4096, "jobs", jobs, "last_jobs",
		      "daily", json_array_get(jobs, 0), "registry", registry);
	assert_non_null(doc);
	json_object_set(json_object_get(doc, "last_jobs"), "retrain", json_array_get(jobs, 1));
	return doc;
}

static char *page_of(json_t *doc)
{
	struct err err = {0};
	char *page = dashboard_page(doc, &err);
	if (!page)
		fail_msg("dashboard_page: %s", err.msg);
	return page;
}

static size_t count_of(const char *text, const char *what)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* ---- the page ------------------------------------------------------------- */

static void test_dashboard_lists_days_newest_first_the_ten_newest_in_view(void **state)
{
	(void)state;
	json_t *doc = document(25);
	char *page = page_of(doc);
	char *fold = strstr(page, "<summary>15 earlier days</summary>");
	assert_non_null(fold);
	/* Newest first; the ten newest before the fold, the others in it. */
	char *d25 = strstr(page, "<a href=\"post_market_2026-03-25.html\">");
	char *d16 = strstr(page, "<a href=\"post_market_2026-03-16.html\">");
	char *d15 = strstr(page, "<a href=\"post_market_2026-03-15.html\">");
	char *d01 = strstr(page, "<a href=\"post_market_2026-03-01.html\">");
	assert_true(d25 && d16 && d15 && d01);
	assert_true(d25 < d16 && d16 < fold && fold < d15 && d15 < d01);
	assert_int_equal(count_of(page, ".json\">JSON</a>"), 25);
	free(page);
	json_decref(doc);
}

static void test_dashboard_shows_headline_charts_knobs_health_and_models(void **state)
{
	(void)state;
	json_t *doc = document(12);
	char *page = page_of(doc);
	assert_non_null(strstr(page, "<title>Dashboard"));
	assert_non_null(strstr(page, "<dt>P&amp;L</dt><dd class=\"num pos\">+$123.45</dd>"));
	assert_non_null(strstr(page, "<dt>Sharpe, all time</dt><dd class=\"num\">2.50</dd>"));
	assert_non_null(strstr(page, "Retrain triggered"));
	const char *charts[] = {"chart-equity", "chart-drawdown", "chart-auc", "chart-log-loss",
				"chart-missed"};
	for (size_t i = 0; i < 5; i++) {
		char id[40];
		snprintf(id, sizeof id, "<svg id=\"%s\"", charts[i]);
		assert_non_null(strstr(page, id));
	}
	assert_null(strstr(page, "no data"));
	/* The knob that moved is marked, with its last change. */
	assert_non_null(strstr(page, "<td class=\"num moved\">0.32</td>"));
	assert_non_null(strstr(page, "win rate below 45%"));
	assert_non_null(strstr(page, "<td>never</td>"));
	/* Health: lag, the failed job. */
	assert_non_null(strstr(page, "4096 bytes"));
	assert_non_null(strstr(page, "<span class=\"badge warn\">failed</span>"));
	/* The deployed version is marked, the rejected one is not. */
	assert_non_null(strstr(page, "Deployed: <strong>model_20260315_060000</strong>"));
	assert_non_null(
	    strstr(page, "<tr class=\"current\"><th scope=\"row\">model_20260315_060000</th>"));
	assert_non_null(strstr(page, "<span class=\"badge warn\">rejected</span>"));
	free(page);
	json_decref(doc);
}

static void test_dashboard_escapes_text_and_links_only_real_dates(void **state)
{
	(void)state;
	json_t *doc = document(3);
	json_t *bad = json_pack("{s:s,s:i}", "date", "../../etc/passwd\"<x>", "trades", 1);
	json_array_append_new(json_object_get(doc, "days"), bad);
	json_object_set_new(json_array_get(json_object_get(doc, "knobs"), 0), "name",
			    json_string("<script>alert(1)</script>"));
	char *page = page_of(doc);
	assert_null(strstr(page, "<script"));
	assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_null(strstr(page, "href=\"post_market_../"));
	assert_non_null(strstr(page, "../../etc/passwd&quot;&lt;x&gt;"));
	assert_null(strstr(page, "http:"));
	assert_null(strstr(page, "https:"));
	assert_null(strstr(page, "src="));
	assert_null(strstr(page, "url("));
	free(page);
	json_decref(doc);
}

static void test_dashboard_of_nothing_says_what_comes_when(void **state)
{
	(void)state;
	json_t *doc = json_object();
	struct err err = {0};
	char *page = page_of(doc);
	assert_non_null(strstr(page, "No daily report yet"));
	assert_non_null(strstr(page, "No reports yet."));
	assert_non_null(strstr(page, "No model version yet"));
	assert_non_null(strstr(page, "No job has run yet"));
	free(page);
	json_decref(doc);
	json_t *array = json_array();
	assert_null(dashboard_page(array, &err));
	assert_int_equal(err.code, EINVAL);
	json_decref(array);
}

/* ---- gathering from a root ---------------------------------------------- */

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_dashboard_gathers_reports_knobs_jobs_and_registry_of_a_root(void **state)
{
	(void)state;
	char root[] = "/tmp/test_dashboard.XXXXXX", dir[256], cmd[300];
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof dir, "%s/state", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/state/reports", root);
	mkdir(dir, 0755);
	put(dir, "post_market_2026-03-03.json",
	    "{\"date\":\"2026-03-03\",\"day\":{\"count\":7,\"win_rate\":0.5,\"pnl_usd\":3.5},"
	    "\"windows\":{\"all\":{\"returns\":{\"sharpe\":1.5}}},\"model\":{\"auc\":0.66},"
	    "\"missed\":{\"count\":4}}");
	put(dir, "post_market_2026-03-02.json", "{\"date\":\"2026-03-02\",\"day\":{\"count\":5}}");
	put(dir, "post_market_2026-03-04.json", "{not json");
	put(dir, "post_market_latest.json", "{\"date\":\"2026-03-03\"}");
	put(dir, "post_market_2026-02-30.json", "{}"); /* not a date */
	snprintf(dir, sizeof dir, "%s/state", root);
	put(dir, "knobs.json",
	    "{\"as_of\":\"2026-03-03\",\"values\":{\"max_positions\":8,"
	    "\"extra\":1}}");
	put(dir, "knob_adjustments.jsonl",
	    "{\"knob\":\"max_positions\",\"previous\":10,\"value\":9,\"day\":\"2026-03-02\"}\n"
	    "{\"knob\":\"max_positions\",\"previous\":9,\"value\":8,\"day\":\"2026-03-03\","
	    "\"reason\":\"fewer\"}\n");
	put(dir, "jobs.jsonl",
	    "{\"job\":\"daily\",\"day\":\"2026-03-02\",\"status\":\"ok\"}\n"
	    "{\"job\":\"daily\",\"day\":\"2026-03-03\",\"status\":\"ok\"}\n"
	    "{\"job\":\"retrain\",\"day\":null,\"status\":\"failed\"}\n{\"torn");
	snprintf(dir, sizeof dir, "%s/models", root);
	mkdir(dir, 0755);
	put(dir, "registry.json", "{\"deployed\":\"m1\",\"versions\":[{\"id\":\"m1\"}]}");

	char state_dir[256], models_dir[256];
	snprintf(state_dir, sizeof state_dir, "%s/state", root);
	snprintf(models_dir, sizeof models_dir, "%s/models", root);
	json_t *defaults = json_pack("{s:i}", "max_positions", 10);
	struct dashboard_options o = {state_dir, models_dir, defaults, 0};
	struct err err = {0};
	json_t *doc = dashboard_gather(&o, &err);
	assert_non_null(doc);

	json_t *days = json_object_get(doc, "days");
	assert_int_equal(json_array_size(days), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(days, 0), "date")),
			    "2026-03-02");
	json_t *d3 = json_array_get(days, 1);
	assert_int_equal(json_integer_value(json_object_get(d3, "trades")), 7);
	assert_true(json_real_value(json_object_get(d3, "sharpe")) == 1.5);
	assert_int_equal(json_integer_value(json_object_get(d3, "missed")), 4);
	/* The unreadable newest report keeps its day, without figures; the
	 * headline is of the newest that reads. */
	json_t *d4 = json_array_get(days, 2);
	assert_string_equal(json_string_value(json_object_get(d4, "date")), "2026-03-04");
	assert_null(json_object_get(d4, "trades"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(doc, "latest"), "date")),
	    "2026-03-03");

	json_t *knobs = json_object_get(doc, "knobs");
	assert_int_equal(json_array_size(knobs), 2);
	json_t *k = json_array_get(knobs, 0);
	assert_string_equal(json_string_value(json_object_get(k, "name")), "max_positions");
	assert_int_equal(json_integer_value(json_object_get(k, "default")), 10);
	assert_int_equal(json_integer_value(json_object_get(k, "value")), 8);
	assert_string_equal(json_string_value(json_object_get(json_object_get(k, "change"), "day")),
			    "2026-03-03");
	assert_true(json_is_null(json_object_get(json_array_get(knobs, 1), "default")));

	json_t *jobs = json_object_get(doc, "jobs");
	assert_int_equal(json_array_size(jobs), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "job")),
			    "retrain");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(doc, "last_jobs"), "daily"), "day")),
	    "2026-03-03");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(doc, "registry"), "deployed")), "m1");
	json_decref(doc);

	/* dashboard_write replaces index.html. */
	assert_int_equal(dashboard_write(&o, &err), 0);
	snprintf(dir, sizeof dir, "%s/state/reports/index.html", root);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(st.st_size > 1000);
	json_decref(defaults);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void test_dashboard_of_a_root_with_no_files_is_still_written(void **state)
{
	(void)state;
	char root[] = "/tmp/test_dashboard.XXXXXX", state_dir[256], cmd[600];
	assert_non_null(mkdtemp(root));
	snprintf(state_dir, sizeof state_dir, "%s/state", root);
	struct dashboard_options o = {state_dir, NULL, NULL, 0};
	struct err err = {0};
	assert_int_equal(dashboard_write(&o, &err), 0);
	snprintf(cmd, sizeof cmd, "grep -q 'No daily report yet' %s/reports/index.html", state_dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dashboard_lists_days_newest_first_the_ten_newest_in_view),
	    cmocka_unit_test(test_dashboard_shows_headline_charts_knobs_health_and_models),
	    cmocka_unit_test(test_dashboard_escapes_text_and_links_only_real_dates),
	    cmocka_unit_test(test_dashboard_of_nothing_says_what_comes_when),
	    cmocka_unit_test(test_dashboard_gathers_reports_knobs_jobs_and_registry_of_a_root),
	    cmocka_unit_test(test_dashboard_of_a_root_with_no_files_is_still_written),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
