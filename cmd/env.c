/*
 * The root, config, profile and logs folder that commands share.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "cmd/cmd.h"
#include "lib/base/durable.h"

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_env_load(struct cmd_ctx *ctx, struct cmd_env *env)
{
	char err[1200], path[4200];
	const char *logs, *profile_name;
	struct err derr;

	memset(env, 0, sizeof *env);
	config_init(&env->config);
	if (!is_dir(ctx->root)) {
		cmd_error("root folder %s does not exist", ctx->root);
		return EXIT_FAILED;
	}
	if (!realpath(ctx->root, env->root)) {
		cmd_error("%s: %s", ctx->root, strerror(errno));
		return EXIT_FAILED;
	}
	if (ctx->config) {
		if (config_load(&env->config, ctx->config, 1, err, sizeof err)) {
			cmd_error("bad config: %s", err);
			return EXIT_FAILED;
		}
	} else {
		snprintf(path, sizeof path, "%s/tradelearn.json", env->root);
		if (config_load(&env->config, path, 0, err, sizeof err)) {
			cmd_error("bad config: %s", err);
			return EXIT_FAILED;
		}
	}
	if (calendar_set_zone(env->config.exchange_timezone)) {
		cmd_error("exchange time zone %s is not known to this system",
			  env->config.exchange_timezone);
		return EXIT_FAILED;
	}
	profile_name = ctx->profile ? ctx->profile : env->config.profile_name;
	if (config_profile(&env->config, profile_name, &env->profile, err, sizeof err)) {
		cmd_error("%s", err);
		return ctx->profile ? EXIT_USAGE : EXIT_FAILED;
	}
	if (snprintf(env->state_dir, sizeof env->state_dir, "%s/state", env->root) >=
		(int)sizeof env->state_dir ||
	    snprintf(env->models_dir, sizeof env->models_dir, "%s/models", env->root) >=
		(int)sizeof env->models_dir) {
		cmd_error("root folder %s: its path is too long", env->root);
		return EXIT_FAILED;
	}
	logs = ctx->logs;
	if (!logs && env->config.logs[0]) {
		/* A relative "logs" in the config is relative to the root. */
		int n = env->config.logs[0] == '/'
			    ? snprintf(path, sizeof path, "%s", env->config.logs)
			    : snprintf(path, sizeof path, "%s/%s", env->root, env->config.logs);
		if (n >= (int)sizeof path) {
			cmd_error("logs folder %s: its path is too long", env->config.logs);
			return EXIT_FAILED;
		}
		logs = path;
	}
	if (!logs) {
		snprintf(path, sizeof path, "%s/logs", env->root);
		if (ctx->create_logs && durable_mkdirs(path, &derr)) {
			cmd_error("%s", derr.msg);
			return EXIT_FAILED;
		}
		logs = path;
	}
	if (!is_dir(logs)) {
		cmd_error("logs folder %s does not exist", logs);
		return EXIT_FAILED;
	}
	if (!realpath(logs, env->logs_dir)) {
		cmd_error("%s: %s", logs, strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

void cmd_env_release(struct cmd_env *env)
{
	profile_release(&env->profile);
	config_release(&env->config);
}
