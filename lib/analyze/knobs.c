#include "lib/analyze/knobs.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[KNOBS_METRIC_COUNT] = {
    [KNOBS_WIN_RATE] = "win_rate",
    [KNOBS_WIN_RATE_7D] = "win_rate_7d",
    [KNOBS_PROFIT_FACTOR_7D] = "profit_factor_7d",
    [KNOBS_EXPECTANCY_7D] = "expectancy_7d",
    [KNOBS_SHARPE_7D] = "sharpe_7d",
    [KNOBS_STOP_EXIT_SHARE_7D] = "stop_exit_share_7d",
    [KNOBS_TARGET_EXIT_SHARE_7D] = "target_exit_share_7d",
    [KNOBS_TIME_EXIT_SHARE_7D] = "time_exit_share_7d",
    [KNOBS_AVG_HOLD_MINUTES_7D] = "avg_hold_minutes_7d",
    [KNOBS_MISSED_PNL_DAY] = "missed_pnl_day",
    [KNOBS_TRADES_DAY] = "trades_day",
    [KNOBS_TRADES_7D] = "trades_7d",
    [KNOBS_LOSS_STREAK] = "loss_streak",
};

static const char *const op_names[] = {"<", "<=", ">", ">="};

/* name, value, min, max, material, integer */
static const struct knobs_def default_knobs[] = {
    {"min_confidence", 0.25, 0.05, 0.95, 0.005, 0},
    {"max_positions", 10, 1, 100, 1, 1},
    {"stop_loss_pct", 0.02, 0.002, 0.2, 0.0005, 0},
    {"take_profit_pct", 0.04, 0.004, 0.5, 0.001, 0},
    {"position_size_pct", 0.05, 0.001, 0.5, 0.001, 0},
    {"orders_per_cycle", 5, 1, 50, 1, 1},
    {"min_trade_gap_minutes", 5, 0, 240, 1, 1},
};

/* The default rules, in the order they are looked at (the README lists
 * them too). Every one moves its knob when it fires at the default values
 * (a test checks it), except rule 1, whose target is the default itself.
 * Rule 7 uses 0.85, not 0.9: from the default 0.04 a 0.9 factor smooths to
 * a 0.0008 move, under take_profit_pct's material 0.001, so the rule could
 * never fire at the default. orders_per_cycle and min_trade_gap_minutes
 * have no default rule: nothing in the daily figures says which way they
 * should go without the bot's order book; a config can add rules for them. */
static const struct knob_rule default_rules[] = {
    {.cond = {{KNOBS_WIN_RATE_7D, KNOBS_LT, 0.45}},
     .n_cond = 1,
     .knob = "min_confidence",
     .has_target = 1,
     .target = 0.32,
     .min_trades = 10,
     .reason = "win rate below 45%: raise the minimum confidence"},
    {.cond = {{KNOBS_WIN_RATE_7D, KNOBS_GT, 0.60}, {KNOBS_PROFIT_FACTOR_7D, KNOBS_GT, 1.5}},
     .n_cond = 2,
     .knob = "min_confidence",
     .has_target = 1,
     .target = 0.25,
     .min_trades = 10,
     .reason = "win rate above 60% with profit factor above 1.5: ease the minimum confidence "
	       "back to its default"},
    {.cond = {{KNOBS_LOSS_STREAK, KNOBS_GE, 3}},
     .n_cond = 1,
     .knob = "position_size_pct",
     .factor = 0.8,
     .min_trades = 3,
     .reason = "3 losses in a row: smaller positions"},
    {.cond = {{KNOBS_PROFIT_FACTOR_7D, KNOBS_LT, 1.0}},
     .n_cond = 1,
     .knob = "max_positions",
     .factor = 0.8,
     .min_trades = 10,
     .reason = "profit factor below 1: fewer positions at once"},
    {.cond = {{KNOBS_PROFIT_FACTOR_7D, KNOBS_GT, 1.5}, {KNOBS_WIN_RATE_7D, KNOBS_GE, 0.5}},
     .n_cond = 2,
     .knob = "max_positions",
     .factor = 1.1,
     .min_trades = 10,
     .reason = "profit factor above 1.5 and win rate at least 50%: more positions at once"},
    {.cond = {{KNOBS_STOP_EXIT_SHARE_7D, KNOBS_GT, 0.5}},
     .n_cond = 1,
     .knob = "stop_loss_pct",
     .factor = 1.2,
     .min_trades = 10,
     .reason = "most exits are stops: give trades more room"},
    {.cond = {{KNOBS_TARGET_EXIT_SHARE_7D, KNOBS_GT, 0.5}, {KNOBS_WIN_RATE_7D, KNOBS_GT, 0.55}},
     .n_cond = 2,
     .knob = "take_profit_pct",
     .factor = 1.15,
     .min_trades = 10,
     .reason = "most exits reach the target and the win rate is above 55%: let winners run"},
    {.cond = {{KNOBS_TIME_EXIT_SHARE_7D, KNOBS_GT, 0.5}},
     .n_cond = 1,
     .knob = "take_profit_pct",
     .factor = 0.85,
     .min_trades = 10,
     .reason = "most exits are time exits: bring the target closer"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void knobs_inputs_init(struct knobs_inputs *in)
{
	in->win_rate = in->win_rate_7d = in->profit_factor_7d = in->expectancy_7d = NAN;
	in->sharpe_7d = in->stop_exit_share_7d = in->target_exit_share_7d = NAN;
	in->time_exit_share_7d = in->avg_hold_minutes_7d = in->missed_pnl_day = NAN;
	in->trades_day = in->trades_7d = in->loss_streak = -1;
}

const char *knobs_metric_name(enum knobs_metric m)
{
	return (unsigned)m < KNOBS_METRIC_COUNT ? metric_names[m] : NULL;
}

int knobs_metric_parse(const char *name)
{
	for (int m = 0; m < KNOBS_METRIC_COUNT; m++)
		if (strcmp(metric_names[m], name) == 0)
			return m;
	return -1;
}

static double count_value(long n)
{
	return n < 0 ? NAN : (double)n;
}

double knobs_metric_value(const struct knobs_inputs *in, enum knobs_metric m)
{
	switch (m) {
	case KNOBS_WIN_RATE:
		return in->win_rate;
	case KNOBS_WIN_RATE_7D:
		return in->win_rate_7d;
	case KNOBS_PROFIT_FACTOR_7D:
		return in->profit_factor_7d;
	case KNOBS_EXPECTANCY_7D:
		return in->expectancy_7d;
	case KNOBS_SHARPE_7D:
		return in->sharpe_7d;
	case KNOBS_STOP_EXIT_SHARE_7D:
		return in->stop_exit_share_7d;
	case KNOBS_TARGET_EXIT_SHARE_7D:
		return in->target_exit_share_7d;
	case KNOBS_TIME_EXIT_SHARE_7D:
		return in->time_exit_share_7d;
	case KNOBS_AVG_HOLD_MINUTES_7D:
		return in->avg_hold_minutes_7d;
	case KNOBS_MISSED_PNL_DAY:
		return in->missed_pnl_day;
	case KNOBS_TRADES_DAY:
		return count_value(in->trades_day);
	case KNOBS_TRADES_7D:
		return count_value(in->trades_7d);
	case KNOBS_LOSS_STREAK:
		return count_value(in->loss_streak);
	case KNOBS_METRIC_COUNT:
		break;
	}
	return NAN;
}

long knobs_metric_window_trades(const struct knobs_inputs *in, enum knobs_metric m)
{
	long n;
	switch (m) {
	case KNOBS_WIN_RATE:
	case KNOBS_MISSED_PNL_DAY:
	case KNOBS_TRADES_DAY:
		n = in->trades_day;
		break;
	case KNOBS_METRIC_COUNT:
		return 0;
	default:
		n = in->trades_7d;
		break;
	}
	return n < 0 ? 0 : n;
}

void knobs_table_init(struct knobs_table *t)
{
	memset(t, 0, sizeof *t);
	t->n_knobs = COUNT(default_knobs);
	memcpy(t->knobs, default_knobs, sizeof default_knobs);
	t->n_rules = COUNT(default_rules);
	memcpy(t->rules, default_rules, sizeof default_rules);
}

int knobs_find(const struct knobs_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_knobs; i++)
		if (strcmp(t->knobs[i].name, name) == 0)
			return (int)i;
	return -1;
}

void knobs_table_keep(struct knobs_table *t, int (*keep)(const void *ctx, const char *name),
		      const void *ctx)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n_knobs; i++)
		if (keep(ctx, t->knobs[i].name))
			t->knobs[n++] = t->knobs[i];
	t->n_knobs = n;
}

/* ---- evaluation ---------------------------------------------------------- */

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int condition_holds(const struct knobs_condition *c, const struct knobs_inputs *in,
			   long min_trades)
{
	double v = knobs_metric_value(in, c->metric);
	if (isnan(v) || knobs_metric_window_trades(in, c->metric) < min_trades)
		return 0;
	switch (c->op) {
	case KNOBS_LT:
		return v < c->threshold;
	case KNOBS_LE:
		return v <= c->threshold;
	case KNOBS_GT:
		return v > c->threshold;
	case KNOBS_GE:
		return v >= c->threshold;
	}
	return 0;
}

static int rule_matches(const struct knob_rule *r, const struct knobs_inputs *in)
{
	for (int k = 0; k < r->n_cond; k++)
		if (!condition_holds(&r->cond[k], in, r->min_trades))
			return 0;
	return r->n_cond > 0;
}

/* The rule's target for a knob at v, rounded for integer knobs and clamped. */
static double rule_target(const struct knob_rule *r, const struct knobs_def *k, double v)
{
	double target = r->has_target ? r->target : v * r->factor;
	if (k->integer) {
		/* The slack keeps 10 × 1.1 = 11.000000000000002 from becoming
		 * 12: products of a whole number and a factor written with a
		 * few digits are off by far less than 1e-9. */
		if (r->has_target)
			target = round(target);
		else if (r->factor > 1)
			target = ceil(target - 1e-9);
		else
			target = floor(target + 1e-9);
	}
	return clamp(target, k->min, k->max);
}

/* Where the knob goes from v toward target; v when the move is not material. */
static double knob_move(const struct knobs_def *k, double v, double target)
{
	double smoothed = (1 - KNOBS_SMOOTHING) * v + KNOBS_SMOOTHING * target;
	if (k->integer) {
		if (target == v)
			return v;
		double next = round(smoothed);
		if (next == v)
			next = target > v ? v + 1 : v - 1;
		return clamp(next, k->min, k->max);
	}
	double next = clamp(smoothed, k->min, k->max);
	/* Relative slack so that a move of exactly `material` is not lost to
	 * the last bit of 0.8·v + 0.2·T. */
	if (fabs(next - v) < k->material * (1 - 1e-9))
		return v;
	return next;
}

static void write_evidence(const struct knob_rule *r, const struct knobs_inputs *in, char *buf,
			   size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int c = 0; c < r->n_cond && n < len; c++) {
		const struct knobs_condition *cond = &r->cond[c];
		n +=
		    (size_t)snprintf(buf + n, len - n, "%s%s %.4g %s %g over %ld trades",
				     c ? ", " : "", metric_names[cond->metric],
				     knobs_metric_value(in, cond->metric), op_names[cond->op],
				     cond->threshold, knobs_metric_window_trades(in, cond->metric));
	}
}

size_t knobs_evaluate(const struct knobs_table *t, const double *current,
		      const struct knobs_inputs *in, struct knob_change *out)
{
	size_t changed = 0;
	for (size_t i = 0; i < t->n_knobs; i++) {
		const struct knobs_def *k = &t->knobs[i];
		struct knob_change *c = &out[i];
		double previous = current && !isnan(current[i]) ? current[i] : k->value;

		memset(c, 0, sizeof *c);
		snprintf(c->name, sizeof c->name, "%s", k->name);
		c->integer = k->integer;
		c->previous = previous;
		c->rule = -1;
		c->target = NAN;

		/* A value from an older config or a hand-edited file: the rules
		 * start from a value the knob may have. */
		double v = clamp(k->integer ? round(previous) : previous, k->min, k->max);
		if (v != previous)
			snprintf(c->reason, sizeof c->reason,
				 "%g is outside the range [%g, %g] or not a whole number: brought "
				 "into it",
				 previous, k->min, k->max);

		for (size_t r = 0; r < t->n_rules; r++) {
			const struct knob_rule *rule = &t->rules[r];
			if (strcmp(rule->knob, k->name) != 0 || !rule_matches(rule, in))
				continue;
			c->rule = (int)r;
			c->target = rule_target(rule, k, v);
			double next = knob_move(k, v, c->target);
			if (next != v) {
				v = next;
				snprintf(c->reason, sizeof c->reason, "%s", rule->reason);
				write_evidence(rule, in, c->evidence, sizeof c->evidence);
			}
			break;
		}
		c->value = v;
		c->changed = v != previous;
		if (c->changed)
			changed++;
		else
			c->reason[0] = c->evidence[0] = '\0';
	}
	return changed;
}

/* ---- config -------------------------------------------------------------- */

/* The error of knobs_table_from_json: EINVAL, "PATH: problem". Returns -1. */
static int refuse(struct err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct err *err, const char *path, const char *fmt, ...)
{
	char problem[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	return err_set(err, EINVAL, "%s: %s", path, problem);
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= KNOBS_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int is_whole(double d)
{
	return d == floor(d);
}

/* One knob's object into t (an existing knob or a new slot). */
static int read_knob(struct knobs_table *t, const char *name, json_t *v, struct err *err)
{
	char path[96];
	const char *key;
	json_t *val;
	int have_value = 0, have_min = 0, have_max = 0, have_material = 0;

	snprintf(path, sizeof path, "knobs.%s", name);
	if (!valid_name(name))
		return refuse(err, path, "a knob name is 1 to %d characters of a-z, 0-9 and _",
			      KNOBS_NAME_MAX - 1);
	if (!json_is_object(v))
		return refuse(err, path, "must be an object {value, min, max, material, integer}");
	int i = knobs_find(t, name);
	int is_new = i < 0;
	if (is_new) {
		if (t->n_knobs >= KNOBS_MAX)
			return refuse(err, path, "too many knobs (at most %d)", KNOBS_MAX);
		i = (int)t->n_knobs++;
		memset(&t->knobs[i], 0, sizeof t->knobs[i]);
		snprintf(t->knobs[i].name, sizeof t->knobs[i].name, "%s", name);
	}
	struct knobs_def *k = &t->knobs[i];
	json_object_foreach(v, key, val)
	{
		char kpath[128];
		double *slot = NULL;
		snprintf(kpath, sizeof kpath, "%s.%s", path, key);
		if (strcmp(key, "integer") == 0) {
			if (!json_is_boolean(val))
				return refuse(err, kpath, "must be true or false");
			k->integer = json_is_true(val);
			continue;
		}
		if (strcmp(key, "value") == 0)
			slot = &k->value, have_value = 1;
		else if (strcmp(key, "min") == 0)
			slot = &k->min, have_min = 1;
		else if (strcmp(key, "max") == 0)
			slot = &k->max, have_max = 1;
		else if (strcmp(key, "material") == 0)
			slot = &k->material, have_material = 1;
		else
			return refuse(err, kpath,
				      "unknown key (value, min, max, material, integer)");
		if (!json_is_number(val))
			return refuse(err, kpath, "must be a number");
		*slot = json_number_value(val);
	}
	if (is_new && !(have_value && have_min && have_max))
		return refuse(err, path, "a new knob needs value, min and max");
	if (k->integer) {
		if (have_material)
			return refuse(err, path,
				      "integer knobs move in whole steps: material does not apply");
		k->material = 1;
		if (!is_whole(k->value) || !is_whole(k->min) || !is_whole(k->max))
			return refuse(
			    err, path,
			    "value, min and max of an integer knob must be whole numbers");
	} else if (is_new && !have_material) {
		return refuse(err, path, "a new real knob needs material (its smallest move)");
	}
	if (!(k->material > 0))
		return refuse(err, path, "material must be above 0");
	if (k->min > k->max)
		return refuse(err, path, "min %g is above max %g", k->min, k->max);
	if (!(k->value >= k->min && k->value <= k->max))
		return refuse(err, path, "value %g is outside [min %g, max %g]", k->value, k->min,
			      k->max);
	return 0;
}

/* "win_rate_7d < 0.45" into *c. */
static int parse_condition(const char *text, struct knobs_condition *c, const char *path,
			   struct err *err)
{
	const char *p = text;
	char name[KNOBS_NAME_MAX];
	size_t n;

	while (isspace((unsigned char)*p))
		p++;
	for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_'; n++)
		;
	if (n == 0 || n >= sizeof name)
		return refuse(err, path,
			      "must be \"METRIC OP NUMBER\", e.g. \"win_rate_7d < 0.45\"");
	memcpy(name, p, n);
	name[n] = '\0';
	int m = knobs_metric_parse(name);
	if (m < 0) {
		char known[400];
		size_t k = 0;
		known[0] = '\0';
		for (int j = 0; j < KNOBS_METRIC_COUNT && k < sizeof known; j++)
			k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", j ? ", " : "",
					      metric_names[j]);
		return refuse(err, path, "unknown metric \"%s\" (known: %s)", name, known);
	}
	p += n;
	while (isspace((unsigned char)*p))
		p++;
	size_t oplen = strspn(p, "<>=!");
	int op = -1;
	for (int j = 0; j < (int)COUNT(op_names); j++)
		if (oplen == strlen(op_names[j]) && strncmp(p, op_names[j], oplen) == 0)
			op = j;
	if (op < 0)
		return refuse(err, path, "unknown operator \"%.*s\" (use <, <=, > or >=)",
			      (int)(oplen ? oplen : strcspn(p, " \t0123456789.-+")), p);
	p += oplen;
	char *end;
	double threshold = strtod(p, &end);
	while (end != p && isspace((unsigned char)*end))
		end++;
	if (end == p || *end || !isfinite(threshold))
		return refuse(err, path, "the threshold after \"%s\" must be a number",
			      op_names[op]);
	c->metric = (enum knobs_metric)m;
	c->op = (enum knobs_op)op;
	c->threshold = threshold;
	return 0;
}

static int read_rule(const struct knobs_table *t, size_t index, json_t *v, struct knob_rule *r,
		     struct err *err)
{
	char path[48], kpath[96];
	const char *key;
	json_t *val;
	json_t *cond_if = NULL, *cond_and = NULL, *knob = NULL, *target = NULL, *factor = NULL;
	json_t *min_trades = NULL, *reason = NULL;

	snprintf(path, sizeof path, "knob_rules[%zu]", index);
	if (!json_is_object(v))
		return refuse(err, path,
			      "must be an object {if, and, knob, target or factor, min_trades, "
			      "reason}");
	json_object_foreach(v, key, val)
	{
		json_t **slot = strcmp(key, "if") == 0		 ? &cond_if
				: strcmp(key, "and") == 0	 ? &cond_and
				: strcmp(key, "knob") == 0	 ? &knob
				: strcmp(key, "target") == 0	 ? &target
				: strcmp(key, "factor") == 0	 ? &factor
				: strcmp(key, "min_trades") == 0 ? &min_trades
				: strcmp(key, "reason") == 0	 ? &reason
								 : NULL;
		if (!slot) {
			snprintf(kpath, sizeof kpath, "%s.%s", path, key);
			return refuse(err, kpath,
				      "unknown key (if, and, knob, target, factor, min_trades, "
				      "reason)");
		}
		*slot = val;
	}

	memset(r, 0, sizeof *r);
	json_t *conds[2] = {cond_if, cond_and};
	const char *cond_keys[2] = {"if", "and"};
	for (int c = 0; c < 2; c++) {
		snprintf(kpath, sizeof kpath, "%s.%s", path, cond_keys[c]);
		if (!conds[c]) {
			if (c == 0)
				return refuse(err, path,
					      "needs \"if\": a condition such as \"win_rate_7d < "
					      "0.45\"");
			continue;
		}
		if (!json_is_string(conds[c]))
			return refuse(err, kpath,
				      "must be a string \"METRIC OP NUMBER\", e.g. \"win_rate_7d < "
				      "0.45\"");
		if (parse_condition(json_string_value(conds[c]), &r->cond[c], kpath, err))
			return -1;
		r->n_cond++;
	}

	snprintf(kpath, sizeof kpath, "%s.knob", path);
	if (!knob)
		return refuse(err, path, "needs \"knob\": the knob it moves");
	int ki = json_is_string(knob) ? knobs_find(t, json_string_value(knob)) : -1;
	if (ki < 0)
		return refuse(err, kpath, "must name a knob of the table");
	const struct knobs_def *k = &t->knobs[ki];
	snprintf(r->knob, sizeof r->knob, "%s", k->name);

	if (target && factor)
		return refuse(err, path, "give either target or factor, not both");
	if (!target && !factor)
		return refuse(err, path,
			      "needs a target (absolute value) or a factor (× current value)");
	if (target) {
		double d = json_number_value(target);
		snprintf(kpath, sizeof kpath, "%s.target", path);
		if (!json_is_number(target) || d < k->min || d > k->max ||
		    (k->integer && !is_whole(d)))
			return refuse(err, kpath, "must be %s from %g to %g (%s's range)",
				      k->integer ? "a whole number" : "a number", k->min, k->max,
				      k->name);
		r->has_target = 1;
		r->target = d;
	} else {
		double d = json_number_value(factor);
		snprintf(kpath, sizeof kpath, "%s.factor", path);
		if (!json_is_number(factor) || !(d > 0))
			return refuse(err, kpath, "must be a number above 0");
		r->factor = d;
	}

	if (min_trades) {
		snprintf(kpath, sizeof kpath, "%s.min_trades", path);
		if (!json_is_integer(min_trades) || json_integer_value(min_trades) < 0)
			return refuse(err, kpath, "must be a whole number of trades, >= 0");
		r->min_trades = (long)json_integer_value(min_trades);
	}

	if (reason) {
		snprintf(kpath, sizeof kpath, "%s.reason", path);
		if (!json_is_string(reason) || json_string_length(reason) == 0 ||
		    json_string_length(reason) >= sizeof r->reason)
			return refuse(err, kpath, "must be a text of 1 to %d bytes",
				      KNOBS_REASON_MAX - 1);
		snprintf(r->reason, sizeof r->reason, "%s", json_string_value(reason));
	} else {
		/* The conditions as written say why well enough for the journal. */
		size_t n = 0;
		for (int c = 0; c < r->n_cond && n < sizeof r->reason; c++)
			n += (size_t)snprintf(r->reason + n, sizeof r->reason - n, "%s%s %s %g",
					      c ? " and " : "", metric_names[r->cond[c].metric],
					      op_names[r->cond[c].op], r->cond[c].threshold);
	}
	return 0;
}

int knobs_table_from_json(struct knobs_table *t, json_t *knobs_obj, json_t *rules_array,
			  struct err *err)
{
	/* Work on a copy so a refused config leaves t as it was. */
	struct knobs_table *tmp = malloc(sizeof *tmp);
	const char *name;
	json_t *v;
	int rc = -1;

	if (!tmp)
		return err_set(err, ENOMEM, "out of memory");
	*tmp = *t;
	if (knobs_obj) {
		if (!json_is_object(knobs_obj)) {
			refuse(err, "knobs",
			       "must be an object {name: {value, min, max, material, integer}}");
			goto out;
		}
		json_object_foreach(knobs_obj, name, v)
		{
			if (read_knob(tmp, name, v, err))
				goto out;
		}
	}
	if (rules_array) {
		size_t i;
		if (!json_is_array(rules_array)) {
			refuse(err, "knob_rules", "must be an array of rules");
			goto out;
		}
		if (json_array_size(rules_array) > KNOBS_MAX_RULES) {
			refuse(err, "knob_rules", "too many rules (at most %d)", KNOBS_MAX_RULES);
			goto out;
		}
		tmp->n_rules = 0;
		json_array_foreach(rules_array, i, v)
		{
			if (read_rule(tmp, i, v, &tmp->rules[i], err))
				goto out;
			tmp->n_rules++;
		}
	}
	*t = *tmp;
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* ---- JSON values --------------------------------------------------------- */

static json_t *knob_number(double v, int integer)
{
	if (!isfinite(v))
		return json_null();
	return integer ? json_integer((json_int_t)llround(v)) : json_real(v);
}

json_t *knobs_values_json(const struct knobs_table *t, const double *values)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < t->n_knobs; i++) {
		const struct knobs_def *k = &t->knobs[i];
		double v = values && !isnan(values[i]) ? values[i] : k->value;
		if (json_object_set_new(o, k->name, knob_number(v, k->integer))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int knobs_values_from_json(const struct knobs_table *t, json_t *obj, double *values,
			   struct err *err)
{
	if (!json_is_object(obj))
		return err_set(err, EINVAL, "knob values must be an object {name: number}");
	for (size_t i = 0; i < t->n_knobs; i++) {
		json_t *v = json_object_get(obj, t->knobs[i].name);
		if (!v) {
			values[i] = t->knobs[i].value;
			continue;
		}
		if (!json_is_number(v))
			return err_set(err, EINVAL, "%s: must be a number", t->knobs[i].name);
		values[i] = json_number_value(v);
	}
	return 0;
}

json_t *knobs_change_json(const struct knob_change *c)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = json_object_set_new(o, "knob", json_string(c->name));
	bad |= json_object_set_new(o, "previous", knob_number(c->previous, c->integer));
	bad |= json_object_set_new(o, "value", knob_number(c->value, c->integer));
	bad |= json_object_set_new(o, "target", knob_number(c->target, c->integer));
	bad |= json_object_set_new(o, "rule", c->rule < 0 ? json_null() : json_integer(c->rule));
	bad |= json_object_set_new(o, "reason", json_string(c->reason));
	bad |= json_object_set_new(o, "evidence", json_string(c->evidence));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
