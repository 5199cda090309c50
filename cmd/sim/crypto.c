/*
 * The crypto futures bot of sim_run_crypto (sim.h): a different bot from
 * the equity one of sim.c, in the shape of the README's worked example of
 * mapping another bot.
 *
 * trades.jsonl, one finished trade per line, by exit time:
 *
 *   {"closed_at": "2026-01-05T00:41:07.250-07:00", "opened_at": 1767571234.5,
 *    "pair": "BTCUSDT", "direction": "LONG", "tf": "5m", "entry": 43120.5,
 *    "exit": 43380.2, "qty": 0.12, "leverage": 10, "notional_size": 5174.46,
 *    "fees_usd": 4.14, "funding_usd": -0.21, "venue": "bybit",
 *    "strategy": "breakout", "net_pnl": 25.9, "pnl_margin_pct": 5.01,
 *    "reason": "take_profit"}
 *
 * no trade id; the exit time ISO-8601 with a -07:00 offset, the entry time
 * epoch seconds; direction long, LONG or SHORT; net_pnl in USD net of fees
 * and funding; pnl_margin_pct the percent of the leveraged margin
 * (notional / leverage).
 *
 * context.jsonl, one row per trade, by time, within two seconds of the
 * trade's entry, sharing no key with it:
 *
 *   {"time": 1767571235.012, "pair": "BTCUSDT", "session": "asia",
 *    "regime": "trend_up", "signals": {"trend": 0.53, "volume_z": -1.2, ...}}
 *
 * and a decoy for about one trade in twenty: a row of the same symbol 30 to
 * 90 seconds away, which a match within a few seconds never takes.
 *
 * The planted models: a trade of timeframe k wins with probability
 * sigmoid(intercept_k + Σ w_k,i·signals_i); the two timeframes weigh the
 * same signals differently (some with opposite signs), so one model of
 * both ranks worse than one per timeframe. A win takes profit at 0.6% to
 * 1.6%, a loss stops at 0.4% to 1.0%: both far from the fees (0.08% of the
 * notional) and funding (under 0.01%), so a drawn win is a positive net P&L.
 * The row's scalar fields (leverage, notional, fees, funding, venue,
 * strategy) carry no planted weight.
 */
#include "cmd/sim/sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/sim/rng.h"
#include "lib/base/buf.h"
#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/learn/learner.h"

#define CRYPTO_START_US INT64_C(1767571200000000) /* 2026-01-05T00:00:00Z */
#define US_PER_S INT64_C(1000000)
#define DAY_US (86400 * US_PER_S)
#define MEAN_GAP_S 540.0     /* between entries, all symbols together */
#define SAME_SYMBOL_GAP_S 20 /* entries of one symbol at least this far apart */
#define DECOY_SHARE 0.05
#define N_SIGNALS 6
#define N_TIMEFRAMES 2
#define N_PAIRS 5

static const char *const signal_names[N_SIGNALS] = {"trend",	  "volume_z",  "book_imbalance",
						    "volatility", "funding_z", "rsi_dev"};

static const struct {
	const char *name;
	double intercept;
	double weight[N_SIGNALS];
	double hold_min_lo, hold_min_hi; /* minutes */
} timeframes[N_TIMEFRAMES] = {
    {"5m", -0.1, {1.4, 0.7, 0.0, -0.5, 0.3, -1.0}, 5, 90},
    {"1h", 0.1, {-0.9, 0.0, 1.2, 0.6, -1.1, 0.3}, 60, 720},
};

static const struct {
	const char *name;
	double price, vol; /* start price, per-trade log-price step sd */
	int price_decimals;
	double qty_step;
} pairs[N_PAIRS] = {
    {"BTCUSDT", 43000.0, 0.004, 1, 0.001}, {"ETHUSDT", 2300.0, 0.005, 2, 0.01},
    {"SOLUSDT", 98.0, 0.007, 3, 0.1},	   {"XRPUSDT", 0.62, 0.006, 4, 10.0},
    {"DOGEUSDT", 0.085, 0.008, 5, 100.0},
};

static const char *const venues[] = {"binance", "bybit", "okx"};
static const char *const strategies[] = {"breakout", "mean_revert", "funding_arb"};
static const char *const regimes[] = {"trend_up", "trend_down", "range", "volatile"};
static const int leverages[] = {2, 3, 5, 10, 20};

struct trade {
	int pair, tf, dir, win, decoy;
	int64_t entry_us, exit_us, context_us, decoy_us;
	double entry, exit, qty, notional, fees, funding;
	int64_t net_cents;
	int leverage;
	const char *venue, *strategy, *regime, *reason;
	double signal[N_SIGNALS];
	double p; /* planted probability */
};

struct crypto {
	const struct sim_options *opt;
	struct sim_truth *truth;
	struct err *err;
	struct rng rng;
	struct trade *t;
	size_t n, cap;
};

static double round_to(double x, int decimals)
{
	double scale = pow(10.0, decimals);
	return round(x * scale) / scale;
}

static int pick(struct rng *r, int n)
{
	int i = (int)(rng_uniform(r) * n);
	return i < n ? i : n - 1;
}

/* A session label of the bot's own, by the UTC hour of the entry. */
static const char *session_of(int64_t us)
{
	int hour = (int)(((us / US_PER_S) % 86400 + 86400) % 86400 / 3600);
	return hour < 8 ? "asia" : hour < 16 ? "europe" : "us";
}

/* ISO-8601 with the bot's -07:00 offset, to the millisecond. */
static void format_offset(int64_t us, char *buf, size_t len)
{
	int64_t local = us - 7 * 3600 * US_PER_S;
	char iso[40];
	calendar_format_iso(local, iso, sizeof iso); /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	snprintf(buf, len, "%.23s-07:00", iso);
}

static void draw_trade(struct crypto *c, struct trade *t, int64_t entry_us, double *price)
{
	struct rng *r = &c->rng;
	t->pair = pick(r, N_PAIRS);
	t->tf = rng_uniform(r) < 0.55 ? 0 : 1;
	t->dir = rng_uniform(r) < 0.5 ? 1 : -1;
	t->entry_us = entry_us;
	double logit = timeframes[t->tf].intercept;
	for (int i = 0; i < N_SIGNALS; i++) {
		t->signal[i] = round_to(rng_normal(r), 4);
		logit += timeframes[t->tf].weight[i] * t->signal[i];
	}
	t->p = 1.0 / (1.0 + exp(-logit));
	t->win = rng_uniform(r) < t->p;

	int dec = pairs[t->pair].price_decimals;
	price[t->pair] *= exp(pairs[t->pair].vol * rng_normal(r));
	t->entry = round_to(price[t->pair], dec);
	double move = t->win ? rng_range(r, 0.006, 0.016) : -rng_range(r, 0.004, 0.010);
	t->exit = round_to(t->entry * (1.0 + t->dir * move), dec);
	t->leverage = leverages[pick(r, 5)];
	double want = rng_range(r, 500.0, 20000.0);
	double step = pairs[t->pair].qty_step;
	t->qty = round_to(fmax(step, round(want / t->entry / step) * step), 6);
	t->notional = round_to(t->qty * t->entry, 2);
	t->fees = round_to(t->notional * 0.0008, 2);
	t->funding = round_to(t->notional * rng_range(r, -0.0001, 0.0001), 2);
	double gross = t->dir * (t->exit - t->entry) * t->qty;
	t->net_cents = llround((gross - t->fees - t->funding) * 100.0);
	double hold_min =
	    rng_range(r, timeframes[t->tf].hold_min_lo, timeframes[t->tf].hold_min_hi);
	t->exit_us = entry_us + (int64_t)(hold_min * 60e6) / 1000 * 1000;
	t->context_us = entry_us + (int64_t)(rng_range(r, -2.0, 2.0) * 1000) * 1000;
	t->decoy = rng_uniform(r) < DECOY_SHARE;
	t->decoy_us = entry_us + (rng_uniform(r) < 0.5 ? -1 : 1) *
				     (int64_t)(rng_range(r, 30.0, 90.0) * 1000) * 1000;
	t->venue = venues[pick(r, 3)];
	t->strategy = strategies[pick(r, 3)];
	t->regime = regimes[pick(r, 4)];
	t->reason = t->win		   ? "take_profit"
		    : rng_uniform(r) < 0.8 ? "stop_loss"
					   : "liquidation_guard";
}

static const char *direction_text(struct crypto *c, int dir)
{
	/* long, LONG or SHORT: the bot's mixed spellings. */
	double u = rng_uniform(&c->rng);
	return dir > 0 ? (u < 0.5 ? "long" : "LONG") : "SHORT";
}

static int add_line(struct crypto *c, struct buf *b, json_t *row)
{
	char *text = row ? json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(row);
	if (!text || buf_add(b, text, strlen(text)) || buf_add(b, "\n", 1)) {
		free(text);
		return err_set(c->err, ENOMEM, "out of memory");
	}
	free(text);
	return 0;
}

static json_t *trade_row(struct crypto *c, const struct trade *t)
{
	char closed[48];
	format_offset(t->exit_us, closed, sizeof closed);
	double margin = t->notional / t->leverage;
	double net = (double)t->net_cents / 100.0;
	return json_pack("{s:s,s:f,s:s,s:s,s:s,s:f,s:f,s:f,s:i,s:f,s:f,s:f,s:s,s:s,s:f,s:f,s:s}",
			 "closed_at", closed, "opened_at", (double)t->entry_us / 1e6, "pair",
			 pairs[t->pair].name, "direction", direction_text(c, t->dir), "tf",
			 timeframes[t->tf].name, "entry", t->entry, "exit", t->exit, "qty", t->qty,
			 "leverage", t->leverage, "notional_size", t->notional, "fees_usd", t->fees,
			 "funding_usd", t->funding, "venue", t->venue, "strategy", t->strategy,
			 "net_pnl", net, "pnl_margin_pct", round_to(net / margin * 100.0, 4),
			 "reason", t->reason);
}

static json_t *context_row(const struct trade *t, int64_t at, int decoy, struct rng *r)
{
	json_t *sig = json_object();
	for (int i = 0; i < N_SIGNALS; i++)
		json_object_set_new(sig, signal_names[i],
				    json_real(decoy ? round_to(rng_normal(r), 4) : t->signal[i]));
	return json_pack("{s:f,s:s,s:s,s:s,s:o}", "time", (double)(at / 1000) / 1e3, "pair",
			 pairs[t->pair].name, "session", session_of(at), "regime", t->regime,
			 "signals", sig);
}

static int by_exit(const void *a, const void *b)
{
	const struct trade *x = a, *y = b;
	return (x->exit_us > y->exit_us) - (x->exit_us < y->exit_us);
}

struct ctx_line {
	int64_t at;
	size_t trade;
	int decoy;
};

static int by_time(const void *a, const void *b)
{
	const struct ctx_line *x = a, *y = b;
	if (x->at != y->at)
		return (x->at > y->at) - (x->at < y->at);
	return (x->trade > y->trade) - (x->trade < y->trade);
}

static int write_file(struct crypto *c, const char *name, struct buf *b)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", c->opt->logs_dir, name);
	return durable_replace(path, b->data ? b->data : "", b->len, c->err);
}

static void fill_truth(struct crypto *c)
{
	struct sim_truth *t = c->truth;
	t->n_components = N_SIGNALS;
	t->n_segments = N_TIMEFRAMES;
	for (int i = 0; i < N_SIGNALS; i++) {
		snprintf(t->component_names[i], sizeof t->component_names[i], "%s",
			 signal_names[i]);
		t->component_mean[i] = 0.0;
		t->component_sd[i] = 1.0;
		/* One model per timeframe: the overall "components" are their
		 * mean, what a single model of both would lean towards. */
		t->weights[i] = (timeframes[0].weight[i] + timeframes[1].weight[i]) / 2.0;
	}
	for (int k = 0; k < N_TIMEFRAMES; k++) {
		snprintf(t->segment_names[k], sizeof t->segment_names[k], "%s", timeframes[k].name);
		t->segment_intercept[k] = timeframes[k].intercept;
		for (int i = 0; i < N_SIGNALS; i++)
			t->segment_weights[k][i] = timeframes[k].weight[i];
	}
}

/* AUC of the planted probabilities over the trades from `from` on,
 * overall (seg -1) or of one timeframe. */
static double planted_auc(const struct crypto *c, int seg, size_t from)
{
	double *p = malloc((c->n + 1) * sizeof *p);
	int *y = malloc((c->n + 1) * sizeof *y);
	size_t n = 0, wins = 0;
	double auc = NAN;
	if (p && y) {
		for (size_t i = from; i < c->n; i++) {
			if (seg >= 0 && c->t[i].tf != seg)
				continue;
			p[n] = c->t[i].p;
			y[n] = c->t[i].win;
			wins += (size_t)y[n++];
		}
		auc = wins == 0 || wins == n ? 0.5 : learner_auc(p, y, n);
	}
	free(p);
	free(y);
	return auc;
}

static int generate(struct crypto *c)
{
	double price[N_PAIRS];
	int64_t last_entry[N_PAIRS];
	int64_t start = c->opt->start_us ? c->opt->start_us : CRYPTO_START_US;
	start -= ((start % DAY_US) + DAY_US) % DAY_US;
	int64_t end = start + (int64_t)c->opt->days * DAY_US, at = start;
	for (int i = 0; i < N_PAIRS; i++) {
		price[i] = pairs[i].price;
		last_entry[i] = INT64_MIN / 2;
	}
	for (;;) {
		double gap = -log(1.0 - rng_uniform(&c->rng)) * MEAN_GAP_S;
		at += (int64_t)(gap * 1000) * 1000 + US_PER_S;
		if (at >= end)
			break;
		if (BUF_ARRAY_GROW(c->t, c->n + 1, c->cap))
			return err_set(c->err, ENOMEM, "out of memory");
		struct trade *t = &c->t[c->n];
		memset(t, 0, sizeof *t);
		draw_trade(c, t, at, price);
		/* One symbol's entries stay apart, so a match within a few
		 * seconds is never ambiguous by design. */
		if (at - last_entry[t->pair] < SAME_SYMBOL_GAP_S * US_PER_S)
			continue;
		last_entry[t->pair] = at;
		c->n++;
	}
	return 0;
}

static int write_files(struct crypto *c)
{
	struct buf trades, ctx;
	struct ctx_line *lines = malloc((2 * c->n + 1) * sizeof *lines);
	size_t n_lines = 0;
	int rc = -1;
	buf_init(&trades);
	buf_init(&ctx);
	if (!lines) {
		err_set(c->err, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		lines[n_lines++] = (struct ctx_line){c->t[i].context_us, i, 0};
		if (c->t[i].decoy)
			lines[n_lines++] = (struct ctx_line){c->t[i].decoy_us, i, 1};
	}
	qsort(lines, n_lines, sizeof *lines, by_time);
	for (size_t i = 0; i < n_lines; i++) {
		const struct trade *t = &c->t[lines[i].trade];
		if (add_line(c, &ctx, context_row(t, lines[i].at, lines[i].decoy, &c->rng)))
			goto out;
		c->truth->contexts++;
		c->truth->decoy_contexts += lines[i].decoy;
	}
	qsort(c->t, c->n, sizeof *c->t, by_exit);
	for (size_t i = 0; i < c->n; i++) {
		const struct trade *t = &c->t[i];
		struct sim_truth *tr = c->truth;
		if (add_line(c, &trades, trade_row(c, t)))
			goto out;
		tr->closes++;
		tr->wins += t->net_cents > 0;
		tr->segment_trades[t->tf]++;
		tr->segment_wins[t->tf] += t->net_cents > 0;
	}
	int64_t cents = 0, seg_cents[N_TIMEFRAMES] = {0};
	for (size_t i = 0; i < c->n; i++) {
		cents += c->t[i].net_cents;
		seg_cents[c->t[i].tf] += c->t[i].net_cents;
	}
	c->truth->closes_pnl_usd = (double)cents / 100.0;
	for (int k = 0; k < N_TIMEFRAMES; k++)
		c->truth->segment_pnl_usd[k] = (double)seg_cents[k] / 100.0;
	c->truth->lines_by_source[0] = c->truth->closes;
	c->truth->lines_written = c->truth->closes + c->truth->contexts;
	if (write_file(c, sim_source_file(SIM_CRYPTO, "attribution"), &trades) ||
	    write_file(c, sim_source_file(SIM_CRYPTO, "context"), &ctx))
		goto out;
	rc = 0;
out:
	free(lines);
	buf_release(&trades);
	buf_release(&ctx);
	return rc;
}

int sim_run_crypto(const struct sim_options *opt, struct sim_truth *truth, struct err *err)
{
	struct crypto c = {.opt = opt, .truth = truth, .err = err};
	int rc = -1;
	memset(truth, 0, sizeof *truth);
	snprintf(truth->profile, sizeof truth->profile, "crypto");
	truth->seed = opt->seed;
	truth->days = opt->days;
	if (opt->days < 1)
		return err_set(err, EINVAL, "days must be at least 1");
	if (durable_mkdirs(opt->logs_dir, err) < 0)
		return -1;
	rng_seed(&c.rng, opt->seed ^ UINT64_C(0x63727970746f)); /* "crypto" */
	fill_truth(&c);
	if (generate(&c))
		goto out;
	rc = write_files(&c);
	/* In the order written (by exit), as a learner scores them. */
	truth->oracle_auc = planted_auc(&c, -1, 0);
	truth->oracle_auc_second_half = planted_auc(&c, -1, c.n - c.n / 2);
	for (int k = 0; k < N_TIMEFRAMES; k++)
		truth->segment_oracle_auc[k] = planted_auc(&c, k, 0);
	if (!rc && isnan(truth->oracle_auc + truth->oracle_auc_second_half)) {
		err_set(err, ENOMEM, "out of memory");
		rc = -1;
	}
out:
	free(c.t);
	return rc;
}
