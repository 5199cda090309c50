/*
 * hash — FNV-1a, 64 bits: the one hash of tradelearn.
 *
 * Fowler–Noll–Vo, variant 1a: for each byte, h ^= byte, then h *= prime.
 * The offset basis and the prime are the published 64-bit parameters (Glenn
 * Fowler, Landon Curt Noll and Kiem-Phong Vo; "The FNV Non-Cryptographic
 * Hash Algorithm", IETF draft-eastlake-fnv, and Noll's FNV page,
 * www.isthe.com/chongo/tech/comp/fnv). FNV-1a 64 of "a" is
 * 0xaf63dc4c8601ec8c.
 *
 * Its values are stored (trade-key hashes in state/outcomes/trade_keys.bin,
 * file fingerprints in the state file) and fix the learner's feature
 * buckets: they must never change. Not cryptographic: for tables and
 * fingerprints, not against someone choosing the input.
 */
#ifndef TRADELEARN_HASH_H
#define TRADELEARN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_FNV1A64_INIT UINT64_C(0xcbf29ce484222325) /* the offset basis */
#define HASH_FNV1A64_PRIME UINT64_C(0x100000001b3)

/* FNV-1a 64 of len bytes at data, continuing from h: start with
 * HASH_FNV1A64_INIT; hashing a then b from the result of a is the hash of
 * a and b one after the other. */
static inline uint64_t hash_fnv1a64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= HASH_FNV1A64_PRIME;
	}
	return h;
}

/* The same over the bytes of the string s, without its NUL. */
static inline uint64_t hash_fnv1a64_str(uint64_t h, const char *s)
{
	return hash_fnv1a64(h, s, strlen(s));
}

#endif
