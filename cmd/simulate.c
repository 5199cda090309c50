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
    "  --profile P            canonical (default) or stock-bot\n"
    "  --start YYYY-MM-DD     first trading day (default 2026-01-05)\n"
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
	return -1;
}

int cmd_simulate(struct cmd_ctx *ctx, int argc, char **argv)
{
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
		OPT_ROOT
	};
	static const struct option longopts[] = {
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"start", required_argument, NULL, OPT_START},
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
	struct sim_options opt;
	struct sim_truth truth;
	const char *truth_path = NULL, *profile = ctx && ctx->profile ? ctx->profile : "canonical";
	const char *logs_option = NULL, *root_option = NULL;
	char err[512], logs_buf[4096];
	int live = 0, c;
	long n;

	if (cmd_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return EXIT_DONE;
	}
	sim_options_init(&opt);
	opt.logs_dir = ctx && ctx->logs ? ctx->logs : "logs";

	optind = 0; /* 0, not 1: also resets glibc's internal state between calls */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DAYS:
			if (parse_long(optarg, 1, 100000, &n) < 0) {
				cmd_error(
				    "simulate: --days wants a whole number of days >= 1, not '%s'",
				    optarg);
				return EXIT_USAGE;
			}
			opt.days = (int)n;
			break;
		case OPT_SEED: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				cmd_error("simulate: --seed wants a non-negative integer, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			opt.seed = (uint64_t)v;
			break;
		}
		case OPT_PROFILE:
			profile = optarg;
			break;
		case OPT_START: {
			int64_t us;
			if (strlen(optarg) != 10 || calendar_parse_iso(optarg, &us) < 0) {
				cmd_error("simulate: --start wants a date YYYY-MM-DD, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			opt.start_us = us;
			break;
		}
		case OPT_LIVE:
			live = 1;
			break;
		case OPT_RATE:
			if (parse_double(optarg, &opt.rate) < 0 || opt.rate <= 0 ||
			    opt.rate > 1e6) {
				cmd_error("simulate: --rate wants records per second > 0, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_ROTATE:
			if (parse_double(optarg, &opt.rotate_every_s) < 0 ||
			    opt.rotate_every_s < 0) {
				cmd_error("simulate: --rotate-every wants seconds >= 0, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_MAX:
			if (parse_long(optarg, 0, LONG_MAX, &n) < 0) {
				cmd_error("simulate: --max-records wants a count >= 0, not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			opt.max_records = n;
			break;
		case OPT_TRUTH:
			truth_path = optarg;
			break;
		case OPT_MALFORMED:
			if (parse_double(optarg, &opt.malformed_share) < 0 ||
			    opt.malformed_share < 0 || opt.malformed_share >= 1) {
				cmd_error("simulate: --malformed wants a share in [0, 1), not '%s'",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_AFTER_EXISTING:
			opt.append = 1;
			break;
		case OPT_LOGS:
			logs_option = optarg;
			break;
		case OPT_ROOT:
			root_option = optarg;
			break;
		case ':':
			cmd_error("simulate: %s needs a value (see tradelearn simulate --help)",
				  argv[optind - 1]);
			return EXIT_USAGE;
		default:
			cmd_error("simulate: unknown option '%s' (see tradelearn simulate --help)",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cmd_error("simulate: unexpected argument '%s' (see tradelearn simulate --help)",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (logs_option) {
		opt.logs_dir = logs_option;
	} else if (root_option) {
		if (snprintf(logs_buf, sizeof logs_buf, "%s/logs", root_option) >=
		    (int)sizeof logs_buf) {
			cmd_error("simulate: --root is too long");
			return EXIT_USAGE;
		}
		opt.logs_dir = logs_buf;
	}
	if (parse_profile(profile, &opt.profile) < 0) {
		cmd_error("simulate: profile '%s' is not built in (canonical or stock-bot)",
			  profile);
		return EXIT_USAGE;
	}

	if (live) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; /* no SA_RESTART: a stop interrupts the pacing sleep */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		stop_requested = 0;
		opt.stop = &stop_requested;
		if (sim_run_live(&opt, &truth, err, sizeof err) < 0) {
			cmd_error("simulate: %s", err);
			return EXIT_FAILED;
		}
	} else if (sim_run_batch(&opt, &truth, err, sizeof err) < 0) {
		cmd_error("simulate: %s", err);
		return EXIT_FAILED;
	}
	if (truth_path && sim_write_truth(&truth, truth_path, err, sizeof err) < 0) {
		cmd_error("simulate: %s", err);
		return EXIT_FAILED;
	}
	fprintf(stderr,
		"tradelearn: simulate: %s %s into %s: %ld lines, %ld opens, %ld closes "
		"(%ld wins), %ld partial closes, P&L %.2f USD (partials %.2f), %ld malformed\n",
		live ? "live" : "batch", truth.profile, opt.logs_dir, truth.lines_written,
		truth.opens, truth.closes, truth.wins, truth.partial_closes, truth.closes_pnl_usd,
		truth.partials_pnl_usd, truth.malformed_lines);
	return EXIT_DONE;
}
