/*
 * fuzz_record — one log line through record_parse under a profile.
 *
 * The first byte chooses the profile (canonical, stock-bot, or a custom one
 * described by the input's first line) and the source; the rest is the line.
 * record_parse must never fail on data: whatever it returns, the record is
 * released without a leak and a trade's derived fields are computed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/ingest/profile.h"
#include "lib/ingest/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_line(const struct profile *p, enum profile_source_id source, const char *line,
		       size_t len)
{
	struct record r;
	const char *reason = NULL;
	char detail[256];
	enum record_status s =
	    record_parse(p, source, line, len, &r, &reason, detail, sizeof detail);
	if (s == RECORD_OK)
		record_derive_trade(&r);
	if (s == RECORD_QUARANTINE && !reason)
		__builtin_trap(); /* a quarantined row always says why */
	record_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned choice = data[0];
	enum profile_source_id source = (enum profile_source_id)(choice % PROFILE_SOURCE_COUNT);
	const char *line = (const char *)data + 1;
	size_t len = size - 1;
	struct profile p;
	struct err e = {0};
	int mode = (choice / PROFILE_SOURCE_COUNT) % 3;
	if (mode == 2) {
		/* A custom profile: the first line describes it, the rest is the row. */
		const char *nl = memchr(line, '\n', len);
		if (!nl)
			return 0;
		json_error_t je;
		json_t *desc = json_loadb(line, (size_t)(nl - line), 0, &je);
		if (!desc)
			return 0;
		int rc = profile_from_json(&p, "fuzz", desc, &e);
		json_decref(desc);
		if (rc != 0)
			return 0;
		len -= (size_t)(nl - line) + 1;
		line = nl + 1;
	} else if (profile_builtin(&p, mode ? "stock-bot" : "canonical", &e) != 0) {
		__builtin_trap();
	}
	parse_line(&p, source, line, len);
	profile_release(&p);
	return 0;
}
