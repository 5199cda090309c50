/*
 * fuzz_state — a state file through state_load (the file as the daemon reads
 * it at start: parse, checks, fallback) and its JSON through state_from_json.
 * A state is accepted or refused with a message; a loaded one saves again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <jansson.h>
#include "lib/base/err.h"
#include "lib/store/state.h"
#include "tests/fuzz/fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(STATE_FILE, data, size);
	struct state st;
	enum state_origin origin;
	struct err e = {0};
	state_init(&st);
	if (state_load(fuzz_dir(), &st, &origin, &e) == 0) {
		json_t *again = state_to_json(&st);
		json_decref(again);
	} else if (!e.msg[0]) {
		__builtin_trap(); /* a refusal always says why */
	}

	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, 0, &je);
	if (j) {
		struct err fe = {0};
		state_init(&st);
		(void)state_from_json(j, &st, &fe);
		json_decref(j);
	}
	return 0;
}
