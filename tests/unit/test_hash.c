#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/base/hash.h"

/* Test vectors of the published FNV-1a 64 (Noll's FNV page and the IETF
 * draft's test suite): the hash is stored on disk, so it is checked against
 * them, not against itself. */
struct hash_case {
	const char *text;
	uint64_t fnv1a64;
};

static const struct hash_case hash_cases[] = {
    {"", UINT64_C(0xcbf29ce484222325)}, /* the offset basis itself */
    {"a", UINT64_C(0xaf63dc4c8601ec8c)},
    {"b", UINT64_C(0xaf63df4c8601f1a5)},
    {"foobar", UINT64_C(0x85944171f73967e8)},
};

static void test_fnv1a64_matches_the_published_test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof hash_cases / sizeof hash_cases[0]; i++) {
		const struct hash_case *c = &hash_cases[i];
		assert_int_equal(hash_fnv1a64(HASH_FNV1A64_INIT, c->text, strlen(c->text)),
				 c->fnv1a64);
		assert_int_equal(hash_fnv1a64_str(HASH_FNV1A64_INIT, c->text), c->fnv1a64);
	}
}

/* Hashing in pieces, continuing from the hash so far, is hashing the whole. */
static void test_fnv1a64_in_pieces_is_the_hash_of_the_whole(void **state)
{
	(void)state;
	static const char text[] = "name=value and more bytes\n\0with a NUL";
	const size_t n = sizeof text - 1;
	uint64_t whole = hash_fnv1a64(HASH_FNV1A64_INIT, text, n);
	for (size_t cut = 0; cut <= n; cut++) {
		uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, text, cut);
		assert_int_equal(hash_fnv1a64(h, text + cut, n - cut), whole);
	}
	uint64_t h = hash_fnv1a64_str(HASH_FNV1A64_INIT, "foo");
	assert_int_equal(hash_fnv1a64_str(h, "bar"), UINT64_C(0x85944171f73967e8));
}

/* Every byte counts, the high ones too (no sign extension of char). */
static void test_fnv1a64_tells_apart_texts_a_byte_apart(void **state)
{
	(void)state;
	unsigned char a[4] = {0x80, 0xff, 0x00, 0x7f}, b[4];
	uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, a, sizeof a);
	for (size_t i = 0; i < sizeof a; i++) {
		memcpy(b, a, sizeof a);
		b[i] ^= 0x01;
		assert_true(hash_fnv1a64(HASH_FNV1A64_INIT, b, sizeof b) != h);
	}
	/* 0xff hashed as the byte 255, by hand: (basis ^ 0xff) * prime. */
	assert_int_equal(hash_fnv1a64(HASH_FNV1A64_INIT, "\xff", 1),
			 (HASH_FNV1A64_INIT ^ 0xffu) * HASH_FNV1A64_PRIME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fnv1a64_matches_the_published_test_vectors),
	    cmocka_unit_test(test_fnv1a64_in_pieces_is_the_hash_of_the_whole),
	    cmocka_unit_test(test_fnv1a64_tells_apart_texts_a_byte_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
