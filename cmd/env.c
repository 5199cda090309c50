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
#include "lib/store/state.h"

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_env_resolve(struct cmd_ctx *ctx, struct cmd_env *env, struct err *e)
{
	char path[4200];
	const char *logs, *profile_name;

	memset(env, 0, sizeof *env);
	config_init(&env->config);
	if (!is_dir(ctx->root)) {
		err_set(e, ENOENT, "root folder %s does not exist", ctx->root);
		return EXIT_FAILED;
	}
	if (!realpath(ctx->root, env->root)) {
		err_fail(e, "%s: %s", ctx->root, strerror(errno));
		return EXIT_FAILED;
	}
	if (!ctx->config)
		snprintf(path, sizeof path, "%s/tradelearn.json", env->root);
	if (config_load(&env->config, ctx->config ? ctx->config : path, ctx->config != NULL, e)) {
		err_prefix(e, "bad config");
		return EXIT_FAILED;
	}
	if (calendar_set_zone(env->config.exchange_timezone)) {
		err_set(e, EINVAL, "exchange time zone %s is not known to this system",
			env->config.exchange_timezone);
		return EXIT_FAILED;
	}
	calendar_set_sessions(env->config.sessions, env->config.n_sessions);
	profile_name = ctx->profile ? ctx->profile : env->config.profile_name;
	if (config_profile(&env->config, profile_name, &env->profile, e))
		return ctx->profile ? EXIT_USAGE : EXIT_FAILED;
	if (snprintf(env->state_dir, sizeof env->state_dir, "%s/state", env->root) >=
		(int)sizeof env->state_dir ||
	    snprintf(env->models_dir, sizeof env->models_dir, "%s/models", env->root) >=
		(int)sizeof env->models_dir) {
		err_set(e, ENAMETOOLONG, "root folder %s: its path is too long", env->root);
		return EXIT_FAILED;
	}
	logs = ctx->logs;
	if (!logs && env->config.logs[0]) {
		/* A relative "logs" in the config is relative to the root. */
		int n = env->config.logs[0] == '/'
			    ? snprintf(path, sizeof path, "%s", env->config.logs)
			    : snprintf(path, sizeof path, "%s/%s", env->root, env->config.logs);
		if (n >= (int)sizeof path) {
			err_set(e, ENAMETOOLONG, "logs folder %s: its path is too long",
				env->config.logs);
			return EXIT_FAILED;
		}
		logs = path;
	}
	if (!logs) {
		snprintf(path, sizeof path, "%s/logs", env->root);
		if (ctx->create_logs && durable_mkdirs(path, e))
			return EXIT_FAILED;
		logs = path;
	}
	if (!is_dir(logs)) {
		err_set(e, ENOENT, "logs folder %s does not exist", logs);
		return EXIT_FAILED;
	}
	if (!realpath(logs, env->logs_dir)) {
		err_fail(e, "%s: %s", logs, strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

int cmd_env_load(struct cmd_ctx *ctx, struct cmd_env *env)
{
	struct err e = {0};
	int rc = cmd_env_resolve(ctx, env, &e);
	if (rc)
		cmd_error("%s", e.msg);
	return rc;
}

void cmd_env_release(struct cmd_env *env)
{
	profile_release(&env->profile);
	config_release(&env->config);
}

static void say_output(void *ctx, const char *line)
{
	cmd_error("%s: %s", (const char *)ctx, line);
}

int cmd_check_outputs(const char *state_dir, const struct state *st, const char *who)
{
	struct err err = {0};
	char *learner;
	size_t len;
	if (state_check_outputs(state_dir, st, say_output, (void *)who, 0, &err) == 0 &&
	    state_read_learner(state_dir, st, &learner, &len, &err) == 0) {
		free(learner);
		return 0;
	}
	cmd_error("%s: %s", who, err.msg);
	return EXIT_FAILED;
}
