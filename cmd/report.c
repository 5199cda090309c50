/*
 * tradelearn report — a daily report in the terminal, or its JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/base/jsontext.h"
#include "lib/base/schedule.h"

static const char report_usage[] =
    "usage: tradelearn [global options] report [YYYY-MM-DD] [--json]\n"
    "\n"
    "Prints a summary of a daily report (the latest by default): the day's and\n"
    "the windows' figures, the best and worst symbols of 30 days, the model's\n"
    "health, knob changes, missed opportunities, stale positions, the retrain\n"
    "decision and the path of the HTML page. --json prints the report itself.\n";

static double figure(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One cell, 11 wide: "—" (3 bytes, 1 column) for a figure that is null. */
static void cell(double v, const char *style)
{
	char buf[32];
	if (!isfinite(v)) {
		printf("%10s—", "");
		return;
	}
	if (strcmp(style, "pct") == 0)
		snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
	else if (strcmp(style, "spct") == 0)
		snprintf(buf, sizeof buf, fabs(v) < 5e-5 ? "%.2f%%" : "%+.2f%%",
			 fabs(v) < 5e-5 ? 0.0 : 100 * v);
	else if (strcmp(style, "usd") == 0)
		snprintf(buf, sizeof buf, "%+.2f", v);
	else if (strcmp(style, "int") == 0)
		snprintf(buf, sizeof buf, "%.0f", v);
	else if (strcmp(style, "min") == 0)
		snprintf(buf, sizeof buf, "%.1f", v);
	else
		snprintf(buf, sizeof buf, "%.2f", v);
	printf("%11s", buf);
}

static void row(const char *label, json_t *cols[4], const char *part, const char *key,
		const char *style)
{
	printf("%-22s", label);
	for (int i = 0; i < 4; i++) {
		json_t *o = part ? json_object_get(cols[i], part) : cols[i];
		if (!o)
			printf("%11s", "");
		else
			cell(figure(o, key), style);
	}
	printf("\n");
}

struct ranked {
	const char *symbol;
	double pnl;
	long count;
};

static int by_pnl(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	return (x->pnl < y->pnl) - (x->pnl > y->pnl);
}

static void symbols(json_t *report)
{
	json_t *bys = json_object_get(json_object_get(report, "breakdowns"), "symbol"), *v;
	const char *k;
	size_t n = 0;
	struct ranked *r = calloc(json_object_size(bys) + 1, sizeof *r);
	if (!r)
		return;
	json_object_foreach(bys, k, v)
	{
		double p = figure(v, "pnl_usd");
		if (!isfinite(p))
			continue;
		r[n++] =
		    (struct ranked){k, p, (long)json_integer_value(json_object_get(v, "count"))};
	}
	qsort(r, n, sizeof *r, by_pnl);
	/* The top and the bottom of the ranking, at most 3 each and never
	 * the same symbol twice: with few symbols the halves split them, so
	 * the worst one is never listed among the "best". */
	size_t best = (n + 1) / 2 < 3 ? (n + 1) / 2 : 3, worst = n / 2 < 3 ? n / 2 : 3;
	printf("best symbols (30 days): ");
	for (size_t i = 0; i < best; i++)
		printf("%s%s %+.2f USD (%ld trades)", i ? ", " : "", r[i].symbol, r[i].pnl,
		       r[i].count);
	printf("%s\nworst symbols (30 days): ", best ? "" : "none");
	for (size_t i = 0; i < worst; i++) {
		struct ranked *w = &r[n - 1 - i];
		printf("%s%s %+.2f USD (%ld trades)", i ? ", " : "", w->symbol, w->pnl, w->count);
	}
	printf("%s\n", worst ? "" : "none");
	free(r);
}

static void print_human(json_t *rep, const char *page)
{
	json_t *w = json_object_get(rep, "windows"), *v;
	json_t *trades[4] = {json_object_get(rep, "day"),
			     json_object_get(json_object_get(w, "7d"), "trades"),
			     json_object_get(json_object_get(w, "30d"), "trades"),
			     json_object_get(json_object_get(w, "all"), "trades")};
	json_t *rets[4] = {NULL, json_object_get(json_object_get(w, "7d"), "returns"),
			   json_object_get(json_object_get(w, "30d"), "returns"),
			   json_object_get(json_object_get(w, "all"), "returns")};
	const char *k;
	size_t i;

	printf("post-market report %s (generated %s)\n\n",
	       json_string_value(json_object_get(rep, "date")),
	       json_string_value(json_object_get(rep, "generated_at")));
	printf("%-22s%11s%11s%11s%11s\n", "", "day", "7 days", "30 days", "all");
	row("closed trades", trades, NULL, "count", "int");
	row("win rate", trades, NULL, "win_rate", "pct");
	row("profit factor", trades, NULL, "profit_factor", "ratio");
	row("expectancy / trade", trades, NULL, "expectancy", "spct");
	row("payoff ratio", trades, NULL, "payoff_ratio", "ratio");
	row("average win", trades, NULL, "avg_win", "spct");
	row("average loss", trades, NULL, "avg_loss", "spct");
	row("P&L (USD)", trades, NULL, "pnl_usd", "usd");
	row("average hold (min)", trades, NULL, "avg_hold_minutes", "min");
	row("most wins in a row", trades, NULL, "max_consecutive_wins", "int");
	row("most losses in a row", trades, NULL, "max_consecutive_losses", "int");
	row("trading days", rets, NULL, "days", "int");
	row("Sharpe", rets, NULL, "sharpe", "ratio");
	row("Sortino", rets, NULL, "sortino", "ratio");
	row("max drawdown", rets, NULL, "max_drawdown", "spct");
	row("Calmar", rets, NULL, "calmar", "ratio");
	row("annual return", rets, NULL, "annual_return", "spct");
	row("annual volatility", rets, NULL, "annual_volatility", "pct");
	printf("\n");
	symbols(rep);

	json_t *m = json_object_get(rep, "model");
	static const char *const model_figures[][2] = {
	    {"auc", "AUC"}, {"log_loss", "log loss"}, {"brier", "Brier"}, {"ece", "ECE"}};
	printf("model: %lld trades scored",
	       (long long)json_integer_value(json_object_get(m, "trades_scored")));
	for (size_t f = 0; f < sizeof model_figures / sizeof model_figures[0]; f++) {
		/* A figure that cannot be computed (AUC with one class) is null. */
		double x = figure(m, model_figures[f][0]);
		printf("%s %s ", f ? "," : ";", model_figures[f][1]);
		if (isfinite(x))
			printf("%.3f", x);
		else
			printf("—");
	}
	printf("\n");

	int changed = 0;
	json_object_foreach(json_object_get(rep, "knobs"), k, v)
	{
		const char *why = json_string_value(json_object_get(v, "reason"));
		if (!why || !*why)
			continue;
		printf("%s%s %g → %g (%s)\n", changed++ ? "       " : "knobs: ", k,
		       figure(v, "previous"), figure(v, "value"), why);
	}
	if (!changed)
		printf("knobs: no change\n");

	json_t *mi = json_object_get(rep, "missed");
	printf("missed: %lld signals not traded",
	       (long long)json_integer_value(json_object_get(mi, "count")));
	if (isfinite(figure(mi, "missed_pnl_usd")))
		printf(", %+.2f USD at 1 h", figure(mi, "missed_pnl_usd"));
	printf("\n");
	json_array_foreach(json_object_get(mi, "suggestions"), i, v)
	    printf("  - %s\n", json_string_value(v));

	json_t *st = json_object_get(rep, "stale_positions");
	printf("stale positions: %zu", json_array_size(st));
	json_array_foreach(st, i, v)
	{
		if (i == 5) {
			printf(", …");
			break;
		}
		printf("%s%s %.1f h", i ? ", " : " (",
		       json_string_value(json_object_get(v, "symbol")), figure(v, "age_hours"));
	}
	printf("%s\n", json_array_size(st) ? ")" : "");

	json_t *r = json_object_get(rep, "retrain");
	printf("retrain: %s\n", json_is_true(json_object_get(r, "triggered")) ? "due" : "not due");
	json_array_foreach(json_object_get(r, "reasons"), i, v)
	    printf("  - %s\n", json_string_value(v));
	printf("\npage: %s\n", page);
}

int cmd_report(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	const char *date = NULL;
	int as_json = 0, rc;
	char path[4400], page[4400];
	json_error_t jerr;

	if (cmd_wants_help(argc, argv)) {
		fputs(report_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		int32_t d;
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (!date && schedule_parse_day(argv[i], &d) == 0) {
			date = argv[i];
		} else {
			cmd_error("report: unknown argument %s (a date is YYYY-MM-DD)", argv[i]);
			return EXIT_USAGE;
		}
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s/reports/post_market_%s.json", env.state_dir,
		 date ? date : "latest");
	json_t *rep = json_load_file(path, 0, &jerr);
	if (!rep) {
		if (date)
			cmd_error("report: no report for %s (%s); run: tradelearn daily --date %s",
				  date, jerr.text, date);
		else
			cmd_error("report: no report yet (%s); run: tradelearn daily", jerr.text);
		cmd_env_release(&env);
		return EXIT_FAILED;
	}
	snprintf(page, sizeof page, "%s/reports/post_market_%s.html", env.state_dir,
		 json_string_value(json_object_get(rep, "date")));
	if (as_json) {
		char *text = jsontext_dump(rep, JSONTEXT_PRETTY, NULL);
		fputs(text ? text : "", stdout);
		free(text);
	} else {
		print_human(rep, page);
	}
	json_decref(rep);
	cmd_env_release(&env);
	return EXIT_DONE;
}
