/*
 * knobs — the bot's execution knobs and the rules that move them after
 * each trading day: the daily job evaluates the rules on the day's figures,
 * the bot reads the values.
 *
 * Pure: no I/O, no clock, no allocation except the JSON objects the *_json
 * functions return. The caller reads and writes state/knobs.json and
 * state/knob_adjustments.jsonl; this module only says what the knobs are
 * and where they should go.
 *
 * The default knobs (value, range, material step) and the default rules
 * with their reasons are the tables default_knobs and default_rules in
 * knobs.c; the README lists them for users. A config may override knobs,
 * add others, and replace the rules (knobs_table_from_json).
 *
 * Rules are looked at in order. For each knob the FIRST rule on it whose
 * conditions all hold decides its target; later rules on that knob are not
 * looked at. A factor rule's target is current × factor.
 *
 * A move, for a knob at value v whose rule gives target T:
 *   - T is clamped to [min, max];
 *   - real knob: new = clamp(0.8·v + 0.2·T); it is applied only when
 *     |new − v| >= material, otherwise the knob stays and no change is
 *     reported. So a knob settles where 0.2·|T − v| < material, within
 *     5 × material of its target (min_confidence from 0.25 toward 0.32:
 *     0.25, 0.264, 0.2752, ... stops near 0.297), and a factor rule stops shrinking a
 *     knob where 0.2·|1 − factor|·v < material;
 *   - integer knob: a factor target is rounded AWAY from v (ceil when it
 *     grows, floor when it shrinks), an absolute target to the nearest
 *     whole number, so "× 1.1" on 3 positions means 4, not 3.3 → 3 forever.
 *     When that target differs from v the knob moves to round(0.8·v + 0.2·T)
 *     but by at least one step toward T (never past it): 10 positions under
 *     × 0.8 go to 9, not round(9.6) = 10, i.e. nowhere. A trader who writes
 *     "fewer positions" expects fewer. A factor cannot move a knob off 0:
 *     use a target.
 *
 * A rule's condition reads one metric of struct knobs_inputs. A metric that
 * is NAN (unknown) makes its condition false, so the rule never fires. Each
 * metric has a window — the day or the 7 days — and the rule fires only
 * when every condition's window holds at least min_trades trades
 * (trades_day or trades_7d). A negative count reads as unknown: the metric
 * is NAN, and as a window it holds 0 trades.
 */
#ifndef TRADELEARN_KNOBS_H
#define TRADELEARN_KNOBS_H

#include <stddef.h>
#include <jansson.h>
#include "lib/base/err.h"

#define KNOBS_MAX 16
#define KNOBS_MAX_RULES 64
#define KNOBS_NAME_MAX 32    /* names: [a-z0-9_], at most 31 bytes */
#define KNOBS_REASON_MAX 160 /* a rule's reason: at most 159 bytes */
#define KNOBS_SMOOTHING 0.2  /* new = (1 − s)·old + s·target */

/* The figures of one trading day a rule may read, as the daily job computes
 * them (lib/analyze/metrics.h conventions: fractions, NAN when unknown). */
struct knobs_inputs {
	double win_rate;	     /* the day's wins / trades; window: day */
	double win_rate_7d;	     /* window: 7 days, as are all *_7d */
	double profit_factor_7d;     /* Σ wins USD / |Σ losses USD| */
	double expectancy_7d;	     /* mean pnl_frac per trade */
	double sharpe_7d;	     /* on the daily returns of the 7 days */
	double stop_exit_share_7d;   /* share of closes by stop loss, 0..1 */
	double target_exit_share_7d; /* share of closes at take profit */
	double time_exit_share_7d;   /* share of closes by time / end of day */
	double avg_hold_minutes_7d;
	double missed_pnl_day; /* USD left on the table (missed signals); window: day */
	long trades_day;       /* closed trades of the day; window: day */
	long trades_7d;	       /* closed trades of the 7 days; window: 7 days */
	/* Losing trades in a row ending at the day's last trade, counted
	 * within the 7 days (so it may start on an earlier day); window: 7
	 * days. */
	long loss_streak;
};

/* Sets every figure to NAN and every count to -1: all unknown, so no rule
 * fires on a figure the caller did not fill in. */
void knobs_inputs_init(struct knobs_inputs *in);

/* The metrics by number, in the order of struct knobs_inputs. */
enum knobs_metric {
	KNOBS_WIN_RATE,
	KNOBS_WIN_RATE_7D,
	KNOBS_PROFIT_FACTOR_7D,
	KNOBS_EXPECTANCY_7D,
	KNOBS_SHARPE_7D,
	KNOBS_STOP_EXIT_SHARE_7D,
	KNOBS_TARGET_EXIT_SHARE_7D,
	KNOBS_TIME_EXIT_SHARE_7D,
	KNOBS_AVG_HOLD_MINUTES_7D,
	KNOBS_MISSED_PNL_DAY,
	KNOBS_TRADES_DAY,
	KNOBS_TRADES_7D,
	KNOBS_LOSS_STREAK,
	KNOBS_METRIC_COUNT
};

/* "win_rate_7d" for KNOBS_WIN_RATE_7D, ...; NULL when m is out of range. */
const char *knobs_metric_name(enum knobs_metric m);
/* The metric named name, or -1 when there is none. */
int knobs_metric_parse(const char *name);
/* The metric's value in in: NAN when unknown (counts below 0 included) or
 * m is out of range. */
double knobs_metric_value(const struct knobs_inputs *in, enum knobs_metric m);
/* The trades in the metric's window (trades_day or trades_7d); 0 when
 * unknown. */
long knobs_metric_window_trades(const struct knobs_inputs *in, enum knobs_metric m);

enum knobs_op { KNOBS_LT, KNOBS_LE, KNOBS_GT, KNOBS_GE };

struct knobs_condition {
	enum knobs_metric metric;
	enum knobs_op op;
	double threshold; /* finite */
};

struct knobs_def {
	char name[KNOBS_NAME_MAX];
	double value;	 /* the default, min <= value <= max */
	double min, max; /* inclusive */
	double material; /* real knobs: the smallest move applied; 1 for integer ones */
	int integer;	 /* 1: whole numbers only (value, min, max too) */
};

struct knob_rule {
	struct knobs_condition cond[2];
	int n_cond; /* 1 or 2: all must hold */
	char knob[KNOBS_NAME_MAX];
	int has_target; /* 1: move toward target; 0: toward current × factor */
	double target;	/* within the knob's range (has_target) */
	double factor;	/* > 0 (!has_target) */
	long min_trades;
	char reason[KNOBS_REASON_MAX]; /* journaled with every change it makes */
};

/* A plain value: embed it or copy it; it owns nothing (no _release). */
struct knobs_table {
	size_t n_knobs;
	struct knobs_def knobs[KNOBS_MAX];
	size_t n_rules;
	struct knob_rule rules[KNOBS_MAX_RULES];
};

/* Fills t with the default knobs and rules (default_knobs and default_rules
 * in knobs.c). */
void knobs_table_init(struct knobs_table *t);

/* Keeps only the knobs keep() says yes to (a bot's own: its profile's list),
 * in their order; the rules on the others then move nothing. */
void knobs_table_keep(struct knobs_table *t, int (*keep)(const void *ctx, const char *name),
		      const void *ctx);

/* The index of the knob named name in t, or -1. */
int knobs_find(const struct knobs_table *t, const char *name);

/*
 * Applies the config sections to t (normally fresh from knobs_table_init).
 * Both are borrowed and may be NULL (section absent).
 *
 * knobs_obj, the "knobs" object: {name: {"value", "min", "max",
 * "material", "integer"}}. A built-in or earlier knob takes the keys given
 * and keeps the rest; a new knob needs value, min and max, and material
 * unless integer is true. Integer knobs move in whole steps: "material" is
 * refused for them. Checked after merging: min <= value <= max, material
 * > 0, whole numbers for integer knobs.
 *
 * rules_array, the "knob_rules" array, REPLACES all of t's rules when
 * present ([] means no rules):
 *   [{"if": "win_rate_7d < 0.45", "and": "profit_factor_7d > 1.5",
 *     "knob": "min_confidence", "target": 0.32 | "factor": 0.8,
 *     "min_trades": 10, "reason": "..."}]
 * "if" and "knob" are required, and exactly one of "target" and "factor";
 * "and" is optional; min_trades defaults to 0; reason defaults to the
 * conditions' text. A condition is "METRIC OP NUMBER", OP one of <, <=, >,
 * >=. A target must lie in the knob's range (a whole number for integer
 * knobs); a factor must be > 0.
 *
 * Every key is checked: unknown keys are refused. Returns 0, or -1 with err
 * set and t unchanged: EINVAL with the message "PATH: problem", PATH naming
 * the key as written: "knobs.max_positions.min", "knob_rules[2].if" (jansson
 * keeps no line numbers for values, so the caller, which holds the text, maps
 * PATH to FILE:LINE; the first ": " in the message ends PATH: knob names
 * cannot hold one); or ENOMEM.
 */
int knobs_table_from_json(struct knobs_table *t, json_t *knobs_obj, json_t *rules_array,
			  struct err *err);

/* What became of one knob on one evaluation. */
struct knob_change {
	char name[KNOBS_NAME_MAX];
	int integer; /* the knob's kind, so the JSON writes whole numbers */
	/* The value it had: current[i] as given (before any clamping), or
	 * the default when none was given. */
	double previous;
	double value; /* the value it has now; == previous when !changed */
	int changed;
	/* The first matching rule on this knob (index into t->rules) and its
	 * target after rounding and clamping, whether or not the move was
	 * material; -1 and NAN when no rule matched. */
	int rule;
	double target;
	/* When changed: the rule's reason, and the figures that made it fire
	 * ("win_rate_7d 0.41 < 0.45 over 23 trades"); or, for a value outside
	 * the knob's range or not whole, a reason saying so and evidence "".
	 * Both "" when !changed. */
	char reason[KNOBS_REASON_MAX];
	char evidence[160];
};

/*
 * Evaluates t's rules against in, from the current values current[i] (in
 * table order, t->n_knobs of them; current NULL, or a NAN entry, means the
 * knob's default). Writes out[i] for every knob (out holds t->n_knobs) and
 * returns how many changed. A current value outside the knob's range, or
 * not whole for an integer knob, is brought into it first; that alone is a
 * change when no rule moves the knob further. Pure: same arguments, same
 * answer.
 */
size_t knobs_evaluate(const struct knobs_table *t, const double *current,
		      const struct knobs_inputs *in, struct knob_change *out);

/* state/knobs.json: {"name": value, ...} in table order, integer knobs as
 * JSON integers. values NULL (or a NAN entry) writes the default. A new
 * reference; NULL on ENOMEM. */
json_t *knobs_values_json(const struct knobs_table *t, const double *values);

/* Reads such an object (borrowed, not kept) into values[0..t->n_knobs-1].
 * A knob the object lacks gets its default; a name t does not know is
 * ignored (a knob dropped from the config leaves the file at its next
 * write). Values are taken as they are: knobs_evaluate brings an
 * out-of-range one back. Returns 0, or -1 with err set to EINVAL (values
 * then unspecified) when obj is not an object or a known knob's value is
 * not a number ("<knob>: must be a number"). */
int knobs_values_from_json(const struct knobs_table *t, json_t *obj, double *values,
			   struct err *err);

/* One line of state/knob_adjustments.jsonl, a new reference (NULL on
 * ENOMEM): {"knob", "previous", "value", "target", "rule", "reason",
 * "evidence"}; target and rule are null when no rule matched. The caller
 * adds the day. c is borrowed. */
json_t *knobs_change_json(const struct knob_change *c);

#endif
