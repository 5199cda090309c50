#include "lib/store/outcome.h"

#include <stdlib.h>
#include <string.h>

#include "lib/base/calendar.h"
#include "lib/base/jsontext.h"

void outcome_reason_family(const char *reason, char *buf, size_t len)
{
	size_t n = 0;
	int depth = 0;

	if (!reason || !*reason) {
		snprintf(buf, len, "unknown");
		return;
	}
	for (const char *p = reason; *p && n + 1 < len; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ')
			buf[n++] = *p;
	}
	buf[n] = '\0';
	if (n == 0)
		snprintf(buf, len, "unknown");
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t us)
{
	char buf[40];
	if (us == CALENDAR_NONE)
		return json_null();
	calendar_format_iso(us, buf, sizeof buf);
	return json_string(buf);
}

json_t *outcome_from_record(const struct record *r)
{
	char family[128];
	int64_t at = r->entry_ts != CALENDAR_NONE ? r->entry_ts : r->ts;
	json_t *o = json_object();

	outcome_reason_family(r->close_reason, family, sizeof family);
	json_object_set_new(o, "trade_id", json_string(r->key));
	json_object_set_new(o, "symbol", json_string(r->symbol));
	json_object_set_new(o, "side",
			    r->side > 0	  ? json_string("long")
			    : r->side < 0 ? json_string("short")
					  : json_null());
	json_object_set_new(o, "entry_ts", time_or_null(r->entry_ts));
	json_object_set_new(o, "exit_ts", time_or_null(r->ts));
	json_object_set_new(o, "entry_price", jsontext_real_or_null(r->entry_price));
	json_object_set_new(o, "exit_price", jsontext_real_or_null(r->exit_price));
	json_object_set_new(o, "qty", jsontext_real_or_null(r->qty));
	json_object_set_new(o, "pnl_usd", jsontext_real_or_null(r->pnl_usd));
	json_object_set_new(o, "pnl_frac", jsontext_real_or_null(r->pnl_frac));
	json_object_set_new(o, "hold_minutes", jsontext_real_or_null(r->hold_minutes));
	json_object_set_new(o, "confidence", jsontext_real_or_null(r->confidence));
	json_object_set_new(o, "score", jsontext_real_or_null(r->score));
	json_object_set_new(o, "regime", string_or_null(r->regime));
	json_object_set_new(o, "sector", string_or_null(r->sector));
	json_object_set_new(o, "timeframe", string_or_null(r->timeframe));
	json_object_set_new(o, "time_of_day", json_string(calendar_time_of_day(at)));
	json_object_set_new(o, "day_of_week", json_string(calendar_day_of_week(at)));
	json_object_set_new(o, "close_reason", json_string(family));
	json_object_set_new(
	    o, "partial", jsontext_real_or_null(r->kind == PROFILE_KIND_CLOSE ? 1.0 : r->fraction));
	json_object_set_new(o, "components",
			    r->components ? json_deep_copy(r->components) : json_null());
	return o;
}

char *outcome_encode(const struct record *r)
{
	json_t *o = outcome_from_record(r);
	char *s = jsontext_dump(o, JSONTEXT_COMPACT, NULL);
	json_decref(o);
	return s;
}
