/*
 * sha256 — SHA-256, written from the standard: NIST FIPS 180-4, "Secure Hash
 * Standard" (2015), sections 4.1.2 (functions), 4.2.2 (constants), 5.1.1
 * (padding), 5.3.3 (initial hash value) and 6.2 (computation). Tested
 * against the examples of FIPS 180-2 appendix B.
 *
 * The checksum of model bundles (lib/models/bundle): manifest.json names
 * the SHA-256 of every member, so a bundle that was damaged or edited is
 * refused instead of deployed.
 *
 * Nothing here can fail or allocate. Incremental use:
 *
 *     struct sha256 c;
 *     sha256_init(&c);
 *     sha256_update(&c, part1, len1);
 *     sha256_update(&c, part2, len2);
 *     sha256_final(&c, digest);        (digest of part1 followed by part2)
 *
 * gives the same digest as sha256_digest() over the joined bytes, however
 * the input is cut.
 */
#ifndef TRADELEARN_SHA256_H
#define TRADELEARN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_HEX_BYTES 65 /* 64 lowercase hex digits and a NUL */

/* The state of one digest in progress; embed it, no release needed. */
struct sha256 {
	uint32_t hash[8];	 /* H(i): the intermediate hash value */
	uint64_t length;	 /* bytes given so far */
	unsigned char block[64]; /* the start of a block not yet full */
	size_t used;		 /* bytes of block in use, < 64 */
};

/* Starts a digest (the initial hash value H(0)). */
void sha256_init(struct sha256 *c);

/* Adds len bytes at data (data may be NULL when len is 0). */
void sha256_update(struct sha256 *c, const void *data, size_t len);

/* Pads, finishes and writes the 32-byte digest. c must be initialized again
 * before it is used for another digest. */
void sha256_final(struct sha256 *c, unsigned char digest[SHA256_DIGEST_BYTES]);

/* The digest of len bytes at data, in one call. */
void sha256_digest(const void *data, size_t len, unsigned char digest[SHA256_DIGEST_BYTES]);

/* Writes digest as 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(const unsigned char digest[SHA256_DIGEST_BYTES], char hex[SHA256_HEX_BYTES]);

#endif
