#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"
#include "lib/store/outcome.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"

/*
 * Rows in the tables are written with single quotes so that they stay
 * readable; unquote() turns them into JSON (no row here contains an
 * apostrophe).
 */
static char *unquote(const char *text)
{
	char *s = strdup(text);
	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static struct profile canonical, stock_bot;

static int load_profiles(void **state)
{
	(void)state;
	if (profile_builtin(&canonical, "canonical", NULL) ||
	    profile_builtin(&stock_bot, "stock-bot", NULL))
		return -1;
	return calendar_set_zone("America/New_York");
}

static int release_profiles(void **state)
{
	(void)state;
	profile_release(&canonical);
	profile_release(&stock_bot);
	return 0;
}

static const struct profile *profile_named(const char *name)
{
	return strcmp(name, "stock-bot") == 0 ? &stock_bot : &canonical;
}

/* Parses one single-quoted row; the caller releases r. */
static enum record_status parse_row(const char *profile, enum profile_source_id source,
				    const char *row, struct record *r, const char **reason)
{
	char detail[256];
	char *line = unquote(row);
	enum record_status st = record_parse(profile_named(profile), source, line, strlen(line), r,
					     reason, detail, sizeof(detail));
	if (st == RECORD_QUARANTINE)
		assert_true(detail[0] != '\0'); /* a person is told what */
	free(line);
	return st;
}

static int same_number(double got, double want)
{
	if (isnan(want))
		return isnan(got);
	return fabs(got - want) <= 1e-12 * (1.0 + fabs(want));
}

/* ---- record_parse: the table ---------------------------------------------- */

struct record_case {
	const char *what;
	const char *profile;
	enum profile_source_id source;
	const char *row;
	enum record_status status;
	enum profile_kind kind;
	const char *key; /* closes and partials; "" otherwise */
	const char *symbol;
	int side;
	double pnl_usd, pnl_frac; /* NAN: absent */
	int sign_mismatch;
	const char *reason; /* quarantine token */
};

#define OK(kind) RECORD_OK, kind
#define QUARANTINED RECORD_QUARANTINE, PROFILE_KIND_NONE, "", NULL, 0, NAN, NAN, 0
#define IGNORED RECORD_IGNORED, PROFILE_KIND_IGNORE, "", NULL, 0, NAN, NAN, 0, NULL

#define A PROFILE_SOURCE_ATTRIBUTION
#define X PROFILE_SOURCE_EXIT

static const struct record_case record_cases[] = {
    /* canonical: open, close, scale / partial */
    {"canonical open", "canonical", A,
     "{'event':'open','trade_id':'T1','symbol':'AAPL','side':'long',"
     "'ts':'2026-02-05T14:31:54Z','entry_price':100,'qty':10}",
     OK(PROFILE_KIND_OPEN), "", "AAPL", 1, NAN, NAN, 0, NULL},
    {"canonical close", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':101,'qty':10,"
     "'pnl_usd':10,'pnl_pct':0.01,'close_reason':'take_profit(1%)'}",
     OK(PROFILE_KIND_CLOSE), "T1", "AAPL", 1, 10.0, 0.01, 0, NULL},
    {"canonical scale: key is trade_id|ts, pnl_frac from pnl_usd", "canonical", A,
     "{'event':'scale','trade_id':'T1','symbol':'AAPL','side':'long',"
     "'ts':'2026-02-05T15:10:00Z','entry_price':100,'exit_price':102,'qty':5,"
     "'pnl_usd':10,'fraction':0.5}",
     OK(PROFILE_KIND_PARTIAL), "T1|2026-02-05T15:10:00Z", "AAPL", 1, 10.0, 0.02, 0, NULL},
    {"canonical partial", "canonical", A,
     "{'event':'partial','trade_id':'T1','symbol':'AAPL','side':'long',"
     "'ts':'2026-02-05T15:20:00Z','pnl_pct':0.03}",
     OK(PROFILE_KIND_PARTIAL), "T1|2026-02-05T15:20:00Z", "AAPL", 1, NAN, 0.03, 0, NULL},
    {"missing pnl_usd is pnl_pct x entry_price x qty", "canonical", A,
     "{'event':'close','trade_id':'T2','symbol':'MSFT','side':'short',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':200,'exit_price':190,'qty':3,'pnl_pct':0.05}",
     OK(PROFILE_KIND_CLOSE), "T2", "MSFT", -1, 30.0, 0.05, 0, NULL},
    {"numeric strings are numbers", "canonical", A,
     "{'event':'close','trade_id':'T3','symbol':'NVDA','side':'buy',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':'50','exit_price':'52.5','qty':'5',"
     "'pnl_usd':'12.5'}",
     OK(PROFILE_KIND_CLOSE), "T3", "NVDA", 1, 12.5, 0.05, 0, NULL},
    {"sign mismatch: long, exit < entry, pnl > 0", "canonical", A,
     "{'event':'close','trade_id':'T4','symbol':'TSLA','side':'long',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':99,'qty':1,'pnl_usd':1}",
     OK(PROFILE_KIND_CLOSE), "T4", "TSLA", 1, 1.0, 0.01, 1, NULL},
    {"sign mismatch: short, exit > entry, pnl > 0", "canonical", A,
     "{'event':'close','trade_id':'T5','symbol':'TSLA','side':'short',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':101,'qty':1,'pnl_usd':1}",
     OK(PROFILE_KIND_CLOSE), "T5", "TSLA", -1, 1.0, 0.01, 1, NULL},
    {"no mismatch: short, exit > entry, pnl < 0", "canonical", A,
     "{'event':'close','trade_id':'T6','symbol':'TSLA','side':'short',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':101,'qty':1,'pnl_usd':-1}",
     OK(PROFILE_KIND_CLOSE), "T6", "TSLA", -1, -1.0, -0.01, 0, NULL},
    {"no mismatch when the side is unknown", "canonical", A,
     "{'event':'close','trade_id':'T7','symbol':'TSLA',"
     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':99,'qty':1,'pnl_usd':1}",
     OK(PROFILE_KIND_CLOSE), "T7", "TSLA", 0, 1.0, 0.01, 0, NULL},
    {"an integer trade_id makes a key", "canonical", A,
     "{'event':'close','trade_id':42,'symbol':'IBM','ts':'2026-02-05T15:00:00Z','pnl_usd':-2}",
     OK(PROFILE_KIND_CLOSE), "42", "IBM", 0, -2.0, NAN, 0, NULL},
    {"epoch-seconds ts", "canonical", A,
     "{'event':'close','trade_id':'T8','symbol':'IBM','ts':1770301914,'pnl_usd':1}",
     OK(PROFILE_KIND_CLOSE), "T8", "IBM", 0, 1.0, NAN, 0, NULL},

    /* canonical: refused rows */
    {"not JSON", "canonical", A, "{'event': 'open', oops", QUARANTINED, "not_json"},
    {"empty line", "canonical", A, "", QUARANTINED, "not_json"},
    {"a JSON array", "canonical", A, "[1,2]", QUARANTINED, "not_object"},
    {"a JSON string", "canonical", A, "'open'", QUARANTINED, "not_object"},
    {"close without symbol", "canonical", A,
     "{'event':'close','trade_id':'T1','ts':'2026-02-05T15:00:00Z','pnl_usd':1}", QUARANTINED,
     "missing_field"},
    {"close with an empty symbol", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'','ts':'2026-02-05T15:00:00Z','pnl_usd':1}",
     QUARANTINED, "missing_field"},
    {"ts that is not a time", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','ts':'yesterday','pnl_usd':1}", QUARANTINED,
     "bad_value"},
    {"no ts", "canonical", A, "{'event':'open','trade_id':'T1','symbol':'AAPL'}", QUARANTINED,
     "missing_field"},
    {"null ts", "canonical", A, "{'event':'open','trade_id':'T1','symbol':'AAPL','ts':null}",
     QUARANTINED, "missing_field"},
    {"close without trade_id", "canonical", A,
     "{'event':'close','symbol':'AAPL','ts':'2026-02-05T15:00:00Z','pnl_usd':1}", QUARANTINED,
     "missing_field"},
    {"close without any pnl", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z'}", QUARANTINED,
     "missing_field"},
    {"pnl_usd that is not a number", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z',"
     "'pnl_usd':'abc'}",
     QUARANTINED, "bad_value"},
    {"pnl_usd that is a boolean", "canonical", A,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z',"
     "'pnl_usd':true}",
     QUARANTINED, "bad_value"},
    {"attribution row without event (no default)", "canonical", A,
     "{'trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z'}", QUARANTINED, "missing_field"},

    {"a trade id holding an escaped NUL (not cut at it)", "canonical", A,
     "{'event':'close','trade_id':'T00\\u00000001','symbol':'AAPL','ts':'2026-02-05T15:00:00Z',"
     "'pnl_usd':1}",
     QUARANTINED, "bad_value"},
    {"a symbol holding an escaped NUL", "canonical", A,
     "{'event':'open','trade_id':'T1','symbol':'AA\\u0000PL','ts':'2026-02-05T15:00:00Z'}",
     QUARANTINED, "bad_value"},
    {"an escaped NUL in a field no one reads", "canonical", A,
     "{'event':'open','trade_id':'T1','symbol':'AAPL','side':'long','ts':'2026-02-05T15:00:00Z','"
     "note':'a\\u0000b'}",
     OK(PROFILE_KIND_OPEN), "", "AAPL", 1, NAN, NAN, 0, NULL},

    /* canonical: ignored rows */
    {"attribution heartbeat", "canonical", A, "{'event':'heartbeat','ts':'2026-02-05T15:00:00Z'}",
     IGNORED},
    {"event that is not a string", "canonical", A, "{'event':5,'ts':'2026-02-05T15:00:00Z'}",
     IGNORED},
    {"exits heartbeat", "canonical", X, "{'event':'heartbeat','ts':'2026-02-05T15:00:00Z'}",
     IGNORED},

    /* canonical: other sources */
    {"exit row without event takes the default kind", "canonical", X,
     "{'trade_id':'T1','symbol':'AAPL','ts':'2026-02-05T15:00:00Z','reason':'stop_loss',"
     "'pnl_usd':-3}",
     OK(PROFILE_KIND_EXIT), "", "AAPL", 0, -3.0, NAN, 0, NULL},
    {"exit row", "canonical", X,
     "{'event':'exit','trade_id':'T1','symbol':'AAPL','side':'short',"
     "'ts':'2026-02-05T15:00:00Z','pnl_pct':-0.02}",
     OK(PROFILE_KIND_EXIT), "", "AAPL", -1, NAN, -0.02, 0, NULL},
    {"signal", "canonical", PROFILE_SOURCE_SIGNALS,
     "{'signal_id':'s1','symbol':'AAPL','side':'bullish','ts':'2026-02-05T15:00:00Z',"
     "'traded':true,'confidence':0.7}",
     OK(PROFILE_KIND_SIGNAL), "", "AAPL", 1, NAN, NAN, 0, NULL},
    {"order", "canonical", PROFILE_SOURCE_ORDERS,
     "{'order_id':'o1','symbol':'AAPL','side':'sell','ts':'2026-02-05T15:00:00Z',"
     "'fill_price':10.5,'qty':2,'status':'filled'}",
     OK(PROFILE_KIND_ORDER), "", "AAPL", -1, NAN, NAN, 0, NULL},

    /* stock-bot: the kind is the trade_id prefix, pnl_pct is in percent */
    {"stock-bot open_", "stock-bot", A,
     "{'ts':'2026-02-05T14:31:54.466025+00:00','type':'attribution',"
     "'trade_id':'open_C_2026-02-05T14:31:54.464956+00:00','symbol':'C','pnl_usd':0.0,"
     "'context':{'direction':'bearish','position_side':'short','market_regime':'mixed',"
     "'entry_score':4.0293,'requested_qty':3,'entry_ts':'2026-02-05T14:31:54.464550+00:00',"
     "'account_equity_at_entry':50098.01,'components':{'flow':2.4,'dark_pool':0.157}},"
     "'strategy_id':'equity'}",
     OK(PROFILE_KIND_OPEN), "", "C", -1, 0.0, NAN, 0, NULL},
    {"stock-bot close_: percent becomes a fraction", "stock-bot", A,
     "{'ts':'2026-02-05T14:36:10.884591+00:00','type':'attribution',"
     "'trade_id':'close_BA_2026-02-05T14:36:10.884496+00:00','symbol':'BA',"
     "'entry_score':4.0997,'pnl_usd':-0.23,'pnl_pct':-0.0978,'hold_minutes':1.1,"
     "'market_regime':'mixed','context':{'close_reason':'signal_decay(0.23)',"
     "'entry_price':235.07,'exit_price':235.3,'pnl_pct':-0.0978,'side':'sell',"
     "'position_side':'short','qty':1,'entry_ts':'2026-02-05T14:35:02.509748+00:00',"
     "'components':{'flow':2.4}}}",
     OK(PROFILE_KIND_CLOSE), "close_BA_2026-02-05T14:36:10.884496+00:00", "BA", -1, -0.23,
     -0.000978, 0, NULL},
    {"stock-bot scale_: context.pnl_pct (unscaled), not the flat one", "stock-bot", A,
     "{'ts':'2026-02-05T14:40:36.413523+00:00','type':'attribution',"
     "'trade_id':'scale_GOOGL_2026-02-05T14:40:36.413381+00:00','symbol':'GOOGL',"
     "'pnl_usd':6.95,'pnl_pct':0.6593,'hold_minutes':3.7,'context':{"
     "'close_reason':'profit_target(2%)','entry_price':316.24,'exit_price':323.19,"
     "'pnl_pct':2.1977,'side':'buy','qty':1,'fraction':0.3}}",
     OK(PROFILE_KIND_PARTIAL), "scale_GOOGL_2026-02-05T14:40:36.413381+00:00", "GOOGL", 1, 6.95,
     0.021977, 0, NULL},
    {"stock-bot close_ with only the flat pnl_pct", "stock-bot", A,
     "{'ts':'2026-02-05T15:00:00+00:00','trade_id':'close_X_1','symbol':'X','pnl_pct':-0.5,"
     "'context':{'entry_price':10,'exit_price':9.95,'qty':4,'position_side':'long'}}",
     OK(PROFILE_KIND_CLOSE), "close_X_1", "X", 1, -0.2, -0.005, 0, NULL},
    {"stock-bot unknown prefix", "stock-bot", A,
     "{'ts':'2026-02-05T15:00:00+00:00','trade_id':'adjust_X_1','symbol':'X'}", IGNORED},
    {"stock-bot row without trade_id", "stock-bot", A,
     "{'ts':'2026-02-05T15:00:00+00:00','symbol':'X','pnl_usd':1}", QUARANTINED, "missing_field"},
    {"stock-bot exit_attribution", "stock-bot", X,
     "{'symbol':'BA','timestamp':'2026-02-05T14:36:10.884591+00:00',"
     "'entry_timestamp':'2026-02-05T14:35:02.509748+00:00','exit_reason':'signal_decay(0.23)',"
     "'pnl':-0.23,'pnl_pct':-0.0978,'entry_price':235.07,'exit_price':235.3,'qty':1,"
     "'time_in_trade_minutes':1.1,'entry_regime':'mixed'}",
     OK(PROFILE_KIND_EXIT), "", "BA", 0, -0.23, -0.000978, 0, NULL},
    {"stock-bot blocked trade", "stock-bot", PROFILE_SOURCE_SIGNALS,
     "{'symbol':'AAPL','timestamp':'2026-02-05T15:00:00+00:00','score':3.2,"
     "'direction':'bullish','decision_price':180.5,'reason':'max_positions','traded':false}",
     OK(PROFILE_KIND_SIGNAL), "", "AAPL", 1, NAN, NAN, 0, NULL},
};

static void test_record_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(record_cases) / sizeof(record_cases[0]); i++) {
		const struct record_case *c = &record_cases[i];
		struct record r;
		const char *reason = "unset";
		enum record_status st = parse_row(c->profile, c->source, c->row, &r, &reason);

		if (st != c->status)
			fail_msg("%s: status %d, expected %d (reason %s)", c->what, st, c->status,
				 reason ? reason : "-");
		if (st == RECORD_QUARANTINE) {
			if (!reason || strcmp(reason, c->reason) != 0)
				fail_msg("%s: reason %s, expected %s", c->what, reason, c->reason);
		} else if (st == RECORD_IGNORED) {
			assert_null(reason);
			assert_int_equal(r.kind, PROFILE_KIND_IGNORE);
		} else {
			assert_null(reason);
			if (r.kind != c->kind)
				fail_msg("%s: kind %s, expected %s", c->what,
					 profile_kind_name(r.kind), profile_kind_name(c->kind));
			if (strcmp(r.key, c->key) != 0)
				fail_msg("%s: key \"%s\", expected \"%s\"", c->what, r.key, c->key);
			if (!r.symbol || strcmp(r.symbol, c->symbol) != 0)
				fail_msg("%s: symbol %s, expected %s", c->what,
					 r.symbol ? r.symbol : "(null)", c->symbol);
			if (r.side != c->side)
				fail_msg("%s: side %d, expected %d", c->what, r.side, c->side);
			if (!same_number(r.pnl_usd, c->pnl_usd))
				fail_msg("%s: pnl_usd %.17g, expected %.17g", c->what, r.pnl_usd,
					 c->pnl_usd);
			if (!same_number(r.pnl_frac, c->pnl_frac))
				fail_msg("%s: pnl_frac %.17g, expected %.17g", c->what, r.pnl_frac,
					 c->pnl_frac);
			if (r.pnl_sign_mismatch != c->sign_mismatch)
				fail_msg("%s: sign mismatch %d, expected %d", c->what,
					 r.pnl_sign_mismatch, c->sign_mismatch);
			assert_int_equal(r.source, c->source);
			assert_true(r.ts != CALENDAR_NONE);
		}
		record_release(&r);
	}
}

/* ---- record_parse: the other fields ------------------------------------- */

/* The row of the table case whose description starts with what. */
static const char *row_of(const char *what)
{
	for (size_t i = 0; i < sizeof(record_cases) / sizeof(record_cases[0]); i++)
		if (strncmp(record_cases[i].what, what, strlen(what)) == 0)
			return record_cases[i].row;
	fail_msg("no table case \"%s\"", what);
	return NULL;
}

static void test_stock_bot_close_maps_context_fields(void **state)
{
	struct record r;
	const char *reason;
	int64_t ts, entry;
	(void)state;
	assert_int_equal(parse_row("stock-bot", A, row_of("stock-bot close_"), &r, &reason),
			 RECORD_OK);
	assert_int_equal(calendar_parse_iso("2026-02-05T14:36:10.884591+00:00", &ts), 0);
	assert_int_equal(calendar_parse_iso("2026-02-05T14:35:02.509748+00:00", &entry), 0);
	assert_int_equal(r.ts, ts);
	assert_int_equal(r.entry_ts, entry);
	assert_string_equal(r.close_reason, "signal_decay(0.23)");
	assert_string_equal(r.regime, "mixed");
	assert_string_equal(r.trade_id, "close_BA_2026-02-05T14:36:10.884496+00:00");
	assert_true(same_number(r.entry_price, 235.07));
	assert_true(same_number(r.exit_price, 235.3));
	assert_true(same_number(r.qty, 1.0));
	assert_true(same_number(r.score, 4.0997));
	assert_true(same_number(r.hold_minutes, 1.1));
	assert_true(same_number(r.fraction, 1.0)); /* a close closes all */
	assert_non_null(r.components);
	assert_true(same_number(json_number_value(json_object_get(r.components, "flow")), 2.4));
	record_release(&r);
}

static void test_stock_bot_open_maps_equity_and_score(void **state)
{
	struct record r;
	const char *reason;
	(void)state;
	assert_int_equal(parse_row("stock-bot", A, row_of("stock-bot open_"), &r, &reason),
			 RECORD_OK);
	assert_true(same_number(r.equity, 50098.01));
	assert_true(same_number(r.score, 4.0293));
	assert_true(same_number(r.qty, 3.0)); /* context.requested_qty */
	assert_string_equal(r.regime, "mixed");
	assert_true(r.entry_ts != CALENDAR_NONE);
	assert_string_equal(r.key, "");
	record_release(&r);
}

static void test_entry_ts_and_hold_minutes_derive_from_each_other(void **state)
{
	struct record r;
	const char *reason;
	int64_t ts, entry;
	(void)state;
	assert_int_equal(calendar_parse_iso("2026-02-05T15:00:00Z", &ts), 0);
	assert_int_equal(calendar_parse_iso("2026-02-05T14:30:00Z", &entry), 0);

	assert_int_equal(parse_row("canonical", A,
				   "{'event':'close','trade_id':'T1','symbol':'AAPL',"
				   "'ts':'2026-02-05T15:00:00Z','hold_minutes':30,'pnl_usd':1}",
				   &r, &reason),
			 RECORD_OK);
	assert_int_equal(r.entry_ts, entry);
	record_release(&r);

	assert_int_equal(parse_row("canonical", A,
				   "{'event':'close','trade_id':'T1','symbol':'AAPL',"
				   "'ts':'2026-02-05T15:00:00Z','entry_ts':'2026-02-05T14:30:00Z',"
				   "'pnl_usd':1}",
				   &r, &reason),
			 RECORD_OK);
	assert_true(same_number(r.hold_minutes, 30.0));
	record_release(&r);
}

static void test_traded_is_tri_state(void **state)
{
	static const struct {
		const char *row;
		int traded;
	} cases[] = {
	    {"{'symbol':'A','ts':'2026-02-05T15:00:00Z','traded':true}", 1},
	    {"{'symbol':'A','ts':'2026-02-05T15:00:00Z','traded':false}", 0},
	    {"{'symbol':'A','ts':'2026-02-05T15:00:00Z'}", -1},
	    {"{'symbol':'A','ts':'2026-02-05T15:00:00Z','traded':'yes'}", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record r;
		const char *reason;
		assert_int_equal(
		    parse_row("canonical", PROFILE_SOURCE_SIGNALS, cases[i].row, &r, &reason),
		    RECORD_OK);
		assert_int_equal(r.traded, cases[i].traded);
		record_release(&r);
	}
}

static void test_record_release_is_safe_twice_and_on_zero(void **state)
{
	struct record r;
	const char *reason;
	(void)state;
	memset(&r, 0, sizeof(r));
	record_release(&r);
	assert_int_equal(parse_row("canonical", A, "[1,2]", &r, &reason), RECORD_QUARANTINE);
	record_release(&r);
	record_release(&r);
	assert_null(r.row);
}

static void test_side_from_text_table(void **state)
{
	static const struct {
		const char *text;
		int side;
	} cases[] = {
	    {"long", 1},  {"LONG", 1},	   {"buy", 1},	{"Bullish", 1}, {"short", -1},
	    {"Sell", -1}, {"bearish", -1}, {"flat", 0}, {"", 0},	{NULL, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(record_side_from_text(cases[i].text), cases[i].side);
}

/* ---- record_pointer ----------------------------------------------------- */

static void test_record_pointer_table(void **state)
{
	static const struct {
		const char *pointer;
		const char *expected; /* compact JSON of the value, or NULL: absent */
	} cases[] = {
	    {"/a~1b", "1"},   {"/m~0n", "2"},	{"/~01", "7"}, /* "~01" is "~1" unescaped once, not
								  "/" */
	    {"/arr/0", "10"}, {"/arr/1", "20"}, {"/arr/2/x", "3"},  {"/arr/3", NULL},
	    {"/arr/-", NULL}, {"/arr/x", NULL}, {"/arr/1/x", NULL}, {"/", "4"}, /* the key "" */
	    {"/c/d", "5"},    {"/c/e", NULL},	{"/nope/x", NULL},  {"/c/d/", NULL},
	};
	json_error_t jerr;
	char *text = unquote("{'a/b':1,'m~n':2,'~1':7,'arr':[10,20,{'x':3}],'':4,'c':{'d':5}}");
	json_t *doc = json_loads(text, 0, &jerr);
	(void)state;
	assert_non_null(doc);
	assert_ptr_equal(record_pointer(doc, ""), doc);
	assert_ptr_equal(record_pointer(doc, NULL), doc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = record_pointer(doc, cases[i].pointer);
		if (!cases[i].expected) {
			if (v)
				fail_msg("%s: found a value, expected none", cases[i].pointer);
			continue;
		}
		if (!v)
			fail_msg("%s: absent, expected %s", cases[i].pointer, cases[i].expected);
		char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (strcmp(got, cases[i].expected) != 0)
			fail_msg("%s: %s, expected %s", cases[i].pointer, got, cases[i].expected);
		free(got);
	}
	json_decref(doc);
	free(text);
}

/* ---- profiles -------------------------------------------------------------- */

static void test_builtin_profiles_load_and_unknown_is_refused(void **state)
{
	struct profile p;
	(void)state;
	assert_int_equal(canonical.pnl_percent, 0);
	assert_int_equal(canonical.position_by_symbol, 0);
	assert_string_equal(canonical.source[PROFILE_SOURCE_ATTRIBUTION].file, "attribution.jsonl");
	assert_string_equal(canonical.source[PROFILE_SOURCE_EXIT].file, "exits.jsonl");
	assert_int_equal(stock_bot.pnl_percent, 1);
	assert_int_equal(stock_bot.position_by_symbol, 1);
	assert_string_equal(stock_bot.source[PROFILE_SOURCE_EXIT].file, "exit_attribution.jsonl");
	assert_string_equal(stock_bot.source[PROFILE_SOURCE_SIGNALS].file, "blocked_trades.jsonl");
	assert_int_equal(stock_bot.source[PROFILE_SOURCE_ATTRIBUTION].kind_by_prefix, 1);
	struct err err = {0};
	assert_int_equal(profile_builtin(&p, "no-such-bot", &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "no-such-bot"));
	assert_null(profile_builtin_text("no-such-bot"));
	assert_non_null(profile_builtin_text("canonical"));
	assert_non_null(profile_builtin_text("stock-bot"));
}

static void test_profile_names(void **state)
{
	(void)state;
	assert_string_equal(profile_source_name(PROFILE_SOURCE_ATTRIBUTION), "attribution");
	assert_string_equal(profile_source_name(PROFILE_SOURCE_ORDERS), "orders");
	assert_string_equal(profile_source_name(PROFILE_SOURCE_COUNT), "?");
	assert_string_equal(profile_kind_name(PROFILE_KIND_PARTIAL), "partial");
	assert_string_equal(profile_kind_name(PROFILE_KIND_IGNORE), "ignore");
	assert_string_equal(profile_field_name(PROFILE_FIELD_PNL_USD), "pnl_usd");
	assert_string_equal(profile_field_name(PROFILE_FIELD_TRADED), "traded");
	assert_string_equal(profile_field_name(PROFILE_FIELD_COUNT), "?");
}

/* A minimal valid attribution source, for the refusal cases to vary. */
#define ATTR_OK "'file':'a.jsonl','kind':'open','fields':{'ts':'/ts'}"

static const struct {
	const char *desc;
	const char *error_prefix;
} refusal_cases[] = {
    {"{'pnl_unit':'fraction','bogus':1,'sources':{'attribution':{" ATTR_OK "}}}",
     "bogus: unknown key"},
    {"{'sources':{'trades':{" ATTR_OK "}}}", "sources.trades: unknown source"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open',"
     "'fields':{'ts':'/ts','pnl_usdd':'/x'}}}}",
     "sources.attribution.fields.pnl_usdd: unknown field"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open','fields':{'ts':'ts'}}}}",
     "sources.attribution.fields.ts: a JSON pointer must start with '/'"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open',"
     "'fields':{'ts':'/ts','symbol':['/s','sym']}}}}",
     "sources.attribution.fields.symbol: a JSON pointer must start with '/'"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open',"
     "'fields':{'ts':'/ts','symbol':['/a','/b','/c','/d','/e']}}}}",
     "sources.attribution.fields.symbol: at most 4 JSON pointers"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open','fields':{'ts':'/a~2b'}}}}",
     "sources.attribution.fields.ts: in a JSON pointer '~' must be followed by 0 or 1"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e~','equals':{'o':'open'}},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.pointer: in a JSON pointer '~' must be followed by 0 or 1"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open','fields':{'ts':5}}}}",
     "sources.attribution.fields.ts: must be a JSON pointer or a list"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open','fields':['/ts']}}}",
     "sources.attribution.fields: must be an object"},
    {"{'sources':{'attribution':{'kind':'open','fields':{'ts':'/ts'}}}}",
     "sources.attribution: needs a \"file\""},
    {"{'sources':{'attribution':{'file':'logs/a.jsonl','kind':'open','fields':{'ts':'/ts'}}}}",
     "sources.attribution.file: must be a file name"},
    {"{'sources':{'attribution':{'file':'a.jsonl','fields':{'ts':'/ts'}}}}",
     "sources.attribution: needs a \"kind\""},
    {"{'pnl_unit':'basis_points','sources':{'attribution':{" ATTR_OK "}}}",
     "pnl_unit: must be \"percent\" or \"fraction\""},
    {"{'pnl_unit':1,'sources':{'attribution':{" ATTR_OK "}}}", "pnl_unit: must be"},
    {"{'position':'order_id','sources':{'attribution':{" ATTR_OK "}}}",
     "position: must be \"trade_id\" or \"symbol\""},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'opne','fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind: unknown kind"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','equals':{'o':'opne'}},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.equals.o: unknown kind"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','prefix':{'o_':7}},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.prefix.o_: unknown kind"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','equals':{'o':'open'},"
     "'default':'sometimes'},'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.default: unknown kind"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'e','equals':{'o':'open'}},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.pointer: must be a JSON pointer"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'equals':{'o':'open'}},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind: needs a \"pointer\""},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e'},"
     "'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind: needs an \"equals\" or \"prefix\" map"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','equals':{'o':'open'},"
     "'when':1},'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.when: unknown key"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':7,'fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind: must be a kind name or an object"},
    {"{'sources':{'attribution':{" ATTR_OK ",'key':['trade_id']}}}",
     "sources.attribution.key: a JSON pointer must start with '/'"},
    {"{'sources':{'attribution':{" ATTR_OK ",'partial_key':[]}}}",
     "sources.attribution.partial_key: must be a JSON pointer or a list"},
    {"{'sources':{'attribution':{" ATTR_OK ",'colour':'red'}}}",
     "sources.attribution.colour: unknown key"},
    {"{'sources':{'attribution':{" ATTR_OK "},'exit':'exits.jsonl'}}",
     "sources.exit: must be an object"},
    {"{'sources':{'exit':{'file':'e.jsonl','kind':'exit','fields':{'ts':'/ts'}}}}",
     "sources.attribution: is required"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'open','fields':{'symbol':'/s'}}}}",
     "sources.attribution.fields.ts: is required"},
    {"{'sources':{'attribution':{" ATTR_OK "},'exit':{'file':'e.jsonl','kind':'exit'}}}",
     "sources.exit.fields.ts: is required"},
    {"{'sources':[]}", "sources: must be an object"},
    {"[]", "(profile): must be an object"},
};

static void test_profile_from_json_refusals_name_the_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
		char *text = unquote(refusal_cases[i].desc);
		json_error_t jerr;
		json_t *desc = json_loads(text, 0, &jerr);
		struct profile p;
		struct err err = {0};
		if (!desc)
			fail_msg("case %zu does not parse: %s", i, jerr.text);
		assert_int_equal(profile_from_json(&p, "mybot", desc, &err), -1);
		const char *want = refusal_cases[i].error_prefix;
		if (strncmp(err.msg, want, strlen(want)) != 0)
			fail_msg("case %zu: \"%s\", expected it to start with \"%s\"", i, err.msg,
				 want);
		json_decref(desc);
		free(text);
	}
}

static void test_profile_from_json_accepts_a_custom_profile(void **state)
{
	char *text = unquote(
	    "{'pnl_unit':'percent','position':'symbol','sources':{'attribution':{"
	    "'file':'trades.jsonl','kind':{'pointer':'/"
	    "type','equals':{'BUY':'open','SELL':'close'},"
	    "'default':'ignore'},'key':['/id','/leg'],"
	    "'fields':{'ts':['/time','/timestamp'],'symbol':'/ticker','pnl_pct':'/ret'}}}}");
	json_error_t jerr;
	json_t *desc = json_loads(text, 0, &jerr);
	struct profile p;
	struct err err = {0};
	struct record r;
	const char *reason;
	char detail[128];
	(void)state;
	assert_int_equal(profile_from_json(&p, "mine", desc, &err), 0);
	assert_string_equal(p.name, "mine");
	assert_int_equal(p.pnl_percent, 1);
	assert_int_equal(p.position_by_symbol, 1);
	assert_int_equal(p.source[PROFILE_SOURCE_ATTRIBUTION].key.n, 2);
	assert_int_equal(p.source[PROFILE_SOURCE_ATTRIBUTION].field[PROFILE_FIELD_TS].n, 2);

	/* The second ts pointer is used when the first is absent; the key
	 * joins two values with '|'; percent becomes a fraction. */
	char *row = unquote("{'type':'SELL','id':'x','leg':2,'timestamp':'2026-02-05T15:00:00Z',"
			    "'ticker':'QQQ','ret':1.5}");
	assert_int_equal(record_parse(&p, PROFILE_SOURCE_ATTRIBUTION, row, strlen(row), &r, &reason,
				      detail, sizeof(detail)),
			 RECORD_OK);
	assert_int_equal(r.kind, PROFILE_KIND_CLOSE);
	assert_string_equal(r.key, "x|2");
	assert_string_equal(r.symbol, "QQQ");
	assert_true(same_number(r.pnl_frac, 0.015));
	record_release(&r);
	free(row);

	/* A row without the kind field takes the default, "ignore". */
	row = unquote("{'id':'x','time':'2026-02-05T15:00:00Z','ticker':'QQQ'}");
	assert_int_equal(record_parse(&p, PROFILE_SOURCE_ATTRIBUTION, row, strlen(row), &r, &reason,
				      detail, sizeof(detail)),
			 RECORD_IGNORED);
	record_release(&r);
	free(row);

	profile_release(&p);
	profile_release(&p); /* release twice is harmless */
	json_decref(desc);
	free(text);
}

/* ---- outcome ------------------------------------------------------------- */

static void test_outcome_reason_family_table(void **state)
{
	static const struct {
		const char *reason;
		const char *family;
	} cases[] = {
	    {"signal_decay(0.23)", "signal_decay"},
	    {"trail_stop(-1.2%)+signal_decay(0.65)", "trail_stop+signal_decay"},
	    {"profit_target(2%)", "profit_target"},
	    {"stop_loss", "stop_loss"},
	    {"stale_alpha_cutoff(120min, 0.1%)", "stale_alpha_cutoff"},
	    {"a(b(c))d", "ad"},
	    {"(0.5)", "unknown"},
	    {"", "unknown"},
	    {NULL, "unknown"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		outcome_reason_family(cases[i].reason, buf, sizeof(buf));
		if (strcmp(buf, cases[i].family) != 0)
			fail_msg("\"%s\": \"%s\", expected \"%s\"",
				 cases[i].reason ? cases[i].reason : "(null)", buf,
				 cases[i].family);
	}
}

static const char *const outcome_keys[] = {
    "trade_id",	    "symbol",  "side",	     "entry_ts",  "exit_ts",	  "entry_price",
    "exit_price",   "qty",     "pnl_usd",    "pnl_frac",  "hold_minutes", "confidence",
    "score",	    "regime",  "sector",     "timeframe", "time_of_day",  "day_of_week",
    "close_reason", "partial", "components",
};

static json_t *encode_row(const char *profile, const char *row)
{
	struct record r;
	const char *reason;
	json_error_t jerr;
	assert_int_equal(parse_row(profile, A, row, &r, &reason), RECORD_OK);
	char *line = outcome_encode(&r);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	json_t *o = json_loads(line, 0, &jerr);
	assert_non_null(o);
	free(line);
	record_release(&r);
	return o;
}

static void test_an_outcome_line_has_its_21_keys_in_a_fixed_order(void **state)
{
	const char *key;
	json_t *v;
	size_t i = 0;
	(void)state;
	json_t *o = encode_row("stock-bot", row_of("stock-bot close_"));
	assert_int_equal(json_object_size(o), 21);
	json_object_foreach(o, key, v)
	{
		assert_true(i < 21);
		assert_string_equal(key, outcome_keys[i]);
		i++;
	}
	assert_int_equal(i, 21);
	assert_string_equal(json_string_value(json_object_get(o, "close_reason")), "signal_decay");
	assert_string_equal(json_string_value(json_object_get(o, "side")), "short");
	assert_string_equal(json_string_value(json_object_get(o, "entry_ts")),
			    "2026-02-05T14:35:02.509748Z");
	/* Of the entry, in New York: 09:35 EST on a Thursday. */
	assert_string_equal(json_string_value(json_object_get(o, "time_of_day")), "open");
	assert_string_equal(json_string_value(json_object_get(o, "day_of_week")), "thursday");
	assert_true(same_number(json_real_value(json_object_get(o, "pnl_frac")), -0.000978));
	assert_true(same_number(json_real_value(json_object_get(o, "partial")), 1.0));
	assert_true(json_is_object(json_object_get(o, "components")));
	json_decref(o);
}

static void test_outcome_encode_writes_null_for_absent_values(void **state)
{
	static const char *const absent[] = {
	    "entry_ts",	  "hold_minutes", "confidence", "score", "regime",   "sector", "timeframe",
	    "components", "entry_price",  "exit_price", "qty",	 "pnl_frac", "side"};
	(void)state;
	json_t *o = encode_row("canonical", "{'event':'close','trade_id':'T9','symbol':'IBM',"
					    "'ts':'2026-02-05T15:00:00Z','pnl_usd':-2}");
	assert_int_equal(json_object_size(o), 21);
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		json_t *v = json_object_get(o, absent[i]);
		if (!json_is_null(v))
			fail_msg("%s is not null", absent[i]);
	}
	assert_string_equal(json_string_value(json_object_get(o, "close_reason")), "unknown");
	/* No entry time: the buckets are of the exit, 10:00 EST. */
	assert_string_equal(json_string_value(json_object_get(o, "time_of_day")), "open");
	json_decref(o);
}

/* Equal outcomes are equal bytes: the whole line, exactly. */
static void test_outcome_encode_exact_line(void **state)
{
	static const struct {
		const char *row;
		const char *line;
	} cases[] = {
	    {"{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"
	     "'ts':'2026-02-05T15:00:00Z','entry_price':100,'exit_price':101,'qty':10,"
	     "'pnl_usd':10,'pnl_pct':0.01,'close_reason':'take_profit(1%)'}",
	     "{\"trade_id\":\"T1\",\"symbol\":\"AAPL\",\"side\":\"long\",\"entry_ts\":null,"
	     "\"exit_ts\":\"2026-02-05T15:00:00.000000Z\",\"entry_price\":100.0,"
	     "\"exit_price\":101.0,\"qty\":10.0,\"pnl_usd\":10.0,\"pnl_frac\":0.01,"
	     "\"hold_minutes\":null,\"confidence\":null,\"score\":null,\"regime\":null,"
	     "\"sector\":null,\"timeframe\":null,\"time_of_day\":\"open\","
	     "\"day_of_week\":\"thursday\",\"close_reason\":\"take_profit\",\"partial\":1.0,"
	     "\"components\":null}"},
	    {"{'event':'scale','trade_id':'T2','symbol':'MSFT','side':'short',"
	     "'ts':'2026-02-06T19:00:00Z','entry_ts':'2026-02-06T17:15:00Z','entry_price':200,"
	     "'exit_price':190,'qty':3,'pnl_usd':30,'fraction':0.25,'confidence':0.8,'score':2.5,"
	     "'regime':'trend','sector':'tech','timeframe':'5m','close_reason':'trail_stop(-1.2%)',"
	     "'components':{'flow':1.5,'iv':-0.23}}",
	     "{\"trade_id\":\"T2|2026-02-06T19:00:00Z\",\"symbol\":\"MSFT\",\"side\":\"short\","
	     "\"entry_ts\":\"2026-02-06T17:15:00.000000Z\","
	     "\"exit_ts\":\"2026-02-06T19:00:00.000000Z\",\"entry_price\":200.0,"
	     "\"exit_price\":190.0,\"qty\":3.0,\"pnl_usd\":30.0,\"pnl_frac\":0.05,"
	     "\"hold_minutes\":105.0,\"confidence\":0.8,\"score\":2.5,\"regime\":\"trend\","
	     "\"sector\":\"tech\",\"timeframe\":\"5m\",\"time_of_day\":\"lunch\","
	     "\"day_of_week\":\"friday\",\"close_reason\":\"trail_stop\",\"partial\":0.25,"
	     "\"components\":{\"flow\":1.5,\"iv\":-0.23}}"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record r;
		const char *reason;
		assert_int_equal(parse_row("canonical", A, cases[i].row, &r, &reason), RECORD_OK);
		char *line = outcome_encode(&r);
		assert_string_equal(line, cases[i].line);
		free(line);
		record_release(&r);
	}
}

/* The line is written directly, not built as a document: it must be, byte
 * for byte, the compact text of outcome_from_record(). Rows with escapes,
 * non-ASCII text, nested components, every value absent, and a close
 * reason whose family is cut inside a character (jansson refuses that
 * string, so the key is left out). */
static void test_outcome_encode_is_the_text_of_outcome_from_record(void **state)
{
	char long_reason[300];
	memset(long_reason, 'x', sizeof long_reason);
	memcpy(long_reason + 126, "\xc3\xa9", 2); /* é across the 127-byte cut */
	long_reason[sizeof long_reason - 1] = '\0';
	char long_row[600];
	snprintf(long_row, sizeof long_row,
		 "{'event':'close','trade_id':'T4','symbol':'SAP','ts':1770303600,"
		 "'pnl_usd':-1.25e-7,'close_reason':'%s'}",
		 long_reason);
	const char *rows[] = {
	    "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'long',"
	    "'ts':'2026-02-05T15:00:00Z','entry_price':100.1,'exit_price':101.3,'qty':7,"
	    "'pnl_usd':8.4,'close_reason':'take_profit(1%) + time'}",
	    "{'event':'scale','trade_id':'T\\\"2\\\\','symbol':'M\\u00fcnchen\\n','side':'short',"
	    "'ts':'2026-02-06T19:00:00Z','entry_ts':'2026-02-06T17:15:00Z','entry_price':200,"
	    "'exit_price':190,'qty':3,'pnl_usd':30,'fraction':0.3333333333333333,"
	    "'confidence':0.8,'score':2.5,'regime':'tr\\tend','sector':'\\u20ac','timeframe':'5m',"
	    "'components':{'flow':1.5,'nested':{'a':[1,2.5e-9,null,true,'x']},'iv':-0.23}}",
	    "{'event':'close','trade_id':'T3','symbol':'IBM','ts':'2026-02-05T15:00:00Z',"
	    "'pnl_pct':0.004}",
	    long_row,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct record r;
		const char *reason;
		if (parse_row("canonical", A, rows[i], &r, &reason) != RECORD_OK)
			fail_msg("row %zu: %s", i, reason);
		json_t *o = outcome_from_record(&r);
		char *want = jsontext_dump(o, JSONTEXT_COMPACT, NULL);
		char *line = outcome_encode(&r);
		assert_string_equal(line, want);
		free(line);
		free(want);
		json_decref(o);
		record_release(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_parse_table),
	    cmocka_unit_test(test_stock_bot_close_maps_context_fields),
	    cmocka_unit_test(test_stock_bot_open_maps_equity_and_score),
	    cmocka_unit_test(test_entry_ts_and_hold_minutes_derive_from_each_other),
	    cmocka_unit_test(test_traded_is_tri_state),
	    cmocka_unit_test(test_record_release_is_safe_twice_and_on_zero),
	    cmocka_unit_test(test_side_from_text_table),
	    cmocka_unit_test(test_record_pointer_table),
	    cmocka_unit_test(test_builtin_profiles_load_and_unknown_is_refused),
	    cmocka_unit_test(test_profile_names),
	    cmocka_unit_test(test_profile_from_json_refusals_name_the_key),
	    cmocka_unit_test(test_profile_from_json_accepts_a_custom_profile),
	    cmocka_unit_test(test_outcome_reason_family_table),
	    cmocka_unit_test(test_an_outcome_line_has_its_21_keys_in_a_fixed_order),
	    cmocka_unit_test(test_outcome_encode_writes_null_for_absent_values),
	    cmocka_unit_test(test_outcome_encode_exact_line),
	    cmocka_unit_test(test_outcome_encode_is_the_text_of_outcome_from_record),
	};
	return cmocka_run_group_tests(tests, load_profiles, release_profiles);
}
