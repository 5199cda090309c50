#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"

/*
 * The profile language: a table of rows in and canonical records (or the
 * counted reason) out, and a table of refused profiles with their exact
 * messages. Rows and profiles are written with single quotes; unquote()
 * turns them into JSON.
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

static int load_profile(struct profile *p, const char *text, struct err *err)
{
	char *json = unquote(text);
	json_error_t jerr;
	json_t *desc = json_loads(json, 0, &jerr);
	if (!desc)
		fail_msg("does not parse: %s: %s", jerr.text, json);
	int rc = profile_from_json(p, "bot", desc, err);
	json_decref(desc);
	free(json);
	return rc;
}

/* A crypto futures bot: finished trades without ids, epoch and offset
 * times, mixed-case sides, net P&L over the notional. */
static const char crypto_text[] =
    "{'pnl_unit':'percent','knobs':['min_confidence'],'sources':{'attribution':{"
    "'file':'trades.jsonl','kind':'close','key':['/symbol','/exit_ts'],"
    "'fields':{'ts':'/exit_ts','entry_ts':'/entry_ts','symbol':'/symbol',"
    "'side':{'pointer':'/direction','equals':{'long':'long','LONG':'long','SHORT':'short',"
    "'-1':'short'}},"
    "'pnl_usd':'/net_pnl','pnl_pct':{'ratio':['/net_pnl','/notional_size']},"
    "'hold_minutes':{'difference':['/exit_ts','/entry_ts']},"
    "'strategy':'/strategy','session':'/sess',"
    "'regime':{'pointer':'/regime','equals':{'up':'trend_up','down':'trend_down'}},"
    "'components':{'leverage':'/leverage','notional':'/notional_size','hedged':'/hedged',"
    "'spread':{'difference':['/ask','/bid']}},"
    "'categories':{'venue':'/venue','desk':{'pointer':'/desk','equals':{'a':'alpha'}}}}}}}";

static struct profile crypto, canonical;

static int setup(void **state)
{
	struct err err = {0};
	(void)state;
	if (load_profile(&crypto, crypto_text, &err)) {
		fprintf(stderr, "crypto profile: %s\n", err.msg);
		return -1;
	}
	if (profile_builtin(&canonical, "canonical", NULL))
		return -1;
	return calendar_set_zone("UTC");
}

static int teardown(void **state)
{
	(void)state;
	profile_release(&crypto);
	profile_release(&canonical);
	return 0;
}

#define ROW_BASE                                                                                   \
	"'symbol':'BTCUSDT','exit_ts':1770303600,'entry_ts':'2026-02-05T07:00:00-07:00',"          \
	"'net_pnl':12.5,'notional_size':2500"

struct profile_case {
	const char *what;
	const struct profile *profile;
	const char *row;
	enum record_status status;
	const char *reason; /* quarantine token, or NULL */
	int side;
	double pnl_frac, hold_minutes; /* NAN: absent */
	const char *components;	       /* compact, sorted keys; NULL: none */
	const char *categories;	       /* the same */
	const char *strategy, *session;
	const char *unmapped; /* the names, joined with ',' */
	int features_skipped;
};

static const struct profile_case cases[] = {
    {"named components, a ratio, a duration across an epoch and an offset", &crypto,
     "{" ROW_BASE ",'direction':'LONG','leverage':10,'hedged':false,'ask':101.5,'bid':101,"
     "'venue':'binance','desk':'a','strategy':'breakout','sess':'asia','regime':'up'}",
     RECORD_OK, NULL, 1, 0.005, 60.0,
     "{\"hedged\":0.0,\"leverage\":10.0,\"notional\":2500.0,\"spread\":0.5}",
     "{\"desk\":\"alpha\",\"strategy\":\"breakout\",\"venue\":\"binance\"}", "breakout", "asia", "",
     0},
    {"a side in the map, booleans count 1, numeric strings are numbers", &crypto,
     "{" ROW_BASE ",'direction':'SHORT','leverage':'20','hedged':true,'venue':'bybit'}", RECORD_OK,
     NULL, -1, 0.005, 60.0, "{\"hedged\":1.0,\"leverage\":20.0,\"notional\":2500.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":\"bybit\"}", NULL, NULL, "", 0},
    {"an integer side value goes through the map as its text", &crypto,
     "{" ROW_BASE ",'direction':-1}", RECORD_OK, NULL, -1, 0.005, 60.0, "{\"notional\":2500.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL, "", 0},
    {"a side outside the map is counted, not read as a spelling", &crypto,
     "{" ROW_BASE ",'direction':'Short'}", RECORD_OK, NULL, 0, 0.005, 60.0, "{\"notional\":2500.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL, "side", 0},
    {"values outside their maps, a category's and the regime's, are counted per field", &crypto,
     "{" ROW_BASE ",'direction':'long','desk':'b','regime':'sideways'}", RECORD_OK, NULL, 1, 0.005,
     60.0, "{\"notional\":2500.0}", "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL,
     "regime,categories.desk", 0},
    {"a feature that is not a number is skipped and counted", &crypto,
     "{" ROW_BASE ",'direction':'long','leverage':'high','hedged':[1]}", RECORD_OK, NULL, 1, 0.005,
     60.0, "{\"notional\":2500.0}", "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL,
     "", 2},
    {"a category's number is its text", &crypto, "{" ROW_BASE ",'direction':'long','venue':7}",
     RECORD_OK, NULL, 1, 0.005, 60.0, "{\"notional\":2500.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":\"7\"}", NULL, NULL, "", 0},
    {"a ratio over zero is absent: the P&L fraction is unknown", &crypto,
     "{'symbol':'ETHUSDT','exit_ts':1770303600,'entry_ts':1770300000,'net_pnl':-3,"
     "'notional_size':0,'direction':'long'}",
     RECORD_OK, NULL, 1, NAN, 60.0, "{\"notional\":0.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL, "", 0},
    {"a derived P&L fraction is not divided by 100 whatever pnl_unit says", &crypto,
     "{'symbol':'ETHUSDT','exit_ts':1770303600,'entry_ts':1770303000,'net_pnl':50,"
     "'notional_size':1000,'direction':'long'}",
     RECORD_OK, NULL, 1, 0.05, 10.0, "{\"notional\":1000.0}",
     "{\"desk\":null,\"strategy\":null,\"venue\":null}", NULL, NULL, "", 0},
    {"a ratio of a text is a bad value", &crypto,
     "{'symbol':'ETHUSDT','exit_ts':1770303600,'net_pnl':'lots','notional_size':10}",
     RECORD_QUARANTINE, "bad_value", 0, NAN, NAN, NULL, NULL, NULL, NULL, "", 0},
    {"a duration of a text that is not a time is a bad value", &crypto,
     "{'symbol':'ETHUSDT','exit_ts':1770303600,'entry_ts':'soon','net_pnl':1,"
     "'notional_size':10}",
     RECORD_QUARANTINE, "bad_value", 0, NAN, NAN, NULL, NULL, NULL, NULL, "", 0},
    {"without a map, a side of no known spelling is counted", &canonical,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'flat','ts':1770303600,"
     "'pnl_usd':1}",
     RECORD_OK, NULL, 0, NAN, NAN, NULL, NULL, NULL, NULL, "side", 0},
    {"without a map, spellings of long and short in any case are understood", &canonical,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','side':'SELL','ts':1770303600,"
     "'pnl_usd':1}",
     RECORD_OK, NULL, -1, NAN, NAN, NULL, NULL, NULL, NULL, "", 0},
    {"a components object keeps its numbers, booleans as 1 and 0, and counts the rest", &canonical,
     "{'event':'close','trade_id':'T1','symbol':'AAPL','ts':1770303600,'pnl_usd':1,"
     "'components':{'a':1,'b':true,'c':'x','d':null,'e':'2.5'}}",
     RECORD_OK, NULL, 0, NAN, NAN, "{\"a\":1.0,\"b\":1.0,\"e\":2.5}", NULL, NULL, NULL, "", 1},
};

static void dump_equals(const char *what, json_t *got, const char *want)
{
	if (!want) {
		if (got)
			fail_msg("%s: %s, expected none", what,
				 json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS));
		return;
	}
	if (!got)
		fail_msg("%s: none, expected %s", what, want);
	char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	if (strcmp(text, want) != 0)
		fail_msg("%s: %s, expected %s", what, text, want);
	free(text);
}

static int same(double got, double want)
{
	return isnan(want) ? isnan(got) : fabs(got - want) <= 1e-9 * (1 + fabs(want));
}

static void test_profile_cases_give_their_record_or_counted_reason(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct profile_case *c = &cases[i];
		char *line = unquote(c->row), detail[256], names[256] = "";
		const char *reason;
		struct record r;
		enum record_status st =
		    record_parse(c->profile, PROFILE_SOURCE_ATTRIBUTION, line, strlen(line), &r,
				 &reason, detail, sizeof detail);
		if (st != c->status)
			fail_msg("%s: status %d (%s), expected %d", c->what, st,
				 st == RECORD_QUARANTINE ? detail : "", c->status);
		if (st == RECORD_QUARANTINE) {
			assert_string_equal(reason, c->reason);
		} else {
			if (r.side != c->side)
				fail_msg("%s: side %d, expected %d", c->what, r.side, c->side);
			if (!same(r.pnl_frac, c->pnl_frac))
				fail_msg("%s: pnl_frac %g, expected %g", c->what, r.pnl_frac,
					 c->pnl_frac);
			if (!same(r.hold_minutes, c->hold_minutes))
				fail_msg("%s: hold_minutes %g, expected %g", c->what,
					 r.hold_minutes, c->hold_minutes);
			dump_equals(c->what, r.components, c->components);
			dump_equals(c->what, r.categories, c->categories);
			if ((r.strategy || c->strategy) &&
			    (!r.strategy || !c->strategy || strcmp(r.strategy, c->strategy)))
				fail_msg("%s: strategy %s", c->what, r.strategy ? r.strategy : "-");
			if ((r.session || c->session) &&
			    (!r.session || !c->session || strcmp(r.session, c->session)))
				fail_msg("%s: session %s", c->what, r.session ? r.session : "-");
			for (size_t k = 0; k < r.n_unmapped; k++)
				snprintf(names + strlen(names), sizeof names - strlen(names),
					 "%s%s", k ? "," : "", r.unmapped[k]);
			if (strcmp(names, c->unmapped) != 0)
				fail_msg("%s: unmapped \"%s\", expected \"%s\"", c->what, names,
					 c->unmapped);
			if (r.features_skipped != c->features_skipped)
				fail_msg("%s: %d features skipped, expected %d", c->what,
					 r.features_skipped, c->features_skipped);
		}
		record_release(&r);
		free(line);
	}
}

/* The counters a state keeps of them, per field, in the order first seen. */
static void test_unmapped_values_are_counted_per_field(void **state)
{
	struct state_counters c;
	struct record r;
	const char *reason;
	char detail[256];
	(void)state;
	memset(&c, 0, sizeof c);
	for (int i = 0; i < 3; i++) {
		char *line = unquote(i < 2 ? "{" ROW_BASE ",'direction':'flat','desk':'z'}"
					   : "{" ROW_BASE ",'direction':'up','leverage':'x'}");
		assert_int_equal(record_parse(&crypto, PROFILE_SOURCE_ATTRIBUTION, line,
					      strlen(line), &r, &reason, detail, sizeof detail),
				 RECORD_OK);
		state_count_record(&c, &r);
		record_release(&r);
		free(line);
	}
	assert_int_equal(c.n_unmapped, 2);
	assert_string_equal(c.unmapped[0].field, "side");
	assert_int_equal(c.unmapped[0].count, 3);
	assert_string_equal(c.unmapped[1].field, "categories.desk");
	assert_int_equal(c.unmapped[1].count, 2);
	assert_int_equal(c.features_skipped, 1);
}

#define SRC(fields)                                                                                \
	"{'sources':{'attribution':{'file':'a.jsonl','kind':'close','key':'/id'," fields "}}}"
#define FIELDS(more) "'fields':{'ts':'/ts','pnl_usd':'/pnl','exit_price':'/px'" more "}"

static const struct {
	const char *profile;
	const char *message; /* exact */
} refused[] = {
    {SRC(FIELDS(",'components':''")),
     "sources.attribution.fields.components: \"\" is the whole row, which holds /pnl, the pnl_usd "
     "this profile maps: the outcome would leak into the features (name the features instead)"},
    {SRC(FIELDS(",'components':'/'")),
     "sources.attribution.fields.components: \"/\" is the whole row, which holds /pnl, the "
     "pnl_usd this profile maps: the outcome would leak into the features (name the features "
     "instead)"},
    {SRC(FIELDS(",'components':{'lev':'/lev','p':'/pnl'}")),
     "sources.attribution.fields.components.p: /pnl reaches /pnl, the pnl_usd this profile "
     "maps: the outcome would leak into the features (a feature must be known when the trade "
     "is entered)"},
    {SRC(FIELDS(",'categories':{'how':'/px'}")),
     "sources.attribution.fields.categories.how: /px reaches /px, the exit_price this profile "
     "maps: the outcome would leak into the features (a feature must be known when the trade "
     "is entered)"},
    {SRC(FIELDS(",'score':['/s','/pnl']")),
     "sources.attribution.fields.score: /pnl reaches /pnl, the pnl_usd this profile maps: the "
     "outcome would leak into the features (a feature must be known when the trade is "
     "entered)"},
    {SRC("'fields':{'ts':'/ts','pnl_pct':{'ratio':['/net','/notional']},"
	 "'components':{'r':{'ratio':['/net','/x']}}}"),
     "sources.attribution.fields.components.r: /net reaches /net, the pnl_pct this profile "
     "maps: the outcome would leak into the features (a feature must be known when the trade "
     "is entered)"},
    {SRC("'fields':{'ts':'/ts','hold_minutes':{'difference':['/exit','/entry']},"
	 "'components':'/ctx','confidence':'/exit'}"),
     "sources.attribution.fields.confidence: /exit reaches /exit, the hold_minutes this "
     "profile maps: the outcome would leak into the features (a feature must be known when "
     "the trade is entered)"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':'close','fields':{'ts':'/ts'}}}}",
     "sources.attribution.key: is required: a close needs a stable trade key (give \"key\", "
     "e.g. [\"/symbol\", \"/exit_ts\"], or map fields.trade_id)"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','equals':{'x':'open',"
     "'y':'partial'}},'fields':{'ts':'/ts'}}}}",
     "sources.attribution.key: is required: a close needs a stable trade key (give \"key\", "
     "e.g. [\"/symbol\", \"/exit_ts\"], or map fields.trade_id)"},
    {SRC(FIELDS(",'symbol':''")),
     "sources.attribution.fields.symbol: the empty pointer is the whole row, which can never be "
     "this field's value"},
    {SRC(FIELDS(",'side':{'pointer':'/d','equals':{}}")),
     "sources.attribution.fields.side.equals: is empty: a map needs at least one entry"},
    {SRC(FIELDS(",'components':{}")),
     "sources.attribution.fields.components: is empty: a map needs at least one entry"},
    {SRC(FIELDS(",'categories':{}")),
     "sources.attribution.fields.categories: is empty: a map needs at least one entry"},
    {"{'sources':{'attribution':{'file':'a.jsonl','kind':{'pointer':'/e','equals':{}},"
     "'key':'/id','fields':{'ts':'/ts'}}}}",
     "sources.attribution.kind.equals: is empty: a map needs at least one entry"},
    {SRC(FIELDS(",'side':{'pointer':'/d','equals':{'L':'long','S':'sell'}}")),
     "sources.attribution.fields.side.equals.S: must be \"long\" or \"short\""},
    {SRC(FIELDS(",'side':{'equals':{'L':'long'}}")),
     "sources.attribution.fields.side: needs a \"pointer\""},
    {SRC(FIELDS(",'side':{'pointer':'/d'}")),
     "sources.attribution.fields.side: needs an \"equals\" map beside its \"pointer\""},
    {SRC(FIELDS(",'side':{'pointer':'/d','equals':{'L':1}}")),
     "sources.attribution.fields.side.equals.L: must be a non-empty string"},
    {SRC(FIELDS(",'qty':{'ratio':['/a']}")),
     "sources.attribution.fields.qty.ratio: must be a list of two JSON pointers"},
    {SRC(FIELDS(",'qty':{'ratio':['/a','/b'],'pointer':'/c'}")),
     "sources.attribution.fields.qty.ratio: stands alone (no other key beside it)"},
    {SRC(FIELDS(",'entry_ts':{'difference':['/a','/b']}")),
     "sources.attribution.fields.entry_ts: is not a number: only a numeric field can be a ratio "
     "or a difference"},
    {SRC(FIELDS(",'qty':{'sum':['/a','/b']}")),
     "sources.attribution.fields.qty.sum: unknown key (pointer, equals; or ratio, difference)"},
    {SRC(FIELDS(",'categories':{'symbol':'/s'}")),
     "sources.attribution.fields.categories.symbol: is a canonical field's name: map it under "
     "\"fields\", or name the category otherwise"},
    {SRC(FIELDS(",'categories':{'v':{'difference':['/a','/b']}}")),
     "sources.attribution.fields.categories.v: a category is a text, not a derived number"},
    {SRC(FIELDS(",'categories':{'a b':'/s'}")),
     "sources.attribution.fields.categories.a b: a name is 1 to 47 letters, digits, '_', '-' or "
     "'.'"},
    {SRC(FIELDS(",'categories':['/venue']")),
     "sources.attribution.fields.categories: must map category names to fields"},
    {"{'knobs':'min_confidence','sources':{'attribution':{'file':'a.jsonl','kind':'open',"
     "'fields':{'ts':'/ts'}}}}",
     "knobs: must be a list of knob names ([] for none)"},
    {"{'knobs':['max_positions','max_positions'],'sources':{'attribution':{'file':'a.jsonl',"
     "'kind':'open','fields':{'ts':'/ts'}}}}",
     "knobs[1]: is listed twice"},
};

static void test_refused_profiles_say_the_key_and_the_problem(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct profile p;
		struct err err = {0};
		if (load_profile(&p, refused[i].profile, &err) == 0)
			fail_msg("case %zu accepted: %s", i, refused[i].profile);
		if (strcmp(err.msg, refused[i].message) != 0)
			fail_msg("case %zu:\n  got  %s\n  want %s", i, err.msg, refused[i].message);
	}
}

/* The leak guard the other way: what is known at entry is accepted. */
static void test_features_known_at_entry_pass_the_leak_guard(void **state)
{
	struct profile p;
	struct err err = {0};
	(void)state;
	assert_int_equal(load_profile(&p,
				      SRC("'fields':{'ts':'/ts','pnl_usd':'/result/pnl',"
					  "'pnl_pct':{'ratio':['/net','/notional']},"
					  "'hold_minutes':{'difference':['/exit','/entry']},"
					  "'components':{'notional':'/notional','entry':'/entry',"
					  "'r':'/resultant'},'regime':'/result_kind'}"),
				      &err),
			 0);
	profile_release(&p);
	/* The crypto profile lists one knob; the canonical one every knob. */
	assert_true(profile_has_knob(&crypto, "min_confidence"));
	assert_false(profile_has_knob(&crypto, "max_positions"));
	assert_true(profile_has_knob(&canonical, "max_positions"));
}

static void test_a_trade_id_is_the_key_when_no_key_is_given(void **state)
{
	struct profile p;
	struct err err = {0};
	struct record r;
	const char *reason;
	char detail[128];
	(void)state;
	assert_int_equal(load_profile(&p,
				      "{'sources':{'attribution':{'file':'a.jsonl','kind':'close',"
				      "'fields':{'ts':'/ts','trade_id':'/tid','symbol':'/s',"
				      "'pnl_usd':'/p'}}}}",
				      &err),
			 0);
	char *line = unquote("{'ts':1770303600,'tid':'X9','s':'SOL','p':1}");
	assert_int_equal(record_parse(&p, PROFILE_SOURCE_ATTRIBUTION, line, strlen(line), &r,
				      &reason, detail, sizeof detail),
			 RECORD_OK);
	assert_string_equal(r.key, "X9");
	record_release(&r);
	free(line);
	profile_release(&p);
}

static void test_the_report_is_told_the_basis_of_pnl_fractions(void **state)
{
	char basis[256];
	struct profile stock;
	(void)state;
	profile_pnl_basis(&crypto, basis, sizeof basis);
	assert_string_equal(basis, "pnl_pct /net_pnl / /notional_size (a ratio); else pnl_usd / "
				   "(entry_price x qty)");
	profile_pnl_basis(&canonical, basis, sizeof basis);
	assert_string_equal(basis, "pnl_pct /pnl_pct as logged, a fraction; else pnl_usd / "
				   "(entry_price x qty)");
	assert_int_equal(profile_builtin(&stock, "stock-bot", NULL), 0);
	profile_pnl_basis(&stock, basis, sizeof basis);
	assert_string_equal(basis, "pnl_pct /context/pnl_pct as logged, in percent; else pnl_usd / "
				   "(entry_price x qty)");
	profile_release(&stock);
}

static void test_sessions_replace_the_time_of_day_buckets(void **state)
{
	struct calendar_session s[2] = {{"asia", 0, 8 * 60}, {"late", 22 * 60, 2 * 60}};
	int64_t day = 1770249600LL * 1000000; /* 2026-02-05T00:00:00Z */
	(void)state;
	assert_int_equal(calendar_set_zone("UTC"), 0);
	calendar_set_sessions(s, 2);
	assert_string_equal(calendar_time_of_day(day + 3600LL * 1000000), "asia");
	assert_string_equal(calendar_time_of_day(day + 23 * 3600LL * 1000000), "late");
	assert_string_equal(calendar_time_of_day(day + 12 * 3600LL * 1000000), "other");
	assert_string_equal(calendar_sessions_text(),
			    "exchange time: asia 00:00-08:00, late 22:00-02:00");
	calendar_set_sessions(NULL, 0);
	assert_string_equal(calendar_time_of_day(day + 12 * 3600LL * 1000000), "lunch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profile_cases_give_their_record_or_counted_reason),
	    cmocka_unit_test(test_unmapped_values_are_counted_per_field),
	    cmocka_unit_test(test_refused_profiles_say_the_key_and_the_problem),
	    cmocka_unit_test(test_features_known_at_entry_pass_the_leak_guard),
	    cmocka_unit_test(test_a_trade_id_is_the_key_when_no_key_is_given),
	    cmocka_unit_test(test_the_report_is_told_the_basis_of_pnl_fractions),
	    cmocka_unit_test(test_sessions_replace_the_time_of_day_buckets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
