/* knobs: the default rule table, the move arithmetic and the config sections, as tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/analyze/knobs.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TOL 1e-12

/* Sets one figure of in by its metric name, independently of the module's
 * own map, then checks knobs_metric_value reads it back. */
static void set_input(struct knobs_inputs *in, const char *name, double v)
{
	int m = knobs_metric_parse(name);
	if (m < 0) {
		print_error("test table: no metric \"%s\"\n", name);
		fail();
	}
	switch ((enum knobs_metric)m) {
	case KNOBS_WIN_RATE:
		in->win_rate = v;
		break;
	case KNOBS_WIN_RATE_7D:
		in->win_rate_7d = v;
		break;
	case KNOBS_PROFIT_FACTOR_7D:
		in->profit_factor_7d = v;
		break;
	case KNOBS_EXPECTANCY_7D:
		in->expectancy_7d = v;
		break;
	case KNOBS_SHARPE_7D:
		in->sharpe_7d = v;
		break;
	case KNOBS_STOP_EXIT_SHARE_7D:
		in->stop_exit_share_7d = v;
		break;
	case KNOBS_TARGET_EXIT_SHARE_7D:
		in->target_exit_share_7d = v;
		break;
	case KNOBS_TIME_EXIT_SHARE_7D:
		in->time_exit_share_7d = v;
		break;
	case KNOBS_AVG_HOLD_MINUTES_7D:
		in->avg_hold_minutes_7d = v;
		break;
	case KNOBS_MISSED_PNL_DAY:
		in->missed_pnl_day = v;
		break;
	case KNOBS_TRADES_DAY:
		in->trades_day = (long)v;
		break;
	case KNOBS_TRADES_7D:
		in->trades_7d = (long)v;
		break;
	case KNOBS_LOSS_STREAK:
		in->loss_streak = (long)v;
		break;
	case KNOBS_METRIC_COUNT:
		fail();
	}
	/* A negative count is how the inputs say "unknown". */
	int count = m == KNOBS_TRADES_DAY || m == KNOBS_TRADES_7D || m == KNOBS_LOSS_STREAK;
	double want = count && v < 0 ? NAN : v;
	double back = knobs_metric_value(in, (enum knobs_metric)m);
	if (!(isnan(want) ? isnan(back) : back == want)) {
		print_error("%s set to %g reads back %g\n", name, v, back);
		fail();
	}
}

/* Calls fn(arg, name, value) for each "name=value" of a space-separated
 * list (NULL: none). */
static void each_pair(const char *list, void (*fn)(void *, const char *, double), void *arg)
{
	char buf[512], *save = NULL;
	if (!list)
		return;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		assert_non_null(eq);
		*eq = '\0';
		fn(arg, tok, strtod(eq + 1, NULL));
	}
}

static void input_pair(void *arg, const char *name, double v)
{
	set_input(arg, name, v);
}

struct current_arg {
	const struct knobs_table *t;
	double *values;
};

static void current_pair(void *arg, const char *name, double v)
{
	struct current_arg *c = arg;
	int i = knobs_find(c->t, name);
	if (i < 0) {
		print_error("test table: no knob \"%s\"\n", name);
		fail();
	}
	c->values[i] = v;
}

/* Applies a config text {"knobs": ..., "knob_rules": ...} (NULL: none) to a
 * fresh default table. */
static void table_from_text(struct knobs_table *t, const char *config)
{
	knobs_table_init(t);
	if (!config)
		return;
	json_error_t jerr;
	json_t *root = json_loads(config, 0, &jerr);
	if (!root) {
		print_error("test table: bad JSON at %d: %s\n", jerr.column, jerr.text);
		fail();
	}
	struct err err = {0};
	if (knobs_table_from_json(t, json_object_get(root, "knobs"),
				  json_object_get(root, "knob_rules"), &err)) {
		print_error("test table: config refused: %s\n", err.msg);
		fail();
	}
	json_decref(root);
}

/* ---- evaluation: inputs → which knobs move, to what, and why ------------- */

#define R0 "win rate below 45%: raise the minimum confidence"
#define R1                                                                                         \
	"win rate above 60% with profit factor above 1.5: ease the minimum confidence back to "    \
	"its "                                                                                     \
	"default"
#define R2 "3 losses in a row: smaller positions"
#define R3 "profit factor below 1: fewer positions at once"
#define R4 "profit factor above 1.5 and win rate at least 50%: more positions at once"
#define R5 "most exits are stops: give trades more room"
#define R6 "most exits reach the target and the win rate is above 55%: let winners run"
#define R7 "most exits are time exits: bring the target closer"
#define OUT_OF_RANGE "is outside the range" /* a substring of that reason */

/* Two rules on one knob that both match win_rate_7d 0.40; the first has a
 * guard of 50 trades. */
#define TWO_RULES(first_min)                                                                       \
	"{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.5\", \"knob\": \"min_confidence\", "         \
	"\"target\": 0.40, \"min_trades\": " #first_min ", \"reason\": \"first\"}, "               \
	"{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", \"target\": 0.30, "        \
	"\"reason\": \"second\"}]}"

struct move {
	const char *knob;
	double value;
	const char *reason; /* exact, or a substring for OUT_OF_RANGE */
};

struct eval_case {
	const char *name;
	const char *config;  /* NULL: the defaults */
	const char *current; /* "knob=value ...": others at their default */
	const char *inputs;  /* "metric=value ...": others unknown */
	struct move moves[3];
	/* A knob whose rule matched but whose move was not material: it
	 * reports the rule, and no change. */
	const char *held;
};

static const struct eval_case eval_cases[] = {
    /* Each default rule firing, from the defaults. */
    {"rule 0: 0.8·0.25 + 0.2·0.32 = 0.264",
     NULL,
     NULL,
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.264, R0}},
     NULL},
    {"rule 1 (and rule 4 on its own knob)",
     NULL,
     "min_confidence=0.30",
     "win_rate_7d=0.65 profit_factor_7d=1.6 trades_7d=20",
     {{"min_confidence", 0.29, R1}, {"max_positions", 11, R4}},
     NULL},
    {"rule 2: 0.05 × 0.8 → 0.048",
     NULL,
     NULL,
     "loss_streak=3 trades_7d=5",
     {{"position_size_pct", 0.048, R2}},
     NULL},
    {"rule 3: 10 positions × 0.8 → one step, 9",
     NULL,
     NULL,
     "profit_factor_7d=0.8 trades_7d=20",
     {{"max_positions", 9, R3}},
     NULL},
    {"rule 4: 10 positions × 1.1 → 11",
     NULL,
     NULL,
     "profit_factor_7d=1.8 win_rate_7d=0.55 trades_7d=20",
     {{"max_positions", 11, R4}},
     NULL},
    {"rule 5: 0.02 × 1.2 → 0.0208",
     NULL,
     NULL,
     "stop_exit_share_7d=0.6 trades_7d=20",
     {{"stop_loss_pct", 0.0208, R5}},
     NULL},
    {"rule 6: 0.04 × 1.15 → 0.0412",
     NULL,
     NULL,
     "target_exit_share_7d=0.6 win_rate_7d=0.58 trades_7d=20",
     {{"take_profit_pct", 0.0412, R6}},
     NULL},
    {"rule 7: 0.04 × 0.85 → 0.0388",
     NULL,
     NULL,
     "time_exit_share_7d=0.6 trades_7d=20",
     {{"take_profit_pct", 0.0388, R7}},
     NULL},
    {"thresholds are strict where the rule says <",
     NULL,
     NULL,
     "win_rate_7d=0.45 stop_exit_share_7d=0.5 trades_7d=20",
     {{NULL, 0, NULL}},
     NULL},
    {"loss streak of 2 is not 3",
     NULL,
     NULL,
     "loss_streak=2 trades_7d=20",
     {{NULL, 0, NULL}},
     NULL},

    /* The min_trades guard and unknown figures. */
    {"min_trades: 9 trades in 7 days are too few",
     NULL,
     NULL,
     "win_rate_7d=0.40 trades_7d=9",
     {{NULL, 0, NULL}},
     NULL},
    {"min_trades: 10 are enough",
     NULL,
     NULL,
     "win_rate_7d=0.40 trades_7d=10",
     {{"min_confidence", 0.264, R0}},
     NULL},
    {"min_trades: an unknown 7-day count holds no trades",
     NULL,
     NULL,
     "loss_streak=4",
     {{NULL, 0, NULL}},
     NULL},
    {"NAN metric never fires",
     NULL,
     NULL,
     "win_rate_7d=nan profit_factor_7d=nan stop_exit_share_7d=nan trades_7d=50",
     {{NULL, 0, NULL}},
     NULL},
    {"NAN second condition never fires",
     NULL,
     NULL,
     "target_exit_share_7d=0.9 trades_7d=50",
     {{NULL, 0, NULL}},
     NULL},
    {"nothing known, nothing moves", NULL, NULL, NULL, {{NULL, 0, NULL}}, NULL},
    {"a negative count is unknown",
     NULL,
     NULL,
     "loss_streak=-5 trades_7d=50",
     {{NULL, 0, NULL}},
     NULL},

    /* Clamping. */
    {"clamp at max: 0.19 × 1.2 = 0.228 → 0.2, smoothed 0.192",
     NULL,
     "stop_loss_pct=0.19",
     "stop_exit_share_7d=0.6 trades_7d=20",
     {{"stop_loss_pct", 0.192, R5}},
     NULL},
    {"clamp at max: a knob at its max stays",
     NULL,
     "stop_loss_pct=0.2",
     "stop_exit_share_7d=0.6 trades_7d=20",
     {{NULL, 0, NULL}},
     "stop_loss_pct"},
    {"clamp at max: integer 99 × 1.1 → 100",
     NULL,
     "max_positions=99",
     "profit_factor_7d=1.8 win_rate_7d=0.55 trades_7d=20",
     {{"max_positions", 100, R4}},
     NULL},
    {"clamp at max: integer at 100 stays",
     NULL,
     "max_positions=100",
     "profit_factor_7d=1.8 win_rate_7d=0.55 trades_7d=20",
     {{NULL, 0, NULL}},
     "max_positions"},
    {"clamp at min: integer at 1 stays",
     NULL,
     "max_positions=1",
     "profit_factor_7d=0.5 trades_7d=20",
     {{NULL, 0, NULL}},
     "max_positions"},

    /* The material threshold. */
    {"material: 0.30 → 0.304 is under 0.005",
     NULL,
     "min_confidence=0.30",
     "win_rate_7d=0.40 trades_7d=20",
     {{NULL, 0, NULL}},
     "min_confidence"},
    {"material: 0.296 → 0.3008 is still under 0.005 (where rule 0 settles)",
     NULL,
     "min_confidence=0.296",
     "win_rate_7d=0.40 trades_7d=20",
     {{NULL, 0, NULL}},
     "min_confidence"},
    {"material: 0.29 → 0.2960 is 0.006, applied",
     NULL,
     "min_confidence=0.29",
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.296, R0}},
     NULL},
    {"material: 0.295 → 0.300 is exactly 0.005, applied",
     NULL,
     "min_confidence=0.295",
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.3, R0}},
     NULL},
    {"material: 0.02 × 0.8 smooths to a 0.0008 move, under 0.001",
     NULL,
     "position_size_pct=0.02",
     "loss_streak=5 trades_7d=20",
     {{NULL, 0, NULL}},
     "position_size_pct"},

    /* Integer knobs: target rounded away from the value, at least a step. */
    {"integer: 2 × 0.8 = 1.6 → target 1, round(1.8) = 2 → one step to 1",
     NULL,
     "max_positions=2",
     "profit_factor_7d=0.5 trades_7d=20",
     {{"max_positions", 1, R3}},
     NULL},
    {"integer: 3 × 1.1 = 3.3 → target 4, round(3.2) = 3 → one step to 4",
     NULL,
     "max_positions=3",
     "profit_factor_7d=1.8 win_rate_7d=0.55 trades_7d=20",
     {{"max_positions", 4, R4}},
     NULL},
    {"integer: 50 × 0.8 → 40, round(48) = 48, more than a step",
     NULL,
     "max_positions=50",
     "profit_factor_7d=0.5 trades_7d=20",
     {{"max_positions", 48, R3}},
     NULL},
    {"integer: 20 × 0.8 → 16, round(19.2) = 19",
     NULL,
     "max_positions=20",
     "profit_factor_7d=0.5 trades_7d=20",
     {{"max_positions", 19, R3}},
     NULL},

    /* Order: the first matching rule on a knob wins. */
    {"first matching rule wins",
     TWO_RULES(0),
     NULL,
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.28, "first"}},
     NULL},
    {"a rule held back by min_trades lets the next one decide",
     TWO_RULES(50),
     NULL,
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.26, "second"}},
     NULL},
    {"rules replaced by a config: the defaults are gone",
     TWO_RULES(0),
     NULL,
     "profit_factor_7d=0.5 loss_streak=4 win_rate_7d=0.6 trades_7d=20",
     {{NULL, 0, NULL}},
     NULL},

    /* Day-window rules, default reasons, and rules on knobs with no default rule. */
    {"day window: 2 trades of the day are under min_trades 3",
     "{\"knob_rules\": [{\"if\": \"win_rate < 0.3\", \"knob\": \"orders_per_cycle\", "
     "\"factor\": 0.5, \"min_trades\": 3}]}",
     NULL,
     "win_rate=0.2 trades_day=2 trades_7d=40",
     {{NULL, 0, NULL}},
     NULL},
    {"day window: 3 trades, 5 × 0.5 → floor 2, round(4.4) = 4; reason = the condition",
     "{\"knob_rules\": [{\"if\": \"win_rate < 0.3\", \"knob\": \"orders_per_cycle\", "
     "\"factor\": 0.5, \"min_trades\": 3}]}",
     NULL,
     "win_rate=0.2 trades_day=3",
     {{"orders_per_cycle", 4, "win_rate < 0.3"}},
     NULL},
    {"missed P&L on a day without trades, absolute integer target",
     "{\"knob_rules\": [{\"if\": \"missed_pnl_day > 500\", \"and\": \"trades_day <= 1\", "
     "\"knob\": \"min_trade_gap_minutes\", \"target\": 0, \"reason\": \"missing trades\"}]}",
     NULL,
     "missed_pnl_day=800 trades_day=0",
     {{"min_trade_gap_minutes", 4, "missing trades"}},
     NULL},

    /* Current values the knob may not have. */
    {"a current value above max is brought in",
     NULL,
     "min_confidence=0.99",
     NULL,
     {{"min_confidence", 0.95, OUT_OF_RANGE}},
     NULL},
    {"a fractional integer knob is rounded",
     NULL,
     "max_positions=9.6",
     NULL,
     {{"max_positions", 10, OUT_OF_RANGE}},
     NULL},
    {"a NAN current value is the default: no change",
     NULL,
     "min_confidence=nan",
     NULL,
     {{NULL, 0, NULL}},
     NULL},
    {"out of range, clamped to 0.95, then rule 0: 0.8·0.95 + 0.2·0.32 = 0.824",
     NULL,
     "min_confidence=0.99",
     "win_rate_7d=0.40 trades_7d=20",
     {{"min_confidence", 0.824, R0}},
     NULL},
};

static const struct move *expected_move(const struct eval_case *c, const char *knob)
{
	for (size_t m = 0; m < COUNT(c->moves) && c->moves[m].knob; m++)
		if (strcmp(c->moves[m].knob, knob) == 0)
			return &c->moves[m];
	return NULL;
}

static void test_evaluate_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(eval_cases); i++) {
		const struct eval_case *c = &eval_cases[i];
		struct knobs_table t;
		struct knobs_inputs in;
		double current[KNOBS_MAX];
		struct knob_change out[KNOBS_MAX];
		int ok = 1;

		table_from_text(&t, c->config);
		knobs_inputs_init(&in);
		each_pair(c->inputs, input_pair, &in);
		for (size_t k = 0; k < KNOBS_MAX; k++)
			current[k] = NAN;
		struct current_arg carg = {&t, current};
		each_pair(c->current, current_pair, &carg);

		size_t n = knobs_evaluate(&t, current, &in, out);
		size_t want_n = 0;
		for (size_t k = 0; k < t.n_knobs; k++) {
			const struct knob_change *ch = &out[k];
			const struct move *m = expected_move(c, t.knobs[k].name);
			double had = isnan(current[k]) ? t.knobs[k].value : current[k];
			if (strcmp(ch->name, t.knobs[k].name) != 0 || ch->previous != had)
				ok = 0;
			if (m) {
				want_n++;
				int reason_ok = strcmp(m->reason, OUT_OF_RANGE) == 0
						    ? strstr(ch->reason, OUT_OF_RANGE) != NULL
						    : strcmp(ch->reason, m->reason) == 0;
				if (!ch->changed || fabs(ch->value - m->value) > TOL || !reason_ok)
					ok = 0;
			} else if (ch->changed || ch->value != ch->previous || ch->reason[0] ||
				   ch->evidence[0]) {
				ok = 0;
			}
			if (c->held && strcmp(c->held, ch->name) == 0 &&
			    (ch->rule < 0 || ch->changed))
				ok = 0;
			if (!ok) {
				print_error("case \"%s\": %s %.17g → %.17g changed %d rule %d "
					    "reason \"%s\"; want %s%.17g \"%s\"\n",
					    c->name, ch->name, ch->previous, ch->value, ch->changed,
					    ch->rule, ch->reason, m ? "" : "unchanged ",
					    m ? m->value : ch->previous, m ? m->reason : "");
				fail();
			}
		}
		if (n != want_n) {
			print_error("case \"%s\": %zu changes, want %zu\n", c->name, n, want_n);
			fail();
		}
	}
}

/* The last case above, in detail: clamped to 0.2 first, then rule 5 (× 1.2,
 * already at max) holds it, so the change is the clamping. */
static void test_out_of_range_value_then_rule_reports_the_clamp(void **state)
{
	(void)state;
	struct knobs_table t;
	struct knobs_inputs in;
	struct knob_change out[KNOBS_MAX];
	double current[KNOBS_MAX];
	knobs_table_init(&t);
	knobs_inputs_init(&in);
	in.stop_exit_share_7d = 0.6;
	in.trades_7d = 20;
	for (size_t k = 0; k < t.n_knobs; k++)
		current[k] = t.knobs[k].value;
	current[knobs_find(&t, "stop_loss_pct")] = 0.5;
	assert_int_equal(knobs_evaluate(&t, current, &in, out), 1);
	const struct knob_change *c = &out[knobs_find(&t, "stop_loss_pct")];
	assert_true(c->changed);
	assert_true(c->previous == 0.5 && c->value == 0.2);
	assert_int_equal(c->rule, 5);
	assert_non_null(strstr(c->reason, "outside the range"));
}

/* Every default rule, given figures just past its thresholds and exactly
 * min_trades trades, matches and moves its knob from the default — but
 * rule 1, whose target is the default. */
static void test_every_default_rule_fires_at_the_defaults(void **state)
{
	(void)state;
	struct knobs_table t;
	knobs_table_init(&t);
	assert_int_equal(t.n_rules, 8);
	for (size_t r = 0; r < t.n_rules; r++) {
		const struct knob_rule *rule = &t.rules[r];
		struct knobs_inputs in;
		struct knob_change out[KNOBS_MAX];
		knobs_inputs_init(&in);
		for (int c = 0; c < rule->n_cond; c++) {
			const struct knobs_condition *cond = &rule->cond[c];
			double x = cond->threshold;
			double v = cond->op == KNOBS_LT	  ? x - 0.01
				   : cond->op == KNOBS_GT ? x + 0.01
							  : x;
			set_input(&in, knobs_metric_name(cond->metric), v);
		}
		in.trades_day = in.trades_7d = rule->min_trades;
		knobs_evaluate(&t, NULL, &in, out);
		int k = knobs_find(&t, rule->knob);
		assert_true(k >= 0);
		int should_move = !(rule->has_target && rule->target == t.knobs[k].value);
		if (out[k].rule != (int)r || out[k].changed != should_move ||
		    (should_move && strcmp(out[k].reason, rule->reason) != 0)) {
			print_error("default rule %zu on %s: matched rule %d, changed %d\n", r,
				    rule->knob, out[k].rule, out[k].changed);
			fail();
		}
	}
}

static void test_change_evidence_names_the_figures(void **state)
{
	(void)state;
	struct knobs_table t;
	struct knobs_inputs in;
	struct knob_change out[KNOBS_MAX];
	knobs_table_init(&t);
	knobs_inputs_init(&in);
	in.target_exit_share_7d = 0.62;
	in.win_rate_7d = 0.58;
	in.trades_7d = 23;
	assert_int_equal(knobs_evaluate(&t, NULL, &in, out), 1);
	const struct knob_change *c = &out[knobs_find(&t, "take_profit_pct")];
	assert_string_equal(c->evidence, "target_exit_share_7d 0.62 > 0.5 over 23 trades, "
					 "win_rate_7d 0.58 > 0.55 over 23 trades");
	assert_int_equal(c->rule, 6);
	assert_true(fabs(c->target - 0.046) < TOL);
}

/* Day after day under rule 0, min_confidence climbs and then settles where
 * a fifth of the remaining gap is under the material 0.005, as the header
 * says (near 0.297, never 0.32). */
static void test_repeated_days_settle_within_five_materials(void **state)
{
	(void)state;
	static const double path[] = {0.264, 0.2752, 0.28416, 0.291328, 0.2970624};
	struct knobs_table t;
	struct knobs_inputs in;
	struct knob_change out[KNOBS_MAX];
	double v[KNOBS_MAX];
	knobs_table_init(&t);
	knobs_inputs_init(&in);
	in.win_rate_7d = 0.40;
	in.trades_7d = 30;
	for (size_t k = 0; k < t.n_knobs; k++)
		v[k] = t.knobs[k].value;
	for (size_t day = 0; day < 10; day++) {
		knobs_evaluate(&t, v, &in, out);
		for (size_t k = 0; k < t.n_knobs; k++)
			v[k] = out[k].value;
		if (day < COUNT(path)) {
			assert_true(out[0].changed);
			assert_true(fabs(v[0] - path[day]) < TOL);
		} else {
			assert_false(out[0].changed);
		}
	}
	assert_true(0.32 - v[0] < 5 * 0.005);
}

/* ---- config: knobs and knob_rules sections -------------------------------- */

struct config_case {
	const char *name;
	const char *config;
	const char *error; /* NULL: accepted; else err starts with this */
};

static const struct config_case config_cases[] = {
    {"good table",
     "{\"knobs\": {\"min_confidence\": {\"value\": 0.3, \"max\": 0.9}, "
     "\"trail_pct\": {\"value\": 0.01, \"min\": 0.001, \"max\": 0.05, \"material\": 0.0005}, "
     "\"max_symbols\": {\"value\": 20, \"min\": 1, \"max\": 500, \"integer\": true}}, "
     "\"knob_rules\": [{\"if\": \"win_rate_7d<0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32, \"min_trades\": 10, \"reason\": \"raise\"}, "
     "{\"if\": \" sharpe_7d >= 1 \", \"and\": \"avg_hold_minutes_7d <= 30\", "
     "\"knob\": \"trail_pct\", \"factor\": 1.25}]}",
     NULL},
    {"empty sections", "{\"knobs\": {}, \"knob_rules\": []}", NULL},
    {"unknown metric",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}, {\"if\": \"loss_streak >= 3\", \"knob\": \"max_positions\", "
     "\"factor\": 0.8}, {\"if\": \"winrate < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[2].if: unknown metric \"winrate\" (known: win_rate, win_rate_7d,"},
    {"unknown metric in and",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"and\": \"pf > 1\", "
     "\"knob\": \"min_confidence\", \"target\": 0.32}]}",
     "knob_rules[0].and: unknown metric \"pf\""},
    {"bad op =>",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d => 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[0].if: unknown operator \"=>\" (use <, <=, > or >=)"},
    {"bad op ==",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d == 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[0].if: unknown operator \"==\""},
    {"threshold not a number",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < high\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[0].if: the threshold after \"<\" must be a number"},
    {"trailing text after the threshold",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45 or so\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[0].if: the threshold after \"<\" must be a number"},
    {"condition not a string",
     "{\"knob_rules\": [{\"if\": 0.45, \"knob\": \"min_confidence\", \"target\": 0.32}]}",
     "knob_rules[0].if: must be a string"},
    {"target and factor both given",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32}, {\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32, \"factor\": 1.1}]}",
     "knob_rules[1]: give either target or factor, not both"},
    {"neither target nor factor",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\"}]}",
     "knob_rules[0]: needs a target"},
    {"unknown key in a rule",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 0.32, \"then\": 1}]}",
     "knob_rules[0].then: unknown key (if, and, knob, target, factor, min_trades, reason)"},
    {"unknown key in a knob", "{\"knobs\": {\"max_positions\": {\"maximum\": 20}}}",
     "knobs.max_positions.maximum: unknown key (value, min, max, material, integer)"},
    {"min > max", "{\"knobs\": {\"stop_loss_pct\": {\"min\": 0.3}}}",
     "knobs.stop_loss_pct: min 0.3 is above max 0.2"},
    {"value outside the range", "{\"knobs\": {\"stop_loss_pct\": {\"max\": 0.01}}}",
     "knobs.stop_loss_pct: value 0.02 is outside [min 0.002, max 0.01]"},
    {"knob value not a number", "{\"knobs\": {\"stop_loss_pct\": {\"value\": \"2%\"}}}",
     "knobs.stop_loss_pct.value: must be a number"},
    {"material on an integer knob", "{\"knobs\": {\"max_positions\": {\"material\": 2}}}",
     "knobs.max_positions: integer knobs move in whole steps"},
    {"integer knob with a fractional value", "{\"knobs\": {\"max_positions\": {\"value\": 7.5}}}",
     "knobs.max_positions: value, min and max of an integer knob must be whole numbers"},
    {"material 0", "{\"knobs\": {\"stop_loss_pct\": {\"material\": 0}}}",
     "knobs.stop_loss_pct: material must be above 0"},
    {"new knob without max", "{\"knobs\": {\"trail_pct\": {\"value\": 0.01, \"min\": 0}}}",
     "knobs.trail_pct: a new knob needs value, min and max"},
    {"new real knob without material",
     "{\"knobs\": {\"trail_pct\": {\"value\": 0.01, \"min\": 0, \"max\": 1}}}",
     "knobs.trail_pct: a new real knob needs material"},
    {"bad knob name", "{\"knobs\": {\"Trail %\": {\"value\": 1, \"min\": 0, \"max\": 2}}}",
     "knobs.Trail %: a knob name is 1 to 31 characters"},
    {"knobs not an object", "{\"knobs\": [1]}", "knobs: must be an object"},
    {"knob not an object", "{\"knobs\": {\"max_positions\": 12}}",
     "knobs.max_positions: must be an object"},
    {"knob_rules not an array", "{\"knob_rules\": {}}", "knob_rules: must be an array"},
    {"rule not an object", "{\"knob_rules\": [\"win_rate_7d < 0.45\"]}",
     "knob_rules[0]: must be an object"},
    {"rule without if", "{\"knob_rules\": [{\"knob\": \"min_confidence\", \"target\": 0.3}]}",
     "knob_rules[0]: needs \"if\""},
    {"rule on an unknown knob",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"confidence\", "
     "\"target\": 0.32}]}",
     "knob_rules[0].knob: must name a knob of the table"},
    {"target outside the knob's range",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"min_confidence\", "
     "\"target\": 32}]}",
     "knob_rules[0].target: must be a number from 0.05 to 0.95 (min_confidence's range)"},
    {"fractional target for an integer knob",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"max_positions\", "
     "\"target\": 7.5}]}",
     "knob_rules[0].target: must be a whole number from 1 to 100"},
    {"factor not above 0",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"max_positions\", "
     "\"factor\": 0}]}",
     "knob_rules[0].factor: must be a number above 0"},
    {"min_trades negative",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"max_positions\", "
     "\"factor\": 0.8, \"min_trades\": -1}]}",
     "knob_rules[0].min_trades: must be a whole number of trades"},
    {"min_trades fractional",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"max_positions\", "
     "\"factor\": 0.8, \"min_trades\": 2.5}]}",
     "knob_rules[0].min_trades: must be a whole number of trades"},
    {"reason empty",
     "{\"knob_rules\": [{\"if\": \"win_rate_7d < 0.45\", \"knob\": \"max_positions\", "
     "\"factor\": 0.8, \"reason\": \"\"}]}",
     "knob_rules[0].reason: must be a text of 1 to 159 bytes"},
    {"a rule may use a knob the same config adds",
     "{\"knobs\": {\"trail_pct\": {\"value\": 0.01, \"min\": 0.001, \"max\": 0.05, "
     "\"material\": 0.0005}}, \"knob_rules\": [{\"if\": \"expectancy_7d < 0\", "
     "\"knob\": \"trail_pct\", \"target\": 0.005}]}",
     NULL},
};

static void test_config_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(config_cases); i++) {
		const struct config_case *c = &config_cases[i];
		struct knobs_table t, fresh;
		struct err err = {0};
		json_error_t jerr;
		json_t *root = json_loads(c->config, 0, &jerr);
		if (!root) {
			print_error("case \"%s\": bad JSON: %s\n", c->name, jerr.text);
			fail();
		}
		knobs_table_init(&t);
		knobs_table_init(&fresh);
		int rc = knobs_table_from_json(&t, json_object_get(root, "knobs"),
					       json_object_get(root, "knob_rules"), &err);
		json_decref(root);
		if (c->error ? rc != -1 || strncmp(err.msg, c->error, strlen(c->error)) != 0
			     : rc != 0) {
			print_error("case \"%s\": rc %d err \"%s\"; want %s\n", c->name, rc,
				    err.msg, c->error ? c->error : "accepted");
			fail();
		}
		/* A refused config leaves the table as it was. */
		if (c->error && memcmp(&t, &fresh, sizeof t) != 0) {
			print_error("case \"%s\": the table changed on a refusal\n", c->name);
			fail();
		}
	}
}

static void test_config_good_table_in_detail(void **state)
{
	(void)state;
	struct knobs_table t;
	table_from_text(&t, config_cases[0].config);

	assert_int_equal(t.n_knobs, 9);
	int mc = knobs_find(&t, "min_confidence");
	assert_true(t.knobs[mc].value == 0.3 && t.knobs[mc].max == 0.9);
	assert_true(t.knobs[mc].min == 0.05 && t.knobs[mc].material == 0.005); /* kept */
	int trail = knobs_find(&t, "trail_pct");
	assert_int_equal(trail, 7);
	assert_true(t.knobs[trail].material == 0.0005 && !t.knobs[trail].integer);
	int sym = knobs_find(&t, "max_symbols");
	assert_true(t.knobs[sym].integer && t.knobs[sym].material == 1);

	assert_int_equal(t.n_rules, 2);
	const struct knob_rule *r = &t.rules[0];
	assert_int_equal(r->n_cond, 1);
	assert_int_equal(r->cond[0].metric, KNOBS_WIN_RATE_7D);
	assert_int_equal(r->cond[0].op, KNOBS_LT);
	assert_true(r->cond[0].threshold == 0.45);
	assert_true(r->has_target && r->target == 0.32);
	assert_int_equal(r->min_trades, 10);
	assert_string_equal(r->reason, "raise");
	r = &t.rules[1];
	assert_int_equal(r->n_cond, 2);
	assert_int_equal(r->cond[0].metric, KNOBS_SHARPE_7D);
	assert_int_equal(r->cond[0].op, KNOBS_GE);
	assert_int_equal(r->cond[1].metric, KNOBS_AVG_HOLD_MINUTES_7D);
	assert_int_equal(r->cond[1].op, KNOBS_LE);
	assert_true(!r->has_target && r->factor == 1.25);
	assert_int_equal(r->min_trades, 0);
	assert_string_equal(r->reason, "sharpe_7d >= 1 and avg_hold_minutes_7d <= 30");
}

static void test_config_knobs_alone_keep_the_default_rules(void **state)
{
	(void)state;
	struct knobs_table t, fresh;
	table_from_text(&t, "{\"knobs\": {\"max_positions\": {\"value\": 4}}}");
	knobs_table_init(&fresh);
	assert_int_equal(t.n_rules, fresh.n_rules);
	assert_memory_equal(t.rules, fresh.rules, sizeof t.rules);
	table_from_text(&t, "{\"knob_rules\": []}");
	assert_int_equal(t.n_rules, 0);
	assert_int_equal(t.n_knobs, fresh.n_knobs);
}

static void test_config_refuses_too_many_knobs_and_rules(void **state)
{
	(void)state;
	struct knobs_table t;
	struct err err = {0};
	json_t *knobs = json_object(), *rules = json_array();
	for (int i = 0; i < KNOBS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof name, "extra_%d", i);
		json_object_set_new(
		    knobs, name,
		    json_pack("{s:i,s:i,s:i,s:b}", "value", 1, "min", 0, "max", 9, "integer", 1));
	}
	knobs_table_init(&t);
	assert_int_equal(knobs_table_from_json(&t, knobs, NULL, &err), -1);
	assert_string_equal(err.msg, "knobs.extra_9: too many knobs (at most 16)");
	for (int i = 0; i <= KNOBS_MAX_RULES; i++)
		json_array_append_new(rules, json_pack("{s:s,s:s,s:f}", "if", "trades_day > 1",
						       "knob", "max_positions", "factor", 0.9));
	assert_int_equal(knobs_table_from_json(&t, NULL, rules, &err), -1);
	assert_string_equal(err.msg, "knob_rules: too many rules (at most 64)");
	json_array_remove(rules, 0);
	assert_int_equal(knobs_table_from_json(&t, NULL, rules, &err), 0);
	assert_int_equal(t.n_rules, KNOBS_MAX_RULES);
	json_decref(knobs);
	json_decref(rules);
}

/* ---- metric names and JSON values ------------------------------------------ */

static void test_metric_names_round_trip(void **state)
{
	(void)state;
	for (int m = 0; m < KNOBS_METRIC_COUNT; m++)
		assert_int_equal(knobs_metric_parse(knobs_metric_name((enum knobs_metric)m)), m);
	assert_int_equal(knobs_metric_parse("winrate"), -1);
	assert_null(knobs_metric_name(KNOBS_METRIC_COUNT));

	struct knobs_inputs in;
	knobs_inputs_init(&in);
	for (int m = 0; m < KNOBS_METRIC_COUNT; m++) {
		assert_true(isnan(knobs_metric_value(&in, (enum knobs_metric)m)));
		assert_int_equal(knobs_metric_window_trades(&in, (enum knobs_metric)m), 0);
	}
	in.trades_day = 4;
	in.trades_7d = 30;
	assert_int_equal(knobs_metric_window_trades(&in, KNOBS_WIN_RATE), 4);
	assert_int_equal(knobs_metric_window_trades(&in, KNOBS_MISSED_PNL_DAY), 4);
	assert_int_equal(knobs_metric_window_trades(&in, KNOBS_LOSS_STREAK), 30);
	assert_int_equal(knobs_metric_window_trades(&in, KNOBS_SHARPE_7D), 30);
}

static char *dump(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(6));
	assert_non_null(s);
	return s;
}

static void test_values_json_round_trip(void **state)
{
	(void)state;
	struct knobs_table t;
	double v[KNOBS_MAX];
	struct err err = {0};
	knobs_table_init(&t);

	json_t *o = knobs_values_json(&t, NULL);
	char *s = dump(o);
	assert_string_equal(s, "{\"min_confidence\":0.25,\"max_positions\":10,"
			       "\"stop_loss_pct\":0.02,\"take_profit_pct\":0.04,"
			       "\"position_size_pct\":0.05,\"orders_per_cycle\":5,"
			       "\"min_trade_gap_minutes\":5}");
	free(s);
	json_decref(o);

	/* A missing knob takes its default; an unknown name is ignored. */
	o = json_loads("{\"max_positions\": 7, \"min_confidence\": 0.3, \"old_knob\": 1}", 0, NULL);
	assert_int_equal(knobs_values_from_json(&t, o, v, &err), 0);
	json_decref(o);
	assert_true(v[0] == 0.3 && v[1] == 7 && v[2] == 0.02 && v[6] == 5);

	o = knobs_values_json(&t, v);
	double back[KNOBS_MAX];
	assert_int_equal(knobs_values_from_json(&t, o, back, &err), 0);
	assert_memory_equal(v, back, t.n_knobs * sizeof v[0]);
	json_decref(o);

	o = json_loads("{\"max_positions\": \"seven\"}", 0, NULL);
	assert_int_equal(knobs_values_from_json(&t, o, v, &err), -1);
	assert_string_equal(err.msg, "max_positions: must be a number");
	json_decref(o);
	o = json_array();
	assert_int_equal(knobs_values_from_json(&t, o, v, &err), -1);
	json_decref(o);
}

static void test_change_json(void **state)
{
	(void)state;
	struct knobs_table t;
	struct knobs_inputs in;
	struct knob_change out[KNOBS_MAX];
	knobs_table_init(&t);
	knobs_inputs_init(&in);
	in.profit_factor_7d = 0.8;
	in.trades_7d = 12;
	knobs_evaluate(&t, NULL, &in, out);

	json_t *o = knobs_change_json(&out[knobs_find(&t, "max_positions")]);
	char *s = dump(o);
	assert_string_equal(s, "{\"knob\":\"max_positions\",\"previous\":10,\"value\":9,"
			       "\"target\":8,\"rule\":3,\"reason\":\"" R3 "\","
			       "\"evidence\":\"profit_factor_7d 0.8 < 1 over 12 trades\"}");
	free(s);
	json_decref(o);

	o = knobs_change_json(&out[knobs_find(&t, "min_confidence")]);
	s = dump(o);
	assert_string_equal(s, "{\"knob\":\"min_confidence\",\"previous\":0.25,\"value\":0.25,"
			       "\"target\":null,\"rule\":null,\"reason\":\"\",\"evidence\":\"\"}");
	free(s);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_evaluate_table),
	    cmocka_unit_test(test_out_of_range_value_then_rule_reports_the_clamp),
	    cmocka_unit_test(test_every_default_rule_fires_at_the_defaults),
	    cmocka_unit_test(test_change_evidence_names_the_figures),
	    cmocka_unit_test(test_repeated_days_settle_within_five_materials),
	    cmocka_unit_test(test_config_table),
	    cmocka_unit_test(test_config_good_table_in_detail),
	    cmocka_unit_test(test_config_knobs_alone_keep_the_default_rules),
	    cmocka_unit_test(test_config_refuses_too_many_knobs_and_rules),
	    cmocka_unit_test(test_metric_names_round_trip),
	    cmocka_unit_test(test_values_json_round_trip),
	    cmocka_unit_test(test_change_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
