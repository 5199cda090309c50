#include "lib/analyze/metrics.h"

#include <math.h>

/* The report has one spelling for "no figure": whatever is not a finite
 * number (0/0, x/0, an overflowing power) leaves as NAN. */
static double finite_or_nan(double x)
{
	return isfinite(x) ? x : NAN;
}

struct mean_acc {
	double sum;
	long n;
};

static void mean_add(struct mean_acc *m, double x)
{
	if (!isfinite(x))
		return;
	m->sum += x;
	m->n++;
}

static double mean_of(const struct mean_acc *m)
{
	return m->n > 0 ? m->sum / (double)m->n : NAN;
}

void metrics_trades(const struct metrics_trade *t, size_t n, struct metrics_trades *out)
{
	struct mean_acc frac = {0}, win_frac = {0}, loss_frac = {0}, hold = {0};
	double win_usd = 0, loss_usd = 0, pnl_usd = 0;
	long usd_known = 0, run_wins = 0, run_losses = 0;

	*out = (struct metrics_trades){0};
	for (size_t i = 0; i < n; i++) {
		double pnl = isfinite(t[i].pnl_usd) ? t[i].pnl_usd : t[i].pnl_frac;
		if (!isfinite(pnl))
			continue; /* no outcome: not evidence */
		int win = pnl > 0;

		out->count++;
		mean_add(&frac, t[i].pnl_frac);
		mean_add(&hold, t[i].hold_minutes);
		if (isfinite(t[i].pnl_usd)) {
			pnl_usd += t[i].pnl_usd;
			usd_known++;
		}
		if (win) {
			out->wins++;
			mean_add(&win_frac, t[i].pnl_frac);
			if (isfinite(t[i].pnl_usd))
				win_usd += t[i].pnl_usd;
			run_wins++;
			run_losses = 0;
			if (run_wins > out->max_consecutive_wins)
				out->max_consecutive_wins = run_wins;
		} else {
			out->losses++;
			mean_add(&loss_frac, t[i].pnl_frac);
			if (isfinite(t[i].pnl_usd))
				loss_usd += t[i].pnl_usd;
			run_losses++;
			run_wins = 0;
			if (run_losses > out->max_consecutive_losses)
				out->max_consecutive_losses = run_losses;
		}
	}

	out->win_rate = out->count > 0 ? (double)out->wins / (double)out->count : NAN;
	/* Only a strictly negative losing sum divides: "no losses" is null,
	 * not the ∞ that x/0 would give nor a 0 that reads as "all lost". */
	out->profit_factor = loss_usd < 0 ? finite_or_nan(win_usd / -loss_usd) : NAN;
	out->expectancy = mean_of(&frac);
	out->avg_win = mean_of(&win_frac);
	out->avg_loss = mean_of(&loss_frac);
	out->payoff_ratio =
	    out->avg_loss != 0 ? finite_or_nan(out->avg_win / fabs(out->avg_loss)) : NAN;
	out->pnl_usd = out->count == 0 || usd_known > 0 ? pnl_usd : NAN;
	out->avg_hold_minutes = mean_of(&hold);
}

/* Mean and sample standard deviation of the observations (the finite
 * entries), and the mean of min(r, 0)². Deviations are taken from the
 * first observation before the mean is formed, so a flat series gives its
 * value back exactly and a standard deviation of exactly 0 — summing nine
 * 0.01s directly leaves a 1e-18 residue that would turn "no volatility"
 * into a Sharpe ratio of 1e16. */
static void moments(const double *r, size_t n, long *obs, double *mean, double *sd,
		    double *downside_ms)
{
	double shift = 0, shifted_sum = 0, squares = 0, downside = 0;
	long m = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(r[i]))
			continue;
		if (m == 0)
			shift = r[i];
		shifted_sum += r[i] - shift;
		if (r[i] < 0)
			downside += r[i] * r[i];
		m++;
	}
	*obs = m;
	*mean = m > 0 ? shift + shifted_sum / (double)m : NAN;
	*downside_ms = m > 0 ? downside / (double)m : NAN;
	if (m < 2) {
		*sd = NAN;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (isfinite(r[i]))
			squares += (r[i] - *mean) * (r[i] - *mean);
	*sd = sqrt(squares / (double)(m - 1));
}

void metrics_returns(const double *daily_returns, size_t n, struct metrics_returns *out)
{
	const double periods = METRICS_PERIODS_PER_YEAR;
	double mean, sd, downside_ms;
	long obs;

	out->days = (long)n;
	out->sharpe = out->sortino = out->max_drawdown = NAN;
	out->calmar = out->annual_return = out->annual_volatility = NAN;
	if (n == 0)
		return;
	moments(daily_returns, n, &obs, &mean, &sd, &downside_ms);
	if (obs == 0)
		return;

	if (obs >= 2) {
		double downside_risk = sqrt(downside_ms) * sqrt(periods);
		out->annual_volatility = finite_or_nan(sd * sqrt(periods));
		out->sharpe = sd > 0 ? finite_or_nan(mean / sd * sqrt(periods)) : NAN;
		out->sortino =
		    downside_risk > 0 ? finite_or_nan(mean * periods / downside_risk) : NAN;
	}

	/* The curve starts at 1 before the first day, so the peak does too:
	 * a loss on day one is a drawdown (empyrical prepends its starting
	 * value for the same reason). */
	double equity = 1, peak = 1, worst = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(daily_returns[i]))
			equity *= 1 + daily_returns[i];
		if (equity > peak)
			peak = equity;
		double drawdown = equity / peak - 1;
		if (drawdown < worst)
			worst = drawdown;
	}
	out->max_drawdown = finite_or_nan(worst);
	/* A negative base has no real fractional power; pow() would answer
	 * with NaN or, for an integral exponent, a meaningless number. */
	out->annual_return =
	    equity >= 0 ? finite_or_nan(pow(equity, periods / (double)n) - 1) : NAN;
	out->calmar =
	    out->max_drawdown < 0 ? finite_or_nan(out->annual_return / -out->max_drawdown) : NAN;
}
