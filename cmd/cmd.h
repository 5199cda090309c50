/*
 * cmd — the tradelearn command: one function per subcommand.
 *
 * Each cmd_<name>() receives the global options already parsed (struct
 * cmd_ctx) and the subcommand's own argv (argv[0] is the subcommand name),
 * prints its messages to stderr (one line each, journald-friendly) and its
 * results to stdout, and returns the process exit status:
 * 0 done, 1 failed, 2 usage error, 75 another instance holds the lock.
 */
#ifndef TRADELEARN_CMD_H
#define TRADELEARN_CMD_H

#define EXIT_DONE 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_LOCKED 75

struct cmd_ctx {
	const char *root;    /* --root / TRADELEARN_ROOT, default "." */
	const char *logs;    /* --logs, default "<root>/logs" */
	const char *config;  /* --config, default "<root>/tradelearn.json" if present */
	const char *profile; /* --profile, NULL = from config or "canonical" */
	int verbose;	     /* --verbose: a line per trade learned and per large batch */
	int create_logs;     /* create the default logs folder if missing (watch) */
	char logs_buf[4096];
};

#include "lib/base/err.h"
#include "lib/config/config.h"
#include "lib/ingest/profile.h"

/* What every command that touches a root needs, resolved once. */
struct cmd_env {
	struct config config;
	struct profile profile;
	char root[4096];
	char state_dir[4096];
	char logs_dir[4096]; /* absolute */
	char models_dir[4096];
};

/* Resolves root, config (--config, else ROOT/tradelearn.json if present),
 * profile (--profile, else the config's, else canonical), the logs folder
 * (--logs, else the config's, else ROOT/logs; created when it is the default
 * and ctx->create_logs is set, so a mistyped --root creates nothing)
 * and the exchange time zone. Prints what is wrong and returns the exit
 * status to use (EXIT_FAILED / EXIT_USAGE), or 0. */
int cmd_env_load(struct cmd_ctx *ctx, struct cmd_env *env);
/* The same without printing: the message goes to e (SIGHUP says it in its
 * own line). env is to be released whatever the result. */
int cmd_env_resolve(struct cmd_ctx *ctx, struct cmd_env *env, struct err *e);
void cmd_env_release(struct cmd_env *env);

struct state;
/* Checks the outputs under state_dir as a start of watch would (read
 * only): says on stderr what a start would cut back, and when a start would
 * refuse, why; returns EXIT_FAILED then, else 0. who prefixes each line. */
int cmd_check_outputs(const char *state_dir, const struct state *st, const char *who);

/* "tradelearn: <message>" on stderr, one line: newlines in the message
 * become spaces. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, only when --verbose was given (ctx->verbose). */
void cmd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when argv holds -h or --help (anywhere). */
int cmd_wants_help(int argc, char **argv);

int cmd_watch(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_status(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_verify(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_simulate(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_daily(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_report(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_score(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_backfill(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_retrain(struct cmd_ctx *ctx, int argc, char **argv);
int cmd_models(struct cmd_ctx *ctx, int argc, char **argv);

/* 1 when this binary has the subcommand name. */
int cmd_exists(const char *name);

#endif
