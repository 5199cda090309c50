#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/store/state.h"

/* Each test gets a fresh state folder, removed afterwards. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	char *dir = strdup("/tmp/test_state.XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int remove_folder(void **state)
{
	char *dir = *state;
	int rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return rc;
}

static void fill_position(struct follow_position *p, const char *path, uint64_t seed)
{
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->dev = 0x801 + seed;
	p->ino = 1000000 + seed;
	p->offset = 4096 * seed + 17;
	p->size = p->offset + 123;
	p->mtime_us = INT64_C(1770301914466025) + (int64_t)seed;
	p->head_len = FOLLOW_HEAD_BYTES;
	p->tail_len = FOLLOW_TAIL_BYTES;
	p->head_hash = UINT64_C(0xcbf29ce484222325) ^ (seed * UINT64_C(0x9e3779b97f4a7c15));
	p->tail_hash = UINT64_C(0xffffffffffffffff) - seed; /* top bit set: hex survives */
	p->compressed = (int)(seed % 2);
}

/* A state with every field set to something recognisable. */
static void fill_state(struct state *st)
{
	state_init(st);
	st->generation = 42;
	st->committed_at = INT64_C(1770301914466025);
	snprintf(st->profile, sizeof(st->profile), "stock-bot");
	snprintf(st->logs, sizeof(st->logs), "/srv/bot/logs");
	snprintf(st->learner_file, sizeof(st->learner_file), "learner.42.json");
	memset(st->learner_sha256, 'a', 64);
	st->learner_sha256[64] = '\0';
	st->output_length[STATE_OUTPUT_OUTCOMES] = 123456;
	st->output_length[STATE_OUTPUT_QUARANTINE] = 789;
	st->output_length[STATE_OUTPUT_TRADE_KEYS] = 8 * 976;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		struct state_source *src = &st->source[s];
		struct state_counters *c = &src->count;
		char path[128];
		snprintf(src->file, sizeof(src->file), "%s.jsonl",
			 profile_source_name((enum profile_source_id)s));
		snprintf(path, sizeof(path), "/srv/bot/logs/%s", src->file);
		src->follow.has_current =
		    s != PROFILE_SOURCE_ORDERS; /* one source without a file */
		if (src->follow.has_current)
			fill_position(&src->follow.current, path, (uint64_t)s + 1);
		src->follow.n_draining = (size_t)s;
		for (int k = 0; k < s; k++) {
			char rotated[160];
			snprintf(rotated, sizeof(rotated), "%s.%d", path, k + 1);
			fill_position(&src->follow.draining[k], rotated, (uint64_t)(10 * s + k));
		}
		src->follow.n_done = s == PROFILE_SOURCE_EXIT ? FOLLOW_MAX_DONE : (size_t)s;
		for (size_t k = 0; k < src->follow.n_done; k++) {
			src->follow.done[k].head_len = (uint32_t)(100 + k);
			src->follow.done[k].head_hash = UINT64_C(0x8000000000000000) | k;
			src->follow.done[k].size = 1000 * k + 1;
		}
		c->read = 1000 + (uint64_t)s;
		c->learned = 900 + (uint64_t)s;
		c->trades = 976 + (uint64_t)s;
		c->quarantined = 3 + (uint64_t)s;
		c->skipped = 97 + (uint64_t)s;
		c->ignored = 90;
		c->duplicates = 4;
		c->long_lines = 2;
		c->tails = 1;
		c->sign_mismatch = 5 + (uint64_t)s;
		c->last_record_ts = INT64_C(1770301914466025) + 1000000 * s;
		snprintf(c->last_record_id, sizeof(c->last_record_id), "close_BA_%d", s);
	}
}

static void assert_position_equal(const struct follow_position *a, const struct follow_position *b)
{
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->dev, b->dev);
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->mtime_us, b->mtime_us);
	assert_int_equal(a->head_len, b->head_len);
	assert_int_equal(a->tail_len, b->tail_len);
	assert_int_equal(a->head_hash, b->head_hash);
	assert_int_equal(a->tail_hash, b->tail_hash);
	assert_int_equal(a->compressed, b->compressed);
}

static void assert_state_equal(const struct state *a, const struct state *b)
{
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->committed_at, b->committed_at);
	assert_string_equal(a->profile, b->profile);
	assert_string_equal(a->logs, b->logs);
	assert_string_equal(a->learner_file, b->learner_file);
	assert_string_equal(a->learner_sha256, b->learner_sha256);
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++)
		assert_int_equal(a->output_length[i], b->output_length[i]);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		const struct state_source *x = &a->source[s], *y = &b->source[s];
		assert_string_equal(x->file, y->file);
		assert_int_equal(x->follow.has_current, y->follow.has_current);
		if (x->follow.has_current)
			assert_position_equal(&x->follow.current, &y->follow.current);
		assert_int_equal(x->follow.n_draining, y->follow.n_draining);
		for (size_t k = 0; k < x->follow.n_draining; k++)
			assert_position_equal(&x->follow.draining[k], &y->follow.draining[k]);
		assert_int_equal(x->follow.n_done, y->follow.n_done);
		for (size_t k = 0; k < x->follow.n_done; k++) {
			assert_int_equal(x->follow.done[k].head_len, y->follow.done[k].head_len);
			assert_int_equal(x->follow.done[k].head_hash, y->follow.done[k].head_hash);
			assert_int_equal(x->follow.done[k].size, y->follow.done[k].size);
		}
		const struct state_counters *c = &x->count, *d = &y->count;
		assert_int_equal(c->read, d->read);
		assert_int_equal(c->learned, d->learned);
		assert_int_equal(c->trades, d->trades);
		assert_int_equal(c->quarantined, d->quarantined);
		assert_int_equal(c->skipped, d->skipped);
		assert_int_equal(c->ignored, d->ignored);
		assert_int_equal(c->duplicates, d->duplicates);
		assert_int_equal(c->long_lines, d->long_lines);
		assert_int_equal(c->tails, d->tails);
		assert_int_equal(c->sign_mismatch, d->sign_mismatch);
		assert_int_equal(c->last_record_ts, d->last_record_ts);
		assert_string_equal(c->last_record_id, d->last_record_id);
	}
	/* Nothing else either: both were zeroed before being filled. */
	assert_memory_equal(a, b, sizeof(*a));
}

static void test_to_json_from_json_round_trip(void **state)
{
	static struct state st, back;
	struct err err = {0};
	(void)state;
	fill_state(&st);
	json_t *j = state_to_json(&st);
	assert_non_null(j);
	assert_int_equal(state_from_json(j, &back, &err), 0);
	assert_state_equal(&st, &back);
	json_decref(j);
}

static void test_round_trip_of_a_fresh_state(void **state)
{
	static struct state st, back;
	struct err err = {0};
	(void)state;
	state_init(&st);
	json_t *j = state_to_json(&st);
	assert_int_equal(state_from_json(j, &back, &err), 0);
	assert_state_equal(&st, &back);
	assert_true(json_is_null(json_object_get(j, "last_processed_ts")));
	assert_true(json_is_null(json_object_get(j, "learner_file")));
	json_decref(j);
}

/* Counts jansson's live allocations, to see that a document is freed whole. */
static long jansson_live;

static void *counting_malloc(size_t n)
{
	jansson_live++;
	return malloc(n);
}

static void counting_free(void *p)
{
	if (p)
		jansson_live--;
	free(p);
}

/* Sources without a file are left out of the JSON, and what was built for
 * them is freed: state_to_json runs at every commit. */
static void test_to_json_frees_everything_for_sources_without_a_file(void **state)
{
	static struct state st;
	(void)state;
	fill_state(&st);
	st.source[PROFILE_SOURCE_SIGNALS].file[0] = '\0';
	st.source[PROFILE_SOURCE_ORDERS].file[0] = '\0';
	json_set_alloc_funcs(counting_malloc, counting_free);
	jansson_live = 0;
	json_t *j = state_to_json(&st);
	assert_null(json_object_get(json_object_get(j, "sources"), "signals"));
	assert_non_null(json_object_get(json_object_get(j, "sources"), "exit"));
	json_decref(j);
	long live = jansson_live;
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(live, 0);
}

static void test_json_keeps_the_original_learner_keys(void **state)
{
	static struct state st;
	(void)state;
	fill_state(&st);
	st.source[PROFILE_SOURCE_ATTRIBUTION].count.trades = 976;
	st.source[PROFILE_SOURCE_EXIT].count.learned = 970;
	st.source[PROFILE_SOURCE_SIGNALS].count.learned = 2000;
	st.source[PROFILE_SOURCE_ORDERS].count.learned = 12;
	json_t *j = state_to_json(&st);

	static const struct {
		const char *key;
		json_int_t value;
	} totals[] = {
	    {"total_trades_processed", 976},
	    {"total_exits_processed", 970},
	    {"total_signals_processed", 2000},
	    {"total_orders_processed", 12},
	};
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		json_t *v = json_object_get(j, totals[i].key);
		if (!json_is_integer(v) || json_integer_value(v) != totals[i].value)
			fail_msg("%s: expected %lld", totals[i].key, (long long)totals[i].value);
	}
	/* The latest record of any source (the context's, 4 s after the first). */
	assert_string_equal(json_string_value(json_object_get(j, "last_processed_ts")),
			    "2026-02-05T14:31:58.466025Z");
	assert_int_equal(json_integer_value(json_object_get(j, "format")), STATE_FORMAT);
	json_decref(j);
}

static void test_from_json_refuses_other_formats(void **state)
{
	static struct state st;
	struct err err = {0};
	static const char *const texts[] = {"{\"format\": 2}", "{}", "[]", "{\"format\": \"1\"}"};
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_error_t jerr;
		json_t *j = json_loads(texts[i], 0, &jerr);
		assert_int_equal(state_from_json(j, &st, &err), -1);
		assert_true(err.msg[0] != '\0');
		json_decref(j);
	}
}

static void test_output_paths(void **state)
{
	(void)state;
	assert_string_equal(state_output_path(STATE_OUTPUT_OUTCOMES),
			    "outcomes/trade_outcomes.jsonl.zst");
	assert_string_equal(state_output_path(STATE_OUTPUT_QUARANTINE), "quarantine.jsonl");
	assert_string_equal(state_output_path(STATE_OUTPUT_TRADE_KEYS), "outcomes/trade_keys.bin");
}

static void file_path(char *buf, size_t len, const char *dir, const char *suffix)
{
	snprintf(buf, len, "%s/%s%s", dir, STATE_FILE, suffix);
}

static void test_save_then_load(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	char path[512];
	struct stat sb;
	fill_state(&st);
	if (state_save(dir, &st, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_MAIN);
	assert_state_equal(&st, &back);

	/* The file is pretty JSON that ends with a newline. */
	char *text;
	size_t len;
	file_path(path, sizeof(path), dir, "");
	assert_int_equal(durable_read_all(path, &text, &len, &err), 0);
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_non_null(strstr(text, "\n  \"generation\": 42,\n"));
	free(text);
	/* First save: there was no committed file to keep as .prev. */
	file_path(path, sizeof(path), dir, ".prev");
	assert_int_equal(stat(path, &sb), -1);
}

static void test_absent_state_loads_as_first_start(void **state)
{
	const char *dir = *state;
	static struct state st;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	assert_int_equal(state_load(dir, &st, &origin, &err), 0);
	assert_int_equal(origin, STATE_NONE);
	assert_int_equal(st.generation, 0);
	assert_int_equal(st.source[PROFILE_SOURCE_ATTRIBUTION].count.last_record_ts, CALENDAR_NONE);
}

/* Two commits, then the main file is damaged: the one before is used. */
static void test_damaged_main_file_falls_back_to_prev(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	char path[512];
	static const char *const damage[] = {"{\"format\": 1, \"generation\": 4", "", "garbage\n",
					     "{\"format\": 99}"};

	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		fill_state(&st);
		st.generation = 1;
		assert_int_equal(state_save(dir, &st, &err), 0);
		st.generation = 2;
		assert_int_equal(state_save(dir, &st, &err), 0);

		file_path(path, sizeof(path), dir, "");
		FILE *f = fopen(path, "w"); /* in place: .prev is a link to the old inode */
		assert_non_null(f);
		fputs(damage[i], f);
		fclose(f);

		assert_int_equal(state_load(dir, &back, &origin, &err), 0);
		assert_int_equal(origin, STATE_PREV);
		assert_int_equal(back.generation, 1);
		st.generation = 1;
		assert_state_equal(&st, &back);
	}
}

static void test_both_files_damaged_is_an_error(void **state)
{
	const char *dir = *state;
	static struct state st;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	char path[512];
	FILE *f;
	file_path(path, sizeof(path), dir, "");
	f = fopen(path, "w");
	fputs("{", f);
	fclose(f);
	file_path(path, sizeof(path), dir, ".prev");
	f = fopen(path, "w");
	fputs("[]", f);
	fclose(f);
	assert_int_equal(state_load(dir, &st, &origin, &err), -1);
	assert_true(err.msg[0] != '\0');
}

static void test_damaged_main_file_without_prev_is_an_error(void **state)
{
	const char *dir = *state;
	static struct state st;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	char path[512];
	file_path(path, sizeof(path), dir, "");
	FILE *f = fopen(path, "w");
	fputs("{\"format\": 1,", f);
	fclose(f);
	assert_int_equal(state_load(dir, &st, &origin, &err), -1);
	assert_non_null(strstr(err.msg, STATE_FILE));
}

/* Writes text as the main state file, in place (.prev is a link to the old inode). */
static void write_main(const char *dir, const char *text)
{
	char path[512];
	file_path(path, sizeof(path), dir, "");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Two commits (generations 1 and 2), then the main file is replaced by the
 * second commit's JSON with one change: the key at path removed (value
 * NULL), or set to value. */
static void commit_twice_then_edit(const char *dir, struct state *st, const char *parent,
				   const char *key, json_t *value)
{
	struct err err = {0};
	fill_state(st);
	st->generation = 1;
	assert_int_equal(state_save(dir, st, &err), 0);
	st->generation = 2;
	st->output_length[STATE_OUTPUT_QUARANTINE] += 100;
	assert_int_equal(state_save(dir, st, &err), 0);
	json_t *j = state_to_json(st), *o = j;
	if (parent) {
		char copy[256], *save = NULL;
		snprintf(copy, sizeof copy, "%s", parent);
		for (char *part = strtok_r(copy, ".", &save); part;
		     part = strtok_r(NULL, ".", &save))
			o = json_object_get(o, part);
	}
	assert_non_null(o);
	if (value)
		json_object_set_new(o, key, value);
	else
		assert_int_equal(json_object_del(o, key), 0);
	char *text = json_dumps(j, 0);
	write_main(dir, text);
	free(text);
	json_decref(j);
	/* What the first commit holds. */
	st->generation = 1;
	st->output_length[STATE_OUTPUT_QUARANTINE] -= 100;
}

static void test_a_state_file_missing_outputs_falls_back_to_a_whole_prev(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	commit_twice_then_edit(dir, &st, NULL, "outputs", NULL);
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_PREV);
	/* Why the main file was passed over, for the one line that says so. */
	assert_non_null(strstr(err.msg, STATE_FILE ": damaged: outputs is missing"));
	assert_state_equal(&st, &back);
	assert_int_equal(back.output_length[STATE_OUTPUT_QUARANTINE], 789);
}

static void test_a_state_file_with_a_wrong_typed_key_falls_back_to_a_whole_prev(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	commit_twice_then_edit(dir, &st, "sources.attribution.current", "offset",
			       json_string("4113"));
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_PREV);
	assert_state_equal(&st, &back);
}

static void
test_a_state_file_missing_outputs_without_prev_is_refused_saying_what_to_do(void **state)
{
	const char *dir = *state;
	static struct state st;
	struct err err = {0};
	enum state_origin origin = (enum state_origin) - 1;
	char path[512];
	commit_twice_then_edit(dir, &st, NULL, "outputs", NULL);
	file_path(path, sizeof(path), dir, ".prev");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(state_load(dir, &st, &origin, &err), -1);
	assert_non_null(strstr(err.msg, STATE_FILE));
	assert_non_null(strstr(err.msg, "outputs"));
	assert_non_null(strstr(err.msg, "restore it from a backup"));
}

/* Every key the reader uses, removed or of another type (0.5 is the type of
 * none of them), is damage that names the key: never a field silently read
 * as 0. */
static void test_from_json_refuses_a_missing_or_wrong_typed_key_naming_it(void **state)
{
	static struct state st, back;
	static const struct {
		const char *parent, *key;
	} keys[] = {
	    {NULL, "format"},
	    {NULL, "generation"},
	    {NULL, "committed_at_us"},
	    {NULL, "profile"},
	    {NULL, "logs"},
	    {NULL, "learner_file"},
	    {NULL, "sources"},
	    {NULL, "outputs"},
	    {"outputs", "quarantine.jsonl"},
	    {"outputs.outcomes/trade_outcomes.jsonl.zst", "length"},
	    {"sources", "attribution"},
	    {"sources.exit", "file"},
	    {"sources.exit", "current"},
	    {"sources.exit", "draining"},
	    {"sources.exit", "finished"},
	    {"sources.exit", "records_read"},
	    {"sources.exit", "records_learned"},
	    {"sources.exit", "trades_recorded"},
	    {"sources.exit", "records_quarantined"},
	    {"sources.exit", "records_skipped"},
	    {"sources.exit", "skipped_by_reason"},
	    {"sources.exit.skipped_by_reason", "ignored"},
	    {"sources.exit.skipped_by_reason", "duplicate"},
	    {"sources.exit.skipped_by_reason", "long_line"},
	    {"sources.exit.skipped_by_reason", "unterminated_tail"},
	    {"sources.exit", "pnl_sign_mismatch"},
	    {"sources.exit", "last_record_ts_us"},
	    {"sources.exit", "last_record_id"},
	    {"sources.exit.current", "path"},
	    {"sources.exit.current", "device"},
	    {"sources.exit.current", "inode"},
	    {"sources.exit.current", "offset"},
	    {"sources.exit.current", "size"},
	    {"sources.exit.current", "mtime_us"},
	    {"sources.exit.current", "compressed"},
	    {"sources.exit.current", "fingerprint"},
	    {"sources.exit.current.fingerprint", "head_bytes"},
	    {"sources.exit.current.fingerprint", "head_hash"},
	    {"sources.exit.current.fingerprint", "tail_bytes"},
	    {"sources.exit.current.fingerprint", "tail_hash"},
	};
	(void)state;
	fill_state(&st);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		/* A source the profile has no file for is left out. */
		int may_be_left_out = keys[i].parent && strcmp(keys[i].parent, "sources") == 0;
		for (int wrong = may_be_left_out; wrong < 2; wrong++) {
			struct err err = {0};
			json_t *j = state_to_json(&st), *o = j;
			char copy[256], *save = NULL;
			snprintf(copy, sizeof copy, "%s", keys[i].parent ? keys[i].parent : "");
			/* Output paths hold '/', not '.': split on '.' only
			 * before "outputs." */
			if (keys[i].parent && strncmp(copy, "outputs.", 8) == 0) {
				o = json_object_get(json_object_get(o, "outputs"), copy + 8);
			} else {
				for (char *part = strtok_r(copy, ".", &save); part;
				     part = strtok_r(NULL, ".", &save))
					o = json_object_get(o, part);
			}
			assert_non_null(o);
			if (wrong)
				json_object_set_new(o, keys[i].key, json_real(0.5));
			else
				assert_int_equal(json_object_del(o, keys[i].key), 0);
			if (state_from_json(j, &back, &err) != -1)
				fail_msg("%s.%s %s: loaded", keys[i].parent ? keys[i].parent : "",
					 keys[i].key, wrong ? "0.5" : "removed");
			if (!strstr(err.msg, keys[i].key))
				fail_msg("%s %s: \"%s\" does not name it", keys[i].key,
					 wrong ? "0.5" : "removed", err.msg);
			json_decref(j);
		}
	}
}

/* Reads the main state file into *text (malloc'd). */
static void read_main(const char *dir, char **text)
{
	char path[512];
	size_t len;
	struct err err = {0};
	file_path(path, sizeof(path), dir, "");
	assert_int_equal(durable_read_all(path, text, &len, &err), 0);
}

/* Any byte of a committed file changed (here one digit of a length, or a
 * space) fails its checksum: the start falls back to .prev. */
static void test_a_byte_changed_in_a_sealed_file_fails_its_checksum(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin;
	fill_state(&st);
	st.generation = 1;
	assert_int_equal(state_save(dir, &st, &err), 0);
	st.generation = 2;
	assert_int_equal(state_save(dir, &st, &err), 0);
	char *text;
	read_main(dir, &text);
	assert_non_null(strstr(text, "\"checksum\": \"sha256:"));
	const char *key = strstr(text, "\"length\": ");
	assert_non_null(key);
	size_t at = (size_t)(key - text) + strlen("\"length\": ");
	text[at] = text[at] == '9' ? '8' : (char)(text[at] + 1);
	write_main(dir, text);
	free(text);
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_PREV);
	assert_non_null(strstr(err.msg, "checksum does not match"));
	assert_int_equal(back.generation, 1);
}

/* An earlier version's file, without a checksum, is read once; beside a
 * sealed .prev the same file is damage. */
static void test_a_file_without_checksum_is_accepted_only_without_a_sealed_prev(void **state)
{
	const char *dir = *state;
	static struct state st, back;
	struct err err = {0};
	enum state_origin origin;
	char path[512];
	fill_state(&st);
	st.generation = 1;
	json_t *j = state_to_json(&st);
	char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	write_main(dir, text);
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_UNSEALED);
	assert_non_null(strstr(err.msg, "has no checksum"));
	assert_state_equal(&st, &back);

	st.generation = 2;
	assert_int_equal(state_save(dir, &st, &err), 0); /* sealed; .prev is the old one */
	file_path(path, sizeof(path), dir, ".prev");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(state_save(dir, &st, &err), 0); /* .prev sealed too */
	write_main(dir, text);
	free(text);
	assert_int_equal(state_load(dir, &back, &origin, &err), 0);
	assert_int_equal(origin, STATE_PREV);
	assert_non_null(strstr(err.msg, "checksum is missing"));
	assert_int_equal(back.generation, 2);
}

/* The digest of the learner generation is 64 lowercase hexadecimal digits;
 * a state of an earlier version has none and reads with "". */
static void test_learner_sha256_is_64_hex_digits_or_absent(void **state)
{
	static struct state st, back;
	static const char *const bad[] = {
	    "abc", "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"};
	(void)state;
	fill_state(&st);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err err = {0};
		json_t *j = state_to_json(&st);
		json_object_set_new(j, "learner_sha256", json_string(bad[i]));
		assert_int_equal(state_from_json(j, &back, &err), -1);
		assert_non_null(strstr(err.msg, "learner_sha256"));
		json_decref(j);
	}
	struct err err = {0};
	json_t *j = state_to_json(&st);
	json_object_del(j, "learner_sha256");
	assert_int_equal(state_from_json(j, &back, &err), 0);
	assert_string_equal(back.learner_sha256, "");
	assert_string_equal(back.learner_file, st.learner_file);
	json_decref(j);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_folder, remove_folder)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_to_json_from_json_round_trip),
	    cmocka_unit_test(test_round_trip_of_a_fresh_state),
	    cmocka_unit_test(test_to_json_frees_everything_for_sources_without_a_file),
	    cmocka_unit_test(test_json_keeps_the_original_learner_keys),
	    cmocka_unit_test(test_learner_sha256_is_64_hex_digits_or_absent),
	    cmocka_unit_test(test_from_json_refuses_other_formats),
	    cmocka_unit_test(test_output_paths),
	    T(test_save_then_load),
	    T(test_absent_state_loads_as_first_start),
	    T(test_damaged_main_file_falls_back_to_prev),
	    T(test_both_files_damaged_is_an_error),
	    T(test_damaged_main_file_without_prev_is_an_error),
	    T(test_a_state_file_missing_outputs_falls_back_to_a_whole_prev),
	    T(test_a_state_file_with_a_wrong_typed_key_falls_back_to_a_whole_prev),
	    T(test_a_state_file_missing_outputs_without_prev_is_refused_saying_what_to_do),
	    cmocka_unit_test(test_from_json_refuses_a_missing_or_wrong_typed_key_naming_it),
	    T(test_a_byte_changed_in_a_sealed_file_fails_its_checksum),
	    T(test_a_file_without_checksum_is_accepted_only_without_a_sealed_prev),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
