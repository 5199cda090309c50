#include "lib/learn/stats.h"

#include <math.h>
#include <string.h>

void stats_wilson(long k, long n, double z, double *lo, double *hi)
{
	stats_wilson_real((double)k, (double)n, z, lo, hi);
}

void stats_wilson_real(double k, double n, double z, double *lo, double *hi)
{
	if (!(n > 0)) {
		*lo = 0;
		*hi = 1;
		return;
	}
	if (k < 0)
		k = 0;
	if (k > n)
		k = n;
	double p = k / n, z2 = z * z;
	double denom = 1 + z2 / n;
	double centre = (p + z2 / (2 * n)) / denom;
	double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom;
	*lo = fmax(0, centre - half);
	*hi = fmin(1, centre + half);
	/* Analytically 0 of n has lower bound 0 and n of n upper bound 1;
	 * say so exactly rather than leave a rounding residue of 1e-17. */
	if (k == 0)
		*lo = 0;
	if (k == n)
		*hi = 1;
}

void stats_beta_init(struct stats_beta *b)
{
	b->alpha = 1;
	b->beta = 1;
}

void stats_beta_update(struct stats_beta *b, int win)
{
	if (win)
		b->alpha += 1;
	else
		b->beta += 1;
}

double stats_beta_mean(const struct stats_beta *b)
{
	return b->alpha / (b->alpha + b->beta);
}

void stats_beta_interval(const struct stats_beta *b, double *lo, double *hi)
{
	double a = b->alpha, c = b->beta, s = a + c;
	double mean = a / s, sd = sqrt(a * c / (s * s * (s + 1)));
	*lo = fmax(0, mean - STATS_Z95 * sd);
	*hi = fmin(1, mean + STATS_Z95 * sd);
}

void stats_ewma_init(struct stats_ewma *e, double alpha)
{
	e->value = 0;
	e->n = 0;
	e->alpha = alpha;
}

void stats_ewma_add(struct stats_ewma *e, double x)
{
	e->value = e->n == 0 ? x : e->alpha * x + (1 - e->alpha) * e->value;
	e->n++;
}

void stats_welford_init(struct stats_welford *w)
{
	w->n = 0;
	w->mean = 0;
	w->m2 = 0;
}

void stats_welford_add(struct stats_welford *w, double x)
{
	w->n++;
	double d = x - w->mean;
	w->mean += d / (double)w->n;
	w->m2 += d * (x - w->mean);
}

double stats_welford_variance(const struct stats_welford *w)
{
	return w->n < 2 ? 0 : w->m2 / (double)(w->n - 1);
}

double stats_welford_sd(const struct stats_welford *w)
{
	return sqrt(stats_welford_variance(w));
}

void stats_page_hinkley_init(struct stats_page_hinkley *ph)
{
	memset(ph, 0, sizeof *ph);
}

void stats_page_hinkley_add(struct stats_page_hinkley *ph, double x, double delta)
{
	if (!isfinite(x))
		return;
	ph->n++;
	ph->mean += (x - ph->mean) / (double)ph->n;
	ph->cum += x - ph->mean - delta;
	if (ph->cum < ph->min_cum)
		ph->min_cum = ph->cum;
}

double stats_page_hinkley_value(const struct stats_page_hinkley *ph)
{
	return ph->cum - ph->min_cum;
}
