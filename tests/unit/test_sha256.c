#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/base/sha256.h"

static void hex_of(const void *data, size_t len, char hex[SHA256_HEX_BYTES])
{
	unsigned char digest[SHA256_DIGEST_BYTES];

	sha256_digest(data, len, digest);
	sha256_hex(digest, hex);
}

/* The examples of FIPS 180-2 appendix B (B.1 "abc", B.2 the 448-bit
 * message, B.3 one million 'a'), the empty message, and the 896-bit message
 * of the NIST examples. */
static void test_the_published_test_vectors_give_their_published_digests(void **state)
{
	(void)state;
	static const struct {
		const char *message;
		const char *digest;
	} cases[] = {
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmno"
	     "pqrlmnopqrsmnopqrstnopqrstu",
	     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	char hex[SHA256_HEX_BYTES];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hex_of(cases[i].message, strlen(cases[i].message), hex);
		assert_string_equal(hex, cases[i].digest);
	}
}

static void test_one_million_a_gives_the_published_digest_in_one_call_and_in_pieces(void **state)
{
	(void)state;
	const char *expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	char *a = malloc(1000000);
	char hex[SHA256_HEX_BYTES];
	unsigned char digest[SHA256_DIGEST_BYTES];
	struct sha256 c;

	assert_non_null(a);
	memset(a, 'a', 1000000);
	hex_of(a, 1000000, hex);
	assert_string_equal(hex, expected);

	/* 1000 pieces of 1000 bytes: never a multiple of the 64-byte block. */
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, a + i * 1000, 1000);
	sha256_final(&c, digest);
	sha256_hex(digest, hex);
	assert_string_equal(hex, expected);
	free(a);
}

/* The padding needs a second block from 56 bytes on; the lengths around
 * each block edge. Expected digests from Python's hashlib (OpenSSL), an
 * implementation independent of this one. */
static void test_messages_around_the_block_edges_are_padded_as_the_standard_says(void **state)
{
	(void)state;
	static const struct {
		size_t len;
		const char *digest;
	} cases[] = {
	    {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
	    {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
	    {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
	    {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
	    {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
	    {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
	    {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
	};
	char a[120];
	char hex[SHA256_HEX_BYTES];

	memset(a, 'a', sizeof(a));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hex_of(a, cases[i].len, hex);
		assert_string_equal(hex, cases[i].digest);
	}
}

static void test_a_200_byte_input_split_at_every_offset_gives_the_one_call_digest(void **state)
{
	(void)state;
	unsigned char input[200];
	unsigned char whole[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];

	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (unsigned char)(i * 7 + 3);
	sha256_digest(input, sizeof(input), whole);
	sha256_hex(whole, hex);
	assert_string_equal(hex,
			    "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46");

	for (size_t cut = 0; cut <= sizeof(input); cut++) {
		unsigned char digest[SHA256_DIGEST_BYTES];
		struct sha256 c;

		sha256_init(&c);
		sha256_update(&c, input, cut);
		sha256_update(&c, input + cut, sizeof(input) - cut);
		sha256_final(&c, digest);
		assert_memory_equal(digest, whole, SHA256_DIGEST_BYTES);

		/* Three pieces: the first cut and a second one 37 bytes on. */
		size_t second = cut + 37 < sizeof(input) ? cut + 37 : sizeof(input);
		sha256_init(&c);
		sha256_update(&c, input, cut);
		sha256_update(&c, input + cut, second - cut);
		sha256_update(&c, input + second, sizeof(input) - second);
		sha256_final(&c, digest);
		assert_memory_equal(digest, whole, SHA256_DIGEST_BYTES);
	}
}

static void test_byte_by_byte_updates_and_empty_updates_change_nothing(void **state)
{
	(void)state;
	const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	unsigned char digest[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];
	struct sha256 c;

	sha256_init(&c);
	for (size_t i = 0; msg[i]; i++) {
		sha256_update(&c, msg + i, 1);
		sha256_update(&c, NULL, 0);
	}
	sha256_final(&c, digest);
	sha256_hex(digest, hex);
	assert_string_equal(hex,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_the_hex_form_is_64_lowercase_digits(void **state)
{
	(void)state;
	unsigned char digest[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];

	for (int i = 0; i < SHA256_DIGEST_BYTES; i++)
		digest[i] = (unsigned char)(0xf0 + (i & 0x0f) - (i >> 4) * 0x10);
	memset(hex, 'x', sizeof(hex));
	sha256_hex(digest, hex);
	assert_int_equal(strlen(hex), 64);
	assert_string_equal(hex,
			    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeffe0e1e2e3e4e5e6e7e8e9eaebecedeeef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_published_test_vectors_give_their_published_digests),
	    cmocka_unit_test(
		test_one_million_a_gives_the_published_digest_in_one_call_and_in_pieces),
	    cmocka_unit_test(test_messages_around_the_block_edges_are_padded_as_the_standard_says),
	    cmocka_unit_test(test_a_200_byte_input_split_at_every_offset_gives_the_one_call_digest),
	    cmocka_unit_test(test_byte_by_byte_updates_and_empty_updates_change_nothing),
	    cmocka_unit_test(test_the_hex_form_is_64_lowercase_digits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
