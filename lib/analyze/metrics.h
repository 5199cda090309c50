/*
 * metrics — trade and return figures of the daily post-market report:
 * pure functions of the values passed in, allocation-free, filling a plain
 * struct.
 *
 * NAN is the one answer for "cannot be computed" (no data, a zero
 * denominator, an infinite ratio); the report writes it as null. Every
 * double a function here fills in is finite or NAN, never ±inf.
 *
 * Trade metrics. A trade's outcome is its P&L: pnl_usd, or pnl_frac when
 * pnl_usd is not a number (as in weights.h). A win is P&L > 0; every other
 * trade with an outcome, zero P&L included, is a loss, so
 * wins + losses = count and win_rate = wins / count. A trade with neither
 * P&L is not evidence: it is left out of every figure (counts, streaks,
 * hold time). Per-trade figures use pnl_frac, money figures pnl_usd; a
 * value that is not a number is left out of the sums and means it would
 * enter (never read as 0), and a mean of no values is NAN.
 *
 * Return metrics follow empyrical (quantopian/empyrical, stats.py) with
 * risk-free rate 0, required return 0, annualization 252. An entry of
 * daily_returns that is not a number (NaN or ±inf) is a day without a
 * figure, as empyrical treats NaN: it still counts as a day (days, and the
 * period over which annual_return compounds) and compounds as 0 in the
 * equity curve, but it is not an observation of the mean, standard
 * deviation or downside risk.
 */
#ifndef TRADELEARN_METRICS_H
#define TRADELEARN_METRICS_H

#include <stddef.h>

#define METRICS_PERIODS_PER_YEAR 252 /* trading days, empyrical's DAILY */

struct metrics_trade {
	double pnl_usd;	     /* NAN when unknown */
	double pnl_frac;     /* P&L as a fraction of the position; NAN when unknown */
	double hold_minutes; /* NAN when unknown */
};

struct metrics_trades {
	/* count: trades with an outcome; wins: P&L > 0; losses: count − wins
	 * (zero P&L is a loss). */
	long count, wins, losses;
	double win_rate; /* wins / count; NAN when count is 0 */
	/* Σ winning pnl_usd / |Σ losing pnl_usd|: 0 when there are losses
	 * but no winning USD; NAN when the losing sum is 0 (no losses, or
	 * only zero-P&L ones) — never 0 or ∞ for "no losses". */
	double profit_factor;
	double expectancy;   /* mean pnl_frac over the counted trades */
	double payoff_ratio; /* avg_win / |avg_loss|; NAN when either is NAN or avg_loss is 0 */
	double avg_win;	     /* mean pnl_frac of wins */
	double avg_loss;     /* mean pnl_frac of losses: negative or zero */
	/* Σ pnl_usd: 0 with no trades, NAN when there are trades but none
	 * has a pnl_usd. */
	double pnl_usd;
	double avg_hold_minutes; /* mean hold_minutes */
	/* Longest runs of wins and of losses in the given order (a zero-P&L
	 * trade extends a losing run); 0 when there are none. */
	long max_consecutive_wins, max_consecutive_losses;
};

/* Fills *out from the n closed trades t[0..n-1], given in time order (the
 * streaks depend on it). t may be NULL when n is 0. */
void metrics_trades(const struct metrics_trade *t, size_t n, struct metrics_trades *out);

struct metrics_returns {
	long days; /* n, every entry, days without a figure included */
	/* mean / std(ddof = 1) × √252. NAN with fewer than 2 observations
	 * or a standard deviation of 0 (a flat series). */
	double sharpe;
	/* mean × 252 / downside risk, downside risk = √(mean over ALL
	 * observations of min(r, 0)²) × √252 (empyrical's downside_risk).
	 * NAN with fewer than 2 observations (empyrical: len < 2 → NaN) and
	 * when the downside risk is 0, i.e. no losing day (empyrical: inf). */
	double sortino;
	/* min over the compounded equity curve, starting point 1 included,
	 * of equity / running peak − 1: ≤ 0, and 0 when the curve never
	 * falls below a peak. A first-day loss is a drawdown from 1. */
	double max_drawdown;
	/* annual_return / |max_drawdown|; NAN when max_drawdown is 0. */
	double calmar;
	/* Π(1 + r)^(252 / days) − 1, compounded (CAGR, empyrical's
	 * annual_return); NAN when the equity curve ends below 0. */
	double annual_return;
	/* std(ddof = 1) × √252; NAN with fewer than 2 observations. */
	double annual_volatility;
};

/* Fills *out from n daily returns (fractions: 0.01 is 1%), oldest first.
 * daily_returns may be NULL when n is 0. With no observation at all (n is
 * 0, or no entry is a number) days is n and every figure is NAN. */
void metrics_returns(const double *daily_returns, size_t n, struct metrics_returns *out);

#endif
