/*
 * tradelearn simulate — write a realistic synthetic bot's logs (cmd/sim).
 */
#include "cmd/cmd.h"
#include "lib/base/calendar.h"
#include "cmd/sim/sim.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tradelearn simulate [OPTIONS]\n"
    "\n"
    "Writes a synthetic trading bot's JSON Lines logs into the logs folder\n"
    "(--logs, default <root>/logs): signals, orders, opens, closes, partial\n"
    "closes, exits and a few malformed lines, with planted component weights.\n"
    "\n"
    "  --days N               trading days of history (batch; default 20)\n"
    "  --seed S               random seed (default 1); same seed, same bytes\n"
    "  --profile P            canonical (default), stock-bot, or crypto: a crypto\n"
    "                         futures bot trading every day (UTC), two files:\n"
    "                         trades.jsonl (finished trades without ids) and\n"
    "                         context.jsonl (one row per trade, matched by symbol\n"
    "                         and time), one planted model per timeframe\n"
    "  --start YYYY-MM-DD     first trading day (default 2026-01-05)\n"
    "  --end now|DATE|TIME    instead of --start: the history ends then (its last\n"
    "                         day cut at that time, its first N trading days back)\n"
    "  --malformed SHARE      share of malformed lines, 0 to <1 (default 0.005)\n"
    "  --truth FILE           write the ground truth (weights, counts, P&L) as JSON\n"
    "  --live                 append in real time until SIGTERM/SIGINT\n"
    "  --rate R               live: records per second (default 5)\n"
    "  --rotate-every SECONDS live: rotate the files like logrotate (default 20,\n"
    "                         0 = never), alternating rename-and-create and\n"
    "                         copytruncate, gzipping older rotations\n"
    "  --max-records N        live: stop after N lines\n"
    "  --start-after-existing live: timestamps continue after the latest one\n"
    "                         already in the files, even when that is in the future\n"
    "  --logs DIR             the folder to write (default <root>/logs)\n"
    "  -h, --help             this help\n";

/* The handler only records the request; the writing loop sees it between
 * lines (its sleeps are not restarted, so it sees it promptly). sig_atomic_t
 * is int on the platforms we build for, which sim_options.stop points to. */
static volatile int stop_requested;

static void on_stop_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static int parse_long(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int parse_profile(const char *name, enum sim_profile *out)
{
	if (strcmp(name, "canonical") == 0) {
		*out = SIM_CANONICAL;
		return 0;
	}
	if (strcmp(name, "stock-bot") == 0 || strcmp(name, "stock_bot") == 0) {
		*out = SIM_STOCK_BOT;
		return 0;
	}
	if (strcmp(name, "crypto") == 0) {
		*out = SIM_CRYPTO;
		return 0;
	}
	return -1;
}

static int parse_seed(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int parse_day(const char *text, int64_t *out)
{
	return strlen(text) == 10 && calendar_parse_iso(text, out) == 0 ? 0 : -1;
}

/* Says that option wants something else than value; returns EXIT_USAGE. */
static int bad_value(const char *option, const char *wants, const char *value)
{
	cmd_error("simulate: --%s wants %s, not '%s'", option, wants, value);
	return EXIT_USAGE;
}

enum {
	OPT_DAYS = 256,
	OPT_SEED,
	OPT_PROFILE,
	OPT_START,
	OPT_LIVE,
	OPT_RATE,
	OPT_ROTATE,
	OPT_MAX,
	OPT_TRUTH,
	OPT_MALFORMED,
	OPT_AFTER_EXISTING,
	OPT_LOGS,
	OPT_ROOT,
	OPT_END
};

static const struct option longopts[] = {
    {"days", required_argument, NULL, OPT_DAYS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"start", required_argument, NULL, OPT_START},
    {"end", required_argument, NULL, OPT_END},
    {"live", no_argument, NULL, OPT_LIVE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"rotate-every", required_argument, NULL, OPT_ROTATE},
    {"max-records", required_argument, NULL, OPT_MAX},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"malformed", required_argument, NULL, OPT_MALFORMED},
    {"start-after-existing", no_argument, NULL, OPT_AFTER_EXISTING},
    /* Global options may follow the command; honour them here too in
     * case they reach us. */
    {"logs", required_argument, NULL, OPT_LOGS},
    {"root", required_argument, NULL, OPT_ROOT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What the command line asks for. */
struct simulate_args {
	struct sim_options opt;
	const char *truth_path, *profile, *logs_option, *root_option;
	int live;
	char logs_buf[4096];
};

/* Takes one option c with its value (NULL for flags) into a. 0, or
 * EXIT_USAGE after saying what is wrong. */
static int take_option(struct simulate_args *a, int c, const char *value)
{
	struct sim_options *opt = &a->opt;
	long n;

	switch (c) {
	case OPT_DAYS:
		if (parse_long(value, 1, 100000, &n) < 0)
			return bad_value("days", "a whole number of days >= 1", value);
		opt->days = (int)n;
		return 0;
	case OPT_SEED:
		if (parse_seed(value, &opt->seed) < 0)
			return bad_value("seed", "a non-negative integer", value);
		return 0;
	case OPT_PROFILE:
		a->profile = value;
		return 0;
	case OPT_START:
		if (parse_day(value, &opt->start_us) < 0)
			return bad_value("start", "a date YYYY-MM-DD", value);
		return 0;
	case OPT_END:
		if (strcmp(value, "now") == 0)
			opt->end_us = calendar_now();
		else if (parse_day(value, &opt->end_us) == 0)
			opt->end_us += 86400 * CALENDAR_US_PER_S; /* the whole day */
		else if (calendar_parse_iso(value, &opt->end_us) < 0)
			return bad_value("end", "now, a date YYYY-MM-DD or an ISO-8601 time",
					 value);
		return 0;
	case OPT_LIVE:
		a->live = 1;
		return 0;
	case OPT_RATE:
		if (parse_double(value, &opt->rate) < 0 || opt->rate <= 0 || opt->rate > 1e6)
			return bad_value("rate", "records per second > 0", value);
		return 0;
	case OPT_ROTATE:
		if (parse_double(value, &opt->rotate_every_s) < 0 || opt->rotate_every_s < 0)
			return bad_value("rotate-every", "seconds >= 0", value);
		return 0;
	case OPT_MAX:
		if (parse_long(value, 0, LONG_MAX, &n) < 0)
			return bad_value("max-records", "a count >= 0", value);
		opt->max_records = n;
		return 0;
	case OPT_TRUTH:
		a->truth_path = value;
		return 0;
	case OPT_MALFORMED:
		if (parse_double(value, &opt->malformed_share) < 0 || opt->malformed_share < 0 ||
		    opt->malformed_share >= 1)
			return bad_value("malformed", "a share in [0, 1)", value);
		return 0;
	case OPT_AFTER_EXISTING:
		opt->append = 1;
		return 0;
	case OPT_LOGS:
		a->logs_option = value;
		return 0;
	case OPT_ROOT:
		a->root_option = value;
		return 0;
	}
	return EXIT_USAGE; /* not reached: getopt_long returns only the options above */
}

/* Fills a from argv, the global options in ctx as defaults. 0, or
 * EXIT_USAGE after saying what is wrong. */
static int parse_args(struct cmd_ctx *ctx, int argc, char **argv, struct simulate_args *a)
{
	int c, rc;

	sim_options_init(&a->opt);
	a->opt.logs_dir = ctx && ctx->logs ? ctx->logs : "logs";
	a->profile = ctx && ctx->profile ? ctx->profile : "canonical";
	optind = 0; /* 0, not 1: also resets glibc's internal state between calls */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == ':') {
			cmd_error("simulate: %s needs a value (see tradelearn simulate --help)",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (c < OPT_DAYS) {
			cmd_error("simulate: unknown option '%s' (see tradelearn simulate --help)",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
		rc = take_option(a, c, optarg);
		if (rc)
			return rc;
	}
	if (a->opt.start_us && a->opt.end_us) {
		cmd_error("simulate: --start and --end both place the history: give one");
		return EXIT_USAGE;
	}
	if (optind < argc) {
		cmd_error("simulate: unexpected argument '%s' (see tradelearn simulate --help)",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (a->logs_option) {
		a->opt.logs_dir = a->logs_option;
	} else if (a->root_option) {
		if (snprintf(a->logs_buf, sizeof a->logs_buf, "%s/logs", a->root_option) >=
		    (int)sizeof a->logs_buf) {
			cmd_error("simulate: --root is too long");
			return EXIT_USAGE;
		}
		a->opt.logs_dir = a->logs_buf;
	}
	if (parse_profile(a->profile, &a->opt.profile) < 0) {
		cmd_error("simulate: profile '%s' is not built in (canonical, stock-bot or crypto)",
			  a->profile);
		return EXIT_USAGE;
	}
	if (a->live && a->opt.profile == SIM_CRYPTO) {
		cmd_error("simulate: --live writes the canonical or stock-bot profile; crypto is "
			  "written as history only");
		return EXIT_USAGE;
	}
	return 0;
}

/* Runs live until SIGINT or SIGTERM (or --max-records). */
static int run_live(struct sim_options *opt, struct sim_truth *truth, struct err *err)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a stop interrupts the pacing sleep */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	stop_requested = 0;
	opt->stop = &stop_requested;
	return sim_run_live(opt, truth, err);
}

int cmd_simulate(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct simulate_args a = {0};
	struct sim_truth truth;
	struct err err = {0};

	if (cmd_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return EXIT_DONE;
	}
	int rc = parse_args(ctx, argc, argv, &a);
	if (rc)
		return rc;
	if ((a.live			   ? run_live(&a.opt, &truth, &err)
	     : a.opt.profile == SIM_CRYPTO ? sim_run_crypto(&a.opt, &truth, &err)
					   : sim_run_batch(&a.opt, &truth, &err)) < 0 ||
	    (a.truth_path && sim_write_truth(&truth, a.truth_path, &err) < 0)) {
		cmd_error("simulate: %s", err.msg);
		return EXIT_FAILED;
	}
	fprintf(stderr,
		"tradelearn: simulate: %s %s into %s: %ld lines, %ld opens, %ld closes "
		"(%ld wins), %ld partial closes, P&L %.2f USD (partials %.2f), %ld malformed\n",
		a.live ? "live" : "batch", truth.profile, a.opt.logs_dir, truth.lines_written,
		truth.opens, truth.closes, truth.wins, truth.partial_closes, truth.closes_pnl_usd,
		truth.partials_pnl_usd, truth.malformed_lines);
	return EXIT_DONE;
}
