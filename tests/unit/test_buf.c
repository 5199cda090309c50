#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/buf.h"

/* The out-of-memory cases ask for more than any machine has: under
 * AddressSanitizer such a request must come back NULL, as from malloc,
 * instead of stopping the program. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

/* The header's invariants, checked after every step. */
static void assert_invariants(const struct buf *b)
{
	assert_non_null(b->data);
	assert_int_equal(b->data[b->len], '\0');
	if (b->alloc)
		assert_true(b->len < b->alloc);
	else
		assert_int_equal(b->len, 0);
}

/* ---- the byte buffer ----------------------------------------------------- */

static void test_a_new_buffer_is_an_empty_string_with_nothing_allocated(void **state)
{
	(void)state;
	struct buf a = BUF_INIT, b;
	buf_init(&b);
	assert_string_equal(a.data, "");
	assert_int_equal(a.alloc, 0);
	assert_invariants(&a);
	assert_string_equal(b.data, "");
	assert_int_equal(b.alloc, 0);
	assert_invariants(&b);
	buf_release(&a);
	buf_release(&b);
	assert_invariants(&a);
}

/* Appends of every size from 0 to 300 bytes, NUL bytes among them, against
 * the same bytes kept by hand. */
static void test_appends_keep_every_byte_and_a_nul_after_them(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	char chunk[300], *expected = malloc(300 * 301 / 2 + 1);
	size_t total = 0;
	assert_non_null(expected);
	for (size_t n = 0; n < sizeof chunk; n++) {
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)((n * 7 + i) % 256);
		assert_int_equal(buf_add(&b, chunk, n), 0);
		memcpy(expected + total, chunk, n);
		total += n;
		assert_int_equal(b.len, total);
		assert_invariants(&b);
	}
	assert_memory_equal(b.data, expected, total);
	buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_invariants(&b);
	free(expected);
}

/* n one-byte appends reallocate O(log n) times, not n times. */
static void test_capacity_at_least_doubles_as_it_grows(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	size_t changes = 0, alloc = 0;
	for (size_t i = 0; i < 1000000; i++) {
		assert_int_equal(buf_add(&b, "x", 1), 0);
		if (b.alloc != alloc) {
			assert_true(alloc == 0 || b.alloc >= 2 * alloc);
			alloc = b.alloc;
			changes++;
		}
	}
	assert_true(changes <= 20);
	assert_int_equal(strspn(b.data, "x"), 1000000);
	buf_release(&b);
}

/* The way a reader fills a buffer: room first, bytes written into it, then
 * the length set. */
static void test_grow_makes_room_that_setlen_takes_in(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_add(&b, "head:", 5), 0);
	assert_int_equal(buf_grow(&b, 1000), 0);
	assert_true(b.alloc - b.len - 1 >= 1000);
	memset(b.data + b.len, 'z', 1000);
	buf_setlen(&b, b.len + 1000);
	assert_int_equal(b.len, 1005);
	assert_memory_equal(b.data, "head:zz", 7);
	assert_invariants(&b);
	/* Room already there: nothing moves. */
	char *before = b.data;
	size_t alloc = b.alloc;
	assert_int_equal(buf_grow(&b, b.alloc - b.len - 1), 0);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.alloc, alloc);
	buf_release(&b);
}

static void test_setlen_truncates_and_never_goes_past_the_allocation(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_add(&b, "hello world", 11), 0);
	buf_setlen(&b, 5);
	assert_string_equal(b.data, "hello");
	buf_setlen(&b, b.alloc + 100);
	assert_int_equal(b.len, b.alloc - 1);
	assert_invariants(&b);
	buf_release(&b);
	/* Nothing allocated: nothing to take in. */
	buf_setlen(&b, 10);
	assert_int_equal(b.len, 0);
	assert_invariants(&b);
}

static void test_reset_empties_and_keeps_the_allocation(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_add(&b, "some text", 9), 0);
	char *data = b.data;
	size_t alloc = b.alloc;
	buf_reset(&b);
	assert_string_equal(b.data, "");
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.alloc, alloc);
	assert_int_equal(buf_add(&b, "again", 5), 0);
	assert_string_equal(b.data, "again");
	buf_release(&b);
	buf_reset(&b); /* unallocated: still fine */
	assert_invariants(&b);
}

static void test_detach_hands_over_the_string_and_empties_the_buffer(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	size_t len = 99;
	assert_int_equal(buf_add(&b, "a\0b", 3), 0);
	char *s = buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_invariants(&b);
	free(s);
	/* Nothing allocated: a new empty string, the caller's to free. */
	s = buf_detach(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	assert_true(s != buf_empty);
	free(s);
	s = buf_detach(&b, NULL);
	assert_string_equal(s, "");
	free(s);
}

/* A struct buf inside a calloc'd struct works without buf_init(). */
static void test_a_zeroed_buffer_is_an_empty_buffer(void **state)
{
	(void)state;
	struct buf *b = calloc(1, sizeof *b);
	assert_non_null(b);
	buf_reset(b);
	buf_setlen(b, 3);
	assert_int_equal(b->len, 0);
	assert_int_equal(buf_add(b, "first", 5), 0);
	assert_string_equal(b->data, "first");
	assert_invariants(b);
	buf_release(b);
	assert_invariants(b);

	memset(b, 0, sizeof *b);
	char *s = buf_detach(b, NULL);
	assert_string_equal(s, "");
	free(s);
	memset(b, 0, sizeof *b);
	buf_release(b);
	assert_invariants(b);
	free(b);
}

/* Growth that cannot be had: past SIZE_MAX (refused before any allocation),
 * or more memory than any machine has. */
static void test_growth_that_cannot_be_had_fails_leaving_the_buffer(void **state)
{
	(void)state;
	static const size_t extras[] = {SIZE_MAX - 2, SIZE_MAX, SIZE_MAX / 2};
	struct buf b = BUF_INIT, empty = BUF_INIT;
	assert_int_equal(buf_add(&b, "kept", 4), 0);
	struct buf before = b;
	for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
		errno = 0;
		assert_int_equal(buf_grow(&b, extras[i]), -1);
		assert_int_equal(errno, ENOMEM);
		errno = 0;
		assert_int_equal(buf_add(&b, "x", extras[i]), -1);
		assert_int_equal(errno, ENOMEM);
		assert_ptr_equal(b.data, before.data);
		assert_int_equal(b.len, before.len);
		assert_int_equal(b.alloc, before.alloc);
		assert_string_equal(b.data, "kept");
		/* Nor does an unallocated buffer change. */
		assert_int_equal(buf_grow(&empty, extras[i]), -1);
		assert_int_equal(empty.alloc, 0);
		assert_invariants(&empty);
	}
	buf_release(&b);
}

static void test_release_keeps_errno_for_the_way_out_of_a_failure(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_add(&b, "text", 4), 0);
	errno = EIO;
	buf_release(&b);
	assert_int_equal(errno, EIO);
}

/* ---- arrays -------------------------------------------------------------- */

struct point {
	int64_t x, y;
};

static void test_array_grows_to_at_least_need_keeping_its_elements(void **state)
{
	(void)state;
	struct point *pts = NULL;
	size_t n = 0, cap = 0;
	for (int64_t i = 0; i < 10000; i++) {
		assert_int_equal(BUF_ARRAY_GROW(pts, n + 1, cap), 0);
		assert_true(cap >= n + 1);
		pts[n++] = (struct point){i, -i};
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pts[i].x, (int64_t)i);
		assert_int_equal(pts[i].y, -(int64_t)i);
	}
	/* A jump: straight to need. */
	assert_int_equal(BUF_ARRAY_GROW(pts, cap * 5, cap), 0);
	assert_true(cap >= 50000);
	assert_int_equal(pts[9999].x, 9999);
	free(pts);
}

static void test_array_with_room_is_left_alone(void **state)
{
	(void)state;
	int *a = NULL;
	size_t cap = 0;
	assert_int_equal(BUF_ARRAY_GROW(a, 3, cap), 0);
	int *before = a;
	size_t cap_before = cap;
	assert_int_equal(BUF_ARRAY_GROW(a, cap, cap), 0);
	assert_ptr_equal(a, before);
	assert_int_equal(cap, cap_before);
	free(a);
}

static void test_array_capacity_at_least_doubles(void **state)
{
	(void)state;
	uint64_t *keys = NULL;
	size_t cap = 0, changes = 0, last = 0;
	for (size_t n = 0; n < 1000000; n++) {
		assert_int_equal(BUF_ARRAY_GROW(keys, n + 1, cap), 0);
		keys[n] = n;
		if (cap != last) {
			assert_true(last == 0 || cap >= 2 * last);
			last = cap;
			changes++;
		}
	}
	assert_true(changes <= 20);
	free(keys);
}

/* Requests that cannot be had: need * element size past SIZE_MAX (refused
 * before any allocation), or more memory than any machine has. */
static void test_array_growth_that_cannot_be_had_fails_leaving_the_array(void **state)
{
	(void)state;
	static const size_t needs[] = {SIZE_MAX / 4, SIZE_MAX, SIZE_MAX / 16};
	uint64_t *a = NULL;
	size_t cap = 0;
	assert_int_equal(BUF_ARRAY_GROW(a, 4, cap), 0);
	for (size_t i = 0; i < 4; i++)
		a[i] = 100 + i;
	uint64_t *before = a;
	size_t cap_before = cap;
	for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
		errno = 0;
		assert_int_equal(BUF_ARRAY_GROW(a, needs[i], cap), -1);
		assert_int_equal(errno, ENOMEM);
		assert_ptr_equal(a, before);
		assert_int_equal(cap, cap_before);
		assert_int_equal(a[3], 103);
	}
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_new_buffer_is_an_empty_string_with_nothing_allocated),
	    cmocka_unit_test(test_appends_keep_every_byte_and_a_nul_after_them),
	    cmocka_unit_test(test_capacity_at_least_doubles_as_it_grows),
	    cmocka_unit_test(test_grow_makes_room_that_setlen_takes_in),
	    cmocka_unit_test(test_setlen_truncates_and_never_goes_past_the_allocation),
	    cmocka_unit_test(test_reset_empties_and_keeps_the_allocation),
	    cmocka_unit_test(test_detach_hands_over_the_string_and_empties_the_buffer),
	    cmocka_unit_test(test_a_zeroed_buffer_is_an_empty_buffer),
	    cmocka_unit_test(test_growth_that_cannot_be_had_fails_leaving_the_buffer),
	    cmocka_unit_test(test_release_keeps_errno_for_the_way_out_of_a_failure),
	    cmocka_unit_test(test_array_grows_to_at_least_need_keeping_its_elements),
	    cmocka_unit_test(test_array_with_room_is_left_alone),
	    cmocka_unit_test(test_array_capacity_at_least_doubles),
	    cmocka_unit_test(test_array_growth_that_cannot_be_had_fails_leaving_the_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
