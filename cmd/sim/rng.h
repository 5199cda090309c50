/*
 * rng — the simulator's random numbers: xoshiro256** seeded through
 * splitmix64, so a seed gives the same sequence on every platform; normal
 * draws by Box–Muller, which keeps its spare.
 */
#ifndef TRADELEARN_SIM_RNG_H
#define TRADELEARN_SIM_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
	int has_spare;
	double spare;
};

/* One step of splitmix64 (advances *x). */
uint64_t splitmix64(uint64_t *x);
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Uniform in [lo, hi). */
double rng_range(struct rng *r, double lo, double hi);
/* Standard normal. */
double rng_normal(struct rng *r);

#endif
