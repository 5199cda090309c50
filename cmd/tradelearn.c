/*
 * tradelearn — dispatch: global options, the subcommand, exit codes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

static int verbose_flag;

static void vsay(const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One line per message: journald and log scrapers split on newlines. */
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, "tradelearn: %s\n", msg);
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void cmd_info(const char *fmt, ...)
{
	va_list ap;
	if (!verbose_flag)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static const char usage[] =
    "usage: tradelearn [--root DIR] [--logs DIR] [--config FILE] [--profile NAME]\n"
    "                  [--verbose] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  watch               follow the logs, learn from every closed trade\n"
    "  backfill [--since D] [--until D] [--rebuild] [--jobs N] [--quiet]\n"
    "                      rebuild the state from all history, rotated and archived\n"
    "  status [--json]     per-source offsets and lag, counters, model metrics, open positions\n"
    "  score [--model current|online] [--json]\n"
    "                      P(win) of candidate trades (JSON lines on stdin) under a model\n"
    "  verify              audit: records in the logs vs processed; exit 1 on a mismatch\n"
    "  daily [--date D]    the post-market job for one trading day\n"
    "  retrain [--force] [--dry-run] [--json]\n"
    "                      full retrain, validation gate, deploy if it passes\n"
    "  models list | show ID | deploy ID | rollback [ID]\n"
    "                      the model versions, the deployed one, rollback\n"
    "  report [D] [--json] summary of a daily report (latest by default)\n"
    "  simulate [...]      write a realistic synthetic bot's logs\n"
    "\n"
    "global options (before or after the command):\n"
    "  --root DIR      the folder holding logs/, state/, models/ (default: $TRADELEARN_ROOT or .)\n"
    "  --logs DIR      the bot's logs folder (default: ROOT/logs, or \"logs\" in the config)\n"
    "  --config FILE   the config (default: ROOT/tradelearn.json when it exists)\n"
    "  --profile NAME  canonical, stock-bot, or one defined in the config\n"
    "  --verbose       a line per trade learned and per large batch\n"
    "  --version, --help\n"
    "\n"
    "exit status: 0 done, 1 failed, 2 usage error, 75 another instance holds the lock.\n"
    "See tradelearn(1).\n";

struct command {
	const char *name;
	int (*run)(struct cmd_ctx *, int, char **);
};

static const struct command commands[] = {
    {"watch", cmd_watch},	{"status", cmd_status},	    {"verify", cmd_verify},
    {"simulate", cmd_simulate}, {"daily", cmd_daily},	    {"report", cmd_report},
    {"score", cmd_score},	{"backfill", cmd_backfill}, {"retrain", cmd_retrain},
    {"models", cmd_models},
};

int cmd_exists(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return 1;
	return 0;
}

/* Takes a global option at argv[*i] (and its value); 1 if it was one, 0 if
 * not, -1 on a missing value. */
static int global_option(struct cmd_ctx *ctx, int argc, char **argv, int *i)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
	    {"--root", offsetof(struct cmd_ctx, root)},
	    {"--logs", offsetof(struct cmd_ctx, logs)},
	    {"--config", offsetof(struct cmd_ctx, config)},
	    {"--profile", offsetof(struct cmd_ctx, profile)},
	};
	const char *arg = argv[*i];
	if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
		ctx->verbose = verbose_flag = 1;
		return 1;
	}
	for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		size_t n = strlen(opts[k].name);
		const char **slot = (const char **)((char *)ctx + opts[k].off);
		if (strncmp(arg, opts[k].name, n) != 0)
			continue;
		if (arg[n] == '=') {
			*slot = arg + n + 1;
			return 1;
		}
		if (arg[n] != '\0')
			continue;
		if (*i + 1 >= argc) {
			cmd_error("%s needs a value", arg);
			return -1;
		}
		*slot = argv[++*i];
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cmd_ctx ctx = {0};
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0, rc = EXIT_USAGE;
	const struct command *cmd = NULL;

	if (!rest)
		return EXIT_FAILED;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				rest[nrest++] = argv[i++];
			break;
		}
		int g = global_option(&ctx, argc, argv, &i);
		if (g < 0)
			goto out;
		if (g)
			continue;
		if (!cmd && argv[i][0] != '-') {
			for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
				if (strcmp(argv[i], commands[k].name) == 0)
					cmd = &commands[k];
			if (!cmd) {
				cmd_error("unknown command \"%s\" (see tradelearn --help)",
					  argv[i]);
				goto out;
			}
			rest[nrest++] = argv[i];
			continue;
		}
		if (!cmd && strcmp(argv[i], "--version") == 0) {
			printf("tradelearn %s\n", TRADELEARN_VERSION);
			rc = EXIT_DONE;
			goto out;
		}
		if (!cmd && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
			fputs(usage, stdout);
			rc = EXIT_DONE;
			goto out;
		}
		if (!cmd) {
			cmd_error("unknown option %s before the command (see tradelearn --help)",
				  argv[i]);
			goto out;
		}
		rest[nrest++] = argv[i];
	}
	if (!cmd) {
		fputs(usage, stderr);
		goto out;
	}
	if (!ctx.root)
		ctx.root = getenv("TRADELEARN_ROOT");
	if (!ctx.root || !*ctx.root)
		ctx.root = ".";
	if (!ctx.logs && cmd->run == cmd_simulate) {
		snprintf(ctx.logs_buf, sizeof ctx.logs_buf, "%s/logs", ctx.root);
		ctx.logs = ctx.logs_buf;
	}
	rc = cmd->run(&ctx, nrest, rest);
out:
	free(rest);
	return rc;
}
