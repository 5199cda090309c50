/*
 * fuzz_learner — a learner generation's JSON through learner_load, then the
 * loaded learner used as the daemon uses it: saved, exported, its metrics
 * read, one trade predicted and learned. A saved learner that loaded must be
 * usable whatever its numbers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"
#include "lib/learn/learner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char close_row[] =
    "{\"ts\":\"2026-02-05T16:00:00Z\",\"event\":\"close\",\"trade_id\":\"T1\",\"symbol\":\"AAPL\","
    "\"side\":\"long\",\"qty\":10,\"entry_price\":100,\"exit_price\":101,\"pnl_usd\":10,"
    "\"pnl_pct\":0.01,\"hold_minutes\":30,\"close_reason\":\"take_profit\",\"confidence\":0.6,"
    "\"regime\":\"trend\",\"components\":{\"momentum\":0.5,\"order_flow\":-0.2,\"flag\":true}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *saved = json_loadb((const char *)data, size, 0, &je);
	if (!saved)
		return 0;
	struct err e = {0};
	struct learner *l = learner_new(NULL, &e);
	if (!l)
		__builtin_trap();
	if (learner_load(l, saved, &e) == 0) {
		json_t *again = learner_save(l);
		json_t *exported = learner_export(l, "2026-02-05T16:00:00Z");
		struct learner_metrics m;
		learner_metrics(l, &m);
		json_t *cal = learner_calibration_json(&m, 500);
		json_decref(cal);
		json_decref(exported);
		json_decref(again);
		struct profile p;
		struct record r;
		const char *reason = NULL;
		char detail[128];
		if (profile_builtin(&p, "canonical", &e) != 0)
			__builtin_trap();
		if (record_parse(&p, PROFILE_SOURCE_ATTRIBUTION, close_row, strlen(close_row), &r,
				 &reason, detail, sizeof detail) == RECORD_OK) {
			(void)learner_predict(l, &r);
			(void)learner_learn(l, &r);
		}
		record_release(&r);
		profile_release(&p);
	} else if (!e.msg[0]) {
		__builtin_trap();
	}
	learner_free(l);
	json_decref(saved);
	return 0;
}
