/*
 * tradelearn verify — coverage audit. Re-reads every file of every source
 * (rotated and compressed ones included), classifies each line as the
 * profile would, and compares with what the committed state says was read,
 * quarantined and recorded. Exit 1 on a mismatch.
 *
 * Which part of the logs counts as processed: the file the state is
 * reading is processed up to its committed offset (the rest is pending);
 * rotated files the state is still finishing likewise; other rotated files
 * are taken as read; a file at the source's own name that the state does
 * not know yet is pending. Records read earlier whose files have since
 * been deleted are reported, not counted as a mismatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/base/durable.h"
#include "lib/store/framelog.h"
#include "lib/ingest/logscan.h"
#include "lib/ingest/record.h"
#include "lib/store/state.h"

static const char verify_usage[] =
    "usage: tradelearn [global options] verify\n"
    "\n"
    "Re-reads the logs (rotated and compressed files included), counts the records\n"
    "of each source and compares them with the committed state and outputs:\n"
    "lines read, rows quarantined, every close and partial close recorded exactly\n"
    "once. Prints one line per source; exit 1 on a mismatch, 0 when all agree.\n";

struct tally {
	uint64_t lines, pending, quarantined, ignored, long_lines, tails, closes;
	json_t *keys;			/* key -> count of rows in the logs (processed part) */
	struct state_counters unmapped; /* only unmapped and features_skipped */
};

/* How far a file counts as processed: UINT64_MAX for all of it. */
static uint64_t processed_limit(const struct follow_saved *fs, const struct logscan_file *e,
				int is_named)
{
	for (size_t i = 0; i <= fs->n_draining; i++) {
		const struct follow_position *p;
		if (i < fs->n_draining)
			p = &fs->draining[i];
		else if (fs->has_current)
			p = &fs->current;
		else
			break;
		if (e->compressed
			? strcmp(p->path, e->path) == 0
			: (p->dev == (uint64_t)e->st.st_dev && p->ino == (uint64_t)e->st.st_ino))
			return p->offset;
	}
	return is_named ? 0 : UINT64_MAX;
}

static void classify(struct cmd_env *env, enum profile_source_id source, const char *line,
		     size_t len, struct tally *t)
{
	struct record r;
	const char *reason;
	char detail[256];
	t->lines++;
	if (len > env->config.max_line_bytes) {
		t->long_lines++;
		return;
	}
	switch (
	    record_parse(&env->profile, source, line, len, &r, &reason, detail, sizeof detail)) {
	case RECORD_QUARANTINE:
		t->quarantined++;
		break;
	case RECORD_IGNORED:
		t->ignored++;
		break;
	case RECORD_OK:
		state_count_record(&t->unmapped, &r);
		if (r.kind == PROFILE_KIND_CLOSE || r.kind == PROFILE_KIND_PARTIAL) {
			json_t *c = json_object_get(t->keys, r.key);
			t->closes++;
			json_object_set_new(t->keys, r.key,
					    json_integer(c ? json_integer_value(c) + 1 : 1));
		}
		break;
	}
	record_release(&r);
}

struct scan_ctx {
	struct cmd_env *env;
	enum profile_source_id source;
	uint64_t limit; /* processed up to here */
	int finished;	/* a rotated file: its unterminated tail was abandoned */
	struct tally *t;
};

static int scan_line(void *ctx, const char *line, size_t len, uint64_t offset, int complete)
{
	struct scan_ctx *c = ctx;
	if (!complete) {
		/* The follower counted the unterminated last line of a
		 * finished (rotated) file as an abandoned tail. */
		if (c->finished && offset < c->limit) {
			c->t->lines++;
			c->t->tails++;
		}
		return 0;
	}
	if (offset < c->limit)
		classify(c->env, c->source, line, len, c->t);
	else
		c->t->pending++;
	return 0;
}

static int scan_source(struct cmd_env *env, enum profile_source_id source,
		       const struct state_source *saved, struct tally *t)
{
	struct logscan_file *list;
	size_t n;
	struct err err;
	int rc = 0;

	if (logscan_list(env->logs_dir, env->profile.source[source].file, &list, &n, &err)) {
		cmd_error("verify: %s", err.msg);
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct scan_ctx c = {env, source,
				     processed_limit(&saved->follow, &list[i], list[i].is_named),
				     !list[i].is_named, t};
		rc = logscan_read(list[i].path, env->config.max_line_bytes, scan_line, &c, &err);
		if (rc)
			cmd_error("verify: %s", err.msg);
	}
	free(list);
	return rc;
}

struct outcome_keys {
	json_t *count; /* trade_id -> times recorded */
	uint64_t lines;
};

static int collect_key(void *ctx, const char *line, size_t len)
{
	struct outcome_keys *ok = ctx;
	json_error_t jerr;
	json_t *o = json_loadb(line, len, 0, &jerr);
	const char *id = json_string_value(json_object_get(o, "trade_id"));
	ok->lines++;
	if (id) {
		json_t *c = json_object_get(ok->count, id);
		json_object_set_new(ok->count, id, json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	json_decref(o);
	return 0;
}

static long count_lines(const char *path, uint64_t limit)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	uint64_t at = 0;
	int c;
	if (!f)
		return 0;
	while (at < limit && (c = getc(f)) != EOF) {
		at++;
		n += c == '\n';
	}
	fclose(f);
	return n;
}

/* Reads the committed outcomes into ok (trade_id -> times recorded).
 * Returns 0, or -1 when they cannot be read (said on stderr). */
static int collect_outcomes(const struct cmd_env *env, const struct state *st,
			    struct outcome_keys *ok)
{
	struct err err;
	char path[4400];

	snprintf(path, sizeof path, "%s/%s", env->state_dir,
		 state_output_path(STATE_OUTPUT_OUTCOMES));
	if (framelog_read(path, st->output_length[STATE_OUTPUT_OUTCOMES], collect_key, ok, NULL,
			  &err) < 0) {
		cmd_error("verify: %s", err.msg);
		return -1;
	}
	return 0;
}

/* The reasons a source's line gives, each as "; ..." (cut when too long). */
struct why {
	char text[600];
	size_t len;
};

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct why *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	w->len += (size_t)vsnprintf(w->text + w->len,
				    w->len < sizeof w->text ? sizeof w->text - w->len : 0, fmt, ap);
	va_end(ap);
}

/* How many closes in the processed logs are not among the outcomes; the
 * first three are named on stderr. */
static uint64_t count_unrecorded(const char *name, json_t *logged, json_t *recorded)
{
	const char *key;
	json_t *v;
	uint64_t missing = 0;
	json_object_foreach(logged, key, v)
	{
		if (!json_object_get(recorded, key) && missing++ < 3)
			cmd_error("verify: %s: trade %s is in the logs, not in the outcomes", name,
				  key);
	}
	return missing;
}

/* Is p's offset where reading stopped? The file at p's path, when it is
 * still p's file (same device and inode, same first bytes), must hold the
 * bytes last read just before the offset: an offset moved back (edited by
 * hand, or a state of another folder) would have the records after it
 * learned twice, one moved forward skip records. 1 when it was moved. */
static int position_moved(const struct follow_position *p)
{
	struct follow_position now, head;
	struct stat sb;
	struct err err;
	int moved = 0;
	if (p->compressed || p->tail_len == 0)
		return 0;
	int fd = open(p->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* A file cut and regrown since has other first bytes: not a moved
	 * offset, the follower's case to handle. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_dev == p->dev &&
	    (uint64_t)sb.st_ino == p->ino && (uint64_t)sb.st_size >= p->offset &&
	    (uint64_t)sb.st_size >= p->head_len &&
	    follow_position_of_fd(fd, p->path, p->head_len, &head, &err) == 0 &&
	    head.head_hash == p->head_hash &&
	    follow_position_of_fd(fd, p->path, p->offset, &now, &err) == 0)
		moved = now.tail_len != p->tail_len || now.tail_hash != p->tail_hash;
	close(fd);
	return moved;
}

/* Every position the state holds for source s is where reading stopped;
 * a moved one is named on stderr. 1 on a mismatch. */
static int check_positions(const struct state_source *src, const char *name, struct why *why)
{
	const struct follow_saved *fs = &src->follow;
	int bad = 0;
	for (size_t i = 0; i <= fs->n_draining; i++) {
		const struct follow_position *p = i < fs->n_draining ? &fs->draining[i]
						  : fs->has_current  ? &fs->current
								     : NULL;
		if (!p || !position_moved(p))
			continue;
		cmd_error(
		    "verify: %s: the committed offset %llu in %s is not where reading stopped "
		    "(the bytes before it are not the ones read): the records after it "
		    "would be learned twice, or skipped",
		    name, (unsigned long long)p->offset, p->path);
		bad = 1;
	}
	if (bad)
		why_add(why, "; a committed offset is not where reading stopped");
	return bad;
}

/* Compares what the logs of one source hold with its committed counters,
 * and prints the source's line. Returns 1 on a mismatch, else 0. Adds the
 * source's quarantined count to *quarantined once its logs were read. */
static int verify_source(struct cmd_env *env, const struct state *st, enum profile_source_id s,
			 const struct outcome_keys *ok, uint64_t *quarantined)
{
	const struct state_counters *c = &st->source[s].count;
	const char *name = profile_source_name(s);
	struct tally t = {.keys = json_object()};
	struct why why = {.len = 0};
	int bad = 0;

	if (scan_source(env, s, &st->source[s], &t)) {
		json_decref(t.keys);
		return 1;
	}
	/* Rows dropped once quarantine.jsonl was full are counted, not kept. */
	*quarantined +=
	    c->quarantined -
	    (c->quarantine_dropped < c->quarantined ? c->quarantine_dropped : c->quarantined);
	if (t.lines > c->read) {
		bad = 1;
		why_add(&why, "; %llu records in the logs were not processed",
			(unsigned long long)(t.lines - c->read));
	} else if (t.lines < c->read) {
		why_add(&why,
			"; %llu records read earlier are no longer in the logs (rotated away)",
			(unsigned long long)(c->read - t.lines));
	}
	if (t.quarantined > c->quarantined) {
		bad = 1;
		why_add(&why, "; %llu malformed rows in the logs, %llu quarantined",
			(unsigned long long)t.quarantined, (unsigned long long)c->quarantined);
	}
	bad |= check_positions(&st->source[s], name, &why);
	/* Every close in the processed logs is recorded, exactly once. */
	uint64_t missing = count_unrecorded(name, t.keys, ok->count);
	if (missing) {
		bad = 1;
		why_add(&why, "; %llu closed trades not recorded", (unsigned long long)missing);
	}
	/* Values outside a value map are not a mismatch: they are counted, and
	 * the logs must say the same as the counters. */
	for (size_t i = 0; i < t.unmapped.n_unmapped; i++) {
		uint64_t counted = 0;
		for (size_t k = 0; k < c->n_unmapped; k++)
			if (strcmp(c->unmapped[k].field, t.unmapped.unmapped[i].field) == 0)
				counted = c->unmapped[k].count;
		why_add(&why, "; unmapped %s: %llu in the logs, %llu counted",
			t.unmapped.unmapped[i].field,
			(unsigned long long)t.unmapped.unmapped[i].count,
			(unsigned long long)counted);
	}
	printf("%-12s logs %llu records (%llu pending), read %llu: trades %llu, quarantined "
	       "%llu, skipped %llu%s%s\n",
	       name, (unsigned long long)t.lines, (unsigned long long)t.pending,
	       (unsigned long long)c->read, (unsigned long long)c->trades,
	       (unsigned long long)c->quarantined, (unsigned long long)c->skipped,
	       bad ? " — MISMATCH" : " — ok", why.text);
	json_decref(t.keys);
	return bad;
}

/* Exactly once: no trade recorded twice. Prints the outcomes line; 1 on a
 * mismatch. */
static int verify_recorded_once(const struct outcome_keys *ok)
{
	const char *key;
	json_t *v;
	uint64_t twice = 0;
	json_object_foreach(ok->count, key, v)
	{
		if (json_integer_value(v) > 1 && twice++ < 3)
			cmd_error("verify: trade %s recorded %lld times", key,
				  (long long)json_integer_value(v));
	}
	printf("%-12s %llu trades recorded, %llu recorded more than once%s\n", "outcomes",
	       (unsigned long long)ok->lines, (unsigned long long)twice,
	       twice ? " — MISMATCH" : " — ok");
	return twice > 0;
}

/* The quarantine file holds one row per quarantined line the counters
 * report (counted). Prints its line; 1 on a mismatch. */
static int verify_quarantine(const struct cmd_env *env, const struct state *st, uint64_t counted)
{
	char path[4400];

	snprintf(path, sizeof path, "%s/%s", env->state_dir,
		 state_output_path(STATE_OUTPUT_QUARANTINE));
	long qlines = count_lines(path, st->output_length[STATE_OUTPUT_QUARANTINE]);
	if ((uint64_t)qlines != counted) {
		printf("%-12s %ld rows in quarantine.jsonl, counters say %llu — MISMATCH\n",
		       "quarantine", qlines, (unsigned long long)counted);
		return 1;
	}
	printf("%-12s %ld rows — ok\n", "quarantine", qlines);
	return 0;
}

int cmd_verify(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct cmd_env env;
	struct state st;
	struct err err;
	struct outcome_keys ok = {0};
	enum state_origin origin;
	int rc, mismatch = 0;
	uint64_t quarantined = 0;

	if (cmd_wants_help(argc, argv)) {
		fputs(verify_usage, stdout);
		return EXIT_DONE;
	}
	if (argc > 1) {
		cmd_error("verify: unknown argument %s", argv[1]);
		return EXIT_USAGE;
	}
	rc = cmd_env_load(ctx, &env);
	if (rc)
		return rc;
	if (state_load(env.state_dir, &st, &origin, &err)) {
		cmd_error("verify: %s", err.msg);
		cmd_env_release(&env);
		return EXIT_FAILED;
	}
	if (origin == STATE_PREV)
		cmd_error("verify: %s; checking its previous version", err.msg);
	rc = cmd_check_outputs(env.state_dir, &st, "verify");
	if (rc) {
		cmd_env_release(&env);
		return rc;
	}
	ok.count = json_object();
	if (collect_outcomes(&env, &st, &ok))
		mismatch = 1;
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		if (env.profile.source[s].file[0])
			mismatch |=
			    verify_source(&env, &st, (enum profile_source_id)s, &ok, &quarantined);
	mismatch |= verify_recorded_once(&ok);
	mismatch |= verify_quarantine(&env, &st, quarantined);
	json_decref(ok.count);
	cmd_env_release(&env);
	if (mismatch)
		cmd_error("verify: mismatch (see above)");
	return mismatch ? EXIT_FAILED : EXIT_DONE;
}
