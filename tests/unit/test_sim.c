#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/sim/sim.h"

/* Each test runs in its own fresh folder under /tmp, removed afterwards. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_folder(void **state)
{
	char *dir = strdup("/tmp/test_sim.XXXXXX");
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

static char *join(const char *dir, const char *name)
{
	char *path;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	return path;
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *data = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (n + 65536 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			data = realloc(data, cap + 1);
			assert_non_null(data);
		}
		got = fread(data + n, 1, 65536, f);
		n += got;
	} while (got > 0);
	fclose(f);
	data[n] = '\0';
	*len = n;
	return data;
}

static void run_batch(const char *dir, enum sim_profile profile, int days, uint64_t seed,
		      double malformed, struct sim_truth *truth)
{
	struct sim_options opt;
	struct err err = {0};
	sim_options_init(&opt);
	opt.logs_dir = dir;
	opt.profile = profile;
	opt.days = days;
	opt.seed = seed;
	opt.malformed_share = malformed;
	int rc = sim_run_batch(&opt, truth, &err);
	if (rc != 0)
		fail_msg("sim_run_batch: %s", err.msg);
}

static const char *const sources[] = {"attribution", "exit", "signals", "orders"};

static void test_source_file_names(void **state)
{
	(void)state;
	assert_string_equal(sim_source_file(SIM_CANONICAL, "attribution"), "attribution.jsonl");
	assert_string_equal(sim_source_file(SIM_CANONICAL, "exit"), "exits.jsonl");
	assert_string_equal(sim_source_file(SIM_CANONICAL, "signals"), "signals.jsonl");
	assert_string_equal(sim_source_file(SIM_CANONICAL, "orders"), "orders.jsonl");
	assert_string_equal(sim_source_file(SIM_STOCK_BOT, "attribution"), "attribution.jsonl");
	assert_string_equal(sim_source_file(SIM_STOCK_BOT, "exit"), "exit_attribution.jsonl");
	assert_string_equal(sim_source_file(SIM_STOCK_BOT, "signals"), "blocked_trades.jsonl");
	assert_string_equal(sim_source_file(SIM_STOCK_BOT, "orders"), "orders.jsonl");
	assert_null(sim_source_file(SIM_CANONICAL, "fills"));
}

static void assert_same_batches(const char *root, enum sim_profile profile)
{
	char *a = join(root, "a"), *b = join(root, "b");
	struct sim_truth ta, tb;
	run_batch(a, profile, 5, 42, 0.01, &ta);
	run_batch(b, profile, 5, 42, 0.01, &tb);
	for (size_t i = 0; i < 4; i++) {
		const char *name = sim_source_file(profile, sources[i]);
		char *pa = join(a, name), *pb = join(b, name);
		size_t la, lb;
		char *da = read_whole(pa, &la), *db = read_whole(pb, &lb);
		assert_true(la > 0);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
		free(da);
		free(db);
		free(pa);
		free(pb);
	}
	assert_int_equal(ta.lines_written, tb.lines_written);
	assert_true(ta.oracle_auc == tb.oracle_auc);
	free(a);
	free(b);
}

static void test_batch_same_seed_gives_identical_files(void **state)
{
	assert_same_batches(*state, SIM_CANONICAL);
}

static void test_stock_bot_batch_same_seed_gives_identical_files(void **state)
{
	assert_same_batches(*state, SIM_STOCK_BOT);
}

static void test_other_seed_gives_other_files(void **state)
{
	char *a = join(*state, "a"), *b = join(*state, "b");
	struct sim_truth ta, tb;
	run_batch(a, SIM_CANONICAL, 2, 1, 0.005, &ta);
	run_batch(b, SIM_CANONICAL, 2, 2, 0.005, &tb);
	char *pa = join(a, "signals.jsonl"), *pb = join(b, "signals.jsonl");
	size_t la, lb;
	char *da = read_whole(pa, &la), *db = read_whole(pb, &lb);
	assert_true(la != lb || memcmp(da, db, la) != 0);
	free(da);
	free(db);
	free(pa);
	free(pb);
	free(a);
	free(b);
}

/* What a careful reader counts in one file: JSON objects with a symbol. */
struct tally {
	long lines, not_json, missing_symbol, objects;
	long opens, closes, scales, wins, exits, heartbeats, signals, untraded, orders;
	double closes_pnl, scales_pnl;
	long inconsistent; /* exit price on the wrong side of entry for the P&L */
	long fractions_out_of_range;
};

static void tally_file(const char *path, int stock_bot, int kind, struct tally *t)
{
	size_t len;
	char *data = read_whole(path, &len);
	char *line = data, *nl;
	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		t->lines++;
		json_t *row = json_loads(line, 0, NULL);
		line = nl + 1;
		if (!json_is_object(row)) {
			t->not_json++;
			json_decref(row);
			continue;
		}
		const char *event = json_string_value(json_object_get(row, "event"));
		if (event && strcmp(event, "heartbeat") == 0) {
			t->heartbeats++;
			json_decref(row);
			continue;
		}
		if (!json_object_get(row, "symbol")) {
			t->missing_symbol++;
			json_decref(row);
			continue;
		}
		t->objects++;
		if (kind == 0) {
			const char *what = event;
			json_t *ctx = json_object_get(row, "context");
			if (stock_bot) {
				const char *id =
				    json_string_value(json_object_get(row, "trade_id"));
				assert_non_null(id);
				what = strncmp(id, "open_", 5) == 0    ? "open"
				       : strncmp(id, "close_", 6) == 0 ? "close"
				       : strncmp(id, "scale_", 6) == 0 ? "scale"
								       : "?";
			}
			assert_non_null(what);
			double pnl = json_real_value(json_object_get(row, "pnl_usd"));
			if (strcmp(what, "open") == 0) {
				t->opens++;
				assert_true(pnl == 0.0 || !stock_bot);
			} else if (strcmp(what, "close") == 0 || strcmp(what, "scale") == 0) {
				json_t *src = stock_bot ? ctx : row;
				double entry = json_real_value(json_object_get(src, "entry_price"));
				double exitp = json_real_value(json_object_get(src, "exit_price"));
				const char *side = json_string_value(
				    json_object_get(src, stock_bot ? "position_side" : "side"));
				if (!side) { /* stock-bot scale rows carry only the order side */
					const char *s =
					    json_string_value(json_object_get(ctx, "side"));
					side =
					    s && (strcmp(s, "buy") == 0 || strcmp(s, "long") == 0)
						? "long"
						: "short";
				}
				double move =
				    strcmp(side, "long") == 0 ? exitp - entry : entry - exitp;
				if ((move > 0) != (pnl > 0) || (move < 0) != (pnl < 0))
					t->inconsistent++;
				if (strcmp(what, "close") == 0) {
					t->closes++;
					t->closes_pnl += pnl;
					if (pnl > 0)
						t->wins++;
				} else {
					t->scales++;
					t->scales_pnl += pnl;
					double f = json_real_value(
					    json_object_get(stock_bot ? ctx : row, "fraction"));
					if (!(f >= 0.3 - 1e-9 && f <= 0.5 + 1e-9))
						t->fractions_out_of_range++;
				}
			}
		} else if (kind == 1) {
			t->exits++;
		} else if (kind == 2) {
			t->signals++;
			json_t *traded = json_object_get(row, "traded");
			if (stock_bot || json_is_false(traded))
				t->untraded++;
		} else {
			t->orders++;
		}
		json_decref(row);
	}
	free(data);
}

static void tally_folder(const char *dir, enum sim_profile profile, struct tally *t)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < 4; i++) {
		char *path = join(dir, sim_source_file(profile, sources[i]));
		tally_file(path, profile == SIM_STOCK_BOT, i, t);
		free(path);
	}
}

static void assert_truth_matches_rows(const char *dir, enum sim_profile profile)
{
	struct sim_truth truth;
	struct tally t;
	run_batch(dir, profile, 10, 7, 0.005, &truth);
	tally_folder(dir, profile, &t);

	assert_int_equal(t.opens, truth.opens);
	assert_int_equal(t.closes, truth.closes);
	assert_int_equal(t.scales, truth.partial_closes);
	assert_int_equal(t.wins, truth.wins);
	assert_true(fabs(t.closes_pnl - truth.closes_pnl_usd) < 1e-6);
	assert_true(fabs(t.scales_pnl - truth.partials_pnl_usd) < 1e-6);
	assert_int_equal(t.exits, truth.exits);
	assert_int_equal(t.signals, truth.signals);
	assert_int_equal(t.untraded, truth.untraded_signals);
	assert_int_equal(t.orders, truth.orders);
	assert_int_equal(t.lines, truth.lines_written);
	assert_int_equal(t.not_json + t.missing_symbol, truth.malformed_lines);
	assert_int_equal(t.inconsistent, 0);
	assert_int_equal(t.fractions_out_of_range, 0);
	/* Volume: about 40–80 closed trades per trading day. */
	assert_true(truth.closes >= 10 * 35 && truth.closes <= 10 * 90);
	assert_true(truth.partial_closes > 0);
	assert_true(truth.wins > 0 && truth.wins < truth.closes);
}

static void test_truth_counts_match_canonical_rows(void **state)
{
	assert_truth_matches_rows(*state, SIM_CANONICAL);
}

static void test_truth_counts_match_stock_bot_rows(void **state)
{
	assert_truth_matches_rows(*state, SIM_STOCK_BOT);
}

static void test_planted_model_is_learnable(void **state)
{
	struct sim_truth truth;
	run_batch(*state, SIM_CANONICAL, 20, 1, 0.005, &truth);
	assert_true(truth.oracle_auc > 0.6 && truth.oracle_auc < 0.95);
	int zeros = 0, positive = 0, negative = 0;
	for (size_t i = 0; i < truth.n_components; i++) {
		zeros += truth.weights[i] == 0;
		positive += truth.weights[i] > 0;
		negative += truth.weights[i] < 0;
	}
	assert_true(zeros >= 2 && positive >= 1 && negative >= 1);
}

/* Mann–Whitney AUC, ties as one half (quadratic: the tests' sets are small). */
static double auc_of(const double *score, const int *win, size_t n)
{
	double pairs = 0, wins = 0;
	for (size_t i = 0; i < n; i++) {
		if (!win[i])
			continue;
		for (size_t j = 0; j < n; j++) {
			if (win[j])
				continue;
			pairs++;
			wins += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
		}
	}
	return pairs ? wins / pairs : 0.5;
}

/* Closes and partial closes as a reader sees them, in file order: the
 * planted probability recomputed from the written components and the truth,
 * the bot's score and confidence (NAN where absent), the label. */
struct closed {
	double planted, score, confidence;
	int win, partial;
};

static size_t read_closed(const char *dir, enum sim_profile profile, const struct sim_truth *truth,
			  struct closed **out)
{
	char *path = join(dir, sim_source_file(profile, "attribution"));
	size_t len, n = 0, cap = 0;
	char *data = read_whole(path, &len), *line = data, *nl;
	struct closed *rows = NULL;
	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		json_t *row = json_loads(line, 0, NULL);
		line = nl + 1;
		const char *id = json_string_value(json_object_get(row, "trade_id"));
		const char *event = json_string_value(json_object_get(row, "event"));
		json_t *src = profile == SIM_STOCK_BOT ? json_object_get(row, "context") : row;
		int partial;
		if (!json_object_get(row, "symbol") || !id) {
			json_decref(row); /* malformed: the truth does not count it either */
			continue;
		}
		if (profile == SIM_STOCK_BOT)
			partial = strncmp(id, "scale_", 6) == 0	  ? 1
				  : strncmp(id, "close_", 6) == 0 ? 0
								  : -1;
		else
			partial = !event			? -1
				  : strcmp(event, "scale") == 0 ? 1
				  : strcmp(event, "close") == 0 ? 0
								: -1;
		if (partial < 0) {
			json_decref(row);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			rows = realloc(rows, cap * sizeof *rows);
			assert_non_null(rows);
		}
		json_t *comps = json_object_get(src, "components"), *v;
		double eta = truth->intercept;
		for (size_t i = 0; i < truth->n_components; i++) {
			v = json_object_get(comps, truth->component_names[i]);
			assert_true(json_is_number(v));
			eta += truth->weights[i] *
			       (json_number_value(v) - truth->component_mean[i]) /
			       truth->component_sd[i];
		}
		v = json_object_get(src, "confidence");
		rows[n].planted = 1 / (1 + exp(-eta));
		rows[n].score = json_number_value(json_object_get(src, "score"));
		rows[n].confidence = json_is_number(v) ? json_number_value(v) : NAN;
		rows[n].win = json_number_value(json_object_get(row, "pnl_usd")) > 0;
		rows[n].partial = partial;
		n++;
		json_decref(row);
	}
	free(data);
	free(path);
	*out = rows;
	return n;
}

/* The bot's score and confidence are its own, mis-specified opinion: over the
 * trades a learner's window scores, the planted model ranks outcomes clearly
 * better than either, so recovering it takes the components. And the truth's
 * two oracle figures are what a reader recomputes from the rows. */
static void assert_bot_opinion_is_not_the_truth(const char *dir, enum sim_profile profile)
{
	struct sim_truth truth;
	struct closed *rows;
	run_batch(dir, profile, 20, 1, 0.005, &truth);
	size_t n = read_closed(dir, profile, &truth, &rows), half = n / 2, full = 0;
	assert_int_equal(n, truth.closes + truth.partial_closes);
	double *planted = malloc(n * sizeof *planted), *score = malloc(n * sizeof *score),
	       *confidence = malloc(n * sizeof *confidence);
	int *win = malloc(n * sizeof *win);
	assert_true(planted && score && confidence && win);
	for (size_t i = 0; i < n; i++) {
		if (rows[i].partial)
			continue;
		planted[full] = rows[i].planted;
		win[full++] = rows[i].win;
	}
	assert_true(fabs(auc_of(planted, win, full) - truth.oracle_auc) < 1e-9);
	for (size_t i = 0; i < half; i++) {
		const struct closed *c = &rows[n - half + i];
		planted[i] = c->planted;
		score[i] = c->score;
		confidence[i] = c->confidence;
		win[i] = c->win;
	}
	double oracle = auc_of(planted, win, half);
	assert_true(fabs(oracle - truth.oracle_auc_second_half) < 1e-9);
	assert_true(auc_of(score, win, half) <= oracle - 0.05);
	if (profile == SIM_CANONICAL)
		assert_true(auc_of(confidence, win, half) <= oracle - 0.05);
	free(planted);
	free(score);
	free(confidence);
	free(win);
	free(rows);
}

static void test_canonical_bot_score_is_its_own_opinion(void **state)
{
	assert_bot_opinion_is_not_the_truth(*state, SIM_CANONICAL);
}

static void test_stock_bot_score_is_its_own_opinion(void **state)
{
	assert_bot_opinion_is_not_the_truth(*state, SIM_STOCK_BOT);
}

static void test_malformed_share_roughly_as_asked(void **state)
{
	char *a = join(*state, "a"), *b = join(*state, "b");
	struct sim_truth ta, tb;
	struct tally t;

	run_batch(a, SIM_CANONICAL, 10, 3, 0.05, &ta);
	double share = (double)ta.malformed_lines / (double)ta.lines_written;
	assert_true(share > 0.04 && share < 0.06);
	tally_folder(a, SIM_CANONICAL, &t);
	assert_true(t.not_json > 0 && t.missing_symbol > 0);

	run_batch(b, SIM_CANONICAL, 10, 3, 0.0, &tb);
	assert_int_equal(tb.malformed_lines, 0);
	tally_folder(b, SIM_CANONICAL, &t);
	assert_int_equal(t.not_json + t.missing_symbol, 0);
	free(a);
	free(b);
}

static void test_truth_file_holds_weights_and_counts(void **state)
{
	struct sim_truth truth;
	struct err err = {0};
	char *logs = join(*state, "logs"), *path = join(*state, "truth.json");
	run_batch(logs, SIM_CANONICAL, 3, 9, 0.005, &truth);
	assert_int_equal(sim_write_truth(&truth, path, &err), 0);

	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "profile")), "canonical");
	assert_int_equal(json_integer_value(json_object_get(root, "seed")), 9);
	assert_int_equal(json_integer_value(json_object_get(root, "days")), 3);
	assert_int_equal(json_integer_value(json_object_get(root, "closes")), truth.closes);
	assert_int_equal(json_integer_value(json_object_get(root, "lines_written")),
			 truth.lines_written);
	json_t *comps = json_object_get(root, "components");
	assert_int_equal(json_object_size(comps), truth.n_components);
	assert_true(json_real_value(json_object_get(comps, "momentum")) > 0);
	assert_true(json_real_value(json_object_get(comps, "noise_a")) == 0);
	json_t *bot = json_object_get(root, "bot_weights");
	assert_int_equal(json_object_size(bot), truth.n_components);
	/* The bot trusts a component that carries nothing. */
	assert_true(json_real_value(json_object_get(bot, "noise_a")) > 0);
	const char *keys[] = {
	    "intercept", "oracle_auc",	   "oracle_auc_second_half", "opens",	"partial_closes",
	    "wins",	 "closes_pnl_usd", "partials_pnl_usd",	     "signals", "untraded_signals",
	    "orders",	 "exits",	   "malformed_lines"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		assert_non_null(json_object_get(root, keys[i]));
	json_decref(root);

	/* No temp file is left beside it. */
	DIR *d = opendir(*state);
	struct dirent *e;
	while ((e = readdir(d)))
		assert_null(strstr(e->d_name, ".tmp"));
	closedir(d);
	free(logs);
	free(path);
}

/* Lines of a rotation, decompressed by the system's gzip when it ends in .gz;
 * *bytes gets the length of its (decompressed) content. */
static long count_lines(const char *path, long *bytes)
{
	char cmd[4200];
	long n = 0;
	int c;
	FILE *f;
	size_t len = strlen(path);
	int gz = len > 3 && strcmp(path + len - 3, ".gz") == 0;
	if (gz) {
		snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
		f = popen(cmd, "r");
	} else {
		f = fopen(path, "r");
	}
	assert_non_null(f);
	*bytes = 0;
	while ((c = fgetc(f)) != EOF) {
		n += c == '\n';
		++*bytes;
	}
	if (gz)
		assert_int_equal(pclose(f), 0);
	else
		fclose(f);
	return n;
}

static void test_live_rotates_and_keeps_every_line(void **state)
{
	struct sim_options opt;
	struct sim_truth history, truth;
	struct err err = {0};
	char *logs = join(*state, "logs");

	if (system("gzip --version >/dev/null 2>&1") != 0)
		skip();
	run_batch(logs, SIM_CANONICAL, 1, 5, 0.005, &history);

	sim_options_init(&opt);
	opt.logs_dir = logs;
	opt.seed = 11;
	opt.rate = 4000;
	opt.rotate_every_s = 0.04;
	opt.max_records = 1500;
	if (sim_run_live(&opt, &truth, &err) != 0)
		fail_msg("sim_run_live: %s", err.msg);
	assert_int_equal(truth.lines_written, 1500);

	long total = 0;
	int rotated = 0, gzipped = 0, few_kb = 0;
	DIR *d = opendir(logs);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		assert_null(strstr(e->d_name, ".tmp"));
		char *path = join(logs, e->d_name);
		long bytes;
		total += count_lines(path, &bytes);
		size_t n = strlen(e->d_name);
		rotated += n > 8 && strcmp(e->d_name + n - 8, ".jsonl.1") == 0;
		if (strstr(e->d_name, ".gz")) {
			struct stat st;
			assert_int_equal(stat(path, &st), 0);
			gzipped++;
			/* Real deflate: JSON lines shrink several times over (stored
			 * blocks would come out larger than the content). */
			if (bytes >= 1024) {
				if (st.st_size * 2 >= bytes)
					fail_msg("%s: %lld bytes for %ld of content", e->d_name,
						 (long long)st.st_size, bytes);
				few_kb += bytes <= 16384;
			}
		}
		free(path);
	}
	closedir(d);
	assert_true(rotated == 4);
	assert_true(gzipped >= 4);
	assert_true(few_kb >= 1); /* at least one rotation of a few KB was compressed */
	assert_int_equal(total, history.lines_written + truth.lines_written);
	free(logs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_source_file_names),
	    cmocka_unit_test_setup_teardown(test_batch_same_seed_gives_identical_files, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_stock_bot_batch_same_seed_gives_identical_files,
					    make_folder, remove_folder),
	    cmocka_unit_test_setup_teardown(test_other_seed_gives_other_files, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_truth_counts_match_canonical_rows, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_truth_counts_match_stock_bot_rows, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_planted_model_is_learnable, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_canonical_bot_score_is_its_own_opinion,
					    make_folder, remove_folder),
	    cmocka_unit_test_setup_teardown(test_stock_bot_score_is_its_own_opinion, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_malformed_share_roughly_as_asked, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_truth_file_holds_weights_and_counts, make_folder,
					    remove_folder),
	    cmocka_unit_test_setup_teardown(test_live_rotates_and_keeps_every_line, make_folder,
					    remove_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
