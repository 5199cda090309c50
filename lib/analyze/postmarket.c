#include "lib/analyze/postmarket.h"

#include <string.h>

#include "lib/base/schedule.h"

#define KEY(f, d, lo, hi) OPTION_NUMBER(struct postmarket_options, f, d, lo, hi)
static const struct option_key postmarket_keys[] = {
    OPTION_GROUP("missed_", struct postmarket_options, missed, missed_option_table),
    KEY(stale_hours, 24, 0.01, 1e6),
    KEY(min_trades, 10, 1, 1000000),
    KEY(win_rate_drop, 0.08, 0, 1),
    KEY(accuracy_drop, 0.10, 0, 1),
    KEY(profit_factor_floor, 1.0, 0, 1000),
    KEY(profit_factor_baseline, 1.2, 0, 1000),
    KEY(retrain_after_days, 7, 0, 36500),
    KEY(sharpe_7d_floor, 0.3, -1000, 1000),
    KEY(success_rate_floor, 0.40, 0, 1),
    KEY(drift_lambda, 50, 0.001, 1e9),
};
#undef KEY

const struct option_table postmarket_option_table = OPTION_TABLE(postmarket_keys, NULL);

void postmarket_options_init(struct postmarket_options *o)
{
	memset(o, 0, sizeof *o);
	option_defaults(&postmarket_option_table, o);
}

double postmarket_capital(json_t *equity, double capital_usd, int32_t day)
{
	double capital = capital_usd;
	size_t i;
	json_t *v;
	json_array_foreach(equity, i, v)
	{
		int32_t d;
		const char *text = json_string_value(json_object_get(v, "day"));
		if (!text || schedule_parse_day(text, &d) || d > day)
			break;
		json_t *x = json_object_get(v, d == day ? "first" : "last");
		if (json_is_number(x) && json_number_value(x) > 0)
			capital = json_number_value(x);
	}
	return capital;
}
