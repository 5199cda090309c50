#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/store/framelog.h"
#include "jobs/live/short_term.h"

/*
 * Each test gets a fresh folder with an outcome frame log, the short-term
 * job for a profile, its counters and a batch. Rows are written with single
 * quotes for readability and turned into JSON by apply().
 */
struct fixture {
	char dir[64];
	char outcomes_path[128];
	struct profile profile;
	struct short_term *job;
	struct framelog *log;
	struct state_counters count;
	struct short_term_batch batch;
	uint64_t offset; /* of the next line, as a follower would give it */
	int hook_calls;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_with(void **state, const char *profile)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct err err;
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_short_term.XXXXXX");
	if (!mkdtemp(fx->dir) || profile_builtin(&fx->profile, profile, NULL))
		return -1;
	snprintf(fx->outcomes_path, sizeof(fx->outcomes_path), "%s/trade_outcomes.jsonl.zst",
		 fx->dir);
	fx->log = framelog_new(fx->outcomes_path, 0, &err);
	fx->job = short_term_new(&fx->profile, NULL, NULL);
	if (!fx->log || !fx->job)
		return -1;
	fx->count.last_record_ts = CALENDAR_NONE;
	fx->batch.outcomes = fx->log;
	*state = fx;
	return calendar_set_zone("America/New_York");
}

static int setup_canonical(void **state)
{
	return setup_with(state, "canonical");
}

static int setup_stock_bot(void **state)
{
	return setup_with(state, "stock-bot");
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	short_term_batch_release(&fx->batch);
	framelog_free(fx->log);
	short_term_free(fx->job);
	profile_release(&fx->profile);
	int rc = nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

static void apply_line(struct fixture *fx, enum follow_kind kind, enum profile_source_id source,
		       const char *row)
{
	char *text = strdup(row);
	assert_non_null(text);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	struct follow_line line = {
	    .kind = kind,
	    .source = source,
	    .data = kind == FOLLOW_LINE ? text : NULL,
	    .len = strlen(text),
	    .path = "/logs/attribution.jsonl",
	    .offset = fx->offset,
	};
	assert_int_equal(short_term_apply(fx->job, &line, &fx->count, &fx->batch, NULL), 0);
	fx->offset += strlen(text) + 1;
	free(text);
}

static void apply(struct fixture *fx, const char *row)
{
	apply_line(fx, FOLLOW_LINE, PROFILE_SOURCE_ATTRIBUTION, row);
}

/* Flushes the batch's outcomes and reads back every line of the log. */
struct lines {
	size_t n;
	char *line[16];
};

static int collect(void *ctx, const char *line, size_t len)
{
	struct lines *l = ctx;
	assert_true(l->n < 16);
	l->line[l->n] = strndup(line, len);
	l->n++;
	return 0;
}

static void read_outcomes(struct fixture *fx, struct lines *out)
{
	struct err err;
	uint64_t valid;
	memset(out, 0, sizeof(*out));
	assert_int_equal(framelog_flush(fx->log, &err), 0);
	long n = framelog_read(fx->outcomes_path, UINT64_MAX, collect, out, &valid, &err);
	assert_int_equal(n, (long)out->n);
	assert_int_equal(valid, framelog_length(fx->log));
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
}

#define OPEN_T1                                                                                    \
	"{'event':'open','trade_id':'T1','symbol':'AAPL','side':'long',"                           \
	"'ts':'2026-02-05T14:31:54Z','entry_price':100,'qty':10}"
#define CLOSE_T1                                                                                   \
	"{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"                          \
	"'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':101,'qty':10,"                 \
	"'pnl_usd':10,'close_reason':'take_profit(1%)'}"

static void test_open_then_close_records_one_outcome_and_closes_the_position(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	json_error_t jerr;

	apply(fx, OPEN_T1);
	assert_int_equal(short_term_open_count(fx->job), 1);
	assert_int_equal(framelog_pending(fx->log), 0);
	apply(fx, CLOSE_T1);
	assert_int_equal(short_term_open_count(fx->job), 0);
	assert_int_equal(framelog_pending(fx->log), 1);

	read_outcomes(fx, &out);
	assert_int_equal(out.n, 1);
	json_t *o = json_loads(out.line[0], 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "trade_id")), "T1");
	assert_string_equal(json_string_value(json_object_get(o, "symbol")), "AAPL");
	assert_string_equal(json_string_value(json_object_get(o, "close_reason")), "take_profit");
	assert_true(json_real_value(json_object_get(o, "pnl_usd")) == 10.0);
	json_decref(o);
	free_lines(&out);

	assert_int_equal(fx->count.read, 2);
	assert_int_equal(fx->count.learned, 2);
	assert_int_equal(fx->count.trades, 1);
	assert_int_equal(fx->count.quarantined, 0);
	assert_int_equal(fx->count.skipped, 0);
	assert_string_equal(fx->count.last_record_id, "T1");
	int64_t close_ts;
	assert_int_equal(calendar_parse_iso("2026-02-05T15:00:00Z", &close_ts), 0);
	assert_int_equal(fx->count.last_record_ts, close_ts);
	/* The new trade key, for the trade-key log. */
	assert_int_equal(fx->batch.n_keys, 1);
	assert_int_equal(fx->batch.keys[0], short_term_key_hash("T1"));
	assert_int_equal(fx->batch.quarantine.len, 0);
}

static void test_same_close_twice_is_a_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	apply(fx, OPEN_T1);
	apply(fx, CLOSE_T1);
	apply(fx, CLOSE_T1);
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 1);
	free_lines(&out);
	assert_int_equal(fx->count.trades, 1);
	assert_int_equal(fx->count.duplicates, 1);
	assert_int_equal(fx->count.skipped, 1);
	assert_int_equal(fx->batch.n_keys, 1);
}

/* Keys recorded by an earlier run (from the trade-key log) count too. */
static void test_close_recorded_by_an_earlier_run_is_a_duplicate(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(short_term_add_key(fx->job, short_term_key_hash("T1"), NULL), 0);
	apply(fx, CLOSE_T1);
	assert_int_equal(framelog_pending(fx->log), 0);
	assert_int_equal(fx->count.duplicates, 1);
	assert_int_equal(fx->count.trades, 0);
}

static void test_opens_never_produce_outcomes(void **state)
{
	struct fixture *fx = *state;
	apply(fx, OPEN_T1);
	apply(fx, "{'event':'open','trade_id':'T2','symbol':'MSFT','side':'short',"
		  "'ts':'2026-02-05T14:40:00Z'}");
	apply(fx, "{'event':'open','trade_id':'T3','symbol':'AAPL','ts':'2026-02-05T14:41:00Z'}");
	assert_int_equal(framelog_pending(fx->log), 0);
	assert_int_equal(fx->count.trades, 0);
	assert_int_equal(fx->count.learned, 3);
	assert_int_equal(fx->batch.n_keys, 0);
	assert_int_equal(short_term_open_count(fx->job), 3);
	assert_string_equal(fx->count.last_record_id, "T3");
}

static void test_partial_close_is_an_outcome_and_leaves_the_position_open(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	apply(fx, OPEN_T1);
	apply(fx, "{'event':'scale','trade_id':'T1','symbol':'AAPL','side':'long',"
		  "'ts':'2026-02-05T14:45:00Z','pnl_usd':3,'fraction':0.5}");
	assert_int_equal(short_term_open_count(fx->job), 1);
	apply(fx, CLOSE_T1);
	assert_int_equal(short_term_open_count(fx->job), 0);
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 2);
	assert_non_null(strstr(out.line[0], "\"trade_id\":\"T1|2026-02-05T14:45:00Z\""));
	assert_non_null(strstr(out.line[0], "\"partial\":0.5"));
	assert_non_null(strstr(out.line[1], "\"trade_id\":\"T1\""));
	free_lines(&out);
	assert_int_equal(fx->count.trades, 2);
}

/* A close whose open came before tradelearn started is still a trade. */
static void test_close_without_open_is_still_a_trade(void **state)
{
	struct fixture *fx = *state;
	apply(fx, CLOSE_T1);
	assert_int_equal(fx->count.trades, 1);
	assert_int_equal(framelog_pending(fx->log), 1);
	assert_int_equal(short_term_open_count(fx->job), 0);
}

static void test_malformed_line_is_quarantined_with_where_and_why(void **state)
{
	struct fixture *fx = *state;
	json_error_t jerr;

	fx->offset = 4242;
	apply(fx, "{'event': 'close', oops");
	assert_int_equal(fx->count.quarantined, 1);
	assert_int_equal(fx->count.read, 1);
	assert_int_equal(framelog_pending(fx->log), 0);
	assert_true(fx->batch.quarantine.len > 0);
	assert_int_equal(fx->batch.quarantine.data[fx->batch.quarantine.len - 1], '\n');
	assert_null(memchr(fx->batch.quarantine.data, '\n', fx->batch.quarantine.len - 1));

	json_t *q = json_loadb(fx->batch.quarantine.data, fx->batch.quarantine.len, 0, &jerr);
	assert_non_null(q);
	assert_string_equal(json_string_value(json_object_get(q, "source")), "attribution");
	assert_string_equal(json_string_value(json_object_get(q, "file")),
			    "/logs/attribution.jsonl");
	assert_int_equal(json_integer_value(json_object_get(q, "offset")), 4242);
	assert_string_equal(json_string_value(json_object_get(q, "reason")), "not_json");
	assert_string_equal(json_string_value(json_object_get(q, "line")),
			    "{\"event\": \"close\", oops");
	assert_true(json_is_string(json_object_get(q, "detail")));
	assert_true(json_is_string(json_object_get(q, "quarantined_at")));
	json_decref(q);
}

/* One quarantine line per refused row, each with its own reason. */
static void test_quarantine_reasons_table(void **state)
{
	static const struct {
		const char *row;
		const char *reason;
	} cases[] = {
	    {"not json", "not_json"},
	    {"[1,2]", "not_object"},
	    {"{'event':'close','trade_id':'T1','ts':'2026-02-05T15:00:00Z','pnl_usd':1}",
	     "missing_field"},
	    {"{'event':'close','trade_id':'T1','symbol':'A','ts':'yesterday','pnl_usd':1}",
	     "bad_value"},
	};
	struct fixture *fx = *state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		apply(fx, cases[i].row);
	assert_int_equal(fx->count.quarantined, 4);

	char *text = strndup(fx->batch.quarantine.data, fx->batch.quarantine.len);
	char *save = NULL;
	size_t i = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t jerr;
		json_t *q = json_loads(line, 0, &jerr);
		assert_non_null(q);
		assert_true(i < 4);
		assert_string_equal(json_string_value(json_object_get(q, "reason")),
				    cases[i].reason);
		json_decref(q);
		i++;
	}
	assert_int_equal(i, 4);
	free(text);

	/* A reset batch starts empty again. */
	short_term_batch_reset(&fx->batch);
	assert_int_equal(fx->batch.quarantine.len, 0);
	assert_int_equal(fx->batch.n_keys, 0);
}

/* A line that is not UTF-8 still makes a valid JSON quarantine line. */
static void test_quarantine_of_invalid_utf8_is_valid_json(void **state)
{
	struct fixture *fx = *state;
	json_error_t jerr;
	apply(fx, "\xff\xfe garbage \xc3");
	json_t *q = json_loadb(fx->batch.quarantine.data, fx->batch.quarantine.len, 0, &jerr);
	assert_non_null(q);
	assert_string_equal(json_string_value(json_object_get(q, "line")), "?? garbage ?");
	assert_string_equal(json_string_value(json_object_get(q, "reason")), "not_json");
	assert_true(json_is_string(json_object_get(q, "detail")));
	json_decref(q);
}

static void test_long_lines_and_tails_are_counted_and_skipped(void **state)
{
	struct fixture *fx = *state;
	apply_line(fx, FOLLOW_LONG, PROFILE_SOURCE_ATTRIBUTION,
		   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	apply_line(fx, FOLLOW_LONG, PROFILE_SOURCE_ATTRIBUTION, "yyyy");
	apply_line(fx, FOLLOW_TAIL, PROFILE_SOURCE_ATTRIBUTION, "{'event':'clo");
	assert_int_equal(fx->count.read, 3);
	assert_int_equal(fx->count.long_lines, 2);
	assert_int_equal(fx->count.tails, 1);
	assert_int_equal(fx->count.skipped, 3);
	assert_int_equal(fx->count.quarantined, 0);
	assert_int_equal(fx->count.learned, 0);
	assert_int_equal(fx->batch.quarantine.len, 0);
	assert_int_equal(framelog_pending(fx->log), 0);
}

static void test_ignored_rows_are_counted_and_skipped(void **state)
{
	struct fixture *fx = *state;
	apply(fx, "{'event':'heartbeat','ts':'2026-02-05T15:00:00Z'}");
	apply_line(fx, FOLLOW_LINE, PROFILE_SOURCE_EXIT,
		   "{'event':'heartbeat','ts':'2026-02-05T15:00:00Z'}");
	assert_int_equal(fx->count.ignored, 2);
	assert_int_equal(fx->count.skipped, 2);
	assert_int_equal(fx->count.learned, 0);
}

static void test_other_sources_are_learned_not_traded(void **state)
{
	struct fixture *fx = *state;
	apply_line(fx, FOLLOW_LINE, PROFILE_SOURCE_EXIT,
		   "{'trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z','pnl_usd':1}");
	apply_line(fx, FOLLOW_LINE, PROFILE_SOURCE_SIGNALS,
		   "{'signal_id':'s1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z'}");
	apply_line(fx, FOLLOW_LINE, PROFILE_SOURCE_ORDERS,
		   "{'order_id':'o1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z'}");
	assert_int_equal(fx->count.learned, 3);
	assert_int_equal(fx->count.trades, 0);
	assert_int_equal(framelog_pending(fx->log), 0);
	assert_string_equal(fx->count.last_record_id, "o1");
}

static void count_hook(void *ctx, const struct record *r)
{
	struct fixture *fx = ctx;
	assert_true(r->kind == PROFILE_KIND_CLOSE || r->kind == PROFILE_KIND_PARTIAL);
	fx->hook_calls++;
}

static void test_outcome_hook_and_sign_mismatch_counter(void **state)
{
	struct fixture *fx = *state;
	fx->batch.on_outcome = count_hook;
	fx->batch.hook_ctx = fx;
	apply(fx, OPEN_T1);
	apply(fx,
	      "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"
	      "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':99,'qty':1,'pnl_usd':1}");
	apply(fx,
	      "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"
	      "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':99,'qty':1,'pnl_usd':1}");
	assert_int_equal(fx->hook_calls, 1);
	assert_int_equal(fx->count.sign_mismatch, 1);
}

static void test_save_load_round_trip_of_open_positions(void **state)
{
	struct fixture *fx = *state;
	apply(fx, OPEN_T1);
	apply(fx, "{'event':'open','trade_id':'T2','symbol':'MSFT','side':'short',"
		  "'ts':'2026-02-05T14:40:00Z'}");
	apply(fx, "{'event':'open','trade_id':'T3','symbol':'NVDA','ts':'2026-02-05T14:41:00Z',"
		  "'entry_price':'50.25','qty':3}");
	json_t *saved = short_term_save(fx->job, NULL);
	assert_int_equal(json_array_size(json_object_get(saved, "open_positions")), 3);

	struct short_term *again = short_term_new(&fx->profile, NULL, NULL);
	assert_int_equal(short_term_load(again, saved, NULL), 0);
	assert_int_equal(short_term_open_count(again), 3);
	json_t *resaved = short_term_save(again, NULL);
	assert_true(json_equal(saved, resaved));

	/* The positions view agrees. */
	int64_t now;
	assert_int_equal(calendar_parse_iso("2026-02-05T16:31:54Z", &now), 0);
	json_t *view = short_term_positions(again, now);
	assert_int_equal(json_array_size(view), 3);
	json_t *first = json_array_get(view, 0);
	assert_string_equal(json_string_value(json_object_get(first, "id")), "T1");
	assert_string_equal(json_string_value(json_object_get(first, "side")), "long");
	assert_string_equal(json_string_value(json_object_get(first, "opened_at")),
			    "2026-02-05T14:31:54.000000Z");
	assert_true(fabs(json_real_value(json_object_get(first, "age_hours")) - 2.0) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(json_array_get(view, 1), "side")),
			    "short");
	assert_string_equal(json_string_value(json_object_get(json_array_get(view, 2), "side")),
			    "unknown");

	/* A loaded position is closed by its close, like one opened here. */
	struct short_term_batch batch = {.outcomes = fx->log};
	char close[] = "{\"event\":\"close\",\"trade_id\":\"T2\",\"symbol\":\"MSFT\","
		       "\"ts\":\"2026-02-05T15:00:00Z\",\"pnl_usd\":-1}";
	struct follow_line line = {.kind = FOLLOW_LINE,
				   .source = PROFILE_SOURCE_ATTRIBUTION,
				   .data = close,
				   .len = strlen(close),
				   .path = "x"};
	assert_int_equal(short_term_apply(again, &line, &fx->count, &batch, NULL), 0);
	assert_int_equal(short_term_open_count(again), 2);

	short_term_batch_release(&batch);
	json_decref(view);
	json_decref(resaved);
	json_decref(saved);
	short_term_free(again);
}

static void test_load_refuses_what_save_did_not_write(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
	    "{}",
	    "{\"open_positions\": {}}",
	    "{\"open_positions\": [{\"symbol\": \"A\"}]}",
	    "{\"open_positions\": [{\"id\": \"T1\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t jerr;
		json_t *j = json_loads(bad[i], 0, &jerr);
		struct short_term *job = short_term_new(&fx->profile, NULL, NULL);
		struct err err = {0};
		assert_int_equal(short_term_load(job, j, &err), -1);
		assert_non_null(strstr(err.msg, "open_positions"));
		short_term_free(job);
		json_decref(j);
	}
	short_term_free(NULL);
}

/* stock-bot links a close to its open by symbol (its trade_ids differ). */
static void test_stock_bot_close_links_to_open_by_symbol(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	apply(fx,
	      "{'ts':'2026-02-05T14:35:02.509748+00:00','trade_id':'open_BA_2026-02-05T14:35:02',"
	      "'symbol':'BA','pnl_usd':0.0,'context':{'position_side':'short','requested_qty':1}}");
	apply(fx, "{'ts':'2026-02-05T14:36:00+00:00','trade_id':'open_GM_2026-02-05T14:36:00',"
		  "'symbol':'GM','pnl_usd':0.0,'context':{'position_side':'short'}}");
	assert_int_equal(short_term_open_count(fx->job), 2);
	apply(fx,
	      "{'ts':'2026-02-05T14:36:10.884591+00:00','trade_id':'close_BA_2026-02-05T14:36:10',"
	      "'symbol':'BA','pnl_usd':-0.23,'pnl_pct':-0.0978,'context':{'close_reason':"
	      "'signal_decay(0.23)','entry_price':235.07,'exit_price':235.3,'pnl_pct':-0.0978,"
	      "'position_side':'short','qty':1,'entry_ts':'2026-02-05T14:35:02.509748+00:00'}}");
	assert_int_equal(short_term_open_count(fx->job), 1);
	json_t *left = short_term_positions(fx->job, calendar_now());
	assert_string_equal(json_string_value(json_object_get(json_array_get(left, 0), "symbol")),
			    "GM");
	json_decref(left);
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 1);
	assert_non_null(strstr(out.line[0], "\"pnl_frac\":-0.000978"));
	assert_non_null(strstr(out.line[0], "\"close_reason\":\"signal_decay\""));
	free_lines(&out);
}

/* A close that does not repeat its entry takes it from its open: the entry
 * fields, and the time of day and day of week of the entry, not the exit. */
static void test_close_takes_the_entry_fields_of_its_open(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	json_error_t jerr;
	apply(fx, "{'event':'open','trade_id':'T9','symbol':'AAPL','side':'short',"
		  "'ts':'2026-02-05T14:35:00Z','entry_price':100,'confidence':0.7,'score':3.5,"
		  "'regime':'trending','sector':'tech','timeframe':'5m',"
		  "'components':{'momentum':0.4,'volume':-0.2}}");
	apply(fx, "{'event':'close','trade_id':'T9','symbol':'AAPL','ts':'2026-02-06T19:30:00Z',"
		  "'exit_price':99,'qty':2,'pnl_usd':2}");
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 1);
	json_t *o = json_loads(out.line[0], 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "side")), "short");
	assert_string_equal(json_string_value(json_object_get(o, "entry_ts")),
			    "2026-02-05T14:35:00.000000Z");
	assert_true(json_real_value(json_object_get(o, "entry_price")) == 100.0);
	assert_true(json_real_value(json_object_get(o, "confidence")) == 0.7);
	assert_true(json_real_value(json_object_get(o, "score")) == 3.5);
	assert_string_equal(json_string_value(json_object_get(o, "regime")), "trending");
	assert_string_equal(json_string_value(json_object_get(o, "sector")), "tech");
	assert_string_equal(json_string_value(json_object_get(o, "timeframe")), "5m");
	assert_true(
	    json_real_value(json_object_get(json_object_get(o, "components"), "momentum")) == 0.4);
	/* 09:35 New York on a Thursday; the exit was Friday afternoon. */
	assert_string_equal(json_string_value(json_object_get(o, "time_of_day")), "open");
	assert_string_equal(json_string_value(json_object_get(o, "day_of_week")), "thursday");
	/* Derived from the entry it took: the hold and the P&L fraction. */
	assert_true(fabs(json_real_value(json_object_get(o, "hold_minutes")) - 1735.0) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(o, "pnl_frac")) - 0.01) < 1e-12);
	json_decref(o);
	free_lines(&out);
}

/* What a close carries itself wins over its open; a partial close takes the
 * entry too and leaves the position (and its entry) for the rest. */
static void test_close_fields_win_and_partials_take_the_entry_too(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	json_error_t jerr;
	apply(fx, "{'event':'open','trade_id':'T9','symbol':'AAPL','side':'long',"
		  "'ts':'2026-02-05T14:35:00Z','entry_price':100,'regime':'trending'}");
	apply(fx, "{'event':'scale','trade_id':'T9','symbol':'AAPL','ts':'2026-02-05T15:00:00Z',"
		  "'fraction':0.5,'pnl_usd':1}");
	apply(fx, "{'event':'close','trade_id':'T9','symbol':'AAPL','ts':'2026-02-05T16:00:00Z',"
		  "'regime':'choppy','entry_price':101,'pnl_usd':1}");
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 2);
	json_t *partial = json_loads(out.line[0], 0, &jerr),
	       *full = json_loads(out.line[1], 0, &jerr);
	assert_string_equal(json_string_value(json_object_get(partial, "regime")), "trending");
	assert_string_equal(json_string_value(json_object_get(partial, "side")), "long");
	assert_true(json_real_value(json_object_get(partial, "entry_price")) == 100.0);
	assert_string_equal(json_string_value(json_object_get(full, "regime")), "choppy");
	assert_true(json_real_value(json_object_get(full, "entry_price")) == 101.0);
	assert_string_equal(json_string_value(json_object_get(full, "entry_ts")),
			    "2026-02-05T14:35:00.000000Z");
	json_decref(partial);
	json_decref(full);
	free_lines(&out);
}

/* The entry of an open survives save and load (a restart between the open
 * and its close). */
static void test_entry_fields_of_an_open_survive_a_restart(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	apply(fx, "{'event':'open','trade_id':'T9','symbol':'AAPL','side':'long',"
		  "'ts':'2026-02-05T14:35:00Z','entry_price':100,'confidence':0.7,"
		  "'regime':'trending','components':{'momentum':0.4}}");
	json_t *saved = short_term_save(fx->job, NULL);
	struct short_term *again = short_term_new(&fx->profile, NULL, NULL);
	assert_int_equal(short_term_load(again, saved, NULL), 0);
	json_t *resaved = short_term_save(again, NULL);
	assert_true(json_equal(saved, resaved));
	short_term_free(fx->job);
	fx->job = again;
	apply(fx, "{'event':'close','trade_id':'T9','symbol':'AAPL','ts':'2026-02-05T15:00:00Z',"
		  "'pnl_usd':1}");
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 1);
	assert_non_null(strstr(out.line[0], "\"regime\":\"trending\""));
	assert_non_null(strstr(out.line[0], "\"components\":{\"momentum\":0.4"));
	assert_non_null(strstr(out.line[0], "\"entry_ts\":\"2026-02-05T14:35:00.000000Z\""));
	assert_non_null(strstr(out.line[0], "\"confidence\":0.7"));
	free_lines(&out);
	json_decref(resaved);
	json_decref(saved);
}

/* The tracked opens are bounded: one more than the cap lets the oldest go,
 * whose close is then a trade with only its own fields. */
static void test_open_positions_are_capped_oldest_let_go(void **state)
{
	struct fixture *fx = *state;
	struct lines out;
	char row[256];
	for (int i = 0; i <= SHORT_TERM_MAX_OPEN; i++) {
		snprintf(row, sizeof row,
			 "{'event':'open','trade_id':'P%d','symbol':'S%d','side':'long',"
			 "'ts':%d,'regime':'r%d'}",
			 i, i, 1770300000 + i, i);
		apply(fx, row);
	}
	assert_int_equal(short_term_open_count(fx->job), SHORT_TERM_MAX_OPEN);
	apply(fx, "{'event':'close','trade_id':'P0','symbol':'S0','ts':1770400000,'pnl_usd':1}");
	apply(fx, "{'event':'close','trade_id':'P1','symbol':'S1','ts':1770400000,'pnl_usd':1}");
	assert_int_equal(short_term_open_count(fx->job), SHORT_TERM_MAX_OPEN - 1);
	read_outcomes(fx, &out);
	assert_int_equal(out.n, 2);
	assert_non_null(strstr(out.line[0], "\"regime\":null"));
	assert_non_null(strstr(out.line[1], "\"regime\":\"r1\""));
	free_lines(&out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_canonical, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_open_then_close_records_one_outcome_and_closes_the_position),
	    T(test_same_close_twice_is_a_duplicate),
	    T(test_close_takes_the_entry_fields_of_its_open),
	    T(test_close_fields_win_and_partials_take_the_entry_too),
	    T(test_entry_fields_of_an_open_survive_a_restart),
	    T(test_open_positions_are_capped_oldest_let_go),
	    T(test_close_recorded_by_an_earlier_run_is_a_duplicate),
	    T(test_opens_never_produce_outcomes),
	    T(test_partial_close_is_an_outcome_and_leaves_the_position_open),
	    T(test_close_without_open_is_still_a_trade),
	    T(test_malformed_line_is_quarantined_with_where_and_why),
	    T(test_quarantine_reasons_table),
	    T(test_quarantine_of_invalid_utf8_is_valid_json),
	    T(test_long_lines_and_tails_are_counted_and_skipped),
	    T(test_ignored_rows_are_counted_and_skipped),
	    T(test_other_sources_are_learned_not_traded),
	    T(test_outcome_hook_and_sign_mismatch_counter),
	    T(test_save_load_round_trip_of_open_positions),
	    T(test_load_refuses_what_save_did_not_write),
	    cmocka_unit_test_setup_teardown(test_stock_bot_close_links_to_open_by_symbol,
					    setup_stock_bot, teardown),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
