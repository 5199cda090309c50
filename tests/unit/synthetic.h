/*
 * What the model and batch tests share: a fixed-seed generator of synthetic
 * values, the same on every machine, and a double comparison (cmocka's
 * float one works in float). Include after <cmocka.h>.
 */
#ifndef TRADELEARN_TEST_SYNTHETIC_H
#define TRADELEARN_TEST_SYNTHETIC_H

#include <math.h>
#include <stdint.h>

#define assert_near(got, want, tolerance) assert_near_at(got, want, tolerance, __FILE__, __LINE__)
static inline void assert_near_at(double got, double want, double tolerance, const char *file,
				  int line)
{
	if (!(fabs(got - want) <= tolerance))
		fail_msg("%s:%d: %.17g, want %.17g ± %g", file, line, got, want, tolerance);
}

/* splitmix64. */
static inline uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline double uniform01(uint64_t *s)
{
	return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

/* Box–Muller. */
static inline double standard_normal(uint64_t *s)
{
	double u = uniform01(s), v = uniform01(s);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

#endif
