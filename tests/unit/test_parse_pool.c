#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/base/calendar.h"
#include "lib/ingest/profile.h"
#include "lib/store/framelog.h"
#include "jobs/live/parse_pool.h"
#include "jobs/live/short_term.h"

/* A bot whose opens carry a category its closes lack: a close takes the
 * open's value (short_term's fill_from_open). */
static const char profile_text[] =
    "{\"pnl_unit\": \"fraction\", \"sources\": {\"attribution\": {\"file\": \"a.jsonl\","
    " \"kind\": {\"pointer\": \"/event\", \"equals\": {\"open\": \"open\", \"close\": \"close\"}},"
    " \"key\": [\"/trade_id\"], \"fields\": {\"trade_id\": \"/trade_id\", \"symbol\": \"/symbol\","
    " \"ts\": \"/ts\", \"side\": \"/side\", \"entry_price\": \"/entry_price\","
    " \"pnl_usd\": \"/pnl_usd\", \"categories\": {\"venue\": \"/venue\"}}}}}";

#define TRADES 400

/* Blocks allocated and not freed, counted by replacing malloc (as glibc
 * allows: every allocation of the process, its libraries' included, comes
 * here). */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
static atomic_long live_blocks;

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	if (p)
		live_blocks++;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);
	if (p)
		live_blocks++;
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = __libc_realloc(p, n);
	if (!p && q)
		live_blocks++;
	else if (p && n == 0)
		live_blocks--;
	return q;
}

void free(void *p)
{
	if (p)
		live_blocks--;
	__libc_free(p);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Opens and closes TRADES trades through a stream of a parse pool of jobs
 * threads into a short-term job, then frees everything. */
static void trade_through_a_pool(const struct profile *p, int jobs)
{
	char dir[] = "/tmp/test_parse_pool.XXXXXX", path[128], row[256];
	struct err err;
	struct state_counters count = {.last_record_ts = CALENDAR_NONE};
	struct short_term_batch batch = {0};
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/trade_outcomes.jsonl.zst", dir);
	struct framelog *log = framelog_new(path, 0, &err);
	struct short_term *st = short_term_new(p, NULL, &err);
	struct parse_pool *pool = parse_pool_new(p, jobs, &err);
	assert_non_null(log);
	assert_non_null(st);
	assert_non_null(pool);
	batch.outcomes = log;
	for (int i = 0; i < 2 * TRADES; i++) {
		int t = i / 2;
		if (i % 2 == 0)
			snprintf(row, sizeof row,
				 "{\"event\": \"open\", \"trade_id\": \"t%d\", \"symbol\": \"S\", "
				 "\"ts\": \"2026-01-05T15:%02d:%02dZ\", \"side\": \"long\", "
				 "\"entry_price\": 10, \"venue\": \"venue-%d\"}",
				 t, t / 60 % 60, t % 60, t);
		else
			snprintf(row, sizeof row,
				 "{\"event\": \"close\", \"trade_id\": \"t%d\", \"symbol\": \"S\", "
				 "\"ts\": \"2026-01-05T16:%02d:%02dZ\", \"pnl_usd\": 1.5}",
				 t, t / 60 % 60, t % 60);
		struct follow_line line = {.kind = FOLLOW_LINE,
					   .source = PROFILE_SOURCE_ATTRIBUTION,
					   .data = row,
					   .len = strlen(row),
					   .path = "/logs/a.jsonl",
					   .offset = (uint64_t)i * 256};
		while (parse_pool_full(pool))
			assert_int_equal(short_term_apply_parsed(st, parse_pool_take(pool), &count,
								 &batch, &err),
					 0);
		assert_int_equal(parse_pool_add(pool, &line, &err), 0);
	}
	struct short_term_parsed *parsed;
	while ((parsed = parse_pool_take(pool)))
		assert_int_equal(short_term_apply_parsed(st, parsed, &count, &batch, &err), 0);
	assert_int_equal(count.quarantined, 0);
	parse_pool_free(pool);
	short_term_batch_release(&batch);
	short_term_free(st);
	framelog_free(log);
	assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void closes_parsed_by_a_pool_leave_nothing_allocated(int jobs)
{
	struct profile p;
	struct err err;
	json_t *desc = json_loads(profile_text, 0, NULL);
	assert_non_null(desc);
	assert_int_equal(profile_from_json(&p, "bot", desc, &err), 0);
	json_decref(desc);
	trade_through_a_pool(&p, jobs); /* the first time, what is made once */
	long before = live_blocks;
	trade_through_a_pool(&p, jobs);
	long after = live_blocks;
	profile_release(&p);
	/* A reference kept per close would hold TRADES category values. */
	if (after > before)
		fail_msg("%ld blocks more in use after %d trades through a pool of %d jobs",
			 after - before, TRADES, jobs);
}

static void test_closes_taking_an_open_category_leak_nothing_through_a_stream(void **state)
{
	(void)state;
	closes_parsed_by_a_pool_leave_nothing_allocated(1);
}

static void test_closes_taking_an_open_category_leak_nothing_through_threads(void **state)
{
	(void)state;
	closes_parsed_by_a_pool_leave_nothing_allocated(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_closes_taking_an_open_category_leak_nothing_through_a_stream),
	    cmocka_unit_test(test_closes_taking_an_open_category_leak_nothing_through_threads),
	};
	if (calendar_set_zone("America/New_York"))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
