/*
 * tradelearn score — P(win) of candidate trades under the online or the
 * deployed model, without Python: one JSON object per line on stdin, one
 * probability per line on stdout.
 *
 * The online model is the learner of the last commit
 * (state/learner.<gen>.json), not models/online.json: the two give the same
 * probability (the export is made for that), and the state is what a commit
 * guarantees. The deployed model is models/current.json (the model a
 * retrain deployed, in online.json's format, with its version); when none
 * has been deployed, the online model scores, as the README's scorer falls
 * back to online.json, and one line on stderr says so. No lock is taken, so
 * a running watch is never disturbed.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/base/durable.h"
#include "lib/learn/learner.h"
#include "lib/learn/model.h"
#include "lib/store/state.h"

static const char score_usage[] =
    "usage: tradelearn [global options] score [--model current|online] [--json] < "
    "candidates.jsonl\n"
    "\n"
    "Reads candidate trades on stdin, one JSON object per line, with what the bot\n"
    "knows at entry: components (an object of numbers), confidence, score, regime,\n"
    "time_of_day, day_of_week, side (long/short), timeframe, sector, symbol, and\n"
    "the profile's categories and strategy by name (\"venue\": \"binance\"); an\n"
    "absent key or null is unknown. Prints P(win), one line per input line, with\n"
    "17 significant digits. A line that is not such an object prints null and is\n"
    "named on stderr; the exit status is then 1.\n"
    "\n"
    "  --model online   the committed online model (the default)\n"
    "  --model current  the deployed model, models/current.json; when no model has\n"
    "                   been deployed, the online model (said on stderr)\n"
    "  --json           print {\"line\": N, \"p\": P} instead (and \"error\" for a bad line)\n";

/* Fills c from the object o (borrowed, and c borrows from it). Returns 0, or
 * -1 with what is wrong in why. */
static int candidate_of(json_t *o, json_t *cats, struct learner_candidate *c, char *why, size_t len)
{
	static const struct {
		const char *key;
		size_t off;
	} text_fields[] = {
	    {"regime", offsetof(struct learner_candidate, regime)},
	    {"time_of_day", offsetof(struct learner_candidate, time_of_day)},
	    {"day_of_week", offsetof(struct learner_candidate, day_of_week)},
	    {"side", offsetof(struct learner_candidate, side)},
	    {"timeframe", offsetof(struct learner_candidate, timeframe)},
	    {"sector", offsetof(struct learner_candidate, sector)},
	    {"symbol", offsetof(struct learner_candidate, symbol)},
	};
	static const struct {
		const char *key;
		size_t off;
	} number_fields[] = {
	    {"confidence", offsetof(struct learner_candidate, confidence)},
	    {"score", offsetof(struct learner_candidate, score)},
	};
	memset(c, 0, sizeof *c);
	if (!json_is_object(o)) {
		snprintf(why, len, "not a JSON object");
		return -1;
	}
	for (size_t i = 0; i < sizeof number_fields / sizeof number_fields[0]; i++) {
		json_t *v = json_object_get(o, number_fields[i].key);
		double *slot = (double *)((char *)c + number_fields[i].off);
		*slot = NAN;
		if (json_is_number(v)) {
			*slot = json_number_value(v);
		} else if (v && !json_is_null(v)) {
			snprintf(why, len, "%s: not a number", number_fields[i].key);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++) {
		json_t *v = json_object_get(o, text_fields[i].key);
		if (v && !json_is_null(v) && !json_is_string(v)) {
			snprintf(why, len, "%s: not a string", text_fields[i].key);
			return -1;
		}
		*(const char **)((char *)c + text_fields[i].off) = json_string_value(v);
	}
	c->components = json_object_get(o, "components");
	if (c->components && !json_is_null(c->components) && !json_is_object(c->components)) {
		snprintf(why, len, "components: not an object");
		return -1;
	}
	/* Any other key with a text is a category (a profile's, strategy). */
	const char *key;
	json_t *v;
	json_object_clear(cats);
	json_object_foreach(o, key, v)
	{
		int fixed = 0;
		for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++)
			fixed |= strcmp(key, text_fields[i].key) == 0;
		if (!fixed && json_is_string(v) && json_object_set(cats, key, v)) {
			snprintf(why, len, "out of memory");
			return -1;
		}
	}
	c->categories = cats;
	return 0;
}

/* The learner of the last commit, or NULL after saying why. */
static struct learner *committed_learner(const struct cmd_env *env)
{
	struct state st;
	struct err err = {0};
	char path[4200];
	enum state_origin origin;
	if (state_load(env->state_dir, &st, &origin, &err)) {
		cmd_error("%s", err.msg);
		return NULL;
	}
	if (origin == STATE_PREV)
		cmd_error("score: %s; using its previous version", err.msg);
	if (origin == STATE_NONE || !st.learner_file[0]) {
		cmd_error("score: no model committed yet in %s (run tradelearn watch first)",
			  env->state_dir);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", env->state_dir, st.learner_file);
	json_t *saved;
	if (state_load_learner(env->state_dir, &st, &saved, &err)) {
		cmd_error("score: %s", err.msg);
		return NULL;
	}
	json_t *model = json_object_get(saved, "learner");
	if (!model) {
		cmd_error("score: %s: no learner in it", path);
		json_decref(saved);
		return NULL;
	}
	/* Only hash_bits matters to a prediction, and it must be the state's. */
	struct learner *l = learner_new(&env->config.learner, &err);
	if (!l) {
		cmd_error("score: %s", err.msg);
	} else if (learner_load(l, model, &err)) {
		cmd_error("score: %s: %s", path, err.msg);
		learner_free(l);
		l = NULL;
	}
	json_decref(saved);
	return l;
}

/* The model that scores: the deployed one, or the online learner. */
struct scorer {
	struct model *deployed;
	struct learner *online;
};

/* models/current.json into s->deployed. 0 when read, 1 when there is none
 * (nothing deployed yet), -1 after saying what is wrong with it. */
static int deployed_model(const struct cmd_env *env, struct scorer *s)
{
	char path[4200], *text = NULL;
	size_t len;
	struct err err = {0};
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/current.json", env->models_dir);
	if (durable_read_all(path, &text, &len, &err)) {
		if (err.code == ENOENT)
			return 1;
		cmd_error("score: %s", err.msg);
		return -1;
	}
	json_t *j = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!j) {
		cmd_error("score: %s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	s->deployed = model_from_json(j, &err);
	json_decref(j);
	if (!s->deployed) {
		cmd_error("score: %s: %s", path, err.msg);
		return -1;
	}
	return 0;
}

/* The model --model names. 0, or -1 after saying why there is none. */
static int scorer_open(const struct cmd_env *env, const char *which, struct scorer *s)
{
	memset(s, 0, sizeof *s);
	if (strcmp(which, "current") == 0) {
		int rc = deployed_model(env, s);
		if (rc <= 0)
			return rc;
		cmd_error("score: no model has been deployed yet (no %s/current.json): scoring "
			  "with the online model",
			  env->models_dir);
	}
	s->online = committed_learner(env);
	return s->online ? 0 : -1;
}

static double scorer_predict(const struct scorer *s, const struct learner_candidate *c)
{
	return s->deployed ? model_predict(s->deployed, c)
			   : learner_predict_candidate(s->online, c);
}

static void scorer_close(struct scorer *s)
{
	model_free(s->deployed);
	learner_free(s->online);
}

static void print_json_line(long line, double p, const char *error)
{
	json_t *o = json_pack("{s:I,s:o}", "line", (json_int_t)line, "p",
			      error ? json_null() : json_real(p));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

int cmd_score(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	int as_json = 0, rc, bad = 0;
	const char *which = "online";
	struct scorer scorer;
	char *line = NULL;
	json_t *cats = NULL;
	size_t cap = 0;
	ssize_t got;
	long number = 0;

	if (cmd_wants_help(argc, argv)) {
		fputs(score_usage, stdout);
		return EXIT_DONE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
		} else if (strcmp(argv[i], "--model") == 0 ||
			   strncmp(argv[i], "--model=", 8) == 0) {
			which = argv[i][7] == '=' ? argv[i] + 8 : i + 1 < argc ? argv[++i] : "";
			if (strcmp(which, "current") != 0 && strcmp(which, "online") != 0) {
				cmd_error("score: --model takes current or online, not \"%s\"",
					  which);
				return EXIT_USAGE;
			}
		} else {
			cmd_error("score: unknown argument %s", argv[i]);
			return EXIT_USAGE;
		}
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	rc = scorer_open(&env, which, &scorer);
	cmd_env_release(&env);
	if (rc)
		return EXIT_FAILED;
	while ((got = getline(&line, &cap, stdin)) >= 0) {
		struct learner_candidate c;
		json_error_t jerr;
		char why[300] = "";
		size_t len = (size_t)got;
		number++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		json_t *o = json_loadb(line, len, 0, &jerr);
		if (!o)
			snprintf(why, sizeof why, "not JSON: %s", jerr.text);
		else if (!cats && !(cats = json_object()))
			snprintf(why, sizeof why, "out of memory");
		else
			candidate_of(o, cats, &c, why, sizeof why);
		if (why[0]) {
			cmd_error("score: line %ld: %s", number, why);
			bad = 1;
			if (as_json)
				print_json_line(number, NAN, why);
			else
				puts("null");
		} else {
			double p = scorer_predict(&scorer, &c);
			if (as_json)
				print_json_line(number, p, NULL);
			else
				printf("%.17g\n", p);
		}
		json_decref(o);
	}
	free(line);
	json_decref(cats);
	scorer_close(&scorer);
	if (ferror(stdin)) {
		cmd_error("score: reading stdin: %s", strerror(errno));
		return EXIT_FAILED;
	}
	if (fflush(stdout) != 0) {
		cmd_error("score: writing: %s", strerror(errno));
		return EXIT_FAILED;
	}
	return bad ? EXIT_FAILED : EXIT_DONE;
}
