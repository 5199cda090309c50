#include "lib/store/state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "lib/base/calendar.h"
#include "lib/base/durable.h"
#include "lib/base/jsontext.h"
#include "lib/base/sha256.h"
#include "lib/store/framelog.h"

static const char *const output_paths[STATE_OUTPUT_COUNT] = {
    [STATE_OUTPUT_OUTCOMES] = "outcomes/trade_outcomes.jsonl.zst",
    [STATE_OUTPUT_QUARANTINE] = "quarantine.jsonl",
    [STATE_OUTPUT_TRADE_KEYS] = "outcomes/trade_keys.bin",
    [STATE_OUTPUT_WEIGHT_LOG] = "weight_learning.jsonl",
};

const char *state_output_path(enum state_output_id id)
{
	return output_paths[id];
}

void state_init(struct state *st)
{
	memset(st, 0, sizeof *st);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++)
		st->source[s].count.last_record_ts = CALENDAR_NONE;
}

static json_t *hex64(uint64_t v)
{
	char buf[20];
	snprintf(buf, sizeof buf, "%016" PRIx64, v);
	return json_string(buf);
}

static json_t *uint_json(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *time_json(int64_t us)
{
	char buf[40];
	if (us == CALENDAR_NONE || us == 0)
		return json_null();
	calendar_format_iso(us, buf, sizeof buf);
	return json_string(buf);
}

/* Sets o[key] = v (stolen), clearing *ok when o or v is NULL (ENOMEM). */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
	if (json_object_set_new(o, key, v))
		*ok = 0;
}

/* Appends v (stolen) to a, likewise. */
static void push(json_t *a, json_t *v, int *ok)
{
	if (json_array_append_new(a, v))
		*ok = 0;
}

/* NULL on ENOMEM. */
static json_t *position_json(const struct follow_position *p)
{
	json_t *o = json_object();
	int ok = 1;
	put(o, "path", json_string(p->path), &ok);
	put(o, "device", uint_json(p->dev), &ok);
	put(o, "inode", uint_json(p->ino), &ok);
	put(o, "offset", uint_json(p->offset), &ok);
	put(o, "size", uint_json(p->size), &ok);
	put(o, "mtime_us", json_integer(p->mtime_us), &ok);
	put(o, "compressed", json_boolean(p->compressed), &ok);
	if (p->growing)
		put(o, "growing", json_true(), &ok);
	put(o, "fingerprint",
	    json_pack("{s:o,s:o,s:o,s:o}", "head_bytes", uint_json(p->head_len), "head_hash",
		      hex64(p->head_hash), "tail_bytes", uint_json(p->tail_len), "tail_hash",
		      hex64(p->tail_hash)),
	    &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *state_to_json(const struct state *st)
{
	json_t *o = json_object(), *sources = json_object(), *outputs = json_object();
	uint64_t total_learned[PROFILE_SOURCE_COUNT] = {0};
	int64_t last_ts = CALENDAR_NONE;
	int ok = 1;

	put(o, "format", json_integer(STATE_FORMAT), &ok);
	put(o, "generation", uint_json(st->generation), &ok);
	put(o, "committed_at", time_json(st->committed_at), &ok);
	put(o, "committed_at_us", json_integer(st->committed_at), &ok);
	put(o, "profile", json_string(st->profile), &ok);
	put(o, "logs", json_string(st->logs), &ok);
	for (int s = 0; s < PROFILE_SOURCE_COUNT; s++) {
		const struct state_source *src = &st->source[s];
		const struct state_counters *c = &src->count;
		if (!src->file[0])
			continue;
		json_t *j = json_object(), *drain = json_array(), *done = json_array();
		put(j, "file", json_string(src->file), &ok);
		put(j, "current",
		    src->follow.has_current ? position_json(&src->follow.current) : json_null(),
		    &ok);
		for (size_t i = 0; i < src->follow.n_draining; i++)
			push(drain, position_json(&src->follow.draining[i]), &ok);
		put(j, "draining", drain, &ok);
		for (size_t i = 0; i < src->follow.n_done; i++)
			push(done,
			     json_pack("{s:o,s:o,s:o,s:o,s:o}", "head_bytes",
				       uint_json(src->follow.done[i].head_len), "head_hash",
				       hex64(src->follow.done[i].head_hash), "size",
				       uint_json(src->follow.done[i].size), "device",
				       uint_json(src->follow.done[i].dev), "inode",
				       uint_json(src->follow.done[i].ino)),
			     &ok);
		put(j, "finished", done, &ok);
		put(j, "records_read", uint_json(c->read), &ok);
		put(j, "records_learned", uint_json(c->learned), &ok);
		put(j, "trades_recorded", uint_json(c->trades), &ok);
		put(j, "records_quarantined", uint_json(c->quarantined), &ok);
		put(j, "quarantine_dropped", uint_json(c->quarantine_dropped), &ok);
		put(j, "records_skipped", uint_json(c->skipped), &ok);
		put(j, "skipped_by_reason",
		    json_pack("{s:o,s:o,s:o,s:o}", "ignored", uint_json(c->ignored), "duplicate",
			      uint_json(c->duplicates), "long_line", uint_json(c->long_lines),
			      "unterminated_tail", uint_json(c->tails)),
		    &ok);
		put(j, "pnl_sign_mismatch", uint_json(c->sign_mismatch), &ok);
		put(j, "features_skipped", uint_json(c->features_skipped), &ok);
		json_t *unmapped = json_object();
		for (size_t i = 0; unmapped && i < c->n_unmapped; i++)
			put(unmapped, c->unmapped[i].field, uint_json(c->unmapped[i].count), &ok);
		put(j, "unmapped", unmapped, &ok);
		put(j, "last_record_ts", time_json(c->last_record_ts), &ok);
		put(j, "last_record_ts_us",
		    c->last_record_ts == CALENDAR_NONE ? json_null()
						       : json_integer(c->last_record_ts),
		    &ok);
		put(j, "last_record_id",
		    c->last_record_id[0] ? json_string(c->last_record_id) : json_null(), &ok);
		put(sources, profile_source_name((enum profile_source_id)s), j, &ok);
		total_learned[s] = s == PROFILE_SOURCE_ATTRIBUTION ? c->trades : c->learned;
		if (c->last_record_ts != CALENDAR_NONE &&
		    (last_ts == CALENDAR_NONE || c->last_record_ts > last_ts))
			last_ts = c->last_record_ts;
	}
	put(o, "sources", sources, &ok);
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++)
		put(outputs, output_paths[i],
		    json_pack("{s:o}", "length", uint_json(st->output_length[i])), &ok);
	put(o, "outputs", outputs, &ok);
	put(o, "learner_file", st->learner_file[0] ? json_string(st->learner_file) : json_null(),
	    &ok);
	if (st->learner_sha256[0])
		put(o, "learner_sha256", json_string(st->learner_sha256), &ok);
	/* The original learners' keys. */
	put(o, "last_processed_ts", time_json(last_ts), &ok);
	put(o, "total_trades_processed", uint_json(total_learned[PROFILE_SOURCE_ATTRIBUTION]), &ok);
	put(o, "total_exits_processed", uint_json(total_learned[PROFILE_SOURCE_EXIT]), &ok);
	put(o, "total_signals_processed", uint_json(total_learned[PROFILE_SOURCE_SIGNALS]), &ok);
	put(o, "total_orders_processed", uint_json(total_learned[PROFILE_SOURCE_ORDERS]), &ok);
	if (!ok) {
		/* A file missing a key is damaged: never commit one. */
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- reading, strictly --------------------------------------------------------------
 *
 * Every key the reader uses must be there with the type state_to_json gives
 * it; anything else is damage (EBADMSG), said as "damaged: <key path> <what
 * is wrong>". A key is never read as 0 for being absent: a zero output length
 * would cut committed data on the next start. */

/* "<where>.<key>" into buf, or key alone at the top (cut when too long:
 * it only names a key in a message). */
static const char *key_path(char *buf, size_t len, const char *where, const char *key)
{
	if (snprintf(buf, len, "%s%s%s", where, where[0] ? "." : "", key) < 0)
		buf[0] = '\0';
	return buf;
}

static int damaged(struct err *err, const char *where, const char *key, const char *problem)
{
	char path[300];
	return err_set(err, EBADMSG, "damaged: %s %s", key_path(path, sizeof path, where, key),
		       problem);
}

/* The value of key in o, or NULL after saying it is missing. */
static json_t *need(json_t *o, const char *where, const char *key, struct err *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		damaged(err, where, key, "is missing");
	return v;
}

/* Any integer: identities (device, inode) are written as the signed
 * integer of their bits, and times may precede 1970. */
static int get_integer(json_t *o, const char *where, const char *key, int64_t *out, struct err *err)
{
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	if (!json_is_integer(v))
		return damaged(err, where, key, "is not an integer");
	*out = json_integer_value(v);
	return 0;
}

/* An integer >= 0: lengths, offsets, counters. */
static int get_count(json_t *o, const char *where, const char *key, uint64_t *out, struct err *err)
{
	int64_t v;
	if (get_integer(o, where, key, &v, err))
		return -1;
	if (v < 0)
		return damaged(err, where, key, "is not a count");
	*out = (uint64_t)v;
	return 0;
}

/* An integer, or null for CALENDAR_NONE (no record yet). */
static int get_time(json_t *o, const char *where, const char *key, int64_t *out, struct err *err)
{
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	if (json_is_null(v)) {
		*out = CALENDAR_NONE;
		return 0;
	}
	return get_integer(o, where, key, out, err);
}

static int get_bits(json_t *o, const char *where, const char *key, uint64_t *out, struct err *err)
{
	int64_t v;
	if (get_integer(o, where, key, &v, err))
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* A string that fits buf; "" for null when null_ok. */
static int get_text(json_t *o, const char *where, const char *key, int null_ok, char *buf,
		    size_t len, struct err *err)
{
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	if (null_ok && json_is_null(v)) {
		buf[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return damaged(err, where, key,
			       null_ok ? "is not a string or null" : "is not a string");
	if (json_string_length(v) >= len)
		return damaged(err, where, key, "is too long");
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* 16 hexadecimal digits (hex64). */
static int get_hash(json_t *o, const char *where, const char *key, uint64_t *out, struct err *err)
{
	json_t *v = need(o, where, key, err);
	const char *s = json_string_value(v);
	if (!v)
		return -1;
	if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
		return damaged(err, where, key, "is not 16 hexadecimal digits");
	*out = strtoull(s, NULL, 16);
	return 0;
}

static int get_bool(json_t *o, const char *where, const char *key, int *out, struct err *err)
{
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	if (!json_is_boolean(v))
		return damaged(err, where, key, "is not true or false");
	*out = json_is_true(v);
	return 0;
}

/* An object (or, null_ok, null: *out NULL). */
static int get_object(json_t *o, const char *where, const char *key, int null_ok, json_t **out,
		      struct err *err)
{
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	*out = json_is_null(v) && null_ok ? NULL : v;
	if (*out && !json_is_object(v))
		return damaged(err, where, key,
			       null_ok ? "is not an object or null" : "is not an object");
	return 0;
}

/* An array of at most max elements. */
static int get_array(json_t *o, const char *where, const char *key, size_t max, json_t **out,
		     struct err *err)
{
	char problem[48];
	json_t *v = need(o, where, key, err);
	if (!v)
		return -1;
	if (!json_is_array(v) || json_array_size(v) > max) {
		snprintf(problem, sizeof problem, "is not an array of at most %zu", max);
		return damaged(err, where, key, problem);
	}
	*out = v;
	return 0;
}

static int position_from(json_t *o, const char *where, struct follow_position *p, struct err *err)
{
	char fpwhere[300];
	json_t *fp;
	uint64_t head_len = 0, tail_len = 0;
	int64_t mtime;
	json_t *growing = json_object_get(o, "growing");

	memset(p, 0, sizeof *p);
	if (!json_is_object(o))
		return err_set(err, EBADMSG, "damaged: %s is not an object", where);
	key_path(fpwhere, sizeof fpwhere, where, "fingerprint");
	if (get_text(o, where, "path", 0, p->path, sizeof p->path, err) ||
	    get_bits(o, where, "device", &p->dev, err) ||
	    get_bits(o, where, "inode", &p->ino, err) ||
	    get_count(o, where, "offset", &p->offset, err) ||
	    get_count(o, where, "size", &p->size, err) ||
	    get_integer(o, where, "mtime_us", &mtime, err) ||
	    get_bool(o, where, "compressed", &p->compressed, err) ||
	    get_object(o, where, "fingerprint", 0, &fp, err) ||
	    get_count(fp, fpwhere, "head_bytes", &head_len, err) ||
	    get_hash(fp, fpwhere, "head_hash", &p->head_hash, err) ||
	    get_count(fp, fpwhere, "tail_bytes", &tail_len, err) ||
	    get_hash(fp, fpwhere, "tail_hash", &p->tail_hash, err))
		return -1;
	/* Written only when true. */
	if (growing && get_bool(o, where, "growing", &p->growing, err))
		return -1;
	if (head_len > FOLLOW_HEAD_BYTES || tail_len > FOLLOW_TAIL_BYTES)
		return damaged(err, fpwhere,
			       head_len > FOLLOW_HEAD_BYTES ? "head_bytes" : "tail_bytes",
			       "is larger than a fingerprint");
	p->mtime_us = mtime;
	p->head_len = (uint32_t)head_len;
	p->tail_len = (uint32_t)tail_len;
	return 0;
}

static int done_from(json_t *o, const char *where, struct follow_done *d, struct err *err)
{
	uint64_t head_len = 0;
	if (!json_is_object(o))
		return err_set(err, EBADMSG, "damaged: %s is not an object", where);
	if (get_count(o, where, "head_bytes", &head_len, err) ||
	    get_hash(o, where, "head_hash", &d->head_hash, err) ||
	    get_count(o, where, "size", &d->size, err) ||
	    get_bits(o, where, "device", &d->dev, err) || get_bits(o, where, "inode", &d->ino, err))
		return -1;
	if (head_len > FOLLOW_HEAD_BYTES)
		return damaged(err, where, "head_bytes", "is larger than a fingerprint");
	d->head_len = (uint32_t)head_len;
	return 0;
}

/* "features_skipped" and "unmapped" ({field: count}): absent in a file
 * written before them, which then counted none. */
static int get_unmapped(json_t *o, const char *where, struct state_counters *c, struct err *err)
{
	char sub[300];
	const char *field;
	json_t *v, *unmapped = json_object_get(o, "unmapped");

	if (json_object_get(o, "features_skipped") &&
	    get_count(o, where, "features_skipped", &c->features_skipped, err))
		return -1;
	if (!unmapped)
		return 0;
	if (!json_is_object(unmapped))
		return damaged(err, where, "unmapped", "is not an object");
	key_path(sub, sizeof sub, where, "unmapped");
	json_object_foreach(unmapped, field, v)
	{
		struct state_unmapped *u = &c->unmapped[c->n_unmapped];
		if (c->n_unmapped == STATE_MAX_UNMAPPED ||
		    strlen(field) >= sizeof c->unmapped[0].field)
			return damaged(err, sub, field, "is one field too many");
		if (get_count(unmapped, sub, field, &u->count, err))
			return -1;
		snprintf(u->field, sizeof u->field, "%s", field);
		c->n_unmapped++;
	}
	return 0;
}

void state_count_record(struct state_counters *c, const struct record *r)
{
	c->features_skipped += (uint64_t)r->features_skipped;
	for (size_t i = 0; i < r->n_unmapped; i++) {
		size_t k = 0;
		while (k < c->n_unmapped && strcmp(c->unmapped[k].field, r->unmapped[i]) != 0)
			k++;
		if (k == c->n_unmapped) {
			if (k == STATE_MAX_UNMAPPED)
				k--;
			else
				snprintf(c->unmapped[c->n_unmapped++].field,
					 sizeof c->unmapped[0].field, "%s", r->unmapped[i]);
		}
		c->unmapped[k].count++;
	}
}

static int source_from(json_t *o, const char *where, struct state_source *src, struct err *err)
{
	struct state_counters *c = &src->count;
	char why_where[300], item[300];
	json_t *current, *draining, *finished, *why, *v;
	size_t k;

	if (!json_is_object(o))
		return err_set(err, EBADMSG, "damaged: %s is not an object", where);
	key_path(why_where, sizeof why_where, where, "skipped_by_reason");
	if (get_text(o, where, "file", 0, src->file, sizeof src->file, err) ||
	    get_object(o, where, "current", 1, &current, err) ||
	    get_array(o, where, "draining", FOLLOW_MAX_DRAINING, &draining, err) ||
	    get_array(o, where, "finished", FOLLOW_MAX_DONE, &finished, err) ||
	    get_count(o, where, "records_read", &c->read, err) ||
	    get_count(o, where, "records_learned", &c->learned, err) ||
	    get_count(o, where, "trades_recorded", &c->trades, err) ||
	    get_count(o, where, "records_quarantined", &c->quarantined, err) ||
	    get_count(o, where, "records_skipped", &c->skipped, err) ||
	    get_object(o, where, "skipped_by_reason", 0, &why, err) ||
	    get_count(why, why_where, "ignored", &c->ignored, err) ||
	    get_count(why, why_where, "duplicate", &c->duplicates, err) ||
	    get_count(why, why_where, "long_line", &c->long_lines, err) ||
	    get_count(why, why_where, "unterminated_tail", &c->tails, err) ||
	    get_count(o, where, "pnl_sign_mismatch", &c->sign_mismatch, err) ||
	    get_unmapped(o, where, c, err) ||
	    get_time(o, where, "last_record_ts_us", &c->last_record_ts, err) ||
	    get_text(o, where, "last_record_id", 1, c->last_record_id, sizeof c->last_record_id,
		     err))
		return -1;
	/* Written since quarantine.jsonl is capped: a count, absent (0) in the
	 * files of earlier versions. */
	if (json_object_get(o, "quarantine_dropped") &&
	    get_count(o, where, "quarantine_dropped", &c->quarantine_dropped, err))
		return -1;
	src->follow.has_current = current != NULL;
	if (current && position_from(current, key_path(item, sizeof item, where, "current"),
				     &src->follow.current, err))
		return -1;
	json_array_foreach(draining, k, v)
	{
		snprintf(item, sizeof item, "%s.draining[%zu]", where, k);
		if (position_from(v, item, &src->follow.draining[k], err))
			return -1;
		src->follow.n_draining++;
	}
	json_array_foreach(finished, k, v)
	{
		snprintf(item, sizeof item, "%s.finished[%zu]", where, k);
		if (done_from(v, item, &src->follow.done[k], err))
			return -1;
		src->follow.n_done++;
	}
	return 0;
}

int state_from_json(json_t *j, struct state *st, struct err *err)
{
	json_t *sources, *outputs, *format = json_object_get(j, "format");
	int64_t committed_at;

	state_init(st);
	if (!json_is_object(j))
		return err_set(err, EBADMSG, "damaged: not a JSON object");
	if (!format)
		return damaged(err, "", "format", "is missing");
	if (json_is_integer(format) && json_integer_value(format) > STATE_FORMAT)
		return err_set(err, EBADMSG, "format %lld is newer than this program's (%d)",
			       (long long)json_integer_value(format), STATE_FORMAT);
	if (!json_is_integer(format) || json_integer_value(format) != STATE_FORMAT)
		return err_set(err, EBADMSG, "damaged: format is not %d", STATE_FORMAT);
	if (get_count(j, "", "generation", &st->generation, err) ||
	    get_integer(j, "", "committed_at_us", &committed_at, err) ||
	    get_text(j, "", "profile", 0, st->profile, sizeof st->profile, err) ||
	    get_text(j, "", "logs", 0, st->logs, sizeof st->logs, err) ||
	    get_text(j, "", "learner_file", 1, st->learner_file, sizeof st->learner_file, err) ||
	    get_object(j, "", "sources", 0, &sources, err) ||
	    get_object(j, "", "outputs", 0, &outputs, err))
		goto damaged;
	/* Absent from the states of earlier versions. */
	json_t *digest = json_object_get(j, "learner_sha256");
	if (digest) {
		const char *s = json_string_value(digest);
		if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64 ||
		    !st->learner_file[0]) {
			damaged(err, "", "learner_sha256",
				"is not 64 lowercase hexadecimal digits beside a learner_file");
			goto damaged;
		}
		memcpy(st->learner_sha256, s, 65);
	}
	st->committed_at = committed_at;
	for (int i = 0; i < PROFILE_SOURCE_COUNT; i++) {
		const char *name = profile_source_name((enum profile_source_id)i);
		json_t *o = json_object_get(sources, name);
		char where[64];
		/* A source the profile has no file for is left out. */
		if (!o)
			continue;
		snprintf(where, sizeof where, "sources.%s", name);
		if (source_from(o, where, &st->source[i], err))
			goto damaged;
	}
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++) {
		char where[64];
		json_t *o;
		snprintf(where, sizeof where, "outputs.%s", output_paths[i]);
		if (get_object(outputs, "outputs", output_paths[i], 0, &o, err) ||
		    get_count(o, where, "length", &st->output_length[i], err))
			goto damaged;
	}
	return 0;
damaged:
	state_init(st);
	return -1;
}

/* ---- the checksum ---------------------------------------------------------------------
 *
 * The last key of the file is "checksum": "sha256:<64 hex digits>", the
 * SHA-256 of the file's bytes as written with those 64 digits replaced by
 * 64 zeros ("0"). Any change to the bytes, even of white space, fails it. */

#define SEAL_KEY "\"checksum\": \"sha256:"
#define SEAL_ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* Where the 64 digits of the seal are in text, or NULL. */
static char *seal_digits(char *text, size_t len)
{
	char *at = memmem(text, len, SEAL_KEY, sizeof SEAL_KEY - 1);
	if (!at || (size_t)(at - text) + sizeof SEAL_KEY - 1 + 65 > len)
		return NULL;
	at += sizeof SEAL_KEY - 1;
	return at[64] == '"' ? at : NULL;
}

/* The digest of text with its 64 digits (at digits) read as zeros. */
static void seal_digest(char *text, size_t len, char *digits, char hex[SHA256_HEX_BYTES])
{
	unsigned char d[SHA256_DIGEST_BYTES];
	char saved[64];
	memcpy(saved, digits, 64);
	memcpy(digits, SEAL_ZEROS, 64);
	sha256_digest(text, len, d);
	memcpy(digits, saved, 64);
	sha256_hex(d, hex);
}

/* Checks j's seal against text: 1 when j carries none, 0 when it matches,
 * -1 with err set (EBADMSG) when it is not what the bytes give. */
static int check_seal(json_t *j, char *text, size_t len, struct err *err)
{
	json_t *v = json_object_get(j, "checksum");
	const char *s = json_string_value(v);
	char *digits, hex[SHA256_HEX_BYTES];
	if (!v)
		return 1;
	if (!s || strlen(s) != 7 + 64 || strncmp(s, "sha256:", 7) != 0)
		return damaged(err, "", "checksum", "is not \"sha256:\" and 64 hexadecimal digits");
	digits = seal_digits(text, len);
	if (!digits || memcmp(digits, s + 7, 64) != 0)
		return damaged(err, "", "checksum", "is not where it is written (edited)");
	seal_digest(text, len, digits, hex);
	if (memcmp(hex, s + 7, 64) != 0)
		return err_set(err, EBADMSG,
			       "damaged: the checksum does not match the content (edited or "
			       "corrupted)");
	return 0;
}

/* Reads one state file; *sealed says whether it carried a checksum. -1 with
 * err set: ENOENT when it is absent. */
static int load_one(const char *path, struct state *st, int *sealed, struct err *err)
{
	char *text;
	size_t len;
	json_error_t jerr;
	json_t *j;
	int rc;

	*sealed = 0;
	if (durable_read_all(path, &text, &len, err))
		return -1;
	/* A key given twice is damage, not "the last one wins". */
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		free(text);
		return err_set(err, EBADMSG, "%s: damaged (%s at line %d)", path, jerr.text,
			       jerr.line);
	}
	rc = check_seal(j, text, len, err);
	free(text);
	*sealed = rc == 0;
	if (rc >= 0)
		rc = state_from_json(j, st, err);
	json_decref(j);
	if (rc)
		return err_prefix(err, "%s", path);
	return 0;
}

int state_load(const char *dir, struct state *st, enum state_origin *origin, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], prev[FOLLOW_PATH_MAX + 64];
	struct err main_err = {0}, prev_err = {0};
	int main_sealed, prev_sealed;

	*origin = STATE_NONE;
	snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
	snprintf(prev, sizeof prev, "%s/%s.prev", dir, STATE_FILE);
	if (load_one(path, st, &main_sealed, &main_err) == 0) {
		*origin = STATE_MAIN;
		if (main_sealed)
			return 0;
		/* No checksum: a file of an earlier version, accepted once (the
		 * next commit seals it), unless a sealed .prev says this folder
		 * was already written by this one: then the key was removed. */
		struct state *p = malloc(sizeof *p);
		if (p && load_one(prev, p, &prev_sealed, &prev_err) == 0 && prev_sealed) {
			*st = *p;
			*origin = STATE_PREV;
			err_set(err, EBADMSG,
				"%s: damaged: checksum is missing (its previous version has one)",
				path);
		} else {
			*origin = STATE_UNSEALED;
			err_set(err, 0,
				"%s has no checksum (written by an earlier version): accepted, and "
				"the next commit adds one",
				path);
		}
		free(p);
		return 0;
	}
	if (load_one(prev, st, &prev_sealed, &prev_err) == 0) {
		/* Why the main file was passed over, for the caller to say. */
		*err = main_err;
		*origin = STATE_PREV;
		return 0;
	}
	state_init(st);
	if (main_err.code == ENOENT && prev_err.code == ENOENT)
		return 0; /* a first start */
	if (main_err.code != ENOENT && main_err.code != EBADMSG) {
		/* Unreadable (permissions, I/O), not damaged: only why. */
		*err = main_err;
		errno = main_err.code;
		return -1;
	}
	if (main_err.code == ENOENT)
		return err_set(err, prev_err.code,
			       "%s is missing and its previous version is unusable (%s): "
			       "restore it from a backup, or remove %s.prev to start over (the "
			       "outputs are then cut back to empty)",
			       path, prev_err.msg, STATE_FILE);
	if (prev_err.code == ENOENT)
		return err_set(
		    err, main_err.code,
		    "%s, and there is no previous version to fall back to: restore it "
		    "from a backup, or remove it to start over (the outputs are then cut "
		    "back to empty)",
		    main_err.msg);
	return err_set(err, main_err.code,
		       "%s; its previous version too (%s): restore them from a backup, or remove "
		       "both to start over (the outputs are then cut back to empty)",
		       main_err.msg, prev_err.msg);
}

int state_save(const char *dir, const struct state *st, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], prev[FOLLOW_PATH_MAX + 64];
	json_t *j = state_to_json(st);
	size_t len;
	char *text = NULL, *digits, hex[SHA256_HEX_BYTES];
	int rc;

	/* Sealed last: the digest of the text with 64 zeros in its place. */
	if (j && json_object_set_new(j, "checksum", json_string("sha256:" SEAL_ZEROS)) == 0)
		text = jsontext_dump(j, JSONTEXT_PRETTY, &len);
	json_decref(j);
	digits = text ? seal_digits(text, len) : NULL;
	if (digits) {
		seal_digest(text, len, digits, hex);
		memcpy(digits, hex, 64);
	} else {
		free(text);
		text = NULL;
	}
	if (!text)
		return err_set(err, ENOMEM,
			       "%s: cannot be written (out of memory, or a path that is not UTF-8)",
			       STATE_FILE);
	snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
	snprintf(prev, sizeof prev, "%s/%s.prev", dir, STATE_FILE);
	/* Keep the committed version as .prev before replacing it: a link,
	 * so there is no instant without a committed state file. */
	if (unlink(prev) != 0 && errno != ENOENT) {
		err_fail(err, "%s: %s", prev, strerror(errno));
		free(text);
		return -1;
	}
	if (link(path, prev) != 0 && errno != ENOENT) {
		err_fail(err, "%s: %s", prev, strerror(errno));
		free(text);
		return -1;
	}
	rc = durable_replace(path, text, len, err);
	free(text);
	return rc;
}

/* ---- the outputs against their committed lengths ------------------------------------- */

/* Bytes a start removes from one output: those written after the last
 * commit, said as what they are. */
struct tail {
	uint64_t bytes;
	char what[160];
};

/* What each output holds: zstd frames, lines, or 8-byte keys. */
static int output_unit(enum state_output_id id)
{
	return id == STATE_OUTPUT_OUTCOMES ? 'z' : id == STATE_OUTPUT_TRADE_KEYS ? 'k' : 'l';
}

static int refuse(struct err *err, const char *path, const char *problem, uint64_t committed)
{
	return err_set(err, EBADMSG,
		       "%s: %s (committed length %llu): the state file or the output is "
		       "damaged, and nothing was cut; restore them from a backup, or move the "
		       "state folder away to start over",
		       path, problem, (unsigned long long)committed);
}

/* The newlines in bytes [from, to) of fd (or -1 on a read error), and
 * whether the last byte is one. */
static long count_newlines(int fd, uint64_t from, uint64_t to, int *ends_line)
{
	char buf[65536];
	long n = 0;
	*ends_line = 0;
	while (from < to) {
		size_t want = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
		ssize_t got = pread(fd, buf, want, (off_t)from);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
		*ends_line = buf[got - 1] == '\n';
		from += (uint64_t)got;
	}
	return n;
}

/* Checks one output (read only); fills t with what a start would remove. */
static int check_output(const char *path, enum state_output_id id, uint64_t committed,
			struct tail *t, struct err *err)
{
	struct stat sb;
	int fd, ends;
	long lines;
	uint64_t size;

	t->bytes = 0;
	t->what[0] = '\0';
	if (lstat(path, &sb) != 0) {
		if (errno != ENOENT)
			return err_fail(err, "stat %s: %s", path, strerror(errno));
		if (committed == 0)
			return 0;
		return err_set(err, ERANGE,
			       "%s is missing, while %llu bytes of it are committed: restore it, "
			       "or move the state folder away to start over",
			       path, (unsigned long long)committed);
	}
	if (S_ISLNK(sb.st_mode))
		return err_set(err, ELOOP,
			       "%s: is a symbolic link (tradelearn writes only regular files of "
			       "its own under its root)",
			       path);
	if (!S_ISREG(sb.st_mode))
		return err_set(err, EINVAL, "%s: not a regular file", path);
	size = (uint64_t)sb.st_size;
	if (size < committed)
		return err_set(err, ERANGE,
			       "%s is shorter (%llu bytes) than committed (%llu): it was cut or "
			       "replaced; restore it, or move the state folder away to start over",
			       path, (unsigned long long)size, (unsigned long long)committed);
	if (output_unit(id) == 'z') {
		uint64_t upto = 0, all = 0;
		long frames_lines;
		if (framelog_read(path, committed, NULL, NULL, &upto, err) < 0)
			return -1;
		if (upto != committed)
			return refuse(err, path,
				      "the committed length does not fall on a frame boundary of a "
				      "file that decodes up to it",
				      committed);
		if (size == committed)
			return 0;
		frames_lines = framelog_read(path, UINT64_MAX, NULL, NULL, &all, err);
		if (frames_lines < 0)
			return -1;
		t->bytes = size - committed;
		if (all == size)
			snprintf(t->what, sizeof t->what,
				 "whole frames of %llu bytes written after the last commit",
				 (unsigned long long)t->bytes);
		else if (all == committed)
			snprintf(t->what, sizeof t->what,
				 "a torn frame of %llu bytes after the last commit",
				 (unsigned long long)t->bytes);
		else
			snprintf(t->what, sizeof t->what,
				 "%llu bytes after the last commit (whole frames, then a torn one "
				 "of %llu bytes)",
				 (unsigned long long)t->bytes, (unsigned long long)(size - all));
		return 0;
	}
	if (output_unit(id) == 'k' && committed % 8 != 0)
		return refuse(err, path, "the committed length is not a whole number of keys",
			      committed);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_fail(err, "open %s: %s", path, strerror(errno));
	if (output_unit(id) == 'l' && committed > 0 &&
	    (count_newlines(fd, committed - 1, committed, &ends) < 0 || !ends)) {
		close(fd);
		return refuse(err, path, "the committed length does not end a line", committed);
	}
	t->bytes = size - committed;
	lines = output_unit(id) == 'l' ? count_newlines(fd, committed, size, &ends) : 0;
	close(fd);
	if (lines < 0)
		return err_fail(err, "read %s: %s", path, strerror(errno ? errno : EIO));
	if (t->bytes == 0)
		return 0;
	if (output_unit(id) == 'k')
		snprintf(t->what, sizeof t->what, "%llu bytes of keys after the last commit",
			 (unsigned long long)t->bytes);
	else
		snprintf(t->what, sizeof t->what, "%llu bytes after the last commit (%ld lines%s)",
			 (unsigned long long)t->bytes, lines, ends ? "" : ", then a torn one");
	return 0;
}

int state_check_outputs(const char *dir, const struct state *st, state_say_fn say, void *ctx,
			int cut, struct err *err)
{
	char path[FOLLOW_PATH_MAX + 64], line[FOLLOW_PATH_MAX + 300];
	struct tail t[STATE_OUTPUT_COUNT];

	/* Every output first: nothing is cut when any one is refused. */
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, output_paths[i]);
		if (check_output(path, (enum state_output_id)i, st->output_length[i], &t[i], err))
			return -1;
	}
	for (int i = 0; i < STATE_OUTPUT_COUNT; i++) {
		uint64_t actual = 0;
		snprintf(path, sizeof path, "%s/%s", dir, output_paths[i]);
		if (cut && durable_cut_back(path, st->output_length[i], &actual, err))
			return -1;
		if (t[i].bytes && say) {
			snprintf(line, sizeof line, "%s: %s %s", output_paths[i],
				 cut ? "cut back" : "a start cuts back", t[i].what);
			say(ctx, line);
		}
	}
	return 0;
}

int state_read_learner(const char *dir, const struct state *st, char **text, size_t *len,
		       struct err *err)
{
	char path[FOLLOW_PATH_MAX + 128];
	*text = NULL;
	*len = 0;
	if (!st->learner_file[0])
		return 0;
	snprintf(path, sizeof path, "%s/%s", dir, st->learner_file);
	if (durable_read_all(path, text, len, err))
		return err->code == ENOENT
			   ? err_set(err, ENOENT, "%s: the committed generation is missing: %s",
				     path, STATE_LEARNER_ADVICE)
			   : -1;
	if (!st->learner_sha256[0])
		return 0;
	unsigned char d[SHA256_DIGEST_BYTES];
	char hex[SHA256_HEX_BYTES];
	sha256_digest(*text, *len, d);
	sha256_hex(d, hex);
	if (strcmp(hex, st->learner_sha256) == 0)
		return 0;
	free(*text);
	*text = NULL;
	*len = 0;
	return err_set(err, EBADMSG,
		       "%s: damaged: its SHA-256 is not the one the state file names (edited or "
		       "damaged): %s",
		       path, STATE_LEARNER_ADVICE);
}

int state_load_learner(const char *dir, const struct state *st, json_t **doc, struct err *err)
{
	char *text;
	size_t len;
	json_error_t jerr;
	*doc = NULL;
	if (state_read_learner(dir, st, &text, &len, err))
		return -1;
	if (!text)
		return 0;
	*doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (*doc)
		return 0;
	return err_set(err, EBADMSG, "%s/%s: damaged (%s at line %d): %s", dir, st->learner_file,
		       jerr.text, jerr.line, STATE_LEARNER_ADVICE);
}
