/*
 * stats — small statistics of win/loss streams: exact, allocation-free, and
 * pure (each result is a function of the values passed in, in order).
 *
 *   - Wilson score interval of a proportion (Wilson 1927; "method 3" of
 *     Newcombe 1998, the score interval without continuity correction):
 *     better than the normal (Wald) interval at small n and near 0 or 1,
 *     which is where trading samples live.
 *   - Beta posterior of a win rate from a Beta(1, 1) prior, with a 95%
 *     credible interval from the NORMAL APPROXIMATION to the Beta
 *     (mean ± 1.96 sd, clamped to [0, 1]); close to the exact quantiles once
 *     alpha and beta are both above about 5, conservative (wider) below.
 *   - EWMA of per-trade outcomes (each trade's 1 or 0, not a cumulative
 *     rate): the first observation sets the value.
 *   - Welford's running mean and variance (numerically stable).
 *
 * The structs are plain values: copy them, zero them, save their fields.
 */
#ifndef TRADELEARN_STATS_H
#define TRADELEARN_STATS_H

#define STATS_Z95 1.96 /* two-sided 95% normal quantile */

/* Wilson interval of k successes in n trials at z (STATS_Z95 for 95%):
 * *lo and *hi in [0, 1]. n <= 0 gives [0, 1]; k is clamped to [0, n]. */
void stats_wilson(long k, long n, double z, double *lo, double *hi);
/* The same for real-valued (exponentially decayed) counts: k of n, 0 <= k <= n. */
void stats_wilson_real(double k, double n, double z, double *lo, double *hi);

struct stats_beta {
	double alpha, beta;
};
void stats_beta_init(struct stats_beta *b); /* the prior Beta(1, 1) */
/* win != 0: alpha += 1; otherwise beta += 1. */
void stats_beta_update(struct stats_beta *b, int win);
/* alpha / (alpha + beta). */
double stats_beta_mean(const struct stats_beta *b);
/* 95% credible interval by the normal approximation (see above). */
void stats_beta_interval(const struct stats_beta *b, double *lo, double *hi);

struct stats_ewma {
	double value; /* 0 before the first observation */
	long n;	      /* observations so far */
	double alpha; /* weight of the newest observation, in (0, 1] */
};
void stats_ewma_init(struct stats_ewma *e, double alpha);
/* value = x for the first observation, else alpha·x + (1 − alpha)·value. */
void stats_ewma_add(struct stats_ewma *e, double x);

struct stats_welford {
	long n;
	double mean, m2; /* m2: sum of squared deviations from the mean */
};
void stats_welford_init(struct stats_welford *w); /* same as zeroing it */
void stats_welford_add(struct stats_welford *w, double x);
/* Sample variance and standard deviation (n − 1); 0 when n < 2. */
double stats_welford_variance(const struct stats_welford *w);
double stats_welford_sd(const struct stats_welford *w);

/* Page-Hinkley test for an increase of the mean of a stream (Page 1954;
 * Hinkley 1971; the form of Gama et al., "A survey on concept drift
 * adaptation", 2014): with x̄_t the running mean, m_t = Σ_{i≤t} (x_i − x̄_i −
 * delta) and M_t = min_{i≤t} m_i, the statistic is PH_t = m_t − M_t ≥ 0, and
 * a drift is signalled when PH_t exceeds a threshold lambda. delta is the
 * size of change tolerated per observation. Fed with each trade's
 * progressive log loss, a rising PH says the model got worse recently. */
struct stats_page_hinkley {
	long n;
	double mean;	/* running mean of x */
	double cum;	/* m_t */
	double min_cum; /* M_t (0 before the first observation) */
};
void stats_page_hinkley_init(struct stats_page_hinkley *ph); /* same as zeroing it */
void stats_page_hinkley_add(struct stats_page_hinkley *ph, double x, double delta);
/* PH_t = m_t − M_t; 0 before the first observation. */
double stats_page_hinkley_value(const struct stats_page_hinkley *ph);

#endif
